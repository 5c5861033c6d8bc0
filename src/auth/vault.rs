//! The token vault: one JSON file under the state directory (`<state dir>/vault.json`, mode 0600), every
//! account's credentials sealed with XChaCha20-Poly1305 under the master key.
//!
//! In clear: the format, the id of the key that sealed it (a fingerprint, not the key), and per account the
//! platform, the token expiry and the time of the last change (so `auth status` works without decrypting).
//! Sealed: everything else. The associated data binds each sealed entry to its account name and platform, so
//! entries cannot be swapped between accounts. Writes go to a temporary file then rename: a crash never leaves
//! half a vault, and a failed decryption never writes anything.
//!
//! A file rather than a sled tree: the engine's sled database is locked by one process at a time, and
//! `adsctl auth status` must work while `adsctl watch` runs. A project whose state is on PostgreSQL keeps the
//! same sealed entries in its table `adsctl_vault` instead (one row per account), sealed and opened here with the
//! master key of the machine: the database sees what the file would hold, never a token nor the key.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::key::{KeyRing, MasterKey};
use super::{AuthError, CredentialKind};
use crate::model::Platform;

const FORMAT: &str = "adsctl-vault/1";

/// The vault file as stored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VaultFile {
    pub format: String,
    /// Fingerprint of the master key that sealed every entry ([`MasterKey::id`]).
    pub key_id: Option<String>,
    pub accounts: BTreeMap<String, SealedEntry>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SealedEntry {
    pub platform: Platform,
    /// When the stored long-lived token expires (Meta user tokens); `None` for refresh tokens and system users.
    pub expires_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    nonce: String,
    ciphertext: String,
}

/// The token vault of a project: the file in its state directory, or rows of its PostgreSQL state (the same
/// sealed entries, one row per account: the database never sees a token in clear, nor the master key).
pub struct Vault {
    path: PathBuf,
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    File,
    /// The table `adsctl_vault` of the database at this URL (never shown: it may hold a password).
    Postgres {
        url: String,
    },
    /// The project's state could not be chosen (a wrong `state:` in adsctl.yaml): every use says why.
    Unavailable {
        message: String,
        hint: String,
    },
}

impl Vault {
    /// The file vault of a state directory.
    pub fn at(state_dir: &Path) -> Vault {
        Vault {
            path: state_dir.join("vault.json"),
            backend: Backend::File,
        }
    }

    /// The vault in the PostgreSQL state at `url`.
    pub fn on_postgres(state_dir: &Path, url: &str) -> Vault {
        Vault {
            path: state_dir.join("vault.json"),
            backend: Backend::Postgres { url: url.to_string() },
        }
    }

    /// A vault that cannot be used, saying why.
    pub(crate) fn unavailable(state_dir: &Path, message: String, hint: String) -> Vault {
        Vault {
            path: state_dir.join("vault.json"),
            backend: Backend::Unavailable { message, hint },
        }
    }

