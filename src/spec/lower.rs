//! Validation and lowering: typed spec → platform-neutral [`Resource`]s (see `docs/resource-model.md`).
//!
//! Every check records an error and carries on, so one run reports every problem.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;

use super::audience::Emails;
use super::de::Spanned;
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
    declared: rustc_hash::FxHashMap<Address, Span>,
    csv_cache: HashMap<(String, String), Option<std::rc::Rc<Emails>>>,
    /// Accounts declared but invalid: references to them are not reported again (the account's own error says
    /// what is wrong).
    broken_accounts: BTreeSet<String>,
    /// Addresses whose name is not in NFC, by their NFC form: a name that differs from another only in Unicode
    /// normalisation is a duplicate.
    declared_nfc: rustc_hash::FxHashMap<Address, Span>,
    /// Resources pinned to a platform id, with where the id is written (`rules::duplicate_ids`).
    pinned: Vec<(Address, String, Span)>,
}

fn money_hint(c: Currency) -> String {
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
        }
    }

    fn err(&mut self, span: Span, code: Code, msg: impl Into<String>, hint: impl Into<String>) {
        let e = self.sources.error(span, code, msg).with_hint(hint);
        self.errors.push(e);
    }

    fn problems(&mut self, problems: Vec<rules::Problem>) {
        for p in problems {
            self.err(p.span, p.code, p.message, p.hint);
        }
    }

    fn at(&self, span: Span) -> String {
        self.location(span).to_string()
    }

    fn location(&self, span: Span) -> SourceLocation {
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

    fn account(&mut self, name: &S<String>, spec: AccountSpec) -> Option<Account> {
        let platform: Platform = spec.platform.value.into();
        let mut ok = true;
        if !platform.is_supported() {
            self.err(
                spec.platform.span,
                Code::InvalidValue,
                format!("platform `{platform}` has no connector yet"),
                "supported platforms: google_ads, meta",
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
        let mut platform_id = String::new();
        let mut login = None;
        let other_field = |this: &mut Self, f: &Option<S<String>>, field: &str, belongs: &str| {
            if let Some(v) = f {
                this.err(
                    v.span,
                    Code::InvalidValue,
                    format!("`{field}` is for {belongs} accounts; `{}` is {platform}", name.value),
                    format!("remove `{field}`"),
                );
                true
            } else {
                false
            }
        };
        match platform {
            Platform::GoogleAds => {
                ok &= !other_field(self, &spec.ad_account_id, "ad_account_id", "meta");
                match &*spec.customer_id {
                    None if spec.customer_id.is_invalid() => ok = false,
                    None => {
                        self.err(
                            name.span,
                            Code::MissingField,
                            format!("google_ads account `{}` needs `customer_id`", name.value),
                            "add `customer_id: 123-456-7890` (from the Google Ads UI)",
                        );
                        ok = false;
                    }
                    Some(c) => match customer_id(c) {
                        Some(d) => platform_id = d,
                        None => {
                            self.err(
                                c.span,
                                Code::InvalidValue,
                                format!("invalid customer id `{}`", c.value),
                                "a customer id has 10 digits: `123-456-7890` or `1234567890`",
                            );
                            ok = false;
                        }
                    },
                }
                if let Some(l) = &*spec.login_customer_id {
                    match customer_id(l) {
                        Some(d) => login = Some(d),
                        None => {
                            self.err(
                                l.span,
                                Code::InvalidValue,
                                format!("invalid login customer id `{}`", l.value),
                                "a customer id has 10 digits: `123-456-7890` or `1234567890`",
                            );
                            ok = false;
                        }
                    }
                }
            }
            Platform::Meta => {
                ok &= !other_field(self, &spec.customer_id, "customer_id", "google_ads");
                ok &= !other_field(self, &spec.login_customer_id, "login_customer_id", "google_ads");
                match &*spec.ad_account_id {
                    None if spec.ad_account_id.is_invalid() => ok = false,
                    None => {
                        self.err(
                            name.span,
                            Code::MissingField,
                            format!("meta account `{}` needs `ad_account_id`", name.value),
                            "add `ad_account_id: act_<digits>` (from Business Manager)",
                        );
                        ok = false;
                    }
                    Some(a) => {
                        let v = a.trim();
                        let digits = v.strip_prefix("act_").unwrap_or("");
                        if !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
                            platform_id = v.to_string();
                        } else {
                            let hint = if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
                                format!("write it as `act_{v}`")
                            } else {
                                "an ad account id looks like `act_1234567890`".into()
                            };
                            self.err(
                                a.span,
                                Code::InvalidValue,
                                format!("invalid ad account id `{}`", a.value),
                                hint,
                            );
                            ok = false;
                        }
                    }
                }
            }
            _ => {}
        }
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
        ok.then(|| Account {
            name: name.value.clone(),
            platform,
            platform_id,
            login_customer_id: login,
            currency,
            time_zone: spec.time_zone.as_ref().map(|t| t.value.clone()),
            on_removed: spec.on_removed.as_ref().map(|p| p.value.into()).unwrap_or_default(),
            guardrails,
            endpoint: spec.endpoint.as_ref().map(|e| e.value.clone()),
        })
    }

    // ---------------------------------------------------------------- helpers

    /// A positive amount of money in `currency`.
    fn amount(&mut self, a: &S<Amount>, currency: Currency, field: &str) -> Option<Money> {
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

    fn decimal(&mut self, d: &S<DecimalText>, field: &str) -> Option<Decimal> {
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
    fn declare(&mut self, addr: &Address, span: Span, what: &str) -> bool {
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

    fn resource(
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
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                self.err(
                    id.span,
                    Code::InvalidValue,
                    format!("invalid id `{}`", id.value),
                    "an id is the platform's numeric id, e.g. \"1234567890\"",
                );
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
    fn account_ref(&mut self, acct: &S<String>, what: &str, platforms: &[Platform]) -> Option<Account> {
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
                        "account `{}` is {}, but a {what} needs {}",
                        acct.value,
                        a.platform,
                        list.join(" or ")
                    ),
                    "pick an account of the right platform",
                );
                None
            }
            Some(a) => Some(a.clone()),
        }
    }

    fn text(&mut self, s: &S<String>, field: &str, max: usize) -> Option<Value> {
        self.text_counted(s, field, max, false)
    }

    /// [`Self::text`], counting double-width characters twice when `google_width`.
    fn text_counted(&mut self, s: &S<String>, field: &str, max: usize, google_width: bool) -> Option<Value> {
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

    fn url(&mut self, s: &S<String>, field: &str) -> Option<Value> {
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
    fn not_here<T>(&mut self, f: &Option<S<T>>, field: &str, platform: Platform, other: &str) {
        if let Some(v) = f {
            let at = self.sources.key_of(v.span).unwrap_or(v.span);
            self.err(
                at,
                Code::InvalidValue,
                format!("`{field}` is a {other} field; this account is {platform}"),
                rules::counterpart(platform, field),
            );
        }
    }

    /// A list field that does not belong on this platform, reported at its key (found next to `name`).
    fn list_not_here<T>(&mut self, list: &[T], name: Span, field: &str, platform: Platform, other: &str) {
        if !list.is_empty() {
            let at = self.sources.key_in(name, field).unwrap_or(name);
            self.err(
                at,
                Code::InvalidValue,
                format!("`{field}` belong to {other} campaigns; this account is {platform}"),
                rules::counterpart(platform, field),
            );
        }
    }

    fn missing(&mut self, span: Span, field: &str, what: &str, example: &str) {
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

    fn set_of_str(items: &[S<String>], f: impl Fn(&str) -> String) -> Value {
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
        let mut campaigns = Vec::new();
        for file in &files {
            let lines = rules::single_line(file);
            self.problems(lines);
            for c in file.campaigns.iter().filter_map(|i| i.value.as_ref()) {
                let conflicts = rules::keyword_conflicts(c, |s| self.at(s));
                self.problems(conflicts);
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
            campaigns.extend(file.campaigns.into_iter().filter_map(|i| i.value));
        }
        for l in lookalikes {
            self.lookalike(l);
        }
        for c in campaigns {
            self.campaign(c);
        }
        let pinned = std::mem::take(&mut self.pinned);
        let twice = rules::duplicate_ids(&pinned, |s| self.at(s));
        self.problems(twice);
    }
}

/// How many resources `files` declare at most (the exact number when they are valid).
fn count_resources(files: &[ResourceFile]) -> usize {
    fn valid<T>(items: &[super::de::Item<T>]) -> impl Iterator<Item = &T> {
        items.iter().filter_map(|i| i.value.as_ref())
    }
    let mut n = 0;
    for f in files {
        n += valid(&f.budgets).count() + valid(&f.lookalike_audiences).count();
        n += valid(&f.audiences).map(|a| a.accounts.len()).sum::<usize>();
        for c in valid(&f.campaigns) {
            n += 1 + valid(&c.negative_keywords).count();
            for g in valid(&c.ad_groups) {
                n += 1 + valid(&g.keywords).count() + valid(&g.negative_keywords).count() + valid(&g.ads).count();
            }
            for s in valid(&c.ad_sets) {
                n += 1 + valid(&s.ads).count();
            }
        }
    }
    n
}

/// A Google Ads customer id (`123-456-7890` or `1234567890`) as 10 digits.
fn customer_id(s: &str) -> Option<String> {
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

/// The field names of each kind (from `docs/resource-model.md`), for `ignore_changes`.
pub fn managed_fields(platform: Platform, kind: Kind) -> &'static [&'static str] {
    match (platform, kind) {
        (Platform::GoogleAds, Kind::Budget) => &["amount", "delivery_method"],
        (Platform::GoogleAds, Kind::Campaign) => &[
            "status",
            "channel",
            "budget.daily",
            "budget.shared",
            "budget.delivery_method",
            "bidding.strategy",
            "bidding.target_cpa",
            "bidding.target_roas",
            "bidding.cpc_bid_ceiling",
            "bidding.enhanced_cpc",
            "start_date",
            "end_date",
            "network.google_search",
            "network.search_network",
            "network.content_network",
            "network.partner_search_network",
            "eu_political_advertising",
            "labels",
        ],
        (Platform::GoogleAds, Kind::AdGroup) => &["status", "type", "default_cpc"],
        (Platform::GoogleAds, Kind::Ad) => &["status", "headlines", "descriptions", "final_url", "path1", "path2"],
        (Platform::GoogleAds, Kind::Keyword) => &["status", "cpc_bid"],
        (Platform::GoogleAds, Kind::NegativeKeyword) => &["text", "match_type"],
        (Platform::GoogleAds, Kind::Audience) => &["description", "membership_life_span_days", "members"],
        (Platform::Meta, Kind::Campaign) => &[
            "status",
            "objective",
            "special_ad_categories",
            "budget.daily",
            "budget.lifetime",
            "bid_strategy",
            "start_time",
            "stop_time",
        ],
        (Platform::Meta, Kind::AdSet) => &[
            "status",
            "optimization_goal",
            "billing_event",
            "bid_amount",
            "bid_strategy",
            "budget.daily",
            "budget.lifetime",
            "start_time",
            "end_time",
            "targeting.countries",
            "targeting.regions",
            "targeting.cities",
            "targeting.age_min",
            "targeting.age_max",
            "targeting.genders",
            "targeting.publisher_platforms",
            "targeting.facebook_positions",
            "targeting.instagram_positions",
            "targeting.custom_audiences",
            "targeting.excluded_custom_audiences",
        ],
        (Platform::Meta, Kind::Ad) => &[
            "status",
            "creative.page_id",
            "creative.link",
            "creative.message",
            "creative.headline",
            "creative.description",
            "creative.image_hash",
            "creative.image_url",
            "creative.call_to_action",
        ],
        (Platform::Meta, Kind::Audience) => &["description", "customer_file_source", "members"],
        (Platform::Meta, Kind::LookalikeAudience) => &["origin", "country", "ratio"],
        _ => &[],
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

const ISO_COUNTRY: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

fn is_country(c: &str) -> bool {
    c.len() == 2 && ISO_COUNTRY.split(' ').any(|x| x == c)
}

impl<'a> Lower<'a> {
    // ---------------------------------------------------------------- Google shared budgets

    fn budget(&mut self, b: SharedBudget) {
        let Some(acct) = self.account_ref(&b.account, "shared budget", &[Platform::GoogleAds]) else {
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

    fn emails(&mut self, cf: &S<CustomerFile>) -> Option<std::rc::Rc<Emails>> {
        let key = (cf.path.value.clone(), cf.column.value.clone());
        if let Some(v) = self.csv_cache.get(&key) {
            return v.clone();
        }
        let rel = Path::new(cf.path.as_str());
        let result = if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            self.err(
                cf.path.span,
                Code::InvalidValue,
                format!(
                    "customer file path `{}` must stay inside the config directory",
                    cf.path.value
                ),
                "write a relative path such as `data/customers.csv`",
            );
            None
        } else {
            let path = self.root.join(rel);
            let display = path.display().to_string();
            let root = std::fs::canonicalize(self.root).unwrap_or_else(|_| self.root.to_path_buf());
            match Emails::read(&root, &path, cf.column.trim()) {
                Ok(e) => Some(std::rc::Rc::new(e)),
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
                                self.err(cf.column.span, Code::Csv, format!("{} ({display})", p.message), p.hint);
                            }
                            None => {
                                self.err(cf.path.span, Code::Csv, format!("{} ({display})", p.message), p.hint);
                            }
                        }
                    }
                    None
                }
            }
        };
        self.csv_cache.insert(key, result.clone());
        result
    }

    fn audience(&mut self, a: Audience) {
        let emails = self.emails(&a.customer_file);
        // Platform-specific fields apply to the accounts of that platform; one that applies to none is an error.
        let platforms: BTreeSet<Platform> = a
            .accounts
            .iter()
            .filter_map(|n| self.accounts.get(n.as_str()).map(|x| x.platform))
            .collect();
        if !platforms.is_empty() {
            if !platforms.contains(&Platform::GoogleAds) {
                if let Some(d) = &*a.membership_life_span_days {
                    self.err(
                        d.span,
                        Code::InvalidValue,
                        "`membership_life_span_days` is a Google Ads field; none of `accounts` is google_ads",
                        "remove it",
                    );
                }
            }
            if !platforms.contains(&Platform::Meta) {
                if let Some(d) = &*a.customer_file_source {
                    self.err(
                        d.span,
                        Code::InvalidValue,
                        "`customer_file_source` is a Meta field; none of `accounts` is meta",
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
                &[Platform::GoogleAds, Platform::Meta],
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
            match acct.platform {
                Platform::GoogleAds => {
                    if let Some(d) = &*a.membership_life_span_days {
                        if !(1..=540).contains(&d.value) {
                            self.err(
                                d.span,
                                Code::Constraint,
                                format!("membership_life_span_days must be 1–540, got {}", d.value),
                                "Google keeps Customer Match members at most 540 days",
                            );
                        }
                        r.fields
                            .insert("membership_life_span_days", Value::Int(i64::from(d.value)));
                    }
                }
                _ => {
                    if let Some(src) = a.customer_file_source.as_ref() {
                        r.fields.insert("customer_file_source", Value::str(src.wire()));
                    }
                }
            }
            if let Some(e) = &emails {
                r.fields.insert(
                    "members",
                    Value::Set(e.hashed(acct.platform).into_iter().map(Value::Str).collect()),
                );
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

    fn lookalike(&mut self, l: LookalikeAudience) {
        let Some(acct) = self.account_ref(&l.account, "lookalike audience", &[Platform::Meta]) else {
            return;
        };
        let base = Address::account(&acct.name);
        let addr = base.child(Kind::LookalikeAudience, l.name.trim());
        if !self.declare(&addr, l.name.span, "lookalike audience") {
            return;
        }
        let mut r = self.resource(
            addr,
            Kind::LookalikeAudience,
            l.name.span,
            &l.id,
            &l.lifecycle,
            acct.platform,
        );
        let origin = base.child(Kind::Audience, l.origin.trim());
        if self.declared.contains_key(&origin) {
            r.fields.insert("origin", Value::reference(origin));
        } else {
            let names = self.names_of(&base, Kind::Audience);
            let hint = match did_you_mean(&l.origin, names.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "declare an audience `{}` with account `{}` under `audiences:`",
                    l.origin.value, acct.name
                ),
            };
            self.err(
                l.origin.span,
                Code::UnknownReference,
                format!("unknown audience `{}` in account `{}`", l.origin.value, acct.name),
                hint,
            );
        }
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

    fn names_of(&self, parent: &Address, kind: Kind) -> Vec<String> {
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
    fn audience_ref(&mut self, acct: &Account, name: &S<String>) -> Option<Value> {
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

impl<'a> Lower<'a> {
    // ---------------------------------------------------------------- campaigns

    fn campaign(&mut self, c: Campaign) {
        let Some(acct) = self.account_ref(&c.account, "campaign", &[Platform::GoogleAds, Platform::Meta]) else {
            return;
        };
        if c.name.trim().is_empty() {
            self.err(
                c.name.span,
                Code::Constraint,
                "campaign name is empty",
                "give the campaign a name",
            );
            return;
        }
        let addr = Address::account(&acct.name).child(Kind::Campaign, c.name.trim());
        if !self.declare(&addr, c.name.span, "campaign") {
            return;
        }
        let r = self.resource(
            addr.clone(),
            Kind::Campaign,
            c.name.span,
            &c.id,
            &c.lifecycle,
            acct.platform,
        );
        match acct.platform {
            Platform::GoogleAds => self.google_campaign(&acct, c, r),
            _ => self.meta_campaign(&acct, c, r),
        }
    }

    fn status(&mut self, s: &Option<S<Status>>, platform: Platform, r: &mut Resource) {
        if let Some(s) = s {
            let v = match (platform, s.value) {
                (Platform::GoogleAds, Status::Active) => "enabled",
                (Platform::Meta, Status::Enabled) => "active",
                (_, v) => v.wire(),
            };
            r.fields.insert("status", Value::str(v));
        }
    }

    fn google_campaign(&mut self, acct: &Account, c: Campaign, mut r: Resource) {
        let p = acct.platform;
        let cur = acct.currency;
        self.not_here(&c.objective, "objective", p, "Meta");
        self.not_here(&c.special_ad_categories, "special_ad_categories", p, "Meta");
        self.not_here(&c.bid_strategy, "bid_strategy", p, "Meta");
        self.not_here(&c.start_time, "start_time", p, "Meta");
        self.not_here(&c.stop_time, "stop_time", p, "Meta");
        self.list_not_here(&c.ad_sets, c.name.span, "ad_sets", p, "Meta");
        self.status(&c.status, p, &mut r);
        let adopted = c.id.is_some();
        match &*c.channel {
            Some(ch) => {
                r.fields.insert("channel", Value::str(ch.wire()));
            }
            None if !adopted && !c.channel.is_invalid() => {
                self.missing(c.name.span, "channel", "a Google Ads campaign", "search")
            }
            None => {}
        }
        match &*c.budget {
            Some(b) => {
                self.not_here(&b.lifetime, "budget.lifetime", p, "Meta");
                match (&*b.daily, &*b.shared) {
                    (Some(_), Some(s)) => self.err(
                        s.span,
                        Code::Constraint,
                        "a campaign budget is either `daily` or `shared`, not both",
                        "remove one of them",
                    ),
                    (None, None) if b.lifetime.is_none() => self.err(
                        b.span,
                        Code::MissingField,
                        "the budget needs `daily` or `shared`",
                        "add `daily: 50` or `shared: <budget name>`",
                    ),
                    (Some(d), None) => {
                        if let Some(m) = self.amount(d, cur, "budget.daily") {
                            r.fields.insert("budget.daily", Value::Money(m));
                        }
                    }
                    (None, Some(s)) => {
                        let base = Address::account(&acct.name);
                        let target = base.child(Kind::Budget, s.trim());
                        if self.declared.contains_key(&target) {
                            r.fields.insert("budget.shared", Value::reference(target));
                        } else {
                            let names = self.names_of(&base, Kind::Budget);
                            let hint = match did_you_mean(s, names.iter().map(String::as_str)) {
                                Some(x) => format!("did you mean `{x}`?"),
                                None => format!("declare it under `budgets:` with `account: {}`", acct.name),
                            };
                            self.err(
                                s.span,
                                Code::UnknownReference,
                                format!("unknown shared budget `{}` in account `{}`", s.value, acct.name),
                                hint,
                            );
                        }
                        if let Some(d) = &*b.delivery_method {
                            self.err(
                                d.span,
                                Code::InvalidValue,
                                "`delivery_method` of a shared budget is set on the budget",
                                "move it under `budgets:`",
                            );
                        }
                    }
                    _ => {}
                }
                if let (Some(d), None) = (&*b.delivery_method, &*b.shared) {
                    r.fields.insert("budget.delivery_method", Value::str(d.wire()));
                }
            }
            None if !adopted && !c.budget.is_invalid() => {
                self.missing(c.name.span, "budget", "a Google Ads campaign", "{ daily: 50 }")
            }
            None => {}
        }
        match &*c.bidding {
            Some(b) => self.bidding(b, cur, &mut r),
            None if !adopted && !c.bidding.is_invalid() => self.missing(
                c.name.span,
                "bidding",
                "a Google Ads campaign",
                "{ maximize_conversions: {} }",
            ),
            None => {}
        }
        let start = c.start_date.as_ref().and_then(|d| self.date(d, "start_date", &mut r));
        let end = c.end_date.as_ref().and_then(|d| self.date(d, "end_date", &mut r));
        if let (Some(s), Some(e), Some(ed)) = (start, end, &*c.end_date) {
            if e < s {
                self.err(
                    ed.span,
                    Code::Constraint,
                    format!("end_date {e} is before start_date {s}"),
                    "the end date must be on or after the start date",
                );
            }
        }
        if let Some(n) = &*c.network {
            for (f, v) in [
                ("network.google_search", &*n.google_search),
                ("network.search_network", &*n.search_network),
                ("network.content_network", &*n.content_network),
                ("network.partner_search_network", &*n.partner_search_network),
            ] {
                if let Some(v) = v {
                    r.fields.insert(f, Value::Bool(v.value));
                }
            }
        }
        if let Some(e) = &*c.eu_political_advertising {
            r.fields.insert("eu_political_advertising", Value::Bool(e.value));
        }
        if let Some(l) = &*c.labels {
            for x in l.iter() {
                if x.trim().is_empty() {
                    self.err(x.span, Code::Constraint, "empty label", "remove it");
                }
            }
            r.fields.insert("labels", Self::set_of_str(l, str::to_string));
        }
        let addr = r.address.clone();
        self.resources.push(r);
        for n in c.negative_keywords.iter().filter_map(|i| i.value.as_ref()) {
            self.negative_keyword(acct, &addr, n);
        }
        let channel = c.channel.as_ref().map(|x| x.value);
        for g in c.ad_groups.into_iter().filter_map(|i| i.value) {
            self.ad_group(acct, &addr, channel, g);
        }
    }

    fn date(&mut self, d: &S<String>, field: &str, r: &mut Resource) -> Option<NaiveDate> {
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

    fn time(&mut self, d: &S<String>, field: &str, r: &mut Resource) -> Option<DateTime<Utc>> {
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

    fn bidding(&mut self, b: &S<Bidding>, cur: Currency, r: &mut Resource) {
        let set: Vec<&str> = [
            ("manual_cpc", b.manual_cpc.is_some()),
            ("maximize_conversions", b.maximize_conversions.is_some()),
            ("maximize_conversion_value", b.maximize_conversion_value.is_some()),
            ("target_cpa", b.target_cpa.is_some()),
            ("target_roas", b.target_roas.is_some()),
            ("target_spend", b.target_spend.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, on)| on.then_some(n))
        .collect();
        if set.len() != 1 {
            let msg = if set.is_empty() {
                "`bidding` names no strategy".to_string()
            } else {
                format!(
                    "`bidding` names {} strategies ({}); a campaign has exactly one",
                    set.len(),
                    set.join(", ")
                )
            };
            self.err(b.span, Code::Constraint, msg, "keep one of: manual_cpc, maximize_conversions, maximize_conversion_value, target_cpa, target_roas, target_spend");
            return;
        }
        r.fields.insert("bidding.strategy", Value::str(set[0]));
        if let Some(m) = &*b.manual_cpc {
            if let Some(e) = &*m.enhanced_cpc {
                r.fields.insert("bidding.enhanced_cpc", Value::Bool(e.value));
            }
        }
        let cpa = b
            .maximize_conversions
            .as_ref()
            .and_then(|m| m.target_cpa.as_ref())
            .or(b.target_cpa.as_ref().map(|t| &t.target_cpa));
        if let Some(a) = cpa {
            if let Some(m) = self.amount(a, cur, "target_cpa") {
                r.fields.insert("bidding.target_cpa", Value::Money(m));
            }
        }
        let roas = b
            .maximize_conversion_value
            .as_ref()
            .and_then(|m| m.target_roas.as_ref())
            .or(b.target_roas.as_ref().map(|t| &t.target_roas));
        if let Some(d) = roas {
            if let Some(v) = self.decimal(d, "target_roas") {
                r.fields.insert("bidding.target_roas", Value::Decimal(v.normalize()));
            }
        }
        if let Some(c) = b.target_spend.as_ref().and_then(|t| t.cpc_bid_ceiling.as_ref()) {
            if let Some(m) = self.amount(c, cur, "cpc_bid_ceiling") {
                r.fields.insert("bidding.cpc_bid_ceiling", Value::Money(m));
            }
        }
    }

    fn keyword_text(&mut self, t: &S<String>) -> bool {
        let n = t.chars().count();
        let words = t.split_whitespace().count();
        if t.trim().is_empty() {
            self.err(t.span, Code::Constraint, "keyword text is empty", "write the keyword");
            false
        } else if n > 80 {
            self.err(
                t.span,
                Code::Constraint,
                format!("keyword is {n} characters; the limit is 80"),
                "shorten it",
            );
            false
        } else if words > 10 {
            self.err(
                t.span,
                Code::Constraint,
                format!("keyword has {words} words; the limit is 10"),
                "use fewer words",
            );
            false
        } else if let Some((msg, hint)) = rules::keyword_syntax(t) {
            self.err(t.span, Code::InvalidValue, msg, hint);
            false
        } else {
            true
        }
    }

    fn keyword_key(t: &str, m: MatchType) -> String {
        let text = t.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        format!("{text}:{}", m.wire())
    }

    fn negative_keyword(&mut self, acct: &Account, parent: &Address, n: &NegativeKeyword) {
        if !self.keyword_text(&n.text) {
            return;
        }
        let addr = parent.child(Kind::NegativeKeyword, Self::keyword_key(&n.text, n.match_type.value));
        if !self.declare(&addr, n.text.span, "negative keyword") {
            return;
        }
        let mut r = self.resource(
            addr,
            Kind::NegativeKeyword,
            n.text.span,
            &n.id,
            &n.lifecycle,
            acct.platform,
        );
        r.fields.insert(
            "text",
            Value::Str(n.text.split_whitespace().collect::<Vec<_>>().join(" ")),
        );
        r.fields.insert("match_type", Value::str(n.match_type.wire()));
        self.resources.push(r);
    }

    fn ad_group(&mut self, acct: &Account, campaign: &Address, channel: Option<Channel>, g: AdGroup) {
        if g.name.trim().is_empty() {
            self.err(
                g.name.span,
                Code::Constraint,
                "ad group name is empty",
                "give it a name",
            );
            return;
        }
        let addr = campaign.child(Kind::AdGroup, g.name.trim());
        if !self.declare(&addr, g.name.span, "ad group") {
            return;
        }
        let mut r = self.resource(
            addr.clone(),
            Kind::AdGroup,
            g.name.span,
            &g.id,
            &g.lifecycle,
            acct.platform,
        );
        self.status(&g.status, acct.platform, &mut r);
        if let Some(t) = &*g.ad_group_type {
            let fits = match channel {
                Some(Channel::Search) => matches!(t.value, AdGroupType::SearchStandard | AdGroupType::SearchDynamicAds),
                Some(Channel::Display) => t.value == AdGroupType::DisplayStandard,
                Some(Channel::Shopping) => t.value == AdGroupType::ShoppingProductAds,
                Some(Channel::Video) => t.value == AdGroupType::VideoTrueViewInStream,
                _ => true,
            };
            if !fits {
                self.err(
                    t.span,
                    Code::Constraint,
                    format!(
                        "ad group type `{}` does not fit a `{}` campaign",
                        t.wire(),
                        channel.map(|c| c.wire()).unwrap_or("")
                    ),
                    "search campaigns take search_standard or search_dynamic_ads ad groups",
                );
            }
            r.fields.insert("type", Value::str(t.wire()));
        }
        if let (Some(ch), Some(first)) = (channel, g.ads.iter().find_map(|a| a.value.as_ref())) {
            if ch != Channel::Search {
                self.err(
                    first.responsive_search.span,
                    Code::Constraint,
                    format!(
                        "responsive search ads run in search campaigns; this campaign's channel is `{}`",
                        ch.wire()
                    ),
                    "move the ad to a search campaign, or change the channel",
                );
            }
        }
        if let Some(a) = &*g.default_cpc {
            if let Some(m) = self.amount(a, acct.currency, "default_cpc") {
                r.fields.insert("default_cpc", Value::Money(m));
            }
        }
        self.resources.push(r);
        for k in g.keywords.iter().filter_map(|i| i.value.as_ref()) {
            if !self.keyword_text(&k.text) {
                continue;
            }
            let ka = addr.child(Kind::Keyword, Self::keyword_key(&k.text, k.match_type.value));
            if !self.declare(&ka, k.text.span, "keyword") {
                continue;
            }
            let mut kr = self.resource(ka, Kind::Keyword, k.text.span, &k.id, &k.lifecycle, acct.platform);
            self.status(&k.status, acct.platform, &mut kr);
            if let Some(a) = &*k.cpc_bid {
                if let Some(m) = self.amount(a, acct.currency, "cpc_bid") {
                    kr.fields.insert("cpc_bid", Value::Money(m));
                }
            }
            self.resources.push(kr);
        }
        for n in g.negative_keywords.iter().filter_map(|i| i.value.as_ref()) {
            self.negative_keyword(acct, &addr, n);
        }
        for (i, ad) in g.ads.iter().enumerate() {
            if let Some(ad) = &ad.value {
                self.rsa(acct, &addr, i + 1, ad);
            }
        }
    }

    fn ad_texts(
        &mut self,
        list: &S<Vec<S<AdText>>>,
        what: &str,
        min: usize,
        max: usize,
        max_len: usize,
        pins: u8,
    ) -> Option<Value> {
        let n = list.len();
        let mut ok = true;
        if n < min || n > max {
            self.err(
                list.span,
                Code::Constraint,
                format!("a responsive search ad has {min}–{max} {what}s; found {n}"),
                format!("write between {min} and {max} {what}s"),
            );
            ok = false;
        }
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for t in list.iter() {
            // Google counts double-width characters twice (docs/spec.md)
            let (len, wide) = rules::google_width(&t.text);
            if t.text.trim().is_empty() {
                self.err(t.span, Code::Constraint, format!("empty {what}"), "write some text");
                ok = false;
            } else if len > max_len {
                self.err(
                    t.span,
                    Code::Constraint,
                    format!(
                        "{what} is {len} characters{}; the limit is {max_len}",
                        double_width_note(wide)
                    ),
                    format!("shorten it by {}", plural(len - max_len, "character")),
                );
                ok = false;
            }
            if !seen.insert(rules::text_key(&t.text)) {
                self.err(
                    t.span,
                    Code::Duplicate,
                    format!("duplicate {what} `{}`", t.text),
                    format!("each {what} must be different"),
                );
                ok = false;
            }
            let mut m = crate::model::SmallMap::new();
            m.insert("text".to_string(), Value::Str(t.text.clone()));
            if let Some(p) = t.pin {
                if p == 0 || p > pins {
                    self.err(
                        t.span,
                        Code::Constraint,
                        format!("{what} pin must be 1–{pins}, got {p}"),
                        format!("pin to a position from 1 to {pins}"),
                    );
                    ok = false;
                } else {
                    m.insert("pinned".to_string(), Value::Str(format!("{what}_{p}")));
                }
            }
            out.push(Value::Map(m));
        }
        ok.then_some(Value::List(out))
    }

    fn rsa(&mut self, acct: &Account, group: &Address, position: usize, ad: &GoogleAd) {
        let addr = group.child(Kind::Ad, position.to_string());
        let span = ad.responsive_search.span;
        let mut r = self.resource(addr, Kind::Ad, span, &ad.id, &ad.lifecycle, acct.platform);
        self.status(&ad.status, acct.platform, &mut r);
        let rsa = &ad.responsive_search;
        if let Some(v) = self.ad_texts(&rsa.headlines, "headline", 3, 15, 30, 3) {
            r.fields.insert("headlines", v);
        }
        if let Some(v) = self.ad_texts(&rsa.descriptions, "description", 2, 4, 90, 2) {
            r.fields.insert("descriptions", v);
        }
        if let Some(u) = self.url(&rsa.final_url, "final_url") {
            r.fields.insert("final_url", u);
        }
        for (f, v) in [("path1", &*rsa.path1), ("path2", &*rsa.path2)] {
            if let Some(v) = v {
                if let Some(x) = self.text_counted(v, f, 15, true) {
                    r.fields.insert(f, x);
                }
            }
        }
        if let (Some(p2), None) = (&*rsa.path2, &*rsa.path1) {
            self.err(
                p2.span,
                Code::Constraint,
                "`path2` needs `path1`",
                "add `path1` or move the text to `path1`",
            );
        }
        self.resources.push(r);
    }

    // ---------------------------------------------------------------- Meta

    fn meta_budget(&mut self, b: &S<CampaignBudget>, cur: Currency, r: &mut Resource) {
        if let Some(s) = &*b.shared {
            self.err(
                s.span,
                Code::InvalidValue,
                "shared budgets are a Google Ads feature",
                "use `daily` or `lifetime`",
            );
        }
        if let Some(d) = &*b.delivery_method {
            self.err(
                d.span,
                Code::InvalidValue,
                "`delivery_method` is a Google Ads field",
                "remove it",
            );
        }
        match (&*b.daily, &*b.lifetime) {
            (Some(_), Some(l)) => self.err(
                l.span,
                Code::Constraint,
                "a Meta budget is either `daily` or `lifetime`, not both",
                "remove one",
            ),
            (None, None) if b.shared.is_none() => self.err(
                b.span,
                Code::MissingField,
                "the budget needs `daily` or `lifetime`",
                "add `daily: 30`",
            ),
            (Some(d), None) => {
                if let Some(m) = self.amount(d, cur, "budget.daily") {
                    r.fields.insert("budget.daily", Value::Money(m));
                }
            }
            (None, Some(l)) => {
                if let Some(m) = self.amount(l, cur, "budget.lifetime") {
                    r.fields.insert("budget.lifetime", Value::Money(m));
                }
            }
            _ => {}
        }
    }

    fn meta_campaign(&mut self, acct: &Account, c: Campaign, mut r: Resource) {
        let p = acct.platform;
        self.not_here(&c.channel, "channel", p, "Google Ads");
        self.not_here(&c.bidding, "bidding", p, "Google Ads");
        self.not_here(&c.start_date, "start_date", p, "Google Ads");
        self.not_here(&c.end_date, "end_date", p, "Google Ads");
        self.not_here(&c.network, "network", p, "Google Ads");
        self.not_here(&c.eu_political_advertising, "eu_political_advertising", p, "Google Ads");
        self.not_here(&c.labels, "labels", p, "Google Ads");
        self.list_not_here(&c.ad_groups, c.name.span, "ad_groups", p, "Google Ads");
        self.list_not_here(&c.negative_keywords, c.name.span, "negative_keywords", p, "Google Ads");
        let adopted = c.id.is_some();
        self.status(&c.status, p, &mut r);
        match &*c.objective {
            Some(o) => {
                r.fields.insert("objective", Value::str(o.wire()));
            }
            None if !adopted && !c.objective.is_invalid() => {
                self.missing(c.name.span, "objective", "a Meta campaign", "traffic")
            }
            None => {}
        }
        match &*c.special_ad_categories {
            Some(cats) => {
                if cats.len() > 1 && cats.iter().any(|x| x.value == SpecialAdCategory::None) {
                    self.err(
                        cats.span,
                        Code::Constraint,
                        "`none` cannot be combined with other special ad categories",
                        "write `[]` for none",
                    );
                }
                let set = cats
                    .iter()
                    .filter(|x| x.value != SpecialAdCategory::None)
                    .map(|x| Value::str(x.wire()))
                    .collect();
                r.fields.insert("special_ad_categories", Value::Set(set));
            }
            None if !adopted && !c.special_ad_categories.is_invalid() => {
                self.missing(c.name.span, "special_ad_categories", "a Meta campaign", "[]")
            }
            None => {}
        }
        if let Some(b) = &*c.budget {
            self.meta_budget(b, acct.currency, &mut r);
        }
        if let Some(b) = &*c.bid_strategy {
            r.fields.insert("bid_strategy", Value::str(b.wire()));
        }
        let start = c.start_time.as_ref().and_then(|t| self.time(t, "start_time", &mut r));
        let stop = c.stop_time.as_ref().and_then(|t| self.time(t, "stop_time", &mut r));
        if let (Some(s), Some(e), Some(st)) = (start, stop, &*c.stop_time) {
            if e <= s {
                self.err(
                    st.span,
                    Code::Constraint,
                    "stop_time is not after start_time",
                    "the campaign must stop after it starts",
                );
            }
        }
        if let Some(b) = &*c.budget {
            if b.lifetime.is_some() && c.stop_time.is_none() {
                self.err(
                    b.span,
                    Code::MissingField,
                    "a lifetime budget needs `stop_time` on the campaign",
                    "add `stop_time: 2026-06-30T23:59:59Z`",
                );
            }
        }
        let addr = r.address.clone();
        let cbo = c.budget.is_some();
        let bid_strategy = c.bid_strategy.as_ref().map(|b| b.value);
        self.resources.push(r);
        for s in c.ad_sets.into_iter().filter_map(|i| i.value) {
            self.ad_set(acct, &addr, cbo, adopted, bid_strategy, s);
        }
    }

    fn ad_set(
        &mut self,
        acct: &Account,
        campaign: &Address,
        cbo: bool,
        campaign_adopted: bool,
        campaign_bid_strategy: Option<MetaBidStrategy>,
        s: AdSet,
    ) {
        if s.name.trim().is_empty() {
            self.err(s.name.span, Code::Constraint, "ad set name is empty", "give it a name");
            return;
        }
        let addr = campaign.child(Kind::AdSet, s.name.trim());
        if !self.declare(&addr, s.name.span, "ad set") {
            return;
        }
        let mut r = self.resource(
            addr.clone(),
            Kind::AdSet,
            s.name.span,
            &s.id,
            &s.lifecycle,
            acct.platform,
        );
        self.status(&s.status, acct.platform, &mut r);
        if let Some(g) = &*s.optimization_goal {
            r.fields.insert("optimization_goal", Value::str(g.wire()));
        }
        if let Some(b) = &*s.billing_event {
            r.fields.insert("billing_event", Value::str(b.wire()));
        }
        if let Some(a) = &*s.bid_amount {
            if let Some(m) = self.amount(a, acct.currency, "bid_amount") {
                r.fields.insert("bid_amount", Value::Money(m));
            }
        }
        if let Some(b) = &*s.bid_strategy {
            r.fields.insert("bid_strategy", Value::str(b.wire()));
        }
        match &*s.budget {
            Some(b) if cbo => self.err(
                b.span,
                Code::Constraint,
                "the campaign has a campaign budget, so its ad sets cannot have their own",
                "remove the ad set budget or the campaign budget",
            ),
            Some(b) => self.meta_budget(b, acct.currency, &mut r),
            None if !cbo && !campaign_adopted && s.id.is_none() && !s.budget.is_invalid() => self.missing(
                s.name.span,
                "budget",
                "an ad set of a campaign without a campaign budget",
                "{ daily: 20 }",
            ),
            None => {}
        }
        let start = s.start_time.as_ref().and_then(|t| self.time(t, "start_time", &mut r));
        let end = s.end_time.as_ref().and_then(|t| self.time(t, "end_time", &mut r));
        if let (Some(a), Some(b), Some(et)) = (start, end, &*s.end_time) {
            if b <= a {
                self.err(
                    et.span,
                    Code::Constraint,
                    "end_time is not after start_time",
                    "the ad set must end after it starts",
                );
            }
        }
        if let Some(t) = &*s.targeting {
            let problems = rules::targeting(t, |v| self.sources.key_of(v));
            self.problems(problems);
            self.targeting(acct, t, &mut r);
        }
        if let Some(b) = s.budget.as_ref() {
            if b.lifetime.is_some() && s.end_time.is_none() && !cbo {
                self.err(
                    b.span,
                    Code::MissingField,
                    "an ad set with a lifetime budget needs `end_time`",
                    "add `end_time: 2026-06-30T23:59:59Z`",
                );
            }
        }
        let strategy = s.bid_strategy.as_ref().map(|b| b.value).or(campaign_bid_strategy);
        if matches!(
            strategy,
            Some(MetaBidStrategy::LowestCostWithBidCap | MetaBidStrategy::CostCap)
        ) && s.bid_amount.is_none()
            && !s.bid_amount.is_invalid()
        {
            self.err(
                s.name.span,
                Code::MissingField,
                format!(
                    "ad set `{}` needs `bid_amount`: its bid strategy is {}",
                    s.name.value,
                    strategy.map(|x| x.wire()).unwrap_or("")
                ),
                "add `bid_amount: 2.50` (the cap, in the account currency)",
            );
        }
        self.resources.push(r);
        for ad in s.ads.into_iter().filter_map(|i| i.value) {
            self.meta_ad(acct, &addr, ad);
        }
    }

    fn targeting(&mut self, acct: &Account, t: &S<Targeting>, r: &mut Resource) {
        if let Some(cs) = &*t.countries {
            let mut ok = true;
            for c in cs.iter() {
                if !is_country(&c.trim().to_ascii_uppercase()) {
                    self.err(
                        c.span,
                        Code::InvalidValue,
                        format!("unknown country code `{}`", c.value),
                        "use ISO 3166-1 alpha-2 codes such as `US`, `DE`",
                    );
                    ok = false;
                }
            }
            if ok {
                r.fields
                    .insert("targeting.countries", Self::set_of_str(cs, |s| s.to_ascii_uppercase()));
            }
        }
        for (f, v) in [
            ("targeting.regions", &*t.regions),
            ("targeting.cities", &*t.cities),
            ("targeting.facebook_positions", &*t.facebook_positions),
            ("targeting.instagram_positions", &*t.instagram_positions),
        ] {
            if let Some(v) = v {
                r.fields.insert(f, Self::set_of_str(v, |s| s.to_string()));
            }
        }
        if let Some(age) = &*t.age {
            for (f, v) in [("targeting.age_min", &*age.min), ("targeting.age_max", &*age.max)] {
                if let Some(v) = v {
                    if !(13..=65).contains(&v.value) {
                        self.err(
                            v.span,
                            Code::Constraint,
                            format!("age must be 13–65, got {}", v.value),
                            "Meta targets ages 13 to 65 (65 = 65+)",
                        );
                    } else {
                        r.fields.insert(f, Value::Int(i64::from(v.value)));
                    }
                }
            }
            if let (Some(a), Some(b)) = (&*age.min, &*age.max) {
                if a.value > b.value {
                    self.err(
                        b.span,
                        Code::Constraint,
                        format!("age max {} is below age min {}", b.value, a.value),
                        "swap them",
                    );
                }
            }
        }
        if let Some(g) = &*t.genders {
            r.fields.insert(
                "targeting.genders",
                Value::Set(g.iter().map(|x| Value::str(x.wire())).collect()),
            );
        }
        if let Some(p) = &*t.publisher_platforms {
            r.fields.insert(
                "targeting.publisher_platforms",
                Value::Set(p.iter().map(|x| Value::str(x.wire())).collect()),
            );
        }
        for (f, v) in [
            ("targeting.custom_audiences", &*t.custom_audiences),
            ("targeting.excluded_custom_audiences", &*t.excluded_custom_audiences),
        ] {
            if let Some(v) = v {
                let mut set = BTreeSet::new();
                for name in v.iter() {
                    if let Some(x) = self.audience_ref(acct, name) {
                        set.insert(x);
                    }
                }
                r.fields.insert(f, Value::Set(set));
            }
        }
    }

    fn meta_ad(&mut self, acct: &Account, set: &Address, ad: MetaAd) {
        if ad.name.trim().is_empty() {
            self.err(ad.name.span, Code::Constraint, "ad name is empty", "give it a name");
            return;
        }
        let addr = set.child(Kind::Ad, ad.name.trim());
        if !self.declare(&addr, ad.name.span, "ad") {
            return;
        }
        let mut r = self.resource(addr, Kind::Ad, ad.name.span, &ad.id, &ad.lifecycle, acct.platform);
        self.status(&ad.status, acct.platform, &mut r);
        let c = &ad.creative;
        if c.page_id.trim().is_empty() || !c.page_id.trim().bytes().all(|b| b.is_ascii_digit()) {
            self.err(
                c.page_id.span,
                Code::InvalidValue,
                format!("invalid page id `{}`", c.page_id.value),
                "a Page id is digits, e.g. \"1122334455\" (quote it)",
            );
        } else {
            r.fields
                .insert("creative.page_id", Value::Str(c.page_id.trim().to_string()));
        }
        if let Some(u) = self.url(&c.link, "creative.link") {
            r.fields.insert("creative.link", u);
        }
        for (f, v, max) in [
            ("creative.message", &*c.message, 2200),
            ("creative.headline", &*c.headline, 255),
            ("creative.description", &*c.description, 255),
        ] {
            if let Some(v) = v {
                if let Some(x) = self.text(v, f, max) {
                    r.fields.insert(f, x);
                }
            }
        }
        match (&*c.image_hash, &*c.image_url) {
            (Some(_), Some(u)) => self.err(
                u.span,
                Code::Constraint,
                "a creative has `image_hash` or `image_url`, not both",
                "remove one",
            ),
            (Some(h), None) => {
                if h.trim().is_empty() || !h.trim().bytes().all(|b| b.is_ascii_alphanumeric()) {
                    self.err(
                        h.span,
                        Code::InvalidValue,
                        format!("invalid image hash `{}`", h.value),
                        "use the hash returned when the image was uploaded",
                    );
                } else {
                    r.fields.insert("creative.image_hash", Value::Str(h.trim().to_string()));
                }
            }
            (None, Some(u)) => {
                if let Some(x) = self.url(u, "creative.image_url") {
                    r.fields.insert("creative.image_url", x);
                }
            }
            _ => {}
        }
        if let Some(cta) = &*c.call_to_action {
            r.fields.insert("creative.call_to_action", Value::str(cta.wire()));
        }
        self.resources.push(r);
    }
}

/// ` (N double-width characters count twice)` when there are any.
fn double_width_note(wide: usize) -> String {
    match wide {
        0 => String::new(),
        1 => " (1 double-width character counts twice)".into(),
        n => format!(" ({n} double-width characters count twice)"),
    }
}

/// `addr` with every name in NFC, when some name is not (no allocation for the usual ASCII or NFC names).
fn addr_nfc(addr: &Address) -> Option<Address> {
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

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
