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

/// A field name, interned: every resource of a kind has the same few dozen names, and a `String` per field per
/// copy of every resource (desired, live, applied) was a third of a large plan's memory. Interned names live for
/// the process (they come from adsctl's own field tables and stored state, so there are few of them).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(&'static str);

impl Key {
    pub fn new(name: &str) -> Key {
        use std::cell::RefCell;
        use std::sync::{Mutex, OnceLock};

        use rustc_hash::FxHashSet;

        static NAMES: OnceLock<Mutex<FxHashSet<&'static str>>> = OnceLock::new();
        thread_local! {
            // This thread's copy of the names it has seen: a plan decodes millions of field names on two threads,
            // and taking the process-wide lock for each was ≈ 4 % of it.
            static SEEN: RefCell<FxHashSet<&'static str>> = RefCell::new(FxHashSet::default());
        }
        if let Some(s) = SEEN.with(|seen| seen.borrow().get(name).copied()) {
            return Key(s);
        }
        let names = NAMES.get_or_init(|| Mutex::new(FxHashSet::default()));
        // A poisoned lock still holds a valid set (inserting cannot panic half-way).
        let s: &'static str = {
            let mut set = names.lock().unwrap_or_else(|e| e.into_inner());
            match set.get(name) {
                Some(s) => s,
                None => {
                    let s: &'static str = Box::leak(name.to_string().into_boxed_str());
                    set.insert(s);
                    s
                }
            }
        };
        SEEN.with(|seen| seen.borrow_mut().insert(s));
        Key(s)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl std::borrow::Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Key {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_str()
    }
}

impl PartialEq<Key> for String {
    fn eq(&self, other: &Key) -> bool {
        self.as_str() == other.0
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Key {
        Key::new(s)
    }
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        Key::new(&s)
    }
}

impl From<&String> for Key {
    fn from(s: &String) -> Key {
        Key::new(s)
    }
}

impl From<Key> for String {
    fn from(k: Key) -> String {
        k.0.to_string()
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key::new(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// A small map from field name to a value (a [`Value`] unless said otherwise), kept sorted by key with unique
/// keys.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SmallMap<V = Value>(Vec<(Key, V)>);

impl<V> Default for SmallMap<V> {
    fn default() -> Self {
        SmallMap(Vec::new())
    }
}

impl<V> SmallMap<V> {
    pub fn new() -> SmallMap<V> {
        SmallMap(Vec::new())
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.0.cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// Insert or replace; returns the value it replaced.
    pub fn insert(&mut self, key: impl Into<Key>, value: V) -> Option<V> {
        let key = key.into();
        match self.position(key.0) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                // exact growth: these maps are built once and kept, often by the hundred thousand
                self.0.reserve_exact(1);
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Key, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Key> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl ExactSizeIterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.position(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&Key, &mut V)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&Key, &mut V) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    /// A copy as a `BTreeMap` (for the connectors' operation maps).
    pub fn to_btree(&self) -> std::collections::BTreeMap<String, V>
    where
        V: Clone,
    {
        self.0.iter().map(|(k, v)| (k.0.to_string(), v.clone())).collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<Key>, V> FromIterator<(K, V)> for SmallMap<V> {
    /// Later entries win over earlier ones with the same key, as with a `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> SmallMap<V> {
        let mut entries: Vec<(Key, V)> = iter.into_iter().map(|(k, v)| (k.into(), v)).collect();
        // stable: equal keys keep their order, and the last of them is kept
        entries.sort_by_key(|e| e.0);
        let mut out: Vec<(Key, V)> = Vec::with_capacity(entries.len());
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

impl<K: Into<Key>, V> Extend<(K, V)> for SmallMap<V> {
    /// Inserts every entry (replacing values of keys already present).
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a, V> IntoIterator for &'a SmallMap<V> {
    type Item = (&'a Key, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (Key, V)>, fn(&'a (Key, V)) -> (&'a Key, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<V> From<std::collections::BTreeMap<String, V>> for SmallMap<V> {
    fn from(m: std::collections::BTreeMap<String, V>) -> SmallMap<V> {
        // already sorted and unique
        SmallMap(m.into_iter().map(|(k, v)| (Key::new(&k), v)).collect())
    }
}

impl<K: Into<Key>, V, const N: usize> From<[(K, V); N]> for SmallMap<V> {
    fn from(entries: [(K, V); N]) -> SmallMap<V> {
        entries.into_iter().collect()
    }
}

impl<V> IntoIterator for SmallMap<V> {
    type Item = (Key, V);
    type IntoIter = std::vec::IntoIter<(Key, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<V> std::ops::Index<&str> for SmallMap<V> {
    type Output = V;
    /// Like a `BTreeMap`'s: panics when the key is absent (use [`SmallMap::get`] on input).
    fn index(&self, key: &str) -> &V {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no key {key:?} in the map"),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for SmallMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Serialize> Serialize for SmallMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for SmallMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SmallMap<V>, D::Error> {
        struct Vis<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Vis<V> {
            type Value = SmallMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<SmallMap<V>, A::Error> {
                let mut entries = Vec::with_capacity(a.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = a.next_entry::<Key, V>()? {
                    entries.push(entry);
                }
                Ok(entries.into_iter().collect())
            }
        }
        d.deserialize_map(Vis(std::marker::PhantomData))
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
        assert!(small
            .iter()
            .map(|(k, v)| (k.to_string(), v))
            .eq(btree.iter().map(|(k, v)| (k.clone(), v))));
        assert_eq!(
            serde_json::to_string(&small).unwrap(),
            serde_json::to_string(&btree).unwrap()
        );
        let back: SmallMap = serde_json::from_str(&serde_json::to_string(&small).unwrap()).unwrap();
        assert_eq!(back, small);
        let mut m = small.clone();
        assert_eq!(m.insert("a", Value::Null), None);
        assert_eq!(m.insert("a", Value::Bool(true)), Some(Value::Null));
        assert_eq!(m.keys().map(Key::as_str).collect::<Vec<_>>(), ["a", "pin", "text"]);
        assert_eq!(m.remove("a"), Some(Value::Bool(true)));
        assert_eq!(m, small);
        assert_eq!(m.get("text"), Some(&Value::str("C")));
        assert!(!m.contains_key("a"));
    }
}
