use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Account, Address, Resource};

/// A validated config directory: what the spec loader (`adsctl::spec::load`) produces and the planner consumes.
#[derive(Clone, Debug)]
pub struct Project {
    /// The directory holding `adsctl.yaml`.
    pub root: PathBuf,
    /// Accounts by local name.
    pub accounts: BTreeMap<String, Account>,
    /// Every desired resource, lowered, in declaration order.
    pub resources: Vec<Resource>,
    /// Renames declared in the YAML (`moved:`): the object at `from` is the one the YAML now names `to`.
    pub moved: Vec<Moved>,
}

/// A rename declared in the YAML: what was at `from` is at `to` now (same account, kind and parent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved {
    pub from: Address,
    pub to: Address,
}
