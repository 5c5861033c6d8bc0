//! TikTok's part of the YAML language: its campaign (objective, budget), ad groups (placements, targeting,
//! schedule, bidding, budget) and ads (creative fields per format), and their enums. `spec::types` re-exports them;
//! doc comments here become the descriptions in `schemas/`. Enum values are TikTok's wire names in lower case
//! (`OBJECTIVE` `TRAFFIC` → `traffic`), with friendlier aliases where the wire name repeats its field
//! (`placements: [tiktok]` for `PLACEMENT_TIKTOK`).

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::spec::de::{Item, Opt, Spanned};
use crate::spec::types::spec_enum;
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// A TikTok campaign.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Campaign")]
#[schemars(rename = "TikTokCampaign")]
pub struct TikTokCampaign {
    /// Unique name within the account (the identity on the platform).
    pub name: S<String>,
    /// The account (local name from adsctl.yaml).
    pub account: S<String>,
    /// Adopt an existing campaign by its platform id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `enabled` or `paused` (TikTok's ENABLE / DISABLE).
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The campaign budget: `daily` or `lifetime`; leave it out for none (the ad groups then have theirs). Whether it
    /// is daily, lifetime or none cannot change after creation.
    #[serde(default)]
    pub budget: Opt<CampaignBudget>,
    /// The objective (`traffic`, `reach`, `video_views`, `engagement`, `lead_generation`, `app_promotion`,
    /// `web_conversions`, `product_sales`). Required; cannot change after creation.
    #[serde(default)]
    pub objective: Opt<TikTokObjective>,
    /// Campaign budget optimisation (the campaign's budget is spread over its ad groups). Cannot change after
    /// creation.
    #[serde(default)]
    pub budget_optimization: Opt<bool>,
    /// Special ad categories (`housing`, `employment`, `credit`); `[]` when none. After creation they can only be
    /// cleared.
    #[serde(default)]
    pub special_industries: Opt<Vec<S<SpecialIndustry>>>,
    /// Ad groups.
    #[serde(default)]
    pub ad_groups: Vec<Item<TikTokAdGroup>>,
}

/// A TikTok ad group: where, to whom, when and at what price the ads run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "AdGroup")]
#[schemars(rename = "TikTokAdGroup")]
pub struct TikTokAdGroup {
    /// Unique name within the campaign.
    pub name: S<String>,
    /// Adopt an existing ad group by its platform id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// Where the ads show (`tiktok`, `pangle`, `global_app_bundle`); leave it out for automatic placement. Cannot
    /// change after creation.
    #[serde(default)]
    pub placements: Opt<Vec<S<Placement>>>,
    /// Who sees the ads.
    #[serde(default)]
    pub targeting: Opt<TikTokTargeting>,
    /// When the ads run (UTC): `start` (defaults to now) and `end`, as `YYYY-MM-DD HH:MM:SS`.
    #[serde(default)]
    pub schedule: Opt<Schedule>,
    /// What delivery optimises for (`click`, `reach`, `show`, `video_view`, `convert`, …). Required; cannot change
    /// after creation.
    #[serde(default)]
    pub optimization_goal: Opt<TikTokOptimizationGoal>,
    /// What is paid for (`cpc`, `cpm`, `cpv`, `ocpm`). Required; cannot change after creation.
    #[serde(default)]
    pub billing_event: Opt<BillingEventTikTok>,
    /// A bid per billing event in the account currency (a custom bid); leave it out to let TikTok bid.
    #[serde(default)]
    pub bid: Opt<Amount>,
    /// `smooth` (spend evenly, the default) or `fast`.
    #[serde(default)]
    pub pacing: Opt<Pacing>,
    /// The ad group's budget (`daily` or `lifetime`), when the campaign has none.
    #[serde(default)]
    pub budget: Opt<CampaignBudget>,
    /// Ads (at most 20 per ad group).
    #[serde(default)]
    pub ads: Vec<Item<TikTokAd>>,
}

/// A TikTok ad group's audience.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Targeting")]
#[schemars(rename = "TikTokTargeting")]
pub struct TikTokTargeting {
    /// Location ids (TikTok's, e.g. `"6252001"` for the United States). Required.
    #[serde(default)]
    pub locations: Opt<Vec<S<String>>>,
    /// Age groups (`age_13_17`, `age_18_24`, `age_25_34`, `age_35_44`, `age_45_54`, `age_55_100`); all when left out.
    #[serde(default)]
    pub age_groups: Opt<Vec<S<AgeGroup>>>,
    /// `unlimited` (the default), `male` or `female`.
    #[serde(default)]
    pub gender: Opt<TikTokGender>,
    /// Language codes (`en`, `de`, …).
    #[serde(default)]
    pub languages: Opt<Vec<S<String>>>,
    /// Interest category ids.
    #[serde(default)]
    pub interests: Opt<Vec<S<String>>>,
    /// Audiences (names of `audiences:` or `lookalike_audiences:` of this account) to reach.
    #[serde(default)]
    pub audiences: Opt<Vec<S<String>>>,
    /// Audiences to leave out.
    #[serde(default)]
    pub excluded_audiences: Opt<Vec<S<String>>>,
}

/// When an ad group runs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `YYYY-MM-DD HH:MM:SS`, UTC (at most 12 hours in the past when created).
    #[serde(default)]
    pub start: Opt<String>,
    /// `YYYY-MM-DD HH:MM:SS`, UTC; leave it out to run without end (a lifetime budget needs an end).
    #[serde(default)]
    pub end: Opt<String>,
}

