//! Mailchimp as the rest of adsctl sees it: the [`Home`] of the platform registry.

use std::sync::Arc;

use crate::connectors::{Capabilities, Connector, ConnectorError};
use crate::model::{Account, Kind, Platform, Resource};
use crate::platforms::{AccountIds, Home};
use crate::spec::error::Code;
use crate::spec::lower::Lower;
use crate::spec::types::{AccountSpec, MailchimpCampaign, MailchimpList, Status};
use crate::spec::Spanned;

/// The fields of an account's `list` object (its audience's settings; `docs/resource-model.md`).
pub const LIST_FIELDS: [&str; 20] = [
    "audience_name",
    "permission_reminder",
    "email_type_option",
    "double_optin",
    "marketing_permissions",
    "use_archive_bar",
    "notify_on_subscribe",
    "notify_on_unsubscribe",
    "contact.company",
    "contact.address1",
    "contact.address2",
    "contact.city",
    "contact.state",
    "contact.zip",
    "contact.country",
    "contact.phone",
    "campaign_defaults.from_name",
    "campaign_defaults.from_email",
    "campaign_defaults.subject",
    "campaign_defaults.language",
];

/// Mailchimp Marketing API 3.0.
pub struct MailchimpHome;

/// A Mailchimp audience (list) id or campaign id: lower-case letters and digits (observed: 10 hex digits).
pub fn mailchimp_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 32 && v.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

