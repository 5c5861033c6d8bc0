//! The embedded state backend: one sled database, one tree per kind of record, values as JSON; the cached live
//! state of each account and a snapshot of its id map in files of their own beside it (`cache/`, `ids/`; see
//! [`super::lines`]).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{lines, CachedLive, HistoryEntry, Intent, StateEntry, StateError, StateStore};
use crate::model::Address;

/// The directory (inside the state directory) of the cached live state, one file per account ([`lines`]).
///
/// Not in sled: a cached account is one large value (≈ 25 MB at 50k objects), and sled keeps every page it has
/// read in memory until its LRU, which only acts after thousands of accesses, evicts it; a plan from the cache
/// of 100k objects held ≈ 50 MB of raw cache bytes it had already decoded. A file is read, decoded and dropped.
const CACHE_DIR: &str = "cache";

/// The directory of the id map's per-account snapshots: `ids/<account>.json`, every entry of the account.
///
/// The id map itself stays in sled, one record per address (an apply updates it object by object, durably).
/// But reading 50k records through sled leaves every page read in sled's memory (its LRU never acts on one
/// pass), ≈ 60 MB at 100k objects, for the rest of the run. So the first read of an account's entries writes
/// them to a snapshot file, later reads take the file, and any change to the account's entries removes the
/// file before it changes sled (a crash in between leaves no stale snapshot).
const IDS_DIR: &str = "ids";

/// The first line of a cache file (`cache/<account>.json`); the resources follow, one per line.
#[derive(serde::Serialize, serde::Deserialize)]
struct CacheHeader {
    fetched_at: chrono::DateTime<chrono::Utc>,
    marker: Option<String>,
    /// `model::live_fingerprint` of the resources.
    fingerprint: String,
}

/// The first line of an id map snapshot (`ids/<account>.json`); the entries follow, one per line.
#[derive(serde::Serialize, serde::Deserialize)]
struct IdsHeader {}

/// sled's page cache, in bytes.
const CACHE_CAPACITY: u64 = 64 * 1024 * 1024;

pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    cache: sled::Tree,
    ids: sled::Tree,
    journal: sled::Tree,
    history: sled::Tree,
    /// Accounts whose id map snapshot (see [`IDS_DIR`]) this process has removed and not written again; held
    /// while a snapshot is written and while an entry changes, so that no snapshot outlives a change.
    ids_unsnapshotted: parking_lot::Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("path", &self.path).finish()
    }
}

/// The outcome of removing a file or directory, where "it was not there" is success.
fn gone(removed: std::io::Result<()>) -> std::io::Result<()> {
    match removed {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn storage(e: sled::Error) -> StateError {
    StateError::Storage(e.to_string())
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(v).map_err(|e| StateError::Storage(e.to_string()))
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: e.to_string(),
    })
}

