//! The resources the emulator serves: their collection names, messages, GAQL names and mutate plumbing.

/// One served resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Res {
    CampaignBudget,
    Campaign,
    AdGroup,
    AdGroupAd,
    AdGroupCriterion,
    Label,
    CampaignLabel,
    AdGroupLabel,
    AdGroupAdLabel,
    UserList,
    CampaignCriterion,
    AdGroupCriterionLabel,
    ConversionAction,
    CustomConversionGoal,
    ConversionGoalCampaignConfig,
    // Performance Max (see pmax.rs)
    Asset,
    AssetGroup,
    AssetGroupAsset,
    AssetGroupListingGroupFilter,
    Experiment,
    ExperimentArm,
}

pub struct ResDef {
    pub res: Res,
    /// URL collection: `campaigns`.
    pub coll: &'static str,
    /// Proto message under `resources.`: `Campaign`.
    pub message: &'static str,
    /// GAQL resource and GoogleAdsRow field: `campaign`.
    pub gaql: &'static str,
    /// camelCase row / result member: `campaign`.
    pub json: &'static str,
    /// Service request message: `MutateCampaignsRequest`.
    pub request: &'static str,
    /// MutateOperation member (camelCase) and its proto name: `campaignOperation`.
    pub mutate_op: &'static str,
    pub mutate_op_proto: &'static str,
    /// MutateOperationResponse member: `campaignResult`.
    pub result: &'static str,
    /// ChangeStatusResourceType, when change_status tracks it.
    pub change_type: Option<&'static str>,
    /// Removal sets status REMOVED (otherwise the object is deleted: label links).
    pub soft_remove: bool,
    /// Operations have an `update` member.
    pub updatable: bool,
}

