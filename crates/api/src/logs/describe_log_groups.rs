//! DescribeLogGroups.

use berth_logs::Logs;
use berth_model::logs::LogsError;

use super::{decode, reply};

pub async fn handle(logs: &Logs, region: &str, body: &[u8]) -> Result<Vec<u8>, LogsError> {
    reply(&logs.describe_log_groups(region, decode(body)?).await?)
}