    /// The vault file (where it would be, when the vault is on PostgreSQL).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the vault is in a PostgreSQL state.
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres { .. })
    }

    /// The vault as messages name it (never a password).
    pub fn shown(&self) -> String {
        match &self.backend {
            Backend::Postgres { url } => format!(
                "the token vault in the PostgreSQL state at {}",
                adsctl_state_pg::Target::of(url)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "(an unreadable URL)".into())
            ),
            _ => format!("the token vault {}", self.path.display()),
        }
    }

    fn io(&self, what: &str, e: impl std::fmt::Display) -> AuthError {
        io_error(&self.shown(), what, e)
    }

    fn pg(&self, url: &str) -> Result<std::sync::Arc<adsctl_state_pg::PgStore>, AuthError> {
        crate::store::side(url).map_err(|e| pg_error(&self.shown(), e))
    }

    /// The vault without decrypting anything (empty when there is none yet).
    pub fn read_file(&self) -> Result<VaultFile, AuthError> {
        match &self.backend {
            Backend::File => self.read_local(),
            Backend::Postgres { url } => {
                let rows = self.pg(url)?.vault_rows().map_err(|e| pg_error(&self.shown(), e))?;
                file_of_rows(&self.shown(), rows)
            }
            Backend::Unavailable { message, hint } => Err(AuthError::Config {
                message: message.clone(),
                hint: hint.clone(),
            }),
        }
    }

    fn read_local(&self) -> Result<VaultFile, AuthError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(VaultFile {
                    format: FORMAT.into(),
                    ..VaultFile::default()
                })
            }
            Err(e) => return Err(self.io("read", e)),
        };
        let file: VaultFile = serde_json::from_str(&text).map_err(|e| AuthError::Vault {
            message: format!("the token vault {} is damaged: {e}", self.path.display()),
            hint: "restore it from a backup, or move it away and log in again".into(),
        })?;
        if file.format != FORMAT {
            return Err(AuthError::Vault {
                message: format!(
                    "the token vault {} has format {:?}, expected {FORMAT}",
                    self.path.display(),
                    file.format
                ),
                hint: "use the adsctl version that wrote it".into(),
            });
        }
        Ok(file)
    }

    /// Read, change and write the vault back as one step: on PostgreSQL in one transaction that holds other
    /// writers off. `change` returns the new vault (`None`: nothing to write) and what to return; its error
    /// writes nothing.
    fn modify<R: Send + 'static>(
        &self,
        change: impl FnOnce(&str, VaultFile) -> Result<(Option<VaultFile>, R), AuthError> + Send + 'static,
    ) -> Result<R, AuthError> {
        let shown = self.shown();
        match &self.backend {
            Backend::Postgres { url } => {
                let store = self.pg(url)?;
                let inner = shown.clone();
                store
                    .vault_update(move |rows| {
                        let file = file_of_rows(&inner, rows)?;
                        let (new, out) = change(&inner, file)?;
                        let rows = new.map(|f| rows_of_file(&inner, &f)).transpose()?;
                        Ok::<_, AuthError>((rows, out))
                    })
                    .map_err(|e| pg_error(&shown, e))?
            }
            _ => {
                let file = self.read_file()?;
                let (new, out) = change(&shown, file)?;
                if let Some(new) = new {
                    self.write_file(&new)?;
                }
                Ok(out)
            }
        }
    }

    /// Decrypt one account's entry. `Ok(None)` when the account has no entry.
    pub fn get(&self, ring: &KeyRing, account: &str) -> Result<Option<CredentialKind>, AuthError> {
        let file = self.read_file()?;
        let Some(entry) = file.accounts.get(account) else {
            return Ok(None);
        };
        let Some(key) = key_for(&self.shown(), &file, ring)? else {
            return Ok(None);
        };
        open_entry(&self.shown(), key, account, entry).map(Some)
    }

    /// Insert or replace one account's credentials; every entry is re-sealed under the current key.
    pub fn put(&self, ring: &KeyRing, account: &str, creds: &CredentialKind) -> Result<(), AuthError> {
        let (ring, account, creds) = (ring.clone(), account.to_string(), creds.clone());
        self.modify(move |shown, file| {
            let mut clear = open_all(shown, &file, &ring)?;
            clear.insert(account, (creds, Utc::now()));
            Ok((Some(seal_all(shown, &ring.current, clear)?), ()))
        })
    }

    /// Delete one account's entry (no key needed). Returns whether there was one.
    pub fn remove(&self, account: &str) -> Result<bool, AuthError> {
        let account = account.to_string();
        self.modify(move |_, mut file| {
            let had = file.accounts.remove(&account).is_some();
            Ok((had.then_some(file), had))
        })
    }

    /// Re-seal every entry under `new` (key rotation). Fails without writing when any entry cannot be opened.
    pub fn reseal(&self, ring: &KeyRing, new: &MasterKey) -> Result<usize, AuthError> {
        let (ring, new) = (ring.clone(), new.clone());
        self.modify(move |shown, file| {
            let clear = open_all(shown, &file, &ring)?;
            let n = clear.len();
            Ok((Some(seal_all(shown, &new, clear)?), n))
        })
    }

    fn write_file(&self, file: &VaultFile) -> Result<(), AuthError> {
        let body = serde_json::to_vec_pretty(file).map_err(|e| self.io("encode", e))?;
        if let Some(dir) = self.path.parent() {
            if !dir.exists() {
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                b.create(dir).map_err(|e| self.io("create the folder of", e))?;
            }
        }
        let tmp = self.path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(|e| self.io("write", e))?;
        f.write_all(&body)
            .and_then(|_| f.sync_all())
            .map_err(|e| self.io("write", e))?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io("write", e))
    }

    /// Every entry as sealed, for `adsctl state copy` (nothing is decrypted).
    pub fn sealed(&self) -> Result<VaultFile, AuthError> {
        self.read_file()
    }

    /// Put a sealed vault (copied from another state) in place of an empty one; nothing is decrypted.
    pub fn restore_sealed(&self, file: VaultFile) -> Result<(), AuthError> {
        self.modify(move |shown, current| {
            if !current.accounts.is_empty() {
                return Err(AuthError::Vault {
                    message: format!("{shown} is not empty"),
                    hint: "copy into a new state".into(),
                });
            }
            Ok((Some(file), ()))
        })
    }
}

fn io_error(shown: &str, what: &str, e: impl std::fmt::Display) -> AuthError {
    AuthError::Vault {
        message: format!("cannot {what} {shown}: {e}"),
        hint: "check the state directory (ADSCTL_STATE_DIR or .adsctl/ beside adsctl.yaml)".into(),
    }
}

fn pg_error(shown: &str, e: adsctl_state_pg::PgError) -> AuthError {
    AuthError::Vault {
        message: format!("cannot use {shown}: {e}"),
        hint: e
            .hint()
            .unwrap_or_else(|| "check the PostgreSQL state (ADSCTL_STATE_URL or `state:` in adsctl.yaml)".into()),
    }
}