impl Home for MailchimpHome {
    fn platform(&self) -> Platform {
        Platform::Mailchimp
    }
    fn display_name(&self) -> &'static str {
        "Mailchimp"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind::List, Kind::MergeField, Kind::Audience, Kind::Campaign]
    }

    fn account_fields(&self) -> &'static [&'static str] {
        &["list_id"]
    }
    fn campaign_fields(&self) -> &'static [&'static str] {
        &[
            "subject",
            "preview_text",
            "from_name",
            "reply_to",
            "recipients",
            "html",
            "schedule",
        ]
    }

    fn account_id_field(&self) -> &'static str {
        "list_id"
    }
    fn describe_account_id(&self, id: &str) -> (&'static str, String) {
        ("Mailchimp audience", format!("audience {id}"))
    }

    fn account_ids(&self, lower: &mut Lower<'_>, name: &Spanned<String>, spec: &AccountSpec) -> Option<AccountIds> {
        match &*spec.list_id {
            None if spec.list_id.is_invalid() => None,
            None => {
                lower.err(
                    name.span,
                    Code::MissingField,
                    format!("mailchimp account `{}` needs `list_id`", name.value),
                    "add `list_id: 57afe96172` (Mailchimp shows it under Audience → Settings → Audience name and \
                     defaults)",
                );
                None
            }
            Some(l) => {
                let v = l.trim();
                if mailchimp_id(v) {
                    Some(AccountIds {
                        platform_id: v.to_string(),
                        login_customer_id: None,
                    })
                } else {
                    lower.err(
                        l.span,
                        Code::InvalidValue,
                        format!("invalid Mailchimp audience id `{}`", l.value),
                        "a Mailchimp audience id is lower-case letters and digits: `list_id: 57afe96172`",
                    );
                    None
                }
            }
        }
    }

    fn parse_campaign(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<MailchimpCampaign>(node).map(|c| Box::new(c) as Box<dyn std::any::Any + Send>)
    }

    fn campaign_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        gen.subschema_for::<MailchimpCampaign>()
    }

    fn campaign_size(&self, _campaign: &dyn std::any::Any) -> usize {
        1
    }

    fn campaign_problems(
        &self,
        campaign: &dyn std::any::Any,
        _location: &dyn Fn(crate::spec::yaml::Span) -> String,
    ) -> Vec<crate::spec::rules::Problem> {
        let mut out = Vec::new();
        if let Some(c) = campaign.downcast_ref::<MailchimpCampaign>() {
            crate::spec::rules::one_line(&c.name, "campaign name", &mut out);
        }
        out
    }

    fn lower_campaign(&self, lower: &mut Lower<'_>, account: &Account, campaign: Box<dyn std::any::Any + Send>) {
        if let Ok(c) = campaign.downcast::<MailchimpCampaign>() {
            lower.mailchimp_top(account, *c);
        }
    }

    fn parse_list(&self, node: &crate::spec::yaml::Node) -> Option<Box<dyn std::any::Any + Send>> {
        crate::spec::de::from_node::<MailchimpList>(node).map(|l| Box::new(l) as Box<dyn std::any::Any + Send>)
    }

    fn list_schema(&self, gen: &mut schemars::gen::SchemaGenerator) -> Option<schemars::schema::Schema> {
        Some(gen.subschema_for::<MailchimpList>())
    }

    fn lower_list(&self, lower: &mut Lower<'_>, account: &Account, list: Box<dyn std::any::Any + Send>) {
        if let Ok(l) = list.downcast::<MailchimpList>() {
            lower.mailchimp_list(account, *l);
        }
    }

    fn import_list(&self, resources: &[&Resource], account: &Account) -> Option<serde_yaml::Mapping> {
        super::import::list(resources, account)
    }

    fn audience_fields(&self) -> &'static [&'static str] {
        &["merge_fields", "status_column", "new_member_status"]
    }

    fn lower_audience(&self, lower: &mut Lower<'_>, a: &crate::spec::types::Audience, r: &mut Resource) {
        lower.mailchimp_audience(a, r);
    }

    fn managed_fields(&self, kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::Campaign => &[
                "subject",
                "preview_text",
                "from_name",
                "reply_to",
                "recipients",
                "html",
                "schedule_time",
            ],
            Kind::Audience => &["members"],
            Kind::List => &LIST_FIELDS,
            Kind::MergeField => &[
                "label",
                "type",
                "required",
                "default_value",
                "public",
                "display_order",
                "help_text",
                "choices",
                "date_format",
                "phone_format",
            ],
            _ => &[],
        }
    }

    fn object_id(&self, kind: Kind, id: &str) -> Result<(), &'static str> {
        match kind {
            Kind::Audience if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
            Kind::Audience => Err("a Mailchimp tag id is digits, e.g. \"41\""),
            Kind::MergeField if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
            Kind::MergeField => Err("a Mailchimp merge field id is digits, e.g. \"5\""),
            _ if mailchimp_id(id) => Ok(()),
            _ => Err("a Mailchimp campaign id is lower-case letters and digits, e.g. \"42694e9e57\""),
        }
    }

    fn status_word(&self, status: Status) -> &'static str {
        // campaigns have no `status:` in the YAML (a `schedule` or none says it); `draft` is what a pause writes
        match status {
            Status::Enabled | Status::Active => "scheduled",
            Status::Paused => "draft",
        }
    }

    fn hash_email(&self, email: &str) -> String {
        // Mailchimp's subscriber hash: MD5 of the lower-cased address (WIRE-NOTES § Members), trimmed first
        super::lower::subscriber_hash(email)
    }

    fn audience_source(&self) -> bool {
        true
    }
    fn takes_clear_addresses(&self) -> bool {
        true
    }

    fn counterpart(&self, field: &str) -> Option<&'static str> {
        Some(match field {
            "status" => "a Mailchimp campaign is a draft until it has a `schedule`",
            "start_date" | "start_time" | "schedule" => "a Mailchimp campaign is sent at `schedule` (RFC 3339, UTC)",
            "budget" | "bidding" | "bid" => "a Mailchimp campaign has no budget",
            "ad_groups" | "ad_sets" | "ads" | "campaigns" | "creatives" => {
                "a Mailchimp campaign is one e-mail: `subject`, `from_name`, `reply_to`, `html`"
            }
            "audiences" | "targeting" => "a Mailchimp campaign goes to `recipients: <tag>` (or the whole audience)",
            _ => return None,
        })
    }

    fn import_campaign(
        &self,
        campaign: &Resource,
        tree: &crate::import::Tree<'_>,
        account: &Account,
    ) -> serde_yaml::Mapping {
        super::import::campaign(campaign, tree, account)
    }

    fn seed_emulator(&self, config: &mut crate::emulator::EmulatorConfig, account: &Account, default_time_zone: &str) {
        super::emulated::seed_config(config, account, default_time_zone);
    }

    fn seed_running_emulator(
        &self,
        emulator: &crate::emulator::EmulatorHandle,
        account: &Account,
        default_time_zone: &str,
    ) -> bool {
        super::emulated::seed_running(emulator, account, default_time_zone)
    }

    fn emulated_connector(&self, account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
        super::emulated::connector(account)
    }

    fn auth(&self) -> Option<&'static dyn crate::auth::PlatformAuth> {
        super::home_auth()
    }

    fn emulated_auth_env(&self, name: &str) -> Option<Option<&'static str>> {
        super::emulated::auth_env(name)
    }

    fn capabilities(&self) -> Capabilities {
        super::capabilities()
    }

    fn connector(&self, account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
        super::connector(account)
    }
}
