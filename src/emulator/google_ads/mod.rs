//! The Google Ads API v25 (REST) emulator.

use axum::response::Response;
use axum::Router;

use super::config::EmulatorConfig;
use super::platform::{FaultKind, PlatformEmulator};

pub struct GoogleAdsEmulator {}

impl GoogleAdsEmulator {
    pub fn new(_config: &EmulatorConfig) -> Self {
        GoogleAdsEmulator {}
    }
}

impl PlatformEmulator for GoogleAdsEmulator {
    fn name(&self) -> &'static str {
        "google_ads"
    }
    fn router(&self) -> Router {
        Router::new()
    }
    fn fault_response(&self, _fault: FaultKind) -> Response {
        Response::new(axum::body::Body::empty())
    }
    fn dump(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&self, _dump: serde_json::Value) -> Result<(), String> {
        Ok(())
    }
    fn reset(&self) {}
}
pub mod errors;
pub mod gaql;
pub mod metrics;
pub mod mutate;
pub mod resources;
pub mod schema;
pub mod store;
