//! HubSpot's part of the YAML language. In a HubSpot account (one portal) an entry of `campaigns:` is a marketing
//! campaign — typically the mirror of an ad campaign (`mirrors:`), whose name and dates it then follows and whose
//! spend it reports — and an audience of `audiences:` that lists the account is a static (MANUAL) contact list.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::spec::de::{Item, Opt, Spanned};
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// A HubSpot marketing campaign.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Campaign")]
#[schemars(rename = "HubSpotCampaign")]
pub struct HubSpotCampaign {
    /// Unique name within the portal (`hs_name`). Left out with `mirrors`: the ad campaign's name.
    #[serde(default)]
    pub name: Opt<String>,
    /// The account (local name from adsctl.yaml): the HubSpot portal.
    pub account: S<String>,
    /// Adopt an existing campaign by its HubSpot GUID.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The ad campaign this one mirrors, by address (`acme-search/campaign/Spring Sale`): its name and dates are
    /// this campaign's unless written here, and its cost in `adsctl metrics` is this campaign's spend (an item
    /// `Ad spend (adsctl)`), in the same currency only.
    #[serde(default)]
    pub mirrors: Opt<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub start_date: Opt<String>,
    /// `YYYY-MM-DD`, on or after `start_date`.
    #[serde(default)]
    pub end_date: Opt<String>,
    /// Notes (HubSpot's `hs_notes`; adsctl keeps its ownership marker at their end).
    #[serde(default)]
    pub notes: Opt<String>,
    /// The campaign owner: a HubSpot owner id (digits; quote them).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub owner: Opt<String>,
    /// The campaign's colour in HubSpot, `#RRGGBB`.
    #[serde(default)]
    pub color: Opt<String>,
    /// Who the campaign is for (HubSpot's free-text `hs_audience`).
    #[serde(default)]
    pub audience: Opt<String>,
    /// The campaign's budget items, in order (all of them: an item left out is removed).
    #[serde(default)]
    pub budget_items: Opt<Vec<Item<HubSpotBudgetItem>>>,
}

/// One budget item of a HubSpot campaign.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HubSpotBudgetItem {
    /// What the money is for.
    pub name: S<String>,
    /// The amount, in the account currency.
    pub amount: S<Amount>,
}
