//! Writes. Campaigns: `batch/create` and `batch/update` (≤ 50, results matched by `hs_name` / id), budget and
//! spend items one by one, single `DELETE` confirmed by a re-read. Lists: create (MANUAL), rename, delete, members
//! (contacts upserted by email, then `memberships/add`; `memberships/remove` with the record ids the read saw).
//! Nothing here logs or returns an address.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;

use super::client::{seg, Api, CallError, Query, Retry, Verb};
use super::config::{MAX_CAMPAIGN_BATCH, MAX_MEMBERSHIP_IDS, MAX_OBJECT_BATCH, SPEND_ITEM_NAME};
use super::errors::ErrorClass;
use super::mapping::{budget_items, campaign_properties, item_body, member_hash, status_option, Totals};
use super::read::{list_by_name, totals};
use super::HubSpotConnector;
use crate::connectors::{ApplyBatch, ConnectorError, OpAction, OpError, OpOutcome, Operation};
use crate::model::{Account, Kind, Value};
use crate::platforms::shared::{marked_description, marked_name, split_description, MARKER};

type Props = BTreeMap<String, String>;

fn op_err(code: &str, message: impl Into<String>, field: Option<&str>) -> OpError {
    OpError {
        code: code.into(),
        message: message.into(),
        field: field.map(String::from),
        hint: None,
    }
}

/// A failure that stops the whole apply (credentials, the daily limit, a wait longer than allowed).
fn fatal(e: &CallError) -> bool {
    match e {
        CallError::Blocked(_) | CallError::Token { .. } => true,
        CallError::Api(a) => matches!(a.class(), ErrorClass::Auth | ErrorClass::Daily),
        _ => false,
    }
}

struct Run<'a> {
    c: &'a HubSpotConnector,
    out: Vec<Option<OpOutcome>>,
    options: Vec<String>,
}

impl Run<'_> {
    fn fail(&mut self, i: usize, e: OpError) {
        self.out[i] = Some(OpOutcome::Failed(e));
    }

    /// A call's error on operation `i`, or the whole apply's when it is fatal.
    fn call_failed(&mut self, i: usize, e: CallError) -> Result<(), ConnectorError> {
        if fatal(&e) {
            return Err(self.c.err(e));
        }
        let mut oe = e.op_error(&self.c.client().account_name);
        if e.outcome_unknown() {
            oe.code = "outcome_unknown".into();
        }
        self.fail(i, oe);
        Ok(())
    }

    fn done(&self, i: usize) -> bool {
        self.out[i].is_some()
    }

    fn applied(&mut self, i: usize, id: String) {
        self.out[i] = Some(OpOutcome::Applied { id });
    }

    fn status_of(&self) -> impl Fn(&str) -> Result<String, String> + '_ {
        move |s: &str| status_option(&self.options, s)
    }
}

fn fields_of(op: &Operation) -> Option<&BTreeMap<String, Value>> {
    match &op.action {
        OpAction::Create { fields } => Some(fields),
        OpAction::Update { set, .. } => Some(set),
        _ => None,
    }
}

fn members_of(v: Option<&Value>) -> BTreeSet<String> {
    match v {
        Some(Value::Set(s)) => s.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        Some(Value::List(s)) => s.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => BTreeSet::new(),
    }
}

/// The member hashes an operation adds and removes.
fn member_changes(op: &Operation) -> (Vec<String>, Vec<String>) {
    match &op.action {
        OpAction::Create { fields } => (members_of(fields.get("members")).into_iter().collect(), Vec::new()),
        OpAction::Update { set, before, .. } if set.contains_key("members") => {
            let want = members_of(set.get("members"));
            let had = members_of(before.get("members"));
            (
                want.difference(&had).cloned().collect(),
                had.difference(&want).cloned().collect(),
            )
        }
        _ => (Vec::new(), Vec::new()),
    }
}

