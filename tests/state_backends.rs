//! The `StateStore` conformance kit, one body run against both backends: sled (embedded, in a temporary
//! directory) and PostgreSQL (a real server started by the test, `common::pg`). Then what only PostgreSQL has:
//! versioned migrations, the apply lock between two sessions, and calls from inside tokio runtimes. A second kit
//! runs what the state directory keeps beside the state (the token vault, the audit log, the API tokens) on both,
//! through `Auth` chosen as the state is; then the choice itself (`ADSCTL_STATE_URL`, `state:` in adsctl.yaml).

mod common;

use std::time::Duration;

use adsctl::model::{Address, Kind, Money, Resource, Value};
use adsctl::state::{ApplyRecord, Intent, SledStore, StateEntry, StateStore};
use adsctl_state_pg::{PgError, PgStore};
use chrono::{TimeZone, Utc};

/// How a backend is opened by the kit.
trait Backend {
    fn name(&self) -> &'static str;
    fn open(&self) -> Box<dyn StateStore>;
    /// Whether two handles can be open at once (PostgreSQL); sled allows one process-wide handle per directory,
    /// so its second handle is opened after the first is closed.
    fn concurrent_handles(&self) -> bool;
}

struct Sled(tempfile::TempDir);

impl Backend for Sled {
    fn name(&self) -> &'static str {
        "sled"
    }
    fn open(&self) -> Box<dyn StateStore> {
        Box::new(SledStore::open(self.0.path()).expect("open the sled state"))
    }
    fn concurrent_handles(&self) -> bool {
        false
    }
}

struct Pg(String);

impl Backend for Pg {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn open(&self) -> Box<dyn StateStore> {
        Box::new(PgStore::open(&self.0).expect("open the PostgreSQL state"))
    }
    fn concurrent_handles(&self) -> bool {
        true
    }
}

fn migrated(url: &str) -> Pg {
    PgStore::connect(url).expect("connect").migrate().expect("migrate");
    Pg(url.to_string())
}

fn entry(account: &str, campaign: &str, id: &str) -> StateEntry {
    let mut applied = adsctl::model::SmallMap::new();
    applied.insert("budget.daily".to_string(), Value::Money(Money::from_micros(12_500_000)));
    StateEntry {
        address: Address::account(account).child(Kind::Campaign, campaign),
        kind: Kind::Campaign,
        id: id.into(),
        prevent_destroy: id.ends_with('7'),
        applied,
        // nanoseconds: a backend keeps them exactly
        updated_at: Utc.timestamp_opt(1_780_000_000, 123_456_789).unwrap(),
    }
}

fn intent(account: &str, campaign: &str, hash: &str) -> Intent {
    Intent {
        account: account.into(),
        address: Address::account(account).child(Kind::Campaign, campaign),
        kind: Kind::Campaign,
        plan_hash: hash.into(),
        at: Utc.timestamp_opt(1_780_000_100, 987_654_321).unwrap(),
    }
}

fn record(result: &str, succeeded: usize) -> ApplyRecord {
    ApplyRecord {
        at: Utc.timestamp_opt(1_780_000_200, 5).unwrap(),
        user: "ci".into(),
        plan_hash: format!("hash-{succeeded}"),
        result: result.into(),
        succeeded,
        failed: 1,
        skipped: 2,
    }
}

fn live(account: &str, names: &[&str]) -> Vec<Resource> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut r = Resource::new(Address::account(account).child(Kind::Campaign, *n), Kind::Campaign)
                .with("name", Value::Str((*n).into()))
                .with(
                    "budget.daily",
                    Value::Money(Money::from_micros(1_000_000 * (i as i64 + 1))),
                );
            r.id = Some(format!("{}", 100 + i));
            r.owned = true;
            r
        })
        .collect()
}

