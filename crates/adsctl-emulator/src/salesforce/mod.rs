//! The Salesforce REST API v68.0 emulator (Campaign, CampaignMember, CampaignMemberStatus, Contact, Lead).
//!
//! Written from `../shared/reference/salesforce` (WIRE-NOTES.md, sobjects.json — copied here as `sobjects.json`, the
//! describe the emulator answers from — and SOURCE.md); it shares no code with adsctl's connectors. The rules it
//! enforces, with their errors and tests, are the "Salesforce REST API v68.0" section of `docs/wire-rules.md`.
//!
//! API routes (JSON; errors are arrays `[{"message","errorCode","fields"}]`; every authenticated answer carries
//! `Sforce-Limit-Info: api-usage=N/M`):
//! - `GET /services/data/` (versions, no session needed); under `/services/data/v68.0`: `GET /` (resources),
//!   `GET /limits`, `GET /sobjects/` (describeGlobal), `GET|POST /sobjects/{type}/`, `GET /sobjects/{type}/describe`,
//!   `GET|PATCH|DELETE /sobjects/{type}/{id}`, `GET|PATCH|DELETE /sobjects/{type}/Adsctl_Key__c/{value}` (PATCH is
//!   upsert, `?updateOnly=true`), `POST /sobjects/{type}/Id` (create through upsert), `GET /query?q=` and `GET /queryAll?q=` (the subset of [`soql`]), `GET
//!   /query/{locator}` (nextRecordsUrl), `POST|PATCH|DELETE /composite/sobjects`, `PATCH
//!   /composite/sobjects/{type}/{externalIdField}`, `GET|POST /composite/sobjects/{type}` (retrieve);
//! - OAuth ([`oauth`]): `GET /services/oauth2/authorize`, `POST /services/oauth2/token` (authorization_code,
//!   refresh_token, JWT bearer), `GET /id/{orgId}/{userId}` (identity).
//!
//! Readings chosen where the pack is unverified or silent (each is a row or note in docs/wire-rules.md):
//! - One server is both the login host and the instance: `instance_url` is `http://` + the Host header of the
//!   org's first token request. An instance move (seed `move_instance_to` or admin `config`, one-shot, applied at
//!   the next refresh) changes it to another host name of the same server (e.g. `localhost`; a name without a port
//!   keeps the port); after it, calls on the old host are 401 INVALID_SESSION_ID. Only v68.0 is served (other versions 404 NOT_FOUND).
//! - Sessions last `session_timeout_secs` (default 7200) from issue, not from last use; expired or unknown
//!   tokens are 401 INVALID_SESSION_ID "Session expired or invalid". A refused 401 has no Sforce-Limit-Info
//!   (no org is known); every answer to a session does. The allocation is a rolling 24 h window of the emulator
//!   clock; a refused call (403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded.") does not count.
//! - Without the Marketing User flag Campaign (and CampaignMemberStatus) is read-only: describe says
//!   createable/updateable/deletable false and writes are 403 INSUFFICIENT_ACCESS_OR_READONLY. Campaign stays in
//!   describeGlobal: the pack says both "read-only" (sobjects.json `_caveats`) and "absent from describeGlobal"
//!   (WIRE-NOTES § Describe, the Campaign `_note`); the emulator follows the first, which the issue asks for.
//! - Currency fields (scale 0) and other numbers are rounded half away from zero to their scale (12.5 → 13);
//!   more integer digits than precision − scale is NUMBER_OUTSIDE_VALID_RANGE. Unknown picklist values are kept
//!   unless `restricted_picklists` (then INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST).
//! - `Adsctl_Key__c` exists when the seed says so (default yes), unique and case-insensitive; a duplicate is
//!   DUPLICATE_VALUE. Upsert sends the key only in the URL: the key in the body is 400 INVALID_FIELD.
//!   With `adsctl_key_unique: false`, upsert needs View All Data (403 INSUFFICIENT_ACCESS_OR_READONLY) and a value
//!   matching several records is 300 with the list of record URLs.
//! - Campaign hierarchy: ParentId must be a live Campaign; a cycle or a sixth level is FIELD_INTEGRITY_EXCEPTION
//!   on ParentId. Deleting a campaign deletes its members and member statuses and clears its children's ParentId.
//!   Deleting a Contact or Lead deletes its campaign members.
//! - CampaignMember: neither ContactId nor LeadId is REQUIRED_FIELD_MISSING on both; a member already there is
//!   DUPLICATE_VALUE "Already a campaign member."; Status matches a label of the campaign's statuses
//!   case-insensitively, anything else (or none) becomes the default label. CampaignMemberStatus: a new campaign
//!   gets Sent (default, 1) and Responded (responded, 2); SortOrder and Label are unique per campaign
//!   (DUPLICATE_VALUE); making one default un-defaults the others; un-defaulting the default, removing the last
//!   responded status, or deleting the default / an in-use / the last responded status is
//!   FIELD_INTEGRITY_EXCEPTION. Renaming a label renames the members' Status.
//! - sObject Collections: whole-request 400 for more than 200 records (EXCEEDED_ID_LIMIT), more than 10 chunks of
//!   one type (EXCEEDED_MAX_TYPES_LIMIT), a value that cannot be read as its type (JSON_PARSER_ERROR) or a missing
//!   `records`; per-record errors carry `statusCode`. Update without id and upsert without the key are
//!   MISSING_ARGUMENT; create with an id is INVALID_FIELD.
//! - Conditional requests: a record's ETag is a hash of its stored state; a stale If-Match or If-Unmodified-Since
//!   on PATCH/DELETE is 412 PRECONDITION_FAILED; describe's Last-Modified is the org's metadata change time
//!   (If-Modified-Since not before it: 304).
//! - Query batches are 2000 rows (`Sforce-Query-Options: batchSize=200..2000` honoured). A locator lives until
//!   15 minutes of the emulator clock pass without a fetch; a user keeps at most 10 (the 11th closes the least
//!   recently used); any offset of a live locator can be fetched again; the last batch closes it. Expired,
//!   closed or unknown locators are 400 INVALID_QUERY_LOCATOR.
//!
//! Admin routes (JSON; not counted, never faulted), under `/_emulator/salesforce/`:
//! - `GET store` → the whole state; `GET records/{id}` → one record as stored (deleted ones too);
//! - `POST orgs/{orgId}/records` `{"sobject","fields",["username"]}` → create a record as another client (the
//!   same validation, no API call counted; the username defaults to the integration user);
//! - `POST clock` `{"advance_secs": N}`;
//! - `POST config` `{"session_timeout_secs","daily_api_limit","restricted_picklists","move_instance_to",
//!   "refresh_token_rotation","adsctl_key_field"}` (org settings apply to every org).

pub mod oauth;
pub mod seed;
pub mod soql;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json as AxumJson, Router};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::config::EmulatorConfig;
use crate::counters::{EndpointLabel, OperationCount};
use crate::platform::{defaults, FaultKind, PlatformEmulator};
use seed::{SalesforceOrgSeed, SalesforceSeed, SalesforceUserSeed};

pub const API_VERSION: &str = "68.0";
pub const DATA_PREFIX: &str = "/services/data/v68.0";
pub const MAX_COLLECTION: usize = 200;
pub const MAX_CHUNKS: usize = 10;
pub const MAX_RETRIEVE_IDS: usize = 2000;
pub const QUERY_BATCH: usize = 2000;
pub const MIN_QUERY_BATCH: usize = 200;
/// Open query locators per user, and how long an unused one lives (readings: the pack says locators expire after
/// inactivity and are capped per user, without numbers).
pub const MAX_CURSORS_PER_USER: usize = 10;
pub const CURSOR_IDLE_SECS: i64 = 900;
pub const KEY_FIELD: &str = "Adsctl_Key__c";
pub const MAX_HIERARCHY_LEVELS: usize = 5;
pub const DEFAULT_SESSION_SECS: i64 = 7200;
pub const DEFAULT_DAILY_LIMIT: u64 = 15_000;
const MAX_BODY: usize = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Describe metadata (sobjects.json)

#[derive(Clone, Debug)]
pub struct FieldMeta {
    pub name: String,
    pub ty: String,
    pub length: u64,
    pub precision: u32,
    pub scale: u32,
    pub nillable: bool,
    pub createable: bool,
    pub updateable: bool,
    pub defaulted: bool,
    pub reference_to: Vec<String>,
    pub picklist: Vec<String>,
    pub picklist_default: Option<String>,
    pub raw: Value,
}

#[derive(Clone, Debug)]
pub struct ObjMeta {
    pub name: String,
    pub prefix: String,
    pub raw: Value,
    pub fields: Vec<FieldMeta>,
}

impl ObjMeta {
    pub fn field(&self, name: &str, key_field: bool) -> Option<&FieldMeta> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name) && (key_field || f.name != KEY_FIELD))
    }
    fn visible(&self, key_field: bool) -> impl Iterator<Item = &FieldMeta> {
        self.fields.iter().filter(move |f| key_field || f.name != KEY_FIELD)
    }
}

fn strip_private(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('_'));
            m.values_mut().for_each(strip_private);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_private),
        _ => {}
    }
}

pub fn meta() -> &'static [ObjMeta] {
    static META: OnceLock<Vec<ObjMeta>> = OnceLock::new();
    META.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(include_str!("sobjects.json")).expect("sobjects.json is JSON");
        strip_private(&mut doc);
        let objs = doc["sobjects"].as_object().cloned().unwrap_or_default();
        objs.into_iter()
            .map(|(name, raw)| {
                let fields = raw["fields"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| {
                        let b = |k: &str| f[k].as_bool().unwrap_or(false);
                        let pl: Vec<&Value> = f["picklistValues"]
                            .as_array()
                            .map(|a| a.iter().collect())
                            .unwrap_or_default();
                        FieldMeta {
                            name: f["name"].as_str().unwrap_or("").to_string(),
                            ty: f["type"].as_str().unwrap_or("").to_string(),
                            length: f["length"].as_u64().unwrap_or(0),
                            precision: f["precision"].as_u64().unwrap_or(0) as u32,
                            scale: f["scale"].as_u64().unwrap_or(0) as u32,
                            nillable: b("nillable"),
                            createable: b("createable"),
                            updateable: b("updateable"),
                            defaulted: b("defaultedOnCreate"),
                            reference_to: f["referenceTo"]
                                .as_array()
                                .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                                .unwrap_or_default(),
                            picklist: pl
                                .iter()
                                .filter_map(|p| p["value"].as_str().map(String::from))
                                .collect(),
                            picklist_default: pl
                                .iter()
                                .find(|p| p["defaultValue"] == json!(true))
                                .and_then(|p| p["value"].as_str().map(String::from)),
                            raw: f.clone(),
                        }
                    })
                    .collect();
                ObjMeta {
                    prefix: raw["keyPrefix"].as_str().unwrap_or("").to_string(),
                    name,
                    raw,
                    fields,
                }
            })
            .collect()
    })
}

pub fn object(name: &str) -> Option<&'static ObjMeta> {
    meta().iter().find(|o| o.name.eq_ignore_ascii_case(name))
}

// ---------------------------------------------------------------------------------------------------------------
// Ids

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The 18-character form of a 15-character id (the case-checksum suffix).
pub fn to18(id15: &str) -> String {
    let b = id15.as_bytes();
    let mut s = id15.to_string();
    for chunk in 0..3 {
        let mut f = 0usize;
        for j in 0..5 {
            if b[chunk * 5 + j].is_ascii_uppercase() {
                f |= 1 << j;
            }
        }
        s.push(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[f] as char);
    }
    s
}

/// Whether the text has an id's shape (15 or 18 letters and digits; an 18-character one with a valid suffix
/// of its first 15, compared case-insensitively).
pub fn well_formed_id(s: &str) -> bool {
    (s.len() == 15 || s.len() == 18) && s.bytes().all(|c| c.is_ascii_alphanumeric())
}

