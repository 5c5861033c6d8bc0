//! Meta split tests (A/B tests) as code: the `split_tests:` block, its lowering and checks, the live read of
//! `act_{id}/ad_studies` with each study's cells and objectives, and the parameters of
//! `POST /{business_id}/ad_studies` and `POST /{study}` (`reference/meta-marketing-supplement/`: AdStudy,
//! AdStudyCell, AdStudyObjective, Business). `docs/spec.md` (Meta → Split tests) says which readings were chosen.
//!
//! The resource (`split_test`, at the account's level) carries:
//! - `business_id`: where it is created (the account's `business_id:`; read back from the study's `business`);
//! - `description` (the user's part; adsctl's ownership marker is written after it, as for custom conversions);
//! - `start_time`, `end_time`: RFC 3339 in UTC;
//! - `objective`: the primary objective's type, lower case (`conversions`), when declared;
//! - `cells`: a list, in order, of `{name, percent, ad_sets | campaigns}` with the objects as references.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::mapping::{self, IdOrRef, MappingError, Params, Ref, Tmpl};
use super::wire::IdOnly;
use crate::import::{map_insert, s, yaml_of};
use crate::model::{Account, Address, Kind, Resource, SmallMap, Value};
use crate::spec::de::{Opt, Spanned as S};
use crate::spec::error::{did_you_mean, Code};
use crate::spec::lower::Lower;
use crate::spec::types::{spec_enum, IdText, LifecycleSpec};

/// The most cells a split test may have (the emulator refuses more; reading chosen: Ads Manager's A/B tests
/// compare up to five versions).
pub const MAX_CELLS: usize = 5;

/// The managed fields of a split test (`docs/resource-model.md`).
pub const FIELDS: &[&str] = &[
    "business_id",
    "description",
    "start_time",
    "end_time",
    "objective",
    "cells",
];

/// Fixed once the study exists (a change replaces it): the business it is made on, and what Meta fixes once the
/// study has started (its start time and cells), plus the objective (adsctl writes objectives at creation only).
pub const IMMUTABLE: &[&str] = &["business_id", "start_time", "cells", "objective"];

/// `fields=` for the account's studies.
pub const STUDY_FIELDS: &str = "id,name,description,type,start_time,end_time,business,canceled_time";
/// `fields=` for a study's cells (edges expanded, as Meta's Ad Study reference reads them).
pub const CELL_FIELDS: &str = "id,name,treatment_percentage,adsets,campaigns";
/// `fields=` for a study's objectives.
pub const OBJECTIVE_FIELDS: &str = "id,name,is_primary,type";

// ───────────────────────────── YAML ─────────────────────────────

/// A Meta split test (`split_tests:` of a Meta account): cells of the account's ad sets (or campaigns) that Meta
/// shows to separate parts of one audience, each with its share, from `start_time` to `end_time`. Its account
/// needs `business_id:` (studies are created on the business). Once it has started, Meta fixes its start time and
/// cells: changing them then is refused at apply (end it with `end_time` and declare a new one).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "SplitTest")]
#[schemars(rename = "MetaSplitTest")]
pub struct MetaSplitTest {
    /// Unique name within the account.
    pub name: S<String>,
    /// The Meta account (it needs `business_id:` in `adsctl.yaml`).
    pub account: S<String>,
    /// What the test is about.
    #[serde(default)]
    pub description: Opt<String>,
    /// When it starts, RFC 3339 (`2027-03-01T00:00:00Z`); in the future when it is created.
    pub start_time: S<String>,
    /// When it ends, RFC 3339, after `start_time`.
    pub end_time: S<String>,
    /// What it measures (the study's primary objective): `conversions`, `sales`, `brand`, … (Meta's
    /// AdStudyObjective types).
    #[serde(default)]
    pub objective: Opt<StudyObjective>,
    /// The arms: 2 to 5 cells whose `percent` add up to 100, each naming ad sets (`ad_sets:`) or campaigns
    /// (`campaigns:`) of this account by their YAML names — the same level in every cell, no object twice.
    pub cells: S<Vec<S<MetaSplitTestCell>>>,
    /// Adopt an existing split test by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

/// One arm of a split test.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetaSplitTestCell {
    /// The arm's name, unique in the test.
    pub name: S<String>,
    /// Its share of the audience, a whole percent (1–99); the cells' shares add up to 100.
    pub percent: S<u32>,
    /// Ad sets of the account, by name (an ad set name must be unique in the account to be named here).
    #[serde(default)]
    pub ad_sets: Opt<Vec<S<String>>>,
    /// Campaigns of the account, by name.
    #[serde(default)]
    pub campaigns: Opt<Vec<S<String>>>,
}

