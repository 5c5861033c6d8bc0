//! OAuth 1.0a HMAC-SHA1, as WIRE-NOTES § Auth describes it: RFC 3986 percent-encoding, parameter collection
//! (query + form body + `oauth_*` without `oauth_signature`/`realm`; never a JSON body), the base string and the
//! key `enc(consumer_secret)&enc(token_secret)`. HMAC-SHA1 itself comes from the `hmac` and `sha1` crates.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// RFC 3986 percent-encoding: A-Z a-z 0-9 `-._~` stay, every other byte becomes `%XX` (upper-case hex).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Strict percent-decoding (no '+' rule) of one Authorization header value.
pub fn pct_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// HMAC-SHA1 (RFC 2104): the signature's MAC, before base64.
pub fn hmac_sha1(key: &[u8], msg: &[u8]) -> [u8; 20] {
    // HMAC takes a key of any length (a long one is hashed first): new_from_slice cannot fail
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// The signature base string: METHOD & enc(base_url) & enc(sorted, encoded parameter string).
pub fn base_string(method: &str, base_url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    pairs.sort();
    let ps = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!("{}&{}&{}", method.to_ascii_uppercase(), enc(base_url), enc(&ps))
}

/// base64(HMAC-SHA1(enc(consumer_secret)&enc(token_secret), base string)).
pub fn signature(
    method: &str,
    base_url: &str,
    params: &[(String, String)],
    consumer_secret: &str,
    token_secret: &str,
) -> String {
    let key = format!("{}&{}", enc(consumer_secret), enc(token_secret));
    let mac = hmac_sha1(key.as_bytes(), base_string(method, base_url, params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac)
}

/// The `oauth_*` pairs of an `Authorization: OAuth k="v", …` header (decoded), or None when it is not one.
pub fn parse_header(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.trim().strip_prefix("OAuth ")?;
    let mut out = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=')?;
        let v = v.trim();
        let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'))?;
        out.push((pct_decode(k.trim())?, pct_decode(v)?));
    }
    Some(out)
}

/// The base URL of a received request: lower-case scheme and host, no default port, the path.
pub fn base_url(scheme: &str, host: &str, path: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let mut host = host.to_ascii_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    if let Some(h) = host.strip_suffix(default) {
        host = h.to_string();
    }
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    const CS: &str = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
    const TS: &str = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";

    fn oauth(nonce: &str, ts: &str) -> Vec<(String, String)> {
        vec![
            p("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
            p("oauth_nonce", nonce),
            p("oauth_signature_method", "HMAC-SHA1"),
            p("oauth_timestamp", ts),
            p("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
            p("oauth_version", "1.0"),
        ]
    }

    #[test]
    fn hmac_sha1_known_answers() {
        // RFC 2202 test cases 2 and 6 (a key longer than the 64-byte block is hashed first)
        assert_eq!(
            hex::encode(hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex::encode(hmac_sha1(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }

    #[test]
    fn encoding_is_rfc3986() {
        assert_eq!(enc("a b,c:d*e!f~g+"), "a%20b%2Cc%3Ad%2Ae%21f~g%2B");
        assert_eq!(enc("é"), "%C3%A9");
    }

    #[test]
    fn docs_vector() {
        let mut params = vec![
            p("include_entities", "true"),
            p("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
        ];
        params.extend(oauth("kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", "1318622958"));
        let url = "https://api.x.com/1.1/statuses/update.json";
        assert_eq!(signature("POST", url, &params, CS, TS), "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=");
        let old = "https://api.twitter.com/1.1/statuses/update.json";
        assert_eq!(signature("POST", old, &params, CS, TS), "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
        assert_eq!(base_string("post", url, &params).matches('&').count(), 2);
    }

    #[test]
    fn ads_shaped_vector() {
        let mut params = vec![
            p("entity", "LINE_ITEM"),
            p("entity_ids", "8u94t,8v7jo"),
            p("start_time", "2026-05-19T07:00:00Z"),
            p("end_time", "2026-05-26T07:00:00Z"),
            p("granularity", "DAY"),
            p("placement", "ALL_ON_TWITTER"),
            p("metric_groups", "ENGAGEMENT,BILLING"),
        ];
        params.extend(oauth("adsctlnonce0001", "1780000000"));
        let url = base_url("HTTPS", "Ads-API.x.com:443", "/12/stats/accounts/18ce54d4x5t");
        assert_eq!(url, "https://ads-api.x.com/12/stats/accounts/18ce54d4x5t");
        assert_eq!(signature("GET", &url, &params, CS, TS), "sZ73lX0Arl6YiMfp29vkdN9XbtY=");
        assert!(base_string("GET", &url, &params).contains("%252C"));
    }

    #[test]
    fn header_parsing() {
        let h = r#"OAuth oauth_consumer_key="k", oauth_signature="Ls93hJiZbQ3akF3HF3x1Bz8%2FzU4%3D""#;
        let pairs = parse_header(h).unwrap();
        assert_eq!(pairs[1], p("oauth_signature", "Ls93hJiZbQ3akF3HF3x1Bz8/zU4="));
        assert!(parse_header("Bearer x").is_none());
    }
}