/// The map key of an id (lower-cased 18-character form); None when malformed.
pub fn id_key(s: &str) -> Option<String> {
    if !well_formed_id(s) {
        return None;
    }
    Some(if s.len() == 15 { to18(s) } else { s.to_string() }.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------------------------------------------
// State

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Client {
    pub secret: String,
    pub jwt_public_key: Option<String>,
    pub rotation: bool,
    pub redirect_uris: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub marketing_user: bool,
    pub api_enabled: bool,
    pub jwt_preauthorized: bool,
    pub view_all_data: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub sobject: String,
    /// Writable fields as stored (canonical names; derived fields are computed when read).
    pub fields: Map<String, Value>,
    pub deleted: bool,
    pub created: i64,
    pub modified: i64,
    pub created_by: String,
    pub modified_by: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub instance_host: Option<String>,
    pub key_field: bool,
    pub key_unique: bool,
    pub daily_api_limit: u64,
    /// Emulator-clock seconds of the calls in the last 24 h.
    pub api_calls: Vec<i64>,
    pub users: BTreeMap<String, User>,
    /// When the org's metadata last changed (If-Modified-Since on describe).
    #[serde(default)]
    pub meta_modified: i64,
    /// By lower-cased 18-character id.
    pub records: BTreeMap<String, Record>,
}

impl Org {
    fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }
    fn live(&self, key: &str) -> Option<&Record> {
        self.records.get(key).filter(|r| !r.deleted)
    }
    fn live_of<'a>(&'a self, sobject: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.records
            .values()
            .filter(move |r| !r.deleted && r.sobject == sobject)
    }
    fn str_field<'a>(r: &'a Record, f: &str) -> Option<&'a str> {
        r.fields.get(f).and_then(|v| v.as_str())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    pub org: String,
    pub user: String,
    pub client: String,
    pub issued: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Grant {
    pub org: String,
    pub user: String,
    pub client: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Code {
    pub grant: Grant,
    pub redirect_uri: String,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub issued: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cursor {
    pub org: String,
    #[serde(default)]
    pub user: String,
    pub rows: Vec<Value>,
    pub pos: usize,
    pub batch: usize,
    /// Emulator-clock second of the last fetch (idle locators expire).
    #[serde(default)]
    pub last_used: i64,
    /// Order of the last fetch (breaks ties between fetches of the same second).
    #[serde(default)]
    pub touched: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Knobs {
    pub session_timeout_secs: i64,
    pub restricted_picklists: bool,
    /// One-shot: the next refresh moves the org to this host (a name, or name:port).
    pub move_instance_to: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub knobs: Knobs,
    pub clients: BTreeMap<String, Client>,
    pub orgs: BTreeMap<String, Org>,
    pub sessions: BTreeMap<String, Session>,
    pub refresh_tokens: BTreeMap<String, Grant>,
    pub codes: BTreeMap<String, Code>,
    pub cursors: BTreeMap<String, Cursor>,
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
    pub fn now_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + self.clock_offset_secs * 1000
    }
    pub fn bump(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
    /// A fresh 18-character id with this key prefix.
    pub fn new_id(&mut self, prefix: &str) -> String {
        let mut n = self.bump();
        let mut digits = [b'0'; 9];
        for d in digits.iter_mut().rev() {
            *d = B62[(n % 62) as usize];
            n /= 62;
        }
        to18(&format!("{prefix}5g0{}", String::from_utf8_lossy(&digits)))
    }
    /// A random-looking token text.
    pub fn token(&mut self, salt: &str) -> String {
        let n = self.bump();
        let a = crate::rng::mix64(crate::rng::hash_str(salt) ^ crate::rng::mix64(n) ^ self.now_ms() as u64);
        let b = crate::rng::mix64(a ^ n);
        format!("{a:016x}{b:016x}")
    }
}

/// A seeded user; without a `user_id` the id is derived from the username (so ids differ across orgs).
fn user_from_seed(u: &SalesforceUserSeed) -> User {
    let id = match &u.user_id {
        Some(i) if i.len() == 15 => to18(i),
        Some(i) => i.clone(),
        None => {
            let mut n = crate::rng::hash_str(&u.username.to_ascii_lowercase());
            let mut digits = [b'0'; 9];
            for d in digits.iter_mut() {
                *d = B62[(n % 62) as usize];
                n /= 62;
            }
            to18(&format!("0055g0{}", String::from_utf8_lossy(&digits)))
        }
    };
    User {
        id,
        username: u.username.clone(),
        marketing_user: u.marketing_user,
        api_enabled: u.api_enabled,
        jwt_preauthorized: u.jwt_preauthorized,
        view_all_data: u.view_all_data,
    }
}

fn fresh_state(seed: &SalesforceSeed) -> State {
    let mut clients = BTreeMap::new();
    clients.insert(
        defaults::SALESFORCE_CLIENT_ID.to_string(),
        Client {
            secret: defaults::SALESFORCE_CLIENT_SECRET.to_string(),
            jwt_public_key: Some(defaults::SALESFORCE_JWT_PUBLIC_KEY_PEM.to_string()),
            rotation: false,
            redirect_uris: Vec::new(),
        },
    );
    for c in &seed.clients {
        clients.insert(
            c.client_id.clone(),
            Client {
                secret: c.client_secret.clone(),
                jwt_public_key: c.jwt_public_key.clone(),
                rotation: c.refresh_token_rotation,
                redirect_uris: c.redirect_uris.clone(),
            },
        );
    }
    let mut st = State {
        knobs: Knobs {
            session_timeout_secs: seed.session_timeout_secs.unwrap_or(DEFAULT_SESSION_SECS),
            restricted_picklists: seed.restricted_picklists.unwrap_or(false),
            move_instance_to: seed.move_instance_to.clone(),
        },
        clients,
        orgs: BTreeMap::new(),
        sessions: BTreeMap::new(),
        refresh_tokens: BTreeMap::new(),
        codes: BTreeMap::new(),
        cursors: BTreeMap::new(),
        next: 0,
        clock_offset_secs: 0,
    };
    let mut users = vec![
        SalesforceUserSeed {
            username: defaults::SALESFORCE_USERNAME.to_string(),
            user_id: Some(defaults::SALESFORCE_USER_ID.to_string()),
            marketing_user: true,
            api_enabled: true,
            jwt_preauthorized: true,
            view_all_data: false,
            refresh_tokens: vec![defaults::SALESFORCE_REFRESH_TOKEN.to_string()],
        },
        SalesforceUserSeed {
            username: defaults::SALESFORCE_PLAIN_USERNAME.to_string(),
            user_id: Some(defaults::SALESFORCE_PLAIN_USER_ID.to_string()),
            marketing_user: false,
            api_enabled: true,
            jwt_preauthorized: true,
            view_all_data: false,
            refresh_tokens: Vec::new(),
        },
    ];
    users.extend(seed.users.iter().cloned());
    let mut orgs = vec![SalesforceOrgSeed {
        org_id: defaults::SALESFORCE_ORG_ID.to_string(),
        adsctl_key_field: seed.adsctl_key_field.unwrap_or(true),
        adsctl_key_unique: true,
        daily_api_limit: seed.daily_api_limit,
        users,
        contacts: seed.contacts.clone(),
        leads: seed.leads.clone(),
        campaigns: seed.campaigns.clone(),
    }];
    orgs.extend(seed.orgs.iter().cloned());
    for o in &orgs {
        seed_org(&mut st, o);
    }
    st
}

/// One org of the seed (the well-known one, a seed file's `orgs:` entry, or one added to a running emulator).
fn seed_org(st: &mut State, o: &SalesforceOrgSeed) {
    let org_id = if o.org_id.len() == 15 {
        to18(&o.org_id)
    } else {
        o.org_id.clone()
    };
    let mut org = Org {
        id: org_id.clone(),
        instance_host: None,
        key_field: o.adsctl_key_field,
        key_unique: o.adsctl_key_unique,
        daily_api_limit: o.daily_api_limit.unwrap_or(DEFAULT_DAILY_LIMIT),
        api_calls: Vec::new(),
        users: BTreeMap::new(),
        meta_modified: st.now(),
        records: BTreeMap::new(),
    };
    let mut first_user = None;
    for u in &o.users {
        let user = user_from_seed(u);
        for t in &u.refresh_tokens {
            st.refresh_tokens.insert(
                t.clone(),
                Grant {
                    org: org_id.clone(),
                    user: user.id.clone(),
                    client: defaults::SALESFORCE_CLIENT_ID.to_string(),
                },
            );
        }
        first_user.get_or_insert(user.id.clone());
        org.users.insert(user.id.clone(), user);
    }
    st.orgs.insert(org_id.clone(), org);
    let Some(owner) = first_user else { return };
    for (ty, list) in [("Contact", &o.contacts), ("Lead", &o.leads), ("Campaign", &o.campaigns)] {
        for fields in list {
            if let Err(e) = write(st, &org_id, &owner, ty, None, fields, true) {
                tracing::warn!(
                    "salesforce seed: a {ty} was refused: {:?}",
                    e.first().map(|x| &x.message)
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/// One Salesforce error.
#[derive(Clone, Debug, PartialEq)]
pub struct SfErr {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub fields: Option<Vec<String>>,
}

impl SfErr {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        SfErr {
            status,
            code: code.to_string(),
            message: message.into(),
            fields: None,
        }
    }
    pub fn on(mut self, fields: &[&str]) -> Self {
        self.fields = Some(fields.iter().map(|s| s.to_string()).collect());
        self
    }
    fn body(&self) -> Value {
        let mut b = json!({"message": self.message, "errorCode": self.code});
        if let Some(f) = &self.fields {
            b["fields"] = json!(f);
        }
        b
    }
    /// The per-record form inside a collection answer (`statusCode`, always `fields`).
    fn record_body(&self) -> Value {
        json!({"statusCode": self.code, "message": self.message, "fields": self.fields.clone().unwrap_or_default()})
    }
}

fn bad(code: &str, message: impl Into<String>) -> SfErr {
    SfErr::new(400, code, message)
}

fn not_found() -> SfErr {
    SfErr::new(404, "NOT_FOUND", "The requested resource does not exist")
}

fn deleted() -> SfErr {
    SfErr::new(404, "ENTITY_IS_DELETED", "entity is deleted")
}

fn invalid_session() -> SfErr {
    SfErr::new(401, "INVALID_SESSION_ID", "Session expired or invalid")
}

fn read_only() -> SfErr {
    SfErr::new(
        403,
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "You do not have the level of access necessary to perform the operation you requested. Please contact \
         the owner of the record or your administrator if access is necessary.",
    )
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        serde_json::to_string(body).unwrap_or_default(),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    r
}

pub fn error_response(errs: &[SfErr]) -> Response {
    let status = errs.first().map_or(400, |e| e.status);
    json_response(status, &Value::Array(errs.iter().map(SfErr::body).collect()))
}

// ---------------------------------------------------------------------------------------------------------------
// Values

fn fmt_datetime(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S.000+0000").to_string())
        .unwrap_or_default()
}

fn fmt_date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn round_to(x: f64, scale: u32) -> f64 {
    let m = 10f64.powi(scale as i32);
    let r = (x.abs() * m + 0.5).floor() / m;
    if x < 0.0 {
        -r
    } else {
        r
    }
}

fn parser_error(f: &FieldMeta, v: &Value) -> SfErr {
    let kind = match v {
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER",
        Value::Bool(_) => "VALUE_TRUE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::Null => "VALUE_NULL",
    };
    bad(
        "JSON_PARSER_ERROR",
        format!(
            "Cannot deserialize instance of {} from {kind} value {v} or request may be missing a required field",
            f.ty
        ),
    )
}

/// Read one JSON value as the field's type (the deserialisation step: a failure fails the whole request).
fn coerce(f: &FieldMeta, v: &Value) -> Result<Value, SfErr> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    match f.ty.as_str() {
        "boolean" => v.as_bool().map(Value::Bool).ok_or_else(|| parser_error(f, v)),
        "int" => match v {
            Value::Number(n) if n.is_i64() => Ok(v.clone()),
            Value::Number(n) => n
                .as_f64()
                .filter(|x| x.fract() == 0.0)
                .map(|x| json!(x as i64))
                .ok_or_else(|| parser_error(f, v)),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(|x| json!(x))
                .map_err(|_| parser_error(f, v)),
            _ => Err(parser_error(f, v)),
        },
        "currency" | "double" | "percent" => {
            let x = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .filter(|x| x.is_finite())
            .ok_or_else(|| parser_error(f, v))?;
            Ok(json!(round_to(x, f.scale)))
        }
        "date" => match v.as_str() {
            Some(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => Ok(v.clone()),
            _ => Err(parser_error(f, v)),
        },
        "datetime" => match v.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) {
            Some(t) => Ok(json!(fmt_datetime(t.timestamp()))),
            None => Err(parser_error(f, v)),
        },
        _ => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(v.to_string())),
            _ => Err(parser_error(f, v)),
        },
    }
}

/// The body's fields read as their types, with canonical names; unknown names are INVALID_FIELD (whole request).
fn read_body(obj: &ObjMeta, key_field: bool, body: &Map<String, Value>) -> Result<Map<String, Value>, SfErr> {
    let mut out = Map::new();
    for (k, v) in body {
        if k == "attributes" {
            continue;
        }
        let Some(f) = obj.field(k, key_field) else {
            return Err(bad(
                "INVALID_FIELD",
                format!("No such column '{k}' on sobject of type {}", obj.name),
            )
            .on(&[]));
        };
        out.insert(f.name.clone(), coerce(f, v)?);
    }
    Ok(out)
}

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
}

// ---------------------------------------------------------------------------------------------------------------
// Writes

fn marketing_object(name: &str) -> bool {
    name == "Campaign" || name == "CampaignMemberStatus"
}

fn may_write(org: &Org, user: &str, sobject: &str) -> bool {
    !marketing_object(sobject) || org.user(user).is_some_and(|u| u.marketing_user)
}

fn campaign_depth_above(org: &Org, mut id: Option<String>) -> usize {
    let mut n = 0;
    while let Some(i) = id {
        n += 1;
        if n > 50 {
            break;
        }
        id = org
            .live(&i.to_ascii_lowercase())
            .and_then(|r| Org::str_field(r, "ParentId").map(String::from));
    }
    n
}

fn children(org: &Org, id: &str) -> Vec<String> {
    org.live_of("Campaign")
        .filter(|r| Org::str_field(r, "ParentId").is_some_and(|p| p.eq_ignore_ascii_case(id)))
        .map(|r| r.id.clone())
        .collect()
}

fn subtree_height(org: &Org, id: &str, guard: usize) -> usize {
    if guard > 50 {
        return 1;
    }
    1 + children(org, id)
        .iter()
        .map(|c| subtree_height(org, c, guard + 1))
        .max()
        .unwrap_or(0)
}

fn descendants(org: &Org, id: &str) -> Vec<String> {
    let mut out = vec![id.to_string()];
    let mut i = 0;
    while i < out.len() && out.len() < 10_000 {
        let kids = children(org, &out[i]);
        for k in kids {
            if !out.iter().any(|x| x.eq_ignore_ascii_case(&k)) {
                out.push(k);
            }
        }
        i += 1;
    }
    out
}

fn statuses_of<'a>(org: &'a Org, campaign: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
    org.live_of("CampaignMemberStatus")
        .filter(move |r| Org::str_field(r, "CampaignId").is_some_and(|c| c.eq_ignore_ascii_case(campaign)))
}

fn members_of<'a>(org: &'a Org, campaign: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
    org.live_of("CampaignMember")
        .filter(move |r| Org::str_field(r, "CampaignId").is_some_and(|c| c.eq_ignore_ascii_case(campaign)))
}

fn status_responded(org: &Org, campaign: &str, label: &str) -> bool {
    statuses_of(org, campaign)
        .find(|s| Org::str_field(s, "Label").is_some_and(|l| l.eq_ignore_ascii_case(label)))
        .is_some_and(|s| s.fields.get("HasResponded") == Some(&json!(true)))
}

/// Create (`id` None) or update one record. `admin` skips the object permission (seed and admin API).
/// Returns the record id, or the record's errors (the first carries the HTTP status of a single-record call).
pub fn write(
    st: &mut State,
    org_id: &str,
    user: &str,
    sobject: &str,
    id: Option<&str>,
    body: &Map<String, Value>,
    admin: bool,
) -> Result<String, Vec<SfErr>> {
    let obj = object(sobject).ok_or_else(|| vec![not_found()])?;
    let now = st.now();
    let restricted = st.knobs.restricted_picklists;
    let org = st.orgs.get(org_id).ok_or_else(|| vec![not_found()])?;
    if !admin && !may_write(org, user, &obj.name) {
        return Err(vec![read_only()]);
    }
    let input = read_body(obj, org.key_field, body).map_err(|e| vec![e])?;
    let existing = match id {
        Some(i) => {
            let key = id_key(i).ok_or_else(|| vec![not_found()])?;
            let r = org.records.get(&key).ok_or_else(|| vec![not_found()])?;
            if r.sobject != obj.name {
                return Err(vec![not_found()]);
            }
            if r.deleted {
                return Err(vec![deleted()]);
            }
            Some(r.clone())
        }
        None => None,
    };
    let creating = existing.is_none();
    // Field-level: read-only or create-only fields in the body.
    let locked: Vec<&str> = input
        .keys()
        .filter(|k| {
            obj.field(k, true)
                .is_some_and(|f| if creating { !f.createable } else { !f.updateable })
        })
        .map(|k| k.as_str())
        .collect();
    if input.keys().any(|k| k == "Id") && creating {
        return Err(vec![
            bad("INVALID_FIELD", "cannot specify Id in an insert call").on(&["Id"])
        ]);
    }
    if !locked.is_empty() {
        let verb = if creating { "create" } else { "update" };
        return Err(vec![bad(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            format!(
                "Unable to {verb} fields: {}. Please check the security settings of this field and verify that it \
                 is read/write for your profile or permission set.",
                locked.join(", ")
            ),
        )
        .on(&locked)]);
    }
    // Merge onto the stored values (create: defaults first).
    let mut fields = match &existing {
        Some(r) => r.fields.clone(),
        None => {
            let mut m = Map::new();
            for f in obj.fields.iter().filter(|f| f.createable) {
                let d = if f.ty == "boolean" {
                    json!(false)
                } else if f.name == "OwnerId" {
                    json!(user)
                } else if let (true, Some(p)) = (f.defaulted, &f.picklist_default) {
                    json!(p)
                } else {
                    Value::Null
                };
                m.insert(f.name.clone(), d);
            }
            m
        }
    };
    for (k, v) in &input {
        fields.insert(k.clone(), v.clone());
    }
    let mut errs: Vec<SfErr> = Vec::new();
    // Required fields.
    let missing: Vec<&str> = obj
        .visible(org.key_field)
        .filter(|f| f.createable && !f.nillable && fields.get(&f.name).is_none_or(Value::is_null))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        errs.push(
            bad(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", missing.join(", ")),
            )
            .on(&missing),
        );
    }
    for (k, v) in &input {
        let Some(f) = obj.field(k, true) else { continue };
        let Some(s) = v.as_str() else {
            if let Some(x) = v.as_f64() {
                if f.precision > 0 && x.abs() >= 10f64.powi((f.precision - f.scale.min(f.precision)) as i32) {
                    errs.push(
                        bad(
                            "NUMBER_OUTSIDE_VALID_RANGE",
                            format!("{}: value outside of valid range on numeric field: {x}", f.name),
                        )
                        .on(&[&f.name]),
                    );
                }
            }
            continue;
        };
        if f.length > 0 && s.chars().count() as u64 > f.length && !matches!(f.ty.as_str(), "reference" | "id") {
            errs.push(
                bad(
                    "STRING_TOO_LONG",
                    format!("{}: data value too large: {} (max length={})", f.name, s, f.length),
                )
                .on(&[&f.name]),
            );
            continue;
        }
        if f.ty == "email" && !valid_email(s) {
            errs.push(
                bad(
                    "INVALID_EMAIL_ADDRESS",
                    format!("{}: invalid email address: {s}", f.name),
                )
                .on(&[&f.name]),
            );
        }
        if f.ty == "picklist"
            && restricted
            && !f.picklist.is_empty()
            && !(obj.name == "CampaignMember" && f.name == "Status")
            && !f.picklist.iter().any(|p| p == s)
        {
            errs.push(
                bad(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    format!("{}: bad value for restricted picklist field: {s}", f.name),
                )
                .on(&[&f.name]),
            );
        }
        if f.ty == "reference" {
            let Some(key) = id_key(s) else {
                errs.push(bad("MALFORMED_ID", format!("{}: id value of incorrect type: {s}", f.name)).on(&[&f.name]));
                continue;
            };
            let target_ok = if f.reference_to.iter().any(|t| t == "User") {
                org.users.keys().any(|u| u.eq_ignore_ascii_case(&key))
            } else {
                false
            } || org.live(&key).is_some_and(|r| f.reference_to.contains(&r.sobject));
            if !target_ok {
                errs.push(bad("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id").on(&[&f.name]));
                continue;
            }
            // Store the canonical 18-character id.
            let canon = org
                .records
                .get(&key)
                .map(|r| r.id.clone())
                .or_else(|| org.users.keys().find(|u| u.eq_ignore_ascii_case(&key)).cloned())
                .unwrap_or_else(|| s.to_string());
            fields.insert(f.name.clone(), json!(canon));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    // The external id: unique, case-insensitive.
    if org.key_field && org.key_unique {
        if let Some(k) = fields.get(KEY_FIELD).and_then(|v| v.as_str()) {
            if let Some(other) = org.live_of(&obj.name).find(|r| {
                Some(r.id.as_str()) != id.and_then(|_| existing.as_ref().map(|e| e.id.as_str()))
                    && Org::str_field(r, KEY_FIELD).is_some_and(|o| o.eq_ignore_ascii_case(k))
            }) {
                return Err(vec![bad(
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: {KEY_FIELD} duplicates value on record with id: {}",
                        other.id
                    ),
                )
                .on(&[])]);
            }
        }
    }
    let self_id = existing.as_ref().map(|e| e.id.clone());
    // Object rules.
    match obj.name.as_str() {
        "Campaign" => {
            if let Some(parent) = fields.get("ParentId").and_then(|v| v.as_str()).map(String::from) {
                if input.contains_key("ParentId") {
                    let ancestors = {
                        let mut a = Vec::new();
                        let mut cur = Some(parent.clone());
                        while let Some(c) = cur {
                            if a.len() > 50 {
                                break;
                            }
                            cur = org
                                .live(&c.to_ascii_lowercase())
                                .and_then(|r| Org::str_field(r, "ParentId").map(String::from));
                            a.push(c);
                        }
                        a
                    };
                    if let Some(me) = &self_id {
                        if ancestors.iter().any(|a| a.eq_ignore_ascii_case(me)) {
                            return Err(vec![bad(
                                "FIELD_INTEGRITY_EXCEPTION",
                                "Parent Campaign: a campaign cannot be its own parent or the child of its descendant",
                            )
                            .on(&["ParentId"])]);
                        }
                    }
                    let height = self_id.as_ref().map_or(1, |me| subtree_height(org, me, 0));
                    if campaign_depth_above(org, Some(parent)) + height > MAX_HIERARCHY_LEVELS {
                        return Err(vec![bad(
                            "FIELD_INTEGRITY_EXCEPTION",
                            format!("Parent Campaign: a campaign hierarchy has at most {MAX_HIERARCHY_LEVELS} levels"),
                        )
                        .on(&["ParentId"])]);
                    }
                }
            }
        }
        "CampaignMember" => {
            let campaign = Org::str_field_map(&fields, "CampaignId").unwrap_or_default();
            if creating {
                if fields.get("ContactId").is_some_and(|v| !v.is_null()) {
                    fields.insert("LeadId".into(), Value::Null);
                }
                let person = Org::str_field_map(&fields, "ContactId").or_else(|| Org::str_field_map(&fields, "LeadId"));
                let Some(person) = person else {
                    return Err(vec![bad(
                        "REQUIRED_FIELD_MISSING",
                        "Required fields are missing: [ContactId, LeadId]",
                    )
                    .on(&["ContactId", "LeadId"])]);
                };
                if members_of(org, &campaign).any(|m| {
                    ["ContactId", "LeadId"]
                        .iter()
                        .any(|k| Org::str_field(m, k).is_some_and(|p| p.eq_ignore_ascii_case(&person)))
                }) {
                    return Err(vec![bad("DUPLICATE_VALUE", "Already a campaign member.").on(&[])]);
                }
            }
            // Status: a label of the campaign's statuses, else the default.
            let given = Org::str_field_map(&fields, "Status");
            let labels: Vec<(String, bool)> = statuses_of(org, &campaign)
                .map(|s| {
                    (
                        Org::str_field(s, "Label").unwrap_or("").to_string(),
                        s.fields.get("IsDefault") == Some(&json!(true)),
                    )
                })
                .collect();
            let hit = given.as_ref().and_then(|g| {
                labels
                    .iter()
                    .find(|(l, _)| l.eq_ignore_ascii_case(g))
                    .map(|(l, _)| l.clone())
            });
            let status = match (hit, labels.iter().find(|(_, d)| *d)) {
                (Some(h), _) => Some(h),
                (None, Some((d, _))) => Some(d.clone()),
                (None, None) => given,
            };
            let responded = status.as_deref().is_some_and(|s| status_responded(org, &campaign, s));
            fields.insert("Status".into(), json!(status));
            if responded && fields.get("FirstRespondedDate").is_none_or(Value::is_null) {
                fields.insert("FirstRespondedDate".into(), json!(fmt_date(now)));
            }
        }
        "CampaignMemberStatus" => {
            let campaign = Org::str_field_map(&fields, "CampaignId").unwrap_or_default();
            let others: Vec<&Record> = statuses_of(org, &campaign)
                .filter(|r| Some(&r.id) != self_id.as_ref())
                .collect();
            if fields.get("SortOrder").is_none_or(Value::is_null) {
                let max = others
                    .iter()
                    .filter_map(|r| r.fields.get("SortOrder").and_then(|v| v.as_i64()))
                    .max()
                    .unwrap_or(0);
                fields.insert("SortOrder".into(), json!(max + 1));
            }
            let sort = fields.get("SortOrder").cloned();
            if let Some(o) = others.iter().find(|r| r.fields.get("SortOrder") == sort.as_ref()) {
                return Err(vec![bad(
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: SortOrder duplicates value on record with id: {}",
                        o.id
                    ),
                )
                .on(&["SortOrder"])]);
            }
            let label = Org::str_field_map(&fields, "Label").unwrap_or_default();
            if let Some(o) = others
                .iter()
                .find(|r| Org::str_field(r, "Label").is_some_and(|l| l.eq_ignore_ascii_case(&label)))
            {
                return Err(vec![bad(
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: Label duplicates value on record with id: {}",
                        o.id
                    ),
                )
                .on(&["Label"])]);
            }
            if let Some(e) = &existing {
                let was_default = e.fields.get("IsDefault") == Some(&json!(true));
                if was_default && fields.get("IsDefault") != Some(&json!(true)) {
                    return Err(vec![bad(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "a campaign must keep one default member status: make another status the default instead",
                    )
                    .on(&["IsDefault"])]);
                }
                let was_resp = e.fields.get("HasResponded") == Some(&json!(true));
                if was_resp
                    && fields.get("HasResponded") != Some(&json!(true))
                    && !others
                        .iter()
                        .any(|r| r.fields.get("HasResponded") == Some(&json!(true)))
                {
                    return Err(vec![bad(
                        "FIELD_INTEGRITY_EXCEPTION",
                        "a campaign must keep at least one responded member status",
                    )
                    .on(&["HasResponded"])]);
                }
            }
        }
        _ => {}
    }
    // Commit.
    let new_id = match &existing {
        Some(e) => e.id.clone(),
        None => st.new_id(&obj.prefix),
    };
    let org = st.orgs.get_mut(org_id).ok_or_else(|| vec![not_found()])?;
    let key = new_id.to_ascii_lowercase();
    let old_label = existing
        .as_ref()
        .and_then(|e| Org::str_field(e, "Label").map(String::from));
    let rec = Record {
        id: new_id.clone(),
        sobject: obj.name.clone(),
        fields: fields.clone(),
        deleted: false,
        created: existing.as_ref().map_or(now, |e| e.created),
        modified: now,
        created_by: existing.as_ref().map_or(user.to_string(), |e| e.created_by.clone()),
        modified_by: user.to_string(),
    };
    org.records.insert(key, rec);
    match obj.name.as_str() {
        "Campaign" if creating => {
            for (label, sort, default, responded) in [("Sent", 1, true, false), ("Responded", 2, false, true)] {
                let sid = st.new_id(object("CampaignMemberStatus").map_or("01Y", |o| o.prefix.as_str()));
                let mut f = Map::new();
                f.insert("CampaignId".into(), json!(new_id));
                f.insert("Label".into(), json!(label));
                f.insert("SortOrder".into(), json!(sort));
                f.insert("IsDefault".into(), json!(default));
                f.insert("HasResponded".into(), json!(responded));
                let org = st.orgs.get_mut(org_id).ok_or_else(|| vec![not_found()])?;
                org.records.insert(
                    sid.to_ascii_lowercase(),
                    Record {
                        id: sid,
                        sobject: "CampaignMemberStatus".into(),
                        fields: f,
                        deleted: false,
                        created: now,
                        modified: now,
                        created_by: user.to_string(),
                        modified_by: user.to_string(),
                    },
                );
            }
        }
        "CampaignMemberStatus" => {
            let campaign = Org::str_field_map(&fields, "CampaignId").unwrap_or_default();
            if fields.get("IsDefault") == Some(&json!(true)) {
                for r in org.records.values_mut() {
                    if r.sobject == "CampaignMemberStatus"
                        && r.id != new_id
                        && Org::str_field(r, "CampaignId").is_some_and(|c| c.eq_ignore_ascii_case(&campaign))
                    {
                        r.fields.insert("IsDefault".into(), json!(false));
                    }
                }
            }
            let label = Org::str_field_map(&fields, "Label").unwrap_or_default();
            if let Some(old) = old_label.filter(|o| *o != label) {
                for r in org.records.values_mut() {
                    if r.sobject == "CampaignMember"
                        && !r.deleted
                        && Org::str_field(r, "CampaignId").is_some_and(|c| c.eq_ignore_ascii_case(&campaign))
                        && Org::str_field(r, "Status").is_some_and(|s| s.eq_ignore_ascii_case(&old))
                    {
                        r.fields.insert("Status".into(), json!(label));
                    }
                }
            }
        }
        _ => {}
    }
    Ok(new_id)
}

