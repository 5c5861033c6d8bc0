//! A GAQL parser and evaluator for the subset adsctl and its users need: SELECT … FROM … [WHERE c AND c …]
//! [ORDER BY f [ASC|DESC], …] [LIMIT n], with =, !=, >, >=, <, <=, IN, NOT IN, LIKE, NOT LIKE, BETWEEN,
//! DURING, IS NULL; fields checked against the v25 table.

use std::cmp::Ordering;

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{json, Value};

use super::errors::{self, AdsError, Code};
use super::metrics::{self, Day};
use super::resources::Res;
use super::schema::schema;
use super::store::{Customer, Obj, Prev};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Op(String),
    Comma,
    LParen,
    RParen,
}

fn qerr(code: Code, msg: impl Into<String>) -> AdsError {
    AdsError::new(code, msg)
}

fn lex(q: &str) -> Result<Vec<Tok>, AdsError> {
    let mut out = Vec::new();
    let cs: Vec<char> = q.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                match cs.get(j) {
                    None => {
                        return Err(qerr(
                            errors::QUERY_STRING_NOT_TERMINATED,
                            "A string literal is not terminated.",
                        ))
                    }
                    Some('\\') => {
                        if let Some(n) = cs.get(j + 1) {
                            s.push(*n);
                        }
                        j += 2;
                    }
                    Some(x) if *x == c => break,
                    Some(x) => {
                        s.push(*x);
                        j += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
            i = j + 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut j = i;
            while j < cs.len() && (cs[j].is_ascii_alphanumeric() || cs[j] == '_' || cs[j] == '.') {
                j += 1;
            }
            out.push(Tok::Ident(cs[i..j].iter().collect()));
            i = j;
        } else if c.is_ascii_digit() || (c == '-' && cs.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let mut j = i + 1;
            while j < cs.len() && (cs[j].is_ascii_digit() || cs[j] == '.') {
                j += 1;
            }
            out.push(Tok::Num(cs[i..j].iter().collect()));
            i = j;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if "=!<>".contains(c) {
            let two: String = cs[i..(i + 2).min(cs.len())].iter().collect();
            if matches!(two.as_str(), "!=" | ">=" | "<=") {
                out.push(Tok::Op(two));
                i += 2;
            } else if c == '!' {
                return Err(qerr(errors::QUERY_BAD_OPERATOR, "Invalid operator '!'."));
            } else {
                out.push(Tok::Op(c.to_string()));
                i += 1;
            }
        } else {
            return Err(qerr(
                errors::QUERY_UNEXPECTED_INPUT,
                format!("Error in query: unexpected input {c}."),
            ));
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Str(String),
    Num(String),
    Ident(String),
}

impl Lit {
    fn text(&self) -> &str {
        match self {
            Lit::Str(s) | Lit::Num(s) | Lit::Ident(s) => s,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum CondOp {
    Cmp(String, Lit),
    In(Vec<Lit>, bool),
    Like(String, bool),
    Between(Lit, Lit),
    During(String),
    IsNull(bool),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cond {
    pub field: String,
    pub op: CondOp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub select: Vec<String>,
    pub from: String,
    pub conds: Vec<Cond>,
    pub order: Vec<(String, bool)>,
    pub limit: Option<usize>,
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.t.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn kw(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(k))
    }
    fn eat_kw(&mut self, k: &str) -> bool {
        if self.kw(k) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Result<String, AdsError> {
        match self.next() {
            Some(Tok::Ident(s)) => Ok(s),
            None => Err(qerr(
                errors::QUERY_UNEXPECTED_END_OF_QUERY,
                "Error in query: unexpected end of query.",
            )),
            Some(t) => Err(qerr(
                errors::QUERY_UNEXPECTED_INPUT,
                format!("Error in query: unexpected input {t:?}."),
            )),
        }
    }
    fn lit(&mut self) -> Result<Lit, AdsError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Num(s)) => Ok(Lit::Num(s)),
            Some(Tok::Ident(s)) => Ok(Lit::Ident(s)),
            None => Err(qerr(
                errors::QUERY_UNEXPECTED_END_OF_QUERY,
                "Error in query: unexpected end of query.",
            )),
            Some(t) => Err(qerr(
                errors::QUERY_UNEXPECTED_INPUT,
                format!("Error in query: unexpected input {t:?}."),
            )),
        }
    }
}

const KEYWORDS: &[&str] = &["FROM", "WHERE", "ORDER", "LIMIT", "PARAMETERS", "AND"];

pub fn parse(q: &str) -> Result<Query, AdsError> {
    let mut p = P { t: lex(q)?, i: 0 };
    if !p.eat_kw("SELECT") {
        return Err(qerr(errors::QUERY_EXPECTED_SELECT, "Error in query: expected SELECT."));
    }
    let mut select = vec![p.ident()?];
    while p.peek() == Some(&Tok::Comma) {
        p.i += 1;
        select.push(p.ident()?);
    }
    if !p.eat_kw("FROM") {
        return Err(qerr(errors::QUERY_EXPECTED_FROM, "Error in query: expected FROM."));
    }
    let from = p.ident()?;
    let mut conds = Vec::new();
    if p.eat_kw("WHERE") {
        loop {
            let field = p.ident()?;
            let op = if p.eat_kw("IN") {
                CondOp::In(list(&mut p)?, false)
            } else if p.eat_kw("NOT") {
                if p.eat_kw("IN") {
                    CondOp::In(list(&mut p)?, true)
                } else if p.eat_kw("LIKE") {
                    CondOp::Like(p.lit()?.text().to_string(), true)
                } else {
                    return Err(qerr(
                        errors::QUERY_BAD_OPERATOR,
                        "Error in query: bad operator after NOT.",
                    ));
                }
            } else if p.eat_kw("LIKE") {
                CondOp::Like(p.lit()?.text().to_string(), false)
            } else if p.eat_kw("BETWEEN") {
                let a = p.lit()?;
                if !p.eat_kw("AND") {
                    return Err(qerr(errors::QUERY_ERROR, "Error in query: expected AND in BETWEEN."));
                }
                CondOp::Between(a, p.lit()?)
            } else if p.eat_kw("DURING") {
                CondOp::During(p.ident()?.to_ascii_uppercase())
            } else if p.eat_kw("IS") {
                let neg = p.eat_kw("NOT");
                if !p.eat_kw("NULL") {
                    return Err(qerr(errors::QUERY_BAD_OPERATOR, "Error in query: expected NULL."));
                }
                CondOp::IsNull(neg)
            } else {
                match p.next() {
                    Some(Tok::Op(o)) => CondOp::Cmp(o, p.lit()?),
                    None => {
                        return Err(qerr(
                            errors::QUERY_UNEXPECTED_END_OF_QUERY,
                            "Error in query: unexpected end of query.",
                        ))
                    }
                    Some(t) => {
                        return Err(qerr(
                            errors::QUERY_BAD_OPERATOR,
                            format!("Error in query: bad operator {t:?}."),
                        ))
                    }
                }
            };
            conds.push(Cond { field, op });
            if !p.eat_kw("AND") {
                break;
            }
        }
    }
    let mut order = Vec::new();
    if p.eat_kw("ORDER") {
        if !p.eat_kw("BY") {
            return Err(qerr(errors::QUERY_ERROR, "Error in query: expected BY."));
        }
        loop {
            let f = p.ident()?;
            let desc = if p.eat_kw("DESC") {
                true
            } else {
                p.eat_kw("ASC");
                false
            };
            order.push((f, desc));
            if p.peek() != Some(&Tok::Comma) {
                break;
            }
            p.i += 1;
        }
    }
    let mut limit = None;
    if p.eat_kw("LIMIT") {
        match p.next() {
            Some(Tok::Num(n)) => match n.parse::<usize>() {
                Ok(n) if n > 0 => limit = Some(n),
                _ => return Err(qerr(errors::QUERY_BAD_LIMIT_VALUE, "The LIMIT value is not valid.")),
            },
            _ => return Err(qerr(errors::QUERY_BAD_LIMIT_VALUE, "The LIMIT value is not valid.")),
        }
    }
    if p.eat_kw("PARAMETERS") {
        // include_drafts=true and the like: accepted and ignored
        while p.next().is_some() {}
    }
    if let Some(t) = p.peek() {
        let s = match t {
            Tok::Ident(s) if KEYWORDS.iter().any(|k| s.eq_ignore_ascii_case(k)) => s.clone(),
            t => format!("{t:?}"),
        };
        return Err(qerr(
            errors::QUERY_UNEXPECTED_INPUT,
            format!("Error in query: unexpected input {s}."),
        ));
    }
    Ok(Query {
        select,
        from,
        conds,
        order,
        limit,
    })
}

fn list(p: &mut P) -> Result<Vec<Lit>, AdsError> {
    if p.next() != Some(Tok::LParen) {
        return Err(qerr(errors::QUERY_ERROR, "Error in query: expected a list."));
    }
    let mut v = Vec::new();
    loop {
        if p.peek() == Some(&Tok::RParen) {
            p.i += 1;
            break;
        }
        v.push(p.lit()?);
        match p.next() {
            Some(Tok::Comma) => {}
            Some(Tok::RParen) => break,
            _ => return Err(qerr(errors::QUERY_ERROR, "Error in query: expected , or ).")),
        }
    }
    Ok(v)
}

/// The resources GAQL can select FROM here, with the resources attributed to each.
fn attributed(from: &str) -> Option<&'static [&'static str]> {
    Some(match from {
        "campaign" => &["campaign", "campaign_budget", "customer"],
        "campaign_budget" => &["campaign_budget", "customer"],
        "ad_group" => &["ad_group", "campaign", "customer"],
        "ad_group_ad" | "ad_group_criterion" => {
            &["ad_group_ad", "ad_group_criterion", "ad_group", "campaign", "customer"]
        }
        "label" => &["label", "customer"],
        "campaign_label" => &["campaign_label", "campaign", "label", "customer"],
        "ad_group_label" => &["ad_group_label", "ad_group", "campaign", "label", "customer"],
        "ad_group_ad_label" => &[
            "ad_group_ad_label",
            "ad_group_ad",
            "ad_group",
            "campaign",
            "label",
            "customer",
        ],
        "ad_group_criterion_label" => &[
            "ad_group_criterion_label",
            "ad_group_criterion",
            "ad_group",
            "campaign",
            "label",
            "customer",
        ],
        "campaign_criterion" => &["campaign_criterion", "campaign", "customer"],
        "user_list" => &["user_list", "customer"],
        "conversion_action" => &["conversion_action", "customer"],
        "custom_conversion_goal" => &["custom_conversion_goal", "customer"],
        "conversion_goal_campaign_config" => &["conversion_goal_campaign_config", "campaign", "customer"],
        "asset" => &["asset", "customer"],
        "asset_group" => &["asset_group", "campaign", "customer"],
        "asset_group_asset" => &["asset_group_asset", "asset_group", "asset", "campaign", "customer"],
        "asset_group_listing_group_filter" => &[
            "asset_group_listing_group_filter",
            "asset_group",
            "campaign",
            "customer",
        ],
        "experiment" => &["experiment", "customer"],
        "experiment_arm" => &["experiment_arm", "customer"],
        "customer" => &["customer"],
        "change_status" => &["change_status", "customer"],
        _ => return None,
    })
}

fn with_metrics(from: &str) -> bool {
    matches!(
        from,
        "campaign" | "ad_group" | "ad_group_ad" | "ad_group_criterion" | "customer" | "campaign_budget"
    )
}

fn message_of(resource: &str) -> Option<String> {
    match resource {
        "customer" => Some("resources.Customer".into()),
        "change_status" => Some("resources.ChangeStatus".into()),
        r => Res::by_gaql(r).map(Res::message),
    }
}

/// What a checked query selects.
pub struct Plan {
    pub q: Query,
    pub metrics: Vec<String>,
    pub date_selected: bool,
    pub range: Option<(NaiveDate, NaiveDate)>,
    pub field_mask: String,
}

/// Check fields and clauses against the table. Errors are the real QueryError codes.
pub fn check(q: Query, today: NaiveDate) -> Result<Plan, AdsError> {
    let Some(attr) = attributed(&q.from) else {
        let known = message_of(&q.from).is_some()
            || schema()
                .message("services.GoogleAdsRow")
                .is_some_and(|r| r.by_name(&q.from).is_some());
        return Err(if known {
            AdsError::new(
                errors::QUERY_BAD_RESOURCE_TYPE_IN_FROM_CLAUSE,
                format!("The emulator does not serve FROM {}.", q.from),
            )
        } else {
            AdsError::new(
                errors::QUERY_BAD_RESOURCE_TYPE_IN_FROM_CLAUSE,
                format!("Invalid resource type in the FROM clause: '{}'.", q.from),
            )
        });
    };
    let mut metrics_sel = Vec::new();
    let mut date_selected = false;
    let all_fields = q
        .select
        .iter()
        .map(|f| (f, 's'))
        .chain(q.conds.iter().map(|c| (&c.field, 'w')))
        .chain(q.order.iter().map(|(f, _)| (f, 'o')));
    for (f, clause) in all_fields {
        let unrecognized = || {
            AdsError::new(
                errors::QUERY_UNRECOGNIZED_FIELD,
                format!("Unrecognized field in the query: '{f}'."),
            )
            .trigger(f.clone())
        };
        let Some((head, rest)) = f.split_once('.') else {
            return Err(unrecognized());
        };
        match head {
            "metrics" => {
                if schema().field_path("common.Metrics", rest).is_none() {
                    return Err(unrecognized());
                }
                if !with_metrics(&q.from) {
                    return Err(AdsError::new(
                        errors::QUERY_PROHIBITED_METRIC,
                        format!("Metrics cannot be requested for resource '{}'.", q.from),
                    )
                    .trigger(f.clone()));
                }
                if !metrics::SUPPORTED.contains(&rest) {
                    return Err(AdsError::new(
                        errors::QUERY_UNRECOGNIZED_FIELD,
                        format!("The emulator does not compute '{f}'."),
                    )
                    .trigger(f.clone()));
                }
                if clause == 's' && !metrics_sel.iter().any(|m: &String| m == rest) {
                    metrics_sel.push(rest.to_string());
                }
            }
            "segments" => {
                if schema().field_path("common.Segments", rest).is_none() {
                    return Err(unrecognized());
                }
                if rest != "date" || !with_metrics(&q.from) {
                    return Err(AdsError::new(
                        errors::QUERY_UNRECOGNIZED_FIELD,
                        format!("The emulator supports only segments.date, on resources with metrics ('{f}')."),
                    )
                    .trigger(f.clone()));
                }
                if clause == 's' {
                    date_selected = true;
                }
            }
            r => {
                let Some(msg) = message_of(r) else {
                    return Err(unrecognized());
                };
                if schema().field_path(&msg, rest).is_none() {
                    return Err(unrecognized());
                }
                if !attr.contains(&r) {
                    return Err(AdsError::new(
                        errors::QUERY_PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE,
                        format!("Cannot select fields from resource '{r}' in a query FROM '{}'.", q.from),
                    )
                    .trigger(f.clone()));
                }
            }
        }
    }
    // date range from the segments.date conditions
    let mut range: Option<(NaiveDate, NaiveDate)> = None;
    for c in q.conds.iter().filter(|c| c.field == "segments.date") {
        let r = date_cond(&c.op, today)?;
        range = Some(match range {
            None => r,
            Some((a, b)) => (a.max(r.0), b.min(r.1)),
        });
    }
    if date_selected && range.is_none() {
        return Err(AdsError::new(
            errors::QUERY_EXPECTED_FILTERS_ON_DATE_RANGE,
            "Date range filter on segments.date is required when segments.date is selected.",
        ));
    }
    let field_mask = q.select.iter().map(|f| camel_path(f)).collect::<Vec<_>>().join(",");
    Ok(Plan {
        metrics: metrics_sel,
        date_selected,
        range,
        field_mask,
        q,
    })
}

fn parse_date(s: &str) -> Result<NaiveDate, AdsError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        AdsError::new(
            errors::QUERY_INVALID_DATE_FORMAT,
            format!("Invalid date '{s}': expected YYYY-MM-DD."),
        )
    })
}

