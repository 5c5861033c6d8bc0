//! Mailchimp's part of the YAML language. In a Mailchimp account (one Mailchimp audience) an entry of
//! `campaigns:` is a regular e-mail campaign, and an entry of `audiences:` that lists the account is a tag of the
//! audience with the customer file's contacts in it. `spec::types` re-exports these types; doc comments here
//! become the descriptions in `schemas/`.

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::spec::de::Item;
use crate::spec::de::{Opt, Spanned};
use crate::spec::types::spec_enum;
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// A Mailchimp regular e-mail campaign, reviewed in a pull request like an ad change: who gets it, what it says,
/// and when it is sent (left without `schedule`, it stays a draft).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Campaign")]
#[schemars(rename = "MailchimpCampaign")]
pub struct MailchimpCampaign {
    /// Unique name within the account: the campaign's internal title in Mailchimp (recipients never see it).
    pub name: S<String>,
    /// The account (local name from adsctl.yaml): the Mailchimp audience it is sent to.
    pub account: S<String>,
    /// Adopt an existing campaign by its Mailchimp id (`42694e9e57`).
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// The subject line. Required.
    #[serde(default)]
    pub subject: Opt<String>,
    /// The preview text shown after the subject in most inboxes.
    #[serde(default)]
    pub preview_text: Opt<String>,
    /// The sender's name (not an address). Required.
    #[serde(default)]
    pub from_name: Opt<String>,
    /// The reply-to address. Required.
    #[serde(default)]
    pub reply_to: Opt<String>,
    /// Who receives it: a tag of this audience (an audience of `audiences:` that lists this account). Left out:
    /// every subscribed contact of the audience.
    #[serde(default)]
    pub recipients: Opt<String>,
    /// The HTML content: a file in the repository, relative to the config directory (`content/spring.html`).
    #[serde(default)]
    pub html: Opt<String>,
    /// When it is sent: RFC 3339 in UTC on a quarter hour (`2026-03-02T09:00:00Z`). Left out: a draft. Once sent,
    /// a campaign cannot change; keep the entry as it is (or let `on_removed` take it).
    #[serde(default)]
    pub schedule: Opt<String>,
}

spec_enum!(
    /// The status Mailchimp gives a contact adsctl adds to an audience.
    MailchimpMemberStatus {
        Subscribed => "subscribed",
        Pending => "pending",
        Transactional => "transactional",
    }
);

/// The settings of the Mailchimp audience an account is (Mailchimp's API calls it a list) and its merge fields,
/// as an entry of `lists:` (one per account). Only what is written is managed: a setting left out stays as it is
/// in Mailchimp. adsctl never creates or deletes an audience: `list_id` names one that exists, and an entry taken
/// out of the YAML leaves its settings as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "List")]
#[schemars(rename = "MailchimpList")]
pub struct MailchimpList {
    /// The account (local name from adsctl.yaml) whose audience these settings are.
    pub account: S<String>,
    /// The audience's name, as subscribers see it on forms and in e-mail footers.
    #[serde(default)]
    pub audience_name: Opt<String>,
    /// Why people get the e-mails ("You signed up on our website"), printed in every campaign's footer.
    #[serde(default)]
    pub permission_reminder: Opt<String>,
    /// Let subscribers choose plain-text or HTML e-mails.
    #[serde(default)]
    pub email_type_option: Opt<bool>,
    /// Ask new sign-ups to confirm by e-mail (only sign-up forms: adsctl's own contacts get the file's status).
    #[serde(default)]
    pub double_optin: Opt<bool>,
    /// Show GDPR marketing permissions on the audience's forms.
    #[serde(default)]
    pub marketing_permissions: Opt<bool>,
    /// Show the campaign archive bar in e-mails.
    #[serde(default)]
    pub use_archive_bar: Opt<bool>,
    /// The address told of each new subscriber (`""`: nobody).
    #[serde(default)]
    pub notify_on_subscribe: Opt<String>,
    /// The address told of each unsubscribe (`""`: nobody).
    #[serde(default)]
    pub notify_on_unsubscribe: Opt<String>,
    /// The postal contact printed in every campaign's footer (anti-spam laws ask for one).
    #[serde(default)]
    pub contact: Opt<MailchimpContact>,
    /// What a new campaign of this audience starts with in Mailchimp's editor.
    #[serde(default)]
    pub campaign_defaults: Opt<MailchimpCampaignDefaults>,
    /// The audience's merge fields (contact attributes), by merge tag. Those written are managed; others
    /// (Mailchimp's defaults, a colleague's) are left alone. Taken out of the YAML, a merge field adsctl made
    /// follows the account's `on_removed` (`remove` deletes it and its value on every contact).
    #[serde(default)]
    pub merge_fields: Vec<Item<MailchimpMergeField>>,
}

