//! Mailchimp campaigns as YAML for `adsctl import`; the reverse of `lower.rs`. The HTML content is not read
//! (Mailchimp holds it; the title's fingerprint stands for it), so an imported campaign leaves `html` out — adsctl
//! then leaves the content as it is until the YAML names a file.

use serde_yaml::Mapping;

use crate::import::{map_insert, put_path, s, yaml_of, Tree};
use crate::model::{Account, Kind, Resource, Value};

/// The account's `lists:` entry: the audience's settings (texts left empty on Mailchimp are left out: the YAML
/// then does not manage them) and every merge field.
pub fn list(resources: &[&Resource], account: &Account) -> Option<Mapping> {
    let settings = resources.iter().find(|r| r.kind == Kind::List)?;
    let mut m = Mapping::new();
    map_insert(&mut m, "account", s(&account.name));
    for (k, v) in &settings.fields {
        if matches!(v, Value::Str(t) if t.is_empty()) {
            continue;
        }
        put_path(&mut m, k, yaml_of(v, account.currency));
    }
    let mut fields: Vec<&&Resource> = resources.iter().filter(|r| r.kind == Kind::MergeField).collect();
    fields.sort_by_key(|r| {
        (
            r.fields.get("display_order").and_then(Value::as_int),
            r.address.name().map(str::to_string),
        )
    });
    let entries: Vec<serde_yaml::Value> = fields
        .into_iter()
        .map(|f| {
            let mut e = Mapping::new();
            map_insert(&mut e, "tag", s(f.address.name().unwrap_or_default()));
            for (k, v) in &f.fields {
                put_path(&mut e, k, yaml_of(v, account.currency));
            }
            serde_yaml::Value::Mapping(e)
        })
        .collect();
    if !entries.is_empty() {
        map_insert(&mut m, "merge_fields", serde_yaml::Value::Sequence(entries));
    }
    Some(m)
}

/// A campaign as an entry of `campaigns:`.
pub fn campaign(c: &Resource, _tree: &Tree, account: &Account) -> Mapping {
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(c.address.name().unwrap_or_default()));
    map_insert(&mut m, "account", s(&account.name));
    for (from, to) in [
        ("subject", "subject"),
        ("preview_text", "preview_text"),
        ("from_name", "from_name"),
        ("reply_to", "reply_to"),
    ] {
        match c.fields.get(from) {
            // Mailchimp answers "" for a text never set: the YAML leaves it out
            Some(Value::Str(t)) if t.is_empty() => {}
            Some(v) => put_path(&mut m, to, yaml_of(v, account.currency)),
            None => {}
        }
    }
    if let Some(Value::Ref(a)) = c.fields.get("recipients") {
        if let Some(tag) = a.name() {
            map_insert(&mut m, "recipients", s(tag));
        }
    }
    match c.fields.get("schedule_time").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => map_insert(&mut m, "schedule", s(t)),
        _ => {}
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Currency, Guardrails, Kind, Platform, RemovalPolicy};

    #[test]
    fn a_scheduled_campaign_to_a_tag_imports_as_written() {
        let acct = Account {
            name: "mc".into(),
            platform: Platform::Mailchimp,
            platform_id: "57afe96172".into(),
            login_customer_id: None,
            currency: Currency::from_code("USD").unwrap(),
            time_zone: None,
            on_removed: RemovalPolicy::Pause,
            guardrails: Guardrails::default(),
            endpoint: None,
        };
        let addr = Address::account("mc").child(Kind::Campaign, "Spring");
        let mut r = Resource::new(addr, Kind::Campaign);
        r.fields.insert("subject", Value::str("Hello"));
        r.fields.insert("from_name", Value::str("Acme"));
        r.fields.insert("reply_to", Value::str("news@example.com"));
        r.fields.insert(
            "recipients",
            Value::reference(Address::account("mc").child(Kind::Audience, "Buyers")),
        );
        r.fields.insert("schedule_time", Value::str("2026-03-02T09:00:00Z"));
        let tree = Tree::new(&[]);
        let m = campaign(&r, &tree, &acct);
        let y = serde_yaml::to_string(&m).unwrap();
        assert!(y.contains("recipients: Buyers"), "{y}");
        assert!(y.contains("schedule: 2026-03-02T09:00:00Z"), "{y}");
        assert!(!y.contains("html"), "{y}");
    }
}
