//! Operations → Salesforce writes, in the fewest calls sObject Collections allow (`docs/resource-model.md`):
//!
//! 1. creates: upserts by the key, `PATCH /composite/sobjects/Campaign/Adsctl_Key__c` (≤ 200, `allOrNone: false`),
//!    level by level (a child campaign once its parent has an id);
//! 2. campaign updates, renames (Name and key), pauses (`IsActive: false`) and adoptions (the key):
//!    `PATCH /composite/sobjects` (≤ 200);
//! 3. audiences, one by one: the Description's fingerprint cleared, the members written (CampaignMember inserts and
//!    deletes ≤ 200 a call, Status patches), then the new fingerprint;
//! 4. deletes: `DELETE /composite/sobjects?ids=…` (≤ 200); gone is done.
//!
//! Collections answer 200 whatever happened: each record's `statusCode` fails its own operation. Records answered
//! ALL_OR_NONE_OPERATION_ROLLED_BACK or UNABLE_TO_LOCK_ROW are sent again, twice at most.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Map, Value as Json};

use super::client::{soql_str, CallError, RecordResult, Verb};
use super::config::{KEY_FIELD, MAX_COLLECTION, MAX_IN_VALUES};
use super::errors::ApiError;
use super::mapping::{self, key_of, marked_description, MappingError, AUDIENCE_KEYS};
use super::read::in_list;
use super::SalesforceConnector;
use crate::connectors::clear;
use crate::connectors::{ApplyBatch, ConnectorError, IdRef, OpAction, OpError, OpOutcome, Operation, NAME_FIELD};
use crate::model::{value_fingerprint, Account, Kind, Value};

type Outcome = Result<Option<String>, OpError>;

struct Run<'a> {
    conn: &'a SalesforceConnector,
    ops: &'a [Operation],
    out: Vec<Option<OpOutcome>>,
    ids: Vec<Option<String>>,
    /// What stopped the run in the middle of an audience (no session, the allocation spent): returned as it is.
    halt: std::sync::Mutex<Option<ConnectorError>>,
}

fn failed(e: OpError) -> Option<OpOutcome> {
    Some(OpOutcome::Failed(e))
}

fn mapping_failed(e: MappingError) -> OpOutcome {
    OpOutcome::Failed(e.to_op_error())
}

fn op_error(code: &str, message: impl Into<String>, field: Option<&str>, hint: &str) -> OpError {
    OpError {
        code: code.into(),
        message: message.into(),
        field: field.map(String::from),
        hint: Some(hint.into()),
    }
}

fn record_error(r: &RecordResult, account: &str) -> OpError {
    ApiError::from_items(200, r.errors.clone()).to_op_error(Some(account))
}

fn s<'a>(row: &'a Json, k: &str) -> Option<&'a str> {
    row.get(k).and_then(Json::as_str).filter(|v| !v.is_empty())
}

pub async fn run(
    conn: &SalesforceConnector,
    _account: &Account,
    batch: &ApplyBatch,
    validate: bool,
) -> Result<Vec<OpOutcome>, ConnectorError> {
    let mut r = Run {
        conn,
        ops: &batch.ops,
        out: vec![None; batch.ops.len()],
        ids: batch
            .ops
            .iter()
            .map(|op| match &op.action {
                OpAction::Create { .. } => None,
                OpAction::Update { id, .. }
                | OpAction::Adopt { id }
                | OpAction::Pause { id }
                | OpAction::Remove { id } => Some(id.clone()),
            })
            .collect(),
        halt: std::sync::Mutex::new(None),
    };
    r.check();
    if !validate {
        r.creates().await?;
        r.campaign_updates().await?;
        r.audiences().await?;
        r.removals().await?;
    }
    Ok(r.out
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.unwrap_or_else(|| {
                if validate {
                    OpOutcome::Valid
                } else {
                    OpOutcome::Applied {
                        id: r.ids[i].clone().unwrap_or_default(),
                    }
                }
            })
        })
        .collect())
}

