//! The YAML language: what users write. Doc comments here become the descriptions in `schemas/`.
//!
//! Two file kinds: `adsctl.yaml` ([`ProjectFile`]) and any other `*.yaml`/`*.yml` below the directory
//! ([`ResourceFile`]). Campaigns name their account; which fields apply depends on the account's platform.

use std::collections::BTreeMap;
use std::fmt;

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, StringValidation, SubschemaValidation};
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::de::{Item, Opt, Spanned};
use crate::model::{Platform, RemovalPolicy};

type S<T> = Spanned<T>;

pub use crate::platforms::google_ads::yaml::*;
pub use crate::platforms::hubspot::yaml::*;
pub use crate::platforms::linkedin::yaml::*;
pub use crate::platforms::mailchimp::yaml::*;
pub use crate::platforms::meta::yaml::*;
pub use crate::platforms::salesforce::yaml::*;
pub use crate::platforms::tiktok::yaml::*;
pub use crate::platforms::x::yaml::*;

// ---------------------------------------------------------------------------------------------------------
// adsctl.yaml

/// `adsctl.yaml`: the accounts this repository manages.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "adsctl project file (adsctl.yaml)")]
pub struct ProjectFile {
    /// Accounts by local name. The local name is the first segment of every resource address and what
    /// `account:` in resource files refers to.
    pub accounts: NamedMap<AccountSpec>,
    /// Where this project's state is: `.adsctl/` beside this file (or `ADSCTL_STATE_DIR`) when absent. The
    /// environment variable `ADSCTL_STATE_URL`, when set, wins over what is written here.
    #[serde(default)]
    pub state: Opt<StateSpec>,
}

/// The state's backend. This file is in Git: a password written here is refused.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    /// `sled` (embedded in the state directory, one machine: the default) or `postgres` (a database shared by
    /// every runner, laptop and daemon of the project).
    pub backend: S<StateBackend>,
    /// The database without its password: `postgres://USER@HOST:PORT/DATABASE` (the password comes from
    /// `PGPASSWORD`). Used when the variable named by `url_env` is not set.
    #[serde(default)]
    pub url: Opt<String>,
    /// The environment variable holding the database's whole URL, password included (default
    /// `ADSCTL_STATE_URL`); it wins over `url`.
    #[serde(default)]
    pub url_env: Opt<String>,
}

/// Where the state is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateBackend {
    /// The embedded database in the state directory (`.adsctl/`).
    Sled,
    /// A PostgreSQL database (migrated with `adsctl state migrate`).
    Postgres,
}

/// One advertising account.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// The ad platform: `google_ads` or `meta` (more platforms are planned).
    pub platform: S<PlatformSpec>,
    /// Google Ads customer id, `123-456-7890` or `1234567890`.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub customer_id: Opt<String>,
    /// Google Ads manager (MCC) customer id to act through, if any.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub login_customer_id: Opt<String>,
    /// Meta ad account id, `act_<digits>`.
    #[serde(default)]
    pub ad_account_id: Opt<String>,
    /// Meta business (Business Manager) id, digits (quote them): where the account's split tests are created
    /// (`split_tests:` needs it).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub business_id: Opt<String>,
    /// TikTok advertiser id (digits; quote it).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub advertiser_id: Opt<String>,
    /// LinkedIn ad account id (digits, as in `urn:li:sponsoredAccount:<id>`; quote it), or X ads account id
    /// (base 36, `18ce54d4x5t`).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub account_id: Opt<String>,
    /// Mailchimp audience (list) id, as Mailchimp shows it (`57afe96172`): an adsctl account of platform
    /// `mailchimp` is one Mailchimp audience.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub list_id: Opt<String>,
    /// HubSpot portal (hub) id: digits (quote them).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub portal_id: Opt<String>,
    /// Salesforce org id (`00D…`, 15 or 18 characters).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub org_id: Opt<String>,
    /// ISO 4217 currency code of the account (`USD`, `EUR`, `JPY`, …). Every amount in this account is in it.
    pub currency: S<String>,
    /// IANA time zone of the account (`Europe/Paris`), informational.
    #[serde(default)]
    pub time_zone: Opt<String>,
    /// What happens to resources adsctl manages in this account when they disappear from the YAML:
    /// `pause` (default), `remove` or `orphan` (stop managing).
    #[serde(default)]
    pub on_removed: Opt<OnRemoved>,
    /// Limits every plan for this account must respect.
    #[serde(default)]
    pub guardrails: Opt<GuardrailsSpec>,
    /// Override of the platform API base URL for this account (e.g. the local emulator).
    #[serde(default)]
    pub endpoint: Opt<String>,
}

