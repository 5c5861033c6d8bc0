//! Meta, the platform's home: its registry entry and YAML rules (`home`, `lower`) and its connector (the rest
//! of this folder).
//!
//! The Meta Marketing API connector (Graph API v25.0).
//!
//! - `config`: base URL, version, tunables, credentials (`appsecret_proof`).
//! - `client`: HTTP, throttling, retries, paging, the Batch API; `throttle`: buckets + usage headers.
//! - `wire`: Graph objects as sent; `mapping`: wire ↔ `Resource` (money offsets, enums, targeting, creatives).
//! - `apply`: operations → batched calls with named dependencies, per-call outcomes, audience members.
//! - `insights`: metrics, with async report runs for long ranges.
//! - `catalog`: catalog ads (the `product_catalogs:` block, product sets and their wire, the catalogs each ad
//!   account's reads look into, dynamic creatives' checks).
//!
//! The engine reaches it through [`connector`].

pub mod apply;
pub mod auth;
pub mod catalog;
pub mod client;
pub mod config;
pub mod emulated;
pub mod error;
pub mod home;
pub mod import;
pub mod insights;
pub mod lease;
pub mod lower;
pub mod mapping;
pub mod rules;
pub mod study;
pub mod throttle;
pub mod wire;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value as Json;

use self::client::{CallError, GraphClient};
use self::config::{MetaConfig, OWNERSHIP_LABEL};
use self::mapping::ReadContext;
use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, LiveSnapshot, MetricRow, MetricsLevel,
    OpOutcome, ReadRequest,
};
use crate::model::{Account, Address, Kind, Platform, Resource, Value};

pub use self::config::{resolve_credentials, MetaCredentials, API_VERSION};
pub use self::home::MetaHome;

/// Effective statuses of objects that are live (everything but ARCHIVED and DELETED), from
/// `adaccountcampaigns_effective_status_enum_param`.
pub const LIVE_STATUSES: [&str; 10] = [
    "ACTIVE",
    "PAUSED",
    "PENDING_REVIEW",
    "DISAPPROVED",
    "PREAPPROVED",
    "PENDING_BILLING_INFO",
    "CAMPAIGN_PAUSED",
    "ADSET_PAUSED",
    "IN_PROCESS",
    "WITH_ISSUES",
];

/// The creative fields of an ad (swapped, never updated in place).
pub const CREATIVE_FIELDS: [&str; 10] = [
    "creative.page_id",
    "creative.link",
    "creative.message",
    "creative.headline",
    "creative.description",
    "creative.image_hash",
    "creative.image_url",
    "creative.call_to_action",
    // catalog ads: a dynamic creative (`template_data`) and the product set it shows (`product_set_id`)
    "creative.dynamic",
    "creative.product_set",
];

/// Build the connector for one Meta account (called by `platforms::connector_for`).
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(MetaConnector::new(account)?))
}

/// What a read learned that a later apply needs (whole targeting specs, whole creatives, the label id).
#[derive(Default)]
struct Cache {
    label_id: Option<String>,
    /// Ad set id → its full targeting spec as read.
    targeting: HashMap<String, Json>,
    /// Ad id → its creative's `creative.*` fields as read.
    creatives: HashMap<String, BTreeMap<String, Value>>,
    /// Creative name → id, every creative of the account as read (a creative a killed run left behind is found
    /// by its name and reused, without a listing during the apply).
    creative_names: Option<HashMap<String, String>>,
    /// Audience id → the user's part of its description and the members' fingerprint its marker records.
    audiences: HashMap<String, (Option<String>, Option<String>)>,
    /// Custom conversion id → the user's part of its description (the marker is written after it).
    conversion_descriptions: HashMap<String, Option<String>>,
    /// Split test id → the user's part of its description, its start and its end (RFC 3339), as read.
    studies: HashMap<String, StudyRead>,
    /// Product set address → id (a dynamic creative swapped in names its product set by id).
    product_set_ids: HashMap<Address, String>,
}

/// A split test as read: the user's part of its description, its start and its end.
type StudyRead = (Option<String>, Option<String>, Option<String>);

pub struct MetaConnector {
    client: GraphClient,
    /// Shared by every connector of the same ad account in this process (the engine may build one per call).
    cache: Arc<Mutex<Cache>>,
}

