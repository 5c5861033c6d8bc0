//! What several homes do the same way, kept once: the ownership marker written into a text field the platform
//! stores and returns (for platforms without labels: LinkedIn, X, TikTok names; Meta, LinkedIn, X audience
//! descriptions), and the per-account cache every connector of an account in this process shares.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// adsctl's ownership marker in a text field: ` [adsctl-managed]` at the end of a name, `[adsctl-managed]` or
/// `[adsctl-managed:<fingerprint>]` at the end of a description.
pub const MARKER: &str = "adsctl-managed";

/// A name as written on the platform: the YAML's name, then ` [adsctl-managed]`.
pub fn marked_name(name: &str) -> String {
    format!("{name} [{MARKER}]")
}

/// A live name split into the YAML's name and whether adsctl's marker ends it.
pub fn split_name(live: &str) -> (String, bool) {
    match live.strip_suffix(&format!(" [{MARKER}]")) {
        Some(n) => (n.to_string(), true),
        None => (live.to_string(), false),
    }
}

/// A description as written on the platform: the user's text, then `[adsctl-managed]`, or
/// `[adsctl-managed:<fingerprint>]` once the members given by the fingerprint (`model::value_fingerprint`) are
/// uploaded.
pub fn marked_description(user: Option<&str>, fingerprint: Option<&str>) -> String {
    let marker = match fingerprint {
        Some(fp) => format!("[{MARKER}:{fp}]"),
        None => format!("[{MARKER}]"),
    };
    match user.filter(|u| !u.is_empty()) {
        Some(u) => format!("{u} {marker}"),
        None => marker,
    }
}

/// A live description split into the user's text and, when the marker ends it, the fingerprint it records
/// (`Some(None)`: marked without one; `None`: not adsctl's).
pub fn split_description(d: &str) -> (Option<String>, Option<Option<String>>) {
    let whole = || ((!d.is_empty()).then(|| d.to_string()), None);
    let Some(body) = d.strip_suffix(']') else {
        return whole();
    };
    let Some(open) = body.rfind('[') else {
        return whole();
    };
    let fp = match body[open + 1..].strip_prefix(MARKER) {
        Some("") => None,
        Some(rest) => match rest.strip_prefix(':') {
            Some(fp) if fp.len() == 16 && fp.bytes().all(|b| b.is_ascii_hexdigit()) => Some(fp.to_string()),
            _ => return whole(),
        },
        None => return whole(),
    };
    let user = body[..open].trim_end();
    ((!user.is_empty()).then(|| user.to_string()), Some(fp))
}

/// The cache of type `T` shared by every connector of one account (`key`: the base URL and the account id) in
/// this process: the engine may build a connector per call, and what a read learned serves the apply after it.
pub fn shared_cache<T: Default + Send + 'static>(key: &str) -> Arc<Mutex<T>> {
    type Caches = HashMap<(TypeId, String), Arc<dyn Any + Send + Sync>>;
    static CACHES: OnceLock<Mutex<Caches>> = OnceLock::new();
    let mut all = CACHES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let entry = all
        .entry((TypeId::of::<T>(), key.to_string()))
        .or_insert_with(|| Arc::new(Mutex::new(T::default())));
    match entry.clone().downcast::<Mutex<T>>() {
        Ok(cache) => cache,
        // keyed by the type: cannot happen; a cache of its own rather than a panic
        Err(_) => Arc::new(Mutex::new(T::default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_and_names_round_trip() {
        let d = marked_description(Some("Buyers"), Some("0123456789abcdef"));
        assert_eq!(d, "Buyers [adsctl-managed:0123456789abcdef]");
        assert_eq!(
            split_description(&d),
            (Some("Buyers".into()), Some(Some("0123456789abcdef".into())))
        );
        assert_eq!(split_description("[adsctl-managed]"), (None, Some(None)));
        assert_eq!(
            split_description("theirs [other]"),
            (Some("theirs [other]".into()), None)
        );
        assert_eq!(split_name(&marked_name("Spring")), ("Spring".into(), true));
        assert_eq!(split_name("Spring"), ("Spring".into(), false));
    }

    #[test]
    fn caches_are_per_type_and_key() {
        let a = shared_cache::<Vec<u8>>("k");
        a.lock().unwrap().push(1);
        assert_eq!(*shared_cache::<Vec<u8>>("k").lock().unwrap(), vec![1]);
        assert!(shared_cache::<Vec<u8>>("other").lock().unwrap().is_empty());
        assert!(shared_cache::<Vec<u16>>("k").lock().unwrap().is_empty());
    }
}
