//! The registry's OCI distribution API over HTTP, against an in-process server: login,
//! uploads (monolithic, chunked, resumable status), range reads, manifests, tags,
//! catalog, referrers, mounts, and every refusal leaving nothing behind.

use berth_testkit::{digest_of, image_manifest, RegistryClient, TestServer};
use hyper::Method;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

async fn setup(repos: &[&str]) -> (TestServer, RegistryClient) {
    let server = TestServer::start().await;
    let ecr = server.ecr("us-east-1");
    for r in repos {
        ecr.create_repository().repository_name(*r).send().await.unwrap();
    }
    let client = RegistryClient::login(server.addr, &ecr).await;
    (server, client)
}

fn uploads_left(server: &TestServer) -> usize {
    std::fs::read_dir(server.data_path().join("registry/uploads")).unwrap().count()
}

#[tokio::test]
async fn every_request_needs_a_valid_token() {
    let (server, mut client) = setup(&["web"]).await;
    let ok = client.get("/v2/").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("docker-distribution-api-version"), Some("registry/2.0"));

    client.auth = None;
    let r = client.get("/v2/").await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic realm="), "docker needs a Basic challenge");
    assert_eq!(r.error_code().as_deref(), Some("UNAUTHORIZED"));

    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for bad in [b64("AWS:berth1.us-east-1.99999999999.00"), b64("AWS:not-a-token"), b64("bob:whatever")] {
        client.auth = Some(format!("Basic {bad}"));
        assert_eq!(client.get("/v2/web/tags/list").await.status, 401, "{bad}");
    }
    // A token from another server's secret is refused, an expired one too.
    let other = berth_registry::TokenKey::derive(b"someone else").authorization_token("us-east-1", u64::MAX / 2);
    client.auth = Some(format!("Basic {other}"));
    assert_eq!(client.get("/v2/").await.status, 401);
    let key = berth_registry::TokenKey::derive(server.credential.secret_access_key.as_bytes());
    client.auth = Some(format!("Basic {}", key.authorization_token("us-east-1", 1)));
    let r = client.get("/v2/").await;
    assert_eq!(r.status, 401);
    assert!(String::from_utf8_lossy(&r.body).contains("expired"));

    // The token's region is the registry's namespace: eu-west-1 sees no `web`.
    let eu = RegistryClient::login(server.addr, &server.ecr("eu-west-1")).await;
    assert_eq!(eu.get("/v2/_catalog").await.json()["repositories"], serde_json::json!([]));
    assert_eq!(eu.get("/v2/web/tags/list").await.error_code().as_deref(), Some("NAME_UNKNOWN"));
}

