//! The emulated accounts: objects per customer and resource type (stored as their v25 JSON), the indexes the
//! platform rules need (unique names, budget use), change_status rows, and the state behind read lag.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::resources::{Res, ALL};

/// What an object looked like before the most recent write request touched it (for read lag).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub enum Prev {
    #[default]
    Unchanged,
    Created,
    Was(Value),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Obj {
    pub v: Value,
    /// Write request that last touched it.
    pub seq: u64,
    #[serde(default)]
    pub prev: Prev,
    /// Day the object was created (synthetic metrics start there).
    pub created: NaiveDate,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CustomerInfo {
    pub id: String,
    pub currency: String,
    pub time_zone: String,
    pub descriptive_name: String,
    pub manager: bool,
    pub clients: Vec<String>,
}

impl CustomerInfo {
    pub fn resource(&self) -> Value {
        json!({
            "resourceName": format!("customers/{}", self.id),
            "id": self.id,
            "descriptiveName": self.descriptive_name,
            "currencyCode": self.currency,
            "timeZone": self.time_zone,
            "manager": self.manager,
            "testAccount": true,
            "status": "ENABLED",
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChangeRow {
    pub id: u64,
    pub v: Value,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Customer {
    pub info: CustomerInfo,
    /// Per resource type: key (the part after the collection in the resource name) → object.
    pub tables: BTreeMap<Res, BTreeMap<String, Obj>>,
    /// Latest change per changed resource name.
    pub change_status: BTreeMap<String, ChangeRow>,
    /// Merchant Center accounts linked to this customer besides the well-known one (pmax.rs).
    #[serde(default)]
    pub merchants: std::collections::BTreeSet<String>,
    #[serde(skip)]
    pub names: HashMap<(Res, String, String), String>,
    #[serde(skip)]
    pub budget_refs: HashMap<String, u32>,
}

impl Customer {
    pub fn new(info: CustomerInfo) -> Self {
        Customer {
            info,
            tables: BTreeMap::new(),
            change_status: BTreeMap::new(),
            merchants: Default::default(),
            names: HashMap::new(),
            budget_refs: HashMap::new(),
        }
    }

    pub fn table(&self, res: Res) -> Option<&BTreeMap<String, Obj>> {
        self.tables.get(&res)
    }

    pub fn get(&self, res: Res, key: &str) -> Option<&Obj> {
        self.tables.get(&res).and_then(|t| t.get(key))
    }

    pub fn get_rn(&self, rn: &str) -> Option<(Res, &Obj)> {
        let (res, key) = parse_rn(rn, &self.info.id)?;
        self.get(res, key).map(|o| (res, o))
    }

    /// Replace (or delete, with `None`) an object, keeping the indexes right. Returns the old object.
    pub fn set(&mut self, res: Res, key: &str, new: Option<Obj>) -> Option<Obj> {
        let old = match &new {
            Some(o) => self.tables.entry(res).or_default().insert(key.to_string(), o.clone()),
            None => self.tables.get_mut(&res).and_then(|t| t.remove(key)),
        };
        if let Some(o) = &old {
            self.unindex(res, key, &o.v);
        }
        if let Some(o) = &new {
            self.index(res, key, &o.v);
        }
        old
    }

    fn index(&mut self, res: Res, key: &str, v: &Value) {
        if let Some(k) = name_key(res, v) {
            self.names.insert(k, key.to_string());
        }
        if let Some(b) = budget_ref(res, v) {
            *self.budget_refs.entry(b).or_default() += 1;
        }
    }

    fn unindex(&mut self, res: Res, key: &str, v: &Value) {
        if let Some(k) = name_key(res, v) {
            if self.names.get(&k).is_some_and(|x| x == key) {
                self.names.remove(&k);
            }
        }
        if let Some(b) = budget_ref(res, v) {
            if let Some(n) = self.budget_refs.get_mut(&b) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// The key of a live object of `res` with this name in this scope (campaign for ad groups).
    pub fn name_taken(&self, res: Res, scope: &str, name: &str) -> Option<&String> {
        self.names.get(&(res, scope.to_string(), name.to_string()))
    }

    /// Objects of `res` whose key starts with `{parent}~` (the criteria of a campaign, the label links of one
    /// object), from the ordered table without a scan.
    pub fn children<'s>(&'s self, res: Res, parent: &str) -> impl Iterator<Item = &'s Obj> + 's {
        let prefix = format!("{parent}~");
        self.tables
            .get(&res)
            .into_iter()
            .flat_map(move |t| {
                let p = prefix.clone();
                t.range(prefix.clone()..).take_while(move |(k, _)| k.starts_with(&p))
            })
            .map(|(_, o)| o)
    }

    /// Label links of one labelled object (`target` is its key, e.g. `{adGroupId}~{criterionId}`).
    pub fn links_of(&self, link: Res, target: &str) -> usize {
        self.children(link, target)
            .filter(|o| {
                // a link key is `{target}~{labelId}`: exactly one more part than the target
                o.v.get("resourceName")
                    .and_then(Value::as_str)
                    .and_then(|rn| rn.rsplit('/').next())
                    .is_some_and(|k| k.matches('~').count() == target.matches('~').count() + 1)
            })
            .count()
    }

    /// Live campaigns using a budget.
    pub fn budget_uses(&self, budget_rn: &str) -> u32 {
        self.budget_refs.get(budget_rn).copied().unwrap_or(0)
    }

    /// Rebuild the indexes (after a restore).
    pub fn reindex(&mut self) {
        self.names.clear();
        self.budget_refs.clear();
        let entries: Vec<(Res, String, Value)> = self
            .tables
            .iter()
            .flat_map(|(r, t)| t.iter().map(move |(k, o)| (*r, k.clone(), o.v.clone())))
            .collect();
        for (r, k, v) in entries {
            self.index(r, &k, &v);
        }
    }
}

fn is_removed(v: &Value) -> bool {
    v.get("status").and_then(Value::as_str) == Some("REMOVED")
}

/// Unique-name scope: campaigns, budgets, labels and user lists per customer; ad groups per campaign.
pub fn name_scope(res: Res, v: &Value) -> Option<String> {
    match res {
        Res::Campaign
        | Res::CampaignBudget
        | Res::Label
        | Res::UserList
        | Res::ConversionAction
        | Res::CustomConversionGoal
        | Res::Experiment => Some(String::new()),
        // "It must be unique under an experiment."
        Res::ExperimentArm => Some(
            v.get("experiment")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        Res::AdGroup | Res::AssetGroup => Some(
            v.get("campaign")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        _ => None,
    }
}

fn name_key(res: Res, v: &Value) -> Option<(Res, String, String)> {
    if is_removed(v) {
        return None;
    }
    let scope = name_scope(res, v)?;
    let name = v.get("name").and_then(Value::as_str)?;
    Some((res, scope, name.to_string()))
}

fn budget_ref(res: Res, v: &Value) -> Option<String> {
    if res != Res::Campaign || is_removed(v) {
        return None;
    }
    v.get("campaignBudget").and_then(Value::as_str).map(str::to_string)
}

/// `customers/{cid}/{coll}/{key}` → (type, key), for this customer only.
pub fn parse_rn<'a>(rn: &'a str, cid: &str) -> Option<(Res, &'a str)> {
    let rest = rn.strip_prefix("customers/")?;
    let (c, rest) = rest.split_once('/')?;
    if c != cid {
        return None;
    }
    let (coll, key) = rest.split_once('/')?;
    if key.is_empty() || key.contains('/') {
        return None;
    }
    Some((Res::by_coll(coll)?, key))
}

/// The time format of change_status and of the API's date-times: `yyyy-MM-dd HH:mm:ss.SSSSSS`.
pub fn now_string() -> String {
    Utc::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// All customers' dump, for persistence.
pub fn dump_customers(c: &BTreeMap<String, Customer>) -> Value {
    serde_json::to_value(c).unwrap_or(Value::Null)
}

pub fn restore_customers(v: Value) -> Result<BTreeMap<String, Customer>, String> {
    let mut c: BTreeMap<String, Customer> = serde_json::from_value(v).map_err(|e| e.to_string())?;
    for cust in c.values_mut() {
        cust.reindex();
    }
    Ok(c)
}

/// All defs, for iteration.
pub fn all_res() -> impl Iterator<Item = Res> {
    ALL.iter().map(|d| d.res)
}
