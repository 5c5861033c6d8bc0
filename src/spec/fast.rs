//! A fast path for the common shape of YAML: block mappings and sequences of single-line scalars and one-line
//! flow collections, as generated and hand-written config files mostly are.
//!
//! It builds exactly the [`Node`]s (text, style and span) that [`super::yaml::parse`] builds from yaml-rust2's
//! events, at several times the speed, and gives up (`None`) at the first thing outside that subset: then the
//! caller parses the file with yaml-rust2, which also reports every syntax error. So the fast path never
//! decides that a file is invalid, and anything unusual (tabs, comments inside flow collections, multi-line
//! scalars, escapes, anchors, tags, several documents, …) takes the full parser.

use super::yaml::{Node, NodeKind, Span, Style, MAX_DEPTH};

/// Parse `text` as one document, or `None` when it is not in the subset this parser knows.
pub fn parse(text: &str, file: usize) -> Option<Vec<Node>> {
    // Characters with special meaning to yaml-rust2 that this parser does not model.
    if text.bytes().any(|b| (b < 0x20 && b != b'\n') || b == 0x7f) || text.contains('\u{feff}') {
        return None;
    }
    let mut p = P {
        s: text.as_bytes(),
        text,
        file,
        pos: 0,
        line: 1,
        line_start: 0,
        depth: 0,
        col_cache: std::cell::Cell::new((0, 0, 0)),
    };
    // the first significant line
    let mut i = 0;
    let at = loop {
        match p.line_content(i) {
            LineContent::Blank(end) if end < text.len() => {
                i = end + 1;
                p.line += 1;
                p.line_start = i;
            }
            LineContent::Content(at) if at == i => break at,
            _ => return None,
        }
    };
    p.pos = at;
    let doc = if p.is_dash(at) {
        p.block_seq(0, true)?
    } else {
        p.block_map(0)?
    };
    // everything was consumed
    if !p.rest_is_trivia() {
        return None;
    }
    Some(vec![doc])
}

struct P<'a> {
    s: &'a [u8],
    text: &'a str,
    file: usize,
    /// Current byte position.
    pos: usize,
    /// 1-based line of `pos`.
    line: usize,
    /// Byte offset where the line of `pos` starts.
    line_start: usize,
    depth: usize,
    /// (line start, byte, 0-based column) of the last span made, to count columns on from it.
    col_cache: std::cell::Cell<(usize, usize, usize)>,
}

enum LineContent {
    /// Blank or a comment, up to this `'\n'` (or the end of the text).
    Blank(usize),
    /// The end of the text, or a document marker.
    End,
    /// Content starts here.
    Content(usize),
}

fn is_blank_or_end(b: Option<u8>) -> bool {
    matches!(b, None | Some(b' ' | b'\n'))
}

