//! Mutate semantics: create / update (with updateMask) / remove, the platform rules, temporary ids,
//! atomic vs partial failure, validateOnly, and change_status rows.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::errors::{self, AdsError, Code};
use super::resources::{screaming, Res};
use super::schema::{schema, FieldKind};
use super::store::{name_scope, now_string, parse_rn, ChangeRow, Customer, Obj, Prev};

pub type Loc = Vec<(String, Option<usize>)>;

/// One write request against one customer. Changes are applied at once and undone on failure.
pub struct MutateCtx<'a> {
    pub cust: &'a mut Customer,
    pub seq: u64,
    pub next_id: &'a mut u64,
    pub today: NaiveDate,
    pub allow_temp_ids: bool,
    /// Return the mutated resources (responseContentType MUTABLE_RESOURCE).
    pub want_resources: bool,
    undo: Vec<(Res, String, Option<Obj>)>,
    changes: Vec<(String, Value)>,
    temp: HashMap<String, String>,
    failed_temp: HashSet<String>,
    /// The negative numbers of the temporary ids defined so far: unique across resource types.
    temp_nums: HashSet<String>,
    /// Resource names mutated so far in this request (mutateError ID_EXISTS_IN_MULTIPLE_MUTATES).
    touched: HashSet<String>,
    /// Asset groups and campaigns whose PMax rules are checked when the request ends (pmax.rs).
    pub(super) pmax: super::pmax::Touched,
}

/// Marks where one operation started, to undo just that operation (partial failure).
pub struct Savepoint {
    undo: usize,
    changes: usize,
}

