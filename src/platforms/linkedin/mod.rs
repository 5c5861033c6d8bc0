//! LinkedIn, the platform's home: the connector for the Marketing API (versioned REST, Rest.li 2.0,
//! `LinkedIn-Version` [`config::API_VERSION`]; this file and the wire modules below). The home's registry entry,
//! YAML types, lowering, import and `--emulator` seeding live beside them (`home.rs`, `yaml.rs`, `lower.rs`,
//! `import.rs`, `emulated.rs`).
//!
//! - `config`: base URLs (`ADSCTL_LINKEDIN_ENDPOINT`, `ADSCTL_LINKEDIN_OAUTH_ENDPOINT`), the version, tunables,
//!   credentials lookup through `crate::auth`.
//! - `auth`: [`auth::LinkedInCredentials`] (`PlatformCredentials`) and [`auth::LinkedInAuth`] (`PlatformAuth`).
//! - `client`: HTTP, the headers of every call, the Rest.li 2.0 encoder, query tunnelling, method answers, both
//!   error envelopes, retries, paging.
//! - `errors`: statuses and codes → classes (retryable or not) and hints.
//! - `mapping`: wire ↔ `Resource` (exact money, epoch ms ↔ RFC 3339, enums, targeting, markers, request bodies).
//! - `read`, `apply`, `lease`, `metrics`.
//!
//! Written from `shared/reference/linkedin-marketing/` (WIRE-NOTES.md, resources.json). Where the pack marks a fact
//! unverified, recalled or secondary, this connector reads it as follows:
//!
//! - **Batch sizes** (no cap confirmed): BATCH_CREATE of groups and campaigns by 100
//!   ([`config::MAX_BATCH_CREATE`], the emulator's reading too); BATCH_PARTIAL_UPDATE by 100 ids ([`config::MAX_BATCH_UPDATE`], which keeps
//!   `ids=List(…)` far below the 4,000-character URL); segment users by 1,000 ([`config::MAX_SEGMENT_USERS`]; the
//!   pack recalls 5,000).
//! - **Creatives**: BATCH_CREATE for creatives is unverified, so each is one CREATE; their keys are URNs, which no
//!   source shows in a batch's `ids=List(…)`, so each update is one PARTIAL_UPDATE to the encoded URN path.
//!   Creatives have a `name` (recalled): the marker goes there. A create answers the URN in `x-restli-id`
//!   (percent-decoded; a bare number is made `urn:li:sponsoredCreative:<n>`).
//! - **Creative finder**: `q=criteria&intendedStatuses=List(ACTIVE,PAUSED,DRAFT)` (parameter name recalled),
//!   paged by `pageSize` 100 / `pageToken` like the searches; `X-RestLi-Method: FINDER`.
//! - **Search paging** (`pageSize` maximum not confirmed): 500 for groups and campaigns, 100 for creatives (Airbyte's
//!   figures). **DMP segments**: `q=account&account=<urn>` (finder name recalled) with start/count, count 1,000.
//! - **Removal**: DELETE for `DRAFT` objects (and objects the read did not see, falling back to archiving on a
//!   4xx); otherwise a partial update to `ARCHIVED` (not `PENDING_DELETION`, which is recalled). DMP segments:
//!   DELETE. A DELETE answered 404 is done.
//! - **Statuses at create** when the YAML names none: groups `ACTIVE` (they spend nothing by themselves; a `DRAFT`
//!   group would refuse active campaigns), campaigns and creatives `DRAFT`.
//! - **DMP segments**: created as `{type: USER, sourcePlatform: LIST_UPLOAD, destinations: [{destination:
//!   LINKEDIN}], accessPolicy: PRIVATE}`; the `users` body is the pack's recalled shape (`{elements: [{action,
//!   userIds: [{idType: SHA256_EMAIL, idValue}]}]}`), answered as a BATCH_CREATE list whose elements with a status
//!   ≥ 300 or an `error` are refusals; the targetable URN is `destinations[].destinationSegmentId` when present,
//!   else `urn:li:adSegment:<segment id>`. A segment has no status: pausing one does nothing. LinkedIn has no
//!   replace-all: when what a segment holds is unknown, every member is sent as ADD (members added outside adsctl
//!   stay). A DMP segment partial update (`POST /dmpSegments/{id}`) is recalled.
//! - **Segment-ready wait**: 5 s after a create before the first upload (`ADSCTL_LINKEDIN_SEGMENT_WAIT_MS`).
//! - **Error details**: `errorDetails.inputErrors[].input.inputPath.fieldPath` (inner names secondary) names the
//!   field of an operation's error.
//! - **Rate limits**: no Retry-After and no rate-limit headers: a 429 waits 2 s, doubling up to 2 minutes, each
//!   wait said and bounded by `--max-wait`; after 8 in a row (a daily quota until 00:00 UTC) the call fails.
//!   500 / 503 / 504 and lost answers back off (1 s doubling, jittered, 5 retries) except for creates, which are
//!   looked up by their marked name under their parent instead (LinkedIn has no idempotency key).
//! - **Query tunnelling** is used for reads only (a GET whose URL passes 4,000 characters becomes a POST with
//!   `X-HTTP-Method-Override: GET` and the query as a form body); writes keep their URLs short by batch sizes, so the
//!   multipart/mixed form is not needed.
//! - **adAnalytics**: the bare `pivot=CAMPAIGN` / `timeGranularity=DAILY` forms (LinkedIn's examples), the
//!   `campaigns` facet with the account's campaigns of every status (by 200), 30-day windows (the 15,000-row cap is
//!   unconfirmed). Conversions are `externalWebsiteConversions`, their value `conversionValueInLocalCurrency`.
//! - **Reads** list `ACTIVE`, `PAUSED`, `DRAFT` only; a numeric id pinned with `id:` that the searches did not
//!   list is asked for by BATCH_GET (`ids=List(…)`, the pack's shape) among groups and campaigns (a pinned creative
//!   or segment that is not live is not read). A campaign under a group the read did not list (archived, a lease)
//!   is left out, as is a creative under such a campaign.
//! - **Validation**: LinkedIn has no dry run (`validateOnly` or the like): `validate` checks locally what the
//!   mapping can (names, money, times, enums, targeting) and sends nothing.
//! - **Tokens**: the refresh token's `refresh_token_expires_in` is read at the first consent only; a refresh never
//!   moves the recorded end.
//!
//! The engine reaches it through [`connector`] / [`LinkedInConnector::new`]; the home's capabilities are
//! [`capabilities`].

