//! The Mailchimp Marketing API 3.0 emulator.
//!
//! Written from `../shared/reference/mailchimp-marketing` (WIRE-NOTES.md and the trimmed official Swagger
//! 3.0.55); it shares no code with adsctl's connectors. The rules it enforces, with their errors and tests, are the
//! "Mailchimp Marketing API 3.0" section of `docs/wire-rules.md`.
//!
//! API routes (all under `/3.0`, JSON in and out; errors `application/problem+json`):
//! - `GET /3.0/` (account), `GET /3.0/ping`;
//! - `GET|POST /3.0/lists`, `GET|PATCH|DELETE /3.0/lists/{list_id}`, `POST /3.0/lists/{list_id}` (batch
//!   subscribe, ≤500 members);
//! - `GET|POST …/lists/{id}/merge-fields`, `GET|PATCH|DELETE …/merge-fields/{merge_id}`;
//! - `GET|POST …/lists/{id}/members`, `GET|PUT|PATCH|DELETE …/members/{hash}` (hash = MD5 of the lower-cased
//!   address; the address itself is accepted in its place), `GET|POST …/members/{hash}/tags`,
//!   `POST …/members/{hash}/actions/delete-permanent`;
//! - `GET …/lists/{id}/tag-search?name=`;
//! - `GET|POST …/lists/{id}/segments`, `GET|POST|PATCH|DELETE …/segments/{segment_id}`,
//!   `GET|POST …/segments/{segment_id}/members`, `DELETE …/segments/{segment_id}/members/{hash}`;
//! - `GET|POST /3.0/campaigns`, `GET|PATCH|DELETE /3.0/campaigns/{id}`, `GET|PUT …/content`,
//!   `GET …/send-checklist`, `POST …/actions/{schedule|unschedule|send|test|replicate|cancel-send|pause|resume}`;
//! - `GET /3.0/reports`, `GET /3.0/reports/{id}` and its `open-details`, `click-details`, `email-activity`,
//!   `sent-to`, `unsubscribed` (synthetic deterministic numbers once a campaign is sent);
//! - `GET|POST /3.0/batches`, `GET|DELETE /3.0/batches/{id}` (results: a tar.gz under
//!   `/_emulator/mailchimp/batch-results/…`, see [`batch`]); `GET|POST /3.0/batch-webhooks`,
//!   `GET|PATCH|DELETE /3.0/batch-webhooks/{id}` (≤20 per account, stored only: nothing is delivered);
//! - OAuth ([`oauth`]): `GET /oauth2/authorize`, `POST /oauth2/token`, `GET /oauth2/metadata`.
//!
//! Readings chosen where the pack is unverified or silent (each is a row or note in docs/wire-rules.md):
//! - The emulator is one data center (seed `mailchimp.dc`, default us6), whatever the Host header says: an API key
//!   whose suffix after the last `-` is another dc is 401 "API Key Invalid" ("… or you've attempted to access the
//!   wrong datacenter"); OAuth tokens carry no dc, `/oauth2/metadata` answers the emulator's dc and an
//!   `api_endpoint` of `http://` + the Host header it was called on (clients append `/3.0`).
//! - Credentials: Basic (any user, key or token as the password), `Bearer` or `OAuth` with a key or token, and
//!   `?apikey=` on GET only. Every credential belongs to one account (user); the 10-connection limit counts
//!   in-flight requests per account.
//! - Status codes: creates answer 200 (the spec's only success code), DELETE and the 204 actions answer 204 with
//!   no body. Validation errors are 400 "Invalid Resource" with `errors[{field, message}]`: missing required
//!   fields are one error with field "" (or the parent object's name) and message "Required fields were not
//!   provided: a, b"; wrong JSON types "Schema describes string, integer found instead"; enums "Value must be one
//!   of: …".
//! - Members: DELETE archives; a later POST or PUT of an archived address brings it back (not "Member Exists");
//!   PATCH, DELETE and tags on an archived member, and DELETE of a cleaned or pending one, are 405 with
//!   `Allow: GET, PUT`. PUT needs both email_address and status_if_new (the schema's required list; its field
//!   descriptions say "only if new" — stricter on purpose); for a new member the path hash must be the MD5 of
//!   email_address. `tags` on PUT/PATCH is ignored (not an error), as other unknown fields. An unknown merge tag
//!   is 400 Invalid Resource. Required merge fields are checked on create and on the merged result of an update,
//!   unless `skip_merge_validation`. Member lists include archived members unless `status` filters them.
//! - Segments: a tag is a static segment (same id); an active tag of a new name creates one. A segment needs
//!   exactly one of static_segment and options; options carry ≤10 conditions; saved segments are stored but not
//!   evaluated (member_count 0). members_to_add / members_to_remove ≤500 each; addresses not in the audience are
//!   reported in `errors[{email_addresses, error}]`.
//! - Campaigns: a campaign that is scheduled, sending or sent cannot be edited (PATCH, PUT content): 400 "Invalid
//!   Action"; so are actions out of their state (send/schedule when not `save`/`paused`, unschedule when not
//!   scheduled). DELETE while sending is 405. Send and schedule need the checklist to pass (list exists, content,
//!   subject_line, from_name, reply_to), else 400 "Bad Request" "Your Campaign is not ready to send.".
//!   schedule_time must be on the quarter hour and in the future. A sent campaign is `sending` for
//!   `send_duration_secs` of the emulator clock (default 0: `sent` at once); a scheduled one is sent when the
//!   clock passes its schedule_time. Reports of an unsent campaign are 404.
//! - Report rates (open_rate, click_rate, …) are ratios in 0..1.
//! - Batches: pending on create, `started` at the first GET of the batch, `finished` (operations run then) at
//!   the second; GET /batches does not advance them. The results archive holds `<batch id>/<n>.json`, at most 10
//!   responses per file, in a scrambled order; each GET of a finished batch signs a fresh URL valid 10 minutes
//!   of the emulator clock (expired: 403 with the XML `AccessDenied` "Request has expired" body of a storage bucket).
//!   errored_operations counts responses whose status is not 200 (as the pack says; a 204 counts). A GET
//!   operation without `count` returns the whole collection. ≤500 pending batches per account (429 "Too Many
//!   Requests"; `max_pending_batches` in the admin config). A 21st batch webhook is 400 "Invalid Resource"; a
//!   webhook URL must be http(s) with a host (it is not called).
//! - A merge field created without `tag` gets one made of its name (upper-cased letters and digits, ≤10).
//! - count above 1000 (or not a number) is 400 "Invalid Resource" on field count; `fields` and
//!   `exclude_fields` together, or a field name the response does not have, are 400 "Bad Request".
//! - `X-Trigger-Error: <Name>` answers that glossary error (APIKeyMissing, APIKeyInvalid, Forbidden,
//!   UserDisabled, WrongDatacenter, ResourceNotFound, MethodNotAllowed, ResourceNestingTooDeep,
//!   InvalidMethodOverride, TooManyRequests, InternalServerError, BadRequest, InvalidAction, InvalidResource,
//!   JSONParseError); an unknown name is ignored.
//! - Faults: a server error is 500 "Internal Server Error", a rate-limit fault 429 "Too Many Requests" (no
//!   headers), both problem documents. Read lag is not emulated. HTTPS (426) cannot be: the emulator is HTTP.
//!
//! Admin routes (JSON; not counted, never faulted), under `/_emulator/mailchimp/`:
//! - `GET store` → the whole state; `GET objects/{id}` → a list, campaign or batch as stored;
//! - `GET lists/{id}/members` → `{"members": [{email_address, hash, status, tags}], "forgotten": [hash], "count"}`;
//! - `POST clock` `{"advance_secs": N}`;
//! - `POST config` `{"request_delay_ms", "max_connections", "send_duration_secs", "max_pending_batches"}`;
//! - `GET batch-results/{id}.tar.gz?expires=…&signature=…` → a finished batch's results (the
//!   `response_body_url`).

pub mod batch;
pub mod oauth;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json as AxumJson, Router};
use base64::Engine as _;
use md5::Digest as _;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::config::{EmulatorConfig, MailchimpListSeed};
use crate::counters::{EndpointLabel, OperationCount};
use crate::platform::{defaults, FaultKind, PlatformEmulator};
use crate::rng::{hash_str, mix64, unit};

pub const API_PREFIX: &str = "/3.0";
pub const MAX_COUNT: usize = 1000;
pub const DEFAULT_COUNT: usize = 10;
pub const MAX_BATCH_SUBSCRIBE: usize = 500;
pub const MAX_SEGMENT_BATCH: usize = 500;
pub const MAX_CONDITIONS: usize = 10;
pub const MAX_CONNECTIONS: usize = 10;
pub const MAX_PENDING_BATCHES: usize = 500;
pub const MAX_BATCH_WEBHOOKS: usize = 20;
/// How long a signed response_body_url stays valid.
pub const RESULT_URL_TTL_SECS: i64 = 600;
const MAX_BODY: usize = 16 * 1024 * 1024;
const ERROR_TYPE: &str = "https://mailchimp.com/developer/marketing/docs/errors/";
const STATUSES: &[&str] = &["subscribed", "unsubscribed", "cleaned", "pending", "transactional"];
const MERGE_TYPES: &[&str] = &[
    "text", "number", "address", "phone", "date", "url", "imageurl", "radio", "dropdown", "birthday", "zip",
];
const CAMPAIGN_TYPES: &[&str] = &["regular", "plaintext", "absplit", "rss", "variate"];

// ---------------------------------------------------------------------------------------------------------------
// Configuration and state

/// Settings of the Mailchimp emulator (from the core config and the `mailchimp:` seed section).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct McConfig {
    pub dc: String,
    /// API key → account id.
    pub api_keys: BTreeMap<String, String>,
    /// Seeded OAuth token → account id (issued tokens live in the state).
    pub oauth_tokens: BTreeMap<String, String>,
    /// OAuth client id → secret.
    pub clients: BTreeMap<String, String>,
    /// Accounts: (id, name, lists).
    pub accounts: Vec<(String, String, Vec<MailchimpListSeed>)>,
    pub max_connections: usize,
    pub request_delay_ms: u64,
    pub send_duration_secs: i64,
    pub max_pending_batches: usize,
    pub metric_seed: u64,
}

impl Default for McConfig {
    fn default() -> Self {
        McConfig::from_core(&EmulatorConfig::default())
    }
}

impl McConfig {
    pub fn from_core(c: &EmulatorConfig) -> Self {
        let s = &c.seed.mailchimp;
        let me = defaults::MAILCHIMP_ACCOUNT_ID.to_string();
        let mut api_keys = BTreeMap::new();
        api_keys.insert(defaults::MAILCHIMP_API_KEY.to_string(), me.clone());
        let mut oauth_tokens = BTreeMap::new();
        oauth_tokens.insert(defaults::MAILCHIMP_OAUTH_TOKEN.to_string(), me.clone());
        for k in &s.api_keys {
            api_keys.insert(k.clone(), me.clone());
        }
        for t in &s.oauth_tokens {
            oauth_tokens.insert(t.clone(), me.clone());
        }
        let mut clients = BTreeMap::new();
        clients.insert(
            defaults::MAILCHIMP_CLIENT_ID.to_string(),
            defaults::MAILCHIMP_CLIENT_SECRET.to_string(),
        );
        for cl in &s.clients {
            clients.insert(cl.client_id.clone(), cl.client_secret.clone());
        }
        let mut lists = vec![MailchimpListSeed {
            id: Some(defaults::MAILCHIMP_LIST_ID.to_string()),
            name: "Emulator audience".to_string(),
            members: Vec::new(),
        }];
        lists.extend(s.lists.iter().cloned());
        let mut accounts = vec![(me, defaults::MAILCHIMP_ACCOUNT_NAME.to_string(), lists)];
        for a in &s.accounts {
            for k in &a.api_keys {
                api_keys.insert(k.clone(), a.account_id.clone());
            }
            for t in &a.oauth_tokens {
                oauth_tokens.insert(t.clone(), a.account_id.clone());
            }
            accounts.push((
                a.account_id.clone(),
                a.name.clone().unwrap_or_else(|| format!("Account {}", a.account_id)),
                a.lists.clone(),
            ));
        }
        McConfig {
            dc: s.dc.clone().unwrap_or_else(|| defaults::MAILCHIMP_DC.to_string()),
            api_keys,
            oauth_tokens,
            clients,
            accounts,
            max_connections: s.max_connections.unwrap_or(MAX_CONNECTIONS),
            request_delay_ms: 0,
            send_duration_secs: 0,
            max_pending_batches: MAX_PENDING_BATCHES,
            metric_seed: c.metric_seed,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct List {
    pub id: String,
    pub web_id: i64,
    pub account: String,
    /// The writable settings as sent (name, contact, permission_reminder, campaign_defaults, …).
    pub settings: Map<String, Value>,
    pub date_created: i64,
    pub merge_fields: BTreeMap<i64, Value>,
    pub members: BTreeMap<String, Member>,
    /// Subscriber hashes of permanently deleted addresses: they can never be added again.
    pub forgotten: BTreeSet<String>,
    pub segments: BTreeMap<i64, Segment>,
    pub last_sub: Option<i64>,
    pub last_unsub: Option<i64>,
    pub campaign_last_sent: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Member {
    pub hash: String,
    pub email: String,
    pub status: String,
    pub email_type: String,
    pub merge_fields: Map<String, Value>,
    /// interests, language, vip, location, marketing_permissions, ip_signup, timestamp_signup, ip_opt,
    /// timestamp_opt as sent.
    pub extra: Map<String, Value>,
    pub web_id: i64,
    pub unique_email_id: String,
    pub contact_id: String,
    pub created_at: i64,
    pub last_changed: i64,
    pub seq: u64,
    /// Tag (static segment) id → date added.
    pub tags: BTreeMap<i64, i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Segment {
    pub id: i64,
    pub name: String,
    /// static | saved
    pub kind: String,
    pub members: BTreeSet<String>,
    pub options: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Campaign {
    pub id: String,
    pub web_id: i64,
    pub account: String,
    pub kind: String,
    /// save | schedule | sending | sent
    pub status: String,
    pub recipients: Value,
    pub settings: Value,
    pub tracking: Value,
    pub content: Option<Value>,
    pub create_time: i64,
    pub send_time: Option<i64>,
    pub sending_until: Option<i64>,
    /// Recipient addresses at send time.
    pub sent_to: Vec<String>,
    pub parent: Option<String>,
    pub seq: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Batch {
    pub id: String,
    pub account: String,
    pub operations: Vec<Value>,
    /// pending | started | finished
    pub status: String,
    pub submitted_at: i64,
    pub completed_at: Option<i64>,
    /// `{status_code, operation_id, response}` per operation, in run order.
    pub results: Vec<Value>,
    pub errored: usize,
    pub seq: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub account: String,
    pub url: String,
    pub enabled: bool,
    pub seq: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    pub account: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub accounts: BTreeMap<String, Account>,
    pub lists: BTreeMap<String, List>,
    pub campaigns: BTreeMap<String, Campaign>,
    pub batches: BTreeMap<String, Batch>,
    /// OAuth access tokens issued by /oauth2/token → account.
    pub tokens: BTreeMap<String, String>,
    /// Unused authorization codes.
    pub codes: BTreeMap<String, Code>,
    /// Batch webhooks by id.
    #[serde(default)]
    pub webhooks: BTreeMap<String, Webhook>,
    pub next: u64,
    pub clock_offset_secs: i64,
}

impl State {
    pub fn now(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        wall + self.clock_offset_secs
    }
    fn bump(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
    /// A fresh hex id of `len` digits.
    fn hex_id(&mut self, salt: &str, len: usize) -> String {
        let n = self.bump();
        let a = mix64(hash_str(salt) ^ mix64(n));
        let b = mix64(a ^ n);
        format!("{a:016x}{b:016x}")[..len].to_string()
    }
    fn int_id(&mut self) -> i64 {
        let n = self.bump();
        (n as i64) * 7 + 1000
    }
}

pub fn subscriber_hash(email: &str) -> String {
    hex::encode(md5::Md5::digest(email.trim().to_lowercase().as_bytes()))
}

pub fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string())
        .unwrap_or_default()
}

fn iso_opt(secs: Option<i64>) -> Value {
    json!(secs.map(iso).unwrap_or_default())
}

fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc().timestamp())
        })
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|t| t.and_utc().timestamp())
        })
}

fn default_merge_fields(st: &mut State, list_id: &str) -> BTreeMap<i64, Value> {
    let mut out = BTreeMap::new();
    for (i, (tag, name, ty)) in [
        ("FNAME", "First Name", "text"),
        ("LNAME", "Last Name", "text"),
        ("ADDRESS", "Address", "address"),
        ("PHONE", "Phone Number", "phone"),
    ]
    .into_iter()
    .enumerate()
    {
        let _ = st.bump();
        let id = i as i64 + 1;
        let mut options = json!({});
        if ty == "address" {
            options = json!({"default_country": 164});
        }
        if ty == "phone" {
            options = json!({"phone_format": "none"});
        }
        if ty == "text" {
            options = json!({"size": 25});
        }
        out.insert(
            id,
            json!({"merge_id": id, "tag": tag, "name": name, "type": ty, "required": false, "default_value": "",
                   "public": false, "display_order": id + 1, "options": options, "help_text": "",
                   "list_id": list_id}),
        );
    }
    out
}

