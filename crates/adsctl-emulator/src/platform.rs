//! The seam between the emulator core and one emulated platform.

use std::time::Duration;

use axum::response::Response;

/// A fault the core decided to inject into one request. The core handles latency, timeouts, connection resets
/// and lost responses itself; the platform renders the error bodies and implements read lag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Delay the response.
    Latency(Duration),
    /// A 5xx with the platform's real body (Google 503 UNAVAILABLE / 500 INTERNAL; Meta 500 with
    /// `is_transient: true`; TikTok answers HTTP 200 with its system error, code 50000).
    ServerError,
    /// The platform's rate-limit signal (Google 429 RESOURCE_EXHAUSTED with `retryDelay`; Meta 400 code 17/80004
    /// with usage headers at 100 %; TikTok HTTP 200 code 40100, no headers).
    RateLimit,
    /// The request hangs past the client's timeout.
    Timeout,
    /// The connection is dropped before any response.
    ConnectionReset,
    /// The write is committed, then the response is lost (connection dropped).
    LostResponse,
    /// Reads in this request see the state from before the most recent writes.
    ReadLag,
}

/// One emulated platform. Implementations keep their own state behind interior mutability.
pub trait PlatformEmulator: Send + Sync + 'static {
    /// `google_ads`, `meta`, `tiktok`, `linkedin`, `x`, `mailchimp`, `hubspot` or `salesforce`: used in admin paths
    /// (`/_emulator/{name}/…`) and counters.
    fn name(&self) -> &'static str;
    /// The platform's API routes (absolute paths such as `/v25/customers/{id}/googleAds:mutate`).
    fn router(&self) -> axum::Router;
    /// The platform's error response for an injected fault.
    fn fault_response(&self, fault: FaultKind) -> Response;
    /// The whole state as JSON (admin dump, persistence).
    fn dump(&self) -> serde_json::Value;
    /// Replace the whole state from a dump.
    fn restore(&self, dump: serde_json::Value) -> Result<(), String>;
    /// Forget everything.
    fn reset(&self);
}

