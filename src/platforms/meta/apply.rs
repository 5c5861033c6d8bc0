//! Operations → Batch API calls.
//!
//! Each operation becomes one or more calls (an ad create is a creative create plus the ad; a creative change is
//! a new creative plus an update of the ad's `creative`). Calls go out in batches of at most 50; a call that needs
//! an id created earlier in the same batch refers to it with a named dependency (`{result=op3:$.id}`), and every
//! named call sets `omit_response_on_success: false` so its id comes back. Outcomes are per operation:
//! - an error body → that operation fails (rate-limit / transient errors are retried in a later batch);
//! - a `null` element, a transient error element (codes 1/2, `is_transient`: the write may have been made), or a
//!   batch whose response was lost → the outcome is unknown: creates are looked up by name under their parent
//!   (several times, with backoff: reads can lag behind writes). Found → adopted. Not found → that operation
//!   fails with "outcome unknown" and is never sent again in this run: a negative read of an eventually
//!   consistent API does not prove the create was not made, and a re-send could duplicate it. The next apply
//!   resolves it (the next plan matches the object by its identity, name under its parent, if it exists). Updates, pauses and deletes
//!   are idempotent and simply sent again.
//!
//! Audience members are uploaded after the batch: `POST /{id}/users` (adds) and `DELETE /{id}/users`
//! (removals), at most 10,000 per call, in one `session` per direction.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use super::client::{BatchCall, BatchReply, CallError, Method};
use super::config::{MAX_BATCH_CALLS, MAX_USERS_PER_CALL, OWNERSHIP_LABEL};
use super::error::ErrorClass;
use super::mapping::{self, IdOrRef, MappingError, Params, Piece, Ref, Tmpl};
use super::{act_id, MetaConnector, CREATIVE_FIELDS};
use crate::connectors::{ApplyBatch, ConnectorError, IdRef, OpAction, OpError, OpOutcome, Operation, NAME_FIELD};
use crate::model::{value_fingerprint, Account, Address, Kind, Value};

/// Removals ride in the query string of `DELETE /{id}/users`: keep those URLs a sane length.
pub const MAX_USERS_PER_DELETE: usize = 1_000;

/// What kind of object a create makes (for lookups after an unknown outcome).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Edge {
    Campaigns,
    AdSets,
    Ads,
    AdCreatives,
    AdLabels,
    CustomAudiences,
    CustomConversions,
    /// Split tests are created on the business and listed on the ad account (`act_{id}/ad_studies`).
    AdStudies,
    /// A catalog's product sets (`{catalog_id}/product_sets`: the lookup's parent is the catalog).
    ProductSets,
}

impl Edge {
    fn path(self) -> &'static str {
        match self {
            Edge::Campaigns => "campaigns",
            Edge::AdSets => "adsets",
            Edge::Ads => "ads",
            Edge::AdCreatives => "adcreatives",
            Edge::AdLabels => "adlabels",
            Edge::CustomAudiences => "customaudiences",
            Edge::CustomConversions => "customconversions",
            Edge::AdStudies => "ad_studies",
            Edge::ProductSets => "product_sets",
        }
    }
    fn parent_field(self) -> Option<&'static str> {
        match self {
            Edge::AdSets => Some("campaign_id"),
            Edge::Ads => Some("adset_id"),
            _ => None,
        }
    }
    fn fields(self) -> &'static str {
        match self {
            Edge::Campaigns => "id,name,status",
            Edge::AdSets => "id,name,campaign_id,status",
            Edge::Ads => "id,name,adset_id,status",
            Edge::AdCreatives => "id,name",
            Edge::AdLabels => "id,name",
            Edge::CustomAudiences => "id,name,subtype",
            Edge::CustomConversions => "id,name",
            Edge::AdStudies => "id,name",
            Edge::ProductSets => "id,name",
        }
    }
    fn has_status(self) -> bool {
        matches!(self, Edge::Campaigns | Edge::AdSets | Edge::Ads)
    }
}

/// How to find what a create made, if its response never came.
#[derive(Clone, Debug)]
struct Lookup {
    edge: Edge,
    name: String,
    parent: Option<IdOrRef>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Label,
    Creative,
    Main,
}

#[derive(Clone, Debug)]
struct Call {
    op: Option<usize>,
    role: Role,
    method: Method,
    path: Tmpl,
    params: Params,
    produces: Option<Ref>,
    lookup: Option<Lookup>,
    attempts: usize,
    last_error: Option<OpError>,
    /// The platform answered that this call failed (a server error for it or for its whole batch), as opposed
    /// to no answer at all (a lost response, a `null` element): a create not found by look-ups is then sent
    /// again; without an answer it may have been made and a lagging read may hide it, so it is not.
    answered: bool,
}

impl Call {
    fn refs(&self) -> BTreeSet<Ref> {
        let mut s: BTreeSet<Ref> = self.path.refs().cloned().collect();
        for (_, v) in &self.params {
            s.extend(v.refs().cloned());
        }
        s
    }
}

/// Members to add and remove after the batch, and the audience's marker once they are uploaded.
#[derive(Clone, Debug, Default)]
struct Members {
    add: Vec<String>,
    remove: Vec<String>,
    /// What the audience holds is not known (a runner without state, a fingerprint that disagrees): `add` is
    /// the whole list and replaces it (`POST /{id}/usersreplace`).
    replace: bool,
    /// The fingerprint of the whole member set (`model::value_fingerprint`), and the user's part of the
    /// description, written back with it into the marker once the upload is done.
    fingerprint: String,
    description: Option<String>,
}

fn ref_name(r: &Ref) -> String {
    match r {
        Ref::Op(i) => format!("op{i}"),
        Ref::Creative(i) => format!("op{i}-creative"),
        Ref::Label => "adsctl-label".into(),
    }
}