fn new_list(st: &mut State, account: &str, id: Option<String>, settings: Map<String, Value>, now: i64) -> String {
    let id = id.unwrap_or_else(|| loop {
        let id = st.hex_id("list", 10);
        if !st.lists.contains_key(&id) {
            break id;
        }
    });
    let web_id = st.int_id();
    let merge_fields = default_merge_fields(st, &id);
    st.lists.insert(
        id.clone(),
        List {
            id: id.clone(),
            web_id,
            account: account.to_string(),
            settings,
            date_created: now,
            merge_fields,
            members: BTreeMap::new(),
            forgotten: BTreeSet::new(),
            segments: BTreeMap::new(),
            last_sub: None,
            last_unsub: None,
            campaign_last_sent: None,
        },
    );
    id
}

fn seed_settings(name: &str) -> Map<String, Value> {
    let v = json!({
        "name": name,
        "contact": {"company": "Emulator Inc.", "address1": "1 Loopback Way", "address2": "", "city": "Atlanta",
                    "state": "GA", "zip": "30308", "country": "US", "phone": ""},
        "permission_reminder": "You signed up on our website.",
        "use_archive_bar": true,
        "campaign_defaults": {"from_name": "Emulator", "from_email": "news@emulator.invalid",
                              "subject": "", "language": "en"},
        "notify_on_subscribe": "", "notify_on_unsubscribe": "",
        "email_type_option": false, "double_optin": false, "marketing_permissions": false,
    });
    v.as_object().cloned().unwrap_or_default()
}

fn fresh_state(cfg: &McConfig) -> State {
    let mut st = State::default();
    let now = st.now();
    for (id, name, lists) in &cfg.accounts {
        st.accounts.insert(
            id.clone(),
            Account {
                id: id.clone(),
                name: name.clone(),
                created_at: now - 86_400 * 365,
            },
        );
        for l in lists {
            let lid = new_list(&mut st, id, l.id.clone(), seed_settings(&l.name), now);
            for e in &l.members {
                let body = json!({"email_address": e, "status": "subscribed"});
                let _ = put_member(&mut st, &lid, &subscriber_hash(e), &body, now, true, false);
            }
        }
    }
    st
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/// One API error: a problem document.
#[derive(Clone, Debug)]
pub struct McErr {
    pub status: u16,
    pub title: String,
    pub detail: String,
    pub errors: Option<Vec<Value>>,
    pub allow: Option<&'static str>,
}

impl McErr {
    pub fn new(status: u16, title: &str, detail: impl Into<String>) -> Self {
        McErr {
            status,
            title: title.to_string(),
            detail: detail.into(),
            errors: None,
            allow: None,
        }
    }
    fn body(&self, instance: &str) -> Value {
        let mut b = json!({"type": ERROR_TYPE, "title": self.title, "status": self.status, "detail": self.detail,
                           "instance": instance});
        if let Some(e) = &self.errors {
            b["errors"] = json!(e);
        }
        b
    }
}

pub fn not_found() -> McErr {
    McErr::new(404, "Resource Not Found", "The requested resource could not be found.")
}
/// 400 Invalid Resource with `errors[{field, message}]`.
pub fn invalid(field: &str, message: impl Into<String>) -> McErr {
    let mut e = McErr::new(
        400,
        "Invalid Resource",
        "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
    );
    e.errors = Some(vec![json!({"field": field, "message": message.into()})]);
    e
}
fn bad_request(detail: impl Into<String>) -> McErr {
    McErr::new(400, "Bad Request", detail)
}
fn invalid_action(detail: impl Into<String>) -> McErr {
    McErr::new(400, "Invalid Action", detail)
}
fn method_not_allowed(allow: &'static str) -> McErr {
    let mut e = McErr::new(
        405,
        "Method Not Allowed",
        "The requested method and resource are not compatible. See the Allow header for this resource's available methods.",
    );
    e.allow = Some(allow);
    e
}
fn member_exists(email: &str) -> McErr {
    McErr::new(
        400,
        "Member Exists",
        format!("{email} is already a list member. Use PUT to insert or update list members."),
    )
}
fn forgotten(email: &str) -> McErr {
    McErr::new(
        400,
        "Forgotten Email Not Subscribed",
        format!(
            "{email} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list."
        ),
    )
}
fn fake_email(email: &str) -> McErr {
    McErr::new(
        400,
        "Invalid Resource",
        format!("{email} looks fake or invalid, please enter a real email address."),
    )
}
pub fn api_key_invalid(detail: &str) -> McErr {
    McErr::new(401, "API Key Invalid", detail)
}
fn api_key_missing() -> McErr {
    McErr::new(401, "API Key Missing", "Your request did not include an API key.")
}
pub fn too_many_requests() -> McErr {
    too_many_connections(MAX_CONNECTIONS)
}

fn too_many_connections(n: usize) -> McErr {
    McErr::new(
        429,
        "Too Many Requests",
        format!("You have exceeded the limit of {n} simultaneous connections."),
    )
}

/// The glossary errors `X-Trigger-Error` can ask for.
fn triggered(name: &str) -> Option<McErr> {
    let e = match name {
        "APIKeyMissing" => api_key_missing(),
        "APIKeyInvalid" => {
            api_key_invalid("Your API key may be invalid, or you've attempted to access the wrong datacenter.")
        }
        "Forbidden" => McErr::new(403, "Forbidden", "You don't have permission to access this resource."),
        "UserDisabled" => McErr::new(403, "User Disabled", "This account has been disabled."),
        "WrongDatacenter" => McErr::new(
            403,
            "Wrong Datacenter",
            "The API key provided is linked to a different datacenter.",
        ),
        "ResourceNotFound" => not_found(),
        "MethodNotAllowed" => method_not_allowed("GET"),
        "ResourceNestingTooDeep" => McErr::new(
            414,
            "Resource Nesting Too Deep",
            "The requested resource is nested too deeply.",
        ),
        "InvalidMethodOverride" => McErr::new(
            422,
            "Invalid Method Override",
            "You can only use the X-HTTP-Method-Override header with the POST method.",
        ),
        "TooManyRequests" => too_many_requests(),
        "InternalServerError" => McErr::new(
            500,
            "Internal Server Error",
            "An unexpected internal error has occurred. Please contact Support for more information.",
        ),
        "BadRequest" => bad_request("Your request could not be processed."),
        "InvalidAction" => invalid_action("The action requested was not valid for this resource."),
        "InvalidResource" => invalid("", "The resource submitted could not be validated."),
        "JSONParseError" => McErr::new(
            400,
            "JSON Parse Exception",
            "We encountered an unspecified JSON parsing error.",
        ),
        _ => return None,
    };
    Some(e)
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);

/// A UUID-shaped request id (X-Request-Id = the problem's instance).
fn request_id() -> String {
    let n = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed);
    let a = mix64(n ^ 0x6d61_696c_6368_6d70);
    let b = mix64(a ^ n);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 52) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

pub fn error_response(e: &McErr) -> Response {
    let rid = request_id();
    let mut r = (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        serde_json::to_string(&e.body(&rid)).unwrap_or_default(),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json; charset=utf-8"),
    );
    h.insert(
        header::LINK,
        HeaderValue::from_static(
            "<https://us6.api.mailchimp.com/schema/3.0/ProblemDetailDocument.json>; rel=\"describedBy\"",
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&rid) {
        h.insert("x-request-id", v);
    }
    if let Some(a) = e.allow {
        h.insert(header::ALLOW, HeaderValue::from_static(a));
    }
    r
}

/// A handler's success: the status and the body (None: 204 without a body).
#[derive(Debug)]
pub struct Out {
    pub status: u16,
    pub body: Option<Value>,
}

fn ok(v: Value) -> Result<Out, McErr> {
    Ok(Out {
        status: 200,
        body: Some(v),
    })
}
fn no_content() -> Result<Out, McErr> {
    Ok(Out {
        status: 204,
        body: None,
    })
}

fn success_response(o: Out) -> Response {
    let rid = request_id();
    let mut r = match o.body {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(b) => {
            let mut r = (
                StatusCode::from_u16(o.status).unwrap_or(StatusCode::OK),
                serde_json::to_string(&b).unwrap_or_default(),
            )
                .into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            r
        }
    };
    if let Ok(v) = HeaderValue::from_str(&rid) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

// ---------------------------------------------------------------------------------------------------------------
// Body validation helpers

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(field: &str, want: &str, got: &Value) -> McErr {
    invalid(
        field,
        format!("Schema describes {want}, {} found instead", type_name(got)),
    )
}

/// The request body as an object (an absent body is `{}`).
fn object(body: &Value) -> Result<&Map<String, Value>, McErr> {
    body.as_object().ok_or_else(|| wrong_type("", "object", body))
}

/// Every name in `names` must be present (not null) in `obj`: else "Required fields were not provided".
fn require(obj: &Map<String, Value>, names: &[&str], field: &str) -> Result<(), McErr> {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| obj.get(*n).is_none_or(Value::is_null))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("Required fields were not provided: {}", missing.join(", ")),
        ))
    }
}

/// Check JSON types of the fields present: (name, "string"|"boolean"|"integer"|"number"|"object"|"array").
fn types(obj: &Map<String, Value>, spec: &[(&str, &str)], prefix: &str) -> Result<(), McErr> {
    for (k, want) in spec {
        let Some(v) = obj.get(*k) else { continue };
        if v.is_null() {
            continue;
        }
        let good = match *want {
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            _ => true,
        };
        if !good {
            let f = if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            };
            return Err(wrong_type(&f, want, v));
        }
    }
    Ok(())
}

fn one_of(obj: &Map<String, Value>, k: &str, allowed: &[&str]) -> Result<Option<String>, McErr> {
    match obj.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(invalid(k, format!("Value must be one of: {}", allowed.join(", ")))),
        Some(v) => Err(wrong_type(k, "string", v)),
    }
}

fn str_of<'a>(obj: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    obj.get(k).and_then(Value::as_str)
}

/// local@domain.tld, no spaces.
pub fn plausible_email(e: &str) -> bool {
    let Some((local, domain)) = e.rsplit_once('@') else {
        return false;
    };
    let tld = domain.rsplit('.').next().unwrap_or("");
    !local.is_empty()
        && !e.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

/// Boolean query parameters: "true"/"1" (any case) are true, anything else false.
fn qbool(q: &[(String, String)], k: &str) -> bool {
    q.iter()
        .find(|(n, _)| n == k)
        .is_some_and(|(_, v)| v.eq_ignore_ascii_case("true") || v == "1")
}

fn qget<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// offset/count paging (count default 10, ≤1000; `unbounded` for batch GETs without count).
fn paging(q: &[(String, String)], unbounded: bool) -> Result<(usize, usize), McErr> {
    let count = match qget(q, "count") {
        None if unbounded => usize::MAX,
        None => DEFAULT_COUNT,
        Some(c) => match c.parse::<usize>() {
            Ok(n) if n <= MAX_COUNT => n,
            _ => {
                return Err(invalid(
                    "count",
                    format!("count must be a number between 0 and {MAX_COUNT}"),
                ))
            }
        },
    };
    let offset = match qget(q, "offset") {
        None => 0,
        Some(o) => o
            .parse::<usize>()
            .map_err(|_| invalid("offset", "offset must be a non-negative number"))?,
    };
    Ok((offset, count))
}

fn page(items: Vec<Value>, key: &str, q: &[(String, String)], unbounded: bool, extra: Value) -> Result<Out, McErr> {
    let (offset, count) = paging(q, unbounded)?;
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip(offset).take(count).collect();
    let mut body = json!({ key: items, "total_items": total, "_links": [] });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            body[k.as_str()] = v;
        }
    }
    ok(body)
}

// ---------------------------------------------------------------------------------------------------------------
// Partial responses: fields / exclude_fields

fn has_path(v: &Value, path: &[&str]) -> bool {
    match (v, path.split_first()) {
        (_, None) => true,
        (Value::Array(a), Some(_)) => a.is_empty() || a.iter().any(|x| has_path(x, path)),
        (Value::Object(m), Some((h, rest))) => m.get(*h).is_some_and(|x| has_path(x, rest)),
        _ => false,
    }
}

fn keep(v: &Value, paths: &[Vec<&str>]) -> Value {
    if paths.iter().any(Vec::is_empty) {
        return v.clone();
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| keep(x, paths)).collect()),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let sub: Vec<Vec<&str>> = paths
                    .iter()
                    .filter(|p| p.first() == Some(&k.as_str()))
                    .map(|p| p[1..].to_vec())
                    .collect();
                if !sub.is_empty() {
                    out.insert(k.clone(), keep(x, &sub));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn drop_paths(v: &mut Value, path: &[&str]) {
    match (v, path.split_first()) {
        (Value::Array(a), Some(_)) => a.iter_mut().for_each(|x| drop_paths(x, path)),
        (Value::Object(m), Some((h, []))) => {
            m.remove(*h);
        }
        (Value::Object(m), Some((h, rest))) => {
            if let Some(x) = m.get_mut(*h) {
                drop_paths(x, rest);
            }
        }
        _ => {}
    }
}

/// Apply `fields` / `exclude_fields` (comma lists of dot paths from the response root) to a body.
pub fn project(body: Value, q: &[(String, String)]) -> Result<Value, McErr> {
    let fields = qget(q, "fields").filter(|s| !s.is_empty());
    let exclude = qget(q, "exclude_fields").filter(|s| !s.is_empty());
    let (list, excluding) = match (fields, exclude) {
        (Some(_), Some(_)) => {
            return Err(bad_request(
                "fields and exclude_fields are mutually exclusive: send one of them.",
            ))
        }
        (Some(f), None) => (f, false),
        (None, Some(e)) => (e, true),
        (None, None) => return Ok(body),
    };
    let paths: Vec<Vec<&str>> = list.split(',').map(|p| p.trim().split('.').collect()).collect();
    if let Some(bad) = paths.iter().find(|p| !has_path(&body, p)) {
        return Err(bad_request(format!(
            "The field '{}' is not a field of this resource.",
            bad.join(".")
        )));
    }
    if excluding {
        let mut b = body;
        for p in &paths {
            drop_paths(&mut b, p);
        }
        Ok(b)
    } else {
        Ok(keep(&body, &paths))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The emulator

pub struct Inner {
    cfg: Mutex<McConfig>,
    state: Mutex<State>,
    /// In-flight API requests per account.
    inflight: Mutex<HashMap<String, usize>>,
}

impl Inner {
    pub fn config(&self) -> McConfig {
        self.cfg.lock().clone()
    }
    pub fn lock(&self) -> parking_lot::MutexGuard<'_, State> {
        self.state.lock()
    }
}

/// The Mailchimp platform emulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MailchimpEmulator {
    inner: Arc<Inner>,
}

impl Default for MailchimpEmulator {
    fn default() -> Self {
        Self::with_config(McConfig::default())
    }
}

impl MailchimpEmulator {
    pub fn new(config: &EmulatorConfig) -> Self {
        Self::with_config(McConfig::from_core(config))
    }
    pub fn with_config(cfg: McConfig) -> Self {
        let state = fresh_state(&cfg);
        MailchimpEmulator {
            inner: Arc::new(Inner {
                cfg: Mutex::new(cfg),
                state: Mutex::new(state),
                inflight: Mutex::new(HashMap::new()),
            }),
        }
    }
    pub fn config(&self) -> McConfig {
        self.inner.config()
    }
    pub fn configure(&self, f: impl FnOnce(&mut McConfig)) {
        f(&mut self.inner.cfg.lock());
    }
    /// Adds an audience (list) of the well-known account to a running emulator, as a seed file's `lists:` entry
    /// would have; nothing when a list of that id exists already.
    pub fn add_list(&self, list: &MailchimpListSeed) {
        let mut st = self.inner.lock();
        if list.id.as_ref().is_some_and(|id| st.lists.contains_key(id)) {
            return;
        }
        let now = st.now();
        let me = defaults::MAILCHIMP_ACCOUNT_ID;
        let lid = new_list(&mut st, me, list.id.clone(), seed_settings(&list.name), now);
        for e in &list.members {
            let body = json!({"email_address": e, "status": "subscribed"});
            let _ = put_member(&mut st, &lid, &subscriber_hash(e), &body, now, true, false);
        }
    }
}

/// Releases an in-flight slot when the request ends.
struct Slot {
    inner: Arc<Inner>,
    account: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.inner.inflight.lock();
        if let Some(n) = m.get_mut(&self.account) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Who is calling: the account a credential belongs to.
fn authenticate(
    cfg: &McConfig,
    st: &State,
    headers: &HeaderMap,
    method: &str,
    query: &[(String, String)],
) -> Result<String, McErr> {
    let header_cred = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
            let rest = rest.trim();
            if scheme.eq_ignore_ascii_case("basic") {
                base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .map(|s| s.split_once(':').map(|(_, p)| p.to_string()).unwrap_or(s))
            } else if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth") {
                Some(rest.to_string())
            } else {
                None
            }
        });
    let query_key = if method == "GET" {
        qget(query, "apikey").map(str::to_string)
    } else {
        None
    };
    let cred = match (header_cred, query_key) {
        (Some(None), _) => {
            return Err(api_key_invalid(
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            ))
        }
        (Some(Some(h)), Some(q)) if h != q => {
            return Err(api_key_invalid(
                "API key included in the query parameters is not consistent with the Authorization header",
            ))
        }
        (Some(Some(h)), _) => h,
        (None, Some(q)) => q,
        (None, None) => return Err(api_key_missing()),
    };
    if cred.is_empty() {
        return Err(api_key_missing());
    }
    if let Some(a) = cfg.oauth_tokens.get(&cred).or_else(|| st.tokens.get(&cred)) {
        return Ok(a.clone());
    }
    let wrong = "Your API key may be invalid, or you've attempted to access the wrong datacenter.";
    match cred.rsplit_once('-') {
        Some((_, dc)) if dc != cfg.dc => Err(api_key_invalid(wrong)),
        _ => cfg.api_keys.get(&cred).cloned().ok_or_else(|| api_key_invalid(wrong)),
    }
}

