//! TikTok's return codes: what each means for us, and how it reaches the user.
//!
//! Every answer is the envelope `{"code","message","request_id","data"}`; business errors come with HTTP 200 and
//! only `code == 0` is success. The codes and which of them are retryable are the pack's (WIRE-NOTES §
//! "Envelope, success test, errors"): rate limits 40100 / 40016 (app) and 40133 (advertiser), the write conflict
//! 40202, the task that is not ready 40201, the server errors 50000 / 50002 / 51305 / 60001. Nothing else is
//! retried.

use crate::connectors::{ConnectorError, OpError};

/// What to do about a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The token or the app is refused (40101–40107, 40110, 40113): stop, tell the user how to log in again.
    Auth,
    /// A rate limit (40100, 40016: the developer app; 40133: the advertiser): wait and send again. The request
    /// was refused before it ran.
    RateLimited,
    /// 40202: a write conflicted with another one; sending it again may work (nothing was written).
    Conflict,
    /// 40201: a report task is not ready yet: check again later.
    NotReady,
    /// 50000, 50002, 51305, 60001: a fault on TikTok's side; retryable, but a write may or may not have run.
    Server,
    /// Anything else: a real rejection of this request.
    Permanent,
}

/// A non-zero `code` of the envelope (the message is TikTok's, already scrubbed of secrets).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("TikTok API error {code}: {message}")]
pub struct ApiError {
    pub code: i64,
    pub message: String,
    /// The envelope's `request_id` (quote it in a support ticket).
    pub request_id: Option<String>,
}

pub fn class_of(code: i64) -> ErrorClass {
    match code {
        40100 | 40016 | 40133 => ErrorClass::RateLimited,
        40202 => ErrorClass::Conflict,
        40201 => ErrorClass::NotReady,
        50000 | 50002 | 51305 | 60001 => ErrorClass::Server,
        40101..=40107 | 40110 | 40113 => ErrorClass::Auth,
        _ => ErrorClass::Permanent,
    }
}

impl ApiError {
    pub fn class(&self) -> ErrorClass {
        class_of(self.code)
    }

    /// What a person can do about it.
    pub fn hint(&self, account: Option<&str>) -> Option<String> {
        let acct = account.unwrap_or("<account>");
        Some(match self.code {
            40100 | 40016 => "TikTok is rate limiting this developer app (requests per second / minute / day per \
                              endpoint); adsctl waits and retries, run again later if it persists"
                .into(),
            40133 => "TikTok is rate limiting this advertiser; adsctl waits and retries, run again later".into(),
            40202 => "another write changed the same object at the same time; run again".into(),
            40201 => "the report is still being prepared; run again later".into(),
            50000 | 50002 | 51305 => "a temporary TikTok error; run again later".into(),
            60001 => "TikTok is under maintenance; run again later".into(),
            40101 | 40113 => format!(
                "the TikTok app_id or secret is wrong, or the app is blocked: check TIKTOK_APP_ID / TIKTOK_APP_SECRET \
                 and run `adsctl auth login {acct}`"
            ),
            40102..=40107 => auth_hint(Some(acct)),
            40110 => format!("the auth_code is invalid, used or expired (it lives about an hour): run `adsctl auth login {acct}` again"),
            40001 | 40125 | 40119 | 40118 => format!(
                "the access token does not cover this advertiser or lacks a permission: authorize the app for it \
                 (`adsctl auth login {acct}`) and check the advertiser id in adsctl.yaml"
            ),
            40300 | 40301 => "the advertiser id in adsctl.yaml does not exist or cannot be reached with this token".into(),
            40007 => "the object no longer exists on TikTok: run `adsctl plan` again".into(),
            40011 => "too many ids in one request (an adsctl bug: please report it)".into(),
            40050 => "TikTok saw this request before (duplicated request); run `adsctl plan` again".into(),
            40502 => "an ad group holds at most 20 ads: split the ads over more ad groups".into(),
            40006 | 40051 => "adsctl speaks API v1.3; TikTok refused the version".into(),
            40009 | 40014 => "not supported in the sandbox: use a production advertiser".into(),
            40000 | 40002 | 40700 => "TikTok rejected a parameter; the message names it".into(),
            _ => return None,
        })
    }

