//! The HTTP server: accepts connections, reads each request, verifies its signature and
//! hands it to the service its `X-Amz-Target` names.

use std::{
    convert::Infallible,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use berth_control::{Caller, Control};
use berth_registry::Registry;
use http_body_util::{BodyExt, Limited};
use hyper::{body::Incoming, header, Method, Request, Response, StatusCode};

use crate::{
    body::{self, Body},
    ecs::Reply,
    error::ApiError,
    sigv4::{self, Credential, SignedRequest, Verifier},
};

/// Largest request body accepted: a task definition is at most 64 KiB, but ECR's PutImage
/// carries a manifest of up to 4 MiB as an escaped JSON string.
const MAX_BODY: usize = 10 << 20;
const ECS_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

pub struct ApiConfig {
    pub account_id: String,
    pub credentials: Vec<Credential>,
    /// Accept any well-formed signature (see `--insecure-accept-any-credentials`).
    pub accept_any_credentials: bool,
}

/// Everything a request handler needs.
pub struct Api {
    control: Control,
    registry: Registry,
    logs: berth_logs::Logs,
    verifier: Verifier,
    account: String,
    request_ids: RequestIds,
}

impl Api {
    pub fn new(control: Control, registry: Registry, logs: berth_logs::Logs, config: ApiConfig) -> Arc<Api> {
        Arc::new(Api {
            control,
            registry,
            logs,
            verifier: Verifier::new(config.credentials, config.accept_any_credentials),
            account: config.account_id,
            request_ids: RequestIds::new(),
        })
    }
}

pub(crate) async fn handle(api: Arc<Api>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let request_id = api.request_ids.next();
    if let Some(refusal) = unsupported_transfer_encoding(&req) {
        return Ok(refusal);
    }
    let path = req.uri().path();
    if path == "/v2" || path.starts_with("/v2/") {
        let control = api.control.clone();
        let registered = move |region: &str, arn: &str| control.instance_registered(region, arn);
        return Ok(crate::registry::handle(&api.registry, &registered, req).await);
    }
    let result = match (req.method(), path) {
        (&Method::GET, "/healthz") => {
            return Ok(Response::new(body::full(&b"ok\n"[..])));
        }
        (&Method::POST, "/") if is_form(&req) => return Ok(crate::query::handle(&api, req, &request_id).await),
        (&Method::POST, p) if p.starts_with(crate::cloudwatch::RPC_PATH) => {
            let operation = p[crate::cloudwatch::RPC_PATH.len()..].to_string();
            return Ok(cloudwatch(&api, req, crate::cloudwatch::Wire::Cbor, &operation, &request_id).await);
        }
        (&Method::POST, "/") if target_of(&req).starts_with(crate::cloudwatch::TARGET_PREFIX) => {
            let operation = target_of(&req)[crate::cloudwatch::TARGET_PREFIX.len()..].to_string();
            return Ok(cloudwatch(&api, req, crate::cloudwatch::Wire::Json, &operation, &request_id).await);
        }
        (&Method::POST, "/") => aws_json(&api, req).await,
        _ => Err(ApiError::UnknownOperation(format!("{} {}", req.method(), req.uri().path()))),
    };
    let (status, reply) = match result {
        Ok(reply) => (StatusCode::OK, reply),
        Err(e) => {
            tracing::debug!(code = e.code(), message = %e, "request refused");
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, Reply::from(e.body()))
        }
    };
    let mut response = Response::new(body::full(reply.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(JSON_CONTENT_TYPE));
    if let Ok(v) = header::HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    Ok(response)
}

/// An AWS JSON 1.1 request: verify, route on the target, run the operation.
async fn aws_json(api: &Api, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    if let Some(token) = bearer {
        let body = read_body(req.into_body()).await?;
        return agent_request(api, &token, &target, &body).await;
    }
    let (scope, body) = api.verified(req).await?;
    if let Some(operation) = target.strip_prefix(berth_registry::ecr::TARGET_PREFIX) {
        if scope.service != "ecr" {
            return Err(sigv4::AuthError::WrongService("ecr".into()).into());
        }
        return Ok(Reply::from(api.registry.ecr(&scope.region, operation, &body).await?));
    }
    if let Some(operation) = target.strip_prefix(berth_model::discovery::TARGET_PREFIX) {
        if scope.service != "servicediscovery" {
            return Err(sigv4::AuthError::WrongService("servicediscovery".into()).into());
        }
        let caller = Caller { region: scope.region, account: api.account.clone() };
        return Ok(Reply::from(crate::discovery::dispatch(&api.control, &caller, operation, &body).await?));
    }
    if let Some(operation) = target.strip_prefix(berth_model::autoscaling::TARGET_PREFIX) {
        if scope.service != "application-autoscaling" {
            return Err(sigv4::AuthError::WrongService("application-autoscaling".into()).into());
        }
        let caller = Caller { region: scope.region, account: api.account.clone() };
        return Ok(Reply::from(crate::autoscaling::dispatch(&api.control, &caller, operation, &body).await?));
    }
    if let Some(operation) = target.strip_prefix(berth_model::logs::TARGET_PREFIX) {
        if scope.service != "logs" {
            return Err(sigv4::AuthError::WrongService("logs".into()).into());
        }
        return Ok(Reply::from(crate::logs::dispatch(&api.logs, &scope.region, operation, &body).await?));
    }
    let ecs = target.strip_prefix(ECS_PREFIX);
    let berth = target.strip_prefix(crate::berth::TARGET_PREFIX);
    if ecs.is_none() && berth.is_none() {
        return Err(ApiError::UnknownOperation(target.to_string()));
    }
    // Both the ECS API and berth's own operations are signed for the service `ecs`.
    if scope.service != "ecs" {
        return Err(sigv4::AuthError::WrongService("ecs".into()).into());
    }
    let caller = Caller { region: scope.region, account: api.account.clone() };
    match (ecs, berth) {
        (Some(operation), _) => crate::ecs::dispatch(&api.control, &caller, None, operation, &body).await,
        (_, Some("FollowLogEvents")) => Ok(Reply::from(crate::logs::follow(&api.logs, &caller.region, &body).await?)),
        (_, Some(operation)) => Ok(Reply::from(crate::berth::dispatch(&api.control, &caller, operation, &body)?)),
        (None, None) => unreachable!("checked above"),
    }
}

async fn read_body(body: Incoming) -> Result<bytes::Bytes, ApiError> {
    Ok(tokio::time::timeout(crate::body::BODY_READ_TIMEOUT, Limited::new(body, MAX_BODY).collect())
        .await
        .map_err(|_| ApiError::BodyTimeout)?
        .map_err(|_| ApiError::TooLarge(MAX_BODY))?
        .to_bytes())
}

impl Api {
    /// Reads the body and checks the request's SigV4 signature; the scope names the
    /// region and service it was signed for.
    pub(crate) async fn verified(&self, req: Request<Incoming>) -> Result<(sigv4::Scope, bytes::Bytes), ApiError> {
        let (parts, body) = req.into_parts();
        let body = read_body(body).await?;
        let headers: Vec<(&str, &str)> =
            parts.headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))).collect();
        let signed = SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body: &body,
        };
        let scope = self.verifier.verify(&signed, sigv4::now_secs())?;
        Ok((scope, body))
    }

    pub(crate) fn control(&self) -> &Control {
        &self.control
    }

    pub(crate) fn account(&self) -> &str {
        &self.account
    }
}

