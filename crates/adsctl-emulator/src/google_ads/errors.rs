//! The two error envelopes of the Google Ads REST API: the JSON front end's BadRequest (INVALID_ARGUMENT with
//! `fieldViolations`) and the Ads backend's `GoogleAdsFailure`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::schema::V;

/// One `ErrorCode` member: (oneof field in `errors.ErrorCode`, enum value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code(pub &'static str, pub &'static str);

macro_rules! codes {
    ($($name:ident = $cat:literal : $val:literal,)*) => {
        $(pub const $name: Code = Code($cat, $val);)*
        /// Every error code the emulator can emit (checked against the v25 table by a test).
        pub const ALL_CODES: &[Code] = &[$($name),*];
    };
}

codes! {
    OAUTH_TOKEN_INVALID = "authenticationError": "OAUTH_TOKEN_INVALID",
    OAUTH_TOKEN_EXPIRED = "authenticationError": "OAUTH_TOKEN_EXPIRED",
    OAUTH_TOKEN_HEADER_INVALID = "authenticationError": "OAUTH_TOKEN_HEADER_INVALID",
    DEVELOPER_TOKEN_INVALID = "authenticationError": "DEVELOPER_TOKEN_INVALID",
    DEVELOPER_TOKEN_PARAMETER_MISSING = "requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING",
    INVALID_LOGIN_CUSTOMER_ID = "headerError": "INVALID_LOGIN_CUSTOMER_ID",
    USER_PERMISSION_DENIED = "authorizationError": "USER_PERMISSION_DENIED",
    INVALID_CUSTOMER_ID = "requestError": "INVALID_CUSTOMER_ID",
    TOO_MANY_MUTATE_OPERATIONS = "requestError": "TOO_MANY_MUTATE_OPERATIONS",
    OPERATION_REQUIRED = "requestError": "OPERATION_REQUIRED",
    RESOURCE_NAME_MISSING = "requestError": "RESOURCE_NAME_MISSING",
    RESOURCE_NAME_MALFORMED = "requestError": "RESOURCE_NAME_MALFORMED",
    PAGE_SIZE_NOT_SUPPORTED = "requestError": "PAGE_SIZE_NOT_SUPPORTED",
    INVALID_PAGE_TOKEN = "requestError": "INVALID_PAGE_TOKEN",
    VALIDATE_ONLY_REQUEST_HAS_PAGE_TOKEN = "requestError": "VALIDATE_ONLY_REQUEST_HAS_PAGE_TOKEN",
    RESOURCE_NOT_FOUND = "mutateError": "RESOURCE_NOT_FOUND",
    RESOURCE_ALREADY_EXISTS = "mutateError": "RESOURCE_ALREADY_EXISTS",
    FIELD_REQUIRED = "fieldError": "REQUIRED",
    IMMUTABLE_FIELD = "fieldError": "IMMUTABLE_FIELD",
    INVALID_VALUE = "fieldError": "INVALID_VALUE",
    FIELD_MASK_MISSING = "fieldMaskError": "FIELD_MASK_MISSING",
    FIELD_NOT_FOUND = "fieldMaskError": "FIELD_NOT_FOUND",
    DUPLICATE_TEMP_IDS = "newResourceCreationError": "DUPLICATE_TEMP_IDS",
    TEMP_ID_RESOURCE_HAD_ERRORS = "newResourceCreationError": "TEMP_ID_RESOURCE_HAD_ERRORS",
    CANNOT_SET_ID_FOR_CREATE = "newResourceCreationError": "CANNOT_SET_ID_FOR_CREATE",
    OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE = "operationAccessDeniedError": "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE",
    CANNOT_OPERATE_ON_REMOVED_ADGROUPAD = "adGroupAdError": "CANNOT_OPERATE_ON_REMOVED_ADGROUPAD",
    DUPLICATE_CAMPAIGN_NAME = "campaignError": "DUPLICATE_CAMPAIGN_NAME",
    DUPLICATE_ADGROUP_NAME = "adGroupError": "DUPLICATE_ADGROUP_NAME",
    BUDGET_DUPLICATE_NAME = "campaignBudgetError": "DUPLICATE_NAME",
    CAMPAIGN_BUDGET_REMOVED = "campaignBudgetError": "CAMPAIGN_BUDGET_REMOVED",
    BUDGET_NEGATIVE_MONEY_AMOUNT = "campaignBudgetError": "NEGATIVE_MONEY_AMOUNT",
    BUDGET_NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT = "campaignBudgetError": "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",
    EU_POLITICAL_ADVERTISING_DECLARATION_REQUIRED = "mutateError": "EU_POLITICAL_ADVERTISING_DECLARATION_REQUIRED",
    CAMPAIGN_BUDGET_IN_USE = "campaignBudgetError": "CAMPAIGN_BUDGET_IN_USE",
    IMPLICITLY_SHARED_BUDGET_MULTIPLE_CAMPAIGNS = "campaignBudgetError": "CANNOT_USE_IMPLICITLY_SHARED_CAMPAIGN_BUDGET_WITH_MULTIPLE_CAMPAIGNS",
    LABEL_DUPLICATE_NAME = "labelError": "DUPLICATE_NAME",
    USER_LIST_NAME_ALREADY_USED = "userListError": "NAME_ALREADY_USED",
    CONVERSION_ACTION_DUPLICATE_NAME = "conversionActionError": "DUPLICATE_NAME",
    CONVERSION_ACTION_CREATION_NOT_SUPPORTED = "conversionActionError": "CREATION_NOT_SUPPORTED",
    CONVERSION_ACTION_RULE_BASED_ATTRIBUTION = "conversionActionError": "CANNOT_SET_RULE_BASED_ATTRIBUTION_MODELS",
    CUSTOM_GOAL_INVALID_CONVERSION_ACTION = "customConversionGoalError": "INVALID_CONVERSION_ACTION",
    CUSTOM_GOAL_CONVERSION_ACTION_NOT_ENABLED = "customConversionGoalError": "CONVERSION_ACTION_NOT_ENABLED",
    CUSTOM_GOAL_CANNOT_REMOVE_LINKED = "customConversionGoalError": "CANNOT_REMOVE_LINKED_CUSTOM_CONVERSION_GOAL",
    CUSTOM_GOAL_DUPLICATE_NAME = "customConversionGoalError": "CUSTOM_GOAL_DUPLICATE_NAME",
    CUSTOM_GOAL_DUPLICATE_CONVERSION_ACTION_LIST = "customConversionGoalError": "DUPLICATE_CONVERSION_ACTION_LIST",
    CAMPAIGN_LABEL_ALREADY_EXISTS = "campaignError": "CAMPAIGN_LABEL_ALREADY_EXISTS",
    MISSING_SHOPPING_SETTING = "campaignError": "MISSING_SHOPPING_SETTING",
    RANGE_TOO_LOW = "rangeError": "TOO_LOW",
    RANGE_TOO_HIGH = "rangeError": "TOO_HIGH",
    MERCHANT_ID_CANNOT_BE_ACCESSED = "merchantCenterError": "MERCHANT_ID_CANNOT_BE_ACCESSED",
    CAMPAIGN_BUDGET_CANNOT_BE_SHARED = "campaignBudgetError": "CAMPAIGN_BUDGET_CANNOT_BE_SHARED",
    INVALID_ANONYMOUS_BIDDING_STRATEGY_TYPE = "biddingError": "INVALID_ANONYMOUS_BIDDING_STRATEGY_TYPE",
    ASSET_GROUP_DUPLICATE_NAME = "assetGroupError": "DUPLICATE_NAME",
    ASSET_GROUP_FOR_CAMPAIGN_TYPE = "assetGroupError": "CANNOT_ADD_ASSET_GROUP_FOR_CAMPAIGN_TYPE",
    ASSET_GROUP_FINAL_URL_REQUIRED = "assetGroupError": "FINAL_URL_REQUIRED",
    ASSET_GROUP_PATH1_REQUIRED = "assetGroupError": "PATH1_REQUIRED_WHEN_PATH2_IS_SET",
    ASSET_GROUP_NOT_ENOUGH_HEADLINE = "assetGroupError": "NOT_ENOUGH_HEADLINE_ASSET",
    ASSET_GROUP_NOT_ENOUGH_LONG_HEADLINE = "assetGroupError": "NOT_ENOUGH_LONG_HEADLINE_ASSET",
    ASSET_GROUP_NOT_ENOUGH_DESCRIPTION = "assetGroupError": "NOT_ENOUGH_DESCRIPTION_ASSET",
    ASSET_GROUP_NOT_ENOUGH_BUSINESS_NAME = "assetGroupError": "NOT_ENOUGH_BUSINESS_NAME_ASSET",
    ASSET_GROUP_NOT_ENOUGH_MARKETING_IMAGE = "assetGroupError": "NOT_ENOUGH_MARKETING_IMAGE_ASSET",
    ASSET_GROUP_NOT_ENOUGH_SQUARE_MARKETING_IMAGE = "assetGroupError": "NOT_ENOUGH_SQUARE_MARKETING_IMAGE_ASSET",
    ASSET_GROUP_NOT_ENOUGH_LOGO = "assetGroupError": "NOT_ENOUGH_LOGO_ASSET",
    ASSET_GROUP_CANNOT_REMOVE_ALL = "assetGroupError": "CANNOT_REMOVE_ALL_ASSET_GROUPS_FROM_CAMPAIGN",
    ASSET_GROUP_FOR_REMOVED_CAMPAIGN = "assetGroupError": "CANNOT_MUTATE_ASSET_GROUP_FOR_REMOVED_CAMPAIGN",
    ASSET_GROUP_ASSET_DUPLICATE = "assetGroupAssetError": "DUPLICATE_RESOURCE",
    LGF_UNIT_CANNOT_HAVE_CHILDREN = "assetGroupListingGroupFilterError": "UNIT_CANNOT_HAVE_CHILDREN",
    LGF_SUBDIVISION_MUST_HAVE_EVERYTHING_ELSE_CHILD = "assetGroupListingGroupFilterError": "SUBDIVISION_MUST_HAVE_EVERYTHING_ELSE_CHILD",
    LGF_DIFFERENT_DIMENSION_TYPE_BETWEEN_SIBLINGS = "assetGroupListingGroupFilterError": "DIFFERENT_DIMENSION_TYPE_BETWEEN_SIBLINGS",
    LGF_SAME_DIMENSION_VALUE_BETWEEN_SIBLINGS = "assetGroupListingGroupFilterError": "SAME_DIMENSION_VALUE_BETWEEN_SIBLINGS",
    LGF_SAME_DIMENSION_TYPE_BETWEEN_ANCESTORS = "assetGroupListingGroupFilterError": "SAME_DIMENSION_TYPE_BETWEEN_ANCESTORS",
    LGF_MULTIPLE_ROOTS = "assetGroupListingGroupFilterError": "MULTIPLE_ROOTS",
    LGF_INVALID_DIMENSION_VALUE = "assetGroupListingGroupFilterError": "INVALID_DIMENSION_VALUE",
    LGF_MUST_REFINE_HIERARCHICAL_PARENT_TYPE = "assetGroupListingGroupFilterError": "MUST_REFINE_HIERARCHICAL_PARENT_TYPE",
    LGF_CANNOT_REFINE_HIERARCHICAL_EVERYTHING_ELSE = "assetGroupListingGroupFilterError": "CANNOT_REFINE_HIERARCHICAL_EVERYTHING_ELSE",
    LGF_SUBDIVISION_HAS_CHILDREN = "assetGroupListingGroupFilterError": "SUBDIVISION_HAS_CHILDREN",
    LGF_MULTIPLE_OPERATIONS_ON_ONE_NODE = "assetGroupListingGroupFilterError": "MULTIPLE_OPERATIONS_ON_ONE_NODE",
    LGF_LISTING_SOURCE_NOT_ALLOWED = "assetGroupListingGroupFilterError": "LISTING_SOURCE_NOT_ALLOWED",
    ADGROUP_LABEL_ALREADY_EXISTS = "adGroupError": "ADGROUP_LABEL_ALREADY_EXISTS",
    AD_GROUP_AD_LABEL_ALREADY_EXISTS = "adGroupAdError": "AD_GROUP_AD_LABEL_ALREADY_EXISTS",
    AD_GROUP_CRITERION_LABEL_ALREADY_EXISTS = "adGroupCriterionError": "AD_GROUP_CRITERION_LABEL_ALREADY_EXISTS",
    ID_EXISTS_IN_MULTIPLE_MUTATES = "mutateError": "ID_EXISTS_IN_MULTIPLE_MUTATES",
    TOTAL_RESULTS_COUNT_NOT_ORIGINALLY_REQUESTED = "requestError": "TOTAL_RESULTS_COUNT_NOT_ORIGINALLY_REQUESTED",
    LABEL_INVALID_NAME = "labelError": "INVALID_LABEL_NAME",
    LABEL_CANNOT_APPLY_INACTIVE = "labelError": "CANNOT_APPLY_INACTIVE_LABEL",
    LABEL_CANNOT_APPLY_TO_DISABLED_CRITERION = "labelError": "CANNOT_APPLY_LABEL_TO_DISABLED_AD_GROUP_CRITERION",
    LABEL_CANNOT_APPLY_TO_NEGATIVE_CRITERION = "labelError": "CANNOT_APPLY_LABEL_TO_NEGATIVE_AD_GROUP_CRITERION",
    LABEL_LIMIT_PER_TYPE = "labelError": "EXCEEDED_LABEL_LIMIT_PER_TYPE",
    STRING_TOO_LONG = "stringLengthError": "TOO_LONG",
    CC_CONCRETE_TYPE_REQUIRED = "campaignCriterionError": "CONCRETE_TYPE_REQUIRED",
    CC_CANNOT_UPDATE_NEGATIVE = "campaignCriterionError": "CANNOT_UPDATE_NEGATIVE_CRITERION",
    CC_CANNOT_SET_STATUS_FOR_EXCLUDED = "campaignCriterionError": "CANNOT_SET_STATUS_FOR_EXCLUDED_CRITERIA",
    CC_CANNOT_TARGET_AND_EXCLUDE = "campaignCriterionError": "CANNOT_TARGET_AND_EXCLUDE",
    INVALID_KEYWORD_TEXT = "criterionError": "INVALID_KEYWORD_TEXT",
    KEYWORD_TEXT_TOO_LONG = "criterionError": "KEYWORD_TEXT_TOO_LONG",
    QUERY_UNRECOGNIZED_FIELD = "queryError": "UNRECOGNIZED_FIELD",
    QUERY_ERROR = "queryError": "QUERY_ERROR",
    QUERY_BAD_RESOURCE_TYPE_IN_FROM_CLAUSE = "queryError": "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
    QUERY_PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE = "queryError": "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
    QUERY_PROHIBITED_METRIC = "queryError": "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
    QUERY_EXPECTED_FILTERS_ON_DATE_RANGE = "queryError": "EXPECTED_FILTERS_ON_DATE_RANGE",
    QUERY_INVALID_VALUE_WITH_DURING_OPERATOR = "queryError": "INVALID_VALUE_WITH_DURING_OPERATOR",
    QUERY_BAD_LIMIT_VALUE = "queryError": "BAD_LIMIT_VALUE",
    QUERY_INVALID_DATE_FORMAT = "queryError": "INVALID_DATE_FORMAT",
    QUERY_UNEXPECTED_END_OF_QUERY = "queryError": "UNEXPECTED_END_OF_QUERY",
    QUERY_UNEXPECTED_INPUT = "queryError": "UNEXPECTED_INPUT",
    QUERY_STRING_NOT_TERMINATED = "queryError": "STRING_NOT_TERMINATED",
    QUERY_EXPECTED_SELECT = "queryError": "EXPECTED_SELECT",
    QUERY_EXPECTED_FROM = "queryError": "EXPECTED_FROM",
    QUERY_BAD_OPERATOR = "queryError": "BAD_OPERATOR",
    QUERY_PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE = "queryError": "PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE",
    QUOTA_RESOURCE_EXHAUSTED = "quotaError": "RESOURCE_EXHAUSTED",
    QUOTA_RESOURCE_TEMPORARILY_EXHAUSTED = "quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED",
    INTERNAL_ERROR = "internalError": "INTERNAL_ERROR",
    TRANSIENT_ERROR = "internalError": "TRANSIENT_ERROR",
    JOB_INVALID_SHA256_FORMAT = "offlineUserDataJobError": "INVALID_SHA256_FORMAT",
    JOB_MISSING_USER_IDENTIFIER = "offlineUserDataJobError": "MISSING_USER_IDENTIFIER",
    JOB_INVALID_OPERATION_ORDER = "offlineUserDataJobError": "INVALID_OPERATION_ORDER",
    JOB_CONFLICTING_OPERATION = "offlineUserDataJobError": "CONFLICTING_OPERATION",
    JOB_ALREADY_STARTED = "offlineUserDataJobError": "JOB_ALREADY_STARTED",
    JOB_INVALID_USER_LIST_ID = "offlineUserDataJobError": "INVALID_USER_LIST_ID",
    JOB_INVALID_USER_LIST_TYPE = "offlineUserDataJobError": "INVALID_USER_LIST_TYPE",
    JOB_TOO_MANY_USER_IDENTIFIERS = "offlineUserDataJobError": "TOO_MANY_USER_IDENTIFIERS",
    EXP_START_DATE_IN_PAST = "experimentError": "CANNOT_SET_START_DATE_IN_PAST",
    EXP_END_DATE_BEFORE_START_DATE = "experimentError": "END_DATE_BEFORE_START_DATE",
    EXP_START_DATE_TOO_FAR_IN_FUTURE = "experimentError": "START_DATE_TOO_FAR_IN_FUTURE",
    EXP_DUPLICATE_NAME = "experimentError": "DUPLICATE_EXPERIMENT_NAME",
    EXP_CANNOT_MODIFY_REMOVED = "experimentError": "CANNOT_MODIFY_REMOVED_EXPERIMENT",
    EXP_START_DATE_ALREADY_PASSED = "experimentError": "START_DATE_ALREADY_PASSED",
    EXP_END_DATE_IN_PAST = "experimentError": "CANNOT_SET_END_DATE_IN_PAST",
    EXP_CANNOT_SET_STATUS_TO_REMOVED = "experimentError": "CANNOT_SET_STATUS_TO_REMOVED",
    EXP_INVALID_STATUS = "experimentError": "INVALID_STATUS",
    EXP_INVALID_CAMPAIGN_CHANNEL_TYPE = "experimentError": "INVALID_CAMPAIGN_CHANNEL_TYPE",
    EXP_INVALID_TRAFFIC_SPLIT = "experimentError": "INVALID_TRIAL_ARM_TRAFFIC_SPLIT",
    EXP_SPLIT_NOT_100 = "experimentError": "SUM_TRIAL_ARM_TRAFFIC_UNEQUALS_TO_TRIAL_TRAFFIC_SPLIT_DENOMINATOR",
    EXP_NOT_FOUND = "experimentError": "EXPERIMENT_NOT_FOUND",
    EXP_NOT_YET_STARTED = "experimentError": "EXPERIMENT_NOT_YET_STARTED",
    EXP_MULTIPLE_CONTROL_ARMS = "experimentError": "CANNOT_HAVE_MULTIPLE_CONTROL_ARMS",
    EXP_IN_DESIGN_CAMPAIGNS_NOT_SET = "experimentError": "IN_DESIGN_CAMPAIGNS_NOT_SET",
    EXP_CANNOT_SET_STATUS_TO_GRADUATED = "experimentError": "CANNOT_SET_STATUS_TO_GRADUATED",
    EXP_STATUS_TRANSITION_INVALID = "experimentError": "STATUS_TRANSITION_INVALID",
    EXP_DUPLICATE_CAMPAIGN_NAME = "experimentError": "DUPLICATE_EXPERIMENT_CAMPAIGN_NAME",
    EXP_CANNOT_REMOVE_IN_CREATION = "experimentError": "CANNOT_REMOVE_IN_CREATION_EXPERIMENT",
    EXP_SYNC_UNSUPPORTED_TYPE = "experimentError": "CANNOT_ENABLE_SYNC_FOR_UNSUPPORTED_EXPERIMENT_TYPE",
    EXP_MISSING_ARMS = "experimentError": "MISSING_EXPERIMENT_ARMS",
    EXP_OVERLAPPING = "experimentError": "OVERLAPPING_MEMBERS_AND_DATE_RANGE",
    ARM_COUNT_LIMIT_EXCEEDED = "experimentArmError": "EXPERIMENT_ARM_COUNT_LIMIT_EXCEEDED",
    ARM_INVALID_CAMPAIGN_STATUS = "experimentArmError": "INVALID_CAMPAIGN_STATUS",
    ARM_DUPLICATE_NAME = "experimentArmError": "DUPLICATE_EXPERIMENT_ARM_NAME",
    ARM_CANNOT_SET_TREATMENT_CAMPAIGN = "experimentArmError": "CANNOT_SET_TREATMENT_ARM_CAMPAIGN",
    ARM_CANNOT_MODIFY_CAMPAIGN_IDS = "experimentArmError": "CANNOT_MODIFY_CAMPAIGN_IDS",
    ARM_NO_SUFFIX = "experimentArmError": "CANNOT_MODIFY_CAMPAIGN_WITHOUT_SUFFIX_SET",
    ARM_TRAFFIC_SPLIT_AFTER_START = "experimentArmError": "CANNOT_MUTATE_TRAFFIC_SPLIT_AFTER_START",
    ARM_SHARED_BUDGET = "experimentArmError": "CANNOT_ADD_CAMPAIGN_WITH_SHARED_BUDGET",
    ARM_CUSTOM_BUDGET = "experimentArmError": "CANNOT_ADD_CAMPAIGN_WITH_CUSTOM_BUDGET",
    ARM_TOO_MANY_CAMPAIGNS = "experimentArmError": "TOO_MANY_CAMPAIGNS_IN_EXPERIMENT_ARM",
}

