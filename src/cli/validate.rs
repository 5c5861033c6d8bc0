use std::path::PathBuf;
use std::process::ExitCode;

use super::{CommandResult, GlobalArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config directory (holding adsctl.yaml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Print the errors as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(_global: &GlobalArgs, _args: &Args) -> CommandResult {
    Ok(ExitCode::SUCCESS)
}
