//! The HTTP client: OAuth access tokens (refresh flow, cached, refreshed on 401), the Google Ads headers,
//! token buckets per developer token and per customer, retries with jittered backoff, error parsing and
//! redaction.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, RefreshToken, TokenResponse, TokenUrl};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::connectors::trace::{self, TracedOAuth};
use crate::connectors::wait;
use crate::secret::{redact, Secret};

use super::config::{Credentials, Settings};
use super::errors::{classify, parse_error_body, GoogleAdsError};

/// Where Google Ads puts its request id (the `request-id` response header).
pub const GOOGLE_REQUEST_ID: &[&str] = &["request-id"];

/// Refresh this long before the token's announced expiry.
const EXPIRY_MARGIN: Duration = Duration::from_secs(120);

struct CachedToken {
    token: Secret,
    valid_until: Instant,
}

/// Access tokens for one OAuth client + refresh token, shared by every connector in the process.
pub struct TokenCache {
    current: tokio::sync::Mutex<Option<CachedToken>>,
}

/// Token buckets: per minute and per hour.
pub struct Buckets {
    minute: DefaultDirectRateLimiter,
    hour: DefaultDirectRateLimiter,
}

impl Buckets {
    fn new(per_minute: u32, per_hour: u32) -> Buckets {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        Buckets {
            minute: RateLimiter::direct(Quota::per_minute(nz(per_minute))),
            hour: RateLimiter::direct(Quota::per_hour(nz(per_hour))),
        }
    }
    /// Wait for a cell of both buckets (said when long, refused beyond the run's `--max-wait`).
    async fn acquire(&self, what: &str) -> Result<(), GoogleAdsError> {
        let limit = wait::limit(None);
        let one = NonZeroU32::MIN;
        let too_long = |w: wait::TooLong| GoogleAdsError::QuotaExhausted {
            rate_name: w.reason,
            retry_delay: w.wait,
            limit: w.limit,
        };
        let minute = format!("adsctl's budget of Google Ads requests per minute for {what}");
        wait::bucket(&self.minute, one, &minute, limit)
            .await
            .map_err(too_long)?;
        let hour = format!("adsctl's budget of Google Ads requests per hour for {what}");
        wait::bucket(&self.hour, one, &hour, limit).await.map_err(too_long)
    }
}

fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..12])
}

fn shared<T>(map: &'static OnceLock<Mutex<HashMap<String, Arc<T>>>>, key: String, make: impl FnOnce() -> T) -> Arc<T> {
    let m = map.get_or_init(|| Mutex::new(HashMap::new()));
    let mut g = match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    g.entry(key).or_insert_with(|| Arc::new(make())).clone()
}

static TOKENS: OnceLock<Mutex<HashMap<String, Arc<TokenCache>>>> = OnceLock::new();
static BUCKETS: OnceLock<Mutex<HashMap<String, Arc<Buckets>>>> = OnceLock::new();

/// Whether a request may be sent again after its response was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Reads, updates, removes: sending twice has the effect of sending once.
    Safe,
    /// Creates: a lost response may hide a committed write; never resent blindly.
    Unsafe,
}

/// One customer's view of the API.
pub struct Client {
    pub settings: Settings,
    pub creds: Credentials,
    /// Customer id, digits.
    pub customer_id: String,
    /// The local account name (for the requests' tracing spans).
    pub account: String,
    http: reqwest::Client,
    oauth_http: reqwest::Client,
    tokens: Arc<TokenCache>,
    dev_buckets: Arc<Buckets>,
    customer_buckets: Arc<Buckets>,
    /// Requests sent (including retries), for the operation-cost figures.
    pub requests: std::sync::atomic::AtomicU64,
}

