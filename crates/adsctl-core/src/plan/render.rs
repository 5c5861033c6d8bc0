//! Rendering plans for people (terminal, with or without colour), for pull requests (Markdown) and
//! machines (JSON: `serde_json` of [`Plan`], see `docs/plan-format.md`).
//!
//! Every action has its own mark, in every format: `+` create, `~` update or adopt, `±` replace, `‖` pause,
//! `-` remove. Items added to a list are `+ item` (never a `-` bullet, which a reviewer reads as a removal).
//! The Markdown form is shaped like tfcmt's and Atlantis's pull-request comments; see [`markdown`].

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
    fn cyan(&self, s: &str) -> String {
        self.paint("36", s)
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// The mark of an action (the first thing on its line, in every format).
pub fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update | Action::Adopt => "~",
        Action::Replace => "±",
        Action::Pause => "‖",
        Action::Remove => "-",
        Action::Orphan | Action::NoOp => " ",
    }
}

fn paint_action(st: Style, action: Action, s: &str) -> String {
    match action {
        Action::Create => st.green(s),
        Action::Update | Action::Adopt => st.yellow(s),
        Action::Replace => st.magenta(s),
        Action::Pause => st.cyan(s),
        Action::Remove => st.red(s),
        Action::Orphan | Action::NoOp => st.dim(s),
    }
}

/// What a rendered line shows, for formats that mark lines (the Markdown `diff` block's first column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    /// Context: headers, fields, notes, observed facts, spend.
    Plain,
    Create,
    /// Update, adopt, replace.
    Change,
    Pause,
    Remove,
    /// An item added to a list.
    Added,
    /// An item removed from a list.
    Removed,
}

impl Mark {
    fn of(action: Action) -> Mark {
        match action {
            Action::Create => Mark::Create,
            Action::Update | Action::Adopt | Action::Replace => Mark::Change,
            Action::Pause => Mark::Pause,
            Action::Remove => Mark::Remove,
            Action::Orphan | Action::NoOp => Mark::Plain,
        }
    }
}

/// Rendered lines (without newlines), each with its mark.
#[derive(Default)]
struct Lines(Vec<(Mark, String)>);

impl Lines {
    fn push(&mut self, mark: Mark, text: String) {
        self.0.push((mark, text));
    }
    fn plain(&mut self, text: String) {
        self.push(Mark::Plain, text);
    }
}

