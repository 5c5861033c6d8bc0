//! adsctl's engine: the one-way pipeline's platform-free middle.
//!
//! [`model`] (resources, addresses, money, the validated [`model::Project`]) → [`plan`] (diff desired against live
//! resources read by a [`connectors::Connector`]) → [`apply`] (executor, journal, leases) → the connector; [`state`]
//! holds the id map, the journal, the live cache and the apply records.
//!
//! This crate names no platform's connector and reads no YAML: the spec loader, the platform homes (each with its
//! connector), auth and the CLI are in the `adsctl` crate, which depends on this one and re-exports its modules
//! (`adsctl::model`, `adsctl::plan`, …). The engine learns what a platform offers from
//! [`connectors::Connector::capabilities`] alone. `tests/workspace.rs` holds the rule on what Cargo resolves.

pub mod apply;
pub mod connectors;
pub mod model;
pub mod plan;
pub mod state;
