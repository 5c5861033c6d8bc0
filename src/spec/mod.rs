//! The desired-state language: loading a config directory, validating it, lowering it to resources.
//!
//! Contract used by every later stage:
//! `spec::load(dir) -> Result<Project, SpecErrors>`; `Project` holds the validated accounts and the lowered
//! desired resources (see `docs/resource-model.md`).
//!
//! Stages: [`load`] finds and reads the files (size, UTF-8 and emptiness guards), `yaml` parses them into
//! spanned nodes (aliases rejected, depth limited), `de` deserializes the typed spec of [`types`] collecting
//! every error, and `lower` validates the platform rules and produces the resources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::{Account, Resource};

pub mod audience;
mod de;
mod error;
mod fast;
mod load;
mod lower;
pub mod schema;
pub mod types;
mod yaml;

pub use error::{Code, SpecError, SpecErrors};
pub use load::MAX_YAML_BYTES;
pub use lower::managed_fields;

/// For the fuzzer only (`cargo fuzz` builds with `--cfg fuzzing`; see `fuzz/`): panics when the YAML fast path
/// accepts `text` but builds other nodes than yaml-rust2 does, or accepts what yaml-rust2 rejects.
#[cfg(fuzzing)]
pub fn fuzz_fast_yaml(text: &str) {
    if let Some(fast) = fast::parse(text, 0) {
        match yaml::parse_full(text, 0, "f.yaml") {
            Ok(full) => assert_eq!(fast, full, "{text:?}"),
            Err(e) => panic!("{text:?}: the fast path accepted it, yaml-rust2 says {}", e.message),
        }
    }
}

/// At most this many problems are returned (a broken generated file could otherwise produce millions).
pub const MAX_ERRORS: usize = 1000;

/// A validated config directory.
#[derive(Clone, Debug)]
pub struct Project {
    /// The directory holding `adsctl.yaml`.
    pub root: PathBuf,
    /// Accounts by local name.
    pub accounts: BTreeMap<String, Account>,
    /// Every desired resource, lowered, in declaration order.
    pub resources: Vec<Resource>,
}

/// Read, validate and lower the config directory `dir`. On failure, every problem found is returned.
pub fn load(dir: &Path) -> Result<Project, SpecErrors> {
    let shown = |p: &Path| p.display().to_string();
    let dir_name = shown(dir);
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(SpecErrors::one(
                SpecError::file_level(&dir_name, Code::Io, "not a directory")
                    .with_hint("pass the directory that holds adsctl.yaml"),
            ))
        }
        Err(e) => {
            return Err(SpecErrors::one(
                SpecError::file_level(&dir_name, Code::Io, format!("cannot read directory: {e}"))
                    .with_hint("pass the directory that holds adsctl.yaml"),
            ))
        }
    }
    let project_path = [dir.join("adsctl.yaml"), dir.join("adsctl.yml")]
        .into_iter()
        .find(|p| p.is_file());
    let Some(project_path) = project_path else {
        return Err(SpecErrors::one(
            SpecError::file_level(&dir_name, Code::NoProjectFile, "no adsctl.yaml in this directory").with_hint(
                "run adsctl in the directory that holds adsctl.yaml, or pass it: `adsctl validate path/to/dir`",
            ),
        ));
    };

    let mut sources = load::Sources::default();
    let mut errors = Vec::new();

    let project_file = match sources.read(&project_path, shown(&project_path)) {
        Ok((_, docs)) => {
            if docs.len() > 1 {
                errors.push(
                    sources
                        .error(
                            docs[1].span,
                            Code::InvalidValue,
                            "adsctl.yaml holds more than one YAML document",
                        )
                        .with_hint("keep one document in adsctl.yaml; put resources in other files"),
                );
            }
            load::deserialize::<types::ProjectFile>(&sources, &docs[0], &mut errors)
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };

    // An account that failed to parse makes every reference to it dangle: do not pile those on.
    let accounts_ok = errors.is_empty();
    let mut files = Vec::new();
    let mut unread: Vec<usize> = Vec::new();
    match load::resource_files(dir) {
        Ok(paths) => {
            // Files are read, parsed and deserialized on every core (YAML scanning is most of a large load);
            // their sources, resources and errors are then taken in file order, as if read one by one.
            let base = sources.files.len();
            for (path, read) in paths.iter().zip(load::read_resource_files(&paths, base, &shown)) {
                // a file that could not be read keeps its number (the spans of the files after it stay right),
                // with no text to show
                let source = read.source.unwrap_or_else(|| {
                    unread.push(sources.files.len());
                    load::SourceFile {
                        display: shown(path),
                        text: std::sync::Arc::from(""),
                    }
                });
                sources.files.push(source);
                match read.result {
                    Ok((parsed, de_errors)) => {
                        files.extend(parsed);
                        errors.extend(de_errors.into_iter().map(|e| sources.convert(e)));
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        Err(e) => errors.push(
            SpecError::file_level(&dir_name, Code::Io, format!("cannot list the directory: {e}"))
                .with_hint("check permissions"),
        ),
    }

    let mut lower = lower::Lower::new(&sources, dir);
    if let Some(pf) = project_file {
        lower.accounts(pf);
    }
    lower.files(files);
    let mut lower_errors = std::mem::take(&mut lower.errors);
    if !accounts_ok {
        lower_errors.retain(|e| !(e.code == Code::UnknownReference && e.message.starts_with("unknown account")));
    }
    errors.extend(lower_errors);

    if errors.is_empty() {
        return Ok(Project {
            root: dir.to_path_buf(),
            accounts: lower.accounts,
            resources: lower.resources,
        });
    }
    let mut out = SpecErrors {
        errors,
        sources: BTreeMap::new(),
    };
    for (i, f) in sources.files.iter().enumerate() {
        if !unread.contains(&i) && out.errors.iter().any(|e| e.file == f.display) {
            out.sources.insert(f.display.clone(), f.text.clone());
        }
    }
    out.sort();
    if out.errors.len() > MAX_ERRORS {
        let more = out.errors.len() - MAX_ERRORS;
        out.errors.truncate(MAX_ERRORS);
        out.errors.push(
            SpecError::file_level(&dir_name, Code::Constraint, format!("{more} more problems not listed"))
                .with_hint("fix the problems above first"),
        );
    }
    Err(out)
}
