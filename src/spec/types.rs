//! The YAML language: what users write. Doc comments here become the descriptions in `schemas/`.
//!
//! Two file kinds: `adsctl.yaml` ([`ProjectFile`]) and any other `*.yaml`/`*.yml` below the directory
//! ([`ResourceFile`]). Campaigns name their account; which fields apply depends on the account's platform.

use std::collections::BTreeMap;
use std::fmt;

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, StringValidation, SubschemaValidation};
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::de::{Item, Opt, Spanned};
use crate::model::{Platform, RemovalPolicy};

type S<T> = Spanned<T>;

// ---------------------------------------------------------------------------------------------------------
// adsctl.yaml

/// `adsctl.yaml`: the accounts this repository manages.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "adsctl project file (adsctl.yaml)")]
pub struct ProjectFile {
    /// Accounts by local name. The local name is the first segment of every resource address and what
    /// `account:` in resource files refers to.
    pub accounts: NamedMap<AccountSpec>,
}

/// One advertising account.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// The ad platform: `google_ads` or `meta` (more platforms are planned).
    pub platform: S<PlatformSpec>,
    /// Google Ads customer id, `123-456-7890` or `1234567890`.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub customer_id: Opt<String>,
    /// Google Ads manager (MCC) customer id to act through, if any.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub login_customer_id: Opt<String>,
    /// Meta ad account id, `act_<digits>`.
    #[serde(default)]
    pub ad_account_id: Opt<String>,
    /// ISO 4217 currency code of the account (`USD`, `EUR`, `JPY`, …). Every amount in this account is in it.
    pub currency: S<String>,
    /// IANA time zone of the account (`Europe/Paris`), informational.
    #[serde(default)]
    pub time_zone: Opt<String>,
    /// What happens to resources adsctl manages in this account when they disappear from the YAML:
    /// `pause` (default), `remove` or `orphan` (stop managing).
    #[serde(default)]
    pub on_removed: Opt<OnRemoved>,
    /// Limits every plan for this account must respect.
    #[serde(default)]
    pub guardrails: Opt<GuardrailsSpec>,
    /// Override of the platform API base URL for this account (e.g. the local emulator).
    #[serde(default)]
    pub endpoint: Opt<String>,
}

/// Guardrails: plans that break them are refused unless explicitly allowed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailsSpec {
    /// The largest allowed sum of daily budgets in the account after an apply, in the account currency.
    #[serde(default)]
    pub max_daily_budget: Opt<Amount>,
    /// The largest increase of any one budget in one apply, in percent.
    #[serde(default)]
    pub max_increase_pct: Opt<u32>,
    /// The largest number of changes in one apply.
    #[serde(default)]
    pub max_changes: Opt<u32>,
}

// ---------------------------------------------------------------------------------------------------------
// resource files

/// A resource file: any `*.yaml` / `*.yml` below the config directory other than `adsctl.yaml`.
/// A file may hold several YAML documents separated by `---`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "adsctl resource file")]
pub struct ResourceFile {
    /// Google Ads shared budgets (campaigns refer to them with `budget: { shared: <name> }`).
    #[serde(default)]
    pub budgets: Vec<Item<SharedBudget>>,
    /// Campaigns, each in one account (Google Ads or Meta), with their ad groups / ad sets nested inside.
    #[serde(default)]
    pub campaigns: Vec<Item<Campaign>>,
    /// Customer-file audiences, declared once and created in each listed account.
    #[serde(default)]
    pub audiences: Vec<Item<Audience>>,
    /// Meta lookalike audiences.
    #[serde(default)]
    pub lookalike_audiences: Vec<Item<LookalikeAudience>>,
}

