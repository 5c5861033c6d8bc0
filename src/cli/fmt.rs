//! `adsctl fmt [--check] [--diff] [DIR]`: every YAML file of a config directory in the one canonical style
//! (`spec::format`), comments and values kept. Reads only files inside the directory, as the loader does;
//! writes a file only when its text changes, through a temporary file renamed over it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{CommandError, CommandResult, GlobalArgs};
use crate::spec::format::{self, FormatError};
use crate::spec::{load, Code, SpecError, SpecErrors};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config directory (holding adsctl.yaml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Write nothing: list the files that are not formatted and exit 3 if there are any.
    #[arg(long)]
    pub check: bool,
    /// Print the changes as a unified diff.
    #[arg(long)]
    pub diff: bool,
}

/// The exit status of `--check` when a file is not formatted (as `terraform fmt -check`).
const NOT_FORMATTED: u8 = 3;

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    let dir = &args.dir;
    let root = std::fs::canonicalize(dir).map_err(|e| {
        CommandError::new(format!("cannot open {}: {e}", dir.display()))
            .with_hint("pass the directory that holds adsctl.yaml")
    })?;
    if !root.is_dir() {
        return Err(CommandError::new(format!("{} is not a directory", dir.display()))
            .with_hint("pass the directory that holds adsctl.yaml"));
    }
    let found = load::resource_files(dir).map_err(|e| {
        CommandError::new(format!("cannot list {}: {e}", dir.display())).with_hint("check the directory's permissions")
    })?;
    let mut files: Vec<(PathBuf, bool)> = ["adsctl.yaml", "adsctl.yml"]
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .map(|p| (p, true))
        .collect();
    files.extend(found.files.into_iter().map(|p| (p, false)));

    let mut errors = SpecErrors::default();
    let mut changed = Vec::new();
    let mut stdout = std::io::stdout().lock();
    for (idx, (path, project)) in files.iter().enumerate() {
        let display = path.display().to_string();
        let (source, docs) = load::read_file(&root, path, display.clone(), idx);
        let source = match (source, docs) {
            (Some(s), Ok(_)) => s,
            (s, Err(e)) => {
                if let Some(s) = s {
                    errors.sources.insert(s.display.clone(), s.text.clone());
                }
                errors.errors.push(e);
                continue;
            }
            (None, Ok(_)) => continue,
        };
        let rel = path.strip_prefix(dir).unwrap_or(path);
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let schema = format::default_schema(&rel, *project);
        let text: &str = &source.text;
        let out = match format::format(text, &schema) {
            Ok(out) => out,
            Err(e @ FormatError::Changed(_)) => {
                errors.errors.push(
                    SpecError::file_level(&display, Code::InvalidValue, e.to_string()).with_hint(
                        "this is a bug in adsctl fmt: please report it with the file's shape (not its text)",
                    ),
                );
                continue;
            }
            Err(FormatError::Syntax(m)) => {
                errors.errors.push(
                    SpecError::file_level(&display, Code::YamlSyntax, m).with_hint("fix the YAML, then run adsctl fmt"),
                );
                continue;
            }
        };
        if out == text {
            continue;
        }
        if args.diff {
            let diff = similar::TextDiff::from_lines(text, out.as_str());
            let _ = write!(
                stdout,
                "{}",
                diff.unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{rel}"), &format!("b/{rel}"))
            );
        }
        if !args.check {
            write_over(&root, path, &out).map_err(|e| {
                CommandError::new(format!("cannot write {display}: {e}")).with_hint("check the file's permissions")
            })?;
        }
        if !global.quiet || args.check {
            let _ = writeln!(stdout, "{display}");
        }
        changed.push(display);
    }
    if !errors.is_empty() {
        errors.finish();
        return Err(CommandError::spec(&errors, global.stderr_color()));
    }
    if args.check && !changed.is_empty() {
        let n = changed.len();
        return Err(CommandError::new(format!(
            "{n} file{} not formatted",
            if n == 1 { " is" } else { "s are" }
        ))
        .with_hint("run `adsctl fmt` to format them")
        .with_exit_code(NOT_FORMATTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Replace the file (the real file a link inside the directory points at) by `text`, atomically: a temporary
/// file beside it, renamed over it, so a crash leaves the old text or the new one, never half of either.
fn write_over(root: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    let real = crate::spec::confined(root, path)
        .map_err(|_| std::io::Error::other("it is no longer a regular file inside the config directory"))?;
    let parent = real.parent().unwrap_or(root);
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.adsctl-fmt-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(text.as_bytes())?;
        if let Ok(meta) = std::fs::metadata(&real) {
            f.set_permissions(meta.permissions())?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, &real)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
