//! The HTTP client of the Salesforce REST API v68.0: `Authorization: Bearer` on every call to
//! `{instance_url}/services/data/v68.0/`, the error arrays, retries, SOQL paging and sObject Collections.
//!
//! - A 401 INVALID_SESSION_ID (the session timeout ended the token, or the org moved) mints a new session once —
//!   the refresh token, else a JWT assertion — and the call is sent again on the **new** `instance_url`.
//! - UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED "ConcurrentPerOrgLongTxn", 502 / 503 / SERVER_UNAVAILABLE and lost
//!   answers back off (1 s doubling, jittered, 5 retries). Salesforce sends no Retry-After and no 429 here.
//! - `Sforce-Limit-Info: api-usage=<used>/<max>` is read from every answer; past [`USAGE_STOP_PERCENT`] of the
//!   allocation the client stops before sending (a Quota error with a hint) rather than spend the rest, which the
//!   org's other integrations need. Giving a lease back is exempt (one call that frees the account for others).
//! - Nothing secret or personal leaves this module: the token rides only in a sensitive header, spans carry the
//!   path without its query (a SOQL text may hold e-mail addresses), and every text that came back is scrubbed of
//!   secrets and addresses.
//!
//! [`USAGE_STOP_PERCENT`]: super::config::USAGE_STOP_PERCENT

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;
use tracing::Instrument;

use super::auth::{mint, SalesforceCredentials, SF_REQUEST_ID};
use super::config::{SalesforceConfig, DATA_PATH};
use super::errors::{auth_hint, redact_emails, ApiError, ErrorItem, LIMIT_HINT};
use crate::connectors::{trace, wait, ConnectorError, OpError};
use crate::secret::{redact, Secret};

/// A successful answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Result<T, CallError> {
        serde_json::from_str(if self.body.trim().is_empty() {
            "null"
        } else {
            &self.body
        })
        .map_err(|e| CallError::Decode {
            message: format!("unexpected answer to {what}: {e}"),
        })
    }
}