fn date_cond(op: &CondOp, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), AdsError> {
    let far_past = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(today);
    Ok(match op {
        CondOp::Between(a, b) => (parse_date(a.text())?, parse_date(b.text())?),
        CondOp::Cmp(o, l) => {
            let d = parse_date(l.text())?;
            match o.as_str() {
                "=" => (d, d),
                ">=" => (d, today),
                ">" => (d + Duration::days(1), today),
                "<=" => (far_past, d),
                "<" => (far_past, d - Duration::days(1)),
                _ => {
                    return Err(AdsError::new(
                        errors::QUERY_BAD_OPERATOR,
                        "Operator not allowed on segments.date.",
                    ))
                }
            }
        }
        CondOp::In(items, false) => {
            let ds: Result<Vec<_>, _> = items.iter().map(|l| parse_date(l.text())).collect();
            let ds = ds?;
            match (ds.iter().min(), ds.iter().max()) {
                (Some(a), Some(b)) => (*a, *b),
                _ => return Err(AdsError::new(errors::QUERY_ERROR, "Empty date list.")),
            }
        }
        CondOp::During(p) => during(p, today)?,
        _ => {
            return Err(AdsError::new(
                errors::QUERY_BAD_OPERATOR,
                "Operator not allowed on segments.date.",
            ))
        }
    })
}

