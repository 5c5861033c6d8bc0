//! Operations → X writes, in the fewest calls the API has:
//!
//! - custom audiences: single `POST|PUT|DELETE …/custom_audiences[/{id}]` with the parameters in the query string;
//!   members through `POST …/custom_audiences/{id}/users` (JSON: operation objects `Update` / `Delete` of
//!   `{"users":[{"email":[<sha256>]}]}`, ≤ 2,500 operation objects and ≤ 5,000,000 bytes a request; the answer's
//!   `success_count` and `total_count` must both equal the user objects sent), the description's marker cleared of
//!   its fingerprint before and given the new one after;
//! - campaigns and line items: `POST /12/batch/accounts/{a}/campaigns|line_items` (≤ 40 items, all-or-nothing;
//!   Create / Update / Delete, the id in `params` as `campaign_id` / `line_item_id`); pauses, adoptions and renames
//!   are Updates;
//! - targeting criteria: `POST /12/batch/accounts/{a}/targeting_criteria` (≤ 500, Create / Delete);
//! - promoted tweets: `POST …/promoted_tweets?line_item_id=…&tweet_ids=a,b` (≤ 50 ids; `data` is an array) and
//!   `DELETE …/promoted_tweets/{id}`.
//!
//! Parents are written before children (a child created in the same apply takes the id its parent's create
//! answered); removals go children first. A batch's `operation_errors` fail the items they name; as nothing of
//! the batch was applied, the others are sent again without them. A DELETE answered 404 (or a `*_NOT_FOUND`
//! item) is done: X's deletes are soft and a second one is 404.
//!
//! X has no idempotency key: after a lost answer on a create (no answer, or a server error) the object is listed
//! (campaigns by marked name; line items by campaign and marked name; criteria by line item, type, value and
//! operator; promoted tweets by line item and tweet id; audiences by name); found → applied; not found → sent
//! again only if X had answered, otherwise it fails as "outcome unknown" and the next run finds or creates it.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value as Json};

use super::client::{enc, CallError, Query, Retry, Verb};
use super::config::{
    MAX_BATCH, MAX_CRITERIA_BATCH, MAX_TWEET_IDS, MAX_USERS_BODY, MAX_USER_OPERATIONS, USERS_PER_OPERATION,
};
use super::errors::ApiError;
use super::mapping::{self, Fields, MappingError, Params};
use super::XConnector;
use crate::connectors::{ApplyBatch, ConnectorError, IdRef, OpAction, OpError, OpOutcome, Operation, NAME_FIELD};
use crate::model::{value_fingerprint, Account, Kind, Value};

struct Run<'a> {
    conn: &'a XConnector,
    ops: &'a [Operation],
    /// Check what can be checked without a request (X has no dry run).
    validate: bool,
    out: Vec<Option<OpOutcome>>,
    ids: Vec<Option<String>>,
    /// `start_time` of line items created without one.
    now: String,
}

