//! What of a user's files may be shown: short, escaped excerpts.
//!
//! A repository may come from anyone who can open a pull request, and CI logs are often public. So no error
//! repeats more than [`MAX_TOKEN`] characters of what was written, control characters (terminal escapes, NUL,
//! bidirectional overrides) are shown as escapes instead of being written to the terminal, and a snippet shows
//! a window of at most [`WINDOW`] characters of each line around the mistake (a minified one-line file would
//! otherwise be printed whole, and miette's renderer cannot draw columns past 65,535).

use std::borrow::Cow;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Longest run of user text repeated in a message (between backquotes).
pub const MAX_TOKEN: usize = 80;
/// Longest message; past it the middle is elided (a token holding a backquote could defeat the per-token cap).
const MAX_MESSAGE: usize = 400;
/// Longest hint (lists of allowed values and fields are long, but bounded).
const MAX_HINT: usize = 1200;
/// Characters of one source line drawn in a snippet.
pub const WINDOW: usize = 160;

/// A character that must not reach a terminal as it is: C0/C1 controls (but tab and line feed), DEL, and the
/// bidirectional embedding, override and isolate controls (they reorder what a reviewer sees).
pub fn is_hostile_char(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether `text` may hold a hostile character (a quick byte scan: C0 controls but tab and line feed, DEL, and
/// the lead bytes of C1 controls and of the bidirectional controls).
pub fn may_be_hostile(text: &str) -> bool {
    // branch-free over 64-byte chunks, so that it vectorises (this runs over every file read)
    let hostile = |b: u8| (b < 0x20 && b != b'\t' && b != b'\n') | (b == 0x7f) | (b == 0xc2) | (b == 0xe2);
    let bytes = text.as_bytes();
    let mut chunks = bytes.chunks_exact(64);
    for c in &mut chunks {
        if c.iter().fold(false, |acc, &b| acc | hostile(b)) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| hostile(b))
}

/// How a hostile character is written in messages: `\0`, `\u{1b}`, …
pub fn escape_char(c: char) -> String {
    match c {
        '\0' => "\\0".into(),
        '\r' => "\\r".into(),
        _ => format!("\\u{{{:x}}}", c as u32),
    }
}

/// `text` with hostile characters escaped (line feeds and tabs too, when `one_line`).
pub fn escape(text: &str, one_line: bool) -> Cow<'_, str> {
    let bad = |c: char| is_hostile_char(c) || (one_line && (c == '\n' || c == '\t'));
    if !text.chars().any(bad) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' if one_line => out.push_str("\\n"),
            '\t' if one_line => out.push_str("\\t"),
            c if bad(c) => out.push_str(&escape_char(c)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A piece of a source line as drawn in a snippet: escaped, and a tab drawn as `→` (as spaces it would hide the
/// very character a "tab" error is about).
fn drawn(text: &str) -> String {
    escape(text, false).replace('\t', "→")
}

/// At most `max` characters of `text`: its start and end around `…` when it is longer.
pub fn elide(text: &str, max: usize) -> Cow<'_, str> {
    let n = text.chars().count();
    if n <= max {
        return Cow::Borrowed(text);
    }
    let head = (max * 2) / 3;
    let tail = max.saturating_sub(head + 1);
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    Cow::Owned(format!("{start}…{end}"))
}

/// A message made safe to print: every backquoted token escaped and elided to [`MAX_TOKEN`] characters, the
/// whole message escaped and elided to `max` characters.
fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 16));
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(&elide(&escape(part, true), MAX_TOKEN));
        } else {
            out.push_str(&escape(part, false));
        }
    }
    elide(&out, max).into_owned()
}

pub fn message(text: &str) -> String {
    sanitize(text, MAX_MESSAGE)
}

pub fn hint(text: &str) -> String {
    sanitize(text, MAX_HINT)
}

/// A file name made safe to print.
pub fn file_name(text: &str) -> String {
    elide(&escape(text, true), 2 * MAX_TOKEN + 40).into_owned()
}

/// The lines of `src` around byte `offset` (one before, one after), each cut to a window of [`WINDOW`]
/// characters around the column of `offset` and escaped, with the span of `offset..offset + len` in it.
pub struct Snippet {
    name: String,
    text: String,
    /// 0-based number of the first line shown.
    first_line: usize,
    /// Where the labelled span starts in `text` and how long it is.
    span: SourceSpan,
    /// 0-based line (of the file) and column (in characters) of the labelled span, for miette's header.
    line: usize,
    column: usize,
}

