//! `adsctl state list | show ADDRESS | rm ADDRESS | history | doctor`: inspect, edit and repair the local state.
//!
//! These work on the state directory alone (`.adsctl/` in `--dir`, or `ADSCTL_STATE_DIR`), even when the YAML
//! does not load.

use std::path::PathBuf;
use std::process::ExitCode;

use super::plan::{say_waiting, STATE_WAIT};
use super::{CommandError, CommandResult, GlobalArgs};
use crate::model::Address;
use crate::state::{self, doctor, ApplyLock, SledStore, StateStore};

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
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    let dir = state::state_dir(&args.dir);
    match &args.command {
        StateCommand::List { json } => {
            let store = SledStore::open_waiting(&dir, STATE_WAIT, &mut say_waiting(&dir))?;
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
                    eprintln!("the state in {} knows no resources", dir.display());
                }
            }
        }
        StateCommand::Show { address, json } => {
            let store = SledStore::open_waiting(&dir, STATE_WAIT, &mut say_waiting(&dir))?;
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
            let _lock = ApplyLock::acquire_waiting(&dir, STATE_WAIT, &mut say_waiting(&dir))?;
            let store = SledStore::open_waiting(&dir, STATE_WAIT, &mut say_waiting(&dir))?;
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
            let store = SledStore::open_waiting(&dir, STATE_WAIT, &mut say_waiting(&dir))?;
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
        StateCommand::Doctor { dry_run, json } => return doctor(global, &dir, *dry_run, *json),
    }
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
