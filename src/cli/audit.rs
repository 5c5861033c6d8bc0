//! `adsctl history`: the audit log (auth events and applies, [`crate::audit`]); not the apply records of
//! `adsctl state history`. In the state directory, or in the project's PostgreSQL state.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::audit::AuditLog;
use crate::auth::{process_env, state_dir};

use super::{CommandError, CommandResult, GlobalArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config directory (holding adsctl.yaml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Print JSON (one array).
    #[arg(long)]
    pub json: bool,
    /// Only this account's entries.
    #[arg(long)]
    pub account: Option<String>,
    /// Only the last N entries.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Check the hash chain: exit 1 if a line was edited or removed.
    #[arg(long)]
    pub verify: bool,
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    // on PostgreSQL when the project's state is (ADSCTL_STATE_URL or `state:` in adsctl.yaml)
    crate::store::Location::of_project(&args.dir)?;
    let log = AuditLog::at_state_dir(&state_dir(&args.dir, &process_env()));
    if args.verify {
        return match log.verify()? {
            Ok(n) => {
                println!("{n} entries, chain intact.");
                Ok(ExitCode::SUCCESS)
            }
            Err(lines) => Err(CommandError::new(format!(
                "{} was altered at line(s) {}",
                log.shown(),
                lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")
            ))
            .with_hint("restore it from a backup; entries after the first altered line cannot be trusted")),
        };
    }
    let mut entries = log.read()?;
    if let Some(a) = &args.account {
        entries.retain(|e| e.account.as_deref() == Some(a.as_str()));
    }
    if let Some(n) = args.limit {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    if args.json {
        let text = serde_json::to_string_pretty(&entries)
            .map_err(|e| CommandError::new(format!("cannot encode the audit log: {e}")))?;
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("The audit log is empty.");
        return Ok(ExitCode::SUCCESS);
    }
    let color = global.use_color(std::io::stdout().is_terminal());
    for e in &entries {
        let who = match (&e.git_author, &e.user) {
            (Some(g), _) => g.clone(),
            (None, Some(u)) => u.clone(),
            (None, None) => "-".into(),
        };
        let result = if color {
            let code = if e.result == "ok" { "32" } else { "31" };
            format!("\x1b[{code}m{}\x1b[0m", e.result)
        } else {
            e.result.clone()
        };
        let mut line = format!(
            "{}  {:<16} {:<18} {}  by {who}",
            e.time.format("%Y-%m-%d %H:%M:%S"),
            e.action,
            e.account.as_deref().unwrap_or("-"),
            result
        );
        if let Some(h) = &e.plan_hash {
            line.push_str(&format!("  plan {h}"));
        }
        if let Some(t) = &e.api_token {
            line.push_str(&format!("  via API token {t}"));
        }
        if let Some(d) = &e.detail {
            line.push_str(&format!("  ({d})"));
        }
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
