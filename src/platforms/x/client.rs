//! The HTTP client of the Ads API v12: OAuth 1.0a (HMAC-SHA1) on every request, parameters in the query string
//! (single-entity POST/PUT too; only batches and audience uploads carry a JSON body, which is not signed), the
//! error envelope, retries (429 until the reset header, 500/503 with backoff — 503 after its `retry-after` —,
//! 408/423 as transient, nothing else) and cursor paging. Nothing secret leaves this module: the consumer secret,
//! token, token secret, nonce and signature ride only in the Authorization header (marked sensitive), and every
//! text that came back is scrubbed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;
use tracing::Instrument;

use super::auth::XCredentials;
use super::config::XConfig;
use super::errors::{ApiError, ErrorClass};
use crate::connectors::{trace, wait, ConnectorError, OpError};
use crate::secret::redact;

/// Where X puts its request id (quote it to support).
pub const X_REQUEST_ID: &[&str] = &["x-transaction-id", "x-request-id"];

// ------------------------------------------------------------------------------------------------ OAuth 1.0a

/// RFC 3986 percent-encoding: `A–Z a–z 0–9 - . _ ~` stay, every other byte of the UTF-8 text becomes `%XX`
/// (upper-case hex); space is `%20`, never `+`.
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

/// The signature base string: `METHOD&enc(base URL)&enc(parameter string)`, the parameter string being every
/// pair encoded, sorted by encoded key then value, joined `k=v` with `&`. `params` are decoded (query + form
/// body + `oauth_*` without `oauth_signature`).
pub fn base_string(method: &str, base_url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    pairs.sort();
    let ps = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!("{}&{}&{}", method.to_ascii_uppercase(), enc(base_url), enc(&ps))
}

/// `base64(HMAC-SHA1(enc(consumer_secret)&enc(token_secret), base))`.
pub fn signature(base: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!("{}&{}", enc(consumer_secret), enc(token_secret));
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `oauth_*` parameters of one request (without the signature).
pub fn oauth_params(consumer_key: &str, token: &str, nonce: &str, timestamp: i64) -> Vec<(String, String)> {
    vec![
        ("oauth_consumer_key".into(), consumer_key.into()),
        ("oauth_nonce".into(), nonce.into()),
        ("oauth_signature_method".into(), "HMAC-SHA1".into()),
        ("oauth_timestamp".into(), timestamp.to_string()),
        ("oauth_token".into(), token.into()),
        ("oauth_version".into(), "1.0".into()),
    ]
}

/// The `Authorization` header of a request: `OAuth k="v", …` with every key and value percent-encoded.
pub fn authorization(
    method: &str,
    base_url: &str,
    query: &[(String, String)],
    creds: &XCredentials,
    nonce: &str,
    timestamp: i64,
) -> String {
    let oauth = oauth_params(
        creds.consumer_key.expose(),
        creds.access_token.expose(),
        nonce,
        timestamp,
    );
    let mut all = query.to_vec();
    all.extend(oauth.iter().cloned());
    let sig = signature(
        &base_string(method, base_url, &all),
        creds.consumer_secret.expose(),
        creds.token_secret.expose(),
    );
    let mut parts: Vec<String> = oauth
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v)))
        .collect();
    parts.push(format!("oauth_signature=\"{}\"", enc(&sig)));
    parts.sort();
    format!("OAuth {}", parts.join(", "))
}

/// A fresh nonce: 32 random alphanumerics.
pub fn nonce() -> String {
    (0..32).map(|_| fastrand::alphanumeric()).collect()
}

/// The pairs of an `Authorization: OAuth …` header, decoded (the stub tests verify requests with it).
pub fn parse_authorization(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header.strip_prefix("OAuth ")?;
    rest.split(',')
        .map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            let v = v.strip_prefix('"')?.strip_suffix('"')?;
            Some((percent_decode(k), percent_decode(v)))
        })
        .collect()
}

/// Percent-decoding; `+` is a space (form decoding, as X reads a query string).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ------------------------------------------------------------------------------------------------ requests

