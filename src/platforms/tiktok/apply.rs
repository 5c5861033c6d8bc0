//! Operations → TikTok writes, in the fewest calls the API has:
//!
//! - audiences: a file upload, then `dmp/custom_audience/create/` or `update/` (the marker with the members'
//!   fingerprint in the same call); lookalikes: `…/lookalike/create/`; removals: `…/delete/` by 100 ids;
//! - campaigns and ad groups: one `create/` each (with a `request_id`, so a create sent again is not duplicated),
//!   one `update/` each for changed fields;
//! - ads: one `ad/create/` per ad group for all its new ads (`creatives[]`), one `ad/update/` per ad group for all
//!   its changed or adopted ads;
//! - status changes (pause, enable, remove = DELETE): one `…/status/update/` per kind and status for every 20 ids.
//!
//! Parents are written before children: a hand-over may hold a campaign, its ad groups and their ads, each child
//! taking the id its parent's create returned. Outcomes are per operation. A create whose answer was lost (no
//! answer, or a server error) is looked up by its marked name under its parent (with pauses: reads can lag);
//! found → applied; not found → sent again only if TikTok had answered, otherwise it fails as "outcome unknown"
//! and the next run finds it or creates it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use md5::{Digest as _, Md5};
use serde_json::value::RawValue;
use sha2::Sha256;

use super::client::{Body, CallError, Retry};
use super::config::{MAX_AUDIENCE_IDS, MAX_CREATIVES_PER_CALL, MAX_STATUS_IDS};
use super::errors::ErrorClass;
use super::mapping::{self, MappingError};
use super::TikTokConnector;
use crate::connectors::{ApplyBatch, ConnectorError, IdRef, OpAction, OpError, OpOutcome, Operation, NAME_FIELD};
use crate::model::{value_fingerprint, Account, Address, Kind, Value};

/// The id a create's answer carries under one of `keys` (a string or a number, never through a float).
pub fn created_id(data: &RawValue, keys: &[&str]) -> Option<String> {
    let v: HashMap<String, Box<RawValue>> = serde_json::from_str(data.get()).ok()?;
    keys.iter().find_map(|k| {
        let raw = v.get(*k)?;
        serde_json::from_str::<mapping::Id>(raw.get())
            .ok()
            .map(|i| i.0)
            .filter(|s| !s.is_empty())
    })
}

/// A `request_id` for `key`: 18 decimal digits of SHA-256 (an int64-sized number in text, TikTok's own style).
pub fn request_id_for(key: &str) -> String {
    let h = Sha256::digest(key.as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&h[..8]);
    let v = u64::from_be_bytes(n) % 1_000_000_000_000_000_000;
    format!("{v:018}")
}

/// The `request_id` of a create: the operation's identity and content, and the UTC day this process first sent
/// it (the same id for every resend of this run and of any run that day; a new one once the object may have
/// been deleted and is wanted again).
fn create_request_id(
    advertiser: &str,
    op: &Operation,
    parent: Option<&str>,
    fields: &BTreeMap<String, Value>,
) -> String {
    static FIRST_DAY: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let body = serde_json::to_string(fields).unwrap_or_default();
    let key = format!(
        "adsctl/tiktok/create/v1\n{advertiser}\n{}\n{}\n{}\n{body}",
        op.address,
        op.kind.as_str(),
        parent.unwrap_or("")
    );
    let day = FIRST_DAY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key.clone())
        .or_insert_with(|| chrono::Utc::now().format("%Y-%m-%d").to_string())
        .clone();
    request_id_for(&format!("{key}\n{day}"))
}

type Creative = serde_json::Map<String, serde_json::Value>;

/// What an ad operation writes besides its status.
enum AdWrite {
    /// A creative for the `ad/create/` of this ad group.
    Create(String, Creative),
    /// A creative for the `ad/update/` of this ad group.
    Update(String, Creative),
    Nothing,
}

/// What a status update sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Status {
    Enable,
    Disable,
    Delete,
}

impl Status {
    fn wire(self) -> &'static str {
        match self {
            Status::Enable => "ENABLE",
            Status::Disable => "DISABLE",
            Status::Delete => "DELETE",
        }
    }
}

fn status_path(kind: Kind) -> Option<(&'static str, &'static str)> {
    match kind {
        Kind::Campaign => Some(("campaign/status/update/", "campaign_ids")),
        Kind::AdGroup => Some(("adgroup/status/update/", "adgroup_ids")),
        Kind::Ad => Some(("ad/status/update/", "ad_ids")),
        _ => None,
    }
}

/// One apply (or validation) of a batch.
struct Run<'a> {
    conn: &'a TikTokConnector,
    ops: &'a [Operation],
    validate: bool,
    out: Vec<Option<OpOutcome>>,
    /// The platform id of each operation's object (a create's new id once made).
    ids: Vec<Option<String>>,
    /// Status changes to send: (kind, status) → operations.
    statuses: BTreeMap<(u8, Status), Vec<usize>>,
}

fn failed(e: OpError) -> Option<OpOutcome> {
    Some(OpOutcome::Failed(e))
}

fn unknown_outcome(e: &CallError, account: &str) -> OpError {
    let mut op = e.to_op_error(account);
    op.code = "outcome_unknown".into();
    op.message = format!(
        "{}; it may have been made, and it was not found, so it was not sent again",
        op.message
    );
    op.hint = Some("run apply again: the next plan finds the object if it was made, and creates it otherwise".into());
    op
}

fn kind_rank(k: Kind) -> u8 {
    match k {
        Kind::Audience => 0,
        Kind::LookalikeAudience => 1,
        Kind::Campaign => 2,
        Kind::AdGroup => 3,
        Kind::Ad => 4,
        _ => 5,
    }
}

