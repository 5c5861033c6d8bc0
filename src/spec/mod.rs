//! The desired-state language: loading a config directory, validating it, lowering it to resources.
//!
//! Contract used by every later stage:
//! `spec::load(dir) -> Result<Project, SpecErrors>`; `Project` holds the validated accounts and the lowered
//! desired resources (see `docs/resource-model.md`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::model::{Account, Resource};

/// A validated config directory.
#[derive(Clone, Debug)]
pub struct Project {
    /// The directory holding `adsctl.yaml`.
    pub root: PathBuf,
    /// Accounts by local name.
    pub accounts: BTreeMap<String, Account>,
    /// Every desired resource, lowered, in declaration order.
    pub resources: Vec<Resource>,
}
