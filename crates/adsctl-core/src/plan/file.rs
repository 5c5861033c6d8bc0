//! Plan files (`plan --out FILE`, `apply FILE`), live-state fingerprints and plan hashes.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Plan, PLAN_FORMAT_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("could not write the plan to {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("could not read the plan {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path} is not an adsctl plan: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path} uses plan format version {found}; this adsctl reads version {PLAN_FORMAT_VERSION}")]
    Version { path: PathBuf, found: u32 },
}

impl PlanFileError {
    pub fn hint(&self) -> &'static str {
        match self {
            PlanFileError::Version { .. } | PlanFileError::Parse { .. } => {
                "make the plan again with `adsctl plan --out FILE` using this adsctl"
            }
            _ => "check the path and its permissions",
        }
    }
}

/// A stable digest of an account's live state.
pub use crate::model::live_fingerprint as fingerprint;

/// The hash of what a plan does (its accounts and changes, not when it was made).
pub fn plan_hash(plan: &Plan) -> String {
    let mut h = Sha256::new();
    let _ = serde_json::to_writer(&mut h, &plan.accounts);
    format!("sha256:{}", hex::encode(h.finalize()))
}

pub fn save(plan: &Plan, path: &Path) -> Result<(), PlanFileError> {
    let write = |message: String| PlanFileError::Write {
        path: path.to_path_buf(),
        message,
    };
    let json = serde_json::to_string_pretty(plan).map_err(|e| write(e.to_string()))?;
    std::fs::write(path, json + "\n").map_err(|e| write(e.to_string()))
}

pub fn load(path: &Path) -> Result<Plan, PlanFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| PlanFileError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(|e| PlanFileError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let found = raw.get("format_version").and_then(serde_json::Value::as_u64);
    if found != Some(u64::from(PLAN_FORMAT_VERSION)) {
        return Err(match found {
            Some(v) => PlanFileError::Version {
                path: path.to_path_buf(),
                found: u32::try_from(v).unwrap_or(u32::MAX),
            },
            None => PlanFileError::Parse {
                path: path.to_path_buf(),
                message: "no format_version".into(),
            },
        });
    }
    serde_json::from_value(raw).map_err(|e| PlanFileError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
