//! Rest.li 2.0 URL decoding, written for the emulator from the protocol's URL representation (WIRE-NOTES § Rest.li
//! 2.0 encoding): `List(a,b)` lists, `(k:v,k2:(n:v))` objects, every primitive percent-encoded (so a URN inside a
//! value is `urn%3Ali%3AsponsoredCampaign%3A1`), and `fields=` left as a plain comma list.
//!
//! Strict on purpose: a raw `(`, `)`, `,`, `:` or `'` inside a primitive (an unencoded URN, say) is a syntax
//! error, as it is for Rest.li's own parser, because those characters are the structure.

use std::collections::BTreeMap;

/// A decoded Rest.li value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RValue {
    Prim(String),
    List(Vec<RValue>),
    Obj(BTreeMap<String, RValue>),
}

impl RValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            RValue::Prim(s) => Some(s),
            _ => None,
        }
    }
    pub fn get(&self, k: &str) -> Option<&RValue> {
        match self {
            RValue::Obj(m) => m.get(k),
            _ => None,
        }
    }
    pub fn as_list(&self) -> Option<&[RValue]> {
        match self {
            RValue::List(l) => Some(l),
            _ => None,
        }
    }
}

/// Percent-decode one component (`+` stays a plus: Rest.li encodes spaces as `%20`). None when an escape is broken
/// or the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1..i + 3)?;
            let h = std::str::from_utf8(h).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encode a primitive the way Rest.li does (everything but unreserved characters).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Split a raw query string into (decoded key, raw value) pairs, in order.
pub fn split_query(q: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let key =
            percent_decode(k).ok_or_else(|| format!("the parameter name `{k}` is not percent-encoded properly"))?;
        out.push((key, v.to_string()));
    }
    Ok(out)
}

/// Parse one raw (still percent-encoded) query parameter value.
pub fn parse_value(raw: &str) -> Result<RValue, String> {
    let mut p = Parser {
        s: raw.as_bytes(),
        i: 0,
    };
    let v = p.value()?;
    if p.i != p.s.len() {
        return Err(format!("unexpected `{}` at position {}", p.s[p.i] as char, p.i));
    }
    Ok(v)
}

/// Parse a path key: a primitive (percent-decoded), never a structure.
pub fn parse_key(raw: &str) -> Result<String, String> {
    match parse_value(raw)? {
        RValue::Prim(s) if !s.is_empty() => Ok(s),
        _ => Err(format!("`{raw}` is not a valid key")),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!(
                "expected `{}` at position {}, found {}",
                c as char,
                self.i,
                self.peek()
                    .map_or("the end".to_string(), |x| format!("`{}`", x as char))
            ))
        }
    }
    fn value(&mut self) -> Result<RValue, String> {
        if self.s[self.i..].starts_with(b"List(") {
            self.i += 5;
            let mut items = Vec::new();
            if self.peek() == Some(b')') {
                self.i += 1;
                return Ok(RValue::List(items));
            }
            loop {
                items.push(self.value()?);
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        return Ok(RValue::List(items));
                    }
                    _ => return Err(format!("unterminated List( at position {}", self.i)),
                }
            }
        }
        if self.peek() == Some(b'(') {
            self.i += 1;
            let mut m = BTreeMap::new();
            if self.peek() == Some(b')') {
                self.i += 1;
                return Ok(RValue::Obj(m));
            }
            loop {
                let k = self.prim()?;
                if k.is_empty() {
                    return Err(format!("an empty key at position {}", self.i));
                }
                self.expect(b':')?;
                let v = self.value()?;
                if m.insert(k.clone(), v).is_some() {
                    return Err(format!("the key `{k}` appears twice"));
                }
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        return Ok(RValue::Obj(m));
                    }
                    _ => return Err(format!("unterminated ( at position {}", self.i)),
                }
            }
        }
        Ok(RValue::Prim(self.prim()?))
    }
    fn prim(&mut self) -> Result<String, String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b'(' | b')' | b',' | b':') {
                break;
            }
            if c == b'\'' {
                return Err(format!("a raw `'` at position {} must be percent-encoded", self.i));
            }
            self.i += 1;
        }
        let raw = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "not UTF-8".to_string())?;
        // a primitive directly followed by `(` (e.g. `Lis(`) is a syntax error, not a primitive
        if self.peek() == Some(b'(') {
            return Err(format!("unexpected `(` at position {}", self.i));
        }
        percent_decode(raw).ok_or_else(|| format!("`{raw}` is not percent-encoded properly"))
    }
}

