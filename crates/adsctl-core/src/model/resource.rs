use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Address, Kind, SmallMap, Value};

/// Where a desired resource was declared, for error messages (`file:line:col`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLocation {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Refuse any plan that would remove or replace this resource, even after its YAML block is deleted.
    #[serde(default)]
    pub prevent_destroy: bool,
    /// Field names (as in `fields`) whose live value is never changed back.
    #[serde(default)]
    pub ignore_changes: Vec<String>,
    /// Take over an object that exists on the platform but was not made by adsctl (matched by its name or its
    /// `id:` pin): the plan adopts it once and marks it, instead of refusing to touch someone else's object.
    #[serde(default, skip_serializing_if = "is_false")]
    pub adopt: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One object on a platform, in platform-neutral form.
///
/// Desired resources (from the spec) carry exactly the fields the user wrote; live resources (from a connector)
/// carry every field the connector knows. Diffing compares only the desired resource's fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub address: Address,
    pub kind: Kind,
    /// Platform id: the `id:` pin on a desired resource, the actual id on a live one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Managed fields. Names are snake_case, dotted for nesting (`budget.daily`, `targeting.countries`).
    pub fields: SmallMap,
    /// Desired only.
    #[serde(default, skip_serializing_if = "is_default")]
    pub lifecycle: Lifecycle,
    /// Live only: the platform shows adsctl's ownership marker (label / ad label / marker text), or, for a kind
    /// without one, the connector derives ownership from the platform (see docs/resource-model.md).
    #[serde(default)]
    pub owned: bool,
    /// Live only: objects adsctl does not manage use it (a shared budget of someone else's campaigns). A kind
    /// without an ownership marker is then never taken as adsctl's by its name alone.
    #[serde(default, skip_serializing_if = "is_false")]
    pub in_use_by_unmanaged: bool,
    /// Live only: platform-reported facts that are not managed (review status, effective status, …), shown to
    /// people and kept for status views, never diffed.
    #[serde(default, skip_serializing_if = "SmallMap::is_empty")]
    pub observed: SmallMap<String>,
    /// Desired only: where it was declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceLocation>,
}

fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

impl Resource {
    pub fn new(address: Address, kind: Kind) -> Resource {
        Resource {
            address,
            kind,
            id: None,
            fields: SmallMap::new(),
            lifecycle: Lifecycle::default(),
            owned: false,
            in_use_by_unmanaged: false,
            observed: SmallMap::new(),
            source: None,
        }
    }
    pub fn with(mut self, field: &str, value: Value) -> Resource {
        self.fields.insert(field.to_string(), value);
        self
    }
    pub fn parent(&self) -> Option<Address> {
        self.address.parent()
    }
    /// Addresses this resource refers to (besides its parent): shared budgets, audiences.
    pub fn refs(&self) -> Vec<&Address> {
        fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Address>) {
            match v {
                Value::Ref(a) => out.push(a),
                Value::List(xs) => xs.iter().for_each(|x| walk(x, out)),
                Value::Set(xs) => xs.iter().for_each(|x| walk(x, out)),
                Value::Map(m) => m.values().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        self.fields.values().for_each(|v| walk(v, &mut out));
        out
    }
}

#[derive(Serialize)]
struct FingerprintItem<'a> {
    address: &'a Address,
    id: &'a Option<String>,
    owned: bool,
    fields: &'a SmallMap,
}

/// A stable digest of an account's live state: addresses, ids, ownership and fields (not the observed
/// review statuses, which change without anyone editing the account).
pub fn live_fingerprint(live: &[Resource]) -> String {
    let mut items: Vec<FingerprintItem> = live
        .iter()
        .map(|r| FingerprintItem {
            address: &r.address,
            id: &r.id,
            owned: r.owned,
            fields: &r.fields,
        })
        .collect();
    items.sort_by(|a, b| (a.address, a.id).cmp(&(b.address, b.id)));
    let mut h = Sha256::new();
    for i in items {
        // Straight into the hasher (the same bytes as `to_vec`, without a buffer per object). Serialising plain
        // data cannot fail; a failure would still leave a stable digest.
        let _ = serde_json::to_writer(&mut h, &i);
        h.update(b"\n");
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// A short digest of one value (16 hex digits of SHA-256 over its JSON form; sets serialise sorted), for
/// write-only fields whose fingerprint a connector keeps on the platform (audience members): a runner without
/// state compares the desired value's fingerprint with the one the platform reports.
pub fn value_fingerprint(v: &Value) -> String {
    let mut h = Sha256::new();
    let _ = serde_json::to_writer(&mut h, v);
    hex::encode(&h.finalize()[..8])
}

/// The `observed` key under which a live resource reports the fingerprint of a write-only field.
pub fn fingerprint_key(field: &str) -> String {
    format!("fingerprint.{field}")
}
