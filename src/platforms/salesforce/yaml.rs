//! Salesforce's part of the YAML language. In a Salesforce account (one org) an entry of `campaigns:` is a
//! Campaign record — typically the mirror of an ad campaign (`mirrors:`), whose name and dates it then follows and
//! whose cost is its `ActualCost` — and an audience of `audiences:` that lists the account is a Campaign whose
//! members are the customer file's Contacts and Leads.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::spec::de::{Opt, Spanned};
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// A Salesforce Campaign record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Campaign")]
#[schemars(rename = "SalesforceCampaign")]
pub struct SalesforceCampaign {
    /// The campaign's `Name` (at most 80 characters). Left out with `mirrors`: the ad campaign's name.
    #[serde(default)]
    pub name: Opt<String>,
    /// The account (local name from adsctl.yaml): the Salesforce org.
    pub account: S<String>,
    /// Adopt an existing Campaign by its record id (`701…`).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `active` (or `enabled`): `IsActive` true; `paused`: false.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The ad campaign this one mirrors, by address (`acme-search/campaign/Spring Sale`): its name and dates are
    /// this campaign's unless written here, and its cost in `adsctl metrics` is this campaign's `ActualCost`, in
    /// the same currency only.
    #[serde(default)]
    pub mirrors: Opt<String>,
    /// Salesforce's campaign `Status` picklist value, as the org spells it (`Planned`, `In Progress`,
    /// `Completed`, `Aborted`).
    #[serde(default)]
    pub campaign_status: Opt<String>,
    /// The campaign `Type` picklist value (`Advertisement`, `Banner Ads`, `Email`, …).
    #[serde(default, rename = "type")]
    pub campaign_type: Opt<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub start_date: Opt<String>,
    /// `YYYY-MM-DD`, on or after `start_date`.
    #[serde(default)]
    pub end_date: Opt<String>,
    /// `BudgetedCost`, in whole units of the account currency (the field has no decimals).
    #[serde(default)]
    pub budgeted_cost: Opt<Amount>,
    /// The parent campaign: another campaign of this account (the hierarchy ad account → ad campaign).
    #[serde(default)]
    pub parent: Opt<String>,
    /// `Description`.
    #[serde(default)]
    pub description: Opt<String>,
}