fn conformance(b: &dyn Backend) {
    let who = b.name();
    let s = b.open();

    // the cache: nothing, then a read with its fingerprint, then replaced whole
    assert!(s.cache_get("acme").unwrap().is_none(), "{who}");
    let at = Utc.timestamp_opt(1_780_000_300, 111_222_333).unwrap();
    let read = live("acme", &["Spring", "Autumn"]);
    s.cache_put("acme", at, Some("marker-1"), &read).unwrap();
    let got = s.cache_get("acme").unwrap().expect("cached");
    assert_eq!(got.fetched_at, at, "{who}");
    assert_eq!(got.marker.as_deref(), Some("marker-1"), "{who}");
    assert_eq!(got.resources, read, "{who}");
    assert_eq!(got.fingerprint, Some(adsctl::model::live_fingerprint(&read)), "{who}");
    let smaller = live("acme", &["Winter"]);
    s.cache_put("acme", at, None, &smaller).unwrap();
    let got = s.cache_get("acme").unwrap().expect("cached");
    assert_eq!((got.marker, got.resources), (None, smaller.clone()), "{who}");
    assert!(
        s.cache_get("other").unwrap().is_none(),
        "{who}: one account's cache is not another's"
    );

    // the id map: sorted by address, per account, overwritten, removed
    let (b2, a1, z9, o1) = (
        entry("acme", "b", "2"),
        entry("acme", "a", "1"),
        entry("acme", "Z", "9"),
        entry("acme-2", "a", "17"),
    );
    for e in [&b2, &o1, &a1, &z9] {
        s.put_entry(e).unwrap();
    }
    let mut all = vec![b2.clone(), o1.clone(), a1.clone(), z9.clone()];
    all.sort_by(|x, y| x.address.cmp(&y.address));
    assert_eq!(s.entries(None).unwrap(), all, "{who}: every entry, sorted by address");
    let mut acme = vec![b2.clone(), a1.clone(), z9.clone()];
    acme.sort_by(|x, y| x.address.cmp(&y.address));
    assert_eq!(s.entries(Some("acme")).unwrap(), acme, "{who}: one account's");
    assert_eq!(s.entries(Some("acme-2")).unwrap(), vec![o1.clone()], "{who}");
    assert!(s.entries(Some("nobody")).unwrap().is_empty(), "{who}");
    let mut b2_new = b2.clone();
    b2_new.id = "22".into();
    s.put_entry(&b2_new).unwrap();
    assert_eq!(
        s.entry(&b2.address).unwrap(),
        Some(b2_new.clone()),
        "{who}: put replaces"
    );
    assert!(s.remove_entry(&a1.address).unwrap(), "{who}");
    assert!(
        !s.remove_entry(&a1.address).unwrap(),
        "{who}: a second removal finds nothing"
    );
    assert_eq!(s.entry(&a1.address).unwrap(), None, "{who}");

    // the journal: keys in order, pending per account, resolved one by one
    let first = s
        .journal_add(&[
            intent("acme", "x", "h1"),
            intent("acme-2", "y", "h1"),
            intent("acme", "z", "h1"),
        ])
        .unwrap();
    assert_eq!(first.len(), 3, "{who}");
    assert!(first.windows(2).all(|w| w[0] < w[1]), "{who}: keys grow: {first:?}");
    assert!(s.journal_add(&[]).unwrap().is_empty(), "{who}");
    let pending = s.journal_pending(None).unwrap();
    assert_eq!(
        pending.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        first,
        "{who}: in key order"
    );
    assert_eq!(pending[1].1, intent("acme-2", "y", "h1"), "{who}");
    let acme_pending = s.journal_pending(Some("acme")).unwrap();
    assert_eq!(
        acme_pending.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        vec![first[0], first[2]],
        "{who}: one account's"
    );
    s.journal_resolve(first[0]).unwrap();
    s.journal_resolve(first[0]).unwrap(); // twice is harmless
    let later = s.journal_add(&[intent("acme", "w", "h2")]).unwrap();
    assert!(later[0] > first[2], "{who}: a later key is greater");
    let keys: Vec<u64> = s.journal_pending(None).unwrap().iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, vec![first[1], first[2], later[0]], "{who}");

    // apply records, oldest first
    assert!(s.apply_records().unwrap().is_empty(), "{who}");
    s.record_apply(&record("succeeded", 3)).unwrap();
    s.record_apply(&record("partial", 1)).unwrap();
    assert_eq!(
        s.apply_records().unwrap(),
        vec![record("succeeded", 3), record("partial", 1)],
        "{who}"
    );
    s.flush().unwrap();

    // a second handle on the same state sees every write of the first, and the first sees the second's
    let s = if b.concurrent_handles() {
        let other = b.open();
        check_seen(who, other.as_ref(), &b2_new, &smaller);
        other.put_entry(&a1).unwrap();
        other.journal_resolve(later[0]).unwrap();
        assert_eq!(
            s.entry(&a1.address).unwrap(),
            Some(a1.clone()),
            "{who}: the other handle's write"
        );
        assert_eq!(s.journal_pending(None).unwrap().len(), 2, "{who}");
        s
    } else {
        drop(s);
        let other = b.open();
        check_seen(who, other.as_ref(), &b2_new, &smaller);
        other
    };
    drop(s);
}

