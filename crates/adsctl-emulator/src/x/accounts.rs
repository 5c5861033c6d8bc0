//! Ad accounts: `GET /12/accounts` (account_ids, q, paging), `GET|PUT /12/accounts/{a}` (PUT: name,
//! industry_type). Funding instruments are read-only objects (seeded with their account, rendered and listed by
//! [`super::objects`]).

use serde_json::{json, Value};

use super::error::{account_not_found, invalid, Reply, XErr};
use super::params::{page, paging, Params};
use super::state::{iso, Account, State};

const INDUSTRY_TYPES: &[&str] = &[
    "AGENCY",
    "BUSINESS_TO_BUSINESS",
    "ONLINE_SERVICES",
    "EDUCATION",
    "FINANCIAL",
    "HEALTH",
    "GOVERNMENT",
    "MEDIA",
    "MOBILE",
    "RESTAURANT",
    "RETAIL",
    "TECHNOLOGY",
    "TRAVEL",
    "OTHER",
];

pub(super) fn render_account(a: &Account) -> Value {
    json!({
        "id": a.id, "name": a.name, "timezone": a.timezone, "timezone_switch_at": Value::Null,
        "business_id": Value::Null, "business_name": Value::Null, "industry_type": a.industry_type,
        "approval_status": "ACCEPTED", "created_at": iso(a.created_at), "updated_at": iso(a.updated_at),
        "deleted": false,
    })
}

pub(super) fn list_accounts(st: &State, p: &Params) -> Result<Reply, XErr> {
    let pg = paging(p)?;
    let ids = p.ids("account_ids")?;
    let q = p.get("q").map(str::to_lowercase);
    let items = st
        .accounts
        .values()
        .filter(|a| ids.as_ref().is_none_or(|ids| ids.contains(&a.id)))
        .filter(|a| q.as_ref().is_none_or(|q| a.name.to_lowercase().contains(q)))
        .map(render_account)
        .collect();
    let mut r = page(items, &pg);
    r.body["request"] = p.echo(&[]);
    Ok(r)
}

pub(super) fn update_account(st: &mut State, now: i64, a: &str, p: &Params) -> Result<Value, XErr> {
    let name = p.text("name", 255)?;
    let industry = p.enumerated("industry_type", INDUSTRY_TYPES)?;
    let acc = st.accounts.get_mut(a).ok_or_else(|| account_not_found(a))?;
    if let Some(n) = name {
        if n.is_empty() {
            return Err(invalid("name", "name cannot be empty"));
        }
        acc.name = n;
    }
    if industry.is_some() {
        acc.industry_type = industry;
    }
    acc.updated_at = now;
    Ok(render_account(acc))
}
