//! Integrations: OAuth login, the encrypted token vault, credential resolution, refresh and rotation,
//! validation and status. See `docs/auth.md` for the precedence, the key handling and the threat model.
//!
//! A connector asks for an account's credentials with [`credentials`] (or, holding an [`Auth`],
//! [`Auth::credentials`] / [`Auth::fresh_credentials`]) and reports back with [`Auth::record_refresh`],
//! [`Auth::record_sync`] and [`Auth::record_error`]:
//!
//! ```no_run
//! # use adsctl::platforms::google_ads::auth::GoogleCredentials;
//! # async fn f(account: &adsctl::model::Account) -> Result<(), adsctl::auth::AuthError> {
//! let creds = adsctl::auth::credentials(account)?;          // vault first, then environment
//! if let Some(g) = creds.get::<GoogleCredentials>() {      // the platform's own type, from its home
//!     let _ = (&g.client_id, g.refresh_token.expose());      // expose() only onto the wire
//! }
//! # Ok(()) }
//! ```
//!
//! What credentials a platform has and how they are obtained is its home's (`src/platforms/<platform>/auth.rs`,
//! the [`platform::PlatformAuth`] that `Home::auth` hands out); this module does the rest and names no platform.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, AuditLog};
use crate::model::{Account, Platform};
use crate::secret::{scrub, Secret};

pub mod connect;
pub mod health;
pub mod key;
pub mod oauth;
pub mod platform;
pub mod project;
pub mod refresh;
pub mod status;
pub mod validate;
pub mod vault;

pub use health::AccountHealth;
pub use key::{KeyConfig, KeyRing, KeySource, MasterKey};
pub(crate) use oauth::{login_err, token_field, transport, url_of};
pub use oauth::{LoginOptions, PendingLogin};
pub use platform::{flow, CredentialKind, LoginRequest, PlatformAuth, PlatformCredentials};
pub use refresh::RefreshReport;
pub use status::{StatusRow, TokenStatus};
pub use validate::Validation;

/// Reads one environment variable (injectable so tests need not touch the process environment).
pub type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
pub fn process_env() -> EnvFn {
    Arc::new(|k| std::env::var(k).ok())
}

/// The state directory of a project: `ADSCTL_STATE_DIR`, else `.adsctl/` beside `adsctl.yaml`.
pub fn state_dir(root: &Path, env: &EnvFn) -> PathBuf {
    match env("ADSCTL_STATE_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => root.join(".adsctl"),
    }
}

/// Errors of the auth stage. Every message is free of secrets; every variant has a hint.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{message}")]
    Key { message: String, hint: String },
    #[error("the master key file {} has mode {mode:04o}: it must be readable by you only", path.display())]
    KeyFilePermissions { path: PathBuf, mode: u32 },
    #[error(
        "{vault} was sealed with master key {vault_key_id}, but {key_source} holds key {key_id}; nothing was changed"
    )]
    WrongKey {
        /// The vault as shown (`the token vault PATH`, or the PostgreSQL state it is in).
        vault: String,
        vault_key_id: String,
        key_id: String,
        key_source: String,
    },
    #[error("{message}")]
    Vault { message: String, hint: String },
    #[error("no account {account:?} in this project")]
    UnknownAccount { account: String, known: Vec<String> },
    #[error("no credentials for {account} ({platform}): neither in the token vault nor in the environment")]
    Missing { account: String, platform: Platform },
    #[error("{message}")]
    Config { message: String, hint: String },
    #[error("login failed: {message}")]
    Login { message: String, hint: String },
    #[error("the credentials of {account} are no longer valid: {message}")]
    Invalid {
        account: String,
        message: String,
        hint: String,
    },
    #[error("{platform} error: {message}")]
    Api {
        platform: Platform,
        message: String,
        hint: String,
    },
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },
}

