//! The platform registry: every ad platform adsctl speaks to is one home below this module, from its YAML to
//! its wire, and the rest of adsctl learns what a platform offers only through [`Home`].
//!
//! A home (`google_ads/`, `meta/`) holds the platform's YAML rules and lowering, its field table, its connector
//! (client, mapping, read, apply, rate limits, errors), its part of auth and import, and its metrics mapping.
//! `memory/` is the offline sandbox backend (`ADSCTL_BACKEND=memory:FILE`): it serves accounts of any registered
//! platform with that platform's capabilities, from a JSON file.
//!
//! Adding a platform is a new folder here and one line in [`HOMES`]; `docs/adding-a-platform.md` lists what
//! else it touches today and the tests it must pass.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::connectors::{Capabilities, Connector, ConnectorError};
use crate::model::{Account, Kind, Platform};
use crate::spec::lower::Lower;
use crate::spec::types::AccountSpec;
use crate::spec::Spanned;

pub mod google_ads;
pub mod hubspot;
pub mod linkedin;
pub mod mailchimp;
pub mod memory;
pub mod meta;
pub mod salesforce;
pub mod shared;
pub mod sources;
pub mod tiktok;
pub mod x;

use memory::MemoryConnector;

/// What an account's id is checked and spelt as, from its `adsctl.yaml` entry.
pub struct AccountIds {
    /// The id the platform knows the account by (`1234567890`, `act_1234`).
    pub platform_id: String,
    /// Google Ads: the manager account to act through.
    pub login_customer_id: Option<String>,
}

