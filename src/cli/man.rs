//! `adsctl man --out DIR`: a man page per command and subcommand (`adsctl.1`, `adsctl-plan.1`,
//! `adsctl-auth-login.1`, …), generated from the command line's own definition; without `--out`, the page of
//! `adsctl` itself on standard output.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;

use super::{CommandError, CommandResult, GlobalArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write every page into this directory (created if missing), e.g. `/usr/local/share/man/man1`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn write_error(path: &Path, e: std::io::Error) -> CommandError {
    CommandError::new(format!("cannot write {}: {e}", path.display())).with_hint("check the path and permissions")
}

/// Render `cmd`'s page as `<prefix>.1` into `dir`, then its subcommands' (`<prefix>-<sub>.1`); returns the paths.
fn write_pages(cmd: &clap::Command, prefix: &str, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CommandError> {
    let cmd = cmd.clone().name(prefix.to_string());
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .map_err(|e| CommandError::new(format!("internal error rendering the man page of {prefix}: {e}")))?;
    let path = dir.join(format!("{prefix}.1"));
    std::fs::write(&path, page).map_err(|e| write_error(&path, e))?;
    out.push(path);
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_pages(sub, &format!("{prefix}-{}", sub.get_name()), dir, out)?;
    }
    Ok(())
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    let cmd = super::Cli::command();
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                CommandError::new(format!("cannot create {}: {e}", dir.display()))
                    .with_hint("check the path and permissions")
            })?;
            let mut written = Vec::new();
            write_pages(&cmd, "adsctl", dir, &mut written)?;
            if !global.quiet {
                println!("wrote {} man pages into {}", written.len(), dir.display());
            }
        }
        None => {
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(|e| CommandError::new(format!("cannot write the man page: {e}")))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