fn failed(e: OpError) -> Option<OpOutcome> {
    Some(OpOutcome::Failed(e))
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

/// The batch collection and id parameter of a kind.
fn batch_of(kind: Kind) -> (&'static str, &'static str, usize) {
    match kind {
        Kind::Campaign => ("campaigns", "campaign_id", MAX_BATCH),
        Kind::AdGroup => ("line_items", "line_item_id", MAX_BATCH),
        _ => ("targeting_criteria", "targeting_criterion_id", MAX_CRITERIA_BATCH),
    }
}

/// One item of a batch: the operation it stands for, `Create` / `Update` / `Delete`, its params.
#[derive(Clone, Debug)]
struct Item {
    op: usize,
    kind: &'static str,
    params: Params,
}

impl Item {
    fn json(&self) -> Json {
        json!({"operation_type": self.kind, "params": self.params})
    }
}

pub async fn run(
    conn: &XConnector,
    _account: &Account,
    batch: &ApplyBatch,
    validate: bool,
) -> Result<Vec<OpOutcome>, ConnectorError> {
    let mut r = Run {
        conn,
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
        now: mapping::now_second(),
    };
    for (i, op) in batch.ops.iter().enumerate() {
        if !matches!(
            op.kind,
            Kind::Campaign | Kind::AdGroup | Kind::PromotedPost | Kind::TargetingCriterion | Kind::Audience
        ) {
            r.out[i] = failed(OpError {
                code: "unsupported".into(),
                message: format!("X has no {}", op.kind.as_str()),
                field: None,
                hint: Some("see docs/resource-model.md (X)".into()),
            });
        }
    }
    r.audiences().await?;
    r.entity_writes(Kind::Campaign).await?;
    r.entity_writes(Kind::AdGroup).await?;
    r.criteria_creates().await?;
    r.tweet_creates().await?;
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

    /// Operations of `kind` not decided yet.
    fn open(&self, kind: Kind) -> Vec<usize> {
        (0..self.ops.len())
            .filter(|&i| self.ops[i].kind == kind && self.out[i].is_none())
            .collect()
    }

    fn is_remove(&self, i: usize) -> bool {
        matches!(self.ops[i].action, OpAction::Remove { .. })
    }

    /// The parent's id (a pending create resolved), or why the operation is skipped.
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

    // ------------------------------------------------------------------------------------------ batches

    /// The batch item of a campaign or line item operation (`None`: nothing to send).
    fn entity_item(&self, i: usize) -> Result<Option<Item>, OpOutcome> {
        let op = &self.ops[i];
        let (_, id_param, _) = batch_of(op.kind);
        let marked = || mapping::checked_name(&op.address).map_err(mapping_failed);
        let with_id = |mut p: Params, id: &str| {
            p.insert(id_param.into(), Json::String(id.to_string()));
            p
        };
        Ok(match &op.action {
            OpAction::Create { fields } => {
                let params = match op.kind {
                    Kind::Campaign => mapping::campaign_create(&marked()?, fields).map_err(mapping_failed)?,
                    _ => {
                        let parent = self.parent_id(i)?;
                        mapping::line_item_create(&parent, &marked()?, fields, &self.now).map_err(mapping_failed)?
                    }
                };
                Some(Item {
                    op: i,
                    kind: "Create",
                    params,
                })
            }
            OpAction::Update { id, set, .. } => {
                let mut p = match op.kind {
                    Kind::Campaign => mapping::campaign_update(set),
                    _ => mapping::line_item_update(set),
                }
                .map_err(mapping_failed)?;
                if set.contains_key(NAME_FIELD) {
                    p.insert("name".into(), Json::String(marked()?));
                }
                (!p.is_empty()).then(|| Item {
                    op: i,
                    kind: "Update",
                    params: with_id(p, id),
                })
            }
            OpAction::Pause { id } => {
                let mut p = Params::new();
                p.insert("entity_status".into(), json!("PAUSED"));
                Some(Item {
                    op: i,
                    kind: "Update",
                    params: with_id(p, id),
                })
            }
            OpAction::Adopt { id } => {
                let mut p = Params::new();
                p.insert("name".into(), Json::String(marked()?));
                Some(Item {
                    op: i,
                    kind: "Update",
                    params: with_id(p, id),
                })
            }
            OpAction::Remove { id } => {
                let mut p = Params::new();
                p.insert(id_param.into(), Json::String(id.clone()));
                Some(Item {
                    op: i,
                    kind: "Delete",
                    params: p,
                })
            }
        })
    }

    /// Creates, updates, pauses and adoptions of campaigns or line items.
    async fn entity_writes(&mut self, kind: Kind) -> Result<(), ConnectorError> {
        let mut items = Vec::new();
        for i in self.open(kind) {
            if self.is_remove(i) {
                continue;
            }
            if let Some(reason) = self.failed_dependency(i) {
                self.out[i] = Some(OpOutcome::Skipped { reason });
                continue;
            }
            match self.entity_item(i) {
                Ok(Some(it)) => items.push(it),
                Ok(None) => {}
                Err(o) => self.out[i] = Some(o),
            }
        }
        self.send_items(kind, items).await
    }

    /// Send batch items of `kind` by the batch's maximum.
    async fn send_items(&mut self, kind: Kind, items: Vec<Item>) -> Result<(), ConnectorError> {
        if self.validate || items.is_empty() {
            return Ok(());
        }
        let (_, _, max) = batch_of(kind);
        let mut rest = items;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(max));
            let chunk = std::mem::replace(&mut rest, tail);
            self.send_batch(kind, chunk).await?;
        }
        Ok(())
    }

    /// One batch, all-or-nothing: item errors fail their items and the rest go again; a lost answer is looked
    /// up before anything is created again.
    async fn send_batch(&mut self, kind: Kind, mut items: Vec<Item>) -> Result<(), ConnectorError> {
        let (collection, _, _) = batch_of(kind);
        let path = format!("batch/{}", self.conn.path(collection));
        let mut rounds = 0;
        while !items.is_empty() {
            rounds += 1;
            let has_create = items.iter().any(|it| it.kind == "Create");
            let body = Json::Array(items.iter().map(Item::json).collect());
            let retry = if has_create { Retry::RefusedOnly } else { Retry::All };
            match self.conn.client.post_json(&path, &body, retry).await {
                Ok(a) => {
                    let data = a.data(collection).map_err(|e| self.conn.err(e))?;
                    let rows = data.as_array().cloned().unwrap_or_default();
                    for (k, it) in items.iter().enumerate() {
                        if it.kind == "Create" {
                            match rows.get(k).and_then(|r| r.get("id")).and_then(super::client::id_text) {
                                Some(id) => self.ids[it.op] = Some(id),
                                None => {
                                    self.out[it.op] = failed(OpError {
                                        code: "decode".into(),
                                        message: format!("X's batch answer has no id for item {k}"),
                                        field: None,
                                        hint: Some("run `adsctl plan` again".into()),
                                    })
                                }
                            }
                        }
                    }
                    return Ok(());
                }
                Err(CallError::Api(e)) if !e.operation_errors.is_empty() && e.operation_errors.len() == items.len() => {
                    let mut keep = Vec::new();
                    let mut dropped = false;
                    for (k, it) in items.into_iter().enumerate() {
                        let errs = &e.operation_errors[k];
                        if errs.is_empty() {
                            keep.push(it);
                            continue;
                        }
                        dropped = true;
                        let item_err = ApiError::from_items(e.status, errs.clone());
                        if it.kind == "Delete" && item_err.is_gone() {
                            // already deleted: done
                            continue;
                        }
                        self.out[it.op] = failed(self.api_error(&item_err));
                    }
                    if !dropped {
                        // answered as failed without naming an item: every item fails with it
                        for it in &keep {
                            self.out[it.op] = failed(self.api_error(&e));
                        }
                        return Ok(());
                    }
                    items = keep;
                }
                Err(err) if err.outcome_unknown() && has_create && rounds <= 3 => {
                    // lost: what did it make?
                    let mut again = Vec::new();
                    for it in items {
                        if it.kind != "Create" {
                            again.push(it);
                            continue;
                        }
                        match self.look_up(it.op).await {
                            Ok(Some(id)) => self.ids[it.op] = Some(id),
                            Ok(None) if err.answered() => again.push(it),
                            Ok(None) => self.out[it.op] = failed(unknown_outcome(self.op_error(&err))),
                            Err(e) => self.out[it.op] = failed(unknown_outcome(self.op_error(&e))),
                        }
                    }
                    items = again;
                }
                Err(err) => {
                    if matches!(err, CallError::Blocked(_)) {
                        return Err(self.conn.err(err));
                    }
                    let o = if err.outcome_unknown() {
                        unknown_outcome(self.op_error(&err))
                    } else {
                        self.op_error(&err)
                    };
                    for it in &items {
                        self.out[it.op] = failed(o.clone());
                    }
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// A create whose answer was lost: the id of what it made, when X lists it.
    async fn look_up(&self, i: usize) -> Result<Option<String>, CallError> {
        let op = &self.ops[i];
        let c = self.conn;
        match op.kind {
            Kind::Campaign => {
                let want = mapping::marked_name(op.address.name().unwrap_or_default());
                Ok(c.campaigns(Query::new())
                    .await?
                    .into_iter()
                    .find(|r| r.name.as_deref() == Some(want.as_str()))
                    .and_then(|r| r.id))
            }
            Kind::AdGroup => {
                let Ok(parent) = self.parent_id(i) else { return Ok(None) };
                let want = mapping::marked_name(op.address.name().unwrap_or_default());
                Ok(c.line_items(Query::new().set("campaign_ids", parent))
                    .await?
                    .into_iter()
                    .find(|r| r.name.as_deref() == Some(want.as_str()))
                    .and_then(|r| r.id))
            }
            Kind::TargetingCriterion => {
                let Ok(parent) = self.parent_id(i) else { return Ok(None) };
                let Ok(p) = self.criterion_params(i, &parent) else {
                    return Ok(None);
                };
                let text = |k: &str| p.get(k).and_then(Json::as_str).unwrap_or("").to_string();
                Ok(c.criteria(&[parent])
                    .await?
                    .into_iter()
                    .find(|r| {
                        r.targeting_type.as_deref().map(str::to_ascii_uppercase) == Some(text("targeting_type"))
                            && r.targeting_value.as_deref() == Some(text("targeting_value").as_str())
                            && r.operator_type
                                .as_deref()
                                .unwrap_or("EQ")
                                .eq_ignore_ascii_case(&text("operator_type"))
                    })
                    .and_then(|r| r.id))
            }
            Kind::PromotedPost => {
                let Ok(parent) = self.parent_id(i) else { return Ok(None) };
                let tweet = op.address.name().unwrap_or_default();
                Ok(c.promoted_tweets(&[parent])
                    .await?
                    .into_iter()
                    .find(|r| r.tweet_id.as_deref() == Some(tweet))
                    .and_then(|r| r.id))
            }
            Kind::Audience => {
                let name = op.address.name().unwrap_or_default();
                Ok(c.audiences()
                    .await?
                    .into_iter()
                    .find(|r| r.name.as_deref() == Some(name))
                    .and_then(|r| r.id))
            }
            _ => Ok(None),
        }
    }

    // ------------------------------------------------------------------------------------------ criteria

    /// The audience id of a criterion's `audience` Ref (the operation's refs, then the read's audiences).
    fn audience_id(&self, i: usize) -> Result<Option<String>, OpOutcome> {
        let op = &self.ops[i];
        let fields: Option<&Fields> = match &op.action {
            OpAction::Create { fields } => Some(fields),
            _ => None,
        };
        let Some(Value::Ref(a)) = fields.and_then(|f| f.get("audience")) else {
            return Ok(None);
        };
        if self.validate {
            return Ok(Some("0".into()));
        }
        if let Some(id) = op.refs.get(a.as_ref()).and_then(|r| self.resolve(r)) {
            return Ok(Some(id));
        }
        let name = a.name().unwrap_or_default();
        match self.conn.cache().audience_ids.get(name).cloned() {
            Some(id) => Ok(Some(id)),
            None => Err(OpOutcome::Skipped {
                reason: format!("{a} has no id (it was not created or read)"),
            }),
        }
    }

    fn criterion_params(&self, i: usize, line_item: &str) -> Result<Params, OpOutcome> {
        let audience = self.audience_id(i)?;
        mapping::criterion_params(&self.ops[i].address, line_item, audience.as_deref()).map_err(mapping_failed)
    }

    /// Operations on kinds that have no update (criteria, promoted posts): an update with nothing to set is
    /// done; anything else is refused.
    fn no_update(&mut self, i: usize, what: &str) -> bool {
        match &self.ops[i].action {
            OpAction::Update { set, .. } if set.keys().all(|k| k == "audience") => {
                // the name (type, value, operator) is the identity; a changed Ref renames it: nothing to send
                true
            }
            OpAction::Update { .. } => {
                self.out[i] = failed(OpError {
                    code: "unsupported".into(),
                    message: format!("X has no update of a {what}: it is removed and created"),
                    field: None,
                    hint: Some("run `adsctl plan` again".into()),
                });
                true
            }
            OpAction::Pause { .. } => {
                self.out[i] = Some(OpOutcome::Skipped {
                    reason: format!("an X {what} has no status of its own; left as it is"),
                });
                true
            }
            OpAction::Adopt { .. } => true,
            _ => false,
        }
    }

    async fn criteria_creates(&mut self) -> Result<(), ConnectorError> {
        let mut items = Vec::new();
        for i in self.open(Kind::TargetingCriterion) {
            if self.is_remove(i) || self.no_update(i, "targeting criterion") {
                continue;
            }
            if let Some(reason) = self.failed_dependency(i) {
                self.out[i] = Some(OpOutcome::Skipped { reason });
                continue;
            }
            let res = self.parent_id(i).and_then(|li| self.criterion_params(i, &li));
            match res {
                Ok(params) => items.push(Item {
                    op: i,
                    kind: "Create",
                    params,
                }),
                Err(o) => self.out[i] = Some(o),
            }
        }
        self.send_items(Kind::TargetingCriterion, items).await
    }

    // ------------------------------------------------------------------------------------------ promoted tweets

    async fn tweet_creates(&mut self) -> Result<(), ConnectorError> {
        let mut by_line_item: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in self.open(Kind::PromotedPost) {
            if self.is_remove(i) || self.no_update(i, "promoted post") {
                continue;
            }
            if let Some(reason) = self.failed_dependency(i) {
                self.out[i] = Some(OpOutcome::Skipped { reason });
                continue;
            }
            let tweet = self.ops[i].address.name().unwrap_or_default();
            if tweet.is_empty() || !tweet.bytes().all(|b| b.is_ascii_digit()) {
                self.out[i] = Some(mapping_failed(
                    MappingError::new("name", format!("`{tweet}` is not a post (tweet) id"))
                        .with_hint("a promoted post is named by the post's decimal id"),
                ));
                continue;
            }
            match self.parent_id(i) {
                Ok(li) => by_line_item.entry(li).or_default().push(i),
                Err(o) => self.out[i] = Some(o),
            }
        }
        if self.validate {
            return Ok(());
        }
        for (li, ops) in by_line_item {
            for chunk in ops.chunks(MAX_TWEET_IDS) {
                self.attach(&li, chunk).await?;
            }
        }
        Ok(())
    }

    /// `POST …/promoted_tweets?line_item_id=…&tweet_ids=a,b`: `data` is an array, matched back by tweet id.
    async fn attach(&mut self, line_item: &str, ops: &[usize]) -> Result<(), ConnectorError> {
        let mut ops = ops.to_vec();
        let mut rounds = 0;
        while !ops.is_empty() {
            rounds += 1;
            let tweets: Vec<String> = ops
                .iter()
                .map(|&i| self.ops[i].address.name().unwrap_or_default().to_string())
                .collect();
            let q = Query::new()
                .set("line_item_id", line_item)
                .set("tweet_ids", tweets.join(","));
            let path = self.conn.path("promoted_tweets");
            match self
                .conn
                .client
                .call(Verb::Post, &path, &q, None, Retry::RefusedOnly)
                .await
            {
                Ok(a) => {
                    let data = a.data("promoted_tweets").map_err(|e| self.conn.err(e))?;
                    let rows: Vec<mapping::PromotedTweetRow> = match data {
                        Json::Array(_) => serde_json::from_value(data).unwrap_or_default(),
                        other => serde_json::from_value(other).map(|r| vec![r]).unwrap_or_default(),
                    };
                    for (&i, tweet) in ops.iter().zip(&tweets) {
                        match rows.iter().find(|r| r.tweet_id.as_deref() == Some(tweet.as_str())) {
                            Some(r) if r.id.is_some() => self.ids[i] = r.id.clone(),
                            _ => {
                                self.out[i] = failed(OpError {
                                    code: "decode".into(),
                                    message: format!("X's answer does not list post {tweet} as promoted"),
                                    field: None,
                                    hint: Some("run `adsctl plan` again".into()),
                                })
                            }
                        }
                    }
                    return Ok(());
                }
                Err(err @ CallError::Blocked(_)) => return Err(self.conn.err(err)),
                Err(err) if err.outcome_unknown() => {
                    // lost: attach again only what X does not list, and only when X had answered
                    let mut again = Vec::new();
                    for i in ops {
                        match self.look_up(i).await {
                            Ok(Some(id)) => self.ids[i] = Some(id),
                            Ok(None) if err.answered() && rounds < 3 => again.push(i),
                            Ok(None) => self.out[i] = failed(unknown_outcome(self.op_error(&err))),
                            Err(e) => self.out[i] = failed(unknown_outcome(self.op_error(&e))),
                        }
                    }
                    ops = again;
                }
                Err(err) => {
                    let o = self.op_error(&err);
                    for &i in &ops {
                        self.out[i] = failed(o.clone());
                    }
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------------ audiences

    fn audience_path(&self, id: &str) -> String {
        self.conn.path(&format!("custom_audiences/{}", enc(id)))
    }

    async fn audiences(&mut self) -> Result<(), ConnectorError> {
        let ops = self.ops;
        for i in self.open(Kind::Audience) {
            let res = match &ops[i].action {
                OpAction::Create { fields } => self.create_audience(i, fields).await,
                OpAction::Update { id, set, before } => self.update_audience(i, id, set, before).await,
                OpAction::Adopt { id } => {
                    let user = self.conn.cache().descriptions.get(id).cloned().flatten();
                    if self.validate {
                        Ok(())
                    } else {
                        self.put_audience(id, None, user.as_deref(), None).await
                    }
                }
                OpAction::Pause { .. } => Err(OpOutcome::Skipped {
                    reason: "X custom audiences have no status to pause; left as they are".into(),
                }),
                OpAction::Remove { .. } => Ok(()),
            };
            if let Err(o) = res {
                self.out[i] = Some(o);
            }
        }
        Ok(())
    }

    /// `PUT …/custom_audiences/{id}?[name=…&]description=…` (parameters in the query string).
    async fn put_audience(
        &self,
        id: &str,
        name: Option<&str>,
        user: Option<&str>,
        fp: Option<&str>,
    ) -> Result<(), OpOutcome> {
        let mut q = Query::new();
        if let Some(n) = name {
            q = q.set("name", n);
        }
        q = q.set("description", mapping::marked_description(user, fp));
        self.conn
            .client
            .call(Verb::Put, &self.audience_path(id), &q, None, Retry::All)
            .await
            .map(|_| ())
            .map_err(|e| OpOutcome::Failed(self.op_error(&e)))
    }

    fn check_audience_fields(fields: &BTreeMap<String, Value>, update: bool) -> Result<(), OpOutcome> {
        for k in fields.keys() {
            let ok = matches!(k.as_str(), "description" | "members") || (update && k == NAME_FIELD);
            if !ok {
                return Err(mapping_failed(MappingError::new(
                    k,
                    "an X custom audience has only description and members",
                )));
            }
        }
        Ok(())
    }

    async fn create_audience(&mut self, i: usize, fields: &BTreeMap<String, Value>) -> Result<(), OpOutcome> {
        let name = self.ops[i].address.name().unwrap_or_default().to_string();
        if name.trim().is_empty() {
            return Err(mapping_failed(MappingError::new(
                "name",
                "a custom audience needs a name",
            )));
        }
        Self::check_audience_fields(fields, false)?;
        let user = fields.get("description").and_then(Value::as_str).map(str::to_string);
        let members = mapping::members_of(fields.get("members")).map_err(mapping_failed)?;
        if self.validate {
            return Ok(());
        }
        let q = Query::new()
            .set("name", name.clone())
            .set("description", mapping::marked_description(user.as_deref(), None));
        let path = self.conn.path("custom_audiences");
        let mut rounds = 0;
        let id = loop {
            rounds += 1;
            match self
                .conn
                .client
                .call(Verb::Post, &path, &q, None, Retry::RefusedOnly)
                .await
            {
                Ok(a) => {
                    let data = a
                        .data("custom_audiences")
                        .map_err(|e| OpOutcome::Failed(self.op_error(&e)))?;
                    break data.get("id").and_then(super::client::id_text).ok_or_else(|| {
                        OpOutcome::Failed(OpError {
                            code: "decode".into(),
                            message: "X's answer to the audience create has no id".into(),
                            field: None,
                            hint: None,
                        })
                    })?;
                }
                // lost: the name is unique per account, so a listing says whether it was made
                Err(err) if err.outcome_unknown() => match self.look_up(i).await {
                    Ok(Some(id)) => break id,
                    Ok(None) if err.answered() && rounds < 3 => continue,
                    _ => return Err(OpOutcome::Failed(unknown_outcome(self.op_error(&err)))),
                },
                Err(err) => return Err(OpOutcome::Failed(self.op_error(&err))),
            }
        };
        self.ids[i] = Some(id.clone());
        self.conn.cache().audience_ids.insert(name, id.clone());
        if !members.is_empty() {
            self.send_members(&id, &members, &[]).await?;
            let fp = fields.get("members").map(value_fingerprint);
            self.put_audience(&id, None, user.as_deref(), fp.as_deref()).await?;
        }
        Ok(())
    }

    /// New members: `Update` what is new and `Delete` what went when what the audience holds is known; otherwise
    /// every member is sent as `Update` (X has no replace-all: members added outside adsctl stay).
    async fn update_audience(
        &mut self,
        i: usize,
        id: &str,
        set: &BTreeMap<String, Value>,
        before: &BTreeMap<String, Value>,
    ) -> Result<(), OpOutcome> {
        Self::check_audience_fields(set, true)?;
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
            return self
                .put_audience(id, rename.as_deref(), user.as_deref(), fp.as_deref())
                .await;
        };
        let new = mapping::members_of(Some(mv)).map_err(mapping_failed)?;
        let (adds, removes) = match before.get("members") {
            Some(old) => {
                let old = mapping::members_of(Some(old)).map_err(mapping_failed)?;
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
        self.put_audience(id, rename.as_deref(), user.as_deref(), None).await?;
        self.send_members(id, &adds, &removes).await?;
        self.put_audience(id, None, user.as_deref(), Some(&value_fingerprint(mv)))
            .await
    }

    /// `POST …/custom_audiences/{id}/users`: `Update` for adds, `Delete` for removals, each request checked
    /// (success_count = total_count = user objects sent; otherwise sent once more, then failed).
    async fn send_members(&self, id: &str, adds: &[String], removes: &[String]) -> Result<(), OpOutcome> {
        let path = self.conn.path(&format!("custom_audiences/{}/users", enc(id)));
        let mut bodies = mapping::user_bodies("Update", adds, USERS_PER_OPERATION, MAX_USER_OPERATIONS, MAX_USERS_BODY);
        bodies.extend(mapping::user_bodies(
            "Delete",
            removes,
            USERS_PER_OPERATION,
            MAX_USER_OPERATIONS,
            MAX_USERS_BODY,
        ));
        for (body, sent) in bodies {
            let mut tries = 0;
            loop {
                tries += 1;
                // the upload is all-or-nothing and adding a user twice changes nothing: safe to send again
                let a = self
                    .conn
                    .client
                    .post_json(&path, &body, Retry::All)
                    .await
                    .map_err(|e| OpOutcome::Failed(self.op_error(&e)))?;
                let data = a.data("custom_audiences users").unwrap_or_default();
                let count = |k: &str| data.get(k).and_then(Json::as_u64).unwrap_or(0);
                let (ok, total) = (count("success_count"), count("total_count"));
                if ok == sent as u64 && total == sent as u64 {
                    break;
                }
                if tries >= 2 {
                    return Err(OpOutcome::Failed(OpError {
                        code: "partial_upload".into(),
                        message: format!("X took {ok} of {sent} users (total_count {total}) in an audience upload"),
                        field: Some("members".into()),
                        hint: Some("run apply again: the upload is sent again whole".into()),
                    }));
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------------ removals

    /// Removals, children first: promoted tweets, criteria, line items, campaigns, audiences.
    async fn removals(&mut self) -> Result<(), ConnectorError> {
        let removes =
            |r: &Self, kind: Kind| -> Vec<usize> { r.open(kind).into_iter().filter(|&i| r.is_remove(i)).collect() };
        if self.validate {
            return Ok(());
        }
        for i in removes(self, Kind::PromotedPost) {
            let id = self.ids[i].clone().unwrap_or_default();
            let path = self.conn.path(&format!("promoted_tweets/{}", enc(&id)));
            if let Err(e) = self.conn.client.delete(&path).await {
                if matches!(e, CallError::Blocked(_)) {
                    return Err(self.conn.err(e));
                }
                self.out[i] = failed(self.op_error(&e));
            }
        }
        for kind in [Kind::TargetingCriterion, Kind::AdGroup, Kind::Campaign] {
            let mut items = Vec::new();
            for i in removes(self, kind) {
                let (_, id_param, _) = batch_of(kind);
                let mut p = Params::new();
                p.insert(id_param.into(), Json::String(self.ids[i].clone().unwrap_or_default()));
                items.push(Item {
                    op: i,
                    kind: "Delete",
                    params: p,
                });
            }
            self.send_items(kind, items).await?;
        }
        for i in removes(self, Kind::Audience) {
            let id = self.ids[i].clone().unwrap_or_default();
            if let Err(e) = self.conn.client.delete(&self.audience_path(&id)).await {
                if matches!(e, CallError::Blocked(_)) {
                    return Err(self.conn.err(e));
                }
                self.out[i] = failed(self.op_error(&e));
            }
        }
        Ok(())
    }
}
