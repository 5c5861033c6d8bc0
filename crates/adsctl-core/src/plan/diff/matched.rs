//! The diff of every desired resource against the live object identity matched it with: create, update,
//! adopt, replace or nothing; and the descendants of a replaced resource, created again under the new one.

use std::collections::HashMap;

use super::identity::Matches;
use super::ownership::{ownership, shown, Ownership};
use super::{Ctx, Facts, IdMap, Planned};
use crate::connectors::NAME_FIELD;
use crate::model::{fingerprint_key, value_fingerprint, Address, Resource, SmallMap, Value};
use crate::plan::{Action, BlockerKind, Change, FieldChange};

/// Changes for every desired resource, in the order given.
pub(super) fn diff(
    ctx: &Ctx,
    desired: &[&Resource],
    live: &[Resource],
    facts: &Facts,
    m: &Matches,
    ids: &IdMap,
    out: &mut Planned,
) {
    for (di, d) in desired.iter().enumerate() {
        match m.matched[di] {
            None => out.changes.push(create(ctx, d, ids.pending.contains(&d.address))),
            Some(li) => {
                let change = update(ctx, d, &live[li], li, live, facts, m, di, ids, out);
                out.changes.push(change);
            }
        }
    }
}

fn create(ctx: &Ctx, d: &Resource, journaled: bool) -> Change {
    let mut notes = Vec::new();
    if journaled {
        notes.push("an interrupted apply journaled this create; it was not found live, so it is created".into());
    }
    Change {
        address: d.address.clone(),
        kind: d.kind,
        action: Action::Create,
        id: None,
        fields: d.fields.iter().map(|(k, v)| ctx.new_field(d.kind, k, v)).collect(),
        desired: d.fields.clone(),
        prevent_destroy: d.lifecycle.prevent_destroy,
        observed: SmallMap::new(),
        notes,
    }
}

/// The fields whose live value differs from the desired one (write-only fields by fingerprint or the id map).
fn changed_fields(ctx: &Ctx, d: &Resource, l: &Resource, applied: Option<&SmallMap>) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    for (k, dv) in &d.fields {
        if d.lifecycle.ignore_changes.iter().any(|i| i == k) {
            continue;
        }
        let write_only = ctx.write_only(d.kind, k);
        let applied = applied.and_then(|a| a.get(k));
        let lv = if write_only {
            // The platform's fingerprint of what was last written, when it keeps one, is the truth; what the id
            // map recorded is only trusted as the value "before" when the two agree.
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
            forces_replace: ctx.immutable(d.kind, k),
            swapped: ctx.swapped(d.kind, k),
            write_only,
            drift: !write_only && applied == Some(dv),
            ..Default::default()
        });
    }
    fields
}

