//! Bearer tokens of the daemon's HTTP API (`adsctl api-token create|list|revoke`, issue 26).
//!
//! Stored in `<state dir>/api-tokens.json` (mode 0600, beside the vault), not in the sled store: the daemon keeps
//! sled closed between reconciles and another process may hold it, while this file is read by the daemon on
//! every API request, so a token created or revoked by the CLI counts at once, without a restart. The file holds
//! only the hex SHA-256 of each token with its name, role and creation time; the token itself (32 random bytes,
//! `adsctl_` + URL-safe base64) is printed once by `create` and kept nowhere. A token of 256 random bits needs no
//! slow hash: its SHA-256 cannot be reversed or guessed. A project whose state is on PostgreSQL keeps the same
//! records in its table `adsctl_api_tokens`, so every daemon replica and runner sees one set of tokens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// The file name in the state directory.
pub const FILE: &str = "api-tokens.json";
/// Every token starts so (recognisable by secret scanners and by `secret::scrub`).
pub const PREFIX: &str = "adsctl_";

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads: status, plan, runs.
    Viewer,
    /// Reads and actions (reconcile now).
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// One stored token: never the token, only its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    pub created: DateTime<Utc>,
}

/// The name and role a presented token was found under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a token file: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("an API token named {name:?} exists already")]
    Exists { name: String },
    #[error("no API token named {name:?}")]
    NotFound { name: String },
    #[error("invalid token name {name:?}")]
    BadName { name: String },
    #[error("cannot draw random bytes for a token")]
    Random,
    #[error("cannot use the API tokens in the PostgreSQL state: {0}")]
    Postgres(#[from] adsctl_state_pg::PgError),
}

impl TokenError {
    pub fn hint(&self) -> String {
        match self {
            TokenError::Io { .. } => "check that the state directory exists and is writable by you".into(),
            TokenError::Parse { .. } => format!(
                "restore {FILE} from a backup, or delete it (every API token is then gone) and create the tokens again"
            ),
            TokenError::Exists { .. } => "pick another name, or revoke the old token first".into(),
            TokenError::NotFound { .. } => "see the names with `adsctl api-token list`".into(),
            TokenError::BadName { .. } => {
                "use 1 to 64 letters, digits, `-`, `_` or `.` (it names the token in the audit log)".into()
            }
            TokenError::Random => "the operating system's random source failed; try again".into(),
            TokenError::Postgres(e) => e
                .hint()
                .unwrap_or_else(|| "check the PostgreSQL state (ADSCTL_STATE_URL or `state:` in adsctl.yaml)".into()),
        }
    }
}