pub mod apply;
pub mod auth;
pub mod client;
pub mod config;
pub mod emulated;
pub mod errors;
pub mod home;
pub mod import;
pub mod lease;
pub mod lower;
pub mod mapping;
pub mod metrics;
pub mod read;
pub mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use self::client::{path_key, CallError, LinkedInClient, Method, Query};
use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, Lease, LeaseOutcome, LiveSnapshot,
    MetricRow, MetricsLevel, OpOutcome, ReadRequest,
};
use crate::model::{Account, Kind, Platform, Value};

pub use self::auth::{LinkedInAuth, LinkedInCredentials};
pub use self::config::{resolve_credentials, LinkedInConfig, API_VERSION, ENDPOINT_ENV, OAUTH_ENDPOINT_ENV};

/// Build the connector for one LinkedIn account (for `Home::connector`).
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(LinkedInConnector::new(account)?))
}

/// What a read learned that a later apply or metrics pull uses.
#[derive(Default)]
pub(crate) struct Cache {
    /// Object id → its name on LinkedIn.
    pub names: HashMap<String, String>,
    /// Object id → its live status (upper case): `DRAFT` objects are deleted, others archived.
    pub statuses: HashMap<String, String>,
    /// Object id → its live fields (nested objects of a partial update are completed from them).
    pub live: HashMap<String, BTreeMap<String, Value>>,
    /// Campaign id → its live `targetingCriteria`.
    pub targeting: HashMap<String, serde_json::Value>,
    /// DMP segment id → its `urn:li:adSegment:` URN.
    pub ad_segments: HashMap<String, String>,
    /// DMP segment id → the members' fingerprint its description records.
    pub fingerprints: HashMap<String, String>,
    /// DMP segment id → the user's part of its description.
    pub descriptions: HashMap<String, Option<String>>,
}

