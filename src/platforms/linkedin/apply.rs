//! Operations → LinkedIn writes, in the fewest calls the API has:
//!
//! - DMP segments (audiences): one CREATE each; members through `POST /dmpSegments/{id}/users` (BATCH_CREATE of
//!   `{action: ADD|REMOVE, userIds: [{idType: SHA256_EMAIL, idValue}]}`, by 1,000) after the segment-ready wait,
//!   the description's marker cleared of its fingerprint before and given the new one after; removal = DELETE.
//! - campaign groups and campaigns: creates by BATCH_CREATE (one account per batch, at most
//!   [`MAX_BATCH_CREATE`] elements), updates, pauses, adoptions, renames and archivals by BATCH_PARTIAL_UPDATE
//!   (at most [`MAX_BATCH_UPDATE`] entities);
//! - creatives: one CREATE each (BATCH_CREATE for creatives is unverified), one PARTIAL_UPDATE each (their keys are
//!   URNs, which no source shows in a batch's `ids=List(…)`).
//!
//! Parents are written before children; removals go children first. Removal deletes a `DRAFT` object and archives
//! (`ARCHIVED`) any other; a DMP segment is deleted. Creates are not idempotent on LinkedIn: after a lost answer
//! (no answer, or a server error) the object is looked up by its marked name under its parent; found → applied;
//! not found → sent again only if LinkedIn had answered, otherwise it fails as "outcome unknown" and the next run
//! finds it or creates it.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::client::{
    batch_create_items, batch_update_errors, path_key, BatchItem, CallError, Method, Query, Retry, Rv,
};
use super::config::{MAX_BATCH_CREATE, MAX_BATCH_UPDATE, MAX_SEGMENT_USERS};
use super::errors::ApiError;
use super::mapping::{self, Fields, MappingError, Patch};
use super::LinkedInConnector;
use crate::connectors::{ApplyBatch, ConnectorError, IdRef, OpAction, OpError, OpOutcome, Operation, NAME_FIELD};
use crate::model::{value_fingerprint, Account, Address, Kind, Value};

struct Run<'a> {
    conn: &'a LinkedInConnector,
    account: &'a Account,
    ops: &'a [Operation],
    /// Check what can be checked without a request (LinkedIn has no dry run).
    validate: bool,
    out: Vec<Option<OpOutcome>>,
    ids: Vec<Option<String>>,
}

fn failed(e: OpError) -> Option<OpOutcome> {
    Some(OpOutcome::Failed(e))
}

/// Whether these fields are a company list's (`list_type: company`).
fn is_company_list(fields: &BTreeMap<String, Value>) -> bool {
    fields.get("list_type").and_then(Value::as_str) == Some("company")
}

/// An audience's members: SHA-256 hashes, or a company list's `name<TAB>website` entries.
fn members_of(companies: bool, v: Option<&Value>) -> Result<Vec<String>, MappingError> {
    if companies {
        mapping::companies_of(v)
    } else {
        mapping::members_of(v)
    }
}

fn mapping_failed(e: MappingError) -> OpOutcome {
    OpOutcome::Failed(e.to_op_error())
}

fn unknown_outcome(mut op: OpError) -> OpError {
    op.code = "outcome_unknown".into();
    op.message = format!(
        "{}; it may have been made, and it was not found, so it was not sent again",
        op.message
    );
    op.hint = Some("run apply again: the next plan finds the object if it was made, and creates it otherwise".into());
    op
}

