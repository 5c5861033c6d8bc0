//! `adsctl import`: live resources of one account → YAML in the project's format, one file per campaign
//! (plus `budgets.yaml` and `audiences.yaml` when the account has shared budgets or lookalikes), and an
//! `adsctl.yaml` holding the account. Platform-neutral: it works from `Resource` fields as listed in
//! `docs/resource-model.md`, for Google Ads and Meta alike.
//!
//! Customer-file audiences are imported with an empty customer file and `ignore_changes: [members]`: members
//! are write-only on both platforms, so the file cannot be rebuilt; fill it and drop the `ignore_changes` to
//! manage the membership.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value as Yaml};

use crate::model::{Account, Address, Currency, Kind, Platform, RemovalPolicy, Resource, Value};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("could not write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("{path} already exists")]
    Exists { path: String },
    #[error("could not render YAML: {0}")]
    Render(String),
}

impl ImportError {
    pub fn hint(&self) -> &'static str {
        match self {
            ImportError::Write { .. } => "check the directory is writable",
            ImportError::Exists { .. } => "import into a new or empty directory (`--out DIR`)",
            ImportError::Render(_) => "this is a bug in adsctl: please report it",
        }
    }
}

/// One file to write, relative to the output directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedFile {
    pub path: PathBuf,
    pub contents: String,
}

fn s(v: &str) -> Yaml {
    Yaml::String(v.to_string())
}

fn map_insert(m: &mut Mapping, k: &str, v: Yaml) {
    m.insert(s(k), v);
}

/// Insert at a dotted path, creating nested mappings.
fn put_path(m: &mut Mapping, path: &str, v: Yaml) {
    match path.split_once('.') {
        None => map_insert(m, path, v),
        Some((head, rest)) => {
            let entry = m.entry(s(head)).or_insert_with(|| Yaml::Mapping(Mapping::new()));
            if !entry.is_mapping() {
                *entry = Yaml::Mapping(Mapping::new());
            }
            if let Yaml::Mapping(inner) = entry {
                put_path(inner, rest, v);
            }
        }
    }
}

/// A field value as YAML. Money is written as an exact decimal string in the account currency.
fn yaml_of(v: &Value, currency: Currency) -> Yaml {
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Int(i) => Yaml::Number((*i).into()),
        Value::Money(m) => s(&m.to_decimal_string(currency)),
        Value::Decimal(d) => s(&d.normalize().to_string()),
        Value::Str(x) | Value::Url(x) => s(x),
        Value::List(xs) => Yaml::Sequence(xs.iter().map(|x| yaml_of(x, currency)).collect()),
        Value::Set(xs) => Yaml::Sequence(xs.iter().map(|x| yaml_of(x, currency)).collect()),
        Value::Map(m) => Yaml::Mapping(m.iter().map(|(k, x)| (s(k), yaml_of(x, currency))).collect()),
        Value::Ref(a) => s(a.name().unwrap_or_default()),
    }
}

/// `Spring Sale - Search` → `spring-sale-search`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-').to_string();
    if t.is_empty() {
        "campaign".into()
    } else {
        t
    }
}

struct Tree<'a> {
    by_parent: BTreeMap<Address, Vec<&'a Resource>>,
}

impl<'a> Tree<'a> {
    fn new(rs: &'a [Resource]) -> Self {
        let mut by_parent: BTreeMap<Address, Vec<&'a Resource>> = BTreeMap::new();
        for r in rs {
            if let Some(p) = r.address.parent() {
                by_parent.entry(p).or_default().push(r);
            }
        }
        Tree { by_parent }
    }
    fn children(&self, parent: &Address, kind: Kind) -> Vec<&'a Resource> {
        let mut v: Vec<&Resource> = self
            .by_parent
            .get(parent)
            .map(|c| c.iter().copied().filter(|r| r.kind == kind).collect())
            .unwrap_or_default();
        if kind == Kind::Ad {
            // Google ads are addressed by position: keep it.
            v.sort_by_key(|r| r.address.name().and_then(|n| n.parse::<u64>().ok()).unwrap_or(u64::MAX));
        }
        v
    }
}

/// The generic part: every field by its dotted name, except those listed.
fn plain_fields(m: &mut Mapping, r: &Resource, currency: Currency, skip: &[&str]) {
    for (k, v) in &r.fields {
        if skip.iter().any(|p| k == p || (p.ends_with('.') && k.starts_with(p))) {
            continue;
        }
        put_path(m, k, yaml_of(v, currency));
    }
}

