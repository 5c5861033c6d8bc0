//! `adsctl plan`: read live state, diff it against the YAML, show (and optionally save) the plan.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::{CommandError, CommandResult, GlobalArgs};
use crate::connectors::Connector;
use crate::model::Address;
use crate::plan::live::ReadMode;
use crate::plan::{self, render, Plan, PlanOptions, GUARDRAIL_NAMES};
use crate::platforms as registry;
use crate::spec::{self, Project};
use crate::state;
use crate::store::{Location, Store};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
}

/// Options shared by `plan` and `apply` (without a plan file).
#[derive(Debug, Clone, clap::Args)]
pub struct PlanFlags {
    /// Limit the plan to this address and everything below it (repeatable).
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<Address>,
    /// Allow replacing resources whose immutable fields changed (their history is lost).
    #[arg(long)]
    pub allow_replace: bool,
    /// Let the plan exceed this account guardrail (repeatable).
    #[arg(long = "allow-guardrail", value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(GUARDRAIL_NAMES))]
    pub allow_guardrails: Vec<String>,
    /// Use the emulator (started in this process, its state kept in the state directory) instead of the real
    /// platforms, with its well-known credentials.
    #[arg(long)]
    pub emulator: bool,
    /// Longest single wait for a platform's rate limit (`90s`, `5m`, `unlimited`). Waits over a few seconds are
    /// always printed; a longer one stops the run with the time to run it again (a later run resumes).
    #[arg(long, default_value = "5m", value_parser = super::watch::parse_max_wait, value_name = "DURATION")]
    pub max_wait: super::watch::MaxWait,
}