async fn api_entry(inner: Arc<Inner>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let rel = path.strip_prefix(API_PREFIX).unwrap_or("").to_string();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).unwrap_or_default();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let mut method = parts.method.as_str().to_string();
    let label = format!("{} {API_PREFIX}{}", parts.method, template_of(&rel));
    let finish = |mut r: Response, ops: u64| {
        r.extensions_mut().insert(EndpointLabel(label.clone()));
        r.extensions_mut().insert(OperationCount(ops));
        r
    };
    let cfg = inner.config();
    let account = {
        let st = inner.lock();
        authenticate(&cfg, &st, &parts.headers, &method, &query)
    };
    let account = match account {
        Ok(a) => a,
        Err(e) => return finish(error_response(&e), 1),
    };
    // The connection limit: in-flight requests per user.
    let _slot = {
        let mut m = inner.inflight.lock();
        let n = m.entry(account.clone()).or_insert(0);
        if *n >= cfg.max_connections {
            return finish(error_response(&too_many_connections(cfg.max_connections)), 1);
        }
        *n += 1;
        Slot {
            inner: inner.clone(),
            account: account.clone(),
        }
    };
    if cfg.request_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(cfg.request_delay_ms)).await;
    }
    if let Some(name) = parts.headers.get("x-trigger-error").and_then(|v| v.to_str().ok()) {
        if let Some(e) = triggered(name.trim()) {
            return finish(error_response(&e), 1);
        }
    }
    if let Some(o) = parts
        .headers
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok())
    {
        if method != "POST" {
            return finish(
                error_response(&McErr::new(
                    422,
                    "Invalid Method Override",
                    "You can only use the X-HTTP-Method-Override header with the POST method.",
                )),
                1,
            );
        }
        method = o.trim().to_ascii_uppercase();
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return finish(error_response(&bad_request("The request body is too large.")), 1),
    };
    let mut st = inner.lock();
    let now = st.now();
    let ctx = Ctx {
        account: &account,
        now,
        host: &host,
        cfg: &cfg,
        in_batch: false,
    };
    let ops = if rel == "/batches" && method == "POST" {
        serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["operations"].as_array().map(|a| a.len() as u64))
            .unwrap_or(1)
    } else {
        1
    };
    let resp = match dispatch(&ctx, &mut st, &method, &rel, &query, &body) {
        Ok(o) => success_response(o),
        Err(e) => error_response(&e),
    };
    drop(st);
    finish(resp, ops)
}

/// What a handler sees of the request besides the state.
pub struct Ctx<'a> {
    pub account: &'a str,
    pub now: i64,
    pub host: &'a str,
    pub cfg: &'a McConfig,
    /// Running as an operation of a batch (GETs without count return everything).
    pub in_batch: bool,
}

/// The path template of a path under /3.0 (counters and 405s).
pub fn template_of(rel: &str) -> String {
    let s: Vec<&str> = rel.trim_matches('/').split('/').filter(|x| !x.is_empty()).collect();
    let t = match s.as_slice() {
        [] => "/",
        ["ping"] => "/ping",
        ["lists"] => "/lists",
        ["lists", _] => "/lists/{list_id}",
        ["lists", _, "members"] => "/lists/{list_id}/members",
        ["lists", _, "members", _] => "/lists/{list_id}/members/{subscriber_hash}",
        ["lists", _, "members", _, "tags"] => "/lists/{list_id}/members/{subscriber_hash}/tags",
        ["lists", _, "members", _, "actions", "delete-permanent"] => {
            "/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent"
        }
        ["lists", _, "tag-search"] => "/lists/{list_id}/tag-search",
        ["lists", _, "merge-fields"] => "/lists/{list_id}/merge-fields",
        ["lists", _, "merge-fields", _] => "/lists/{list_id}/merge-fields/{merge_id}",
        ["lists", _, "segments"] => "/lists/{list_id}/segments",
        ["lists", _, "segments", _] => "/lists/{list_id}/segments/{segment_id}",
        ["lists", _, "segments", _, "members"] => "/lists/{list_id}/segments/{segment_id}/members",
        ["lists", _, "segments", _, "members", _] => "/lists/{list_id}/segments/{segment_id}/members/{subscriber_hash}",
        ["campaigns"] => "/campaigns",
        ["campaigns", _] => "/campaigns/{campaign_id}",
        ["campaigns", _, "content"] => "/campaigns/{campaign_id}/content",
        ["campaigns", _, "send-checklist"] => "/campaigns/{campaign_id}/send-checklist",
        ["campaigns", _, "actions", a] => return format!("/campaigns/{{campaign_id}}/actions/{a}"),
        ["batches"] => "/batches",
        ["batches", _] => "/batches/{batch_id}",
        ["batch-webhooks"] => "/batch-webhooks",
        ["batch-webhooks", _] => "/batch-webhooks/{batch_webhook_id}",
        ["reports"] => "/reports",
        ["reports", _] => "/reports/{campaign_id}",
        ["reports", _, sub] => return format!("/reports/{{campaign_id}}/{sub}"),
        ["reports", _, "click-details", _] => "/reports/{campaign_id}/click-details/{link_id}",
        _ => return rel.to_string(),
    };
    t.to_string()
}

/// The methods a template allows.
fn allowed(t: &str) -> Option<&'static str> {
    Some(match t {
        "/" | "/ping" => "GET",
        "/lists" | "/campaigns" | "/batches" | "/batch-webhooks" => "GET, POST",
        "/batch-webhooks/{batch_webhook_id}" => "GET, PATCH, DELETE",
        "/lists/{list_id}" => "GET, POST, PATCH, DELETE",
        "/lists/{list_id}/members" | "/lists/{list_id}/merge-fields" | "/lists/{list_id}/segments" => "GET, POST",
        "/lists/{list_id}/members/{subscriber_hash}" => "GET, PUT, PATCH, DELETE",
        "/lists/{list_id}/members/{subscriber_hash}/tags" => "GET, POST",
        "/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent" => "POST",
        "/lists/{list_id}/tag-search" => "GET",
        "/lists/{list_id}/merge-fields/{merge_id}" => "GET, PATCH, DELETE",
        "/lists/{list_id}/segments/{segment_id}" => "GET, POST, PATCH, DELETE",
        "/lists/{list_id}/segments/{segment_id}/members" => "GET, POST",
        "/lists/{list_id}/segments/{segment_id}/members/{subscriber_hash}" => "DELETE",
        "/campaigns/{campaign_id}" => "GET, PATCH, DELETE",
        "/campaigns/{campaign_id}/content" => "GET, PUT",
        "/campaigns/{campaign_id}/send-checklist" => "GET",
        "/batches/{batch_id}" => "GET, DELETE",
        "/reports" | "/reports/{campaign_id}" => "GET",
        t if t.starts_with("/campaigns/{campaign_id}/actions/") => "POST",
        t if t.starts_with("/reports/{campaign_id}/") => "GET",
        _ => return None,
    })
}

/// Route one request (from HTTP or from a batch operation) and apply fields/exclude_fields to its answer.
pub fn dispatch(
    ctx: &Ctx,
    st: &mut State,
    method: &str,
    rel: &str,
    q: &[(String, String)],
    body: &[u8],
) -> Result<Out, McErr> {
    tick(ctx, st);
    let t = template_of(rel);
    let Some(allow) = allowed(&t) else {
        return Err(not_found());
    };
    if !allow.split(", ").any(|m| m == method) {
        return Err(method_not_allowed(allow));
    }
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else if matches!(method, "POST" | "PUT" | "PATCH") {
        serde_json::from_slice(body).map_err(|e| {
            McErr::new(
                400,
                "JSON Parse Exception",
                format!("We encountered a JSON parsing error: {e}"),
            )
        })?
    } else {
        json!({})
    };
    let segs: Vec<String> = rel
        .trim_matches('/')
        .split('/')
        .filter(|x| !x.is_empty())
        .map(pct_decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let out = route(ctx, st, method, &s, q, &body)?;
    match out.body {
        Some(b) if method == "GET" || out.status == 200 => Ok(Out {
            status: out.status,
            body: Some(project(b, q)?),
        }),
        other => Ok(Out {
            status: out.status,
            body: other,
        }),
    }
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hexd = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hexd.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

fn route(ctx: &Ctx, st: &mut State, m: &str, s: &[&str], q: &[(String, String)], body: &Value) -> Result<Out, McErr> {
    match (m, s) {
        ("GET", []) => root(ctx, st),
        ("GET", ["ping"]) => ok(json!({"health_status": "Everything's Chimpy!"})),
        ("GET", ["lists"]) => list_lists(ctx, st, q),
        ("POST", ["lists"]) => create_list(ctx, st, body),
        ("GET", ["lists", l]) => ok(render_list(
            st,
            owned_list(ctx, st, l)?,
            qbool(q, "include_total_contacts"),
        )),
        ("POST", ["lists", l]) => batch_subscribe(ctx, st, l, q, body),
        ("PATCH", ["lists", l]) => update_list(ctx, st, l, body),
        ("DELETE", ["lists", l]) => {
            owned_list(ctx, st, l)?;
            st.lists.remove(*l);
            no_content()
        }
        ("GET", ["lists", l, "members"]) => list_members(ctx, st, l, q),
        ("POST", ["lists", l, "members"]) => create_member(ctx, st, l, q, body),
        ("GET", ["lists", l, "members", h]) => {
            let list = owned_list(ctx, st, l)?;
            let m = list.members.get(&path_hash(h)).ok_or_else(not_found)?;
            ok(render_member(list, m))
        }
        ("PUT", ["lists", l, "members", h]) => upsert_member(ctx, st, l, h, q, body),
        ("PATCH", ["lists", l, "members", h]) => patch_member(ctx, st, l, h, q, body),
        ("DELETE", ["lists", l, "members", h]) => archive_member(ctx, st, l, h),
        ("GET", ["lists", l, "members", h, "tags"]) => member_tags(ctx, st, l, h, q),
        ("POST", ["lists", l, "members", h, "tags"]) => set_member_tags(ctx, st, l, h, body),
        ("POST", ["lists", l, "members", h, "actions", "delete-permanent"]) => {
            owned_list(ctx, st, l)?;
            let hash = path_hash(h);
            let list = st.lists.get_mut(*l).ok_or_else(not_found)?;
            if list.members.remove(&hash).is_none() {
                return Err(not_found());
            }
            for seg in list.segments.values_mut() {
                seg.members.remove(&hash);
            }
            list.forgotten.insert(hash);
            no_content()
        }
        ("GET", ["lists", l, "tag-search"]) => {
            let list = owned_list(ctx, st, l)?;
            let name = qget(q, "name").unwrap_or("").to_lowercase();
            let tags: Vec<Value> = list
                .segments
                .values()
                .filter(|s| s.kind == "static" && s.name.to_lowercase().contains(&name))
                .map(|s| json!({"id": s.id, "name": s.name}))
                .collect();
            page(tags, "tags", q, ctx.in_batch, json!({}))
        }
        ("GET", ["lists", l, "merge-fields"]) => {
            let list = owned_list(ctx, st, l)?;
            let ty = qget(q, "type");
            let req = qget(q, "required").map(|_| qbool(q, "required"));
            let items: Vec<Value> = list
                .merge_fields
                .values()
                .filter(|f| ty.is_none_or(|t| f["type"] == t))
                .filter(|f| req.is_none_or(|r| f["required"] == r))
                .cloned()
                .collect();
            page(items, "merge_fields", q, ctx.in_batch, json!({"list_id": l}))
        }
        ("POST", ["lists", l, "merge-fields"]) => create_merge_field(ctx, st, l, body),
        ("GET", ["lists", l, "merge-fields", id]) => {
            let list = owned_list(ctx, st, l)?;
            let id: i64 = id.parse().map_err(|_| not_found())?;
            ok(list.merge_fields.get(&id).cloned().ok_or_else(not_found)?)
        }
        ("PATCH", ["lists", l, "merge-fields", id]) => update_merge_field(ctx, st, l, id, body),
        ("DELETE", ["lists", l, "merge-fields", id]) => {
            owned_list(ctx, st, l)?;
            let id: i64 = id.parse().map_err(|_| not_found())?;
            let list = st.lists.get_mut(*l).ok_or_else(not_found)?;
            let f = list.merge_fields.remove(&id).ok_or_else(not_found)?;
            let tag = f["tag"].as_str().unwrap_or("").to_string();
            for m in list.members.values_mut() {
                m.merge_fields.remove(&tag);
            }
            no_content()
        }
        ("GET", ["lists", l, "segments"]) => list_segments(ctx, st, l, q),
        ("POST", ["lists", l, "segments"]) => create_segment(ctx, st, l, body),
        ("GET", ["lists", l, "segments", id]) => {
            let list = owned_list(ctx, st, l)?;
            let seg = find_segment(list, id)?;
            ok(render_segment(list, seg))
        }
        ("POST", ["lists", l, "segments", id]) => batch_segment(ctx, st, l, id, body),
        ("PATCH", ["lists", l, "segments", id]) => update_segment(ctx, st, l, id, body),
        ("DELETE", ["lists", l, "segments", id]) => {
            let list = owned_list(ctx, st, l)?;
            let sid = find_segment(list, id)?.id;
            let list = st.lists.get_mut(*l).ok_or_else(not_found)?;
            list.segments.remove(&sid);
            for m in list.members.values_mut() {
                m.tags.remove(&sid);
            }
            no_content()
        }
        ("GET", ["lists", l, "segments", id, "members"]) => {
            let list = owned_list(ctx, st, l)?;
            let seg = find_segment(list, id)?;
            let items: Vec<Value> = sorted_members(list)
                .into_iter()
                .filter(|m| seg.members.contains(&m.hash))
                .map(|m| render_member(list, m))
                .collect();
            page(items, "members", q, ctx.in_batch, json!({}))
        }
        ("POST", ["lists", l, "segments", id, "members"]) => add_segment_member(ctx, st, l, id, body),
        ("DELETE", ["lists", l, "segments", id, "members", h]) => {
            let list = owned_list(ctx, st, l)?;
            let sid = find_segment(list, id)?.id;
            let hash = path_hash(h);
            let list = st.lists.get_mut(*l).ok_or_else(not_found)?;
            let seg = list.segments.get_mut(&sid).ok_or_else(not_found)?;
            if !seg.members.remove(&hash) {
                return Err(not_found());
            }
            seg.updated_at = ctx.now;
            if let Some(m) = list.members.get_mut(&hash) {
                m.tags.remove(&sid);
            }
            no_content()
        }
        ("GET", ["campaigns"]) => list_campaigns(ctx, st, q),
        ("POST", ["campaigns"]) => create_campaign(ctx, st, body),
        ("GET", ["campaigns", c]) => ok(render_campaign(st, owned_campaign(ctx, st, c)?)),
        ("PATCH", ["campaigns", c]) => update_campaign(ctx, st, c, body),
        ("DELETE", ["campaigns", c]) => {
            let camp = owned_campaign(ctx, st, c)?;
            if camp.status == "sending" {
                return Err(method_not_allowed("GET, PATCH"));
            }
            st.campaigns.remove(*c);
            no_content()
        }
        ("GET", ["campaigns", c, "content"]) => {
            let camp = owned_campaign(ctx, st, c)?;
            ok(render_content(camp))
        }
        ("PUT", ["campaigns", c, "content"]) => set_content(ctx, st, c, body),
        ("GET", ["campaigns", c, "send-checklist"]) => {
            let camp = owned_campaign(ctx, st, c)?;
            ok(checklist(st, camp))
        }
        ("POST", ["campaigns", c, "actions", a]) => campaign_action(ctx, st, c, a, body),
        ("GET", ["reports"]) => {
            let items: Vec<Value> = sorted_campaigns(st, ctx.account)
                .into_iter()
                .filter(|c| c.send_time.is_some())
                .filter(|c| qget(q, "type").is_none_or(|t| c.kind == t))
                .map(|c| report(ctx, st, c))
                .collect();
            page(items, "reports", q, ctx.in_batch, json!({}))
        }
        ("GET", ["reports", c]) => {
            let camp = sent_campaign(ctx, st, c)?;
            ok(report(ctx, st, camp))
        }
        ("GET", ["reports", c, sub]) => report_detail(ctx, st, c, sub, q),
        ("GET", ["reports", c, "click-details", link]) => {
            let camp = sent_campaign(ctx, st, c)?;
            let links = click_links(ctx, camp);
            let l = links.into_iter().find(|x| x["id"] == *link).ok_or_else(not_found)?;
            ok(l)
        }
        ("GET", ["batches"]) => {
            let mut items: Vec<&Batch> = st.batches.values().filter(|b| b.account == ctx.account).collect();
            items.sort_by_key(|b| b.seq);
            let items: Vec<Value> = items.into_iter().map(|b| batch::render(ctx, b)).collect();
            page(items, "batches", q, ctx.in_batch, json!({}))
        }
        ("POST", ["batches"]) => batch::create(ctx, st, body),
        ("GET", ["batch-webhooks"]) => {
            let mut v: Vec<&Webhook> = st.webhooks.values().filter(|w| w.account == ctx.account).collect();
            v.sort_by_key(|w| w.seq);
            let items: Vec<Value> = v.into_iter().map(render_webhook).collect();
            page(items, "webhooks", q, ctx.in_batch, json!({}))
        }
        ("POST", ["batch-webhooks"]) => create_webhook(ctx, st, body),
        ("GET", ["batch-webhooks", id]) => ok(render_webhook(owned_webhook(ctx, st, id)?)),
        ("PATCH", ["batch-webhooks", id]) => {
            owned_webhook(ctx, st, id)?;
            let o = object(body)?;
            types(o, &[("url", "string"), ("enabled", "boolean")], "")?;
            if let Some(u) = str_of(o, "url") {
                check_webhook_url(u)?;
            }
            let w = st.webhooks.get_mut(*id).ok_or_else(not_found)?;
            if let Some(u) = str_of(o, "url") {
                w.url = u.to_string();
            }
            if let Some(e) = o.get("enabled").and_then(Value::as_bool) {
                w.enabled = e;
            }
            ok(render_webhook(w))
        }
        ("DELETE", ["batch-webhooks", id]) => {
            owned_webhook(ctx, st, id)?;
            st.webhooks.remove(*id);
            no_content()
        }
        ("GET", ["batches", id]) => batch::poll(ctx, st, id),
        ("DELETE", ["batches", id]) => {
            match st.batches.get(*id) {
                Some(b) if b.account == ctx.account => {}
                _ => return Err(not_found()),
            }
            st.batches.remove(*id);
            no_content()
        }
        _ => Err(not_found()),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Batch webhooks (stored; deliveries are not made)

fn render_webhook(w: &Webhook) -> Value {
    json!({"id": w.id, "url": w.url, "enabled": w.enabled, "_links": []})
}

fn owned_webhook<'a>(ctx: &Ctx, st: &'a State, id: &str) -> Result<&'a Webhook, McErr> {
    match st.webhooks.get(id) {
        Some(w) if w.account == ctx.account => Ok(w),
        _ => Err(not_found()),
    }
}

fn check_webhook_url(u: &str) -> Result<(), McErr> {
    let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
    if rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) {
        Ok(())
    } else {
        Err(invalid("url", "A valid URL for the Webhook is required."))
    }
}

fn create_webhook(ctx: &Ctx, st: &mut State, body: &Value) -> Result<Out, McErr> {
    let o = object(body)?;
    require(o, &["url"], "")?;
    types(o, &[("url", "string"), ("enabled", "boolean")], "")?;
    let url = str_of(o, "url").unwrap_or("").to_string();
    check_webhook_url(&url)?;
    let have = st.webhooks.values().filter(|w| w.account == ctx.account).count();
    if have >= MAX_BATCH_WEBHOOKS {
        return Err(invalid(
            "",
            format!("You may only have a maximum of {MAX_BATCH_WEBHOOKS} batch webhooks."),
        ));
    }
    let id = st.hex_id("webhook", 10);
    let seq = st.bump();
    let w = Webhook {
        id: id.clone(),
        account: ctx.account.to_string(),
        url,
        enabled: o.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        seq,
    };
    let v = render_webhook(&w);
    st.webhooks.insert(id, w);
    ok(v)
}

// ---------------------------------------------------------------------------------------------------------------
// Account

fn root(ctx: &Ctx, st: &State) -> Result<Out, McErr> {
    let a = st.accounts.get(ctx.account).ok_or_else(not_found)?;
    let total: usize = st
        .lists
        .values()
        .filter(|l| l.account == ctx.account)
        .map(|l| l.members.values().filter(|m| m.status == "subscribed").count())
        .sum();
    ok(json!({
        "account_id": a.id, "login_id": format!("{}", hash_str(&a.id) % 100_000_000), "account_name": a.name,
        "email": "owner@emulator.invalid", "first_name": "Emulator", "last_name": "Owner", "username": "emulator",
        "avatar_url": "", "role": "owner", "member_since": iso(a.created_at), "pricing_plan_type": "monthly",
        "first_payment": "", "account_timezone": "America/New_York", "account_industry": "Software",
        "contact": {"company": "Emulator Inc.", "addr1": "1 Loopback Way", "addr2": "", "city": "Atlanta",
                    "state": "GA", "zip": "30308", "country": "US"},
        "pro_enabled": false, "last_login": iso(ctx.now), "total_subscribers": total,
        "industry_stats": {"open_rate": 0.21, "bounce_rate": 0.01, "click_rate": 0.025}, "_links": []
    }))
}

// ---------------------------------------------------------------------------------------------------------------
// Lists

fn owned_list<'a>(ctx: &Ctx, st: &'a State, id: &str) -> Result<&'a List, McErr> {
    match st.lists.get(id) {
        Some(l) if l.account == ctx.account => Ok(l),
        _ => Err(not_found()),
    }
}

