//! HubSpot: validation and lowering of marketing campaigns into the resources of `docs/resource-model.md`
//! (HubSpot table). Methods of the spec's [`Lower`]. HubSpot's lists are customer-file audiences: the shared
//! audience lowering makes them (`members` hashed by `hash_email`, the addresses filed in memory for the connector).

use std::collections::HashMap;

use crate::connectors::clear::{self, ClearMember};
use crate::model::{Account, Kind, Resource, SmallMap, Value};
use crate::spec::de::{Opt, Spanned};
use crate::spec::error::Code;
use crate::spec::lower::*;
use crate::spec::types::*;

type S<T> = Spanned<T>;

/// A HubSpot owner id: digits.
fn digits(v: &str) -> bool {
    !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit())
}

impl Lower<'_> {
    /// A date field (`YYYY-MM-DD`), written into `field`; the date when valid.
    pub(crate) fn crm_date(
        &mut self,
        d: &S<String>,
        field: &'static str,
        r: &mut Resource,
    ) -> Option<chrono::NaiveDate> {
        match parse_date(d.trim()) {
            Some(day) => {
                r.fields.insert(field, Value::Str(day.format("%Y-%m-%d").to_string()));
                Some(day)
            }
            None => {
                self.err(
                    d.span,
                    Code::InvalidValue,
                    format!("`{}` is not a date", d.value),
                    format!("write `{field}: 2026-03-01` (YYYY-MM-DD)"),
                );
                None
            }
        }
    }

    /// The name of a CRM campaign: written, or the mirrored ad campaign's; `None` (reported) when neither.
    pub(crate) fn crm_name(
        &mut self,
        account: &Account,
        name: &Opt<String>,
        mirrors: &Opt<String>,
        at: crate::spec::yaml::Span,
        what: &str,
    ) -> (Option<S<String>>, Option<crate::model::Address>) {
        let target = mirrors.as_ref().and_then(|m| self.mirror_target(account, m));
        let name = match (&**name, &target, &**mirrors) {
            (Some(n), _, _) => Some(n.clone()),
            (None, Some(t), Some(m)) => Some(Spanned {
                value: t.name().unwrap_or_default().to_string(),
                span: m.span,
            }),
            _ if name.is_invalid() || mirrors.is_invalid() || mirrors.is_some() => None,
            _ => {
                self.missing(at, "name", what, "Spring Sale");
                None
            }
        };
        (name, target)
    }

    pub(crate) fn hubspot_campaign(&mut self, acct: &Account, c: HubSpotCampaign) {
        let (Some(name), target) = self.crm_name(acct, &c.name, &c.mirrors, c.account.span, "a HubSpot campaign")
        else {
            return;
        };
        let Some(mut r) = self.top_resource(acct, Kind::Campaign, "campaign", &name, &c.id, &c.lifecycle) else {
            return;
        };
        let start = c
            .start_date
            .as_ref()
            .and_then(|d| self.crm_date(d, "start_date", &mut r));
        if let Some(e) = &*c.end_date {
            if let (Some(end), Some(start)) = (self.crm_date(e, "end_date", &mut r), start) {
                if end < start {
                    self.err(
                        e.span,
                        Code::Constraint,
                        "the campaign ends before it starts",
                        "make `end_date` on or after `start_date`",
                    );
                }
            }
        }
        if let Some(n) = &*c.notes {
            r.fields.insert("notes", Value::Str(n.value.clone()));
        }
        if let Some(a) = &*c.audience {
            r.fields.insert("audience", Value::Str(a.value.clone()));
        }
        if let Some(o) = &*c.owner {
            if digits(o.trim()) {
                r.fields.insert("owner", Value::Str(o.trim().to_string()));
            } else {
                self.err(
                    o.span,
                    Code::InvalidValue,
                    format!("`{}` is not a HubSpot owner id", o.value),
                    "an owner id is digits (HubSpot's Settings → Users shows it); quote it: `owner: \"12345\"`",
                );
            }
        }
        if let Some(col) = &*c.color {
            let v = col.trim();
            if v.len() == 7 && v.starts_with('#') && v[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
                r.fields.insert("color", Value::Str(v.to_ascii_uppercase()));
            } else {
                self.err(
                    col.span,
                    Code::InvalidValue,
                    format!("`{}` is not a colour", col.value),
                    "write it as `#RRGGBB`, e.g. `color: \"#FF7A59\"` (quote it: # starts a YAML comment)",
                );
            }
        }
        if let Some(items) = &*c.budget_items {
            let mut out = Vec::new();
            for item in items.iter().filter_map(|i| i.value.as_ref()) {
                if item.name.trim().is_empty() {
                    self.err(
                        item.name.span,
                        Code::Constraint,
                        "a budget item's `name` is empty",
                        "say what the money is for",
                    );
                    continue;
                }
                let Some(m) = self.amount(&item.amount, acct.currency, "amount") else {
                    continue;
                };
                let mut map = SmallMap::new();
                map.insert("name", Value::Str(item.name.trim().to_string()));
                map.insert("amount", Value::Money(m));
                out.push(Value::Map(map));
            }
            r.fields.insert("budget_items", Value::List(out));
        }
        if let (Some(t), Some(m)) = (target, &*c.mirrors) {
            self.mirrors.push(Mirror {
                at: r.address.clone(),
                target: t,
                span: m.span,
                dates: [
                    ("start_date", c.start_date.is_some()),
                    ("end_date", c.end_date.is_some()),
                ],
                spend: ("spend", false),
            });
        }
        self.resources.push(r);
    }

    /// A customer-file audience in a CRM account (HubSpot, Salesforce): its members' addresses filed in memory for
    /// the connector, under the hash the home gives.
    pub(crate) fn crm_audience(
        &mut self,
        a: &Audience,
        r: &mut Resource,
        hash: fn(&str) -> String,
        status: Option<String>,
    ) {
        let Some(cf) = &*a.customer_file else { return };
        let Some(emails) = self.emails(cf) else { return };
        let book: HashMap<String, ClearMember> = emails
            .iter()
            .map(|e| {
                (
                    hash(e),
                    ClearMember {
                        email: e.trim().to_string(),
                        status: status.clone(),
                        ..ClearMember::default()
                    },
                )
            })
            .collect();
        clear::file(&r.address.to_string(), book);
    }
}
