//! The HTTP client of the API for Business: the `Access-Token` header, JSON bodies for writes and JSON-string
//! query values for reads, the envelope (success only when `code == 0`), retries of exactly what the pack calls
//! retryable, page/page_size paging, and a token bucket per endpoint. Nothing secret leaves this module in a
//! message: the token only ever rides in its header, and every text that came back is redacted.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use tracing::Instrument;

use super::auth::TikTokCredentials;
use super::config::TikTokConfig;
use super::errors::{ApiError, ErrorClass};
use crate::connectors::{trace, wait, ConnectorError, OpError};
use crate::secret::{redact, Secret};

/// Where TikTok puts its trace ids (WIRE-NOTES: X-TT-LOGID, x-tt-trace-id); the envelope's `request_id` is used
/// when neither is there.
pub const TIKTOK_REQUEST_ID: &[&str] = &["x-tt-logid", "x-tt-trace-id"];

/// A JSON object whose values are kept as written: money goes out as the exact decimal text of a JSON number
/// (`50`, `12.34`), never through an `f64`.
#[derive(Clone, Debug, Default)]
pub struct Body(Vec<(String, Box<RawValue>)>);

impl Body {
    pub fn new() -> Body {
        Body(Vec::new())
    }
    /// Any serialisable value.
    pub fn put<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> &mut Body {
        // Serialising strings, lists and plain values cannot fail.
        if let Ok(raw) = serde_json::value::to_raw_value(v) {
            self.set(key, raw);
        }
        self
    }
    /// A raw JSON text (a number written exactly).
    pub fn raw(&mut self, key: &str, json: String) -> Result<&mut Body, String> {
        let raw = RawValue::from_string(json).map_err(|e| format!("{key}: {e}"))?;
        self.set(key, raw);
        Ok(self)
    }
    fn set(&mut self, key: &str, raw: Box<RawValue>) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = raw,
            None => self.0.push((key.to_string(), raw)),
        }
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.get())
    }
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A GET query: every value that is an object or a list is ONE JSON-encoded string (`filtering`, `fields`,
/// `advertiser_ids`, `dimensions`, `metrics`), never repeated keys.
#[derive(Clone, Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn new() -> Query {
        Query(Vec::new())
    }
    /// A plain value (`advertiser_id`, `page`, `report_type`).
    pub fn plain(mut self, key: &str, v: impl ToString) -> Query {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_string(), v.to_string()));
        self
    }
    /// An object or list, as one JSON string.
    pub fn json<T: Serialize + ?Sized>(mut self, key: &str, v: &T) -> Query {
        self.0.retain(|(k, _)| k != key);
        self.0.push((
            key.to_string(),
            serde_json::to_string(v).unwrap_or_else(|_| "null".into()),
        ));
        self
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
    /// `a=1&b=%5B%221%22%5D`
    pub fn encode(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            s.append_pair(k, v);
        }
        s.finish()
    }
}

/// A failed call, already redacted.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    /// TikTok answered with a non-zero code.
    #[error(transparent)]
    Api(ApiError),
    /// An HTTP error: the request never reached the API logic (gateway, bad path).
    #[error("TikTok answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    /// No answer (connection reset, timeout): the request may or may not have run.
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },
    /// A success code with a body we cannot read.
    #[error("unexpected response from TikTok: {message}")]
    Decode { message: String },
    /// A wait (rate limit, backoff) longer than this run waits.
    #[error(transparent)]
    Blocked(wait::TooLong),
}

