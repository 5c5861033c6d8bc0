//! `adsctl auth validate`: prove the credentials work against the platform, read-only.
//! Google: `customers:listAccessibleCustomers`, then a `customer` query on the account.
//! Meta: `debug_token`, then the ad account's fields.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use tracing::Instrument;

use super::endpoints::{self, GOOGLE_ADS_VERSION};
use super::oauth::{meta_get, transport};
use super::{Auth, AuthError, CredentialKind};
use crate::connectors::trace;
use crate::model::{Account, Platform};
use crate::platforms::google_ads::client::GOOGLE_REQUEST_ID;
use crate::secret::scrub;

/// What validation found (no secrets).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Validation {
    pub account: String,
    /// The platform's name of the account.
    pub name: Option<String>,
    pub currency: Option<String>,
    pub time_zone: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    /// Things worth a look that do not make the credentials unusable (currency differs from adsctl.yaml, …).
    pub warnings: Vec<String>,
}

impl Auth {
    pub async fn validate(&self, account: &Account) -> Result<Validation, AuthError> {
        let res = self.validate_inner(account).await;
        self.audit(&account.name, "auth.validate", res.as_ref().map(|_| ()));
        match &res {
            Ok(_) => self.health().update(&account.name, |h| {
                h.last_validation = Some(Utc::now());
                h.invalid = None;
                h.last_error = None;
            }),
            Err(e) => self.note_failure(&account.name, e),
        }
        res
    }

    async fn validate_inner(&self, account: &Account) -> Result<Validation, AuthError> {
        let creds = self.fresh_credentials(account).await?;
        let mut v = Validation {
            account: account.name.clone(),
            ..Validation::default()
        };
        match &creds.kind {
            CredentialKind::GoogleAds(g) => {
                let ep = endpoints::google(account, self.env());
                let token = g.access_token.clone().ok_or_else(|| AuthError::Api {
                    platform: Platform::GoogleAds,
                    message: "no access token after refresh".into(),
                    hint: "run `adsctl auth refresh` and retry".into(),
                })?;
                let cid = account.platform_id.replace('-', "");
                let url = format!("{}/{GOOGLE_ADS_VERSION}/customers:listAccessibleCustomers", ep.api_base);
                let mut req = self
                    .http()
                    .get(&url)
                    .bearer_auth(token.expose())
                    .header("developer-token", g.developer_token.expose());
                if let Some(l) = &g.login_customer_id {
                    req = req.header("login-customer-id", l.replace('-', ""));
                }
                let body = google_send(&account.name, "GET", &url, req).await?;
                let names: Vec<String> = body
                    .get("resourceNames")
                    .and_then(|r| r.as_array())
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                    .unwrap_or_default();
                let direct = names.iter().any(|n| n == &format!("customers/{cid}"));
                if !direct && g.login_customer_id.is_none() {
                    v.warnings.push(format!(
                        "customer {cid} is not directly accessible with these credentials ({} accessible); set login_customer_id if you reach it through a manager",
                        names.len()
                    ));
                }
                let url = format!("{}/{GOOGLE_ADS_VERSION}/customers/{cid}/googleAds:search", ep.api_base);
                let mut req = self
                    .http()
                    .post(&url)
                    .bearer_auth(token.expose())
                    .header("developer-token", g.developer_token.expose())
                    .json(&serde_json::json!({
                        "query": "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone FROM customer"
                    }));
                if let Some(l) = &g.login_customer_id {
                    req = req.header("login-customer-id", l.replace('-', ""));
                }
                let body = google_send(&account.name, "POST", &url, req).await?;
                let c = body.pointer("/results/0/customer").ok_or_else(|| AuthError::Api {
                    platform: Platform::GoogleAds,
                    message: format!("the customer query on {cid} returned no row"),
                    hint: "check customer_id in adsctl.yaml".into(),
                })?;
                v.name = c.get("descriptiveName").and_then(|x| x.as_str()).map(String::from);
                v.currency = c.get("currencyCode").and_then(|x| x.as_str()).map(String::from);
                v.time_zone = c.get("timeZone").and_then(|x| x.as_str()).map(String::from);
                v.expires_at = g.access_token_expires_at;
                v.scopes = vec![super::oauth::GOOGLE_ADWORDS_SCOPE.into()];
            }
            CredentialKind::Meta(m) => {
                let ep = endpoints::meta(account, self.env());
                let app_token = match (&m.app_id, &m.app_secret) {
                    (Some(id), Some(secret)) => crate::secret::Secret::new(format!("{id}|{}", secret.expose())),
                    _ => m.access_token.clone(),
                };
                let dbg = meta_get(
                    self,
                    &ep,
                    &account.name,
                    "/debug_token",
                    &[
                        ("input_token", m.access_token.expose()),
                        ("access_token", app_token.expose()),
                    ],
                )
                .await?;
                let data = dbg.get("data").cloned().unwrap_or_default();
                if data.get("is_valid").and_then(|b| b.as_bool()) != Some(true) {
                    let why = data
                        .pointer("/error/message")
                        .and_then(|m| m.as_str())
                        .map(scrub)
                        .unwrap_or_else(|| "debug_token says the token is not valid".into());
                    return Err(AuthError::Invalid {
                        account: account.name.clone(),
                        message: why,
                        hint: format!(
                            "run `adsctl auth login {0}` or `adsctl auth set-token {0}`",
                            account.name
                        ),
                    });
                }
                v.scopes = data
                    .get("scopes")
                    .and_then(|s| s.as_array())
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                    .unwrap_or_default();
                if !v.scopes.is_empty() && !v.scopes.iter().any(|s| s == "ads_management") {
                    v.warnings
                        .push("the token lacks the ads_management permission: applies will fail".into());
                }
                v.expires_at = data
                    .get("expires_at")
                    .and_then(|e| e.as_i64())
                    .filter(|&e| e > 0)
                    .and_then(|e| Utc.timestamp_opt(e, 0).single());
                let proof = m.appsecret_proof();
                let mut q = vec![
                    ("fields", "id,name,currency,timezone_name,account_status"),
                    ("access_token", m.access_token.expose()),
                ];
                if let Some(p) = &proof {
                    q.push(("appsecret_proof", p.expose()));
                }
                let acct = meta_get(self, &ep, &account.name, &account.platform_id, &q).await?;
                v.name = acct.get("name").and_then(|x| x.as_str()).map(String::from);
                v.currency = acct.get("currency").and_then(|x| x.as_str()).map(String::from);
                v.time_zone = acct.get("timezone_name").and_then(|x| x.as_str()).map(String::from);
                if let Some(st) = acct.get("account_status").and_then(|x| x.as_i64()) {
                    if st != 1 {
                        v.warnings
                            .push(format!("the ad account's account_status is {st} (1 = active)"));
                    }
                }
            }
        }
        if let Some(cur) = &v.currency {
            if cur != account.currency.code() {
                v.warnings.push(format!(
                    "the platform says the currency is {cur}, adsctl.yaml says {}",
                    account.currency.code()
                ));
            }
        }
        Ok(v)
    }
}

