//! Identity: which live object each desired resource is — its pinned id, else the id the id map remembers,
//! else the one live object at its address, else (a rename declared with `moved:`) the object at its old address.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::IdMap;
use crate::model::{Address, Moved, Resource};
use crate::plan::PlanError;
use crate::state::StateEntry;

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

/// What identity found.
pub(super) struct Matches<'s> {
    /// Per desired resource (same order): the live object it is.
    pub matched: Vec<Option<usize>>,
    /// Per desired resource: its id map entry.
    pub entries: Vec<Option<&'s StateEntry>>,
    /// Desired resources found by id under another name on the platform: that name.
    pub renamed: BTreeMap<usize, String>,
    /// Per live object: matched to a desired resource.
    pub taken: Vec<bool>,
}

/// Match every desired resource (parents first) to a live object. A renamed object (found by id under another
/// name) moves its live subtree to the desired name; that is rare, so the live objects are re-addressed and
/// re-indexed then. Pins that match nothing and names that match several objects are errors.
pub(super) fn match_desired<'s>(
    desired: &[&Resource],
    live: &mut [Resource],
    ids: &IdMap<'s>,
    moved: &[Moved],
    errors: &mut Vec<PlanError>,
) -> Matches<'s> {
    let mut m = Matches {
        matched: vec![None; desired.len()],
        entries: vec![None; desired.len()],
        renamed: BTreeMap::new(),
        taken: vec![false; live.len()],
    };
    let mut live_index = LiveIndex::new(live);
    for (di, d) in desired.iter().enumerate() {
        let by_id = |id: &str, live: &[Resource], taken: &[bool]| {
            live_index
                .by_id(id)
                .iter()
                .copied()
                .find(|&i| !taken[i] && live[i].kind == d.kind)
        };
        let found = if let Some(pin) = &d.id {
            match by_id(pin, live, &m.taken) {
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
            m.entries[di] = ids.by_address.get(&d.address).copied();
            match m.entries[di].and_then(|e| by_id(&e.id, live, &m.taken)) {
                Some(i) => Some(i),
                None => {
                    let candidates: Vec<usize> = live_index
                        .by_address(&d.address)
                        .iter()
                        .copied()
                        .filter(|&i| !m.taken[i] && live[i].kind == d.kind)
                        .collect();
                    match candidates.len() {
                        // Renamed in the YAML (`moved:`): the object the id map remembers at the old address, or
                        // the one live object there.
                        0 => match moved.iter().find(|mv| mv.to == d.address) {
                            Some(mv) => {
                                let remembered = ids.by_address.get(&mv.from).copied();
                                match remembered.and_then(|e| by_id(&e.id, live, &m.taken)) {
                                    Some(i) => {
                                        m.entries[di] = remembered;
                                        Some(i)
                                    }
                                    None => {
                                        let there: Vec<usize> = live_index
                                            .by_address(&mv.from)
                                            .iter()
                                            .copied()
                                            .filter(|&i| !m.taken[i] && live[i].kind == d.kind)
                                            .collect();
                                        (there.len() == 1).then(|| there[0])
                                    }
                                }
                            }
                            None => None,
                        },
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
            m.taken[li] = true;
            m.matched[di] = Some(li);
            if live[li].address != d.address {
                // Renamed on the platform (found by pin or id map): its live subtree follows the desired name.
                let from = live[li].address.clone();
                m.renamed.insert(di, from.name().unwrap_or_default().to_string());
                drop(live_index);
                for l in live.iter_mut() {
                    if l.address.is_within(&from) {
                        l.address = rebase(&l.address, &from, &d.address);
                    }
                }
                live_index = LiveIndex::new(live);
            }
        }
    }
    m
}