/// What can be checked without HubSpot.
fn check(op: &Operation, options: &[String]) -> Result<(), OpError> {
    let Some(fields) = fields_of(op) else {
        return match (&op.kind, &op.action) {
            (Kind::Campaign, OpAction::Pause { .. }) => status_option(options, "paused")
                .map(|_| ())
                .map_err(|m| op_err("NO_PAUSED_STATUS", m, Some("status"))),
            (Kind::Campaign | Kind::Audience, _) => Ok(()),
            (k, _) => Err(op_err("UNSUPPORTED", format!("HubSpot has no {k:?} in adsctl"), None)),
        };
    };
    match op.kind {
        Kind::Campaign => {
            let mut f = fields.clone();
            if let OpAction::Create { .. } = op.action {
                if op.address.name().is_none_or(|n| n.trim().is_empty()) {
                    return Err(op_err("INVALID", "a campaign needs a name", Some("name")));
                }
            }
            if let Some(b) = f.remove("budget_items") {
                budget_items(&b).map_err(|m| op_err("INVALID", m, Some("budget_items")))?;
            }
            if let Some(s) = f.remove("spend") {
                match s.as_money() {
                    Some(m) if m.micros() >= 0 => {}
                    _ => return Err(op_err("INVALID", "spend must be a non-negative amount", Some("spend"))),
                }
            }
            campaign_properties(&f, &|s| status_option(options, s))
                .map(|_| ())
                .map_err(|(field, m)| op_err("INVALID", m, Some(&field)))
        }
        Kind::Audience => {
            if let Some(k) = fields.keys().find(|k| !matches!(k.as_str(), "members" | "name")) {
                return Err(op_err(
                    "INVALID",
                    format!("`{k}` is not a field of a HubSpot audience"),
                    Some(k),
                ));
            }
            let address = op.address.to_string();
            let (add, _) = member_changes(op);
            let missing = add
                .iter()
                .filter(|h| crate::connectors::clear::member(&address, h).is_none())
                .count();
            if missing > 0 {
                let first = add
                    .iter()
                    .find(|h| crate::connectors::clear::member(&address, h).is_none())
                    .map(|h| h.chars().take(12).collect::<String>())
                    .unwrap_or_default();
                return Err(OpError {
                    code: "NO_ADDRESS".into(),
                    message: format!(
                        "{missing} member(s) to add have no address filed for {address} (the first: hash {first}…): \
                         HubSpot takes addresses, and adsctl never guesses one"
                    ),
                    field: Some("members".into()),
                    hint: Some("the audience's customer file must list every member; run plan again".into()),
                });
            }
            Ok(())
        }
        k => Err(op_err("UNSUPPORTED", format!("HubSpot has no {k:?} in adsctl"), None)),
    }
}

