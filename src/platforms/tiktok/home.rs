//! TikTok as the rest of adsctl sees it: the [`Home`] of the platform registry.

use std::sync::Arc;

use crate::connectors::{Capabilities, Connector, ConnectorError};
use crate::model::{Account, Kind, Platform, Resource};
use crate::platforms::{AccountIds, Home};
use crate::spec::error::Code;
use crate::spec::lower::Lower;
use crate::spec::types::{AccountSpec, Status, TikTokCampaign};
use crate::spec::Spanned;

/// TikTok API for Business (v1.3).
pub struct TikTokHome;

impl Home for TikTokHome {
    fn platform(&self) -> Platform {
        Platform::Tiktok
    }
    fn display_name(&self) -> &'static str {
        "TikTok"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[
            Kind::Audience,
            Kind::LookalikeAudience,
            Kind::Campaign,
            Kind::AdGroup,
            Kind::Ad,
        ]
    }

    fn account_fields(&self) -> &'static [&'static str] {
        &["advertiser_id"]
    }
    fn campaign_fields(&self) -> &'static [&'static str] {
        &[
            "objective",
            "budget_optimization",
            "special_industries",
            "ad_groups",
            "budget.lifetime",
        ]
    }

    fn account_id_field(&self) -> &'static str {
        "advertiser_id"
    }
    fn describe_account_id(&self, digits: &str) -> (&'static str, String) {
        ("TikTok advertiser", format!("advertiser {digits}"))
    }

    fn account_ids(&self, lower: &mut Lower<'_>, name: &Spanned<String>, spec: &AccountSpec) -> Option<AccountIds> {
        match &*spec.advertiser_id {
            None if spec.advertiser_id.is_invalid() => None,
            None => {
                lower.err(
                    name.span,
                    Code::MissingField,
                    format!("tiktok account `{}` needs `advertiser_id`", name.value),
                    "add `advertiser_id: \"7000000000000000001\"` (from TikTok Ads Manager)",
                );
                None
            }
            Some(a) => {
                let v = a.trim();
                if !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()) {
                    Some(AccountIds {
                        platform_id: v.to_string(),
                        login_customer_id: None,
                    })
                } else {
                    lower.err(
                        a.span,
                        Code::InvalidValue,
                        format!("invalid advertiser id `{}`", a.value),
                        "a TikTok advertiser id is digits: `advertiser_id: \"7000000000000000001\"` (quote it)",
                    );
                    None
                }
            }
        }
    }

    fn parse_campaign(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<TikTokCampaign>(node).map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn campaign_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        gen.subschema_for::<TikTokCampaign>()
    }

    fn campaign_size(&self, campaign: &dyn std::any::Any) -> usize {
        use crate::spec::rules::values;
        let Some(c) = campaign.downcast_ref::<TikTokCampaign>() else {
            return 1;
        };
        1 + values(&c.ad_groups).map(|g| 1 + values(&g.ads).count()).sum::<usize>()
    }

    fn campaign_problems(
        &self,
        campaign: &dyn std::any::Any,
        _location: &dyn Fn(crate::spec::yaml::Span) -> String,
    ) -> Vec<crate::spec::rules::Problem> {
        use crate::spec::rules::{one_line, one_line_opt, values};
        let Some(c) = campaign.downcast_ref::<TikTokCampaign>() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        one_line(&c.name, "campaign name", &mut out);
        for g in values(&c.ad_groups) {
            one_line(&g.name, "ad group name", &mut out);
            for ad in values(&g.ads) {
                one_line(&ad.name, "ad name", &mut out);
                one_line_opt(&ad.text, "ad text", &mut out);
                one_line_opt(&ad.display_name, "display name", &mut out);
            }
        }
        out
    }

    fn lower_campaign(&self, lower: &mut Lower<'_>, account: &Account, campaign: Box<dyn std::any::Any + Send>) {
        let Ok(c) = campaign.downcast::<TikTokCampaign>() else {
            return;
        };
        if let Some(r) = lower.campaign_resource(account, &c.name, &c.id, &c.lifecycle) {
            lower.tiktok_campaign(account, *c, r);
        }
    }

    fn parse_lookalike(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<crate::spec::types::TikTokLookalikeAudience>(node)
            .map(|l| Box::new(l) as Box<dyn std::any::Any + Send>)
    }

    fn lookalike_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        Some(gen.subschema_for::<crate::spec::types::TikTokLookalikeAudience>())
    }

    fn lower_lookalike(&self, lower: &mut Lower<'_>, account: &Account, lookalike: Box<dyn std::any::Any + Send>) {
        if let Ok(l) = lookalike.downcast::<crate::spec::types::TikTokLookalikeAudience>() {
            lower.tiktok_lookalike(account, *l);
        }
    }

    fn audience_fields(&self) -> &'static [&'static str] {
        &[]
    }

    fn lower_audience(&self, _lower: &mut Lower<'_>, _a: &crate::spec::types::Audience, r: &mut Resource) {
        // A TikTok custom audience has no description (`docs/resource-model.md`, TikTok table): an audience
        // shared with accounts of platforms that have one keeps it there, and sends none here (the connector
        // refuses a field TikTok does not have, so keeping it failed the apply of a valid project).
        r.fields.remove("description");
        // the customer file's e-mail addresses, hashed as `hash_email` says
        r.fields
            .insert("calculate_type", crate::model::Value::str("email_sha256"));
    }

    fn managed_fields(&self, kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::Campaign => &[
                "status",
                "objective_type",
                "budget_mode",
                "budget.daily",
                "budget.lifetime",
                "budget_optimize_on",
                "special_industries",
            ],
            Kind::AdGroup => &[
                "status",
                "placement_type",
                "placements",
                "targeting.location_ids",
                "targeting.age_groups",
                "targeting.gender",
                "targeting.languages",
                "targeting.interest_category_ids",
                "targeting.audiences",
                "targeting.excluded_audiences",
                "schedule_type",
                "schedule_start_time",
                "schedule_end_time",
                "optimization_goal",
                "billing_event",
                "bid_type",
                "bid_price",
                "pacing",
                "budget_mode",
                "budget.daily",
                "budget.lifetime",
            ],
            Kind::Ad => &[
                "status",
                "ad_format",
                "ad_text",
                "call_to_action",
                "landing_page_url",
                "display_name",
                "identity_type",
                "identity_id",
                "video_id",
                "image_ids",
            ],
            Kind::Audience => &["calculate_type", "members"],
            Kind::LookalikeAudience => &["origin", "audience_size", "location_ids", "include_source"],
            _ => &[],
        }
    }

    fn status_word(&self, status: Status) -> &'static str {
        match status {
            Status::Enabled | Status::Active => "enable",
            Status::Paused => "disable",
        }
    }

    fn hash_email(&self, email: &str) -> String {
        // EMAIL_SHA256: the pack says no more than the hash; the reading chosen is the usual one (trimmed, lower
        // case, then SHA-256 as hex), as for the other platforms' customer files
        crate::spec::audience::sha256_hex(&email.trim().to_lowercase())
    }

    fn counterpart(&self, field: &str) -> Option<&'static str> {
        Some(match field {
            "ad_sets" => "TikTok campaigns hold `ad_groups`",
            "channel" => "TikTok campaigns set `objective` (traffic, reach, …) instead",
            "bidding" => "TikTok bids per ad group: `bid` and `billing_event`",
            "special_ad_categories" => "TikTok campaigns set `special_industries`",
            "start_date" | "end_date" | "start_time" | "stop_time" => {
                "TikTok schedules ad groups: `schedule: { start, end }`"
            }
            "negative_keywords" => "TikTok has no keywords; exclude audiences in the ad group's targeting",
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
        Some(&super::auth::TikTokAuth)
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

#[cfg(test)]
mod tests {
    use crate::model::Value;

    /// An audience shared by a Meta and a TikTok account keeps its description on Meta and sends none to TikTok,
    /// whose custom audiences have no such field (the connector would refuse it at apply).
    #[test]
    fn a_shared_audience_s_description_is_not_sent_to_tiktok() {
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        w(
            "adsctl.yaml",
            "accounts:\n  social:\n    platform: meta\n    ad_account_id: act_1234\n    currency: USD\n  \
             tok:\n    platform: tiktok\n    advertiser_id: \"5678\"\n    currency: USD\n",
        );
        w("customers.csv", "email\nada@example.com\n");
        w(
            "audiences.yaml",
            "audiences:\n  - name: Customers\n    accounts: [social, tok]\n    description: CRM export\n    \
             customer_file: { path: customers.csv, column: email }\n",
        );
        let project = crate::spec::load(dir.path()).unwrap_or_else(|e| panic!("{e:?}"));
        let description = |account: &str| {
            project
                .resources
                .iter()
                .find(|r| r.address.to_string() == format!("{account}/audience/Customers"))
                .unwrap_or_else(|| panic!("no audience in {account}"))
                .fields
                .get("description")
                .cloned()
        };
        assert_eq!(description("social"), Some(Value::Str("CRM export".into())));
        assert_eq!(description("tok"), None);
    }
}