impl Org {
    fn str_field_map(m: &Map<String, Value>, f: &str) -> Option<String> {
        m.get(f).and_then(|v| v.as_str()).map(String::from)
    }
}

/// Delete one record (to the recycle bin) with the cascades.
pub fn delete(st: &mut State, org_id: &str, user: &str, id: &str, sobject: Option<&str>) -> Result<String, SfErr> {
    let now = st.now();
    let org = st.orgs.get_mut(org_id).ok_or_else(not_found)?;
    let key = id_key(id).ok_or_else(|| bad("MALFORMED_ID", format!("malformed id {id}")).on(&[]))?;
    let r = org.records.get(&key).ok_or_else(not_found)?;
    if sobject.is_some_and(|s| !s.eq_ignore_ascii_case(&r.sobject)) {
        return Err(not_found());
    }
    if r.deleted {
        return Err(deleted());
    }
    let (rid, ty) = (r.id.clone(), r.sobject.clone());
    if !may_write(org, user, &ty) {
        return Err(read_only());
    }
    if ty == "CampaignMemberStatus" {
        let campaign = Org::str_field(r, "CampaignId").unwrap_or("").to_string();
        let label = Org::str_field(r, "Label").unwrap_or("").to_string();
        let is_default = r.fields.get("IsDefault") == Some(&json!(true));
        let responded = r.fields.get("HasResponded") == Some(&json!(true));
        let other_responded =
            statuses_of(org, &campaign).any(|s| s.id != rid && s.fields.get("HasResponded") == Some(&json!(true)));
        let in_use = members_of(org, &campaign)
            .any(|m| Org::str_field(m, "Status").is_some_and(|s| s.eq_ignore_ascii_case(&label)));
        let why = if is_default {
            Some("the default member status cannot be deleted")
        } else if in_use {
            Some("a member status that members have cannot be deleted")
        } else if responded && !other_responded {
            Some("a campaign must keep at least one responded member status")
        } else {
            None
        };
        if let Some(w) = why {
            return Err(bad("FIELD_INTEGRITY_EXCEPTION", w).on(&[]));
        }
    }
    let mut gone = vec![rid.clone()];
    if ty == "Campaign" {
        for r in org.records.values() {
            if !r.deleted
                && matches!(r.sobject.as_str(), "CampaignMember" | "CampaignMemberStatus")
                && Org::str_field(r, "CampaignId").is_some_and(|c| c.eq_ignore_ascii_case(&rid))
            {
                gone.push(r.id.clone());
            }
        }
        for r in org.records.values_mut() {
            if r.sobject == "Campaign" && Org::str_field(r, "ParentId").is_some_and(|p| p.eq_ignore_ascii_case(&rid)) {
                r.fields.insert("ParentId".into(), Value::Null);
                r.modified = now;
            }
        }
    }
    if ty == "Contact" || ty == "Lead" {
        let k = if ty == "Contact" { "ContactId" } else { "LeadId" };
        for r in org.live_of("CampaignMember") {
            if Org::str_field(r, k).is_some_and(|c| c.eq_ignore_ascii_case(&rid)) {
                gone.push(r.id.clone());
            }
        }
    }
    for g in gone {
        if let Some(r) = org.records.get_mut(&g.to_ascii_lowercase()) {
            r.deleted = true;
            r.modified = now;
            r.modified_by = user.to_string();
        }
    }
    Ok(rid)
}