fn is_flow(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

impl<'a> P<'a> {
    fn at(&self, i: usize) -> Option<u8> {
        self.s.get(i).copied()
    }

    fn span(&self, start: usize, len: usize) -> Span {
        // counted on from the last span of the same line (from the line start each time was quadratic on a
        // long line)
        let (line_start, last_start, last_col) = self.col_cache.get();
        let (from, base) = if line_start == self.line_start && last_start <= start {
            (last_start, last_col)
        } else {
            (self.line_start, 0)
        };
        let col = base
            + if self.s[from..start].is_ascii() {
                start - from
            } else {
                self.text[from..start].chars().count()
            };
        self.col_cache.set((self.line_start, start, col));
        Span {
            file: self.file,
            offset: start,
            len: len.min(self.s.len() - start),
            line: self.line,
            col: col + 1,
        }
    }

    /// Move to the first significant character of the next significant line (skipping blank and comment
    /// lines), from anywhere at or before the end of the current line's content. Returns its indentation and
    /// byte position, or `None` at the end of the text or at anything this parser does not model (the caller
    /// then stops, and [`P::rest_is_trivia`] tells the two apart).
    fn next_line(&mut self) -> Option<(usize, usize)> {
        let mut i = self.finish_line(self.pos)?;
        loop {
            if i >= self.s.len() {
                return None;
            }
            // at a '\n'
            i += 1;
            self.line += 1;
            self.line_start = i;
            match self.line_content(i) {
                LineContent::Blank(end) => i = end,
                LineContent::End => return None,
                LineContent::Content(at) => {
                    self.pos = at;
                    return Some((at - i, at));
                }
            }
        }
    }

    /// From `i` on the current line: the position of its end (`'\n'` or the end of the text) when only blanks
    /// or a comment remain, else `None`.
    fn finish_line(&self, mut i: usize) -> Option<usize> {
        while self.at(i) == Some(b' ') {
            i += 1;
        }
        match self.at(i) {
            None | Some(b'\n') => Some(i),
            Some(b'#') if i == self.line_start || self.s[i - 1] == b' ' => Some(
                self.s[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.s.len(), |n| i + n),
            ),
            _ => None,
        }
    }

    /// What the line starting at `start` holds.
    fn line_content(&self, start: usize) -> LineContent {
        let mut i = start;
        while self.at(i) == Some(b' ') {
            i += 1;
        }
        match self.at(i) {
            None => LineContent::End,
            Some(b'\n') => LineContent::Blank(i),
            Some(b'#') => LineContent::Blank(
                self.s[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.s.len(), |n| i + n),
            ),
            Some(_) => {
                // document markers end this parser's subset
                if i == start && (self.s[i..].starts_with(b"---") || self.s[i..].starts_with(b"...")) {
                    LineContent::End
                } else {
                    LineContent::Content(i)
                }
            }
        }
    }

    /// Whether nothing but blanks and comments follows `self.pos`.
    fn rest_is_trivia(&self) -> bool {
        let Some(mut i) = self.finish_line(self.pos) else {
            return false;
        };
        while i < self.s.len() {
            match self.line_content(i + 1) {
                LineContent::Blank(end) => i = end,
                LineContent::End if i + 1 >= self.s.len() || self.s[i + 1..].iter().all(|&b| b == b' ') => return true,
                _ => return false,
            }
        }
        true
    }

    /// Peek at the next significant line without moving.
    fn peek_line(&mut self) -> Option<(usize, usize)> {
        let saved = (self.pos, self.line, self.line_start);
        let r = self.next_line();
        (self.pos, self.line, self.line_start) = saved;
        r
    }

    fn is_dash(&self, at: usize) -> bool {
        self.at(at) == Some(b'-') && self.at(at + 1) == Some(b' ')
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth < MAX_DEPTH).then_some(())
    }

    /// A block sequence whose dashes are at column `col` (`self.pos` at the first dash). `indented`: it has its
    /// own indentation level (its span is its first dash), rather than sharing its parent mapping's column.
    fn block_seq(&mut self, col: usize, indented: bool) -> Option<Node> {
        self.enter()?;
        let dash = self.span(self.pos, 1);
        let mut items = Vec::new();
        loop {
            // at a "- "
            let mut i = self.pos + 1;
            while self.at(i) == Some(b' ') {
                i += 1;
            }
            if is_blank_or_end(self.at(i)) || self.at(i) == Some(b'#') {
                return None; // an empty item, or its content on the next lines
            }
            self.pos = i;
            let item_col = i - self.line_start;
            let item = if self.looks_like_key() {
                self.block_map(item_col)?
            } else {
                let v = self.inline_value(col)?;
                self.end_of_value(col)?;
                v
            };
            items.push(item);
            match self.peek_line() {
                Some((ind, at)) if ind == col && self.is_dash(at) => {
                    self.next_line()?;
                }
                Some((ind, _)) if ind > col => return None,
                _ => break,
            }
        }
        self.depth -= 1;
        let span = if indented {
            dash
        } else {
            // its first item's first token (a block mapping's span is its first key)
            Span {
                len: 1,
                ..items.first()?.span
            }
        };
        Some(Node {
            kind: NodeKind::Seq(items),
            span,
        })
    }

    /// Whether a block mapping key (`key:` followed by a blank) starts at `self.pos`, on this line.
    fn looks_like_key(&self) -> bool {
        // a flow collection or a quoted scalar (a key of that kind is left to yaml-rust2: the value after it
        // makes the fast path give up)
        if matches!(self.at(self.pos), Some(b'[' | b'{' | b'"' | b'\'')) {
            return false;
        }
        let mut i = self.pos;
        while i < self.s.len() && self.s[i] != b'\n' {
            if self.s[i] == b':' && is_blank_or_end(self.at(i + 1)) {
                return true;
            }
            i += 1;
        }
        false
    }

    /// A block mapping whose keys are at column `col` (`self.pos` at the first key).
    fn block_map(&mut self, col: usize) -> Option<Node> {
        self.enter()?;
        let mut entries: Vec<(Node, Node)> = Vec::new();
        loop {
            let key = self.key()?;
            // after "key:"
            let mut i = self.pos;
            while self.at(i) == Some(b' ') {
                i += 1;
            }
            let value = if is_blank_or_end(self.at(i)) || (self.at(i) == Some(b'#') && i > self.pos) {
                // the value is on the next lines
                let (ind, at) = self.peek_line()?;
                if ind > col {
                    self.next_line()?;
                    if self.is_dash(at) {
                        self.block_seq(ind, true)?
                    } else {
                        self.block_map(ind)?
                    }
                } else if ind == col && self.is_dash(at) {
                    self.next_line()?;
                    self.block_seq(ind, false)?
                } else {
                    return None; // an empty value
                }
            } else if i == self.pos {
                return None;
            } else {
                self.pos = i;
                let v = self.inline_value(col)?;
                self.end_of_value(col)?;
                v
            };
            entries.push((key, value));
            match self.peek_line() {
                Some((ind, _)) if ind == col => {
                    self.next_line()?;
                }
                Some((ind, _)) if ind > col => return None,
                _ => break,
            }
        }
        self.depth -= 1;
        let span = entries.first().map(|(k, _)| k.span)?;
        Some(Node {
            kind: NodeKind::Map(entries),
            span,
        })
    }

    /// A plain key followed by `:` (consumed), at `self.pos`.
    fn key(&mut self) -> Option<Node> {
        let start = self.pos;
        if !self.plain_start(false) {
            return None;
        }
        let mut i = start;
        loop {
            match self.at(i)? {
                b'\n' => return None,
                b':' if is_blank_or_end(self.at(i + 1)) => break,
                b'#' if self.s[i - 1] == b' ' => return None,
                _ => i += 1,
            }
        }
        // yaml-rust2 limits simple keys to 1024 characters; keys with trailing blanks are left to it too
        if i - start > 1000 || self.s[i - 1] == b' ' {
            return None;
        }
        let node = self.scalar(start, i, Style::Plain, 0);
        self.pos = i + 1;
        Some(node)
    }

    fn scalar(&self, start: usize, end: usize, style: Style, extra: usize) -> Node {
        let text = self.text[start..end].to_string();
        Node {
            span: self.span(start - usize::from(extra > 0), text.len() + extra),
            kind: NodeKind::Scalar { text, style },
        }
    }

    /// Whether a plain scalar may start at `self.pos` (in a flow collection when `flow`).
    fn plain_start(&self, flow: bool) -> bool {
        let Some(c) = self.at(self.pos) else { return false };
        let next = self.at(self.pos + 1);
        match c {
            b'-' => !(is_blank_or_end(next) || next == Some(b'#') || (flow && next.is_some_and(is_flow))),
            // in a flow collection these are left to yaml-rust2 (an adjacent value, an explicit key)
            b'?' | b':' => !(flow || is_blank_or_end(next) || next == Some(b'#')),
            b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"' | b'%' | b'@'
            | b'`' | b' ' | b'\n' => false,
            _ => true,
        }
    }

    /// A value on the rest of this line: a scalar or a one-line flow collection. `col` is the indentation of
    /// the enclosing block.
    fn inline_value(&mut self, _col: usize) -> Option<Node> {
        match self.at(self.pos)? {
            b'[' | b'{' => self.flow(),
            b'"' | b'\'' => self.quoted(),
            _ => {
                if !self.plain_start(false) {
                    return None;
                }
                let start = self.pos;
                let mut i = start;
                let mut end = start;
                while let Some(c) = self.at(i) {
                    match c {
                        b'\n' => break,
                        b' ' => {}
                        b'#' if self.s[i - 1] == b' ' => break,
                        b':' if is_blank_or_end(self.at(i + 1)) => return None,
                        _ => end = i + 1,
                    }
                    i += 1;
                }
                let node = self.scalar(start, end, Style::Plain, 0);
                self.pos = end;
                Some(node)
            }
        }
    }

    /// After a value that ended on its line: the next significant line must not be more indented than `col`
    /// (it would continue a plain scalar, or be an error).
    fn end_of_value(&mut self, col: usize) -> Option<()> {
        let saved = (self.pos, self.line, self.line_start);
        // the rest of this line: blanks or a comment
        let mut i = self.pos;
        while self.at(i) == Some(b' ') {
            i += 1;
        }
        match self.at(i) {
            None | Some(b'\n') => {}
            Some(b'#') if i > self.pos => {}
            _ => return None,
        }
        self.pos = i;
        let next = self.next_line();
        (self.pos, self.line, self.line_start) = saved;
        match next {
            Some((ind, _)) if ind > col => None,
            _ => Some(()),
        }
    }

    /// A single- or double-quoted scalar without escapes, on one line.
    fn quoted(&mut self) -> Option<Node> {
        let q = self.at(self.pos)?;
        let start = self.pos + 1;
        let mut i = start;
        loop {
            match self.at(i)? {
                b'\n' | b'\\' if q == b'"' => return None,
                b'\n' => return None,
                c if c == q => break,
                _ => i += 1,
            }
        }
        if q == b'\'' && self.at(i + 1) == Some(b'\'') {
            return None; // an escaped quote
        }
        let node = self.scalar(start, i, Style::Quoted, 2);
        self.pos = i + 1;
        // a quoted value is followed by a blank, the end of the line, or (in flow) an indicator
        match self.at(self.pos) {
            None | Some(b' ' | b'\n' | b',' | b']' | b'}') => Some(node),
            _ => None,
        }
    }

    fn skip_spaces(&mut self) {
        while self.at(self.pos) == Some(b' ') {
            self.pos += 1;
        }
    }

    /// A flow collection, on this line.
    fn flow(&mut self) -> Option<Node> {
        self.enter()?;
        let open = self.at(self.pos)?;
        let span = self.span(self.pos, 1);
        self.pos += 1;
        self.skip_spaces();
        let node = if open == b'[' {
            let mut items = Vec::new();
            if self.at(self.pos) != Some(b']') {
                loop {
                    items.push(self.flow_value()?);
                    if !self.flow_separator(b']')? {
                        break;
                    }
                }
            }
            self.pos += 1;
            NodeKind::Seq(items)
        } else {
            let mut entries = Vec::new();
            if self.at(self.pos) != Some(b'}') {
                loop {
                    if !self.plain_start(true) {
                        return None;
                    }
                    let key = self.flow_plain()?;
                    if self.at(self.pos) != Some(b':') || self.at(self.pos + 1) != Some(b' ') {
                        return None;
                    }
                    self.pos += 1;
                    self.skip_spaces();
                    let value = self.flow_value()?;
                    entries.push((key, value));
                    if !self.flow_separator(b'}')? {
                        break;
                    }
                }
            }
            self.pos += 1;
            NodeKind::Map(entries)
        };
        self.depth -= 1;
        Some(Node { kind: node, span })
    }

    /// After an item of a flow collection closed by `close`: `Some(true)` past a `,` with another item to come,
    /// `Some(false)` at `close` (not consumed), `None` for anything else (a trailing comma included).
    fn flow_separator(&mut self, close: u8) -> Option<bool> {
        self.skip_spaces();
        match self.at(self.pos)? {
            b',' => {
                self.pos += 1;
                self.skip_spaces();
                (self.at(self.pos) != Some(close)).then_some(true)
            }
            c if c == close => Some(false),
            _ => None,
        }
    }

    fn flow_value(&mut self) -> Option<Node> {
        match self.at(self.pos)? {
            b'[' | b'{' => self.flow(),
            b'"' | b'\'' => self.quoted(),
            _ if self.plain_start(true) => {
                let v = self.flow_plain()?;
                // a value may not be followed by ':' (an implicit key)
                (self.at(self.pos) != Some(b':')).then_some(v)
            }
            _ => None,
        }
    }

    /// A plain scalar in a flow collection: up to an indicator; `self.pos` after its last non-blank character.
    fn flow_plain(&mut self) -> Option<Node> {
        let start = self.pos;
        let mut i = start;
        let mut end = start;
        loop {
            match self.at(i)? {
                b'\n' => return None,
                b' ' => {}
                b'#' if self.s[i - 1] == b' ' => return None,
                // yaml-rust2 rejects a word of a flow scalar that is '-' followed by an indicator
                b'-' if self.at(i + 1).is_some_and(is_flow) => return None,
                b':' if matches!(self.at(i + 1), None | Some(b' ' | b'\n')) || self.at(i + 1).is_some_and(is_flow) => {
                    break
                }
                c if is_flow(c) => break,
                _ => end = i + 1,
            }
            i += 1;
        }
        if end == start {
            return None;
        }
        let node = self.scalar(start, end, Style::Plain, 0);
        self.pos = end;
        Some(node)
    }
}

