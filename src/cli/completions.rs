//! `adsctl completions SHELL`: the shell completion script, generated from the command line's own definition.

use std::process::ExitCode;

use clap::CommandFactory;

use super::{CommandResult, GlobalArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Install, e.g.:\n  bash: adsctl completions bash > ~/.local/share/bash-completion/completions/adsctl\n  \
                        zsh:  adsctl completions zsh > \"${fpath[1]}/_adsctl\"\n  \
                        fish: adsctl completions fish > ~/.config/fish/completions/adsctl.fish\n  \
                        PowerShell: adsctl completions powershell | Out-String | Invoke-Expression"
)]
pub struct Args {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(_global: &GlobalArgs, args: &Args) -> CommandResult {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut cmd = super::Cli::command();
    clap_complete::generate(shell, &mut cmd, "adsctl", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