impl AuthError {
    pub fn hint(&self) -> String {
        match self {
            AuthError::Key { hint, .. }
            | AuthError::Vault { hint, .. }
            | AuthError::Config { hint, .. }
            | AuthError::Login { hint, .. }
            | AuthError::Invalid { hint, .. }
            | AuthError::Api { hint, .. } => hint.clone(),
            AuthError::KeyFilePermissions { path, .. } => format!("run `chmod 600 {}`", path.display()),
            AuthError::WrongKey { .. } => format!(
                "use the master key this vault was written with ({} or the key file {}); to start over instead, \
                 move the vault away and log in again",
                key::ENV_MASTER_KEY,
                key::ENV_KEY_FILE
            ),
            AuthError::UnknownAccount { known, .. } => format!("accounts in adsctl.yaml: {}", known.join(", ")),
            AuthError::Missing { account, platform } => match flow(*platform) {
                Some(f) => f.missing_hint(account),
                None => format!("{platform} accounts hold no credentials"),
            },
            AuthError::Transport { .. } => "check the endpoint and your network, then retry".into(),
        }
    }

    /// Whether the platform said the grant itself is gone (as opposed to a passing failure).
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, AuthError::Invalid { .. })
    }
}

/// Where credentials came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialSource {
    /// The encrypted token vault (`adsctl auth login` / `set-token`).
    Vault,
    /// Environment variables (CI).
    Env,
}

impl std::fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CredentialSource::Vault => "vault",
            CredentialSource::Env => "env",
        })
    }
}

/// An account's resolved credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub account: String,
    pub source: CredentialSource,
    pub kind: CredentialKind,
}

impl Credentials {
    /// The platform's own credentials type, when these are that platform's
    /// (`creds.get::<adsctl::platforms::meta::auth::MetaCredentials>()`).
    pub fn get<T: PlatformCredentials>(&self) -> Option<&T> {
        self.kind.get()
    }
}

/// The environment variables of the auth stage itself (each platform's are in its home's `auth.rs`).
pub mod env_names {
    /// `vault` or `env` forces one source; unset (or `auto`) means vault first, then environment.
    pub const AUTH_SOURCE: &str = "ADSCTL_AUTH_SOURCE";
}

/// The shared state of the auth stage for one project: state directory, key lookup, environment, HTTP client.
/// Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    state_dir: PathBuf,
    /// Where the vault and audit log are: the state directory, the PostgreSQL state of the project (the same
    /// choice as its engine state: `store::Location`), or why that could not be chosen (message, hint).
    shared: Result<Option<String>, (String, String)>,
    project_root: Option<PathBuf>,
    keys: KeyConfig,
    env: EnvFn,
    http: reqwest::Client,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("state_dir", &self.inner.state_dir)
            .finish()
    }
}

impl Auth {
    /// For a project rooted at `root`, reading the process environment.
    pub fn for_project(root: &Path) -> Auth {
        Auth::with_env(root, process_env())
    }

