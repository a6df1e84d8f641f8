//! BerthV1.FollowLogEvents: new events of some streams in commit order, long-polled.

use berth_logs::Logs;
use berth_model::logs::LogsError;

use super::{decode, reply};

pub async fn handle(logs: &Logs, region: &str, body: &[u8]) -> Result<Vec<u8>, LogsError> {
    reply(&logs.follow_log_events(region, decode(body)?).await?)
}