impl SledStore {
    /// Open (creating) the state in `dir`.
    pub fn open(dir: &Path) -> Result<SledStore, StateError> {
        std::fs::create_dir_all(dir).map_err(|e| StateError::Open {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        // The state is local and may hold cached account data: keep it out of Git.
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            let _ = std::fs::write(
                &ignore,
                "# adsctl local state (cache, id map, journal); never commit it\n*\n",
            );
        }
        // sled's page cache defaults to 1 GiB. adsctl reads each record once per run, and keeps the large reads
        // (cached accounts, id map snapshots) in files of their own (see `CACHE_DIR`, `IDS_DIR`).
        let db = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(CACHE_CAPACITY)
            .open()
            .map_err(|e| {
                let message = e.to_string();
                if message.contains("could not acquire lock") {
                    StateError::Busy {
                        path: dir.to_path_buf(),
                    }
                } else {
                    StateError::Open {
                        path: dir.to_path_buf(),
                        message,
                    }
                }
            })?;
        if !db.was_recovered() {
            // a new database (the state was deleted, or only its `db`): snapshots of an id map that is gone
            gone(std::fs::remove_dir_all(dir.join(IDS_DIR))).map_err(|e| StateError::Open {
                path: dir.to_path_buf(),
                message: format!("cannot remove the id map snapshots: {e}"),
            })?;
        }
        let tree = |name: &str| db.open_tree(name).map_err(storage);
        Ok(SledStore {
            path: dir.to_path_buf(),
            cache: tree("cache")?,
            ids: tree("ids")?,
            journal: tree("journal")?,
            history: tree("history")?,
            ids_unsnapshotted: parking_lot::Mutex::new(std::collections::HashSet::new()),
            db,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the cached read of `account` is kept: `cache/<account>.json` (the name percent-encoded).
    fn cache_file(&self, account: &str) -> PathBuf {
        self.account_file(CACHE_DIR, account)
    }

    /// Id map entries from sled, all or of one account, sorted by address.
    fn scan_entries(&self, account: Option<&str>) -> Result<Vec<StateEntry>, StateError> {
        // Keys are addresses (`account/kind/name/…`): one account's entries are one key range, so the others
        // are not decoded at all.
        let prefix = account.map(|a| format!("{}/", Address::account(a)));
        let iter = match &prefix {
            Some(p) => self.ids.scan_prefix(p.as_bytes()),
            None => self.ids.iter(),
        };
        let mut out = Vec::new();
        for kv in iter {
            let (k, v) = kv.map_err(storage)?;
            let e: StateEntry = decode(&k, &v)?;
            if account.is_none_or(|a| e.address.account == a) {
                out.push(e);
            }
        }
        out.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(out)
    }

    /// Remove `account`'s id map snapshot (unless this process already did and has not written one since);
    /// the returned guard keeps snapshots from being written until the caller has changed sled.
    fn unsnapshot(
        &self,
        account: &str,
    ) -> Result<parking_lot::MutexGuard<'_, std::collections::HashSet<String>>, StateError> {
        let mut unsnapshotted = self.ids_unsnapshotted.lock();
        if !unsnapshotted.contains(account) {
            let path = self.account_file(IDS_DIR, account);
            gone(std::fs::remove_file(&path))
                .map_err(|e| StateError::Storage(format!("cannot remove {}: {e}", path.display())))?;
            unsnapshotted.insert(account.to_string());
        }
        Ok(unsnapshotted)
    }

    /// `<dir>/<account>.json` in the state directory, the account name percent-encoded.
    fn account_file(&self, dir: &str, account: &str) -> PathBuf {
        let mut name = String::with_capacity(account.len() + 5);
        for b in account.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') && !(name.is_empty() && b == b'.') {
                name.push(char::from(b));
            } else {
                name.push_str(&format!("%{b:02X}"));
            }
        }
        name.push_str(".json");
        self.path.join(dir).join(name)
    }

    /// A further named tree of the same database, for records other modules own (metrics history).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StateError> {
        self.db.open_tree(name).map_err(storage)
    }
}

