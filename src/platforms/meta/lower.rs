//! Meta: validation and lowering of campaigns, ad sets (budgets, bidding, targeting) and ads with their creatives.
//!
//! Methods of the spec's [`Lower`]: they report through it and push the resources they make.

use std::collections::BTreeSet;

use crate::model::{Account, Address, Currency, Kind, Resource, Value};
use crate::spec::de::Spanned;
use crate::spec::error::{did_you_mean, Code};
use crate::spec::lower::*;
use crate::spec::types::*;

type S<T> = Spanned<T>;

impl<'a> Lower<'a> {
    pub(crate) fn meta_budget(&mut self, b: &S<CampaignBudget>, cur: Currency, r: &mut Resource) {
        if let Some(s) = &*b.shared {
            self.err(
                s.span,
                Code::InvalidValue,
                format!(
                    "shared budgets are a {} feature",
                    crate::platforms::owner_of_campaign_field("budget.shared")
                ),
                "use `daily` or `lifetime`",
            );
        }
        if let Some(d) = &*b.delivery_method {
            self.err(
                d.span,
                Code::InvalidValue,
                format!(
                    "`delivery_method` is {} field",
                    crate::platforms::with_article(crate::platforms::owner_of_campaign_field("budget.delivery_method"))
                ),
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

    pub(crate) fn meta_campaign(&mut self, acct: &Account, c: MetaCampaign, mut r: Resource) {
        let p = acct.platform;
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
        let objective = c.objective.as_ref().map(|o| o.wire());
        self.meta_campaign_catalog(acct, &c.catalog, objective, &mut r);
        let addr = r.address.clone();
        let cbo = c.budget.is_some();
        let bid_strategy = c.bid_strategy.as_ref().map(|b| b.value);
        self.resources.push(r);
        for s in c.ad_sets.into_iter().filter_map(|i| i.value) {
            self.ad_set(acct, &addr, cbo, adopted, bid_strategy, s);
        }
    }

    pub(crate) fn ad_set(
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
        if let Some(po) = &*s.promoted_object {
            let pixel = po.pixel_id.trim();
            if pixel.is_empty() || !pixel.bytes().all(|b| b.is_ascii_digit()) {
                self.err(
                    po.pixel_id.span,
                    Code::InvalidValue,
                    format!("invalid pixel id `{}`", po.pixel_id.value),
                    "a Meta pixel id is digits, e.g. `\"123456789012345\"` (Events Manager → Data sources)",
                );
            } else {
                let mut m: std::collections::BTreeMap<String, Value> = [
                    ("pixel_id".to_string(), Value::str(pixel)),
                    ("custom_event_type".to_string(), Value::str(po.event.wire())),
                ]
                .into();
                let cc = po
                    .custom_conversion
                    .as_ref()
                    .map(|n| self.custom_conversion_ref(acct, n));
                if let Some(Some(x)) = cc {
                    m.insert("custom_conversion".to_string(), x);
                }
                r.fields.insert("promoted_object", Value::Map(m.into_iter().collect()));
            }
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
            let problems = super::rules::targeting(t, |v| self.sources.key_of(v));
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
        self.meta_ad_set_product_set(acct, campaign, &s.name, &s.product_set, &mut r);
        self.resources.push(r);
        for ad in s.ads.into_iter().filter_map(|i| i.value) {
            self.meta_ad(acct, &addr, ad);
        }
    }

    pub(crate) fn targeting(&mut self, acct: &Account, t: &S<Targeting>, r: &mut Resource) {
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

    pub(crate) fn meta_ad(&mut self, acct: &Account, set: &Address, ad: MetaAd) {
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
        self.meta_dynamic_creative(acct, set, c, &mut r);
        self.resources.push(r);
    }
}

impl Lower<'_> {
    /// A Meta custom conversion (`custom_conversions:`): its pixel, rule, event type, default value and
    /// description, as `docs/resource-model.md` names them.
    pub(crate) fn meta_custom_conversion(&mut self, acct: &Account, c: MetaCustomConversion) {
        let Some(mut r) = self.account_resource(
            acct,
            Kind::CustomConversion,
            "custom conversion",
            &c.name,
            &c.id,
            &c.lifecycle,
        ) else {
            return;
        };
        let pixel = c.pixel_id.trim();
        if pixel.is_empty() || !pixel.bytes().all(|b| b.is_ascii_digit()) {
            self.err(
                c.pixel_id.span,
                Code::InvalidValue,
                format!("invalid pixel id `{}`", c.pixel_id.value),
                "a Meta pixel id is digits, e.g. `\"123456789012345\"` (Events Manager → Data sources)",
            );
        } else {
            r.fields.insert("pixel_id", Value::str(pixel));
        }
        match super::rules::custom_conversion_rule(&c.rule) {
            Ok(rule) => {
                r.fields.insert("rule", Value::Str(rule.to_string()));
            }
            Err(e) => self.err(
                c.rule.span,
                Code::InvalidValue,
                format!("invalid custom conversion rule: {e}"),
                "write it as Meta's rule, e.g. `{ url: { i_contains: thank-you } }`",
            ),
        }
        let event = c.event_type.as_ref().map_or("other", |e| e.wire());
        r.fields.insert("event_type", Value::str(event));
        if let Some(v) = &*c.default_conversion_value {
            if let Some(m) = self.amount(v, acct.currency, "default_conversion_value") {
                if m.micros() % 1_000_000 != 0 {
                    self.err(
                        v.span,
                        Code::InvalidValue,
                        format!("`{}`: a custom conversion's default value is in whole units", v.0),
                        format!(
                            "Meta reads default_conversion_value back as a whole number: write `{}`",
                            m.micros() / 1_000_000
                        ),
                    );
                } else {
                    r.fields.insert("default_conversion_value", Value::Money(m));
                }
            }
        }
        if let Some(d) = &*c.description {
            if let Some(x) = self.text(d, "description", 1000) {
                r.fields.insert("description", x);
            }
        }
        self.resources.push(r);
    }

    /// `custom_conversion:` of an ad set's promoted object: a custom conversion declared in the same account.
    pub(crate) fn custom_conversion_ref(&mut self, acct: &Account, name: &S<String>) -> Option<Value> {
        let base = Address::account(&acct.name);
        let target = base.child(Kind::CustomConversion, name.trim());
        if self.declared.contains_key(&target) {
            return Some(Value::reference(target));
        }
        let names = self.names_of(&base, Kind::CustomConversion);
        let hint = match did_you_mean(name, names.iter().map(String::as_str)) {
            Some(x) => format!("did you mean `{x}`?"),
            None => format!("declare it under `custom_conversions:` with `account: {}`", acct.name),
        };
        self.err(
            name.span,
            Code::UnknownReference,
            format!("unknown custom conversion `{}` in account `{}`", name.value, acct.name),
            hint,
        );
        None
    }
}
