//! The HTTP client of the Marketing API 3.0: `Authorization: Bearer <key or token>` (marked sensitive), JSON
//! bodies, problem documents, retries (429 and 500/502/503/504 and lost answers back off; creates are retried only
//! after a 429, the caller looking for what a lost create made before sending it again), offset paging, and at
//! most 10 requests in flight per account (a semaphore shared by the account's connectors in this process).
//!
//! Nothing secret or personal leaves this module: the credential rides only in the header, bodies are never
//! traced or logged (member bodies hold addresses), and every text that came back is scrubbed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use tracing::Instrument;

use super::auth::MailchimpCredentials;
use super::config::{McConfig, MAX_CONCURRENT, PAGE_SIZE};
use super::errors::{without_addresses, ApiError, ErrorClass};
use crate::connectors::{trace, wait, ConnectorError, OpError};
use crate::secret::redact;

/// Where Mailchimp puts its request id.
pub const REQUEST_ID: &[&str] = &["x-request-id"];

/// Percent-encoding of a path segment or query value (RFC 3986 unreserved stay).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A successful answer (204s have an empty body).
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Result<Json, CallError> {
        if self.body.trim().is_empty() {
            return Ok(Json::Null);
        }
        serde_json::from_str(&self.body).map_err(|e| CallError::Decode {
            message: format!("unexpected answer: {e}"),
        })
    }
}

/// A failed call, already scrubbed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Api(Box<ApiError>),
    /// No answer (connection reset, timeout): the request may or may not have run.
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },
    #[error("unexpected response from Mailchimp: {message}")]
    Decode { message: String },
    #[error(transparent)]
    Blocked(wait::TooLong),
}

impl CallError {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            CallError::Api(e) => Some(e.as_ref()),
            _ => None,
        }
    }
    pub fn is_gone(&self) -> bool {
        self.api().is_some_and(|e| e.status == 404)
    }
    /// Mailchimp answered (an error status), as opposed to no answer at all.
    pub fn answered(&self) -> bool {
        matches!(self, CallError::Api(_))
    }
    /// A write may have been carried out although this came back.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            CallError::Transport { .. } => true,
            CallError::Api(e) => e.class() == ErrorClass::Server,
            _ => false,
        }
    }

    pub fn into_connector_error(self, account: &str) -> ConnectorError {
        match self {
            CallError::Api(e) => e.to_connector_error(Some(account)),
            CallError::Transport { url, message } => ConnectorError::Transport { url, message },
            CallError::Decode { message } => ConnectorError::Api {
                platform: "mailchimp",
                code: "decode".into(),
                message,
                hint: None,
            },
            CallError::Blocked(t) => ConnectorError::Wait(t),
        }
    }

    pub fn to_op_error(&self, account: &str) -> OpError {
        match self {
            CallError::Api(e) => e.to_op_error(Some(account)),
            other => {
                let ce = other.clone().into_connector_error(account);
                OpError {
                    code: match other {
                        CallError::Transport { .. } => "transport".into(),
                        CallError::Decode { .. } => "decode".into(),
                        _ => "rate_limited".into(),
                    },
                    message: ce.to_string(),
                    field: None,
                    hint: ce.hint().map(str::to_string),
                }
            }
        }
    }
}

/// Which failures a request may be sent again after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Reads, updates, deletes, actions that fail harmlessly when repeated: 429, 5xx, lost answers.
    All,
    /// Creates (no idempotency key): only 429, refused before it ran.
    RefusedOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
    fn http(self) -> reqwest::Method {
        match self {
            Verb::Get => reqwest::Method::GET,
            Verb::Post => reqwest::Method::POST,
            Verb::Put => reqwest::Method::PUT,
            Verb::Patch => reqwest::Method::PATCH,
            Verb::Delete => reqwest::Method::DELETE,
        }
    }
}

/// The account's in-flight gate, shared by its connectors in this process.
pub struct Gate(pub Arc<tokio::sync::Semaphore>);

impl Default for Gate {
    fn default() -> Self {
        Gate(Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT)))
    }
}

pub struct McClient {
    http: reqwest::Client,
    pub cfg: McConfig,
    creds: MailchimpCredentials,
    pub account_name: String,
    /// The audience (list) id.
    pub list_id: String,
    gate: Arc<tokio::sync::Semaphore>,
    sent: AtomicU64,
}