#[tokio::test]
async fn chunked_upload_with_status_then_range_reads() {
    let (server, client) = setup(&["web"]).await;
    let blob = b"0123456789abcdefghij";
    let digest = digest_of(blob);
    let start = client.send(Method::POST, "/v2/web/blobs/uploads/", &[], Vec::new()).await;
    assert_eq!(start.status, 202);
    let location = start.header("location").unwrap().to_string();
    assert!(location.starts_with("/v2/web/blobs/uploads/"));

    let r = client.send(Method::PATCH, &location, &[("content-range", "0-9")], blob[..10].to_vec()).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.header("range"), Some("0-9"));
    let status = client.get(&location).await;
    assert_eq!(status.status, 204);
    assert_eq!(status.header("range"), Some("0-9"), "a client resumes from the reported range");

    // A chunk that does not continue where the upload ends is refused and changes nothing.
    let r = client.send(Method::PATCH, &location, &[("content-range", "5-9")], blob[5..10].to_vec()).await;
    assert_eq!(r.status, 416);
    assert_eq!(r.error_code().as_deref(), Some("BLOB_UPLOAD_INVALID"));
    assert_eq!(client.get(&location).await.header("range"), Some("0-9"));

    let r = client.send(Method::PATCH, &location, &[("content-range", "10-14")], blob[10..15].to_vec()).await;
    assert_eq!(r.header("range"), Some("0-14"));
    // The last chunk rides on the closing PUT.
    let r = client.send(Method::PUT, &format!("{location}?digest={digest}"), &[], blob[15..].to_vec()).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(r.header("location").unwrap(), format!("/v2/web/blobs/{digest}"));
    assert_eq!(client.get(&location).await.error_code().as_deref(), Some("BLOB_UPLOAD_UNKNOWN"));

    let whole = client.get(&format!("/v2/web/blobs/{digest}")).await;
    assert_eq!(whole.status, 200);
    assert_eq!(&whole.body[..], blob);
    let head = client.send(Method::HEAD, &format!("/v2/web/blobs/{digest}"), &[], Vec::new()).await;
    assert_eq!(head.header("content-length"), Some("20"));
    assert!(head.body.is_empty());
    let part =
        client.send(Method::GET, &format!("/v2/web/blobs/{digest}"), &[("range", "bytes=3-7")], Vec::new()).await;
    assert_eq!(part.status, 206);
    assert_eq!(&part.body[..], b"34567");
    assert_eq!(part.header("content-range"), Some("bytes 3-7/20"));
    let tail = client.send(Method::GET, &format!("/v2/web/blobs/{digest}"), &[("range", "bytes=-4")], Vec::new()).await;
    assert_eq!(&tail.body[..], b"ghij");
    let beyond =
        client.send(Method::GET, &format!("/v2/web/blobs/{digest}"), &[("range", "bytes=20-")], Vec::new()).await;
    assert_eq!(beyond.status, 416);

    // A cancelled upload leaves no file behind.
    let start = client.send(Method::POST, "/v2/web/blobs/uploads/", &[], Vec::new()).await;
    let loc = start.header("location").unwrap().to_string();
    client.send(Method::PATCH, &loc, &[], b"partial".to_vec()).await;
    assert_eq!(client.send(Method::DELETE, &loc, &[], Vec::new()).await.status, 204);
    assert_eq!(uploads_left(&server), 0);
}

#[tokio::test]
async fn refusals_store_nothing() {
    let (server, client) = setup(&["web"]).await;
    let ecr = server.ecr("us-east-1");

    // Bytes that do not match the digest the client claims.
    let wrong = digest_of(b"something else");
    let r =
        client.send(Method::POST, &format!("/v2/web/blobs/uploads/?digest={wrong}"), &[], b"payload".to_vec()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code().as_deref(), Some("DIGEST_INVALID"));
    for d in [&wrong, &digest_of(b"payload")] {
        assert_eq!(client.send(Method::HEAD, &format!("/v2/web/blobs/{d}"), &[], Vec::new()).await.status, 404);
        assert!(!server.registry.blob_stored(d));
    }
    assert_eq!(uploads_left(&server), 0);

    // A manifest naming a blob the repository does not have.
    let config = client.push_blob("web", b"{}").await;
    let missing = digest_of(b"never uploaded");
    let manifest = image_manifest(&config, 2, &[(&missing, 14)]);
    let ct = [("content-type", OCI_MANIFEST)];
    let r = client.send(Method::PUT, "/v2/web/manifests/v1", &ct, manifest).await;
    assert_eq!(r.error_code().as_deref(), Some("MANIFEST_BLOB_UNKNOWN"));
    assert!(String::from_utf8_lossy(&r.body).contains(&missing));

    // A manifest pushed by a digest that is not its own.
    let ok_manifest = image_manifest(&config, 2, &[]);
    let r = client.send(Method::PUT, &format!("/v2/web/manifests/{wrong}"), &ct, ok_manifest.clone()).await;
    assert_eq!(r.error_code().as_deref(), Some("DIGEST_INVALID"));
    // Malformed, oversized, an unknown repository, a bad tag.
    let r = client.send(Method::PUT, "/v2/web/manifests/v1", &ct, b"{not json".to_vec()).await;
    assert_eq!(r.error_code().as_deref(), Some("MANIFEST_INVALID"));
    let r = client.send(Method::PUT, "/v2/web/manifests/v1", &ct, vec![b' '; (4 << 20) + 1]).await;
    assert_eq!(r.status, 413);
    let r = client.send(Method::PUT, "/v2/nope/manifests/v1", &ct, ok_manifest.clone()).await;
    assert_eq!(r.error_code().as_deref(), Some("NAME_UNKNOWN"));
    let r = client.send(Method::PUT, "/v2/web/manifests/.bad", &ct, ok_manifest).await;
    assert_eq!(r.error_code().as_deref(), Some("TAG_INVALID"));
    let r = client.send(Method::POST, "/v2/nope/blobs/uploads/", &[], Vec::new()).await;
    assert_eq!(r.error_code().as_deref(), Some("NAME_UNKNOWN"));

    let images = ecr.describe_images().repository_name("web").send().await.unwrap();
    assert!(images.image_details().is_empty(), "no refused manifest was stored");
    assert_eq!(client.get("/v2/web/tags/list").await.json()["tags"], serde_json::json!([]));
}