impl Client {
    pub fn new(
        settings: Settings,
        creds: Credentials,
        customer_id: String,
        account: &str,
    ) -> Result<Client, GoogleAdsError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| GoogleAdsError::Config(format!("HTTP client: {e}")))?;
        let oauth_http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GoogleAdsError::Config(format!("HTTP client: {e}")))?;
        let tokens = shared(
            &TOKENS,
            fingerprint(&[&settings.token_url, &creds.client_id, creds.refresh_token.expose()]),
            || TokenCache {
                current: tokio::sync::Mutex::new(None),
            },
        );
        let (pm, ph) = (settings.rate_per_minute, settings.rate_per_hour);
        let dev_buckets = shared(
            &BUCKETS,
            format!("dev:{}", fingerprint(&[creds.developer_token.expose()])),
            || Buckets::new(pm, ph),
        );
        let customer_buckets = shared(&BUCKETS, format!("customer:{customer_id}"), || Buckets::new(pm, ph));
        Ok(Client {
            settings,
            creds,
            customer_id,
            account: account.to_string(),
            http,
            oauth_http,
            tokens,
            dev_buckets,
            customer_buckets,
            requests: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Remove every secret we know of from a text that came from a server.
    pub fn scrub(&self, text: &str, access: Option<&Secret>) -> String {
        let mut secrets: Vec<&Secret> = self.creds.secrets().to_vec();
        if let Some(a) = access {
            secrets.push(a);
        }
        redact(text, &secrets)
    }

    /// A valid access token: cached, or refreshed through the token endpoint.
    async fn access_token(&self, force_refresh: bool) -> Result<Secret, GoogleAdsError> {
        let mut cur = self.tokens.current.lock().await;
        if !force_refresh {
            if let Some(t) = cur.as_ref() {
                if Instant::now() < t.valid_until {
                    return Ok(t.token.clone());
                }
            }
        }
        let token_url = TokenUrl::new(self.settings.token_url.clone())
            .map_err(|e| GoogleAdsError::Config(format!("bad token URL: {e}")))?;
        let client = BasicClient::new(ClientId::new(self.creds.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.creds.client_secret.expose().to_string()))
            .set_token_uri(token_url)
            .set_auth_type(AuthType::RequestBody);
        let refresh = RefreshToken::new(self.creds.refresh_token.expose().to_string());
        let http = TracedOAuth {
            http: &self.oauth_http,
            request_id: GOOGLE_REQUEST_ID,
        };
        let mut backoff = self.backoff();
        let span = trace::token("google_ads", &self.account, &self.settings.token_url);
        let resp = async {
            loop {
                match client.exchange_refresh_token(&refresh).request_async(&http).await {
                    Ok(r) => return Ok(r),
                    // A refusal (invalid_grant, invalid_client) is final; a broken connection or a 429/5xx page
                    // (not an OAuth error body) is worth another try.
                    Err(e @ oauth2::RequestTokenError::ServerResponse(_)) => {
                        return Err(GoogleAdsError::OAuth(self.scrub(&describe_oauth_error(&e), None)))
                    }
                    Err(e) => match backoff.next() {
                        Some(d) => {
                            tracing::warn!(delay = ?d, "token refresh failed; retrying");
                            wait::announce("Google OAuth: before retrying the token refresh", d);
                            tokio::time::sleep(d).await;
                        }
                        None => return Err(GoogleAdsError::OAuth(self.scrub(&describe_oauth_error(&e), None))),
                    },
                }
            }
        }
        .instrument(span)
        .await?;
        let token = Secret::new(resp.access_token().secret().clone());
        let lifetime = resp.expires_in().unwrap_or(Duration::from_secs(3600));
        let valid_until = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN).max(Duration::from_secs(1));
        *cur = Some(CachedToken {
            token: token.clone(),
            valid_until,
        });
        Ok(token)
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.settings.retry_min_delay)
            .with_max_delay(self.settings.retry_max_delay)
            .with_factor(1.3)
            .with_jitter()
            .with_max_times(self.settings.max_retries)
            .build()
    }

    /// POST a JSON body to `{base}/{path}` and parse the JSON answer.
    pub async fn post(&self, path: &str, body: &Json, replay: Replay) -> Result<Json, GoogleAdsError> {
        self.call(reqwest::Method::POST, path, Some(body), replay).await
    }

    pub async fn get(&self, path: &str) -> Result<Json, GoogleAdsError> {
        self.call(reqwest::Method::GET, path, None, Replay::Safe).await
    }

    /// POST and return the raw body text (searchStream answers are parsed lazily by the caller).
    pub async fn post_raw(&self, path: &str, body: &Json, replay: Replay) -> Result<String, GoogleAdsError> {
        self.send(reqwest::Method::POST, path, Some(body), replay).await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Json>,
        replay: Replay,
    ) -> Result<Json, GoogleAdsError> {
        let text = self.send(method, path, body, replay).await?;
        if text.trim().is_empty() {
            return Ok(Json::Object(Default::default()));
        }
        serde_json::from_str(&text).map_err(|e| GoogleAdsError::Decode(format!("{path}: {e}")))
    }

    /// One request, with its retries, in its span (account, method, path, then status and request id).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Json>,
        replay: Replay,
    ) -> Result<String, GoogleAdsError> {
        let span = trace::request("google_ads", &self.account, method.as_str(), path);
        self.send_in_span(method, path, body, replay).instrument(span).await
    }

    async fn send_in_span(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Json>,
        replay: Replay,
    ) -> Result<String, GoogleAdsError> {
        let url = format!("{}/{}", self.settings.api_base(), path.trim_start_matches('/'));
        let mut backoff = self.backoff();
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            trace::record_attempt(attempt);
            let started = std::time::Instant::now();
            self.dev_buckets.acquire("the developer token").await?;
            self.customer_buckets
                .acquire(&format!("customer {}", self.customer_id))
                .await?;
            crate::connectors::telemetry::record_rate_limit_wait(&self.customer_id, started.elapsed());
            let token = self.access_token(false).await?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose())
                .header("developer-token", self.creds.developer_token.expose());
            if let Some(login) = &self.creds.login_customer_id {
                req = req.header("login-customer-id", login);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    let message = self.scrub(&transport_message(&e), Some(&token));
                    if replay == Replay::Safe {
                        if let Some(d) = backoff.next() {
                            tracing::warn!(%url, error = %message, delay = ?d, "Google Ads request failed; retrying");
                            wait::announce("Google Ads: before retrying a request", d);
                            tokio::time::sleep(d).await;
                            continue;
                        }
                    }
                    let message = if replay == Replay::Unsafe {
                        format!(
                            "{message}; the request may have been applied before the connection broke \
                             (run `adsctl plan` to see what landed: created objects are found again by name)"
                        )
                    } else {
                        message
                    };
                    return Err(GoogleAdsError::Transport { url, message });
                }
            };
            let status = resp.status().as_u16();
            trace::record_response(status, resp.headers(), GOOGLE_REQUEST_ID);
            tracing::debug!(status, "Google Ads response");
            let text = resp.text().await.map_err(|e| GoogleAdsError::Transport {
                url: url.clone(),
                message: self.scrub(&transport_message(&e), Some(&token)),
            });
            let text = match text {
                Ok(t) => t,
                Err(e) if replay == Replay::Safe => {
                    if let Some(d) = backoff.next() {
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            if (200..300).contains(&status) {
                return Ok(text);
            }
            let mut failure = parse_error_body(status, &text);
            failure.message = self.scrub(&failure.message, Some(&token));
            for e in &mut failure.errors {
                e.message = self.scrub(&e.message, Some(&token));
            }
            if status == 401 && !refreshed {
                // The access token may have been revoked or expired early: refresh once, transparently.
                refreshed = true;
                self.access_token(true).await?;
                continue;
            }
            if failure.is_rate_limited() {
                let wanted = failure.retry_delay();
                let rate_name = failure
                    .rate_name()
                    .map(str::to_string)
                    .unwrap_or_else(|| "requests per customer".to_string());
                // The connector's own cap and the run's `--max-wait`, whichever is shorter.
                let limit = wait::limit(Some(self.settings.max_retry_delay));
                if let Some(d) = wanted {
                    if limit.is_some_and(|l| d > l) {
                        return Err(GoogleAdsError::QuotaExhausted {
                            rate_name,
                            retry_delay: d,
                            limit,
                        });
                    }
                }
                match backoff.next() {
                    Some(b) => {
                        let d = wanted.unwrap_or(b);
                        tracing::debug!(%url, quota = %rate_name, delay = ?d, "Google Ads rate limit; waiting");
                        let reason = format!("Google Ads rate limit `{rate_name}` (retryDelay)");
                        if let Err(w) = wait::sleep(&self.customer_id, &reason, d, limit).await {
                            return Err(GoogleAdsError::QuotaExhausted {
                                rate_name,
                                retry_delay: w.wait,
                                limit: w.limit,
                            });
                        }
                        continue;
                    }
                    None => return Err(classify(failure)),
                }
            }
            // A deadline exceeded may have committed: a create is not sent twice blindly.
            let maybe_committed = failure.status == "DEADLINE_EXCEEDED" || status == 504;
            if failure.is_transient() && !(maybe_committed && replay == Replay::Unsafe) {
                if let Some(d) = backoff.next() {
                    tracing::warn!(%url, status = %failure.status, delay = ?d, "Google Ads transient error; retrying");
                    wait::announce("Google Ads: before retrying after a transient error", d);
                    tokio::time::sleep(d).await;
                    continue;
                }
            }
            return Err(classify(failure));
        }
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    s
}

fn describe_oauth_error<RE, T>(e: &oauth2::RequestTokenError<RE, T>) -> String
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponse + 'static,
{
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => format!("the token endpoint refused the refresh: {r}"),
        oauth2::RequestTokenError::Request(r) => format!("could not reach the token endpoint: {r}"),
        oauth2::RequestTokenError::Parse(p, _) => format!("unreadable token response: {p}"),
        oauth2::RequestTokenError::Other(o) => o.clone(),
    }
}
