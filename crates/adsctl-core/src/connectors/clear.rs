//! Customer-file members in clear, for the platforms that take addresses as written (Mailchimp, HubSpot,
//! Salesforce), kept in this process's memory only.
//!
//! adsctl never stores, prints or plans an e-mail address. A customer-file audience on such a platform holds the
//! platform's own id of each member (Mailchimp: the MD5 subscriber hash) in its `members` field, which a read can
//! compare without an address; the spec loader, which reads the customer file, files each member's address and
//! column values here under that id, and the connector takes what it must send from here at apply time. Nothing
//! here is serialised, and `Debug` shows counts only.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock, PoisonError};

/// One member of a customer file, as the platform takes it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ClearMember {
    /// The address as the file has it, trimmed.
    pub email: String,
    /// The member's consent status from the file's status column, when the audience names one (Mailchimp:
    /// `subscribed`, `pending`, `transactional`, `unsubscribed`), for contacts new to the platform.
    pub status: Option<String>,
    /// Further columns the audience maps (Mailchimp merge tag → value), as written in the file.
    pub fields: BTreeMap<String, String>,
}

impl std::fmt::Debug for ClearMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClearMember(<redacted>, {} field(s))", self.fields.len())
    }
}

type Book = HashMap<String, HashMap<String, ClearMember>>;

fn book() -> &'static Mutex<Book> {
    static BOOK: OnceLock<Mutex<Book>> = OnceLock::new();
    BOOK.get_or_init(Default::default)
}

/// Files the members of the audience at `address` (its resource address, `acct/audience/<name>`), keyed by the
/// platform's member id, replacing what was filed for it before.
pub fn file(address: &str, members: HashMap<String, ClearMember>) {
    book()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(address.to_string(), members);
}

/// The member with platform id `id` of the audience at `address`, if the customer file has it.
pub fn member(address: &str, id: &str) -> Option<ClearMember> {
    book()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(address)
        .and_then(|m| m.get(id).cloned())
}

/// How many members are filed for `address` (0 when none).
pub fn count(address: &str) -> usize {
    book()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(address)
        .map_or(0, HashMap::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_filed_by_audience_and_id_and_never_shown() {
        let mut m = HashMap::new();
        m.insert(
            "h1".to_string(),
            ClearMember {
                email: "ada@example.com".into(),
                status: None,
                fields: BTreeMap::from([("FNAME".into(), "Ada".into())]),
            },
        );
        file("acct/audience/Test clear", m);
        let got = member("acct/audience/Test clear", "h1").unwrap();
        assert_eq!(got.email, "ada@example.com");
        assert!(member("acct/audience/Test clear", "h2").is_none());
        assert!(member("other/audience/Test clear", "h1").is_none());
        assert_eq!(count("acct/audience/Test clear"), 1);
        assert!(!format!("{got:?}").contains("ada"));
    }
}
