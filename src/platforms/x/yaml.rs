//! X's part of the YAML language. An X account's tree is campaign → ad group (X's API calls it a line item) →
//! promoted posts and targeting criteria. `spec::types` re-exports these types; doc comments here become the
//! descriptions in `schemas/`. Enum values are X's wire names in lower case (`WEBSITE_CLICKS` →
//! `website_clicks`).

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::spec::de::{Item, Opt, Spanned};
use crate::spec::types::spec_enum;
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// An X campaign: a funding instrument and a budget for its ad groups.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Campaign")]
#[schemars(rename = "XCampaign")]
pub struct XCampaign {
    /// Unique name within the account (the identity on the platform).
    pub name: S<String>,
    /// The account (local name from adsctl.yaml).
    pub account: S<String>,
    /// Adopt an existing campaign by its platform id (base 36, e.g. `8wku2`).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `active` (or `enabled`) or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The funding instrument that pays (its id, e.g. `lygyi`; X Ads Manager lists them under Billing). Required;
    /// cannot change after creation.
    #[serde(default)]
    pub funding_instrument: Opt<String>,
    /// `daily` and/or `lifetime` (X's daily and total budget; a total budget is at least the daily one).
    #[serde(default)]
    pub budget: Opt<CampaignBudget>,
    /// The campaign's ad groups (X's line items; at most 100 per campaign).
    #[serde(default)]
    pub ad_groups: Vec<Item<XAdGroup>>,
}

/// An X ad group (a line item in X's API): what is promoted, where, to whom and at what bid.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "AdGroup")]
#[schemars(rename = "XAdGroup")]
pub struct XAdGroup {
    /// Unique name within the campaign.
    pub name: S<String>,
    /// Adopt an existing line item by its platform id (base 36).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `active` (or `enabled`) or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The objective (`website_clicks`, `engagements`, `reach`, `followers`, `video_views`, `preroll_views`,
    /// `app_installs`, `app_engagements`). Required; cannot change after creation; every ad group of a campaign
    /// has the same one.
    #[serde(default)]
    pub objective: Opt<XObjective>,
    /// What is promoted: `promoted_tweets` (posts), `promoted_account` or `media`. Required; cannot change after
    /// creation; the same for every ad group of a campaign.
    #[serde(default)]
    pub product_type: Opt<XProductType>,
    /// Where the ads show (`all_on_twitter`, `twitter_timeline`, `twitter_search`, `twitter_profile`,
    /// `twitter_replies`, `publisher_network`, …). Required; cannot change after creation.
    #[serde(default)]
    pub placements: Opt<Vec<S<XPlacement>>>,
    /// `auto` (X bids), `max` (a maximum bid) or `target` (a target cost). `max` and `target` need a `bid`.
    #[serde(default)]
    pub bid_strategy: Opt<XBidStrategy>,
    /// The bid in the account currency (X's `bid_amount_local_micro`).
    #[serde(default)]
    pub bid: Opt<Amount>,
    /// What delivery optimises for (`link_clicks`, `engagement`, `max_reach`, `site_visits`, `video_view`, …).
    #[serde(default)]
    pub goal: Opt<XGoal>,
    /// What is paid for: `impression`, `link_click` or `app_click`.
    #[serde(default)]
    pub pay_by: Opt<XPayBy>,
    /// `daily` and/or `lifetime`; left out, the campaign's budget pays.
    #[serde(default)]
    pub budget: Opt<CampaignBudget>,
    /// When the ad group runs: `start` (defaults to the time of the create) and `end` (left out: no end).
    #[serde(default)]
    pub schedule: Opt<XSchedule>,
    /// Who sees the ads: X's targeting criteria, one per entry. Values of one type are ORed; different types
    /// are ANDed (followers, audiences, interests and keywords are unioned with one another). None: everyone.
    #[serde(default)]
    pub targeting: Vec<Item<XCriterion>>,
    /// The posts the ad group promotes, by post id (digits; quote them). A post is attached or detached: to
    /// promote another post, list its id.
    #[serde(default)]
    pub promoted_posts: Vec<Item<S<String>>>,
}

/// When an X ad group runs (`start_time`, `end_time`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct XSchedule {
    /// RFC 3339, `2026-01-01T00:00:00Z` (or with an offset; X stores UTC, to the second).
    #[serde(default)]
    pub start: Opt<String>,
    /// RFC 3339, after `start`.
    #[serde(default)]
    pub end: Opt<String>,
}

