//! Google Ads experiments as code (`experiments:` of a Google Ads account): the YAML, its lowering to a
//! `Kind::Experiment` resource, the read (GAQL over `experiment`, `experiment_arm` and the trial campaign), and
//! the apply: create the experiment, its two arms (control on the base campaign, treatment at the traffic
//! split), change the in-design campaign with the trial's settings, schedule it (a long-running operation), and
//! promote or end it when the YAML's `action` says so.
//!
//! Ownership: the experiment's description ends with the marker `adsctl-managed` (the description is free text
//! the platform returns, as a Meta audience's is); an experiment without it is someone else's.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use crate::connectors::{IdRef, OpAction, OpError, OpOutcome, Operation};
use crate::model::{Account, Address, Kind, Resource, Value};
use crate::spec::de::{Opt, Spanned};
use crate::spec::error::{did_you_mean, Code};
use crate::spec::lower::Lower;
use crate::spec::types::*;

use super::client::{Client, Replay};
use super::config::OWNER_LABEL;
use super::errors::GoogleAdsError;
use super::mapping::{self, get_str, id_of, lower, upper, Fields};

type S<T> = Spanned<T>;

// ---------------------------------------------------------------------------------------------------------
// YAML

/// A Google Ads experiment (`experiments:` of a Google Ads account): the base campaign, the trial arm's
/// changed settings, the traffic split, the dates and what to do with it (`action`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Experiment")]
#[schemars(rename = "GoogleExperiment")]
pub struct GoogleExperiment {
    /// Unique name within the account. The trial campaign is named `<base campaign> [<name>]`.
    pub name: S<String>,
    /// The Google Ads account (local name from adsctl.yaml).
    pub account: S<String>,
    /// Adopt an existing experiment by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The experiment type (`search_custom`, the default, or `display_custom`). Cannot change once made.
    #[serde(default, rename = "type")]
    pub kind: Opt<ExperimentType>,
    /// The base campaign (its YAML name, in the same account): the control arm. It needs its own daily budget.
    pub base_campaign: S<String>,
    /// The share of traffic (and so of the base campaign's budget) the trial gets, in percent (1–99); the
    /// control arm gets the rest. Cannot change once the experiment runs.
    pub traffic_split: S<u32>,
    /// First day (`YYYY-MM-DD`, not in the past when the experiment is made; default: the day it is scheduled).
    #[serde(default)]
    pub start_date: Opt<String>,
    /// Last day (`YYYY-MM-DD`; default: the base campaign's end).
    #[serde(default)]
    pub end_date: Opt<String>,
    /// Free text (adsctl's marker is appended to it on the platform).
    #[serde(default)]
    pub description: Opt<String>,
    /// The trial arm's settings that differ from the base campaign's.
    #[serde(default)]
    pub trial: Opt<ExperimentTrial>,
    /// `run` (schedule it; the default), `promote` (apply the trial's settings to the base campaign and end the
    /// experiment) or `end` (stop it now, keeping the base as it is). Promote and end cannot be undone.
    #[serde(default)]
    pub action: Opt<ExperimentAction>,
}

/// The settings of the trial arm's campaign that differ from the base campaign's.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentTrial {
    /// Exactly one bidding strategy (as a campaign's `bidding`).
    #[serde(default)]
    pub bidding: Opt<Bidding>,
    /// Where the trial's ads may show (as a campaign's `network`).
    #[serde(default)]
    pub network: Opt<NetworkSettings>,
}

spec_enum!(
    /// Google Ads experiment type (the custom experiments of one campaign).
    ExperimentType { SearchCustom => "search_custom", DisplayCustom => "display_custom" }
);

spec_enum!(
    /// What to do with an experiment: run it, promote the trial or end it.
    ExperimentAction { Run => "run", Promote => "promote", End => "end" }
);

/// The managed fields of an experiment (`docs/resource-model.md`); the trial's are `trial.bidding.*` and
/// `trial.network.*`.
pub const EXPERIMENT_FIELDS: &[&str] = &[
    "type",
    "base_campaign",
    "traffic_split",
    "start_date",
    "end_date",
    "description",
    "action",
    "trial.bidding.strategy",
    "trial.bidding.target_cpa",
    "trial.bidding.target_roas",
    "trial.bidding.cpc_bid_ceiling",
    "trial.bidding.enhanced_cpc",
    "trial.network.google_search",
    "trial.network.search_network",
    "trial.network.content_network",
    "trial.network.partner_search_network",
];

/// The live field holding the trial arm's campaign id (`crate::metrics::addresses` reports its metrics as the
/// experiment's trial arm).
pub const TRIAL_CAMPAIGN_ID: &str = "trial_campaign_id";

/// Live `status` of an experiment nothing changes any more (`Capabilities::settled_statuses`).
pub const SETTLED: &[&str] = &["ended", "promoted", "graduated"];

// ---------------------------------------------------------------------------------------------------------
// Lowering

