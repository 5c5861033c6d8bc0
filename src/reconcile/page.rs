//! The dashboard at `/`: server-rendered, inline CSS, one script of our own (`/assets/dashboard.js`), no external
//! URL. Without the script the page is complete (it reloads itself every 15 s and the quick actions are plain
//! forms posting to the API); with it, the actions run in place with an operator token kept in the tab, their
//! results are announced, the token countdowns tick and the cards refresh without a reload.
//!
//! Built with `maud`: every piece of text (account names, drift addresses, plan values, errors, hints) is escaped
//! by the template itself; only the constant style sheet is inserted as it is.
//!
//! Above the accounts, one card per platform sums its integrations ([`super::integrations`]): the worst token
//! status as a colour-coded badge, the last sync, the soonest token expiry, the campaign count, and spend (exact,
//! per currency) and impressions over the last [`USAGE_DAYS`] days. Each account's card adds its token, last
//! apply, rate limit, review problems, the latest plan with its diff, and the quick actions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::integrations::{Integration, USAGE_DAYS};
use super::status::{AccountHealth, AccountStatus, Snapshot};
use crate::auth::TokenStatus;
use crate::metrics::report::{money_str, parse_money};
use crate::model::{Currency, Money, Platform};

/// The dashboard's script, served at [`SCRIPT_PATH`] (a file of its own, so the page's Content-Security-Policy
/// can forbid inline scripts).
pub const SCRIPT: &str = include_str!("dashboard.js");
pub const SCRIPT_PATH: &str = "/assets/dashboard.js";

/// The page's Content-Security-Policy: its own script and requests only, inline style, no frames, no plugins,
/// forms posting to the daemon only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// "3 min ago", "in 2 h", …
fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let a = secs.unsigned_abs();
    let amount = if a < 60 {
        format!("{a} s")
    } else if a < 3600 {
        format!("{} min", a / 60)
    } else if a < 86_400 {
        format!("{} h", a / 3600)
    } else {
        format!("{} d", a / 86_400)
    };
    if secs < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// A moment as a `<time>` element (relative, with the exact time on hover), or `never` when there is none.
fn when(t: Option<DateTime<Utc>>, now: DateTime<Utc>, never: &str) -> Markup {
    html! {
        @match t {
            Some(t) => time datetime=(t.to_rfc3339()) title=(t.format("%Y-%m-%d %H:%M:%S UTC").to_string()) {
                (relative(t, now))
            },
            None => (never),
        }
    }
}

/// A token's end as a countdown the script keeps ticking (`data-countdown`).
fn countdown(t: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(t.to_rfc3339()) data-countdown title=(t.format("%Y-%m-%d %H:%M:%S UTC").to_string()) {
            @if t <= now { "expired " (relative(t, now)) } @else { "expires " (relative(t, now)) }
        }
    }
}

fn health_label(h: AccountHealth) -> &'static str {
    match h {
        AccountHealth::Pending => "pending",
        AccountHealth::InSync => "in sync",
        AccountHealth::Drifted => "drifted",
        AccountHealth::Blocked => "blocked",
        AccountHealth::Failing => "failing",
    }
}

/// How bad a token status is, for a platform's badge (its worst account): errors first, then what a person must
/// renew, then what is missing.
fn severity(s: TokenStatus) -> u8 {
    match s {
        TokenStatus::Active => 0,
        TokenStatus::Missing => 1,
        TokenStatus::Expiring => 2,
        TokenStatus::Expired => 3,
        TokenStatus::Invalid => 4,
        TokenStatus::Error => 5,
    }
}

/// The badge's colour class: green, amber, red or grey.
fn token_class(s: TokenStatus) -> &'static str {
    match s {
        TokenStatus::Active => "ok",
        TokenStatus::Expiring => "warn",
        TokenStatus::Expired | TokenStatus::Invalid | TokenStatus::Error => "bad",
        TokenStatus::Missing => "none",
    }
}

/// The platform's name in messages (`Google Ads`), from its home; the `platform:` value otherwise.
fn platform_name(platform: &str) -> String {
    serde_json::from_value::<Platform>(serde_json::Value::String(platform.to_string()))
        .ok()
        .and_then(crate::platforms::home)
        .map_or_else(|| platform.to_string(), |h| h.display_name().to_string())
}

/// Drift addresses shown on a card; the others are counted.
const DRIFT_SHOWN: usize = 5;
/// Changes of the latest plan shown on a card, and fields per change.
const CHANGES_SHOWN: usize = 20;
const FIELDS_SHOWN: usize = 8;
/// Longest value shown in a plan's diff (characters); longer ones are cut with `…`.
const VALUE_CHARS: usize = 80;