/// A TikTok ad.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Ad")]
#[schemars(rename = "TikTokAd")]
pub struct TikTokAd {
    /// Unique name within the ad group.
    pub name: S<String>,
    /// Adopt an existing ad by its platform id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The format (`single_video`, `single_image`, …). Required.
    #[serde(default)]
    pub format: Opt<AdFormat>,
    /// The ad text, 1–100 characters. Required.
    #[serde(default)]
    pub text: Opt<String>,
    /// The call to action (`learn_more`, `shop_now`, `sign_up`, `download_now`, …).
    #[serde(default)]
    pub call_to_action: Opt<CallToActionTikTok>,
    /// Where the ad leads.
    #[serde(default)]
    pub landing_page_url: Opt<String>,
    /// The name shown with the ad, 1–40 characters.
    #[serde(default)]
    pub display_name: Opt<String>,
    /// Who the ad is posted as: `{ type: customized_user, id: "…" }`. Required.
    #[serde(default)]
    pub identity: Opt<Identity>,
    /// The video (from TikTok's asset library). Required for `single_video`.
    #[serde(default)]
    pub video_id: Opt<String>,
    /// The images (from TikTok's asset library). Required for `single_image`.
    #[serde(default)]
    pub image_ids: Opt<Vec<S<String>>>,
}

/// Who an ad is posted as.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// `customized_user`, `auth_code`, `tt_user` or `bc_auth_tt`.
    #[serde(rename = "type")]
    pub kind: S<IdentityType>,
    /// The identity's id.
    pub id: S<String>,
}

/// A TikTok lookalike audience: people like those of one of the account's customer-file audiences. Nothing of
/// it can change after creation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "LookalikeAudience")]
#[schemars(rename = "TikTokLookalikeAudience")]
pub struct TikTokLookalikeAudience {
    /// Unique name within the account.
    pub name: S<String>,
    /// The TikTok account.
    pub account: S<String>,
    /// The seed audience (name of an audience created in the same account).
    pub origin: S<String>,
    /// `narrow`, `balanced` or `broad`.
    pub audience_size: S<LookalikeSize>,
    /// The location ids it is built in (TikTok's, e.g. `"6252001"` for the United States).
    pub location_ids: S<Vec<S<String>>>,
    /// Whether the seed audience's own members are in it too.
    #[serde(default)]
    pub include_source: Opt<bool>,
    /// Adopt an existing lookalike audience by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

spec_enum!(
    /// How close to its seed a TikTok lookalike is.
    LookalikeSize {
        Narrow => "narrow",
        Balanced => "balanced",
        Broad => "broad",
    }
);

spec_enum!(
    /// TikTok campaign objective (objective_type).
    TikTokObjective {
        Traffic => "traffic",
        Reach => "reach",
        VideoViews => "video_views",
        Engagement => "engagement",
        LeadGeneration => "lead_generation",
        AppPromotion => "app_promotion",
        WebConversions => "web_conversions",
        ProductSales => "product_sales",
    }
);

spec_enum!(
    /// TikTok special industry.
    SpecialIndustry {
        Housing => "housing",
        Employment => "employment",
        Credit => "credit",
    }
);

spec_enum!(
    /// TikTok placement.
    Placement {
        Tiktok => "placement_tiktok" | "tiktok",
        Pangle => "placement_pangle" | "pangle",
        GlobalAppBundle => "placement_global_app_bundle" | "global_app_bundle",
    }
);

spec_enum!(
    /// TikTok age group.
    AgeGroup {
        A13 => "age_13_17",
        A18 => "age_18_24",
        A25 => "age_25_34",
        A35 => "age_35_44",
        A45 => "age_45_54",
        A55 => "age_55_100",
    }
);

spec_enum!(
    /// TikTok gender targeting.
    TikTokGender {
        Unlimited => "gender_unlimited" | "unlimited",
        Male => "gender_male" | "male",
        Female => "gender_female" | "female",
    }
);

spec_enum!(
    /// TikTok optimisation goal.
    TikTokOptimizationGoal {
        Click => "click",
        Reach => "reach",
        Show => "show",
        VideoView => "video_view",
        EngagedView => "engaged_view",
        Convert => "convert",
        Install => "install",
        InAppEvent => "in_app_event",
        Value => "value",
        LeadGeneration => "lead_generation",
        TrafficLandingPageView => "traffic_landing_page_view",
        Followers => "followers",
        ProfileViews => "profile_views",
    }
);

spec_enum!(
    /// TikTok billing event.
    BillingEventTikTok {
        Cpc => "cpc",
        Cpm => "cpm",
        Cpv => "cpv",
        Ocpm => "ocpm",
    }
);

spec_enum!(
    /// TikTok pacing.
    Pacing {
        Smooth => "pacing_mode_smooth" | "smooth",
        Fast => "pacing_mode_fast" | "fast",
    }
);

spec_enum!(
    /// TikTok ad format.
    AdFormat {
        SingleVideo => "single_video",
        SingleImage => "single_image",
        CarouselAds => "carousel_ads",
    }
);

spec_enum!(
    /// TikTok identity type.
    IdentityType {
        CustomizedUser => "customized_user",
        AuthCode => "auth_code",
        TtUser => "tt_user",
        BcAuthTt => "bc_auth_tt",
    }
);

spec_enum!(
    /// TikTok call to action.
    CallToActionTikTok {
        LearnMore => "learn_more",
        ShopNow => "shop_now",
        SignUp => "sign_up",
        DownloadNow => "download_now",
        ContactUs => "contact_us",
        ApplyNow => "apply_now",
        BookNow => "book_now",
        OrderNow => "order_now",
        WatchNow => "watch_now",
        GetQuote => "get_quote",
        Subscribe => "subscribe",
    }
);