fn check_seen(who: &str, s: &dyn StateStore, b2_new: &StateEntry, cached: &[Resource]) {
    assert_eq!(
        s.entry(&b2_new.address).unwrap().as_ref(),
        Some(b2_new),
        "{who}: the second handle"
    );
    assert_eq!(s.entries(None).unwrap().len(), 3, "{who}");
    assert_eq!(s.journal_pending(None).unwrap().len(), 3, "{who}");
    assert_eq!(s.apply_records().unwrap().len(), 2, "{who}");
    assert_eq!(s.cache_get("acme").unwrap().expect("cached").resources, cached, "{who}");
}

#[test]
fn sled_conforms() {
    conformance(&Sled(tempfile::tempdir().unwrap()));
}

#[test]
fn postgres_conforms_and_migrates_locks_and_runs_inside_runtimes() {
    let server = common::pg::Postgres::start();

    conformance(&migrated(&server.database()));

    // An empty database is refused until migrated, with the command that migrates it.
    let url = server.database();
    match PgStore::open(&url) {
        Err(e @ PgError::SchemaBehind { have: 0, .. }) => {
            assert!(e.hint().unwrap_or_default().contains("adsctl state migrate"), "{e}")
        }
        other => panic!("an empty database opened: {other:?}"),
    }
    let store = PgStore::connect(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), 0);
    let every: Vec<i32> = adsctl_state_pg::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(store.migrate().unwrap(), every);
    assert!(
        store.migrate().unwrap().is_empty(),
        "a second migrate has nothing to do"
    );
    assert_eq!(store.schema_version().unwrap(), adsctl_state_pg::latest_version());

    // A schema newer than this adsctl's (a newer adsctl migrated it) is refused, by open and by migrate.
    let newer = server.database();
    PgStore::connect(&newer).unwrap().migrate().unwrap();
    server.psql(
        &newer,
        "INSERT INTO adsctl_schema_migrations (version, name) VALUES (99, 'from the future')",
    );
    match PgStore::open(&newer) {
        Err(e @ PgError::SchemaAhead { have: 99, .. }) => assert!(e.hint().unwrap_or_default().contains("upgrade")),
        other => panic!("a newer schema opened: {other:?}"),
    }
    assert!(matches!(
        PgStore::connect(&newer).unwrap().migrate(),
        Err(PgError::SchemaAhead { .. })
    ));

    // The apply lock: one session at a time, the waiter told who holds it, free again when the holder closes.
    let first = PgStore::open(&url).unwrap();
    first
        .lock_apply(Duration::ZERO, &mut |_| panic!("a free lock waits"))
        .unwrap();
    let second = PgStore::open(&url).unwrap();
    let mut told = None;
    match second.lock_apply(Duration::from_millis(300), &mut |h| told = Some(h.map(str::to_string))) {
        Err(e @ PgError::Busy { .. }) => {
            assert!(e.to_string().contains(&format!("pid {}", std::process::id())), "{e}");
            assert!(e.hint().is_some());
        }
        other => panic!("a held lock was taken: {other:?}"),
    }
    assert!(told.is_some(), "the waiter is told once that it waits");
    drop(first);
    second
        .lock_apply(Duration::from_secs(30), &mut |_| {})
        .expect("free once its holder's session ended");
    second.unlock_apply().unwrap();

    // Called from inside tokio runtimes (where a driver with a runtime of its own panics), and from plain threads.
    let url = migrated(&server.database()).0;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = PgStore::open(&url).unwrap();
        s.put_entry(&entry("acme", "in-runtime", "1")).unwrap();
        assert_eq!(s.entries(Some("acme")).unwrap().len(), 1);
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url2 = url.clone();
    rt.block_on(async move {
        tokio::spawn(async move {
            let s = PgStore::open(&url2).unwrap();
            s.put_entry(&entry("acme", "in-task", "2")).unwrap();
        })
        .await
        .unwrap();
    });
    let s = PgStore::open(&url).unwrap();
    assert_eq!(s.entries(Some("acme")).unwrap().len(), 2);

    // The URL's password never shows, not even in a failed connection.
    let e = PgStore::open(&format!(
        "postgres://postgres:s3cret-pw@127.0.0.1:{}/no_such_db",
        server.port()
    ))
    .unwrap_err();
    assert!(matches!(e, PgError::Connect { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("s3cret-pw"), "{e:?}");
}

// ------------------------------------------------------------------------------------------------------------
// the vault, the audit log and the API tokens

const REFRESH: &str = "1//refresh-SECRET-of-the-vault-kit";
const CLIENT_SECRET: &str = "client-SECRET-of-the-vault-kit";

fn key(n: u8) -> String {
    hex::encode([n; 32])
}

fn env_of(pairs: Vec<(&'static str, String)>) -> adsctl::auth::EnvFn {
    let map: std::collections::HashMap<&'static str, String> = pairs.into_iter().collect();
    std::sync::Arc::new(move |k| map.get(k).cloned())
}

fn google_creds() -> adsctl::auth::CredentialKind {
    use adsctl::platforms::google_ads::auth::GoogleCredentials;
    use adsctl::secret::Secret;
    adsctl::auth::CredentialKind::new(GoogleCredentials {
        client_id: "client-id".into(),
        client_secret: Secret::new(CLIENT_SECRET),
        developer_token: Secret::new("dev-token"),
        refresh_token: Secret::new(REFRESH),
        access_token: None,
        access_token_expires_at: None,
        login_customer_id: None,
    })
}

/// One body for both: `base` is the environment that chooses the backend (plus the master key, added here).
fn side_data(who: &str, root: &std::path::Path, base: Vec<(&'static str, String)>) {
    use adsctl::apitoken::{Role, TokenStore};
    use adsctl::auth::{Auth, AuthError, MasterKey};
    let with_key = |k: u8| {
        let mut env = base.clone();
        env.push(("ADSCTL_MASTER_KEY", key(k)));
        Auth::with_env(root, env_of(env))
    };
    let auth = with_key(1);

    // sealed, opened, replaced; nothing in clear where it is kept
    assert!(auth.stored("acme").unwrap().is_none(), "{who}");
    auth.store("acme", &google_creds()).unwrap();
    auth.store("acme-2", &google_creds()).unwrap();
    assert_eq!(auth.stored("acme").unwrap(), Some(google_creds()), "{who}");
    let sealed = serde_json::to_string(&auth.vault().sealed().unwrap()).unwrap();
    assert!(
        !sealed.contains(REFRESH) && !sealed.contains(CLIENT_SECRET),
        "{who}: {sealed}"
    );
    assert_eq!(auth.vault().sealed().unwrap().accounts.len(), 2, "{who}");

    // rotation: the new key opens it, the old one is told it is the wrong key and changes nothing
    let new = MasterKey::parse(&key(2)).unwrap();
    assert_eq!(
        auth.rotate_key(Some(new.clone()), false).unwrap(),
        (2, new.id()),
        "{who}"
    );
    match with_key(1).stored("acme") {
        Err(e @ AuthError::WrongKey { .. }) => {
            assert!(e.to_string().contains(&new.id()), "{who}: {e}");
            assert!(!e.to_string().contains(&key(1)), "{who}: {e}");
        }
        other => panic!("{who}: the old key opened the vault: {other:?}"),
    }
    let auth = with_key(2);
    assert_eq!(auth.stored("acme").unwrap(), Some(google_creds()), "{who}");

    // logout: the entry is gone, the others stay
    assert!(auth.logout("acme").unwrap(), "{who}");
    assert!(!auth.logout("acme").unwrap(), "{who}");
    assert!(auth.stored("acme").unwrap().is_none(), "{who}");
    assert!(auth.stored("acme-2").unwrap().is_some(), "{who}");

    // the audit log: what happened, in order, its chain intact
    let log = auth.audit_log();
    let actions: Vec<String> = log.read().unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["auth.rotate_key", "auth.logout", "auth.logout"], "{who}");
    assert_eq!(log.verify().unwrap(), Ok(3), "{who}");

    // API tokens: hashes only, one per name, revoked at once
    let tokens = match base.iter().find(|(k, _)| *k == "ADSCTL_STATE_URL") {
        Some((_, url)) => TokenStore::on_postgres(root, url),
        None => TokenStore::in_dir(auth.state_dir()),
    };
    assert!(!tokens.any(), "{who}");
    let t = tokens.create("ci", Role::Viewer).unwrap();
    assert!(tokens.create("ci", Role::Operator).is_err(), "{who}");
    let listed = format!("{:?}", tokens.read().unwrap());
    assert!(!listed.contains(t.expose()), "{who}: {listed}");
    assert_eq!(tokens.authenticate(t.expose()).unwrap().unwrap().name, "ci", "{who}");
    tokens.revoke("ci").unwrap();
    assert_eq!(tokens.authenticate(t.expose()).unwrap(), None, "{who}");
}

#[test]
fn vault_audit_and_api_tokens_on_both_backends_and_the_choice_of_backend() {
    // files in the state directory
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    side_data(
        "files",
        tmp.path(),
        vec![("ADSCTL_STATE_DIR", state.display().to_string())],
    );
    assert!(state.join("vault.json").is_file() && state.join("audit.jsonl").is_file());

    // PostgreSQL: the same, and nothing written to the state directory
    let server = common::pg::Postgres::start();
    let url = migrated(&server.database()).0;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    side_data(
        "postgres",
        tmp.path(),
        vec![
            ("ADSCTL_STATE_DIR", state.display().to_string()),
            ("ADSCTL_STATE_URL", url.clone()),
        ],
    );
    for f in ["vault.json", "audit.jsonl", "api-tokens.json"] {
        assert!(!state.join(f).exists(), "{f} was written beside PostgreSQL");
    }
    let db = PgStore::open(&url).unwrap();
    let rows = db.vault_rows().unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows
        .iter()
        .all(|r| !r.sealed.contains(REFRESH) && !r.sealed.contains(CLIENT_SECRET)));
    assert_eq!(db.audit_lines().unwrap().len(), 3);
    // the audit log is append-only in the database too
    for sql in [
        "DELETE FROM adsctl_audit",
        "UPDATE adsctl_audit SET line = ''",
        "TRUNCATE adsctl_audit",
    ] {
        let e = server.psql_result(&url, sql).unwrap_err();
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
    assert_eq!(db.audit_lines().unwrap().len(), 3);

    // the choice: `state:` in adsctl.yaml, the variable it names, ADSCTL_STATE_URL winning over it
    use adsctl::store::{Location, SelectError};
    let root = tempfile::tempdir().unwrap();
    let write = |state: &str| {
        std::fs::write(
            root.path().join("adsctl.yaml"),
            format!("accounts: {{ x: {{ platform: nowhere }} }}\n{state}"),
        )
        .unwrap()
    };
    let resolve = |pairs: Vec<(&'static str, String)>| Location::resolve(root.path(), &*env_of(pairs));
    let dir = Location::Dir(root.path().join(".adsctl"));
    assert_eq!(resolve(vec![]).unwrap(), dir, "no adsctl.yaml: the state directory");
    write("state:\n  backend: postgres\n  url_env: TEAM_DB\n");
    assert_eq!(
        resolve(vec![("TEAM_DB", url.clone())]).unwrap(),
        Location::Postgres(url.clone())
    );
    assert_eq!(
        resolve(vec![
            ("TEAM_DB", url.clone()),
            ("ADSCTL_STATE_URL", "postgres://other/db".into())
        ])
        .unwrap(),
        Location::Postgres("postgres://other/db".into()),
        "ADSCTL_STATE_URL wins"
    );
    match resolve(vec![]) {
        Err(e @ SelectError::NoUrl { .. }) => {
            assert!(e.to_string().contains("TEAM_DB"), "{e}");
            assert!(e.hint().unwrap().contains("PGPASSWORD"), "{e}");
        }
        other => panic!("chose without a URL: {other:?}"),
    }
    write("state:\n  backend: postgres\n  url: postgres://ads@db.internal:5432/acme\n");
    assert_eq!(
        resolve(vec![]).unwrap(),
        Location::Postgres("postgres://ads@db.internal:5432/acme".into())
    );
    write("state: { backend: sled }\n");
    assert_eq!(resolve(vec![]).unwrap(), dir);
    // a password written in adsctl.yaml: refused at its position, never shown; the variable still wins
    write("state:\n  backend: postgres\n  url: postgres://ads:hunter2-in-git@db.internal/acme\n");
    match resolve(vec![]) {
        Err(SelectError::Spec(errors)) => {
            let e = &errors.errors[0];
            assert_eq!((e.line, e.column), (4, 8), "{e}");
            assert!(e.file.ends_with("adsctl.yaml"), "{e}");
            assert!(e.hint.as_deref().unwrap_or_default().contains("PGPASSWORD"), "{e}");
            let shown = format!("{}\n{}", errors.render(false), errors.to_json());
            assert!(shown.contains("adsctl.yaml:4:8"), "{shown}");
            assert!(!shown.contains("hunter2-in-git"), "{shown}");
        }
        other => panic!("a password in adsctl.yaml was accepted: {other:?}"),
    }
    assert_eq!(
        resolve(vec![("ADSCTL_STATE_URL", url.clone())]).unwrap(),
        Location::Postgres(url.clone())
    );
}

#[test]
fn tls_is_required_by_sslmode_and_checks_the_certificate_never_falling_back_to_clear() {
    let server = common::pg::Postgres::start_tls();
    let url = server.database();
    let ca = server.ca_cert();
    let with = |query: &str| format!("{url}?{query}");

    // require, the certificate checked against the authority sslrootcert names: encrypted, and it works
    let tls_url = with(&format!("sslmode=require&sslrootcert={}", ca.display()));
    PgStore::connect(&tls_url).unwrap().migrate().unwrap();
    let s = PgStore::open(&tls_url).unwrap();
    assert!(s.tls_in_use().unwrap(), "sslmode=require connected in clear");
    s.put_entry(&entry("acme", "over-tls", "1")).unwrap();
    assert_eq!(s.entries(Some("acme")).unwrap().len(), 1);
    let s = PgStore::open(&with(&format!("sslmode=verify-full&sslrootcert={}", ca.display()))).unwrap();
    assert!(s.tls_in_use().unwrap());

    // the same server without sslmode: not encrypted (as the README says)
    assert!(!PgStore::open(&url).unwrap().tls_in_use().unwrap());

    // a certificate no known authority signed: refused, never a connection in clear
    match PgStore::open(&with("sslmode=require")) {
        Err(e @ PgError::Connect { .. }) => {
            assert!(e.to_string().contains("certificate"), "{e}");
            assert!(e.hint().unwrap().contains("sslrootcert"), "{e}");
        }
        other => panic!("connected with an unknown certificate authority: {other:?}"),
    }
    // a root certificate file that does not exist, an unknown sslmode: said before connecting
    assert!(matches!(
        PgStore::open(&with("sslmode=require&sslrootcert=/no/such/ca.pem")),
        Err(PgError::Tls { .. })
    ));
    assert!(matches!(
        PgStore::open(&with("sslmode=sometimes")),
        Err(PgError::NotAUrl { .. })
    ));

    // a server without TLS: sslmode=require fails rather than connect in clear
    let plain = common::pg::Postgres::start();
    let plain_url = format!("{}?sslmode=require&sslrootcert={}", plain.database(), ca.display());
    assert!(matches!(PgStore::connect(&plain_url), Err(PgError::Connect { .. })));
}
