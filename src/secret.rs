//! Secrets (tokens, app secrets, proofs, authorization codes) that must never be printed.

//!
//! Redaction is one mechanism with two halves: a [`Secret`] never prints itself, and every `Secret` created or
//! deserialised in this process is *registered*, so the logging writer ([`RedactingMakeWriter`], installed by
//! [`init_logging`]) masks its clear text in every log line even when some code formats it by mistake (an
//! error body echoed by a server, a URL with a token in its query). [`scrub`] applies the same masking to any
//! text (error messages stored for `auth status`, audit entries).

use std::fmt;
use std::io;
use std::sync::RwLock;

use serde::{Deserialize, Deserializer, Serialize};

/// A secret string. `Debug` and `Display` mask it; read it with [`Secret::expose`] only where it goes on the wire.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl Secret {
    /// Wrap (and register for log redaction, see [`register`]).
    pub fn new(s: impl Into<String>) -> Secret {
        let s = s.into();
        register(&s);
        Secret(s)
    }
    /// The clear text: only for building a request or encrypting at rest.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Replace every occurrence of each secret in `text` by `****` (for error bodies echoed back by a server).
pub fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.0.len() >= 4 {
            out = out.replace(&s.0, "****");
        }
    }
    out
}

/// Secrets shorter than this are not registered (masking every "abc" in a log would hide everything and
/// protect nothing).
const MIN_REGISTERED_LEN: usize = 8;

static REGISTRY: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remember a secret value so that the logging writer and [`scrub`] mask it. [`Secret::new`] calls this.
pub fn register(s: &str) {
    if s.len() < MIN_REGISTERED_LEN {
        return;
    }
    let Ok(mut reg) = REGISTRY.write() else { return };
    if !reg.iter().any(|r| r == s) {
        reg.push(s.to_string());
        // Longest first, so that a secret containing another is masked whole.
        reg.sort_by_key(|r| std::cmp::Reverse(r.len()));
    }
}

/// Query / form parameters and JSON keys whose values are always secret, whatever their value.
const SENSITIVE_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "client_secret",
    "fb_exchange_token",
    "input_token",
    "appsecret_proof",
    "code_verifier",
    "id_token",
    "developer-token",
    "developer_token",
];

/// Mask every registered secret in `text`, then every value of a sensitive parameter (`access_token=…`,
/// `"refresh_token": "…"`, `Bearer …`) whatever it is. Use on any text that came from outside (error bodies,
/// URLs) before it is stored or shown.
pub fn scrub(text: &str) -> String {
    let mut out = text.to_string();
    if let Ok(reg) = REGISTRY.read() {
        for s in reg.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "****");
            }
        }
    }
    for key in SENSITIVE_KEYS {
        out = mask_after(&out, &format!("{key}="), &['&', ' ', '"', '\'', '\n', ',', '}', ')']);
        out = mask_json_value(&out, key);
    }
    // An authorization code only in a URL query (`code=` alone is too common a log field name).
    for marker in ["?code=", "&code="] {
        out = mask_after(&out, marker, &['&', ' ', '"', '\'', '\n', '#']);
    }
    for prefix in ["Bearer ", "bearer "] {
        out = mask_after(&out, prefix, &[' ', '"', '\'', '\n', ',', '}']);
    }
    mask_api_tokens(&out)
}

