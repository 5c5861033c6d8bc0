//! Google Ads' part of the YAML language: shared budgets, bidding, network settings, ad groups, keywords,
//! negative keywords and responsive search ads, and their enums. `spec::types` re-exports them; doc comments here
//! become the descriptions in `schemas/`.

use std::fmt;

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, SubschemaValidation};
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::spec::de::{Item, Opt, Spanned};
use crate::spec::types::spec_enum;
use crate::spec::types::*;

pub use super::pmax::{AssetGroupSpec, ListingCases, ListingNode};

type S<T> = Spanned<T>;

/// A Google Ads campaign.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Campaign")]
#[schemars(rename = "GoogleCampaign")]
pub struct GoogleCampaign {
    /// Unique name within the account (the identity on the platform).
    pub name: S<String>,
    /// The account (local name from adsctl.yaml).
    pub account: S<String>,
    /// Adopt an existing campaign by its platform id (with another name: it is renamed to this one).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `enabled` / `active` or `paused` (mapped to the platform's name).
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The campaign budget: `daily` (its own) or `shared` (the name of a shared budget).
    #[serde(default)]
    pub budget: Opt<CampaignBudget>,
    /// The advertising channel (`search`, `display`, …). Cannot change after creation.
    #[serde(default)]
    pub channel: Opt<Channel>,
    /// Exactly one bidding strategy.
    #[serde(default)]
    pub bidding: Opt<Bidding>,
    /// First day (`YYYY-MM-DD`).
    #[serde(default)]
    pub start_date: Opt<String>,
    /// Last day (`YYYY-MM-DD`).
    #[serde(default)]
    pub end_date: Opt<String>,
    /// Where ads may show.
    #[serde(default)]
    pub network: Opt<NetworkSettings>,
    /// Whether the campaign contains EU political advertising (required by Google for new campaigns; defaults to
    /// `false` when created).
    #[serde(default)]
    pub eu_political_advertising: Opt<bool>,
    /// Label names.
    #[serde(default)]
    pub labels: Opt<Vec<S<String>>>,
    /// The conversion actions (names under `conversions:` of the same account) this campaign bids on, instead
    /// of the account's default goals: a custom conversion goal adsctl keeps for the list. `[]` goes back to
    /// the account's goals.
    #[serde(default)]
    pub conversion_goals: Opt<Vec<S<String>>>,
    /// Ad groups.
    #[serde(default)]
    pub ad_groups: Vec<Item<AdGroup>>,
    /// Campaign-level negative keywords.
    #[serde(default)]
    pub negative_keywords: Vec<Item<NegativeKeyword>>,
    /// The Merchant Center account whose products a `shopping` or `performance_max` campaign advertises
    /// (`shopping_setting.merchant_id`; the account must be linked to the customer). The feed stays in Merchant
    /// Center: adsctl manages the ad side.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub merchant_center_id: Opt<String>,
    /// The feed label of the products to advertise (`US`, `FR`, …: up to 20 upper-case letters, digits, `-`, `_`).
    #[serde(default)]
    pub feed_label: Opt<String>,
    /// A `shopping` campaign's priority among Shopping campaigns advertising the same product: 0 (low, the
    /// default on create), 1 or 2.
    #[serde(default)]
    pub campaign_priority: Opt<u8>,
    /// Asset groups of a `performance_max` campaign with a Merchant Center link.
    #[serde(default)]
    pub asset_groups: Vec<Item<AssetGroupSpec>>,
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

/// A Google Ads conversion action (`conversions:` of a Google Ads account). Offline conversion uploads are not
/// part of adsctl: it declares the action, the uploads go through Google's own tools.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Conversion")]
#[schemars(rename = "GoogleConversionAction")]
pub struct GoogleConversionAction {
    /// Unique name within the account (the identity on the platform, and what reports show).
    pub name: S<String>,
    /// The Google Ads account (local name from adsctl.yaml).
    pub account: S<String>,
    /// Adopt an existing conversion action by its id (with another name: it is renamed to this one).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// Where the conversions come from (`webpage`: the Google tag; `upload_clicks`: offline click uploads, …).
    /// Cannot change after creation.
    #[serde(rename = "type")]
    pub kind: S<ConversionType>,
    /// What the conversion is (`purchase`, `signup`, `submit_lead_form`, …).
    #[serde(default)]
    pub category: Opt<ConversionCategory>,
    /// `one_per_click` or `many_per_click`.
    #[serde(default)]
    pub counting: Opt<ConversionCounting>,
    /// The value of a conversion.
    #[serde(default)]
    pub value: Opt<ConversionValue>,
    /// `last_click` or `data_driven` (Google no longer accepts the rule-based models).
    #[serde(default)]
    pub attribution_model: Opt<AttributionModel>,
    /// Days after a click a conversion still counts (1–90).
    #[serde(default)]
    pub click_through_days: Opt<u32>,
    /// Days after an impression without a click a conversion still counts (1–30).
    #[serde(default)]
    pub view_through_days: Opt<u32>,
    /// Whether bidding optimises for it (Google's default is `true`). A campaign's target CPA or ROAS that
    /// names it needs `true`.
    #[serde(default)]
    pub primary_for_goal: Opt<bool>,
}

/// A conversion action's value settings. Amounts are in the account currency.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversionValue {
    /// The value used when a conversion comes without one (or always, with `always_use_default`).
    #[serde(default)]
    pub default: Opt<Amount>,
    /// Use `default` for every conversion, whatever value it comes with.
    #[serde(default)]
    pub always_use_default: Opt<bool>,
}

spec_enum!(
    /// Google Ads conversion action type (the ones the API creates).
    ConversionType {
        Webpage => "webpage",
        UploadClicks => "upload_clicks",
        UploadCalls => "upload_calls",
        AdCall => "ad_call",
        ClickToCall => "click_to_call",
        WebsiteCall => "website_call",
    }
);

spec_enum!(
    /// Google Ads conversion action category.
    ConversionCategory {
        Default => "default",
        PageView => "page_view",
        Purchase => "purchase",
        Signup => "signup",
        Download => "download",
        AddToCart => "add_to_cart",
        BeginCheckout => "begin_checkout",
        SubscribePaid => "subscribe_paid",
        PhoneCallLead => "phone_call_lead",
        ImportedLead => "imported_lead",
        SubmitLeadForm => "submit_lead_form",
        BookAppointment => "book_appointment",
        RequestQuote => "request_quote",
        GetDirections => "get_directions",
        OutboundClick => "outbound_click",
        Contact => "contact",
        Engagement => "engagement",
        StoreVisit => "store_visit",
        StoreSale => "store_sale",
        QualifiedLead => "qualified_lead",
        ConvertedLead => "converted_lead",
        YoutubeFollowOnViews => "youtube_follow_on_views",
    }
);

spec_enum!(
    /// How a conversion action counts conversions.
    ConversionCounting { OnePerClick => "one_per_click", ManyPerClick => "many_per_click" }
);

spec_enum!(
    /// Conversion attribution model.
    AttributionModel { LastClick => "last_click", DataDriven => "data_driven" }
);
