//! The server's errors in words that name the thing: ECS says "Cluster not found." and
//! "Unable to describe task definition."; a person also wants to know which one, what it
//! was probably meant to be, and what to do next.

use berth_client::{ClientError, ServerClient};
use serde_json::Value;

/// `error` from `operation` with `body`, with what the user can act on.
pub async fn explain(client: &ServerClient, operation: &str, body: &Value, error: &ClientError) -> String {
    let base = format!("{operation}: {error}");
    let ClientError::Api { code, message, .. } = error else { return base };
    let cluster = body["cluster"].as_str().unwrap_or("default");
    if code == "ClusterNotFoundException" {
        let existing = clusters(client).await;
        let names: Vec<&str> = existing.iter().map(String::as_str).collect();
        let hint = match berth_model::suggest::closest(cluster, &names) {
            Some(near) => format!(" — did you mean '{near}'?"),
            None if names.is_empty() => " (there are no clusters yet: create one with `aws ecs create-cluster`)".into(),
            None => format!(" (clusters: {})", names.join(", ")),
        };
        return format!("{operation}: cluster '{cluster}' not found{hint}");
    }
    if message.contains("No Container Instances were found") {
        return format!(
            "{operation}: cluster '{cluster}' has no container instances: start an agent on a host with Docker (`berth agent --server {} --cluster {cluster}`), or use `berth up`",
            client.endpoint().trim_end_matches('/')
        );
    }
    if message.contains("Unable to describe task definition") {
        if let Some(td) = body["taskDefinition"].as_str() {
            return format!(
                "{operation}: task definition '{td}' not found (register it first, or check the family and revision)"
            );
        }
    }
    base
}

/// The region's cluster names (empty when they cannot be listed).
async fn clusters(client: &ServerClient) -> Vec<String> {
    let req = berth_model::ecs::ListClustersRequest::default();
    match client.call::<berth_model::ecs::op::ListClusters>(&req).await {
        Ok(page) => page.cluster_arns.iter().filter_map(|a| a.rsplit('/').next().map(String::from)).collect(),
        Err(_) => Vec::new(),
    }
}
