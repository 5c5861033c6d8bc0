//! Output formats: an aligned table for people, CSV and JSON for machines (both read back exactly), and one
//! self-contained HTML file with inline SVG charts (no scripts, fonts or images from anywhere).

use std::collections::BTreeMap;

use maud::{display, html, Markup, PreEscaped, DOCTYPE};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::report::{money_str, FlatRow, Report, Row, Sums, Total};
use crate::connectors::EmailMetrics;
use crate::model::{Currency, Money};

/// The version of the JSON document.
pub const JSON_VERSION: u32 = 1;

fn pct(d: Option<Decimal>) -> String {
    d.map(|d| format!("{}%", (d * Decimal::from(100)).round_dp(2)))
        .unwrap_or_else(|| "-".into())
}

/// A cost per click or conversion, in the currency like every other amount (`$1.25`, `¥120`).
fn per(d: Option<Decimal>, c: Currency) -> String {
    d.and_then(|d| (d.round_dp(c.minor_units()) * Decimal::from(1_000_000)).to_i64())
        .map(|micros| Money::from_micros(micros).display(c))
        .unwrap_or_else(|| "-".into())
}

/// A count with thousands separators (`12,345`).
fn count(n: u64) -> String {
    crate::model::group_thousands(&n.to_string())
}

fn roas(d: Option<Decimal>) -> String {
    d.map(|d| format!("{}x", d.round_dp(2))).unwrap_or_else(|| "-".into())
}

fn num(d: Decimal) -> String {
    d.round_dp(2).normalize().to_string()
}

fn cells(s: &Sums, c: Currency) -> Vec<String> {
    vec![
        count(s.impressions),
        count(s.clicks),
        s.cost.display(c),
        num(s.conversions),
        s.conversion_value.display(c),
        pct(s.ctr()),
        per(s.cpc(), c),
        per(s.cpa(), c),
        roas(s.roas()),
    ]
}

const NUM_HEAD: [&str; 9] = [
    "IMPR",
    "CLICKS",
    "COST",
    "CONV",
    "CONV VALUE",
    "CTR",
    "CPC",
    "CPA",
    "ROAS",
];

fn table_text(head: &[&str], rows: &[Vec<String>], right_from: usize) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i].saturating_sub(c.chars().count());
            if i > 0 {
                l.push_str("  ");
            }
            if i >= right_from {
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            } else {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(head.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// The aligned table (rows, then totals per account, per platform and currency, per currency).
pub fn table(r: &Report) -> String {
    let mut out = format!(
        "Metrics {} .. {} (level {}, by {})\n\n",
        r.range.since,
        r.range.until,
        r.level.as_str(),
        r.by.as_str()
    );
    if r.rows.is_empty() {
        out.push_str("No activity in this range.\n");
        return out;
    }
    let mut head = vec!["PERIOD", "PLATFORM", "ACCOUNT", "OBJECT"];
    head.extend(NUM_HEAD);
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            let object = if row.in_yaml {
                row.object.clone()
            } else {
                format!("{} (id {}, not in YAML)", row.object, row.id)
            };
            let mut v = vec![
                row.period.clone(),
                row.platform.to_string(),
                row.account.clone(),
                object,
            ];
            v.extend(cells(&row.sums, row.currency));
            v
        })
        .collect();
    out.push_str(&table_text(&head, &rows, 4));
    // e-mail campaigns' own figures, when there are any
    let emails: Vec<Vec<String>> = r
        .rows
        .iter()
        .filter(|row| row.sums.email != EmailMetrics::default())
        .map(|row| {
            let e = &row.sums.email;
            vec![
                row.period.clone(),
                row.account.clone(),
                row.object.clone(),
                e.sent.to_string(),
                e.opens.to_string(),
                row.sums.clicks.to_string(),
                e.bounces.to_string(),
                e.unsubscribes.to_string(),
            ]
        })
        .collect();
    if !emails.is_empty() {
        out.push_str("\nE-mail campaigns\n");
        let head = [
            "PERIOD",
            "ACCOUNT",
            "OBJECT",
            "SENT",
            "OPENS",
            "CLICKS",
            "BOUNCES",
            "UNSUBSCRIBES",
        ];
        out.push_str(&table_text(&head, &emails, 3));
    }
    out.push_str("\nTotals (never summed across currencies)\n");
    let mut head = vec!["SCOPE", "NAME", "CURRENCY"];
    head.extend(NUM_HEAD);
    let totals: Vec<Vec<String>> = r
        .account_totals
        .iter()
        .chain(&r.platform_totals)
        .chain(&r.currency_totals)
        .map(|t| {
            let mut v = vec![t.scope.to_string(), t.label(), t.currency.code().to_string()];
            v.extend(cells(&t.sums, t.currency));
            v
        })
        .collect();
    out.push_str(&table_text(&head, &totals, 3));
    out
}

