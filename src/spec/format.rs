//! `adsctl fmt`: one canonical style for adsctl's YAML — the style of `examples/` — that keeps every comment and
//! every value.
//!
//! The style:
//! - the first line is the schema modeline, `# yaml-language-server: $schema=<path>`, naming
//!   `adsctl.schema.json` (the project file) or `resources.schema.json` (every other file). A modeline already in
//!   the file keeps its path (its file name is corrected); a file without one gets the path to
//!   `schemas/<name>` in the config directory, where `adsctl schema --out schemas` writes them;
//! - two spaces of indentation; a list is indented under its key (`campaigns:` then `  - name: …`) and a mapping
//!   in a list starts on the line of its `-`;
//! - a collection written inline (`{ daily: 50 }`, `[US, CA]`) stays inline, on one line, with spaces inside
//!   braces and none inside brackets, unless it holds a comment or would not fit in 120 columns: then it is
//!   written as a block;
//! - plain scalars stay plain; quoted ones are double-quoted (`'it''s'` → `"it's"`); multi-line text is a
//!   literal block (`|`, `|-` or `|+` as its trailing newlines ask);
//! - comments stay with the line they were on (a comment on its own line is indented like what follows it);
//!   runs of blank lines become one, and none follows an opening key; no trailing spaces; one final newline.
//!
//! Every result is checked before anyone writes it: parsed again, it must hold the same documents (same
//! mappings, keys in the same order, same scalars, plain or quoted as before), and formatting it again must
//! change nothing. A result that fails either check is an internal error, never written.

use std::collections::{BTreeMap, BTreeSet};

use super::yaml::{self, Node, NodeKind, Style};

/// The modeline's prefix.
pub const MODELINE: &str = "# yaml-language-server: $schema=";

/// The widest inline collection line kept inline.
const MAX_INLINE: usize = 120;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// The text is not YAML adsctl reads (located; the message is the loader's).
    #[error("{0}")]
    Syntax(String),
    /// The formatted text would not mean the same (a bug in the formatter): nothing is written.
    #[error("formatting would change what the file means ({0}); the file is left as it is")]
    Changed(&'static str),
}

#[derive(Clone, Debug)]
struct Comment {
    /// The comment from its `#`, trailing spaces removed.
    text: String,
    /// Alone on its line (else it follows a value).
    own_line: bool,
    /// Its column (0-based) in the source.
    col: usize,
}

struct Source<'a> {
    text: &'a str,
    /// The text's lines (without `\r`), read by number as the writer looks for `-` and `---`.
    lines: Vec<&'a str>,
    /// By 1-based line.
    comments: BTreeMap<usize, Comment>,
    /// 1-based numbers of blank lines (outside block scalars).
    blank: BTreeSet<usize>,
}

/// Format one file. `schema` is the modeline's target for a file without one (`../schemas/resources.schema.json`);
/// its file name is the one a modeline must name.
pub fn format(text: &str, schema: &str) -> Result<String, FormatError> {
    format_with(text, schema, false)
}

/// [`format`] for YAML adsctl writes itself (`adsctl import`): also writes small mappings of scalars (at most
/// four entries) and lists of plain scalars inline when they fit in 80 columns, as the examples do
/// (`budget: { daily: 50.00 }`, `countries: [US]`). `format` keeps them as they are, so the result is formatted.
pub fn format_generated(text: &str, schema: &str) -> Result<String, FormatError> {
    format_with(text, schema, true)
}

fn format_with(text: &str, schema: &str, compact: bool) -> Result<String, FormatError> {
    let out = format_once(text, schema, compact)?;
    // the checks: same meaning, and a fixed point
    let before = parse(text)?;
    let after = parse(&out).map_err(|_| FormatError::Changed("the result does not parse"))?;
    if !same_docs(&before, &after) {
        return Err(FormatError::Changed("the result holds other values"));
    }
    if format_once(&out, schema, false).ok().as_deref() != Some(out.as_str()) {
        return Err(FormatError::Changed("formatting the result again changes it"));
    }
    Ok(out)
}

fn parse(text: &str) -> Result<Vec<Node>, FormatError> {
    yaml::parse_full(text, 0, "file").map_err(|e| FormatError::Syntax(e.to_string()))
}