/// `lifecycle:` options every resource accepts.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSpec {
    /// Refuse any plan that would remove or replace this resource.
    #[serde(default)]
    pub prevent_destroy: Opt<bool>,
    /// Fields (as named in `docs/resource-model.md`, e.g. `status`, `budget.daily`) whose live value is never
    /// changed back to the YAML value.
    #[serde(default)]
    pub ignore_changes: Vec<S<String>>,
    /// Take over an object of this name that exists on the platform but was not made by adsctl (made in the
    /// platform's UI or by another tool). Without it, such an object is never touched and the plan is blocked.
    /// Once adopted, the object carries adsctl's ownership marker and this can be removed (kinds without a
    /// marker, Google shared budgets and negative keywords, keep needing it).
    #[serde(default)]
    pub adopt: Opt<bool>,
}

/// A Google Ads shared campaign budget.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedBudget {
    /// Unique name within the account.
    pub name: S<String>,
    /// The Google Ads account (local name from adsctl.yaml).
    pub account: S<String>,
    /// Adopt an existing budget by its id instead of creating one.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// Daily amount in the account currency (`50`, `12.34`, `"12.34"`).
    pub amount: S<Amount>,
    /// `standard` (default) or `accelerated`.
    #[serde(default)]
    pub delivery_method: Opt<DeliveryMethod>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

/// A campaign. Google Ads campaigns use `channel`, `bidding`, `ad_groups`…; Meta campaigns use `objective`,
/// `special_ad_categories`, `ad_sets`…
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Unique name within the account (the identity on the platform).
    pub name: S<String>,
    /// The account (local name from adsctl.yaml).
    pub account: S<String>,
    /// Adopt an existing campaign by its platform id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `enabled` / `active` or `paused` (mapped to the platform's name).
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The campaign budget. Google Ads: `daily` or `shared`; Meta: `daily` or `lifetime` (campaign budget
    /// optimisation; leave it out to budget on the ad sets).
    #[serde(default)]
    pub budget: Opt<CampaignBudget>,

    /// Google Ads: the advertising channel (`search`, `display`, …). Cannot change after creation.
    #[serde(default)]
    pub channel: Opt<Channel>,
    /// Google Ads: exactly one bidding strategy.
    #[serde(default)]
    pub bidding: Opt<Bidding>,
    /// Google Ads: first day (`YYYY-MM-DD`).
    #[serde(default)]
    pub start_date: Opt<String>,
    /// Google Ads: last day (`YYYY-MM-DD`).
    #[serde(default)]
    pub end_date: Opt<String>,
    /// Google Ads: where ads may show.
    #[serde(default)]
    pub network: Opt<NetworkSettings>,
    /// Google Ads: whether the campaign contains EU political advertising (required by Google for new campaigns;
    /// defaults to `false` when created).
    #[serde(default)]
    pub eu_political_advertising: Opt<bool>,
    /// Google Ads: label names.
    #[serde(default)]
    pub labels: Opt<Vec<S<String>>>,
    /// Google Ads: ad groups.
    #[serde(default)]
    pub ad_groups: Vec<Item<AdGroup>>,
    /// Google Ads: campaign-level negative keywords.
    #[serde(default)]
    pub negative_keywords: Vec<Item<NegativeKeyword>>,

    /// Meta: the campaign objective (`traffic`, `sales`, `leads`, `awareness`, `engagement`, `app_promotion`;
    /// `OUTCOME_TRAFFIC` style accepted). Cannot change after creation.
    #[serde(default)]
    pub objective: Opt<Objective>,
    /// Meta: special ad categories (`housing`, `employment`, `credit`, `issues_elections_politics`,
    /// `online_gambling_and_gaming`, `financial_products_services`); `[]` when none. Required for Meta.
    #[serde(default)]
    pub special_ad_categories: Opt<Vec<S<SpecialAdCategory>>>,
    /// Meta: bid strategy for campaign budget optimisation.
    #[serde(default)]
    pub bid_strategy: Opt<MetaBidStrategy>,
    /// Meta: start time (RFC 3339, `2026-03-01T00:00:00Z`).
    #[serde(default)]
    pub start_time: Opt<String>,
    /// Meta: stop time (RFC 3339).
    #[serde(default)]
    pub stop_time: Opt<String>,
    /// Meta: ad sets.
    #[serde(default)]
    pub ad_sets: Vec<Item<AdSet>>,
}

