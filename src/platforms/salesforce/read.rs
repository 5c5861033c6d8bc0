//! Reading an org: `SELECT … FROM Campaign` (every campaign: one named like a declared one without the key is
//! someone else's), paged by `nextRecordsUrl`; lease campaigns left out; then the owned audiences' members'
//! Status (`member_status`). Parents are `Ref`s to the address of the campaign read with that id.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value as Json;

use super::client::{soql_str, CallError};
use super::config::{KEY_FIELD, MAX_IN_VALUES};
use super::lease::is_lease_row;
use super::mapping::{self, CAMPAIGN_FIELDS};
use super::{Cache, SalesforceConnector};
use crate::connectors::{ConnectorError, LiveSnapshot, ReadRequest};
use crate::model::{Account, Address, Kind, Value};

fn s<'a>(row: &'a Json, k: &str) -> Option<&'a str> {
    row.get(k).and_then(Json::as_str).filter(|v| !v.is_empty())
}

/// `'a', 'b', …` of SOQL string literals.
pub fn in_list<'a>(values: impl IntoIterator<Item = &'a String>) -> String {
    values.into_iter().map(|v| soql_str(v)).collect::<Vec<_>>().join(", ")
}

impl SalesforceConnector {
    /// Every Campaign row (leases included).
    pub(crate) async fn campaign_rows(&self) -> Result<Vec<Json>, CallError> {
        self.client
            .query(&format!("SELECT {CAMPAIGN_FIELDS} FROM Campaign"))
            .await
    }

    /// Campaign id → the Statuses of its members, for these campaigns.
    pub(crate) async fn member_statuses(&self, ids: &[String]) -> Result<HashMap<String, BTreeSet<String>>, CallError> {
        let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
        for chunk in ids.chunks(MAX_IN_VALUES) {
            let rows = self
                .client
                .query(&format!(
                    "SELECT CampaignId, Status FROM CampaignMember WHERE CampaignId IN ({})",
                    in_list(chunk)
                ))
                .await?;
            for r in rows {
                if let Some(c) = s(&r, "CampaignId") {
                    out.entry(c.to_string())
                        .or_default()
                        .insert(s(&r, "Status").unwrap_or("").to_string());
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn read_inner(
        &self,
        account: &Account,
        _req: &ReadRequest,
    ) -> Result<LiveSnapshot, ConnectorError> {
        let rows = self.campaign_rows().await.map_err(|e| self.err(e))?;
        let acct = account.name.as_str();
        let mut cache = Cache::default();
        let mut out = Vec::new();
        let mut addr_of: HashMap<String, Address> = HashMap::new();
        let mut parents: Vec<(usize, String)> = Vec::new();
        for row in rows.iter().filter(|r| !is_lease_row(r)) {
            let Some(mut r) = mapping::campaign_resource(row, acct) else {
                continue;
            };
            let id = r.id.clone().unwrap_or_default();
            if r.kind == Kind::Audience {
                let (user, marker) = s(row, "Description")
                    .map(mapping::split_description)
                    .unwrap_or((None, None));
                cache.descriptions.insert(id.clone(), user);
                if let Some(Some(fp)) = marker {
                    cache.fingerprints.insert(id.clone(), fp);
                }
            } else if let Some(p) = s(row, "ParentId") {
                parents.push((out.len(), p.to_ascii_lowercase()));
            }
            addr_of.insert(id.to_ascii_lowercase(), r.address.clone());
            if r.kind == Kind::Audience && !r.owned {
                // an audience kind is only ever named by adsctl's key
                r.kind = Kind::Campaign;
            }
            out.push(r);
        }
        for (i, p) in parents {
            if let Some(a) = addr_of.get(&p) {
                out[i].fields.insert("parent", Value::reference(a.clone()));
            }
        }
        let audiences: Vec<String> = out
            .iter()
            .filter(|r| r.kind == Kind::Audience && r.owned)
            .filter_map(|r| r.id.clone())
            .collect();
        if !audiences.is_empty() {
            let statuses = self.member_statuses(&audiences).await.map_err(|e| self.err(e))?;
            for r in out.iter_mut().filter(|r| r.kind == Kind::Audience) {
                let id = r.id.clone().unwrap_or_default();
                if let Some(set) = statuses.get(&id).filter(|s| s.len() == 1) {
                    // the status the members share, for an apply that changes it; not a field: an audience of
                    // nobody the org knows has no status to read, and the YAML's says what new members get
                    if let Some(st) = set.iter().next().filter(|s| !s.is_empty()) {
                        cache.member_status.insert(id, st.clone());
                    }
                }
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

/// The e-mails of the members of the campaign named `name` (Contacts' and Leads' addresses as Salesforce mirrors
/// them on the member), in clear for the engine: never logged.
pub async fn source_emails(conn: &SalesforceConnector, name: &str) -> Result<Vec<String>, ConnectorError> {
    let rows = conn
        .client
        .query(&format!(
            "SELECT Id, {KEY_FIELD} FROM Campaign WHERE Name = {}",
            soql_str(name)
        ))
        .await
        .map_err(|e| conn.err(e))?;
    let rows: Vec<&Json> = rows.iter().filter(|r| !is_lease_row(r)).collect();
    let id = match rows.as_slice() {
        [one] => s(one, "Id").unwrap_or_default().to_string(),
        [] => {
            return Err(ConnectorError::Config(format!(
                "account `{}`: no campaign named `{name}` in the org",
                conn.client.account_name
            )))
        }
        many => {
            return Err(ConnectorError::Config(format!(
                "account `{}`: {} campaigns are named `{name}`; rename all but one in Salesforce",
                conn.client.account_name,
                many.len()
            )))
        }
    };
    let members = conn
        .client
        .query(&format!(
            "SELECT Id, Email FROM CampaignMember WHERE CampaignId = {}",
            soql_str(&id)
        ))
        .await
        .map_err(|e| conn.err(e))?;
    Ok(members
        .iter()
        .filter_map(|m| s(m, "Email").map(str::to_string))
        .collect())
}
