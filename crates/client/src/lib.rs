//! berth-client — one HTTP client for a berth server: SigV4-signed AWS JSON calls (ECS,
//! ECR, berth's own operations) for the CLI, the benchmarks and an agent's registration,
//! and the agent-token calls an agent makes after that.

use std::time::Duration;

use berth_model::{ecs::Operation, task::TaskStateChange};
use berth_sigv4::{Credential, SignedRequest};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Uri};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use serde::{de::DeserializeOwned, Serialize};

const ECS: &str = "AmazonEC2ContainerServiceV20141113.";
const ECR: &str = "AmazonEC2ContainerRegistry_V20150921.";
use berth_model::agent::{TARGET_PREFIX as AGENT, TOKEN_HEADER};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the server: {0}")]
    Transport(String),
    #[error("{code}: {message}")]
    Api { status: u16, code: String, message: String },
    #[error("unexpected response: {0}")]
    Decode(String),
}

/// The innermost cause of a connection failure ("Connection refused"), which says more
/// than hyper's outer "client error (Connect)".
fn transport_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

impl ClientError {
    /// Worth trying again: the server could not be reached, or said it is overloaded or
    /// failed inside (a restart under way looks like this).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport(_) => true,
            ClientError::Api { status, code, .. } => *status >= 500 || code == "ThrottlingException",
            ClientError::Decode(_) => false,
        }
    }

    /// The server no longer accepts this agent's token.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ClientError::Api { code, .. } if code == "UnrecognizedClientException" || code == "MissingAuthenticationTokenException")
    }
}

#[derive(Clone)]
pub struct ServerClient {
    http: Client<HttpConnector, Full<Bytes>>,
    base: Uri,
    host: String,
    credential: Credential,
    region: String,
}

impl ServerClient {
    /// The server's URL.
    pub fn endpoint(&self) -> String {
        self.base.to_string()
    }

