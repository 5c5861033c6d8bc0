//! Identity (desired ↔ live) and the diff of one account.

use std::collections::{BTreeMap, HashMap};

use rustc_hash::{FxHashMap, FxHashSet};

use super::{
    guardrails, order, spend, AccountInput, AccountPlan, Action, Blocker, BlockerKind, Change, FieldChange, PlanError,
    PlanErrors, PlanOptions,
};
use crate::connectors::Capabilities;
use crate::model::{fingerprint_key, value_fingerprint, Address, Kind, RemovalPolicy, Resource, SmallMap, Value};
use crate::state::StateEntry;

/// Kinds that have a `status` a removal policy of `pause` can set.
fn pausable(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Campaign | Kind::AdGroup | Kind::AdSet | Kind::Ad | Kind::Keyword
    )
}

fn rebase(addr: &Address, from: &Address, to: &Address) -> Address {
    let mut a = to.clone();
    a.path.extend(addr.path[from.path.len()..].iter().cloned());
    a
}

/// Live objects by id and by address, borrowed from the live state. Most keys have one object; several
/// objects under one name (which the plan reports as ambiguous) or one id spill into a list.
struct LiveIndex<'a> {
    by_id: FxHashMap<&'a str, Slot>,
    by_address: FxHashMap<&'a Address, Slot>,
}

enum Slot {
    One([usize; 1]),
    Many(Vec<usize>),
}

impl Slot {
    fn push(&mut self, i: usize) {
        match self {
            Slot::One([first]) => *self = Slot::Many(vec![*first, i]),
            Slot::Many(v) => v.push(i),
        }
    }
    fn as_slice(&self) -> &[usize] {
        match self {
            Slot::One(one) => one,
            Slot::Many(v) => v,
        }
    }
}

