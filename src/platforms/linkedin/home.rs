//! LinkedIn as the rest of adsctl sees it: the [`Home`] of the platform registry.

use std::sync::Arc;

use crate::connectors::{Capabilities, Connector, ConnectorError};
use crate::model::{Account, Kind, Platform, Resource};
use crate::platforms::{AccountIds, Home};
use crate::spec::error::Code;
use crate::spec::lower::Lower;
use crate::spec::types::{AccountSpec, LinkedInCampaignGroup, Status};
use crate::spec::Spanned;

/// LinkedIn Marketing API (versioned REST).
pub struct LinkedInHome;

impl Home for LinkedInHome {
    fn platform(&self) -> Platform {
        Platform::Linkedin
    }
    fn display_name(&self) -> &'static str {
        "LinkedIn"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind::Audience, Kind::CampaignGroup, Kind::Campaign, Kind::Creative]
    }

    fn account_fields(&self) -> &'static [&'static str] {
        &["account_id"]
    }
    fn campaign_fields(&self) -> &'static [&'static str] {
        &["campaigns", "schedule"]
    }

    fn account_id_field(&self) -> &'static str {
        "account_id"
    }
    fn describe_account_id(&self, digits: &str) -> (&'static str, String) {
        ("LinkedIn ad account", format!("ad account {digits}"))
    }

    fn account_ids(&self, lower: &mut Lower<'_>, name: &Spanned<String>, spec: &AccountSpec) -> Option<AccountIds> {
        match &*spec.account_id {
            None if spec.account_id.is_invalid() => None,
            None => {
                lower.err(
                    name.span,
                    Code::MissingField,
                    format!("linkedin account `{}` needs `account_id`", name.value),
                    "add `account_id: \"507404993\"` (Campaign Manager shows it under the account's name)",
                );
                None
            }
            Some(a) => {
                let v = a.trim();
                let v = v.strip_prefix("urn:li:sponsoredAccount:").unwrap_or(v);
                if !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()) {
                    Some(AccountIds {
                        platform_id: v.to_string(),
                        login_customer_id: None,
                    })
                } else {
                    lower.err(
                        a.span,
                        Code::InvalidValue,
                        format!("invalid LinkedIn ad account id `{}`", a.value),
                        "a LinkedIn ad account id is digits: `account_id: \"507404993\"` (quote it)",
                    );
                    None
                }
            }
        }
    }

    fn parse_campaign(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<LinkedInCampaignGroup>(node).map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn campaign_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        gen.subschema_for::<LinkedInCampaignGroup>()
    }

    fn campaign_size(&self, campaign: &dyn std::any::Any) -> usize {
        use crate::spec::rules::values;
        let Some(g) = campaign.downcast_ref::<LinkedInCampaignGroup>() else {
            return 1;
        };
        1 + values(&g.campaigns)
            .map(|c| 1 + values(&c.creatives).count())
            .sum::<usize>()
    }

    fn campaign_problems(
        &self,
        campaign: &dyn std::any::Any,
        _location: &dyn Fn(crate::spec::yaml::Span) -> String,
    ) -> Vec<crate::spec::rules::Problem> {
        use crate::spec::rules::{one_line, values};
        let Some(g) = campaign.downcast_ref::<LinkedInCampaignGroup>() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        one_line(&g.name, "campaign group name", &mut out);
        for c in values(&g.campaigns) {
            one_line(&c.name, "campaign name", &mut out);
            for x in values(&c.creatives) {
                one_line(&x.name, "creative name", &mut out);
            }
        }
        out
    }

    fn lower_campaign(&self, lower: &mut Lower<'_>, account: &Account, campaign: Box<dyn std::any::Any + Send>) {
        let Ok(g) = campaign.downcast::<LinkedInCampaignGroup>() else {
            return;
        };
        if let Some(r) = lower.top_resource(
            account,
            Kind::CampaignGroup,
            "campaign group",
            &g.name,
            &g.id,
            &g.lifecycle,
        ) {
            lower.linkedin_campaign_group(account, *g, r);
        }
    }

    fn audience_fields(&self) -> &'static [&'static str] {
        &["company_file"]
    }

    fn lower_audience(&self, _lower: &mut Lower<'_>, _a: &crate::spec::types::Audience, _r: &mut Resource) {}

    fn managed_fields(&self, kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::CampaignGroup => &["status", "run_schedule.start", "run_schedule.end", "budget.lifetime"],
            Kind::Campaign => &[
                "status",
                "type",
                "objective_type",
                "format",
                "cost_type",
                "unit_cost",
                "optimization_target_type",
                "budget.daily",
                "budget.lifetime",
                "run_schedule.start",
                "run_schedule.end",
                "locale.country",
                "locale.language",
                "targeting.include",
                "targeting.exclude",
                "targeting.audiences",
                "targeting.excluded_audiences",
                "audience_expansion_enabled",
                "offsite_delivery_enabled",
                "creative_selection",
            ],
            Kind::Creative => &[
                "status",
                "content.reference",
                "leadgen_call_to_action.destination",
                "leadgen_call_to_action.label",
            ],
            Kind::Audience => &["description", "list_type", "members"],
            _ => &[],
        }
    }

    fn object_id(&self, kind: Kind, id: &str) -> Result<(), &'static str> {
        let digits = |v: &str| !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit());
        match kind {
            // a creative's id is its URN, as LinkedIn's `id` field is
            Kind::Creative if id.strip_prefix("urn:li:sponsoredCreative:").is_some_and(digits) => Ok(()),
            Kind::Creative => Err("a LinkedIn creative id is its URN: `urn:li:sponsoredCreative:123456`"),
            _ if digits(id) => Ok(()),
            _ => Err("a LinkedIn id is digits, e.g. \"612345678\" (quote it)"),
        }
    }

    fn status_word(&self, status: Status) -> &'static str {
        match status {
            Status::Enabled | Status::Active => "active",
            Status::Paused => "paused",
        }
    }

    fn hash_email(&self, email: &str) -> String {
        // SHA256_EMAIL: the e-mail trimmed and lower-cased, then SHA-256 as lower-case hex (LinkedIn's matched
        // audiences guide; the same normalisation as the other platforms' customer files)
        crate::spec::audience::sha256_hex(&email.trim().to_lowercase())
    }

    fn counterpart(&self, field: &str) -> Option<&'static str> {
        Some(match field {
            "ad_sets" | "ad_groups" => "a LinkedIn campaign group holds `campaigns`, and a campaign `creatives`",
            "channel" | "objective" => "LinkedIn sets `objective` and `type` on each campaign of the group",
            "bidding" | "bid_strategy" => "LinkedIn bids per campaign: `cost_type`, `bid` and `optimization_target`",
            "start_date" | "end_date" | "start_time" | "stop_time" => {
                "LinkedIn schedules with `schedule: { start, end }`"
            }
            "negative_keywords" => "LinkedIn has no keywords; exclude facets with `targeting: { exclude: … }`",
            _ => return None,
        })
    }

    fn import_campaign(
        &self,
        campaign: &Resource,
        tree: &crate::import::Tree<'_>,
        account: &Account,
    ) -> serde_yaml::Mapping {
        super::import::campaign_group(campaign, tree, account)
    }

    fn seed_emulator(&self, config: &mut crate::emulator::EmulatorConfig, account: &Account, default_time_zone: &str) {
        super::emulated::seed_config(config, account, default_time_zone);
    }

    fn seed_running_emulator(
        &self,
        emulator: &crate::emulator::EmulatorHandle,
        account: &Account,
        default_time_zone: &str,
    ) -> bool {
        super::emulated::seed_running(emulator, account, default_time_zone)
    }

    fn emulated_connector(&self, account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
        super::emulated::connector(account)
    }

    fn auth(&self) -> Option<&'static dyn crate::auth::PlatformAuth> {
        Some(&super::auth::LinkedInAuth)
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