/// The CSV columns: the fields of [`FlatRow`], in order.
pub const CSV_HEADER: [&str; 23] = [
    "period",
    "since",
    "until",
    "platform",
    "account",
    "currency",
    "level",
    "object",
    "id",
    "in_yaml",
    "impressions",
    "clicks",
    "cost",
    "conversions",
    "conversion_value",
    "ctr",
    "cpc",
    "cpa",
    "roas",
    "emails_sent",
    "opens",
    "bounces",
    "unsubscribes",
];

/// CSV: one line per row, the columns of [`FlatRow`].
pub fn csv(r: &Report) -> Result<String, String> {
    csv_rows(&r.rows)
}

/// CSV of any rows (a header even when there are none).
pub fn csv_rows(rows: &[Row]) -> Result<String, String> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    w.write_record(CSV_HEADER).map_err(|e| e.to_string())?;
    for row in rows {
        w.serialize(row.to_flat()).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// Read rows back from [`csv`].
pub fn parse_csv(text: &str) -> Result<Vec<Row>, String> {
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    rd.deserialize::<FlatRow>()
        .map(|r| r.map_err(|e| e.to_string()).and_then(|f| Row::from_flat(&f)))
        .collect()
}

/// A total as JSON carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlatTotal {
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<crate::model::Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub currency: String,
    pub impressions: u64,
    pub clicks: u64,
    pub cost: String,
    pub conversions: String,
    pub conversion_value: String,
    pub ctr: String,
    pub cpc: String,
    pub cpa: String,
    pub roas: String,
}

fn flat_total(t: &Total) -> FlatTotal {
    let s = &t.sums;
    let o = |d: Option<Decimal>| d.map(|d| d.to_string()).unwrap_or_default();
    FlatTotal {
        scope: t.scope.to_string(),
        platform: t.platform,
        account: t.account.clone(),
        currency: t.currency.code().to_string(),
        impressions: s.impressions,
        clicks: s.clicks,
        cost: money_str(s.cost, t.currency),
        conversions: s.conversions.normalize().to_string(),
        conversion_value: money_str(s.conversion_value, t.currency),
        ctr: o(s.ctr()),
        cpc: o(s.cpc()),
        cpa: o(s.cpa()),
        roas: o(s.roas()),
    }
}

/// The JSON document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JsonReport {
    pub version: u32,
    pub since: chrono::NaiveDate,
    pub until: chrono::NaiveDate,
    pub level: super::Level,
    pub by: super::Bucket,
    pub rows: Vec<FlatRow>,
    pub totals: JsonTotals,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JsonTotals {
    pub accounts: Vec<FlatTotal>,
    pub platforms: Vec<FlatTotal>,
    pub currencies: Vec<FlatTotal>,
}

