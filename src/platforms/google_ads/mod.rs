//! Google Ads, the platform's home: its registry entry and YAML rules (`home`, `lower`) and its connector (the
//! rest of this folder).
//!
//! The connector: REST v25 (`googleads.googleapis.com`), OAuth 2.0 refresh tokens, developer token.
//!
//! - read: one GAQL `searchStream` per kind (labels, budgets, campaigns, ad groups, ads, keywords, user lists;
//!   campaigns, ad groups and ads bring their attached labels in `labels`), joined locally; incremental reads ask
//!   `change_status` first and skip the read when nothing changed;
//! - apply: one `googleAds:mutate` per ≤ 10,000 operations with temporary resource names, exact update masks,
//!   `partialFailure` results mapped back to each operation; the `adsctl-managed` label marks ownership;
//! - audiences: Customer Match user lists, membership through offline user data jobs;
//! - rate limits (token buckets per developer token and per customer), retries, typed errors with hints.
//!
//! Every wire shape comes from `../shared/reference/google-ads` (WIRE-NOTES.md and the v25 protos).

pub mod audience;
pub mod auth;
pub mod client;
pub mod config;
pub mod emulated;
pub mod errors;
pub mod experiment;
pub mod home;
pub mod import;
pub mod lease;
pub mod lower;
pub mod mapping;
pub mod metrics;
pub mod mutate;
pub mod pmax;
pub mod read;
pub mod rules;
pub mod yaml;

pub use home::GoogleAdsHome;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration as Days, Utc};
use serde_json::Value as Json;

use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, Lease, LeaseOutcome, LiveSnapshot,
    MetricRow, MetricsLevel, OpAction, OpError, OpOutcome, Operation, QuotaCost, ReadRequest,
};
use crate::model::{Account, Kind, Platform};

use client::{Client, Replay};
use config::{AuthCredentials, CredentialSource, Settings, OWNER_LABEL};
use errors::GoogleAdsError;

/// The connector the registry hands out for a Google Ads account (credentials from the token vault, then the
/// environment).
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(GoogleAdsConnector::new(account, Arc::new(AuthCredentials))?))
}

/// What the connector can do when it hands at most `max_ops` operations to one mutate.
pub fn capabilities(max_ops: usize) -> Capabilities {
    Capabilities {
        max_ops_per_request: config::MAX_OPS_PER_APPLY.max(max_ops),
        creates_children_in_one_request: true,
        ordered_requests: true,
        // Labels on campaigns, ad groups, ads and (positive) keywords; `integrationCode` on user lists.
        // Negative keywords cannot carry labels (LabelError.CANNOT_APPLY_LABEL_TO_NEGATIVE_AD_GROUP_CRITERION;
        // campaign criteria have no labels) and budgets have none.
        marked_kinds: vec![
            Kind::Campaign,
            Kind::AdGroup,
            Kind::Ad,
            Kind::Keyword,
            Kind::Audience,
            Kind::Experiment,
        ],
        immutable_fields: BTreeMap::from([
            (Kind::Campaign, vec!["channel"]),
            (Kind::AdGroup, vec!["type"]),
            (Kind::Keyword, vec!["text", "match_type"]),
            (Kind::NegativeKeyword, vec!["text", "match_type"]),
            (Kind::Conversion, vec!["type"]),
            // set when the experiment is made; the split and the start cannot change once it runs
            // (CANNOT_MUTATE_TRAFFIC_SPLIT_AFTER_START, START_DATE_ALREADY_PASSED)
            (
                Kind::Experiment,
                vec!["type", "base_campaign", "traffic_split", "start_date"],
            ),
        ]),
        swapped_fields: BTreeMap::new(),
        write_only_fields: BTreeMap::from([(Kind::Audience, vec!["members"])]),
        // `name` with an update mask; ads are their position and keywords their text, so neither has a name
        renamable_kinds: vec![
            Kind::Budget,
            Kind::Campaign,
            Kind::AdGroup,
            Kind::Audience,
            Kind::Conversion,
            Kind::AssetGroup,
        ],
        paused_status: "paused",
        // an experiment promoted, ended or graduated: nothing changes it any more
        settled_statuses: experiment::SETTLED,
    }
}