/// One X targeting criterion: a type, a value and whether it includes or excludes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct XCriterion {
    /// The targeting type (`location`, `language`, `gender`, `age`, `interest`, `broad_keyword`,
    /// `phrase_keyword`, `exact_keyword`, `unordered_keyword`, `followers_of_user`, `platform`, …: X's
    /// `targeting_type` in lower case), or `custom_audience` / `custom_audience_expanded` with `audience`.
    #[serde(rename = "type")]
    pub kind: S<XTargetingType>,
    /// The value exactly as X's targeting lookups give it: a location's key `96683cc9126741d1`, a language
    /// `en`, a keyword `running shoes`, an age bucket `AGE_OVER_50`, a gender `1` or `2`.
    #[serde(default)]
    pub value: Opt<String>,
    /// For `custom_audience` and `custom_audience_expanded`: the name of an audience of this account (from
    /// `audiences:`).
    #[serde(default)]
    pub audience: Opt<String>,
    /// `eq` (target, the default), `ne` (exclude), or for `network_activation_duration` `gte` / `lt`.
    #[serde(default)]
    pub operator: Opt<XOperator>,
}

spec_enum!(
    /// X line item objective.
    XObjective {
        AppEngagements => "app_engagements",
        AppInstalls => "app_installs",
        Reach => "reach",
        Followers => "followers",
        Engagements => "engagements",
        VideoViews => "video_views",
        PrerollViews => "preroll_views",
        WebsiteClicks => "website_clicks",
    }
);

spec_enum!(
    /// X line item product type.
    XProductType {
        Media => "media",
        PromotedAccount => "promoted_account",
        PromotedTweets => "promoted_tweets",
    }
);

spec_enum!(
    /// X placement.
    XPlacement {
        AllOnTwitter => "all_on_twitter",
        PublisherNetwork => "publisher_network",
        TapBanner => "tap_banner",
        TapFull => "tap_full",
        TapFullLandscape => "tap_full_landscape",
        TapNative => "tap_native",
        TapMrect => "tap_mrect",
        TwitterProfile => "twitter_profile",
        TwitterReplies => "twitter_replies",
        TwitterSearch => "twitter_search",
        TwitterTimeline => "twitter_timeline",
    }
);

spec_enum!(
    /// X bid strategy.
    XBidStrategy {
        Auto => "auto",
        Max => "max",
        Target => "target",
    }
);

spec_enum!(
    /// X line item goal.
    XGoal {
        AppClicks => "app_clicks",
        AppInstalls => "app_installs",
        AppPurchases => "app_purchases",
        Engagement => "engagement",
        Followers => "followers",
        LinkClicks => "link_clicks",
        MaxReach => "max_reach",
        Preroll => "preroll",
        PrerollStarts => "preroll_starts",
        ReachWithEngagement => "reach_with_engagement",
        SiteVisits => "site_visits",
        VideoView => "video_view",
        View3s100pct => "view_3s_100pct",
        View6s => "view_6s",
        View15s => "view_15s",
        WebsiteConversions => "website_conversions",
    }
);

spec_enum!(
    /// What an X line item pays for.
    XPayBy {
        AppClick => "app_click",
        Impression => "impression",
        LinkClick => "link_click",
    }
);

spec_enum!(
    /// X targeting type.
    XTargetingType {
        Age => "age",
        Gender => "gender",
        Location => "location",
        Language => "language",
        Interest => "interest",
        FollowersOfUser => "followers_of_user",
        SimilarToFollowersOfUser => "similar_to_followers_of_user",
        Platform => "platform",
        PlatformVersion => "platform_version",
        Device => "device",
        WifiOnly => "wifi_only",
        NetworkOperator => "network_operator",
        NetworkActivationDuration => "network_activation_duration",
        Event => "event",
        Conversation => "conversation",
        TvShow => "tv_show",
        LiveTvEvent => "live_tv_event",
        EngagementType => "engagement_type",
        CampaignEngagement => "campaign_engagement",
        UserEngagement => "user_engagement",
        CampaignEngagementLookalike => "campaign_engagement_lookalike",
        UserEngagementLookalike => "user_engagement_lookalike",
        BroadKeyword => "broad_keyword",
        ExactKeyword => "exact_keyword",
        PhraseKeyword => "phrase_keyword",
        UnorderedKeyword => "unordered_keyword",
        CustomAudience => "custom_audience",
        CustomAudienceExpanded => "custom_audience_expanded",
        AppStoreCategory => "app_store_category",
        AppStoreCategoryLookalike => "app_store_category_lookalike",
        AppList => "app_list",
    }
);

spec_enum!(
    /// An X targeting criterion's operator.
    XOperator {
        Eq => "eq",
        Ne => "ne",
        Gte => "gte",
        Lt => "lt",
    }
);