fn format_once(text: &str, schema: &str, compact: bool) -> Result<String, FormatError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let docs = parse(text)?;
    let mut src = scan(text, &docs);
    let modeline = take_modeline(&mut src, schema);
    let mut w = Writer {
        src: &src,
        out: Vec::new(),
        used: BTreeSet::new(),
        no_blank: true,
        compact,
    };
    w.out.push(modeline);
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            w.line("---".to_string());
            w.no_blank = true;
        }
        // what follows the next document's `---` is that document's
        let next = docs.get(i + 1).map_or(usize::MAX, |d| {
            let from = Writer::last_line(doc);
            (from..d.span.line)
                .find(|&l| src.line(l).starts_with("---"))
                .unwrap_or(d.span.line)
        });
        w.top(doc, next);
    }
    w.flush_before(usize::MAX, 0);
    while w.out.last().is_some_and(String::is_empty) {
        w.out.pop();
    }
    let mut s = w.out.join("\n");
    s.push('\n');
    Ok(s)
}

/// The modeline: the file's own (first comment of the file's leading comments naming the schema), its file name
/// corrected, else one to `schema`.
fn take_modeline(src: &mut Source<'_>, schema: &str) -> String {
    let name = schema.rsplit('/').next().unwrap_or(schema);
    let found = src
        .comments
        .iter()
        .take_while(|(_, c)| c.own_line)
        .find(|(_, c)| c.text.starts_with(MODELINE))
        .map(|(l, c)| (*l, c.text.clone()));
    match found {
        Some((line, text)) => {
            src.comments.remove(&line);
            let target = text[MODELINE.len()..].trim();
            let target = if target.ends_with(name) {
                target.to_string()
            } else if target.ends_with(".schema.json") {
                let dir = target.rsplit_once('/').map_or("", |(d, _)| d);
                if dir.is_empty() {
                    name.to_string()
                } else {
                    format!("{dir}/{name}")
                }
            } else {
                schema.to_string()
            };
            format!("{MODELINE}{target}")
        }
        None => format!("{MODELINE}{schema}"),
    }
}

// ------------------------------------------------------------------------------------------------ scanning

/// Lines of block scalars' bodies (1-based, inclusive ranges): comments and blank lines there are content.
fn block_bodies(node: &Node, text: &str, lines: &[&str], out: &mut Vec<(usize, usize)>) {
    match &node.kind {
        NodeKind::Scalar {
            style: Style::Block, ..
        } => {
            // the span is the indicator (`|`, `>`) or the body's first line: then the indicator is on the last
            // line above with something on it
            let at = text.get(node.span.offset..).unwrap_or("");
            let mut start = node.span.line;
            if !(at.starts_with('|') || at.starts_with('>')) {
                start -= 1;
                while start > 1 && lines.get(start - 1).is_some_and(|l| l.trim().is_empty()) {
                    start -= 1;
                }
            }
            let indent = lines.get(start.wrapping_sub(1)).map_or(0, |l| indentation(l));
            let mut end = start;
            for (i, l) in lines.iter().enumerate().skip(start) {
                if l.trim().is_empty() || indentation(l) > indent {
                    end = i + 1;
                } else {
                    break;
                }
            }
            // trailing blank lines after the body belong to the body only when it keeps them; they are blank
            // either way
            out.push((start + 1, end));
        }
        NodeKind::Scalar { .. } => {}
        NodeKind::Seq(items) => items.iter().for_each(|i| block_bodies(i, text, lines, out)),
        NodeKind::Map(entries) => entries.iter().for_each(|(k, v)| {
            block_bodies(k, text, lines, out);
            block_bodies(v, text, lines, out);
        }),
    }
}

impl Source<'_> {
    /// The text of 1-based line `l` (`""` past the end).
    fn line(&self, l: usize) -> &str {
        self.lines.get(l.wrapping_sub(1)).copied().unwrap_or("")
    }
}

fn indentation(l: &str) -> usize {
    l.len() - l.trim_start_matches(' ').len()
}