/// One platform's card: its integrations summed.
struct PlatformSummary<'a> {
    platform: &'a str,
    integrations: Vec<&'a Integration>,
}

impl PlatformSummary<'_> {
    fn worst_token(&self) -> TokenStatus {
        self.integrations
            .iter()
            .map(|i| i.token.status)
            .max_by_key(|s| severity(*s))
            .unwrap_or(TokenStatus::Missing)
    }

    fn last_sync(&self) -> Option<DateTime<Utc>> {
        self.integrations.iter().filter_map(|i| i.last_read_at).max()
    }

    fn soonest_expiry(&self) -> Option<DateTime<Utc>> {
        self.integrations.iter().filter_map(|i| i.token.expires_at).min()
    }

    /// Campaigns summed over the accounts that have been read; `None` when none has.
    fn campaigns(&self) -> Option<usize> {
        let known: Vec<usize> = self.integrations.iter().filter_map(|i| i.campaigns).collect();
        (!known.is_empty()).then(|| known.iter().sum())
    }

    /// Spend per currency, summed exactly (integer micros); an amount that does not parse is left out and
    /// counted in the second value.
    fn spend(&self) -> (BTreeMap<String, String>, usize) {
        let mut sums: BTreeMap<String, (Currency, Money)> = BTreeMap::new();
        let mut unreadable = 0;
        for i in &self.integrations {
            for (code, amount) in &i.spend {
                match (Currency::from_code(code), parse_money(amount)) {
                    (Ok(c), Ok(m)) => {
                        let e = sums.entry(code.clone()).or_insert((c, Money::from_micros(0)));
                        e.1 = Money::from_micros(e.1.micros().saturating_add(m.micros()));
                    }
                    _ => unreadable += 1,
                }
            }
        }
        let shown = sums.into_iter().map(|(code, (c, m))| (code, money_str(m, c))).collect();
        (shown, unreadable)
    }

    fn impressions(&self) -> u64 {
        self.integrations.iter().map(|i| i.impressions).sum()
    }
}

fn platforms(integrations: &[Integration]) -> Vec<PlatformSummary<'_>> {
    let mut by: BTreeMap<&str, Vec<&Integration>> = BTreeMap::new();
    for i in integrations {
        by.entry(i.platform.as_str()).or_default().push(i);
    }
    by.into_iter()
        .map(|(platform, integrations)| PlatformSummary { platform, integrations })
        .collect()
}

fn spend_list(spend: &BTreeMap<String, String>) -> Markup {
    html! {
        @if spend.is_empty() {
            "none recorded"
        } @else {
            @for (i, (code, amount)) in spend.iter().enumerate() {
                @if i > 0 { ", " }
                span class="money" { (amount) " " (code) }
            }
        }
    }
}

fn platform_card(p: &PlatformSummary, now: DateTime<Utc>) -> Markup {
    let worst = p.worst_token();
    let (spend, unreadable) = p.spend();
    let id = format!("platform-{}", p.platform);
    html! {
        section class={ "pcard " (token_class(worst)) } data-platform=(p.platform) aria-labelledby=(id) {
            "\n"
            header {
                h3 id=(id) { (platform_name(p.platform)) }
                span class={ "badge " (token_class(worst)) } title="the worst token status of its accounts" {
                    (worst.as_str())
                }
            }
            dl {
                dt { "Accounts" }
                dd { (p.integrations.len()) }
                dt { "Campaigns" }
                dd {
                    @match p.campaigns() {
                        Some(n) => (n),
                        None => "unknown",
                    }
                }
                dt { "Spend (" (USAGE_DAYS) " d)" }
                dd {
                    (spend_list(&spend))
                    @if unreadable > 0 { " " small class="bad" { "(" (unreadable) " amount(s) unreadable)" } }
                }
                dt { "Impressions (" (USAGE_DAYS) " d)" }
                dd { (p.impressions()) }
                dt { "Last sync" }
                dd { (when(p.last_sync(), now, "never")) }
                dt { "Token expiry" }
                dd {
                    @match p.soonest_expiry() {
                        Some(t) => (countdown(t, now)),
                        None => "none ends",
                    }
                }
            }
            "\n"
        }
    }
}

