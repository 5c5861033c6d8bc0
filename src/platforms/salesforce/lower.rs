//! Salesforce: validation and lowering of Campaign records and of the Salesforce side of customer-file audiences
//! into the resources of `docs/resource-model.md` (Salesforce table). Methods of the spec's [`Lower`].

use crate::model::{Account, Address, Kind, Resource, Value};
use crate::spec::error::Code;
use crate::spec::lower::*;
use crate::spec::types::*;

/// Campaign `Name`'s length.
pub const NAME_MAX: usize = 80;
/// A picklist value's length (`Type`, `Status`).
pub const PICKLIST_MAX: usize = 40;
/// `Description`: 32 KB; adsctl's marker takes some of it on audiences.
pub const DESCRIPTION_MAX: usize = 32_000 - 64;

impl Lower<'_> {
    pub(crate) fn salesforce_campaign(&mut self, acct: &Account, c: SalesforceCampaign) {
        let (Some(name), target) = self.crm_name(acct, &c.name, &c.mirrors, c.account.span, "a Salesforce campaign")
        else {
            return;
        };
        let n = name.trim().chars().count();
        if n > NAME_MAX {
            self.err(
                name.span,
                Code::Constraint,
                format!("a Salesforce campaign name is at most {NAME_MAX} characters; this one has {n}"),
                "shorten it (write `name:` when the mirrored campaign's name is too long)",
            );
            return;
        }
        let Some(mut r) = self.top_resource(acct, Kind::Campaign, "campaign", &name, &c.id, &c.lifecycle) else {
            return;
        };
        self.status(&c.status, acct.platform, &mut r);
        for (v, field) in [(&c.campaign_status, "campaign_status"), (&c.campaign_type, "type")] {
            if let Some(s) = &**v {
                if let Some(v) = self.text(s, field, PICKLIST_MAX) {
                    r.fields.insert(field, v);
                }
            }
        }
        self.crm_dates(&c.start_date, &c.end_date, &mut r);
        if let Some(b) = &*c.budgeted_cost {
            if let Some(m) = self.amount(b, acct.currency, "budgeted_cost") {
                if m.micros() % 1_000_000 != 0 {
                    self.err(
                        b.span,
                        Code::InvalidValue,
                        "Salesforce's `BudgetedCost` holds whole units only",
                        "write a whole amount, e.g. `budgeted_cost: 5000`",
                    );
                } else {
                    r.fields.insert("budgeted_cost", Value::Money(m));
                }
            }
        }
        if let Some(p) = &*c.parent {
            let parent = Address::account(&acct.name).child(Kind::Campaign, p.trim());
            if parent == r.address {
                self.err(
                    p.span,
                    Code::Constraint,
                    "a campaign cannot be its own parent",
                    "name another campaign",
                );
            } else {
                self.later_refs.push((parent.clone(), p.span, "parent campaign"));
                r.fields.insert("parent", Value::reference(parent));
            }
        }
        if let Some(d) = &*c.description {
            if let Some(v) = self.text(d, "description", DESCRIPTION_MAX) {
                r.fields.insert("description", v);
            }
        }
        self.crm_mirror(
            &r,
            target,
            &c.mirrors,
            [c.start_date.is_some(), c.end_date.is_some()],
            ("actual_cost", true),
        );
        self.resources.push(r);
    }

    /// A customer-file audience in a Salesforce account: a Campaign of the file's people, with their member status.
    pub(crate) fn salesforce_audience(&mut self, a: &Audience, r: &mut Resource) {
        // the status of the members adsctl adds: filed with each member's address, not a field of the audience
        // (an audience of people the org does not know has no members, hence no status, to read back)
        let status = a
            .member_status
            .as_ref()
            .and_then(|s| self.text(s, "member_status", 765))
            .and_then(|v| v.as_str().map(str::to_string));
        let n = r.address.name().unwrap_or_default().chars().count();
        if n > NAME_MAX {
            self.err(
                a.name.span,
                Code::Constraint,
                format!("a Salesforce campaign name is at most {NAME_MAX} characters; this audience's has {n}"),
                "shorten the audience's name",
            );
        }
        self.file_clear_members(a, r, super::home::email_hash, status);
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Address, Kind, Value};

    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let (src, dst) = (e.path(), to.join(e.file_name()));
            if src.is_dir() {
                copy(&src, &dst);
            } else {
                std::fs::copy(&src, &dst).unwrap();
            }
        }
    }

    /// An example, loaded from a copy (tests never read or write inside the checkout's working files).
    fn load(example: &str) -> crate::model::Project {
        let tmp = tempfile::tempdir().unwrap();
        copy(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(example),
            tmp.path(),
        );
        crate::spec::load(tmp.path()).unwrap_or_else(|e| panic!("{}", e.render(false)))
    }

    #[test]
    fn a_mirror_takes_the_ad_campaigns_name_and_days_and_its_spend_from_metrics() {
        let p = load("salesforce");
        let addr = Address::account("acme-salesforce").child(Kind::Campaign, "Spring Sale - Social");
        let r = p
            .resources
            .iter()
            .find(|r| r.address == addr)
            .expect("the mirror, named after the ad campaign");
        assert_eq!(r.fields.get("start_date"), Some(&Value::str("2027-03-01")));
        assert_eq!(r.fields.get("end_date"), Some(&Value::str("2027-03-31")));
        assert_eq!(
            r.fields.get("parent"),
            Some(&Value::reference(
                Address::account("acme-salesforce").child(Kind::Campaign, "Paid social - Acme")
            ))
        );
        let Some(Value::Map(spend)) = r.fields.get(crate::platforms::sources::SPEND_FIELD) else {
            panic!("no spend to resolve: {:?}", r.fields)
        };
        assert_eq!(spend.get("field"), Some(&Value::str("actual_cost")));
        assert_eq!(spend.get("whole_units"), Some(&Value::Bool(true)));
    }

    #[test]
    fn a_hubspot_mirror_follows_a_google_campaigns_dates() {
        let p = load("hubspot");
        let addr = Address::account("acme-hubspot").child(Kind::Campaign, "Spring Sale");
        let r = p.resources.iter().find(|r| r.address == addr).expect("the mirror");
        assert_eq!(r.fields.get("start_date"), Some(&Value::str("2027-03-01")));
        assert_eq!(r.fields.get("end_date"), Some(&Value::str("2027-03-31")));
        assert_eq!(r.fields.get("color"), Some(&Value::str("#FF7A59")));
        assert!(r.fields.contains_key(crate::platforms::sources::SPEND_FIELD));
    }
}
