//! Validation and lowering: typed spec → platform-neutral [`Resource`]s (see `docs/resource-model.md`).
//!
//! Every check records an error and carries on, so one run reports every problem.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;

use super::audience::Emails;
use super::de::{Opt, Spanned};
use super::error::{did_you_mean, Code, SpecError};
use super::load::Sources;
use super::rules;
use super::types::*;
use super::yaml::Span;
use crate::model::{
    Account, Address, Currency, Guardrails, Kind, Lifecycle, Money, Platform, Resource, SourceLocation, Value,
};

type S<T> = Spanned<T>;

/// Lowering state: the accounts, the errors so far, and the resources made.
pub struct Lower<'a> {
    pub sources: &'a Sources,
    pub root: &'a Path,
    pub errors: Vec<SpecError>,
    pub accounts: BTreeMap<String, Account>,
    pub resources: Vec<Resource>,
    /// Every address declared, with where, for duplicate detection.
    /// (Fx-hashed: SipHash over every address's strings was a tenth of lowering; the addresses come from the
    /// user's own files, so hash flooding is no concern.)
    pub(crate) declared: rustc_hash::FxHashMap<Address, Span>,
    pub(crate) csv_cache: HashMap<(String, String), Option<std::rc::Rc<Emails>>>,
    /// Accounts declared but invalid: references to them are not reported again (the account's own error says
    /// what is wrong).
    pub(crate) broken_accounts: BTreeSet<String>,
    /// Addresses whose name is not in NFC, by their NFC form: a name that differs from another only in Unicode
    /// normalisation is a duplicate.
    pub(crate) declared_nfc: rustc_hash::FxHashMap<Address, Span>,
    /// Resources pinned to a platform id, with where the id is written (`rules::duplicate_ids`).
    pub(crate) pinned: Vec<(Address, String, Span)>,
    /// Renames declared with `moved:`, checked.
    pub moved: Vec<crate::model::Moved>,
    /// CRM campaigns that mirror an ad campaign, resolved once every campaign is lowered.
    mirrors: Vec<Mirror>,
    /// References to objects a later file may declare (a Salesforce parent campaign), checked at the end.
    pub(crate) later_refs: Vec<(Address, Span, &'static str)>,
    /// The `business_id:` of the accounts that write one (Meta: where split tests are created), by account name.
    pub business_ids: BTreeMap<String, String>,
    /// Platform ids a home's YAML declares under a local name, by (account, what, name): Meta's product catalogs,
    /// which campaigns name.
    pub(crate) named_ids: BTreeMap<(String, &'static str, String), String>,
}

/// A CRM campaign (HubSpot, Salesforce) that mirrors an ad campaign: its dates follow the ad campaign's unless
/// written, and its spend is the ad campaign's cost in `adsctl metrics` (`platforms::sources::SPEND_FIELD`).
struct Mirror {
    /// The CRM campaign.
    at: Address,
    /// The ad campaign, and where `mirrors:` is written.
    target: Address,
    span: Span,
    /// The CRM campaign's date fields (`start_date`, `end_date`) and whether the YAML wrote each.
    dates: [(&'static str, bool); 2],
    /// The CRM field the spend goes to, and whether it takes whole currency units only.
    spend: (&'static str, bool),
}

pub(crate) fn money_hint(c: Currency) -> String {
    match c.minor_units() {
        0 => format!("{c} has no minor unit: write a whole number, e.g. `500`"),
        n => format!(
            "write at most {n} decimals in {c}, e.g. `12.{}`",
            "5".repeat(n as usize)
        ),
    }
}

impl<'a> Lower<'a> {
    pub fn new(sources: &'a Sources, root: &'a Path) -> Self {
        Lower {
            sources,
            root,
            errors: Vec::new(),
            accounts: BTreeMap::new(),
            resources: Vec::new(),
            declared: HashMap::default(),
            csv_cache: HashMap::new(),
            broken_accounts: BTreeSet::new(),
            declared_nfc: HashMap::default(),
            pinned: Vec::new(),
            moved: Vec::new(),
            mirrors: Vec::new(),
            later_refs: Vec::new(),
            business_ids: BTreeMap::new(),
            named_ids: BTreeMap::new(),
        }
    }

    pub(crate) fn err(&mut self, span: Span, code: Code, msg: impl Into<String>, hint: impl Into<String>) {
        let e = self.sources.error(span, code, msg).with_hint(hint);
        self.errors.push(e);
    }

    pub(crate) fn problems(&mut self, problems: Vec<rules::Problem>) {
        for p in problems {
            self.err(p.span, p.code, p.message, p.hint);
        }
    }

    pub(crate) fn at(&self, span: Span) -> String {
        self.location(span).to_string()
    }

    pub(crate) fn location(&self, span: Span) -> SourceLocation {
        SourceLocation {
            file: self.sources.display(span.file).to_string(),
            line: span.line,
            column: span.col,
        }
    }

    // ---------------------------------------------------------------- accounts

    pub fn accounts(&mut self, file: ProjectFile) {
        let same = rules::same_platform_account(&file, |s| self.at(s));
        self.problems(same);
        for (name, item) in file.accounts.entries {
            let Some(spec) = item.value else {
                self.broken_accounts.insert(name.value.clone());
                continue;
            };
            if !rules::valid_account_name(&name) {
                self.err(
                    name.span,
                    Code::InvalidValue,
                    format!("invalid account name `{}`", name.value),
                    "use ASCII letters, digits, `-` and `_`, at most 64 (the name starts every address)",
                );
                self.broken_accounts.insert(name.value.clone());
                continue;
            }
            if self.accounts.contains_key(&name.value) {
                continue; // reported as a duplicate key
            }
            match self.account(&name, spec) {
                Some(a) => {
                    self.accounts.insert(name.value.clone(), a);
                }
                None => {
                    self.broken_accounts.insert(name.value.clone());
                }
            }
        }
    }

    pub(crate) fn account(&mut self, name: &S<String>, spec: AccountSpec) -> Option<Account> {
        let platform: Platform = spec.platform.value.into();
        let mut ok = true;
        let home = crate::platforms::home(platform);
        if home.is_none() {
            self.err(
                spec.platform.span,
                Code::InvalidValue,
                format!("platform `{platform}` has no connector yet"),
                format!("supported platforms: {}", crate::platforms::supported_names()),
            );
            ok = false;
        }
        let currency = match Currency::from_code(spec.currency.trim()) {
            Ok(c) => Some(c),
            Err(_) => {
                let up = spec.currency.trim().to_ascii_uppercase();
                let hint = match did_you_mean(&up, Currency::all_codes()) {
                    Some(s) if Currency::from_code(&up).is_err() => format!("did you mean `{s}`? use an ISO 4217 code"),
                    _ if Currency::from_code(&up).is_ok() => format!("write it in upper case: `{up}`"),
                    _ => "use an ISO 4217 code such as USD, EUR, GBP, JPY".into(),
                };
                self.err(
                    spec.currency.span,
                    Code::InvalidValue,
                    format!("unknown currency `{}`", spec.currency.value),
                    hint,
                );
                None
            }
        };
        // the account keys of another platform
        if let Some(home) = home {
            let mut foreign: Vec<&str> = crate::platforms::HOMES
                .iter()
                .flat_map(|h| h.account_fields().iter().copied())
                .filter(|f| !home.account_fields().contains(f))
                .collect();
            foreign.sort_unstable();
            foreign.dedup();
            for field in foreign {
                // a key two platforms share (`account_id`: LinkedIn and X) names both
                let owners: Vec<&str> = crate::platforms::HOMES
                    .iter()
                    .filter(|h| h.account_fields().contains(&field))
                    .map(|h| h.platform().as_str())
                    .collect();
                ok &= !self.other_platform_field(name, platform, spec.field(field), field, &owners.join(" or "));
            }
        }
        let ids = home.and_then(|home| home.account_ids(self, name, &spec));
        ok &= ids.is_some();
        if let Some(tz) = &*spec.time_zone {
            if let Err(hint) = rules::time_zone(tz.trim()) {
                self.err(
                    tz.span,
                    Code::InvalidValue,
                    format!("unknown time zone `{}`", tz.value),
                    hint,
                );
                ok = false;
            }
        }
        if let Some(ep) = &*spec.endpoint {
            if !(ep.starts_with("http://") || ep.starts_with("https://")) {
                self.err(
                    ep.span,
                    Code::InvalidValue,
                    format!("invalid endpoint `{}`", ep.value),
                    "write a URL: `http://127.0.0.1:8080`",
                );
                ok = false;
            }
        }
        let mut guardrails = Guardrails::default();
        if let (Some(g), Some(c)) = (&*spec.guardrails, currency) {
            if let Some(m) = &*g.max_daily_budget {
                guardrails.max_daily_budget = self.amount(m, c, "max_daily_budget");
            }
            if let Some(p) = &*g.max_increase_pct {
                if p.value == 0 {
                    self.err(
                        p.span,
                        Code::Constraint,
                        "max_increase_pct must be at least 1",
                        "leave it out to allow any increase",
                    );
                }
                guardrails.max_increase_pct = Some(p.value);
            }
            if let Some(p) = &*g.max_changes {
                if p.value == 0 {
                    self.err(
                        p.span,
                        Code::Constraint,
                        "max_changes must be at least 1",
                        "leave it out for no limit",
                    );
                }
                guardrails.max_changes = Some(p.value);
            }
        }
        let currency = currency?;
        let ids = ids?;
        ok.then(|| Account {
            name: name.value.clone(),
            platform,
            platform_id: ids.platform_id,
            login_customer_id: ids.login_customer_id,
            currency,
            time_zone: spec.time_zone.as_ref().map(|t| t.value.clone()),
            on_removed: spec.on_removed.as_ref().map(|p| p.value.into()).unwrap_or_default(),
            guardrails,
            endpoint: spec.endpoint.as_ref().map(|e| e.value.clone()),
        })
    }

    // ---------------------------------------------------------------- helpers

    /// A field of another platform's accounts written on this one (`ad_account_id` on a google_ads account):
    /// reported; true when it was there.
    pub(crate) fn other_platform_field(
        &mut self,
        name: &S<String>,
        platform: Platform,
        f: Option<&S<String>>,
        field: &str,
        belongs: &str,
    ) -> bool {
        if let Some(v) = f {
            self.err(
                v.span,
                Code::InvalidValue,
                format!("`{field}` is for {belongs} accounts; `{}` is {platform}", name.value),
                format!("remove `{field}`"),
            );
            true
        } else {
            false
        }
    }

    /// A positive amount of money in `currency`.
    pub(crate) fn amount(&mut self, a: &S<Amount>, currency: Currency, field: &str) -> Option<Money> {
        match Money::parse(&a.0, currency) {
            Ok(m) if m.is_positive() => Some(m),
            Ok(_) => {
                self.err(
                    a.span,
                    Code::Constraint,
                    format!("`{field}` must be more than zero, got `{}`", a.0),
                    "write a positive amount",
                );
                None
            }
            Err(crate::model::MoneyError::TooPrecise { .. }) => {
                self.err(
                    a.span,
                    Code::InvalidValue,
                    format!("`{}` has more decimals than {currency} allows", a.0),
                    money_hint(currency),
                );
                None
            }
            Err(e) => {
                let comma = a.0.split_once(',').filter(|(w, f)| {
                    !w.is_empty() && !f.is_empty() && (w.bytes().chain(f.bytes())).all(|b| b.is_ascii_digit())
                });
                let hint = match comma {
                    Some((w, f)) => format!("use a decimal point: `{w}.{f}`"),
                    None => "write a plain amount such as `50` or `12.34`".into(),
                };
                self.err(a.span, Code::InvalidValue, format!("`{field}`: {e}"), hint);
                None
            }
        }
    }

    pub(crate) fn decimal(&mut self, d: &S<DecimalText>, field: &str) -> Option<Decimal> {
        let ok = !d.0.is_empty()
            && d.0
                .trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
            && d.0.matches('.').count() <= 1;
        match d.0.parse::<Decimal>() {
            Ok(v) if ok && v > Decimal::ZERO => Some(v),
            _ => {
                self.err(
                    d.span,
                    Code::InvalidValue,
                    format!("`{field}` must be a positive decimal number, got `{}`", d.0),
                    "e.g. `3.5`",
                );
                None
            }
        }
    }

    /// Declare an address; a second declaration is an error pointing at both.
    pub(crate) fn declare(&mut self, addr: &Address, span: Span, what: &str) -> bool {
        if let Some(first) = self.declared.get(addr).copied() {
            let first = self.location(first);
            self.err(
                span,
                Code::Duplicate,
                format!(
                    "duplicate {what} `{}` (first declared at {first})",
                    addr.name().unwrap_or("")
                ),
                "names must be unique within their parent; rename or remove one",
            );
            return false;
        }
        // a name equal to another after Unicode normalisation (`Café` typed as `e` + combining accent)
        let nfc = addr_nfc(addr);
        let key = nfc.as_ref().unwrap_or(addr);
        let first = match &nfc {
            Some(n) => self.declared_nfc.get(n).or_else(|| self.declared.get(n)).copied(),
            None if self.declared_nfc.is_empty() => None,
            None => self.declared_nfc.get(key).copied(),
        };
        if let Some(first) = first {
            let first = self.location(first);
            self.err(
                span,
                Code::Duplicate,
                format!(
                    "duplicate {what} `{}`: it differs from the one at {first} only in Unicode normalisation",
                    addr.name().unwrap_or("")
                ),
                "the two look the same but are encoded differently (composed and decomposed accents); keep one",
            );
            return false;
        }
        if let Some(n) = nfc {
            self.declared_nfc.insert(n, span);
        }
        self.declared.insert(addr.clone(), span);
        true
    }

    pub(crate) fn resource(
        &mut self,
        addr: Address,
        kind: Kind,
        span: Span,
        id: &Option<S<String>>,
        lifecycle: &Option<S<LifecycleSpec>>,
        platform: Platform,
    ) -> Resource {
        let mut r = Resource::new(addr, kind);
        r.source = Some(self.location(span));
        if let Some(id) = id {
            let v = id.trim();
            let checked = match crate::platforms::home(platform) {
                Some(home) => home.object_id(kind, v),
                None if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
                None => Err("an id is the platform's numeric id, e.g. \"1234567890\""),
            };
            if let Err(hint) = checked {
                self.err(id.span, Code::InvalidValue, format!("invalid id `{}`", id.value), hint);
            } else {
                r.id = Some(v.to_string());
                self.pinned.push((r.address.clone(), v.to_string(), id.span));
            }
        }
        if let Some(l) = lifecycle {
            r.lifecycle = Lifecycle {
                prevent_destroy: l.prevent_destroy.as_ref().map(|b| b.value).unwrap_or(false),
                ignore_changes: Vec::new(),
                adopt: l.adopt.as_ref().map(|b| b.value).unwrap_or(false),
            };
            let known = managed_fields(platform, kind);
            for f in &l.ignore_changes {
                if known.contains(&f.as_str()) {
                    r.lifecycle.ignore_changes.push(f.value.clone());
                } else {
                    let hint = match did_you_mean(f, known.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`? fields of {kind}: {}", known.join(", ")),
                        None => format!("fields of {kind}: {}", known.join(", ")),
                    };
                    self.err(
                        f.span,
                        Code::InvalidValue,
                        format!("`ignore_changes` names unknown field `{}`", f.value),
                        hint,
                    );
                }
            }
        }
        r
    }

    /// The account a resource names, checked to be on one of `platforms`.
    pub(crate) fn account_ref(&mut self, acct: &S<String>, what: &str, platforms: &[Platform]) -> Option<Account> {
        match self.accounts.get(acct.as_str()) {
            // the account's own error is reported: its references are follow-on errors
            None if self.broken_accounts.contains(acct.as_str()) => None,
            None => {
                let names: Vec<&str> = self.accounts.keys().map(String::as_str).collect();
                let hint = match did_you_mean(acct, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? accounts in adsctl.yaml: {}", names.join(", ")),
                    None if names.is_empty() => "declare the account under `accounts:` in adsctl.yaml".into(),
                    None => format!("accounts in adsctl.yaml: {}", names.join(", ")),
                };
                self.err(
                    acct.span,
                    Code::UnknownReference,
                    format!("unknown account `{}`", acct.value),
                    hint,
                );
                None
            }
            Some(a) if !platforms.contains(&a.platform) => {
                let a = a.clone();
                let list: Vec<&str> = platforms.iter().map(|p| p.as_str()).collect();
                self.err(
                    acct.span,
                    Code::InvalidValue,
                    format!(
                        "account `{}` is {}, but {} {what} needs {}",
                        acct.value,
                        a.platform,
                        if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
                            "an"
                        } else {
                            "a"
                        },
                        list.join(" or ")
                    ),
                    "pick an account of the right platform",
                );
                None
            }
            Some(a) => Some(a.clone()),
        }
    }

    pub(crate) fn text(&mut self, s: &S<String>, field: &str, max: usize) -> Option<Value> {
        self.text_counted(s, field, max, false)
    }

    /// [`Self::text`], counting double-width characters twice when `google_width`.
    pub(crate) fn text_counted(&mut self, s: &S<String>, field: &str, max: usize, google_width: bool) -> Option<Value> {
        let (n, wide) = if google_width {
            rules::google_width(s)
        } else {
            (s.chars().count(), 0)
        };
        if s.trim().is_empty() {
            self.err(
                s.span,
                Code::Constraint,
                format!("`{field}` is empty"),
                "write some text",
            );
            return None;
        }
        if n > max {
            self.err(
                s.span,
                Code::Constraint,
                format!(
                    "`{field}` is {n} characters{}; the limit is {max}",
                    double_width_note(wide)
                ),
                format!("shorten it by {}", plural(n - max, "character")),
            );
            return None;
        }
        Some(Value::Str(s.value.clone()))
    }

    pub(crate) fn url(&mut self, s: &S<String>, field: &str) -> Option<Value> {
        let v = s.trim();
        let ok = (v.starts_with("https://") || v.starts_with("http://"))
            && v.split_once("://").is_some_and(|(_, r)| {
                let host = r.split(['/', '?', '#']).next().unwrap_or("");
                host.contains('.') || host.starts_with("localhost") || host.starts_with("127.")
            })
            && !v.contains(char::is_whitespace);
        if ok {
            Some(Value::Url(v.to_string()))
        } else {
            self.err(
                s.span,
                Code::InvalidValue,
                format!("`{field}` is not a valid URL: `{}`", s.value),
                "write a full URL: `https://example.com/page`",
            );
            None
        }
    }

    /// A field that does not belong on this platform: reported at its key, with its counterpart here.
    pub(crate) fn not_here<T>(&mut self, f: &Option<S<T>>, field: &str, platform: Platform) {
        if let Some(v) = f {
            let other = crate::platforms::owner_of_campaign_field(field);
            let at = self.sources.key_of(v.span).unwrap_or(v.span);
            self.err(
                at,
                Code::InvalidValue,
                format!(
                    "`{field}` is {} field; this account is {platform}",
                    crate::platforms::with_article(other)
                ),
                rules::counterpart(platform, field),
            );
        }
    }

    pub(crate) fn missing(&mut self, span: Span, field: &str, what: &str, example: &str) {
        // written without a value (`budget:`): point at the key
        if let Some(key) = self.sources.key_in(span, field) {
            self.err(
                key,
                Code::MissingField,
                format!("`{field}` has no value; {what} needs it"),
                format!("write `{field}: {example}`"),
            );
            return;
        }
        self.err(
            span,
            Code::MissingField,
            format!("{what} needs `{field}`"),
            format!("add `{field}: {example}`"),
        );
    }

    pub(crate) fn set_of_str(items: &[S<String>], f: impl Fn(&str) -> String) -> Value {
        Value::Set(items.iter().map(|s| Value::Str(f(s.trim()))).collect())
    }

    // ---------------------------------------------------------------- resource files

    /// Lower every resource file: budgets and audiences first (others refer to them), then lookalikes, then
    /// campaigns.
    pub fn files(&mut self, files: Vec<ResourceFile>) {
        // Sized once: growing these by doubling moved every resource and address several times over, and left
        // up to half the resource vector unused in the project.
        let n = count_resources(&files);
        self.resources.reserve_exact(n);
        self.declared.reserve(n);
        let mut lookalikes = Vec::new();
        let mut lists = Vec::new();
        let mut conversions = Vec::new();
        let mut custom_conversions = Vec::new();
        let mut split_tests = Vec::new();
        let mut product_catalogs = Vec::new();
        let mut experiments = Vec::new();
        let mut campaigns = Vec::new();
        let mut moves = Vec::new();
        for file in &files {
            let lines = rules::single_line(file);
            self.problems(lines);
            for c in file.campaigns.iter().filter_map(|i| i.value.as_ref()) {
                let Some((platform, body)) = &c.body else { continue };
                if let Some(home) = crate::platforms::home(*platform) {
                    let found = home.campaign_problems(body.as_ref(), &|s| self.at(s));
                    self.problems(found);
                }
            }
        }
        for file in files {
            for b in file.budgets.into_iter().filter_map(|i| i.value) {
                self.budget(b);
            }
            for a in file.audiences.into_iter().filter_map(|i| i.value) {
                self.audience(a);
            }
            lookalikes.extend(file.lookalike_audiences.into_iter().filter_map(|i| i.value));
            lists.extend(file.lists.into_iter().filter_map(|i| i.value));
            conversions.extend(file.conversions.into_iter().filter_map(|i| i.value));
            custom_conversions.extend(file.custom_conversions.into_iter().filter_map(|i| i.value));
            split_tests.extend(file.split_tests.into_iter().filter_map(|i| i.value));
            product_catalogs.extend(file.product_catalogs.into_iter().filter_map(|i| i.value));
            experiments.extend(file.experiments.into_iter().filter_map(|i| i.value));
            campaigns.extend(file.campaigns.into_iter().filter_map(|i| i.value));
            moves.extend(file.moved.into_iter().filter_map(|i| i.value));
        }
        for l in lookalikes {
            self.lookalike(l);
        }
        for l in lists {
            self.list(l);
        }
        for c in conversions {
            self.conversion(c);
        }
        for c in custom_conversions {
            self.custom_conversion(c);
        }
        for c in product_catalogs {
            self.product_catalog(c);
        }
        for c in campaigns {
            self.campaign(c);
        }
        for t in split_tests {
            self.split_test(t);
        }
        // after the campaigns: an experiment names its base campaign
        for e in experiments {
            self.experiment(e);
        }
        for m in moves {
            self.moved(m);
        }
        self.later_references();
        self.parent_cycles();
        self.resolve_mirrors();
        let pinned = std::mem::take(&mut self.pinned);
        let twice = rules::duplicate_ids(&pinned, |s| self.at(s));
        self.problems(twice);
    }
}

/// How many resources `files` declare at most (the exact number when they are valid).
pub(crate) fn count_resources(files: &[ResourceFile]) -> usize {
    pub(crate) fn valid<T>(items: &[super::de::Item<T>]) -> impl Iterator<Item = &T> {
        items.iter().filter_map(|i| i.value.as_ref())
    }
    let mut n = 0;
    for f in files {
        n += valid(&f.budgets).count() + valid(&f.lookalike_audiences).count() + valid(&f.conversions).count();
        n += valid(&f.custom_conversions).count();
        n += valid(&f.split_tests).count();
        n += valid(&f.product_catalogs).count();
        n += valid(&f.experiments).count();
        // a list's merge fields are few: the vector grows for them
        n += valid(&f.lists).count();
        n += valid(&f.audiences).map(|a| a.accounts.len()).sum::<usize>();
        for c in valid(&f.campaigns) {
            n += match &c.body {
                Some((platform, body)) => {
                    crate::platforms::home(*platform).map_or(1, |h| h.campaign_size(body.as_ref()))
                }
                None => 1,
            };
        }
    }
    n
}

/// A Google Ads customer id (`123-456-7890` or `1234567890`) as 10 digits.
pub(crate) fn customer_id(s: &str) -> Option<String> {
    let s = s.trim();
    let dashed = s.len() == 12
        && s.as_bytes()[3] == b'-'
        && s.as_bytes()[7] == b'-'
        && s.bytes()
            .enumerate()
            .all(|(i, b)| i == 3 || i == 7 || b.is_ascii_digit());
    let plain = s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit());
    (dashed || plain).then(|| s.replace('-', ""))
}

/// The field names of each kind (from `docs/resource-model.md`), for `ignore_changes`: the platform's table.
pub fn managed_fields(platform: Platform, kind: Kind) -> &'static [&'static str] {
    crate::platforms::home(platform).map_or(&[], |h| h.managed_fields(kind))
}

pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub(crate) const ISO_COUNTRY: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

pub(crate) fn is_country(c: &str) -> bool {
    c.len() == 2 && ISO_COUNTRY.split(' ').any(|x| x == c)
}

impl<'a> Lower<'a> {
    // ---------------------------------------------------------------- Google shared budgets

    pub(crate) fn budget(&mut self, b: SharedBudget) {
        let Some(acct) = self.account_ref(
            &b.account,
            "shared budget",
            &crate::platforms::platforms_with(Kind::Budget),
        ) else {
            return;
        };
        let addr = Address::account(&acct.name).child(Kind::Budget, b.name.trim());
        if !self.declare(&addr, b.name.span, "budget") {
            return;
        }
        let mut r = self.resource(addr, Kind::Budget, b.name.span, &b.id, &b.lifecycle, acct.platform);
        if let Some(m) = self.amount(&b.amount, acct.currency, "amount") {
            r.fields.insert("amount", Value::Money(m));
        }
        if let Some(d) = &*b.delivery_method {
            r.fields.insert("delivery_method", Value::str(d.wire()));
        }
        self.resources.push(r);
    }

    // ---------------------------------------------------------------- audiences

    pub(crate) fn emails(&mut self, cf: &S<CustomerFile>) -> Option<std::rc::Rc<Emails>> {
        let key = (cf.path.value.clone(), cf.column.value.clone());
        if let Some(v) = self.csv_cache.get(&key) {
            return v.clone();
        }
        let column = cf.column.trim().to_string();
        let result = self
            .csv_file(&cf.path, cf.column.span, |root, path| Emails::read(root, path, &column))
            .map(std::rc::Rc::new);
        self.csv_cache.insert(key, result.clone());
        result
    }

    /// A company list's companies (`company_file`): a name column and/or a website column.
    pub(crate) fn companies(&mut self, cf: &S<CompanyFile>) -> Option<crate::spec::audience::Companies> {
        let name = cf.name_column.as_ref().map(|c| c.trim().to_string());
        let website = cf.website_column.as_ref().map(|c| c.trim().to_string());
        if name.is_none() && website.is_none() {
            if !cf.name_column.is_invalid() && !cf.website_column.is_invalid() {
                self.missing(cf.span, "name_column", "a company file", "company");
            }
            return None;
        }
        let span = cf
            .name_column
            .as_ref()
            .or(cf.website_column.as_ref())
            .map_or(cf.path.span, |c| c.span);
        self.csv_file(&cf.path, span, |root, path| {
            crate::spec::audience::Companies::read(root, path, name.as_deref(), website.as_deref())
        })
    }

    /// Read a CSV file of the config directory with `read`; its problems become errors (at the CSV row, or at
    /// `column_span` / the path when they are not about a row).
    pub(crate) fn csv_file<T>(
        &mut self,
        path: &S<String>,
        column_span: Span,
        read: impl FnOnce(&Path, &Path) -> Result<T, Vec<crate::spec::audience::CsvProblem>>,
    ) -> Option<T> {
        let rel = Path::new(path.as_str());
        if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            self.err(
                path.span,
                Code::InvalidValue,
                format!(
                    "customer file path `{}` must stay inside the config directory",
                    path.value
                ),
                "write a relative path such as `data/customers.csv`",
            );
            return None;
        }
        let full = self.root.join(rel);
        let display = full.display().to_string();
        let root = std::fs::canonicalize(self.root).unwrap_or_else(|_| self.root.to_path_buf());
        match read(&root, &full) {
            Ok(v) => Some(v),
            Err(problems) => {
                for p in problems {
                    match p.line {
                        // Point at the CSV row itself.
                        Some(line) if !p.message.starts_with("the CSV has no column") => {
                            let span = Span {
                                line: line as usize,
                                col: 1,
                                file: usize::MAX,
                                ..Span::default()
                            };
                            self.errors
                                .push(SpecError::new(&display, span, Code::Csv, p.message).with_hint(p.hint));
                        }
                        Some(_) => {
                            self.err(column_span, Code::Csv, format!("{} ({display})", p.message), p.hint);
                        }
                        None => {
                            self.err(path.span, Code::Csv, format!("{} ({display})", p.message), p.hint);
                        }
                    }
                }
                None
            }
        }
    }

    pub(crate) fn audience(&mut self, a: Audience) {
        let source = a.source.as_ref().and_then(|s| self.audience_source(&a, s));
        let emails = match (&*a.customer_file, &*a.company_file) {
            _ if a.source.is_some() || a.source.is_invalid() => None,
            (Some(cf), None) => self.emails(cf),
            (Some(_), Some(c)) => {
                self.err(
                    c.span,
                    Code::Constraint,
                    "an audience is a customer file or a company list, not both",
                    "keep `customer_file` or `company_file`",
                );
                None
            }
            (None, None) if !a.customer_file.is_invalid() && !a.company_file.is_invalid() => {
                self.missing(
                    a.name.span,
                    "customer_file",
                    "an audience",
                    "{ path: data/customers.csv, column: email }",
                );
                None
            }
            _ => None,
        };
        let companies = match (&*a.company_file, &*a.customer_file) {
            (Some(c), None) => self.companies(c),
            _ => None,
        };
        // Platform-specific fields apply to the accounts of that platform; one that applies to none is an error.
        let platforms: BTreeSet<Platform> = a
            .accounts
            .iter()
            .filter_map(|n| self.accounts.get(n.as_str()).map(|x| x.platform))
            .collect();
        if !platforms.is_empty() {
            // a field of a platform none of the accounts is on
            for home in crate::platforms::HOMES
                .iter()
                .filter(|h| !platforms.contains(&h.platform()))
            {
                for field in home.audience_fields() {
                    let Some(span) = a.field_span(field) else { continue };
                    self.err(
                        span,
                        Code::InvalidValue,
                        format!(
                            "`{field}` is {} field; none of `accounts` is {}",
                            crate::platforms::with_article(home.display_name()),
                            home.platform()
                        ),
                        "remove it",
                    );
                }
            }
        }
        if a.accounts.is_empty() {
            self.err(
                a.accounts.span,
                Code::Constraint,
                "`accounts` is empty",
                "list at least one account",
            );
        }
        let mut seen = BTreeSet::new();
        for acct_name in &a.accounts.value {
            if !seen.insert(acct_name.value.clone()) {
                self.err(
                    acct_name.span,
                    Code::Duplicate,
                    format!("account `{}` is listed twice", acct_name.value),
                    "remove one",
                );
                continue;
            }
            let Some(acct) = self.account_ref(
                acct_name,
                "customer-file audience",
                &crate::platforms::platforms_with(Kind::Audience),
            ) else {
                continue;
            };
            let addr = Address::account(&acct.name).child(Kind::Audience, a.name.trim());
            if !self.declare(&addr, a.name.span, "audience") {
                continue;
            }
            let id = a.ids.as_ref().and_then(|m| m.get(&acct.name).cloned());
            let mut r = self.resource(addr, Kind::Audience, a.name.span, &id, &a.lifecycle, acct.platform);
            if let Some(d) = &*a.description {
                r.fields.insert("description", Value::Str(d.value.clone()));
            }
            if let Some(home) = crate::platforms::home(acct.platform) {
                home.lower_audience(self, &a, &mut r);
            }
            if let Some(e) = &emails {
                r.fields.insert(
                    "members",
                    Value::Set(e.hashed(acct.platform).into_iter().map(Value::Str).collect()),
                );
            }
            if let Some(src) = &source {
                if src.get("account").and_then(Value::as_str) == Some(acct.name.as_str()) {
                    self.err(
                        acct_name.span,
                        Code::Constraint,
                        format!("account `{}` is the audience's own source", acct.name),
                        "an audience takes another account's members: remove it from `accounts`",
                    );
                    continue;
                }
                r.fields
                    .insert(crate::platforms::sources::FIELD, Value::Map(src.clone()));
            }
            if let Some(c) = &companies {
                r.fields.insert("list_type", Value::str("company"));
                r.fields
                    .insert("members", Value::Set(c.0.iter().cloned().map(Value::Str).collect()));
            }
            self.resources.push(r);
        }
        if let Some(ids) = &*a.ids {
            for k in ids.keys() {
                if !a.accounts.iter().any(|x| x.value == *k) {
                    self.err(
                        ids.span,
                        Code::UnknownReference,
                        format!("`ids` names account `{k}`, which is not in `accounts`"),
                        "add it to `accounts` or remove the id",
                    );
                }
            }
        }
    }

    /// `source:` of an audience: an account of a platform that can be a source, and not with a file.
    fn audience_source(
        &mut self,
        a: &Audience,
        s: &S<crate::spec::types::AudienceSource>,
    ) -> Option<crate::model::SmallMap> {
        for (written, field) in [
            (a.customer_file.is_some(), "customer_file"),
            (a.company_file.is_some(), "company_file"),
        ] {
            if written {
                self.err(
                    s.span,
                    Code::Constraint,
                    format!("an audience takes its members from `source` or from `{field}`, not both"),
                    "keep one of them",
                );
                return None;
            }
        }
        let sources: Vec<Platform> = crate::platforms::HOMES
            .iter()
            .filter(|h| h.audience_source())
            .map(|h| h.platform())
            .collect();
        let acct = self.account_ref(&s.account, "audience source", &sources)?;
        let mut m = crate::model::SmallMap::new();
        m.insert("account", Value::Str(acct.name.clone()));
        if let Some(n) = &*s.audience {
            if n.trim().is_empty() {
                self.err(
                    n.span,
                    Code::Constraint,
                    "`audience` is empty",
                    "name the source's audience (a tag)",
                );
                return None;
            }
            m.insert("audience", Value::Str(n.trim().to_string()));
        }
        Some(m)
    }

    /// A block only some platforms have (`what` in messages), in an account of a platform with objects of `kind`,
    /// lowered by that platform's home with `lower`; an account of another platform is reported at `account:`.
    fn account_block(
        &mut self,
        account: Option<S<String>>,
        body: Option<(Platform, Box<dyn std::any::Any + Send>)>,
        what: &str,
        kind: Kind,
        lower: fn(&dyn crate::platforms::Home, &mut Lower<'_>, &Account, Box<dyn std::any::Any + Send>),
    ) {
        let Some(account) = &account else { return };
        let Some(acct) = self.account_ref(account, what, &crate::platforms::platforms_with(kind)) else {
            return;
        };
        let (Some((_, body)), Some(home)) = (body, crate::platforms::home(acct.platform)) else {
            return;
        };
        lower(home, self, &acct, body);
    }

    pub(crate) fn lookalike(&mut self, l: LookalikeAudience) {
        self.account_block(
            l.account,
            l.body,
            "lookalike audience",
            Kind::LookalikeAudience,
            |h, lw, a, b| h.lower_lookalike(lw, a, b),
        );
    }

    /// A `lists:` entry: the settings of the audience its account is, lowered by the account's platform's home.
    pub(crate) fn list(&mut self, l: ListSettings) {
        self.account_block(l.account, l.body, "list", Kind::List, |h, lw, a, b| {
            h.lower_list(lw, a, b)
        });
    }

    pub(crate) fn conversion(&mut self, c: Conversion) {
        self.account_block(c.account, c.body, "conversion", Kind::Conversion, |h, lw, a, b| {
            h.lower_conversion(lw, a, b)
        });
    }

    /// A `split_tests:` entry, lowered by its account's platform's home (after the campaigns its cells name).
    pub(crate) fn split_test(&mut self, t: SplitTest) {
        self.account_block(t.account, t.body, "split test", Kind::SplitTest, |h, lw, a, b| {
            h.lower_split_test(lw, a, b)
        });
    }

    /// A `product_catalogs:` entry, lowered by its account's platform's home.
    pub(crate) fn product_catalog(&mut self, c: ProductCatalog) {
        self.account_block(c.account, c.body, "product catalog", Kind::ProductSet, |h, lw, a, b| {
            h.lower_product_catalog(lw, a, b)
        });
    }

    /// An `experiments:` entry, lowered by its account's platform's home.
    pub(crate) fn experiment(&mut self, e: Experiment) {
        self.account_block(e.account, e.body, "experiment", Kind::Experiment, |h, lw, a, b| {
            h.lower_experiment(lw, a, b)
        });
    }

    /// A `custom_conversions:` entry, lowered by its account's platform's home.
    pub(crate) fn custom_conversion(&mut self, c: CustomConversion) {
        self.account_block(
            c.account,
            c.body,
            "custom conversion",
            Kind::CustomConversion,
            |h, lw, a, b| h.lower_custom_conversion(lw, a, b),
        );
    }

    /// The part every platform's conversion shares: its name, address and resource with `id:` and `lifecycle:`;
    /// `None` (reported) when the name is empty, on several lines or declared twice.
    pub(crate) fn conversion_resource(
        &mut self,
        acct: &Account,
        name: &S<String>,
        id: &Opt<String>,
        lifecycle: &Opt<LifecycleSpec>,
    ) -> Option<Resource> {
        self.account_resource(acct, Kind::Conversion, "conversion", name, id, lifecycle)
    }

    /// An object of `kind` at the account's level (a conversion, a custom conversion; `what` in messages): its
    /// name, address and resource with `id:` and `lifecycle:`; `None` (reported) when the name is empty, on several
    /// lines or declared twice.
    pub(crate) fn account_resource(
        &mut self,
        acct: &Account,
        kind: Kind,
        what: &str,
        name: &S<String>,
        id: &Opt<String>,
        lifecycle: &Opt<LifecycleSpec>,
    ) -> Option<Resource> {
        if name.trim().is_empty() {
            self.err(
                name.span,
                Code::Constraint,
                format!("{what} name is empty"),
                "give it a name",
            );
            return None;
        }
        if let Some(&c) = name.as_bytes().iter().find(|&&b| b == b'\n' || b == b'\t') {
            let which = if c == b'\n' { "a line break" } else { "a tab" };
            self.err(
                name.span,
                Code::InvalidValue,
                format!("{what} name holds {which}"),
                format!("write the {what} name on one line"),
            );
            return None;
        }
        let addr = Address::account(&acct.name).child(kind, name.trim());
        if !self.declare(&addr, name.span, what) {
            return None;
        }
        Some(self.resource(addr, kind, name.span, id, lifecycle, acct.platform))
    }

    /// The part every platform's lookalike audience shares: its name, address and resource with `id:` and
    /// `lifecycle:`; `None` (reported) when the name is empty, on several lines or declared twice.
    pub(crate) fn lookalike_resource(
        &mut self,
        acct: &Account,
        name: &S<String>,
        id: &Opt<String>,
        lifecycle: &Opt<LifecycleSpec>,
    ) -> Option<Resource> {
        if name.trim().is_empty() {
            self.err(
                name.span,
                Code::Constraint,
                "lookalike audience name is empty",
                "give it a name",
            );
            return None;
        }
        if let Some(&c) = name.as_bytes().iter().find(|&&b| b == b'\n' || b == b'\t') {
            let which = if c == b'\n' { "a line break" } else { "a tab" };
            self.err(
                name.span,
                Code::InvalidValue,
                format!("lookalike audience name holds {which}"),
                "write the lookalike audience name on one line",
            );
            return None;
        }
        let addr = Address::account(&acct.name).child(Kind::LookalikeAudience, name.trim());
        if !self.declare(&addr, name.span, "lookalike audience") {
            return None;
        }
        Some(self.resource(addr, Kind::LookalikeAudience, name.span, id, lifecycle, acct.platform))
    }

    /// A lookalike's `origin`: the audience of the same account it is built from, as `origin` (a reference).
    pub(crate) fn lookalike_origin(&mut self, acct: &Account, origin: &S<String>, r: &mut Resource) {
        let base = Address::account(&acct.name);
        let at = base.child(Kind::Audience, origin.trim());
        if self.declared.contains_key(&at) {
            r.fields.insert("origin", Value::reference(at));
        } else {
            let names = self.names_of(&base, Kind::Audience);
            let hint = match did_you_mean(origin, names.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "declare an audience `{}` with account `{}` under `audiences:`",
                    origin.value, acct.name
                ),
            };
            self.err(
                origin.span,
                Code::UnknownReference,
                format!("unknown audience `{}` in account `{}`", origin.value, acct.name),
                hint,
            );
        }
    }

    /// Meta's lookalike: `country` and `ratio`.
    pub(crate) fn meta_lookalike(&mut self, acct: &Account, l: MetaLookalikeAudience) {
        let Some(mut r) = self.lookalike_resource(acct, &l.name, &l.id, &l.lifecycle) else {
            return;
        };
        self.lookalike_origin(acct, &l.origin, &mut r);
        let c = l.country.trim().to_ascii_uppercase();
        if is_country(&c) {
            r.fields.insert("country", Value::Str(c));
        } else {
            self.err(
                l.country.span,
                Code::InvalidValue,
                format!("unknown country code `{}`", l.country.value),
                "use an ISO 3166-1 alpha-2 code such as `US`",
            );
        }
        if let Some(ratio) = self.decimal(&l.ratio, "ratio") {
            let hundredths = ratio * Decimal::from(100);
            if ratio < Decimal::new(1, 2) || ratio > Decimal::new(20, 2) || hundredths.fract() != Decimal::ZERO {
                self.err(
                    l.ratio.span,
                    Code::Constraint,
                    format!("ratio must be 0.01–0.20 in steps of 0.01, got {}", l.ratio.0),
                    "e.g. `0.01` for the closest 1 %",
                );
            } else {
                r.fields.insert("ratio", Value::Decimal(ratio.normalize()));
            }
        }
        self.resources.push(r);
    }

    pub(crate) fn names_of(&self, parent: &Address, kind: Kind) -> Vec<String> {
        let mut v: Vec<String> = self
            .declared
            .keys()
            .filter(|a| {
                a.kind() == Some(kind) && a.parent().as_ref().unwrap_or(&Address::account(&a.account)) == parent
            })
            .filter_map(|a| a.name().map(str::to_string))
            .collect();
        v.sort();
        v
    }

    /// A reference to an audience or lookalike audience in the same account.
    pub(crate) fn audience_ref(&mut self, acct: &Account, name: &S<String>) -> Option<Value> {
        let base = Address::account(&acct.name);
        for kind in [Kind::Audience, Kind::LookalikeAudience] {
            let a = base.child(kind, name.trim());
            if self.declared.contains_key(&a) {
                return Some(Value::reference(a));
            }
        }
        let mut names = self.names_of(&base, Kind::Audience);
        names.extend(self.names_of(&base, Kind::LookalikeAudience));
        let hint = match did_you_mean(name, names.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("declare it under `audiences:` with `{}` in its `accounts`", acct.name),
        };
        self.err(
            name.span,
            Code::UnknownReference,
            format!("unknown audience `{}` in account `{}`", name.value, acct.name),
            hint,
        );
        None
    }
}

impl Lower<'_> {
    /// `mirrors: <account>/campaign/<name>` of a CRM campaign: an address of a campaign in another account.
    pub(crate) fn mirror_target(&mut self, crm_account: &Account, m: &S<String>) -> Option<Address> {
        let bad = |l: &mut Self, msg: String| {
            l.err(
                m.span,
                Code::InvalidValue,
                msg,
                "write the ad campaign's address as the plan prints it: `acme-search/campaign/Spring Sale`",
            );
            None
        };
        let Ok(a) = m.trim().parse::<Address>() else {
            return bad(self, format!("`{}` is not an address", m.value));
        };
        if a.path.len() != 1 || a.path[0].0 != Kind::Campaign {
            return bad(self, format!("`{}` is not a campaign's address", m.value));
        }
        if a.account == crm_account.name {
            return bad(self, "a campaign cannot mirror one of its own account".into());
        }
        Some(a)
    }

    /// A hierarchy written with `parent:` (Salesforce campaigns) must not loop: each campaign's chain of parents ends.
    fn parent_cycles(&mut self) {
        let parents: HashMap<&Address, &Address> = self
            .resources
            .iter()
            .filter_map(|r| match r.fields.get("parent") {
                Some(Value::Ref(p)) => Some((&r.address, &**p)),
                _ => None,
            })
            .collect();
        let mut looped = Vec::new();
        for &start in parents.keys() {
            let mut at = start;
            let mut seen = 0;
            while let Some(&p) = parents.get(at) {
                seen += 1;
                if p == start {
                    looped.push(start.clone());
                    break;
                }
                if seen > parents.len() {
                    break;
                }
                at = p;
            }
        }
        looped.sort();
        for a in looped {
            let span = self.declared.get(&a).copied().unwrap_or_default();
            self.err(
                span,
                Code::Constraint,
                format!(
                    "`{}` is its own ancestor: its `parent` chain comes back to it",
                    a.name().unwrap_or_default()
                ),
                "a hierarchy has a top: give one campaign of the loop no `parent`",
            );
        }
    }

    /// A CRM campaign's name (HubSpot, Salesforce): written, or the mirrored ad campaign's; `None` (reported) when
    /// neither. With the ad campaign's address when `mirrors` names one.
    pub(crate) fn crm_name(
        &mut self,
        account: &Account,
        name: &Opt<String>,
        mirrors: &Opt<String>,
        at: Span,
        what: &str,
    ) -> (Option<S<String>>, Option<Address>) {
        let target = mirrors.as_ref().and_then(|m| self.mirror_target(account, m));
        let name = match (&**name, &target, &**mirrors) {
            (Some(n), _, _) => Some(n.clone()),
            (None, Some(t), Some(m)) => Some(super::de::Spanned {
                value: t.name().unwrap_or_default().to_string(),
                span: m.span,
            }),
            _ if name.is_invalid() || mirrors.is_invalid() || mirrors.is_some() => None,
            _ => {
                self.missing(at, "name", what, "Spring Sale");
                None
            }
        };
        (name, target)
    }

    /// A CRM campaign's `start_date` / `end_date` (`YYYY-MM-DD`, in order) into its fields.
    pub(crate) fn crm_dates(&mut self, start: &Opt<String>, end: &Opt<String>, r: &mut Resource) {
        let start = start.as_ref().and_then(|d| self.crm_date(d, "start_date", r));
        let Some(e) = &**end else { return };
        if let (Some(end), Some(start)) = (self.crm_date(e, "end_date", r), start) {
            if end < start {
                self.err(
                    e.span,
                    Code::Constraint,
                    "the campaign ends before it starts",
                    "make `end_date` on or after `start_date`",
                );
            }
        }
    }

    fn crm_date(&mut self, d: &S<String>, field: &'static str, r: &mut Resource) -> Option<NaiveDate> {
        match parse_date(d.trim()) {
            Some(day) => {
                r.fields.insert(field, Value::Str(day.format("%Y-%m-%d").to_string()));
                Some(day)
            }
            None => {
                self.err(
                    d.span,
                    Code::InvalidValue,
                    format!("`{}` is not a date", d.value),
                    format!("write `{field}: 2026-03-01` (YYYY-MM-DD)"),
                );
                None
            }
        }
    }

    /// Registers a CRM campaign's mirror of `target` (resolved once every campaign is lowered): which of its dates
    /// the YAML wrote, and the field its spend goes to (whole currency units or not).
    pub(crate) fn crm_mirror(
        &mut self,
        r: &Resource,
        target: Option<Address>,
        mirrors: &Opt<String>,
        dates_written: [bool; 2],
        spend: (&'static str, bool),
    ) {
        if let (Some(target), Some(m)) = (target, &**mirrors) {
            self.mirrors.push(Mirror {
                at: r.address.clone(),
                target,
                span: m.span,
                dates: [("start_date", dates_written[0]), ("end_date", dates_written[1])],
                spend,
            });
        }
    }

    /// A customer-file audience on a platform that takes addresses as written: its members' addresses (and the status
    /// adsctl gives them) filed in memory for the connector, under the hash the home gives.
    pub(crate) fn file_clear_members(
        &mut self,
        a: &Audience,
        r: &Resource,
        hash: fn(&str) -> String,
        status: Option<String>,
    ) {
        let Some(cf) = &*a.customer_file else { return };
        let Some(emails) = self.emails(cf) else { return };
        let book = emails
            .iter()
            .map(|e| {
                let member = crate::connectors::clear::ClearMember {
                    email: e.trim().to_string(),
                    status: status.clone(),
                    ..Default::default()
                };
                (hash(e), member)
            })
            .collect();
        crate::connectors::clear::file(&r.address.to_string(), book);
    }

    /// References to objects any file may declare (a Salesforce parent campaign), checked once all are lowered.
    fn later_references(&mut self) {
        for (a, span, what) in std::mem::take(&mut self.later_refs) {
            if !self.declared.contains_key(&a) {
                let parent = a.parent().unwrap_or_else(|| Address::account(&a.account));
                let kind = a.kind().unwrap_or(Kind::Campaign);
                let names = self.names_of(&parent, kind);
                let hint = match did_you_mean(a.name().unwrap_or_default(), names.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("declare it in account `{}`", a.account),
                };
                self.err(
                    span,
                    Code::UnknownReference,
                    format!("unknown {what} `{}`", a.name().unwrap_or_default()),
                    hint,
                );
            }
        }
    }

    /// Fills what mirrored ad campaigns say: dates not written, and the spend to take from the metrics store.
    fn resolve_mirrors(&mut self) {
        let mirrors = std::mem::take(&mut self.mirrors);
        if mirrors.is_empty() {
            return;
        }
        let index: HashMap<Address, usize> = self
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.address.clone(), i))
            .collect();
        for m in mirrors {
            let Some(&t) = index.get(&m.target) else {
                let names = self.names_of(&Address::account(&m.target.account), Kind::Campaign);
                let hint = match did_you_mean(m.target.name().unwrap_or_default(), names.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{}/campaign/{s}`?", m.target.account),
                    None => "mirror a campaign the YAML declares (its address as the plan prints it)".to_string(),
                };
                self.err(
                    m.span,
                    Code::UnknownReference,
                    format!("`{}` is not a campaign of the YAML", m.target),
                    hint,
                );
                continue;
            };
            // the ad campaign's dates, as dates (Google's `start_date`; Meta's and others' times, cut to the day)
            let date = |r: &Resource, fields: &[&str]| {
                fields.iter().find_map(|f| match r.fields.get(f) {
                    Some(Value::Str(s)) if s.len() >= 10 && parse_date(&s[..10]).is_some() => Some(s[..10].to_string()),
                    _ => None,
                })
            };
            let target = &self.resources[t];
            let start = date(target, &["start_date", "start_time"]);
            let end = date(target, &["end_date", "end_time", "stop_time"]);
            let Some(&i) = index.get(&m.at) else { continue };
            let r = &mut self.resources[i];
            for ((field, written), value) in m.dates.into_iter().zip([start, end]) {
                if let (false, Some(v)) = (written, value) {
                    r.fields.insert(field, Value::Str(v));
                }
            }
            let mut spend = crate::model::SmallMap::new();
            spend.insert("field", Value::str(m.spend.0));
            spend.insert("campaign", Value::reference(m.target.clone()));
            spend.insert("whole_units", Value::Bool(m.spend.1));
            r.fields
                .insert(crate::platforms::sources::SPEND_FIELD, Value::Map(spend));
        }
    }

    /// A `moved:` entry: two addresses of the same account, kind and parent; `to` declared, `from` not.
    fn moved(&mut self, m: crate::spec::types::MovedSpec) {
        let parse = |l: &mut Self, s: &S<String>, which: &str| match s.trim().parse::<Address>() {
            Ok(a) if !a.path.is_empty() => Some(a),
            _ => {
                l.err(
                    s.span,
                    Code::InvalidValue,
                    format!("`{which}` is not an address"),
                    "write it as the plan and `adsctl state list` print it: `account/campaign/Name`",
                );
                None
            }
        };
        let (Some(from), Some(to)) = (parse(self, &m.from, "from"), parse(self, &m.to, "to")) else {
            return;
        };
        let same_place = from.account == to.account
            && from.path.len() == to.path.len()
            && from.parent() == to.parent()
            && from.path.last().map(|p| p.0) == to.path.last().map(|p| p.0);
        if !same_place {
            self.err(
                m.to.span,
                Code::Constraint,
                "`moved` renames an object: `from` and `to` must be the same kind under the same parent",
                "an object cannot move to another account or parent; to rename a parent, list only the parent",
            );
            return;
        }
        if from == to {
            self.err(
                m.to.span,
                Code::Constraint,
                "`from` and `to` are the same address",
                "remove the entry",
            );
            return;
        }
        if !self.declared.contains_key(&to) {
            self.err(
                m.to.span,
                Code::UnknownReference,
                format!("`to` names nothing the YAML declares: {to}"),
                "write the new address of an object declared in these files",
            );
            return;
        }
        if self.declared.contains_key(&from) {
            self.err(
                m.from.span,
                Code::Constraint,
                format!("`from` is still declared in the YAML: {from}"),
                "the old name must be gone from the YAML: rename the block, then list the rename here",
            );
            return;
        }
        if let Some(twice) = self.moved.iter().find(|x| x.to == to || x.from == from) {
            let (which, a) = if twice.to == to { ("to", &to) } else { ("from", &from) };
            self.err(
                m.to.span,
                Code::Constraint,
                format!("two renames with the same `{which}`: {a}"),
                "list each rename once",
            );
            return;
        }
        self.moved.push(crate::model::Moved { from, to });
    }
}

impl<'a> Lower<'a> {
    // ---------------------------------------------------------------- campaigns

    pub(crate) fn campaign(&mut self, c: Campaign) {
        let Some(account) = &c.account else { return };
        let Some(acct) = self.account_ref(account, "campaign", &crate::platforms::platforms_with(Kind::Campaign))
        else {
            return;
        };
        let (Some((_, body)), Some(home)) = (c.body, crate::platforms::home(acct.platform)) else {
            return;
        };
        home.lower_campaign(self, &acct, body);
    }

    /// The part every platform's campaign shares: its name, address and resource with `id:` and `lifecycle:`;
    /// `None` (reported) when the name is empty or declared twice.
    pub(crate) fn campaign_resource(
        &mut self,
        acct: &Account,
        name: &S<String>,
        id: &Opt<String>,
        lifecycle: &Opt<LifecycleSpec>,
    ) -> Option<Resource> {
        self.top_resource(acct, Kind::Campaign, "campaign", name, id, lifecycle)
    }

    /// [`Lower::campaign_resource`] for a platform whose entries of `campaigns:` are another kind (LinkedIn's
    /// campaign groups); `what` names it in messages.
    pub(crate) fn top_resource(
        &mut self,
        acct: &Account,
        kind: Kind,
        what: &str,
        name: &S<String>,
        id: &Opt<String>,
        lifecycle: &Opt<LifecycleSpec>,
    ) -> Option<Resource> {
        if name.trim().is_empty() {
            self.err(
                name.span,
                Code::Constraint,
                format!("{what} name is empty"),
                format!("give the {what} a name"),
            );
            return None;
        }
        let addr = Address::account(&acct.name).child(kind, name.trim());
        if !self.declare(&addr, name.span, what) {
            return None;
        }
        Some(self.resource(addr, kind, name.span, id, lifecycle, acct.platform))
    }

    pub(crate) fn status(&mut self, s: &Option<S<Status>>, platform: Platform, r: &mut Resource) {
        if let (Some(s), Some(home)) = (s, crate::platforms::home(platform)) {
            r.fields.insert("status", Value::str(home.status_word(s.value)));
        }
    }

    pub(crate) fn date(&mut self, d: &S<String>, field: &str, r: &mut Resource) -> Option<NaiveDate> {
        match parse_date(d.trim()) {
            Some(x) => {
                r.fields.insert(field, Value::Str(x.format("%Y-%m-%d").to_string()));
                Some(x)
            }
            None => {
                self.err(
                    d.span,
                    Code::InvalidValue,
                    format!("`{field}` is not a date: `{}`", d.value),
                    "write it as YYYY-MM-DD, e.g. `2026-03-01`",
                );
                None
            }
        }
    }

    pub(crate) fn time(&mut self, d: &S<String>, field: &str, r: &mut Resource) -> Option<DateTime<Utc>> {
        match parse_time(d) {
            Some(x) => {
                r.fields
                    .insert(field, Value::Str(x.to_rfc3339_opts(SecondsFormat::Secs, true)));
                Some(x)
            }
            None => {
                self.err(
                    d.span,
                    Code::InvalidValue,
                    format!("`{field}` is not an RFC 3339 time: `{}`", d.value),
                    "write it like `2026-03-01T09:00:00Z` or `2026-03-01T09:00:00+01:00`",
                );
                None
            }
        }
    }
}

/// ` (N double-width characters count twice)` when there are any.
pub(crate) fn double_width_note(wide: usize) -> String {
    match wide {
        0 => String::new(),
        1 => " (1 double-width character counts twice)".into(),
        n => format!(" ({n} double-width characters count twice)"),
    }
}

/// `addr` with every name in NFC, when some name is not (no allocation for the usual ASCII or NFC names).
pub(crate) fn addr_nfc(addr: &Address) -> Option<Address> {
    if addr.path.iter().all(|(_, n)| n.is_ascii()) {
        return None;
    }
    let names: Vec<Option<String>> = addr.path.iter().map(|(_, n)| rules::nfc_if_needed(n)).collect();
    if names.iter().all(Option::is_none) {
        return None;
    }
    let mut out = Address::account(&addr.account);
    for ((kind, name), nfc) in addr.path.iter().zip(names) {
        out = out.child(*kind, nfc.unwrap_or_else(|| name.clone()));
    }
    Some(out)
}

pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