/// One `GoogleAdsError`.
#[derive(Clone, Debug)]
pub struct AdsError {
    pub code: Code,
    pub message: String,
    pub trigger: Option<String>,
    /// `fieldPathElements`: (snake_case field name, index).
    pub location: Vec<(String, Option<usize>)>,
    pub details: Option<Value>,
}

impl AdsError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        AdsError {
            code,
            message: message.into(),
            trigger: None,
            location: Vec::new(),
            details: None,
        }
    }
    pub fn trigger(mut self, t: impl Into<String>) -> Self {
        self.trigger = Some(t.into());
        self
    }
    pub fn at(mut self, field: &str, index: Option<usize>) -> Self {
        self.location.push((field.to_string(), index));
        self
    }
    /// Prefix the location (`operations[3]` before `create.name`).
    pub fn under(mut self, prefix: &[(String, Option<usize>)]) -> Self {
        let mut l = prefix.to_vec();
        l.append(&mut self.location);
        self.location = l;
        self
    }
    pub fn details(mut self, d: Value) -> Self {
        self.details = Some(d);
        self
    }
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("errorCode".into(), json!({ self.code.0: self.code.1 }));
        m.insert("message".into(), Value::String(self.message.clone()));
        if let Some(t) = &self.trigger {
            m.insert("trigger".into(), json!({ "stringValue": t }));
        }
        if !self.location.is_empty() {
            let els: Vec<Value> = self
                .location
                .iter()
                .map(|(f, i)| match i {
                    Some(i) => json!({"fieldName": f, "index": i}),
                    None => json!({"fieldName": f}),
                })
                .collect();
            m.insert("location".into(), json!({ "fieldPathElements": els }));
        }
        if let Some(d) = &self.details {
            m.insert("details".into(), d.clone());
        }
        Value::Object(m)
    }
}

