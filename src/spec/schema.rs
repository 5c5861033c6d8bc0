//! JSON Schemas of the two file kinds, generated from the typed spec (doc comments become descriptions).

use schemars::gen::SchemaSettings;

use super::types::{ProjectFile, ResourceFile};

/// File names under `schemas/` and their content.
pub fn schemas() -> Vec<(&'static str, String)> {
    let gen = || SchemaSettings::draft07().into_generator();
    let project = gen().into_root_schema_for::<ProjectFile>();
    let resources = gen().into_root_schema_for::<ResourceFile>();
    let pretty = |s| serde_json::to_string_pretty(&s).unwrap_or_default() + "\n";
    vec![
        ("adsctl.schema.json", pretty(project)),
        ("resources.schema.json", pretty(resources)),
    ]
}
