//! Google Ads errors: the two wire envelopes (front-end `google.rpc.BadRequest`, backend `GoogleAdsFailure`)
//! parsed into typed errors with the field path and an actionable hint.

use std::time::Duration;

use serde_json::Value as Json;

use crate::connectors::{ConnectorError, OpError};

/// One error of a `GoogleAdsFailure` (or one `fieldViolation` of a front-end `BadRequest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdsError {
    /// `AUTHORIZATION_ERROR.USER_PERMISSION_DENIED`: the `errorCode` oneof member in upper snake case, a dot,
    /// the enum value. Front-end rejections use the rpc status (`INVALID_ARGUMENT`).
    pub code: String,
    pub message: String,
    /// `operations[0].create.name`, from `location.fieldPathElements`.
    pub field: Option<String>,
    /// The index of the first field path element that has one: the operation the error belongs to.
    pub operation_index: Option<usize>,
    /// `quotaErrorDetails.rateName`.
    pub rate_name: Option<String>,
    /// `quotaErrorDetails.rateScope`.
    pub rate_scope: Option<String>,
    /// `quotaErrorDetails.retryDelay`.
    pub retry_delay: Option<Duration>,
}

impl AdsError {
    pub fn hint(&self) -> Option<String> {
        hint_for(&self.code).map(str::to_string)
    }
    pub fn to_op_error(&self) -> OpError {
        OpError {
            code: self.code.clone(),
            message: self.message.clone(),
            field: self.field.clone(),
            hint: self.hint(),
        }
    }
}

/// A non-2xx answer of the API, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFailure {
    pub http_status: u16,
    /// The rpc status (`INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, …).
    pub status: String,
    pub message: String,
    pub errors: Vec<AdsError>,
    pub request_id: Option<String>,
}

impl ApiFailure {
    /// The retry delay the server asks for (429 `quotaErrorDetails.retryDelay`).
    pub fn retry_delay(&self) -> Option<Duration> {
        self.errors.iter().filter_map(|e| e.retry_delay).max()
    }
    pub fn rate_name(&self) -> Option<&str> {
        self.errors.iter().find_map(|e| e.rate_name.as_deref())
    }
    pub fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }
    /// Worth retrying as is (after a backoff): UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, CONCURRENT_MODIFICATION.
    pub fn is_transient(&self) -> bool {
        matches!(self.status.as_str(), "UNAVAILABLE" | "DEADLINE_EXCEEDED" | "INTERNAL")
            || matches!(self.http_status, 500 | 502 | 503 | 504)
            || self.errors.iter().any(|e| {
                matches!(
                    e.code.as_str(),
                    "DATABASE_ERROR.CONCURRENT_MODIFICATION"
                        | "INTERNAL_ERROR.INTERNAL_ERROR"
                        | "INTERNAL_ERROR.TRANSIENT_ERROR"
                        | "INTERNAL_ERROR.DEADLINE_EXCEEDED"
                )
            })
    }
    pub fn is_rate_limited(&self) -> bool {
        self.http_status == 429 || self.status == "RESOURCE_EXHAUSTED"
    }
    /// Every error is about one operation (a per-operation verdict, not a whole-request failure).
    pub fn all_per_operation(&self) -> bool {
        !self.errors.is_empty() && self.errors.iter().all(|e| e.operation_index.is_some())
    }
    fn first_hint(&self) -> Option<String> {
        self.errors.iter().find_map(|e| e.hint())
    }
    fn summary(&self) -> String {
        match self.errors.first() {
            Some(e) => {
                let mut s = format!("{}: {}", e.code, e.message);
                if let Some(f) = &e.field {
                    s.push_str(&format!(" (at {f})"));
                }
                if self.errors.len() > 1 {
                    s.push_str(&format!(" (+{} more)", self.errors.len() - 1));
                }
                s
            }
            None => self.message.clone(),
        }
    }
}