// ---------------------------------------------------------------------------------------------------------------
// Reads

fn record_url(sobject: &str, id: &str) -> String {
    format!("{DATA_PREFIX}/sobjects/{sobject}/{id}")
}

/// Every field of a record as GET and SOQL return it (derived fields computed now).
pub fn render(org: &Org, r: &Record) -> Map<String, Value> {
    let obj = object(&r.sobject).expect("stored records have known types");
    let mut m = Map::new();
    m.insert(
        "attributes".into(),
        json!({"type": r.sobject, "url": record_url(&r.sobject, &r.id)}),
    );
    let person = |id: Option<&str>| id.and_then(|i| org.records.get(&i.to_ascii_lowercase()));
    for f in obj.visible(org.key_field) {
        let v = match f.name.as_str() {
            "Id" => json!(r.id),
            "IsDeleted" => json!(r.deleted),
            "CreatedDate" => json!(fmt_datetime(r.created)),
            "LastModifiedDate" | "SystemModstamp" => json!(fmt_datetime(r.modified)),
            "CreatedById" => json!(r.created_by),
            "LastModifiedById" => json!(r.modified_by),
            "Name" if r.sobject == "Contact" || r.sobject == "Lead" => {
                let first = Org::str_field(r, "FirstName").unwrap_or("");
                let last = Org::str_field(r, "LastName").unwrap_or("");
                json!(format!("{first} {last}").trim())
            }
            _ => r.fields.get(&f.name).cloned().unwrap_or(Value::Null),
        };
        m.insert(f.name.clone(), v);
    }
    match r.sobject.as_str() {
        "Campaign" => {
            let mut totals = [0f64; 12];
            let tree = descendants(org, &r.id);
            for (n, cid) in tree.iter().enumerate() {
                let Some(c) = org.live(&cid.to_ascii_lowercase()) else {
                    continue;
                };
                let (mut leads, mut conv, mut contacts, mut resp) = (0f64, 0f64, 0f64, 0f64);
                for mem in members_of(org, cid) {
                    if Org::str_field(mem, "ContactId").is_some() {
                        contacts += 1.0;
                    } else if let Some(l) = Org::str_field(mem, "LeadId") {
                        leads += 1.0;
                        if person(Some(l)).is_some_and(|p| p.fields.get("IsConverted") == Some(&json!(true))) {
                            conv += 1.0;
                        }
                    }
                    if Org::str_field(mem, "Status").is_some_and(|s| status_responded(org, cid, s)) {
                        resp += 1.0;
                    }
                }
                let num = |k: &str| c.fields.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
                let row = [
                    leads,
                    conv,
                    contacts,
                    resp,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    num("NumberSent"),
                    num("ExpectedRevenue"),
                    num("BudgetedCost"),
                    num("ActualCost"),
                ];
                if n == 0 {
                    m.insert("NumberOfLeads".into(), json!(leads as i64));
                    m.insert("NumberOfConvertedLeads".into(), json!(conv as i64));
                    m.insert("NumberOfContacts".into(), json!(contacts as i64));
                    m.insert("NumberOfResponses".into(), json!(resp as i64));
                    m.insert("NumberOfOpportunities".into(), json!(0));
                    m.insert("NumberOfWonOpportunities".into(), json!(0));
                    m.insert("AmountAllOpportunities".into(), json!(0.0));
                    m.insert("AmountWonOpportunities".into(), json!(0.0));
                }
                for (t, x) in totals.iter_mut().zip(row) {
                    *t += x;
                }
            }
            for (k, i, int) in [
                ("HierarchyNumberOfLeads", 0, false),
                ("HierarchyNumberOfConvertedLeads", 1, false),
                ("HierarchyNumberOfContacts", 2, true),
                ("HierarchyNumberOfResponses", 3, false),
                ("HierarchyNumberOfOpportunities", 4, false),
                ("HierarchyNumberOfWonOpportunities", 5, true),
                ("HierarchyAmountAllOpportunities", 6, false),
                ("HierarchyAmountWonOpportunities", 7, false),
                ("HierarchyNumberSent", 8, false),
                ("HierarchyExpectedRevenue", 9, false),
                ("HierarchyBudgetedCost", 10, false),
                ("HierarchyActualCost", 11, false),
            ] {
                m.insert(k.into(), if int { json!(totals[i] as i64) } else { json!(totals[i]) });
            }
        }
        "CampaignMember" => {
            let campaign = Org::str_field(r, "CampaignId").unwrap_or("");
            let contact = Org::str_field(r, "ContactId");
            let pid = contact.or(Org::str_field(r, "LeadId"));
            let p = person(pid);
            m.insert(
                "HasResponded".into(),
                json!(Org::str_field(r, "Status").is_some_and(|s| status_responded(org, campaign, s))),
            );
            m.insert("LeadOrContactId".into(), json!(pid));
            m.insert("Type".into(), json!(if contact.is_some() { "Contact" } else { "Lead" }));
            let get = |k: &str| p.and_then(|p| p.fields.get(k).cloned()).unwrap_or(Value::Null);
            m.insert("LeadOrContactOwnerId".into(), get("OwnerId"));
            for k in [
                "FirstName",
                "LastName",
                "Salutation",
                "Title",
                "Email",
                "Phone",
                "MobilePhone",
                "LeadSource",
            ] {
                m.insert(k.into(), get(k));
            }
            for k in ["DoNotCall", "HasOptedOutOfEmail", "HasOptedOutOfFax"] {
                m.insert(k.into(), json!(get(k).as_bool().unwrap_or(false)));
            }
            m.insert(
                "CompanyOrAccount".into(),
                if contact.is_some() { Value::Null } else { get("Company") },
            );
            let name = p
                .map(|p| {
                    format!(
                        "{} {}",
                        Org::str_field(p, "FirstName").unwrap_or(""),
                        Org::str_field(p, "LastName").unwrap_or("")
                    )
                    .trim()
                    .to_string()
                })
                .map_or(Value::Null, Value::String);
            m.insert("Name".into(), name);
        }
        _ => {}
    }
    m
}