/// A failed call, already scrubbed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Api(Box<ApiError>),
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },
    #[error("unexpected response from Salesforce: {message}")]
    Decode { message: String },
    /// The session could not be renewed.
    #[error("authentication failed: {message}")]
    Auth { message: String, hint: String },
    /// The daily allocation is (nearly) spent.
    #[error("{message}")]
    Quota { message: String, hint: String },
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
        self.api().is_some_and(ApiError::is_gone)
    }
    /// Whether the whole run should stop (no session, no allocation, a wait too long).
    pub fn stops_the_run(&self) -> bool {
        matches!(
            self,
            CallError::Auth { .. } | CallError::Quota { .. } | CallError::Blocked(_)
        ) || self.api().is_some_and(|e| e.is_session() || e.is_daily_limit())
    }

    pub fn into_connector_error(self, account: &str) -> ConnectorError {
        match self {
            CallError::Api(e) => e.to_connector_error(Some(account)),
            CallError::Transport { url, message } => ConnectorError::Transport { url, message },
            CallError::Decode { message } => ConnectorError::Api {
                platform: "salesforce",
                code: "decode".into(),
                message,
                hint: None,
            },
            CallError::Auth { message, hint } => ConnectorError::Auth { message, hint },
            CallError::Quota { message, hint } => ConnectorError::Quota { message, hint },
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
                        CallError::Auth { .. } => "auth".into(),
                        CallError::Quota { .. } => "REQUEST_LIMIT_EXCEEDED".into(),
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

/// One record's result in an sObject Collections answer.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RecordResult {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub created: Option<bool>,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

impl RecordResult {
    pub fn has(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code.as_deref() == Some(code))
    }
    /// Rolled back only because another record of an allOrNone request failed.
    pub fn rolled_back(&self) -> bool {
        !self.success
            && self
                .errors
                .iter()
                .all(|e| e.code.as_deref() == Some("ALL_OR_NONE_OPERATION_ROLLED_BACK"))
    }
}

/// `(used, max)` of a `Sforce-Limit-Info` header (`api-usage=25/15000; per-app-api-usage=…`).
pub fn parse_limit_info(v: &str) -> Option<(u64, u64)> {
    let part = v.split(';').map(str::trim).find_map(|p| p.strip_prefix("api-usage="))?;
    let (used, max) = part.split_once('/')?;
    Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
}

/// A SOQL string literal: quoted, `'` and `\` escaped with a backslash.
pub fn soql_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A query's path: `query?q=…` (the SOQL form-encoded).
pub fn query_path(soql: &str) -> String {
    format!(
        "query?q={}",
        form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>()
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
    fn http(self) -> reqwest::Method {
        match self {
            Verb::Get => reqwest::Method::GET,
            Verb::Post => reqwest::Method::POST,
            Verb::Patch => reqwest::Method::PATCH,
            Verb::Delete => reqwest::Method::DELETE,
        }
    }
}

pub struct SfClient {
    http: reqwest::Client,
    pub cfg: SalesforceConfig,
    pub account_name: String,
    creds: Mutex<SalesforceCredentials>,
    refresh_lock: tokio::sync::Mutex<()>,
    usage: Mutex<Option<(u64, u64)>>,
    sent: AtomicU64,
}

impl SfClient {
    pub fn new(
        cfg: SalesforceConfig,
        creds: SalesforceCredentials,
        account_name: &str,
    ) -> Result<SfClient, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("adsctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Config(format!("HTTP client: {}", e.without_url())))?;
        if creds.access_token.is_none() && !creds.can_mint() {
            return Err(ConnectorError::Auth {
                message: format!("no Salesforce access token, refresh token or JWT key for `{account_name}`"),
                hint: auth_hint(account_name),
            });
        }
        Ok(SfClient {
            http,
            cfg,
            account_name: account_name.to_string(),
            creds: Mutex::new(creds),
            refresh_lock: tokio::sync::Mutex::new(()),
            usage: Mutex::new(None),
            sent: AtomicU64::new(0),
        })
    }

    fn creds(&self) -> std::sync::MutexGuard<'_, SalesforceCredentials> {
        self.creds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Requests sent so far (every attempt counts).
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The last `Sforce-Limit-Info` read: (used, max).
    pub fn api_usage(&self) -> Option<(u64, u64)> {
        *self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The instance calls go to now.
    pub fn instance_url(&self) -> Option<String> {
        self.creds()
            .instance_url
            .clone()
            .or_else(|| self.cfg.instance_url.clone())
    }

    /// Remove every secret and address from a text that may echo a request.
    pub fn redact(&self, text: &str) -> String {
        let c = self.creds().clone();
        redact_emails(&crate::secret::scrub(&redact(text, &c.secrets_held())))
    }

    /// The token and instance of the current session, minting one when there is none yet.
    async fn session(&self) -> Result<(Secret, String), CallError> {
        let current = {
            let c = self.creds();
            c.access_token.clone().filter(|t| !t.is_empty())
        };
        if current.is_none() {
            self.renew(None).await?;
        }
        let c = self.creds().clone();
        let token = c.access_token.clone().unwrap_or_else(|| Secret::new(""));
        let instance = c
            .instance_url
            .clone()
            .or_else(|| self.cfg.instance_url.clone())
            .ok_or_else(|| CallError::Auth {
                message: "no instance URL: the credentials name none".into(),
                hint:
                    "set ADSCTL_SALESFORCE_INSTANCE_URL (https://<my domain>.my.salesforce.com) with the access token"
                        .into(),
            })?;
        Ok((token, instance))
    }

    /// A new session (once for everyone waiting: a caller whose `failed` token was already replaced just retries).
    async fn renew(&self, failed: Option<&str>) -> Result<(), CallError> {
        let _g = self.refresh_lock.lock().await;
        let c = self.creds().clone();
        let now = c.access_token.as_ref().map(|t| t.expose().to_string());
        let replaced = match (failed, &now) {
            (Some(f), Some(n)) => f != n,
            (None, Some(n)) => !n.is_empty(),
            _ => false,
        };
        if replaced {
            return Ok(());
        }
        if !c.can_mint() {
            return Err(CallError::Auth {
                message: "the Salesforce session ended (401 INVALID_SESSION_ID) and there is no refresh token or JWT \
                          key to start a new one"
                    .into(),
                hint: auth_hint(&self.account_name),
            });
        }
        let t = mint(&self.http, &self.account_name, &c, &self.cfg.login_url)
            .await
            .map_err(|e| CallError::Auth {
                message: self.redact(&e.to_string()),
                hint: e.hint(),
            })?;
        tracing::info!(account = %self.account_name, "salesforce: new session");
        let mut c = self.creds();
        c.access_token = Some(t.access_token);
        c.instance_url = Some(t.instance_url);
        if let Some(r) = t.refresh_token {
            c.refresh_token = Some(r);
        }
        Ok(())
    }

    fn paced(&self) -> Result<(), CallError> {
        if let Some((used, max)) = self.api_usage() {
            if max > 0 && used.saturating_mul(100) >= max.saturating_mul(self.cfg.usage_stop_percent) {
                return Err(CallError::Quota {
                    message: format!(
                        "Salesforce: the org has used {used} of its {max} daily API requests; adsctl stops past {}% \
                         to leave the rest to the org's other integrations",
                        self.cfg.usage_stop_percent
                    ),
                    hint: LIMIT_HINT.into(),
                });
            }
        }
        Ok(())
    }

    /// One attempt. `rel` is under `/services/data/v68.0/`, or an absolute path (`nextRecordsUrl`).
    async fn attempt(
        &self,
        verb: Verb,
        rel: &str,
        body: Option<&str>,
        exempt: bool,
    ) -> Result<Answer, (CallError, Option<String>)> {
        if !exempt {
            self.paced().map_err(|e| (e, None))?;
        }
        let (token, instance) = self.session().await.map_err(|e| (e, None))?;
        let url = if rel.starts_with('/') {
            format!("{instance}{rel}")
        } else {
            format!("{instance}{DATA_PATH}{rel}")
        };
        let base = trace::without_query(&url).to_string();
        let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
            (
                CallError::Auth {
                    message: "the access token holds characters a header cannot carry".into(),
                    hint: auth_hint(&self.account_name),
                },
                None,
            )
        })?;
        auth.set_sensitive(true);
        let mut req = self
            .http
            .request(verb.http(), &url)
            .header(reqwest::header::AUTHORIZATION, auth)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let transport = |e: reqwest::Error| CallError::Transport {
            url: base.clone(),
            message: self.redact(&e.without_url().to_string()),
        };
        let resp = req.send().await.map_err(|e| (transport(e), None))?;
        let status = resp.status().as_u16();
        trace::record_response(status, resp.headers(), SF_REQUEST_ID);
        if let Some(u) = resp
            .headers()
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_limit_info)
        {
            *self.usage.lock().unwrap_or_else(|p| p.into_inner()) = Some(u);
        }
        let text = resp.text().await.map_err(|e| (transport(e), None))?;
        tracing::debug!(method = verb.as_str(), status, "salesforce response");
        if status >= 300 {
            let e = ApiError::parse(status, &text).scrubbed(&|t| self.redact(t));
            return Err((CallError::Api(Box::new(e)), Some(token.expose().to_string())));
        }
        Ok(Answer { status, body: text })
    }

    /// One request with its retries; `label` names it in spans and logs (a path without its query).
    pub async fn call(&self, verb: Verb, rel: &str, body: Option<&Json>, label: &str) -> Result<Answer, CallError> {
        self.call_inner(verb, rel, body, label, false).await
    }

    async fn call_inner(
        &self,
        verb: Verb,
        rel: &str,
        body: Option<&Json>,
        label: &str,
        exempt: bool,
    ) -> Result<Answer, CallError> {
        let text = body.map(Json::to_string);
        let span = trace::request(
            "salesforce",
            &self.account_name,
            verb.as_str(),
            trace::without_query(label),
        );
        async {
            let mut attempt: u32 = 0;
            let mut faults: u32 = 0;
            let mut renewed = false;
            loop {
                attempt += 1;
                trace::record_attempt(attempt);
                let (err, token) = match self.attempt(verb, rel, text.as_deref(), exempt).await {
                    Ok(a) => return Ok(a),
                    Err(f) => f,
                };
                if let Some(e) = err.api() {
                    if e.is_session() && !renewed {
                        renewed = true;
                        tracing::info!("salesforce: session ended (401); starting a new one");
                        self.renew(token.as_deref()).await?;
                        continue;
                    }
                    if e.is_session() {
                        return Err(CallError::Auth {
                            message: format!("Salesforce refused a fresh session: {}", e.text()),
                            hint: auth_hint(&self.account_name),
                        });
                    }
                    if e.is_daily_limit() {
                        return Err(CallError::Quota {
                            message: format!("Salesforce: {}", e.text()),
                            hint: LIMIT_HINT.into(),
                        });
                    }
                }
                let retryable = match &err {
                    CallError::Api(e) => e.retryable(),
                    CallError::Transport { .. } => true,
                    _ => false,
                };
                if !retryable || faults >= self.cfg.max_retries {
                    return Err(err);
                }
                faults += 1;
                let d = self
                    .cfg
                    .retry_min_delay
                    .saturating_mul(1 << (faults - 1).min(16))
                    .min(self.cfg.retry_max_delay)
                    .mul_f64(0.5 + fastrand::f64() * 0.5);
                tracing::warn!(error = %err, retry_in_ms = d.as_millis() as u64, "salesforce: retrying");
                wait::begin("Salesforce: before retrying a request", d, wait::limit(None))
                    .map_err(CallError::Blocked)?;
                tokio::time::sleep(d).await;
            }
        }
        .instrument(span)
        .await
    }

    pub async fn get(&self, rel: &str, label: &str) -> Result<Answer, CallError> {
        self.call(Verb::Get, rel, None, label).await
    }

    /// A DELETE exempt from pacing (giving a lease back).
    pub async fn delete_exempt(&self, rel: &str, label: &str) -> Result<Answer, CallError> {
        self.call_inner(Verb::Delete, rel, None, label, true).await
    }

    /// Every row of a SOQL query, following `nextRecordsUrl` until `done`.
    pub async fn query(&self, soql: &str) -> Result<Vec<Json>, CallError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default)]
            records: Vec<Json>,
            #[serde(default)]
            done: bool,
            #[serde(default)]
            next_records_url: Option<String>,
        }
        let mut out = Vec::new();
        let mut page: Page = self.get(&query_path(soql), "query").await?.json("query")?;
        loop {
            out.extend(std::mem::take(&mut page.records));
            match page.next_records_url.take().filter(|u| !page.done && !u.is_empty()) {
                Some(next) => page = self.get(&next, "query/{locator}").await?.json("query")?,
                None => break,
            }
        }
        Ok(out)
    }

    /// An sObject Collections call: one result per record, in order.
    pub async fn collection(
        &self,
        verb: Verb,
        rel: &str,
        body: Option<&Json>,
        label: &str,
    ) -> Result<Vec<RecordResult>, CallError> {
        let a = self.call(verb, rel, body, label).await?;
        a.json::<Vec<RecordResult>>(label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_info_and_soql_literals() {
        assert_eq!(parse_limit_info("api-usage=25/15000"), Some((25, 15000)));
        assert_eq!(
            parse_limit_info("api-usage=18/5000; per-app-api-usage=17/250(appName=adsctl)"),
            Some((18, 5000))
        );
        assert_eq!(parse_limit_info("per-app-api-usage=1/2"), None);
        assert_eq!(soql_str("O'Brien \\ co"), "'O\\'Brien \\\\ co'");
        assert_eq!(query_path("SELECT Id FROM Campaign"), "query?q=SELECT+Id+FROM+Campaign");
    }
}
