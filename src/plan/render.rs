//! Rendering plans for people (terminal, with or without colour), for pull requests (Markdown) and
//! machines (JSON: `serde_json` of [`Plan`], see `docs/plan-format.md`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use super::guardrails::pct_change;
use super::{AccountPlan, Action, Blocker, BlockerKind, Change, FieldChange, Plan, Summary};
use crate::model::{Address, Currency, Money, Value};

/// Observed statuses not worth a line when nothing changes.
const BENIGN: [&str; 7] = [
    "active",
    "enabled",
    "approved",
    "eligible",
    "serving",
    "paused",
    "campaign_paused",
];

/// Text longer than this is shown as a word diff rather than `old → new`.
const LONG_TEXT: usize = 40;

#[derive(Clone, Copy)]
struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }
    fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    fn magenta(&self, s: &str) -> String {
        self.paint("35", s)
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update | Action::Adopt => "~",
        Action::Replace => "±",
        Action::Pause | Action::Remove => "-",
        Action::Orphan | Action::NoOp => " ",
    }
}

fn paint_action(st: Style, action: Action, s: &str) -> String {
    match action {
        Action::Create => st.green(s),
        Action::Update | Action::Adopt => st.yellow(s),
        Action::Replace => st.magenta(s),
        Action::Pause | Action::Remove => st.red(s),
        Action::Orphan | Action::NoOp => st.dim(s),
    }
}