fn render_list(_st: &State, l: &List, include_total: bool) -> Value {
    let mut v = Value::Object(l.settings.clone());
    let count = |s: &str| l.members.values().filter(|m| m.status == s).count();
    v["id"] = json!(l.id);
    v["web_id"] = json!(l.web_id);
    v["date_created"] = json!(iso(l.date_created));
    v["list_rating"] = json!(0);
    v["subscribe_url_short"] = json!(format!("http://eepurl.com/{}", &l.id[..6.min(l.id.len())]));
    v["subscribe_url_long"] = json!(format!(
        "https://emulator.us6.list-manage.com/subscribe?u=emulator&id={}",
        l.id
    ));
    v["beamer_address"] = json!(format!("us6-{}@inbound.mailchimp.com", l.id));
    v["visibility"] = json!("prv");
    v["has_welcome"] = json!(false);
    v["modules"] = json!([]);
    let mut stats = json!({
        "member_count": count("subscribed"), "unsubscribe_count": count("unsubscribed"),
        "cleaned_count": count("cleaned"), "member_count_since_send": 0, "unsubscribe_count_since_send": 0,
        "cleaned_count_since_send": 0, "campaign_count": 0, "campaign_last_sent": iso_opt(l.campaign_last_sent),
        "merge_field_count": l.merge_fields.len(), "avg_sub_rate": 0, "avg_unsub_rate": 0,
        "target_sub_rate": 0, "open_rate": 0, "click_rate": 0, "last_sub_date": iso_opt(l.last_sub),
        "last_unsub_date": iso_opt(l.last_unsub),
    });
    if include_total {
        stats["total_contacts"] = json!(l.members.len());
    }
    v["stats"] = stats;
    v["_links"] = json!([]);
    v
}

fn list_lists(ctx: &Ctx, st: &State, q: &[(String, String)]) -> Result<Out, McErr> {
    let mut lists: Vec<&List> = st.lists.values().filter(|l| l.account == ctx.account).collect();
    lists.sort_by(|a, b| a.date_created.cmp(&b.date_created).then(a.web_id.cmp(&b.web_id)));
    if qget(q, "sort_dir").is_some_and(|d| d.eq_ignore_ascii_case("desc")) {
        lists.reverse();
    }
    let email = qget(q, "email").map(subscriber_hash);
    let since = qget(q, "since_date_created").and_then(parse_time);
    let before = qget(q, "before_date_created").and_then(parse_time);
    let items: Vec<Value> = lists
        .into_iter()
        .filter(|l| email.as_ref().is_none_or(|h| l.members.contains_key(h)))
        .filter(|l| since.is_none_or(|t| l.date_created >= t))
        .filter(|l| before.is_none_or(|t| l.date_created < t))
        .map(|l| render_list(st, l, qbool(q, "include_total_contacts")))
        .collect();
    page(
        items,
        "lists",
        q,
        ctx.in_batch,
        json!({"constraints": {"may_create": true, "max_instances": 100000}}),
    )
}

/// Validate the list settings of a create or update (both need the spec's full required set).
fn list_settings(body: &Value, update: bool) -> Result<Map<String, Value>, McErr> {
    let o = object(body)?;
    require(
        o,
        &[
            "name",
            "contact",
            "permission_reminder",
            "campaign_defaults",
            "email_type_option",
        ],
        "",
    )?;
    types(
        o,
        &[
            ("name", "string"),
            ("contact", "object"),
            ("permission_reminder", "string"),
            ("use_archive_bar", "boolean"),
            ("campaign_defaults", "object"),
            ("notify_on_subscribe", "string"),
            ("notify_on_unsubscribe", "string"),
            ("email_type_option", "boolean"),
            ("double_optin", "boolean"),
            ("marketing_permissions", "boolean"),
        ],
        "",
    )?;
    let contact = o["contact"].as_object().cloned().unwrap_or_default();
    let contact_required: &[&str] = if update {
        &["company", "address1", "city", "state", "zip", "country"]
    } else {
        &["company", "address1", "city", "country"]
    };
    require(&contact, contact_required, "contact")?;
    types(
        &contact,
        &[
            ("company", "string"),
            ("address1", "string"),
            ("address2", "string"),
            ("city", "string"),
            ("state", "string"),
            ("zip", "string"),
            ("country", "string"),
            ("phone", "string"),
        ],
        "contact",
    )?;
    let cd = o["campaign_defaults"].as_object().cloned().unwrap_or_default();
    require(
        &cd,
        &["from_name", "from_email", "subject", "language"],
        "campaign_defaults",
    )?;
    types(
        &cd,
        &[
            ("from_name", "string"),
            ("from_email", "string"),
            ("subject", "string"),
            ("language", "string"),
        ],
        "campaign_defaults",
    )?;
    if !str_of(&cd, "from_email").is_some_and(plausible_email) {
        return Err(invalid(
            "campaign_defaults.from_email",
            "This value is not a valid email address.",
        ));
    }
    if str_of(o, "name").is_some_and(|n| n.trim().is_empty()) {
        return Err(invalid("name", "This value should not be blank."));
    }
    let mut out = Map::new();
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
        if let Some(v) = o.get(k).filter(|v| !v.is_null()) {
            out.insert(k.to_string(), v.clone());
        }
    }
    Ok(out)
}

fn create_list(ctx: &Ctx, st: &mut State, body: &Value) -> Result<Out, McErr> {
    let given = list_settings(body, false)?;
    let mut settings = Map::new();
    settings.insert("name".into(), json!(""));
    settings.insert("use_archive_bar".into(), json!(false));
    settings.insert("notify_on_subscribe".into(), json!(""));
    settings.insert("notify_on_unsubscribe".into(), json!(""));
    settings.insert("double_optin".into(), json!(false));
    settings.insert("marketing_permissions".into(), json!(false));
    for (k, v) in given {
        settings.insert(k, v);
    }
    let id = new_list(st, ctx.account, None, settings, ctx.now);
    ok(render_list(st, &st.lists[&id], false))
}

fn update_list(ctx: &Ctx, st: &mut State, id: &str, body: &Value) -> Result<Out, McErr> {
    owned_list(ctx, st, id)?;
    let given = list_settings(body, true)?;
    let list = st.lists.get_mut(id).ok_or_else(not_found)?;
    for (k, v) in given {
        list.settings.insert(k, v);
    }
    ok(render_list(st, &st.lists[id], false))
}

// ---------------------------------------------------------------------------------------------------------------
// Merge fields

fn merge_tag_from(name: &str, list: &List) -> String {
    let base: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(10)
        .collect();
    let base = if base.is_empty() { "MMERGE".to_string() } else { base };
    let taken = |t: &str| list.merge_fields.values().any(|f| f["tag"] == t);
    if !taken(&base) {
        return base;
    }
    (1..)
        .map(|n| format!("{}{n}", &base[..base.len().min(8)]))
        .find(|t| !taken(t))
        .unwrap_or(base)
}

fn create_merge_field(ctx: &Ctx, st: &mut State, l: &str, body: &Value) -> Result<Out, McErr> {
    let list = owned_list(ctx, st, l)?;
    let o = object(body)?;
    require(o, &["name", "type"], "")?;
    types(
        o,
        &[
            ("name", "string"),
            ("tag", "string"),
            ("required", "boolean"),
            ("default_value", "string"),
            ("public", "boolean"),
            ("display_order", "integer"),
            ("options", "object"),
            ("help_text", "string"),
        ],
        "",
    )?;
    let ty = one_of(o, "type", MERGE_TYPES)?.unwrap_or_default();
    let tag = match str_of(o, "tag") {
        Some(t) => {
            let t = t.to_uppercase();
            if list.merge_fields.values().any(|f| f["tag"] == t.as_str()) {
                return Err(invalid(
                    "tag",
                    format!("A Merge Field with the tag \"{t}\" already exists for this list."),
                ));
            }
            t
        }
        None => merge_tag_from(str_of(o, "name").unwrap_or(""), list),
    };
    let next = list.merge_fields.keys().max().copied().unwrap_or(0) + 1;
    let f = json!({
        "merge_id": next, "tag": tag, "name": o["name"], "type": ty,
        "required": o.get("required").cloned().unwrap_or(json!(false)),
        "default_value": o.get("default_value").cloned().unwrap_or(json!("")),
        "public": o.get("public").cloned().unwrap_or(json!(false)),
        "display_order": o.get("display_order").cloned().unwrap_or(json!(next + 1)),
        "options": o.get("options").cloned().unwrap_or(json!({})),
        "help_text": o.get("help_text").cloned().unwrap_or(json!("")),
        "list_id": l, "_links": [],
    });
    st.lists
        .get_mut(l)
        .ok_or_else(not_found)?
        .merge_fields
        .insert(next, f.clone());
    ok(f)
}

fn update_merge_field(ctx: &Ctx, st: &mut State, l: &str, id: &str, body: &Value) -> Result<Out, McErr> {
    let list = owned_list(ctx, st, l)?;
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let cur = list.merge_fields.get(&id).cloned().ok_or_else(not_found)?;
    let o = object(body)?;
    require(o, &["name"], "")?;
    types(
        o,
        &[
            ("name", "string"),
            ("tag", "string"),
            ("required", "boolean"),
            ("default_value", "string"),
            ("public", "boolean"),
            ("display_order", "integer"),
            ("options", "object"),
            ("help_text", "string"),
        ],
        "",
    )?;
    if let Some(t) = o.get("type").filter(|t| !t.is_null()) {
        if *t != cur["type"] {
            return Err(invalid("type", "The type of a merge field cannot be changed."));
        }
    }
    let mut f = cur;
    for k in [
        "name",
        "tag",
        "required",
        "default_value",
        "public",
        "display_order",
        "options",
        "help_text",
    ] {
        if let Some(v) = o.get(k).filter(|v| !v.is_null()) {
            f[k] = if k == "tag" {
                json!(v.as_str().unwrap_or("").to_uppercase())
            } else {
                v.clone()
            };
        }
    }
    st.lists
        .get_mut(l)
        .ok_or_else(not_found)?
        .merge_fields
        .insert(id, f.clone());
    ok(f)
}