fn google_campaign(c: &Resource, tree: &Tree, account: &Account) -> Mapping {
    let cur = account.currency;
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(c.address.name().unwrap_or_default()));
    map_insert(&mut m, "account", s(&account.name));
    plain_fields(&mut m, c, cur, &["bidding.", "budget.", "labels"]);
    let mut budget = Mapping::new();
    if let Some(v) = c.fields.get("budget.daily") {
        map_insert(&mut budget, "daily", yaml_of(v, cur));
    }
    if let Some(Value::Ref(a)) = c.fields.get("budget.shared") {
        map_insert(&mut budget, "shared", s(a.name().unwrap_or_default()));
    }
    if let Some(v) = c.fields.get("budget.delivery_method") {
        map_insert(&mut budget, "delivery_method", yaml_of(v, cur));
    }
    if !budget.is_empty() {
        map_insert(&mut m, "budget", Yaml::Mapping(budget));
    }
    if let Some(strategy) = c.fields.get("bidding.strategy").and_then(Value::as_str) {
        let mut inner = Mapping::new();
        for (k, v) in c
            .fields
            .iter()
            .filter(|(k, _)| k.starts_with("bidding.") && *k != "bidding.strategy")
        {
            map_insert(&mut inner, k.trim_start_matches("bidding."), yaml_of(v, cur));
        }
        let mut b = Mapping::new();
        map_insert(&mut b, strategy, Yaml::Mapping(inner));
        map_insert(&mut m, "bidding", Yaml::Mapping(b));
    }
    if let Some(Value::Set(l)) = c.fields.get("labels") {
        if !l.is_empty() {
            map_insert(&mut m, "labels", yaml_of(&Value::Set(l.clone()), cur));
        }
    }
    let negatives = negative_keywords(tree.children(&c.address, Kind::NegativeKeyword));
    if !negatives.is_empty() {
        map_insert(&mut m, "negative_keywords", Yaml::Sequence(negatives));
    }
    let groups: Vec<Yaml> = tree
        .children(&c.address, Kind::AdGroup)
        .into_iter()
        .map(|g| Yaml::Mapping(google_ad_group(g, tree, cur)))
        .collect();
    if !groups.is_empty() {
        map_insert(&mut m, "ad_groups", Yaml::Sequence(groups));
    }
    m
}

fn keyword_identity(r: &Resource) -> (String, String) {
    let name = r.address.name().unwrap_or_default();
    let (t, mt) = name.rsplit_once(':').unwrap_or((name, "broad"));
    let text = r.fields.get("text").and_then(Value::as_str).unwrap_or(t).to_string();
    let mt = r
        .fields
        .get("match_type")
        .and_then(Value::as_str)
        .unwrap_or(mt)
        .to_string();
    (text, mt)
}

fn negative_keywords(rs: Vec<&Resource>) -> Vec<Yaml> {
    rs.into_iter()
        .map(|k| {
            let (text, mt) = keyword_identity(k);
            let mut m = Mapping::new();
            map_insert(&mut m, "text", s(&text));
            map_insert(&mut m, "match", s(&mt));
            Yaml::Mapping(m)
        })
        .collect()
}

fn ad_texts(v: Option<&Value>) -> Yaml {
    let items = match v {
        Some(Value::List(xs)) => xs.clone(),
        _ => Vec::new(),
    };
    Yaml::Sequence(
        items
            .iter()
            .map(|x| match x {
                Value::Map(m) => {
                    let text = m.get("text").and_then(Value::as_str).unwrap_or_default();
                    let pin = m
                        .get("pinned")
                        .and_then(Value::as_str)
                        .and_then(|p| p.rsplit('_').next())
                        .and_then(|n| n.parse::<u64>().ok());
                    match pin {
                        Some(n) => {
                            let mut o = Mapping::new();
                            map_insert(&mut o, "text", s(text));
                            map_insert(&mut o, "pin", Yaml::Number(n.into()));
                            Yaml::Mapping(o)
                        }
                        None => s(text),
                    }
                }
                other => s(other.as_str().unwrap_or_default()),
            })
            .collect(),
    )
}

