//! The plan of one account, in four passes over the desired and live resources:
//! - `identity`: which live object each desired resource is (pin, id map, name under its parent);
//! - `matched`: the diff of each desired resource against it (create, update, adopt, replace), ownership
//!   decided by `ownership`;
//! - `orphans`: live objects the YAML does not name (adsctl's go by `on_removed`, anyone else's are listed);
//! - targeting: `--target` keeps the changes below the named addresses (and the creates they need).
//!
//! Then ordering, the ids the changes need, the spend impact and the guardrails.

mod identity;
mod matched;
mod orphans;
mod ownership;

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};

use super::{
    guardrails, order, spend, AccountInput, AccountPlan, Action, Blocker, BlockerKind, Change, FieldChange, PlanError,
    PlanErrors, PlanOptions,
};
use crate::connectors::Capabilities;
use crate::model::{Account, Address, Kind, Resource, Value};
use crate::state::{Intent, StateEntry};

/// What every pass needs to know about the account.
struct Ctx<'a> {
    account: &'a Account,
    caps: &'a Capabilities,
    opts: &'a PlanOptions,
}

impl Ctx<'_> {
    fn field_in(map: &BTreeMap<Kind, Vec<&'static str>>, kind: Kind, f: &str) -> bool {
        map.get(&kind).is_some_and(|v| v.contains(&f))
    }
    fn write_only(&self, kind: Kind, f: &str) -> bool {
        Self::field_in(&self.caps.write_only_fields, kind, f)
    }
    fn immutable(&self, kind: Kind, f: &str) -> bool {
        Self::field_in(&self.caps.immutable_fields, kind, f)
    }
    fn swapped(&self, kind: Kind, f: &str) -> bool {
        Self::field_in(&self.caps.swapped_fields, kind, f)
    }
    /// A field written from nothing (a create, a replace, a re-create).
    fn new_field(&self, kind: Kind, field: &str, value: &Value) -> FieldChange {
        FieldChange {
            field: field.to_string(),
            before: None,
            after: Some(value.clone()),
            forces_replace: false,
            swapped: false,
            write_only: self.write_only(kind, field),
            drift: false,
            ..Default::default()
        }
    }
    fn blocker(&self, kind: BlockerKind, address: &Address, message: String) -> Blocker {
        Blocker {
            kind,
            account: self.account.name.clone(),
            address: Some(address.clone()),
            message,
            overridden: false,
        }
    }
}

/// The id map and the journal of the account, indexed.
struct IdMap<'s> {
    by_address: FxHashMap<&'s Address, &'s StateEntry>,
    by_id: FxHashMap<&'s str, &'s StateEntry>,
    /// Addresses whose create an interrupted apply journaled.
    pending: FxHashSet<&'s Address>,
}

impl<'s> IdMap<'s> {
    fn new(state: &'s [StateEntry], pending: &'s [Intent]) -> IdMap<'s> {
        IdMap {
            by_address: state.iter().map(|e| (&e.address, e)).collect(),
            by_id: state.iter().map(|e| (e.id.as_str(), e)).collect(),
            pending: pending.iter().map(|i| &i.address).collect(),
        }
    }
    fn of(&self, l: &Resource) -> Option<&'s StateEntry> {
        l.id.as_deref().and_then(|id| self.by_id.get(id).copied())
    }
}

/// Per live object: whether this runner's id map remembers making (or adopting) it, whether adsctl owns it (its
/// ownership marker on the platform, or the id map's memory), and `prevent_destroy` remembered by the id map.
/// Computed once, so the id map can be freed after the diff.
struct Facts {
    known: Vec<bool>,
    owned: Vec<bool>,
    remembered: Vec<bool>,
}

impl Facts {
    fn new(live: &[Resource], ids: &IdMap) -> Facts {
        let entries: Vec<Option<&StateEntry>> = live.iter().map(|l| ids.of(l)).collect();
        Facts {
            known: entries.iter().map(Option::is_some).collect(),
            owned: live.iter().zip(&entries).map(|(l, e)| l.owned || e.is_some()).collect(),
            remembered: entries.iter().map(|e| e.is_some_and(|e| e.prevent_destroy)).collect(),
        }
    }
}

/// What the passes produce.
#[derive(Default)]
struct Planned {
    changes: Vec<Change>,
    blockers: Vec<Blocker>,
    /// Addresses being replaced (their subtrees go with them).
    replaced: Vec<Address>,
    unmanaged: Vec<Address>,
    unmanaged_count: usize,
}