fn members_of(v: Option<&Value>) -> BTreeSet<String> {
    match v {
        Some(Value::Set(s)) => s
            .iter()
            .filter_map(|x| x.as_str().map(str::to_ascii_lowercase))
            .collect(),
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(str::to_ascii_lowercase))
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The `description` parameter: the user's text with adsctl's ownership marker at its end.
fn description_param(user: Option<&str>, fingerprint: Option<&str>) -> (String, Tmpl) {
    (
        "description".into(),
        Tmpl::lit(mapping::marked_description(user, fingerprint)),
    )
}

fn str_field(fields: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    fields.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

fn op_error(code: &str, message: impl Into<String>, hint: Option<&str>) -> OpError {
    OpError {
        code: code.into(),
        message: message.into(),
        field: None,
        hint: hint.map(str::to_string),
    }
}

fn with_context(mut e: OpError, what: &str) -> OpError {
    e.message = format!("{what}: {}", e.message);
    e
}

fn id_of(j: &Json) -> Option<String> {
    match j.get("id")? {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A readable creative name, deterministic in the ad's name and the creative's content: a run killed between a
/// creative's create and its ad's finds the creative it left behind by this name and reuses it (no orphan).
fn creative_name(ad_name: &str, fields: &BTreeMap<String, Value>) -> String {
    let mut h = Sha256::new();
    for (k, v) in fields {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.to_string().as_bytes());
        h.update([0]);
    }
    let d = hex::encode(h.finalize());
    format!("{ad_name} · adsctl {}", &d[..10])
}

struct Planner<'a> {
    conn: &'a MetaConnector,
    account: &'a Account,
    act: String,
    batch: &'a ApplyBatch,
    validate: bool,
    label: Option<IdOrRef>,
    outcomes: Vec<Option<OpOutcome>>,
    members: HashMap<usize, Members>,
    /// Ids already known (updates' own ids, resolved creates).
    resolved: HashMap<Ref, String>,
    /// Producers that failed for good (their dependants are skipped).
    failed: HashMap<Ref, String>,
    /// Operations that have a main call (the others finish with their creative under validate).
    has_main: HashSet<usize>,
    /// Validate only: ad creates under a parent this plan creates (only their creative can be checked).
    parent_pending: HashMap<usize, String>,
    /// Creatives already in the ad account, by name (see [`creative_name`]).
    existing_creatives: HashMap<String, String>,
}

impl<'a> Planner<'a> {
    fn id_ref(&self, r: &IdRef) -> IdOrRef {
        match r {
            IdRef::Known(id) => IdOrRef::Known(id.clone()),
            IdRef::Pending(i) => IdOrRef::Later(Ref::Op(*i)),
        }
    }

    fn parent(&self, op: &Operation) -> Result<IdOrRef, OpError> {
        op.parent.as_ref().map(|p| self.id_ref(p)).ok_or_else(|| {
            op_error(
                "adsctl.parent",
                format!("{} has no parent id", op.address),
                Some("its parent must exist or be created in the same apply"),
            )
        })
    }

    fn audience_resolver(&self, op: &Operation) -> impl Fn(&Address) -> Option<IdOrRef> + '_ {
        let refs = op.refs.clone();
        move |a: &Address| refs.get(a).map(|r| self.id_ref(r))
    }

    fn label_params(&self) -> Option<(String, Tmpl)> {
        self.label.clone().map(mapping::adlabels_param)
    }

    fn node(id: &str) -> Tmpl {
        Tmpl::lit(id)
    }

    fn call(&self, op: usize, role: Role, method: Method, path: Tmpl, mut params: Params) -> Call {
        if self.validate && role != Role::Label && method == Method::Post {
            params.push(("execution_options".into(), Tmpl::lit(r#"["validate_only"]"#)));
        }
        Call {
            op: Some(op),
            role,
            method,
            path,
            params,
            produces: None,
            lookup: None,
            attempts: 0,
            last_error: None,
            answered: false,
        }
    }

    /// The call creating op `i`'s creative, or none when a creative of that name (same ad, same content) already
    /// exists: it is reused.
    fn creative_call(&mut self, i: usize, cname: String, params: Params) -> Option<Call> {
        if !self.validate {
            if let Some(id) = self.existing_creatives.get(&cname) {
                self.resolved.insert(Ref::Creative(i), id.clone());
                return None;
            }
        }
        let path = Tmpl::lit(format!("{}/{}", self.act, Edge::AdCreatives.path()));
        let creative = self.call(i, Role::Creative, Method::Post, path, params);
        Some(Planner::creating(
            creative,
            Ref::Creative(i),
            Lookup {
                edge: Edge::AdCreatives,
                name: cname,
                parent: None,
            },
        ))
    }

    fn creating(mut self_call: Call, produces: Ref, lookup: Lookup) -> Call {
        self_call.produces = Some(produces);
        self_call.lookup = Some(lookup);
        self_call
    }

    /// The full creative of an existing ad: cached from the read, or fetched.
    async fn live_creative(&self, ad_id: &str) -> Result<BTreeMap<String, Value>, CallError> {
        if let Some(c) = self.conn.cache().creatives.get(ad_id).cloned() {
            return Ok(c);
        }
        let c = &self.conn.client;
        let ad = c.get(ad_id, &[("fields".into(), "creative".into())]).await?;
        let Some(cid) = ad.get("creative").and_then(id_of) else {
            return Ok(BTreeMap::new());
        };
        let cr = c.get(&cid, &[("fields".into(), "object_story_spec".into())]).await?;
        Ok(cr
            .get("object_story_spec")
            .map(mapping::creative_fields)
            .unwrap_or_default())
    }

    /// The full targeting spec of an existing ad set: cached from the read, or fetched.
    async fn live_targeting(&self, adset_id: &str) -> Result<Option<Json>, CallError> {
        if let Some(t) = self.conn.cache().targeting.get(adset_id).cloned() {
            return Ok(Some(t));
        }
        let j = self
            .conn
            .client
            .get(adset_id, &[("fields".into(), "targeting".into())])
            .await?;
        Ok(j.get("targeting").cloned())
    }

    /// Turn one operation into calls (or decide its outcome right away).
    async fn plan_op(&mut self, i: usize, op: &Operation) -> Result<Vec<Call>, OpOutcome> {
        let fail = |e: MappingError| OpOutcome::Failed(e.to_op_error());
        let net = |e: CallError| OpOutcome::Failed(call_error_to_op(&e));
        let name = op.address.name().unwrap_or_default().to_string();
        let cur = self.account.currency;
        let act = self.act.clone();
        let edge = |e: Edge| Tmpl::lit(format!("{act}/{}", e.path()));
        let ownable = matches!(op.kind, Kind::Campaign | Kind::AdSet | Kind::Ad);
        let audience_kind = matches!(op.kind, Kind::Audience | Kind::LookalikeAudience);
        let conversion_kind = op.kind == Kind::CustomConversion;
        let study_kind = op.kind == Kind::SplitTest;
        if op.kind == Kind::ProductSet {
            return self.plan_product_set(i, op);
        }
        if !matches!(
            op.kind,
            Kind::Campaign
                | Kind::AdSet
                | Kind::Ad
                | Kind::Audience
                | Kind::LookalikeAudience
                | Kind::CustomConversion
                | Kind::SplitTest
        ) {
            return Err(OpOutcome::Failed(op_error(
                "adsctl.kind",
                format!("{} resources do not exist on Meta", op.kind),
                Some("see docs/resource-model.md for the Meta kinds"),
            )));
        }
        if self.validate && audience_kind {
            // execution_options=["validate_only"] exists on campaigns, ad sets, ads and creatives only (WIRE-NOTES
            // § Dry run): a custom audience call would be refused for the option itself.
            return Err(OpOutcome::Skipped {
                reason: "Meta has no dry run for custom audiences; checked when applied".into(),
            });
        }
        if self.validate && conversion_kind {
            // CustomConversion.json has no execution_options either
            return Err(OpOutcome::Skipped {
                reason: "Meta has no dry run for custom conversions; checked when applied".into(),
            });
        }
        if self.validate && study_kind {
            // AdStudy.json and Business.json's ad_studies edge have no execution_options either
            return Err(OpOutcome::Skipped {
                reason: "Meta has no dry run for split tests; checked when applied".into(),
            });
        }
        match &op.action {
            OpAction::Create { fields } if study_kind => {
                // created on the business (`POST /{business_id}/ad_studies`), found on the account if the answer
                // is lost; owned by the marker at the end of its description (studies have no ad labels)
                let Some(business) = str_field(fields, "business_id") else {
                    return Err(OpOutcome::Failed(op_error(
                        "adsctl.business",
                        "a split test needs the business it is created on",
                        Some("add `business_id:` to the Meta account in adsctl.yaml"),
                    )));
                };
                let resolver = self.audience_resolver(op);
                let mut p = vec![("name".to_string(), Tmpl::lit(&name))];
                p.extend(super::study::params(true, fields, &resolver).map_err(fail)?);
                p.push(description_param(str_field(fields, "description").as_deref(), None));
                let main = self.call(
                    i,
                    Role::Main,
                    Method::Post,
                    Tmpl::lit(format!("{business}/ad_studies")),
                    p,
                );
                Ok(vec![Planner::creating(
                    main,
                    Ref::Op(i),
                    Lookup {
                        edge: Edge::AdStudies,
                        name,
                        parent: None,
                    },
                )])
            }
            OpAction::Create { fields } => {
                let mut calls = Vec::new();
                let (main_params, e) = match op.kind {
                    Kind::Campaign => (
                        mapping::campaign_params(Some(&name), fields, cur).map_err(fail)?,
                        Edge::Campaigns,
                    ),
                    Kind::AdSet => {
                        let parent = self.parent(op).map_err(OpOutcome::Failed)?;
                        let resolver = self.audience_resolver(op);
                        let p = mapping::adset_params(Some(&name), Some(parent), fields, cur, None, &resolver)
                            .map_err(fail)?;
                        (p, Edge::AdSets)
                    }
                    Kind::Ad => {
                        let parent = self.parent(op).map_err(OpOutcome::Failed)?;
                        let cname = creative_name(&name, fields);
                        let set = self.product_set_of(op, fields.get("creative.product_set"));
                        let cp = mapping::creative_params(&cname, fields, set).map_err(fail)?;
                        calls.extend(self.creative_call(i, cname, cp));
                        if self.validate {
                            // The ad needs the creative's id, which a dry run does not make: the creative is what
                            // gets validated.
                            return Ok(calls);
                        }
                        let mut p = mapping::ad_params(Some(&name), fields).map_err(fail)?;
                        p.push(mapping::id_param("adset_id", parent));
                        p.push(mapping::creative_ref_param(IdOrRef::Later(Ref::Creative(i))));
                        if !p.iter().any(|(k, _)| k == "status") {
                            p.push(("status".into(), Tmpl::lit("ACTIVE")));
                        }
                        (p, Edge::Ads)
                    }
                    Kind::Audience => {
                        let all = members_of(fields.get("members"));
                        if let Some(bad) = all.iter().find(|m| !is_sha256_hex(m)) {
                            return Err(OpOutcome::Failed(op_error(
                                "adsctl.members",
                                format!(
                                    "`{}…` is not a SHA-256 hex digest",
                                    bad.chars().take(12).collect::<String>()
                                ),
                                Some("members are normalised and hashed locally before upload"),
                            )));
                        }
                        let user = str_field(fields, "description");
                        // The marker records the members' fingerprint once they are uploaded (an empty list is
                        // complete at once).
                        let fp = fields.get("members").filter(|_| all.is_empty()).map(value_fingerprint);
                        if let (false, Some(m)) = (all.is_empty(), fields.get("members")) {
                            self.members.insert(
                                i,
                                Members {
                                    add: all.into_iter().collect(),
                                    remove: Vec::new(),
                                    replace: false,
                                    fingerprint: value_fingerprint(m),
                                    description: user.clone(),
                                },
                            );
                        }
                        let mut p = mapping::audience_params(Some(&name), fields).map_err(fail)?;
                        p.push(description_param(user.as_deref(), fp.as_deref()));
                        (p, Edge::CustomAudiences)
                    }
                    Kind::LookalikeAudience => {
                        let origin = match fields.get("origin") {
                            Some(Value::Ref(a)) => op.refs.get(a).map(|r| self.id_ref(r)),
                            Some(Value::Str(id)) => Some(IdOrRef::Known(id.clone())),
                            _ => None,
                        };
                        let mut p = mapping::lookalike_params(&name, fields, origin).map_err(fail)?;
                        p.push(description_param(None, None));
                        (p, Edge::CustomAudiences)
                    }
                    Kind::CustomConversion => {
                        // owned by the marker at the end of its description (custom conversions have no ad labels)
                        let mut p = mapping::custom_conversion_params(Some(&name), fields).map_err(fail)?;
                        p.push(description_param(str_field(fields, "description").as_deref(), None));
                        (p, Edge::CustomConversions)
                    }
                    _ => unreachable_kind(op.kind)?,
                };
                let mut main_params = main_params;
                if ownable {
                    if let Some(l) = self.label_params() {
                        main_params.push(l);
                    }
                }
                let parent = match op.kind {
                    Kind::AdSet | Kind::Ad => Some(self.parent(op).map_err(OpOutcome::Failed)?),
                    _ => None,
                };
                let main = self.call(i, Role::Main, Method::Post, edge(e), main_params);
                calls.push(Planner::creating(main, Ref::Op(i), Lookup { edge: e, name, parent }));
                Ok(calls)
            }
            OpAction::Update { id, set, before } => {
                self.resolved.insert(Ref::Op(i), id.clone());
                let mut calls = Vec::new();
                // A rename is the node's `name` param beside whatever else changes.
                let rename = match set.get(NAME_FIELD) {
                    Some(Value::Str(n)) => Some(n.clone()),
                    _ => None,
                };
                let without_name;
                let set = if rename.is_some() {
                    without_name = set
                        .iter()
                        .filter(|(k, _)| k.as_str() != NAME_FIELD)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<BTreeMap<_, _>>();
                    &without_name
                } else {
                    set
                };
                let mut params = match op.kind {
                    Kind::Campaign => mapping::campaign_params(None, set, cur).map_err(fail)?,
                    Kind::AdSet => {
                        let base = if set.keys().any(|k| k.starts_with("targeting.")) {
                            self.live_targeting(id).await.map_err(net)?
                        } else {
                            None
                        };
                        let resolver = self.audience_resolver(op);
                        mapping::adset_params(None, None, set, cur, base.as_ref(), &resolver).map_err(fail)?
                    }
                    Kind::Ad => {
                        let mut p = mapping::ad_params(None, set).map_err(fail)?;
                        if set.keys().any(|k| k.starts_with("creative.")) {
                            // Creatives are immutable: make a new one from the live creative with the changes laid
                            // on top, and point the ad at it.
                            let mut full = self.live_creative(id).await.map_err(net)?;
                            for (k, v) in before {
                                if k.starts_with("creative.") {
                                    full.entry(k.clone()).or_insert_with(|| v.clone());
                                }
                            }
                            for (k, v) in set {
                                if k.starts_with("creative.") {
                                    full.insert(k.clone(), v.clone());
                                }
                            }
                            full.retain(|k, v| CREATIVE_FIELDS.contains(&k.as_str()) && *v != Value::Null);
                            let cname = creative_name(&name, &full);
                            let set = self.product_set_of(op, full.get("creative.product_set"));
                            let cp = mapping::creative_params(&cname, &full, set).map_err(fail)?;
                            calls.extend(self.creative_call(i, cname, cp));
                            if !self.validate {
                                p.push(mapping::creative_ref_param(IdOrRef::Later(Ref::Creative(i))));
                            }
                        }
                        p
                    }
                    Kind::Audience => {
                        let (live_user, live_fp) = self.conn.cache().audiences.get(id).cloned().unwrap_or_default();
                        let user = match set.get("description") {
                            Some(_) => str_field(set, "description"),
                            None => live_user,
                        };
                        let mut fp = live_fp;
                        if let Some(m) = set.get("members") {
                            let want = members_of(Some(m));
                            if let Some(bad) = want.iter().find(|m| !is_sha256_hex(m)) {
                                return Err(OpOutcome::Failed(op_error(
                                    "adsctl.members",
                                    format!(
                                        "`{}…` is not a SHA-256 hex digest",
                                        bad.chars().take(12).collect::<String>()
                                    ),
                                    Some("members are normalised and hashed locally before upload"),
                                )));
                            }
                            // `before` holds the members only when the engine knows what the audience holds.
                            let replace = !before.contains_key("members");
                            let had = members_of(before.get("members"));
                            self.members.insert(
                                i,
                                Members {
                                    add: if replace {
                                        want.iter().cloned().collect()
                                    } else {
                                        want.difference(&had).cloned().collect()
                                    },
                                    remove: had.difference(&want).cloned().collect(),
                                    replace,
                                    fingerprint: value_fingerprint(m),
                                    description: user.clone(),
                                },
                            );
                            // The marker loses its fingerprint until the upload is done.
                            fp = None;
                        }
                        let mut p = mapping::audience_params(None, set).map_err(fail)?;
                        if set.contains_key("description") || set.contains_key("members") {
                            p.push(description_param(user.as_deref(), fp.as_deref()));
                        }
                        p
                    }
                    Kind::LookalikeAudience => {
                        return Err(OpOutcome::Failed(op_error(
                            "adsctl.immutable",
                            "a Meta lookalike audience cannot be changed",
                            Some("origin, country and ratio are immutable: the plan should replace it"),
                        )))
                    }
                    Kind::CustomConversion => {
                        let mut p = mapping::custom_conversion_params(None, set).map_err(fail)?;
                        if set.contains_key("description") {
                            p.push(description_param(str_field(set, "description").as_deref(), None));
                        }
                        p
                    }
                    Kind::SplitTest => {
                        let resolver = self.audience_resolver(op);
                        let mut p = super::study::params(false, set, &resolver).map_err(fail)?;
                        if set.contains_key("description") {
                            p.push(description_param(str_field(set, "description").as_deref(), None));
                        }
                        p
                    }
                    _ => unreachable_kind(op.kind)?,
                };
                if let Some(n) = rename {
                    params.push(("name".into(), Tmpl::lit(&n)));
                }
                if !params.is_empty() {
                    calls.push(self.call(i, Role::Main, Method::Post, Planner::node(id), params));
                } else if calls.is_empty() && !self.members.contains_key(&i) {
                    return Err(if self.validate {
                        OpOutcome::Valid
                    } else {
                        OpOutcome::Applied { id: id.clone() }
                    });
                }
                Ok(calls)
            }
            OpAction::Adopt { id } => {
                self.resolved.insert(Ref::Op(i), id.clone());
                if audience_kind || conversion_kind || study_kind {
                    // Custom audiences and conversions and split tests have no ad labels: the marker goes at the
                    // end of the description (without a fingerprint: what an audience holds is not known).
                    let user = if study_kind {
                        self.conn.cache().studies.get(id).and_then(|(u, _, _)| u.clone())
                    } else if conversion_kind {
                        self.conn.cache().conversion_descriptions.get(id).cloned().flatten()
                    } else {
                        self.conn.cache().audiences.get(id).and_then(|(u, _)| u.clone())
                    };
                    return Ok(vec![self.call(
                        i,
                        Role::Main,
                        Method::Post,
                        Planner::node(id),
                        vec![description_param(user.as_deref(), None)],
                    )]);
                }
                let Some(l) = self.label_params() else {
                    return Err(OpOutcome::Skipped {
                        reason: "the ownership label does not exist yet; it is created by the apply".into(),
                    });
                };
                let path = Tmpl(vec![Piece::Lit(format!("{id}/adlabels"))]);
                Ok(vec![self.call(i, Role::Main, Method::Post, path, vec![l])])
            }
            OpAction::Pause { id } => {
                self.resolved.insert(Ref::Op(i), id.clone());
                if audience_kind {
                    return Err(OpOutcome::Skipped {
                        reason: "Meta audiences cannot be paused; left as they are".into(),
                    });
                }
                if conversion_kind {
                    return Err(OpOutcome::Skipped {
                        reason: "Meta custom conversions cannot be paused; left as they are".into(),
                    });
                }
                if study_kind {
                    return Err(OpOutcome::Skipped {
                        reason: "Meta split tests cannot be paused; left as they are (set end_time to end one)".into(),
                    });
                }
                Ok(vec![self.call(
                    i,
                    Role::Main,
                    Method::Post,
                    Planner::node(id),
                    vec![("status".into(), Tmpl::lit("PAUSED"))],
                )])
            }
            OpAction::Remove { id } => {
                self.resolved.insert(Ref::Op(i), id.clone());
                if study_kind {
                    // a split test that runs (started, not ended) is never deleted: that would throw its results
                    // away half-way (and a replacement could not be made: Meta fixes a running study's start and
                    // cells, and a new one must start in the future)
                    let (start, end) = self
                        .conn
                        .cache()
                        .studies
                        .get(id)
                        .map(|(_, s, e)| (s.clone(), e.clone()))
                        .unwrap_or_default();
                    let secs = |t: Option<String>| {
                        t.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                            .map(|t| t.timestamp())
                    };
                    let now = chrono::Utc::now().timestamp();
                    let running = secs(start).is_some_and(|s| s <= now) && secs(end).is_none_or(|e| e > now);
                    if running {
                        return Err(OpOutcome::Failed(op_error(
                            "adsctl.study_running",
                            format!(
                                "split test `{name}` has started and has not ended: adsctl does not delete or \
                                 replace a running test (Meta fixes its start time and cells once it runs)"
                            ),
                            Some(
                                "to change it, keep its start_time, cells and objective as they are (end it earlier \
                                 with end_time) and declare a new split test under another name; to remove it, set \
                                 end_time to now, apply, then remove it",
                            ),
                        )));
                    }
                }
                if audience_kind || conversion_kind || study_kind {
                    if self.validate {
                        return Err(OpOutcome::Skipped {
                            reason: "Meta has no dry run for deleting an audience, a custom conversion or a split test"
                                .into(),
                        });
                    }
                    return Ok(vec![self.call(
                        i,
                        Role::Main,
                        Method::Delete,
                        Planner::node(id),
                        Vec::new(),
                    )]);
                }
                Ok(vec![self.call(
                    i,
                    Role::Main,
                    Method::Post,
                    Planner::node(id),
                    vec![("status".into(), Tmpl::lit("DELETED"))],
                )])
            }
        }
    }

    /// The product set a dynamic creative shows: a reference resolved through the operation's references or the
    /// ids the read learnt, or a bare id.
    fn product_set_of(&self, op: &Operation, v: Option<&Value>) -> Option<IdOrRef> {
        match v? {
            Value::Ref(a) => op
                .refs
                .get(a)
                .map(|r| self.id_ref(r))
                .or_else(|| self.conn.cache().product_set_ids.get(a).cloned().map(IdOrRef::Known)),
            Value::Str(id) => Some(IdOrRef::Known(id.clone())),
            _ => None,
        }
    }

    /// A product set (catalog ads): made on its catalog with the marker at the end of its name, changed in place
    /// (name, filter), deleted; it has no status to pause and no dry run.
    fn plan_product_set(&mut self, i: usize, op: &Operation) -> Result<Vec<Call>, OpOutcome> {
        use super::catalog::product_set_params;
        let fail = |e: MappingError| OpOutcome::Failed(e.to_op_error());
        let lit = |p: Vec<(String, String)>| -> Params { p.into_iter().map(|(k, v)| (k, Tmpl::lit(v))).collect() };
        let name = op.address.name().unwrap_or_default().to_string();
        if self.validate {
            return Err(OpOutcome::Skipped {
                reason: "Meta has no dry run for product sets; checked when applied".into(),
            });
        }
        match &op.action {
            OpAction::Create { fields } => {
                let Some(catalog) = str_field(fields, "catalog_id") else {
                    return Err(OpOutcome::Failed(op_error(
                        "adsctl.catalog",
                        format!("{} names no catalog", op.address),
                        Some("declare it under a `product_catalogs:` entry with its `catalog_id`"),
                    )));
                };
                let params = lit(product_set_params(Some(&name), fields).map_err(fail)?);
                let path = Tmpl::lit(format!("{catalog}/{}", Edge::ProductSets.path()));
                let main = self.call(i, Role::Main, Method::Post, path, params);
                Ok(vec![Planner::creating(
                    main,
                    Ref::Op(i),
                    Lookup {
                        edge: Edge::ProductSets,
                        name: crate::platforms::shared::marked_name(&name),
                        parent: Some(IdOrRef::Known(catalog)),
                    },
                )])
            }
            OpAction::Update { id, set, .. } => {
                self.resolved.insert(Ref::Op(i), id.clone());
                let rename = matches!(set.get(NAME_FIELD), Some(Value::Str(_)));
                let rest: BTreeMap<String, Value> = set
                    .iter()
                    .filter(|(k, _)| k.as_str() != NAME_FIELD)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let params = lit(product_set_params(rename.then_some(name.as_str()), &rest).map_err(fail)?);
                if params.is_empty() {
                    return Err(OpOutcome::Applied { id: id.clone() });
                }
                Ok(vec![self.call(i, Role::Main, Method::Post, Planner::node(id), params)])
            }
            OpAction::Adopt { id } => {
                // the marker goes at the end of its name
                self.resolved.insert(Ref::Op(i), id.clone());
                let params = lit(vec![("name".into(), crate::platforms::shared::marked_name(&name))]);
                Ok(vec![self.call(i, Role::Main, Method::Post, Planner::node(id), params)])
            }
            OpAction::Pause { id } => {
                self.resolved.insert(Ref::Op(i), id.clone());
                Err(OpOutcome::Skipped {
                    reason: "Meta product sets cannot be paused; left as they are".into(),
                })
            }
            OpAction::Remove { id } => {
                self.resolved.insert(Ref::Op(i), id.clone());
                Ok(vec![self.call(
                    i,
                    Role::Main,
                    Method::Delete,
                    Planner::node(id),
                    Vec::new(),
                )])
            }
        }
    }

    /// The campaign of the ad set a call is about (its create, update, pause, removal or labelling), to keep
    /// sibling ad sets in separate batches.
    fn adset_campaign(&self, c: &Call) -> Option<IdRef> {
        let op = &self.batch.ops[c.op?];
        (op.kind == Kind::AdSet && c.role == Role::Main).then(|| op.parent.clone())?
    }

    fn applied(&self, i: usize) -> bool {
        matches!(self.outcomes.get(i), Some(Some(OpOutcome::Applied { .. })))
    }

    fn describe(&self, r: &Ref) -> String {
        match r {
            Ref::Op(j) | Ref::Creative(j) => self
                .batch
                .ops
                .get(*j)
                .map(|o| o.address.to_string())
                .unwrap_or_else(|| format!("operation {j}")),
            Ref::Label => format!("the `{OWNERSHIP_LABEL}` ad label"),
        }
    }

    fn decide(&mut self, op: Option<usize>, outcome: OpOutcome) {
        if let Some(i) = op {
            if let Some(slot) = self.outcomes.get_mut(i) {
                if slot.is_none() {
                    *slot = Some(outcome);
                }
            }
        }
    }

    fn fail_call(&mut self, c: &Call, e: OpError) {
        let what = match c.role {
            Role::Creative => Some("creating the creative"),
            Role::Label => Some("creating the ownership ad label"),
            Role::Main => None,
        };
        let e = match what {
            Some(w) => with_context(e, w),
            None => e,
        };
        if let Some(p) = &c.produces {
            self.failed.insert(p.clone(), e.message.clone());
        }
        if c.role == Role::Label {
            // Every operation that needed the label fails with it.
            self.failed.insert(Ref::Label, e.message.clone());
            return;
        }
        if let Some(i) = c.op {
            self.failed.insert(Ref::Op(i), e.message.clone());
        }
        self.decide(c.op, OpOutcome::Failed(e));
    }

    fn succeed_call(&mut self, c: &Call, reply: &Json) -> bool {
        if let Some(p) = &c.produces {
            if self.validate {
                self.resolved.insert(p.clone(), String::new());
            } else {
                match id_of(reply) {
                    Some(id) => {
                        self.resolved.insert(p.clone(), id);
                    }
                    None => return false,
                }
            }
        }
        let main_done = c.role == Role::Main || (self.validate && c.role == Role::Creative && c.op.is_some());
        if main_done {
            let Some(i) = c.op else { return true };
            // A validated ad create has only its creative call; any other op finishes with its main call.
            let outcome = if self.validate {
                match self.parent_pending.get(&i) {
                    Some(parent) => OpOutcome::Skipped {
                        reason: format!(
                            "its creative is valid; the ad itself depends on {parent}, which this plan creates; \
                             checked when applied"
                        ),
                    },
                    None => OpOutcome::Valid,
                }
            } else {
                match self.resolved.get(&Ref::Op(i)) {
                    Some(id) => OpOutcome::Applied { id: id.clone() },
                    None => OpOutcome::Applied {
                        id: id_of(reply).unwrap_or_default(),
                    },
                }
            };
            if c.role == Role::Creative && self.has_main.contains(&i) {
                return true;
            }
            self.decide(Some(i), outcome);
        }
        true
    }
}

fn unreachable_kind<T>(kind: Kind) -> Result<T, OpOutcome> {
    Err(OpOutcome::Failed(op_error(
        "adsctl.kind",
        format!("{kind} resources do not exist on Meta"),
        None,
    )))
}

/// A call error as one operation's error (redacted already).
pub fn call_error_to_op(e: &CallError) -> OpError {
    match e {
        CallError::Graph { error, .. } => error.to_op_error(),
        other => op_error("meta", other.to_string(), None),
    }
}

/// Apply (or, with `validate`, dry-run) one batch of operations.
pub async fn run(
    conn: &MetaConnector,
    account: &Account,
    batch: &ApplyBatch,
    validate: bool,
) -> Result<Vec<OpOutcome>, ConnectorError> {
    let act = act_id(&account.platform_id);
    let n = batch.ops.len();
    let needs_label = batch.ops.iter().any(|op| {
        matches!(op.kind, Kind::Campaign | Kind::AdSet | Kind::Ad)
            && matches!(op.action, OpAction::Create { .. } | OpAction::Adopt { .. })
    });
    let label_id = if needs_label {
        conn.label_id(&act).await.map_err(|e| conn.err(e))?
    } else {
        None
    };
    let mut p = Planner {
        conn,
        account,
        act: act.clone(),
        batch,
        validate,
        label: label_id.clone().map(IdOrRef::Known),
        outcomes: vec![None; n],
        members: HashMap::new(),
        resolved: HashMap::new(),
        failed: HashMap::new(),
        has_main: HashSet::new(),
        parent_pending: HashMap::new(),
        existing_creatives: HashMap::new(),
    };
    // Creatives a killed run left behind are found by name (in the plan's read) and reused instead of made again.
    if !validate {
        p.existing_creatives = conn.cache().creative_names.clone().unwrap_or_default();
    }
    let mut queue: VecDeque<Call> = VecDeque::new();
    if needs_label && label_id.is_none() && !validate {
        p.label = Some(IdOrRef::Later(Ref::Label));
        queue.push_back(Call {
            op: None,
            role: Role::Label,
            method: Method::Post,
            path: Tmpl::lit(format!("{act}/adlabels")),
            params: vec![("name".into(), Tmpl::lit(OWNERSHIP_LABEL))],
            produces: Some(Ref::Label),
            lookup: Some(Lookup {
                edge: Edge::AdLabels,
                name: OWNERSHIP_LABEL.into(),
                parent: None,
            }),
            attempts: 0,
            last_error: None,
            answered: false,
        });
    }
    // Pre-resolve ids the operations already know, so Pending refs to non-creates work too.
    for (i, op) in batch.ops.iter().enumerate() {
        match &op.action {
            OpAction::Update { id, .. } | OpAction::Adopt { id } | OpAction::Pause { id } | OpAction::Remove { id } => {
                p.resolved.insert(Ref::Op(i), id.clone());
            }
            OpAction::Create { .. } => {}
        }
    }
    let creates: HashSet<usize> = batch
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op.action, OpAction::Create { .. }))
        .map(|(i, _)| i)
        .collect();
    for (i, op) in batch.ops.iter().enumerate() {
        match p.plan_op(i, op).await {
            Ok(calls) => {
                if validate {
                    // A dry run creates nothing, so whatever hangs off another create cannot be checked yet.
                    let pending = calls
                        .iter()
                        .flat_map(|c| c.refs())
                        .find(|r| matches!(r, Ref::Op(j) if creates.contains(j) && *j != i));
                    if let Some(Ref::Op(j)) = pending {
                        p.decide(
                            Some(i),
                            OpOutcome::Skipped {
                                reason: format!(
                                    "depends on {}, which this plan creates; checked when applied",
                                    batch.ops[j].address
                                ),
                            },
                        );
                        continue;
                    }
                }
                if validate {
                    if let Some(IdRef::Pending(j)) = &op.parent {
                        if creates.contains(j) {
                            p.parent_pending.insert(i, batch.ops[*j].address.to_string());
                        }
                    }
                }
                if calls.iter().any(|c| c.role == Role::Main) {
                    p.has_main.insert(i);
                }
                queue.extend(calls)
            }
            Err(outcome) => p.decide(Some(i), outcome),
        }
    }
    // A lookalike needs its seed's members (≥ 100): one whose origin is created here goes after the upload, and
    // so does everything that refers to it (an ad set targeting it, that ad set's ads). The queue is in
    // dependency order, so one pass finds them all.
    let seeded: HashSet<usize> = p.members.keys().copied().collect();
    let mut later_ops: HashSet<usize> = HashSet::new();
    let mut first: VecDeque<Call> = VecDeque::new();
    let mut deferred: VecDeque<Call> = VecDeque::new();
    for c in queue {
        let refs = c.refs();
        let waits = (c.op.is_some_and(|i| batch.ops[i].kind == Kind::LookalikeAudience)
            && refs.iter().any(|r| matches!(r, Ref::Op(j) if seeded.contains(j))))
            || refs
                .iter()
                .any(|r| matches!(r, Ref::Op(j) | Ref::Creative(j) if later_ops.contains(j)));
        if waits {
            later_ops.extend(c.op);
            deferred.push_back(c);
        } else {
            first.push_back(c);
        }
    }
    execute(&mut p, &act, first).await?;
    upload_members(&mut p).await;
    if !deferred.is_empty() {
        execute(&mut p, &act, deferred).await?;
    }

    Ok(p.outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or(OpOutcome::Skipped {
                reason: "not attempted".into(),
            })
        })
        .collect())
}

