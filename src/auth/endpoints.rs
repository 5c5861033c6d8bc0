//! Where the OAuth and API endpoints are. The real platforms by default; overridable per account (`endpoint:`
//! in adsctl.yaml, beats the environment) or by environment variables, so that the same code talks to the
//! built-in emulator, which serves the OAuth pages and the API on one base URL.
//!
//! | variable | default |
//! |---|---|
//! | `ADSCTL_GOOGLE_ADS_ENDPOINT` (API base) | `https://googleads.googleapis.com` |
//! | `ADSCTL_GOOGLE_OAUTH_ENDPOINT` (serves `/o/oauth2/v2/auth` and `/token`) | the account's / API override, else Google's |
//! | `ADSCTL_GOOGLE_OAUTH_TOKEN_URL` (the token endpoint alone, as the connector reads it) | from the line above |
//! | `ADSCTL_META_ENDPOINT` (Graph base) | `https://graph.facebook.com` |
//! | `ADSCTL_META_DIALOG_ENDPOINT` (serves `/v25.0/dialog/oauth`) | the Graph override, else `https://www.facebook.com` |

use crate::model::Account;

use super::EnvFn;

pub const GOOGLE_ADS_VERSION: &str = "v25";
pub const META_GRAPH_VERSION: &str = "v25.0";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoogleEndpoints {
    pub auth_url: String,
    pub token_url: String,
    pub api_base: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaEndpoints {
    pub dialog_url: String,
    /// Graph base without the version (`https://graph.facebook.com`).
    pub graph_base: String,
}

impl MetaEndpoints {
    /// `{graph}/v25.0/{path}`
    pub fn versioned(&self, path: &str) -> String {
        format!(
            "{}/{META_GRAPH_VERSION}/{}",
            self.graph_base,
            path.trim_start_matches('/')
        )
    }
}

fn trim(s: String) -> String {
    s.trim_end_matches('/').to_string()
}

fn var(env: &EnvFn, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty()).map(trim)
}

pub fn google(account: &Account, env: &EnvFn) -> GoogleEndpoints {
    let api_override = account
        .endpoint
        .clone()
        .map(trim)
        .or_else(|| var(env, "ADSCTL_GOOGLE_ADS_ENDPOINT"));
    let oauth_override = var(env, "ADSCTL_GOOGLE_OAUTH_ENDPOINT").or_else(|| api_override.clone());
    let api_base = api_override.unwrap_or_else(|| "https://googleads.googleapis.com".into());
    let token_override = var(env, "ADSCTL_GOOGLE_OAUTH_TOKEN_URL");
    let mut ep = match oauth_override {
        Some(base) => GoogleEndpoints {
            auth_url: format!("{base}/o/oauth2/v2/auth"),
            token_url: format!("{base}/token"),
            api_base,
        },
        None => GoogleEndpoints {
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            api_base,
        },
    };
    if let Some(t) = token_override {
        ep.token_url = t;
    }
    ep
}

pub fn meta(account: &Account, env: &EnvFn) -> MetaEndpoints {
    let graph_override = account
        .endpoint
        .clone()
        .map(trim)
        .or_else(|| var(env, "ADSCTL_META_ENDPOINT"));
    let dialog_base = var(env, "ADSCTL_META_DIALOG_ENDPOINT")
        .or_else(|| graph_override.clone())
        .unwrap_or_else(|| "https://www.facebook.com".into());
    MetaEndpoints {
        dialog_url: format!("{dialog_base}/{META_GRAPH_VERSION}/dialog/oauth"),
        graph_base: graph_override.unwrap_or_else(|| "https://graph.facebook.com".into()),
    }
}
