//! Integrations: login flows through the real loopback listener, the encrypted vault, rotation, status,
//! validation, the audit log and redaction. The platforms are played by a fake OAuth + API server started here on
//! 127.0.0.1:0 (it checks PKCE, state, client secrets and appsecret_proof, and records every secret it mints
//! or receives, so the redaction test can look for all of them).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adsctl::auth::{self, Auth, AuthError, CredentialKind, CredentialSource, EnvFn, LoginOptions, TokenStatus};
use adsctl::model::Account;
use adsctl::platforms::google_ads::auth::GoogleCredentials;
use adsctl::platforms::meta::auth::{MetaCredentials, MetaTokenKind};
use axum::extract::{Form, Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

mod common;

const G_CLIENT_ID: &str = "test-client.apps.example";
const G_CLIENT_SECRET: &str = "gcs-SECRET-client-7f3a9c";
const G_DEV_TOKEN: &str = "devtok-SECRET-51e2b8";
const M_APP_ID: &str = "424242424242";
const M_APP_SECRET: &str = "mas-SECRET-app-0c4d1e";
const G_CUSTOMER: &str = "1234567890";
const M_ACT: &str = "act_9876543210";

mod fake {
    use super::*;

    #[derive(Default)]
    pub struct St {
        n: u64,
        /// code → (platform, client id, redirect uri, pkce challenge)
        codes: HashMap<String, (&'static str, String, String, String)>,
        pub google_refresh: HashMap<String, bool>,
        google_access: HashSet<String>,
        /// meta token → (valid, long-lived)
        pub meta_tokens: HashMap<String, (bool, bool)>,
        /// Every secret minted or received (codes, tokens, verifiers, proofs).
        pub secrets: Vec<String>,
        pub hits: Vec<String>,
    }

    impl St {
        fn mint(&mut self, prefix: &str) -> String {
            self.n += 1;
            let s = format!("{prefix}SECRET-{}-{:x}", self.n, rand_u64());
            self.secrets.push(s.clone());
            s
        }
    }

    fn rand_u64() -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(7);
        h.finish()
    }

    pub type Shared = Arc<Mutex<St>>;

    pub struct Server {
        pub base: String,
        pub st: Shared,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: Option<tokio::task::JoinHandle<()>>,
    }

    impl Server {
        pub async fn start() -> Server {
            let st: Shared = Arc::default();
            let app = axum::Router::new()
                .route("/o/oauth2/v2/auth", get(google_authorize))
                .route("/token", post(google_token))
                .route("/v25/customers:listAccessibleCustomers", get(google_list))
                .route("/v25/customers/{cid}/googleAds:search", post(google_search))
                .route("/v25.0/dialog/oauth", get(meta_dialog))
                .route("/v25.0/oauth/access_token", get(meta_token))
                .route("/debug_token", get(meta_debug))
                .route("/v25.0/{node}", get(meta_node))
                .with_state(st.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
            Server {
                base,
                st,
                stop: Some(tx),
                task: Some(task),
            }
        }

        pub async fn stop(mut self) {
            if let Some(s) = self.stop.take() {
                let _ = s.send(());
            }
            if let Some(t) = self.task.take() {
                let _ = t.await;
            }
        }

        pub fn secrets(&self) -> Vec<String> {
            self.st.lock().unwrap().secrets.clone()
        }

        /// A system-user token made in Business Manager (not through OAuth).
        pub fn add_system_user_token(&self, token: &str) {
            self.st
                .lock()
                .unwrap()
                .meta_tokens
                .insert(token.to_string(), (true, false));
        }

        pub fn revoke_all(&self) {
            let mut s = self.st.lock().unwrap();
            for v in s.google_refresh.values_mut() {
                *v = false;
            }
            s.google_access.clear();
            for v in s.meta_tokens.values_mut() {
                v.0 = false;
            }
        }
    }

    fn challenge_of(verifier: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }

    fn redirect_with_code(st: &Shared, platform: &'static str, q: &HashMap<String, String>) -> Response {
        let (Some(redirect), Some(state), Some(ch)) = (q.get("redirect_uri"), q.get("state"), q.get("code_challenge"))
        else {
            return (StatusCode::BAD_REQUEST, "missing redirect_uri/state/code_challenge").into_response();
        };
        assert!(redirect.starts_with("http://127.0.0.1:"), "redirect {redirect}");
        assert_eq!(q.get("code_challenge_method").map(String::as_str), Some("S256"));
        let mut s = st.lock().unwrap();
        let code = s.mint("4/code-");
        let client = q.get("client_id").cloned().unwrap_or_default();
        s.codes
            .insert(code.clone(), (platform, client, redirect.clone(), ch.clone()));
        let target = format!(
            "{redirect}?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("state", state)
                .append_pair("code", &code)
                .finish()
        );
        Redirect::to(&target).into_response()
    }

    async fn google_authorize(State(st): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
        st.lock().unwrap().hits.push("google_authorize".into());
        assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
        assert_eq!(q.get("client_id").map(String::as_str), Some(G_CLIENT_ID));
        assert_eq!(
            q.get("scope").map(String::as_str),
            Some("https://www.googleapis.com/auth/adwords")
        );
        assert_eq!(q.get("access_type").map(String::as_str), Some("offline"));
        assert_eq!(q.get("prompt").map(String::as_str), Some("consent"));
        redirect_with_code(&st, "google", &q)
    }

    fn oauth_error(code: &str, desc: &str) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": code, "error_description": desc})),
        )
            .into_response()
    }

    async fn google_token(State(st): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
        let mut s = st.lock().unwrap();
        s.hits.push(format!(
            "google_token:{}",
            f.get("grant_type").cloned().unwrap_or_default()
        ));
        if f.get("client_id").map(String::as_str) != Some(G_CLIENT_ID)
            || f.get("client_secret").map(String::as_str) != Some(G_CLIENT_SECRET)
        {
            return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
        }
        match f.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                let code = f.get("code").cloned().unwrap_or_default();
                let Some((platform, _, redirect, ch)) = s.codes.remove(&code) else {
                    return oauth_error("invalid_grant", "Malformed auth code.");
                };
                let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                s.secrets.push(verifier.clone());
                if platform != "google" || f.get("redirect_uri") != Some(&redirect) || challenge_of(&verifier) != ch {
                    return oauth_error("invalid_grant", "PKCE or redirect mismatch");
                }
                let access = s.mint("ya29.");
                let refresh = s.mint("1//");
                s.google_access.insert(access.clone());
                s.google_refresh.insert(refresh.clone(), true);
                Json(
                    json!({"access_token": access, "expires_in": 3599, "refresh_token": refresh,
                    "scope": "https://www.googleapis.com/auth/adwords", "token_type": "Bearer"}),
                )
                .into_response()
            }
            Some("refresh_token") => {
                let r = f.get("refresh_token").cloned().unwrap_or_default();
                if s.google_refresh.get(&r) != Some(&true) {
                    return oauth_error("invalid_grant", "Token has been expired or revoked.");
                }
                let access = s.mint("ya29.");
                s.google_access.insert(access.clone());
                Json(
                    json!({"access_token": access, "expires_in": 3599, "token_type": "Bearer",
                    "scope": "https://www.googleapis.com/auth/adwords"}),
                )
                .into_response()
            }
            _ => oauth_error("unsupported_grant_type", "?"),
        }
    }

    fn google_authorized(s: &St, h: &HeaderMap) -> Option<Response> {
        let bearer = h
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let dev = h
            .get("developer-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !s.google_access.contains(bearer) || dev != G_DEV_TOKEN {
            return Some(
                (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
                        "message": "Request had invalid authentication credentials.",
                        "details": [{"@type": "type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure",
                            "errors": [{"errorCode": {"authenticationError": "OAUTH_TOKEN_INVALID"},
                                "message": "Oauth token is invalid."}], "requestId": "r1"}]}})),
                )
                    .into_response(),
            );
        }
        None
    }

    async fn google_list(State(st): State<Shared>, h: HeaderMap) -> Response {
        let s = st.lock().unwrap();
        if let Some(r) = google_authorized(&s, &h) {
            return r;
        }
        Json(json!({"resourceNames": [format!("customers/{G_CUSTOMER}")]})).into_response()
    }

    async fn google_search(
        State(st): State<Shared>,
        AxPath(cid): AxPath<String>,
        h: HeaderMap,
        Json(body): Json<serde_json::Value>,
    ) -> Response {
        let s = st.lock().unwrap();
        if let Some(r) = google_authorized(&s, &h) {
            return r;
        }
        assert!(body["query"].as_str().unwrap().contains("FROM customer"));
        Json(
            json!({"results": [{"customer": {"resourceName": format!("customers/{cid}"), "id": cid,
            "descriptiveName": "Acme Search", "currencyCode": "USD", "timeZone": "America/New_York"}}],
            "fieldMask": "customer.id,customer.descriptiveName,customer.currencyCode,customer.timeZone"}),
        )
        .into_response()
    }

    async fn meta_dialog(State(st): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
        assert_eq!(q.get("client_id").map(String::as_str), Some(M_APP_ID));
        assert_eq!(q.get("scope").map(String::as_str), Some("ads_management,ads_read"));
        redirect_with_code(&st, "meta", &q)
    }

    fn meta_err(code: i64, sub: Option<i64>, msg: &str) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": msg, "type": "OAuthException", "code": code,
                "error_subcode": sub, "fbtrace_id": "AbCdEf"}})),
        )
            .into_response()
    }

    async fn meta_token(State(st): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
        let mut s = st.lock().unwrap();
        if q.get("client_id").map(String::as_str) != Some(M_APP_ID)
            || q.get("client_secret").map(String::as_str) != Some(M_APP_SECRET)
        {
            return meta_err(1, None, "Error validating client secret.");
        }
        if q.get("grant_type").map(String::as_str) == Some("fb_exchange_token") {
            s.hits.push("meta_fb_exchange".into());
            let t = q.get("fb_exchange_token").cloned().unwrap_or_default();
            if s.meta_tokens.get(&t).map(|v| v.0) != Some(true) {
                return meta_err(
                    190,
                    Some(460),
                    "Error validating access token: session has been invalidated",
                );
            }
            let long = s.mint("EAAlong");
            s.meta_tokens.insert(long.clone(), (true, true));
            return Json(json!({"access_token": long, "token_type": "bearer", "expires_in": 5183944})).into_response();
        }
        s.hits.push("meta_code".into());
        let code = q.get("code").cloned().unwrap_or_default();
        let Some((platform, _, redirect, ch)) = s.codes.remove(&code) else {
            return meta_err(100, Some(36009), "This authorization code has been used.");
        };
        let verifier = q.get("code_verifier").cloned().unwrap_or_default();
        s.secrets.push(verifier.clone());
        if platform != "meta" || q.get("redirect_uri") != Some(&redirect) || challenge_of(&verifier) != ch {
            return meta_err(100, None, "Invalid redirect_uri or code_verifier");
        }
        let short = s.mint("EAAshort");
        s.meta_tokens.insert(short.clone(), (true, false));
        Json(json!({"access_token": short, "token_type": "bearer", "expires_in": 5400})).into_response()
    }

    async fn meta_debug(State(st): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
        let s = st.lock().unwrap();
        let input = q.get("input_token").cloned().unwrap_or_default();
        assert_eq!(
            q.get("access_token").cloned().unwrap_or_default(),
            format!("{M_APP_ID}|{M_APP_SECRET}")
        );
        match s.meta_tokens.get(&input) {
            Some((true, long)) => Json(json!({"data": {"app_id": M_APP_ID, "type": if *long {"USER"} else {"SYSTEM_USER"},
                "application": "adsctl test", "is_valid": true, "expires_at": if *long {1_900_000_000} else {0},
                "issued_at": 1_700_000_000, "scopes": ["ads_management", "ads_read"], "user_id": "1"}}))
            .into_response(),
            _ => Json(json!({"data": {"app_id": M_APP_ID, "is_valid": false,
                "error": {"code": 190, "message": "Error validating access token: The user has not authorized application."}}}))
            .into_response(),
        }
    }

    async fn meta_node(
        State(st): State<Shared>,
        AxPath(node): AxPath<String>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        let mut s = st.lock().unwrap();
        let token = q.get("access_token").cloned().unwrap_or_default();
        if s.meta_tokens.get(&token).map(|v| v.0) != Some(true) {
            return meta_err(190, Some(460), "Error validating access token");
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(M_APP_SECRET.as_bytes()).unwrap();
        mac.update(token.as_bytes());
        let proof = hex::encode(mac.finalize().into_bytes());
        s.secrets.push(proof.clone());
        if q.get("appsecret_proof") != Some(&proof) {
            return meta_err(100, None, "Invalid appsecret_proof provided in the API argument");
        }
        assert_eq!(node, M_ACT);
        Json(json!({"id": node, "name": "Acme Social", "currency": "USD",
            "timezone_name": "America/Los_Angeles", "account_status": 1}))
        .into_response()
    }
}

