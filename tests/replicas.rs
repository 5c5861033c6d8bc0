//! Several `adsctl watch` replicas on one PostgreSQL state (issue 27; docs/watch.md, "Several replicas"): the
//! lease table and the fencing of writes on a real server (`common::pg`), then real replicas sharing one
//! emulator (`common::fleet`): an even split without overlap, a replica killed with SIGKILL in the middle of its
//! applies and its accounts taken over within the lease, a new replica taking its share, no duplicate object and
//! no account reconciled by two replicas at once.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use adsctl::model::{Address, Kind};
use adsctl::state::{Intent, StateEntry, StateStore};
use adsctl::store::PgStore;
use adsctl_state_pg::{AcquiredLease, Fence, FencedStore};
use common::fleet::{self, Fleet};
use common::pg::Postgres;

/// The tests that run replicas take turns: each starts PostgreSQL, the emulator and up to four daemons, and their
/// timing (a takeover within the lease) is what they assert, which a machine shared with the others' would blur.
static REPLICAS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    REPLICAS.lock().unwrap_or_else(|p| p.into_inner())
}

fn address(account: &str, name: &str) -> Address {
    Address {
        account: account.into(),
        path: vec![(Kind::Campaign, name.into())],
    }
}

fn entry(account: &str, id: &str) -> StateEntry {
    StateEntry {
        address: address(account, "Brand"),
        kind: Kind::Campaign,
        id: id.into(),
        prevent_destroy: false,
        applied: Default::default(),
        updated_at: chrono::Utc::now(),
    }
}

fn fence(holder: &str, l: &AcquiredLease) -> Fence {
    Fence {
        account: l.account.clone(),
        holder: holder.into(),
        token: l.token,
    }
}

#[test]
fn a_write_with_a_stale_fencing_token_is_refused_and_writes_nothing() {
    let pg = Postgres::start();
    let url = pg.database();
    let db = std::sync::Arc::new(PgStore::connect(&url).unwrap());
    db.migrate().unwrap();
    let accounts = vec!["acme".to_string()];
    let lease = Duration::from_millis(600);

    // r1 takes the lease and writes under it
    let first = db.acquire_leases("r1", &accounts, 5, lease).unwrap();
    assert_eq!(first.len(), 1);
    let r1 = FencedStore::new(db.clone(), fence("r1", &first[0]));
    r1.put_entry(&entry("acme", "1")).unwrap();
    // a second replica gets nothing while it is held
    assert!(db.acquire_leases("r2", &accounts, 5, lease).unwrap().is_empty());

    // r1 cannot renew in time (its database connection is "partitioned"): the lease expires and r2 takes it,
    // with a newer token
    let second = fleet::wait_for(Duration::from_secs(10), "the lease to expire and be taken", || {
        let got = db.acquire_leases("r2", &accounts, 5, Duration::from_secs(60)).unwrap();
        (!got.is_empty()).then_some(got)
    });
    assert!(second[0].token > first[0].token, "{second:?} after {first:?}");

    // every write r1 still makes is refused, and nothing of it is written
    let stale = r1.put_entry(&entry("acme", "stale")).unwrap_err().to_string();
    assert!(stale.contains("no longer held") && stale.contains("acme"), "{stale}");
    let intent = Intent {
        account: "acme".into(),
        address: address("acme", "Other"),
        kind: Kind::Campaign,
        plan_hash: "h".into(),
        at: chrono::Utc::now(),
    };
    assert!(r1.journal_add(std::slice::from_ref(&intent)).is_err());
    assert!(r1.remove_entry(&entry("acme", "1").address).is_err());
    assert!(r1.cache_put("acme", chrono::Utc::now(), None, &[]).is_err());
    assert_eq!(db.entries(Some("acme")).unwrap()[0].id, "1");
    assert!(db.journal_pending(None).unwrap().is_empty());
    assert!(db.cache_get("acme").unwrap().is_none());
    // nor can r1 renew it, or give it back
    assert!(db.renew_leases("r1", &first, lease).unwrap().is_empty());
    db.release_leases("r1", &first).unwrap();

    // the holder writes
    let r2 = FencedStore::new(db.clone(), fence("r2", &second[0]));
    r2.put_entry(&entry("acme", "2")).unwrap();
    assert_eq!(r2.journal_add(&[intent]).unwrap().len(), 1);
    assert_eq!(db.entries(Some("acme")).unwrap()[0].id, "2");
    let leases = db.leases().unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!((leases[0].holder.as_str(), leases[0].token), ("r2", second[0].token));

    // a forged token of the right holder is refused too
    let forged = FencedStore::new(
        db.clone(),
        Fence {
            token: second[0].token + 1,
            ..fence("r2", &second[0])
        },
    );
    assert!(forged.put_entry(&entry("acme", "forged")).is_err());

    // leaving gives every lease back at once
    db.heartbeat("r2", lease).unwrap();
    assert_eq!(db.live_replicas().unwrap(), 1);
    db.deregister("r2").unwrap();
    assert!(db.leases().unwrap().is_empty());
    assert_eq!(db.live_replicas().unwrap(), 0);
}