impl McClient {
    pub fn new(
        cfg: McConfig,
        creds: MailchimpCredentials,
        account_name: &str,
        list_id: &str,
    ) -> Result<McClient, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("adsctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {}", e.without_url())))?;
        if creds.token.expose().trim().is_empty() {
            return Err(ConnectorError::Auth {
                message: format!("the Mailchimp credential of `{account_name}` is empty"),
                hint: super::errors::auth_hint(Some(account_name)),
            });
        }
        // one gate per account (user) and host: the limit counts a user's requests, whatever connector sends them
        let key = format!("{}|{}", cfg.base_url, creds.fingerprint());
        let gate = crate::platforms::shared::shared_cache::<Gate>(&key)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone();
        Ok(McClient {
            http,
            cfg,
            creds,
            account_name: account_name.to_string(),
            list_id: list_id.to_string(),
            gate,
            sent: AtomicU64::new(0),
        })
    }

    /// Requests sent so far (every attempt counts).
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Every secret and address removed from a text.
    pub fn redact(&self, text: &str) -> String {
        without_addresses(&crate::secret::scrub(&redact(text, &[&self.creds.token])))
    }

    /// `lists/{list_id}/<rest>` (or the list itself for an empty rest).
    pub fn list_path(&self, rest: &str) -> String {
        let base = format!("lists/{}", enc(&self.list_id));
        if rest.is_empty() {
            base
        } else {
            format!("{base}/{}", rest.trim_start_matches('/'))
        }
    }

    async fn attempt(
        &self,
        verb: Verb,
        path: &str,
        query: &[(String, String)],
        body: Option<&str>,
    ) -> Result<Answer, CallError> {
        let base = self.cfg.url(path);
        let full = if query.is_empty() {
            base.clone()
        } else {
            let q: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
            format!("{base}?{}", q.join("&"))
        };
        let url = reqwest::Url::parse(&full).map_err(|e| CallError::Decode {
            message: format!("the URL of {path} is not valid: {e}"),
        })?;
        let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.creds.token.expose()))
            .map_err(|_| CallError::Decode {
                message: "the credential holds characters a header cannot carry".into(),
            })?;
        auth.set_sensitive(true);
        let mut req = self
            .http
            .request(verb.http(), url)
            .header(reqwest::header::AUTHORIZATION, auth);
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        } else if matches!(verb, Verb::Post | Verb::Put | Verb::Patch) {
            req = req.header(reqwest::header::CONTENT_LENGTH, "0").body(Vec::<u8>::new());
        }
        let _permit = self.gate.acquire().await.map_err(|_| CallError::Decode {
            message: "the request gate closed".into(),
        })?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(method = verb.as_str(), path = %path, "mailchimp request");
        let transport = |e: reqwest::Error| CallError::Transport {
            url: base.clone(),
            message: self.redact(&e.without_url().to_string()),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        trace::record_response(status, resp.headers(), REQUEST_ID);
        let text = resp.text().await.map_err(transport)?;
        tracing::debug!(method = verb.as_str(), path = %path, status, "mailchimp response");
        if status >= 400 {
            return Err(CallError::Api(Box::new(ApiError::parse(status, &text, &|t| {
                self.redact(t)
            }))));
        }
        Ok(Answer { status, body: text })
    }

    /// One request with its retries.
    pub async fn call(
        &self,
        verb: Verb,
        path: &str,
        query: &[(String, String)],
        body: Option<&Json>,
        retry: Retry,
    ) -> Result<Answer, CallError> {
        let body = body.map(Json::to_string);
        let span = trace::request(
            "mailchimp",
            &self.account_name,
            verb.as_str(),
            trace::without_query(path),
        );
        async {
            let mut attempt: u32 = 0;
            let mut rate_limited: u32 = 0;
            let mut faults: u32 = 0;
            loop {
                attempt += 1;
                trace::record_attempt(attempt);
                let err = match self.attempt(verb, path, query, body.as_deref()).await {
                    Ok(a) => return Ok(a),
                    Err(e) => e,
                };
                let backoff = |n: u32| {
                    self.cfg
                        .retry_min_delay
                        .saturating_mul(1 << n.saturating_sub(1).min(16))
                        .min(self.cfg.retry_max_delay)
                        .mul_f64(0.5 + fastrand::f64() * 0.5)
                };
                if err.api().is_some_and(|e| e.class() == ErrorClass::RateLimited) {
                    rate_limited += 1;
                    if rate_limited > self.cfg.max_rate_limit_retries {
                        return Err(err);
                    }
                    let d = backoff(rate_limited);
                    tracing::warn!(error = %err, "mailchimp: too many requests (HTTP 429)");
                    let reason = format!("Mailchimp rate limit (HTTP 429) on {}", trace::without_query(path));
                    wait::sleep(&self.list_id, &reason, d, wait::limit(None))
                        .await
                        .map_err(CallError::Blocked)?;
                    continue;
                }
                let retryable = retry == Retry::All && err.outcome_unknown();
                if !retryable || faults >= self.cfg.max_retries {
                    return Err(err);
                }
                faults += 1;
                let d = backoff(faults);
                tracing::warn!(error = %err, retry_in_ms = d.as_millis() as u64, "mailchimp: retrying");
                wait::begin("Mailchimp: before retrying a request", d, wait::limit(None))
                    .map_err(CallError::Blocked)?;
                tokio::time::sleep(d).await;
            }
        }
        .instrument(span)
        .await
    }

    pub async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Json, CallError> {
        self.call(Verb::Get, path, query, None, Retry::All).await?.json()
    }

    /// A write with a JSON body.
    pub async fn send(&self, verb: Verb, path: &str, body: &Json, retry: Retry) -> Result<Json, CallError> {
        self.call(verb, path, &[], Some(body), retry).await?.json()
    }

    /// A bodiless POST action (`actions/unschedule`).
    pub async fn action(&self, path: &str, body: Option<&Json>) -> Result<(), CallError> {
        self.call(Verb::Post, path, &[], body, Retry::All).await.map(|_| ())
    }

    /// DELETE; a 404 (already gone) is done.
    pub async fn delete(&self, path: &str) -> Result<(), CallError> {
        match self.call(Verb::Delete, path, &[], None, Retry::All).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_gone() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every element of an offset-paged collection (`key`: its array), `count=1000`, until `total_items` or a
    /// short page.
    pub async fn list_all(&self, path: &str, key: &str, query: &[(String, String)]) -> Result<Vec<Json>, CallError> {
        let mut out = Vec::new();
        let mut offset = 0usize;
        loop {
            let mut q = query.to_vec();
            q.push(("count".into(), PAGE_SIZE.to_string()));
            q.push(("offset".into(), offset.to_string()));
            let page = self.get(path, &q).await?;
            let items = page.get(key).and_then(Json::as_array).cloned().unwrap_or_default();
            let n = items.len();
            out.extend(items);
            offset += n;
            let total = page.get("total_items").and_then(Json::as_u64).map(|t| t as usize);
            if n < PAGE_SIZE || n == 0 || total.is_some_and(|t| offset >= t) {
                break;
            }
        }
        Ok(out)
    }
}

/// A query of pairs.
pub fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}
