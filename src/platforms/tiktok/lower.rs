//! TikTok: validation and lowering of campaigns, ad groups and ads into the resources of
//! `docs/resource-model.md` (TikTok table). Methods of the spec's [`Lower`].
//!
//! TikTok needs some settings on every create that the YAML may leave out; the lowering writes TikTok's own
//! defaults for them, so they are managed like any written field: a campaign without a budget is
//! `budget_mode_infinite`; an ad group without placements is `placement_type_automatic`, without a bid
//! `bid_type_no_bid`, without pacing `pacing_mode_smooth`, without a schedule `schedule_from_now` (the connector
//! sends the start as the time of the create). An ad group needs its own budget unless its campaign optimises
//! its budget (`budget_optimization`).

use std::collections::BTreeSet;

use crate::model::{Account, Address, Currency, Kind, Resource, Value};
use crate::spec::de::Spanned;
use crate::spec::error::Code;
use crate::spec::lower::*;
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// The optimisation goals a campaign with budget optimisation takes (`optimization_goal` of TikTok's campaign
/// create: CONVERT, INSTALL, VALUE, IN_APP_EVENT, LEAD_GENERATION); any other is refused there (40002).
const CBO_GOALS: [TikTokOptimizationGoal; 5] = [
    TikTokOptimizationGoal::Convert,
    TikTokOptimizationGoal::Install,
    TikTokOptimizationGoal::Value,
    TikTokOptimizationGoal::InAppEvent,
    TikTokOptimizationGoal::LeadGeneration,
];

/// TikTok's name limit (CJK characters count double), less the ownership marker the connector appends.
const NAME_MAX: usize = 512 - " [adsctl-managed]".len();

