//! `adsctl import ACCOUNT [--out DIR]`: write an account's live campaigns as YAML in the project's format, so
//! that an existing account can be brought under adsctl (the next `adsctl plan` of the output shows no changes).

use std::path::PathBuf;
use std::process::ExitCode;

use super::emulated::{self, Emulated, Persist};
use super::plan::{load_project, runtime};
use super::{CommandError, CommandResult, GlobalArgs};
use crate::connectors::{registry, ReadRequest};
use crate::import;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account to import (its local name in adsctl.yaml).
    pub account: String,
    /// The config directory holding adsctl.yaml (where the account is declared).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the imported project (default: `import-<account>` in the current directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Use the emulator (started in this process from the state directory's emulator state) instead of the
    /// real platform, with its well-known credentials.
    #[arg(long)]
    pub emulator: bool,
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    let mut project = load_project(global, &args.dir)?;
    // The account as adsctl.yaml declares it: what the imported adsctl.yaml says (never the emulator's address).
    let declared = project.accounts.get(&args.account).cloned().ok_or_else(|| {
        let known: Vec<&str> = project.accounts.keys().map(String::as_str).collect();
        CommandError::new(format!("no account `{}` in {}", args.account, args.dir.display()))
            .with_hint(format!("accounts: {}", known.join(", ")))
    })?;
    let rt = runtime()?;
    // Read-only: the emulator's state is restored, never saved.
    let _emulator = if args.emulator {
        Some(Emulated::for_project(&rt, &mut project, Persist::No)?)
    } else {
        None
    };
    let account = project.accounts.get(&args.account).unwrap_or(&declared);
    let connector = if args.emulator {
        emulated::connector(account)
    } else {
        registry::connector_for(account)
    }
    .map_err(connector_error)?;
    let snapshot = rt
        .block_on(connector.read(account, &ReadRequest::default()))
        .map_err(connector_error)?;
    let files = import::render(&declared, &snapshot.resources).map_err(import_error)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("import-{}", args.account)));
    let written = import::write(&out, &files).map_err(import_error)?;
    if !global.quiet {
        let campaigns = written.iter().filter(|p| p.starts_with(out.join("campaigns"))).count();
        println!(
            "Imported {} resources of `{}` into {} ({} campaign file{}).",
            snapshot.resources.len(),
            account.name,
            out.display(),
            campaigns,
            if campaigns == 1 { "" } else { "s" }
        );
        for p in &written {
            println!("  {}", p.display());
        }
        if args.emulator {
            // The emulator's accounts live in this project's state directory: the imported copy plans against
            // the same emulator only with that state directory.
            println!(
                "Next: `ADSCTL_STATE_DIR={} adsctl plan {} --emulator` should show no changes.",
                crate::state::state_dir(&project.root).display(),
                out.display()
            );
        } else {
            println!("Next: `adsctl plan {}` should show no changes.", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn connector_error(e: crate::connectors::ConnectorError) -> CommandError {
    let hint = e.hint().map(str::to_string);
    let err = CommandError::new(e.to_string());
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

fn import_error(e: import::ImportError) -> CommandError {
    let hint = e.hint();
    CommandError::new(e.to_string()).with_hint(hint)
}
