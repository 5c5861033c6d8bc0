//! Meta as the rest of adsctl sees it: the [`Home`] of the platform registry.

use std::sync::Arc;

use crate::connectors::{Capabilities, Connector, ConnectorError};
use crate::model::{Account, Kind, Platform, Resource};
use crate::platforms::{AccountIds, Home};
use crate::spec::error::Code;
use crate::spec::lower::Lower;
use crate::spec::types::{AccountSpec, Status};
use crate::spec::Spanned;

/// The managed fields of a custom conversion (`docs/resource-model.md`); the first three are fixed at creation.
pub const CUSTOM_CONVERSION_FIELDS: &[&str] = &[
    "pixel_id",
    "rule",
    "event_type",
    "default_conversion_value",
    "description",
];

/// Meta Marketing API (Facebook, Instagram).
pub struct MetaHome;

impl Home for MetaHome {
    fn platform(&self) -> Platform {
        Platform::Meta
    }
    fn display_name(&self) -> &'static str {
        "Meta"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[
            Kind::Audience,
            Kind::LookalikeAudience,
            Kind::Campaign,
            Kind::AdSet,
            Kind::Ad,
            Kind::CustomConversion,
            Kind::SplitTest,
            Kind::ProductSet,
        ]
    }

    fn account_fields(&self) -> &'static [&'static str] {
        &["ad_account_id", "business_id"]
    }
    fn campaign_fields(&self) -> &'static [&'static str] {
        &[
            "objective",
            "special_ad_categories",
            "bid_strategy",
            "start_time",
            "stop_time",
            "ad_sets",
            "budget.lifetime",
            "catalog",
        ]
    }

    fn account_id_field(&self) -> &'static str {
        "ad_account_id"
    }
    fn describe_account_id(&self, digits: &str) -> (&'static str, String) {
        ("Meta ad account", format!("act_{digits}"))
    }

    fn account_ids(&self, lower: &mut Lower<'_>, name: &Spanned<String>, spec: &AccountSpec) -> Option<AccountIds> {
        let mut ok = true;
        let mut platform_id = String::new();
        match &*spec.ad_account_id {
            None if spec.ad_account_id.is_invalid() => ok = false,
            None => {
                lower.err(
                    name.span,
                    Code::MissingField,
                    format!("meta account `{}` needs `ad_account_id`", name.value),
                    "add `ad_account_id: act_<digits>` (from Business Manager)",
                );
                ok = false;
            }
            Some(a) => {
                let v = a.trim();
                let digits = v.strip_prefix("act_").unwrap_or("");
                if !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
                    platform_id = v.to_string();
                } else {
                    let hint = if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
                        format!("write it as `act_{v}`")
                    } else {
                        "an ad account id looks like `act_1234567890`".into()
                    };
                    lower.err(
                        a.span,
                        Code::InvalidValue,
                        format!("invalid ad account id `{}`", a.value),
                        hint,
                    );
                    ok = false;
                }
            }
        }
        // the business split tests are created on (`split_tests:` says so when it is missing)
        if let Some(b) = &*spec.business_id {
            let v = b.trim();
            if !v.is_empty() && v.len() <= 20 && v.bytes().all(|c| c.is_ascii_digit()) {
                lower.business_ids.insert(name.value.clone(), v.to_string());
            } else {
                lower.err(
                    b.span,
                    Code::InvalidValue,
                    format!("invalid business id `{}`", b.value),
                    "a Meta business id is digits, e.g. `\"1234567890\"` (Business settings → Business info)",
                );
                ok = false;
            }
        }
        ok.then_some(AccountIds {
            platform_id,
            login_customer_id: None,
        })
    }

    fn parse_campaign(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<crate::spec::types::MetaCampaign>(node)
            .map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn campaign_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        gen.subschema_for::<crate::spec::types::MetaCampaign>()
    }

    fn campaign_size(&self, campaign: &dyn std::any::Any) -> usize {
        use crate::spec::rules::values;
        let Some(c) = campaign.downcast_ref::<crate::spec::types::MetaCampaign>() else {
            return 1;
        };
        1 + values(&c.ad_sets).map(|s| 1 + values(&s.ads).count()).sum::<usize>()
    }

    fn campaign_problems(
        &self,
        campaign: &dyn std::any::Any,
        _location: &dyn Fn(crate::spec::yaml::Span) -> String,
    ) -> Vec<crate::spec::rules::Problem> {
        match campaign.downcast_ref::<crate::spec::types::MetaCampaign>() {
            Some(c) => super::rules::single_line(c),
            None => Vec::new(),
        }
    }

    fn lower_campaign(&self, lower: &mut Lower<'_>, account: &Account, campaign: Box<dyn std::any::Any + Send>) {
        let Ok(c) = campaign.downcast::<crate::spec::types::MetaCampaign>() else {
            return;
        };
        if let Some(r) = lower.campaign_resource(account, &c.name, &c.id, &c.lifecycle) {
            lower.meta_campaign(account, *c, r);
        }
    }

    fn parse_lookalike(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<crate::spec::types::MetaLookalikeAudience>(node)
            .map(|l| Box::new(l) as Box<dyn std::any::Any + Send>)
    }

    fn lookalike_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        Some(gen.subschema_for::<crate::spec::types::MetaLookalikeAudience>())
    }

    fn lower_lookalike(&self, lower: &mut Lower<'_>, account: &Account, lookalike: Box<dyn std::any::Any + Send>) {
        if let Ok(l) = lookalike.downcast::<crate::spec::types::MetaLookalikeAudience>() {
            lower.meta_lookalike(account, *l);
        }
    }

    fn parse_custom_conversion(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<crate::spec::types::MetaCustomConversion>(node)
            .map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn custom_conversion_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        Some(gen.subschema_for::<crate::spec::types::MetaCustomConversion>())
    }

    fn lower_custom_conversion(&self, lower: &mut Lower<'_>, account: &Account, c: Box<dyn std::any::Any + Send>) {
        if let Ok(c) = c.downcast::<crate::spec::types::MetaCustomConversion>() {
            lower.meta_custom_conversion(account, *c);
        }
    }

    fn parse_split_test(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<super::study::MetaSplitTest>(node)
            .map(|t| Box::new(t) as Box<dyn std::any::Any + Send>)
    }

    fn split_test_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        Some(gen.subschema_for::<super::study::MetaSplitTest>())
    }

    fn lower_split_test(&self, lower: &mut Lower<'_>, account: &Account, t: Box<dyn std::any::Any + Send>) {
        if let Ok(t) = t.downcast::<super::study::MetaSplitTest>() {
            lower.meta_split_test(account, *t);
        }
    }

    fn parse_product_catalog(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<crate::spec::types::MetaProductCatalog>(node)
            .map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn product_catalog_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        Some(gen.subschema_for::<crate::spec::types::MetaProductCatalog>())
    }

    fn lower_product_catalog(&self, lower: &mut Lower<'_>, account: &Account, c: Box<dyn std::any::Any + Send>) {
        if let Ok(c) = c.downcast::<crate::spec::types::MetaProductCatalog>() {
            lower.meta_product_catalog(account, *c);
        }
    }

    fn import_split_tests(&self, mine: &[crate::model::Resource], account: &Account) -> Vec<serde_yaml::Value> {
        super::study::import(mine, account)
    }

    fn import_product_catalogs(&self, mine: &[crate::model::Resource], account: &Account) -> Vec<serde_yaml::Mapping> {
        super::catalog::import_catalogs(mine, account)
    }

    fn audience_fields(&self) -> &'static [&'static str] {
        &["customer_file_source"]
    }

    fn lower_audience(&self, _lower: &mut Lower<'_>, a: &crate::spec::types::Audience, r: &mut Resource) {
        if let Some(src) = a.customer_file_source.as_ref() {
            r.fields
                .insert("customer_file_source", crate::model::Value::str(src.wire()));
        }
    }

    fn managed_fields(&self, kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::Campaign => &[
                "status",
                "objective",
                "special_ad_categories",
                "budget.daily",
                "budget.lifetime",
                "bid_strategy",
                "start_time",
                "stop_time",
                "catalog_id",
            ],
            Kind::AdSet => &[
                "status",
                "optimization_goal",
                "promoted_object",
                "billing_event",
                "bid_amount",
                "bid_strategy",
                "budget.daily",
                "budget.lifetime",
                "start_time",
                "end_time",
                "targeting.countries",
                "targeting.regions",
                "targeting.cities",
                "targeting.age_min",
                "targeting.age_max",
                "targeting.genders",
                "targeting.publisher_platforms",
                "targeting.facebook_positions",
                "targeting.instagram_positions",
                "targeting.custom_audiences",
                "targeting.excluded_custom_audiences",
            ],
            Kind::Ad => &[
                "status",
                "creative.page_id",
                "creative.link",
                "creative.message",
                "creative.headline",
                "creative.description",
                "creative.image_hash",
                "creative.image_url",
                "creative.call_to_action",
                "creative.dynamic",
                "creative.product_set",
            ],
            Kind::Audience => &["description", "customer_file_source", "members"],
            Kind::LookalikeAudience => &["origin", "country", "ratio"],
            Kind::CustomConversion => CUSTOM_CONVERSION_FIELDS,
            Kind::SplitTest => super::study::FIELDS,
            Kind::ProductSet => super::catalog::PRODUCT_SET_FIELDS,
            _ => &[],
        }
    }

    fn status_word(&self, status: Status) -> &'static str {
        match status {
            Status::Enabled | Status::Active => "active",
            Status::Paused => "paused",
        }
    }

    fn hash_email(&self, email: &str) -> String {
        use crate::spec::audience::{normalize_meta, sha256_hex};
        sha256_hex(&normalize_meta(email))
    }

    fn counterpart(&self, field: &str) -> Option<&'static str> {
        Some(match field {
            "start_date" => "Meta campaigns start at a time: `start_time: 2026-03-01T00:00:00Z`",
            "end_date" => "Meta campaigns stop at a time: `stop_time: 2026-06-30T23:59:59Z`",
            "channel" => "Meta campaigns set `objective` (traffic, sales, …) instead",
            "bidding" => "Meta campaigns set `bid_strategy` instead",
            "ad_groups" => "Meta campaigns hold `ad_sets`",
            "negative_keywords" => "Meta has no negative keywords; exclude audiences in the ad set's targeting",
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
        Some(&super::auth::MetaAuth)
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