/// Predefined date ranges (LAST_N_DAYS end yesterday).
pub fn during(p: &str, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), AdsError> {
    let y = today - Duration::days(1);
    let first = today.with_day(1).unwrap_or(today);
    Ok(match p {
        "TODAY" => (today, today),
        "YESTERDAY" => (y, y),
        "LAST_7_DAYS" => (today - Duration::days(7), y),
        "LAST_14_DAYS" => (today - Duration::days(14), y),
        "LAST_30_DAYS" => (today - Duration::days(30), y),
        "THIS_MONTH" => (first, today),
        "LAST_MONTH" => {
            let end = first - Duration::days(1);
            (end.with_day(1).unwrap_or(end), end)
        }
        _ => {
            return Err(AdsError::new(
                errors::QUERY_INVALID_VALUE_WITH_DURING_OPERATOR,
                format!("Invalid value with DURING operator: '{p}'."),
            ))
        }
    })
}

/// `campaign.network_settings.target_google_search` → `campaign.networkSettings.targetGoogleSearch`.
pub fn camel_path(f: &str) -> String {
    f.split('.').map(camel).collect::<Vec<_>>().join(".")
}

fn camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn set_path(out: &mut Value, camel_path: &str, val: Value) {
    let parts: Vec<&str> = camel_path.split('.').collect();
    let mut cur = out;
    for p in &parts[..parts.len() - 1] {
        if !cur.get(p).is_some_and(Value::is_object) {
            if let Some(m) = cur.as_object_mut() {
                m.insert(p.to_string(), json!({}));
            }
        }
        let Some(next) = cur.get_mut(p) else {
            return;
        };
        cur = next;
    }
    if let Some(m) = cur.as_object_mut() {
        m.insert(parts[parts.len() - 1].to_string(), val);
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => {
            if *b {
                "TRUE".into()
            } else {
                "FALSE".into()
            }
        }
        other => other.to_string(),
    }
}