/// A query string: decoded pairs, in the order added (encoded with [`enc`] on the wire and signed decoded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn new() -> Query {
        Query(Vec::new())
    }
    pub fn set(mut self, key: &str, v: impl Into<String>) -> Query {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_string(), v.into()));
        self
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `k=v&…`, every key and value RFC 3986-encoded.
    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// A successful answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
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
    /// The envelope's `data`.
    pub fn data(&self, what: &str) -> Result<serde_json::Value, CallError> {
        let v: serde_json::Value = self.json(what)?;
        Ok(v.get("data").cloned().unwrap_or(serde_json::Value::Null))
    }
}

/// A failed call, already scrubbed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    /// X answered with an error status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// No answer (connection reset, timeout): the request may or may not have run.
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },
    /// A success with a body we cannot read.
    #[error("unexpected response from X: {message}")]
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
    /// X answered (an error status), as opposed to no answer at all.
    pub fn answered(&self) -> bool {
        matches!(self, CallError::Api(_))
    }
    /// A 404 (or a `*_NOT_FOUND`): what a delete of something already deleted answers.
    pub fn is_gone(&self) -> bool {
        self.api().is_some_and(ApiError::is_gone)
    }
    /// A write may have been carried out although this error came back (no answer, a server error).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            CallError::Transport { .. } => true,
            CallError::Api(e) => matches!(e.class(), ErrorClass::Server | ErrorClass::Transient),
            _ => false,
        }
    }

    pub fn into_connector_error(self, account: &str) -> ConnectorError {
        match self {
            CallError::Api(e) => e.to_connector_error(Some(account)),
            CallError::Transport { url, message } => ConnectorError::Transport { url, message },
            CallError::Decode { message } => ConnectorError::Api {
                platform: "x",
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
    /// Reads, updates, deletes: 429, 500 / 503, 408 / 423 and lost answers.
    All,
    /// Creates (X has no idempotency key): only 429, refused before it ran. Anything else is returned: the
    /// caller lists what the lost request may have made before sending it again.
    RefusedOnly,
}

/// An id in JSON: a string, or a number's digits as written (never through a float).
pub fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// The HTTP method of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
        }
    }
    fn http(self) -> reqwest::Method {
        match self {
            Verb::Get => reqwest::Method::GET,
            Verb::Post => reqwest::Method::POST,
            Verb::Put => reqwest::Method::PUT,
            Verb::Delete => reqwest::Method::DELETE,
        }
    }
}

/// A failed attempt and how long X asked to wait before the next one.
struct Failed {
    err: CallError,
    wait: Option<Duration>,
}

pub struct XClient {
    http: reqwest::Client,
    pub cfg: XConfig,
    creds: XCredentials,
    /// The local account name (for hints and spans).
    pub account_name: String,
    /// The ad account's base-36 id.
    pub account_id: String,
    sent: AtomicU64,
}

