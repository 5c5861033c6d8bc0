//! `adsctl auth …`: connect accounts, inspect and maintain their credentials.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::auth::{self, project, Auth, LoginOptions, MasterKey, StatusRow};
use crate::model::Account;
use crate::secret::Secret;

use super::emulated::{Emulated, Persist};
use super::{CommandError, CommandResult, GlobalArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: AuthCommand,
}

/// Where the project is.
#[derive(Debug, Clone, clap::Args)]
pub struct DirArg {
    /// The config directory (holding adsctl.yaml).
    #[arg(long, default_value = ".", global = true)]
    pub dir: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Connect an account: OAuth in the browser, tokens stored encrypted.
    Login {
        account: String,
        /// Do not open a browser; paste the URL you are redirected to instead.
        #[arg(long)]
        no_browser: bool,
        /// Seconds to wait for the sign-in.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Store a token read from standard input (Meta system-user token, or a Google refresh token).
    SetToken {
        account: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// One row per account: credential source, status, expiry, last sync / validation / error.
    Status {
        /// The config directory (same as --dir).
        #[arg(value_name = "DIR")]
        path: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The credentials `--emulator` uses: the emulator's well-known ones (source `emulator`), not the vault's.
        #[arg(long)]
        emulator: bool,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Check the credentials against the platform (read-only calls).
    Validate {
        account: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Validate the emulator's well-known credentials against the emulator (started in this process from the
        /// state directory's emulator state) instead of the real platform.
        #[arg(long)]
        emulator: bool,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Refresh the access token (Google) or re-exchange the long-lived token (Meta) now.
    Refresh {
        account: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Delete the account's stored tokens.
    Logout {
        account: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Re-encrypt the token vault under a new master key.
    RotateKey {
        /// Read the new key from standard input (required when the key comes from ADSCTL_MASTER_KEY).
        #[arg(long)]
        new_key_stdin: bool,
        /// Drop retired keys from the key file (vaults of other projects sealed with them become unreadable).
        #[arg(long)]
        forget_old: bool,
        #[command(flatten)]
        dir: DirArg,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::new(format!("cannot start the async runtime: {e}")))
}

fn load(global: &GlobalArgs, dir: &DirArg) -> Result<crate::spec::Project, CommandError> {
    crate::spec::load(&dir.dir).map_err(|errors| CommandError::spec(&errors, global.stderr_color()))
}

fn open(global: &GlobalArgs, dir: &DirArg) -> Result<(Auth, Vec<Account>), CommandError> {
    let project = load(global, dir)?;
    let a = Auth::for_project(&project.root);
    let accounts: Vec<Account> = project.accounts.into_values().collect();
    auth::install(a.clone());
    Ok((a, accounts))
}

/// `--emulator`: the auth stage with the emulator's well-known credentials as its only source (the vault is not
/// read), the project's state directory as usual. With `rt`, the emulator is started in it (read-only: its
/// state is restored, never saved) and every account points at it.
fn open_emulated(
    global: &GlobalArgs,
    dir: &DirArg,
    rt: Option<&tokio::runtime::Runtime>,
) -> Result<(Auth, Vec<Account>, Option<Emulated>), CommandError> {
    let mut project = load(global, dir)?;
    let emulator = match rt {
        Some(rt) => Some(Emulated::for_project(rt, &mut project, Persist::No)?),
        None => None,
    };
    let a = Auth::with_env(&project.root, super::emulated::auth_env());
    let accounts: Vec<Account> = project.accounts.into_values().collect();
    auth::install(a.clone());
    Ok((a, accounts, emulator))
}

fn account<'a>(accounts: &'a [Account], name: &str) -> Result<&'a Account, CommandError> {
    Ok(project::find(accounts, name)?)
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    match &args.command {
        AuthCommand::Login {
            account: name,
            no_browser,
            timeout,
            dir,
        } => {
            let (a, accounts) = open(global, dir)?;
            let acct = account(&accounts, name)?;
            let no_browser = *no_browser;
            let pasted = no_browser.then(|| {
                let (tx, rx) = tokio::sync::mpsc::channel(4);
                std::thread::spawn(move || {
                    let stdin = std::io::stdin();
                    for line in stdin.lock().lines() {
                        let Ok(line) = line else { break };
                        crate::secret::register(line.trim());
                        if tx.blocking_send(line).is_err() {
                            break;
                        }
                    }
                });
                rx
            });
            let opts = LoginOptions {
                timeout: Duration::from_secs(*timeout),
                on_url: Box::new(move |url: &str| {
                    let mut err = std::io::stderr();
                    let _ = writeln!(err, "Open this URL in a browser to sign in:\n\n  {url}\n");
                    if no_browser {
                        let _ = writeln!(
                            err,
                            "After approving, paste here the whole URL the browser was sent to (it starts with http://127.0.0.1):"
                        );
                    } else if open_browser(url) {
                        let _ = writeln!(err, "(a browser was opened; waiting for the sign-in)");
                    } else {
                        let _ = writeln!(err, "(no browser could be opened; waiting for the sign-in)");
                    }
                }),
                pasted,
            };
            let kind = runtime()?.block_on(a.login(acct, opts))?;
            let what = kind.describe();
            println!(
                "Connected {} ({}): {what} stored in the encrypted vault.",
                acct.name, acct.platform
            );
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::SetToken { account: name, dir } => {
            let (a, accounts) = open(global, dir)?;
            let acct = account(&accounts, name)?;
            let mut input = String::new();
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("Paste the token, then press Enter:");
                stdin
                    .lock()
                    .read_line(&mut input)
                    .map_err(|e| CommandError::new(format!("cannot read standard input: {e}")))?;
            } else {
                stdin
                    .lock()
                    .read_to_string(&mut input)
                    .map_err(|e| CommandError::new(format!("cannot read standard input: {e}")))?;
            }
            let token = Secret::new(input.trim().to_string());
            a.set_token(acct, token)?;
            println!("Stored the token of {} in the encrypted vault.", acct.name);
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Status {
            path,
            json,
            emulator,
            dir,
        } => {
            let dir = match path {
                Some(p) => DirArg { dir: p.clone() },
                None => dir.clone(),
            };
            // Status makes no platform call: under --emulator it shows the credentials the emulator is reached
            // with, labelled as such.
            let (a, accounts) = if *emulator {
                let (a, accounts, _) = open_emulated(global, &dir, None)?;
                (a, accounts)
            } else {
                open(global, &dir)?
            };
            let rows = a.status(&accounts);
            let source_label = emulator.then_some(EMULATOR_SOURCE);
            if *json {
                let mut value = serde_json::to_value(&rows)
                    .map_err(|e| CommandError::new(format!("cannot encode the status: {e}")))?;
                if let (Some(label), Some(rows)) = (source_label, value.as_array_mut()) {
                    for row in rows.iter_mut().filter(|r| !r["source"].is_null()) {
                        row["source"] = serde_json::Value::from(label);
                    }
                }
                let text = serde_json::to_string_pretty(&value)
                    .map_err(|e| CommandError::new(format!("cannot encode the status: {e}")))?;
                println!("{text}");
            } else {
                print_status(&rows, source_label, global.use_color(std::io::stdout().is_terminal()));
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Validate {
            account: name,
            json,
            emulator,
            dir,
        } => {
            let rt = runtime()?;
            let (a, accounts, _emulator) = if *emulator {
                open_emulated(global, dir, Some(&rt))?
            } else {
                let (a, accounts) = open(global, dir)?;
                (a, accounts, None)
            };
            let acct = account(&accounts, name)?;
            let v = rt.block_on(a.validate(acct))?;
            if *json {
                let text = serde_json::to_string_pretty(&v)
                    .map_err(|e| CommandError::new(format!("cannot encode the result: {e}")))?;
                println!("{text}");
            } else {
                println!(
                    "{}: credentials valid — {} ({}, {})",
                    acct.name,
                    v.name.as_deref().unwrap_or("unnamed"),
                    v.currency.as_deref().unwrap_or("?"),
                    v.time_zone.as_deref().unwrap_or("?")
                );
                if let Some(e) = v.expires_at {
                    println!("  token expires {}", e.format("%Y-%m-%d %H:%M UTC"));
                }
                for w in &v.warnings {
                    println!("  warning: {w}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Refresh { account: name, dir } => {
            let (a, accounts) = open(global, dir)?;
            let acct = account(&accounts, name)?;
            let c = runtime()?.block_on(a.refresh(acct))?;
            let until = c.kind.expires_at();
            match until {
                Some(t) => println!(
                    "Refreshed {}: valid until {}.",
                    acct.name,
                    t.format("%Y-%m-%d %H:%M UTC")
                ),
                None => println!("{}: nothing to refresh (the token does not expire).", acct.name),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Logout { account: name, dir } => {
            let (a, accounts) = open(global, dir)?;
            let acct = account(&accounts, name)?;
            if a.logout(&acct.name)? {
                println!("Deleted the stored tokens of {}.", acct.name);
            } else {
                println!("{} had no stored tokens.", acct.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::RotateKey {
            new_key_stdin,
            forget_old,
            dir,
        } => {
            let (a, _) = open(global, dir)?;
            let new = if *new_key_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(|e| CommandError::new(format!("cannot read standard input: {e}")))?;
                crate::secret::register(line.trim());
                Some(MasterKey::parse(&line).ok_or_else(|| {
                    CommandError::new("the key on standard input is not 32 bytes (64 hex digits or base64)")
                })?)
            } else {
                None
            };
            let (n, id) = a.rotate_key(new, *forget_old)?;
            println!("Re-encrypted {n} account(s) under master key {id}.");
            if std::env::var_os(auth::key::ENV_MASTER_KEY).is_some() {
                println!("Now put the new key in {}.", auth::key::ENV_MASTER_KEY);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".into())
}

/// How `auth status --emulator` names the source of the emulator's credentials.
const EMULATOR_SOURCE: &str = "emulator";

/// The status table; `source_label` replaces the source of every account that has credentials.
fn print_status(rows: &[StatusRow], source_label: Option<&str>, color: bool) {
    let header = [
        "ACCOUNT",
        "PLATFORM",
        "SOURCE",
        "STATUS",
        "EXPIRES",
        "LAST SYNC",
        "LAST VALIDATION",
        "LAST ERROR",
    ];
    let table: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.account.clone(),
                r.platform.to_string(),
                match (r.source, source_label) {
                    (Some(_), Some(label)) => label.to_string(),
                    (Some(s), None) => s.to_string(),
                    (None, _) => "-".into(),
                },
                r.status.as_str().to_string(),
                if r.never_expires {
                    "never".to_string()
                } else {
                    when(r.expires_at)
                },
                when(r.last_sync),
                when(r.last_validation),
                r.last_error.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.len());
    for row in &table {
        for (w, c) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s
    };
    println!("{}", line(&header.map(String::from)));
    for (row, r) in table.iter().zip(rows) {
        let mut text = line(row);
        if color {
            let code = match r.status {
                auth::TokenStatus::Active => "32",
                auth::TokenStatus::Expiring => "33",
                _ => "31",
            };
            text = text.replacen(
                r.status.as_str(),
                &format!("\x1b[{code}m{}\x1b[0m", r.status.as_str()),
                1,
            );
        }
        println!("{text}");
    }
    for r in rows.iter().filter(|r| r.hint.is_some()) {
        if let Some(h) = &r.hint {
            println!("hint ({}): {h}", r.account);
        }
    }
}

/// Open `url` in a browser: `$BROWSER` if set, else the desktop's opener when there is a desktop.
fn open_browser(url: &str) -> bool {
    use std::process::{Command, Stdio};
    let spawn = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .is_ok()
    };
    if let Some(b) = std::env::var("BROWSER").ok().filter(|b| !b.trim().is_empty()) {
        return spawn(b.trim(), &[]);
    }
    if cfg!(target_os = "macos") {
        return spawn("open", &[]);
    }
    if cfg!(windows) {
        return spawn("rundll32", &["url.dll,FileProtocolHandler"]);
    }
    let desktop = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    desktop && spawn("xdg-open", &[])
}