/// A project directory with one account per platform.
fn project(dir: &Path) {
    std::fs::write(
        dir.join("adsctl.yaml"),
        format!(
            "accounts:\n  acme-search:\n    platform: google_ads\n    customer_id: 123-456-7890\n    currency: USD\n  \
             acme-social:\n    platform: meta\n    ad_account_id: {M_ACT}\n    currency: USD\n"
        ),
    )
    .unwrap();
}

fn env_of(pairs: &[(&str, String)]) -> EnvFn {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Arc::new(move |k| map.get(k).cloned())
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    key_file: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    project(&root);
    let key_file = tmp.path().join("config/adsctl/master.key");
    Setup {
        _tmp: tmp,
        root,
        key_file,
    }
}

impl Setup {
    /// Endpoints and key file only: no credentials in the environment.
    fn base_env(&self, server: &fake::Server) -> Vec<(&'static str, String)> {
        vec![
            ("ADSCTL_KEY_FILE", self.key_file.display().to_string()),
            ("ADSCTL_GOOGLE_ADS_ENDPOINT", server.base.clone()),
            ("ADSCTL_META_ENDPOINT", server.base.clone()),
        ]
    }
    fn login_env(&self, server: &fake::Server) -> Vec<(&'static str, String)> {
        let mut e = self.base_env(server);
        e.extend([
            ("GOOGLE_ADS_CLIENT_ID", G_CLIENT_ID.to_string()),
            ("GOOGLE_ADS_CLIENT_SECRET", G_CLIENT_SECRET.to_string()),
            ("GOOGLE_ADS_DEVELOPER_TOKEN", G_DEV_TOKEN.to_string()),
            ("FACEBOOK_APP_ID", M_APP_ID.to_string()),
            ("FACEBOOK_APP_SECRET", M_APP_SECRET.to_string()),
        ]);
        e
    }
    fn accounts(&self) -> Vec<Account> {
        auth::project::load_accounts(&self.root).unwrap().1
    }
    fn account(&self, name: &str) -> Account {
        self.accounts().into_iter().find(|a| a.name == name).unwrap()
    }
}