/// The vault that PostgreSQL rows make: the same [`VaultFile`] as `vault.json` holds.
fn file_of_rows(shown: &str, rows: Vec<adsctl_state_pg::VaultRow>) -> Result<VaultFile, AuthError> {
    let damaged = |what: String| AuthError::Vault {
        message: format!("{shown} is damaged: {what}"),
        hint: "restore the table adsctl_vault from a backup, or log the accounts in again".into(),
    };
    let mut file = VaultFile {
        format: FORMAT.into(),
        key_id: rows.first().map(|r| r.key_id.clone()),
        accounts: BTreeMap::new(),
    };
    for r in rows {
        if Some(&r.key_id) != file.key_id.as_ref() {
            return Err(damaged("its rows are sealed under different master keys".into()));
        }
        let entry: SealedEntry =
            serde_json::from_str(&r.sealed).map_err(|e| damaged(format!("the row of {}: {e}", r.account)))?;
        file.accounts.insert(r.account, entry);
    }
    Ok(file)
}

fn rows_of_file(shown: &str, file: &VaultFile) -> Result<Vec<adsctl_state_pg::VaultRow>, AuthError> {
    let key_id = file.key_id.clone().unwrap_or_default();
    file.accounts
        .iter()
        .map(|(account, entry)| {
            Ok(adsctl_state_pg::VaultRow {
                account: account.clone(),
                key_id: key_id.clone(),
                sealed: serde_json::to_string(entry).map_err(|e| io_error(shown, "encode", e))?,
            })
        })
        .collect()
}

/// The key that sealed `file`, or the wrong-key error (nothing is written).
fn key_for<'r>(shown: &str, file: &VaultFile, ring: &'r KeyRing) -> Result<Option<&'r MasterKey>, AuthError> {
    let Some(id) = &file.key_id else { return Ok(None) };
    if file.accounts.is_empty() {
        return Ok(None);
    }
    ring.find(id).map(Some).ok_or_else(|| AuthError::WrongKey {
        vault: shown.to_string(),
        vault_key_id: id.clone(),
        key_id: ring.current.id(),
        key_source: ring.source.to_string(),
    })
}

fn open_all(
    shown: &str,
    file: &VaultFile,
    ring: &KeyRing,
) -> Result<BTreeMap<String, (CredentialKind, DateTime<Utc>)>, AuthError> {
    let mut out = BTreeMap::new();
    if let Some(key) = key_for(shown, file, ring)? {
        for (name, entry) in &file.accounts {
            out.insert(name.clone(), (open_entry(shown, key, name, entry)?, entry.updated_at));
        }
    }
    Ok(out)
}

fn seal_all(
    shown: &str,
    key: &MasterKey,
    clear: BTreeMap<String, (CredentialKind, DateTime<Utc>)>,
) -> Result<VaultFile, AuthError> {
    let mut file = VaultFile {
        format: FORMAT.into(),
        key_id: Some(key.id()),
        accounts: BTreeMap::new(),
    };
    for (name, (creds, updated_at)) in clear {
        let entry = seal_entry(shown, key, &name, &creds, updated_at)?;
        file.accounts.insert(name, entry);
    }
    Ok(file)
}

fn seal_entry(
    shown: &str,
    key: &MasterKey,
    account: &str,
    creds: &CredentialKind,
    updated_at: DateTime<Utc>,
) -> Result<SealedEntry, AuthError> {
    let cipher = XChaCha20Poly1305::new(key.bytes().into());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let plain = serde_json::to_vec(creds).map_err(|e| io_error(shown, "encode", e))?;
    let platform = creds.platform();
    let aad = aad(account, platform);
    let ct = cipher
        .encrypt(&nonce, Payload { msg: &plain, aad: &aad })
        .map_err(|_| io_error(shown, "encrypt", "AEAD failure"))?;
    Ok(SealedEntry {
        platform,
        expires_at: creds.long_lived_expiry(),
        updated_at,
        nonce: B64.encode(nonce),
        ciphertext: B64.encode(ct),
    })
}

fn open_entry(shown: &str, key: &MasterKey, account: &str, entry: &SealedEntry) -> Result<CredentialKind, AuthError> {
    let damaged = || AuthError::Vault {
        message: format!("the entry for {account} in {shown} cannot be decrypted (damaged or altered)"),
        hint: format!("run `adsctl auth logout {account}` then log in again; other accounts are unaffected"),
    };
    let nonce = B64.decode(&entry.nonce).map_err(|_| damaged())?;
    let ct = B64.decode(&entry.ciphertext).map_err(|_| damaged())?;
    if nonce.len() != 24 {
        return Err(damaged());
    }
    let cipher = XChaCha20Poly1305::new(key.bytes().into());
    let aad = aad(account, entry.platform);
    let plain = cipher
        .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ct, aad: &aad })
        .map_err(|_| damaged())?;
    serde_json::from_slice(&plain).map_err(|_| damaged())
}

fn aad(account: &str, platform: Platform) -> Vec<u8> {
    format!("{FORMAT}\0{account}\0{}", platform.as_str()).into_bytes()
}
