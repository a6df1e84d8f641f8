//! The load balancer's data plane end to end: `berth server` with backends in the test
//! process as `ip` targets — round robin, an unhealthy target leaving the rotation and
//! coming back, draining that waits for a slow request, and a TCP listener.

mod lb_support;

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use berth_testkit::{wait_for, DEADLINE};
use lb_support::{assert_round_robin, first_cli, free_port, get, get_with_cookies, Backend, Elb, LbServer};

fn target(b: &Backend) -> String {
    format!("Id=127.0.0.1,Port={}", b.addr.port())
}

async fn all_healthy(elb: &Elb<'_>, tg: &str, n: usize) {
    elb.wait_health(tg, &format!("{n} healthy targets"), |h| h.len() == n && h.iter().all(|(_, _, s)| s == "healthy"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_target_leaves_the_rotation_and_comes_back_and_draining_waits_for_a_slow_request() {
    let (server, cli) = (LbServer::start(), first_cli());
    let elb = server.elb(&cli);
    let backends = [
        Backend::start("a", Duration::from_secs(3)).await,
        Backend::start("b", Duration::from_secs(3)).await,
        Backend::start("c", Duration::from_secs(3)).await,
    ];
    let lb = elb.load_balancer("web", "application");
    let tg = elb.target_group(
        "web",
        &[
            "--protocol",
            "HTTP",
            "--port",
            "80",
            "--target-type",
            "ip",
            "--health-check-path",
            "/health",
            "--health-check-interval-seconds",
            "5",
            "--health-check-timeout-seconds",
            "2",
            "--healthy-threshold-count",
            "2",
            "--unhealthy-threshold-count",
            "2",
        ],
    );
    let port = free_port();
    elb.listener(&lb, "HTTP", port, &tg);
    let targets: Vec<String> = backends.iter().map(target).collect();
    let mut args = vec!["register-targets", "--target-group-arn", tg.as_str(), "--targets"];
    args.extend(targets.iter().map(String::as_str));
    let registered = Instant::now();
    elb.json(&args);
    all_healthy(&elb, &tg, 3).await;
    println!("three new targets healthy {:?} after registration", registered.elapsed());

    // Round robin: 30 requests, 10 each.
    assert_round_robin(port, 3, 10).await;

    // `b` fails its checks: it leaves the rotation with ELB's reason, then comes back.
    backends[1].healthy.store(false, Ordering::SeqCst);
    wait_for("b unhealthy", DEADLINE, async || {
        let v = elb.json(&["describe-target-health", "--target-group-arn", &tg, "--targets", &targets[1]]);
        let h = &v["TargetHealthDescriptions"][0]["TargetHealth"];
        if h["State"] == "unhealthy" && h["Reason"] == "Target.ResponseCodeMismatch" {
            Ok(())
        } else {
            Err(h.to_string())
        }
    })
    .await;
    for _ in 0..10 {
        assert_ne!(get(port, "/", "web").await.unwrap().1, "b");
    }
    backends[1].healthy.store(true, Ordering::SeqCst);
    all_healthy(&elb, &tg, 3).await;
    let mut back = false;
    for _ in 0..6 {
        back |= get(port, "/", "web").await.unwrap().1 == "b";
    }
    assert!(back, "b is back in the rotation");

    // Draining: a slow request on `a` finishes; `a` takes nothing new and leaves `draining`
    // when the request is done, well before the 300 s deregistration delay.
    let a_before = backends[0].served.load(Ordering::SeqCst);
    let slow = tokio::spawn(async move {
        // Requests rotate: send until one lands on `a` (each slow request takes 3 s).
        loop {
            let (status, body) = get(port, "/slow", "web").await.unwrap();
            if body == "a" || status != 200 {
                return (status, body);
            }
        }
    });
    wait_for("a slow request in flight on a", DEADLINE, async || {
        if backends[0].served.load(Ordering::SeqCst) > a_before {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    })
    .await;
    elb.json(&["deregister-targets", "--target-group-arn", &tg, "--targets", &targets[0]]);
    let states = elb.health(&tg);
    assert!(states.iter().any(|(_, p, s)| *p == backends[0].addr.port() as u64 && s == "draining"), "{states:?}");
    let before = backends[0].served.load(Ordering::SeqCst);
    for _ in 0..6 {
        assert_ne!(get(port, "/", "web").await.unwrap().1, "a", "a draining target takes no new request");
    }
    assert_eq!(slow.await.unwrap(), (200, "a".to_string()), "the in-flight request finished");
    assert_eq!(backends[0].served.load(Ordering::SeqCst), before);
    // Well before the 300 s deregistration delay.
    elb.wait_health(&tg, "a deregistered", |h| h.len() == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_listener_relays_connections_and_skips_a_refusing_target() {
    let (server, cli) = (LbServer::start(), first_cli());
    let elb = server.elb(&cli);
    let live = Backend::start("tcp-live", Duration::ZERO).await;
    let nlb = elb.load_balancer("net", "network");
    let tg = elb.target_group(
        "net",
        &["--protocol", "TCP", "--port", "80", "--target-type", "ip", "--health-check-interval-seconds", "10"],
    );
    let port = free_port();
    elb.listener(&nlb, "TCP", port, &tg);
    elb.json(&["register-targets", "--target-group-arn", &tg, "--targets", &target(&live)]);
    all_healthy(&elb, &tg, 1).await;
    for _ in 0..5 {
        assert_eq!(get(port, "/", "x").await.unwrap(), (200, "tcp-live".to_string()));
    }
    // A second target that was healthy dies: connections it refuses go to the live one.
    let dying = Backend::start("tcp-dying", Duration::ZERO).await;
    elb.json(&["register-targets", "--target-group-arn", &tg, "--targets", &target(&dying)]);
    all_healthy(&elb, &tg, 2).await;
    let gone = dying.addr;
    drop(dying);
    // Its listener closes once the aborted accept loop is dropped: from then on it refuses.
    wait_for("the dying target refusing connections", DEADLINE, async || {
        match tokio::net::TcpStream::connect(gone).await {
            Err(_) => Ok(()),
            Ok(_) => Err("still accepting".to_string()),
        }
    })
    .await;
    for _ in 0..6 {
        assert_eq!(get(port, "/", "x").await.unwrap(), (200, "tcp-live".to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stickiness_pins_a_client_to_its_target_group_and_target() {
    let (server, cli) = (LbServer::start(), first_cli());
    let elb = server.elb(&cli);
    let backends = [
        Backend::start("one-a", Duration::ZERO).await,
        Backend::start("one-b", Duration::ZERO).await,
        Backend::start("two", Duration::ZERO).await,
    ];
    let lb = elb.load_balancer("web", "application");
    let check = [
        "--protocol",
        "HTTP",
        "--port",
        "80",
        "--target-type",
        "ip",
        "--health-check-interval-seconds",
        "5",
        "--healthy-threshold-count",
        "2",
    ];
    let one = elb.target_group("one", &check);
    let two = elb.target_group("two", &check);
    elb.json(&[
        "modify-target-group-attributes",
        "--target-group-arn",
        &one,
        "--attributes",
        "Key=stickiness.enabled,Value=true",
    ]);
    elb.json(&[
        "register-targets",
        "--target-group-arn",
        &one,
        "--targets",
        &target(&backends[0]),
        &target(&backends[1]),
    ]);
    elb.json(&["register-targets", "--target-group-arn", &two, "--targets", &target(&backends[2])]);
    let actions = serde_json::json!([{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": one, "Weight": 1}, {"TargetGroupArn": two, "Weight": 1}],
        "TargetGroupStickinessConfig": {"Enabled": true, "DurationSeconds": 60}}}]);
    let port = free_port();
    elb.json(&[
        "create-listener",
        "--load-balancer-arn",
        &lb,
        "--protocol",
        "HTTP",
        "--port",
        &port.to_string(),
        "--default-actions",
        &actions.to_string(),
    ]);
    all_healthy(&elb, &one, 2).await;
    all_healthy(&elb, &two, 1).await;
    // Without cookies, both groups and both of group one's targets answer.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        seen.insert(get_with_cookies(port, "").await.0);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    // With the cookies of a first answer from group one, every answer comes from that target.
    let (first, cookies) = loop {
        let (body, set) = get_with_cookies(port, "").await;
        if body.starts_with("one-") {
            break (body, set);
        }
    };
    assert!(cookies.iter().any(|c| c.starts_with("AWSALBTG=")), "{cookies:?}");
    assert!(cookies.iter().any(|c| c.starts_with("AWSALB=")), "{cookies:?}");
    let jar = cookies.join("; ");
    for _ in 0..10 {
        assert_eq!(get_with_cookies(port, &jar).await.0, first);
    }
}
