//! Application Auto Scaling (`AnyScaleFrontendService.*`, AWS JSON 1.1, signed for
//! `application-autoscaling`): decode → control → encode.

use berth_control::{Caller, Control};
use berth_model::autoscaling::AutoScalingError;
use serde::{de::DeserializeOwned, Serialize};

/// Every operation berth answers (all of the service's).
pub const OPERATIONS: &[&str] = &[
    "DeleteScalingPolicy",
    "DeleteScheduledAction",
    "DeregisterScalableTarget",
    "DescribeScalableTargets",
    "DescribeScalingActivities",
    "DescribeScalingPolicies",
    "DescribeScheduledActions",
    "GetPredictiveScalingForecast",
    "ListTagsForResource",
    "PutScalingPolicy",
    "PutScheduledAction",
    "RegisterScalableTarget",
    "TagResource",
    "UntagResource",
];

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, AutoScalingError> {
    let body = if body.is_empty() { &b"{}"[..] } else { body };
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        AutoScalingError::validation(format!(
            "1 validation error detected: Value at '{path}' is not valid: {}",
            e.into_inner()
        ))
    })
}

fn reply<T: Serialize>(value: T) -> Result<Vec<u8>, AutoScalingError> {
    serde_json::to_vec(&value).map_err(|e| AutoScalingError::internal(e.to_string()))
}

/// Runs one operation.
pub async fn dispatch(
    control: &Control,
    caller: &Caller,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, AutoScalingError> {
    let c = caller;
    match operation {
        "RegisterScalableTarget" => reply(control.register_scalable_target(c, decode(body)?).await?),
        "DeregisterScalableTarget" => reply(control.deregister_scalable_target(c, decode(body)?).await?),
        "DescribeScalableTargets" => reply(control.describe_scalable_targets(c, &decode(body)?)?),
        "PutScalingPolicy" => reply(control.put_scaling_policy(c, decode(body)?).await?),
        "DeleteScalingPolicy" => reply(control.delete_scaling_policy(c, decode(body)?).await?),
        "DescribeScalingPolicies" => reply(control.describe_scaling_policies(c, &decode(body)?)?),
        "DescribeScalingActivities" => reply(control.describe_scaling_activities(c, &decode(body)?)?),
        "PutScheduledAction" => reply(control.put_scheduled_action(c, decode(body)?).await?),
        "DeleteScheduledAction" => reply(control.delete_scheduled_action(c, decode(body)?).await?),
        "DescribeScheduledActions" => reply(control.describe_scheduled_actions(c, &decode(body)?)?),
        "TagResource" => reply(control.autoscaling_tag_resource(c, decode(body)?).await?),
        "UntagResource" => reply(control.autoscaling_untag_resource(c, decode(body)?).await?),
        "ListTagsForResource" => reply(control.autoscaling_list_tags(c, &decode(body)?)?),
        "GetPredictiveScalingForecast" => {
            let _: berth_model::autoscaling::GetPredictiveScalingForecastRequest = decode(body)?;
            Err(AutoScalingError::validation(
                "berth does not forecast load: there are no PredictiveScaling policies to forecast for.",
            ))
        }
        other => Err(AutoScalingError::unknown_operation(other)),
    }
}
