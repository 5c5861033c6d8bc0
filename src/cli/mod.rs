//! The command line: one file per subcommand. `main.rs` only calls [`main`].

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod api_token;
mod apply;
pub mod audit;
pub mod auth;
mod completions;
pub mod emulated;
mod emulator;
mod error;
mod fmt;
mod import;
mod man;
mod metrics;
mod plan;
mod schema;
mod show;
mod state;
mod validate;
mod watch;

pub use error::{CommandError, CommandResult};

/// Global flags every subcommand shares.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// When to use colour (NO_COLOR is respected with `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// More log output (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl GlobalArgs {
    /// Whether to colour output written to a stream that is (or is not) a terminal.
    pub fn use_color(&self, is_terminal: bool) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    /// Whether to colour what is written to stderr (diagnostics).
    pub fn stderr_color(&self) -> bool {
        self.use_color(std::io::IsTerminal::is_terminal(&std::io::stderr()))
    }
}

#[derive(Debug, Parser)]
#[command(name = "adsctl", version, about = "Plan/apply for advertising accounts", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config directory offline.
    Validate(validate::Args),
    /// Connect platform accounts and keep their credentials healthy.
    Auth(auth::Args),
    /// The audit log: auth events and applies.
    #[command(name = "history")]
    Audit(audit::Args),
    /// Rewrite the YAML files in the canonical style (comments and values kept); `--check` only reports.
    Fmt(fmt::Args),
    /// Write the JSON Schemas of adsctl.yaml and resource files (for editors).
    Schema(schema::Args),
    /// Show what would change: the YAML against the live accounts.
    Plan(plan::Args),
    /// Print a saved plan again (as `plan` printed it: human, Markdown or JSON).
    Show(show::Args),
    /// Apply a saved plan exactly, or plan and apply after confirmation.
    Apply(apply::Args),
    /// Inspect or edit the local state (id map, apply records).
    State(state::Args),
    /// Write an account's live campaigns as YAML (one file per campaign).
    Import(import::Args),
    /// Run the local API emulator of every platform (wire-faithful, on loopback, with fault injection).
    Emulator(emulator::Args),
    /// Bearer tokens of the daemon's HTTP API (viewer or operator), stored hashed.
    ApiToken(api_token::Args),
    /// Keep the accounts converged: reconcile on file changes and on a timer, serve health, status and metrics.
    Watch(watch::Args),
    /// Pull performance data (incrementally, into the local daily series) and report it across platforms.
    Metrics(metrics::Args),
    /// Print the shell completion script (bash, zsh, fish, powershell).
    Completions(completions::Args),
    /// Write the man pages (one per command and subcommand).
    Man(man::Args),
}

impl Command {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Validate(_) => "validate",
            Command::Auth(_) => "auth",
            Command::Audit(_) => "history",
            Command::Fmt(_) => "fmt",
            Command::Schema(_) => "schema",
            Command::Plan(_) => "plan",
            Command::Show(_) => "show",
            Command::Apply(_) => "apply",
            Command::State(_) => "state",
            Command::Import(_) => "import",
            Command::Emulator(_) => "emulator",
            Command::Watch(_) => "watch",
            Command::ApiToken(_) => "api-token",
            Command::Metrics(_) => "metrics",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Lock files name their holder (`… by adsctl watch`), so that a refused command says who holds the state.
    crate::state::set_process_name(&format!("adsctl {}", cli.command.name()));
    // `watch` installs its own logger (info by default, `--log-format json`), redacting like this one.
    if !matches!(cli.command, Command::Watch(_)) {
        crate::secret::init_logging(cli.global.verbose, cli.global.quiet);
    }
    // A CLI command is one trace (when traces are exported); the daemon's reconciles are each their own.
    let root = match cli.command {
        Command::Watch(_) => tracing::Span::none(),
        _ => crate::otel::command_span(cli.command.name()),
    };
    let result = root.in_scope(|| match &cli.command {
        Command::Validate(args) => validate::run(&cli.global, args),
        Command::Auth(args) => auth::run(&cli.global, args),
        Command::Audit(args) => audit::run(&cli.global, args),
        Command::Fmt(args) => fmt::run(&cli.global, args),
        Command::Schema(args) => schema::run(&cli.global, args),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Show(args) => show::run(&cli.global, args),
        Command::Apply(args) => apply::run(&cli.global, args),
        Command::State(args) => state::run(&cli.global, args),
        Command::Import(args) => import::run(&cli.global, args),
        Command::Emulator(args) => emulator::run(&cli.global, args),
        Command::Watch(args) => watch::run(&cli.global, args),
        Command::ApiToken(args) => api_token::run(&cli.global, args),
        Command::Metrics(args) => metrics::run(&cli.global, args),
        Command::Completions(args) => completions::run(&cli.global, args),
        Command::Man(args) => man::run(&cli.global, args),
    });
    drop(root);
    // The spans still queued for the trace export (if any) are sent before the process exits.
    crate::otel::shutdown();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", e.report());
            ExitCode::from(e.exit_code)
        }
    }
}
