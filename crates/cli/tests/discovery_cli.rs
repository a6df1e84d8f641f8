//! Cloud Map with the real aws CLIs (v1 from pip, v2 from Debian): every servicediscovery
//! command berth serves and Cloud Map's errors, against `berth server`, with `dig` asking
//! berth's DNS server what the registrations say.

use std::{path::Path, process::Command};

use berth_testkit::{installed_clis, AwsCli, BerthProcess};
use serde_json::Value;

/// `aws servicediscovery` against the server, with the helpers these tests share.
struct Sd<'a>(AwsCli<'a>);

impl<'a> std::ops::Deref for Sd<'a> {
    type Target = AwsCli<'a>;

    fn deref(&self) -> &AwsCli<'a> {
        &self.0
    }
}

impl Sd<'_> {
    /// Runs an asynchronous call and checks its operation succeeded; returns the operation.
    fn operation(&self, args: &[&str]) -> Value {
        let id = self.json(args)["OperationId"].as_str().expect("an OperationId").to_string();
        let op = self.json(&["get-operation", "--operation-id", &id])["Operation"].clone();
        assert_eq!(op["Status"], "SUCCESS", "{op}");
        op
    }

    /// DiscoverInstances: the v2 CLI sends it to `data-localhost` (see scripts/test).
    fn discover(&self, args: &[&str]) -> Value {
        let endpoint = format!("http://localhost:{}", self.server.port());
        let mut full = vec!["servicediscovery", "discover-instances"];
        full.extend_from_slice(args);
        let out = self.server.aws_at(self.cli, &endpoint, "us-east-1", &full);
        assert!(out.status.success(), "discover-instances {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `dig +short` against berth's DNS server, sorted.
fn dig(server: &BerthProcess, args: &[&str]) -> Vec<String> {
    let dns = server.dns_addr();
    let out = Command::new("dig")
        .args([format!("@{}", dns.ip()), "-p".into(), dns.port().to_string(), "+short".into(), "+time=2".into()])
        .args(args)
        .output()
        .expect("dig (bind9-dnsutils) is installed");
    assert!(out.status.success(), "dig {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// The status word of a full `dig` answer (NOERROR, NXDOMAIN, …) and whether the answer
/// was authoritative (berth's own zone).
fn dig_status(server: &BerthProcess, name: &str) -> (String, bool) {
    let dns = server.dns_addr();
    let out = Command::new("dig")
        .args([format!("@{}", dns.ip()), "-p".into(), dns.port().to_string(), name.into()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let status = text.split("status: ").nth(1).and_then(|r| r.split(',').next()).unwrap_or_default().to_string();
    let flags = text.split(";; flags: ").nth(1).and_then(|r| r.split(';').next()).unwrap_or_default();
    (status, flags.split(' ').any(|f| f == "aa"))
}

#[test]
fn every_servicediscovery_command_works_with_both_aws_clis_and_dns_answers_from_it() {
    let clis = installed_clis();
    assert!(!clis.is_empty(), "no aws CLI installed");
    for cli in &clis {
        let dir = tempfile::tempdir().unwrap();
        let server = BerthProcess::start(Path::new(env!("CARGO_BIN_EXE_berth")), dir.path(), 0);
        exercise(&Sd(AwsCli { cli, server: &server, service: "servicediscovery" }), &server);
    }
}

fn exercise(sd: &Sd, server: &BerthProcess) {
    // Namespaces.
    let op = sd.operation(&["create-private-dns-namespace", "--name", "shop.local", "--vpc", "vpc-1"]);
    let ns = op["Targets"]["NAMESPACE"].as_str().unwrap().to_string();
    sd.fails(&["create-private-dns-namespace", "--name", "shop.local", "--vpc", "vpc-1"], "NamespaceAlreadyExists");
    sd.fails(&["create-private-dns-namespace", "--name", "bad..name", "--vpc", "vpc-1"], "InvalidInput");
    sd.operation(&["create-http-namespace", "--name", "apps"]);
    // A CreatorRequestId names one request: a retry gets its operation, another request
    // with it is a DuplicateRequest naming that operation.
    let first = sd.json(&["create-http-namespace", "--name", "jobs", "--creator-request-id", "req-1"]);
    let again = sd.json(&["create-http-namespace", "--name", "jobs", "--creator-request-id", "req-1"]);
    assert_eq!(first["OperationId"], again["OperationId"]);
    let dup =
        sd.fails(&["create-http-namespace", "--name", "other", "--creator-request-id", "req-1"], "DuplicateRequest");
    assert!(dup.contains("namespace jobs"), "{dup}");
    let dns_only = sd.json(&["list-namespaces", "--filters", "Name=TYPE,Values=DNS_PRIVATE,Condition=EQ"]);
    assert_eq!(dns_only["Namespaces"].as_array().unwrap().len(), 1, "{dns_only}");
    sd.operation(&[
        "update-private-dns-namespace",
        "--id",
        &ns,
        "--updater-request-id",
        "u1",
        "--namespace",
        "Description=shop,Properties={DnsProperties={SOA={TTL=30}}}",
    ]);
    let got = sd.json(&["get-namespace", "--id", &ns])["Namespace"].clone();
    assert_eq!(
        (got["Description"].as_str(), got["Properties"]["DnsProperties"]["SOA"]["TTL"].as_i64()),
        (Some("shop"), Some(30))
    );
    sd.fails(&["get-namespace", "--id", "ns-nope"], "NamespaceNotFound");

    // Services.
    let svc = sd.json(&[
        "create-service",
        "--name",
        "api",
        "--namespace-id",
        &ns,
        "--dns-config",
        "RoutingPolicy=MULTIVALUE,DnsRecords=[{Type=A,TTL=5},{Type=SRV,TTL=5}]",
        "--health-check-custom-config",
        "FailureThreshold=1",
    ])["Service"]
        .clone();
    let sid = svc["Id"].as_str().unwrap().to_string();
    assert_eq!(svc["Type"], "DNS_HTTP");
    sd.fails(
        &["create-service", "--name", "api", "--namespace-id", &ns, "--dns-config", "DnsRecords=[{Type=A,TTL=5}]"],
        "ServiceAlreadyExists",
    );
    sd.fails(&["create-service", "--name", "x", "--namespace-id", "ns-nope"], "NamespaceNotFound");
    assert_eq!(sd.json(&["get-service", "--id", &sid])["Service"]["Name"], "api");
    let listed = sd.json(&["list-services", "--filters", &format!("Name=NAMESPACE_ID,Values={ns},Condition=EQ")]);
    assert_eq!(listed["Services"].as_array().unwrap().len(), 1);
    sd.operation(&[
        "update-service",
        "--id",
        &sid,
        "--service",
        "DnsConfig={DnsRecords=[{Type=A,TTL=1},{Type=SRV,TTL=1}]}",
    ]);

    // Instances.
    for (id, ip, zone) in [("t1", "10.0.0.1", "a"), ("t2", "10.0.0.2", "a"), ("t3", "10.0.0.3", "b")] {
        let attributes = format!("AWS_INSTANCE_IPV4={ip},AWS_INSTANCE_PORT=8080,zone={zone}");
        sd.operation(&["register-instance", "--service-id", &sid, "--instance-id", id, "--attributes", &attributes]);
    }
    sd.fails(
        &["register-instance", "--service-id", &sid, "--instance-id", "t4", "--attributes", "zone=a"],
        "InvalidInput",
    );
    let register = |id: &str, creator: &str| {
        vec![
            "register-instance".to_string(),
            "--service-id".into(),
            sid.clone(),
            "--instance-id".into(),
            id.into(),
            "--creator-request-id".into(),
            creator.into(),
            "--attributes".into(),
            "AWS_INSTANCE_IPV4=10.0.0.9,AWS_INSTANCE_PORT=8080,zone=c".into(),
        ]
    };
    let first = sd.json(&strs(&register("t9", "reg-9")));
    assert_eq!(sd.json(&strs(&register("t9", "reg-9")))["OperationId"], first["OperationId"]);
    sd.fails(&strs(&register("t10", "reg-9")), "DuplicateRequest");
    sd.operation(&["deregister-instance", "--service-id", &sid, "--instance-id", "t9"]);
    sd.fails(
        &["register-instance", "--service-id", "srv-nope", "--instance-id", "t4", "--attributes", "a=b"],
        "ServiceNotFound",
    );
    assert_eq!(
        sd.json(&["get-instance", "--service-id", &sid, "--instance-id", "t2"])["Instance"]["Attributes"]["zone"],
        "a"
    );
    sd.fails(&["get-instance", "--service-id", &sid, "--instance-id", "t9"], "InstanceNotFound");
    assert_eq!(sd.json(&["list-instances", "--service-id", &sid])["Instances"].as_array().unwrap().len(), 3);
    sd.json(&[
        "update-instance-custom-health-status",
        "--service-id",
        &sid,
        "--instance-id",
        "t2",
        "--status",
        "UNHEALTHY",
    ]);
    let health = sd.json(&["get-instances-health-status", "--service-id", &sid])["Status"].clone();
    assert_eq!((health["t1"].as_str(), health["t2"].as_str()), (Some("HEALTHY"), Some("UNHEALTHY")));

    let found = sd.discover(&["--namespace-name", "shop.local", "--service-name", "api", "--health-status", "HEALTHY"]);
    let mut ids: Vec<&str> =
        found["Instances"].as_array().unwrap().iter().map(|i| i["InstanceId"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, vec!["t1", "t3"]);
    let in_a =
        sd.discover(&["--namespace-name", "shop.local", "--service-name", "api", "--query-parameters", "zone=a"]);
    assert_eq!(in_a["Instances"].as_array().unwrap().len(), 2, "{in_a}");
    let (ok, out, err) =
        sd.run(&["discover-instances-revision", "--namespace-name", "shop.local", "--service-name", "api"]);
    if ok {
        let revision = found["InstancesRevision"].as_i64().expect("the revision with the instances");
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["InstancesRevision"].as_i64(), Some(revision));
    } else {
        // The v2 CLI of this machine predates revisions (and drops the field).
        assert!(err.contains("Invalid choice") || err.contains("invalid choice"), "{err}");
    }

    // DNS answers what the registrations say: healthy instances only.
    assert_eq!(dig(server, &["api.shop.local", "A"]), vec!["10.0.0.1", "10.0.0.3"]);
    assert_eq!(
        dig(server, &["api.shop.local", "SRV"]),
        vec!["1 1 8080 t1.api.shop.local.", "1 1 8080 t3.api.shop.local."]
    );
    assert_eq!(dig(server, &["t1.api.shop.local", "A"]), vec!["10.0.0.1"]);
    assert_eq!(dig(server, &["+tcp", "shop.local", "SOA"]).len(), 1);
    assert_eq!(dig_status(server, "nothing.shop.local"), ("NXDOMAIN".to_string(), true));
    sd.operation(&["deregister-instance", "--service-id", &sid, "--instance-id", "t3"]);
    assert_eq!(dig(server, &["api.shop.local", "A"]), vec!["10.0.0.1"], "a deregistered instance leaves DNS at once");

    // Tags.
    let arn = svc["Arn"].as_str().unwrap();
    sd.json(&["tag-resource", "--resource-arn", arn, "--tags", "Key=team,Value=web"]);
    assert_eq!(sd.json(&["list-tags-for-resource", "--resource-arn", arn])["Tags"][0]["Key"], "team");
    sd.json(&["untag-resource", "--resource-arn", arn, "--tag-keys", "team"]);
    assert!(sd.json(&["list-tags-for-resource", "--resource-arn", arn])["Tags"].as_array().unwrap().is_empty());
    sd.fails(
        &[
            "list-tags-for-resource",
            "--resource-arn",
            "arn:aws:servicediscovery:us-east-1:000000000000:service/srv-nope",
        ],
        "ResourceNotFoundException",
    );

    // Operations.
    let registrations = sd.json(&["list-operations", "--filters", "Name=TYPE,Values=REGISTER_INSTANCE,Condition=EQ"]);
    // t1, t2, t3 and t9 (its retry made no operation of its own).
    assert_eq!(registrations["Operations"].as_array().unwrap().len(), 4, "{registrations}");

    // ECS sees the namespace.
    let ecs = |args: &[&str]| {
        let out = server.aws(sd.cli, "us-east-1", args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, err) = ecs(&["ecs", "list-services-by-namespace", "--namespace", "shop.local"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["serviceArns"], serde_json::json!([]));
    let (ok, _, err) = ecs(&["ecs", "list-services-by-namespace", "--namespace", "nope.local"]);
    assert!(!ok && err.contains("NamespaceNotFoundException"), "{err}");

    // Deleting: in use until empty.
    sd.fails(&["delete-namespace", "--id", &ns], "ResourceInUse");
    sd.fails(&["delete-service", "--id", &sid], "ResourceInUse");
    for id in ["t1", "t2"] {
        sd.operation(&["deregister-instance", "--service-id", &sid, "--instance-id", id]);
    }
    sd.json(&["delete-service", "--id", &sid]);
    sd.operation(&["delete-namespace", "--id", &ns]);
    sd.fails(&["get-namespace", "--id", &ns], "NamespaceNotFound");
    // A deleted namespace is no longer berth's: the name goes to the host's resolvers.
    assert!(!dig_status(server, "api.shop.local").1, "still answered authoritatively");
}