impl<'a> MutateCtx<'a> {
    pub fn new(cust: &'a mut Customer, seq: u64, next_id: &'a mut u64, today: NaiveDate, temp: bool) -> Self {
        MutateCtx {
            cust,
            seq,
            next_id,
            today,
            allow_temp_ids: temp,
            want_resources: false,
            undo: Vec::new(),
            changes: Vec::new(),
            temp: HashMap::new(),
            failed_temp: HashSet::new(),
            temp_nums: HashSet::new(),
            touched: HashSet::new(),
            pmax: Default::default(),
        }
    }

    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            undo: self.undo.len(),
            changes: self.changes.len(),
        }
    }

    pub fn rollback_to(&mut self, sp: &Savepoint) {
        while self.undo.len() > sp.undo {
            if let Some((res, key, old)) = self.undo.pop() {
                self.cust.set(res, &key, old);
            }
        }
        self.changes.truncate(sp.changes);
    }

    /// Keep the changes: write the change_status rows.
    pub fn commit(mut self) {
        let now = now_string();
        for (rn, mut row) in std::mem::take(&mut self.changes) {
            *self.next_id += 1;
            let id = *self.next_id;
            let status = row
                .get("resourceStatus")
                .and_then(Value::as_str)
                .unwrap_or("CHANGED")
                .to_string();
            // A resource added and then changed within the sync window still reads as ADDED.
            let keep_added = status == "CHANGED"
                && self
                    .cust
                    .change_status
                    .get(&rn)
                    .is_some_and(|r| r.v.get("resourceStatus").and_then(Value::as_str) == Some("ADDED"));
            if let Some(m) = row.as_object_mut() {
                m.insert(
                    "resourceName".into(),
                    Value::String(format!("customers/{}/changeStatus/{id}", self.cust.info.id)),
                );
                m.insert("lastChangeDateTime".into(), Value::String(now.clone()));
                if keep_added {
                    m.insert("resourceStatus".into(), Value::String("ADDED".into()));
                }
            }
            self.cust.change_status.insert(rn, ChangeRow { id, v: row });
        }
    }

    /// Undo everything.
    pub fn rollback(mut self) {
        let sp = Savepoint { undo: 0, changes: 0 };
        self.rollback_to(&sp);
    }

    pub(super) fn new_id(&mut self) -> u64 {
        *self.next_id += 1;
        *self.next_id
    }

    pub(super) fn fresh_id(&mut self) -> u64 {
        self.new_id()
    }

    pub(super) fn res_name(&self, res: Res, key: &str) -> String {
        self.rn(res, key)
    }

    /// fieldError.REQUIRED for a create without `field` (an empty string counts as absent).
    pub(super) fn require(
        &self,
        m: &Map<String, Value>,
        field: &str,
        proto: &str,
        loc: &Loc,
    ) -> Result<(), Vec<AdsError>> {
        if m.get(field).is_none_or(|x| x.as_str() == Some("")) {
            Err(vec![AdsError::new(
                errors::FIELD_REQUIRED,
                "The required field was not present.",
            )
            .under(loc)
            .at("create", None)
            .at(proto, None)])
        } else {
            Ok(())
        }
    }

    /// Record the change, store the object, and hand back what the response needs.
    fn finish(&mut self, res: Res, key: &str, rn: String, v: Value, status: &str) -> (String, Value) {
        self.record_change(res, &rn, &v, status);
        let ret = if self.want_resources { v.clone() } else { Value::Null };
        self.put(res, key, v);
        (rn, ret)
    }

    fn put(&mut self, res: Res, key: &str, v: Value) {
        let (prev, created) = match self.cust.get(res, key) {
            Some(o) if o.seq == self.seq => (o.prev.clone(), o.created),
            Some(o) => (Prev::Was(o.v.clone()), o.created),
            None => (Prev::Created, self.today),
        };
        let obj = Obj {
            v,
            seq: self.seq,
            prev,
            created,
        };
        let old = self.cust.set(res, key, Some(obj));
        self.undo.push((res, key.to_string(), old));
    }

    /// Write an object without the mutate rules (admin drift), recording the change.
    pub fn force_put(&mut self, res: Res, key: &str, v: Value, status: &str) {
        let rn = self.rn(res, key);
        self.put(res, key, v.clone());
        self.record_change(res, &rn, &v, status);
    }

    fn delete(&mut self, res: Res, key: &str) {
        let old = self.cust.set(res, key, None);
        self.undo.push((res, key.to_string(), old));
    }

    fn record_change(&mut self, res: Res, rn: &str, v: &Value, status: &str) {
        let Some(ct) = res.def().change_type else {
            return;
        };
        let mut row = Map::new();
        row.insert("resourceType".into(), json!(ct));
        row.insert("resourceStatus".into(), json!(status));
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(|x| Value::String(x.to_string()));
        match res {
            Res::Campaign => {
                row.insert("campaign".into(), json!(rn));
            }
            Res::CampaignBudget => {
                row.insert("campaignBudget".into(), json!(rn));
            }
            Res::AdGroup => {
                row.insert("adGroup".into(), json!(rn));
                if let Some(c) = s("campaign") {
                    row.insert("campaign".into(), c);
                }
            }
            Res::CampaignCriterion => {
                row.insert("campaignCriterion".into(), json!(rn));
                if let Some(c) = s("campaign") {
                    row.insert("campaign".into(), c);
                }
            }
            Res::AdGroupAd | Res::AdGroupCriterion => {
                let field = if res == Res::AdGroupAd {
                    "adGroupAd"
                } else {
                    "adGroupCriterion"
                };
                row.insert(field.into(), json!(rn));
                if let Some(ag) = s("adGroup") {
                    if let Some(c) = self
                        .cust
                        .get_rn(ag.as_str().unwrap_or_default())
                        .and_then(|(_, o)| o.v.get("campaign").cloned())
                    {
                        row.insert("campaign".into(), c);
                    }
                    row.insert("adGroup".into(), ag);
                }
            }
            _ => {}
        }
        self.changes.push((rn.to_string(), Value::Object(row)));
    }

    /// Replace temporary resource names with the real ones created earlier in this request.
    fn substitute(&self, v: &mut Value) -> Result<(), String> {
        match v {
            Value::String(s) => {
                if let Some(real) = self.temp.get(s.as_str()) {
                    *s = real.clone();
                } else if is_temp_rn(s) {
                    return Err(s.clone());
                }
                Ok(())
            }
            Value::Array(a) => a.iter_mut().try_for_each(|x| self.substitute(x)),
            Value::Object(m) => m.values_mut().try_for_each(|x| self.substitute(x)),
            _ => Ok(()),
        }
    }

    /// Apply one `XxxOperation` (already checked by the JSON front end). Returns the resource name and the
    /// resource (for `MUTABLE_RESOURCE` responses).
    pub fn apply(&mut self, res: Res, op: Value, loc: &Loc) -> Result<(String, Value), Vec<AdsError>> {
        let err = |code: Code, msg: &str, path: &[&str]| {
            let mut e = AdsError::new(code, msg).under(loc);
            for p in path {
                e = e.at(p, None);
            }
            vec![e]
        };
        let Value::Object(mut op) = op else {
            return Err(err(
                errors::OPERATION_REQUIRED,
                "Mutate operations must have 'create', 'update', or 'remove' specified.",
                &[],
            ));
        };
        let substituted = if self.allow_temp_ids {
            self.substitute_op(&mut op)
        } else {
            Ok(())
        };
        if let Err(t) = substituted {
            let code = if self.failed_temp.contains(&t) {
                errors::TEMP_ID_RESOURCE_HAD_ERRORS
            } else {
                errors::RESOURCE_NOT_FOUND
            };
            return Err(vec![AdsError::new(
                code,
                "The operation refers to a temporary id that was not created before it in this request.",
            )
            .trigger(t)
            .under(loc)]);
        }
        if let Some(body) = op.remove("create") {
            let temp_name = body
                .get("resourceName")
                .and_then(Value::as_str)
                .filter(|s| is_temp_rn(s))
                .map(str::to_string);
            if let Some(t) = &temp_name {
                // "unique negative numbers across types": -1 may name one new object of the request, whatever
                // its type
                let num = t.rsplit(['/', '~']).next().unwrap_or_default().to_string();
                if !self.temp_nums.insert(num) {
                    return Err(err(
                        errors::DUPLICATE_TEMP_IDS,
                        "Creating more than one resource with the same temp ID is not allowed.",
                        &["create", "resource_name"],
                    ));
                }
            }
            let r = self.create(res, body, loc);
            if let Some(t) = temp_name {
                match &r {
                    Ok((rn, _)) => {
                        self.temp.insert(t, rn.clone());
                    }
                    Err(_) => {
                        self.failed_temp.insert(t);
                    }
                }
            }
            if let Ok((rn, _)) = &r {
                self.touched.insert(rn.clone());
            }
            r
        } else if let Some(body) = op.get("update") {
            let rn = body.get("resourceName").and_then(Value::as_str).unwrap_or_default();
            self.once(rn, loc, "update")?;
            let r = self.update(res, body, op.get("updateMask"), loc);
            if r.is_ok() {
                self.touched.insert(rn.to_string());
            }
            r
        } else if let Some(rn) = op.get("remove") {
            let rn = rn.as_str().unwrap_or_default();
            self.once(rn, loc, "remove")?;
            let r = self.remove(res, rn, loc);
            if r.is_ok() {
                self.touched.insert(rn.to_string());
            }
            r
        } else {
            Err(err(
                errors::OPERATION_REQUIRED,
                "Mutate operations must have 'create', 'update', or 'remove' specified.",
                &[],
            ))
        }
    }

    /// mutate_error.proto ID_EXISTS_IN_MULTIPLE_MUTATES: "Cannot mutate the same resource twice in one request."
    fn once(&self, rn: &str, loc: &Loc, what: &str) -> Result<(), Vec<AdsError>> {
        if !rn.is_empty() && self.touched.contains(rn) {
            let (code, msg) = if rn.contains("/assetGroupListingGroupFilters/") {
                (
                    errors::LGF_MULTIPLE_OPERATIONS_ON_ONE_NODE,
                    "There cannot be more than one mutate operation per request that targets a single asset group listing group filter.",
                )
            } else {
                (
                    errors::ID_EXISTS_IN_MULTIPLE_MUTATES,
                    "Cannot mutate the same resource twice in one request.",
                )
            };
            let mut e = AdsError::new(code, msg)
                .trigger(rn.to_string())
                .under(loc)
                .at(what, None);
            if what == "update" {
                e = e.at("resource_name", None);
            }
            return Err(vec![e]);
        }
        Ok(())
    }

    /// AdService: update an ad in place (`customers/{cid}/ads/{adId}`), e.g. a responsive search ad's
    /// headlines. The ad lives inside its ad group ad; the change is recorded on the ad group ad.
    pub fn update_ad(&mut self, op: Value, loc: &Loc) -> Result<(String, Value), Vec<AdsError>> {
        let Value::Object(mut op) = op else {
            return Err(vec![AdsError::new(
                errors::OPERATION_REQUIRED,
                "Mutate operations must have 'update' specified.",
            )
            .under(loc)]);
        };
        if self.allow_temp_ids {
            if let Err(t) = self.substitute_op(&mut op) {
                return Err(vec![AdsError::new(
                    errors::RESOURCE_NOT_FOUND,
                    "The operation refers to an unknown temporary id.",
                )
                .trigger(t)
                .under(loc)]);
            }
        }
        let Some(body) = op.get("update") else {
            return Err(vec![AdsError::new(
                errors::OPERATION_REQUIRED,
                "Mutate operations must have 'update' specified.",
            )
            .under(loc)]);
        };
        let rn = body
            .get("resourceName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let e = |code: Code, msg: &str| {
            vec![AdsError::new(code, msg)
                .trigger(rn.clone())
                .under(loc)
                .at("update", None)
                .at("resource_name", None)]
        };
        if rn.is_empty() {
            return Err(e(errors::RESOURCE_NAME_MISSING, "The resource name is missing."));
        }
        self.once(&rn, loc, "update")?;
        let prefix = format!("customers/{}/ads/", self.cust.info.id);
        let Some(ad_id) = rn
            .strip_prefix(&prefix)
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        else {
            return Err(e(errors::RESOURCE_NAME_MALFORMED, "The resource name is malformed."));
        };
        let suffix = format!("~{ad_id}");
        let found = self
            .cust
            .table(Res::AdGroupAd)
            .and_then(|t| t.iter().find(|(k, _)| k.ends_with(&suffix)))
            .map(|(k, o)| (k.clone(), o.v.clone()));
        let Some((key, mut v)) = found else {
            return Err(e(errors::RESOURCE_NOT_FOUND, "The resource was not found."));
        };
        if v.get("status").and_then(Value::as_str) == Some("REMOVED") {
            return Err(e(
                errors::CANNOT_OPERATE_ON_REMOVED_ADGROUPAD,
                "Cannot operate on a removed ad group ad.",
            ));
        }
        let Some(mask) = op
            .get("updateMask")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
        else {
            return Err(vec![AdsError::new(
                errors::FIELD_MASK_MISSING,
                "The field mask must be set for an update.",
            )
            .under(loc)
            .at("update_mask", None)]);
        };
        let mut ad = v.get("ad").cloned().unwrap_or_else(|| json!({}));
        for path in mask.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some(f) = schema().json_path("resources.Ad", path) else {
                return Err(vec![AdsError::new(
                    errors::FIELD_NOT_FOUND,
                    "The field mask contained an invalid field.",
                )
                .trigger(path.to_string())
                .under(loc)
                .at("update_mask", None)]);
            };
            if f.is_immutable() || f.is_output_only() {
                return Err(vec![AdsError::new(
                    errors::IMMUTABLE_FIELD,
                    "The field cannot be modified after creation.",
                )
                .trigger(path.to_string())
                .under(loc)
                .at("update", None)
                .at(&f.name, None)]);
            }
            copy_path(body, &mut ad, path);
        }
        v["ad"] = ad.clone();
        let aga_rn = self.rn(Res::AdGroupAd, &key);
        self.record_change(Res::AdGroupAd, &aga_rn, &v, "CHANGED");
        self.put(Res::AdGroupAd, &key, v);
        self.touched.insert(rn.clone());
        Ok((rn, if self.want_resources { ad } else { Value::Null }))
    }

    fn substitute_op(&self, op: &mut Map<String, Value>) -> Result<(), String> {
        for (k, v) in op.iter_mut() {
            if k == "create" {
                // the create's own temporary resource name is the definition, not a reference
                if let Value::Object(m) = v {
                    for (fk, fv) in m.iter_mut() {
                        if fk != "resourceName" {
                            self.substitute(fv)?;
                        }
                    }
                }
            } else {
                self.substitute(v)?;
            }
        }
        Ok(())
    }

    pub(super) fn rn(&self, res: Res, key: &str) -> String {
        format!("customers/{}/{}/{key}", self.cust.info.id, res.def().coll)
    }

    pub(super) fn live_ref(
        &self,
        rn: &str,
        want: Res,
        field: &str,
        loc: &Loc,
        what: &str,
    ) -> Result<Value, Vec<AdsError>> {
        let at = |code: Code, msg: String| {
            vec![AdsError::new(code, msg)
                .trigger(rn.to_string())
                .under(loc)
                .at(what, None)
                .at(field, None)]
        };
        match self.cust.get_rn(rn) {
            Some((r, o)) if r == want => {
                if o.v.get("status").and_then(Value::as_str) == Some("REMOVED") {
                    let code = if want == Res::CampaignBudget {
                        errors::CAMPAIGN_BUDGET_REMOVED
                    } else {
                        errors::OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE
                    };
                    Err(at(code, "The operation is not permitted on a removed resource.".into()))
                } else {
                    Ok(o.v.clone())
                }
            }
            _ => Err(at(errors::RESOURCE_NOT_FOUND, "The resource was not found.".into())),
        }
    }

    fn create(&mut self, res: Res, body: Value, loc: &Loc) -> Result<(String, Value), Vec<AdsError>> {
        let mut v = body;
        strip_output_only(&res.message(), &mut v);
        let Some(m) = v.as_object_mut() else {
            return Err(vec![
                AdsError::new(errors::OPERATION_REQUIRED, "Empty create.").under(loc)
            ]);
        };
        m.remove("resourceName");
        let req = |m: &Map<String, Value>, field: &str, proto: &str| -> Result<(), Vec<AdsError>> {
            if m.get(field).is_none_or(|x| x.as_str() == Some("")) {
                Err(vec![AdsError::new(
                    errors::FIELD_REQUIRED,
                    "The required field was not present.",
                )
                .under(loc)
                .at("create", None)
                .at(proto, None)])
            } else {
                Ok(())
            }
        };
        let cid = self.cust.info.id.clone();
        let key: String;
        match res {
            Res::CampaignBudget => {
                let shared = m.get("explicitlyShared").and_then(Value::as_bool).unwrap_or(true);
                if shared {
                    req(m, "name", "name")?;
                }
                let period = m.get("period").and_then(Value::as_str).unwrap_or("DAILY").to_string();
                if period == "CUSTOM_PERIOD" {
                    req(m, "totalAmountMicros", "total_amount_micros")?;
                } else {
                    req(m, "amountMicros", "amount_micros")?;
                }
                check_money(m, loc)?;
                m.entry("status").or_insert(json!("ENABLED"));
                m.entry("deliveryMethod").or_insert(json!("STANDARD"));
                m.entry("explicitlyShared").or_insert(json!(shared));
                m.entry("period").or_insert(json!(period));
                key = self.new_id().to_string();
            }
            Res::Campaign => {
                req(m, "name", "name")?;
                req(m, "advertisingChannelType", "advertising_channel_type")?;
                req(m, "campaignBudget", "campaign_budget")?;
                let budget_rn = m
                    .get("campaignBudget")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let budget = self.live_ref(&budget_rn, Res::CampaignBudget, "campaign_budget", loc, "create")?;
                if budget.get("explicitlyShared").and_then(Value::as_bool) == Some(false)
                    && self.cust.budget_uses(&budget_rn) > 0
                {
                    return Err(vec![AdsError::new(
                        errors::IMPLICITLY_SHARED_BUDGET_MULTIPLE_CAMPAIGNS,
                        "A campaign budget that is not explicitly shared can only be used by one campaign.",
                    )
                    .trigger(budget_rn)
                    .under(loc)
                    .at("create", None)
                    .at("campaign_budget", None)]);
                }
                let Some(kind) = bidding_member(m) else {
                    return Err(vec![AdsError::new(
                        errors::FIELD_REQUIRED,
                        "A bidding strategy is required: set exactly one member of campaign_bidding_strategy.",
                    )
                    .under(loc)
                    .at("create", None)]);
                };
                if m.get("containsEuPoliticalAdvertising").is_none() {
                    return Err(vec![AdsError::new(
                        errors::EU_POLITICAL_ADVERTISING_DECLARATION_REQUIRED,
                        "The campaign must declare whether it contains EU political advertising.",
                    )
                    .under(loc)
                    .at("create", None)
                    .at("contains_eu_political_advertising", None)]);
                }
                super::pmax::campaign_rules(self.cust, m, None, Some(&budget), loc, "create")?;
                if let Some(t) = bidding_type(&kind) {
                    m.insert("biddingStrategyType".into(), json!(t));
                }
                m.entry("status").or_insert(json!("ENABLED"));
                m.insert("servingStatus".into(), json!("SERVING"));
                key = self.new_id().to_string();
            }
            Res::AdGroup => {
                req(m, "name", "name")?;
                req(m, "campaign", "campaign")?;
                let c = m
                    .get("campaign")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.live_ref(&c, Res::Campaign, "campaign", loc, "create")?;
                m.entry("status").or_insert(json!("ENABLED"));
                key = self.new_id().to_string();
            }
            Res::AdGroupAd => {
                req(m, "adGroup", "ad_group")?;
                req(m, "ad", "ad")?;
                let ag = m.get("adGroup").and_then(Value::as_str).unwrap_or_default().to_string();
                self.live_ref(&ag, Res::AdGroup, "ad_group", loc, "create")?;
                let ad_id = self.new_id();
                let ag_id = ag.rsplit('/').next().unwrap_or_default().to_string();
                if let Some(Value::Object(ad)) = m.get_mut("ad") {
                    let member = ad.keys().find(|k| k.ends_with("Ad") || k.ends_with("AdInfo")).cloned();
                    ad.insert("resourceName".into(), json!(format!("customers/{cid}/ads/{ad_id}")));
                    ad.insert("id".into(), json!(ad_id.to_string()));
                    if let Some(t) = member.map(|k| screaming(&k)) {
                        if schema().enum_has("google.ads.googleads.v25.enums.AdTypeEnum.AdType", &t) {
                            ad.insert("type".into(), json!(t));
                        }
                    }
                }
                m.entry("status").or_insert(json!("ENABLED"));
                m.insert(
                    "policySummary".into(),
                    json!({"reviewStatus": "REVIEWED", "approvalStatus": "APPROVED"}),
                );
                key = format!("{ag_id}~{ad_id}");
            }
            Res::AdGroupCriterion => {
                req(m, "adGroup", "ad_group")?;
                let ag = m.get("adGroup").and_then(Value::as_str).unwrap_or_default().to_string();
                self.live_ref(&ag, Res::AdGroup, "ad_group", loc, "create")?;
                if let Some(kw) = m.get("keyword") {
                    check_keyword(kw, loc)?;
                }
                let crit_id = self.new_id();
                let ag_id = ag.rsplit('/').next().unwrap_or_default().to_string();
                let criterion = m
                    .keys()
                    .find(|k| {
                        schema()
                            .message("resources.AdGroupCriterion")
                            .and_then(|msg| msg.by_json(k))
                            .is_some_and(|f| f.oneof.as_deref() == Some("criterion"))
                    })
                    .cloned();
                if let Some(t) = criterion.map(|k| screaming(&k)) {
                    if schema().enum_has("google.ads.googleads.v25.enums.CriterionTypeEnum.CriterionType", &t) {
                        m.insert("type".into(), json!(t));
                    }
                }
                m.insert("criterionId".into(), json!(crit_id.to_string()));
                m.entry("status").or_insert(json!("ENABLED"));
                m.entry("negative").or_insert(json!(false));
                m.insert("approvalStatus".into(), json!("APPROVED"));
                key = format!("{ag_id}~{crit_id}");
            }
            Res::Label => {
                check_label(m, loc, "create")?;
                m.insert("status".into(), json!("ENABLED"));
                key = self.new_id().to_string();
            }
            Res::UserList => {
                req(m, "name", "name")?;
                let kind = m
                    .keys()
                    .find(|k| {
                        schema()
                            .message("resources.UserList")
                            .and_then(|msg| msg.by_json(k))
                            .is_some_and(|f| f.oneof.as_deref() == Some("user_list"))
                    })
                    .cloned();
                let t = match kind.as_deref() {
                    Some("crmBasedUserList") => "CRM_BASED",
                    Some("ruleBasedUserList") => "RULE_BASED",
                    Some("logicalUserList") => "LOGICAL",
                    Some("basicUserList") => "REMARKETING",
                    Some("similarUserList") => "SIMILAR",
                    Some("lookalikeUserList") => "LOOKALIKE",
                    _ => "UNKNOWN",
                };
                m.insert("type".into(), json!(t));
                m.entry("membershipStatus").or_insert(json!("OPEN"));
                m.insert("readOnly".into(), json!(false));
                m.insert("sizeForSearch".into(), json!("0"));
                m.insert("sizeForDisplay".into(), json!("0"));
                m.insert("eligibleForSearch".into(), json!(true));
                m.insert("eligibleForDisplay".into(), json!(true));
                key = self.new_id().to_string();
            }
            Res::ConversionAction => {
                // resources/conversion_action.proto: the name "is required and should not be empty when creating
                // new conversion actions"; the type is IMMUTABLE, so it is given at create (reading chosen:
                // required, as there is no later chance to set it).
                req(m, "name", "name")?;
                req(m, "type", "type")?;
                let t = m.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
                if !conversion_type_creatable(&t) {
                    return Err(vec![AdsError::new(
                        errors::CONVERSION_ACTION_CREATION_NOT_SUPPORTED,
                        "Creation of this conversion action type isn't supported by Google Ads API.",
                    )
                    .trigger(t)
                    .under(loc)
                    .at("create", None)
                    .at("type", None)]);
                }
                check_attribution(m, loc, "create")?;
                m.entry("status").or_insert(json!("ENABLED"));
                // "By default, primary_for_goal will be true if not set."
                m.entry("primaryForGoal").or_insert(json!(true));
                m.insert("ownerCustomer".into(), json!(format!("customers/{cid}")));
                if let Some(o) = conversion_origin(&t) {
                    m.insert("origin".into(), json!(o));
                }
                key = self.new_id().to_string();
            }
            Res::CustomConversionGoal => {
                req(m, "name", "name")?;
                self.check_goal_actions(m, loc, "create")?;
                m.entry("status").or_insert(json!("ENABLED"));
                key = self.new_id().to_string();
            }
            Res::AssetGroup => key = self.create_asset_group(m, loc)?,
            Res::Asset => key = self.create_asset(m, loc)?,
            Res::AssetGroupAsset => key = self.create_asset_group_asset(m, loc)?,
            Res::AssetGroupListingGroupFilter => key = self.create_listing_group(m, loc)?,
            Res::ConversionGoalCampaignConfig => {
                // ConversionGoalCampaignConfigOperation has only `update`: the JSON front end refuses a create.
                return Err(vec![AdsError::new(
                    errors::OPERATION_REQUIRED,
                    "Mutate operations must have 'update' specified.",
                )
                .under(loc)]);
            }
            Res::Experiment => {
                super::experiment::check_create(self, m, loc)?;
                key = self.new_id().to_string();
                m.insert("experimentId".into(), json!(key));
            }
            Res::ExperimentArm => {
                key = super::experiment::create_arm(self, m, loc)?;
            }
            Res::CampaignLabel | Res::AdGroupLabel | Res::AdGroupAdLabel | Res::AdGroupCriterionLabel => {
                let (target_field, target_proto, target_res, dup) = match res {
                    Res::CampaignLabel => (
                        "campaign",
                        "campaign",
                        Res::Campaign,
                        errors::CAMPAIGN_LABEL_ALREADY_EXISTS,
                    ),
                    Res::AdGroupLabel => (
                        "adGroup",
                        "ad_group",
                        Res::AdGroup,
                        errors::ADGROUP_LABEL_ALREADY_EXISTS,
                    ),
                    Res::AdGroupCriterionLabel => (
                        "adGroupCriterion",
                        "ad_group_criterion",
                        Res::AdGroupCriterion,
                        errors::AD_GROUP_CRITERION_LABEL_ALREADY_EXISTS,
                    ),
                    _ => (
                        "adGroupAd",
                        "ad_group_ad",
                        Res::AdGroupAd,
                        errors::AD_GROUP_AD_LABEL_ALREADY_EXISTS,
                    ),
                };
                req(m, target_field, target_proto)?;
                req(m, "label", "label")?;
                let t = m
                    .get(target_field)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let l = m.get("label").and_then(Value::as_str).unwrap_or_default().to_string();
                let at = |code: Code, msg: &str, trigger: &str, field: &str| {
                    vec![AdsError::new(code, msg)
                        .trigger(trigger.to_string())
                        .under(loc)
                        .at("create", None)
                        .at(field, None)]
                };
                if res == Res::AdGroupCriterionLabel {
                    // labelError: a label cannot be applied to a negative (or a removed) ad group criterion
                    match self.cust.get_rn(&t) {
                        Some((Res::AdGroupCriterion, o)) => {
                            if o.v.get("negative").and_then(Value::as_bool) == Some(true) {
                                return Err(at(
                                    errors::LABEL_CANNOT_APPLY_TO_NEGATIVE_CRITERION,
                                    "A label cannot be applied to a negative ad group criterion.",
                                    &t,
                                    target_proto,
                                ));
                            }
                            if o.v.get("status").and_then(Value::as_str) == Some("REMOVED") {
                                return Err(at(
                                    errors::LABEL_CANNOT_APPLY_TO_DISABLED_CRITERION,
                                    "A label cannot be applied to a disabled ad group criterion.",
                                    &t,
                                    target_proto,
                                ));
                            }
                        }
                        _ => {
                            self.live_ref(&t, target_res, target_proto, loc, "create")?;
                        }
                    }
                } else {
                    self.live_ref(&t, target_res, target_proto, loc, "create")?;
                }
                match self.cust.get_rn(&l) {
                    Some((Res::Label, o)) if o.v.get("status").and_then(Value::as_str) == Some("REMOVED") => {
                        return Err(at(
                            errors::LABEL_CANNOT_APPLY_INACTIVE,
                            "An inactive label cannot be applied.",
                            &l,
                            "label",
                        ));
                    }
                    _ => {
                        self.live_ref(&l, Res::Label, "label", loc, "create")?;
                    }
                }
                let tk = t.rsplit('/').next().unwrap_or_default();
                let lk = l.rsplit('/').next().unwrap_or_default();
                key = format!("{tk}~{lk}");
                if self.cust.get(res, &key).is_some() {
                    return Err(vec![AdsError::new(
                        dup,
                        "The label is already applied to this resource.",
                    )
                    .trigger(l)
                    .under(loc)
                    .at("create", None)]);
                }
                if self.cust.links_of(res, tk) >= MAX_LABELS_PER_RESOURCE {
                    return Err(at(
                        errors::LABEL_LIMIT_PER_TYPE,
                        "Cannot apply more than 50 labels per resource.",
                        &t,
                        "label",
                    ));
                }
            }
            Res::CampaignCriterion => {
                req(m, "campaign", "campaign")?;
                let c = m
                    .get("campaign")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.live_ref(&c, Res::Campaign, "campaign", loc, "create")?;
                let criterion = m
                    .keys()
                    .find(|k| {
                        schema()
                            .message("resources.CampaignCriterion")
                            .and_then(|msg| msg.by_json(k))
                            .is_some_and(|f| f.oneof.as_deref() == Some("criterion"))
                    })
                    .cloned();
                let Some(criterion) = criterion else {
                    return Err(vec![AdsError::new(
                        errors::CC_CONCRETE_TYPE_REQUIRED,
                        "Concrete type of criterion (keyword v.s. placement) is required for CREATE and UPDATE operations.",
                    )
                    .under(loc)
                    .at("create", None)]);
                };
                let t = screaming(&criterion);
                if schema().enum_has("google.ads.googleads.v25.enums.CriterionTypeEnum.CriterionType", &t) {
                    m.insert("type".into(), json!(t));
                }
                let negative = m.get("negative").and_then(Value::as_bool).unwrap_or(false);
                if negative && m.contains_key("status") {
                    return Err(vec![AdsError::new(
                        errors::CC_CANNOT_SET_STATUS_FOR_EXCLUDED,
                        "Cannot set the campaign criterion status for an excluded criteria.",
                    )
                    .under(loc)
                    .at("create", None)
                    .at("status", None)]);
                }
                if let Some(kw) = m.get("keyword") {
                    check_keyword(kw, loc)?;
                    let same = |o: &Obj| {
                        o.v.get("campaign").and_then(Value::as_str) == Some(c.as_str())
                            && o.v.get("status").and_then(Value::as_str) != Some("REMOVED")
                            && o.v.get("negative").and_then(Value::as_bool).unwrap_or(false) != negative
                            && keyword_key(o.v.get("keyword")) == keyword_key(Some(kw))
                    };
                    let campaign_key = c.rsplit('/').next().unwrap_or_default().to_string();
                    if self.cust.children(Res::CampaignCriterion, &campaign_key).any(same) {
                        return Err(vec![AdsError::new(
                            errors::CC_CANNOT_TARGET_AND_EXCLUDE,
                            "Cannot target and exclude the same criterion.",
                        )
                        .under(loc)
                        .at("create", None)
                        .at("keyword", None)]);
                    }
                    if let Some(text) = kw.get("text").and_then(Value::as_str) {
                        m.insert("displayName".into(), json!(text));
                    }
                }
                let crit_id = self.new_id();
                m.insert("criterionId".into(), json!(crit_id.to_string()));
                m.insert("negative".into(), json!(negative));
                m.entry("status").or_insert(json!("ENABLED"));
                let campaign_id = c.rsplit('/').next().unwrap_or_default().to_string();
                key = format!("{campaign_id}~{crit_id}");
            }
        }
        let rn = self.rn(res, &key);
        if !res.is_label_link() {
            let id = key.rsplit('~').next().unwrap_or_default().to_string();
            match res {
                // Experiment: `experimentId`; an arm has no id field of its own
                Res::AdGroupAd
                | Res::AdGroupCriterion
                | Res::CampaignCriterion
                | Res::AssetGroupAsset
                | Res::Experiment
                | Res::ExperimentArm => {}
                _ => {
                    m.insert("id".into(), json!(id));
                }
            }
        }
        m.insert("resourceName".into(), json!(rn));
        if res == Res::Campaign {
            // resources/campaign.proto (output only): "normal, draft, or experiment"; a base campaign's
            // `base_campaign` "is equal to resource_name"
            m.insert("experimentType".into(), json!("BASE"));
            m.insert("baseCampaign".into(), json!(rn));
        }
        let mut v = Value::Object(std::mem::take(m));
        self.check_unique_name(res, &v, None, loc, "create")?;
        if res == Res::ExperimentArm {
            super::experiment::after_arm_create(self, &mut v, loc)?;
        }
        if res == Res::Campaign {
            // Every campaign has its ConversionGoalCampaignConfig (update only), at the customer's goals.
            let config = json!({
                "resourceName": self.rn(Res::ConversionGoalCampaignConfig, &key),
                "campaign": rn,
                "goalConfigLevel": "CUSTOMER",
            });
            self.force_put(Res::ConversionGoalCampaignConfig, &key, config, "ADDED");
        }
        Ok(self.finish(res, &key, rn, v, "ADDED"))
    }

    /// errors/custom_conversion_goal_error.proto: every conversion action of a custom goal exists
    /// (INVALID_CONVERSION_ACTION) and is enabled (CONVERSION_ACTION_NOT_ENABLED); no other live goal has the
    /// same list (DUPLICATE_CONVERSION_ACTION_LIST). `primary_for_goal` is not checked: "custom conversion goals
    /// do not respect primary_for_goal" (resources/conversion_action.proto).
    fn check_goal_actions(&self, m: &Map<String, Value>, loc: &Loc, what: &str) -> Result<(), Vec<AdsError>> {
        let actions: Vec<String> = m
            .get("conversionActions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let at = |code: Code, msg: &str, trigger: &str| {
            vec![AdsError::new(code, msg)
                .trigger(trigger.to_string())
                .under(loc)
                .at(what, None)
                .at("conversion_actions", None)]
        };
        for a in &actions {
            match self.cust.get_rn(a) {
                Some((Res::ConversionAction, o)) => {
                    if o.v.get("status").and_then(Value::as_str) != Some("ENABLED") {
                        return Err(at(
                            errors::CUSTOM_GOAL_CONVERSION_ACTION_NOT_ENABLED,
                            "The conversion action is not enabled so it cannot be included in a custom conversion goal.",
                            a,
                        ));
                    }
                }
                _ => {
                    return Err(at(
                        errors::CUSTOM_GOAL_INVALID_CONVERSION_ACTION,
                        "Cannot find a conversion action with the specified id.",
                        a,
                    ))
                }
            }
        }
        let mut mine = actions.clone();
        mine.sort();
        let own = m.get("resourceName").and_then(Value::as_str);
        let same = self
            .cust
            .table(Res::CustomConversionGoal)
            .into_iter()
            .flat_map(|t| t.values())
            .any(|o| {
                let mut theirs: Vec<&str> =
                    o.v.get("conversionActions")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                theirs.sort();
                o.v.get("status").and_then(Value::as_str) != Some("REMOVED")
                    && o.v.get("resourceName").and_then(Value::as_str) != own
                    && theirs == mine.iter().map(String::as_str).collect::<Vec<_>>()
            });
        if same && !mine.is_empty() {
            return Err(at(
                errors::CUSTOM_GOAL_DUPLICATE_CONVERSION_ACTION_LIST,
                "Custom goal with the same conversion action list already exists.",
                &mine.join(","),
            ));
        }
        Ok(())
    }

    /// Whether a campaign's ConversionGoalCampaignConfig uses the custom goal `rn`.
    fn goal_linked(&self, rn: &str) -> bool {
        self.cust
            .table(Res::ConversionGoalCampaignConfig)
            .into_iter()
            .flat_map(|t| t.values())
            .any(|o| o.v.get("customConversionGoal").and_then(Value::as_str) == Some(rn))
    }

    fn check_unique_name(
        &self,
        res: Res,
        v: &Value,
        own_key: Option<&str>,
        loc: &Loc,
        what: &str,
    ) -> Result<(), Vec<AdsError>> {
        let (Some(scope), Some(name)) = (name_scope(res, v), v.get("name").and_then(Value::as_str)) else {
            return Ok(());
        };
        if v.get("status").and_then(Value::as_str) == Some("REMOVED") {
            return Ok(());
        }
        match self.cust.name_taken(res, &scope, name) {
            Some(k) if Some(k.as_str()) != own_key => {
                let (code, msg) = match res {
                    Res::Campaign => (
                        errors::DUPLICATE_CAMPAIGN_NAME,
                        "A campaign with this name already exists.",
                    ),
                    Res::AdGroup => (
                        errors::DUPLICATE_ADGROUP_NAME,
                        "An ad group with this name already exists in the campaign.",
                    ),
                    Res::CampaignBudget => (
                        errors::BUDGET_DUPLICATE_NAME,
                        "A campaign budget with this name already exists.",
                    ),
                    Res::Label => (errors::LABEL_DUPLICATE_NAME, "A label with this name already exists."),
                    Res::ConversionAction => (
                        errors::CONVERSION_ACTION_DUPLICATE_NAME,
                        "The specified conversion action name already exists.",
                    ),
                    Res::CustomConversionGoal => (
                        errors::CUSTOM_GOAL_DUPLICATE_NAME,
                        "Custom goal with the same name already exists.",
                    ),
                    Res::AssetGroup => (
                        errors::ASSET_GROUP_DUPLICATE_NAME,
                        "Each asset group in a single campaign must have a unique name.",
                    ),
                    Res::Experiment => (
                        errors::EXP_DUPLICATE_NAME,
                        "The experiment has the same name as an existing active experiment.",
                    ),
                    Res::ExperimentArm => (
                        errors::ARM_DUPLICATE_NAME,
                        "Cannot add duplicate experiment arm name in one experiment.",
                    ),
                    _ => (
                        errors::USER_LIST_NAME_ALREADY_USED,
                        "A user list with this name already exists.",
                    ),
                };
                Err(vec![AdsError::new(code, msg)
                    .trigger(name.to_string())
                    .under(loc)
                    .at(what, None)
                    .at("name", None)])
            }
            _ => Ok(()),
        }
    }

    fn locate(&self, res: Res, rn: &str, loc: &Loc, what: &str) -> Result<(String, Value), Vec<AdsError>> {
        let e = |code: Code, msg: &str| {
            let mut e = AdsError::new(code, msg)
                .trigger(rn.to_string())
                .under(loc)
                .at(what, None);
            if what == "update" {
                e = e.at("resource_name", None);
            }
            vec![e]
        };
        if rn.is_empty() {
            return Err(e(errors::RESOURCE_NAME_MISSING, "The resource name is missing."));
        }
        let Some((r, key)) = parse_rn(rn, &self.cust.info.id) else {
            return Err(e(errors::RESOURCE_NAME_MALFORMED, "The resource name is malformed."));
        };
        if r != res {
            return Err(e(errors::RESOURCE_NAME_MALFORMED, "The resource name is malformed."));
        }
        let Some(o) = self.cust.get(res, key) else {
            return Err(e(errors::RESOURCE_NOT_FOUND, "The resource was not found."));
        };
        if o.v.get("status").and_then(Value::as_str) == Some("REMOVED") {
            let (code, msg) = match res {
                Res::AdGroupAd => (
                    errors::CANNOT_OPERATE_ON_REMOVED_ADGROUPAD,
                    "Cannot operate on a removed ad group ad.",
                ),
                Res::CampaignBudget => (errors::CAMPAIGN_BUDGET_REMOVED, "The campaign budget has been removed."),
                Res::Experiment => (
                    errors::EXP_CANNOT_MODIFY_REMOVED,
                    "Experiments can only be modified when they are ENABLED.",
                ),
                _ => (
                    errors::OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE,
                    "The operation is not permitted on a removed resource.",
                ),
            };
            return Err(e(code, msg));
        }
        Ok((key.to_string(), o.v.clone()))
    }

    fn update(
        &mut self,
        res: Res,
        body: &Value,
        mask: Option<&Value>,
        loc: &Loc,
    ) -> Result<(String, Value), Vec<AdsError>> {
        let rn = body
            .get("resourceName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let (key, old) = self.locate(res, &rn, loc, "update")?;
        if res == Res::CampaignCriterion && old.get("negative").and_then(Value::as_bool) == Some(true) {
            return Err(vec![AdsError::new(
                errors::CC_CANNOT_UPDATE_NEGATIVE,
                "Negative criteria are immutable, so updates are not allowed.",
            )
            .trigger(rn.clone())
            .under(loc)
            .at("update", None)]);
        }
        let Some(mask) = mask.and_then(Value::as_str).filter(|s| !s.trim().is_empty()) else {
            return Err(vec![AdsError::new(
                errors::FIELD_MASK_MISSING,
                "The field mask must be set for an update.",
            )
            .under(loc)
            .at("update_mask", None)]);
        };
        let message = res.message();
        let mut v = old.clone();
        let mut touched_bidding = None;
        for path in mask.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some(f) = schema().json_path(&message, path) else {
                return Err(vec![AdsError::new(
                    errors::FIELD_NOT_FOUND,
                    "The field mask contained an invalid field.",
                )
                .trigger(path.to_string())
                .under(loc)
                .at("update_mask", None)]);
            };
            if f.is_immutable() || f.is_output_only() {
                return Err(vec![AdsError::new(
                    errors::IMMUTABLE_FIELD,
                    "The field cannot be modified after creation.",
                )
                .trigger(path.to_string())
                .under(loc)
                .at("update", None)
                .at(&f.name, None)]);
            }
            if f.oneof.as_deref() == Some("campaign_bidding_strategy") {
                touched_bidding = Some(path.split('.').next().unwrap_or(path).to_string());
            }
            copy_path(body, &mut v, path);
        }
        if let (Some(member), Some(m)) = (touched_bidding, v.as_object_mut()) {
            // setting one member of the oneof clears the others
            if let Some(msg) = schema().message(&message) {
                for f in &msg.fields {
                    if f.oneof.as_deref() == Some("campaign_bidding_strategy") && f.json != member {
                        m.remove(&f.json);
                    }
                }
            }
            if let Some(t) = bidding_type(&member) {
                m.insert("biddingStrategyType".into(), json!(t));
            }
        }
        if let Some(m) = v.as_object() {
            check_money(m, &[loc.clone(), vec![("update".to_string(), None)]].concat())?;
        }
        if res == Res::Campaign {
            let new_b = v
                .get("campaignBudget")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if old.get("campaignBudget").and_then(Value::as_str) != Some(new_b.as_str()) {
                let budget = self.live_ref(&new_b, Res::CampaignBudget, "campaign_budget", loc, "update")?;
                if budget.get("explicitlyShared").and_then(Value::as_bool) == Some(false)
                    && self.cust.budget_uses(&new_b) > 0
                {
                    return Err(vec![AdsError::new(
                        errors::IMPLICITLY_SHARED_BUDGET_MULTIPLE_CAMPAIGNS,
                        "A campaign budget that is not explicitly shared can only be used by one campaign.",
                    )
                    .trigger(new_b)
                    .under(loc)
                    .at("update", None)
                    .at("campaign_budget", None)]);
                }
            }
        }
        if res == Res::Campaign {
            if let Some(m) = v.as_object() {
                let budget = v
                    .get("campaignBudget")
                    .and_then(Value::as_str)
                    .and_then(|b| self.cust.get_rn(b))
                    .map(|(_, o)| o.v.clone());
                super::pmax::campaign_rules(self.cust, m, Some(&old), budget.as_ref(), loc, "update")?;
            }
        }
        if res == Res::AssetGroup {
            self.update_asset_group(&v, loc)?;
        }
        if matches!(res, Res::AssetGroupAsset | Res::AssetGroupListingGroupFilter) {
            let g = v.get("assetGroup").and_then(Value::as_str).map(str::to_string);
            self.touched_group(g.as_deref(), loc);
        }
        if res == Res::Label {
            if let Some(m) = v.as_object() {
                check_label(m, loc, "update")?;
            }
        }
        if res == Res::ConversionAction {
            if let Some(m) = v.as_object() {
                check_attribution(m, loc, "update")?;
            }
        }
        if res == Res::Experiment {
            super::experiment::check_update(self, &old, &v, mask, loc)?;
        }
        if res == Res::ExperimentArm {
            super::experiment::check_arm_update(self, &old, mask, loc)?;
        }
        if res == Res::CustomConversionGoal && mask.split(',').any(|p| p.trim() == "conversionActions") {
            if let Some(m) = v.as_object() {
                self.check_goal_actions(m, loc, "update")?;
            }
        }
        if res == Res::ConversionGoalCampaignConfig {
            let goal = v
                .get("customConversionGoal")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if !goal.is_empty() {
                self.live_ref(
                    &goal,
                    Res::CustomConversionGoal,
                    "custom_conversion_goal",
                    loc,
                    "update",
                )?;
            }
        }
        self.check_unique_name(res, &v, Some(&key), loc, "update")?;
        Ok(self.finish(res, &key, rn, v, "CHANGED"))
    }

    fn remove(&mut self, res: Res, rn: &str, loc: &Loc) -> Result<(String, Value), Vec<AdsError>> {
        let (key, old) = self.locate(res, rn, loc, "remove")?;
        if res == Res::CampaignBudget && self.cust.budget_uses(rn) > 0 {
            return Err(vec![AdsError::new(
                errors::CAMPAIGN_BUDGET_IN_USE,
                "The campaign budget is in use by a campaign.",
            )
            .trigger(rn.to_string())
            .under(loc)
            .at("remove", None)]);
        }
        if res == Res::CustomConversionGoal && self.goal_linked(rn) {
            return Err(vec![AdsError::new(
                errors::CUSTOM_GOAL_CANNOT_REMOVE_LINKED,
                "The custom conversion goal cannot be removed because it's linked to a campaign.",
            )
            .trigger(rn.to_string())
            .under(loc)
            .at("remove", None)]);
        }
        match res {
            Res::AssetGroup => self.removing_asset_group(&old, loc),
            Res::AssetGroupListingGroupFilter => self.removing_listing_group(rn, &old, loc)?,
            Res::AssetGroupAsset => {
                let g = old.get("assetGroup").and_then(Value::as_str).map(str::to_string);
                self.touched_group(g.as_deref(), loc);
            }
            Res::Experiment => super::experiment::before_remove(self, &old, loc)?,
            Res::ExperimentArm => super::experiment::before_arm_remove(self, &old, loc)?,
            _ => {}
        }
        if res.def().soft_remove {
            let mut v = old.clone();
            if let Some(m) = v.as_object_mut() {
                m.insert("status".into(), json!("REMOVED"));
            }
            Ok(self.finish(res, &key, rn.to_string(), v, "REMOVED"))
        } else {
            self.delete(res, &key);
            Ok((rn.to_string(), old))
        }
    }
}