#[tokio::test]
async fn manifests_tags_catalog_and_referrers() {
    let (_server, client) = setup(&["web", "app", "zz"]).await;
    let (digest, manifest) = client.push_image("web", "v1", b"layer one").await;
    assert_eq!(digest, digest_of(&manifest));
    for reference in ["v1", digest.as_str()] {
        let r = client.get(&format!("/v2/web/manifests/{reference}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..], &manifest[..], "the manifest comes back byte for byte");
        assert_eq!(r.header("content-type"), Some(OCI_MANIFEST));
        assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    }
    let head = client.send(Method::HEAD, "/v2/web/manifests/v1", &[], Vec::new()).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length").unwrap(), manifest.len().to_string());
    let r = client
        .send(
            Method::GET,
            "/v2/web/manifests/v1",
            &[("accept", "application/vnd.docker.distribution.manifest.v2+json")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 404, "an OCI manifest is not served to a client that only accepts Docker's type");
    let r = client
        .send(Method::GET, "/v2/web/manifests/v1", &[("accept", &format!("{OCI_INDEX}, {OCI_MANIFEST}"))], Vec::new())
        .await;
    assert_eq!(r.status, 200);

    // Tags, paginated with a Link header.
    for t in ["v2", "v3"] {
        let r = client
            .send(Method::PUT, &format!("/v2/web/manifests/{t}"), &[("content-type", OCI_MANIFEST)], manifest.clone())
            .await;
        assert_eq!(r.status, 201);
    }
    let page = client.get("/v2/web/tags/list?n=2").await;
    assert_eq!(page.json(), serde_json::json!({"name": "web", "tags": ["v1", "v2"]}));
    assert_eq!(page.header("link"), Some("</v2/web/tags/list?n=2&last=v2>; rel=\"next\""));
    let next = client.get("/v2/web/tags/list?n=2&last=v2").await;
    assert_eq!(next.json()["tags"], serde_json::json!(["v3"]));
    assert!(next.header("link").is_none());
    let catalog = client.get("/v2/_catalog?n=2").await;
    assert_eq!(catalog.json()["repositories"], serde_json::json!(["app", "web"]));
    assert_eq!(client.get("/v2/_catalog?last=web").await.json()["repositories"], serde_json::json!(["zz"]));

    // An artifact whose subject is the image shows up among its referrers.
    let config = client.push_blob("web", b"{}").await;
    let artifact = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": manifest.len()},
        "annotations": {"org.example": "yes"}
    }))
    .unwrap();
    let artifact_digest = digest_of(&artifact);
    let r = client
        .send(
            Method::PUT,
            &format!("/v2/web/manifests/{artifact_digest}"),
            &[("content-type", OCI_MANIFEST)],
            artifact.clone(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("oci-subject"), Some(digest.as_str()));
    let refs = client.get(&format!("/v2/web/referrers/{digest}")).await;
    assert_eq!(refs.header("content-type"), Some(OCI_INDEX));
    let list = refs.json()["manifests"].clone();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["digest"], artifact_digest.as_str());
    assert_eq!(list[0]["artifactType"], "application/vnd.example.sbom");
    assert_eq!(list[0]["size"], artifact.len());
    let filtered = client.get(&format!("/v2/web/referrers/{digest}?artifactType=application/other")).await;
    assert_eq!(filtered.json()["manifests"], serde_json::json!([]));
    assert_eq!(filtered.header("oci-filters-applied"), Some("artifactType"));

    // An index: refused while a child is missing, accepted once present; the child then
    // cannot be deleted from under it.
    let index = |children: &[&str]| {
        let m: Vec<_> =
            children.iter().map(|d| serde_json::json!({"mediaType": OCI_MANIFEST, "digest": d, "size": 10})).collect();
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": m})).unwrap()
    };
    let absent = digest_of(b"no such manifest");
    let r =
        client.send(Method::PUT, "/v2/web/manifests/multi", &[("content-type", OCI_INDEX)], index(&[&absent])).await;
    assert_eq!(r.error_code().as_deref(), Some("MANIFEST_BLOB_UNKNOWN"));
    let r =
        client.send(Method::PUT, "/v2/web/manifests/multi", &[("content-type", OCI_INDEX)], index(&[&digest])).await;
    assert_eq!(r.status, 201);
    let r = client.send(Method::DELETE, &format!("/v2/web/manifests/{digest}"), &[], Vec::new()).await;
    assert_eq!(r.status, 405);

    // Deleting by tag removes the tag; by digest, the image with its tags.
    assert_eq!(client.send(Method::DELETE, "/v2/web/manifests/multi", &[], Vec::new()).await.status, 202);
    assert_eq!(client.get("/v2/web/manifests/multi").await.error_code().as_deref(), Some("MANIFEST_UNKNOWN"));
    let index_digest = digest_of(&index(&[&digest]));
    assert_eq!(
        client.send(Method::DELETE, &format!("/v2/web/manifests/{index_digest}"), &[], Vec::new()).await.status,
        202
    );
    assert_eq!(client.send(Method::DELETE, &format!("/v2/web/manifests/{digest}"), &[], Vec::new()).await.status, 202);
    assert_eq!(client.get("/v2/web/manifests/v1").await.status, 404);
    assert_eq!(client.get("/v2/web/tags/list").await.json()["tags"], serde_json::json!([]));
}

#[tokio::test]
async fn blobs_mount_across_repositories_without_reupload() {
    let (server, client) = setup(&["web", "copy", "other"]).await;
    let digest = client.push_blob("web", b"shared layer").await;
    assert_eq!(client.get(&format!("/v2/copy/blobs/{digest}")).await.status, 404, "blobs are per repository");
    let r =
        client.send(Method::POST, &format!("/v2/copy/blobs/uploads/?mount={digest}&from=web"), &[], Vec::new()).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("location").unwrap(), format!("/v2/copy/blobs/{digest}"));
    assert_eq!(&client.get(&format!("/v2/copy/blobs/{digest}")).await.body[..], b"shared layer");
    // Mounting from a repository that lacks the blob falls back to a normal upload.
    let r =
        client.send(Method::POST, &format!("/v2/web/blobs/uploads/?mount={digest}&from=other"), &[], Vec::new()).await;
    assert_eq!(r.status, 201, "web already has it");
    let r = client
        .send(Method::POST, &format!("/v2/other/blobs/uploads/?mount={}&from=web", digest_of(b"x")), &[], Vec::new())
        .await;
    assert_eq!(r.status, 202);
    let _ = server;
}
