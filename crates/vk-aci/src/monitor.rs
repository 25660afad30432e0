//! Azure Monitor usage metrics of container groups: the `metrics:getBatch`
//! data-plane API (api-version 2023-10-01), up to [`MAX_BATCH`] groups per call.
//!
//! The API lives at `https://{region}.metrics.monitor.azure.com` and takes a
//! token for `https://metrics.monitor.azure.com/.default`, not Resource
//! Manager's: build a separate [`ContainerInstances`] for it with
//! [`ContainerInstancesBuilder::scope`](crate::ContainerInstancesBuilder::scope)
//! [`METRICS_SCOPE`] and the regional endpoint as its cloud's
//! `resource_manager`, then call [`ContainerInstances::metrics_batch`].
//!
//! ```no_run
//! # async fn demo(credential: std::sync::Arc<dyn vk_aci::credentials::TokenCredential>) -> Result<(), vk_aci::Error> {
//! use vk_aci::{AzureCloud, ContainerInstances, monitor};
//!
//! let metrics = ContainerInstances::builder("sub-id", "rg", credential)
//!     .cloud(AzureCloud::custom(
//!         "https://login.microsoftonline.com/",
//!         "https://westeurope.metrics.monitor.azure.com/",
//!     ))
//!     .scope(monitor::METRICS_SCOPE)
//!     .build()?;
//! let now = jiff::Timestamp::now();
//! let query = monitor::MetricsQuery::usage(now - jiff::SignedDuration::from_mins(10), now);
//! let ids = vec![metrics.group_id("web-0")];
//! for resource in metrics.metrics_batch(&ids, &query).await? {
//!     println!("{}: {} metrics", resource.resource_id, resource.metrics.len());
//! }
//! # Ok(()) }
//! ```

use http::Method;
use jiff::Timestamp;
use serde::Deserialize;

use crate::client::ContainerInstances;
use crate::error::{Error, Failure, FailureKind, Operation, Target};
use crate::rate_limit::RequestClass;
use crate::transport::CallError;

/// The token scope of Azure Monitor's metrics data plane.
pub const METRICS_SCOPE: &str = "https://metrics.monitor.azure.com/.default";

/// Most resources one `metrics:getBatch` call may name.
pub const MAX_BATCH: usize = 50;

/// The api-version of `metrics:getBatch`.
pub const METRICS_API_VERSION: &str = "2023-10-01";

/// ACI's CPU metric: millicores (unit `Count`).
pub const CPU_USAGE: &str = "CpuUsage";
/// ACI's memory metric: bytes.
pub const MEMORY_USAGE: &str = "MemoryUsage";

/// What to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsQuery {
    /// Metric names, e.g. [`CPU_USAGE`].
    pub metric_names: Vec<String>,
    /// Start of the window.
    pub start: Timestamp,
    /// End of the window.
    pub end: Timestamp,
    /// ISO 8601 grain, e.g. `PT1M`.
    pub interval: String,
    /// Split every metric by the `containerName` dimension.
    pub by_container: bool,
}

impl MetricsQuery {
    /// `CpuUsage` and `MemoryUsage` per container, one-minute averages, from
    /// `start` to `end`.
    pub fn usage(start: Timestamp, end: Timestamp) -> Self {
        Self {
            metric_names: vec![CPU_USAGE.to_owned(), MEMORY_USAGE.to_owned()],
            start,
            end,
            interval: "PT1M".to_owned(),
            by_container: true,
        }
    }
}

/// The metrics of one resource.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ResourceMetrics {
    /// The resource id as asked for.
    #[serde(rename = "resourceid", default)]
    pub resource_id: String,
    /// The grain of the data points.
    #[serde(default)]
    pub interval: Option<String>,
    /// One entry per metric.
    #[serde(rename = "value", default)]
    pub metrics: Vec<Metric>,
}

/// One metric of a resource.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Metric {
    /// Its name.
    pub name: MetricName,
    /// Its unit, e.g. `Count` or `Bytes`.
    #[serde(default)]
    pub unit: Option<String>,
    /// One series per dimension value (e.g. per container).
    #[serde(default)]
    pub timeseries: Vec<TimeSeries>,
}

/// A metric's name.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct MetricName {
    /// The name in the REST API, e.g. `CpuUsage`.
    pub value: String,
}

/// One series: its dimension values and data points.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct TimeSeries {
    /// Dimension name/value pairs (e.g. `containername` = `web`).
    #[serde(rename = "metadatavalues", default)]
    pub metadata_values: Vec<MetadataValue>,
    /// Data points, oldest first.
    #[serde(default)]
    pub data: Vec<DataPoint>,
}

impl TimeSeries {
    /// The value of dimension `name` (case-insensitive), e.g. `containerName`.
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.metadata_values
            .iter()
            .find(|m| m.name.value.eq_ignore_ascii_case(name))
            .map(|m| m.value.as_str())
    }

    /// The newest data point that has an average.
    pub fn latest(&self) -> Option<&DataPoint> {
        self.data.iter().rev().find(|d| d.average.is_some())
    }
}

/// A dimension value.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct MetadataValue {
    /// The dimension.
    pub name: MetricName,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

