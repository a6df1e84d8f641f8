//! The ELBv2 API with the real aws CLIs (v1 from pip and v2 from Debian): every command
//! berth serves, ELB's errors, and the waiters — against `berth server`, with a backend in
//! the test process as an `ip` target so health checks really run.

mod lb_support;

use std::time::Duration;

use lb_support::{first_cli, free_port, get, installed_clis, Backend, Elb, LbServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_elbv2_command_works_with_both_aws_clis() {
    let backend = Backend::start("b1", Duration::ZERO).await;
    for cli in installed_clis() {
        let server = LbServer::start();
        let elb = server.elb(&cli);
        exercise(&elb, &backend).await;
    }
}

/// Whether an attributes answer holds `key` = `value`.
fn has_attribute(answer: &serde_json::Value, key: &str, value: &str) -> bool {
    answer["Attributes"].as_array().unwrap().iter().any(|a| a["Key"] == key && a["Value"] == value)
}

async fn exercise(elb: &Elb<'_>, backend: &Backend) {
    // Load balancers.
    let lb = elb.load_balancer("web", "application");
    let nlb = elb.load_balancer("tcp", "network");
    let v = elb.json(&["describe-load-balancers", "--names", "web"]);
    let described = &v["LoadBalancers"][0];
    assert_eq!(described["Type"], "application");
    assert_eq!(described["State"]["Code"], "active");
    // The DNS name resolves to the host that serves the listener (loopback here).
    let dns = described["DNSName"].as_str().unwrap();
    let resolved: Vec<_> = std::net::ToSocketAddrs::to_socket_addrs(&(dns, 80)).unwrap().collect();
    assert!(!resolved.is_empty() && resolved.iter().all(|a| a.ip().is_loopback()), "{dns}: {resolved:?}");
    assert_eq!(elb.json(&["describe-load-balancers"])["LoadBalancers"].as_array().unwrap().len(), 2);
    elb.json(&["wait", "load-balancer-available", "--load-balancer-arns", &lb]);
    elb.fails(&["describe-load-balancers", "--names", "nope"], "LoadBalancerNotFound");
    elb.fails(&["create-load-balancer", "--name", "web", "--type", "network"], "DuplicateLoadBalancerName");
    elb.fails(&["create-load-balancer", "--name=bad_name"], "ValidationError");
    let attrs = elb.json(&[
        "modify-load-balancer-attributes",
        "--load-balancer-arn",
        &lb,
        "--attributes",
        "Key=idle_timeout.timeout_seconds,Value=30",
    ]);
    assert!(has_attribute(&attrs, "idle_timeout.timeout_seconds", "30"), "{attrs}");
    elb.fails(
        &[
            "modify-load-balancer-attributes",
            "--load-balancer-arn",
            &lb,
            "--attributes",
            "Key=idle_timeout.timeout_seconds,Value=0",
        ],
        "ValidationError",
    );
    let attrs = elb.json(&["describe-load-balancer-attributes", "--load-balancer-arn", &lb]);
    assert!(attrs["Attributes"].as_array().unwrap().iter().any(|a| a["Key"] == "deletion_protection.enabled"));

    // Target groups.
    let tg = elb.target_group(
        "web",
        &[
            "--protocol",
            "HTTP",
            "--port",
            "8080",
            "--target-type",
            "ip",
            "--health-check-path",
            "/health",
            "--health-check-interval-seconds",
            "5",
            "--healthy-threshold-count",
            "2",
        ],
    );
    let other = elb.target_group("other", &["--protocol", "HTTP", "--port", "80", "--target-type", "ip"]);
    let tcp_tg = elb.target_group("tcp", &["--protocol", "TCP", "--port", "80", "--target-type", "ip"]);
    let v = elb.json(&["describe-target-groups", "--names", "web"]);
    let described = &v["TargetGroups"][0];
    assert_eq!(described["HealthCheckPath"], "/health");
    assert_eq!(described["HealthCheckIntervalSeconds"], 5);
    assert_eq!(described["HealthyThresholdCount"], 2);
    assert_eq!(described["Matcher"]["HttpCode"], "200");
    elb.fails(&["describe-target-groups", "--names", "nope"], "TargetGroupNotFound");
    elb.fails(
        &[
            "create-target-group",
            "--name",
            "bad",
            "--protocol",
            "HTTP",
            "--port",
            "80",
            "--health-check-interval-seconds",
            "5",
            "--health-check-timeout-seconds",
            "10",
        ],
        "ValidationError",
    );
    let v = elb.json(&[
        "modify-target-group",
        "--target-group-arn",
        &other,
        "--health-check-path",
        "/ping",
        "--matcher",
        "HttpCode=200-299",
    ]);
    assert_eq!(v["TargetGroups"][0]["HealthCheckPath"], "/ping");
    let v = elb.json(&[
        "modify-target-group-attributes",
        "--target-group-arn",
        &tg,
        "--attributes",
        "Key=deregistration_delay.timeout_seconds,Value=5",
        "Key=load_balancing.algorithm.type,Value=least_outstanding_requests",
    ]);
    assert!(has_attribute(&v, "deregistration_delay.timeout_seconds", "5"), "{v}");
    elb.fails(
        &[
            "modify-target-group-attributes",
            "--target-group-arn",
            &tg,
            "--attributes",
            "Key=load_balancing.algorithm.type,Value=fastest",
        ],
        "ValidationError",
    );
    let v = elb.json(&["describe-target-group-attributes", "--target-group-arn", &tg]);
    assert!(has_attribute(&v, "stickiness.enabled", "false"), "{v}");

    // Listeners and rules.
    let port = free_port();
    let listener = elb.listener(&lb, "HTTP", port, &tg);
    let again = Elb::listener_args(&lb, "HTTP", port, &tg);
    elb.fails(&again.iter().map(String::as_str).collect::<Vec<_>>(), "DuplicateListener");
    elb.fails(
        &[
            "create-listener",
            "--load-balancer-arn",
            &nlb,
            "--protocol",
            "HTTP",
            "--port",
            "1",
            "--default-actions",
            &format!("Type=forward,TargetGroupArn={tg}"),
        ],
        "IncompatibleProtocols",
    );
    let v = elb.json(&["describe-listeners", "--load-balancer-arn", &lb]);
    assert_eq!(v["Listeners"][0]["Port"], port);
    assert_eq!(
        elb.json(&["describe-target-groups", "--load-balancer-arn", &lb])["TargetGroups"].as_array().unwrap().len(),
        1
    );
    elb.fails(&["delete-target-group", "--target-group-arn", &tg], "ResourceInUse");
    let rule = elb.json(&[
        "create-rule",
        "--listener-arn",
        &listener,
        "--priority",
        "10",
        "--conditions",
        "Field=path-pattern,Values=/api/*",
        "--actions",
        "Type=fixed-response,FixedResponseConfig={StatusCode=418,ContentType=text/plain,MessageBody=teapot}",
    ])["Rules"][0]["RuleArn"]
        .as_str()
        .unwrap()
        .to_string();
    elb.fails(
        &[
            "create-rule",
            "--listener-arn",
            &listener,
            "--priority",
            "10",
            "--conditions",
            "Field=host-header,Values=a.example",
            "--actions",
            &format!("Type=forward,TargetGroupArn={other}"),
        ],
        "PriorityInUse",
    );
    let host_rule = elb.json(&[
        "create-rule",
        "--listener-arn",
        &listener,
        "--priority",
        "20",
        "--conditions",
        "Field=host-header,Values=other.example",
        "--actions",
        &format!("Type=forward,TargetGroupArn={other}"),
    ])["Rules"][0]["RuleArn"]
        .as_str()
        .unwrap()
        .to_string();
    let rules = elb.json(&["describe-rules", "--listener-arn", &listener]);
    let priorities: Vec<&str> =
        rules["Rules"].as_array().unwrap().iter().map(|r| r["Priority"].as_str().unwrap()).collect();
    assert_eq!(priorities, ["10", "20", "default"]);
    elb.json(&["set-rule-priorities", "--rule-priorities", &format!("RuleArn={host_rule},Priority=5")]);
    elb.json(&[
        "modify-rule",
        "--rule-arn",
        &host_rule,
        "--conditions",
        "Field=host-header,Values=other.example,b.example",
    ]);
    elb.fails(&["set-rule-priorities", "--rule-priorities", &format!("RuleArn={rule},Priority=5")], "PriorityInUse");

    // Targets, health, the data plane, waiters.
    let target = format!("Id=127.0.0.1,Port={}", backend.addr.port());
    elb.json(&["register-targets", "--target-group-arn", &tg, "--targets", &target]);
    // The waiters poll every 15 s; once the state is reached they answer on the first call.
    elb.wait_health(&tg, "the target healthy", |h| h.iter().all(|(_, _, s)| s == "healthy")).await;
    elb.json(&["wait", "target-in-service", "--target-group-arn", &tg, "--targets", &target]);
    assert_eq!(elb.health(&tg), vec![("127.0.0.1".to_string(), backend.addr.port() as u64, "healthy".to_string())]);
    assert_eq!(get(port, "/", "web.example").await.unwrap(), (200, "b1".to_string()));
    assert_eq!(get(port, "/api/x", "web.example").await.unwrap(), (418, "teapot".to_string()));
    // The host rule forwards to a target group with no targets: ALB answers 503.
    assert_eq!(get(port, "/", "b.example").await.unwrap().0, 503);
    elb.json(&["deregister-targets", "--target-group-arn", &tg, "--targets", &target]);
    elb.wait_health(&tg, "the target gone", |h| h.is_empty()).await;
    elb.json(&["wait", "target-deregistered", "--target-group-arn", &tg, "--targets", &target]);
    let unused = elb.json(&["describe-target-health", "--target-group-arn", &tg, "--targets", &target]);
    assert_eq!(unused["TargetHealthDescriptions"][0]["TargetHealth"]["Reason"], "Target.NotRegistered");
    elb.fails(&["deregister-targets", "--target-group-arn", &tg, "--targets", &target], "InvalidTarget");

    // Tags.
    elb.json(&["add-tags", "--resource-arns", &lb, &tg, "--tags", "Key=team,Value=web", "Key=tier,Value=front"]);
    let v = elb.json(&["describe-tags", "--resource-arns", &lb]);
    assert_eq!(v["TagDescriptions"][0]["Tags"].as_array().unwrap().len(), 2);
    elb.json(&["remove-tags", "--resource-arns", &lb, "--tag-keys", "tier"]);
    let v = elb.json(&["describe-tags", "--resource-arns", &lb, &tg]);
    assert_eq!(v["TagDescriptions"][0]["Tags"], serde_json::json!([{"Key": "team", "Value": "web"}]));
    assert_eq!(v["TagDescriptions"][1]["Tags"].as_array().unwrap().len(), 2);

    // Deleting.
    elb.json(&["delete-rule", "--rule-arn", &rule]);
    elb.json(&[
        "modify-listener",
        "--listener-arn",
        &listener,
        "--default-actions",
        &format!("Type=forward,TargetGroupArn={other}"),
    ]);
    elb.json(&["delete-target-group", "--target-group-arn", &tg]);
    elb.json(&["delete-listener", "--listener-arn", &listener]);
    elb.fails(&["describe-listeners", "--listener-arns", &listener], "ListenerNotFound");
    elb.json(&["delete-load-balancer", "--load-balancer-arn", &lb]);
    elb.json(&["wait", "load-balancers-deleted", "--load-balancer-arns", &lb]);
    elb.json(&["delete-target-group", "--target-group-arn", &other]);
    elb.json(&["delete-target-group", "--target-group-arn", &tcp_tg]);
    elb.json(&["delete-load-balancer", "--load-balancer-arn", &nlb]);
    assert_eq!(elb.json(&["describe-load-balancers"])["LoadBalancers"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_another_program_holds_is_a_clear_error() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let (server, cli) = (LbServer::start(), first_cli());
    let elb = server.elb(&cli);
    let lb = elb.load_balancer("web", "application");
    let tg = elb.target_group("web", &["--protocol", "HTTP", "--port", "80"]);
    let err = elb.fails(
        &[
            "create-listener",
            "--load-balancer-arn",
            &lb,
            "--protocol",
            "HTTP",
            "--port",
            &port,
            "--default-actions",
            &format!("Type=forward,TargetGroupArn={tg}"),
        ],
        "InvalidConfigurationRequest",
    );
    assert!(err.contains(&format!("Port {port} cannot be used")), "{err}");
    assert_eq!(elb.json(&["describe-listeners", "--load-balancer-arn", &lb])["Listeners"], serde_json::json!([]));
}
