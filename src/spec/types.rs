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

use super::de::{Item, Spanned};
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
    pub customer_id: Option<S<String>>,
    /// Google Ads manager (MCC) customer id to act through, if any.
    pub login_customer_id: Option<S<String>>,
    /// Meta ad account id, `act_<digits>`.
    pub ad_account_id: Option<S<String>>,
    /// ISO 4217 currency code of the account (`USD`, `EUR`, `JPY`, …). Every amount in this account is in it.
    pub currency: S<String>,
    /// IANA time zone of the account (`Europe/Paris`), informational.
    pub time_zone: Option<S<String>>,
    /// What happens to resources adsctl manages in this account when they disappear from the YAML:
    /// `pause` (default), `remove` or `orphan` (stop managing).
    pub on_removed: Option<S<OnRemoved>>,
    /// Limits every plan for this account must respect.
    pub guardrails: Option<S<GuardrailsSpec>>,
    /// Override of the platform API base URL for this account (e.g. the local emulator).
    pub endpoint: Option<S<String>>,
}

/// Guardrails: plans that break them are refused unless explicitly allowed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailsSpec {
    /// The largest allowed sum of daily budgets in the account after an apply, in the account currency.
    pub max_daily_budget: Option<S<Amount>>,
    /// The largest increase of any one budget in one apply, in percent.
    pub max_increase_pct: Option<S<u32>>,
    /// The largest number of changes in one apply.
    pub max_changes: Option<S<u32>>,
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
    pub prevent_destroy: Option<S<bool>>,
    /// Fields (as named in `docs/resource-model.md`, e.g. `status`, `budget.daily`) whose live value is never
    /// changed back to the YAML value.
    #[serde(default)]
    pub ignore_changes: Vec<S<String>>,
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
    pub id: Option<S<String>>,
    /// Daily amount in the account currency (`50`, `12.34`, `"12.34"`).
    pub amount: S<Amount>,
    /// `standard` (default) or `accelerated`.
    pub delivery_method: Option<S<DeliveryMethod>>,
    pub lifecycle: Option<LifecycleSpec>,
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
    pub id: Option<S<String>>,
    /// `enabled` / `active` or `paused` (mapped to the platform's name).
    pub status: Option<S<Status>>,
    pub lifecycle: Option<LifecycleSpec>,
    /// The campaign budget. Google Ads: `daily` or `shared`; Meta: `daily` or `lifetime` (campaign budget
    /// optimisation; leave it out to budget on the ad sets).
    pub budget: Option<S<CampaignBudget>>,

    /// Google Ads: the advertising channel (`search`, `display`, …). Cannot change after creation.
    #[serde(alias = "advertising_channel_type")]
    pub channel: Option<S<Channel>>,
    /// Google Ads: exactly one bidding strategy.
    pub bidding: Option<S<Bidding>>,
    /// Google Ads: first day (`YYYY-MM-DD`).
    pub start_date: Option<S<String>>,
    /// Google Ads: last day (`YYYY-MM-DD`).
    pub end_date: Option<S<String>>,
    /// Google Ads: where ads may show.
    pub network: Option<S<NetworkSettings>>,
    /// Google Ads: whether the campaign contains EU political advertising (required by Google for new campaigns;
    /// defaults to `false` when created).
    pub eu_political_advertising: Option<S<bool>>,
    /// Google Ads: label names.
    pub labels: Option<S<Vec<S<String>>>>,
    /// Google Ads: ad groups.
    #[serde(default)]
    pub ad_groups: Vec<Item<AdGroup>>,
    /// Google Ads: campaign-level negative keywords.
    #[serde(default)]
    pub negative_keywords: Vec<Item<NegativeKeyword>>,

    /// Meta: the campaign objective (`traffic`, `sales`, `leads`, `awareness`, `engagement`, `app_promotion`;
    /// `OUTCOME_TRAFFIC` style accepted). Cannot change after creation.
    pub objective: Option<S<Objective>>,
    /// Meta: special ad categories (`housing`, `employment`, `credit`, `issues_elections_politics`,
    /// `online_gambling_and_gaming`, `financial_products_services`); `[]` when none. Required for Meta.
    pub special_ad_categories: Option<S<Vec<S<SpecialAdCategory>>>>,
    /// Meta: bid strategy for campaign budget optimisation.
    pub bid_strategy: Option<S<MetaBidStrategy>>,
    /// Meta: start time (RFC 3339, `2026-03-01T00:00:00Z`).
    pub start_time: Option<S<String>>,
    /// Meta: stop time (RFC 3339).
    pub stop_time: Option<S<String>>,
    /// Meta: ad sets.
    #[serde(default)]
    pub ad_sets: Vec<Item<AdSet>>,
}