/// A value for people: money in the account currency, text quoted.
pub fn value(v: &Value, cur: Currency) -> String {
    match v {
        Value::Money(m) => m.display(cur),
        Value::List(xs) => format!("[{}]", xs.iter().map(|x| value(x, cur)).collect::<Vec<_>>().join(", ")),
        Value::Set(xs) => format!(
            "{{{}}}",
            xs.iter().map(|x| value(x, cur)).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, x)| format!("{k}: {}", value(x, cur)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Ref(a) => a.to_string(),
        other => other.to_string(),
    }
}

fn money_change(b: Money, a: Money, cur: Currency) -> String {
    let pct = pct_change(b, a)
        .map(|p| format!(" ({}{p}%)", if p >= 0 { "+" } else { "" }))
        .unwrap_or_default();
    format!("{} → {}{pct}", b.display(cur), a.display(cur))
}

fn long_text(v: &Option<Value>) -> Option<&str> {
    match v {
        Some(Value::Str(s)) if s.len() > LONG_TEXT || s.contains('\n') => Some(s),
        _ => None,
    }
}

fn field_lines(st: Style, f: &FieldChange, cur: Currency, indent: &str, out: &mut String) {
    let mut tags = Vec::new();
    if f.forces_replace {
        tags.push(st.magenta("forces replacement"));
    }
    if f.swapped {
        tags.push("swapped".to_string());
    }
    if f.write_only {
        tags.push("write-only: compared with the last apply".to_string());
    }
    if f.drift {
        tags.push(st.yellow("drift: changed outside adsctl"));
    }
    let tags = if tags.is_empty() {
        String::new()
    } else {
        format!("  ({})", tags.join("; "))
    };
    let name = &f.field;
    match (&f.before, &f.after) {
        (Some(b), Some(a)) if b == a => {
            let _ = writeln!(out, "{indent}{name}: {}{tags}", value(a, cur));
        }
        (Some(Value::Money(b)), Some(Value::Money(a))) => {
            let _ = writeln!(out, "{indent}{name}: {}{tags}", money_change(*b, *a, cur));
        }
        (Some(Value::List(b)), Some(Value::List(a))) if b.len() + a.len() > 2 => {
            let _ = writeln!(out, "{indent}{name}:{tags}");
            let old: Vec<String> = b.iter().map(|x| value(x, cur)).collect();
            let new: Vec<String> = a.iter().map(|x| value(x, cur)).collect();
            let old_refs: Vec<&str> = old.iter().map(String::as_str).collect();
            let new_refs: Vec<&str> = new.iter().map(String::as_str).collect();
            let diff = similar::capture_diff_slices(similar::Algorithm::Myers, &old_refs, &new_refs);
            for op in diff {
                for change in op.iter_changes(&old_refs, &new_refs) {
                    let item = change.value();
                    let line = match change.tag() {
                        ChangeTag::Delete => st.red(&format!("- {item}")),
                        ChangeTag::Insert => st.green(&format!("+ {item}")),
                        ChangeTag::Equal => format!("  {item}"),
                    };
                    let _ = writeln!(out, "{indent}  {line}");
                }
            }
        }
        (b, a) if long_text(b).is_some() || long_text(a).is_some() => {
            let old = long_text(b)
                .map(str::to_string)
                .or_else(|| b.as_ref().map(|v| value(v, cur)));
            let new = long_text(a)
                .map(str::to_string)
                .or_else(|| a.as_ref().map(|v| value(v, cur)));
            match (old, new) {
                (Some(old), Some(new)) => {
                    let diff = TextDiff::from_words(old.as_str(), new.as_str());
                    let mut s = String::new();
                    for c in diff.iter_all_changes() {
                        let t = c.value();
                        match c.tag() {
                            ChangeTag::Delete => s.push_str(&st.red(&format!("[-{t}-]"))),
                            ChangeTag::Insert => s.push_str(&st.green(&format!("{{+{t}+}}"))),
                            ChangeTag::Equal => s.push_str(t),
                        }
                    }
                    let _ = writeln!(out, "{indent}{name}: {s}{tags}");
                }
                (None, Some(new)) => {
                    let _ = writeln!(out, "{indent}{name}: {new:?}{tags}");
                }
                (old, None) => {
                    let _ = writeln!(out, "{indent}{name}: {} → (unset){tags}", old.unwrap_or_default());
                }
            }
        }
        (Some(Value::Set(b)), Some(Value::Set(a))) if b.len() + a.len() > 6 => {
            let added = a.difference(b).count();
            let removed = b.difference(a).count();
            let _ = writeln!(
                out,
                "{indent}{name}: {} → {} items ({}, {}){tags}",
                b.len(),
                a.len(),
                st.green(&format!("+{added}")),
                st.red(&format!("-{removed}"))
            );
        }
        (None, Some(Value::Set(a)))
            if a.len() > 6 || (a.len() > 3 && value(&Value::Set(a.clone()), cur).len() > 100) =>
        {
            let _ = writeln!(out, "{indent}{name}: {} items{tags}", a.len());
        }
        (None, Some(Value::List(xs))) if xs.len() > 2 || value(&Value::List(xs.clone()), cur).len() > 80 => {
            let _ = writeln!(out, "{indent}{name}:{tags}");
            for x in xs {
                let _ = writeln!(out, "{indent}  - {}", value(x, cur));
            }
        }
        (None, Some(a)) => {
            let _ = writeln!(out, "{indent}{name}: {}{tags}", value(a, cur));
        }
        (Some(b), Some(a)) => {
            let _ = writeln!(out, "{indent}{name}: {} → {}{tags}", value(b, cur), value(a, cur));
        }
        (b, None) => {
            let b = b.as_ref().map(|v| value(v, cur)).unwrap_or_default();
            let _ = writeln!(out, "{indent}{name}: {b} → (unset){tags}");
        }
    }
}

fn label(c: &Change) -> String {
    let name = c.address.name().unwrap_or("");
    format!("{} {name:?}", c.kind)
}

fn account_block(st: Style, a: &AccountPlan, out: &mut String) {
    let cur = a.currency;
    let mut header = format!("{} ({}, {})", a.account, a.platform, cur.code());
    if a.from_cache {
        header.push_str(&format!(
            " — from the cache of {}",
            a.live_fetched_at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    let _ = writeln!(out, "{}", st.bold(&header));
    let mut shown: Vec<&Change> = a.changes.iter().filter(|c| c.action.is_change()).collect();
    if shown.is_empty() {
        let _ = writeln!(out, "  no changes");
    }
    // Group by parent: tree order, with unchanged parents shown as headers.
    shown.sort_by(|x, y| x.address.cmp(&y.address));
    let mut printed: BTreeSet<Address> = BTreeSet::new();
    for c in shown {
        let mut ancestors = Vec::new();
        let mut p = c.address.parent();
        while let Some(a) = p {
            p = a.parent();
            ancestors.push(a);
        }
        for anc in ancestors.into_iter().rev() {
            if printed.insert(anc.clone()) {
                let depth = anc.path.len();
                let (kind, name) = anc.path.last().cloned().unwrap_or((c.kind, String::new()));
                let _ = writeln!(out, "{}{}", "  ".repeat(depth), st.dim(&format!("  {kind} {name:?}")));
            }
        }
        printed.insert(c.address.clone());
        let depth = c.address.path.len();
        let pad = "  ".repeat(depth);
        let what = match c.action {
            Action::Create | Action::Update => String::new(),
            other => format!(" ({})", other.as_str()),
        };
        let id = c.id.as_deref().map(|i| format!("  id {i}")).unwrap_or_default();
        let line = format!("{} {}{what}", symbol(c.action), label(c));
        let _ = writeln!(out, "{pad}{}{}", paint_action(st, c.action, &line), st.dim(&id));
        let inner = format!("{pad}    ");
        for n in &c.notes {
            let _ = writeln!(out, "{inner}{}", st.dim(&format!("# {n}")));
        }
        for (k, v) in &c.observed {
            let _ = writeln!(out, "{inner}{}", st.dim(&format!("observed {k}: {v}")));
        }
        if c.action != Action::Remove {
            for f in &c.fields {
                field_lines(st, f, cur, &inner, out);
            }
        }
    }
    let orphans: Vec<&Change> = a.changes.iter().filter(|c| c.action == Action::Orphan).collect();
    if !orphans.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            st.bold("Left alone (owned by adsctl, no longer in the YAML):")
        );
        for c in orphans {
            let why = c.notes.first().map(|n| format!("  # {n}")).unwrap_or_default();
            let _ = writeln!(out, "    {}{}", c.address, st.dim(&why));
        }
    }
    let attention: Vec<&Change> = a
        .changes
        .iter()
        .filter(|c| !c.action.is_change())
        .filter(|c| {
            c.observed
                .values()
                .any(|v| !BENIGN.contains(&v.to_ascii_lowercase().as_str()))
        })
        .collect();
    if !attention.is_empty() {
        let _ = writeln!(out, "  {}", st.bold("Observed (unchanged resources):"));
        for c in attention {
            let facts: Vec<String> = c.observed.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let _ = writeln!(out, "    {}  {}", c.address, st.yellow(&facts.join(", ")));
        }
    }
    let s = &a.spend;
    if s.daily_before != s.daily_after || s.lifetime_before != s.lifetime_after {
        let delta = |b: Money, a: Money| {
            let d = Money::from_micros(a.micros().saturating_sub(b.micros()));
            let sign = if d.micros() >= 0 { "+" } else { "" };
            format!("{sign}{}", d.display(cur))
        };
        let _ = writeln!(out, "  {}", st.bold("Spend impact:"));
        if s.daily_before != s.daily_after {
            let _ = writeln!(
                out,
                "    daily budget:    {} → {} ({})",
                s.daily_before.display(cur),
                s.daily_after.display(cur),
                delta(s.daily_before, s.daily_after)
            );
        }
        if s.lifetime_before != s.lifetime_after {
            let _ = writeln!(
                out,
                "    lifetime budget: {} → {} ({})",
                s.lifetime_before.display(cur),
                s.lifetime_after.display(cur),
                delta(s.lifetime_before, s.lifetime_after)
            );
        }
    }
    if let Some(q) = &a.quota {
        let _ = writeln!(out, "  {} {}", st.bold("Quota:"), quota_line(q));
    }
}

/// `52 operations of the 15,000 a day of Google Ads basic access (0.3%)`.
pub fn quota_line(q: &crate::connectors::QuotaCost) -> String {
    let group = |n: u64| crate::model::group_thousands(&n.to_string());
    match q.daily_limit {
        Some(limit) if limit > 0 => {
            let tenths = u128::from(q.units) * 1000 / u128::from(limit);
            format!(
                "{} {} of the {} a day of {} ({}.{}%)",
                group(q.units),
                q.unit,
                group(limit),
                q.quota,
                tenths / 10,
                tenths % 10
            )
        }
        _ => format!("{} {} ({}, no daily limit)", group(q.units), q.unit, q.quota),
    }
}

pub fn summary_line(s: &Summary) -> String {
    let mut parts = vec![format!("{} to create", s.create), format!("{} to update", s.update)];
    if s.adopt > 0 {
        parts.push(format!("{} to adopt", s.adopt));
    }
    parts.push(format!("{} to replace", s.replace));
    parts.push(format!("{} to pause", s.pause));
    parts.push(format!("{} to remove", s.remove));
    parts.push(format!("{} unchanged", s.unchanged));
    let mut line = format!("Plan: {}.", parts.join(", "));
    if s.drifted > 0 {
        line.push_str(&format!(" {} drifted outside adsctl.", s.drifted));
    }
    line
}

fn blocker_name(b: &Blocker) -> String {
    match &b.kind {
        BlockerKind::Guardrail { name } => format!("guardrail {name}"),
        BlockerKind::Replace => "replace".into(),
        BlockerKind::PreventDestroy => "prevent_destroy".into(),
        BlockerKind::Unmanaged => "not adsctl's".into(),
    }
}

fn blockers_block(st: Style, plan: &Plan, out: &mut String) {
    let active: Vec<&Blocker> = plan.active_blockers().collect();
    if !active.is_empty() {
        let _ = writeln!(out, "{}", st.red(&st.bold("The plan is blocked:")));
        for b in &active {
            let _ = writeln!(out, "  {} {}: {}", st.red("✗"), blocker_name(b), b.message);
        }
        let mut hints = BTreeSet::new();
        for b in &active {
            hints.insert(match &b.kind {
                BlockerKind::Guardrail { name } => {
                    format!("override with --allow-guardrail {name} if this is intended")
                }
                BlockerKind::Replace => "pass --allow-replace to replace (history is lost)".into(),
                BlockerKind::PreventDestroy => {
                    "set prevent_destroy: false and apply first, or forget it with `adsctl state rm ADDRESS`".into()
                }
                BlockerKind::Unmanaged => "to manage an object someone else made, add `lifecycle: { adopt: true }` \
                                           to its YAML block (or pin its `id:`); to leave it alone, give yours \
                                           another name"
                    .into(),
            });
        }
        for h in hints {
            let _ = writeln!(out, "  hint: {h}");
        }
    }
    let overridden: Vec<&Blocker> = plan.blockers.iter().filter(|b| b.overridden).collect();
    if !overridden.is_empty() {
        let _ = writeln!(out, "{}", st.yellow("Overridden guardrails:"));
        for b in overridden {
            let _ = writeln!(out, "  ! {}: {}", blocker_name(b), b.message);
        }
    }
}

/// The terminal rendering.
pub fn human(plan: &Plan, color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    for a in &plan.accounts {
        account_block(st, a, &mut out);
        out.push('\n');
    }
    blockers_block(st, plan, &mut out);
    let _ = writeln!(out, "{}", st.bold(&summary_line(&plan.summary())));
    out
}

/// For pull-request comments: a summary, one `diff` block per account, the spend impact and blockers.
pub fn markdown(plan: &Plan) -> String {
    let st = Style { color: false };
    let mut out = String::from("### adsctl plan\n\n");
    let _ = writeln!(out, "**{}**\n", summary_line(&plan.summary()));
    if plan.is_blocked() {
        out.push_str("> [!CAUTION]\n> The plan is blocked:\n");
        for b in plan.active_blockers() {
            let _ = writeln!(out, "> - **{}**: {}", blocker_name(b), b.message);
        }
        out.push('\n');
    }
    for a in &plan.accounts {
        let mut block = String::new();
        account_block(st, a, &mut block);
        let mut lines = block.lines();
        let title = lines.next().unwrap_or_default();
        let _ = writeln!(out, "#### {title}\n\n```diff");
        for l in lines {
            // diff highlighting keys on the first column
            let t = l.trim_start();
            let indent = l.len() - t.len();
            if let Some(sym) = t.chars().next().filter(|c| ['+', '-', '~', '±'].contains(c)) {
                // `!` is how diff highlighting marks a change
                let first = if sym == '~' || sym == '±' { '!' } else { sym };
                let _ = writeln!(out, "{first}{}{}", " ".repeat(indent), &t[sym.len_utf8()..]);
            } else {
                let _ = writeln!(out, " {l}");
            }
        }
        out.push_str("```\n\n");
    }
    out
}