/// Errors of the Google Ads connector, typed by what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum GoogleAdsError {
    #[error("Google Ads credentials are missing: {detail}")]
    MissingCredentials {
        /// The account's name in adsctl.yaml (what `adsctl auth login` takes).
        account: String,
        detail: String,
    },
    #[error("could not get a Google access token: {0}")]
    OAuth(String),
    #[error("Google Ads rejected the credentials: {}", .0.summary())]
    Unauthenticated(ApiFailure),
    #[error("Google Ads denied access: {}", .0.summary())]
    PermissionDenied(ApiFailure),
    #[error("Google Ads quota `{rate_name}` is exhausted: retry in {}", human_duration(*.retry_delay))]
    QuotaExhausted {
        rate_name: String,
        retry_delay: Duration,
        /// The limit on waiting it exceeded (the connector's `max_retry_delay`, or the run's `--max-wait`).
        limit: Option<Duration>,
    },
    #[error("Google Ads API error {}: {}", .0.status, .0.summary())]
    Api(ApiFailure),
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },
    #[error("unexpected Google Ads response: {0}")]
    Decode(String),
    #[error("{0}")]
    Config(String),
}

pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

impl From<GoogleAdsError> for ConnectorError {
    fn from(e: GoogleAdsError) -> ConnectorError {
        let message = e.to_string();
        match e {
            GoogleAdsError::MissingCredentials { account, .. } => ConnectorError::Auth {
                message,
                hint: format!(
                    "run `adsctl auth login {account}`, or set GOOGLE_ADS_CLIENT_ID, GOOGLE_ADS_CLIENT_SECRET, \
                     GOOGLE_ADS_DEVELOPER_TOKEN and GOOGLE_ADS_REFRESH_TOKEN; to try adsctl without an account, \
                     add --emulator"
                ),
            },
            GoogleAdsError::OAuth(_) => ConnectorError::Auth {
                message,
                hint: "the refresh token may be revoked or expired: create a new one, and check the client id \
                       and secret belong to the same OAuth client"
                    .into(),
            },
            GoogleAdsError::Unauthenticated(f) | GoogleAdsError::PermissionDenied(f) => ConnectorError::Auth {
                message,
                hint: f.first_hint().unwrap_or_else(|| {
                    "check the OAuth user has access to this customer id (and the login-customer-id when acting \
                     through a manager account)"
                        .into()
                }),
            },
            // The platform (or adsctl's own budget) asks to wait longer than this run waits: stop, and say when
            // to run again.
            GoogleAdsError::QuotaExhausted {
                rate_name,
                retry_delay,
                limit,
            } => {
                let _ = message;
                let reason = if rate_name.starts_with("adsctl's budget") {
                    rate_name
                } else {
                    format!("Google Ads quota `{rate_name}`")
                };
                ConnectorError::Wait(crate::connectors::wait::TooLong::new(reason, retry_delay, limit))
            }
            GoogleAdsError::Api(f) => ConnectorError::Api {
                platform: "google_ads",
                code: f
                    .errors
                    .first()
                    .map(|e| e.code.clone())
                    .unwrap_or_else(|| f.status.clone()),
                hint: f.first_hint(),
                message: f.summary(),
            },
            GoogleAdsError::Transport { url, message } => ConnectorError::Transport { url, message },
            GoogleAdsError::Decode(_) | GoogleAdsError::Config(_) => ConnectorError::Config(message),
        }
    }
}