/// A campaign's budget. Amounts are in the account currency.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignBudget {
    /// Daily amount.
    #[serde(default)]
    pub daily: Opt<Amount>,
    /// Meta: lifetime amount (needs `stop_time`).
    #[serde(default)]
    pub lifetime: Opt<Amount>,
    /// Google Ads: the name of a shared budget (declared under `budgets:`) in the same account.
    #[serde(default)]
    pub shared: Opt<String>,
    /// Google Ads: `standard` or `accelerated` (own budget only).
    #[serde(default)]
    pub delivery_method: Opt<DeliveryMethod>,
}

/// Google Ads bidding: exactly one of the strategies.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bidding {
    /// Manual CPC (`manual_cpc: {}`).
    #[serde(default)]
    pub manual_cpc: Opt<ManualCpc>,
    /// Maximize conversions, optionally with a target CPA.
    #[serde(default)]
    pub maximize_conversions: Opt<MaximizeConversions>,
    /// Maximize conversion value, optionally with a target ROAS.
    #[serde(default)]
    pub maximize_conversion_value: Opt<MaximizeConversionValue>,
    /// Target CPA.
    #[serde(default)]
    pub target_cpa: Opt<TargetCpa>,
    /// Target ROAS.
    #[serde(default)]
    pub target_roas: Opt<TargetRoas>,
    /// Target spend (maximize clicks), optionally with a CPC ceiling.
    #[serde(default)]
    pub target_spend: Opt<TargetSpend>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualCpc {
    /// Enhanced CPC.
    #[serde(default)]
    pub enhanced_cpc: Opt<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaximizeConversions {
    /// Target cost per acquisition, in the account currency.
    #[serde(default)]
    pub target_cpa: Opt<Amount>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaximizeConversionValue {
    /// Target return on ad spend as a ratio (`3.5` = 350 %).
    #[serde(default)]
    pub target_roas: Opt<DecimalText>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetCpa {
    /// Target cost per acquisition, in the account currency.
    pub target_cpa: S<Amount>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetRoas {
    /// Target return on ad spend as a ratio (`3.5` = 350 %).
    pub target_roas: S<DecimalText>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpend {
    /// Maximum CPC bid, in the account currency.
    #[serde(default)]
    pub cpc_bid_ceiling: Opt<Amount>,
}

/// Google Ads network settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// Google Search.
    #[serde(default)]
    pub google_search: Opt<bool>,
    /// Search partners.
    #[serde(default)]
    pub search_network: Opt<bool>,
    /// Display Network.
    #[serde(default)]
    pub content_network: Opt<bool>,
    /// Partner search network.
    #[serde(default)]
    pub partner_search_network: Opt<bool>,
}

/// A Google Ads ad group.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdGroup {
    /// Unique name within the campaign.
    pub name: S<String>,
    /// Adopt an existing ad group by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `enabled` or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// Ad group type (`search_standard`, `display_standard`, …).
    #[serde(rename = "type")]
    #[serde(default)]
    pub ad_group_type: Opt<AdGroupType>,
    /// Default max CPC bid, in the account currency.
    #[serde(default)]
    pub default_cpc: Opt<Amount>,
    /// Keywords; identity is text + match type.
    #[serde(default)]
    pub keywords: Vec<Item<Keyword>>,
    /// Ad-group-level negative keywords.
    #[serde(default)]
    pub negative_keywords: Vec<Item<NegativeKeyword>>,
    /// Ads, addressed by their 1-based position in this list.
    #[serde(default)]
    pub ads: Vec<Item<GoogleAd>>,
}

/// A Google Ads keyword.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keyword {
    /// The keyword text (at most 80 characters and 10 words).
    pub text: S<String>,
    /// Match type: `exact`, `phrase` or `broad`.
    #[serde(rename = "match", alias = "match_type")]
    pub match_type: S<MatchType>,
    /// Adopt an existing keyword by its criterion id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `enabled` or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    /// Max CPC bid for this keyword, in the account currency.
    #[serde(default)]
    pub cpc_bid: Opt<Amount>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

/// A Google Ads negative keyword.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NegativeKeyword {
    /// The keyword text (at most 80 characters and 10 words).
    pub text: S<String>,
    /// Match type: `exact`, `phrase` or `broad`.
    #[serde(rename = "match", alias = "match_type")]
    pub match_type: S<MatchType>,
    /// Adopt an existing criterion by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

/// A Google Ads ad (responsive search ads are supported).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoogleAd {
    /// The responsive search ad.
    pub responsive_search: S<ResponsiveSearchAd>,
    /// Adopt an existing ad by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `enabled` or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

/// A responsive search ad.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponsiveSearchAd {
    /// 3 to 15 headlines of at most 30 characters; a headline is a string or `{ text, pin: 1|2|3 }`.
    pub headlines: S<Vec<S<AdText>>>,
    /// 2 to 4 descriptions of at most 90 characters; a description is a string or `{ text, pin: 1|2 }`.
    pub descriptions: S<Vec<S<AdText>>>,
    /// The landing page (`https://…`).
    pub final_url: S<String>,
    /// Display URL path 1 (at most 15 characters).
    #[serde(default)]
    pub path1: Opt<String>,
    /// Display URL path 2 (at most 15 characters; needs `path1`).
    #[serde(default)]
    pub path2: Opt<String>,
}

/// A headline or description: a plain string, or a mapping with a pinned position.
#[derive(Debug, Clone, PartialEq)]
pub struct AdText {
    pub text: String,
    pub pin: Option<u8>,
}

impl<'de> Deserialize<'de> for AdText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AdText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or { text, pin }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AdText, E> {
                Ok(AdText {
                    text: v.to_string(),
                    pin: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AdText, A::Error> {
                let mut text = None;
                let mut pin = None;
                while let Some(k) = map.next_key::<String>()? {
                    match k.as_str() {
                        "text" => text = Some(map.next_value::<String>()?),
                        "pin" => pin = Some(map.next_value::<u8>()?),
                        other => return Err(de::Error::unknown_field(other, &["text", "pin"])),
                    }
                }
                let text = text.ok_or_else(|| de::Error::missing_field("text"))?;
                Ok(AdText { text, pin })
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for AdText {
    fn schema_name() -> String {
        "AdText".into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        #[serde(deny_unknown_fields)]
        struct PinnedText {
            /// The text.
            text: String,
            /// The position it is pinned to (headlines 1–3, descriptions 1–2).
            pin: Option<u8>,
        }
        let mut s = SchemaObject::default();
        s.metadata().description = Some("A string, or `{ text, pin }` to pin it to a position.".into());
        s.subschemas = Some(Box::new(SubschemaValidation {
            any_of: Some(vec![gen.subschema_for::<String>(), gen.subschema_for::<PinnedText>()]),
            ..Default::default()
        }));
        s.into()
    }
}

/// A Meta ad set.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdSet {
    /// Unique name within the campaign.
    pub name: S<String>,
    /// Adopt an existing ad set by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `active` or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// What delivery optimises for (`link_clicks`, `landing_page_views`, `impressions`, `reach`, …).
    #[serde(default)]
    pub optimization_goal: Opt<OptimizationGoal>,
    /// What you pay for (`impressions`, `link_clicks`, …).
    #[serde(default)]
    pub billing_event: Opt<BillingEvent>,
    /// Bid amount in the account currency (for bid-cap / cost-cap strategies).
    #[serde(default)]
    pub bid_amount: Opt<Amount>,
    /// Bid strategy (when the campaign has no campaign budget).
    #[serde(default)]
    pub bid_strategy: Opt<MetaBidStrategy>,
    /// Ad set budget (only when the campaign has none): `daily` or `lifetime`.
    #[serde(default)]
    pub budget: Opt<CampaignBudget>,
    /// Start time (RFC 3339).
    #[serde(default)]
    pub start_time: Opt<String>,
    /// End time (RFC 3339).
    #[serde(default)]
    pub end_time: Opt<String>,
    /// Who sees the ads.
    #[serde(default)]
    pub targeting: Opt<Targeting>,
    /// Ads in this ad set.
    #[serde(default)]
    pub ads: Vec<Item<MetaAd>>,
}

/// Meta targeting.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Targeting {
    /// ISO 3166-1 alpha-2 country codes (`US`, `DE`).
    #[serde(default)]
    pub countries: Opt<Vec<S<String>>>,
    /// Region keys.
    #[serde(default)]
    #[schemars(with = "Vec<IdText>")]
    pub regions: Opt<Vec<S<String>>>,
    /// City keys.
    #[serde(default)]
    #[schemars(with = "Vec<IdText>")]
    pub cities: Opt<Vec<S<String>>>,
    /// Age range, 13–65.
    #[serde(default)]
    pub age: Opt<AgeRange>,
    /// `male`, `female` (leave out for all).
    #[serde(default)]
    pub genders: Opt<Vec<S<Gender>>>,
    /// `facebook`, `instagram`, `audience_network`, `messenger`.
    #[serde(default)]
    pub publisher_platforms: Opt<Vec<S<PublisherPlatform>>>,
    /// Facebook positions (`feed`, `marketplace`, `video_feeds`, `story`, `search`, …).
    #[serde(default)]
    pub facebook_positions: Opt<Vec<S<String>>>,
    /// Instagram positions (`stream`, `story`, `explore`, `reels`, …).
    #[serde(default)]
    pub instagram_positions: Opt<Vec<S<String>>>,
    /// Names of audiences (declared under `audiences:` or `lookalike_audiences:`) to target.
    #[serde(default)]
    pub custom_audiences: Opt<Vec<S<String>>>,
    /// Names of audiences to exclude.
    #[serde(default)]
    pub excluded_custom_audiences: Opt<Vec<S<String>>>,
}

/// An age range.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgeRange {
    /// Youngest age, 13–65.
    #[serde(default)]
    pub min: Opt<u32>,
    /// Oldest age, 13–65 (65 means 65+).
    #[serde(default)]
    pub max: Opt<u32>,
}

/// A Meta ad with a link creative.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetaAd {
    /// Unique name within the ad set.
    pub name: S<String>,
    /// Adopt an existing ad by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `active` or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The link creative. A change creates a new creative and swaps it in.
    pub creative: S<Creative>,
}

/// A Meta link-ad creative.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Creative {
    /// The Facebook Page id the ad runs as (digits).
    #[schemars(with = "IdText")]
    pub page_id: S<String>,
    /// The destination URL.
    pub link: S<String>,
    /// The primary text.
    #[serde(default)]
    pub message: Opt<String>,
    /// The headline.
    #[serde(default)]
    pub headline: Opt<String>,
    /// The description.
    #[serde(default)]
    pub description: Opt<String>,
    /// The hash of an uploaded image.
    #[serde(default)]
    pub image_hash: Opt<String>,
    /// The URL of an image.
    #[serde(default)]
    pub image_url: Opt<String>,
    /// Call to action (`learn_more`, `shop_now`, `sign_up`, …).
    #[serde(default)]
    pub call_to_action: Opt<CallToAction>,
}

/// A customer-file audience (Google Customer Match list, Meta custom audience) created in each listed account.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Unique name within each account.
    pub name: S<String>,
    /// The accounts (local names) to create it in.
    pub accounts: S<Vec<S<String>>>,
    /// Description.
    #[serde(default)]
    pub description: Opt<String>,
    /// The members: a local CSV file with an email column. Emails are normalised and SHA-256 hashed locally;
    /// the clear text is never stored or sent.
    pub customer_file: S<CustomerFile>,
    /// Google Ads: how long members stay in the list, in days (1–540).
    #[serde(default)]
    pub membership_life_span_days: Opt<u32>,
    /// Meta: where the data comes from (`user_provided_only`, `partner_provided_only`,
    /// `both_user_and_partner_provided`).
    #[serde(default)]
    pub customer_file_source: Opt<CustomerFileSource>,
    /// Adopt existing audiences: platform id per account (local name → id).
    #[serde(default)]
    pub ids: Opt<BTreeMap<String, S<String>>>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

/// Where the members of a customer-file audience come from.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerFile {
    /// Path of a CSV file with a header row, relative to the config directory.
    pub path: S<String>,
    /// The name of the column holding email addresses.
    pub column: S<String>,
}

