//! A plain HTTP client for the registry's `/v2/` API, logged in with a token from
//! GetAuthorizationToken: for the protocol cases docker and skopeo never produce.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{client::conn::http1, HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;

#[derive(Clone)]
pub struct RegistryClient {
    addr: SocketAddr,
    /// The `Authorization` header value, or `None` to send none.
    pub auth: Option<String>,
}

pub struct RegistryResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RegistryResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The first OCI error code of an error response.
    pub fn error_code(&self) -> Option<String> {
        self.json()["errors"][0]["code"].as_str().map(str::to_string)
    }
}

impl RegistryClient {
    /// Logs in with the base64 `authorizationToken` GetAuthorizationToken returned.
    pub fn new(addr: SocketAddr, authorization_token: &str) -> RegistryClient {
        RegistryClient { addr, auth: Some(format!("Basic {authorization_token}")) }
    }

    /// Gets a token for `region` from the server's ECR API and logs in with it.
    pub async fn login(addr: SocketAddr, ecr: &aws_sdk_ecr::Client) -> RegistryClient {
        let out = ecr.get_authorization_token().send().await.expect("GetAuthorizationToken");
        let token = out.authorization_data()[0].authorization_token().expect("a token").to_string();
        RegistryClient::new(addr, &token)
    }

    /// Sends one request on a fresh connection.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> RegistryResponse {
        let stream = tokio::net::TcpStream::connect(self.addr).await.expect("connect");
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(conn);
        let mut builder = Request::builder().method(method).uri(path).header("host", self.addr.to_string());
        if let Some(a) = &self.auth {
            builder = builder.header("authorization", a);
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let req = builder.body(Full::new(body.into())).expect("valid request");
        let response = sender.send_request(req).await.expect("registry request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        RegistryResponse { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> RegistryResponse {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }

    /// Uploads a blob in one POST; returns its digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = digest_of(bytes);
        let r = self
            .send(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
                &[],
                Bytes::copy_from_slice(bytes),
            )
            .await;
        assert_eq!(r.status, 201, "monolithic upload: {}", String::from_utf8_lossy(&r.body));
        digest
    }

    /// Pushes a one-layer OCI image manifest under `reference`; returns (manifest digest, manifest bytes).
    pub async fn push_image(&self, repo: &str, reference: &str, layer: &[u8]) -> (String, Vec<u8>) {
        let config = self.push_blob(repo, b"{}").await;
        let layer_digest = self.push_blob(repo, layer).await;
        let manifest = image_manifest(&config, 2, &[(&layer_digest, layer.len())]);
        let r = self
            .send(
                Method::PUT,
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                manifest.clone(),
            )
            .await;
        assert_eq!(r.status, 201, "manifest push: {}", String::from_utf8_lossy(&r.body));
        (r.header("docker-content-digest").expect("digest header").to_string(), manifest)
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// An OCI image manifest with the given config and layers.
pub fn image_manifest(config: &str, config_size: usize, layers: &[(&str, usize)]) -> Vec<u8> {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(
            |(d, n)| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n}),
        )
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": layers,
    }))
    .unwrap()
}
