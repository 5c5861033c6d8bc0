//! The HTTP client of the versioned REST API (Rest.li 2.0): the headers every call carries, the hand-written
//! Rest.li URL encoder, query tunnelling, the answers of each method (CREATE → 201 with the id only in
//! `x-restli-id`; PARTIAL_UPDATE → 204; BATCH_CREATE → elements by index; BATCH_PARTIAL_UPDATE → results / errors
//! maps), both error envelopes, retries of exactly 429 / 500 / 503 / 504, and the two paging schemes. Nothing
//! secret leaves this module in a message: the token only rides in its header and every text that came back is
//! scrubbed.
//!
//! URLs are built here, whole, and handed to reqwest as a parsed [`reqwest::Url`] whose text is checked to be
//! the one built (reqwest must never re-encode `( ) , :`: Airbyte's pitfall).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use tracing::Instrument;

use super::auth::LinkedInCredentials;
use super::config::{LinkedInConfig, API_VERSION, MAX_URL_LEN, RESTLI_PROTOCOL_VERSION};
use super::errors::{ApiError, ErrorClass};
use crate::connectors::{trace, wait, ConnectorError, OpError};
use crate::secret::{redact, Secret};

/// Where LinkedIn puts its request ids (quote them to support).
pub const LINKEDIN_REQUEST_ID: &[&str] = &["x-li-request-id", "x-li-uuid"];

// ------------------------------------------------------------------------------------------------ Rest.li 2.0

/// A primitive inside a Rest.li 2.0 URL: every byte but the unreserved `A–Z a–z 0–9 - . _ ~` percent-encoded
/// (upper-case hex), so the structural `( ) , :` and `'` inside a value never read as structure. The empty string
/// is `''`.
pub fn encode_primitive(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
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

/// A path key (a creative's URN, an id): encoded as a primitive (`urn%3Ali%3AsponsoredCreative%3A1`).
pub fn path_key(s: &str) -> String {
    encode_primitive(s)
}

/// Percent-decoding (the `x-restli-id` header is "reduced-encoded"; a creative's is its URN).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Rest.li 2.0 value of a URL: a primitive, `List(a,b)` or `(k:v,k2:v2)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rv {
    Prim(String),
    List(Vec<Rv>),
    Obj(Vec<(String, Rv)>),
}