/// The user's browser: follows the authorization URL, which redirects to the loopback listener.
fn browser() -> Box<dyn FnOnce(&str) + Send> {
    Box::new(|url: &str| {
        let url = url.to_string();
        tokio::spawn(async move {
            let resp = reqwest::get(&url).await.expect("browser request");
            assert!(resp.status().is_success(), "callback page: {}", resp.status());
        });
    })
}

fn opts(on_url: Box<dyn FnOnce(&str) + Send>) -> LoginOptions {
    LoginOptions {
        timeout: Duration::from_secs(20),
        on_url,
        pasted: None,
    }
}

mod flows {
    use super::*;

    #[tokio::test]
    async fn google_login_then_stored_tokens_work_without_env_credentials() {
        let server = fake::Server::start().await;
        let s = setup();
        let acct = s.account("acme-search");
        let login = Auth::with_env(&s.root, env_of(&s.login_env(&server)));
        let kind = login.login(&acct, opts(browser())).await.unwrap();
        let Some(g) = kind.get::<GoogleCredentials>() else {
            panic!("google expected")
        };
        assert!(g.refresh_token.expose().starts_with("1//SECRET"));

        // A later process with no credentials in its environment.
        let later = Auth::with_env(&s.root, env_of(&s.base_env(&server)));
        let creds = later.credentials(&acct).unwrap();
        assert_eq!(creds.source, CredentialSource::Vault);
        let v = later.validate(&acct).await.unwrap();
        assert_eq!(v.name.as_deref(), Some("Acme Search"));
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
        // Refresh rotates the access token and stores it.
        let before = creds.get::<GoogleCredentials>().unwrap().access_token.clone();
        let after = later.refresh(&acct).await.unwrap();
        assert_ne!(after.get::<GoogleCredentials>().unwrap().access_token, before);
        assert_eq!(
            later
                .credentials(&acct)
                .unwrap()
                .get::<GoogleCredentials>()
                .unwrap()
                .access_token,
            after.get::<GoogleCredentials>().unwrap().access_token
        );
        let rows = later.status(&s.accounts());
        let row = rows.iter().find(|r| r.account == "acme-search").unwrap();
        assert_eq!(row.status, TokenStatus::Active);
        assert!(row.last_validation.is_some());
        let hits = server.st.lock().unwrap().hits.clone();
        assert!(
            hits.contains(&"google_token:authorization_code".to_string()),
            "{hits:?}"
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn meta_login_exchanges_for_a_long_lived_token() {
        let server = fake::Server::start().await;
        let s = setup();
        let acct = s.account("acme-social");
        let login = Auth::with_env(&s.root, env_of(&s.login_env(&server)));
        let kind = login.login(&acct, opts(browser())).await.unwrap();
        let Some(m) = kind.get::<MetaCredentials>() else {
            panic!("meta expected")
        };
        assert!(
            m.access_token.expose().starts_with("EAAlong"),
            "long-lived token stored"
        );
        let days = (m.expires_at.unwrap() - chrono::Utc::now()).num_days();
        assert!((58..=60).contains(&days), "{days}");

        let later = Auth::with_env(&s.root, env_of(&s.base_env(&server)));
        assert_eq!(later.credentials(&acct).unwrap().source, CredentialSource::Vault);
        let v = later.validate(&acct).await.unwrap();
        assert_eq!(v.name.as_deref(), Some("Acme Social"));
        assert!(v.scopes.contains(&"ads_management".to_string()));
        let hits = server.st.lock().unwrap().hits.clone();
        assert_eq!(hits, vec!["meta_code", "meta_fb_exchange"]);
        server.stop().await;
    }

    #[tokio::test]
    async fn meta_token_is_re_exchanged_well_before_it_ends() {
        let server = fake::Server::start().await;
        let s = setup();
        let acct = s.account("acme-social");
        let a = Auth::with_env(&s.root, env_of(&s.login_env(&server)));
        let kind = a.login(&acct, opts(browser())).await.unwrap();
        // Pretend 45 days went by: 15 days left, inside the re-exchange window.
        let Some(mut m) = kind.get::<MetaCredentials>().cloned() else {
            panic!()
        };
        m.expires_at = Some(chrono::Utc::now() + chrono::Duration::days(15));
        let old = m.access_token.clone();
        a.store(&acct.name, &CredentialKind::new(m)).unwrap();
        let later = Auth::with_env(&s.root, env_of(&s.base_env(&server)));
        let refreshed = later.rotate_due(&s.accounts()).await;
        assert_eq!(refreshed.len(), 1, "only the Meta account is due");
        assert!(refreshed[0].1.is_ok());
        let m = later.credentials(&acct).unwrap();
        let m = m.get::<MetaCredentials>().unwrap();
        assert_ne!(m.access_token, old);
        assert!((m.expires_at.unwrap() - chrono::Utc::now()).num_days() >= 58);
        assert!(
            later.rotate_due(&s.accounts()).await.is_empty(),
            "nothing due right after"
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn google_access_token_near_its_end_is_refreshed_before_use() {
        let server = fake::Server::start().await;
        let s = setup();
        let acct = s.account("acme-search");
        let a = Auth::with_env(&s.root, env_of(&s.login_env(&server)));
        let Some(mut g) = a
            .login(&acct, opts(browser()))
            .await
            .unwrap()
            .get::<GoogleCredentials>()
            .cloned()
        else {
            panic!()
        };
        g.access_token_expires_at = Some(chrono::Utc::now() + chrono::Duration::minutes(2));
        let old = g.access_token.clone();
        a.store(&acct.name, &CredentialKind::new(g)).unwrap();
        let fresh = a.fresh_credentials(&acct).await.unwrap();
        assert_ne!(fresh.get::<GoogleCredentials>().unwrap().access_token, old);
        server.stop().await;
    }

    #[tokio::test]
    async fn revoked_grants_show_invalid_with_the_fix() {
        let server = fake::Server::start().await;
        let s = setup();
        let a = Auth::with_env(&s.root, env_of(&s.login_env(&server)));
        for name in ["acme-search", "acme-social"] {
            a.login(&s.account(name), opts(browser())).await.unwrap();
        }
        server.revoke_all();
        let g = a.refresh(&s.account("acme-search")).await.unwrap_err();
        assert!(matches!(g, AuthError::Invalid { .. }), "{g:?}");
        assert!(g.hint().contains("adsctl auth login acme-search"));
        let m = a.validate(&s.account("acme-social")).await.unwrap_err();
        assert!(matches!(m, AuthError::Invalid { .. }), "{m:?}");
        for row in a.status(&s.accounts()) {
            assert_eq!(row.status, TokenStatus::Invalid, "{row:?}");
            assert!(row.hint.as_deref().unwrap().contains("adsctl auth login"));
            assert!(row.last_error.is_some());
        }
        // A new login clears it.
        a.login(&s.account("acme-search"), opts(browser())).await.unwrap();
        let rows = a.status(&s.accounts());
        assert_eq!(
            rows.iter().find(|r| r.account == "acme-search").unwrap().status,
            TokenStatus::Active
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn wrong_state_is_ignored_and_the_listener_is_single_use() {
        let server = fake::Server::start().await;
        let s = setup();
        let acct = s.account("acme-search");
        let a = Auth::with_env(&s.root, env_of(&s.login_env(&server)));
        let callback_url = Arc::new(Mutex::new(None::<String>));
        let seen = callback_url.clone();
        let on_url: Box<dyn FnOnce(&str) + Send> = Box::new(move |url: &str| {
            let url = url.to_string();
            tokio::spawn(async move {
                let no_follow = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                let resp = no_follow.get(&url).send().await.unwrap();
                let loc = resp.headers()["location"].to_str().unwrap().to_string();
                // A forged callback (wrong state) is refused and does not end the login.
                let forged = loc.replace("state=", "state=forged");
                assert_eq!(reqwest::get(&forged).await.unwrap().status(), StatusCode::BAD_REQUEST);
                *seen.lock().unwrap() = Some(loc.clone());
                assert!(reqwest::get(&loc).await.unwrap().status().is_success());
            });
        });
        a.login(&acct, opts(on_url)).await.unwrap();
        // Replaying the callback after the login finds no listener.
        let loc = callback_url.lock().unwrap().clone().unwrap();
        assert!(reqwest::get(&loc).await.is_err(), "the listener must be gone");
        server.stop().await;
    }

    #[tokio::test]
    async fn no_browser_accepts_the_pasted_redirect_url() {
        let server = fake::Server::start().await;
        let s = setup();
        let acct = s.account("acme-social");
        let a = Auth::with_env(&s.root, env_of(&s.login_env(&server)));
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let on_url: Box<dyn FnOnce(&str) + Send> = Box::new(move |url: &str| {
            let url = url.to_string();
            tokio::spawn(async move {
                // The browser is on another machine: its redirect never reaches us; the user copies it.
                let no_follow = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                let loc = no_follow.get(&url).send().await.unwrap().headers()["location"]
                    .to_str()
                    .unwrap()
                    .to_string();
                tx.send("not a url at all".to_string()).await.unwrap();
                tx.send(format!("  {loc}  ")).await.unwrap();
            });
        });
        let o = LoginOptions {
            timeout: Duration::from_secs(20),
            on_url,
            pasted: Some(rx),
        };
        a.login(&acct, o).await.unwrap();
        assert!(a.credentials(&acct).unwrap().get::<MetaCredentials>().is_some());
        server.stop().await;
    }

    #[tokio::test]
    async fn login_times_out_with_a_hint() {
        let server = fake::Server::start().await;
        let s = setup();
        let a = Auth::with_env(&s.root, env_of(&s.login_env(&server)));
        let o = LoginOptions {
            timeout: Duration::from_millis(200),
            on_url: Box::new(|_| {}),
            pasted: None,
        };
        let e = a.login(&s.account("acme-search"), o).await.unwrap_err();
        assert!(e.to_string().contains("no redirect within"), "{e}");
        assert!(e.hint().contains("--no-browser"));
        let h = a.audit_log().read().unwrap();
        assert_eq!(h.last().unwrap().action, "auth.login");
        assert!(h.last().unwrap().result.starts_with("error"));
        server.stop().await;
    }
}

mod vault {
    use super::*;

    fn key_env(s: &Setup, key: &str) -> EnvFn {
        env_of(&[
            ("ADSCTL_MASTER_KEY", key.to_string()),
            ("ADSCTL_KEY_FILE", s.key_file.display().to_string()),
            ("GOOGLE_ADS_CLIENT_ID", G_CLIENT_ID.into()),
            ("GOOGLE_ADS_CLIENT_SECRET", G_CLIENT_SECRET.into()),
            ("GOOGLE_ADS_DEVELOPER_TOKEN", G_DEV_TOKEN.into()),
        ])
    }

    #[test]
    fn wrong_master_key_is_a_clear_error_and_loses_nothing() {
        let s = setup();
        let key_a = hex::encode([7u8; 32]);
        let key_b = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let a = Auth::with_env(&s.root, key_env(&s, &key_a));
        let acct = s.account("acme-social");
        a.set_token(&acct, adsctl::secret::Secret::new("EAAsystem-SECRET-user-token"))
            .unwrap();
        let vault_path = a.vault().path().to_path_buf();
        let before = std::fs::read(&vault_path).unwrap();

        let b = Auth::with_env(&s.root, key_env(&s, &key_b));
        let e = b.credentials(&acct).unwrap_err();
        assert!(matches!(e, AuthError::WrongKey { .. }), "{e:?}");
        assert!(e.to_string().contains("sealed with master key"), "{e}");
        assert!(e.hint().contains("ADSCTL_MASTER_KEY"));
        // Writing with the wrong key is refused too, and the vault is untouched.
        let e = b
            .set_token(
                &s.account("acme-search"),
                adsctl::secret::Secret::new("1//other-SECRET-refresh"),
            )
            .unwrap_err();
        assert!(matches!(e, AuthError::WrongKey { .. }), "{e:?}");
        let row = b
            .status(&s.accounts())
            .into_iter()
            .find(|r| r.account == "acme-social")
            .unwrap();
        assert_eq!(row.status, TokenStatus::Error);
        assert_eq!(std::fs::read(&vault_path).unwrap(), before);
        // The right key still opens it.
        let again = Auth::with_env(&s.root, key_env(&s, &key_a));
        assert_eq!(
            again
                .credentials(&acct)
                .unwrap()
                .get::<MetaCredentials>()
                .unwrap()
                .access_token
                .expose(),
            "EAAsystem-SECRET-user-token"
        );
    }

    #[test]
    fn tampered_entries_are_refused() {
        let s = setup();
        let env = env_of(&[("ADSCTL_KEY_FILE", s.key_file.display().to_string())]);
        let a = Auth::with_env(&s.root, env);
        a.set_token(
            &s.account("acme-social"),
            adsctl::secret::Secret::new("EAAsystem-SECRET-zzz"),
        )
        .unwrap();
        let path = a.vault().path().to_path_buf();
        // Move the sealed entry to another account name: the associated data no longer matches.
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let entry = v["accounts"]["acme-social"].clone();
        v["accounts"]["other"] = entry;
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        let mut other = s.account("acme-social");
        other.name = "other".into();
        let e = a.credentials(&other).unwrap_err();
        assert!(matches!(e, AuthError::Vault { .. }), "{e:?}");
    }

    #[test]
    fn rotate_key_reseals_and_keeps_old_vaults_readable() {
        let s = setup();
        let env = env_of(&[("ADSCTL_KEY_FILE", s.key_file.display().to_string())]);
        let a = Auth::with_env(&s.root, env.clone());
        let acct = s.account("acme-social");
        a.set_token(&acct, adsctl::secret::Secret::new("EAAsystem-SECRET-rot"))
            .unwrap();
        let old_id = a.key_ring(false).unwrap().unwrap().current.id();
        // A second project sealed under the old key.
        let other_root = s.root.parent().unwrap().join("other");
        std::fs::create_dir_all(&other_root).unwrap();
        project(&other_root);
        let other = Auth::with_env(&other_root, env.clone());
        other
            .set_token(&acct, adsctl::secret::Secret::new("EAAsystem-SECRET-other"))
            .unwrap();

        let (n, new_id) = a.rotate_key(None, false).unwrap();
        assert_eq!(n, 1);
        assert_ne!(new_id, old_id);
        let file: serde_json::Value = serde_json::from_slice(&std::fs::read(a.vault().path()).unwrap()).unwrap();
        assert_eq!(file["key_id"], new_id.as_str());
        assert_eq!(
            a.credentials(&acct)
                .unwrap()
                .get::<MetaCredentials>()
                .unwrap()
                .access_token
                .expose(),
            "EAAsystem-SECRET-rot"
        );
        assert_eq!(
            other
                .credentials(&acct)
                .unwrap()
                .get::<MetaCredentials>()
                .unwrap()
                .access_token
                .expose(),
            "EAAsystem-SECRET-other"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&s.key_file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn meta_user_tokens_near_their_end_show_expiring_then_expired() {
        let s = setup();
        let a = Auth::with_env(
            &s.root,
            env_of(&[("ADSCTL_KEY_FILE", s.key_file.display().to_string())]),
        );
        let acct = s.account("acme-social");
        let status_with = |days: i64| {
            let m = MetaCredentials {
                access_token: adsctl::secret::Secret::new("EAAuser-SECRET-exp"),
                token_kind: MetaTokenKind::LongLivedUser,
                expires_at: Some(chrono::Utc::now() + chrono::Duration::days(days)),
                app_id: Some(M_APP_ID.into()),
                app_secret: Some(adsctl::secret::Secret::new(M_APP_SECRET)),
            };
            a.store(&acct.name, &CredentialKind::new(m)).unwrap();
            a.status(std::slice::from_ref(&acct)).remove(0)
        };
        assert_eq!(status_with(40).status, TokenStatus::Active);
        let r = status_with(3);
        assert_eq!(r.status, TokenStatus::Expiring);
        assert!(r.hint.unwrap().contains("adsctl auth refresh acme-social"));
        assert_eq!(status_with(-1).status, TokenStatus::Expired);
        // The expiry is readable without the key (clear metadata), the token is not.
        let raw = std::fs::read_to_string(a.vault().path()).unwrap();
        assert!(raw.contains("expires_at") && !raw.contains("EAAuser"));
    }

    #[test]
    fn env_credentials_are_the_fallback_and_the_source_can_be_forced() {
        let s = setup();
        let acct = s.account("acme-social");
        let mut pairs = vec![
            ("ADSCTL_KEY_FILE", s.key_file.display().to_string()),
            ("FACEBOOK_ACCESS_TOKEN", "EAAenv-SECRET-token".to_string()),
        ];
        let a = Auth::with_env(&s.root, env_of(&pairs));
        assert_eq!(a.credentials(&acct).unwrap().source, CredentialSource::Env);
        assert!(matches!(
            a.credentials(&s.account("acme-search")).unwrap_err(),
            AuthError::Missing { .. }
        ));
        a.set_token(&acct, adsctl::secret::Secret::new("EAAvault-SECRET-token"))
            .unwrap();
        assert_eq!(a.credentials(&acct).unwrap().source, CredentialSource::Vault);
        pairs.push(("ADSCTL_AUTH_SOURCE", "env".into()));
        let forced = Auth::with_env(&s.root, env_of(&pairs));
        assert_eq!(forced.credentials(&acct).unwrap().source, CredentialSource::Env);
        assert!(a.logout("acme-social").unwrap());
        assert_eq!(a.credentials(&acct).unwrap().source, CredentialSource::Env);
    }
}

/// The command line, as a user runs it.
mod cli {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};

    fn adsctl(s: &Setup, env: &[(&str, String)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_adsctl"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "trace")
            .env("NO_COLOR", "1")
            .current_dir(&s.root);
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    struct Out {
        code: i32,
        stdout: String,
        stderr: String,
    }

    fn run(mut c: Command, stdin: &str) -> Out {
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// `adsctl auth login`, with this test as the user's browser: read the printed URL, follow it.
    async fn login(s: &Setup, env: &[(&str, String)], account: &str) -> Out {
        let mut c = adsctl(s, env);
        c.args(["-vv", "auth", "login", account, "--timeout", "30"]);
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (url_tx, url_rx) = tokio::sync::oneshot::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut all = String::new();
            let mut tx = Some(url_tx);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if line.trim_start().starts_with("http") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line.trim().to_string());
                    }
                }
                all.push_str(&line);
                line.clear();
            }
            all
        });
        let url = tokio::time::timeout(Duration::from_secs(30), url_rx)
            .await
            .unwrap()
            .unwrap();
        let resp = reqwest::get(&url).await.unwrap();
        assert!(resp.status().is_success());
        let mut stdout = String::new();
        let out = tokio::task::spawn_blocking(move || {
            child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
            let status = child.wait().unwrap();
            (status, stdout)
        })
        .await
        .unwrap();
        Out {
            code: out.0.code().unwrap_or(-1),
            stdout: out.1,
            stderr: reader.join().unwrap(),
        }
    }

    /// A fixture without its state (a quickstart run by hand leaves `.adsctl/` with an audit log).
    fn copy_dir(from: &Path, to: &Path, except: &[&str]) {
        crate::common::copy_fixture_except(from, to, except);
    }

    fn all_files(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                all_files(&p, out);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_secret_in_any_output_log_or_state_file() {
        let server = fake::Server::start().await;
        let s = setup();
        let login_env = s.login_env(&server);
        let bare_env = s.base_env(&server);
        let mut printed = String::new();
        fn record(printed: &mut String, what: &str, o: &Out) {
            assert_eq!(o.code, 0, "{what} failed:\n{}\n{}", o.stdout, o.stderr);
            printed.push_str(&o.stdout);
            printed.push_str(&o.stderr);
        }

        let o = login(&s, &login_env, "acme-search").await;
        record(&mut printed, "login google", &o);
        assert!(o.stdout.contains("Connected acme-search"), "{}", o.stdout);
        let o = login(&s, &login_env, "acme-social").await;
        record(&mut printed, "login meta", &o);

        let meta_system = "EAAsystem-SECRET-set-token-value";
        server.add_system_user_token(meta_system);
        // A second project directory shares nothing but the key; set-token reads stdin only.
        let mut c = adsctl(&s, &login_env);
        c.args(["-vvv", "auth", "set-token", "acme-social"]);
        let o = run(c, &format!("{meta_system}\n"));
        record(&mut printed, "set-token", &o);

        // Plan and apply (against the engine's offline sandbox) with the secrets in the environment.
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
            &s.root,
            &["adsctl.yaml"],
        );
        let mut sandbox_env = login_env.clone();
        sandbox_env.push((
            "ADSCTL_BACKEND",
            format!("memory:{}", s.root.join("platform.json").display()),
        ));
        for args in [vec!["-vvv", "plan"], vec!["-vvv", "apply", "--auto-approve"]] {
            let mut c = adsctl(&s, &sandbox_env);
            c.args(&args);
            let o = run(c, "");
            record(&mut printed, &args.join(" "), &o);
            assert!(o.stdout.contains("to create"), "{}", o.stdout);
        }

        // From here on: no credentials in the environment.
        for args in [
            vec!["-vvv", "auth", "validate", "acme-search"],
            vec!["-vvv", "auth", "validate", "acme-social", "--json"],
            vec!["-vvv", "auth", "refresh", "acme-search"],
            vec!["-vvv", "auth", "status"],
            vec!["-vvv", "auth", "status", "--json"],
            vec!["-vvv", "history"],
            vec!["-vvv", "history", "--json"],
        ] {
            let mut c = adsctl(&s, &bare_env);
            c.args(&args);
            let o = run(c, "");
            record(&mut printed, &args.join(" "), &o);
        }
        // An error path prints too: revoked grants.
        server.revoke_all();
        let mut c = adsctl(&s, &bare_env);
        c.args(["-vvv", "auth", "refresh", "acme-search"]);
        let o = run(c, "");
        assert_eq!(o.code, 1);
        assert!(o.stderr.contains("adsctl auth login acme-search"), "{}", o.stderr);
        printed.push_str(&o.stdout);
        printed.push_str(&o.stderr);
        let mut c = adsctl(&s, &bare_env);
        c.args(["-vvv", "auth", "status", "--json"]);
        let o = run(c, "");
        record(&mut printed, "status after revoke", &o);
        let rows: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(rows[0]["account"], "acme-search");
        assert_eq!(rows[0]["status"], "invalid");
        assert_eq!(rows[0]["source"], "vault");

        let mut c = adsctl(&s, &bare_env);
        c.args(["history", "--json"]);
        let o = run(c, "");
        let hist: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        let actions: Vec<&str> = hist
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(
            actions.starts_with(&[
                "auth.login",
                "auth.login",
                "auth.set_token",
                "apply",
                "apply",
                "auth.validate"
            ]),
            "{actions:?}"
        );
        assert!(hist[0]["time"].is_string());

        // Every secret: the configured ones, and every code, token, verifier and proof the server saw.
        let mut secrets: Vec<String> = vec![G_CLIENT_SECRET, G_DEV_TOKEN, M_APP_SECRET, meta_system]
            .into_iter()
            .map(String::from)
            .collect();
        secrets.extend(server.secrets());
        assert!(
            secrets.len() > 12,
            "the server saw codes, tokens, verifiers and proofs: {}",
            secrets.len()
        );
        let mut files = Vec::new();
        all_files(&s.root, &mut files);
        all_files(s.key_file.parent().unwrap(), &mut files);
        assert!(files.iter().any(|(p, _)| p.ends_with("vault.json")));
        assert!(files.iter().any(|(p, _)| p.ends_with("audit.jsonl")));
        assert!(
            printed.contains("DEBUG") || printed.contains("TRACE"),
            "logs were captured"
        );
        for secret in &secrets {
            assert!(!printed.contains(secret.as_str()), "a secret was printed");
            for (path, bytes) in &files {
                let hay = String::from_utf8_lossy(bytes);
                assert!(
                    !hay.contains(secret.as_str()),
                    "a secret is in {} in clear",
                    path.display()
                );
            }
        }
        assert!(!printed.contains("SECRET"), "no minted value reached the output");
        server.stop().await;
    }

    #[cfg(unix)]
    #[test]
    fn key_file_with_mode_0644_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let s = setup();
        let env = vec![("ADSCTL_KEY_FILE", s.key_file.display().to_string())];
        let mut c = adsctl(&s, &env);
        c.args(["auth", "set-token", "acme-social"]);
        let o = run(c, "EAAsystem-SECRET-0644\n");
        assert_eq!(o.code, 0, "{}", o.stderr);
        std::fs::set_permissions(&s.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        for args in [vec!["auth", "status"], vec!["auth", "set-token", "acme-social"]] {
            let mut c = adsctl(&s, &env);
            c.args(&args);
            let o = run(c, "EAAsystem-SECRET-other\n");
            let all = format!("{}{}", o.stdout, o.stderr);
            assert!(all.contains("mode 0644"), "{args:?}: {all}");
            assert!(all.contains(&format!("chmod 600 {}", s.key_file.display())), "{all}");
        }
        // status reports it per account (exit 0), set-token fails.
        let mut c = adsctl(&s, &env);
        c.args(["auth", "set-token", "acme-social"]);
        assert_eq!(run(c, "x-SECRET-token\n").code, 1);
    }
}

/// The same flows against the built-in emulator, with its well-known credentials.
mod emulator {
    use super::*;
    use adsctl::emulator::config::EmulatorConfig;
    use adsctl::emulator::platform::defaults;
    use adsctl::emulator::Emulator;

    fn env_for(s: &Setup, url: &str, with_app: bool) -> EnvFn {
        let mut pairs = vec![
            ("ADSCTL_KEY_FILE", s.key_file.display().to_string()),
            ("ADSCTL_GOOGLE_ADS_ENDPOINT", url.to_string()),
            ("ADSCTL_META_ENDPOINT", url.to_string()),
        ];
        if with_app {
            pairs.extend([
                ("GOOGLE_ADS_CLIENT_ID", defaults::GOOGLE_CLIENT_ID.to_string()),
                ("GOOGLE_ADS_CLIENT_SECRET", defaults::GOOGLE_CLIENT_SECRET.to_string()),
                (
                    "GOOGLE_ADS_DEVELOPER_TOKEN",
                    defaults::GOOGLE_DEVELOPER_TOKEN.to_string(),
                ),
                ("FACEBOOK_APP_ID", defaults::META_APP_ID.to_string()),
                ("FACEBOOK_APP_SECRET", defaults::META_APP_SECRET.to_string()),
            ]);
        }
        env_of(&pairs)
    }

    #[tokio::test]
    async fn login_both_platforms_through_the_loopback_listener_then_use_the_stored_tokens() {
        let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let s = setup();
        let login = Auth::with_env(&s.root, env_for(&s, &emu.url(), true));
        for name in ["acme-search", "acme-social"] {
            login.login(&s.account(name), opts(browser())).await.unwrap();
        }
        let later = Auth::with_env(&s.root, env_for(&s, &emu.url(), false));
        for name in ["acme-search", "acme-social"] {
            let acct = s.account(name);
            let c = later.credentials(&acct).unwrap();
            assert_eq!(c.source, CredentialSource::Vault, "{name}");
            let v = later
                .validate(&acct)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e} ({})", e.hint()));
            assert_eq!(v.currency.as_deref(), Some("USD"), "{name}");
            later.refresh(&acct).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let meta = later.credentials(&s.account("acme-social")).unwrap();
        let m = meta.get::<MetaCredentials>().unwrap();
        assert_eq!(m.token_kind, MetaTokenKind::LongLivedUser);
        assert!((m.expires_at.unwrap() - chrono::Utc::now()).num_days() >= 50);
        for row in later.status(&s.accounts()) {
            assert_eq!(row.status, TokenStatus::Active, "{row:?}");
            assert!(row.last_validation.is_some());
        }
        emu.shutdown().await.unwrap();
    }

    /// Login, then a plan of the quickstart through the real connectors, which take the stored tokens through
    /// the auth seams (no credentials in the environment).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_plan_after_login_uses_the_stored_tokens() {
        use adsctl::connectors::Connector;
        use adsctl::platforms::google_ads::GoogleAdsConnector;
        use adsctl::platforms::meta::MetaConnector;
        use std::collections::BTreeMap;

        let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let s = setup();
        let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        for entry in ["campaigns", "audiences.yaml", "data"] {
            let from = quickstart.join(entry);
            if from.is_dir() {
                std::fs::create_dir_all(s.root.join(entry)).unwrap();
                for f in std::fs::read_dir(&from).unwrap() {
                    let f = f.unwrap().path();
                    std::fs::copy(&f, s.root.join(entry).join(f.file_name().unwrap())).unwrap();
                }
            } else if from.exists() {
                std::fs::copy(&from, s.root.join(entry)).unwrap();
            }
        }
        let yaml = std::fs::read_to_string(quickstart.join("adsctl.yaml"))
            .unwrap()
            .replace(
                "    currency: USD\n",
                &format!("    currency: USD\n    endpoint: {}\n", emu.url()),
            );
        std::fs::write(s.root.join("adsctl.yaml"), yaml).unwrap();
        let project = adsctl::spec::load(&s.root).unwrap();
        assert!(project.accounts.values().all(|a| a.endpoint.is_some()));

        let login = Auth::with_env(&s.root, env_for(&s, &emu.url(), true));
        for a in project.accounts.values() {
            login.login(a, opts(browser())).await.unwrap();
        }
        // From here: the vault only.
        auth::install(Auth::with_env(&s.root, env_for(&s, &emu.url(), false)));
        let mut connectors: BTreeMap<String, Arc<dyn Connector>> = BTreeMap::new();
        for a in project.accounts.values() {
            let c: Arc<dyn Connector> = match a.platform {
                adsctl::model::Platform::GoogleAds => Arc::new(
                    GoogleAdsConnector::new(a, Arc::new(adsctl::platforms::google_ads::config::AuthCredentials))
                        .unwrap(),
                ),
                _ => Arc::new(MetaConnector::new(a).unwrap()),
            };
            connectors.insert(a.name.clone(), c);
        }
        let store = adsctl::state::SledStore::open(&s.root.join(".adsctl")).unwrap();
        let plan = adsctl::plan::live::plan_project(
            &project,
            &store,
            &connectors,
            &adsctl::plan::PlanOptions::default(),
            adsctl::plan::live::ReadMode::Full,
        )
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(plan.summary().create > 0);
        assert_eq!(plan.accounts.len(), project.accounts.len());
        emu.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn set_token_stores_tokens_made_elsewhere_and_they_work() {
        let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let s = setup();
        // Google: a refresh token from elsewhere (client and developer token from the environment).
        let with_app = Auth::with_env(&s.root, env_for(&s, &emu.url(), true));
        with_app
            .set_token(
                &s.account("acme-search"),
                adsctl::secret::Secret::new(defaults::GOOGLE_REFRESH_TOKEN),
            )
            .unwrap();
        // Meta: a system-user token, no app at all.
        let bare = Auth::with_env(&s.root, env_for(&s, &emu.url(), false));
        bare.set_token(
            &s.account("acme-social"),
            adsctl::secret::Secret::new(defaults::META_ACCESS_TOKEN),
        )
        .unwrap();
        for name in ["acme-search", "acme-social"] {
            let v = bare
                .validate(&s.account(name))
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(v.currency.as_deref(), Some("USD"));
        }
        let m = bare.credentials(&s.account("acme-social")).unwrap();
        assert_eq!(
            m.get::<MetaCredentials>().unwrap().token_kind,
            MetaTokenKind::SystemUser
        );
        // Nothing to refresh for a system-user token; Google gets a new access token.
        assert!(bare.refresh(&s.account("acme-social")).await.is_ok());
        let g = bare.refresh(&s.account("acme-search")).await.unwrap();
        assert!(g.get::<GoogleCredentials>().unwrap().access_token.is_some());
        emu.shutdown().await.unwrap();
    }
}

/// LinkedIn against the real emulator (its `/oauth/v2/…` and `/rest/…`): three-legged login through the loopback
/// listener, the vault, validation, and refresh — whose refresh token keeps the expiry of the first consent (365
/// days), which `auth status` shows as the date a person must log in again.
mod linkedin {
    use super::*;
    use adsctl::emulator::platform::defaults;
    use adsctl::emulator::{Emulator, EmulatorConfig};
    use adsctl::platforms::linkedin::LinkedInCredentials;

    fn project(dir: &Path) {
        std::fs::write(
            dir.join("adsctl.yaml"),
            format!(
                "accounts:\n  acme-linkedin:\n    platform: linkedin\n    account_id: \"{}\"\n    currency: USD\n",
                defaults::LINKEDIN_AD_ACCOUNT_ID
            ),
        )
        .unwrap();
    }

    fn env(s: &Setup, url: &str, with_app: bool) -> Vec<(&'static str, String)> {
        let mut e = vec![
            ("ADSCTL_KEY_FILE", s.key_file.display().to_string()),
            ("ADSCTL_LINKEDIN_ENDPOINT", url.to_string()),
            ("ADSCTL_LINKEDIN_OAUTH_ENDPOINT", format!("{url}/oauth/v2")),
        ];
        if with_app {
            e.push(("ADSCTL_LINKEDIN_CLIENT_ID", defaults::LINKEDIN_CLIENT_ID.to_string()));
            e.push((
                "ADSCTL_LINKEDIN_CLIENT_SECRET",
                defaults::LINKEDIN_CLIENT_SECRET.to_string(),
            ));
        }
        e
    }

    #[tokio::test]
    async fn login_validate_refresh_and_the_refresh_tokens_fixed_end() {
        let em = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let url = em.url();
        let s = setup();
        project(&s.root);
        let acct = s.account("acme-linkedin");

        let login = Auth::with_env(&s.root, env_of(&env(&s, &url, true)));
        let kind = login.login(&acct, opts(browser())).await.unwrap();
        let Some(c) = kind.get::<LinkedInCredentials>() else {
            panic!("linkedin expected")
        };
        let refresh_end = c.refresh_token_expires_at.expect("the refresh token's end");
        let days = (refresh_end - chrono::Utc::now()).num_days();
        assert!((363..=365).contains(&days), "365 days from the first consent: {days}");
        let access_days = (c.access_token_expires_at.unwrap() - chrono::Utc::now()).num_days();
        assert!((58..=60).contains(&access_days), "60-day access token: {access_days}");

        // a later process: the vault, no app credentials needed to use it
        let later = Auth::with_env(&s.root, env_of(&env(&s, &url, true)));
        let creds = later.credentials(&acct).unwrap();
        assert_eq!(creds.source, CredentialSource::Vault);
        let v = later.validate(&acct).await.unwrap();
        assert_eq!(v.currency.as_deref(), Some("USD"));
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);

        // a refresh a month later: a new access token, the refresh token's end unchanged
        em.platforms()
            .get::<adsctl::emulator::linkedin::LinkedInEmulator>()
            .unwrap()
            .advance_clock(Duration::from_secs(30 * 86_400));
        let before = creds.get::<LinkedInCredentials>().unwrap().access_token.clone();
        let after = later.refresh(&acct).await.unwrap();
        let after = after.get::<LinkedInCredentials>().unwrap();
        assert_ne!(after.access_token, before, "a new access token");
        assert_eq!(
            after.refresh_token_expires_at,
            Some(refresh_end),
            "the refresh token keeps its first end"
        );
        let stored = later.credentials(&acct).unwrap();
        assert_eq!(
            stored.get::<LinkedInCredentials>().unwrap().refresh_token_expires_at,
            Some(refresh_end)
        );

        // `auth status`: the date a person must log in again
        let rows = later.status(&s.accounts());
        let row = rows.iter().find(|r| r.account == "acme-linkedin").unwrap();
        assert_eq!(row.status, TokenStatus::Active);
        assert_eq!(row.expires_at, Some(refresh_end));
        assert!(!row.never_expires);
    }
}

mod x {
    use super::*;
    use adsctl::emulator::platform::defaults;
    use adsctl::emulator::{Emulator, EmulatorConfig};
    use adsctl::platforms::x::XCredentials;
    use adsctl::secret::Secret;

    fn project(dir: &Path) {
        std::fs::write(
            dir.join("adsctl.yaml"),
            format!(
                "accounts:\n  acme-x:\n    platform: x\n    account_id: {}\n    currency: USD\n",
                defaults::X_ACCOUNT_ID
            ),
        )
        .unwrap();
    }

    fn env(s: &Setup, url: &str) -> Vec<(&'static str, String)> {
        vec![
            ("ADSCTL_KEY_FILE", s.key_file.display().to_string()),
            ("ADSCTL_X_ENDPOINT", url.to_string()),
        ]
    }

    #[tokio::test]
    async fn set_token_takes_the_four_values_validates_signed_and_never_expires() {
        let em = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let url = em.url();
        let s = setup();
        project(&s.root);
        let acct = s.account("acme-x");
        let auth = Auth::with_env(&s.root, env_of(&env(&s, &url)));

        // no browser flow for the Ads API's OAuth 1.0a user tokens: login says what to do instead
        let e = auth.login(&acct, opts(browser())).await.unwrap_err();
        assert!(e.hint().contains("auth set-token acme-x"), "{e}: {}", e.hint());

        // the four values, as `auth set-token` reads them from standard input
        let four = format!(
            "{} {}\n{} {}\n",
            defaults::X_CONSUMER_KEY,
            defaults::X_CONSUMER_SECRET,
            defaults::X_ACCESS_TOKEN,
            defaults::X_TOKEN_SECRET
        );
        let kind = auth.set_token(&acct, Secret::new(four)).unwrap();
        let c = kind.get::<XCredentials>().expect("x credentials");
        assert_eq!(c.token_secret.expose(), defaults::X_TOKEN_SECRET);

        // a later process: the vault; every request signed with all four
        let later = Auth::with_env(&s.root, env_of(&env(&s, &url)));
        assert_eq!(later.credentials(&acct).unwrap().source, CredentialSource::Vault);
        let v = later.validate(&acct).await.unwrap();
        assert!(v.scopes.iter().any(|p| p == "ACCOUNT_ADMIN"), "{:?}", v.scopes);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
        let rows = later.status(&s.accounts());
        let row = rows.iter().find(|r| r.account == "acme-x").unwrap();
        assert!(row.never_expires, "OAuth 1.0a user tokens do not expire");
        assert_eq!(row.expires_at, None);

        // a wrong token secret: refused by X's signature check, and the secret is not in the message
        let wrong = format!(
            "{} {} {} not-the-token-secret\n",
            defaults::X_CONSUMER_KEY,
            defaults::X_CONSUMER_SECRET,
            defaults::X_ACCESS_TOKEN
        );
        later.set_token(&acct, Secret::new(wrong)).unwrap();
        let e = later.validate(&acct).await.unwrap_err().to_string();
        assert!(!e.contains("not-the-token-secret"), "{e}");
        assert!(!e.contains(defaults::X_CONSUMER_SECRET), "{e}");
        assert!(
            e.contains("UNAUTHORIZED_ACCESS") || e.to_lowercase().contains("signature"),
            "{e}"
        );
    }
}

mod mailchimp {
    use super::*;
    use adsctl::emulator::platform::defaults;
    use adsctl::emulator::{Emulator, EmulatorConfig};
    use adsctl::platforms::mailchimp::MailchimpCredentials;
    use adsctl::secret::Secret;

    fn project(dir: &Path) {
        std::fs::write(
            dir.join("adsctl.yaml"),
            format!(
                "accounts:\n  acme-mail:\n    platform: mailchimp\n    list_id: {}\n    currency: USD\n",
                defaults::MAILCHIMP_LIST_ID
            ),
        )
        .unwrap();
    }

    fn env(s: &Setup, url: &str) -> Vec<(&'static str, String)> {
        vec![
            ("ADSCTL_KEY_FILE", s.key_file.display().to_string()),
            ("ADSCTL_MAILCHIMP_ENDPOINT", url.to_string()),
            ("ADSCTL_MAILCHIMP_LOGIN_ENDPOINT", url.to_string()),
            ("ADSCTL_MAILCHIMP_CLIENT_ID", defaults::MAILCHIMP_CLIENT_ID.to_string()),
            (
                "ADSCTL_MAILCHIMP_CLIENT_SECRET",
                defaults::MAILCHIMP_CLIENT_SECRET.to_string(),
            ),
        ]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn login_learns_the_data_center_validates_and_never_expires() {
        let em = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let url = em.url();
        let s = setup();
        project(&s.root);
        let acct = s.account("acme-mail");
        let auth = Auth::with_env(&s.root, env_of(&env(&s, &url)));

        // the browser flow: authorize, the code back on the loopback listener, the token, then the metadata
        // endpoint (`Authorization: OAuth …`) for the data center the token belongs to
        let kind = auth.login(&acct, opts(browser())).await.unwrap();
        let c = kind.get::<MailchimpCredentials>().expect("mailchimp credentials");
        assert_eq!(c.dc, defaults::MAILCHIMP_DC);
        assert_eq!(c.kind, "oauth");

        // a later process: the vault; Mailchimp's tokens never expire and have no refresh
        let later = Auth::with_env(&s.root, env_of(&env(&s, &url)));
        assert_eq!(later.credentials(&acct).unwrap().source, CredentialSource::Vault);
        later.validate(&acct).await.unwrap();
        let rows = later.status(&s.accounts());
        let row = rows.iter().find(|r| r.account == "acme-mail").unwrap();
        assert!(row.never_expires, "Mailchimp tokens do not expire");
        assert_eq!(row.expires_at, None);

        // an API key instead: its data center is its suffix
        let kind = later
            .set_token(&acct, Secret::new(format!("{}\n", defaults::MAILCHIMP_API_KEY)))
            .unwrap();
        assert_eq!(kind.get::<MailchimpCredentials>().unwrap().kind, "api_key");
        later.validate(&acct).await.unwrap();

        // a key of another data center: refused, and the key is in no message
        let wrong = "0123456789abcdef0123456789abcdef-us19";
        later.set_token(&acct, Secret::new(format!("{wrong}\n"))).unwrap();
        let e = later.validate(&acct).await.unwrap_err();
        let text = format!("{e} {}", e.hint());
        assert!(!text.contains(wrong), "{text}");
        assert!(!text.contains(defaults::MAILCHIMP_API_KEY), "{text}");
    }
}
