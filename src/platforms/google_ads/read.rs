//! Reading an account: one GAQL `searchStream` per resource kind, joined locally into addressed resources.
//! Label links come with their objects (`campaign.labels`, `ad_group.labels`, `ad_group_ad.labels`,
//! `ad_group_criterion.labels`: the resource names of the attached labels), not from the link resources.
//!
//! Ownership as a runner without state sees it (docs/resource-model.md): the `adsctl-managed` label on
//! campaigns, ad groups, ads and keywords; `integrationCode` on user lists (with the fingerprint of the members
//! last written); a shared budget is adsctl's when adsctl's campaigns use it and nobody else's do. Negative
//! keywords cannot carry labels: they are never reported as owned.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{json, Value as Json};

use crate::connectors::LiveSnapshot;
use crate::model::{fingerprint_key, Address, Kind, Resource, Value};

use super::client::{Client, Replay};
use super::config::OWNER_LABEL;
use super::errors::GoogleAdsError;
use super::mapping::{self, get_i64, get_str, id_of, lower};

/// Run one GAQL query through `googleAds:searchStream` and return every row.
pub async fn search_stream(client: &Client, query: &str) -> Result<Vec<Json>, GoogleAdsError> {
    let path = format!("customers/{}/googleAds:searchStream", client.customer_id);
    let text = client.post_raw(&path, &json!({ "query": query }), Replay::Safe).await?;
    rows_of_stream(&text)
}

/// The rows of a searchStream body: a JSON array of chunks `{results, fieldMask, requestId}`.
pub fn rows_of_stream(text: &str) -> Result<Vec<Json>, GoogleAdsError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let body: Json = serde_json::from_str(text).map_err(|e| GoogleAdsError::Decode(format!("searchStream: {e}")))?;
    let chunks = match body {
        Json::Array(a) => a,
        other => vec![other],
    };
    let mut rows = Vec::new();
    for c in chunks {
        if let Some(Json::Array(r)) = c.get("results") {
            rows.extend(r.iter().cloned());
        }
    }
    Ok(rows)
}

