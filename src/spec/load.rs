//! Reading a config directory: find the files, guard against bad input, parse, deserialize.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use super::de::{self, DeError};
use super::error::{Code, SpecError};
use super::guard::{self, Refused};
use super::yaml::{self, Node, NodeKind, Span};

/// Largest YAML file accepted. Config files are small; this keeps a stray dump from eating memory.
pub const MAX_YAML_BYTES: u64 = 4 * 1024 * 1024;
/// Deepest directory recursion.
const MAX_DIR_DEPTH: usize = 32;

/// One source file: its display name (as the user would type it) and its text.
pub struct SourceFile {
    pub display: String,
    pub text: Arc<str>,
}

/// The files read so far, indexed by `Span::file`.
#[derive(Default)]
pub struct Sources {
    pub files: Vec<SourceFile>,
    /// Files parsed again to find the key of a value (only when an error needs it), by file number.
    trees: std::cell::RefCell<std::collections::HashMap<usize, Rc<Vec<Node>>>>,
}

/// The mapping entries of `node` and below, depth first.
fn entries<'a>(node: &'a Node, out: &mut Vec<&'a (Node, Node)>) {
    match &node.kind {
        NodeKind::Map(es) => {
            for e in es {
                out.push(e);
                entries(&e.1, out);
            }
        }
        NodeKind::Seq(items) => {
            for i in items {
                entries(i, out);
            }
        }
        NodeKind::Scalar { .. } => {}
    }
}

impl Sources {
    /// The documents of file `file`, parsed again from its text.
    fn tree(&self, file: usize) -> Option<Rc<Vec<Node>>> {
        if let Some(t) = self.trees.borrow().get(&file) {
            return Some(t.clone());
        }
        let f = self.files.get(file)?;
        let docs = Rc::new(yaml::parse(&f.text, file, &f.display).ok()?);
        self.trees.borrow_mut().insert(file, docs.clone());
        Some(docs)
    }

    /// The span of the key whose value is at `value` (a field is best pointed at by its key: the value of
    /// `ad_sets:` or `bidding:` starts on the next line).
    pub fn key_of(&self, value: Span) -> Option<Span> {
        let docs = self.tree(value.file)?;
        let mut all = Vec::new();
        docs.iter().for_each(|d| entries(d, &mut all));
        all.iter()
            .find(|(_, v)| v.span.offset == value.offset)
            .map(|(k, _)| k.span)
    }

    /// The span of key `key` in the mapping that holds the value at `sibling` (e.g. `ad_sets` of the campaign
    /// whose `name` is at `sibling`).
    pub fn key_in(&self, sibling: Span, key: &str) -> Option<Span> {
        let docs = self.tree(sibling.file)?;
        fn find(node: &Node, sibling: Span, key: &str) -> Option<Span> {
            match &node.kind {
                NodeKind::Map(es) => {
                    if es.iter().any(|(_, v)| v.span.offset == sibling.offset) {
                        if let Some((k, _)) = es
                            .iter()
                            .find(|(k, _)| matches!(&k.kind, NodeKind::Scalar { text, .. } if text == key))
                        {
                            return Some(k.span);
                        }
                    }
                    es.iter().find_map(|(_, v)| find(v, sibling, key))
                }
                NodeKind::Seq(items) => items.iter().find_map(|i| find(i, sibling, key)),
                NodeKind::Scalar { .. } => None,
            }
        }
        docs.iter().find_map(|d| find(d, sibling, key))
    }

    pub fn display(&self, file: usize) -> &str {
        self.files.get(file).map(|f| f.display.as_str()).unwrap_or("?")
    }
    pub fn error(&self, span: Span, code: Code, msg: impl Into<String>) -> SpecError {
        SpecError::new(self.display(span.file), span, code, msg)
    }
    pub fn convert(&self, e: DeError) -> SpecError {
        let span = e.span.unwrap_or(Span {
            line: 1,
            col: 1,
            ..Span::default()
        });
        let (message, hint) = self.reword(&e, span);
        let mut out = self.error(span, e.code, message);
        out.hint = hint;
        out
    }