impl Rv {
    pub fn prim(s: impl Into<String>) -> Rv {
        Rv::Prim(s.into())
    }
    /// A list of primitives.
    pub fn list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Rv {
        Rv::List(items.into_iter().map(|s| Rv::Prim(s.as_ref().to_string())).collect())
    }
    pub fn obj<K: Into<String>>(entries: impl IntoIterator<Item = (K, Rv)>) -> Rv {
        Rv::Obj(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
    /// The encoded text.
    pub fn encode(&self) -> String {
        match self {
            Rv::Prim(s) => encode_primitive(s),
            Rv::List(items) => format!("List({})", items.iter().map(Rv::encode).collect::<Vec<_>>().join(",")),
            Rv::Obj(entries) => format!(
                "({})",
                entries
                    .iter()
                    .map(|(k, v)| format!("{}:{}", encode_primitive(k), v.encode()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

/// A query string, each value encoded as it is added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn new() -> Query {
        Query(Vec::new())
    }
    /// `q=search` and other finder names, `start`, `count`: a primitive.
    pub fn prim(self, key: &str, v: impl AsRef<str>) -> Query {
        self.set(key, encode_primitive(v.as_ref()))
    }
    /// A Rest.li value (`search=(…)`, `ids=List(…)`, `dateRange=(…)`).
    pub fn rv(self, key: &str, v: &Rv) -> Query {
        self.set(key, v.encode())
    }
    /// `fields=a,b,c`: a projection is NOT Rest.li-encoded (a plain comma list).
    pub fn fields(self, names: &[&str]) -> Query {
        self.set("fields", names.join(","))
    }
    fn set(mut self, key: &str, encoded: String) -> Query {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_string(), encoded));
        self
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `k=v&k2=v2`, exactly as it goes on the wire.
    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `(start:(year:Y,month:M,day:D),end:(…))` of adAnalytics.
pub fn date_range(since: chrono::NaiveDate, until: chrono::NaiveDate) -> Rv {
    use chrono::Datelike;
    let day = |d: chrono::NaiveDate| {
        Rv::obj([
            ("year", Rv::prim(d.year().to_string())),
            ("month", Rv::prim(d.month().to_string())),
            ("day", Rv::prim(d.day().to_string())),
        ])
    };
    Rv::obj([("start", day(since)), ("end", day(until))])
}

// ------------------------------------------------------------------------------------------------ requests

/// The `X-RestLi-Method` of a call (sent on every call, as the official client does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Finder,
    BatchGet,
    Create,
    BatchCreate,
    PartialUpdate,
    BatchPartialUpdate,
    Delete,
}

impl Method {
    pub fn header(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Finder => "FINDER",
            Method::BatchGet => "BATCH_GET",
            Method::Create => "CREATE",
            Method::BatchCreate => "BATCH_CREATE",
            Method::PartialUpdate => "PARTIAL_UPDATE",
            Method::BatchPartialUpdate => "BATCH_PARTIAL_UPDATE",
            Method::Delete => "DELETE",
        }
    }
    pub fn http(self) -> reqwest::Method {
        match self {
            Method::Get | Method::Finder | Method::BatchGet => reqwest::Method::GET,
            Method::Delete => reqwest::Method::DELETE,
            _ => reqwest::Method::POST,
        }
    }
}

/// A successful answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    /// `x-restli-id`, percent-decoded (a create's new key; a creative's URN).
    pub id: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn json<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Result<T, CallError> {
        serde_json::from_str(if self.body.trim().is_empty() { "{}" } else { &self.body }).map_err(|e| {
            CallError::Decode {
                message: format!("unexpected answer to {what}: {e}"),
            }
        })
    }
}

/// A failed call, already scrubbed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    /// LinkedIn answered with an error status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// No answer (connection reset, timeout): the request may or may not have run.
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },
    /// A success with a body we cannot read.
    #[error("unexpected response from LinkedIn: {message}")]
    Decode { message: String },
    /// A wait (rate limit, backoff) longer than this run waits.
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
    /// LinkedIn answered (an error status), as opposed to no answer at all.
    pub fn answered(&self) -> bool {
        matches!(self, CallError::Api(_))
    }
    /// A write may have been carried out although this error came back (no answer, a server error).
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
                platform: "linkedin",
                code: "decode".into(),
                message,
                hint: None,
            },
            CallError::Blocked(t) => ConnectorError::Wait(t),
        }
    }

    /// This error as the outcome of one operation.
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
    /// Reads, updates, deletes: 429, 500 / 503 / 504 and lost answers.
    All,
    /// Creates (LinkedIn has no idempotency key): only 429, which was refused before it ran. A server error or a
    /// lost answer is returned: the caller looks the object up by its marked name before sending it again.
    RefusedOnly,
}

/// One element of a BATCH_CREATE answer, in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchItem {
    Created(String),
    Failed(ApiError),
}

