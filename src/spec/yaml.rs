//! A small, guarded YAML front end: source text → a tree of [`Node`]s that remember where they were written.
//!
//! Built on `yaml-rust2`'s event parser so that every node (keys included) carries a position, which semantic
//! errors (duplicates, dangling references) need. Guards: aliases are rejected (no alias bombs), nesting is
//! limited, and the caller limits file sizes before parsing.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::error::{Code, SpecError};

/// Deepest nesting of collections accepted in one document.
pub const MAX_DEPTH: usize = 64;

/// A position in one source file. `offset`/`len` are bytes (for snippets); `line`/`col` are 1-based, the column
/// counted in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub file: usize,
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub col: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Scalar { text: String, style: Style },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

impl Node {
    /// A plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, style: Style::Plain } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "null",
            NodeKind::Scalar {
                text,
                style: Style::Plain,
            } => plain_type(text),
            NodeKind::Scalar { .. } => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// What a plain scalar looks like under the YAML 1.2 core schema (for error messages).
pub fn plain_type(text: &str) -> &'static str {
    match text {
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => "a boolean",
        _ if text.parse::<i64>().is_ok() => "an integer",
        _ if !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
            && text.chars().any(|c| c.is_ascii_digit()) =>
        {
            "a number"
        }
        _ => "a string",
    }
}

/// Byte offset of the start of each line, to turn (line, col) into offsets.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// The last position asked for: (line, col, byte offset). Events come in order, so the next position is
    /// usually found by walking on from it; counting from the start of the line each time was quadratic on a
    /// long line (a minified file: minutes for a few hundred KiB).
    last: std::cell::Cell<(usize, usize, usize)>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines {
            text,
            starts,
            last: std::cell::Cell::new((0, 0, 0)),
        }
    }
    /// Byte offset of a 1-based line and 1-based char column.
    fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let (last_line, last_col, last_offset) = self.last.get();
        let (from_col, from) = if last_line == line && last_col <= col && last_col > 0 {
            (last_col, last_offset)
        } else {
            (1, start)
        };
        let offset = self.text[from..]
            .char_indices()
            .nth(col.saturating_sub(from_col))
            .map(|(i, _)| from + i)
            .unwrap_or(self.text.len());
        if offset < self.text.len() {
            self.last.set((line, col, offset));
        }
        offset
    }
}

fn span_at(lines: &Lines<'_>, file: usize, m: &Marker, len: usize) -> Span {
    // yaml-rust2 markers: 1-based line, 0-based char column.
    let line = m.line().max(1);
    let col = m.col() + 1;
    let offset = lines.offset(line, col);
    let len = len.min(lines.text.len().saturating_sub(offset));
    Span {
        file,
        offset,
        len,
        line,
        col,
    }
}

/// yaml-rust2 reports a block collection as starting after its first key (or item): point at that key instead,
/// where people look for it.
fn start_at_first_child(mut n: Node) -> Node {
    let first = match &n.kind {
        NodeKind::Map(entries) => entries.first().map(|(k, _)| k.span),
        NodeKind::Seq(items) => items.first().map(|i| i.span),
        NodeKind::Scalar { .. } => None,
    };
    if let Some(f) = first {
        if f.offset < n.span.offset {
            n.span = Span { len: f.len.max(1), ..f };
        }
    }
    n
}

/// Parse every document of one file. An error stops at the first syntax problem (YAML cannot be resumed).
pub fn parse(text: &str, file: usize, path: &str) -> Result<Vec<Node>, SpecError> {
    // Most files are in the subset the fast path knows; it gives up on anything else (errors included).
    let mut docs = match super::fast::parse(text, file) {
        Some(docs) => docs,
        None => parse_full(text, file, path)?,
    };
    for d in &mut docs {
        place_empty_values(d, text);
    }
    Ok(docs)
}

