//! Wire ↔ `Resource`: tags (static segments) and regular campaigns, their markers, statuses and times; the
//! subscriber hash.

use chrono::{DateTime, NaiveDateTime, TimeZone, Timelike, Utc};
use md5::Digest;
use serde_json::{json, Value as Json};

use crate::model::{fingerprint_key, value_fingerprint, Address, Kind, Resource, Value};
use crate::platforms::shared::{marked_description, marked_name, split_description, split_name};

/// The subscriber hash: lower-case hex MD5 of the trimmed, lower-cased address (the member's id on the wire).
pub fn subscriber_hash(email: &str) -> String {
    hex::encode(md5::Md5::digest(email.trim().to_lowercase().as_bytes()))
}

/// A tag's name on Mailchimp: the YAML's name, then ` [adsctl-managed]`.
pub fn tag_name(name: &str) -> String {
    marked_name(name)
}

/// A campaign's `settings.title`: the YAML's name, then `[adsctl-managed]` or `[adsctl-managed:<fingerprint>]`
/// of its HTML.
pub fn campaign_title(name: &str, fingerprint: Option<&str>) -> String {
    marked_description(Some(name), fingerprint)
}

/// (the YAML's name, owned, the HTML's fingerprint) of a live title.
pub fn split_title(title: &str) -> (String, bool, Option<String>) {
    match split_description(title) {
        (name, Some(fp)) => (name.unwrap_or_default(), true, fp),
        (_, None) => (title.to_string(), false, None),
    }
}

/// (the YAML's name, owned) of a live tag name.
pub fn split_tag(name: &str) -> (String, bool) {
    split_name(name)
}

/// The fingerprint of a campaign's HTML, as the title records it.
pub fn html_fingerprint(html: &str) -> String {
    value_fingerprint(&Value::Str(html.to_string()))
}

/// adsctl's status of a campaign's wire status.
pub fn status_of(wire: &str) -> &'static str {
    match wire {
        "save" | "paused" => "draft",
        "schedule" => "scheduled",
        "sending" => "sending",
        "sent" | "archived" => "sent",
        "canceling" | "canceled" => "canceled",
        _ => "draft",
    }
}

/// A time as adsctl writes it: RFC 3339 UTC to the second (`2026-12-07T09:15:00Z`).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A wire time (`2022-02-23T19:31:55+00:00`, `""` for unset) read in UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|n| Utc.from_utc_datetime(&n))
        })
}

/// A schedule time from the YAML checked: RFC 3339, on a quarter hour; written back as the wire takes it.
pub fn schedule_time(s: &str) -> Result<String, String> {
    let t = DateTime::parse_from_rfc3339(s.trim())
        .map_err(|_| format!("schedule_time `{s}` is not an RFC 3339 time (like 2026-12-07T09:15:00Z)"))?
        .with_timezone(&Utc);
    if t.minute() % 15 != 0 || t.second() != 0 || t.nanosecond() != 0 {
        return Err(format!(
            "schedule_time `{s}` is not on a quarter hour (Mailchimp schedules at :00, :15, :30, :45)"
        ));
    }
    Ok(rfc3339(t))
}

/// A static segment from the wire.
#[derive(Clone, Debug)]
pub struct TagRow {
    pub id: String,
    pub name: String,
}

impl TagRow {
    pub fn from_json(v: &Json) -> Option<TagRow> {
        Some(TagRow {
            id: super::client_id(v.get("id")?)?,
            name: v.get("name")?.as_str()?.to_string(),
        })
    }
}

/// A tag as a live resource (members added by the read for adsctl's tags).
pub fn tag_resource(account: &str, t: &TagRow, members: Option<Vec<String>>) -> Resource {
    let (name, owned) = split_tag(&t.name);
    let mut r = Resource::new(Address::account(account).child(Kind::Audience, name), Kind::Audience);
    r.id = Some(t.id.clone());
    r.owned = owned;
    if let Some(m) = members {
        r.fields
            .insert("members", Value::Set(m.into_iter().map(Value::Str).collect()));
    }
    r
}