pub fn json(r: &Report) -> Result<String, String> {
    let doc = JsonReport {
        version: JSON_VERSION,
        since: r.range.since,
        until: r.range.until,
        level: r.level,
        by: r.by,
        rows: r.rows.iter().map(Row::to_flat).collect(),
        totals: JsonTotals {
            accounts: r.account_totals.iter().map(flat_total).collect(),
            platforms: r.platform_totals.iter().map(flat_total).collect(),
            currencies: r.currency_totals.iter().map(flat_total).collect(),
        },
    };
    serde_json::to_string_pretty(&doc)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

/// Read rows back from [`json`].
pub fn parse_json(text: &str) -> Result<Vec<Row>, String> {
    let doc: JsonReport = serde_json::from_str(text).map_err(|e| e.to_string())?;
    doc.rows.iter().map(Row::from_flat).collect()
}

/// Pixel coordinate of a value (plotting only; the numbers shown stay exact).
fn px(v: Decimal, max: Decimal, span: f64) -> f64 {
    if max.is_zero() {
        return 0.0;
    }
    (v / max).to_f64().unwrap_or(0.0) * span
}

/// A coordinate as the SVG carries it (one decimal).
fn c1(v: f64) -> String {
    format!("{v:.1}")
}

/// One chart: spend (bars, left axis) and conversions (line, right axis) per day.
///
/// Every SVG element is closed explicitly (`<line …></line>`): in HTML, an SVG element left open without `/>`
/// would hold its following siblings.
fn chart(platform: &str, currency: Currency, series: &BTreeMap<chrono::NaiveDate, Sums>) -> Markup {
    const W: f64 = 820.0;
    const H: f64 = 240.0;
    const L: f64 = 80.0;
    const R: f64 = 120.0;
    const T: f64 = 20.0;
    const B: f64 = 40.0;
    let (pw, ph) = (W - L - R, H - T - B);
    let money = |m: Money| Decimal::new(m.micros(), 6);
    let max_spend = series.values().map(|s| money(s.cost)).max().unwrap_or_default();
    let max_conv = series.values().map(|s| s.conversions).max().unwrap_or_default();
    let n = series.len().max(1) as f64;
    let slot = pw / n;
    let points: Vec<String> = series
        .values()
        .enumerate()
        .map(|(i, s)| {
            let x = L + slot * i as f64;
            format!("{:.1},{:.1}", x + slot * 0.4, T + ph - px(s.conversions, max_conv, ph))
        })
        .collect();
    let max_cost = series.values().map(|s| s.cost).max().unwrap_or(Money::ZERO);
    html! {
        svg class="chart" data-platform=(platform) viewBox={ "0 0 " (W) " " (H) } width=(W) height=(H) role="img"
            aria-label={ (platform) " spend and conversions per day" } {
            "\n"
            line x1=(L) y1=(T + ph) x2=(L + pw) y2=(T + ph) class="axis" {}
            line x1=(L) y1=(T) x2=(L) y2=(T + ph) class="axis" {}
            "\n"
            text x=(L - 6.0) y=(T + 10.0) class="lbl" text-anchor="end" { (max_cost.display(currency)) }
            text x=(L - 6.0) y=(T + ph) class="lbl" text-anchor="end" { "0" }
            "\n"
            text x=(L + pw + 6.0) y=(T + 10.0) class="lbl conv" { (num(max_conv)) " conv." }
            "\n"
            @for (i, (date, s)) in series.iter().enumerate() {
                @let x = L + slot * i as f64;
                @let h = px(money(s.cost), max_spend, ph);
                rect class="spend" x=(c1(x)) y=(c1(T + ph - h)) width=(c1((slot * 0.8).max(1.0))) height=(c1(h)) {
                    title { (display(date)) ": " (s.cost.display(currency)) " spend, " (num(s.conversions)) " conversions" }
                }
                "\n"
            }
            @if let (Some(first), Some(last)) = (series.keys().next(), series.keys().next_back()) {
                text x=(L) y=(T + ph + 18.0) class="lbl" { (display(first)) }
                text x=(L + pw) y=(T + ph + 18.0) class="lbl" text-anchor="end" { (display(last)) }
                "\n"
            }
            polyline class="conv" points=(points.join(" ")) {}
            "\n"
        }
        "\n"
    }
}

fn html_table(head: &[&str], rows: &[Vec<String>]) -> Markup {
    html! {
        table {
            "\n"
            tr {
                @for h in head {
                    th { (h) }
                }
            }
            "\n"
            @for r in rows {
                tr {
                    @for c in r {
                        td { (c) }
                    }
                }
                "\n"
            }
        }
        "\n"
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1d2330}\
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem;margin-top:1.5rem}\
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .6rem;border-bottom:1px solid #e3e6ec;\
text-align:right;font-variant-numeric:tabular-nums}td:first-child,th:first-child{text-align:left}\
th{background:#f4f6f9}.axis{stroke:#8a93a6}.lbl{font-size:11px;fill:#59627a}.spend{fill:#4c78dd}\
polyline.conv{fill:none;stroke:#e8833a;stroke-width:2}.lbl.conv{fill:#e8833a}.legend span{margin-right:1rem}\
.sw{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}";

/// One self-contained HTML file: a chart per platform (and currency), totals, a table per object.
///
/// Built with `maud`: every object name, account and figure is escaped by the template; only the constant style
/// sheet is inserted as it is.
pub fn html(r: &Report) -> String {
    let num_head = [
        "Impr.",
        "Clicks",
        "Cost",
        "Conv.",
        "Conv. value",
        "CTR",
        "CPC",
        "CPA",
        "ROAS",
    ];
    let mut totals_head = vec!["Scope", "Name", "Currency"];
    totals_head.extend(num_head);
    let totals: Vec<Vec<String>> = r
        .account_totals
        .iter()
        .chain(&r.platform_totals)
        .chain(&r.currency_totals)
        .map(|t| {
            let mut v = vec![t.scope.to_string(), t.label(), t.currency.code().to_string()];
            v.extend(cells(&t.sums, t.currency));
            v
        })
        .collect();
    // one table per object (campaign, ad group, ad or account)
    let mut objects: BTreeMap<(String, String, String), Vec<&Row>> = BTreeMap::new();
    for row in &r.rows {
        objects
            .entry((row.account.clone(), row.object.clone(), row.id.clone()))
            .or_default()
            .push(row);
    }
    let mut object_head = vec!["Period"];
    object_head.extend(num_head);
    let page = html! {
        (DOCTYPE) "\n"
        html lang="en" {
            "\n"
            head {
                "\n"
                meta charset="utf-8";
                "\n"
                title { "adsctl metrics " (display(r.range.since)) " .. " (display(r.range.until)) }
                "\n"
                style { (PreEscaped(STYLE)) }
                "\n"
            }
            "\n"
            body {
                "\n"
                h1 { "Metrics " (display(r.range.since)) " .. " (display(r.range.until)) }
                "\n"
                p {
                    "Level " (r.level.as_str()) ", by " (r.by.as_str())
                    ". Amounts in each account's currency; nothing is summed across currencies."
                }
                "\n"
                p class="legend" {
                    span { i class="sw" style="background:#4c78dd" {} "spend" }
                    span { i class="sw" style="background:#e8833a" {} "conversions" }
                }
                "\n"
                @for ((platform, currency), series) in &r.daily {
                    section class="platform" data-platform=(platform.as_str()) {
                        "\n"
                        h2 { (platform.as_str()) " (" (currency.code()) ")" }
                        "\n"
                        (chart(platform.as_str(), *currency, series))
                    }
                    "\n"
                }
                h2 { "Totals" }
                "\n"
                (html_table(&totals_head, &totals))
                h2 { "By " (r.level.as_str()) }
                "\n"
                @for ((account, object, id), rows) in &objects {
                    (object_section(account, object, id, rows, &object_head))
                }
            }
            "\n"
        }
        "\n"
    };
    page.into_string()
}

/// One object's heading and its table (a total line when it has more than one period).
fn object_section(account: &str, object: &str, id: &str, rows: &[&Row], head: &[&str]) -> Markup {
    let first = rows[0];
    let mut total = Sums::default();
    let mut body: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            total.add(&row.sums);
            let mut v = vec![row.period.clone()];
            v.extend(cells(&row.sums, row.currency));
            v
        })
        .collect();
    if rows.len() > 1 {
        let mut v = vec!["total".to_string()];
        v.extend(cells(&total, first.currency));
        body.push(v);
    }
    html! {
        h3 class="object" {
            (object)
            @if !first.in_yaml { " (id " (id) ", not in YAML)" }
            " "
            small { (account) " · " (first.platform.as_str()) }
        }
        "\n"
        (html_table(head, &body))
    }
}

