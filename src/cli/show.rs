//! `adsctl show PLANFILE`: a saved plan, printed again exactly as `adsctl plan` printed it (human, Markdown or
//! JSON). Reads nothing but the file: no account, no credentials, no state.

use std::path::PathBuf;
use std::process::ExitCode;

use super::plan::{print_plan, Format};
use super::{CommandResult, GlobalArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan file written by `adsctl plan --out FILE`.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Exit 2 when the plan has changes (as `plan --detailed-exitcode`).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    let plan = crate::plan::file::load(&args.file)?;
    let format = if args.json { Format::Json } else { args.format };
    print_plan(global, &plan, format)?;
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