impl AccountSpec {
    /// A platform-specific key of the account, by name (see `platforms::Home::account_fields`).
    pub fn field(&self, name: &str) -> Option<&S<String>> {
        match name {
            "customer_id" => self.customer_id.as_ref(),
            "login_customer_id" => self.login_customer_id.as_ref(),
            "ad_account_id" => self.ad_account_id.as_ref(),
            "business_id" => self.business_id.as_ref(),
            "advertiser_id" => self.advertiser_id.as_ref(),
            "account_id" => self.account_id.as_ref(),
            "list_id" => self.list_id.as_ref(),
            "portal_id" => self.portal_id.as_ref(),
            "org_id" => self.org_id.as_ref(),
            _ => None,
        }
    }
}

/// Guardrails: plans that break them are refused unless explicitly allowed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailsSpec {
    /// The largest allowed sum of daily budgets in the account after an apply, in the account currency.
    #[serde(default)]
    pub max_daily_budget: Opt<Amount>,
    /// The largest increase of any one budget in one apply, in percent.
    #[serde(default)]
    pub max_increase_pct: Opt<u32>,
    /// The largest number of changes in one apply.
    #[serde(default)]
    pub max_changes: Opt<u32>,
}

// ---------------------------------------------------------------------------------------------------------
// resource files

/// A resource file: any `*.yaml` / `*.yml` below the config directory other than `adsctl.yaml`.
/// A file may hold several YAML documents separated by `---`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "adsctl resource file")]
pub struct ResourceFile {
    /// Google Ads shared budgets (campaigns refer to them with `budget: { shared: <name> }`).
    #[serde(default)]
    pub budgets: Vec<Item<SharedBudget>>,
    /// Campaigns, each in one account (Google Ads or Meta), with their ad groups / ad sets nested inside.
    #[serde(default)]
    pub campaigns: Vec<Item<Campaign>>,
    /// Customer-file audiences, declared once and created in each listed account.
    #[serde(default)]
    pub audiences: Vec<Item<Audience>>,
    /// Lookalike audiences (Meta, TikTok), each in its account's platform's language.
    #[serde(default)]
    pub lookalike_audiences: Vec<Item<LookalikeAudience>>,
    /// The settings of the audience an account is (Mailchimp: Mailchimp's API calls it a list), with its merge
    /// fields: at most one entry per account, in its account's platform's language.
    #[serde(default)]
    pub lists: Vec<Item<ListSettings>>,
    /// Conversion tracking (Google Ads conversion actions), each in its account's platform's language.
    #[serde(default)]
    pub conversions: Vec<Item<Conversion>>,
    /// Custom conversions (Meta: the events of one pixel that match a rule), each in its account's platform's
    /// language.
    #[serde(default)]
    pub custom_conversions: Vec<Item<CustomConversion>>,
    /// A/B tests (Meta split tests: cells of the account's campaigns or ad sets sharing one audience), each in its
    /// account's platform's language.
    #[serde(default)]
    pub split_tests: Vec<Item<SplitTest>>,
    /// Product catalogs an account uses (Meta catalog ads: the catalog by its id, with the product sets adsctl
    /// manages on it), each in its account's platform's language.
    #[serde(default)]
    pub product_catalogs: Vec<Item<ProductCatalog>>,
    /// A/B tests (Google Ads experiments: a base campaign, a trial arm with changed settings, the traffic split,
    /// dates and the action), each in its account's platform's language.
    #[serde(default)]
    pub experiments: Vec<Item<Experiment>>,
    /// Renames: the object at `from` is the one now named at `to` (same account, kind and parent). The plan
    /// renames it in place instead of making a new object and letting the old one go. Remove the entry once
    /// applied (kept, it does nothing more).
    #[serde(default)]
    pub moved: Vec<Item<MovedSpec>>,
}

/// One rename: `{ from: acme/campaign/Spring, to: acme/campaign/Spring 2027 }` (addresses as `adsctl state list`
/// and the plan print them).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MovedSpec {
    /// The old address.
    pub from: S<String>,
    /// The new address, declared in the YAML.
    pub to: S<String>,
}