/// A request authenticated with an agent token: berth's agent operations and the ECS
/// state-change reports.
async fn agent_request(api: &Api, token: &str, target: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let agent = api.control.authenticate_agent(token).ok_or(sigv4::AuthError::UnknownAccessKey)?;
    if let Some(operation) = target.strip_prefix(crate::agent::TARGET_PREFIX) {
        return Ok(Reply::from(crate::agent::dispatch(&api.control, &api.registry, &agent, operation, body).await?));
    }
    if let Some(operation) = target.strip_prefix(berth_model::logs::TARGET_PREFIX) {
        if !crate::logs::AGENT_OPERATIONS.contains(&operation) {
            return Err(sigv4::AuthError::Missing.into());
        }
        return Ok(Reply::from(crate::logs::dispatch(&api.logs, &agent.region, operation, body).await?));
    }
    match target.strip_prefix(ECS_PREFIX) {
        Some(operation) if crate::ecs::AGENT_OPERATIONS.contains(&operation) => {
            let caller = Caller { region: agent.region.clone(), account: api.account.clone() };
            crate::ecs::dispatch(&api.control, &caller, Some(&agent), operation, body).await
        }
        _ => Err(sigv4::AuthError::Missing.into()),
    }
}

/// Whether the body is form-encoded: the query protocol (ELB, CloudWatch), not AWS JSON.
fn is_form(req: &Request<Incoming>) -> bool {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    content_type.starts_with(crate::query::FORM_CONTENT_TYPE)
}

fn target_of(req: &Request<Incoming>) -> &str {
    req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// A CloudWatch request in CBOR (rpc-v2) or AWS JSON 1.0.
async fn cloudwatch(
    api: &Api,
    req: Request<Incoming>,
    wire: crate::cloudwatch::Wire,
    operation: &str,
    request_id: &str,
) -> Response<Body> {
    let result = async {
        let (scope, body) = api.verified(req).await.map_err(|e| match e {
            ApiError::Auth(a) => crate::cloudwatch::auth_error(&a),
            other => berth_model::cloudwatch::CloudWatchError::invalid_value(other.to_string()),
        })?;
        if scope.service != "monitoring" {
            return Err(crate::cloudwatch::auth_error(&sigv4::AuthError::WrongService("monitoring".into())));
        }
        let params = wire.decode(&body)?;
        let caller = Caller { region: scope.region, account: api.account.clone() };
        crate::cloudwatch::dispatch(&api.control, &caller, operation, &params).await
    }
    .await;
    wire.respond(result, request_id)
}

/// A request whose Transfer-Encoding is anything but plain `chunked` gets 501, as AWS
/// and nginx answer: berth decodes no other coding, and `gzip, chunked` must not be read
/// as if it were only chunked.
fn unsupported_transfer_encoding(req: &Request<Incoming>) -> Option<Response<Body>> {
    let codings: Vec<String> = req
        .headers()
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(',').map(|c| c.trim().to_ascii_lowercase()).collect::<Vec<_>>())
        .collect();
    if codings.is_empty() || codings == ["chunked"] {
        return None;
    }
    let mut response = Response::new(body::full(format!(
        "Transfer-Encoding '{}' is not supported: send the body plain or only chunked.\n",
        codings.join(", ")
    )));
    *response.status_mut() = StatusCode::NOT_IMPLEMENTED;
    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    Some(response)
}

/// Request ids shaped like UUIDs: a random per-process prefix and a counter.
struct RequestIds {
    prefix: u64,
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        RequestIds { prefix: seed ^ (std::process::id() as u64).rotate_left(32), counter: AtomicU64::new(0) }
    }

    fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let p = self.prefix;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            p >> 32,
            (p >> 16) & 0xffff,
            p & 0xffff,
            (n >> 48) & 0xffff,
            n & 0xffff_ffff_ffff
        )
    }
}