pub async fn run(
    conn: &LinkedInConnector,
    account: &Account,
    batch: &ApplyBatch,
    validate: bool,
) -> Result<Vec<OpOutcome>, ConnectorError> {
    let mut r = Run {
        conn,
        account,
        ops: &batch.ops,
        validate,
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
    };
    for (i, op) in batch.ops.iter().enumerate() {
        if !matches!(
            op.kind,
            Kind::CampaignGroup | Kind::Campaign | Kind::Creative | Kind::Audience
        ) {
            r.out[i] = failed(OpError {
                code: "unsupported".into(),
                message: format!("LinkedIn has no {}", op.kind.as_str()),
                field: None,
                hint: Some("see docs/resource-model.md (LinkedIn)".into()),
            });
        }
    }
    r.segments().await?;
    for kind in [Kind::CampaignGroup, Kind::Campaign] {
        r.batch_creates(kind).await?;
        r.batch_updates(kind).await?;
    }
    r.creatives().await?;
    r.removals().await?;
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
    fn acct(&self) -> &str {
        &self.conn.client.account_name
    }
    fn account_id(&self) -> &str {
        &self.conn.client.account_id
    }
    fn op_error(&self, e: &CallError) -> OpError {
        e.to_op_error(self.acct())
    }
    fn api_error(&self, e: &ApiError) -> OpError {
        e.to_op_error(Some(self.acct()))
    }

    fn resolve(&self, r: &IdRef) -> Option<String> {
        match r {
            IdRef::Known(s) => Some(s.clone()),
            IdRef::Pending(i) => self.ids.get(*i).cloned().flatten(),
        }
    }

    /// An audience's address → its `urn:li:adSegment:` URN (the operation's refs, then the read's segments).
    fn segment_urn(&self, op: &Operation, a: &Address) -> Option<String> {
        if self.validate {
            return Some("urn:li:adSegment:0".into());
        }
        let id = op.refs.get(a).and_then(|r| self.resolve(r))?;
        let cache = self.conn.cache();
        Some(
            cache
                .ad_segments
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("urn:li:adSegment:{}", mapping::urn_id(&id))),
        )
    }

    fn parent_id(&self, i: usize) -> Result<String, OpOutcome> {
        if self.validate {
            return Ok("0".into());
        }
        let op = &self.ops[i];
        match &op.parent {
            Some(p) => self.resolve(p).ok_or_else(|| OpOutcome::Skipped {
                reason: match p {
                    IdRef::Pending(j) => format!("{} did not succeed", self.ops[*j].address),
                    IdRef::Known(_) => "its parent has no id".into(),
                },
            }),
            None => Err(OpOutcome::Failed(OpError {
                code: "no_parent".into(),
                message: format!("{} names no parent", op.address),
                field: None,
                hint: Some("run `adsctl plan` again".into()),
            })),
        }
    }

    fn open(&self, kind: Kind) -> Vec<usize> {
        (0..self.ops.len())
            .filter(|&i| self.ops[i].kind == kind && self.out[i].is_none())
            .collect()
    }

    /// A dependency of `i` (a pending reference) that did not succeed.
    fn failed_dependency(&self, i: usize) -> Option<String> {
        let op = &self.ops[i];
        op.parent
            .iter()
            .chain(op.refs.values())
            .filter_map(|r| match r {
                IdRef::Pending(j) => Some(*j),
                IdRef::Known(_) => None,
            })
            .find(|&j| {
                matches!(
                    self.out.get(j),
                    Some(Some(OpOutcome::Failed(_) | OpOutcome::Skipped { .. }))
                ) || (!self.validate && self.ids.get(j).cloned().flatten().is_none())
            })
            .map(|j| format!("{} did not succeed", self.ops[j].address))
    }

    fn collection(kind: Kind) -> &'static str {
        match kind {
            Kind::CampaignGroup => "adCampaignGroups",
            Kind::Campaign => "adCampaigns",
            _ => "creatives",
        }
    }

    fn entity_path(&self, kind: Kind, id: &str) -> String {
        match kind {
            Kind::Audience => format!("dmpSegments/{}", path_key(mapping::urn_id(id))),
            Kind::Creative => format!(
                "{}/{}",
                self.conn.path("creatives"),
                path_key(&mapping::creative_urn(id))
            ),
            _ => format!("{}/{}", self.conn.path(Self::collection(kind)), path_key(id)),
        }
    }

    // ------------------------------------------------------------------------------------------ bodies

    /// The create body of operation `i` (its parent resolved).
    fn create_body(&self, i: usize, fields: &BTreeMap<String, Value>) -> Result<Json, OpOutcome> {
        let op = &self.ops[i];
        let name = mapping::checked_name(&op.address).map_err(mapping_failed)?;
        let currency = self.account.currency;
        match op.kind {
            Kind::CampaignGroup => {
                mapping::group_create(self.account_id(), &name, fields, currency).map_err(mapping_failed)
            }
            Kind::Campaign => {
                let group = self.parent_id(i)?;
                let resolve = |a: &Address| self.segment_urn(op, a);
                mapping::campaign_create(self.account_id(), &group, &name, fields, currency, &resolve)
                    .map_err(mapping_failed)
            }
            Kind::Creative => {
                let campaign = self.parent_id(i)?;
                mapping::creative_create(&campaign, &name, fields).map_err(mapping_failed)
            }
            other => Err(OpOutcome::Failed(OpError {
                code: "unsupported".into(),
                message: format!("LinkedIn has no {}", other.as_str()),
                field: None,
                hint: None,
            })),
        }
    }

    /// The patch of an update, pause or adoption (`None`: nothing to send).
    async fn patch(&self, i: usize) -> Result<Option<Patch>, OpOutcome> {
        let op = &self.ops[i];
        let marked = || mapping::checked_name(&op.address).map_err(mapping_failed);
        let status_key = if op.kind == Kind::Creative {
            "intendedStatus"
        } else {
            "status"
        };
        let mut p = match &op.action {
            OpAction::Pause { .. } => {
                let mut p = Patch::default();
                p.set.insert(status_key.into(), json!("PAUSED"));
                p
            }
            OpAction::Adopt { .. } => {
                let mut p = Patch::default();
                p.set.insert("name".into(), json!(marked()?));
                p
            }
            OpAction::Update { id, set, .. } => {
                let live = self.conn.cache().live.get(id).cloned().unwrap_or_default();
                let f = Fields {
                    fields: set,
                    live: Some(&live),
                };
                let mut p = match op.kind {
                    Kind::CampaignGroup => mapping::group_patch(&f, self.account.currency).map_err(mapping_failed)?,
                    Kind::Campaign => {
                        let touches_targeting = set.keys().any(|k| k.starts_with("targeting."));
                        let base = if touches_targeting && !self.validate {
                            self.targeting_of(id)
                                .await
                                .map_err(|e| OpOutcome::Failed(self.op_error(&e)))?
                        } else {
                            None
                        };
                        let resolve = |a: &Address| self.segment_urn(op, a);
                        mapping::campaign_patch(&f, self.account.currency, base.as_ref(), &resolve)
                            .map_err(mapping_failed)?
                    }
                    _ => mapping::creative_patch(&f).map_err(mapping_failed)?,
                };
                if set.contains_key(NAME_FIELD) {
                    p.set.insert("name".into(), json!(marked()?));
                }
                p
            }
            _ => return Ok(None),
        };
        if p.is_empty() {
            return Ok(None);
        }
        p.delete.sort();
        p.delete.dedup();
        Ok(Some(p))
    }

    /// A campaign's live `targetingCriteria`: the read's, else a GET.
    async fn targeting_of(&self, id: &str) -> Result<Option<Json>, CallError> {
        if let Some(t) = self.conn.cache().targeting.get(id).cloned() {
            return Ok(Some(t));
        }
        let a = self
            .conn
            .client
            .get(Method::Get, &self.entity_path(Kind::Campaign, id), &Query::new())
            .await?;
        let v: Json = a.json("GET campaign")?;
        Ok(v.get("targetingCriteria").cloned())
    }

    // ------------------------------------------------------------------------------------------ groups, campaigns

    async fn batch_creates(&mut self, kind: Kind) -> Result<(), ConnectorError> {
        let ops = self.ops;
        let mut items: Vec<(usize, Json)> = Vec::new();
        for i in self.open(kind) {
            let OpAction::Create { fields } = &ops[i].action else {
                continue;
            };
            if let Some(reason) = self.failed_dependency(i) {
                self.out[i] = Some(OpOutcome::Skipped { reason });
                continue;
            }
            match self.create_body(i, fields) {
                Ok(b) => items.push((i, b)),
                Err(o) => self.out[i] = Some(o),
            }
        }
        if self.validate {
            return Ok(());
        }
        let path = self.conn.path(Self::collection(kind));
        for chunk in items.chunks(MAX_BATCH_CREATE) {
            let mut pending: Vec<(usize, Json)> = chunk.to_vec();
            let mut attempts = 0;
            while !pending.is_empty() {
                attempts += 1;
                let body = json!({ "elements": pending.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>() });
                let answer = self
                    .conn
                    .client
                    .post(Method::BatchCreate, &path, &Query::new(), &body, Retry::RefusedOnly)
                    .await;
                match answer.and_then(|a| batch_create_items(&a.body, pending.len())) {
                    Ok(results) => {
                        for ((i, _), item) in pending.iter().zip(results) {
                            match item {
                                BatchItem::Created(id) => self.ids[*i] = Some(mapping::urn_id(&id).to_string()),
                                BatchItem::Failed(e) => self.out[*i] = failed(self.api_error(&e)),
                            }
                        }
                        pending.clear();
                    }
                    Err(CallError::Blocked(t)) => return Err(ConnectorError::Wait(t)),
                    Err(e) if e.outcome_unknown() => {
                        // what the lost answer made is looked up; the rest is sent again only if LinkedIn answered
                        let mut rest = Vec::new();
                        for (i, b) in pending.drain(..) {
                            match self.look_up(i).await {
                                Ok(Some(id)) => self.ids[i] = Some(id),
                                Ok(None) if e.answered() && attempts <= self.conn.client.cfg.max_retries => {
                                    rest.push((i, b))
                                }
                                Ok(None) => self.out[i] = failed(unknown_outcome(self.op_error(&e))),
                                Err(le) => self.out[i] = failed(unknown_outcome(self.op_error(&le))),
                            }
                        }
                        pending = rest;
                    }
                    Err(e) => {
                        let err = self.op_error(&e);
                        for (i, _) in pending.drain(..) {
                            self.out[i] = failed(err.clone());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn batch_updates(&mut self, kind: Kind) -> Result<(), ConnectorError> {
        let mut items: Vec<(usize, String, Patch)> = Vec::new();
        for i in self.open(kind) {
            if matches!(self.ops[i].action, OpAction::Create { .. } | OpAction::Remove { .. }) {
                continue;
            }
            if let Some(reason) = self.failed_dependency(i) {
                self.out[i] = Some(OpOutcome::Skipped { reason });
                continue;
            }
            let id = self.ids[i].clone().unwrap_or_default();
            match self.patch(i).await {
                Ok(Some(p)) => items.push((i, id, p)),
                Ok(None) => {}
                Err(o) => self.out[i] = Some(o),
            }
        }
        if self.validate {
            return Ok(());
        }
        self.send_patches(kind, items).await
    }

    /// BATCH_PARTIAL_UPDATE by [`MAX_BATCH_UPDATE`]: `ids=List(…)` and `{"entities":{id:{"patch":…}}}`.
    async fn send_patches(&mut self, kind: Kind, items: Vec<(usize, String, Patch)>) -> Result<(), ConnectorError> {
        let path = self.conn.path(Self::collection(kind));
        for chunk in items.chunks(MAX_BATCH_UPDATE) {
            let ids: Vec<&str> = chunk.iter().map(|(_, id, _)| id.as_str()).collect();
            let entities: serde_json::Map<String, Json> =
                chunk.iter().map(|(_, id, p)| (id.clone(), p.body())).collect();
            let q = Query::new().rv("ids", &Rv::list(&ids));
            let answer = self
                .conn
                .client
                .post(
                    Method::BatchPartialUpdate,
                    &path,
                    &q,
                    &json!({ "entities": entities }),
                    Retry::All,
                )
                .await;
            match answer.and_then(|a| batch_update_errors(&a.body)) {
                Ok(errors) => {
                    for (i, id, _) in chunk {
                        if let Some(e) = errors.get(id) {
                            self.out[*i] = failed(self.api_error(e));
                        }
                    }
                }
                Err(CallError::Blocked(t)) => return Err(ConnectorError::Wait(t)),
                Err(e) => {
                    let err = self.op_error(&e);
                    for (i, _, _) in chunk {
                        self.out[*i] = failed(err.clone());
                    }
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------------ creatives

    async fn creatives(&mut self) -> Result<(), ConnectorError> {
        let ops = self.ops;
        for i in self.open(Kind::Creative) {
            if matches!(self.ops[i].action, OpAction::Remove { .. }) {
                continue;
            }
            if let Some(reason) = self.failed_dependency(i) {
                self.out[i] = Some(OpOutcome::Skipped { reason });
                continue;
            }
            let res = match &ops[i].action {
                OpAction::Create { fields } => match self.create_body(i, fields) {
                    Ok(_) if self.validate => Ok(()),
                    Ok(body) => {
                        let path = self.conn.path("creatives");
                        self.create_one(i, &path, &body).await
                    }
                    Err(o) => Err(o),
                },
                _ => match self.patch(i).await {
                    Ok(Some(_)) if self.validate => Ok(()),
                    Ok(Some(p)) => {
                        let id = self.ids[i].clone().unwrap_or_default();
                        self.conn
                            .client
                            .partial_update(&self.entity_path(Kind::Creative, &id), &p.body())
                            .await
                            .map_err(|e| OpOutcome::Failed(self.op_error(&e)))
                    }
                    Ok(None) => Ok(()),
                    Err(o) => Err(o),
                },
            };
            if let Err(o) = res {
                self.out[i] = Some(o);
            }
        }
        Ok(())
    }

    /// One CREATE (creatives, segments): after a lost answer, look the object up before sending it again.
    async fn create_one(&mut self, i: usize, path: &str, body: &Json) -> Result<(), OpOutcome> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.conn.client.create(path, body).await {
                Ok(id) => {
                    self.ids[i] = Some(if self.ops[i].kind == Kind::Creative {
                        mapping::creative_urn(&id)
                    } else {
                        mapping::urn_id(&id).to_string()
                    });
                    return Ok(());
                }
                Err(e) if e.outcome_unknown() => match self.look_up(i).await {
                    Ok(Some(id)) => {
                        self.ids[i] = Some(id);
                        return Ok(());
                    }
                    Ok(None) if e.answered() && attempts <= self.conn.client.cfg.max_retries => continue,
                    Ok(None) => return Err(OpOutcome::Failed(unknown_outcome(self.op_error(&e)))),
                    Err(le) => return Err(OpOutcome::Failed(unknown_outcome(self.op_error(&le)))),
                },
                Err(e) => return Err(OpOutcome::Failed(self.op_error(&e))),
            }
        }
    }

    /// The id of the live object operation `i` creates, by its marked name under its parent, looked for a few
    /// times with growing pauses (a read can lag behind a write).
    async fn look_up(&self, i: usize) -> Result<Option<String>, CallError> {
        let op = &self.ops[i];
        let parent = op.parent.as_ref().and_then(|p| self.resolve(p));
        let cfg = &self.conn.client.cfg;
        let mut delay = cfg.lookup_delay;
        for _ in 0..cfg.lookup_attempts.max(1) {
            crate::connectors::wait::announce("LinkedIn: before looking up an unanswered create", delay);
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
            let name = op.address.name().unwrap_or_default();
            let marked = mapping::marked_name(name);
            let parent_is = |urn: &Option<String>| match (&parent, urn) {
                (Some(p), Some(u)) => mapping::urn_id(u) == p,
                (None, _) => true,
                _ => false,
            };
            let found = match op.kind {
                Kind::CampaignGroup => self
                    .conn
                    .groups(&super::read::LIVE_STATUSES)
                    .await?
                    .into_iter()
                    .find(|g| g.name.as_deref() == Some(&marked))
                    .and_then(|g| g.id),
                Kind::Campaign => self
                    .conn
                    .campaigns()
                    .await?
                    .into_iter()
                    .find(|c| c.name.as_deref() == Some(&marked) && parent_is(&c.campaign_group))
                    .and_then(|c| c.id),
                Kind::Creative => self
                    .conn
                    .creatives()
                    .await?
                    .into_iter()
                    .find(|c| c.name.as_deref() == Some(&marked) && parent_is(&c.campaign))
                    .and_then(|c| c.id),
                _ => self
                    .conn
                    .segments()
                    .await?
                    .into_iter()
                    .find(|s| {
                        s.name.as_deref() == Some(name)
                            && s.description
                                .as_deref()
                                .is_some_and(|d| mapping::split_description(d).1.is_some())
                    })
                    .and_then(|s| s.id),
            };
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    // ------------------------------------------------------------------------------------------ segments

    async fn segments(&mut self) -> Result<(), ConnectorError> {
        let ops = self.ops;
        for i in self.open(Kind::Audience) {
            let res = match &ops[i].action {
                OpAction::Create { fields } => self.create_segment(i, fields).await,
                OpAction::Update { id, set, before } => self.update_segment(i, id, set, before).await,
                OpAction::Adopt { id } => {
                    let user = self.conn.cache().descriptions.get(id).cloned().flatten();
                    if self.validate {
                        Ok(())
                    } else {
                        self.set_description(id, user.as_deref(), None).await
                    }
                }
                OpAction::Pause { .. } => Err(OpOutcome::Skipped {
                    reason: "LinkedIn DMP segments have no status to pause; left as they are".into(),
                }),
                OpAction::Remove { .. } => Ok(()),
            };
            if let Err(o) = res {
                self.out[i] = Some(o);
            }
        }
        Ok(())
    }

    async fn set_description(&self, id: &str, user: Option<&str>, fp: Option<&str>) -> Result<(), OpOutcome> {
        let body = json!({"patch": {"$set": {"description": mapping::marked_description(user, fp)}}});
        self.conn
            .client
            .partial_update(&self.entity_path(Kind::Audience, id), &body)
            .await
            .map_err(|e| OpOutcome::Failed(self.op_error(&e)))
    }

    async fn create_segment(&mut self, i: usize, fields: &BTreeMap<String, Value>) -> Result<(), OpOutcome> {
        let op = &self.ops[i];
        let name = op.address.name().unwrap_or_default().to_string();
        if name.trim().is_empty() {
            return Err(mapping_failed(MappingError::new("name", "a DMP segment needs a name")));
        }
        for k in fields.keys() {
            if !matches!(k.as_str(), "description" | "members" | "list_type") {
                return Err(mapping_failed(MappingError::new(
                    k,
                    "a LinkedIn audience has only description, list_type and members",
                )));
            }
        }
        let user = fields.get("description").and_then(Value::as_str).map(str::to_string);
        let companies = is_company_list(fields);
        let members = members_of(companies, fields.get("members")).map_err(mapping_failed)?;
        if self.validate {
            return Ok(());
        }
        let body = mapping::segment_create(
            self.account_id(),
            &name,
            &mapping::marked_description(user.as_deref(), None),
            companies,
        );
        self.create_one(i, "dmpSegments", &body).await?;
        if !members.is_empty() {
            let id = self.ids[i].clone().unwrap_or_default();
            self.segment_ready_wait().await;
            self.send_members(&id, companies, &members, &[]).await?;
            let fp = fields.get("members").map(value_fingerprint);
            self.set_description(&id, user.as_deref(), fp.as_deref()).await?;
        }
        Ok(())
    }

    async fn segment_ready_wait(&self) {
        let d = self.conn.client.cfg.segment_wait;
        crate::connectors::wait::announce(
            "LinkedIn: a new DMP segment takes a few seconds before it takes members",
            d,
        );
        tokio::time::sleep(d).await;
    }

    /// New members: ADD what is new and REMOVE what went when what the segment holds is known; otherwise every
    /// member is sent as ADD (LinkedIn has no replace-all: members added outside what adsctl recorded stay).
    async fn update_segment(
        &mut self,
        i: usize,
        id: &str,
        set: &BTreeMap<String, Value>,
        before: &BTreeMap<String, Value>,
    ) -> Result<(), OpOutcome> {
        for k in set.keys() {
            if !matches!(k.as_str(), "description" | "members" | "name") {
                return Err(mapping_failed(MappingError::new(
                    k,
                    "a LinkedIn audience has only description and members",
                )));
            }
        }
        let cached_user = self.conn.cache().descriptions.get(id).cloned().flatten();
        let user = match set.get("description") {
            Some(Value::Null) => None,
            Some(v) => v.as_str().map(str::to_string),
            None => cached_user,
        };
        let rename = set
            .get(NAME_FIELD)
            .map(|_| self.ops[i].address.name().unwrap_or_default().to_string());
        let Some(mv) = set.get("members") else {
            if self.validate {
                return Ok(());
            }
            let fp = self.conn.cache().fingerprints.get(id).cloned();
            let mut s = serde_json::Map::new();
            s.insert(
                "description".into(),
                json!(mapping::marked_description(user.as_deref(), fp.as_deref())),
            );
            if let Some(n) = rename {
                s.insert("name".into(), json!(n));
            }
            return self
                .conn
                .client
                .partial_update(&self.entity_path(Kind::Audience, id), &json!({"patch": {"$set": s}}))
                .await
                .map_err(|e| OpOutcome::Failed(self.op_error(&e)));
        };
        // a company entry is `name<TAB>website`, a hash never holds a tab: the members say which list this is when
        // the fields at hand do not (an update's `before` holds only what changes)
        let companies = is_company_list(before)
            || is_company_list(set)
            || matches!(mv, Value::Set(m) if m.iter().any(|x| x.as_str().is_some_and(|x| x.contains('\t'))));
        let new = members_of(companies, Some(mv)).map_err(mapping_failed)?;
        let (adds, removes) = match before.get("members") {
            Some(old) => {
                let old = members_of(companies, Some(old)).map_err(mapping_failed)?;
                let (o, n): (HashSet<&String>, HashSet<&String>) = (old.iter().collect(), new.iter().collect());
                (
                    new.iter().filter(|m| !o.contains(m)).cloned().collect::<Vec<_>>(),
                    old.iter().filter(|m| !n.contains(m)).cloned().collect::<Vec<_>>(),
                )
            }
            None => (new.clone(), Vec::new()),
        };
        if self.validate {
            return Ok(());
        }
        // no false claim while the members change: the fingerprint goes first, and comes back with the new one
        let mut first = serde_json::Map::new();
        first.insert(
            "description".into(),
            json!(mapping::marked_description(user.as_deref(), None)),
        );
        if let Some(n) = rename {
            first.insert("name".into(), json!(n));
        }
        self.conn
            .client
            .partial_update(
                &self.entity_path(Kind::Audience, id),
                &json!({"patch": {"$set": first}}),
            )
            .await
            .map_err(|e| OpOutcome::Failed(self.op_error(&e)))?;
        self.send_members(id, companies, &adds, &removes).await?;
        self.set_description(id, user.as_deref(), Some(&value_fingerprint(mv)))
            .await
    }

    /// `POST /dmpSegments/{id}/users` (or `/companies` for a company list; BATCH_CREATE) by
    /// [`MAX_SEGMENT_USERS`].
    async fn send_members(
        &self,
        id: &str,
        companies: bool,
        adds: &[String],
        removes: &[String],
    ) -> Result<(), OpOutcome> {
        #[derive(Deserialize)]
        struct El {
            #[serde(default)]
            status: Option<u16>,
            #[serde(default)]
            error: Option<Json>,
        }
        #[derive(Deserialize)]
        struct Resp {
            #[serde(default)]
            elements: Vec<El>,
        }
        let element = |action: &str, m: &str| {
            if companies {
                mapping::company_element(action, m)
            } else {
                mapping::user_element(action, m)
            }
        };
        let elements: Vec<Json> = adds
            .iter()
            .map(|m| element("ADD", m))
            .chain(removes.iter().map(|m| element("REMOVE", m)))
            .collect();
        let path = format!(
            "dmpSegments/{}/{}",
            path_key(mapping::urn_id(id)),
            if companies { "companies" } else { "users" }
        );
        for chunk in elements.chunks(MAX_SEGMENT_USERS) {
            let a = self
                .conn
                .client
                .post(
                    Method::BatchCreate,
                    &path,
                    &Query::new(),
                    &json!({ "elements": chunk }),
                    Retry::All,
                )
                .await
                .map_err(|e| OpOutcome::Failed(self.op_error(&e)))?;
            let r: Resp = serde_json::from_str(if a.body.trim().is_empty() { "{}" } else { &a.body })
                .unwrap_or(Resp { elements: Vec::new() });
            let refused: Vec<&El> = r
                .elements
                .iter()
                .filter(|e| e.status.is_some_and(|s| s >= 300) || e.error.is_some())
                .collect();
            if let Some(first) = refused.first() {
                let e = ApiError::from_value(first.status.unwrap_or(400), first.error.as_ref().unwrap_or(&Json::Null));
                let mut op = self.api_error(&e);
                op.message = format!(
                    "{} of {} members were refused: {}",
                    refused.len(),
                    chunk.len(),
                    op.message
                );
                return Err(OpOutcome::Failed(op));
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------------ removals

    /// Removals, children first: DELETE for `DRAFT` objects (and whatever the read did not see), archive
    /// (`ARCHIVED`) the others; DMP segments are deleted.
    async fn removals(&mut self) -> Result<(), ConnectorError> {
        for kind in [Kind::Creative, Kind::Campaign, Kind::CampaignGroup, Kind::Audience] {
            let open: Vec<usize> = self
                .open(kind)
                .into_iter()
                .filter(|&i| matches!(self.ops[i].action, OpAction::Remove { .. }))
                .collect();
            if self.validate {
                continue;
            }
            let mut archive: Vec<(usize, String, Patch)> = Vec::new();
            for i in open {
                let id = self.ids[i].clone().unwrap_or_default();
                let status = self.conn.cache().statuses.get(&id).cloned();
                let draft_or_unknown = kind == Kind::Audience || status.as_deref().is_none_or(|s| s == "DRAFT");
                if draft_or_unknown {
                    match self.conn.client.delete(&self.entity_path(kind, &id)).await {
                        Ok(()) => continue,
                        Err(CallError::Blocked(t)) => return Err(ConnectorError::Wait(t)),
                        // already gone
                        Err(CallError::Api(e)) if e.status == 404 => continue,
                        Err(CallError::Api(e)) if kind != Kind::Audience && (400..500).contains(&e.status) => {}
                        Err(e) => {
                            self.out[i] = failed(self.op_error(&e));
                            continue;
                        }
                    }
                }
                let mut p = Patch::default();
                let key = if kind == Kind::Creative {
                    "intendedStatus"
                } else {
                    "status"
                };
                p.set.insert(key.into(), json!("ARCHIVED"));
                archive.push((i, id, p));
            }
            if kind == Kind::Creative {
                for (i, id, p) in archive {
                    if let Err(e) = self
                        .conn
                        .client
                        .partial_update(&self.entity_path(kind, &id), &p.body())
                        .await
                    {
                        if let CallError::Blocked(t) = e {
                            return Err(ConnectorError::Wait(t));
                        }
                        self.out[i] = failed(self.op_error(&e));
                    }
                }
            } else if !archive.is_empty() {
                self.send_patches(kind, archive).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    use crate::platforms::linkedin::testing::{account, connector, stub, Route};

    fn root() -> Address {
        Address::account("li")
    }

    fn create(address: Address, kind: Kind, parent: Option<IdRef>, fields: &[(&str, Value)]) -> Operation {
        Operation {
            address,
            kind,
            action: OpAction::Create {
                fields: fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            },
            parent,
            refs: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn batch_creates_take_ids_by_index_and_children_follow() {
        let route: Route = Arc::new(|head: &str, target: &str, body: &str| {
            if head == "POST BATCH_CREATE" && target.starts_with("/rest/adAccounts/501/adCampaignGroups?") {
                (200, None, r#"{"elements":[{"status":201,"id":"600"},{"status":400,"error":{"status":400,"code":"MISSING_FIELD","message":"runSchedule"}}]}"#.into())
            } else if head == "POST BATCH_CREATE" && target.starts_with("/rest/adAccounts/501/adCampaigns?") {
                assert!(
                    body.contains(r#""campaignGroup":"urn:li:sponsoredCampaignGroup:600""#),
                    "{body}"
                );
                (200, None, r#"{"elements":[{"status":201,"id":"700"}]}"#.into())
            } else if head == "POST CREATE" && target.starts_with("/rest/adAccounts/501/creatives?") {
                (201, Some("urn%3Ali%3AsponsoredCreative%3A800".into()), String::new())
            } else {
                (404, None, r#"{"status":404,"message":"no route"}"#.into())
            }
        });
        let (url, seen) = stub(route).await;
        let c = connector(&url);
        let g1 = root().child(Kind::CampaignGroup, "Q1");
        let g2 = root().child(Kind::CampaignGroup, "Q2");
        let camp = g1.child(Kind::Campaign, "Leads");
        let batch = ApplyBatch {
            ops: vec![
                create(
                    g1.clone(),
                    Kind::CampaignGroup,
                    None,
                    &[("status", Value::str("active"))],
                ),
                create(g2.clone(), Kind::CampaignGroup, None, &[]),
                create(
                    camp.clone(),
                    Kind::Campaign,
                    Some(IdRef::Pending(0)),
                    &[("type", Value::str("text_ad"))],
                ),
                create(
                    camp.child(Kind::Creative, "A"),
                    Kind::Creative,
                    Some(IdRef::Pending(2)),
                    &[("content.reference", Value::str("urn:li:share:1"))],
                ),
                create(
                    g2.child(Kind::Campaign, "X"),
                    Kind::Campaign,
                    Some(IdRef::Pending(1)),
                    &[],
                ),
                create(root().child(Kind::Ad, "nope"), Kind::Ad, None, &[]),
            ],
        };
        let out = run(&c, &account(&url), &batch, false).await.unwrap();
        assert_eq!(out[0], OpOutcome::Applied { id: "600".into() });
        assert!(
            matches!(&out[1], OpOutcome::Failed(e) if e.code == "MISSING_FIELD"),
            "{:?}",
            out[1]
        );
        assert_eq!(out[2], OpOutcome::Applied { id: "700".into() });
        assert_eq!(
            out[3],
            OpOutcome::Applied {
                id: "urn:li:sponsoredCreative:800".into()
            }
        );
        assert!(matches!(&out[4], OpOutcome::Skipped { .. }), "{:?}", out[4]);
        assert!(matches!(&out[5], OpOutcome::Failed(e) if e.code == "unsupported"));
        let log = seen.lock().unwrap();
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(log[0].contains(r#""name":"Q1 [adsctl-managed]""#), "{}", log[0]);
    }

    #[tokio::test]
    async fn a_lost_create_is_looked_up_before_it_is_sent_again() {
        let creates = Arc::new(Mutex::new(0));
        let n = creates.clone();
        let route: Route = Arc::new(move |head: &str, target: &str, _body: &str| {
            if head == "POST BATCH_CREATE" {
                *n.lock().unwrap() += 1;
                (500, None, r#"{"status":500,"message":"oops"}"#.into())
            } else if head == "GET FINDER" && target.starts_with("/rest/adAccounts/501/adCampaignGroups?") {
                (
                    200,
                    None,
                    r#"{"elements":[{"id":600,"name":"Q1 [adsctl-managed]","status":"ACTIVE"}],"metadata":{}}"#.into(),
                )
            } else {
                (404, None, "{}".into())
            }
        });
        let (url, _) = stub(route).await;
        let c = connector(&url);
        let batch = ApplyBatch {
            ops: vec![create(
                root().child(Kind::CampaignGroup, "Q1"),
                Kind::CampaignGroup,
                None,
                &[],
            )],
        };
        let out = run(&c, &account(&url), &batch, false).await.unwrap();
        assert_eq!(out[0], OpOutcome::Applied { id: "600".into() });
        assert_eq!(*creates.lock().unwrap(), 1, "found: not sent again");
    }

    #[tokio::test]
    async fn updates_go_in_one_batch_and_removals_delete_drafts_and_archive_the_rest() {
        let route: Route = Arc::new(|head: &str, target: &str, _body: &str| match head {
            "POST BATCH_PARTIAL_UPDATE" => (
                200,
                None,
                if target.contains("ids=List(1,2)") {
                    r#"{"results":{"1":{"status":204}},"errors":{"2":{"status":400,"message":"bad"}}}"#.into()
                } else {
                    r#"{"results":{}}"#.into()
                },
            ),
            "DELETE DELETE" => (204, None, String::new()),
            _ => (404, None, "{}".into()),
        });
        let (url, seen) = stub(route).await;
        let c = connector(&url);
        c.cache().statuses.insert("3".into(), "DRAFT".into());
        c.cache().statuses.insert("4".into(), "ACTIVE".into());
        let g = |n: &str| root().child(Kind::CampaignGroup, n);
        let op = |a: Address, action: OpAction| Operation {
            address: a,
            kind: Kind::CampaignGroup,
            action,
            parent: None,
            refs: BTreeMap::new(),
        };
        let batch = ApplyBatch {
            ops: vec![
                op(g("A"), OpAction::Pause { id: "1".into() }),
                op(
                    g("B"),
                    OpAction::Update {
                        id: "2".into(),
                        set: BTreeMap::from([(NAME_FIELD.to_string(), Value::str("B"))]),
                        before: BTreeMap::new(),
                    },
                ),
                op(g("C"), OpAction::Remove { id: "3".into() }),
                op(g("D"), OpAction::Remove { id: "4".into() }),
            ],
        };
        let out = run(&c, &account(&url), &batch, false).await.unwrap();
        assert_eq!(out[0], OpOutcome::Applied { id: "1".into() });
        assert!(matches!(&out[1], OpOutcome::Failed(_)));
        assert_eq!(out[2], OpOutcome::Applied { id: "3".into() });
        assert_eq!(out[3], OpOutcome::Applied { id: "4".into() });
        let log = seen.lock().unwrap();
        assert!(
            log[0].starts_with("POST BATCH_PARTIAL_UPDATE /rest/adAccounts/501/adCampaignGroups?ids=List(1,2) "),
            "{}",
            log[0]
        );
        assert!(
            log[0].contains(r#""1":{"patch":{"$set":{"status":"PAUSED"}}}"#),
            "{}",
            log[0]
        );
        assert!(
            log[0].contains(r#""2":{"patch":{"$set":{"name":"B [adsctl-managed]"}}}"#),
            "{}",
            log[0]
        );
        assert!(
            log[1].starts_with("DELETE DELETE /rest/adAccounts/501/adCampaignGroups/3?"),
            "{}",
            log[1]
        );
        assert!(
            log[2].contains("ids=List(4)") && log[2].contains(r#""status":"ARCHIVED""#),
            "{}",
            log[2]
        );
    }

    #[tokio::test]
    async fn a_segment_takes_its_members_then_its_fingerprint() {
        let route: Route = Arc::new(|head: &str, target: &str, _body: &str| match (head, target) {
            ("POST CREATE", t) if t.starts_with("/rest/dmpSegments?") => {
                (201, Some("urn:li:dmpSegment:55".into()), String::new())
            }
            ("POST BATCH_CREATE", t) if t.starts_with("/rest/dmpSegments/55/users?") => {
                (200, None, r#"{"elements":[{"status":201}]}"#.into())
            }
            ("POST PARTIAL_UPDATE", t) if t.starts_with("/rest/dmpSegments/55?") => (204, None, String::new()),
            _ => (404, None, "{}".into()),
        });
        let (url, seen) = stub(route).await;
        let c = connector(&url);
        let member = "a".repeat(64);
        let members = Value::Set([Value::str(member.clone())].into_iter().collect());
        let fp = value_fingerprint(&members);
        let batch = ApplyBatch {
            ops: vec![create(
                root().child(Kind::Audience, "Buyers"),
                Kind::Audience,
                None,
                &[("description", Value::str("CRM")), ("members", members)],
            )],
        };
        let out = run(&c, &account(&url), &batch, false).await.unwrap();
        assert_eq!(out[0], OpOutcome::Applied { id: "55".into() });
        let log = seen.lock().unwrap();
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(log[0].contains(r#""description":"CRM [adsctl-managed]""#), "{}", log[0]);
        assert!(
            log[1].contains(&format!(
                r#""action":"ADD","userIds":[{{"idType":"SHA256_EMAIL","idValue":"{member}"}}]"#
            )),
            "{}",
            log[1]
        );
        assert!(log[2].contains(&format!("CRM [adsctl-managed:{fp}]")), "{}", log[2]);
    }
}
