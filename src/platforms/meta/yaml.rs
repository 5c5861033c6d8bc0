//! Meta's part of the YAML language: ad sets with their targeting, ads with their creatives, lookalike
//! audiences, custom conversions, and their enums. `spec::types` re-exports them; doc comments here become the descriptions in
//! `schemas/`.

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::spec::de::{Item, Opt, Spanned};
use crate::spec::types::spec_enum;
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// A Meta campaign.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Campaign")]
#[schemars(rename = "MetaCampaign")]
pub struct MetaCampaign {
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
    /// The campaign budget: `daily` or `lifetime` (campaign budget optimisation; leave it out to budget on the
    /// ad sets).
    #[serde(default)]
    pub budget: Opt<CampaignBudget>,
    /// The campaign objective (`traffic`, `sales`, `leads`, `awareness`, `engagement`, `app_promotion`;
    /// `OUTCOME_TRAFFIC` style accepted; `product_catalog_sales` for catalog campaigns made with that older
    /// objective). Cannot change after creation.
    #[serde(default)]
    pub objective: Opt<Objective>,
    /// Special ad categories (`housing`, `employment`, `credit`, `issues_elections_politics`,
    /// `online_gambling_and_gaming`, `financial_products_services`); `[]` when none. Required for Meta.
    #[serde(default)]
    pub special_ad_categories: Opt<Vec<S<SpecialAdCategory>>>,
    /// Bid strategy for campaign budget optimisation.
    #[serde(default)]
    pub bid_strategy: Opt<MetaBidStrategy>,
    /// Start time (RFC 3339, `2026-03-01T00:00:00Z`).
    #[serde(default)]
    pub start_time: Opt<String>,
    /// Stop time (RFC 3339).
    #[serde(default)]
    pub stop_time: Opt<String>,
    /// Catalog ads: the product catalog the campaign sells from (a name under `product_catalogs:` of this account;
    /// Meta's `promoted_object.product_catalog_id`, with `objective: sales`). Its ad sets then each promote a product
    /// set (`product_set:`). Cannot change after creation.
    #[serde(default)]
    pub catalog: Opt<String>,
    /// Ad sets.
    #[serde(default)]
    pub ad_sets: Vec<Item<AdSet>>,
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
    /// The pixel and standard event the ad set's conversions are counted by (Meta's `promoted_object`); needed
    /// with `optimization_goal: offsite_conversions`.
    #[serde(default)]
    pub promoted_object: Opt<PromotedObject>,
    /// Who sees the ads.
    #[serde(default)]
    pub targeting: Opt<Targeting>,
    /// Catalog ads: the product set whose products the ad set shows (a name under `product_catalogs:` of this
    /// account, in the campaign's catalog; Meta's `promoted_object.product_set_id`). Required in a campaign with
    /// a `catalog`.
    #[serde(default)]
    pub product_set: Opt<String>,
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
    /// Catalog ads: a dynamic creative (Meta's `template_data`), filled from each product of the ad set's product
    /// set; `message`, `headline` and `description` may hold template tags such as `{{product.name}}`,
    /// `{{product.price}}` or `{{product.name | titleize}}`.
    #[serde(default)]
    pub dynamic: Opt<bool>,
}