fn kind_of_rank(r: u8) -> Kind {
    match r {
        0 => Kind::Audience,
        1 => Kind::LookalikeAudience,
        2 => Kind::Campaign,
        3 => Kind::AdGroup,
        _ => Kind::Ad,
    }
}

pub async fn run(
    conn: &TikTokConnector,
    account: &Account,
    batch: &ApplyBatch,
    validate: bool,
) -> Result<Vec<OpOutcome>, ConnectorError> {
    let n = batch.ops.len();
    let mut r = Run {
        conn,
        ops: &batch.ops,
        validate,
        out: vec![None; n],
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
        statuses: BTreeMap::new(),
    };
    let _ = account;
    for k in [Kind::Audience, Kind::LookalikeAudience, Kind::Campaign, Kind::AdGroup] {
        r.writes_of(k).await?;
    }
    r.ads().await?;
    r.send_statuses().await?;
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
    fn account(&self) -> &str {
        &self.conn.client.account_name
    }
    fn advertiser(&self) -> &str {
        &self.conn.client.advertiser_id
    }
    fn body(&self) -> Body {
        let mut b = Body::new();
        b.put("advertiser_id", self.advertiser());
        b
    }

    /// The platform id an `IdRef` stands for, once known.
    fn resolve(&self, r: &IdRef) -> Option<String> {
        match r {
            IdRef::Known(s) => Some(s.clone()),
            IdRef::Pending(i) => self.ids.get(*i).cloned().flatten(),
        }
    }

    fn resolver<'s>(&'s self, op: &'s Operation) -> impl Fn(&Address) -> Option<String> + 's {
        move |a: &Address| op.refs.get(a).and_then(|r| self.resolve(r))
    }

    /// The parent's id, or the reason the operation cannot run.
    fn parent_id(&self, i: usize) -> Result<String, OpOutcome> {
        let op = &self.ops[i];
        match &op.parent {
            Some(p) => self.resolve(p).ok_or_else(|| match p {
                IdRef::Pending(j) => OpOutcome::Skipped {
                    reason: format!("{} did not succeed", self.ops[*j].address),
                },
                IdRef::Known(_) => OpOutcome::Skipped {
                    reason: "its parent has no id".into(),
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

    /// Operations of one kind, in batch order, that are still open.
    fn open(&self, kind: Kind) -> Vec<usize> {
        (0..self.ops.len())
            .filter(|&i| self.ops[i].kind == kind && self.out[i].is_none())
            .collect()
    }

    /// A dependency of `i` (a pending reference) that did not succeed.
    fn failed_dependency(&self, i: usize) -> Option<String> {
        let op = &self.ops[i];
        let pending = op.parent.iter().chain(op.refs.values()).filter_map(|r| match r {
            IdRef::Pending(j) => Some(*j),
            IdRef::Known(_) => None,
        });
        for j in pending {
            if !self.validate && self.ids.get(j).cloned().flatten().is_none() {
                return Some(format!("{} did not succeed", self.ops[j].address));
            }
            if matches!(
                self.out.get(j),
                Some(Some(OpOutcome::Failed(_) | OpOutcome::Skipped { .. }))
            ) {
                return Some(format!("{} did not succeed", self.ops[j].address));
            }
        }
        None
    }

    fn queue_status(&mut self, i: usize, s: Status) {
        self.statuses
            .entry((kind_rank(self.ops[i].kind), s))
            .or_default()
            .push(i);
    }

    fn status_of(v: &Value) -> Option<Status> {
        match v.as_str()?.to_ascii_lowercase().as_str() {
            "enable" => Some(Status::Enable),
            "disable" => Some(Status::Disable),
            _ => None,
        }
    }

    // ------------------------------------------------------------------------------------------ campaigns …

    /// Creates, updates and adoptions of campaigns, ad groups, audiences and lookalikes (ads: [`Run::ads`]).
    async fn writes_of(&mut self, kind: Kind) -> Result<(), ConnectorError> {
        for i in self.open(kind) {
            if let Some(reason) = self.failed_dependency(i) {
                self.out[i] = Some(OpOutcome::Skipped { reason });
                continue;
            }
            let res = match &self.ops[i].action {
                OpAction::Create { fields } => self.create(i, fields).await,
                OpAction::Update { id, set, before } => self.update(i, id, set, before).await,
                OpAction::Adopt { id } => self.adopt(i, id).await,
                OpAction::Pause { .. } => {
                    if matches!(kind, Kind::Audience | Kind::LookalikeAudience) {
                        self.out[i] = Some(OpOutcome::Skipped {
                            reason: "TikTok audiences cannot be paused; left as they are".into(),
                        });
                    } else {
                        self.queue_status(i, Status::Disable);
                    }
                    Ok(())
                }
                OpAction::Remove { .. } => Ok(()),
            };
            if let Err(o) = res {
                self.out[i] = Some(o);
            }
        }
        Ok(())
    }

    fn mapping_failed(e: MappingError) -> OpOutcome {
        OpOutcome::Failed(e.to_op_error())
    }

    async fn create(&mut self, i: usize, fields: &BTreeMap<String, Value>) -> Result<(), OpOutcome> {
        let ops = self.ops;
        let op = &ops[i];
        match op.kind {
            Kind::Campaign => {
                let name = mapping::checked_name(&op.address, Kind::Campaign, None).map_err(Self::mapping_failed)?;
                let mut b = mapping::campaign_create(&name, fields).map_err(Self::mapping_failed)?;
                if fields.get("budget_optimize_on").and_then(Value::as_bool) == Some(true) {
                    // TikTok wants the optimisation goal on a CBO campaign: its ad groups' (same hand-over).
                    let goal = self.ops.iter().find_map(|o| match (&o.action, &o.parent) {
                        (OpAction::Create { fields }, Some(IdRef::Pending(p)))
                            if *p == i && o.kind == Kind::AdGroup =>
                        {
                            fields
                                .get("optimization_goal")
                                .and_then(|v| v.as_str())
                                .map(str::to_ascii_uppercase)
                        }
                        _ => None,
                    });
                    if let Some(g) = goal {
                        b.put("optimization_goal", &g);
                    }
                }
                if self.validate {
                    return Ok(());
                }
                b.put("advertiser_id", self.advertiser());
                b.put("request_id", &create_request_id(self.advertiser(), op, None, fields));
                let id = self
                    .create_idempotent(i, "campaign/create/", &b, &["campaign_id"], &name, None)
                    .await?;
                self.ids[i] = Some(id);
                Ok(())
            }
            Kind::AdGroup => {
                let name = mapping::checked_name(&op.address, Kind::AdGroup, None).map_err(Self::mapping_failed)?;
                let mut b = {
                    let resolve = self.resolver(op);
                    if self.validate {
                        let placeholder = |_: &Address| Some("0".to_string());
                        mapping::adgroup_create(&name, fields, &placeholder)
                    } else {
                        mapping::adgroup_create(&name, fields, &resolve)
                    }
                }
                .map_err(Self::mapping_failed)?;
                if self.validate {
                    return Ok(());
                }
                let campaign = self.parent_id(i)?;
                b.put("advertiser_id", self.advertiser());
                b.put("campaign_id", &campaign);
                b.put(
                    "request_id",
                    &create_request_id(self.advertiser(), op, Some(&campaign), fields),
                );
                let id = self
                    .create_idempotent(i, "adgroup/create/", &b, &["adgroup_id"], &name, Some(&campaign))
                    .await?;
                self.ids[i] = Some(id);
                Ok(())
            }
            Kind::Audience => self.create_audience(i, fields).await,
            Kind::LookalikeAudience => {
                let name =
                    mapping::checked_name(&op.address, Kind::LookalikeAudience, None).map_err(Self::mapping_failed)?;
                let spec = {
                    let resolve = self.resolver(op);
                    if self.validate {
                        let placeholder = |_: &Address| Some("0".to_string());
                        mapping::lookalike_spec(fields, &placeholder)
                    } else {
                        mapping::lookalike_spec(fields, &resolve)
                    }
                }
                .map_err(Self::mapping_failed)?;
                if self.validate {
                    return Ok(());
                }
                let mut b = self.body();
                b.put("custom_audience_name", &name);
                b.put("lookalike_spec", &spec);
                let id = self
                    .create_once(i, "dmp/custom_audience/lookalike/create/", &b, &name)
                    .await?;
                self.ids[i] = Some(id);
                Ok(())
            }
            other => Err(OpOutcome::Failed(OpError {
                code: "unsupported".into(),
                message: format!("TikTok has no {}", other.as_str()),
                field: None,
                hint: None,
            })),
        }
    }

    /// A create carrying a `request_id`: the client sends it again after server errors and lost answers; a repeat
    /// answered "duplicated request" (40050), or an answer that never came, is looked up by name.
    async fn create_idempotent(
        &self,
        i: usize,
        path: &str,
        body: &Body,
        keys: &[&str],
        name: &str,
        parent: Option<&str>,
    ) -> Result<String, OpOutcome> {
        let acct = self.account().to_string();
        let mut answer = self.conn.client.post(path, body, Retry::All).await;
        if let Ok(data) = &answer {
            if answered_deleted(data) {
                // The request_id was used before for an object since deleted (the same create wanted again the
                // same day): TikTok answered that object. A fresh request_id makes a new one.
                let mut fresh = body.clone();
                let old = body.get("request_id").unwrap_or_default().to_string();
                fresh.put(
                    "request_id",
                    &request_id_for(&format!("{old}|after-delete|{:016x}", fastrand::u64(..))),
                );
                tracing::info!(address = %self.ops[i].address, "tiktok: the request_id named a deleted object; sending a fresh one");
                answer = self.conn.client.post(path, &fresh, Retry::All).await;
            }
        }
        match answer {
            Ok(data) => created_id(&data, keys).ok_or_else(|| {
                OpOutcome::Failed(OpError {
                    code: "decode".into(),
                    message: format!("{path} answered without {}", keys.join(" or ")),
                    field: None,
                    hint: None,
                })
            }),
            Err(e) if e.outcome_unknown() || e.api().is_some_and(|a| a.code == 40050) => {
                match self.look_up(self.ops[i].kind, name, parent).await {
                    Ok(Some(id)) => {
                        tracing::info!(address = %self.ops[i].address, "tiktok: found the object a lost answer had created");
                        Ok(id)
                    }
                    Ok(None) if e.answered() && !e.outcome_unknown() => Err(OpOutcome::Failed(e.to_op_error(&acct))),
                    Ok(None) => Err(OpOutcome::Failed(unknown_outcome(&e, &acct))),
                    Err(le) => Err(OpOutcome::Failed(unknown_outcome(&le, &acct))),
                }
            }
            Err(e) => Err(OpOutcome::Failed(self.op_error(&e))),
        }
    }

    /// A create TikTok cannot deduplicate (audiences, lookalikes): a server error or a lost answer is looked up
    /// by name; sent again only when TikTok answered and the object is not there.
    async fn create_once(&self, i: usize, path: &str, body: &Body, name: &str) -> Result<String, OpOutcome> {
        let acct = self.account().to_string();
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.conn.client.post(path, body, Retry::RefusedOnly).await {
                Ok(data) => {
                    return created_id(&data, &["custom_audience_id", "audience_id"]).ok_or_else(|| {
                        OpOutcome::Failed(OpError {
                            code: "decode".into(),
                            message: format!("{path} answered without custom_audience_id"),
                            field: None,
                            hint: None,
                        })
                    })
                }
                Err(e) if e.outcome_unknown() => match self.look_up(self.ops[i].kind, name, None).await {
                    Ok(Some(id)) => return Ok(id),
                    Ok(None) if e.answered() && attempts <= self.conn.client.cfg.max_retries => continue,
                    Ok(None) if e.answered() => return Err(OpOutcome::Failed(self.op_error(&e))),
                    Ok(None) => return Err(OpOutcome::Failed(unknown_outcome(&e, &acct))),
                    Err(le) => return Err(OpOutcome::Failed(unknown_outcome(&le, &acct))),
                },
                Err(e) => return Err(OpOutcome::Failed(self.op_error(&e))),
            }
        }
    }

    fn op_error(&self, e: &CallError) -> OpError {
        let mut op = e.to_op_error(self.account());
        if e.api()
            .is_some_and(|a| a.message.contains("being processed") || a.message.contains("processing"))
        {
            op.hint =
                Some("TikTok is still processing the audience (this can take hours): run apply again later".into());
        }
        op
    }

    /// The id of a live object of `kind` whose name on TikTok is `name` (under `parent`), looked for a few
    /// times with growing pauses (a read can lag behind a write).
    async fn look_up(&self, kind: Kind, name: &str, parent: Option<&str>) -> Result<Option<String>, CallError> {
        let cfg = &self.conn.client.cfg;
        let mut delay = cfg.lookup_delay;
        for attempt in 0..cfg.lookup_attempts.max(1) {
            if attempt > 0 || !delay.is_zero() {
                crate::connectors::wait::announce("TikTok: before looking up an unanswered create", delay);
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            if let Some(id) = self.find(kind, name, parent).await? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    async fn find(&self, kind: Kind, name: &str, parent: Option<&str>) -> Result<Option<String>, CallError> {
        #[derive(serde::Deserialize)]
        struct Row {
            #[serde(default)]
            campaign_id: Option<mapping::Id>,
            #[serde(default)]
            adgroup_id: Option<mapping::Id>,
            #[serde(default)]
            ad_id: Option<mapping::Id>,
            #[serde(default)]
            campaign_name: Option<String>,
            #[serde(default)]
            adgroup_name: Option<String>,
            #[serde(default)]
            ad_name: Option<String>,
        }
        let c = self.conn;
        type IdOf = fn(&Row) -> Option<(&mapping::Id, &String)>;
        let (path, filter, id_of): (&str, serde_json::Value, IdOf) = match kind {
            Kind::Campaign => (
                super::read::CAMPAIGN_GET,
                serde_json::json!({ "campaign_name": name }),
                |r| Some((r.campaign_id.as_ref()?, r.campaign_name.as_ref()?)),
            ),
            Kind::AdGroup => (
                super::read::ADGROUP_GET,
                serde_json::json!({ "campaign_ids": [parent.unwrap_or_default()] }),
                |r| Some((r.adgroup_id.as_ref()?, r.adgroup_name.as_ref()?)),
            ),
            Kind::Ad => (
                super::read::AD_GET,
                serde_json::json!({ "adgroup_ids": [parent.unwrap_or_default()] }),
                |r| Some((r.ad_id.as_ref()?, r.ad_name.as_ref()?)),
            ),
            _ => {
                let (base, _) = mapping::split_name(name);
                let found = c.audiences().await?.into_iter().find(|a| {
                    a.live_name()
                        .map(mapping::split_name)
                        .is_some_and(|(n, m)| n == base && m.is_some())
                });
                return Ok(found.and_then(|a| a.id()));
            }
        };
        let rows = c.list(path, Some(filter)).await?;
        let rows: Vec<Row> = super::read::decode(&rows, kind.as_str())?;
        Ok(rows
            .iter()
            .filter_map(id_of)
            .find(|(_, n)| n.as_str() == name)
            .map(|(id, _)| id.0.clone()))
    }

    async fn update(
        &mut self,
        i: usize,
        id: &str,
        set: &BTreeMap<String, Value>,
        before: &BTreeMap<String, Value>,
    ) -> Result<(), OpOutcome> {
        let op = &self.ops[i];
        if let Some(s) = set.get("status") {
            if matches!(op.kind, Kind::Campaign | Kind::AdGroup | Kind::Ad) {
                let st = Self::status_of(s)
                    .ok_or_else(|| Self::mapping_failed(MappingError::new("status", "must be enable or disable")))?;
                self.queue_status(i, st);
            }
        }
        let op = &self.ops[i];
        // A rename is the marked new name in the object's own update (`campaign_name`, `adgroup_name`).
        let renamed = set.contains_key(NAME_FIELD);
        let without_name;
        let set = if renamed {
            without_name = set
                .iter()
                .filter(|(k, _)| k.as_str() != NAME_FIELD)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>();
            &without_name
        } else {
            set
        };
        let name = |key: &str, b: Option<Body>| -> Result<Option<Body>, OpOutcome> {
            if !renamed {
                return Ok(b);
            }
            let mut b = b.unwrap_or_default();
            let n = mapping::checked_name(&op.address, op.kind, None).map_err(Self::mapping_failed)?;
            b.put(key, &n);
            Ok(Some(b))
        };
        let (path, body) = match op.kind {
            Kind::Campaign => {
                match name(
                    "campaign_name",
                    mapping::campaign_update(set).map_err(Self::mapping_failed)?,
                )? {
                    Some(mut b) => {
                        b.put("campaign_id", id);
                        ("campaign/update/", b)
                    }
                    None => return Ok(()),
                }
            }
            Kind::AdGroup => {
                let resolve = self.resolver(op);
                let placeholder = |_: &Address| Some("0".to_string());
                let r: &dyn Fn(&Address) -> Option<String> = if self.validate { &placeholder } else { &resolve };
                match name(
                    "adgroup_name",
                    mapping::adgroup_update(set, r).map_err(Self::mapping_failed)?,
                )? {
                    Some(mut b) => {
                        b.put("adgroup_id", id);
                        ("adgroup/update/", b)
                    }
                    None => return Ok(()),
                }
            }
            // a rename alone: the marked new name, keeping the members' fingerprint; with new members, the name
            // goes with them in the same call
            Kind::Audience if renamed && set.is_empty() => return self.rename_audience(i, id).await,
            Kind::Audience => return self.update_members(i, id, set, before).await,
            Kind::LookalikeAudience if renamed && set.is_empty() => return self.rename_audience(i, id).await,
            Kind::LookalikeAudience => {
                return Err(Self::mapping_failed(
                    MappingError::new("origin", "a TikTok lookalike cannot change after it is created")
                        .with_hint("the plan should replace it"),
                ))
            }
            _ => return Ok(()),
        };
        if self.validate {
            return Ok(());
        }
        let mut body = body;
        body.put("advertiser_id", self.advertiser());
        self.conn
            .client
            .post(path, &body, Retry::All)
            .await
            .map_err(|e| OpOutcome::Failed(self.op_error(&e)))?;
        Ok(())
    }

    async fn adopt(&mut self, i: usize, id: &str) -> Result<(), OpOutcome> {
        let op = &self.ops[i];
        let name = mapping::checked_name(&op.address, op.kind, None).map_err(Self::mapping_failed)?;
        let (path, key, name_key) = match op.kind {
            Kind::Campaign => ("campaign/update/", "campaign_id", "campaign_name"),
            Kind::AdGroup => ("adgroup/update/", "adgroup_id", "adgroup_name"),
            Kind::Audience | Kind::LookalikeAudience => (
                "dmp/custom_audience/update/",
                "custom_audience_id",
                "custom_audience_name",
            ),
            _ => return Ok(()),
        };
        if self.validate {
            return Ok(());
        }
        let mut b = self.body();
        b.put(key, id);
        b.put(name_key, &name);
        self.conn
            .client
            .post(path, &b, Retry::All)
            .await
            .map_err(|e| OpOutcome::Failed(self.op_error(&e)))?;
        Ok(())
    }

    // ------------------------------------------------------------------------------------------ audiences

    /// Upload members as a file (one SHA-256 hex a line; `file_signature` is the file's MD5) → `file_path`.
    async fn upload(&self, calculate_type: &str, members: &[String]) -> Result<String, OpOutcome> {
        let mut file = String::with_capacity(members.len() * 65);
        for m in members {
            file.push_str(m);
            file.push('\n');
        }
        let signature = hex::encode(Md5::digest(file.as_bytes()));
        let data = self
            .conn
            .client
            .post_multipart(
                "dmp/custom_audience/file/upload/",
                &[
                    ("advertiser_id", self.advertiser()),
                    ("calculate_type", calculate_type),
                    ("file_signature", &signature),
                ],
                ("file", "members.txt", file.as_bytes()),
                // an upload only stores a file: sending it again is harmless
                Retry::All,
            )
            .await
            .map_err(|e| OpOutcome::Failed(self.op_error(&e)))?;
        created_id(&data, &["file_path"]).ok_or_else(|| {
            OpOutcome::Failed(OpError {
                code: "decode".into(),
                message: "the file upload answered without file_path".into(),
                field: None,
                hint: None,
            })
        })
    }

    async fn create_audience(&mut self, i: usize, fields: &BTreeMap<String, Value>) -> Result<(), OpOutcome> {
        let op = &self.ops[i];
        let (calc, retention) = mapping::audience_create_fields(fields).map_err(Self::mapping_failed)?;
        let members = mapping::members_of(fields.get("members")).map_err(Self::mapping_failed)?;
        if members.is_empty() {
            return Err(Self::mapping_failed(
                MappingError::new(
                    "members",
                    "TikTok makes a customer-file audience from a file of members: it needs at least one",
                )
                .with_hint("list the audience's members"),
            ));
        }
        let fp = fields.get("members").map(value_fingerprint);
        let name = mapping::checked_name(&op.address, Kind::Audience, fp.as_deref()).map_err(Self::mapping_failed)?;
        if self.validate {
            return Ok(());
        }
        let path = self.upload(&calc, &members).await?;
        let mut b = self.body();
        b.put("custom_audience_name", &name);
        b.put("calculate_type", &calc);
        b.put("file_paths", &[path]);
        if let Some(d) = retention {
            b.put("retention_in_days", &d);
        }
        let id = self.create_once(i, "dmp/custom_audience/create/", &b, &name).await?;
        self.ids[i] = Some(id);
        Ok(())
    }

    /// A new name for an audience or lookalike: `custom_audience_name` alone in `dmp/custom_audience/update/`,
    /// marked, with the fingerprint its name read back carries (members unchanged).
    async fn rename_audience(&mut self, i: usize, id: &str) -> Result<(), OpOutcome> {
        let op = &self.ops[i];
        let live = self.conn.cache().names.get(id).cloned();
        let fp = live.as_deref().and_then(|n| mapping::split_name(n).1.flatten());
        let name = mapping::checked_name(&op.address, op.kind, fp.as_deref()).map_err(Self::mapping_failed)?;
        if self.validate {
            return Ok(());
        }
        let mut b = self.body();
        b.put("custom_audience_id", id);
        b.put("custom_audience_name", &name);
        self.conn
            .client
            .post("dmp/custom_audience/update/", &b, Retry::All)
            .await
            .map_err(|e| OpOutcome::Failed(self.op_error(&e)))?;
        Ok(())
    }

    /// New members: APPEND or REMOVE when what the audience holds is known and only one direction changes,
    /// REPLACE otherwise; the name takes the new fingerprint in the same call.
    async fn update_members(
        &mut self,
        i: usize,
        id: &str,
        set: &BTreeMap<String, Value>,
        before: &BTreeMap<String, Value>,
    ) -> Result<(), OpOutcome> {
        let op = &self.ops[i];
        for k in set.keys() {
            if k != "members" {
                return Err(Self::mapping_failed(
                    MappingError::new(
                        k,
                        "cannot change after the audience is created (dmp/custom_audience/update/ does not take it)",
                    )
                    .with_hint("the plan should replace the audience"),
                ));
            }
        }
        let Some(mv) = set.get("members") else { return Ok(()) };
        let new = mapping::members_of(Some(mv)).map_err(Self::mapping_failed)?;
        let fp = value_fingerprint(mv);
        let name = mapping::checked_name(&op.address, Kind::Audience, Some(&fp)).map_err(Self::mapping_failed)?;
        let (action, upload) = match before.get("members") {
            Some(old) => {
                let old = mapping::members_of(Some(old)).map_err(Self::mapping_failed)?;
                let (o, n): (HashSet<&String>, HashSet<&String>) = (old.iter().collect(), new.iter().collect());
                let adds: Vec<String> = new.iter().filter(|m| !o.contains(m)).cloned().collect();
                let removes: Vec<String> = old.iter().filter(|m| !n.contains(m)).cloned().collect();
                match (adds.is_empty(), removes.is_empty()) {
                    (false, true) => ("APPEND", adds),
                    (true, false) => ("REMOVE", removes),
                    _ => ("REPLACE", new.clone()),
                }
            }
            None => ("REPLACE", new.clone()),
        };
        if upload.is_empty() {
            return Err(Self::mapping_failed(
                MappingError::new("members", "TikTok cannot empty a customer-file audience")
                    .with_hint("remove the audience instead"),
            ));
        }
        if self.validate {
            return Ok(());
        }
        let calc = self
            .conn
            .cache()
            .audience_calc
            .get(id)
            .cloned()
            .unwrap_or_else(|| "EMAIL_SHA256".to_string());
        let path = self.upload(&calc, &upload).await?;
        let mut b = self.body();
        b.put("custom_audience_id", id);
        b.put("custom_audience_name", &name);
        b.put("file_paths", &[path]);
        b.put("action", action);
        self.conn
            .client
            .post("dmp/custom_audience/update/", &b, Retry::All)
            .await
            .map_err(|e| OpOutcome::Failed(self.op_error(&e)))?;
        Ok(())
    }

    // ------------------------------------------------------------------------------------------ ads

    /// New ads: one `ad/create/` per ad group (up to 20 creatives); changed and adopted ads: one `ad/update/` per
    /// ad group.
    async fn ads(&mut self) -> Result<(), ConnectorError> {
        let mut creates: BTreeMap<String, Vec<(usize, Creative)>> = BTreeMap::new();
        let mut updates: BTreeMap<String, Vec<(usize, Creative)>> = BTreeMap::new();
        for i in self.open(Kind::Ad) {
            if let Some(reason) = self.failed_dependency(i) {
                self.out[i] = Some(OpOutcome::Skipped { reason });
                continue;
            }
            match self.plan_ad(i) {
                Ok(AdWrite::Create(group, c)) => creates.entry(group).or_default().push((i, c)),
                Ok(AdWrite::Update(group, c)) => updates.entry(group).or_default().push((i, c)),
                Ok(AdWrite::Nothing) => {}
                Err(o) => self.out[i] = Some(o),
            }
        }
        if self.validate {
            return Ok(());
        }
        for (group, items) in creates {
            for chunk in items.chunks(MAX_CREATIVES_PER_CALL) {
                self.create_ads(&group, chunk.to_vec()).await;
            }
        }
        for (group, items) in updates {
            for chunk in items.chunks(MAX_CREATIVES_PER_CALL) {
                let mut b = self.body();
                b.put("adgroup_id", &group);
                b.put("patch_update", &true);
                let creatives: Vec<&serde_json::Map<String, serde_json::Value>> =
                    chunk.iter().map(|(_, c)| c).collect();
                b.put("creatives", &creatives);
                if let Err(e) = self.conn.client.post("ad/update/", &b, Retry::All).await {
                    let err = self.op_error(&e);
                    for (i, _) in chunk {
                        self.out[*i] = failed(err.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// What one ad operation sends: a creative for `ad/create/` or `ad/update/` of its ad group (statuses are
    /// queued).
    fn plan_ad(&mut self, i: usize) -> Result<AdWrite, OpOutcome> {
        let op = &self.ops[i];
        let (id, set) = match &op.action {
            OpAction::Create { fields } => {
                let name = mapping::checked_name(&op.address, Kind::Ad, None).map_err(Self::mapping_failed)?;
                let mut c = mapping::creative(fields, true).map_err(Self::mapping_failed)?;
                c.insert("ad_name".into(), name.into());
                let group = if self.validate {
                    String::new()
                } else {
                    self.parent_id(i)?
                };
                return Ok(AdWrite::Create(group, c));
            }
            OpAction::Pause { .. } => {
                self.queue_status(i, Status::Disable);
                return Ok(AdWrite::Nothing);
            }
            OpAction::Remove { .. } => return Ok(AdWrite::Nothing),
            OpAction::Update { id, set, .. } => (id.clone(), set.clone()),
            OpAction::Adopt { id } => (id.clone(), BTreeMap::new()),
        };
        let adopt = matches!(op.action, OpAction::Adopt { .. });
        // a rename is the creative's `ad_name`, which every update sends (the operation's address has the new name)
        let renamed = set.contains_key(NAME_FIELD);
        let changed: BTreeMap<String, Value> = set
            .iter()
            .filter(|(k, _)| *k != "status" && k.as_str() != NAME_FIELD)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(s) = set.get("status") {
            let st = Self::status_of(s)
                .ok_or_else(|| Self::mapping_failed(MappingError::new("status", "must be enable or disable")))?;
            self.queue_status(i, st);
        }
        if changed.is_empty() && !adopt && !renamed {
            return Ok(AdWrite::Nothing);
        }
        let op = &self.ops[i];
        // validate the changes alone, then send the whole creative as read with the changes over it
        mapping::creative(&changed, false).map_err(Self::mapping_failed)?;
        let name = mapping::checked_name(&op.address, Kind::Ad, None).map_err(Self::mapping_failed)?;
        let cached = self.conn.cache().ads.get(&id).cloned();
        let mut all = cached.as_ref().map(|c| c.fields.clone()).unwrap_or_default();
        all.extend(changed.clone());
        let mut c = mapping::creative(&all, false)
            .or_else(|_| mapping::creative(&changed, false))
            .map_err(Self::mapping_failed)?;
        c.insert("ad_id".into(), id.clone().into());
        c.insert("ad_name".into(), name.into());
        let group = match (self.validate, &op.parent) {
            (true, _) => String::new(),
            (false, Some(_)) => self.parent_id(i)?,
            (false, None) => cached.map(|c| c.adgroup_id).ok_or_else(|| {
                OpOutcome::Failed(OpError {
                    code: "no_parent".into(),
                    message: format!("{}: its ad group is unknown", op.address),
                    field: None,
                    hint: Some("run `adsctl plan` again".into()),
                })
            })?,
        };
        Ok(AdWrite::Update(group, c))
    }

    /// One `ad/create/` for several ads of one ad group. A creative TikTok names in its error fails alone and the
    /// others are sent again; a lost answer is looked up by name.
    async fn create_ads(&mut self, group: &str, mut items: Vec<(usize, serde_json::Map<String, serde_json::Value>)>) {
        let acct = self.account().to_string();
        let mut resends = 0;
        while !items.is_empty() {
            let mut b = self.body();
            b.put("adgroup_id", group);
            let creatives: Vec<&serde_json::Map<String, serde_json::Value>> = items.iter().map(|(_, c)| c).collect();
            b.put("creatives", &creatives);
            let name_of = |c: &serde_json::Map<String, serde_json::Value>| {
                c.get("ad_name")
                    .and_then(|n| n.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            match self.conn.client.post("ad/create/", &b, Retry::RefusedOnly).await {
                Ok(data) => {
                    let made = ad_ids(&data);
                    for (k, (i, c)) in items.iter().enumerate() {
                        let by_name = made.iter().find(|(_, n)| n.as_deref() == Some(name_of(c).as_str()));
                        let id = by_name.or_else(|| made.get(k)).map(|(id, _)| id.clone());
                        match id {
                            Some(id) => self.ids[*i] = Some(id),
                            None => {
                                self.out[*i] = failed(OpError {
                                    code: "decode".into(),
                                    message: "ad/create/ answered without this ad's id".into(),
                                    field: None,
                                    hint: Some("run `adsctl plan` again: the next read finds it if it was made".into()),
                                })
                            }
                        }
                    }
                    return;
                }
                Err(e) if e.outcome_unknown() => {
                    // look the ads up by name in their ad group
                    let mut left = Vec::new();
                    for (i, c) in items {
                        match self.look_up(Kind::Ad, &name_of(&c), Some(group)).await {
                            Ok(Some(id)) => self.ids[i] = Some(id),
                            Ok(None) if e.answered() && resends < self.conn.client.cfg.max_retries => left.push((i, c)),
                            Ok(None) if e.answered() => self.out[i] = failed(self.op_error(&e)),
                            Ok(None) => self.out[i] = failed(unknown_outcome(&e, &acct)),
                            Err(le) => self.out[i] = failed(unknown_outcome(&le, &acct)),
                        }
                    }
                    resends += 1;
                    items = left;
                }
                Err(e) => {
                    // a creative the message names fails alone; the others go again
                    let at = e
                        .api()
                        .and_then(|a| super::errors::field_of(&a.message))
                        .and_then(|f| f.strip_prefix("creatives[")?.split(']').next()?.parse::<usize>().ok())
                        .filter(|k| *k < items.len() && items.len() > 1);
                    match at {
                        Some(k) => {
                            let (i, _) = items.remove(k);
                            self.out[i] = failed(self.op_error(&e));
                        }
                        None => {
                            let err = self.op_error(&e);
                            for (i, _) in items {
                                self.out[i] = failed(err.clone());
                            }
                            return;
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ statuses

    /// One call for `ids`: a status update of `kind`, or (`status` None) the deletion of audiences.
    async fn ids_call(&self, kind: Kind, status: Option<Status>, ids: &[String]) -> Result<(), CallError> {
        let mut b = self.body();
        let path = match (status, status_path(kind)) {
            (Some(st), Some((path, key))) => {
                b.put(key, ids);
                b.put("operation_status", st.wire());
                path
            }
            _ => {
                b.put("custom_audience_ids", ids);
                "dmp/custom_audience/delete/"
            }
        };
        self.conn.client.post(path, &b, Retry::All).await.map(|_| ())
    }

    /// The operations' ids in calls of `max`; a call TikTok refuses is split to find which object it was about.
    /// A deletion answered "does not exist" / "has been deleted" (a resend after a lost answer, someone else's
    /// deletion) is done.
    async fn send_ids(
        &mut self,
        kind: Kind,
        status: Option<Status>,
        ops: Vec<usize>,
        max: usize,
    ) -> Result<(), ConnectorError> {
        let deleting = matches!(status, None | Some(Status::Delete));
        let gone = |e: &CallError| {
            deleting
                && e.api()
                    .is_some_and(|a| a.code == 40007 || (a.code == 40002 && a.message.contains("has been deleted")))
        };
        let ops: Vec<usize> = ops
            .into_iter()
            .filter(|i| !matches!(self.out[*i], Some(OpOutcome::Failed(_) | OpOutcome::Skipped { .. })))
            .collect();
        for chunk in ops.chunks(max) {
            let ids: Vec<String> = chunk.iter().filter_map(|i| self.ids[*i].clone()).collect();
            match self.ids_call(kind, status, &ids).await {
                Ok(()) => {}
                Err(CallError::Blocked(t)) => return Err(ConnectorError::Wait(t)),
                Err(e) if chunk.len() > 1 && e.api().is_some_and(|a| a.class() == ErrorClass::Permanent) => {
                    for &i in chunk {
                        let id = self.ids[i].clone().unwrap_or_default();
                        match self.ids_call(kind, status, &[id]).await {
                            Ok(()) => {}
                            Err(CallError::Blocked(t)) => return Err(ConnectorError::Wait(t)),
                            Err(e) if gone(&e) => {}
                            Err(e) => self.out[i] = failed(self.op_error(&e)),
                        }
                    }
                }
                Err(e) if gone(&e) => {}
                Err(e) => {
                    let err = self.op_error(&e);
                    for &i in chunk {
                        self.out[i] = failed(err.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// One status call per kind and status for every 20 ids.
    async fn send_statuses(&mut self) -> Result<(), ConnectorError> {
        let statuses = std::mem::take(&mut self.statuses);
        if self.validate {
            return Ok(());
        }
        for ((rank, status), ops) in statuses {
            self.send_ids(kind_of_rank(rank), Some(status), ops, MAX_STATUS_IDS)
                .await?;
        }
        Ok(())
    }

    /// Removals: ads, ad groups, campaigns (DELETE, children first: a deleted parent's children can no longer
    /// change), then lookalikes and audiences (`delete/`, by 100).
    async fn removals(&mut self) -> Result<(), ConnectorError> {
        for kind in [Kind::Ad, Kind::AdGroup, Kind::Campaign] {
            let open: Vec<usize> = self
                .open(kind)
                .into_iter()
                .filter(|&i| matches!(self.ops[i].action, OpAction::Remove { .. }))
                .collect();
            for i in &open {
                self.queue_status(*i, Status::Delete);
            }
            self.send_statuses().await?;
        }
        let mut audiences: Vec<usize> = self.open(Kind::LookalikeAudience);
        audiences.extend(self.open(Kind::Audience));
        audiences.retain(|&i| matches!(self.ops[i].action, OpAction::Remove { .. }));
        if self.validate {
            return Ok(());
        }
        self.send_ids(Kind::Audience, None, audiences, MAX_AUDIENCE_IDS).await?;
        Ok(())
    }
}

/// A create's answer that shows a deleted object (`primary_status` STATUS_DELETE, `secondary_status`
/// …_STATUS_DELETE): a `request_id` TikTok had already seen.
fn answered_deleted(data: &RawValue) -> bool {
    let Ok(v) = serde_json::from_str::<HashMap<String, Box<RawValue>>>(data.get()) else {
        return false;
    };
    ["primary_status", "secondary_status", "operation_status"]
        .iter()
        .any(|k| {
            v.get(*k)
                .and_then(|r| serde_json::from_str::<String>(r.get()).ok())
                .is_some_and(|s| s == "STATUS_DELETE" || s.ends_with("_STATUS_DELETE") || s == "DELETE")
        })
}

/// `ad/create/`'s answer: `ad_ids` in the order of `creatives`, and the creatives' names when the answer lists
/// them.
fn ad_ids(data: &RawValue) -> Vec<(String, Option<String>)> {
    #[derive(serde::Deserialize)]
    struct Made {
        #[serde(default)]
        ad_ids: Vec<mapping::Id>,
        #[serde(default)]
        creatives: Vec<MadeCreative>,
    }
    #[derive(serde::Deserialize)]
    struct MadeCreative {
        #[serde(default)]
        ad_id: Option<mapping::Id>,
        #[serde(default)]
        ad_name: Option<String>,
    }
    let Ok(m) = serde_json::from_str::<Made>(data.get()) else {
        return Vec::new();
    };
    let named: Vec<(String, Option<String>)> = m
        .creatives
        .into_iter()
        .filter_map(|c| Some((c.ad_id?.0, c.ad_name)))
        .collect();
    if !named.is_empty() {
        return named;
    }
    m.ad_ids.into_iter().map(|i| (i.0, None)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_stable_and_number_like() {
        let a = request_id_for("x");
        assert_eq!(a, request_id_for("x"));
        assert_ne!(a, request_id_for("y"));
        assert_eq!(a.len(), 18);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        let op = Operation {
            address: Address::account("tt").child(Kind::Campaign, "C"),
            kind: Kind::Campaign,
            action: OpAction::Create {
                fields: BTreeMap::new(),
            },
            parent: None,
            refs: BTreeMap::new(),
        };
        let f = BTreeMap::from([("objective_type".to_string(), Value::str("traffic"))]);
        let one = create_request_id("7", &op, None, &f);
        assert_eq!(
            one,
            create_request_id("7", &op, None, &f),
            "a resend carries the same request_id"
        );
        let g = BTreeMap::from([("objective_type".to_string(), Value::str("reach"))]);
        assert_ne!(one, create_request_id("7", &op, None, &g));
        assert_ne!(one, create_request_id("8", &op, None, &f));
    }

    #[test]
    fn create_answers_are_read() {
        let d = RawValue::from_string(r#"{"campaign_id":1800000000000000001}"#.into()).unwrap();
        assert_eq!(created_id(&d, &["campaign_id"]).as_deref(), Some("1800000000000000001"));
        let d = RawValue::from_string(
            r#"{"ad_ids":["1","2"],"creatives":[{"ad_id":"1","ad_name":"a"},{"ad_id":"2","ad_name":"b"}]}"#.into(),
        )
        .unwrap();
        assert_eq!(
            ad_ids(&d),
            vec![("1".into(), Some("a".into())), ("2".into(), Some("b".into()))]
        );
        let d = RawValue::from_string(r#"{"ad_ids":[3,4]}"#.into()).unwrap();
        assert_eq!(ad_ids(&d), vec![("3".into(), None), ("4".into(), None)]);
    }
}
