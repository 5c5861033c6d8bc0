//! X: validation and lowering of campaigns, ad groups (line items), promoted posts and targeting criteria into
//! the resources of `docs/resource-model.md` (X table). Methods of the spec's [`Lower`].
//!
//! What X requires on a create is required here (a campaign's funding instrument and budget; an ad group's
//! objective, product type and placements; a bid for `max` and `target`), so a plan never sends a create X would
//! refuse for a missing field; so is X's table of bid strategies by objective (no `max` for reach and followers,
//! `target` only for reach, followers and website clicks). An object adopted by `id:` may leave them out (they are
//! then unmanaged). X's own
//! per-line-item caps on targeting criteria are checked here too (one age bucket, one event, 2,000 locations,
//! 100 interests, 100 similar-follower handles, 1,000 keywords).

use crate::model::{Account, Address, Currency, Kind, Resource, Value};
use crate::spec::de::Spanned;
use crate::spec::error::Code;
use crate::spec::lower::*;
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// X's name limit for campaigns and line items (255), less the ownership marker the connector appends.
const NAME_MAX: usize = 255 - " [adsctl-managed]".len();

/// X's ad groups per campaign.
const AD_GROUPS_PER_CAMPAIGN: usize = 100;

/// Per line item: X's caps by targeting type (WIRE-NOTES § Targeting criterion; keywords count together).
const CRITERIA_CAPS: &[(&[XTargetingType], usize, &str)] = &[
    (&[XTargetingType::Age], 1, "one age bucket"),
    (&[XTargetingType::Event], 1, "one event"),
    (&[XTargetingType::Location], 2000, "2,000 locations"),
    (&[XTargetingType::Interest], 100, "100 interests"),
    (
        &[XTargetingType::SimilarToFollowersOfUser],
        100,
        "100 similar-to-followers handles",
    ),
    (
        &[
            XTargetingType::BroadKeyword,
            XTargetingType::ExactKeyword,
            XTargetingType::PhraseKeyword,
            XTargetingType::UnorderedKeyword,
        ],
        1000,
        "1,000 keywords",
    ),
];

