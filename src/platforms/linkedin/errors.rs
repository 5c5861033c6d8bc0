//! LinkedIn's error answers: both envelopes, what each status means for us, and how it reaches the user.
//!
//! - Classic (every resource): `{"status": 400, "serviceErrorCode": 100, "message": "…"}`.
//! - New (adAccounts, adCampaignGroups, adCampaigns): adds `code` (`MISSING_FIELD`,
//!   `INVALID_CAMPAIGN_CONFIGURATION`, …), `errorDetailType` and `errorDetails.inputErrors[]`. The presence of
//!   `code` says which envelope it is.
//!
//! Retried (WIRE-NOTES § Errors): 429 (back off: no Retry-After), 500, 503, 504. Never any other 4xx.

use serde::Deserialize;

use crate::connectors::{ConnectorError, OpError};

/// What to do about an error answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// 401: the token is missing, expired or revoked.
    Auth,
    /// 403: a missing scope or ad-account role.
    Forbidden,
    /// 426: the `LinkedIn-Version` is sunset.
    VersionSunset,
    /// 429: throttled (a daily quota per app and per member, or infrastructure protection). Refused before it ran.
    RateLimited,
    /// 500, 503, 504: retryable, but a write may or may not have run.
    Server,
    /// 404.
    NotFound,
    /// Anything else: a real rejection of this request.
    Permanent,
}

/// One entry of `errorDetails.inputErrors` (new envelope; inner key names are the pack's secondary reading).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct InputError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub input: Option<InputRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct InputRef {
    #[serde(default, rename = "inputPath")]
    pub input_path: Option<InputPath>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct InputPath {
    #[serde(default, rename = "fieldPath")]
    pub field_path: Option<String>,
}

impl InputError {
    pub fn field(&self) -> Option<&str> {
        self.input
            .as_ref()?
            .input_path
            .as_ref()?
            .field_path
            .as_deref()
            .filter(|f| !f.is_empty())
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
struct Details {
    #[serde(default, rename = "inputErrors")]
    input_errors: Vec<InputError>,
    #[serde(default, rename = "conditionalInputErrors")]
    conditional_input_errors: Vec<serde_json::Value>,
}

/// The wire form of either envelope.
#[derive(Clone, Debug, Default, Deserialize)]
struct Envelope {
    #[serde(default)]
    status: Option<u16>,
    #[serde(default, rename = "serviceErrorCode")]
    service_error_code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default, rename = "errorDetailType")]
    error_detail_type: Option<String>,
    #[serde(default, rename = "errorDetails")]
    error_details: Option<Details>,
}

/// An error answer (a whole response, or one element of a batch), already scrubbed of secrets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("LinkedIn API error {}: {message}", self.code_text())]
pub struct ApiError {
    /// The HTTP status (of the response, or the element's `status`).
    pub status: u16,
    /// The new envelope's constant (`INVALID_CAMPAIGN_CONFIGURATION`), when present.
    pub code: Option<String>,
    /// The classic envelope's `serviceErrorCode`.
    pub service_error_code: Option<i64>,
    pub message: String,
    /// `errorDetailType` (`com.linkedin.common.error.BadRequest`).
    pub detail_type: Option<String>,
    pub input_errors: Vec<InputError>,
    /// `x-li-request-id` / `x-li-uuid` (quote it to LinkedIn support).
    pub request_id: Option<String>,
}

impl ApiError {
    /// An answer's body read as either envelope (`status` is the HTTP status, used when the body has none); a body
    /// that is not an envelope becomes the message, cut short.
    pub fn parse(status: u16, body: &str) -> ApiError {
        match serde_json::from_str::<Envelope>(body) {
            Ok(env) => ApiError::from_envelope(status, env),
            Err(_) => {
                let mut message: String = body.trim().chars().take(300).collect();
                if message.is_empty() {
                    message = format!("HTTP {status} without a body");
                }
                ApiError {
                    status,
                    code: None,
                    service_error_code: None,
                    message,
                    detail_type: None,
                    input_errors: Vec::new(),
                    request_id: None,
                }
            }
        }
    }

    /// One element's `error` object of a BATCH_CREATE, or an entry of a batch's `errors` map.
    pub fn from_value(status: u16, v: &serde_json::Value) -> ApiError {
        let env: Envelope = serde_json::from_value(v.clone()).unwrap_or_default();
        ApiError::from_envelope(status, env)
    }

