//! What a hostile or broken client can no longer do: hold connections open forever, smuggle
//! a body past the framing, leak registry uploads, push a manifest that lies about its
//! layers, register a task definition of megabytes, or use an agent's registry credentials
//! to push, or after its instance is gone.

use std::time::Duration;

use berth_testkit::{digest_of, image_manifest, wait_for, RawClient, RegistryClient, Signing, TestServer};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ECS: &str = "AmazonEC2ContainerServiceV20141113.";

fn signing(server: &TestServer) -> Signing {
    Signing::With {
        credential: server.credential.clone(),
        region: "us-east-1".into(),
        service: "ecs".into(),
        skew_secs: 0,
    }
}

/// Reads until the server closes the connection, or gives up after `limit`.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let until = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed_and_do_not_starve_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = berth_testkit::test_config(dir.path());
    config.connections.header_read_timeout = Duration::from_secs(1);
    config.connections.max_connections = 3;
    let server = TestServer::start_config(dir, config).await;

    // Slow-loris: half a request head, then nothing.
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    // Idle: connected, never a byte. More of them than the connection cap.
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    assert!(closed_within(&mut slow, Duration::from_secs(10)).await, "a half-sent head is cut off");
    // A real request still gets through once the idle ones are reaped.
    let sdk = server.sdk("us-east-1");
    let listed = tokio::time::timeout(Duration::from_secs(20), sdk.list_clusters().send()).await;
    assert!(listed.expect("answered despite idle connections at the cap").is_ok());
    for mut s in idle {
        assert!(closed_within(&mut s, Duration::from_secs(10)).await, "an idle connection is closed");
    }
}

#[tokio::test]
async fn transfer_encodings_other_than_chunked_are_refused() {
    let server = TestServer::start().await;
    for coding in ["gzip, chunked", "identity", "chunked, chunked"] {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let req = format!(
            "POST / HTTP/1.1\r\nhost: {}\r\nx-amz-target: {ECS}ListClusters\r\ntransfer-encoding: {coding}\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n",
            server.addr
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        let head = String::from_utf8_lossy(&out);
        // hyper itself refuses some framings with 400; berth refuses the rest with 501.
        assert!(head.starts_with("HTTP/1.1 501") || head.starts_with("HTTP/1.1 400"), "{coding}: {head}");
        assert!(!head.contains("clusterArns"), "{coding}: the request must not run: {head}");
    }
}

#[tokio::test]
async fn task_definitions_over_64_kib_are_refused_and_nothing_is_kept() {
    let server = TestServer::start().await;
    let big = "x".repeat(70 * 1024);
    let body = serde_json::json!({
        "family": "big",
        "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64,
            "environment": [{"name": "BLOB", "value": big}]}]
    });
    let mut raw = RawClient::connect(server.addr).await.unwrap();
    let r = raw.call(&format!("{ECS}RegisterTaskDefinition"), body.to_string().as_bytes(), &signing(&server)).await;
    let r = r.unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.error_type(), Some("ClientException"));
    assert!(r.body["message"].as_str().unwrap().contains("Max allowed length is '65536' bytes"), "{}", r.body);
    let families = server.sdk("us-east-1").list_task_definition_families().send().await.unwrap();
    assert!(families.families().is_empty());
}

#[tokio::test]
async fn a_json_body_with_trailing_data_is_refused() {
    let server = TestServer::start().await;
    let mut raw = RawClient::connect(server.addr).await.unwrap();
    let body = br#"{"clusterName":"one"}{"clusterName":"two"}"#;
    let r = raw.call(&format!("{ECS}CreateCluster"), body, &signing(&server)).await.unwrap();
    assert_eq!(r.error_type(), Some("ClientException"), "{}", r.body);
    let clusters = server.sdk("us-east-1").list_clusters().send().await.unwrap();
    assert!(clusters.cluster_arns().is_empty());
}

async fn registry(server: &TestServer, repo: &str) -> RegistryClient {
    let ecr = server.ecr("us-east-1");
    ecr.create_repository().repository_name(repo).send().await.unwrap();
    RegistryClient::login(server.addr, &ecr).await
}

fn uploads_on_disk(server: &TestServer) -> usize {
    std::fs::read_dir(server.data_path().join("registry/uploads")).unwrap().count()
}

#[tokio::test]
async fn uploads_that_end_badly_are_discarded() {
    let server = TestServer::start().await;
    let client = registry(&server, "web").await;

    // A monolithic upload with a malformed digest.
    let r = client.send(Method::POST, "/v2/web/blobs/uploads/?digest=sha256:nothex", &[], &b"abc"[..]).await;
    assert_eq!(r.error_code().as_deref(), Some("DIGEST_INVALID"));
    // A chunked upload whose final PUT names a malformed digest.
    let start = client.send(Method::POST, "/v2/web/blobs/uploads/", &[], Bytes::new()).await;
    let location = start.header("location").unwrap().to_string();
    let r = client.send(Method::PUT, &format!("{location}?digest=md5:00"), &[], &b"abc"[..]).await;
    assert_eq!(r.error_code().as_deref(), Some("DIGEST_INVALID"));
    assert_eq!(client.get(&location).await.status, 404, "the upload is gone");

    // A PATCH whose client goes away mid-body.
    let start = client.send(Method::POST, "/v2/web/blobs/uploads/", &[], Bytes::new()).await;
    let location = start.header("location").unwrap().to_string();
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nhost: {}\r\nauthorization: {}\r\ncontent-length: 100000\r\n\r\n",
        server.addr,
        client.auth.as_deref().unwrap()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[7u8; 1000]).await.unwrap();
    drop(s);

    wait_for("every upload to be discarded", Duration::from_secs(10), async || {
        let (open, files) = (server.registry.open_uploads(), uploads_on_disk(&server));
        if open == 0 && files == 0 {
            Ok(())
        } else {
            Err(format!("{open} open uploads, {files} upload files"))
        }
    })
    .await;
}