/// An actionable hint for a Google Ads error code.
pub fn hint_for(code: &str) -> Option<&'static str> {
    let value = code.rsplit('.').next().unwrap_or(code);
    Some(match value {
        "NOT_ADS_USER" => {
            "the Google account behind the refresh token has no Google Ads access: sign in with a user of the \
             account (or of its manager) and create a new refresh token"
        }
        "DEVELOPER_TOKEN_NOT_APPROVED" => {
            "the developer token only has test access: use a test account, or apply for Basic access in the API \
             Center of the manager account"
        }
        "DEVELOPER_TOKEN_INVALID" | "DEVELOPER_TOKEN_PROHIBITED" | "DEVELOPER_TOKEN_NOT_ON_ALLOWLIST" => {
            "check GOOGLE_ADS_DEVELOPER_TOKEN: copy it from the API Center of your manager account"
        }
        "USER_PERMISSION_DENIED" => {
            "the user cannot act on this customer directly: set `login_customer_id` (or GOOGLE_ADS_LOGIN_CUSTOMER_ID) \
             to the manager account the access goes through"
        }
        "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION" => {
            "the login-customer-id is not a manager of this customer: check `login_customer_id`"
        }
        "CUSTOMER_NOT_ENABLED" => "the customer account is not enabled (cancelled or not yet set up)",
        "CUSTOMER_NOT_FOUND" | "CLIENT_CUSTOMER_ID_INVALID" => {
            "check `customer_id` in adsctl.yaml (10 digits, dashes allowed)"
        }
        "OAUTH_TOKEN_EXPIRED" | "OAUTH_TOKEN_INVALID" | "OAUTH_TOKEN_REVOKED" | "OAUTH_TOKEN_DISABLED" => {
            "the access token was refused: create a new refresh token (`adsctl auth login ACCOUNT`, with the \
             account's name from adsctl.yaml)"
        }
        "TWO_STEP_VERIFICATION_NOT_ENROLLED" => "turn on 2-step verification for the Google account",
        "MERCHANT_ID_CANNOT_BE_ACCESSED" => {
            "the Merchant Center account is not linked to this Google Ads customer: accept the link in Merchant \
             Center (or Google Ads > Tools > Linked accounts), or fix `merchant_center_id`"
        }
        "MISSING_TOS" => "accept the Google Ads API terms of service in the API Center",
        "RESOURCE_EXHAUSTED" | "RESOURCE_TEMPORARILY_EXHAUSTED" => {
            "the API quota is exhausted: wait for the retry delay, or lower ADSCTL_GOOGLE_ADS_RATE_PER_MINUTE"
        }
        "CONCURRENT_MODIFICATION" => "someone else changed the same object at the same time: run plan again",
        "DUPLICATE_CAMPAIGN_NAME" | "DUPLICATE_ADGROUP_NAME" | "DUPLICATE_NAME" => {
            "a live object already has this name: adopt it with an `id:` pin, or rename one of them"
        }
        "TOO_MANY_MUTATE_OPERATIONS" => "lower ADSCTL_GOOGLE_ADS_MAX_OPS (at most 10,000 operations a request)",
        "CANNOT_MODIFY_FIELD" | "IMMUTABLE_FIELD" => {
            "this field cannot change after creation: the object must be replaced"
        }
        _ => return None,
    })
}

fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c);
        } else {
            out.push(c.to_ascii_uppercase());
        }
    }
    out
}

/// Parse a protobuf JSON Duration (`"40591s"`, `"1.5s"`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let secs = s.trim().strip_suffix('s')?;
    let (int, frac) = secs.split_once('.').unwrap_or((secs, ""));
    let int: u64 = int.parse().ok()?;
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        nanos += u32::from(b - b'0') * 10_u32.pow(8 - i as u32);
    }
    Some(Duration::new(int, nanos))
}

fn field_path(location: &Json) -> (Option<String>, Option<usize>) {
    let Some(elements) = location.get("fieldPathElements").and_then(Json::as_array) else {
        return (None, None);
    };
    let mut path = String::new();
    let mut index = None;
    for el in elements {
        let name = el.get("fieldName").and_then(Json::as_str).unwrap_or("?");
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
        if let Some(i) = el.get("index").and_then(Json::as_u64) {
            path.push_str(&format!("[{i}]"));
            if index.is_none() {
                index = Some(i as usize);
            }
        }
    }
    (if path.is_empty() { None } else { Some(path) }, index)
}

/// Parse the errors of a `GoogleAdsFailure` (the JSON object with `errors` and `requestId`).
pub fn parse_failure(failure: &Json) -> Vec<AdsError> {
    let Some(errors) = failure.get("errors").and_then(Json::as_array) else {
        return Vec::new();
    };
    errors
        .iter()
        .map(|e| {
            let code = e
                .get("errorCode")
                .and_then(Json::as_object)
                .and_then(|o| o.iter().next())
                .map(|(k, v)| format!("{}.{}", upper_snake(k), v.as_str().unwrap_or("UNKNOWN")))
                .unwrap_or_else(|| "UNKNOWN".into());
            let (field, operation_index) = e.get("location").map(field_path).unwrap_or((None, None));
            let quota = e.get("details").and_then(|d| d.get("quotaErrorDetails"));
            AdsError {
                code,
                message: e.get("message").and_then(Json::as_str).unwrap_or_default().to_string(),
                field,
                operation_index,
                rate_name: quota
                    .and_then(|q| q.get("rateName"))
                    .and_then(Json::as_str)
                    .map(str::to_string),
                rate_scope: quota
                    .and_then(|q| q.get("rateScope"))
                    .and_then(Json::as_str)
                    .map(str::to_string),
                retry_delay: quota
                    .and_then(|q| q.get("retryDelay"))
                    .and_then(Json::as_str)
                    .and_then(parse_duration),
            }
        })
        .collect()
}

