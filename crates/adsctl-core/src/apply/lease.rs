//! Apply leases: before an apply's first read, each account it touches is leased on the platform itself
//! (`Connector::acquire_lease`), so that two runners that share no state — two CI jobs after two quick merges,
//! a CI job beside a daemon on another machine — never apply to one account at once. The local lock in the
//! state directory only protects one state directory; this protects the account.
//!
//! Accounts are leased in name order (two runners never wait for each other in a circle), renewed in the
//! background while the apply runs, and given back at the end. A runner killed while it holds a lease blocks
//! the account until the lease expires (its time to live after the last renewal).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Target;
use crate::connectors::{ConnectorError, Lease, LeaseOutcome};

/// How long a lease lives without renewal (`ADSCTL_LEASE_TTL_SECS`, default 10 minutes).
pub fn ttl() -> Duration {
    Duration::from_secs(
        std::env::var("ADSCTL_LEASE_TTL_SECS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|s| *s > 0)
            .unwrap_or(600),
    )
}

/// This host's name as a lease records it.
fn host() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_else(|| "host".into());
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    host
}

/// Who this runner is, as a lease records it: `host/pid/random` (no spaces, no `|`).
pub fn holder() -> String {
    format!("{}/{}/{:08x}", host(), std::process::id(), fastrand::u32(..))
}

