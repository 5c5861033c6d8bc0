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

use crate::model::{Account, Address, Currency, Kind, RemovalPolicy, Resource, Value};

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

pub(crate) fn s(v: &str) -> Yaml {
    Yaml::String(v.to_string())
}

pub(crate) fn map_insert(m: &mut Mapping, k: &str, v: Yaml) {
    m.insert(s(k), v);
}

/// Insert at a dotted path, creating nested mappings.
pub(crate) fn put_path(m: &mut Mapping, path: &str, v: Yaml) {
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
pub(crate) fn yaml_of(v: &Value, currency: Currency) -> Yaml {
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

/// The live resources of an account by parent, for a home's `import_campaign`.
pub struct Tree<'a> {
    by_parent: BTreeMap<Address, Vec<&'a Resource>>,
}

impl<'a> Tree<'a> {
    pub(crate) fn new(rs: &'a [Resource]) -> Self {
        let mut by_parent: BTreeMap<Address, Vec<&'a Resource>> = BTreeMap::new();
        for r in rs {
            if let Some(p) = r.address.parent() {
                by_parent.entry(p).or_default().push(r);
            }
        }
        Tree { by_parent }
    }
    pub fn children(&self, parent: &Address, kind: Kind) -> Vec<&'a Resource> {
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
pub(crate) fn plain_fields(m: &mut Mapping, r: &Resource, currency: Currency, skip: &[&str]) {
    for (k, v) in &r.fields {
        if skip.iter().any(|p| k == p || (p.ends_with('.') && k.starts_with(p))) {
            continue;
        }
        put_path(m, k, yaml_of(v, currency));
    }
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
    if let Some(home) = crate::platforms::home(account.platform) {
        map_insert(&mut a, home.account_id_field(), s(&account.platform_id));
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
/// One file of an account-level block (`lookalike_audiences:`, `conversions:`, `custom_conversions:`): each
/// resource `keep` accepts as `name`, `account` and its plain fields; no file when there is none.
fn account_block(
    files: &mut Vec<ImportedFile>,
    mine: &[Resource],
    account: &Account,
    path: &str,
    key: &str,
    keep: impl Fn(&Resource) -> bool,
) -> Result<(), ImportError> {
    let items: Vec<Yaml> = mine
        .iter()
        .filter(|r| keep(r))
        .map(|r| {
            let mut m = Mapping::new();
            map_insert(&mut m, "name", s(r.address.name().unwrap_or_default()));
            map_insert(&mut m, "account", s(&account.name));
            plain_fields(&mut m, r, account.currency, &[]);
            Yaml::Mapping(m)
        })
        .collect();
    if !items.is_empty() {
        files.push(ImportedFile {
            path: PathBuf::from(path),
            contents: document(key, items)?,
        });
    }
    Ok(())
}

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
    let mut account_map = account_yaml(account);
    // the business split tests are made on (Meta), as the account's `business_id:`
    let business = mine
        .iter()
        .filter(|r| r.kind == Kind::SplitTest)
        .find_map(|r| r.fields.get("business_id").and_then(Value::as_str));
    if let Some(b) = business {
        map_insert(&mut account_map, "business_id", s(b));
    }
    map_insert(&mut accounts, &account.name, Yaml::Mapping(account_map));
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

    account_block(
        &mut files,
        &mine,
        account,
        "lookalike-audiences.yaml",
        "lookalike_audiences",
        |r| r.kind == Kind::LookalikeAudience,
    )?;

    // the audience an account is (Mailchimp): its settings and merge fields, as the platform writes them
    let listed: Vec<&Resource> = mine
        .iter()
        .filter(|r| matches!(r.kind, Kind::List | Kind::MergeField))
        .collect();
    if let Some(list) = crate::platforms::home(account.platform).and_then(|h| h.import_list(&listed, account)) {
        files.push(ImportedFile {
            path: PathBuf::from("lists.yaml"),
            contents: document("lists", vec![Yaml::Mapping(list)])?,
        });
    }

    // Conversions the YAML language can say (a conversion a linked product made is left out: `Home::importable`).
    let home = crate::platforms::home(account.platform);
    account_block(&mut files, &mine, account, "conversions.yaml", "conversions", |r| {
        r.kind == Kind::Conversion && home.is_none_or(|h| h.importable(r))
    })?;

    account_block(
        &mut files,
        &mine,
        account,
        "custom-conversions.yaml",
        "custom_conversions",
        |r| r.kind == Kind::CustomConversion,
    )?;

    // A/B tests: their cells name campaigns and ad sets by their names
    let split_tests = home.map(|h| h.import_split_tests(&mine, account)).unwrap_or_default();
    if !split_tests.is_empty() {
        files.push(ImportedFile {
            path: PathBuf::from("split-tests.yaml"),
            contents: document("split_tests", split_tests)?,
        });
    }

    // product catalogs with the product sets adsctl manages on them (Meta catalog ads), as the home writes them
    let catalogs = home
        .map(|h| h.import_product_catalogs(&mine, account))
        .unwrap_or_default();
    if !catalogs.is_empty() {
        files.push(ImportedFile {
            path: PathBuf::from("product-catalogs.yaml"),
            contents: document("product_catalogs", catalogs.into_iter().map(Yaml::Mapping).collect())?,
        });
    }

    // Experiments, in their platform's language (`Home::import_experiment`).
    let experiments: Vec<Yaml> = mine
        .iter()
        .filter(|r| r.kind == Kind::Experiment)
        .filter_map(|e| home.and_then(|h| h.import_experiment(e, account)))
        .map(Yaml::Mapping)
        .collect();
    if !experiments.is_empty() {
        files.push(ImportedFile {
            path: PathBuf::from("experiments.yaml"),
            contents: document("experiments", experiments)?,
        });
    }

    let mut audiences = Vec::new();
    for a in mine.iter().filter(|r| r.kind == Kind::Audience) {
        let name = a.address.name().unwrap_or_default();
        let csv = Path::new("data").join(format!("{}.csv", slug(name)));
        let mut m = Mapping::new();
        map_insert(&mut m, "name", s(name));
        map_insert(&mut m, "accounts", Yaml::Sequence(vec![s(&account.name)]));
        // the audience's YAML fields: its description and its platform's own (`Home::audience_fields`); what
        // the lowering derives (a hashing type) and the members (write-only) are not written
        let own = crate::platforms::home(account.platform).map_or(&[][..], |h| h.audience_fields());
        for (k, v) in &a.fields {
            if k == "description" || own.contains(&k.as_str()) {
                put_path(&mut m, k, yaml_of(v, account.currency));
            }
        }
        let mut file = Mapping::new();
        map_insert(&mut file, "path", s(&csv.display().to_string()));
        // a company list (LinkedIn) is read from company names and websites, a customer file from e-mails
        let companies = a.fields.get("list_type").and_then(Value::as_str) == Some("company");
        let header = if companies {
            map_insert(&mut file, "name_column", s("company"));
            map_insert(&mut file, "website_column", s("website"));
            map_insert(&mut m, "company_file", Yaml::Mapping(file));
            "company,website\n"
        } else {
            map_insert(&mut file, "column", s("email"));
            map_insert(&mut m, "customer_file", Yaml::Mapping(file));
            "email\n"
        };
        let mut lifecycle = Mapping::new();
        map_insert(&mut lifecycle, "ignore_changes", Yaml::Sequence(vec![s("members")]));
        map_insert(&mut m, "lifecycle", Yaml::Mapping(lifecycle));
        audiences.push(Yaml::Mapping(m));
        files.push(ImportedFile {
            path: csv,
            contents: header.into(),
        });
    }
    if !audiences.is_empty() {
        files.push(ImportedFile {
            path: PathBuf::from("audiences.yaml"),
            contents: document("audiences", audiences)?,
        });
    }

    let mut used: BTreeSet<String> = BTreeSet::new();
    // the top of each tree: campaigns (LinkedIn: campaign groups)
    for c in mine
        .iter()
        .filter(|r| r.address.path.len() == 1 && matches!(r.kind, Kind::Campaign | Kind::CampaignGroup))
    {
        let Some(home) = crate::platforms::home(account.platform) else {
            continue;
        };
        let m = home.import_campaign(c, &tree, account);
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
    // in the style of the examples and `adsctl fmt`, with the schema modeline
    for f in &mut files {
        let rel = f.path.to_string_lossy().replace('\\', "/");
        if rel.ends_with(".yaml") {
            let schema = crate::spec::format::default_schema(&rel, rel == "adsctl.yaml");
            f.contents = crate::spec::format::format_generated(&f.contents, &schema)
                .map_err(|e| ImportError::Render(e.to_string()))?;
        }
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
