//! The executor: applies a [`Plan`] in dependency order, in batches up to each connector's maximum, accounts
//! in parallel; journals every create before it is sent; skips the dependents of a failed operation and keeps
//! going with independent work; records ids, applied values and a record of the apply in the state store.
//!
//! Entry point: [`execute`] (the CLI's `apply`, the `watch` daemon and the tests all call it).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::Utc;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::connectors::{ApplyBatch, Connector, IdRef, OpAction, OpError, OpOutcome, Operation};
use crate::model::{Account, Address, SmallMap, Value};
use crate::plan::{AccountPlan, Action, Change, Plan};
use crate::state::{ApplyRecord, Intent, StateEntry, StateError, StateStore};

pub mod lease;

/// How many times one account's apply sends again what a request with an unknown outcome did not do.
const MAX_RESENDS: u32 = 3;

/// The pause before sending again (doubling; `ADSCTL_CONFIRM_READ_DELAY_MS` scales it for tests).
fn resend_delay(n: u32) -> std::time::Duration {
    crate::plan::live::confirm_read_delays()[0].saturating_mul(1 << n.min(4))
}

/// An account to apply to, with its connector.
#[derive(Clone)]
pub struct Target {
    pub account: Account,
    pub connector: Arc<dyn Connector>,
}

#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// Accounts applied at the same time.
    pub concurrency: usize,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            concurrency: 4,
            progress: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the plan is blocked ({0}); it cannot be applied")]
    Blocked(String),
    #[error("the plan names account `{0}`, which is not configured")]
    UnknownAccount(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// What happened to one change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ChangeOutcome {
    Succeeded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    Failed {
        error: OpError,
    },
    Skipped {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeResult {
    pub account: String,
    pub address: Address,
    pub action: Action,
    #[serde(flatten)]
    pub outcome: ChangeOutcome,
}

/// The final report of an apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub plan_hash: String,
    pub results: Vec<ChangeResult>,
}

impl ApplyReport {
    fn count(&self, f: impl Fn(&ChangeOutcome) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.outcome)).count()
    }
    pub fn succeeded(&self) -> usize {
        self.count(|o| matches!(o, ChangeOutcome::Succeeded { .. }))
    }
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, ChangeOutcome::Failed { .. }))
    }
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, ChangeOutcome::Skipped { .. }))
    }
    pub fn ok(&self) -> bool {
        self.failed() == 0 && self.skipped() == 0
    }
    pub fn result_word(&self) -> &'static str {
        if self.ok() {
            "succeeded"
        } else if self.succeeded() == 0 {
            "failed"
        } else {
            "partial"
        }
    }
}

