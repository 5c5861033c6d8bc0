//! The Graph API client: auth parameters (`access_token`, `appsecret_proof`), form encoding, throttling, retries
//! with jittered backoff, cursor paging, and the Batch API. Nothing secret ever leaves this module in a message.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use serde::Deserialize;
use serde_json::Value as Json;
use tracing::Instrument;

use super::config::{MetaConfig, MetaCredentials, MIN_PAGE_SIZE};
use super::error::{ErrorClass, GraphError};
use super::throttle::Throttle;
use crate::connectors::trace;
use crate::connectors::ConnectorError;
use crate::secret::{redact, Secret};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// Where Meta puts its request ids: the request id when there is one, else the trace id (`fbtrace_id`).
pub const META_REQUEST_ID: &[&str] = &["x-fb-request-id", "x-fb-trace-id"];

/// A failed call, already redacted.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    /// The Graph API answered with an error envelope.
    #[error("Meta API error {}: {}", .error.code_string(), .error.user_text())]
    Graph { status: u16, error: GraphError },
    /// An HTTP error without a Graph error body.
    #[error("Meta answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    /// The request may or may not have reached the platform (connection reset, timeout).
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },
    /// A success status with a body we cannot read.
    #[error("unexpected response from Meta: {message}")]
    Decode { message: String },
    /// A rate limit (usage at 100 %, adsctl's own budget) asks to wait longer than this run waits.
    #[error(transparent)]
    Blocked(crate::connectors::wait::TooLong),
}

impl CallError {
    /// May the same request be sent again? `idempotent` requests (reads, updates, deletes) survive an unknown
    /// outcome; creates only when the platform said it refused them.
    pub fn retryable(&self, idempotent: bool) -> bool {
        match self {
            CallError::Graph { error, .. } => matches!(error.class(), ErrorClass::RateLimited | ErrorClass::Transient),
            CallError::Http { status, .. } => idempotent && (*status >= 500 || *status == 429),
            CallError::Transport { .. } => idempotent,
            CallError::Decode { .. } | CallError::Blocked { .. } => false,
        }
    }

    pub fn graph(&self) -> Option<&GraphError> {
        match self {
            CallError::Graph { error, .. } => Some(error),
            _ => None,
        }
    }

    pub fn into_connector_error(self, account: &str) -> ConnectorError {
        match self {
            CallError::Graph { error, .. } => error.to_connector_error(Some(account)),
            CallError::Http { status, body } => ConnectorError::Api {
                platform: "meta",
                code: format!("HTTP {status}"),
                message: body,
                hint: Some("a Meta server error; retry later".into()),
            },
            CallError::Transport { url, message } => ConnectorError::Transport { url, message },
            CallError::Decode { message } => ConnectorError::Api {
                platform: "meta",
                code: "decode".into(),
                message,
                hint: None,
            },
            CallError::Blocked(too_long) => ConnectorError::Wait(too_long),
        }
    }
}

/// One call of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchCall {
    pub method: Method,
    /// Relative to the version root: `act_1/campaigns`, `123`, `{result=c0:$.id}/adlabels`.
    pub relative_url: String,
    /// Form-encoded body (may contain raw `{result=…}` placeholders).
    pub body: Option<String>,
    /// Name for later calls to refer to; `omit_response_on_success: false` is always set with it.
    pub name: Option<String>,
}

impl BatchCall {
    fn to_json(&self) -> Json {
        let mut o = serde_json::Map::new();
        o.insert("method".into(), Json::from(self.method.as_str()));
        o.insert("relative_url".into(), Json::from(self.relative_url.clone()));
        if let Some(b) = &self.body {
            o.insert("body".into(), Json::from(b.clone()));
        }
        if let Some(n) = &self.name {
            o.insert("name".into(), Json::from(n.clone()));
            o.insert("omit_response_on_success".into(), Json::Bool(false));
        }
        Json::Object(o)
    }
}