spec_enum!(
    /// What a Meta split test measures (AdStudyObjective `type`).
    StudyObjective {
        Brand => "brand",
        Brandlift => "brandlift",
        Conversions => "conversions",
        Ftl => "ftl",
        Mae => "mae",
        Mai => "mai",
        MpcConversion => "mpc_conversion",
        Nonsales => "nonsales",
        Partner => "partner",
        Sales => "sales",
        Telco => "telco",
    }
);

// ───────────────────────────── lowering ─────────────────────────────

impl Lower<'_> {
    /// A Meta split test: checked (business id, times, cells and their shares, the objects they name) and
    /// lowered to one `split_test` resource.
    pub(crate) fn meta_split_test(&mut self, acct: &Account, t: MetaSplitTest) {
        let Some(mut r) = self.account_resource(acct, Kind::SplitTest, "split test", &t.name, &t.id, &t.lifecycle)
        else {
            return;
        };
        let mut ok = true;
        match self.business_ids.get(&acct.name) {
            Some(b) => {
                r.fields.insert("business_id", Value::str(b));
            }
            None => {
                self.err(
                    t.account.span,
                    Code::MissingField,
                    format!(
                        "split test `{}`: meta account `{}` has no `business_id`",
                        t.name.value, acct.name
                    ),
                    format!(
                        "Meta creates split tests on a business: add `business_id: \"<digits>\"` to account `{}` in \
                         adsctl.yaml (Business settings → Business info)",
                        acct.name
                    ),
                );
                ok = false;
            }
        }
        if let Some(d) = &*t.description {
            match self.text(d, "description", 1000) {
                Some(x) => {
                    r.fields.insert("description", x);
                }
                None => ok = false,
            }
        }
        let start = self.time(&t.start_time, "start_time", &mut r);
        let end = self.time(&t.end_time, "end_time", &mut r);
        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                self.err(
                    t.end_time.span,
                    Code::Constraint,
                    "end_time is not after start_time",
                    "a split test ends after it starts",
                );
                ok = false;
            }
        } else {
            ok = false;
        }
        if let Some(o) = &*t.objective {
            r.fields.insert("objective", Value::str(o.wire()));
        }
        match self.split_test_cells(acct, &t.cells) {
            Some(cells) => {
                r.fields.insert("cells", cells);
            }
            None => ok = false,
        }
        if ok {
            self.resources.push(r);
        }
    }

    /// The cells, checked: 2..=5, unique names, whole shares of 1..=99 adding up to 100, each naming ad sets or
    /// campaigns of the account (one level for all), no object twice.
    fn split_test_cells(&mut self, acct: &Account, cells: &S<Vec<S<MetaSplitTestCell>>>) -> Option<Value> {
        let mut ok = true;
        if cells.len() < 2 || cells.len() > MAX_CELLS {
            self.err(
                cells.span,
                Code::Constraint,
                format!("a split test has 2 to {MAX_CELLS} cells, this one has {}", cells.len()),
                "each cell is one arm of the test: name at least two",
            );
            ok = false;
        }
        let base = Address::account(&acct.name);
        // ad sets of the account by name (ad set names are unique within their campaign only)
        let mut adsets: BTreeMap<String, Vec<Address>> = BTreeMap::new();
        for a in self.declared.keys() {
            if a.account == acct.name && a.kind() == Some(Kind::AdSet) {
                if let Some(n) = a.name() {
                    adsets.entry(n.to_string()).or_default().push(a.clone());
                }
            }
        }
        let mut names = BTreeSet::new();
        let mut seen: BTreeSet<Address> = BTreeSet::new();
        let mut level: Option<&'static str> = None;
        let mut sum = 0u32;
        let mut out = Vec::new();
        for cell in cells.iter() {
            let name = cell.name.trim();
            if name.is_empty() {
                self.err(
                    cell.name.span,
                    Code::Constraint,
                    "cell name is empty",
                    "give the cell a name",
                );
                ok = false;
            } else if !names.insert(name.to_string()) {
                self.err(
                    cell.name.span,
                    Code::Duplicate,
                    format!("cell `{name}` is named twice in this split test"),
                    "give each cell its own name",
                );
                ok = false;
            }
            let pct = cell.percent.value;
            if !(1..=99).contains(&pct) {
                self.err(
                    cell.percent.span,
                    Code::Constraint,
                    format!("cell `{name}`: percent {pct} is not between 1 and 99"),
                    "each cell gets a whole share of the audience; the shares add up to 100",
                );
                ok = false;
            }
            sum += pct;
            let (field, items): (&'static str, &Vec<S<String>>) = match (cell.ad_sets.as_ref(), cell.campaigns.as_ref())
            {
                (Some(a), None) if !a.is_empty() => ("ad_sets", a),
                (None, Some(c)) if !c.is_empty() => ("campaigns", c),
                (Some(_), Some(_)) => {
                    self.err(
                        cell.span,
                        Code::Constraint,
                        format!("cell `{name}` names both ad sets and campaigns"),
                        "a split test compares one level: write `ad_sets:` or `campaigns:` in every cell",
                    );
                    ok = false;
                    continue;
                }
                _ => {
                    self.err(
                        cell.span,
                        Code::MissingField,
                        format!("cell `{name}` names no ad sets and no campaigns"),
                        "add `ad_sets: [<ad set name>]` or `campaigns: [<campaign name>]`",
                    );
                    ok = false;
                    continue;
                }
            };
            if *level.get_or_insert(field) != field {
                self.err(
                    cell.span,
                    Code::Constraint,
                    format!(
                        "cell `{name}` names {}, another cell names {}",
                        field.replace('_', " "),
                        level.unwrap_or("").replace('_', " ")
                    ),
                    "a split test compares one level: ad sets in every cell, or campaigns in every cell",
                );
                ok = false;
            }
            let mut refs = Vec::new();
            for item in items {
                let n = item.trim();
                let target = if field == "campaigns" {
                    let a = base.child(Kind::Campaign, n);
                    if self.declared.contains_key(&a) {
                        Some(a)
                    } else {
                        let known = self.names_of(&base, Kind::Campaign);
                        let hint = match did_you_mean(n, known.iter().map(String::as_str)) {
                            Some(x) => format!("did you mean `{x}`?"),
                            None => format!("name a campaign of account `{}` declared in the YAML", acct.name),
                        };
                        self.err(
                            item.span,
                            Code::UnknownReference,
                            format!("unknown campaign `{n}` in account `{}`", acct.name),
                            hint,
                        );
                        None
                    }
                } else {
                    match adsets.get(n).map(Vec::as_slice) {
                        Some([one]) => Some(one.clone()),
                        Some(many) => {
                            let where_: Vec<String> = many
                                .iter()
                                .filter_map(|a| a.parent().and_then(|p| p.name().map(str::to_string)))
                                .collect();
                            self.err(
                                item.span,
                                Code::Constraint,
                                format!("ad set name `{n}` is used in several campaigns ({})", where_.join(", ")),
                                "rename the ad sets so that the one in the test has a name of its own in the account",
                            );
                            None
                        }
                        None => {
                            let hint = match did_you_mean(n, adsets.keys().map(String::as_str)) {
                                Some(x) => format!("did you mean `{x}`?"),
                                None => format!("name an ad set of account `{}` declared in the YAML", acct.name),
                            };
                            self.err(
                                item.span,
                                Code::UnknownReference,
                                format!("unknown ad set `{n}` in account `{}`", acct.name),
                                hint,
                            );
                            None
                        }
                    }
                };
                let Some(target) = target else {
                    ok = false;
                    continue;
                };
                if !seen.insert(target.clone()) {
                    self.err(
                        item.span,
                        Code::Duplicate,
                        format!("`{n}` is in more than one cell"),
                        "the cells of a split test do not overlap: name each object in one cell",
                    );
                    ok = false;
                }
                refs.push(Value::reference(target));
            }
            let mut m = SmallMap::default();
            m.insert("name", Value::str(name));
            m.insert("percent", Value::Int(i64::from(pct)));
            m.insert(field, Value::List(refs));
            out.push(Value::Map(m));
        }
        if ok && sum != 100 && !cells.is_empty() {
            self.err(
                cells.span,
                Code::Constraint,
                format!("the cells' percents add up to {sum}, not 100"),
                "a split test divides one audience: make the shares add up to 100",
            );
            ok = false;
        }
        ok.then_some(Value::List(out))
    }
}