/// A Mailchimp audience's postal contact. Each part written is managed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailchimpContact {
    #[serde(default)]
    pub company: Opt<String>,
    #[serde(default)]
    pub address1: Opt<String>,
    #[serde(default)]
    pub address2: Opt<String>,
    #[serde(default)]
    pub city: Opt<String>,
    /// State, province or region.
    #[serde(default)]
    pub state: Opt<String>,
    /// Postal code (quote it: `"02110"`).
    #[serde(default)]
    pub zip: Opt<String>,
    /// Two-letter country code (`US`).
    #[serde(default)]
    pub country: Opt<String>,
    #[serde(default)]
    pub phone: Opt<String>,
}

/// A Mailchimp audience's campaign defaults. Each part written is managed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailchimpCampaignDefaults {
    /// The sender's name.
    #[serde(default)]
    pub from_name: Opt<String>,
    /// The sender's address.
    #[serde(default)]
    pub from_email: Opt<String>,
    /// The default subject line (`""`: none).
    #[serde(default)]
    pub subject: Opt<String>,
    /// The default language, as Mailchimp's codes (`en`, `fr`, `pt_BR`).
    #[serde(default)]
    pub language: Opt<String>,
}

/// One merge field of a Mailchimp audience.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailchimpMergeField {
    /// The merge tag (`PLAN`): upper-case letters, digits and `_`, at most 10, a letter first. Its identity: a
    /// merge field of this tag that exists (Mailchimp's own `FNAME`, say) is the one managed.
    pub tag: S<String>,
    /// The field's label, as contacts and forms show it. Required.
    #[serde(default)]
    pub label: Opt<String>,
    /// The kind of value. Required; it cannot change (a changed type replaces the field, with every contact's
    /// value of it: `--allow-replace`).
    #[serde(default, rename = "type")]
    pub field_type: Opt<MailchimpMergeType>,
    /// Sign-up forms refuse a contact without it (imports and the API too, unless told to skip the check).
    #[serde(default)]
    pub required: Opt<bool>,
    /// The value a contact gets when it has none.
    #[serde(default)]
    pub default_value: Opt<String>,
    /// Shown on the audience's public pages (the contact's profile, forms).
    #[serde(default)]
    pub public: Opt<bool>,
    /// Its place among the fields on forms (1 first).
    #[serde(default)]
    pub display_order: Opt<u32>,
    /// The help text shown under the field on forms.
    #[serde(default)]
    pub help_text: Opt<String>,
    /// The values a `radio` or `dropdown` field offers, in order.
    #[serde(default)]
    pub choices: Opt<Vec<S<String>>>,
    /// How a `date` field is written: `MM/DD/YYYY` or `DD/MM/YYYY` (a `birthday`: `MM/DD` or `DD/MM`).
    #[serde(default)]
    pub date_format: Opt<String>,
    /// How a `phone` field is written: `US` or `none` (international).
    #[serde(default)]
    pub phone_format: Opt<String>,
}

spec_enum!(
    /// The type of a Mailchimp merge field.
    MailchimpMergeType {
        Text => "text",
        Number => "number",
        Address => "address",
        Phone => "phone",
        Date => "date",
        Url => "url",
        ImageUrl => "imageurl",
        Radio => "radio",
        Dropdown => "dropdown",
        Birthday => "birthday",
        Zip => "zip",
    }
);
