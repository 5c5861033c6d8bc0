//! Google Ads as the rest of adsctl sees it: the [`Home`] of the platform registry.

use std::sync::Arc;

use crate::connectors::{Capabilities, Connector, ConnectorError};
use crate::model::{Account, Kind, Platform, Resource};
use crate::platforms::{AccountIds, Home};
use crate::spec::error::Code;
use crate::spec::lower::{customer_id, Lower};
use crate::spec::types::{AccountSpec, Status};
use crate::spec::Spanned;

/// Google Ads (REST API).
pub struct GoogleAdsHome;

impl Home for GoogleAdsHome {
    fn platform(&self) -> Platform {
        Platform::GoogleAds
    }
    fn display_name(&self) -> &'static str {
        "Google Ads"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[
            Kind::Budget,
            Kind::Audience,
            Kind::Campaign,
            Kind::AdGroup,
            Kind::Ad,
            Kind::Keyword,
            Kind::NegativeKeyword,
            Kind::Conversion,
            Kind::AssetGroup,
            Kind::Experiment,
        ]
    }

    fn account_fields(&self) -> &'static [&'static str] {
        &["customer_id", "login_customer_id"]
    }
    fn campaign_fields(&self) -> &'static [&'static str] {
        &[
            "channel",
            "bidding",
            "start_date",
            "end_date",
            "network",
            "eu_political_advertising",
            "labels",
            "conversion_goals",
            "ad_groups",
            "negative_keywords",
            "merchant_center_id",
            "feed_label",
            "campaign_priority",
            "asset_groups",
            "budget.shared",
            "budget.delivery_method",
        ]
    }

    fn account_id_field(&self) -> &'static str {
        "customer_id"
    }
    fn describe_account_id(&self, digits: &str) -> (&'static str, String) {
        ("Google Ads customer", format!("customer id {digits}"))
    }

    fn account_ids(&self, lower: &mut Lower<'_>, name: &Spanned<String>, spec: &AccountSpec) -> Option<AccountIds> {
        let mut ok = true;
        let mut platform_id = String::new();
        let mut login = None;
        match &*spec.customer_id {
            None if spec.customer_id.is_invalid() => ok = false,
            None => {
                lower.err(
                    name.span,
                    Code::MissingField,
                    format!("google_ads account `{}` needs `customer_id`", name.value),
                    "add `customer_id: 123-456-7890` (from the Google Ads UI)",
                );
                ok = false;
            }
            Some(c) => match customer_id(c) {
                Some(d) => platform_id = d,
                None => {
                    lower.err(
                        c.span,
                        Code::InvalidValue,
                        format!("invalid customer id `{}`", c.value),
                        "a customer id has 10 digits: `123-456-7890` or `1234567890`",
                    );
                    ok = false;
                }
            },
        }
        if let Some(l) = &*spec.login_customer_id {
            match customer_id(l) {
                Some(d) => login = Some(d),
                None => {
                    lower.err(
                        l.span,
                        Code::InvalidValue,
                        format!("invalid login customer id `{}`", l.value),
                        "a customer id has 10 digits: `123-456-7890` or `1234567890`",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(AccountIds {
            platform_id,
            login_customer_id: login,
        })
    }

    fn parse_campaign(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<crate::spec::types::GoogleCampaign>(node)
            .map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn campaign_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        gen.subschema_for::<crate::spec::types::GoogleCampaign>()
    }

    fn campaign_size(&self, campaign: &dyn std::any::Any) -> usize {
        use crate::spec::rules::values;
        let Some(c) = campaign.downcast_ref::<crate::spec::types::GoogleCampaign>() else {
            return 1;
        };
        1 + values(&c.negative_keywords).count()
            + values(&c.ad_groups)
                .map(|g| {
                    1 + values(&g.keywords).count() + values(&g.negative_keywords).count() + values(&g.ads).count()
                })
                .sum::<usize>()
    }

    fn campaign_problems(
        &self,
        campaign: &dyn std::any::Any,
        location: &dyn Fn(crate::spec::yaml::Span) -> String,
    ) -> Vec<crate::spec::rules::Problem> {
        let Some(c) = campaign.downcast_ref::<crate::spec::types::GoogleCampaign>() else {
            return Vec::new();
        };
        let mut out = super::rules::single_line(c);
        out.extend(super::rules::keyword_conflicts(c, location));
        out
    }

    fn lower_campaign(&self, lower: &mut Lower<'_>, account: &Account, campaign: Box<dyn std::any::Any + Send>) {
        let Ok(c) = campaign.downcast::<crate::spec::types::GoogleCampaign>() else {
            return;
        };
        if let Some(r) = lower.campaign_resource(account, &c.name, &c.id, &c.lifecycle) {
            lower.google_campaign(account, *c, r);
        }
    }

    fn parse_conversion(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<crate::spec::types::GoogleConversionAction>(node)
            .map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn conversion_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        Some(gen.subschema_for::<crate::spec::types::GoogleConversionAction>())
    }

    fn lower_conversion(&self, lower: &mut Lower<'_>, account: &Account, conversion: Box<dyn std::any::Any + Send>) {
        if let Ok(c) = conversion.downcast::<crate::spec::types::GoogleConversionAction>() {
            lower.google_conversion(account, *c);
        }
    }

    fn parse_experiment(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<super::experiment::GoogleExperiment>(node)
            .map(|e| Box::new(e) as Box<dyn std::any::Any + Send>)
    }

    fn experiment_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        Some(gen.subschema_for::<super::experiment::GoogleExperiment>())
    }

    fn lower_experiment(&self, lower: &mut Lower<'_>, account: &Account, experiment: Box<dyn std::any::Any + Send>) {
        if let Ok(e) = experiment.downcast::<super::experiment::GoogleExperiment>() {
            lower.google_experiment(account, *e);
        }
    }

    fn import_experiment(&self, experiment: &Resource, account: &Account) -> Option<serde_yaml::Mapping> {
        Some(super::experiment::import(experiment, account))
    }

    fn importable(&self, r: &Resource) -> bool {
        use crate::spec::types::ConversionType;
        r.kind != Kind::Conversion
            || r.fields
                .get("type")
                .and_then(crate::model::Value::as_str)
                .is_some_and(|t| serde_json::from_value::<ConversionType>(serde_json::Value::from(t)).is_ok())
    }

    fn audience_fields(&self) -> &'static [&'static str] {
        &["membership_life_span_days"]
    }

    fn lower_audience(&self, lower: &mut Lower<'_>, a: &crate::spec::types::Audience, r: &mut Resource) {
        if let Some(d) = &*a.membership_life_span_days {
            if !(1..=540).contains(&d.value) {
                lower.err(
                    d.span,
                    Code::Constraint,
                    format!("membership_life_span_days must be 1–540, got {}", d.value),
                    "Google keeps Customer Match members at most 540 days",
                );
            }
            r.fields.insert(
                "membership_life_span_days",
                crate::model::Value::Int(i64::from(d.value)),
            );
        }
    }

    fn managed_fields(&self, kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::Budget => &["amount", "delivery_method"],
            Kind::Campaign => &[
                "status",
                "channel",
                "budget.daily",
                "budget.shared",
                "budget.delivery_method",
                "bidding.strategy",
                "bidding.target_cpa",
                "bidding.target_roas",
                "bidding.cpc_bid_ceiling",
                "bidding.enhanced_cpc",
                "start_date",
                "end_date",
                "network.google_search",
                "network.search_network",
                "network.content_network",
                "network.partner_search_network",
                "eu_political_advertising",
                "labels",
                "conversion_goals",
                "shopping.merchant_id",
                "shopping.feed_label",
                "shopping.campaign_priority",
            ],
            Kind::AssetGroup => &["status", "final_urls", "listing_groups"],
            Kind::AdGroup => &["status", "type", "default_cpc"],
            Kind::Ad => &["status", "headlines", "descriptions", "final_url", "path1", "path2"],
            Kind::Keyword => &["status", "cpc_bid"],
            Kind::NegativeKeyword => &["text", "match_type"],
            Kind::Audience => &["description", "membership_life_span_days", "members"],
            Kind::Conversion => CONVERSION_FIELDS,
            Kind::Experiment => super::experiment::EXPERIMENT_FIELDS,
            _ => &[],
        }
    }

    fn status_word(&self, status: Status) -> &'static str {
        match status {
            Status::Enabled | Status::Active => "enabled",
            Status::Paused => "paused",
        }
    }

    fn hash_email(&self, email: &str) -> String {
        crate::spec::audience::sha256_hex(&normalize_email(email))
    }

    fn counterpart(&self, field: &str) -> Option<&'static str> {
        Some(match field {
            "start_time" => "Google Ads campaigns start on a day: `start_date: 2026-03-01`",
            "stop_time" => "Google Ads campaigns end on a day: `end_date: 2026-06-30`",
            "objective" => "Google Ads campaigns set `channel` (search, display, …) instead",
            "bid_strategy" => "Google Ads campaigns set `bidding: { … }` instead",
            "ad_sets" => "Google Ads campaigns hold `ad_groups`",
            "budget.lifetime" => "Google Ads campaign budgets are `daily` or `shared`",
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
        Some(&super::auth::GoogleAuth)
    }

    fn emulated_auth_env(&self, name: &str) -> Option<Option<&'static str>> {
        super::emulated::auth_env(name)
    }

    fn capabilities(&self) -> Capabilities {
        super::capabilities(super::config::MAX_OPS_PER_APPLY)
    }

    fn connector(&self, account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
        super::connector(account)
    }
}

/// The managed fields of a conversion action (`docs/resource-model.md`).
pub const CONVERSION_FIELDS: &[&str] = &[
    "type",
    "category",
    "counting",
    "value.default",
    "value.always_use_default",
    "attribution_model",
    "click_through_days",
    "view_through_days",
    "primary_for_goal",
];

/// Google Customer Match: trim whitespace, lower-case, and for `gmail.com` / `googlemail.com` addresses remove
/// the dots of the local part (Google documents this rule for those domains only).
pub fn normalize_email(email: &str) -> String {
    let e = email.trim().to_lowercase();
    match e.rsplit_once('@') {
        Some((local, domain)) if domain == "gmail.com" || domain == "googlemail.com" => {
            format!("{}@{domain}", local.replace('.', ""))
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn gmail_dots_are_removed_and_others_kept() {
        assert_eq!(normalize_email(" John.Doe@GMail.com "), "johndoe@gmail.com");
        assert_eq!(normalize_email("john.doe@example.com"), "john.doe@example.com");
    }
}