#[cfg(test)]
mod tests {
    use super::super::yaml::parse_full;
    use super::*;

    /// The fast path either gives up or builds exactly what yaml-rust2 builds.
    fn same(text: &str) -> bool {
        match parse(text, 3) {
            None => false,
            Some(fast) => {
                match parse_full(text, 3, "t.yaml") {
                    Ok(full) => assert_eq!(fast, full, "{text:?}"),
                    Err(e) => panic!("{text:?}: the fast path accepted it, yaml-rust2 says {}", e.message),
                }
                true
            }
        }
    }

    const CASES: &[&str] = &[
        "a: 1\n",
        "a: 1",
        "a: 1\nbb:\n  - name: x\n    k: \"q\"\n  - [p, {r: s}]\nc:\n- z\n- y: 2\n",
        "- a\n- b: 1\n  c: []\n",
        "k:\n- b: 1 # hi\n  # c\n  c: {}   \n- x\n",
        "# head\n\na: b c  d   \n\n# tail\n",
        "a: 'x y'\nb: \"\"\nc: ''\n",
        "a: {x: [1, 2, {y: z}], w: \"q\"}\n",
        "a:   -5\nb: -x\nc: :x\nd: ?y\n",
        "url: https://example.com/a?b=c#frag\nx: a#b\n",
        "bé: [x, 'y']\nçà: é ü\n",
        "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
        "a:\n  - - x\n",
        "a: b\n  c\n",
        "a: b\n # c\n  d\n",
        "a: b: c\n",
        "a: [b, ]\n",
        "a: {b}\n",
        "a: {b: }\n",
        "a: [b: c]\n",
        "a: [b:c, d:e]\n",
        "a: {b: https://x.y/z}\n",
        "a: \"x\"#c\n",
        "a: [x]#c\n",
        "a: [x] # c\n",
        "a:\n",
        "a:\nb: 1\n",
        "---\na: 1\n",
        "a: 1\n---\nb: 2\n",
        "a: 1\n...\n",
        "  a: 1\n",
        "a : 1\n",
        "a:\n- x\n-  y\n- z: 1\n  w: 2\n",
        "a:\n  -   k: 1\n      j: 2\n  - l\n",
        "a: |\n  x\n",
        "a: &x 1\n",
        "a: *x\n",
        "a: !tag x\n",
        "a: 'it''s'\n",
        "a: \"q\\\"\"\n",
        "a:\n\n\n  b: 1\n\n",
        "- [a, [b, [c]]]\n- {}\n- []\n",
        "a: [-x, -1]\n",
        "a: [x -, y]\n",
        "a: x,y]{z}\n",
        "a: [ x , y ]\n",
        "a: {  x:   y  ,  z: w  }\n",
        "a: { x: 'y', z: \"w\" }\n",
        "a: [\"a\",'b']\n",
        "a: ['a'b]\n",
        "a: 1\nb:\n  c: 2\n d: 3\n",
        "a:\n  - x\n  b: 1\n",
        "a:\n  - x\n   - y\n",
        "-\n  a: 1\n",
        "- a\n-\n",
        "a: {b: [c, d], e: {f: g}}\n",
        "a: b # c: d\n",
        "a #b: c\n",
        "a: 0x1F\nb: 1_000\nc: .5\nd: +3\n",
        "\n\n# only comment\n",
        "",
        "a: %x\n",
        "a: @x\n",
        "a: `x\n",
        "a: ,x\n",
        "a: x\u{a0}y\n",
        "- { text: a b, match: phrase }\n- [x]: y\n",
        "- { text: a b, match: phrase }\n- [x]\n- 'q': r\n",
    ];