/// A campaign's budget. Amounts are in the account currency.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignBudget {
    /// Daily amount.
    pub daily: Option<S<Amount>>,
    /// Meta: lifetime amount (needs `stop_time`).
    pub lifetime: Option<S<Amount>>,
    /// Google Ads: the name of a shared budget (declared under `budgets:`) in the same account.
    pub shared: Option<S<String>>,
    /// Google Ads: `standard` or `accelerated` (own budget only).
    pub delivery_method: Option<S<DeliveryMethod>>,
}

/// Google Ads bidding: exactly one of the strategies.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bidding {
    /// Manual CPC (`manual_cpc: {}`).
    pub manual_cpc: Option<S<ManualCpc>>,
    /// Maximize conversions, optionally with a target CPA.
    pub maximize_conversions: Option<S<MaximizeConversions>>,
    /// Maximize conversion value, optionally with a target ROAS.
    pub maximize_conversion_value: Option<S<MaximizeConversionValue>>,
    /// Target CPA.
    pub target_cpa: Option<S<TargetCpa>>,
    /// Target ROAS.
    pub target_roas: Option<S<TargetRoas>>,
    /// Target spend (maximize clicks), optionally with a CPC ceiling.
    pub target_spend: Option<S<TargetSpend>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualCpc {
    /// Enhanced CPC.
    pub enhanced_cpc: Option<S<bool>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaximizeConversions {
    /// Target cost per acquisition, in the account currency.
    pub target_cpa: Option<S<Amount>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaximizeConversionValue {
    /// Target return on ad spend as a ratio (`3.5` = 350 %).
    pub target_roas: Option<S<DecimalText>>,
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
    pub cpc_bid_ceiling: Option<S<Amount>>,
}

/// Google Ads network settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// Google Search.
    pub google_search: Option<S<bool>>,
    /// Search partners.
    pub search_network: Option<S<bool>>,
    /// Display Network.
    pub content_network: Option<S<bool>>,
    /// Partner search network.
    pub partner_search_network: Option<S<bool>>,
}

/// A Google Ads ad group.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdGroup {
    /// Unique name within the campaign.
    pub name: S<String>,
    /// Adopt an existing ad group by its id.
    pub id: Option<S<String>>,
    /// `enabled` or `paused`.
    pub status: Option<S<Status>>,
    pub lifecycle: Option<LifecycleSpec>,
    /// Ad group type (`search_standard`, `display_standard`, …).
    #[serde(rename = "type")]
    pub ad_group_type: Option<S<AdGroupType>>,
    /// Default max CPC bid, in the account currency.
    pub default_cpc: Option<S<Amount>>,
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
    pub id: Option<S<String>>,
    /// `enabled` or `paused`.
    pub status: Option<S<Status>>,
    /// Max CPC bid for this keyword, in the account currency.
    pub cpc_bid: Option<S<Amount>>,
    pub lifecycle: Option<LifecycleSpec>,
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
    pub id: Option<S<String>>,
    pub lifecycle: Option<LifecycleSpec>,
}

/// A Google Ads ad (responsive search ads are supported).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoogleAd {
    /// The responsive search ad.
    pub responsive_search: S<ResponsiveSearchAd>,
    /// Adopt an existing ad by its id.
    pub id: Option<S<String>>,
    /// `enabled` or `paused`.
    pub status: Option<S<Status>>,
    pub lifecycle: Option<LifecycleSpec>,
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
    pub path1: Option<S<String>>,
    /// Display URL path 2 (at most 15 characters; needs `path1`).
    pub path2: Option<S<String>>,
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
    pub id: Option<S<String>>,
    /// `active` or `paused`.
    pub status: Option<S<Status>>,
    pub lifecycle: Option<LifecycleSpec>,
    /// What delivery optimises for (`link_clicks`, `landing_page_views`, `impressions`, `reach`, …).
    pub optimization_goal: Option<S<OptimizationGoal>>,
    /// What you pay for (`impressions`, `link_clicks`, …).
    pub billing_event: Option<S<BillingEvent>>,
    /// Bid amount in the account currency (for bid-cap / cost-cap strategies).
    pub bid_amount: Option<S<Amount>>,
    /// Bid strategy (when the campaign has no campaign budget).
    pub bid_strategy: Option<S<MetaBidStrategy>>,
    /// Ad set budget (only when the campaign has none): `daily` or `lifetime`.
    pub budget: Option<S<CampaignBudget>>,
    /// Start time (RFC 3339).
    pub start_time: Option<S<String>>,
    /// End time (RFC 3339).
    pub end_time: Option<S<String>>,
    /// Who sees the ads.
    pub targeting: Option<S<Targeting>>,
    /// Ads in this ad set.
    #[serde(default)]
    pub ads: Vec<Item<MetaAd>>,
}