/// The holders of the leases this process holds right now (between [`acquire`] and [`Leases::release`]).
static LIVE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<String>> {
    LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether `holder` is this process, in a lease it no longer holds: one whose giving back failed (the platform
/// or the disk refused the release). Waiting for it would block this process — a daemon's next reconcile — on
/// itself until the lease expires.
fn leftover_of_this_process(holder: &str) -> bool {
    let mut parts = holder.split('/');
    let (Some(h), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    h == host() && pid.parse::<u32>().is_ok_and(|p| p == std::process::id()) && !live().iter().any(|l| l == holder)
}

/// Whether `holder` was a process on this host that is gone (killed while it held a lease): its lease need not
/// be waited for. Only where `/proc` tells.
fn gone_from_here(holder: &str) -> bool {
    let mut parts = holder.split('/');
    let (Some(h), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    h == host()
        && pid.parse::<u32>().is_ok_and(|p| p != std::process::id())
        && proc.join("self").exists()
        && !proc.join(pid).exists()
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "account `{account}` is being applied by another runner ({holder}); its lease runs until {}",
        expires_at.format("%Y-%m-%d %H:%M:%S UTC")
    )]
    Held {
        account: String,
        holder: String,
        expires_at: DateTime<Utc>,
    },
    #[error("account `{account}`: could not take the apply lease: {source}")]
    Connector {
        account: String,
        #[source]
        source: ConnectorError,
    },
}

impl LeaseError {
    pub fn hint(&self) -> String {
        match self {
            LeaseError::Held { .. } => "wait for it with --lock-timeout (e.g. --lock-timeout 10m); in CI, run applies \
                                        of one repository one at a time (a concurrency group)"
                .into(),
            LeaseError::Connector { source, .. } => source
                .hint()
                .map(str::to_string)
                .unwrap_or_else(|| "check the platform connection and try again".into()),
        }
    }
}

/// Leases held by this runner, renewed in the background until given back.
pub struct Leases {
    held: Vec<(Target, Lease)>,
    stop: CancellationToken,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

impl Leases {
    /// Nothing held (an apply with no account to change).
    pub fn none() -> Leases {
        Leases {
            held: Vec::new(),
            stop: CancellationToken::new(),
            renewer: None,
        }
    }

    pub fn accounts(&self) -> impl Iterator<Item = &str> {
        self.held.iter().map(|(t, _)| t.account.name.as_str())
    }

    /// Give every lease back (errors are logged: an unreleased lease expires by itself, or this process takes it
    /// over the next time it asks).
    pub async fn release(mut self) {
        self.stop.cancel();
        if let Some(r) = self.renewer.take() {
            let _ = r.await;
        }
        let held = std::mem::take(&mut self.held);
        for (t, l) in &held {
            let span = crate::connectors::trace::account(&t.account);
            if let Err(e) = t.connector.release_lease(&t.account, l).instrument(span).await {
                tracing::warn!(account = %t.account.name, error = %e, "could not give the apply lease back; it expires by itself");
            }
        }
        forget(&held);
    }
}

/// These leases are no longer held by this process (whatever the platform still says).
fn forget(held: &[(Target, Lease)]) {
    live().retain(|h| !held.iter().any(|(_, l)| &l.holder == h));
}

impl Drop for Leases {
    fn drop(&mut self) {
        forget(&self.held);
        self.stop.cancel();
    }
}

/// Lease every target's account (in name order), waiting up to `wait` for each one another runner holds.
/// `on_wait` is told once per account that has to be waited for.
pub async fn acquire(
    targets: Vec<Target>,
    wait: Duration,
    on_wait: &(dyn Fn(&LeaseError) + Sync),
) -> Result<Leases, LeaseError> {
    let holder = holder();
    let ttl = ttl();
    let mut targets = targets;
    targets.sort_by(|a, b| a.account.name.cmp(&b.account.name));
    let deadline = tokio::time::Instant::now() + wait;
    let mut leases = Leases::none();
    for t in targets {
        let span = crate::connectors::trace::account(&t.account);
        let mut told = false;
        loop {
            let until = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(10));
            let mut outcome = t
                .connector
                .acquire_lease(&t.account, &holder, until, None)
                .instrument(span.clone())
                .await;
            if let Ok(LeaseOutcome::Held { holder: gone, .. }) = &outcome {
                let ours = leftover_of_this_process(gone);
                if ours || gone_from_here(gone) {
                    if ours {
                        tracing::warn!(account = %t.account.name, previous = %gone, "taking over an apply lease this process failed to give back");
                    } else {
                        tracing::warn!(account = %t.account.name, previous = %gone, "taking over the apply lease of a process on this host that is gone");
                    }
                    let gone = gone.clone();
                    outcome = t
                        .connector
                        .acquire_lease(&t.account, &holder, until, Some(&gone))
                        .instrument(span.clone())
                        .await;
                }
            }
            match outcome {
                Ok(LeaseOutcome::Acquired(l)) => {
                    live().push(l.holder.clone());
                    leases.held.push((t, l));
                    break;
                }
                Ok(LeaseOutcome::Held { holder, expires_at }) => {
                    let err = LeaseError::Held {
                        account: t.account.name.clone(),
                        holder,
                        expires_at,
                    };
                    let now = tokio::time::Instant::now();
                    if now >= deadline {
                        leases.release().await;
                        return Err(err);
                    }
                    if !told {
                        on_wait(&err);
                        told = true;
                    }
                    let pause = Duration::from_secs(5).min(deadline - now);
                    tokio::time::sleep(pause).await;
                }
                Err(source) => {
                    leases.release().await;
                    return Err(LeaseError::Connector {
                        account: t.account.name.clone(),
                        source,
                    });
                }
            }
        }
    }
    // Renew at a third of the time to live, so one failed renewal does not lose the lease.
    let held: Arc<Vec<(Target, Lease)>> = Arc::new(leases.held.clone());
    let stop = leases.stop.clone();
    leases.renewer = Some(tokio::spawn(
        async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(ttl / 3) => {}
                }
                let until = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(10));
                for (t, l) in held.iter() {
                    let span = crate::connectors::trace::account(&t.account);
                    if let Err(e) = t.connector.renew_lease(&t.account, l, until).instrument(span).await {
                        tracing::warn!(account = %t.account.name, error = %e, "could not renew the apply lease");
                    }
                }
            }
        }
        // the renewer runs in its own task: it keeps the span of whoever took the leases (a reconcile)
        .in_current_span(),
    ));
    Ok(leases)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only holders this process made and no longer holds are its leftovers; another process's never are (the
    /// whole take-over is tested with the memory platform, in `adsctl`'s `platforms::memory`).
    #[test]
    fn leftovers_are_this_process_holders_it_no_longer_holds() {
        let other = format!("{}/1/deadbeef", host());
        assert!(!leftover_of_this_process(&other));
        let mine = holder();
        live().push(mine.clone());
        assert!(!leftover_of_this_process(&mine), "still held");
        live().retain(|h| h != &mine);
        assert!(leftover_of_this_process(&mine), "given up without a release");
    }
}
