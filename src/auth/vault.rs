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
//! `adsctl auth status` must work while `adsctl watch` runs.

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

pub struct Vault {
    path: PathBuf,
}

impl Vault {
    pub fn at(state_dir: &Path) -> Vault {
        Vault {
            path: state_dir.join("vault.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, what: &str, e: impl std::fmt::Display) -> AuthError {
        AuthError::Vault {
            message: format!("cannot {what} the token vault {}: {e}", self.path.display()),
            hint: "check the state directory (ADSCTL_STATE_DIR or .adsctl/ beside adsctl.yaml)".into(),
        }
    }

    /// The file without decrypting anything (empty when it does not exist).
    pub fn read_file(&self) -> Result<VaultFile, AuthError> {
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

    /// The key that sealed `file`, or the wrong-key error (nothing is written).
    fn key_for<'r>(&self, file: &VaultFile, ring: &'r KeyRing) -> Result<Option<&'r MasterKey>, AuthError> {
        let Some(id) = &file.key_id else { return Ok(None) };
        if file.accounts.is_empty() {
            return Ok(None);
        }
        ring.find(id).map(Some).ok_or_else(|| AuthError::WrongKey {
            path: self.path.clone(),
            vault_key_id: id.clone(),
            key_id: ring.current.id(),
            key_source: ring.source.to_string(),
        })
    }

    /// Decrypt one account's entry. `Ok(None)` when the account has no entry.
    pub fn get(&self, ring: &KeyRing, account: &str) -> Result<Option<CredentialKind>, AuthError> {
        let file = self.read_file()?;
        let Some(entry) = file.accounts.get(account) else {
            return Ok(None);
        };
        let Some(key) = self.key_for(&file, ring)? else {
            return Ok(None);
        };
        self.open_entry(key, account, entry).map(Some)
    }

    /// Insert or replace one account's credentials; every entry is re-sealed under the current key.
    pub fn put(&self, ring: &KeyRing, account: &str, creds: &CredentialKind) -> Result<(), AuthError> {
        let file = self.read_file()?;
        let mut clear = self.open_all(&file, ring)?;
        clear.insert(account.to_string(), (creds.clone(), Utc::now()));
        self.write_all(&ring.current, clear)
    }

    /// Delete one account's entry (no key needed). Returns whether there was one.
    pub fn remove(&self, account: &str) -> Result<bool, AuthError> {
        let mut file = self.read_file()?;
        let had = file.accounts.remove(account).is_some();
        if had {
            self.write_file(&file)?;
        }
        Ok(had)
    }

    /// Re-seal every entry under `new` (key rotation). Fails without writing when any entry cannot be opened.
    pub fn reseal(&self, ring: &KeyRing, new: &MasterKey) -> Result<usize, AuthError> {
        let file = self.read_file()?;
        let clear = self.open_all(&file, ring)?;
        let n = clear.len();
        self.write_all(new, clear)?;
        Ok(n)
    }

    fn open_all(
        &self,
        file: &VaultFile,
        ring: &KeyRing,
    ) -> Result<BTreeMap<String, (CredentialKind, DateTime<Utc>)>, AuthError> {
        let mut out = BTreeMap::new();
        if let Some(key) = self.key_for(file, ring)? {
            for (name, entry) in &file.accounts {
                out.insert(name.clone(), (self.open_entry(key, name, entry)?, entry.updated_at));
            }
        }
        Ok(out)
    }

    fn write_all(
        &self,
        key: &MasterKey,
        clear: BTreeMap<String, (CredentialKind, DateTime<Utc>)>,
    ) -> Result<(), AuthError> {
        let mut file = VaultFile {
            format: FORMAT.into(),
            key_id: Some(key.id()),
            accounts: BTreeMap::new(),
        };
        for (name, (creds, updated_at)) in clear {
            let entry = self.seal_entry(key, &name, &creds, updated_at)?;
            file.accounts.insert(name, entry);
        }
        self.write_file(&file)
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

    fn seal_entry(
        &self,
        key: &MasterKey,
        account: &str,
        creds: &CredentialKind,
        updated_at: DateTime<Utc>,
    ) -> Result<SealedEntry, AuthError> {
        let cipher = XChaCha20Poly1305::new(key.bytes().into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let plain = serde_json::to_vec(creds).map_err(|e| self.io("encode", e))?;
        let platform = creds.platform();
        let aad = aad(account, platform);
        let ct = cipher
            .encrypt(&nonce, Payload { msg: &plain, aad: &aad })
            .map_err(|_| self.io("encrypt", "AEAD failure"))?;
        Ok(SealedEntry {
            platform,
            expires_at: creds.long_lived_expiry(),
            updated_at,
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ct),
        })
    }

    fn open_entry(&self, key: &MasterKey, account: &str, entry: &SealedEntry) -> Result<CredentialKind, AuthError> {
        let damaged = || AuthError::Vault {
            message: format!(
                "the token vault entry for {account} in {} cannot be decrypted (damaged or altered)",
                self.path.display()
            ),
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
}

fn aad(account: &str, platform: Platform) -> Vec<u8> {
    format!("{FORMAT}\0{account}\0{}", platform.as_str()).into_bytes()
}