#[test]
fn concurrent_takers_of_one_expired_lease_get_it_once() {
    let pg = Postgres::start();
    let url = pg.database();
    let db = PgStore::connect(&url).unwrap();
    db.migrate().unwrap();
    let accounts: Vec<String> = (0..40).map(|i| format!("a{i:02}")).collect();
    // eight replicas on connections of their own race for 40 accounts, 10 each at most
    let got: Vec<Vec<AcquiredLease>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|r| {
                let (url, accounts) = (url.clone(), accounts.clone());
                s.spawn(move || {
                    let db = PgStore::connect(&url).unwrap();
                    db.acquire_leases(&format!("r{r}"), &accounts, 10, Duration::from_secs(60))
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seen = BTreeSet::new();
    let mut tokens = BTreeSet::new();
    for l in got.iter().flatten() {
        assert!(seen.insert(l.account.clone()), "{} taken twice", l.account);
        assert!(tokens.insert(l.token), "token {} handed out twice", l.token);
    }
    assert!(got.iter().all(|g| g.len() <= 10));
    assert_eq!(db.leases().unwrap().len(), seen.len());
}

/// The holders' account counts, largest first.
fn split(f: &Fleet) -> Vec<usize> {
    let mut n: Vec<usize> = f.holders().values().map(BTreeSet::len).collect();
    n.sort_unstable_by(|a, b| b.cmp(a));
    n
}

#[test]
fn replicas_share_the_accounts_take_over_a_killed_one_and_rebalance() {
    let _turn = turn();
    const ACCOUNTS: usize = 30;
    let lease = Duration::from_secs(3);
    let mut f = Fleet::new(ACCOUNTS, lease);
    let started = Instant::now();
    let mut r1 = f.start_replica();
    let r2 = f.start_replica();
    let r3 = f.start_replica();

    // r1 is killed with SIGKILL as soon as it has started reconciling (its first applies in flight)
    fleet::wait_for(Duration::from_secs(60), "r1 to start a reconcile", || {
        r1.daemon
            .log()
            .iter()
            .any(|l| l.contains("reconcile started under the lease"))
            .then_some(())
    });
    let r1_accounts = f.holders().get(&r1.id).cloned().unwrap_or_default();
    let killed_at = chrono::Utc::now();
    let killed = Instant::now();
    let (_, r1_log) = r1.daemon.stop("KILL", Duration::from_secs(10));
    assert!(!r1_accounts.is_empty(), "r1 held leases when killed");

    // its accounts are taken over once its leases ran out: within the lease (the others wake when the soonest
    // foreign lease runs out; the second allowed is for this test's polling and one round's statements on a
    // loaded machine)
    let takeover = fleet::wait_for(Duration::from_secs(30), "r1's accounts taken over", || {
        let h = f.holders();
        let held: BTreeSet<&String> = h
            .iter()
            .filter(|(holder, _)| **holder != r1.id)
            .flat_map(|(_, a)| a)
            .collect();
        r1_accounts.iter().all(|a| held.contains(a)).then(|| killed.elapsed())
    });
    assert!(
        takeover <= lease + Duration::from_secs(1),
        "taken over after {takeover:?} (lease {lease:?})"
    );

    // two replicas: 15 each, and every account converges without a duplicate
    fleet::wait_for(Duration::from_secs(120), "two replicas converging 15/15", || {
        (split(&f) == vec![15, 15] && f.converged()).then_some(())
    });

    // a third replica comes: 10 each
    let r4 = f.start_replica();
    fleet::wait_for(Duration::from_secs(60), "the rebalance to 10/10/10", || {
        (split(&f) == vec![10, 10, 10]).then_some(())
    });
    let holders = f.holders();
    assert!(holders.contains_key(&r4.id) && !holders.contains_key(&r1.id));
    // no account is held twice (the lease table's key) and each replica's status lists only its own
    for r in [&r2, &r3, &r4] {
        let status: serde_json::Value = reqwest::blocking::get(format!("http://{}/api/v1/status", r.daemon.addr))
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(status["daemon"]["replica"]["id"], r.id.as_str(), "{status:#}");
        let listed: BTreeSet<String> = status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["account"].as_str().unwrap().to_string())
            .collect();
        let held = &holders[&r.id];
        assert!(listed.is_subset(held), "{}: lists {listed:?}, holds {held:?}", r.name);
        let ready = reqwest::blocking::get(format!("http://{}/readyz", r.daemon.addr)).unwrap();
        assert_eq!(ready.status().as_u16(), 200);
    }
    fleet::wait_for(Duration::from_secs(60), "every account converged", || {
        f.converged().then_some(())
    });
    assert!(f.duplicates().is_empty(), "{:?}", f.duplicates());

    // a graceful stop gives the leases back at once: the others take them within a renew round
    let r2_accounts = holders[&r2.id].clone();
    let stopped = Instant::now();
    let (status, r2_log) = r2.daemon.stop("TERM", Duration::from_secs(30));
    assert!(status.success(), "{r2_log:#?}");
    assert!(
        r2_log.iter().any(|l| l.contains("gave every lease back")),
        "{r2_log:#?}"
    );
    fleet::wait_for(Duration::from_secs(30), "r2's accounts taken", || {
        let h = f.holders();
        let held: BTreeSet<&String> = h.values().flatten().collect();
        (r2_accounts.iter().all(|a| held.contains(a)) && !h.contains_key(&r2.id)).then_some(())
    });
    let handed_over = stopped.elapsed();
    fleet::wait_for(Duration::from_secs(60), "converged after the hand-over", || {
        (split(&f) == vec![15, 15] && f.converged()).then_some(())
    });

    // no account was ever reconciled by two replicas at once, and no log shows the URL's password
    let (_, r3_log) = r3.daemon.stop("TERM", Duration::from_secs(30));
    let (_, r4_log) = r4.daemon.stop("TERM", Duration::from_secs(30));
    let mut spans = fleet::reconciles("r1", &r1_log, Some(killed_at));
    spans.extend(fleet::reconciles("r2", &r2_log, None));
    spans.extend(fleet::reconciles("r3", &r3_log, None));
    spans.extend(fleet::reconciles("r4", &r4_log, None));
    assert!(
        spans.iter().any(|s| s.replica == "r1" && !s.finished),
        "r1 was killed in the middle of a reconcile"
    );
    let overlaps = fleet::overlaps(&spans);
    assert!(overlaps.is_empty(), "{overlaps:#?}");
    let reconciled: BTreeSet<&str> = spans.iter().map(|s| s.account.as_str()).collect();
    assert_eq!(reconciled.len(), ACCOUNTS);
    for (name, log) in [("r1", &r1_log), ("r2", &r2_log), ("r3", &r3_log), ("r4", &r4_log)] {
        assert!(
            !log.iter().any(|l| l.contains(fleet::PASSWORD)),
            "{name} logged the password"
        );
    }
    assert!(f.duplicates().is_empty(), "{:?}", f.duplicates());
    eprintln!(
        "{ACCOUNTS} accounts, lease {lease:?}: takeover after SIGKILL {takeover:?}, hand-over after SIGTERM \
         {handed_over:?}, {} reconciles in {:?}, load {:.1}",
        spans.len(),
        started.elapsed(),
        fleet::load()
    );
}

#[test]
fn a_replica_cut_off_from_the_database_stops_and_its_accounts_are_taken_over() {
    let _turn = turn();
    let lease = Duration::from_secs(3);
    let mut f = Fleet::new(8, lease);
    let proxy = fleet::Proxy::start(f.port());
    let through_proxy = f.url.replace(&format!(":{}/", f.port()), &format!(":{}/", proxy.port));
    let a = f.start_replica_at(&through_proxy);
    let b = f.start_replica();
    fleet::wait_for(Duration::from_secs(90), "4/4 and converged", || {
        (split(&f) == vec![4, 4] && f.converged()).then_some(())
    });
    let a_accounts = f.holders()[&a.id].clone();
    let ready = |r: &fleet::Replica| {
        reqwest::blocking::get(format!("http://{}/readyz", r.daemon.addr))
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(ready(&a), 200);

    // the partition: a cannot renew; its leases expire in the database and b takes them; a drops them by its own
    // clock and turns not ready
    let cut = Instant::now();
    proxy.cut();
    let takeover = fleet::wait_for(Duration::from_secs(30), "b holding every account", || {
        let h = f.holders();
        (h.len() == 1 && h.get(&b.id).is_some_and(|x| x.len() == 8)).then(|| cut.elapsed())
    });
    assert!(takeover <= lease + Duration::from_secs(1), "{takeover:?}");
    fleet::wait_for(Duration::from_secs(30), "a not ready", || {
        (ready(&a) == 503).then_some(())
    });
    let mut a = a;
    fleet::wait_for(Duration::from_secs(30), "a to drop its leases", || {
        let lost = a.daemon.log().iter().filter(|l| l.contains("lease lost")).count();
        (lost >= a_accounts.len()).then_some(())
    });
    // Its API tokens are in the database too: the API fails closed while it is out of reach, and says why.
    let r = reqwest::blocking::get(format!("http://{}/api/v1/status", a.daemon.addr)).unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.text().unwrap().starts_with("cannot read the API tokens"));

    // healed: a registers again and takes its share back, with new tokens
    let before: Vec<i64> = f.db.leases().unwrap().iter().map(|l| l.token).collect();
    proxy.heal();
    fleet::wait_for(Duration::from_secs(60), "4/4 again", || {
        (split(&f) == vec![4, 4] && ready(&a) == 200).then_some(())
    });
    let max_before = before.into_iter().max().unwrap();
    assert!(f
        .db
        .leases()
        .unwrap()
        .iter()
        .filter(|l| l.holder == a.id)
        .all(|l| l.token > max_before));
    fleet::wait_for(Duration::from_secs(60), "converged", || f.converged().then_some(()));
    assert!(f.duplicates().is_empty(), "{:?}", f.duplicates());
    let (_, a_log) = a.daemon.stop("TERM", Duration::from_secs(30));
    let (_, b_log) = b.daemon.stop("TERM", Duration::from_secs(30));
    for log in [&a_log, &b_log] {
        assert!(!log.iter().any(|l| l.contains(fleet::PASSWORD)));
    }
}

/// A platform write may take longer than the lease (a big batch, or one waiting for adsctl's own request budget):
/// while the lease is renewed under it, it is not cut off. Here the replica's Google Ads budget is a few requests a
/// minute, so after the first burst every request waits longer than the whole lease.
#[test]
fn a_write_outlasting_the_lease_is_not_cut_off_while_the_lease_is_renewed() {
    let _turn = turn();
    let lease = Duration::from_secs(1);
    let mut f = Fleet::new(1, lease);
    let url = f.url.clone();
    // 25 a minute: after the burst, one request every 2.4 s, longer than the whole lease. The platform's apply
    // lease (a label) is given a minute: under a 1 s one its own renewals would wait for the budget too and it would
    // run out, which is not what this test is about.
    let r = f.start_replica_with(
        &url,
        &[
            ("ADSCTL_GOOGLE_ADS_RATE_PER_MINUTE", "25"),
            ("ADSCTL_LEASE_TTL_SECS", "60"),
        ],
        &[],
    );
    let started = Instant::now();
    fleet::wait_for(Duration::from_secs(150), "converged", || f.converged().then_some(()));
    let took = started.elapsed();
    let (_, log) = r.daemon.stop("TERM", Duration::from_secs(30));
    let waits = log
        .iter()
        .filter(|l| l.contains("budget of Google Ads requests"))
        .count();
    eprintln!("converged in {took:?} with a lease of {lease:?}; {waits} budget waits said");
    assert!(
        took > lease * 2,
        "the budget did not make the reconcile outlast the lease ({took:?})"
    );
    assert!(!log.iter().any(|l| l.contains("cut off")), "{log:#?}");
    assert!(f.duplicates().is_empty());
}

/// `--max-concurrent`: a replica holding many accounts reconciles at most that many at once (the others wait their
/// turn before taking their lease for the reconcile), and every account still converges.
#[test]
fn a_replica_reconciles_at_most_max_concurrent_accounts_at_once() {
    let _turn = turn();
    let mut f = Fleet::new(8, Duration::from_secs(3));
    let url = f.url.clone();
    let r = f.start_replica_with(&url, &[], &["--max-concurrent", "2"]);
    fleet::wait_for(Duration::from_secs(120), "converged", || f.converged().then_some(()));
    let (_, log) = r.daemon.stop("TERM", Duration::from_secs(30));
    let spans = fleet::reconciles("r1", &log, None);
    assert!(spans.len() >= 8, "{spans:#?}");
    // the most reconciles in flight at one instant: at each start, those begun and not yet ended
    let most = spans
        .iter()
        .map(|s| spans.iter().filter(|o| o.start <= s.start && s.start < o.end).count())
        .max()
        .unwrap_or(0);
    assert!(most <= 2, "{most} reconciles at once: {spans:#?}");
    assert_eq!(most, 2, "the two turns are used");
}
