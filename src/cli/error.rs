//! The CLI's error: what went wrong, a hint, and the exit code, the way jj's `CommandError` does it. Every stage
//! error converts into it with `From` (its message and its own hint), so a command's body propagates them with
//! `?`; only errors that need words of the command's own (`could not serialise the plan: …`) are built by hand.

use crate::apply::lease::LeaseError;
use crate::apply::ApplyError;
use crate::audit::AuditError;
use crate::auth::AuthError;
use crate::connectors::ConnectorError;
use crate::import::ImportError;
use crate::metrics::MetricsError;
use crate::plan::file::PlanFileError;
use crate::plan::{PlanError, PlanErrors};
use crate::reconcile::engine::OpenError;
use crate::reconcile::{DaemonError, ServerError};
use crate::spec::SpecErrors;
use crate::state::{LockError, StateError};

/// A user-facing error: what went wrong, a hint, and the exit code.
#[derive(Debug)]
pub struct CommandError {
    pub message: String,
    pub hint: Option<String>,
    pub exit_code: u8,
    /// Diagnostics already rendered (several problems, each with its hint): written to stderr as they are,
    /// instead of `message` and `hint`.
    pub rendered: Option<String>,
}

pub type CommandResult = Result<std::process::ExitCode, CommandError>;

impl CommandError {
    pub fn new(message: impl Into<String>) -> Self {
        CommandError {
            message: message.into(),
            hint: None,
            exit_code: 1,
            rendered: None,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// The hint when there is one.
    pub fn with_hint_opt(mut self, hint: Option<impl Into<String>>) -> Self {
        self.hint = hint.map(Into::into);
        self
    }
    /// The same error, exiting with `code`.
    pub fn with_exit_code(mut self, code: u8) -> Self {
        self.exit_code = code;
        self
    }
    /// Put `context` before the message (`account `x`: …`), keeping the hint.
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
    /// An error already printed (diagnostics); only the exit code is left.
    pub fn silent(exit_code: u8) -> Self {
        CommandError {
            message: String::new(),
            hint: None,
            exit_code,
            rendered: None,
        }
    }
    /// Diagnostics rendered in full (`text` ends with a newline), printed as they are.
    pub fn rendered(text: impl Into<String>, exit_code: u8) -> Self {
        CommandError {
            rendered: Some(text.into()),
            ..CommandError::silent(exit_code)
        }
    }

    /// The diagnostics of a config directory that did not load, rendered for stderr (coloured when `color`),
    /// the way `validate` prints them.
    pub fn spec(errors: &SpecErrors, color: bool) -> Self {
        CommandError::rendered(errors.render(color), 1)
    }

    /// What the user sees on stderr.
    pub fn report(&self) -> String {
        if let Some(text) = &self.rendered {
            return text.clone();
        }
        if self.message.is_empty() {
            return String::new();
        }
        match &self.hint {
            Some(h) => format!("error: {}\nhint: {h}\n", self.message),
            None => format!("error: {}\n", self.message),
        }
    }
}

impl From<ConnectorError> for CommandError {
    fn from(e: ConnectorError) -> Self {
        let hint = e.hint().map(str::to_string);
        CommandError::new(e.to_string()).with_hint_opt(hint)
    }
}

impl From<StateError> for CommandError {
    fn from(e: StateError) -> Self {
        let hint = e.hint();
        CommandError::new(e.to_string()).with_hint_opt(hint)
    }
}

impl From<LockError> for CommandError {
    fn from(e: LockError) -> Self {
        let hint = e.hint();
        CommandError::new(e.to_string()).with_hint(hint)
    }
}

impl From<LeaseError> for CommandError {
    fn from(e: LeaseError) -> Self {
        let hint = e.hint();
        CommandError::new(e.to_string()).with_hint(hint)
    }
}

impl From<PlanError> for CommandError {
    fn from(e: PlanError) -> Self {
        let hint = e.hint();
        CommandError::new(e.to_string()).with_hint_opt(hint)
    }
}

/// Every problem of a plan, each with its hint (indented under it).
impl From<PlanErrors> for CommandError {
    fn from(e: PlanErrors) -> Self {
        let mut text = String::new();
        for err in &e.0 {
            text.push_str(&format!("error: {err}\n"));
            if let Some(h) = err.hint() {
                text.push_str(&format!("  hint: {h}\n"));
            }
        }
        CommandError::rendered(text, 1)
    }
}

impl From<PlanFileError> for CommandError {
    fn from(e: PlanFileError) -> Self {
        CommandError::new(e.to_string()).with_hint(e.hint())
    }
}

impl From<ApplyError> for CommandError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::State(s) => s.into(),
            other => CommandError::new(other.to_string()),
        }
    }
}