#[derive(Clone, Debug)]
enum StepState {
    Pending,
    Done(Option<String>),
    Failed(OpError),
    Skipped(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepKind {
    Create,
    /// The write-only fields of a create that a look-up found made (after a request whose outcome was unknown)
    /// without them: the platform made the object but not its members. Sent as an update of those fields.
    Complete,
    Update,
    Adopt,
    Pause,
    Remove,
}

#[derive(Debug)]
struct Step {
    change: usize,
    kind: StepKind,
    deps: Vec<usize>,
    removal_phase: bool,
}

fn steps_of(changes: &[Change]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut creates: BTreeMap<&Address, usize> = BTreeMap::new();
    // removal steps registered under every ancestor address, so a parent's removal waits for all of them
    let mut removals_below: BTreeMap<Address, Vec<usize>> = BTreeMap::new();
    for (ci, c) in changes.iter().enumerate() {
        let needs: Vec<usize> = c
            .address
            .parent()
            .into_iter()
            .chain(c.desired.values().flat_map(refs_of))
            .filter_map(|a| creates.get(&a).copied())
            .collect();
        let mut push = |kind, deps: Vec<usize>, removal_phase| {
            steps.push(Step {
                change: ci,
                kind,
                deps,
                removal_phase,
            });
            steps.len() - 1
        };
        match c.action {
            Action::Create => {
                let s = push(StepKind::Create, needs, false);
                creates.insert(&c.address, s);
            }
            Action::Update => {
                push(StepKind::Update, needs, false);
            }
            Action::Adopt => {
                let a = push(StepKind::Adopt, Vec::new(), false);
                if !c.fields.is_empty() {
                    let mut deps = needs;
                    deps.push(a);
                    push(StepKind::Update, deps, false);
                }
            }
            Action::Replace => {
                let r = push(StepKind::Remove, Vec::new(), false);
                let mut deps = needs;
                deps.push(r);
                let s = push(StepKind::Create, deps, false);
                creates.insert(&c.address, s);
            }
            Action::Pause | Action::Remove => {
                // children first: a parent waits for its descendants' removals
                let deps = removals_below.remove(&c.address).unwrap_or_default();
                let kind = if c.action == Action::Pause {
                    StepKind::Pause
                } else {
                    StepKind::Remove
                };
                let s = push(kind, deps, true);
                let mut p = c.address.parent();
                while let Some(a) = p {
                    p = a.parent();
                    removals_below.entry(a).or_default().push(s);
                }
            }
            Action::Orphan | Action::NoOp => {}
        }
    }
    // A reference to an object created later in the plan's order (a Salesforce campaign's `parent`, which sorts
    // after it): the creating step is known only now.
    let change_of: Vec<usize> = steps.iter().map(|s| s.change).collect();
    for s in steps.iter_mut() {
        if !matches!(s.kind, StepKind::Create | StepKind::Update) {
            continue;
        }
        let c = &changes[s.change];
        for a in c.desired.values().flat_map(refs_of) {
            if let Some(&dep) = creates.get(&a) {
                if changes[change_of[dep]].address != c.address && !s.deps.contains(&dep) {
                    s.deps.push(dep);
                }
            }
        }
    }
    steps
}

fn refs_of(v: &Value) -> Vec<Address> {
    match v {
        Value::Ref(a) => vec![(**a).clone()],
        Value::List(xs) => xs.iter().flat_map(refs_of).collect(),
        Value::Set(xs) => xs.iter().flat_map(refs_of).collect(),
        Value::Map(m) => m.values().flat_map(refs_of).collect(),
        _ => Vec::new(),
    }
}

/// The operations applying this account plan would send, in order, without sending anything: ids of objects the
/// plan creates are `IdRef::Pending` (the creating step). For costing a plan against a platform's quota.
pub fn planned_operations(plan: &AccountPlan) -> Vec<Operation> {
    let steps = steps_of(&plan.changes);
    let creates: BTreeMap<&Address, usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == StepKind::Create)
        .map(|(i, s)| (&plan.changes[s.change].address, i))
        .collect();
    let resolve = |a: &Address| -> Option<IdRef> {
        creates
            .get(a)
            .map(|i| IdRef::Pending(*i))
            .or_else(|| plan.known_ids.get(a).map(|id| IdRef::Known(id.clone())))
            .or_else(|| Some(IdRef::Known(String::new())))
    };
    steps
        .iter()
        .filter_map(|s| {
            let c = &plan.changes[s.change];
            operation(c, s.kind, &resolve, Some(c.id.clone().unwrap_or_default()), &[]).ok()
        })
        .collect()
}

/// The address a change renames its object from, when it renames it (a `name` field change).
fn renamed_from(c: &Change) -> Option<Address> {
    let f = c.fields.iter().find(|f| f.field == crate::connectors::NAME_FIELD)?;
    let Some(Value::Str(old)) = &f.before else { return None };
    let mut a = c.address.clone();
    let last = a.path.last_mut()?;
    last.1 = old.clone();
    Some(a)
}

/// Build the operation of one step; `None` when an id it needs is unknown.
fn operation(
    c: &Change,
    kind: StepKind,
    resolve: &dyn Fn(&Address) -> Option<IdRef>,
    own_id: Option<String>,
    write_only: &[&str],
) -> Result<Operation, String> {
    let id = || {
        own_id
            .clone()
            .ok_or_else(|| format!("{} has no known platform id", c.address))
    };
    let action = match kind {
        StepKind::Create => OpAction::Create {
            fields: c.desired.to_btree(),
        },
        StepKind::Update => {
            let mut set = BTreeMap::new();
            let mut before = BTreeMap::new();
            for f in &c.fields {
                if let Some(a) = &f.after {
                    set.insert(f.field.clone(), a.clone());
                }
                if let Some(b) = &f.before {
                    before.insert(f.field.clone(), b.clone());
                }
            }
            OpAction::Update { id: id()?, set, before }
        }
        StepKind::Complete => OpAction::Update {
            id: id()?,
            set: c
                .desired
                .iter()
                .filter(|(k, _)| write_only.contains(&k.as_str()))
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            // Not known: what the object holds is replaced as a whole.
            before: BTreeMap::new(),
        },
        StepKind::Adopt => OpAction::Adopt { id: id()? },
        StepKind::Pause => OpAction::Pause { id: id()? },
        StepKind::Remove => OpAction::Remove { id: id()? },
    };
    let parent = match c.address.parent() {
        Some(p) => Some(resolve(&p).ok_or_else(|| format!("the parent {p} has no known platform id"))?),
        None => None,
    };
    let mut refs = BTreeMap::new();
    if matches!(kind, StepKind::Create | StepKind::Update | StepKind::Complete) {
        for a in c.desired.values().flat_map(refs_of) {
            let r = resolve(&a).ok_or_else(|| format!("the referenced {a} has no known platform id"))?;
            refs.insert(a, r);
        }
    }
    Ok(Operation {
        address: c.address.clone(),
        kind: c.kind,
        action,
        parent,
        refs,
    })
}

struct AccountRun<'a> {
    plan: &'a AccountPlan,
    target: &'a Target,
    store: &'a dyn StateStore,
    plan_hash: &'a str,
    progress: Option<&'a indicatif::ProgressBar>,
}

