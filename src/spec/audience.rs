//! Customer files: read the email column of a local CSV, normalise each address the way the platform does,
//! and keep only the SHA-256 (lower-case hex). The clear text never leaves this module.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::guard::{Limited, Refused};

use crate::model::Platform;

/// Largest CSV accepted (customer files are big, but not this big).
pub const MAX_CSV_BYTES: u64 = 256 * 1024 * 1024;

/// A problem with a customer file; `line` is 1-based in the CSV when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvProblem {
    pub line: Option<u64>,
    pub message: String,
    pub hint: String,
}

/// The normalised emails of a CSV column (clear text, held only while loading).
pub struct Emails(Vec<String>);

/// Meta (official SDK): strip whitespace and dots at both ends, lower-case.
pub fn normalize_meta(email: &str) -> String {
    email
        .trim_matches(|c: char| c.is_whitespace() || c == '.')
        .to_lowercase()
}

/// A plausible email: one `@`, non-empty local part, a dotted domain, no spaces.
fn plausible(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

impl Emails {
    /// Read `column` of the CSV at `path`, which must be a regular file inside `root` (canonical). Every unparsable address is a problem (with its line); the
    /// address itself is not repeated in the message.
    pub fn read(root: &Path, path: &Path, column: &str) -> Result<Emails, Vec<CsvProblem>> {
        let too_large = || format!("customer file is larger than {} MiB", MAX_CSV_BYTES / (1024 * 1024));
        let problem = |line, message: String, hint: &str| CsvProblem {
            line,
            message,
            hint: hint.to_string(),
        };
        // inside the config directory, a regular file, and at most MAX_CSV_BYTES actually read
        let file = super::guard::open_confined(root, path).map_err(|r| {
            let (message, hint) = match r {
                Refused::Outside { target: Some(t) } => (
                    format!("customer file is a symbolic link to `{t}`, outside the config directory"),
                    "adsctl reads only files inside the directory holding adsctl.yaml; copy the file in instead",
                ),
                Refused::Outside { target: None } => (
                    "customer file resolves outside the config directory".into(),
                    "adsctl reads only files inside the directory holding adsctl.yaml; copy the file in instead",
                ),
                Refused::Dangling { target } => (
                    format!("customer file is a symbolic link to `{target}`, which does not exist"),
                    "fix or remove the link",
                ),
                Refused::NotRegular(kind) => (
                    format!("customer file is {kind}, not a regular file"),
                    "point `path` at a CSV file",
                ),
                Refused::TooLarge { .. } => (too_large(), "split the list or upload it outside adsctl"),
                Refused::Io(e) => (
                    format!("cannot read customer file: {e}"),
                    "the path is relative to the directory holding adsctl.yaml",
                ),
            };
            vec![problem(None, message, hint)]
        })?;
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(Limited::new(file, MAX_CSV_BYTES));
        let headers = rdr
            .headers()
            .map_err(|e| {
                vec![problem(
                    Some(1),
                    format!("cannot read the CSV header: {e}"),
                    "the first row must name the columns",
                )]
            })?
            .clone();
        let Some(idx) = headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim().eq_ignore_ascii_case(column))
        else {
            let names: Vec<&str> = headers.iter().collect();
            return Err(vec![problem(
                Some(1),
                format!("the CSV has no column `{column}`"),
                &format!("columns in the header: {}", names.join(", ")),
            )]);
        };
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for rec in rdr.records() {
            match rec {
                Ok(r) => {
                    let line = r.position().map(|p| p.line());
                    let raw = r.get(idx).unwrap_or("");
                    let e = raw.trim();
                    if e.is_empty() {
                        continue;
                    }
                    if plausible(&normalize_meta(e)) {
                        out.push(e.to_string());
                    } else {
                        problems.push(problem(
                            line,
                            format!("row has an unparsable email in column `{column}`"),
                            "fix or remove the row; an email looks like name@example.com",
                        ));
                    }
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line());
                    problems.push(problem(
                        line,
                        "the CSV row cannot be read".into(),
                        "check quoting and encoding (UTF-8)",
                    ));
                }
            }
            if problems.len() >= 20 {
                break;
            }
        }
        if rdr.get_ref().exceeded {
            return Err(vec![problem(
                None,
                too_large(),
                "split the list or upload it outside adsctl",
            )]);
        }
        if problems.is_empty() {
            Ok(Emails(out))
        } else {
            Err(problems)
        }
    }

    /// SHA-256 hex of each address, normalised for `platform`.
    pub fn hashed(&self, platform: Platform) -> Vec<String> {
        self.0
            .iter()
            .map(|e| match crate::platforms::home(platform) {
                Some(home) => home.hash_email(e),
                None => sha256_hex(&normalize_meta(e)),
            })
            .collect()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_per_platform() {
        assert_eq!(normalize_meta("  John.Doe@Example.COM. "), "john.doe@example.com");
        assert_eq!(
            sha256_hex("test@example.com"),
            "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
        );
    }

    #[test]
    fn plausibility() {
        assert!(plausible("a@b.co"));
        for bad in ["a", "a@b", "@b.co", "a b@c.de", "a@@b.co", "a@.co"] {
            assert!(!plausible(bad), "{bad}");
        }
    }
}