impl Lower<'_> {
    fn tiktok_name(&mut self, name: &S<String>, what: &str) -> bool {
        if super::mapping::name_length(name.trim()) > NAME_MAX {
            self.err(
                name.span,
                Code::Constraint,
                format!("a TikTok {what} name is at most {NAME_MAX} characters (CJK characters count double)"),
                "shorten it (TikTok allows 512, less adsctl's ownership marker)",
            );
            return false;
        }
        true
    }

    /// `budget: { daily | lifetime }` as `budget_mode` and `budget.daily` or `budget.lifetime`; none:
    /// `budget_mode_infinite`.
    fn tiktok_budget(&mut self, b: Option<&S<CampaignBudget>>, cur: Currency, r: &mut Resource) {
        let Some(b) = b else {
            r.fields.insert("budget_mode", Value::str("budget_mode_infinite"));
            return;
        };
        for (set, field) in [
            (b.shared.is_some(), "shared"),
            (b.delivery_method.is_some(), "delivery_method"),
        ] {
            if set {
                self.err(
                    b.span,
                    Code::InvalidValue,
                    format!("`budget.{field}` is not a TikTok budget field"),
                    "write `daily` or `lifetime`",
                );
            }
        }
        let (mode, field, amount) = match (&*b.daily, &*b.lifetime) {
            (Some(_), Some(l)) => {
                self.err(
                    l.span,
                    Code::Constraint,
                    "a budget is either `daily` or `lifetime`",
                    "keep one of them",
                );
                return;
            }
            (Some(d), None) => ("budget_mode_day", "budget.daily", d),
            (None, Some(l)) => ("budget_mode_total", "budget.lifetime", l),
            (None, None) => {
                self.missing(b.span, "daily", "a budget", "50");
                return;
            }
        };
        r.fields.insert("budget_mode", Value::str(mode));
        if let Some(m) = self.amount(amount, cur, field) {
            r.fields.insert(field, Value::Money(m));
        }
    }

    pub(crate) fn tiktok_campaign(&mut self, acct: &Account, c: TikTokCampaign, mut r: Resource) {
        let p = acct.platform;
        let adopted = c.id.is_some();
        self.tiktok_name(&c.name, "campaign");
        self.status(&c.status, p, &mut r);
        match &*c.objective {
            Some(o) => {
                r.fields.insert("objective_type", Value::str(o.wire()));
            }
            None if !adopted && !c.objective.is_invalid() => {
                self.missing(c.name.span, "objective", "a TikTok campaign", "traffic")
            }
            None => {}
        }
        if !(adopted && c.budget.is_none()) {
            self.tiktok_budget(c.budget.as_ref(), acct.currency, &mut r);
        }
        let cbo = c.budget_optimization.as_ref().is_some_and(|b| b.value);
        if let Some(b) = &*c.budget_optimization {
            r.fields.insert("budget_optimize_on", Value::Bool(b.value));
            if b.value && c.budget.as_ref().is_none_or(|x| x.daily.is_none()) {
                self.err(
                    b.span,
                    Code::Constraint,
                    "campaign budget optimisation needs a daily campaign budget",
                    "add `budget: { daily: 50 }`, or remove `budget_optimization`",
                );
            }
        }
        if let Some(s) = &*c.special_industries {
            r.fields.insert(
                "special_industries",
                Value::Set(s.iter().map(|x| Value::str(x.wire())).collect()),
            );
        }
        let addr = r.address.clone();
        self.resources.push(r);
        // A new campaign with budget optimisation is created with its ad groups' optimisation goal (the connector's
        // hand-over), which TikTok takes there only if it is a conversion goal.
        let cbo_create = cbo && !adopted;
        for g in c.ad_groups.into_iter().filter_map(|i| i.value) {
            self.tiktok_ad_group(acct, &addr, cbo, cbo_create, g);
        }
    }

    /// `cbo_create`: the campaign is created here with budget optimisation, and takes this ad group's goal.
    fn tiktok_ad_group(&mut self, acct: &Account, campaign: &Address, cbo: bool, cbo_create: bool, g: TikTokAdGroup) {
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
        self.tiktok_name(&g.name, "ad group");
        let mut r = self.resource(
            addr.clone(),
            Kind::AdGroup,
            g.name.span,
            &g.id,
            &g.lifecycle,
            acct.platform,
        );
        let adopted = g.id.is_some();
        self.status(&g.status, acct.platform, &mut r);
        match &*g.placements {
            Some(p) if p.is_empty() => self.err(
                p.span,
                Code::Constraint,
                "`placements` is empty",
                "list where the ads show (`[tiktok]`), or leave it out for automatic placement",
            ),
            Some(p) => {
                r.fields.insert("placement_type", Value::str("placement_type_normal"));
                r.fields.insert(
                    "placements",
                    Value::Set(p.iter().map(|x| Value::str(x.wire())).collect()),
                );
            }
            None if !adopted => {
                r.fields
                    .insert("placement_type", Value::str("placement_type_automatic"));
            }
            None => {}
        }
        match &*g.targeting {
            Some(t) => self.tiktok_targeting(acct, t, &mut r, adopted),
            None if !adopted && !g.targeting.is_invalid() => self.missing(
                g.name.span,
                "targeting",
                "a TikTok ad group",
                "{ locations: [\"6252001\"] }",
            ),
            None => {}
        }
        match &*g.schedule {
            Some(s) => {
                if let Some(t) = &*s.start {
                    self.tiktok_time(t, "schedule_start_time", &mut r);
                }
                match &*s.end {
                    Some(t) => {
                        self.tiktok_time(t, "schedule_end_time", &mut r);
                        r.fields.insert("schedule_type", Value::str("schedule_start_end"));
                    }
                    None => {
                        r.fields.insert("schedule_type", Value::str("schedule_from_now"));
                    }
                }
            }
            None if !adopted => {
                r.fields.insert("schedule_type", Value::str("schedule_from_now"));
            }
            None => {}
        }
        for (present, field, example) in [
            (
                g.optimization_goal.is_some() || g.optimization_goal.is_invalid(),
                "optimization_goal",
                "click",
            ),
            (
                g.billing_event.is_some() || g.billing_event.is_invalid(),
                "billing_event",
                "cpc",
            ),
        ] {
            if !present && !adopted {
                self.missing(g.name.span, field, "a TikTok ad group", example);
            }
        }
        if let Some(o) = &*g.optimization_goal {
            r.fields.insert("optimization_goal", Value::str(o.wire()));
            if cbo_create && !CBO_GOALS.contains(&o.value) {
                self.err(
                    o.span,
                    Code::Constraint,
                    format!(
                        "a campaign with `budget_optimization` is created with its ad groups' optimisation goal, \
                         and TikTok takes only a conversion goal there, not `{}`",
                        o.wire()
                    ),
                    "use convert, install, value, in_app_event or lead_generation, or set \
                     `budget_optimization: false` and give each ad group a budget",
                );
            }
        }
        if let Some(b) = &*g.billing_event {
            r.fields.insert("billing_event", Value::str(b.wire()));
        }
        match &*g.bid {
            Some(b) => {
                r.fields.insert("bid_type", Value::str("bid_type_custom"));
                if let Some(m) = self.amount(b, acct.currency, "bid") {
                    r.fields.insert("bid_price", Value::Money(m));
                }
            }
            None if !adopted => {
                r.fields.insert("bid_type", Value::str("bid_type_no_bid"));
            }
            None => {}
        }
        match &*g.pacing {
            Some(p) => {
                r.fields.insert("pacing", Value::str(p.wire()));
            }
            None if !adopted && !cbo => {
                r.fields.insert("pacing", Value::str("pacing_mode_smooth"));
            }
            None => {}
        }
        // Without campaign budget optimisation the ad group spends its own budget (a campaign budget is a cap
        // over them); with it, the campaign's budget is spread and an ad group's would be ignored.
        match &*g.budget {
            Some(b) if cbo => self.err(
                b.span,
                Code::Constraint,
                "the campaign optimises its budget over its ad groups (`budget_optimization`), so they have none",
                "remove the ad group budget, or `budget_optimization` on the campaign",
            ),
            Some(_) => self.tiktok_budget(g.budget.as_ref(), acct.currency, &mut r),
            None if !cbo && !adopted && !g.budget.is_invalid() => self.missing(
                g.name.span,
                "budget",
                "a TikTok ad group (unless its campaign has `budget_optimization`)",
                "{ daily: 20 }",
            ),
            None => {}
        }
        if let (Some(b), Some(s)) = (&*g.budget, &*g.schedule) {
            if b.lifetime.is_some() && s.end.is_none() {
                self.err(
                    b.span,
                    Code::MissingField,
                    "a lifetime budget needs an end: `schedule: { end: … }`",
                    "add `schedule: { end: \"2026-06-30 23:59:59\" }`",
                );
            }
        }
        let ads: Vec<TikTokAd> = g.ads.into_iter().filter_map(|i| i.value).collect();
        if ads.len() > 20 {
            self.err(
                ads[20].name.span,
                Code::Constraint,
                format!("a TikTok ad group holds at most 20 ads; this one lists {}", ads.len()),
                "split the ads over more ad groups",
            );
        }
        self.resources.push(r);
        for ad in ads {
            self.tiktok_ad(acct, &addr, ad);
        }
    }

    fn tiktok_time(&mut self, t: &S<String>, field: &str, r: &mut Resource) {
        let ok = chrono::NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%d %H:%M:%S").is_ok();
        if ok {
            r.fields.insert(field, Value::Str(t.trim().to_string()));
        } else {
            self.err(
                t.span,
                Code::InvalidValue,
                format!("`{}` is not a time as TikTok writes it", t.value),
                "write `YYYY-MM-DD HH:MM:SS` in UTC, e.g. \"2026-03-01 00:00:00\"",
            );
        }
    }

    fn tiktok_targeting(&mut self, acct: &Account, t: &S<TikTokTargeting>, r: &mut Resource, adopted: bool) {
        let strings = |v: &[S<String>]| Value::Set(v.iter().map(|x| Value::Str(x.trim().to_string())).collect());
        match &*t.locations {
            Some(l) if l.is_empty() => self.err(
                l.span,
                Code::Constraint,
                "`locations` is empty",
                "list at least one location id, e.g. `[\"6252001\"]`",
            ),
            Some(l) => {
                for x in l.iter() {
                    if x.trim().is_empty() || !x.trim().bytes().all(|b| b.is_ascii_digit()) {
                        self.err(
                            x.span,
                            Code::InvalidValue,
                            format!("`{}` is not a TikTok location id", x.value),
                            "location ids are digits, e.g. \"6252001\" (the United States)",
                        );
                    }
                }
                r.fields.insert("targeting.location_ids", strings(l));
            }
            None if !adopted && !t.locations.is_invalid() => {
                self.missing(t.span, "locations", "TikTok targeting", "[\"6252001\"]")
            }
            None => {}
        }
        if let Some(a) = &*t.age_groups {
            r.fields.insert(
                "targeting.age_groups",
                Value::Set(a.iter().map(|x| Value::str(x.wire())).collect()),
            );
        }
        if let Some(g) = &*t.gender {
            r.fields.insert("targeting.gender", Value::str(g.wire()));
        }
        if let Some(l) = &*t.languages {
            r.fields.insert("targeting.languages", strings(l));
        }
        if let Some(i) = &*t.interests {
            r.fields.insert("targeting.interest_category_ids", strings(i));
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

    fn tiktok_ad(&mut self, acct: &Account, group: &Address, ad: TikTokAd) {
        if ad.name.trim().is_empty() {
            self.err(ad.name.span, Code::Constraint, "ad name is empty", "give it a name");
            return;
        }
        let addr = group.child(Kind::Ad, ad.name.trim());
        if !self.declare(&addr, ad.name.span, "ad") {
            return;
        }
        self.tiktok_name(&ad.name, "ad");
        let mut r = self.resource(addr, Kind::Ad, ad.name.span, &ad.id, &ad.lifecycle, acct.platform);
        let adopted = ad.id.is_some();
        self.status(&ad.status, acct.platform, &mut r);
        match &*ad.format {
            Some(f) => {
                r.fields.insert("ad_format", Value::str(f.wire()));
                let needs = match f.value {
                    AdFormat::SingleVideo if ad.video_id.is_none() => Some(("video_id", "\"v10033g50000…\"")),
                    AdFormat::SingleImage if ad.image_ids.is_none() => Some(("image_ids", "[\"ad-site-i18n-sg/…\"]")),
                    _ => None,
                };
                if let Some((field, example)) = needs {
                    if !adopted {
                        self.missing(ad.name.span, field, &format!("a {} ad", f.wire()), example);
                    }
                }
            }
            None if !adopted && !ad.format.is_invalid() => {
                self.missing(ad.name.span, "format", "a TikTok ad", "single_video")
            }
            None => {}
        }
        match &*ad.text {
            Some(t) => {
                let n = t.trim().chars().count();
                if !(1..=100).contains(&n) {
                    self.err(
                        t.span,
                        Code::Constraint,
                        format!("a TikTok ad text is 1–100 characters; this one has {n}"),
                        "shorten it",
                    );
                }
                r.fields.insert("ad_text", Value::Str(t.trim().to_string()));
            }
            None if !adopted && !ad.text.is_invalid() => self.missing(ad.name.span, "text", "a TikTok ad", "\"…\""),
            None => {}
        }
        if let Some(c) = &*ad.call_to_action {
            r.fields.insert("call_to_action", Value::str(c.wire()));
        }
        if let Some(u) = &*ad.landing_page_url {
            if let Some(v) = self.url(u, "landing_page_url") {
                r.fields.insert("landing_page_url", v);
            }
        }
        if let Some(d) = &*ad.display_name {
            let n = d.trim().chars().count();
            if !(1..=40).contains(&n) {
                self.err(
                    d.span,
                    Code::Constraint,
                    format!("a TikTok display name is 1–40 characters; this one has {n}"),
                    "shorten it",
                );
            }
            r.fields.insert("display_name", Value::Str(d.trim().to_string()));
        }
        match &*ad.identity {
            Some(i) => {
                r.fields.insert("identity_type", Value::str(i.kind.wire()));
                r.fields.insert("identity_id", Value::Str(i.id.trim().to_string()));
            }
            None if !adopted && !ad.identity.is_invalid() => self.missing(
                ad.name.span,
                "identity",
                "a TikTok ad",
                "{ type: customized_user, id: \"…\" }",
            ),
            None => {}
        }
        if let Some(v) = &*ad.video_id {
            r.fields.insert("video_id", Value::Str(v.trim().to_string()));
        }
        if let Some(i) = &*ad.image_ids {
            r.fields.insert(
                "image_ids",
                Value::List(i.iter().map(|x| Value::Str(x.trim().to_string())).collect()),
            );
        }
        self.resources.push(r);
    }

    pub(crate) fn tiktok_lookalike(&mut self, acct: &Account, l: TikTokLookalikeAudience) {
        let Some(mut r) = self.lookalike_resource(acct, &l.name, &l.id, &l.lifecycle) else {
            return;
        };
        self.tiktok_name(&l.name, "lookalike audience");
        self.lookalike_origin(acct, &l.origin, &mut r);
        r.fields.insert("audience_size", Value::str(l.audience_size.wire()));
        if l.location_ids.is_empty() {
            self.err(
                l.location_ids.span,
                Code::Constraint,
                "`location_ids` is empty",
                "list at least one location id, e.g. `[\"6252001\"]`",
            );
        }
        let mut set = BTreeSet::new();
        for x in l.location_ids.iter() {
            if x.trim().is_empty() || !x.trim().bytes().all(|b| b.is_ascii_digit()) {
                self.err(
                    x.span,
                    Code::InvalidValue,
                    format!("`{}` is not a TikTok location id", x.value),
                    "location ids are digits, e.g. \"6252001\" (the United States)",
                );
            } else {
                set.insert(Value::Str(x.trim().to_string()));
            }
        }
        r.fields.insert("location_ids", Value::Set(set));
        if let Some(b) = &*l.include_source {
            r.fields.insert("include_source", Value::Bool(b.value));
        }
        self.resources.push(r);
    }
}

#[cfg(test)]
mod tests {
    /// The project in `files` (name, text) loaded: its errors' messages, or none.
    fn errors(files: &[(&str, &str)]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        match crate::spec::load(dir.path()) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(|e| e.message.clone()).collect(),
        }
    }

    const ACCOUNTS: &str = "accounts:\n  tok:\n    platform: tiktok\n    advertiser_id: \"5678\"\n    currency: USD\n";

    fn campaign(goal: &str) -> String {
        format!(
            "campaigns:\n  - name: CBO\n    account: tok\n    objective: web_conversions\n    \
             budget: {{ daily: 100 }}\n    budget_optimization: true\n    ad_groups:\n      - name: US\n        \
             targeting: {{ locations: [\"6252001\"] }}\n        optimization_goal: {goal}\n        \
             billing_event: ocpm\n"
        )
    }

    /// TikTok refuses a budget-optimised campaign's create with a goal other than a conversion goal: `validate`
    /// says so at the goal instead of the apply failing.
    #[test]
    fn a_budget_optimised_campaign_takes_a_conversion_goal() {
        assert_eq!(
            errors(&[("adsctl.yaml", ACCOUNTS), ("c.yaml", &campaign("convert"))]),
            Vec::<String>::new()
        );
        let e = errors(&[("adsctl.yaml", ACCOUNTS), ("c.yaml", &campaign("click"))]);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("not `click`"), "{e:?}");
    }
}
