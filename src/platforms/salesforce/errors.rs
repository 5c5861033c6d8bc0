//! Salesforce's error answers and what they mean for adsctl.
//!
//! A failed REST call answers a JSON **array** `[{"message","errorCode","fields"?}]`; a record of an sObject
//! Collections answer (HTTP 200 whatever happened) carries `{"success":false,"errors":[{"statusCode","message",
//! "fields"}]}` — `statusCode`, not `errorCode`. Both are read into [`ErrorItem`]. OAuth endpoints have their own
//! envelope (`{"error","error_description"}`, in `auth.rs`).
//!
//! Retried (WIRE-NOTES § Errors): INVALID_SESSION_ID once after a refresh; UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED
//! "ConcurrentPerOrgLongTxn" and 502 / 503 / SERVER_UNAVAILABLE with backoff. REQUEST_LIMIT_EXCEEDED "TotalRequests"
//! is the daily allocation: never retried. Everything else is the caller's.
//!
//! Salesforce echoes values in its messages (`invalid email address: a@b.example`, a SOQL text): every message is
//! stripped of anything shaped like an e-mail address ([`redact_emails`]) and of secrets before it is kept.

use serde::Deserialize;

use crate::connectors::{ConnectorError, OpError};

/// One error of either shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorItem {
    #[serde(default, alias = "statusCode", rename = "errorCode")]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub fields: Option<Vec<String>>,
}

