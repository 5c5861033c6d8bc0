//! Reading an audience (`docs/resource-model.md` § Mailchimp, Reads), in the fewest requests: its static segments
//! (tags; lease segments left out), the members of each of adsctl's tags (ids and addresses; the addresses stay in
//! the connector's memory), and its regular campaigns (settings, recipients, status, send time; no content: the
//! title's fingerprint says whether the content is the YAML's). Every list is offset-paged by `count=1000`.

use std::collections::HashMap;

use super::client::{enc, q, CallError};
use super::lease::is_lease_name;
use super::mapping::{self, subscriber_hash, TagRow};
use super::MailchimpConnector;
use crate::connectors::{ConnectorError, LiveSnapshot, ReadRequest};
use crate::model::{Account, Address};

impl MailchimpConnector {
    /// The audience's static segments (tags and lease segments).
    pub(crate) async fn segments(&self) -> Result<Vec<TagRow>, CallError> {
        let rows = self
            .client
            .list_all(
                &self.client.list_path("segments"),
                "segments",
                &q(&[("type", "static")]),
            )
            .await?;
        Ok(rows.iter().filter_map(TagRow::from_json).collect())
    }

    /// A tag's members: (hash, address, status). `every_status`: unsubscribed, cleaned and transactional
    /// contacts too (the list leaves them out unless asked: `include_*`).
    pub(crate) async fn tag_members(
        &self,
        segment_id: &str,
        fields: &str,
        every_status: bool,
    ) -> Result<Vec<(String, String, String)>, CallError> {
        let path = self.client.list_path(&format!("segments/{}/members", enc(segment_id)));
        let mut query = q(&[("fields", fields)]);
        if every_status {
            query.extend(q(&[
                ("include_cleaned", "true"),
                ("include_transactional", "true"),
                ("include_unsubscribed", "true"),
            ]));
        }
        let rows = self.client.list_all(&path, "members", &query).await?;
        Ok(rows
            .iter()
            .map(|m| {
                let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                let email = s("email_address");
                let id = Some(s("id"))
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| subscriber_hash(&email));
                (id, email, s("status"))
            })
            .collect())
    }

    /// The audience's settings (`GET /lists/{list_id}`, the settings' fields only).
    pub(crate) async fn list_settings(&self) -> Result<serde_json::Value, CallError> {
        self.client
            .get(
                &self.client.list_path(""),
                &q(&[(
                    "fields",
                    "id,name,contact,permission_reminder,use_archive_bar,campaign_defaults,notify_on_subscribe,\
                     notify_on_unsubscribe,email_type_option,double_optin,marketing_permissions",
                )]),
            )
            .await
    }

    /// The audience's merge fields.
    pub(crate) async fn merge_fields(&self) -> Result<Vec<serde_json::Value>, CallError> {
        self.client
            .list_all(&self.client.list_path("merge-fields"), "merge_fields", &q(&[]))
            .await
    }

    /// The audience's regular campaigns.
    pub(crate) async fn campaigns(&self) -> Result<Vec<serde_json::Value>, CallError> {
        self.client
            .list_all(
                "campaigns",
                "campaigns",
                &q(&[("list_id", &self.client.list_id), ("type", "regular")]),
            )
            .await
    }

    pub(crate) async fn read_inner(
        &self,
        account: &Account,
        _req: &ReadRequest,
    ) -> Result<LiveSnapshot, ConnectorError> {
        let tags: Vec<TagRow> = self
            .segments()
            .await
            .map_err(|e| self.err(e))?
            .into_iter()
            .filter(|t| !is_lease_name(&t.name))
            .collect();
        let mut resources = Vec::new();
        let mut addresses = HashMap::new();
        let mut by_id: HashMap<String, Address> = HashMap::new();
        // the members of adsctl's tags, side by side (the client lets 10 requests fly at once) with the campaigns
        let owned: Vec<&TagRow> = tags.iter().filter(|t| mapping::split_tag(&t.name).1).collect();
        let reads = owned
            .iter()
            .map(|t| self.tag_members(&t.id, "members.id,members.email_address,total_items", true));
        let (lists, campaigns, settings, merge_fields) = futures_util::future::try_join4(
            futures_util::future::try_join_all(reads),
            self.campaigns(),
            self.list_settings(),
            self.merge_fields(),
        )
        .await
        .map_err(|e| self.err(e))?;
        let list_id = self.client.list_id.clone();
        resources.push(mapping::list_resource(&account.name, &list_id, &settings));
        let mut fields_wire = HashMap::new();
        for f in &merge_fields {
            if let Some(r) = mapping::merge_field_resource(&account.name, f) {
                fields_wire.insert(r.id.clone().unwrap_or_default(), f.clone());
                resources.push(r);
            }
        }
        let mut members_of: HashMap<String, Vec<(String, String, String)>> =
            owned.iter().map(|t| t.id.clone()).zip(lists).collect();
        for t in &tags {
            let members = members_of.remove(&t.id).map(|m| {
                let book: HashMap<String, String> = m.iter().map(|(h, e, _)| (h.clone(), e.clone())).collect();
                addresses.insert(t.id.clone(), book);
                m.into_iter().map(|(h, _, _)| h).collect()
            });
            let r = mapping::tag_resource(&account.name, t, members);
            by_id.insert(t.id.clone(), r.address.clone());
            resources.push(r);
        }
        let mut wire = HashMap::new();
        let mut fps = HashMap::new();
        for c in &campaigns {
            let Some((r, fp)) = mapping::campaign_resource(&account.name, c, &|sid| by_id.get(sid).cloned()) else {
                continue;
            };
            let id = r.id.clone().unwrap_or_default();
            if let Some(fp) = fp {
                fps.insert(id.clone(), fp);
            }
            wire.insert(id, c.clone());
            resources.push(r);
        }
        {
            let mut cache = self.cache();
            cache.addresses.extend(addresses);
            cache.campaigns = wire;
            cache.fingerprints = fps;
            cache.list = Some(settings);
            cache.merge_fields = fields_wire;
        }
        resources.sort_by(|a, b| (a.kind, &a.address).cmp(&(b.kind, &b.address)));
        Ok(LiveSnapshot {
            resources,
            removed_ids: Vec::new(),
            complete: true,
            marker: None,
        })
    }

    /// The subscribed addresses of a tag (named as the YAML does) or of the whole audience.
    pub(crate) async fn source_emails_inner(
        &self,
        account: &Account,
        audience: Option<&str>,
    ) -> Result<Vec<String>, ConnectorError> {
        let Some(name) = audience else {
            let rows = self
                .client
                .list_all(
                    &self.client.list_path("members"),
                    "members",
                    &q(&[
                        ("status", "subscribed"),
                        ("fields", "members.email_address,total_items"),
                    ]),
                )
                .await
                .map_err(|e| self.err(e))?;
            return Ok(rows
                .iter()
                .filter_map(|m| m.get("email_address").and_then(|e| e.as_str()).map(String::from))
                .collect());
        };
        let tags = self.segments().await.map_err(|e| self.err(e))?;
        // adsctl's tag of that name first, else the user's own tag of that exact name
        let tag = tags
            .iter()
            .find(|t| mapping::split_tag(&t.name) == (name.to_string(), true))
            .or_else(|| tags.iter().find(|t| t.name == name))
            .ok_or_else(|| {
                ConnectorError::Config(format!(
                    "account `{}`: the audience has no tag `{name}` to be the source of",
                    account.name
                ))
            })?;
        let members = self
            .tag_members(&tag.id, "members.email_address,members.status,total_items", false)
            .await
            .map_err(|e| self.err(e))?;
        Ok(members
            .into_iter()
            .filter(|(_, _, s)| s == "subscribed")
            .map(|(_, e, _)| e)
            .collect())
    }
}
