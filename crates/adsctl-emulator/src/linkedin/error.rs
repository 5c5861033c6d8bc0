//! LinkedIn's two error envelopes (WIRE-NOTES § Errors):
//! - classic `{"status":400,"serviceErrorCode":100,"message":"…"}` (every resource; the 401 sample is
//!   `{"message":"Empty oauth2_access_token","serviceErrorCode":401,"status":401}`);
//! - new, for adAccounts, adCampaignGroups and adCampaigns only: `{"status","code","message","errorDetailType",
//!   "errorDetails":{"inputErrors":[{"description","input":{"inputPath":{"fieldPath"}},"code"}],
//!   "conditionalInputErrors":[]}}` (`errorDetailType`/`errorDetails` on 400s).
//!
//! Readings (unverified, see the module docs of `linkedin`): the new envelope carries no `serviceErrorCode`; the
//! classic one uses serviceErrorCode 100 for a 400, 65600 for an invalid token, otherwise the HTTP status.

use serde_json::{json, Value};

/// One field problem of the new envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub code: String,
    pub field: String,
    pub description: String,
}

impl InputError {
    pub fn new(code: &str, field: &str, description: impl Into<String>) -> Self {
        InputError {
            code: code.to_string(),
            field: field.to_string(),
            description: description.into(),
        }
    }
}

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// The new envelope's constant (`MISSING_FIELD`, `NOT_FOUND` …); None: the classic envelope.
    pub code: Option<String>,
    pub service_code: i64,
    pub message: String,
    pub inputs: Vec<InputError>,
}

impl ApiError {
    /// A classic envelope.
    pub fn classic(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: None,
            service_code: if status == 400 { 100 } else { i64::from(status) },
            message: message.into(),
            inputs: Vec::new(),
        }
    }
    pub fn bad(message: impl Into<String>) -> Self {
        Self::classic(400, message)
    }
    /// A new-envelope error without input errors.
    pub fn coded(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: Some(code.to_string()),
            ..Self::classic(status, message)
        }
    }
    /// A 400 of the new envelope from field problems (MULTIPLE_VALIDATIONS_FAILED when there are several).
    pub fn inputs(inputs: Vec<InputError>) -> Self {
        let (code, message) = if inputs.len() == 1 {
            (inputs[0].code.clone(), inputs[0].description.clone())
        } else {
            (
                "MULTIPLE_VALIDATIONS_FAILED".to_string(),
                format!(
                    "Multiple validations failed: {}",
                    inputs
                        .iter()
                        .map(|i| i.description.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )
        };
        ApiError {
            status: 400,
            code: Some(code),
            service_code: 100,
            message,
            inputs,
        }
    }
    /// The same problem in the classic envelope (for resources outside the new schema): the messages joined.
    pub fn into_classic(mut self) -> Self {
        self.code = None;
        self.inputs.clear();
        self
    }
    pub fn empty_token() -> Self {
        Self::classic(401, "Empty oauth2_access_token")
    }
    pub fn invalid_token(message: &str) -> Self {
        ApiError {
            service_code: 65600,
            ..Self::classic(401, message)
        }
    }
    pub fn throttled() -> Self {
        Self::classic(
            429,
            "Resource level throttle limit for calls to this resource is reached",
        )
    }
    pub fn internal() -> Self {
        Self::classic(500, "Internal Server Error")
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        match &self.code {
            None => json!({"status": self.status, "serviceErrorCode": self.service_code, "message": self.message}),
            Some(code) => {
                let mut v = json!({"status": self.status, "code": code, "message": self.message});
                if self.status == 400 {
                    v["errorDetailType"] = json!("com.linkedin.common.error.BadRequest");
                    v["errorDetails"] = json!({
                        "inputErrors": self.inputs.iter().map(|i| json!({
                            "description": i.description,
                            "input": {"inputPath": {"fieldPath": i.field}},
                            "code": i.code,
                        })).collect::<Vec<_>>(),
                        "conditionalInputErrors": [],
                    });
                }
                v
            }
        }
    }
}