/// gRPC status name and HTTP code of a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    ResourceExhausted,
    Internal,
    Unavailable,
    Unimplemented,
}

impl Status {
    pub fn http(self) -> StatusCode {
        match self {
            Status::InvalidArgument => StatusCode::BAD_REQUEST,
            Status::Unauthenticated => StatusCode::UNAUTHORIZED,
            Status::PermissionDenied => StatusCode::FORBIDDEN,
            Status::NotFound => StatusCode::NOT_FOUND,
            Status::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Status::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Status::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Status::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Status::InvalidArgument => "INVALID_ARGUMENT",
            Status::Unauthenticated => "UNAUTHENTICATED",
            Status::PermissionDenied => "PERMISSION_DENIED",
            Status::NotFound => "NOT_FOUND",
            Status::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Status::Internal => "INTERNAL",
            Status::Unavailable => "UNAVAILABLE",
            Status::Unimplemented => "UNIMPLEMENTED",
        }
    }
    /// google.rpc.Code number.
    pub fn rpc_code(self) -> u32 {
        match self {
            Status::InvalidArgument => 3,
            Status::Unauthenticated => 16,
            Status::PermissionDenied => 7,
            Status::NotFound => 5,
            Status::ResourceExhausted => 8,
            Status::Internal => 13,
            Status::Unavailable => 14,
            Status::Unimplemented => 12,
        }
    }
    fn message(self) -> &'static str {
        match self {
            Status::InvalidArgument => "Request contains an invalid argument.",
            Status::Unauthenticated => {
                "Request is missing required authentication credential. Expected OAuth 2 access token, login \
                 cookie or other valid authentication credential."
            }
            Status::PermissionDenied => "The caller does not have permission",
            Status::NotFound => "Requested entity was not found.",
            Status::ResourceExhausted => "Resource has been exhausted (e.g. check quota).",
            Status::Internal => "Internal error encountered.",
            Status::Unavailable => "The service is currently unavailable.",
            Status::Unimplemented => "Operation is not implemented, or supported, or enabled.",
        }
    }
}