/// `{"elements":[{"status":201,"id":"…"},{"status":400,"error":{…}}]}` → one item per element sent.
pub fn batch_create_items(body: &str, sent: usize) -> Result<Vec<BatchItem>, CallError> {
    #[derive(Deserialize)]
    struct El {
        #[serde(default)]
        status: Option<u16>,
        #[serde(default)]
        id: Option<serde_json::Value>,
        #[serde(default)]
        error: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Resp {
        #[serde(default)]
        elements: Vec<El>,
    }
    let r: Resp = serde_json::from_str(body).map_err(|e| CallError::Decode {
        message: format!("BATCH_CREATE answer: {e}"),
    })?;
    if r.elements.len() != sent {
        return Err(CallError::Decode {
            message: format!("BATCH_CREATE answered {} elements for {sent} sent", r.elements.len()),
        });
    }
    Ok(r.elements
        .into_iter()
        .map(|el| {
            let status = el.status.unwrap_or(if el.error.is_some() { 400 } else { 201 });
            let id = el.id.as_ref().and_then(id_text);
            match (status, id, el.error) {
                (200..=299, Some(id), None) => BatchItem::Created(id),
                (s, _, Some(err)) => BatchItem::Failed(ApiError::from_value(if s < 300 { 400 } else { s }, &err)),
                (s, None, None) => BatchItem::Failed(ApiError::parse(
                    if s < 300 { 500 } else { s },
                    r#"{"message":"the element has neither an id nor an error"}"#,
                )),
                (s, Some(_), None) => BatchItem::Failed(ApiError::parse(s, "{}")),
            }
        })
        .collect())
}

/// `{"results":{"1":{"status":204}},"errors":{"2":{…}}}` → the error of each key that failed (a key in neither
/// map is taken as done: LinkedIn lists successes in `results`, but an answer without it is not a failure).
pub fn batch_update_errors(body: &str) -> Result<BTreeMap<String, ApiError>, CallError> {
    #[derive(Deserialize)]
    struct Resp {
        #[serde(default)]
        results: BTreeMap<String, serde_json::Value>,
        #[serde(default)]
        errors: BTreeMap<String, serde_json::Value>,
    }
    let r: Resp =
        serde_json::from_str(if body.trim().is_empty() { "{}" } else { body }).map_err(|e| CallError::Decode {
            message: format!("BATCH_PARTIAL_UPDATE answer: {e}"),
        })?;
    let mut out = BTreeMap::new();
    for (k, v) in r.errors {
        let status = v
            .get("status")
            .and_then(|s| s.as_u64())
            .and_then(|s| u16::try_from(s).ok());
        out.insert(percent_decode(&k), ApiError::from_value(status.unwrap_or(400), &v));
    }
    for (k, v) in r.results {
        let status = v.get("status").and_then(|s| s.as_u64()).unwrap_or(204);
        if status >= 300 {
            let s = u16::try_from(status).unwrap_or(500);
            out.entry(percent_decode(&k))
                .or_insert_with(|| ApiError::from_value(s, &v));
        }
    }
    Ok(out)
}

/// An id in JSON: a string, or a number's digits as written (never through a float).
pub fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

pub struct LinkedInClient {
    http: reqwest::Client,
    pub cfg: LinkedInConfig,
    creds: LinkedInCredentials,
    /// The local account name (for hints and spans).
    pub account_name: String,
    /// The ad account's numeric id.
    pub account_id: String,
    /// Requests sent (every attempt), for tests and logs.
    sent: AtomicU64,
}

enum Payload<'a> {
    None,
    Json(&'a str),
}

impl LinkedInClient {
    pub fn new(
        cfg: LinkedInConfig,
        creds: LinkedInCredentials,
        account_name: &str,
        account_id: &str,
    ) -> Result<LinkedInClient, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("adsctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {}", e.without_url())))?;
        if creds.access_token.is_empty() {
            return Err(ConnectorError::Auth {
                message: format!("the LinkedIn access token of `{account_name}` is empty"),
                hint: super::errors::auth_hint(Some(account_name)),
            });
        }
        Ok(LinkedInClient {
            http,
            cfg,
            creds,
            account_name: account_name.to_string(),
            account_id: account_id.to_string(),
            sent: AtomicU64::new(0),
        })
    }

    /// Requests sent so far (every attempt counts).
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// `urn:li:sponsoredAccount:<id>`.
    pub fn account_urn(&self) -> String {
        format!("urn:li:sponsoredAccount:{}", self.account_id)
    }

    /// Remove every secret from a text that may echo a request.
    pub fn redact(&self, text: &str) -> String {
        crate::secret::scrub(&redact(text, &self.creds.secrets_held()))
    }

    /// The full URL of `path` (already encoded) and `query`.
    pub fn url(&self, path: &str, query: &Query) -> String {
        let base = self.cfg.url(path);
        if query.is_empty() {
            base
        } else {
            format!("{base}?{}", query.encode())
        }
    }

    /// One attempt.
    async fn attempt(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        payload: &Payload<'_>,
    ) -> Result<Answer, CallError> {
        let full = self.url(path, query);
        let bad_url = |m: String| CallError::Decode {
            message: format!("the URL of {path} is not valid: {m}"),
        };
        let tunnel = full.len() > MAX_URL_LEN && method.http() == reqwest::Method::GET;
        let req = if tunnel {
            // Query tunnelling: the query as a form body, the method in a header.
            let url = reqwest::Url::parse(&self.cfg.url(path)).map_err(|e| bad_url(e.to_string()))?;
            self.http
                .post(url)
                .header("X-HTTP-Method-Override", "GET")
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(query.encode())
        } else {
            let url = wire_url(&full).map_err(bad_url)?;
            let r = self.http.request(method.http(), url);
            match payload {
                Payload::Json(body) => r
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string()),
                Payload::None if method.http() == reqwest::Method::POST => {
                    r.header(reqwest::header::CONTENT_LENGTH, "0").body(Vec::<u8>::new())
                }
                Payload::None => r,
            }
        };
        let mut bearer =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.creds.access_token.expose())).map_err(
                |_| CallError::Decode {
                    message: "the access token holds characters a header cannot carry: log in again".into(),
                },
            )?;
        // never printed by a Debug of the request
        bearer.set_sensitive(true);
        let req = req
            .header(reqwest::header::AUTHORIZATION, bearer)
            .header("LinkedIn-Version", API_VERSION)
            .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL_VERSION)
            .header("X-RestLi-Method", method.header());
        self.sent.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(method = method.header(), path = %path, tunnelled = tunnel, "linkedin request");
        let resp = req.send().await.map_err(|e| CallError::Transport {
            url: self.cfg.url(path),
            message: self.redact(&e.without_url().to_string()),
        })?;
        let status = resp.status().as_u16();
        trace::record_response(status, resp.headers(), LINKEDIN_REQUEST_ID);
        let request_id = trace::request_id(resp.headers(), LINKEDIN_REQUEST_ID).map(str::to_string);
        let id = resp
            .headers()
            .get("x-restli-id")
            .and_then(|v| v.to_str().ok())
            .map(|v| percent_decode(v.trim()))
            .filter(|v| !v.is_empty());
        let body = resp.text().await.map_err(|e| CallError::Transport {
            url: self.cfg.url(path),
            message: self.redact(&e.without_url().to_string()),
        })?;
        tracing::debug!(method = method.header(), path = %path, status, "linkedin response");
        if status >= 400 {
            let mut e = ApiError::parse(status, &body).scrubbed(&|t| self.redact(t));
            e.request_id = request_id;
            return Err(CallError::Api(Box::new(e)));
        }
        Ok(Answer { status, id, body })
    }

    /// One request with its retries: 429 backs off (said, bounded by `--max-wait`), 500 / 503 / 504 and lost
    /// answers back off when `retry` allows; nothing else is sent again.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        payload: Payload<'_>,
        retry: Retry,
    ) -> Result<Answer, CallError> {
        let span = trace::request("linkedin", &self.account_name, method.header(), path);
        async {
            let mut attempt: u32 = 0;
            let mut rate_limited: u32 = 0;
            let mut faults: u32 = 0;
            loop {
                attempt += 1;
                trace::record_attempt(attempt);
                let err = match self.attempt(method, path, query, &payload).await {
                    Ok(a) => return Ok(a),
                    Err(e) => e,
                };
                if err.api().is_some_and(|e| e.class() == ErrorClass::RateLimited) {
                    rate_limited += 1;
                    if rate_limited > self.cfg.max_rate_limit_retries {
                        return Err(err);
                    }
                    // No Retry-After and no rate-limit headers: exponential backoff, said and bounded.
                    let wait = self
                        .cfg
                        .rate_limit_wait
                        .saturating_mul(1 << (rate_limited - 1).min(16))
                        .min(self.cfg.rate_limit_max_wait);
                    tracing::warn!(error = %err, "linkedin: rate limited (HTTP 429)");
                    let reason = format!("LinkedIn rate limit (HTTP 429) on {}", trace::without_query(path));
                    wait::sleep(&self.account_id, &reason, wait, wait::limit(None))
                        .await
                        .map_err(CallError::Blocked)?;
                    continue;
                }
                let retryable = retry == Retry::All
                    && match &err {
                        CallError::Api(e) => e.class() == ErrorClass::Server,
                        CallError::Transport { .. } => true,
                        _ => false,
                    };
                if !retryable || faults >= self.cfg.max_retries {
                    return Err(err);
                }
                faults += 1;
                let base = self.cfg.retry_min_delay.saturating_mul(1 << (faults - 1).min(16));
                let d = base.min(self.cfg.retry_max_delay).mul_f64(0.5 + fastrand::f64() * 0.5);
                tracing::warn!(error = %err, retry_in_ms = d.as_millis() as u64, "linkedin: retrying");
                wait::begin("LinkedIn: before retrying a request", d, wait::limit(None)).map_err(CallError::Blocked)?;
                tokio::time::sleep(d).await;
            }
        }
        .instrument(span)
        .await
    }

    /// GET / FINDER / BATCH_GET.
    pub async fn get(&self, method: Method, path: &str, query: &Query) -> Result<Answer, CallError> {
        self.call(method, path, query, Payload::None, Retry::All).await
    }

    /// A write with a JSON body (`body` is already JSON text).
    pub async fn post(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: &serde_json::Value,
        retry: Retry,
    ) -> Result<Answer, CallError> {
        let text = body.to_string();
        self.call(method, path, query, Payload::Json(&text), retry).await
    }

    /// CREATE: 201 with an empty body; the new key is the `x-restli-id` header.
    pub async fn create(&self, path: &str, entity: &serde_json::Value) -> Result<String, CallError> {
        let a = self
            .post(Method::Create, path, &Query::new(), entity, Retry::RefusedOnly)
            .await?;
        a.id.ok_or_else(|| CallError::Decode {
            message: format!("CREATE {path} answered HTTP {} without x-restli-id", a.status),
        })
    }

    /// PARTIAL_UPDATE of `{"patch":{…}}` → 204.
    pub async fn partial_update(&self, path: &str, patch: &serde_json::Value) -> Result<(), CallError> {
        self.post(Method::PartialUpdate, path, &Query::new(), patch, Retry::All)
            .await
            .map(|_| ())
    }

    /// DELETE → 204.
    pub async fn delete(&self, path: &str) -> Result<(), CallError> {
        self.call(Method::Delete, path, &Query::new(), Payload::None, Retry::All)
            .await
            .map(|_| ())
    }

    /// Every element of a search finder: `pageSize` + `pageToken`, the next token in `metadata.nextPageToken`.
    pub async fn search_all(
        &self,
        path: &str,
        query: Query,
        page_size: u32,
    ) -> Result<Vec<serde_json::Value>, CallError> {
        #[derive(Deserialize)]
        struct PageMetadata {
            #[serde(default, rename = "nextPageToken")]
            next_page_token: Option<String>,
        }
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            elements: Vec<serde_json::Value>,
            #[serde(default)]
            metadata: Option<PageMetadata>,
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = query.clone().prim("pageSize", page_size.to_string());
            if let Some(t) = &token {
                q = q.prim("pageToken", t);
            }
            let a = self.get(Method::Finder, path, &q).await?;
            let page: Page = a.json(path)?;
            let n = page.elements.len();
            out.extend(page.elements);
            token = page.metadata.and_then(|m| m.next_page_token).filter(|t| !t.is_empty());
            if token.is_none() || n == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// Every element of a start/count finder (`paging{start,count,total}`).
    pub async fn start_count_all(
        &self,
        path: &str,
        query: Query,
        count: u32,
    ) -> Result<Vec<serde_json::Value>, CallError> {
        #[derive(Deserialize)]
        struct Paging {
            #[serde(default)]
            total: Option<u64>,
        }
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            elements: Vec<serde_json::Value>,
            #[serde(default)]
            paging: Option<Paging>,
        }
        let mut out = Vec::new();
        let mut start: u64 = 0;
        loop {
            let q = query
                .clone()
                .prim("start", start.to_string())
                .prim("count", count.to_string());
            let a = self.get(Method::Finder, path, &q).await?;
            let page: Page = a.json(path)?;
            let n = page.elements.len() as u64;
            out.extend(page.elements);
            start += n;
            let total = page.paging.and_then(|p| p.total);
            if n == 0 || n < u64::from(count) || total.is_some_and(|t| start >= t) {
                break;
            }
        }
        Ok(out)
    }
}