    /// Say some deserialization errors in the user's terms, from what is written at `span`: an empty value
    /// (placed on its key, or on the `-` of an empty list item), a decimal comma that split a flow mapping.
    fn reword(&self, e: &DeError, span: Span) -> (String, Option<String>) {
        let text = self.files.get(span.file).map(|f| &*f.text).unwrap_or("");
        let at = span.offset.min(text.len());
        let here = text.get(at..(at + span.len).min(text.len())).unwrap_or("");
        let line_rest = text.get(at..).unwrap_or("").split('\n').next().unwrap_or("");
        if let Some(expected) = e
            .message
            .strip_suffix(", found null")
            .and_then(|m| m.strip_prefix("expected "))
        {
            let after = line_rest.get(here.len()..).unwrap_or("");
            let rest = after.trim_start();
            if here == "-" && (rest.is_empty() || rest.starts_with('#')) {
                return (
                    format!("empty list item (expected {expected})"),
                    Some("the line holds only `-` and a comment; remove it, or write the item after the `-`".into()),
                );
            }
            if after.starts_with(':') && !here.is_empty() {
                return (format!("`{here}` has no value (expected {expected})"), e.hint.clone());
            }
        }
        if e.code == Code::UnknownField && !here.is_empty() && here.bytes().all(|b| b.is_ascii_digit()) {
            // `{ daily: 12,50 }`: YAML reads `daily: 12` and a key `50`
            let before = text.get(..at).unwrap_or("");
            if let Some(number) = before.strip_suffix(',') {
                let whole: String = number.chars().rev().take_while(char::is_ascii_digit).collect();
                if !whole.is_empty() {
                    let whole: String = whole.chars().rev().collect();
                    return (
                        format!("`{whole},{here}` has a decimal comma: YAML reads `{whole}` and a second key `{here}`"),
                        Some(format!("use a decimal point: `{whole}.{here}`")),
                    );
                }
            }
        }
        (e.message.clone(), e.hint.clone())
    }

    /// Read and parse one YAML file into its documents. `Err` carries a file-level error.
    pub fn read(&mut self, root: &Path, path: &Path, display: String) -> Result<(usize, Vec<Node>), SpecError> {
        let idx = self.files.len();
        let (source, docs) = read_file(root, path, display, idx);
        if let Some(source) = source {
            self.files.push(source);
        }
        docs.map(|d| (idx, d))
    }
}

/// The error for a path [`guard`] refused. `what` names the file in messages ("file", "customer file").
pub fn refused(display: &str, r: Refused, what: &str) -> SpecError {
    let e = |code, msg: String| SpecError::file_level(display, code, msg);
    match r {
        Refused::Outside { target: Some(t) } => e(
            Code::OutsideConfig,
            format!("{what} is a symbolic link to `{t}`, outside the config directory"),
        )
        .with_hint("adsctl reads only files inside the directory holding adsctl.yaml; copy the file in instead"),
        Refused::Outside { target: None } => e(
            Code::OutsideConfig,
            format!("{what} resolves outside the config directory"),
        )
        .with_hint("adsctl reads only files inside the directory holding adsctl.yaml; copy the file in instead"),
        Refused::Dangling { target } => e(
            Code::Io,
            format!("{what} is a symbolic link to `{target}`, which does not exist"),
        )
        .with_hint("fix or remove the link"),
        Refused::NotRegular(kind) => e(Code::NotAFile, format!("{what} is {kind}, not a regular file"))
            .with_hint("adsctl reads regular files only; replace it with a file or remove it"),
        Refused::TooLarge { limit, size } => e(
            Code::FileTooLarge,
            match size {
                Some(n) => format!(
                    "{what} is {} MiB; the limit for a YAML file is {} MiB",
                    n / (1024 * 1024),
                    limit / (1024 * 1024)
                ),
                None => format!("{what} is larger than the limit of {} MiB", limit / (1024 * 1024)),
            },
        )
        .with_hint("split it into several files, or move data (customer lists) into CSV files"),
        Refused::Io(err) => {
            e(Code::Io, format!("cannot read {what}: {err}")).with_hint("check the path and permissions")
        }
    }
}

/// What a file that is not UTF-8 is, when it can be told: UTF-16 or UTF-32 by their byte-order marks, UTF-16
/// without one by its zero bytes (every other byte of ASCII text).
fn other_encoding(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xff, 0xfe, 0, 0]) {
        return Some("UTF-32 (little-endian, with a byte-order mark)");
    }
    if bytes.starts_with(&[0, 0, 0xfe, 0xff]) {
        return Some("UTF-32 (big-endian, with a byte-order mark)");
    }
    if bytes.starts_with(&[0xff, 0xfe]) {
        return Some("UTF-16 (little-endian, with a byte-order mark)");
    }
    if bytes.starts_with(&[0xfe, 0xff]) {
        return Some("UTF-16 (big-endian, with a byte-order mark)");
    }
    let sample = &bytes[..bytes.len().min(4096)];
    if sample.len() >= 4 {
        let zeros = |parity: usize| sample.iter().skip(parity).step_by(2).filter(|b| **b == 0).count();
        let half = sample.len() / 2;
        if zeros(1) * 10 >= half * 9 && zeros(0) * 10 < half {
            return Some("UTF-16 (little-endian, without a byte-order mark)");
        }
        if zeros(0) * 10 >= half * 9 && zeros(1) * 10 < half {
            return Some("UTF-16 (big-endian, without a byte-order mark)");
        }
    }
    None
}

