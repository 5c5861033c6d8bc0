//! TikTok's return codes and the response envelope `{"code","message","request_id","data"}`: business errors
//! travel with HTTP 200 and `data: {}` (WIRE-NOTES § Envelope, success test, errors).

use serde_json::{json, Value};

/// A business error: its return code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: i64,
    pub message: String,
}

pub const OK: i64 = 0;
pub const PARTIAL_SUCCESS: i64 = 20001;
pub const PARAM_ERROR: i64 = 40002;
pub const NO_PERMISSION: i64 = 40001;
pub const NOT_FOUND: i64 = 40007;
pub const TOO_MANY_IDS: i64 = 40011;
pub const APP_RATE_LIMIT: i64 = 40100;
pub const BAD_APP: i64 = 40101;
pub const TOKEN_EMPTY: i64 = 40104;
pub const TOKEN_INVALID: i64 = 40105;
pub const BAD_AUTH_CODE: i64 = 40110;
pub const ADVERTISER_RATE_LIMIT: i64 = 40133;
pub const TASK_NOT_READY: i64 = 40201;
pub const ADVERTISER_NOT_FOUND: i64 = 40300;
pub const MAX_ADS: i64 = 40502;
pub const SYSTEM_ERROR: i64 = 50000;

impl ApiError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
    /// 40002: a parameter error; the message says which.
    pub fn param(message: impl Into<String>) -> Self {
        Self::new(PARAM_ERROR, message)
    }
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(NOT_FOUND, format!("{what} {id} does not exist."))
    }
    pub fn token_empty() -> Self {
        Self::new(
            TOKEN_EMPTY,
            "Access token is null, you should set it in http header with key Access-Token.",
        )
    }
    pub fn token_invalid() -> Self {
        Self::new(TOKEN_INVALID, "Access token is incorrect or has been revoked.")
    }
    pub fn app_rate_limit() -> Self {
        Self::new(APP_RATE_LIMIT, "Requests made too frequently. Please try again later.")
    }
    pub fn advertiser_rate_limit() -> Self {
        Self::new(
            ADVERTISER_RATE_LIMIT,
            "Requests made too frequently for this advertiser. Please try again later.",
        )
    }
    pub fn system() -> Self {
        Self::new(SYSTEM_ERROR, "System error, please try again later.")
    }
}

/// The envelope of every JSON answer.
pub fn envelope(code: i64, message: &str, request_id: &str, data: Value) -> Value {
    json!({"code": code, "message": message, "request_id": request_id, "data": data})
}

/// The envelope of an error (`data: {}`).
pub fn error_envelope(e: &ApiError, request_id: &str) -> Value {
    envelope(e.code, &e.message, request_id, json!({}))
}