impl XClient {
    pub fn new(
        cfg: XConfig,
        creds: XCredentials,
        account_name: &str,
        account_id: &str,
    ) -> Result<XClient, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("adsctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {}", e.without_url())))?;
        if let Some(missing) = creds.missing() {
            return Err(ConnectorError::Auth {
                message: format!("the X {missing} of `{account_name}` is empty"),
                hint: super::errors::auth_hint(Some(account_name)),
            });
        }
        Ok(XClient {
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

    /// Remove every secret from a text that may echo a request.
    pub fn redact(&self, text: &str) -> String {
        crate::secret::scrub(&redact(text, &self.creds.secrets_held()))
    }

    /// `accounts/{a}/<rest>`.
    pub fn account_path(&self, rest: &str) -> String {
        format!("{}/{}", self.account_root(), rest.trim_start_matches('/'))
    }

    /// `accounts/{a}`.
    pub fn account_root(&self) -> String {
        format!("accounts/{}", enc(&self.account_id))
    }

    /// One attempt.
    async fn attempt(&self, verb: Verb, path: &str, query: &Query, body: Option<&str>) -> Result<Answer, Failed> {
        let base = self.cfg.url(path);
        let full = if query.is_empty() {
            base.clone()
        } else {
            format!("{base}?{}", query.encode())
        };
        let decode = |message: String| Failed {
            err: CallError::Decode { message },
            wait: None,
        };
        let url = reqwest::Url::parse(&full).map_err(|e| decode(format!("the URL of {path} is not valid: {e}")))?;
        if url.as_str() != full {
            return Err(decode(format!("the URL of {path} would not go out as built")));
        }
        let header = authorization(
            verb.as_str(),
            &base,
            &query.0,
            &self.creds,
            &nonce(),
            chrono::Utc::now().timestamp(),
        );
        let mut auth = reqwest::header::HeaderValue::from_str(&header)
            .map_err(|_| decode("the credentials hold characters a header cannot carry".into()))?;
        // never printed by a Debug of the request
        auth.set_sensitive(true);
        let mut req = self
            .http
            .request(verb.http(), url)
            .header(reqwest::header::AUTHORIZATION, auth);
        req = match body {
            Some(b) => req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string()),
            None if matches!(verb, Verb::Post | Verb::Put) => {
                req.header(reqwest::header::CONTENT_LENGTH, "0").body(Vec::<u8>::new())
            }
            None => req,
        };
        self.sent.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(method = verb.as_str(), path = %path, "x request");
        let resp = req.send().await.map_err(|e| Failed {
            err: CallError::Transport {
                url: base.clone(),
                message: self.redact(&e.without_url().to_string()),
            },
            wait: None,
        })?;
        let status = resp.status().as_u16();
        trace::record_response(status, resp.headers(), X_REQUEST_ID);
        let wait = if status == 429 {
            reset_wait(resp.headers(), chrono::Utc::now().timestamp())
        } else if status == 503 {
            retry_after(resp.headers())
        } else {
            None
        };
        let text = resp.text().await.map_err(|e| Failed {
            err: CallError::Transport {
                url: base.clone(),
                message: self.redact(&e.without_url().to_string()),
            },
            wait: None,
        })?;
        tracing::debug!(method = verb.as_str(), path = %path, status, "x response");
        if status >= 400 {
            let e = ApiError::parse(status, &text).scrubbed(&|t| self.redact(t));
            return Err(Failed {
                err: CallError::Api(Box::new(e)),
                wait,
            });
        }
        Ok(Answer { status, body: text })
    }

    /// One request with its retries.
    pub async fn call(
        &self,
        verb: Verb,
        path: &str,
        query: &Query,
        body: Option<&str>,
        retry: Retry,
    ) -> Result<Answer, CallError> {
        let span = trace::request("x", &self.account_name, verb.as_str(), path);
        async {
            let mut attempt: u32 = 0;
            let mut rate_limited: u32 = 0;
            let mut faults: u32 = 0;
            loop {
                attempt += 1;
                trace::record_attempt(attempt);
                let Failed { err, wait: asked } = match self.attempt(verb, path, query, body).await {
                    Ok(a) => return Ok(a),
                    Err(f) => f,
                };
                if err.api().is_some_and(|e| e.class() == ErrorClass::RateLimited) {
                    rate_limited += 1;
                    if rate_limited > self.cfg.max_rate_limit_retries {
                        return Err(err);
                    }
                    let w = asked.unwrap_or(self.cfg.rate_limit_default_wait);
                    tracing::warn!(error = %err, "x: rate limited (HTTP 429)");
                    let reason = format!("X rate limit (HTTP 429) on {}", trace::without_query(path));
                    wait::sleep(
                        &self.account_id,
                        &reason,
                        w,
                        wait::limit(Some(self.cfg.rate_limit_max_wait)),
                    )
                    .await
                    .map_err(CallError::Blocked)?;
                    continue;
                }
                let retryable = retry == Retry::All
                    && match &err {
                        CallError::Api(e) => matches!(e.class(), ErrorClass::Server | ErrorClass::Transient),
                        CallError::Transport { .. } => true,
                        _ => false,
                    };
                if !retryable || faults >= self.cfg.max_retries {
                    return Err(err);
                }
                faults += 1;
                let backoff = self
                    .cfg
                    .retry_min_delay
                    .saturating_mul(1 << (faults - 1).min(16))
                    .min(self.cfg.retry_max_delay)
                    .mul_f64(0.5 + fastrand::f64() * 0.5);
                let d = asked.map_or(backoff, |a| a.max(backoff));
                tracing::warn!(error = %err, retry_in_ms = d.as_millis() as u64, "x: retrying");
                wait::begin("X: before retrying a request", d, wait::limit(None)).map_err(CallError::Blocked)?;
                tokio::time::sleep(d).await;
            }
        }
        .instrument(span)
        .await
    }

    pub async fn get(&self, path: &str, query: &Query) -> Result<Answer, CallError> {
        self.call(Verb::Get, path, query, None, Retry::All).await
    }

    /// A write with a JSON body (batches, audience users).
    pub async fn post_json(&self, path: &str, body: &serde_json::Value, retry: Retry) -> Result<Answer, CallError> {
        let text = body.to_string();
        self.call(Verb::Post, path, &Query::new(), Some(&text), retry).await
    }

    /// DELETE; a 404 (already deleted: X's deletes are soft and a second one is 404) is done.
    pub async fn delete(&self, path: &str) -> Result<(), CallError> {
        match self.call(Verb::Delete, path, &Query::new(), None, Retry::All).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_gone() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every element of a cursor-paged list (`count` + `cursor`; the end is `next_cursor` null).
    pub async fn list_all(&self, path: &str, query: Query) -> Result<Vec<serde_json::Value>, CallError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            data: Option<Vec<serde_json::Value>>,
            #[serde(default)]
            next_cursor: Option<String>,
        }
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0u32;
        loop {
            let mut q = query.clone().set("count", self.cfg.page_size.to_string());
            if let Some(c) = &cursor {
                q = q.set("cursor", c.clone());
            }
            let a = self.get(path, &q).await?;
            let page: Page = a.json(path)?;
            let n = page.data.as_ref().map_or(0, Vec::len);
            out.extend(page.data.unwrap_or_default());
            cursor = page.next_cursor.filter(|c| !c.is_empty());
            pages += 1;
            if cursor.is_none() || n == 0 || pages > 100_000 {
                break;
            }
        }
        Ok(out)
    }

    /// GET an absolute URL without signing (a finished stats job's `url`: a pre-signed download).
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, CallError> {
        let t = |e: reqwest::Error| CallError::Transport {
            url: trace::without_query(url).to_string(),
            message: self.redact(&e.without_url().to_string()),
        };
        let resp = self.http.get(url).send().await.map_err(t)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(t)?;
        if status >= 400 {
            return Err(CallError::Api(Box::new(
                ApiError::parse(status, &String::from_utf8_lossy(&bytes)).scrubbed(&|t| self.redact(t)),
            )));
        }
        Ok(bytes.to_vec())
    }
}

