//! Metrics: Salesforce has no impressions, clicks or spend (WIRE-NOTES § Metrics: `ActualCost` is whatever adsctl
//! writes back from the ad platforms), so `metrics` answers no rows, without a request. A mirroring campaign's
//! `actual_cost` comes from the ad platforms' metrics (the engine's, `docs/resource-model.md`).

use super::SalesforceConnector;
use crate::connectors::{ConnectorError, DateRange, MetricRow, MetricsLevel};
use crate::model::Account;

pub async fn rows(
    _conn: &SalesforceConnector,
    _account: &Account,
    _level: MetricsLevel,
    _range: DateRange,
) -> Result<Vec<MetricRow>, ConnectorError> {
    Ok(Vec::new())
}
