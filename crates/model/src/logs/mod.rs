//! CloudWatch Logs (`Logs_20140328.*`, AWS JSON 1.1): log groups, log streams and their
//! events, as the logs API model names them, plus the `awslogs` driver's options.

mod error;
mod requests;

pub use error::LogsError;
pub use requests::*;

use serde::{Deserialize, Serialize};

/// The `X-Amz-Target` prefix of every CloudWatch Logs operation.
pub const TARGET_PREFIX: &str = "Logs_20140328.";

/// The largest PutLogEvents batch: the sum of the messages' UTF-8 bytes plus
/// [`EVENT_OVERHEAD`] per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// What each event adds to a batch's size.
pub const EVENT_OVERHEAD: usize = 26;
/// The most events one PutLogEvents carries.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// The largest event message (256 KiB, counted with the overhead as CloudWatch counts it).
pub const MAX_EVENT_BYTES: usize = 262_144;
/// The longest time one batch may span.
pub const MAX_BATCH_SPAN_MS: i64 = 24 * 3600 * 1000;
/// Events further in the future than this are rejected.
pub const MAX_FUTURE_MS: i64 = 2 * 3600 * 1000;
/// Events older than this are rejected.
pub const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// The retention periods PutRetentionPolicy accepts, in days.
pub const RETENTION_DAYS: &[i32] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// `arn:aws:logs:REGION:ACCOUNT:log-group:NAME` (DescribeLogGroups' `logGroupArn`, the
/// ARN tagging takes); the `arn` field adds `:*`.
pub fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

/// A log stream's ARN.
pub fn stream_arn(region: &str, account: &str, group: &str, stream: &str) -> String {
    format!("{}:log-stream:{stream}", group_arn(region, account, group))
}