/// The daemon's API tokens (`adsctl_` + 43 URL-safe base64 characters, [`crate::apitoken`]), wherever they are.
/// Metric names share the prefix: only a run of exactly 43 with an upper-case letter or a digit is a token.
fn mask_api_tokens(text: &str) -> String {
    const PREFIX: &str = crate::apitoken::PREFIX;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(PREFIX) {
        let after = pos + PREFIX.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let run = &rest[..end];
        if run.len() == 43 && run.chars().any(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            out.push_str("****");
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Replace what follows each `marker` up to the first terminator by `****` (a parameter name must not be
/// the tail of a longer word: `auth_code=` is not `code=`).
fn mask_after(text: &str, marker: &str, terminators: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(marker) {
        let word_start = marker.starts_with(|c: char| c.is_ascii_alphanumeric());
        let boundary = !word_start
            || rest[..pos]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        let after = pos + marker.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        if !boundary {
            continue;
        }
        let end = rest.find(|c| terminators.contains(&c)).unwrap_or(rest.len());
        if end > 0 && &rest[..end] != "****" {
            out.push_str("****");
        } else {
            out.push_str(&rest[..end]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `"key": "value"` → `"key": "****"`.
fn mask_json_value(text: &str, key: &str) -> String {
    let quoted = format!("\"{key}\"");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(&quoted) {
        let after = pos + quoted.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let trimmed = rest.trim_start_matches([' ', ':']);
        let skipped = rest.len() - trimmed.len();
        if skipped == 0 || !rest[..skipped].contains(':') || !trimmed.starts_with('"') {
            continue;
        }
        let body = &trimmed[1..];
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else { continue };
        out.push_str(&rest[..skipped]);
        out.push_str("\"****\"");
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A [`tracing_subscriber::fmt::MakeWriter`] that scrubs each formatted log event (see [`scrub`]) before it
/// reaches the inner writer. Every event is buffered whole, so a secret is never split across writes.
pub struct RedactingMakeWriter<M>(pub M);

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for RedactingMakeWriter<M>
{
    type Writer = RedactingWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.0.make_writer(),
            buf: Vec::new(),
        }
    }
}

/// The writer of one event: buffers, scrubs and writes on flush / drop.
pub struct RedactingWriter<W: io::Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: io::Write> RedactingWriter<W> {
    fn emit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        let clean = scrub(&text);
        self.buf.clear();
        self.inner.write_all(clean.as_bytes())?;
        self.inner.flush()
    }
}

impl<W: io::Write> io::Write for RedactingWriter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        // Only whole lines are emitted early; the rest waits for the end of the event.
        Ok(())
    }
}

impl<W: io::Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.emit();
    }
}

/// Install the process-wide logger: stderr, redacting, level from `RUST_LOG` or else from `-v` / `--quiet`
/// (warn by default, `-v` info, `-vv` debug, `-vvv` trace), and the trace export when the environment configures
/// one (`crate::otel`). Does nothing if a logger is installed already.
pub fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::filter::FilterExt;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let default = if quiet {
        "error"
    } else {
        match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let log = tracing_subscriber::fmt::layer()
        .with_writer(RedactingMakeWriter(io::stderr))
        .with_ansi(false)
        .with_filter(filter.and(crate::otel::not_for_logs()));
    // The log level filters the log lines only: the trace export (when configured) takes adsctl's spans at info
    // whatever the level.
    let _ = tracing_subscriber::registry()
        .with(crate::otel::layer(false))
        .with(log)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_tokens_are_masked_and_metric_names_are_not() {
        let t = "adsctl_Q2x7v-9kZp_0aLmN3bVcXr8sT1uYw4eHg6iJoKqRfD5";
        assert_eq!(t.len(), "adsctl_".len() + 43);
        assert_eq!(scrub(&format!("token {t} used")), "token adsctl_**** used");
        let m = "adsctl_last_successful_sync_timestamp_seconds adsctl_reconciles_total";
        assert_eq!(scrub(m), m);
    }

    #[test]
    fn registered_secrets_are_scrubbed() {
        let s = Secret::new("tok-registered-0123456789");
        let text = format!(
            "GET /x?a=1&access_token=zzzzzzzzzzzz&b=2 body {} \"refresh_token\": \"r-abc\"",
            s.expose()
        );
        let clean = scrub(&text);
        assert!(!clean.contains("tok-registered"), "{clean}");
        assert!(!clean.contains("zzzzzzzzzzzz"), "{clean}");
        assert!(!clean.contains("r-abc"), "{clean}");
        assert!(clean.contains("a=1&access_token=****&b=2"), "{clean}");
        assert_eq!(scrub("auth_code=visible"), "auth_code=visible");
        assert_eq!(scrub("error code=190"), "error code=190");
        assert_eq!(
            scrub("GET http://127.0.0.1:1/callback?state=s&code=4/abc#_=_"),
            "GET http://127.0.0.1:1/callback?state=s&code=****#_=_"
        );
        assert_eq!(scrub("Authorization: Bearer abc.def"), "Authorization: Bearer ****");
    }

    #[test]
    fn deserialised_secrets_are_registered() {
        let s: Secret = serde_json::from_str("\"deserialised-secret-value\"").unwrap();
        assert_eq!(scrub("x deserialised-secret-value y"), "x **** y");
        assert_eq!(s.expose(), "deserialised-secret-value");
    }

    /// A buffer shared with the subscriber.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_events_that_format_a_secret_by_mistake_are_masked() {
        let buf = Buf::default();
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(RedactingMakeWriter(move || sink.clone()))
            .with_max_level(tracing::Level::TRACE)
            .finish();
        let token = Secret::new("ya29.logged-by-mistake-0123");
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(
                url = "https://x/y?access_token=abcdefgh&z=1",
                "calling with {}",
                token.expose()
            );
            tracing::info!(token = ?token, "debug-formatted");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(out.contains("calling with ****"), "{out}");
        assert!(!out.contains("logged-by-mistake"), "{out}");
        assert!(!out.contains("abcdefgh"), "{out}");
        assert!(out.contains("Secret(****)"), "{out}");
    }

    #[test]
    fn writer_scrubs_whole_events() {
        use std::io::Write;
        let _s = Secret::new("writer-secret-abcdef");
        let mut out = Vec::new();
        {
            let mut w = RedactingWriter {
                inner: &mut out,
                buf: Vec::new(),
            };
            w.write_all(b"start writer-sec").unwrap();
            w.write_all(b"ret-abcdef end\n").unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "start **** end\n");
    }

    #[test]
    fn never_prints() {
        let s = Secret::new("ya29.very-secret");
        assert!(!format!("{s} {s:?}").contains("very-secret"));
        assert_eq!(redact("token ya29.very-secret bad", &[&s]), "token **** bad");
    }
}