    fn from_envelope(status: u16, env: Envelope) -> ApiError {
        let details = env.error_details.unwrap_or_default();
        let mut message = env.message.unwrap_or_default();
        if message.is_empty() {
            message = details
                .input_errors
                .iter()
                .filter_map(|e| e.description.clone())
                .collect::<Vec<_>>()
                .join("; ");
        }
        if message.is_empty() && !details.conditional_input_errors.is_empty() {
            message = "conditional input errors".into();
        }
        ApiError {
            status: env.status.filter(|s| *s >= 100).unwrap_or(status),
            code: env.code.filter(|c| !c.is_empty()),
            service_error_code: env.service_error_code,
            message,
            detail_type: env.error_detail_type,
            input_errors: details.input_errors,
            request_id: None,
        }
    }

    /// Every secret removed from the texts.
    pub fn scrubbed(mut self, scrub: &dyn Fn(&str) -> String) -> ApiError {
        self.message = scrub(&self.message);
        for e in &mut self.input_errors {
            e.description = e.description.as_deref().map(scrub);
        }
        self
    }

    /// Whether this is the new envelope (it has `code`).
    pub fn is_new_envelope(&self) -> bool {
        self.code.is_some()
    }

    /// `INVALID_CAMPAIGN_CONFIGURATION`, `100`, or `HTTP 404`.
    pub fn code_text(&self) -> String {
        match (&self.code, self.service_error_code) {
            (Some(c), _) => c.clone(),
            (None, Some(n)) => n.to_string(),
            (None, None) => format!("HTTP {}", self.status),
        }
    }

    pub fn class(&self) -> ErrorClass {
        class_of(self.status)
    }

    /// Whether the message or code names `what` (`CURRENCY_MISMATCH`, `DELETE_ALLOWED_ONLY_FOR_DRAFT_STATUS`).
    pub fn names(&self, what: &str) -> bool {
        self.code.as_deref() == Some(what)
            || self.message.contains(what)
            || self.input_errors.iter().any(|e| e.code.as_deref() == Some(what))
    }

    /// The field it is about: the first input error's field path.
    pub fn field(&self) -> Option<String> {
        self.input_errors.iter().find_map(|e| e.field().map(str::to_string))
    }

    /// The message with the input errors and the request id people quote in support tickets.
    pub fn text(&self) -> String {
        let mut t = self.message.clone();
        let extra: Vec<String> = self
            .input_errors
            .iter()
            .filter_map(|e| {
                let what = e.description.clone().or_else(|| e.code.clone())?;
                Some(match e.field() {
                    Some(f) => format!("{f}: {what}"),
                    None => what,
                })
            })
            .filter(|x| !t.contains(x.as_str()))
            .collect();
        if !extra.is_empty() {
            if !t.is_empty() {
                t.push_str(" — ");
            }
            t.push_str(&extra.join("; "));
        }
        if let Some(r) = self.request_id.as_deref().filter(|r| !r.is_empty()) {
            t.push_str(&format!(" (x-li-request-id {r})"));
        }
        t
    }

    /// What a person can do about it.
    pub fn hint(&self, account: Option<&str>) -> Option<String> {
        let acct = account.unwrap_or("<account>");
        for (code, hint) in CODE_HINTS {
            if self.names(code) {
                return Some((*hint).to_string());
            }
        }
        Some(match self.status {
            401 => auth_hint(Some(acct)),
            403 => forbidden_hint(),
            426 => format!(
                "LinkedIn-Version {} is sunset (LinkedIn supports each monthly version for about a year): update \
                 adsctl",
                super::config::API_VERSION
            ),
            429 => "LinkedIn is throttling this app or member (daily limits per endpoint, reset at 00:00 UTC; the \
                    numbers are in the Developer Portal → your app → Analytics); adsctl backed off and retried: run \
                    again later"
                .into(),
            500 | 502 | 503 | 504 => "a temporary LinkedIn error; run again later".into(),
            404 => "the object no longer exists on LinkedIn (or the API is not open to this app): run `adsctl plan` \
                    again"
                .into(),
            411 => "an empty POST without Content-Length (an adsctl bug: please report it)".into(),
            414 => "the request's URL is too long (an adsctl bug: please report it)".into(),
            _ => return None,
        })
    }

