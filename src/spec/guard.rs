//! Reading a file of the config directory, and nothing else.
//!
//! `validate` and `plan` run on pull requests from anyone who can open one, so a file of the repository may be
//! a symlink to `/etc/passwd`, `/dev/zero` or a FIFO. Every YAML and CSV file adsctl reads goes through
//! [`read_confined`] / [`open_confined`]:
//! - the path, with every symlink resolved, must stay inside the (canonical) config directory; a dangling
//!   symlink is judged by where it points;
//! - it must be a regular file (not a directory, FIFO, socket or device), checked before it is opened (opening
//!   a FIFO would block) and again on the open handle;
//! - at most the size limit is read, counted on the bytes actually read (`/proc` files and devices report a size
//!   of 0), never trusted from metadata alone.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Why a path was refused.
#[derive(Debug)]
pub enum Refused {
    /// It resolves outside the config directory (the symlink target as written, when it is a symlink).
    Outside {
        target: Option<String>,
    },
    /// A symlink to a file that does not exist, inside the directory.
    Dangling {
        target: String,
    },
    /// Not a regular file: what it is.
    NotRegular(&'static str),
    /// More bytes than the limit (the size, when the file's metadata told it).
    TooLarge {
        limit: u64,
        size: Option<u64>,
    },
    Io(std::io::Error),
}

/// What a file type is, in words.
fn describe(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// `path` with `.` and `..` applied lexically (no file system access).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Check that `path` resolves inside `root` (canonical) and is a regular file; return its canonical path.
pub fn check(root: &Path, path: &Path) -> Result<PathBuf, Refused> {
    let link = std::fs::symlink_metadata(path).map_err(Refused::Io)?;
    let target_text = || std::fs::read_link(path).ok().map(|t| t.display().to_string());
    let canonical = match std::fs::canonicalize(path) {
        Ok(c) => c,
        Err(e) if link.file_type().is_symlink() && e.kind() == std::io::ErrorKind::NotFound => {
            // dangling: where would it point?
            let target = std::fs::read_link(path).map_err(Refused::Io)?;
            let parent = path
                .parent()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .unwrap_or_default();
            let resolved = lexical(&parent.join(&target));
            return Err(if resolved.starts_with(root) {
                Refused::Dangling {
                    target: target.display().to_string(),
                }
            } else {
                Refused::Outside {
                    target: Some(target.display().to_string()),
                }
            });
        }
        Err(e) => return Err(Refused::Io(e)),
    };
    if !canonical.starts_with(root) {
        return Err(Refused::Outside {
            target: if link.file_type().is_symlink() {
                target_text()
            } else {
                None
            },
        });
    }
    let meta = std::fs::metadata(&canonical).map_err(Refused::Io)?;
    if !meta.is_file() {
        return Err(Refused::NotRegular(describe(&meta.file_type())));
    }
    Ok(canonical)
}

/// Open `path` for reading after [`check`]; the open handle is checked to be a regular file too (the path could
/// have been swapped in between).
pub fn open_confined(root: &Path, path: &Path) -> Result<File, Refused> {
    let canonical = check(root, path)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        // never block on a FIFO swapped in after the check
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(&canonical).map_err(Refused::Io)?;
    let meta = file.metadata().map_err(Refused::Io)?;
    if !meta.is_file() {
        return Err(Refused::NotRegular(describe(&meta.file_type())));
    }
    Ok(file)
}

/// Read at most `limit` bytes of `path` (confined as in [`open_confined`]); more is [`Refused::TooLarge`].
pub fn read_confined(root: &Path, path: &Path, limit: u64) -> Result<Vec<u8>, Refused> {
    let file = open_confined(root, path)?;
    // the size the file claims refuses a large file before it is read; it is only a first guess otherwise (and
    // a cap on the buffer reserved): the limit holds on the bytes actually read
    let claimed = file.metadata().map(|m| m.len()).unwrap_or(0);
    if claimed > limit {
        return Err(Refused::TooLarge {
            limit,
            size: Some(claimed),
        });
    }
    let hint = claimed as usize;
    let mut bytes = Vec::with_capacity(hint + 1);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(Refused::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Refused::TooLarge { limit, size: None });
    }
    Ok(bytes)
}

/// A reader that stops with an error after `limit` bytes, remembering that it did.
pub struct Limited<R> {
    inner: R,
    left: u64,
    pub exceeded: bool,
}

impl<R: Read> Limited<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Limited {
            inner,
            left: limit,
            exceeded: false,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // one more byte means the limit is passed; end of file means it was met exactly
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.exceeded = true;
                    Err(std::io::Error::other("size limit exceeded"))
                }
            };
        }
        let n = (buf.len() as u64).min(self.left) as usize;
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_reader_stops_after_the_limit() {
        let data = [7u8; 100];
        let mut r = Limited::new(&data[..], 100);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_ok());
        assert!(!r.exceeded);
        let mut r = Limited::new(&data[..], 99);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        assert!(r.exceeded);
        assert_eq!(out.len(), 99);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_devices_and_dangling_links_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(tmp.path().join("outside.yaml"), "secret").unwrap();
        std::fs::write(root.join("in.yaml"), "a: 1").unwrap();
        std::os::unix::fs::symlink("../outside.yaml", root.join("out.yaml")).unwrap();
        std::os::unix::fs::symlink("in.yaml", root.join("alias.yaml")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("zero.yaml")).unwrap();
        std::os::unix::fs::symlink("missing.yaml", root.join("dangling.yaml")).unwrap();
        std::os::unix::fs::symlink("../../nowhere.yaml", root.join("dangling-out.yaml")).unwrap();
        let root = std::fs::canonicalize(&root).unwrap();
        assert!(read_confined(&root, &root.join("in.yaml"), 10).is_ok());
        assert!(read_confined(&root, &root.join("alias.yaml"), 10).is_ok());
        assert!(matches!(
            read_confined(&root, &root.join("in.yaml"), 3),
            Err(Refused::TooLarge { .. })
        ));
        assert!(matches!(
            read_confined(&root, &root.join("out.yaml"), 10),
            Err(Refused::Outside { .. })
        ));
        assert!(matches!(
            read_confined(&root, &root.join("zero.yaml"), 10),
            Err(Refused::Outside { .. })
        ));
        assert!(matches!(
            read_confined(&root, &root.join("dangling.yaml"), 10),
            Err(Refused::Dangling { .. })
        ));
        assert!(matches!(
            read_confined(&root, &root.join("dangling-out.yaml"), 10),
            Err(Refused::Outside { .. })
        ));
        assert!(matches!(
            read_confined(&root, &root, 10),
            Err(Refused::NotRegular("a directory"))
        ));
    }
}
