//! X as the rest of adsctl sees it: the [`Home`] of the platform registry.

use std::sync::Arc;

use crate::connectors::{Capabilities, Connector, ConnectorError};
use crate::model::{Account, Kind, Platform, Resource};
use crate::platforms::{AccountIds, Home};
use crate::spec::error::Code;
use crate::spec::lower::Lower;
use crate::spec::types::{AccountSpec, Status, XCampaign};
use crate::spec::Spanned;

/// X Ads API.
pub struct XHome;

/// An X ads id: base 36 in lower case (accounts `18ce54d4x5t`, campaigns `8wku2`, funding instruments `lygyi`).
pub fn base36_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

impl Home for XHome {
    fn platform(&self) -> Platform {
        Platform::X
    }
    fn display_name(&self) -> &'static str {
        "X"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[
            Kind::Audience,
            Kind::Campaign,
            Kind::AdGroup,
            Kind::PromotedPost,
            Kind::TargetingCriterion,
        ]
    }

    fn account_fields(&self) -> &'static [&'static str] {
        &["account_id"]
    }
    fn campaign_fields(&self) -> &'static [&'static str] {
        &["funding_instrument", "ad_groups"]
    }

    fn account_id_field(&self) -> &'static str {
        "account_id"
    }
    fn describe_account_id(&self, id: &str) -> (&'static str, String) {
        ("X ads account", format!("ads account {id}"))
    }

    fn account_ids(&self, lower: &mut Lower<'_>, name: &Spanned<String>, spec: &AccountSpec) -> Option<AccountIds> {
        match &*spec.account_id {
            None if spec.account_id.is_invalid() => None,
            None => {
                lower.err(
                    name.span,
                    Code::MissingField,
                    format!("x account `{}` needs `account_id`", name.value),
                    "add `account_id: 18ce54d4x5t` (X Ads Manager shows it in the account's URL)",
                );
                None
            }
            Some(a) => {
                let v = a.trim();
                if base36_id(v) {
                    Some(AccountIds {
                        platform_id: v.to_string(),
                        login_customer_id: None,
                    })
                } else {
                    lower.err(
                        a.span,
                        Code::InvalidValue,
                        format!("invalid X ads account id `{}`", a.value),
                        "an X ads account id is base 36 in lower case: `account_id: 18ce54d4x5t`",
                    );
                    None
                }
            }
        }
    }

    fn parse_campaign(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<XCampaign>(node).map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn campaign_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        gen.subschema_for::<XCampaign>()
    }

    fn campaign_size(&self, campaign: &dyn std::any::Any) -> usize {
        use crate::spec::rules::values;
        let Some(c) = campaign.downcast_ref::<XCampaign>() else {
            return 1;
        };
        1 + values(&c.ad_groups)
            .map(|g| 1 + values(&g.targeting).count() + values(&g.promoted_posts).count())
            .sum::<usize>()
    }

    fn campaign_problems(
        &self,
        campaign: &dyn std::any::Any,
        _location: &dyn Fn(crate::spec::yaml::Span) -> String,
    ) -> Vec<crate::spec::rules::Problem> {
        use crate::spec::rules::{one_line, values};
        let Some(c) = campaign.downcast_ref::<XCampaign>() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        one_line(&c.name, "campaign name", &mut out);
        for g in values(&c.ad_groups) {
            one_line(&g.name, "ad group name", &mut out);
        }
        out
    }

    fn lower_campaign(&self, lower: &mut Lower<'_>, account: &Account, campaign: Box<dyn std::any::Any + Send>) {
        let Ok(c) = campaign.downcast::<XCampaign>() else {
            return;
        };
        if let Some(r) = lower.top_resource(account, Kind::Campaign, "campaign", &c.name, &c.id, &c.lifecycle) {
            lower.x_campaign(account, *c, r);
        }
    }

    fn audience_fields(&self) -> &'static [&'static str] {
        &[]
    }

    fn lower_audience(&self, _lower: &mut Lower<'_>, _a: &crate::spec::types::Audience, _r: &mut Resource) {}

    fn managed_fields(&self, kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::Campaign => &["status", "funding_instrument", "budget.daily", "budget.lifetime"],
            Kind::AdGroup => &[
                "status",
                "objective",
                "product_type",
                "placements",
                "bid_strategy",
                "bid",
                "goal",
                "pay_by",
                "budget.daily",
                "budget.lifetime",
                "start_time",
                "end_time",
            ],
            Kind::TargetingCriterion => &["audience"],
            Kind::Audience => &["description", "members"],
            _ => &[],
        }
    }

    fn object_id(&self, kind: Kind, id: &str) -> Result<(), &'static str> {
        match kind {
            Kind::PromotedPost | Kind::TargetingCriterion => {
                Err("X promoted posts and targeting criteria are named by what they are, not pinned by id")
            }
            _ if base36_id(id) => Ok(()),
            _ => Err("an X id is base 36 in lower case, e.g. \"8wku2\""),
        }
    }

    fn status_word(&self, status: Status) -> &'static str {
        match status {
            Status::Enabled | Status::Active => "active",
            Status::Paused => "paused",
        }
    }

    fn hash_email(&self, email: &str) -> String {
        // X's audiences guide: trimmed and lower-cased, then SHA-256 as lower-case hex, unsalted
        crate::spec::audience::sha256_hex(&email.trim().to_lowercase())
    }

    fn counterpart(&self, field: &str) -> Option<&'static str> {
        Some(match field {
            "ad_sets" | "campaigns" => "an X campaign holds `ad_groups` (X's line items)",
            "channel" | "objective" | "objective_type" => "X sets `objective` on each ad group",
            "bidding" | "bid_strategy" => "X bids per ad group: `bid_strategy` and `bid`",
            "start_date" | "end_date" | "start_time" | "stop_time" | "schedule" => {
                "X schedules each ad group with `schedule: { start, end }`"
            }
            "ads" | "creatives" => "an X ad group promotes posts: `promoted_posts: [\"<post id>\"]`",
            "keywords" | "negative_keywords" => {
                "X keywords are targeting criteria: `targeting: [{ type: broad_keyword, value: …, operator: ne }]`"
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
        Some(&super::auth::XAuth)
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