impl Run<'_> {
    /// Keep what stops the run, for `audiences` to return; the operation fails meanwhile.
    fn stopped(&self, e: ConnectorError) -> OpOutcome {
        let oe = op_error("stopped", e.to_string(), None, e.hint().unwrap_or("run again"));
        let mut h = self.halt.lock().unwrap_or_else(|p| p.into_inner());
        h.get_or_insert(e);
        OpOutcome::Failed(oe)
    }

    fn acct(&self) -> &str {
        &self.conn.client.account_name
    }

    fn call_error(&self, e: &CallError) -> OpError {
        e.to_op_error(self.acct())
    }

    /// Operations not decided yet.
    fn open(&self) -> Vec<usize> {
        (0..self.ops.len()).filter(|&i| self.out[i].is_none()).collect()
    }

    /// What the mapping can check without a request.
    fn check(&mut self) {
        for i in 0..self.ops.len() {
            let op = &self.ops[i];
            let res: Result<(), OpOutcome> = match (op.kind, &op.action) {
                (Kind::Campaign | Kind::Audience, OpAction::Create { fields }) => self.check_fields(i, fields),
                (Kind::Campaign | Kind::Audience, OpAction::Update { set, .. }) => self.check_fields(i, set),
                (Kind::Campaign | Kind::Audience, _) => Ok(()),
                (k, _) => Err(OpOutcome::Failed(op_error(
                    "unsupported",
                    format!("Salesforce has no {}", k.as_str()),
                    None,
                    "see docs/resource-model.md (Salesforce)",
                ))),
            };
            if let Err(o) = res {
                self.out[i] = Some(o);
            }
        }
    }

    fn check_fields(&self, i: usize, fields: &BTreeMap<String, Value>) -> Result<(), OpOutcome> {
        let op = &self.ops[i];
        let name = op.address.name().unwrap_or_default();
        if name.trim().is_empty() {
            return Err(mapping_failed(MappingError::new("name", "a campaign needs a name")));
        }
        match op.kind {
            Kind::Audience => {
                for k in fields.keys() {
                    if !AUDIENCE_KEYS.contains(&k.as_str()) && k != NAME_FIELD {
                        return Err(mapping_failed(MappingError::new(
                            k,
                            "a Salesforce audience has only description, member_status and members",
                        )));
                    }
                }
                if let Some(m) = fields.get("members") {
                    let hashes = mapping::members_of(Some(m)).map_err(mapping_failed)?;
                    let address = op.address.to_string();
                    let missing = hashes.iter().filter(|h| clear::member(&address, h).is_none()).count();
                    if missing > 0 {
                        return Err(OpOutcome::Failed(op_error(
                            "member_not_filed",
                            format!(
                                "{missing} member(s) of the customer file have no address in this process's memory \
                                 (Salesforce takes addresses as written; adsctl never stores them)"
                            ),
                            Some("members"),
                            "run the apply from the YAML (adsctl apply reads the customer file and files its \
                             addresses in memory) rather than from a saved plan",
                        )));
                    }
                }
                Ok(())
            }
            _ => mapping::campaign_record(fields, None)
                .map(|_| ())
                .map_err(mapping_failed),
        }
    }

    /// The id of a reference (`None`: a pending create not done yet).
    fn resolve(&self, r: &IdRef) -> Option<String> {
        match r {
            IdRef::Known(s) => Some(s.clone()),
            IdRef::Pending(j) => self.ids.get(*j).cloned().flatten(),
        }
    }

    /// `Some(Some(id))` / `Some(None)` (cleared) when the fields set `parent`; `Err` while it is not known.
    fn parent_of(&self, i: usize, fields: &BTreeMap<String, Value>) -> Result<Option<Option<String>>, ()> {
        match fields.get("parent") {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::Ref(a)) => match self.ops[i].refs.get(a.as_ref()).or(self.ops[i].parent.as_ref()) {
                Some(r) => self.resolve(r).map(|id| Some(Some(id))).ok_or(()),
                None => Ok(None),
            },
            Some(_) => Ok(None),
        }
    }

    /// A pending dependency of `i` that failed, or one not done yet.
    fn dependency(&self, i: usize) -> Result<(), Option<String>> {
        let op = &self.ops[i];
        for r in op.parent.iter().chain(op.refs.values()) {
            if let IdRef::Pending(j) = r {
                if matches!(
                    self.out.get(*j),
                    Some(Some(OpOutcome::Failed(_) | OpOutcome::Skipped { .. }))
                ) {
                    return Err(Some(format!("{} did not succeed", self.ops[*j].address)));
                }
                if self.ids.get(*j).cloned().flatten().is_none() {
                    return Err(None);
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------------ collections

    /// Records through a collection (≤ 200 a call), sent again when rolled back or locked; one outcome per item.
    async fn records(
        &self,
        verb: Verb,
        rel: &str,
        label: &str,
        items: Vec<(usize, Map<String, Json>)>,
    ) -> Result<Vec<(usize, Result<RecordResult, OpError>)>, ConnectorError> {
        let mut done = Vec::new();
        let mut todo = items;
        for round in 0..3 {
            if todo.is_empty() {
                break;
            }
            if round > 0 {
                // a locked row (members written elsewhere at the same time) frees itself after a moment
                tokio::time::sleep(self.conn.client.cfg.retry_min_delay * round).await;
            }
            let mut again = Vec::new();
            for chunk in todo.chunks(MAX_COLLECTION) {
                let body = json!({"allOrNone": false,
                    "records": chunk.iter().map(|(_, m)| Json::Object(m.clone())).collect::<Vec<_>>()});
                match self.conn.client.collection(verb, rel, Some(&body), label).await {
                    Ok(results) => {
                        for (k, (i, m)) in chunk.iter().enumerate() {
                            let r = results.get(k).cloned().unwrap_or_default();
                            let retry = !r.success && (r.rolled_back() || r.has("UNABLE_TO_LOCK_ROW"));
                            if retry && round < 2 {
                                again.push((*i, m.clone()));
                            } else if r.success || !r.errors.is_empty() {
                                done.push((*i, Ok(r)));
                            } else {
                                done.push((
                                    *i,
                                    Err(op_error(
                                        "decode",
                                        "Salesforce answered no result for this record",
                                        None,
                                        "run apply again",
                                    )),
                                ));
                            }
                        }
                    }
                    Err(e) if e.stops_the_run() => return Err(self.conn.err(e)),
                    Err(e) => {
                        let oe = self.call_error(&e);
                        done.extend(chunk.iter().map(|(i, _)| (*i, Err(oe.clone()))));
                    }
                }
            }
            todo = again;
        }
        Ok(done)
    }

    /// Deletes by id (≤ 200 a call); gone is done.
    async fn delete_ids(&self, items: Vec<(usize, String)>) -> Result<Vec<(usize, Outcome)>, ConnectorError> {
        let mut out = Vec::new();
        for chunk in items.chunks(MAX_COLLECTION) {
            let ids: Vec<&str> = chunk.iter().map(|(_, id)| id.as_str()).collect();
            let rel = format!("composite/sobjects?ids={}&allOrNone=false", ids.join(","));
            match self
                .conn
                .client
                .collection(Verb::Delete, &rel, None, "composite/sobjects")
                .await
            {
                Ok(results) => {
                    for (k, (i, id)) in chunk.iter().enumerate() {
                        let r = results.get(k).cloned().unwrap_or_default();
                        let gone = ["NOT_FOUND", "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"]
                            .iter()
                            .any(|c| r.has(c));
                        out.push((
                            *i,
                            if r.success || gone {
                                Ok(Some(id.clone()))
                            } else {
                                Err(record_error(&r, self.acct()))
                            },
                        ));
                    }
                }
                Err(e) if e.stops_the_run() => return Err(self.conn.err(e)),
                Err(e) => {
                    let oe = self.call_error(&e);
                    out.extend(chunk.iter().map(|(i, _)| (*i, Err(oe.clone()))));
                }
            }
        }
        Ok(out)
    }

    /// One Campaign PATCH (an audience's Description, a rename).
    async fn patch_one(&self, id: &str, mut m: Map<String, Json>) -> Result<(), OpOutcome> {
        m.insert("attributes".into(), json!({"type": "Campaign"}));
        m.insert("id".into(), json!(id));
        let res = self
            .records(Verb::Patch, "composite/sobjects", "composite/sobjects", vec![(0, m)])
            .await
            .map_err(|e| self.stopped(e))?;
        match res.into_iter().next() {
            Some((_, Ok(r))) if r.success => Ok(()),
            Some((_, Ok(r))) => Err(OpOutcome::Failed(record_error(&r, self.acct()))),
            Some((_, Err(e))) => Err(OpOutcome::Failed(e)),
            None => Ok(()),
        }
    }

    // ------------------------------------------------------------------------------------------ creates

    fn create_record(
        &self,
        i: usize,
        fields: &BTreeMap<String, Value>,
        parent: Option<Option<String>>,
    ) -> Result<Map<String, Json>, OpOutcome> {
        let op = &self.ops[i];
        let mut m = match op.kind {
            Kind::Audience => {
                let user = fields.get("description").and_then(Value::as_str);
                let mut m = Map::new();
                m.insert("Description".into(), json!(marked_description(user, None)));
                m
            }
            _ => mapping::campaign_record(fields, parent).map_err(mapping_failed)?,
        };
        let mut rec = Map::new();
        rec.insert("attributes".into(), json!({"type": "Campaign"}));
        rec.insert(KEY_FIELD.into(), json!(key_of(&op.address)));
        rec.insert("Name".into(), json!(op.address.name().unwrap_or_default()));
        rec.append(&mut m);
        Ok(rec)
    }

    async fn creates(&mut self) -> Result<(), ConnectorError> {
        loop {
            let mut items = Vec::new();
            for i in self.open() {
                let OpAction::Create { fields } = &self.ops[i].action else {
                    continue;
                };
                if self.ids[i].is_some() {
                    continue;
                }
                match self.dependency(i) {
                    Err(Some(reason)) => {
                        self.out[i] = Some(OpOutcome::Skipped { reason });
                        continue;
                    }
                    Err(None) => continue,
                    Ok(()) => {}
                }
                let parent = match self.parent_of(i, fields) {
                    Ok(p) => p,
                    Err(()) => continue,
                };
                match self.create_record(i, fields, parent) {
                    Ok(m) => items.push((i, m)),
                    Err(o) => self.out[i] = Some(o),
                }
            }
            if items.is_empty() {
                break;
            }
            let rel = format!("composite/sobjects/Campaign/{KEY_FIELD}");
            for (i, res) in self
                .records(Verb::Patch, &rel, "composite/sobjects/Campaign/{field}", items)
                .await?
            {
                match res {
                    Ok(r) if r.success => self.ids[i] = r.id.clone(),
                    Ok(r) => self.out[i] = failed(record_error(&r, self.acct())),
                    Err(e) => self.out[i] = failed(e),
                }
                if self.out[i].is_none() && self.ids[i].is_none() {
                    self.out[i] = failed(op_error("decode", "the upsert answered no id", None, "run apply again"));
                }
            }
        }
        // whatever is still waiting depends on something that never got an id
        for i in self.open() {
            if matches!(self.ops[i].action, OpAction::Create { .. }) && self.ids[i].is_none() {
                self.out[i] = Some(OpOutcome::Skipped {
                    reason: "a campaign it refers to was not created".into(),
                });
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------------ campaigns

    async fn campaign_updates(&mut self) -> Result<(), ConnectorError> {
        let mut items = Vec::new();
        for i in self.open() {
            let op = &self.ops[i];
            if op.kind != Kind::Campaign {
                continue;
            }
            let mut m = match &op.action {
                OpAction::Update { set, .. } => {
                    if let Err(Some(reason)) = self.dependency(i) {
                        self.out[i] = Some(OpOutcome::Skipped { reason });
                        continue;
                    }
                    let parent = match self.parent_of(i, set) {
                        Ok(p) => p,
                        Err(()) => {
                            self.out[i] = Some(OpOutcome::Skipped {
                                reason: "its parent campaign has no id".into(),
                            });
                            continue;
                        }
                    };
                    let mut m = match mapping::campaign_record(set, parent) {
                        Ok(m) => m,
                        Err(e) => {
                            self.out[i] = Some(mapping_failed(e));
                            continue;
                        }
                    };
                    if set.contains_key(NAME_FIELD) {
                        m.insert("Name".into(), json!(op.address.name().unwrap_or_default()));
                        m.insert(KEY_FIELD.into(), json!(key_of(&op.address)));
                    }
                    m
                }
                OpAction::Pause { .. } => {
                    let mut m = Map::new();
                    m.insert("IsActive".into(), json!(false));
                    m
                }
                OpAction::Adopt { .. } => {
                    let mut m = Map::new();
                    m.insert(KEY_FIELD.into(), json!(key_of(&op.address)));
                    m
                }
                _ => continue,
            };
            if m.is_empty() {
                continue;
            }
            m.insert("attributes".into(), json!({"type": "Campaign"}));
            m.insert("id".into(), json!(self.ids[i].clone().unwrap_or_default()));
            items.push((i, m));
        }
        for (i, res) in self
            .records(Verb::Patch, "composite/sobjects", "composite/sobjects", items)
            .await?
        {
            match res {
                Ok(r) if r.success => {}
                Ok(r) => self.out[i] = failed(record_error(&r, self.acct())),
                Err(e) => self.out[i] = failed(e),
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------------ audiences

    async fn audiences(&mut self) -> Result<(), ConnectorError> {
        let ops = self.ops;
        for i in self.open() {
            let op = &ops[i];
            if op.kind != Kind::Audience {
                continue;
            }
            let id = self.ids[i].clone().unwrap_or_default();
            let res = match &op.action {
                OpAction::Create { fields } => self.audience_members(i, &id, fields, None, false).await,
                OpAction::Update { set, .. } => {
                    let cached_user = self.conn.cache().descriptions.get(&id).cloned().flatten();
                    let user = match set.get("description") {
                        Some(Value::Null) => None,
                        Some(v) => v.as_str().map(str::to_string),
                        None => cached_user,
                    };
                    let mut fields = set.clone();
                    if let Some(u) = &user {
                        fields.insert("description".into(), Value::str(u.clone()));
                    } else {
                        fields.remove("description");
                    }
                    self.audience_members(i, &id, &fields, Some(set), true).await
                }
                OpAction::Adopt { .. } => {
                    let (user, fp) = {
                        let c = self.conn.cache();
                        (
                            c.descriptions.get(&id).cloned().flatten(),
                            c.fingerprints.get(&id).cloned(),
                        )
                    };
                    let mut m = Map::new();
                    m.insert(KEY_FIELD.into(), json!(key_of(&op.address)));
                    m.insert(
                        "Description".into(),
                        json!(marked_description(user.as_deref(), fp.as_deref())),
                    );
                    self.patch_one(&id, m).await
                }
                OpAction::Pause { .. } => Err(OpOutcome::Skipped {
                    reason: "a Salesforce audience has no status to pause; left as it is".into(),
                }),
                OpAction::Remove { .. } => Ok(()),
            };
            if let Some(e) = self.halt.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Err(e);
            }
            if let Err(o) = res {
                self.out[i] = Some(o);
            }
        }
        Ok(())
    }

    /// An audience's Description and members: the fingerprint cleared, the members written, the new fingerprint.
    /// `set` is an update's changed fields (`fields` being them with the description to keep).
    async fn audience_members(
        &mut self,
        i: usize,
        id: &str,
        fields: &BTreeMap<String, Value>,
        set: Option<&BTreeMap<String, Value>>,
        update: bool,
    ) -> Result<(), OpOutcome> {
        let op = &self.ops[i];
        let user = fields.get("description").and_then(Value::as_str).map(str::to_string);
        let members = fields.get("members");
        let changed = |k: &str| set.is_none_or(|s| s.contains_key(k));
        let status = fields
            .get("member_status")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| self.conn.cache().member_status.get(id).cloned());
        let mut first = Map::new();
        if update && changed(NAME_FIELD) && set.is_some_and(|s| s.contains_key(NAME_FIELD)) {
            first.insert("Name".into(), json!(op.address.name().unwrap_or_default()));
            first.insert(KEY_FIELD.into(), json!(key_of(&op.address)));
        }
        let Some(members) = members else {
            // no member change: the Description keeps its fingerprint
            if update && (changed("description") || !first.is_empty()) {
                let fp = self.conn.cache().fingerprints.get(id).cloned();
                first.insert(
                    "Description".into(),
                    json!(marked_description(user.as_deref(), fp.as_deref())),
                );
                self.patch_one(id, first).await?;
            }
            if let Some(st) = status.as_deref().filter(|_| changed("member_status")) {
                let label = self.status_label(id, st).await?;
                let current = self.current_members(id).await?;
                self.set_status(&current, &label, None).await?;
            }
            return Ok(());
        };
        let hashes = mapping::members_of(Some(members)).map_err(mapping_failed)?;
        // no false claim while the members change
        if update {
            first.insert("Description".into(), json!(marked_description(user.as_deref(), None)));
            self.patch_one(id, first).await?;
        }
        let address = op.address.to_string();
        // the YAML's member_status rides with the members (the spec loader files it with each address)
        let status = status.or_else(|| {
            hashes
                .first()
                .and_then(|h| clear::member(&address, h))
                .and_then(|m| m.status)
        });
        let label = match status.as_deref() {
            Some(st) => Some(self.status_label(id, st).await?),
            None => None,
        };
        let mut emails: Vec<String> = Vec::new();
        for h in &hashes {
            match clear::member(&address, h) {
                Some(m) => emails.push(m.email.trim().to_ascii_lowercase()),
                None => {
                    return Err(OpOutcome::Failed(op_error(
                        "member_not_filed",
                        "a member of the customer file has no address in this process's memory",
                        Some("members"),
                        "run the apply from the YAML, so that the customer file's addresses are filed in memory",
                    )))
                }
            }
        }
        emails.sort();
        emails.dedup();
        let people = self.people(&emails).await?;
        let unknown = emails.len() - people.len();
        let wanted: HashSet<(bool, String)> = people.values().cloned().collect();
        let current = self.current_members(id).await?;
        let mut have: HashSet<(bool, String)> = HashSet::new();
        let mut removes = Vec::new();
        let mut keep = Vec::new();
        for m in &current {
            let person = match (s(m, "ContactId"), s(m, "LeadId")) {
                (Some(c), _) => (true, c.to_ascii_lowercase()),
                (None, Some(l)) => (false, l.to_ascii_lowercase()),
                _ => continue,
            };
            let mid = s(m, "Id").unwrap_or_default().to_string();
            if wanted.contains(&person) {
                have.insert(person);
                keep.push(m.clone());
            } else {
                removes.push((0usize, mid));
            }
        }
        let mut inserts = Vec::new();
        let mut sorted: Vec<&(bool, String)> = wanted.iter().filter(|p| !have.contains(*p)).collect();
        sorted.sort();
        for (contact, pid) in sorted {
            let mut rec = Map::new();
            rec.insert("attributes".into(), json!({"type": "CampaignMember"}));
            rec.insert("CampaignId".into(), json!(id));
            rec.insert(if *contact { "ContactId" } else { "LeadId" }.into(), json!(pid));
            if let Some(l) = &label {
                rec.insert("Status".into(), json!(l));
            }
            inserts.push((0usize, rec));
        }
        let stop = |e: ConnectorError| self.stopped(e);
        for (_, res) in self
            .records(Verb::Post, "composite/sobjects", "composite/sobjects", inserts)
            .await
            .map_err(stop)?
        {
            match res {
                Ok(r) if r.success || r.has("DUPLICATE_VALUE") => {}
                Ok(r) => return Err(OpOutcome::Failed(record_error(&r, self.acct()))),
                Err(e) => return Err(OpOutcome::Failed(e)),
            }
        }
        for (_, res) in self.delete_ids(removes).await.map_err(stop)? {
            res.map_err(OpOutcome::Failed)?;
        }
        if let Some(l) = &label {
            self.set_status(&keep, l, None).await?;
        }
        if unknown > 0 {
            tracing::info!(
                audience = %op.address,
                unknown,
                "salesforce: addresses of the customer file the org does not know (no Contact or unconverted Lead); \
                 not added"
            );
        }
        let mut last = Map::new();
        last.insert(
            "Description".into(),
            json!(marked_description(user.as_deref(), Some(&value_fingerprint(members)))),
        );
        self.patch_one(id, last).await
    }

    /// The campaign's status label matching `wanted` (ignoring case), or the operation fails before any write.
    async fn status_label(&self, campaign: &str, wanted: &str) -> Result<String, OpOutcome> {
        let rows = self
            .conn
            .client
            .query(&format!(
                "SELECT Id, Label, IsDefault FROM CampaignMemberStatus WHERE CampaignId = {}",
                soql_str(campaign)
            ))
            .await
            .map_err(|e| OpOutcome::Failed(self.call_error(&e)))?;
        let labels: Vec<String> = rows.iter().filter_map(|r| s(r, "Label").map(String::from)).collect();
        labels
            .iter()
            .find(|l| l.eq_ignore_ascii_case(wanted))
            .cloned()
            .ok_or_else(|| {
                OpOutcome::Failed(op_error(
                    "unknown_member_status",
                    format!(
                        "member_status `{wanted}` is not a member status of this campaign (it has: {}); Salesforce \
                         would silently store the default instead",
                        labels.join(", ")
                    ),
                    Some("member_status"),
                    "choose one of the campaign's statuses, or add it in Salesforce (the campaign → Advanced Setup → \
                     Member Status Values)",
                ))
            })
    }

    async fn current_members(&self, campaign: &str) -> Result<Vec<Json>, OpOutcome> {
        self.conn
            .client
            .query(&format!(
                "SELECT Id, ContactId, LeadId, Status FROM CampaignMember WHERE CampaignId = {}",
                soql_str(campaign)
            ))
            .await
            .map_err(|e| OpOutcome::Failed(self.call_error(&e)))
    }

    /// Members whose Status differs get `label`.
    async fn set_status(&self, members: &[Json], label: &str, _: Option<()>) -> Result<(), OpOutcome> {
        let items: Vec<(usize, Map<String, Json>)> = members
            .iter()
            .filter(|m| s(m, "Status") != Some(label))
            .filter_map(|m| {
                let mut rec = Map::new();
                rec.insert("attributes".into(), json!({"type": "CampaignMember"}));
                rec.insert("id".into(), json!(s(m, "Id")?));
                rec.insert("Status".into(), json!(label));
                Some((0usize, rec))
            })
            .collect();
        let res = self
            .records(Verb::Patch, "composite/sobjects", "composite/sobjects", items)
            .await
            .map_err(|e| self.stopped(e))?;
        for (_, r) in res {
            match r {
                Ok(r) if r.success => {}
                Ok(r) => return Err(OpOutcome::Failed(record_error(&r, self.acct()))),
                Err(e) => return Err(OpOutcome::Failed(e)),
            }
        }
        Ok(())
    }

    /// Lower-cased e-mail → (is a contact, person id): Contacts first (the oldest on a tie), then unconverted Leads.
    async fn people(&self, emails: &[String]) -> Result<HashMap<String, (bool, String)>, OpOutcome> {
        let mut found: HashMap<String, (bool, String)> = HashMap::new();
        for (contact, object, extra) in [(true, "Contact", ""), (false, "Lead", " AND IsConverted = false")] {
            let rest: Vec<String> = emails.iter().filter(|e| !found.contains_key(*e)).cloned().collect();
            for chunk in rest.chunks(MAX_IN_VALUES) {
                let rows = self
                    .conn
                    .client
                    .query(&format!(
                        "SELECT Id, Email, CreatedDate FROM {object} WHERE Email IN ({}){extra} ORDER BY CreatedDate \
                         ASC, Id ASC",
                        in_list(chunk)
                    ))
                    .await
                    .map_err(|e| OpOutcome::Failed(self.call_error(&e)))?;
                for r in rows {
                    if let (Some(id), Some(e)) = (s(&r, "Id"), s(&r, "Email")) {
                        found
                            .entry(e.trim().to_ascii_lowercase())
                            .or_insert((contact, id.to_ascii_lowercase()));
                    }
                }
            }
        }
        Ok(found)
    }

    // ------------------------------------------------------------------------------------------ removals

    async fn removals(&mut self) -> Result<(), ConnectorError> {
        let items: Vec<(usize, String)> = self
            .open()
            .into_iter()
            .filter(|&i| matches!(self.ops[i].action, OpAction::Remove { .. }))
            .map(|i| (i, self.ids[i].clone().unwrap_or_default()))
            .collect();
        for (i, res) in self.delete_ids(items).await? {
            if let Err(e) = res {
                self.out[i] = failed(e);
            }
        }
        Ok(())
    }
}
