//! Reading an ad account in the fewest requests: one campaign group search, one campaign search, one creative
//! finder (`q=criteria`) and one DMP segment finder (`q=account`), each paged, run together. Only `ACTIVE`,
//! `PAUSED` and `DRAFT` objects are asked for (archived, canceled, completed and removed objects are gone for
//! adsctl); lease groups are left out.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;

use super::client::{path_key, CallError, Method, Query, Rv};
use super::mapping::{self, CampaignRow, CreativeRow, GroupRow, ReadContext, SegmentRow};
use super::{config::SEGMENT_PAGE_SIZE, LinkedInConnector};
use crate::connectors::{ConnectorError, LiveSnapshot, ReadRequest};
use crate::model::{Account, Address, Resource, Value};

/// The statuses a read lists.
pub const LIVE_STATUSES: [&str; 3] = ["ACTIVE", "PAUSED", "DRAFT"];

pub fn decode<T: for<'de> Deserialize<'de>>(rows: &[serde_json::Value], what: &str) -> Result<Vec<T>, CallError> {
    rows.iter()
        .map(|r| {
            serde_json::from_value::<T>(r.clone()).map_err(|e| CallError::Decode {
                message: format!("unexpected {what}: {e}"),
            })
        })
        .collect()
}

impl LinkedInConnector {
    /// `adAccounts/{id}/<collection>`.
    pub(crate) fn path(&self, collection: &str) -> String {
        format!("adAccounts/{}/{collection}", path_key(&self.client.account_id))
    }

    /// `search=(status:(values:List(…)))` of the group and campaign searches.
    pub(crate) fn status_search(statuses: &[&str]) -> Rv {
        Rv::obj([("status", Rv::obj([("values", Rv::list(statuses))]))])
    }

    pub(crate) async fn groups(&self, statuses: &[&str]) -> Result<Vec<GroupRow>, CallError> {
        let q = Query::new()
            .prim("q", "search")
            .rv("search", &Self::status_search(statuses));
        let rows = self
            .client
            .search_all(&self.path("adCampaignGroups"), q, self.client.cfg.search_page_size)
            .await?;
        decode(&rows, "campaign group")
    }

    pub(crate) async fn campaigns(&self) -> Result<Vec<CampaignRow>, CallError> {
        let q = Query::new()
            .prim("q", "search")
            .rv("search", &Self::status_search(&LIVE_STATUSES));
        let rows = self
            .client
            .search_all(&self.path("adCampaigns"), q, self.client.cfg.search_page_size)
            .await?;
        decode(&rows, "campaign")
    }

    pub(crate) async fn creatives(&self) -> Result<Vec<CreativeRow>, CallError> {
        let q = Query::new()
            .prim("q", "criteria")
            .rv("intendedStatuses", &Rv::list(LIVE_STATUSES));
        let rows = self
            .client
            .search_all(&self.path("creatives"), q, self.client.cfg.creative_page_size)
            .await?;
        decode(&rows, "creative")
    }

    pub(crate) async fn segments(&self) -> Result<Vec<SegmentRow>, CallError> {
        let q = Query::new()
            .prim("q", "account")
            .prim("account", self.client.account_urn());
        let rows = self.client.start_count_all("dmpSegments", q, SEGMENT_PAGE_SIZE).await?;
        decode(&rows, "DMP segment")
    }

    /// BATCH_GET of `ids` (by 100) in a collection of the account: the objects found, whatever their status (ids
    /// the collection does not have are in the answer's `errors`, and left out).
    pub(crate) async fn batch_get(
        &self,
        collection: &str,
        ids: &[String],
    ) -> Result<Vec<serde_json::Value>, CallError> {
        #[derive(Deserialize)]
        struct Resp {
            #[serde(default)]
            results: BTreeMap<String, serde_json::Value>,
        }
        let mut out = Vec::new();
        for chunk in ids.chunks(super::config::MAX_BATCH_UPDATE) {
            let q = Query::new().rv("ids", &Rv::list(chunk));
            let a = self.client.get(Method::BatchGet, &self.path(collection), &q).await?;
            let r: Resp = a.json(collection)?;
            out.extend(r.results.into_values());
        }
        Ok(out)
    }

