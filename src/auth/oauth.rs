//! `adsctl auth login`: OAuth 2.0 authorization code with PKCE through a loopback redirect.
//!
//! The flow is two steps that the CLI and the daemon share: [`Auth::begin_login`] (the authorization URL, the
//! `state`, the PKCE verifier) and [`Auth::finish_login`] (the redirect's `state` checked, the code exchanged,
//! the credentials stored). The CLI waits for the redirect on its own loopback listener; `adsctl watch` receives
//! it on `GET /api/v1/oauth/callback` (`crate::reconcile::api`).
//!
//! A listener on `127.0.0.1:<random port>` receives the redirect; the `state` is checked (constant time) and
//! the first matching callback is the only one accepted; the wait times out. With `--no-browser` the user may
//! instead paste the URL the browser was redirected to. The authorization URL, the name of the code's parameter
//! and the exchange of the code are the platform's (`PlatformAuth`, in its home's `auth.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use chrono::Utc;
use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier};
use tokio::sync::{mpsc, oneshot};

use super::platform::{flow, LoginRequest};
use super::{Auth, AuthError, CredentialKind};
use crate::model::{Account, Platform};
use crate::secret::{scrub, Secret};

/// How to run a login.
pub struct LoginOptions {
    /// How long to wait for the redirect.
    pub timeout: Duration,
    /// Called with the authorization URL once the listener is up (the CLI prints it and opens a browser).
    pub on_url: Box<dyn FnOnce(&str) + Send>,
    /// Redirect URLs pasted by the user (`--no-browser`); the first one with the right `state` wins.
    pub pasted: Option<mpsc::Receiver<String>>,
}

