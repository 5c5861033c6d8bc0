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
        let meta = std::fs::metadata(path)
            .map_err(|e| SpecError::file_level(&display, Code::Io, format!("cannot read file: {e}")))?;
        if meta.len() > MAX_YAML_BYTES {
            return Err(SpecError::file_level(
                &display,
                Code::FileTooLarge,
                format!(
                    "file is {} MiB; the limit for a YAML file is {} MiB",
                    meta.len() / (1024 * 1024),
                    MAX_YAML_BYTES / (1024 * 1024)
                ),
            )
            .with_hint("split it into several files, or move data (customer lists) into CSV files"));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| SpecError::file_level(&display, Code::Io, format!("cannot read file: {e}")))?;
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let good = std::str::from_utf8(good).unwrap_or("");
                let line = good.matches('\n').count() + 1;
                let col = good.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
                return Err(SpecError::new(
                    &display,
                    Span {
                        line,
                        col,
                        ..Span::default()
                    },
                    Code::InvalidUtf8,
                    "file is not valid UTF-8",
                )
                .with_hint("save the file as UTF-8"));
            }
        };
        let text = text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text);
        let idx = self.files.len();
        self.files.push(SourceFile {
            display: display.clone(),
            text: Arc::from(text.as_str()),
        });
        let docs = yaml::parse(&text, idx, &display)?;
        let docs: Vec<Node> = docs.into_iter().filter(|d| !d.is_null()).collect();
        if docs.is_empty() {
            return Err(
                SpecError::file_level(&display, Code::EmptyFile, "file is empty (no YAML content)")
                    .with_hint("add content, or delete the file"),
            );
        }
        Ok((idx, docs))
    }
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