impl Lower<'_> {
    fn x_name(&mut self, name: &S<String>, what: &str) -> bool {
        let n = name.trim().chars().count();
        if n > NAME_MAX {
            self.err(
                name.span,
                Code::Constraint,
                format!("an X {what} name is at most {NAME_MAX} characters; this one has {n}"),
                "shorten it (X allows 255, less adsctl's ownership marker)",
            );
            return false;
        }
        true
    }

    /// `budget: { daily, lifetime }` into `budget.daily` / `budget.lifetime` (X: the daily budget is at most
    /// the total one).
    fn x_budget(&mut self, b: &S<CampaignBudget>, cur: Currency, r: &mut Resource) {
        for (set, field) in [
            (b.shared.is_some(), "shared"),
            (b.delivery_method.is_some(), "delivery_method"),
        ] {
            if set {
                self.err(
                    b.span,
                    Code::InvalidValue,
                    format!("`budget.{field}` is not an X budget field"),
                    "write `daily` and/or `lifetime`",
                );
            }
        }
        let daily = b.daily.as_ref().and_then(|d| self.amount(d, cur, "budget.daily"));
        if let Some(m) = daily {
            r.fields.insert("budget.daily", Value::Money(m));
        }
        if let Some(l) = &*b.lifetime {
            if let Some(m) = self.amount(l, cur, "budget.lifetime") {
                if daily.is_some_and(|d| m < d) {
                    self.err(
                        l.span,
                        Code::Constraint,
                        "the lifetime budget is smaller than the daily one",
                        "X wants a total budget at least the daily budget",
                    );
                }
                r.fields.insert("budget.lifetime", Value::Money(m));
            }
        }
        if b.daily.is_none() && b.lifetime.is_none() && !b.daily.is_invalid() && !b.lifetime.is_invalid() {
            self.missing(b.span, "daily", "a budget", "50");
        }
    }

    /// `schedule: { start, end }` as `start_time` / `end_time` (RFC 3339 in UTC, whole seconds, as X returns them).
    fn x_schedule(&mut self, s: &S<XSchedule>, r: &mut Resource) {
        let mut times = Vec::new();
        for (t, field) in [(&*s.start, "start_time"), (&*s.end, "end_time")] {
            let Some(t) = t else { continue };
            match chrono::DateTime::parse_from_rfc3339(t.trim()) {
                Ok(at) => {
                    let utc = at.with_timezone(&chrono::Utc);
                    if utc.timestamp_subsec_nanos() != 0 {
                        self.err(
                            t.span,
                            Code::InvalidValue,
                            "X schedules are in whole seconds",
                            "drop the fraction of the seconds",
                        );
                        continue;
                    }
                    r.fields.insert(
                        field,
                        Value::Str(utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    );
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

    pub(crate) fn x_campaign(&mut self, acct: &Account, c: XCampaign, mut r: Resource) {
        self.x_name(&c.name, "campaign");
        let adopted = c.id.is_some();
        self.status(&c.status, acct.platform, &mut r);
        match &*c.funding_instrument {
            Some(f) => {
                let v = f.trim();
                if super::home::base36_id(v) {
                    r.fields.insert("funding_instrument", Value::Str(v.to_string()));
                } else {
                    self.err(
                        f.span,
                        Code::InvalidValue,
                        format!("`{}` is not an X funding instrument id", f.value),
                        "X ids are base 36 in lower case, e.g. `lygyi` (X Ads Manager lists them under Billing)",
                    );
                }
            }
            None if !adopted && !c.funding_instrument.is_invalid() => {
                self.missing(c.name.span, "funding_instrument", "an X campaign", "lygyi")
            }
            None => {}
        }
        match &*c.budget {
            Some(b) => self.x_budget(b, acct.currency, &mut r),
            None if !adopted && !c.budget.is_invalid() => {
                self.missing(c.name.span, "budget", "an X campaign", "{ daily: 50 }")
            }
            None => {}
        }
        let addr = r.address.clone();
        self.resources.push(r);
        let groups: Vec<XAdGroup> = c.ad_groups.into_iter().filter_map(|i| i.value).collect();
        if groups.len() > AD_GROUPS_PER_CAMPAIGN {
            self.err(
                groups[AD_GROUPS_PER_CAMPAIGN].name.span,
                Code::Constraint,
                format!(
                    "an X campaign holds at most {AD_GROUPS_PER_CAMPAIGN} ad groups (line items); this one lists {}",
                    groups.len()
                ),
                "split them over more campaigns",
            );
        }
        // X: one objective and one product type per campaign
        let mut first: [Option<(&'static str, crate::spec::yaml::Span)>; 2] = [None, None];
        for g in &groups {
            for (i, (v, what)) in [
                (g.objective.as_ref().map(|o| (o.wire(), o.span)), "objective"),
                (g.product_type.as_ref().map(|p| (p.wire(), p.span)), "product_type"),
            ]
            .into_iter()
            .enumerate()
            {
                let Some((v, span)) = v else { continue };
                match first[i] {
                    None => first[i] = Some((v, span)),
                    Some((f, at)) if f != v => {
                        let at = self.at(at);
                        self.err(
                            span,
                            Code::Constraint,
                            format!("the ad groups of an X campaign share one {what}: `{f}` (at {at}), not `{v}`"),
                            "move this ad group to a campaign of its own",
                        );
                    }
                    Some(_) => {}
                }
            }
        }
        for g in groups {
            self.x_ad_group(acct, &addr, g);
        }
    }

    fn x_ad_group(&mut self, acct: &Account, campaign: &Address, g: XAdGroup) {
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
        self.x_name(&g.name, "ad group");
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
        let required: [(bool, &str, &str); 3] = [
            (
                g.objective.is_some() || g.objective.is_invalid(),
                "objective",
                "website_clicks",
            ),
            (
                g.product_type.is_some() || g.product_type.is_invalid(),
                "product_type",
                "promoted_tweets",
            ),
            (
                g.placements.is_some() || g.placements.is_invalid(),
                "placements",
                "[all_on_twitter]",
            ),
        ];
        for (present, field, example) in required {
            if !present && !adopted {
                self.missing(g.name.span, field, "an X ad group", example);
            }
        }
        if let Some(o) = &*g.objective {
            r.fields.insert("objective", Value::str(o.wire()));
        }
        if let Some(p) = &*g.product_type {
            r.fields.insert("product_type", Value::str(p.wire()));
        }
        if let Some(ps) = &*g.placements {
            if ps.is_empty() {
                self.err(
                    ps.span,
                    Code::Constraint,
                    "`placements` lists none",
                    "list at least one, e.g. `[all_on_twitter]`",
                );
            }
            // X requires advertiser_domain and categories with the publisher network, which this YAML cannot say
            // yet: refused here rather than by X at apply time (an adopted line item may have it)
            if let Some(p) = ps
                .iter()
                .find(|p| p.value == XPlacement::PublisherNetwork)
                .filter(|_| !adopted)
            {
                self.err(
                    p.span,
                    Code::Constraint,
                    "X needs an advertiser domain and categories for `publisher_network`, which adsctl cannot send yet",
                    "place the ad group on X itself (`all_on_twitter`, `twitter_timeline`, …), or adopt a line item \
                     made in X Ads Manager with `id:`",
                );
            }
            let set = ps.iter().map(|p| Value::str(p.wire())).collect();
            r.fields.insert("placements", Value::Set(set));
        }
        // app objectives need an app store identifier, which this YAML cannot say yet
        if let Some(o) = (*g.objective)
            .as_ref()
            .filter(|o| matches!(o.value, XObjective::AppInstalls | XObjective::AppEngagements))
            .filter(|_| !adopted)
        {
            self.err(
                o.span,
                Code::Constraint,
                format!(
                    "X needs an app store identifier for `objective: {}`, which adsctl cannot send yet",
                    o.wire()
                ),
                "use a web objective (`website_clicks`, `engagements`, `reach`, …), or adopt a line item made in X \
                 Ads Manager with `id:`",
            );
        }
        if let Some(s) = &*g.bid_strategy {
            r.fields.insert("bid_strategy", Value::str(s.wire()));
            // X: `max` is not available for reach and followers; `target` only for reach, followers and website
            // clicks (resources.json, line item notes; docs/wire-rules.md, Line items)
            if let Some(o) = &*g.objective {
                use XObjective::*;
                let allowed = match s.value {
                    XBidStrategy::Auto => true,
                    XBidStrategy::Max => !matches!(o.value, Reach | Followers),
                    XBidStrategy::Target => matches!(o.value, Reach | Followers | WebsiteClicks),
                };
                if !allowed {
                    self.err(
                        s.span,
                        Code::Constraint,
                        format!(
                            "X does not take `bid_strategy: {}` for `objective: {}`",
                            s.wire(),
                            o.wire()
                        ),
                        if s.value == XBidStrategy::Max {
                            "use `bid_strategy: target` (with its `bid`) or `auto`: X takes no maximum bid for reach \
                             and followers"
                        } else {
                            "use `bid_strategy: max` (with its `bid`) or `auto`: X takes a target cost only for \
                             reach, followers and website clicks"
                        },
                    );
                }
            }
        }
        match (&*g.bid_strategy, &*g.bid) {
            (Some(s), None) if s.value != XBidStrategy::Auto && !g.bid.is_invalid() && !adopted => self.err(
                s.span,
                Code::MissingField,
                format!("`bid_strategy: {}` needs a `bid`", s.wire()),
                "add `bid: 1.50` (in the account currency), or let X bid with `bid_strategy: auto`",
            ),
            (Some(s), Some(b)) if s.value == XBidStrategy::Auto => self.err(
                b.span,
                Code::Constraint,
                "`bid_strategy: auto` takes no `bid` (X ignores it)",
                "remove `bid`, or use `bid_strategy: max` or `target`",
            ),
            (_, Some(b)) => {
                if let Some(m) = self.amount(b, acct.currency, "bid") {
                    r.fields.insert("bid", Value::Money(m));
                }
            }
            _ => {}
        }
        if let Some(goal) = &*g.goal {
            r.fields.insert("goal", Value::str(goal.wire()));
        }
        if let Some(p) = &*g.pay_by {
            r.fields.insert("pay_by", Value::str(p.wire()));
        }
        if let Some(b) = &*g.budget {
            self.x_budget(b, acct.currency, &mut r);
        }
        if let Some(s) = &*g.schedule {
            self.x_schedule(s, &mut r);
        }
        self.resources.push(r);
        let criteria: Vec<XCriterion> = g.targeting.into_iter().filter_map(|i| i.value).collect();
        self.x_criteria_caps(&criteria);
        for c in &criteria {
            self.x_criterion(acct, &addr, c);
        }
        for p in g.promoted_posts.into_iter().filter_map(|i| i.value) {
            self.x_promoted_post(acct, &addr, &p);
        }
    }

    /// X's per-line-item caps, and TV shows' need of a location.
    fn x_criteria_caps(&mut self, criteria: &[XCriterion]) {
        for (types, cap, what) in CRITERIA_CAPS {
            let of: Vec<&XCriterion> = criteria.iter().filter(|c| types.contains(&c.kind.value)).collect();
            if of.len() > *cap {
                self.err(
                    of[*cap].kind.span,
                    Code::Constraint,
                    format!("an X ad group targets at most {what}; this one lists {}", of.len()),
                    "remove some, or split the ad group",
                );
            }
        }
        let located = criteria.iter().any(|c| c.kind.value == XTargetingType::Location);
        if let Some(tv) = criteria.iter().find(|c| c.kind.value == XTargetingType::TvShow) {
            if !located {
                self.err(
                    tv.kind.span,
                    Code::Constraint,
                    "X targets TV shows only within a location",
                    "add a `{ type: location, value: … }` criterion to the ad group",
                );
            }
        }
    }

    fn x_criterion(&mut self, acct: &Account, line_item: &Address, c: &XCriterion) {
        let ty = c.kind.value;
        let audience_type = matches!(
            ty,
            XTargetingType::CustomAudience | XTargetingType::CustomAudienceExpanded
        );
        let op = c.operator.as_ref().map(|o| o.value).unwrap_or(XOperator::Eq);
        if let Some(o) = &*c.operator {
            let ok = match o.value {
                XOperator::Eq => ty != XTargetingType::AppList,
                XOperator::Ne => true,
                XOperator::Gte | XOperator::Lt => ty == XTargetingType::NetworkActivationDuration,
            };
            if !ok {
                self.err(
                    o.span,
                    Code::InvalidValue,
                    format!("X does not take `operator: {}` for `{}`", o.wire(), ty.wire()),
                    if ty == XTargetingType::AppList {
                        "an app list can only exclude: `operator: ne`"
                    } else {
                        "`gte` and `lt` are for `network_activation_duration`; write `eq` (the default) or `ne`"
                    },
                );
                return;
            }
        } else if ty == XTargetingType::AppList {
            self.err(
                c.kind.span,
                Code::MissingField,
                "an X app list criterion can only exclude",
                "add `operator: ne`",
            );
            return;
        }
        let (value, audience) = if audience_type {
            if let Some(v) = &*c.value {
                self.err(
                    v.span,
                    Code::InvalidValue,
                    format!("a `{}` criterion names its audience with `audience`", ty.wire()),
                    "write `audience: <name of an audience of this account>` instead of `value`",
                );
                return;
            }
            let Some(name) = &*c.audience else {
                if !c.audience.is_invalid() {
                    self.missing(c.kind.span, "audience", "this criterion", "buyers");
                }
                return;
            };
            let Some(r) = self.audience_ref(acct, name) else { return };
            (name.trim().to_string(), Some(r))
        } else {
            if let Some(a) = &*c.audience {
                self.err(
                    a.span,
                    Code::InvalidValue,
                    format!("`audience` is for custom audience criteria, not `{}`", ty.wire()),
                    "write the criterion's `value`",
                );
                return;
            }
            let Some(v) = &*c.value else {
                if !c.value.is_invalid() {
                    self.missing(c.kind.span, "value", "this criterion", "en");
                }
                return;
            };
            let t = v.trim();
            if t.is_empty() || t.contains(['\n', '\r']) {
                self.err(
                    v.span,
                    Code::InvalidValue,
                    "a targeting value is one non-empty line",
                    "write the value as X's targeting lookups give it",
                );
                return;
            }
            (t.to_string(), None)
        };
        let name = super::mapping::criterion_name(&ty.wire().to_ascii_uppercase(), &value, op.wire());
        let addr = line_item.child(Kind::TargetingCriterion, name);
        if !self.declare(&addr, c.kind.span, "targeting criterion") {
            return;
        }
        let mut r = self.resource(addr, Kind::TargetingCriterion, c.kind.span, &None, &None, acct.platform);
        if let Some(a) = audience {
            r.fields.insert("audience", a);
        }
        self.resources.push(r);
    }

    fn x_promoted_post(&mut self, acct: &Account, line_item: &Address, p: &S<String>) {
        let id = p.trim();
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
            self.err(
                p.span,
                Code::InvalidValue,
                format!("`{}` is not a post id", p.value),
                "a post id is the digits at the end of the post's URL (…/status/1580000000000000001); quote it",
            );
            return;
        }
        let addr = line_item.child(Kind::PromotedPost, id);
        if !self.declare(&addr, p.span, "promoted post") {
            return;
        }
        let r = self.resource(addr, Kind::PromotedPost, p.span, &None, &None, acct.platform);
        self.resources.push(r);
    }
}
