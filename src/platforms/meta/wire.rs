//! The Graph API objects adsctl reads, exactly as they come over the wire (field names from
//! `specs/Campaign.json`, `AdSet.json`, `Ad.json`, `AdCreative.json`, `AdLabel.json`, `CustomAudience.json`,
//! `AdsInsights.json`, `AdReportRun.json`, and the supplement's `CustomConversion.json`), and the `fields=` lists that ask for them.

use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;

/// `fields=` for campaigns.
pub const CAMPAIGN_FIELDS: &str = "id,name,status,configured_status,effective_status,objective,special_ad_categories,\
daily_budget,lifetime_budget,bid_strategy,start_time,stop_time,promoted_object,adlabels,updated_time";
/// `fields=` for ad sets.
pub const ADSET_FIELDS: &str = "id,name,campaign_id,status,configured_status,effective_status,optimization_goal,\
billing_event,bid_amount,bid_strategy,daily_budget,lifetime_budget,start_time,end_time,targeting,promoted_object,\
adlabels,updated_time";
/// `fields=` for ads (the creative comes as `{id}` and is joined with the creatives list).
pub const AD_FIELDS: &str = "id,name,adset_id,campaign_id,status,configured_status,effective_status,creative,\
ad_review_feedback,issues_info,adlabels,updated_time";
/// `fields=` for creatives.
pub const CREATIVE_FIELDS: &str = "id,name,object_story_spec,product_set_id,status";
/// `fields=` for ad labels.
pub const LABEL_FIELDS: &str = "id,name";
/// `fields=` for custom audiences (customer files and lookalikes).
pub const AUDIENCE_FIELDS: &str = "id,name,subtype,description,customer_file_source,lookalike_spec,\
approximate_count_lower_bound,approximate_count_upper_bound,delivery_status,operation_status,time_updated";
/// `fields=` for custom conversions (`pixel` comes as `{id}`; `rule` as JSON text).
pub const CUSTOM_CONVERSION_FIELDS: &str =
    "id,name,custom_event_type,default_conversion_value,description,rule,pixel,is_archived";
/// `fields=` for insights rows.
pub const INSIGHTS_FIELDS: &str = "campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name,impressions,clicks,\
spend,actions,action_values,account_currency,date_start,date_stop";