/// A Meta lookalike audience.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "LookalikeAudience")]
#[schemars(rename = "MetaLookalikeAudience")]
pub struct MetaLookalikeAudience {
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

spec_enum!(
    /// Meta campaign objective (the OUTCOME_* set).
    Objective {
        OutcomeTraffic => "outcome_traffic" | "traffic",
        OutcomeSales => "outcome_sales" | "sales",
        OutcomeLeads => "outcome_leads" | "leads",
        OutcomeAwareness => "outcome_awareness" | "awareness",
        OutcomeEngagement => "outcome_engagement" | "engagement",
        OutcomeAppPromotion => "outcome_app_promotion" | "app_promotion",
        // the objective catalog campaigns made before the outcome-based objectives have (import, adopt)
        ProductCatalogSales => "product_catalog_sales",
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

/// A Meta ad set's promoted object for website conversions: a pixel and one of its standard events, or one of
/// the account's custom conversions.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotedObject {
    /// The Meta pixel (dataset) id, digits.
    pub pixel_id: S<String>,
    /// The standard event (`purchase`, `lead`, `complete_registration`, …).
    pub event: S<CustomEventType>,
    /// A custom conversion of the same account (its name under `custom_conversions:`) to optimise for: it must
    /// count events of `pixel_id`.
    #[serde(default)]
    pub custom_conversion: Opt<String>,
}

/// A Meta custom conversion (`custom_conversions:` of a Meta account): the events of one pixel that match a rule,
/// counted as one conversion. Its pixel, rule and event type cannot change once it exists (a change replaces it).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "CustomConversion")]
#[schemars(rename = "MetaCustomConversion")]
pub struct MetaCustomConversion {
    /// Unique name within the account.
    pub name: S<String>,
    /// The Meta account.
    pub account: S<String>,
    /// The pixel (dataset) whose events it counts, digits (Meta's `event_source_id`).
    #[schemars(with = "IdText")]
    pub pixel_id: S<String>,
    /// Which events count: Meta's rule, as a mapping or as JSON text, e.g. `{ url: { i_contains: thank-you } }`,
    /// or `{ and: [ { event: { eq: Purchase } }, { url: { i_contains: /checkout/done } } ] }`. Each part has one
    /// key: `and` / `or` over a list of parts, or the field it checks (`url`, `event`, an event parameter) with
    /// one condition (`i_contains`, `contains`, `eq`, `neq`, `i_starts_with`, `lt`, `gte`, `regex_match`, …).
    #[schemars(with = "serde_json::Value")]
    pub rule: S<serde_json::Value>,
    /// The kind of event it is reported as (`purchase`, `lead`, `complete_registration`, …; `other` when left out).
    #[serde(default)]
    pub event_type: Opt<ConversionEventType>,
    /// The value of a conversion when the event carries none, in whole units of the account currency (`25`).
    #[serde(default)]
    pub default_conversion_value: Opt<Amount>,
    /// Description.
    #[serde(default)]
    pub description: Opt<String>,
    /// Adopt an existing custom conversion by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

spec_enum!(
    /// The event type of a Meta custom conversion (CustomConversion `custom_event_type`).
    ConversionEventType {
        AddPaymentInfo => "add_payment_info",
        AddToCart => "add_to_cart",
        AddToWishlist => "add_to_wishlist",
        CompleteRegistration => "complete_registration",
        Contact => "contact",
        ContentView => "content_view",
        CustomizeProduct => "customize_product",
        Donate => "donate",
        FacebookSelected => "facebook_selected",
        FindLocation => "find_location",
        InitiatedCheckout => "initiated_checkout",
        Lead => "lead",
        ListingInteraction => "listing_interaction",
        Other => "other",
        Purchase => "purchase",
        Schedule => "schedule",
        Search => "search",
        StartTrial => "start_trial",
        SubmitApplication => "submit_application",
        Subscribe => "subscribe",
    }
);

spec_enum!(
    /// A Meta standard event (AdPromotedObject `custom_event_type`).
    CustomEventType {
        AchievementUnlocked => "achievement_unlocked",
        AddPaymentInfo => "add_payment_info",
        AddToCart => "add_to_cart",
        AddToWishlist => "add_to_wishlist",
        AdImpression => "ad_impression",
        CompleteRegistration => "complete_registration",
        Contact => "contact",
        ContentView => "content_view",
        CustomizeProduct => "customize_product",
        D2Retention => "d2_retention",
        D7Retention => "d7_retention",
        Donate => "donate",
        FindLocation => "find_location",
        InitiatedCheckout => "initiated_checkout",
        Lead => "lead",
        LevelAchieved => "level_achieved",
        ListingInteraction => "listing_interaction",
        MessagingConversationStarted7d => "messaging_conversation_started_7d",
        Other => "other",
        Purchase => "purchase",
        Rate => "rate",
        Schedule => "schedule",
        Search => "search",
        ServiceBookingRequest => "service_booking_request",
        SpentCredits => "spent_credits",
        StartTrial => "start_trial",
        SubmitApplication => "submit_application",
        Subscribe => "subscribe",
        TutorialCompletion => "tutorial_completion",
    }
);

pub use super::catalog::{MetaProductCatalog, MetaProductSet};