impl Snippet {
    pub fn new(name: &str, src: &str, offset: usize, len: usize) -> Snippet {
        let offset = floor_boundary(src, offset.min(src.len()));
        let end = floor_boundary(src, offset.saturating_add(len).min(src.len()));
        let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_no = src[..line_start].matches('\n').count();
        let column = src[line_start..offset].chars().count();
        let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
        let prev = (line_start > 0).then(|| {
            let e = line_start - 1;
            let s = src[..e].rfind('\n').map_or(0, |i| i + 1);
            &src[s..e]
        });
        let next = (line_end < src.len()).then(|| {
            let s = line_end + 1;
            let e = src[s..].find('\n').map_or(src.len(), |i| s + i);
            &src[s..e]
        });
        // The window of the error's line: from a little before the column, at most WINDOW characters.
        let this = &src[line_start..line_end];
        let chars: Vec<(usize, char)> = this.char_indices().collect();
        let total = chars.len();
        let from = if total <= WINDOW {
            0
        } else {
            column.saturating_sub(WINDOW / 3).min(total - WINDOW)
        };
        let to = (from + WINDOW).min(total);
        let byte = |i: usize| chars.get(i).map_or(this.len(), |(b, _)| *b);
        let mut text = String::new();
        let mut first_line = line_no;
        if let Some(p) = prev {
            text.push_str(&window(p, from));
            text.push('\n');
            first_line -= 1;
        }
        let mut shown = String::new();
        if from > 0 {
            shown.push('…');
        }
        let rel_start = offset - line_start;
        let rel_end = end.min(line_end) - line_start;
        // escape the window piece by piece, so that the span's position is known in the escaped text
        // (`from` <= column <= `to`, so the span starts inside the window)
        let (w_start, w_end) = (byte(from), byte(to));
        let inside_end = rel_end.clamp(rel_start, w_end);
        let before = drawn(&this[w_start..rel_start]);
        let inside = drawn(&this[rel_start..inside_end]);
        let after = drawn(&this[inside_end..w_end]);
        shown.push_str(&before);
        let span_start = text.len() + shown.len();
        shown.push_str(&inside);
        let span_len = inside.len();
        shown.push_str(&after);
        if to < total {
            shown.push('…');
        }
        text.push_str(&shown);
        if let Some(n) = next {
            text.push('\n');
            text.push_str(&window(n, from));
        }
        Snippet {
            name: name.to_string(),
            text,
            first_line,
            span: (span_start, span_len).into(),
            line: line_no,
            column,
        }
    }

    /// The labelled span, in [`Snippet`]'s own text.
    pub fn span(&self) -> SourceSpan {
        self.span
    }
}

/// At most [`WINDOW`] characters of a context line from character `from` (the window of the error's line, so
/// that columns line up), escaped.
fn window(line: &str, from: usize) -> String {
    let mut out = String::new();
    if from > 0 && line.chars().nth(from).is_some() {
        out.push('…');
    }
    out.extend(line.chars().skip(from).take(WINDOW));
    if line.chars().count() > from + WINDOW {
        out.push('…');
    }
    drawn(&out)
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.as_str().read_span(span, before, after)?;
        // The labelled span itself (read without context): report the file's own line and column.
        let (line, column) = if before == 0 && after == 0 && span.offset() == self.span.offset() {
            (self.line, self.column)
        } else {
            (inner.line() + self.first_line, inner.column())
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            line,
            column,
            inner.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_elided_and_escaped() {
        let long = "x".repeat(500);
        let m = message(&format!("invalid value `{long}` here"));
        assert!(m.chars().count() < 120, "{m}");
        assert!(m.contains('…'));
        assert_eq!(message("bad `a\u{1b}[2Jb\0`"), "bad `a\\u{1b}[2Jb\\0`");
        assert_eq!(message("plain"), "plain");
    }

    #[test]
    fn snippet_of_a_long_line_is_a_window() {
        let src = format!("a: 1\nb: {}X{}\nc: 3\n", "y".repeat(70_000), "z".repeat(70_000));
        let off = src.find('X').unwrap();
        let s = Snippet::new("f.yaml", &src, off, 1);
        assert!(s.text.len() < 400, "{}", s.text.len());
        let sp = s.span();
        assert_eq!(&s.text[sp.offset()..sp.offset() + sp.len()], "X");
        assert_eq!(s.first_line, 0);
        assert_eq!(s.line, 1);
        assert_eq!(s.column, 70_003);
    }
}
