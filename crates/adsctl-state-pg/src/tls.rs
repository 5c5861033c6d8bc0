//! TLS to the database. The URL's `sslmode` decides, as for libpq, with one difference that errs on the safe side:
//! a mode that asks for TLS always checks the server's certificate.
//!
//! | `sslmode` | connection |
//! | --- | --- |
//! | absent, `disable`, `prefer` | not encrypted (`prefer` does not try TLS: a TLS that silently falls back would not be worth having) |
//! | `require`, `verify-ca`, `verify-full` | TLS or no connection; the certificate checked (chain and host name) against the built-in roots, or against `sslrootcert=FILE` (PEM) |
//!
//! The driver knows neither `verify-*` nor `sslrootcert`: both are taken out of the URL before it parses it.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// How to connect, from the URL.
pub(crate) struct Tls {
    /// The URL without the parameters the driver does not know.
    pub(crate) url: String,
    /// `Some`: TLS required, with this client configuration.
    pub(crate) config: Option<rustls::ClientConfig>,
}

/// Why the URL's TLS parameters cannot be used (never holds the URL).
#[derive(Debug)]
pub(crate) enum TlsError {
    /// `sslmode` is none of the known values.
    Mode,
    /// `sslrootcert` cannot be read or holds no certificate.
    RootCert {
        path: PathBuf,
        message: String,
    },
    Config(String),
}

pub(crate) fn of_url(url: &str) -> Result<Tls, TlsError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut mode = None;
    let mut root = None;
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "sslmode" => mode = Some(v.to_string()),
            "sslrootcert" => root = Some(percent_decode(v)),
            _ => kept.push(kv),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let required = match mode.as_deref() {
        None | Some("disable") | Some("prefer") | Some("allow") => false,
        Some("require") | Some("verify-ca") | Some("verify-full") => true,
        Some(_) => return Err(TlsError::Mode),
    };
    if !required {
        return Ok(Tls { url, config: None });
    }
    let mut roots = rustls::RootCertStore::empty();
    match root.filter(|r| r != "system") {
        Some(path) => {
            let path = PathBuf::from(path);
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| TlsError::RootCert {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            if certs.is_empty() {
                return Err(TlsError::RootCert {
                    path,
                    message: "no PEM certificate in it".into(),
                });
            }
            for c in certs {
                roots.add(c).map_err(|e| TlsError::RootCert {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Tls {
        url,
        config: Some(config),
    })
}

/// `%XX` escapes of a query value (a path with spaces or `&`).
fn percent_decode(v: &str) -> String {
    url::form_urlencoded::parse(format!("v={v}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_gets_the_url_without_the_tls_parameters_and_tls_only_when_required() {
        let t = of_url("postgres://a@h/db?sslmode=require&application_name=x").unwrap();
        assert_eq!(t.url, "postgres://a@h/db?application_name=x");
        assert!(t.config.is_some());
        let t = of_url("postgres://a@h/db?sslmode=prefer").unwrap();
        assert_eq!(t.url, "postgres://a@h/db");
        assert!(t.config.is_none());
        assert!(of_url("postgres://a@h/db").unwrap().config.is_none());
        assert!(matches!(
            of_url("postgres://a@h/db?sslmode=always"),
            Err(TlsError::Mode)
        ));
        assert!(matches!(
            of_url("postgres://a@h/db?sslmode=verify-full&sslrootcert=/no/such/file.pem"),
            Err(TlsError::RootCert { .. })
        ));
    }
}
