//! Google Ads: validation and lowering of campaigns (budget, bidding, network), ad groups, keywords, negative keywords and responsive search ads.
//!
//! Methods of the spec's [`Lower`]: they report through it and push the resources they make.

use std::collections::BTreeSet;

use crate::model::{Account, Address, Currency, Kind, Resource, Value};
use crate::spec::de::Spanned;
use crate::spec::error::{did_you_mean, Code};
use crate::spec::lower::*;
use crate::spec::rules;
use crate::spec::types::*;

type S<T> = Spanned<T>;

impl<'a> Lower<'a> {
    pub(crate) fn google_campaign(&mut self, acct: &Account, c: GoogleCampaign, mut r: Resource) {
        let p = acct.platform;
        let cur = acct.currency;
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
                self.not_here(&b.lifetime, "budget.lifetime", p);
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
        if let Some(goals) = &*c.conversion_goals {
            self.conversion_goals(acct, goals, &mut r);
        }
        let channel_name = c.channel.as_ref().map(|x| x.wire());
        self.merchant_link(
            &c.merchant_center_id,
            &c.feed_label,
            channel_name,
            c.name.span,
            adopted,
            &mut r,
        );
        if let Some(pr) = &*c.campaign_priority {
            if c.channel.as_ref().map(|x| x.value) != Some(Channel::Shopping) {
                self.err(
                    pr.span,
                    Code::Constraint,
                    "`campaign_priority` ranks shopping campaigns; this campaign's channel is not `shopping`",
                    "remove it",
                );
            } else if pr.value > 2 {
                self.err(
                    pr.span,
                    Code::InvalidValue,
                    format!("campaign priority {} is out of range", pr.value),
                    "0 (low), 1 (medium) or 2 (high)",
                );
            } else {
                r.fields
                    .insert("shopping.campaign_priority", Value::Int(pr.value.into()));
            }
        }
        if c.channel.as_ref().map(|x| x.value) == Some(Channel::PerformanceMax) {
            self.performance_max_campaign(&c, &r);
        }
        let catalog = super::pmax::CatalogCampaign {
            // (an invalid id is reported where it is written)
            retail: c.merchant_center_id.is_some() || c.merchant_center_id.is_invalid(),
            performance_max: c.channel.as_ref().map(|x| x.value) == Some(Channel::PerformanceMax),
        };
        let addr = r.address.clone();
        self.resources.push(r);
        for g in c.asset_groups.into_iter().filter_map(|i| i.value) {
            self.asset_group(acct, &addr, &catalog, g);
        }
        for n in c.negative_keywords.iter().filter_map(|i| i.value.as_ref()) {
            self.negative_keyword(acct, &addr, n);
        }
        let channel = c.channel.as_ref().map(|x| x.value);
        for g in c.ad_groups.into_iter().filter_map(|i| i.value) {
            self.ad_group(acct, &addr, channel, g);
        }
    }

    /// `conversion_goals:` of a Google campaign: references to conversion actions declared in its own account.
    pub(crate) fn conversion_goals(&mut self, acct: &Account, goals: &[S<String>], r: &mut Resource) {
        let base = Address::account(&acct.name);
        let mut refs = std::collections::BTreeSet::new();
        for g in goals {
            let target = base.child(Kind::Conversion, g.trim());
            if self.declared.contains_key(&target) {
                if !refs.insert(Value::reference(target)) {
                    self.err(
                        g.span,
                        Code::Constraint,
                        format!("conversion `{}` is listed twice", g.value),
                        "list each conversion once",
                    );
                }
                continue;
            }
            let elsewhere = self
                .declared
                .keys()
                .find(|a| a.kind() == Some(Kind::Conversion) && a.path.len() == 1 && a.name() == Some(g.trim()))
                .map(|a| a.account.clone());
            let names = self.names_of(&base, Kind::Conversion);
            let hint = match (elsewhere, did_you_mean(g, names.iter().map(String::as_str))) {
                (Some(other), _) => format!(
                    "`{}` is declared for account `{other}`; a campaign bids only on its own account's conversions",
                    g.value
                ),
                (None, Some(x)) => format!("did you mean `{x}`?"),
                (None, None) => format!("declare it under `conversions:` with `account: {}`", acct.name),
            };
            self.err(
                g.span,
                Code::UnknownReference,
                format!("unknown conversion `{}` in account `{}`", g.value, acct.name),
                hint,
            );
        }
        r.fields.insert("conversion_goals", Value::Set(refs));
    }