/// One connector, any number of Google Ads accounts; clients are built per account on first use.
pub struct GoogleAdsConnector {
    credentials: Arc<dyn CredentialSource>,
    clients: Mutex<HashMap<String, Arc<Client>>>,
    /// Owner label resource name per customer, once known.
    labels: Mutex<HashMap<String, String>>,
    /// Per customer, what the last full read learnt that an apply needs (see [`read::ApplyContext`]).
    contexts: Mutex<HashMap<String, read::ApplyContext>>,
    max_ops: usize,
    /// Settings for every account instead of the environment's (tests, embedding).
    settings: Option<Settings>,
}

impl GoogleAdsConnector {
    /// Build the connector and check the account's credentials resolve (nothing is sent yet).
    pub fn new(account: &Account, credentials: Arc<dyn CredentialSource>) -> Result<Self, ConnectorError> {
        Self::build(account, credentials, None)
    }

    /// Like [`GoogleAdsConnector::new`], with explicit settings instead of the environment's.
    pub fn with_settings(
        account: &Account,
        credentials: Arc<dyn CredentialSource>,
        settings: Settings,
    ) -> Result<Self, ConnectorError> {
        Self::build(account, credentials, Some(settings))
    }

    fn build(
        account: &Account,
        credentials: Arc<dyn CredentialSource>,
        settings: Option<Settings>,
    ) -> Result<Self, ConnectorError> {
        let max_ops = settings
            .as_ref()
            .map(|s| s.max_ops_per_request)
            .unwrap_or_else(|| Settings::for_account(account).max_ops_per_request);
        let c = GoogleAdsConnector {
            credentials,
            clients: Mutex::new(HashMap::new()),
            labels: Mutex::new(HashMap::new()),
            contexts: Mutex::new(HashMap::new()),
            max_ops,
            settings,
        };
        c.client(account)?;
        Ok(c)
    }