fn google_ad_group(g: &Resource, tree: &Tree, cur: Currency) -> Mapping {
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(g.address.name().unwrap_or_default()));
    plain_fields(&mut m, g, cur, &[]);
    let keywords: Vec<Yaml> = tree
        .children(&g.address, Kind::Keyword)
        .into_iter()
        .map(|k| {
            let (text, mt) = keyword_identity(k);
            let mut km = Mapping::new();
            map_insert(&mut km, "text", s(&text));
            map_insert(&mut km, "match", s(&mt));
            plain_fields(&mut km, k, cur, &["text", "match_type"]);
            Yaml::Mapping(km)
        })
        .collect();
    if !keywords.is_empty() {
        map_insert(&mut m, "keywords", Yaml::Sequence(keywords));
    }
    let negatives = negative_keywords(tree.children(&g.address, Kind::NegativeKeyword));
    if !negatives.is_empty() {
        map_insert(&mut m, "negative_keywords", Yaml::Sequence(negatives));
    }
    let ads: Vec<Yaml> = tree
        .children(&g.address, Kind::Ad)
        .into_iter()
        .map(|a| {
            let mut am = Mapping::new();
            if let Some(v) = a.fields.get("status") {
                map_insert(&mut am, "status", yaml_of(v, cur));
            }
            let mut rsa = Mapping::new();
            map_insert(&mut rsa, "headlines", ad_texts(a.fields.get("headlines")));
            map_insert(&mut rsa, "descriptions", ad_texts(a.fields.get("descriptions")));
            for k in ["final_url", "path1", "path2"] {
                if let Some(v) = a.fields.get(k) {
                    map_insert(&mut rsa, k, yaml_of(v, cur));
                }
            }
            map_insert(&mut am, "responsive_search", Yaml::Mapping(rsa));
            Yaml::Mapping(am)
        })
        .collect();
    if !ads.is_empty() {
        map_insert(&mut m, "ads", Yaml::Sequence(ads));
    }
    m
}

fn meta_campaign(c: &Resource, tree: &Tree, account: &Account) -> Mapping {
    let cur = account.currency;
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(c.address.name().unwrap_or_default()));
    map_insert(&mut m, "account", s(&account.name));
    plain_fields(&mut m, c, cur, &[]);
    let sets: Vec<Yaml> = tree
        .children(&c.address, Kind::AdSet)
        .into_iter()
        .map(|a| {
            let mut am = Mapping::new();
            map_insert(&mut am, "name", s(a.address.name().unwrap_or_default()));
            plain_fields(&mut am, a, cur, &["targeting.age_min", "targeting.age_max"]);
            let mut age = Mapping::new();
            if let Some(v) = a.fields.get("targeting.age_min") {
                map_insert(&mut age, "min", yaml_of(v, cur));
            }
            if let Some(v) = a.fields.get("targeting.age_max") {
                map_insert(&mut age, "max", yaml_of(v, cur));
            }
            if !age.is_empty() {
                put_path(&mut am, "targeting.age", Yaml::Mapping(age));
            }
            let ads: Vec<Yaml> = tree
                .children(&a.address, Kind::Ad)
                .into_iter()
                .map(|ad| {
                    let mut adm = Mapping::new();
                    map_insert(&mut adm, "name", s(ad.address.name().unwrap_or_default()));
                    plain_fields(&mut adm, ad, cur, &[]);
                    Yaml::Mapping(adm)
                })
                .collect();
            if !ads.is_empty() {
                map_insert(&mut am, "ads", Yaml::Sequence(ads));
            }
            Yaml::Mapping(am)
        })
        .collect();
    if !sets.is_empty() {
        map_insert(&mut m, "ad_sets", Yaml::Sequence(sets));
    }
    m
}

fn document(key: &str, items: Vec<Yaml>) -> Result<String, ImportError> {
    let mut top = Mapping::new();
    map_insert(&mut top, key, Yaml::Sequence(items));
    serde_yaml::to_string(&Yaml::Mapping(top)).map_err(|e| ImportError::Render(e.to_string()))
}

