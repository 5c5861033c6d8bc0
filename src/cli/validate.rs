use std::path::PathBuf;
use std::process::ExitCode;

use super::{CommandError, CommandResult, GlobalArgs};
use crate::spec;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config directory (holding adsctl.yaml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Print the errors as a JSON array (`[]` when valid) on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    match spec::load(&args.dir) {
        Ok(project) => {
            if args.json {
                println!("[]");
            } else if !global.quiet {
                let n = project.resources.len();
                println!(
                    "{}: valid ({} account{}, {n} resource{})",
                    args.dir.display(),
                    project.accounts.len(),
                    if project.accounts.len() == 1 { "" } else { "s" },
                    if n == 1 { "" } else { "s" },
                );
                if global.verbose > 0 {
                    for r in &project.resources {
                        println!("  {}", r.address);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            if args.json {
                println!("{}", errors.to_json());
                return Err(CommandError::silent(1));
            }
            Err(CommandError::spec(&errors, global.stderr_color()))
        }
    }
}