/// `lifecycle:` options every resource accepts.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSpec {
    /// Refuse any plan that would remove or replace this resource.
    #[serde(default)]
    pub prevent_destroy: Opt<bool>,
    /// Fields (as named in `docs/resource-model.md`, e.g. `status`, `budget.daily`) whose live value is never
    /// changed back to the YAML value.
    #[serde(default)]
    pub ignore_changes: Vec<S<String>>,
    /// Take over an object of this name that exists on the platform but was not made by adsctl (made in the
    /// platform's UI or by another tool). Without it, such an object is never touched and the plan is blocked.
    /// Once adopted, the object carries adsctl's ownership marker and this can be removed (kinds without a
    /// marker, Google shared budgets and negative keywords, keep needing it).
    #[serde(default)]
    pub adopt: Opt<bool>,
}

/// One campaign of a resource file, read as the campaign of its account's platform (each platform's home defines
/// that type: `GoogleCampaign`, `MetaCampaign`, … in its `yaml.rs`), since only the account says which language
/// the block is in. Every campaign has `name`, `account`, and may have `id`, `status`, `lifecycle`, `budget`.
pub struct Campaign {
    /// The account it names, when it names one.
    pub account: Option<S<String>>,
    /// The account's platform and its campaign, as that platform's home read it (`None` when the account or its
    /// platform is unknown, or the block is invalid: its errors were reported).
    pub body: Option<(Platform, Box<dyn std::any::Any + Send>)>,
}

impl fmt::Debug for Campaign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Campaign")
            .field("account", &self.account.as_ref().map(|a| &a.value))
            .field("read", &self.body.is_some())
            .finish()
    }
}

impl<'de> Deserialize<'de> for Campaign {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let made = super::de::capture(d, "campaign")?;
        Ok(match made.map(|m| m.downcast::<Campaign>()) {
            Some(Ok(c)) => *c,
            // No capture hook on this thread (a document read for another purpose): nothing to say about it.
            _ => Campaign {
                account: None,
                body: None,
            },
        })
    }
}

impl JsonSchema for Campaign {
    fn schema_name() -> String {
        "Campaign".into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let one_of: Vec<Schema> = crate::platforms::HOMES.iter().map(|h| h.campaign_schema(gen)).collect();
        Schema::Object(SchemaObject {
            metadata: Some(Box::new(schemars::schema::Metadata {
                description: Some(
                    "A campaign, in the language of its account's platform: one of the campaign types below.".into(),
                ),
                ..Default::default()
            })),
            subschemas: Some(Box::new(SubschemaValidation {
                any_of: Some(one_of),
                ..Default::default()
            })),
            ..Default::default()
        })
    }
}

/// A block of a resource file that names its `account:` and is read in that account's platform's language
/// (`Home::parse_lookalike`, `parse_list`, `parse_conversion`, `parse_custom_conversion`), as campaigns are: the struct with the account it
/// names and the platform's reading of the block (`None` when the account or its platform is unknown, the
/// platform has no such block, or the block is invalid: reported), read through the capture hook under `$what`,
/// and its schema the union of the homes' schemas (`$schema`).
macro_rules! account_block {
    ($(#[$doc:meta])* $name:ident, $what:literal, $schema:ident, $description:literal) => {
        $(#[$doc])*
        pub struct $name {
            /// The account it names, when it names one.
            pub account: Option<S<String>>,
            /// The account's platform and its block, as that platform's home read it.
            pub body: Option<(Platform, Box<dyn std::any::Any + Send>)>,
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("account", &self.account.as_ref().map(|a| &a.value))
                    .field("read", &self.body.is_some())
                    .finish()
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let made = super::de::capture(d, $what)?;
                Ok(match made.map(|m| m.downcast::<$name>()) {
                    Some(Ok(b)) => *b,
                    // no capture hook on this thread (a document read for another purpose)
                    _ => $name {
                        account: None,
                        body: None,
                    },
                })
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).into()
            }
            fn json_schema(gen: &mut SchemaGenerator) -> Schema {
                let one_of: Vec<Schema> = crate::platforms::HOMES.iter().filter_map(|h| h.$schema(gen)).collect();
                Schema::Object(SchemaObject {
                    metadata: Some(Box::new(schemars::schema::Metadata {
                        description: Some($description.into()),
                        ..Default::default()
                    })),
                    subschemas: Some(Box::new(SubschemaValidation {
                        any_of: Some(one_of),
                        ..Default::default()
                    })),
                    ..Default::default()
                })
            }
        }
    };
}