#[tokio::test]
async fn idle_uploads_expire_and_open_uploads_are_capped() {
    let server = TestServer::start().await;
    let client = registry(&server, "web").await;
    for _ in 0..berth_registry::dist::MAX_OPEN_UPLOADS {
        assert_eq!(client.send(Method::POST, "/v2/web/blobs/uploads/", &[], Bytes::new()).await.status, 202);
    }
    let r = client.send(Method::POST, "/v2/web/blobs/uploads/", &[], Bytes::new()).await;
    assert_eq!((r.status, r.error_code().as_deref()), (429, Some("TOOMANYREQUESTS")));
    assert_eq!(server.registry.expire_uploads(Duration::from_secs(3600)).await, 0, "none is idle yet");
    assert_eq!(server.registry.expire_uploads(Duration::ZERO).await, berth_registry::dist::MAX_OPEN_UPLOADS);
    assert_eq!((server.registry.open_uploads(), uploads_on_disk(&server)), (0, 0));
    assert_eq!(client.send(Method::POST, "/v2/web/blobs/uploads/", &[], Bytes::new()).await.status, 202);
}

#[tokio::test]
async fn a_manifest_must_state_its_layers_true_sizes() {
    let server = TestServer::start().await;
    let client = registry(&server, "web").await;
    let config = client.push_blob("web", b"{}").await;
    let layer = client.push_blob("web", b"layer bytes").await;
    let lying = image_manifest(&config, 2, &[(&layer, 5)]);
    let headers = [("content-type", "application/vnd.oci.image.manifest.v1+json")];
    let r = client.send(Method::PUT, "/v2/web/manifests/v1", &headers, lying).await;
    assert_eq!((r.status, r.error_code().as_deref()), (400, Some("MANIFEST_INVALID")));
    assert_eq!(client.get("/v2/web/manifests/v1").await.status, 404);
    let honest = image_manifest(&config, 2, &[(&layer, 11)]);
    assert_eq!(client.send(Method::PUT, "/v2/web/manifests/v1", &headers, honest).await.status, 201);
}

#[tokio::test]
async fn deleting_a_manifest_collects_its_blobs() {
    let server = TestServer::start().await;
    let client = registry(&server, "web").await;
    let (digest, _) = client.push_image("web", "v1", b"only this image uses me").await;
    let layer = digest_of(b"only this image uses me");
    let path = server.data_path().join("registry/blobs/sha256").join(layer.trim_start_matches("sha256:"));
    assert!(path.is_file());
    assert_eq!(
        client.send(Method::DELETE, &format!("/v2/web/manifests/{digest}"), &[], Bytes::new()).await.status,
        202
    );
    wait_for("the layer to be collected", Duration::from_secs(10), async || {
        if path.exists() {
            Err("still on disk".into())
        } else {
            Ok(())
        }
    })
    .await;
}

/// Registers a container instance as an agent does; returns its ARN and agent token.
async fn register_agent(server: &TestServer) -> (String, String) {
    server.sdk("us-east-1").create_cluster().cluster_name("default").send().await.unwrap();
    let body = serde_json::json!({"cluster": "default", "totalResources": [
        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 1024}]});
    let req = RawClient::build(
        server.addr,
        &format!("{ECS}RegisterContainerInstance"),
        body.to_string().as_bytes(),
        &signing(server),
    );
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(req).await.unwrap();
    let token = response.headers()["x-berth-agent-token"].to_str().unwrap().to_string();
    let json: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    (json["containerInstance"]["containerInstanceArn"].as_str().unwrap().to_string(), token)
}

#[tokio::test]
async fn agents_get_pull_only_registry_credentials_revoked_with_their_instance() {
    let server = TestServer::start().await;
    let full = registry(&server, "web").await;
    full.push_image("web", "v1", b"layer").await;
    let (arn, token) = register_agent(&server).await;

    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let poll = hyper::Request::post("/")
        .header("host", server.addr.to_string())
        .header("authorization", format!("Bearer {token}"))
        .header("x-amz-target", "BerthAgentV1.PollDesiredTasks")
        .body(Full::new(Bytes::from_static(b"{\"version\":0,\"waitMillis\":0}")))
        .unwrap();
    let answer = sender.send_request(poll).await.unwrap();
    let answer: serde_json::Value =
        serde_json::from_slice(&answer.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let password = answer["registryAuth"]["password"].as_str().expect("registry credentials").to_string();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    let agent = RegistryClient::new(server.addr, &basic);

    assert_eq!(agent.get("/v2/web/manifests/v1").await.status, 200, "an agent can pull");
    let r = agent.send(Method::POST, "/v2/web/blobs/uploads/", &[], Bytes::new()).await;
    assert_eq!((r.status, r.error_code().as_deref()), (403, Some("DENIED")), "but not push");
    let r = agent.send(Method::DELETE, "/v2/web/manifests/v1", &[], Bytes::new()).await;
    assert_eq!(r.status, 403, "nor delete");
    assert_eq!(full.get("/v2/web/manifests/v1").await.status, 200);

    let sdk = server.sdk("us-east-1");
    sdk.deregister_container_instance().cluster("default").container_instance(&arn).force(true).send().await.unwrap();
    let r = agent.get("/v2/web/manifests/v1").await;
    assert_eq!(r.status, 401, "revoked with the instance");
}