/// Send calls in batches until every one is decided.
async fn execute(p: &mut Planner<'_>, act: &str, mut queue: VecDeque<Call>) -> Result<(), ConnectorError> {
    let conn = p.conn;
    let validate = p.validate;
    let max_attempts = conn.client.cfg.max_retries + 1;
    let mut round = 0u32;
    let mut any_sent_ok = false;
    while !queue.is_empty() {
        // Drop calls of decided operations, and skip those whose producers failed.
        // Only the front of the queue is looked at (until the batch is full): the calls of a hand-over of
        // thousands of operations are not all walked, nor moved, once per batch.
        let mut chunk: Vec<Call> = Vec::new();
        let mut in_chunk: HashSet<Ref> = HashSet::new();
        let mut later: VecDeque<Call> = VecDeque::new();
        // Campaigns that have an ad set in this batch: a batch may not hold two ad sets of one campaign (the
        // Graph API's batch limitations; WIRE-NOTES § Batch).
        let mut campaigns_in_chunk: HashSet<IdRef> = HashSet::new();
        while let Some(c) = queue.pop_front() {
            if chunk.len() >= MAX_BATCH_CALLS {
                queue.push_front(c);
                break;
            }
            if c.op.is_some_and(|i| p.outcomes[i].is_some()) {
                continue;
            }
            let refs = c.refs();
            if let Some(bad) = refs.iter().find(|r| p.failed.contains_key(r)) {
                let reason = format!("{} failed: {}", p.describe(bad), p.failed[bad]);
                if let Some(prod) = &c.produces {
                    p.failed.insert(prod.clone(), reason.clone());
                }
                if let Some(i) = c.op {
                    p.failed.insert(Ref::Op(i), reason.clone());
                }
                let outcome = if c.role == Role::Main && matches!(bad, Ref::Creative(j) if Some(*j) == c.op) {
                    // Its own creative failed: that error is the op's.
                    OpOutcome::Failed(op_error("meta", reason, None))
                } else {
                    OpOutcome::Skipped { reason }
                };
                p.decide(c.op, outcome);
                continue;
            }
            let ready = refs.iter().all(|r| p.resolved.contains_key(r) || in_chunk.contains(r));
            let sibling = p.adset_campaign(&c);
            if !ready || sibling.as_ref().is_some_and(|k| campaigns_in_chunk.contains(k)) {
                later.push_back(c);
                continue;
            }
            campaigns_in_chunk.extend(sibling);
            if let Some(prod) = &c.produces {
                in_chunk.insert(prod.clone());
            }
            let mut c = c;
            c.answered = false;
            chunk.push(c);
        }
        if chunk.is_empty() {
            // Nothing can go: dependencies that will never resolve.
            for c in later {
                let reason = c
                    .refs()
                    .iter()
                    .find(|r| !p.resolved.contains_key(r))
                    .map(|r| format!("{} was not created", p.describe(r)))
                    .unwrap_or_else(|| "its dependencies did not complete".into());
                p.decide(c.op, OpOutcome::Skipped { reason });
            }
            break;
        }
        // The calls passed over go back in front, in their order.
        while let Some(c) = later.pop_back() {
            queue.push_front(c);
        }

        let names: HashMap<Ref, String> = chunk
            .iter()
            .filter_map(|c| c.produces.as_ref().map(|r| (r.clone(), ref_name(r))))
            .collect();
        let resolve = |r: &Ref| -> Option<String> {
            p.resolved
                .get(r)
                .cloned()
                .or_else(|| names.get(r).map(|n| format!("{{result={n}:$.id}}")))
        };
        let mut wire_calls = Vec::with_capacity(chunk.len());
        for c in &chunk {
            let path = c.path.render(&resolve).unwrap_or_default();
            let params: Vec<(String, String)> = c
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.render(&resolve).unwrap_or_default()))
                .collect();
            let body = (c.method == Method::Post).then(|| super::client::form_encode_batch(&params));
            let relative_url = if c.method == Method::Post || params.is_empty() {
                path
            } else {
                format!("{path}?{}", super::client::form_encode_batch(&params))
            };
            wire_calls.push(BatchCall {
                method: c.method,
                relative_url,
                body,
                name: c.produces.as_ref().map(ref_name),
            });
        }
        tracing::info!(calls = wire_calls.len(), round, validate, "meta: sending batch");
        let replies: Vec<BatchReply> = match conn.client.batch(&wire_calls, &[]).await {
            Ok(r) => r,
            Err(e) => {
                let auth = e.graph().is_some_and(|g| g.class() == ErrorClass::Auth);
                let blocked = matches!(e, CallError::Blocked { .. });
                let refused = e.graph().is_some_and(|g| !g.is_retryable());
                if (auth || blocked) && !any_sent_ok && p.outcomes.iter().all(|o| o.is_none()) {
                    return Err(conn.err(e));
                }
                if auth || blocked || refused {
                    let oe = call_error_to_op(&e);
                    for c in &chunk {
                        p.fail_call(c, oe.clone());
                    }
                    for c in queue.drain(..) {
                        p.decide(c.op, OpOutcome::Failed(oe.clone()));
                    }
                    break;
                }
                tracing::warn!(error = %e, "meta: batch outcome unknown; looking up creates before retrying");
                let oe = call_error_to_op(&e);
                // A server error is an answer: the batch failed. A broken connection says nothing.
                let answered = matches!(e, CallError::Http { .. } | CallError::Graph { .. });
                chunk.iter_mut().for_each(|c| {
                    c.last_error = Some(oe.clone());
                    c.answered = answered;
                });
                vec![BatchReply::Unknown; chunk.len()]
            }
        };
        any_sent_ok = true;

        let mut retry: Vec<Call> = Vec::new();
        let mut unknown_creates: Vec<Call> = Vec::new();
        let mut had_transient = false;
        // Calls whose same-batch producer did not succeed: their reply says nothing about them.
        let mut ok_refs: HashSet<Ref> = HashSet::new();
        for (c, reply) in chunk.into_iter().zip(replies) {
            let deps_ok = c
                .refs()
                .iter()
                .all(|r| !names.contains_key(r) || ok_refs.contains(r) || p.resolved.contains_key(r));
            match reply {
                BatchReply::Ok(j) if deps_ok => {
                    if p.succeed_call(&c, &j) {
                        if let Some(r) = &c.produces {
                            ok_refs.insert(r.clone());
                        }
                    } else {
                        unknown_creates.push(c);
                    }
                }
                // Whether it ran is unknown (a lost response, a `null` element): a create is looked up, even when
                // it depended on another call of the batch (that call may have run too). Never re-sent blindly.
                BatchReply::Unknown if c.lookup.is_some() && !validate => unknown_creates.push(c),
                BatchReply::Ok(_) => retry.push(c),
                _ if !deps_ok => retry.push(c),
                BatchReply::Err(g) => {
                    if g.class() == ErrorClass::Auth {
                        p.fail_call(&c, g.to_op_error());
                    } else if g.class() == ErrorClass::Transient && c.lookup.is_some() && !validate {
                        // A transient error on a create may come after the object was made: look it up, never
                        // re-send it blindly. (Rate limits refuse the call before it runs: those are re-sent.)
                        let mut c = c;
                        c.last_error = Some(g.to_op_error());
                        c.answered = true;
                        unknown_creates.push(c);
                    } else if g.is_retryable() && c.attempts + 1 < max_attempts {
                        had_transient = true;
                        let mut c = c;
                        c.attempts += 1;
                        c.last_error = Some(g.to_op_error());
                        retry.push(c);
                    } else {
                        p.fail_call(&c, g.to_op_error());
                    }
                }
                BatchReply::Unknown => {
                    // Updates, pauses and deletes: idempotent, sent again.
                    if c.attempts + 1 < max_attempts {
                        had_transient = true;
                        let mut c = c;
                        c.attempts += 1;
                        retry.push(c);
                    } else {
                        let e = c.last_error.clone().unwrap_or_else(|| {
                            op_error("meta.unknown", "Meta did not say whether this change was made", None)
                        });
                        p.fail_call(&c, e);
                    }
                }
            }
        }
        // Look up creates whose outcome is unknown. A create is never sent again on a negative look-up: the
        // look-up may have read lagging state, and a second create would be a duplicate.
        if !unknown_creates.is_empty() {
            let found = lookup_creates(p, act, &unknown_creates).await;
            for (c, hit) in unknown_creates.into_iter().zip(found) {
                match hit {
                    Ok(Sought::Found(id)) => {
                        tracing::info!(call = ?c.produces, "meta: found the object a lost response had created");
                        p.succeed_call(&c, &json!({ "id": id }));
                    }
                    Ok(Sought::ParentMissing) => {
                        // Its parent was never made, so neither was this: nothing to look for or to re-send.
                        let reason = c
                            .refs()
                            .iter()
                            .find_map(|r| p.failed.get(r).cloned())
                            .unwrap_or_else(|| "its parent was not created".into());
                        if c.role == Role::Main {
                            p.decide(c.op, OpOutcome::Skipped { reason });
                        } else {
                            p.fail_call(&c, op_error("meta.skipped", reason, None));
                        }
                    }
                    Ok(Sought::NotFound) if c.answered && c.attempts + 1 < max_attempts => {
                        // Not there after several look-ups spread over time: it was not made. Sent again.
                        tracing::info!(call = ?c.produces, "meta: a create with an unknown outcome was not made; sending it again");
                        let mut c = c;
                        c.attempts += 1;
                        had_transient = true;
                        retry.push(c);
                    }
                    Ok(Sought::NotFound) => {
                        tracing::warn!(
                            call = ?c.produces,
                            "meta: a create's outcome is unknown and it was not found; not re-sending it"
                        );
                        p.fail_call(&c, outcome_unknown(c.last_error.as_ref(), None));
                    }
                    Err(e) => {
                        // Cannot tell whether it exists: do not risk a duplicate.
                        p.fail_call(&c, outcome_unknown(c.last_error.as_ref(), Some(&e)));
                    }
                }
            }
        }
        // Retries go first, in their original order relative to the rest.
        for c in retry.into_iter().rev() {
            queue.push_front(c);
        }
        if had_transient && !queue.is_empty() {
            round += 1;
            let cfg = &conn.client.cfg;
            let exp = cfg.retry_min_delay.saturating_mul(1u32 << round.min(10));
            let delay = exp.min(cfg.retry_max_delay);
            let jitter = Duration::from_millis(u64::from(chrono::Utc::now().timestamp_subsec_millis()) % 100);
            tokio::time::sleep(delay + jitter.min(delay)).await;
        }
    }

    Ok(())
}

