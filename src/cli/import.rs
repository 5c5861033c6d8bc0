//! `adsctl import ACCOUNT [--out DIR]`: write an account's live campaigns as YAML in the project's format, and
//! mark what it wrote as adsctl's on the platform (the ownership marker of each kind, docs/resource-model.md), so
//! that an existing account is brought under adsctl: the next `adsctl plan` of the output shows no changes, on
//! this runner and on any runner without state.

use std::path::PathBuf;
use std::process::ExitCode;

use super::emulated::{self, Emulated, Persist};
use super::plan::{load_project, runtime};
use super::{CommandError, CommandResult, GlobalArgs};
use crate::connectors::ReadRequest;
use crate::import;
use crate::platforms as registry;

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
    // Marking writes to the platform: the emulator's state is saved.
    let _emulator = if args.emulator {
        Some(Emulated::for_project(&rt, &mut project, Persist::Yes)?)
    } else {
        None
    };
    let account = project.accounts.get(&args.account).unwrap_or(&declared);
    let connector = if args.emulator {
        emulated::connector(account)
    } else {
        registry::connector_for(account)
    }?;
    // Marking writes: the account is leased first, and read under the lease.
    let target = crate::apply::Target {
        account: account.clone(),
        connector: connector.clone(),
    };
    let leases = rt.block_on(crate::apply::lease::acquire(
        vec![target],
        std::time::Duration::ZERO,
        &|_| {},
    ))?;
    let result = (|| {
        let snapshot = rt.block_on(connector.read(account, &ReadRequest::default()))?;
        let mut live = snapshot.resources;
        let marked = rt.block_on(mark(connector.as_ref(), account, &mut live))?;
        Ok::<_, CommandError>((live, marked))
    })();
    rt.block_on(leases.release());
    let (live, marked) = result?;
    let files = import::render(&declared, &live)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("import-{}", args.account)));
    let written = import::write(&out, &files)?;
    if !global.quiet {
        let campaigns = written.iter().filter(|p| p.starts_with(out.join("campaigns"))).count();
        println!(
            "Imported {} resources of `{}` into {} ({} campaign file{}); {marked} marked as adsctl's on the platform.",
            live.len(),
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

/// Mark every imported object of a kind with an ownership marker that does not carry it yet (one adopt each, in
/// requests of at most the connector's maximum). Returns how many were marked.
async fn mark(
    connector: &dyn crate::connectors::Connector,
    account: &crate::model::Account,
    live: &mut [crate::model::Resource],
) -> Result<usize, CommandError> {
    use crate::connectors::{ApplyBatch, OpAction, OpOutcome, Operation};
    let caps = connector.capabilities();
    let todo: Vec<usize> = (0..live.len())
        .filter(|&i| !live[i].owned && caps.marked(live[i].kind) && live[i].id.is_some())
        .collect();
    let mut marked = 0;
    for chunk in todo.chunks(caps.max_ops_per_request.max(1)) {
        let ops: Vec<Operation> = chunk
            .iter()
            .map(|&i| Operation {
                address: live[i].address.clone(),
                kind: live[i].kind,
                action: OpAction::Adopt {
                    id: live[i].id.clone().unwrap_or_default(),
                },
                parent: None,
                refs: Default::default(),
            })
            .collect();
        let outcomes = connector.apply(account, &ApplyBatch { ops }).await?;
        let mut failed = Vec::new();
        for (&i, o) in chunk.iter().zip(&outcomes) {
            match o {
                OpOutcome::Applied { .. } => {
                    live[i].owned = true;
                    marked += 1;
                }
                OpOutcome::Failed(e) => failed.push(format!("{}: {}", live[i].address, e.message)),
                OpOutcome::Skipped { reason } => failed.push(format!("{}: {reason}", live[i].address)),
                OpOutcome::Valid => {}
            }
        }
        if !failed.is_empty() {
            return Err(CommandError::new(format!(
                "could not mark {} imported object(s) as adsctl's: {}",
                failed.len(),
                failed.join("; ")
            ))
            .with_hint("nothing was written; run import again (what was marked stays marked)"));
        }
    }
    Ok(marked)
}
