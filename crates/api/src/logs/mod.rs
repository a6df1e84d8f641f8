//! CloudWatch Logs (`Logs_20140328.*`, AWS JSON 1.1): one module per operation, each
//! decode → [`Logs`] → reply. Agents ship container output through the same operations
//! (authenticated with their instance token); `BerthV1.FollowLogEvents` is berth's own
//! long-polled follow for `berth logs -f`.

mod create_log_group;
mod create_log_stream;
mod delete_log_group;
mod delete_log_stream;
mod delete_retention_policy;
mod describe_log_groups;
mod describe_log_streams;
mod filter_log_events;
mod follow_log_events;
mod get_log_events;
mod list_tags_for_resource;
mod list_tags_log_group;
mod put_log_events;
mod put_retention_policy;
mod tag_log_group;
mod tag_resource;
mod untag_log_group;
mod untag_resource;

use berth_logs::Logs;
use berth_model::logs::LogsError;
use serde::Serialize;

pub use follow_log_events::handle as follow;

/// Every operation berth answers, by its CloudWatch Logs name.
pub const OPERATIONS: &[&str] = &[
    "CreateLogGroup",
    "CreateLogStream",
    "DeleteLogGroup",
    "DeleteLogStream",
    "DeleteRetentionPolicy",
    "DescribeLogGroups",
    "DescribeLogStreams",
    "FilterLogEvents",
    "GetLogEvents",
    "ListTagsForResource",
    "ListTagsLogGroup",
    "PutLogEvents",
    "PutRetentionPolicy",
    "TagLogGroup",
    "TagResource",
    "UntagLogGroup",
    "UntagResource",
];

/// What an agent may call with its instance token: enough to ship a container's output.
pub const AGENT_OPERATIONS: &[&str] = &["CreateLogGroup", "CreateLogStream", "DescribeLogStreams", "PutLogEvents"];

fn reply<T: Serialize>(value: &T) -> Result<Vec<u8>, LogsError> {
    serde_json::to_vec(value).map_err(|e| LogsError::unavailable(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, LogsError> {
    berth_model::json::decode(body).map_err(|e| LogsError::invalid_parameter(e.to_string()))
}

/// Runs one CloudWatch Logs operation for a caller in `region`.
pub async fn dispatch(logs: &Logs, region: &str, operation: &str, body: &[u8]) -> Result<Vec<u8>, LogsError> {
    match operation {
        "CreateLogGroup" => create_log_group::handle(logs, region, body).await,
        "DeleteLogGroup" => delete_log_group::handle(logs, region, body).await,
        "DescribeLogGroups" => describe_log_groups::handle(logs, region, body).await,
        "CreateLogStream" => create_log_stream::handle(logs, region, body).await,
        "DeleteLogStream" => delete_log_stream::handle(logs, region, body).await,
        "DescribeLogStreams" => describe_log_streams::handle(logs, region, body).await,
        "PutLogEvents" => put_log_events::handle(logs, region, body).await,
        "GetLogEvents" => get_log_events::handle(logs, region, body).await,
        "FilterLogEvents" => filter_log_events::handle(logs, region, body).await,
        "PutRetentionPolicy" => put_retention_policy::handle(logs, region, body).await,
        "DeleteRetentionPolicy" => delete_retention_policy::handle(logs, region, body).await,
        "TagResource" => tag_resource::handle(logs, region, body).await,
        "UntagResource" => untag_resource::handle(logs, region, body).await,
        "ListTagsForResource" => list_tags_for_resource::handle(logs, region, body).await,
        "TagLogGroup" => tag_log_group::handle(logs, region, body).await,
        "UntagLogGroup" => untag_log_group::handle(logs, region, body).await,
        "ListTagsLogGroup" => list_tags_log_group::handle(logs, region, body).await,
        other => Err(LogsError {
            code: "UnknownOperationException",
            message: format!("Operation '{other}' is not supported."),
        }),
    }
}
