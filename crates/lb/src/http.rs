//! HTTP listeners: HTTP/1.1 with keep-alive from clients; each request is matched to a
//! rule and answered by its action — a fixed response, a redirect, or a target of the
//! forwarded-to group, with `X-Forwarded-For`/`-Proto`/`-Port` added. A target that
//! refuses the connection is skipped for the next one (so is one that closes it without
//! answering, for idempotent methods); with no target to take the request
//! the answer is 503, a target that fails it 502, one too slow 504, as ALB answers.

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, RwLock},
    task::{Context, Poll},
    time::Duration,
};

use berth_model::elb::plane::{ActionPlan, ListenerPlan, TargetKey};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::{
    body::{Body, Frame, Incoming, SizeHint},
    header::{self, HeaderMap, HeaderValue},
    server::conn::http1,
    service::service_fn,
    Request, Response, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::{
    balancer::{cookie_token, InFlight},
    pool::SendError,
    routing, Shared,
};

pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Request bodies are read whole before they are forwarded (so a refused connection can
/// be retried elsewhere); larger ones are refused.
const MAX_REQUEST_BODY: usize = 32 << 20;
/// Targets tried for one request.
const MAX_ATTEMPTS: usize = 3;
const STICKY_COOKIE: &str = "AWSALB";
/// Target group stickiness across a forward action's groups.
const GROUP_COOKIE: &str = "AWSALBTG";
/// Headers that describe one hop, not the request.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub async fn serve(listener: TcpListener, routes: Arc<RwLock<Arc<ListenerPlan>>>, shared: Arc<Shared>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "load balancer accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (routes, shared) = (routes.clone(), shared.clone());
        tokio::spawn(async move {
            let local = Arc::new(crate::pool::Local::default());
            let service = service_fn(move |req| {
                let plan = routes.read().unwrap_or_else(|p| p.into_inner()).clone();
                let (shared, local) = (shared.clone(), local.clone());
                async move { Ok::<_, Infallible>(handle(req, peer, &plan, &shared, &local).await) }
            });
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(60));
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn full(status: StatusCode, content_type: Option<&str>, body: impl Into<Bytes>) -> Response<ProxyBody> {
    let mut r = Response::new(Full::new(body.into()).map_err(|never| match never {}).boxed());
    *r.status_mut() = status;
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        r.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    r
}

/// ALB's own error pages: a short HTML body with the status line.
fn elb_error(status: StatusCode) -> Response<ProxyBody> {
    let text = format!(
        "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n</body>\r\n</html>\r\n",
        status
    );
    let mut r = full(status, Some("text/html"), text);
    r.headers_mut().insert(header::SERVER, HeaderValue::from_static("awselb/2.0"));
    r
}

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    plan: &ListenerPlan,
    shared: &Shared,
    local: &crate::pool::Local,
) -> Response<ProxyBody> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let path = req.uri().path().to_string();
    let Some(rule) = routing::matching(&plan.rules, &host, &path) else { return elb_error(StatusCode::NOT_FOUND) };
    match &rule.action {
        ActionPlan::FixedResponse { status, content_type, body } => {
            full(StatusCode::from_u16(*status).unwrap_or(StatusCode::OK), content_type.as_deref(), body.clone())
        }
        redirect @ ActionPlan::Redirect { status, .. } => {
            let query = req.uri().query().unwrap_or("");
            let Some(location) = routing::redirect_location(redirect, "http", &host, plan.port, &path, query) else {
                return elb_error(StatusCode::INTERNAL_SERVER_ERROR);
            };
            let mut r = full(StatusCode::from_u16(*status).unwrap_or(StatusCode::FOUND), None, Bytes::new());
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        ActionPlan::Forward { groups, stickiness_seconds } => {
            // Target group stickiness: the group the `AWSALBTG` cookie names, while it exists.
            let pinned = stickiness_seconds
                .and_then(|_| cookie(req.headers(), GROUP_COOKIE))
                .and_then(|token| groups.iter().find(|(g, _)| cookie_token(g) == token))
                .map(|(g, _)| g.as_str());
            let Some(arn) = pinned.or_else(|| routing::weighted(groups, rand::random::<f64>())) else {
                return elb_error(StatusCode::SERVICE_UNAVAILABLE);
            };
            let mut response = forward(req, peer, plan, shared, local, arn).await;
            if let Some(seconds) = stickiness_seconds.filter(|_| groups.len() > 1) {
                let value = format!("{GROUP_COOKIE}={}; Max-Age={seconds}; Path=/", cookie_token(&arn));
                if let Ok(v) = HeaderValue::from_str(&value) {
                    response.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            response
        }
    }
}

/// The request as the target gets it.
fn upstream_request(
    parts: &hyper::http::request::Parts,
    body: Bytes,
    peer: SocketAddr,
    listener_port: u16,
) -> Request<Full<Bytes>> {
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            headers.append(name, value.clone());
        }
    }
    let client = peer.ip().to_string();
    let xff = match parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {client}"),
        None => client,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert("x-forwarded-for", v);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    headers.insert("x-forwarded-port", HeaderValue::from(listener_port));
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut r = Request::new(Full::new(body));
    *r.method_mut() = parts.method.clone();
    *r.uri_mut() = path.parse().unwrap_or_default();
    *r.headers_mut() = headers;
    r
}

/// The value of cookie `wanted` in the request.
fn cookie(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (name, value) = c.trim().split_once('=')?;
        (name == wanted).then(|| value.to_string())
    })
}