/// The tokens of one state directory: its file, or the table `adsctl_api_tokens` of the PostgreSQL state this
/// process found the directory's project on (`store::side_url`).
#[derive(Clone)]
pub struct TokenStore {
    path: PathBuf,
    /// The database's URL (never shown).
    pg: Option<String>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("path", &self.path)
            .field("postgres", &self.pg.is_some())
            .finish()
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl TokenStore {
    pub fn at_state_dir(state_dir: &Path) -> TokenStore {
        TokenStore {
            path: state_dir.join(FILE),
            pg: crate::store::side_url(state_dir),
        }
    }

    /// The file in `state_dir`, whatever the project's state.
    pub fn in_dir(state_dir: &Path) -> TokenStore {
        TokenStore {
            path: state_dir.join(FILE),
            pg: None,
        }
    }

    /// The tokens of the PostgreSQL state at `url`.
    pub fn on_postgres(state_dir: &Path, url: &str) -> TokenStore {
        TokenStore {
            path: state_dir.join(FILE),
            pg: Some(url.to_string()),
        }
    }

    /// Whether the tokens are in a PostgreSQL state.
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    fn read_pg(url: &str) -> Result<BTreeMap<String, TokenRecord>, TokenError> {
        let rows = crate::store::side(url)?.api_tokens()?;
        rows.into_iter()
            .map(|r| {
                let parse = |what: &str, e: &dyn std::fmt::Display| TokenError::Parse {
                    path: PathBuf::from("adsctl_api_tokens"),
                    message: format!("the {what} of token {:?}: {e}", r.name),
                };
                let role =
                    serde_json::from_value(serde_json::Value::String(r.role.clone())).map_err(|e| parse("role", &e))?;
                let created = DateTime::parse_from_rfc3339(&r.created)
                    .map_err(|e| parse("creation time", &e))?
                    .with_timezone(&Utc);
                Ok((
                    r.name.clone(),
                    TokenRecord {
                        role,
                        sha256: r.sha256.clone(),
                        created,
                    },
                ))
            })
            .collect()
    }

    /// Add a token record; one of that name is [`TokenError::Exists`].
    pub fn insert(&self, name: &str, rec: TokenRecord) -> Result<(), TokenError> {
        if let Some(url) = &self.pg {
            let row = adsctl_state_pg::TokenRow {
                name: name.to_string(),
                role: rec.role.as_str().to_string(),
                sha256: rec.sha256,
                created: rec.created.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            };
            return match crate::store::side(url)?.api_token_insert(row)? {
                true => Ok(()),
                false => Err(TokenError::Exists { name: name.into() }),
            };
        }
        self.rewrite(|all| {
            if all.contains_key(name) {
                return Err(TokenError::Exists { name: name.into() });
            }
            all.insert(name.to_string(), rec);
            Ok(())
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every token by name; no file is no token.
    pub fn read(&self) -> Result<BTreeMap<String, TokenRecord>, TokenError> {
        if let Some(url) = &self.pg {
            return Self::read_pg(url);
        }
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| TokenError::Parse {
                path: self.path.clone(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(source) => Err(TokenError::Io {
                what: "read",
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Whether any token exists. A file that cannot be read counts as holding tokens (fail closed).
    pub fn any(&self) -> bool {
        self.read().map_or(true, |t| !t.is_empty())
    }

    /// The caller a presented token belongs to: every stored hash is compared in constant time.
    pub fn authenticate(&self, presented: &str) -> Result<Option<Caller>, TokenError> {
        let tokens = self.read()?;
        let h = hash(presented);
        let mut found = None;
        for (name, rec) in &tokens {
            let stored = hex::decode(&rec.sha256).unwrap_or_default();
            if stored.len() == h.len() && bool::from(stored.ct_eq(&h)) {
                found = Some(Caller {
                    name: name.clone(),
                    role: rec.role,
                });
            }
        }
        Ok(found)
    }

    /// Create a token; returns it (the only time it exists outside the caller's hands).
    pub fn create(&self, name: &str, role: Role) -> Result<Secret, TokenError> {
        if !valid_name(name) {
            return Err(TokenError::BadName { name: name.into() });
        }
        let mut bytes = [0u8; 32];
        chacha20poly1305::aead::rand_core::RngCore::try_fill_bytes(&mut chacha20poly1305::aead::OsRng, &mut bytes)
            .map_err(|_| TokenError::Random)?;
        let token = Secret::new(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ));
        let sha = hex::encode(hash(token.expose()));
        self.insert(
            name,
            TokenRecord {
                role,
                sha256: sha,
                created: Utc::now(),
            },
        )?;
        Ok(token)
    }

    /// Revoke (delete) a token: the daemon refuses it from its next request on.
    pub fn revoke(&self, name: &str) -> Result<(), TokenError> {
        if let Some(url) = &self.pg {
            return match crate::store::side(url)?.api_token_delete(name)? {
                true => Ok(()),
                false => Err(TokenError::NotFound { name: name.into() }),
            };
        }
        self.rewrite(|all| match all.remove(name) {
            Some(_) => Ok(()),
            None => Err(TokenError::NotFound { name: name.into() }),
        })
    }

    /// Read, change and atomically replace the file (mode 0600) under an exclusive lock.
    fn rewrite(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, TokenRecord>) -> Result<(), TokenError>,
    ) -> Result<(), TokenError> {
        let io = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| TokenError::Io { what, path, source }
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        }
        let lock_path = self.path.with_extension("json.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("lock", &lock_path))?;
        lock.lock().map_err(io("lock", &lock_path))?;
        let mut all = self.read()?;
        change(&mut all)?;
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(&all).map_err(|e| TokenError::Parse {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        write_private(&tmp, &text).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io("replace", &self.path))?;
        Ok(())
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_authenticate_revoke() {
        let tmp = tempfile::tempdir().unwrap();
        let store = TokenStore::at_state_dir(tmp.path());
        assert!(!store.any());
        let t = store.create("ci", Role::Viewer).unwrap();
        assert!(t.expose().starts_with(PREFIX) && t.expose().len() > 40);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains(t.expose()), "only the hash is stored");
        assert!(matches!(
            store.create("ci", Role::Operator),
            Err(TokenError::Exists { .. })
        ));
        assert!(matches!(
            store.create("a b", Role::Operator),
            Err(TokenError::BadName { .. })
        ));
        let caller = store.authenticate(t.expose()).unwrap().unwrap();
        assert_eq!((caller.name.as_str(), caller.role), ("ci", Role::Viewer));
        assert_eq!(store.authenticate("adsctl_wrong").unwrap(), None);
        store.revoke("ci").unwrap();
        assert_eq!(store.authenticate(t.expose()).unwrap(), None);
        assert!(matches!(store.revoke("ci"), Err(TokenError::NotFound { .. })));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
