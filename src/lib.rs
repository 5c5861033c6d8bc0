//! adsctl: plan/apply for advertising accounts.
//!
//! The pipeline runs one way: `spec` (YAML → typed spec → desired [`model::Resource`]s) → `plan` (diff against
//! live resources read by a [`connectors::Connector`]) → `apply` (executor, journal) → connectors.
//! See `docs/architecture.md`.

mod alloc;
pub mod apply;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod connectors;
pub mod emulator;
pub mod import;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod platforms;
pub mod reconcile;
pub mod secret;
pub mod serve;
pub mod spec;
pub mod state;