/// A campaign as a live resource; `tags`: segment id → the tag's address.
pub fn campaign_resource(
    account: &str,
    c: &Json,
    tag_address: &dyn Fn(&str) -> Option<Address>,
) -> Option<(Resource, Option<String>)> {
    let id = super::client_id(c.get("id")?)?;
    let s = |p: &str| c.pointer(p).and_then(Json::as_str).unwrap_or("").to_string();
    let title = s("/settings/title");
    let (name, owned, fp) = split_title(&title);
    let name = if name.is_empty() { id.clone() } else { name };
    let mut r = Resource::new(Address::account(account).child(Kind::Campaign, name), Kind::Campaign);
    r.id = Some(id);
    r.owned = owned;
    let f = &mut r.fields;
    f.insert("subject", Value::Str(s("/settings/subject_line")));
    f.insert("preview_text", Value::Str(s("/settings/preview_text")));
    f.insert("from_name", Value::Str(s("/settings/from_name")));
    f.insert("reply_to", Value::Str(s("/settings/reply_to")));
    let seg = c
        .pointer("/recipients/segment_opts/saved_segment_id")
        .and_then(super::client_id)
        .filter(|x| x != "0");
    let recipients = match seg {
        None => Value::str("all"),
        Some(sid) => match tag_address(&sid) {
            Some(a) => Value::Ref(Box::new(a)),
            None => Value::Str(format!("segment:{sid}")),
        },
    };
    f.insert("recipients", recipients);
    let wire = s("/status");
    let status = status_of(&wire);
    let when = if status == "draft" {
        String::new()
    } else {
        parse_time(&s("/send_time")).map(rfc3339).unwrap_or_default()
    };
    f.insert("schedule_time", Value::Str(when));
    f.insert("status", Value::str(status));
    if let Some(fp) = &fp {
        r.observed.insert(fingerprint_key("html").as_str(), fp.clone());
    }
    r.observed.insert("wire_status", wire);
    Some((r, fp))
}

/// A text field of an operation's fields.
pub fn text<'a>(fields: &'a std::collections::BTreeMap<String, Value>, k: &str) -> Option<&'a str> {
    match fields.get(k) {
        Some(Value::Str(s)) | Some(Value::Url(s)) => Some(s),
        _ => None,
    }
}