/// One platform, as the rest of adsctl sees it. Implemented once per home; looked up with [`home`].
pub trait Home: Send + Sync + 'static {
    /// The `platform:` value in `adsctl.yaml`.
    fn platform(&self) -> Platform;
    /// The platform's name in messages (`Google Ads`).
    fn display_name(&self) -> &'static str;

    // ------------------------------------------------------------------ spec

    /// The kinds of resource the platform has (`docs/resource-model.md`).
    fn kinds(&self) -> &'static [Kind];

    /// The `adsctl.yaml` account keys only this platform has (`customer_id`, `login_customer_id`): written on
    /// another platform's account, they are an error naming this platform.
    fn account_fields(&self) -> &'static [&'static str];
    /// The campaign keys only this platform has (`channel`, `ad_sets`, `budget.lifetime`): written on another
    /// platform's campaign, they are an error naming this platform, with that platform's counterpart as the hint.
    fn campaign_fields(&self) -> &'static [&'static str];

    /// The `adsctl.yaml` key that holds the account's id (`customer_id`), for messages.
    fn account_id_field(&self) -> &'static str;
    /// The account entry's id, as written (with its span), for duplicate detection; `None` when absent.
    fn account_id_written<'s>(&self, spec: &'s AccountSpec) -> Option<&'s Spanned<String>> {
        spec.field(self.account_id_field())
    }
    /// How an account id is shown in a message about two accounts that are one (`("Google Ads customer",
    /// "customer id 123")`), given its canonical digits.
    fn describe_account_id(&self, digits: &str) -> (&'static str, String);
    /// Checks the account entry's platform-specific fields (reporting through `lower`) and returns its ids.
    fn account_ids(&self, lower: &mut Lower<'_>, name: &Spanned<String>, spec: &AccountSpec) -> Option<AccountIds>;
    /// Reads a campaign block of an account of this platform as the platform's own campaign type (its `yaml.rs`),
    /// reporting what is wrong through the spec's deserializer (`crate::spec::de::from_node`). Keys of other
    /// platforms' campaigns are already reported and left out of `node`.
    fn parse_campaign(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>>;
    /// The JSON Schema of that type (the resource files' schema offers each platform's campaign).
    fn campaign_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema;
    /// How many resources a campaign read by [`Home::parse_campaign`] lowers to at most (to size the project).
    fn campaign_size(&self, campaign: &dyn std::any::Any) -> usize;
    /// Rules over a whole campaign as written, before lowering (Google: negative keywords that block a keyword of
    /// their own ad group or campaign; names on one line). `location` renders a span as `file:line:column`.
    fn campaign_problems(
        &self,
        _campaign: &dyn std::any::Any,
        _location: &dyn Fn(crate::spec::yaml::Span) -> String,
    ) -> Vec<crate::spec::rules::Problem> {
        Vec::new()
    }
    /// Validates and lowers one campaign read by [`Home::parse_campaign`], with everything nested in it (the shared
    /// part through `Lower::campaign_resource`).
    fn lower_campaign(&self, lower: &mut Lower<'_>, account: &Account, campaign: Box<dyn std::any::Any + Send>);
    /// Reads a lookalike audience block (an entry of `lookalike_audiences:` in one of this platform's accounts)
    /// as this platform's own type; `None` when it has none (the loader reports the account) or the block is
    /// invalid (reported).
    fn parse_lookalike(&self, _node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }
    /// The JSON Schema of [`Home::parse_lookalike`]'s type, if the platform has lookalikes.
    fn lookalike_schema(&self, _gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        None
    }
    /// Validates and lowers one lookalike read by [`Home::parse_lookalike`] (the shared part through
    /// `Lower::lookalike_resource` and `Lower::lookalike_origin`).
    fn lower_lookalike(&self, _lower: &mut Lower<'_>, _account: &Account, _lookalike: Box<dyn std::any::Any + Send>) {}
    /// Reads a `lists:` entry (the settings of the audience an account of this platform is, with its merge
    /// fields) as this platform's own type; `None` when it has none (the loader reports the account) or the
    /// block is invalid (reported).
    fn parse_list(&self, _node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }
    /// The JSON Schema of [`Home::parse_list`]'s type, if the platform has one.
    fn list_schema(&self, _gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        None
    }
    /// Validates and lowers one entry read by [`Home::parse_list`].
    fn lower_list(&self, _lower: &mut Lower<'_>, _account: &Account, _list: Box<dyn std::any::Any + Send>) {}
    /// The account's `lists:` entry as `adsctl import` writes it, from the live `list` and `merge_field`
    /// objects of `resources` (`None` when the platform has none).
    fn import_list(&self, _resources: &[&crate::model::Resource], _account: &Account) -> Option<serde_yaml::Mapping> {
        None
    }
    /// Reads a `conversions:` block (its account is one of this platform's) as this platform's own type; `None`
    /// when it has none (the loader reports the account) or the block is invalid (reported).
    fn parse_conversion(&self, _node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }
    /// The JSON Schema of [`Home::parse_conversion`]'s type, if the platform has conversions.
    fn conversion_schema(&self, _gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        None
    }
    /// Validates and lowers one conversion read by [`Home::parse_conversion`] (the shared part through
    /// `Lower::conversion_resource`).
    fn lower_conversion(&self, _lower: &mut Lower<'_>, _account: &Account, _conversion: Box<dyn std::any::Any + Send>) {
    }
    /// Reads a `product_catalogs:` entry (its account is one of this platform's) as this platform's own type;
    /// `None` when it has none (the loader reports the account) or the entry is invalid (reported).
    fn parse_product_catalog(&self, _node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }
    /// The JSON Schema of [`Home::parse_product_catalog`]'s type, if the platform has catalogs.
    fn product_catalog_schema(&self, _gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        None
    }
    /// Validates and lowers one product catalog entry read by [`Home::parse_product_catalog`].
    fn lower_product_catalog(
        &self,
        _lower: &mut Lower<'_>,
        _account: &Account,
        _catalog: Box<dyn std::any::Any + Send>,
    ) {
    }
    /// The `product_catalogs:` entries `import` writes for these live resources of one account (none by default).
    fn import_product_catalogs(
        &self,
        _mine: &[crate::model::Resource],
        _account: &Account,
    ) -> Vec<serde_yaml::Mapping> {
        Vec::new()
    }
    /// The `split_tests:` entries `import` writes for these live resources of one account (none by default).
    fn import_split_tests(&self, _mine: &[crate::model::Resource], _account: &Account) -> Vec<serde_yaml::Value> {
        Vec::new()
    }
    /// Reads a `custom_conversions:` block (its account is one of this platform's) as this platform's own type;
    /// `None` when it has none (the loader reports the account) or the block is invalid (reported).
    fn parse_custom_conversion(&self, _node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }
    /// The JSON Schema of [`Home::parse_custom_conversion`]'s type, if the platform has custom conversions.
    fn custom_conversion_schema(&self, _gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        None
    }
    /// Validates and lowers one custom conversion read by [`Home::parse_custom_conversion`] (the shared part
    /// through `Lower::account_resource`).
    fn lower_custom_conversion(
        &self,
        _lower: &mut Lower<'_>,
        _account: &Account,
        _conversion: Box<dyn std::any::Any + Send>,
    ) {
    }
    /// Reads a `split_tests:` block (its account is one of this platform's) as this platform's own type; `None`
    /// when it has none (the loader reports the account) or the block is invalid (reported).
    fn parse_split_test(&self, _node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }
    /// The JSON Schema of [`Home::parse_split_test`]'s type, if the platform has A/B tests.
    fn split_test_schema(&self, _gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        None
    }
    /// Validates and lowers one A/B test read by [`Home::parse_split_test`], once every campaign is lowered (its
    /// cells name campaigns or ad sets).
    fn lower_split_test(&self, _lower: &mut Lower<'_>, _account: &Account, _test: Box<dyn std::any::Any + Send>) {}
    /// Reads an `experiments:` block (its account is one of this platform's) as this platform's own type; `None`
    /// when it has none (the loader reports the account) or the block is invalid (reported).
    fn parse_experiment(&self, _node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }
    /// The JSON Schema of [`Home::parse_experiment`]'s type, if the platform has experiments.
    fn experiment_schema(&self, _gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        None
    }
    /// Validates and lowers one experiment read by [`Home::parse_experiment`] (the shared part through
    /// `Lower::account_resource`), after the campaigns it may name.
    fn lower_experiment(&self, _lower: &mut Lower<'_>, _account: &Account, _experiment: Box<dyn std::any::Any + Send>) {
    }
    /// The account's `experiments:` entries as `adsctl import` writes them, from the live objects (`None` when
    /// the platform has none).
    fn import_experiment(
        &self,
        _experiment: &crate::model::Resource,
        _account: &Account,
    ) -> Option<serde_yaml::Mapping> {
        None
    }
    /// Whether `import` can write this live object back as YAML (a Google conversion action of a type only a
    /// linked product makes cannot be declared).
    fn importable(&self, _resource: &crate::model::Resource) -> bool {
        true
    }
    /// The fields of a customer-file audience only this platform has (`membership_life_span_days`): written for
    /// accounts of no such platform, they are an error.
    fn audience_fields(&self) -> &'static [&'static str];
    /// Checks and sets this platform's own fields of a customer-file audience on its resource in one account.
    fn lower_audience(
        &self,
        lower: &mut Lower<'_>,
        audience: &crate::spec::types::Audience,
        r: &mut crate::model::Resource,
    );
    /// The field names of each kind (`docs/resource-model.md`), for `ignore_changes`.
    fn managed_fields(&self, kind: Kind) -> &'static [&'static str];
    /// Whether `id` (trimmed) can be the platform id of an object of `kind` (an `id:` pin): `Err` holds the hint
    /// of the message. Most platforms' ids are decimal digits.
    fn object_id(&self, _kind: Kind, id: &str) -> Result<(), &'static str> {
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err("an id is the platform's numeric id, e.g. \"1234567890\"")
        }
    }
    /// The id the memory sandbox gives the `n`th object of `kind` it makes, spelt as this platform spells ids (so
    /// an `id:` pin accepts it): digits, far from the small ids tests put in by hand.
    fn sandbox_id(&self, _kind: Kind, n: u64) -> String {
        (9_000_000_000 + n).to_string()
    }
    /// The wire spelling of a `status:` value (`enabled`, `active`, `paused`).
    fn status_word(&self, status: crate::spec::types::Status) -> &'static str;
    /// An e-mail address of a customer file, normalised and hashed the way the platform matches it.
    fn hash_email(&self, email: &str) -> String;
    /// Whether an audience of this platform can be the source of other platforms' audiences
    /// (`Connector::source_emails`).
    fn audience_source(&self) -> bool {
        false
    }
    /// Whether the platform takes customer-file addresses as written (Mailchimp): its connector then finds each
    /// member's address in `connectors::clear`, filed by the spec loader (or by an audience source) under the
    /// hash [`Home::hash_email`] gives.
    fn takes_clear_addresses(&self) -> bool {
        false
    }
    /// The hint for a campaign field another platform uses: this platform's counterpart, if any.
    fn counterpart(&self, field: &str) -> Option<&'static str>;

    // ------------------------------------------------------------------ import

    /// A live campaign with everything under it, as the YAML `adsctl import` writes (one file per campaign).
    fn import_campaign(
        &self,
        campaign: &crate::model::Resource,
        tree: &crate::import::Tree<'_>,
        account: &Account,
    ) -> serde_yaml::Mapping;

    // ------------------------------------------------------------------ `--emulator`

    /// Seeds the emulator about to start with the account (`default_time_zone` when the YAML names none).
    fn seed_emulator(&self, config: &mut crate::emulator::EmulatorConfig, account: &Account, default_time_zone: &str);
    /// Seeds a running emulator with an account added since it started; false when it has no such platform.
    fn seed_running_emulator(
        &self,
        emulator: &crate::emulator::EmulatorHandle,
        account: &Account,
        default_time_zone: &str,
    ) -> bool;
    /// The connector for an account pointed at the emulator, with the emulator's well-known credentials.
    fn emulated_connector(&self, account: &Account) -> Result<Arc<dyn Connector>, ConnectorError>;
    /// What the auth stage reads for `name` under `--emulator`: `Some(Some(v))` the emulator's credential,
    /// `Some(None)` unset (a variable that could point auth anywhere but the emulator), `None` not this
    /// platform's variable.
    fn emulated_auth_env(&self, name: &str) -> Option<Option<&'static str>>;

    // ------------------------------------------------------------------ credentials

    /// How the platform's credentials are obtained, stored, refreshed and proved (its `auth.rs`); `None` for a
    /// platform that needs none.
    fn auth(&self) -> Option<&'static dyn crate::auth::PlatformAuth> {
        None
    }

    // ------------------------------------------------------------------ connector

    /// What the platform's connector can do, with its default settings (the memory backend serves an account
    /// of this platform with these).
    fn capabilities(&self) -> Capabilities;
    /// The connector for an account of this platform, configured from the environment.
    fn connector(&self, account: &Account) -> Result<Arc<dyn Connector>, ConnectorError>;
}

/// Every platform adsctl has a connector for.
pub static HOMES: &[&dyn Home] = &[
    &google_ads::GoogleAdsHome,
    &meta::MetaHome,
    &tiktok::TikTokHome,
    &linkedin::home::LinkedInHome,
    &x::home::XHome,
    &mailchimp::home::MailchimpHome,
    &hubspot::home::HubSpotHome,
    &salesforce::home::SalesforceHome,
];

/// The home of a platform, if adsctl has one.
pub fn home(platform: Platform) -> Option<&'static dyn Home> {
    HOMES.iter().copied().find(|h| h.platform() == platform)
}

