//! X's error answers: `{"errors":[{"code":"INVALID_PARAMETER","message":"…","parameter":"start_time"}],
//! "request":{…}}` (codes are CAPS_CASE strings), what each status means for us, and how it reaches the user.
//!
//! Retried (WIRE-NOTES § Errors): 429 after the reset header; 500 and 503 (503 honours `retry-after`) with
//! backoff; 408 and 423, which look transient. Never any other 4xx. A 404 may come back as HTML: the status is
//! trusted, the body only read when it is the envelope.

use serde::Deserialize;

use crate::connectors::{ConnectorError, OpError};

/// What to do about an error answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// 401 UNAUTHORIZED_ACCESS: the four credentials (or the signature made with them).
    Auth,
    /// 403: ACCOUNT_NOT_FOUND (a missing or foreign account), a role, a read-only app.
    Forbidden,
    /// 404.
    NotFound,
    /// 429: refused before it ran.
    RateLimited,
    /// 500, 502, 503, 504: retryable, but a write may or may not have run.
    Server,
    /// 408 CANCELLED_REQUEST, 423 LOCK_ACQUISITION_TIMEOUT: retryable (undocumented; they look transient).
    Transient,
    /// Anything else: a real rejection of this request.
    Permanent,
}

pub fn class_of(status: u16) -> ErrorClass {
    match status {
        401 => ErrorClass::Auth,
        403 => ErrorClass::Forbidden,
        404 => ErrorClass::NotFound,
        429 => ErrorClass::RateLimited,
        408 | 423 => ErrorClass::Transient,
        500..=599 => ErrorClass::Server,
        _ => ErrorClass::Permanent,
    }
}

/// One element of `errors` (or of a batch item's `operation_errors`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorItem {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub parameter: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    errors: Vec<ErrorItem>,
    /// A batch's item errors, indexed like the input: each an array of error objects, one object, or empty.
    #[serde(default)]
    operation_errors: Option<Vec<serde_json::Value>>,
}

/// One batch item's errors from its `operation_errors` entry (an array, an object, or null / empty).
pub fn item_errors(v: &serde_json::Value) -> Vec<ErrorItem> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(item_errors).collect(),
        serde_json::Value::Object(_) => serde_json::from_value::<ErrorItem>(v.clone())
            .ok()
            .filter(|e| e.code.is_some() || e.message.is_some())
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// An error answer (a whole response, or one batch item), already scrubbed of secrets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("X API error {}: {}", self.code_text(), self.text())]
pub struct ApiError {
    /// The HTTP status (of the response; a batch item's errors take the response's).
    pub status: u16,
    pub errors: Vec<ErrorItem>,
    /// A body that was not the envelope (HTML), cut short.
    pub raw: Option<String>,
    /// A batch answer's `operation_errors`, one entry per item sent (empty for the items that were fine).
    pub operation_errors: Vec<Vec<ErrorItem>>,
}

impl ApiError {
    /// An answer's body read as the envelope; anything else is kept as a short text.
    pub fn parse(status: u16, body: &str) -> ApiError {
        match serde_json::from_str::<Envelope>(body) {
            Ok(env) if !env.errors.is_empty() || env.operation_errors.is_some() => {
                let operation_errors: Vec<Vec<ErrorItem>> = env
                    .operation_errors
                    .unwrap_or_default()
                    .iter()
                    .map(item_errors)
                    .collect();
                let mut errors = env.errors;
                if errors.is_empty() {
                    // the request as a whole failed because of its items: the first item error speaks for it
                    errors.extend(operation_errors.iter().flatten().take(1).cloned());
                }
                ApiError {
                    status,
                    errors,
                    raw: None,
                    operation_errors,
                }
            }
            _ => {
                let raw: String = body.trim().chars().take(300).collect();
                ApiError {
                    status,
                    errors: Vec::new(),
                    raw: Some(if raw.is_empty() {
                        format!("HTTP {status} without a body")
                    } else {
                        raw
                    }),
                    operation_errors: Vec::new(),
                }
            }
        }
    }

    /// A batch item's errors (`operation_errors[i]`: an array of error objects, one object, or empty).
    pub fn from_items(status: u16, items: Vec<ErrorItem>) -> ApiError {
        ApiError {
            status,
            errors: items,
            raw: None,
            operation_errors: Vec::new(),
        }
    }

    /// Every secret removed from the texts.
    pub fn scrubbed(mut self, scrub: &dyn Fn(&str) -> String) -> ApiError {
        for e in &mut self.errors {
            e.message = e.message.as_deref().map(scrub);
            e.details = e.details.as_deref().map(scrub);
        }
        self.raw = self.raw.as_deref().map(scrub);
        for e in self.operation_errors.iter_mut().flatten() {
            e.message = e.message.as_deref().map(scrub);
            e.details = e.details.as_deref().map(scrub);
        }
        self
    }

