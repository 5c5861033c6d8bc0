//! Applying a batch (`docs/resource-model.md` § Mailchimp, Writes), one operation after the other in the order
//! given (a tag before the campaign that sends to it): tags (static segments) and their members, regular
//! campaigns, their content and schedule. Every request carries only what the operation changes; partial failure
//! is one outcome per operation.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Map, Value as Json};

use super::client::{enc, CallError, Retry, Verb};
use super::config::MAX_MEMBERS_PER_REQUEST;
use super::mapping::{self, campaign_title, html_fingerprint, member_hashes, tag_name, text};
use super::MailchimpConnector;
use crate::connectors::clear::{self, ClearMember};
use crate::connectors::{ApplyBatch, ConnectorError, IdRef, OpAction, OpError, OpOutcome, Operation};
use crate::model::{Account, Kind, Value};

type Fields = BTreeMap<String, Value>;

fn failed(code: &str, message: impl Into<String>, hint: Option<&str>) -> OpOutcome {
    OpOutcome::Failed(OpError {
        code: code.into(),
        message: message.into(),
        field: None,
        hint: hint.map(str::to_string),
    })
}

/// What a step of an operation ran into.
enum Stop {
    Call(CallError),
    /// A create whose outcome is unknown (no answer, a server error, and the look-up did not find it).
    Unknown(CallError),
    Local(OpOutcome),
}

impl From<CallError> for Stop {
    fn from(e: CallError) -> Stop {
        Stop::Call(e)
    }
}

impl Stop {
    fn outcome(self, account: &str) -> OpOutcome {
        match self {
            Stop::Call(e) => OpOutcome::Failed(e.to_op_error(account)),
            Stop::Unknown(e) => OpOutcome::Failed(OpError {
                code: "outcome_unknown".into(),
                message: format!(
                    "Mailchimp did not say whether the create ran ({}); the next plan finds it or creates it",
                    e.to_op_error(account).message
                ),
                field: None,
                hint: Some("run plan again: a read finds the object by its marked name".into()),
            }),
            Stop::Local(o) => o,
        }
    }
}