fn scan<'a>(text: &'a str, docs: &[Node]) -> Source<'a> {
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let mut bodies = Vec::new();
    docs.iter().for_each(|d| block_bodies(d, text, &lines, &mut bodies));
    let in_body = |n: usize| bodies.iter().any(|&(a, b)| a <= n && n <= b);
    let mut comments = BTreeMap::new();
    let mut blank = BTreeSet::new();
    // quote state carries over lines (a quoted scalar may span several)
    let (mut single, mut double) = (false, false);
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        if in_body(n) {
            continue;
        }
        if l.trim().is_empty() && !single && !double {
            blank.insert(n);
            continue;
        }
        let mut prev_space = true;
        let mut escaped = false;
        let mut found = None;
        for (at, c) in l.char_indices() {
            if double {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    double = false;
                }
            } else if single {
                // `''` inside is an escaped quote: leaving and entering again comes to the same
                if c == '\'' {
                    single = false;
                }
            } else if c == '#' && prev_space {
                found = Some(at);
                break;
            } else if (c == '"' || c == '\'') && starts_quote(l, at) {
                if c == '"' {
                    double = true;
                } else {
                    single = true;
                }
            }
            prev_space = c == ' ' || c == '\t';
        }
        if let Some(at) = found {
            let own_line = l[..at].trim().is_empty();
            comments.insert(
                n,
                Comment {
                    text: l[at..].trim_end().to_string(),
                    own_line,
                    col: l[..at].chars().count(),
                },
            );
        }
    }
    Source {
        text,
        lines,
        comments,
        blank,
    }
}

/// Whether a quote at byte `at` of a line opens a quoted scalar (it follows a space, an indicator or a flow
/// character, or starts the line), rather than sitting inside a plain scalar (`it's`).
fn starts_quote(line: &str, at: usize) -> bool {
    match line[..at].chars().next_back() {
        None => true,
        Some(c) => matches!(c, ' ' | '\t' | '[' | '{' | ',' | ':' | '-' | '?'),
    }
}

// ------------------------------------------------------------------------------------------------ writing

struct Writer<'a> {
    src: &'a Source<'a>,
    out: Vec<String>,
    /// Source lines whose comment is written.
    used: BTreeSet<usize>,
    /// The next line opens a collection (or the file): no blank line before it.
    no_blank: bool,
    /// Write small block collections inline ([`format_generated`]).
    compact: bool,
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