    /// For a project rooted at `root`, reading `env` instead of the process environment.
    pub fn with_env(root: &Path, env: EnvFn) -> Auth {
        let state = state_dir(root, &env);
        let shared = match crate::store::Location::resolve(root, &*env) {
            Ok(crate::store::Location::Postgres(url)) => Ok(Some(url)),
            Ok(crate::store::Location::Dir(_)) => Ok(None),
            Err(e) => Err((e.to_string(), e.hint().unwrap_or_default())),
        };
        let keys = KeyConfig::from_env(&*env);
        let http = reqwest::Client::builder()
            // OAuth token endpoints must not be followed through redirects (SSRF, leaking codes).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Auth {
            inner: Arc::new(Inner {
                state_dir: state,
                shared,
                project_root: Some(root.to_path_buf()),
                keys,
                env,
                http,
            }),
        }
    }

    pub fn state_dir(&self) -> &Path {
        &self.inner.state_dir
    }
    pub fn env(&self) -> &EnvFn {
        &self.inner.env
    }
    /// The HTTP client of auth requests (no redirects followed, 30 s timeout).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }
    pub fn key_config(&self) -> &KeyConfig {
        &self.inner.keys
    }
    /// The token vault: the file in the state directory, or the project's PostgreSQL state.
    pub fn vault(&self) -> vault::Vault {
        let dir = &self.inner.state_dir;
        match &self.inner.shared {
            Ok(None) => vault::Vault::at(dir),
            Ok(Some(url)) => vault::Vault::on_postgres(dir, url),
            Err((message, hint)) => vault::Vault::unavailable(dir, message.clone(), hint.clone()),
        }
    }
    pub fn health(&self) -> health::HealthBook {
        health::HealthBook::at(&self.inner.state_dir)
    }
    /// The audit log: beside the vault (a file in the state directory, or the project's PostgreSQL state).
    pub fn audit_log(&self) -> AuditLog {
        match &self.inner.shared {
            Ok(Some(url)) => AuditLog::on_postgres(&self.inner.state_dir, url),
            _ => AuditLog::in_dir(&self.inner.state_dir),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        (self.inner.env)(name).filter(|v| !v.trim().is_empty())
    }

    /// Append an auth event to the audit log (failures to write are logged, not fatal).
    pub(crate) fn audit(&self, account: &str, action: &str, result: Result<(), &AuthError>) {
        let entry = AuditEntry::new(action)
            .account(account)
            .result(match result {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("error: {}", scrub(&e.to_string())),
            })
            .in_repo(self.inner.project_root.as_deref());
        if let Err(e) = self.audit_log().append(entry) {
            tracing::warn!(error = %e, "cannot write the audit log");
        }
    }

    /// The key ring, when there is one (`create`: make a key file if none exists).
    pub fn key_ring(&self, create: bool) -> Result<Option<KeyRing>, AuthError> {
        self.inner.keys.load(create)
    }

    /// The vault entry of an account, decrypted (`None` if there is none).
    pub fn stored(&self, account: &str) -> Result<Option<CredentialKind>, AuthError> {
        let file = self.vault().read_file()?;
        if !file.accounts.contains_key(account) {
            return Ok(None);
        }
        let ring = self.key_ring(false)?.ok_or_else(|| AuthError::Key {
            message: format!("{} holds tokens but there is no master key", self.vault().shown()),
            hint: format!(
                "set {} or restore the key file ({}) it was written with; or discard this account's tokens with \
                 `adsctl auth logout {account}`",
                key::ENV_MASTER_KEY,
                key::ENV_KEY_FILE
            ),
        })?;
        self.vault().get(&ring, account)
    }

    /// Seal an account's credentials into the vault (creating the key file on first use).
    pub fn store(&self, account: &str, creds: &CredentialKind) -> Result<(), AuthError> {
        let ring = self.key_ring(true)?.ok_or_else(|| AuthError::Key {
            message: "no master key".into(),
            hint: format!("set {}", key::ENV_MASTER_KEY),
        })?;
        self.vault().put(&ring, account, creds)
    }

    /// Credentials from the environment for an account of this platform, if complete.
    pub fn env_credentials(&self, account: &Account) -> Option<CredentialKind> {
        flow(account.platform)?.env_credentials(self, account)
    }

    /// An account's credentials: the token vault first, then the environment (`ADSCTL_AUTH_SOURCE=vault|env`
    /// forces one). No network call; see [`Auth::fresh_credentials`] for a refreshed access token.
    pub fn credentials(&self, account: &Account) -> Result<Credentials, AuthError> {
        let forced = self.var(env_names::AUTH_SOURCE).map(|s| s.trim().to_ascii_lowercase());
        let use_vault = forced.as_deref() != Some("env");
        let use_env = forced.as_deref() != Some("vault");
        if use_vault {
            if let Some(mut kind) = self.stored(&account.name)? {
                if let Some(f) = flow(account.platform) {
                    f.project_overrides(&mut kind, account);
                }
                return Ok(Credentials {
                    account: account.name.clone(),
                    source: CredentialSource::Vault,
                    kind,
                });
            }
        }
        if use_env {
            if let Some(kind) = self.env_credentials(account) {
                return Ok(Credentials {
                    account: account.name.clone(),
                    source: CredentialSource::Env,
                    kind,
                });
            }
        }
        Err(AuthError::Missing {
            account: account.name.clone(),
            platform: account.platform,
        })
    }

    /// Record a successful read/apply against the account (the engine calls this after a sync).
    pub fn record_sync(&self, account: &str) {
        self.health().update(account, |h| {
            h.last_sync = Some(Utc::now());
            h.invalid = None;
        });
    }

    /// Record an error seen while using the account's credentials (scrubbed before it is stored).
    pub fn record_error(&self, account: &str, message: &str) {
        let message = scrub(message);
        self.health().update(account, |h| {
            h.last_error = Some(health::ErrorNote {
                at: Utc::now(),
                message,
            });
        });
    }

    /// `adsctl auth set-token`: store a token read from stdin. For Google it is a refresh token (the client
    /// and developer token come from the environment or the vault); for Meta a system-user (or long-lived) token.
    pub fn set_token(&self, account: &Account, token: Secret) -> Result<CredentialKind, AuthError> {
        let res = self.set_token_inner(account, token);
        self.audit(&account.name, "auth.set_token", res.as_ref().map(|_| ()));
        res
    }

    fn set_token_inner(&self, account: &Account, token: Secret) -> Result<CredentialKind, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Config {
                message: "no token on standard input".into(),
                hint: format!(
                    "pipe the token in: `adsctl auth set-token {} < token.txt`",
                    account.name
                ),
            });
        }
        let previous = self.stored(&account.name).ok().flatten();
        let f = flow(account.platform).ok_or_else(|| AuthError::Config {
            message: format!("{} accounts hold no credentials", account.platform),
            hint: format!("accounts of {} can", crate::platforms::supported_names()),
        })?;
        let kind = f.set_token(self, account, token, previous.as_ref())?;
        self.store(&account.name, &kind)?;
        self.health().update(&account.name, |h| {
            h.invalid = None;
            h.last_error = None;
        });
        Ok(kind)
    }

    /// `adsctl auth logout`: delete the account's tokens (and its health record). Returns whether any existed.
    pub fn logout(&self, account: &str) -> Result<bool, AuthError> {
        let res = self.vault().remove(account);
        if res.is_ok() {
            self.health().remove(account);
        }
        self.audit(account, "auth.logout", res.as_ref().map(|_| ()));
        res
    }

    /// Disconnect an account (the API's `disconnect`): revoke the grant at the platform where it can be, then
    /// delete the stored tokens and the health record, whatever the revocation gave. Audited (`auth.revoke`,
    /// `auth.logout`).
    pub async fn disconnect(&self, account: &Account) -> Result<Disconnected, AuthError> {
        let mut out = Disconnected::default();
        match self.stored(&account.name) {
            Ok(Some(kind)) => {
                if let Some(f) = flow(account.platform) {
                    let res = f.revoke(self, account, &kind).await;
                    match &res {
                        Ok(true) => {
                            out.revoked = Some(true);
                            self.audit(&account.name, "auth.revoke", Ok(()));
                        }
                        Ok(false) => out.revoked = Some(false),
                        Err(e) => {
                            out.revoked = Some(false);
                            out.revoke_error = Some(scrub(&e.to_string()));
                            self.audit(&account.name, "auth.revoke", Err(e));
                        }
                    }
                }
            }
            Ok(None) => {}
            // Unreadable (wrong key, damaged entry): nothing to revoke with; the entry is deleted all the same.
            Err(e) => out.revoke_error = Some(scrub(&e.to_string())),
        }
        out.removed = self.logout(&account.name)?;
        Ok(out)
    }

    /// `adsctl auth rotate-key`: re-seal this project's vault under a new master key. With a key file the new
    /// key is generated and put first in the ring (old keys kept for other projects unless `forget_old`);
    /// with `ADSCTL_MASTER_KEY` the new key must be given (`new_env_key`) and the user updates the variable.
    /// Returns (accounts re-sealed, new key id).
    pub fn rotate_key(&self, new_env_key: Option<MasterKey>, forget_old: bool) -> Result<(usize, String), AuthError> {
        let res = self.rotate_key_inner(new_env_key, forget_old);
        self.audit("*", "auth.rotate_key", res.as_ref().map(|_| ()));
        res
    }

    fn rotate_key_inner(&self, new_env_key: Option<MasterKey>, forget_old: bool) -> Result<(usize, String), AuthError> {
        let ring = self.key_ring(true)?.ok_or_else(|| AuthError::Key {
            message: "no master key".into(),
            hint: format!("set {}", key::ENV_MASTER_KEY),
        })?;
        match ring.source.clone() {
            KeySource::Env => {
                let new = new_env_key.ok_or_else(|| AuthError::Key {
                    message: format!("the master key comes from {}", key::ENV_MASTER_KEY),
                    hint: "give the new key on standard input (`adsctl auth rotate-key --new-key-stdin`), then put \
                           it in the variable"
                        .into(),
                })?;
                let n = self.vault().reseal(&ring, &new)?;
                Ok((n, new.id()))
            }
            KeySource::File(_) => {
                let new = new_env_key.unwrap_or_else(MasterKey::generate);
                // Key first: if the re-seal fails, the old key is still in the ring and nothing is lost.
                self.inner.keys.install_new_file_key(&new, &ring, false)?;
                let n = self.vault().reseal(&ring, &new)?;
                if forget_old {
                    self.inner.keys.install_new_file_key(&new, &ring, true)?;
                }
                Ok((n, new.id()))
            }
        }
    }

    /// The access token to use now: refreshed first when it is missing or expires within five minutes (Google)
    /// or when a Meta long-lived token is inside its re-exchange window. The result is stored back when the
    /// credentials come from the vault.
    pub async fn fresh_credentials(&self, account: &Account) -> Result<Credentials, AuthError> {
        let creds = self.credentials(account)?;
        if refresh::is_due(&creds.kind, Utc::now()) {
            return self.refresh(account).await;
        }
        Ok(creds)
    }
}

