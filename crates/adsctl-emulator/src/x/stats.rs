//! Stats: synchronous `GET /12/stats/accounts/{a}` (synthetic deterministic numbers), asynchronous jobs
//! (`POST|GET /12/stats/jobs/accounts/{a}`) and a finished job's gzip JSON result.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Map, Value};

use super::error::{invalid, XErr};
use super::objects::find;
use super::params::Params;
use super::state::{is_base36, iso, Job, Kind, State, XConfig};
use super::{XEmulator, MAX_IDS};

pub const MAX_STATS_IDS: usize = 20;
pub const MAX_SYNC_STATS_DAYS: i64 = 7;
const STATS_ENTITIES: &[&str] = &[
    "ACCOUNT",
    "FUNDING_INSTRUMENT",
    "CAMPAIGN",
    "LINE_ITEM",
    "PROMOTED_TWEET",
    "PROMOTED_ACCOUNT",
];
const METRIC_GROUPS: &[&str] = &[
    "ENGAGEMENT",
    "BILLING",
    "VIDEO",
    "MEDIA",
    "WEB_CONVERSION",
    "MOBILE_CONVERSION",
    "LIFE_TIME_VALUE_MOBILE_CONVERSION",
];

fn group_metrics(group: &str) -> &'static [&'static str] {
    match group {
        "ENGAGEMENT" => &[
            "engagements",
            "impressions",
            "retweets",
            "replies",
            "likes",
            "follows",
            "card_engagements",
            "clicks",
            "app_clicks",
            "url_clicks",
            "qualified_impressions",
            "carousel_swipes",
        ],
        "BILLING" => &["billed_engagements", "billed_charge_local_micro"],
        "VIDEO" => &[
            "video_total_views",
            "video_views_25",
            "video_views_50",
            "video_views_75",
            "video_views_100",
            "video_cta_clicks",
            "video_content_starts",
            "video_3s100pct_views",
            "video_6s_views",
            "video_15s_views",
        ],
        _ => &[],
    }
}

pub(super) fn sync_stats(
    cfg: &XConfig,
    st: &State,
    account: &str,
    p: &Params,
    max_days: i64,
) -> Result<(usize, Vec<Value>), XErr> {
    let entity = p.required("entity")?;
    if !STATS_ENTITIES.contains(&entity) {
        return Err(invalid(
            "entity",
            format!(
                "Expected enum value in [{}], got \"{entity}\" for entity",
                STATS_ENTITIES.join(", ")
            ),
        ));
    }
    let ids: Vec<String> = p
        .required("entity_ids")?
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    if ids.len() > MAX_STATS_IDS {
        return Err(invalid(
            "entity_ids",
            format!("entity_ids accepts at most {MAX_STATS_IDS} ids, got {}", ids.len()),
        ));
    }
    let kind = match entity {
        "FUNDING_INSTRUMENT" => Some(Kind::FundingInstrument),
        "CAMPAIGN" => Some(Kind::Campaign),
        "LINE_ITEM" => Some(Kind::LineItem),
        "PROMOTED_TWEET" => Some(Kind::PromotedTweet),
        _ => None,
    };
    for id in &ids {
        let known = match (entity, kind) {
            ("ACCOUNT", _) => id == account,
            (_, Some(k)) => find(st, account, k, id).is_some(),
            _ => is_base36(id),
        };
        if !known {
            return Err(invalid(
                "entity_ids",
                format!("{entity} {id} does not exist in account {account}"),
            ));
        }
    }
    p.required("start_time")?;
    p.required("end_time")?;
    let start = p.time("start_time")?.unwrap_or(0);
    let end = p.time("end_time")?.unwrap_or(0);
    for (k, t) in [("start_time", start), ("end_time", end)] {
        if t.rem_euclid(3600) != 0 {
            return Err(invalid(k, format!("{k} must be a whole hour")));
        }
    }
    if end <= start {
        return Err(invalid(
            "end_time",
            "end_time must be after start_time (the end is exclusive)",
        ));
    }
    if end - start > max_days * 86_400 {
        return Err(XErr::new(
            400,
            "INVALID_TIME_WINDOW",
            format!("This stats request spans at most {max_days} days"),
        )
        .param("end_time"));
    }
    let granularity = p.required("granularity")?;
    let hours = ((end - start) / 3600) as usize;
    let n = match granularity {
        "HOUR" => hours,
        "DAY" => hours.div_ceil(24),
        "TOTAL" => 1,
        g => {
            return Err(invalid(
                "granularity",
                format!("Expected enum value in [HOUR, DAY, TOTAL], got \"{g}\" for granularity"),
            ))
        }
    };
    let placement = p.required("placement")?;
    if !matches!(
        placement,
        "ALL_ON_TWITTER" | "PUBLISHER_NETWORK" | "SPOTLIGHT" | "TREND"
    ) {
        return Err(invalid(
            "placement",
            format!("One placement per request, got \"{placement}\""),
        ));
    }
    let groups: Vec<&str> = p.required("metric_groups")?.split(',').map(str::trim).collect();
    if let Some(bad) = groups.iter().find(|g| !METRIC_GROUPS.contains(g)) {
        return Err(invalid("metric_groups", format!("Unknown metric group \"{bad}\"")));
    }
    if groups.contains(&"MOBILE_CONVERSION") && groups.len() > 1 {
        return Err(invalid(
            "metric_groups",
            "MOBILE_CONVERSION must be requested on its own",
        ));
    }
    let mut data = Vec::new();
    for id in &ids {
        let mut metrics = Map::new();
        for g in &groups {
            for m in group_metrics(g) {
                let series: Vec<u64> = (0..n)
                    .map(|i| {
                        let h = crate::rng::mix64(
                            cfg.metric_seed
                                ^ crate::rng::hash_str(&format!("{id}/{m}/{placement}/{granularity}/{start}/{i}")),
                        );
                        let scale = if granularity == "HOUR" {
                            1
                        } else if granularity == "DAY" {
                            24
                        } else {
                            hours as u64
                        };
                        match *m {
                            "impressions" | "qualified_impressions" => (h % 100) * scale,
                            "billed_charge_local_micro" => (h % 50) * 10_000 * scale,
                            _ => (h % 5) * scale,
                        }
                    })
                    .collect();
                metrics.insert((*m).to_string(), json!(series));
            }
        }
        data.push(json!({"id": id, "id_data": [{"segment": null, "metrics": metrics}]}));
    }
    Ok((n, data))
}