    fn client(&self, account: &Account) -> Result<Arc<Client>, GoogleAdsError> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&account.name) {
            return Ok(c.clone());
        }
        if account.platform != Platform::GoogleAds {
            return Err(GoogleAdsError::Config(format!(
                "account `{}` is a {} account, not Google Ads",
                account.name, account.platform
            )));
        }
        let customer = config::digits(&account.platform_id);
        if customer.len() != 10 {
            return Err(GoogleAdsError::Config(format!(
                "account `{}`: customer id `{}` should have 10 digits",
                account.name, account.platform_id
            )));
        }
        let creds = self.credentials.credentials(account)?;
        let settings = self.settings.clone().unwrap_or_else(|| Settings::for_account(account));
        let c = Arc::new(Client::new(settings, creds, customer, &account.name)?);
        clients.insert(account.name.clone(), c.clone());
        Ok(c)
    }

    fn known_label(&self, customer: &str) -> Option<String> {
        self.labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(customer)
            .cloned()
    }
    fn remember_label(&self, customer: &str, rn: String) {
        self.labels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(customer.to_string(), rn);
    }

    async fn owner_label(&self, client: &Client) -> Result<Option<String>, GoogleAdsError> {
        if let Some(l) = self.known_label(&client.customer_id) {
            return Ok(Some(l));
        }
        let q = format!("SELECT label.resource_name, label.name FROM label WHERE label.name = '{OWNER_LABEL}'");
        let rows = read::search_stream(client, &q).await?;
        let found = read::owner_label(&rows);
        if let Some(l) = &found {
            self.remember_label(&client.customer_id, l.clone());
        }
        Ok(found)
    }

    /// The newest change_status time (the marker for the next incremental read).
    async fn latest_change(&self, client: &Client, since: Option<&str>) -> Result<Vec<Json>, GoogleAdsError> {
        let now = Utc::now();
        let until = (now + Days::days(1)).format("%Y-%m-%d 23:59:59").to_string();
        let since = since
            .map(str::to_string)
            .unwrap_or_else(|| (now - Days::days(89)).format("%Y-%m-%d 00:00:00").to_string());
        read::search_stream(client, &read::change_status_query(&since, &until)).await
    }

    async fn full_read(
        &self,
        account: &Account,
        client: &Client,
        req: &ReadRequest,
    ) -> Result<LiveSnapshot, GoogleAdsError> {
        // change_status first, so that anything changing during the read is newer than the marker. An account
        // (or emulator) without change history simply gets no marker.
        let marker = match self.latest_change(client, None).await {
            Ok(rows) => read::newest_change(&rows),
            Err(
                e @ (GoogleAdsError::QuotaExhausted { .. }
                | GoogleAdsError::Unauthenticated(_)
                | GoogleAdsError::OAuth(_)),
            ) => return Err(e),
            Err(e) => {
                tracing::debug!("change_status unavailable: {e}");
                None
            }
        };
        let raw = read::read_raw(client, &req.pinned_ids).await?;
        if let Some(l) = read::owner_label(&raw.labels) {
            self.remember_label(&client.customer_id, l);
        }
        self.contexts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(client.customer_id.clone(), read::ApplyContext::of(&raw));
        let goals_fp = read::goals_fingerprint(&raw.custom_goals, &raw.goal_configs);
        let goals_fp = experiment::fingerprint(&goals_fp, &raw.experiments, &raw.experiment_arms);
        let marker = marker.map(|m| read::join_marker(&m, &goals_fp));
        // and the listing group trees' (change_status lists asset groups, not their filters)
        let marker = marker.map(|m| pmax::join_marker(&m, &pmax::trees_fingerprint(&raw.listing_filters)));
        Ok(read::snapshot(&account.name, &raw, &req.pinned_ids, marker))
    }

    async fn run(
        &self,
        account: &Account,
        batch: &ApplyBatch,
        validate_only: bool,
    ) -> Result<Vec<OpOutcome>, GoogleAdsError> {
        let client = self.client(account)?;
        if batch.ops.is_empty() {
            return Ok(Vec::new());
        }
        // What the plan's read learnt (labels, campaign budgets and strategies); read only what it did not cover.
        let known = self
            .contexts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&client.customer_id)
            .cloned();
        let mut user_labels = HashMap::new();
        let label = if mutate::needs_user_labels(&batch.ops) {
            user_labels = match &known {
                Some(k) => k.labels.clone(),
                None => read::labels_by_name(&read::search_stream(&client, read::Q_LABEL).await?),
            };
            let owner = user_labels.get(OWNER_LABEL).cloned();
            if let Some(l) = &owner {
                self.remember_label(&client.customer_id, l.clone());
            }
            owner
        } else if mutate::needs_label(&batch.ops) {
            match (self.known_label(&client.customer_id), &known) {
                (Some(l), _) => Some(l),
                // The read saw every label: none is called adsctl-managed yet (this apply creates it).
                (None, Some(k)) => k.labels.get(OWNER_LABEL).cloned(),
                (None, None) => self.owner_label(&client).await?,
            }
        } else {
            None
        };
        let needed = mutate::context_needed(&batch.ops);
        let ctx = match &known {
            Some(k) if needed.iter().all(|id| k.campaigns.contains_key(id)) => needed
                .iter()
                .filter_map(|id| Some((id.clone(), k.campaigns.get(id)?.clone())))
                .collect(),
            _ => read::campaign_context(&client, &needed).await?,
        };
        // Asset groups whose listing group tree this batch replaces: their live nodes, from the plan's read or
        // read now.
        let replacing = pmax::trees_replaced(&batch.ops);
        let trees = match &known {
            Some(k) => k.trees.clone(),
            None if !replacing.is_empty() => {
                let (_, q) = pmax::queries(false);
                pmax::removal_order(&read::search_stream(&client, &q).await?)
            }
            None => HashMap::new(),
        };
        let built = mutate::Builder::new(&client.customer_id, label.clone(), &ctx)
            .with_labels(user_labels)
            .with_trees(trees)
            .build(&batch.ops);
        let (mut outcomes, resolved) =
            mutate::execute(&client, &built, batch.ops.len(), validate_only, self.max_ops).await?;
        // Labels this request created (the owner label, user labels) are known from now on.
        let mut made: Vec<(String, String)> = Vec::new();
        for u in built.units.iter().filter(|u| u.creates) {
            let (Some(t), Some(name)) = (
                &u.temp,
                u.body.pointer("/labelOperation/create/name").and_then(Json::as_str),
            ) else {
                continue;
            };
            if let Some(real) = resolved.get(t) {
                made.push((name.to_string(), real.clone()));
            }
        }
        for (name, rn) in made {
            if name == OWNER_LABEL {
                self.remember_label(&client.customer_id, rn.clone());
            }
            if let Some(k) = self
                .contexts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(&client.customer_id)
            {
                k.labels.insert(name, rn);
            }
        }
        if validate_only {
            experiment::apply(&client, &batch.ops, &built.experiments, &resolved, &mut outcomes, true).await?;
            return Ok(outcomes);
        }
        // Conversion goals, once the campaigns and their conversion actions exist.
        let goals: Vec<mutate::GoalWant> = built
            .goals
            .iter()
            .filter_map(|g| {
                let OpOutcome::Applied { .. } = outcomes[g.op] else {
                    return None;
                };
                let real = |rn: &String| resolved.get(rn).cloned().unwrap_or_else(|| rn.clone());
                Some(mutate::GoalWant {
                    op: g.op,
                    campaign: real(&g.campaign),
                    actions: g.actions.iter().map(|(rn, n)| (real(rn), n.clone())).collect(),
                })
            })
            .filter(|g| {
                !g.campaign.rsplit('/').next().is_some_and(|id| id.starts_with('-'))
                    && !g
                        .actions
                        .keys()
                        .any(|a| a.rsplit('/').next().is_some_and(|id| id.starts_with('-')))
            })
            .collect();
        // A campaign removed with its config set back first: adsctl's goal it used may be unused now.
        let cleanup = built.goals_unlinked > 0
            && batch.ops.iter().zip(&outcomes).any(|(o, out)| {
                o.kind == Kind::Campaign
                    && matches!(o.action, OpAction::Remove { .. })
                    && matches!(out, OpOutcome::Applied { .. })
            });
        if let Err(e) = mutate::write_goals(&client, &goals, cleanup).await {
            if matches!(e, GoogleAdsError::QuotaExhausted { .. } | GoogleAdsError::OAuth(_)) {
                return Err(e);
            }
            let ce: ConnectorError = e.into();
            // A created campaign exists whatever its goals: it keeps its id, and the next plan shows the goals
            // still to set.
            tracing::warn!(error = %ce, "could not set the campaigns' conversion goals");
            for g in goals
                .iter()
                .filter(|g| !matches!(batch.ops[g.op].action, OpAction::Create { .. }))
            {
                outcomes[g.op] = OpOutcome::Failed(OpError {
                    code: "CONVERSION_GOALS".into(),
                    message: ce.to_string(),
                    field: Some("conversion_goals".into()),
                    hint: ce.hint().map(str::to_string),
                });
            }
        }
        // Experiments, once their base campaign exists.
        experiment::apply(&client, &batch.ops, &built.experiments, &resolved, &mut outcomes, false).await?;
        // Members, once their list exists; then the fingerprints of the lists whose members are all uploaded.
        let mut finished: Vec<(String, String)> = Vec::new();
        for up in &built.uploads {
            if !matches!(outcomes[up.op], OpOutcome::Applied { .. }) && built.immediate[up.op].is_none() {
                // The list itself failed; nothing to upload to.
                if !built.units.iter().all(|u| u.op != Some(up.op)) {
                    continue;
                }
            }
            let list = resolved.get(&up.list).cloned().unwrap_or_else(|| up.list.clone());
            if list.rsplit('/').next().is_some_and(|id| id.starts_with('-')) {
                continue;
            }
            let result = async {
                if up.replace {
                    audience::remove_all(&client, &list).await?;
                }
                audience::run_job(&client, &list, &up.adds, false).await?;
                audience::run_job(&client, &list, &up.removes, true).await
            }
            .await;
            outcomes[up.op] = match result {
                Ok(()) => {
                    finished.push((list.clone(), up.fingerprint.clone()));
                    OpOutcome::Applied {
                        id: mapping::id_of(&list),
                    }
                }
                Err(e @ (GoogleAdsError::QuotaExhausted { .. } | GoogleAdsError::OAuth(_))) => return Err(e),
                Err(e) => {
                    let ce: ConnectorError = e.into();
                    OpOutcome::Failed(OpError {
                        code: "CUSTOMER_MATCH_UPLOAD".into(),
                        message: ce.to_string(),
                        field: Some("members".into()),
                        hint: ce.hint().map(str::to_string),
                    })
                }
            };
        }
        if !finished.is_empty() {
            if let Err(e) = mutate::write_list_fingerprints(&client, &finished).await {
                // The members are uploaded; without the fingerprint a runner without state uploads them again.
                tracing::warn!(error = %e, "could not record the members' fingerprint on the user lists");
            }
        }
        Ok(outcomes)
    }
}