    /// This error as the outcome of one operation.
    pub fn to_op_error(&self, account: Option<&str>) -> OpError {
        OpError {
            code: self.code_text(),
            message: self.text(),
            field: self.field(),
            hint: self.hint(account),
        }
    }

    /// This error as a whole-call failure.
    pub fn to_connector_error(&self, account: Option<&str>) -> ConnectorError {
        match self.class() {
            ErrorClass::Auth => ConnectorError::Auth {
                message: format!("LinkedIn refused the access token (HTTP 401): {}", self.text()),
                hint: self.hint(account).unwrap_or_else(|| auth_hint(account)),
            },
            ErrorClass::Forbidden => ConnectorError::Auth {
                message: format!("LinkedIn refused the request (HTTP 403): {}", self.text()),
                hint: self.hint(account).unwrap_or_else(forbidden_hint),
            },
            ErrorClass::RateLimited => ConnectorError::Quota {
                message: format!("LinkedIn rate limit (HTTP 429): {}", self.text()),
                hint: self.hint(account).unwrap_or_default(),
            },
            ErrorClass::Server => ConnectorError::Api {
                platform: "linkedin",
                // `HTTP 5xx`: the engine reads it as an outcome it cannot know
                code: format!("HTTP {}", self.status),
                message: self.text(),
                hint: self.hint(account),
            },
            _ => ConnectorError::Api {
                platform: "linkedin",
                code: self.code_text(),
                message: self.text(),
                hint: self.hint(account),
            },
        }
    }
}

/// Codes of the error registry with a fix of their own.
const CODE_HINTS: &[(&str, &str)] = &[
    (
        "CURRENCY_MISMATCH",
        "every amount must be in the ad account's currency: check `currency` in adsctl.yaml against the account",
    ),
    (
        "INVALID_CAMPAIGN_CONFIGURATION",
        "LinkedIn refuses this combination of objective_type, format, type, optimization_target_type, cost_type, \
         offsite_delivery_enabled and audience_expansion_enabled: see LinkedIn's objective / bidding combinations",
    ),
    (
        "DELETE_ALLOWED_ONLY_FOR_DRAFT_STATUS",
        "only DRAFT objects can be deleted; others are archived (run `adsctl plan` again)",
    ),
    (
        "MULTIPLE_ACCOUNTS_UNSUPPORTED",
        "a batch mixed ad accounts (an adsctl bug: please report it)",
    ),
    (
        "IMMUTABLE_CAMPAIGN_OBJECTIVE_TYPE",
        "a campaign's objective_type cannot change: the plan should replace the campaign",
    ),
    (
        "ONLY_DRAFT_CAMPAIGNS_ALLOWED_IN_DRAFT_CAMPAIGN_GROUPS",
        "a DRAFT campaign group holds only DRAFT campaigns: activate the group first, or keep the campaign a draft",
    ),
    (
        "SEGMENT_LIMIT_EXCEEDED",
        "an ad account holds at most 1,000 DMP segments (from version 202608): remove unused audiences",
    ),
    (
        "NO_PERMISSION_ON_ENTITY",
        "the member has no role on this object's ad account that allows it (ACCOUNT_BILLING_ADMIN, ACCOUNT_MANAGER, \
         CAMPAIGN_MANAGER or CREATIVE_MANAGER; VIEWER is read-only)",
    ),
];

/// The fix for a missing, expired or revoked token.
pub fn auth_hint(account: Option<&str>) -> String {
    let acct = account.unwrap_or("<account>");
    format!(
        "the LinkedIn access token is missing, expired or revoked: run `adsctl auth refresh {acct}` (access tokens \
         last 60 days) or `adsctl auth login {acct}` (the refresh token lasts 365 days from the first consent and \
         is not renewed), or set ADSCTL_LINKEDIN_ACCESS_TOKEN"
    )
}

/// The fix for a 403.
pub fn forbidden_hint() -> String {
    "the token lacks a scope or the member lacks a role on the ad account: log in again granting rw_ads (and \
     rw_dmp_segments for audiences, r_ads_reporting for metrics), and give the member the role \
     ACCOUNT_BILLING_ADMIN, ACCOUNT_MANAGER, CAMPAIGN_MANAGER or CREATIVE_MANAGER (VIEWER is read-only)"
        .into()
}

