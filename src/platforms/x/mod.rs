//! X (Twitter) Ads API v12 connector (wire side).

pub mod auth;
pub mod client;
pub mod config;
pub mod errors;
pub mod mapping;
