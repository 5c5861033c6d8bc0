//! `adsctl auth login`: OAuth 2.0 authorization code with PKCE through a loopback redirect.
//!
//! A listener on `127.0.0.1:<random port>` receives the redirect; the `state` is checked (constant time) and
//! the first matching callback is the only one accepted; the wait times out. With `--no-browser` the user may
//! instead paste the URL the browser was redirected to. Google: scope adwords, `access_type=offline`,
//! `prompt=consent` → a refresh token. Meta: code exchange, then `fb_exchange_token` → a long-lived token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use chrono::Utc;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::endpoints::{self, MetaEndpoints};
use super::{env_names, Auth, AuthError, CredentialKind, GoogleCredentials, MetaCredentials, MetaTokenKind};
use crate::connectors::trace::{self, TracedOAuth};
use crate::model::{Account, Platform};
use crate::platforms::google_ads::client::GOOGLE_REQUEST_ID;
use crate::platforms::meta::client::META_REQUEST_ID;
use crate::secret::{scrub, Secret};

pub const GOOGLE_ADWORDS_SCOPE: &str = "https://www.googleapis.com/auth/adwords";
pub const META_SCOPES: &str = "ads_management,ads_read";

/// How to run a login.
pub struct LoginOptions {
    /// How long to wait for the redirect.
    pub timeout: Duration,
    /// Called with the authorization URL once the listener is up (the CLI prints it and opens a browser).
    pub on_url: Box<dyn FnOnce(&str) + Send>,
    /// Redirect URLs pasted by the user (`--no-browser`); the first one with the right `state` wins.
    pub pasted: Option<mpsc::Receiver<String>>,
}

/// The OAuth client of a Google Ads login.
pub(crate) struct GoogleApp {
    pub client_id: String,
    pub client_secret: Secret,
    pub developer_token: Secret,
}

/// Google's app settings: environment first, then what the vault holds from an earlier login.
pub(crate) fn google_app(
    auth: &Auth,
    account: &Account,
    prev: Option<&CredentialKind>,
) -> Result<GoogleApp, AuthError> {
    let prev = match prev {
        Some(CredentialKind::GoogleAds(g)) => Some(g),
        _ => None,
    };
    let missing = |name: &str| AuthError::Config {
        message: format!("{name} is not set (needed to connect {})", account.name),
        hint: format!("export {name}; it is stored in the encrypted vault with the tokens, so only login needs it"),
    };
    Ok(GoogleApp {
        client_id: auth
            .var(env_names::GOOGLE_CLIENT_ID)
            .or_else(|| prev.map(|g| g.client_id.clone()))
            .ok_or_else(|| missing(env_names::GOOGLE_CLIENT_ID))?,
        client_secret: auth
            .secret_var(env_names::GOOGLE_CLIENT_SECRET)
            .or_else(|| prev.map(|g| g.client_secret.clone()))
            .ok_or_else(|| missing(env_names::GOOGLE_CLIENT_SECRET))?,
        developer_token: auth
            .secret_var(env_names::GOOGLE_DEVELOPER_TOKEN)
            .or_else(|| prev.map(|g| g.developer_token.clone()))
            .ok_or_else(|| missing(env_names::GOOGLE_DEVELOPER_TOKEN))?,
    })
}

pub(crate) struct MetaApp {
    pub app_id: String,
    pub app_secret: Secret,
}

pub(crate) fn meta_app(auth: &Auth, account: &Account, prev: Option<&CredentialKind>) -> Result<MetaApp, AuthError> {
    let prev = match prev {
        Some(CredentialKind::Meta(m)) => Some(m),
        _ => None,
    };
    let missing = |name: &str| AuthError::Config {
        message: format!("{name} is not set (needed to connect {})", account.name),
        hint: format!("export {name}; it is stored in the encrypted vault with the token"),
    };
    Ok(MetaApp {
        app_id: auth
            .var(env_names::META_APP_ID)
            .or_else(|| prev.and_then(|m| m.app_id.clone()))
            .ok_or_else(|| missing(env_names::META_APP_ID))?,
        app_secret: auth
            .secret_var(env_names::META_APP_SECRET)
            .or_else(|| prev.and_then(|m| m.app_secret.clone()))
            .ok_or_else(|| missing(env_names::META_APP_SECRET))?,
    })
}

