//! Graph API errors: the wire shape, what each code means for us, and how it reaches the user.

use serde::Deserialize;

use crate::connectors::{ConnectorError, OpError};

/// `{"error": {...}}` as the Graph API sends it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub error_user_title: Option<String>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
    #[serde(default)]
    pub is_transient: bool,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

/// What to do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The token is invalid or expired (190, 102): stop, tell the user how to log in again.
    Auth,
    /// A rate limit (4, 17, 32, 613, 80000–80004): wait and retry.
    RateLimited,
    /// `is_transient`, or a service hiccup (1, 2): retry with backoff.
    Transient,
    /// Anything else: a real rejection of this request.
    Permanent,
}

impl GraphError {
    /// Parse an error body; `None` when it is not a Graph error envelope.
    pub fn parse(body: &str) -> Option<GraphError> {
        // Only an object with an `error` object: serde would also read a struct from a JSON array.
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        if !v.get("error").is_some_and(serde_json::Value::is_object) {
            return None;
        }
        serde_json::from_value::<Envelope>(v).ok().map(|e| e.error)
    }

    pub fn class(&self) -> ErrorClass {
        match self.code {
            190 | 102 => ErrorClass::Auth,
            4 | 17 | 32 | 613 | 80000..=80004 => ErrorClass::RateLimited,
            _ if self.is_transient => ErrorClass::Transient,
            2 => ErrorClass::Transient,
            // Code 1 is "unknown error"; "Please reduce the amount of data" is handled by the pager.
            1 if !self.is_reduce_data() => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.class(), ErrorClass::RateLimited | ErrorClass::Transient)
    }

    /// "Please reduce the amount of data you're asking for, then retry your request" (code 1).
    pub fn is_reduce_data(&self) -> bool {
        self.code == 1 && self.message.to_ascii_lowercase().contains("reduce the amount of data")
    }

    /// `17`, or `100.1487` with the subcode.
    pub fn code_string(&self) -> String {
        match self.error_subcode {
            Some(s) => format!("{}.{}", self.code, s),
            None => self.code.to_string(),
        }
    }

    /// The most useful text for a person: the user-facing title and message when Meta gives them.
    pub fn user_text(&self) -> String {
        match (&self.error_user_title, &self.error_user_msg) {
            (Some(t), Some(m)) if !t.is_empty() && !m.is_empty() => format!("{t}: {m}"),
            (_, Some(m)) if !m.is_empty() => m.clone(),
            (Some(t), _) if !t.is_empty() => format!("{t}: {}", self.message),
            _ => self.message.clone(),
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self.class() {
            ErrorClass::Auth => Some(auth_hint(None)),
            ErrorClass::RateLimited => {
                Some("Meta is rate limiting this app or ad account; adsctl waits and retries, try again later".into())
            }
            ErrorClass::Transient => Some("a temporary Meta error; retry".into()),
            ErrorClass::Permanent => match self.code {
                10 | 200..=299 => {
                    Some("the token lacks a permission (ads_management, ads_read) on this ad account".into())
                }
                100 => Some("Meta rejected a parameter; check the field named in the message".into()),
                _ => None,
            },
        }
    }

    /// This error as the outcome of one operation.
    pub fn to_op_error(&self) -> OpError {
        OpError {
            code: self.code_string(),
            message: self.user_text(),
            field: None,
            hint: self.hint(),
        }
    }

    /// This error as a whole-call failure.
    pub fn to_connector_error(&self, account: Option<&str>) -> ConnectorError {
        match self.class() {
            ErrorClass::Auth => ConnectorError::Auth {
                message: format!(
                    "Meta rejected the access token ({}): {}",
                    self.code_string(),
                    self.message
                ),
                hint: auth_hint(account),
            },
            ErrorClass::RateLimited => ConnectorError::Quota {
                message: format!("Meta rate limit ({}): {}", self.code_string(), self.user_text()),
                hint: self.hint().unwrap_or_default(),
            },
            _ => ConnectorError::Api {
                platform: "meta",
                code: self.code_string(),
                message: self.user_text(),
                hint: self.hint(),
            },
        }
    }
}

/// The fix for an expired or invalid token.
pub fn auth_hint(account: Option<&str>) -> String {
    let acct = account.unwrap_or("<account>");
    format!("the Meta access token is expired or invalid: run `adsctl auth login {acct}` or set FACEBOOK_ACCESS_TOKEN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_error_body() {
        let body = r#"{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,
            "error_subcode":1487390,"error_user_title":"Ad Set Budget Too Low",
            "error_user_msg":"The daily budget must be at least $1.00.","fbtrace_id":"AbC","is_transient":false}}"#;
        let e = GraphError::parse(body).unwrap();
        assert_eq!(e.code, 100);
        assert_eq!(e.code_string(), "100.1487390");
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert_eq!(
            e.user_text(),
            "Ad Set Budget Too Low: The daily budget must be at least $1.00."
        );
        let op = e.to_op_error();
        assert_eq!(op.code, "100.1487390");
        assert!(op.message.contains("at least $1.00"));
    }

    #[test]
    fn classifies_codes() {
        let e = |code, transient| GraphError {
            code,
            is_transient: transient,
            message: "x".into(),
            ..Default::default()
        };
        for c in [4, 17, 32, 613, 80000, 80004] {
            assert_eq!(e(c, false).class(), ErrorClass::RateLimited, "{c}");
        }
        assert_eq!(e(190, false).class(), ErrorClass::Auth);
        assert_eq!(e(102, false).class(), ErrorClass::Auth);
        assert_eq!(e(100, true).class(), ErrorClass::Transient);
        assert_eq!(e(2, false).class(), ErrorClass::Transient);
        assert_eq!(e(100, false).class(), ErrorClass::Permanent);
        let reduce = GraphError {
            code: 1,
            message: "Please reduce the amount of data you're asking for, then retry your request".into(),
            ..Default::default()
        };
        assert!(reduce.is_reduce_data());
        assert_eq!(reduce.class(), ErrorClass::Permanent);
    }

    #[test]
    fn expired_token_carries_the_fix() {
        let body = r#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463}}"#;
        let e = GraphError::parse(body).unwrap();
        let ce = e.to_connector_error(Some("acme-social"));
        assert!(matches!(ce, ConnectorError::Auth { .. }));
        assert!(ce.hint().unwrap().contains("adsctl auth login acme-social"));
        assert!(ce.hint().unwrap().contains("FACEBOOK_ACCESS_TOKEN"));
    }

    #[test]
    fn non_graph_bodies_are_not_errors() {
        assert!(GraphError::parse("<html>bad gateway</html>").is_none());
        assert!(GraphError::parse(r#"{"id":"1"}"#).is_none());
        // A batch response is an array: never an error envelope.
        assert!(GraphError::parse(r#"[{"code":200,"body":"{}"}]"#).is_none());
    }
}
