//! Mailchimp's error answers: problem documents (`application/problem+json`: `{type, title, status, detail,
//! instance, errors[{field, message}]}`), matched on status + title, never on `type` (which has changed three
//! times and is missing from recent 400s). A body may be missing altogether (a 429 or 403 at volume, a 502 of the
//! CDN): the status alone then speaks.
//!
//! Texts that came back are scrubbed of secrets and of anything that looks like an e-mail address (Mailchimp
//! echoes addresses in "Member Exists" and batch errors), so no address reaches a message or a log.

use serde::Deserialize;

use crate::connectors::{ConnectorError, OpError};

/// What to do about an error answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// 401 "API Key Invalid" (also a revoked OAuth token).
    Auth,
    /// 403 Forbidden / User Disabled / Authorization Failure.
    Forbidden,
    /// 404 Resource Not Found.
    NotFound,
    /// 429: too many connections; refused before it ran.
    RateLimited,
    /// 500, 502, 503, 504: retryable, but a write may have run.
    Server,
    /// Any other status.
    Permanent,
}

pub fn class_of(status: u16) -> ErrorClass {
    match status {
        401 => ErrorClass::Auth,
        403 => ErrorClass::Forbidden,
        404 => ErrorClass::NotFound,
        429 => ErrorClass::RateLimited,
        500 | 502 | 503 | 504 => ErrorClass::Server,
        _ => ErrorClass::Permanent,
    }
}

/// One `errors[]` element of a validation error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct FieldError {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    errors: Option<Vec<FieldError>>,
}

/// An error answer, scrubbed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Mailchimp API error {status} {title}: {}", self.text())]
pub struct ApiError {
    pub status: u16,
    /// The problem's title, or the status's reason phrase when there was no problem document.
    pub title: String,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

/// Words holding an `@` (addresses) replaced by `<address>`.
pub fn without_addresses(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|w| {
            if w.contains('@') {
                let tail: String = w.chars().filter(|c| c.is_whitespace()).collect();
                format!("<address>{tail}")
            } else {
                w.to_string()
            }
        })
        .collect()
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "API Key Invalid",
        403 => "Forbidden",
        404 => "Resource Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

impl ApiError {
    /// An answer's body read as a problem document; anything else (HTML, nothing) leaves the status to speak.
    pub fn parse(status: u16, body: &str, scrub: &dyn Fn(&str) -> String) -> ApiError {
        let clean = |s: &str| without_addresses(&scrub(s));
        match serde_json::from_str::<Problem>(body) {
            Ok(p) if p.title.is_some() || p.detail.is_some() => ApiError {
                status,
                title: p
                    .title
                    .map(|t| clean(&t))
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| reason(status).into()),
                detail: p.detail.map(|d| clean(&d)).unwrap_or_default(),
                errors: p
                    .errors
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| FieldError {
                        field: e.field,
                        message: e.message.map(|m| clean(&m)),
                    })
                    .collect(),
            },
            _ => ApiError {
                status,
                title: reason(status).into(),
                detail: if body.trim().is_empty() {
                    format!("HTTP {status} without a body")
                } else {
                    format!("HTTP {status} without a problem document")
                },
                errors: Vec::new(),
            },
        }
    }

    pub fn class(&self) -> ErrorClass {
        class_of(self.status)
    }

    /// Whether status and title are these.
    pub fn is(&self, status: u16, title: &str) -> bool {
        self.status == status && self.title.eq_ignore_ascii_case(title)
    }

    /// The detail, then each field error.
    pub fn text(&self) -> String {
        let mut parts = vec![self.detail.clone()];
        for e in &self.errors {
            let m = e.message.clone().unwrap_or_default();
            match e.field.as_deref().filter(|f| !f.is_empty()) {
                Some(f) => parts.push(format!("{f}: {m}")),
                None => parts.push(m),
            }
        }
        parts.retain(|p| !p.is_empty());
        parts.join("; ")
    }

    /// The first field error's field.
    pub fn field(&self) -> Option<String> {
        self.errors
            .iter()
            .find_map(|e| e.field.clone().filter(|f| !f.is_empty()))
    }

    /// What a person can do about it.
    pub fn hint(&self, account: Option<&str>) -> Option<String> {
        let acct = account.unwrap_or("<account>");
        match self.status {
            401 => Some(auth_hint(Some(acct))),
            403 => Some(
                "the credentials' user lacks the role for this (GET /3.0/ shows the role), or the account's plan \
                 does not offer it"
                    .into(),
            ),
            429 => Some("Mailchimp allows 10 simultaneous requests per user: another tool may be using them".into()),
            400 if self.title.eq_ignore_ascii_case("Invalid Action") => Some(
                "a campaign that is scheduled must be unscheduled first; one that is sending or sent cannot change"
                    .into(),
            ),
            s if s >= 500 => Some("Mailchimp failed on its side: retry later".into()),
            _ => None,
        }
    }

    pub fn to_op_error(&self, account: Option<&str>) -> OpError {
        OpError {
            code: format!("{} {}", self.status, self.title),
            message: self.text(),
            field: self.field(),
            hint: self.hint(account),
        }
    }

    pub fn to_connector_error(&self, account: Option<&str>) -> ConnectorError {
        let message = format!("{}: {}", self.title, self.text());
        match self.class() {
            ErrorClass::Auth => ConnectorError::Auth {
                message,
                hint: auth_hint(account),
            },
            ErrorClass::RateLimited => ConnectorError::Quota {
                message: format!("Mailchimp rate limit: {message}"),
                hint: self.hint(account).unwrap_or_default(),
            },
            _ => ConnectorError::Api {
                platform: "mailchimp",
                code: format!("HTTP {}", self.status),
                message,
                hint: self.hint(account),
            },
        }
    }
}

/// The fix for refused credentials.
pub fn auth_hint(account: Option<&str>) -> String {
    let a = account.unwrap_or("<account>");
    format!(
        "set ADSCTL_MAILCHIMP_API_KEY (a key ending in its data center, like `…-us6`) or run `adsctl auth login {a}` \
         (a revoked OAuth token needs a new login)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_read_by_status_and_title_without_addresses() {
        let body = r#"{"type":"x","title":"Member Exists","status":400,"detail":"ada@example.com is already a list member.","instance":"i"}"#;
        let e = ApiError::parse(400, body, &|s| s.to_string());
        assert!(e.is(400, "Member Exists"));
        assert!(!e.text().contains("ada"), "{}", e.text());
        let e = ApiError::parse(429, "", &|s| s.to_string());
        assert_eq!(e.title, "Too Many Requests");
        assert_eq!(e.class(), ErrorClass::RateLimited);
        let e = ApiError::parse(
            400,
            r#"{"title":"Invalid Resource","status":400,"detail":"d","errors":[{"field":"settings.reply_to","message":"bad"}]}"#,
            &|s| s.to_string(),
        );
        assert_eq!(e.field().as_deref(), Some("settings.reply_to"));
        assert_eq!(e.to_op_error(None).code, "400 Invalid Resource");
    }
}