/// 1-based line and column (in characters) of byte `at` of `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The first control character (or bidirectional control) written raw in a YAML file, with how many there are.
/// YAML allows only printable characters, tabs and line breaks; these would reach terminals and the platforms.
fn raw_control(text: &str, display: &str) -> Option<SpecError> {
    // a quick byte scan first: most files hold none of the bytes a hostile character starts with
    if !super::excerpt::may_be_hostile(text) {
        return None;
    }
    let mut found = text
        .char_indices()
        .filter(|&(i, c)| super::excerpt::is_hostile_char(c) && !(c == '\r' && text[i + 1..].starts_with('\n')));
    let (at, c) = found.next()?;
    let more = found.count();
    let (line, col) = line_col(text, at);
    let what = if c.is_control() {
        "control character"
    } else {
        "bidirectional control character"
    };
    let also = match more {
        0 => String::new(),
        1 => " (and 1 more in this file)".into(),
        n => format!(" (and {n} more in this file)"),
    };
    Some(
        SpecError::new(
            display,
            Span {
                line,
                col,
                offset: at,
                len: c.len_utf8(),
                ..Span::default()
            },
            Code::ControlCharacter,
            format!(
                "{what} `{}` (U+{:04X}) in the file{also}",
                super::excerpt::escape_char(c),
                c as u32
            ),
        )
        .with_hint(if c.is_control() {
            "remove it: YAML files hold printable text, tabs and line breaks only"
        } else {
            "remove it: it makes text display in another order than it is read"
        }),
    )
}

/// Read and parse one YAML file as file number `idx`: its source (when it could be read as text) and its
/// non-empty documents, or a file-level error. The file must be a regular file inside `root` (canonical).
pub fn read_file(
    root: &Path,
    path: &Path,
    display: String,
    idx: usize,
) -> (Option<SourceFile>, Result<Vec<Node>, SpecError>) {
    let bytes = match guard::read_confined(root, path, MAX_YAML_BYTES) {
        Ok(b) => b,
        Err(r) => return (None, Err(refused(&display, r, "file"))),
    };
    if let Some(enc) = other_encoding(&bytes) {
        return (
            None,
            Err(
                SpecError::file_level(&display, Code::InvalidUtf8, format!("file is {enc}, not UTF-8"))
                    .with_hint("save the file as UTF-8 (most editors offer it under \"Save with encoding\")"),
            ),
        );
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let byte = e.as_bytes().get(valid).copied().unwrap_or(0);
            let good = std::str::from_utf8(&e.as_bytes()[..valid]).unwrap_or("");
            let (line, col) = line_col(good, good.len());
            return (
                None,
                Err(SpecError::new(
                    &display,
                    Span {
                        line,
                        col,
                        ..Span::default()
                    },
                    Code::InvalidUtf8,
                    format!("file is not valid UTF-8 (byte 0x{byte:02X})"),
                )
                .with_hint(if byte >= 0x80 {
                    "save the file as UTF-8; it looks like another encoding (Latin-1 or Windows-1252 write `é` as one byte)"
                } else {
                    "save the file as UTF-8"
                })),
            );
        }
    };
    let text = text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text);
    let source = SourceFile {
        display: display.clone(),
        text: Arc::from(text.as_str()),
    };
    if let Some(e) = raw_control(&text, &display) {
        return (Some(source), Err(e));
    }
    let docs = match yaml::parse(&text, idx, &display) {
        Ok(d) => d,
        Err(e) => return (Some(source), Err(e)),
    };
    let docs: Vec<Node> = docs.into_iter().filter(|d| !d.is_null()).collect();
    if docs.is_empty() {
        return (
            Some(source),
            Err(
                SpecError::file_level(&display, Code::EmptyFile, "file is empty (no YAML content)")
                    .with_hint("add content, or delete the file"),
            ),
        );
    }
    (Some(source), Ok(docs))
}

/// One resource file as read by [`read_resource_files`].
pub struct ReadFile {
    /// Its text, when it could be read (pushed to [`Sources`] in file order, so that spans resolve).
    pub source: Option<SourceFile>,
    /// Its documents deserialized, with the errors found in them (converted once every source is known), or a
    /// file-level error.
    pub result: Result<(Vec<super::types::ResourceFile>, Vec<DeError>), SpecError>,
}