/// The URL reqwest is given: parsed, and refused unless its text is exactly the one built (so nothing was
/// re-encoded on the way).
pub fn wire_url(built: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(built).map_err(|e| e.to_string())?;
    if url.as_str() != built {
        return Err(format!("it would go out as `{}`", url.as_str()));
    }
    Ok(url)
}

/// Secrets the client holds, for redaction.
impl LinkedInCredentials {
    pub(crate) fn secrets_held(&self) -> Vec<&Secret> {
        let mut v = vec![&self.access_token];
        v.extend(self.refresh_token.as_ref());
        v.extend(self.client_secret.as_ref());
        v
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn primitives_are_percent_encoded_inside() {
        assert_eq!(encode_primitive("urn:li:app:123"), "urn%3Ali%3Aapp%3A123");
        assert_eq!(encode_primitive("a (b), c: 'd'"), "a%20%28b%29%2C%20c%3A%20%27d%27");
        assert_eq!(encode_primitive("ACTIVE"), "ACTIVE");
        assert_eq!(encode_primitive("é"), "%C3%A9");
        assert_eq!(encode_primitive(""), "''");
        assert_eq!(encode_primitive("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(
            percent_decode("urn%3Ali%3AsponsoredCreative%3A9"),
            "urn:li:sponsoredCreative:9"
        );
        assert_eq!(percent_decode("123"), "123");
        assert_eq!(percent_decode("50%"), "50%");
    }

    #[test]
    fn the_packs_example_encodes_exactly() {
        // linkedin-api-python-client's encoder test: (k2:urn%3Ali%3Aapp%3A123,k3:List(1,2))
        let v = Rv::obj([("k2", Rv::prim("urn:li:app:123")), ("k3", Rv::list(["1", "2"]))]);
        assert_eq!(v.encode(), "(k2:urn%3Ali%3Aapp%3A123,k3:List(1,2))");
        let search = Rv::obj([("status", Rv::obj([("values", Rv::list(["ACTIVE", "PAUSED", "DRAFT"]))]))]);
        assert_eq!(search.encode(), "(status:(values:List(ACTIVE,PAUSED,DRAFT)))");
        assert_eq!(Rv::List(vec![]).encode(), "List()");
    }

    #[test]
    fn analytics_query_is_exact_and_survives_url_parsing() {
        let since = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let until = chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let q = Query::new()
            .prim("q", "analytics")
            .prim("pivot", "CAMPAIGN")
            .prim("timeGranularity", "DAILY")
            .rv("dateRange", &date_range(since, until))
            .rv("campaigns", &Rv::list(["urn:li:sponsoredCampaign:123"]))
            .fields(&[
                "dateRange",
                "pivotValues",
                "impressions",
                "clicks",
                "costInLocalCurrency",
            ]);
        let s = q.encode();
        assert_eq!(
            s,
            "q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY\
             &dateRange=(start:(year:2026,month:1,day:1),end:(year:2026,month:1,day:31))\
             &campaigns=List(urn%3Ali%3AsponsoredCampaign%3A123)\
             &fields=dateRange,pivotValues,impressions,clicks,costInLocalCurrency"
        );
        // the exact string survives reqwest's URL parsing: nothing re-encoded
        let built = format!("https://api.linkedin.com/rest/adAnalytics?{s}");
        assert_eq!(wire_url(&built).unwrap().as_str(), built);
        // a creative's URN as a path key
        let built = format!(
            "https://api.linkedin.com/rest/adAccounts/1/creatives/{}",
            path_key("urn:li:sponsoredCreative:77")
        );
        assert!(built.ends_with("/creatives/urn%3Ali%3AsponsoredCreative%3A77"));
        assert_eq!(wire_url(&built).unwrap().as_str(), built);
        // an unencoded space would be changed by the parser: refused rather than sent differently
        assert!(wire_url("https://x/rest/a?b=c d").is_err());
    }

    #[test]
    fn batch_answers_are_read_by_index_and_key() {
        let items = batch_create_items(
            r#"{"elements":[{"status":201,"id":"11"},{"status":400,"error":{"status":400,"code":"MISSING_FIELD","message":"name"}},{"status":201,"id":12}]}"#,
            3,
        )
        .unwrap();
        assert_eq!(items[0], BatchItem::Created("11".into()));
        assert!(matches!(&items[1], BatchItem::Failed(e) if e.code.as_deref() == Some("MISSING_FIELD")));
        assert_eq!(items[2], BatchItem::Created("12".into()));
        assert!(batch_create_items(r#"{"elements":[]}"#, 1).is_err());
        let errs = batch_update_errors(
            r#"{"results":{"1":{"status":204},"3":{"status":400,"message":"bad"}},"errors":{"2":{"status":404,"message":"gone"}}}"#,
        )
        .unwrap();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs["2"].status, 404);
        assert_eq!(errs["3"].status, 400);
        assert!(batch_update_errors("").unwrap().is_empty());
    }

    /// A LinkedIn front end on loopback answering the n-th request with `answers[n]` (the last repeated):
    /// (status, x-restli-id, body). Records each request's method, raw path and query, the headers that matter,
    /// and the body.
    async fn stub(answers: Vec<(u16, Option<&'static str>, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let log = log.clone();
            let answers = answers.clone();
            async move {
                let line = {
                    let h = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_string()
                    };
                    let line = format!(
                        "{} {}?{} auth={} version={} proto={} method={} override={} len={} ctype={}",
                        req.method(),
                        req.uri().path(),
                        req.uri().query().unwrap_or(""),
                        h("authorization"),
                        h("linkedin-version"),
                        h("x-restli-protocol-version"),
                        h("x-restli-method"),
                        h("x-http-method-override"),
                        h("content-length"),
                        h("content-type"),
                    );
                    line
                };
                let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
                let n = {
                    let mut l = log.lock().unwrap();
                    l.push(format!("{line} body={}", String::from_utf8_lossy(&body)));
                    l.len() - 1
                };
                let (status, id, body) = answers[n.min(answers.len() - 1)];
                let mut resp = axum::response::Response::new(axum::body::Body::from(body));
                *resp.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
                if let Some(id) = id {
                    resp.headers_mut().insert("x-restli-id", id.parse().unwrap());
                }
                resp.headers_mut().insert("x-li-request-id", "REQ123".parse().unwrap());
                resp
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    pub(crate) fn test_client(url: &str) -> LinkedInClient {
        let cfg = LinkedInConfig {
            retry_min_delay: Duration::from_millis(1),
            retry_max_delay: Duration::from_millis(2),
            rate_limit_wait: Duration::from_millis(1),
            rate_limit_max_wait: Duration::from_millis(2),
            ..LinkedInConfig::for_endpoint(url).unwrap()
        };
        LinkedInClient::new(cfg, LinkedInCredentials::token("li-stub-token-0123456789"), "li", "501").unwrap()
    }

    #[tokio::test]
    async fn every_call_carries_the_headers_and_the_exact_url() {
        let (url, seen) = stub(vec![(200, None, r#"{"elements":[]}"#)]).await;
        let c = test_client(&url);
        let q = Query::new().prim("q", "search").rv(
            "search",
            &Rv::obj([("status", Rv::obj([("values", Rv::list(["ACTIVE", "DRAFT"]))]))]),
        );
        c.search_all("adAccounts/501/adCampaignGroups", q, 500).await.unwrap();
        let line = seen.lock().unwrap()[0].clone();
        assert!(
            line.starts_with(
                "GET /rest/adAccounts/501/adCampaignGroups?q=search&search=(status:(values:List(ACTIVE,DRAFT)))&pageSize=500 "
            ),
            "{line}"
        );
        assert!(line.contains("auth=Bearer li-stub-token-0123456789"), "{line}");
        assert!(line.contains("version=202608 proto=2.0.0 method=FINDER"), "{line}");
    }

    #[tokio::test]
    async fn creates_read_the_id_header_and_empty_posts_say_length_zero() {
        let (url, seen) = stub(vec![(201, Some("urn%3Ali%3AsponsoredCreative%3A42"), "")]).await;
        let c = test_client(&url);
        let id = c
            .create(
                "adAccounts/501/creatives",
                &serde_json::json!({"campaign": "urn:li:sponsoredCampaign:1"}),
            )
            .await
            .unwrap();
        assert_eq!(id, "urn:li:sponsoredCreative:42");
        let line = seen.lock().unwrap()[0].clone();
        assert!(
            line.contains("method=CREATE") && line.contains("ctype=application/json"),
            "{line}"
        );
        let (url, seen) = stub(vec![(201, None, "")]).await;
        let e = test_client(&url)
            .create("dmpSegments", &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, CallError::Decode { .. }));
        assert_eq!(seen.lock().unwrap().len(), 1);
        // an empty POST carries Content-Length: 0
        let (url, seen) = stub(vec![(200, None, "{}")]).await;
        test_client(&url)
            .call(Method::Create, "x", &Query::new(), Payload::None, Retry::All)
            .await
            .unwrap();
        assert!(seen.lock().unwrap()[0].contains("len=0"), "{:?}", seen.lock().unwrap());
    }

    #[tokio::test]
    async fn long_queries_are_tunnelled() {
        let (url, seen) = stub(vec![(200, None, r#"{"elements":[]}"#)]).await;
        let c = test_client(&url);
        let ids: Vec<String> = (0..400)
            .map(|i| format!("urn:li:sponsoredCampaign:{}", 1_000_000 + i))
            .collect();
        let q = Query::new().prim("q", "analytics").rv("campaigns", &Rv::list(&ids));
        assert!(c.url("adAnalytics", &q).len() > MAX_URL_LEN);
        c.get(Method::Finder, "adAnalytics", &q).await.unwrap();
        let line = seen.lock().unwrap()[0].clone();
        assert!(line.starts_with("POST /rest/adAnalytics? "), "{line}");
        assert!(line.contains("override=GET"), "{line}");
        assert!(line.contains("ctype=application/x-www-form-urlencoded"), "{line}");
        assert!(
            line.contains("body=q=analytics&campaigns=List(urn%3Ali%3AsponsoredCampaign%3A1000000,"),
            "{line}"
        );
    }

    #[tokio::test]
    async fn only_429_and_server_errors_are_sent_again() {
        for status in [429u16, 500, 503, 504] {
            let (url, seen) = stub(vec![(status, None, "{}"), (200, None, "{}")]).await;
            assert!(test_client(&url).get(Method::Get, "x", &Query::new()).await.is_ok());
            assert_eq!(seen.lock().unwrap().len(), 2, "{status} is retried");
        }
        for status in [400u16, 401, 403, 404, 409, 422, 426, 502] {
            let (url, seen) = stub(vec![
                (status, None, r#"{"status":0,"message":"no"}"#),
                (200, None, "{}"),
            ])
            .await;
            let e = test_client(&url)
                .get(Method::Get, "x", &Query::new())
                .await
                .unwrap_err();
            assert_eq!(e.api().map(|a| a.status), Some(status));
            assert_eq!(e.api().and_then(|a| a.request_id.as_deref()), Some("REQ123"));
            assert_eq!(seen.lock().unwrap().len(), 1, "{status} is final");
        }
        // a create is not sent again after a server error (it may have run); a 429 was refused: sent again
        let (url, seen) = stub(vec![(500, None, "{}"), (201, Some("9"), "")]).await;
        let e = test_client(&url)
            .create("dmpSegments", &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(e.outcome_unknown() && e.answered());
        assert_eq!(seen.lock().unwrap().len(), 1);
        let (url, seen) = stub(vec![(429, None, "{}"), (201, Some("9"), "")]).await;
        assert_eq!(
            test_client(&url)
                .create("dmpSegments", &serde_json::json!({}))
                .await
                .unwrap(),
            "9"
        );
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn errors_never_carry_the_token() {
        let (url, _) = stub(vec![(
            401,
            None,
            r#"{"status":401,"serviceErrorCode":65600,"message":"Invalid access token li-stub-token-0123456789"}"#,
        )])
        .await;
        let e = test_client(&url)
            .get(Method::Get, "adAccounts/501", &Query::new())
            .await
            .unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("li-stub-token-0123456789"), "{shown}");
        let ce = e.into_connector_error("li");
        assert!(matches!(ce, ConnectorError::Auth { .. }));
        assert!(!format!("{ce:?}").contains("li-stub-token-0123456789"));
    }

    #[tokio::test]
    async fn both_paging_schemes_follow_to_the_end() {
        let (url, seen) = stub(vec![
            (
                200,
                None,
                r#"{"elements":[{"id":1},{"id":2}],"metadata":{"nextPageToken":"t:2,x"}}"#,
            ),
            (200, None, r#"{"elements":[{"id":3}],"metadata":{}}"#),
        ])
        .await;
        let c = test_client(&url);
        let all = c
            .search_all("adAccounts/501/adCampaigns", Query::new().prim("q", "search"), 2)
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        let second = seen.lock().unwrap()[1].clone();
        assert!(second.contains("pageSize=2&pageToken=t%3A2%2Cx "), "{second}");
        let (url, seen) = stub(vec![
            (
                200,
                None,
                r#"{"elements":[{"id":1},{"id":2}],"paging":{"start":0,"count":2,"total":3}}"#,
            ),
            (
                200,
                None,
                r#"{"elements":[{"id":3}],"paging":{"start":2,"count":2,"total":3}}"#,
            ),
        ])
        .await;
        let all = test_client(&url)
            .start_count_all("dmpSegments", Query::new().prim("q", "account"), 2)
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        assert!(seen.lock().unwrap()[1].contains("start=2&count=2"));
    }
}