/// The hashes of a `members` Set.
pub fn member_hashes(v: Option<&Value>) -> Option<std::collections::BTreeSet<String>> {
    match v? {
        Value::Set(s) => Some(
            s.iter()
                .filter_map(|m| match m {
                    Value::Str(h) => Some(h.trim().to_ascii_lowercase()),
                    _ => None,
                })
                .collect(),
        ),
        Value::List(l) => Some(
            l.iter()
                .filter_map(|m| match m {
                    Value::Str(h) => Some(h.trim().to_ascii_lowercase()),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}

/// A campaign's `settings` for POST/PATCH.
pub fn settings(title: &str, subject: &str, preview: &str, from_name: &str, reply_to: &str) -> Json {
    json!({
        "title": title, "subject_line": subject, "preview_text": preview, "from_name": from_name,
        "reply_to": reply_to,
    })
}

/// The audience's settings (`GET /lists/{list_id}`) as the account's `list` object (`acct/list/settings`), every
/// setting in it: the diff compares only those the YAML writes.
pub fn list_resource(account: &str, list_id: &str, wire: &Json) -> Resource {
    let addr = Address::account(account).child(Kind::List, super::lower::LIST_NAME);
    let mut r = Resource::new(addr, Kind::List);
    r.id = Some(list_id.to_string());
    let text = |p: &str| {
        wire.pointer(p)
            .and_then(Json::as_str)
            .map(|s| Value::Str(s.to_string()))
    };
    for field in super::home::LIST_FIELDS {
        let pointer = match field {
            "audience_name" => "/name".to_string(),
            f => format!("/{}", f.replace('.', "/")),
        };
        let v = match wire.pointer(&pointer) {
            Some(Json::Bool(b)) => Some(Value::Bool(*b)),
            Some(Json::String(_)) => text(&pointer),
            // Mailchimp answers an unset text as "" or leaves it out
            Some(Json::Null) | None if field.starts_with("contact.") || field.starts_with("notify_") => {
                Some(Value::str(""))
            }
            _ => None,
        };
        if let Some(v) = v {
            r.fields.insert(field, v);
        }
    }
    r
}

/// The whole settings object a `PATCH /lists/{list_id}` sends (the spec's PATCH body requires name, contact,
/// permission_reminder, campaign_defaults and email_type_option): the live object's, with `set` over it.
pub fn list_patch(live: &Json, set: &std::collections::BTreeMap<String, Value>) -> Json {
    let mut body = json!({});
    for k in [
        "name",
        "contact",
        "permission_reminder",
        "use_archive_bar",
        "campaign_defaults",
        "notify_on_subscribe",
        "notify_on_unsubscribe",
        "email_type_option",
        "double_optin",
        "marketing_permissions",
    ] {
        if let Some(v) = live.get(k).filter(|v| !v.is_null()) {
            body[k] = v.clone();
        }
    }
    for (field, v) in set {
        let wire = match v {
            Value::Bool(b) => json!(b),
            Value::Str(s) => json!(s),
            _ => continue,
        };
        match field.split_once('.') {
            None if field == "audience_name" => body["name"] = wire,
            None => body[field.as_str()] = wire,
            Some((outer, inner)) => {
                if !body.get(outer).is_some_and(Json::is_object) {
                    body[outer] = json!({});
                }
                body[outer][inner] = wire;
            }
        }
    }
    body
}

/// A merge field (`GET /lists/{list_id}/merge-fields`) as a live `merge_field` object, by its tag.
pub fn merge_field_resource(account: &str, wire: &Json) -> Option<Resource> {
    let tag = wire.get("tag")?.as_str()?.trim();
    if tag.is_empty() {
        return None;
    }
    let mut r = Resource::new(Address::account(account).child(Kind::MergeField, tag), Kind::MergeField);
    r.id = Some(super::client_id(wire.get("merge_id")?)?);
    let s = |k: &str| wire.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    r.fields.insert("label", Value::Str(s("name")));
    r.fields.insert("type", Value::Str(s("type")));
    for k in ["required", "public"] {
        r.fields
            .insert(k, Value::Bool(wire.get(k).and_then(Json::as_bool).unwrap_or(false)));
    }
    r.fields.insert("default_value", Value::Str(s("default_value")));
    r.fields.insert("help_text", Value::Str(s("help_text")));
    if let Some(n) = wire.get("display_order").and_then(Json::as_i64) {
        r.fields.insert("display_order", Value::Int(n));
    }
    let opt = |k: &str| wire.pointer(&format!("/options/{k}"));
    // each option read only on the types it belongs to (the YAML refuses it on others)
    let ty = s("type");
    if let Some(Json::Array(c)) = opt("choices").filter(|_| matches!(ty.as_str(), "radio" | "dropdown")) {
        r.fields.insert(
            "choices",
            Value::List(
                c.iter()
                    .filter_map(Json::as_str)
                    .map(|t| Value::Str(t.to_string()))
                    .collect(),
            ),
        );
    }
    for (k, fits) in [
        ("date_format", matches!(ty.as_str(), "date" | "birthday")),
        ("phone_format", ty == "phone"),
    ] {
        if let Some(t) = opt(k).and_then(Json::as_str).filter(|_| fits) {
            r.fields.insert(k, Value::Str(t.to_string()));
        }
    }
    Some(r)
}

/// The body of a merge field's POST (`create`: with `tag` and `type`) or PATCH (`name` always: the spec's PATCH
/// requires it, from `label` or the live one).
pub fn merge_field_body(
    fields: &std::collections::BTreeMap<String, Value>,
    tag: &str,
    create: bool,
    live_label: Option<&str>,
) -> Json {
    let mut body = json!({});
    let mut options = serde_json::Map::new();
    for (k, v) in fields {
        let wire = match v {
            Value::Bool(b) => json!(b),
            Value::Int(n) => json!(n),
            Value::Str(s) => json!(s),
            Value::List(l) => Json::Array(l.iter().filter_map(Value::as_str).map(|s| json!(s)).collect()),
            _ => continue,
        };
        match k.as_str() {
            "label" => body["name"] = wire,
            "type" if !create => {}
            "choices" | "date_format" | "phone_format" => {
                options.insert(k.clone(), wire);
            }
            k => body[k] = wire,
        }
    }
    if create {
        body["tag"] = json!(tag);
    } else if body.get("name").is_none() {
        body["name"] = json!(live_label.unwrap_or(tag));
    }
    if !options.is_empty() {
        body["options"] = Json::Object(options);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_titles_and_times() {
        assert_eq!(
            subscriber_hash(" Urist.McVankab@Freddiesjokes.com "),
            subscriber_hash("urist.mcvankab@freddiesjokes.com")
        );
        assert_eq!(subscriber_hash("").len(), 32);
        let fp = html_fingerprint("<p>Hi</p>");
        let t = campaign_title("Spring", Some(&fp));
        assert_eq!(t, format!("Spring [adsctl-managed:{fp}]"));
        assert_eq!(split_title(&t), ("Spring".into(), true, Some(fp)));
        assert_eq!(split_title("Spring [adsctl-managed]"), ("Spring".into(), true, None));
        assert_eq!(split_title("Theirs"), ("Theirs".into(), false, None));
        assert_eq!(schedule_time("2026-12-07T09:15:00Z").unwrap(), "2026-12-07T09:15:00Z");
        assert_eq!(
            schedule_time("2026-12-07T10:15:00+01:00").unwrap(),
            "2026-12-07T09:15:00Z"
        );
        assert!(schedule_time("2026-12-07T09:10:00Z").is_err());
        assert_eq!(
            parse_time("2022-02-23T19:31:55+00:00").map(rfc3339).unwrap(),
            "2022-02-23T19:31:55Z"
        );
        assert!(parse_time("").is_none());
        assert_eq!(status_of("save"), "draft");
        assert_eq!(status_of("schedule"), "scheduled");
    }
}
