//! LinkedIn's part of the YAML language. A LinkedIn account's tree is campaign group → campaign → creative; an
//! entry of `campaigns:` whose account is a LinkedIn account is a **campaign group**, and its own `campaigns:` are
//! LinkedIn campaigns. `spec::types` re-exports these types; doc comments here become the descriptions in
//! `schemas/`. Enum values are LinkedIn's wire names in lower case (`SPONSORED_UPDATES` → `sponsored_updates`).

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::spec::de::{Item, Opt, Spanned};
use crate::spec::types::spec_enum;
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// A LinkedIn campaign group (an entry of `campaigns:` in a LinkedIn account).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Campaign")]
#[schemars(rename = "LinkedInCampaignGroup")]
pub struct LinkedInCampaignGroup {
    /// Unique name within the account (the identity on the platform).
    pub name: S<String>,
    /// The account (local name from adsctl.yaml).
    pub account: S<String>,
    /// Adopt an existing campaign group by its platform id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `active` (or `enabled`) or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// When the group runs: `start` and `end` (RFC 3339, UTC: `2026-01-01T00:00:00Z`). A lifetime budget needs
    /// both.
    #[serde(default)]
    pub schedule: Opt<LinkedInSchedule>,
    /// The group's total budget: `{ lifetime: 5000 }` (LinkedIn's `totalBudget`).
    #[serde(default)]
    pub budget: Opt<CampaignBudget>,
    /// The LinkedIn campaigns of the group.
    #[serde(default)]
    pub campaigns: Vec<Item<LinkedInCampaign>>,
}

/// When a LinkedIn campaign group or campaign runs (LinkedIn's `runSchedule`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkedInSchedule {
    /// RFC 3339 in UTC, `2026-01-01T00:00:00Z`.
    #[serde(default)]
    pub start: Opt<String>,
    /// RFC 3339 in UTC, after `start`; leave it out to run without end.
    #[serde(default)]
    pub end: Opt<String>,
}

/// A LinkedIn campaign: who sees which ads, at what price.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Campaign")]
#[schemars(rename = "LinkedInCampaign")]
pub struct LinkedInCampaign {
    /// Unique name within the campaign group.
    pub name: S<String>,
    /// Adopt an existing campaign by its platform id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `active` (or `enabled`) or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The campaign type (`sponsored_updates`, `text_ad`, `sponsored_inmails`, `dynamic`). Required; cannot change
    /// after creation.
    #[serde(default, rename = "type")]
    pub kind: Opt<LinkedInCampaignType>,
    /// The objective (`brand_awareness`, `engagement`, `job_applicant`, `lead_generation`, `website_conversion`,
    /// `website_visit`, `video_view`). Required; cannot change after creation.
    #[serde(default)]
    pub objective: Opt<LinkedInObjective>,
    /// The ad format (`standard_update`, `single_video`, `carousel`, …); left out, the first creative sets it.
    /// Cannot change after creation.
    #[serde(default)]
    pub format: Opt<LinkedInFormat>,
    /// What is paid for: `cpm`, `cpc` or `cpv`. Required.
    #[serde(default)]
    pub cost_type: Opt<LinkedInCostType>,
    /// The bid per cost unit in the account currency (LinkedIn's `unitCost`).
    #[serde(default)]
    pub bid: Opt<Amount>,
    /// What delivery optimises for (`none` for manual bidding, `max_click`, `max_impression`, `max_conversion`,
    /// `target_cost_per_click`, …).
    #[serde(default)]
    pub optimization_target: Opt<LinkedInOptimizationTarget>,
    /// `daily` and/or `lifetime` (at least one; a lifetime budget is at least the daily one).
    #[serde(default)]
    pub budget: Opt<CampaignBudget>,
    /// When the campaign runs (`start` defaults to the time of the create).
    #[serde(default)]
    pub schedule: Opt<LinkedInSchedule>,
    /// The audience's country and language: `{ country: US, language: en }`. Required.
    #[serde(default)]
    pub locale: Opt<LinkedInLocale>,
    /// Who sees the ads. Required (at least one location).
    #[serde(default)]
    pub targeting: Opt<LinkedInTargeting>,
    /// Let LinkedIn reach people similar to the targeted ones.
    #[serde(default)]
    pub audience_expansion: Opt<bool>,
    /// Show the ads on the LinkedIn Audience Network too.
    #[serde(default)]
    pub offsite_delivery: Opt<bool>,
    /// `optimized` (LinkedIn favours the best creatives) or `round_robin`.
    #[serde(default)]
    pub creative_selection: Opt<CreativeSelection>,
    /// The ads (at most 100 per campaign, 15 of them active).
    #[serde(default)]
    pub creatives: Vec<Item<LinkedInCreative>>,
}

/// A LinkedIn campaign's locale.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkedInLocale {
    /// ISO 3166 country, `US`.
    pub country: S<String>,
    /// ISO 639-1 language, `en`.
    pub language: S<String>,
}