/// Meta targeting.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Targeting {
    /// ISO 3166-1 alpha-2 country codes (`US`, `DE`).
    pub countries: Option<S<Vec<S<String>>>>,
    /// Region keys.
    pub regions: Option<S<Vec<S<String>>>>,
    /// City keys.
    pub cities: Option<S<Vec<S<String>>>>,
    /// Age range, 13–65.
    pub age: Option<S<AgeRange>>,
    /// `male`, `female` (leave out for all).
    pub genders: Option<S<Vec<S<Gender>>>>,
    /// `facebook`, `instagram`, `audience_network`, `messenger`.
    pub publisher_platforms: Option<S<Vec<S<PublisherPlatform>>>>,
    /// Facebook positions (`feed`, `marketplace`, `video_feeds`, `story`, `search`, …).
    pub facebook_positions: Option<S<Vec<S<String>>>>,
    /// Instagram positions (`stream`, `story`, `explore`, `reels`, …).
    pub instagram_positions: Option<S<Vec<S<String>>>>,
    /// Names of audiences (declared under `audiences:` or `lookalike_audiences:`) to target.
    pub custom_audiences: Option<S<Vec<S<String>>>>,
    /// Names of audiences to exclude.
    pub excluded_custom_audiences: Option<S<Vec<S<String>>>>,
}

/// An age range.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgeRange {
    /// Youngest age, 13–65.
    pub min: Option<S<u32>>,
    /// Oldest age, 13–65 (65 means 65+).
    pub max: Option<S<u32>>,
}

/// A Meta ad with a link creative.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetaAd {
    /// Unique name within the ad set.
    pub name: S<String>,
    /// Adopt an existing ad by its id.
    pub id: Option<S<String>>,
    /// `active` or `paused`.
    pub status: Option<S<Status>>,
    pub lifecycle: Option<LifecycleSpec>,
    /// The link creative. A change creates a new creative and swaps it in.
    pub creative: S<Creative>,
}

/// A Meta link-ad creative.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Creative {
    /// The Facebook Page id the ad runs as (digits).
    pub page_id: S<String>,
    /// The destination URL.
    pub link: S<String>,
    /// The primary text.
    pub message: Option<S<String>>,
    /// The headline.
    pub headline: Option<S<String>>,
    /// The description.
    pub description: Option<S<String>>,
    /// The hash of an uploaded image.
    pub image_hash: Option<S<String>>,
    /// The URL of an image.
    pub image_url: Option<S<String>>,
    /// Call to action (`learn_more`, `shop_now`, `sign_up`, …).
    pub call_to_action: Option<S<CallToAction>>,
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
    pub description: Option<S<String>>,
    /// The members: a local CSV file with an email column. Emails are normalised and SHA-256 hashed locally;
    /// the clear text is never stored or sent.
    pub customer_file: S<CustomerFile>,
    /// Google Ads: how long members stay in the list, in days (1–540).
    pub membership_life_span_days: Option<S<u32>>,
    /// Meta: where the data comes from (`user_provided_only`, `partner_provided_only`,
    /// `both_user_and_partner_provided`).
    pub customer_file_source: Option<S<CustomerFileSource>>,
    /// Adopt existing audiences: platform id per account (local name → id).
    pub ids: Option<S<BTreeMap<String, S<String>>>>,
    pub lifecycle: Option<LifecycleSpec>,
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
    pub id: Option<S<String>>,
    pub lifecycle: Option<LifecycleSpec>,
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
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $wire:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),* }
        impl $name {
            /// The platform's enum name, lower snake case (the `Value::Str` of the resource model).
            pub fn wire(self) -> &'static str {
                match self { $($name::$v => $wire),* }
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
        #[serde(alias = "traffic")]
        OutcomeTraffic => "outcome_traffic",
        #[serde(alias = "sales")]
        OutcomeSales => "outcome_sales",
        #[serde(alias = "leads")]
        OutcomeLeads => "outcome_leads",
        #[serde(alias = "awareness")]
        OutcomeAwareness => "outcome_awareness",
        #[serde(alias = "engagement")]
        OutcomeEngagement => "outcome_engagement",
        #[serde(alias = "app_promotion")]
        OutcomeAppPromotion => "outcome_app_promotion",
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
