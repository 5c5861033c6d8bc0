use std::path::PathBuf;
use std::process::ExitCode;

use super::{CommandError, CommandResult, GlobalArgs};
use crate::spec::schema::schemas;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write `adsctl.schema.json` and `resources.schema.json` into this directory (created if missing).
    /// Without it, both are printed as one JSON object keyed by file name.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    let all = schemas();
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                CommandError::new(format!("cannot create {}: {e}", dir.display()))
                    .with_hint("check the path and permissions")
            })?;
            for (name, text) in &all {
                let path = dir.join(name);
                std::fs::write(&path, text).map_err(|e| {
                    CommandError::new(format!("cannot write {}: {e}", path.display()))
                        .with_hint("check the path and permissions")
                })?;
                if !global.quiet {
                    println!("wrote {}", path.display());
                }
            }
        }
        None => {
            let mut obj = serde_json::Map::new();
            for (name, text) in &all {
                let v: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| CommandError::new(format!("internal error rendering {name}: {e}")))?;
                obj.insert(name.to_string(), v);
            }
            let text = serde_json::to_string_pretty(&serde_json::Value::Object(obj))
                .map_err(|e| CommandError::new(format!("internal error rendering schemas: {e}")))?;
            println!("{text}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