    /// The first error's code (`INVALID_PARAMETER`), or `HTTP 404`.
    pub fn code_text(&self) -> String {
        self.errors
            .iter()
            .find_map(|e| e.code.clone().filter(|c| !c.is_empty()))
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }

    pub fn class(&self) -> ErrorClass {
        class_of(self.status)
    }

    /// Whether any error has this code.
    pub fn has(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code.as_deref() == Some(code))
    }

    /// A "gone" answer: 404, or a `*_NOT_FOUND` code other than the account's (a batch item's delete of
    /// something already deleted).
    pub fn is_gone(&self) -> bool {
        // a path X does not serve is an adsctl bug, not a deleted object
        if self.has("ROUTE_NOT_FOUND") {
            return false;
        }
        self.status == 404
            || self.errors.iter().any(|e| {
                e.code
                    .as_deref()
                    .is_some_and(|c| c.ends_with("NOT_FOUND") && c != "ACCOUNT_NOT_FOUND" && c != "USER_NOT_FOUND")
            })
    }

    /// The parameter the first error names.
    pub fn parameter(&self) -> Option<String> {
        self.errors
            .iter()
            .find_map(|e| e.parameter.clone().filter(|p| !p.is_empty()))
    }

    /// Every error's message (with its parameter when the message does not name it).
    pub fn text(&self) -> String {
        if let Some(r) = &self.raw {
            return r.clone();
        }
        self.errors
            .iter()
            .map(|e| {
                let m = e.message.clone().unwrap_or_default();
                match e.parameter.as_deref().filter(|p| !p.is_empty() && !m.contains(*p)) {
                    Some(p) => format!("{p}: {m}"),
                    None => m,
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// What a person can do about it.
    pub fn hint(&self, account: Option<&str>) -> Option<String> {
        let acct = account.unwrap_or("<account>");
        for (code, hint) in CODE_HINTS {
            if self.has(code) {
                return Some((*hint).to_string());
            }
        }
        Some(match self.status {
            401 => auth_hint(Some(acct)),
            403 => forbidden_hint(),
            429 => "X is rate limiting this user or account (limits per 15 minutes; writes 450 a minute); adsctl \
                    waited for the reset it was given: run again later"
                .into(),
            408 | 423 | 500..=599 => "a temporary X error; run again later".into(),
            404 => "the object no longer exists on X (deleted objects are gone): run `adsctl plan` again".into(),
            _ => return None,
        })
    }

    /// This error as the outcome of one operation.
    pub fn to_op_error(&self, account: Option<&str>) -> OpError {
        OpError {
            code: self.code_text(),
            message: self.text(),
            field: self.parameter(),
            hint: self.hint(account),
        }
    }

    /// This error as a whole-call failure.
    pub fn to_connector_error(&self, account: Option<&str>) -> ConnectorError {
        match self.class() {
            ErrorClass::Auth => ConnectorError::Auth {
                message: format!(
                    "X refused the credentials (HTTP 401 {}): {}",
                    self.code_text(),
                    self.text()
                ),
                hint: self.hint(account).unwrap_or_else(|| auth_hint(account)),
            },
            ErrorClass::Forbidden => ConnectorError::Auth {
                message: format!("X refused the request (HTTP 403 {}): {}", self.code_text(), self.text()),
                hint: self.hint(account).unwrap_or_else(forbidden_hint),
            },
            ErrorClass::RateLimited => ConnectorError::Quota {
                message: format!("X rate limit (HTTP 429 {}): {}", self.code_text(), self.text()),
                hint: self.hint(account).unwrap_or_default(),
            },
            ErrorClass::Server | ErrorClass::Transient => ConnectorError::Api {
                platform: "x",
                // `HTTP 5xx`: the engine reads it as an outcome it cannot know
                code: format!("HTTP {}", self.status),
                message: format!("{}: {}", self.code_text(), self.text()),
                hint: self.hint(account),
            },
            _ => ConnectorError::Api {
                platform: "x",
                code: self.code_text(),
                message: self.text(),
                hint: self.hint(account),
            },
        }
    }
}

/// Codes with a fix of their own.
const CODE_HINTS: &[(&str, &str)] = &[
    (
        "ACCOUNT_NOT_FOUND",
        "X does not show this ad account to these credentials (HTTP 403): check the account id in adsctl.yaml \
         (base-36, like 18ce54d4x5t) and that the access token's user has access to the account (Ads Manager → \
         Edit access to account)",
    ),
    (
        "UNAUTHORIZED_ACCESS",
        "X refused the OAuth 1.0a signature: check all four credentials (consumer key and secret of the developer \
         app, access token and token secret of a user with access to the ad account) and this machine's clock; \
         `adsctl auth set-token <account>` stores them",
    ),
    (
        "ACCOUNT_LOCKED_OUT",
        "the ad account is locked: see Ads Manager for the reason",
    ),
    (
        "READONLY_CLIENT_APPLICATION",
        "the developer app has read-only access: give it read and write permission in the developer portal and \
         create new user tokens",
    ),
    (
        "UNAUTHORIZED_CLIENT_APPLICATION",
        "the developer app is not approved for the Ads API: apply for access in the developer portal",
    ),
    (
        "FUNDING_INSTRUMENT_ACCESS_NOT_ALLOWED",
        "the user of the token cannot use this funding instrument: check `funding_instrument` and the user's role",
    ),
    (
        "SPEND_EXCEEDS_BUDGET",
        "X refuses a budget below what was already spent: raise budget.lifetime",
    ),
    (
        "TOO_MANY_CAMPAIGNS",
        "the account is at its limit of active campaigns (200 by default; paused ones count): delete campaigns or \
         ask X to raise it",
    ),
    (
        "TOO_MANY_LINE_ITEMS",
        "too many line items: at most 100 per campaign and 256 active in the account",
    ),
    (
        "INVALID_TARGETING_TYPE",
        "X does not take this targeting type here: see the targeting types of the X resource model",
    ),
    (
        "UNKNOWN_CRITERIA_TYPE",
        "X does not know this targeting type: see the targeting types of the X resource model",
    ),
];

/// How to fix a 401.
pub fn auth_hint(account: Option<&str>) -> String {
    let acct = account.unwrap_or("<account>");
    format!(
        "X refused the OAuth 1.0a credentials: check the four values (ADSCTL_X_CONSUMER_KEY, ADSCTL_X_CONSUMER_SECRET, \
         ADSCTL_X_ACCESS_TOKEN, ADSCTL_X_TOKEN_SECRET, or `adsctl auth set-token {acct}`) and this machine's clock"
    )
}

fn forbidden_hint() -> String {
    "the token's user lacks access or a role on this ad account (ACCOUNT_ADMIN or AD_MANAGER to write): check \
     `adsctl auth validate`"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_read_with_its_parameter() {
        let e = ApiError::parse(
            400,
            r#"{"errors":[{"code":"INVALID_PARAMETER","message":"Expected time, got \"\" for start_time","parameter":"start_time"}],"request":{"params":{}}}"#,
        );
        assert_eq!(e.code_text(), "INVALID_PARAMETER");
        assert_eq!(e.parameter().as_deref(), Some("start_time"));
        assert_eq!(e.class(), ErrorClass::Permanent);
        let op = e.to_op_error(Some("acct"));
        assert_eq!(op.field.as_deref(), Some("start_time"));
        assert!(op.message.contains("Expected time"));
    }

    #[test]
    fn statuses_classify_and_hint() {
        assert_eq!(class_of(401), ErrorClass::Auth);
        assert_eq!(class_of(403), ErrorClass::Forbidden);
        assert_eq!(class_of(404), ErrorClass::NotFound);
        assert_eq!(class_of(408), ErrorClass::Transient);
        assert_eq!(class_of(423), ErrorClass::Transient);
        assert_eq!(class_of(429), ErrorClass::RateLimited);
        assert_eq!(class_of(500), ErrorClass::Server);
        assert_eq!(class_of(503), ErrorClass::Server);
        assert_eq!(class_of(400), ErrorClass::Permanent);
        let a = ApiError::parse(
            403,
            r#"{"errors":[{"code":"ACCOUNT_NOT_FOUND","message":"Account 1 not found"}]}"#,
        );
        assert!(a.hint(None).unwrap().contains("account id"));
        assert!(matches!(a.to_connector_error(Some("x")), ConnectorError::Auth { .. }));
        let u = ApiError::parse(401, r#"{"errors":[{"code":"UNAUTHORIZED_ACCESS","message":"bad"}]}"#);
        assert!(u.hint(None).unwrap().contains("four credentials"));
        let s = ApiError::parse(503, "<html>busy</html>");
        assert_eq!(s.code_text(), "HTTP 503");
        assert!(s.to_connector_error(None).outcome_unknown());
        let g = ApiError::from_items(
            400,
            vec![ErrorItem {
                code: Some("CAMPAIGN_NOT_FOUND".into()),
                ..Default::default()
            }],
        );
        assert!(g.is_gone());
        assert!(!a.is_gone());
        assert!(ApiError::parse(404, "<html>Not Found</html>").is_gone());
        assert!(!ApiError::parse(404, r#"{"errors":[{"code":"ROUTE_NOT_FOUND","message":"no"}]}"#).is_gone());
        let b = ApiError::parse(
            400,
            r#"{"operation_errors":[[],[{"code":"INVALID_PARAMETER","message":"bad","parameter":"name"}],{"code":"NOT_FOUND","message":"gone"}],"request":[]}"#,
        );
        assert_eq!(b.operation_errors.len(), 3);
        assert!(b.operation_errors[0].is_empty());
        assert_eq!(b.operation_errors[1][0].parameter.as_deref(), Some("name"));
        assert_eq!(b.operation_errors[2][0].code.as_deref(), Some("NOT_FOUND"));
        assert_eq!(b.code_text(), "INVALID_PARAMETER");
    }
}