    pub fn new(server: &str, credential: Credential, region: &str) -> Result<ServerClient, ClientError> {
        let base: Uri =
            server.parse().map_err(|e| ClientError::Transport(format!("bad server URL '{server}': {e}")))?;
        let host = base
            .authority()
            .map(|a| a.to_string())
            .ok_or_else(|| ClientError::Transport(format!("server URL '{server}' has no host")))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let http = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(60)).build(connector);
        Ok(ServerClient { http, base, host, credential, region: region.to_string() })
    }

    async fn send(
        &self,
        target: &str,
        body: Vec<u8>,
        auth: Auth<'_>,
        timeout: Duration,
    ) -> Result<(Vec<u8>, Option<String>), ClientError> {
        let headers =
            [("host", self.host.as_str()), ("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
        // ECR operations are signed for `ecr`, Cloud Map's for `servicediscovery`; ECS and
        // berth's own for `ecs`.
        let service = if target.starts_with(ECR) {
            "ecr"
        } else if target.starts_with(berth_model::discovery::TARGET_PREFIX) {
            "servicediscovery"
        } else if target.starts_with(berth_model::logs::TARGET_PREFIX) {
            "logs"
        } else {
            "ecs"
        };
        let (status, bytes, token) = self.exchange(&headers, service, body, auth, timeout, target).await?;
        if status != 200 {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(ClientError::Api {
                status,
                code: v["__type"].as_str().unwrap_or("Unknown").to_string(),
                // Cloud Map spells it `Message`.
                message: v["message"].as_str().or(v["Message"].as_str()).unwrap_or_default().to_string(),
            });
        }
        Ok((bytes, token))
    }

    /// An Elastic Load Balancing v2 call (the query protocol): `params` form-encoded with
    /// the action; the answer is ELB's XML, read with [`xml_texts`].
    pub async fn elb(&self, action: &str, params: &[(&str, &str)]) -> Result<String, ClientError> {
        let mut pairs: Vec<(&str, &str)> = vec![("Action", action), ("Version", "2015-12-01")];
        pairs.extend_from_slice(params);
        let body = serde_urlencoded::to_string(&pairs).map_err(|e| ClientError::Decode(e.to_string()))?.into_bytes();
        let headers =
            [("host", self.host.as_str()), ("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        let timeout = Duration::from_secs(30);
        let (status, bytes, _) =
            self.exchange(&headers, "elasticloadbalancing", body, Auth::SigV4, timeout, action).await?;
        let text = String::from_utf8_lossy(&bytes).to_string();
        if status != 200 {
            let first = |name: &str| xml_texts(&text, name).into_iter().next().unwrap_or_default();
            return Err(ClientError::Api { status, code: first("Code"), message: first("Message") });
        }
        Ok(text)
    }

    /// Sends one request; (status, body, agent token header).
    async fn exchange(
        &self,
        headers: &[(&str, &str)],
        service: &str,
        body: Vec<u8>,
        auth: Auth<'_>,
        timeout: Duration,
        target: &str,
    ) -> Result<(u16, Vec<u8>, Option<String>), ClientError> {
        let mut builder = Request::post(self.base.clone());
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        match auth {
            Auth::SigV4 => {
                let req = SignedRequest { method: "POST", path: "/", query: "", headers, body: &body };
                for (k, v) in berth_sigv4::sign(&req, &self.credential, &self.region, service, berth_sigv4::now_secs())
                {
                    builder = builder.header(k, v);
                }
            }
            Auth::Token(token) => builder = builder.header("authorization", format!("Bearer {token}")),
        }
        let request = builder.body(Full::new(Bytes::from(body))).map_err(|e| ClientError::Transport(e.to_string()))?;
        let response = tokio::time::timeout(timeout, self.http.request(request))
            .await
            .map_err(|_| ClientError::Transport(format!("{target} to {} timed out", self.base)))?
            .map_err(|e| ClientError::Transport(format!("{}: {}", self.base, transport_cause(&e))))?;
        let status = response.status().as_u16();
        let token = response.headers().get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(String::from);
        let bytes = tokio::time::timeout(timeout, response.into_body().collect())
            .await
            .map_err(|_| ClientError::Transport(format!("{target} to {} timed out", self.base)))?
            .map_err(|e| ClientError::Transport(format!("{}: {e}", self.base)))?
            .to_bytes();
        Ok((status, bytes.to_vec(), token))
    }

    /// A SigV4-signed ECS call.
    pub async fn ecs<T: DeserializeOwned>(
        &self,
        operation: &str,
        body: &impl Serialize,
    ) -> Result<(T, Option<String>), ClientError> {
        self.signed(&format!("{ECS}{operation}"), body).await
    }

    /// A typed ECS call: `client.call::<op::RunTask>(&request)` sends the operation's
    /// request type and decodes its response type.
    pub async fn call<O: Operation>(&self, request: &O::Request) -> Result<O::Response, ClientError> {
        Ok(self.signed(&format!("{ECS}{}", O::NAME), request).await?.0)
    }

    /// A SigV4-signed ECR call.
    pub async fn ecr<T: DeserializeOwned>(
        &self,
        operation: &str,
        body: &impl Serialize,
    ) -> Result<(T, Option<String>), ClientError> {
        self.signed(&format!("{ECR}{operation}"), body).await
    }

    /// A SigV4-signed call of any target (`BerthV1.PlanTask`, …).
    pub async fn signed<T: DeserializeOwned>(
        &self,
        target: &str,
        body: &impl Serialize,
    ) -> Result<(T, Option<String>), ClientError> {
        self.json(target, body, Auth::SigV4, Duration::from_secs(30)).await
    }

    /// Sends `body` as JSON and reads the JSON answer (and the next-token header).
    async fn json<T: DeserializeOwned>(
        &self,
        target: &str,
        body: &impl Serialize,
        auth: Auth<'_>,
        timeout: Duration,
    ) -> Result<(T, Option<String>), ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Decode(e.to_string()))?;
        let (bytes, token) = self.send(target, body, auth, timeout).await?;
        Ok((serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))?, token))
    }

    /// A token-authenticated berth agent call.
    pub async fn agent<T: DeserializeOwned>(
        &self,
        token: &str,
        operation: &str,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        Ok(self.json(&format!("{AGENT}{operation}"), body, Auth::Token(token), timeout).await?.0)
    }

    /// A CloudWatch Logs call with the agent's token (shipping container output).
    pub async fn agent_logs<T: DeserializeOwned>(
        &self,
        token: &str,
        operation: &str,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let target = format!("{}{operation}", berth_model::logs::TARGET_PREFIX);
        Ok(self.json(&target, body, Auth::Token(token), timeout).await?.0)
    }

    /// A SigV4-signed CloudWatch Logs call (signed for the service `logs`).
    pub async fn logs<T: DeserializeOwned>(&self, operation: &str, body: &impl Serialize) -> Result<T, ClientError> {
        Ok(self.signed(&format!("{}{operation}", berth_model::logs::TARGET_PREFIX), body).await?.0)
    }

    /// SubmitTaskStateChange with the agent's token.
    pub async fn submit(&self, token: &str, change: &TaskStateChange) -> Result<(), ClientError> {
        let body = serde_json::to_vec(change).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.send(&format!("{ECS}SubmitTaskStateChange"), body, Auth::Token(token), Duration::from_secs(30)).await?;
        Ok(())
    }
}

/// The text of every element named `name` in an XML document, in document order.
pub fn xml_texts(xml: &str, name: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut inside = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => inside = e.local_name().as_ref() == name.as_bytes(),
            Ok(Event::Text(t)) if inside => {
                out.push(t.unescape().map(|c| c.into_owned()).unwrap_or_default());
                inside = false;
            }
            Ok(Event::End(_)) => inside = false,
            Ok(Event::Eof) | Err(_) => return out,
            _ => {}
        }
    }
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    SigV4,
    Token(&'a str),
}
