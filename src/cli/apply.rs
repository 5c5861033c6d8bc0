//! `adsctl apply [PLAN_FILE | DIR]`: apply a saved plan exactly, or plan and apply after confirmation.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::plan::{
    connectors_for, load_project, make, open_store_waiting, runtime, say_waiting, say_waiting_for, PlanFlags,
};
use super::{CommandError, CommandResult, GlobalArgs};
use crate::apply::{self, ChangeOutcome, ExecOptions, Target};
use crate::plan::live::{read_account, ReadMode};
use crate::plan::{file, render};
use crate::state::ApplyLock;
use crate::store::{Location, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `adsctl plan --out FILE`, or the config directory (default: `.`).
    pub path: Option<PathBuf>,
    /// The config directory when applying a plan file.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Apply without asking (needed when not on a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Accounts applied at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// Print the final report as JSON.
    #[arg(long)]
    pub json: bool,
    /// How long to wait for the state and for each account while another runner uses them (this state's lock,
    /// held by another apply or by the `watch` daemon while it reconciles; an account's lease on the platform,
    /// held by another runner), e.g. `10m`. 0 (the default) stops at once with a message naming the holder.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = super::watch::parse_duration_or_zero)]
    pub lock_timeout: std::time::Duration,
}

fn confirm(n: usize) -> Result<bool, CommandError> {
    eprint!("Apply these {n} change(s)? Only 'yes' is accepted: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CommandError::new(format!("could not read the answer: {e}")))?;
    Ok(line.trim() == "yes")
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    crate::connectors::wait::set_max_wait(args.flags.max_wait.0);
    let (plan_file, dir) = match &args.path {
        Some(p) if p.is_file() => (Some(p.clone()), args.dir.clone()),
        Some(p) => (None, p.clone()),
        None => (None, args.dir.clone()),
    };
    let mut project = load_project(global, &dir)?;
    // The apply lock: `apply.lock` in the state directory, or on PostgreSQL an advisory lock of the store's
    // session (released when the store is dropped, or by the server when this process dies).
    let location = Location::of_project(&project.root)?;
    let (lock, store) = match &location {
        Location::Dir(state_dir) => {
            let lock = ApplyLock::acquire_waiting(state_dir, args.lock_timeout, &mut say_waiting(state_dir))?;
            if let Some(stale) = &lock.stale {
                eprintln!(
                    "warning: took over a stale apply lock ({stale}): that process is gone; if it was interrupted, \
                     this run resolves its journal"
                );
            }
            (Some(lock), open_store_waiting(&project.root, args.lock_timeout)?)
        }
        Location::Postgres(_) => {
            let store = open_store_waiting(&project.root, args.lock_timeout)?;
            if let Store::Postgres(pg) = &store {
                pg.lock_apply(args.lock_timeout, &mut say_waiting_for(location.shown()))?;
            }
            (None, store)
        }
    };
    let rt = runtime()?;

    let (emulator, conns) = connectors_for(&rt, &mut project, &args.flags)?;
    // A saved plan names its accounts; otherwise every account the plan may touch.
    let saved = match &plan_file {
        Some(path) => Some(file::load(path)?),
        None => None,
    };
    let leased: Vec<Target> = match &saved {
        Some(plan) => plan.accounts.iter().map(|a| a.account.clone()).collect::<Vec<_>>(),
        None => project
            .accounts
            .keys()
            .filter(|a| args.flags.targets.is_empty() || args.flags.targets.iter().any(|t| t.account == **a))
            .cloned()
            .collect(),
    }
    .into_iter()
    .filter_map(|name| {
        Some(Target {
            account: project.accounts.get(&name)?.clone(),
            connector: conns.get(&name)?.clone(),
        })
    })
    .collect();
    // The accounts are leased on the platforms before anything is read: a second runner waits for (or reports)
    // the first, then plans against what the first one applied.
    let quiet = global.quiet;
    let leases = rt.block_on(apply::lease::acquire(leased, args.lock_timeout, &|e| {
        if !quiet {
            eprintln!("waiting: {e} (up to --lock-timeout)");
        }
    }))?;
    let result = leased_apply(global, args, &project, &store, &rt, &conns, plan_file.as_deref(), saved);
    rt.block_on(leases.release());
    // the emulator's state is saved before the lock is released
    drop(emulator);
    drop(lock);
    result
}

/// Plan (or check the saved plan) and apply, with the accounts leased.
#[allow(clippy::too_many_arguments)]
fn leased_apply(
    global: &GlobalArgs,
    args: &Args,
    project: &crate::spec::Project,
    store: &Store,
    rt: &tokio::runtime::Runtime,
    conns: &BTreeMap<String, std::sync::Arc<dyn crate::connectors::Connector>>,
    plan_file: Option<&std::path::Path>,
    saved: Option<crate::plan::Plan>,
) -> CommandResult {
    let plan = match (plan_file, saved) {
        (Some(path), Some(plan)) => {
            if !args.flags.targets.is_empty() || args.flags.allow_replace || !args.flags.allow_guardrails.is_empty() {
                return Err(CommandError::new(
                    "--target, --allow-replace and --allow-guardrail belong to the plan, not to applying a saved plan",
                )
                .with_hint("pass them to `adsctl plan --out FILE`"));
            }
            if plan.is_blocked() {
                return Err(CommandError::new(format!("{} is a blocked plan", path.display())));
            }
            // Refuse if live state moved since the plan was made.
            for a in &plan.accounts {
                let account = project.accounts.get(&a.account).ok_or_else(|| {
                    CommandError::new(format!(
                        "the plan names account `{}`, which adsctl.yaml does not",
                        a.account
                    ))
                })?;
                let conn = conns
                    .get(&a.account)
                    .ok_or_else(|| CommandError::new(format!("no connector for account `{}`", a.account)))?;
                let live = rt.block_on(read_account(conn.as_ref(), account, store, ReadMode::Full, Vec::new()))?;
                if file::fingerprint(&live.resources) != a.live_fingerprint {
                    return Err(CommandError::new(format!(
                        "the live state of account `{}` changed since this plan was made ({}); nothing was applied",
                        a.account,
                        plan.created_at.format("%Y-%m-%d %H:%M:%S UTC")
                    ))
                    .with_hint(format!(
                        "make and review a new plan: adsctl plan --out {}",
                        path.display()
                    )));
                }
            }
            plan
        }
        _ => {
            let plan = make(rt, project, store, &args.flags, ReadMode::Full, conns)?;
            if !global.quiet || plan.is_blocked() {
                print!(
                    "{}",
                    render::human(&plan, global.use_color(std::io::stdout().is_terminal()))
                );
            }
            if plan.is_blocked() {
                return Err(CommandError::new(
                    "the plan is blocked (see above); nothing was applied",
                ));
            }
            if !plan.has_changes() {
                if !global.quiet {
                    println!("No changes. The accounts match the YAML.");
                }
                // still record ids / prevent_destroy of what matched
                let targets = targets_for(project, &plan, conns)?;
                rt.block_on(apply::execute(&plan, &targets, store, &ExecOptions::default()))?;
                return Ok(ExitCode::SUCCESS);
            }
            if !args.auto_approve {
                if !std::io::stdin().is_terminal() {
                    return Err(CommandError::new("refusing to apply without confirmation")
                        .with_hint("not on a terminal: review the plan and pass --auto-approve"));
                }
                if !confirm(plan.change_count())? {
                    eprintln!("Apply cancelled; nothing was changed.");
                    return Ok(ExitCode::from(1));
                }
            }
            plan
        }
    };

    let targets = targets_for(project, &plan, conns)?;
    let opts = ExecOptions {
        concurrency: usize::from(args.parallelism),
        progress: std::io::stderr().is_terminal() && !global.quiet,
    };
    let report = rt.block_on(apply::execute(&plan, &targets, store, &opts))?;
    if let Err(e) = crate::audit::record_apply_report(&crate::state::state_dir(&project.root), &project.root, &report) {
        eprintln!("warning: the apply is done but could not be written to the audit log: {e}");
    }

    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| CommandError::new(format!("could not serialise the report: {e}")))?;
        println!("{json}");
    } else {
        // A stop at a rate limit is said once, with when to run again, not once per change it left undone.
        let mut stopped: Option<&crate::connectors::OpError> = None;
        let mut not_applied = 0;
        for r in &report.results {
            match &r.outcome {
                ChangeOutcome::Failed { error } if error.code == "rate_limited" => {
                    stopped.get_or_insert(error);
                    not_applied += 1;
                }
                ChangeOutcome::Skipped { reason } if reason.starts_with("not sent: the apply stopped at a rate") => {
                    not_applied += 1;
                }
                ChangeOutcome::Failed { error } => {
                    eprintln!(
                        "✗ {} {}: {} ({})",
                        r.action.as_str(),
                        r.address,
                        error.message,
                        error.code
                    );
                    if let Some(h) = &error.hint {
                        eprintln!("    hint: {h}");
                    }
                }
                ChangeOutcome::Skipped { reason } => {
                    eprintln!("- skipped {} {}: {reason}", r.action.as_str(), r.address)
                }
                ChangeOutcome::Succeeded { .. } if global.verbose > 0 => {
                    eprintln!("✓ {} {}", r.action.as_str(), r.address)
                }
                ChangeOutcome::Succeeded { .. } => {}
            }
        }
        if let Some(error) = stopped {
            eprintln!(
                "✗ stopped at a rate limit, {not_applied} change(s) not applied: {}",
                error.message
            );
            if let Some(h) = &error.hint {
                eprintln!("    hint: {h}");
            }
        }
        if !global.quiet || !report.ok() {
            println!(
                "Apply {}: {} succeeded, {} failed, {} skipped.",
                if report.ok() { "complete" } else { "incomplete" },
                report.succeeded(),
                report.failed(),
                report.skipped()
            );
        }
    }
    if report.ok() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CommandError::silent(1))
    }
}

fn targets_for(
    project: &crate::spec::Project,
    plan: &crate::plan::Plan,
    conns: &BTreeMap<String, std::sync::Arc<dyn crate::connectors::Connector>>,
) -> Result<BTreeMap<String, Target>, CommandError> {
    let mut out = BTreeMap::new();
    for a in &plan.accounts {
        let (Some(account), Some(c)) = (project.accounts.get(&a.account), conns.get(&a.account)) else {
            return Err(CommandError::new(format!("account `{}` is not configured", a.account)));
        };
        out.insert(
            a.account.clone(),
            Target {
                account: account.clone(),
                connector: c.clone(),
            },
        );
    }
    Ok(out)
}