/// The describe of one object as this user sees it.
pub fn describe(org: &Org, user: &User, obj: &ObjMeta) -> Value {
    let mut d = obj.raw.clone();
    let writable = !marketing_object(&obj.name) || user.marketing_user;
    if let Some(m) = d.as_object_mut() {
        if !writable {
            for k in ["createable", "updateable", "deletable", "undeletable"] {
                m.insert(k.into(), json!(false));
            }
        }
        let fields: Vec<Value> = obj
            .visible(org.key_field)
            .map(|f| {
                let mut raw = f.raw.clone();
                if f.name == KEY_FIELD && !org.key_unique {
                    raw["unique"] = json!(false);
                }
                if !writable {
                    raw["createable"] = json!(false);
                    raw["updateable"] = json!(false);
                }
                raw
            })
            .collect();
        m.insert("fields".into(), Value::Array(fields));
    }
    d
}

fn global_entry(org: &Org, user: &User, obj: &ObjMeta) -> Value {
    let d = describe(org, user, obj);
    let mut m = Map::new();
    for k in [
        "name",
        "label",
        "labelPlural",
        "keyPrefix",
        "custom",
        "createable",
        "updateable",
        "deletable",
        "undeletable",
        "queryable",
        "searchable",
        "retrieveable",
        "urls",
    ] {
        m.insert(k.into(), d[k].clone());
    }
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------------------------
// The platform

pub struct Inner {
    pub seed: SalesforceSeed,
    pub state: Mutex<State>,
}

/// The Salesforce platform emulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct SalesforceEmulator {
    inner: Arc<Inner>,
}

impl Default for SalesforceEmulator {
    fn default() -> Self {
        Self::with_seed(SalesforceSeed::default())
    }
}

impl SalesforceEmulator {
    pub fn new(config: &EmulatorConfig) -> Self {
        Self::with_seed(config.seed.salesforce.clone())
    }
    pub fn with_seed(seed: SalesforceSeed) -> Self {
        let state = fresh_state(&seed);
        SalesforceEmulator {
            inner: Arc::new(Inner {
                seed,
                state: Mutex::new(state),
            }),
        }
    }
    /// Run something against the state (tests and in-process setup).
    /// Adds an org to a running emulator, as a seed file's `orgs:` entry would have; nothing when it exists.
    pub fn add_org(&self, o: &SalesforceOrgSeed) {
        self.with_state(|st| {
            let id = if o.org_id.len() == 15 {
                to18(&o.org_id)
            } else {
                o.org_id.clone()
            };
            if !st.orgs.contains_key(&id) {
                seed_org(st, o);
            }
        })
    }
    pub fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.inner.state.lock())
    }
}

/// Who is calling, after the session and limit checks.
struct Caller {
    org: String,
    user: String,
}

fn host_of(h: &HeaderMap) -> String {
    h.get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string()
}

fn bearer(h: &HeaderMap) -> Option<String> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, tok) = v.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth")).then(|| tok.trim().to_string())
}

/// The session's org and user, or 401 INVALID_SESSION_ID.
fn session(st: &State, headers: &HeaderMap) -> Result<Caller, SfErr> {
    let tok = bearer(headers).ok_or_else(invalid_session)?;
    let s = st.sessions.get(&tok).ok_or_else(invalid_session)?;
    if st.now() >= s.issued + st.knobs.session_timeout_secs {
        return Err(invalid_session());
    }
    let org = st.orgs.get(&s.org).ok_or_else(invalid_session)?;
    if org
        .instance_host
        .as_deref()
        .is_some_and(|h| !h.eq_ignore_ascii_case(&host_of(headers)))
    {
        return Err(invalid_session());
    }
    Ok(Caller {
        org: s.org.clone(),
        user: s.user.clone(),
    })
}

fn limit_info(org: &Org) -> HeaderValue {
    HeaderValue::from_str(&format!("api-usage={}/{}", org.api_calls.len(), org.daily_api_limit))
        .unwrap_or(HeaderValue::from_static("api-usage=0/0"))
}

fn template_of(rel: &str) -> String {
    let segs: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    let t: Vec<&str> = match segs.as_slice() {
        ["sobjects", _] => vec!["sobjects", "{sobject}"],
        ["sobjects", _, "describe"] => vec!["sobjects", "{sobject}", "describe"],
        ["sobjects", _, _] => vec!["sobjects", "{sobject}", "{id}"],
        ["sobjects", _, _, _] => vec!["sobjects", "{sobject}", "{field}", "{value}"],
        ["query", _] => vec!["query", "{locator}"],
        ["composite", "sobjects", _] => vec!["composite", "sobjects", "{sobject}"],
        ["composite", "sobjects", _, _] => vec!["composite", "sobjects", "{sobject}", "{field}"],
        other => other.to_vec(),
    };
    format!("/{}", t.join("/"))
}

async fn data_entry(inner: Arc<Inner>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let method = parts.method.as_str().to_string();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).unwrap_or_default();
    if path.trim_end_matches('/') == "/services/data" {
        let mut r = if method == "GET" {
            let v: Vec<Value> = (65..=68)
                .map(|n| json!({"label": match n {65 => "Winter '26", 66 => "Spring '26", 67 => "Summer '26", _ => "Winter '27"},
                                "url": format!("/services/data/v{n}.0"), "version": format!("{n}.0")}))
                .collect();
            json_response(200, &Value::Array(v))
        } else {
            error_response(&[method_not_allowed(&method, "GET")])
        };
        r.extensions_mut()
            .insert(EndpointLabel(format!("{method} /services/data/")));
        return r;
    }
    let Some(rel) = path.strip_prefix(DATA_PREFIX).map(String::from) else {
        let mut r = error_response(&[not_found()]);
        r.extensions_mut()
            .insert(EndpointLabel(format!("{method} /services/data/{{version}}")));
        return r;
    };
    let label = format!("{method} {DATA_PREFIX}{}", template_of(&rel));
    let body = axum::body::to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let mut st = inner.state.lock();
    let (resp, ops, org_id) = match session(&st, &parts.headers) {
        Err(e) => (error_response(&[e]), 1, None),
        Ok(caller) => {
            let now = st.now();
            let org = st.orgs.get_mut(&caller.org).expect("a session's org exists");
            org.api_calls.retain(|t| *t > now - 86_400);
            let user_ok = org.user(&caller.user).is_some_and(|u| u.api_enabled);
            if org.api_calls.len() as u64 >= org.daily_api_limit {
                (
                    error_response(&[SfErr::new(
                        403,
                        "REQUEST_LIMIT_EXCEEDED",
                        "TotalRequests Limit exceeded.",
                    )]),
                    1,
                    Some(caller.org),
                )
            } else if !user_ok {
                org.api_calls.push(now);
                (
                    error_response(&[SfErr::new(
                        403,
                        "API_CURRENTLY_DISABLED",
                        "API is disabled for this User",
                    )]),
                    1,
                    Some(caller.org),
                )
            } else {
                org.api_calls.push(now);
                let (r, ops) = route(&mut st, &caller, &method, &rel, &query, &parts.headers, &body);
                (r, ops, Some(caller.org))
            }
        }
    };
    let mut resp = resp;
    if let Some(org) = org_id.and_then(|o| st.orgs.get(&o)) {
        resp.headers_mut().insert("sforce-limit-info", limit_info(org));
    }
    resp.extensions_mut().insert(EndpointLabel(label));
    resp.extensions_mut().insert(OperationCount(ops));
    resp
}