/// Conversion action types the API may create. conversion_action_error.proto CREATION_NOT_SUPPORTED names the
/// rule, not the list (reading chosen): the types whose conversions come from a linked product (Firebase, Google
/// Analytics, third-party app analytics, Floodlight, Search Ads 360), or that Google makes itself (Smart campaign
/// and Google-hosted actions, store visits, lead forms, Local Services), are refused, as are UNSPECIFIED/UNKNOWN.
fn conversion_type_creatable(t: &str) -> bool {
    const LINKED: &[&str] = &[
        "FIREBASE_",
        "THIRD_PARTY_APP_ANALYTICS_",
        "GOOGLE_ANALYTICS_4_",
        "UNIVERSAL_ANALYTICS_",
        "FLOODLIGHT_",
        "SMART_CAMPAIGN_",
    ];
    const MADE_BY_GOOGLE: &[&str] = &[
        "UNSPECIFIED",
        "UNKNOWN",
        "SEARCH_ADS_360",
        "GOOGLE_HOSTED",
        "STORE_VISITS",
        "LEAD_FORM_SUBMIT",
        "LOCAL_SERVICES_ADS",
        "ANDROID_INSTALLS_ALL_OTHER_APPS",
        "WEBPAGE_CODELESS",
    ];
    !LINKED.iter().any(|p| t.starts_with(p)) && !MADE_BY_GOOGLE.contains(&t)
}

