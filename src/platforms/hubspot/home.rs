//! HubSpot as the rest of adsctl sees it: the [`Home`] of the platform registry.

use std::sync::Arc;

use crate::connectors::{Capabilities, Connector, ConnectorError};
use crate::model::{Account, Kind, Platform, Resource};
use crate::platforms::{AccountIds, Home};
use crate::spec::error::Code;
use crate::spec::lower::Lower;
use crate::spec::types::{AccountSpec, HubSpotCampaign, Status};
use crate::spec::Spanned;

/// HubSpot's public API (date-versioned 2026-09).
pub struct HubSpotHome;

/// A HubSpot portal id: digits.
pub fn portal_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit())
}

/// A HubSpot list's e-mail hash: SHA-256 of the trimmed, lower-cased address (adsctl's; HubSpot matches contacts
/// by the address itself, which the connector sends).
pub fn email_hash(email: &str) -> String {
    crate::spec::audience::sha256_hex(&email.trim().to_lowercase())
}

impl Home for HubSpotHome {
    fn platform(&self) -> Platform {
        Platform::Hubspot
    }
    fn display_name(&self) -> &'static str {
        "HubSpot"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind::Audience, Kind::Campaign]
    }

    fn account_fields(&self) -> &'static [&'static str] {
        &["portal_id"]
    }
    fn campaign_fields(&self) -> &'static [&'static str] {
        &[
            "mirrors",
            "start_date",
            "end_date",
            "notes",
            "owner",
            "color",
            "audience",
            "budget_items",
        ]
    }

    fn account_id_field(&self) -> &'static str {
        "portal_id"
    }
    fn describe_account_id(&self, id: &str) -> (&'static str, String) {
        ("HubSpot portal", format!("portal {id}"))
    }

    fn account_ids(&self, lower: &mut Lower<'_>, name: &Spanned<String>, spec: &AccountSpec) -> Option<AccountIds> {
        match &*spec.portal_id {
            None if spec.portal_id.is_invalid() => None,
            None => {
                lower.err(
                    name.span,
                    Code::MissingField,
                    format!("hubspot account `{}` needs `portal_id`", name.value),
                    "add `portal_id: \"20000001\"` (HubSpot shows the hub id in the account menu)",
                );
                None
            }
            Some(p) => {
                let v = p.trim();
                if portal_id(v) {
                    Some(AccountIds {
                        platform_id: v.to_string(),
                        login_customer_id: None,
                    })
                } else {
                    lower.err(
                        p.span,
                        Code::InvalidValue,
                        format!("invalid HubSpot portal id `{}`", p.value),
                        "a HubSpot portal (hub) id is digits: `portal_id: \"20000001\"`",
                    );
                    None
                }
            }
        }
    }

    fn parse_campaign(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<HubSpotCampaign>(node).map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn campaign_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        gen.subschema_for::<HubSpotCampaign>()
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
        if let Some(n) = campaign.downcast_ref::<HubSpotCampaign>().and_then(|c| c.name.as_ref()) {
            crate::spec::rules::one_line(n, "campaign name", &mut out);
        }
        out
    }

    fn lower_campaign(&self, lower: &mut Lower<'_>, account: &Account, campaign: Box<dyn std::any::Any + Send>) {
        if let Ok(c) = campaign.downcast::<HubSpotCampaign>() {
            lower.hubspot_campaign(account, *c);
        }
    }

    fn audience_fields(&self) -> &'static [&'static str] {
        &[]
    }

    fn lower_audience(&self, lower: &mut Lower<'_>, a: &crate::spec::types::Audience, r: &mut Resource) {
        lower.file_clear_members(a, r, email_hash, None);
    }

    fn managed_fields(&self, kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::Campaign => &[
                "start_date",
                "end_date",
                "notes",
                "owner",
                "color",
                "audience",
                "budget_items",
                "spend",
            ],
            Kind::Audience => &["members"],
            _ => &[],
        }
    }

    fn object_id(&self, kind: Kind, id: &str) -> Result<(), &'static str> {
        let uuid = id.len() == 36
            && id.bytes().enumerate().all(|(i, b)| {
                if [8, 13, 18, 23].contains(&i) {
                    b == b'-'
                } else {
                    b.is_ascii_hexdigit()
                }
            });
        match kind {
            Kind::Campaign if uuid => Ok(()),
            Kind::Campaign => Err("a HubSpot campaign id is its GUID, e.g. \"3f2a8c1e-5b7d-4e90-a1c2-0d9e8f7a6b5c\""),
            _ if portal_id(id) => Ok(()),
            _ => Err("a HubSpot list id is digits, e.g. \"123\""),
        }
    }

    fn sandbox_id(&self, kind: Kind, n: u64) -> String {
        match kind {
            Kind::Campaign => format!("00000000-0000-4000-8000-{n:012}"),
            _ => (9_000_000_000 + n).to_string(),
        }
    }

    fn status_word(&self, status: Status) -> &'static str {
        match status {
            Status::Enabled | Status::Active => "active",
            Status::Paused => "paused",
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
            "status" => {
                "a HubSpot campaign's status is HubSpot's to set; adsctl pauses it only when it leaves the YAML"
            }
            "budget" => "a HubSpot campaign's money is in `budget_items: [{ name, amount }]`",
            "start_time" | "schedule" => "a HubSpot campaign has `start_date` and `end_date` (YYYY-MM-DD)",
            "description" => "a HubSpot campaign has `notes`",
            "ad_groups" | "ad_sets" | "ads" | "campaigns" | "creatives" => {
                "a HubSpot campaign mirrors an ad campaign: `mirrors: <account>/campaign/<name>`"
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
