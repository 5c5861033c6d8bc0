//! Reading an ad account: campaigns and line items (`with_draft=true`: drafts are hidden otherwise), custom
//! audiences, then the line items' promoted tweets and targeting criteria (`line_item_ids`, ≤ 200 per call; the
//! criteria list requires it) — every list cursor-paged by `count=1000`. Deleted objects are not listed (X's
//! default) and are gone for adsctl; lease campaigns and whatever sits under them are left out.

use std::collections::HashMap;

use serde::Deserialize;

use super::client::{CallError, Query};
use super::config::MAX_FILTER_IDS;
use super::lease::is_lease_name;
use super::mapping::{self, AudienceRow, CampaignRow, CriterionRow, LineItemRow, PromotedTweetRow};
use super::{Cache, XConnector};
use crate::connectors::{ConnectorError, LiveSnapshot, ReadRequest};
use crate::model::{Account, Address, Resource};

pub fn decode<T: for<'de> Deserialize<'de>>(rows: &[serde_json::Value], what: &str) -> Result<Vec<T>, CallError> {
    rows.iter()
        .map(|r| {
            serde_json::from_value::<T>(r.clone()).map_err(|e| CallError::Decode {
                message: format!("unexpected {what}: {e}"),
            })
        })
        .collect()
}

impl XConnector {
    /// `accounts/{a}/<collection>`.
    pub(crate) fn path(&self, collection: &str) -> String {
        self.client.account_path(collection)
    }

    pub(crate) async fn campaigns(&self, extra: Query) -> Result<Vec<CampaignRow>, CallError> {
        let rows = self
            .client
            .list_all(&self.path("campaigns"), extra.set("with_draft", "true"))
            .await?;
        Ok(decode::<CampaignRow>(&rows, "campaign")?
            .into_iter()
            .filter(|c| c.deleted != Some(true))
            .collect())
    }

    pub(crate) async fn line_items(&self, extra: Query) -> Result<Vec<LineItemRow>, CallError> {
        let rows = self
            .client
            .list_all(&self.path("line_items"), extra.set("with_draft", "true"))
            .await?;
        Ok(decode::<LineItemRow>(&rows, "line item")?
            .into_iter()
            .filter(|c| c.deleted != Some(true))
            .collect())
    }

    pub(crate) async fn audiences(&self) -> Result<Vec<AudienceRow>, CallError> {
        let rows = self
            .client
            .list_all(&self.path("custom_audiences"), Query::new())
            .await?;
        Ok(decode::<AudienceRow>(&rows, "custom audience")?
            .into_iter()
            .filter(|c| c.deleted != Some(true))
            .collect())
    }

    /// A list filtered by `line_item_ids`, ≤ 200 ids per call.
    async fn by_line_items(&self, collection: &str, ids: &[String]) -> Result<Vec<serde_json::Value>, CallError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(MAX_FILTER_IDS) {
            let q = Query::new().set("line_item_ids", chunk.join(","));
            out.extend(self.client.list_all(&self.path(collection), q).await?);
        }
        Ok(out)
    }

    pub(crate) async fn promoted_tweets(&self, line_items: &[String]) -> Result<Vec<PromotedTweetRow>, CallError> {
        let rows = self.by_line_items("promoted_tweets", line_items).await?;
        Ok(decode::<PromotedTweetRow>(&rows, "promoted tweet")?
            .into_iter()
            .filter(|c| c.deleted != Some(true))
            .collect())
    }

    pub(crate) async fn criteria(&self, line_items: &[String]) -> Result<Vec<CriterionRow>, CallError> {
        let rows = self.by_line_items("targeting_criteria", line_items).await?;
        Ok(decode::<CriterionRow>(&rows, "targeting criterion")?
            .into_iter()
            .filter(|c| c.deleted != Some(true))
            .collect())
    }

    pub(super) async fn read_inner(
        &self,
        account: &Account,
        _req: &ReadRequest,
    ) -> Result<LiveSnapshot, ConnectorError> {
        let err = |e: CallError| self.err(e);
        let (campaigns, line_items, audiences) = tokio::try_join!(
            self.campaigns(Query::new()),
            self.line_items(Query::new()),
            self.audiences()
        )
        .map_err(err)?;
        let map = |e: mapping::MappingError| ConnectorError::Api {
            platform: "x",
            code: "decode".into(),
            message: e.to_string(),
            hint: None,
        };
        let acct = account.name.as_str();
        let mut cache = Cache::default();
        let mut out: Vec<Resource> = Vec::new();

        let mut audience_names: HashMap<String, String> = HashMap::new();
        for a in &audiences {
            let Some(r) = mapping::audience_resource(a, acct) else {
                continue;
            };
            let id = r.id.clone().unwrap_or_default();
            let name = r.address.name().unwrap_or_default().to_string();
            let (user, marker) = a
                .description
                .as_deref()
                .map(mapping::split_description)
                .unwrap_or((None, None));
            cache.descriptions.insert(id.clone(), user);
            if let Some(Some(fp)) = marker {
                cache.fingerprints.insert(id.clone(), fp);
            }
            cache.audience_ids.insert(name.clone(), id.clone());
            audience_names.insert(id, name);
            out.push(r);
        }

        let mut campaign_addr: HashMap<String, Address> = HashMap::new();
        for c in &campaigns {
            if c.name.as_deref().is_some_and(is_lease_name) {
                continue;
            }
            let Some(r) = mapping::campaign_resource(c, acct).map_err(map)? else {
                continue;
            };
            let id = r.id.clone().unwrap_or_default();
            cache.names.insert(id.clone(), c.name.clone().unwrap_or_default());
            campaign_addr.insert(id, r.address.clone());
            out.push(r);
        }
        let mut li_addr: HashMap<String, Address> = HashMap::new();
        for l in &line_items {
            // under a campaign the read did not list (a lease, a deleted campaign): left out
            let Some(parent) = l.campaign_id.as_ref().and_then(|c| campaign_addr.get(c)) else {
                continue;
            };
            let Some(r) = mapping::line_item_resource(l, parent).map_err(map)? else {
                continue;
            };
            let id = r.id.clone().unwrap_or_default();
            cache.names.insert(id.clone(), l.name.clone().unwrap_or_default());
            li_addr.insert(id, r.address.clone());
            out.push(r);
        }
        let mut ids: Vec<String> = li_addr.keys().cloned().collect();
        ids.sort();
        let (tweets, criteria) = if ids.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            tokio::try_join!(self.promoted_tweets(&ids), self.criteria(&ids)).map_err(err)?
        };
        for p in &tweets {
            let Some(parent) = p.line_item_id.as_ref().and_then(|l| li_addr.get(l)) else {
                continue;
            };
            if let Some(r) = mapping::promoted_post_resource(p, parent) {
                out.push(r);
            }
        }
        for c in &criteria {
            let Some(parent) = c.line_item_id.as_ref().and_then(|l| li_addr.get(l)) else {
                continue;
            };
            if let Some(r) = mapping::criterion_resource(c, parent, acct, &audience_names) {
                out.push(r);
            }
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