/// Errors out of a `google.rpc.Status` JSON object (`{code, message, details}`), as in an error envelope or a
/// `partialFailureError`.
pub fn parse_status(status: &Json) -> (String, String, Vec<AdsError>, Option<String>) {
    let rpc = status
        .get("status")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let message = status
        .get("message")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let mut errors = Vec::new();
    let mut request_id = None;
    for d in status.get("details").and_then(Json::as_array).into_iter().flatten() {
        let ty = d.get("@type").and_then(Json::as_str).unwrap_or_default();
        if ty.ends_with(".errors.GoogleAdsFailure") {
            errors.extend(parse_failure(d));
            if let Some(r) = d.get("requestId").and_then(Json::as_str) {
                request_id = Some(r.to_string());
            }
        } else if ty.ends_with("google.rpc.BadRequest") {
            for v in d.get("fieldViolations").and_then(Json::as_array).into_iter().flatten() {
                let field = v.get("field").and_then(Json::as_str).map(str::to_string);
                let operation_index = field.as_deref().and_then(first_index);
                errors.push(AdsError {
                    code: if rpc.is_empty() {
                        "INVALID_ARGUMENT".into()
                    } else {
                        rpc.clone()
                    },
                    message: v
                        .get("description")
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    field,
                    operation_index,
                    rate_name: None,
                    rate_scope: None,
                    retry_delay: None,
                });
            }
        }
    }
    (rpc, message, errors, request_id)
}

/// `operations[3].create` → 3.
fn first_index(path: &str) -> Option<usize> {
    let start = path.find('[')?;
    let end = path[start..].find(']')? + start;
    path[start + 1..end].parse().ok()
}

/// Parse an error response body. Bodies that are not JSON (a proxy's HTML page) become a plain failure.
pub fn parse_error_body(http_status: u16, body: &str) -> ApiFailure {
    let json: Option<Json> = serde_json::from_str(body).ok();
    // Some front ends answer with a one-element array around the envelope.
    let envelope = json.as_ref().and_then(|j| match j {
        Json::Array(a) => a.first().and_then(|x| x.get("error")).cloned(),
        other => other.get("error").cloned(),
    });
    match envelope {
        Some(err) => {
            let (status, message, errors, request_id) = parse_status(&err);
            ApiFailure {
                http_status,
                status: if status.is_empty() {
                    status_for_http(http_status).into()
                } else {
                    status
                },
                message,
                errors,
                request_id,
            }
        }
        None => {
            let mut message: String = body.chars().take(300).collect();
            if message.trim().is_empty() {
                message = format!("HTTP {http_status}");
            }
            ApiFailure {
                http_status,
                status: status_for_http(http_status).into(),
                message,
                errors: Vec::new(),
                request_id: None,
            }
        }
    }
}

