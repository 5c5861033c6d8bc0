//! The master key that encrypts the token vault.
//!
//! Where it comes from, first match wins:
//! 1. `ADSCTL_MASTER_KEY`: 32 bytes as 64 hex digits or base64 (standard or URL-safe, padded or not);
//! 2. the key file: `ADSCTL_KEY_FILE`, else `<user config dir>/adsctl/master.key`, created on first need with
//!    mode 0600 (its folder 0700). A key file readable by group or others is refused.
//!
//! The key file is a key *ring*: one base64 key a line, the current key first, retired keys after it (kept so
//! that vaults of other projects written under an older key stay readable; they are re-encrypted under the
//! current key on their next write). `adsctl auth rotate-key` puts a new key first.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use chacha20poly1305::aead::{KeyInit, OsRng};
use chacha20poly1305::XChaCha20Poly1305;
use sha2::{Digest, Sha256};

use super::AuthError;

pub const ENV_MASTER_KEY: &str = "ADSCTL_MASTER_KEY";
pub const ENV_KEY_FILE: &str = "ADSCTL_KEY_FILE";

/// A 32-byte key. Never printed; identified by [`MasterKey::id`].
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(id {})", self.id())
    }
}

impl MasterKey {
    pub fn generate() -> MasterKey {
        let k = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut b = [0u8; 32];
        b.copy_from_slice(&k);
        MasterKey(b)
    }

    /// Parse 64 hex digits or base64 of 32 bytes.
    pub fn parse(text: &str) -> Option<MasterKey> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(t).ok()?
        } else {
            use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|e| e.decode(t).ok())?
        };
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(MasterKey(arr))
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A short public fingerprint (not the key, not enough to guess it): tells which key encrypted a vault.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"adsctl master key id v1\0");
        h.update(self.0);
        hex::encode(&h.finalize()[..8])
    }
}

/// Where the current key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => write!(f, "{ENV_MASTER_KEY}"),
            KeySource::File(p) => write!(f, "key file {}", p.display()),
        }
    }
}

/// The current key and the retired ones still accepted for reading.
#[derive(Clone, Debug)]
pub struct KeyRing {
    pub current: MasterKey,
    pub retired: Vec<MasterKey>,
    pub source: KeySource,
}

impl KeyRing {
    pub fn find(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(self.retired.iter())
            .find(|k| k.id() == id)
    }
}

/// How the key is looked up; `env` is the environment to read (injectable for tests).
#[derive(Clone, Debug)]
pub struct KeyConfig {
    pub env_key: Option<String>,
    pub key_file: Option<PathBuf>,
}

impl KeyConfig {
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> KeyConfig {
        KeyConfig {
            env_key: get(ENV_MASTER_KEY).filter(|v| !v.trim().is_empty()),
            key_file: get(ENV_KEY_FILE)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| dirs::config_dir().map(|d| d.join("adsctl").join("master.key"))),
        }
    }

    fn file(&self) -> Result<&Path, AuthError> {
        self.key_file.as_deref().ok_or_else(|| AuthError::Key {
            message: "no user config directory to keep the master key in".into(),
            hint: format!("set {ENV_MASTER_KEY} (32 bytes, hex or base64) or {ENV_KEY_FILE}"),
        })
    }

    /// Load the key ring; `None` when there is no key yet and `create` is false.
    pub fn load(&self, create: bool) -> Result<Option<KeyRing>, AuthError> {
        if let Some(v) = &self.env_key {
            let key = MasterKey::parse(v).ok_or_else(|| AuthError::Key {
                message: format!("{ENV_MASTER_KEY} is not a 32-byte key"),
                hint: "give 64 hex digits or the base64 of 32 random bytes (e.g. `openssl rand -base64 32`)".into(),
            })?;
            return Ok(Some(KeyRing {
                current: key,
                retired: Vec::new(),
                source: KeySource::Env,
            }));
        }
        let path = self.file()?;
        match read_key_file(path)? {
            Some(keys) => Ok(Some(ring_from(keys, path))),
            None if create => {
                let key = MasterKey::generate();
                write_key_file(path, std::slice::from_ref(&key), true)?;
                Ok(Some(KeyRing {
                    current: key,
                    retired: Vec::new(),
                    source: KeySource::File(path.to_path_buf()),
                }))
            }
            None => Ok(None),
        }
    }

    /// Make `new` the current key of the key file, keeping the old ones as retired (unless `forget_old`).
    pub fn install_new_file_key(&self, new: &MasterKey, old: &KeyRing, forget_old: bool) -> Result<(), AuthError> {
        let path = self.file()?;
        let mut keys = vec![new.clone()];
        if !forget_old {
            keys.push(old.current.clone());
            keys.extend(old.retired.iter().cloned());
        }
        write_key_file(path, &keys, false)
    }
}

