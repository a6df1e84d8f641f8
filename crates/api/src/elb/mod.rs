//! Elastic Load Balancing v2 over the query protocol (see [`crate::query`]): a
//! form-encoded POST signed for the service `elasticloadbalancing`, answered in XML. Each
//! operation is decode → control → encode.

use berth_control::{Caller, Control};
use berth_model::elb::ElbError;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::query::Dialect;

pub const DIALECT: Dialect =
    Dialect { namespace: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/", timestamps: &[] };

fn decode<T: DeserializeOwned>(params: &Value) -> Result<T, ElbError> {
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        ElbError::validation(format!("Parameter '{path}' is not valid: {}", e.into_inner()))
    })
}

fn encode<T: Serialize>(result: T) -> Value {
    serde_json::to_value(result).expect("ELB results serialize")
}

/// Runs one operation.
pub async fn dispatch(control: &Control, caller: &Caller, action: &str, p: &Value) -> Result<Value, ElbError> {
    let c = caller;
    Ok(match action {
        "CreateLoadBalancer" => encode(control.create_load_balancer(c, decode(p)?).await?),
        "DescribeLoadBalancers" => encode(control.describe_load_balancers(c, decode(p)?)?),
        "DeleteLoadBalancer" => encode(control.delete_load_balancer(c, decode(p)?).await?),
        "DescribeLoadBalancerAttributes" => encode(control.describe_load_balancer_attributes(c, decode(p)?)?),
        "ModifyLoadBalancerAttributes" => encode(control.modify_load_balancer_attributes(c, decode(p)?).await?),
        "CreateTargetGroup" => encode(control.create_target_group(c, decode(p)?).await?),
        "DescribeTargetGroups" => encode(control.describe_target_groups(c, decode(p)?)?),
        "ModifyTargetGroup" => encode(control.modify_target_group(c, decode(p)?).await?),
        "DeleteTargetGroup" => encode(control.delete_target_group(c, decode(p)?).await?),
        "DescribeTargetGroupAttributes" => encode(control.describe_target_group_attributes(c, decode(p)?)?),
        "ModifyTargetGroupAttributes" => encode(control.modify_target_group_attributes(c, decode(p)?).await?),
        "RegisterTargets" => encode(control.register_targets(c, decode(p)?).await?),
        "DeregisterTargets" => encode(control.deregister_targets(c, decode(p)?).await?),
        "DescribeTargetHealth" => encode(control.describe_target_health(c, decode(p)?)?),
        "CreateListener" => encode(control.create_listener(c, decode(p)?).await?),
        "DescribeListeners" => encode(control.describe_listeners(c, decode(p)?)?),
        "ModifyListener" => encode(control.modify_listener(c, decode(p)?).await?),
        "DeleteListener" => encode(control.delete_listener(c, decode(p)?).await?),
        "CreateRule" => encode(control.create_rule(c, decode(p)?).await?),
        "DescribeRules" => encode(control.describe_rules(c, decode(p)?)?),
        "ModifyRule" => encode(control.modify_rule(c, decode(p)?).await?),
        "DeleteRule" => encode(control.delete_rule(c, decode(p)?).await?),
        "SetRulePriorities" => encode(control.set_rule_priorities(c, decode(p)?).await?),
        "AddTags" => encode(control.elb_add_tags(c, decode(p)?).await?),
        "RemoveTags" => encode(control.elb_remove_tags(c, decode(p)?).await?),
        "DescribeTags" => encode(control.elb_describe_tags(c, decode(p)?)?),
        other => return Err(ElbError::unknown_operation(other)),
    })
}
