//! Secrets (tokens, app secrets, proofs, authorization codes) that must never be printed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret string. `Debug` and `Display` mask it; read it with [`Secret::expose`] only where it goes on the wire.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The clear text: only for building a request or encrypting at rest.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Replace every occurrence of each secret in `text` by `****` (for error bodies echoed back by a server).
pub fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.0.len() >= 4 {
            out = out.replace(&s.0, "****");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("ya29.very-secret");
        assert!(!format!("{s} {s:?}").contains("very-secret"));
        assert_eq!(redact("token ya29.very-secret bad", &[&s]), "token **** bad");
    }
}