pub const ALL: &[ResDef] = &[
    ResDef {
        res: Res::CampaignBudget,
        coll: "campaignBudgets",
        message: "CampaignBudget",
        gaql: "campaign_budget",
        json: "campaignBudget",
        request: "MutateCampaignBudgetsRequest",
        mutate_op: "campaignBudgetOperation",
        mutate_op_proto: "campaign_budget_operation",
        result: "campaignBudgetResult",
        change_type: Some("CAMPAIGN_BUDGET"),
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::Campaign,
        coll: "campaigns",
        message: "Campaign",
        gaql: "campaign",
        json: "campaign",
        request: "MutateCampaignsRequest",
        mutate_op: "campaignOperation",
        mutate_op_proto: "campaign_operation",
        result: "campaignResult",
        change_type: Some("CAMPAIGN"),
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::AdGroup,
        coll: "adGroups",
        message: "AdGroup",
        gaql: "ad_group",
        json: "adGroup",
        request: "MutateAdGroupsRequest",
        mutate_op: "adGroupOperation",
        mutate_op_proto: "ad_group_operation",
        result: "adGroupResult",
        change_type: Some("AD_GROUP"),
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::AdGroupAd,
        coll: "adGroupAds",
        message: "AdGroupAd",
        gaql: "ad_group_ad",
        json: "adGroupAd",
        request: "MutateAdGroupAdsRequest",
        mutate_op: "adGroupAdOperation",
        mutate_op_proto: "ad_group_ad_operation",
        result: "adGroupAdResult",
        change_type: Some("AD_GROUP_AD"),
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::AdGroupCriterion,
        coll: "adGroupCriteria",
        message: "AdGroupCriterion",
        gaql: "ad_group_criterion",
        json: "adGroupCriterion",
        request: "MutateAdGroupCriteriaRequest",
        mutate_op: "adGroupCriterionOperation",
        mutate_op_proto: "ad_group_criterion_operation",
        result: "adGroupCriterionResult",
        change_type: Some("AD_GROUP_CRITERION"),
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::Label,
        coll: "labels",
        message: "Label",
        gaql: "label",
        json: "label",
        request: "MutateLabelsRequest",
        mutate_op: "labelOperation",
        mutate_op_proto: "label_operation",
        result: "labelResult",
        change_type: None,
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::CampaignLabel,
        coll: "campaignLabels",
        message: "CampaignLabel",
        gaql: "campaign_label",
        json: "campaignLabel",
        request: "MutateCampaignLabelsRequest",
        mutate_op: "campaignLabelOperation",
        mutate_op_proto: "campaign_label_operation",
        result: "campaignLabelResult",
        change_type: None,
        soft_remove: false,
        updatable: false,
    },
    ResDef {
        res: Res::AdGroupLabel,
        coll: "adGroupLabels",
        message: "AdGroupLabel",
        gaql: "ad_group_label",
        json: "adGroupLabel",
        request: "MutateAdGroupLabelsRequest",
        mutate_op: "adGroupLabelOperation",
        mutate_op_proto: "ad_group_label_operation",
        result: "adGroupLabelResult",
        change_type: None,
        soft_remove: false,
        updatable: false,
    },
    ResDef {
        res: Res::AdGroupAdLabel,
        coll: "adGroupAdLabels",
        message: "AdGroupAdLabel",
        gaql: "ad_group_ad_label",
        json: "adGroupAdLabel",
        request: "MutateAdGroupAdLabelsRequest",
        mutate_op: "adGroupAdLabelOperation",
        mutate_op_proto: "ad_group_ad_label_operation",
        result: "adGroupAdLabelResult",
        change_type: None,
        soft_remove: false,
        updatable: false,
    },
    ResDef {
        res: Res::UserList,
        coll: "userLists",
        message: "UserList",
        gaql: "user_list",
        json: "userList",
        request: "MutateUserListsRequest",
        mutate_op: "userListOperation",
        mutate_op_proto: "user_list_operation",
        result: "userListResult",
        change_type: None,
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::CampaignCriterion,
        coll: "campaignCriteria",
        message: "CampaignCriterion",
        gaql: "campaign_criterion",
        json: "campaignCriterion",
        request: "MutateCampaignCriteriaRequest",
        mutate_op: "campaignCriterionOperation",
        mutate_op_proto: "campaign_criterion_operation",
        result: "campaignCriterionResult",
        change_type: Some("CAMPAIGN_CRITERION"),
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::AdGroupCriterionLabel,
        coll: "adGroupCriterionLabels",
        message: "AdGroupCriterionLabel",
        gaql: "ad_group_criterion_label",
        json: "adGroupCriterionLabel",
        request: "MutateAdGroupCriterionLabelsRequest",
        mutate_op: "adGroupCriterionLabelOperation",
        mutate_op_proto: "ad_group_criterion_label_operation",
        result: "adGroupCriterionLabelResult",
        change_type: None,
        soft_remove: false,
        updatable: false,
    },
    ResDef {
        res: Res::ConversionAction,
        coll: "conversionActions",
        message: "ConversionAction",
        gaql: "conversion_action",
        json: "conversionAction",
        request: "MutateConversionActionsRequest",
        mutate_op: "conversionActionOperation",
        mutate_op_proto: "conversion_action_operation",
        result: "conversionActionResult",
        // ChangeStatusResourceType has no CONVERSION_ACTION
        change_type: None,
        // a removed conversion action keeps its history: status REMOVED (ConversionActionStatus)
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::CustomConversionGoal,
        coll: "customConversionGoals",
        message: "CustomConversionGoal",
        gaql: "custom_conversion_goal",
        json: "customConversionGoal",
        request: "MutateCustomConversionGoalsRequest",
        mutate_op: "customConversionGoalOperation",
        mutate_op_proto: "custom_conversion_goal_operation",
        result: "customConversionGoalResult",
        change_type: None,
        // CustomConversionGoalStatus: ENABLED, REMOVED
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::ConversionGoalCampaignConfig,
        coll: "conversionGoalCampaignConfigs",
        message: "ConversionGoalCampaignConfig",
        gaql: "conversion_goal_campaign_config",
        json: "conversionGoalCampaignConfig",
        request: "MutateConversionGoalCampaignConfigsRequest",
        mutate_op: "conversionGoalCampaignConfigOperation",
        mutate_op_proto: "conversion_goal_campaign_config_operation",
        result: "conversionGoalCampaignConfigResult",
        change_type: None,
        // update only: one per campaign, made with it
        soft_remove: false,
        updatable: true,
    },
    ResDef {
        res: Res::Asset,
        coll: "assets",
        message: "Asset",
        gaql: "asset",
        json: "asset",
        request: "MutateAssetsRequest",
        mutate_op: "assetOperation",
        mutate_op_proto: "asset_operation",
        result: "assetResult",
        // ChangeStatusResourceType has ASSET, but adsctl's reads never ask for it
        change_type: Some("ASSET"),
        // AssetOperation has no remove
        soft_remove: false,
        updatable: true,
    },
    ResDef {
        res: Res::AssetGroup,
        coll: "assetGroups",
        message: "AssetGroup",
        gaql: "asset_group",
        json: "assetGroup",
        request: "MutateAssetGroupsRequest",
        mutate_op: "assetGroupOperation",
        mutate_op_proto: "asset_group_operation",
        result: "assetGroupResult",
        change_type: Some("ASSET_GROUP"),
        // AssetGroupStatus has REMOVED
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::AssetGroupAsset,
        coll: "assetGroupAssets",
        message: "AssetGroupAsset",
        gaql: "asset_group_asset",
        json: "assetGroupAsset",
        request: "MutateAssetGroupAssetsRequest",
        mutate_op: "assetGroupAssetOperation",
        mutate_op_proto: "asset_group_asset_operation",
        result: "assetGroupAssetResult",
        // ChangeStatusResourceType has no ASSET_GROUP_ASSET
        change_type: None,
        // reading chosen: a removed link is gone (AssetLinkStatus REMOVED links are not served)
        soft_remove: false,
        updatable: true,
    },
    ResDef {
        res: Res::AssetGroupListingGroupFilter,
        coll: "assetGroupListingGroupFilters",
        message: "AssetGroupListingGroupFilter",
        gaql: "asset_group_listing_group_filter",
        json: "assetGroupListingGroupFilter",
        request: "MutateAssetGroupListingGroupFiltersRequest",
        mutate_op: "assetGroupListingGroupFilterOperation",
        mutate_op_proto: "asset_group_listing_group_filter_operation",
        result: "assetGroupListingGroupFilterResult",
        // ChangeStatusResourceType has no listing group filter; a node has no status: removal deletes it
        change_type: None,
        soft_remove: false,
        updatable: true,
    },
    ResDef {
        res: Res::Experiment,
        coll: "experiments",
        message: "Experiment",
        gaql: "experiment",
        json: "experiment",
        request: "MutateExperimentsRequest",
        mutate_op: "experimentOperation",
        mutate_op_proto: "experiment_operation",
        result: "experimentResult",
        // ChangeStatusResourceType has no EXPERIMENT
        change_type: None,
        // ExperimentStatus REMOVED
        soft_remove: true,
        updatable: true,
    },
    ResDef {
        res: Res::ExperimentArm,
        coll: "experimentArms",
        message: "ExperimentArm",
        gaql: "experiment_arm",
        json: "experimentArm",
        request: "MutateExperimentArmsRequest",
        mutate_op: "experimentArmOperation",
        mutate_op_proto: "experiment_arm_operation",
        result: "experimentArmResult",
        change_type: None,
        // an arm has no status: a removed arm is gone
        soft_remove: false,
        updatable: true,
    },
];