/// How many operations (the unit of the daily operations quota: each mutated item and each search) applying
/// these operations costs, not counting the one-off label creation and Customer Match identifiers. Campaigns'
/// conversion goals cost, after the mutate, the two searches of the goals and configs, one config update per
/// campaign, and at most one custom goal per distinct list of conversion actions (fewer when a goal with that
/// list exists already: this is the most it costs). A removed campaign's config is set back to the account's
/// goals in the mutate, and adsctl's goals left unused are removed after.
pub fn operation_cost(ops: &[Operation]) -> usize {
    let ctx = HashMap::new();
    // a replaced listing group tree's removals: as many as the live tree has nodes
    let trees = pmax::estimated_trees(ops);
    let built = mutate::Builder::new("0", Some("customers/0/labels/0".into()), &ctx)
        .with_trees(trees)
        .build(ops);
    let goals = if built.goals.is_empty() {
        0
    } else {
        let lists: std::collections::BTreeSet<Vec<&String>> = built
            .goals
            .iter()
            .filter(|g| !g.actions.is_empty())
            .map(|g| g.actions.keys().collect())
            .collect();
        2 + built.goals.len() + lists.len()
    };
    // removed campaigns' configs are set back in the mutate (counted in its units); then, when no goal is
    // written, the two searches, and at most one unused goal removed per campaign
    let cleanup = match (built.goals_unlinked, built.goals.is_empty()) {
        (0, _) => 0,
        (n, true) => 2 + n,
        (n, false) => n,
    };
    // an experiment: made with its two arms and the trial campaign's change (4); changed or removed (1 or 2)
    let experiments: usize = built
        .experiments
        .iter()
        .map(|w| match &ops[w.op].action {
            OpAction::Create { .. } => 4,
            OpAction::Update { set, .. } if set.keys().any(|k| k.starts_with("trial.")) => 2,
            _ => 1,
        })
        .sum();
    built.units.len() + goals + cleanup + experiments
}