impl Cache {
    pub(crate) fn merge(&mut self, other: Cache) {
        self.names.extend(other.names);
        self.statuses.extend(other.statuses);
        self.live.extend(other.live);
        self.targeting.extend(other.targeting);
        self.ad_segments.extend(other.ad_segments);
        self.fingerprints.extend(other.fingerprints);
        self.descriptions.extend(other.descriptions);
    }
}

pub struct LinkedInConnector {
    client: LinkedInClient,
    /// Shared by every connector of the same ad account in this process (the engine may build one per call).
    cache: Arc<Mutex<Cache>>,
}

/// The ad account's numeric id from adsctl.yaml's (`123`, or `urn:li:sponsoredAccount:123`).
pub fn account_id(platform_id: &str) -> String {
    mapping::urn_id(platform_id.trim()).to_string()
}

impl LinkedInConnector {
    /// The connector for an account, configured from the environment (`ADSCTL_LINKEDIN_*`, the account's
    /// `endpoint:`) with the credentials of the vault or the environment (`ADSCTL_LINKEDIN_ACCESS_TOKEN`, …).
    pub fn new(account: &Account) -> Result<LinkedInConnector, ConnectorError> {
        let cfg = LinkedInConfig::from_env(account)?;
        let creds = resolve_credentials(account)?;
        LinkedInConnector::with(account, cfg, creds)
    }

    /// A connector with explicit configuration and credentials (tests, `--emulator`).
    pub fn with(
        account: &Account,
        cfg: LinkedInConfig,
        creds: LinkedInCredentials,
    ) -> Result<LinkedInConnector, ConnectorError> {
        if account.platform != Platform::Linkedin {
            return Err(ConnectorError::Config(format!(
                "account `{}` is a {} account, not linkedin",
                account.name, account.platform
            )));
        }
        let id = account_id(&account.platform_id);
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConnectorError::Config(format!(
                "account `{}`: the LinkedIn ad account id `{id}` is not a number",
                account.name
            )));
        }
        let key = format!("{}|{id}", cfg.base_url);
        let client = LinkedInClient::new(cfg, creds, &account.name, &id)?;
        Ok(LinkedInConnector {
            client,
            cache: crate::platforms::shared::shared_cache(&key),
        })
    }

    pub fn client(&self) -> &LinkedInClient {
        &self.client
    }

    pub(crate) fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn err(&self, e: CallError) -> ConnectorError {
        e.into_connector_error(&self.client.account_name)
    }
}

/// The connector's capabilities (the home returns these; the memory backend serves LinkedIn accounts with them).
pub fn capabilities() -> Capabilities {
    Capabilities {
        max_ops_per_request: config::MAX_OPS_PER_APPLY,
        // A hand-over may hold a group, its campaigns and their creatives: created in order, each child with the
        // id its parent's create returned.
        creates_children_in_one_request: true,
        ordered_requests: false,
        // LinkedIn has no labels: the marker ends `name` (groups, campaigns, creatives) or a segment's description.
        marked_kinds: vec![Kind::CampaignGroup, Kind::Campaign, Kind::Creative, Kind::Audience],
        immutable_fields: BTreeMap::from([
            (Kind::Campaign, mapping::CAMPAIGN_FIXED.to_vec()),
            (Kind::Creative, vec!["content.reference"]),
            // a user list cannot become a company list (a segment's type is fixed at create)
            (Kind::Audience, vec!["list_type"]),
        ]),
        // `name` in a partial update's `$set` (with the marker; a segment's name carries none)
        renamable_kinds: vec![Kind::CampaignGroup, Kind::Campaign, Kind::Creative, Kind::Audience],
        // status PAUSED (creatives: intendedStatus)
        paused_status: "paused",
        settled_statuses: &[],
        swapped_fields: BTreeMap::new(),
        write_only_fields: BTreeMap::from([(Kind::Audience, vec!["members"])]),
    }
}

#[async_trait]
impl Connector for LinkedInConnector {
    fn platform(&self) -> Platform {
        Platform::Linkedin
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    async fn read(&self, account: &Account, req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
        self.read_inner(account, req).await
    }

    async fn apply(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        apply::run(self, account, batch, false).await
    }

    /// LinkedIn has no dry run: what the mapping can check is checked locally, and nothing is sent.
    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        apply::run(self, account, batch, true).await
    }