/// The `GoogleAdsFailure` detail object.
pub fn failure_detail(errors: &[AdsError], request_id: &str) -> Value {
    json!({
        "@type": format!("type.googleapis.com/{V}.errors.GoogleAdsFailure"),
        "errors": errors.iter().map(AdsError::to_json).collect::<Vec<_>>(),
        "requestId": request_id,
    })
}

/// A backend failure response.
pub fn failure(status: Status, errors: &[AdsError], request_id: &str) -> Response {
    let body = json!({"error": {
        "code": status.http().as_u16(),
        "message": status.message(),
        "status": status.name(),
        "details": [failure_detail(errors, request_id)],
    }});
    with_request_id((status.http(), Json(body)).into_response(), request_id)
}

/// The `partialFailureError` (a google.rpc.Status) of a mutate response.
pub fn partial_failure_status(errors: &[AdsError], request_id: &str) -> Value {
    let first = errors.first().map(|e| {
        let loc: Vec<String> = e
            .location
            .iter()
            .map(|(f, i)| match i {
                Some(i) => format!("{f}[{i}]"),
                None => f.clone(),
            })
            .collect();
        if loc.is_empty() {
            e.message.clone()
        } else {
            format!("{}, at {}", e.message, loc.join("."))
        }
    });
    let message = match (errors.len(), first) {
        (1, Some(f)) => f,
        (_, Some(f)) => format!("Multiple errors in ‘details’. First error: {f}"),
        _ => String::new(),
    };
    json!({"code": 3, "message": message, "details": [failure_detail(errors, request_id)]})
}