/// Plan one account: match, diff, removals, targets, order, spend impact, guardrails.
pub fn plan_account(input: AccountInput<'_>, opts: &PlanOptions) -> Result<(AccountPlan, Vec<Blocker>), PlanErrors> {
    let AccountInput {
        account,
        capabilities: caps,
        desired,
        mut live,
        live_fetched_at,
        live_fingerprint,
        from_cache,
        state,
        pending,
        moved,
    } = input;
    let fingerprint = live_fingerprint.unwrap_or_else(|| super::file::fingerprint(&live));
    let ctx = Ctx {
        account: &account,
        caps: &caps,
        opts,
    };

    // Desired resources parents first, so that a matched parent's live subtree can be re-addressed before its
    // children are matched.
    let mut desired = desired;
    desired.sort_by(|a, b| (a.address.path.len(), &a.address).cmp(&(b.address.path.len(), &b.address)));
    let mut errors = check_desired(&desired, &account);

    let ids = IdMap::new(&state, &pending);
    let facts = Facts::new(&live, &ids);
    let matches = identity::match_desired(&desired, &mut live, &ids, &moved, &mut errors);
    if !errors.is_empty() {
        return Err(PlanErrors(errors));
    }
    let mut out = Planned::default();
    matched::diff(&ctx, &desired, &live, &facts, &matches, &ids, &mut out);
    matched::recreate_below_replaced(&ctx, &desired, &mut out);
    // The id map is freed before the removal pass, the ordering and the spend impact allocate theirs.
    let taken = matches.taken;
    drop(matches.entries);
    drop(ids);
    drop(state);
    orphans::plan(&ctx, &desired, &live, &facts, &taken, &mut out);
    note_renames(&ctx, &mut out.changes);
    if !opts.targets.is_empty() {
        target(&mut out, opts, &account.name);
    }
    let Planned {
        changes,
        mut blockers,
        unmanaged,
        unmanaged_count,
        ..
    } = out;
    let mut changes = order::sort(changes);
    super::experiment::annotate(&mut changes, &desired, &live, account.currency);
    let known_ids = known_ids(&live, &changes);
    let spend = spend::impact(&live, &changes, caps.paused_status);
    let mut plan = AccountPlan {
        account: account.name.clone(),
        platform: account.platform,
        currency: account.currency,
        live_fingerprint: fingerprint,
        live_fetched_at,
        from_cache,
        changes,
        known_ids,
        spend,
        quota: None,
        unmanaged,
        unmanaged_count,
    };
    blockers.extend(guardrails::check(&account, &plan, &live, &opts.allow_guardrails));
    plan.changes.shrink_to_fit();
    Ok((plan, blockers))
}

/// One create beside one pause or removal of the same kind under the same parent looks like a rename written
/// without its id: both say so, since the plan makes a new object and the old one's history stays behind. Only for
/// kinds the platform can rename, and only for such pairs (several creates and removals are a reorganisation).
fn note_renames(ctx: &Ctx, changes: &mut [Change]) {
    let key = |c: &Change| (c.address.parent(), c.kind);
    let mut creates: FxHashMap<(Option<Address>, Kind), Vec<usize>> = FxHashMap::default();
    let mut leaving: FxHashMap<(Option<Address>, Kind), Vec<usize>> = FxHashMap::default();
    for (i, c) in changes.iter().enumerate().filter(|(_, c)| ctx.caps.renamable(c.kind)) {
        match c.action {
            Action::Create => creates.entry(key(c)).or_default().push(i),
            Action::Pause | Action::Remove => leaving.entry(key(c)).or_default().push(i),
            _ => {}
        }
    }
    let mut notes: Vec<(usize, String)> = Vec::new();
    for (k, made) in &creates {
        let (&[i], Some(&[o])) = (made.as_slice(), leaving.get(k).map(Vec::as_slice)) else {
            continue;
        };
        let (new, old) = (&changes[i], &changes[o]);
        let (Some(new_name), Some(old_name)) = (new.address.name(), old.address.name()) else {
            continue;
        };
        let pin = format!("`id: \"{}\"`", old.id.as_deref().unwrap_or("…"));
        notes.push((
            i,
            format!(
                "if this is {old_name:?} renamed: it is made anew and {old_name:?} is {}d; to rename it in place \
                 (keeping its history), pin its id ({pin}) or declare `moved:` from its old address",
                old.action.as_str()
            ),
        ));
        notes.push((
            o,
            format!("if {new_name:?} is this renamed: pin {pin} on {new_name:?} to rename it in place"),
        ));
    }
    for (i, n) in notes {
        changes[i].notes.push(n);
    }
}

/// Desired resources of another account, and duplicates (next to each other in the sorted list).
fn check_desired(desired: &[&Resource], account: &Account) -> Vec<PlanError> {
    let mut errors = Vec::new();
    for (i, d) in desired.iter().enumerate() {
        if d.address.account != account.name {
            errors.push(PlanError::UnknownAccount {
                address: d.address.clone(),
                account: d.address.account.clone(),
            });
        } else if i > 0 && desired[i - 1].address == d.address {
            errors.push(PlanError::DuplicateDesired {
                address: d.address.clone(),
            });
        }
    }
    errors
}

/// `--target`: only the changes below the targets (and the creates they need), and their blockers.
fn target(out: &mut Planned, opts: &PlanOptions, account: &str) {
    out.changes = order::filter_targets(std::mem::take(&mut out.changes), &opts.targets, account);
    let changes = &out.changes;
    out.blockers.retain(|b| {
        b.address
            .as_ref()
            .is_none_or(|a| changes.iter().any(|c| &c.address == a))
    });
}

/// Ids of live parents and references the changes need (a no-op needs none).
fn known_ids(live: &[Resource], changes: &[Change]) -> BTreeMap<Address, String> {
    let live_ids: FxHashMap<&Address, &str> = live
        .iter()
        .filter_map(|l| l.id.as_deref().map(|id| (&l.address, id)))
        .collect();
    let mut known = BTreeMap::new();
    for c in changes.iter().filter(|c| c.action.is_change()) {
        let refs = c.desired.values().flat_map(value_refs);
        for a in c.address.parent().into_iter().chain(refs) {
            if let Some(id) = live_ids.get(&a) {
                known.insert(a, id.to_string());
            }
        }
    }
    known
}

/// Addresses a value refers to.
pub(crate) fn value_refs(v: &Value) -> Vec<Address> {
    match v {
        Value::Ref(a) => vec![(**a).clone()],
        Value::List(xs) => xs.iter().flat_map(value_refs).collect(),
        Value::Set(xs) => xs.iter().flat_map(value_refs).collect(),
        Value::Map(m) => m.values().flat_map(value_refs).collect(),
        _ => Vec::new(),
    }
}
