//! An in-process berth server on 127.0.0.1:0: the same [`berth_server::Server`] the
//! binary runs (every controller included), in a temporary data directory.

use std::{net::SocketAddr, path::Path, time::Duration};

use berth_api::sigv4::Credential;
use berth_registry::Registry;
use berth_server::{Server, ServerConfig};

pub const ACCOUNT: &str = "123456789012";

pub struct TestServer {
    pub addr: SocketAddr,
    pub credential: Credential,
    pub registry: Registry,
    server: Server,
    // Dropped after the server, which holds a lock inside it.
    pub data_dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server that checks signatures against a fresh credential.
    pub async fn start() -> TestServer {
        Self::start_with(false).await
    }

    pub async fn start_with(accept_any_credentials: bool) -> TestServer {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(data_dir.path());
        config.accept_any_credentials = accept_any_credentials;
        Self::start_config(data_dir, config).await
    }

    /// Starts a server with `config` (see [`test_config`]) in `data_dir`.
    pub async fn start_config(data_dir: tempfile::TempDir, config: ServerConfig) -> TestServer {
        let credential = config.credentials[0].clone();
        let server = Server::start(config).await.expect("start the server");
        TestServer { addr: server.addr(), credential, registry: server.registry().clone(), server, data_dir }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An ECS client for `region` signing with the server's credential.
    pub fn sdk(&self, region: &str) -> aws_sdk_ecs::Client {
        sdk_client(&self.endpoint(), &self.credential, region)
    }

    pub fn data_path(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn control(&self) -> &berth_control::Control {
        self.server.control()
    }
}

/// The test server's configuration: a fixed credential, quick controller passes, and
/// registry blobs collected as soon as nothing references them.
pub fn test_config(data_dir: &Path) -> ServerConfig {
    let credential = Credential {
        access_key_id: "AKIATESTKEY000000000".into(),
        secret_access_key: "test-secret-key-that-is-long-enough-0000".into(),
    };
    let mut config = ServerConfig::new(([127, 0, 0, 1], 0).into(), data_dir.to_path_buf(), credential);
    config.account_id = ACCOUNT.into();
    config.registry_gc_grace = Duration::ZERO;
    config.service_controller = berth_control::ServiceControllerConfig {
        settle: Duration::from_millis(200),
        interval: Duration::from_millis(100),
        ..Default::default()
    };
    // Each test server answers DNS on a free loopback port of its own.
    config.dns_listen = Some(([127, 0, 0, 1], 0).into());
    config
}

/// Builds a client of one AWS SDK crate for a berth endpoint: plain HTTP, static
/// credentials, no retries (so errors surface).
macro_rules! berth_sdk_client {
    ($sdk:ident, $endpoint:expr, $credential:expr, $region:expr) => {{
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .endpoint_url($endpoint)
            .region($sdk::config::Region::new($region.to_string()))
            .credentials_provider($sdk::config::Credentials::new(
                $credential.access_key_id.clone(),
                $credential.secret_access_key.clone(),
                None,
                None,
                "berth-test",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config($sdk::config::retry::RetryConfig::disabled())
            .build();
        $sdk::Client::from_conf(config)
    }};
}

/// An ECS SDK client for any berth endpoint.
pub fn sdk_client(endpoint: &str, credential: &Credential, region: &str) -> aws_sdk_ecs::Client {
    berth_sdk_client!(aws_sdk_ecs, endpoint, credential, region)
}

/// An ECR SDK client for any berth endpoint.
pub fn ecr_client(endpoint: &str, credential: &Credential, region: &str) -> aws_sdk_ecr::Client {
    berth_sdk_client!(aws_sdk_ecr, endpoint, credential, region)
}

impl TestServer {
    /// An ECR client for `region` signing with the server's credential.
    pub fn ecr(&self, region: &str) -> aws_sdk_ecr::Client {
        ecr_client(&self.endpoint(), &self.credential, region)
    }
}
