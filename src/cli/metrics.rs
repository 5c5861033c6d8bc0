//! `adsctl metrics`: pull performance data into the local daily series (incrementally) and report it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use tracing::Instrument;

use super::emulated::{self, Emulated, Persist};
use super::plan::{load_project, open_store, runtime};
use super::{CommandError, CommandResult, GlobalArgs};
use crate::connectors::{Connector, DateRange};
use crate::metrics::report::AccountInput;
use crate::metrics::{self, render, Bucket, Level, MetricsError, Report, SeriesStore, SyncOptions};
use crate::model::Account;
use crate::platforms as registry;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config directory (holding adsctl.yaml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Only this account (repeatable; default: every account).
    #[arg(long = "account", value_name = "NAME")]
    pub accounts: Vec<String>,
    /// First day (YYYY-MM-DD), with --until.
    #[arg(long, requires = "until", conflicts_with = "last")]
    pub since: Option<NaiveDate>,
    /// Last day (YYYY-MM-DD, inclusive), with --since.
    #[arg(long, requires = "since", conflicts_with = "last")]
    pub until: Option<NaiveDate>,
    /// The last N days up to yesterday (7d, 30d, 90d, …; default 7d).
    #[arg(long, value_name = "Nd", value_parser = parse_last)]
    pub last: Option<u32>,
    /// Report per account, campaign, ad group (Meta: ad set) or ad; `arm`: per arm of each declared A/B test
    /// (Meta split test cell), its ad sets summed.
    #[arg(long, value_enum, default_value_t = Level::Campaign)]
    pub level: Level,
    /// Bucket rows by day, ISO week, month, or one total over the range.
    #[arg(long, value_enum, default_value_t = Bucket::Total)]
    pub by: Bucket,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of standard output (`--format html` without it writes
    /// `metrics-SINCE-UNTIL.html`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Days whose conversions may still change: they are pulled again until they are this old.
    #[arg(long, env = "ADSCTL_METRICS_LOOKBACK_DAYS", default_value_t = metrics::series::DEFAULT_LOOKBACK_DAYS)]
    pub lookback_days: u32,
    /// Pull missing days from the platforms (`--refresh=false` reports from the local series only).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// Use the emulator (started in this process from the state directory's emulator state) instead of the
    /// real platforms, with its well-known credentials.
    #[arg(long)]
    pub emulator: bool,
}

fn parse_last(s: &str) -> Result<u32, String> {
    let n = s
        .strip_suffix('d')
        .ok_or_else(|| format!("`{s}`: write a number of days like 7d, 30d or 90d"))?;
    match n.parse::<u32>() {
        Ok(n) if (1..=1110).contains(&n) => Ok(n),
        _ => Err(format!("`{s}`: between 1d and 1110d")),
    }
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    let mut project = load_project(global, &args.dir)?;
    let rt = runtime()?;
    // Read-only: the emulator's state is restored, never saved.
    let _emulator = if args.emulator && args.refresh {
        Some(Emulated::for_project(&rt, &mut project, Persist::No)?)
    } else {
        None
    };
    let today = Utc::now().date_naive();
    let range = match (args.since, args.until) {
        (Some(since), Some(until)) => DateRange { since, until },
        _ => {
            let n = args.last.unwrap_or(7);
            let until = today - Duration::days(1);
            DateRange {
                since: until - Duration::days(i64::from(n) - 1),
                until,
            }
        }
    };
    if range.until < range.since {
        return Err(MetricsError::Range {
            since: range.since,
            until: range.until,
        }
        .into());
    }
    for a in &args.accounts {
        if !project.accounts.contains_key(a) {
            let known: Vec<&str> = project.accounts.keys().map(String::as_str).collect();
            return Err(
                CommandError::new(format!("--account {a}: no such account in adsctl.yaml"))
                    .with_hint(format!("accounts: {}", known.join(", "))),
            );
        }
    }
    let accounts: Vec<&Account> = project
        .accounts
        .values()
        .filter(|a| args.accounts.is_empty() || args.accounts.contains(&a.name))
        .filter(|a| crate::platforms::home(a.platform).is_some())
        .collect();
    let store = open_store(&project.root)?;
    let level = args.level.pull_level();
    if args.refresh {
        let opts = SyncOptions {
            today,
            lookback_days: args.lookback_days,
        };
        let mut conns: Vec<(&Account, Arc<dyn Connector>)> = Vec::new();
        for a in &accounts {
            let made = if args.emulator {
                emulated::connector(a)
            } else {
                registry::connector_for(a)
            };
            let c = made.map_err(|e| CommandError::from(e).context(format_args!("account `{}`", a.name)))?;
            conns.push((a, c));
        }
        let results = rt.block_on(futures_util::future::join_all(conns.iter().map(|(a, c)| {
            metrics::sync_account(c.as_ref(), a, &store as &dyn SeriesStore, level, range, &opts)
                .instrument(crate::connectors::trace::account(a))
        })));
        for ((a, _), r) in conns.iter().zip(results) {
            let r = r?;
            tracing::debug!(account = %a.name, pulls = r.pulled.len(), days = r.days_stored, "metrics synced");
        }
    }
    let mut inputs = Vec::new();
    for a in &accounts {
        let addresses = metrics::addresses(&store, &project.resources, &a.name)?;
        let days = store.days(&a.name, level, range.since, range.until)?;
        let (days, addresses) = metrics::arms::for_level(args.level, &project.resources, &a.name, days, addresses);
        inputs.push(AccountInput {
            account: a,
            addresses,
            days,
        });
    }
    let report = Report::build(&inputs, range, args.level, args.by);
    let text = match args.format {
        Format::Table => render::table(&report),
        Format::Csv => render::csv(&report).map_err(MetricsError::Render)?,
        Format::Json => render::json(&report).map_err(MetricsError::Render)?,
        Format::Html => render::html(&report),
    };
    let out = match (&args.out, args.format) {
        (Some(p), _) => Some(p.clone()),
        (None, Format::Html) => Some(PathBuf::from(format!("metrics-{}-{}.html", range.since, range.until))),
        (None, _) => None,
    };
    match out {
        Some(path) => {
            std::fs::write(&path, text).map_err(|e| {
                CommandError::new(format!("could not write {}: {e}", path.display()))
                    .with_hint("check that the directory exists and is writable")
            })?;
            if !global.quiet {
                eprintln!("Wrote {}", path.display());
            }
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
