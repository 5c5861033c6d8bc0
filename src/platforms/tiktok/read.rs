//! Reading an advertiser: four listings at the largest page sizes (custom audiences by 100; campaigns, ad groups
//! and ads by 1,000), unfiltered so that one request serves a whole kind, plus `dmp/custom_audience/get/` (by
//! 100 ids) only for audiences whose list rows lack their details, and id-filtered gets with
//! `primary_status: STATUS_ALL` only for pinned ids (deleted objects are hidden otherwise).

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::client::{CallError, Query};
use super::config::{MAX_AUDIENCE_IDS, MAX_AUDIENCE_PAGE_SIZE, MAX_FILTER_IDS};
use super::mapping::{self, AdRow, AdgroupRow, AudienceRow, CampaignRow, ReadContext};
use super::{CachedAd, TikTokConnector};
use crate::connectors::{ConnectorError, LiveSnapshot, ReadRequest};
use crate::model::{Account, Address, Kind, Resource, Value};

/// Paths of the listings.
pub const CAMPAIGN_GET: &str = "campaign/get/";
pub const ADGROUP_GET: &str = "adgroup/get/";
pub const AD_GET: &str = "ad/get/";
pub const AUDIENCE_LIST: &str = "dmp/custom_audience/list/";
pub const AUDIENCE_GET: &str = "dmp/custom_audience/get/";

pub fn decode<T: for<'de> Deserialize<'de>>(rows: &[Box<RawValue>], what: &str) -> Result<Vec<T>, CallError> {
    rows.iter()
        .map(|r| {
            serde_json::from_str::<T>(r.get()).map_err(|e| CallError::Decode {
                message: format!("unexpected {what} row: {e}"),
            })
        })
        .collect()
}

/// `dmp/custom_audience/get/` answers `list` elements that are either the audience itself or
/// `{audience_details: {...}}` (unverified: the pack has no response shape); both are read.
fn audience_details(rows: &[Box<RawValue>]) -> Vec<AudienceRow> {
    #[derive(Deserialize)]
    struct Wrapped {
        audience_details: Box<RawValue>,
    }
    rows.iter()
        .filter_map(|r| {
            let inner = serde_json::from_str::<Wrapped>(r.get())
                .map(|w| w.audience_details)
                .unwrap_or_else(|_| r.clone());
            serde_json::from_str::<AudienceRow>(inner.get()).ok()
        })
        .collect()
}

impl TikTokConnector {
    pub(super) fn query(&self) -> Query {
        Query::new().plain("advertiser_id", &self.client.advertiser_id)
    }

    /// Every row of a get endpoint (deleted objects hidden), at the configured page size.
    pub(super) async fn list(
        &self,
        path: &str,
        filtering: Option<serde_json::Value>,
    ) -> Result<Vec<Box<RawValue>>, CallError> {
        let mut q = self.query();
        if let Some(f) = filtering {
            q = q.json("filtering", &f);
        }
        let page_size = match path {
            AD_GET => self.client.cfg.page_size.min(super::config::MAX_AD_PAGE_SIZE),
            _ => self.client.cfg.page_size,
        };
        self.client.get_all(path, q, page_size).await
    }

    /// Every custom audience (list), with the details `get/` adds for the rows that lack them.
    pub(super) async fn audiences(&self) -> Result<Vec<AudienceRow>, CallError> {
        let rows = self
            .client
            .get_all(AUDIENCE_LIST, self.query(), MAX_AUDIENCE_PAGE_SIZE)
            .await?;
        let mut list: Vec<AudienceRow> = decode(&rows, "custom audience")?;
        let lacking: Vec<String> = list
            .iter()
            .filter(|a| {
                if a.is_lookalike() {
                    !a.has_lookalike_spec()
                } else {
                    // the list has no retention (the emulator's rows, like the pack's [T3] schema)
                    a.calculate_type.is_none() || a.retention_in_days.is_none()
                }
            })
            .filter_map(AudienceRow::id)
            .collect();
        for chunk in lacking.chunks(MAX_AUDIENCE_IDS) {
            let data = self
                .client
                .get(AUDIENCE_GET, self.query().json("custom_audience_ids", chunk))
                .await?;
            #[derive(Deserialize)]
            struct Data {
                #[serde(default)]
                list: Vec<Box<RawValue>>,
            }
            let d: Data = serde_json::from_str(data.get()).map_err(|e| CallError::Decode {
                message: format!("GET {AUDIENCE_GET}: {e}"),
            })?;
            for detail in audience_details(&d.list) {
                let Some(id) = detail.id() else { continue };
                if let Some(row) = list.iter_mut().find(|a| a.id().as_deref() == Some(id.as_str())) {
                    row.merge(detail);
                }
            }
        }
        Ok(list)
    }

