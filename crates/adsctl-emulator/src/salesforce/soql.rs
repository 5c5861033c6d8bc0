//! The SOQL subset the emulator answers: `SELECT f, … FROM Object [WHERE c AND c …] [ORDER BY f [ASC|DESC]
//! [NULLS FIRST|LAST], …] [LIMIT n]` with conditions `field = | != | <> | < | <= | > | >= value`,
//! `field [NOT] IN (v, …)` and `field [NOT] LIKE 'pattern'`; values are 'strings' (backslash escapes), null, true,
//! false, numbers and unquoted date / datetime literals. Anything else (OR, parentheses, functions, aggregates,
//! relationship paths, sub-queries, OFFSET, GROUP BY) is MALFORMED_QUERY: not a claim that Salesforce refuses it,
//! only that the emulator does not implement it.

use std::cmp::Ordering;

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    /// An unquoted date or datetime literal.
    Date(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In(bool),
    Like(bool),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cond {
    pub field: String,
    pub op: Op,
    pub values: Vec<Lit>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub field: String,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub fields: Vec<String>,
    pub object: String,
    pub conds: Vec<Cond>,
    pub order: Vec<Order>,
    pub limit: Option<usize>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(f64),
    Sym(&'static str),
}

fn lex(q: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match c.get(i) {
                    None => return Err("unterminated string literal".into()),
                    Some('\\') => {
                        let e = c.get(i + 1).ok_or("unterminated string literal")?;
                        s.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => *other,
                        });
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(x) => {
                        s.push(*x);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if ch.is_ascii_digit() || (ch == '-' && c.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            i += 1;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || matches!(c[i], '.' | '-' | ':' | '+')) {
                i += 1;
            }
            let w: String = c[start..i].iter().collect();
            match w.parse::<f64>() {
                Ok(n) => out.push(Tok::Num(n)),
                Err(_) => out.push(Tok::Word(w)),
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '.') {
                i += 1;
            }
            out.push(Tok::Word(c[start..i].iter().collect()));
        } else {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            let sym = match two.as_str() {
                "!=" => Some("!="),
                "<>" => Some("<>"),
                "<=" => Some("<="),
                ">=" => Some(">="),
                _ => None,
            };
            if let Some(s) = sym {
                out.push(Tok::Sym(s));
                i += 2;
                continue;
            }
            let s = match ch {
                '=' => "=",
                '<' => "<",
                '>' => ">",
                '(' => "(",
                ')' => ")",
                ',' => ",",
                _ => return Err(format!("unexpected character '{ch}'")),
            };
            out.push(Tok::Sym(s));
            i += 1;
        }
    }
    Ok(out)
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn kw(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }
    fn eat_kw(&mut self, k: &str) -> bool {
        if self.kw(k) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_kw(&mut self, k: &str) -> Result<(), String> {
        if self.eat_kw(k) {
            Ok(())
        } else {
            Err(format!("expecting {k}, found {}", self.found()))
        }
    }
    fn sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn found(&self) -> String {
        match self.peek() {
            None => "end of query".into(),
            Some(Tok::Word(w)) => format!("'{w}'"),
            Some(Tok::Str(s)) => format!("'{s}'"),
            Some(Tok::Num(n)) => format!("'{n}'"),
            Some(Tok::Sym(s)) => format!("'{s}'"),
        }
    }
    fn ident(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Word(w)) if !is_reserved(w) => {
                let w = w.clone();
                self.i += 1;
                if w.contains('.') {
                    return Err(format!("relationship path '{w}' is not supported by the emulator"));
                }
                Ok(w)
            }
            _ => Err(format!("unexpected token: {}", self.found())),
        }
    }
    fn literal(&mut self) -> Result<Lit, String> {
        let t = self.peek().cloned();
        self.i += 1;
        match t {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Num(n)) => Ok(Lit::Num(n)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Lit::Null),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Lit::Bool(true)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Lit::Bool(false)),
            Some(Tok::Word(w)) if is_date(&w) => Ok(Lit::Date(w)),
            _ => {
                self.i -= 1;
                Err(format!("expecting a value, found {}", self.found()))
            }
        }
    }
}

fn is_reserved(w: &str) -> bool {
    [
        "select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "limit", "offset", "group",
        "having", "asc", "desc", "nulls", "first", "last", "null", "true", "false",
    ]
    .iter()
    .any(|r| r.eq_ignore_ascii_case(w))
}

fn is_date(w: &str) -> bool {
    chrono::NaiveDate::parse_from_str(w, "%Y-%m-%d").is_ok() || chrono::DateTime::parse_from_rfc3339(w).is_ok()
}

