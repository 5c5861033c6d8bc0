//! The embedded state backend: one sled database, one tree per kind of record, values as JSON; the cached live
//! state of each account and a snapshot of its id map in files of their own beside it (`cache/`, `ids/`; see
//! [`super::lines`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::IVec;

use super::lock::{LockError, StateLock};
use super::{lines, recover, ApplyRecord, CachedLive, Intent, StateEntry, StateError, StateStore};
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

/// The sled tree of the apply records. Named `history` on disk since the first release: kept, so that existing
/// state directories read as they are (and `state doctor` names it so).
pub(super) const APPLIES_TREE: &str = "history";

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

/// sled's directory inside the state directory.
const DB_DIR: &str = "db";

/// A file in sled's directory: the sequence number of the last [`StateStore::flush`], also kept in sled (tree
/// `meta`, key `seq`). sled recovers from damage silently, dropping what follows the first damaged record of
/// its log; a database whose sequence is behind this file's lost records it had made durable, and is set aside.
/// (A crash between the flush and this file leaves the file behind sled, which is fine.)
const SEQ_FILE: &str = "adsctl.seq";

/// A file in sled's directory written when a call into sled panicked or reported corruption after this process
/// had written to it: the next open sets the database aside.
const DAMAGED_MARKER: &str = "adsctl.damaged";

/// The trees of one open database.
struct Trees {
    db: sled::Db,
    cache: sled::Tree,
    ids: sled::Tree,
    journal: sled::Tree,
    /// One record per apply (the tree [`APPLIES_TREE`]).
    applies: sled::Tree,
    /// adsctl's own bookkeeping (`seq`).
    meta: sled::Tree,
    /// Records that could not be decoded, kept for `adsctl state doctor` (`<tree>/<key>/<timestamp>`).
    damaged: sled::Tree,
}

pub struct SledStore {
    path: PathBuf,
    /// The open database; replaced when it turns out damaged before this process wrote to it. A replaced one is
    /// leaked, never dropped: dropping flushes, and a damaged sled may panic doing it.
    /// (`None` only while the store is dropped.)
    trees: parking_lot::RwLock<Option<Arc<Trees>>>,
    /// The sequence number of the last flush (see [`SEQ_FILE`]); held while flushing.
    seq: parking_lot::Mutex<u64>,
    /// Whether this process changed the database (then damage found later is not repaired in-process).
    wrote: AtomicBool,
    /// The database turned out damaged and could not be replaced: every call fails until the next run.
    broken: AtomicBool,
    /// Accounts whose id map snapshot (see [`IDS_DIR`]) this process has removed and not written again; held
    /// while a snapshot is written and while an entry changes, so that no snapshot outlives a change.
    ids_unsnapshotted: parking_lot::Mutex<std::collections::HashSet<String>>,
    /// Released last (fields drop in order).
    _lock: StateLock,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("path", &self.path).finish()
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        let Some(trees) = self.trees.write().take() else {
            return;
        };
        if self.broken.load(Ordering::SeqCst) || recover::sled_panicked() {
            // Dropping a damaged sled flushes it, which may panic again: leave it to the process's exit.
            std::mem::forget(trees);
            return;
        }
        // The last handle flushes on drop; a panic there must not take the process down either.
        if recover::guard(move || drop(trees)).is_err() {
            let _ = std::fs::write(self.path.join(DB_DIR).join(DAMAGED_MARKER), "sled panicked closing it");
        }
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

/// Why a database could not be used.
enum Unusable {
    /// Another process holds sled's own lock.
    Busy,
    /// Damaged: set aside and start again.
    Damaged(String),
}

/// What [`open_db`] found.
struct Opened {
    trees: Trees,
    /// sled made a new database (nothing was there).
    fresh: bool,
    seq: u64,
}

fn read_seq_file(db_dir: &Path) -> Option<u64> {
    std::fs::read_to_string(db_dir.join(SEQ_FILE)).ok()?.trim().parse().ok()
}

fn seq_of(meta: &sled::Tree) -> sled::Result<Option<u64>> {
    Ok(meta
        .get(b"seq")?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes))
}