/// The `adsctl.yaml` entry of an account.
pub fn account_yaml(account: &Account) -> Mapping {
    let mut a = Mapping::new();
    map_insert(&mut a, "platform", s(account.platform.as_str()));
    match account.platform {
        Platform::GoogleAds => map_insert(&mut a, "customer_id", s(&account.platform_id)),
        _ => map_insert(&mut a, "ad_account_id", s(&account.platform_id)),
    }
    if let Some(l) = &account.login_customer_id {
        map_insert(&mut a, "login_customer_id", s(l));
    }
    map_insert(&mut a, "currency", s(account.currency.code()));
    if let Some(tz) = &account.time_zone {
        map_insert(&mut a, "time_zone", s(tz));
    }
    let policy = match account.on_removed {
        RemovalPolicy::Pause => "pause",
        RemovalPolicy::Remove => "remove",
        RemovalPolicy::Orphan => "orphan",
    };
    map_insert(&mut a, "on_removed", s(policy));
    let g = &account.guardrails;
    let mut gm = Mapping::new();
    if let Some(m) = g.max_daily_budget {
        map_insert(&mut gm, "max_daily_budget", s(&m.to_decimal_string(account.currency)));
    }
    if let Some(p) = g.max_increase_pct {
        map_insert(&mut gm, "max_increase_pct", Yaml::Number(p.into()));
    }
    if let Some(c) = g.max_changes {
        map_insert(&mut gm, "max_changes", Yaml::Number(c.into()));
    }
    if !gm.is_empty() {
        map_insert(&mut a, "guardrails", Yaml::Mapping(gm));
    }
    if let Some(e) = &account.endpoint {
        map_insert(&mut a, "endpoint", s(e));
    }
    a
}

/// Render the files of one imported account.
pub fn render(account: &Account, live: &[Resource]) -> Result<Vec<ImportedFile>, ImportError> {
    let mine: Vec<Resource> = live
        .iter()
        .filter(|r| r.address.account == account.name)
        .cloned()
        .collect();
    let tree = Tree::new(&mine);
    let mut files = Vec::new();

    let mut project = Mapping::new();
    let mut accounts = Mapping::new();
    map_insert(&mut accounts, &account.name, Yaml::Mapping(account_yaml(account)));
    map_insert(&mut project, "accounts", Yaml::Mapping(accounts));
    files.push(ImportedFile {
        path: PathBuf::from("adsctl.yaml"),
        contents: serde_yaml::to_string(&Yaml::Mapping(project)).map_err(|e| ImportError::Render(e.to_string()))?,
    });

    let budgets: Vec<Yaml> = mine
        .iter()
        .filter(|r| r.kind == Kind::Budget && r.address.path.len() == 1)
        .map(|b| {
            let mut m = Mapping::new();
            map_insert(&mut m, "name", s(b.address.name().unwrap_or_default()));
            map_insert(&mut m, "account", s(&account.name));
            plain_fields(&mut m, b, account.currency, &[]);
            Yaml::Mapping(m)
        })
        .collect();
    if !budgets.is_empty() {
        files.push(ImportedFile {
            path: PathBuf::from("budgets.yaml"),
            contents: document("budgets", budgets)?,
        });
    }

    let lookalikes: Vec<Yaml> = mine
        .iter()
        .filter(|r| r.kind == Kind::LookalikeAudience)
        .map(|l| {
            let mut m = Mapping::new();
            map_insert(&mut m, "name", s(l.address.name().unwrap_or_default()));
            map_insert(&mut m, "account", s(&account.name));
            plain_fields(&mut m, l, account.currency, &[]);
            Yaml::Mapping(m)
        })
        .collect();
    if !lookalikes.is_empty() {
        files.push(ImportedFile {
            path: PathBuf::from("lookalike-audiences.yaml"),
            contents: document("lookalike_audiences", lookalikes)?,
        });
    }

    let mut audiences = Vec::new();
    for a in mine.iter().filter(|r| r.kind == Kind::Audience) {
        let name = a.address.name().unwrap_or_default();
        let csv = Path::new("data").join(format!("{}.csv", slug(name)));
        let mut m = Mapping::new();
        map_insert(&mut m, "name", s(name));
        map_insert(&mut m, "accounts", Yaml::Sequence(vec![s(&account.name)]));
        plain_fields(&mut m, a, account.currency, &["members"]);
        let mut file = Mapping::new();
        map_insert(&mut file, "path", s(&csv.display().to_string()));
        map_insert(&mut file, "column", s("email"));
        map_insert(&mut m, "customer_file", Yaml::Mapping(file));
        let mut lifecycle = Mapping::new();
        map_insert(&mut lifecycle, "ignore_changes", Yaml::Sequence(vec![s("members")]));
        map_insert(&mut m, "lifecycle", Yaml::Mapping(lifecycle));
        audiences.push(Yaml::Mapping(m));
        files.push(ImportedFile {
            path: csv,
            contents: "email\n".into(),
        });
    }
    if !audiences.is_empty() {
        files.push(ImportedFile {
            path: PathBuf::from("audiences.yaml"),
            contents: document("audiences", audiences)?,
        });
    }

    let mut used: BTreeSet<String> = BTreeSet::new();
    for c in mine.iter().filter(|r| r.kind == Kind::Campaign) {
        let m = match account.platform {
            Platform::Meta => meta_campaign(c, &tree, account),
            _ => google_campaign(c, &tree, account),
        };
        let base = slug(c.address.name().unwrap_or_default());
        let mut name = base.clone();
        let mut n = 2;
        while !used.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        files.push(ImportedFile {
            path: Path::new("campaigns").join(format!("{name}.yaml")),
            contents: document("campaigns", vec![Yaml::Mapping(m)])?,
        });
    }
    Ok(files)
}