// ───────────────────────────── reading ─────────────────────────────

/// AdStudy (`reference/meta-marketing-supplement/specs/AdStudy.json`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AdStudy {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, rename = "type")]
    pub study_type: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub business: Option<IdOnly>,
    #[serde(default)]
    pub canceled_time: Option<String>,
}

/// An expanded edge: `{"data":[{"id":…}]}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IdList {
    #[serde(default)]
    pub data: Vec<IdOnly>,
}

/// AdStudyCell, with its `adsets` / `campaigns` edges expanded.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AdStudyCell {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    /// A float in the spec.
    #[serde(default)]
    pub treatment_percentage: Option<Json>,
    #[serde(default)]
    pub adsets: Option<IdList>,
    #[serde(default)]
    pub campaigns: Option<IdList>,
}

/// AdStudyObjective.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AdStudyObjective {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub is_primary: Option<bool>,
    #[serde(default, rename = "type")]
    pub objective_type: Option<String>,
}

/// Whether a listed study is one adsctl reads as a split test (type SPLIT_TEST, not canceled).
pub fn is_split_test(s: &AdStudy) -> bool {
    s.study_type.as_deref() == Some("SPLIT_TEST") && s.canceled_time.is_none()
}

/// A split test as a resource: cells' objects as references to the campaigns and ad sets read (`objects`: id →
/// address), or their bare ids when adsctl does not know them; owned when its description ends with the marker.
pub fn study_resource(
    account: &str,
    s: &AdStudy,
    cells: &[AdStudyCell],
    objectives: &[AdStudyObjective],
    objects: &HashMap<String, Address>,
) -> Resource {
    let addr = Address::account(account).child(Kind::SplitTest, &s.name);
    let mut r = Resource::new(addr, Kind::SplitTest);
    r.id = Some(s.id.clone());
    if let Some(b) = s.business.as_ref().and_then(|b| b.id.clone()) {
        r.fields.insert("business_id", Value::Str(b));
    }
    for (k, v) in [("start_time", &s.start_time), ("end_time", &s.end_time)] {
        if let Some(t) = v.as_deref().filter(|t| !t.is_empty()) {
            r.fields.insert(k, Value::Str(mapping::read_time(t)));
        }
    }
    let primary = objectives
        .iter()
        .find(|o| o.is_primary == Some(true))
        .or_else(|| objectives.first());
    if let Some(t) = primary.and_then(|o| o.objective_type.as_deref()) {
        r.fields.insert("objective", mapping::lower(t));
    }
    let mut out = Vec::new();
    for c in cells {
        let mut m = SmallMap::default();
        m.insert("name", Value::str(&c.name));
        let pct = c
            .treatment_percentage
            .as_ref()
            .and_then(|p| p.as_f64().or_else(|| p.as_str()?.parse().ok()))
            .unwrap_or(0.0);
        m.insert("percent", Value::Int(pct.round() as i64));
        for (edge, field) in [("adsets", "ad_sets"), ("campaigns", "campaigns")] {
            let list = if edge == "adsets" { &c.adsets } else { &c.campaigns };
            let ids: Vec<Value> = list
                .iter()
                .flat_map(|l| l.data.iter())
                .filter_map(|i| i.id.clone())
                .map(|id| match objects.get(&id) {
                    Some(a) => Value::reference(a.clone()),
                    None => Value::Str(id),
                })
                .collect();
            if !ids.is_empty() {
                m.insert(field, Value::List(ids));
            }
        }
        out.push(Value::Map(m));
    }
    r.fields.insert("cells", Value::List(out));
    let (description, marker) = match s.description.as_deref() {
        Some(d) => mapping::split_description(d),
        None => (None, None),
    };
    if let Some(d) = description {
        r.fields.insert("description", Value::Str(d));
    }
    r.owned = marker.is_some();
    r
}