impl Writer<'_> {
    fn line(&mut self, s: String) {
        let mut parts = s.split('\0');
        let mut l = parts.next().unwrap_or("").trim_end().to_string();
        while let (Some(col), Some(text)) = (parts.next(), parts.next()) {
            let col: usize = col.parse().unwrap_or(0);
            let width = l.chars().count();
            l.push_str(&pad(if col > width { col - width } else { 1 }));
            l.push_str(text.trim_end());
        }
        self.out.push(l);
        self.no_blank = false;
    }

    /// A blank line before what starts at source line `line` when the source had one right before it (or
    /// before the comments above it).
    fn blank_before(&mut self, line: usize) {
        if self.no_blank || self.out.last().is_some_and(String::is_empty) {
            return;
        }
        if line > 1 && self.src.blank.contains(&(line - 1)) {
            self.out.push(String::new());
        }
    }

    /// Write the own-line comments above source line `before` not written yet, at `indent`.
    fn flush_before(&mut self, before: usize, indent: usize) {
        self.flush(before, indent, |_| true);
    }

    /// Comments left inside a collection that ends before `until`, indented at least `min_col` in the source:
    /// written at `indent` (a commented-out last item stays in its list).
    fn flush_inside(&mut self, until: usize, min_col: usize, indent: usize) {
        self.flush(until, indent, |c| c.own_line && c.col >= min_col);
    }

    /// The comments above source line `until` not written yet that `keep` takes, each on its line at `indent`.
    fn flush(&mut self, until: usize, indent: usize, keep: impl Fn(&Comment) -> bool) {
        let pending: Vec<(usize, String)> = self
            .src
            .comments
            .range(..until)
            .filter(|(l, c)| !self.used.contains(l) && keep(c))
            .map(|(l, c)| (*l, c.text.clone()))
            .collect();
        for (l, text) in pending {
            self.used.insert(l);
            self.blank_before(l);
            self.line(format!("{}{text}", pad(indent)));
        }
    }

    /// The trailing comment of source line `line`, if not written yet: `\0<column>\0# …`, placed by
    /// [`Writer::line`] at its column in the source when the line ends before it (hand-aligned comments stay
    /// aligned), else one space after the line.
    fn trailing(&mut self, line: usize) -> String {
        match self.src.comments.get(&line) {
            Some(c) if !c.own_line && !self.used.contains(&line) => {
                self.used.insert(line);
                format!("\0{}\0{}", c.col, c.text)
            }
            _ => String::new(),
        }
    }

    fn top(&mut self, doc: &Node, next: usize) {
        match &doc.kind {
            NodeKind::Map(entries) if !self.is_flow(doc) => self.map(entries, 0, None, next),
            NodeKind::Seq(items) if !self.is_flow(doc) => self.seq(items, 0, next, 1),
            _ => {
                self.flush_before(doc.span.line, 0);
                let mut s = String::new();
                self.value_inline(doc, 0, &mut s);
            }
        }
    }

    /// Whether a collection is written inline: it was, or it is small and `compact` asks.
    fn inline_here(&self, n: &Node, width: usize) -> bool {
        if self.is_flow(n) {
            return self.stays_inline(n, width);
        }
        if !self.compact || width + inline(n).chars().count() > 80 || !self.stays_inline(n, width) {
            return false;
        }
        let plain = |x: &Node| matches!(&x.kind, NodeKind::Scalar { text, style: Style::Plain } if !text.is_empty());
        match &n.kind {
            NodeKind::Map(e) => {
                e.len() <= 4
                    && e.iter().all(|(_, v)| {
                        matches!(v.kind, NodeKind::Scalar { .. })
                            && !matches!(&v.kind, NodeKind::Scalar { text, style: Style::Plain } if text.is_empty())
                    })
            }
            NodeKind::Seq(i) => i.iter().all(plain),
            NodeKind::Scalar { .. } => false,
        }
    }

    /// Whether a collection was written inline: it starts with `{` or `[` (a block collection's span is its
    /// first child's, which may itself be inline: that is not the collection's own bracket).
    fn is_flow(&self, n: &Node) -> bool {
        let first = match &n.kind {
            NodeKind::Map(e) => e.first().map(|(k, _)| k.span.offset),
            NodeKind::Seq(i) => i.first().map(|x| x.span.offset),
            NodeKind::Scalar { .. } => return false,
        };
        let Some(first) = first else { return true };
        let at = self.src.text.get(n.span.offset..).unwrap_or("");
        first != n.span.offset && (at.starts_with('{') || at.starts_with('['))
    }

    /// The last source line of a node (its deepest last descendant's).
    fn last_line(n: &Node) -> usize {
        match &n.kind {
            NodeKind::Scalar { .. } => n.span.line,
            NodeKind::Seq(items) => items.last().map_or(n.span.line, Self::last_line),
            NodeKind::Map(entries) => entries
                .last()
                .map_or(n.span.line, |(k, v)| Self::last_line(k).max(Self::last_line(v))),
        }
    }

    /// An inline collection stays inline when it has no comment inside and fits.
    fn stays_inline(&self, n: &Node, width: usize) -> bool {
        let (a, b) = (n.span.line, Self::last_line(n));
        if (a..=b).any(|l| self.src.comments.get(&l).is_some_and(|c| c.own_line))
            || (a < b && (a..b).any(|l| self.src.comments.contains_key(&l)))
        {
            return false;
        }
        inline_ok(n) && width + inline(n).chars().count() <= MAX_INLINE
    }

    fn map(&mut self, entries: &[(Node, Node)], indent: usize, mut first: Option<String>, until: usize) {
        let min_col = entries.first().map_or(0, |(k, _)| k.span.col.saturating_sub(1));
        for (i, (k, v)) in entries.iter().enumerate() {
            let head = match first.take() {
                Some(prefix) => prefix,
                None => {
                    self.blank_before(k.span.line);
                    self.flush_before(k.span.line, indent);
                    self.blank_before(k.span.line);
                    pad(indent)
                }
            };
            let next = entries.get(i + 1).map_or(until, |(k2, _)| k2.span.line);
            let key = scalar(k);
            self.entry_value(format!("{head}{key}:"), k.span.line, v, indent, next);
        }
        self.flush_inside(until, min_col, indent);
    }

    /// A value after `head` (`key:` or `-`), at `indent` for what goes below.
    fn entry_value(&mut self, head: String, head_line: usize, v: &Node, indent: usize, next: usize) {
        match &v.kind {
            NodeKind::Map(entries) if !self.inline_here(v, head.len() + 1) => {
                // an inline mapping written as a block leaves the comments of its lines to its entries
                let t = if v.span.line > head_line {
                    self.trailing(head_line)
                } else {
                    String::new()
                };
                self.line(format!("{head}{t}"));
                self.no_blank = true;
                self.map(entries, indent + 2, None, next);
            }
            NodeKind::Seq(items) if !self.inline_here(v, head.len() + 1) => {
                let t = if v.span.line > head_line {
                    self.trailing(head_line)
                } else {
                    String::new()
                };
                self.line(format!("{head}{t}"));
                self.no_blank = true;
                self.seq(items, indent + 2, next, head_line);
            }
            NodeKind::Scalar {
                text,
                style: Style::Block,
            } if text.contains('\n') || text.is_empty() => {
                let t = self.trailing(head_line);
                self.block_scalar(&format!("{head} "), text, indent + 2, &t);
            }
            NodeKind::Scalar { text, style } if *style == Style::Plain && text.is_empty() => {
                let t = self.trailing(head_line.max(v.span.line));
                self.line(format!("{head}{t}"));
            }
            _ => {
                let mut s = format!("{head} ");
                self.value_inline(v, indent, &mut s);
            }
        }
    }

    /// A scalar or an inline collection after `s`, ending the line (with the trailing comment of its lines).
    fn value_inline(&mut self, v: &Node, indent: usize, s: &mut String) {
        match &v.kind {
            NodeKind::Scalar {
                text,
                style: Style::Block,
            } if text.contains('\n') || text.is_empty() => {
                let t = self.trailing(v.span.line);
                self.block_scalar(s, text, indent + 2, &t);
            }
            _ => {
                s.push_str(&inline(v));
                let mut t = String::new();
                for l in v.span.line..=Self::last_line(v) {
                    t.push_str(&self.trailing(l));
                }
                self.line(format!("{s}{t}"));
            }
        }
    }

    /// The source line of an item's `-`: its first line, or the first line from `floor` (the line after the item
    /// before, or the line of what holds the list) that holds only a `-` (and perhaps a comment, or the `-` of an
    /// item nested in it).
    fn dash_line(&self, item: &Node, floor: usize) -> usize {
        let line = item.span.line;
        let text_of = |l: usize| self.src.line(l);
        (floor.max(1)..=line)
            .find(|&l| {
                let t = text_of(l).trim_start();
                t.strip_prefix('-').is_some_and(|r| {
                    r.trim().is_empty() || r.trim_start().starts_with('#') || r.trim_start().starts_with('-')
                })
            })
            .unwrap_or(line)
    }

    /// Whether a comment sits on a line in `from..to`.
    fn comment_in(&self, from: usize, to: usize) -> bool {
        self.src.comments.range(from..to).next().is_some()
    }

    fn seq(&mut self, items: &[Node], indent: usize, until: usize, mut floor: usize) {
        let min_col = items.first().map_or(0, |i| i.span.col.saturating_sub(3));
        for (i, item) in items.iter().enumerate() {
            let line = self.dash_line(item, floor);
            self.blank_before(line);
            self.flush_before(line, indent);
            self.blank_before(line);
            let next = items
                .get(i + 1)
                .map_or(until, |n| self.dash_line(n, Self::last_line(item) + 1));
            floor = Self::last_line(item) + 1;
            let prefix = format!("{}- ", pad(indent));
            match &item.kind {
                NodeKind::Map(entries) if !self.is_flow(item) || !self.stays_inline(item, prefix.len()) => {
                    if line < item.span.line && self.comment_in(line, item.span.line) {
                        // comments between the `-` and the mapping: the mapping goes below, with them
                        let t = self.trailing(line);
                        self.line(format!("{}-{t}", pad(indent)));
                        self.no_blank = true;
                        self.map(entries, indent + 2, None, next);
                    } else {
                        self.map(entries, indent + 2, Some(prefix), next);
                    }
                }
                NodeKind::Seq(inner) if !self.is_flow(item) || !self.stays_inline(item, prefix.len()) => {
                    let t = self.trailing(line);
                    self.line(format!("{}-{t}", pad(indent)));
                    self.no_blank = true;
                    // the inner list's first `-` is on this line (`- - x`) or below it
                    let same = self
                        .src
                        .line(line)
                        .trim_start()
                        .strip_prefix('-')
                        .is_some_and(|r| r.trim_start().starts_with('-'));
                    self.seq(inner, indent + 2, next, if same { line } else { line + 1 });
                }
                NodeKind::Scalar { text, style } if *style == Style::Plain && text.is_empty() => {
                    let t = self.trailing(item.span.line);
                    self.line(format!("{}-{t}", pad(indent)));
                }
                _ => {
                    let mut s = prefix;
                    self.value_inline(item, indent, &mut s);
                }
            }
        }
        self.flush_inside(until, min_col, indent);
    }

    fn block_scalar(&mut self, head: &str, text: &str, indent: usize, trailing: &str) {
        if text.is_empty() {
            self.line(format!("{head}\"\"{trailing}"));
            return;
        }
        let body = text.strip_suffix('\n');
        let chomp = match body {
            None => "-",
            Some(b) if b.ends_with('\n') || b.is_empty() => "+",
            Some(_) => "",
        };
        let body = body.unwrap_or(text);
        let lines: Vec<&str> = body.split('\n').collect();
        let indicator = if lines.first().is_some_and(|l| l.starts_with(' ')) {
            "2"
        } else {
            ""
        };
        self.line(format!("{head}|{indicator}{chomp}{trailing}"));
        for l in lines {
            if l.is_empty() {
                self.out.push(String::new());
            } else {
                self.out.push(format!("{}{l}", pad(indent)));
            }
        }
        self.no_blank = chomp == "+";
    }
}