impl<'a> Lower<'a> {
    /// A Google Ads experiment: its base campaign (declared in the same account, on its own daily budget, of
    /// the type's channel), split, dates, trial settings and action.
    pub(crate) fn google_experiment(&mut self, acct: &Account, e: GoogleExperiment) {
        let Some(mut r) = self.account_resource(acct, Kind::Experiment, "experiment", &e.name, &e.id, &e.lifecycle)
        else {
            return;
        };
        let kind = e.kind.as_ref().map_or(ExperimentType::SearchCustom, |k| k.value);
        r.fields.insert("type", Value::str(kind.wire()));
        let base = Address::account(&acct.name);
        let target = base.child(Kind::Campaign, e.base_campaign.trim());
        if self.declared.contains_key(&target) {
            let declared = self.resources.iter().find(|c| c.address == target);
            let want = match kind {
                ExperimentType::SearchCustom => "search",
                ExperimentType::DisplayCustom => "display",
            };
            let shared = declared.is_some_and(|c| c.fields.contains_key("budget.shared"));
            let channel = declared
                .and_then(|c| c.fields.get("channel"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let channel = channel.as_deref();
            if channel.is_some_and(|c| c != want) {
                self.err(
                    e.base_campaign.span,
                    Code::Constraint,
                    format!(
                        "a {} experiment tests a {want} campaign; `{}` is a {} campaign",
                        kind.wire(),
                        e.base_campaign.value,
                        channel.unwrap_or_default()
                    ),
                    format!("name a {want} campaign, or set `type:` to the campaign's channel"),
                );
            }
            if shared {
                self.err(
                    e.base_campaign.span,
                    Code::Constraint,
                    format!(
                        "`{}` uses a shared budget; an experiment's base campaign needs its own",
                        e.base_campaign.value
                    ),
                    "give the campaign `budget: { daily: … }` (Google Ads refuses shared budgets in experiments)",
                );
            }
            r.fields.insert("base_campaign", Value::reference(target));
        } else {
            let names = self.names_of(&base, Kind::Campaign);
            let hint = match did_you_mean(&e.base_campaign, names.iter().map(String::as_str)) {
                Some(x) => format!("did you mean `{x}`?"),
                None => format!("declare the campaign under `campaigns:` with `account: {}`", acct.name),
            };
            self.err(
                e.base_campaign.span,
                Code::UnknownReference,
                format!(
                    "unknown campaign `{}` in account `{}`",
                    e.base_campaign.value, acct.name
                ),
                hint,
            );
        }
        // resources/experiment_arm.proto: "between 1 and 100 and must total 100 between the two trial arms";
        // the control arm needs at least 1 too.
        if (1..=99).contains(&e.traffic_split.value) {
            r.fields
                .insert("traffic_split", Value::Int(i64::from(e.traffic_split.value)));
        } else {
            self.err(
                e.traffic_split.span,
                Code::Constraint,
                format!(
                    "traffic_split must be 1–99 (the trial's percent), got {}",
                    e.traffic_split.value
                ),
                "the two arms share 100 %: the trial takes `traffic_split`, the base campaign the rest",
            );
        }
        let start = e.start_date.as_ref().and_then(|d| self.date(d, "start_date", &mut r));
        let end = e.end_date.as_ref().and_then(|d| self.date(d, "end_date", &mut r));
        if let (Some(s), Some(x), Some(ed)) = (start, end, &*e.end_date) {
            if x < s {
                self.err(
                    ed.span,
                    Code::Constraint,
                    format!("end_date {x} is before start_date {s}"),
                    "the end date must be on or after the start date",
                );
            }
        }
        if let Some(d) = &*e.description {
            if d.trim().is_empty() {
                self.err(d.span, Code::Constraint, "empty description", "remove it or write one");
            } else {
                r.fields.insert("description", Value::str(d.trim()));
            }
        }
        let action = e.action.as_ref().map_or(ExperimentAction::Run, |a| a.value);
        r.fields.insert("action", Value::str(action.wire()));
        if let Some(t) = &*e.trial {
            let mut scratch = Resource::new(r.address.clone(), Kind::Campaign);
            if let Some(b) = &*t.bidding {
                self.bidding(b, acct.currency, &mut scratch);
            }
            if let Some(n) = &*t.network {
                for (f, v) in [
                    ("network.google_search", &*n.google_search),
                    ("network.search_network", &*n.search_network),
                    ("network.content_network", &*n.content_network),
                    ("network.partner_search_network", &*n.partner_search_network),
                ] {
                    if let Some(v) = v {
                        scratch.fields.insert(f, Value::Bool(v.value));
                    }
                }
            }
            if scratch.fields.is_empty() && t.bidding.is_none() && t.network.is_none() {
                self.err(
                    t.span,
                    Code::MissingField,
                    "the trial changes nothing",
                    "give the trial the settings it tests: `bidding: { … }` or `network: { … }`",
                );
            }
            for (k, v) in scratch.fields.iter() {
                r.fields.insert(format!("trial.{k}"), v.clone());
            }
        }
        self.resources.push(r);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Read

pub const Q_EXPERIMENT: &str = "SELECT experiment.resource_name, experiment.experiment_id, experiment.name, \
experiment.description, experiment.suffix, experiment.type, experiment.status, experiment.start_date, \
experiment.end_date, experiment.promote_status FROM experiment WHERE experiment.status != 'REMOVED'";

pub const Q_ARM: &str = "SELECT experiment_arm.resource_name, experiment_arm.experiment, experiment_arm.name, \
experiment_arm.control, experiment_arm.traffic_split, experiment_arm.campaigns, \
experiment_arm.in_design_campaigns FROM experiment_arm";

/// The marker at the end of an adsctl experiment's description.
pub fn describe(text: Option<&str>) -> String {
    match text {
        Some(t) if !t.is_empty() => format!("{t}\n\n{OWNER_LABEL}"),
        _ => OWNER_LABEL.to_string(),
    }
}

/// (the user's description, whether the marker is there).
fn split_description(d: &str) -> (Option<String>, bool) {
    match d.strip_suffix(OWNER_LABEL) {
        Some(rest) => {
            let t = rest.trim_end();
            (if t.is_empty() { None } else { Some(t.to_string()) }, true)
        }
        None => ((!d.is_empty()).then(|| d.to_string()), false),
    }
}

/// The suffix of the trial campaign's name: ` [<experiment name>]`.
pub fn suffix(name: &str) -> String {
    format!(" [{name}]")
}

fn split(v: &Json) -> Option<i64> {
    match v.get("trafficSplit") {
        Some(Json::String(s)) => s.parse().ok(),
        Some(Json::Number(n)) => n.as_i64(),
        _ => None,
    }
}

fn first(v: &Json, field: &str) -> Option<String> {
    v.get(field)?.as_array()?.first()?.as_str().map(str::to_string)
}

/// What the arms of one experiment say: (base campaign, trial campaign, trial split).
fn arms_of(arms: &[Json], experiment: &str) -> (Option<String>, Option<String>, Option<i64>) {
    let mut base = None;
    let mut trial = None;
    let mut share = None;
    for a in arms.iter().filter_map(|r| r.get("experimentArm")) {
        if get_str(a, "experiment") != Some(experiment) {
            continue;
        }
        if a.get("control").and_then(Json::as_bool) == Some(true) {
            base = first(a, "campaigns");
        } else {
            trial = first(a, "campaigns").or_else(|| first(a, "inDesignCampaigns"));
            share = split(a);
        }
    }
    (base, trial, share)
}

/// Whether a campaign row is an experiment's draft or experiment campaign (part of the experiment, not a
/// campaign of its own).
pub fn is_trial_campaign(c: &Json) -> bool {
    matches!(get_str(c, "experimentType"), Some("DRAFT" | "EXPERIMENT"))
}

/// The experiments of the account as resources. `campaigns` maps campaign resource names to their addresses
/// (the base campaign is referenced by address); `rows` gives the campaign rows by resource name (the trial's
/// settings).
pub fn resources(
    acct: &Address,
    experiments: &[Json],
    arms: &[Json],
    campaigns: &HashMap<String, Address>,
    rows: &HashMap<&str, &Json>,
    pinned: &[String],
) -> Vec<Resource> {
    let today = chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let mut out = Vec::new();
    for e in experiments.iter().filter_map(|r| r.get("experiment")) {
        let (Some(rn), Some(name)) = (get_str(e, "resourceName"), get_str(e, "name")) else {
            continue;
        };
        let id = get_str(e, "experimentId")
            .map(str::to_string)
            .unwrap_or_else(|| id_of(rn));
        let status = get_str(e, "status").unwrap_or("SETUP");
        if status == "REMOVED" && !pinned.contains(&id) {
            continue;
        }
        let mut r = Resource::new(acct.child(Kind::Experiment, name), Kind::Experiment);
        r.id = Some(id);
        let (text, owned) = split_description(get_str(e, "description").unwrap_or_default());
        r.owned = owned;
        if let Some(t) = text {
            r.fields.insert("description", Value::str(t));
        }
        if let Some(t) = get_str(e, "type") {
            r.fields.insert("type", Value::str(lower(t)));
        }
        for (f, path) in [("start_date", "startDate"), ("end_date", "endDate")] {
            if let Some(d) = get_str(e, path) {
                r.fields.insert(f, Value::str(d));
            }
        }
        let ended = get_str(e, "endDate").is_some_and(|d| d < today.as_str());
        let (action, settled) = match status {
            "SETUP" => ("setup", None),
            "PROMOTED" => ("promote", Some("promoted")),
            "GRADUATED" => ("graduate", Some("graduated")),
            "HALTED" => ("end", Some("ended")),
            "ENABLED" if ended => ("end", Some("ended")),
            _ => ("run", None),
        };
        r.fields.insert("action", Value::str(action));
        if let Some(s) = settled {
            r.fields.insert("status", Value::str(s));
        }
        let (base, trial, share) = arms_of(arms, rn);
        if let Some(a) = base.as_ref().and_then(|b| campaigns.get(b)) {
            r.fields.insert("base_campaign", Value::reference(a.clone()));
        }
        if let Some(s) = share {
            r.fields.insert("traffic_split", Value::Int(s));
        }
        if let Some(t) = trial.as_deref() {
            // not managed (never in the YAML): `adsctl metrics` reports the trial arm's campaign by it
            r.fields.insert(TRIAL_CAMPAIGN_ID, Value::str(id_of(t)));
            if let Some(c) = rows.get(t) {
                for (k, v) in mapping::campaign_fields(c) {
                    if k.starts_with("bidding.") || k.starts_with("network.") {
                        r.fields.insert(format!("trial.{k}"), v);
                    }
                }
            }
        }
        out.push(r);
    }
    out
}

/// A fingerprint of the experiments and their arms (change_status covers neither: a change to them makes the
/// next read a full one), folded into the goals' fingerprint of the marker.
pub fn fingerprint(goals_fp: &str, experiments: &[Json], arms: &[Json]) -> String {
    if experiments.is_empty() {
        return goals_fp.to_string();
    }
    let mut lines: Vec<String> = experiments
        .iter()
        .chain(arms)
        .map(|r| serde_json::to_string(r).unwrap_or_default())
        .collect();
    lines.sort();
    lines.push(goals_fp.to_string());
    crate::spec::audience::sha256_hex(&lines.join("\n"))[..16].to_string()
}

// ---------------------------------------------------------------------------------------------------------
// Apply

/// One experiment operation, carried out after the mutate (its base campaign may be created by it).
#[derive(Clone, Debug)]
pub struct ExpWant {
    pub op: usize,
    /// The base campaign (possibly a temporary name resolved by the mutate).
    pub base: Option<String>,
}

/// The base campaign's resource name of an experiment operation (a temporary one when it is created in the
/// same batch), from its `base_campaign` reference.
pub fn base_of(
    op: &Operation,
    fields: &BTreeMap<String, Value>,
    resolve: impl Fn(&IdRef) -> Result<String, String>,
) -> Result<Option<String>, String> {
    let Some(Value::Ref(addr)) = fields.get("base_campaign") else {
        return Ok(None);
    };
    let r = op
        .refs
        .get(addr.as_ref())
        .ok_or_else(|| format!("no id for the campaign {addr}"))?;
    resolve(r).map(Some)
}

fn trial_fields(fields: &BTreeMap<String, Value>) -> Fields {
    fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("trial.")?.to_string(), v.clone())))
        .collect()
}

fn failed(e: GoogleAdsError, field: &str) -> OpOutcome {
    let ce: crate::connectors::ConnectorError = e.into();
    OpOutcome::Failed(OpError {
        code: "EXPERIMENT".into(),
        message: ce.to_string(),
        field: Some(field.into()),
        hint: ce.hint().map(str::to_string),
    })
}

/// Carry out the experiment operations, in order: each one's outcome replaces what the mutate left for it.
pub async fn apply(
    client: &Client,
    ops: &[Operation],
    wants: &[ExpWant],
    resolved: &HashMap<String, String>,
    outcomes: &mut [OpOutcome],
    validate_only: bool,
) -> Result<(), GoogleAdsError> {
    // removals first: a replaced experiment (an immutable field changed) frees its name and its trial campaign's
    // before the new one is made
    let mut order: Vec<&ExpWant> = wants.iter().collect();
    order.sort_by_key(|w| !matches!(ops[w.op].action, OpAction::Remove { .. }));
    for w in order {
        let op = &ops[w.op];
        if validate_only {
            // The API's checks need the experiment made: a dry run cannot ask them without making it.
            outcomes[w.op] = OpOutcome::Valid;
            continue;
        }
        let base = w
            .base
            .as_ref()
            .map(|b| resolved.get(b).cloned().unwrap_or_else(|| b.clone()));
        if base
            .as_deref()
            .is_some_and(|b| b.rsplit('/').next().is_some_and(|id| id.starts_with('-')))
        {
            outcomes[w.op] = OpOutcome::Skipped {
                reason: "its base campaign was not created".into(),
            };
            continue;
        }
        let name = op.address.name().unwrap_or_default().to_string();
        let result = match &op.action {
            OpAction::Create { fields } => create(client, &name, fields, base.as_deref()).await,
            OpAction::Update { id, set, .. } => update(client, id, set).await.map(|()| id.clone()),
            OpAction::Adopt { id } => adopt(client, id).await.map(|()| id.clone()),
            OpAction::Remove { id } => {
                let rn = experiment_rn(client, id);
                let body = json!({"operations": [{"remove": rn}]});
                client
                    .post(
                        &format!("customers/{}/experiments:mutate", client.customer_id),
                        &body,
                        Replay::Safe,
                    )
                    .await
                    .map(|_| id.clone())
            }
            // an experiment has no paused state (the engine never asks)
            OpAction::Pause { id } => Ok(id.clone()),
        };
        outcomes[w.op] = match result {
            Ok(id) => OpOutcome::Applied { id },
            Err(e @ (GoogleAdsError::QuotaExhausted { .. } | GoogleAdsError::OAuth(_))) => return Err(e),
            Err(e) => failed(e, "action"),
        };
    }
    Ok(())
}

fn experiment_rn(client: &Client, id: &str) -> String {
    format!("customers/{}/experiments/{id}", client.customer_id)
}

/// Create, arm, change the trial, schedule, then promote or end as `action` says. Returns the experiment's id;
/// a failure after the experiment exists leaves it (the next plan shows what is left to do).
async fn create(
    client: &Client,
    name: &str,
    fields: &BTreeMap<String, Value>,
    base: Option<&str>,
) -> Result<String, GoogleAdsError> {
    let cid = &client.customer_id;
    let base = base.ok_or_else(|| GoogleAdsError::Config("the experiment has no base campaign".into()))?;
    let mut exp = Map::new();
    exp.insert("name".into(), json!(name));
    exp.insert(
        "type".into(),
        json!(upper(
            fields.get("type").and_then(Value::as_str).unwrap_or("search_custom")
        )),
    );
    exp.insert("suffix".into(), json!(suffix(name)));
    exp.insert(
        "description".into(),
        json!(describe(fields.get("description").and_then(Value::as_str))),
    );
    for (f, path) in [("start_date", "startDate"), ("end_date", "endDate")] {
        if let Some(d) = fields.get(f).and_then(Value::as_str) {
            exp.insert(path.into(), json!(d));
        }
    }
    let resp = client
        .post(
            &format!("customers/{cid}/experiments:mutate"),
            &json!({"operations": [{"create": exp}]}),
            Replay::Unsafe,
        )
        .await?;
    let rn = resp
        .pointer("/results/0/resourceName")
        .and_then(Json::as_str)
        .ok_or_else(|| GoogleAdsError::Decode("experiments:mutate returned no resourceName".into()))?
        .to_string();
    let id = id_of(&rn);
    let trial_split = fields.get("traffic_split").and_then(Value::as_int).unwrap_or(50);
    let arms = json!({"operations": [
        {"create": {"experiment": rn, "name": "control", "control": true,
            "trafficSplit": (100 - trial_split).to_string(), "campaigns": [base]}},
        {"create": {"experiment": rn, "name": "treatment", "control": false,
            "trafficSplit": trial_split.to_string()}}
    ], "responseContentType": "MUTABLE_RESOURCE"});
    let resp = client
        .post(&format!("customers/{cid}/experimentArms:mutate"), &arms, Replay::Unsafe)
        .await?;
    let trial = resp
        .pointer("/results/1/experimentArm/inDesignCampaigns/0")
        .and_then(Json::as_str)
        .map(str::to_string);
    let set = trial_fields(fields);
    if let (Some(trial), false) = (&trial, set.is_empty()) {
        update_trial(client, trial, &set).await?;
    }
    let action = fields.get("action").and_then(Value::as_str).unwrap_or("run");
    run_action(client, &rn, "setup", action).await?;
    Ok(id)
}

/// Change the trial campaign: its bidding and network settings.
async fn update_trial(client: &Client, trial: &str, set: &Fields) -> Result<(), GoogleAdsError> {
    // a bid field alone is set inside the strategy in force
    let strategy = if set.keys().any(|k| k.starts_with("bidding.")) && !set.contains_key("bidding.strategy") {
        let q = format!(
            "SELECT campaign.resource_name, campaign.bidding_strategy_type FROM campaign WHERE campaign.resource_name = '{trial}'"
        );
        let rows = super::read::search_stream(client, &q).await?;
        rows.first()
            .and_then(|r| r.get("campaign"))
            .and_then(mapping::strategy_of)
    } else {
        None
    };
    let (mut obj, mask) = mapping::campaign_json(set, strategy.as_deref());
    if mask.is_empty() {
        return Ok(());
    }
    obj.insert("resourceName".into(), json!(trial));
    let body = json!({"operations": [{"update": obj, "updateMask": mask.join(",")}]});
    client
        .post(
            &format!("customers/{}/campaigns:mutate", client.customer_id),
            &body,
            Replay::Safe,
        )
        .await
        .map(|_| ())
}

/// From the live action (`setup`, `run`) to the YAML's: schedule, then promote or end.
async fn run_action(client: &Client, rn: &str, from: &str, to: &str) -> Result<(), GoogleAdsError> {
    if from == "setup" {
        let op = client
            .post(
                &format!("{rn}:scheduleExperiment"),
                &json!({"resourceName": rn}),
                Replay::Unsafe,
            )
            .await?;
        wait(client, op, "scheduling").await?;
    }
    match to {
        "promote" => {
            let op = client
                .post(
                    &format!("{rn}:promoteExperiment"),
                    &json!({"resourceName": rn}),
                    Replay::Unsafe,
                )
                .await?;
            wait(client, op, "promotion").await
        }
        "end" => client
            .post(
                &format!("{rn}:endExperiment"),
                &json!({"experiment": rn}),
                Replay::Unsafe,
            )
            .await
            .map(|_| ()),
        _ => Ok(()),
    }
}

/// Poll the long-running operation of a schedule or a promotion until it is done.
async fn wait(client: &Client, mut op: Json, what: &str) -> Result<(), GoogleAdsError> {
    let started = Instant::now();
    loop {
        if op.get("done").and_then(Json::as_bool) == Some(true) {
            if let Some(err) = op.get("error") {
                let msg = err.get("message").and_then(Json::as_str).unwrap_or("it failed");
                return Err(GoogleAdsError::Decode(format!("the experiment's {what} failed: {msg}")));
            }
            return Ok(());
        }
        let Some(name) = op.get("name").and_then(Json::as_str).map(str::to_string) else {
            return Ok(());
        };
        if started.elapsed() > client.settings.poll_max {
            return Err(GoogleAdsError::Decode(format!(
                "the experiment's {what} ({name}) is still running; it will finish on its own (check it later)"
            )));
        }
        tokio::time::sleep(client.settings.poll_interval).await;
        op = client.get(&name).await?;
    }
}

/// The experiment's live status and trial campaign (one search), for an update.
async fn live(client: &Client, rn: &str) -> Result<(String, Option<String>), GoogleAdsError> {
    let q = format!(
        "SELECT experiment.resource_name, experiment.status FROM experiment WHERE experiment.resource_name = '{rn}'"
    );
    let qa = format!("{Q_ARM} WHERE experiment_arm.experiment = '{rn}'");
    let (exp, arms) = tokio::try_join!(
        super::read::search_stream(client, &q),
        super::read::search_stream(client, &qa),
    )?;
    let status = exp
        .first()
        .and_then(|r| r.get("experiment"))
        .and_then(|e| get_str(e, "status"))
        .unwrap_or("SETUP")
        .to_string();
    let (_, trial, _) = arms_of(&arms, rn);
    Ok((status, trial))
}

async fn update(client: &Client, id: &str, set: &BTreeMap<String, Value>) -> Result<(), GoogleAdsError> {
    let rn = experiment_rn(client, id);
    let mut obj = Map::new();
    let mut mask = Vec::new();
    for (f, path) in [("end_date", "endDate"), ("start_date", "startDate")] {
        if let Some(d) = set.get(f).and_then(Value::as_str) {
            obj.insert(path.into(), json!(d));
            mask.push(path);
        }
    }
    if set.contains_key("description") {
        obj.insert(
            "description".into(),
            json!(describe(set.get("description").and_then(Value::as_str))),
        );
        mask.push("description");
    }
    if !mask.is_empty() {
        obj.insert("resourceName".into(), json!(rn));
        let body = json!({"operations": [{"update": obj, "updateMask": mask.join(",")}]});
        client
            .post(
                &format!("customers/{}/experiments:mutate", client.customer_id),
                &body,
                Replay::Safe,
            )
            .await?;
    }
    let trial = trial_fields(set);
    let action = set.get("action").and_then(Value::as_str);
    if trial.is_empty() && action.is_none() {
        return Ok(());
    }
    let (status, trial_rn) = live(client, &rn).await?;
    if !trial.is_empty() {
        let t = trial_rn.ok_or_else(|| GoogleAdsError::Decode(format!("experiment {rn} has no trial campaign")))?;
        update_trial(client, &t, &trial).await?;
    }
    if let Some(to) = action {
        let from = if status == "SETUP" { "setup" } else { "run" };
        run_action(client, &rn, from, to).await?;
    }
    Ok(())
}

/// Adopt: write the marker at the end of the description.
async fn adopt(client: &Client, id: &str) -> Result<(), GoogleAdsError> {
    let rn = experiment_rn(client, id);
    let q = format!("SELECT experiment.description FROM experiment WHERE experiment.resource_name = '{rn}'");
    let rows = super::read::search_stream(client, &q).await?;
    let text = rows
        .first()
        .and_then(|r| r.get("experiment"))
        .and_then(|e| get_str(e, "description"))
        .map(|d| split_description(d).0)
        .unwrap_or_default();
    let body = json!({"operations": [{"update": {"resourceName": rn, "description": describe(text.as_deref())},
        "updateMask": "description"}]});
    client
        .post(
            &format!("customers/{}/experiments:mutate", client.customer_id),
            &body,
            Replay::Safe,
        )
        .await
        .map(|_| ())
}

// ---------------------------------------------------------------------------------------------------------
// Import

/// An experiment as `adsctl import` writes it.
pub fn import(e: &Resource, account: &Account) -> serde_yaml::Mapping {
    use serde_yaml::Value as Yaml;
    let mut m = serde_yaml::Mapping::new();
    let s = |x: &str| Yaml::String(x.to_string());
    m.insert(s("name"), s(e.address.name().unwrap_or_default()));
    m.insert(s("account"), s(&account.name));
    if let Some(t) = e.fields.get("type").and_then(Value::as_str) {
        m.insert(s("type"), s(t));
    }
    if let Some(Value::Ref(a)) = e.fields.get("base_campaign") {
        m.insert(s("base_campaign"), s(a.name().unwrap_or_default()));
    }
    if let Some(n) = e.fields.get("traffic_split").and_then(Value::as_int) {
        m.insert(s("traffic_split"), Yaml::Number(n.into()));
    }
    for f in ["start_date", "end_date", "description"] {
        if let Some(v) = e.fields.get(f).and_then(Value::as_str) {
            m.insert(s(f), s(v));
        }
    }
    let mut bidding = serde_yaml::Mapping::new();
    let mut network = serde_yaml::Mapping::new();
    let strategy = e.fields.get("trial.bidding.strategy").and_then(Value::as_str);
    if let Some(st) = strategy {
        let mut inner = serde_yaml::Mapping::new();
        for (f, key) in [
            ("trial.bidding.target_cpa", "target_cpa"),
            ("trial.bidding.target_roas", "target_roas"),
            ("trial.bidding.cpc_bid_ceiling", "cpc_bid_ceiling"),
            ("trial.bidding.enhanced_cpc", "enhanced_cpc"),
        ] {
            match e.fields.get(f) {
                Some(Value::Money(x)) => {
                    inner.insert(s(key), crate::import::yaml_of(&Value::Money(*x), account.currency));
                }
                Some(Value::Decimal(d)) => {
                    inner.insert(s(key), s(&d.to_string()));
                }
                Some(Value::Bool(b)) => {
                    inner.insert(s(key), Yaml::Bool(*b));
                }
                _ => {}
            }
        }
        bidding.insert(s(st), Yaml::Mapping(inner));
    }
    for (f, key) in [
        ("trial.network.google_search", "google_search"),
        ("trial.network.search_network", "search_network"),
        ("trial.network.content_network", "content_network"),
        ("trial.network.partner_search_network", "partner_search_network"),
    ] {
        if let Some(b) = e.fields.get(f).and_then(Value::as_bool) {
            network.insert(s(key), Yaml::Bool(b));
        }
    }
    let mut trial = serde_yaml::Mapping::new();
    if !bidding.is_empty() {
        trial.insert(s("bidding"), Yaml::Mapping(bidding));
    }
    if !network.is_empty() {
        trial.insert(s("network"), Yaml::Mapping(network));
    }
    if !trial.is_empty() {
        m.insert(s("trial"), Yaml::Mapping(trial));
    }
    if let Some(a) = e.fields.get("action").and_then(Value::as_str) {
        // a graduated experiment is past what the YAML says: written as ended
        let a = match a {
            "setup" => "run",
            "graduate" => "end",
            x => x,
        };
        m.insert(s("action"), s(a));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Money;

    fn rows() -> (Vec<Json>, Vec<Json>, Vec<Json>) {
        let experiments = vec![
            json!({"experiment": {"resourceName": "customers/1/experiments/7", "experimentId": "7", "name": "Bid test",
                "description": "Clicks or CPA?\n\nadsctl-managed", "type": "SEARCH_CUSTOM", "status": "ENABLED",
                "startDate": "2999-01-01", "endDate": "2999-02-01"}}),
            json!({"experiment": {"resourceName": "customers/1/experiments/8", "experimentId": "8", "name": "Theirs",
                "description": "made in the UI", "type": "SEARCH_CUSTOM", "status": "HALTED", "endDate": "2020-01-01"}}),
        ];
        let arms = vec![
            json!({"experimentArm": {"resourceName": "customers/1/experimentArms/7~1", "experiment": "customers/1/experiments/7",
                "control": true, "trafficSplit": "70", "campaigns": ["customers/1/campaigns/21"]}}),
            json!({"experimentArm": {"resourceName": "customers/1/experimentArms/7~2", "experiment": "customers/1/experiments/7",
                "trafficSplit": "30", "campaigns": ["customers/1/campaigns/99"], "inDesignCampaigns": ["customers/1/campaigns/99"]}}),
        ];
        let campaigns = vec![
            json!({"campaign": {"resourceName": "customers/1/campaigns/99", "name": "Spring [Bid test]", "experimentType": "EXPERIMENT",
                "biddingStrategyType": "TARGET_SPEND", "targetSpend": {"cpcBidCeilingMicros": "2500000"},
                "networkSettings": {"targetGoogleSearch": true}}}),
        ];
        (experiments, arms, campaigns)
    }

    #[test]
    fn the_read_gives_base_split_trial_action_and_ownership() {
        let (experiments, arms, campaigns) = rows();
        let acct = Address::account("acme");
        let base = acct.child(Kind::Campaign, "Spring");
        let by_rn: HashMap<String, Address> = [("customers/1/campaigns/21".to_string(), base.clone())].into();
        let rows: HashMap<&str, &Json> = campaigns
            .iter()
            .filter_map(|r| r.get("campaign"))
            .map(|c| (get_str(c, "resourceName").unwrap(), c))
            .collect();
        assert!(is_trial_campaign(rows["customers/1/campaigns/99"]));
        let rs = resources(&acct, &experiments, &arms, &by_rn, &rows, &[]);
        let bid = rs.iter().find(|r| r.address.name() == Some("Bid test")).unwrap();
        assert!(bid.owned);
        assert_eq!(bid.id.as_deref(), Some("7"));
        assert_eq!(bid.fields.get("description"), Some(&Value::str("Clicks or CPA?")));
        assert_eq!(bid.fields.get("type"), Some(&Value::str("search_custom")));
        assert_eq!(bid.fields.get("base_campaign"), Some(&Value::reference(base)));
        assert_eq!(bid.fields.get("traffic_split"), Some(&Value::Int(30)));
        assert_eq!(bid.fields.get("action"), Some(&Value::str("run")));
        assert_eq!(bid.fields.get("status"), None);
        assert_eq!(
            bid.fields.get("trial.bidding.strategy"),
            Some(&Value::str("target_spend"))
        );
        assert_eq!(
            bid.fields.get("trial.bidding.cpc_bid_ceiling"),
            Some(&Value::Money(Money::from_micros(2_500_000)))
        );
        assert_eq!(bid.fields.get("trial.network.google_search"), Some(&Value::Bool(true)));
        assert_eq!(bid.fields.get(TRIAL_CAMPAIGN_ID), Some(&Value::str("99")));
        let theirs = rs.iter().find(|r| r.address.name() == Some("Theirs")).unwrap();
        assert!(!theirs.owned, "no marker: someone else's");
        assert_eq!(theirs.fields.get("description"), Some(&Value::str("made in the UI")));
        assert_eq!(theirs.fields.get("action"), Some(&Value::str("end")));
        assert_eq!(theirs.fields.get("status"), Some(&Value::str("ended")), "settled");
    }

    #[test]
    fn the_marker_ends_the_description() {
        assert_eq!(describe(None), "adsctl-managed");
        assert_eq!(describe(Some("Why")), "Why\n\nadsctl-managed");
        assert_eq!(split_description("Why\n\nadsctl-managed"), (Some("Why".into()), true));
        assert_eq!(split_description("adsctl-managed"), (None, true));
        assert_eq!(split_description("Why"), (Some("Why".into()), false));
        assert_eq!(suffix("Bid test"), " [Bid test]");
    }

    #[test]
    fn the_fingerprint_sees_experiments_and_arms() {
        let (experiments, arms, _) = rows();
        assert_eq!(
            fingerprint("abc", &[], &[]),
            "abc",
            "no experiment: the goals' fingerprint as it was"
        );
        let a = fingerprint("abc", &experiments, &arms);
        let b = fingerprint("abc", &experiments, &arms[..1]);
        assert_ne!(a, b);
        assert_ne!(a, fingerprint("abd", &experiments, &arms));
    }

    #[test]
    fn import_writes_the_yaml_back() {
        let (experiments, arms, campaigns) = rows();
        let acct = Address::account("acme");
        let by_rn: HashMap<String, Address> = [(
            "customers/1/campaigns/21".to_string(),
            acct.child(Kind::Campaign, "Spring"),
        )]
        .into();
        let rows: HashMap<&str, &Json> = campaigns
            .iter()
            .filter_map(|r| r.get("campaign"))
            .map(|c| (get_str(c, "resourceName").unwrap(), c))
            .collect();
        let rs = resources(&acct, &experiments, &arms, &by_rn, &rows, &[]);
        let account = Account {
            name: "acme".into(),
            platform: crate::model::Platform::GoogleAds,
            platform_id: "1234567890".into(),
            login_customer_id: None,
            currency: crate::model::Currency::USD,
            time_zone: None,
            on_removed: crate::model::RemovalPolicy::Pause,
            guardrails: crate::model::Guardrails::default(),
            endpoint: None,
        };
        let m = import(&rs[0], &account);
        let y = serde_yaml::to_string(&m).unwrap();
        assert!(y.contains("base_campaign: Spring"), "{y}");
        assert!(y.contains("traffic_split: 30"), "{y}");
        assert!(
            y.contains("target_spend:") && y.contains("cpc_bid_ceiling: '2.50'"),
            "{y}"
        );
        assert!(y.contains("action: run"), "{y}");
        assert!(!y.contains("trial_campaign_id"), "{y}");
    }
}