/// A Meta lookalike audience.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LookalikeAudience {
    /// Unique name within the account.
    pub name: S<String>,
    /// The Meta account.
    pub account: S<String>,
    /// The seed audience (name of an audience created in the same account).
    pub origin: S<String>,
    /// ISO country code the lookalike is built in.
    pub country: S<String>,
    /// Share of the country's population, 0.01–0.20 in steps of 0.01.
    pub ratio: S<DecimalText>,
    /// Adopt an existing lookalike audience by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

// ---------------------------------------------------------------------------------------------------------
// scalars

/// An amount of money as written (`50`, `12.34`, `"12.34"`): kept as text, parsed exactly with the account
/// currency, never through floating point.
#[derive(Debug, Clone, PartialEq)]
pub struct Amount(pub String);

/// An exact decimal as written (`3.5`, `"0.05"`).
#[derive(Debug, Clone, PartialEq)]
pub struct DecimalText(pub String);

macro_rules! text_scalar {
    ($t:ident, $desc:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a number")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$t, E> {
                        Ok($t(v.trim().to_string()))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$t, E> {
                        Ok($t(v.to_string()))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$t, E> {
                        Ok($t(v.to_string()))
                    }
                }
                d.deserialize_str(V)
            }
        }
        impl JsonSchema for $t {
            fn schema_name() -> String {
                stringify!($t).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let mut num = SchemaObject::default();
                num.instance_type = Some(InstanceType::Number.into());
                let mut text = SchemaObject::default();
                text.instance_type = Some(InstanceType::String.into());
                text.string = Some(Box::new(StringValidation {
                    pattern: Some(r"^-?[0-9]+(\.[0-9]+)?$".into()),
                    ..Default::default()
                }));
                let mut s = SchemaObject::default();
                s.metadata().description = Some($desc.into());
                s.subschemas = Some(Box::new(SubschemaValidation {
                    any_of: Some(vec![num.into(), text.into()]),
                    ..Default::default()
                }));
                s.into()
            }
        }
    };
}