/// A plan value as short text.
fn plain(v: Option<&serde_json::Value>) -> String {
    let text = match v {
        None | Some(serde_json::Value::Null) => "∅".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(xs)) if xs.len() > 3 => format!("[{} values]", xs.len()),
        Some(other) => other.to_string(),
    };
    if text.chars().count() > VALUE_CHARS {
        let cut: String = text.chars().take(VALUE_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn action_sign(action: &str) -> &'static str {
    match action {
        "create" => "+",
        "remove" => "-",
        "replace" => "-/+",
        "update" | "adopt" => "~",
        "pause" => "‖",
        "orphan" => "⊘",
        _ => "?",
    }
}

/// The latest plan's changes (no-ops left out), as the plan's text output lists them.
/// `applied`: the plan's changes were applied by that reconcile (nothing is pending), so they are history.
fn plan_diff(plan: &serde_json::Value, applied: bool) -> Markup {
    let changes: Vec<&serde_json::Value> = plan
        .get("accounts")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("changes").and_then(|c| c.as_array()))
        .flatten()
        .filter(|c| !matches!(c.get("action").and_then(|a| a.as_str()), Some("no_op") | None))
        .collect();
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    html! {
        @if plan.is_null() {
            p class="muted" { "No plan yet." }
        } @else if changes.is_empty() {
            p class="muted" { "No changes: the account matches the YAML." }
        } @else {
            details {
                summary { (changes.len()) " change(s)" @if applied { ", applied" } }
                ul class="diff" {
                    @for c in changes.iter().take(CHANGES_SHOWN) {
                        @let action = text(c, "action");
                        li class={ "chg " (action) } {
                            code { (action_sign(&action)) " " (text(c, "address")) } " " span class="muted" { (action) }
                            @let fields = c.get("fields").and_then(|f| f.as_array()).cloned().unwrap_or_default();
                            @if !fields.is_empty() && action != "remove" {
                                ul {
                                    @for f in fields.iter().take(FIELDS_SHOWN) {
                                        li {
                                            code { (text(f, "field")) } ": "
                                            @if action == "create" {
                                                (plain(f.get("after_plain")))
                                            } @else {
                                                del { (plain(f.get("before_plain"))) } " → " ins { (plain(f.get("after_plain"))) }
                                            }
                                            @if f.get("drift").and_then(|d| d.as_bool()) == Some(true) {
                                                " " small class="warn-text" { "(drift)" }
                                            }
                                        }
                                    }
                                    @if fields.len() > FIELDS_SHOWN {
                                        li { "… " (fields.len() - FIELDS_SHOWN) " more field(s)" }
                                    }
                                }
                            }
                        }
                    }
                    @if changes.len() > CHANGES_SHOWN {
                        li { "… " (changes.len() - CHANGES_SHOWN) " more change(s): see " a href="/api/v1/plan" { "the plan JSON" } }
                    }
                }
            }
        }
    }
}

/// The quick actions of one integration: plain forms posting to the API (the script runs them in place, with
/// the operator token of the tab).
fn actions(account: &str) -> Markup {
    let enc = utf8_percent(account);
    let items: [(&str, String, &str, Option<&str>); 5] = [
        (
            "reconcile",
            format!("/api/v1/accounts/{enc}/reconcile"),
            "Reconcile now",
            None,
        ),
        (
            "validate",
            format!("/api/v1/integrations/{enc}/validate"),
            "Validate",
            None,
        ),
        (
            "refresh",
            format!("/api/v1/integrations/{enc}/refresh"),
            "Refresh token",
            None,
        ),
        (
            "connect",
            format!("/api/v1/integrations/{enc}/connect"),
            "Connect",
            None,
        ),
        (
            "disconnect",
            format!("/api/v1/integrations/{enc}/disconnect"),
            "Disconnect",
            Some(
                "Disconnect this account? Its tokens are revoked where the platform allows and removed from the vault.",
            ),
        ),
    ];
    html! {
        div class="actions" role="group" aria-label={ "Actions for " (account) } {
            @for (name, href, label, confirm) in &items {
                form method="post" action=(href) data-action=(name) data-confirm=[confirm] {
                    button type="submit" class={ "btn " (name) } { (label) }
                }
            }
        }
        p class="result" role="status" aria-live="polite" {}
    }
}