/// Well-known credentials the emulator accepts out of the box (documented; not secrets of any real account).
/// The quickstart and the tests use them; a `--seed` file may add others.
pub mod defaults {
    pub const GOOGLE_CLIENT_ID: &str = "emulator-client-id.apps.googleusercontent.com";
    pub const GOOGLE_CLIENT_SECRET: &str = "emulator-client-secret";
    pub const GOOGLE_DEVELOPER_TOKEN: &str = "emulator-developer-token";
    pub const GOOGLE_REFRESH_TOKEN: &str = "1//emulator-refresh-token";
    pub const META_APP_ID: &str = "100000000000001";
    pub const META_APP_SECRET: &str = "emulator-app-secret";
    pub const META_ACCESS_TOKEN: &str = "EAAemulator-long-lived-access-token";
    /// The TikTok developer app (`app_id`, `secret` of `/oauth2/access_token/`).
    pub const TIKTOK_APP_ID: &str = "7100000000000000001";
    pub const TIKTOK_APP_SECRET: &str = "emulator-tiktok-app-secret";
    /// A long-lived advertiser token (`Access-Token` header): never expires, reaches every advertiser (those a
    /// caller names are created on first use unless `auto_create_accounts` is off).
    pub const TIKTOK_ACCESS_TOKEN: &str = "emulator-tiktok-long-lived-access-token";
    /// The advertiser an authorization covers when no advertiser exists yet.
    pub const TIKTOK_ADVERTISER_ID: &str = "7000000000000000001";
    /// The LinkedIn developer app (`client_id`, `client_secret` of `/oauth/v2/accessToken`).
    pub const LINKEDIN_CLIENT_ID: &str = "77emulatorlinkedin";
    pub const LINKEDIN_CLIENT_SECRET: &str = "emulator-linkedin-client-secret";
    /// A long-lived member access token (`Authorization: Bearer …`): never expires, carries every scope
    /// (r_ads rw_ads r_ads_reporting rw_dmp_segments).
    pub const LINKEDIN_ACCESS_TOKEN: &str = "AQVemulator-linkedin-access-token";
    /// A refresh token of the well-known client; its 365 days count from the emulator state's creation.
    pub const LINKEDIN_REFRESH_TOKEN: &str = "AQWemulator-linkedin-refresh-token";
    /// The seeded ad account (urn:li:sponsoredAccount:510000001), in USD.
    pub const LINKEDIN_AD_ACCOUNT_ID: &str = "510000001";
    pub const LINKEDIN_CURRENCY: &str = "USD";
    /// The emulated member's role on seeded and auto-created accounts.
    pub const LINKEDIN_MEMBER_ROLE: &str = "ACCOUNT_MANAGER";
    /// The emulated member (createdBy, changeAuditStamps actors).
    pub const LINKEDIN_MEMBER_URN: &str = "urn:li:person:emulatorMember1";
    /// The organization seeded accounts reference.
    pub const LINKEDIN_ORGANIZATION: &str = "urn:li:organization:1000001";
    /// The X Ads consumer (app) of OAuth 1.0a: `oauth_consumer_key` and the first half of the signing key.
    pub const X_CONSUMER_KEY: &str = "emulatorXconsumerKey";
    pub const X_CONSUMER_SECRET: &str = "emulator-x-consumer-secret";
    /// The X user's access token (`oauth_token`) and token secret: never expire, reach every account.
    pub const X_ACCESS_TOKEN: &str = "1000000000000000001-emulatorXaccessToken";
    pub const X_TOKEN_SECRET: &str = "emulator-x-token-secret";
    /// The seeded ads account (base-36, the pack's example id) and its time zone.
    pub const X_ACCOUNT_ID: &str = "18ce54d4x5t";
    pub const X_ACCOUNT_TIMEZONE: &str = "America/Los_Angeles";
    /// Its funding instrument (a CREDIT_CARD in USD).
    pub const X_FUNDING_INSTRUMENT_ID: &str = "lygyi";
    pub const X_CURRENCY: &str = "USD";
    /// The emulated user's id (authenticated_user_access).
    pub const X_USER_ID: &str = "1000000000000000001";
    /// The Mailchimp emulator's data center: API keys end in `-us6`, `/oauth2/metadata` answers `"dc": "us6"`.
    pub const MAILCHIMP_DC: &str = "us6";
    /// A Mailchimp API key of the well-known account (the pack's example form: 32 hex digits, `-`, the dc).
    pub const MAILCHIMP_API_KEY: &str = "0123456789abcdef0123456789abcdef-us6";
    /// An OAuth access token of the well-known account (32 hex digits, no dc suffix; never expires).
    pub const MAILCHIMP_OAUTH_TOKEN: &str = "5ad0be5e0aa7c0de5ad0be5e0aa7c0de";
    /// The registered OAuth app (`client_id`, `client_secret` of `/oauth2/token`).
    pub const MAILCHIMP_CLIENT_ID: &str = "100000000001";
    pub const MAILCHIMP_CLIENT_SECRET: &str = "emulator-mailchimp-client-secret";
    /// The well-known account (`account_id` of `GET /3.0/`, `user_id` of the metadata) and its login.
    pub const MAILCHIMP_ACCOUNT_ID: &str = "8d3a3db4d97663a9074efcc16";
    pub const MAILCHIMP_ACCOUNT_NAME: &str = "Emulator Mailchimp account";
    /// The seeded audience (10 lower-case hex digits, the pack's observed example).
    pub const MAILCHIMP_LIST_ID: &str = "57afe96172";
    /// The well-known HubSpot portal (hub id; HubSpot's hub ids are int32).
    pub const HUBSPOT_PORTAL_ID: &str = "20000001";
    pub const HUBSPOT_HUB_DOMAIN: &str = "emulator-portal.hubspot.test";
    /// A legacy private-app token of the well-known portal (`Authorization: Bearer …`): never expires, every scope.
    pub const HUBSPOT_PRIVATE_APP_TOKEN: &str = "pat-na1-00000000-0000-4000-8000-0000000000e1";
    /// The registered OAuth app (`client_id`, `client_secret` of `/oauth/v1/token` and `/oauth/2026-09/token`).
    pub const HUBSPOT_CLIENT_ID: &str = "00000000-0000-4000-8000-00000000c1d1";
    pub const HUBSPOT_CLIENT_SECRET: &str = "00000000-0000-4000-8000-0000005ec4e7";
    /// Its app id (`app_id` of the token metadata).
    pub const HUBSPOT_APP_ID: i64 = 3000001;
    /// A refresh token of the well-known app in the well-known portal, with every scope adsctl needs.
    pub const HUBSPOT_REFRESH_TOKEN: &str = "na1-0000-0000-4000-8000-00000000ee01";
    /// The emulated user (`user_id` of tokens; `hs_created_by_user_id`).
    pub const HUBSPOT_USER_ID: i64 = 4000001;
    pub const HUBSPOT_USER: &str = "emulator-user@hubspot.test";
    /// The Salesforce emulator's org (18-character id), its integration user (Marketing User, API Enabled,
    /// pre-authorized for JWT bearer) and a second user of the same org without the Marketing User flag.
    pub const SALESFORCE_ORG_ID: &str = "00D5g00000EMu01EAD";
    pub const SALESFORCE_USER_ID: &str = "0055g00000EMu01AAD";
    pub const SALESFORCE_USERNAME: &str = "integration@adsctl-emulator.example";
    pub const SALESFORCE_PLAIN_USER_ID: &str = "0055g00000EMu02AAD";
    pub const SALESFORCE_PLAIN_USERNAME: &str = "viewer@adsctl-emulator.example";
    /// The External Client App (consumer key and secret of `/services/oauth2/token`).
    pub const SALESFORCE_CLIENT_ID: &str = "3MVG9emulatorSalesforceConsumerKey";
    pub const SALESFORCE_CLIENT_SECRET: &str = "emulator-salesforce-consumer-secret";
    /// A refresh token of the integration user for the well-known app (never expires, not rotated by default).
    pub const SALESFORCE_REFRESH_TOKEN: &str = "5Aep861emulatorSalesforceRefreshToken";
    /// A JWT `aud` the token endpoint accepts besides the emulator's own login URL (`http://` + Host).
    pub const SALESFORCE_LOGIN_URL: &str = "https://login.salesforce.com";
    /// The key pair of the well-known app's JWT bearer certificate: the emulator holds the public key (SPKI PEM);
    /// the private key (PKCS#8 PEM) is published so tests and the quickstart can sign assertions. A test key only.
    pub const SALESFORCE_JWT_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApsMSabIgYyfkZ2O/da2h\n/rebpFy/nPAz1FCyNGHTdZr4C8y0+/IoTMYDc0RqQqTeJRjgKB7KvdsHOxmSNji/\nCEhhVj+QUdedlDVb4Mc7R/Ua4Cdpd6y85uwul8LRRyqEdFvVu6V739jdn1ptUCwk\nty1WbuZhai/INIaQfrNvjiMbKSaeFIcUSHybWZ9FKdyGTFBimZzoBKYQeGcVjrd7\ns79b4ydKmdq+6wJT8nTLYd2FDsjCgH3TovxL8Uo+n6nGroSotNLO+tACsfDsuhGw\nJwMiusT+rCairOqYPcgnyBXuZYsPmvWSx/8OefcyMYtPKvL7WiAn/biwgJVLdG+l\n7QIDAQAB\n-----END PUBLIC KEY-----";
    pub const SALESFORCE_JWT_PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCmwxJpsiBjJ+Rn\nY791raH+t5ukXL+c8DPUULI0YdN1mvgLzLT78ihMxgNzRGpCpN4lGOAoHsq92wc7\nGZI2OL8ISGFWP5BR152UNVvgxztH9RrgJ2l3rLzm7C6XwtFHKoR0W9W7pXvf2N2f\nWm1QLCS3LVZu5mFqL8g0hpB+s2+OIxspJp4UhxRIfJtZn0Up3IZMUGKZnOgEphB4\nZxWOt3uzv1vjJ0qZ2r7rAlPydMth3YUOyMKAfdOi/EvxSj6fqcauhKi00s760AKx\n8Oy6EbAnAyK6xP6sJqKs6pg9yCfIFe5liw+a9ZLH/w559zIxi08q8vtaICf9uLCA\nlUt0b6XtAgMBAAECggEAFYj+9XnMj2l9KDHcLXb3AsUUuyDEGOD3HH2wSa3xaBBT\nZHiyzY9rz2BJ3UaSP1l5m4pPFjdFwMdKc4IdnNVurAPm2AO84CjLP3K1kv0/hU8c\ngaJtTwhWW67X5H7C1mEh+kHKw+D+sn1Xv2am07HjqukWrpsfLN6PSOMwwT/sUcs2\nrpwyoLxYY9QYHUt7/G/t2zwpi9EcptvWtUJX5VCu2/+nlF0sTXTPLDHH3LTnx1bW\nhc7iW8p0bh917I7snyZikPkWq7IFJiHO4JJvivzd1zVdqC0oGyhSyOizn+4HmN5p\nR+rfK/KXHn2wiG4KUZcQYkJu1jHd1oxWegAOmL0p+QKBgQDjrv3lc1k822YotDRD\nTxuwP29AdIsPwBVeQjpRqYsQyXqWJta7+gMQ4xCppeWFDh4YNlzYbVcHJZi+U2fl\nLGNiuyyGuMHl45F6UyGxAMAwGgd/lWYdRsVQG03S3CbFnCYzWqjt6Ut6mQeEPWYC\nbeMBMMeYEOZjgm3g3O1B26pvFQKBgQC7gHRR6HAHYTc1Z22s/MM7ZIf/dULVRD2G\nrHHVMzg5cDVQJt9LXuNf3nWuypTmv/U9xkCrT8R6Jrce4G2AeeBg7hV7yosqC3Dt\nIakQWZemyBQPNQuB2rsnkEoX7tNM1Z1f8H6Ysl/56t5P5C3T/oJhpN/ctuhp0nSP\njDpcf63ReQKBgQDTG8gy3dcaRFve1ee3mTwVGVwwKV9fRT0K3uFwIoHdGNNfMbfd\nJ518JO2oPzgnPMXOsWk5C3isGcIchv1IUvX7740DhX/ThkO3ZilRE18fuqLFO2Mp\nNhtxgT+Riasxgu0wpJkJr0za6dU8Wimhiv32dqI6b0EPdzomSvJ6JBFNWQKBgAm9\n4c1Do1Zu0Zx/tC4Rr98NGRfHsuI7umqd2Qg3sgsh7lMswds7odqgR0L+mX/np0k/\nXKrJ6S5jho4fIPFU47iFhi45VsOndoWLgyorTXrH2Gr12ZQ0lha3I3Jc4TOTwapz\nZ1BtrBjjAAvskgj6pzGFjG/+PNMKsS2oHnwh0hkZAoGATJIwTpuCVc9Lt0SMwFE+\nXMazlEd39TOAvfJWeS+hdL0+IUGFVAkHa50xiogIbjJ6+lYyLCGXE4VfrZe1LUbH\npivYTru/xopo96C6NsEkUrl0AOmvplnQUEv3WuMsQypCFSp6U5ZsPdfnMuGmNDB/\nbJwws7x2P/CyiBNn7r1fdCI=\n-----END PRIVATE KEY-----";
}