impl PlanFlags {
    pub fn options(&self) -> PlanOptions {
        PlanOptions {
            allow_replace: self.allow_replace,
            allow_guardrails: self.allow_guardrails.iter().cloned().collect(),
            targets: self.targets.clone(),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config directory (holding adsctl.yaml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Save the plan (with a fingerprint of the live state) for `adsctl apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Shorthand for `--format json` (the versioned plan format, see docs/plan-format.md).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Read live state from the platforms (`--refresh=false` plans from the local cache).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// Also send the operations to the platforms' validation (dry run) and show the verdict per operation.
    #[arg(long)]
    pub validate: bool,
}

/// Load the config directory, printing spec diagnostics.
/// The project's token vault becomes the connectors' credential source (then the environment).
pub(super) fn load_project(global: &GlobalArgs, dir: &Path) -> Result<Project, CommandError> {
    let project = spec::load(dir).map_err(|errors| CommandError::spec(&errors, global.stderr_color()))?;
    crate::auth::connect::activate(&project.root);
    Ok(project)
}

/// How long a command waits for the state while another adsctl process has it open (the `watch` daemon during a
/// reconcile, an apply); `apply --lock-timeout` sets its own wait.
pub(super) const STATE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Says once, on stderr, what a command waits for.
pub(super) fn say_waiting(what: &Path) -> impl FnMut(Option<&str>) + '_ {
    say_waiting_for(what.display().to_string())
}

/// [`say_waiting`] for a state shown as text (a directory, or a PostgreSQL URL without its password).
pub(super) fn say_waiting_for(what: String) -> impl FnMut(Option<&str>) {
    move |holder: Option<&str>| {
        let by = match holder {
            Some(h) if state::lock_holder_is_daemon(h) => format!("the `adsctl watch` daemon's reconcile ({h})"),
            Some(h) => format!("another adsctl command ({h})"),
            None => "another adsctl command".to_string(),
        };
        eprintln!("waiting for the state in {what}: in use by {by}");
    }
}

/// The project's state store (sled in the state directory, or PostgreSQL with `ADSCTL_STATE_URL`), waiting up to
/// `wait` while another adsctl process has it.
pub(super) fn open_store_waiting(project_root: &Path, wait: std::time::Duration) -> Result<Store, CommandError> {
    let location = Location::of_project(project_root)?;
    let store = Store::open_waiting(&location, wait, &mut say_waiting_for(location.shown()))?;
    Ok(store)
}

pub(super) fn open_store(project_root: &Path) -> Result<Store, CommandError> {
    open_store_waiting(project_root, STATE_WAIT)
}

/// Connectors for the accounts a plan concerns.
pub(super) fn connectors(
    project: &Project,
    targets: &[Address],
) -> Result<BTreeMap<String, Arc<dyn Connector>>, CommandError> {
    let mut out = BTreeMap::new();
    for a in project.accounts.values() {
        if !targets.is_empty() && !targets.iter().any(|t| t.account == a.name) {
            continue;
        }
        out.insert(a.name.clone(), registry::connector_for(a)?);
    }
    Ok(out)
}

/// The connectors of a command: the real platforms', or (`--emulator`) the in-process emulator's, which runs
/// as long as the returned guard lives.
pub(super) type Connectors = BTreeMap<String, Arc<dyn Connector>>;
pub(super) fn connectors_for(
    rt: &tokio::runtime::Runtime,
    project: &mut Project,
    flags: &PlanFlags,
) -> Result<(Option<super::emulated::Emulated>, Connectors), CommandError> {
    if flags.emulator {
        let emu = super::emulated::Emulated::start(rt, project, &state::state_dir(&project.root))?;
        let conns = super::emulated::connectors(project, &flags.targets)?;
        Ok((Some(emu), conns))
    } else {
        Ok((None, connectors(project, &flags.targets)?))
    }
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::new(format!("could not start the async runtime: {e}")))
}

/// Plan a loaded project (what `plan` and `apply` without a file both do).
pub(super) fn make(
    rt: &tokio::runtime::Runtime,
    project: &Project,
    store: &Store,
    flags: &PlanFlags,
    mode: ReadMode,
    connectors: &BTreeMap<String, Arc<dyn Connector>>,
) -> Result<Plan, CommandError> {
    for t in &flags.targets {
        if !project.accounts.contains_key(&t.account) {
            return Err(CommandError::new(format!("--target {t}: no account `{}`", t.account))
                .with_hint("the first segment of an address is an account name from adsctl.yaml"));
        }
    }
    // audiences whose members come from another platform: read the sources first (as a data source)
    let resolved;
    let derived = |r: &crate::model::Resource| {
        r.fields.contains_key(crate::platforms::sources::FIELD)
            || r.fields.contains_key(crate::platforms::sources::SPEND_FIELD)
    };
    let project = if project.resources.iter().any(derived) {
        let mut p = project.clone();
        // the metrics series is in the state, local or on PostgreSQL
        crate::platforms::sources::resolve_spend(&mut p.resources, &p.accounts, store);
        rt.block_on(crate::platforms::sources::resolve(&mut p.resources, &p.accounts, |a| {
            connectors.get(&a.name).cloned().ok_or_else(|| {
                crate::connectors::ConnectorError::Config(format!("no connector for account `{}`", a.name))
            })
        }))
        .map_err(|e| {
            CommandError::new(e.to_string()).with_hint(
                "the source account must be reachable when planning (`adsctl auth status` shows its credentials); \
                 a --target plan must include it",
            )
        })?;
        resolved = p;
        &resolved
    } else {
        project
    };
    let mut plan = rt.block_on(plan::plan_project(project, store, connectors, &flags.options(), mode))?;
    // A target that matches nothing is a typo, not "no changes".
    for t in &flags.targets {
        let declared = project.resources.iter().any(|r| r.address.is_within(t));
        let planned = plan
            .accounts
            .iter()
            .filter(|a| a.account == t.account)
            .any(|a| a.changes.iter().any(|c| c.address.is_within(t)));
        if !declared && !planned {
            return Err(CommandError::new(format!(
                "--target {t} matches nothing: no resource of the YAML or of the account is at or below it"
            ))
            .with_hint(
                "addresses look like `acme/campaign/Spring Sale/ad_group/Shoes`; `adsctl state list` shows the \
                 managed ones",
            ));
        }
    }
    // What the apply will cost against each platform's daily quota.
    for a in plan
        .accounts
        .iter_mut()
        .filter(|a| a.changes.iter().any(|c| c.action.is_change()))
    {
        if let (Some(c), Some(account)) = (connectors.get(&a.account), project.accounts.get(&a.account)) {
            a.quota = c.quota_cost(account, &crate::apply::planned_operations(a));
        }
    }
    Ok(plan)
}

/// Print a plan in a format (what `plan` shows, and `show` shows again from a plan file).
pub(super) fn print_plan(global: &GlobalArgs, plan: &Plan, format: Format) -> Result<(), CommandError> {
    match format {
        Format::Json => {
            let json = serde_json::to_string_pretty(plan)
                .map_err(|e| CommandError::new(format!("could not serialise the plan: {e}")))?;
            println!("{json}");
        }
        Format::Markdown => print!("{}", render::markdown(plan)),
        Format::Human => {
            if !global.quiet || plan.has_changes() || plan.is_blocked() {
                print!(
                    "{}",
                    render::human(plan, global.use_color(std::io::stdout().is_terminal()))
                );
            }
        }
    }
    Ok(())
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    crate::connectors::wait::set_max_wait(args.flags.max_wait.0);
    let mut project = load_project(global, &args.dir)?;
    let store = open_store(&project.root)?;
    let rt = runtime()?;
    let mode = if args.refresh {
        ReadMode::Incremental
    } else {
        ReadMode::CacheOnly
    };
    let (_emulator, conns) = connectors_for(&rt, &mut project, &args.flags)?;
    let plan = make(&rt, &project, &store, &args.flags, mode, &conns)?;

    let format = if args.json { Format::Json } else { args.format };
    print_plan(global, &plan, format)?;

    if args.validate && !plan.is_blocked() {
        let verdicts = rt.block_on(crate::apply::validate(&plan, &project.accounts, &conns));
        let mut bad = 0;
        eprintln!("Validation by the platforms (dry run):");
        for v in &verdicts {
            if !v.ok {
                bad += 1;
            }
            eprintln!("  {} {}: {}", if v.ok { "✓" } else { "✗" }, v.address, v.verdict);
        }
        if bad > 0 {
            return Err(
                CommandError::new(format!("{bad} operation(s) were rejected by the platform's validation"))
                    .with_hint("fix the YAML and plan again; nothing was changed"),
            );
        }
    }

    if plan.is_blocked() {
        return Err(CommandError::new(
            "the plan is blocked (see above); nothing can be applied",
        ));
    }
    if let Some(out) = &args.out {
        plan::file::save(&plan, out)?;
        if !global.quiet {
            eprintln!(
                "Saved the plan to {}. Apply exactly this plan with: adsctl apply {}",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
