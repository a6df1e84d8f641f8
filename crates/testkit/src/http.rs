//! A raw HTTP/1.1 client that signs (or deliberately mis-signs) AWS JSON requests.

use std::net::SocketAddr;

use berth_api::sigv4::{self, Credential, SignedRequest};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{client::conn::http1, Request};
use hyper_util::rt::TokioIo;

/// How to sign a request.
#[derive(Clone)]
pub enum Signing {
    /// No Authorization header at all.
    None,
    /// Signed with `credential`, `skew_secs` away from now.
    With { credential: Credential, region: String, service: String, skew_secs: i64 },
}

pub struct RawResponse {
    pub status: u16,
    pub body: serde_json::Value,
}

impl RawResponse {
    /// The AWS error type, if this is an error.
    pub fn error_type(&self) -> Option<&str> {
        self.body.get("__type").and_then(|v| v.as_str())
    }
}

/// One keep-alive connection.
pub struct RawClient {
    addr: SocketAddr,
    sender: http1::SendRequest<Full<Bytes>>,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<RawClient> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
        tokio::spawn(conn);
        Ok(RawClient { addr, sender })
    }

    /// Builds the request for an AWS JSON 1.1 call, signed as `signing` says.
    pub fn build(addr: SocketAddr, target: &str, body: &[u8], signing: &Signing) -> Request<Full<Bytes>> {
        let host = addr.to_string();
        let base = [("host", host.as_str()), ("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
        let mut builder = Request::post("/");
        for (k, v) in base {
            builder = builder.header(k, v);
        }
        if let Signing::With { credential, region, service, skew_secs } = signing {
            let req = SignedRequest { method: "POST", path: "/", query: "", headers: &base, body };
            for (k, v) in sigv4::sign(&req, credential, region, service, sigv4::now_secs() + skew_secs) {
                builder = builder.header(k, v);
            }
        }
        builder.body(Full::new(Bytes::copy_from_slice(body))).expect("valid request")
    }

    pub async fn call(&mut self, target: &str, body: &[u8], signing: &Signing) -> Result<RawResponse, hyper::Error> {
        let req = Self::build(self.addr, target, body, signing);
        self.send(req).await
    }

    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<RawResponse, hyper::Error> {
        let response = self.sender.send_request(req).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        let body =
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
        Ok(RawResponse { status, body })
    }
}