impl CallError {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            CallError::Api(e) => Some(e),
            _ => None,
        }
    }
    /// TikTok answered (an error code, an HTTP status), as opposed to no answer at all.
    pub fn answered(&self) -> bool {
        matches!(self, CallError::Api(_) | CallError::Http { .. })
    }
    /// A write may have been carried out although this error came back (no answer, a server error).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            CallError::Transport { .. } => true,
            CallError::Http { status, .. } => *status >= 500,
            CallError::Api(e) => e.class() == ErrorClass::Server,
            _ => false,
        }
    }

    pub fn into_connector_error(self, account: &str) -> ConnectorError {
        match self {
            CallError::Api(e) => e.to_connector_error(Some(account)),
            CallError::Http { status, body } => ConnectorError::Api {
                platform: "tiktok",
                code: format!("HTTP {status}"),
                message: body,
                hint: Some(if status >= 500 {
                    "a TikTok gateway error; retry later".into()
                } else {
                    "the request did not reach the API (wrong path or endpoint?): check ADSCTL_TIKTOK_ENDPOINT".into()
                }),
            },
            CallError::Transport { url, message } => ConnectorError::Transport { url, message },
            CallError::Decode { message } => ConnectorError::Api {
                platform: "tiktok",
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
                        CallError::Http { status, .. } => format!("HTTP {status}"),
                        CallError::Transport { .. } => "transport".into(),
                        CallError::Decode { .. } => "decode".into(),
                        CallError::Blocked(_) => "rate_limited".into(),
                        CallError::Api(_) => unreachable!(),
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
    /// Reads, updates, status changes, creates carrying a `request_id`: everything retryable, including a
    /// lost answer.
    All,
    /// Creates TikTok cannot deduplicate (ads, audiences): only what TikTok refused before running it (rate
    /// limits, write conflicts). A server error or a lost answer is returned: the caller looks the object up.
    RefusedOnly,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

/// `data` of a list endpoint: `{list: [...], page_info: {page, page_size, total_number, total_page}}`.
#[derive(Deserialize)]
pub struct ListData {
    #[serde(default)]
    pub list: Vec<Box<RawValue>>,
    #[serde(default)]
    pub page_info: Option<PageInfo>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct PageInfo {
    #[serde(default)]
    pub page: Option<u64>,
    #[serde(default)]
    pub page_size: Option<u64>,
    #[serde(default)]
    pub total_number: Option<u64>,
    #[serde(default)]
    pub total_page: Option<u64>,
}

type Limiter = governor::DefaultDirectRateLimiter;

/// Token buckets per developer app and endpoint, shared by every connector of this process (TikTok's limits are
/// per app and endpoint).
fn limiter(key: &str, per_second: u32) -> Arc<Limiter> {
    static BUCKETS: OnceLock<Mutex<HashMap<String, Arc<Limiter>>>> = OnceLock::new();
    let mut m = BUCKETS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let k = format!("{key}|{per_second}");
    m.entry(k)
        .or_insert_with(|| {
            let n = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
            Arc::new(governor::RateLimiter::direct(governor::Quota::per_second(n)))
        })
        .clone()
}

pub struct TikTokClient {
    http: reqwest::Client,
    pub cfg: TikTokConfig,
    creds: TikTokCredentials,
    /// The local account name (for hints and spans).
    pub account_name: String,
    /// The advertiser this client acts for.
    pub advertiser_id: String,
    /// Requests sent (every attempt), for tests and logs.
    sent: AtomicU64,
}

impl TikTokClient {
    pub fn new(
        cfg: TikTokConfig,
        creds: TikTokCredentials,
        account_name: &str,
        advertiser_id: &str,
    ) -> Result<TikTokClient, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("adsctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {}", e.without_url())))?;
        if creds.access_token.is_empty() {
            return Err(ConnectorError::Auth {
                message: format!("the TikTok access token of `{account_name}` is empty"),
                hint: super::errors::auth_hint(Some(account_name)),
            });
        }
        Ok(TikTokClient {
            http,
            cfg,
            creds,
            account_name: account_name.to_string(),
            advertiser_id: advertiser_id.to_string(),
            sent: AtomicU64::new(0),
        })
    }

    /// Requests sent so far (every attempt counts).
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Remove every secret from a text that may echo a request.
    pub fn redact(&self, text: &str) -> String {
        let mut secrets: Vec<&Secret> = vec![&self.creds.access_token];
        if let Some(s) = &self.creds.app_secret {
            secrets.push(s);
        }
        crate::secret::scrub(&redact(text, &secrets))
    }

    fn bucket_key(&self, path: &str) -> String {
        format!(
            "{}|{}|{path}",
            self.cfg.base_url,
            self.creds.app_id.as_deref().unwrap_or("app")
        )
    }

    async fn throttle(&self, path: &str) -> Result<(), CallError> {
        let per_second = if path == "ad/create/" {
            self.cfg.ad_create_per_second
        } else {
            self.cfg.requests_per_second
        };
        let l = limiter(&self.bucket_key(path), per_second);
        wait::bucket(
            &l,
            NonZeroU32::MIN,
            &format!("TikTok: {per_second} requests per second to {path}"),
            wait::limit(None),
        )
        .await
        .map_err(CallError::Blocked)
    }

    /// One attempt: throttle, send, read the envelope.
    async fn attempt(&self, method: &str, path: &str, send: &Send<'_>) -> Result<Box<RawValue>, CallError> {
        self.throttle(path).await?;
        let url = self.cfg.url(path);
        let req = match send {
            Send::Query(q) => {
                let enc = q.encode();
                let full = if enc.is_empty() {
                    url.clone()
                } else {
                    format!("{url}?{enc}")
                };
                self.http.get(full)
            }
            Send::Json(body) => self
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_json_string()),
            Send::Multipart { boundary, bytes } => self
                .http
                .post(&url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(bytes.clone()),
        }
        .header("Access-Token", self.creds.access_token.expose());
        self.sent.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(method, path = %path, "tiktok request");
        let resp = req.send().await.map_err(|e| CallError::Transport {
            url: url.clone(),
            message: self.redact(&e.without_url().to_string()),
        })?;
        let status = resp.status().as_u16();
        trace::record_response(status, resp.headers(), TIKTOK_REQUEST_ID);
        let header_id = trace::request_id(resp.headers(), TIKTOK_REQUEST_ID).is_some();
        let body = resp.text().await.map_err(|e| CallError::Transport {
            url: url.clone(),
            message: self.redact(&e.without_url().to_string()),
        })?;
        tracing::debug!(method, path = %path, status, "tiktok response");
        let env: Option<Envelope> = serde_json::from_str(&body).ok();
        let Some(env) = env.filter(|e| e.code.is_some()) else {
            if status >= 400 {
                let mut b = self.redact(&body);
                b.truncate(300);
                return Err(CallError::Http { status, body: b });
            }
            return Err(CallError::Decode {
                message: format!("{method} {path}: HTTP {status} without the envelope"),
            });
        };
        if let (Some(rid), false) = (&env.request_id, header_id) {
            tracing::Span::current().record("request_id", rid.as_str());
        }
        let code = env
            .code
            .as_ref()
            .and_then(|c| c.as_i64().or_else(|| c.as_str().and_then(|s| s.trim().parse().ok())))
            .ok_or_else(|| CallError::Decode {
                message: format!("{method} {path}: the envelope's code is not a number"),
            })?;
        if code != 0 {
            return Err(CallError::Api(ApiError {
                code,
                message: self.redact(env.message.as_deref().unwrap_or("")),
                request_id: env.request_id,
            }));
        }
        if status >= 400 {
            return Err(CallError::Http {
                status,
                body: "code 0 with an HTTP error status".into(),
            });
        }
        Ok(env
            .data
            .unwrap_or_else(|| RawValue::from_string("{}".into()).expect("valid JSON")))
    }

    /// One request with its retries: rate limits wait (visibly, bounded), server errors and conflicts back off;
    /// nothing else is sent again.
    async fn call(
        &self,
        method: &'static str,
        path: &str,
        send: Send<'_>,
        retry: Retry,
    ) -> Result<Box<RawValue>, CallError> {
        let span = trace::request("tiktok", &self.account_name, method, path);
        async {
            let mut attempt: u32 = 0;
            let mut rate_limited: u32 = 0;
            let mut faults: u32 = 0;
            loop {
                attempt += 1;
                trace::record_attempt(attempt);
                let err = match self.attempt(method, path, &send).await {
                    Ok(data) => return Ok(data),
                    Err(e) => e,
                };
                let rl = matches!(&err, CallError::Api(e) if e.class() == ErrorClass::RateLimited)
                    || matches!(&err, CallError::Http { status: 429, .. });
                if rl {
                    rate_limited += 1;
                    if rate_limited > self.cfg.max_rate_limit_retries {
                        return Err(err);
                    }
                    let wait = if rate_limited >= self.cfg.rate_limit_long_after {
                        self.cfg.rate_limit_long_wait
                    } else {
                        self.cfg
                            .rate_limit_wait
                            .saturating_mul(1 << (rate_limited - 1).min(6))
                            .min(self.cfg.rate_limit_long_wait)
                    };
                    tracing::warn!(error = %err, "tiktok: rate limited");
                    let reason = format!("TikTok rate limit on {path} ({err})");
                    wait::sleep(&self.advertiser_id, &reason, wait, wait::limit(None))
                        .await
                        .map_err(CallError::Blocked)?;
                    continue;
                }
                let retryable = match &err {
                    CallError::Api(e) => match e.class() {
                        ErrorClass::Conflict => true,
                        ErrorClass::Server => retry == Retry::All,
                        _ => false,
                    },
                    CallError::Http { status, .. } => *status >= 500 && retry == Retry::All,
                    CallError::Transport { .. } => retry == Retry::All,
                    _ => false,
                };
                if !retryable || faults >= self.cfg.max_retries {
                    return Err(err);
                }
                faults += 1;
                let base = self.cfg.retry_min_delay.saturating_mul(1 << (faults - 1).min(16));
                let d = base.min(self.cfg.retry_max_delay);
                let d = d.mul_f64(0.5 + fastrand::f64() * 0.5);
                tracing::warn!(error = %err, retry_in_ms = d.as_millis() as u64, "tiktok: retrying");
                wait::begin("TikTok: before retrying a request", d, wait::limit(None)).map_err(CallError::Blocked)?;
                tokio::time::sleep(d).await;
            }
        }
        .instrument(span)
        .await
    }

    /// `GET path?advertiser_id=…&…` → `data`.
    pub async fn get(&self, path: &str, query: Query) -> Result<Box<RawValue>, CallError> {
        self.call("GET", path, Send::Query(&query), Retry::All).await
    }

    /// `POST path` with a JSON body → `data`.
    pub async fn post(&self, path: &str, body: &Body, retry: Retry) -> Result<Box<RawValue>, CallError> {
        self.call("POST", path, Send::Json(body), retry).await
    }

    /// `POST path` as `multipart/form-data`: text fields and one file.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &[u8]),
        retry: Retry,
    ) -> Result<Box<RawValue>, CallError> {
        let boundary = format!("adsctl-{:016x}", fastrand::u64(..));
        let bytes = multipart(&boundary, fields, file);
        self.call(
            "POST",
            path,
            Send::Multipart {
                boundary: &boundary,
                bytes,
            },
            retry,
        )
        .await
    }

    /// Every row of a list endpoint: `page` from 1 at `page_size`, until `page_info.total_page`. An endpoint
    /// that refuses the page size (40002 on `page_size`: the pack's only figure for `ad/get/` is the Smart+
    /// sibling's 100, where the ad group's is 1,000) is asked again at the maximum its message names (else 100),
    /// remembered for the process.
    pub async fn get_all(&self, path: &str, query: Query, page_size: u32) -> Result<Vec<Box<RawValue>>, CallError> {
        let key = format!("{}|{path}", self.cfg.base_url);
        let mut page_size = page_size.min(page_cap(&key).unwrap_or(u32::MAX)).max(1);
        let mut out = Vec::new();
        let mut page: u64 = 1;
        loop {
            let q = query.clone().plain("page", page).plain("page_size", page_size);
            let data = match self.get(path, q).await {
                Ok(d) => d,
                Err(CallError::Api(e)) if e.code == 40002 && e.message.starts_with("page_size") && page_size > 1 => {
                    let cap = named_maximum(&e.message)
                        .filter(|m| *m < page_size)
                        .unwrap_or(100.min(page_size - 1));
                    tracing::info!(path = %path, page_size = cap, "tiktok: page size refused, asking again at the named maximum");
                    set_page_cap(&key, cap);
                    page_size = cap;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let d: ListData = serde_json::from_str(data.get()).map_err(|e| CallError::Decode {
                message: format!("GET {path}: not a list page: {e}"),
            })?;
            let n = d.list.len();
            out.extend(d.list);
            let total_page = d.page_info.and_then(|p| p.total_page).unwrap_or(page);
            if page >= total_page || n == 0 {
                break;
            }
            page += 1;
        }
        Ok(out)
    }
}

fn page_caps() -> &'static Mutex<HashMap<String, u32>> {
    static CAPS: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();
    CAPS.get_or_init(Default::default)
}

fn page_cap(key: &str) -> Option<u32> {
    page_caps()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(key)
        .copied()
}

fn set_page_cap(key: &str, cap: u32) {
    page_caps()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key.to_string(), cap);
}