fn cmp_text(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

fn like(text: &str, pattern: &str) -> bool {
    // % is any run, _ any one character; [x] escapes
    fn rec(t: &[char], p: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|i| rec(&t[i..], &p[1..])),
            Some('_') => !t.is_empty() && rec(&t[1..], &p[1..]),
            Some('[') if p.len() >= 3 && p[2] == ']' => t.first() == Some(&p[1]) && rec(&t[1..], &p[3..]),
            Some(c) => t.first() == Some(c) && rec(&t[1..], &p[1..]),
        }
    }
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    rec(&t, &p)
}

fn eval(c: &Cond, v: Option<&Value>) -> bool {
    match &c.op {
        CondOp::IsNull(neg) => v.is_none() != *neg,
        CondOp::Cmp(o, l) => {
            let Some(v) = v else {
                return o == "!=";
            };
            let ord = cmp_text(&value_text(v), l.text());
            match o.as_str() {
                "=" => ord == Ordering::Equal,
                "!=" => ord != Ordering::Equal,
                ">" => ord == Ordering::Greater,
                ">=" => ord != Ordering::Less,
                "<" => ord == Ordering::Less,
                "<=" => ord != Ordering::Greater,
                _ => false,
            }
        }
        CondOp::In(items, neg) => {
            let hit = v.is_some_and(|v| {
                let t = value_text(v);
                items.iter().any(|l| cmp_text(&t, l.text()) == Ordering::Equal)
            });
            hit != *neg
        }
        CondOp::Like(p, neg) => v.is_some_and(|v| like(&value_text(v), p)) != *neg,
        CondOp::Between(a, b) => v.is_some_and(|v| {
            let t = value_text(v);
            cmp_text(&t, a.text()) != Ordering::Less && cmp_text(&t, b.text()) != Ordering::Greater
        }),
        CondOp::During(_) => true,
    }
}