// ───────────────────────────── writing ─────────────────────────────

fn bad(field: &str, message: impl Into<String>) -> MappingError {
    MappingError::BadValue {
        field: field.into(),
        message: message.into(),
    }
}

/// RFC 3339 → UNIX seconds (the create's and update's `int` times).
pub fn unix_secs(field: &str, v: &Value) -> Result<i64, MappingError> {
    let s = v
        .as_str()
        .ok_or_else(|| bad(field, format!("expected a time, got {v}")))?;
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .map_err(|_| bad(field, format!("`{s}` is not an RFC 3339 time")))
}

/// The `cells` parameter: `[{"name","treatment_percentage","adsets"|"campaigns":[ids]}]`, ids resolved by
/// `resolve` (a pending create's id becomes a batch reference).
pub fn cells_param(v: &Value, resolve: &dyn Fn(&Address) -> Option<IdOrRef>) -> Result<(String, Tmpl), MappingError> {
    let Value::List(cells) = v else {
        return Err(bad("cells", "expected a list of cells"));
    };
    let mut holes: Vec<Ref> = Vec::new();
    let mut out = Vec::new();
    for c in cells {
        let Value::Map(m) = c else {
            return Err(bad("cells", "expected a cell"));
        };
        let mut j = serde_json::Map::new();
        j.insert(
            "name".into(),
            json!(m.get("name").and_then(Value::as_str).unwrap_or_default()),
        );
        let pct = match m.get("percent") {
            Some(Value::Int(p)) => *p,
            _ => return Err(bad("cells", "a cell without a percent")),
        };
        j.insert("treatment_percentage".into(), json!(pct));
        for (field, edge) in [("ad_sets", "adsets"), ("campaigns", "campaigns")] {
            let Some(Value::List(items)) = m.get(field) else {
                continue;
            };
            let mut ids = Vec::new();
            for it in items {
                let id = match it {
                    Value::Ref(a) => resolve(a).ok_or_else(|| MappingError::MissingRef {
                        field: format!("cells.{field}"),
                        address: a.to_string(),
                    })?,
                    Value::Str(s) => IdOrRef::Known(s.clone()),
                    other => return Err(bad("cells", format!("unexpected object {other}"))),
                };
                ids.push(Json::String(id.marker(&mut holes)));
            }
            j.insert(edge.into(), Json::Array(ids));
        }
        out.push(Json::Object(j));
    }
    Ok(("cells".into(), mapping::json_tmpl(&Json::Array(out), &holes)))
}

