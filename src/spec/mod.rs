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

pub mod audience;
pub mod campaign;
pub(crate) mod de;
pub(crate) mod error;
mod excerpt;
mod fast;
pub mod format;
pub(crate) mod guard;
pub(crate) mod load;
pub(crate) mod lower;
pub(crate) mod rules;
pub mod schema;
pub mod state;
mod syntax;
pub mod types;
pub(crate) mod yaml;

pub use de::{Opt, Spanned};
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

/// A validated config directory (defined beside the engine that plans it).
pub use crate::model::Project;

/// Read, validate and lower the config directory `dir`. On failure, every problem found is returned, made safe to
/// print (user text escaped and elided to short excerpts).
/// `path` resolved, when it is a regular file inside `root` (canonical); the loader's rule for what it reads.
pub(crate) fn confined(root: &Path, path: &Path) -> Result<PathBuf, guard::Refused> {
    guard::check(root, path)
}

pub fn load(dir: &Path) -> Result<Project, SpecErrors> {
    load_dir(dir).map_err(|mut e| {
        e.finish();
        e
    })
}

fn load_dir(dir: &Path) -> Result<Project, SpecErrors> {
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
    // Every file read must resolve inside this directory (see `guard`).
    let root = match std::fs::canonicalize(dir) {
        Ok(r) => r,
        Err(e) => {
            return Err(SpecErrors::one(
                SpecError::file_level(&dir_name, Code::Io, format!("cannot read directory: {e}"))
                    .with_hint("pass the directory that holds adsctl.yaml"),
            ))
        }
    };
    let mut errors = Vec::new();
    // The project file: `adsctl.yaml` or `adsctl.yml`, whatever it is (a directory or a link out is reported as
    // such when it is read); both at once is ambiguous.
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    let candidates: Vec<PathBuf> = [dir.join("adsctl.yaml"), dir.join("adsctl.yml")]
        .into_iter()
        .filter(|p| exists(p))
        .collect();
    if candidates.len() > 1 {
        errors.push(
            SpecError::file_level(
                shown(&candidates[1]),
                Code::Duplicate,
                "both adsctl.yaml and adsctl.yml exist; only one project file is allowed",
            )
            .with_hint("merge them into adsctl.yaml and delete adsctl.yml"),
        );
    }
    let Some(project_path) = candidates.into_iter().next() else {
        let near = std::fs::read_dir(dir)
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| {
                let l = n.to_ascii_lowercase();
                l == "adsctl.yaml" || l == "adsctl.yml" || l == "adsctl.yaml.txt" || l == "adsctl.json"
            });
        let hint = match near {
            Some(n) => format!("found `{n}`: rename it to `adsctl.yaml`"),
            None => "run adsctl in the directory that holds adsctl.yaml, or pass it: `adsctl validate path/to/dir`"
                .to_string(),
        };
        return Err(SpecErrors::one(
            SpecError::file_level(&dir_name, Code::NoProjectFile, "no adsctl.yaml in this directory").with_hint(hint),
        ));
    };

    let mut sources = load::Sources::default();

    let before_project = errors.len();
    let project_file = match sources.read(&root, &project_path, shown(&project_path)) {
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
    let accounts_ok = errors.len() == before_project;
    // What a campaign's `account:` says about the language it is written in.
    let account_platforms: campaign::AccountPlatforms = std::sync::Arc::new(
        project_file
            .iter()
            .flat_map(|pf| &pf.accounts.entries)
            .filter_map(|(name, item)| {
                let spec = item.value.as_ref()?;
                Some((name.value.clone(), crate::model::Platform::from(spec.platform.value)))
            })
            .collect(),
    );
    let mut files = Vec::new();
    let mut unread: Vec<usize> = Vec::new();
    match load::resource_files(dir) {
        Ok(found) => {
            let root_project = [dir.join("adsctl.yaml"), dir.join("adsctl.yml")];
            for p in &found.misnamed {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // `adsctl.YAML` beside the project file is a project file written twice
                let at_root = p.parent() == Some(dir) && name.to_ascii_lowercase().starts_with("adsctl.");
                let (stem, ext) = name.rsplit_once('.').unwrap_or((&name, ""));
                let fixed = format!("{stem}.{}", ext.to_ascii_lowercase());
                errors.push(
                    SpecError::file_level(
                        shown(p),
                        Code::InvalidValue,
                        format!("`{name}` is not read: adsctl reads files ending in `.yaml` or `.yml`, in lower case"),
                    )
                    .with_hint(if at_root && root_project.iter().any(|r| exists(r)) {
                        "delete it: the project file is adsctl.yaml".to_string()
                    } else {
                        format!("rename it to `{fixed}`")
                    }),
                );
            }
            let paths = found.files;
            // Files are read, parsed and deserialized on every core (YAML scanning is most of a large load);
            // their sources, resources and errors are then taken in file order, as if read one by one.
            let base = sources.files.len();
            for (path, read) in paths.iter().zip(load::read_resource_files(
                &root,
                &paths,
                base,
                &shown,
                &account_platforms,
            )) {
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
        if let Some(st) = pf.state.as_ref() {
            lower.problems(state::check(&st.value));
        }
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
            moved: lower.moved,
        });
    }
    rules::drop_follow_on(&mut errors);
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
