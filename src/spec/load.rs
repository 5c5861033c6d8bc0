//! Reading a config directory: find the files, guard against bad input, parse, deserialize.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::de::{self, DeError};
use super::error::{Code, SpecError};
use super::yaml::{self, Node, Span};

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
}

impl Sources {
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
        let mut out = self.error(span, e.code, e.message);
        out.hint = e.hint;
        out
    }

    /// Read and parse one YAML file into its documents. `Err` carries a file-level error.
    pub fn read(&mut self, path: &Path, display: String) -> Result<(usize, Vec<Node>), SpecError> {
        let idx = self.files.len();
        let (source, docs) = read_file(path, display, idx);
        if let Some(source) = source {
            self.files.push(source);
        }
        docs.map(|d| (idx, d))
    }
}

/// Read and parse one YAML file as file number `idx`: its source (when it could be read as text) and its
/// non-empty documents, or a file-level error.
pub fn read_file(path: &Path, display: String, idx: usize) -> (Option<SourceFile>, Result<Vec<Node>, SpecError>) {
    let io = |e: std::io::Error| SpecError::file_level(&display, Code::Io, format!("cannot read file: {e}"));
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return (None, Err(io(e))),
    };
    if meta.len() > MAX_YAML_BYTES {
        return (
            None,
            Err(SpecError::file_level(
                &display,
                Code::FileTooLarge,
                format!(
                    "file is {} MiB; the limit for a YAML file is {} MiB",
                    meta.len() / (1024 * 1024),
                    MAX_YAML_BYTES / (1024 * 1024)
                ),
            )
            .with_hint("split it into several files, or move data (customer lists) into CSV files")),
        );
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return (None, Err(io(e))),
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let good = std::str::from_utf8(good).unwrap_or("");
            let line = good.matches('\n').count() + 1;
            let col = good.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
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
                    "file is not valid UTF-8",
                )
                .with_hint("save the file as UTF-8")),
            );
        }
    };
    let text = text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text);
    let source = SourceFile {
        display: display.clone(),
        text: Arc::from(text.as_str()),
    };
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
pub fn read_resource_files(paths: &[PathBuf], base: usize, shown: &(dyn Fn(&Path) -> String + Sync)) -> Vec<ReadFile> {
    let one = |i: usize, p: &PathBuf| -> ReadFile {
        let (source, docs) = read_file(p, shown(p), base + i);
        let result = docs.map(|docs| {
            let mut parsed = Vec::new();
            let mut de_errors = Vec::new();
            for d in &docs {
                if let Some(f) = de::from_node::<super::types::ResourceFile>(d) {
                    parsed.push(f);
                }
                // the error sink is per thread: collected here, on the thread that deserialized
                de_errors.extend(de::collect());
            }
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

/// Every `*.yaml` / `*.yml` below `root` except the root `adsctl.yaml`, sorted, skipping hidden directories
/// and not following symlinked directories.
pub fn resource_files(root: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), std::io::Error> {
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
            } else if (ft.is_file() || ft.is_symlink()) && (name.ends_with(".yaml") || name.ends_with(".yml")) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, 0, &mut out)?;
    let project = [root.join("adsctl.yaml"), root.join("adsctl.yml")];
    out.retain(|p| !project.contains(p));
    Ok(out)
}