impl<'a> LiveIndex<'a> {
    fn new(live: &'a [Resource]) -> LiveIndex<'a> {
        let mut by_id: FxHashMap<&str, Slot> = FxHashMap::default();
        let mut by_address: FxHashMap<&Address, Slot> = FxHashMap::default();
        by_id.reserve(live.len());
        by_address.reserve(live.len());
        for (i, l) in live.iter().enumerate() {
            if let Some(id) = &l.id {
                by_id
                    .entry(id.as_str())
                    .and_modify(|s| s.push(i))
                    .or_insert(Slot::One([i]));
            }
            by_address
                .entry(&l.address)
                .and_modify(|s| s.push(i))
                .or_insert(Slot::One([i]));
        }
        LiveIndex { by_id, by_address }
    }
    fn by_id(&self, id: &str) -> &[usize] {
        self.by_id.get(id).map_or(&[], Slot::as_slice)
    }
    fn by_address(&self, a: &Address) -> &[usize] {
        self.by_address.get(a).map_or(&[], Slot::as_slice)
    }
}

/// Plan one account: match, diff, order, spend impact, guardrails.
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
    } = input;
    let fingerprint = live_fingerprint.unwrap_or_else(|| super::file::fingerprint(&live));
    let mut errors = Vec::new();

    // Desired resources parents first, so that a matched parent's live subtree can be re-addressed before
    // its children are matched.
    let mut desired = desired;
    desired.sort_by(|a, b| (a.address.path.len(), &a.address).cmp(&(b.address.path.len(), &b.address)));
    // (sorted, a duplicate is next to its first occurrence)
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

    let state_by_addr: FxHashMap<&Address, &StateEntry> = state.iter().map(|e| (&e.address, e)).collect();
    let state_by_id: FxHashMap<&str, &StateEntry> = state.iter().map(|e| (e.id.as_str(), e)).collect();
    let pending_addrs: FxHashSet<&Address> = pending.iter().map(|i| &i.address).collect();
    // Per live object: whether this runner's id map remembers making (or adopting) it, whether adsctl owns it
    // (its ownership marker on the platform, or the id map's memory), and prevent_destroy remembered by the id
    // map. Past the diff nothing else of the id map is needed, and it is freed then.
    let state_of = |l: &Resource| l.id.as_deref().and_then(|id| state_by_id.get(id).copied());
    let live_known: Vec<bool> = live.iter().map(|l| state_of(l).is_some()).collect();
    let live_owned: Vec<bool> = live.iter().zip(&live_known).map(|(l, k)| l.owned || *k).collect();
    let live_remembered: Vec<bool> = live
        .iter()
        .map(|l| state_of(l).is_some_and(|e| e.prevent_destroy))
        .collect();
    drop(state_by_id);

    // ---- identity ----
    // Which live object each desired resource is: its pinned id, else the id the id map remembers, else the
    // one live object at its address. A renamed object (found by id under another name) moves its live
    // subtree to the desired name; that is rare, so the live objects are re-addressed and re-indexed then.
    let mut live_index = LiveIndex::new(&live);
    let mut matched: Vec<Option<usize>> = vec![None; desired.len()];
    // each desired resource's id map entry
    let mut entries: Vec<Option<&StateEntry>> = vec![None; desired.len()];
    let mut renamed: BTreeMap<usize, String> = BTreeMap::new();
    let mut taken = vec![false; live.len()];
    for (di, d) in desired.iter().enumerate() {
        let by_id = |id: &str, live: &[Resource], taken: &[bool]| {
            live_index
                .by_id(id)
                .iter()
                .copied()
                .find(|&i| !taken[i] && live[i].kind == d.kind)
        };
        let found = if let Some(pin) = &d.id {
            match by_id(pin, &live, &taken) {
                Some(i) => Some(i),
                None => {
                    errors.push(PlanError::PinnedNotFound {
                        address: d.address.clone(),
                        id: pin.clone(),
                    });
                    continue;
                }
            }
        } else {
            entries[di] = state_by_addr.get(&d.address).copied();
            let from_state = entries[di].and_then(|e| by_id(&e.id, &live, &taken));
            match from_state {
                Some(i) => Some(i),
                None => {
                    let candidates: Vec<usize> = live_index
                        .by_address(&d.address)
                        .iter()
                        .copied()
                        .filter(|&i| !taken[i] && live[i].kind == d.kind)
                        .collect();
                    match candidates.len() {
                        0 => None,
                        1 => Some(candidates[0]),
                        _ => {
                            errors.push(PlanError::Ambiguous {
                                address: d.address.clone(),
                                ids: candidates
                                    .iter()
                                    .map(|&i| live[i].id.clone().unwrap_or_else(|| "?".into()))
                                    .collect(),
                            });
                            continue;
                        }
                    }
                }
            }
        };
        if let Some(li) = found {
            taken[li] = true;
            matched[di] = Some(li);
            if live[li].address != d.address {
                let from = live[li].address.clone();
                renamed.insert(di, from.name().unwrap_or_default().to_string());
                // Renamed on the platform (found by pin or id map): its live subtree follows the desired name.
                drop(live_index);
                for l in live.iter_mut() {
                    if l.address.is_within(&from) {
                        l.address = rebase(&l.address, &from, &d.address);
                    }
                }
                live_index = LiveIndex::new(&live);
            }
        }
    }
    if !errors.is_empty() {
        return Err(PlanErrors(errors));
    }

    // ---- diff ----
    let field_in =
        |map: &BTreeMap<Kind, Vec<&'static str>>, kind: Kind, f: &str| map.get(&kind).is_some_and(|v| v.contains(&f));
    let mut changes: Vec<Change> = Vec::new();
    let mut blockers: Vec<Blocker> = Vec::new();
    let mut replaced: Vec<Address> = Vec::new();
    for (di, d) in desired.iter().enumerate() {
        let entry = entries[di];
        let Some(li) = matched[di] else {
            let mut notes = Vec::new();
            if pending_addrs.contains(&d.address) {
                notes
                    .push("an interrupted apply journaled this create; it was not found live, so it is created".into());
            }
            changes.push(Change {
                address: d.address.clone(),
                kind: d.kind,
                action: Action::Create,
                id: None,
                fields: d
                    .fields
                    .iter()
                    .map(|(k, v)| FieldChange {
                        field: k.to_string(),
                        before: None,
                        after: Some(v.clone()),
                        forces_replace: false,
                        swapped: false,
                        write_only: field_in(&caps.write_only_fields, d.kind, k),
                        drift: false,
                    })
                    .collect(),
                desired: d.fields.clone(),
                prevent_destroy: d.lifecycle.prevent_destroy,
                observed: SmallMap::new(),
                notes,
            });
            continue;
        };
        let l = &live[li];
        let mut fields = Vec::new();
        for (k, dv) in &d.fields {
            if d.lifecycle.ignore_changes.iter().any(|i| i == k) {
                continue;
            }
            let write_only = field_in(&caps.write_only_fields, d.kind, k);
            let applied = entry.and_then(|e| e.applied.get(k));
            let lv = if write_only {
                // The platform's fingerprint of what was last written, when it keeps one, is the truth; what
                // the id map recorded is only trusted as the value "before" when the two agree.
                match l.observed.get(fingerprint_key(k).as_str()) {
                    Some(fp) if *fp == value_fingerprint(dv) => continue,
                    Some(fp) => applied.filter(|a| value_fingerprint(a) == *fp),
                    None => applied,
                }
            } else {
                l.fields.get(k)
            };
            if lv == Some(dv) {
                continue;
            }
            fields.push(FieldChange {
                field: k.to_string(),
                before: lv.cloned(),
                after: Some(dv.clone()),
                forces_replace: field_in(&caps.immutable_fields, d.kind, k),
                swapped: field_in(&caps.swapped_fields, d.kind, k),
                write_only,
                drift: !write_only && applied == Some(dv),
            });
        }
        let mut notes = Vec::new();
        let ownership = ownership(
            &caps,
            l,
            live_known[li],
            pending_addrs.contains(&d.address),
            d.lifecycle.adopt || d.id.is_some(),
        );
        if let Ownership::Foreign = ownership {
            blockers.push(Blocker {
                kind: BlockerKind::Unmanaged,
                account: account.name.clone(),
                address: Some(d.address.clone()),
                message: format!(
                    "{}: a {} by this name already exists on the platform (id {}) and adsctl did not make it",
                    d.address,
                    d.kind,
                    l.id.as_deref().unwrap_or("?")
                ),
                overridden: false,
            });
        }
        let action = if fields.iter().any(|f| f.forces_replace) {
            replaced.push(d.address.clone());
            Action::Replace
        } else if let Ownership::Adopt(note) | Ownership::Restore(note) = ownership {
            notes.push(note.to_string());
            Action::Adopt
        } else if let Ownership::Foreign = ownership {
            notes.push(
                "made by someone else: add `lifecycle: { adopt: true }` (or pin its `id:`) to take it over".into(),
            );
            Action::Adopt
        } else if !fields.is_empty() {
            Action::Update
        } else {
            Action::NoOp
        };
        if let Some(old) = renamed.get(&di) {
            notes.push(format!(
                "matched by id; it is named {old:?} on the platform (adsctl does not rename objects)"
            ));
        }
        if fields.iter().any(|f| f.swapped) {
            notes.push("creative will be swapped: a new creative replaces the old".into());
        }
        let prevent_destroy = d.lifecycle.prevent_destroy || entry.is_some_and(|e| e.prevent_destroy);
        if action == Action::Replace {
            let immutable: Vec<&str> = fields
                .iter()
                .filter(|f| f.forces_replace)
                .map(|f| f.field.as_str())
                .collect();
            let fields_list = immutable.join(", ");
            if prevent_destroy {
                blockers.push(Blocker {
                    kind: BlockerKind::PreventDestroy,
                    account: account.name.clone(),
                    address: Some(d.address.clone()),
                    message: format!(
                        "{} has prevent_destroy but changing {fields_list} needs a replace",
                        d.address
                    ),
                    overridden: false,
                });
            } else if let Some(n) = Some(
                live.iter()
                    .zip(&live_owned)
                    .filter(|(x, owned)| !**owned && x.address != l.address && x.address.is_within(&l.address))
                    .count(),
            )
            .filter(|n| *n > 0)
            {
                blockers.push(Blocker {
                    kind: BlockerKind::Replace,
                    account: account.name.clone(),
                    address: Some(d.address.clone()),
                    message: format!(
                        "{}: changing {fields_list} needs a replace, which would delete {n} object(s) below it that \
                         adsctl does not manage",
                        d.address
                    ),
                    overridden: false,
                });
            } else if !opts.allow_replace {
                blockers.push(Blocker {
                    kind: BlockerKind::Replace,
                    account: account.name.clone(),
                    address: Some(d.address.clone()),
                    message: format!(
                        "{}: {fields_list} cannot change in place; replacing it loses its history (pass --allow-replace)",
                        d.address
                    ),
                    overridden: false,
                });
            }
            // A replace recreates every field.
            let mut all: Vec<FieldChange> = Vec::new();
            for (k, v) in &d.fields {
                match fields.iter().find(|f| &f.field == k) {
                    Some(f) => all.push(f.clone()),
                    None => all.push(FieldChange {
                        field: k.to_string(),
                        before: l.fields.get(k).cloned(),
                        after: Some(v.clone()),
                        forces_replace: false,
                        swapped: false,
                        write_only: field_in(&caps.write_only_fields, d.kind, k),
                        drift: false,
                    }),
                }
            }
            fields = all;
        }
        // A no-op whose id map entry already records exactly this carries no copy of its fields: the executor
        // would have nothing to write (at 100k resources these copies were a third of a cached plan's memory).
        let recorded = action == Action::NoOp
            && entry.is_some_and(|e| {
                Some(e.id.as_str()) == l.id.as_deref()
                    && e.prevent_destroy == d.lifecycle.prevent_destroy
                    && e.applied == d.fields
            });
        changes.push(Change {
            address: d.address.clone(),
            kind: d.kind,
            action,
            id: l.id.clone(),
            fields,
            desired: if recorded { SmallMap::new() } else { d.fields.clone() },
            prevent_destroy: d.lifecycle.prevent_destroy,
            observed: shown(&l.observed),
            notes,
        });
    }

    // Descendants of a replaced resource go with it and are created again under the new one.
    let desired_by_addr: HashMap<&Address, &Resource> = if replaced.is_empty() {
        HashMap::new()
    } else {
        desired.iter().map(|d| (&d.address, *d)).collect()
    };
    for c in changes.iter_mut() {
        if c.action != Action::Replace && replaced.iter().any(|r| c.address.is_within(r) && &c.address != r) {
            c.action = Action::Create;
            c.id = None;
            if c.desired.is_empty() {
                // a no-op carries no copy of its fields (see above): a create needs them all
                if let Some(d) = desired_by_addr.get(&c.address) {
                    c.desired = d.fields.clone();
                }
            }
            c.fields = c
                .desired
                .iter()
                .map(|(k, v)| FieldChange {
                    field: k.to_string(),
                    before: None,
                    after: Some(v.clone()),
                    forces_replace: false,
                    swapped: false,
                    write_only: field_in(&caps.write_only_fields, c.kind, k),
                    drift: false,
                })
                .collect();
            c.notes = vec!["created again under its replaced parent".into()];
        }
    }

    // The id map is freed before the removal pass, the ordering and the spend impact allocate theirs.
    drop(entries);
    drop(state_by_addr);
    drop(state);

    // ---- live, owned, not in the YAML ----
    // Addresses with an object adsctl does not manage somewhere below them (never removed: it would cascade).
    let mut above_unowned: FxHashSet<Address> = FxHashSet::default();
    for (x, owned) in live.iter().zip(&live_owned) {
        if !owned {
            let mut p = x.address.parent();
            while let Some(a) = p {
                p = a.parent();
                if !above_unowned.insert(a) {
                    break;
                }
            }
        }
    }
    // Parents whose children the plan reports when someone else made them: objects the YAML names, and objects
    // adsctl owns (only built when there is something to report: at 100k objects it is a set of 100k addresses).
    let any_unmanaged = live
        .iter()
        .zip(&live_owned)
        .zip(&taken)
        .any(|((l, owned), taken)| !owned && !taken && l.id.is_some());
    let managed_parents: FxHashSet<&Address> = if any_unmanaged {
        live.iter()
            .zip(&live_owned)
            .zip(&taken)
            .filter(|((_, owned), taken)| **owned || **taken)
            .map(|((l, _), _)| &l.address)
            .chain(desired.iter().map(|d| &d.address))
            .collect()
    } else {
        FxHashSet::default()
    };
    let mut unmanaged: Vec<Address> = Vec::new();
    let mut unmanaged_count = 0;
    for (li, l) in live.iter().enumerate() {
        if taken[li] {
            continue;
        }
        let Some(id) = l.id.clone() else { continue };
        if replaced.iter().any(|r| l.address.is_within(r)) {
            continue;
        }
        if !live_owned[li] {
            if l.address.parent().is_some_and(|p| managed_parents.contains(&p)) {
                unmanaged_count += 1;
                if unmanaged.len() < super::UNMANAGED_LISTED {
                    unmanaged.push(l.address.clone());
                }
            }
            continue;
        }
        let remembered = live_remembered[li];
        let shields_unowned = above_unowned.contains(&l.address);
        let policy = match account.on_removed {
            RemovalPolicy::Remove if shields_unowned => RemovalPolicy::Pause,
            p => p,
        };
        let (action, note) = match policy {
            RemovalPolicy::Orphan => (Action::Orphan, "not in the YAML; on_removed: orphan leaves it alone"),
            RemovalPolicy::Pause if !pausable(l.kind) => (
                Action::Orphan,
                "not in the YAML; this kind cannot be paused, so it is left alone",
            ),
            RemovalPolicy::Pause if l.fields.get("status") == Some(&Value::str("paused")) => {
                (Action::NoOp, "not in the YAML; already paused")
            }
            RemovalPolicy::Pause => (Action::Pause, "not in the YAML; on_removed: pause"),
            RemovalPolicy::Remove => (Action::Remove, "not in the YAML; on_removed: remove"),
        };
        let note = if shields_unowned && account.on_removed == RemovalPolicy::Remove {
            "not in the YAML; objects adsctl does not manage live below it, so it is not removed"
        } else {
            note
        };
        if remembered && action.is_change() {
            blockers.push(Blocker {
                kind: BlockerKind::PreventDestroy,
                account: account.name.clone(),
                address: Some(l.address.clone()),
                message: format!(
                    "{} was deleted from the YAML but has prevent_destroy (remembered from the last apply)",
                    l.address
                ),
                overridden: false,
            });
        }
        let fields = match action {
            Action::Pause => vec![FieldChange {
                field: "status".into(),
                before: l.fields.get("status").cloned(),
                after: Some(Value::str("paused")),
                forces_replace: false,
                swapped: false,
                write_only: false,
                drift: false,
            }],
            _ => Vec::new(),
        };
        changes.push(Change {
            address: l.address.clone(),
            kind: l.kind,
            action,
            id: Some(id),
            fields,
            desired: SmallMap::new(),
            prevent_destroy: remembered,
            observed: shown(&l.observed),
            notes: vec![note.to_string()],
        });
    }

    // ---- --target ----
    if !opts.targets.is_empty() {
        changes = order::filter_targets(changes, &opts.targets, &account.name);
        blockers.retain(|b| {
            b.address
                .as_ref()
                .is_none_or(|a| changes.iter().any(|c| &c.address == a))
        });
    }

    let changes = order::sort(changes);

    // Ids of live parents and references the changes need (a no-op needs none).
    let live_ids: FxHashMap<&Address, &str> = live
        .iter()
        .filter_map(|l| l.id.as_deref().map(|id| (&l.address, id)))
        .collect();
    let mut known_ids = BTreeMap::new();
    for c in changes.iter().filter(|c| c.action.is_change()) {
        let refs = c.desired.values().flat_map(value_refs);
        for a in c.address.parent().into_iter().chain(refs) {
            if let Some(id) = live_ids.get(&a) {
                known_ids.insert(a, id.to_string());
            }
        }
    }

    let spend = spend::impact(&live, &changes);
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

