//! Headless Chromium for the dashboard's end-to-end test: Debian's `chromium` (`.ci/run` installs it when it is
//! missing), driven through the DevTools protocol by `headless_chrome`. No browser is downloaded; a missing
//! Chromium fails the test with the command that installs it (nothing is skipped).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// `$ADSCTL_CHROMIUM`, else Debian's `/usr/bin/chromium`.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("ADSCTL_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{} is missing: the dashboard test runs a real browser; install it with `apt-get install chromium` \
         (.ci/run does this when it runs as root), or point ADSCTL_CHROMIUM at a Chromium binary",
        path.display()
    );
    path
}

/// A headless Chromium with a fresh profile in `profile` and no network but what the page asks for: no
/// background requests, component updates or sync (this machine's network is closed; they would only fail).
pub fn launch(profile: &Path) -> headless_chrome::Browser {
    let args: Vec<&OsStr> = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = headless_chrome::LaunchOptions::default_builder()
        .path(Some(chromium()))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1280, 1500)))
        .user_data_dir(Some(profile.to_path_buf()))
        .idle_browser_timeout(std::time::Duration::from_secs(120))
        .args(args)
        .build()
        .expect("Chromium launch options");
    headless_chrome::Browser::new(options).expect("Chromium starts headless")
}