account_block!(
    /// One lookalike audience of a resource file (`MetaLookalikeAudience`, `TikTokLookalikeAudience`).
    LookalikeAudience,
    "lookalike_audience",
    lookalike_schema,
    "A lookalike audience, in the language of its account's platform: one of the types below."
);

account_block!(
    /// One `lists:` entry of a resource file (`MailchimpList`).
    ListSettings,
    "list",
    list_schema,
    "The settings of the audience an account is, in the language of its account's platform: one of the types below."
);

account_block!(
    /// One conversion of a resource file (`GoogleConversionAction`).
    Conversion,
    "conversion",
    conversion_schema,
    "A conversion, in the language of its account's platform: one of the types below."
);

account_block!(
    /// One A/B test of a resource file (`MetaSplitTest`).
    SplitTest,
    "split_test",
    split_test_schema,
    "An A/B test, in the language of its account's platform: one of the types below."
);

account_block!(
    /// One product catalog of a resource file (`MetaProductCatalog`).
    ProductCatalog,
    "product_catalog",
    product_catalog_schema,
    "A product catalog an account uses, in the language of its account's platform: one of the types below."
);

account_block!(
    /// One experiment of a resource file (`GoogleExperiment`).
    Experiment,
    "experiment",
    experiment_schema,
    "An experiment (A/B test), in the language of its account's platform: one of the types below."
);

account_block!(
    /// One custom conversion of a resource file (`MetaCustomConversion`).
    CustomConversion,
    "custom_conversion",
    custom_conversion_schema,
    "A custom conversion, in the language of its account's platform: one of the types below."
);

/// A campaign's budget. Amounts are in the account currency.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignBudget {
    /// Daily amount.
    #[serde(default)]
    pub daily: Opt<Amount>,
    /// Meta: lifetime amount (needs `stop_time`).
    #[serde(default)]
    pub lifetime: Opt<Amount>,
    /// Google Ads: the name of a shared budget (declared under `budgets:`) in the same account.
    #[serde(default)]
    pub shared: Opt<String>,
    /// Google Ads: `standard` or `accelerated` (own budget only).
    #[serde(default)]
    pub delivery_method: Opt<DeliveryMethod>,
}

/// A customer-file audience (Google Customer Match list, Meta custom audience) created in each listed account.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Unique name within each account.
    pub name: S<String>,
    /// The accounts (local names) to create it in.
    pub accounts: S<Vec<S<String>>>,
    /// Description.
    #[serde(default)]
    pub description: Opt<String>,
    /// The members: a local CSV file with an email column. Emails are normalised and SHA-256 hashed locally;
    /// the clear text is never stored or sent. (Or `company_file`.)
    #[serde(default)]
    pub customer_file: Opt<CustomerFile>,
    /// The members of another platform's audience instead of a file: `{ account: acme-mail, audience:
    /// Newsletter subscribers }` (a Mailchimp tag; without `audience`, the Mailchimp audience's subscribed
    /// contacts). Read at every plan, normalised and hashed per platform like a customer file.
    #[serde(default)]
    pub source: Opt<AudienceSource>,
    /// LinkedIn: a company list instead of people — a local CSV file with a company name column and/or a website
    /// column (`{ path: data/accounts.csv, name_column: company, website_column: website }`).
    #[serde(default)]
    pub company_file: Opt<CompanyFile>,
    /// Google Ads: how long members stay in the list, in days (1–540).
    #[serde(default)]
    pub membership_life_span_days: Opt<u32>,
    /// Meta: where the data comes from (`user_provided_only`, `partner_provided_only`,
    /// `both_user_and_partner_provided`).
    #[serde(default)]
    pub customer_file_source: Opt<CustomerFileSource>,
    /// Salesforce: the campaign member status of people adsctl adds (a status the campaign has; Salesforce's
    /// default `Sent` when left out).
    #[serde(default)]
    pub member_status: Opt<String>,
    /// Mailchimp: the merge fields of contacts adsctl adds, from columns of the customer file (merge tag →
    /// column: `{ FNAME: first_name, LNAME: last_name }`).
    #[serde(default)]
    pub merge_fields: Opt<BTreeMap<String, S<String>>>,
    /// Mailchimp: the customer file's column holding each contact's consent status (`subscribed`, `pending`,
    /// `transactional`, `unsubscribed`), for contacts new to the audience.
    #[serde(default)]
    pub status_column: Opt<String>,
    /// Mailchimp: the status of contacts new to the audience when no `status_column` says (`subscribed`,
    /// default; `pending` sends them Mailchimp's double opt-in e-mail; `transactional`). An existing contact's
    /// status is never changed.
    #[serde(default)]
    pub new_member_status: Opt<MailchimpMemberStatus>,
    /// Adopt existing audiences: platform id per account (local name → id).
    #[serde(default)]
    pub ids: Opt<BTreeMap<String, S<String>>>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