impl AccountRun<'_> {
    async fn run(self) -> Result<Vec<ChangeResult>, StateError> {
        let plan = self.plan;
        let changes = &plan.changes;
        let caps = self.target.connector.capabilities();
        let max = caps.max_ops_per_request.max(1);

        // Intents left by an interrupted apply were resolved by identity when this plan was made (found live:
        // matched and adopted; not found: planned as creates again); they are done with.
        for (key, _) in self.store.journal_pending(Some(&plan.account))? {
            self.store.journal_resolve(key)?;
        }

        let mut steps = steps_of(changes);
        let mut by_change: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
        for (i, s) in steps.iter().enumerate() {
            by_change[s.change].push(i);
        }
        let mut st: Vec<StepState> = vec![StepState::Pending; steps.len()];
        // Ids of existing objects: live parents/refs, and every change that has one (not replaced ones).
        let mut ids: BTreeMap<Address, String> = plan.known_ids.clone();
        for c in changes {
            if let (Some(id), false) = (&c.id, c.action == Action::Replace) {
                ids.insert(c.address.clone(), id.clone());
            }
        }
        let create_step: BTreeMap<&Address, usize> = steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == StepKind::Create)
            .map(|(i, s)| (&changes[s.change].address, i))
            .collect();

        let mut resends = 0;
        // Complete steps (see `StepKind::Complete`) and the id of the object each completes.
        let mut completing: BTreeMap<usize, String> = BTreeMap::new();
        loop {
            let mut batch: Vec<usize> = Vec::new();
            let mut in_batch = vec![false; steps.len()];
            // Removals wait until the creates and updates are done (a budget is removed after the campaigns moved
            // off it). A connector whose requests run in order takes them in the same request, after the rest.
            let first_phase_open = steps
                .iter()
                .zip(&st)
                .any(|(s, x)| !s.removal_phase && matches!(x, StepState::Pending));
            let mut first_phase_left_out = false;
            // Removals go in rank order, highest first ("lower ranks are created first and removed last"): an
            // object at the account's level (a product set, a custom conversion, an audience) is removed once
            // nothing this apply removes still uses it (an ad set promoting it). A connector whose requests run
            // in order takes them in the plan's order in one request already.
            let removal_rank_open = (!caps.ordered_requests)
                .then(|| {
                    steps
                        .iter()
                        .zip(&st)
                        .filter(|(s, x)| s.removal_phase && matches!(x, StepState::Pending))
                        .map(|(s, _)| changes[s.change].kind.rank())
                        .max()
                })
                .flatten();
            for i in 0..steps.len() {
                if !matches!(st[i], StepState::Pending) {
                    continue;
                }
                let s = &steps[i];
                if s.removal_phase && removal_rank_open.is_some_and(|r| changes[s.change].kind.rank() < r) {
                    continue;
                }
                if let Some(d) = s
                    .deps
                    .iter()
                    .find(|d| matches!(st[**d], StepState::Failed(_) | StepState::Skipped(_)))
                {
                    let reason = format!("{} did not succeed", changes[steps[*d].change].address);
                    st[i] = StepState::Skipped(reason);
                    continue;
                }
                if s.removal_phase
                    && (if caps.ordered_requests {
                        first_phase_left_out
                    } else {
                        first_phase_open
                    })
                {
                    continue;
                }
                let ready = s.deps.iter().all(|d| {
                    matches!(st[*d], StepState::Done(_))
                        || (in_batch[*d]
                            && (caps.ordered_requests
                                || (caps.creates_children_in_one_request && steps[*d].kind == StepKind::Create)))
                });
                if ready && batch.len() < max {
                    batch.push(i);
                    in_batch[i] = true;
                } else if !s.removal_phase {
                    first_phase_left_out = true;
                }
            }
            if batch.is_empty() {
                break;
            }

            // Resolve ids and build the operations.
            let mut ops = Vec::new();
            let mut sent: Vec<usize> = Vec::new();
            let mut sent_pos: BTreeMap<usize, usize> = BTreeMap::new();
            for &i in &batch {
                let s = &steps[i];
                let c = &changes[s.change];
                let resolve = |a: &Address| -> Option<IdRef> {
                    if let Some(&cs) = create_step.get(a) {
                        if let StepState::Done(Some(id)) = &st[cs] {
                            return Some(IdRef::Known(id.clone()));
                        }
                        if let Some(p) = sent_pos.get(&cs) {
                            return Some(IdRef::Pending(*p));
                        }
                    }
                    ids.get(a).map(|id| IdRef::Known(id.clone()))
                };
                let own = match s.kind {
                    StepKind::Create => None,
                    StepKind::Complete => completing.get(&i).cloned(),
                    _ => c.id.clone(),
                };
                let write_only = caps.write_only_fields.get(&c.kind).map(Vec::as_slice).unwrap_or(&[]);
                match operation(c, s.kind, &resolve, own, write_only) {
                    Ok(op) => {
                        ops.push(op);
                        sent_pos.insert(i, sent.len());
                        sent.push(i);
                    }
                    Err(message) => {
                        st[i] = StepState::Failed(OpError {
                            code: "unresolved_id".into(),
                            message,
                            field: None,
                            hint: Some("run `adsctl plan` again: live state changed".into()),
                        })
                    }
                }
            }
            if ops.is_empty() {
                continue;
            }

            // Write-ahead journal: every create is recorded (durably) before it is sent.
            let creates: Vec<Intent> = sent
                .iter()
                .filter(|&&i| steps[i].kind == StepKind::Create)
                .map(|&i| {
                    let c = &changes[steps[i].change];
                    Intent {
                        account: plan.account.clone(),
                        address: c.address.clone(),
                        kind: c.kind,
                        plan_hash: self.plan_hash.to_string(),
                        at: Utc::now(),
                    }
                })
                .collect();
            let mut keys = self.store.journal_add(&creates)?.into_iter();
            let intents: Vec<Option<u64>> = sent
                .iter()
                .map(|&i| {
                    if steps[i].kind == StepKind::Create {
                        keys.next()
                    } else {
                        None
                    }
                })
                .collect();

            let batch_req = ApplyBatch { ops };
            // sizes as i64: an integer in an exported trace (see connectors::trace::record_attempt)
            let span = tracing::info_span!("batch", account = %plan.account, size = batch_req.ops.len() as i64);
            let result = self
                .target
                .connector
                .apply(&self.target.account, &batch_req)
                .instrument(span)
                .await;
            match result {
                Ok(outcomes) => {
                    for (k, &i) in sent.iter().enumerate() {
                        st[i] = match outcomes.get(k) {
                            Some(OpOutcome::Applied { id }) => StepState::Done(Some(id.clone())),
                            Some(OpOutcome::Failed(e)) => StepState::Failed(e.clone()),
                            Some(OpOutcome::Skipped { reason }) => StepState::Skipped(reason.clone()),
                            Some(OpOutcome::Valid) | None => StepState::Failed(OpError {
                                code: "no_result".into(),
                                message: "the platform returned no result for this operation".into(),
                                field: None,
                                hint: None,
                            }),
                        };
                        // A failure caused by a dependency that failed in the same request is a skip.
                        if let StepState::Failed(_) = st[i] {
                            if let Some(d) = steps[i].deps.iter().find(|d| {
                                sent_pos.contains_key(d)
                                    && matches!(st[**d], StepState::Failed(_) | StepState::Skipped(_))
                            }) {
                                st[i] = StepState::Skipped(format!(
                                    "{} did not succeed",
                                    changes[steps[*d].change].address
                                ));
                            }
                        }
                        // The outcome is known: the intent is settled.
                        if let Some(key) = intents[k] {
                            self.store.journal_resolve(key)?;
                        }
                    }
                }
                Err(e) if e.outcome_unknown() && resends < MAX_RESENDS => {
                    // The request failed as a whole and may have done some of its work: find out what it made, and
                    // send again what it did not (within this apply, a few times).
                    resends += 1;
                    tracing::warn!(
                        account = %plan.account,
                        error = %e,
                        resend = resends,
                        "request outcome unknown; looking up what it made before sending the rest again"
                    );
                    let found = self.look_up_creates(&sent, &steps, changes, &caps).await;
                    // Without an answer (the connection broke) a create may have been made and hidden by a lagging
                    // read: it is not sent again, its intent stays for the next run. A server error is an answer:
                    // what the look-ups do not find was not made.
                    let answered = !matches!(e, crate::connectors::ConnectorError::Transport { .. });
                    for (k, &i) in sent.iter().enumerate() {
                        let create = steps[i].kind == StepKind::Create;
                        st[i] = match found.get(&i) {
                            Some((id, true)) => StepState::Done(Some(id.clone())),
                            Some((id, false)) => {
                                // Made, but not what a later request of the connector writes (audience members):
                                // those are sent now, as an update of the object found.
                                let change = steps[i].change;
                                steps.push(Step {
                                    change,
                                    kind: StepKind::Complete,
                                    deps: Vec::new(),
                                    removal_phase: false,
                                });
                                st.push(StepState::Pending);
                                by_change[change].push(steps.len() - 1);
                                completing.insert(steps.len() - 1, id.clone());
                                StepState::Done(Some(id.clone()))
                            }
                            None if create && !answered => StepState::Failed(OpError {
                                code: "outcome_unknown".into(),
                                message: format!(
                                    "{e}; it may have been made, and it was not found, so it was not sent again"
                                ),
                                field: None,
                                hint: Some(
                                    "run apply again: the next plan finds the object if it was made, and creates it \
                                     otherwise"
                                        .into(),
                                ),
                            }),
                            None => StepState::Pending,
                        };
                        if let (Some(key), false) = (intents[k], matches!(st[i], StepState::Failed(_))) {
                            self.store.journal_resolve(key)?;
                        }
                    }
                    tokio::time::sleep(resend_delay(resends)).await;
                    let touched: std::collections::BTreeSet<usize> = sent.iter().map(|&i| steps[i].change).collect();
                    self.record(changes, &by_change, &steps, &st, touched.into_iter())?;
                    continue;
                }
                Err(e) => {
                    // The request failed as a whole: creates may or may not have happened, so their intents
                    // stay in the journal for the next run to resolve by identity.
                    let waits_too_long = matches!(e, crate::connectors::ConnectorError::Wait(_));
                    let error = OpError {
                        code: if waits_too_long {
                            "rate_limited"
                        } else {
                            "request_failed"
                        }
                        .into(),
                        message: e.to_string(),
                        field: None,
                        hint: e.hint().map(str::to_string),
                    };
                    for &i in &sent {
                        st[i] = StepState::Failed(error.clone());
                    }
                    // A rate limit asks to wait longer than this run waits (`--max-wait`): nothing more is sent to
                    // this account; a later run resumes with what is left.
                    if waits_too_long {
                        for s in st.iter_mut().filter(|s| matches!(s, StepState::Pending)) {
                            *s = StepState::Skipped("not sent: the apply stopped at a rate limit (see above)".into());
                        }
                    }
                }
            }
            if let Some(pb) = self.progress {
                pb.inc(sent.len() as u64);
            }
            let touched: std::collections::BTreeSet<usize> = sent.iter().map(|&i| steps[i].change).collect();
            self.record(changes, &by_change, &steps, &st, touched.into_iter())?;
        }

        // Whatever could not run (a dependency cycle would be a bug; report it rather than hang).
        for s in st.iter_mut() {
            if matches!(s, StepState::Pending) {
                *s = StepState::Skipped("its dependencies never completed".into());
            }
        }
        self.record(changes, &by_change, &steps, &st, 0..changes.len())?;
        self.store.flush()?;

        let mut out = Vec::new();
        let mut cache = self.store.cache_get(&plan.account)?.map(CacheWriter::new);
        for (ci, c) in changes.iter().enumerate() {
            let mine: Vec<(&Step, &StepState)> = by_change[ci].iter().map(|&i| (&steps[i], &st[i])).collect();
            if mine.is_empty() {
                continue;
            }
            // Write through to the live cache so that `plan --refresh=false` sees what was applied.
            if let Some(cache) = cache.as_mut() {
                cache.write_through(c, &mine, &caps);
            }
            let failed = mine.iter().find_map(|(_, x)| match x {
                StepState::Failed(e) => Some(e.clone()),
                _ => None,
            });
            let skipped = mine.iter().find_map(|(_, x)| match x {
                StepState::Skipped(r) => Some(r.clone()),
                _ => None,
            });
            let id = mine.iter().rev().find_map(|(_, x)| match x {
                StepState::Done(id) => id.clone(),
                _ => None,
            });
            let outcome = match (failed, skipped) {
                (Some(error), _) => ChangeOutcome::Failed { error },
                (None, Some(reason)) => ChangeOutcome::Skipped { reason },
                (None, None) => ChangeOutcome::Succeeded { id },
            };
            out.push(ChangeResult {
                account: plan.account.clone(),
                address: c.address.clone(),
                action: c.action,
                outcome,
            });
        }
        if let Some(cache) = cache {
            let cache = cache.finish();
            self.store.cache_put(
                &plan.account,
                cache.fetched_at,
                cache.marker.as_deref(),
                &cache.resources,
            )?;
        }
        Ok(out)
    }

    /// After a request whose outcome is unknown: the creates of `sent` that the account shows (by identity, as a
    /// plan matches them), read again after pauses while some are missing (a read can lag behind a write). What
    /// is still missing after that was not made.
    ///
    /// Each found create comes with whether its write-only fields were written too: true when the create had
    /// none, or when the read reports their fingerprints as desired.
    async fn look_up_creates(
        &self,
        sent: &[usize],
        steps: &[Step],
        changes: &[Change],
        caps: &crate::connectors::Capabilities,
    ) -> BTreeMap<usize, (String, bool)> {
        let wanted: Vec<usize> = sent
            .iter()
            .copied()
            .filter(|&i| steps[i].kind == StepKind::Create)
            .collect();
        let mut found = BTreeMap::new();
        if wanted.is_empty() {
            return found;
        }
        let delays = crate::plan::live::confirm_read_delays();
        for attempt in 0..=delays.len() {
            let req = crate::connectors::ReadRequest::default();
            match self.target.connector.read(&self.target.account, &req).await {
                Ok(snap) => {
                    let live: HashMap<(&Address, crate::model::Kind), (&str, &crate::model::Resource)> = snap
                        .resources
                        .iter()
                        .filter_map(|r| Some(((&r.address, r.kind), (r.id.as_deref()?, r))))
                        .collect();
                    for &i in &wanted {
                        let c = &changes[steps[i].change];
                        if let Some((id, r)) = live.get(&(&c.address, c.kind)) {
                            let write_only = caps.write_only_fields.get(&c.kind).map(Vec::as_slice).unwrap_or(&[]);
                            let complete =
                                c.desired
                                    .iter()
                                    .filter(|(k, _)| write_only.contains(&k.as_str()))
                                    .all(|(k, v)| {
                                        r.observed
                                            .get(crate::model::fingerprint_key(k).as_str())
                                            .map(String::as_str)
                                            == Some(crate::model::value_fingerprint(v).as_str())
                                    });
                            found.insert(i, (id.to_string(), complete));
                        }
                    }
                }
                Err(e) => tracing::warn!(account = %self.plan.account, error = %e, "look-up read failed"),
            }
            if found.len() == wanted.len() || attempt == delays.len() {
                break;
            }
            tokio::time::sleep(delays[attempt]).await;
        }
        found
    }

    /// Bring the id map up to date with every change whose steps are settled (idempotent: run after each batch).
    fn record(
        &self,
        changes: &[Change],
        by_change: &[Vec<usize>],
        steps: &[Step],
        st: &[StepState],
        which: impl Iterator<Item = usize>,
    ) -> Result<(), StateError> {
        // old names of objects renamed in place: their entries (and those below them, re-recorded under the new
        // name) are forgotten after the loop, in one pass over the account's entries
        let mut renamed: Vec<Address> = Vec::new();
        for ci in which {
            let c = &changes[ci];
            let mine: Vec<(&Step, &StepState)> = by_change[ci].iter().map(|&i| (&steps[i], &st[i])).collect();
            let all_done = mine.iter().all(|(_, x)| matches!(x, StepState::Done(_)));
            let existing = self.store.entry(&c.address)?;
            let entry = |id: String, applied| StateEntry {
                address: c.address.clone(),
                kind: c.kind,
                id,
                prevent_destroy: c.prevent_destroy,
                applied,
                updated_at: Utc::now(),
            };
            match c.action {
                Action::Remove | Action::Orphan if all_done => {
                    self.store.remove_entry(&c.address)?;
                }
                Action::Pause if all_done && existing.is_none() => {
                    if let Some(id) = &c.id {
                        self.store.put_entry(&entry(id.clone(), SmallMap::new()))?;
                    }
                }
                Action::NoOp if c.desired.is_empty() => {}
                Action::Create | Action::Replace | Action::Update | Action::Adopt | Action::NoOp if all_done => {
                    let new_id = mine.iter().rev().find_map(|(s, x)| match (s.kind, x) {
                        (StepKind::Create | StepKind::Complete, StepState::Done(id)) => id.clone(),
                        _ => None,
                    });
                    if let Some(old) = renamed_from(c) {
                        renamed.push(old);
                    }
                    if let Some(id) = new_id.or_else(|| c.id.clone()) {
                        let want = entry(id, c.desired.clone());
                        if existing.as_ref().map(|e| (&e.id, &e.applied, e.prevent_destroy))
                            != Some((&want.id, &want.applied, want.prevent_destroy))
                        {
                            self.store.put_entry(&want)?;
                        }
                    }
                }
                Action::Adopt => {
                    // adopted but its update failed: owned now, nothing new applied
                    let adopted = mine
                        .iter()
                        .any(|(s, x)| s.kind == StepKind::Adopt && matches!(x, StepState::Done(_)));
                    if adopted && existing.is_none() {
                        if let Some(id) = &c.id {
                            self.store.put_entry(&entry(id.clone(), SmallMap::new()))?;
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(first) = renamed.first() {
            for e in self.store.entries(Some(&first.account))? {
                if renamed.iter().any(|old| e.address.is_within(old)) {
                    self.store.remove_entry(&e.address)?;
                }
            }
        }
        Ok(())
    }
}

/// The live cache being brought up to date with what an apply did, indexed by id: a bulk update of 100k
/// objects must not scan the cache once per object.
struct CacheWriter {
    cache: crate::state::CachedLive,
    by_id: HashMap<String, usize>,
    /// Objects removed (their indexes), and the addresses whose subtrees went with them, each with the number of
    /// cached objects at that moment (an object created later at the same address, a replacement, stays).
    removed: Vec<bool>,
    gone: BTreeMap<Address, usize>,
}

impl CacheWriter {
    fn new(cache: crate::state::CachedLive) -> CacheWriter {
        let by_id = cache
            .resources
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.id.clone().map(|id| (id, i)))
            .collect();
        let removed = vec![false; cache.resources.len()];
        CacheWriter {
            cache,
            by_id,
            removed,
            gone: Default::default(),
        }
    }

    /// Apply the settled steps of one change to the cached live state.
    fn write_through(&mut self, c: &Change, mine: &[(&Step, &StepState)], caps: &crate::connectors::Capabilities) {
        let write_only = caps.write_only_fields.get(&c.kind);
        let readable = |fields: &SmallMap| -> SmallMap {
            fields
                .iter()
                .filter(|(k, _)| write_only.is_none_or(|w| !w.contains(&k.as_str())))
                .map(|(k, v)| (*k, v.clone()))
                .collect()
        };
        // What a read would report of the write-only fields just written: their fingerprints.
        let fingerprints = |fields: &SmallMap| -> Vec<(String, String)> {
            fields
                .iter()
                .filter(|(k, _)| write_only.is_some_and(|w| w.contains(&k.as_str())))
                .map(|(k, v)| (crate::model::fingerprint_key(k), crate::model::value_fingerprint(v)))
                .collect()
        };
        // A create whose write-only fields are still to be sent (or failed to be): the cache does not say they were
        // written.
        let completed = !mine
            .iter()
            .any(|(s, x)| s.kind == StepKind::Complete && !matches!(x, StepState::Done(_)));
        for (s, x) in mine {
            let StepState::Done(new_id) = x else { continue };
            let own = c.id.as_deref().and_then(|id| self.by_id.get(id).copied());
            match s.kind {
                StepKind::Complete => {
                    // the object was put in the cache by its create: now its write-only fields are written too
                    let Some(i) = new_id.as_deref().and_then(|id| self.by_id.get(id).copied()) else {
                        continue;
                    };
                    for (k, fp) in fingerprints(&c.desired) {
                        self.cache.resources[i].observed.insert(k, fp);
                    }
                }
                StepKind::Create => {
                    let mut r = crate::model::Resource::new(c.address.clone(), c.kind);
                    r.id = new_id.clone();
                    r.fields = readable(&c.desired);
                    for (k, fp) in fingerprints(&c.desired).into_iter().filter(|_| completed) {
                        r.observed.insert(k, fp);
                    }
                    r.owned = true;
                    if let Some(id) = &r.id {
                        self.by_id.insert(id.clone(), self.cache.resources.len());
                    }
                    self.cache.resources.push(r);
                    self.removed.push(false);
                }
                StepKind::Update | StepKind::Adopt | StepKind::Pause => {
                    let Some(i) = own else { continue };
                    let r = &mut self.cache.resources[i];
                    match s.kind {
                        StepKind::Adopt => r.owned = true,
                        StepKind::Pause => {
                            r.fields.insert("status", Value::str(caps.paused_status));
                        }
                        _ => {
                            let set: SmallMap = c
                                .fields
                                .iter()
                                .filter(|f| f.field != crate::connectors::NAME_FIELD)
                                .filter_map(|f| f.after.clone().map(|v| (f.field.clone(), v)))
                                .collect();
                            r.fields.extend(readable(&set));
                            if c.fields.iter().any(|f| f.field == crate::connectors::NAME_FIELD) {
                                // renamed: it and everything below it are under the new name now
                                let from = r.address.clone();
                                for o in self.cache.resources.iter_mut().filter(|o| o.address.is_within(&from)) {
                                    let mut a = c.address.clone();
                                    a.path.extend(o.address.path[from.path.len()..].iter().cloned());
                                    o.address = a;
                                }
                            }
                            let r = &mut self.cache.resources[i];
                            for (k, fp) in fingerprints(&set) {
                                r.observed.insert(k, fp);
                            }
                        }
                    }
                }
                StepKind::Remove => {
                    if let Some(i) = own {
                        self.removed[i] = true;
                        if let Some(id) = c.id.as_deref() {
                            self.by_id.remove(id);
                        }
                        let at = self.cache.resources.len();
                        self.gone.insert(self.cache.resources[i].address.clone(), at);
                    }
                }
            }
        }
    }

    /// The cache without the removed objects and everything below them.
    fn finish(self) -> crate::state::CachedLive {
        let CacheWriter {
            mut cache,
            removed,
            gone,
            ..
        } = self;
        let below_gone = |i: usize, a: &Address| {
            let mut cur = Some(a.clone());
            while let Some(x) = cur {
                if gone.get(&x).is_some_and(|&at| i < at) {
                    return true;
                }
                cur = x.parent();
            }
            false
        };
        let mut i = 0;
        cache.resources.retain(|r| {
            let keep = !removed[i] && (gone.is_empty() || !below_gone(i, &r.address));
            i += 1;
            keep
        });
        cache
    }
}

/// Apply a plan. Accounts run concurrently (at most `opts.concurrency` at a time); within an account,
/// operations run in dependency order and in batches of the connector's maximum.
#[tracing::instrument(name = "apply", skip_all, fields(accounts = plan.accounts.len() as i64))]
pub async fn execute(
    plan: &Plan,
    targets: &BTreeMap<String, Target>,
    store: &dyn StateStore,
    opts: &ExecOptions,
) -> Result<ApplyReport, ApplyError> {
    if plan.is_blocked() {
        let names: Vec<String> = plan.active_blockers().map(|b| b.message.clone()).collect();
        return Err(ApplyError::Blocked(names.join("; ")));
    }
    for a in &plan.accounts {
        if !targets.contains_key(&a.account) {
            return Err(ApplyError::UnknownAccount(a.account.clone()));
        }
    }
    let plan_hash = crate::plan::file::plan_hash(plan);
    let total: usize = plan.accounts.iter().map(|a| steps_of(&a.changes).len()).sum();
    let progress = (opts.progress && total > 0).then(|| {
        let pb = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} operations {elapsed}") {
            pb.set_style(style);
        }
        pb
    });
    let runs = plan.accounts.iter().filter_map(|a| {
        targets.get(&a.account).map(|target| AccountRun {
            plan: a,
            target,
            store,
            plan_hash: &plan_hash,
            progress: progress.as_ref(),
        })
    });
    let results: Vec<Result<Vec<ChangeResult>, StateError>> = futures_util::stream::iter(runs)
        .map(|run| {
            let span = crate::connectors::trace::account(&run.target.account);
            run.run().instrument(span)
        })
        .buffered(opts.concurrency.max(1))
        .collect()
        .await;
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let mut report = ApplyReport {
        plan_hash,
        results: Vec::new(),
    };
    for r in results {
        report.results.extend(r?);
    }
    if report.results.is_empty() {
        store.flush()?;
        return Ok(report);
    }
    store.record_apply(&ApplyRecord {
        at: Utc::now(),
        user: crate::state::os_user(),
        plan_hash: report.plan_hash.clone(),
        result: report.result_word().to_string(),
        succeeded: report.succeeded(),
        failed: report.failed(),
        skipped: report.skipped(),
    })?;
    store.flush()?;
    Ok(report)
}

/// The platform's verdict on one operation of a plan (`plan --validate`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub account: String,
    pub address: Address,
    pub ok: bool,
    pub verdict: String,
}