/// A value for people: money in the account currency, text quoted.
pub fn value(v: &Value, cur: Currency) -> String {
    match v {
        Value::Money(m) => m.display(cur),
        Value::List(xs) => format!("[{}]", xs.iter().map(|x| value(x, cur)).collect::<Vec<_>>().join(", ")),
        // as the YAML writes it: a list (in the set's order)
        Value::Set(xs) => format!("[{}]", xs.iter().map(|x| value(x, cur)).collect::<Vec<_>>().join(", ")),
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

fn field_lines(st: Style, f: &FieldChange, cur: Currency, indent: &str, out: &mut Lines) {
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
            out.plain(format!("{indent}{name}: {}{tags}", value(a, cur)));
        }
        (Some(Value::Money(b)), Some(Value::Money(a))) => {
            out.plain(format!("{indent}{name}: {}{tags}", money_change(*b, *a, cur)));
        }
        (Some(Value::List(b)), Some(Value::List(a))) if b.len() + a.len() > 2 => {
            out.plain(format!("{indent}{name}:{tags}"));
            let old: Vec<String> = b.iter().map(|x| value(x, cur)).collect();
            let new: Vec<String> = a.iter().map(|x| value(x, cur)).collect();
            let old_refs: Vec<&str> = old.iter().map(String::as_str).collect();
            let new_refs: Vec<&str> = new.iter().map(String::as_str).collect();
            let diff = similar::capture_diff_slices(similar::Algorithm::Myers, &old_refs, &new_refs);
            for op in diff {
                for change in op.iter_changes(&old_refs, &new_refs) {
                    let item = change.value();
                    let (mark, line) = match change.tag() {
                        ChangeTag::Delete => (Mark::Removed, st.red(&format!("- {item}"))),
                        ChangeTag::Insert => (Mark::Added, st.green(&format!("+ {item}"))),
                        ChangeTag::Equal => (Mark::Plain, format!("  {item}")),
                    };
                    out.push(mark, format!("{indent}  {line}"));
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
                    out.plain(format!("{indent}{name}: {s}{tags}"));
                }
                (None, Some(new)) => {
                    out.plain(format!("{indent}{name}: {new:?}{tags}"));
                }
                (old, None) => {
                    out.plain(format!("{indent}{name}: {} → (unset){tags}", old.unwrap_or_default()));
                }
            }
        }
        (Some(Value::Set(b)), Some(Value::Set(a))) if b.len() + a.len() > 6 => {
            let added = a.difference(b).count();
            let removed = b.difference(a).count();
            out.plain(format!(
                "{indent}{name}: {} → {} items ({}, {}){tags}",
                b.len(),
                a.len(),
                st.green(&format!("+{added}")),
                st.red(&format!("-{removed}"))
            ));
        }
        (None, Some(Value::Set(a)))
            if a.len() > 6 || (a.len() > 3 && value(&Value::Set(a.clone()), cur).len() > 100) =>
        {
            out.plain(format!("{indent}{name}: {} items{tags}", a.len()));
        }
        (None, Some(Value::List(xs))) if xs.len() > 2 || value(&Value::List(xs.clone()), cur).len() > 80 => {
            out.plain(format!("{indent}{name}:{tags}"));
            // Items of a new list are additions: `+`, never a `-` bullet.
            for x in xs {
                out.push(
                    Mark::Added,
                    format!("{indent}  {}", st.green(&format!("+ {}", value(x, cur)))),
                );
            }
        }
        (None, Some(a)) => {
            out.plain(format!("{indent}{name}: {}{tags}", value(a, cur)));
        }
        (Some(b), Some(a)) => {
            out.plain(format!("{indent}{name}: {} → {}{tags}", value(b, cur), value(a, cur)));
        }
        (b, None) => {
            let b = b.as_ref().map(|v| value(v, cur)).unwrap_or_default();
            out.plain(format!("{indent}{name}: {b} → (unset){tags}"));
        }
    }
}

fn label(c: &Change) -> String {
    let name = c.address.name().unwrap_or("");
    if c.kind == crate::model::Kind::Ad && !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        // an ad the platform gives no name (a Google responsive search ad) is addressed by its position: say so,
        // and show the first of its texts (an X promoted post's digits are the post's id: a name like any other)
        return match preview(c) {
            Some(text) => format!("{} #{name} {text:?}", c.kind),
            None => format!("{} #{name}", c.kind),
        };
    }
    format!("{} {name:?}", c.kind)
}

/// The first text of an unnamed object's `headlines` (else of its first list of texts), cut to 40 characters.
fn preview(c: &Change) -> Option<String> {
    let after = c
        .fields
        .iter()
        .filter_map(|f| f.after.as_ref().map(|v| (f.field.as_str(), v)));
    let mut lists: Vec<(&str, &Value)> = c.desired.iter().map(|(k, v)| (k.as_str(), v)).chain(after).collect();
    lists.sort_by_key(|(k, _)| *k != "headlines");
    let first = lists.into_iter().filter_map(|(_, v)| match v {
        Value::List(items) => items.first(),
        _ => None,
    });
    let text = first
        .filter_map(|v| match v {
            Value::Str(s) => Some(s.as_str()),
            Value::Map(m) => m.get("text").and_then(Value::as_str),
            _ => None,
        })
        .next()?;
    let mut cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    Some(cut)
}

