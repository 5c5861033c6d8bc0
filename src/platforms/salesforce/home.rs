//! Salesforce as the rest of adsctl sees it: the [`Home`] of the platform registry.

use std::sync::Arc;

use crate::connectors::{Capabilities, Connector, ConnectorError};
use crate::model::{Account, Kind, Platform, Resource};
use crate::platforms::{AccountIds, Home};
use crate::spec::error::Code;
use crate::spec::lower::Lower;
use crate::spec::types::{AccountSpec, SalesforceCampaign, Status};
use crate::spec::Spanned;

/// Salesforce REST API v68.0.
pub struct SalesforceHome;

/// A Salesforce record id: 15 or 18 letters and digits.
pub fn record_id(v: &str) -> bool {
    (v.len() == 15 || v.len() == 18) && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The hash of a person's e-mail (adsctl's: SHA-256 of the trimmed, lower-cased address); Salesforce matches
/// Contacts and Leads by the address itself, which the connector sends in its queries.
pub fn email_hash(email: &str) -> String {
    crate::spec::audience::sha256_hex(&email.trim().to_lowercase())
}

impl Home for SalesforceHome {
    fn platform(&self) -> Platform {
        Platform::Salesforce
    }
    fn display_name(&self) -> &'static str {
        "Salesforce"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind::Audience, Kind::Campaign]
    }

    fn account_fields(&self) -> &'static [&'static str] {
        &["org_id"]
    }
    fn campaign_fields(&self) -> &'static [&'static str] {
        &[
            "mirrors",
            "campaign_status",
            "start_date",
            "end_date",
            "type",
            "budgeted_cost",
            "parent",
            "description",
        ]
    }

    fn account_id_field(&self) -> &'static str {
        "org_id"
    }
    fn describe_account_id(&self, id: &str) -> (&'static str, String) {
        ("Salesforce org", format!("org {id}"))
    }

    fn account_ids(&self, lower: &mut Lower<'_>, name: &Spanned<String>, spec: &AccountSpec) -> Option<AccountIds> {
        match &*spec.org_id {
            None if spec.org_id.is_invalid() => None,
            None => {
                lower.err(
                    name.span,
                    Code::MissingField,
                    format!("salesforce account `{}` needs `org_id`", name.value),
                    "add `org_id: 00D5g00000EMu01EAD` (Setup → Company Information shows the org id)",
                );
                None
            }
            Some(o) => {
                let v = o.trim();
                if record_id(v) && v.starts_with("00D") {
                    Some(AccountIds {
                        platform_id: v.to_string(),
                        login_customer_id: None,
                    })
                } else {
                    lower.err(
                        o.span,
                        Code::InvalidValue,
                        format!("invalid Salesforce org id `{}`", o.value),
                        "a Salesforce org id starts with 00D and has 15 or 18 letters and digits",
                    );
                    None
                }
            }
        }
    }

    fn parse_campaign(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<SalesforceCampaign>(node).map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn campaign_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        gen.subschema_for::<SalesforceCampaign>()
    }

    fn campaign_size(&self, _campaign: &dyn std::any::Any) -> usize {
        1
    }

    fn campaign_problems(
        &self,
        campaign: &dyn std::any::Any,
        _location: &dyn Fn(crate::spec::yaml::Span) -> String,
    ) -> Vec<crate::spec::rules::Problem> {
        let mut out = Vec::new();
        if let Some(n) = campaign
            .downcast_ref::<SalesforceCampaign>()
            .and_then(|c| c.name.as_ref())
        {
            crate::spec::rules::one_line(n, "campaign name", &mut out);
        }
        out
    }

    fn lower_campaign(&self, lower: &mut Lower<'_>, account: &Account, campaign: Box<dyn std::any::Any + Send>) {
        if let Ok(c) = campaign.downcast::<SalesforceCampaign>() {
            lower.salesforce_campaign(account, *c);
        }
    }

    fn audience_fields(&self) -> &'static [&'static str] {
        &["member_status"]
    }

    fn lower_audience(&self, lower: &mut Lower<'_>, a: &crate::spec::types::Audience, r: &mut Resource) {
        lower.salesforce_audience(a, r);
    }

    fn managed_fields(&self, kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::Campaign => &[
                "status",
                "campaign_status",
                "type",
                "start_date",
                "end_date",
                "budgeted_cost",
                "actual_cost",
                "parent",
                "description",
            ],
            Kind::Audience => &["description", "members"],
            _ => &[],
        }
    }

    fn object_id(&self, _kind: Kind, id: &str) -> Result<(), &'static str> {
        if record_id(id) && id.starts_with("701") {
            Ok(())
        } else {
            Err("a Salesforce campaign id starts with 701 and has 15 or 18 letters and digits")
        }
    }

    fn sandbox_id(&self, _kind: Kind, n: u64) -> String {
        format!("701{n:015}")
    }

    fn status_word(&self, status: Status) -> &'static str {
        match status {
            Status::Enabled | Status::Active => "active",
            Status::Paused => "inactive",
        }
    }

    fn hash_email(&self, email: &str) -> String {
        email_hash(email)
    }

    fn audience_source(&self) -> bool {
        true
    }
    fn takes_clear_addresses(&self) -> bool {
        true
    }

    fn counterpart(&self, field: &str) -> Option<&'static str> {
        Some(match field {
            "budget" => "a Salesforce campaign has `budgeted_cost` (whole units); its actual cost comes from `mirrors`",
            "start_time" | "schedule" => "a Salesforce campaign has `start_date` and `end_date` (YYYY-MM-DD)",
            "notes" => "a Salesforce campaign has `description`",
            "ad_groups" | "ad_sets" | "ads" | "campaigns" | "creatives" => {
                "a Salesforce campaign mirrors an ad campaign (`mirrors: <account>/campaign/<name>`); its hierarchy is \
                 `parent`"
            }
            _ => return None,
        })
    }

    fn import_campaign(
        &self,
        campaign: &Resource,
        tree: &crate::import::Tree<'_>,
        account: &Account,
    ) -> serde_yaml::Mapping {
        super::import::campaign(campaign, tree, account)
    }

    fn seed_emulator(&self, config: &mut crate::emulator::EmulatorConfig, account: &Account, _tz: &str) {
        super::emulated::seed_config(config, account);
    }

    fn seed_running_emulator(&self, emulator: &crate::emulator::EmulatorHandle, account: &Account, _tz: &str) -> bool {
        super::emulated::seed_running(emulator, account)
    }

    fn emulated_connector(&self, account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
        super::emulated::connector(account)
    }

    fn auth(&self) -> Option<&'static dyn crate::auth::PlatformAuth> {
        super::home_auth()
    }

    fn emulated_auth_env(&self, name: &str) -> Option<Option<&'static str>> {
        super::emulated::auth_env(name)
    }

    fn capabilities(&self) -> Capabilities {
        super::capabilities()
    }

    fn connector(&self, account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
        super::connector(account)
    }
}
