//! Mailchimp: validation and lowering of e-mail campaigns and of the Mailchimp side of customer-file audiences
//! (tags) into the resources of `docs/resource-model.md` (Mailchimp table). Methods of the spec's [`Lower`].
//!
//! What Mailchimp needs to send a campaign is required here (a subject line, a sender's name and a reply-to
//! address). Content is not: a campaign made in Mailchimp keeps its own until the YAML names a file, and Mailchimp's
//! send checklist refuses to schedule one that has none.
//! The pack gives no length limits for these texts; none is invented: they must be one non-empty line.

use std::collections::HashMap;
use std::path::Path;

use crate::connectors::clear::{self, ClearMember};
use crate::model::{Account, Address, Kind, Resource, Value};
use crate::spec::de::Spanned;
use crate::spec::error::Code;
use crate::spec::lower::*;
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// The name of an account's `list` object (its audience's settings): `acct/list/settings`.
pub const LIST_NAME: &str = "settings";

/// The largest HTML content read from the repository (Mailchimp's own limit is not in the pack; a campaign's
/// HTML is rarely above a few hundred KiB).
pub const MAX_HTML_BYTES: u64 = 2 * 1024 * 1024;

/// A merge tag as Mailchimp writes them: upper-case letters, digits and `_`, at most 10, a letter first.
pub fn merge_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 10
        && b[0].is_ascii_uppercase()
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// The subscriber hash: lower-case hex MD5 of the trimmed, lower-cased address (the member's id on the wire).
pub fn subscriber_hash(email: &str) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(email.trim().to_lowercase().as_bytes()))
}