/// The state a lagged read sees: the object before the most recent write request touched it.
fn view(o: &Obj, lag_seq: Option<u64>) -> Option<&Value> {
    match lag_seq {
        Some(s) if o.seq == s => match &o.prev {
            Prev::Created => None,
            Prev::Was(v) => Some(v),
            Prev::Unchanged => Some(&o.v),
        },
        _ => Some(&o.v),
    }
}

/// The resources one row joins: camelCase row member → resource JSON.
type Parts<'a> = Vec<(&'static str, &'a Value)>;

/// The label links behind the output-only `labels` field of campaigns, ad groups and ad group ads: the row
/// member (`campaign`), the link resource and the link's member naming the labelled object.
const LABELLED: &[(&str, Res, &str)] = &[
    ("campaign", Res::CampaignLabel, "campaign"),
    ("adGroup", Res::AdGroupLabel, "adGroup"),
    ("adGroupAd", Res::AdGroupAdLabel, "adGroupAd"),
    ("adGroupCriterion", Res::AdGroupCriterionLabel, "adGroupCriterion"),
];

/// Labelled object's resource name → its `labels` value: the resource names of the labels linked to it (the
/// CampaignLabel / AdGroupLabel / AdGroupAdLabel objects a read at this lag sees), by ascending label id. An
/// object without labels has no entry: proto3 JSON omits an empty repeated field.
type LabelIndex = std::collections::HashMap<String, Value>;