/// Percent-encode a path segment (account names may hold spaces and slashes).
fn utf8_percent(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn token_row(i: Option<&Integration>, a: &AccountStatus, now: DateTime<Utc>) -> Markup {
    html! {
        @match i {
            Some(i) => {
                span class={ "badge " (token_class(i.token.status)) } { (i.token.status.as_str()) }
                @if let Some(src) = &i.token.source { " " small class="muted" { "from " (src) } }
                " "
                @match i.token.expires_at.or(a.token_expires_at) {
                    Some(t) => (countdown(t, now)),
                    None if i.token.never_expires => "never expires",
                    None => "",
                }
                @if let Some(h) = &i.token.hint {
                    br;
                    small { "hint: " (h) }
                }
            },
            None => {
                @match a.token_expires_at {
                    Some(t) => (countdown(t, now)),
                    None => "unknown",
                }
            },
        }
    }
}

fn card(a: &AccountStatus, i: Option<&Integration>, now: DateTime<Utc>) -> Markup {
    let cls = a.status.as_str();
    let id = format!("account-{}", a.account);
    html! {
        section class={ "card " (cls) } data-account=(a.account) data-platform=(a.platform) aria-labelledby=(id) {
            "\n"
            header {
                h3 id=(id) { (a.account) }
                span class="platform" { (platform_name(&a.platform)) }
                span class={ "pill " (cls) } { (health_label(a.status)) }
            }
            "\n"
            div class="body" {
            dl {
                dt { "Last sync" }
                dd { (when(a.last_sync, now, "never")) }
                @if let Some(i) = i {
                    dt { "Last apply" }
                    dd { (when(i.last_apply_at, now, "none by this daemon")) }
                }
                dt { "Token" }
                dd { (token_row(i, a, now)) }
                dt { "Drift" }
                dd {
                    @if a.drift.is_empty() {
                        "none"
                    } @else {
                        (a.drift.len()) " resource(s)"
                        ul {
                            @for d in a.drift.iter().take(DRIFT_SHOWN) {
                                li { code { (d) } }
                            }
                            @if a.drift.len() > DRIFT_SHOWN {
                                li { "… " (a.drift.len() - DRIFT_SHOWN) " more" }
                            }
                        }
                    }
                }
                dt { "Spend today" }
                dd { (a.spend_today.as_deref().unwrap_or("unknown")) }
                dt { "Clicks today" }
                dd {
                    @match a.clicks_today {
                        Some(c) => (c),
                        None => "unknown",
                    }
                }
                @if let Some(i) = i {
                    dt { "Campaigns" }
                    dd {
                        @match i.campaigns {
                            Some(n) => (n),
                            None => "unknown",
                        }
                    }
                }
                dt { "Pending" }
                dd { (a.pending.to_string()) }
                @if !a.review_issues.is_empty() {
                    dt { "Review" }
                    dd {
                        ul {
                            @for r in a.review_issues.iter().take(5) {
                                li { code { (r.address) } " " (r.status) }
                            }
                            @if a.review_issues.len() > 5 {
                                li { "… " (a.review_issues.len() - 5) " more" }
                            }
                        }
                    }
                }
                @if !a.blocked.is_empty() {
                    dt { "Guardrails" }
                    dd {
                        ul class="bad" {
                            @for b in &a.blocked {
                                li { (b) }
                            }
                        }
                    }
                }
                @if let Some((at, rl)) = i.and_then(|i| i.rate_limit.last_signal_at.map(|at| (at, &i.rate_limit))) {
                    dt { "Rate limit" }
                    dd {
                        @match rl.waiting_until {
                            Some(t) if t > now => { "waiting until " (when(Some(t), now, "")) },
                            _ => { "last slowed " (when(Some(at), now, "")) " (" (format!("{:.1}", rl.last_wait_seconds)) " s)" },
                        }
                    }
                }
                @if let Some(e) = &a.last_error {
                    dt { "Last error" }
                    dd {
                        span class="bad" { (e.message) }
                        @if let Some(h) = &e.hint {
                            br;
                            small { "hint: " (h) }
                        }
                        " "
                        small { "(" (a.consecutive_failures) " failure(s) in a row)" }
                    }
                }
                dt { "Next run" }
                dd { (when(a.next_reconcile_at, now, if a.reconciling { "running now" } else { "—" })) }
            }
            "\n"
            h4 { "Latest plan" }
            (plan_diff(&a.plan, a.pending.total() == 0 && a.last_applied.total() > 0))
            }
            "\n"
            (actions(&a.account))
            "\n"
        }
        "\n"
    }
}

const STYLE: &str = r#"
:root{--ok:#1a7f37;--warn:#7d4e00;--bad:#c21c2a;--muted:#57606a;--none:#57606a;--bg:#f6f8fa;--card:#fff;--line:#d0d7de;--focus:#0550ae}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:#1f2328}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:9}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 10px}.sub{color:var(--muted);margin:0 0 16px}
.banner{padding:10px 14px;border-radius:6px;margin:0 0 16px;border:1px solid var(--line);background:var(--card)}
.banner.bad{border-color:var(--bad);color:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:16px}
.pgrid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:16px}
.card,.pcard{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--muted);border-radius:6px;padding:14px 16px}
.card.in_sync,.pcard.ok{border-left-color:var(--ok)}.card.drifted,.card.blocked,.pcard.warn{border-left-color:var(--warn)}.card.failing,.pcard.bad{border-left-color:var(--bad)}
header{display:flex;align-items:center;gap:8px;flex-wrap:wrap}h3{font-size:16px;margin:0;flex:1}h4{font-size:13px;margin:12px 0 4px;color:var(--muted)}
.platform,.muted{color:var(--muted);font-size:12px}
.pill,.badge{font-size:12px;padding:1px 8px;border-radius:10px;color:#fff;background:var(--muted)}
.pill.in_sync,.badge.ok{background:var(--ok)}.pill.drifted,.pill.blocked,.badge.warn{background:var(--warn)}.pill.failing,.badge.bad{background:var(--bad)}
dl{display:grid;grid-template-columns:150px 1fr;gap:4px 8px;margin:12px 0 0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
ul{margin:2px 0 0;padding-left:18px}.bad{color:var(--bad)}.warn-text{color:var(--warn)}code{font-size:12px}
.diff{list-style:none;padding-left:0}.diff ul{list-style:none;padding-left:16px}.chg.create code{color:var(--ok)}.chg.remove code,.chg.replace code{color:var(--bad)}
del{color:var(--bad)}ins{color:var(--ok);text-decoration:none}
.actions{display:flex;flex-wrap:wrap;gap:6px;margin-top:12px}.actions form{margin:0}
.btn{font:inherit;font-size:13px;padding:4px 10px;border:1px solid var(--line);border-radius:6px;background:#f6f8fa;color:#1f2328;cursor:pointer}
.btn:hover{background:#eaeef2}.btn.reconcile{background:#1f883d;border-color:#1a7f37;color:#fff}.btn.disconnect{color:var(--bad)}
.btn[disabled]{opacity:.6;cursor:progress}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.result{min-height:1.4em;margin:8px 0 0;font-size:13px}.result.ok{color:var(--ok)}.result.bad{color:var(--bad)}
.tokenbar{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:0 0 16px;padding:10px 14px;border:1px solid var(--line);border-radius:6px;background:var(--card)}
.tokenbar input{font:inherit;padding:3px 6px;border:1px solid #8c959f;border-radius:6px;min-width:260px}
footer{color:var(--muted);margin-top:20px;font-size:12px}footer a{color:var(--focus)}
"#;

/// The state of the config directory, above the cards.
fn banner(s: &Snapshot, now: DateTime<Utc>) -> Markup {
    let cfg = &s.config;
    html! {
        @if !cfg.loaded {
            div class="banner bad" id="config" role="alert" {
                "No valid configuration loaded yet"
                @if let Some(e) = &cfg.error { ": " (e) }
            }
        } @else if !cfg.valid {
            div class="banner bad" id="config" role="alert" {
                "The last edit is invalid and was not applied; still reconciling generation " (cfg.generation) ": "
                (cfg.error.as_deref().unwrap_or(""))
                ul {
                    @for d in &cfg.diagnostics {
                        li { code { (d) } }
                    }
                }
            }
        } @else {
            div class="banner" id="config" {
                "Configuration generation " (cfg.generation) " loaded " (when(cfg.loaded_at, now, "never"))
            }
        }
    }
}

/// The operator token box, shown by the script (without it, actions are plain form posts, taken without a token
/// on loopback while no API token exists).
fn token_bar() -> Markup {
    html! {
        form class="tokenbar" id="tokenbar" hidden {
            label for="api-token" { "Operator token" }
            input id="api-token" name="token" type="password" autocomplete="off" spellcheck="false"
                aria-describedby="api-token-help";
            button type="submit" class="btn" id="token-use" { "Use for actions" }
            button type="button" class="btn" id="token-forget" { "Forget" }
            span id="api-token-help" class="muted" {
                "Actions need an operator token once API tokens exist (adsctl api-token create NAME --role operator). "
                "It stays in this tab only and is sent as a bearer header, never as a cookie."
            }
            span id="token-state" class="muted" role="status" aria-live="polite" {}
        }
    }
}

/// The whole page: the daemon's status and its integrations ([`super::integrations::integrations`]).
pub fn render(s: &Snapshot, integrations: &[Integration], now: DateTime<Utc>) -> String {
    let by_account: BTreeMap<&str, &Integration> = integrations.iter().map(|i| (i.account.as_str(), i)).collect();
    let page = html! {
        (DOCTYPE) "\n"
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                meta name="referrer" content="no-referrer";
                noscript { meta http-equiv="refresh" content="15"; }
                title { "adsctl dashboard" }
                style { (PreEscaped(STYLE)) }
                script src=(SCRIPT_PATH) defer {}
            }
            "\n"
            body {
                a class="skip" href="#accounts" { "Skip to the accounts" }
                main {
                    "\n"
                    h1 { "adsctl dashboard" }
                    p class="sub" {
                        "mode " b { (s.daemon.mode.as_str()) }
                        " · every " (humanize(s.daemon.interval_seconds))
                        " · up since " (when(Some(s.daemon.started_at), now, ""))
                        @if s.daemon.shutting_down { " · shutting down" }
                    }
                    "\n"
                    (banner(s, now))
                    "\n"
                    (token_bar())
                    "\n"
                    section id="platforms" aria-labelledby="platforms-h" {
                        h2 id="platforms-h" { "Platforms" }
                        @if integrations.is_empty() {
                            p { "No integrations yet." }
                        } @else {
                            div class="pgrid" {
                                "\n"
                                @for p in platforms(integrations) {
                                    (platform_card(&p, now))
                                }
                            }
                        }
                    }
                    "\n"
                    section id="accounts" aria-labelledby="accounts-h" {
                        h2 id="accounts-h" { "Accounts" }
                        @if s.accounts.is_empty() {
                            p { "No accounts configured." }
                        } @else {
                            div class="grid" {
                                "\n"
                                @for a in &s.accounts {
                                    (card(a, by_account.get(a.account.as_str()).copied(), now))
                                }
                            }
                        }
                    }
                    "\n"
                    footer {
                        "adsctl " (s.daemon.version) " · "
                        a href="/api/v1/status" { "status JSON" }
                        " · "
                        a href="/api/v1/integrations" { "integrations JSON" }
                        " · "
                        a href="/api/v1/plan" { "plan JSON" }
                        " · "
                        a href="/metrics" { "metrics" }
                    }
                    "\n"
                }
            }
        }
        "\n"
    };
    page.into_string()
}

fn humanize(secs: f64) -> String {
    if secs >= 3600.0 && secs % 3600.0 == 0.0 {
        format!("{} h", secs / 3600.0)
    } else if secs >= 60.0 && secs % 60.0 == 0.0 {
        format!("{} min", secs / 60.0)
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::super::status::{ConfigStatus, DaemonInfo, ErrorInfo};
    use super::super::{Mode, PlanSummary, ReviewIssue};
    use super::*;

    /// A campaign name written to break out of an element or an attribute.
    const HOSTILE: &str = "<script>alert(1)</script> \"&'";
    const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;'";

    fn account(name: &str) -> AccountStatus {
        let now = Utc::now();
        AccountStatus {
            account: name.into(),
            platform: "google_ads".into(),
            currency: "USD".into(),
            status: AccountHealth::Failing,
            reconciling: false,
            last_attempt: Some(now),
            last_sync: Some(now - chrono::Duration::seconds(200)),
            last_error: Some(ErrorInfo {
                kind: "platform".into(),
                message: format!("campaign {HOSTILE} refused & \"quoted\""),
                hint: Some(format!("rename {HOSTILE}")),
                at: now,
            }),
            consecutive_failures: 3,
            next_reconcile_at: Some(now + chrono::Duration::seconds(4000)),
            drift: (0..7).map(|i| format!("{name}/campaign/{HOSTILE}{i}")).collect(),
            pending: PlanSummary {
                create: 1,
                update: 0,
                remove: 2,
            },
            last_applied: PlanSummary::default(),
            blocked: vec![format!("budget of {HOSTILE} too high")],
            review_issues: vec![ReviewIssue {
                address: format!("{name}/campaign/{HOSTILE}"),
                status: "DISAPPROVED".into(),
                detail: String::new(),
            }],
            token_expires_at: Some(now - chrono::Duration::seconds(10)),
            spend_today: Some("$1.00".into()),
            clicks_today: Some(12),
            reconciles: 3,
            plan: serde_json::json!({"accounts": [{"changes": [
                {"address": format!("{name}/campaign/{HOSTILE}"), "kind": "campaign", "action": "update",
                 "fields": [{"field": "budget.daily", "before_plain": "50.00", "after_plain": format!("60.00{HOSTILE}")}]},
                {"address": format!("{name}/campaign/Kept"), "kind": "campaign", "action": "no_op", "fields": []},
                {"address": format!("{name}/ad_group/New"), "kind": "ad_group", "action": "create",
                 "fields": [{"field": "cpc_bid", "after_plain": "1.20"}]},
            ]}]}),
        }
    }

    fn integration(
        now: DateTime<Utc>,
        name: &str,
        platform: &str,
        status: TokenStatus,
        spend: &[(&str, &str)],
        expires_in: i64,
    ) -> Integration {
        Integration {
            id: name.into(),
            account: name.into(),
            platform: platform.into(),
            currency: "USD".into(),
            sync_status: "in_sync".into(),
            token: super::super::integrations::TokenInfo {
                status,
                expires_at: Some(now + chrono::Duration::seconds(expires_in)),
                never_expires: false,
                source: Some("vault".into()),
                hint: None,
            },
            last_read_at: Some(now - chrono::Duration::seconds(expires_in.abs() % 600)),
            last_apply_at: None,
            last_error: None,
            review_problems: Default::default(),
            rate_limit: Default::default(),
            campaigns: Some(3),
            spend: spend.iter().map(|(c, a)| (c.to_string(), a.to_string())).collect(),
            impressions: 1000,
        }
    }

    fn snapshot(valid: bool, accounts: Vec<AccountStatus>) -> Snapshot {
        let now = Utc::now();
        Snapshot {
            daemon: DaemonInfo {
                version: "0.1.0",
                mode: Mode::Observe,
                interval_seconds: 300.0,
                started_at: now - chrono::Duration::hours(2),
                shutting_down: false,
                state_open: true,
                replica: None,
            },
            config: ConfigStatus {
                loaded: true,
                valid,
                generation: 4,
                loaded_at: Some(now),
                error: Some(format!("campaigns.yaml: unknown field {HOSTILE}")),
                diagnostics: vec![format!("campaigns.yaml:3:5: {HOSTILE}")],
                failed_at: None,
                read_error: None,
                read_retry_at: None,
            },
            accounts,
        }
    }

    #[test]
    fn user_text_is_escaped_everywhere_it_is_printed() {
        let page = render(&snapshot(false, vec![account("a\"b<c>")]), &[], Utc::now());
        // Nothing the user or a platform wrote opens an element or leaves an attribute.
        assert_eq!(page.matches("<script").count(), 1, "only our own script: {page}");
        assert!(!page.contains("a\"b"), "{page}");
        assert!(!page.contains("\"&'"), "{page}");
        assert!(
            page.contains(&format!("<code>a&quot;b&lt;c&gt;/campaign/{ESCAPED}0</code>")),
            "{page}"
        );
        assert!(page.contains("data-account=\"a&quot;b&lt;c&gt;\""), "{page}");
        assert!(page.contains("refused &amp; &quot;quoted&quot;"), "{page}");
        // The escaped texts are all there: error, hint, drift, review, guardrail, config error and diagnostic, and
        // the plan's address and value.
        assert_eq!(
            page.matches("&lt;script&gt;").count(),
            1 + 1 + 5 + 1 + 1 + 1 + 1 + 2,
            "{page}"
        );
        assert!(page.contains("<li>… 2 more</li>"), "{page}");
        // The style sheet is the one thing inserted as it is.
        assert!(page.contains("\"Segoe UI\""), "{page}");
    }

    #[test]
    fn a_card_shows_every_row() {
        let now = Utc::now();
        let page = render(
            &snapshot(true, vec![account("search")]),
            &[integration(now, "search", "google_ads", TokenStatus::Active, &[], 100)],
            now,
        );
        for label in [
            "Last sync",
            "Token",
            "Drift",
            "Spend today",
            "Clicks today",
            "Pending",
            "Review",
            "Guardrails",
            "Last error",
            "Next run",
        ] {
            assert!(page.contains(&format!("<dt>{label}</dt>")), "{label}: {page}");
        }
        assert!(page.contains("<dt>Clicks today</dt><dd>12</dd>"), "{page}");
        assert!(
            page.contains("<dt>Pending</dt><dd>1 to create, 2 to remove</dd>"),
            "{page}"
        );
        assert!(
            page.contains(
                "<span class=\"badge ok\">active</span> <small class=\"muted\">from vault</small> <time datetime=\""
            ),
            "{page}"
        );
        assert!(
            page.contains("data-countdown") && page.contains(">expires in 1 min</time>"),
            "{page}"
        );
        assert!(page.contains("<small>(3 failure(s) in a row)</small>"), "{page}");
        assert!(
            page.contains(
                "<section class=\"card failing\" data-account=\"search\" data-platform=\"google_ads\" aria-labelledby=\"account-search\">"
            ),
            "{page}"
        );
        assert!(page.contains("Configuration generation 4 loaded <time"), "{page}");
        assert!(
            page.contains("mode <b>observe</b> · every 5 min · up since <time"),
            "{page}"
        );
        assert!(page
            .to_ascii_lowercase()
            .starts_with("<!doctype html>\n<html lang=\"en\">"));
        let empty = render(&snapshot(true, vec![]), &[], now);
        assert!(empty.contains("<p>No accounts configured.</p>"), "{empty}");
    }

    #[test]
    fn platform_cards_sum_their_accounts_exactly_and_show_the_worst_token() {
        let now = Utc::now();
        let integrations = vec![
            integration(
                now,
                "search",
                "google_ads",
                TokenStatus::Active,
                &[("USD", "10.50"), ("EUR", "0.10")],
                7200,
            ),
            integration(
                now,
                "brand",
                "google_ads",
                TokenStatus::Expired,
                &[("USD", "0.75")],
                -120,
            ),
            integration(
                now,
                "social",
                "meta",
                TokenStatus::Active,
                &[("USD", "0.1"), ("USD2", "x")],
                86_400 * 3,
            ),
        ];
        let accounts = vec![account("search"), account("brand"), account("social")];
        let page = render(&snapshot(true, accounts), &integrations, now);
        let google = page
            .split("data-platform=\"google_ads\"")
            .nth(1)
            .and_then(|p| p.split("</section>").next())
            .expect("a Google Ads card");
        assert!(
            page.contains("<section class=\"pcard bad\" data-platform=\"google_ads\""),
            "{page}"
        );
        assert!(
            google.contains("<h3 id=\"platform-google_ads\">Google Ads</h3>"),
            "{google}"
        );
        assert!(
            google.contains(">expired</span>"),
            "the worst of active and expired: {google}"
        );
        // 10.50 + 0.75, exactly; each currency on its own.
        assert!(
            google.contains("<span class=\"money\">0.10 EUR</span>, <span class=\"money\">11.25 USD</span>"),
            "{google}"
        );
        assert!(
            google.contains("<dt>Accounts</dt><dd>2</dd><dt>Campaigns</dt><dd>6</dd>"),
            "{google}"
        );
        assert!(google.contains("<dd>2000</dd>"), "impressions summed: {google}");
        // The soonest expiry, already past.
        assert!(
            google.contains("data-countdown") && google.contains(">expired 2 min ago</time>"),
            "{google}"
        );
        let meta = page.split("data-platform=\"meta\"").nth(1).unwrap();
        assert!(
            page.contains("<section class=\"pcard ok\" data-platform=\"meta\""),
            "{page}"
        );
        assert!(
            meta.contains("0.10 USD") && meta.contains("(1 amount(s) unreadable)"),
            "{meta}"
        );
    }

    #[test]
    fn the_latest_plan_and_the_quick_actions() {
        let now = Utc::now();
        let page = render(&snapshot(true, vec![account("a b/c")]), &[], now);
        assert!(
            page.contains("<summary>2 change(s)</summary>"),
            "no-ops left out: {page}"
        );
        assert!(page.contains("<del>50.00</del> → <ins>60.00&lt;script&gt;"), "{page}");
        assert!(page.contains("<code>+ a b/c/ad_group/New</code>"), "{page}");
        assert!(page.contains("<code>cpc_bid</code>: 1.20"), "{page}");
        for (action, path) in [
            ("reconcile", "/api/v1/accounts/a%20b%2Fc/reconcile"),
            ("validate", "/api/v1/integrations/a%20b%2Fc/validate"),
            ("refresh", "/api/v1/integrations/a%20b%2Fc/refresh"),
            ("connect", "/api/v1/integrations/a%20b%2Fc/connect"),
            ("disconnect", "/api/v1/integrations/a%20b%2Fc/disconnect"),
        ] {
            assert!(
                page.contains(&format!(
                    "<form method=\"post\" action=\"{path}\" data-action=\"{action}\""
                )),
                "{action}: {page}"
            );
        }
        assert!(page.contains("data-confirm=\"Disconnect this account?"), "{page}");
        // One script, our own, and no inline one (the CSP forbids them).
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(
            page.contains("<script src=\"/assets/dashboard.js\" defer></script>"),
            "{page}"
        );
        // The token box has a label, and is a password field kept out of autocomplete.
        assert!(
            page.contains("<label for=\"api-token\">Operator token</label>"),
            "{page}"
        );
        assert!(page.contains("type=\"password\" autocomplete=\"off\""), "{page}");
        let none = render(
            &snapshot(
                true,
                vec![{
                    let mut a = account("x");
                    a.plan = serde_json::Value::Null;
                    a
                }],
            ),
            &[],
            now,
        );
        assert!(none.contains("No plan yet."), "{none}");
    }

    #[test]
    fn relative_times() {
        let now = Utc::now();
        assert_eq!(relative(now - chrono::Duration::seconds(125), now), "2 min ago");
        assert_eq!(relative(now + chrono::Duration::hours(3), now), "in 3 h");
    }
}