fn ring_from(mut keys: Vec<MasterKey>, path: &Path) -> KeyRing {
    let current = keys.remove(0);
    KeyRing {
        current,
        retired: keys,
        source: KeySource::File(path.to_path_buf()),
    }
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> AuthError {
    AuthError::Key {
        message: format!("cannot {what} the master key file {}: {e}", path.display()),
        hint: format!("check the file, or set {ENV_MASTER_KEY} instead"),
    }
}

/// Read the key file: `None` if it does not exist; an error if its permissions are loose or it is malformed.
fn read_key_file(path: &Path) -> Result<Option<Vec<MasterKey>>, AuthError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, "read", e)),
    };
    check_permissions(path, &meta)?;
    let text = std::fs::read_to_string(path).map_err(|e| io_err(path, "read", e))?;
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        keys.push(MasterKey::parse(line).ok_or_else(|| AuthError::Key {
            message: format!("{}:{}: not a 32-byte key", path.display(), i + 1),
            hint: "the key file holds one base64 key a line, the current key first; restore it from your backup".into(),
        })?);
    }
    if keys.is_empty() {
        return Err(AuthError::Key {
            message: format!("the master key file {} is empty", path.display()),
            hint: "restore it from your backup, or delete it to start a new vault (stored tokens are then lost)".into(),
        });
    }
    Ok(Some(keys))
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &std::fs::Metadata) -> Result<(), AuthError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AuthError::KeyFilePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), AuthError> {
    Ok(())
}

/// Write the key ring with mode 0600 (atomically: a temporary file beside it, then rename). With `create_new`
/// an existing file is never overwritten.
fn write_key_file(path: &Path, keys: &[MasterKey], create_new: bool) -> Result<(), AuthError> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir).map_err(|e| io_err(path, "create the folder of", e))?;
        }
    }
    let mut body = String::from("# adsctl master key ring: current key first. Keep private (mode 0600).\n");
    for k in keys {
        body.push_str(&k.to_base64());
        body.push('\n');
    }
    let tmp = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(|e| io_err(&tmp, "create", e))?;
    f.write_all(body.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| io_err(&tmp, "write", e))?;
    drop(f);
    if create_new && path.exists() {
        let _ = std::fs::remove_file(&tmp);
        return Err(AuthError::Key {
            message: format!("the master key file {} appeared while creating it", path.display()),
            hint: "run the command again".into(),
        });
    }
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, "write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_base64() {
        let k = MasterKey::generate();
        let hexed = hex::encode(k.bytes());
        assert_eq!(MasterKey::parse(&hexed).unwrap().id(), k.id());
        assert_eq!(MasterKey::parse(&k.to_base64()).unwrap().id(), k.id());
        assert!(MasterKey::parse("short").is_none());
        assert!(!format!("{k:?}").contains(&k.to_base64()));
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_created_0600_and_loose_modes_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg/adsctl/master.key");
        let cfg = KeyConfig {
            env_key: None,
            key_file: Some(path.clone()),
        };
        assert!(cfg.load(false).unwrap().is_none());
        let ring = cfg.load(true).unwrap().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(cfg.load(false).unwrap().unwrap().current.id(), ring.current.id());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = cfg.load(false).unwrap_err();
        assert!(matches!(err, AuthError::KeyFilePermissions { mode: 0o644, .. }));
        assert!(err.hint().contains("chmod 600"));
    }
}
