//! The read-only HTML status page at `/`: server-rendered, inline CSS, no script, no external URL.
//!
//! Built with `maud`: every piece of text (account names, drift addresses, errors, hints) is escaped by the
//! template itself; only the constant style sheet is inserted as it is.

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::status::{AccountHealth, AccountStatus, Snapshot};

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

fn health_label(h: AccountHealth) -> &'static str {
    match h {
        AccountHealth::Pending => "pending",
        AccountHealth::InSync => "in sync",
        AccountHealth::Drifted => "drifted",
        AccountHealth::Blocked => "blocked",
        AccountHealth::Failing => "failing",
    }
}

/// Drift addresses shown on a card; the others are counted.
const DRIFT_SHOWN: usize = 5;

fn card(a: &AccountStatus, now: DateTime<Utc>) -> Markup {
    let cls = a.status.as_str();
    html! {
        section class={ "card " (cls) } data-account=(a.account) {
            "\n"
            header {
                h2 { (a.account) }
                span class="platform" { (a.platform) }
                span class={ "pill " (cls) } { (health_label(a.status)) }
            }
            "\n"
            dl {
                dt { "Last sync" }
                dd { (when(a.last_sync, now, "never")) }
                dt { "Token" }
                dd {
                    @match a.token_expires_at {
                        Some(t) if t <= now => span class="bad" { "expired " (when(Some(t), now, "")) },
                        Some(t) => { "expires " (when(Some(t), now, "")) },
                        None => "unknown",
                    }
                }
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
                dt { "Pending" }
                dd { (a.pending.to_string()) }
                @if !a.review_issues.is_empty() {
                    dt { "Review" }
                    dd {
                        ul {
                            @for r in a.review_issues.iter().take(5) {
                                li { code { (r.address) } " " (r.status) }
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
        }
        "\n"
    }
}

const STYLE: &str = r#"
:root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--muted:#57606a;--bg:#f6f8fa;--card:#fff;--line:#d0d7de}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:#1f2328}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:20px;margin:0 0 4px}.sub{color:var(--muted);margin:0 0 16px}
.banner{padding:10px 14px;border-radius:6px;margin:0 0 16px;border:1px solid var(--line);background:var(--card)}
.banner.bad{border-color:var(--bad);color:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:16px}
.card{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--muted);border-radius:6px;padding:14px 16px}
.card.in_sync{border-left-color:var(--ok)}.card.drifted,.card.blocked{border-left-color:var(--warn)}.card.failing{border-left-color:var(--bad)}
header{display:flex;align-items:center;gap:8px}h2{font-size:16px;margin:0;flex:1}
.platform{color:var(--muted);font-size:12px}
.pill{font-size:12px;padding:1px 8px;border-radius:10px;color:#fff;background:var(--muted)}
.pill.in_sync{background:var(--ok)}.pill.drifted,.pill.blocked{background:var(--warn)}.pill.failing{background:var(--bad)}
dl{display:grid;grid-template-columns:110px 1fr;gap:4px 8px;margin:12px 0 0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
ul{margin:2px 0 0;padding-left:18px}.bad{color:var(--bad)}code{font-size:12px}
footer{color:var(--muted);margin-top:20px;font-size:12px}
"#;

/// The state of the config directory, above the cards.
fn banner(s: &Snapshot, now: DateTime<Utc>) -> Markup {
    let cfg = &s.config;
    html! {
        @if !cfg.loaded {
            div class="banner bad" id="config" {
                "No valid configuration loaded yet"
                @if let Some(e) = &cfg.error { ": " (e) }
            }
        } @else if !cfg.valid {
            div class="banner bad" id="config" {
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

/// The whole page.
pub fn render(s: &Snapshot, now: DateTime<Utc>) -> String {
    let page = html! {
        (DOCTYPE) "\n"
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                meta http-equiv="refresh" content="15";
                title { "adsctl watch" }
                style { (PreEscaped(STYLE)) }
            }
            "\n"
            body {
                main {
                    "\n"
                    h1 { "adsctl watch" }
                    p class="sub" {
                        "mode " b { (s.daemon.mode.as_str()) }
                        " · every " (humanize(s.daemon.interval_seconds))
                        " · up since " (when(Some(s.daemon.started_at), now, ""))
                        @if s.daemon.shutting_down { " · shutting down" }
                    }
                    "\n"
                    (banner(s, now))
                    "\n"
                    @if s.accounts.is_empty() {
                        p { "No accounts configured." }
                    } @else {
                        div class="grid" {
                            "\n"
                            @for a in &s.accounts {
                                (card(a, now))
                            }
                        }
                    }
                    "\n"
                    footer {
                        "adsctl " (s.daemon.version) " · read-only · "
                        a href="/api/v1/status" { "status JSON" }
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
            plan: serde_json::Value::Null,
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
        let page = render(&snapshot(false, vec![account("a\"b<c>")]), Utc::now());
        // Nothing the user or a platform wrote opens an element or leaves an attribute.
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("a\"b"), "{page}");
        assert!(!page.contains("\"&'"), "{page}");
        assert!(
            page.contains(&format!("<code>a&quot;b&lt;c&gt;/campaign/{ESCAPED}0</code>")),
            "{page}"
        );
        assert!(page.contains("data-account=\"a&quot;b&lt;c&gt;\""), "{page}");
        assert!(page.contains("refused &amp; &quot;quoted&quot;"), "{page}");
        // The escaped texts are all there: error, hint, drift, review, guardrail, config error and diagnostic.
        assert_eq!(
            page.matches("&lt;script&gt;").count(),
            1 + 1 + 5 + 1 + 1 + 1 + 1,
            "{page}"
        );
        assert!(page.contains("<li>… 2 more</li>"), "{page}");
        // The style sheet is the one thing inserted as it is.
        assert!(page.contains("\"Segoe UI\""), "{page}");
    }

    #[test]
    fn a_card_shows_every_row() {
        let now = Utc::now();
        let page = render(&snapshot(true, vec![account("search")]), now);
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
        assert!(page.contains("<span class=\"bad\">expired <time datetime=\""), "{page}");
        assert!(page.contains("<small>(3 failure(s) in a row)</small>"), "{page}");
        assert!(
            page.contains("<section class=\"card failing\" data-account=\"search\">"),
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
        let empty = render(&snapshot(true, vec![]), now);
        assert!(empty.contains("<p>No accounts configured.</p>"), "{empty}");
    }

    #[test]
    fn relative_times() {
        let now = Utc::now();
        assert_eq!(relative(now - chrono::Duration::seconds(125), now), "2 min ago");
        assert_eq!(relative(now + chrono::Duration::hours(3), now), "in 3 h");
    }
}