impl StateStore for SledStore {
    fn cache_get(&self, account: &str) -> Result<Option<CachedLive>, StateError> {
        let path = self.cache_file(account);
        match lines::read::<CacheHeader, crate::model::Resource>(&path) {
            Ok(Some((h, resources))) => {
                return Ok(Some(CachedLive {
                    fetched_at: h.fetched_at,
                    marker: h.marker,
                    resources,
                    fingerprint: Some(h.fingerprint),
                }))
            }
            Ok(None) => {}
            Err(e) => {
                return Err(StateError::Corrupt {
                    key: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        }
        // a state written before the cache moved to files
        match self.cache.get(account.as_bytes()).map_err(storage)? {
            Some(v) => Ok(Some(decode(account.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    fn cache_put(
        &self,
        account: &str,
        fetched_at: chrono::DateTime<chrono::Utc>,
        marker: Option<&str>,
        resources: &[crate::model::Resource],
    ) -> Result<(), StateError> {
        let header = CacheHeader {
            fetched_at,
            marker: marker.map(str::to_string),
            fingerprint: crate::model::live_fingerprint(resources),
        };
        let path = self.cache_file(account);
        lines::write(&path, header, resources)
            .map_err(|e| StateError::Storage(format!("cannot write {}: {e}", path.display())))?;
        if self.cache.contains_key(account.as_bytes()).map_err(storage)? {
            self.cache.remove(account.as_bytes()).map_err(storage)?;
        }
        Ok(())
    }

    fn entries(&self, account: Option<&str>) -> Result<Vec<StateEntry>, StateError> {
        let Some(account) = account else {
            return self.scan_entries(None);
        };
        let mut unsnapshotted = self.ids_unsnapshotted.lock();
        let path = self.account_file(IDS_DIR, account);
        match lines::read::<IdsHeader, StateEntry>(&path) {
            Ok(Some((_, entries))) if entries.iter().all(|e| e.address.account == account) => return Ok(entries),
            Ok(None) => {}
            // derived data: a damaged snapshot is made again from sled
            Ok(Some(_)) => {
                tracing::warn!(path = %path.display(), "id map snapshot of another account; reading the id map")
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable id map snapshot; reading the id map")
            }
        }
        let entries = self.scan_entries(Some(account))?;
        // best effort: without a snapshot the next read scans sled again
        match lines::write(&path, IdsHeader {}, &entries) {
            Ok(()) => {
                unsnapshotted.remove(account);
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot write the id map snapshot"),
        }
        Ok(entries)
    }

    fn entry(&self, address: &Address) -> Result<Option<StateEntry>, StateError> {
        let key = address.to_string();
        match self.ids.get(key.as_bytes()).map_err(storage)? {
            Some(v) => Ok(Some(decode(key.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    fn put_entry(&self, entry: &StateEntry) -> Result<(), StateError> {
        let _guard = self.unsnapshot(&entry.address.account)?;
        self.ids
            .insert(entry.address.to_string().as_bytes(), encode(entry)?)
            .map_err(storage)?;
        Ok(())
    }

    fn remove_entry(&self, address: &Address) -> Result<bool, StateError> {
        let _guard = self.unsnapshot(&address.account)?;
        Ok(self
            .ids
            .remove(address.to_string().as_bytes())
            .map_err(storage)?
            .is_some())
    }

    fn journal_add(&self, intents: &[Intent]) -> Result<Vec<u64>, StateError> {
        let mut keys = Vec::with_capacity(intents.len());
        for intent in intents {
            let key = self.db.generate_id().map_err(storage)?;
            self.journal
                .insert(key.to_be_bytes(), encode(intent)?)
                .map_err(storage)?;
            keys.push(key);
        }
        if !keys.is_empty() {
            self.journal.flush().map_err(storage)?;
        }
        Ok(keys)
    }

    fn journal_pending(&self, account: Option<&str>) -> Result<Vec<(u64, Intent)>, StateError> {
        let mut out = Vec::new();
        for kv in self.journal.iter() {
            let (k, v) = kv.map_err(storage)?;
            let key = <[u8; 8]>::try_from(k.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StateError::Corrupt {
                    key: hex::encode(&k),
                    message: "journal key is not 8 bytes".into(),
                })?;
            let intent: Intent = decode(&k, &v)?;
            if account.is_none_or(|a| intent.account == a) {
                out.push((key, intent));
            }
        }
        Ok(out)
    }

    fn journal_resolve(&self, key: u64) -> Result<(), StateError> {
        self.journal.remove(key.to_be_bytes()).map_err(storage)?;
        Ok(())
    }

    fn history_add(&self, entry: &HistoryEntry) -> Result<(), StateError> {
        let key = self.db.generate_id().map_err(storage)?;
        self.history
            .insert(key.to_be_bytes(), encode(entry)?)
            .map_err(storage)?;
        Ok(())
    }

    fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let mut out = Vec::new();
        for kv in self.history.iter() {
            let (k, v) = kv.map_err(storage)?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }

    fn flush(&self) -> Result<(), StateError> {
        self.db.flush().map_err(storage)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::Kind;

    #[test]
    fn round_trips_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let a = Address::account("acme").child(Kind::Campaign, "C");
        let e = StateEntry {
            address: a.clone(),
            kind: Kind::Campaign,
            id: "1".into(),
            prevent_destroy: true,
            applied: Default::default(),
            updated_at: Utc::now(),
        };
        s.put_entry(&e).unwrap();
        assert_eq!(s.entry(&a).unwrap(), Some(e.clone()));
        assert_eq!(s.entries(Some("acme")).unwrap(), vec![e]);
        assert!(s.entries(Some("other")).unwrap().is_empty());
        let k = s
            .journal_add(&[Intent {
                account: "acme".into(),
                address: a.clone(),
                kind: Kind::Campaign,
                plan_hash: "h".into(),
                at: Utc::now(),
            }])
            .unwrap()[0];
        assert_eq!(s.journal_pending(Some("acme")).unwrap().len(), 1);
        s.journal_resolve(k).unwrap();
        assert!(s.journal_pending(None).unwrap().is_empty());
        assert!(s.remove_entry(&a).unwrap());
        assert!(!s.remove_entry(&a).unwrap());
        // a second open of the same state is refused clearly
        assert!(matches!(SledStore::open(dir.path()), Err(StateError::Busy { .. })));
    }

    #[test]
    fn id_map_snapshots_never_outlive_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let at = Utc::now();
        let entry = |name: &str, id: &str| StateEntry {
            address: Address::account("acme").child(Kind::Campaign, name),
            kind: Kind::Campaign,
            id: id.into(),
            prevent_destroy: false,
            applied: Default::default(),
            updated_at: at,
        };
        let snapshot = dir.path().join("ids").join("acme.json");
        s.put_entry(&entry("A", "1")).unwrap();
        s.put_entry(&entry("B", "2")).unwrap();
        assert!(!snapshot.exists());
        assert_eq!(s.entries(Some("acme")).unwrap(), vec![entry("A", "1"), entry("B", "2")]);
        assert!(snapshot.is_file(), "the first read writes the snapshot");
        assert_eq!(s.entries(Some("acme")).unwrap(), vec![entry("A", "1"), entry("B", "2")]);
        // another account's entries neither use nor touch it
        s.put_entry(&StateEntry {
            address: Address::account("other").child(Kind::Campaign, "X"),
            ..entry("X", "9")
        })
        .unwrap();
        assert!(snapshot.is_file());

        // a change removes it before it changes sled; the next read sees the change and writes it again
        s.put_entry(&entry("B", "3")).unwrap();
        assert!(!snapshot.exists());
        assert_eq!(s.entries(Some("acme")).unwrap(), vec![entry("A", "1"), entry("B", "3")]);
        assert!(snapshot.is_file());
        assert!(s.remove_entry(&entry("A", "1").address).unwrap());
        assert!(!snapshot.exists());
        assert_eq!(s.entries(Some("acme")).unwrap(), vec![entry("B", "3")]);
        // and again after the next read (the process remembers that it wrote one)
        s.put_entry(&entry("C", "4")).unwrap();
        assert_eq!(s.entries(Some("acme")).unwrap().len(), 2);

        // a damaged snapshot is made again from sled, and a reopened store reads a good one
        std::fs::write(&snapshot, b"[{").unwrap();
        assert_eq!(s.entries(Some("acme")).unwrap().len(), 2);
        drop(s);
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.entries(Some("acme")).unwrap().len(), 2);
        assert_eq!(s.entries(None).unwrap().len(), 3);

        // the database deleted behind its snapshots: they go with it
        drop(s);
        assert!(snapshot.is_file());
        std::fs::remove_dir_all(dir.path().join("db")).unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        assert!(!snapshot.exists());
        assert!(s.entries(Some("acme")).unwrap().is_empty());
    }

    #[test]
    fn the_live_cache_is_a_file_per_account_with_its_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let mut r = crate::model::Resource::new(Address::account("a/b").child(Kind::Campaign, "C"), Kind::Campaign)
            .with("status", crate::model::Value::str("enabled"));
        r.id = Some("7".into());
        let at = Utc::now();
        assert!(s.cache_get("a/b").unwrap().is_none());
        s.cache_put("a/b", at, Some("m1"), std::slice::from_ref(&r)).unwrap();
        // the account name cannot escape the cache directory
        let file = dir.path().join("cache").join("a%2Fb.json");
        assert!(file.is_file(), "{file:?}");
        assert_eq!(s.cache_file("..").file_name().unwrap(), "%2E..json");
        let got = s.cache_get("a/b").unwrap().unwrap();
        assert_eq!(got.resources, vec![r.clone()]);
        assert_eq!(got.marker.as_deref(), Some("m1"));
        assert_eq!(got.fetched_at, at);
        assert_eq!(got.fingerprint, Some(crate::model::live_fingerprint(&[r.clone()])));

        // a state from before the move keeps its cache in sled: read there, and moved out by the next put
        let legacy = serde_json::json!({"fetched_at": at, "marker": null, "resources": [r]});
        s.cache.insert("old", serde_json::to_vec(&legacy).unwrap()).unwrap();
        let got = s.cache_get("old").unwrap().unwrap();
        assert_eq!(got.resources.len(), 1);
        assert_eq!(got.fingerprint, None);
        s.cache_put("old", at, None, &got.resources).unwrap();
        assert!(s.cache.get("old").unwrap().is_none());
        let fingerprint = Some(crate::model::live_fingerprint(&got.resources));
        assert_eq!(s.cache_get("old").unwrap().unwrap().fingerprint, fingerprint);

        // a damaged file is reported, not taken for an empty account
        std::fs::write(&file, b"{\"fetched_at\": ").unwrap();
        assert!(matches!(s.cache_get("a/b"), Err(StateError::Corrupt { .. })));
    }
}
