//! Apply: operations → `googleAds:mutate` operations with temporary resource names, exact update masks,
//! batching, and partial-failure results mapped back to each operation.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Map, Value as Json};

use crate::connectors::{IdRef, OpAction, OpError, OpOutcome, Operation, NAME_FIELD};
use crate::model::{value_fingerprint, Kind, Value};

use super::client::{Client, Replay};
use super::config::OWNER_LABEL;
use super::errors::{AdsError, GoogleAdsError};
use super::mapping::{self, id_of, Fields};
use super::read::CampaignContext;

/// One MutateOperation and what it belongs to.
#[derive(Clone, Debug)]
pub struct Unit {
    /// The engine operation it serves; `None` for the ownership label's own creation.
    pub op: Option<usize>,
    /// Send order (resource types grouped, dependencies first).
    pub rank: u8,
    pub body: Json,
    /// The temporary resource name this unit creates.
    pub temp: Option<String>,
    /// Its result names the object the operation is about.
    pub primary: bool,
    pub creates: bool,
}

/// Customer Match membership changes of one audience operation.
#[derive(Clone, Debug)]
pub struct Upload {
    pub op: usize,
    /// The user list (possibly a temporary name resolved after the mutate).
    pub list: String,
    pub adds: Vec<String>,
    pub removes: Vec<String>,
    /// What the list held before is not known (a runner without state, a fingerprint that disagrees): empty it
    /// first, then add every member.
    pub replace: bool,
    /// The fingerprint of the whole member set (`model::value_fingerprint`), written into the list's
    /// `integrationCode` once the jobs are done (the mutate cleared it: a run killed in between leaves no claim
    /// that the members were uploaded).
    pub fingerprint: String,
}

/// The conversion actions one campaign operation bids on (`conversion_goals`), written once the campaign and
/// the actions exist (see [`write_goals`]).
#[derive(Clone, Debug)]
pub struct GoalWant {
    pub op: usize,
    /// The campaign (possibly a temporary name resolved by the mutate).
    pub campaign: String,
    /// Conversion action resource names (possibly temporary) → their names.
    pub actions: BTreeMap<String, String>,
}

/// The wire form of a batch.
#[derive(Debug, Default)]
pub struct Built {
    pub units: Vec<Unit>,
    /// Outcomes decided without the API (nothing to send, or refused locally).
    pub immediate: Vec<Option<OpOutcome>>,
    pub uploads: Vec<Upload>,
    pub goals: Vec<GoalWant>,
    /// Campaigns removed here whose config was (or may have been) set back to the account's goals first: after
    /// the mutate, adsctl's goals no campaign uses any more are removed ([`write_goals`]).
    pub goals_unlinked: usize,
    /// Experiment operations, carried out after the mutate (`super::experiment::apply`).
    pub experiments: Vec<super::experiment::ExpWant>,
    /// The id each operation is about when it is not a create.
    pub known_ids: Vec<Option<String>>,
}

/// Whether the operation is on a campaign-level criterion (a negative keyword directly under a campaign).
fn campaign_level(op: &Operation) -> bool {
    op.kind == Kind::NegativeKeyword && op.address.parent().and_then(|p| p.kind()) == Some(Kind::Campaign)
}

pub fn collection(kind: Kind) -> &'static str {
    match kind {
        Kind::Budget => "campaignBudgets",
        Kind::Campaign => "campaigns",
        Kind::AdGroup => "adGroups",
        Kind::Ad => "adGroupAds",
        Kind::Keyword | Kind::NegativeKeyword => "adGroupCriteria",
        Kind::Audience => "userLists",
        Kind::Conversion => "conversionActions",
        Kind::AssetGroup => "assetGroups",
        _ => "unsupported",
    }
}

fn failed(code: &str, message: impl Into<String>) -> OpOutcome {
    OpOutcome::Failed(OpError {
        code: code.into(),
        message: message.into(),
        field: None,
        hint: None,
    })
}