/// Audience members, after their audience exists.
async fn upload_members(p: &mut Planner<'_>) {
    let conn = p.conn;
    let validate = p.validate;
    if !validate {
        let mut ops: Vec<usize> = p.members.keys().copied().collect();
        ops.sort_unstable();
        for i in ops {
            let pending_update_without_call = p.outcomes[i].is_none();
            if !(p.applied(i) || pending_update_without_call) {
                continue;
            }
            let Some(id) = p.resolved.get(&Ref::Op(i)).cloned() else {
                continue;
            };
            let m = p.members.get(&i).cloned().unwrap_or_default();
            match sync_members(conn, &id, &m).await {
                Ok(()) => {
                    if let Some(slot) = p.outcomes.get_mut(i) {
                        *slot = Some(OpOutcome::Applied { id });
                    }
                }
                Err(e) => {
                    let oe = with_context(
                        call_error_to_op(&e),
                        &format!("audience {id} is saved but its members were not all uploaded"),
                    );
                    if let Some(slot) = p.outcomes.get_mut(i) {
                        *slot = Some(OpOutcome::Failed(oe));
                    }
                }
            }
        }
    } else {
        for i in p.members.keys().copied().collect::<Vec<_>>() {
            if p.outcomes[i].is_none() {
                p.outcomes[i] = Some(OpOutcome::Valid);
            }
        }
    }
}