/// Check merge field values against the audience's fields (formats per type, required ones).
fn check_merge_values(list: &List, values: &Map<String, Value>, skip_required: bool) -> Result<(), McErr> {
    let mut errors = Vec::new();
    for (tag, v) in values {
        let Some(f) = list.merge_fields.values().find(|f| f["tag"] == tag.as_str()) else {
            errors.push(json!({"field": tag, "message": "This merge field does not exist."}));
            continue;
        };
        if let Some(msg) = merge_value_error(f, v) {
            errors.push(json!({"field": tag, "message": msg}));
        }
    }
    if !skip_required {
        for f in list.merge_fields.values() {
            if f["required"] != true {
                continue;
            }
            let tag = f["tag"].as_str().unwrap_or("");
            let empty = match values.get(tag) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                _ => false,
            };
            if empty {
                errors.push(json!({"field": tag, "message": "Please enter a value"}));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        let mut e = invalid("", "");
        e.detail = "Your merge fields were invalid.".to_string();
        e.errors = Some(errors);
        Err(e)
    }
}

fn merge_value_error(f: &Value, v: &Value) -> Option<String> {
    let ty = f["type"].as_str().unwrap_or("text");
    if v.is_null() || v.as_str() == Some("") {
        return None;
    }
    let s = v.as_str();
    match ty {
        "address" => {
            let Some(a) = v.as_object() else {
                return Some("Please enter a complete address".into());
            };
            let missing = ["addr1", "city", "state", "zip"]
                .iter()
                .any(|k| a.get(*k).and_then(Value::as_str).is_none_or(|x| x.trim().is_empty()));
            missing.then(|| "Please enter a complete address".into())
        }
        "number" => match v {
            Value::Number(_) => None,
            Value::String(x) if x.trim().parse::<f64>().is_ok() => None,
            _ => Some("Please enter a number".into()),
        },
        _ if s.is_none() => Some(format!("Schema describes string, {} found instead", type_name(v))),
        "text" => (s.unwrap_or("").len() > 255).then(|| "Please enter no more than 255 characters".into()),
        "radio" | "dropdown" => {
            let choices = f["options"]["choices"].as_array().cloned().unwrap_or_default();
            (!choices.iter().any(|c| c.as_str() == s)).then(|| "Please choose one of the listed options".into())
        }
        "date" => {
            let x = s.unwrap_or("");
            let good = ["%Y-%m-%d", "%Y/%m/%d", "%d-%m-%Y", "%m/%d/%Y"]
                .iter()
                .any(|fmt| chrono::NaiveDate::parse_from_str(x, fmt).is_ok());
            (!good).then(|| "Please enter a valid date".into())
        }
        "birthday" => {
            let x = s.unwrap_or("");
            let good = x.len() == 5 && chrono::NaiveDate::parse_from_str(&format!("2000/{x}"), "%Y/%m/%d").is_ok();
            (!good).then(|| "Please enter a valid birthday (MM/DD)".into())
        }
        "zip" => {
            let x = s.unwrap_or("");
            (!(x.len() == 5 && x.bytes().all(|b| b.is_ascii_digit()))).then(|| "Please enter a 5-digit zip code".into())
        }
        "url" | "imageurl" => {
            let x = s.unwrap_or("");
            (!(x.starts_with("http://") || x.starts_with("https://"))).then(|| "Please enter a valid URL".into())
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Members

/// A path's subscriber hash: the hash itself, or an email address (hashed).
fn path_hash(h: &str) -> String {
    if h.contains('@') {
        subscriber_hash(h)
    } else {
        h.to_lowercase()
    }
}

fn sorted_members(list: &List) -> Vec<&Member> {
    let mut v: Vec<&Member> = list.members.values().collect();
    v.sort_by_key(|m| m.seq);
    v
}

fn render_member(list: &List, m: &Member) -> Value {
    let mut merge = Map::new();
    for f in list.merge_fields.values() {
        let tag = f["tag"].as_str().unwrap_or("").to_string();
        merge.insert(tag.clone(), m.merge_fields.get(&tag).cloned().unwrap_or(json!("")));
    }
    let tags: Vec<Value> = m
        .tags
        .keys()
        .filter_map(|id| list.segments.get(id))
        .map(|s| json!({"id": s.id, "name": s.name}))
        .collect();
    let fname = m.merge_fields.get("FNAME").and_then(Value::as_str).unwrap_or("");
    let lname = m.merge_fields.get("LNAME").and_then(Value::as_str).unwrap_or("");
    let x = |k: &str, d: Value| m.extra.get(k).cloned().unwrap_or(d);
    json!({
        "id": m.hash, "email_address": m.email, "unique_email_id": m.unique_email_id, "contact_id": m.contact_id,
        "full_name": format!("{fname} {lname}").trim(), "web_id": m.web_id, "email_type": m.email_type,
        "status": m.status, "unsubscribe_reason": "", "consents_to_one_to_one_messaging": true,
        "sms_phone_number": "", "sms_subscription_status": "", "merge_fields": merge,
        "interests": x("interests", json!({})),
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": x("ip_signup", json!("")), "timestamp_signup": x("timestamp_signup", json!("")),
        "ip_opt": x("ip_opt", json!("")), "timestamp_opt": x("timestamp_opt", json!(iso(m.created_at))),
        "member_rating": 2, "last_changed": iso(m.last_changed), "language": x("language", json!("")),
        "vip": x("vip", json!(false)), "email_client": "",
        "location": x("location", json!({"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0,
                                         "country_code": "", "timezone": ""})),
        "marketing_permissions": x("marketing_permissions", json!([])),
        "source": "API - Generic", "tags_count": tags.len(), "tags": tags, "list_id": list.id, "_links": [],
    })
}

fn list_members(ctx: &Ctx, st: &State, l: &str, q: &[(String, String)]) -> Result<Out, McErr> {
    let list = owned_list(ctx, st, l)?;
    let status = qget(q, "status");
    if let Some(s) = status {
        if !STATUSES.contains(&s) && s != "archived" {
            return Err(invalid(
                "status",
                format!("Value must be one of: {}, archived", STATUSES.join(", ")),
            ));
        }
    }
    let since = qget(q, "since_last_changed").and_then(parse_time);
    let before = qget(q, "before_last_changed").and_then(parse_time);
    let mut members = sorted_members(list);
    if qget(q, "sort_field").is_some() {
        members.sort_by_key(|m| m.last_changed);
    }
    if qget(q, "sort_dir").is_some_and(|d| d.eq_ignore_ascii_case("desc")) {
        members.reverse();
    }
    let items: Vec<Value> = members
        .into_iter()
        .filter(|m| status.is_none_or(|s| m.status == s))
        .filter(|m| qget(q, "email_type").is_none_or(|t| m.email_type == t))
        .filter(|m| qget(q, "unique_email_id").is_none_or(|u| m.unique_email_id == u))
        .filter(|m| !qbool(q, "vip_only") || m.extra.get("vip") == Some(&json!(true)))
        .filter(|m| since.is_none_or(|t| m.last_changed >= t))
        .filter(|m| before.is_none_or(|t| m.last_changed < t))
        .map(|m| render_member(list, m))
        .collect();
    page(items, "members", q, ctx.in_batch, json!({"list_id": l}))
}

const MEMBER_TYPES: &[(&str, &str)] = &[
    ("email_address", "string"),
    ("status", "string"),
    ("status_if_new", "string"),
    ("email_type", "string"),
    ("merge_fields", "object"),
    ("interests", "object"),
    ("language", "string"),
    ("vip", "boolean"),
    ("location", "object"),
    ("marketing_permissions", "array"),
    ("ip_signup", "string"),
    ("timestamp_signup", "string"),
    ("ip_opt", "string"),
    ("timestamp_opt", "string"),
];

/// Create or update one member (after the endpoint's own checks). `creating_status` is the status a new member
/// gets; an existing one takes `status` when sent.
fn write_member(
    st: &mut State,
    l: &str,
    hash: &str,
    o: &Map<String, Value>,
    creating_status: Option<&str>,
    now: i64,
    skip_merge: bool,
) -> Result<(), McErr> {
    let web_id = st.int_id();
    let uid = st.hex_id("uid", 10);
    let cid = st.hex_id("contact", 32);
    let seq = st.bump();
    let list = st.lists.get_mut(l).ok_or_else(not_found)?;
    let existing = list.members.get(hash).cloned();
    let email = str_of(o, "email_address")
        .map(|e| e.trim().to_string())
        .or_else(|| existing.as_ref().map(|m| m.email.clone()))
        .unwrap_or_default();
    let mut m = match existing {
        Some(m) => m,
        None => Member {
            hash: hash.to_string(),
            email: email.clone(),
            status: creating_status.unwrap_or("subscribed").to_string(),
            email_type: "html".into(),
            merge_fields: Map::new(),
            extra: Map::new(),
            web_id,
            unique_email_id: uid,
            contact_id: cid,
            created_at: now,
            last_changed: now,
            seq,
            tags: BTreeMap::new(),
        },
    };
    let is_new = !list.members.contains_key(hash);
    let was = m.status.clone();
    if is_new {
        m.status = creating_status.unwrap_or("subscribed").to_string();
    } else if let Some(s) = str_of(o, "status") {
        m.status = s.to_string();
    } else if was == "archived" {
        m.status = creating_status.unwrap_or("subscribed").to_string();
    }
    if let Some(t) = str_of(o, "email_type") {
        m.email_type = t.to_string();
    }
    if let Some(Value::Object(mf)) = o.get("merge_fields") {
        for (k, v) in mf {
            m.merge_fields.insert(k.clone(), v.clone());
        }
    }
    for k in [
        "interests",
        "language",
        "vip",
        "location",
        "marketing_permissions",
        "ip_signup",
        "timestamp_signup",
        "ip_opt",
        "timestamp_opt",
    ] {
        if let Some(v) = o.get(k).filter(|v| !v.is_null()) {
            m.extra.insert(k.to_string(), v.clone());
        }
    }
    check_merge_values(list, &m.merge_fields, skip_merge)?;
    m.email = email;
    m.last_changed = now;
    if m.status != was || is_new {
        match m.status.as_str() {
            "subscribed" => list.last_sub = Some(now),
            "unsubscribed" => list.last_unsub = Some(now),
            _ => {}
        }
    }
    list.members.insert(hash.to_string(), m);
    Ok(())
}

/// Add tags by name to a member, creating static segments for new names.
fn tag_member(st: &mut State, l: &str, hash: &str, names: &[String], active: bool, now: i64) {
    for name in names {
        let existing = st.lists.get(l).and_then(|list| {
            list.segments
                .values()
                .find(|s| s.kind == "static" && s.name == *name)
                .map(|s| s.id)
        });
        let sid = match existing {
            Some(id) => id,
            None if active => {
                let id = st.int_id();
                if let Some(list) = st.lists.get_mut(l) {
                    list.segments.insert(
                        id,
                        Segment {
                            id,
                            name: name.clone(),
                            kind: "static".into(),
                            members: BTreeSet::new(),
                            options: json!({}),
                            created_at: now,
                            updated_at: now,
                        },
                    );
                }
                id
            }
            None => continue,
        };
        let Some(list) = st.lists.get_mut(l) else { return };
        let (Some(seg), Some(m)) = (list.segments.get_mut(&sid), list.members.get_mut(hash)) else {
            continue;
        };
        if active {
            seg.members.insert(hash.to_string());
            m.tags.entry(sid).or_insert(now);
        } else {
            seg.members.remove(hash);
            m.tags.remove(&sid);
        }
        seg.updated_at = now;
    }
}

fn check_member_body(o: &Map<String, Value>) -> Result<(), McErr> {
    types(o, MEMBER_TYPES, "")?;
    if let Some(e) = str_of(o, "email_address") {
        if !plausible_email(e.trim()) {
            return Err(fake_email(e));
        }
    }
    one_of(o, "email_type", &["html", "text"])?;
    Ok(())
}

fn create_member(ctx: &Ctx, st: &mut State, l: &str, q: &[(String, String)], body: &Value) -> Result<Out, McErr> {
    owned_list(ctx, st, l)?;
    let o = object(body)?;
    require(o, &["email_address", "status"], "")?;
    check_member_body(o)?;
    let status = one_of(o, "status", STATUSES)?.unwrap_or_default();
    types(o, &[("tags", "array")], "")?;
    let email = str_of(o, "email_address").unwrap_or("").trim().to_string();
    let hash = subscriber_hash(&email);
    let list = &st.lists[l];
    if list.forgotten.contains(&hash) {
        return Err(forgotten(&email));
    }
    if list.members.get(&hash).is_some_and(|m| m.status != "archived") {
        return Err(member_exists(&email));
    }
    let tags: Vec<String> = match o.get("tags") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong_type("tags", "string", t))
            })
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    write_member(
        st,
        l,
        &hash,
        o,
        Some(&status),
        ctx.now,
        qbool(q, "skip_merge_validation"),
    )?;
    tag_member(st, l, &hash, &tags, true, ctx.now);
    let list = &st.lists[l];
    ok(render_member(list, &list.members[&hash]))
}

fn upsert_member(
    ctx: &Ctx,
    st: &mut State,
    l: &str,
    h: &str,
    q: &[(String, String)],
    body: &Value,
) -> Result<Out, McErr> {
    owned_list(ctx, st, l)?;
    let o = object(body)?;
    require(o, &["email_address", "status_if_new"], "")?;
    check_member_body(o)?;
    let status_if_new = one_of(o, "status_if_new", STATUSES)?.unwrap_or_default();
    one_of(o, "status", STATUSES)?;
    let _ = status_if_new;
    let hash = path_hash(h);
    let final_hash = put_member(st, l, &hash, body, ctx.now, qbool(q, "skip_merge_validation"), true)?;
    let list = &st.lists[l];
    ok(render_member(list, &list.members[&final_hash]))
}

/// The PUT semantics (also used by seeding): `check_hash` makes a new member's path hash match its address.
fn put_member(
    st: &mut State,
    l: &str,
    hash: &str,
    body: &Value,
    now: i64,
    skip_merge: bool,
    check_hash: bool,
) -> Result<String, McErr> {
    let o = body.as_object().cloned().unwrap_or_default();
    let email = str_of(&o, "email_address").unwrap_or("").trim().to_string();
    let list = st.lists.get(l).ok_or_else(not_found)?;
    let existing = list.members.get(hash);
    match existing {
        None => {
            if list.forgotten.contains(hash) || list.forgotten.contains(&subscriber_hash(&email)) {
                return Err(forgotten(&email));
            }
            if check_hash && subscriber_hash(&email) != hash {
                return Err(invalid(
                    "email_address",
                    "The subscriber hash in the path is not the MD5 hash of the lower-cased email_address.",
                ));
            }
            let status = str_of(&o, "status_if_new")
                .or_else(|| str_of(&o, "status"))
                .unwrap_or("subscribed")
                .to_string();
            write_member(st, l, hash, &o, Some(&status), now, skip_merge)?;
            Ok(hash.to_string())
        }
        Some(m) => {
            let new_hash = subscriber_hash(&email);
            if !email.is_empty() && new_hash != hash {
                // A changed address: the member moves to the new hash.
                if list.members.contains_key(&new_hash) {
                    return Err(member_exists(&email));
                }
                if list.forgotten.contains(&new_hash) {
                    return Err(forgotten(&email));
                }
                let mut moved = m.clone();
                moved.hash = new_hash.clone();
                let list = st.lists.get_mut(l).ok_or_else(not_found)?;
                list.members.remove(hash);
                for seg in list.segments.values_mut() {
                    if seg.members.remove(hash) {
                        seg.members.insert(new_hash.clone());
                    }
                }
                list.members.insert(new_hash.clone(), moved);
                let fallback = str_of(&o, "status_if_new").map(str::to_string);
                write_member(st, l, &new_hash, &o, fallback.as_deref(), now, skip_merge)?;
                return Ok(new_hash);
            }
            let fallback = str_of(&o, "status_if_new").map(str::to_string);
            write_member(st, l, hash, &o, fallback.as_deref(), now, skip_merge)?;
            Ok(hash.to_string())
        }
    }
}

fn patch_member(
    ctx: &Ctx,
    st: &mut State,
    l: &str,
    h: &str,
    q: &[(String, String)],
    body: &Value,
) -> Result<Out, McErr> {
    let list = owned_list(ctx, st, l)?;
    let hash = path_hash(h);
    let m = list.members.get(&hash).ok_or_else(not_found)?;
    if m.status == "archived" {
        return Err(method_not_allowed("GET, PUT"));
    }
    let o = object(body)?;
    check_member_body(o)?;
    one_of(o, "status", &["subscribed", "unsubscribed", "cleaned", "pending"])?;
    if let Some(e) = str_of(o, "email_address") {
        let nh = subscriber_hash(e);
        if nh != hash && (list.members.contains_key(&nh) || list.forgotten.contains(&nh)) {
            return Err(if list.forgotten.contains(&nh) {
                forgotten(e)
            } else {
                member_exists(e)
            });
        }
    }
    let final_hash = put_member(st, l, &hash, body, ctx.now, qbool(q, "skip_merge_validation"), false)?;
    let list = &st.lists[l];
    ok(render_member(list, &list.members[&final_hash]))
}

fn archive_member(ctx: &Ctx, st: &mut State, l: &str, h: &str) -> Result<Out, McErr> {
    owned_list(ctx, st, l)?;
    let hash = path_hash(h);
    let list = st.lists.get_mut(l).ok_or_else(not_found)?;
    let m = list.members.get_mut(&hash).ok_or_else(not_found)?;
    if matches!(m.status.as_str(), "archived" | "cleaned" | "pending") {
        return Err(method_not_allowed("GET, PUT"));
    }
    m.status = "archived".into();
    m.last_changed = ctx.now;
    no_content()
}

fn member_tags(ctx: &Ctx, st: &State, l: &str, h: &str, q: &[(String, String)]) -> Result<Out, McErr> {
    let list = owned_list(ctx, st, l)?;
    let m = list.members.get(&path_hash(h)).ok_or_else(not_found)?;
    let tags: Vec<Value> = m
        .tags
        .iter()
        .filter_map(|(id, at)| {
            list.segments
                .get(id)
                .map(|s| json!({"id": s.id, "name": s.name, "date_added": iso(*at)}))
        })
        .collect();
    page(tags, "tags", q, ctx.in_batch, json!({}))
}

fn set_member_tags(ctx: &Ctx, st: &mut State, l: &str, h: &str, body: &Value) -> Result<Out, McErr> {
    let list = owned_list(ctx, st, l)?;
    let hash = path_hash(h);
    let m = list.members.get(&hash).ok_or_else(not_found)?;
    if m.status == "archived" {
        return Err(method_not_allowed("GET, PUT"));
    }
    let o = object(body)?;
    require(o, &["tags"], "")?;
    types(o, &[("tags", "array"), ("is_syncing", "boolean")], "")?;
    let mut ops = Vec::new();
    for (i, t) in o["tags"].as_array().cloned().unwrap_or_default().iter().enumerate() {
        let t = t
            .as_object()
            .ok_or_else(|| wrong_type(&format!("tags.{i}"), "object", t))?;
        require(t, &["name", "status"], &format!("tags.{i}"))?;
        types(t, &[("name", "string"), ("status", "string")], &format!("tags.{i}"))?;
        let status = str_of(t, "status").unwrap_or("");
        if status != "active" && status != "inactive" {
            return Err(invalid(
                &format!("tags.{i}.status"),
                "Value must be one of: inactive, active",
            ));
        }
        ops.push((str_of(t, "name").unwrap_or("").to_string(), status == "active"));
    }
    for (name, active) in ops {
        tag_member(st, l, &hash, &[name], active, ctx.now);
    }
    no_content()
}

fn batch_subscribe(ctx: &Ctx, st: &mut State, l: &str, q: &[(String, String)], body: &Value) -> Result<Out, McErr> {
    owned_list(ctx, st, l)?;
    let o = object(body)?;
    require(o, &["members"], "")?;
    types(
        o,
        &[
            ("members", "array"),
            ("update_existing", "boolean"),
            ("sync_tags", "boolean"),
        ],
        "",
    )?;
    let members = o["members"].as_array().cloned().unwrap_or_default();
    if members.len() > MAX_BATCH_SUBSCRIBE {
        return Err(invalid(
            "members",
            format!("You may only add or update up to {MAX_BATCH_SUBSCRIBE} members at a time."),
        ));
    }
    let update = o.get("update_existing") == Some(&json!(true));
    let skip = qbool(q, "skip_merge_validation");
    let (mut new, mut updated, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for (i, m) in members.iter().enumerate() {
        let err = |e: &McErr, email: &str, code: &str| {
            let (field, fm) = e
                .errors
                .as_ref()
                .and_then(|x| x.first())
                .map(|x| (x["field"].clone(), x["message"].clone()))
                .unwrap_or((json!(""), json!("")));
            json!({"email_address": email, "error": e.detail, "error_code": code, "field": field, "field_message": fm})
        };
        let Some(mo) = m.as_object() else {
            errors.push(err(
                &wrong_type(&format!("members.{i}"), "object", m),
                "",
                "ERROR_GENERIC",
            ));
            continue;
        };
        let email = str_of(mo, "email_address").unwrap_or("").trim().to_string();
        let checked = require(mo, &["email_address", "status"], "")
            .and_then(|_| check_member_body(mo))
            .and_then(|_| one_of(mo, "status", STATUSES));
        if let Err(e) = checked {
            errors.push(err(&e, &email, "ERROR_GENERIC"));
            continue;
        }
        let hash = subscriber_hash(&email);
        let list = &st.lists[l];
        if list.forgotten.contains(&hash) {
            errors.push(err(&forgotten(&email), &email, "ERROR_GENERIC"));
            continue;
        }
        let exists = list.members.get(&hash).is_some_and(|m| m.status != "archived");
        if exists && !update {
            errors.push(err(&member_exists(&email), &email, "ERROR_CONTACT_EXISTS"));
            continue;
        }
        let status = str_of(mo, "status").unwrap_or("subscribed").to_string();
        match write_member(st, l, &hash, mo, Some(&status), ctx.now, skip) {
            Ok(()) => {
                let list = &st.lists[l];
                let r = render_member(list, &list.members[&hash]);
                if exists {
                    updated.push(r)
                } else {
                    new.push(r)
                }
            }
            Err(e) => errors.push(err(&e, &email, "ERROR_GENERIC")),
        }
    }
    ok(json!({
        "new_members": new, "updated_members": updated, "errors": errors, "total_created": new.len(),
        "total_updated": updated.len(), "error_count": errors.len(), "_links": [],
    }))
}

// ---------------------------------------------------------------------------------------------------------------
// Segments (a tag is a static segment)

fn find_segment<'a>(list: &'a List, id: &str) -> Result<&'a Segment, McErr> {
    let id: i64 = id.parse().map_err(|_| not_found())?;
    list.segments.get(&id).ok_or_else(not_found)
}