    pub(crate) fn bidding(&mut self, b: &S<Bidding>, cur: Currency, r: &mut Resource) {
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

    pub(crate) fn keyword_text(&mut self, t: &S<String>) -> bool {
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
        } else if let Some((msg, hint)) = super::rules::keyword_syntax(t) {
            self.err(t.span, Code::InvalidValue, msg, hint);
            false
        } else {
            true
        }
    }

    pub(crate) fn keyword_key(t: &str, m: MatchType) -> String {
        let text = t.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        format!("{text}:{}", m.wire())
    }

    pub(crate) fn negative_keyword(&mut self, acct: &Account, parent: &Address, n: &NegativeKeyword) {
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

    pub(crate) fn ad_group(&mut self, acct: &Account, campaign: &Address, channel: Option<Channel>, g: AdGroup) {
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

    pub(crate) fn ad_texts(
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

    pub(crate) fn rsa(&mut self, acct: &Account, group: &Address, position: usize, ad: &GoogleAd) {
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
}

impl<'a> Lower<'a> {
    /// A Google Ads conversion action (`conversions:`): its type, category, counting, value, attribution model,
    /// windows and `primary_for_goal`, as `docs/resource-model.md` names them.
    pub(crate) fn google_conversion(&mut self, acct: &Account, c: GoogleConversionAction) {
        let Some(mut r) = self.conversion_resource(acct, &c.name, &c.id, &c.lifecycle) else {
            return;
        };
        r.fields.insert("type", Value::str(c.kind.wire()));
        if let Some(x) = &*c.category {
            r.fields.insert("category", Value::str(x.wire()));
        }
        if let Some(x) = &*c.counting {
            r.fields.insert("counting", Value::str(x.wire()));
        }
        if let Some(x) = &*c.attribution_model {
            r.fields.insert("attribution_model", Value::str(x.wire()));
        }
        if let Some(v) = &*c.value {
            if let Some(d) = &*v.default {
                if let Some(m) = self.amount(d, acct.currency, "value.default") {
                    r.fields.insert("value.default", Value::Money(m));
                }
            }
            if let Some(a) = &*v.always_use_default {
                if a.value && v.default.is_none() {
                    self.err(
                        a.span,
                        Code::MissingField,
                        "`always_use_default` needs a `default` value",
                        "add `default: 25` (in the account currency) or remove `always_use_default`",
                    );
                }
                r.fields.insert("value.always_use_default", Value::Bool(a.value));
            }
        }
        // The v25 protos give no range for either window (reading chosen in docs/spec.md: 1–90 and 1–30 days,
        // the ranges Google Ads offers).
        for (field, w, max) in [
            ("click_through_days", &c.click_through_days, 90u32),
            ("view_through_days", &c.view_through_days, 30),
        ] {
            if let Some(d) = &**w {
                if !(1..=max).contains(&d.value) {
                    self.err(
                        d.span,
                        Code::Constraint,
                        format!("{field} must be 1–{max}, got {}", d.value),
                        format!(
                            "Google Ads counts conversions at most {max} days after the {}",
                            if max == 90 { "click" } else { "impression" }
                        ),
                    );
                } else {
                    r.fields.insert(field, Value::Int(i64::from(d.value)));
                }
            }
        }
        if let Some(p) = &*c.primary_for_goal {
            r.fields.insert("primary_for_goal", Value::Bool(p.value));
        }
        self.resources.push(r);
    }
}
