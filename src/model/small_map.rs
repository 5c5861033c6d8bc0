//! [`SmallMap`]: the map inside a [`Value::Map`](super::Value::Map) (one headline with its pin, one description).
//!
//! These maps hold one to three entries, and there are several per ad. A `BTreeMap` allocates a node for 11
//! entries whatever it holds (≈ 600 bytes for a two-entry headline); a sorted vector of exactly its entries is a
//! tenth of that, with the same order, equality and serialised form (a JSON object with sorted keys).

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Value;

/// A small map from field name to [`Value`], kept sorted by key with unique keys.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct SmallMap(Vec<(String, Value)>);

impl SmallMap {
    pub fn new() -> SmallMap {
        SmallMap(Vec::new())
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// Insert or replace; returns the value it replaced.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl ExactSizeIterator<Item = &mut Value> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&String, &mut Value)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    /// A copy as a `BTreeMap` (for the connectors' operation maps).
    pub fn to_btree(&self) -> std::collections::BTreeMap<String, Value> {
        self.0.iter().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, Value)> for SmallMap {
    /// Later entries win over earlier ones with the same key, as with a `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> SmallMap {
        let mut entries: Vec<(String, Value)> = iter.into_iter().collect();
        // stable: equal keys keep their order, and the last of them is kept
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        out.shrink_to_fit();
        SmallMap(out)
    }
}

impl Extend<(String, Value)> for SmallMap {
    /// Inserts every entry (replacing values of keys already present).
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a> IntoIterator for &'a SmallMap {
    type Item = (&'a String, &'a Value);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (String, Value)>, fn(&'a (String, Value)) -> (&'a String, &'a Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl From<std::collections::BTreeMap<String, Value>> for SmallMap {
    fn from(m: std::collections::BTreeMap<String, Value>) -> SmallMap {
        // already sorted and unique
        SmallMap(m.into_iter().collect())
    }
}

impl<const N: usize> From<[(String, Value); N]> for SmallMap {
    fn from(entries: [(String, Value); N]) -> SmallMap {
        entries.into_iter().collect()
    }
}

impl IntoIterator for SmallMap {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl std::ops::Index<&str> for SmallMap {
    type Output = Value;
    /// Like a `BTreeMap`'s: panics when the key is absent (use [`SmallMap::get`] on input).
    fn index(&self, key: &str) -> &Value {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no key {key:?} in the map"),
        }
    }
}

impl fmt::Debug for SmallMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for SmallMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for SmallMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SmallMap, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SmallMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<SmallMap, A::Error> {
                let mut entries = Vec::with_capacity(a.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = a.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(entries.into_iter().collect())
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn behaves_like_a_btree_map() {
        let pairs = vec![
            ("text".to_string(), Value::str("B")),
            ("pin".to_string(), Value::Int(1)),
            ("text".to_string(), Value::str("C")),
        ];
        let small: SmallMap = pairs.clone().into_iter().collect();
        let btree: BTreeMap<String, Value> = pairs.into_iter().collect();
        assert_eq!(small.len(), btree.len());
        assert!(small.iter().eq(btree.iter()));
        assert_eq!(
            serde_json::to_string(&small).unwrap(),
            serde_json::to_string(&btree).unwrap()
        );
        let back: SmallMap = serde_json::from_str(&serde_json::to_string(&small).unwrap()).unwrap();
        assert_eq!(back, small);
        let mut m = small.clone();
        assert_eq!(m.insert("a".into(), Value::Null), None);
        assert_eq!(m.insert("a".into(), Value::Bool(true)), Some(Value::Null));
        assert_eq!(m.keys().map(String::as_str).collect::<Vec<_>>(), ["a", "pin", "text"]);
        assert_eq!(m.remove("a"), Some(Value::Bool(true)));
        assert_eq!(m, small);
        assert_eq!(m.get("text"), Some(&Value::str("C")));
        assert!(!m.contains_key("a"));
    }
}
