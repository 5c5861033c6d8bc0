//! Request counters: requests per endpoint (method + route template) and operations per request, served at
//! `GET /_emulator/requests` (benchmarks and tests count API calls with it).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;
use serde::Serialize;

/// Response extension a platform sets to say how many operations (mutate operations, batch entries, uploaded
/// rows) one request carried. Requests without it count as zero operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationCount(pub u64);

/// Response extension a platform sets to name the endpoint when its router matches with a catch-all
/// (e.g. `POST /v25/customers/{customerId}/campaigns:mutate`); otherwise the axum route template is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointLabel(pub String);

#[derive(Clone, Debug, Default, Serialize)]
pub struct EndpointStats {
    pub requests: u64,
    pub operations: u64,
    pub max_operations_per_request: u64,
    /// Status code → count.
    pub statuses: BTreeMap<u16, u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CountersSnapshot {
    pub total_requests: u64,
    pub total_operations: u64,
    pub endpoints: BTreeMap<String, EndpointStats>,
}

#[derive(Debug, Default)]
pub struct Counters {
    inner: Mutex<CountersSnapshot>,
}

impl Counters {
    pub fn record(&self, endpoint: String, status: u16, ops: u64) {
        let mut c = self.inner.lock();
        c.total_requests += 1;
        c.total_operations += ops;
        let e = c.endpoints.entry(endpoint).or_default();
        e.requests += 1;
        e.operations += ops;
        e.max_operations_per_request = e.max_operations_per_request.max(ops);
        *e.statuses.entry(status).or_default() += 1;
    }
    pub fn snapshot(&self) -> CountersSnapshot {
        self.inner.lock().clone()
    }
    pub fn reset(&self) {
        *self.inner.lock() = CountersSnapshot::default();
    }
}

/// Middleware around the whole app; `/_emulator/*` is not counted.
pub async fn count_middleware(State(counters): State<Arc<Counters>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_emulator/") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let template = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let resp = next.run(req).await;
    let label = match resp.extensions().get::<EndpointLabel>() {
        Some(l) => l.0.clone(),
        None => format!("{method} {}", template.unwrap_or(path)),
    };
    let ops = resp.extensions().get::<OperationCount>().map_or(0, |o| o.0);
    counters.record(label, resp.status().as_u16(), ops);
    resp
}
