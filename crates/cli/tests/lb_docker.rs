//! ECS services behind berth's load balancer on the real Docker engine: tasks registered
//! as targets answer round robin, a rolling deploy under continuous load fails no request,
//! and `docker kill` of a task costs at most the request in flight on it.

mod lb_support;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};

use aws_sdk_ecs::types::{DeploymentConfiguration, LoadBalancer, PortMapping};
use berth_testkit::{docker_cli, wait_for, DockerEnv, DEADLINE};
use lb_support::{assert_round_robin, free_port, get, Elb};

fn berth() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_berth"))
}

/// Sends requests one after another until stopped: (answered 200, failed, bodies).
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    fn start(port: u16) -> Load {
        let (stop, ok) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (failed, bodies) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let (s, o, f, b) = (stop.clone(), ok.clone(), failed.clone(), bodies.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                match get(port, "/", "web").await {
                    Ok((200, body)) => {
                        o.fetch_add(1, Ordering::SeqCst);
                        b.lock().unwrap().push(body.trim().to_string());
                    }
                    other => f.lock().unwrap().push(format!("{other:?}")),
                }
            }
        });
        Load { stop, ok, failed, bodies, task }
    }

    async fn finish(self) -> (usize, Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap();
        let failed = self.failed.lock().unwrap().clone();
        let bodies = self.bodies.lock().unwrap().clone();
        (self.ok.load(Ordering::SeqCst), failed, bodies)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_behind_a_load_balancer_answers_round_robin_and_deploys_without_a_failed_request() {
    let mut env = DockerEnv::start_with(berth(), "lb", &["--lb-listen", "127.0.0.1"]).await;
    env.agent(0, &[]).await;
    let cli =
        std::path::PathBuf::from(if std::path::Path::new("/usr/bin/aws").exists() { "/usr/bin/aws" } else { "aws" });
    let elb = Elb { cli: &cli, server: env.server() };
    let lb = elb.load_balancer("web", "application");
    let tg = elb.target_group(
        "web",
        &[
            "--protocol",
            "HTTP",
            "--port",
            "8080",
            "--target-type",
            "instance",
            "--health-check-interval-seconds",
            "5",
            "--healthy-threshold-count",
            "2",
        ],
    );
    let port = free_port();
    elb.listener(&lb, "HTTP", port, &tg);
    let revision = |version: &str| {
        let command =
            format!("mkdir -p /www && echo {version}-$HOSTNAME > /www/index.html && exec httpd -f -p 8080 -h /www");
        env.container("app", &command).port_mappings(PortMapping::builder().container_port(8080).host_port(0).build())
    };
    let v1 = env.register("web", vec![revision("v1").build()]).await;
    let v2 = env.register("web", vec![revision("v2").build()]).await;
    let target_group = LoadBalancer::builder().target_group_arn(&tg).container_name("app").container_port(8080).build();
    let created = Instant::now();
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("web")
        .task_definition(&v1)
        .desired_count(3)
        .load_balancers(target_group.clone())
        .health_check_grace_period_seconds(10)
        .deployment_configuration(
            DeploymentConfiguration::builder().minimum_healthy_percent(100).maximum_percent(200).build(),
        )
        .send()
        .await
        .unwrap();
    let settled = |version: &'static str| {
        let (env, elb, tg) = (&env, &elb, &tg);
        async move {
            wait_for(&format!("3 healthy {version} targets and a completed rollout"), DEADLINE, async || {
                let out = env.ecs.describe_services().cluster(&env.cluster).services("web").send().await.unwrap();
                let svc = out.services()[0].clone();
                let health = elb.health(tg);
                let completed = svc.deployments().len() == 1
                    && svc.deployments()[0].rollout_state().map(|s| s.as_str()) == Some("COMPLETED");
                let healthy = health.len() == 3 && health.iter().all(|(_, _, s)| s == "healthy");
                let running = env.image.containers().len() == 3;
                if completed && healthy && running {
                    Ok(svc)
                } else {
                    Err(format!("{health:?}, {:?}", svc.deployments()))
                }
            })
            .await
        }
    };
    let svc = settled("v1").await;
    println!("service created to 3 healthy targets in {:?}", created.elapsed());
    assert_eq!(svc.load_balancers()[0].target_group_arn(), Some(tg.as_str()));
    let events: Vec<String> = svc.events().iter().filter_map(|e| e.message().map(String::from)).collect();
    assert!(
        events.iter().any(|m| m.contains("registered 3 targets in (target-group")
            || m.contains("registered 1 targets in (target-group")),
        "{events:?}"
    );

    // Round robin over the three tasks: each answers its own id, 10 times in 30.
    assert_round_robin(port, 3, 10).await;
    // The load balancer's request metrics count them: 30 requests, 10 a healthy target.
    let cw = berth_testkit::AwsCli { cli: &cli, server: env.server(), service: "cloudwatch" };
    let group = format!("Name=TargetGroup,Value={}", &tg[tg.find("targetgroup/").unwrap()..]);
    let now = berth_model::time::now();
    let (start, end) = (berth_model::time::iso8601(now - 600.0), berth_model::time::iso8601(now + 600.0));
    let sum = |metric: &str| {
        let out = cw.json(&[
            "get-metric-statistics",
            "--namespace",
            "AWS/ApplicationELB",
            "--metric-name",
            metric,
            "--dimensions",
            &group,
            "--start-time",
            &start,
            "--end-time",
            &end,
            "--period",
            "3600",
            "--statistics",
            "Sum",
        ]);
        out["Datapoints"].as_array().unwrap().iter().filter_map(|d| d["Sum"].as_f64()).sum::<f64>()
    };
    wait_for("the load balancer's request metrics", DEADLINE, async || {
        let (count, per_target) = (sum("RequestCount"), sum("RequestCountPerTarget"));
        if count >= 30.0 && per_target >= 10.0 {
            Ok(())
        } else {
            Err(format!("{count} requests, {per_target} a target"))
        }
    })
    .await;

    // A rolling deploy under continuous load: not one request fails.
    let load = Load::start(port);
    let deploy = Instant::now();
    env.ecs.update_service().cluster(&env.cluster).service("web").task_definition(&v2).send().await.unwrap();
    let svc = settled("v2").await;
    let took = deploy.elapsed();
    let (ok, failed, bodies) = load.finish().await;
    println!("rolling deploy behind the load balancer: {took:?}, {ok} requests, {} failed", failed.len());
    assert!(failed.is_empty(), "failed requests during the deploy: {failed:?}");
    assert!(bodies.iter().any(|b| b.starts_with("v1-")) && bodies.last().unwrap().starts_with("v2-"), "{bodies:?}");
    let events: Vec<String> = svc.events().iter().filter_map(|e| e.message().map(String::from)).collect();
    assert!(events.iter().any(|m| m.contains("has begun draining connections on")), "{events:?}");
    assert!(events.iter().any(|m| m.contains("deregistered")), "{events:?}");

    // docker kill of a task: the sequential client loses at most its one request in flight.
    let load = Load::start(port);
    wait_for("some answers", DEADLINE, async || {
        if load.ok.load(Ordering::SeqCst) > 5 {
            Ok(())
        } else {
            Err("none".to_string())
        }
    })
    .await;
    let victim = env.image.containers()[0].clone();
    docker_cli(&["kill", &victim]);
    wait_for("a replacement task healthy in the target group", DEADLINE, async || {
        let health = elb.health(&tg);
        let ids = env.image.containers();
        if !ids.contains(&victim) && health.len() == 3 && health.iter().all(|(_, _, s)| s == "healthy") {
            Ok(())
        } else {
            Err(format!("{health:?}"))
        }
    })
    .await;
    let (ok, failed, _) = load.finish().await;
    println!("docker kill under load: {ok} requests, {} failed", failed.len());
    assert!(failed.len() <= 1, "more than the request in flight failed: {failed:?}");

    env.ecs.update_service().cluster(&env.cluster).service("web").desired_count(0).send().await.unwrap();
    env.ecs.delete_service().cluster(&env.cluster).service("web").send().await.unwrap();
    env.wait_containers_removed().await;
}
