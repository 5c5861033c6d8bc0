//! Promoted tweets and targeting criteria: the objects a line item holds, created and deleted but never updated.

use serde_json::{json, Map, Value};

use super::error::{invalid, XErr};
use super::objects::{ref_param, render};
use super::params::Params;
use super::state::{Kind, Obj, State};
use super::MAX_TWEET_IDS;

pub(super) fn create_promoted_tweets(st: &mut State, now: i64, account: &str, p: &Params) -> Result<Value, XErr> {
    let li = ref_param(st, account, p, "line_item_id", Kind::LineItem)?.id.clone();
    let raw = p.required("tweet_ids")?;
    let ids: Vec<&str> = raw.split(',').map(str::trim).collect();
    if ids.len() > MAX_TWEET_IDS {
        return Err(invalid(
            "tweet_ids",
            format!("tweet_ids accepts at most {MAX_TWEET_IDS} ids, got {}", ids.len()),
        ));
    }
    if let Some(bad) = ids
        .iter()
        .find(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid(
            "tweet_ids",
            format!("Invalid tweet id \"{bad}\" for tweet_ids"),
        ));
    }
    let mut out = Vec::new();
    for t in ids {
        let id = st.new_id();
        let seq = st.next_id;
        let mut fields = Map::new();
        fields.insert("line_item_id".into(), json!(li));
        fields.insert("tweet_id".into(), json!(t));
        fields.insert("entity_status".into(), json!("ACTIVE"));
        fields.insert("approval_status".into(), json!("ACCEPTED"));
        let o = Obj {
            id: id.clone(),
            kind: Kind::PromotedTweet,
            account: account.to_string(),
            fields,
            created_at: now,
            updated_at: now,
            deleted: false,
            foreign: false,
            seq,
        };
        out.push(render(st, &o));
        st.objects.insert(id, o);
    }
    Ok(Value::Array(out))
}

const TARGETING_TYPES: &[&str] = &[
    "AGE",
    "GENDER",
    "LOCATION",
    "LANGUAGE",
    "INTEREST",
    "FOLLOWERS_OF_USER",
    "SIMILAR_TO_FOLLOWERS_OF_USER",
    "PLATFORM",
    "PLATFORM_VERSION",
    "DEVICE",
    "WIFI_ONLY",
    "NETWORK_OPERATOR",
    "NETWORK_ACTIVATION_DURATION",
    "EVENT",
    "CONVERSATION",
    "TV_SHOW",
    "LIVE_TV_EVENT",
    "ENGAGEMENT_TYPE",
    "CAMPAIGN_ENGAGEMENT",
    "USER_ENGAGEMENT",
    "CAMPAIGN_ENGAGEMENT_LOOKALIKE",
    "USER_ENGAGEMENT_LOOKALIKE",
    "BROAD_KEYWORD",
    "EXACT_KEYWORD",
    "PHRASE_KEYWORD",
    "UNORDERED_KEYWORD",
    "CUSTOM_AUDIENCE",
    "CUSTOM_AUDIENCE_EXPANDED",
    "APP_STORE_CATEGORY",
    "APP_STORE_CATEGORY_LOOKALIKE",
    "APP_LIST",
];
const KEYWORD_TYPES: &[&str] = &["BROAD_KEYWORD", "EXACT_KEYWORD", "PHRASE_KEYWORD", "UNORDERED_KEYWORD"];

/// The fields of a new targeting criterion, with the per-type rules of the pack.
pub(super) fn targeting_fields(
    st: &State,
    account: &str,
    p: &Params,
    fields: &mut Map<String, Value>,
) -> Result<(), XErr> {
    let li = ref_param(st, account, p, "line_item_id", Kind::LineItem)?.id.clone();
    let ty = p.required("targeting_type")?.to_string();
    let value = p.required("targeting_value")?.to_string();
    if !TARGETING_TYPES.contains(&ty.as_str()) {
        return Err(
            XErr::new(400, "UNKNOWN_CRITERIA_TYPE", format!("Unknown targeting_type \"{ty}\"")).param("targeting_type"),
        );
    }
    let op = p
        .enumerated("operator_type", &["EQ", "NE", "GTE", "LT"])?
        .unwrap_or_else(|| "EQ".to_string());
    if matches!(op.as_str(), "GTE" | "LT") && ty != "NETWORK_ACTIVATION_DURATION" {
        return Err(invalid(
            "operator_type",
            format!("{op} is only for NETWORK_ACTIVATION_DURATION"),
        ));
    }
    if ty == "APP_LIST" && op != "NE" {
        return Err(invalid("operator_type", "APP_LIST takes operator_type NE only"));
    }
    if ty == "GENDER" && !matches!(value.as_str(), "1" | "2") {
        return Err(invalid("targeting_value", "GENDER is 1 (male) or 2 (female)"));
    }
    if ty == "AGE" && !value.starts_with("AGE_") {
        return Err(invalid("targeting_value", format!("Invalid AGE bucket \"{value}\"")));
    }
    let existing: Vec<&Obj> = st
        .objects
        .values()
        .filter(|o| o.kind == Kind::TargetingCriterion && !o.deleted)
        .filter(|o| o.fields.get("line_item_id") == Some(&json!(li)))
        .collect();
    let count = |types: &[&str]| {
        existing
            .iter()
            .filter(|o| {
                o.fields
                    .get("targeting_type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| types.contains(&t))
            })
            .count()
    };
    let limit = match ty.as_str() {
        "AGE" | "EVENT" => Some((count(&[ty.as_str()]), 1)),
        "LOCATION" => Some((count(&["LOCATION"]), 2000)),
        "INTEREST" => Some((count(&["INTEREST"]), 100)),
        "SIMILAR_TO_FOLLOWERS_OF_USER" => Some((count(&["SIMILAR_TO_FOLLOWERS_OF_USER"]), 100)),
        t if KEYWORD_TYPES.contains(&t) => Some((count(KEYWORD_TYPES), 1000)),
        _ => None,
    };
    if let Some((n, max)) = limit {
        if n >= max {
            return Err(invalid(
                "targeting_type",
                format!("A line item has at most {max} {ty} targeting criteria"),
            ));
        }
    }
    if ty == "TV_SHOW" && count(&["LOCATION"]) == 0 {
        return Err(XErr::new(
            400,
            "INVALID_TV_SHOW_LOCATIONS",
            "TV_SHOW targeting needs a LOCATION criterion first",
        )
        .param("targeting_type"));
    }
    fields.insert("line_item_id".into(), json!(li));
    fields.insert("targeting_type".into(), json!(ty));
    fields.insert("targeting_value".into(), json!(value));
    fields.insert("operator_type".into(), json!(op));
    fields.insert("name".into(), json!(value));
    fields.insert("localized_name".into(), Value::Null);
    fields.insert(
        "location_type".into(),
        if ty == "LOCATION" {
            json!("COUNTRIES")
        } else {
            Value::Null
        },
    );
    Ok(())
}
