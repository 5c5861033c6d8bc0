//! X's error envelope (`{"errors": [{"code", "message", "parameter"?}], "request": {"params": …}}`), the errors
//! every handler shares, and the reply a handler returns.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json as AxumJson;
use serde_json::{json, Value};

use super::API_VERSION;

/// One API error: HTTP status, CAPS_CASE code, message, the parameter it concerns.
#[derive(Clone, Debug)]
pub struct XErr {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub parameter: Option<String>,
}

impl XErr {
    pub(super) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        XErr {
            status,
            code,
            message: message.into(),
            parameter: None,
        }
    }
    pub(super) fn param(mut self, p: &str) -> Self {
        self.parameter = Some(p.to_string());
        self
    }
    pub(super) fn json(&self) -> Value {
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(p) = &self.parameter {
            e["parameter"] = json!(p);
        }
        e
    }
}

pub(super) fn invalid(p: &str, msg: impl Into<String>) -> XErr {
    XErr::new(400, "INVALID_PARAMETER", msg).param(p)
}
pub(super) fn missing(p: &str) -> XErr {
    XErr::new(400, "MISSING_PARAMETER", format!("{p} is required")).param(p)
}
pub(super) fn unauthorized(msg: &str) -> XErr {
    XErr::new(
        401,
        "UNAUTHORIZED_ACCESS",
        format!("This request is not properly authenticated: {msg}"),
    )
}
pub(super) fn account_not_found(a: &str) -> XErr {
    XErr::new(
        403,
        "ACCOUNT_NOT_FOUND",
        format!("User is not authorized to use account {a}"),
    )
}
pub(super) fn route_not_found() -> XErr {
    XErr::new(404, "ROUTE_NOT_FOUND", "The requested resource could not be found")
}

pub(super) fn with_headers(mut r: Response, headers: &[(String, String)]) -> Response {
    r.headers_mut()
        .insert("x-current-api-version", HeaderValue::from_static(API_VERSION));
    for (k, v) in headers {
        if let (Ok(n), Ok(v)) = (header::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            r.headers_mut().insert(n, v);
        }
    }
    r
}

pub(super) fn error_response(errs: &[XErr], request: Value, headers: &[(String, String)]) -> Response {
    let status = StatusCode::from_u16(errs.first().map_or(500, |e| e.status)).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"errors": errs.iter().map(XErr::json).collect::<Vec<_>>(), "request": request});
    with_headers((status, AxumJson(body)).into_response(), headers)
}

pub(super) type Routed = Result<Reply, (Vec<XErr>, Value)>;

/// What a handler returns: the body, HTTP status, operations carried.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Value,
    pub(super) ops: u64,
}