/// Parameters of a create (`POST /{business_id}/ad_studies`) or an update (`POST /{study}`), without the name and
/// the marked description (the caller adds them). An update may change `end_time` only (and the name and
/// description): the rest is fixed once the study exists (`IMMUTABLE`: the plan replaces it).
pub fn params(
    create: bool,
    fields: &BTreeMap<String, Value>,
    resolve: &dyn Fn(&Address) -> Option<IdOrRef>,
) -> Result<Params, MappingError> {
    let mut p = Params::new();
    if create {
        p.push(("type".into(), Tmpl::lit("SPLIT_TEST")));
    }
    for (k, v) in fields {
        match (k.as_str(), create) {
            ("start_time" | "end_time", true) | ("end_time", false) => {
                p.push((k.clone(), Tmpl::lit(unix_secs(k, v)?.to_string())));
            }
            ("cells", true) => p.push(cells_param(v, resolve)?),
            ("objective", true) => {
                let t = v.as_str().ok_or_else(|| bad(k, "expected an objective type"))?;
                let j = json!([{ "name": t, "is_primary": true, "type": t.to_ascii_uppercase() }]);
                p.push(("objectives".into(), Tmpl::lit(j.to_string())));
            }
            // the path of the create
            ("business_id", true) => {}
            // written with adsctl's marker by the caller
            ("description", _) => {}
            ("business_id" | "start_time" | "cells" | "objective", false) => {
                return Err(bad(k, "fixed once the split test exists (the plan should replace it)"))
            }
            _ => return Err(bad(k, "not a split test field")),
        }
    }
    Ok(p)
}