/// What a lost create is looked for by.
enum Target<'a> {
    /// A tag's marked name.
    Tag(&'a str),
    /// A campaign's marked title.
    Campaign(&'a str),
    /// A merge field's tag.
    MergeField(&'a str),
}

async fn find(conn: &MailchimpConnector, t: &Target<'_>) -> Result<Option<String>, CallError> {
    match t {
        Target::MergeField(tag) => Ok(conn.merge_fields().await?.iter().find_map(|f| {
            (f.get("tag").and_then(Json::as_str) == Some(*tag))
                .then(|| f.get("merge_id").and_then(super::client_id))
                .flatten()
        })),
        Target::Tag(name) => Ok(conn
            .segments()
            .await?
            .into_iter()
            .find(|s| s.name == *name)
            .map(|s| s.id)),
        Target::Campaign(title) => Ok(conn.campaigns().await?.iter().find_map(|c| {
            (c.pointer("/settings/title").and_then(Json::as_str) == Some(*title))
                .then(|| c.get("id").and_then(super::client_id))
                .flatten()
        })),
    }
}

/// A create without an idempotency key: retried after a 429 only; after a server error or no answer, looked
/// for first — found → its id; not found → sent again once if Mailchimp had answered, else outcome unknown.
async fn create(conn: &MailchimpConnector, path: &str, body: &Json, target: Target<'_>) -> Result<String, Stop> {
    let mut resent = false;
    loop {
        match conn.client.send(Verb::Post, path, body, Retry::RefusedOnly).await {
            Ok(v) => {
                // a merge field's id is its `merge_id`
                let id = v.get("id").or_else(|| v.get("merge_id"));
                return id.and_then(super::client_id).ok_or_else(|| {
                    Stop::Call(CallError::Decode {
                        message: format!("the create of {path} answered without an id"),
                    })
                });
            }
            Err(e) if e.outcome_unknown() => {
                tracing::warn!(error = %e, "mailchimp: a create's outcome is unknown; looking for it");
                match find(conn, &target).await {
                    Ok(Some(id)) => return Ok(id),
                    Ok(None) if e.answered() && !resent => {
                        resent = true;
                        tokio::time::sleep(conn.client.cfg.retry_min_delay).await;
                    }
                    _ => return Err(Stop::Unknown(e)),
                }
            }
            Err(e) => return Err(Stop::Call(e)),
        }
    }
}

pub async fn run(
    conn: &MailchimpConnector,
    _account: &Account,
    batch: &ApplyBatch,
    dry: bool,
) -> Result<Vec<OpOutcome>, ConnectorError> {
    let account = conn.client.account_name.clone();
    let mut out: Vec<OpOutcome> = Vec::with_capacity(batch.ops.len());
    let mut created: HashMap<usize, String> = HashMap::new();
    for (i, op) in batch.ops.iter().enumerate() {
        let outcome = if dry {
            check(op)
        } else {
            let r = match op.kind {
                Kind::Audience => tag_op(conn, op).await,
                Kind::Campaign => campaign_op(conn, op, &created, &out).await,
                Kind::List => list_op(conn, op).await,
                Kind::MergeField => merge_field_op(conn, op).await,
                other => Err(Stop::Local(failed(
                    "unsupported",
                    format!("Mailchimp has no {other:?} (its kinds are list, merge_field, audience and campaign)"),
                    None,
                ))),
            };
            match r {
                Ok(id) => OpOutcome::Applied { id },
                Err(s) => s.outcome(&account),
            }
        };
        if let OpOutcome::Applied { id } = &outcome {
            created.insert(i, id.clone());
        }
        out.push(outcome);
    }
    Ok(out)
}

/// What can be checked without Mailchimp: members filed in clear, schedule times.
fn check(op: &Operation) -> OpOutcome {
    let fields = match &op.action {
        OpAction::Create { fields } => fields,
        OpAction::Update { set, .. } => set,
        _ => return OpOutcome::Valid,
    };
    if op.kind == Kind::Audience {
        if let Some(h) = member_hashes(fields.get("members")) {
            let missing = h
                .iter()
                .filter(|h| clear::member(&op.address.to_string(), h).is_none())
                .count();
            if missing > 0 {
                return missing_members(op, missing);
            }
        }
    }
    if let Some(t) = text(fields, "schedule_time").filter(|t| !t.is_empty()) {
        if let Err(e) = mapping::schedule_time(t) {
            return failed("invalid_schedule_time", e, None);
        }
    }
    OpOutcome::Valid
}

fn missing_members(op: &Operation, n: usize) -> OpOutcome {
    failed(
        "members_not_in_clear",
        format!(
            "{n} member(s) of `{}` have no address filed in this process (Mailchimp takes addresses as written; \
             adsctl never guesses one)",
            op.address
        ),
        Some("run apply from the project that holds the audience's customer file"),
    )
}

// ------------------------------------------------------------------------------------------------ the audience

/// The audience's settings: only ever updated (the engine never creates or removes an account's own object),
/// with the whole settings object the PATCH needs — the read's, or one GET when this process has not read.
async fn list_op(conn: &MailchimpConnector, op: &Operation) -> Result<String, Stop> {
    let id = conn.client.list_id.clone();
    match &op.action {
        OpAction::Update { set, .. } => {
            let cached = conn.cache().list.clone();
            let live = match cached {
                Some(l) => l,
                None => conn.list_settings().await?,
            };
            let body = mapping::list_patch(&live, set);
            let answer = conn
                .client
                .send(Verb::Patch, &conn.client.list_path(""), &body, Retry::All)
                .await?;
            conn.cache().list = Some(answer);
            Ok(id)
        }
        OpAction::Create { .. } => Err(Stop::Local(failed(
            "audience_not_found",
            format!("the audience {id} was not found: adsctl manages an audience's settings, it never creates one"),
            Some("check the account's list_id (Mailchimp shows it under Audience → Settings)"),
        ))),
        OpAction::Adopt { .. } | OpAction::Pause { .. } => Ok(id),
        OpAction::Remove { .. } => Err(Stop::Local(failed(
            "audience_not_removed",
            format!("adsctl never deletes an audience ({id}): it would take every contact with it"),
            None,
        ))),
    }
}

fn merge_path(conn: &MailchimpConnector, id: &str) -> String {
    conn.client.list_path(&format!("merge-fields/{}", enc(id)))
}

/// A merge field: created (by its tag, found again by it after a lost answer), updated (its options sent whole:
/// the live ones with the change over them), or deleted (`on_removed: remove`; every contact's value goes).
async fn merge_field_op(conn: &MailchimpConnector, op: &Operation) -> Result<String, Stop> {
    let tag = op.address.name().unwrap_or("").to_string();
    match &op.action {
        OpAction::Create { fields } => {
            let body = mapping::merge_field_body(fields, &tag, true, None);
            let id = create(
                conn,
                &conn.client.list_path("merge-fields"),
                &body,
                Target::MergeField(&tag),
            )
            .await?;
            Ok(id)
        }
        OpAction::Update { id, set, .. } => {
            let live = conn.cache().merge_fields.get(id).cloned();
            let mut body = mapping::merge_field_body(
                set,
                &tag,
                false,
                live.as_ref().and_then(|l| l.get("name")).and_then(Json::as_str),
            );
            if let (Some(new), Some(old)) = (
                body.get("options").and_then(Json::as_object).cloned(),
                live.as_ref().and_then(|l| l.get("options")).and_then(Json::as_object),
            ) {
                let mut whole = old.clone();
                whole.extend(new);
                body["options"] = Json::Object(whole);
            }
            let answer = conn
                .client
                .send(Verb::Patch, &merge_path(conn, id), &body, Retry::All)
                .await?;
            conn.cache().merge_fields.insert(id.clone(), answer);
            Ok(id.clone())
        }
        // merge fields have no marker and nothing to pause
        OpAction::Adopt { id } | OpAction::Pause { id } => Ok(id.clone()),
        OpAction::Remove { id } => {
            conn.client.delete(&merge_path(conn, id)).await?;
            conn.cache().merge_fields.remove(id);
            Ok(id.clone())
        }
    }
}

// ------------------------------------------------------------------------------------------------ tags

fn seg_path(conn: &MailchimpConnector, id: &str) -> String {
    conn.client.list_path(&format!("segments/{}", enc(id)))
}

async fn tag_op(conn: &MailchimpConnector, op: &Operation) -> Result<String, Stop> {
    let name = op.address.name().unwrap_or("").to_string();
    let addr = op.address.to_string();
    match &op.action {
        OpAction::Create { fields } => {
            let want = member_hashes(fields.get("members")).unwrap_or_default();
            let adds = clear_members(op, &want)?;
            let default_status = text(fields, "new_member_status").map(str::to_string);
            let marked = tag_name(&name);
            let id = create(
                conn,
                &conn.client.list_path("segments"),
                &json!({"name": marked, "static_segment": []}),
                Target::Tag(&marked),
            )
            .await?;
            members(conn, &id, &adds, &[], default_status.as_deref()).await?;
            remember(conn, &id, &adds, &[]);
            Ok(id)
        }
        OpAction::Update { id, set, before } => {
            if set.contains_key("name") {
                let n = text(set, "name").unwrap_or(&name);
                conn.client
                    .send(
                        Verb::Patch,
                        &seg_path(conn, id),
                        &json!({"name": tag_name(n)}),
                        Retry::All,
                    )
                    .await?;
            }
            if let Some(want) = member_hashes(set.get("members")) {
                let had = member_hashes(before.get("members")).unwrap_or_else(|| {
                    conn.cache()
                        .addresses
                        .get(id)
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default()
                });
                let add: BTreeSet<String> = want.difference(&had).cloned().collect();
                let gone: Vec<String> = had.difference(&want).cloned().collect();
                let adds = clear_members(op, &add)?;
                let removes = {
                    let cache = conn.cache();
                    let book = cache.addresses.get(id);
                    let found: Vec<(String, String)> = gone
                        .iter()
                        .filter_map(|h| book.and_then(|b| b.get(h)).map(|e| (h.clone(), e.clone())))
                        .collect();
                    if found.len() < gone.len() {
                        return Err(Stop::Local(failed(
                            "members_unknown",
                            format!(
                                "{} member(s) to remove from `{addr}` were not seen by this process's read of the tag",
                                gone.len() - found.len()
                            ),
                            Some("run plan and apply again (the read keeps the tag's members)"),
                        )));
                    }
                    found
                };
                let default_status = text(set, "new_member_status")
                    .or_else(|| text(before, "new_member_status"))
                    .map(str::to_string);
                members(conn, id, &adds, &removes, default_status.as_deref()).await?;
                remember(conn, id, &adds, &removes);
            }
            Ok(id.clone())
        }
        OpAction::Adopt { id } => {
            conn.client
                .send(
                    Verb::Patch,
                    &seg_path(conn, id),
                    &json!({"name": tag_name(&name)}),
                    Retry::All,
                )
                .await?;
            Ok(id.clone())
        }
        // tags have nothing to pause
        OpAction::Pause { id } => Ok(id.clone()),
        OpAction::Remove { id } => {
            conn.client.delete(&seg_path(conn, id)).await?;
            conn.cache().addresses.remove(id);
            Ok(id.clone())
        }
    }
}

/// The members filed in clear for these hashes (hash, member), or the operation fails.
fn clear_members(op: &Operation, hashes: &BTreeSet<String>) -> Result<Vec<(String, ClearMember)>, Stop> {
    let addr = op.address.to_string();
    let found: Vec<(String, ClearMember)> = hashes
        .iter()
        .filter_map(|h| clear::member(&addr, h).map(|m| (h.clone(), m)))
        .collect();
    if found.len() < hashes.len() {
        return Err(Stop::Local(missing_members(op, hashes.len() - found.len())));
    }
    Ok(found)
}

fn remember(conn: &MailchimpConnector, id: &str, adds: &[(String, ClearMember)], removes: &[(String, String)]) {
    let mut cache = conn.cache();
    let book = cache.addresses.entry(id.to_string()).or_default();
    for (h, m) in adds {
        book.insert(h.clone(), m.email.clone());
    }
    for (h, _) in removes {
        book.remove(h);
    }
}

/// New contacts first (batch subscribe, never updating an existing one; a new contact's status is the file's,
/// else the audience's `new_member_status` when the operation carries one, else `subscribed`), then the tag's
/// membership, ≤ 500 of each per request.
async fn members(
    conn: &MailchimpConnector,
    seg: &str,
    adds: &[(String, ClearMember)],
    removes: &[(String, String)],
    default_status: Option<&str>,
) -> Result<(), Stop> {
    for chunk in adds.chunks(MAX_MEMBERS_PER_REQUEST) {
        let list: Vec<Json> = chunk
            .iter()
            .map(|(_, m)| {
                let mut o = Map::new();
                o.insert("email_address".into(), json!(m.email));
                o.insert(
                    "status".into(),
                    json!(m
                        .status
                        .as_deref()
                        .filter(|s| !s.is_empty())
                        .or(default_status.filter(|s| !s.is_empty()))
                        .unwrap_or("subscribed")),
                );
                if !m.fields.is_empty() {
                    o.insert("merge_fields".into(), json!(m.fields));
                }
                Json::Object(o)
            })
            .collect();
        let body = json!({"members": list, "update_existing": false});
        // idempotent: a repeat finds the contacts (ERROR_CONTACT_EXISTS)
        let r = conn
            .client
            .send(Verb::Post, &conn.client.list_path(""), &body, Retry::All)
            .await?;
        let errors: Vec<&Json> = r
            .get("errors")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter(|e| e.get("error_code").and_then(Json::as_str) != Some("ERROR_CONTACT_EXISTS"))
                    .collect()
            })
            .unwrap_or_default();
        if !errors.is_empty() {
            let first = errors[0].get("error").and_then(Json::as_str).unwrap_or("");
            return Err(Stop::Local(failed(
                "batch_subscribe",
                format!(
                    "Mailchimp refused {} contact(s) of the customer file; the first: {}",
                    errors.len(),
                    conn.client.redact(first)
                ),
                None,
            )));
        }
    }
    let n = adds.len().max(removes.len()).div_ceil(MAX_MEMBERS_PER_REQUEST);
    for i in 0..n {
        let part = |len: usize| (i * MAX_MEMBERS_PER_REQUEST).min(len)..((i + 1) * MAX_MEMBERS_PER_REQUEST).min(len);
        let add: Vec<&str> = adds[part(adds.len())].iter().map(|(_, m)| m.email.as_str()).collect();
        let rem: Vec<&str> = removes[part(removes.len())].iter().map(|(_, e)| e.as_str()).collect();
        let r = conn
            .client
            .send(
                Verb::Post,
                &seg_path(conn, seg),
                &json!({"members_to_add": add, "members_to_remove": rem}),
                Retry::All,
            )
            .await?;
        // on a retry the ones already done come back "not in the segment" / already added: only adds count
        let refused: usize = r
            .get("errors")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter(|e| {
                        e.get("error")
                            .and_then(Json::as_str)
                            .is_some_and(|t| !t.contains("not in the segment"))
                    })
                    .map(|e| e.get("email_addresses").and_then(Json::as_array).map_or(1, Vec::len))
                    .sum()
            })
            .unwrap_or(0);
        if refused > 0 {
            return Err(Stop::Local(failed(
                "tag_members",
                format!("Mailchimp did not add {refused} contact(s) to the tag"),
                None,
            )));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------ campaigns

fn camp_path(id: &str, rest: &str) -> String {
    if rest.is_empty() {
        format!("campaigns/{}", enc(id))
    } else {
        format!("campaigns/{}/{rest}", enc(id))
    }
}

/// `recipients` on the wire: the audience, and the tag's id when it names one.
fn recipients(
    conn: &MailchimpConnector,
    op: &Operation,
    v: Option<&Value>,
    created: &HashMap<usize, String>,
    out: &[OpOutcome],
) -> Result<Json, Stop> {
    let list = json!({"list_id": conn.client.list_id});
    let seg = match v {
        None => return Ok(list),
        Some(Value::Str(s)) if s == "all" || s.is_empty() => return Ok(list),
        Some(Value::Str(s)) => s.strip_prefix("segment:").map(str::to_string),
        Some(Value::Ref(a)) => match op.refs.get(a.as_ref()) {
            Some(IdRef::Known(id)) => Some(id.clone()),
            Some(IdRef::Pending(j)) => match created.get(j) {
                Some(id) => Some(id.clone()),
                None => {
                    let why = match out.get(*j) {
                        Some(OpOutcome::Failed(e)) => e.message.clone(),
                        _ => "not created".into(),
                    };
                    return Err(Stop::Local(OpOutcome::Skipped {
                        reason: format!("its recipients `{a}` were not created: {why}"),
                    }));
                }
            },
            None => None,
        },
        _ => None,
    };
    let Some(seg) = seg else {
        return Err(Stop::Local(failed(
            "recipients",
            format!("`{}`: recipients must be `all` or a tag of the audience", op.address),
            None,
        )));
    };
    let sid: i64 = seg.parse().map_err(|_| {
        Stop::Local(failed(
            "recipients",
            format!("the tag id `{seg}` is not a Mailchimp segment id"),
            None,
        ))
    })?;
    Ok(json!({"list_id": conn.client.list_id, "segment_opts": {"saved_segment_id": sid}}))
}

fn schedule_of(fields: &Fields) -> Result<Option<String>, Stop> {
    match text(fields, "schedule_time").filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => mapping::schedule_time(t)
            .map(Some)
            .map_err(|e| Stop::Local(failed("invalid_schedule_time", e, None))),
    }
}