fn render_segment(list: &List, s: &Segment) -> Value {
    json!({
        "id": s.id, "name": s.name, "member_count": s.members.len(), "type": s.kind,
        "created_at": iso(s.created_at), "updated_at": iso(s.updated_at), "options": s.options,
        "list_id": list.id, "_links": [],
    })
}

fn list_segments(ctx: &Ctx, st: &State, l: &str, q: &[(String, String)]) -> Result<Out, McErr> {
    let list = owned_list(ctx, st, l)?;
    let ty = qget(q, "type");
    let items: Vec<Value> = list
        .segments
        .values()
        .filter(|s| ty.is_none_or(|t| s.kind == t))
        .map(|s| render_segment(list, s))
        .collect();
    page(items, "segments", q, ctx.in_batch, json!({"list_id": l}))
}

/// static_segment xor options; ≤10 conditions. Returns (kind, static emails, options).
/// (kind, static emails, options) of a segment body.
type SegmentParts = (Option<String>, Option<Vec<String>>, Value);

fn segment_body(o: &Map<String, Value>) -> Result<SegmentParts, McErr> {
    types(
        o,
        &[("name", "string"), ("static_segment", "array"), ("options", "object")],
        "",
    )?;
    let has_static = o.get("static_segment").is_some_and(|v| !v.is_null());
    let has_options = o.get("options").is_some_and(|v| !v.is_null());
    if has_static && has_options {
        return Err(invalid(
            "static_segment",
            "static_segment cannot be provided with the options field.",
        ));
    }
    if has_options {
        let opts = o["options"].as_object().cloned().unwrap_or_default();
        one_of(&opts, "match", &["any", "all"]).map_err(|mut e| {
            e.errors = Some(vec![
                json!({"field": "options.match", "message": "Value must be one of: any, all"}),
            ]);
            e
        })?;
        types(&opts, &[("conditions", "array")], "options")?;
        let n = opts.get("conditions").and_then(Value::as_array).map_or(0, Vec::len);
        if n > MAX_CONDITIONS {
            return Err(invalid(
                "options.conditions",
                format!("A segment may have at most {MAX_CONDITIONS} conditions."),
            ));
        }
        return Ok((Some("saved".into()), None, Value::Object(opts)));
    }
    if has_static {
        let emails = o["static_segment"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| {
                e.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong_type("static_segment", "string", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((Some("static".into()), Some(emails), json!({})));
    }
    Ok((None, None, json!({})))
}

fn create_segment(ctx: &Ctx, st: &mut State, l: &str, body: &Value) -> Result<Out, McErr> {
    owned_list(ctx, st, l)?;
    let o = object(body)?;
    require(o, &["name"], "")?;
    let (kind, emails, options) = segment_body(o)?;
    let Some(kind) = kind else {
        return Err(invalid("", "Either static_segment or options must be provided."));
    };
    let id = st.int_id();
    let list = st.lists.get_mut(l).ok_or_else(not_found)?;
    let mut seg = Segment {
        id,
        name: str_of(o, "name").unwrap_or("").to_string(),
        kind,
        members: BTreeSet::new(),
        options,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    for e in emails.unwrap_or_default() {
        let h = subscriber_hash(&e);
        if let Some(m) = list.members.get_mut(&h) {
            seg.members.insert(h);
            m.tags.insert(id, ctx.now);
        }
    }
    list.segments.insert(id, seg);
    let list = &st.lists[l];
    ok(render_segment(list, &list.segments[&id]))
}

fn update_segment(ctx: &Ctx, st: &mut State, l: &str, id: &str, body: &Value) -> Result<Out, McErr> {
    let list = owned_list(ctx, st, l)?;
    let sid = find_segment(list, id)?.id;
    let o = object(body)?;
    require(o, &["name"], "")?;
    let (kind, emails, options) = segment_body(o)?;
    let list = st.lists.get_mut(l).ok_or_else(not_found)?;
    let cur_kind = list.segments[&sid].kind.clone();
    if kind.as_ref().is_some_and(|k| *k != cur_kind) {
        return Err(invalid(
            if cur_kind == "static" {
                "options"
            } else {
                "static_segment"
            },
            format!("This segment is {cur_kind}: its type cannot be changed."),
        ));
    }
    if let Some(emails) = emails {
        let old: Vec<String> = list.segments[&sid].members.iter().cloned().collect();
        for h in old {
            if let Some(m) = list.members.get_mut(&h) {
                m.tags.remove(&sid);
            }
        }
        let mut set = BTreeSet::new();
        for e in emails {
            let h = subscriber_hash(&e);
            if let Some(m) = list.members.get_mut(&h) {
                m.tags.insert(sid, ctx.now);
                set.insert(h);
            }
        }
        if let Some(s) = list.segments.get_mut(&sid) {
            s.members = set;
        }
    }
    if let Some(s) = list.segments.get_mut(&sid) {
        s.name = str_of(o, "name").unwrap_or("").to_string();
        if cur_kind == "saved" && !options.is_null() && options != json!({}) {
            s.options = options;
        }
        s.updated_at = ctx.now;
    }
    let list = &st.lists[l];
    ok(render_segment(list, &list.segments[&sid]))
}

fn batch_segment(ctx: &Ctx, st: &mut State, l: &str, id: &str, body: &Value) -> Result<Out, McErr> {
    let list = owned_list(ctx, st, l)?;
    let seg = find_segment(list, id)?;
    let sid = seg.id;
    if seg.kind != "static" {
        return Err(invalid_action(
            "Members can only be added to or removed from static segments.",
        ));
    }
    let o = object(body)?;
    types(o, &[("members_to_add", "array"), ("members_to_remove", "array")], "")?;
    let strings = |k: &str| -> Result<Vec<String>, McErr> {
        let a = o.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
        if a.len() > MAX_SEGMENT_BATCH {
            return Err(invalid(
                k,
                format!("A maximum of {MAX_SEGMENT_BATCH} members can be sent."),
            ));
        }
        a.iter()
            .map(|e| {
                e.as_str()
                    .map(|s| s.trim().to_string())
                    .ok_or_else(|| wrong_type(k, "string", e))
            })
            .collect()
    };
    let add = strings("members_to_add")?;
    let remove = strings("members_to_remove")?;
    let list = st.lists.get_mut(l).ok_or_else(not_found)?;
    let (mut added, mut removed, mut missing) = (Vec::new(), Vec::new(), Vec::new());
    for e in add {
        let h = subscriber_hash(&e);
        match list.members.get_mut(&h) {
            Some(m) => {
                m.tags.entry(sid).or_insert(ctx.now);
                if let Some(s) = list.segments.get_mut(&sid) {
                    s.members.insert(h.clone());
                }
                added.push(h);
            }
            None => missing.push(e),
        }
    }
    let mut not_in = Vec::new();
    for e in remove {
        let h = subscriber_hash(&e);
        let was = list.segments.get_mut(&sid).is_some_and(|s| s.members.remove(&h));
        if was {
            if let Some(m) = list.members.get_mut(&h) {
                m.tags.remove(&sid);
            }
            removed.push(h);
        } else {
            not_in.push(e);
        }
    }
    if let Some(s) = list.segments.get_mut(&sid) {
        s.updated_at = ctx.now;
    }
    let list = &st.lists[l];
    let render = |hs: &[String]| -> Vec<Value> {
        hs.iter()
            .filter_map(|h| list.members.get(h))
            .map(|m| render_member(list, m))
            .collect()
    };
    let mut errors = Vec::new();
    if !missing.is_empty() {
        errors.push(json!({"email_addresses": missing, "error": "Email addresses are not subscribed to the list"}));
    }
    if !not_in.is_empty() {
        errors.push(json!({"email_addresses": not_in, "error": "Email addresses are not in the segment"}));
    }
    let error_count: usize = errors
        .iter()
        .map(|e| e["email_addresses"].as_array().map_or(0, Vec::len))
        .sum();
    ok(json!({
        "members_added": render(&added), "members_removed": render(&removed), "errors": errors,
        "total_added": added.len(), "total_removed": removed.len(), "error_count": error_count, "_links": [],
    }))
}

fn add_segment_member(ctx: &Ctx, st: &mut State, l: &str, id: &str, body: &Value) -> Result<Out, McErr> {
    let list = owned_list(ctx, st, l)?;
    let seg = find_segment(list, id)?;
    let sid = seg.id;
    if seg.kind != "static" {
        return Err(invalid_action("Members can only be added to static segments."));
    }
    let o = object(body)?;
    require(o, &["email_address"], "")?;
    types(o, &[("email_address", "string")], "")?;
    let h = subscriber_hash(str_of(o, "email_address").unwrap_or(""));
    let list = st.lists.get_mut(l).ok_or_else(not_found)?;
    let Some(m) = list.members.get_mut(&h) else {
        return Err(invalid(
            "email_address",
            "This email address is not a member of the list.",
        ));
    };
    m.tags.entry(sid).or_insert(ctx.now);
    if let Some(s) = list.segments.get_mut(&sid) {
        s.members.insert(h.clone());
        s.updated_at = ctx.now;
    }
    let list = &st.lists[l];
    ok(render_member(list, &list.members[&h]))
}

// ---------------------------------------------------------------------------------------------------------------
// Campaigns

/// Move scheduled campaigns whose time came to sent, and sending ones whose duration passed.
fn tick(ctx: &Ctx, st: &mut State) {
    let now = ctx.now;
    let due: Vec<String> = st
        .campaigns
        .values()
        .filter(|c| c.status == "schedule" && c.send_time.is_some_and(|t| t <= now))
        .map(|c| c.id.clone())
        .collect();
    for id in due {
        let at = st.campaigns[&id].send_time.unwrap_or(now);
        deliver(st, &id, at, ctx.cfg.send_duration_secs);
    }
    for c in st.campaigns.values_mut() {
        if c.status == "sending" && c.sending_until.is_some_and(|t| t <= now) {
            c.status = "sent".into();
        }
    }
}

/// Send a campaign now: snapshot the recipients (subscribed members of the list, or of the saved/static segment).
fn deliver(st: &mut State, id: &str, at: i64, duration: i64) {
    let Some(c) = st.campaigns.get(id) else { return };
    let list_id = c.recipients["list_id"].as_str().unwrap_or("").to_string();
    let seg = c.recipients["segment_opts"]["saved_segment_id"].as_i64();
    let to: Vec<String> = st
        .lists
        .get(&list_id)
        .map(|l| {
            sorted_members(l)
                .into_iter()
                .filter(|m| m.status == "subscribed")
                .filter(|m| seg.is_none_or(|s| l.segments.get(&s).is_some_and(|x| x.members.contains(&m.hash))))
                .map(|m| m.email.clone())
                .collect()
        })
        .unwrap_or_default();
    if let Some(l) = st.lists.get_mut(&list_id) {
        l.campaign_last_sent = Some(at);
    }
    if let Some(c) = st.campaigns.get_mut(id) {
        c.send_time = Some(at);
        c.sent_to = to;
        if duration > 0 {
            c.status = "sending".into();
            c.sending_until = Some(at + duration);
        } else {
            c.status = "sent".into();
        }
    }
}

fn owned_campaign<'a>(ctx: &Ctx, st: &'a State, id: &str) -> Result<&'a Campaign, McErr> {
    match st.campaigns.get(id) {
        Some(c) if c.account == ctx.account => Ok(c),
        _ => Err(not_found()),
    }
}

fn sorted_campaigns<'a>(st: &'a State, account: &str) -> Vec<&'a Campaign> {
    let mut v: Vec<&Campaign> = st.campaigns.values().filter(|c| c.account == account).collect();
    v.sort_by_key(|c| c.seq);
    v
}

fn recipient_count(st: &State, c: &Campaign) -> usize {
    if c.send_time.is_some() && c.status != "schedule" {
        return c.sent_to.len();
    }
    let list_id = c.recipients["list_id"].as_str().unwrap_or("");
    let seg = c.recipients["segment_opts"]["saved_segment_id"].as_i64();
    st.lists.get(list_id).map_or(0, |l| {
        l.members
            .values()
            .filter(|m| m.status == "subscribed")
            .filter(|m| seg.is_none_or(|s| l.segments.get(&s).is_some_and(|x| x.members.contains(&m.hash))))
            .count()
    })
}

fn list_campaigns(ctx: &Ctx, st: &State, q: &[(String, String)]) -> Result<Out, McErr> {
    let mut v = sorted_campaigns(st, ctx.account);
    if qget(q, "sort_field") == Some("send_time") {
        v.sort_by_key(|c| c.send_time.unwrap_or(i64::MAX));
    }
    if qget(q, "sort_dir").is_some_and(|d| d.eq_ignore_ascii_case("desc")) {
        v.reverse();
    }
    let items: Vec<Value> = v
        .into_iter()
        .filter(|c| qget(q, "type").is_none_or(|t| c.kind == t))
        .filter(|c| qget(q, "status").is_none_or(|s| c.status == s))
        .filter(|c| qget(q, "list_id").is_none_or(|l| c.recipients["list_id"] == l))
        .map(|c| render_campaign(st, c))
        .collect();
    page(items, "campaigns", q, ctx.in_batch, json!({}))
}