    pub(super) async fn read_inner(
        &self,
        account: &Account,
        req: &ReadRequest,
    ) -> Result<LiveSnapshot, ConnectorError> {
        let err = |e: CallError| e.into_connector_error(&self.client.account_name);
        let (segments, groups, campaigns, creatives) = tokio::try_join!(
            self.segments(),
            self.groups(&LIVE_STATUSES),
            self.campaigns(),
            self.creatives(),
        )
        .map_err(err)?;
        let (mut groups, mut campaigns) = (groups, campaigns);
        // ids pinned with `id:` that the searches did not list (archived, completed, …): BATCH_GET
        let listed: HashSet<&str> = groups
            .iter()
            .filter_map(|g| g.id.as_deref())
            .chain(campaigns.iter().filter_map(|c| c.id.as_deref()))
            .chain(creatives.iter().filter_map(|c| c.id.as_deref()))
            .chain(segments.iter().filter_map(|s| s.id.as_deref()))
            .collect();
        let missing: Vec<String> = req
            .pinned_ids
            .iter()
            .filter(|p| !listed.contains(p.as_str()) && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let (g, c) = tokio::try_join!(
                self.batch_get("adCampaignGroups", &missing),
                self.batch_get("adCampaigns", &missing),
            )
            .map_err(err)?;
            groups.extend(decode::<GroupRow>(&g, "campaign group").map_err(err)?);
            campaigns.extend(decode::<CampaignRow>(&c, "campaign").map_err(err)?);
        }
        let decode_err = |what: &str, id: &str, e: mapping::MappingError| ConnectorError::Api {
            platform: "linkedin",
            code: "decode".into(),
            message: format!("{what} {id}: {e}"),
            hint: None,
        };
        let mut out: Vec<Resource> = Vec::new();
        let mut cache = super::Cache::default();
        let mut seg_addr: HashMap<String, Address> = HashMap::new();
        for s in &segments {
            let Some(r) = mapping::segment_resource(
                s,
                &ReadContext {
                    account: &account.name,
                    currency: account.currency,
                    segments: &seg_addr,
                },
            ) else {
                continue;
            };
            let (Some(id), Some(urn)) = (r.id.clone(), s.ad_segment_urn()) else {
                continue;
            };
            seg_addr.insert(urn.clone(), r.address.clone());
            cache.ad_segments.insert(id.clone(), urn);
            cache.descriptions.insert(
                id.clone(),
                r.fields.get("description").and_then(Value::as_str).map(str::to_string),
            );
            if let Some(fp) = r.observed.get(&crate::model::fingerprint_key("members")) {
                cache.fingerprints.insert(id.clone(), fp.clone());
            }
            cache.names.insert(id, s.name.clone().unwrap_or_default());
            out.push(r);
        }
        let ctx = ReadContext {
            account: &account.name,
            currency: account.currency,
            segments: &seg_addr,
        };
        let mut seen = HashSet::new();
        let mut group_addr: HashMap<String, Address> = HashMap::new();
        for g in &groups {
            let Some(id) = g.id.clone() else { continue };
            // the account's default (backfilled) group is LinkedIn's: it cannot be changed, so neither it nor what
            // is in it is adsctl's to read (its campaigns have no parent here and are left out below)
            if !seen.insert(id.clone())
                || g.name.as_deref().is_some_and(super::lease::is_lease_name)
                || g.backfilled == Some(true)
            {
                continue;
            }
            let r = mapping::group_resource(g, &ctx).map_err(|e| decode_err("campaign group", &id, e))?;
            cache.note(&id, g.name.as_deref(), g.status.as_deref(), &r);
            group_addr.insert(id, r.address.clone());
            out.push(r);
        }
        let mut campaign_addr: HashMap<String, Address> = HashMap::new();
        for c in &campaigns {
            let Some(id) = c.id.clone() else { continue };
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(parent) = c
                .campaign_group
                .as_deref()
                .and_then(|g| group_addr.get(mapping::urn_id(g)))
            else {
                continue;
            };
            let r = mapping::campaign_resource(c, parent, &ctx).map_err(|e| decode_err("campaign", &id, e))?;
            cache.note(&id, c.name.as_deref(), c.status.as_deref(), &r);
            if let Some(tc) = &c.targeting_criteria {
                cache.targeting.insert(id.clone(), tc.clone());
            }
            campaign_addr.insert(id, r.address.clone());
            out.push(r);
        }
        for c in &creatives {
            let Some(id) = c.id.clone() else { continue };
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(parent) = c
                .campaign
                .as_deref()
                .and_then(|p| campaign_addr.get(mapping::urn_id(p)))
            else {
                continue;
            };
            let r = mapping::creative_resource(c, parent);
            cache.note(&id, c.name.as_deref(), c.intended_status.as_deref(), &r);
            out.push(r);
        }
        self.cache().merge(cache);
        Ok(LiveSnapshot {
            resources: out,
            removed_ids: Vec::new(),
            complete: true,
            marker: None,
        })
    }
}

