//! Graph API error objects: `{"error":{message,type,code,error_subcode,error_user_title,error_user_msg,
//! fbtrace_id,is_transient}}`, with the HTTP status the Graph API answers them with.

use serde_json::{json, Map, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct GraphError {
    pub status: u16,
    pub message: String,
    pub kind: &'static str,
    pub code: i64,
    pub subcode: Option<i64>,
    pub user_title: Option<String>,
    pub user_msg: Option<String>,
    pub is_transient: bool,
}

impl GraphError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
            kind: "OAuthException",
            code,
            subcode: None,
            user_title: None,
            user_msg: None,
            is_transient: false,
        }
    }

    pub fn subcode(mut self, s: i64) -> Self {
        self.subcode = Some(s);
        self
    }

    pub fn user(mut self, title: impl Into<String>, msg: impl Into<String>) -> Self {
        self.user_title = Some(title.into());
        self.user_msg = Some(msg.into());
        self
    }

    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn transient(mut self) -> Self {
        self.is_transient = true;
        self
    }

    /// The JSON body, with a trace id.
    pub fn body(&self, fbtrace_id: &str) -> Value {
        let mut e = Map::new();
        e.insert("message".into(), json!(self.message));
        e.insert("type".into(), json!(self.kind));
        e.insert("code".into(), json!(self.code));
        if let Some(s) = self.subcode {
            e.insert("error_subcode".into(), json!(s));
        }
        e.insert("is_transient".into(), json!(self.is_transient));
        if let Some(t) = &self.user_title {
            e.insert("error_user_title".into(), json!(t));
        }
        if let Some(m) = &self.user_msg {
            e.insert("error_user_msg".into(), json!(m));
        }
        e.insert("fbtrace_id".into(), json!(fbtrace_id));
        json!({ "error": Value::Object(e) })
    }

    // ---- code 100: parameters ----

    pub fn invalid_param(message: impl Into<String>) -> Self {
        Self::new(100, message)
    }

    pub fn unknown_param(name: &str) -> Self {
        Self::new(100, format!("(#100) Param {name} is not a valid parameter")).user(
            "Invalid parameter",
            format!("The parameter {name} is not supported by this endpoint."),
        )
    }

    pub fn missing_param(name: &str) -> Self {
        Self::new(100, format!("(#100) The parameter {name} is required"))
    }

    /// The message names the Graph's internal node type: campaigns are `AdCampaignGroup`, ad sets `AdCampaign`,
    /// ads `AdGroup` (as in the spec's enum names `adcampaigngroup_*`, `adcampaign_*`, `adgroup_*`).
    pub fn unknown_field(field: &str, node: &str) -> Self {
        let internal = match node {
            "Campaign" => "AdCampaignGroup",
            "AdSet" => "AdCampaign",
            "Ad" => "AdGroup",
            other => other,
        };
        Self::new(
            100,
            format!("(#100) Tried accessing nonexisting field ({field}) on node type ({internal})"),
        )
    }

    /// A business rule on an otherwise well-formed call (`Invalid parameter` with a user message).
    pub fn rule(title: &str, msg: impl Into<String>) -> Self {
        Self::new(100, "Invalid parameter").user(title, msg)
    }

    pub fn unsupported(method: &str, id: &str) -> Self {
        Self::new(
            100,
            format!(
                "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing \
                 permissions, or does not support this operation. Please read the Graph API documentation at \
                 https://developers.facebook.com/docs/graph-api",
                method.to_ascii_lowercase()
            ),
        )
        .subcode(33)
        .kind("GraphMethodException")
    }

    pub fn unknown_path(components: &str) -> Self {
        Self::new(2500, format!("Unknown path components: /{components}"))
    }

    // ---- code 190: tokens ----

    pub fn token_missing() -> Self {
        Self::new(
            2500,
            "An active access token must be used to query information about the current user.",
        )
    }

    pub fn token_invalid() -> Self {
        Self::new(190, "Invalid OAuth access token - Cannot parse access token")
    }

    pub fn token_expired(expired_at: &str, now: &str) -> Self {
        Self::new(
            190,
            format!("Error validating access token: Session has expired on {expired_at}. The current time is {now}."),
        )
        .subcode(463)
    }

    pub fn appsecret_proof_invalid() -> Self {
        Self::new(100, "Invalid appsecret_proof provided in the API argument").kind("GraphMethodException")
    }

    pub fn appsecret_proof_missing() -> Self {
        Self::new(100, "API calls from the server require an appsecret_proof argument").kind("GraphMethodException")
    }

    // ---- rate limits (HTTP 400) ----

    pub fn app_limit() -> Self {
        Self::new(4, "(#4) Application request limit reached").transient()
    }

    pub fn user_limit() -> Self {
        Self::new(17, "(#17) User request limit reached")
            .subcode(2446079)
            .transient()
    }

    pub fn account_limit() -> Self {
        Self::new(
            80004,
            "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. For more info, \
             please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
        )
        .subcode(2446079)
        .user(
            "Ad Account Has Too Many API Calls",
            "There have been too many calls from this ad-account. Please wait a bit and try again.",
        )
        .transient()
    }

    /// The ads insights limit of an ad account (WIRE-NOTES: code 80000; message and subcode: reading chosen,
    /// unverified, after 80004's).
    pub fn insights_limit() -> Self {
        Self::new(
            80000,
            "(#80000) There have been too many calls from this ad-account. Wait a bit and try again. For more info, \
             please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-insights.",
        )
        .subcode(2446079)
        .user(
            "Ad Account Has Too Many API Calls",
            "There have been too many calls from this ad-account. Please wait a bit and try again.",
        )
        .transient()
    }

    pub fn budget_change_limit() -> Self {
        Self::new(613, "(#613) Calls to this api have exceeded the rate limit.")
            .subcode(1487742)
            .user(
                "Too Many Budget Changes",
                "You have changed the budget of this ad set too many times within an hour. Please wait a bit and try again.",
            )
            .transient()
    }

    // ---- 5xx ----

    pub fn server_error() -> Self {
        Self::new(2, "An unexpected error has occurred. Please retry your request later.")
            .status(500)
            .transient()
    }
}