/// The settings a PATCH carries (Mailchimp requires subject_line, from_name and reply_to on every PATCH).
fn settings_of(title: &str, pick: &dyn Fn(&str) -> String) -> Json {
    mapping::settings(
        title,
        &pick("subject"),
        &pick("preview_text"),
        &pick("from_name"),
        &pick("reply_to"),
    )
}

const CAMPAIGN_EDITS: &[&str] = &[
    "subject",
    "preview_text",
    "from_name",
    "reply_to",
    "recipients",
    "html",
    "name",
];

async fn campaign_op(
    conn: &MailchimpConnector,
    op: &Operation,
    created: &HashMap<usize, String>,
    out: &[OpOutcome],
) -> Result<String, Stop> {
    let name = op.address.name().unwrap_or("").to_string();
    match &op.action {
        OpAction::Create { fields } => {
            let when = schedule_of(fields)?;
            let rcpt = recipients(conn, op, fields.get("recipients"), created, out)?;
            let pick = |k: &str| text(fields, k).unwrap_or("").to_string();
            let title0 = campaign_title(&name, None);
            let body = json!({"type": "regular", "recipients": rcpt, "settings": settings_of(&title0, &pick)});
            let id = create(conn, "campaigns", &body, Target::Campaign(&title0)).await?;
            if let Some(html) = text(fields, "html") {
                let fp = html_fingerprint(html);
                conn.client
                    .send(
                        Verb::Put,
                        &camp_path(&id, "content"),
                        &json!({"html": html}),
                        Retry::All,
                    )
                    .await?;
                let title = campaign_title(&name, Some(&fp));
                conn.client
                    .send(
                        Verb::Patch,
                        &camp_path(&id, ""),
                        &json!({"settings": settings_of(&title, &pick)}),
                        Retry::All,
                    )
                    .await?;
                conn.cache().fingerprints.insert(id.clone(), fp);
            }
            if let Some(t) = when {
                schedule(conn, &id, &t).await?;
            }
            Ok(id)
        }
        OpAction::Update { id, set, before } => {
            // what the campaign is now: the read's copy, else one GET (an update's `before` holds only the fields
            // it changes)
            let cached = conn.cache().campaigns.get(id).cloned();
            let live = match cached {
                Some(c) => c,
                None => {
                    conn.client
                        .get(&camp_path(id, ""), &[("fields".into(), "status,send_time".into())])
                        .await?
                }
            };
            let status = text(before, "status")
                .map(str::to_string)
                .or_else(|| {
                    live.get("status")
                        .and_then(Json::as_str)
                        .map(|s| mapping::status_of(s).to_string())
                })
                .unwrap_or_else(|| "draft".into());
            // the time it is scheduled for, kept through an edit that does not change it
            let live_time = (status == "scheduled")
                .then(|| {
                    live.get("send_time")
                        .and_then(Json::as_str)
                        .and_then(mapping::parse_time)
                })
                .flatten()
                .map(mapping::rfc3339);
            let edits = CAMPAIGN_EDITS.iter().any(|k| set.contains_key(*k));
            let reschedule = set.contains_key("schedule_time");
            let to_draft = text(set, "status") == Some("draft");
            if !(edits || reschedule || to_draft) {
                return Ok(id.clone());
            }
            if matches!(status.as_str(), "sending" | "sent" | "canceled") {
                if edits || reschedule {
                    return Err(Stop::Local(failed(
                        "settled",
                        format!("`{}` is {status}: Mailchimp no longer changes it", op.address),
                        None,
                    )));
                }
                return Ok(id.clone());
            }
            let when = if to_draft {
                None
            } else {
                match set.get("schedule_time") {
                    Some(_) => schedule_of(set)?,
                    None => schedule_of(before)?.or(live_time),
                }
            };
            let mut unscheduled = false;
            if status == "scheduled" {
                unschedule(conn, id).await?;
                unscheduled = true;
            }
            if edits {
                let wire = wire_settings(conn, id).await?;
                let pick = |k: &str| {
                    text(set, k)
                        .or_else(|| text(before, k))
                        .map(str::to_string)
                        .or_else(|| {
                            let w = match k {
                                "subject" => "subject_line",
                                other => other,
                            };
                            wire.get(w).and_then(Json::as_str).map(str::to_string)
                        })
                        .unwrap_or_default()
                };
                let new_name = text(set, "name").unwrap_or(&name).to_string();
                let old_fp = conn.cache().fingerprints.get(id).cloned();
                let mut patch = Map::new();
                if set.contains_key("recipients") {
                    patch.insert(
                        "recipients".into(),
                        recipients(conn, op, set.get("recipients"), created, out)?,
                    );
                }
                match text(set, "html") {
                    Some(html) => {
                        // the claim on the old content goes first: a run killed before the content leaves none
                        patch.insert("settings".into(), settings_of(&campaign_title(&new_name, None), &pick));
                        conn.client
                            .send(Verb::Patch, &camp_path(id, ""), &Json::Object(patch), Retry::All)
                            .await?;
                        conn.cache().fingerprints.remove(id);
                        conn.client
                            .send(Verb::Put, &camp_path(id, "content"), &json!({"html": html}), Retry::All)
                            .await?;
                        let fp = html_fingerprint(html);
                        conn.client
                            .send(
                                Verb::Patch,
                                &camp_path(id, ""),
                                &json!({"settings": settings_of(&campaign_title(&new_name, Some(&fp)), &pick)}),
                                Retry::All,
                            )
                            .await?;
                        conn.cache().fingerprints.insert(id.clone(), fp);
                    }
                    None => {
                        let title = campaign_title(&new_name, old_fp.as_deref());
                        patch.insert("settings".into(), settings_of(&title, &pick));
                        conn.client
                            .send(Verb::Patch, &camp_path(id, ""), &Json::Object(patch), Retry::All)
                            .await?;
                    }
                }
            }
            if let Some(t) = when {
                if unscheduled || reschedule {
                    schedule(conn, id, &t).await?;
                }
            }
            Ok(id.clone())
        }
        OpAction::Adopt { id } => {
            let wire = wire_settings(conn, id).await?;
            let pick = |k: &str| {
                let w = if k == "subject" { "subject_line" } else { k };
                wire.get(w).and_then(Json::as_str).unwrap_or("").to_string()
            };
            conn.client
                .send(
                    Verb::Patch,
                    &camp_path(id, ""),
                    &json!({"settings": settings_of(&campaign_title(&name, None), &pick)}),
                    Retry::All,
                )
                .await?;
            Ok(id.clone())
        }
        OpAction::Pause { id } => {
            let status = match cached_status(conn, id) {
                Some(s) => s,
                None => {
                    wire_settings(conn, id).await?;
                    cached_status(conn, id).unwrap_or_default()
                }
            };
            if status == "scheduled" {
                unschedule(conn, id).await?;
            }
            Ok(id.clone())
        }
        OpAction::Remove { id } => {
            conn.client.delete(&camp_path(id, "")).await?;
            let mut c = conn.cache();
            c.campaigns.remove(id);
            c.fingerprints.remove(id);
            Ok(id.clone())
        }
    }
}

