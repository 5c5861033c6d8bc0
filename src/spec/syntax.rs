//! YAML syntax errors in the user's terms, at the mistake rather than where the parser noticed it.
//!
//! yaml-rust2 reports where its scanner gave up ("simple key expect ':'" on the line after `account:search`,
//! "found a tab" at the end of the previous scalar). Each rule here looks at the lines up to that point for the
//! mistake that explains the error, most specific first: a tab in the indentation, a key without a space after
//! its colon, a `key value` line without a colon, an unclosed `[` / `{` / quote. When none applies, the parser's
//! position and wording are kept.

/// How far back (in lines) from where the parser noticed the error a rule looks for its cause.
const LOOK_BACK: usize = 3;

/// An explained syntax error: 1-based line and column (in characters), its length in bytes, message and hint.
#[derive(Debug, PartialEq, Eq)]
pub struct Explained {
    pub line: usize,
    pub col: usize,
    pub len: usize,
    pub message: String,
    pub hint: String,
}

fn at(line: usize, text: &str, byte: usize, len: usize, message: String, hint: String) -> Explained {
    Explained {
        line,
        col: text[..byte].chars().count() + 1,
        len,
        message,
        hint,
    }
}

/// The lines to look at: from `LOOK_BACK` before the error's line to the line after it (1-based numbers).
fn window<'a>(lines: &'a [&'a str], line: usize) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    let last = (line + 1).min(lines.len());
    let first = line.saturating_sub(LOOK_BACK).max(1);
    (first..=last)
        .rev()
        .filter_map(move |n| lines.get(n - 1).map(|l| (n, *l)))
}