fn status_for_http(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

/// Classify a final (non-retried) failure.
pub fn classify(f: ApiFailure) -> GoogleAdsError {
    match f.status.as_str() {
        "UNAUTHENTICATED" => GoogleAdsError::Unauthenticated(f),
        "PERMISSION_DENIED" => GoogleAdsError::PermissionDenied(f),
        _ if f.http_status == 401 => GoogleAdsError::Unauthenticated(f),
        _ if f.http_status == 403 => GoogleAdsError::PermissionDenied(f),
        _ => GoogleAdsError::Api(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: &str = r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).",
      "status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure",
      "errors":[{"errorCode":{"quotaError":"RESOURCE_EXHAUSTED"},"message":"Too many requests. Retry in 40591 seconds.",
      "details":{"quotaErrorDetails":{"rateScope":"DEVELOPER","rateName":"Number of operations for basic access","retryDelay":"40591s"}}}],
      "requestId":"abc"}]}}"#;

    #[test]
    fn parses_quota_failure() {
        let f = parse_error_body(429, QUOTA);
        assert_eq!(f.status, "RESOURCE_EXHAUSTED");
        assert!(f.is_rate_limited());
        assert!(!f.is_transient());
        assert_eq!(f.retry_delay(), Some(Duration::from_secs(40591)));
        assert_eq!(f.rate_name(), Some("Number of operations for basic access"));
        assert_eq!(f.errors[0].code, "QUOTA_ERROR.RESOURCE_EXHAUSTED");
        assert_eq!(f.errors[0].rate_scope.as_deref(), Some("DEVELOPER"));
        assert_eq!(f.request_id.as_deref(), Some("abc"));
    }

    #[test]
    fn parses_field_paths_and_hints() {
        let body = r#"{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED",
          "details":[{"@type":"type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure","errors":[
          {"errorCode":{"authorizationError":"USER_PERMISSION_DENIED"},"message":"User doesn't have permission.",
           "location":{"fieldPathElements":[{"fieldName":"mutate_operations","index":2},{"fieldName":"campaign_operation"},{"fieldName":"create"},{"fieldName":"name"}]}}]}]}}"#;
        let f = parse_error_body(403, body);
        let e = &f.errors[0];
        assert_eq!(e.code, "AUTHORIZATION_ERROR.USER_PERMISSION_DENIED");
        assert_eq!(
            e.field.as_deref(),
            Some("mutate_operations[2].campaign_operation.create.name")
        );
        assert_eq!(e.operation_index, Some(2));
        assert!(e.hint().unwrap().contains("login_customer_id"));
        let ce: ConnectorError = classify(f).into();
        assert!(matches!(ce, ConnectorError::Auth { .. }));
        assert!(ce.hint().unwrap().contains("login_customer_id"));
    }

    #[test]
    fn every_named_error_has_a_hint() {
        for code in [
            "AUTHENTICATION_ERROR.NOT_ADS_USER",
            "AUTHORIZATION_ERROR.DEVELOPER_TOKEN_NOT_APPROVED",
            "AUTHORIZATION_ERROR.USER_PERMISSION_DENIED",
            "AUTHORIZATION_ERROR.CUSTOMER_NOT_ENABLED",
            "AUTHENTICATION_ERROR.OAUTH_TOKEN_EXPIRED",
            "QUOTA_ERROR.RESOURCE_EXHAUSTED",
            "DATABASE_ERROR.CONCURRENT_MODIFICATION",
        ] {
            assert!(hint_for(code).is_some(), "{code}");
        }
        assert_eq!(hint_for("CAMPAIGN_ERROR.SOMETHING_ELSE"), None);
    }

    #[test]
    fn parses_front_end_bad_request() {
        let body = r#"{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name \"x\" at 'operations[0].create': Cannot find field.",
          "status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[
          {"field":"operations[0].create","description":"Invalid JSON payload received. Unknown name \"x\""}]}]}}"#;
        let f = parse_error_body(400, body);
        assert_eq!(f.errors.len(), 1);
        assert_eq!(f.errors[0].code, "INVALID_ARGUMENT");
        assert_eq!(f.errors[0].operation_index, Some(0));
        assert_eq!(f.errors[0].field.as_deref(), Some("operations[0].create"));
    }

    #[test]
    fn transient_and_plain_bodies() {
        let f = parse_error_body(503, "<html>Service Unavailable</html>");
        assert_eq!(f.status, "UNAVAILABLE");
        assert!(f.is_transient());
        let body = r#"{"error":{"code":409,"status":"ABORTED","message":"x","details":[{"@type":"type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure","errors":[{"errorCode":{"databaseError":"CONCURRENT_MODIFICATION"},"message":"Multiple requests were attempting to modify the same resource at once."}]}]}}"#;
        assert!(parse_error_body(409, body).is_transient());
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("12"), None);
        assert_eq!(human_duration(Duration::from_secs(40591)), "11h16m");
    }
}