/// What [`Auth::disconnect`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Disconnected {
    /// `Some(true)`: the platform revoked the grant; `Some(false)`: it could not (no revocation known, or it
    /// failed: see `revoke_error`); `None`: nothing was stored to revoke.
    pub revoked: Option<bool>,
    /// Why the revocation failed (scrubbed).
    pub revoke_error: Option<String>,
    /// Stored tokens were deleted.
    pub removed: bool,
}

/// `auth status` says `expiring` when fewer than this many days are left.
pub const EXPIRING_WINDOW: Duration = Duration::days(7);

static INSTALLED: RwLock<Option<Auth>> = RwLock::new(None);

/// Make `auth` the process-wide context used by [`credentials`] (the CLI does this once it knows the project).
pub fn install(auth: Auth) {
    if let Ok(mut g) = INSTALLED.write() {
        *g = Some(auth);
    }
}

/// The process-wide context: the installed one, else one for the current directory.
pub fn installed() -> Auth {
    if let Ok(g) = INSTALLED.read() {
        if let Some(a) = g.as_ref() {
            return a.clone();
        }
    }
    Auth::for_project(Path::new("."))
}

/// An account's credentials, vault first, then environment (see [`Auth::credentials`]).
pub fn credentials(account: &Account) -> Result<Credentials, AuthError> {
    installed().credentials(account)
}