pub async fn run(
    c: &HubSpotConnector,
    account: &Account,
    batch: &ApplyBatch,
    validate: bool,
) -> Result<Vec<OpOutcome>, ConnectorError> {
    let ops = &batch.ops;
    let needs_status = ops.iter().any(|op| {
        op.kind == Kind::Campaign
            && (matches!(op.action, OpAction::Pause { .. }) || fields_of(op).is_some_and(|f| f.contains_key("status")))
    });
    let options = if needs_status {
        c.status_options().await
    } else {
        Vec::new()
    };
    let mut r = Run {
        c,
        out: vec![None; ops.len()],
        options,
    };
    for (i, op) in ops.iter().enumerate() {
        if let Err(e) = check(op, &r.options) {
            r.fail(i, e);
        } else if validate {
            r.out[i] = Some(OpOutcome::Valid);
        }
    }
    if !validate {
        campaign_creates(&mut r, account, ops).await?;
        campaign_updates(&mut r, ops).await?;
        campaign_money(&mut r, ops).await?;
        campaign_removes(&mut r, ops).await?;
        for (i, op) in ops.iter().enumerate() {
            if op.kind == Kind::Audience && !r.done(i) {
                audience(&mut r, i, op).await?;
            }
        }
    }
    Ok(r.out
        .into_iter()
        .map(|o| {
            o.unwrap_or(OpOutcome::Failed(op_err(
                "INTERNAL",
                "the HubSpot connector did not carry out this operation",
                None,
            )))
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------------------------
// Campaigns

/// The create's properties: the marker in `hs_notes` even without notes, the account's currency.
fn create_props(r: &Run, op: &Operation, currency: &str) -> Result<Props, OpError> {
    let fields = fields_of(op).cloned().unwrap_or_default();
    let mut p = campaign_properties(&fields, &r.status_of()).map_err(|(f, m)| op_err("INVALID", m, Some(&f)))?;
    p.insert("hs_name".into(), op.address.name().unwrap_or_default().to_string());
    p.entry("hs_notes".into())
        .or_insert_with(|| marked_description(None, None));
    p.insert("hs_currency_code".into(), currency.to_string());
    Ok(p)
}

async fn campaign_creates(r: &mut Run<'_>, account: &Account, ops: &[Operation]) -> Result<(), ConnectorError> {
    let mut todo: Vec<(usize, Props)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if op.kind == Kind::Campaign && matches!(op.action, OpAction::Create { .. }) && !r.done(i) {
            match create_props(r, op, account.currency.code()) {
                Ok(p) => todo.push((i, p)),
                Err(e) => r.fail(i, e),
            }
        }
    }
    for chunk in todo.chunks(MAX_CAMPAIGN_BATCH) {
        let body = json!({"inputs": chunk.iter().map(|(_, p)| json!({"properties": p})).collect::<Vec<_>>()});
        let answer =
            r.c.client()
                .send_json(
                    Verb::Post,
                    Api::Campaigns,
                    "/batch/create",
                    &Query::new(),
                    &body.to_string(),
                    Retry::Refused,
                )
                .await;
        match answer {
            Ok(a) => {
                let v: serde_json::Value = a.json("campaigns/batch/create").map_err(|e| r.c.err(e))?;
                let by_name: HashMap<String, String> = v
                    .get("results")
                    .and_then(|x| x.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|res| {
                        let id = res.get("id")?.as_str()?.to_string();
                        let name = res.get("properties")?.get("hs_name")?.as_str()?.to_string();
                        Some((name, id))
                    })
                    .collect();
                for (i, p) in chunk {
                    match by_name.get(&p["hs_name"]) {
                        Some(id) => r.applied(*i, id.clone()),
                        // not in the answer: look for it before anything is sent again
                        None => create_one(r, *i, p, true).await?,
                    }
                }
            }
            Err(e) if fatal(&e) => return Err(r.c.err(e)),
            // the whole batch was refused (one bad input fails it): one at a time, so only the bad one fails
            Err(e) if !e.outcome_unknown() => {
                tracing::info!(error = %e, "hubspot: campaign batch refused; creating one at a time");
                for (i, p) in chunk {
                    create_one(r, *i, p, false).await?;
                }
            }
            Err(_) => {
                for (i, p) in chunk {
                    create_one(r, *i, p, true).await?;
                }
            }
        }
    }
    Ok(())
}

/// One campaign create. `lost`: an earlier send may have made it — look for it first.
async fn create_one(r: &mut Run<'_>, i: usize, p: &Props, mut lost: bool) -> Result<(), ConnectorError> {
    let name = p["hs_name"].clone();
    for _ in 0..2 {
        if lost {
            match find_campaign(r.c, &name).await {
                Ok(Some(id)) => {
                    r.applied(i, id);
                    return Ok(());
                }
                Ok(None) => {}
                Err(e) if fatal(&e) => return Err(r.c.err(e)),
                Err(_) => {
                    r.fail(
                        i,
                        op_err(
                            "outcome_unknown",
                            format!(
                                "the answer to creating campaign `{name}` was lost and looking for it failed: the \
                                 next run finds it or creates it"
                            ),
                            None,
                        ),
                    );
                    return Ok(());
                }
            }
        }
        let body = json!({"properties": p}).to_string();
        match r
            .c
            .client()
            .send_json(Verb::Post, Api::Campaigns, "", &Query::new(), &body, Retry::Refused)
            .await
        {
            Ok(a) => {
                let v: serde_json::Value = a.json("campaigns create").map_err(|e| r.c.err(e))?;
                match v.get("id").and_then(|x| x.as_str()) {
                    Some(id) => r.applied(i, id.to_string()),
                    None => r.fail(i, op_err("DECODE", "HubSpot's answer to a create has no id", None)),
                }
                return Ok(());
            }
            Err(e) if e.outcome_unknown() && !lost => lost = true,
            Err(e) => return r.call_failed(i, e),
        }
    }
    r.fail(
        i,
        op_err(
            "outcome_unknown",
            format!("creating campaign `{name}` got no answer twice: the next run finds it or creates it"),
            None,
        ),
    );
    Ok(())
}

/// adsctl's campaign named exactly `name` (the list's `name` filter, then an exact match with the marker).
pub async fn find_campaign(c: &HubSpotConnector, name: &str) -> Result<Option<String>, CallError> {
    let mut delay = c.client().cfg.lookup_delay;
    let attempts = c.client().cfg.lookup_attempts.max(1);
    let mut last = None;
    for n in 0..attempts {
        if n > 0 {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
        let q = Query::new().set("name", name).set("properties", "hs_name,hs_notes");
        match c.client().list_all(Api::Campaigns, "", q, 100).await {
            Ok(all) => {
                return Ok(all.iter().find_map(|x| {
                    let p = x.get("properties")?;
                    let marked = split_description(p.get("hs_notes")?.as_str()?).1.is_some();
                    (p.get("hs_name")?.as_str()? == name && marked).then(|| x.get("id")?.as_str().map(String::from))?
                }));
            }
            Err(e) if fatal(&e) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(CallError::Decode {
        message: "no look-up was made".into(),
    }))
}

async fn campaign_updates(r: &mut Run<'_>, ops: &[Operation]) -> Result<(), ConnectorError> {
    let mut todo: Vec<(usize, String, Props)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if op.kind != Kind::Campaign || r.done(i) {
            continue;
        }
        match &op.action {
            OpAction::Update { id, set, .. } => {
                let props = campaign_properties(set, &r.status_of());
                match props {
                    Ok(p) if p.is_empty() => {} // money only
                    Ok(p) => todo.push((i, id.clone(), p)),
                    Err((f, m)) => r.fail(i, op_err("INVALID", m, Some(&f))),
                }
            }
            OpAction::Pause { id } => match status_option(&r.options, "paused") {
                Ok(s) => todo.push((i, id.clone(), Props::from([("hs_campaign_status".into(), s)]))),
                Err(m) => r.fail(i, op_err("NO_PAUSED_STATUS", m, Some("status"))),
            },
            OpAction::Adopt { id } => {
                // the marker goes at the end of the notes it has
                let path = format!("/{}", seg(id));
                let q = Query::new().set("properties", "hs_notes");
                match r.c.client().get(Api::Campaigns, &path, &q).await {
                    Ok(a) => {
                        let v: serde_json::Value = a.json("campaign").map_err(|e| r.c.err(e))?;
                        let notes = v["properties"]["hs_notes"].as_str().unwrap_or("").to_string();
                        let (user, marker) = split_description(&notes);
                        if marker.is_some() {
                            r.applied(i, id.clone());
                        } else {
                            let _ = user;
                            let marked = marked_description(Some(notes.trim_end()), None);
                            todo.push((i, id.clone(), Props::from([("hs_notes".into(), marked)])));
                        }
                    }
                    Err(e) => r.call_failed(i, e)?,
                }
            }
            _ => {}
        }
    }
    for chunk in todo.chunks(MAX_CAMPAIGN_BATCH) {
        let body =
            json!({"inputs": chunk.iter().map(|(_, id, p)| json!({"id": id, "properties": p})).collect::<Vec<_>>()});
        let answer =
            r.c.client()
                .send_json(
                    Verb::Post,
                    Api::Campaigns,
                    "/batch/update",
                    &Query::new(),
                    &body.to_string(),
                    Retry::All,
                )
                .await;
        match answer {
            Ok(a) => {
                let v: serde_json::Value = a.json("campaigns/batch/update").map_err(|e| r.c.err(e))?;
                let ok: BTreeSet<String> = v
                    .get("results")
                    .and_then(|x| x.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.get("id").and_then(|i| i.as_str()).map(String::from))
                    .collect();
                let mut failed: HashMap<String, String> = HashMap::new();
                for e in v.get("errors").and_then(|x| x.as_array()).into_iter().flatten() {
                    let msg =
                        r.c.client()
                            .redact(e.get("message").and_then(|m| m.as_str()).unwrap_or("failed"));
                    let cat = e.get("category").and_then(|m| m.as_str()).unwrap_or("ERROR");
                    for id in e
                        .get("context")
                        .and_then(|c| c.get("ids"))
                        .and_then(|x| x.as_array())
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.as_str())
                    {
                        failed.insert(id.to_string(), format!("{cat}: {msg}"));
                    }
                }
                for (i, id, _) in chunk {
                    if ok.contains(id) {
                        // money (if any) follows; Applied is set once it is done
                        if !has_money(&ops[*i]) {
                            r.applied(*i, id.clone());
                        }
                    } else {
                        let m = failed
                            .get(id)
                            .cloned()
                            .unwrap_or_else(|| format!("HubSpot did not update campaign {id}"));
                        let code = if m.starts_with("OBJECT_NOT_FOUND") {
                            "OBJECT_NOT_FOUND"
                        } else {
                            "FAILED"
                        };
                        r.fail(*i, op_err(code, m, None));
                    }
                }
            }
            Err(e) if fatal(&e) => return Err(r.c.err(e)),
            Err(e) if !e.outcome_unknown() => {
                // refused as a whole: one at a time
                for (i, id, p) in chunk {
                    let path = format!("/{}", seg(id));
                    let body = json!({"properties": p}).to_string();
                    match r
                        .c
                        .client()
                        .send_json(Verb::Patch, Api::Campaigns, &path, &Query::new(), &body, Retry::All)
                        .await
                    {
                        Ok(_) if !has_money(&ops[*i]) => r.applied(*i, id.clone()),
                        Ok(_) => {}
                        Err(e) => r.call_failed(*i, e)?,
                    }
                }
            }
            Err(e) => {
                for (i, ..) in chunk {
                    r.call_failed(*i, clone_unknown(&e))?;
                }
            }
        }
    }
    Ok(())
}

fn clone_unknown(e: &CallError) -> CallError {
    CallError::Transport {
        url: "HubSpot".into(),
        message: e.to_string(),
    }
}

fn has_money(op: &Operation) -> bool {
    fields_of(op).is_some_and(|f| f.contains_key("budget_items") || f.contains_key("spend"))
}

/// Budget items and the spend item of created and updated campaigns.
async fn campaign_money(r: &mut Run<'_>, ops: &[Operation]) -> Result<(), ConnectorError> {
    for (i, op) in ops.iter().enumerate() {
        if op.kind != Kind::Campaign || !has_money(op) {
            continue;
        }
        // a campaign this run created has no items yet (its items are made after it, here): nothing to read
        let (id, fresh) = match (&op.action, &r.out[i]) {
            (OpAction::Create { .. }, Some(OpOutcome::Applied { id })) => (id.clone(), true),
            (OpAction::Update { id, .. }, None) => (id.clone(), false),
            _ => continue,
        };
        let fields = fields_of(op).cloned().unwrap_or_default();
        match sync_money(r.c, &id, &fields, fresh).await {
            Ok(()) => r.applied(i, id),
            Err(e) => {
                r.call_failed(i, e)?;
                if let Some(OpOutcome::Failed(oe)) = &mut r.out[i] {
                    oe.message = format!("campaign {id}: budget or spend: {}", oe.message);
                }
            }
        }
    }
    Ok(())
}

async fn sync_money(
    c: &HubSpotConnector,
    id: &str,
    fields: &BTreeMap<String, Value>,
    fresh: bool,
) -> Result<(), CallError> {
    // the read's copy (once: what this apply changes makes it stale), none for a new campaign, else one GET
    let cached = c.cache().totals.remove(id);
    let t = match cached {
        Some(t) => t,
        None if fresh => Totals::default(),
        None => totals(c, id).await?,
    };
    let base = format!("/{}", seg(id));
    let client = c.client();
    let bad = |m: String| CallError::Decode { message: m };
    if let Some(b) = fields.get("budget_items") {
        let want = budget_items(b).map_err(bad)?;
        let have = t.budget_sorted();
        for n in 0..want.len().max(have.len()) {
            match (want.get(n), have.get(n)) {
                (Some((name, amount)), Some(item)) => {
                    let same = item.name == *name && item.money().ok() == Some(*amount) && item.order == n as i64;
                    if !same {
                        let path = format!("{base}/budget/{}", seg(&item.id()));
                        let body = item_body(name, *amount, n as i64);
                        client
                            .send_json(Verb::Put, Api::Campaigns, &path, &Query::new(), &body, Retry::All)
                            .await?;
                    }
                }
                (Some((name, amount)), None) => {
                    let body = item_body(name, *amount, n as i64);
                    client
                        .send_json(
                            Verb::Post,
                            Api::Campaigns,
                            &format!("{base}/budget"),
                            &Query::new(),
                            &body,
                            Retry::Refused,
                        )
                        .await?;
                }
                (None, Some(item)) => {
                    client
                        .delete(Api::Campaigns, &format!("{base}/budget/{}", seg(&item.id())))
                        .await?;
                }
                (None, None) => {}
            }
        }
    }
    if let Some(s) = fields.get("spend") {
        let amount = s.as_money().ok_or_else(|| bad("spend must be an amount".into()))?;
        match t.spend_item() {
            Some(item) if item.money().ok() == Some(amount) => {}
            Some(item) => {
                let path = format!("{base}/spend/{}", seg(&item.id()));
                let body = item_body(SPEND_ITEM_NAME, amount, item.order);
                client
                    .send_json(Verb::Put, Api::Campaigns, &path, &Query::new(), &body, Retry::All)
                    .await?;
            }
            None => {
                let order = t.spend_items.iter().map(|i| i.order + 1).max().unwrap_or(0);
                let body = item_body(SPEND_ITEM_NAME, amount, order);
                client
                    .send_json(
                        Verb::Post,
                        Api::Campaigns,
                        &format!("{base}/spend"),
                        &Query::new(),
                        &body,
                        Retry::Refused,
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

async fn campaign_removes(r: &mut Run<'_>, ops: &[Operation]) -> Result<(), ConnectorError> {
    for (i, op) in ops.iter().enumerate() {
        let (Kind::Campaign, OpAction::Remove { id }) = (op.kind, &op.action) else {
            continue;
        };
        if r.done(i) {
            continue;
        }
        let path = format!("/{}", seg(id));
        if let Err(e) = r.c.client().delete(Api::Campaigns, &path).await {
            r.call_failed(i, e)?;
            continue;
        }
        // 204 always: a re-read confirms
        match r
            .c
            .client()
            .get(Api::Campaigns, &path, &Query::new().set("properties", "hs_name"))
            .await
        {
            Err(e) if e.is_not_found() => r.applied(i, id.clone()),
            Ok(_) => r.fail(
                i,
                op_err(
                    "NOT_DELETED",
                    format!("HubSpot answered the delete of campaign {id}, but it is still there"),
                    None,
                ),
            ),
            Err(e) => r.call_failed(i, e)?,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Audiences (MANUAL lists of contacts)

async fn audience(r: &mut Run<'_>, i: usize, op: &Operation) -> Result<(), ConnectorError> {
    let name = op.address.name().unwrap_or_default().to_string();
    let res = match &op.action {
        OpAction::Create { .. } => match create_list(r.c, &name).await {
            Ok(id) => add_remove(r.c, op, &id).await.map(|_| id),
            Err(e) => Err(e),
        },
        OpAction::Update { id, set, .. } => {
            let mut res = Ok(id.clone());
            if set.contains_key("name") {
                res = rename_list(r.c, id, &marked_name(&name)).await.map(|_| id.clone());
            }
            if res.is_ok() {
                res = add_remove(r.c, op, id).await.map(|_| id.clone());
            }
            res
        }
        OpAction::Adopt { id } => rename_list(r.c, id, &marked_name(&name)).await.map(|_| id.clone()),
        // a list has nothing to pause
        OpAction::Pause { id } => Ok(id.clone()),
        OpAction::Remove { id } => {
            r.c.client()
                .delete(Api::Lists, &format!("/{}", seg(id)))
                .await
                .map(|_| id.clone())
        }
    };
    match res {
        Ok(id) => r.applied(i, id),
        Err(e) => r.call_failed(i, e)?,
    }
    Ok(())
}

async fn rename_list(c: &HubSpotConnector, id: &str, to: &str) -> Result<(), CallError> {
    let path = format!("/{}/update-list-name", seg(id));
    c.client()
        .call(
            Verb::Put,
            Api::Lists,
            &path,
            &Query::new().set("listName", to),
            None,
            Retry::All,
        )
        .await
        .map(|_| ())
}

/// A MANUAL list named `<name> [adsctl-managed]`; a lost answer is looked for by that name first.
async fn create_list(c: &HubSpotConnector, name: &str) -> Result<String, CallError> {
    let marked = marked_name(name);
    let body = json!({"name": marked, "objectTypeId": "0-1", "processingType": "MANUAL"}).to_string();
    let mut lost = false;
    for _ in 0..2 {
        if lost {
            if let Some(id) = find_list(c, &marked).await? {
                return Ok(id);
            }
        }
        match c
            .client()
            .send_json(Verb::Post, Api::Lists, "", &Query::new(), &body, Retry::Refused)
            .await
        {
            Ok(a) => {
                let v: serde_json::Value = a.json("lists create")?;
                return v["list"]["listId"]
                    .as_str()
                    .map(String::from)
                    .or_else(|| v["list"]["listId"].as_i64().map(|n| n.to_string()))
                    .ok_or(CallError::Decode {
                        message: "HubSpot's answer to a list create has no listId".into(),
                    });
            }
            Err(e) if e.outcome_unknown() && !lost => lost = true,
            Err(e) => return Err(e),
        }
    }
    Err(CallError::Transport {
        url: "HubSpot lists".into(),
        message: format!("creating list `{name}` got no answer twice: the next run finds it or creates it"),
    })
}

pub(crate) async fn find_list(c: &HubSpotConnector, exact: &str) -> Result<Option<String>, CallError> {
    let mut delay = c.client().cfg.lookup_delay;
    let mut last = None;
    for n in 0..c.client().cfg.lookup_attempts.max(1) {
        if n > 0 {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
        match list_by_name(c, exact).await {
            Ok(l) => return Ok(l.map(|l| l.list_id)),
            Err(e) if fatal(&e) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(CallError::Decode {
        message: "no look-up was made".into(),
    }))
}

/// Members in and out of list `id`.
async fn add_remove(c: &HubSpotConnector, op: &Operation, id: &str) -> Result<(), CallError> {
    let (add, remove) = member_changes(op);
    if !add.is_empty() {
        let address = op.address.to_string();
        let mut clear = Vec::with_capacity(add.len());
        for h in &add {
            let m = crate::connectors::clear::member(&address, h).ok_or_else(|| CallError::Decode {
                message: format!("a member to add (hash {}…) has no address filed", &h[..h.len().min(12)]),
            })?;
            clear.push((h.clone(), m.email.trim().to_string()));
        }
        let mut ids: HashMap<String, String> = HashMap::new();
        for chunk in clear.chunks(MAX_OBJECT_BATCH) {
            let body = json!({"inputs": chunk.iter().map(|(_, e)| json!({
                "id": e, "idProperty": "email", "properties": {"email": e}
            })).collect::<Vec<_>>()});
            let v: serde_json::Value = c
                .client()
                .send_json(
                    Verb::Post,
                    Api::Contacts,
                    "/batch/upsert",
                    &Query::new(),
                    &body.to_string(),
                    Retry::All,
                )
                .await?
                .json("contacts/batch/upsert")?;
            let by_hash: HashMap<String, String> = v
                .get("results")
                .and_then(|x| x.as_array())
                .into_iter()
                .flatten()
                .filter_map(|x| {
                    let id = x.get("id")?.as_str()?.to_string();
                    let email = x.get("properties")?.get("email")?.as_str()?;
                    Some((member_hash(email), id))
                })
                .collect();
            for (h, _) in chunk {
                let rid = by_hash.get(h).ok_or_else(|| CallError::Decode {
                    message: format!(
                        "HubSpot's upsert answer does not name the contact of member hash {}…",
                        &h[..h.len().min(12)]
                    ),
                })?;
                ids.insert(h.clone(), rid.clone());
            }
        }
        let record_ids: Vec<String> = add.iter().filter_map(|h| ids.get(h).cloned()).collect();
        memberships(c, id, "add", &record_ids).await?;
        c.cache().members.entry(id.to_string()).or_default().extend(ids);
    }
    if !remove.is_empty() {
        let known = c.cache().members.get(id).cloned().unwrap_or_default();
        let mut record_ids = Vec::new();
        for h in &remove {
            match known.get(h) {
                Some(r) => record_ids.push(r.clone()),
                None => {
                    return Err(CallError::Decode {
                        message: format!(
                            "member hash {}… to remove was not seen by this process's read of list {id}: read the \
                             audience again ({MARKER} lists are read with their members)",
                            &h[..h.len().min(12)]
                        ),
                    })
                }
            }
        }
        memberships(c, id, "remove", &record_ids).await?;
        if let Some(m) = c.cache().members.get_mut(id) {
            for h in &remove {
                m.remove(h);
            }
        }
    }
    Ok(())
}

/// `PUT …/{listId}/memberships/{add|remove}` with a bare JSON array of record ids, ≤ 1,000 a request.
async fn memberships(c: &HubSpotConnector, list: &str, what: &str, ids: &[String]) -> Result<(), CallError> {
    let path = format!("/{}/memberships/{what}", seg(list));
    for chunk in ids.chunks(MAX_MEMBERSHIP_IDS) {
        let body = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
        c.client()
            .send_json(Verb::Put, Api::Lists, &path, &Query::new(), &body, Retry::All)
            .await?;
    }
    Ok(())
}