#[async_trait]
impl Connector for GoogleAdsConnector {
    fn platform(&self) -> Platform {
        Platform::GoogleAds
    }

    fn capabilities(&self) -> Capabilities {
        capabilities(self.max_ops)
    }

    fn quota_cost(&self, account: &Account, ops: &[Operation]) -> Option<QuotaCost> {
        let settings = self.settings.clone().unwrap_or_else(|| Settings::for_account(account));
        let limit = settings.daily_operations;
        Some(QuotaCost {
            units: operation_cost(ops) as u64,
            unit: "operations".into(),
            daily_limit: (limit > 0).then_some(limit),
            quota: if limit == 15_000 {
                "Google Ads basic access".into()
            } else {
                "Google Ads developer token".into()
            },
        })
    }

    async fn read(&self, account: &Account, req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
        let client = self.client(account)?;
        if let Some(since) = &req.since {
            // The marker carries the fingerprint of the campaigns' conversion goals: change_status covers neither
            // custom goals nor goal configs, so a change to them makes this read a full one.
            let (rest, trees_fp) = pmax::split_marker(since);
            let (time, goals_fp) = read::split_marker(rest);
            if let Ok(rows) = self.latest_change(&client, Some(time)).await {
                if rows.is_empty() {
                    // change_status does not cover user lists (ChangeStatusResourceType has no USER_LIST): they are
                    // read again every time (one search), so a description or members' fingerprint written since
                    // is seen.
                    // Nor conversion actions (no CONVERSION_ACTION either): read again the same way.
                    let q = format!("{} WHERE user_list.type = 'CRM_BASED'", read::Q_USER_LIST);
                    let qc = format!(
                        "{} WHERE conversion_action.status != 'REMOVED'",
                        read::Q_CONVERSION_ACTION
                    );
                    let (_, ql) = pmax::queries(false);
                    // Nor experiments and their arms (no EXPERIMENT): their fingerprint is in the marker.
                    let (user_lists, conversion_actions, goals, configs, filters, experiments, arms) = tokio::try_join!(
                        read::search_stream(&client, &q),
                        read::search_stream(&client, &qc),
                        read::search_stream(&client, read::Q_CUSTOM_GOAL),
                        read::search_stream(&client, read::Q_GOAL_CONFIG),
                        read::search_stream(&client, &ql),
                        read::search_stream(&client, experiment::Q_EXPERIMENT),
                        read::search_stream(&client, experiment::Q_ARM),
                    )?;
                    let fp = experiment::fingerprint(&read::goals_fingerprint(&goals, &configs), &experiments, &arms);
                    if fp != goals_fp || pmax::trees_fingerprint(&filters) != trees_fp {
                        return Ok(self.full_read(account, &client, req).await?);
                    }
                    let raw = read::Raw {
                        user_lists,
                        conversion_actions,
                        ..Default::default()
                    };
                    return Ok(LiveSnapshot {
                        resources: read::to_resources(&account.name, &raw, &req.pinned_ids),
                        removed_ids: Vec::new(),
                        complete: false,
                        marker: Some(since.clone()),
                    });
                }
            }
        }
        Ok(self.full_read(account, &client, req).await?)
    }