impl Res {
    pub fn def(self) -> &'static ResDef {
        // ALL is in declaration order of the enum.
        &ALL[self as usize]
    }
    pub fn by_coll(coll: &str) -> Option<Res> {
        ALL.iter().find(|d| d.coll == coll).map(|d| d.res)
    }
    pub fn by_gaql(name: &str) -> Option<Res> {
        ALL.iter().find(|d| d.gaql == name).map(|d| d.res)
    }
    pub fn by_mutate_op(key: &str) -> Option<Res> {
        ALL.iter().find(|d| d.mutate_op == key).map(|d| d.res)
    }
    pub fn message(self) -> String {
        format!("resources.{}", self.def().message)
    }
    /// A label link (CampaignLabel, AdGroupLabel, AdGroupAdLabel, AdGroupCriterionLabel): created and removed,
    /// never updated; its key is `{target key}~{label id}`.
    pub fn is_label_link(self) -> bool {
        matches!(
            self,
            Res::CampaignLabel | Res::AdGroupLabel | Res::AdGroupAdLabel | Res::AdGroupCriterionLabel
        )
    }
    pub fn op_message(self) -> String {
        format!("services.{}Operation", self.def().message)
    }
}

/// Map a oneof member (camelCase) to the enum value naming it: `responsiveSearchAd` → `RESPONSIVE_SEARCH_AD`.
pub fn screaming(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::schema::schema;
    use super::*;

    #[test]
    fn defs_match_the_v25_table() {
        let s = schema();
        for (i, d) in ALL.iter().enumerate() {
            assert_eq!(d.res as usize, i);
            assert!(s.message(&d.res.message()).is_some(), "{}", d.message);
            assert!(s.message(&format!("services.{}", d.request)).is_some(), "{}", d.request);
            let mo = s.message("services.MutateOperation").expect("MutateOperation");
            let f = mo.by_json(d.mutate_op).expect(d.mutate_op);
            assert_eq!(f.name, d.mutate_op_proto);
            let mr = s
                .message("services.MutateOperationResponse")
                .expect("MutateOperationResponse");
            assert!(mr.by_json(d.result).is_some(), "{}", d.result);
            let row = s.message("services.GoogleAdsRow").expect("row");
            assert_eq!(row.by_name(d.gaql).map(|f| f.json.as_str()), Some(d.json));
            let op = s.message(&d.res.op_message()).expect("op");
            assert_eq!(op.by_json("update").is_some(), d.updatable, "{}", d.message);
            if let Some(ct) = d.change_type {
                assert!(s.enum_has(
                    "google.ads.googleads.v25.enums.ChangeStatusResourceTypeEnum.ChangeStatusResourceType",
                    ct
                ));
            }
        }
    }
}
