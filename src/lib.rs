//! adsctl: plan/apply for advertising accounts.
//!
//! The pipeline runs one way: `spec` (YAML → typed spec → desired [`model::Resource`]s) → `plan` (diff against
//! live resources read by a [`connectors::Connector`]) → `apply` (executor, journal) → connectors.
//! See `docs/architecture.md`.

mod alloc;
pub mod apitoken;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod import;
pub mod metrics;
pub mod otel;
pub mod platforms;
pub mod reconcile;
pub mod secret;
pub mod spec;
pub mod store;

/// The engine (`crates/adsctl-core`): model, plan, apply, state and the `Connector` trait.
pub use adsctl_core::{apply, connectors, model, plan, state};

/// The emulator of the platforms' APIs (`crates/adsctl-emulator`, which cannot depend on this crate).
pub use adsctl_emulator as emulator;
/// HTTP serving within limits (`crates/adsctl-serve`), shared by the status server and the emulator.
pub use adsctl_serve as serve;