fn label_index(cust: &Customer, lag_seq: Option<u64>, heads: &[&str]) -> LabelIndex {
    let mut links: std::collections::HashMap<String, Vec<(u64, String)>> = std::collections::HashMap::new();
    for (head, link, target) in LABELLED {
        if !heads.contains(head) {
            continue;
        }
        for o in cust.table(*link).into_iter().flat_map(|t| t.values()) {
            let Some(v) = view(o, lag_seq) else {
                continue;
            };
            let (Some(t), Some(l)) = (
                v.get(*target).and_then(Value::as_str),
                v.get("label").and_then(Value::as_str),
            ) else {
                continue;
            };
            let id = l.rsplit('/').next().and_then(|x| x.parse().ok()).unwrap_or(u64::MAX);
            links.entry(t.to_string()).or_default().push((id, l.to_string()));
        }
    }
    links
        .into_iter()
        .map(|(t, mut ls)| {
            ls.sort();
            ls.dedup();
            (t, Value::Array(ls.into_iter().map(|(_, l)| Value::String(l)).collect()))
        })
        .collect()
}

/// One result row before projection: the resources it joins (borrowed from the store) and computed values.
struct Row<'a> {
    parts: Parts<'a>,
    metrics: Option<Value>,
    date: Option<Value>,
    labels: &'a LabelIndex,
}

impl Row<'_> {
    fn get(&self, path: &[String]) -> Option<&Value> {
        let (head, rest) = path.split_first()?;
        let mut v: &Value = match head.as_str() {
            "metrics" => self.metrics.as_ref()?,
            "segments" => {
                return (rest.len() == 1 && rest[0] == "date")
                    .then_some(self.date.as_ref())
                    .flatten();
            }
            h => self.parts.iter().find(|(k, _)| *k == h)?.1,
        };
        if rest.len() == 1 && rest[0] == "labels" && LABELLED.iter().any(|(x, _, _)| x == head) {
            return self.labels.get(v.get("resourceName")?.as_str()?);
        }
        for p in rest {
            v = v.get(p)?;
        }
        Some(v)
    }
}

fn split_camel(f: &str) -> Vec<String> {
    f.split('.').map(camel).collect()
}

fn amount(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_str).and_then(|s| s.parse::<u64>().ok())
}