pub(crate) fn login_err(message: impl Into<String>, hint: impl Into<String>) -> AuthError {
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
fn read_callback(params: &HashMap<String, String>, state: &Secret, code_param: &str) -> Option<Callback> {
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
    params.get(code_param).map(|c| Callback::Code(Secret::new(c.clone())))
}

struct ListenerState {
    state: Secret,
    code_param: &'static str,
    tx: Mutex<Option<oneshot::Sender<Callback>>>,
}

async fn callback(
    State(st): State<Arc<ListenerState>>,
    Query(params): Query<HashMap<String, String>>,
) -> (StatusCode, Html<&'static str>) {
    let Some(cb) = read_callback(&params, &st.state, st.code_param) else {
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

/// A login begun ([`Auth::begin_login`]): what the platform's redirect is checked against and what its code is
/// exchanged with. Holds the PKCE verifier: keep it in memory only, use it once.
pub struct PendingLogin {
    account: Account,
    state: Secret,
    verifier: PkceCodeVerifier,
    redirect: String,
    code_param: &'static str,
    previous: Option<CredentialKind>,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("account", &self.account.name)
            .field("redirect", &self.redirect)
            .finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// The account being connected.
    pub fn account(&self) -> &Account {
        &self.account
    }
    /// Whether `state` (a redirect's `state` parameter) is this login's, compared in constant time.
    pub fn state_matches(&self, state: &str) -> bool {
        ct_eq(state, self.state.expose())
    }
}

impl Auth {
    /// Run the login flow for an account and store the result in the vault.
    pub async fn login(&self, account: &Account, opts: LoginOptions) -> Result<CredentialKind, AuthError> {
        let res = self.login_inner(account, opts).await;
        self.audit(&account.name, "auth.login", res.as_ref().map(|_| ()));
        res
    }

    /// Begin an authorization-code login with PKCE whose redirect comes back to `redirect` (the CLI's loopback
    /// listener, or the daemon's `/api/v1/oauth/callback`): the URL the user opens, and what
    /// [`Auth::finish_login`] completes it with. Fails before any browser is involved when the platform's app
    /// settings or the master key are missing.
    pub fn begin_login(&self, account: &Account, redirect: &str) -> Result<(url::Url, PendingLogin), AuthError> {
        let platform = flow(account.platform).ok_or_else(|| AuthError::Config {
            message: format!("{} accounts hold no credentials", account.platform),
            hint: format!("accounts of {} can log in", crate::platforms::supported_names()),
        })?;
        let previous = self.stored(&account.name)?;
        // Check the master key before the user goes through the browser.
        self.key_ring(true)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        crate::secret::register(verifier.secret());
        let state = Secret::new(CsrfToken::new_random().secret().clone());
        let url = platform.authorize_url(
            self,
            account,
            previous.as_ref(),
            LoginRequest {
                redirect: redirect.to_string(),
                state: state.clone(),
                challenge,
            },
        )?;
        Ok((
            url,
            PendingLogin {
                account: account.clone(),
                state,
                verifier,
                redirect: redirect.to_string(),
                code_param: platform.code_param(),
                previous,
            },
        ))
    }

    /// Complete a login with the query parameters of the platform's redirect: the `state` is checked (constant
    /// time), the code exchanged with the PKCE verifier, the credentials stored in the vault. Not audited here
    /// (the caller does, with who asked).
    pub async fn finish_login(
        &self,
        pending: PendingLogin,
        params: &HashMap<String, String>,
    ) -> Result<CredentialKind, AuthError> {
        match read_callback(params, &pending.state, pending.code_param) {
            Some(cb) => self.complete_login(pending, cb).await,
            None => Err(login_err(
                "the redirect does not carry this login's state",
                "start the connection again",
            )),
        }
    }

    async fn complete_login(&self, pending: PendingLogin, cb: Callback) -> Result<CredentialKind, AuthError> {
        let code = match cb {
            Callback::Code(c) => c,
            Callback::Denied(why) => {
                return Err(login_err(
                    format!("the platform refused the authorization ({why})"),
                    "approve the requested access (ads management) when asked",
                ))
            }
        };
        let platform = flow(pending.account.platform).ok_or_else(|| AuthError::Config {
            message: format!("{} accounts hold no credentials", pending.account.platform),
            hint: format!("accounts of {} can log in", crate::platforms::supported_names()),
        })?;
        let account = &pending.account;
        let kind = platform
            .exchange(
                self,
                account,
                pending.previous.as_ref(),
                code,
                pending.verifier,
                &pending.redirect,
            )
            .await?;
        self.store(&account.name, &kind)?;
        self.health().update(&account.name, |h| {
            h.invalid = None;
            h.last_error = None;
            h.last_refresh = Some(Utc::now());
        });
        Ok(kind)
    }

    async fn login_inner(&self, account: &Account, opts: LoginOptions) -> Result<CredentialKind, AuthError> {
        if flow(account.platform).is_none() {
            return Err(AuthError::Config {
                message: format!("{} accounts hold no credentials", account.platform),
                hint: format!("accounts of {} can log in", crate::platforms::supported_names()),
            });
        }
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
        let (auth_url, pending) = self.begin_login(account, &redirect)?;
        let state = pending.state.clone();
        let code_param = pending.code_param;

        let (tx, mut rx) = oneshot::channel();
        let shared = Arc::new(ListenerState {
            state: state.clone(),
            code_param,
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
                        Some(text) => match read_callback(&parse_pasted(&text), &state, code_param) {
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
        self.complete_login(pending, outcome?).await
    }
}

pub(crate) fn url_of<T>(r: Result<T, url::ParseError>) -> Result<T, AuthError> {
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

/// A transport error without its URL's query (which may carry secrets).
pub(crate) fn transport(url: &str, e: reqwest::Error) -> AuthError {
    let base = url.split('?').next().unwrap_or(url).to_string();
    AuthError::Transport {
        url: base,
        message: scrub(&e.without_url().to_string()),
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
        assert!(read_callback(&p, &state, "code").is_none());
        p.insert("state".to_string(), "expected-state-123456".to_string());
        assert!(matches!(read_callback(&p, &state, "code"), Some(Callback::Code(_))));
        let pasted = parse_pasted("http://127.0.0.1:5/callback?state=expected-state-123456&code=abc%2Fdef");
        match read_callback(&pasted, &state, "code") {
            Some(Callback::Code(c)) => assert_eq!(c.expose(), "abc/def"),
            _ => panic!("pasted URL not accepted"),
        }
    }
}
