//! Mailchimp's part of the YAML language. In a Mailchimp account (one Mailchimp audience) an entry of
//! `campaigns:` is a regular e-mail campaign, and an entry of `audiences:` that lists the account is a tag of the
//! audience with the customer file's contacts in it. `spec::types` re-exports these types; doc comments here
//! become the descriptions in `schemas/`.

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use schemars::JsonSchema;
use serde::Deserialize;

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