/// Evaluate a checked query against one customer. `window` is (offset, count) of the rows to return; the
/// second value is the number of rows the query matches in all.
pub fn run(
    plan: &Plan,
    cust: &Customer,
    lag_seq: Option<u64>,
    seed: u64,
    today: NaiveDate,
    window: Option<(usize, usize)>,
) -> (Vec<Value>, usize) {
    let q = &plan.q;
    let lookup = |rn: Option<&Value>| -> Option<&Value> {
        let rn = rn?.as_str()?;
        let (_, o) = cust.get_rn(rn)?;
        view(o, lag_seq)
    };
    let budget_of = |campaign: Option<&Value>| -> u64 {
        let Some(b) = campaign.and_then(|c| lookup(c.get("campaignBudget"))) else {
            return 0;
        };
        amount(b, "amountMicros")
            .or(amount(b, "totalAmountMicros").map(|t| t / 30))
            .unwrap_or(0)
    };
    let customer_json = cust.info.resource();
    let want_metrics = !plan.metrics.is_empty() || plan.date_selected;
    let referenced: Vec<&String> = q
        .select
        .iter()
        .chain(q.conds.iter().map(|c| &c.field))
        .chain(q.order.iter().map(|(f, _)| f))
        .collect();
    // resources (camelCase row members) the query mentions: joins are made only for those
    let heads: std::collections::HashSet<String> = referenced
        .iter()
        .map(|f| camel(f.split('.').next().unwrap_or_default()))
        .collect();
    let metric_names: Vec<String> = {
        let mut v: Vec<String> = referenced
            .iter()
            .filter_map(|f| f.strip_prefix("metrics.").map(str::to_string))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    // `labels` of campaigns, ad groups and ad group ads are computed from the label links, when mentioned
    let labelled: Vec<&str> = LABELLED
        .iter()
        .map(|(h, _, _)| *h)
        .filter(|h| {
            referenced
                .iter()
                .any(|f| split_camel(f) == [h.to_string(), "labels".to_string()])
        })
        .collect();
    let labels = if labelled.is_empty() {
        LabelIndex::new()
    } else {
        label_index(cust, lag_seq, &labelled)
    };
    // (row parts, budget micros, resource name for metrics)
    let mut base: Vec<(Parts, u64, std::borrow::Cow<str>)> = Vec::new();
    match q.from.as_str() {
        "customer" => {
            let mut budget = 0;
            if want_metrics {
                if let Some(t) = cust.table(Res::Campaign) {
                    for o in t.values() {
                        if let Some(v) = view(o, lag_seq) {
                            budget += budget_of(Some(v));
                        }
                    }
                }
            }
            base.push((
                vec![("customer", &customer_json)],
                budget,
                format!("customers/{}", cust.info.id).into(),
            ));
        }
        "change_status" => {
            for r in cust.change_status.values() {
                base.push((vec![("changeStatus", &r.v), ("customer", &customer_json)], 0, "".into()));
            }
        }
        from => {
            let Some(res) = Res::by_gaql(from) else {
                return (Vec::new(), 0);
            };
            let own = res.def().json;
            let need_joins = want_metrics
                || heads
                    .iter()
                    .any(|h| h != own && !matches!(h.as_str(), "customer" | "metrics" | "segments"));
            if let Some(t) = cust.table(res) {
                for o in t.values() {
                    let Some(v) = view(o, lag_seq) else {
                        continue;
                    };
                    let mut parts: Vec<(&'static str, &Value)> = vec![(own, v)];
                    if need_joins {
                        let ad_group_ad = if res == Res::AdGroupAdLabel {
                            lookup(v.get("adGroupAd"))
                        } else {
                            None
                        };
                        let ad_group_criterion = if res == Res::AdGroupCriterionLabel {
                            lookup(v.get("adGroupCriterion"))
                        } else {
                            None
                        };
                        let ad_group = match res {
                            Res::AdGroupAd | Res::AdGroupCriterion | Res::AdGroupLabel => lookup(v.get("adGroup")),
                            Res::AdGroupAdLabel => ad_group_ad.and_then(|x| lookup(x.get("adGroup"))),
                            Res::AdGroupCriterionLabel => ad_group_criterion.and_then(|x| lookup(x.get("adGroup"))),
                            _ => None,
                        };
                        let asset_group = match res {
                            Res::AssetGroupAsset | Res::AssetGroupListingGroupFilter => lookup(v.get("assetGroup")),
                            _ => None,
                        };
                        let campaign = match res {
                            Res::AdGroup
                            | Res::CampaignLabel
                            | Res::CampaignCriterion
                            | Res::ConversionGoalCampaignConfig
                            | Res::AssetGroup => lookup(v.get("campaign")),
                            Res::Campaign => Some(v),
                            Res::AssetGroupAsset | Res::AssetGroupListingGroupFilter => {
                                asset_group.and_then(|x| lookup(x.get("campaign")))
                            }
                            _ => ad_group.and_then(|x| lookup(x.get("campaign"))),
                        };
                        if let Some(x) = asset_group {
                            parts.push(("assetGroup", x));
                        }
                        if res == Res::AssetGroupAsset {
                            if let Some(x) = lookup(v.get("asset")) {
                                parts.push(("asset", x));
                            }
                        }
                        if res != Res::Campaign {
                            if let Some(c) = campaign {
                                parts.push(("campaign", c));
                            }
                        }
                        if let Some(x) = ad_group {
                            parts.push(("adGroup", x));
                        }
                        if let Some(x) = ad_group_ad {
                            parts.push(("adGroupAd", x));
                        }
                        if let Some(x) = ad_group_criterion {
                            parts.push(("adGroupCriterion", x));
                        }
                        if res == Res::Campaign {
                            if let Some(b) = lookup(v.get("campaignBudget")) {
                                parts.push(("campaignBudget", b));
                            }
                        }
                        if res.is_label_link() {
                            if let Some(l) = lookup(v.get("label")) {
                                parts.push(("label", l));
                            }
                        }
                    }
                    parts.push(("customer", &customer_json));
                    let rn = v.get("resourceName").and_then(Value::as_str).unwrap_or_default();
                    let mut budget = match res {
                        _ if !want_metrics => 0,
                        Res::CampaignBudget => amount(v, "amountMicros").unwrap_or(0),
                        Res::Campaign => budget_of(Some(v)),
                        _ => budget_of(parts.iter().find(|(k, _)| *k == "campaign").map(|(_, c)| *c)),
                    };
                    if matches!(res, Res::AdGroup | Res::AdGroupAd | Res::AdGroupCriterion) {
                        budget /= 2 + (crate::rng::hash_str(rn) % 3);
                    }
                    base.push((parts, budget, rn.into()));
                }
            }
        }
    }
    let conds: Vec<(Vec<String>, &Cond)> = q
        .conds
        .iter()
        .filter(|c| c.field != "segments.date")
        .map(|c| (split_camel(&c.field), c))
        .collect();
    let keep = |r: &Row| conds.iter().all(|(p, c)| eval(c, r.get(p)));
    let mut rows: Vec<Row> = Vec::new();
    for (parts, budget, rn) in base {
        if !want_metrics {
            let r = Row {
                parts,
                metrics: None,
                date: None,
                labels: &labels,
            };
            if keep(&r) {
                rows.push(r);
            }
            continue;
        }
        // history is synthesised for every past day (at most 400 days per object), so a new object has data
        let (from, to) = plan.range.unwrap_or((today - Duration::days(365), today));
        let to = to.min(today);
        let from = from.max(to - Duration::days(400));
        if plan.date_selected {
            let mut d = from;
            while d <= to {
                let m = metrics::day(seed, &rn, d, today, budget);
                let r = Row {
                    parts: parts.clone(),
                    metrics: Some(metrics::to_json(&m, &metric_names)),
                    date: Some(json!(d.to_string())),
                    labels: &labels,
                };
                if keep(&r) {
                    rows.push(r);
                }
                d += Duration::days(1);
            }
        } else {
            let mut total = Day::default();
            let mut d = from;
            while d <= to {
                total.add(&metrics::day(seed, &rn, d, today, budget));
                d += Duration::days(1);
            }
            let r = Row {
                parts,
                metrics: Some(metrics::to_json(&total, &metric_names)),
                date: None,
                labels: &labels,
            };
            if keep(&r) {
                rows.push(r);
            }
        }
    }
    if !q.order.is_empty() {
        let keys: Vec<(Vec<String>, bool)> = q.order.iter().map(|(f, d)| (split_camel(f), *d)).collect();
        rows.sort_by(|a, b| {
            for (k, desc) in &keys {
                let (x, y) = (a.get(k).map(value_text), b.get(k).map(value_text));
                let o = match (x, y) {
                    (Some(x), Some(y)) => cmp_text(&x, &y),
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                };
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
    if let Some(l) = q.limit {
        rows.truncate(l);
    }
    let total = rows.len();
    let (offset, count) = window.unwrap_or((0, total));
    // project onto the selected fields (plus each selected resource's resourceName)
    let sel: Vec<(Vec<String>, String)> = q.select.iter().map(|f| (split_camel(f), camel_path(f))).collect();
    let mut rn_heads: Vec<(Vec<String>, String)> = Vec::new();
    for (p, _) in &sel {
        let h = p[0].as_str();
        if h != "metrics" && h != "segments" && !rn_heads.iter().any(|(x, _)| x[0] == h) {
            rn_heads.push((vec![h.to_string(), "resourceName".into()], format!("{h}.resourceName")));
        }
    }
    let out = rows
        .iter()
        .skip(offset)
        .take(count)
        .map(|r| {
            let mut out = json!({});
            for (p, s) in rn_heads.iter().chain(sel.iter()) {
                if let Some(v) = r.get(p) {
                    set_path(&mut out, s, v.clone());
                }
            }
            out
        })
        .collect();
    (out, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_subset() {
        let q = parse("SELECT campaign.id, campaign.name, metrics.clicks FROM campaign WHERE campaign.status != 'REMOVED' AND campaign.name LIKE '%Sale%' AND segments.date DURING LAST_30_DAYS AND campaign.id IN (1, 2) ORDER BY campaign.id DESC LIMIT 10").unwrap();
        assert_eq!(q.select.len(), 3);
        assert_eq!(q.conds.len(), 4);
        assert_eq!(q.order, vec![("campaign.id".to_string(), true)]);
        assert_eq!(q.limit, Some(10));
        let q2 = parse("select campaign.id from campaign where segments.date between '2026-01-01' and '2026-01-31'")
            .unwrap();
        assert!(matches!(q2.conds[0].op, CondOp::Between(_, _)));
        assert!(parse("SELECT FROM campaign").is_err());
        assert!(parse("SELECT campaign.id FROM campaign WHERE campaign.name = 'x").is_err());
        assert!(like("Spring Sale", "%Sale"));
        assert!(!like("Spring Sale", "Sale%"));
    }

    #[test]
    fn checks_fields_against_the_table() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let e = check(parse("SELECT campaign.nope FROM campaign").unwrap(), today)
            .err()
            .unwrap();
        assert_eq!(e.code, errors::QUERY_UNRECOGNIZED_FIELD);
        assert!(check(
            parse("SELECT campaign.network_settings.target_google_search, campaign_budget.amount_micros FROM campaign")
                .unwrap(),
            today
        )
        .is_ok());
        let e = check(
            parse("SELECT segments.date, metrics.clicks FROM campaign").unwrap(),
            today,
        )
        .err()
        .unwrap();
        assert_eq!(e.code, errors::QUERY_EXPECTED_FILTERS_ON_DATE_RANGE);
        let e = check(parse("SELECT label.name, metrics.clicks FROM label").unwrap(), today)
            .err()
            .unwrap();
        assert_eq!(e.code, errors::QUERY_PROHIBITED_METRIC);
        let e = check(parse("SELECT ad_group.name FROM campaign").unwrap(), today)
            .err()
            .unwrap();
        assert_eq!(e.code, errors::QUERY_PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE);
        let p = check(
            parse("SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_7_DAYS").unwrap(),
            today,
        )
        .unwrap();
        assert_eq!(
            p.range,
            Some((
                NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
                NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()
            ))
        );
    }
}