/// What a look-up of an unknown create found.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Sought {
    /// The object exists: its id.
    Found(String),
    /// Its parent was never created in this run, so the create cannot have succeeded.
    ParentMissing,
    /// Not (yet) visible: the create may or may not have been made.
    NotFound,
}

/// How many times unknown creates are looked for before their operations are reported as failed.
const LOOKUP_ATTEMPTS: u32 = 4;

/// The error of a create whose outcome stays unknown. Says what happened and what to do; never re-sent.
fn outcome_unknown(cause: Option<&OpError>, lookup_error: Option<&CallError>) -> OpError {
    let why = cause.map(|e| format!(" ({})", e.message)).unwrap_or_default();
    let looked = match lookup_error {
        Some(e) => format!("looking it up failed: {}", call_error_to_op(e).message),
        None => format!("it was not found after {LOOKUP_ATTEMPTS} look-ups"),
    };
    op_error(
        "meta.outcome_unknown",
        format!(
            "outcome unknown — Meta did not confirm the create{why} and {looked}; the create may have been \
             committed, so it was not sent again"
        ),
        Some("run apply again: the next plan finds the object by name if it was created, and creates it otherwise"),
    )
}

/// Find what unknown creates made: one listing per edge, matched by name and parent, repeated with backoff while
/// some are not found (reads can lag behind writes) — up to `LOOKUP_ATTEMPTS` listings.
async fn lookup_creates(p: &Planner<'_>, act: &str, calls: &[Call]) -> Vec<Result<Sought, CallError>> {
    let mut results: Vec<Result<Sought, CallError>> = vec![Ok(Sought::NotFound); calls.len()];
    let cfg = &p.conn.client.cfg;
    // Parents found by this look-up (a lost batch can hold a campaign and its ad sets): the calls come in batch
    // order, parents first.
    let mut found_here: HashMap<Ref, String> = HashMap::new();
    let looked_for: HashSet<&Ref> = calls.iter().filter_map(|c| c.produces.as_ref()).collect();
    for attempt in 0..LOOKUP_ATTEMPTS {
        let mut listings: HashMap<String, Result<Vec<Json>, CallError>> = HashMap::new();
        for (k, c) in calls.iter().enumerate() {
            if matches!(results[k], Ok(Sought::Found(_)) | Ok(Sought::ParentMissing)) {
                continue;
            }
            let Some(l) = &c.lookup else { continue };
            let parent_id = match &l.parent {
                None => None,
                Some(IdOrRef::Known(id)) => Some(id.clone()),
                Some(IdOrRef::Later(r)) => match p.resolved.get(r).or_else(|| found_here.get(r)) {
                    Some(id) => Some(id.clone()),
                    // Its parent is itself being looked for: not known yet.
                    None if looked_for.contains(r) => {
                        results[k] = Ok(Sought::NotFound);
                        continue;
                    }
                    None => {
                        results[k] = Ok(Sought::ParentMissing);
                        continue;
                    }
                },
            };
            // a catalog's product sets are listed under the catalog, everything else under the ad account
            let listing = match (l.edge, &parent_id) {
                (Edge::ProductSets, Some(catalog)) => format!("{catalog}/{}", l.edge.path()),
                _ => format!("{act}/{}", l.edge.path()),
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = listings.entry(listing.clone()) {
                let mut params = vec![("fields".to_string(), l.edge.fields().to_string())];
                if l.edge.has_status() {
                    params.push(super::effective_status_param(false));
                }
                let got = p.conn.client.get_all(&listing, &params).await;
                slot.insert(got);
            }
            let found = match &listings[&listing] {
                Err(e) => Err(e.clone()),
                Ok(items) => Ok(items
                    .iter()
                    .filter(|j| j.get("name").and_then(Json::as_str) == Some(l.name.as_str()))
                    .filter(|j| match (l.edge.parent_field(), &parent_id) {
                        (Some(f), Some(pid)) => {
                            j.get(f).map(|v| match v {
                                Json::String(s) => s == pid,
                                Json::Number(n) => n.to_string() == *pid,
                                _ => false,
                            }) == Some(true)
                        }
                        _ => true,
                    })
                    .filter(|j| {
                        !matches!(
                            j.get("status").and_then(Json::as_str),
                            Some("DELETED") | Some("ARCHIVED")
                        )
                    })
                    .find_map(id_of)
                    .map_or(Sought::NotFound, Sought::Found)),
            };
            if let (Ok(Sought::Found(id)), Some(r)) = (&found, &c.produces) {
                found_here.insert(r.clone(), id.clone());
            }
            results[k] = found;
        }
        let pending = results.iter().any(|r| matches!(r, Ok(Sought::NotFound) | Err(_)));
        if !pending || attempt + 1 == LOOKUP_ATTEMPTS {
            break;
        }
        let delay = cfg
            .retry_min_delay
            .saturating_mul(1u32 << attempt.min(10))
            .min(cfg.retry_max_delay);
        tracing::info!(
            attempt = attempt + 1,
            retry_in_ms = delay.as_millis() as u64,
            "meta: unknown creates not found yet; looking again"
        );
        tokio::time::sleep(delay).await;
    }
    results
}

/// A session id for a multi-call upload: unique enough, positive, no randomness crate needed.
fn session_id(audience_id: &str, direction: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(audience_id.as_bytes());
    h.update(direction.as_bytes());
    h.update(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0).to_le_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b) >> 2
}

