//! HubSpot's error envelope (`{status: "error", message, correlationId, category, subCategory?, errors?,
//! context?}`), the 429 body (`errorType: RATE_LIMIT`, `policyName`), statuses → classes and hints.
//!
//! Messages can echo what was sent (an e-mail address in `Email address … is invalid`, `Contact already exists`):
//! every text kept here has its addresses redacted ([`redact_emails`]) and, by the client, its secrets.

use serde_json::Value as Json;

/// How a failed request is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// 429 TEN_SECONDLY_ROLLING (or a 429 without a policy): wait 10 s × attempt and retry.
    TenSecondly,
    /// 429 SECONDLY (search): wait 1 s × attempt and retry.
    Secondly,
    /// 429 DAILY: never retried (resets at midnight in the portal's time zone).
    Daily,
    /// 423 Locked: wait ≥ 2 s and retry.
    Locked,
    /// 477 Migration in progress: honour `Retry-After`.
    Migration,
    /// 5xx (and the edge's 52x): back off; retried for reads, updates and upserts only.
    Server,
    /// 401.
    Auth,
    /// 403 (MISSING_SCOPES and others).
    Forbidden,
    NotFound,
    Conflict,
    /// 400 and anything else: the request is wrong.
    Invalid,
}

/// One error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub category: Option<String>,
    pub sub_category: Option<String>,
    pub message: String,
    pub correlation_id: Option<String>,
    /// A 429's `policyName` (`DAILY`, `TEN_SECONDLY_ROLLING`, `SECONDLY`).
    pub policy: Option<String>,
    /// `errors[]`: (message, code, property name from `context.propertyName` / `in`).
    pub details: Vec<(String, Option<String>, Option<String>)>,
    /// Scopes a 403 MISSING_SCOPES names (`requiredGranularScopes` / `missingScopes`).
    pub scopes: Vec<String>,
    /// Whether the body was HubSpot's envelope (a bare 404 of a gateway without the date version is not).
    pub enveloped: bool,
}

fn s(v: &Json, k: &str) -> Option<String> {
    v.get(k).and_then(Json::as_str).map(str::to_string)
}

impl ApiError {
    pub fn parse(status: u16, text: &str) -> ApiError {
        let body: Json = serde_json::from_str(text).unwrap_or(Json::Null);
        let enveloped = body.get("category").is_some()
            || body.get("correlationId").is_some()
            || body.get("status").and_then(Json::as_str) == Some("error");
        let mut details = Vec::new();
        let mut scopes = Vec::new();
        let mut collect_scopes = |ctx: Option<&Json>| {
            for k in ["requiredGranularScopes", "missingScopes", "requiredScopes"] {
                if let Some(a) = ctx.and_then(|c| c.get(k)).and_then(Json::as_array) {
                    scopes.extend(a.iter().filter_map(Json::as_str).map(str::to_string));
                }
            }
        };
        collect_scopes(body.get("context"));
        if let Some(errs) = body.get("errors").and_then(Json::as_array) {
            for e in errs {
                let prop = e
                    .get("context")
                    .and_then(|c| c.get("propertyName"))
                    .and_then(|p| p.as_array().and_then(|a| a.first()).or(Some(p)))
                    .and_then(Json::as_str)
                    .map(str::to_string)
                    .or_else(|| s(e, "in"));
                details.push((
                    redact_emails(&s(e, "message").unwrap_or_default()),
                    s(e, "code").or_else(|| s(e, "subCategory")),
                    prop,
                ));
                collect_scopes(e.get("context"));
            }
        }
        scopes.sort();
        scopes.dedup();
        let message = s(&body, "message").unwrap_or_else(|| {
            let t: String = text.chars().take(200).collect();
            if t.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                t
            }
        });
        ApiError {
            status,
            category: s(&body, "category").or_else(|| (status == 429).then(|| "RATE_LIMITS".to_string())),
            sub_category: s(&body, "subCategory"),
            message: redact_emails(&message),
            correlation_id: s(&body, "correlationId"),
            policy: s(&body, "policyName"),
            details,
            scopes,
            enveloped,
        }
    }

    /// Every text passed through `f` (the client's secret scrubber).
    pub fn scrubbed(mut self, f: &dyn Fn(&str) -> String) -> ApiError {
        self.message = f(&self.message);
        for d in &mut self.details {
            d.0 = f(&d.0);
        }
        self
    }

    pub fn class(&self) -> ErrorClass {
        match self.status {
            429 => match self.policy.as_deref() {
                Some("DAILY") => ErrorClass::Daily,
                Some("SECONDLY") => ErrorClass::Secondly,
                _ if self.message.contains("secondly limit") && !self.message.contains("ten_secondly") => {
                    ErrorClass::Secondly
                }
                _ if self.message.contains("daily limit") => ErrorClass::Daily,
                _ => ErrorClass::TenSecondly,
            },
            423 => ErrorClass::Locked,
            477 => ErrorClass::Migration,
            401 => ErrorClass::Auth,
            403 => ErrorClass::Forbidden,
            404 => ErrorClass::NotFound,
            409 => ErrorClass::Conflict,
            s if s >= 500 => ErrorClass::Server,
            _ => ErrorClass::Invalid,
        }
    }

    /// The code shown: the category (`VALIDATION_ERROR`), then the sub-category when there is one.
    pub fn code(&self) -> String {
        match (&self.category, &self.sub_category) {
            (Some(c), Some(s)) => format!("{c}.{s}"),
            (Some(c), None) => c.clone(),
            (None, _) if self.status >= 500 => format!("HTTP {}", self.status),
            (None, _) => format!("HTTP {}", self.status),
        }
    }

    /// The message with its details and correlation id, for people.
    pub fn text(&self) -> String {
        let mut t = format!("HTTP {} {}: {}", self.status, self.code(), self.message);
        let extra: Vec<String> = self
            .details
            .iter()
            .filter(|(m, _, _)| !m.is_empty() && !self.message.contains(m.as_str()))
            .map(|(m, c, p)| match (c, p) {
                (Some(c), Some(p)) => format!("{p}: {m} ({c})"),
                (Some(c), None) => format!("{m} ({c})"),
                (None, Some(p)) => format!("{p}: {m}"),
                (None, None) => m.clone(),
            })
            .collect();
        if !extra.is_empty() {
            t.push_str(&format!(" [{}]", extra.join("; ")));
        }
        if let Some(c) = &self.correlation_id {
            t.push_str(&format!(" (correlationId {c})"));
        }
        t
    }

    /// The first property an error names.
    pub fn field(&self) -> Option<String> {
        self.details.iter().find_map(|d| d.2.clone())
    }

    pub fn hint(&self, account: &str) -> Option<String> {
        Some(match self.class() {
            ErrorClass::Daily => "the portal's daily API limit is used up; it resets at midnight in the portal's \
                                  time zone: run again after that (or buy an API limit increase)"
                .into(),
            ErrorClass::TenSecondly | ErrorClass::Secondly => {
                "HubSpot kept refusing for its burst limit: other integrations of the portal may share it; retry later"
                    .into()
            }
            ErrorClass::Auth => format!(
                "the token is unknown, revoked or expired: run `adsctl auth login {account}`, or set \
                 ADSCTL_HUBSPOT_ACCESS_TOKEN to a private-app / service-key token"
            ),
            ErrorClass::Forbidden if !self.scopes.is_empty() => format!(
                "the app lacks the scopes {}: add them to the app and log in again (`adsctl auth login {account}`)",
                self.scopes.join(", ")
            ),
            ErrorClass::Forbidden => format!(
                "the token may not do this (scopes, or the portal's tier: campaigns need Marketing Hub \
                 Professional or Enterprise); check with `adsctl auth validate {account}`"
            ),
            ErrorClass::Locked => "too much concurrent writing to the same data: retry later".into(),
            ErrorClass::Migration => "HubSpot is migrating the portal: retry after the time it gave".into(),
            ErrorClass::Server => "HubSpot had a server error: retry later".into(),
            _ => return None,
        })
    }
}