/// The parameters of a request: Rest.li values by name (`fields` kept as its plain comma list).
#[derive(Clone, Debug, Default)]
pub struct Params {
    pub values: BTreeMap<String, RValue>,
    pub fields: Option<Vec<String>>,
}

impl Params {
    /// Decode a whole raw query string. A parameter given twice is an error (Rest.li has lists for that).
    pub fn parse(raw_query: &str) -> Result<Params, String> {
        let mut out = Params::default();
        for (k, v) in split_query(raw_query)? {
            if k == "fields" {
                let plain = percent_decode(&v).ok_or("`fields` is not percent-encoded properly")?;
                if out.fields.is_some() {
                    return Err("the parameter `fields` appears twice".into());
                }
                out.fields = Some(
                    plain
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                );
                continue;
            }
            let val = parse_value(&v).map_err(|e| format!("Invalid value for the parameter `{k}`: {e}"))?;
            if out.values.insert(k.clone(), val).is_some() {
                return Err(format!("the parameter `{k}` appears twice"));
            }
        }
        Ok(out)
    }
    pub fn get(&self, k: &str) -> Option<&RValue> {
        self.values.get(k)
    }
    pub fn str(&self, k: &str) -> Option<&str> {
        self.values.get(k).and_then(RValue::as_str)
    }
    /// A list parameter's primitives (None when absent; an error when it is not a list of primitives).
    pub fn list(&self, k: &str) -> Result<Option<Vec<String>>, String> {
        match self.values.get(k) {
            None => Ok(None),
            Some(RValue::List(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("`{k}` must be a List of values"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(format!("`{k}` must be a List(...)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_objects_and_encoded_urns() {
        let v = parse_value("(k2:urn%3Ali%3Aapp%3A123,k3:List(1,2))").unwrap();
        assert_eq!(v.get("k2").and_then(RValue::as_str), Some("urn:li:app:123"));
        assert_eq!(v.get("k3").and_then(RValue::as_list).map(|l| l.len()), Some(2));
        let s = parse_value("(status:(values:List(ACTIVE,DRAFT)),test:false)").unwrap();
        assert_eq!(
            s.get("status").and_then(|x| x.get("values")),
            Some(&RValue::List(vec![
                RValue::Prim("ACTIVE".into()),
                RValue::Prim("DRAFT".into())
            ]))
        );
        assert_eq!(parse_value("List()").unwrap(), RValue::List(vec![]));
        assert_eq!(parse_value("()").unwrap(), RValue::Obj(BTreeMap::new()));
        assert_eq!(parse_value("a%20b").unwrap(), RValue::Prim("a b".into()));
    }

    #[test]
    fn malformed_values_are_errors() {
        for bad in [
            "urn:li:sponsoredCampaign:1",
            "List(1,2",
            "(a:1",
            "(a)",
            "List(urn:li:x:1)",
            "(a:1,a:2)",
            "%zz",
            "it's",
            "Lis(1)",
            "(:1)",
        ] {
            assert!(parse_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn params_keep_fields_plain() {
        let p = Params::parse("q=analytics&fields=impressions,clicks&campaigns=List(urn%3Ali%3AsponsoredCampaign%3A1)")
            .unwrap();
        assert_eq!(p.fields.as_deref().map(<[String]>::len), Some(2));
        assert_eq!(
            p.list("campaigns").unwrap().unwrap(),
            vec!["urn:li:sponsoredCampaign:1".to_string()]
        );
        assert!(Params::parse("q=a&q=b").is_err());
    }
}