#[allow(clippy::too_many_arguments)]
fn update(
    ctx: &Ctx,
    d: &Resource,
    l: &Resource,
    li: usize,
    live: &[Resource],
    facts: &Facts,
    m: &Matches,
    di: usize,
    ids: &IdMap,
    out: &mut Planned,
) -> Change {
    let entry = m.entries[di];
    let mut fields = changed_fields(ctx, d, l, entry.map(|e| &e.applied));
    let mut notes = Vec::new();
    let renamed_from = m.renamed.get(&di);
    if let (Some(old), Some(new)) = (renamed_from, d.address.name()) {
        if ctx.caps.renamable(d.kind) && !d.lifecycle.ignore_changes.iter().any(|i| i == NAME_FIELD) {
            // The YAML names it: the platform's name follows (matched by id, so it is the same object).
            fields.insert(
                0,
                FieldChange {
                    field: NAME_FIELD.to_string(),
                    before: Some(Value::Str(old.clone())),
                    after: Some(Value::Str(new.to_string())),
                    ..Default::default()
                },
            );
        }
    }
    let owner = ownership(
        ctx.caps,
        l,
        facts.known[li],
        ids.pending.contains(&d.address),
        d.lifecycle.adopt || d.id.is_some(),
    );
    if let Ownership::Foreign = owner {
        out.blockers.push(ctx.blocker(
            BlockerKind::Unmanaged,
            &d.address,
            format!(
                "{}: a {} by this name already exists on the platform (id {}) and adsctl did not make it",
                d.address,
                d.kind,
                l.id.as_deref().unwrap_or("?")
            ),
        ));
    }
    let action = if fields.iter().any(|f| f.forces_replace) {
        out.replaced.push(d.address.clone());
        Action::Replace
    } else {
        match owner {
            Ownership::Adopt(note) | Ownership::Restore(note) => {
                notes.push(note.to_string());
                Action::Adopt
            }
            Ownership::Foreign => {
                notes.push(
                    "made by someone else: add `lifecycle: { adopt: true }` (or pin its `id:`) to take it over".into(),
                );
                Action::Adopt
            }
            // it has run (a sent e-mail): nothing of it can change any more, so nothing is planned; the note says
            // what the YAML would have changed
            Ownership::Owned if !fields.is_empty() && ctx.caps.settled(l).is_some() => {
                let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                notes.push(format!(
                    "it has run ({}): the platform no longer changes it, so {} stay as they are",
                    ctx.caps.settled(l).unwrap_or_default(),
                    names.join(", ")
                ));
                fields.clear();
                Action::NoOp
            }
            Ownership::Owned if !fields.is_empty() => Action::Update,
            Ownership::Owned => Action::NoOp,
        }
    };
    if let Some(old) = renamed_from {
        if ctx.caps.renamable(d.kind) {
            notes.push(format!("it is named {old:?} on the platform: renamed in place"));
        } else {
            notes.push(format!(
                "it is named {old:?} on the platform ({} cannot rename a {})",
                ctx.account.platform, d.kind
            ));
        }
    }
    if fields.iter().any(|f| f.swapped) {
        notes.push("creative will be swapped: a new creative replaces the old".into());
    }
    if action == Action::Replace {
        let prevent_destroy = d.lifecycle.prevent_destroy || entry.is_some_and(|e| e.prevent_destroy);
        replace_blockers(ctx, d, l, live, facts, &fields, prevent_destroy, out);
        // A replace recreates every field.
        fields = d
            .fields
            .iter()
            .map(|(k, v)| match fields.iter().find(|f| &f.field == k) {
                Some(f) => f.clone(),
                None => FieldChange {
                    before: l.fields.get(k).cloned(),
                    ..ctx.new_field(d.kind, k, v)
                },
            })
            .collect();
    }
    // A no-op whose id map entry already records exactly this carries no copy of its fields: the executor would
    // have nothing to write (at 100k resources these copies were a third of a cached plan's memory).
    let recorded = action == Action::NoOp
        && entry.is_some_and(|e| {
            Some(e.id.as_str()) == l.id.as_deref()
                && e.prevent_destroy == d.lifecycle.prevent_destroy
                && e.applied == d.fields
        });
    Change {
        address: d.address.clone(),
        kind: d.kind,
        action,
        id: l.id.clone(),
        fields,
        desired: if recorded { SmallMap::new() } else { d.fields.clone() },
        prevent_destroy: d.lifecycle.prevent_destroy,
        observed: shown(&l.observed),
        notes,
    }
}

/// Why a replace may not happen: prevent_destroy, objects adsctl does not manage below it (they would be deleted
/// with it), or `--allow-replace` not given.
#[allow(clippy::too_many_arguments)]
fn replace_blockers(
    ctx: &Ctx,
    d: &Resource,
    l: &Resource,
    live: &[Resource],
    facts: &Facts,
    fields: &[FieldChange],
    prevent_destroy: bool,
    out: &mut Planned,
) {
    let immutable: Vec<&str> = fields
        .iter()
        .filter(|f| f.forces_replace)
        .map(|f| f.field.as_str())
        .collect();
    let fields_list = immutable.join(", ");
    let unmanaged_below = live
        .iter()
        .zip(&facts.owned)
        .filter(|(x, owned)| !**owned && x.address != l.address && x.address.is_within(&l.address))
        .count();
    let message = if prevent_destroy {
        Some((
            BlockerKind::PreventDestroy,
            format!(
                "{} has prevent_destroy but changing {fields_list} needs a replace",
                d.address
            ),
        ))
    } else if unmanaged_below > 0 {
        Some((
            BlockerKind::Replace,
            format!(
                "{}: changing {fields_list} needs a replace, which would delete {unmanaged_below} object(s) below \
                 it that adsctl does not manage",
                d.address
            ),
        ))
    } else if !ctx.opts.allow_replace {
        Some((
            BlockerKind::Replace,
            format!(
                "{}: {fields_list} cannot change in place; replacing it loses its history (pass --allow-replace)",
                d.address
            ),
        ))
    } else {
        None
    };
    if let Some((kind, message)) = message {
        out.blockers.push(ctx.blocker(kind, &d.address, message));
    }
}

/// Descendants of a replaced resource go with it and are created again under the new one.
pub(super) fn recreate_below_replaced(ctx: &Ctx, desired: &[&Resource], out: &mut Planned) {
    if out.replaced.is_empty() {
        return;
    }
    let desired_by_addr: HashMap<&Address, &Resource> = desired.iter().map(|d| (&d.address, *d)).collect();
    for c in out.changes.iter_mut() {
        if c.action != Action::Replace && out.replaced.iter().any(|r| c.address.is_within(r) && &c.address != r) {
            c.action = Action::Create;
            c.id = None;
            if c.desired.is_empty() {
                // a no-op carries no copy of its fields (see above): a create needs them all
                if let Some(d) = desired_by_addr.get(&c.address) {
                    c.desired = d.fields.clone();
                }
            }
            c.fields = c.desired.iter().map(|(k, v)| ctx.new_field(c.kind, k, v)).collect();
            c.notes = vec!["created again under its replaced parent".into()];
        }
    }
}
