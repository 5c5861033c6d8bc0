//! The YAML loader (`adsctl::spec::load`) on arbitrary bytes: it must return errors, never panic.
//!
//! The input is split at the first NUL byte: the part before it becomes `adsctl.yaml` (or, when empty, a fixed
//! valid one), the part after it `campaigns/f.yaml`. So both the project file and a resource file are fuzzed.
#![no_main]

use libfuzzer_sys::fuzz_target;

const ACCOUNTS: &[u8] = b"accounts:\n  search:\n    platform: google_ads\n    customer_id: 1234567890\n    \
currency: USD\n  social:\n    platform: meta\n    ad_account_id: act_1234567890\n    currency: USD\n";

fuzz_target!(|data: &[u8]| {
    let (config, resources) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let Ok(dir) = tempfile_dir() else { return };
    let _ = std::fs::create_dir_all(dir.join("campaigns"));
    let _ = std::fs::write(dir.join("adsctl.yaml"), if config.is_empty() { ACCOUNTS } else { config });
    let _ = std::fs::write(dir.join("campaigns/f.yaml"), resources);
    if let Err(errors) = adsctl::spec::load(&dir) {
        // rendering must not panic either
        let _ = errors.render(false);
    }
});

/// One scratch directory per fuzzing process (reused: files are overwritten on every input).
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("adsctl-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
