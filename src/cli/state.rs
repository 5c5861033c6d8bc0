//! `adsctl state list | show ADDRESS | rm ADDRESS | history | doctor | migrate | copy`: inspect, edit, repair,
//! migrate and move the state.
//!
//! These work on the state alone (`.adsctl/` in `--dir`, or `ADSCTL_STATE_DIR`; PostgreSQL with
//! `ADSCTL_STATE_URL`), even when the YAML does not load.

use std::path::PathBuf;
use std::process::ExitCode;

use super::plan::{say_waiting, say_waiting_for, STATE_WAIT};
use super::{CommandError, CommandResult, GlobalArgs};
use crate::model::Address;
use crate::state::{doctor, ApplyLock, StateStore};
use crate::store::{Location, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config directory whose state to use.
    #[arg(long, default_value = ".", global = true)]
    pub dir: PathBuf,
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Every resource the state knows (address, kind, platform id).
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// What the state knows about one address, and its cached live object.
    Show {
        address: Address,
        /// As JSON (`entry`, `cached_live`).
        #[arg(long)]
        json: bool,
    },
    /// Forget one address (the platform object is not touched; the next plan finds it again by identity).
    Rm { address: Address },
    /// Every apply recorded in the state: when, by whom, its plan hash and result (the audit log is
    /// `adsctl history`).
    #[command(name = "history")]
    Applies,
    /// Examine every local file of the state (locks, database, caches, id map snapshots) and repair what is
    /// damaged: set it aside (renamed with a timestamp) and rebuild it. Nothing on the platforms is touched.
    Doctor {
        /// Only report what is wrong and what a repair would do; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bring the PostgreSQL state's schema up to this adsctl's version (ADSCTL_STATE_URL); the migrations
    /// not yet applied run in order, each in a transaction. Other commands refuse a schema that is behind.
    Migrate,
    /// Copy a state into another, empty one: the id map, the journal, the apply records, the cached reads, the
    /// metrics series, the token vault (still sealed: the same master key opens it), the audit log and the API
    /// tokens' hashes. Each side is a state directory or a postgres:// URL (a migrated database).
    Copy {
        /// The state to copy: a directory (`.adsctl`) or a postgres:// URL.
        #[arg(long, value_name = "DIR|URL")]
        from: String,
        /// Where to copy it: a new directory or an empty, migrated database.
        #[arg(long, value_name = "DIR|URL")]
        to: String,
    },
}

/// Open a state for `state` commands (waiting for sled while another process has it).
fn open(location: &Location) -> Result<Store, CommandError> {
    Ok(Store::open_waiting(
        location,
        STATE_WAIT,
        &mut say_waiting_for(location.shown()),
    )?)
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    let location = Location::of_project(&args.dir)?;
    let shown = location.shown();
    match &args.command {
        StateCommand::List { json } => {
            let store = open(&location)?;
            let entries = store.entries(None)?;
            if *json {
                let s = serde_json::to_string_pretty(&entries)
                    .map_err(|e| CommandError::new(format!("could not serialise the state: {e}")))?;
                println!("{s}");
            } else {
                for e in &entries {
                    let flag = if e.prevent_destroy { "  prevent_destroy" } else { "" };
                    println!("{}  {}  id {}{flag}", e.address, e.kind, e.id);
                }
                if entries.is_empty() && !global.quiet {
                    eprintln!("the state in {shown} knows no resources");
                }
            }
        }
        StateCommand::Show { address, json } => {
            let store = open(&location)?;
            let entry = store.entry(address)?.ok_or_else(|| {
                CommandError::new(format!("{address} is not in the state"))
                    .with_hint("`adsctl state list` shows what the state knows")
            })?;
            let live = store.cache_get(&address.account)?.and_then(|c| {
                c.resources
                    .into_iter()
                    .find(|r| r.id.as_deref() == Some(entry.id.as_str()))
            });
            if *json {
                let out = serde_json::json!({ "entry": entry, "cached_live": live });
                let s = serde_json::to_string_pretty(&out)
                    .map_err(|e| CommandError::new(format!("could not serialise the state: {e}")))?;
                println!("{s}");
            } else {
                print!("{}", show_text(&entry, live.as_ref()));
            }
        }
        StateCommand::Rm { address } => {
            // under the apply lock, as an apply changes the id map
            let _lock = match &location {
                Location::Dir(dir) => Some(ApplyLock::acquire_waiting(dir, STATE_WAIT, &mut say_waiting(dir))?),
                Location::Postgres(_) => None,
            };
            let store = open(&location)?;
            if let Store::Postgres(pg) = &store {
                pg.lock_apply(STATE_WAIT, &mut say_waiting_for(shown.clone()))?;
            }
            if !store.remove_entry(address)? {
                return Err(CommandError::new(format!("{address} is not in the state"))
                    .with_hint("`adsctl state list` shows what the state knows"));
            }
            store.flush()?;
            if !global.quiet {
                println!("Forgot {address} (nothing changed on the platform).");
            }
        }
        StateCommand::Applies => {
            let store = open(&location)?;
            for h in store.apply_records()? {
                println!(
                    "{}  {}  {}  {}  ({} succeeded, {} failed, {} skipped)",
                    h.at.format("%Y-%m-%d %H:%M:%S UTC"),
                    h.user,
                    h.plan_hash,
                    h.result,
                    h.succeeded,
                    h.failed,
                    h.skipped
                );
            }
        }
        StateCommand::Doctor { dry_run, json } => match &location {
            Location::Dir(dir) => return doctor(global, dir, *dry_run, *json),
            Location::Postgres(_) => {
                return Err(CommandError::new(format!(
                    "`adsctl state doctor` examines a local state directory; the state is on PostgreSQL ({shown})"
                ))
                .with_hint("PostgreSQL keeps its own data sound; unset ADSCTL_STATE_URL to examine the local files"))
            }
        },
        StateCommand::Migrate => return migrate(global, &location),
        StateCommand::Copy { from, to } => return copy(global, &Location::parse(from), &Location::parse(to)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `adsctl state migrate`: the PostgreSQL state's missing migrations, in order.
fn migrate(global: &GlobalArgs, location: &Location) -> CommandResult {
    let Location::Postgres(url) = location else {
        return Err(CommandError::new(format!(
            "the state is a local directory ({}), which has no schema to migrate",
            location.shown()
        ))
        .with_hint(format!(
            "set {} to the postgres:// URL of the database to migrate",
            crate::store::STATE_URL_ENV
        )));
    };
    let store = crate::store::PgStore::connect(url)?;
    let applied = store.migrate()?;
    if !global.quiet {
        match applied.as_slice() {
            [] => println!(
                "The PostgreSQL state at {} is up to date (schema version {}).",
                location.shown(),
                adsctl_state_pg::latest_version()
            ),
            done => println!(
                "Migrated the PostgreSQL state at {} to schema version {} (applied {}).",
                location.shown(),
                adsctl_state_pg::latest_version(),
                done.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `adsctl state copy --from --to`: under both states' apply locks, so that no apply changes either meanwhile.
fn copy(global: &GlobalArgs, from: &Location, to: &Location) -> CommandResult {
    if from == to {
        return Err(CommandError::new("--from and --to are the same state"));
    }
    if let Location::Dir(dir) = from {
        if !dir.is_dir() {
            return Err(
                CommandError::new(format!("--from {}: no such state directory", dir.display()))
                    .with_hint("a state directory is the `.adsctl` beside adsctl.yaml (or ADSCTL_STATE_DIR)"),
            );
        }
    }
    let mut locks = Vec::new();
    let mut stores = Vec::new();
    for location in [from, to] {
        if let Location::Dir(dir) = location {
            locks.push(ApplyLock::acquire_waiting(dir, STATE_WAIT, &mut say_waiting(dir))?);
        }
        let store = open(location)?;
        if let Store::Postgres(pg) = &store {
            pg.lock_apply(STATE_WAIT, &mut say_waiting_for(location.shown()))?;
        }
        stores.push(store);
    }
    let copied = crate::store::copy(
        &crate::store::Side {
            location: from,
            store: &stores[0],
        },
        &crate::store::Side {
            location: to,
            store: &stores[1],
        },
    )?;
    if !global.quiet {
        println!(
            "Copied {} id map entries, {} journal entries, {} apply records, {} cached reads, {} days of metrics, \
             {} sealed vault entries, {} audit log entries and {} API tokens from {} to {}.",
            copied.entries,
            copied.journal,
            copied.applies,
            copied.caches,
            copied.days,
            copied.vault,
            copied.audit,
            copied.tokens,
            from.shown(),
            to.shown()
        );
    }
    drop(stores);
    drop(locks);
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &doctor::Report, repaired: bool) {
    println!("State in {}:", report.state_dir.display());
    for f in &report.findings {
        println!("  {} {}: {}", if f.ok { "✓" } else { "✗" }, f.file, f.detail);
        if let Some(r) = &f.repair {
            println!("      {} {r}", if repaired { "repaired:" } else { "repair would" });
        }
    }
    if !report.set_aside.is_empty() {
        println!("Set aside by earlier runs (kept for inspection; delete them when you no longer need them):");
        for s in &report.set_aside {
            println!("  {s}");
        }
    }
}

/// `adsctl state doctor [--dry-run]`: exit 0 when the state is sound (or was repaired), 2 when a dry run found
/// problems, 1 when a repair left some.
fn doctor(global: &GlobalArgs, dir: &std::path::Path, dry_run: bool, json: bool) -> CommandResult {
    let before = doctor::examine(dir)?;
    if dry_run || before.problems() == 0 {
        if json {
            let s = serde_json::to_string_pretty(&before)
                .map_err(|e| CommandError::new(format!("could not serialise the report: {e}")))?;
            println!("{s}");
        } else if !global.quiet || before.problems() > 0 {
            print_report(&before, false);
            match before.problems() {
                0 => println!("No problems found."),
                n if dry_run => {
                    println!("{n} problem(s). Nothing was changed (dry run); `adsctl state doctor` repairs them.")
                }
                _ => {}
            }
        }
        return Ok(if before.problems() == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    let after = doctor::repair(dir)?;
    if json {
        let s = serde_json::to_string_pretty(&serde_json::json!({ "before": before, "after": after }))
            .map_err(|e| CommandError::new(format!("could not serialise the report: {e}")))?;
        println!("{s}");
    } else {
        print_report(&before, true);
        for d in &after.repaired {
            println!("  {d}");
        }
        if after.problems() == 0 {
            println!(
                "Repaired {} problem(s). The next plan rebuilds what was set aside from the platforms.",
                before.problems()
            );
        } else {
            print_report(&after, false);
        }
    }
    if after.problems() == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(
            CommandError::new(format!("{} problem(s) remain after the repair", after.problems()))
                .with_hint("see the report above; moving the state directory aside starts from scratch"),
        )
    }
}

/// `state show` for people: the entry, what was last applied, and the cached live object's fields.
fn show_text(entry: &crate::state::StateEntry, live: Option<&crate::model::Resource>) -> String {
    let mut out = format!(
        "{}\n  kind:            {}\n  platform id:     {}\n  prevent_destroy: {}\n  updated:         {}\n",
        entry.address,
        entry.kind,
        entry.id,
        entry.prevent_destroy,
        entry.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let fields = |out: &mut String, title: &str, map: &crate::model::SmallMap| {
        if map.is_empty() {
            return;
        }
        out.push_str(&format!("  {title}:\n"));
        for (k, v) in map.iter() {
            // amounts in major units (the state does not know the account's currency)
            let v = match v {
                crate::model::Value::Money(m) => rust_decimal::Decimal::new(m.micros(), 6).normalize().to_string(),
                other => other.to_string(),
            };
            out.push_str(&format!("    {k}: {v}\n"));
        }
    };
    fields(&mut out, "last applied", &entry.applied);
    match live {
        Some(r) => {
            out.push_str(&format!(
                "  cached live object: {}\n",
                if r.owned { "marked as adsctl's" } else { "not marked" }
            ));
            fields(&mut out, "live fields", &r.fields);
        }
        None => out.push_str("  cached live object: none (run `adsctl plan` to read the account)\n"),
    }
    out
}
