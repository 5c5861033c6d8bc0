//! `adsctl emulator`: a wire-faithful local emulator of the ad platforms' APIs (LocalStack for ad platforms).
//!
//! Shares no wire types or mapping code with `connectors/`: each side is written from `../shared/reference` on
//! its own, so a misreading in one is caught by the other.
//!
//! Layout: this module owns the server, configuration, seed/persistence, fault injection, request counting and
//! the admin API under `/_emulator/`; each platform lives in its own folder and implements [`PlatformEmulator`].

pub mod meta;
pub mod platform;

pub use platform::{FaultKind, PlatformEmulator};