    async fn health(&self, account: &Account) -> Result<Health, ConnectorError> {
        let id = &self.client.account_id;
        let a = self
            .client
            .get(Method::Get, &format!("adAccounts/{}", path_key(id)), &Query::new())
            .await
            .map_err(|e| self.err(e))?;
        let info: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_default();
        let name = info.get("name").and_then(|x| x.as_str()).unwrap_or("");
        let currency = info.get("currency").and_then(|x| x.as_str()).unwrap_or("");
        let status = info.get("status").and_then(|x| x.as_str()).unwrap_or("");
        let mut problems = Vec::new();
        if !status.is_empty() && status != "ACTIVE" {
            problems.push(format!("status is {status}"));
        }
        if !currency.is_empty() && currency != account.currency.code() {
            problems.push(format!(
                "the ad account's currency is {currency}, adsctl.yaml says {}",
                account.currency
            ));
        }
        Ok(Health {
            ok: problems.is_empty(),
            detail: if problems.is_empty() {
                format!("ad account {id} ({name}) is reachable")
            } else {
                format!("ad account {id} ({name}): {}", problems.join("; "))
            },
        })
    }

    async fn acquire_lease(
        &self,
        _account: &Account,
        holder: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        take_over: Option<&str>,
    ) -> Result<LeaseOutcome, ConnectorError> {
        lease::acquire(self, holder, expires_at, take_over)
            .await
            .map_err(|e| self.err(e))
    }

    async fn renew_lease(
        &self,
        _account: &Account,
        l: &Lease,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ConnectorError> {
        lease::renew(self, l, expires_at).await.map_err(|e| self.err(e))
    }

    async fn release_lease(&self, _account: &Account, l: &Lease) -> Result<(), ConnectorError> {
        lease::release(self, l).await.map_err(|e| self.err(e))
    }

    async fn metrics(
        &self,
        account: &Account,
        level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        metrics::metrics(self, account, level, range).await
    }
}

/// A LinkedIn front end on loopback and a connector pointed at it, for the wire modules' tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::{LinkedInConfig, LinkedInConnector, LinkedInCredentials};
    use crate::model::{Account, Currency, Guardrails, Platform, RemovalPolicy};

    pub type Answer = (u16, Option<String>, String);
    pub type Route = Arc<dyn Fn(&str, &str, &str) -> Answer + Send + Sync>;

    /// A LinkedIn front end on loopback: `route(method+X-RestLi-Method, path?query, body)` answers; every request
    /// is recorded as `METHOD RESTLI path?query body`.
    pub async fn stub(route: Route) -> (String, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let log = log.clone();
            let route = route.clone();
            async move {
                let head = format!(
                    "{} {}",
                    req.method(),
                    req.headers()
                        .get("x-restli-method")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                );
                let target = format!("{}?{}", req.uri().path(), req.uri().query().unwrap_or(""));
                let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
                let body = String::from_utf8_lossy(&body).into_owned();
                log.lock().unwrap().push(format!("{head} {target} {body}"));
                let (status, id, text) = route(&head, &target, &body);
                let mut resp = axum::response::Response::new(axum::body::Body::from(text));
                *resp.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
                if let Some(id) = id {
                    resp.headers_mut().insert("x-restli-id", id.parse().unwrap());
                }
                resp
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    pub fn account(url: &str) -> Account {
        Account {
            name: "li".into(),
            platform: Platform::Linkedin,
            platform_id: "501".into(),
            login_customer_id: None,
            currency: Currency::from_code("USD").unwrap(),
            time_zone: None,
            on_removed: RemovalPolicy::Pause,
            guardrails: Guardrails::default(),
            endpoint: Some(url.into()),
        }
    }

    pub fn connector(url: &str) -> LinkedInConnector {
        let cfg = LinkedInConfig {
            retry_min_delay: Duration::from_millis(1),
            retry_max_delay: Duration::from_millis(2),
            lookup_delay: Duration::from_millis(1),
            segment_wait: Duration::from_millis(1),
            lease_settle: Duration::from_millis(1),
            ..LinkedInConfig::for_endpoint(url).unwrap()
        };
        LinkedInConnector::with(&account(url), cfg, LinkedInCredentials::token("li-apply-test-token-1")).unwrap()
    }
}