impl super::Cache {
    fn note(&mut self, id: &str, name: Option<&str>, status: Option<&str>, r: &Resource) {
        self.names.insert(id.to_string(), name.unwrap_or_default().to_string());
        if let Some(s) = status {
            self.statuses.insert(id.to_string(), s.to_ascii_uppercase());
        }
        let fields: BTreeMap<String, Value> = r.fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        self.live.insert(id.to_string(), fields);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Kind;
    use crate::platforms::linkedin::testing::{account, connector, stub, Route};

    #[tokio::test]
    async fn one_listing_per_kind_and_the_tree_is_rebuilt() {
        let route: Route = Arc::new(|_head: &str, target: &str, _body: &str| {
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let body = match path {
                "/rest/dmpSegments" => {
                    r#"{"elements":[{"id":55,"name":"Buyers","type":"USER","description":"CRM [adsctl-managed]",
                    "destinations":[{"destination":"LINKEDIN","destinationSegmentId":"urn:li:adSegment:9055"}]}],"paging":{"start":0,"count":1000}}"#
                }
                "/rest/adAccounts/501/adCampaignGroups" if query.contains("ids=List(") => {
                    r#"{"results":{"650":{"id":650,"name":"Old [adsctl-managed]","status":"ARCHIVED"}},"errors":{}}"#
                }
                "/rest/adAccounts/501/adCampaignGroups" => {
                    r#"{"elements":[
                    {"id":600,"name":"Q1 [adsctl-managed]","status":"ACTIVE"},
                    {"id":601,"name":"adsctl-lease|ci/1/x|1900000000","status":"DRAFT"}],"metadata":{}}"#
                }
                "/rest/adAccounts/501/adCampaigns" if query.contains("ids=List(") => r#"{"results":{}}"#,
                "/rest/adAccounts/501/adCampaigns" => {
                    r#"{"elements":[{"id":700,"name":"Leads [adsctl-managed]","status":"PAUSED",
                    "campaignGroup":"urn:li:sponsoredCampaignGroup:600",
                    "targetingCriteria":{"include":{"and":[{"or":{"urn:li:adTargetingFacet:audienceMatchingSegments":["urn:li:adSegment:9055"]}}]}}},
                    {"id":701,"name":"Stray","status":"ACTIVE","campaignGroup":"urn:li:sponsoredCampaignGroup:999"}],"metadata":{}}"#
                }
                "/rest/adAccounts/501/creatives" => {
                    r#"{"elements":[{"id":"urn:li:sponsoredCreative:800","name":"A","intendedStatus":"DRAFT",
                    "campaign":"urn:li:sponsoredCampaign:700"}],"metadata":{}}"#
                }
                _ => return (404, None, "{}".to_string()),
            };
            (200, None, body.to_string())
        });
        let (url, seen) = stub(route).await;
        let c = connector(&url);
        let req = ReadRequest {
            since: None,
            pinned_ids: vec!["650".into()],
        };
        let snap = c.read_inner(&account(&url), &req).await.unwrap();
        let addrs: Vec<String> = snap.resources.iter().map(|r| r.address.to_string()).collect();
        assert_eq!(
            addrs,
            [
                "li/audience/Buyers",
                "li/campaign_group/Q1",
                "li/campaign_group/Old",
                "li/campaign_group/Q1/campaign/Leads",
                "li/campaign_group/Q1/campaign/Leads/creative/A",
            ]
        );
        let creative = &snap.resources[4];
        assert!(!creative.owned, "no marker");
        assert_eq!(creative.kind, Kind::Creative);
        let leads = &snap.resources[3];
        assert_eq!(
            leads.fields.get("targeting.audiences"),
            Some(&Value::Set(
                [Value::reference(Address::account("li").child(Kind::Audience, "Buyers"))]
                    .into_iter()
                    .collect()
            ))
        );
        let log = seen.lock().unwrap();
        let finders: Vec<&String> = log.iter().filter(|l| l.starts_with("GET FINDER")).collect();
        assert_eq!(finders.len(), 4, "{log:?}");
        assert!(log.iter().any(|l| l.contains(
            "/rest/adAccounts/501/adCampaigns?q=search&search=(status:(values:List(ACTIVE,PAUSED,DRAFT)))&pageSize=500"
        )));
        assert!(log.iter().any(|l| l.contains(
            "/rest/adAccounts/501/creatives?q=criteria&intendedStatuses=List(ACTIVE,PAUSED,DRAFT)&pageSize=100"
        )));
        assert!(log
            .iter()
            .any(|l| l
                .contains("/rest/dmpSegments?q=account&account=urn%3Ali%3AsponsoredAccount%3A501&start=0&count=1000")));
        assert!(log
            .iter()
            .any(|l| l.starts_with("GET BATCH_GET /rest/adAccounts/501/adCampaignGroups?ids=List(650)")));
        assert_eq!(c.cache().statuses.get("800").map(String::as_str), None);
        assert_eq!(
            c.cache()
                .statuses
                .get("urn:li:sponsoredCreative:800")
                .map(String::as_str),
            Some("DRAFT")
        );
        assert_eq!(
            c.cache().ad_segments.get("55").map(String::as_str),
            Some("urn:li:adSegment:9055")
        );
    }
}
