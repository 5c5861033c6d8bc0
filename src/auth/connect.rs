//! The connectors' credential seam: a command that works on a project calls [`activate`] with the project root
//! once, so that the vault of that project (and not of the current directory) is what every connector's
//! [`crate::auth::credentials`] reads (vault first, then the environment).

use std::path::Path;

use super::Auth;

/// Make the project's vault the credential source of every connector in this process.
pub fn activate(root: &Path) {
    super::install(Auth::for_project(root));
}