impl From<AuthError> for CommandError {
    fn from(e: AuthError) -> Self {
        // an empty hint is none
        let hint = Some(e.hint()).filter(|h| !h.is_empty());
        CommandError::new(e.to_string()).with_hint_opt(hint)
    }
}

impl From<AuditError> for CommandError {
    fn from(e: AuditError) -> Self {
        CommandError::new(e.to_string()).with_hint(e.hint())
    }
}

impl From<ImportError> for CommandError {
    fn from(e: ImportError) -> Self {
        CommandError::new(e.to_string()).with_hint(e.hint())
    }
}

impl From<MetricsError> for CommandError {
    fn from(e: MetricsError) -> Self {
        let hint = e.hint();
        CommandError::new(e.to_string()).with_hint_opt(hint)
    }
}

impl From<OpenError> for CommandError {
    fn from(e: OpenError) -> Self {
        let hint = e.hint();
        CommandError::new(e.to_string()).with_hint_opt(hint)
    }
}

impl From<ServerError> for CommandError {
    fn from(e: ServerError) -> Self {
        CommandError::new(e.to_string()).with_hint(e.hint())
    }
}

impl From<DaemonError> for CommandError {
    fn from(e: DaemonError) -> Self {
        CommandError::new(e.to_string()).with_hint(e.hint())
    }
}

impl From<crate::emulator::EmulatorError> for CommandError {
    fn from(e: crate::emulator::EmulatorError) -> Self {
        CommandError::new(e.to_string()).with_hint(e.hint())
    }
}

impl From<crate::emulator::faults::FaultSpecError> for CommandError {
    fn from(e: crate::emulator::faults::FaultSpecError) -> Self {
        CommandError::new(e.to_string()).with_hint("rates between 0 and 1, e.g. --faults \"5xx=0.05,seed=7\"")
    }
}

impl From<crate::store::OpenError> for CommandError {
    fn from(e: crate::store::OpenError) -> Self {
        let hint = e.hint();
        CommandError::new(e.to_string()).with_hint_opt(hint)
    }
}

/// A wrong `state:` key is shown as `validate` shows it (position, snippet with any password masked, hint).
impl From<crate::store::SelectError> for CommandError {
    fn from(e: crate::store::SelectError) -> Self {
        match e {
            crate::store::SelectError::Spec(errors) => CommandError::rendered(errors.render(false), 1),
            e => {
                let hint = e.hint();
                CommandError::new(e.to_string()).with_hint_opt(hint)
            }
        }
    }
}

impl From<crate::store::PgError> for CommandError {
    fn from(e: crate::store::PgError) -> Self {
        let hint = e.hint();
        CommandError::new(e.to_string()).with_hint_opt(hint)
    }
}

impl From<crate::store::CopyError> for CommandError {
    fn from(e: crate::store::CopyError) -> Self {
        let hint = e.hint();
        CommandError::new(e.to_string()).with_hint_opt(hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_errors_keep_their_message_and_hint() {
        let e: CommandError = ConnectorError::Auth {
            message: "the token was revoked".into(),
            hint: "run `adsctl auth login x`".into(),
        }
        .into();
        assert_eq!(
            e.report(),
            "error: authentication failed: the token was revoked\nhint: run `adsctl auth login x`\n"
        );
        assert_eq!(e.exit_code, 1);
        // no hint: none printed
        let e: CommandError = ApplyError::UnknownAccount("x".into()).into();
        assert_eq!(e.hint, None);
        assert_eq!(
            e.report(),
            "error: the plan names account `x`, which is not configured\n"
        );
        let e = CommandError::new("m").with_hint_opt(None::<String>);
        assert_eq!(e.hint, None);
        assert_eq!(CommandError::silent(2).report(), "");
        assert_eq!(
            CommandError::new("m").with_hint("h").context("account `a`").report(),
            "error: account `a`: m\nhint: h\n"
        );
    }

    #[test]
    fn every_problem_of_a_plan_is_reported_with_its_hint() {
        let e: CommandError = PlanErrors(vec![
            PlanError::NoCache { account: "a".into() },
            PlanError::DuplicateDesired {
                address: crate::model::Address::account("a"),
            },
        ])
        .into();
        assert_eq!(e.exit_code, 1);
        let text = e.report();
        assert!(
            text.starts_with(
                "error: account `a` has no cached live state\n  hint: run once with --refresh=true (the default) \
                 to fill the cache\nerror: "
            ),
            "{text}"
        );
        assert!(
            text.ends_with("  hint: give each resource a unique name within its parent\n"),
            "{text}"
        );
    }
}