    async fn apply(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        Ok(self.run(account, batch, false).await?)
    }

    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        Ok(self.run(account, batch, true).await?)
    }

    async fn health(&self, account: &Account) -> Result<Health, ConnectorError> {
        let client = self.client(account)?;
        let rows = read::search_stream(
            &client,
            "SELECT customer.id, customer.descriptive_name, customer.currency_code FROM customer LIMIT 1",
        )
        .await?;
        let customer = rows.first().and_then(|r| r.get("customer"));
        let currency = customer.and_then(|c| mapping::get_str(c, "currencyCode"));
        let name = customer
            .and_then(|c| mapping::get_str(c, "descriptiveName"))
            .unwrap_or("");
        let ok = currency.is_none_or(|c| c == account.currency.code());
        Ok(Health {
            ok,
            detail: match currency {
                Some(c) if !ok => format!(
                    "customer {} ({name}) bills in {c}, but adsctl.yaml says {}",
                    client.customer_id,
                    account.currency.code()
                ),
                _ => format!("customer {} ({name}) reachable", client.customer_id),
            },
        })
    }

    async fn acquire_lease(
        &self,
        account: &Account,
        holder: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        take_over: Option<&str>,
    ) -> Result<LeaseOutcome, ConnectorError> {
        let client = self.client(account)?;
        Ok(lease::acquire(&client, holder, expires_at, take_over).await?)
    }

    async fn renew_lease(
        &self,
        account: &Account,
        l: &Lease,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ConnectorError> {
        let client = self.client(account)?;
        Ok(lease::renew(&client, l, expires_at).await?)
    }

    async fn release_lease(&self, account: &Account, l: &Lease) -> Result<(), ConnectorError> {
        let client = self.client(account)?;
        Ok(lease::release(&client, l).await?)
    }

    async fn metrics(
        &self,
        account: &Account,
        level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        let client = self.client(account)?;
        let path = format!("customers/{}/googleAds:searchStream", client.customer_id);
        let body = serde_json::json!({ "query": metrics::query(level, range) });
        let text = client
            .post_raw(&path, &body, Replay::Safe)
            .await
            .map_err(ConnectorError::from)?;
        Ok(metrics::parse(level, &text)?)
    }
}
