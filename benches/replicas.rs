//! Replicas benchmark (not a test; issue 27's scale run): N small Google Ads accounts (one paused campaign and its
//! budget each) on one PostgreSQL state (a real server started here, as in the tests) and one emulator (every
//! answer 40 ms late), three `adsctl watch` replicas; one is killed with SIGKILL in the middle of its applies, a
//! fourth is started; every account must converge with no duplicate campaign and no account reconciled by two
//! replicas at once, and the killed replica's accounts must be taken over within the lease. Prints accounts per
//! replica, reconciles per minute, the takeover time, why reconciles failed, the requests and the load.
//!
//!     cargo bench --bench replicas              # 1000 accounts, lease 10s
//!     cargo bench --bench replicas -- 300 5s    # chosen accounts and lease
//!
//! Figures and the machine they came from: benches/README.md.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::fleet::{self, Fleet};

fn main() {
    // `cargo bench` passes `--bench`; the numbers are ours
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    // seconds, with or without an `s`
    let lease = args
        .get(1)
        .and_then(|a| a.trim_end_matches('s').parse::<u64>().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs);
    println!(
        "replicas: {n} accounts, lease {lease:?}, load {:.1} at start",
        fleet::load()
    );
    let mut f = Fleet::new(n, lease);
    let mut loads = vec![fleet::load()];
    let started = Instant::now();
    let mut r1 = f.start_replica();
    let r2 = f.start_replica();
    let r3 = f.start_replica();

    // r1 is killed once it has finished a tenth of its share, the rest in flight or to come
    let tenth = n / 30;
    fleet::wait_for(Duration::from_secs(1800), "r1 to finish a tenth of its share", || {
        let done = r1.daemon.log().iter().filter(|l| l.contains("\"reconciled\"")).count();
        (done >= tenth.max(1)).then_some(())
    });
    let split_before: Vec<usize> = f.holders().values().map(BTreeSet::len).collect();
    let r1_accounts = f.holders().get(&r1.id).cloned().unwrap_or_default();
    loads.push(fleet::load());
    let killed_at = chrono::Utc::now();
    let killed = Instant::now();
    let (_, r1_log) = r1.daemon.stop("KILL", Duration::from_secs(10));
    let in_flight = fleet::reconciles("r1", &r1_log, Some(killed_at))
        .iter()
        .filter(|s| !s.finished)
        .count();
    let takeover = fleet::wait_for(Duration::from_secs(600), "r1's accounts taken over", || {
        let h = f.holders();
        let held: BTreeSet<&String> = h
            .iter()
            .filter(|(holder, _)| **holder != r1.id)
            .flat_map(|(_, a)| a)
            .collect();
        r1_accounts.iter().all(|a| held.contains(a)).then(|| killed.elapsed())
    });
    let r4 = f.start_replica();
    let mut last_load = Instant::now();
    let mut last_check = Instant::now();
    fleet::wait_for(Duration::from_secs(3600), "every account converged", || {
        if last_load.elapsed() > Duration::from_secs(10) {
            loads.push(fleet::load());
            last_load = Instant::now();
        }
        // the check dumps the emulator's whole state under its lock: once a second, not at every poll, or the
        // bench itself slows the replicas' requests down
        if last_check.elapsed() < Duration::from_secs(1) {
            return None;
        }
        last_check = Instant::now();
        (f.converged() && f.holders().len() == 3).then_some(())
    });
    let converged = started.elapsed();
    let split_after: Vec<usize> = f.holders().values().map(BTreeSet::len).collect();
    let duplicates = f.duplicates();

    let mut spans = fleet::reconciles("r1", &r1_log, Some(killed_at));
    let mut logs = Vec::new();
    for (name, r) in [("r2", r2), ("r3", r3), ("r4", r4)] {
        let (_, log) = r.daemon.stop("TERM", Duration::from_secs(120));
        spans.extend(fleet::reconciles(name, &log, None));
        logs.push(log);
    }
    let finished = spans.iter().filter(|s| s.finished).count();
    let overlaps = fleet::overlaps(&spans);
    let leaked = logs
        .iter()
        .chain([&r1_log])
        .flatten()
        .any(|l| l.contains(fleet::PASSWORD));
    let all_lines = || logs.iter().chain([&r1_log]).flatten();
    let cut_off = all_lines().filter(|l| l.contains("cut off")).count();
    let budget_waits = all_lines()
        .filter(|l| l.contains("budget of Google Ads requests"))
        .count();
    let failed = all_lines()
        .filter(|l| l.contains("reconcile failed; backing off"))
        .count();
    // why they failed: each error's text with the account's name and times taken out, counted
    let mut reasons: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for l in all_lines().filter(|l| l.contains("reconcile failed; backing off")) {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        let e = v["error"].as_str().unwrap_or("?");
        let e: String = e
            .split('`')
            .enumerate()
            .map(|(i, p)| if i % 2 == 1 { "…" } else { p })
            .collect::<Vec<_>>()
            .join("`");
        let e: String = e.split(" until ").next().unwrap_or(&e).chars().take(320).collect();
        *reasons.entry(e).or_default() += 1;
    }
    let per_minute = finished as f64 / converged.as_secs_f64() * 60.0;
    let max_load = loads.iter().copied().fold(0.0, f64::max);

    println!("| accounts | lease | split before the kill | split after | r1 in flight at the kill | takeover | converged in | reconciles | reconciles/min | load (max) |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {lease:?} | {split_before:?} | {split_after:?} | {in_flight} | {:.1} s | {:.0} s | {finished} | {per_minute:.0} | {max_load:.1} |",
        takeover.as_secs_f64(),
        converged.as_secs_f64()
    );
    println!(
        "failed reconciles: {failed}, writes cut off at a lease's end: {cut_off}, waits for adsctl's Google Ads \
         request budget said: {budget_waits}, emulator requests (429s): {:?}",
        f.emu.requests()
    );
    for (reason, n) in &reasons {
        println!("  failed {n}×: {reason}");
    }
    println!(
        "duplicates: {}, overlapping reconciles: {}, password in a log: {leaked}",
        duplicates.len(),
        overlaps.len()
    );
    // the takeover within the lease (the second is for this bench's polling and one lease round, as in the tests)
    assert!(
        takeover <= lease + Duration::from_secs(1),
        "taken over after {takeover:?}, lease {lease:?}"
    );
    assert!(duplicates.is_empty(), "{duplicates:?}");
    assert!(overlaps.is_empty(), "{overlaps:#?}");
    assert!(!leaked);
}