    /// Rows of pinned ids of one kind, deleted ones included.
    async fn pinned(&self, path: &str, id_key: &str, ids: &[String]) -> Result<Vec<Box<RawValue>>, CallError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(MAX_FILTER_IDS) {
            let f = serde_json::json!({ id_key: chunk, "primary_status": "STATUS_ALL" });
            out.extend(self.list(path, Some(f)).await?);
        }
        Ok(out)
    }

    pub(super) async fn read_inner(
        &self,
        account: &Account,
        req: &ReadRequest,
    ) -> Result<LiveSnapshot, ConnectorError> {
        let err = |e: CallError| e.into_connector_error(&self.client.account_name);
        let (audiences, campaigns, adgroups, ads) = tokio::try_join!(
            self.audiences(),
            self.list(CAMPAIGN_GET, None),
            self.list(ADGROUP_GET, None),
            self.list(AD_GET, None),
        )
        .map_err(err)?;
        let mut campaigns: Vec<CampaignRow> = decode(&campaigns, "campaign").map_err(err)?;
        let mut adgroups: Vec<AdgroupRow> = decode(&adgroups, "ad group").map_err(err)?;
        let mut ads: Vec<AdRow> = decode(&ads, "ad").map_err(err)?;

        if !req.pinned_ids.is_empty() {
            let seen: BTreeSet<String> = campaigns
                .iter()
                .filter_map(|c| c.campaign_id.as_ref().map(|i| i.0.clone()))
                .chain(
                    adgroups
                        .iter()
                        .filter_map(|g| g.adgroup_id.as_ref().map(|i| i.0.clone())),
                )
                .chain(ads.iter().filter_map(|a| a.ad_id.as_ref().map(|i| i.0.clone())))
                .collect();
            let missing: Vec<String> = req.pinned_ids.iter().filter(|p| !seen.contains(*p)).cloned().collect();
            if !missing.is_empty() {
                let (c, g, a) = tokio::try_join!(
                    self.pinned(CAMPAIGN_GET, "campaign_ids", &missing),
                    self.pinned(ADGROUP_GET, "adgroup_ids", &missing),
                    self.pinned(AD_GET, "ad_ids", &missing),
                )
                .map_err(err)?;
                campaigns.extend(decode::<CampaignRow>(&c, "campaign").map_err(err)?);
                adgroups.extend(decode::<AdgroupRow>(&g, "ad group").map_err(err)?);
                ads.extend(decode::<AdRow>(&a, "ad").map_err(err)?);
            }
        }

        let root = Address::account(&account.name);
        let mut audience_addr: HashMap<String, Address> = HashMap::new();
        for a in &audiences {
            if let (Some(id), Some(name)) = (a.id(), a.live_name()) {
                let kind = if a.is_lookalike() {
                    Kind::LookalikeAudience
                } else {
                    Kind::Audience
                };
                audience_addr.insert(id, root.child(kind, mapping::split_name(name).0));
            }
        }
        let ctx = ReadContext {
            account: &account.name,
            currency: account.currency,
            audiences: &audience_addr,
        };
        let decode_err = |what: &str, id: &str, e: mapping::MappingError| ConnectorError::Api {
            platform: "tiktok",
            code: "decode".into(),
            message: format!("{what} {id}: {e}"),
            hint: None,
        };

        let mut out: Vec<Resource> = Vec::new();
        let mut marker = req.since.clone().unwrap_or_default();
        let mut note = |t: &Option<String>| {
            if let Some(t) = t {
                if *t > marker {
                    marker = t.clone();
                }
            }
        };
        let mut names = HashMap::new();
        let mut calc = HashMap::new();
        for a in &audiences {
            if let Some(r) = mapping::audience_resource(a, &ctx) {
                if let (Some(id), Some(n)) = (&r.id, a.live_name()) {
                    names.insert(id.clone(), n.to_string());
                }
                if let (Some(id), Some(c)) = (&r.id, &a.calculate_type) {
                    calc.insert(id.clone(), c.clone());
                }
                out.push(r);
            }
        }
        let mut campaign_addr: HashMap<String, Address> = HashMap::new();
        let mut seen = BTreeSet::new();
        for c in &campaigns {
            let Some(id) = c.campaign_id.as_ref().map(|i| i.0.clone()) else {
                continue;
            };
            if !seen.insert(id.clone()) || c.campaign_name.as_deref().is_some_and(super::lease::is_lease_name) {
                continue;
            }
            note(&c.modify_time);
            let r = mapping::campaign_resource(c, &ctx).map_err(|e| decode_err("campaign", &id, e))?;
            names.insert(id.clone(), c.campaign_name.clone().unwrap_or_default());
            campaign_addr.insert(id, r.address.clone());
            out.push(r);
        }
        let mut adgroup_addr: HashMap<String, Address> = HashMap::new();
        let mut adgroup_campaign = HashMap::new();
        for g in &adgroups {
            let Some(id) = g.adgroup_id.as_ref().map(|i| i.0.clone()) else {
                continue;
            };
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(cid) = g.campaign_id.as_ref().map(|i| i.0.clone()) else {
                continue;
            };
            let Some(parent) = campaign_addr.get(&cid) else {
                continue;
            };
            note(&g.modify_time);
            let r = mapping::adgroup_resource(g, parent, &ctx).map_err(|e| decode_err("ad group", &id, e))?;
            names.insert(id.clone(), g.adgroup_name.clone().unwrap_or_default());
            adgroup_campaign.insert(id.clone(), cid);
            adgroup_addr.insert(id, r.address.clone());
            out.push(r);
        }
        let mut cached_ads = HashMap::new();
        for a in &ads {
            let Some(id) = a.ad_id.as_ref().map(|i| i.0.clone()) else {
                continue;
            };
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(gid) = a.adgroup_id.as_ref().map(|i| i.0.clone()) else {
                continue;
            };
            let Some(parent) = adgroup_addr.get(&gid) else { continue };
            note(&a.modify_time);
            let r = mapping::ad_resource(a, parent);
            let fields = r
                .fields
                .iter()
                .filter(|(k, _)| mapping::AD_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<std::collections::BTreeMap<String, Value>>();
            cached_ads.insert(
                id.clone(),
                CachedAd {
                    adgroup_id: gid,
                    fields,
                },
            );
            out.push(r);
        }
        {
            let mut cache = self.cache();
            cache.names.extend(names);
            cache.ads.extend(cached_ads);
            cache.adgroup_campaign.extend(adgroup_campaign);
            cache.audience_calc.extend(calc);
        }
        Ok(LiveSnapshot {
            resources: out,
            removed_ids: Vec::new(),
            complete: true,
            marker: (!marker.is_empty()).then_some(marker),
        })
    }
}
