//! An in-process berth server on 127.0.0.1:0.

use std::{net::SocketAddr, path::Path, sync::Arc};

use berth_api::{sigv4::Credential, Api, ApiConfig};
use berth_control::Control;
use berth_registry::{Registry, RegistryConfig, TokenKey};
use berth_store::SqliteStore;
use tokio::sync::oneshot;

pub const ACCOUNT: &str = "123456789012";

pub struct TestServer {
    pub addr: SocketAddr,
    pub credential: Credential,
    pub data_dir: tempfile::TempDir,
    pub registry: Registry,
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Starts a server that checks signatures against a fresh credential.
    pub async fn start() -> TestServer {
        Self::start_with(false).await
    }

    pub async fn start_with(accept_any_credentials: bool) -> TestServer {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let credential = Credential {
            access_key_id: "AKIATESTKEY000000000".into(),
            secret_access_key: "test-secret-key-that-is-long-enough-0000".into(),
        };
        let store: Arc<dyn berth_store::Store> = Arc::new(SqliteStore::open(data_dir.path()).expect("open store"));
        let (records, revision) = store.load().expect("load the store");
        let control = Control::open_loaded(store.clone(), &records, revision).expect("load state");
        control.spawn_service_controller(berth_control::ServiceControllerConfig {
            settle: std::time::Duration::from_millis(200),
            interval: std::time::Duration::from_millis(100),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let registry = Registry::open_loaded(
            RegistryConfig {
                data_dir: data_dir.path().to_path_buf(),
                account: ACCOUNT.into(),
                host: addr.to_string(),
                token_key: TokenKey::derive(credential.secret_access_key.as_bytes()),
                gc_grace: std::time::Duration::ZERO,
            },
            store,
            &records,
        )
        .expect("open registry");
        let api = Api::new(
            control,
            registry.clone(),
            ApiConfig { account_id: ACCOUNT.into(), credentials: vec![credential.clone()], accept_any_credentials },
        );
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(berth_api::serve(listener, api, async move {
            let _ = stopped.await;
        }));
        TestServer { addr, credential, data_dir, registry, stop: Some(stop) }
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
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
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