fn account_header(a: &AccountPlan) -> String {
    let mut header = format!("{} ({}, {})", a.account, a.platform, a.currency.code());
    if a.from_cache {
        header.push_str(&format!(
            " — from the cache of {}",
            a.live_fetched_at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    header
}

/// The lines of an account below its header (each indented by at least two spaces).
fn account_lines(st: Style, a: &AccountPlan) -> Lines {
    let mut out = Lines::default();
    let cur = a.currency;
    let mut shown: Vec<&Change> = a.changes.iter().filter(|c| c.action.is_change()).collect();
    if shown.is_empty() {
        out.plain("  no changes".into());
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
                out.plain(format!(
                    "{}{}",
                    "  ".repeat(depth),
                    st.dim(&format!("  {kind} {name:?}"))
                ));
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
        out.push(
            Mark::of(c.action),
            format!("{pad}{}{}", paint_action(st, c.action, &line), st.dim(&id)),
        );
        let inner = format!("{pad}    ");
        for n in &c.notes {
            out.plain(format!("{inner}{}", st.dim(&format!("# {n}"))));
        }
        for (k, v) in &c.observed {
            out.plain(format!("{inner}{}", st.dim(&format!("observed {k}: {v}"))));
        }
        if c.action != Action::Remove {
            for f in &c.fields {
                field_lines(st, f, cur, &inner, &mut out);
            }
        }
    }
    let orphans: Vec<&Change> = a.changes.iter().filter(|c| c.action == Action::Orphan).collect();
    if !orphans.is_empty() {
        out.plain(format!(
            "  {}",
            st.bold("Left alone (owned by adsctl, no longer in the YAML):")
        ));
        for c in orphans {
            let why = c.notes.first().map(|n| format!("  # {n}")).unwrap_or_default();
            out.plain(format!("    {}{}", c.address, st.dim(&why)));
        }
    }
    if a.unmanaged_count > 0 {
        let listed: Vec<String> = a.unmanaged.iter().map(ToString::to_string).collect();
        let more = a.unmanaged_count.saturating_sub(listed.len());
        out.plain(format!(
            "  {}",
            st.dim(&format!(
                "Not managed ({} made by someone else under objects adsctl manages; never touched):",
                a.unmanaged_count
            ))
        ));
        for l in listed {
            out.plain(format!("    {}", st.dim(&l)));
        }
        if more > 0 {
            out.plain(format!("    {}", st.dim(&format!("… and {more} more"))));
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
        out.plain(format!("  {}", st.bold("Observed (unchanged resources):")));
        for c in attention {
            let facts: Vec<String> = c.observed.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            out.plain(format!("    {}  {}", c.address, st.yellow(&facts.join(", "))));
        }
    }
    let s = &a.spend;
    if s.daily_before != s.daily_after || s.lifetime_before != s.lifetime_after {
        out.plain(format!("  {}", st.bold("Spend impact:")));
        if s.daily_before != s.daily_after {
            out.plain(format!(
                "    daily budget:    {}",
                budget_change(s.daily_before, s.daily_after, cur)
            ));
        }
        if s.lifetime_before != s.lifetime_after {
            out.plain(format!(
                "    lifetime budget: {}",
                budget_change(s.lifetime_before, s.lifetime_after, cur)
            ));
        }
    }
    if let Some(q) = &a.quota {
        out.plain(format!("  {} {}", st.bold("Quota:"), quota_line(q)));
    }
    out
}

/// `$70.00 → $20.00 (-$50.00)`.
fn budget_change(before: Money, after: Money, cur: Currency) -> String {
    let d = Money::from_micros(after.micros().saturating_sub(before.micros()));
    let sign = if d.micros() >= 0 { "+" } else { "" };
    format!(
        "{} → {} ({sign}{})",
        before.display(cur),
        after.display(cur),
        d.display(cur)
    )
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

fn blocker_hint(b: &Blocker) -> String {
    match &b.kind {
        BlockerKind::Guardrail { name } => format!("override with --allow-guardrail {name} if this is intended"),
        BlockerKind::Replace => "pass --allow-replace to replace (history is lost)".into(),
        BlockerKind::PreventDestroy => {
            "set prevent_destroy: false and apply first, or forget it with `adsctl state rm ADDRESS`".into()
        }
        BlockerKind::Unmanaged => "to manage an object someone else made, add `lifecycle: { adopt: true }` to its \
                                   YAML block (or pin its `id:`); to leave it alone, give yours another name"
            .into(),
    }
}

fn blockers_block(st: Style, plan: &Plan, out: &mut String) {
    let active: Vec<&Blocker> = plan.active_blockers().collect();
    if !active.is_empty() {
        let _ = writeln!(out, "{}", st.red(&st.bold("The plan is blocked:")));
        for b in &active {
            let _ = writeln!(out, "  {} {}: {}", st.red("✗"), blocker_name(b), b.message);
        }
        let hints: BTreeSet<String> = active.iter().map(|b| blocker_hint(b)).collect();
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
        let _ = writeln!(out, "{}", st.bold(&account_header(a)));
        for (_, line) in account_lines(st, a).0 {
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
    }
    blockers_block(st, plan, &mut out);
    let _ = writeln!(out, "{}", st.bold(&summary_line(&plan.summary())));
    out
}

/// The longest Markdown rendering [`markdown`] produces, in bytes (so at most as many characters): below the
/// 65,536 characters GitHub accepts in a pull-request comment, with room for what a CI job wraps around it.
pub const MARKDOWN_LIMIT: usize = 60_000;

/// At most this many entries in a list above the fold (blockers, removals and pauses).
const LIST_LIMIT: usize = 25;

/// Room kept for the truncation notice and the per-account "lines cut" line.
const NOTICE_ROOM: usize = 700;

/// For pull-request comments, shaped like tfcmt's and Atlantis's: the plan's summary line, then above the fold
/// what needs a reviewer's attention (blockers; what the plan removes, pauses or replaces; overridden
/// guardrails), then one collapsible `<details>` per account whose `<summary>` carries the account's own counts
/// and spend change. Inside, a `diff` block in which only the first column colours a line: `+` creates and
/// list items added, `-` removals and list items removed, `!` updates, replaces and pauses; the action's own
/// mark (`+ ~ ± ‖ -`) follows, as in the terminal. At most [`MARKDOWN_LIMIT`] bytes: a longer plan is cut, with
/// a notice above the fold and where it was cut.
pub fn markdown(plan: &Plan) -> String {
    markdown_with_limit(plan, MARKDOWN_LIMIT)
}

/// [`markdown`] with another size limit (in bytes).
pub fn markdown_with_limit(plan: &Plan, limit: usize) -> String {
    let st = Style { color: false };
    let summary = plan.summary();
    let accounts: Vec<MdAccount> = plan.accounts.iter().map(|a| MdAccount::new(st, a)).collect();
    let fence = fence_for(accounts.iter().flat_map(|a| a.body.iter().map(String::as_str)));

    let mut head = String::from("### adsctl plan\n\n");
    let _ = writeln!(head, "**{}**\n", summary_line(&summary));
    attention_md(plan, &mut head);

    let mut full = head.clone();
    for a in &accounts {
        a.render(&fence, a.body.len(), &mut full);
    }
    if full.len() <= limit {
        return full;
    }
    let full_chars = full.chars().count();
    drop(full);

    // Too long: every account keeps its summary line while room lasts; bodies are filled in order.
    let total_lines: usize = accounts.iter().map(|a| a.body.len()).sum();
    let skeletons: Vec<usize> = accounts.iter().map(|a| a.skeleton_len(&fence)).collect();
    let mut body = String::new();
    let mut shown_lines = 0;
    let mut shown_accounts = 0;
    for (i, a) in accounts.iter().enumerate() {
        let rest: usize = skeletons[i + 1..].iter().sum();
        let used = head.len() + NOTICE_ROOM + body.len() + rest + skeletons[i];
        let Some(room) = limit.checked_sub(used) else { break };
        let mut n = 0;
        let mut len = 0;
        for line in &a.body {
            if len + line.len() + 2 > room {
                break;
            }
            len += line.len() + 2;
            n += 1;
        }
        a.render(&fence, n, &mut body);
        shown_lines += n;
        shown_accounts += 1;
    }
    let mut out = head;
    out.push_str("> [!NOTE]\n");
    let _ = writeln!(
        out,
        "> This plan is cut to fit a pull-request comment: the whole of it is {} characters, this comment holds \
         at most {} (GitHub takes 65,536). {} of its {} lines are shown{}. Every change is counted in the summary \
         line above; the full plan is in the output of `adsctl plan`.\n",
        crate::model::group_thousands(&full_chars.to_string()),
        crate::model::group_thousands(&limit.to_string()),
        crate::model::group_thousands(&shown_lines.to_string()),
        crate::model::group_thousands(&total_lines.to_string()),
        match accounts.len() - shown_accounts {
            0 => String::new(),
            n => format!(", and {n} of the {} accounts are left out", accounts.len()),
        }
    );
    out.push_str(&body);
    out
}

/// One account of the Markdown plan.
struct MdAccount {
    /// The `<summary>` content (HTML-escaped).
    summary: String,
    /// The `diff` block's lines, first column included.
    body: Vec<String>,
}

impl MdAccount {
    fn new(st: Style, a: &AccountPlan) -> MdAccount {
        let mut counts = Summary::default();
        for c in &a.changes {
            match c.action {
                Action::Create => counts.create += 1,
                Action::Update => counts.update += 1,
                Action::Adopt => counts.adopt += 1,
                Action::Replace => counts.replace += 1,
                Action::Pause => counts.pause += 1,
                Action::Remove => counts.remove += 1,
                Action::Orphan | Action::NoOp => counts.unchanged += 1,
            }
        }
        let parts: Vec<String> = [
            (counts.create, "to create"),
            (counts.update, "to update"),
            (counts.adopt, "to adopt"),
            (counts.replace, "to replace"),
            (counts.pause, "to pause"),
            (counts.remove, "to remove"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        let mut summary = format!(
            "<b>{}</b>{}",
            html(&a.account),
            html(&account_header(a)[a.account.len()..])
        );
        summary.push_str(" · ");
        summary.push_str(&if parts.is_empty() {
            "no changes".to_string()
        } else {
            parts.join(", ")
        });
        let s = &a.spend;
        if s.daily_before != s.daily_after {
            let _ = write!(
                summary,
                " · daily budget {}",
                html(&budget_change(s.daily_before, s.daily_after, a.currency))
            );
        }
        let body = account_lines(st, a)
            .0
            .into_iter()
            .map(|(mark, line)| {
                let first = match mark {
                    Mark::Create | Mark::Added => '+',
                    Mark::Remove | Mark::Removed => '-',
                    Mark::Change | Mark::Pause => '!',
                    Mark::Plain => ' ',
                };
                // Every line starts with at least two spaces of indentation: the first becomes the mark.
                let rest = line.strip_prefix(' ').unwrap_or(&line);
                format!("{first}{rest}")
            })
            .collect();
        MdAccount { summary, body }
    }

    fn open(&self, fence: &str) -> String {
        format!("<details><summary>{}</summary>\n\n{fence}diff\n", self.summary)
    }

    fn close(fence: &str) -> String {
        format!("{fence}\n\n</details>\n\n")
    }

    /// Its length with no body line (room for a "lines cut" line included).
    fn skeleton_len(&self, fence: &str) -> usize {
        self.open(fence).len() + Self::close(fence).len() + 80
    }

    /// The account with its first `n` body lines.
    fn render(&self, fence: &str, n: usize, out: &mut String) {
        out.push_str(&self.open(fence));
        for line in &self.body[..n] {
            out.push_str(line);
            out.push('\n');
        }
        if n < self.body.len() {
            let _ = writeln!(
                out,
                "  … {} more lines cut here (size limit; see `adsctl plan`)",
                crate::model::group_thousands(&(self.body.len() - n).to_string())
            );
        }
        out.push_str(&Self::close(fence));
    }
}

/// Above the fold: blockers, then what the plan removes, pauses or replaces, then overridden guardrails.
fn attention_md(plan: &Plan, out: &mut String) {
    let active: Vec<&Blocker> = plan.active_blockers().collect();
    if !active.is_empty() {
        out.push_str("> [!CAUTION]\n> **The plan is blocked**; nothing can be applied:\n");
        for b in active.iter().take(LIST_LIMIT) {
            let _ = writeln!(out, "> - **{}**: {}", blocker_name(b), md_text(&b.message));
        }
        more(active.len(), out);
        let hints: BTreeSet<String> = active.iter().map(|b| blocker_hint(b)).collect();
        for h in hints {
            // adsctl's own words, with their `code` spans
            let _ = writeln!(out, ">\n> hint: {}", html(&h));
        }
        out.push('\n');
    }
    let destructive: Vec<&Change> = plan
        .accounts
        .iter()
        .flat_map(|a| &a.changes)
        .filter(|c| matches!(c.action, Action::Remove | Action::Pause | Action::Replace))
        .collect();
    if !destructive.is_empty() {
        let count = |action: Action| destructive.iter().filter(|c| c.action == action).count();
        let parts: Vec<String> = [
            (count(Action::Remove), "removes"),
            (count(Action::Pause), "pauses"),
            (count(Action::Replace), "replaces (removes, then creates again)"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{what} {n}"))
        .collect();
        let _ = writeln!(
            out,
            "> [!WARNING]\n> This plan {} live resource{}:",
            parts.join(", "),
            if destructive.len() == 1 { "" } else { "s" }
        );
        // Removals first, then pauses, then replaces; within each, in address order.
        let mut sorted = destructive.clone();
        let rank = |a: Action| match a {
            Action::Remove => 0,
            Action::Pause => 1,
            _ => 2,
        };
        sorted.sort_by(|x, y| rank(x.action).cmp(&rank(y.action)).then(x.address.cmp(&y.address)));
        for c in sorted.iter().take(LIST_LIMIT) {
            let id =
                c.id.as_deref()
                    .map(|i| format!(" (id {})", md_text(i)))
                    .unwrap_or_default();
            let _ = writeln!(
                out,
                "> - `{}` **{}** {}{id}",
                symbol(c.action),
                c.action.as_str(),
                code_span(&c.address.to_string())
            );
        }
        more(sorted.len(), out);
        out.push('\n');
    }
    let overridden: Vec<&Blocker> = plan.blockers.iter().filter(|b| b.overridden).collect();
    if !overridden.is_empty() {
        out.push_str("> [!NOTE]\n> Overridden guardrails:\n");
        for b in overridden.iter().take(LIST_LIMIT) {
            let _ = writeln!(out, "> - **{}**: {}", blocker_name(b), md_text(&b.message));
        }
        more(overridden.len(), out);
        out.push('\n');
    }
}

fn more(total: usize, out: &mut String) {
    if total > LIST_LIMIT {
        let _ = writeln!(out, "> - … and {} more (below)", total - LIST_LIMIT);
    }
}

/// A fence longer than any run of backticks in the block.
fn fence_for<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let mut longest = 0;
    for l in lines {
        let mut run = 0;
        for c in l.chars() {
            if c == '`' {
                run += 1;
                longest = longest.max(run);
            } else {
                run = 0;
            }
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// Text in HTML (`<summary>`, and Markdown's inline HTML), escaped by the template crate of the HTML pages.
fn html(s: &str) -> String {
    maud::html! { (s) }.into_string()
}

/// Free text on a Markdown line: HTML escaped, Markdown's punctuation escaped, no line breaks, at most 300
/// characters.
fn md_text(s: &str) -> String {
    let mut out = String::new();
    for c in html(&clip(&s.replace(['\n', '\r'], " "), 300)).chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '[' | ']' | '|' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An inline code span holding `s` whatever backticks it contains.
fn code_span(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    if longest == 0 {
        format!("`{s}`")
    } else {
        let fence = "`".repeat(longest + 1);
        format!("{fence} {s} {fence}")
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
