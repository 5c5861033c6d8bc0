//! LinkedIn: validation and lowering of campaign groups, campaigns and creatives into the resources of
//! `docs/resource-model.md` (LinkedIn table). Methods of the spec's [`Lower`].
//!
//! What LinkedIn requires on a create is required here (a campaign's type, objective, cost type, locale and a
//! location to target; a creative's post), so a plan never sends a create LinkedIn would refuse for a missing
//! field. An object adopted by `id:` may leave them out (they are then unmanaged).

use std::collections::BTreeSet;

use crate::model::{Account, Address, Currency, Kind, Resource, SmallMap, Value};
use crate::spec::de::Spanned;
use crate::spec::error::Code;
use crate::spec::lower::*;
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// LinkedIn's name limit for groups and campaigns (the pack: "recalled 255"), less the ownership marker.
const NAME_MAX: usize = 255 - " [adsctl-managed]".len();

/// The facet every campaign must include (LinkedIn refuses a campaign without a location).
const LOCATIONS: &str = "locations";

/// The facet of matched audiences: written through `audiences:` / `excluded_audiences:`, by name.
const AUDIENCE_FACET: &str = "audience_matching_segments";

impl Lower<'_> {
    fn linkedin_name(&mut self, name: &S<String>, what: &str) -> bool {
        let n = name.trim().chars().count();
        if n > NAME_MAX {
            self.err(
                name.span,
                Code::Constraint,
                format!("a LinkedIn {what} name is at most {NAME_MAX} characters; this one has {n}"),
                "shorten it (LinkedIn allows 255, less adsctl's ownership marker)",
            );
            return false;
        }
        true
    }

    /// `schedule: { start, end }` as `run_schedule.start` / `run_schedule.end` (RFC 3339, UTC).
    fn linkedin_schedule(&mut self, s: &S<LinkedInSchedule>, r: &mut Resource) {
        let mut times = Vec::new();
        for (t, field) in [(&*s.start, "run_schedule.start"), (&*s.end, "run_schedule.end")] {
            let Some(t) = t else { continue };
            match chrono::DateTime::parse_from_rfc3339(t.trim()) {
                Ok(at) => {
                    let utc = at.with_timezone(&chrono::Utc);
                    // LinkedIn keeps milliseconds: finer is refused rather than silently cut
                    if utc.timestamp_subsec_nanos() % 1_000_000 != 0 {
                        self.err(
                            t.span,
                            Code::InvalidValue,
                            "LinkedIn schedules are in whole milliseconds",
                            "drop the digits after the third decimal of the seconds",
                        );
                        continue;
                    }
                    // as the connector reads LinkedIn's epoch milliseconds back, so that the two compare equal
                    if let Some(t) = super::mapping::time_from_ms(utc.timestamp_millis()) {
                        r.fields.insert(field, Value::Str(t));
                    }
                    times.push((t.span, utc));
                }
                Err(_) => self.err(
                    t.span,
                    Code::InvalidValue,
                    format!("`{}` is not an RFC 3339 time", t.value),
                    "write it as \"2026-03-01T00:00:00Z\" (UTC) or with an offset, \"2026-03-01T09:00:00+01:00\"",
                ),
            }
        }
        if let [(_, start), (end_span, end)] = times[..] {
            if end <= start {
                self.err(
                    end_span,
                    Code::Constraint,
                    "the schedule ends before it starts",
                    "make `end` later than `start`",
                );
            }
        }
    }

    /// A budget of `daily` and/or `lifetime` (as allowed) into `budget.daily` / `budget.lifetime`.
    fn linkedin_budget(&mut self, b: &S<CampaignBudget>, cur: Currency, daily_allowed: bool, r: &mut Resource) {
        for (set, field) in [
            (b.shared.is_some(), "shared"),
            (b.delivery_method.is_some(), "delivery_method"),
            (b.daily.is_some() && !daily_allowed, "daily"),
        ] {
            if set {
                self.err(
                    b.span,
                    Code::InvalidValue,
                    format!("`budget.{field}` is not a budget LinkedIn has here"),
                    if daily_allowed {
                        "write `daily` and/or `lifetime`"
                    } else {
                        "a campaign group has a `lifetime` budget; daily budgets are set on its campaigns"
                    },
                );
            }
        }
        let mut daily = None;
        if let (Some(d), true) = (&*b.daily, daily_allowed) {
            daily = self.amount(d, cur, "budget.daily");
            if let Some(m) = daily {
                r.fields.insert("budget.daily", Value::Money(m));
            }
        }
        if let Some(l) = &*b.lifetime {
            if let Some(m) = self.amount(l, cur, "budget.lifetime") {
                if daily.is_some_and(|d| m < d) {
                    self.err(
                        l.span,
                        Code::Constraint,
                        "the lifetime budget is smaller than the daily one",
                        "LinkedIn wants a total budget at least the daily budget",
                    );
                }
                r.fields.insert("budget.lifetime", Value::Money(m));
            }
        }
        if b.daily.is_none() && b.lifetime.is_none() && !b.daily.is_invalid() && !b.lifetime.is_invalid() {
            self.missing(
                b.span,
                if daily_allowed { "daily" } else { "lifetime" },
                "a budget",
                "50",
            );
        }
    }

    pub(crate) fn linkedin_campaign_group(&mut self, acct: &Account, g: LinkedInCampaignGroup, mut r: Resource) {
        self.linkedin_name(&g.name, "campaign group");
        self.status(&g.status, acct.platform, &mut r);
        if let Some(s) = &*g.schedule {
            self.linkedin_schedule(s, &mut r);
        }
        if let Some(b) = &*g.budget {
            self.linkedin_budget(b, acct.currency, false, &mut r);
            if b.lifetime.is_some() && g.schedule.as_ref().is_none_or(|s| s.end.is_none() || s.start.is_none()) {
                self.err(
                    b.span,
                    Code::MissingField,
                    "a campaign group with a lifetime budget needs a schedule with `start` and `end`",
                    "add `schedule: { start: \"2026-03-01T00:00:00Z\", end: \"2026-03-31T23:59:59Z\" }`",
                );
            }
        }
        let addr = r.address.clone();
        self.resources.push(r);
        let campaigns: Vec<LinkedInCampaign> = g.campaigns.into_iter().filter_map(|i| i.value).collect();
        if campaigns.len() > 2000 {
            self.err(
                campaigns[2000].name.span,
                Code::Constraint,
                format!(
                    "a LinkedIn campaign group holds at most 2,000 campaigns; this one lists {}",
                    campaigns.len()
                ),
                "split them over more campaign groups",
            );
        }
        for c in campaigns {
            self.linkedin_campaign(acct, &addr, c);
        }
    }

    fn linkedin_campaign(&mut self, acct: &Account, group: &Address, c: LinkedInCampaign) {
        if c.name.trim().is_empty() {
            self.err(
                c.name.span,
                Code::Constraint,
                "campaign name is empty",
                "give it a name",
            );
            return;
        }
        let addr = group.child(Kind::Campaign, c.name.trim());
        if !self.declare(&addr, c.name.span, "campaign") {
            return;
        }
        self.linkedin_name(&c.name, "campaign");
        let mut r = self.resource(
            addr.clone(),
            Kind::Campaign,
            c.name.span,
            &c.id,
            &c.lifecycle,
            acct.platform,
        );
        let adopted = c.id.is_some();
        self.status(&c.status, acct.platform, &mut r);
        let required: [(bool, &str, &str); 5] = [
            (c.kind.is_some() || c.kind.is_invalid(), "type", "sponsored_updates"),
            (
                c.objective.is_some() || c.objective.is_invalid(),
                "objective",
                "website_visit",
            ),
            (c.cost_type.is_some() || c.cost_type.is_invalid(), "cost_type", "cpc"),
            (
                c.locale.is_some() || c.locale.is_invalid(),
                "locale",
                "{ country: US, language: en }",
            ),
            (
                c.targeting.is_some() || c.targeting.is_invalid(),
                "targeting",
                "{ include: [{ locations: [\"urn:li:geo:103644278\"] }] }",
            ),
        ];
        for (present, field, example) in required {
            if !present && !adopted {
                self.missing(c.name.span, field, "a LinkedIn campaign", example);
            }
        }
        if let Some(k) = &*c.kind {
            r.fields.insert("type", Value::str(k.wire()));
        }
        if let Some(o) = &*c.objective {
            r.fields.insert("objective_type", Value::str(o.wire()));
        }
        if let Some(f) = &*c.format {
            r.fields.insert("format", Value::str(f.wire()));
        }
        if let Some(t) = &*c.cost_type {
            r.fields.insert("cost_type", Value::str(t.wire()));
        }
        if let Some(b) = &*c.bid {
            if let Some(m) = self.amount(b, acct.currency, "bid") {
                r.fields.insert("unit_cost", Value::Money(m));
            }
        }
        if let Some(o) = &*c.optimization_target {
            r.fields.insert("optimization_target_type", Value::str(o.wire()));
            let manual = o.value == LinkedInOptimizationTarget::None;
            let needs_bid = manual || o.wire().starts_with("target_") || o.wire().starts_with("cap_");
            if needs_bid && c.bid.is_none() && !c.bid.is_invalid() && !adopted {
                self.err(
                    o.span,
                    Code::MissingField,
                    format!("`optimization_target: {}` needs a `bid`", o.wire()),
                    "add `bid: 8.00` (in the account currency), or let LinkedIn bid with `max_click`",
                );
            }
        }
        match &*c.budget {
            Some(b) => self.linkedin_budget(b, acct.currency, true, &mut r),
            None if !adopted && !c.budget.is_invalid() => {
                self.missing(c.name.span, "budget", "a LinkedIn campaign", "{ daily: 100 }")
            }
            None => {}
        }
        if let Some(s) = &*c.schedule {
            self.linkedin_schedule(s, &mut r);
        }
        if let (Some(b), Some(s)) = (&*c.budget, &*c.schedule) {
            if b.lifetime.is_some() && b.daily.is_none() && s.end.is_none() {
                self.err(
                    b.span,
                    Code::MissingField,
                    "a campaign with only a lifetime budget needs an end: `schedule: { end: … }`",
                    "add `schedule: { end: \"2026-06-30T23:59:59Z\" }`",
                );
            }
        }
        if let Some(l) = &*c.locale {
            let country = l.country.trim();
            if country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphabetic()) {
                r.fields
                    .insert("locale.country", Value::Str(country.to_ascii_uppercase()));
            } else {
                self.err(
                    l.country.span,
                    Code::InvalidValue,
                    format!("`{}` is not an ISO 3166 country code", l.country.value),
                    "two letters, e.g. `US`",
                );
            }
            let language = l.language.trim();
            if language.len() == 2 && language.bytes().all(|b| b.is_ascii_alphabetic()) {
                r.fields
                    .insert("locale.language", Value::Str(language.to_ascii_lowercase()));
            } else {
                self.err(
                    l.language.span,
                    Code::InvalidValue,
                    format!("`{}` is not an ISO 639-1 language code", l.language.value),
                    "two letters, e.g. `en`",
                );
            }
        }
        if let Some(t) = &*c.targeting {
            self.linkedin_targeting(acct, t, &mut r);
        }
        for (v, field) in [
            (&*c.audience_expansion, "audience_expansion_enabled"),
            (&*c.offsite_delivery, "offsite_delivery_enabled"),
        ] {
            if let Some(b) = v {
                r.fields.insert(field, Value::Bool(b.value));
            }
        }
        if let Some(s) = &*c.creative_selection {
            r.fields.insert("creative_selection", Value::str(s.wire()));
        }
        let creatives: Vec<LinkedInCreative> = c.creatives.into_iter().filter_map(|i| i.value).collect();
        if creatives.len() > 100 {
            self.err(
                creatives[100].name.span,
                Code::Constraint,
                format!(
                    "a LinkedIn campaign holds at most 100 creatives; this one lists {}",
                    creatives.len()
                ),
                "split them over more campaigns",
            );
        }
        let active: Vec<&LinkedInCreative> = creatives
            .iter()
            .filter(|x| x.status.as_ref().is_none_or(|s| s.value != Status::Paused))
            .collect();
        if active.len() > 15 {
            self.err(
                active[15].name.span,
                Code::Constraint,
                format!(
                    "a LinkedIn campaign runs at most 15 active creatives; this one has {}",
                    active.len()
                ),
                "pause some (`status: paused`) or move them to another campaign",
            );
        }
        self.resources.push(r);
        for x in creatives {
            self.linkedin_creative(acct, &addr, x);
        }
    }

    /// One `or` clause: facet → URNs, as a map of sets.
    fn linkedin_clause(&mut self, m: &Clause, span: crate::spec::yaml::Span) -> Option<SmallMap> {
        let mut out = SmallMap::default();
        for (facet, values) in &m.entries {
            let name = facet.trim();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                self.err(
                    facet.span,
                    Code::InvalidValue,
                    format!("`{}` is not a targeting facet as adsctl writes them", facet.value),
                    "write LinkedIn's facet in snake case: `locations`, `interface_locales`, `titles`, `seniorities`, …",
                );
                continue;
            }
            if name == AUDIENCE_FACET {
                self.err(
                    facet.span,
                    Code::InvalidValue,
                    "matched audiences are written by name",
                    "use `audiences: [<name>]` (or `excluded_audiences:`) in the targeting",
                );
                continue;
            }
            let Some(values) = &values.value else { continue };
            if values.is_empty() {
                self.err(
                    facet.span,
                    Code::Constraint,
                    format!("`{name}` lists no value"),
                    "list at least one URN, or remove the facet",
                );
                continue;
            }
            let mut set = BTreeSet::new();
            for v in values {
                let t = v.trim();
                if !t.starts_with("urn:li:") || t.len() <= "urn:li:".len() || t.chars().any(char::is_whitespace) {
                    self.err(
                        v.span,
                        Code::InvalidValue,
                        format!("`{}` is not a LinkedIn URN", v.value),
                        "facet values are URNs, e.g. `urn:li:geo:103644278`",
                    );
                    continue;
                }
                set.insert(Value::Str(t.to_string()));
            }
            out.insert(name, Value::Set(set));
        }
        if out.is_empty() {
            self.err(
                span,
                Code::Constraint,
                "this targeting clause is empty",
                "give it a facet and its values",
            );
            return None;
        }
        Some(out)
    }

    fn linkedin_targeting(&mut self, acct: &Account, t: &S<LinkedInTargeting>, r: &mut Resource) {
        let mut has_location = false;
        if let Some(inc) = &*t.include {
            let mut clauses = Vec::new();
            for item in inc.iter() {
                if let Some(c) = self.linkedin_clause(item, item.span) {
                    has_location |= c.get(LOCATIONS).is_some();
                    clauses.push(Value::Map(c));
                }
            }
            r.fields.insert("targeting.include", Value::List(clauses));
        }
        if !has_location && !t.include.is_invalid() {
            self.err(
                t.span,
                Code::MissingField,
                "LinkedIn targeting needs a location",
                "add `include: [{ locations: [\"urn:li:geo:103644278\"] }]` (the United States)",
            );
        }
        if let Some(exc) = &*t.exclude {
            if let Some(c) = self.linkedin_clause(exc, exc.span) {
                r.fields.insert("targeting.exclude", Value::Map(c));
            }
        }
        for (f, v) in [
            ("targeting.audiences", &*t.audiences),
            ("targeting.excluded_audiences", &*t.excluded_audiences),
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
        if let (Some(inc), Some(exc)) = (&*t.audiences, &*t.excluded_audiences) {
            for x in exc.iter() {
                if inc.iter().any(|i| i.trim() == x.trim()) {
                    self.err(
                        x.span,
                        Code::Constraint,
                        format!("`{}` is both targeted and excluded", x.value),
                        "remove it from `audiences` or from `excluded_audiences`",
                    );
                }
            }
        }
    }

    fn linkedin_creative(&mut self, acct: &Account, campaign: &Address, x: LinkedInCreative) {
        if x.name.trim().is_empty() {
            self.err(
                x.name.span,
                Code::Constraint,
                "creative name is empty",
                "give it a name",
            );
            return;
        }
        let addr = campaign.child(Kind::Creative, x.name.trim());
        if !self.declare(&addr, x.name.span, "creative") {
            return;
        }
        self.linkedin_name(&x.name, "creative");
        let mut r = self.resource(addr, Kind::Creative, x.name.span, &x.id, &x.lifecycle, acct.platform);
        let adopted = x.id.is_some();
        self.status(&x.status, acct.platform, &mut r);
        match &*x.post {
            Some(p) => {
                let t = p.trim();
                if t.starts_with("urn:li:") && !t.chars().any(char::is_whitespace) {
                    r.fields.insert("content.reference", Value::Str(t.to_string()));
                } else {
                    self.err(
                        p.span,
                        Code::InvalidValue,
                        format!("`{}` is not a post URN", p.value),
                        "the post's URN, e.g. `urn:li:share:7000000000000000001` or `urn:li:ugcPost:…`",
                    );
                }
            }
            None if !adopted && !x.post.is_invalid() => self.missing(
                x.name.span,
                "post",
                "a LinkedIn creative",
                "\"urn:li:share:7000000000000000001\"",
            ),
            None => {}
        }
        if let Some(f) = &*x.lead_form {
            let d = f.destination.trim();
            if d.starts_with("urn:li:") {
                r.fields
                    .insert("leadgen_call_to_action.destination", Value::Str(d.to_string()));
            } else {
                self.err(
                    f.destination.span,
                    Code::InvalidValue,
                    format!("`{}` is not a lead form URN", f.destination.value),
                    "the form's URN, e.g. `urn:li:adForm:123`",
                );
            }
            r.fields
                .insert("leadgen_call_to_action.label", Value::str(f.label.wire()));
        }
        self.resources.push(r);
    }
}