/// [`Auth::record_sync`] on the installed context.
pub fn record_sync(account: &str) {
    installed().record_sync(account)
}

/// [`Auth::record_error`] on the installed context.
pub fn record_error(account: &str, message: &str) {
    installed().record_error(account, message)
}

/// [`Auth::record_refresh`] on the installed context.
pub fn record_refresh(account: &Account, report: RefreshReport) -> Result<(), AuthError> {
    installed().record_refresh(account, report)
}

/// An environment variable (through the context's environment), `None` when unset or blank.
pub fn env_var(auth: &Auth, name: &str) -> Option<String> {
    auth.var(name)
}

/// A base URL from the environment, without the trailing `/` (`None` when unset or blank).
pub fn env_base_url(auth: &Auth, name: &str) -> Option<String> {
    auth.var(name).map(|v| v.trim().trim_end_matches('/').to_string())
}

/// Where an account's API is when it is not the platform's own: its `endpoint:` in `adsctl.yaml` (which beats the
/// environment), else the variable `name` (the built-in emulator's address in tests and the quickstart).
pub fn endpoint_override(account: &Account, auth: &Auth, name: &str) -> Option<String> {
    account
        .endpoint
        .as_deref()
        .map(|e| e.trim().trim_end_matches('/').to_string())
        .or_else(|| env_base_url(auth, name))
}

/// An environment variable holding a secret, trimmed and registered as one.
pub fn secret_env_var(auth: &Auth, name: &str) -> Option<Secret> {
    auth.var(name).map(|v| Secret::new(v.trim().to_string()))
}