/// `ADSCTL_READ_THREADS`: at most this many reader threads (1 reads on the calling thread). Each reader thread
/// leaves memory in its own allocator arena: at 100k resources, 2 threads load ≈ 30 % faster and peak ≈ 20 %
/// higher than 1 (benches/README.md).
fn read_threads_setting() -> usize {
    std::env::var("ADSCTL_READ_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(8, |n| n.clamp(1, 64))
}

/// Read, parse and deserialize the resource files on every core, file `i` as source number `base + i`. The
/// result is in the order of `paths`.
pub fn read_resource_files(
    root: &Path,
    paths: &[PathBuf],
    base: usize,
    shown: &(dyn Fn(&Path) -> String + Sync),
    accounts: &super::campaign::AccountPlatforms,
) -> Vec<ReadFile> {
    let one = |i: usize, p: &PathBuf| -> ReadFile {
        let (source, docs) = read_file(root, p, shown(p), base + i);
        let result = docs.map(|docs| {
            let mut parsed = Vec::new();
            let mut de_errors = Vec::new();
            // campaigns are read in their account's platform's language (`spec::campaign`)
            de::with_capture_hook(super::campaign::hook(accounts.clone()), || {
                for d in &docs {
                    if let Some(f) = de::from_node::<super::types::ResourceFile>(d) {
                        parsed.push(f);
                    }
                    // the error sink is per thread: collected here, on the thread that deserialized
                    de_errors.extend(de::collect());
                }
            });
            (parsed, de_errors)
        });
        ReadFile { source, result }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(paths.len() / 8 + 1)
        .min(read_threads_setting());
    if threads <= 1 {
        return paths.iter().enumerate().map(|(i, p)| one(i, p)).collect();
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(j, p)| one(c * chunk + j, p))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .flat_map(|(c, h)| {
                // A panic in a reader thread is a bug; it is reported as an error of the files it had, not re-raised.
                h.join().unwrap_or_else(|_| {
                    paths
                        .chunks(chunk)
                        .nth(c)
                        .unwrap_or_default()
                        .iter()
                        .map(|p| ReadFile {
                            source: None,
                            result: Err(SpecError::file_level(
                                shown(p),
                                Code::Io,
                                "internal error while reading this file",
                            )
                            .with_hint("please report it with the file")),
                        })
                        .collect()
                })
            })
            .collect()
    })
}

/// Deserialize one document, collecting every error found in it.
pub fn deserialize<'de, T: serde::Deserialize<'de>>(
    sources: &Sources,
    node: &Node,
    errors: &mut Vec<SpecError>,
) -> Option<T> {
    let v = de::from_node::<T>(node);
    errors.extend(de::collect().into_iter().map(|e| sources.convert(e)));
    v
}

/// Whether a file name ends in `.yaml` / `.yml` exactly (`Some(true)`), in another case (`Some(false)`:
/// `Summer.YAML`, never read silently), or not at all (`None`).
pub fn yaml_name(name: &str) -> Option<bool> {
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        return Some(true);
    }
    let lower = name.to_ascii_lowercase();
    (lower.ends_with(".yaml") || lower.ends_with(".yml")).then_some(false)
}

/// The files below a config directory: the resource files to read, and files whose extension is `.yaml` or
/// `.yml` in another case (reported, never skipped silently).
#[derive(Default)]
pub struct Found {
    pub files: Vec<PathBuf>,
    pub misnamed: Vec<PathBuf>,
}

/// Every `*.yaml` / `*.yml` below `root` except the root `adsctl.yaml` / `adsctl.yml`, sorted, skipping hidden
/// directories and not following symlinked directories. Whatever has such a name and is not a directory is
/// listed (a symlink, a FIFO): reading it refuses what is not a regular file inside `root`.
pub fn resource_files(root: &Path) -> Result<Found, std::io::Error> {
    fn walk(dir: &Path, depth: usize, out: &mut Found) -> Result<(), std::io::Error> {
        if depth > MAX_DIR_DEPTH {
            return Ok(());
        }
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let ft = e.file_type()?;
            let path = e.path();
            if ft.is_dir() {
                if name == "target" || name == "node_modules" {
                    continue;
                }
                walk(&path, depth + 1, out)?;
            } else {
                match yaml_name(&name) {
                    Some(true) => out.files.push(path),
                    Some(false) => out.misnamed.push(path),
                    None => {}
                }
            }
        }
        Ok(())
    }
    let mut out = Found::default();
    walk(root, 0, &mut out)?;
    let project = [root.join("adsctl.yaml"), root.join("adsctl.yml")];
    out.files.retain(|p| !project.contains(p));
    Ok(out)
}