impl Audience {
    /// Where a field only some platforms have is written, when it is (see `platforms::Home::audience_fields`).
    pub fn field_span(&self, field: &str) -> Option<super::yaml::Span> {
        match field {
            "membership_life_span_days" => self.membership_life_span_days.as_ref().map(|d| d.span),
            "customer_file_source" => self.customer_file_source.as_ref().map(|d| d.span),
            "company_file" => self.company_file.as_ref().map(|d| d.span),
            "merge_fields" => self.merge_fields.as_ref().map(|d| d.span),
            "member_status" => self.member_status.as_ref().map(|d| d.span),
            "status_column" => self.status_column.as_ref().map(|d| d.span),
            "new_member_status" => self.new_member_status.as_ref().map(|d| d.span),
            _ => None,
        }
    }
}

/// Where the members of a customer-file audience come from.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerFile {
    /// Path of a CSV file with a header row, relative to the config directory.
    pub path: S<String>,
    /// The name of the column holding email addresses.
    pub column: S<String>,
}

/// Another platform's audience that an audience takes its members from.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceSource {
    /// The account (local name from adsctl.yaml) of a platform that can be a source (Mailchimp).
    pub account: S<String>,
    /// The audience there, by name (a Mailchimp tag). Left out: the whole account (a Mailchimp audience's
    /// subscribed contacts).
    #[serde(default)]
    pub audience: Opt<String>,
}

/// Where the companies of a company list come from (LinkedIn).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyFile {
    /// Path of a CSV file with a header row, relative to the config directory.
    pub path: S<String>,
    /// The column holding company names.
    #[serde(default)]
    pub name_column: Opt<String>,
    /// The column holding company websites (`contoso.com`, `https://www.contoso.com`).
    #[serde(default)]
    pub website_column: Opt<String>,
}

// ---------------------------------------------------------------------------------------------------------
// scalars

/// An amount of money as written (`50`, `12.34`, `"12.34"`): kept as text, parsed exactly with the account
/// currency, never through floating point.
#[derive(Debug, Clone, PartialEq)]
pub struct Amount(pub String);

/// An exact decimal as written (`3.5`, `"0.05"`).
#[derive(Debug, Clone, PartialEq)]
pub struct DecimalText(pub String);

macro_rules! text_scalar {
    ($t:ident, $desc:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a number")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$t, E> {
                        Ok($t(v.trim().to_string()))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$t, E> {
                        Ok($t(v.to_string()))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$t, E> {
                        Ok($t(v.to_string()))
                    }
                }
                d.deserialize_str(V)
            }
        }
        impl JsonSchema for $t {
            fn schema_name() -> String {
                stringify!($t).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let mut num = SchemaObject::default();
                num.instance_type = Some(InstanceType::Number.into());
                let mut text = SchemaObject::default();
                text.instance_type = Some(InstanceType::String.into());
                text.string = Some(Box::new(StringValidation {
                    pattern: Some(r"^-?[0-9]+(\.[0-9]+)?$".into()),
                    ..Default::default()
                }));
                let mut s = SchemaObject::default();
                s.metadata().description = Some($desc.into());
                s.subschemas = Some(Box::new(SubschemaValidation {
                    any_of: Some(vec![num.into(), text.into()]),
                    ..Default::default()
                }));
                s.into()
            }
        }
    };
}

text_scalar!(
    Amount,
    "An amount in the account currency (`50`, `12.34`, `\"12.34\"`), exact: no more decimals than the currency has."
);
text_scalar!(DecimalText, "An exact decimal number (`3.5`, `\"0.05\"`).");

/// A platform id: digits, quoted or not (`"1234567890"`, `1234567890`, `123-456-7890`).
pub struct IdText;

impl JsonSchema for IdText {
    fn schema_name() -> String {
        "IdText".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let num = SchemaObject {
            instance_type: Some(InstanceType::Integer.into()),
            ..Default::default()
        };
        let text = SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            ..Default::default()
        };
        let s = SchemaObject {
            subschemas: Some(Box::new(SubschemaValidation {
                any_of: Some(vec![num.into(), text.into()]),
                ..Default::default()
            })),
            ..Default::default()
        };
        s.into()
    }
}