/// The log group a `log-group` ARN names (with or without the trailing `:*`).
pub fn group_of_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:logs:")?;
    let name = rest.split_once(":log-group:")?.1;
    Some(name.strip_suffix(":*").unwrap_or(name))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroup {
    pub log_group_name: String,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i32>,
    pub metric_filter_count: i32,
    pub arn: String,
    pub stored_bytes: i64,
    pub log_group_class: String,
    pub log_group_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStream {
    pub log_stream_name: String,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ingestion_time: Option<i64>,
    pub arn: String,
    pub stored_bytes: i64,
    /// berth's extension: the shipping agent's position (see `PutLogEventsRequest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub berth_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputLogEvent {
    pub timestamp: i64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputLogEvent {
    pub timestamp: i64,
    pub message: String,
    pub ingestion_time: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteredLogEvent {
    pub log_stream_name: String,
    pub timestamp: i64,
    pub message: String,
    pub ingestion_time: i64,
    pub event_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchedLogStream {
    pub log_stream_name: String,
    pub searched_completely: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedLogEventsInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_new_log_event_start_index: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_old_log_event_end_index: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_log_event_end_index: Option<i32>,
}

impl RejectedLogEventsInfo {
    pub fn is_empty(&self) -> bool {
        *self == RejectedLogEventsInfo::default()
    }
}

crate::status::status! {
    /// DescribeLogStreams' order.
    OrderBy (default LogStreamName) {
        LogStreamName => "LogStreamName",
        LastEventTime => "LastEventTime",
    }
}

/// The `awslogs` driver's options in a container definition's `logConfiguration`.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsLogsOptions {
    pub group: String,
    pub region: Option<String>,
    pub stream_prefix: Option<String>,
    pub create_group: bool,
    /// `mode: non-blocking`: output the shipper cannot buffer is dropped (and counted)
    /// instead of holding the container up.
    pub non_blocking: bool,
    /// `max-buffer-size` in bytes (non-blocking mode; default 1 MiB as Docker's).
    pub max_buffer_size: usize,
    pub datetime_format: Option<String>,
    pub multiline_pattern: Option<String>,
}

/// The log driver name ECS and Docker use.
pub const AWSLOGS: &str = "awslogs";
/// Docker's default `max-buffer-size` in non-blocking mode.
pub const DEFAULT_MAX_BUFFER: usize = 1 << 20;

impl AwsLogsOptions {
    /// Reads the options, refusing what the driver would refuse.
    pub fn parse(options: &std::collections::BTreeMap<String, String>) -> Result<AwsLogsOptions, String> {
        let group = options
            .get("awslogs-group")
            .filter(|g| !g.is_empty())
            .ok_or("the awslogs log driver needs the option awslogs-group")?
            .clone();
        let flag = |name: &str| -> Result<bool, String> {
            match options.get(name).map(String::as_str) {
                None => Ok(false),
                Some(v) => v.parse::<bool>().map_err(|_| format!("{name} must be true or false, not '{v}'")),
            }
        };
        let non_blocking = match options.get("mode").map(String::as_str) {
            None | Some("blocking") => false,
            Some("non-blocking") => true,
            Some(other) => return Err(format!("mode must be blocking or non-blocking, not '{other}'")),
        };
        let max_buffer_size = match options.get("max-buffer-size") {
            None => DEFAULT_MAX_BUFFER,
            Some(v) => parse_size(v).ok_or_else(|| format!("max-buffer-size '{v}' is not a size like 4m or 512k"))?,
        };
        if options.contains_key("awslogs-datetime-format") && options.contains_key("awslogs-multiline-pattern") {
            return Err("awslogs-datetime-format and awslogs-multiline-pattern cannot both be set".into());
        }
        Ok(AwsLogsOptions {
            group,
            region: options.get("awslogs-region").cloned(),
            stream_prefix: options.get("awslogs-stream-prefix").cloned(),
            create_group: flag("awslogs-create-group")?,
            non_blocking,
            max_buffer_size,
            datetime_format: options.get("awslogs-datetime-format").cloned(),
            multiline_pattern: options.get("awslogs-multiline-pattern").cloned(),
        })
    }

    /// The stream ECS names for a task's container: `PREFIX/CONTAINER/TASK_ID` with a
    /// prefix, else the container's id (as Docker's driver names it).
    pub fn stream_name(&self, container: &str, task_id: &str, container_id: &str) -> String {
        match &self.stream_prefix {
            Some(prefix) => format!("{prefix}/{container}/{task_id}"),
            None => container_id.to_string(),
        }
    }
}

/// `4m`, `512k`, `1g`, `100` (bytes), as Docker reads sizes.
fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim().to_ascii_lowercase();
    let text = text.strip_suffix('b').unwrap_or(&text);
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit() && *c != '.') {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let value: f64 = digits.parse().ok()?;
    let scale = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((value * scale) as usize).filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn awslogs_options_parse_as_the_driver_reads_them() {
        let o = AwsLogsOptions::parse(&options(&[
            ("awslogs-group", "/ecs/web"),
            ("awslogs-stream-prefix", "ecs"),
            ("awslogs-create-group", "true"),
            ("mode", "non-blocking"),
            ("max-buffer-size", "4m"),
        ]))
        .unwrap();
        assert!(o.create_group && o.non_blocking);
        assert_eq!(o.max_buffer_size, 4 << 20);
        assert_eq!(o.stream_name("web", "abc", "cid"), "ecs/web/abc");
        assert!(AwsLogsOptions::parse(&options(&[])).is_err());
        assert!(AwsLogsOptions::parse(&options(&[("awslogs-group", "g"), ("mode", "fast")])).is_err());
        assert!(AwsLogsOptions::parse(&options(&[("awslogs-group", "g"), ("max-buffer-size", "lots")])).is_err());
    }

    #[test]
    fn group_arns_round_trip() {
        let arn = group_arn("us-east-1", "000000000000", "/ecs/web");
        assert_eq!(group_of_arn(&arn), Some("/ecs/web"));
        assert_eq!(group_of_arn(&format!("{arn}:*")), Some("/ecs/web"));
        assert_eq!(group_of_arn("arn:aws:ecs:x"), None);
    }
}