// ───────────────────────────── import ─────────────────────────────

/// The account's split tests as `split_tests:` entries: their cells name the campaigns and ad sets by name. A
/// test whose cells hold an object adsctl did not read (another account's) is left out.
pub fn import(mine: &[Resource], account: &Account) -> Vec<serde_yaml::Value> {
    let mut out = Vec::new();
    'tests: for t in mine.iter().filter(|r| r.kind == Kind::SplitTest) {
        let mut m = serde_yaml::Mapping::new();
        map_insert(&mut m, "name", s(t.address.name().unwrap_or_default()));
        map_insert(&mut m, "account", s(&account.name));
        for k in ["description", "start_time", "end_time", "objective"] {
            if let Some(v) = t.fields.get(k) {
                map_insert(&mut m, k, yaml_of(v, account.currency));
            }
        }
        let mut cells = Vec::new();
        if let Some(Value::List(cs)) = t.fields.get("cells") {
            for c in cs {
                let Value::Map(cm) = c else { continue };
                let mut y = serde_yaml::Mapping::new();
                if let Some(n) = cm.get("name") {
                    map_insert(&mut y, "name", yaml_of(n, account.currency));
                }
                if let Some(p) = cm.get("percent") {
                    map_insert(&mut y, "percent", yaml_of(p, account.currency));
                }
                for field in ["ad_sets", "campaigns"] {
                    let Some(Value::List(items)) = cm.get(field) else {
                        continue;
                    };
                    let mut names = Vec::new();
                    for it in items {
                        match it {
                            Value::Ref(a) if a.account == account.name => {
                                names.push(s(a.name().unwrap_or_default()));
                            }
                            _ => continue 'tests,
                        }
                    }
                    map_insert(&mut y, field, serde_yaml::Value::Sequence(names));
                }
                cells.push(serde_yaml::Value::Mapping(y));
            }
        }
        map_insert(&mut m, "cells", serde_yaml::Value::Sequence(cells));
        out.push(serde_yaml::Value::Mapping(m));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn cells(a: &Address, b: &Address) -> Value {
        let cell = |name: &str, pct: i64, x: &Address| {
            let mut m = SmallMap::default();
            m.insert("name", Value::str(name));
            m.insert("percent", Value::Int(pct));
            m.insert("ad_sets", Value::List(vec![Value::reference(x.clone())]));
            Value::Map(m)
        };
        Value::List(vec![cell("A", 60, a), cell("B", 40, b)])
    }

    #[test]
    fn a_study_is_read_with_its_cells_as_references_and_owned_by_its_marker() {
        let a = addr("social/campaign/C/ad_set/A");
        let b = addr("social/campaign/C/ad_set/B");
        let objects: HashMap<String, Address> = [("11".to_string(), a.clone()), ("12".to_string(), b.clone())].into();
        let s: AdStudy = serde_json::from_value(json!({
            "id": "900", "name": "Age test", "type": "SPLIT_TEST", "description": "Which age [adsctl-managed]",
            "start_time": "2030-01-10T01:00:00+0100", "end_time": "2030-01-24T00:00:00+0000",
            "business": {"id": "5550001"}
        }))
        .unwrap();
        assert!(is_split_test(&s));
        let cs: Vec<AdStudyCell> = serde_json::from_value(json!([
            {"id": "1", "name": "A", "treatment_percentage": 60, "adsets": {"data": [{"id": "11"}]}},
            {"id": "2", "name": "B", "treatment_percentage": 40.0, "adsets": {"data": [{"id": "12"}]}},
        ]))
        .unwrap();
        let os: Vec<AdStudyObjective> = serde_json::from_value(json!([
            {"name": "x", "is_primary": false, "type": "SALES"},
            {"name": "conversions", "is_primary": true, "type": "CONVERSIONS"},
        ]))
        .unwrap();
        let r = study_resource("social", &s, &cs, &os, &objects);
        assert_eq!(r.address.to_string(), "social/split_test/Age test");
        assert!(r.owned);
        assert_eq!(r.fields["description"], Value::str("Which age"));
        assert_eq!(r.fields["business_id"], Value::str("5550001"));
        assert_eq!(r.fields["start_time"], Value::str("2030-01-10T00:00:00Z"));
        assert_eq!(r.fields["objective"], Value::str("conversions"));
        assert_eq!(r.fields["cells"], cells(&a, &b));
        // not adsctl's without the marker; an unknown object stays its id
        let s2 = AdStudy {
            description: Some("Theirs".into()),
            ..s.clone()
        };
        let r = study_resource("social", &s2, &cs[..1], &[], &HashMap::new());
        assert!(!r.owned);
        let Value::List(c) = &r.fields["cells"] else { panic!() };
        let Value::Map(m) = &c[0] else { panic!() };
        assert_eq!(m.get("ad_sets"), Some(&Value::List(vec![Value::str("11")])));
        assert!(!is_split_test(&AdStudy {
            study_type: Some("LIFT".into()),
            ..s
        }));
    }

    #[test]
    fn create_sends_unix_times_cells_with_pending_ids_and_the_objective() {
        let a = addr("social/campaign/C/ad_set/A");
        let b = addr("social/campaign/C/ad_set/B");
        let fields: BTreeMap<String, Value> = [
            ("business_id".to_string(), Value::str("5550001")),
            ("start_time".to_string(), Value::str("2030-01-10T00:00:00Z")),
            ("end_time".to_string(), Value::str("2030-01-24T00:00:00Z")),
            ("objective".to_string(), Value::str("conversions")),
            ("cells".to_string(), cells(&a, &b)),
            ("description".to_string(), Value::str("x")),
        ]
        .into();
        let pending = a.clone();
        let resolve = move |x: &Address| {
            Some(if *x == pending {
                IdOrRef::Later(Ref::Op(3))
            } else {
                IdOrRef::Known("12".into())
            })
        };
        let p = params(true, &fields, &resolve).unwrap();
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, t)| t.clone()).unwrap();
        let lit = |t: Tmpl| t.render(&|_| Some("{result=op3:$.id}".into())).unwrap();
        assert_eq!(lit(get("type")), "SPLIT_TEST");
        assert_eq!(lit(get("start_time")), "1894233600");
        assert_eq!(lit(get("end_time")), "1895443200");
        let cells_json: Json = serde_json::from_str(&lit(get("cells"))).unwrap();
        assert_eq!(
            cells_json,
            json!([
                {"name": "A", "treatment_percentage": 60, "adsets": ["{result=op3:$.id}"]},
                {"name": "B", "treatment_percentage": 40, "adsets": ["12"]},
            ])
        );
        assert_eq!(
            serde_json::from_str::<Json>(&lit(get("objectives"))).unwrap(),
            json!([{"name": "conversions", "is_primary": true, "type": "CONVERSIONS"}])
        );
        assert!(p.iter().all(|(k, _)| k != "business_id" && k != "description"));
    }

    #[test]
    fn an_update_changes_the_end_only() {
        let resolve = |_: &Address| None;
        let end: BTreeMap<String, Value> = [("end_time".to_string(), Value::str("2030-01-20T00:00:00Z"))].into();
        let p = params(false, &end, &resolve).unwrap();
        assert_eq!(p.len(), 1);
        for k in IMMUTABLE {
            let f: BTreeMap<String, Value> = [(k.to_string(), Value::str("x"))].into();
            assert!(params(false, &f, &resolve).is_err(), "{k}");
        }
        assert!(FIELDS
            .iter()
            .all(|f| IMMUTABLE.contains(f) || ["description", "end_time"].contains(f)));
    }
}