text_scalar!(
    Amount,
    "An amount in the account currency (`50`, `12.34`, `\"12.34\"`), exact: no more decimals than the currency has."
);
text_scalar!(DecimalText, "An exact decimal number (`3.5`, `\"0.05\"`).");

/// A platform id: digits, quoted or not (`"1234567890"`, `1234567890`, `123-456-7890`).
pub struct IdText;

impl JsonSchema for IdText {
    fn schema_name() -> String {
        "IdText".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let num = SchemaObject {
            instance_type: Some(InstanceType::Integer.into()),
            ..Default::default()
        };
        let text = SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            ..Default::default()
        };
        let s = SchemaObject {
            subschemas: Some(Box::new(SubschemaValidation {
                any_of: Some(vec![num.into(), text.into()]),
                ..Default::default()
            })),
            ..Default::default()
        };
        s.into()
    }
}

/// Local names to entries, in the order written (keys keep their positions).
#[derive(Debug)]
pub struct NamedMap<T> {
    pub entries: Vec<(S<String>, Item<T>)>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NamedMap<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = NamedMap<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of names to entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NamedMap<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = map.next_key::<S<String>>()? {
                    let v = map.next_value::<Item<T>>()?;
                    entries.push((k, v));
                }
                Ok(NamedMap { entries })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for NamedMap<T> {
    fn schema_name() -> String {
        format!("Map_of_{}", T::schema_name())
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        gen.subschema_for::<BTreeMap<String, T>>()
    }
}

// ---------------------------------------------------------------------------------------------------------
// enums: YAML takes lower snake case (upper case works too); lowering maps to the platform's enum name.

macro_rules! spec_enum {
    ($(#[doc = $doc:literal])* $name:ident { $($v:ident => $wire:literal $(| $alias:literal)*),* $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
        pub enum $name { $(#[serde(rename = $wire $(, alias = $alias)*)] $v),* }
        impl $name {
            /// The platform's enum name, lower snake case (the `Value::Str` of the resource model).
            pub fn wire(self) -> &'static str {
                match self { $($name::$v => $wire),* }
            }
        }
        impl JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                // Lower snake case first (what completion offers), then aliases, then the platform's upper case.
                let lower: &[&str] = &[$($wire),*];
                let aliases: &[&str] = &[$($($alias,)*)*];
                let values: Vec<serde_json::Value> = lower
                    .iter()
                    .chain(aliases)
                    .map(|v| serde_json::Value::from(*v))
                    .chain(lower.iter().map(|v| serde_json::Value::from(v.to_uppercase())))
                    .collect();
                let mut s = SchemaObject::default();
                s.instance_type = Some(InstanceType::String.into());
                s.enum_values = Some(values);
                let doc: Vec<&str> = vec![$($doc.trim()),*];
                s.metadata().description = Some(doc.join(" "));
                s.into()
            }
        }
    };
}

spec_enum!(
    /// Status; `enabled` and `active` are synonyms (mapped to each platform's name).
    Status {
        Enabled => "enabled",
        Active => "active",
        Paused => "paused",
    }
);

spec_enum!(
    /// Google Ads budget delivery method.
    DeliveryMethod { Standard => "standard", Accelerated => "accelerated" }
);

spec_enum!(
    /// Google Ads advertising channel type.
    Channel {
        Search => "search",
        Display => "display",
        Shopping => "shopping",
        Hotel => "hotel",
        Video => "video",
        MultiChannel => "multi_channel",
        Local => "local",
        Smart => "smart",
        PerformanceMax => "performance_max",
        LocalServices => "local_services",
        Travel => "travel",
        DemandGen => "demand_gen",
    }
);

spec_enum!(
    /// Google Ads ad group type.
    AdGroupType {
        SearchStandard => "search_standard",
        DisplayStandard => "display_standard",
        ShoppingProductAds => "shopping_product_ads",
        VideoTrueViewInStream => "video_true_view_in_stream",
        SearchDynamicAds => "search_dynamic_ads",
    }
);

spec_enum!(
    /// Google Ads keyword match type.
    MatchType { Exact => "exact", Phrase => "phrase", Broad => "broad" }
);

spec_enum!(
    /// Meta campaign objective (the OUTCOME_* set).
    Objective {
        OutcomeTraffic => "outcome_traffic" | "traffic",
        OutcomeSales => "outcome_sales" | "sales",
        OutcomeLeads => "outcome_leads" | "leads",
        OutcomeAwareness => "outcome_awareness" | "awareness",
        OutcomeEngagement => "outcome_engagement" | "engagement",
        OutcomeAppPromotion => "outcome_app_promotion" | "app_promotion",
    }
);

spec_enum!(
    /// Meta special ad category.
    SpecialAdCategory {
        None => "none",
        Housing => "housing",
        Employment => "employment",
        Credit => "credit",
        IssuesElectionsPolitics => "issues_elections_politics",
        OnlineGamblingAndGaming => "online_gambling_and_gaming",
        FinancialProductsServices => "financial_products_services",
    }
);

spec_enum!(
    /// Meta bid strategy.
    MetaBidStrategy {
        LowestCostWithoutCap => "lowest_cost_without_cap",
        LowestCostWithBidCap => "lowest_cost_with_bid_cap",
        CostCap => "cost_cap",
        LowestCostWithMinRoas => "lowest_cost_with_min_roas",
    }
);

spec_enum!(
    /// Meta ad set optimization goal.
    OptimizationGoal {
        LinkClicks => "link_clicks",
        LandingPageViews => "landing_page_views",
        Impressions => "impressions",
        Reach => "reach",
        OffsiteConversions => "offsite_conversions",
        PostEngagement => "post_engagement",
        LeadGeneration => "lead_generation",
        Conversations => "conversations",
        AppInstalls => "app_installs",
        Thruplay => "thruplay",
        Value => "value",
    }
);

spec_enum!(
    /// Meta billing event.
    BillingEvent {
        Impressions => "impressions",
        LinkClicks => "link_clicks",
        Thruplay => "thruplay",
        AppInstalls => "app_installs",
        PostEngagement => "post_engagement",
    }
);

spec_enum!(
    /// Gender.
    Gender { Male => "male", Female => "female" }
);

spec_enum!(
    /// Meta publisher platform.
    PublisherPlatform {
        Facebook => "facebook",
        Instagram => "instagram",
        AudienceNetwork => "audience_network",
        Messenger => "messenger",
    }
);

spec_enum!(
    /// Meta call to action type.
    CallToAction {
        LearnMore => "learn_more",
        ShopNow => "shop_now",
        SignUp => "sign_up",
        Subscribe => "subscribe",
        ContactUs => "contact_us",
        Download => "download",
        GetOffer => "get_offer",
        GetQuote => "get_quote",
        BookTravel => "book_travel",
        ApplyNow => "apply_now",
        OrderNow => "order_now",
        WatchMore => "watch_more",
        NoButton => "no_button",
    }
);

spec_enum!(
    /// Meta customer file source.
    CustomerFileSource {
        UserProvidedOnly => "user_provided_only",
        PartnerProvidedOnly => "partner_provided_only",
        BothUserAndPartnerProvided => "both_user_and_partner_provided",
    }
);

/// The ad platform of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlatformSpec {
    /// Google Ads (REST API).
    GoogleAds,
    /// Meta Marketing API (Facebook, Instagram).
    Meta,
    /// LinkedIn Ads (planned).
    Linkedin,
    /// TikTok Ads (planned).
    Tiktok,
    /// Microsoft Advertising (planned).
    MicrosoftAds,
    /// X Ads (planned).
    X,
    /// Mailchimp audiences (planned).
    Mailchimp,
    /// HubSpot lists (planned).
    Hubspot,
    /// Salesforce audiences (planned).
    Salesforce,
}