/// The JSON front end's rejection (before the Ads backend): 400 INVALID_ARGUMENT with a BadRequest.
pub fn bad_request(violations: &[(String, String)], request_id: &str) -> Response {
    let message = violations
        .iter()
        .map(|(_, d)| d.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let fv: Vec<Value> = violations
        .iter()
        .map(|(f, d)| {
            if f.is_empty() {
                json!({"description": d})
            } else {
                json!({"field": f, "description": d})
            }
        })
        .collect();
    let body = json!({"error": {
        "code": 400,
        "message": message,
        "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": fv}],
    }});
    with_request_id((StatusCode::BAD_REQUEST, Json(body)).into_response(), request_id)
}

/// A plain google.rpc.Status error without Ads details (UNIMPLEMENTED for valid but unsupported features).
pub fn plain(status: Status, message: &str, request_id: &str) -> Response {
    let body = json!({"error": {"code": status.http().as_u16(), "message": message, "status": status.name()}});
    with_request_id((status.http(), Json(body)).into_response(), request_id)
}

pub fn with_request_id(mut r: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("request-id", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::super::schema::{schema, FieldKind};
    use super::*;

    #[test]
    fn every_emitted_error_code_exists_in_v25() {
        let s = schema();
        let ec = s.message("errors.ErrorCode").expect("ErrorCode");
        for Code(cat, val) in ALL_CODES {
            let f = ec.by_json(cat).unwrap_or_else(|| panic!("no ErrorCode.{cat}"));
            assert_eq!(f.kind, FieldKind::Enum);
            assert!(s.enum_has(&f.type_name, val), "{cat}: {val} not in {}", f.type_name);
        }
    }
}