fn method_not_allowed(method: &str, allowed: &str) -> SfErr {
    SfErr::new(
        405,
        "METHOD_NOT_ALLOWED",
        format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
    )
}

fn parse_json(body: &[u8]) -> Result<Value, SfErr> {
    serde_json::from_slice(body).map_err(|e| bad("JSON_PARSER_ERROR", format!("Unexpected character: {e}")))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, SfErr> {
    match parse_json(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(bad(
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of the sObject from START_ARRAY value",
        )),
    }
}

fn q<'a>(query: &'a [(String, String)], k: &str) -> Option<&'a str> {
    query.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

fn created_body(id: &str, created: Option<bool>) -> Value {
    let mut v = json!({"id": id, "success": true, "errors": []});
    if let Some(c) = created {
        v["created"] = json!(c);
    }
    v
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn route(
    st: &mut State,
    c: &Caller,
    method: &str,
    rel: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, u64) {
    let segs: Vec<String> = rel.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let r = match (method, segs.as_slice()) {
        ("GET", []) => Ok(json_response(
            200,
            &json!({"sobjects": format!("{DATA_PREFIX}/sobjects"), "query": format!("{DATA_PREFIX}/query"),
                    "queryAll": format!("{DATA_PREFIX}/queryAll"), "composite": format!("{DATA_PREFIX}/composite"),
                    "limits": format!("{DATA_PREFIX}/limits")}),
        )),
        (_, []) => Err(method_not_allowed(method, "GET")),
        ("GET", ["limits"]) => {
            let org = &st.orgs[&c.org];
            let max = org.daily_api_limit;
            let used = org.api_calls.len() as u64;
            Ok(json_response(
                200,
                &json!({"DailyApiRequests": {"Max": max, "Remaining": max.saturating_sub(used)}}),
            ))
        }
        ("GET", ["sobjects"]) => {
            let org = &st.orgs[&c.org];
            let user = &org.users[&c.user];
            let list: Vec<Value> = meta().iter().map(|o| global_entry(org, user, o)).collect();
            Ok(json_response(
                200,
                &json!({"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION, "sobjects": list}),
            ))
        }
        (_, ["sobjects", t, rest @ ..]) => sobject_route(
            st,
            c,
            t,
            rest,
            &Call {
                method,
                query,
                headers,
                body,
            },
        ),
        ("GET", ["query"]) => query_route(st, c, query, headers, false),
        ("GET", ["queryAll"]) => query_route(st, c, query, headers, true),
        ("GET", ["query", loc]) | ("GET", ["queryAll", loc]) => next_batch(st, c, loc),
        (_, ["composite", "sobjects", rest @ ..]) => {
            return collections::route(st, c, method, rest, query, body);
        }
        _ => Err(not_found()),
    };
    match r {
        Ok(resp) => (resp, 1),
        Err(e) => (error_response(&[e]), 1),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn errs_response(e: Vec<SfErr>) -> Response {
    error_response(&e)
}

/// One data request's method, query, headers and body.
struct Call<'a> {
    method: &'a str,
    query: &'a [(String, String)],
    headers: &'a HeaderMap,
    body: &'a [u8],
}

fn sobject_route(st: &mut State, c: &Caller, t: &str, rest: &[&str], call: &Call) -> Result<Response, SfErr> {
    let (method, query, headers, body) = (call.method, call.query, call.headers, call.body);
    let obj = object(t).ok_or_else(|| SfErr::new(404, "NOT_FOUND", "The requested resource does not exist"))?;
    let org = &st.orgs[&c.org];
    let user = org.users[&c.user].clone();
    match (method, rest) {
        ("GET", []) => Ok(json_response(
            200,
            &json!({"objectDescribe": global_entry(org, &user, obj), "recentItems": []}),
        )),
        ("POST", []) => {
            let b = parse_object(body)?;
            match write(st, &c.org, &c.user, &obj.name, None, &b, false) {
                Ok(id) => Ok(json_response(201, &created_body(&id, None))),
                Err(e) => Ok(errs_response(e)),
            }
        }
        (_, []) => Err(method_not_allowed(method, "GET,POST")),
        ("GET", ["describe"]) => {
            let since = headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_http_date);
            if since.is_some_and(|t| t >= org.meta_modified) {
                return Ok(StatusCode::NOT_MODIFIED.into_response());
            }
            let mut r = json_response(200, &describe(org, &user, obj));
            if let Ok(v) = HeaderValue::from_str(&http_date(org.meta_modified)) {
                r.headers_mut().insert(header::LAST_MODIFIED, v);
            }
            Ok(r)
        }
        (_, ["describe"]) => Err(method_not_allowed(method, "GET")),
        ("GET", [id]) => {
            let key = id_key(id).ok_or_else(not_found)?;
            let r = org
                .records
                .get(&key)
                .filter(|r| r.sobject == obj.name)
                .ok_or_else(not_found)?;
            if r.deleted {
                return Err(deleted());
            }
            let mut resp = json_response(200, &project(render(org, r), obj, org.key_field, q(query, "fields"))?);
            if let Ok(v) = HeaderValue::from_str(&etag(r)) {
                resp.headers_mut().insert(header::ETAG, v);
            }
            if let Ok(v) = HeaderValue::from_str(&http_date(r.modified)) {
                resp.headers_mut().insert(header::LAST_MODIFIED, v);
            }
            Ok(resp)
        }
        ("PATCH", [id]) => {
            precondition(org, headers, id)?;
            let b = parse_object(body)?;
            match write(st, &c.org, &c.user, &obj.name, Some(id), &b, false) {
                Ok(_) => Ok(no_content()),
                Err(e) => Ok(errs_response(e)),
            }
        }
        ("DELETE", [id]) => {
            precondition(org, headers, id)?;
            delete(st, &c.org, &c.user, id, Some(&obj.name)).map(|_| no_content())
        }
        ("POST", [f]) if f.eq_ignore_ascii_case("Id") => {
            // create through upsert (API 37.0+): POST …/{type}/Id is an insert
            let b = parse_object(body)?;
            match write(st, &c.org, &c.user, &obj.name, None, &b, false) {
                Ok(id) => Ok(json_response(201, &created_body(&id, Some(true)))),
                Err(e) => Ok(errs_response(e)),
            }
        }
        (_, [_]) => Err(method_not_allowed(method, "GET,PATCH,DELETE")),
        (m, [field, value]) => {
            let f = obj
                .field(field, org.key_field)
                .filter(|f| f.name == "Id" || f.raw["externalId"] == json!(true));
            let Some(f) = f else {
                return Err(SfErr::new(
                    404,
                    "NOT_FOUND",
                    format!("Provided external ID field does not exist or is not accessible: {field}"),
                ));
            };
            let fname = f.name.clone();
            let matches: Vec<String> = org
                .live_of(&obj.name)
                .filter(|r| Org::str_field(r, &fname).is_some_and(|v| v.eq_ignore_ascii_case(value)))
                .map(|r| r.id.clone())
                .collect();
            if fname == KEY_FIELD && !org.key_unique && !user.view_all_data {
                return Err(read_only());
            }
            if matches.len() > 1 {
                let urls: Vec<String> = matches.iter().map(|i| record_url(&obj.name, i)).collect();
                return Ok(json_response(300, &json!(urls)));
            }
            match m {
                "GET" => {
                    let id = matches.first().ok_or_else(not_found)?;
                    let r = &org.records[&id.to_ascii_lowercase()];
                    Ok(json_response(
                        200,
                        &project(render(org, r), obj, org.key_field, q(query, "fields"))?,
                    ))
                }
                "DELETE" => {
                    let id = matches.first().cloned().ok_or_else(not_found)?;
                    delete(st, &c.org, &c.user, &id, Some(&obj.name)).map(|_| no_content())
                }
                "PATCH" => {
                    let b = parse_object(body)?;
                    match upsert_one(st, c, obj, &fname, value, &b, q(query, "updateOnly") == Some("true")) {
                        Ok((id, created)) => Ok(json_response(
                            if created { 201 } else { 200 },
                            &created_body(&id, Some(created)),
                        )),
                        Err(e) => Ok(errs_response(e)),
                    }
                }
                _ => Err(method_not_allowed(m, "GET,PATCH,DELETE")),
            }
        }
        _ => Err(not_found()),
    }
}

/// A record's ETag: a hash of its stored state (equal content, equal tag).
fn etag(r: &Record) -> String {
    let text = format!("{}|{}|{}", r.id, r.modified, Value::Object(r.fields.clone()));
    format!("\"{:016x}\"", crate::rng::mix64(crate::rng::hash_str(&text)))
}

fn http_date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

fn parse_http_date(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|t| t.timestamp())
}

/// If-Match (ETags or `*`) and If-Unmodified-Since on a record write: a stale precondition is 412.
fn precondition(org: &Org, headers: &HeaderMap, id: &str) -> Result<(), SfErr> {
    let Some(r) = id_key(id).and_then(|k| org.records.get(&k)) else {
        return Ok(());
    };
    let failed = || {
        SfErr::new(
            412,
            "PRECONDITION_FAILED",
            "The record has been modified since the ETag or date given in the request's precondition.",
        )
    };
    if let Some(m) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        let tag = etag(r);
        if m.trim() != "*" && !m.split(',').any(|t| t.trim() == tag) {
            return Err(failed());
        }
    }
    let since = headers
        .get(header::IF_UNMODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    if since.is_some_and(|t| r.modified > t) {
        return Err(failed());
    }
    Ok(())
}

/// Upsert one record by an external id (the key in the URL, not in the body).
fn upsert_one(
    st: &mut State,
    c: &Caller,
    obj: &ObjMeta,
    field: &str,
    value: &str,
    body: &Map<String, Value>,
    update_only: bool,
) -> Result<(String, bool), Vec<SfErr>> {
    if body.keys().any(|k| k.eq_ignore_ascii_case(field)) {
        return Err(vec![bad(
            "INVALID_FIELD",
            format!("{field}: the external ID is given in the URL; it cannot also be set in the body"),
        )
        .on(&[field])]);
    }
    let org = &st.orgs[&c.org];
    let hit: Vec<String> = org
        .live_of(&obj.name)
        .filter(|r| Org::str_field(r, field).is_some_and(|v| v.eq_ignore_ascii_case(value)))
        .map(|r| r.id.clone())
        .collect();
    match hit.first() {
        Some(id) => write(st, &c.org, &c.user, &obj.name, Some(id), body, false).map(|i| (i, false)),
        None if update_only => Err(vec![not_found()]),
        None if field == "Id" => Err(vec![not_found()]),
        None => {
            let mut b = body.clone();
            b.insert(field.to_string(), json!(value));
            write(st, &c.org, &c.user, &obj.name, None, &b, false).map(|i| (i, true))
        }
    }
}

/// `?fields=` on a record GET: only these (plus attributes); an unknown name is INVALID_FIELD.
fn project(mut m: Map<String, Value>, obj: &ObjMeta, key_field: bool, fields: Option<&str>) -> Result<Value, SfErr> {
    let Some(list) = fields else {
        return Ok(Value::Object(m));
    };
    let mut out = Map::new();
    out.insert("attributes".into(), m.remove("attributes").unwrap_or(Value::Null));
    for f in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let meta = obj.field(f, key_field).ok_or_else(|| {
            bad("INVALID_FIELD", format!("No such column '{f}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", obj.name))
        })?;
        out.insert(meta.name.clone(), m.get(&meta.name).cloned().unwrap_or(Value::Null));
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------------------------------
// SOQL

fn malformed(msg: &str) -> SfErr {
    bad("MALFORMED_QUERY", msg.to_string())
}

fn query_route(
    st: &mut State,
    c: &Caller,
    query: &[(String, String)],
    headers: &HeaderMap,
    all: bool,
) -> Result<Response, SfErr> {
    let text = q(query, "q").ok_or_else(|| malformed("A query string has to be specified"))?;
    let parsed = soql::parse(text).map_err(|e| malformed(&e))?;
    let obj = object(&parsed.object).ok_or_else(|| {
        bad(
            "INVALID_TYPE",
            format!(
                "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to \
                 append the '__c' after the entity name. Please reference your WSDL or the describe call for the \
                 appropriate names.",
                parsed.object
            ),
        )
    })?;
    let org = &st.orgs[&c.org];
    let resolve = |f: &str| -> Result<String, SfErr> {
        obj.field(f, org.key_field).map(|m| m.name.clone()).ok_or_else(|| {
            bad(
                "INVALID_FIELD",
                format!(
                    "No such column '{f}' on entity '{}'. If you are attempting to use a custom field, be sure to \
                     append the '__c' after the custom field name. Please reference your WSDL or the describe call \
                     for the appropriate names.",
                    obj.name
                ),
            )
        })
    };
    let fields: Vec<String> = parsed.fields.iter().map(|f| resolve(f)).collect::<Result<_, _>>()?;
    let conds: Vec<(String, soql::Cond)> = parsed
        .conds
        .iter()
        .map(|cd| resolve(&cd.field).map(|n| (n, cd.clone())))
        .collect::<Result<_, _>>()?;
    let order: Vec<(String, soql::Order)> = parsed
        .order
        .iter()
        .map(|o| resolve(&o.field).map(|n| (n, o.clone())))
        .collect::<Result<_, _>>()?;
    let mut rows: Vec<Map<String, Value>> = org
        .records
        .values()
        .filter(|r| r.sobject == obj.name && (all || !r.deleted))
        .map(|r| render(org, r))
        .filter(|m| {
            conds
                .iter()
                .all(|(n, cd)| soql::matches(m.get(n).unwrap_or(&Value::Null), cd))
        })
        .collect();
    rows.sort_by(|a, b| {
        for (n, o) in &order {
            let (x, y) = (a.get(n).unwrap_or(&Value::Null), b.get(n).unwrap_or(&Value::Null));
            let ord = match (x.is_null(), y.is_null()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => {
                    if o.nulls_first {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    }
                }
                (false, true) => {
                    if o.nulls_first {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Less
                    }
                }
                _ => {
                    let o2 = soql::order_values(x, y);
                    if o.desc {
                        o2.reverse()
                    } else {
                        o2
                    }
                }
            };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
    if let Some(l) = parsed.limit {
        rows.truncate(l);
    }
    let out: Vec<Value> = rows
        .into_iter()
        .map(|m| {
            let mut o = Map::new();
            o.insert("attributes".into(), m["attributes"].clone());
            for f in &fields {
                o.insert(f.clone(), m.get(f).cloned().unwrap_or(Value::Null));
            }
            Value::Object(o)
        })
        .collect();
    let batch = headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',').find_map(|kv| {
                kv.trim()
                    .strip_prefix("batchSize=")
                    .and_then(|n| n.trim().parse::<usize>().ok())
            })
        })
        .map_or(QUERY_BATCH, |n| n.clamp(MIN_QUERY_BATCH, QUERY_BATCH));
    let now = st.now();
    st.cursors.retain(|_, cur| now - cur.last_used <= CURSOR_IDLE_SECS);
    // A user keeps at most MAX_CURSORS_PER_USER open locators: a new one closes the least recently used.
    let mine: Vec<(u64, String)> = st
        .cursors
        .iter()
        .filter(|(_, cur)| cur.org == c.org && cur.user == c.user)
        .map(|(k, cur)| (cur.touched, k.clone()))
        .collect();
    if mine.len() >= MAX_CURSORS_PER_USER {
        if let Some((_, oldest)) = mine.iter().min() {
            st.cursors.remove(oldest);
        }
    }
    let touched = st.bump();
    let cursor = Cursor {
        org: c.org.clone(),
        user: c.user.clone(),
        rows: out,
        pos: 0,
        batch,
        last_used: now,
        touched,
    };
    let loc = format!("01g5g0{}", &st.token("locator")[..13]);
    st.cursors.insert(loc.clone(), cursor);
    next_batch(st, c, &loc)
}

fn next_batch(st: &mut State, c: &Caller, loc: &str) -> Result<Response, SfErr> {
    let (id, pos) = match loc.rsplit_once('-') {
        Some((i, p)) => (i.to_string(), p.parse::<usize>().ok()),
        None => (loc.to_string(), Some(0)),
    };
    let now = st.now();
    let touched = st.bump();
    let cur = st
        .cursors
        .get_mut(&id)
        .filter(|cur| cur.org == c.org && now - cur.last_used <= CURSOR_IDLE_SECS)
        .ok_or_else(|| bad("INVALID_QUERY_LOCATOR", "invalid query locator"))?;
    let total = cur.rows.len();
    // Any offset of the locator can be fetched again (a retry after a lost answer).
    let start = pos
        .filter(|p| *p <= total)
        .ok_or_else(|| bad("INVALID_QUERY_LOCATOR", "invalid query locator"))?;
    let end = (start + cur.batch).min(total);
    let records: Vec<Value> = cur.rows[start..end].to_vec();
    cur.pos = end;
    cur.last_used = now;
    cur.touched = touched;
    let done = end >= total;
    let mut body = json!({"totalSize": total, "done": done, "records": records});
    if done {
        st.cursors.remove(&id);
    } else {
        body["nextRecordsUrl"] = json!(format!("{DATA_PREFIX}/query/{id}-{end}"));
    }
    Ok(json_response(200, &body))
}

// ---------------------------------------------------------------------------------------------------------------
// sObject Collections

mod collections {
    use super::*;

    /// One record's outcome: its id (and `created` for upserts), or its errors.
    type RecResult = Result<(String, Option<bool>), Vec<SfErr>>;

    fn too_many() -> SfErr {
        bad(
            "EXCEEDED_ID_LIMIT",
            format!("record limit reached. cannot submit more than {MAX_COLLECTION} records into this call"),
        )
    }

    fn records_of(body: &[u8]) -> Result<(bool, Vec<Map<String, Value>>), SfErr> {
        let b = parse_object(body)?;
        let all = b.get("allOrNone").and_then(|v| v.as_bool()).unwrap_or(false);
        let recs = b
            .get("records")
            .and_then(|v| v.as_array())
            .ok_or_else(|| bad("INVALID_FIELD", "records: the request has no records array"))?;
        if recs.len() > MAX_COLLECTION {
            return Err(too_many());
        }
        let mut out = Vec::new();
        for r in recs {
            out.push(
                r.as_object()
                    .cloned()
                    .ok_or_else(|| bad("JSON_PARSER_ERROR", "a record is not a JSON object"))?,
            );
        }
        Ok((all, out))
    }

    fn type_of(r: &Map<String, Value>) -> Option<&'static ObjMeta> {
        r.get("attributes").and_then(|a| a["type"].as_str()).and_then(object)
    }

    /// Run each operation in order against a copy of the state; commit unless all-or-none saw a failure.
    fn run(
        st: &mut State,
        all_or_none: bool,
        n: usize,
        mut op: impl FnMut(&mut State, usize) -> Result<(String, Option<bool>), Vec<SfErr>>,
    ) -> Response {
        let mut work = st.clone();
        let mut results: Vec<RecResult> = Vec::new();
        for i in 0..n {
            results.push(op(&mut work, i));
        }
        let failed = results.iter().any(|r| r.is_err());
        if !(all_or_none && failed) {
            *st = work;
        }
        let body: Vec<Value> = results
            .into_iter()
            .map(|r| match r {
                Ok((id, created)) if all_or_none && failed => {
                    let _ = created;
                    json!({"id": id, "success": false, "errors": [{"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
                        "fields": []}]})
                }
                Ok((id, created)) => created_body(&id, created),
                Err(e) => json!({"success": false, "errors": e.iter().map(SfErr::record_body).collect::<Vec<_>>()}),
            })
            .collect();
        json_response(200, &Value::Array(body))
    }

    pub(super) fn route(
        st: &mut State,
        c: &Caller,
        method: &str,
        rest: &[&str],
        query: &[(String, String)],
        body: &[u8],
    ) -> (Response, u64) {
        match inner(st, c, method, rest, query, body) {
            Ok(r) => r,
            Err(e) => (error_response(&[e]), 1),
        }
    }

    fn inner(
        st: &mut State,
        c: &Caller,
        method: &str,
        rest: &[&str],
        query: &[(String, String)],
        body: &[u8],
    ) -> Result<(Response, u64), SfErr> {
        let key_field = st.orgs[&c.org].key_field;
        match (method, rest) {
            ("POST", []) => {
                let (all, recs) = records_of(body)?;
                let mut chunks = 0;
                let mut last: Option<&str> = None;
                for r in &recs {
                    let t = type_of(r).ok_or_else(|| {
                        bad(
                            "INVALID_TYPE",
                            "Each record needs attributes.type naming a supported sObject",
                        )
                    })?;
                    read_body(t, key_field, r)?;
                    if last != Some(t.name.as_str()) {
                        chunks += 1;
                        last = Some(t.name.as_str());
                    }
                }
                if chunks > MAX_CHUNKS {
                    return Err(bad(
                        "EXCEEDED_MAX_TYPES_LIMIT",
                        format!("Cannot have more than {MAX_CHUNKS} chunks in a single operation. Please rearrange the data to reduce chunking."),
                    ));
                }
                let n = recs.len() as u64;
                let r = run(st, all, recs.len(), |w, i| {
                    let rec = &recs[i];
                    let t = type_of(rec).map(|t| t.name.as_str()).unwrap_or("");
                    if rec.keys().any(|k| k.eq_ignore_ascii_case("id")) {
                        return Err(vec![
                            bad("INVALID_FIELD", "cannot specify Id in an insert call").on(&["Id"])
                        ]);
                    }
                    write(w, &c.org, &c.user, t, None, rec, false).map(|id| (id, None))
                });
                Ok((r, n))
            }
            ("PATCH", []) => {
                let (all, recs) = records_of(body)?;
                let mut clean = Vec::new();
                for r in &recs {
                    let t = type_of(r).ok_or_else(|| {
                        bad(
                            "INVALID_TYPE",
                            "Each record needs attributes.type naming a supported sObject",
                        )
                    })?;
                    let mut m = r.clone();
                    let id = m
                        .keys()
                        .find(|k| k.eq_ignore_ascii_case("id"))
                        .cloned()
                        .and_then(|k| m.remove(&k))
                        .and_then(|v| v.as_str().map(String::from));
                    read_body(t, key_field, &m)?;
                    clean.push((t.name.clone(), id, m));
                }
                let n = clean.len() as u64;
                let r = run(st, all, clean.len(), |w, i| {
                    let (t, id, m) = &clean[i];
                    let Some(id) = id else {
                        return Err(vec![
                            bad("MISSING_ARGUMENT", "Id not specified in an update call").on(&[])
                        ]);
                    };
                    if id_key(id).is_none() {
                        return Err(vec![bad("MALFORMED_ID", format!("malformed id {id}")).on(&["Id"])]);
                    }
                    write(w, &c.org, &c.user, t, Some(id), m, false)
                        .map(|id| (id, None))
                        .map_err(|e| {
                            e.into_iter()
                                .map(|x| {
                                    if x.code == "NOT_FOUND" {
                                        bad("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id").on(&[])
                                    } else {
                                        x
                                    }
                                })
                                .collect()
                        })
                });
                Ok((r, n))
            }
            ("DELETE", []) => {
                let all = q(query, "allOrNone") == Some("true");
                let ids: Vec<String> = q(query, "ids")
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                if ids.len() > MAX_COLLECTION {
                    return Err(too_many());
                }
                let n = ids.len() as u64;
                let r = run(st, all, ids.len(), |w, i| {
                    delete(w, &c.org, &c.user, &ids[i], None)
                        .map(|id| (id, None))
                        .map_err(|e| {
                            vec![if e.code == "NOT_FOUND" || e.code == "MALFORMED_ID" {
                                bad("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id").on(&[])
                            } else {
                                e
                            }]
                        })
                });
                Ok((r, n))
            }
            ("PATCH", [t, field]) => {
                let obj = object(t).ok_or_else(not_found)?;
                let org = &st.orgs[&c.org];
                let f = obj
                    .field(field, org.key_field)
                    .filter(|f| f.raw["externalId"] == json!(true))
                    .ok_or_else(|| {
                        SfErr::new(
                            404,
                            "NOT_FOUND",
                            format!("Provided external ID field does not exist or is not accessible: {field}"),
                        )
                    })?;
                let fname = f.name.clone();
                if !org.key_unique && !org.users[&c.user].view_all_data {
                    return Err(read_only());
                }
                let (all, recs) = records_of(body)?;
                let mut clean = Vec::new();
                for r in &recs {
                    if let Some(tt) = type_of(r) {
                        if tt.name != obj.name {
                            return Err(bad("INVALID_TYPE", format!("records must all be {}", obj.name)));
                        }
                    }
                    let mut m = r.clone();
                    let key = m
                        .keys()
                        .find(|k| k.eq_ignore_ascii_case(&fname))
                        .cloned()
                        .and_then(|k| m.remove(&k));
                    let has_id = m.keys().any(|k| k.eq_ignore_ascii_case("id"));
                    read_body(
                        obj,
                        org.key_field,
                        &m.clone()
                            .into_iter()
                            .filter(|(k, _)| !k.eq_ignore_ascii_case("id"))
                            .collect(),
                    )?;
                    clean.push((key.and_then(|v| v.as_str().map(String::from)), has_id, m));
                }
                let n = clean.len() as u64;
                let r = run(st, all, clean.len(), |w, i| {
                    let (key, has_id, m) = &clean[i];
                    if *has_id {
                        return Err(vec![bad(
                            "INVALID_FIELD",
                            "records of an upsert by external id carry no Id",
                        )
                        .on(&["Id"])]);
                    }
                    let Some(key) = key else {
                        return Err(vec![bad("MISSING_ARGUMENT", format!("{fname} not specified")).on(&[])]);
                    };
                    let org = &w.orgs[&c.org];
                    let hits = org
                        .live_of(&obj.name)
                        .filter(|r| Org::str_field(r, &fname).is_some_and(|v| v.eq_ignore_ascii_case(key)))
                        .count();
                    if hits > 1 {
                        return Err(vec![bad(
                            "DUPLICATE_EXTERNAL_ID",
                            format!("{fname}: more than one record found for external id field: {key}"),
                        )
                        .on(&[&fname])]);
                    }
                    upsert_one(w, c, obj, &fname, key, m, false).map(|(id, cr)| (id, Some(cr)))
                });
                Ok((r, n))
            }
            ("GET", [t]) | ("POST", [t]) => {
                let obj = object(t).ok_or_else(not_found)?;
                let (ids, fields): (Vec<String>, Vec<String>) = if method == "GET" {
                    let split = |k: &str| -> Vec<String> {
                        q(query, k)
                            .unwrap_or("")
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    };
                    (split("ids"), split("fields"))
                } else {
                    let b = parse_object(body)?;
                    let list = |k: &str| -> Vec<String> {
                        b.get(k)
                            .and_then(|v| v.as_array())
                            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                            .unwrap_or_default()
                    };
                    (list("ids"), list("fields"))
                };
                if ids.len() > MAX_RETRIEVE_IDS {
                    return Err(too_many());
                }
                let org = &st.orgs[&c.org];
                let fl = fields.join(",");
                let out: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        id_key(id)
                            .and_then(|k| org.live(&k))
                            .filter(|r| r.sobject == obj.name)
                            .map(|r| project(render(org, r), obj, org.key_field, Some(&fl)).unwrap_or(Value::Null))
                            .unwrap_or(Value::Null)
                    })
                    .collect();
                Ok((json_response(200, &Value::Array(out)), 1))
            }
            _ => Err(not_found()),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Admin

fn admin_error(status: StatusCode, msg: &str) -> Response {
    (status, AxumJson(json!({"error": msg}))).into_response()
}

#[derive(Deserialize)]
struct ClockBody {
    advance_secs: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigBody {
    session_timeout_secs: Option<i64>,
    daily_api_limit: Option<u64>,
    restricted_picklists: Option<bool>,
    move_instance_to: Option<String>,
    refresh_token_rotation: Option<bool>,
    adsctl_key_field: Option<bool>,
}

#[derive(Deserialize)]
struct AdminRecord {
    sobject: String,
    fields: Map<String, Value>,
    username: Option<String>,
}

fn admin_router(emu: SalesforceEmulator) -> Router {
    let (e1, e2, e3, e4, e5) = (emu.clone(), emu.clone(), emu.clone(), emu.clone(), emu);
    Router::new()
        .route(
            "/_emulator/salesforce/store",
            get(move || {
                let emu = e1.clone();
                async move { AxumJson(emu.dump()).into_response() }
            }),
        )
        .route(
            "/_emulator/salesforce/records/{id}",
            get(move |Path(id): Path<String>| {
                let emu = e2.clone();
                async move {
                    let st = emu.inner.state.lock();
                    let key = id_key(&id).unwrap_or_default();
                    match st.orgs.values().find_map(|o| o.records.get(&key).map(|r| (o, r))) {
                        Some((o, r)) => {
                            AxumJson(json!({"org": o.id, "record": r, "rendered": render(o, r)})).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such record"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/salesforce/orgs/{org}/records",
            post(move |Path(org): Path<String>, AxumJson(b): AxumJson<AdminRecord>| {
                let emu = e3.clone();
                async move {
                    let mut st = emu.inner.state.lock();
                    let Some(o) = st.orgs.get(&org) else {
                        return admin_error(StatusCode::NOT_FOUND, "no such org");
                    };
                    let user = match &b.username {
                        Some(u) => o.users.values().find(|x| x.username == *u).map(|x| x.id.clone()),
                        None => o
                            .users
                            .get(defaults::SALESFORCE_USER_ID)
                            .or_else(|| o.users.values().next())
                            .map(|u| u.id.clone()),
                    };
                    let Some(user) = user else {
                        return admin_error(StatusCode::NOT_FOUND, "no such user");
                    };
                    match write(&mut st, &org, &user, &b.sobject, None, &b.fields, true) {
                        Ok(id) => (StatusCode::CREATED, AxumJson(json!({"id": id}))).into_response(),
                        Err(e) => error_response(&e),
                    }
                }
            }),
        )
        .route(
            "/_emulator/salesforce/clock",
            post(move |AxumJson(b): AxumJson<ClockBody>| {
                let emu = e4.clone();
                async move {
                    let mut st = emu.inner.state.lock();
                    st.clock_offset_secs += b.advance_secs;
                    AxumJson(json!({"now": st.now(), "offset_secs": st.clock_offset_secs})).into_response()
                }
            }),
        )
        .route(
            "/_emulator/salesforce/config",
            post(move |AxumJson(b): AxumJson<ConfigBody>| {
                let emu = e5.clone();
                async move {
                    let mut st = emu.inner.state.lock();
                    if let Some(v) = b.session_timeout_secs {
                        st.knobs.session_timeout_secs = v;
                    }
                    if let Some(v) = b.restricted_picklists {
                        st.knobs.restricted_picklists = v;
                    }
                    if let Some(v) = b.move_instance_to {
                        st.knobs.move_instance_to = Some(v);
                    }
                    if let Some(v) = b.refresh_token_rotation {
                        st.clients.values_mut().for_each(|c| c.rotation = v);
                    }
                    let now = st.now();
                    for o in st.orgs.values_mut() {
                        if b.adsctl_key_field.is_some() {
                            o.meta_modified = now;
                        }
                        if let Some(v) = b.daily_api_limit {
                            o.daily_api_limit = v;
                        }
                        if let Some(v) = b.adsctl_key_field {
                            o.key_field = v;
                        }
                    }
                    AxumJson(json!({"knobs": st.knobs})).into_response()
                }
            }),
        )
}

impl PlatformEmulator for SalesforceEmulator {
    fn name(&self) -> &'static str {
        "salesforce"
    }

    fn router(&self) -> Router {
        let inner = self.inner.clone();
        let api = any(move |req: Request| data_entry(inner.clone(), req));
        Router::new()
            .route("/services/data", api.clone())
            .route("/services/data/", api.clone())
            .route("/services/data/{*path}", api)
            .merge(oauth::router(self.inner.clone()))
            .merge(admin_router(self.clone()))
    }

    /// ServerError: 503 SERVER_UNAVAILABLE; RateLimit: 403 REQUEST_LIMIT_EXCEEDED (the concurrent long-running
    /// request limit: Salesforce uses no 429 and sends no Retry-After).
    fn fault_response(&self, fault: FaultKind) -> Response {
        match fault {
            FaultKind::RateLimit => error_response(&[SfErr::new(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded.",
            )]),
            _ => error_response(&[SfErr::new(
                503,
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable. Please try again later.",
            )]),
        }
    }

    fn dump(&self) -> Value {
        serde_json::to_value(&*self.inner.state.lock()).unwrap_or(Value::Null)
    }

    fn restore(&self, dump: Value) -> Result<(), String> {
        let mut st: State =
            serde_json::from_value(dump).map_err(|e| format!("invalid Salesforce emulator state: {e}"))?;
        // a restored emulator may listen elsewhere (a new `--emulator` run): each org's instance is fixed again by
        // its next token or call, not left on the saved run's port
        for org in st.orgs.values_mut() {
            org.instance_host = None;
        }
        *self.inner.state.lock() = st;
        Ok(())
    }

    fn reset(&self) {
        *self.inner.state.lock() = fresh_state(&self.inner.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_emulator_fixes_its_orgs_instances_anew() {
        let e = SalesforceEmulator::default();
        e.with_state(|st| {
            for o in st.orgs.values_mut() {
                o.instance_host = Some("127.0.0.1:1".into());
            }
        });
        let dump = e.dump();
        let again = SalesforceEmulator::default();
        again.restore(dump).unwrap();
        again.with_state(|st| assert!(st.orgs.values().all(|o| o.instance_host.is_none())));
    }

    #[test]
    fn ids_have_the_case_checksum_suffix() {
        assert_eq!(to18("00D5g00000EMu01"), defaults::SALESFORCE_ORG_ID);
        assert_eq!(to18("0055g00000EMu01"), defaults::SALESFORCE_USER_ID);
        let mut st = fresh_state(&SalesforceSeed::default());
        let id = st.new_id("701");
        assert_eq!(id.len(), 18);
        assert_eq!(to18(&id[..15]), id);
        assert_eq!(
            id_key(&id[..15]),
            id_key(&id.to_ascii_uppercase()).map(|_| id.to_ascii_lowercase())
        );
        assert!(id_key("not-an-id").is_none());
    }

    #[test]
    fn describe_metadata_loads_every_pack_object() {
        let names: Vec<&str> = meta().iter().map(|o| o.name.as_str()).collect();
        for n in ["Campaign", "CampaignMember", "CampaignMemberStatus", "Contact", "Lead"] {
            assert!(names.contains(&n), "{n}");
        }
        let c = object("campaign").unwrap();
        assert_eq!(c.prefix, "701");
        assert!(c.field("adsctl_key__c", true).is_some() && c.field("adsctl_key__c", false).is_none());
        assert!(c.raw.get("_note").is_none(), "private keys are stripped");
    }

    #[test]
    fn numbers_round_half_away_from_zero_to_their_scale() {
        assert_eq!(round_to(12.5, 0), 13.0);
        assert_eq!(round_to(-12.5, 0), -13.0);
        assert_eq!(round_to(12.345, 2), 12.35);
        assert_eq!(round_to(12.4, 0), 12.0);
    }
}
