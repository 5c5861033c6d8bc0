//! HubSpot: validation and lowering of marketing campaigns into the resources of `docs/resource-model.md`
//! (HubSpot table). Methods of the spec's [`Lower`]. HubSpot's lists are customer-file audiences: the shared
//! audience lowering makes them (`members` hashed by `hash_email`, the addresses filed in memory for the connector).

use crate::model::{Account, Kind, SmallMap, Value};
use crate::spec::error::Code;
use crate::spec::lower::*;
use crate::spec::types::*;

/// A HubSpot owner id: digits.
fn digits(v: &str) -> bool {
    !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit())
}

impl Lower<'_> {
    pub(crate) fn hubspot_campaign(&mut self, acct: &Account, c: HubSpotCampaign) {
        let (Some(name), target) = self.crm_name(acct, &c.name, &c.mirrors, c.account.span, "a HubSpot campaign")
        else {
            return;
        };
        let Some(mut r) = self.top_resource(acct, Kind::Campaign, "campaign", &name, &c.id, &c.lifecycle) else {
            return;
        };
        self.crm_dates(&c.start_date, &c.end_date, &mut r);
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
        self.crm_mirror(
            &r,
            target,
            &c.mirrors,
            [c.start_date.is_some(), c.end_date.is_some()],
            ("spend", false),
        );
        self.resources.push(r);
    }
}