/// The campaign's wire status and send time, read now.
async fn live_state(conn: &MailchimpConnector, id: &str) -> Result<(String, String), CallError> {
    let c = conn
        .client
        .get(
            &camp_path(id, ""),
            &super::client::q(&[("fields", "id,status,send_time")]),
        )
        .await?;
    let s = |k: &str| c.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    Ok((s("status"), s("send_time")))
}

/// `actions/schedule`; an "Invalid Action" after a retry whose first answer was lost is checked: already
/// scheduled at that time is done.
async fn schedule(conn: &MailchimpConnector, id: &str, t: &str) -> Result<(), Stop> {
    match conn
        .client
        .action(&camp_path(id, "actions/schedule"), Some(&json!({"schedule_time": t})))
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.api().is_some_and(|a| a.is(400, "Invalid Action")) => {
            let (status, at) = live_state(conn, id).await?;
            let same = mapping::parse_time(&at).map(mapping::rfc3339).as_deref() == Some(t);
            if status == "schedule" && same {
                Ok(())
            } else {
                Err(Stop::Call(e))
            }
        }
        Err(e) => Err(Stop::Call(e)),
    }
}

/// `actions/unschedule`; an "Invalid Action" of a campaign that is a draft already is done.
async fn unschedule(conn: &MailchimpConnector, id: &str) -> Result<(), Stop> {
    match conn.client.action(&camp_path(id, "actions/unschedule"), None).await {
        Ok(()) => Ok(()),
        Err(e) if e.api().is_some_and(|a| a.is(400, "Invalid Action")) => {
            let (status, _) = live_state(conn, id).await?;
            if matches!(status.as_str(), "save" | "paused") {
                Ok(())
            } else {
                Err(Stop::Call(e))
            }
        }
        Err(e) => Err(Stop::Call(e)),
    }
}

fn cached_status(conn: &MailchimpConnector, id: &str) -> Option<String> {
    conn.cache()
        .campaigns
        .get(id)
        .and_then(|c| c.get("status"))
        .and_then(Json::as_str)
        .map(|s| mapping::status_of(s).to_string())
}

/// A campaign's wire settings: from the read, else one GET.
async fn wire_settings(conn: &MailchimpConnector, id: &str) -> Result<Json, Stop> {
    if let Some(s) = conn.cache().campaigns.get(id).and_then(|c| c.get("settings")).cloned() {
        return Ok(s);
    }
    let c = conn
        .client
        .get(
            &camp_path(id, ""),
            &super::client::q(&[("fields", "id,settings,status")]),
        )
        .await?;
    let s = c.get("settings").cloned().unwrap_or(Json::Null);
    conn.cache().campaigns.insert(id.to_string(), c);
    Ok(s)
}