/// The answer to one call of a batch: `None` when Meta returned `null` (not run, or omitted).
#[derive(Clone, Debug, PartialEq)]
pub enum BatchReply {
    Ok(Json),
    Err(GraphError),
    /// A `null` element: the call's outcome is unknown.
    Unknown,
}

#[derive(Deserialize)]
struct RawBatchEntry {
    code: u16,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    headers: Vec<RawHeader>,
}

#[derive(Deserialize)]
struct RawHeader {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

/// Encode parameters as `application/x-www-form-urlencoded`.
pub fn form_encode(params: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Encode a form body for a batch call, leaving `{result=name:$.path}` placeholders unencoded so the Batch API
/// can substitute them (whether the server substitutes before or after decoding the form, the placeholder
/// survives: `{`, `}`, `=`, `:` and `$` decode to themselves).
pub fn form_encode_batch(params: &[(String, String)]) -> String {
    let mut parts = Vec::with_capacity(params.len());
    for (k, v) in params {
        let mut out = String::new();
        let mut rest = v.as_str();
        while let Some(start) = rest.find("{result=") {
            let Some(len) = rest[start..].find('}') else { break };
            out.push_str(&encode_component(&rest[..start]));
            out.push_str(&rest[start..start + len + 1]);
            rest = &rest[start + len + 1..];
        }
        out.push_str(&encode_component(rest));
        parts.push(format!("{}={}", encode_component(k), out));
    }
    parts.join("&")
}

fn encode_component(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `{data:[…], paging:{cursors:{after}, next}}`
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Json>,
    #[serde(default)]
    paging: Option<Paging>,
}
#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    #[serde(default)]
    next: Option<String>,
}
#[derive(Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

pub struct GraphClient {
    http: reqwest::Client,
    pub cfg: MetaConfig,
    creds: MetaCredentials,
    proof: Option<Secret>,
    pub throttle: Throttle,
    /// The local account name (for hints).
    pub account_name: String,
}

impl GraphClient {
    pub fn new(
        cfg: MetaConfig,
        creds: MetaCredentials,
        account_name: &str,
        ad_account_id: &str,
    ) -> Result<GraphClient, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("adsctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {}", e.without_url())))?;
        let proof = creds.appsecret_proof();
        let throttle = Throttle::new(&cfg, &creds.app_key(), ad_account_id);
        Ok(GraphClient {
            http,
            cfg,
            creds,
            proof,
            throttle,
            account_name: account_name.to_string(),
        })
    }

    /// Remove every secret from a text that may echo a request (error bodies, transport errors).
    pub fn redact(&self, text: &str) -> String {
        let mut secrets: Vec<&Secret> = vec![&self.creds.access_token];
        if let Some(s) = &self.creds.app_secret {
            secrets.push(s);
        }
        if let Some(p) = &self.proof {
            secrets.push(p);
        }
        redact(text, &secrets)
    }

    fn auth_params(&self) -> Vec<(String, String)> {
        let mut p = vec![("access_token".to_string(), self.creds.access_token.expose().to_string())];
        if let Some(proof) = &self.proof {
            p.push(("appsecret_proof".to_string(), proof.expose().to_string()));
        }
        p
    }

    fn url(&self, path: &str) -> String {
        let base = self.cfg.versioned_base();
        let path = path.trim_start_matches('/');
        if path.is_empty() {
            format!("{base}/")
        } else {
            format!("{base}/{path}")
        }
    }

    /// One attempt: throttle, send, learn from the usage headers, classify.
    async fn attempt(
        &self,
        method: Method,
        path: &str,
        params: &[(String, String)],
        calls: u32,
    ) -> Result<Json, CallError> {
        let url = self.url(path);
        self.throttle.acquire(calls).await.map_err(CallError::Blocked)?;
        let mut all = params.to_vec();
        all.extend(self.auth_params());
        let encoded = form_encode(&all);
        let req = match method {
            Method::Get => self.http.get(format!("{url}?{encoded}")),
            Method::Delete => self.http.delete(format!("{url}?{encoded}")),
            Method::Post => self
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(encoded),
        };
        tracing::debug!(method = method.as_str(), path = %path, calls, "meta request");
        let resp = req.send().await.map_err(|e| CallError::Transport {
            url: url.clone(),
            message: self.redact(&e.without_url().to_string()),
        })?;
        let status = resp.status().as_u16();
        trace::record_response(status, resp.headers(), META_REQUEST_ID);
        self.throttle.observe(
            resp.headers()
                .iter()
                .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))),
        );
        let body = resp.text().await.map_err(|e| CallError::Transport {
            url: url.clone(),
            message: self.redact(&e.without_url().to_string()),
        })?;
        let body = self.redact(&body);
        tracing::debug!(method = method.as_str(), path = %path, status, "meta response");
        if let Some(error) = GraphError::parse(&body) {
            if error.class() == ErrorClass::RateLimited {
                self.throttle.saw_rate_limit();
            }
            return Err(CallError::Graph { status, error });
        }
        if status >= 400 {
            let mut b = body;
            b.truncate(500);
            return Err(CallError::Http { status, body: b });
        }
        serde_json::from_str(&body).map_err(|e| CallError::Decode {
            message: format!("{method:?} {path}: {e}"),
        })
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.cfg.retry_min_delay)
            .with_max_delay(self.cfg.retry_max_delay)
            .with_max_times(self.cfg.max_retries)
            .with_jitter()
    }

    /// One request with retries on rate limits and transient errors (and, when `idempotent`, on unknown
    /// outcomes).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        params: &[(String, String)],
        idempotent: bool,
    ) -> Result<Json, CallError> {
        let span = trace::request("meta", &self.account_name, method.as_str(), path);
        let mut attempt = 0;
        let one = || {
            attempt += 1;
            trace::record_attempt(attempt);
            self.attempt(method, path, params, 1)
        };
        one.retry(self.backoff())
            .when(|e: &CallError| e.retryable(idempotent))
            .adjust(|_, d| d.filter(|d| crate::connectors::wait::max_wait().is_none_or(|m| *d <= m)))
            .notify(|e: &CallError, d: Duration| {
                tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "meta: retrying");
                crate::connectors::wait::announce("Meta: before retrying a request", d);
            })
            .instrument(span)
            .await
    }

    pub async fn get(&self, path: &str, params: &[(String, String)]) -> Result<Json, CallError> {
        self.call(Method::Get, path, params, true).await
    }

    /// Every element of a list edge, following cursors at the configured page size. The end is the absence of
    /// `paging.next`, never a short page. A "reduce the amount of data" error halves the page size.
    pub async fn get_all(&self, path: &str, params: &[(String, String)]) -> Result<Vec<Json>, CallError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        let mut limit = self.cfg.page_size.max(1);
        loop {
            let mut p = params.to_vec();
            p.push(("limit".into(), limit.to_string()));
            if let Some(a) = &after {
                p.push(("after".into(), a.clone()));
            }
            let page = match self.get(path, &p).await {
                Ok(j) => j,
                Err(CallError::Graph { error, .. }) if error.is_reduce_data() && limit > MIN_PAGE_SIZE => {
                    limit = (limit / 2).max(MIN_PAGE_SIZE);
                    tracing::info!(path = %path, limit, "meta: page too large, halving the page size");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let page: Page = serde_json::from_value(page).map_err(|e| CallError::Decode {
                message: format!("GET {path}: not a list page: {e}"),
            })?;
            out.extend(page.data);
            let next_cursor = page
                .paging
                .filter(|p| p.next.is_some())
                .and_then(|p| p.cursors)
                .and_then(|c| c.after);
            match next_cursor {
                Some(c) if Some(&c) != after.as_ref() => after = Some(c),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Send one batch (≤ 50 calls). Retried as a whole only when Meta refused it outright (rate limit,
    /// transient error body): any other failure is returned, and the caller must treat every call's outcome as
    /// unknown.
    pub async fn batch(&self, calls: &[BatchCall], extra: &[(String, String)]) -> Result<Vec<BatchReply>, CallError> {
        let batch = Json::Array(calls.iter().map(BatchCall::to_json).collect());
        // Per-call headers carry the usage figures (X-Business-Use-Case-Usage, …) the throttle learns from.
        let mut params = vec![("batch".to_string(), batch.to_string())];
        params.extend(extra.iter().cloned());
        let n = u32::try_from(calls.len()).unwrap_or(u32::MAX).max(1);
        let span = trace::request("meta", &self.account_name, "POST", "/");
        let mut attempt = 0;
        let one = || {
            attempt += 1;
            trace::record_attempt(attempt);
            self.attempt(Method::Post, "", &params, n)
        };
        let json = one
            .retry(self.backoff())
            // Only a rate limit refuses a batch before any of it runs. A transient error (codes 1, 2) may come
            // after some of its calls were made: the caller treats the whole batch as outcome unknown, looks its
            // creates up and re-sends only the idempotent calls. Re-sending it here could duplicate creates.
            .when(
                |e: &CallError| matches!(e, CallError::Graph { error, .. } if error.class() == ErrorClass::RateLimited),
            )
            .adjust(|_, d| d.filter(|d| crate::connectors::wait::max_wait().is_none_or(|m| *d <= m)))
            .notify(|e: &CallError, d: Duration| {
                tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "meta: retrying batch");
                crate::connectors::wait::announce("Meta: before retrying a batch", d);
            })
            .instrument(span)
            .await?;
        let arr = json.as_array().ok_or_else(|| CallError::Decode {
            message: "the batch response is not an array".into(),
        })?;
        let mut out = Vec::with_capacity(calls.len());
        for i in 0..calls.len() {
            let reply = match arr.get(i) {
                None | Some(Json::Null) => BatchReply::Unknown,
                Some(entry) => match serde_json::from_value::<RawBatchEntry>(entry.clone()) {
                    Err(_) => BatchReply::Unknown,
                    Ok(e) => {
                        self.throttle
                            .observe(e.headers.iter().map(|h| (h.name.as_str(), h.value.as_str())));
                        let body = self.redact(e.body.as_deref().unwrap_or("null"));
                        match GraphError::parse(&body) {
                            Some(err) => {
                                if err.class() == ErrorClass::RateLimited {
                                    self.throttle.saw_rate_limit();
                                }
                                BatchReply::Err(err)
                            }
                            None if e.code >= 400 => BatchReply::Err(GraphError {
                                message: format!("HTTP {}", e.code),
                                code: i64::from(e.code),
                                is_transient: e.code >= 500,
                                ..Default::default()
                            }),
                            None => match serde_json::from_str::<Json>(&body) {
                                Ok(j) => BatchReply::Ok(j),
                                Err(_) => BatchReply::Unknown,
                            },
                        }
                    }
                },
            };
            out.push(reply);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Graph front end on loopback that answers every batch POST with `status` and `body` the first `fail`
    /// times, then with one created object per call; it counts the POSTs.
    async fn graph_stub(
        status: u16,
        body: &'static str,
        fail: usize,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let posts = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = posts.clone();
        let app = axum::Router::new().fallback(move || {
            let seen = seen.clone();
            async move {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                if n < fail {
                    (
                        axum::http::StatusCode::from_u16(status).unwrap_or_default(),
                        body.to_string(),
                    )
                } else {
                    (
                        axum::http::StatusCode::OK,
                        r#"[{"code":200,"headers":[],"body":"{\"id\":\"9\"}"}]"#.to_string(),
                    )
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, posts)
    }

    fn client(url: &str) -> GraphClient {
        let cfg = MetaConfig {
            base_url: url.to_string(),
            retry_min_delay: Duration::from_millis(1),
            retry_max_delay: Duration::from_millis(5),
            max_retries: 3,
            ..MetaConfig::default()
        };
        let creds = MetaCredentials {
            app_id: None,
            app_secret: None,
            access_token: crate::secret::Secret::new("stub-token"),
        };
        GraphClient::new(cfg, creds, "social", "act_1").expect("client")
    }

    fn create_call() -> BatchCall {
        BatchCall {
            method: Method::Post,
            relative_url: "act_1/campaigns".into(),
            body: Some("name=C".into()),
            name: Some("op0".into()),
        }
    }

    #[tokio::test]
    async fn a_batch_is_sent_again_after_a_rate_limit_but_never_after_a_transient_error() {
        use std::sync::atomic::Ordering;
        // Code 2 may come after some calls ran: not re-sent here (the caller looks its creates up).
        let (url, posts) = graph_stub(
            500,
            r#"{"error":{"message":"Service temporarily unavailable","type":"OAuthException","code":2,"is_transient":true}}"#,
            1,
        )
        .await;
        let c = client(&url);
        let r = c.batch(&[create_call()], &[]).await;
        assert!(matches!(r, Err(CallError::Graph { .. })), "{r:?}");
        assert_eq!(posts.load(Ordering::SeqCst), 1, "a transient batch error was re-sent");

        // A rate limit refuses the request before anything runs: sent again, and it succeeds.
        let (url, posts) = graph_stub(
            400,
            r#"{"error":{"message":"User request limit reached","type":"OAuthException","code":17}}"#,
            1,
        )
        .await;
        let c = client(&url);
        let r = c.batch(&[create_call()], &[]).await.expect("retried");
        assert!(matches!(r.first(), Some(BatchReply::Ok(_))));
        assert_eq!(posts.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn batch_bodies_keep_placeholders_raw() {
        let body = form_encode_batch(&[
            ("name".into(), "Spring & Summer = 100%".into()),
            ("campaign_id".into(), "{result=op0:$.id}".into()),
            ("creative".into(), r#"{"creative_id":"{result=op3c:$.id}"}"#.into()),
            ("adlabels".into(), r#"[{"id":"{result=label:$.id}"}]"#.into()),
        ]);
        assert_eq!(
            body,
            "name=Spring+%26+Summer+%3D+100%25&campaign_id={result=op0:$.id}\
             &creative=%7B%22creative_id%22%3A%22{result=op3c:$.id}%22%7D\
             &adlabels=%5B%7B%22id%22%3A%22{result=label:$.id}%22%7D%5D"
        );
        // Decoding gives back the placeholder intact.
        let decoded: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        assert_eq!(decoded[2].1, r#"{"creative_id":"{result=op3c:$.id}"}"#);
        assert_eq!(decoded[0].1, "Spring & Summer = 100%");
    }

    #[test]
    fn named_batch_calls_keep_their_response() {
        let c = BatchCall {
            method: Method::Post,
            relative_url: "act_1/campaigns".into(),
            body: Some("name=x".into()),
            name: Some("op0".into()),
        };
        let j = c.to_json();
        assert_eq!(j["omit_response_on_success"], Json::Bool(false));
        assert_eq!(j["name"], "op0");
        let unnamed = BatchCall { name: None, ..c };
        assert!(unnamed.to_json().get("omit_response_on_success").is_none());
    }

    #[test]
    fn retry_rules() {
        let g = |code, t| CallError::Graph {
            status: 400,
            error: GraphError {
                code,
                is_transient: t,
                ..Default::default()
            },
        };
        assert!(g(17, false).retryable(false));
        assert!(g(80004, false).retryable(false));
        assert!(g(100, true).retryable(false));
        assert!(!g(100, false).retryable(true));
        assert!(!g(190, false).retryable(true));
        let t = CallError::Transport {
            url: "u".into(),
            message: "reset".into(),
        };
        assert!(t.retryable(true) && !t.retryable(false));
    }
}
