//! The `state:` key of `adsctl.yaml`: which backend holds the project's state. Checked by the full load (so
//! `adsctl validate` reports it) and read on its own by [`read`] (the `state` commands work even when the rest of
//! the YAML does not load).
//!
//! `adsctl.yaml` is in Git: a password in the URL written there is refused (it is in the repository's history
//! already, so the hint says to change it too), and never shown: [`redact_url_passwords`] masks it in the
//! source snippets of every error.

use std::path::Path;

use serde::Deserialize;

use super::de::Opt;
use super::error::{Code, SpecError, SpecErrors};
use super::rules::{problem, Problem};
use super::types::{StateBackend, StateSpec};

/// The environment variable a `postgres` state's URL is read from when `url_env` names none.
pub const DEFAULT_URL_ENV: &str = "ADSCTL_STATE_URL";

/// What `state:` says, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChoice {
    pub backend: StateBackend,
    /// A URL without a password.
    pub url: Option<String>,
    /// The variable holding the whole URL (`ADSCTL_STATE_URL` when not written).
    pub url_env: String,
}

/// The problems of a `state:` block.
pub(crate) fn check(spec: &StateSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if *spec.backend == StateBackend::Sled {
        for (field, span) in [
            ("url", spec.url.as_ref().map(|u| u.span)),
            ("url_env", spec.url_env.as_ref().map(|u| u.span)),
        ] {
            if let Some(span) = span {
                out.push(problem(
                    span,
                    Code::Constraint,
                    format!("`{field}` is for `backend: postgres`; a `sled` state is in the state directory"),
                    "remove it, or write `backend: postgres`",
                ));
            }
        }
    }
    if let Some(url) = spec.url.as_ref() {
        if let Some(p) = url_problem(&url.value) {
            let hint = match p {
                UrlProblem::Password => {
                    "remove the password from the URL and give it in PGPASSWORD, or put the whole URL in the \
                     environment variable named by `url_env` (ADSCTL_STATE_URL by default); it is in the \
                     repository's history now: change it on the server"
                }
                UrlProblem::NotPostgres => "write postgres://USER@HOST:PORT/DATABASE",
            };
            out.push(problem(url.span, Code::InvalidValue, p.message(), hint));
        }
    }
    if let Some(var) = spec.url_env.as_ref() {
        let ok = !var.is_empty()
            && !var.starts_with(|c: char| c.is_ascii_digit())
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            out.push(problem(
                var.span,
                Code::InvalidValue,
                "`url_env` is the name of an environment variable",
                "write a name such as ADSCTL_STATE_URL (letters, digits and `_`), not the URL itself",
            ));
        }
    }
    out
}

enum UrlProblem {
    Password,
    NotPostgres,
}

impl UrlProblem {
    fn message(&self) -> &'static str {
        match self {
            UrlProblem::Password => {
                "a password is written in adsctl.yaml, which is in Git: the state's URL may not hold one"
            }
            UrlProblem::NotPostgres => "the state's `url` is not a postgres:// URL",
        }
    }
}

fn url_problem(text: &str) -> Option<UrlProblem> {
    let t = text.trim();
    if !(t.starts_with("postgres://") || t.starts_with("postgresql://")) {
        // a password in any URL is still the first thing to say
        return Some(if has_password(t) {
            UrlProblem::Password
        } else {
            UrlProblem::NotPostgres
        });
    }
    if has_password(t) {
        return Some(UrlProblem::Password);
    }
    match url::Url::parse(t) {
        Ok(_) => None,
        Err(_) => Some(UrlProblem::NotPostgres),
    }
}

/// Whether a URL carries a password: `user:password@` before the host, or `password=` in its query.
fn has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if userinfo.contains(':') {
            return true;
        }
    }
    rest.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|kv| kv.split('=').next().is_some_and(|k| k.eq_ignore_ascii_case("password")))
    })
}