fn in_list(ids: &[String]) -> String {
    ids.iter()
        .map(|i| mapping::id_of(i))
        .filter(|i| i.chars().all(|c| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub const Q_LABEL: &str = "SELECT label.resource_name, label.id, label.name FROM label";

pub const Q_BUDGET: &str = "SELECT campaign_budget.resource_name, campaign_budget.id, campaign_budget.name, \
campaign_budget.amount_micros, campaign_budget.delivery_method, campaign_budget.explicitly_shared, \
campaign_budget.status FROM campaign_budget";

pub const Q_CAMPAIGN: &str = "SELECT campaign.resource_name, campaign.id, campaign.name, campaign.status, \
campaign.advertising_channel_type, campaign.campaign_budget, campaign.bidding_strategy_type, \
campaign.manual_cpc.enhanced_cpc_enabled, campaign.maximize_conversions.target_cpa_micros, \
campaign.maximize_conversion_value.target_roas, campaign.target_cpa.target_cpa_micros, \
campaign.target_roas.target_roas, campaign.target_spend.cpc_bid_ceiling_micros, campaign.start_date_time, \
campaign.end_date_time, campaign.network_settings.target_google_search, \
campaign.network_settings.target_search_network, campaign.network_settings.target_content_network, \
campaign.network_settings.target_partner_search_network, campaign.contains_eu_political_advertising, \
campaign.shopping_setting.merchant_id, campaign.shopping_setting.feed_label, \
campaign.shopping_setting.campaign_priority, campaign.labels, campaign.experiment_type FROM campaign";

pub const Q_AD_GROUP: &str = "SELECT ad_group.resource_name, ad_group.id, ad_group.name, ad_group.status, \
ad_group.type, ad_group.cpc_bid_micros, ad_group.campaign, ad_group.labels FROM ad_group";

pub const Q_AD: &str = "SELECT ad_group_ad.resource_name, ad_group_ad.status, ad_group_ad.ad_group, \
ad_group_ad.ad.id, ad_group_ad.ad.type, ad_group_ad.ad.final_urls, \
ad_group_ad.ad.responsive_search_ad.headlines, ad_group_ad.ad.responsive_search_ad.descriptions, \
ad_group_ad.ad.responsive_search_ad.path1, ad_group_ad.ad.responsive_search_ad.path2, \
ad_group_ad.policy_summary.approval_status, ad_group_ad.labels FROM ad_group_ad";

pub const Q_CRITERION: &str = "SELECT ad_group_criterion.resource_name, ad_group_criterion.criterion_id, \
ad_group_criterion.ad_group, ad_group_criterion.status, ad_group_criterion.negative, \
ad_group_criterion.keyword.text, ad_group_criterion.keyword.match_type, ad_group_criterion.cpc_bid_micros, \
ad_group_criterion.labels FROM ad_group_criterion";

/// Campaign-level negative keywords (campaign criteria of type KEYWORD with `negative: true`).
pub const Q_CAMPAIGN_CRITERION: &str = "SELECT campaign_criterion.resource_name, campaign_criterion.criterion_id, \
campaign_criterion.campaign, campaign_criterion.status, campaign_criterion.negative, \
campaign_criterion.keyword.text, campaign_criterion.keyword.match_type FROM campaign_criterion";

pub const Q_USER_LIST: &str = "SELECT user_list.resource_name, user_list.id, user_list.name, \
user_list.description, user_list.membership_life_span, user_list.membership_status, user_list.type, \
user_list.integration_code FROM user_list";

/// Conversion actions (every type: one the YAML names whatever made it is matched, and an unsupported type is
/// then the plan's to refuse, not the read's to hide).
pub const Q_CONVERSION_ACTION: &str = "SELECT conversion_action.resource_name, conversion_action.id, \
conversion_action.name, conversion_action.status, conversion_action.type, conversion_action.category, \
conversion_action.counting_type, conversion_action.value_settings.default_value, \
conversion_action.value_settings.always_use_default_value, \
conversion_action.attribution_model_settings.attribution_model, \
conversion_action.click_through_lookback_window_days, conversion_action.view_through_lookback_window_days, \
conversion_action.primary_for_goal FROM conversion_action";

/// A query with the removed objects filtered out, unless some are pinned (GAQL has no OR: then the filter is
/// applied locally).
fn with_status(base: &str, status_field: &str, extra: &[&str], pinned: bool) -> String {
    let mut conds: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    if !pinned {
        conds.push(format!("{status_field} != 'REMOVED'"));
    }
    if conds.is_empty() {
        base.to_string()
    } else {
        format!("{base} WHERE {}", conds.join(" AND "))
    }
}

/// Everything read from an account, before addressing.
/// Custom conversion goals (the lists of conversion actions campaigns bid on; adsctl's are named
/// [`GOAL_PREFIX`]…).
pub const Q_CUSTOM_GOAL: &str = "SELECT custom_conversion_goal.resource_name, custom_conversion_goal.name, \
custom_conversion_goal.conversion_actions, custom_conversion_goal.status FROM custom_conversion_goal \
WHERE custom_conversion_goal.status = 'ENABLED'";

/// Which goals each campaign bids on: the account's (`CUSTOMER`) or a custom goal (`CAMPAIGN`).
pub const Q_GOAL_CONFIG: &str = "SELECT conversion_goal_campaign_config.campaign, \
conversion_goal_campaign_config.goal_config_level, conversion_goal_campaign_config.custom_conversion_goal \
FROM conversion_goal_campaign_config";

/// The name prefix of the custom conversion goals adsctl creates (one per distinct list of conversion actions:
/// Google refuses two goals with the same list). A goal without it is reused but never renamed or removed.
pub const GOAL_PREFIX: &str = "adsctl: ";

#[derive(Default)]
pub struct Raw {
    pub labels: Vec<Json>,
    pub budgets: Vec<Json>,
    pub campaigns: Vec<Json>,
    pub ad_groups: Vec<Json>,
    pub ads: Vec<Json>,
    pub criteria: Vec<Json>,
    pub campaign_criteria: Vec<Json>,
    pub user_lists: Vec<Json>,
    pub conversion_actions: Vec<Json>,
    /// Experiments and their arms (`super::experiment`).
    pub experiments: Vec<Json>,
    pub experiment_arms: Vec<Json>,
    pub custom_goals: Vec<Json>,
    pub goal_configs: Vec<Json>,
    /// Performance Max asset groups and their listing group filters (see pmax.rs).
    pub asset_groups: Vec<Json>,
    pub listing_filters: Vec<Json>,
}

/// The owner label's resource name, when the account has one.
pub fn owner_label(labels: &[Json]) -> Option<String> {
    labels
        .iter()
        .filter_map(|r| r.get("label"))
        .find(|l| get_str(l, "name") == Some(OWNER_LABEL))
        .and_then(|l| get_str(l, "resourceName"))
        .map(str::to_string)
}

/// Label names → resource names.
pub fn labels_by_name(labels: &[Json]) -> HashMap<String, String> {
    labels
        .iter()
        .filter_map(|r| r.get("label"))
        .filter_map(|l| Some((get_str(l, "name")?.to_string(), get_str(l, "resourceName")?.to_string())))
        .collect()
}

/// Read every kind: one searchStream each (campaigns, ad groups and ads bring their labels along).
pub async fn read_raw(client: &Client, pinned: &[String]) -> Result<Raw, GoogleAdsError> {
    let p = !pinned.is_empty();
    let q_budget = with_status(Q_BUDGET, "campaign_budget.status", &[], p);
    let q_campaign = with_status(Q_CAMPAIGN, "campaign.status", &[], p);
    let q_ad_group = with_status(Q_AD_GROUP, "ad_group.status", &[], p);
    let q_ad = with_status(
        Q_AD,
        "ad_group_ad.status",
        &["ad_group_ad.ad.type = 'RESPONSIVE_SEARCH_AD'"],
        p,
    );
    let q_criterion = with_status(
        Q_CRITERION,
        "ad_group_criterion.status",
        &["ad_group_criterion.type = 'KEYWORD'"],
        p,
    );
    let q_campaign_criterion = with_status(
        Q_CAMPAIGN_CRITERION,
        "campaign_criterion.status",
        &[
            "campaign_criterion.type = 'KEYWORD'",
            "campaign_criterion.negative = TRUE",
        ],
        p,
    );
    let q_user_list = format!("{Q_USER_LIST} WHERE user_list.type = 'CRM_BASED'");
    let q_conversion = with_status(Q_CONVERSION_ACTION, "conversion_action.status", &[], p);
    let (q_asset_group, q_listing) = super::pmax::queries(p);
    let ((labels, budgets, campaigns, ad_groups, ads, criteria, campaign_criteria, user_lists), conversion_actions) = tokio::try_join!(
        async {
            tokio::try_join!(
                search_stream(client, Q_LABEL),
                search_stream(client, &q_budget),
                search_stream(client, &q_campaign),
                search_stream(client, &q_ad_group),
                search_stream(client, &q_ad),
                search_stream(client, &q_criterion),
                search_stream(client, &q_campaign_criterion),
                search_stream(client, &q_user_list),
            )
        },
        async {
            tokio::try_join!(
                search_stream(client, &q_conversion),
                search_stream(client, Q_CUSTOM_GOAL),
                search_stream(client, Q_GOAL_CONFIG),
                search_stream(client, &q_asset_group),
                search_stream(client, &q_listing),
                search_stream(client, super::experiment::Q_EXPERIMENT),
                search_stream(client, super::experiment::Q_ARM),
            )
        },
    )?;
    let (conversion_actions, custom_goals, goal_configs, asset_groups, listing_filters, experiments, experiment_arms) =
        conversion_actions;
    let user_lists = user_lists
        .into_iter()
        .filter(|r| {
            r.get("userList")
                .and_then(|u| get_str(u, "type"))
                .is_none_or(|t| t == "CRM_BASED")
        })
        .collect();
    Ok(Raw {
        labels,
        budgets,
        campaigns,
        ad_groups,
        ads,
        criteria,
        campaign_criteria,
        user_lists,
        conversion_actions,
        custom_goals,
        goal_configs,
        asset_groups,
        listing_filters,
        experiments,
        experiment_arms,
    })
}

/// Live custom conversion goals: resource name → (name, its conversion actions' resource names).
pub fn goal_actions(goals: &[Json]) -> HashMap<String, (String, BTreeSet<String>)> {
    goals
        .iter()
        .filter_map(|r| r.get("customConversionGoal"))
        .filter(|g| get_str(g, "status").is_none_or(|s| s == "ENABLED"))
        .filter_map(|g| {
            let actions = g
                .get("conversionActions")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect();
            Some((
                get_str(g, "resourceName")?.to_string(),
                (get_str(g, "name").unwrap_or_default().to_string(), actions),
            ))
        })
        .collect()
}

const GOALS_TAG: &str = " goals:";

/// A fingerprint of what the campaigns bid on: each CAMPAIGN-level config's goal and each live goal's actions.
pub fn goals_fingerprint(goals: &[Json], configs: &[Json]) -> String {
    let mut lines: BTreeSet<String> = configs
        .iter()
        .filter_map(|r| r.get("conversionGoalCampaignConfig"))
        .filter(|c| get_str(c, "goalConfigLevel") == Some("CAMPAIGN"))
        .map(|c| {
            format!(
                "{} {}",
                get_str(c, "campaign").unwrap_or_default(),
                get_str(c, "customConversionGoal").unwrap_or_default()
            )
        })
        .collect();
    for (rn, (name, actions)) in goal_actions(goals) {
        lines.insert(format!(
            "{rn} {name} {}",
            actions.into_iter().collect::<Vec<_>>().join(",")
        ));
    }
    let text: Vec<String> = lines.into_iter().collect();
    crate::spec::audience::sha256_hex(&text.join("\n"))[..16].to_string()
}

/// The marker of a full read: the change_status time and the goals' fingerprint.
pub fn join_marker(time: &str, goals_fp: &str) -> String {
    format!("{time}{GOALS_TAG}{goals_fp}")
}

/// A marker's change_status time and goals' fingerprint (an older marker without one: that of no goals).
pub fn split_marker(marker: &str) -> (&str, String) {
    match marker.split_once(GOALS_TAG) {
        Some((t, fp)) => (t, fp.to_string()),
        None => (marker, goals_fingerprint(&[], &[])),
    }
}

/// A campaign's `conversion_goals`: references to the conversion actions of its custom goal; empty when it bids
/// on the account's goals (or its config is not read). An action not read (removed) is named by its id, so
/// that it shows as a difference.
fn campaign_goals(
    acct: &Address,
    campaign_rn: &str,
    configs: &HashMap<&str, &Json>,
    goals: &HashMap<String, (String, BTreeSet<String>)>,
    action_names: &HashMap<&str, &str>,
) -> Value {
    let goal = configs
        .get(campaign_rn)
        .filter(|c| get_str(c, "goalConfigLevel") == Some("CAMPAIGN"))
        .and_then(|c| get_str(c, "customConversionGoal"));
    let actions = goal
        .and_then(|g| goals.get(g))
        .map(|(_, a)| a.clone())
        .unwrap_or_default();
    Value::Set(
        actions
            .iter()
            .map(|rn| {
                let name = action_names
                    .get(rn.as_str())
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| id_of(rn));
                Value::reference(acct.child(Kind::Conversion, name))
            })
            .collect(),
    )
}

/// Not removed, or pinned (composite ids `adGroupId~adId` may be pinned by either form).
fn kept(status: Option<&str>, id: &str, pinned: &BTreeSet<String>) -> bool {
    status != Some("REMOVED") || pinned.contains(id) || id.rsplit_once('~').is_some_and(|(_, own)| pinned.contains(own))
}

/// Ids of the labels attached to a campaign, ad group or ad group ad: its `labels` field, the resource names
/// of the labels (absent when there are none: proto3 JSON omits an empty repeated field).
fn label_ids(object: &Json) -> impl Iterator<Item = String> + '_ {
    object
        .get("labels")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .map(id_of)
}

fn has_label(object: &Json, label_id: Option<&str>) -> bool {
    let Some(label) = label_id else { return false };
    label_ids(object).any(|l| l == label)
}

fn label_names(object: &Json, names: &HashMap<String, String>) -> Value {
    let set: BTreeSet<Value> = label_ids(object)
        .filter_map(|id| names.get(&id))
        .filter(|n| n.as_str() != OWNER_LABEL)
        .map(|n| Value::str(n.clone()))
        .collect();
    Value::Set(set)
}

/// Context kept for apply: the own budget of each campaign, the strategy in force.
#[derive(Clone, Debug, Default)]
pub struct CampaignContext {
    pub budget_rn: Option<String>,
    pub strategy: Option<String>,
    /// The budget is the campaign's own (not explicitly shared): it goes when the campaign goes.
    pub own_budget: bool,
    /// Whether the campaign bids on a custom conversion goal (its config at `CAMPAIGN` level); `None` when not
    /// read. Removing such a campaign first sets its config back to the account's goals, so that the goal, if it
    /// is adsctl's and nothing else uses it, can be removed after (a removed campaign's config still links it).
    pub goal_linked: Option<bool>,
}

/// Address the raw rows into resources.
pub fn to_resources(account: &str, raw: &Raw, pinned: &[String]) -> Vec<Resource> {
    let pinned: BTreeSet<String> = pinned.iter().cloned().collect();
    let acct = Address::account(account);
    let owner = owner_label(&raw.labels).map(|rn| id_of(&rn));
    let owner = owner.as_deref();
    let names_by_id: HashMap<String, String> = raw
        .labels
        .iter()
        .filter_map(|r| r.get("label"))
        .filter_map(|l| Some((id_of(get_str(l, "resourceName")?), get_str(l, "name")?.to_string())))
        .collect();
    let mut out = Vec::new();

    // Budgets: shared ones are resources; own ones fold into their campaign. A shared budget has no marker:
    // it is adsctl's when adsctl's campaigns use it and nobody else's do (decided once the campaigns are read).
    let mut budgets: HashMap<String, (&Json, bool)> = HashMap::new();
    let mut shared_budgets: Vec<(String, usize)> = Vec::new();
    for b in raw.budgets.iter().filter_map(|r| r.get("campaignBudget")) {
        let Some(rn) = get_str(b, "resourceName") else { continue };
        let shared = mapping::get_bool(b, "explicitlyShared").unwrap_or(false);
        budgets.insert(rn.to_string(), (b, shared));
        let id = get_str(b, "id").map(str::to_string).unwrap_or_else(|| id_of(rn));
        if shared && kept(get_str(b, "status"), &id, &pinned) {
            let name = get_str(b, "name").unwrap_or(&id).to_string();
            let mut r = Resource::new(acct.child(Kind::Budget, name), Kind::Budget);
            r.id = Some(id);
            r.fields = mapping::budget_fields(b).into();
            shared_budgets.push((rn.to_string(), out.len()));
            out.push(r);
        }
    }
    // Shared budget resource name → (used by an owned campaign, used by another campaign).
    let mut budget_users: HashMap<String, (bool, bool)> = HashMap::new();
    let budget_names: HashMap<&str, String> = budgets
        .iter()
        .filter(|(_, (_, shared))| *shared)
        .map(|(rn, (b, _))| (rn.as_str(), get_str(b, "name").unwrap_or_default().to_string()))
        .collect();

    // The conversion actions each campaign bids on: its config's custom goal's, by name.
    let goal_configs: HashMap<&str, &Json> = raw
        .goal_configs
        .iter()
        .filter_map(|r| r.get("conversionGoalCampaignConfig"))
        .filter_map(|c| Some((get_str(c, "campaign")?, c)))
        .collect();
    let goal_actions = goal_actions(&raw.custom_goals);
    let action_names: HashMap<&str, &str> = raw
        .conversion_actions
        .iter()
        .filter_map(|r| r.get("conversionAction"))
        .filter_map(|c| Some((get_str(c, "resourceName")?, get_str(c, "name")?)))
        .collect();

    // Campaigns.
    let mut campaigns: HashMap<String, Address> = HashMap::new();
    for c in raw.campaigns.iter().filter_map(|r| r.get("campaign")) {
        let (Some(rn), Some(name)) = (get_str(c, "resourceName"), get_str(c, "name")) else {
            continue;
        };
        let id = get_str(c, "id").map(str::to_string).unwrap_or_else(|| id_of(rn));
        if !kept(get_str(c, "status"), &id, &pinned) || super::experiment::is_trial_campaign(c) {
            // an experiment's trial campaign is part of the experiment (its `trial.*`)
            continue;
        }
        let addr = acct.child(Kind::Campaign, name);
        let mut r = Resource::new(addr.clone(), Kind::Campaign);
        r.id = Some(id);
        r.fields = mapping::campaign_fields(c).into();
        if let Some(brn) = get_str(c, "campaignBudget") {
            match budgets.get(brn) {
                Some((_, true)) => {
                    if let Some(n) = budget_names.get(brn) {
                        r.fields
                            .insert("budget.shared", Value::reference(acct.child(Kind::Budget, n.clone())));
                    }
                }
                Some((b, false)) => {
                    if let Some(m) = get_i64(b, "amountMicros") {
                        r.fields
                            .insert("budget.daily", Value::Money(crate::model::Money::from_micros(m)));
                    }
                    if let Some(d) = get_str(b, "deliveryMethod") {
                        r.fields.insert("budget.delivery_method", Value::str(lower(d)));
                    }
                }
                None => {}
            }
        }
        r.fields.insert("labels", label_names(c, &names_by_id));
        r.fields.insert(
            "conversion_goals",
            campaign_goals(&acct, rn, &goal_configs, &goal_actions, &action_names),
        );
        r.owned = has_label(c, owner);
        if let Some(brn) = get_str(c, "campaignBudget") {
            let users = budget_users.entry(brn.to_string()).or_default();
            if r.owned {
                users.0 = true;
            } else {
                users.1 = true;
            }
        }
        campaigns.insert(rn.to_string(), addr);
        out.push(r);
    }
    for (brn, i) in shared_budgets {
        let (by_owned, by_other) = budget_users.get(&brn).copied().unwrap_or_default();
        out[i].owned = by_owned && !by_other;
        out[i].in_use_by_unmanaged = by_other;
    }

    // Ad groups.
    let mut ad_groups: HashMap<String, Address> = HashMap::new();
    for g in raw.ad_groups.iter().filter_map(|r| r.get("adGroup")) {
        let (Some(rn), Some(name)) = (get_str(g, "resourceName"), get_str(g, "name")) else {
            continue;
        };
        let id = get_str(g, "id").map(str::to_string).unwrap_or_else(|| id_of(rn));
        let Some(parent) = get_str(g, "campaign").and_then(|c| campaigns.get(c)) else {
            continue;
        };
        if !kept(get_str(g, "status"), &id, &pinned) {
            continue;
        }
        let addr = parent.child(Kind::AdGroup, name);
        let mut r = Resource::new(addr.clone(), Kind::AdGroup);
        r.id = Some(id);
        r.fields = mapping::ad_group_fields(g).into();
        r.owned = has_label(g, owner);
        ad_groups.insert(rn.to_string(), addr);
        out.push(r);
    }

    // Asset groups of Performance Max campaigns, with their listing group trees.
    out.extend(super::pmax::resources(
        &acct,
        &raw.asset_groups,
        &raw.listing_filters,
        &campaigns,
        |status, id| kept(status, id, &pinned),
    ));

    // Ads: position among the ad group's ads by ascending ad id.
    let mut by_group: BTreeMap<String, Vec<(i64, &Json)>> = BTreeMap::new();
    for a in raw.ads.iter().filter_map(|r| r.get("adGroupAd")) {
        let Some(g) = get_str(a, "adGroup") else { continue };
        let rn = get_str(a, "resourceName").unwrap_or_default();
        let ad_id = get_i64(a, "ad.id")
            .unwrap_or_else(|| id_of(rn).rsplit('~').next().and_then(|s| s.parse().ok()).unwrap_or(0));
        if !kept(get_str(a, "status"), &id_of(rn), &pinned) {
            continue;
        }
        if get_str(a, "ad.type").is_some_and(|t| t != "RESPONSIVE_SEARCH_AD") {
            continue;
        }
        by_group.entry(g.to_string()).or_default().push((ad_id, a));
    }
    for (g, mut ads) in by_group {
        let Some(parent) = ad_groups.get(&g) else { continue };
        ads.sort_by_key(|(id, _)| *id);
        for (i, (_, a)) in ads.into_iter().enumerate() {
            let rn = get_str(a, "resourceName").unwrap_or_default();
            let mut r = Resource::new(parent.child(Kind::Ad, (i + 1).to_string()), Kind::Ad);
            r.id = Some(id_of(rn));
            r.fields = mapping::ad_fields(a).into();
            r.owned = has_label(a, owner);
            if let Some(s) = get_str(a, "policySummary.approvalStatus") {
                r.observed.insert("approval_status", lower(s));
            }
            out.push(r);
        }
    }

    // Keywords and ad-group negative keywords.
    for k in raw.criteria.iter().filter_map(|r| r.get("adGroupCriterion")) {
        let (Some(rn), Some(g)) = (get_str(k, "resourceName"), get_str(k, "adGroup")) else {
            continue;
        };
        let Some(parent) = ad_groups.get(g) else { continue };
        let (Some(text), Some(mt)) = (get_str(k, "keyword.text"), get_str(k, "keyword.matchType")) else {
            continue;
        };
        if !kept(get_str(k, "status"), &id_of(rn), &pinned) {
            continue;
        }
        let negative = mapping::get_bool(k, "negative").unwrap_or(false);
        let kind = if negative { Kind::NegativeKeyword } else { Kind::Keyword };
        let mut r = Resource::new(parent.child(kind, mapping::keyword_key(text, mt)), kind);
        r.id = Some(id_of(rn));
        r.fields = mapping::keyword_fields(k).into();
        if negative {
            r.fields.retain(|k, _| k == "text" || k == "match_type");
        } else {
            // Negative criteria cannot carry labels (CANNOT_APPLY_LABEL_TO_NEGATIVE_AD_GROUP_CRITERION).
            r.owned = has_label(k, owner);
        }
        out.push(r);
    }

    // Campaign-level negative keywords (no labels on campaign criteria).
    for k in raw.campaign_criteria.iter().filter_map(|r| r.get("campaignCriterion")) {
        let (Some(rn), Some(c)) = (get_str(k, "resourceName"), get_str(k, "campaign")) else {
            continue;
        };
        let Some(parent) = campaigns.get(c) else { continue };
        let (Some(text), Some(mt)) = (get_str(k, "keyword.text"), get_str(k, "keyword.matchType")) else {
            continue;
        };
        if !mapping::get_bool(k, "negative").unwrap_or(false) || !kept(get_str(k, "status"), &id_of(rn), &pinned) {
            continue;
        }
        let kind = Kind::NegativeKeyword;
        let mut r = Resource::new(parent.child(kind, mapping::keyword_key(text, mt)), kind);
        r.id = Some(id_of(rn));
        r.fields = mapping::keyword_fields(k).into();
        r.fields.retain(|k, _| k == "text" || k == "match_type");
        out.push(r);
    }

    // Customer Match user lists.
    for u in raw.user_lists.iter().filter_map(|r| r.get("userList")) {
        let (Some(rn), Some(name)) = (get_str(u, "resourceName"), get_str(u, "name")) else {
            continue;
        };
        let id = get_str(u, "id").map(str::to_string).unwrap_or_else(|| id_of(rn));
        if get_str(u, "membershipStatus") == Some("CLOSED") && !pinned.contains(&id) {
            continue;
        }
        let mut r = Resource::new(acct.child(Kind::Audience, name), Kind::Audience);
        r.id = Some(id);
        r.fields = mapping::audience_fields(u).into();
        // User lists have no labels: adsctl marks the ones it creates (or adopts) in `integrationCode`, the
        // field meant for an external system's id, with the fingerprint of the members it last uploaded.
        if let Some(marker) = get_str(u, "integrationCode").and_then(parse_list_marker) {
            r.owned = true;
            if let Some(fp) = marker {
                r.observed.insert(fingerprint_key("members"), fp.to_string());
            }
        }
        out.push(r);
    }

    // Conversion actions: no labels and no free text field, so no marker (docs/resource-model.md): the YAML
    // declaring one is what makes it adsctl's.
    for c in raw.conversion_actions.iter().filter_map(|r| r.get("conversionAction")) {
        let (Some(rn), Some(name)) = (get_str(c, "resourceName"), get_str(c, "name")) else {
            continue;
        };
        let id = get_str(c, "id").map(str::to_string).unwrap_or_else(|| id_of(rn));
        if !kept(get_str(c, "status"), &id, &pinned) {
            continue;
        }
        let mut r = Resource::new(acct.child(Kind::Conversion, name), Kind::Conversion);
        r.id = Some(id);
        r.fields = mapping::conversion_fields(c).into();
        out.push(r);
    }

    // Experiments: the base campaign by address, the trial's settings from its campaign row.
    let rows: HashMap<&str, &Json> = raw
        .campaigns
        .iter()
        .filter_map(|r| r.get("campaign"))
        .filter_map(|c| Some((get_str(c, "resourceName")?, c)))
        .collect();
    let pinned: Vec<String> = pinned.into_iter().collect();
    out.extend(super::experiment::resources(
        &acct,
        &raw.experiments,
        &raw.experiment_arms,
        &campaigns,
        &rows,
        &pinned,
    ));
    out
}

/// The `integrationCode` adsctl writes on its user lists: `adsctl-managed`, or `adsctl-managed:<fingerprint>`
/// once the members given by the fingerprint (`model::value_fingerprint`) are uploaded.
pub fn list_marker(members_fingerprint: Option<&str>) -> String {
    match members_fingerprint {
        Some(fp) => format!("{OWNER_LABEL}:{fp}"),
        None => OWNER_LABEL.to_string(),
    }
}

/// `Some(fingerprint)` when `code` is adsctl's marker.
fn parse_list_marker(code: &str) -> Option<Option<&str>> {
    if code == OWNER_LABEL {
        return Some(None);
    }
    let fp = code.strip_prefix(OWNER_LABEL)?.strip_prefix(':')?;
    (fp.len() == 16 && fp.bytes().all(|b| b.is_ascii_hexdigit())).then_some(Some(fp))
}

/// `change_status` rows since a marker (`yyyy-MM-dd HH:mm:ss[.ffffff]`, the account's time zone).
pub fn change_status_query(since: &str, until: &str) -> String {
    format!(
        "SELECT change_status.resource_name, change_status.last_change_date_time, change_status.resource_type, \
         change_status.resource_status FROM change_status WHERE change_status.last_change_date_time > '{since}' \
         AND change_status.last_change_date_time <= '{until}' ORDER BY change_status.last_change_date_time DESC \
         LIMIT 10000"
    )
}

/// The newest change time among change_status rows.
pub fn newest_change(rows: &[Json]) -> Option<String> {
    rows.iter()
        .filter_map(|r| r.get("changeStatus").and_then(|c| get_str(c, "lastChangeDateTime")))
        .max()
        .map(str::to_string)
}

/// Ids of objects removed according to change_status rows.
pub fn removed_ids(rows: &[Json]) -> Vec<String> {
    rows.iter()
        .filter_map(|r| r.get("changeStatus"))
        .filter(|c| get_str(c, "resourceStatus") == Some("REMOVED"))
        .filter_map(|c| {
            [
                "campaign",
                "adGroup",
                "adGroupAd",
                "adGroupCriterion",
                "campaignCriterion",
                "campaignBudget",
            ]
            .iter()
            .find_map(|k| get_str(c, k))
            .map(id_of)
        })
        .collect()
}

/// Campaign ids → own budget and strategy (for updates), in one query.
pub async fn campaign_context(
    client: &Client,
    ids: &[String],
) -> Result<HashMap<String, CampaignContext>, GoogleAdsError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let q = format!(
        "SELECT campaign.id, campaign.campaign_budget, campaign.bidding_strategy_type FROM campaign \
         WHERE campaign.id IN ({})",
        in_list(ids)
    );
    let rows = search_stream(client, &q).await?;
    let mut out: HashMap<String, CampaignContext> = rows
        .iter()
        .filter_map(|r| r.get("campaign"))
        .filter_map(|c| {
            let id = get_str(c, "id")
                .map(str::to_string)
                .or_else(|| get_str(c, "resourceName").map(id_of))?;
            Some((
                id,
                CampaignContext {
                    budget_rn: get_str(c, "campaignBudget").map(str::to_string),
                    strategy: mapping::strategy_of(c),
                    own_budget: false,
                    goal_linked: None,
                },
            ))
        })
        .collect();
    let budget_ids: Vec<String> = out.values().filter_map(|c| c.budget_rn.clone()).collect();
    if !budget_ids.is_empty() {
        let q = format!(
            "SELECT campaign_budget.resource_name, campaign_budget.explicitly_shared FROM campaign_budget \
             WHERE campaign_budget.id IN ({})",
            in_list(&budget_ids)
        );
        let own: BTreeSet<String> = search_stream(client, &q)
            .await?
            .iter()
            .filter_map(|r| r.get("campaignBudget"))
            .filter(|b| !mapping::get_bool(b, "explicitlyShared").unwrap_or(false))
            .filter_map(|b| get_str(b, "resourceName").map(str::to_string))
            .collect();
        for c in out.values_mut() {
            c.own_budget = c.budget_rn.as_ref().is_some_and(|b| own.contains(b));
        }
    }
    Ok(out)
}