// ---------------------------------------------------------------------------------------------------------------
// Asynchronous stats jobs

pub const MAX_CONCURRENT_JOBS: usize = 100;
pub const MAX_ASYNC_DAYS: i64 = 90;
pub const MAX_ASYNC_SEGMENTED_DAYS: i64 = 45;
const SEGMENTATIONS: &[&str] = &["AGE", "GENDER", "METROS", "PLATFORMS", "CONVERSION_TAGS"];

fn render_job(j: &Job, host: &str) -> Value {
    let p = Params(j.params.clone());
    let list = |k: &str| {
        p.get(k)
            .map(|v| json!(v.split(',').collect::<Vec<_>>()))
            .unwrap_or(Value::Null)
    };
    let done = j.polled;
    json!({
        "id": j.id, "id_str": j.id.to_string(), "account_id": j.account,
        "status": if done { "SUCCESS" } else { "PROCESSING" },
        "url": if done { json!(format!("http://{host}/_emulator/x/stats_results/{}", j.id)) } else { Value::Null },
        "expires_at": if done { json!(iso(j.created_at + 7 * 86_400)) } else { Value::Null },
        "entity": p.get("entity"), "entity_ids": list("entity_ids"), "metric_groups": list("metric_groups"),
        "placement": p.get("placement"), "granularity": p.get("granularity"),
        "start_time": p.time("start_time").ok().flatten().map(iso), "end_time": p.time("end_time").ok().flatten().map(iso),
        "segmentation_type": p.get("segmentation_type"), "country": p.get("country"), "platform": p.get("platform"),
        "created_at": iso(j.created_at), "updated_at": iso(j.created_at),
    })
}

pub(super) fn create_job(
    cfg: &XConfig,
    st: &mut State,
    now: i64,
    account: &str,
    p: &Params,
    host: &str,
) -> Result<Value, XErr> {
    let seg = p.enumerated("segmentation_type", SEGMENTATIONS)?;
    let max = if seg.is_some() {
        MAX_ASYNC_SEGMENTED_DAYS
    } else {
        MAX_ASYNC_DAYS
    };
    sync_stats(cfg, st, account, p, max)?;
    let running = st.jobs.values().filter(|j| j.account == account && !j.polled).count();
    if running >= MAX_CONCURRENT_JOBS {
        return Err(XErr::new(
            400,
            "INVALID_PARAMETER",
            format!("At most {MAX_CONCURRENT_JOBS} concurrent jobs per account"),
        ));
    }
    st.next_id += 1;
    let id = 1_300_000_000_000_000_000u64 + st.next_id;
    let job = Job {
        id,
        account: account.to_string(),
        params: p.0.iter().filter(|(k, _)| !k.starts_with("oauth_")).cloned().collect(),
        created_at: now,
        polled: false,
    };
    let v = render_job(&job, host);
    st.jobs.insert(id.to_string(), job);
    Ok(v)
}

pub(super) fn list_jobs(st: &mut State, account: &str, p: &Params, host: &str) -> Result<Vec<Value>, XErr> {
    let ids: Option<Vec<String>> = match p.get("job_ids") {
        None | Some("") => None,
        Some(v) => {
            let ids: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
            if ids.len() > MAX_IDS {
                return Err(invalid("job_ids", format!("job_ids accepts at most {MAX_IDS} ids")));
            }
            Some(ids)
        }
    };
    let mut out = Vec::new();
    for j in st.jobs.values_mut() {
        if j.account != account || ids.as_ref().is_some_and(|ids| !ids.contains(&j.id.to_string())) {
            continue;
        }
        let v = render_job(j, host);
        j.polled = true;
        out.push(v);
    }
    Ok(out)
}

/// `data` as one gzip member (deflate at the default level).
pub fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data)?;
    gz.finish()
}

/// The gzip JSON a finished job's url serves (same schema as sync stats).
pub fn job_result(emu: &XEmulator, id: &str) -> Option<Vec<u8>> {
    let cfg = emu.config();
    let st = emu.inner.lock();
    let j = st.jobs.get(id)?;
    let p = Params(j.params.clone());
    let (n, data) = sync_stats(&cfg, &st, &j.account, &p, MAX_ASYNC_DAYS).ok()?;
    let body = json!({"data_type": "stats", "time_series_length": n, "data": data, "request": p.echo(&[("account_id", &j.account)])});
    gzip(body.to_string().as_bytes()).ok()
}