/// What a change shows of the platform's observations: not the fingerprints connectors keep for the engine.
fn shown(observed: &SmallMap<String>) -> SmallMap<String> {
    observed
        .iter()
        .filter(|(k, _)| !k.starts_with("fingerprint."))
        .map(|(k, v)| (*k, v.clone()))
        .collect()
}

/// Whose a matched live object is, and what the plan does about it.
enum Ownership {
    /// adsctl's: it carries the marker, or its kind has none and the YAML declaring it is enough.
    Owned,
    /// Not marked, and the YAML asks to take it over (an `id:` pin, `adopt: true`), or an interrupted apply
    /// made it: adopted (marked) once.
    Adopt(&'static str),
    /// adsctl made or adopted it (the id map remembers) but its marker is gone: the marker is put back.
    Restore(&'static str),
    /// Someone else's, and the YAML does not ask to take it over: the plan is blocked.
    Foreign,
}

fn ownership(caps: &Capabilities, l: &Resource, known: bool, journaled: bool, asked: bool) -> Ownership {
    if l.owned {
        return Ownership::Owned;
    }
    if !caps.marked(l.kind) {
        // No marker to look for: declaring it is enough, unless objects adsctl does not manage use it.
        return if !l.in_use_by_unmanaged || known || asked || journaled {
            Ownership::Owned
        } else {
            Ownership::Foreign
        };
    }
    if known {
        Ownership::Restore(
            "adsctl made it (the id map remembers) but its ownership marker is missing on the platform: the \
             marker is put back",
        )
    } else if journaled {
        Ownership::Adopt("created by an interrupted apply (found in the journal); adopted, not created again")
    } else if asked {
        Ownership::Adopt("exists on the platform but was not made by adsctl: adopted as the YAML asks")
    } else {
        Ownership::Foreign
    }
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