/// `act_<digits>` whatever the user wrote.
pub fn act_id(platform_id: &str) -> String {
    let t = platform_id.trim();
    if t.starts_with("act_") {
        t.to_string()
    } else {
        format!("act_{t}")
    }
}

fn effective_status_param(include_removed: bool) -> (String, String) {
    let mut s: Vec<&str> = LIVE_STATUSES.to_vec();
    if include_removed {
        s.extend(["ARCHIVED", "DELETED"]);
    }
    ("effective_status".into(), Json::from(s).to_string())
}

fn is_removed(status: &Option<String>) -> bool {
    matches!(status.as_deref(), Some("ARCHIVED") | Some("DELETED"))
}

/// The custom conversions a read saw, as a short fingerprint of their ids (the incremental marker's second part).
fn conversion_ids_fingerprint(ccs: &[wire::CustomConversion]) -> String {
    use sha2::{Digest, Sha256};
    let mut ids: Vec<&str> = ccs
        .iter()
        .filter(|c| c.is_archived != Some(true))
        .map(|c| c.id.as_str())
        .collect();
    ids.sort_unstable();
    hex::encode(&Sha256::digest(ids.join(",").as_bytes())[..6])
}

fn study_ids_fingerprint(studies: &[study::AdStudy]) -> String {
    use sha2::{Digest, Sha256};
    let mut ids: Vec<&str> = studies.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    hex::encode(&Sha256::digest(ids.join(",").as_bytes())[..6])
}