/// `text` with the password of every `scheme://user:password@…` URL and every `password=` of a URL's query
/// masked by `*` (byte for byte, so that positions stay right).
pub(crate) fn redact_url_passwords(text: &str) -> String {
    let mut out = text.as_bytes().to_vec();
    let bytes = text.as_bytes();
    let ends_url = |b: u8| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'}' | b']' | b',' | b'>');
    let mut from = 0;
    while let Some(i) = text[from..].find("://").map(|i| i + from) {
        let start = i + 3;
        let mut end = start;
        while end < bytes.len() && !ends_url(bytes[end]) {
            end += 1;
        }
        let url = &text[start..end];
        let authority_len = url.find(['/', '?', '#']).unwrap_or(url.len());
        if let Some(at) = url[..authority_len].rfind('@') {
            if let Some(colon) = url[..at].find(':') {
                out[start + colon + 1..start + at].fill(b'*');
            }
        }
        if let Some(q) = url.find('?') {
            let mut pos = start + q + 1;
            for kv in url[q + 1..].split(['&', '#']) {
                if let Some((k, v)) = kv.split_once('=') {
                    if k.eq_ignore_ascii_case("password") {
                        let v_start = pos + k.len() + 1;
                        out[v_start..v_start + v.len()].fill(b'*');
                    }
                }
                pos += kv.len() + 1;
            }
        }
        from = end.max(start);
    }
    // only ASCII bytes were replaced, each inside a run of whole characters
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

impl StateChoice {
    fn of(spec: &StateSpec) -> StateChoice {
        StateChoice {
            backend: *spec.backend,
            url: spec.url.as_ref().map(|u| u.value.trim().to_string()),
            url_env: spec
                .url_env
                .as_ref()
                .map(|v| v.value.clone())
                .unwrap_or_else(|| DEFAULT_URL_ENV.to_string()),
        }
    }
}

/// The project file seen through its `state:` key alone: every other key is skipped unread.
#[derive(Default)]
struct StateOnly {
    state: Opt<StateSpec>,
}

impl<'de> Deserialize<'de> for StateOnly {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StateOnly;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the project file")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<StateOnly, A::Error> {
                let mut out = StateOnly::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "state" {
                        out.state = map.next_value()?;
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// The `state:` block of the project file in `dir` (`None`: no project file, or no `state:` in it). Only that
/// block is read and checked; the rest of the file may be broken.
pub fn read(dir: &Path) -> Result<Option<StateChoice>, SpecErrors> {
    let Some(path) = ["adsctl.yaml", "adsctl.yml"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
    else {
        return Ok(None);
    };
    let root = std::fs::canonicalize(dir).map_err(|e| {
        SpecErrors::one(
            SpecError::file_level(
                dir.display().to_string(),
                Code::Io,
                format!("cannot read directory: {e}"),
            )
            .with_hint("pass the directory that holds adsctl.yaml"),
        )
    })?;
    let mut sources = super::load::Sources::default();
    let mut errors = Vec::new();
    let choice = match sources.read(&root, &path, path.display().to_string()) {
        Ok((_, docs)) => match docs.first() {
            Some(doc) => super::load::deserialize::<StateOnly>(&sources, doc, &mut errors).and_then(|s| {
                let spec = s.state.as_ref()?;
                let problems = check(&spec.value);
                if problems.is_empty() {
                    Some(StateChoice::of(&spec.value))
                } else {
                    errors.extend(
                        problems
                            .into_iter()
                            .map(|p| sources.error(p.span, p.code, p.message).with_hint(p.hint)),
                    );
                    None
                }
            }),
            None => None,
        },
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if errors.is_empty() {
        return Ok(choice);
    }
    let mut out = SpecErrors {
        errors,
        sources: Default::default(),
    };
    for f in &sources.files {
        out.sources.insert(f.display.clone(), f.text.clone());
    }
    out.finish();
    Err(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_found_and_masked_in_place() {
        assert!(has_password("postgres://ads:s3cret@db:5432/x"));
        assert!(has_password("postgres://ads@db/x?sslmode=require&password=s3cret"));
        assert!(!has_password("postgres://ads@db:5432/x"));
        assert!(!has_password("postgres://db/x?user=a:b"));
        let text = "state:\n  url: postgres://ads:s3cret@db:5432/x?password=other&sslmode=require\n";
        let masked = redact_url_passwords(text);
        assert_eq!(masked.len(), text.len());
        assert!(!masked.contains("s3cret") && !masked.contains("other"), "{masked}");
        assert!(
            masked.contains("postgres://ads:******@db:5432/x?password=*****&sslmode=require"),
            "{masked}"
        );
        let plain = "url: https://example.com/a?b=c\n";
        assert_eq!(redact_url_passwords(plain), plain);
    }
}
