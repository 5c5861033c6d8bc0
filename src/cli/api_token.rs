//! `adsctl api-token`: the bearer tokens of the daemon's HTTP API ([`crate::apitoken`]). A running
//! `adsctl watch` sees a created or revoked token from its next request on.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::apitoken::{Role, TokenError, TokenStore};
use crate::audit::{AuditEntry, AuditLog};
use crate::auth::{process_env, state_dir};

use super::{CommandError, CommandResult, GlobalArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ApiTokenCommand,
    /// The config directory (holding adsctl.yaml); the tokens live in its state directory.
    #[arg(long, default_value = ".", global = true)]
    pub dir: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum ApiTokenCommand {
    /// Create a token and print it once (only its SHA-256 is stored).
    Create {
        /// The token's name, written in the audit log for every action taken with it.
        name: String,
        /// `viewer` reads (status, plan, runs); `operator` also acts (reconcile now).
        #[arg(long, value_enum)]
        role: Role,
    },
    /// List the tokens: names, roles and creation times (never the tokens).
    List {
        /// Print JSON (one array).
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: the daemon refuses it from its next request on.
    Revoke {
        /// The token's name.
        name: String,
    },
}

impl From<TokenError> for CommandError {
    fn from(e: TokenError) -> Self {
        CommandError::new(e.to_string()).with_hint(e.hint())
    }
}

pub fn run(_global: &GlobalArgs, args: &Args) -> CommandResult {
    // on PostgreSQL when the project's state is (ADSCTL_STATE_URL or `state:` in adsctl.yaml)
    crate::store::Location::of_project(&args.dir)?;
    let state = state_dir(&args.dir, &process_env());
    let store = TokenStore::at_state_dir(&state);
    let audit = |action: &str, name: &str, role: Option<Role>| {
        let mut detail = format!("token {name}");
        if let Some(r) = role {
            detail.push_str(&format!(" ({})", r.as_str()));
        }
        let entry = AuditEntry::new(action).detail(&detail).in_repo(Some(&args.dir));
        AuditLog::at_state_dir(&state).append(entry)
    };
    match &args.command {
        ApiTokenCommand::Create { name, role } => {
            let token = store.create(name, *role)?;
            audit("api_token.create", name, Some(*role))?;
            eprintln!(
                "Created the {} token {name:?}. It is shown only now; send it as `Authorization: Bearer <token>`:",
                role.as_str()
            );
            println!("{}", token.expose());
        }
        ApiTokenCommand::List { json } => {
            let tokens = store.read()?;
            if *json {
                let list: Vec<_> = tokens
                    .iter()
                    .map(|(name, t)| serde_json::json!({"name": name, "role": t.role, "created": t.created}))
                    .collect();
                let text = serde_json::to_string_pretty(&list)
                    .map_err(|e| CommandError::new(format!("cannot encode the token list: {e}")))?;
                println!("{text}");
            } else if tokens.is_empty() {
                println!("No API token: the daemon serves its API on loopback only, without a token.");
            } else {
                println!("{:<24} {:<9} CREATED", "NAME", "ROLE");
                for (name, t) in &tokens {
                    println!(
                        "{name:<24} {:<9} {}",
                        t.role.as_str(),
                        t.created.format("%Y-%m-%d %H:%M:%S UTC")
                    );
                }
            }
        }
        ApiTokenCommand::Revoke { name } => {
            store.revoke(name)?;
            audit("api_token.revoke", name, None)?;
            println!("Revoked the token {name:?}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