/// Graph datetimes to unix seconds (for the incremental marker).
fn unix_of(t: &Option<String>) -> Option<i64> {
    let t = t.as_deref()?;
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .or_else(|| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z").ok())
        .map(|d| d.timestamp())
}

fn parse_all<T: serde::de::DeserializeOwned>(items: Vec<Json>, what: &str) -> Result<Vec<T>, ConnectorError> {
    items
        .into_iter()
        .map(|j| {
            serde_json::from_value(j).map_err(|e| ConnectorError::Api {
                platform: "meta",
                code: "decode".into(),
                message: format!("unexpected {what} object: {e}"),
                hint: None,
            })
        })
        .collect()
}

impl MetaConnector {
    pub fn new(account: &Account) -> Result<MetaConnector, ConnectorError> {
        let cfg = MetaConfig::from_env(account)?;
        let creds = resolve_credentials(account)?;
        MetaConnector::with(account, cfg, creds)
    }

    /// A connector with explicit configuration and credentials (tests, the auth module).
    pub fn with(account: &Account, cfg: MetaConfig, creds: MetaCredentials) -> Result<MetaConnector, ConnectorError> {
        if account.platform != Platform::Meta {
            return Err(ConnectorError::Config(format!(
                "account `{}` is a {} account, not meta",
                account.name, account.platform
            )));
        }
        let act = act_id(&account.platform_id);
        let client = GraphClient::new(cfg, creds, &account.name, &act)?;
        Ok(MetaConnector {
            client,
            cache: crate::platforms::shared::shared_cache(&format!(
                "{}|{act}",
                account.endpoint.as_deref().unwrap_or("")
            )),
        })
    }

    pub fn client(&self) -> &GraphClient {
        &self.client
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: CallError) -> ConnectorError {
        e.into_connector_error(&self.client.account_name)
    }

    /// The product sets of one catalog (catalog ads), with that catalog's id.
    async fn product_sets_of(
        &self,
        catalog_id: &str,
    ) -> Result<Vec<(String, catalog::WireProductSet)>, ConnectorError> {
        let sets: Vec<catalog::WireProductSet> = parse_all(
            self.client
                .get_all(
                    &format!("{catalog_id}/product_sets"),
                    &[("fields".into(), catalog::PRODUCT_SET_WIRE_FIELDS.into())],
                )
                .await
                .map_err(|e| match self.err(e) {
                    // say which catalog: an id the YAML declares that Meta does not know, or cannot show this app
                    ConnectorError::Api {
                        platform,
                        code,
                        message,
                        ..
                    } => ConnectorError::Api {
                        platform,
                        code,
                        message: format!("product catalog {catalog_id}: {message}"),
                        hint: Some(
                            "check `catalog_id` under product_catalogs: (Commerce Manager → Catalog → Settings) and \
                             that the ad account's business can use that catalog"
                                .into(),
                        ),
                    },
                    other => other,
                })?,
            "product set",
        )?;
        Ok(sets.into_iter().map(|s| (catalog_id.to_string(), s)).collect())
    }

    /// The ownership label's id, if the account has one (cached after the first look).
    async fn label_id(&self, act: &str) -> Result<Option<String>, CallError> {
        if let Some(id) = self.cache().label_id.clone() {
            return Ok(Some(id));
        }
        let labels = self
            .client
            .get_all(
                &format!("{act}/adlabels"),
                &[("fields".into(), wire::LABEL_FIELDS.into())],
            )
            .await?;
        let id = labels
            .into_iter()
            .filter_map(|j| serde_json::from_value::<wire::AdLabel>(j).ok())
            .find(|l| l.name == OWNERSHIP_LABEL)
            .map(|l| l.id);
        if let Some(id) = &id {
            self.cache().label_id = Some(id.clone());
        }
        Ok(id)
    }

    async fn read_inner(&self, account: &Account, req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
        let act = act_id(&account.platform_id);
        let c = &self.client;
        // every custom conversion (they have no status or update time to filter on; archived ones are left out
        // when mapped), read first: a deleted one simply disappears from the list, so an incremental read whose
        // marker remembers another set of ids is made a full one (the marker is `<time>:<fingerprint>`)
        let custom_conversions: Vec<wire::CustomConversion> = parse_all(
            c.get_all(
                &format!("{act}/customconversions"),
                &[("fields".into(), wire::CUSTOM_CONVERSION_FIELDS.into())],
            )
            .await
            .map_err(|e| self.err(e))?,
            "custom conversion",
        )?;
        // split tests (ad studies) likewise: every one the account's objects are in, read whole each time (a
        // deleted one just leaves the list): their ids join the marker's fingerprint
        let studies: Vec<study::AdStudy> = parse_all::<study::AdStudy>(
            c.get_all(
                &format!("{act}/ad_studies"),
                &[("fields".into(), study::STUDY_FIELDS.into())],
            )
            .await
            .map_err(|e| self.err(e))?,
            "ad study",
        )?
        .into_iter()
        .filter(study::is_split_test)
        .collect();
        // the product sets of the catalogs the YAML declares for this account (catalog ads), read on every read for
        // the same reason: a deleted one leaves the list; their ids join the marker's fingerprint
        let mut product_sets: Vec<(String, catalog::WireProductSet)> = Vec::new();
        let mut catalogs_read = catalog::declared_catalogs(&account.platform_id);
        for cat in &catalogs_read {
            product_sets.extend(self.product_sets_of(cat).await?);
        }
        let mut conversions_fp = conversion_ids_fingerprint(&custom_conversions);
        if !studies.is_empty() {
            conversions_fp = format!("{conversions_fp}-{}", study_ids_fingerprint(&studies));
        }
        if !product_sets.is_empty() {
            use sha2::{Digest, Sha256};
            let mut ids: Vec<&str> = product_sets.iter().map(|(_, s)| s.id.as_str()).collect();
            ids.sort_unstable();
            conversions_fp = format!(
                "{conversions_fp}-{}",
                hex::encode(&Sha256::digest(ids.join(",").as_bytes())[..6])
            );
        }
        let since: Option<i64> = req.since.as_deref().and_then(|s| {
            let (time, fp) = s.trim().split_once(':')?;
            (fp == conversions_fp).then(|| time.parse().ok()).flatten()
        });
        let incremental = since.is_some();
        let pinned: BTreeSet<&str> = req.pinned_ids.iter().map(String::as_str).collect();
        let include_removed = incremental || !pinned.is_empty();
        let status = effective_status_param(include_removed);

        self.cache().label_id = None;
        let label_id = self.label_id(&act).await.map_err(|e| self.err(e))?;

        let audiences: Vec<wire::CustomAudience> = parse_all(
            c.get_all(
                &format!("{act}/customaudiences"),
                &[("fields".into(), wire::AUDIENCE_FIELDS.into())],
            )
            .await
            .map_err(|e| self.err(e))?,
            "custom audience",
        )?;
        let campaigns: Vec<wire::Campaign> = parse_all(
            c.get_all(
                &format!("{act}/campaigns"),
                &[("fields".into(), wire::CAMPAIGN_FIELDS.into()), status.clone()],
            )
            .await
            .map_err(|e| self.err(e))?,
            "campaign",
        )?;
        let adsets: Vec<wire::AdSet> = parse_all(
            c.get_all(
                &format!("{act}/adsets"),
                &[("fields".into(), wire::ADSET_FIELDS.into()), status.clone()],
            )
            .await
            .map_err(|e| self.err(e))?,
            "ad set",
        )?;
        let mut ad_params = vec![("fields".to_string(), wire::AD_FIELDS.to_string()), status.clone()];
        if let Some(s) = since {
            ad_params.push(("updated_since".into(), s.to_string()));
        }
        let ads: Vec<wire::Ad> = parse_all(
            c.get_all(&format!("{act}/ads"), &ad_params)
                .await
                .map_err(|e| self.err(e))?,
            "ad",
        )?;
        let listed_creatives = !ads.is_empty();
        let creatives: HashMap<String, wire::Creative> = if !listed_creatives {
            HashMap::new()
        } else {
            parse_all::<wire::Creative>(
                c.get_all(
                    &format!("{act}/adcreatives"),
                    &[("fields".into(), wire::CREATIVE_FIELDS.into())],
                )
                .await
                .map_err(|e| self.err(e))?,
                "creative",
            )?
            .into_iter()
            .map(|cr| (cr.id.clone(), cr))
            .collect()
        };

        let root = Address::account(&account.name);
        let audience_addr: BTreeMap<String, Address> = audiences
            .iter()
            .map(|a| {
                let kind = if a.subtype.as_deref() == Some("LOOKALIKE") {
                    Kind::LookalikeAudience
                } else {
                    Kind::Audience
                };
                (a.id.clone(), root.child(kind, &a.name))
            })
            .collect();
        let conversion_addr: BTreeMap<String, Address> = custom_conversions
            .iter()
            .map(|cc| (cc.id.clone(), root.child(Kind::CustomConversion, &cc.name)))
            .collect();
        // catalogs campaigns sell from that the YAML does not declare (an import): their product sets too
        let promoted_catalogs: BTreeSet<String> = campaigns
            .iter()
            .filter_map(|cp| cp.promoted_object.as_ref()?.get("product_catalog_id").cloned())
            .filter_map(|v| match v {
                Json::String(s) => Some(s),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect();
        for cat in promoted_catalogs {
            if catalogs_read.insert(cat.clone()) {
                product_sets.extend(self.product_sets_of(&cat).await?);
            }
        }
        let product_set_resources: Vec<Resource> = product_sets
            .iter()
            .map(|(cat, s)| catalog::product_set_resource(&account.name, cat, s))
            .collect();
        let product_set_addr: BTreeMap<String, Address> = product_set_resources
            .iter()
            .filter_map(|r| Some((r.id.clone()?, r.address.clone())))
            .collect();
        let ctx = ReadContext {
            account: &account.name,
            currency: account.currency,
            label_id: label_id.as_deref(),
            audiences: &audience_addr,
            custom_conversions: &conversion_addr,
            product_sets: &product_set_addr,
        };

        let mut out = Vec::new();
        let mut removed_ids = Vec::new();
        let mut marker: i64 = since.unwrap_or(0);
        let mut keep = |id: &str, status: &Option<String>, updated: &Option<String>, removed_ids: &mut Vec<String>| {
            if let Some(t) = unix_of(updated) {
                marker = marker.max(t);
            }
            if is_removed(status) && !pinned.contains(id) {
                if incremental && unix_of(updated).is_none_or(|t| since.is_some_and(|s| t >= s)) {
                    removed_ids.push(id.to_string());
                }
                return false;
            }
            true
        };

        let mut audience_cache = HashMap::new();
        for a in &audiences {
            if let Some(r) = mapping::audience_resource(a, &ctx) {
                let (user, marker) = a
                    .description
                    .as_deref()
                    .map(mapping::split_description)
                    .unwrap_or_default();
                audience_cache.insert(a.id.clone(), (user, marker.flatten()));
                out.push(r);
            }
        }
        let mut conversion_cache = HashMap::new();
        for cc in &custom_conversions {
            if let Some(r) = mapping::custom_conversion_resource(cc, &ctx) {
                let user = cc.description.as_deref().and_then(|d| mapping::split_description(d).0);
                conversion_cache.insert(cc.id.clone(), user);
                out.push(r);
            }
        }
        let product_set_ids: HashMap<Address, String> =
            product_set_addr.iter().map(|(id, a)| (a.clone(), id.clone())).collect();
        out.extend(product_set_resources);
        let mut campaign_addr: HashMap<&str, Address> = HashMap::new();
        for cp in &campaigns {
            if !keep(&cp.id, &cp.status, &cp.updated_time, &mut removed_ids) {
                continue;
            }
            let r = mapping::campaign_resource(cp, &ctx).map_err(|e| ConnectorError::Api {
                platform: "meta",
                code: "decode".into(),
                message: format!("campaign {}: {e}", cp.id),
                hint: None,
            })?;
            campaign_addr.insert(&cp.id, r.address.clone());
            out.push(r);
        }
        let mut adset_addr: HashMap<&str, Address> = HashMap::new();
        let mut targeting = HashMap::new();
        for s in &adsets {
            if !keep(&s.id, &s.status, &s.updated_time, &mut removed_ids) {
                continue;
            }
            let Some(parent) = s.campaign_id.as_deref().and_then(|c| campaign_addr.get(c)) else {
                continue;
            };
            let r = mapping::adset_resource(s, parent, &ctx).map_err(|e| ConnectorError::Api {
                platform: "meta",
                code: "decode".into(),
                message: format!("ad set {}: {e}", s.id),
                hint: None,
            })?;
            if let Some(t) = &s.targeting {
                targeting.insert(s.id.clone(), t.clone());
            }
            adset_addr.insert(&s.id, r.address.clone());
            out.push(r);
        }
        let mut creative_cache = HashMap::new();
        for a in &ads {
            if !keep(&a.id, &a.status, &a.updated_time, &mut removed_ids) {
                continue;
            }
            let Some(parent) = a.adset_id.as_deref().and_then(|s| adset_addr.get(s)) else {
                continue;
            };
            let creative = a
                .creative
                .as_ref()
                .and_then(|c| c.id.as_deref())
                .and_then(|id| creatives.get(id));
            let r = mapping::ad_resource(a, parent, creative, &ctx);
            creative_cache.insert(
                a.id.clone(),
                r.fields
                    .iter()
                    .filter(|(k, _)| k.starts_with("creative."))
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            );
            out.push(r);
        }
        // each split test's cells and objectives; their campaigns and ad sets by the addresses just read
        let mut study_cache = HashMap::new();
        if !studies.is_empty() {
            let objects: HashMap<String, Address> = campaign_addr
                .iter()
                .chain(adset_addr.iter())
                .map(|(id, a)| (id.to_string(), a.clone()))
                .collect();
            for s in &studies {
                let cells: Vec<study::AdStudyCell> = parse_all(
                    c.get_all(
                        &format!("{}/cells", s.id),
                        &[("fields".into(), study::CELL_FIELDS.into())],
                    )
                    .await
                    .map_err(|e| self.err(e))?,
                    "ad study cell",
                )?;
                let objectives: Vec<study::AdStudyObjective> = parse_all(
                    c.get_all(
                        &format!("{}/objectives", s.id),
                        &[("fields".into(), study::OBJECTIVE_FIELDS.into())],
                    )
                    .await
                    .map_err(|e| self.err(e))?,
                    "ad study objective",
                )?;
                let r = study::study_resource(&account.name, s, &cells, &objectives, &objects);
                let user = s.description.as_deref().and_then(|d| mapping::split_description(d).0);
                let time = |k: &str| r.fields.get(k).and_then(|v| v.as_str()).map(str::to_string);
                study_cache.insert(s.id.clone(), (user, time("start_time"), time("end_time")));
                out.push(r);
            }
        }
        {
            let mut cache = self.cache();
            cache.studies.extend(study_cache);
            cache.targeting.extend(targeting);
            cache.creatives.extend(creative_cache);
            cache.audiences.extend(audience_cache);
            cache.conversion_descriptions.extend(conversion_cache);
            cache.product_set_ids.extend(product_set_ids);
            if !incremental {
                cache.creative_names = listed_creatives.then(|| {
                    creatives
                        .values()
                        .filter_map(|c| Some((c.name.clone()?, c.id.clone())))
                        .collect()
                });
            }
            if let Some(l) = label_id {
                cache.label_id = Some(l);
            }
        }
        Ok(LiveSnapshot {
            resources: out,
            removed_ids,
            complete: !incremental,
            marker: Some(format!("{marker}:{conversions_fp}")),
        })
    }
}

/// The connector's capabilities (also used by tests and the plan renderer).
pub fn capabilities() -> Capabilities {
    Capabilities {
        max_ops_per_request: config::MAX_OPS_PER_APPLY,
        creates_children_in_one_request: true,
        // A batch runs its calls in parallel unless they depend on each other: removals go in later batches.
        ordered_requests: false,
        // Ad labels on campaigns, ad sets and ads; a marker at the end of the description of custom and lookalike
        // audiences and of custom conversions (they have no ad labels).
        marked_kinds: vec![
            Kind::Campaign,
            Kind::AdSet,
            Kind::Ad,
            Kind::Audience,
            Kind::LookalikeAudience,
            Kind::CustomConversion,
            Kind::SplitTest,
            Kind::ProductSet,
        ],
        immutable_fields: BTreeMap::from([
            (Kind::SplitTest, study::IMMUTABLE.to_vec()),
            // a catalog campaign's catalog is fixed (its ad sets promote that catalog's product sets)
            (Kind::Campaign, vec!["objective", "catalog_id"]),
            // a product set is made on its catalog
            (Kind::ProductSet, vec!["catalog_id"]),
            (Kind::LookalikeAudience, vec!["origin", "country", "ratio"]),
            // CustomConversion.json's `#update` takes name, description and default_conversion_value only
            (Kind::CustomConversion, vec!["pixel_id", "rule", "event_type"]),
        ]),
        swapped_fields: BTreeMap::from([(Kind::Ad, CREATIVE_FIELDS.to_vec())]),
        write_only_fields: BTreeMap::from([(Kind::Audience, vec!["members"])]),
        // `name` is a field of every node it manages (lookalikes are replaced, never changed)
        renamable_kinds: vec![
            Kind::Campaign,
            Kind::AdSet,
            Kind::Ad,
            Kind::Audience,
            Kind::CustomConversion,
            Kind::SplitTest,
            Kind::ProductSet,
        ],
        paused_status: "paused",
        settled_statuses: &[],
    }
}

#[async_trait]
impl Connector for MetaConnector {
    fn platform(&self) -> Platform {
        Platform::Meta
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

    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        apply::run(self, account, batch, true).await
    }

    async fn health(&self, account: &Account) -> Result<Health, ConnectorError> {
        let act = act_id(&account.platform_id);
        let j = self
            .client
            .get(&act, &[("fields".into(), "id,name,account_status,currency".into())])
            .await
            .map_err(|e| self.err(e))?;
        let status = j
            .get("account_status")
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
        let currency = j.get("currency").and_then(Json::as_str).unwrap_or("");
        let name = j.get("name").and_then(Json::as_str).unwrap_or("");
        let mut problems = Vec::new();
        // AdAccount.account_status: 1 = ACTIVE; anything else (disabled, unsettled, in grace period, …) needs a look.
        if status != Some(1) {
            problems.push(format!(
                "account_status is {}",
                status.map_or("unknown".to_string(), |s| s.to_string())
            ));
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
                format!("{act} ({name}) is active; usage {}%", self.client.throttle.usage_pct())
            } else {
                format!("{act} ({name}): {}", problems.join("; "))
            },
        })
    }

    async fn acquire_lease(
        &self,
        account: &Account,
        holder: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        take_over: Option<&str>,
    ) -> Result<crate::connectors::LeaseOutcome, ConnectorError> {
        lease::acquire(
            &self.client,
            &act_id(&account.platform_id),
            holder,
            expires_at,
            take_over,
        )
        .await
        .map_err(|e| self.err(e))
    }

    async fn renew_lease(
        &self,
        _account: &Account,
        l: &crate::connectors::Lease,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ConnectorError> {
        lease::renew(&self.client, l, expires_at).await.map_err(|e| self.err(e))
    }

    async fn release_lease(&self, _account: &Account, l: &crate::connectors::Lease) -> Result<(), ConnectorError> {
        lease::release(&self.client, l).await.map_err(|e| self.err(e))
    }

    async fn metrics(
        &self,
        account: &Account,
        level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        insights::metrics(self, account, level, range).await
    }
}
