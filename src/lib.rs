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
pub mod import;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod platforms;
pub mod reconcile;
pub mod secret;
pub mod spec;
pub mod state;

/// The emulator of the platforms' APIs (`crates/adsctl-emulator`, which cannot depend on this crate).
pub use adsctl_emulator as emulator;
/// HTTP serving within limits (`crates/adsctl-serve`), shared by the status server and the emulator.
pub use adsctl_serve as serve;
