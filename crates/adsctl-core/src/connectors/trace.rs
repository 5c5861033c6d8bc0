//! Tracing spans of the requests sent to the platforms (the connectors' API calls and the auth token requests),
//! so that what a connector logs (a retry, a rate limit, a debug line per request) says which account it was
//! for and which request the platform knows it by.
//!
//! A span carries the platform, the local account name, the method and the path, then the response's status and
//! the platform's request id (Google Ads: `request-id`; Meta: `x-fb-request-id`, else `x-fb-trace-id`). Never a
//! URL's query (Meta's `access_token` and `appsecret_proof` ride in it) nor a body: only what is safe to print.
//! Futures are instrumented with these spans (`.instrument(span)`), never entered across an await.

use std::future::Future;
use std::pin::Pin;

use tracing::field::Empty;

/// The span of the work on one account (a plan's reads, an apply's batches, its lease, a metrics pull).
pub fn account(account: &crate::model::Account) -> tracing::Span {
    tracing::info_span!("account", account = %account.name, platform = account.platform.as_str())
}

/// The span of one API request (with its retries: `attempt` counts them).
pub fn request(platform: &'static str, account: &str, method: &str, path: &str) -> tracing::Span {
    tracing::info_span!(
        "request",
        platform,
        account,
        method,
        path = without_query(path),
        attempt = Empty,
        status = Empty,
        request_id = Empty,
    )
}

/// The span of one token request (refresh, code exchange) to `endpoint` (its query left out).
pub fn token(platform: &'static str, account: &str, endpoint: &str) -> tracing::Span {
    tracing::info_span!(
        "token",
        platform,
        account,
        endpoint = without_query(endpoint),
        status = Empty,
        request_id = Empty,
    )
}

/// `path` without its query or fragment.
pub fn without_query(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

/// Record an attempt's number on the current span. Numbers are recorded as `i64`: the trace export
/// (tracing-opentelemetry) keeps signed integers as integers and turns unsigned ones into text.
pub fn record_attempt(attempt: u32) {
    tracing::Span::current().record("attempt", i64::from(attempt));
}

/// Record a response's status and the platform's request id (the first of `names` present) on the current span.
pub fn record_response(status: u16, headers: &reqwest::header::HeaderMap, names: &[&str]) {
    let span = tracing::Span::current();
    span.record("status", i64::from(status));
    if let Some(id) = request_id(headers, names) {
        span.record("request_id", id);
    }
}

/// The platform's request id: the first of `names` present, when it looks like one (short, printable ASCII).
pub fn request_id<'h>(headers: &'h reqwest::header::HeaderMap, names: &[&str]) -> Option<&'h str> {
    names
        .iter()
        .filter_map(|n| headers.get(*n))
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .find(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
}

/// The `oauth2` crate's HTTP client over `reqwest`, recording each token response's status and request id on
/// the current span (the crate's own client hides the headers).
pub struct TracedOAuth<'a> {
    pub http: &'a reqwest::Client,
    /// Where the platform puts its request id.
    pub request_id: &'static [&'static str],
}

type OAuthResult = Result<oauth2::HttpResponse, oauth2::HttpClientError<reqwest::Error>>;

impl<'c> oauth2::AsyncHttpClient<'c> for TracedOAuth<'_> {
    type Error = oauth2::HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = OAuthResult> + Send + Sync + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = <reqwest::Client as oauth2::AsyncHttpClient>::call(self.http, request).await?;
            let status = response.status().as_u16();
            record_response(status, response.headers(), self.request_id);
            tracing::debug!(status, "token response");
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_fields_never_carry_a_query() {
        assert_eq!(without_query("act_1/campaigns?access_token=secret"), "act_1/campaigns");
        assert_eq!(without_query("https://x/token#frag"), "https://x/token");
        assert_eq!(
            without_query("customers/1/googleAds:mutate"),
            "customers/1/googleAds:mutate"
        );
    }

    #[test]
    fn request_ids_are_read_from_the_first_header_present() {
        const TWO: &[&str] = &["x-fb-request-id", "x-fb-trace-id"];
        const ONE: &[&str] = &["request-id"];
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-fb-trace-id", "AbC123".parse().unwrap());
        assert_eq!(request_id(&h, TWO), Some("AbC123"));
        h.insert("x-fb-request-id", "Rq9".parse().unwrap());
        assert_eq!(request_id(&h, TWO), Some("Rq9"));
        assert_eq!(request_id(&h, ONE), None);
        // not an id: left out
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("request-id", "a b".parse().unwrap());
        assert_eq!(request_id(&h, ONE), None);
    }
}
