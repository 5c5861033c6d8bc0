//! Live objects the YAML does not name: adsctl's are paused, removed or left alone as the account's
//! `on_removed` says (never removed when someone else's objects live below them: that would delete those too);
//! everyone else's are never touched, and those under parents adsctl manages are listed.

use rustc_hash::FxHashSet;

use super::ownership::shown;
use super::{Ctx, Facts, Planned};
use crate::model::{Address, RemovalPolicy, Resource, SmallMap, Value};
use crate::plan::{Action, BlockerKind, Change, FieldChange, UNMANAGED_LISTED};

/// Plan every live object identity left unmatched (`taken[i]` false).
pub(super) fn plan(
    ctx: &Ctx,
    desired: &[&Resource],
    live: &[Resource],
    facts: &Facts,
    taken: &[bool],
    out: &mut Planned,
) {
    // Addresses with an object adsctl does not manage somewhere below them (never removed: it would cascade).
    let mut above_unowned: FxHashSet<Address> = FxHashSet::default();
    for (x, owned) in live.iter().zip(&facts.owned) {
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
        .zip(&facts.owned)
        .zip(taken)
        .any(|((l, owned), taken)| !owned && !taken && l.id.is_some());
    let managed_parents: FxHashSet<&Address> = if any_unmanaged {
        live.iter()
            .zip(&facts.owned)
            .zip(taken)
            .filter(|((_, owned), taken)| **owned || **taken)
            .map(|((l, _), _)| &l.address)
            .chain(desired.iter().map(|d| &d.address))
            .collect()
    } else {
        FxHashSet::default()
    };
    // the YAML's addresses, built once when a part of a parent is among the leftovers
    let mut kept: Option<FxHashSet<&Address>> = None;
    for (li, l) in live.iter().enumerate() {
        if taken[li] {
            continue;
        }
        let Some(id) = l.id.clone() else { continue };
        if out.replaced.iter().any(|r| l.address.is_within(r)) {
            continue;
        }
        if !facts.owned[li] {
            if l.address.parent().is_some_and(|p| managed_parents.contains(&p)) {
                out.unmanaged_count += 1;
                if out.unmanaged.len() < UNMANAGED_LISTED {
                    out.unmanaged.push(l.address.clone());
                }
            }
            continue;
        }
        let remembered = facts.remembered[li];
        let shields_unowned = above_unowned.contains(&l.address);
        // a part of a parent the YAML keeps (an X targeting criterion or promoted post): the parent's settings are
        // what the YAML says, so a part it no longer lists goes, whatever the removal policy says about objects
        let part_of_kept = l.kind.part_of_parent()
            && l.address.parent().is_some_and(|p| {
                kept.get_or_insert_with(|| desired.iter().map(|d| &d.address).collect())
                    .contains(&p)
            });
        let policy = match ctx.account.on_removed {
            // the account's own settings cannot go while the account stays: adsctl only stops managing them
            _ if l.kind.of_account() => RemovalPolicy::Orphan,
            RemovalPolicy::Remove if shields_unowned => RemovalPolicy::Pause,
            RemovalPolicy::Pause if part_of_kept => RemovalPolicy::Remove,
            p => p,
        };
        let (action, note) = match policy {
            RemovalPolicy::Orphan if l.kind.of_account() => (
                Action::Orphan,
                "not in the YAML; the account's own settings are never removed: left as they are, no longer managed",
            ),
            RemovalPolicy::Orphan => (Action::Orphan, "not in the YAML; on_removed: orphan leaves it alone"),
            RemovalPolicy::Remove if part_of_kept => (
                Action::Remove,
                "no longer listed under its parent, which stays: it cannot be paused or changed, so it is removed",
            ),
            // still adsctl's (not an orphan: the id map keeps it), so that `on_removed: remove` later removes it and
            // a parent above it, which an object no longer adsctl's would shield
            RemovalPolicy::Pause if !l.kind.pausable() => (
                Action::NoOp,
                "not in the YAML; nothing to pause on this kind: left as it is, still adsctl's",
            ),
            RemovalPolicy::Pause if ctx.caps.settled(l).is_some() => (
                Action::NoOp,
                "not in the YAML; it can no longer be paused or changed (it has run): left as it is",
            ),
            RemovalPolicy::Pause if l.fields.get("status") == Some(&Value::str(ctx.caps.paused_status)) => {
                (Action::NoOp, "not in the YAML; already paused")
            }
            RemovalPolicy::Pause => (Action::Pause, "not in the YAML; on_removed: pause"),
            RemovalPolicy::Remove => (
                Action::Remove,
                "not in the YAML; on_removed: remove (the platform cannot undo a removal: it is gone for good)",
            ),
        };
        let note =
            if shields_unowned && policy == RemovalPolicy::Pause && ctx.account.on_removed == RemovalPolicy::Remove {
                "not in the YAML; objects adsctl does not manage live below it, so it is not removed"
            } else {
                note
            };
        if remembered && action.is_change() {
            out.blockers.push(ctx.blocker(
                BlockerKind::PreventDestroy,
                &l.address,
                format!(
                    "{} was deleted from the YAML but has prevent_destroy (remembered from the last apply)",
                    l.address
                ),
            ));
        }
        let fields = match action {
            Action::Pause => vec![FieldChange {
                field: "status".into(),
                before: l.fields.get("status").cloned(),
                after: Some(Value::str(ctx.caps.paused_status)),
                forces_replace: false,
                swapped: false,
                write_only: false,
                drift: false,
                ..Default::default()
            }],
            _ => Vec::new(),
        };
        out.changes.push(Change {
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
}