/// Operations needing the campaign context (own budget, strategy in force): their campaign ids.
pub fn context_needed(ops: &[Operation]) -> Vec<String> {
    let mut ids: Vec<String> = ops
        .iter()
        .filter(|o| o.kind == Kind::Campaign)
        .filter_map(|o| match &o.action {
            OpAction::Update { id, set, .. }
                if set.keys().any(|k| k.starts_with("budget.") && k != "budget.shared")
                    || (set.keys().any(|k| k.starts_with("bidding.")) && !set.contains_key("bidding.strategy")) =>
            {
                Some(id.clone())
            }
            // A removed campaign takes its own budget along (or the name stays taken).
            OpAction::Remove { id } => Some(id.clone()),
            _ => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Whether the operations set campaign `labels` (the account's labels must be known).
pub fn needs_user_labels(ops: &[Operation]) -> bool {
    ops.iter().any(|o| match &o.action {
        OpAction::Create { fields } => fields.contains_key("labels"),
        OpAction::Update { set, .. } => set.contains_key("labels"),
        _ => false,
    })
}

/// Kinds that carry the ownership label.
fn labelled(kind: Kind) -> bool {
    matches!(kind, Kind::Campaign | Kind::AdGroup | Kind::Ad | Kind::Keyword)
}

/// Whether applying the operations needs the ownership label.
pub fn needs_label(ops: &[Operation]) -> bool {
    ops.iter()
        .any(|o| labelled(o.kind) && matches!(o.action, OpAction::Create { .. } | OpAction::Adopt { .. }))
}

pub struct Builder<'a> {
    customer: String,
    next_temp: i64,
    /// Operation index → temporary resource name of what it creates.
    temp_of: HashMap<usize, String>,
    label: Option<String>,
    ctx: &'a HashMap<String, CampaignContext>,
    /// User label names → resource names (existing, or created in this batch).
    user_labels: HashMap<String, String>,
    /// Label creations queued for this batch.
    new_labels: Vec<Unit>,
    /// Addresses this batch creates (a removal of the same address is a replace: it goes first).
    replaced: HashSet<crate::model::Address>,
    /// User lists this batch both adopts and updates: one request may change a resource only once, so the
    /// update carries the marker and the adoption sends nothing of its own.
    adopted_and_updated: HashSet<String>,
    /// Asset group id → its live listing group filters, deepest first (see pmax.rs).
    trees: HashMap<String, Vec<String>>,
}

impl<'a> Builder<'a> {
    pub fn new(customer: &str, label: Option<String>, ctx: &'a HashMap<String, CampaignContext>) -> Self {
        Builder {
            customer: customer.to_string(),
            next_temp: -1,
            temp_of: HashMap::new(),
            label,
            ctx,
            user_labels: HashMap::new(),
            new_labels: Vec::new(),
            replaced: HashSet::new(),
            adopted_and_updated: HashSet::new(),
            trees: HashMap::new(),
        }
    }

    /// The live listing group trees of the asset groups whose tree this batch replaces.
    pub fn with_trees(mut self, trees: HashMap<String, Vec<String>>) -> Self {
        self.trees = trees;
        self
    }

    /// The account's labels by name (from `SELECT label.resource_name, label.name FROM label`).
    pub fn with_labels(mut self, labels: HashMap<String, String>) -> Self {
        self.user_labels = labels;
        self
    }

    /// The resource name of a user label, queuing its creation when the account has none by that name.
    fn user_label(&mut self, name: &str) -> String {
        if let Some(rn) = self.user_labels.get(name) {
            return rn.clone();
        }
        let n = self.temp();
        let t = format!("customers/{}/labels/{n}", self.customer);
        self.new_labels.push(Unit {
            op: None,
            rank: 0,
            body: json!({"labelOperation": {"create": {"resourceName": t, "name": name}}}),
            temp: Some(t.clone()),
            primary: false,
            creates: true,
        });
        self.user_labels.insert(name.to_string(), t.clone());
        t
    }

    /// CampaignLabel links to add (and remove) so that the campaign carries exactly `want`.
    fn campaign_labels(
        &mut self,
        built: &mut Built,
        i: usize,
        campaign: &str,
        want: &std::collections::BTreeSet<String>,
        had: &std::collections::BTreeSet<String>,
    ) {
        for name in want.difference(had) {
            let label = self.user_label(name);
            Self::unit(
                built,
                i,
                20,
                json!({"campaignLabelOperation": {"create": {"campaign": campaign, "label": label}}}),
                None,
                false,
            );
        }
        for name in had.difference(want) {
            if let Some(label) = self.user_labels.get(name) {
                let link = format!(
                    "customers/{}/campaignLabels/{}~{}",
                    self.customer,
                    id_of(campaign),
                    id_of(label)
                );
                Self::unit(
                    built,
                    i,
                    30,
                    json!({"campaignLabelOperation": {"remove": link}}),
                    None,
                    false,
                );
            }
        }
    }

    fn temp(&mut self) -> i64 {
        let t = self.next_temp;
        self.next_temp -= 1;
        t
    }

    fn temp_rn(&mut self, kind: Kind) -> String {
        let n = self.temp();
        self.rn(kind, &n.to_string())
    }

    fn rn(&self, kind: Kind, id: &str) -> String {
        format!("customers/{}/{}/{}", self.customer, collection(kind), id)
    }

    fn resolve(&self, r: &IdRef, kind: Kind) -> Result<String, String> {
        match r {
            IdRef::Known(id) => Ok(self.rn(kind, id)),
            IdRef::Pending(i) => self
                .temp_of
                .get(i)
                .cloned()
                .ok_or_else(|| format!("depends on operation {i}, which creates nothing this can refer to")),
        }
    }

    /// The campaign's `conversion_goals`, when the operation sets them.
    fn goal_want(
        &self,
        i: usize,
        op: &Operation,
        campaign: &str,
        goals: Option<&Value>,
        built: &mut Built,
    ) -> Result<(), String> {
        let Some(Value::Set(goals)) = goals else { return Ok(()) };
        let mut actions = BTreeMap::new();
        for g in goals {
            let Value::Ref(addr) = g else { continue };
            let r = op
                .refs
                .get(addr)
                .ok_or_else(|| format!("no id for the conversion {addr}"))?;
            actions.insert(
                self.resolve(r, Kind::Conversion)?,
                addr.name().unwrap_or_default().to_string(),
            );
        }
        built.goals.push(GoalWant {
            op: i,
            campaign: campaign.to_string(),
            actions,
        });
        Ok(())
    }

    fn parent(&self, op: &Operation, kind: Kind) -> Result<String, String> {
        let r = op
            .parent
            .as_ref()
            .ok_or_else(|| format!("{} has no parent id", op.address))?;
        self.resolve(r, kind)
    }

    /// Build the units of every operation.
    pub fn build(mut self, ops: &[Operation]) -> Built {
        let mut built = Built {
            immediate: vec![None; ops.len()],
            known_ids: vec![None; ops.len()],
            ..Default::default()
        };
        if self.label.is_none() && needs_label(ops) {
            let n = self.temp();
            let t = format!("customers/{}/labels/{n}", self.customer);
            built.units.push(Unit {
                op: None,
                rank: 0,
                body: json!({"labelOperation": {"create": {"resourceName": t, "name": OWNER_LABEL}}}),
                temp: Some(t.clone()),
                primary: false,
                creates: true,
            });
            self.label = Some(t);
        }
        let creates: HashSet<&crate::model::Address> = ops
            .iter()
            .filter(|o| matches!(o.action, OpAction::Create { .. }))
            .map(|o| &o.address)
            .collect();
        self.replaced = ops
            .iter()
            .filter(|o| matches!(o.action, OpAction::Remove { .. }) && creates.contains(&o.address))
            .map(|o| o.address.clone())
            .collect();
        let list_id = |o: &Operation, adopt: bool| match (&o.action, o.kind) {
            (OpAction::Adopt { id }, Kind::Audience) if adopt => Some(id.clone()),
            (OpAction::Update { id, .. }, Kind::Audience) if !adopt => Some(id.clone()),
            _ => None,
        };
        let adopted: HashSet<String> = ops.iter().filter_map(|o| list_id(o, true)).collect();
        self.adopted_and_updated = ops
            .iter()
            .filter_map(|o| list_id(o, false))
            .filter(|id| adopted.contains(id))
            .collect();
        for (i, op) in ops.iter().enumerate() {
            match self.build_one(i, op, &mut built) {
                Ok(()) => {}
                Err(msg) => built.immediate[i] = Some(failed("ADSCTL.UNSUPPORTED", msg)),
            }
        }
        built.units.extend(std::mem::take(&mut self.new_labels));
        built.units.sort_by_key(|u| u.rank);
        built
    }

    fn unit(built: &mut Built, op: usize, rank: u8, body: Json, temp: Option<String>, primary: bool) {
        let creates = body
            .as_object()
            .and_then(|o| o.values().next())
            .is_some_and(|inner| inner.get("create").is_some());
        built.units.push(Unit {
            op: Some(op),
            rank,
            body,
            temp,
            primary,
            creates,
        });
    }

    fn label_link(&self, built: &mut Built, i: usize, kind: Kind, target: &str) -> Result<(), String> {
        let label = self.label.clone().ok_or("no ownership label")?;
        let (key, field, rank) = match kind {
            Kind::Campaign => ("campaignLabelOperation", "campaign", 20),
            Kind::AdGroup => ("adGroupLabelOperation", "adGroup", 21),
            Kind::Ad => ("adGroupAdLabelOperation", "adGroupAd", 22),
            Kind::Keyword => ("adGroupCriterionLabelOperation", "adGroupCriterion", 23),
            _ => return Ok(()),
        };
        Self::unit(
            built,
            i,
            rank,
            json!({ key: {"create": {field: target, "label": label}}}),
            None,
            false,
        );
        Ok(())
    }

    fn build_one(&mut self, i: usize, op: &Operation, built: &mut Built) -> Result<(), String> {
        if op.kind == Kind::Experiment {
            // not part of the mutate: its own services and custom methods, once its base campaign exists
            let base = match &op.action {
                OpAction::Create { fields } => {
                    super::experiment::base_of(op, fields, |r| self.resolve(r, Kind::Campaign))?
                }
                _ => None,
            };
            if let OpAction::Update { id, .. }
            | OpAction::Remove { id }
            | OpAction::Adopt { id }
            | OpAction::Pause { id } = &op.action
            {
                built.known_ids[i] = Some(id.clone());
            }
            built.experiments.push(super::experiment::ExpWant { op: i, base });
            return Ok(());
        }
        let name = op.address.name().unwrap_or_default().to_string();
        match &op.action {
            OpAction::Create { fields } => self.create(i, op, &name, fields, built),
            OpAction::Update { id, set, before } => {
                built.known_ids[i] = Some(id.clone());
                self.update(i, op, id, set, before, built)
            }
            OpAction::Adopt { id } => {
                built.known_ids[i] = Some(id.clone());
                if labelled(op.kind) {
                    let target = self.rn(op.kind, id);
                    self.label_link(built, i, op.kind, &target)
                } else if op.kind == Kind::Audience && self.adopted_and_updated.contains(id) {
                    // Its update in this batch writes the marker.
                    built.immediate[i] = Some(OpOutcome::Applied { id: id.clone() });
                    Ok(())
                } else if op.kind == Kind::Audience {
                    // The members it holds are not known: no fingerprint (a plan that manages them uploads them).
                    Self::unit(
                        built,
                        i,
                        11,
                        json!({"userListOperation": {"update": {"resourceName": self.rn(Kind::Audience, id),
                            "integrationCode": super::read::list_marker(None)}, "updateMask": "integrationCode"}}),
                        None,
                        true,
                    );
                    Ok(())
                } else {
                    // Budgets and negative keywords have no marker: the YAML declaring them is what makes them
                    // adsctl's (docs/resource-model.md).
                    built.immediate[i] = Some(OpOutcome::Applied { id: id.clone() });
                    Ok(())
                }
            }
            OpAction::Pause { id } => {
                built.known_ids[i] = Some(id.clone());
                match op.kind {
                    Kind::Campaign | Kind::AdGroup | Kind::Ad | Kind::Keyword | Kind::AssetGroup => {
                        let (key, rank) = op_key(op.kind);
                        Self::unit(
                            built,
                            i,
                            10 + rank,
                            json!({ key: {"update": {"resourceName": self.rn(op.kind, id), "status": "PAUSED"},
                                          "updateMask": "status"}}),
                            None,
                            true,
                        );
                        Ok(())
                    }
                    // Budgets, negative keywords and user lists have nothing to pause: they stay as they are.
                    _ => {
                        built.immediate[i] = Some(OpOutcome::Applied { id: id.clone() });
                        Ok(())
                    }
                }
            }
            OpAction::Remove { id } => {
                built.known_ids[i] = Some(id.clone());
                let (key, rn) = if campaign_level(op) {
                    (
                        "campaignCriterionOperation",
                        format!("customers/{}/campaignCriteria/{id}", self.customer),
                    )
                } else {
                    (op_key(op.kind).0, self.rn(op.kind, id))
                };
                if key.is_empty() {
                    return Err(format!("{} is not a Google Ads kind", op.kind));
                }
                // One request removes children before parents (a removed parent's children cannot be changed),
                // and what a create in the same request replaces before that create (its name is taken).
                let rank = if self.replaced.contains(&op.address) {
                    REPLACED_RANK
                } else {
                    removal_rank(op.kind)
                };
                Self::unit(built, i, rank, json!({ key: {"remove": rn}}), None, true);
                if op.kind == Kind::Campaign
                    && rank != REPLACED_RANK
                    && self.ctx.get(id).is_none_or(|c| c.goal_linked != Some(false))
                {
                    // Before the removal: a removed campaign's config still links its custom goal, which could
                    // then never be removed. (A replaced campaign is not: its new self bids on the same list and
                    // reuses the goal.) Not known whether it is linked: set back all the same, harmlessly.
                    built.goals_unlinked += 1;
                    Self::unit(
                        built,
                        i,
                        GOAL_UNLINK_RANK,
                        json!({"conversionGoalCampaignConfigOperation": {"update": {
                            "resourceName": format!("customers/{}/conversionGoalCampaignConfigs/{id}", self.customer),
                            "goalConfigLevel": "CUSTOMER"},
                            "updateMask": "goalConfigLevel,customConversionGoal"}}),
                        None,
                        false,
                    );
                }
                if op.kind == Kind::Campaign {
                    if let Some(ctx) = self.ctx.get(id).filter(|c| c.own_budget) {
                        if let Some(b) = &ctx.budget_rn {
                            // After the campaign: a budget in use cannot be removed.
                            Self::unit(
                                built,
                                i,
                                rank.max(removal_rank(Kind::Campaign)) + 1,
                                json!({"campaignBudgetOperation": {"remove": b}}),
                                None,
                                false,
                            );
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn create(
        &mut self,
        i: usize,
        op: &Operation,
        name: &str,
        fields: &Fields,
        built: &mut Built,
    ) -> Result<(), String> {
        match op.kind {
            Kind::Budget => {
                let t = self.temp_rn(Kind::Budget);
                let (mut obj, _) = mapping::budget_json(fields, "");
                obj.insert("resourceName".into(), json!(t));
                obj.insert("name".into(), json!(name));
                obj.insert("explicitlyShared".into(), json!(true));
                Self::unit(
                    built,
                    i,
                    2,
                    json!({"campaignBudgetOperation": {"create": obj}}),
                    Some(t.clone()),
                    true,
                );
                self.temp_of.insert(i, t);
                Ok(())
            }
            Kind::Conversion => {
                let t = self.temp_rn(Kind::Conversion);
                let (mut obj, _) = mapping::conversion_json(fields);
                obj.insert("resourceName".into(), json!(t));
                obj.insert("name".into(), json!(name));
                Self::unit(
                    built,
                    i,
                    1,
                    json!({"conversionActionOperation": {"create": obj}}),
                    Some(t.clone()),
                    true,
                );
                self.temp_of.insert(i, t);
                Ok(())
            }
            Kind::Audience => {
                let t = self.temp_rn(Kind::Audience);
                let (mut obj, _) = mapping::audience_json(fields);
                obj.insert("resourceName".into(), json!(t));
                obj.insert("name".into(), json!(name));
                let members = fields.get("members");
                let adds: Vec<String> = mapping::members(members).into_iter().collect();
                // The fingerprint goes in once the members are uploaded; an empty list is complete at once.
                let fp = members.filter(|_| adds.is_empty()).map(value_fingerprint);
                obj.insert("integrationCode".into(), json!(super::read::list_marker(fp.as_deref())));
                obj.insert(
                    "crmBasedUserList".into(),
                    json!({"uploadKeyType": "CONTACT_INFO", "dataSourceType": "FIRST_PARTY"}),
                );
                Self::unit(
                    built,
                    i,
                    1,
                    json!({"userListOperation": {"create": obj}}),
                    Some(t.clone()),
                    true,
                );
                if let (false, Some(m)) = (adds.is_empty(), members) {
                    built.uploads.push(Upload {
                        op: i,
                        list: t.clone(),
                        adds,
                        removes: Vec::new(),
                        replace: false,
                        fingerprint: value_fingerprint(m),
                    });
                }
                self.temp_of.insert(i, t);
                Ok(())
            }
            Kind::Campaign => {
                let budget = match fields.get("budget.shared") {
                    Some(Value::Ref(addr)) => {
                        let r = op
                            .refs
                            .get(addr)
                            .ok_or_else(|| format!("no id for the shared budget {addr}"))?;
                        self.resolve(r, Kind::Budget)?
                    }
                    _ => {
                        let (mut b, _) = mapping::budget_json(fields, "budget.");
                        if !b.contains_key("amountMicros") {
                            return Err("a campaign needs `budget.daily` or `budget.shared`".into());
                        }
                        let t = self.temp_rn(Kind::Budget);
                        b.insert("resourceName".into(), json!(t));
                        b.insert("name".into(), json!(name));
                        b.insert("explicitlyShared".into(), json!(false));
                        Self::unit(
                            built,
                            i,
                            2,
                            json!({"campaignBudgetOperation": {"create": b}}),
                            Some(t.clone()),
                            false,
                        );
                        t
                    }
                };
                let t = self.temp_rn(Kind::Campaign);
                let (mut obj, _) = mapping::campaign_json(fields, None);
                super::pmax::campaign_create_defaults(fields, &mut obj);
                obj.insert("resourceName".into(), json!(t));
                obj.insert("name".into(), json!(name));
                obj.insert("campaignBudget".into(), json!(budget));
                // Required in practice since v19: declare it when the YAML does not.
                obj.entry("containsEuPoliticalAdvertising")
                    .or_insert_with(|| json!("DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"));
                Self::unit(
                    built,
                    i,
                    3,
                    json!({"campaignOperation": {"create": obj}}),
                    Some(t.clone()),
                    true,
                );
                self.temp_of.insert(i, t.clone());
                self.goal_want(i, op, &t, fields.get("conversion_goals"), built)?;
                let want = mapping::members(fields.get("labels"));
                self.campaign_labels(built, i, &t, &want, &Default::default());
                self.label_link(built, i, Kind::Campaign, &t)
            }
            Kind::AdGroup => {
                let parent = self.parent(op, Kind::Campaign)?;
                let t = self.temp_rn(Kind::AdGroup);
                let (mut obj, _) = mapping::ad_group_json(fields);
                obj.insert("resourceName".into(), json!(t));
                obj.insert("name".into(), json!(name));
                obj.insert("campaign".into(), json!(parent));
                obj.entry("type").or_insert_with(|| json!("SEARCH_STANDARD"));
                Self::unit(
                    built,
                    i,
                    4,
                    json!({"adGroupOperation": {"create": obj}}),
                    Some(t.clone()),
                    true,
                );
                self.temp_of.insert(i, t.clone());
                self.label_link(built, i, Kind::AdGroup, &t)
            }
            Kind::Ad => {
                let parent = self.parent(op, Kind::AdGroup)?;
                let ((ad, _), (mut aga, _)) = mapping::ad_json(fields);
                // A temporary name for the new AdGroupAd: its ad group's id and a negative ad id.
                let n = self.temp();
                let t = format!("customers/{}/adGroupAds/{}~{n}", self.customer, id_of(&parent));
                aga.insert("resourceName".into(), json!(t));
                aga.insert("adGroup".into(), json!(parent));
                aga.insert("ad".into(), Json::Object(ad));
                Self::unit(
                    built,
                    i,
                    5,
                    json!({"adGroupAdOperation": {"create": aga}}),
                    Some(t.clone()),
                    true,
                );
                self.temp_of.insert(i, t.clone());
                self.label_link(built, i, Kind::Ad, &t)
            }
            Kind::NegativeKeyword if campaign_level(op) => {
                let parent = self.parent(op, Kind::Campaign)?;
                let (text, match_type) = mapping::keyword_identity(fields, op.address.name().unwrap_or_default());
                let obj = json!({
                    "campaign": parent,
                    "negative": true,
                    "keyword": {"text": text, "matchType": mapping::upper(&match_type)},
                });
                Self::unit(
                    built,
                    i,
                    6,
                    json!({"campaignCriterionOperation": {"create": obj}}),
                    None,
                    true,
                );
                Ok(())
            }
            Kind::Keyword | Kind::NegativeKeyword => {
                let negative = op.kind == Kind::NegativeKeyword;
                let parent = self.parent(op, Kind::AdGroup)?;
                let (text, match_type) = mapping::keyword_identity(fields, op.address.name().unwrap_or_default());
                let (mut obj, _) = mapping::keyword_json(fields);
                if negative {
                    obj.remove("cpcBidMicros");
                    obj.remove("status");
                }
                obj.insert("adGroup".into(), json!(parent));
                obj.insert("negative".into(), json!(negative));
                obj.insert(
                    "keyword".into(),
                    json!({"text": text, "matchType": mapping::upper(&match_type)}),
                );
                // A positive keyword carries the ownership label: it needs a temporary name to link it in the
                // same request (its ad group's id, which may be temporary too, and a negative criterion id).
                let temp = (!negative).then(|| {
                    let n = self.temp();
                    format!("customers/{}/adGroupCriteria/{}~{n}", self.customer, id_of(&parent))
                });
                if let Some(t) = &temp {
                    obj.insert("resourceName".into(), json!(t));
                }
                Self::unit(
                    built,
                    i,
                    6,
                    json!({"adGroupCriterionOperation": {"create": obj}}),
                    temp.clone(),
                    true,
                );
                match temp {
                    Some(t) => {
                        self.temp_of.insert(i, t.clone());
                        self.label_link(built, i, Kind::Keyword, &t)
                    }
                    None => Ok(()),
                }
            }
            Kind::AssetGroup => {
                let parent = self.parent(op, Kind::Campaign)?;
                let t = self.temp_rn(Kind::AssetGroup);
                let (mut obj, _) = super::pmax::asset_group_json(fields);
                obj.insert("resourceName".into(), json!(t));
                obj.insert("name".into(), json!(name));
                obj.insert("campaign".into(), json!(parent));
                Self::unit(
                    built,
                    i,
                    8,
                    json!({"assetGroupOperation": {"create": obj}}),
                    Some(t.clone()),
                    true,
                );
                self.temp_of.insert(i, t.clone());
                self.listing_groups(i, &t, None, fields.get("listing_groups"), built)
            }
            other => Err(format!("{other} is not a Google Ads kind")),
        }
    }

    /// A tree's units: the live nodes removed deepest first (`live`, when replacing one), then the new tree
    /// created root first, all at one rank so that they stay together and in this order.
    fn listing_groups(
        &mut self,
        i: usize,
        group: &str,
        live: Option<&str>,
        want: Option<&Value>,
        built: &mut Built,
    ) -> Result<(), String> {
        let Some(want) = want else { return Ok(()) };
        if let Some(id) = live {
            let nodes = self.trees.get(id).cloned().unwrap_or_default();
            for rn in nodes {
                Self::unit(
                    built,
                    i,
                    9,
                    json!({"assetGroupListingGroupFilterOperation": {"remove": rn}}),
                    None,
                    false,
                );
            }
        }
        if matches!(want, Value::List(xs) if xs.is_empty()) {
            return Ok(());
        }
        let tree = super::pmax::Tree::of_value(want).ok_or("the listing group tree is not one adsctl can write")?;
        let customer = self.customer.clone();
        let mut next = || self.temp();
        for body in super::pmax::tree_ops(&customer, group, &tree, &mut next) {
            Self::unit(built, i, 9, body, None, false);
        }
        Ok(())
    }

    fn update(
        &mut self,
        i: usize,
        op: &Operation,
        id: &str,
        set: &Fields,
        before: &Fields,
        built: &mut Built,
    ) -> Result<(), String> {
        let rn = self.rn(op.kind, id);
        let mut pushed = false;
        let mut linked = false;
        // A rename is `name` in the object's own update (budgets, campaigns, ad groups, user lists).
        let rename = |obj: &mut Map<String, Json>, mask: &mut Vec<String>| {
            if let Some(Value::Str(n)) = set.get(NAME_FIELD) {
                obj.insert("name".into(), json!(n));
                mask.push("name".into());
            }
        };
        let mut push =
            |built: &mut Built, key: &str, rank: u8, mut obj: Map<String, Json>, mask: Vec<String>, rn: &str| {
                if mask.is_empty() {
                    return;
                }
                obj.insert("resourceName".into(), json!(rn));
                Self::unit(
                    built,
                    i,
                    10 + rank,
                    json!({ key: {"update": obj, "updateMask": mask.join(",")}}),
                    None,
                    !pushed,
                );
                pushed = true;
            };
        match op.kind {
            Kind::Budget => {
                let (mut obj, mut mask) = mapping::budget_json(set, "");
                rename(&mut obj, &mut mask);
                push(built, "campaignBudgetOperation", 2, obj, mask, &rn);
            }
            Kind::Campaign => {
                let campaign = self.rn(Kind::Campaign, id);
                self.goal_want(i, op, &campaign, set.get("conversion_goals"), built)?;
                if set.contains_key("labels") {
                    let want = mapping::members(set.get("labels"));
                    let had = mapping::members(before.get("labels"));
                    self.campaign_labels(built, i, &rn, &want, &had);
                    linked = true;
                }
                let ctx = self.ctx.get(id).cloned().unwrap_or_default();
                let (b, bmask) = mapping::budget_json(set, "budget.");
                if !bmask.is_empty() {
                    let brn = ctx
                        .budget_rn
                        .clone()
                        .ok_or_else(|| format!("campaign {id} has no budget to update"))?;
                    push(built, "campaignBudgetOperation", 2, b, bmask, &brn);
                }
                let (mut obj, mut mask) = mapping::campaign_json(set, ctx.strategy.as_deref());
                rename(&mut obj, &mut mask);
                if let Some(Value::Ref(addr)) = set.get("budget.shared") {
                    let r = op
                        .refs
                        .get(addr)
                        .ok_or_else(|| format!("no id for the shared budget {addr}"))?;
                    obj.insert("campaignBudget".into(), json!(self.resolve(r, Kind::Budget)?));
                    mask.push("campaignBudget".into());
                }
                push(built, "campaignOperation", 3, obj, mask, &rn);
            }
            Kind::AdGroup => {
                let (mut obj, mut mask) = mapping::ad_group_json(set);
                rename(&mut obj, &mut mask);
                push(built, "adGroupOperation", 4, obj, mask, &rn);
            }
            Kind::Ad => {
                let ((ad, ad_mask), (aga, aga_mask)) = mapping::ad_json(set);
                push(built, "adGroupAdOperation", 5, aga, aga_mask, &rn);
                let ad_id = id.rsplit('~').next().unwrap_or(id);
                let ad_rn = format!("customers/{}/ads/{}", self.customer, ad_id);
                push(built, "adOperation", 7, ad, ad_mask, &ad_rn);
            }
            Kind::Keyword => {
                let (obj, mask) = mapping::keyword_json(set);
                push(built, "adGroupCriterionOperation", 6, obj, mask, &rn);
            }
            Kind::Audience => {
                let (mut obj, mut mask) = mapping::audience_json(set);
                rename(&mut obj, &mut mask);
                if let Some(m) = set.get("members") {
                    let want = mapping::members(Some(m));
                    // `before` holds the members only when the engine knows what the list holds.
                    let replace = !before.contains_key("members");
                    let had = mapping::members(before.get("members"));
                    let adds: Vec<String> = if replace {
                        want.iter().cloned().collect()
                    } else {
                        want.difference(&had).cloned().collect()
                    };
                    let removes: Vec<String> = had.difference(&want).cloned().collect();
                    // The marker loses its fingerprint until the jobs are done.
                    obj.insert("integrationCode".into(), json!(super::read::list_marker(None)));
                    mask.push("integrationCode".into());
                    built.uploads.push(Upload {
                        op: i,
                        list: rn.clone(),
                        adds,
                        removes,
                        replace,
                        fingerprint: value_fingerprint(m),
                    });
                }
                if self.adopted_and_updated.contains(id) && !mask.iter().any(|m| m == "integrationCode") {
                    obj.insert("integrationCode".into(), json!(super::read::list_marker(None)));
                    mask.push("integrationCode".into());
                }
                push(built, "userListOperation", 1, obj, mask, &rn);
            }
            Kind::Conversion => {
                let (mut obj, mut mask) = mapping::conversion_json(set);
                rename(&mut obj, &mut mask);
                push(built, "conversionActionOperation", 1, obj, mask, &rn);
            }
            Kind::AssetGroup => {
                let (mut obj, mut mask) = super::pmax::asset_group_json(set);
                rename(&mut obj, &mut mask);
                push(built, "assetGroupOperation", 8, obj, mask, &rn);
                if set.contains_key("listing_groups") {
                    let before_units = built.units.len();
                    self.listing_groups(i, &rn, Some(id), set.get("listing_groups"), built)?;
                    linked |= built.units.len() > before_units;
                }
            }
            Kind::NegativeKeyword => {
                return Err(
                    "negative keywords have no changeable fields (text and match type are their identity)".into(),
                )
            }
            other => return Err(format!("{other} is not a Google Ads kind")),
        }
        if !pushed && !linked && !built.uploads.iter().any(|u| u.op == i) {
            built.immediate[i] = Some(OpOutcome::Applied { id: id.to_string() });
        }
        Ok(())
    }
}

/// Point each campaign's ConversionGoalCampaignConfig at a custom conversion goal of exactly its conversion
/// actions (or back at the account's goals), in one request after the campaigns and actions exist: a live goal
/// with the same list is reused (Google refuses two: DUPLICATE_CONVERSION_ACTION_LIST), else one named
/// `adsctl: <names>` is created; adsctl's goals no campaign uses any more are removed last (a linked one cannot
/// be). Returns the failure of the request, for the operations it served.
pub async fn write_goals(client: &Client, wants: &[GoalWant], cleanup: bool) -> Result<(), GoogleAdsError> {
    use super::read::{goal_actions, search_stream, GOAL_PREFIX, Q_CUSTOM_GOAL, Q_GOAL_CONFIG};
    if wants.is_empty() && !cleanup {
        return Ok(());
    }
    let (goals, configs) = tokio::try_join!(
        search_stream(client, Q_CUSTOM_GOAL),
        search_stream(client, Q_GOAL_CONFIG)
    )?;
    let live = goal_actions(&goals);
    // Campaign → the goal its config uses, before and after this request.
    let mut linked: HashMap<String, String> = configs
        .iter()
        .filter_map(|r| r.get("conversionGoalCampaignConfig"))
        .filter(|c| mapping::get_str(c, "goalConfigLevel") == Some("CAMPAIGN"))
        .filter_map(|c| {
            Some((
                mapping::get_str(c, "campaign")?.to_string(),
                mapping::get_str(c, "customConversionGoal")?.to_string(),
            ))
        })
        .collect();
    let mut by_list: BTreeMap<Vec<String>, String> = live
        .iter()
        .map(|(rn, (_, actions))| (actions.iter().cloned().collect(), rn.clone()))
        .collect();
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut next = -1i64;
    for w in wants {
        let config = format!(
            "customers/{}/conversionGoalCampaignConfigs/{}",
            client.customer_id,
            id_of(&w.campaign)
        );
        if w.actions.is_empty() {
            linked.remove(&w.campaign);
            updates.push(
                json!({"conversionGoalCampaignConfigOperation": {"update": {"resourceName": config,
                "goalConfigLevel": "CUSTOMER"}, "updateMask": "goalConfigLevel,customConversionGoal"}}),
            );
            continue;
        }
        let list: Vec<String> = w.actions.keys().cloned().collect();
        let goal = match by_list.get(&list) {
            Some(rn) => rn.clone(),
            None => {
                let t = format!("customers/{}/customConversionGoals/{next}", client.customer_id);
                next -= 1;
                let mut names: Vec<&str> = w.actions.values().map(String::as_str).collect();
                names.sort_unstable();
                creates.push(json!({"customConversionGoalOperation": {"create": {"resourceName": t,
                    "name": format!("{GOAL_PREFIX}{}", names.join(", ")), "conversionActions": list}}}));
                by_list.insert(list, t.clone());
                t
            }
        };
        linked.insert(w.campaign.clone(), goal.clone());
        updates.push(
            json!({"conversionGoalCampaignConfigOperation": {"update": {"resourceName": config,
            "goalConfigLevel": "CAMPAIGN", "customConversionGoal": goal},
            "updateMask": "goalConfigLevel,customConversionGoal"}}),
        );
    }
    let in_use: HashSet<&String> = linked.values().collect();
    let removes = live
        .iter()
        .filter(|(rn, (name, _))| name.starts_with(GOAL_PREFIX) && !in_use.contains(rn))
        .map(|(rn, _)| json!({"customConversionGoalOperation": {"remove": rn}}));
    let replay = if creates.is_empty() {
        Replay::Safe
    } else {
        Replay::Unsafe
    };
    let ops: Vec<Json> = creates.into_iter().chain(updates).chain(removes).collect();
    if ops.is_empty() {
        return Ok(());
    }
    let path = format!("customers/{}/googleAds:mutate", client.customer_id);
    let req = json!({"mutateOperations": ops, "partialFailure": false, "validateOnly": false,
        "responseContentType": "RESOURCE_NAME_ONLY"});
    client.post(&path, &req, replay).await.map(|_| ())
}

/// Write `adsctl-managed:<fingerprint>` into the `integrationCode` of user lists whose members are uploaded
/// (one mutate for all of them).
pub async fn write_list_fingerprints(client: &Client, lists: &[(String, String)]) -> Result<(), GoogleAdsError> {
    let ops: Vec<Json> = lists
        .iter()
        .map(|(rn, fp)| {
            json!({"userListOperation": {"update": {"resourceName": rn,
                "integrationCode": super::read::list_marker(Some(fp))}, "updateMask": "integrationCode"}})
        })
        .collect();
    let path = format!("customers/{}/googleAds:mutate", client.customer_id);
    let req = json!({"mutateOperations": ops, "partialFailure": false, "validateOnly": false,
        "responseContentType": "RESOURCE_NAME_ONLY"});
    client.post(&path, &req, Replay::Safe).await.map(|_| ())
}

/// Send rank of the removal of what a create of the same request replaces: before every create.
const REPLACED_RANK: u8 = 0;
/// A removed campaign's goal config set back to the account's goals: after the updates, before any removal.
const GOAL_UNLINK_RANK: u8 = 30;

/// Send rank of a removal: after creates (1–7), updates (11–17) and label links (20–23), children before
/// parents, budgets after the campaigns that used them.
fn removal_rank(kind: Kind) -> u8 {
    match kind {
        Kind::Keyword | Kind::NegativeKeyword => 31,
        Kind::Ad => 32,
        Kind::AdGroup | Kind::AssetGroup => 33,
        Kind::Campaign => 34,
        Kind::Budget => 36,
        Kind::Audience => 37,
        Kind::Conversion => 37,
        _ => 38,
    }
}

/// The MutateOperation member and the send rank of a kind.
fn op_key(kind: Kind) -> (&'static str, u8) {
    match kind {
        Kind::Audience => ("userListOperation", 1),
        Kind::Conversion => ("conversionActionOperation", 1),
        Kind::Budget => ("campaignBudgetOperation", 2),
        Kind::Campaign => ("campaignOperation", 3),
        Kind::AdGroup => ("adGroupOperation", 4),
        Kind::Ad => ("adGroupAdOperation", 5),
        Kind::Keyword | Kind::NegativeKeyword => ("adGroupCriterionOperation", 6),
        Kind::AssetGroup => ("assetGroupOperation", 8),
        _ => ("", 0),
    }
}

/// The result's resource name of one MutateOperationResponse (`{"campaignResult": {"resourceName": …}}`).
fn result_name(r: &Json) -> Option<String> {
    r.as_object()?
        .iter()
        .filter(|(k, _)| k.ends_with("Result"))
        .find_map(|(_, v)| v.get("resourceName").and_then(Json::as_str))
        .map(str::to_string)
}

/// Replace temporary resource names resolved by an earlier request.
fn substitute(j: &mut Json, done: &HashMap<String, String>) {
    match j {
        Json::String(s) => {
            if let Some(real) = done.get(s.as_str()) {
                *s = real.clone();
            } else if let Some((head, composite)) = s.split_once("/adGroupAds/") {
                // A new ad's temporary name embeds its ad group's id, which an earlier request may have resolved.
                if let Some((group, ad)) = composite.split_once('~') {
                    if let Some(real) = done.get(&format!("{head}/adGroups/{group}")) {
                        *s = format!("{head}/adGroupAds/{}~{ad}", id_of(real));
                    }
                }
            }
        }
        Json::Array(a) => a.iter_mut().for_each(|x| substitute(x, done)),
        Json::Object(o) => o.values_mut().for_each(|x| substitute(x, done)),
        _ => {}
    }
}

fn mentions(j: &Json, names: &HashSet<String>) -> bool {
    match j {
        Json::String(s) => names.contains(s),
        Json::Array(a) => a.iter().any(|x| mentions(x, names)),
        Json::Object(o) => o.values().any(|x| mentions(x, names)),
        _ => false,
    }
}

/// The units in requests of at most `max_ops`, each request in send order (by rank). An operation's units stay
/// in one request — an object and the label that marks it as adsctl's are made together, so no request boundary
/// (where a run can be killed) leaves an object without its marker — and operations keep the engine's order
/// across requests (parents before children, a replaced object's removal before its new create). Units that
/// serve no operation (label creations) go in the first request.
fn requests(built: &Built, max_ops: usize) -> Vec<Vec<usize>> {
    let max = max_ops.max(1);
    let mut groups: BTreeMap<(u8, usize), Vec<usize>> = BTreeMap::new();
    for (u, unit) in built.units.iter().enumerate() {
        let key = match unit.op {
            None => (0, 0),
            Some(op) => (1, op),
        };
        groups.entry(key).or_default().push(u);
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for (_, group) in groups {
        if !current.is_empty() && current.len() + group.len() > max {
            out.push(std::mem::take(&mut current));
        }
        // An operation larger than a request on its own (never in practice) is cut where it must be.
        for u in group {
            if current.len() == max {
                out.push(std::mem::take(&mut current));
            }
            current.push(u);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    for r in &mut out {
        r.sort_by_key(|&u| (built.units[u].rank, u));
    }
    out
}

/// What happened to each unit.
#[derive(Clone, Debug)]
enum UnitResult {
    Done(Option<String>),
    Error(AdsError),
    Skipped(String),
}

/// Send the units in requests of at most `max_ops`, then fold the unit results into one outcome per operation.
/// Also returns the resolved temporary names (for the uploads).
pub async fn execute(
    client: &Client,
    built: &Built,
    n_ops: usize,
    validate_only: bool,
    max_ops: usize,
) -> Result<(Vec<OpOutcome>, HashMap<String, String>), GoogleAdsError> {
    let mut results: Vec<Option<UnitResult>> = vec![None; built.units.len()];
    let mut resolved: HashMap<String, String> = HashMap::new();
    let mut failed_temps: HashSet<String> = HashSet::new();
    let mut failed_ops: HashSet<usize> = HashSet::new();
    let path = format!("customers/{}/googleAds:mutate", client.customer_id);
    // A validation makes nothing: a temporary name from an earlier request of it never resolves, so what refers
    // to one is reported as not checked rather than sent to fail.
    let mut unchecked_temps: HashSet<String> = HashSet::new();
    for chunk in &requests(built, max_ops) {
        let mut sent: Vec<usize> = Vec::new();
        let mut bodies = Vec::new();
        for &u in chunk {
            let unit = &built.units[u];
            if validate_only && mentions(&unit.body, &unchecked_temps) {
                results[u] = Some(UnitResult::Skipped(
                    "not checked: it refers to an object created in an earlier request of this validation".into(),
                ));
                if let Some(t) = &unit.temp {
                    unchecked_temps.insert(t.clone());
                }
                continue;
            }
            if unit.op.is_some_and(|o| failed_ops.contains(&o)) || mentions(&unit.body, &failed_temps) {
                results[u] = Some(UnitResult::Skipped("something it depends on failed".into()));
                if let Some(t) = &unit.temp {
                    failed_temps.insert(t.clone());
                }
                continue;
            }
            let mut body = unit.body.clone();
            substitute(&mut body, &resolved);
            bodies.push(body);
            sent.push(u);
        }
        if sent.is_empty() {
            continue;
        }
        if validate_only {
            unchecked_temps.extend(sent.iter().filter_map(|&u| built.units[u].temp.clone()));
        }
        let replay = if sent.iter().any(|&u| built.units[u].creates) && !validate_only {
            Replay::Unsafe
        } else {
            Replay::Safe
        };
        let req = json!({
            "mutateOperations": bodies,
            "partialFailure": true,
            "validateOnly": validate_only,
            "responseContentType": "RESOURCE_NAME_ONLY",
        });
        let (responses, errors, whole_rejected) = match client.post(&path, &req, replay).await {
            Ok(resp) => {
                let responses = resp
                    .get("mutateOperationResponses")
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_default();
                let errors = resp
                    .get("partialFailureError")
                    .map(|s| super::errors::parse_status(s).2)
                    .unwrap_or_default();
                (responses, errors, false)
            }
            Err(GoogleAdsError::Api(f)) if f.all_per_operation() => (Vec::new(), f.errors, true),
            Err(e) => return Err(e),
        };
        let mut by_index: BTreeMap<usize, AdsError> = BTreeMap::new();
        for e in errors {
            if let Some(ix) = e.operation_index {
                by_index.entry(ix).or_insert(e);
            }
        }
        for (pos, &u) in sent.iter().enumerate() {
            let unit = &built.units[u];
            let r = if let Some(e) = by_index.get(&pos) {
                UnitResult::Error(e.clone())
            } else if whole_rejected && !validate_only {
                UnitResult::Skipped("not applied: another operation of the same request was rejected".into())
            } else {
                let name = responses.get(pos).and_then(result_name);
                UnitResult::Done(name)
            };
            match &r {
                UnitResult::Done(Some(name)) => {
                    if let Some(t) = &unit.temp {
                        resolved.insert(t.clone(), name.clone());
                    }
                }
                UnitResult::Done(None) if !validate_only => {
                    // partial failure leaves an empty result for a failed operation; an error names it above.
                }
                UnitResult::Error(_) | UnitResult::Skipped(_) => {
                    if let Some(t) = &unit.temp {
                        failed_temps.insert(t.clone());
                    }
                    if let Some(o) = unit.op {
                        failed_ops.insert(o);
                    }
                }
                _ => {}
            }
            results[u] = Some(r);
        }
    }

    // Fold per operation.
    let mut out: Vec<OpOutcome> = Vec::with_capacity(n_ops);
    for i in 0..n_ops {
        if let Some(o) = &built.immediate[i] {
            out.push(o.clone());
            continue;
        }
        let mine: Vec<(&Unit, Option<&UnitResult>)> = built
            .units
            .iter()
            .zip(results.iter())
            .filter(|(u, _)| u.op == Some(i))
            .map(|(u, r)| (u, r.as_ref()))
            .collect();
        let label_failed = built
            .units
            .iter()
            .zip(results.iter())
            .find(|(u, _)| u.op.is_none())
            .and_then(|(_, r)| match r {
                Some(UnitResult::Error(e)) => Some(e.clone()),
                _ => None,
            });
        let first_error = mine.iter().find_map(|(_, r)| match r {
            Some(UnitResult::Error(e)) => Some(e.to_op_error()),
            _ => None,
        });
        let outcome = if let Some(e) = first_error {
            OpOutcome::Failed(e)
        } else if let Some((_, Some(UnitResult::Skipped(reason)))) =
            mine.iter().find(|(_, r)| matches!(r, Some(UnitResult::Skipped(_))))
        {
            match &label_failed {
                Some(e) if mine.iter().any(|(u, _)| !u.primary) => OpOutcome::Failed(e.to_op_error()),
                _ => OpOutcome::Skipped { reason: reason.clone() },
            }
        } else if validate_only {
            OpOutcome::Valid
        } else {
            let id = mine
                .iter()
                .find(|(u, _)| u.primary)
                .and_then(|(_, r)| match r {
                    Some(UnitResult::Done(Some(n))) => Some(id_of(n)),
                    _ => None,
                })
                .or_else(|| built.known_ids[i].clone());
            match id {
                Some(id) => OpOutcome::Applied { id },
                None if mine.is_empty() => OpOutcome::Skipped {
                    reason: "nothing to send".into(),
                },
                None => failed(
                    "ADSCTL.NO_RESULT",
                    "the platform returned no resource name for this operation",
                ),
            }
        };
        out.push(outcome);
    }
    Ok((out, resolved))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Money};

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }
    fn money(m: i64) -> Value {
        Value::Money(Money::from_micros(m))
    }
    fn create(a: &str, kind: Kind, parent: Option<IdRef>, fields: Vec<(&str, Value)>) -> Operation {
        Operation {
            address: addr(a),
            kind,
            action: OpAction::Create {
                fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            },
            parent,
            refs: BTreeMap::new(),
        }
    }

    fn tree() -> Vec<Operation> {
        vec![
            create(
                "a/campaign/Spring",
                Kind::Campaign,
                None,
                vec![
                    ("status", Value::str("enabled")),
                    ("channel", Value::str("search")),
                    ("budget.daily", money(50_000_000)),
                    ("bidding.strategy", Value::str("manual_cpc")),
                ],
            ),
            create(
                "a/campaign/Spring/ad_group/Shoes",
                Kind::AdGroup,
                Some(IdRef::Pending(0)),
                vec![("default_cpc", money(1_200_000))],
            ),
            create(
                "a/campaign/Spring/ad_group/Shoes/ad/1",
                Kind::Ad,
                Some(IdRef::Pending(1)),
                vec![("final_url", Value::Url("https://example.com".into()))],
            ),
            create(
                "a/campaign/Spring/ad_group/Shoes/keyword/running shoes:phrase",
                Kind::Keyword,
                Some(IdRef::Pending(1)),
                vec![],
            ),
        ]
    }

    #[test]
    fn a_new_tree_uses_temporary_names_in_dependency_order() {
        let ctx = HashMap::new();
        let built = Builder::new("123", None, &ctx).build(&tree());
        let keys: Vec<String> = built
            .units
            .iter()
            .map(|u| u.body.as_object().unwrap().keys().next().unwrap().clone())
            .collect();
        assert_eq!(
            keys,
            [
                "labelOperation",
                "campaignBudgetOperation",
                "campaignOperation",
                "adGroupOperation",
                "adGroupAdOperation",
                "adGroupCriterionOperation",
                "campaignLabelOperation",
                "adGroupLabelOperation",
                "adGroupAdLabelOperation",
                "adGroupCriterionLabelOperation"
            ]
        );
        let b = &built.units;
        assert_eq!(b[0].body["labelOperation"]["create"]["name"], OWNER_LABEL);
        let budget = b[1].body["campaignBudgetOperation"]["create"].clone();
        assert_eq!(budget["explicitlyShared"], false);
        assert_eq!(budget["amountMicros"], "50000000");
        assert_eq!(budget["name"], "Spring");
        let camp = b[2].body["campaignOperation"]["create"].clone();
        assert_eq!(camp["campaignBudget"], budget["resourceName"]);
        assert_eq!(camp["manualCpc"], json!({}));
        let temp: i64 = id_of(camp["resourceName"].as_str().unwrap()).parse().unwrap();
        assert!(temp < 0);
        let ag = b[3].body["adGroupOperation"]["create"].clone();
        assert_eq!(ag["campaign"], camp["resourceName"]);
        let ad = b[4].body["adGroupAdOperation"]["create"].clone();
        assert_eq!(ad["adGroup"], ag["resourceName"]);
        assert!(ad["resourceName"].as_str().unwrap().starts_with(&format!(
            "customers/123/adGroupAds/{}~-",
            id_of(ag["resourceName"].as_str().unwrap())
        )));
        let kw = b[5].body["adGroupCriterionOperation"]["create"].clone();
        assert_eq!(kw["keyword"], json!({"text": "running shoes", "matchType": "PHRASE"}));
        // The keyword gets a temporary name under its (temporary) ad group, and the ownership label through it.
        assert!(kw["resourceName"].as_str().unwrap().starts_with(&format!(
            "customers/123/adGroupCriteria/{}~-",
            id_of(ag["resourceName"].as_str().unwrap())
        )));
        assert_eq!(
            b[9].body["adGroupCriterionLabelOperation"]["create"]["adGroupCriterion"],
            kw["resourceName"]
        );
        assert_eq!(
            b[6].body["campaignLabelOperation"]["create"]["label"],
            b[0].body["labelOperation"]["create"]["resourceName"]
        );
        // Temp ids are unique across types.
        let mut temps: Vec<&String> = b.iter().filter_map(|u| u.temp.as_ref()).collect();
        let n = temps.len();
        temps.sort();
        temps.dedup();
        assert_eq!(temps.len(), n);
    }

    #[test]
    fn conversion_goals_wait_for_the_campaign_and_its_actions() {
        let ctx = HashMap::new();
        let purchase = addr("a/conversion/Purchase");
        let lead = addr("a/conversion/Lead");
        let goals = Value::Set([Value::reference(purchase.clone()), Value::reference(lead.clone())].into());
        let conv = create(
            "a/conversion/Purchase",
            Kind::Conversion,
            None,
            vec![("type", Value::str("webpage"))],
        );
        let mut camp = tree().remove(0);
        if let OpAction::Create { fields } = &mut camp.action {
            fields.insert("conversion_goals".into(), goals.clone());
        }
        camp.refs = [(purchase, IdRef::Pending(0)), (lead, IdRef::Known("77".into()))].into();
        let upd = Operation {
            address: addr("a/campaign/Autumn"),
            kind: Kind::Campaign,
            action: OpAction::Update {
                id: "21".into(),
                set: [("conversion_goals".to_string(), Value::Set(Default::default()))].into(),
                before: [("conversion_goals".to_string(), goals)].into(),
            },
            parent: None,
            refs: BTreeMap::new(),
        };
        let built = Builder::new("123", Some("customers/123/labels/9".into()), &ctx).build(&[conv, camp, upd]);
        // nothing about goals in the mutate itself: its campaign and actions are temporary names there
        assert!(
            built.units.iter().all(|u| !u.body.to_string().contains("Goal")),
            "{:?}",
            built.units
        );
        assert_eq!(built.goals.len(), 2);
        let new = &built.goals[0];
        assert_eq!(new.op, 1);
        assert!(id_of(&new.campaign).starts_with('-'));
        let conv_temp = built
            .units
            .iter()
            .find_map(|u| u.body.pointer("/conversionActionOperation/create/resourceName"));
        let mut want = BTreeMap::new();
        want.insert("customers/123/conversionActions/77".to_string(), "Lead".to_string());
        want.insert(
            conv_temp.and_then(Json::as_str).unwrap().to_string(),
            "Purchase".to_string(),
        );
        assert_eq!(new.actions, want);
        // an update of the goals alone sends nothing in the mutate: it is done once the goals are written
        assert_eq!(built.goals[1].campaign, "customers/123/campaigns/21");
        assert!(built.goals[1].actions.is_empty());
        assert!(matches!(built.immediate[2], Some(OpOutcome::Applied { .. })));
    }

    #[test]
    fn updates_carry_exact_masks() {
        let mut ctx = HashMap::new();
        ctx.insert(
            "21".to_string(),
            CampaignContext {
                budget_rn: Some("customers/123/campaignBudgets/11".into()),
                strategy: Some("manual_cpc".into()),
                own_budget: true,
                goal_linked: Some(false),
            },
        );
        ctx.insert(
            "23".to_string(),
            CampaignContext {
                budget_rn: Some("customers/123/campaignBudgets/13".into()),
                strategy: None,
                own_budget: true,
                goal_linked: Some(false),
            },
        );
        let ops = vec![
            Operation {
                address: addr("a/campaign/Spring"),
                kind: Kind::Campaign,
                action: OpAction::Update {
                    id: "21".into(),
                    set: [("budget.daily".to_string(), money(75_000_000))].into(),
                    before: [("budget.daily".to_string(), money(50_000_000))].into(),
                },
                parent: None,
                refs: BTreeMap::new(),
            },
            Operation {
                address: addr("a/campaign/Spring/ad_group/Shoes/ad/1"),
                kind: Kind::Ad,
                action: OpAction::Update {
                    id: "31~41".into(),
                    set: [(
                        "headlines".to_string(),
                        Value::List(vec![Value::Map([("text".to_string(), Value::str("New"))].into())]),
                    )]
                    .into(),
                    before: BTreeMap::new(),
                },
                parent: None,
                refs: BTreeMap::new(),
            },
            Operation {
                address: addr("a/campaign/Old"),
                kind: Kind::Campaign,
                action: OpAction::Pause { id: "22".into() },
                parent: None,
                refs: BTreeMap::new(),
            },
            Operation {
                address: addr("a/campaign/Older"),
                kind: Kind::Campaign,
                action: OpAction::Remove { id: "23".into() },
                parent: None,
                refs: BTreeMap::new(),
            },
        ];
        let built = Builder::new("123", Some("customers/123/labels/9".into()), &ctx).build(&ops);
        let bodies: Vec<&Json> = built.units.iter().map(|u| &u.body).collect();
        assert_eq!(
            *bodies[0],
            json!({"campaignBudgetOperation": {"update": {"amountMicros": "75000000",
                "resourceName": "customers/123/campaignBudgets/11"}, "updateMask": "amountMicros"}})
        );
        assert_eq!(
            *bodies[1],
            json!({"campaignOperation": {"update": {"resourceName": "customers/123/campaigns/22", "status": "PAUSED"},
                "updateMask": "status"}})
        );
        assert_eq!(
            *bodies[2],
            json!({"adOperation": {"update": {"responsiveSearchAd": {"headlines": [{"text": "New"}]},
                "resourceName": "customers/123/ads/41"}, "updateMask": "responsiveSearchAd.headlines"}})
        );
        assert_eq!(
            *bodies[3],
            json!({"campaignOperation": {"remove": "customers/123/campaigns/23"}})
        );
        assert!(built.immediate.iter().all(Option::is_none));
    }

    #[test]
    fn a_removed_campaign_bidding_on_a_custom_goal_is_set_back_first() {
        let ctx_of = |linked: Option<bool>| {
            let mut ctx = HashMap::new();
            ctx.insert(
                "23".to_string(),
                CampaignContext {
                    budget_rn: None,
                    strategy: None,
                    own_budget: false,
                    goal_linked: linked,
                },
            );
            ctx
        };
        let ops = vec![Operation {
            address: addr("a/campaign/Older"),
            kind: Kind::Campaign,
            action: OpAction::Remove { id: "23".into() },
            parent: None,
            refs: BTreeMap::new(),
        }];
        let unlink = json!({"conversionGoalCampaignConfigOperation": {"update": {
            "resourceName": "customers/123/conversionGoalCampaignConfigs/23", "goalConfigLevel": "CUSTOMER"},
            "updateMask": "goalConfigLevel,customConversionGoal"}});
        let remove = json!({"campaignOperation": {"remove": "customers/123/campaigns/23"}});
        // linked, or not known: the config first, then the campaign; the goals are looked at after
        for linked in [Some(true), None] {
            let ctx = ctx_of(linked);
            let mut built = Builder::new("123", Some("customers/123/labels/9".into()), &ctx).build(&ops);
            built.units.sort_by_key(|u| u.rank);
            let bodies: Vec<&Json> = built.units.iter().map(|u| &u.body).collect();
            assert_eq!(bodies, [&unlink, &remove], "{linked:?}");
            assert_eq!(built.goals_unlinked, 1);
            assert_eq!(super::super::operation_cost(&ops), 2 + 2 + 1, "{linked:?}");
        }
        // at the account's goals: the removal alone
        let ctx = ctx_of(Some(false));
        let built = Builder::new("123", Some("customers/123/labels/9".into()), &ctx).build(&ops);
        let bodies: Vec<&Json> = built.units.iter().map(|u| &u.body).collect();
        assert_eq!(bodies, [&remove]);
        assert_eq!(built.goals_unlinked, 0);
    }

    #[test]
    fn audience_member_diff_and_adopt() {
        let ctx = HashMap::new();
        let set = |xs: &[&str]| Value::Set(xs.iter().map(|x| Value::str(*x)).collect());
        let ops = vec![
            Operation {
                address: addr("a/audience/Subs"),
                kind: Kind::Audience,
                action: OpAction::Update {
                    id: "77".into(),
                    set: [("members".to_string(), set(&["aa", "bb"]))].into(),
                    before: [("members".to_string(), set(&["bb", "cc"]))].into(),
                },
                parent: None,
                refs: BTreeMap::new(),
            },
            Operation {
                address: addr("a/campaign/Found"),
                kind: Kind::Campaign,
                action: OpAction::Adopt { id: "5".into() },
                parent: None,
                refs: BTreeMap::new(),
            },
        ];
        let built = Builder::new("123", Some("customers/123/labels/9".into()), &ctx).build(&ops);
        assert_eq!(built.uploads.len(), 1);
        let up = &built.uploads[0];
        assert_eq!(
            (up.adds.clone(), up.removes.clone(), up.replace),
            (vec!["aa".to_string()], vec!["cc".to_string()], false)
        );
        assert_eq!(up.list, "customers/123/userLists/77");
        assert_eq!(up.fingerprint, value_fingerprint(&set(&["aa", "bb"])));
        // The list's marker loses its fingerprint until the jobs are done.
        assert_eq!(
            built.units[0].body,
            json!({"userListOperation": {"update": {"resourceName": "customers/123/userLists/77",
                "integrationCode": "adsctl-managed"}, "updateMask": "integrationCode"}})
        );
        assert_eq!(
            built.units[1].body,
            json!({"campaignLabelOperation": {"create": {"campaign": "customers/123/campaigns/5",
                "label": "customers/123/labels/9"}}})
        );
        // Without the members "before" (a runner without state), the list is emptied and filled again.
        let mut fresh = ops[..1].to_vec();
        if let OpAction::Update { before, .. } = &mut fresh[0].action {
            before.clear();
        }
        let built = Builder::new("123", None, &ctx).build(&fresh);
        let up = &built.uploads[0];
        assert!(up.replace);
        assert_eq!((up.adds.len(), up.removes.len()), (2, 0));
    }

    #[test]
    fn campaign_negatives_removals_children_first_and_replacements_first() {
        let ctx = HashMap::new();
        let remove = |a: &str, kind: Kind, id: &str| Operation {
            address: addr(a),
            kind,
            action: OpAction::Remove { id: id.into() },
            parent: None,
            refs: BTreeMap::new(),
        };
        let ops = vec![
            create(
                "a/campaign/Spring/negative_keyword/cheap:phrase",
                Kind::NegativeKeyword,
                Some(IdRef::Known("21".into())),
                vec![("text", Value::str("cheap")), ("match_type", Value::str("phrase"))],
            ),
            create(
                "a/campaign/Summer",
                Kind::Campaign,
                None,
                vec![("channel", Value::str("display")), ("budget.daily", money(1_000_000))],
            ),
            remove("a/campaign/Old", Kind::Campaign, "30"),
            remove("a/campaign/Old/ad_group/G", Kind::AdGroup, "31"),
            remove("a/campaign/Old/ad_group/G/keyword/x:exact", Kind::Keyword, "31~5"),
            remove(
                "a/campaign/Spring/negative_keyword/free:broad",
                Kind::NegativeKeyword,
                "21~9",
            ),
            remove("a/campaign/Summer", Kind::Campaign, "40"),
        ];
        let built = Builder::new("123", Some("customers/123/labels/9".into()), &ctx).build(&ops);
        let bodies: Vec<&Json> = built.units.iter().map(|u| &u.body).collect();
        // The campaign being replaced goes before every create; then creates; then removals children first.
        assert_eq!(
            *bodies[0],
            json!({"campaignOperation": {"remove": "customers/123/campaigns/40"}})
        );
        let cneg = bodies
            .iter()
            .find_map(|b| b.pointer("/campaignCriterionOperation/create"))
            .unwrap();
        assert_eq!(
            *cneg,
            json!({"campaign": "customers/123/campaigns/21", "negative": true,
                "keyword": {"text": "cheap", "matchType": "PHRASE"}})
        );
        let removals: Vec<String> = bodies
            .iter()
            .skip(1)
            .filter_map(|b| {
                b.as_object()?
                    .values()
                    .next()?
                    .get("remove")?
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(
            removals,
            [
                "customers/123/adGroupCriteria/31~5",
                "customers/123/campaignCriteria/21~9",
                "customers/123/adGroups/31",
                "customers/123/campaigns/30"
            ]
        );
        assert!(built.immediate.iter().all(Option::is_none));
    }

    #[test]
    fn campaign_labels_are_linked_and_unlinked() {
        let ctx = HashMap::new();
        let set = |xs: &[&str]| Value::Set(xs.iter().map(|x| Value::str(*x)).collect());
        let ops = vec![Operation {
            address: addr("a/campaign/Spring"),
            kind: Kind::Campaign,
            action: OpAction::Update {
                id: "21".into(),
                set: [("labels".to_string(), set(&["brand", "new"]))].into(),
                before: [("labels".to_string(), set(&["brand", "old"]))].into(),
            },
            parent: None,
            refs: BTreeMap::new(),
        }];
        let labels: HashMap<String, String> = [
            ("brand".to_string(), "customers/123/labels/8".to_string()),
            ("old".to_string(), "customers/123/labels/7".to_string()),
        ]
        .into();
        let built = Builder::new("123", None, &ctx).with_labels(labels).build(&ops);
        let bodies: Vec<&Json> = built.units.iter().map(|u| &u.body).collect();
        assert_eq!(bodies.len(), 3, "{bodies:?}");
        assert_eq!(bodies[0]["labelOperation"]["create"]["name"], "new");
        assert_eq!(
            bodies[1]["campaignLabelOperation"]["create"]["label"],
            bodies[0]["labelOperation"]["create"]["resourceName"]
        );
        assert_eq!(
            *bodies[2],
            json!({"campaignLabelOperation": {"remove": "customers/123/campaignLabels/21~7"}})
        );
        assert!(built.immediate[0].is_none());
    }

    #[test]
    fn substitution_and_results() {
        let mut done = HashMap::new();
        done.insert(
            "customers/1/campaigns/-2".to_string(),
            "customers/1/campaigns/55".to_string(),
        );
        let mut j = json!({"adGroupOperation": {"create": {"campaign": "customers/1/campaigns/-2"}}});
        substitute(&mut j, &done);
        assert_eq!(j["adGroupOperation"]["create"]["campaign"], "customers/1/campaigns/55");
        done.insert(
            "customers/1/adGroups/-3".to_string(),
            "customers/1/adGroups/66".to_string(),
        );
        let mut j = json!({"adGroupAdLabelOperation": {"create": {"adGroupAd": "customers/1/adGroupAds/-3~-9"}}});
        substitute(&mut j, &done);
        assert_eq!(
            j["adGroupAdLabelOperation"]["create"]["adGroupAd"],
            "customers/1/adGroupAds/66~-9"
        );
        assert_eq!(
            result_name(&json!({"campaignResult": {"resourceName": "customers/1/campaigns/55"}})).as_deref(),
            Some("customers/1/campaigns/55")
        );
        assert_eq!(result_name(&json!({})), None);
    }
}