/// What an apply needs to know about an account besides the operations, learnt from the plan's read so that
/// applying sends no read of its own: the labels by name, and each campaign's budget and bidding strategy.
#[derive(Clone, Debug, Default)]
pub struct ApplyContext {
    pub labels: HashMap<String, String>,
    /// Campaign id → context.
    pub campaigns: HashMap<String, CampaignContext>,
    /// Asset group id → its listing group filters, deepest first (what replacing its tree removes).
    pub trees: HashMap<String, Vec<String>>,
}

impl ApplyContext {
    pub fn of(raw: &Raw) -> ApplyContext {
        let shared: HashMap<&str, bool> = raw
            .budgets
            .iter()
            .filter_map(|r| r.get("campaignBudget"))
            .filter_map(|b| {
                Some((
                    get_str(b, "resourceName")?,
                    mapping::get_bool(b, "explicitlyShared").unwrap_or(false),
                ))
            })
            .collect();
        let linked: HashSet<String> = raw
            .goal_configs
            .iter()
            .filter_map(|r| r.get("conversionGoalCampaignConfig"))
            .filter(|c| get_str(c, "goalConfigLevel") == Some("CAMPAIGN"))
            .filter_map(|c| get_str(c, "campaign").map(id_of))
            .collect();
        let campaigns = raw
            .campaigns
            .iter()
            .filter_map(|r| r.get("campaign"))
            .filter_map(|c| {
                let id = get_str(c, "id")
                    .map(str::to_string)
                    .or_else(|| get_str(c, "resourceName").map(id_of))?;
                let budget_rn = get_str(c, "campaignBudget").map(str::to_string);
                let own_budget = budget_rn.as_deref().is_some_and(|b| shared.get(b).is_some_and(|s| !s));
                let goal_linked = Some(linked.contains(&id));
                Some((
                    id,
                    CampaignContext {
                        budget_rn,
                        strategy: mapping::strategy_of(c),
                        own_budget,
                        goal_linked,
                    },
                ))
            })
            .collect();
        ApplyContext {
            labels: labels_by_name(&raw.labels),
            campaigns,
            trees: super::pmax::removal_order(&raw.listing_filters),
        }
    }
}

