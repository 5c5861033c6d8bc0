use std::collections::BTreeSet;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Address, Money, SmallMap};

/// An exact field value. No floating point anywhere: money is integer micros, ratios are decimals.
///
/// Equality is semantic where the platforms are: a [`Value::Url`] compares normalised (scheme and host case,
/// a trailing slash on an empty path), a [`Value::Set`] ignores order and duplicates.
#[derive(Clone, Debug, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An amount in the account currency, in micros (1/1,000,000 of the major unit).
    Money(Money),
    /// An exact decimal (target ROAS, lookalike ratio).
    Decimal(Decimal),
    /// Free text, compared exactly. Enum values are lower snake case of the platform's name
    /// (`enabled`, `outcome_traffic`, `phrase`); connectors upper-case them on the wire.
    Str(String),
    /// A URL, compared after normalisation.
    Url(String),
    /// An ordered list (headlines, descriptions).
    List(Vec<Value>),
    /// An unordered set (countries, labels, special ad categories, placements, audience members).
    Set(BTreeSet<Value>),
    /// A nested map (e.g. one headline with its pin).
    Map(SmallMap),
    /// A reference to another resource (a shared budget, an audience). Connectors resolve it to a platform id.
    /// Boxed: an address is the largest payload, and every value of every field would otherwise be its size
    /// (56 bytes instead of 32).
    Ref(Box<Address>),
}

impl Value {
    /// A reference to `a`.
    pub fn reference(a: Address) -> Value {
        Value::Ref(Box::new(a))
    }
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Url(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_money(&self) -> Option<Money> {
        match self {
            Value::Money(m) => Some(*m),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

/// Normalise a URL for comparison: lower-case scheme and host, drop a default port, and treat an empty
/// path as `/`. Query and fragment are kept as written.
pub fn normalize_url(u: &str) -> String {
    let u = u.trim();
    let Some((scheme, rest)) = u.split_once("://") else {
        return u.to_string();
    };
    let scheme = scheme.to_ascii_lowercase();
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(split);
    let mut host = host.to_ascii_lowercase();
    if (scheme == "https" && host.ends_with(":443")) || (scheme == "http" && host.ends_with(":80")) {
        if let Some(i) = host.rfind(':') {
            host.truncate(i);
        }
    }
    let tail = if tail.is_empty() || tail.starts_with('?') || tail.starts_with('#') {
        format!("/{tail}")
    } else {
        tail.to_string()
    };
    format!("{scheme}://{host}{tail}")
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            // equal as written is the usual case, and needs no normalised copies
            (Url(a), Url(b)) | (Url(a), Str(b)) | (Str(a), Url(b)) => a == b || normalize_url(a) == normalize_url(b),
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Money(a), Money(b)) => a == b,
            (Decimal(a), Decimal(b)) => a.normalize() == b.normalize(),
            (Str(a), Str(b)) => a == b,
            (List(a), List(b)) => a == b,
            (Set(a), Set(b)) => a == b,
            (Set(a), List(b)) | (List(b), Set(a)) => *a == b.iter().cloned().collect::<BTreeSet<_>>(),
            (Map(a), Map(b)) => a == b,
            (Ref(a), Ref(b)) => a == b,
            _ => false,
        }
    }
}
impl Eq for Value {}

impl fmt::Display for Value {
    /// A plain rendering (money in micros is rendered by the plan renderer, which knows the currency).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Money(m) => write!(f, "{}", m.micros()),
            Value::Decimal(d) => write!(f, "{}", d.normalize()),
            Value::Str(s) | Value::Url(s) => write!(f, "{s:?}"),
            Value::List(v) => {
                write!(f, "[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{x}")?;
                }
                write!(f, "]")
            }
            // as the YAML writes it: a list
            Value::Set(v) => {
                write!(f, "[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{x}")?;
                }
                write!(f, "]")
            }
            Value::Map(m) => {
                write!(f, "{{")?;
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k}: {x}")?;
                }
                write!(f, "}}")
            }
            Value::Ref(a) => write!(f, "ref({a})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_compare_normalised() {
        assert_eq!(
            Value::Url("HTTPS://Example.com".into()),
            Value::Url("https://example.com/".into())
        );
        assert_eq!(
            Value::Url("https://example.com:443/a".into()),
            Value::Url("https://example.com/a".into())
        );
        assert_ne!(
            Value::Url("https://example.com/A".into()),
            Value::Url("https://example.com/a".into())
        );
    }

    #[test]
    fn sets_ignore_order() {
        let a = Value::Set([Value::str("US"), Value::str("CA")].into_iter().collect());
        let b = Value::List(vec![Value::str("CA"), Value::str("US")]);
        assert_eq!(a, b);
    }
}