/// Write the files under `out`, refusing to overwrite an existing `adsctl.yaml` or campaign file.
pub fn write(out: &Path, files: &[ImportedFile]) -> Result<Vec<PathBuf>, ImportError> {
    for f in files {
        let p = out.join(&f.path);
        if p.exists() {
            return Err(ImportError::Exists {
                path: p.display().to_string(),
            });
        }
    }
    let mut written = Vec::new();
    for f in files {
        let p = out.join(&f.path);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ImportError::Write {
                path: dir.display().to_string(),
                source,
            })?;
        }
        std::fs::write(&p, &f.contents).map_err(|source| ImportError::Write {
            path: p.display().to_string(),
            source,
        })?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Guardrails, Money};

    fn account(platform: Platform) -> Account {
        Account {
            name: "acme".into(),
            platform,
            platform_id: if platform == Platform::Meta {
                "act_1".into()
            } else {
                "1234567890".into()
            },
            login_customer_id: None,
            currency: Currency::from_code("USD").unwrap(),
            time_zone: None,
            on_removed: RemovalPolicy::Pause,
            guardrails: Guardrails::default(),
            endpoint: Some("http://127.0.0.1:1".into()),
        }
    }

    fn res(addr: &str, kind: Kind, fields: Vec<(&str, Value)>) -> Resource {
        let mut r = Resource::new(addr.parse().unwrap(), kind);
        r.fields = fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        r
    }

    #[test]
    fn google_account_renders_one_file_per_campaign() {
        let m = |x| Value::Money(Money::from_micros(x));
        let live = vec![
            res(
                "acme/campaign/Spring Sale",
                Kind::Campaign,
                vec![
                    ("status", Value::str("enabled")),
                    ("channel", Value::str("search")),
                    ("budget.daily", m(50_000_000)),
                    ("bidding.strategy", Value::str("maximize_conversions")),
                    ("bidding.target_cpa", m(12_500_000)),
                    ("network.google_search", Value::Bool(true)),
                    ("labels", Value::Set(Default::default())),
                ],
            ),
            res(
                "acme/campaign/Spring Sale/ad_group/Shoes",
                Kind::AdGroup,
                vec![("default_cpc", m(1_200_000))],
            ),
            res(
                "acme/campaign/Spring Sale/ad_group/Shoes/keyword/running shoes:phrase",
                Kind::Keyword,
                vec![
                    ("status", Value::str("enabled")),
                    ("text", Value::str("running shoes")),
                    ("match_type", Value::str("phrase")),
                ],
            ),
            res(
                "acme/campaign/Spring Sale/ad_group/Shoes/ad/2",
                Kind::Ad,
                vec![(
                    "headlines",
                    Value::List(vec![Value::Map([("text".to_string(), Value::str("B"))].into())]),
                )],
            ),
            res(
                "acme/campaign/Spring Sale/ad_group/Shoes/ad/1",
                Kind::Ad,
                vec![
                    ("status", Value::str("enabled")),
                    (
                        "headlines",
                        Value::List(vec![Value::Map(
                            [
                                ("text".to_string(), Value::str("A")),
                                ("pinned".to_string(), Value::str("headline_1")),
                            ]
                            .into(),
                        )]),
                    ),
                    ("final_url", Value::Url("https://example.com/".into())),
                ],
            ),
            res(
                "acme/campaign/Other",
                Kind::Campaign,
                vec![("budget.shared", Value::reference("acme/budget/Pool".parse().unwrap()))],
            ),
            res("acme/budget/Pool", Kind::Budget, vec![("amount", m(90_000_000))]),
        ];
        let files = render(&account(Platform::GoogleAds), &live).unwrap();
        let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "adsctl.yaml",
                "budgets.yaml",
                "campaigns/spring-sale.yaml",
                "campaigns/other.yaml"
            ]
        );
        let spring: Yaml = serde_yaml::from_str(&files[2].contents).unwrap();
        let c = &spring["campaigns"][0];
        assert_eq!(c["name"], s("Spring Sale"));
        assert_eq!(c["budget"]["daily"], s("50.00"));
        assert_eq!(c["bidding"]["maximize_conversions"]["target_cpa"], s("12.50"));
        assert_eq!(c["network"]["google_search"], Yaml::Bool(true));
        assert!(c.get("labels").is_none());
        let g = &c["ad_groups"][0];
        assert_eq!(g["default_cpc"], s("1.20"));
        assert_eq!(g["keywords"][0]["match"], s("phrase"));
        assert_eq!(g["keywords"][0]["status"], s("enabled"));
        assert!(g["keywords"][0].get("match_type").is_none());
        // Ads keep their positions.
        assert_eq!(
            g["ads"][0]["responsive_search"]["headlines"][0]["pin"],
            Yaml::Number(1.into())
        );
        assert_eq!(g["ads"][1]["responsive_search"]["headlines"][0], s("B"));
        let other: Yaml = serde_yaml::from_str(&files[3].contents).unwrap();
        assert_eq!(other["campaigns"][0]["budget"]["shared"], s("Pool"));
        let project: Yaml = serde_yaml::from_str(&files[0].contents).unwrap();
        assert_eq!(project["accounts"]["acme"]["customer_id"], s("1234567890"));
        assert_eq!(project["accounts"]["acme"]["endpoint"], s("http://127.0.0.1:1"));
    }

    #[test]
    fn meta_ad_sets_nest_targeting() {
        let live = vec![
            res(
                "acme/campaign/Social",
                Kind::Campaign,
                vec![
                    ("objective", Value::str("outcome_traffic")),
                    ("special_ad_categories", Value::Set(Default::default())),
                ],
            ),
            res(
                "acme/campaign/Social/ad_set/US",
                Kind::AdSet,
                vec![
                    ("targeting.countries", Value::Set([Value::str("US")].into())),
                    ("targeting.age_min", Value::Int(25)),
                    ("targeting.age_max", Value::Int(45)),
                ],
            ),
            res(
                "acme/campaign/Social/ad_set/US/ad/Shoes",
                Kind::Ad,
                vec![
                    ("creative.page_id", Value::str("1122")),
                    ("creative.link", Value::Url("https://example.com".into())),
                ],
            ),
        ];
        let files = render(&account(Platform::Meta), &live).unwrap();
        let doc: Yaml = serde_yaml::from_str(&files[1].contents).unwrap();
        let c = &doc["campaigns"][0];
        assert_eq!(c["special_ad_categories"], Yaml::Sequence(vec![]));
        let set = &c["ad_sets"][0];
        assert_eq!(set["targeting"]["age"]["min"], Yaml::Number(25.into()));
        assert_eq!(set["targeting"]["countries"][0], s("US"));
        assert_eq!(set["ads"][0]["creative"]["page_id"], s("1122"));
        let project: Yaml = serde_yaml::from_str(&files[0].contents).unwrap();
        assert_eq!(project["accounts"]["acme"]["ad_account_id"], s("act_1"));
    }

    /// The quickstart's desired resources, taken as live, import back to the same resources.
    #[test]
    fn quickstart_round_trips_through_import() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        let project = crate::spec::load(&root).unwrap();
        for account in project.accounts.values() {
            let live: Vec<Resource> = project
                .resources
                .iter()
                .filter(|r| r.address.account == account.name)
                .cloned()
                .collect();
            assert!(live.len() >= 4, "{}", account.name);
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), &render(account, &live).unwrap()).unwrap();
            let back = crate::spec::load(dir.path()).unwrap_or_else(|e| panic!("{}: {e:?}", account.name));
            assert_eq!(back.accounts[&account.name], *account);
            let key = |rs: &[Resource]| -> BTreeMap<String, crate::model::SmallMap> {
                rs.iter()
                    .filter(|r| r.address.account == account.name)
                    .map(|r| {
                        let mut f = r.fields.clone();
                        f.remove("members");
                        (r.address.to_string(), f)
                    })
                    .collect()
            };
            assert_eq!(key(&back.resources), key(&live), "account {}", account.name);
        }
    }

    #[test]
    fn writes_without_overwriting() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![ImportedFile {
            path: PathBuf::from("campaigns/a.yaml"),
            contents: "campaigns: []\n".into(),
        }];
        write(dir.path(), &files).unwrap();
        assert!(matches!(write(dir.path(), &files), Err(ImportError::Exists { .. })));
        assert_eq!(slug("Spring Sale - Search!"), "spring-sale-search");
        assert_eq!(slug("///"), "campaign");
    }
}