async fn send_users(
    conn: &MetaConnector,
    audience_id: &str,
    method: Method,
    edge: &str,
    hashes: &[String],
    per_call: usize,
) -> Result<(), CallError> {
    // A replacement by an empty list still has to empty the audience: one call with no data.
    if hashes.is_empty() && edge != "usersreplace" {
        return Ok(());
    }
    let mut chunks: Vec<&[String]> = hashes.chunks(per_call.max(1)).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let sid = session_id(audience_id, method.as_str());
    let total = hashes.len();
    for (k, chunk) in chunks.iter().enumerate() {
        let payload = json!({ "schema": "EMAIL_SHA256", "data": chunk });
        let session = json!({
            "session_id": sid,
            "batch_seq": k + 1,
            "last_batch_flag": k + 1 == chunks.len(),
            "estimated_num_total": total,
        });
        let params = vec![
            ("payload".to_string(), payload.to_string()),
            ("session".to_string(), session.to_string()),
        ];
        // Adding or removing the same hashes twice is harmless: these calls may be retried.
        let resp = conn
            .client
            .call(method, &format!("{audience_id}/{edge}"), &params, true)
            .await?;
        let invalid = resp.get("num_invalid_entries").and_then(Json::as_i64).unwrap_or(0);
        if invalid > 0 {
            tracing::warn!(audience = %audience_id, invalid, "meta: some member hashes were rejected");
        }
    }
    Ok(())
}

async fn sync_members(conn: &MetaConnector, audience_id: &str, m: &Members) -> Result<(), CallError> {
    if m.replace {
        send_users(
            conn,
            audience_id,
            Method::Post,
            "usersreplace",
            &m.add,
            MAX_USERS_PER_CALL,
        )
        .await?;
    } else {
        send_users(conn, audience_id, Method::Post, "users", &m.add, MAX_USERS_PER_CALL).await?;
        send_users(
            conn,
            audience_id,
            Method::Delete,
            "users",
            &m.remove,
            MAX_USERS_PER_DELETE,
        )
        .await?;
    }
    // Uploaded: the marker records what the audience now holds.
    let params = vec![(
        "description".to_string(),
        mapping::marked_description(m.description.as_deref(), Some(&m.fingerprint)),
    )];
    conn.client.call(Method::Post, audience_id, &params, true).await?;
    Ok(())
}