/// The output-only `origin` of a new conversion action of type `t` (enums/conversion_origin.proto).
fn conversion_origin(t: &str) -> Option<&'static str> {
    Some(match t {
        "WEBPAGE" | "WEBSITE_CALL" | "UPLOAD_CLICKS" => "WEBSITE",
        "AD_CALL" | "CLICK_TO_CALL" | "UPLOAD_CALLS" => "CALL_FROM_ADS",
        "GOOGLE_PLAY_DOWNLOAD" | "GOOGLE_PLAY_IN_APP_PURCHASE" | "ANDROID_APP_PRE_REGISTRATION" => "APP",
        "STORE_SALES" | "STORE_SALES_DIRECT_UPLOAD" => "STORE",
        _ => return None,
    })
}

/// conversion_action_error.proto CANNOT_SET_RULE_BASED_ATTRIBUTION_MODELS: "Rule-based attribution models are
/// deprecated and not allowed to be set by conversion action" (the GOOGLE_SEARCH_ATTRIBUTION_* models other
/// than DATA_DRIVEN; GOOGLE_ADS_LAST_CLICK, DATA_DRIVEN and EXTERNAL remain).
fn check_attribution(m: &Map<String, Value>, loc: &Loc, what: &str) -> Result<(), Vec<AdsError>> {
    let model = m
        .get("attributionModelSettings")
        .and_then(|a| a.get("attributionModel"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if matches!(
        model,
        "GOOGLE_SEARCH_ATTRIBUTION_FIRST_CLICK"
            | "GOOGLE_SEARCH_ATTRIBUTION_LINEAR"
            | "GOOGLE_SEARCH_ATTRIBUTION_TIME_DECAY"
            | "GOOGLE_SEARCH_ATTRIBUTION_POSITION_BASED"
    ) {
        return Err(vec![AdsError::new(
            errors::CONVERSION_ACTION_RULE_BASED_ATTRIBUTION,
            "Rule-based attribution models are deprecated and not allowed to be set by conversion action.",
        )
        .trigger(model.to_string())
        .under(loc)
        .at(what, None)
        .at("attribution_model_settings", None)
        .at("attribution_model", None)]);
    }
    Ok(())
}

/// `customers/123/campaigns/-1` (a temporary id).
pub fn is_temp_rn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("customers/") else {
        return false;
    };
    let mut parts = rest.split('/');
    let (Some(c), Some(_coll), Some(id), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    c.chars().all(|x| x.is_ascii_digit())
        && id
            .split('~')
            .any(|p| p.starts_with('-') && p.len() > 1 && p[1..].chars().all(|x| x.is_ascii_digit()))
}

fn check_money(m: &Map<String, Value>, loc: &[(String, Option<usize>)]) -> Result<(), Vec<AdsError>> {
    for (k, proto) in [
        ("amountMicros", "amount_micros"),
        ("totalAmountMicros", "total_amount_micros"),
    ] {
        let Some(n) = m.get(k).and_then(Value::as_str).and_then(|s| s.parse::<i64>().ok()) else {
            continue;
        };
        if n < 0 {
            return Err(vec![AdsError::new(
                errors::BUDGET_NEGATIVE_MONEY_AMOUNT,
                "The budget amount is negative.",
            )
            .under(loc)
            .at(proto, None)]);
        }
        if n % 10_000 != 0 {
            return Err(vec![AdsError::new(
                errors::BUDGET_NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT,
                "The budget amount is not a multiple of the minimum currency unit.",
            )
            .under(loc)
            .at(proto, None)]);
        }
    }
    Ok(())
}

/// The member of `campaign_bidding_strategy` that is set, if any.
fn bidding_member(m: &Map<String, Value>) -> Option<String> {
    let msg = schema().message("resources.Campaign")?;
    m.keys()
        .find(|k| {
            msg.by_json(k)
                .is_some_and(|f| f.oneof.as_deref() == Some("campaign_bidding_strategy"))
        })
        .cloned()
}

/// BiddingStrategyType of a oneof member (`manualCpc` → `MANUAL_CPC`), when the enum has it.
fn bidding_type(member: &str) -> Option<String> {
    if member == "biddingStrategy" {
        return None;
    }
    let t = screaming(member);
    schema()
        .enum_has(
            "google.ads.googleads.v25.enums.BiddingStrategyTypeEnum.BiddingStrategyType",
            &t,
        )
        .then_some(t)
}

/// Copy the value at a camelCase dotted path from `src` into `dst` (removing it when absent in `src`).
fn copy_path(src: &Value, dst: &mut Value, path: &str) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut s = Some(src);
    for p in &parts {
        s = s.and_then(|x| x.get(p));
    }
    let mut d = dst;
    for p in &parts[..parts.len() - 1] {
        if !d.get(p).is_some_and(Value::is_object) {
            if let Some(m) = d.as_object_mut() {
                m.insert(p.to_string(), json!({}));
            }
        }
        let Some(next) = d.get_mut(p) else {
            return;
        };
        d = next;
    }
    let last = parts[parts.len() - 1];
    if let Some(m) = d.as_object_mut() {
        match s {
            Some(v) if !v.is_null() => {
                m.insert(last.to_string(), v.clone());
            }
            _ => {
                m.remove(last);
            }
        }
    }
}

/// Most labels one resource may carry (labelError EXCEEDED_LABEL_LIMIT_PER_TYPE).
pub const MAX_LABELS_PER_RESOURCE: usize = 50;
/// Longest label name (resources/label.proto: "between 1 and 80, inclusive").
pub const MAX_LABEL_NAME: usize = 80;
/// Longest label description (common/text_label.proto: "no more than 200 characters").
pub const MAX_LABEL_DESCRIPTION: usize = 200;
/// Longest keyword text (errors/criterion_error.proto KEYWORD_TEXT_TOO_LONG: "less than 80 chars"; read as at
/// most 80).
pub const MAX_KEYWORD_TEXT: usize = 80;

/// The Label rules of resources/label.proto, common/text_label.proto and errors/label_error.proto: a name that
/// is not empty and at most 80 characters, a description of at most 200 characters, a background colour in
/// `#RGB` / `#RRGGBB` form. `what` is `create` or `update` (the location's operation member).
fn check_label(m: &Map<String, Value>, loc: &Loc, what: &str) -> Result<(), Vec<AdsError>> {
    let at = |code: Code, msg: &str, path: &[&str]| {
        let mut e = AdsError::new(code, msg).under(loc).at(what, None);
        for p in path {
            e = e.at(p, None);
        }
        vec![e]
    };
    let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.trim().is_empty() {
        return Err(at(
            errors::LABEL_INVALID_NAME,
            "Label names cannot be empty.",
            &["name"],
        ));
    }
    if name.chars().count() > MAX_LABEL_NAME {
        return Err(at(
            errors::STRING_TOO_LONG,
            "Too long: a label name has at most 80 characters.",
            &["name"],
        ));
    }
    let text = m.get("textLabel");
    if let Some(d) = text.and_then(|t| t.get("description")).and_then(Value::as_str) {
        if d.chars().count() > MAX_LABEL_DESCRIPTION {
            return Err(at(
                errors::STRING_TOO_LONG,
                "Too long: a label description has at most 200 characters.",
                &["text_label", "description"],
            ));
        }
    }
    if let Some(c) = text.and_then(|t| t.get("backgroundColor")).and_then(Value::as_str) {
        let hex = c.strip_prefix('#').unwrap_or("");
        let ok = c.starts_with('#') && matches!(hex.len(), 3 | 6) && hex.chars().all(|x| x.is_ascii_hexdigit());
        if !ok {
            return Err(at(
                errors::INVALID_VALUE,
                "The background color must match '^\\#([a-fA-F0-9]{6}|[a-fA-F0-9]{3})$'.",
                &["text_label", "background_color"],
            ));
        }
    }
    Ok(())
}

/// KeywordInfo text rules of errors/criterion_error.proto: not empty (INVALID_KEYWORD_TEXT), at most 80
/// characters (KEYWORD_TEXT_TOO_LONG).
fn check_keyword(kw: &Value, loc: &Loc) -> Result<(), Vec<AdsError>> {
    let text = kw.get("text").and_then(Value::as_str).unwrap_or_default();
    let at = |code: Code, msg: &str| {
        vec![AdsError::new(code, msg)
            .trigger(text.to_string())
            .under(loc)
            .at("create", None)
            .at("keyword", None)
            .at("text", None)]
    };
    if text.trim().is_empty() {
        return Err(at(errors::INVALID_KEYWORD_TEXT, "Invalid keyword criteria text."));
    }
    if text.chars().count() > MAX_KEYWORD_TEXT {
        return Err(at(
            errors::KEYWORD_TEXT_TOO_LONG,
            "Keyword text should be less than 80 chars.",
        ));
    }
    Ok(())
}

/// (text, match type) of a keyword, for comparing criteria.
fn keyword_key(kw: Option<&Value>) -> Option<(String, String)> {
    let kw = kw?;
    Some((
        kw.get("text").and_then(Value::as_str)?.to_string(),
        kw.get("matchType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    ))
}

/// Drop OUTPUT_ONLY fields (recursively) from a create body: the service computes them.
pub fn strip_output_only(message: &str, v: &mut Value) {
    let Some(msg) = schema().message(message) else {
        return;
    };
    let Value::Object(m) = v else {
        return;
    };
    m.retain(|k, _| !msg.by_json(k).is_some_and(|f| f.is_output_only()));
    for (k, x) in m.iter_mut() {
        if let Some(f) = msg.by_json(k) {
            if f.kind == FieldKind::Message {
                if f.repeated {
                    if let Value::Array(items) = x {
                        for it in items {
                            strip_output_only(&f.type_name, it);
                        }
                    }
                } else {
                    strip_output_only(&f.type_name, x);
                }
            }
        }
    }
}