/// Parse a query; the error text becomes MALFORMED_QUERY's message.
pub fn parse(q: &str) -> Result<Query, String> {
    let mut p = P { t: lex(q)?, i: 0 };
    p.expect_kw("SELECT")?;
    let mut fields = Vec::new();
    loop {
        if matches!(p.peek(), Some(Tok::Sym("("))) {
            return Err("sub-queries are not supported by the emulator".into());
        }
        let f = p.ident()?;
        if matches!(p.peek(), Some(Tok::Sym("("))) {
            return Err(format!("function {f}() is not supported by the emulator"));
        }
        fields.push(f);
        if !p.sym(",") {
            break;
        }
    }
    p.expect_kw("FROM")?;
    let object = p.ident()?;
    let mut conds = Vec::new();
    if p.eat_kw("WHERE") {
        loop {
            if matches!(p.peek(), Some(Tok::Sym("("))) {
                return Err("parenthesised conditions are not supported by the emulator".into());
            }
            let field = p.ident()?;
            let not = p.eat_kw("NOT");
            let op = if p.eat_kw("IN") {
                Op::In(!not)
            } else if p.eat_kw("LIKE") {
                Op::Like(!not)
            } else if not {
                return Err(format!("expecting IN or LIKE after NOT, found {}", p.found()));
            } else if p.sym("=") {
                Op::Eq
            } else if p.sym("!=") || p.sym("<>") {
                Op::Ne
            } else if p.sym("<=") {
                Op::Le
            } else if p.sym(">=") {
                Op::Ge
            } else if p.sym("<") {
                Op::Lt
            } else if p.sym(">") {
                Op::Gt
            } else {
                return Err(format!("unexpected token: {}", p.found()));
            };
            let values = if matches!(op, Op::In(_)) {
                if !p.sym("(") {
                    return Err(format!("expecting '(', found {}", p.found()));
                }
                let mut v = vec![p.literal()?];
                while p.sym(",") {
                    v.push(p.literal()?);
                }
                if !p.sym(")") {
                    return Err(format!("expecting ')', found {}", p.found()));
                }
                v
            } else {
                vec![p.literal()?]
            };
            if matches!(op, Op::Like(_)) && !matches!(values[0], Lit::Str(_)) {
                return Err("LIKE takes a string".into());
            }
            conds.push(Cond { field, op, values });
            if p.kw("OR") {
                return Err("OR is not supported by the emulator".into());
            }
            if !p.eat_kw("AND") {
                break;
            }
        }
    }
    let mut order = Vec::new();
    if p.eat_kw("ORDER") {
        p.expect_kw("BY")?;
        loop {
            let field = p.ident()?;
            let desc = if p.eat_kw("DESC") {
                true
            } else {
                p.eat_kw("ASC");
                false
            };
            let mut nulls_first = !desc;
            if p.eat_kw("NULLS") {
                if p.eat_kw("FIRST") {
                    nulls_first = true;
                } else {
                    p.expect_kw("LAST")?;
                    nulls_first = false;
                }
            }
            order.push(Order {
                field,
                desc,
                nulls_first,
            });
            if !p.sym(",") {
                break;
            }
        }
    }
    let mut limit = None;
    if p.eat_kw("LIMIT") {
        match p.peek() {
            Some(Tok::Num(n)) if *n >= 0.0 && n.fract() == 0.0 => {
                limit = Some(*n as usize);
                p.i += 1;
            }
            _ => {
                return Err(format!(
                    "expecting a non-negative integer after LIMIT, found {}",
                    p.found()
                ))
            }
        }
    }
    if p.peek().is_some() {
        return Err(format!("unexpected token: {}", p.found()));
    }
    Ok(Query {
        fields,
        object,
        conds,
        order,
        limit,
    })
}