/// Send every operation of a plan to the platforms' validation (dry run), nothing is changed. Operations that
/// need the id of an object the plan creates are checked in the same request when the connector supports
/// temporary ids, and reported as not checked otherwise.
pub async fn validate(
    plan: &Plan,
    accounts: &BTreeMap<String, Account>,
    connectors: &BTreeMap<String, Arc<dyn Connector>>,
) -> Vec<Verdict> {
    let mut out = Vec::new();
    for a in &plan.accounts {
        let (Some(account), Some(conn)) = (accounts.get(&a.account), connectors.get(&a.account)) else {
            continue;
        };
        let caps = conn.capabilities();
        let max = caps.max_ops_per_request.max(1);
        let steps = steps_of(&a.changes);
        let mut ids: BTreeMap<Address, String> = a.known_ids.clone();
        for c in &a.changes {
            if let (Some(id), false) = (&c.id, c.action == Action::Replace) {
                ids.insert(c.address.clone(), id.clone());
            }
        }
        let create_step: BTreeMap<&Address, usize> = steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == StepKind::Create)
            .map(|(i, s)| (&a.changes[s.change].address, i))
            .collect();
        let mut batch: Vec<(usize, Operation)> = Vec::new();
        let mut pending_batches: Vec<Vec<(usize, Operation)>> = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            let c = &a.changes[s.change];
            if batch.len() == max {
                pending_batches.push(std::mem::take(&mut batch));
            }
            let in_batch: Vec<usize> = batch.iter().map(|(j, _)| *j).collect();
            let resolve = |addr: &Address| -> Option<IdRef> {
                if let Some(&cs) = create_step.get(addr) {
                    return match in_batch.iter().position(|j| *j == cs) {
                        Some(p) if caps.creates_children_in_one_request => Some(IdRef::Pending(p)),
                        _ => None,
                    };
                }
                ids.get(addr).map(|id| IdRef::Known(id.clone()))
            };
            let own = if s.kind == StepKind::Create { None } else { c.id.clone() };
            match operation(c, s.kind, &resolve, own, &[]) {
                Ok(op) => batch.push((i, op)),
                Err(why) => out.push(Verdict {
                    account: a.account.clone(),
                    address: c.address.clone(),
                    ok: true,
                    verdict: format!("not checked: {why} until the plan is applied"),
                }),
            }
        }
        pending_batches.push(batch);
        for b in pending_batches.into_iter().filter(|b| !b.is_empty()) {
            let (idx, ops): (Vec<usize>, Vec<Operation>) = b.into_iter().unzip();
            let span = tracing::info_span!("batch", account = %a.account, size = ops.len() as i64, validate = true);
            let result = conn.validate(account, &ApplyBatch { ops }).instrument(span).await;
            for (k, i) in idx.iter().enumerate() {
                let address = a.changes[steps[*i].change].address.clone();
                let (ok, verdict) = match &result {
                    Ok(outcomes) => match outcomes.get(k) {
                        Some(OpOutcome::Valid) | Some(OpOutcome::Applied { .. }) => (true, "valid".to_string()),
                        Some(OpOutcome::Failed(e)) => (false, format!("{} ({})", e.message, e.code)),
                        Some(OpOutcome::Skipped { reason }) => (true, format!("not checked: {reason}")),
                        None => (false, "no verdict returned".to_string()),
                    },
                    Err(e) => (false, format!("validation request failed: {e}")),
                };
                out.push(Verdict {
                    account: a.account.clone(),
                    address,
                    ok,
                    verdict,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Resource};
    use crate::plan::FieldChange;

    fn res(addr: &str, kind: Kind, id: &str) -> Resource {
        let mut r = Resource::new(addr.parse().expect("address"), kind).with("status", Value::str("enabled"));
        r.id = Some(id.into());
        r.owned = true;
        r
    }

    fn change(addr: &str, kind: Kind, action: Action, id: Option<&str>) -> Change {
        Change {
            address: addr.parse().expect("address"),
            kind,
            action,
            id: id.map(str::to_string),
            fields: Vec::new(),
            desired: SmallMap::new(),
            prevent_destroy: false,
            observed: SmallMap::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_create_waits_for_an_object_it_refers_to_even_when_that_one_comes_later() {
        // a Salesforce campaign and its parent, the child sorting first
        let mut child = change("sf/campaign/A child", Kind::Campaign, Action::Create, None);
        child.desired.insert(
            "parent",
            Value::reference("sf/campaign/Z parent".parse().expect("address")),
        );
        let parent = change("sf/campaign/Z parent", Kind::Campaign, Action::Create, None);
        let steps = steps_of(&[child, parent]);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].deps, vec![1], "the child's create waits for its parent's");
        assert!(steps[1].deps.is_empty());
    }

    fn step(kind: StepKind) -> Step {
        Step {
            change: 0,
            kind,
            deps: Vec::new(),
            removal_phase: false,
        }
    }

    fn caps() -> crate::connectors::Capabilities {
        crate::connectors::Capabilities {
            max_ops_per_request: 10,
            creates_children_in_one_request: true,
            ordered_requests: true,
            marked_kinds: Kind::ALL.to_vec(),
            immutable_fields: BTreeMap::new(),
            swapped_fields: BTreeMap::new(),
            write_only_fields: BTreeMap::from([(Kind::Audience, vec!["members"])]),
            renamable_kinds: vec![Kind::Campaign],
            paused_status: "paused",
            settled_statuses: &[],
        }
    }

    #[test]
    fn the_cache_follows_updates_removals_and_replacements() {
        let cache = crate::state::CachedLive {
            fetched_at: chrono::Utc::now(),
            marker: None,
            resources: vec![
                res("a/campaign/C", Kind::Campaign, "1"),
                res("a/campaign/C/ad_group/G", Kind::AdGroup, "2"),
                res("a/campaign/C/ad_group/G/keyword/k", Kind::Keyword, "3"),
                res("a/campaign/D", Kind::Campaign, "4"),
                res("a/campaign/E", Kind::Campaign, "5"),
            ],
            fingerprint: None,
        };
        let mut w = CacheWriter::new(cache);
        let caps = caps();
        let done = StepState::Done(None);

        // an update of D
        let mut c = change("a/campaign/D", Kind::Campaign, Action::Update, Some("4"));
        c.fields.push(FieldChange {
            field: "status".into(),
            before: Some(Value::str("enabled")),
            after: Some(Value::str("paused")),
            forces_replace: false,
            swapped: false,
            write_only: false,
            drift: false,
            ..Default::default()
        });
        let s = step(StepKind::Update);
        w.write_through(&c, &[(&s, &done)], &caps);

        // C removed, with everything below it
        let c = change("a/campaign/C", Kind::Campaign, Action::Remove, Some("1"));
        let s = step(StepKind::Remove);
        w.write_through(&c, &[(&s, &done)], &caps);

        // E replaced: the old one removed, a new one created at the same address
        let mut c = change("a/campaign/E", Kind::Campaign, Action::Replace, Some("5"));
        c.desired.insert("status", Value::str("enabled"));
        let (remove, create) = (step(StepKind::Remove), step(StepKind::Create));
        let made = StepState::Done(Some("6".into()));
        w.write_through(&c, &[(&remove, &done), (&create, &made)], &caps);

        // an audience's write-only members never reach the cache
        let mut c = change("a/audience/A", Kind::Audience, Action::Create, None);
        c.desired.insert("members", Value::Set(Default::default()));
        c.desired.insert("name", Value::str("A"));
        let made = StepState::Done(Some("7".into()));
        let s = step(StepKind::Create);
        w.write_through(&c, &[(&s, &made)], &caps);

        let out = w.finish();
        let got: Vec<(String, String)> = out
            .resources
            .iter()
            .map(|r| (r.address.to_string(), r.id.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a/campaign/D".to_string(), "4".to_string()),
                ("a/campaign/E".to_string(), "6".to_string()),
                ("a/audience/A".to_string(), "7".to_string()),
            ]
        );
        assert_eq!(out.resources[0].fields["status"], Value::str("paused"));
        assert!(!out.resources[2].fields.contains_key("members"));
    }
}