impl From<PlatformSpec> for Platform {
    fn from(p: PlatformSpec) -> Platform {
        match p {
            PlatformSpec::GoogleAds => Platform::GoogleAds,
            PlatformSpec::Meta => Platform::Meta,
            PlatformSpec::Linkedin => Platform::Linkedin,
            PlatformSpec::Tiktok => Platform::Tiktok,
            PlatformSpec::MicrosoftAds => Platform::MicrosoftAds,
            PlatformSpec::X => Platform::X,
            PlatformSpec::Mailchimp => Platform::Mailchimp,
            PlatformSpec::Hubspot => Platform::Hubspot,
            PlatformSpec::Salesforce => Platform::Salesforce,
        }
    }
}

/// What happens to managed resources that disappear from the YAML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnRemoved {
    /// Pause them (the default: reversible).
    Pause,
    /// Remove (Google) / delete (Meta) them.
    Remove,
    /// Stop managing them and leave them as they are.
    Orphan,
}

impl From<OnRemoved> for RemovalPolicy {
    fn from(p: OnRemoved) -> RemovalPolicy {
        match p {
            OnRemoved::Pause => RemovalPolicy::Pause,
            OnRemoved::Remove => RemovalPolicy::Remove,
            OnRemoved::Orphan => RemovalPolicy::Orphan,
        }
    }
}
