//! The wire protocol: SigV4 refusals, unknown operations, malformed bodies. Each refusal
//! is checked to have changed nothing.

use berth_testkit::{RawClient, Signing, TestServer};

const CREATE: &str = "AmazonEC2ContainerServiceV20141113.CreateCluster";
const LIST: &str = "AmazonEC2ContainerServiceV20141113.ListClusters";

fn signing(server: &TestServer, skew_secs: i64) -> Signing {
    Signing::With {
        credential: server.credential.clone(),
        region: "us-east-1".into(),
        service: "ecs".into(),
        skew_secs,
    }
}

async fn cluster_count(server: &TestServer) -> usize {
    server.sdk("us-east-1").list_clusters().send().await.unwrap().cluster_arns().len()
}

#[tokio::test]
async fn bad_signatures_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let mut raw = RawClient::connect(server.addr).await.unwrap();
    let body = br#"{"clusterName":"web"}"#;

    let unsigned = raw.call(CREATE, body, &Signing::None).await.unwrap();
    assert_eq!((unsigned.status, unsigned.error_type()), (403, Some("MissingAuthenticationTokenException")));

    let mut wrong = server.credential.clone();
    wrong.secret_access_key = "not-the-secret".into();
    let wrong_secret =
        Signing::With { credential: wrong, region: "us-east-1".into(), service: "ecs".into(), skew_secs: 0 };
    let r = raw.call(CREATE, body, &wrong_secret).await.unwrap();
    assert_eq!((r.status, r.error_type()), (400, Some("InvalidSignatureException")));

    let mut unknown = server.credential.clone();
    unknown.access_key_id = "AKIAUNKNOWN000000000".into();
    let r = raw
        .call(
            CREATE,
            body,
            &Signing::With { credential: unknown, region: "us-east-1".into(), service: "ecs".into(), skew_secs: 0 },
        )
        .await
        .unwrap();
    assert_eq!(r.error_type(), Some("UnrecognizedClientException"));

    let stale = raw.call(CREATE, body, &signing(&server, -20 * 60)).await.unwrap();
    assert_eq!(stale.error_type(), Some("InvalidSignatureException"));
    assert!(stale.body["message"].as_str().unwrap().contains("Signature expired"), "{:?}", stale.body);

    let wrong_service = Signing::With {
        credential: server.credential.clone(),
        region: "us-east-1".into(),
        service: "s3".into(),
        skew_secs: 0,
    };
    let r = raw.call(CREATE, body, &wrong_service).await.unwrap();
    assert_eq!(r.error_type(), Some("InvalidSignatureException"));

    // A body changed after signing no longer matches its signature.
    let mut req = RawClient::build(server.addr, CREATE, body, &signing(&server, 0));
    *req.body_mut() = http_body_util::Full::new(bytes_of(br#"{"clusterName":"evil"}"#));
    let r = raw.send(req).await.unwrap();
    assert_eq!(r.error_type(), Some("InvalidSignatureException"));

    assert_eq!(cluster_count(&server).await, 0, "no refused request created anything");
    // Within the allowed skew the same request is accepted.
    let ok = raw.call(CREATE, body, &signing(&server, -10 * 60)).await.unwrap();
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(cluster_count(&server).await, 1);
}

fn bytes_of(b: &'static [u8]) -> bytes::Bytes {
    bytes::Bytes::from_static(b)
}

#[tokio::test]
async fn insecure_mode_accepts_any_secret_but_still_needs_a_signature() {
    let server = TestServer::start_with(true).await;
    let mut raw = RawClient::connect(server.addr).await.unwrap();
    let mut dummy = server.credential.clone();
    dummy.access_key_id = "test".into();
    dummy.secret_access_key = "test".into();
    let r = raw
        .call(
            LIST,
            b"{}",
            &Signing::With { credential: dummy, region: "eu-west-1".into(), service: "ecs".into(), skew_secs: 0 },
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let unsigned = raw.call(LIST, b"{}", &Signing::None).await.unwrap();
    assert_eq!(unsigned.error_type(), Some("MissingAuthenticationTokenException"));
}

#[tokio::test]
async fn unknown_operations_and_malformed_bodies() {
    let server = TestServer::start().await;
    let mut raw = RawClient::connect(server.addr).await.unwrap();
    let s = signing(&server, 0);

    let r = raw.call("AmazonEC2ContainerServiceV20141113.LaunchRockets", b"{}", &s).await.unwrap();
    assert_eq!((r.status, r.error_type()), (400, Some("UnknownOperationException")));
    let r = raw.call("SomeOtherService.DoThing", b"{}", &s).await.unwrap();
    assert_eq!((r.status, r.error_type()), (400, Some("UnknownOperationException")));

    let r = raw.call(CREATE, b"{\"clusterName\": ", &s).await.unwrap();
    assert_eq!((r.status, r.error_type()), (400, Some("ClientException")));
    let r = raw.call(CREATE, br#"{"clusterName": 42}"#, &s).await.unwrap();
    assert_eq!(r.error_type(), Some("ClientException"));
    assert!(r.body["message"].as_str().unwrap().contains("clusterName"), "{:?}", r.body);

    let register = "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition";
    let r = raw.call(register, br#"{"containerDefinitions":[]}"#, &s).await.unwrap();
    assert_eq!(r.error_type(), Some("ClientException"));
    let r = raw
        .call(register, br#"{"family":"web","containerDefinitions":[{"name":"a","image":"x","memory":"lots"}]}"#, &s)
        .await
        .unwrap();
    assert_eq!(r.error_type(), Some("ClientException"));
    assert!(r.body["message"].as_str().unwrap().contains("containerDefinitions[0].memory"), "{:?}", r.body);
    let describe = "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition";
    let r = raw.call(describe, b"{}", &s).await.unwrap();
    assert_eq!(r.error_type(), Some("InvalidParameterException"));

    assert_eq!(cluster_count(&server).await, 0);
    let families = server.sdk("us-east-1").list_task_definition_families().send().await.unwrap();
    assert!(families.families().is_empty());
}
