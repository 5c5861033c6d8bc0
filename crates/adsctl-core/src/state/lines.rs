//! Files of one header and many records, one JSON document per line (the cached live state of an account and
//! the id map snapshots).
//!
//! One document per line lets a reader decode record by record from a small buffer instead of holding the whole
//! file (≈ 25 MB at 50k objects) beside what it decodes, and size its vector exactly from the header's count.
//! JSON never holds a raw line break inside a document, so lines split records unambiguously.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The first line of every such file.
#[derive(Serialize, Deserialize)]
struct Header<H> {
    /// How many record lines follow.
    count: usize,
    #[serde(flatten)]
    header: H,
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {message}")]
    Format { line: usize, message: String },
}

/// Write `header` and `records` to `path` so that a reader sees the old file or the new one, never a part: a
/// temporary file beside it, synced, then renamed over it.
pub fn write<H: Serialize, T: Serialize>(path: &Path, header: H, records: &[T]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let file = std::fs::File::create(&tmp)?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    fn line<V: Serialize>(out: &mut impl Write, v: &V) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, v).map_err(std::io::Error::other)?;
        out.write_all(b"\n")
    }
    line(
        &mut out,
        &Header {
            count: records.len(),
            header,
        },
    )?;
    for r in records {
        line(&mut out, r)?;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// Read a file written by [`write`]; `Ok(None)` when there is none.
pub fn read<H, T>(path: &Path) -> Result<Option<(H, Vec<T>)>, ReadError>
where
    H: DeserializeOwned,
    T: DeserializeOwned,
{
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut input = std::io::BufReader::with_capacity(256 * 1024, file);
    let mut buf = Vec::new();
    let mut line_no = 0;
    let mut next_line = |buf: &mut Vec<u8>| -> Result<bool, ReadError> {
        buf.clear();
        line_no += 1;
        Ok(input.read_until(b'\n', buf)? > 0)
    };
    let format = |line: usize, e: serde_json::Error| ReadError::Format {
        line,
        message: e.to_string(),
    };
    if !next_line(&mut buf)? {
        return Err(ReadError::Format {
            line: 1,
            message: "the file is empty".into(),
        });
    }
    let head: Header<H> = serde_json::from_slice(&buf).map_err(|e| format(1, e))?;
    // the count only sizes the vector: a damaged count must not allocate without bound
    let mut records = Vec::with_capacity(head.count.min(1 << 20));
    for n in 0..head.count {
        let line = n + 2;
        if !next_line(&mut buf)? {
            return Err(ReadError::Format {
                line,
                message: format!("the file ends after {n} of {} records", head.count),
            });
        }
        records.push(serde_json::from_slice(&buf).map_err(|e| format(line, e))?);
    }
    if next_line(&mut buf)? && !buf.iter().all(u8::is_ascii_whitespace) {
        return Err(ReadError::Format {
            line: head.count + 2,
            message: format!("more than the {} records the header counts", head.count),
        });
    }
    Ok(Some((head.header, records)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Head {
        marker: String,
    }

    #[test]
    fn round_trips_and_reports_damage_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        assert!(read::<Head, String>(&path).unwrap().is_none());
        let records = vec!["a\nb".to_string(), "c".into(), "d".into()];
        write(&path, Head { marker: "m".into() }, &records).unwrap();
        let (head, got) = read::<Head, String>(&path).unwrap().unwrap();
        assert_eq!(head, Head { marker: "m".into() });
        assert_eq!(got, records);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");

        // cut short
        let cut: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, cut).unwrap();
        let e = read::<Head, String>(&path).unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("ends after 2 of 3"), "{e}");
        // a damaged record
        std::fs::write(&path, text.replace("\"c\"", "\"c")).unwrap();
        let e = read::<Head, String>(&path).unwrap_err().to_string();
        assert!(e.starts_with("line 3:"), "{e}");
        // too many
        std::fs::write(&path, format!("{text}\"e\"\n")).unwrap();
        assert!(read::<Head, String>(&path).is_err());
        std::fs::write(&path, "").unwrap();
        assert!(read::<Head, String>(&path).is_err());
    }
}