/// Open sled in `db_dir` and read it a first time, on a thread of its own: sled panics on some damage (a flipped
/// byte in its log), and that panic must become a recovery, not the end of the process.
fn open_db(db_dir: &Path) -> Result<Opened, Unusable> {
    // The caller holds `state.lock`, so no other adsctl has the database open: sled's own lock still held is
    // this process's previous handle, whose background flush releases it a moment after the drop. Wait for it
    // (briefly) rather than report the state as busy.
    let mut tries = 0;
    loop {
        match open_db_once(db_dir) {
            Err(Unusable::Busy) if tries < 40 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn open_db_once(db_dir: &Path) -> Result<Opened, Unusable> {
    recover::install_panic_filter();
    let dir = db_dir.to_path_buf();
    let worker = std::thread::Builder::new()
        .name(recover::OPEN_THREAD.into())
        .spawn(move || open_db_here(&dir))
        .map_err(|e| Unusable::Damaged(format!("cannot start a thread to open it: {e}")))?;
    match worker.join() {
        Ok(r) => r,
        Err(p) => Err(Unusable::Damaged(format!(
            "sled panicked opening it: {}",
            recover::panic_message(p.as_ref())
        ))),
    }
}

fn open_db_here(db_dir: &Path) -> Result<Opened, Unusable> {
    if let Ok(why) = std::fs::read_to_string(db_dir.join(DAMAGED_MARKER)) {
        return Err(Unusable::Damaged(format!(
            "an earlier run found it damaged: {}",
            why.trim()
        )));
    }
    let durable = read_seq_file(db_dir);
    // sled's page cache defaults to 1 GiB. adsctl reads each record once per run, and keeps the large reads
    // (cached accounts, id map snapshots) in files of their own (see `CACHE_DIR`, `IDS_DIR`).
    let db = sled::Config::new()
        .path(db_dir)
        .cache_capacity(CACHE_CAPACITY)
        .open()
        .map_err(|e| {
            let message = e.to_string();
            if message.contains("could not acquire lock") {
                Unusable::Busy
            } else {
                Unusable::Damaged(message)
            }
        })?;
    let damaged = |e: sled::Error| Unusable::Damaged(e.to_string());
    let tree = |name: &str| db.open_tree(name).map_err(damaged);
    let trees = Trees {
        cache: tree("cache")?,
        ids: tree("ids")?,
        journal: tree("journal")?,
        applies: tree(APPLIES_TREE)?,
        meta: tree("meta")?,
        damaged: tree("damaged")?,
        db: db.clone(),
    };
    // The first read: the small trees whole, the id map's ends (a read of all of it would keep every page in
    // sled's memory; an account's entries are read when it is planned, and damage found then is repaired too).
    for kv in trees.journal.iter().chain(trees.applies.iter()) {
        kv.map_err(damaged)?;
    }
    trees.ids.first().map_err(damaged)?;
    trees.ids.last().map_err(damaged)?;
    let seq = seq_of(&trees.meta).map_err(damaged)?;
    if let Some(want) = durable {
        if seq.unwrap_or(0) < want {
            return Err(Unusable::Damaged(format!(
                "it lost records it had made durable (flush {} of {want} survived)",
                seq.unwrap_or(0)
            )));
        }
    }
    Ok(Opened {
        fresh: !db.was_recovered() && durable.is_none(),
        seq: seq.unwrap_or(0),
        trees,
    })
}

/// `<dir>/<account>.json`, the account name percent-encoded.
fn account_file_in(path: &Path, dir: &str, account: &str) -> PathBuf {
    let mut name = String::with_capacity(account.len() + 5);
    for b in account.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') && !(name.is_empty() && b == b'.') {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    name.push_str(".json");
    path.join(dir).join(name)
}

/// A file read failed: `Ok(())` when it was set aside (and will be rebuilt), `Err` when the failure says nothing
/// about the file (out of file descriptors) or it could not be moved.
fn set_aside_unreadable(path: &Path, what: &str, e: &lines::ReadError) -> Result<(), StateError> {
    if let lines::ReadError::Io(io) = e {
        if recover::is_transient(io) {
            return Err(StateError::Storage(format!("cannot read {}: {io}", path.display())));
        }
    }
    recover::set_aside_and_warn(path, what, &e.to_string())
        .map(|_| ())
        .map_err(|m| StateError::Storage(format!("cannot set aside the unreadable {}: {m}", path.display())))
}

impl SledStore {
    /// Open (creating) the state in `dir`. A database that cannot be opened or read (damaged, or panicking
    /// inside sled) is set aside and replaced by a new one, into which the id map snapshots (`ids/`) are read
    /// back; everything else is rebuilt from the platforms. Refused with [`StateError::Busy`] while another
    /// adsctl process has the state open.
    pub fn open(dir: &Path) -> Result<SledStore, StateError> {
        let open_err = |message: String| StateError::Open {
            path: dir.to_path_buf(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        // The state is local and may hold cached account data: keep it out of Git.
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            let _ = std::fs::write(
                &ignore,
                "# adsctl local state (cache, id map, journal); never commit it\n*\n",
            );
        }
        let lock = StateLock::acquire(dir).map_err(|e| match e {
            LockError::Held { holder, .. } => StateError::Busy {
                path: dir.to_path_buf(),
                holder,
            },
            LockError::Io { message, .. } => open_err(message),
        })?;
        let db_dir = dir.join(DB_DIR);
        let (opened, recovered) = match open_db(&db_dir) {
            Ok(o) => (o, false),
            Err(Unusable::Busy) => {
                return Err(StateError::Busy {
                    path: dir.to_path_buf(),
                    holder: super::lock::read_holder(&dir.join(super::lock::STATE_LOCK)),
                })
            }
            Err(Unusable::Damaged(why)) => (Self::replace_db(dir, &why)?, true),
        };
        let Opened { trees, fresh, seq } = opened;
        if fresh && !recovered {
            // a new database (the state was deleted, or only its `db`): snapshots of an id map that is gone
            gone(std::fs::remove_dir_all(dir.join(IDS_DIR)))
                .map_err(|e| open_err(format!("cannot remove the id map snapshots: {e}")))?;
        }
        let store = SledStore {
            path: dir.to_path_buf(),
            trees: parking_lot::RwLock::new(Some(Arc::new(trees))),
            seq: parking_lot::Mutex::new(seq),
            wrote: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            ids_unsnapshotted: parking_lot::Mutex::new(std::collections::HashSet::new()),
            _lock: lock,
        };
        if recovered {
            store.flush()?;
        }
        Ok(store)
    }

    /// Set aside the damaged database in `dir` and open a new one with the id map snapshots read back into it.
    /// A damaged `conf` alone (sled's settings, which adsctl always opens with the same) is set aside first.
    fn replace_db(dir: &Path, why: &str) -> Result<Opened, StateError> {
        let db_dir = dir.join(DB_DIR);
        let conf = db_dir.join("conf");
        if conf.symlink_metadata().is_ok() && !db_dir.join(DAMAGED_MARKER).exists() {
            if let Ok(aside) = recover::set_aside(&conf) {
                match open_db(&db_dir) {
                    Ok(o) if !o.fresh => {
                        tracing::warn!(
                            "the state database's settings ({}) could not be read ({why}); set them aside as {} \
                             and wrote them again",
                            conf.display(),
                            aside
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default()
                        );
                        return Ok(o);
                    }
                    // not the settings: put them back, and the whole database goes aside with them
                    Ok(o) => {
                        std::mem::forget(o.trees);
                        return Self::replace_whole_db(dir, why);
                    }
                    Err(Unusable::Busy) => {
                        return Err(StateError::Busy {
                            path: dir.to_path_buf(),
                            holder: None,
                        })
                    }
                    Err(Unusable::Damaged(_)) => {
                        let _ = std::fs::remove_file(&conf);
                        let _ = std::fs::rename(&aside, &conf);
                    }
                }
            }
        }
        Self::replace_whole_db(dir, why)
    }

    fn replace_whole_db(dir: &Path, why: &str) -> Result<Opened, StateError> {
        let db_dir = dir.join(DB_DIR);
        let open_err = |message: String| StateError::Open {
            path: dir.to_path_buf(),
            message,
        };
        let aside = recover::set_aside(&db_dir)
            .map_err(|e| open_err(format!("the database is damaged ({why}) and cannot be set aside: {e}")))?;
        let opened = match open_db(&db_dir) {
            Ok(o) => o,
            Err(Unusable::Busy) => return Err(open_err("a new database is locked by another process".into())),
            Err(Unusable::Damaged(m)) => return Err(open_err(format!("cannot create a new database: {m}"))),
        };
        let restored = Self::restore_snapshots(dir, &opened.trees)?;
        tracing::warn!(
            "the state database ({}) could not be used ({why}); set it aside as {} and started a new one{}; the \
             journal of interrupted applies and the apply records stay in the copy, and everything else is rebuilt \
             from the platforms (objects adsctl created are recognised by their ownership marker)",
            db_dir.display(),
            aside
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            if restored > 0 {
                format!(" with the {restored} id map entries of its snapshots")
            } else {
                String::new()
            }
        );
        Ok(opened)
    }

    /// Read the id map snapshots (`ids/<account>.json`) back into a new database; unreadable ones are set aside.
    /// A snapshot is only ever present while it matches the id map (it is removed before any change), so it is
    /// the id map as of the damaged database's last good state.
    fn restore_snapshots(dir: &Path, trees: &Trees) -> Result<usize, StateError> {
        let ids_dir = dir.join(IDS_DIR);
        let Ok(files) = std::fs::read_dir(&ids_dir) else {
            return Ok(0);
        };
        let mut restored = 0;
        for f in files.filter_map(Result::ok) {
            let path = f.path();
            let name = f.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".json") {
                continue;
            }
            let entries = match lines::read::<IdsHeader, StateEntry>(&path) {
                Ok(Some((_, entries))) => entries,
                Ok(None) => continue,
                Err(e) => {
                    set_aside_unreadable(&path, "an id map snapshot", &e)?;
                    continue;
                }
            };
            let account = entries.first().map(|e| e.address.account.clone());
            let consistent = account.as_deref().is_none_or(|a| {
                entries.iter().all(|e| e.address.account == a) && account_file_in(dir, IDS_DIR, a) == path
            });
            if !consistent {
                set_aside_unreadable(
                    &path,
                    "an id map snapshot",
                    &lines::ReadError::Format {
                        line: 1,
                        message: "its entries belong to another account".into(),
                    },
                )?;
                continue;
            }
            for e in &entries {
                trees
                    .ids
                    .insert(e.address.to_string().as_bytes(), encode(e)?)
                    .map_err(storage)?;
                restored += 1;
            }
        }
        Ok(restored)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open database.
    fn t(&self) -> Result<Arc<Trees>, StateError> {
        self.trees
            .read()
            .clone()
            .ok_or_else(|| self.damaged("the store is closing"))
    }

    /// Run a call into sled. A panic inside it, or corruption it reports, is damage: before this process wrote
    /// anything, the database is replaced at once and the call made again on the new one; after, it fails
    /// ([`StateError::Damaged`]) and the next run replaces it.
    fn sled<T>(&self, write: bool, f: impl Fn(&Trees) -> sled::Result<T>) -> Result<T, StateError> {
        for attempt in 0..2 {
            if self.broken.load(Ordering::SeqCst) {
                return Err(self.damaged("an earlier call found it damaged"));
            }
            let trees = self.t()?;
            let why = match recover::guard(|| f(&trees)) {
                Ok(Ok(v)) => {
                    if write {
                        self.wrote.store(true, Ordering::SeqCst);
                    }
                    return Ok(v);
                }
                Ok(Err(e @ (sled::Error::Corruption { .. } | sled::Error::ReportableBug(_)))) => e.to_string(),
                Ok(Err(e)) => return Err(storage(e)),
                Err(panic) => format!("sled panicked: {panic}"),
            };
            if attempt > 0 || self.wrote.load(Ordering::SeqCst) {
                self.broken.store(true, Ordering::SeqCst);
                let _ = std::fs::write(self.path.join(DB_DIR).join(DAMAGED_MARKER), &why);
                return Err(self.damaged(&why));
            }
            self.replace_now(&why)?;
        }
        Err(self.damaged("it failed again after being replaced"))
    }

    /// Replace the database in the middle of a run (before this process wrote to it).
    fn replace_now(&self, why: &str) -> Result<(), StateError> {
        let mut slot = self.trees.write();
        // What the damaged database still gives (its damage may be elsewhere): the id map and the journal.
        type Records = Vec<(IVec, IVec)>;
        let salvaged: Option<(Records, Records)> = slot.as_ref().and_then(|old| {
            recover::guard(|| -> sled::Result<(Records, Records)> {
                let ids = old.ids.iter().collect::<sled::Result<Records>>()?;
                let journal = old.journal.iter().collect::<sled::Result<Records>>()?;
                Ok((ids, journal))
            })
            .ok()
            .and_then(Result::ok)
        });
        let opened = Self::replace_whole_db(&self.path, why).inspect_err(|_| {
            self.broken.store(true, Ordering::SeqCst);
        })?;
        if let Some((ids, journal)) = salvaged {
            let t = &opened.trees;
            let read_back = recover::guard(|| -> sled::Result<usize> {
                let mut n = 0;
                for (k, v) in &ids {
                    if serde_json::from_slice::<StateEntry>(v).is_ok() && !t.ids.contains_key(k)? {
                        t.ids.insert(k, v)?;
                        n += 1;
                    }
                }
                // journal keys are the old database's ids: new ones, so that later intents never collide
                for (_, v) in &journal {
                    if serde_json::from_slice::<Intent>(v).is_ok() {
                        t.journal.insert(t.db.generate_id()?.to_be_bytes(), v)?;
                        n += 1;
                    }
                }
                Ok(n)
            });
            if let Ok(Ok(n)) = read_back {
                tracing::warn!("read {n} id map entries and journaled creates back from the damaged database");
            }
        }
        *self.seq.lock() = opened.seq;
        let old = slot.replace(Arc::new(opened.trees));
        std::mem::forget(old);
        Ok(())
    }

    /// When a call found the database damaged after this process had written to it (every call fails since),
    /// set it aside and start a new one now, with the id map snapshots and whatever id map entries and journaled
    /// creates the damaged one still gives read back. For a long-lived process (the daemon), between two
    /// reconciles; what cannot be read back is found again by the platform's ownership markers, as by a fresh
    /// runner. `true` when it replaced the database.
    pub fn recover_if_broken(&self) -> Result<bool, StateError> {
        if !self.broken.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let why = std::fs::read_to_string(self.path.join(DB_DIR).join(DAMAGED_MARKER))
            .unwrap_or_else(|_| "a call into it failed".into());
        self.replace_now(why.trim())?;
        self.wrote.store(false, Ordering::SeqCst);
        self.broken.store(false, Ordering::SeqCst);
        Ok(true)
    }

    fn damaged(&self, why: &str) -> StateError {
        StateError::Damaged {
            path: self.path.join(DB_DIR),
            message: why.to_string(),
        }
    }

    /// Move an undecodable record out of `tree` into the `damaged` tree, and say so once.
    fn quarantine(&self, tree: &str, key: &[u8], value: &[u8], message: &str, what: &str) -> Result<(), StateError> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let mut aside = format!("{tree}/").into_bytes();
        aside.extend_from_slice(key);
        aside.extend_from_slice(format!("/{stamp}").as_bytes());
        self.sled(false, |t| {
            let source = match tree {
                "ids" => &t.ids,
                "journal" => &t.journal,
                APPLIES_TREE => &t.applies,
                _ => &t.cache,
            };
            t.damaged.insert(aside.as_slice(), value)?;
            source.remove(key)?;
            Ok(())
        })?;
        tracing::warn!(
            "{what} `{}` could not be read ({message}); set it aside in the state database (`adsctl state doctor` \
             lists it)",
            String::from_utf8_lossy(key)
        );
        Ok(())
    }

    /// Decode a record of `tree`, setting it aside when it cannot be.
    fn decode_or_quarantine<T: DeserializeOwned>(
        &self,
        tree: &str,
        what: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<T>, StateError> {
        match decode(key, value) {
            Ok(v) => Ok(Some(v)),
            Err(StateError::Corrupt { message, .. }) => {
                self.quarantine(tree, key, value, &message, what)?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Where the cached read of `account` is kept: `cache/<account>.json` (the name percent-encoded).
    fn cache_file(&self, account: &str) -> PathBuf {
        self.account_file(CACHE_DIR, account)
    }

    /// The records of a tree (or of one key prefix), decoded; records that do not decode are set aside.
    fn scan_decode<T: DeserializeOwned>(
        &self,
        tree: &str,
        what: &str,
        which: fn(&Trees) -> &sled::Tree,
        prefix: Option<&[u8]>,
    ) -> Result<Vec<(IVec, T)>, StateError> {
        type Bad = Vec<(IVec, IVec, String)>;
        let (good, bad): (Vec<(IVec, T)>, Bad) = self.sled(false, |t| {
            let tree = which(t);
            let iter = match prefix {
                Some(p) => tree.scan_prefix(p),
                None => tree.iter(),
            };
            let (mut good, mut bad) = (Vec::new(), Vec::new());
            for kv in iter {
                let (k, v) = kv?;
                match serde_json::from_slice::<T>(&v) {
                    Ok(x) => good.push((k, x)),
                    Err(e) => bad.push((k, v, e.to_string())),
                }
            }
            Ok((good, bad))
        })?;
        for (k, v, message) in bad {
            self.quarantine(tree, &k, &v, &message, what)?;
        }
        Ok(good)
    }

    /// Id map entries from sled, all or of one account, sorted by address.
    fn scan_entries(&self, account: Option<&str>) -> Result<Vec<StateEntry>, StateError> {
        // Keys are addresses (`account/kind/name/…`): one account's entries are one key range, so the others
        // are not decoded at all.
        let prefix = account.map(|a| format!("{}/", Address::account(a)));
        let mut out: Vec<StateEntry> = self
            .scan_decode::<StateEntry>(
                "ids",
                "the id map entry",
                |t| &t.ids,
                prefix.as_deref().map(str::as_bytes),
            )?
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| account.is_none_or(|a| e.address.account == a))
            .collect();
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
        account_file_in(&self.path, dir, account)
    }

    /// A further named tree of the same database, for records other modules own (the metrics' daily series).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StateError> {
        self.sled(false, |t| t.db.open_tree(name))
    }
}

/// What `adsctl state doctor` learns about a database, opened from a copy so that nothing changes.
#[derive(Debug, Default)]
pub(crate) struct DbHealth {
    /// Why it cannot be used (then it is set aside by the next run).
    pub problem: Option<String>,
    /// Decodable records per tree (`ids`, `journal`, [`APPLIES_TREE`]).
    pub records: std::collections::BTreeMap<&'static str, usize>,
    /// Records that do not decode, as `tree/key`.
    pub bad_records: Vec<String>,
    /// Records set aside earlier (tree `damaged`).
    pub set_aside_records: usize,
    /// The id map, by account.
    pub entries: std::collections::BTreeMap<String, Vec<StateEntry>>,
    /// Unresolved journaled creates.
    pub pending: Vec<Intent>,
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

/// Examine the database of the state in `dir` without changing it: a copy is opened (sled may repair what it
/// opens) and read whole.
pub(crate) fn examine_db(dir: &Path) -> DbHealth {
    let db_dir = dir.join(DB_DIR);
    let mut health = DbHealth::default();
    if db_dir.symlink_metadata().is_err() {
        return health;
    }
    let copy = std::env::temp_dir().join(format!(
        "adsctl-doctor-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    if let Err(e) = copy_dir(&db_dir, &copy) {
        health.problem = Some(format!("cannot be read: {e}"));
        let _ = std::fs::remove_dir_all(&copy);
        return health;
    }
    match open_db(&copy) {
        Err(Unusable::Busy) => health.problem = Some("its copy is locked (this cannot happen)".into()),
        Err(Unusable::Damaged(why)) => health.problem = Some(why),
        Ok(opened) => {
            let trees = opened.trees;
            let read = recover::guard(|| -> sled::Result<()> {
                for (name, tree) in [
                    ("ids", &trees.ids),
                    ("journal", &trees.journal),
                    (APPLIES_TREE, &trees.applies),
                ] {
                    for kv in tree.iter() {
                        let (k, v) = kv?;
                        let ok = match name {
                            "ids" => serde_json::from_slice::<StateEntry>(&v)
                                .map(|e| health.entries.entry(e.address.account.clone()).or_default().push(e))
                                .is_ok(),
                            "journal" => serde_json::from_slice::<Intent>(&v)
                                .map(|i| health.pending.push(i))
                                .is_ok(),
                            _ => serde_json::from_slice::<ApplyRecord>(&v).is_ok(),
                        };
                        if ok {
                            *health.records.entry(name).or_default() += 1;
                        } else {
                            health
                                .bad_records
                                .push(format!("{name}/{}", String::from_utf8_lossy(&k)));
                        }
                    }
                }
                health.set_aside_records = trees.damaged.len();
                Ok(())
            });
            match read {
                Ok(Ok(())) => {
                    if recover::guard(move || drop(trees)).is_err() {
                        health.problem = Some("sled panicked closing it".into());
                    }
                }
                Ok(Err(e)) => {
                    std::mem::forget(trees);
                    health.problem = Some(e.to_string());
                }
                Err(panic) => {
                    std::mem::forget(trees);
                    health.problem = Some(format!("sled panicked reading it: {panic}"));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&copy);
    health
}

/// The account a file `<dir>/<account>.json` of the state belongs to (the inverse of its percent-encoding).
pub(crate) fn account_of_file(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".json")?;
    let bytes = stem.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = stem.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl SledStore {
    /// `adsctl state doctor`: read every record (setting aside what does not decode), every cache file and id
    /// map snapshot (setting aside what cannot be read), read back into the id map any entry a snapshot holds
    /// that the database lost, and remove leftovers of interrupted writes. Returns what it did, for people.
    pub(crate) fn sweep(&self) -> Result<Vec<String>, StateError> {
        let mut did = Vec::new();
        self.scan_entries(None)?;
        self.journal_pending(None)?;
        self.apply_records()?;
        for dir in [CACHE_DIR, IDS_DIR] {
            let Ok(files) = std::fs::read_dir(self.path.join(dir)) else {
                continue;
            };
            for f in files.filter_map(Result::ok) {
                let name = f.file_name().to_string_lossy().into_owned();
                if name.ends_with(".tmp") {
                    if std::fs::remove_file(f.path()).is_ok() {
                        did.push(format!("removed {dir}/{name}, left by an interrupted write"));
                    }
                    continue;
                }
                let Some(account) = account_of_file(&name) else {
                    continue;
                };
                if self.account_file(dir, &account) != f.path() {
                    continue;
                }
                if dir == CACHE_DIR {
                    self.cache_get(&account)?;
                    continue;
                }
                // the snapshot against the id map: entries only the snapshot holds were lost by the database
                if let Ok(Some((_, snap))) = lines::read::<IdsHeader, StateEntry>(&f.path()) {
                    let known: std::collections::HashSet<Address> = self
                        .scan_entries(Some(&account))?
                        .into_iter()
                        .map(|e| e.address)
                        .collect();
                    let lost: Vec<&StateEntry> = snap
                        .iter()
                        .filter(|e| e.address.account == account && !known.contains(&e.address))
                        .collect();
                    if !lost.is_empty() {
                        for e in &lost {
                            self.put_entry(e)?;
                        }
                        did.push(format!(
                            "read {} id map entries of account `{account}` back from its snapshot (the database \
                             had lost them)",
                            lost.len()
                        ));
                    }
                }
                self.entries(Some(&account))?;
            }
        }
        self.flush()?;
        Ok(did)
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
            // only a cache: the next read of the account is a full one
            Err(e) => set_aside_unreadable(&path, &format!("the cached live state of account `{account}`"), &e)?,
        }
        // a state written before the cache moved to files
        let key = account.as_bytes();
        match self.sled(false, |t| t.cache.get(key))? {
            Some(v) => self.decode_or_quarantine("cache", "the cached live state of account", key, &v),
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
        let written = lines::write(&path, &header, resources);
        if let Err(e) = &written {
            // Something in the way that is not a cache file (a directory): set it aside and write again.
            if !recover::is_transient(e) && path.symlink_metadata().is_ok_and(|m| !m.is_file()) {
                recover::set_aside_and_warn(
                    &path,
                    &format!("the cached live state of account `{account}`"),
                    &e.to_string(),
                )
                .map_err(|e| StateError::Storage(format!("cannot set aside {}: {e}", path.display())))?;
                lines::write(&path, &header, resources)
                    .map_err(|e| StateError::Storage(format!("cannot write {}: {e}", path.display())))?;
            } else {
                written.map_err(|e| StateError::Storage(format!("cannot write {}: {e}", path.display())))?;
            }
        }
        let key = account.as_bytes();
        if self.sled(false, |t| t.cache.contains_key(key))? {
            self.sled(true, |t| t.cache.remove(key))?;
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
            Ok(Some(_)) => set_aside_unreadable(
                &path,
                "an id map snapshot",
                &lines::ReadError::Format {
                    line: 1,
                    message: format!("its entries are not of account `{account}`"),
                },
            )?,
            Err(e) => set_aside_unreadable(&path, "an id map snapshot", &e)?,
        }
        let entries = self.scan_entries(Some(account))?;
        // best effort: without a snapshot the next read scans sled again
        match lines::write(&path, &IdsHeader {}, &entries) {
            Ok(()) => {
                unsnapshotted.remove(account);
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot write the id map snapshot"),
        }
        Ok(entries)
    }

    fn entry(&self, address: &Address) -> Result<Option<StateEntry>, StateError> {
        let key = address.to_string();
        match self.sled(false, |t| t.ids.get(key.as_bytes()))? {
            Some(v) => self.decode_or_quarantine("ids", "the id map entry", key.as_bytes(), &v),
            None => Ok(None),
        }
    }

    fn put_entry(&self, entry: &StateEntry) -> Result<(), StateError> {
        let _guard = self.unsnapshot(&entry.address.account)?;
        let key = entry.address.to_string();
        let value = encode(entry)?;
        self.sled(true, |t| t.ids.insert(key.as_bytes(), value.as_slice()))?;
        Ok(())
    }

    fn remove_entry(&self, address: &Address) -> Result<bool, StateError> {
        let _guard = self.unsnapshot(&address.account)?;
        let key = address.to_string();
        Ok(self.sled(true, |t| t.ids.remove(key.as_bytes()))?.is_some())
    }

    fn journal_add(&self, intents: &[Intent]) -> Result<Vec<u64>, StateError> {
        let mut keys = Vec::with_capacity(intents.len());
        for intent in intents {
            let value = encode(intent)?;
            let key = self.sled(true, |t| {
                let key = t.db.generate_id()?;
                t.journal.insert(key.to_be_bytes(), value.as_slice())?;
                Ok(key)
            })?;
            keys.push(key);
        }
        if !keys.is_empty() {
            self.sled(true, |t| t.journal.flush())?;
        }
        Ok(keys)
    }

    fn journal_pending(&self, account: Option<&str>) -> Result<Vec<(u64, Intent)>, StateError> {
        let mut out = Vec::new();
        for (k, intent) in self.scan_decode::<Intent>("journal", "the journal entry", |t| &t.journal, None)? {
            let Ok(key) = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes) else {
                let value = encode(&intent)?;
                self.quarantine("journal", &k, &value, "its key is not 8 bytes", "the journal entry")?;
                continue;
            };
            if account.is_none_or(|a| intent.account == a) {
                out.push((key, intent));
            }
        }
        Ok(out)
    }

    fn journal_resolve(&self, key: u64) -> Result<(), StateError> {
        self.sled(true, |t| t.journal.remove(key.to_be_bytes()))?;
        Ok(())
    }

    fn record_apply(&self, entry: &ApplyRecord) -> Result<(), StateError> {
        let value = encode(entry)?;
        self.sled(true, |t| {
            let key = t.db.generate_id()?;
            t.applies.insert(key.to_be_bytes(), value.as_slice())
        })?;
        Ok(())
    }

    fn apply_records(&self) -> Result<Vec<ApplyRecord>, StateError> {
        Ok(self
            .scan_decode::<ApplyRecord>(APPLIES_TREE, "the apply record", |t| &t.applies, None)?
            .into_iter()
            .map(|(_, h)| h)
            .collect())
    }

    fn flush(&self) -> Result<(), StateError> {
        // One flush at a time, so that the sequence in sled and in the file only ever grow.
        let mut seq = self.seq.lock();
        let next = *seq + 1;
        self.sled(true, |t| {
            t.meta.insert(b"seq", &next.to_be_bytes())?;
            t.db.flush()
        })?;
        *seq = next;
        let file = self.path.join(DB_DIR).join(SEQ_FILE);
        let tmp = file.with_extension("tmp");
        if let Err(e) = std::fs::write(&tmp, format!("{next}\n")).and_then(|()| std::fs::rename(&tmp, &file)) {
            tracing::debug!(error = %e, "cannot write the state's flush sequence");
        }
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
        s.t()
            .unwrap()
            .cache
            .insert("old", serde_json::to_vec(&legacy).unwrap())
            .unwrap();
        let got = s.cache_get("old").unwrap().unwrap();
        assert_eq!(got.resources.len(), 1);
        assert_eq!(got.fingerprint, None);
        s.cache_put("old", at, None, &got.resources).unwrap();
        assert!(s.t().unwrap().cache.get("old").unwrap().is_none());
        let fingerprint = Some(crate::model::live_fingerprint(&got.resources));
        assert_eq!(s.cache_get("old").unwrap().unwrap().fingerprint, fingerprint);

        // a damaged file is set aside (the next read of the account is a full one), not taken for an empty
        // account and not left to fail every later run
        std::fs::write(&file, b"{\"fetched_at\": ").unwrap();
        assert!(s.cache_get("a/b").unwrap().is_none());
        assert!(!file.exists());
        let aside: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("a%2Fb.json.damaged-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert!(s.cache_get("a/b").unwrap().is_none());
        // a directory in its place is set aside when the cache is written again
        std::fs::create_dir_all(file.join("x")).unwrap();
        assert!(s.cache_get("a/b").unwrap().is_none());
        std::fs::create_dir_all(file.join("x")).unwrap();
        s.cache_put("a/b", at, Some("m2"), std::slice::from_ref(&r)).unwrap();
        assert_eq!(s.cache_get("a/b").unwrap().unwrap().marker.as_deref(), Some("m2"));
    }

    fn entry_of(account: &str, name: &str, id: &str) -> StateEntry {
        StateEntry {
            address: Address::account(account).child(Kind::Campaign, name),
            kind: Kind::Campaign,
            id: id.into(),
            prevent_destroy: name == "C0",
            applied: Default::default(),
            updated_at: chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    /// A state with the id map of two accounts (a snapshot of `acme`'s), a journal, an apply record and a cache.
    fn populated(dir: &Path) -> Vec<StateEntry> {
        let s = SledStore::open(dir).unwrap();
        let mut acme: Vec<StateEntry> = (0..300)
            .map(|i| entry_of("acme", &format!("C{i}"), &i.to_string()))
            .collect();
        acme.sort_by(|a, b| a.address.cmp(&b.address));
        for e in &acme {
            s.put_entry(e).unwrap();
        }
        for i in 0..50 {
            s.put_entry(&entry_of("other", &format!("O{i}"), &format!("9{i}")))
                .unwrap();
        }
        s.journal_add(&[Intent {
            account: "acme".into(),
            address: acme[0].address.clone(),
            kind: Kind::Campaign,
            plan_hash: "h".into(),
            at: Utc::now(),
        }])
        .unwrap();
        s.record_apply(&ApplyRecord {
            at: Utc::now(),
            user: "u".into(),
            plan_hash: "h".into(),
            result: "succeeded".into(),
            succeeded: 1,
            failed: 0,
            skipped: 0,
        })
        .unwrap();
        s.flush().unwrap();
        assert!(s.entries(Some("acme")).unwrap() == acme, "writes the snapshot");
        let r = crate::model::Resource::new(acme[0].address.clone(), Kind::Campaign);
        s.cache_put("acme", Utc::now(), Some("m"), &[r]).unwrap();
        acme
    }

    fn damage(path: &Path, how: &str, rng: &mut fastrand::Rng) {
        let bytes = std::fs::read(path).unwrap_or_default();
        match how {
            "truncate" => std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap(),
            "zero" => std::fs::write(path, vec![0u8; bytes.len()]).unwrap(),
            "garbage" => {
                let mut b = bytes;
                let at = rng.usize(0..b.len().saturating_sub(64).max(1));
                for x in b.iter_mut().skip(at).take(64) {
                    *x = rng.u8(..);
                }
                std::fs::write(path, b).unwrap()
            }
            "flip" => {
                let mut b = bytes;
                for _ in 0..8 {
                    if !b.is_empty() {
                        let i = rng.usize(0..b.len());
                        b[i] ^= 0xff;
                    }
                }
                std::fs::write(path, b).unwrap()
            }
            "delete" => {
                let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir_all(path));
            }
            "directory" => {
                let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir_all(path));
                std::fs::create_dir_all(path.join("x")).unwrap();
            }
            "file" => {
                let _ = std::fs::remove_dir_all(path);
                std::fs::write(path, b"not a directory").unwrap();
            }
            _ => unreachable!("{how}"),
        }
    }

    /// Every local file damaged in every way: the store opens (no error, no panic), keeps the id map of the
    /// account whose snapshot it has, and works afterwards.
    #[test]
    fn every_damaged_file_is_set_aside_and_the_id_map_survives() {
        let mut rng = fastrand::Rng::with_seed(29);
        let files = [
            "db/db",
            "db/conf",
            "db/snap.*",
            "db",
            "ids/acme.json",
            "cache/acme.json",
            "state.lock",
            "apply.lock",
        ];
        let ways = ["truncate", "zero", "garbage", "flip", "delete", "directory"];
        let mut cases = 0;
        let mut replaced = Vec::new();
        for file in files {
            let ways: &[&str] = if file == "db" { &["delete", "file"] } else { &ways };
            for &how in ways {
                for round in 0..2 {
                    let tmp = tempfile::tempdir().unwrap();
                    let dir = tmp.path();
                    let acme = populated(dir);
                    if file == "apply.lock" {
                        drop(crate::state::ApplyLock::acquire(dir).unwrap());
                    }
                    let path = match file.strip_suffix('*') {
                        Some(prefix) => {
                            let parent = dir.join(prefix).parent().unwrap().to_path_buf();
                            let name = Path::new(prefix).file_name().unwrap().to_string_lossy().into_owned();
                            match std::fs::read_dir(&parent)
                                .unwrap()
                                .filter_map(Result::ok)
                                .find(|e| e.file_name().to_string_lossy().starts_with(&name))
                            {
                                Some(e) => e.path(),
                                None => continue,
                            }
                        }
                        None => dir.join(file),
                    };
                    damage(&path, how, &mut rng);
                    cases += 1;
                    let what = format!("{file} {how} (round {round})");
                    if file == "apply.lock" {
                        drop(crate::state::ApplyLock::acquire(dir).unwrap_or_else(|e| panic!("{what}: {e}")));
                    }
                    let s = SledStore::open(dir).unwrap_or_else(|e| panic!("{what}: {e}"));
                    let got = s.entries(Some("acme")).unwrap();
                    // the whole database deleted is a deliberate reset: its snapshots go with it (see above)
                    let want = if (file, how) == ("db", "delete") { 0 } else { acme.len() };
                    assert!(
                        got.len() == want && (want == 0 || got == acme),
                        "{what}: {} of {want} entries",
                        got.len()
                    );
                    let _ = s.entries(Some("other")).unwrap();
                    let _ = s.journal_pending(None).unwrap();
                    let _ = s.apply_records().unwrap();
                    let _ = s.cache_get("acme").unwrap();
                    // and it works afterwards, across a reopen
                    s.put_entry(&entry_of("acme", "new", "1000")).unwrap();
                    s.flush().unwrap();
                    drop(s);
                    let s = SledStore::open(dir).unwrap_or_else(|e| panic!("{what}, reopened: {e}"));
                    assert_eq!(s.entries(Some("acme")).unwrap().len(), want + 1, "{what}");
                    drop(s);
                    let report = super::super::doctor::examine(dir).unwrap();
                    assert_eq!(report.problems(), 0, "{what}: {report:#?}");
                    if report.set_aside.iter().any(|a| a.starts_with("db.damaged-")) {
                        replaced.push(what);
                    }
                }
            }
        }
        assert!(cases >= 70, "{cases}");
        eprintln!("{cases} cases; the database was replaced after {replaced:?}");
        // the damage that sled reports, panics on or silently drops records for is caught
        assert!(replaced.iter().any(|w| w.starts_with("db/db zero")), "{replaced:?}");
        assert!(replaced.iter().any(|w| w.starts_with("db/db delete")), "{replaced:?}");
        assert!(replaced.iter().any(|w| w.starts_with("db/db truncate")), "{replaced:?}");
        assert!(replaced.iter().any(|w| w.starts_with("db file")), "{replaced:?}");
    }

    #[test]
    fn undecodable_records_are_set_aside_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let acme = populated(dir.path());
        let s = SledStore::open(dir.path()).unwrap();
        let t = s.t().unwrap();
        t.ids.insert(b"acme/campaign/broken", &b"{not json"[..]).unwrap();
        t.journal.insert(7u64.to_be_bytes(), &b"\xff"[..]).unwrap();
        t.journal.insert(b"short", &b"{}"[..]).unwrap();
        t.applies.insert(b"h", &b"[]"[..]).unwrap();
        let _ = std::fs::remove_file(dir.path().join("ids/acme.json"));
        assert!(s.entries(Some("acme")).unwrap() == acme);
        assert_eq!(s.journal_pending(None).unwrap().len(), 1);
        assert_eq!(s.apply_records().unwrap().len(), 1);
        assert_eq!(t.damaged.len(), 4);
        assert!(s
            .entry(&Address::account("acme").child(Kind::Campaign, "broken"))
            .unwrap()
            .is_none());
        drop(t);
        drop(s);
        let report = super::super::doctor::examine(dir.path()).unwrap();
        assert_eq!(report.problems(), 0, "{report:#?}");
        assert!(
            report.set_aside.iter().any(|s| s.contains("4 record(s)")),
            "{report:#?}"
        );
    }

    #[test]
    fn a_database_in_use_is_never_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        populated(dir.path());
        let s = SledStore::open(dir.path()).unwrap();
        // its settings damaged while it is open: a second opener must not "repair" it from under the first
        std::fs::write(dir.path().join("db/conf"), b"garbage garbage garbage").unwrap();
        assert!(matches!(SledStore::open(dir.path()), Err(StateError::Busy { .. })));
        assert!(dir.path().join("db/db").is_file());
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().contains(".damaged-"));
        assert!(!aside);
        drop(s);
    }

    #[test]
    fn a_database_broken_after_writes_is_replaced_between_runs_of_a_long_lived_process() {
        let dir = tempfile::tempdir().unwrap();
        let acme = populated(dir.path());
        let s = SledStore::open(dir.path()).unwrap();
        assert!(s.entries(Some("acme")).unwrap() == acme);
        s.put_entry(&entry_of("acme", "later", "77")).unwrap();
        assert!(!s.recover_if_broken().unwrap(), "nothing to recover");
        // as a guarded call does when sled panics after this process wrote
        s.broken.store(true, Ordering::SeqCst);
        std::fs::write(dir.path().join("db").join(DAMAGED_MARKER), "sled panicked: test").unwrap();
        assert!(matches!(s.entry(&acme[0].address), Err(StateError::Damaged { .. })));
        assert!(s.recover_if_broken().unwrap());
        // what the damaged database still gave is read back (the snapshot of `acme` went with the write)
        assert_eq!(s.entries(Some("acme")).unwrap().len(), acme.len() + 1);
        assert_eq!(s.entries(Some("other")).unwrap().len(), 50);
        assert_eq!(s.journal_pending(None).unwrap().len(), 1);
        s.put_entry(&entry_of("acme", "again", "78")).unwrap();
        s.flush().unwrap();
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("db.damaged-"))
            .count();
        assert_eq!(aside, 1);
        drop(s);
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.entries(Some("acme")).unwrap().len(), acme.len() + 2);
        assert_eq!(s.journal_pending(None).unwrap().len(), 1);
    }
}