/// Send a Google Ads request, in its span; map its error envelope (401 / UNAUTHENTICATED → invalid credentials).
async fn google_send(
    account: &str,
    method: &str,
    url: &str,
    req: reqwest::RequestBuilder,
) -> Result<serde_json::Value, AuthError> {
    let span = trace::request("google_ads", account, method, url);
    google_send_in_span(account, url, req).instrument(span).await
}

async fn google_send_in_span(
    account: &str,
    url: &str,
    req: reqwest::RequestBuilder,
) -> Result<serde_json::Value, AuthError> {
    let resp = req.send().await.map_err(|e| transport(url, e))?;
    let status = resp.status();
    trace::record_response(status.as_u16(), resp.headers(), GOOGLE_REQUEST_ID);
    tracing::debug!(status = status.as_u16(), "Google Ads auth response");
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if status.is_success() {
        return Ok(body);
    }
    let message = scrub(
        body.pointer("/error/message")
            .and_then(|m| m.as_str())
            .unwrap_or("no error message"),
    );
    let code = body
        .pointer("/error/details/0/errors/0/errorCode")
        .and_then(|c| c.as_object())
        .and_then(|o| {
            o.iter()
                .next()
                .map(|(k, v)| format!("{k}.{}", v.as_str().unwrap_or_default()))
        });
    let message = match code {
        Some(c) => format!("{message} ({c}, HTTP {})", status.as_u16()),
        None => format!("{message} (HTTP {})", status.as_u16()),
    };
    if status.as_u16() == 401 {
        return Err(AuthError::Invalid {
            account: account.to_string(),
            message,
            hint: format!("run `adsctl auth refresh {account}`; if that fails, `adsctl auth login {account}`"),
        });
    }
    Err(AuthError::Api {
        platform: Platform::GoogleAds,
        message,
        hint: if status.as_u16() == 403 {
            "check the developer token and that the user can access this customer".into()
        } else {
            "see the message".into()
        },
    })
}