/// `text` with anything shaped like an e-mail address replaced by `<email>`.
pub fn redact_emails(text: &str) -> String {
    if !text.contains('@') {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let local = |c: char| c.is_alphanumeric() || "._%+-'!#$&*=?^`{|}~".contains(c);
    let domain = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut start_of_copy = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            let mut a = i;
            while a > start_of_copy && local(chars[a - 1]) {
                a -= 1;
            }
            let mut b = i + 1;
            while b < chars.len() && domain(chars[b]) {
                b += 1;
            }
            out.extend(&chars[start_of_copy..a]);
            out.push_str("<email>");
            start_of_copy = b;
            i = b;
            continue;
        }
        i += 1;
    }
    out.extend(&chars[start_of_copy.min(chars.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_and_the_429_body_are_read() {
        let e = ApiError::parse(
            400,
            r#"{"status":"error","message":"Property values were not valid: Email address ada@example.com is invalid","correlationId":"c-1","category":"VALIDATION_ERROR","errors":[{"message":"Email address ada@example.com is invalid","code":"INVALID_EMAIL","context":{"propertyName":["email"]}}]}"#,
        );
        assert_eq!(e.class(), ErrorClass::Invalid);
        assert_eq!(e.code(), "VALIDATION_ERROR");
        assert_eq!(e.field().as_deref(), Some("email"));
        assert!(!e.text().contains("ada@"), "{}", e.text());
        assert!(e.text().contains("c-1"));
        let r = ApiError::parse(
            429,
            r#"{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","correlationId":"x","policyName":"DAILY"}"#,
        );
        assert_eq!(r.class(), ErrorClass::Daily);
        let r = ApiError::parse(429, r#"{"policyName":"TEN_SECONDLY_ROLLING","message":"m"}"#);
        assert_eq!(r.class(), ErrorClass::TenSecondly);
        let r = ApiError::parse(429, r#"{"message":"You have reached your secondly limit."}"#);
        assert_eq!(r.class(), ErrorClass::Secondly);
        let m = ApiError::parse(
            403,
            r#"{"status":"error","category":"MISSING_SCOPES","message":"no","errors":[{"message":"m","context":{"requiredGranularScopes":["crm.lists.write"]}}]}"#,
        );
        assert_eq!(m.scopes, vec!["crm.lists.write".to_string()]);
        assert!(m.hint("hs").unwrap().contains("crm.lists.write"));
        assert!(!ApiError::parse(404, "Not Found").enveloped);
    }

    #[test]
    fn addresses_are_redacted() {
        assert_eq!(
            redact_emails("Contact a.b+c@ex-ample.co.uk exists; x@y"),
            "Contact <email> exists; <email>"
        );
        assert_eq!(redact_emails("no address"), "no address");
    }
}
