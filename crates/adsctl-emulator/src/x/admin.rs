//! The admin API under `/_emulator/x/` (JSON; not counted, never faulted): accounts, foreign objects, the
//! clock, config, audience members, stats results and the store.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::objects::render;
use super::state::{insert_account, is_base36, to_base36, Kind, Obj};
use super::stats::job_result;
use super::XEmulator;
use crate::config::XAccountSeed;
use crate::platform::{defaults, PlatformEmulator};

#[derive(Deserialize)]
struct AccountBody {
    id: Option<String>,
    name: Option<String>,
    timezone: Option<String>,
    currency: Option<String>,
    funding_instrument_id: Option<String>,
    funding_instrument_type: Option<String>,
}

#[derive(Deserialize)]
struct ObjectsBody {
    kind: String,
    account: Option<String>,
    #[serde(default)]
    fields: Map<String, Value>,
    count: Option<usize>,
}

#[derive(Deserialize)]
struct ClockBody {
    advance_secs: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfigBody {
    timestamp_window_secs: Option<i64>,
    max_active_campaigns: Option<usize>,
    account_reads_per_15_min: Option<u32>,
    writes_per_minute: Option<u32>,
}

fn admin_error(status: StatusCode, msg: &str) -> Response {
    (status, AxumJson(json!({"error": msg}))).into_response()
}

pub(super) fn admin_router(emu: XEmulator) -> Router {
    let e1 = emu.clone();
    let e2 = emu.clone();
    let e3 = emu.clone();
    let e4 = emu.clone();
    let e5 = emu.clone();
    let e6 = emu.clone();
    let e7 = emu.clone();
    let e8 = emu.clone();
    let e9 = emu;
    Router::new()
        .route(
            "/_emulator/x/accounts",
            post(move |AxumJson(b): AxumJson<AccountBody>| {
                let emu = e1.clone();
                async move {
                    let mut st = emu.inner.lock();
                    let id = b.id.unwrap_or_else(|| {
                        st.next_id += 1;
                        to_base36(2_000_000_000_000_000 + st.next_id)
                    });
                    if !is_base36(&id) {
                        return admin_error(StatusCode::BAD_REQUEST, "id must be base-36 (0-9 a-z)");
                    }
                    let seed = XAccountSeed {
                        id: id.clone(),
                        name: b.name,
                        timezone: b.timezone.unwrap_or_else(|| defaults::X_ACCOUNT_TIMEZONE.into()),
                        currency: b.currency.unwrap_or_else(|| "USD".into()),
                        funding_instrument_id: b.funding_instrument_id,
                        funding_instrument_type: b.funding_instrument_type,
                    };
                    let now = st.now();
                    let fi = insert_account(&mut st, &seed, now);
                    AxumJson(json!({"id": id, "funding_instrument_id": fi})).into_response()
                }
            }),
        )
        .route(
            "/_emulator/x/objects",
            post(move |AxumJson(b): AxumJson<ObjectsBody>| {
                let emu = e2.clone();
                async move {
                    let Some(kind) = Kind::parse(&b.kind) else {
                        return admin_error(StatusCode::BAD_REQUEST, "kind: campaign, line_item, promoted_tweet, targeting_criterion, custom_audience or funding_instrument");
                    };
                    let mut st = emu.inner.lock();
                    let account = b.account.unwrap_or_else(|| defaults::X_ACCOUNT_ID.to_string());
                    if !st.accounts.contains_key(&account) {
                        return admin_error(StatusCode::NOT_FOUND, "no such account");
                    }
                    let now = st.now();
                    let mut ids = Vec::new();
                    for _ in 0..b.count.unwrap_or(1) {
                        let id = st.new_id();
                        let seq = st.next_id;
                        let mut fields = b.fields.clone();
                        fields.entry("entity_status").or_insert(json!("ACTIVE"));
                        st.objects.insert(
                            id.clone(),
                            Obj {
                                id: id.clone(),
                                kind,
                                account: account.clone(),
                                fields,
                                created_at: now,
                                updated_at: now,
                                deleted: false,
                                foreign: true,
                                seq,
                            },
                        );
                        ids.push(id);
                    }
                    AxumJson(json!({"ids": ids})).into_response()
                }
            }),
        )
        .route(
            "/_emulator/x/objects/{id}",
            get(move |Path(id): Path<String>| {
                let emu = e3.clone();
                async move {
                    let st = emu.inner.lock();
                    match st.objects.get(&id) {
                        Some(o) => {
                            let mut v = render(&st, o);
                            v["_emulator"] = json!({"kind": o.kind, "deleted": o.deleted, "foreign": o.foreign, "account": o.account});
                            AxumJson(v).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such object"),
                    }
                }
            })
            .post(move |Path(id): Path<String>, AxumJson(b): AxumJson<Map<String, Value>>| {
                // a change made by another client (X Ads Manager): the fields as given, no validation
                let emu = e9.clone();
                async move {
                    let mut st = emu.inner.lock();
                    let now = st.now();
                    let Some(o) = st.objects.get_mut(&id) else {
                        return admin_error(StatusCode::NOT_FOUND, "no such object");
                    };
                    o.fields.extend(b);
                    o.updated_at = now;
                    let v = render(&st, &st.objects[&id]);
                    AxumJson(v).into_response()
                }
            }),
        )
        .route(
            "/_emulator/x/clock",
            post(move |AxumJson(b): AxumJson<ClockBody>| {
                let emu = e4.clone();
                async move {
                    emu.inner.lock().clock_offset_secs += b.advance_secs;
                    AxumJson(json!({"ok": true})).into_response()
                }
            }),
        )
        .route(
            "/_emulator/x/config",
            post(move |AxumJson(b): AxumJson<ConfigBody>| {
                let emu = e5.clone();
                async move {
                    emu.configure(|c| {
                        if let Some(w) = b.timestamp_window_secs {
                            c.timestamp_window_secs = w;
                        }
                        if let Some(m) = b.max_active_campaigns {
                            c.max_active_campaigns = m;
                        }
                        if let Some(l) = b.account_reads_per_15_min {
                            c.account_reads_per_15_min = Some(l).filter(|l| *l > 0);
                        }
                        if let Some(l) = b.writes_per_minute {
                            c.writes_per_minute = Some(l).filter(|l| *l > 0);
                        }
                    });
                    AxumJson(serde_json::to_value(emu.config()).unwrap_or(Value::Null)).into_response()
                }
            }),
        )
        .route(
            "/_emulator/x/stats_results/{id}",
            get(move |Path(id): Path<String>| {
                let emu = e7.clone();
                async move {
                    match job_result(&emu, &id) {
                        Some(gz) => {
                            let mut r = (StatusCode::OK, gz).into_response();
                            r.headers_mut()
                                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/gzip"));
                            r
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such job"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/x/custom_audiences/{id}/members",
            get(move |Path(id): Path<String>| {
                let emu = e8.clone();
                async move {
                    let st = emu.inner.lock();
                    match st.objects.get(&id).filter(|o| o.kind == Kind::CustomAudience) {
                        Some(_) => {
                            let m: Vec<&String> = st.audience_members.get(&id).map(|m| m.iter().collect()).unwrap_or_default();
                            AxumJson(json!({"count": m.len(), "members": m})).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such custom audience"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/x/store",
            get(move || {
                let emu = e6.clone();
                async move { AxumJson(emu.dump()).into_response() }
            }),
        )
}
