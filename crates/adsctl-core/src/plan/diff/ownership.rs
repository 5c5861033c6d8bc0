//! Whose a matched live object is (docs/resource-model.md, "Ownership"), and what a change shows of what the
//! platform reports.

use crate::connectors::Capabilities;
use crate::model::{Resource, SmallMap};

/// Whose a matched live object is, and what the plan does about it.
pub(super) enum Ownership {
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

/// `known`: the id map remembers it; `journaled`: an interrupted apply journaled its create; `asked`: the YAML
/// pins its id or says `adopt: true`.
pub(super) fn ownership(caps: &Capabilities, l: &Resource, known: bool, journaled: bool, asked: bool) -> Ownership {
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

/// What a change shows of the platform's observations: not the fingerprints connectors keep for the engine.
pub(super) fn shown(observed: &SmallMap<String>) -> SmallMap<String> {
    observed
        .iter()
        .filter(|(k, _)| !k.starts_with("fingerprint."))
        .map(|(k, v)| (*k, v.clone()))
        .collect()
}