fn login_err(message: impl Into<String>, hint: impl Into<String>) -> AuthError {
    AuthError::Login {
        message: message.into(),
        hint: hint.into(),
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the redirect carried.
enum Callback {
    Code(Secret),
    Denied(String),
}

/// Check one redirect's parameters against the expected state.
fn read_callback(params: &HashMap<String, String>, state: &Secret) -> Option<Callback> {
    let got = params.get("state")?;
    if !ct_eq(got, state.expose()) {
        return None;
    }
    if let Some(err) = params.get("error") {
        let desc = params
            .get("error_description")
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        return Some(Callback::Denied(scrub(&format!("{err}{desc}"))));
    }
    params.get("code").map(|c| Callback::Code(Secret::new(c.clone())))
}

struct ListenerState {
    state: Secret,
    tx: Mutex<Option<oneshot::Sender<Callback>>>,
}

async fn callback(
    State(st): State<Arc<ListenerState>>,
    Query(params): Query<HashMap<String, String>>,
) -> (StatusCode, Html<&'static str>) {
    let Some(cb) = read_callback(&params, &st.state) else {
        tracing::warn!("loopback redirect with a missing or wrong state ignored");
        return (
            StatusCode::BAD_REQUEST,
            Html("<h1>adsctl: this sign-in link does not belong to the running login.</h1>"),
        );
    };
    let Some(tx) = st.tx.lock().ok().and_then(|mut g| g.take()) else {
        return (
            StatusCode::GONE,
            Html("<h1>adsctl: this sign-in was already completed.</h1>"),
        );
    };
    let denied = matches!(cb, Callback::Denied(_));
    let _ = tx.send(cb);
    if denied {
        (
            StatusCode::OK,
            Html("<h1>adsctl: sign-in was refused. You can close this tab.</h1>"),
        )
    } else {
        (
            StatusCode::OK,
            Html("<h1>adsctl: signed in. You can close this tab.</h1>"),
        )
    }
}

/// Parse a pasted redirect URL into its query parameters.
fn parse_pasted(text: &str) -> HashMap<String, String> {
    let t = text.trim();
    let query = match url::Url::parse(t) {
        Ok(u) => u.query().unwrap_or_default().to_string(),
        Err(_) => t.trim_start_matches('?').to_string(),
    };
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

impl Auth {
    /// Run the login flow for an account and store the result in the vault.
    pub async fn login(&self, account: &Account, opts: LoginOptions) -> Result<CredentialKind, AuthError> {
        let res = self.login_inner(account, opts).await;
        self.audit(&account.name, "auth.login", res.as_ref().map(|_| ()));
        res
    }

    async fn login_inner(&self, account: &Account, opts: LoginOptions) -> Result<CredentialKind, AuthError> {
        let prev = self.stored(&account.name)?;
        // Check the master key before the user goes through the browser.
        self.key_ring(true)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            login_err(
                format!("cannot listen on 127.0.0.1: {e}"),
                "use --no-browser and paste the URL",
            )
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| login_err(format!("loopback listener: {e}"), "retry"))?
            .port();
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let redirect_url = RedirectUrl::new(redirect.clone()).map_err(|e| login_err(e.to_string(), "retry"))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        crate::secret::register(verifier.secret());
        let csrf = CsrfToken::new_random();
        let state = Secret::new(csrf.secret().clone());

        let (auth_url, app) = match account.platform {
            Platform::GoogleAds => {
                let app = google_app(self, account, prev.as_ref())?;
                let ep = endpoints::google(account, self.env());
                let client = BasicClient::new(ClientId::new(app.client_id.clone()))
                    .set_auth_uri(url_of(AuthUrl::new(ep.auth_url.clone()))?)
                    .set_redirect_uri(redirect_url.clone());
                let (url, _) = client
                    .authorize_url(|| csrf.clone())
                    .add_scope(Scope::new(GOOGLE_ADWORDS_SCOPE.into()))
                    .add_extra_param("access_type", "offline")
                    .add_extra_param("prompt", "consent")
                    .set_pkce_challenge(challenge)
                    .url();
                (url, Some(app))
            }
            Platform::Meta => {
                let ep = endpoints::meta(account, self.env());
                let app = meta_app(self, account, prev.as_ref())?;
                let client = BasicClient::new(ClientId::new(app.app_id.clone()))
                    .set_auth_uri(url_of(AuthUrl::new(ep.dialog_url.clone()))?)
                    .set_redirect_uri(redirect_url.clone());
                let (url, _) = client
                    .authorize_url(|| csrf.clone())
                    .add_scope(Scope::new(META_SCOPES.into()))
                    .set_pkce_challenge(challenge)
                    .url();
                (url, None)
            }
            other => {
                return Err(AuthError::Config {
                    message: format!("{other} has no connector yet"),
                    hint: "only google_ads and meta accounts can log in".into(),
                })
            }
        };

        let (tx, mut rx) = oneshot::channel();
        let shared = Arc::new(ListenerState {
            state: state.clone(),
            tx: Mutex::new(Some(tx)),
        });
        let router = axum::Router::new()
            .route("/callback", axum::routing::get(callback))
            .with_state(shared);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        tracing::info!(port, platform = %account.platform, "waiting for the OAuth redirect on the loopback listener");
        (opts.on_url)(auth_url.as_str());

        let mut pasted = opts.pasted;
        let deadline = tokio::time::sleep(opts.timeout);
        tokio::pin!(deadline);
        let outcome = loop {
            tokio::select! {
                cb = &mut rx => break cb.map_err(|_| login_err("the loopback listener stopped", "retry")),
                line = async { match pasted.as_mut() { Some(p) => p.recv().await, None => std::future::pending().await } } => {
                    match line {
                        Some(text) => match read_callback(&parse_pasted(&text), &state) {
                            Some(cb) => break Ok(cb),
                            None => tracing::warn!("the pasted URL does not carry this login's state; paste the whole URL"),
                        },
                        None => pasted = None,
                    }
                }
                _ = &mut deadline => break Err(login_err(
                    format!("no redirect within {} s", opts.timeout.as_secs()),
                    "open the printed URL in a browser on this machine, or use --no-browser and paste the URL you are redirected to",
                )),
            }
        };
        let _ = stop_tx.send(());
        let _ = server.await;
        let code = match outcome? {
            Callback::Code(c) => c,
            Callback::Denied(why) => {
                return Err(login_err(
                    format!("the platform refused the authorization ({why})"),
                    "approve the requested access (ads management) when asked",
                ))
            }
        };

        let kind = match (account.platform, app) {
            (Platform::GoogleAds, Some(app)) => {
                self.google_exchange(account, app, code, verifier, redirect_url).await?
            }
            _ => {
                self.meta_exchange(account, prev.as_ref(), code, verifier, &redirect)
                    .await?
            }
        };
        self.store(&account.name, &kind)?;
        self.health().update(&account.name, |h| {
            h.invalid = None;
            h.last_error = None;
            h.last_refresh = Some(Utc::now());
        });
        Ok(kind)
    }

    async fn google_exchange(
        &self,
        account: &Account,
        app: GoogleApp,
        code: Secret,
        verifier: PkceCodeVerifier,
        redirect_url: RedirectUrl,
    ) -> Result<CredentialKind, AuthError> {
        let ep = endpoints::google(account, self.env());
        let client = BasicClient::new(ClientId::new(app.client_id.clone()))
            .set_client_secret(ClientSecret::new(app.client_secret.expose().to_string()))
            .set_token_uri(url_of(TokenUrl::new(ep.token_url.clone()))?)
            .set_redirect_uri(redirect_url)
            .set_auth_type(AuthType::RequestBody);
        let http = TracedOAuth {
            http: self.http(),
            request_id: GOOGLE_REQUEST_ID,
        };
        let token = client
            .exchange_code(AuthorizationCode::new(code.expose().to_string()))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .instrument(trace::token("google_ads", &account.name, &ep.token_url))
            .await
            .map_err(|e| token_error(&account.name, &ep.token_url, e))?;
        let access = Secret::new(token.access_token().secret().clone());
        let refresh = token.refresh_token().map(|r| Secret::new(r.secret().clone())).ok_or_else(|| {
            login_err(
                "Google returned no refresh token",
                "remove adsctl's access at myaccount.google.com/permissions, then log in again (consent must be given anew)",
            )
        })?;
        let expires_at = token
            .expires_in()
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| Utc::now() + d);
        Ok(CredentialKind::GoogleAds(GoogleCredentials {
            client_id: app.client_id,
            client_secret: app.client_secret,
            developer_token: app.developer_token,
            refresh_token: refresh,
            access_token: Some(access),
            access_token_expires_at: expires_at,
            login_customer_id: account.login_customer_id.clone(),
        }))
    }

    async fn meta_exchange(
        &self,
        account: &Account,
        prev: Option<&CredentialKind>,
        code: Secret,
        verifier: PkceCodeVerifier,
        redirect: &str,
    ) -> Result<CredentialKind, AuthError> {
        let app = meta_app(self, account, prev)?;
        let ep = endpoints::meta(account, self.env());
        let short = meta_get(
            self,
            &ep,
            &account.name,
            "oauth/access_token",
            &[
                ("client_id", app.app_id.as_str()),
                ("redirect_uri", redirect),
                ("client_secret", app.app_secret.expose()),
                ("code", code.expose()),
                ("code_verifier", verifier.secret()),
            ],
        )
        .await?;
        let short = token_field(&short, Platform::Meta)?;
        let (long, expires_at) = meta_long_lived(self, &ep, &account.name, &app, &short).await?;
        Ok(CredentialKind::Meta(MetaCredentials {
            access_token: long,
            token_kind: MetaTokenKind::LongLivedUser,
            expires_at,
            app_id: Some(app.app_id),
            app_secret: Some(app.app_secret),
        }))
    }
}

fn url_of<T>(r: Result<T, url::ParseError>) -> Result<T, AuthError> {
    r.map_err(|e| AuthError::Config {
        message: format!("bad OAuth endpoint URL: {e}"),
        hint: "check ADSCTL_*_ENDPOINT and the account's endpoint".into(),
    })
}

/// `access_token` of a token response, as a registered secret.
pub(crate) fn token_field(v: &serde_json::Value, platform: Platform) -> Result<Secret, AuthError> {
    v.get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| AuthError::Api {
            platform,
            message: "the token response has no access_token".into(),
            hint: "check the endpoint (ADSCTL_*_ENDPOINT)".into(),
        })
}

