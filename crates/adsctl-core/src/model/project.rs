use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Account, Resource};

/// A validated config directory: what the spec loader (`adsctl::spec::load`) produces and the planner consumes.
#[derive(Clone, Debug)]
pub struct Project {
    /// The directory holding `adsctl.yaml`.
    pub root: PathBuf,
    /// Accounts by local name.
    pub accounts: BTreeMap<String, Account>,
    /// Every desired resource, lowered, in declaration order.
    pub resources: Vec<Resource>,
}