/// A key as people write them in adsctl files (field names and simple names).
fn is_key(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The content of a line after its indentation and any `- ` list markers: (byte offset, content).
fn content(l: &str) -> (usize, &str) {
    let mut i = l.len() - l.trim_start_matches(' ').len();
    loop {
        let rest = &l[i..];
        if let Some(r) = rest.strip_prefix("- ") {
            i += rest.len() - r.len() + (r.len() - r.trim_start_matches(' ').len());
        } else {
            return (i, rest);
        }
    }
}

/// Explain a syntax error that yaml-rust2 noticed at `line` (1-based) with `info`.
pub fn explain(text: &str, line: usize, col: usize, info: &str) -> Option<Explained> {
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    tab(&lines, line, info)
        .or_else(|| long_key(&lines, line, info))
        .or_else(|| no_space_after_colon(&lines, line))
        .or_else(|| missing_colon(&lines, line, info))
        .or_else(|| unclosed(text, line, info))
        .or_else(|| after_quote(&lines, line, col, info))
        .or_else(|| indentation(&lines, line, info))
}

/// A key longer than YAML's limit of 1024 characters for implicit keys.
fn long_key(lines: &[&str], line: usize, info: &str) -> Option<Explained> {
    if !info.contains("simple key") {
        return None;
    }
    for (n, l) in window(lines, line) {
        let (start, c) = content(l);
        if let Some(colon) = c.find(": ").or_else(|| c.strip_suffix(':').map(|x| x.len())) {
            if c[..colon].chars().count() > 1024 {
                return Some(at(
                    n,
                    l,
                    start,
                    1,
                    format!(
                        "a key of {} characters; YAML allows at most 1024",
                        c[..colon].chars().count()
                    ),
                    "shorten the key (no adsctl field name is this long)".into(),
                ));
            }
        }
    }
    None
}

fn indent_of(l: &str) -> usize {
    l.len() - l.trim_start_matches(' ').len()
}

fn blank(l: &str) -> bool {
    let t = l.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// Text after the closing quote of a quoted scalar (`'Bob's'`).
fn after_quote(lines: &[&str], line: usize, col: usize, info: &str) -> Option<Explained> {
    if !info.contains("trailing content after") {
        return None;
    }
    let l = lines.get(line.checked_sub(1)?)?;
    let byte = l.char_indices().nth(col.saturating_sub(1)).map_or(l.len(), |(b, _)| b);
    let q = l[..byte].chars().next_back().filter(|c| matches!(c, '\'' | '"'))?;
    let hint = if q == '\'' {
        "inside single quotes write a quote twice (`'Bob''s'`), or use double quotes (`\"Bob's\"`)"
    } else {
        "inside double quotes escape a quote as `\\\"`, or use single quotes"
    };
    Some(at(
        line,
        l,
        byte,
        1,
        format!("text continues after the closing `{q}`"),
        hint.into(),
    ))
}

/// A key indented more than the key above it (YAML reads it as the continuation of that value), or a line at
/// the indentation of list items that is not an item.
fn indentation(lines: &[&str], line: usize, info: &str) -> Option<Explained> {
    let l = *lines.get(line.checked_sub(1)?)?;
    let (start, c) = content(l);
    let key = c.split(':').next().unwrap_or("").trim_end();
    let prev = (1..line).rev().map(|n| (n, lines[n - 1])).find(|(_, p)| !blank(p))?;
    let (pstart, pc) = content(prev.1);
    if info.contains("mapping values are not allowed") && start > pstart {
        let pkey = pc.split(':').next().unwrap_or("").trim_end();
        let inline_value = pc.split_once(": ").is_some_and(|(_, v)| !v.trim().is_empty());
        if is_key(key) && is_key(pkey) && inline_value {
            return Some(at(
                line,
                l,
                start,
                key.len(),
                format!("`{key}` is indented more than `{pkey}` above it, so YAML reads it as part of that value"),
                format!("line `{key}` up with `{pkey}` ({pstart} spaces)"),
            ));
        }
    }
    if info.contains("did not find expected '-'") && is_key(key) {
        // the list item this line sits in: the closest line above starting with `- ` at this indentation
        let item = (1..line)
            .rev()
            .map(|n| lines[n - 1])
            .find(|p| indent_of(p) == start && p[start..].starts_with("- "))?;
        let (item_key_col, _) = content(item);
        return Some(at(
            line,
            l,
            start,
            key.len(),
            format!("`{key}` is at the indentation of the list's `- ` markers but is not a list item"),
            format!("indent it to line up with the keys of the item above ({item_key_col} spaces), or start a new item with `- `"),
        ));
    }
    None
}

/// A tab in the indentation (or, when the parser complains about one, wherever it is).
fn tab(lines: &[&str], line: usize, info: &str) -> Option<Explained> {
    for (n, l) in window(lines, line) {
        let indent = &l[..l.len() - l.trim_start_matches([' ', '\t', '-']).len()];
        if let Some(i) = indent.find('\t') {
            return Some(at(
                n,
                l,
                i,
                1,
                "a tab is used for indentation".into(),
                "indent with spaces: YAML does not allow tabs in indentation".into(),
            ));
        }
    }
    if info.contains("tab") || info.contains("valid YAML whitespace") {
        for (n, l) in window(lines, line) {
            if let Some(i) = l.find('\t') {
                return Some(at(
                    n,
                    l,
                    i,
                    1,
                    "a tab where YAML does not allow one".into(),
                    "replace the tab with a space".into(),
                ));
            }
        }
    }
    None
}

/// `account:search`: a key whose colon is not followed by a space (so YAML reads one plain scalar).
fn no_space_after_colon(lines: &[&str], line: usize) -> Option<Explained> {
    for (n, l) in window(lines, line) {
        let (start, c) = content(l);
        if c.starts_with('#') {
            continue;
        }
        // in block style at the start of the line, and inside flow collections after `{` or `,`
        let mut candidates = vec![start];
        candidates.extend(
            l.char_indices()
                .filter(|(_, ch)| matches!(ch, '{' | ','))
                .map(|(i, _)| i + 1 + (l[i + 1..].len() - l[i + 1..].trim_start().len())),
        );
        for s in candidates {
            let rest = &l[s..];
            let Some(colon) = rest.find(':') else { continue };
            let key = &rest[..colon];
            let after = rest[colon + 1..].chars().next();
            if is_key(key) && after.is_some_and(|a| !a.is_whitespace() && a != ':' && a != '/') {
                let value: String = rest[colon + 1..]
                    .chars()
                    .take_while(|ch| !matches!(ch, ',' | '}' | ']' | '#'))
                    .collect();
                let value = value.trim_end();
                return Some(at(
                    n,
                    l,
                    s + colon + 1,
                    1,
                    format!("missing space after `:` in `{key}:{value}`"),
                    format!("write `{key}: {value}`: YAML needs a space after the colon of a key"),
                ));
            }
        }
    }
    None
}

/// `account search`: a line inside a mapping without its colon.
fn missing_colon(lines: &[&str], line: usize, info: &str) -> Option<Explained> {
    if !(info.contains("simple key") || info.contains("could not find expected ':'")) {
        return None;
    }
    for (n, l) in window(lines, line).filter(|(n, _)| *n < line) {
        let (start, c) = content(l);
        let c = c.split(" #").next().unwrap_or("").trim_end();
        if c.is_empty() || c.starts_with(['#', '"', '\'', '[', '{', '|', '>']) || c.contains(':') {
            continue;
        }
        let (key, value) = c.split_once(' ').unwrap_or((c, ""));
        if is_key(key) {
            let fixed = if value.is_empty() {
                format!("{key}: …")
            } else {
                format!("{key}: {}", value.trim())
            };
            return Some(at(
                n,
                l,
                start,
                key.len(),
                format!("`{c}` is not a `key: value` pair: the `:` is missing"),
                format!("write `{fixed}`"),
            ));
        }
        return None;
    }
    None
}

/// An unclosed `[`, `{` or quote before the error: point at the opening character.
fn unclosed(text: &str, line: usize, info: &str) -> Option<Explained> {
    let flow = info.contains("flow sequence") || info.contains("flow mapping");
    let quoted = info.contains("quoted scalar");
    if !flow && !quoted {
        return None;
    }
    // the byte offset of the end of the error's line
    let end = text
        .split_inclusive('\n')
        .take(line)
        .map(str::len)
        .sum::<usize>()
        .min(text.len());
    let mut stack: Vec<(usize, char)> = Vec::new();
    let mut quote: Option<(usize, char)> = None;
    let mut comment = false;
    let bytes: Vec<(usize, char)> = text[..end].char_indices().collect();
    let mut i = 0;
    while i < bytes.len() {
        let (b, c) = bytes[i];
        i += 1;
        if comment {
            comment = c != '\n';
            continue;
        }
        match quote {
            Some((_, '"')) if c == '\\' => {
                i += 1;
            }
            Some((_, '\'')) if c == '\'' && bytes.get(i).is_some_and(|x| x.1 == '\'') => {
                i += 1;
            }
            Some((_, q)) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '#' if b == 0 || bytes[i - 2].1.is_whitespace() => comment = true,
                '"' | '\'' => {
                    // a quote opens a quoted scalar only where a scalar starts
                    let prev = text[..b].trim_end_matches(' ').chars().next_back();
                    if prev.is_none_or(|p| matches!(p, ':' | '-' | '[' | '{' | ',' | '\n' | '?')) {
                        quote = Some((b, c));
                    }
                }
                '[' | '{' => stack.push((b, c)),
                ']' | '}' => {
                    stack.pop();
                }
                _ => {}
            },
        }
    }
    let (b, c, what, hint) = match (quote, stack.last()) {
        (Some((b, q)), _) if quoted || flow => (
            b,
            q,
            "this quoted text is not closed".to_string(),
            if q == '\'' {
                "close it with `'`; inside single quotes write a quote twice (`'Bob''s'`)".to_string()
            } else {
                "close it with `\"`; inside double quotes escape a quote as `\\\"`".to_string()
            },
        ),
        (_, Some(&(b, c))) if flow => (
            b,
            c,
            format!("`{c}` is not closed"),
            format!(
                "close it with `{}` (a flow collection ends on the value it starts), or write the entries one per line",
                if c == '[' { ']' } else { '}' }
            ),
        ),
        _ => return None,
    };
    let line_start = text[..b].rfind('\n').map_or(0, |i| i + 1);
    let line_no = text[..line_start].matches('\n').count() + 1;
    let l = &text[line_start..];
    Some(at(line_no, l, b - line_start, c.len_utf8(), what, hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain_at(text: &str, line: usize, info: &str) -> Option<Explained> {
        explain(text, line, 1, info)
    }

    fn pos(e: Option<Explained>) -> (usize, usize) {
        let e = e.unwrap();
        (e.line, e.col)
    }

    #[test]
    fn finds_the_mistake() {
        assert_eq!(pos(explain_at("a:\n  b: 1\n\tc: 2\n", 3, "found a tab")), (3, 1));
        assert_eq!(
            pos(explain_at(
                "a:\n  - b: 1\n    c:search\n    d: 1\n",
                4,
                "simple key expect ':'"
            )),
            (3, 7)
        );
        assert_eq!(
            pos(explain_at(
                "a:\n  b: 1\n  c search\n  d: 1\n",
                4,
                "simple key expect ':'"
            )),
            (3, 3)
        );
        assert_eq!(
            pos(explain_at(
                "a:\n  b: [x, y\n  c: 1\n",
                3,
                "while parsing a flow sequence, did not find expected ',' or ']'"
            )),
            (2, 6)
        );
        assert!(explain_at("a: 'it''s'\nb: [\n", 2, "flow sequence").is_some());
        assert_eq!(pos(explain_at("a: 'it''s'\nb: 'x\n", 2, "quoted scalar")), (2, 4));
        assert!(explain_at("url: https://x\nb: c\n", 2, "anything").is_none());
    }
}
