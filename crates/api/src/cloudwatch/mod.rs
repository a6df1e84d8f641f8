//! CloudWatch (`monitoring`) in the protocols the aws CLIs send: rpc-v2-cbor (botocore ≥
//! 1.37: `POST /service/GraniteServiceVersion20100801/operation/<Op>`), the query protocol
//! (the aws CLI v2 here: a form POST, see [`crate::query`]), and AWS JSON 1.0 (the
//! `GraniteServiceVersion20100801.<Op>` target). Every protocol reads into one JSON tree
//! and the operations below run on it.

use berth_control::{Caller, Control};
use berth_model::cloudwatch::{CloudWatchError, TIMESTAMP_MEMBERS, XML_NAMESPACE};
use hyper::{header, Response, StatusCode};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::{
    body::{self, Body},
    query::Dialect,
};

pub const QUERY_DIALECT: Dialect = Dialect { namespace: XML_NAMESPACE, timestamps: TIMESTAMP_MEMBERS };
/// The rpc-v2 path prefix and the JSON target prefix.
pub const RPC_PATH: &str = "/service/GraniteServiceVersion20100801/operation/";
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801.";

/// Every operation berth answers.
pub const OPERATIONS: &[&str] = &[
    "DeleteAlarms",
    "DescribeAlarmHistory",
    "DescribeAlarms",
    "DescribeAlarmsForMetric",
    "DisableAlarmActions",
    "EnableAlarmActions",
    "GetMetricData",
    "GetMetricStatistics",
    "ListMetrics",
    "ListTagsForResource",
    "PutMetricAlarm",
    "PutMetricData",
    "SetAlarmState",
    "TagResource",
    "UntagResource",
];

fn decode<T: DeserializeOwned>(params: &Value) -> Result<T, CloudWatchError> {
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        CloudWatchError::bad_parameter(&path, e.into_inner())
    })
}

fn encode<T: Serialize>(result: T) -> Value {
    serde_json::to_value(result).expect("CloudWatch results serialize")
}

fn empty(_: ()) -> Value {
    Value::Object(Default::default())
}

/// Runs one operation on its parameters.
pub async fn dispatch(
    control: &Control,
    caller: &Caller,
    operation: &str,
    p: &Value,
) -> Result<Value, CloudWatchError> {
    let c = caller;
    Ok(match operation {
        "PutMetricData" => empty(control.put_metric_data(c, decode(p)?).await?),
        "GetMetricStatistics" => encode(control.get_metric_statistics(c, decode(p)?).await?),
        "GetMetricData" => encode(control.get_metric_data(c, decode(p)?).await?),
        "ListMetrics" => encode(control.list_metrics(c, decode(p)?).await?),
        "PutMetricAlarm" => empty(control.put_metric_alarm(c, decode(p)?).await?),
        "DescribeAlarms" => encode(control.describe_alarms(c, &decode(p)?)?),
        "DescribeAlarmsForMetric" => encode(control.describe_alarms_for_metric(c, &decode(p)?)?),
        "DeleteAlarms" => empty(control.delete_alarms(c, decode(p)?).await?),
        "SetAlarmState" => empty(control.set_alarm_state(c, decode(p)?).await?),
        "DescribeAlarmHistory" => encode(control.describe_alarm_history(c, &decode(p)?)?),
        "EnableAlarmActions" => empty(control.set_alarm_actions(c, decode(p)?, true).await?),
        "DisableAlarmActions" => empty(control.set_alarm_actions(c, decode(p)?, false).await?),
        "TagResource" => empty(control.cloudwatch_tag_resource(c, decode(p)?).await?),
        "UntagResource" => empty(control.cloudwatch_untag_resource(c, decode(p)?).await?),
        "ListTagsForResource" => encode(control.cloudwatch_list_tags(c, &decode(p)?)?),
        other => return Err(CloudWatchError::unknown_operation(other)),
    })
}

/// Which body format a request came in, and so which the answer goes out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Cbor,
    Json,
}

impl Wire {
    pub fn decode(self, body: &[u8]) -> Result<Value, CloudWatchError> {
        match self {
            Wire::Cbor => crate::cbor::decode(body).map_err(CloudWatchError::invalid_value),
            Wire::Json if body.is_empty() => Ok(Value::Object(Default::default())),
            Wire::Json => serde_json::from_slice(body)
                .map_err(|e| CloudWatchError::invalid_value(format!("The body is not JSON: {e}"))),
        }
    }

    /// The answer: the result, or the error with its query-compatible code header.
    pub fn respond(self, result: Result<Value, CloudWatchError>, request_id: &str) -> Response<Body> {
        let (status, value, query_error) = match result {
            Ok(v) => (StatusCode::OK, v, None),
            Err(e) => {
                tracing::debug!(code = e.code, message = %e.message, "CloudWatch request refused");
                let doc = serde_json::json!({
                    "__type": format!("com.amazonaws.cloudwatch#{}", e.shape),
                    "message": e.message,
                });
                let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
                (status, doc, Some(format!("{};{}", e.code, e.fault())))
            }
        };
        let (bytes, content_type) = match self {
            Wire::Cbor => (crate::cbor::encode(&value, TIMESTAMP_MEMBERS), crate::cbor::CONTENT_TYPE),
            Wire::Json => (serde_json::to_vec(&value).expect("JSON values serialize"), "application/x-amz-json-1.0"),
        };
        let mut response = Response::new(body::full(bytes));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
        if self == Wire::Cbor {
            headers.insert(crate::cbor::PROTOCOL_HEADER, header::HeaderValue::from_static(crate::cbor::PROTOCOL));
        }
        if let Some(q) = query_error.and_then(|q| header::HeaderValue::from_str(&q).ok()) {
            headers.insert("x-amzn-query-error", q);
        }
        if let Ok(v) = header::HeaderValue::from_str(request_id) {
            headers.insert("x-amzn-requestid", v);
        }
        response
    }
}

/// Authentication failures in CloudWatch's words.
pub fn auth_error(e: &crate::sigv4::AuthError) -> CloudWatchError {
    let fault = crate::query::auth_fault(e);
    CloudWatchError { shape: fault.code, code: fault.code, message: fault.message, status: fault.status }
}