#[cfg(test)]
mod tests {

    /// Counts carry thousands separators and every amount its currency, CPC and CPA included.
    #[test]
    fn cells_for_people_group_counts_and_show_currencies() {
        use rust_decimal::Decimal;
        let s = crate::metrics::report::Sums {
            impressions: 1_234_567,
            clicks: 12_345,
            cost: Money::from_micros(15_432_500_000),
            conversions: Decimal::from(617),
            conversion_value: Money::from_micros(30_000_000_000),
            email: Default::default(),
        };
        let c = super::cells(&s, Currency::USD);
        assert_eq!(&c[..3], ["1,234,567", "12,345", "$15,432.50"]);
        assert_eq!(c[6], "$1.25", "CPC");
        assert_eq!(c[7], "$25.01", "CPA");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(super::cells(&s, jpy)[6], "¥1");
    }

    use chrono::NaiveDate;

    use super::super::{Bucket, Level};
    use super::*;
    use crate::connectors::DateRange;
    use crate::model::Platform;

    /// A campaign name written to break out of an element or an attribute.
    const HOSTILE: &str = "<script>alert(1)</script> \"&'";
    const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;'";

    fn report() -> Report {
        let d = |n| NaiveDate::from_ymd_opt(2025, 3, n).unwrap();
        let usd = Currency::from_code("USD").unwrap();
        let sums = |i: i64| Sums {
            impressions: 100 * i as u64,
            clicks: 7 * i as u64,
            cost: Money::from_micros(1_234_567 * i),
            conversions: Decimal::new(15 * i, 1),
            conversion_value: Money::from_micros(9_000_000 * i),
            email: Default::default(),
        };
        let row = |object: &str, day: u32, in_yaml: bool| Row {
            period: d(day).to_string(),
            since: d(day),
            until: d(day),
            platform: Platform::GoogleAds,
            account: "acme".into(),
            currency: usd,
            level: Level::Campaign,
            object: object.into(),
            id: "123".into(),
            in_yaml,
            sums: sums(i64::from(day)),
        };
        let mut daily = BTreeMap::new();
        daily.insert(
            (Platform::GoogleAds, usd),
            (1..=2).map(|i| (d(i), sums(i64::from(i)))).collect::<BTreeMap<_, _>>(),
        );
        Report {
            range: DateRange {
                since: d(1),
                until: d(2),
            },
            level: Level::Campaign,
            by: Bucket::Day,
            rows: vec![
                row(&format!("acme/campaign/{HOSTILE}"), 1, true),
                row(&format!("acme/campaign/{HOSTILE}"), 2, true),
                // made outside the YAML: its platform name, as the platform gives it
                row(&format!("Spring \"Sale\" {HOSTILE}"), 1, false),
            ],
            daily,
            account_totals: vec![Total {
                scope: "account",
                platform: Some(Platform::GoogleAds),
                account: Some("acme".into()),
                currency: usd,
                sums: sums(3),
            }],
            platform_totals: vec![],
            currency_totals: vec![],
        }
    }