async fn forward(
    req: Request<Incoming>,
    peer: SocketAddr,
    plan: &ListenerPlan,
    shared: &Shared,
    local: &crate::pool::Local,
    arn: &str,
) -> Response<ProxyBody> {
    let Some(group) = shared.group(arn) else { return elb_error(StatusCode::SERVICE_UNAVAILABLE) };
    shared.count_request(arn);
    if !group.has_candidates() {
        return elb_error(StatusCode::SERVICE_UNAVAILABLE);
    }
    let (parts, body) = req.into_parts();
    let timeout = Duration::from_secs(plan.idle_timeout_seconds.max(1));
    let body = if body.is_end_stream() {
        Bytes::new()
    } else {
        match tokio::time::timeout(timeout, Limited::new(body, MAX_REQUEST_BODY).collect()).await {
            Ok(Ok(b)) => b.to_bytes(),
            Ok(Err(_)) => return elb_error(StatusCode::PAYLOAD_TOO_LARGE),
            Err(_) => return elb_error(StatusCode::REQUEST_TIMEOUT),
        }
    };
    let request = upstream_request(&parts, body, peer, plan.port);
    let sticky_seconds = group.plan.stickiness_seconds;
    let sticky = sticky_seconds.and_then(|_| cookie(&parts.headers, STICKY_COOKIE)).and_then(|t| group.sticky(&t));
    let mut tried: Vec<TargetKey> = Vec::new();
    let mut next = sticky;
    for _ in 0..MAX_ATTEMPTS {
        let Some(target) = next.take().or_else(|| group.pick(&tried)) else { break };
        let Some(addr) = target.addr else { break };
        let guard = target.begin(shared.report.clone());
        if target.is_draining() {
            // It began draining since it was picked (and may already be reported idle).
            tried.push(target.key.clone());
            continue;
        }
        match shared.pool.send(addr, &request, timeout, local).await {
            Ok(response) => {
                let (mut head, body) = response.into_parts();
                if sticky_seconds.is_some() {
                    let cookie = format!(
                        "{STICKY_COOKIE}={}; Max-Age={}; Path=/",
                        cookie_token(&target.key),
                        sticky_seconds.unwrap_or(0)
                    );
                    if let Ok(v) = HeaderValue::from_str(&cookie) {
                        head.headers.append(header::SET_COOKIE, v);
                    }
                }
                for h in HOP_BY_HOP {
                    head.headers.remove(h);
                }
                return Response::from_parts(head, Tracked { body, _guard: guard }.boxed());
            }
            Err(SendError::Connect(e)) => {
                tracing::debug!(target = %addr, error = %e, "target refused the connection; trying another");
                tried.push(target.key.clone());
            }
            Err(SendError::Closed(e)) if parts.method.is_idempotent() => {
                tracing::debug!(target = %addr, error = %e, "target closed the connection unanswered; trying another");
                tried.push(target.key.clone());
            }
            Err(SendError::Timeout) => return elb_error(StatusCode::GATEWAY_TIMEOUT),
            Err(SendError::Failed(e) | SendError::Closed(e)) => {
                tracing::debug!(target = %addr, error = %e, "target failed the request");
                return elb_error(StatusCode::BAD_GATEWAY);
            }
        }
    }
    elb_error(if tried.is_empty() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::BAD_GATEWAY })
}

/// A target's answer, counted in flight until it has been passed on (or dropped).
struct Tracked {
    body: Incoming,
    _guard: InFlight,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