/// Whether a LIKE pattern (`%` any run, `_` one character; case-insensitive) matches.
pub fn like(pattern: &str, s: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('%') => (0..=s.len()).any(|k| go(&p[1..], &s[k..])),
            Some('_') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some(c) => s.first().is_some_and(|x| x == c) && go(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let s: Vec<char> = s.to_lowercase().chars().collect();
    go(&p, &s)
}

/// Compare a stored value with a literal (None: not comparable). Text compares case-insensitively; an id
/// literal of 15 characters matches the first 15 of an 18-character id.
pub fn compare(v: &Value, l: &Lit) -> Option<Ordering> {
    match (v, l) {
        (Value::Null, Lit::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Lit::Null) => None,
        (Value::Bool(a), Lit::Bool(b)) => Some(a.cmp(b)),
        (Value::Number(a), Lit::Num(b)) => a.as_f64().and_then(|a| a.partial_cmp(b)),
        (Value::String(a), Lit::Date(b)) if b.contains('T') => {
            // a datetime literal against the stored `…T…:…:….000+0000` form
            let t = chrono::DateTime::parse_from_rfc3339(b).ok()?;
            let stored = chrono::DateTime::parse_from_str(a, "%Y-%m-%dT%H:%M:%S%.3f%z").ok()?;
            Some(stored.timestamp().cmp(&t.timestamp()))
        }
        (Value::String(a), Lit::Str(b)) | (Value::String(a), Lit::Date(b)) => {
            if a.len() == 18 && b.len() == 15 && a.is_char_boundary(15) && a[..15] == **b {
                return Some(Ordering::Equal);
            }
            Some(a.to_lowercase().cmp(&b.to_lowercase()))
        }
        (Value::String(a), Lit::Num(b)) => a.parse::<f64>().ok().and_then(|a| a.partial_cmp(b)),
        _ => None,
    }
}

pub fn matches(v: &Value, c: &Cond) -> bool {
    match &c.op {
        Op::Eq => compare(v, &c.values[0]) == Some(Ordering::Equal),
        Op::Ne => compare(v, &c.values[0]) != Some(Ordering::Equal),
        Op::Lt => compare(v, &c.values[0]) == Some(Ordering::Less),
        Op::Le => matches!(compare(v, &c.values[0]), Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => compare(v, &c.values[0]) == Some(Ordering::Greater),
        Op::Ge => matches!(compare(v, &c.values[0]), Some(Ordering::Greater | Ordering::Equal)),
        Op::In(pos) => c.values.iter().any(|l| compare(v, l) == Some(Ordering::Equal)) == *pos,
        Op::Like(pos) => {
            let Lit::Str(p) = &c.values[0] else { return false };
            let hit = match v {
                Value::String(s) => like(p, s),
                _ => false,
            };
            hit == *pos
        }
    }
}

/// Order two values for ORDER BY (nulls placed by the caller).
pub fn order_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_subset_adsctl_needs() {
        let q = parse(
            "SELECT Id, Name FROM Campaign WHERE Adsctl_Key__c != null AND Status IN ('Planned', 'It\\'s') \
             AND Name LIKE 'Spr%' AND StartDate >= 2026-01-01 ORDER BY Name DESC NULLS FIRST, Id LIMIT 5",
        )
        .unwrap();
        assert_eq!(q.fields, vec!["Id", "Name"]);
        assert_eq!(q.object, "Campaign");
        assert_eq!(q.conds.len(), 4);
        assert_eq!(q.conds[1].values[1], Lit::Str("It's".into()));
        assert_eq!(q.conds[3].values[0], Lit::Date("2026-01-01".into()));
        assert!(q.order[0].desc && q.order[0].nulls_first && !q.order[1].desc);
        assert_eq!(q.limit, Some(5));
    }

    #[test]
    fn refuses_what_it_does_not_implement() {
        for q in [
            "SELECT Id FROM Campaign WHERE Name = 'a' OR Name = 'b'",
            "SELECT COUNT() FROM Campaign",
            "SELECT Id, (SELECT Id FROM CampaignMembers) FROM Campaign",
            "SELECT Parent.Name FROM Campaign",
            "SELECT Id FROM Campaign LIMIT x",
            "SELECT Id FROM Campaign WHERE Name = 'x",
            "SELECT FROM Campaign",
            "SELECT Id FROM Campaign GROUP BY Id",
        ] {
            assert!(parse(q).is_err(), "{q}");
        }
    }

    #[test]
    fn like_and_compare_follow_soql() {
        assert!(like("spr%", "Spring"));
        assert!(like("_pring", "Spring"));
        assert!(!like("spr_", "Spring"));
        let c = Cond {
            field: "Id".into(),
            op: Op::Eq,
            values: vec![Lit::Str("7015g00000EMu01".into())],
        };
        assert!(matches(&json!("7015g00000EMu01AAD"), &c));
        assert_eq!(compare(&json!("ABC"), &Lit::Str("abc".into())), Some(Ordering::Equal));
        assert_eq!(
            compare(
                &json!("2026-12-05T09:30:00.000+0000"),
                &Lit::Date("2026-12-05T10:00:00Z".into())
            ),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare(
                &json!("2026-12-05T09:30:00.000+0000"),
                &Lit::Date("2026-12-05T11:30:00+02:00".into())
            ),
            Some(Ordering::Equal)
        );
    }
}