/// A string the Graph API sometimes sends as a number (budgets are strings on read, bid_amount a number).
pub fn str_or_num<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Json>::deserialize(d)?;
    Ok(match v {
        Some(Json::String(s)) => Some(s),
        Some(Json::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A list the Graph API sends either bare (`[...]`) or as an edge (`{"data":[...]}`).
fn list_or_edge<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    let v = Option::<Json>::deserialize(d)?;
    let arr = match v {
        Some(Json::Array(a)) => a,
        Some(Json::Object(mut o)) => match o.remove("data") {
            Some(Json::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    Ok(arr.into_iter().filter_map(|x| serde_json::from_value(x).ok()).collect())
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct LabelRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Campaign {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub effective_status: Option<String>,
    #[serde(default)]
    pub objective: Option<String>,
    #[serde(default)]
    pub special_ad_categories: Option<Vec<String>>,
    #[serde(default, deserialize_with = "str_or_num")]
    pub daily_budget: Option<String>,
    #[serde(default, deserialize_with = "str_or_num")]
    pub lifetime_budget: Option<String>,
    #[serde(default)]
    pub bid_strategy: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub stop_time: Option<String>,
    /// Catalog ads: `{"product_catalog_id": "…"}`.
    #[serde(default)]
    pub promoted_object: Option<Json>,
    #[serde(default, deserialize_with = "list_or_edge")]
    pub adlabels: Vec<LabelRef>,
    #[serde(default)]
    pub updated_time: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct AdSet {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "str_or_num")]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub effective_status: Option<String>,
    #[serde(default)]
    pub optimization_goal: Option<String>,
    /// AdPromotedObject: `{"pixel_id":"…","custom_event_type":"PURCHASE"}`.
    #[serde(default)]
    pub promoted_object: Option<Json>,
    #[serde(default)]
    pub billing_event: Option<String>,
    #[serde(default, deserialize_with = "str_or_num")]
    pub bid_amount: Option<String>,
    #[serde(default)]
    pub bid_strategy: Option<String>,
    #[serde(default, deserialize_with = "str_or_num")]
    pub daily_budget: Option<String>,
    #[serde(default, deserialize_with = "str_or_num")]
    pub lifetime_budget: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    /// Kept raw: an update must send the whole targeting spec back, including parts adsctl does not manage.
    #[serde(default)]
    pub targeting: Option<Json>,
    #[serde(default, deserialize_with = "list_or_edge")]
    pub adlabels: Vec<LabelRef>,
    #[serde(default)]
    pub updated_time: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct IdOnly {
    #[serde(default, deserialize_with = "str_or_num")]
    pub id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Ad {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "str_or_num")]
    pub adset_id: Option<String>,
    #[serde(default, deserialize_with = "str_or_num")]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub effective_status: Option<String>,
    #[serde(default)]
    pub creative: Option<IdOnly>,
    /// AdgroupReviewFeedback: `{"global": {"<policy>": "<reason>"}, "placement_specific": {...}}`.
    #[serde(default)]
    pub ad_review_feedback: Option<Json>,
    #[serde(default)]
    pub issues_info: Option<Json>,
    #[serde(default, deserialize_with = "list_or_edge")]
    pub adlabels: Vec<LabelRef>,
    #[serde(default)]
    pub updated_time: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Creative {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub object_story_spec: Option<Json>,
    /// Catalog ads: the product set a dynamic creative shows.
    #[serde(default, deserialize_with = "str_or_num")]
    pub product_set_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct AdLabel {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct CustomAudience {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub customer_file_source: Option<String>,
    /// LookalikeSpec: `{"country":"US","ratio":0.01,"origin":[{"id":"…","name":"…","type":"custom_audience"}]}`.
    #[serde(default)]
    pub lookalike_spec: Option<Json>,
    #[serde(default)]
    pub approximate_count_lower_bound: Option<i64>,
    #[serde(default)]
    pub approximate_count_upper_bound: Option<i64>,
    #[serde(default)]
    pub delivery_status: Option<Json>,
    #[serde(default)]
    pub operation_status: Option<Json>,
    #[serde(default)]
    pub time_updated: Option<Json>,
}

/// CustomConversion (`reference/meta-marketing-supplement/specs/CustomConversion.json`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CustomConversion {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub custom_event_type: Option<String>,
    /// A float on write, an int on read (whole units of the account currency).
    #[serde(default, deserialize_with = "str_or_num")]
    pub default_conversion_value: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The rule as JSON text.
    #[serde(default)]
    pub rule: Option<String>,
    /// The pixel (AdsPixel) whose events it counts: `{"id": "…"}`.
    #[serde(default)]
    pub pixel: Option<IdOnly>,
    #[serde(default)]
    pub is_archived: Option<bool>,
}

/// One insights row (all values strings, as Meta sends them).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct InsightsRow {
    #[serde(default)]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub campaign_name: Option<String>,
    #[serde(default)]
    pub adset_id: Option<String>,
    #[serde(default)]
    pub adset_name: Option<String>,
    #[serde(default)]
    pub ad_id: Option<String>,
    #[serde(default)]
    pub ad_name: Option<String>,
    #[serde(default, deserialize_with = "str_or_num")]
    pub impressions: Option<String>,
    #[serde(default, deserialize_with = "str_or_num")]
    pub clicks: Option<String>,
    #[serde(default, deserialize_with = "str_or_num")]
    pub spend: Option<String>,
    #[serde(default)]
    pub actions: Vec<ActionStat>,
    #[serde(default)]
    pub action_values: Vec<ActionStat>,
    #[serde(default)]
    pub account_currency: Option<String>,
    #[serde(default)]
    pub date_start: Option<String>,
    #[serde(default)]
    pub date_stop: Option<String>,
}

/// AdsActionStats: `{"action_type":"offsite_conversion.fb_pixel_purchase","value":"3"}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ActionStat {
    #[serde(default)]
    pub action_type: String,
    #[serde(default, deserialize_with = "str_or_num")]
    pub value: Option<String>,
}

/// AdReportRun (the fields polled).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ReportRun {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub async_status: Option<String>,
    #[serde(default, deserialize_with = "str_or_num")]
    pub async_percent_completion: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_and_labels_in_either_shape() {
        let c: Campaign = serde_json::from_str(
            r#"{"id":"1","name":"A","daily_budget":"5000","lifetime_budget":0,
               "adlabels":[{"id":"9","name":"adsctl-managed"}]}"#,
        )
        .unwrap();
        assert_eq!(c.daily_budget.as_deref(), Some("5000"));
        assert_eq!(c.lifetime_budget.as_deref(), Some("0"));
        assert_eq!(c.adlabels[0].name.as_deref(), Some("adsctl-managed"));
        let s: AdSet =
            serde_json::from_str(r#"{"id":"2","adlabels":{"data":[{"id":"9","name":"x"}]},"bid_amount":150}"#).unwrap();
        assert_eq!(s.adlabels.len(), 1);
        assert_eq!(s.bid_amount.as_deref(), Some("150"));
    }
}
