//! Elastic Load Balancing v2 over the query protocol: a form-encoded POST signed for the
//! service `elasticloadbalancing`, answered in XML. Each operation is decode → control →
//! encode; errors, authentication's included, answer in ELB's XML error shape.

pub mod codec;

use berth_control::{Caller, Control};
use berth_model::elb::ElbError;
use hyper::{body::Incoming, header, Request, Response, StatusCode};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::{
    body::{self, Body},
    server::Api,
    sigv4::AuthError,
};

/// The content type query-protocol requests carry.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

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

/// Authentication failures in the query protocol's words.
fn auth_error(e: &AuthError) -> ElbError {
    let code = match e {
        AuthError::Missing => "MissingAuthenticationToken",
        AuthError::UnknownAccessKey => "InvalidClientTokenId",
        AuthError::Incomplete(_) => "IncompleteSignature",
        _ => "SignatureDoesNotMatch",
    };
    ElbError { code, message: e.to_string(), status: if matches!(e, AuthError::Incomplete(_)) { 400 } else { 403 } }
}

/// Serves one query-protocol request.
pub async fn handle(api: &Api, req: Request<Incoming>, request_id: &str) -> Response<Body> {
    let (status, body) = match run(api, req).await {
        Ok((action, result)) => (StatusCode::OK, codec::response(&action, &result, request_id)),
        Err(e) => {
            tracing::debug!(code = e.code, message = %e.message, "ELB request refused");
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, codec::error(e.code, e.fault(), &e.message, request_id))
        }
    };
    let mut response = Response::new(body::full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/xml"));
    if let Ok(v) = header::HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

async fn run(api: &Api, req: Request<Incoming>) -> Result<(String, Value), ElbError> {
    let (scope, body) = api.verified(req).await.map_err(|e| match e {
        crate::error::ApiError::Auth(a) => auth_error(&a),
        other => ElbError::validation(other.to_string()),
    })?;
    if scope.service != "elasticloadbalancing" {
        return Err(auth_error(&AuthError::WrongService("elasticloadbalancing".into())));
    }
    let q = codec::parse(&body)?;
    let caller = Caller { region: scope.region, account: api.account().to_string() };
    let result = dispatch(api.control(), &caller, &q.action, &q.params).await?;
    Ok((q.action, result))
}