    /// This error as the outcome of one operation.
    pub fn to_op_error(&self, account: Option<&str>) -> OpError {
        OpError {
            code: self.code.to_string(),
            message: self.text(),
            field: field_of(&self.message),
            hint: self.hint(account),
        }
    }

    /// The message with the request id people quote in support tickets.
    pub fn text(&self) -> String {
        match &self.request_id {
            Some(r) if !r.is_empty() => format!("{} (request_id {r})", self.message),
            _ => self.message.clone(),
        }
    }

    /// This error as a whole-call failure.
    pub fn to_connector_error(&self, account: Option<&str>) -> ConnectorError {
        match self.class() {
            ErrorClass::Auth => ConnectorError::Auth {
                message: format!("TikTok refused the credentials ({}): {}", self.code, self.text()),
                hint: self.hint(account).unwrap_or_else(|| auth_hint(account)),
            },
            ErrorClass::RateLimited => ConnectorError::Quota {
                message: format!("TikTok rate limit ({}): {}", self.code, self.text()),
                hint: self.hint(account).unwrap_or_default(),
            },
            _ => ConnectorError::Api {
                platform: "tiktok",
                code: self.code.to_string(),
                message: self.text(),
                hint: self.hint(account),
            },
        }
    }
}

/// The field a message is about, when TikTok names it first (`budget: …`, `creatives[0].ad_text: …`).
pub fn field_of(message: &str) -> Option<String> {
    let (head, _) = message.split_once(": ")?;
    let ok = !head.is_empty()
        && head.len() <= 80
        && head
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']'));
    ok.then(|| head.to_string())
}

/// The fix for an invalid or revoked token.
pub fn auth_hint(account: Option<&str>) -> String {
    let acct = account.unwrap_or("<account>");
    format!(
        "the TikTok access token is invalid or was revoked: run `adsctl auth login {acct}` (or `adsctl auth set-token \
         {acct}`), or set TIKTOK_ACCESS_TOKEN"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_packs_retryable_codes_are_retried() {
        for c in [40100, 40016, 40133] {
            assert_eq!(class_of(c), ErrorClass::RateLimited, "{c}");
        }
        assert_eq!(class_of(40202), ErrorClass::Conflict);
        assert_eq!(class_of(40201), ErrorClass::NotReady);
        for c in [50000, 50002, 51305, 60001] {
            assert_eq!(class_of(c), ErrorClass::Server, "{c}");
        }
        for c in [40101, 40102, 40104, 40105, 40110] {
            assert_eq!(class_of(c), ErrorClass::Auth, "{c}");
        }
        // 51021 is not in the pack's list; every other 4xxxx is final
        for c in [40000, 40001, 40002, 40007, 40011, 40050, 40502, 51021, 20001] {
            assert_eq!(class_of(c), ErrorClass::Permanent, "{c}");
        }
    }

    #[test]
    fn errors_carry_hints_fields_and_request_ids() {
        let e = ApiError {
            code: 40002,
            message: "budget: The budget must be at least 50 USD.".into(),
            request_id: Some("2026120612000001".into()),
        };
        let op = e.to_op_error(Some("tt"));
        assert_eq!(op.code, "40002");
        assert_eq!(op.field.as_deref(), Some("budget"));
        assert!(op.message.contains("request_id 2026120612000001"));
        assert!(op.hint.is_some());
        let auth = ApiError {
            code: 40105,
            message: "Access token is incorrect or has been revoked.".into(),
            request_id: None,
        }
        .to_connector_error(Some("tt-main"));
        assert!(matches!(auth, ConnectorError::Auth { .. }));
        assert!(auth.hint().unwrap().contains("adsctl auth login tt-main"));
        assert_eq!(field_of("Access token is null, you should set it"), None);
        assert_eq!(
            field_of("creatives[0].ad_text: Length"),
            Some("creatives[0].ad_text".into())
        );
    }
}
