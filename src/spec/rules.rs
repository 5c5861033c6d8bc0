//! Validation rules beyond the shape of one field: what a platform would refuse or a user would not want,
//! although each value is well-formed on its own.
//!
//! Each rule is a function over the typed spec (or over what lowering made of it) that returns the problems it
//! finds, positioned; `lower` calls them. Kept apart from `lower` so that each rule reads on its own.

use std::collections::HashMap;

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
use unicode_width::UnicodeWidthChar;

use super::de::Spanned;
use super::error::{did_you_mean, Code};
use super::types::*;
use super::yaml::Span;
use crate::model::Platform;

type S<T> = Spanned<T>;

/// A problem found by a rule: where, what, how to fix it.
#[derive(Debug, Clone)]
pub struct Problem {
    pub span: Span,
    pub code: Code,
    pub message: String,
    pub hint: String,
}

pub(crate) fn problem(span: Span, code: Code, message: impl Into<String>, hint: impl Into<String>) -> Problem {
    Problem {
        span,
        code,
        message: message.into(),
        hint: hint.into(),
    }
}

// ------------------------------------------------------------------------------------------------ accounts

/// An account's local name starts every address and names its state files: ASCII letters, digits, `-` and `_`.
pub fn valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An IANA time zone name (`Europe/Berlin`, `UTC`), checked against the tz database; the hint suggests the
/// closest name.
pub fn time_zone(tz: &str) -> Result<(), String> {
    if tz.parse::<chrono_tz::Tz>().is_ok() {
        return Ok(());
    }
    let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
    Err(match did_you_mean(tz, names) {
        Some(s) => format!("did you mean `{s}`? use a name from the IANA time zone database"),
        None => "use a name from the IANA time zone database, such as `America/New_York` or `Europe/Paris`".into(),
    })
}

/// The account id a platform knows an account by, whatever the spelling (`123-456-7890` / `"1234567890"`,
/// `act_0123` / `123`): digits without leading zeros.
fn canonical_account_id(platform: Platform, spec: &AccountSpec) -> Option<(Span, String)> {
    let raw = crate::platforms::home(platform)?.account_id_written(spec)?;
    let t = raw.trim();
    let t = t.strip_prefix("act_").unwrap_or(t);
    let digits: String = t.chars().filter(|c| *c != '-').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    Some((raw.span, if digits.is_empty() { "0".into() } else { digits.into() }))
}