/// Local names to entries, in the order written (keys keep their positions).
#[derive(Debug)]
pub struct NamedMap<T> {
    pub entries: Vec<(S<String>, Item<T>)>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NamedMap<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = NamedMap<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of names to entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NamedMap<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = map.next_key::<S<String>>()? {
                    let v = map.next_value::<Item<T>>()?;
                    entries.push((k, v));
                }
                Ok(NamedMap { entries })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for NamedMap<T> {
    fn schema_name() -> String {
        format!("Map_of_{}", T::schema_name())
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        gen.subschema_for::<BTreeMap<String, T>>()
    }
}

// ---------------------------------------------------------------------------------------------------------
// enums: YAML takes lower snake case (upper case works too); lowering maps to the platform's enum name.

macro_rules! spec_enum {
    ($(#[doc = $doc:literal])* $name:ident { $($v:ident => $wire:literal $(| $alias:literal)*),* $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
        pub enum $name { $(#[serde(rename = $wire $(, alias = $alias)*)] $v),* }
        impl $name {
            /// The platform's enum name, lower snake case (the `Value::Str` of the resource model).
            pub fn wire(self) -> &'static str {
                match self { $($name::$v => $wire),* }
            }
        }
        impl JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                // Lower snake case first (what completion offers), then aliases, then the platform's upper case.
                let lower: &[&str] = &[$($wire),*];
                let aliases: &[&str] = &[$($($alias,)*)*];
                let values: Vec<serde_json::Value> = lower
                    .iter()
                    .chain(aliases)
                    .map(|v| serde_json::Value::from(*v))
                    .chain(lower.iter().map(|v| serde_json::Value::from(v.to_uppercase())))
                    .collect();
                let mut s = SchemaObject::default();
                s.instance_type = Some(InstanceType::String.into());
                s.enum_values = Some(values);
                let doc: Vec<&str> = vec![$($doc.trim()),*];
                s.metadata().description = Some(doc.join(" "));
                s.into()
            }
        }
    };
}
pub(crate) use spec_enum;

spec_enum!(
    /// Status; `enabled` and `active` are synonyms (mapped to each platform's name).
    Status {
        Enabled => "enabled",
        Active => "active",
        Paused => "paused",
    }
);

/// The ad platform of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlatformSpec {
    /// Google Ads (REST API).
    GoogleAds,
    /// Meta Marketing API (Facebook, Instagram).
    Meta,
    /// LinkedIn Marketing API (versioned REST).
    Linkedin,
    /// TikTok API for Business.
    Tiktok,
    /// Microsoft Advertising (planned).
    MicrosoftAds,
    /// X Ads API.
    X,
    /// Mailchimp Marketing API: one audience, its tags and e-mail campaigns.
    Mailchimp,
    /// HubSpot: marketing campaigns and static lists of one portal.
    Hubspot,
    /// Salesforce: Campaign records and their members of one org.
    Salesforce,
}

impl From<PlatformSpec> for Platform {
    fn from(p: PlatformSpec) -> Platform {
        match p {
            PlatformSpec::GoogleAds => Platform::GoogleAds,
            PlatformSpec::Meta => Platform::Meta,
            PlatformSpec::Linkedin => Platform::Linkedin,
            PlatformSpec::Tiktok => Platform::Tiktok,
            PlatformSpec::MicrosoftAds => Platform::MicrosoftAds,
            PlatformSpec::X => Platform::X,
            PlatformSpec::Mailchimp => Platform::Mailchimp,
            PlatformSpec::Hubspot => Platform::Hubspot,
            PlatformSpec::Salesforce => Platform::Salesforce,
        }
    }
}

/// What happens to managed resources that disappear from the YAML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnRemoved {
    /// Pause them (the default: reversible).
    Pause,
    /// Remove (Google) / delete (Meta) them.
    Remove,
    /// Stop managing them and leave them as they are.
    Orphan,
}

impl From<OnRemoved> for RemovalPolicy {
    fn from(p: OnRemoved) -> RemovalPolicy {
        match p {
            OnRemoved::Pause => RemovalPolicy::Pause,
            OnRemoved::Remove => RemovalPolicy::Remove,
            OnRemoved::Orphan => RemovalPolicy::Orphan,
        }
    }
}