    #[test]
    fn campaign_names_are_escaped() {
        let html = html(&report());
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("\"&'"), "{html}");
        assert!(
            html.contains(&format!("<h3 class=\"object\">acme/campaign/{ESCAPED} <small>")),
            "{html}"
        );
        assert!(
            html.contains(&format!("Spring &quot;Sale&quot; {ESCAPED} (id 123, not in YAML)")),
            "{html}"
        );
        // the style sheet is inserted as it is
        assert!(
            html.contains("font-family:system-ui,-apple-system,'Segoe UI',sans-serif"),
            "{html}"
        );
    }

    #[test]
    fn the_report_has_a_chart_totals_and_a_table_per_object() {
        let html = html(&report());
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"), "{html}");
        assert_eq!(
            html.matches("<svg class=\"chart\" data-platform=\"google_ads\"")
                .count(),
            1
        );
        // SVG elements are closed: none holds the next one
        assert_eq!(html.matches("<rect ").count(), html.matches("</rect>").count());
        assert_eq!(html.matches("<line ").count(), 2);
        assert_eq!(html.matches("</line>").count(), 2);
        assert!(
            html.contains("<polyline class=\"conv\" points=\"204.0,110.0 514.0,20.0\"></polyline>"),
            "{html}"
        );
        assert!(
            html.contains("<title>2025-03-02: $2.469134 spend, 3 conversions</title>"),
            "{html}"
        );
        assert!(html.contains("<h2>google_ads (USD)</h2>"), "{html}");
        assert!(html.contains("<h2>Totals</h2>"), "{html}");
        assert_eq!(html.matches("<h3 class=\"object\">").count(), 2, "{html}");
        // an object over two days has a total line
        assert_eq!(html.matches("<tr><td>total</td>").count(), 1, "{html}");
    }
}
