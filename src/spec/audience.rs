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
pub(crate) fn plausible(e: &str) -> bool {
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

/// A data row of a customer file: its line and the values of the columns asked for.
type Row = (Option<u64>, Vec<String>);

/// The rows of a customer file: for each data row with something in one of `columns`, its line and the values of
/// those columns (trimmed; `""` for a column the row leaves empty). Every column must be in the header.
fn read_columns(root: &Path, path: &Path, columns: &[&str]) -> Result<Vec<Row>, Vec<CsvProblem>> {
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
    let mut idx = Vec::new();
    for column in columns {
        let Some(i) = headers
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
        idx.push(i);
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for rec in rdr.records() {
        match rec {
            Ok(r) => {
                let line = r.position().map(|p| p.line());
                let values: Vec<String> = idx.iter().map(|&i| r.get(i).unwrap_or("").trim().to_string()).collect();
                if values.iter().any(|v| !v.is_empty()) {
                    out.push((line, values));
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
        Ok(out)
    } else {
        Err(problems)
    }
}

impl Emails {
    /// Read `column` of the CSV at `path`, which must be a regular file inside `root` (canonical). Every unparsable address is a problem (with its line); the
    /// address itself is not repeated in the message.
    pub fn read(root: &Path, path: &Path, column: &str) -> Result<Emails, Vec<CsvProblem>> {
        let rows = read_columns(root, path, &[column])?;
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for (line, values) in rows {
            let e = &values[0];
            if plausible(&normalize_meta(e)) {
                out.push(e.clone());
            } else {
                problems.push(CsvProblem {
                    line,
                    message: format!("row has an unparsable email in column `{column}`"),
                    hint: "fix or remove the row; an email looks like name@example.com".into(),
                });
                if problems.len() >= 20 {
                    break;
                }
            }
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
    /// The addresses as the file has them (trimmed), for platforms that take them as written; kept in memory only.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A customer-file row for a platform that takes addresses as written (Mailchimp): the address, its consent
/// status (when the audience names a status column) and the values of the mapped columns (merge tag → value).
pub struct ClearRow {
    pub email: String,
    pub status: Option<String>,
    pub fields: Vec<(String, String)>,
}

/// The consent statuses a Mailchimp status column may hold (lower case).
pub const CONSENT_STATUSES: &[&str] = &["subscribed", "pending", "transactional", "unsubscribed"];

/// Read the address column, the status column and the mapped columns (`(merge tag, column)`) of the CSV at `path`
/// (inside `root`, as for [`Emails::read`], which reports unparsable addresses: their rows are left out here). A
/// status outside [`CONSENT_STATUSES`] is a problem (with its line); no value is repeated in a message.
pub fn clear_rows(
    root: &Path,
    path: &Path,
    column: &str,
    status_column: Option<&str>,
    mapped: &[(String, String)],
) -> Result<Vec<ClearRow>, Vec<CsvProblem>> {
    let mut columns: Vec<&str> = vec![column];
    columns.extend(status_column);
    columns.extend(mapped.iter().map(|(_, c)| c.as_str()));
    let rows = read_columns(root, path, &columns)?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let first_mapped = 1 + usize::from(status_column.is_some());
    for (line, values) in rows {
        let e = &values[0];
        // an unparsable address is reported by `Emails::read` of the same column
        if plausible(&normalize_meta(e)) {
            let status = match status_column {
                Some(sc) => {
                    let v = values[1].to_lowercase();
                    if !CONSENT_STATUSES.contains(&v.as_str()) {
                        problems.push(CsvProblem {
                            line,
                            message: format!("row has no known consent status in column `{sc}`"),
                            hint: format!("write one of {}", CONSENT_STATUSES.join(", ")),
                        });
                        continue;
                    }
                    Some(v)
                }
                None => None,
            };
            let fields = mapped
                .iter()
                .zip(&values[first_mapped..])
                .filter(|(_, v)| !v.is_empty())
                .map(|((tag, _), v)| (tag.clone(), v.clone()))
                .collect();
            out.push(ClearRow {
                email: e.trim().to_string(),
                status,
                fields,
            });
        }
        if problems.len() >= 20 {
            break;
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The companies of a company list: each `name<TAB>domain` (either may be empty, not both), the domain lower-cased
/// without scheme, `www.` or path. Company names are not personal data: they are sent as written.
pub struct Companies(pub Vec<String>);

/// A plausible website domain: dotted, no spaces.
fn plausible_domain(d: &str) -> bool {
    !d.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains(char::is_whitespace)
}

/// `https://www.Contoso.com/about` → `contoso.com`.
pub fn normalize_domain(raw: &str) -> String {
    let d = raw.trim().to_lowercase();
    let d = d
        .strip_prefix("https://")
        .or_else(|| d.strip_prefix("http://"))
        .unwrap_or(&d);
    let d = d.split(['/', '?', '#']).next().unwrap_or(d);
    d.strip_prefix("www.").unwrap_or(d).to_string()
}

impl Companies {
    /// Read the company name and/or website columns of the CSV at `path` (inside `root`, as for e-mails).
    pub fn read(
        root: &Path,
        path: &Path,
        name: Option<&str>,
        website: Option<&str>,
    ) -> Result<Companies, Vec<CsvProblem>> {
        let columns: Vec<&str> = name.into_iter().chain(website).collect();
        let rows = read_columns(root, path, &columns)?;
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for (line, values) in rows {
            let n = if name.is_some() {
                values[0].clone()
            } else {
                String::new()
            };
            let d = match website {
                Some(col) => {
                    let raw = values.last().cloned().unwrap_or_default();
                    let d = normalize_domain(&raw);
                    if !raw.is_empty() && !plausible_domain(&d) {
                        problems.push(CsvProblem {
                            line,
                            message: format!("row has an unparsable website in column `{col}`"),
                            hint: "fix or remove the row; a website looks like contoso.com".into(),
                        });
                        if problems.len() >= 20 {
                            break;
                        }
                        continue;
                    }
                    d
                }
                None => String::new(),
            };
            if n.contains('\t') {
                problems.push(CsvProblem {
                    line,
                    message: "row has a tab in its company name".into(),
                    hint: "remove the tab".into(),
                });
                continue;
            }
            if !n.is_empty() || !d.is_empty() {
                out.push(format!("{n}\t{d}"));
            }
        }
        if problems.is_empty() {
            Ok(Companies(out))
        } else {
            Err(problems)
        }
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
    fn company_lists() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(
            root.join("c.csv"),
            "company,website\nContoso,https://www.Contoso.com/about\nFabrikam,\n,northwind.example\n,\nBad,not a domain\n",
        )
        .unwrap();
        let p = root.join("c.csv");
        let e = Companies::read(&root, &p, Some("company"), Some("website"))
            .err()
            .unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, Some(6));
        std::fs::write(
            &p,
            "company,website\nContoso,https://www.Contoso.com/about\nFabrikam,\n,northwind.example\n",
        )
        .unwrap();
        let c = Companies::read(&root, &p, Some("company"), Some("website")).unwrap();
        assert_eq!(c.0, vec!["Contoso\tcontoso.com", "Fabrikam\t", "\tnorthwind.example"]);
        let c = Companies::read(&root, &p, None, Some("website")).unwrap();
        assert_eq!(c.0.len(), 2);
        assert!(
            Companies::read(&root, &p, Some("name"), None).is_err(),
            "no such column"
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