/// Every token holding an `@` between word characters replaced by `<e-mail>`.
pub fn redact_emails(text: &str) -> String {
    let is_part = |c: char| c.is_alphanumeric() || "._%+-@".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let at = word.find('@');
        let looks = at.is_some_and(|i| i > 0 && i + 1 < word.len());
        if looks {
            out.push_str("<e-mail>");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_part(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// An error answer (a whole response, or one record of a collection), already scrubbed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Salesforce API error {}: {}", self.code_text(), self.text())]
pub struct ApiError {
    pub status: u16,
    pub errors: Vec<ErrorItem>,
    /// A body that was not the error array, cut short.
    pub raw: Option<String>,
}

impl ApiError {
    pub fn parse(status: u16, body: &str) -> ApiError {
        let parsed: Option<Vec<ErrorItem>> = serde_json::from_str::<Vec<ErrorItem>>(body)
            .ok()
            .or_else(|| serde_json::from_str::<ErrorItem>(body).ok().map(|e| vec![e]))
            .filter(|v| v.iter().any(|e| e.code.is_some() || e.message.is_some()));
        match parsed {
            Some(errors) => ApiError {
                status,
                errors,
                raw: None,
            },
            None => {
                let raw: String = body.trim().chars().take(300).collect();
                ApiError {
                    status,
                    errors: Vec::new(),
                    raw: Some(if raw.is_empty() {
                        format!("HTTP {status} without a body")
                    } else {
                        raw
                    }),
                }
            }
        }
    }

    pub fn from_items(status: u16, errors: Vec<ErrorItem>) -> ApiError {
        ApiError {
            status,
            errors,
            raw: None,
        }
    }

    /// Secrets and addresses removed from every text.
    pub fn scrubbed(mut self, scrub: &dyn Fn(&str) -> String) -> ApiError {
        let clean = |s: &str| redact_emails(&scrub(s));
        for e in &mut self.errors {
            e.message = e.message.as_deref().map(clean);
        }
        self.raw = self.raw.as_deref().map(clean);
        self
    }

    pub fn code_text(&self) -> String {
        self.errors
            .iter()
            .find_map(|e| e.code.clone().filter(|c| !c.is_empty()))
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }

    pub fn has(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code.as_deref() == Some(code))
    }

    pub fn text(&self) -> String {
        if let Some(r) = &self.raw {
            return r.clone();
        }
        self.errors
            .iter()
            .map(|e| e.message.clone().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn field(&self) -> Option<String> {
        self.errors
            .iter()
            .find_map(|e| e.fields.as_ref().and_then(|f| f.first().cloned()))
    }

    /// 404 NOT_FOUND / ENTITY_IS_DELETED: what a delete of something already gone answers.
    pub fn is_gone(&self) -> bool {
        self.has("NOT_FOUND") || self.has("ENTITY_IS_DELETED") || (self.status == 404 && self.errors.is_empty())
    }

    pub fn is_session(&self) -> bool {
        self.status == 401 || self.has("INVALID_SESSION_ID")
    }

    /// The daily allocation is spent (403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded").
    pub fn is_daily_limit(&self) -> bool {
        self.has("REQUEST_LIMIT_EXCEEDED") && !self.text().contains("ConcurrentPerOrgLongTxn")
    }

    /// Worth sending again after a pause.
    pub fn retryable(&self) -> bool {
        matches!(self.status, 502 | 503)
            || self.has("SERVER_UNAVAILABLE")
            || self.has("UNABLE_TO_LOCK_ROW")
            || (self.has("REQUEST_LIMIT_EXCEEDED") && self.text().contains("ConcurrentPerOrgLongTxn"))
    }

    /// What a person can do about it.
    pub fn hint(&self, account: Option<&str>) -> Option<String> {
        let acct = account.unwrap_or("<account>");
        for (code, hint) in CODE_HINTS {
            if self.has(code) {
                return Some((*hint).to_string());
            }
        }
        if self.is_daily_limit() {
            return Some(LIMIT_HINT.into());
        }
        Some(match self.status {
            401 => auth_hint(acct),
            403 => "the integration user lacks a permission: API Enabled, and the Marketing User flag (or a \
                    permission set with Campaign Create/Edit/Delete) to write campaigns"
                .into(),
            500..=599 => "a temporary Salesforce error; run again later".into(),
            _ => return None,
        })
    }

    pub fn to_op_error(&self, account: Option<&str>) -> OpError {
        OpError {
            code: self.code_text(),
            message: self.text(),
            field: self.field(),
            hint: self.hint(account),
        }
    }

    pub fn to_connector_error(&self, account: Option<&str>) -> ConnectorError {
        if self.is_session() {
            return ConnectorError::Auth {
                message: format!("Salesforce refused the session ({}): {}", self.code_text(), self.text()),
                hint: auth_hint(account.unwrap_or("<account>")),
            };
        }
        if self.is_daily_limit() {
            return ConnectorError::Quota {
                message: format!("Salesforce: {}", self.text()),
                hint: LIMIT_HINT.into(),
            };
        }
        ConnectorError::Api {
            platform: "salesforce",
            code: if self.status >= 500 && self.errors.is_empty() {
                format!("HTTP {}", self.status)
            } else {
                self.code_text()
            },
            message: self.text(),
            hint: self.hint(account),
        }
    }
}

pub const LIMIT_HINT: &str = "the org's daily API allocation (a rolling 24 h window) is nearly spent: run again when \
     calls free up, or ask the admin for more (Setup → Company Information → API Requests, Last 24 Hours)";

const CODE_HINTS: &[(&str, &str)] = &[
    (
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "the integration user cannot write this record: give it the Marketing User flag (Setup → Users → the user → \
         Edit → Marketing User) or a permission set with Campaign Create/Edit/Delete",
    ),
    (
        "INVALID_FIELD",
        "a field adsctl uses is missing or hidden: check that Adsctl_Key__c exists on Campaign and is visible to the \
         integration user (run `adsctl auth validate`)",
    ),
    (
        "INVALID_CROSS_REFERENCE_KEY",
        "a record it points to (a parent campaign, a contact, a lead) no longer exists: run `adsctl plan` again",
    ),
    (
        "DUPLICATE_VALUE",
        "another record already holds this unique value (Adsctl_Key__c values are unique and compared ignoring case)",
    ),
    (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "a validation rule of the org refused the record: ask the admin, or change the YAML to satisfy it",
    ),
    (
        "STRING_TOO_LONG",
        "a text is longer than the field holds (Name ≤ 80 characters)",
    ),
    (
        "API_DISABLED_FOR_ORG",
        "the org's edition has no API access, or the user lacks API Enabled",
    ),
];

pub fn auth_hint(account: &str) -> String {
    format!(
        "run `adsctl auth login {account}` (or set ADSCTL_SALESFORCE_REFRESH_TOKEN with the app's client id, or \
         ADSCTL_SALESFORCE_USERNAME and ADSCTL_SALESFORCE_PRIVATE_KEY_FILE for the JWT bearer flow)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_parse_and_addresses_never_stay() {
        let e = ApiError::parse(
            400,
            r#"[{"message":"Email: invalid email address: ada.l@example.com","errorCode":"INVALID_EMAIL_ADDRESS","fields":["Email"]}]"#,
        )
        .scrubbed(&|s| s.to_string());
        assert_eq!(e.code_text(), "INVALID_EMAIL_ADDRESS");
        assert_eq!(e.field().as_deref(), Some("Email"));
        assert!(!e.text().contains("ada.l@example.com"), "{}", e.text());
        let items: Vec<ErrorItem> =
            serde_json::from_str(r#"[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"locked","fields":[]}]"#).unwrap();
        let e = ApiError::from_items(200, items);
        assert!(e.retryable());
        assert_eq!(
            redact_emails("WHERE Email IN ('a@b.co', 'x')"),
            "WHERE Email IN ('<e-mail>', 'x')"
        );
        let daily = ApiError::parse(
            403,
            r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
        );
        assert!(daily.is_daily_limit() && !daily.retryable());
        let conc = ApiError::parse(
            403,
            r#"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
        );
        assert!(conc.retryable() && !conc.is_daily_limit());
        assert!(ApiError::parse(404, r#"[{"errorCode":"ENTITY_IS_DELETED","message":"x"}]"#).is_gone());
    }
}