/// One data point: the aggregates of one grain starting at `time_stamp`
/// (absent when there is no data for it).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct DataPoint {
    /// Start of the grain.
    #[serde(rename = "timeStamp")]
    pub time_stamp: Timestamp,
    /// Average over the grain.
    #[serde(default)]
    pub average: Option<f64>,
    /// Minimum.
    #[serde(default)]
    pub minimum: Option<f64>,
    /// Maximum.
    #[serde(default)]
    pub maximum: Option<f64>,
}

#[derive(Deserialize)]
struct BatchResponse {
    #[serde(default)]
    values: Vec<ResourceMetrics>,
}

fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

impl ContainerInstances {
    /// A client of Azure Monitor's metrics plane at `endpoint` (e.g.
    /// `https://westeurope.metrics.monitor.azure.com/`) for this client's
    /// subscription and resource group, sharing its credential and HTTP
    /// client, with [`METRICS_SCOPE`] tokens and default rate limits.
    pub fn metrics_client(&self, endpoint: &str) -> Result<Self, Error> {
        Self::builder(
            self.shared.subscription_id.clone(),
            self.resource_group().to_owned(),
            std::sync::Arc::clone(&self.shared.credential),
        )
        .cloud(crate::AzureCloud::custom("", endpoint))
        .scope(METRICS_SCOPE)
        .http_client(self.shared.http.clone())
        .build()
    }

    /// The resource id of container group `name` in this client's resource group.
    pub fn group_id(&self, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerInstance/containerGroups/{name}",
            self.shared.subscription_id,
            self.resource_group()
        )
    }

    /// Metrics of up to [`MAX_BATCH`] container groups (resource ids of one
    /// subscription and region) in one `metrics:getBatch` call. The client
    /// must be built for the metrics endpoint and [`METRICS_SCOPE`].
    pub async fn metrics_batch(
        &self,
        resource_ids: &[String],
        query: &MetricsQuery,
    ) -> Result<Vec<ResourceMetrics>, Error> {
        if resource_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.metrics_call(resource_ids, query)
            .await
            .map_err(|e| e.into_error(Operation::Metrics, Target::Groups(resource_ids.len())))
    }

    #[tracing::instrument(
        name = "aci.metrics_batch",
        level = "debug",
        skip_all,
        fields(groups = resource_ids.len()),
    )]
    async fn metrics_call(
        &self,
        resource_ids: &[String],
        query: &MetricsQuery,
    ) -> Result<Vec<ResourceMetrics>, CallError> {
        let groups = resource_ids.len();
        if groups > MAX_BATCH {
            return Err(Failure::new(
                FailureKind::InvalidArgument,
                format!("{groups} resources: at most {MAX_BATCH} per metrics:getBatch call"),
            )
            .into());
        }
        let mut url = crate::url::join(
            &self.shared.endpoint,
            &[
                "subscriptions",
                &self.shared.subscription_id,
                "metrics:getBatch",
            ],
        )
        .map_err(|m| Failure::new(FailureKind::InvalidArgument, m))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair(
                "metricnamespace",
                "Microsoft.ContainerInstance/containerGroups",
            )
            .append_pair("metricnames", &query.metric_names.join(","))
            .append_pair("starttime", &format_time(query.start))
            .append_pair("endtime", &format_time(query.end))
            .append_pair("interval", &query.interval)
            .append_pair("aggregation", "average");
            if query.by_container {
                q.append_pair("filter", "containerName eq '*'");
            }
            q.append_pair("api-version", METRICS_API_VERSION);
        }
        let body = serde_json::to_vec(&serde_json::json!({ "resourceids": resource_ids }))
            .map_err(|e| {
                Failure::new(FailureKind::InvalidArgument, "request body").with_source(e)
            })?;
        let raw = self
            .shared
            .send(Method::POST, &url, Some(&body), RequestClass::Read)
            .await?;
        let response: BatchResponse = raw.ok_json("metrics batch")?;
        Ok(response.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_answer_parses_with_and_without_data() {
        let body = serde_json::json!({"values": [{
            "starttime": "2026-01-01T00:00:00Z", "endtime": "2026-01-01T00:05:00Z",
            "interval": "PT1M", "resourceid": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ContainerInstance/containerGroups/g",
            "namespace": "microsoft.containerinstance/containergroups", "resourceregion": "westus",
            "value": [{"id": "x", "type": "Microsoft.Insights/metrics",
                "name": {"value": "CpuUsage", "localizedValue": "CPU Usage"}, "unit": "Count",
                "errorCode": "Success",
                "timeseries": [{"metadatavalues": [{"name": {"value": "containername", "localizedValue": "containername"}, "value": "web"}],
                    "data": [{"timeStamp": "2026-01-01T00:00:00Z", "average": 250.0},
                             {"timeStamp": "2026-01-01T00:01:00Z"}]}]}]}]});
        let r: BatchResponse = serde_json::from_value(body).unwrap();
        let m = &r.values[0].metrics[0];
        assert_eq!(m.name.value, "CpuUsage");
        let s = &m.timeseries[0];
        assert_eq!(s.dimension("containerName"), Some("web"));
        assert_eq!(s.latest().unwrap().average, Some(250.0));
        assert_eq!(s.data.len(), 2);
    }
}