fn render_campaign(st: &State, c: &Campaign) -> Value {
    let list = c.recipients["list_id"].as_str().and_then(|l| st.lists.get(l));
    let mut recipients = c.recipients.clone();
    recipients["list_is_active"] = json!(list.is_some());
    recipients["list_name"] = json!(list.map(|l| l.settings.get("name").cloned().unwrap_or(json!(""))));
    recipients["segment_text"] = json!("");
    recipients["recipient_count"] = json!(recipient_count(st, c));
    let mut settings = c.settings.clone();
    settings["timewarp"] = json!(false);
    settings["drag_and_drop"] = json!(false);
    let sent = c.send_time.is_some() && c.status != "schedule";
    let mut v = json!({
        "id": c.id, "web_id": c.web_id, "parent_campaign_id": c.parent.clone().unwrap_or_default(),
        "type": c.kind, "create_time": iso(c.create_time),
        "archive_url": format!("http://eepurl.com/{}", &c.id[..6.min(c.id.len())]),
        "long_archive_url": format!("https://us6.campaign-archive.com/?u=emulator&id={}", c.id),
        "status": c.status, "emails_sent": if sent { c.sent_to.len() } else { 0 },
        "send_time": iso_opt(c.send_time), "content_type": "template", "needs_block_refresh": false,
        "resendable": false, "recipients": recipients, "settings": settings, "tracking": c.tracking,
        "delivery_status": {"enabled": false}, "_links": [],
    });
    if sent {
        let r = synthetic(c, 0);
        v["report_summary"] = json!({
            "opens": r.opens_total, "unique_opens": r.unique_opens, "open_rate": r.open_rate,
            "clicks": r.clicks_total, "subscriber_clicks": r.unique_subscriber_clicks, "click_rate": r.click_rate,
            "ecommerce": {"total_orders": 0, "total_spent": 0, "total_revenue": 0}
        });
    }
    v
}

fn campaign_parts(o: &Map<String, Value>) -> Result<(), McErr> {
    types(
        o,
        &[
            ("recipients", "object"),
            ("settings", "object"),
            ("tracking", "object"),
            ("type", "string"),
        ],
        "",
    )?;
    if let Some(r) = o.get("recipients").and_then(Value::as_object) {
        require(r, &["list_id"], "recipients")?;
        types(r, &[("list_id", "string"), ("segment_opts", "object")], "recipients")?;
        if let Some(so) = r.get("segment_opts").and_then(Value::as_object) {
            types(
                so,
                &[
                    ("saved_segment_id", "integer"),
                    ("match", "string"),
                    ("conditions", "array"),
                ],
                "recipients.segment_opts",
            )?;
            if let Some(m) = so.get("match").and_then(Value::as_str) {
                if m != "any" && m != "all" {
                    return Err(invalid(
                        "recipients.segment_opts.match",
                        "Value must be one of: any, all",
                    ));
                }
            }
        }
    }
    if let Some(s) = o.get("settings").and_then(Value::as_object) {
        types(
            s,
            &[
                ("subject_line", "string"),
                ("preview_text", "string"),
                ("title", "string"),
                ("from_name", "string"),
                ("reply_to", "string"),
                ("use_conversation", "boolean"),
                ("to_name", "string"),
                ("folder_id", "string"),
                ("authenticate", "boolean"),
                ("auto_footer", "boolean"),
                ("inline_css", "boolean"),
                ("auto_tweet", "boolean"),
                ("fb_comments", "boolean"),
                ("template_id", "integer"),
            ],
            "settings",
        )?;
        if let Some(r) = str_of(s, "reply_to").filter(|r| !r.is_empty()) {
            if !plausible_email(r) {
                return Err(invalid("settings.reply_to", "This value is not a valid email address."));
            }
        }
    }
    Ok(())
}

/// The recipients must name an audience of the account (and a segment of it).
fn check_recipients(ctx: &Ctx, st: &State, r: &Value) -> Result<(), McErr> {
    let list_id = r["list_id"].as_str().unwrap_or("");
    let list = owned_list(ctx, st, list_id)
        .map_err(|_| invalid("recipients.list_id", format!("The list \"{list_id}\" does not exist.")))?;
    if let Some(s) = r["segment_opts"]["saved_segment_id"].as_i64() {
        if !list.segments.contains_key(&s) {
            return Err(invalid(
                "recipients.segment_opts.saved_segment_id",
                format!("The segment {s} does not exist in this list."),
            ));
        }
    }
    Ok(())
}

fn create_campaign(ctx: &Ctx, st: &mut State, body: &Value) -> Result<Out, McErr> {
    let o = object(body)?;
    require(o, &["type"], "")?;
    let kind = one_of(o, "type", CAMPAIGN_TYPES)?.unwrap_or_default();
    campaign_parts(o)?;
    if kind == "variate" {
        require(o, &["variate_settings"], "")?;
    }
    if kind == "rss" {
        require(o, &["rss_opts"], "")?;
    }
    if let Some(r) = o.get("recipients") {
        check_recipients(ctx, st, r)?;
    }
    let id = loop {
        let id = st.hex_id("campaign", 10);
        if !st.campaigns.contains_key(&id) {
            break id;
        }
    };
    let web_id = st.int_id();
    let seq = st.bump();
    let mut settings = json!({"subject_line": "", "preview_text": "", "title": "", "from_name": "",
                              "reply_to": "", "use_conversation": false, "to_name": "", "folder_id": "",
                              "authenticate": true, "auto_footer": false, "inline_css": false,
                              "auto_tweet": false, "fb_comments": true, "template_id": 0});
    if let Some(Value::Object(s)) = o.get("settings") {
        for (k, v) in s {
            settings[k.as_str()] = v.clone();
        }
    }
    let mut tracking = json!({"opens": true, "html_clicks": true, "text_clicks": true, "goal_tracking": false,
                              "ecomm360": false, "google_analytics": "", "clicktale": ""});
    if let Some(Value::Object(t)) = o.get("tracking") {
        for (k, v) in t {
            tracking[k.as_str()] = v.clone();
        }
    }
    let c = Campaign {
        id: id.clone(),
        web_id,
        account: ctx.account.to_string(),
        kind,
        status: "save".into(),
        recipients: o.get("recipients").cloned().unwrap_or(json!({})),
        settings,
        tracking,
        content: None,
        create_time: ctx.now,
        send_time: None,
        sending_until: None,
        sent_to: Vec::new(),
        parent: None,
        seq,
    };
    st.campaigns.insert(id.clone(), c);
    ok(render_campaign(st, &st.campaigns[&id]))
}

fn editable(c: &Campaign) -> Result<(), McErr> {
    match c.status.as_str() {
        "save" | "paused" => Ok(()),
        "schedule" => Err(invalid_action(
            "This campaign is scheduled: unschedule it before editing.",
        )),
        _ => Err(invalid_action(
            "This campaign has already been sent and cannot be edited.",
        )),
    }
}

fn update_campaign(ctx: &Ctx, st: &mut State, id: &str, body: &Value) -> Result<Out, McErr> {
    let c = owned_campaign(ctx, st, id)?;
    editable(c)?;
    let o = object(body)?;
    require(o, &["settings"], "")?;
    campaign_parts(o)?;
    let s = o["settings"].as_object().cloned().unwrap_or_default();
    require(&s, &["subject_line", "from_name", "reply_to"], "settings")?;
    if let Some(r) = o.get("recipients") {
        check_recipients(ctx, st, r)?;
    }
    let c = st.campaigns.get_mut(id).ok_or_else(not_found)?;
    for (k, v) in s {
        c.settings[k.as_str()] = v;
    }
    if let Some(r) = o.get("recipients") {
        c.recipients = r.clone();
    }
    if let Some(Value::Object(t)) = o.get("tracking") {
        for (k, v) in t {
            c.tracking[k.as_str()] = v.clone();
        }
    }
    ok(render_campaign(st, &st.campaigns[id]))
}