pub fn class_of(status: u16) -> ErrorClass {
    match status {
        401 => ErrorClass::Auth,
        403 => ErrorClass::Forbidden,
        404 => ErrorClass::NotFound,
        426 => ErrorClass::VersionSunset,
        429 => ErrorClass::RateLimited,
        500 | 503 | 504 => ErrorClass::Server,
        _ => ErrorClass::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_429_and_500_503_504_are_retryable() {
        assert_eq!(class_of(429), ErrorClass::RateLimited);
        for s in [500, 503, 504] {
            assert_eq!(class_of(s), ErrorClass::Server, "{s}");
        }
        for s in [400, 405, 409, 411, 412, 414, 422, 501, 502] {
            assert_eq!(class_of(s), ErrorClass::Permanent, "{s}");
        }
        assert_eq!(class_of(401), ErrorClass::Auth);
        assert_eq!(class_of(403), ErrorClass::Forbidden);
        assert_eq!(class_of(426), ErrorClass::VersionSunset);
    }

    #[test]
    fn classic_envelope() {
        let e = ApiError::parse(
            401,
            r#"{"message":"Empty oauth2_access_token","serviceErrorCode":401,"status":401}"#,
        );
        assert!(!e.is_new_envelope());
        assert_eq!(e.code_text(), "401");
        assert_eq!(e.class(), ErrorClass::Auth);
        let ce = e.to_connector_error(Some("li-main"));
        assert!(matches!(ce, ConnectorError::Auth { .. }));
        assert!(ce.hint().unwrap().contains("adsctl auth login li-main"));
        let v = ApiError::parse(400, r#"{"status":400,"serviceErrorCode":10007,"message":"bad field"}"#);
        assert_eq!(v.to_op_error(None).code, "10007");
    }

    #[test]
    fn new_envelope_with_input_errors() {
        let body = r#"{"status":400,"code":"MULTIPLE_VALIDATIONS_FAILED","message":"Multiple validations failed",
            "errorDetailType":"com.linkedin.common.error.BadRequest",
            "errorDetails":{"inputErrors":[{"description":"Total budget must be at least the daily budget",
              "input":{"inputPath":{"fieldPath":"totalBudget"}},"code":"FIELD_VALUE_CONDITIONAL_TOO_LOW"}]}}"#;
        let e = ApiError::parse(400, body);
        assert!(e.is_new_envelope());
        assert_eq!(e.detail_type.as_deref(), Some("com.linkedin.common.error.BadRequest"));
        let op = e.to_op_error(Some("li"));
        assert_eq!(op.code, "MULTIPLE_VALIDATIONS_FAILED");
        assert_eq!(op.field.as_deref(), Some("totalBudget"));
        assert!(
            op.message.contains("totalBudget: Total budget must be"),
            "{}",
            op.message
        );
        assert!(e.names("FIELD_VALUE_CONDITIONAL_TOO_LOW"));
    }

    #[test]
    fn hints_name_the_fix() {
        let e = ApiError::parse(403, r#"{"status":403,"code":"NO_PERMISSION_ON_ENTITY","message":"no"}"#);
        assert!(e.hint(None).unwrap().contains("CAMPAIGN_MANAGER"));
        let e = ApiError::parse(
            403,
            r#"{"status":403,"serviceErrorCode":100,"message":"Not enough permissions"}"#,
        );
        let h = e.hint(None).unwrap();
        assert!(
            h.contains("rw_ads") && h.contains("rw_dmp_segments") && h.contains("ACCOUNT_MANAGER"),
            "{h}"
        );
        let e = ApiError::parse(
            426,
            r#"{"status":426,"message":"Requested version 202608 is not active"}"#,
        );
        assert!(e.hint(None).unwrap().contains("sunset"));
        assert_eq!(e.class(), ErrorClass::VersionSunset);
        let e = ApiError::parse(400, r#"{"status":400,"code":"CURRENCY_MISMATCH","message":"x"}"#);
        assert!(e.hint(None).unwrap().contains("currency"));
        let e = ApiError::parse(
            400,
            r#"{"status":400,"code":"INVALID_CAMPAIGN_CONFIGURATION","message":"x"}"#,
        );
        assert!(e.hint(None).unwrap().contains("objective_type"));
        let e = ApiError::parse(429, "");
        assert!(matches!(e.to_connector_error(None), ConnectorError::Quota { .. }));
        let e = ApiError::parse(503, "<html>down</html>");
        assert_eq!(e.message, "<html>down</html>");
        assert!(e.to_connector_error(None).outcome_unknown());
    }
}