/// Build a full snapshot.
pub fn snapshot(account: &str, raw: &Raw, pinned: &[String], marker: Option<String>) -> LiveSnapshot {
    LiveSnapshot {
        resources: to_resources(account, raw, pinned),
        removed_ids: Vec::new(),
        complete: true,
        marker,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> Raw {
        Raw {
            labels: vec![
                json!({"label": {"resourceName": "customers/1/labels/9", "id": "9", "name": "adsctl-managed"}}),
                json!({"label": {"resourceName": "customers/1/labels/8", "id": "8", "name": "brand"}}),
            ],
            budgets: vec![
                json!({"campaignBudget": {"resourceName": "customers/1/campaignBudgets/11", "id": "11", "name": "Spring", "amountMicros": "50000000", "deliveryMethod": "STANDARD", "explicitlyShared": false, "status": "ENABLED"}}),
                json!({"campaignBudget": {"resourceName": "customers/1/campaignBudgets/12", "id": "12", "name": "Pool", "amountMicros": "90000000", "explicitlyShared": true, "status": "ENABLED"}}),
            ],
            campaigns: vec![
                json!({"campaign": {"resourceName": "customers/1/campaigns/21", "id": "21", "name": "Spring", "status": "ENABLED", "advertisingChannelType": "SEARCH", "campaignBudget": "customers/1/campaignBudgets/11", "labels": ["customers/1/labels/9", "customers/1/labels/8"]}}),
                json!({"campaign": {"resourceName": "customers/1/campaigns/22", "id": "22", "name": "Pooled", "status": "PAUSED", "advertisingChannelType": "SEARCH", "campaignBudget": "customers/1/campaignBudgets/12"}}),
                json!({"campaign": {"resourceName": "customers/1/campaigns/23", "id": "23", "name": "Gone", "status": "REMOVED"}}),
            ],
            ad_groups: vec![
                json!({"adGroup": {"resourceName": "customers/1/adGroups/31", "id": "31", "name": "Shoes", "status": "ENABLED", "campaign": "customers/1/campaigns/21", "cpcBidMicros": "1200000", "labels": ["customers/1/labels/9"]}}),
            ],
            ads: vec![
                json!({"adGroupAd": {"resourceName": "customers/1/adGroupAds/31~102", "adGroup": "customers/1/adGroups/31", "status": "ENABLED", "ad": {"id": "102", "type": "RESPONSIVE_SEARCH_AD", "responsiveSearchAd": {"headlines": [{"text": "B"}]}}}}),
                json!({"adGroupAd": {"resourceName": "customers/1/adGroupAds/31~41", "adGroup": "customers/1/adGroups/31", "status": "ENABLED", "ad": {"id": "41", "type": "RESPONSIVE_SEARCH_AD", "responsiveSearchAd": {"headlines": [{"text": "A"}]}}, "labels": ["customers/1/labels/8", "customers/1/labels/9"]}}),
            ],
            criteria: vec![
                json!({"adGroupCriterion": {"resourceName": "customers/1/adGroupCriteria/31~5", "criterionId": "5", "adGroup": "customers/1/adGroups/31", "status": "ENABLED", "negative": false, "keyword": {"text": "Running Shoes", "matchType": "PHRASE"}, "labels": ["customers/1/labels/9"]}}),
                json!({"adGroupCriterion": {"resourceName": "customers/1/adGroupCriteria/31~7", "criterionId": "7", "adGroup": "customers/1/adGroups/31", "status": "ENABLED", "negative": false, "keyword": {"text": "added in the ui", "matchType": "EXACT"}}}),
                json!({"adGroupCriterion": {"resourceName": "customers/1/adGroupCriteria/31~6", "criterionId": "6", "adGroup": "customers/1/adGroups/31", "status": "ENABLED", "negative": true, "keyword": {"text": "free", "matchType": "BROAD"}}}),
            ],
            campaign_criteria: vec![
                json!({"campaignCriterion": {"resourceName": "customers/1/campaignCriteria/21~8", "criterionId": "8", "campaign": "customers/1/campaigns/21", "status": "ENABLED", "negative": true, "keyword": {"text": "cheap", "matchType": "PHRASE"}}}),
            ],
            user_lists: vec![
                json!({"userList": {"resourceName": "customers/1/userLists/77", "id": "77", "name": "Subs", "description": "d", "membershipLifeSpan": "30", "type": "CRM_BASED", "membershipStatus": "OPEN", "integrationCode": "adsctl-managed:0123456789abcdef"}}),
                json!({"userList": {"resourceName": "customers/1/userLists/78", "id": "78", "name": "Theirs", "type": "CRM_BASED", "membershipStatus": "OPEN", "integrationCode": "crm-42"}}),
            ],
            conversion_actions: vec![
                json!({"conversionAction": {"resourceName": "customers/1/conversionActions/91", "id": "91", "name": "Purchase", "status": "ENABLED", "type": "WEBPAGE", "primaryForGoal": true}}),
                json!({"conversionAction": {"resourceName": "customers/1/conversionActions/92", "id": "92", "name": "Old", "status": "REMOVED", "type": "WEBPAGE"}}),
            ],
            custom_goals: vec![
                json!({"customConversionGoal": {"resourceName": "customers/1/customConversionGoals/5", "name": "adsctl: Purchase", "status": "ENABLED", "conversionActions": ["customers/1/conversionActions/91", "customers/1/conversionActions/93"]}}),
            ],
            goal_configs: vec![
                json!({"conversionGoalCampaignConfig": {"campaign": "customers/1/campaigns/21", "goalConfigLevel": "CAMPAIGN", "customConversionGoal": "customers/1/customConversionGoals/5"}}),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn the_marker_carries_the_goals_fingerprint() {
        let r = raw();
        let fp = goals_fingerprint(&r.custom_goals, &r.goal_configs);
        let m = join_marker("2026-01-02 03:04:05.000000", &fp);
        assert_eq!(split_marker(&m), ("2026-01-02 03:04:05.000000", fp.clone()));
        assert_eq!(
            split_marker("2026-01-02 03:04:05.000000").1,
            goals_fingerprint(&[], &[])
        );
        assert_ne!(
            fp,
            goals_fingerprint(&r.custom_goals, &[]),
            "a config back at the account's goals"
        );
    }

    #[test]
    fn campaign_conversion_goals_are_its_custom_goals_actions_by_name() {
        let rs = to_resources("acme", &raw(), &[]);
        let spring = rs
            .iter()
            .find(|r| r.address.to_string() == "acme/campaign/Spring")
            .unwrap();
        let acct = Address::account("acme");
        // an action not read (removed) is named by its id, so it differs from any declared name
        let want = Value::Set(
            [
                Value::reference(acct.child(Kind::Conversion, "Purchase")),
                Value::reference(acct.child(Kind::Conversion, "93")),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(spring.fields["conversion_goals"], want);
        let others: Vec<&Resource> = rs
            .iter()
            .filter(|r| r.kind == Kind::Campaign && r.address.to_string() != "acme/campaign/Spring")
            .collect();
        for c in others {
            assert_eq!(
                c.fields["conversion_goals"],
                Value::Set(Default::default()),
                "{}",
                c.address
            );
        }
    }

    #[test]
    fn conversion_actions_are_unmarked_and_removed_ones_gone() {
        let rs = to_resources("acme", &raw(), &[]);
        let c: Vec<&Resource> = rs.iter().filter(|r| r.kind == Kind::Conversion).collect();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].address.to_string(), "acme/conversion/Purchase");
        assert_eq!(c[0].id.as_deref(), Some("91"));
        assert!(!c[0].owned, "no marker exists on a conversion action");
        assert_eq!(c[0].fields.get("type"), Some(&Value::str("webpage")));
        // pinned, a removed one is read (its id is the user's word)
        let pinned = to_resources("acme", &raw(), &["92".to_string()]);
        assert!(pinned.iter().any(|r| r.address.to_string() == "acme/conversion/Old"));
    }

    #[test]
    fn addresses_and_ownership() {
        let rs = to_resources("acme", &raw(), &[]);
        let by: HashMap<String, &Resource> = rs.iter().map(|r| (r.address.to_string(), r)).collect();
        let spring = by["acme/campaign/Spring"];
        assert!(spring.owned);
        assert_eq!(
            spring.fields["budget.daily"],
            Value::Money(crate::model::Money::from_micros(50_000_000))
        );
        assert_eq!(spring.fields["labels"], Value::Set([Value::str("brand")].into()));
        let pooled = by["acme/campaign/Pooled"];
        assert!(!pooled.owned);
        assert_eq!(
            pooled.fields["budget.shared"],
            Value::reference("acme/budget/Pool".parse().unwrap())
        );
        assert!(by.contains_key("acme/budget/Pool"));
        assert!(
            !by.contains_key("acme/budget/Spring"),
            "own budgets fold into the campaign"
        );
        assert!(!by.contains_key("acme/campaign/Gone"));
        // RSA positions by ascending ad id.
        let first = by["acme/campaign/Spring/ad_group/Shoes/ad/1"];
        assert_eq!(first.id.as_deref(), Some("31~41"));
        assert!(first.owned, "owner label among the ad's labels");
        let second = by["acme/campaign/Spring/ad_group/Shoes/ad/2"];
        assert_eq!(second.id.as_deref(), Some("31~102"));
        assert!(!second.owned, "no labels field: unowned");
        assert!(by["acme/campaign/Spring/ad_group/Shoes"].owned);
        let kw = by["acme/campaign/Spring/ad_group/Shoes/keyword/running shoes:phrase"];
        assert!(kw.owned, "owner label among the keyword's labels");
        assert_eq!(kw.id.as_deref(), Some("31~5"));
        let theirs = by["acme/campaign/Spring/ad_group/Shoes/keyword/added in the ui:exact"];
        assert!(
            !theirs.owned,
            "a keyword without the label is someone else's, whoever owns its ad group"
        );
        let negative = by["acme/campaign/Spring/ad_group/Shoes/negative_keyword/free:broad"];
        assert!(!negative.owned, "negatives carry no marker");
        let cneg = by["acme/campaign/Spring/negative_keyword/cheap:phrase"];
        assert_eq!(cneg.id.as_deref(), Some("21~8"));
        assert_eq!(cneg.fields["match_type"], Value::str("phrase"));
        // The shared budget is used by a campaign adsctl does not own.
        assert!(!by["acme/budget/Pool"].owned);
        assert!(by["acme/budget/Pool"].in_use_by_unmanaged);
        let subs = by["acme/audience/Subs"];
        assert!(subs.owned);
        assert_eq!(
            subs.observed
                .get(fingerprint_key("members").as_str())
                .map(String::as_str),
            Some("0123456789abcdef")
        );
        assert!(!by["acme/audience/Theirs"].owned);
        assert_eq!(
            by["acme/audience/Subs"].fields["membership_life_span_days"],
            Value::Int(30)
        );
    }

    #[test]
    fn pinned_removed_objects_are_kept() {
        let rs = to_resources("acme", &raw(), &["23".to_string()]);
        assert!(rs.iter().any(|r| r.address.to_string() == "acme/campaign/Gone"));
        assert!(with_status(Q_CAMPAIGN, "campaign.status", &[], false).ends_with("WHERE campaign.status != 'REMOVED'"));
        assert!(!with_status(Q_CAMPAIGN, "campaign.status", &[], true).contains("WHERE"));
    }

    #[test]
    fn stream_chunks_and_change_status() {
        let body = r#"[{"results":[{"campaign":{"id":"1"}}],"fieldMask":"campaign.id"},{"results":[{"campaign":{"id":"2"}}]}]"#;
        assert_eq!(rows_of_stream(body).unwrap().len(), 2);
        assert_eq!(rows_of_stream("[]").unwrap().len(), 0);
        let rows = vec![
            json!({"changeStatus": {"lastChangeDateTime": "2026-01-02 10:00:00.000001", "resourceStatus": "REMOVED", "campaign": "customers/1/campaigns/4"}}),
            json!({"changeStatus": {"lastChangeDateTime": "2026-01-02 11:00:00", "resourceStatus": "CHANGED", "adGroup": "customers/1/adGroups/5"}}),
        ];
        assert_eq!(newest_change(&rows).as_deref(), Some("2026-01-02 11:00:00"));
        assert_eq!(removed_ids(&rows), vec!["4".to_string()]);
    }
}
