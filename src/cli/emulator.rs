//! `adsctl emulator`: run the local emulator of every platform until SIGINT/SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{CommandError, CommandResult, GlobalArgs};
use crate::emulator::{Emulator, EmulatorConfig, FaultSpec, SeedFile};

#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "The first line printed is the bound URL. Admin API under /_emulator/ (reset, dump, \
requests, faults).\n\nSeed file (YAML):\n  google_ads:\n    customers:\n      - { customer_id: \"1234567890\", \
currency: USD, time_zone: America/New_York }\n  meta:\n    ad_accounts:\n      - { id: act_1234567890, currency: USD, \
timezone_name: America/Los_Angeles }"
)]
pub struct Args {
    /// Loopback address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4555")]
    pub listen: SocketAddr,
    /// Persist the state to this JSON file periodically and on shutdown (restored at start when present).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Seed file (YAML): accounts, credentials and settings per platform (a section per platform).
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Faults to inject, e.g. "5xx=0.05,429=0.05,timeout=0.02,reset=0.02,lost=0.05,lag=0.05,latency=20ms,seed=7".
    #[arg(long)]
    pub faults: Option<String>,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_ttl: u64,
    /// Seconds a Meta ad stays in review.
    #[arg(long, default_value_t = 2)]
    pub review_delay: u64,
    /// Seed of the synthetic metrics.
    #[arg(long, default_value_t = 0)]
    pub metric_seed: u64,
    /// Google Ads daily operation allowance (basic access: 15000); unlimited when absent.
    #[arg(long)]
    pub google_daily_operations: Option<u64>,
    /// Google Ads requests per second per customer before RESOURCE_EXHAUSTED; unlimited when absent.
    #[arg(long)]
    pub google_requests_per_second: Option<u32>,
}

pub fn run(_global: &GlobalArgs, args: &Args) -> CommandResult {
    let mut config = EmulatorConfig {
        listen: args.listen,
        data: args.data.clone(),
        token_ttl: Duration::from_secs(args.token_ttl),
        review_delay: Duration::from_secs(args.review_delay),
        metric_seed: args.metric_seed,
        ..EmulatorConfig::default()
    };
    config.rate_limits.google_ads.daily_operations = args.google_daily_operations;
    config.rate_limits.google_ads.requests_per_second = args.google_requests_per_second;
    if let Some(spec) = &args.faults {
        config.faults = FaultSpec::parse(spec)?;
    }
    if let Some(path) = &args.seed {
        config.seed = SeedFile::load(path)?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::new(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let handle = Emulator::start(config).await?;
        // listen for signals before the URL tells anyone the emulator is up: a SIGTERM right after it must
        // still save the state
        let signals = Signals::install();
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", handle.url());
            let _ = out.flush();
        }
        signals.wait().await;
        let saved = args.data.clone();
        handle.shutdown().await?;
        if let Some(p) = saved {
            eprintln!("emulator: state saved to {}", p.display());
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGTERM (unix) and Ctrl-C, registered up front.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    async fn wait(self) {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        if let Some(mut term) = self.term {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}
