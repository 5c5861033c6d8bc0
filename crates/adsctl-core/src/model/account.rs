use serde::{Deserialize, Serialize};

use super::{Currency, Money};

/// An advertising platform. The YAML accepts the snake_case names; which have a connector is the platform
/// registry's (`adsctl::platforms::HOMES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    GoogleAds,
    Meta,
    Linkedin,
    Tiktok,
    MicrosoftAds,
    X,
    Mailchimp,
    Hubspot,
    Salesforce,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::GoogleAds => "google_ads",
            Platform::Meta => "meta",
            Platform::Linkedin => "linkedin",
            Platform::Tiktok => "tiktok",
            Platform::MicrosoftAds => "microsoft_ads",
            Platform::X => "x",
            Platform::Mailchimp => "mailchimp",
            Platform::Hubspot => "hubspot",
            Platform::Salesforce => "salesforce",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to an owned resource that disappears from the YAML.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalPolicy {
    /// Pause it (the safe default: reversible, keeps history).
    #[default]
    Pause,
    /// Remove (Google) / delete (Meta) it.
    Remove,
    /// Stop managing it and leave it as it is.
    Orphan,
}

/// Per-account limits a plan must respect unless explicitly overridden with `--allow-guardrail NAME`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guardrails {
    /// `max_daily_budget`: the sum of daily budgets in the account after the apply.
    pub max_daily_budget: Option<Money>,
    /// `max_increase_pct`: the largest increase of any one budget in one apply, in percent.
    pub max_increase_pct: Option<u32>,
    /// `max_changes`: the largest number of changes in one apply.
    pub max_changes: Option<u32>,
}

/// One account from `adsctl.yaml`, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The local name (the key in `accounts:`), the first segment of every address.
    pub name: String,
    pub platform: Platform,
    /// The platform's id: Google customer id as digits (`1234567890`), Meta ad account id as `act_<digits>`.
    pub platform_id: String,
    /// Google Ads manager account (digits), when acting through one.
    pub login_customer_id: Option<String>,
    pub currency: Currency,
    pub time_zone: Option<String>,
    pub on_removed: RemovalPolicy,
    pub guardrails: Guardrails,
    /// Per-account API base URL override (beats the environment variable).
    pub endpoint: Option<String>,
}