/// Two accounts that are one account on the platform (two names would manage it twice, each deleting what the
/// other creates): the same id on the same API (accounts with different `endpoint:` overrides are on different
/// servers, e.g. two emulators).
pub fn same_platform_account(file: &ProjectFile, location: impl Fn(Span) -> String) -> Vec<Problem> {
    // an account is known by its API (the default, or an `endpoint:` override such as an emulator) and its id
    let mut seen: HashMap<(Platform, Option<&str>, String), (&str, Span)> = HashMap::new();
    let mut out = Vec::new();
    for (name, item) in &file.accounts.entries {
        let Some(spec) = &item.value else { continue };
        let platform: Platform = spec.platform.value.into();
        let Some((span, id)) = canonical_account_id(platform, spec) else {
            continue;
        };
        let api = spec.endpoint.as_ref().map(|e| e.trim().trim_end_matches('/'));
        match seen.get(&(platform, api, id.clone())) {
            Some((first, at)) => {
                let Some(home) = crate::platforms::home(platform) else {
                    continue;
                };
                let (what, shown) = home.describe_account_id(&id);
                out.push(problem(
                    span,
                    Code::Duplicate,
                    format!(
                        "account `{}` is the same {what} as `{first}` ({shown}, declared at {})",
                        name.value,
                        location(*at)
                    ),
                    "declare each platform account once: two names for one account would manage it twice",
                ));
            }
            None => {
                seen.insert((platform, api, id), (name.value.as_str(), span));
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------ text

/// How many characters a text counts for toward Google's ad text limits: characters whose East Asian Width is
/// Wide or Fullwidth (CJK ideographs, kana, Hangul, full-width forms) count twice, every other character once.
/// Counted on the NFC form (what the user sees as one letter with an accent is one character).
pub fn google_width(text: &str) -> (usize, usize) {
    if text.is_ascii() {
        return (text.len(), 0);
    }
    let mut width = 0;
    let mut wide = 0;
    for c in text.nfc() {
        if c.width() == Some(2) {
            width += 2;
            wide += 1;
        } else {
            width += 1;
        }
    }
    (width, wide)
}

/// The key two texts are duplicates under: NFC, lower case, trimmed.
pub fn text_key(text: &str) -> String {
    let t = text.trim();
    if t.is_ascii() {
        return t.to_ascii_lowercase();
    }
    match is_nfc_quick(t.chars()) {
        IsNormalized::Yes => t.to_lowercase(),
        _ => t.nfc().collect::<String>().to_lowercase(),
    }
}

/// `text` in NFC, when it is not already.
pub fn nfc_if_needed(text: &str) -> Option<String> {
    match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => None,
        _ => {
            let n: String = text.nfc().collect();
            (n != text).then_some(n)
        }
    }
}

/// A value that must fit on one line (names, ad text, keywords): a line break or tab is a mistake (a block
/// scalar `|` or a quoted `\n`), and the platforms refuse it.
pub(crate) fn one_line(s: &S<String>, what: &str, out: &mut Vec<Problem>) {
    if let Some(&c) = s.as_bytes().iter().find(|&&b| b == b'\n' || b == b'\t') {
        let which = if c == b'\n' { "a line break" } else { "a tab" };
        out.push(problem(
            s.span,
            Code::InvalidValue,
            format!("{what} holds {which}"),
            format!("write the {what} on one line"),
        ));
    }
}

pub(crate) fn one_line_opt(s: &Option<S<String>>, what: &str, out: &mut Vec<Problem>) {
    if let Some(s) = s {
        one_line(s, what, out);
    }
}

pub(crate) fn one_line_text(s: &S<AdText>, what: &str, out: &mut Vec<Problem>) {
    one_line(
        &Spanned {
            span: s.span,
            value: s.text.clone(),
        },
        what,
        out,
    );
}

pub(crate) fn values<T>(items: &[super::de::Item<T>]) -> impl Iterator<Item = &T> {
    items.iter().filter_map(|i| i.value.as_ref())
}

/// Every value of a resource file that must fit on one line.
pub fn single_line(file: &ResourceFile) -> Vec<Problem> {
    let mut out = Vec::new();
    for b in values(&file.budgets) {
        one_line(&b.name, "budget name", &mut out);
    }
    for a in values(&file.audiences) {
        one_line(&a.name, "audience name", &mut out);
    }
    // lookalike audiences: checked as their homes lower them (`Lower::lookalike_resource`)
    // campaigns: each platform's home checks its own (`Home::campaign_problems`)
    out
}

// ------------------------------------------------------------------------------------------------ platform ids

/// Two resources pinned (`id:`) to one platform object: each would manage it, and a plan would fight itself.
/// Ids are unique per account and kind, keyword criterion ids per ad group (Google shares a keyword's criterion
/// id between ad groups).
pub fn duplicate_ids(
    pinned: &[(crate::model::Address, String, Span)],
    location: impl Fn(Span) -> String,
) -> Vec<Problem> {
    use crate::model::Kind;
    let mut seen: HashMap<(String, Kind, &str), (&crate::model::Address, Span)> = HashMap::new();
    let mut out = Vec::new();
    for (addr, id, span) in pinned {
        let Some(kind) = addr.kind() else { continue };
        let scope = match kind {
            Kind::Keyword | Kind::NegativeKeyword => addr.parent().map(|p| p.to_string()).unwrap_or_default(),
            _ => addr.account.clone(),
        };
        match seen.get(&(scope.clone(), kind, id.as_str())) {
            Some((first, at)) => out.push(problem(
                *span,
                Code::Duplicate,
                format!("id {id} is already pinned by `{first}` (at {})", location(*at)),
                "each platform object is managed by one resource; remove one of the ids",
            )),
            None => {
                seen.insert((scope, kind, id.as_str()), (addr, *span));
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------ platforms

/// The hint for a field written on another platform's campaign: its counterpart on this one, if any.
pub fn counterpart(platform: Platform, field: &str) -> String {
    match crate::platforms::home(platform).and_then(|h| h.counterpart(field)) {
        Some(hint) => hint.into(),
        None => format!("remove `{field}`"),
    }
}

// ------------------------------------------------------------------------------------------------ follow-on errors

/// The names between backquotes in `text`.
fn quoted(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

/// Drop "needs `X`" errors that a nearby misspelt key explains: `chanel: search` is reported as an unknown field
/// with "did you mean `channel`?", and the campaign's missing `channel` is the same mistake. Also drops exact
/// repeats of a message at one place.
pub fn drop_follow_on(errors: &mut Vec<super::error::SpecError>) {
    let explained: Vec<(String, usize, Vec<String>)> = errors
        .iter()
        .filter(|e| matches!(e.code, Code::UnknownField | Code::YamlSyntax))
        .filter_map(|e| {
            let hint = e.hint.as_deref()?;
            let fields: Vec<String> = if let Some(rest) = hint.strip_prefix("did you mean ") {
                quoted(rest).take(1).map(str::to_string).collect()
            } else if let Some(rest) = hint.strip_prefix("write `") {
                rest.split(':').take(1).map(str::to_string).collect()
            } else {
                Vec::new()
            };
            (!fields.is_empty()).then(|| (e.file.clone(), e.line, fields))
        })
        .collect();
    if explained.is_empty() {
        return;
    }
    errors.retain(|e| {
        if e.code != Code::MissingField {
            return true;
        }
        let wanted: Vec<&str> = quoted(&e.message).collect();
        !explained.iter().any(|(file, line, fields)| {
            *file == e.file
                && (e.line..=e.line + 30).contains(line)
                && fields.iter().any(|f| wanted.contains(&f.as_str()))
        })
    });
}