/// An empty value (`accounts:` with nothing under it, a `- ` item holding only a comment) is a null scalar that
/// the parser places where it noticed the next token, often lines later or past the end of the file. Place it
/// where it was written: on its key, or on the `-` of its item.
fn place_empty_values(node: &mut Node, text: &str) {
    let empty = |n: &Node| matches!(&n.kind, NodeKind::Scalar { text, style: Style::Plain } if text.is_empty());
    match &mut node.kind {
        NodeKind::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                if empty(v) {
                    v.span = k.span;
                } else {
                    place_empty_values(v, text);
                }
            }
        }
        NodeKind::Seq(items) => {
            let mut floor = node.span.offset.min(text.len());
            for item in items.iter_mut() {
                if empty(item) {
                    if let Some(dash) = empty_item_dash(text, floor, item.span.offset) {
                        item.span = dash;
                        item.span.file = node.span.file;
                    }
                } else {
                    place_empty_values(item, text);
                }
                floor = floor.max((item.span.offset + item.span.len).min(text.len()));
            }
        }
        NodeKind::Scalar { .. } => {}
    }
}

/// The last line between bytes `from` and `to` of `text` that holds only `-` (and perhaps a comment): the span
/// of that `-`.
fn empty_item_dash(text: &str, from: usize, to: usize) -> Option<Span> {
    let (from, to) = (from.min(text.len()), to.min(text.len()));
    if from > to || !text.is_char_boundary(from) || !text.is_char_boundary(to) {
        return None;
    }
    let line_start = text[..from].rfind('\n').map_or(0, |i| i + 1);
    let mut offset = line_start;
    let mut found = None;
    for l in text[line_start..to].split_inclusive('\n') {
        let body = l.trim_end_matches(['\n', '\r']).trim_start_matches(' ');
        let rest = body.strip_prefix('-').map(str::trim_start);
        let whole = l.ends_with('\n') || offset + l.len() == text.len();
        if whole && rest.is_some_and(|r| r.is_empty() || r.starts_with('#')) {
            let at = offset + (l.len() - l.trim_start_matches(' ').len());
            found = Some(at);
        }
        offset += l.len();
    }
    let at = found?;
    let line = text[..at].matches('\n').count() + 1;
    let col = text[..at].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some(Span {
        file: 0,
        offset: at,
        len: 1,
        line,
        col,
    })
}

