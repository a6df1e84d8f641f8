//! CreateCluster, DescribeClusters, ListClusters, UpdateCluster(Settings), DeleteCluster.

use serde::{Deserialize, Serialize};

use crate::{
    cluster::{Cluster, ClusterSetting},
    tag::Tag,
    Failure,
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateClusterRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<ClusterSetting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_providers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_capacity_provider_strategy: Vec<crate::capacity_provider::CapacityProviderStrategyItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_connect_defaults: Option<serde_json::Value>,
}

/// The answer of CreateCluster, UpdateCluster(Settings) and DeleteCluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterResponse {
    pub cluster: Cluster,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeClustersRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// ATTACHMENTS, CONFIGURATIONS, SETTINGS, STATISTICS, TAGS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DescribeClustersResponse {
    pub clusters: Vec<Cluster>,
    pub failures: Vec<Failure>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListClustersRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
}

page_response!(ListClustersResponse, cluster_arns: String);

/// UpdateCluster and UpdateClusterSettings (which requires `settings`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateClusterRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<Vec<ClusterSetting>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_connect_defaults: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteClusterRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}