    #[test]
    fn matches_yaml_rust2_on_cases() {
        let mut fast = 0;
        for c in CASES {
            fast += usize::from(same(c));
        }
        assert!(fast > 20, "only {fast} cases took the fast path");
    }

    fn corpus() -> Vec<String> {
        let mut out = Vec::new();
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            let Ok(rd) = std::fs::read_dir(dir) else { return };
            for e in rd.flatten() {
                let p = e.path();
                // the invalid corpus holds symlinks to /dev/zero and out of the repository: never follow one
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_symlink() {
                    continue;
                }
                if ft.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                    if let Ok(t) = std::fs::read_to_string(&p) {
                        out.push(t);
                    }
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for d in ["tests", "examples", "docs", "fuzz"] {
            walk(&root.join(d), &mut out);
        }
        if let Some(extra) = std::env::var_os("ADSCTL_FAST_YAML_CORPUS") {
            walk(std::path::Path::new(&extra), &mut out);
        }
        out
    }

    #[test]
    fn matches_yaml_rust2_on_the_corpus() {
        let files = corpus();
        let fast = files.iter().filter(|t| same(t)).count();
        assert!(
            fast * 2 > files.len(),
            "{fast} of {} files took the fast path",
            files.len()
        );
    }

    #[test]
    fn matches_yaml_rust2_on_mutations() {
        let mut seeds: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
        seeds.extend(corpus().into_iter().filter(|t| t.len() < 3000).take(60));
        let pieces = [
            " ", "  ", "\n", ":", ": ", "-", "- ", "#", " #", "'", "\"", "[", "]", "{", "}", ",", ", ", "a", "é", "\t",
            "&", "*", "?", "|", ">", "!", "%", "\\", "---\n", "...", "x: ", "\n  ", "\n- ", "0", "\r\n", "\u{feff}",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        let mut fast = 0;
        let rounds = if cfg!(debug_assertions) { 20_000 } else { 200_000 };
        for _ in 0..rounds {
            let mut t = seeds[rng.usize(..seeds.len())].clone();
            for _ in 0..rng.usize(1..4) {
                let mut at = rng.usize(..=t.len());
                while !t.is_char_boundary(at) {
                    at -= 1;
                }
                match rng.u8(..3) {
                    0 => t.insert_str(at, pieces[rng.usize(..pieces.len())]),
                    1 => {
                        let mut end = (at + rng.usize(1..4)).min(t.len());
                        while !t.is_char_boundary(end) {
                            end += 1;
                        }
                        t.replace_range(at..end, "");
                    }
                    _ => {
                        let mut end = (at + rng.usize(1..3)).min(t.len());
                        while !t.is_char_boundary(end) {
                            end += 1;
                        }
                        t.replace_range(at..end, pieces[rng.usize(..pieces.len())]);
                    }
                }
            }
            fast += usize::from(same(&t));
        }
        assert!(fast > rounds / 20, "{fast}");
    }
}
