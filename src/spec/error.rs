//! Spec errors: each one knows its file, line and column, says what is wrong and how to fix it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::yaml::Span;

/// The class of a spec error (stable, shown in brackets and in `--json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// The directory, a file or the CSV cannot be read.
    Io,
    NoProjectFile,
    EmptyFile,
    InvalidUtf8,
    FileTooLarge,
    /// A path that resolves outside the config directory (a symlink out of it).
    OutsideConfig,
    /// A path that is not a regular file (a directory, FIFO, socket or device).
    NotAFile,
    /// A control character (or bidirectional control) in a file or a text value.
    ControlCharacter,
    YamlSyntax,
    YamlAlias,
    TooDeep,
    UnknownField,
    DuplicateKey,
    InvalidValue,
    InvalidType,
    MissingField,
    UnknownReference,
    Duplicate,
    Constraint,
    Csv,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Io => "io",
            Code::NoProjectFile => "no-project-file",
            Code::EmptyFile => "empty-file",
            Code::InvalidUtf8 => "invalid-utf8",
            Code::FileTooLarge => "file-too-large",
            Code::OutsideConfig => "outside-config",
            Code::NotAFile => "not-a-file",
            Code::ControlCharacter => "control-character",
            Code::YamlSyntax => "yaml-syntax",
            Code::YamlAlias => "yaml-alias",
            Code::TooDeep => "too-deep",
            Code::UnknownField => "unknown-field",
            Code::DuplicateKey => "duplicate-key",
            Code::InvalidValue => "invalid-value",
            Code::InvalidType => "invalid-type",
            Code::MissingField => "missing-field",
            Code::UnknownReference => "unknown-reference",
            Code::Duplicate => "duplicate",
            Code::Constraint => "constraint",
            Code::Csv => "csv",
        }
    }
}

/// One problem in a config directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpecError {
    /// The file as the user named it (the directory argument joined with the relative path).
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub code: Code,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Byte range in the file, for snippets.
    #[serde(skip)]
    pub offset: usize,
    #[serde(skip)]
    pub len: usize,
}

impl SpecError {
    pub fn new(file: impl Into<String>, span: Span, code: Code, message: impl Into<String>) -> Self {
        SpecError {
            file: file.into(),
            line: span.line,
            column: span.col,
            code,
            message: message.into(),
            hint: None,
            offset: span.offset,
            len: span.len,
        }
    }
    /// An error about a whole file or directory (no position inside it: reported as line 1, column 1).
    pub fn file_level(file: impl Into<String>, code: Code, message: impl Into<String>) -> Self {
        SpecError::new(
            file,
            Span {
                line: 1,
                col: 1,
                ..Span::default()
            },
            code,
            message,
        )
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.column)
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

/// At most this many errors are drawn with snippets; the rest are counted.
pub const MAX_RENDERED: usize = 100;

/// Every error found in a config directory (never empty when returned as an `Err`).
#[derive(Clone, Debug, Default)]
pub struct SpecErrors {
    pub errors: Vec<SpecError>,
    /// Source text of the files the errors point into, for snippets.
    pub sources: BTreeMap<String, Arc<str>>,
}

impl SpecErrors {
    pub fn one(e: SpecError) -> Self {
        SpecErrors {
            errors: vec![e],
            sources: BTreeMap::new(),
        }
    }
    pub fn len(&self) -> usize {
        self.errors.len()
    }
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
    /// Make every message, hint and file name safe to print (user text escaped and elided to a short
    /// excerpt; see `excerpt`), then sort.
    pub fn finish(&mut self) {
        let sources = std::mem::take(&mut self.sources);
        for e in &mut self.errors {
            e.file = super::excerpt::file_name(&e.file);
            e.message = super::excerpt::message(&e.message);
            e.hint = e.hint.as_deref().map(super::excerpt::hint);
        }
        self.sources = sources
            .into_iter()
            // a password written in a URL is never shown (the state's URL refuses one: `state`)
            .map(|(k, v)| {
                (
                    super::excerpt::file_name(&k),
                    Arc::from(super::state::redact_url_passwords(&v)),
                )
            })
            .collect();
        self.sort();
    }
    /// Sort by file and position and drop exact repeats, so output is stable.
    pub fn sort(&mut self) {
        self.errors
            .sort_by(|a, b| (&a.file, a.line, a.column, &a.message).cmp(&(&b.file, b.line, b.column, &b.message)));
        self.errors.dedup();
    }
    /// The errors as a JSON array of `{file, line, column, code, message, hint}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.errors).unwrap_or_else(|_| "[]".into())
    }
    /// Compiler-style rendering with source snippets.
    pub fn render(&self, color: bool) -> String {
        use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic};
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let mut out = String::new();
        for e in self.errors.iter().take(MAX_RENDERED) {
            let mut diag = MietteDiagnostic::new(format!("{}: {}", e.location(), e.message))
                .with_severity(miette::Severity::Error);
            if let Some(h) = &e.hint {
                diag = diag.with_help(h.clone());
            }
            let source = self.sources.get(&e.file).filter(|s| e.offset <= s.len());
            let report = match source {
                Some(src) => {
                    // a window of the lines around the mistake, escaped (never a whole minified line)
                    let snippet = super::excerpt::Snippet::new(&e.file, src, e.offset, e.len);
                    diag = diag.with_label(LabeledSpan::new_with_span(Some("here".into()), snippet.span()));
                    miette::Report::new(diag).with_source_code(snippet)
                }
                None => miette::Report::new(diag),
            };
            let _ = handler.render_report(&mut out, report.as_ref());
            out.push('\n');
        }
        let n = self.errors.len();
        if n > MAX_RENDERED {
            out.push_str(&format!("… and {} more (`--json` lists them all)\n", n - MAX_RENDERED));
        }
        out.push_str(&format!(
            "error: {n} problem{} found; nothing was changed\n",
            if n == 1 { "" } else { "s" }
        ));
        out
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// "did you mean …?" for a misspelt name among `candidates`.
pub fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&input.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