impl Lower<'_> {
    /// One non-empty line of text.
    fn mc_line(&mut self, s: &S<String>, field: &str, r: &mut Resource) {
        if s.trim().is_empty() {
            self.err(
                s.span,
                Code::Constraint,
                format!("`{field}` is empty"),
                "write some text",
            );
        } else if s.contains(['\n', '\r']) {
            self.err(
                s.span,
                Code::InvalidValue,
                format!("`{field}` is on more than one line"),
                "an e-mail header is one line",
            );
        } else {
            r.fields.insert(field, Value::Str(s.trim().to_string()));
        }
    }

    pub(crate) fn mailchimp_campaign(&mut self, acct: &Account, c: MailchimpCampaign, mut r: Resource) {
        let adopted = c.id.is_some();
        for (v, field, example) in [
            (&c.subject, "subject", "Our spring sale starts today"),
            (&c.from_name, "from_name", "Acme Outdoor"),
            (&c.reply_to, "reply_to", "news@example.com"),
        ] {
            match &**v {
                Some(s) => self.mc_line(s, field, &mut r),
                None if !adopted && !v.is_invalid() => {
                    self.missing(c.name.span, field, "a Mailchimp campaign", example)
                }
                None => {}
            }
        }
        if let Some(p) = &*c.preview_text {
            self.mc_line(p, "preview_text", &mut r);
        }
        if let Some(to) = &*c.reply_to {
            let t = to.trim();
            if !t.is_empty() && !crate::spec::audience::plausible(t) {
                self.err(
                    to.span,
                    Code::InvalidValue,
                    "`reply_to` is not an e-mail address",
                    "write the address replies go to, e.g. news@example.com",
                );
            }
        }
        match &*c.recipients {
            Some(tag) => {
                if let Some(v) = self.audience_ref(acct, tag) {
                    r.fields.insert("recipients", v);
                }
            }
            None if !c.recipients.is_invalid() => {
                r.fields.insert("recipients", Value::str("all"));
            }
            None => {}
        }
        if let Some(h) = &*c.html {
            if let Some(html) = self.mc_html(h) {
                r.fields.insert("html", Value::Str(html));
            }
        }
        match &*c.schedule {
            Some(t) => {
                if let Some(at) = self.mc_schedule(t) {
                    // no content here is Mailchimp's to judge: a campaign made elsewhere (imported, adopted) has
                    // its content there, and the send checklist refuses to schedule one without
                    r.fields.insert("schedule_time", Value::Str(at));
                }
            }
            None if !c.schedule.is_invalid() => {
                r.fields.insert("schedule_time", Value::str(""));
            }
            None => {}
        }
        self.resources.push(r);
    }

    /// `schedule:`: RFC 3339, to UTC, on a quarter hour with no seconds (Mailchimp schedules only then).
    fn mc_schedule(&mut self, t: &S<String>) -> Option<String> {
        use chrono::Timelike;
        let Ok(at) = chrono::DateTime::parse_from_rfc3339(t.trim()) else {
            self.err(
                t.span,
                Code::InvalidValue,
                format!("`{}` is not an RFC 3339 time", t.value),
                "write it as \"2026-03-02T09:00:00Z\" (UTC) or with an offset, \"2026-03-02T10:00:00+01:00\"",
            );
            return None;
        };
        let utc = at.with_timezone(&chrono::Utc);
        if utc.minute() % 15 != 0 || utc.second() != 0 || utc.nanosecond() != 0 {
            self.err(
                t.span,
                Code::Constraint,
                "Mailchimp sends scheduled campaigns only on the quarter hour",
                "use :00, :15, :30 or :45 with no seconds",
            );
            return None;
        }
        Some(utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    /// The HTML content of `html:` (a file inside the config directory, UTF-8, at most [`MAX_HTML_BYTES`]).
    fn mc_html(&mut self, h: &S<String>) -> Option<String> {
        let rel = Path::new(h.trim());
        if rel.as_os_str().is_empty()
            || rel.is_absolute()
            || rel.components().any(|c| matches!(c, std::path::Component::ParentDir))
        {
            self.err(
                h.span,
                Code::InvalidValue,
                "`html` must be a file inside the config directory",
                "write a relative path such as `content/spring.html`",
            );
            return None;
        }
        let root = std::fs::canonicalize(self.root).unwrap_or_else(|_| self.root.to_path_buf());
        let full = self.root.join(rel);
        use crate::spec::guard::{read_confined, Refused};
        let (message, hint) = match read_confined(&root, &full, MAX_HTML_BYTES) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(s) if s.trim().is_empty() => ("the HTML file is empty".to_string(), "write the e-mail's HTML in it"),
                Ok(s) => return Some(s),
                Err(_) => (
                    "the HTML file is not UTF-8".to_string(),
                    "save it as UTF-8 (Mailchimp takes UTF-8)",
                ),
            },
            Err(Refused::Outside { .. }) => (
                "the HTML file resolves outside the config directory".to_string(),
                "adsctl reads only files inside the directory holding adsctl.yaml; copy the file in instead",
            ),
            Err(Refused::Dangling { .. }) => (
                "the HTML file is a symbolic link to a file that does not exist".to_string(),
                "fix or remove the link",
            ),
            Err(Refused::NotRegular(kind)) => (
                format!("the HTML file is {kind}, not a regular file"),
                "point `html` at an HTML file",
            ),
            Err(Refused::TooLarge { .. }) => (
                format!("the HTML file is larger than {} MiB", MAX_HTML_BYTES / (1024 * 1024)),
                "move images out of the HTML (link them) and keep the content smaller",
            ),
            Err(Refused::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => (
                "the HTML file does not exist".to_string(),
                "the path is relative to the directory holding adsctl.yaml",
            ),
            Err(Refused::Io(e)) => (
                format!("cannot read the HTML file: {}", e.kind()),
                "the path is relative to the directory holding adsctl.yaml",
            ),
        };
        self.err(h.span, Code::InvalidValue, message, hint);
        None
    }

    /// A customer-file audience in a Mailchimp account: a tag. Its members' addresses, consent statuses and
    /// merge fields are filed in memory for the connector (`connectors::clear`); the resource holds only the
    /// subscriber hashes (set by the shared audience lowering through `hash_email`).
    pub(crate) fn mailchimp_audience(&mut self, a: &Audience, r: &mut Resource) {
        let mut mapped = Vec::new();
        if let Some(m) = &*a.merge_fields {
            for (tag, col) in &m.value {
                if !merge_tag(tag) {
                    self.err(
                        m.span,
                        Code::InvalidValue,
                        format!("`{tag}` is not a Mailchimp merge tag"),
                        "merge tags are upper-case letters, digits and `_`, at most 10, e.g. FNAME",
                    );
                    continue;
                }
                mapped.push((tag.clone(), col.trim().to_string()));
            }
        }
        let default_status = a.new_member_status.as_ref().map(|s| s.wire().to_string());
        let Some(cf) = &*a.customer_file else {
            if let Some(m) = &*a.merge_fields {
                self.err(
                    m.span,
                    Code::Constraint,
                    "`merge_fields` name columns of a customer file",
                    "add `customer_file: { path: …, column: email }`",
                );
            }
            return;
        };
        // the shared audience lowering reads (and reports) the address column; nothing more to say if it failed
        if self.emails(cf).is_none() {
            return;
        }
        let status_column = a.status_column.as_ref().map(|s| s.trim().to_string());
        if status_column.is_none() && mapped.is_empty() {
            // the address column alone, as the shared lowering read it: no second read of the file
            self.file_clear_members(a, r, subscriber_hash, default_status);
            return;
        }
        let column = cf.column.trim().to_string();
        let rows = self.csv_file(&cf.path, cf.column.span, |root, path| {
            crate::spec::audience::clear_rows(root, path, &column, status_column.as_deref(), &mapped)
        });
        let Some(rows) = rows else { return };
        let mut book = HashMap::with_capacity(rows.len());
        for row in rows {
            book.insert(
                subscriber_hash(&row.email),
                ClearMember {
                    email: row.email,
                    status: row.status.or_else(|| default_status.clone()),
                    fields: row.fields.into_iter().collect(),
                },
            );
        }
        clear::file(&r.address.to_string(), book);
    }

    /// A `lists:` entry: the audience's settings (`acct/list/settings`) and one `acct/merge_field/<TAG>` per merge
    /// field. Only what is written becomes a field: the rest of the audience stays as Mailchimp has it.
    pub(crate) fn mailchimp_list(&mut self, acct: &Account, l: MailchimpList) {
        let addr = Address::account(&acct.name).child(Kind::List, LIST_NAME);
        if let Some(first) = self.declared.get(&addr).copied() {
            let first = self.location(first);
            self.err(
                l.account.span,
                Code::Duplicate,
                format!("account `{}` has a `lists:` entry already (at {first})", acct.name),
                "an account is one audience: write its settings and merge fields in one entry",
            );
            return;
        }
        if !self.declare(&addr, l.account.span, "list") {
            return;
        }
        let mut r = self.resource(addr, Kind::List, l.account.span, &None, &None, acct.platform);
        r.id = Some(acct.platform_id.clone());
        for (v, field) in [
            (&l.audience_name, "audience_name"),
            (&l.permission_reminder, "permission_reminder"),
        ] {
            if let Some(s) = &**v {
                self.mc_line(s, field, &mut r);
            }
        }
        for (v, field) in [
            (&l.email_type_option, "email_type_option"),
            (&l.double_optin, "double_optin"),
            (&l.marketing_permissions, "marketing_permissions"),
            (&l.use_archive_bar, "use_archive_bar"),
        ] {
            if let Some(b) = &**v {
                r.fields.insert(field, Value::Bool(b.value));
            }
        }
        for (v, field) in [
            (&l.notify_on_subscribe, "notify_on_subscribe"),
            (&l.notify_on_unsubscribe, "notify_on_unsubscribe"),
        ] {
            if let Some(s) = &**v {
                if s.trim().is_empty() || self.mc_address(s, field) {
                    r.fields.insert(field, Value::Str(s.trim().to_string()));
                }
            }
        }
        if let Some(c) = &*l.contact {
            for (v, part) in [
                (&c.company, "company"),
                (&c.address1, "address1"),
                (&c.address2, "address2"),
                (&c.city, "city"),
                (&c.state, "state"),
                (&c.zip, "zip"),
                (&c.country, "country"),
                (&c.phone, "phone"),
            ] {
                let Some(s) = &**v else { continue };
                let field = format!("contact.{part}");
                let optional = matches!(part, "address2" | "phone" | "state" | "zip");
                if s.contains(['\n', '\r']) {
                    self.mc_line(s, &field, &mut r);
                } else if s.trim().is_empty() && !optional {
                    self.err(
                        s.span,
                        Code::Constraint,
                        format!("`contact.{part}` is empty"),
                        "Mailchimp needs the audience's company, street, city and country for every footer",
                    );
                } else if part == "country"
                    && !(s.trim().len() == 2 && s.trim().bytes().all(|b| b.is_ascii_alphabetic()))
                {
                    self.err(
                        s.span,
                        Code::InvalidValue,
                        format!("`{}` is not a two-letter country code", s.value),
                        "write the ISO 3166 code, e.g. US or FR",
                    );
                } else {
                    let v = if part == "country" {
                        s.trim().to_uppercase()
                    } else {
                        s.trim().to_string()
                    };
                    r.fields.insert(field.as_str(), Value::Str(v));
                }
            }
        }
        if let Some(d) = &*l.campaign_defaults {
            if let Some(s) = &*d.from_name {
                self.mc_line(s, "campaign_defaults.from_name", &mut r);
            }
            if let Some(s) = &*d.from_email {
                if self.mc_address(s, "campaign_defaults.from_email") {
                    r.fields
                        .insert("campaign_defaults.from_email", Value::Str(s.trim().to_string()));
                }
            }
            if let Some(s) = &*d.subject {
                if s.trim().is_empty() {
                    r.fields.insert("campaign_defaults.subject", Value::str(""));
                } else {
                    self.mc_line(s, "campaign_defaults.subject", &mut r);
                }
            }
            if let Some(s) = &*d.language {
                let ok = !s.trim().is_empty()
                    && s.trim().len() <= 5
                    && s.trim().bytes().all(|b| b.is_ascii_alphabetic() || b == b'_');
                if ok {
                    r.fields
                        .insert("campaign_defaults.language", Value::Str(s.trim().to_string()));
                } else {
                    self.err(
                        s.span,
                        Code::InvalidValue,
                        format!("`{}` is not a Mailchimp language code", s.value),
                        "write a code such as en, fr or pt_BR",
                    );
                }
            }
        }
        self.resources.push(r);
        for f in l.merge_fields.into_iter().filter_map(|i| i.value) {
            self.mailchimp_merge_field(acct, f);
        }
    }

    /// A plausible e-mail address (Mailchimp checks it for real); false when reported.
    fn mc_address(&mut self, s: &S<String>, field: &str) -> bool {
        let plausible = crate::spec::audience::plausible(s.trim());
        if !plausible {
            self.err(
                s.span,
                Code::InvalidValue,
                format!("`{field}` is not an e-mail address"),
                "write an address such as news@example.com",
            );
        }
        plausible
    }

    fn mailchimp_merge_field(&mut self, acct: &Account, f: MailchimpMergeField) {
        let tag = f.tag.trim();
        if tag.eq_ignore_ascii_case("EMAIL") {
            self.err(
                f.tag.span,
                Code::InvalidValue,
                "`EMAIL` is the contact's address, not a merge field adsctl can declare",
                "every audience has it; declare only the other merge fields",
            );
            return;
        }
        if !merge_tag(tag) {
            self.err(
                f.tag.span,
                Code::InvalidValue,
                format!("`{}` is not a Mailchimp merge tag", f.tag.value),
                "merge tags are upper-case letters, digits and `_`, at most 10, a letter first, e.g. PLAN",
            );
            return;
        }
        let addr = Address::account(&acct.name).child(Kind::MergeField, tag);
        if !self.declare(&addr, f.tag.span, "merge field") {
            return;
        }
        let mut r = self.resource(addr, Kind::MergeField, f.tag.span, &None, &None, acct.platform);
        match &*f.label {
            Some(s) => self.mc_line(s, "label", &mut r),
            None if !f.label.is_invalid() => self.missing(f.tag.span, "label", "a merge field", "First name"),
            None => {}
        }
        let ty = match &*f.field_type {
            Some(t) => {
                r.fields.insert("type", Value::str(t.value.wire()));
                Some(t.value)
            }
            None => {
                if !f.field_type.is_invalid() {
                    self.missing(f.tag.span, "type", "a merge field", "text");
                }
                None
            }
        };
        for (v, field) in [(&f.required, "required"), (&f.public, "public")] {
            if let Some(b) = &**v {
                r.fields.insert(field, Value::Bool(b.value));
            }
        }
        for (v, field) in [(&f.default_value, "default_value"), (&f.help_text, "help_text")] {
            if let Some(s) = &**v {
                if s.contains(['\n', '\r']) {
                    self.mc_line(s, field, &mut r);
                } else {
                    r.fields.insert(field, Value::Str(s.trim().to_string()));
                }
            }
        }
        if let Some(n) = &*f.display_order {
            r.fields.insert("display_order", Value::Int(i64::from(n.value)));
        }
        let choosing = matches!(ty, Some(MailchimpMergeType::Radio | MailchimpMergeType::Dropdown));
        match &*f.choices {
            Some(c) if ty.is_some() && !choosing => self.err(
                c.span,
                Code::Constraint,
                "`choices` belong to `radio` and `dropdown` merge fields",
                "take `choices` out, or make the type `dropdown`",
            ),
            Some(c) => {
                let mut seen = std::collections::BTreeSet::new();
                let mut list = Vec::new();
                for ch in c.value.iter() {
                    let t = ch.trim();
                    if t.is_empty() || t.contains(['\n', '\r']) {
                        self.err(
                            ch.span,
                            Code::InvalidValue,
                            "a choice is one non-empty line",
                            "write the choice's text",
                        );
                    } else if !seen.insert(t.to_string()) {
                        self.err(
                            ch.span,
                            Code::Duplicate,
                            format!("choice `{t}` is listed twice"),
                            "list each choice once",
                        );
                    } else {
                        list.push(Value::Str(t.to_string()));
                    }
                }
                if list.is_empty() && c.value.is_empty() {
                    self.err(
                        c.span,
                        Code::Constraint,
                        "`choices` is empty",
                        "list the values contacts pick from",
                    );
                }
                r.fields.insert("choices", Value::List(list));
            }
            None if choosing && !f.choices.is_invalid() => {
                self.missing(f.tag.span, "choices", "a radio or dropdown merge field", "[free, pro]")
            }
            None => {}
        }
        let dated = matches!(ty, Some(MailchimpMergeType::Date | MailchimpMergeType::Birthday));
        for (v, field, fits, what) in [
            (&f.date_format, "date_format", dated, "`date` and `birthday`"),
            (
                &f.phone_format,
                "phone_format",
                matches!(ty, Some(MailchimpMergeType::Phone)),
                "`phone`",
            ),
        ] {
            let Some(s) = &**v else { continue };
            if ty.is_some() && !fits {
                self.err(
                    s.span,
                    Code::Constraint,
                    format!("`{field}` belongs to {what} merge fields"),
                    format!("take `{field}` out, or change the type"),
                );
            } else {
                self.mc_line(s, field, &mut r);
            }
        }
        self.resources.push(r);
    }

    /// A campaign's resource and its lowering, for the home.
    pub(crate) fn mailchimp_top(&mut self, account: &Account, c: MailchimpCampaign) {
        if let Some(r) = self.top_resource(account, Kind::Campaign, "campaign", &c.name, &c.id, &c.lifecycle) {
            self.mailchimp_campaign(account, c, r);
        }
    }
}