/// [`parse`] with yaml-rust2 only.
pub(super) fn parse_full(text: &str, file: usize, path: &str) -> Result<Vec<Node>, SpecError> {
    let lines = Lines::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    // Stack of open collections: (node under construction, pending key for maps).
    enum Open {
        Seq(Node),
        Map(Node, Option<Node>),
    }
    let mut stack: Vec<Open> = Vec::new();
    let err = |span: Span, code: Code, msg: String, hint: &str| {
        SpecError::new(path, span, code, msg).with_hint(hint.to_string())
    };
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) => {
                let span = span_at(&lines, file, e.marker(), 1);
                if e.info().contains("recursion limit") {
                    return Err(err(
                        span,
                        Code::TooDeep,
                        "nesting too deep".into(),
                        "flatten the structure; no adsctl resource nests this deep",
                    ));
                }
                // at the mistake, in the user's terms, when a rule recognises it
                if let Some(x) = super::syntax::explain(text, span.line, span.col, e.info()) {
                    let offset = lines.offset(x.line, x.col);
                    let span = Span {
                        file,
                        offset,
                        len: x.len.min(text.len().saturating_sub(offset)),
                        line: x.line,
                        col: x.col,
                    };
                    return Err(err(span, Code::YamlSyntax, x.message, &x.hint));
                }
                return Err(err(
                    span,
                    Code::YamlSyntax,
                    format!("YAML syntax error: {}", e.info()),
                    "check the indentation and quoting around this position",
                ));
            }
        };
        let finished: Option<Node> = match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::DocumentStart | Event::DocumentEnd | Event::Nothing => None,
            Event::Alias(_) => {
                return Err(err(
                    span_at(&lines, file, &mark, 1),
                    Code::YamlAlias,
                    "YAML aliases (`*name`) are not supported".into(),
                    "write the value out in full; aliases can expand explosively and hide what is managed",
                ))
            }
            Event::Scalar(text, style, _, _) => {
                let (style, extra) = match style {
                    TScalarStyle::Plain => (Style::Plain, 0),
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => (Style::Quoted, 2),
                    TScalarStyle::Literal | TScalarStyle::Folded => (Style::Block, 1),
                };
                let len = if style == Style::Block { 1 } else { text.len() + extra };
                Some(Node {
                    span: span_at(&lines, file, &mark, len),
                    kind: NodeKind::Scalar { text, style },
                })
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        span_at(&lines, file, &mark, 1),
                        Code::TooDeep,
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                        "flatten the structure; no adsctl resource nests this deep",
                    ));
                }
                let span = span_at(&lines, file, &mark, 1);
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq(Node {
                        kind: NodeKind::Seq(Vec::new()),
                        span,
                    })
                } else {
                    Open::Map(
                        Node {
                            kind: NodeKind::Map(Vec::new()),
                            span,
                        },
                        None,
                    )
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(n)) | Some(Open::Map(n, _)) => Some(start_at_first_child(n)),
                None => None,
            },
        };
        if let Some(node) = finished {
            match stack.last_mut() {
                None => docs.push(node),
                Some(Open::Seq(seq)) => {
                    if let NodeKind::Seq(items) = &mut seq.kind {
                        items.push(node);
                    }
                }
                Some(Open::Map(map, pending)) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => {
                        if let NodeKind::Map(entries) = &mut map.kind {
                            entries.push((key, node));
                        }
                    }
                },
            }
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut d = parse(text, 0, "t.yaml").unwrap();
        assert_eq!(d.len(), 1);
        d.remove(0)
    }

    #[test]
    fn positions_are_one_based() {
        let n = one("a: 1\nbé: [x, 'y']\n");
        let NodeKind::Map(e) = &n.kind else { panic!() };
        assert_eq!((e[0].0.span.line, e[0].0.span.col), (1, 1));
        assert_eq!((e[1].0.span.line, e[1].0.span.col), (2, 1));
        let NodeKind::Seq(items) = &e[1].1.kind else { panic!() };
        assert_eq!((items[0].span.line, items[0].span.col), (2, 6));
        assert_eq!(items[0].span.offset, "a: 1\nbé: [".len());
        assert_eq!((items[1].span.line, items[1].span.col), (2, 9));
    }

    #[test]
    fn block_collections_start_at_their_first_key() {
        let n = one("top:\n  - name: A\n    account: b\n");
        let NodeKind::Map(e) = &n.kind else { panic!() };
        let NodeKind::Seq(items) = &e[0].1.kind else { panic!() };
        assert_eq!((items[0].span.line, items[0].span.col), (2, 5));
        let flow = one("a: { b: 1 }\n");
        let NodeKind::Map(e) = &flow.kind else { panic!() };
        assert_eq!((e[0].1.span.line, e[0].1.span.col), (1, 4));
    }

    #[test]
    fn rejects_aliases_and_depth() {
        assert!(parse("a: &x [1]\nb: *x\n", 0, "t").is_err());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(&deep, 0, "t").is_err());
        let deep_block: String = (0..100).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        assert!(parse(&deep_block, 0, "t").is_err());
    }

    #[test]
    fn positions_on_a_long_line_with_multibyte_text() {
        // columns are counted on from the previous node of the line: check them all, out of order too
        let items: Vec<String> = (0..3000).map(|i| format!("é{i}ü")).collect();
        let text = format!("a: [{}]\nb: [x, 'é', y]\n", items.join(", "));
        let check = |doc: &Node| {
            let NodeKind::Map(e) = &doc.kind else { panic!() };
            let NodeKind::Seq(xs) = &e[0].1.kind else { panic!() };
            assert_eq!(xs.len(), items.len());
            for (x, want) in xs.iter().zip(&items) {
                assert!(text[x.span.offset..].starts_with(want.as_str()));
                assert_eq!(x.span.col, text[..x.span.offset].chars().count() + 1);
                assert_eq!(x.span.line, 1);
            }
            let NodeKind::Seq(ys) = &e[1].1.kind else { panic!() };
            assert_eq!((ys[2].span.line, ys[2].span.col), (2, 13));
        };
        check(&parse_full(&text, 0, "t").unwrap()[0]);
        check(&super::super::fast::parse(&text, 0).expect("fast path")[0]);
        let lines = Lines::new(&text);
        // backwards on one line, then forwards again
        assert_eq!(lines.offset(1, 100), text.char_indices().nth(99).unwrap().0);
        assert_eq!(lines.offset(1, 5), text.char_indices().nth(4).unwrap().0);
        assert_eq!(lines.offset(1, 200), text.char_indices().nth(199).unwrap().0);
    }

    #[test]
    fn multi_document() {
        assert_eq!(parse("a: 1\n---\nb: 2\n", 0, "t").unwrap().len(), 2);
        assert_eq!(parse("", 0, "t").unwrap().len(), 0);
    }
}