/// The name of the platform whose campaigns have `field` (for "`channel` is a Google Ads field").
/// A platform's display name with its indefinite article, for messages: "a Meta", "an X".
pub fn with_article(name: &str) -> String {
    // as the names are said: "an X" ("ex"), "an Outlook"; every other name here starts with a consonant sound
    if name == "X" || name.starts_with(['A', 'E', 'I', 'O']) {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}

pub fn owner_of_campaign_field(field: &str) -> &'static str {
    HOMES
        .iter()
        .find(|h| h.campaign_fields().contains(&field))
        .map_or("another platform's", |h| h.display_name())
}

/// The platforms that have resources of `kind`.
pub fn platforms_with(kind: Kind) -> Vec<Platform> {
    HOMES
        .iter()
        .filter(|h| h.kinds().contains(&kind))
        .map(|h| h.platform())
        .collect()
}

/// The `platform:` values that work today, for hints (`google_ads, meta`).
pub fn supported_names() -> String {
    HOMES
        .iter()
        .map(|h| h.platform().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The environment variable selecting a backend other than the real platforms.
pub const BACKEND_ENV: &str = "ADSCTL_BACKEND";

type Shared = HashMap<(PathBuf, Platform), Arc<MemoryConnector>>;

fn memory(path: PathBuf, platform: Platform) -> Result<Arc<dyn Connector>, ConnectorError> {
    static SHARED: OnceLock<Mutex<Shared>> = OnceLock::new();
    let mut map = SHARED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // Every account of every platform shares one data set per file, so parallel accounts never overwrite
    // each other's writes.
    if let Some(c) = map.get(&(path.clone(), platform)) {
        return Ok(c.clone());
    }
    let c = match map.iter().find(|((p, _), _)| *p == path) {
        Some((_, other)) => Arc::new(other.sibling(platform)),
        None => Arc::new(MemoryConnector::open_file(platform, &path)?),
    };
    map.insert((path, platform), c.clone());
    Ok(c)
}

/// The connector for an account: its platform's, or the memory backend's when `ADSCTL_BACKEND` asks.
pub fn connector_for(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    let Some(home) = home(account.platform) else {
        return Err(ConnectorError::Config(format!(
            "account `{}`: platform {} has no connector yet",
            account.name, account.platform
        )));
    };
    if let Some(backend) = std::env::var_os(BACKEND_ENV).filter(|v| !v.is_empty()) {
        let backend = backend.to_string_lossy().into_owned();
        return match backend.strip_prefix("memory:") {
            Some(file) if !file.is_empty() => memory(PathBuf::from(file), account.platform),
            _ => Err(ConnectorError::Config(format!(
                "{BACKEND_ENV}=`{backend}` is not understood; the only alternative backend is `memory:FILE`"
            ))),
        };
    }
    home.connector(account)
}
