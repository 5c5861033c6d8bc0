//! Ordering of changes and `--target` filtering.

use std::collections::{BTreeMap, BTreeSet};

use super::diff::value_refs;
use super::{Action, Change};
use crate::model::Address;

/// Creates, updates and replaces parents first (kind rank, then depth); then pauses and removals children
/// first. Ties keep address order so plans are stable.
pub fn sort(mut changes: Vec<Change>) -> Vec<Change> {
    changes.sort_by(|a, b| {
        let key = |c: &Change| {
            let removal = c.action.is_removal();
            let rank = i16::from(c.kind.rank());
            let depth = c.address.path.len() as i16;
            if removal {
                (1, -rank, -depth)
            } else {
                (0, rank, depth)
            }
        };
        key(a).cmp(&key(b)).then_with(|| a.address.cmp(&b.address))
    });
    changes
}

/// Keep the changes inside the targets, plus the creates they need (parents, referenced resources).
pub fn filter_targets(changes: Vec<Change>, targets: &[Address], account: &str) -> Vec<Change> {
    let mut keep: BTreeSet<Address> = changes
        .iter()
        .filter(|c| targets.iter().any(|t| t.account == account && c.address.is_within(t)))
        .map(|c| c.address.clone())
        .collect();
    let by_addr: BTreeMap<&Address, &Change> = changes.iter().map(|c| (&c.address, c)).collect();
    let mut todo: Vec<Address> = keep.iter().cloned().collect();
    while let Some(a) = todo.pop() {
        let Some(c) = by_addr.get(&a) else { continue };
        let needs = c
            .address
            .parent()
            .into_iter()
            .chain(c.desired.values().flat_map(value_refs));
        for n in needs {
            let creates = by_addr
                .get(&n)
                .is_some_and(|o| matches!(o.action, Action::Create | Action::Replace));
            if creates && keep.insert(n.clone()) {
                todo.push(n);
            }
        }
    }
    changes.into_iter().filter(|c| keep.contains(&c.address)).collect()
}
