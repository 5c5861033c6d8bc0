//! The `salesforce:` section of the seed file (kept here, not in `config.rs`, so the platform stays one folder).
//!
//! ```yaml
//! salesforce:
//!   session_timeout_secs: 7200        # how long an access token lives (no expires_in is sent)
//!   restricted_picklists: false       # true: unknown Campaign Type/Status values are refused
//!   move_instance_to: localhost       # the first refresh moves the instance (instance_url) to this host
//!   clients:                          # in addition to the well-known app
//!     - { client_id: my-app, client_secret: s, jwt_public_key: "-----BEGIN PUBLIC KEY-----…",
//!         refresh_token_rotation: true, redirect_uris: [http://127.0.0.1:8080/cb] }
//!   orgs:                             # in addition to the well-known org
//!     - org_id: 00D5g00000EMu09EAD
//!       adsctl_key_field: true        # an admin created Adsctl_Key__c (External ID + Unique)
//!       adsctl_key_unique: true
//!       daily_api_limit: 15000
//!       users:
//!         - { username: u@acme.example, marketing_user: false, api_enabled: true, jwt_preauthorized: true,
//!             view_all_data: false, refresh_tokens: [my-refresh-token] }
//!       contacts: [{ LastName: Doe, Email: doe@acme.example }]
//!       leads: [{ LastName: Roe, Company: Acme, Email: roe@acme.example }]
//!       campaigns: [{ Name: Spring }]
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SalesforceSeed {
    /// Access token lifetime (default 7200 s, the common 2 h session timeout).
    pub session_timeout_secs: Option<i64>,
    /// Refuse unknown values of Campaign Type / Status (default false: the standard sets are unrestricted).
    pub restricted_picklists: Option<bool>,
    /// One-shot instance move: the first refresh moves the org to this host (`localhost`, or `name:port`; a name
    /// without a port keeps the port of the token request).
    pub move_instance_to: Option<String>,
    /// Whether the well-known org has `Adsctl_Key__c` (default true).
    pub adsctl_key_field: Option<bool>,
    /// The well-known org's daily API allocation (default 15,000, a Developer Edition org).
    pub daily_api_limit: Option<u64>,
    /// Records of the well-known org.
    pub contacts: Vec<Map<String, Value>>,
    pub leads: Vec<Map<String, Value>>,
    pub campaigns: Vec<Map<String, Value>>,
    /// Users of the well-known org in addition to the two well-known ones.
    pub users: Vec<SalesforceUserSeed>,
    pub clients: Vec<SalesforceClientSeed>,
    pub orgs: Vec<SalesforceOrgSeed>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceOrgSeed {
    pub org_id: String,
    #[serde(default = "yes")]
    pub adsctl_key_field: bool,
    #[serde(default = "yes")]
    pub adsctl_key_unique: bool,
    #[serde(default)]
    pub daily_api_limit: Option<u64>,
    #[serde(default)]
    pub users: Vec<SalesforceUserSeed>,
    #[serde(default)]
    pub contacts: Vec<Map<String, Value>>,
    #[serde(default)]
    pub leads: Vec<Map<String, Value>>,
    #[serde(default)]
    pub campaigns: Vec<Map<String, Value>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceUserSeed {
    pub username: String,
    /// Default: derived from the username.
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default = "yes")]
    pub marketing_user: bool,
    #[serde(default = "yes")]
    pub api_enabled: bool,
    #[serde(default = "yes")]
    pub jwt_preauthorized: bool,
    #[serde(default)]
    pub view_all_data: bool,
    /// Refresh tokens of this user for the well-known app.
    #[serde(default)]
    pub refresh_tokens: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceClientSeed {
    pub client_id: String,
    pub client_secret: String,
    /// SPKI ("BEGIN PUBLIC KEY") or PKCS#1 ("BEGIN RSA PUBLIC KEY") PEM of the uploaded certificate's key.
    #[serde(default)]
    pub jwt_public_key: Option<String>,
    #[serde(default)]
    pub refresh_token_rotation: bool,
    /// Callback URLs; empty: any http URL on a loopback host.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use crate::config::SeedFile;

    #[test]
    fn salesforce_seed_section() {
        let seed: SeedFile = serde_yaml::from_str(
            "salesforce:\n  session_timeout_secs: 60\n  daily_api_limit: 10\n  adsctl_key_field: false\n  orgs:\n    - org_id: 00D5g00000EMu09EAD\n      users: [{ username: u@acme.example, marketing_user: false }]\n      contacts: [{ LastName: Doe }]\n",
        )
        .unwrap();
        let s = &seed.salesforce;
        assert_eq!(s.session_timeout_secs, Some(60));
        assert_eq!(s.adsctl_key_field, Some(false));
        assert!(!s.orgs[0].users[0].marketing_user && s.orgs[0].users[0].api_enabled);
        assert!(
            s.orgs[0].adsctl_key_field,
            "an org has the key field unless the seed says otherwise"
        );
        assert!(serde_yaml::from_str::<SeedFile>("salesforce: {instances: []}\n").is_err());
    }
}