/// A 429's wait: until `x-account-rate-limit-reset` (preferred) or `x-rate-limit-reset` (epoch seconds).
pub fn reset_wait(h: &reqwest::header::HeaderMap, now: i64) -> Option<Duration> {
    let read = |k: &str| {
        h.get(k)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let reset = read("x-account-rate-limit-reset").or_else(|| read("x-rate-limit-reset"))?;
    Some(Duration::from_secs(u64::try_from((reset - now).max(1)).unwrap_or(1)))
}

/// A 503's `retry-after` (seconds).
pub fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn docs_creds() -> XCredentials {
        XCredentials {
            consumer_key: Secret::new("xvz1evFS4wEEPTGEFPHBog"),
            consumer_secret: Secret::new("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
            access_token: Secret::new("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
            token_secret: Secret::new("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
        }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn rfc3986_encoding() {
        assert_eq!(
            enc("Hello Ladies + Gentlemen, a signed OAuth request!"),
            "Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21"
        );
        assert_eq!(enc("a,b:c*d~e-f.g_h"), "a%2Cb%3Ac%2Ad~e-f.g_h");
        assert_eq!(enc("é"), "%C3%A9");
        assert_eq!(percent_decode("a+b%2Cc%3A"), "a b,c:");
    }

    /// docs.x.com "Creating a signature".
    #[test]
    fn the_docs_vector_signs() {
        let c = docs_creds();
        let mut params = pairs(&[
            ("include_entities", "true"),
            ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
        ]);
        let mut oauth = oauth_params(
            c.consumer_key.expose(),
            c.access_token.expose(),
            "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
            1318622958,
        );
        params.append(&mut oauth);
        let base = base_string("post", "https://api.x.com/1.1/statuses/update.json", &params);
        assert!(base.starts_with(
            "POST&https%3A%2F%2Fapi.x.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key"
        ));
        assert_eq!(base.matches('&').count(), 2);
        let sig = signature(&base, c.consumer_secret.expose(), c.token_secret.expose());
        assert_eq!(sig, "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=");
        let base = base_string("POST", "https://api.twitter.com/1.1/statuses/update.json", &params);
        assert_eq!(
            signature(&base, c.consumer_secret.expose(), c.token_secret.expose()),
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
        );
    }

    /// The pack's Ads-shaped vector (GET stats with commas and colons in the values).
    #[test]
    fn the_ads_vector_signs_and_the_header_carries_it() {
        let c = docs_creds();
        let q = pairs(&[
            ("entity", "LINE_ITEM"),
            ("entity_ids", "8u94t,8v7jo"),
            ("start_time", "2026-05-19T07:00:00Z"),
            ("end_time", "2026-05-26T07:00:00Z"),
            ("granularity", "DAY"),
            ("placement", "ALL_ON_TWITTER"),
            ("metric_groups", "ENGAGEMENT,BILLING"),
        ]);
        let url = "https://ads-api.x.com/12/stats/accounts/18ce54d4x5t";
        let h = authorization("GET", url, &q, &c, "adsctlnonce0001", 1780000000);
        assert!(h.starts_with("OAuth "));
        assert!(h.contains("oauth_signature=\"sZ73lX0Arl6YiMfp29vkdN9XbtY%3D\""), "{h}");
        assert!(h.contains("oauth_signature_method=\"HMAC-SHA1\""));
        assert!(h.contains("oauth_version=\"1.0\""));
        // the header parses back and re-verifies
        let parsed = parse_authorization(&h).unwrap();
        let sig = parsed.iter().find(|(k, _)| k == "oauth_signature").unwrap().1.clone();
        let mut all = q.clone();
        all.extend(parsed.into_iter().filter(|(k, _)| k != "oauth_signature"));
        let base = base_string("GET", url, &all);
        assert!(base.contains("%252C") && base.contains("%253A"));
        assert_eq!(
            signature(&base, c.consumer_secret.expose(), c.token_secret.expose()),
            sig
        );
        // the query goes out encoded: ',' and ':' as %2C / %3A
        let qs = Query(q).encode();
        assert!(qs.contains("entity_ids=8u94t%2C8v7jo"));
        assert!(qs.contains("start_time=2026-05-19T07%3A00%3A00Z"));
    }

    #[test]
    fn nonces_are_fresh_alphanumerics_and_secrets_stay_out_of_debug() {
        let (a, b) = (nonce(), nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|x| x.is_ascii_alphanumeric()));
        let dbg = format!("{:?}", docs_creds());
        assert!(!dbg.contains("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"));
        assert!(!dbg.contains("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"));
        assert!(!dbg.contains("GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"));
        assert!(!dbg.contains("xvz1evFS4wEEPTGEFPHBog"));
    }

    #[test]
    fn rate_limit_waits_read_the_reset_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-rate-limit-reset", "1000".parse().unwrap());
        assert_eq!(reset_wait(&h, 990), Some(Duration::from_secs(10)));
        h.insert("x-account-rate-limit-reset", "1030".parse().unwrap());
        assert_eq!(reset_wait(&h, 990), Some(Duration::from_secs(40)));
        assert_eq!(reset_wait(&h, 2000), Some(Duration::from_secs(1)));
        let mut r = reqwest::header::HeaderMap::new();
        r.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&r), Some(Duration::from_secs(3)));
    }
}