/// A scalar as written in the canonical style (one line).
fn scalar(n: &Node) -> String {
    match &n.kind {
        NodeKind::Scalar { text, style } => match style {
            Style::Plain if !text.contains('\n') => text.clone(),
            _ => quote(text),
        },
        _ => inline(n),
    }
}

fn quote(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            // control and invisible formatting characters (bidi overrides, zero widths) stay escaped: the
            // loader refuses them written out
            c if c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}') =>
            {
                s.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Whether a node can be written on one line (no block text inside).
fn inline_ok(n: &Node) -> bool {
    match &n.kind {
        NodeKind::Scalar { .. } => true,
        NodeKind::Seq(items) => items.iter().all(inline_ok),
        NodeKind::Map(entries) => entries.iter().all(|(k, v)| inline_ok(k) && inline_ok(v)),
    }
}

/// A node on one line: `{ a: 1, b: [x, y] }`.
fn inline(n: &Node) -> String {
    match &n.kind {
        NodeKind::Scalar { .. } => scalar(n),
        NodeKind::Seq(items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        NodeKind::Map(entries) if entries.is_empty() => "{}".to_string(),
        NodeKind::Map(entries) => format!(
            "{{ {} }}",
            entries
                .iter()
                .map(|(k, v)| match &v.kind {
                    NodeKind::Scalar {
                        text,
                        style: Style::Plain,
                    } if text.is_empty() => format!("{}:", scalar(k)),
                    _ => format!("{}: {}", scalar(k), inline(v)),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The same documents: structure, keys in order, scalars' text, plain or not (quoted and block text are both
/// strings).
fn same_docs(a: &[Node], b: &[Node]) -> bool {
    fn same(a: &Node, b: &Node) -> bool {
        match (&a.kind, &b.kind) {
            (NodeKind::Scalar { text: t1, style: s1 }, NodeKind::Scalar { text: t2, style: s2 }) => {
                t1 == t2 && ((*s1 == Style::Plain) == (*s2 == Style::Plain))
            }
            (NodeKind::Seq(x), NodeKind::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
            (NodeKind::Map(x), NodeKind::Map(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
            }
            _ => false,
        }
    }
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

/// The modeline target for a file at `rel` (its path inside the config directory, `/`-separated): the
/// schema file in `<config dir>/schemas/`.
pub fn default_schema(rel: &str, project_file: bool) -> String {
    let depth = rel.matches('/').count();
    let name = if project_file {
        "adsctl.schema.json"
    } else {
        "resources.schema.json"
    };
    format!("{}schemas/{name}", "../".repeat(depth))
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "schemas/resources.schema.json";

    fn fmt(s: &str) -> String {
        format(s, R).unwrap_or_else(|e| panic!("{e}\n---\n{s}"))
    }

    #[test]
    fn adds_the_modeline_and_indents_lists_under_their_key() {
        let out = fmt("campaigns:\n- name: A\n  account: b\n  ad_groups:\n  - name: G\n");
        assert_eq!(
            out,
            "# yaml-language-server: $schema=schemas/resources.schema.json\ncampaigns:\n  - name: A\n    account: b\n    ad_groups:\n      - name: G\n"
        );
    }

    #[test]
    fn keeps_comments_and_inline_collections() {
        let src = "# yaml-language-server: $schema=../../schemas/resources.schema.json\n# Spring\ncampaigns:\n    # the main one\n    -   name: A   # trailing\n        budget: {daily: 50.00}\n        countries: [ US,CA ]\n\n\n    - name: B\n      # last\n";
        let out = fmt(src);
        assert_eq!(
            out,
            "# yaml-language-server: $schema=../../schemas/resources.schema.json\n# Spring\ncampaigns:\n  # the main one\n  - name: A       # trailing\n    budget: { daily: 50.00 }\n    countries: [US, CA]\n\n  - name: B\n    # last\n"
        );
        assert_eq!(fmt(&out), out);
    }

    #[test]
    fn quotes_become_double_and_values_keep_their_type() {
        let out = fmt("a: 'it''s'\nb: \"50\"\nc: 50\nd: 'x\"y'\ne: '#not a comment'\n");
        assert!(out.contains("a: \"it's\"\n"), "{out}");
        assert!(out.contains("b: \"50\"\n"));
        assert!(out.contains("c: 50\n"));
        assert!(out.contains("d: \"x\\\"y\"\n"));
        assert!(out.contains("e: \"#not a comment\"\n"), "{out}");
        let out = fmt("f: \"a\\u202eb\\u0007\"\n");
        assert!(out.contains("f: \"a\\u202eb\\u0007\"\n"), "{out}");
    }

    #[test]
    fn block_text_is_kept_with_its_chomping() {
        let src =
            "a: |\n  line one\n  # not a comment\n\n  line three\nb: >-\n  folded\n  text\nc: |+\n  keep\n\nd: 1\n";
        let out = fmt(src);
        assert!(
            out.contains("a: |\n  line one\n  # not a comment\n\n  line three\n"),
            "{out}"
        );
        assert!(out.contains("b: \"folded text\"\n"), "{out}");
        assert!(out.contains("c: |+\n  keep\n\nd: 1\n"), "{out}");
    }

    #[test]
    fn a_modeline_keeps_its_path_and_gets_the_right_file_name() {
        let out = format("# yaml-language-server: $schema=../x/adsctl.schema.json\na: 1\n", R).unwrap();
        assert!(
            out.starts_with("# yaml-language-server: $schema=../x/resources.schema.json\na: 1\n"),
            "{out}"
        );
        assert_eq!(
            default_schema("campaigns/a.yaml", false),
            "../schemas/resources.schema.json"
        );
        assert_eq!(default_schema("adsctl.yaml", true), "schemas/adsctl.schema.json");
    }

    #[test]
    fn inline_collections_with_comments_or_too_long_become_blocks() {
        let src = "a: [x, # one\n    y]\nb: {k: v}\n";
        let out = fmt(src);
        assert!(out.contains("a:\n  - x  # one\n  - y\n"), "{out}");
        let long: Vec<String> = (0..40).map(|i| format!("item{i}")).collect();
        let out = fmt(&format!("a: [{}]\n", long.join(", ")));
        assert!(out.contains("a:\n  - item0\n  - item1\n"), "{out}");
    }

    #[test]
    fn syntax_errors_are_reported_not_formatted() {
        assert!(matches!(format("a: [\n", R), Err(FormatError::Syntax(_))));
    }

    #[test]
    fn empty_values_and_files() {
        assert_eq!(
            fmt(""),
            "# yaml-language-server: $schema=schemas/resources.schema.json\n"
        );
        let out = fmt("accounts:\nx: ~\ny: []\nz: {}\n- \n".replace("- \n", "").as_str());
        assert_eq!(
            out,
            "# yaml-language-server: $schema=schemas/resources.schema.json\naccounts:\nx: ~\ny: []\nz: {}\n"
        );
        let out = fmt("a:\n  -\n  - b\n");
        assert!(out.contains("a:\n  -\n  - b\n"), "{out}");
    }

    /// Random documents written in a random, messy hand (indentation 2–4, inline or block, quotes of both
    /// kinds, comments on their own lines and after values, blank lines): formatting never fails its own checks
    /// (same values, a fixed point).
    mod random {
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum T {
            Word(String),
            Single(String),
            Double(String),
            Map(Vec<(String, T)>),
            Seq(Vec<T>),
        }

        fn tree() -> impl Strategy<Value = T> {
            let leaf = prop_oneof![
                "[a-z][a-z0-9 .-]{0,12}[a-z0-9]".prop_map(T::Word),
                "[ -~]{0,10}".prop_map(T::Single),
                "[ -~é\u{202e}]{0,10}".prop_map(T::Double),
            ];
            leaf.prop_recursive(4, 40, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(("[a-z]{1,6}", inner.clone()), 1..5).prop_map(|v| {
                        let mut seen = std::collections::BTreeSet::new();
                        T::Map(v.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect())
                    }),
                    prop::collection::vec(inner, 1..5).prop_map(T::Seq),
                ]
            })
        }

        fn scalar(t: &T) -> Option<String> {
            match t {
                T::Word(w) => Some(w.trim().to_string()),
                T::Single(x) => Some(format!("'{}'", x.replace('\'', "''"))),
                T::Double(x) => Some(format!(
                    "\"{}\"",
                    x.replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\u{202e}', "\\u202e")
                )),
                _ => None,
            }
        }

        fn flow(t: &T) -> String {
            match t {
                T::Map(e) => format!(
                    "{{{}}}",
                    e.iter()
                        .map(|(k, v)| format!("{k}: {}", flow(v)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                T::Seq(i) => format!("[ {} ]", i.iter().map(flow).collect::<Vec<_>>().join(" ,")),
                x => scalar(x).unwrap_or_default(),
            }
        }

        /// Write `t` below a line that ends in `key:` or `-`, at `indent`; `noise` drives the choices.
        fn block(t: &T, indent: usize, step: usize, noise: &mut impl Iterator<Item = u8>, out: &mut String) {
            let pad = " ".repeat(indent);
            match t {
                T::Map(e) => {
                    for (k, v) in e {
                        if noise.next().unwrap_or(0).is_multiple_of(5) {
                            out.push_str(&format!("{pad}# about {k}\n"));
                        }
                        if noise.next().unwrap_or(0).is_multiple_of(7) {
                            out.push('\n');
                        }
                        write_value(&format!("{pad}{k}:"), v, indent, step, noise, out);
                    }
                }
                T::Seq(items) => {
                    for v in items {
                        write_value(&format!("{pad}-"), v, indent, step, noise, out);
                    }
                }
                _ => {}
            }
        }

        fn write_value(
            head: &str,
            v: &T,
            indent: usize,
            step: usize,
            noise: &mut impl Iterator<Item = u8>,
            out: &mut String,
        ) {
            let c = noise.next().unwrap_or(0);
            let comment = if c.is_multiple_of(3) { "   # note" } else { "" };
            match scalar(v) {
                Some(s) => out.push_str(&format!("{head} {s}{comment}\n")),
                None if c % 4 == 1 => out.push_str(&format!("{head} {}{comment}\n", flow(v))),
                None => {
                    out.push_str(&format!("{head}{comment}\n"));
                    block(v, indent + step, step, noise, out);
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn formatting_keeps_values_and_is_stable(
                t in prop::collection::vec(("[a-z]{1,6}", tree()), 1..4),
                step in 2usize..5,
                noise in prop::collection::vec(any::<u8>(), 64),
            ) {
                let mut seen = std::collections::BTreeSet::new();
                let t = T::Map(t.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect());
                let mut text = String::from("# top\n");
                let mut it = noise.into_iter().cycle();
                block(&t, 0, step, &mut it, &mut text);
                let out = super::super::format(&text, super::R);
                prop_assert!(out.is_ok(), "{:?}\n---\n{}", out, text);
            }
        }
    }
}