/// `fb_exchange_token`: a short- (or long-) lived user token → a fresh long-lived one (about 60 days).
pub(crate) async fn meta_long_lived(
    auth: &Auth,
    ep: &MetaEndpoints,
    account: &str,
    app: &MetaApp,
    token: &Secret,
) -> Result<(Secret, Option<chrono::DateTime<Utc>>), AuthError> {
    let v = meta_get(
        auth,
        ep,
        account,
        "oauth/access_token",
        &[
            ("grant_type", "fb_exchange_token"),
            ("client_id", app.app_id.as_str()),
            ("client_secret", app.app_secret.expose()),
            ("fb_exchange_token", token.expose()),
        ],
    )
    .await?;
    let long = token_field(&v, Platform::Meta)?;
    let expires_at = v
        .get("expires_in")
        .and_then(|e| e.as_i64().or_else(|| e.as_str().and_then(|s| s.parse().ok())))
        .map(|s| Utc::now() + chrono::Duration::seconds(s));
    Ok((long, expires_at))
}

/// A Graph GET (`{graph}/v25.0/{path}`, or unversioned when `path` starts with `/`). Errors are mapped from
/// Meta's envelope; code 190 / 102 (token invalid or expired) becomes [`AuthError::Invalid`]. No secret of the
/// query ever reaches an error.
pub(crate) async fn meta_get(
    auth: &Auth,
    ep: &MetaEndpoints,
    account: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<serde_json::Value, AuthError> {
    // the query (tokens, secrets, codes) stays out of the span: the path only
    let span = trace::request("meta", account, "GET", path);
    meta_get_in_span(auth, ep, account, path, query).instrument(span).await
}

async fn meta_get_in_span(
    auth: &Auth,
    ep: &MetaEndpoints,
    account: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<serde_json::Value, AuthError> {
    let url = if path.starts_with('/') {
        format!("{}{}", ep.graph_base, path)
    } else {
        ep.versioned(path)
    };
    let resp = auth
        .http()
        .get(&url)
        .query(query)
        .send()
        .await
        .map_err(|e| transport(&url, e))?;
    let status = resp.status();
    trace::record_response(status.as_u16(), resp.headers(), META_REQUEST_ID);
    tracing::debug!(status = status.as_u16(), "Meta auth response");
    let body: serde_json::Value = resp.json().await.map_err(|e| transport(&url, e))?;
    if let Some(err) = body.get("error") {
        return Err(meta_error(account, err));
    }
    if !status.is_success() {
        return Err(AuthError::Api {
            platform: Platform::Meta,
            message: format!("HTTP {status} from {url}"),
            hint: "retry later".into(),
        });
    }
    Ok(body)
}

pub(crate) fn meta_error(account: &str, err: &serde_json::Value) -> AuthError {
    let code = err.get("code").and_then(|c| c.as_i64()).unwrap_or_default();
    let sub = err.get("error_subcode").and_then(|c| c.as_i64());
    let message = scrub(err.get("message").and_then(|m| m.as_str()).unwrap_or("unknown error"));
    let message = match sub {
        Some(s) => format!("{message} (code {code}, subcode {s})"),
        None => format!("{message} (code {code})"),
    };
    if code == 190 || code == 102 {
        AuthError::Invalid {
            account: account.to_string(),
            message,
            hint: format!(
                "the token was revoked or has expired: run `adsctl auth login {account}` (or `adsctl auth set-token {account}` for a system-user token)"
            ),
        }
    } else {
        AuthError::Api {
            platform: Platform::Meta,
            message,
            hint: "see the message; retry later if it is a rate limit".into(),
        }
    }
}

/// A transport error without its URL's query (which may carry secrets).
pub(crate) fn transport(url: &str, e: reqwest::Error) -> AuthError {
    let base = url.split('?').next().unwrap_or(url).to_string();
    AuthError::Transport {
        url: base,
        message: scrub(&e.without_url().to_string()),
    }
}

type OAuthTokenError =
    RequestTokenError<oauth2::HttpClientError<reqwest::Error>, oauth2::StandardErrorResponse<BasicErrorResponseType>>;

/// Map an OAuth token-endpoint error. `invalid_grant` (revoked or expired refresh token / used code) becomes
/// [`AuthError::Invalid`]. Response bodies are never quoted (they may hold tokens).
pub(crate) fn token_error(account: &str, token_url: &str, e: OAuthTokenError) -> AuthError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let desc = r
                .error_description()
                .map(|d| format!(": {}", scrub(d)))
                .unwrap_or_default();
            let message = format!("{}{desc}", r.error());
            match r.error() {
                BasicErrorResponseType::InvalidGrant => AuthError::Invalid {
                    account: account.to_string(),
                    message,
                    hint: format!(
                        "the refresh token was revoked or has expired: run `adsctl auth login {account}` to grant access again"
                    ),
                },
                BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => AuthError::Config {
                    message: format!("the OAuth client was refused ({message})"),
                    hint: format!("check {} and {}", env_names::GOOGLE_CLIENT_ID, env_names::GOOGLE_CLIENT_SECRET),
                },
                _ => AuthError::Api {
                    platform: Platform::GoogleAds,
                    message,
                    hint: "retry; if it persists, log in again".into(),
                },
            }
        }
        RequestTokenError::Request(e) => AuthError::Transport {
            url: token_url.to_string(),
            message: scrub(&e.to_string()),
        },
        RequestTokenError::Parse(_, _) => AuthError::Api {
            platform: Platform::GoogleAds,
            message: format!("unexpected response from {token_url}"),
            hint: "check ADSCTL_GOOGLE_OAUTH_ENDPOINT".into(),
        },
        RequestTokenError::Other(o) => AuthError::Api {
            platform: Platform::GoogleAds,
            message: scrub(&o),
            hint: "retry".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_state_is_checked() {
        let state = Secret::new("expected-state-123456");
        let mut p = HashMap::new();
        p.insert("code".to_string(), "c0de-value-xyz".to_string());
        p.insert("state".to_string(), "other-state-12345678".to_string());
        assert!(read_callback(&p, &state).is_none());
        p.insert("state".to_string(), "expected-state-123456".to_string());
        assert!(matches!(read_callback(&p, &state), Some(Callback::Code(_))));
        let pasted = parse_pasted("http://127.0.0.1:5/callback?state=expected-state-123456&code=abc%2Fdef");
        match read_callback(&pasted, &state) {
            Some(Callback::Code(c)) => assert_eq!(c.expose(), "abc/def"),
            _ => panic!("pasted URL not accepted"),
        }
    }
}