fn render_content(c: &Campaign) -> Value {
    let html = c
        .content
        .as_ref()
        .and_then(|x| x["html"].as_str())
        .unwrap_or("")
        .to_string();
    let plain = c
        .content
        .as_ref()
        .and_then(|x| x["plain_text"].as_str().map(str::to_string))
        .unwrap_or_else(|| strip_tags(&html));
    json!({"plain_text": plain, "html": html, "archive_html": html, "_links": []})
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for ch in html.chars() {
        match ch {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

fn set_content(ctx: &Ctx, st: &mut State, id: &str, body: &Value) -> Result<Out, McErr> {
    let c = owned_campaign(ctx, st, id)?;
    editable(c)?;
    let o = object(body)?;
    types(
        o,
        &[
            ("html", "string"),
            ("plain_text", "string"),
            ("url", "string"),
            ("template", "object"),
            ("archive", "object"),
            ("variate_contents", "array"),
        ],
        "",
    )?;
    if let Some(t) = o.get("template").and_then(Value::as_object) {
        require(t, &["id"], "template")?;
    }
    if let Some(a) = o.get("archive").and_then(Value::as_object) {
        require(a, &["archive_content"], "archive")?;
    }
    let html = if let Some(h) = str_of(o, "html") {
        h.to_string()
    } else if let Some(u) = str_of(o, "url") {
        format!("<html><body><p>Imported from {u}</p></body></html>")
    } else if let Some(t) = o.get("template") {
        let sections: String = t["sections"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default();
        format!("<html><body>{sections}</body></html>")
    } else if o.get("archive").is_some() {
        "<html><body>archive</body></html>".to_string()
    } else {
        return Err(invalid(
            "",
            "Required fields were not provided: html, url, template or archive",
        ));
    };
    let mut content = json!({"html": html});
    if let Some(p) = str_of(o, "plain_text") {
        content["plain_text"] = json!(p);
    }
    let c = st.campaigns.get_mut(id).ok_or_else(not_found)?;
    c.content = Some(content);
    ok(render_content(c))
}

fn checklist(st: &State, c: &Campaign) -> Value {
    let mut items = Vec::new();
    let mut ready = true;
    let mut item = |ok: bool, id: i64, heading: &str, bad: &str| {
        if !ok {
            ready = false;
        }
        items.push(
            json!({"type": if ok { "success" } else { "error" }, "id": id, "heading": heading,
                          "details": if ok { "" } else { bad }}),
        );
    };
    let list_ok = c.recipients["list_id"]
        .as_str()
        .is_some_and(|l| st.lists.contains_key(l));
    item(list_ok, 1, "List", "You need to choose an audience to send to.");
    let s = &c.settings;
    let filled = |k: &str| s[k].as_str().is_some_and(|x| !x.trim().is_empty());
    item(
        filled("subject_line"),
        2,
        "Subject Line",
        "You need to enter a subject line.",
    );
    item(filled("from_name"), 3, "From Name", "You need to enter a from name.");
    item(
        filled("reply_to"),
        4,
        "Reply-To Email Address",
        "You need to enter a reply-to email address.",
    );
    let content = c
        .content
        .as_ref()
        .and_then(|x| x["html"].as_str())
        .is_some_and(|h| !h.trim().is_empty());
    item(content, 5, "Content", "Your campaign has no content.");
    json!({"is_ready": ready, "items": items, "_links": []})
}

fn campaign_action(ctx: &Ctx, st: &mut State, id: &str, action: &str, body: &Value) -> Result<Out, McErr> {
    let c = owned_campaign(ctx, st, id)?.clone();
    match action {
        "send" | "schedule" => {
            if !matches!(c.status.as_str(), "save" | "paused") {
                return Err(invalid_action(format!(
                    "This campaign cannot be {} in its current state ({}).",
                    if action == "send" { "sent" } else { "scheduled" },
                    c.status
                )));
            }
            if c.kind != "regular" && action == "schedule" && c.kind != "plaintext" && c.kind != "absplit" {
                return Err(invalid_action("Only regular campaigns can be scheduled; use send."));
            }
            if checklist(st, &c)["is_ready"] != true {
                return Err(bad_request("Your Campaign is not ready to send."));
            }
            if action == "send" {
                deliver(st, id, ctx.now, ctx.cfg.send_duration_secs);
                return no_content();
            }
            let o = object(body)?;
            require(o, &["schedule_time"], "")?;
            types(
                o,
                &[
                    ("schedule_time", "string"),
                    ("timewarp", "boolean"),
                    ("batch_delivery", "object"),
                ],
                "",
            )?;
            if let Some(bd) = o.get("batch_delivery").and_then(Value::as_object) {
                require(bd, &["batch_delay", "batch_count"], "batch_delivery")?;
                if o.get("timewarp") == Some(&json!(true)) {
                    return Err(invalid(
                        "batch_delivery",
                        "Batch delivery cannot be used with Timewarp.",
                    ));
                }
            }
            let raw = str_of(o, "schedule_time").unwrap_or("");
            let t = parse_time(raw).ok_or_else(|| invalid("schedule_time", "This value is not a valid datetime."))?;
            if t % 900 != 0 {
                return Err(invalid(
                    "schedule_time",
                    "Campaigns may only be scheduled to send on the quarter-hour (:00, :15, :30, :45).",
                ));
            }
            if t <= ctx.now {
                return Err(invalid("schedule_time", "The schedule time must be in the future."));
            }
            let c = st.campaigns.get_mut(id).ok_or_else(not_found)?;
            c.status = "schedule".into();
            c.send_time = Some(t);
            no_content()
        }
        "unschedule" => {
            if c.status != "schedule" {
                return Err(invalid_action("This campaign is not scheduled."));
            }
            let c = st.campaigns.get_mut(id).ok_or_else(not_found)?;
            c.status = "save".into();
            c.send_time = None;
            no_content()
        }
        "test" => {
            let o = object(body)?;
            require(o, &["test_emails", "send_type"], "")?;
            types(o, &[("test_emails", "array")], "")?;
            one_of(o, "send_type", &["html", "plaintext"])?;
            if checklist(st, &c)["is_ready"] != true {
                return Err(bad_request("Your Campaign is not ready to send."));
            }
            no_content()
        }
        "replicate" => {
            let new_id = loop {
                let id = st.hex_id("campaign", 10);
                if !st.campaigns.contains_key(&id) {
                    break id;
                }
            };
            let web_id = st.int_id();
            let seq = st.bump();
            let mut n = c.clone();
            n.id = new_id.clone();
            n.web_id = web_id;
            n.seq = seq;
            n.status = "save".into();
            n.send_time = None;
            n.sending_until = None;
            n.sent_to = Vec::new();
            n.create_time = ctx.now;
            n.parent = Some(c.id.clone());
            let title = c.settings["title"].as_str().unwrap_or("").to_string();
            n.settings["title"] = json!(format!("{title} (copy 01)"));
            st.campaigns.insert(new_id.clone(), n);
            ok(render_campaign(st, &st.campaigns[&new_id]))
        }
        "cancel-send" => {
            if c.status != "sending" {
                return Err(invalid_action("Only a campaign that is sending can be canceled."));
            }
            let c = st.campaigns.get_mut(id).ok_or_else(not_found)?;
            c.status = "canceled".into();
            no_content()
        }
        "pause" | "resume" => {
            if c.kind != "rss" {
                return Err(invalid_action("Only RSS campaigns can be paused or resumed."));
            }
            let c = st.campaigns.get_mut(id).ok_or_else(not_found)?;
            c.status = if action == "pause" {
                "paused".into()
            } else {
                "save".into()
            };
            no_content()
        }
        _ => Err(not_found()),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Reports (synthetic, deterministic once sent)

#[derive(Debug, Clone, Copy)]
pub struct Numbers {
    pub emails_sent: u64,
    pub hard_bounces: u64,
    pub soft_bounces: u64,
    pub unique_opens: u64,
    pub opens_total: u64,
    pub unique_clicks: u64,
    pub unique_subscriber_clicks: u64,
    pub clicks_total: u64,
    pub unsubscribed: u64,
    pub abuse_reports: u64,
    pub open_rate: f64,
    pub click_rate: f64,
}

/// The synthetic numbers of a sent campaign (same campaign id and seed, same numbers).
pub fn synthetic(c: &Campaign, seed: u64) -> Numbers {
    let n = c.sent_to.len() as u64;
    let h = |k: &str| unit(mix64(seed ^ hash_str(&format!("{}:{k}", c.id))));
    let part = |base: u64, lo: f64, hi: f64, k: &str| ((base as f64) * (lo + (hi - lo) * h(k))).floor() as u64;
    let hard = part(n, 0.0, 0.02, "hard");
    let soft = part(n, 0.0, 0.03, "soft");
    let delivered = n.saturating_sub(hard + soft);
    let unique_opens = part(delivered, 0.15, 0.45, "opens");
    let opens_total = unique_opens + part(unique_opens, 0.2, 1.0, "reopens");
    let unique_clicks = part(unique_opens, 0.1, 0.35, "clicks");
    let clicks_total = unique_clicks + part(unique_clicks, 0.1, 0.8, "reclicks");
    let unsub = part(delivered, 0.0, 0.01, "unsub");
    let rate = |x: u64| {
        if delivered == 0 {
            0.0
        } else {
            x as f64 / delivered as f64
        }
    };
    Numbers {
        emails_sent: n,
        hard_bounces: hard,
        soft_bounces: soft,
        unique_opens,
        opens_total,
        unique_clicks,
        unique_subscriber_clicks: unique_clicks,
        clicks_total,
        unsubscribed: unsub,
        abuse_reports: 0,
        open_rate: rate(unique_opens),
        click_rate: rate(unique_clicks),
    }
}

fn sent_campaign<'a>(ctx: &Ctx, st: &'a State, id: &str) -> Result<&'a Campaign, McErr> {
    let c = owned_campaign(ctx, st, id)?;
    if c.send_time.is_none() || c.status == "schedule" {
        return Err(not_found());
    }
    Ok(c)
}

fn report(ctx: &Ctx, st: &State, c: &Campaign) -> Value {
    let r = synthetic(c, ctx.cfg.metric_seed);
    let list_id = c.recipients["list_id"].as_str().unwrap_or("");
    let list_name = st
        .lists
        .get(list_id)
        .and_then(|l| l.settings.get("name").cloned())
        .unwrap_or(json!(""));
    let sent = c.send_time.unwrap_or(0);
    let last = |x: u64| if x > 0 { json!(iso(sent + 3600)) } else { json!("") };
    json!({
        "id": c.id, "campaign_title": c.settings["title"], "type": c.kind, "list_id": list_id,
        "list_is_active": st.lists.contains_key(list_id), "list_name": list_name,
        "subject_line": c.settings["subject_line"], "preview_text": c.settings["preview_text"],
        "emails_sent": r.emails_sent, "abuse_reports": r.abuse_reports, "unsubscribed": r.unsubscribed,
        "send_time": iso(sent), "rss_last_send": "",
        "bounces": {"hard_bounces": r.hard_bounces, "soft_bounces": r.soft_bounces, "syntax_errors": 0},
        "forwards": {"forwards_count": 0, "forwards_opens": 0},
        "opens": {"opens_total": r.opens_total, "unique_opens": r.unique_opens, "open_rate": r.open_rate,
                  "last_open": last(r.opens_total)},
        "clicks": {"clicks_total": r.clicks_total, "unique_clicks": r.unique_clicks,
                   "unique_subscriber_clicks": r.unique_subscriber_clicks, "click_rate": r.click_rate,
                   "last_click": last(r.clicks_total)},
        "facebook_likes": {"recipient_likes": 0, "unique_likes": 0, "facebook_likes": 0},
        "industry_stats": {"type": "Software and Web App", "open_rate": 0.21, "click_rate": 0.025,
                           "bounce_rate": 0.01, "unopen_rate": 0.79, "unsub_rate": 0.002, "abuse_rate": 0.0001},
        "list_stats": {"sub_rate": 0, "unsub_rate": 0, "open_rate": r.open_rate, "click_rate": r.click_rate},
        "timewarp": [], "timeseries": [{"timestamp": iso(sent), "emails_sent": r.emails_sent,
                                         "unique_opens": r.unique_opens, "recipients_clicks": r.unique_clicks}],
        "share_report": {"share_url": "", "share_password": ""},
        "ecommerce": {"total_orders": 0, "total_spent": 0, "total_revenue": 0, "currency_code": "USD"},
        "delivery_status": {"enabled": false}, "_links": [],
    })
}

/// Per-recipient outcome: index-based, consistent with [`synthetic`]'s totals.
fn outcome(c: &Campaign, seed: u64) -> Vec<(String, &'static str, u64, u64)> {
    let r = synthetic(c, seed);
    let mut out = Vec::new();
    for (i, e) in c.sent_to.iter().enumerate() {
        let i = i as u64;
        let status = if i < r.hard_bounces {
            "hard"
        } else if i < r.hard_bounces + r.soft_bounces {
            "soft"
        } else {
            "sent"
        };
        let d = i.saturating_sub(r.hard_bounces + r.soft_bounces);
        let opened = status == "sent" && d < r.unique_opens;
        let opens = if opened {
            1 + u64::from(d < r.opens_total - r.unique_opens)
        } else {
            0
        };
        let clicks = u64::from(opened && d < r.unique_clicks);
        out.push((e.clone(), status, opens, clicks));
    }
    out
}

fn click_links(ctx: &Ctx, c: &Campaign) -> Vec<Value> {
    let r = synthetic(c, ctx.cfg.metric_seed);
    let html = c.content.as_ref().and_then(|x| x["html"].as_str()).unwrap_or("");
    let mut urls: Vec<String> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|u| u.starts_with("http"))
        .map(str::to_string)
        .collect();
    urls.dedup();
    let n = urls.len().max(1) as u64;
    urls.iter()
        .enumerate()
        .map(|(i, u)| {
            let share = |x: u64| x / n + u64::from((i as u64) < x % n);
            let id = &subscriber_hash(u)[..10];
            json!({"id": id, "url": u, "total_clicks": share(r.clicks_total),
                   "click_percentage": if r.clicks_total == 0 { 0.0 } else { share(r.clicks_total) as f64 / r.clicks_total as f64 },
                   "unique_clicks": share(r.unique_clicks),
                   "unique_click_percentage": if r.unique_clicks == 0 { 0.0 } else { share(r.unique_clicks) as f64 / r.unique_clicks as f64 },
                   "last_click": iso(c.send_time.unwrap_or(0) + 3600), "ab_split": {}, "campaign_id": c.id, "_links": []})
        })
        .collect()
}

fn report_detail(ctx: &Ctx, st: &State, id: &str, sub: &str, q: &[(String, String)]) -> Result<Out, McErr> {
    let c = sent_campaign(ctx, st, id)?;
    let seed = ctx.cfg.metric_seed;
    let at = iso(c.send_time.unwrap_or(0) + 3600);
    let rows = outcome(c, seed);
    let eid = |e: &str| subscriber_hash(e);
    let extra = json!({"campaign_id": c.id});
    match sub {
        "open-details" => {
            let items: Vec<Value> = rows
                .iter()
                .filter(|r| r.2 > 0)
                .map(|(e, _, n, _)| json!({"campaign_id": c.id, "email_id": eid(e), "email_address": e,
                    "merge_fields": {}, "vip": false, "opens_count": n,
                    "opens": (0..*n).map(|_| json!({"timestamp": at})).collect::<Vec<_>>(), "contact_status": "subscribed"}))
                .collect();
            let total: u64 = rows.iter().map(|r| r.2).sum();
            let mut x = extra;
            x["total_opens"] = json!(total);
            page(items, "members", q, ctx.in_batch, x)
        }
        "click-details" => page(click_links(ctx, c), "urls_clicked", q, ctx.in_batch, extra),
        "email-activity" => {
            let items: Vec<Value> = rows
                .iter()
                .map(|(e, status, opens, clicks)| {
                    let mut act = Vec::new();
                    if *status != "sent" {
                        act.push(json!({"action": "bounce", "type": status, "timestamp": at}));
                    }
                    for _ in 0..*opens {
                        act.push(json!({"action": "open", "timestamp": at, "ip": "127.0.0.1"}));
                    }
                    for _ in 0..*clicks {
                        act.push(json!({"action": "click", "timestamp": at, "url": "", "ip": "127.0.0.1"}));
                    }
                    json!({"campaign_id": c.id, "list_id": c.recipients["list_id"], "email_id": eid(e),
                           "email_address": e, "activity": act})
                })
                .collect();
            page(items, "emails", q, ctx.in_batch, extra)
        }
        "sent-to" => {
            let items: Vec<Value> = rows
                .iter()
                .map(|(e, status, opens, _)| {
                    json!({"email_id": eid(e), "email_address": e, "status": status,
                    "open_count": opens, "last_open": if *opens > 0 { json!(at) } else { json!("") },
                    "absplit_group": "", "gmt_offset": 0, "campaign_id": c.id})
                })
                .collect();
            page(items, "sent_to", q, ctx.in_batch, extra)
        }
        "unsubscribed" => {
            let r = synthetic(c, seed);
            let items: Vec<Value> = rows
                .iter()
                .filter(|x| x.1 == "sent")
                .rev()
                .take(r.unsubscribed as usize)
                .map(|(e, ..)| {
                    json!({"email_id": eid(e), "email_address": e, "timestamp": at,
                                      "reason": "", "campaign_id": c.id})
                })
                .collect();
            page(items, "unsubscribes", q, ctx.in_batch, extra)
        }
        _ => Err(not_found()),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Admin API and the platform

fn admin_error(status: StatusCode, msg: &str) -> Response {
    (status, AxumJson(json!({"error": msg}))).into_response()
}

#[derive(Deserialize)]
struct ClockBody {
    advance_secs: i64,
}

#[derive(Deserialize)]
struct ConfigBody {
    request_delay_ms: Option<u64>,
    max_connections: Option<usize>,
    send_duration_secs: Option<i64>,
    max_pending_batches: Option<usize>,
}

fn admin_router(emu: MailchimpEmulator) -> Router {
    let (e1, e2, e3, e4, e5, e6) = (emu.clone(), emu.clone(), emu.clone(), emu.clone(), emu.clone(), emu);
    Router::new()
        .route(
            "/_emulator/mailchimp/store",
            get(move || {
                let emu = e1.clone();
                async move { AxumJson(emu.dump()).into_response() }
            }),
        )
        .route(
            "/_emulator/mailchimp/objects/{id}",
            get(move |Path(id): Path<String>| {
                let emu = e2.clone();
                async move {
                    let st = emu.inner.lock();
                    let v = st
                        .lists
                        .get(&id)
                        .map(|x| json!({"kind": "list", "object": x}))
                        .or_else(|| st.campaigns.get(&id).map(|x| json!({"kind": "campaign", "object": x})))
                        .or_else(|| st.batches.get(&id).map(|x| json!({"kind": "batch", "object": x})));
                    match v {
                        Some(v) => AxumJson(v).into_response(),
                        None => admin_error(StatusCode::NOT_FOUND, "no such object"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/mailchimp/lists/{id}/members",
            get(move |Path(id): Path<String>| {
                let emu = e3.clone();
                async move {
                    let st = emu.inner.lock();
                    let Some(l) = st.lists.get(&id) else {
                        return admin_error(StatusCode::NOT_FOUND, "no such list");
                    };
                    let members: Vec<Value> = sorted_members(l)
                        .into_iter()
                        .map(|m| {
                            let tags: Vec<&str> = m
                                .tags
                                .keys()
                                .filter_map(|t| l.segments.get(t).map(|s| s.name.as_str()))
                                .collect();
                            json!({"email_address": m.email, "hash": m.hash, "status": m.status, "tags": tags,
                                   "merge_fields": m.merge_fields})
                        })
                        .collect();
                    AxumJson(json!({"count": members.len(), "members": members, "forgotten": l.forgotten}))
                        .into_response()
                }
            }),
        )
        .route(
            "/_emulator/mailchimp/clock",
            post(move |AxumJson(b): AxumJson<ClockBody>| {
                let emu = e4.clone();
                async move {
                    let mut st = emu.inner.lock();
                    st.clock_offset_secs += b.advance_secs;
                    let now = st.now();
                    AxumJson(json!({"now": iso(now)})).into_response()
                }
            }),
        )
        .route(
            "/_emulator/mailchimp/config",
            post(move |AxumJson(b): AxumJson<ConfigBody>| {
                let emu = e5.clone();
                async move {
                    emu.configure(|c| {
                        if let Some(v) = b.request_delay_ms {
                            c.request_delay_ms = v;
                        }
                        if let Some(v) = b.max_connections {
                            c.max_connections = v;
                        }
                        if let Some(v) = b.send_duration_secs {
                            c.send_duration_secs = v;
                        }
                        if let Some(v) = b.max_pending_batches {
                            c.max_pending_batches = v;
                        }
                    });
                    AxumJson(serde_json::to_value(emu.config()).unwrap_or(Value::Null)).into_response()
                }
            }),
        )
        .route(
            "/_emulator/mailchimp/batch-results/{file}",
            get(
                move |Path(file): Path<String>, Query(q): Query<HashMap<String, String>>| {
                    let emu = e6.clone();
                    async move { batch::download(&emu.inner, &file, &q) }
                },
            ),
        )
}

impl PlatformEmulator for MailchimpEmulator {
    fn name(&self) -> &'static str {
        "mailchimp"
    }

    fn router(&self) -> Router {
        let inner = self.inner.clone();
        let api = any(move |req: Request| api_entry(inner.clone(), req));
        Router::new()
            .route("/3.0", api.clone())
            .route("/3.0/", api.clone())
            .route("/3.0/{*path}", api)
            .merge(oauth::router(self.inner.clone()))
            .merge(admin_router(self.clone()))
    }

    /// ServerError: 500 "Internal Server Error"; RateLimit: 429 "Too Many Requests" without headers.
    fn fault_response(&self, fault: FaultKind) -> Response {
        match fault {
            FaultKind::RateLimit => error_response(&too_many_requests()),
            _ => error_response(&McErr::new(
                500,
                "Internal Server Error",
                "An unexpected internal error has occurred. Please contact Support for more information.",
            )),
        }
    }

    fn dump(&self) -> Value {
        serde_json::to_value(&*self.inner.lock()).unwrap_or(Value::Null)
    }

    fn restore(&self, dump: Value) -> Result<(), String> {
        let st: State = serde_json::from_value(dump).map_err(|e| format!("invalid Mailchimp emulator state: {e}"))?;
        *self.inner.lock() = st;
        Ok(())
    }

    fn reset(&self) {
        let cfg = self.inner.config();
        *self.inner.lock() = fresh_state(&cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriber_hash_is_md5_of_the_lower_cased_address() {
        // md5("urist.mcvankab@freddiesjokes.com"), the docs' example address
        assert_eq!(
            subscriber_hash(" Urist.McVankab@FreddiesJokes.com "),
            "62eeb292278cc15f5817cb78f7790b08"
        );
        assert_eq!(path_hash("A@B.org"), subscriber_hash("a@b.org"));
    }

    #[test]
    fn projection_keeps_and_drops_dot_paths() {
        let body = json!({"lists": [{"id": "a", "name": "n", "stats": {"member_count": 1}}], "total_items": 1});
        let q = vec![("fields".to_string(), "lists.id,total_items".to_string())];
        assert_eq!(
            project(body.clone(), &q).unwrap(),
            json!({"lists": [{"id": "a"}], "total_items": 1})
        );
        let q = vec![("exclude_fields".to_string(), "lists.stats".to_string())];
        assert_eq!(
            project(body.clone(), &q).unwrap(),
            json!({"lists": [{"id": "a", "name": "n"}], "total_items": 1})
        );
        let q = vec![("fields".to_string(), "nope".to_string())];
        assert_eq!(project(body.clone(), &q).unwrap_err().status, 400);
        let q = vec![
            ("fields".to_string(), "lists".to_string()),
            ("exclude_fields".to_string(), "total_items".to_string()),
        ];
        assert_eq!(project(body, &q).unwrap_err().title, "Bad Request");
    }

    #[test]
    fn emails_and_merge_values() {
        assert!(plausible_email("a.b+c@example.org"));
        assert!(!plausible_email("a@b"));
        assert!(!plausible_email("no at sign.org"));
        let zip = json!({"type": "zip", "options": {}});
        assert!(merge_value_error(&zip, &json!("30308")).is_none());
        assert!(merge_value_error(&zip, &json!("3030")).is_some());
        let bday = json!({"type": "birthday", "options": {}});
        assert!(merge_value_error(&bday, &json!("02/29")).is_none());
        assert!(merge_value_error(&bday, &json!("13/01")).is_some());
        let date = json!({"type": "date", "options": {}});
        assert!(merge_value_error(&date, &json!("2024-05-31")).is_none());
        assert!(merge_value_error(&date, &json!("31/05/2024x")).is_some());
    }

    #[test]
    fn synthetic_numbers_are_deterministic_and_consistent() {
        let c = Campaign {
            id: "abc".into(),
            web_id: 1,
            account: "a".into(),
            kind: "regular".into(),
            status: "sent".into(),
            recipients: json!({}),
            settings: json!({}),
            tracking: json!({}),
            content: None,
            create_time: 0,
            send_time: Some(0),
            sending_until: None,
            sent_to: (0..1000).map(|i| format!("u{i}@x.org")).collect(),
            parent: None,
            seq: 1,
        };
        let a = synthetic(&c, 7);
        let b = synthetic(&c, 7);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(a.unique_opens <= a.emails_sent && a.unique_clicks <= a.unique_opens);
        assert!(a.open_rate > 0.0 && a.open_rate < 1.0);
        let rows = outcome(&c, 7);
        assert_eq!(rows.iter().filter(|r| r.2 > 0).count() as u64, a.unique_opens);
        assert_eq!(rows.iter().map(|r| r.2).sum::<u64>(), a.opens_total);
    }

    #[test]
    fn templates_and_allowed_methods() {
        assert_eq!(
            template_of("/lists/abc/members/123"),
            "/lists/{list_id}/members/{subscriber_hash}"
        );
        assert_eq!(
            allowed("/lists/{list_id}/members/{subscriber_hash}"),
            Some("GET, PUT, PATCH, DELETE")
        );
        assert_eq!(
            template_of("/campaigns/x/actions/send"),
            "/campaigns/{campaign_id}/actions/send"
        );
        assert_eq!(allowed("/nope"), None);
    }
}