/// The maximum a message names: "… less than or equal to 100."
fn named_maximum(message: &str) -> Option<u32> {
    let rest = &message[message.find("less than or equal to")? + "less than or equal to".len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|n| *n > 0)
}

enum Send<'a> {
    Query(&'a Query),
    Json(&'a Body),
    Multipart { boundary: &'a str, bytes: Vec<u8> },
}

/// A `multipart/form-data` body (RFC 7578): text parts, then the file.
pub fn multipart(boundary: &str, fields: &[(&str, &str)], file: (&str, &str, &[u8])) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    let (name, filename, bytes) = file;
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(bytes);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::tiktok::auth::TikTokCredentials;

    #[test]
    fn query_objects_are_one_json_string() {
        let q = Query::new()
            .plain("advertiser_id", "7000000000000000001")
            .json(
                "filtering",
                &serde_json::json!({"campaign_ids": ["1", "2"], "primary_status": "STATUS_ALL"}),
            )
            .json("fields", &["campaign_id", "budget"]);
        assert_eq!(
            q.get("filtering"),
            Some(r#"{"campaign_ids":["1","2"],"primary_status":"STATUS_ALL"}"#)
        );
        let enc = q.encode();
        assert!(enc.contains("fields=%5B%22campaign_id%22%2C%22budget%22%5D"), "{enc}");
        // one key each, never repeated
        assert_eq!(enc.matches("fields=").count(), 1);
        let back: Vec<(String, String)> = form_urlencoded::parse(enc.as_bytes()).into_owned().collect();
        assert_eq!(back[2].1, r#"["campaign_id","budget"]"#);
    }

    #[test]
    fn bodies_keep_money_text_exact() {
        let mut b = Body::new();
        b.put("advertiser_id", "7000000000000000001");
        b.raw("budget", "1234567890123.45".into()).unwrap();
        b.put("special_industries", &Vec::<String>::new());
        assert_eq!(
            b.to_json_string(),
            r#"{"advertiser_id":"7000000000000000001","budget":1234567890123.45,"special_industries":[]}"#
        );
        assert!(b.raw("x", "not json".into()).is_err());
    }

    /// A TikTok front end on loopback that answers the `n`-th request with `answers[n]` (the last one
    /// repeated), and records each request's method, path, query, `Access-Token` and `Authorization` headers.
    async fn stub(answers: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let log = log.clone();
            let answers = answers.clone();
            async move {
                let h = |n: &str| {
                    req.headers()
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_string()
                };
                let line = format!(
                    "{} {} {} token={} auth={}",
                    req.method(),
                    req.uri().path(),
                    req.uri().query().unwrap_or(""),
                    h("access-token"),
                    h("authorization")
                );
                let n = {
                    let mut l = log.lock().unwrap();
                    l.push(line);
                    l.len() - 1
                };
                let (status, body) = answers[n.min(answers.len() - 1)];
                (axum::http::StatusCode::from_u16(status).unwrap(), body.to_string())
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    fn client(url: &str) -> TikTokClient {
        let cfg = TikTokConfig {
            retry_min_delay: Duration::from_millis(1),
            retry_max_delay: Duration::from_millis(2),
            rate_limit_wait: Duration::from_millis(1),
            rate_limit_long_wait: Duration::from_millis(2),
            requests_per_second: 1_000_000,
            ..TikTokConfig::for_endpoint(url).unwrap()
        };
        TikTokClient::new(cfg, TikTokCredentials::token("stub-token-0123456789"), "tt", "7").unwrap()
    }

    const OK: &str = r#"{"code":0,"message":"OK","request_id":"r","data":{"campaign_id":"1"}}"#;

    #[tokio::test]
    async fn only_retryable_codes_are_sent_again() {
        let answers = |first: &'static str| vec![(200, first), (200, OK)];
        for code in [40100, 40016, 40133, 40202, 50000, 50002, 51305, 60001] {
            let body: &'static str =
                Box::leak(format!(r#"{{"code":{code},"message":"x","request_id":"r","data":{{}}}}"#).into_boxed_str());
            let (url, seen) = stub(answers(body)).await;
            let c = client(&url);
            assert!(
                c.post("campaign/create/", &Body::new(), Retry::All).await.is_ok(),
                "{code}"
            );
            assert_eq!(seen.lock().unwrap().len(), 2, "{code} is retried");
        }
        for code in [40000, 40001, 40002, 40007, 40011, 40050, 40105, 51021] {
            let body: &'static str =
                Box::leak(format!(r#"{{"code":{code},"message":"x","request_id":"r","data":{{}}}}"#).into_boxed_str());
            let (url, seen) = stub(answers(body)).await;
            let c = client(&url);
            let e = c.post("campaign/create/", &Body::new(), Retry::All).await.unwrap_err();
            assert_eq!(e.api().map(|a| a.code), Some(code));
            assert_eq!(seen.lock().unwrap().len(), 1, "{code} is final");
        }
        // a server error (HTTP 5xx, or code 50000) may have run: not sent again for a create TikTok cannot
        // deduplicate; a rate limit was refused before running: sent again
        let (url, seen) = stub(vec![(502, "bad gateway"), (200, OK)]).await;
        let e = client(&url)
            .post("ad/create/", &Body::new(), Retry::RefusedOnly)
            .await
            .unwrap_err();
        assert!(e.outcome_unknown() && e.answered(), "{e:?}");
        assert_eq!(seen.lock().unwrap().len(), 1);
        let (url, seen) = stub(vec![(502, "bad gateway"), (200, OK)]).await;
        assert!(client(&url).get("campaign/get/", Query::new()).await.is_ok());
        assert_eq!(seen.lock().unwrap().len(), 2, "HTTP 5xx is retried for reads");
        let (url, seen) = stub(vec![(200, r#"{"code":40100,"message":"x","data":{}}"#), (200, OK)]).await;
        assert!(client(&url)
            .post("ad/create/", &Body::new(), Retry::RefusedOnly)
            .await
            .is_ok());
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn requests_carry_the_access_token_header_and_json_query_values() {
        let (url, seen) = stub(vec![(
            200,
            r#"{"code":0,"message":"OK","data":{"list":[],"page_info":{"total_page":1}}}"#,
        )])
        .await;
        let c = client(&url);
        let q = Query::new()
            .plain("advertiser_id", "7")
            .json("filtering", &serde_json::json!({"campaign_ids": ["1"]}));
        c.get_all("campaign/get/", q, 1000).await.unwrap();
        let line = seen.lock().unwrap()[0].clone();
        assert!(line.starts_with("GET /open_api/v1.3/campaign/get/ "), "{line}");
        assert!(
            line.contains("filtering=%7B%22campaign_ids%22%3A%5B%221%22%5D%7D"),
            "{line}"
        );
        assert!(line.contains("page=1&page_size=1000"), "{line}");
        assert!(
            line.contains("token=stub-token-0123456789 auth=-"),
            "never Bearer: {line}"
        );
        // an error's text never carries the token, even when the server echoes it
        let (url, _) = stub(vec![(
            200,
            r#"{"code":40105,"message":"token stub-token-0123456789 is invalid","data":{}}"#,
        )])
        .await;
        let e = client(&url).get("campaign/get/", Query::new()).await.unwrap_err();
        assert!(!format!("{e} {e:?}").contains("stub-token-0123456789"), "{e:?}");
        let ce = e.into_connector_error("tt");
        assert!(matches!(ce, ConnectorError::Auth { .. }));
    }

    #[test]
    fn page_size_maxima_are_read_from_the_message() {
        assert_eq!(
            named_maximum("page_size: Must be greater than or equal to 1 and less than or equal to 100."),
            Some(100)
        );
        assert_eq!(named_maximum("page_size: bad"), None);
    }

    #[test]
    fn multipart_bodies_are_well_formed() {
        let body = multipart("B", &[("advertiser_id", "1")], ("file", "members.txt", b"ab\ncd\n"));
        let s = String::from_utf8(body).unwrap();
        assert!(s.starts_with("--B\r\nContent-Disposition: form-data; name=\"advertiser_id\"\r\n\r\n1\r\n"));
        assert!(s.contains("filename=\"members.txt\""));
        assert!(s.ends_with("ab\ncd\n\r\n--B--\r\n"));
    }
}
