//! The read-only HTML status page at `/`: server-rendered, inline CSS, no script, no external URL.

use chrono::{DateTime, Utc};

use super::status::{AccountHealth, AccountStatus, Snapshot};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

fn when(t: Option<DateTime<Utc>>, now: DateTime<Utc>, never: &str) -> String {
    match t {
        Some(t) => format!(
            "<time datetime=\"{}\" title=\"{}\">{}</time>",
            t.to_rfc3339(),
            t.format("%Y-%m-%d %H:%M:%S UTC"),
            esc(&relative(t, now))
        ),
        None => esc(never),
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

fn card(a: &AccountStatus, now: DateTime<Utc>) -> String {
    let mut rows = Vec::new();
    let mut row = |k: &str, v: String| rows.push(format!("<dt>{}</dt><dd>{}</dd>", esc(k), v));
    row("Last sync", when(a.last_sync, now, "never"));
    let token = match a.token_expires_at {
        Some(t) if t <= now => format!("<span class=\"bad\">expired {}</span>", when(Some(t), now, "")),
        Some(t) => format!("expires {}", when(Some(t), now, "")),
        None => "unknown".into(),
    };
    row("Token", token);
    let drift = if a.drift.is_empty() {
        "none".to_string()
    } else {
        let shown: Vec<String> = a
            .drift
            .iter()
            .take(5)
            .map(|d| format!("<li><code>{}</code></li>", esc(d)))
            .collect();
        let more = if a.drift.len() > 5 {
            format!("<li>… {} more</li>", a.drift.len() - 5)
        } else {
            String::new()
        };
        format!("{} resource(s)<ul>{}{}</ul>", a.drift.len(), shown.join(""), more)
    };
    row("Drift", drift);
    row(
        "Spend today",
        a.spend_today.as_deref().map(esc).unwrap_or_else(|| "unknown".into()),
    );
    row(
        "Clicks today",
        a.clicks_today
            .map(|c| c.to_string())
            .unwrap_or_else(|| "unknown".into()),
    );
    row(
        "Pending",
        if a.pending.total() == 0 {
            "nothing".into()
        } else {
            esc(&a.pending.to_string())
        },
    );
    if !a.review_issues.is_empty() {
        let items: Vec<String> = a
            .review_issues
            .iter()
            .take(5)
            .map(|r| format!("<li><code>{}</code> {}</li>", esc(&r.address), esc(&r.status)))
            .collect();
        row("Review", format!("<ul>{}</ul>", items.join("")));
    }
    if !a.blocked.is_empty() {
        let items: Vec<String> = a.blocked.iter().map(|b| format!("<li>{}</li>", esc(b))).collect();
        row("Guardrails", format!("<ul class=\"bad\">{}</ul>", items.join("")));
    }
    if let Some(e) = &a.last_error {
        let hint = e
            .hint
            .as_deref()
            .map(|h| format!("<br><small>hint: {}</small>", esc(h)))
            .unwrap_or_default();
        row(
            "Last error",
            format!(
                "<span class=\"bad\">{}</span>{} <small>({} failure(s) in a row)</small>",
                esc(&e.message),
                hint,
                a.consecutive_failures
            ),
        );
    }
    row(
        "Next run",
        when(
            a.next_reconcile_at,
            now,
            if a.reconciling { "running now" } else { "—" },
        ),
    );
    format!(
        "<section class=\"card {cls}\" data-account=\"{name}\">\n<header><h2>{name}</h2><span class=\"platform\">{platform}</span><span class=\"pill {cls}\">{label}</span></header>\n<dl>{rows}</dl>\n</section>\n",
        cls = a.status.as_str(),
        name = esc(&a.account),
        platform = esc(&a.platform),
        label = health_label(a.status),
        rows = rows.join(""),
    )
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

/// The whole page.
pub fn render(s: &Snapshot, now: DateTime<Utc>) -> String {
    let cfg = &s.config;
    let banner = if !cfg.loaded {
        format!(
            "<div class=\"banner bad\" id=\"config\">No valid configuration loaded yet{}</div>",
            cfg.error
                .as_deref()
                .map(|e| format!(": {}", esc(e)))
                .unwrap_or_default()
        )
    } else if !cfg.valid {
        let diags: Vec<String> = cfg
            .diagnostics
            .iter()
            .map(|d| format!("<li><code>{}</code></li>", esc(d)))
            .collect();
        format!(
            "<div class=\"banner bad\" id=\"config\">The last edit is invalid and was not applied; still reconciling generation {}: {}<ul>{}</ul></div>",
            cfg.generation,
            esc(cfg.error.as_deref().unwrap_or("")),
            diags.join("")
        )
    } else {
        format!(
            "<div class=\"banner\" id=\"config\">Configuration generation {} loaded {}</div>",
            cfg.generation,
            when(cfg.loaded_at, now, "never")
        )
    };
    let cards: Vec<String> = s.accounts.iter().map(|a| card(a, now)).collect();
    let body = if cards.is_empty() {
        "<p>No accounts configured.</p>".to_string()
    } else {
        format!("<div class=\"grid\">\n{}</div>", cards.join(""))
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta http-equiv=\"refresh\" content=\"15\"><title>adsctl watch</title><style>{STYLE}</style></head>\n<body><main>\n<h1>adsctl watch</h1><p class=\"sub\">mode <b>{mode}</b> · every {interval} · up since {since}{stopping}</p>\n{banner}\n{body}\n<footer>adsctl {version} · read-only · <a href=\"/api/v1/status\">status JSON</a> · <a href=\"/api/v1/plan\">plan JSON</a> · <a href=\"/metrics\">metrics</a></footer>\n</main></body></html>\n",
        mode = s.daemon.mode.as_str(),
        interval = esc(&humanize(s.daemon.interval_seconds)),
        since = when(Some(s.daemon.started_at), now, ""),
        stopping = if s.daemon.shutting_down { " · shutting down" } else { "" },
        version = s.daemon.version,
    )
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
    use super::*;

    #[test]
    fn escapes_everything_it_prints() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let now = Utc::now();
        assert_eq!(relative(now - chrono::Duration::seconds(125), now), "2 min ago");
        assert_eq!(relative(now + chrono::Duration::hours(3), now), "in 3 h");
    }
}