/// One targeting clause: facets (snake case) to the URNs of their values; any of them matches (OR).
pub type Clause = NamedMap<Vec<S<String>>>;

/// A LinkedIn campaign's audience. Facets are LinkedIn's targeting facets in snake case (`locations`,
/// `interface_locales`, `titles`, `seniorities`, `industries`, `staff_count_ranges`, …) with their values' URNs
/// (`urn:li:geo:103644278`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkedInTargeting {
    /// Every entry must match (AND); within an entry, any facet value (OR):
    /// `[{ locations: [urn:li:geo:103644278] }, { titles: […], seniorities: […] }]`.
    #[serde(default)]
    pub include: Opt<Vec<S<Clause>>>,
    /// Facet values that leave people out: `{ industries: [urn:li:industry:4] }`.
    #[serde(default)]
    pub exclude: Opt<Clause>,
    /// Matched audiences (names of `audiences:` of this account) the campaign must reach.
    #[serde(default)]
    pub audiences: Opt<Vec<S<String>>>,
    /// Matched audiences to leave out.
    #[serde(default)]
    pub excluded_audiences: Opt<Vec<S<String>>>,
}

/// A LinkedIn creative: a post promoted by a campaign.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Creative")]
#[schemars(rename = "LinkedInCreative")]
pub struct LinkedInCreative {
    /// Unique name within the campaign.
    pub name: S<String>,
    /// Adopt an existing creative by its platform id (`urn:li:sponsoredCreative:…`).
    #[serde(default)]
    pub id: Opt<String>,
    /// `active` (or `enabled`) or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The URN of the post it promotes (`urn:li:share:…`, `urn:li:ugcPost:…`). Required; cannot change after
    /// creation.
    #[serde(default)]
    pub post: Opt<String>,
    /// For lead generation: the lead form and the button's label.
    #[serde(default)]
    pub lead_form: Opt<LeadForm>,
}

/// A lead generation creative's form and button.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadForm {
    /// The lead form's URN (`urn:li:adForm:…`).
    pub destination: S<String>,
    /// The button (`apply`, `download`, `view_quote`, `learn_more`, `sign_up`, `subscribe`, `register`, `join`,
    /// `attend`, `request_demo`).
    pub label: S<LeadFormLabel>,
}

spec_enum!(
    /// LinkedIn campaign type.
    LinkedInCampaignType {
        TextAd => "text_ad",
        SponsoredUpdates => "sponsored_updates",
        SponsoredInmails => "sponsored_inmails",
        Dynamic => "dynamic",
    }
);

spec_enum!(
    /// LinkedIn campaign objective.
    LinkedInObjective {
        BrandAwareness => "brand_awareness",
        Engagement => "engagement",
        JobApplicant => "job_applicant",
        LeadGeneration => "lead_generation",
        WebsiteConversion => "website_conversion",
        WebsiteVisit => "website_visit",
        VideoView => "video_view",
    }
);

spec_enum!(
    /// LinkedIn ad format.
    LinkedInFormat {
        StandardUpdate => "standard_update",
        SingleVideo => "single_video",
        Carousel => "carousel",
        Document => "sponsored_update_native_document",
        Spotlight => "spotlight",
        FollowCompany => "follow_company",
        Jobs => "jobs",
        TextAd => "text_ad",
        SponsoredInmail => "sponsored_inmail",
        SponsoredMessage => "sponsored_message",
    }
);

spec_enum!(
    /// LinkedIn cost type.
    LinkedInCostType {
        Cpm => "cpm",
        Cpc => "cpc",
        Cpv => "cpv",
    }
);

spec_enum!(
    /// LinkedIn optimisation target.
    LinkedInOptimizationTarget {
        None => "none",
        MaxImpression => "max_impression",
        MaxClick => "max_click",
        MaxConversion => "max_conversion",
        MaxLead => "max_lead",
        MaxVideoView => "max_video_view",
        MaxReach => "max_reach",
        EnhancedConversion => "enhanced_conversion",
        TargetCostPerClick => "target_cost_per_click",
        TargetCostPerImpression => "target_cost_per_impression",
        TargetCostPerVideoView => "target_cost_per_video_view",
        CapCostAndMaximizeClicks => "cap_cost_and_maximize_clicks",
        CapCostAndMaximizeImpressions => "cap_cost_and_maximize_impressions",
        CapCostAndMaximizeVideoViews => "cap_cost_and_maximize_video_views",
        CapCostAndMaximizeLeads => "cap_cost_and_maximize_leads",
    }
);

spec_enum!(
    /// How LinkedIn picks among a campaign's creatives.
    CreativeSelection {
        Optimized => "optimized",
        RoundRobin => "round_robin",
    }
);

spec_enum!(
    /// A lead form button's label.
    LeadFormLabel {
        Apply => "apply",
        Download => "download",
        ViewQuote => "view_quote",
        LearnMore => "learn_more",
        SignUp => "sign_up",
        Subscribe => "subscribe",
        Register => "register",
        Join => "join",
        Attend => "attend",
        RequestDemo => "request_demo",
    }
);
