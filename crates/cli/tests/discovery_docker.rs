//! Service discovery on the real Docker engine: an ECS service of 3 awsvpc tasks
//! registered in Cloud Map resolves to its 3 addresses through berth's DNS; a killed task
//! drops out of the answer; a task of the cluster (awsvpc too: Docker keeps bridge-mode
//! containers off other engine networks) resolves the service by its full name and,
//! through the namespace search domain, by its short name; a deploy replaces the
//! answers without a moment of no answer; nothing is left behind.

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    process::Command,
    time::{Duration, Instant},
};

use aws_sdk_ecs::types::{
    AwsVpcConfiguration, DeploymentConfiguration, NetworkConfiguration, NetworkMode, PortMapping, ServiceRegistry,
};
use berth_testkit::{installed_clis, wait_for, DockerEnv, DEADLINE};
use serde_json::Value;

fn berth() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_berth"))
}

fn vpc() -> NetworkConfiguration {
    let config = AwsVpcConfiguration::builder().subnets("subnet-berth").build().unwrap();
    NetworkConfiguration::builder().awsvpc_configuration(config).build()
}

/// The A records berth's DNS answers for `name`, sorted.
fn resolve(dns: SocketAddr, name: &str) -> BTreeSet<String> {
    let out = Command::new("dig")
        .args([format!("@{}", dns.ip()), "-p".into(), dns.port().to_string(), "+short".into(), "+time=1".into()])
        .args([name, "A"])
        .output()
        .expect("dig (bind9-dnsutils) is installed");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).filter(|l| !l.starts_with(';')).collect()
}

/// The addresses of the service's RUNNING tasks of `revision`.
async fn task_addresses(env: &DockerEnv, revision: &str) -> BTreeSet<String> {
    let arns = env.ecs.list_tasks().cluster(&env.cluster).service_name("api").send().await.unwrap().task_arns;
    if arns.as_ref().is_none_or(|a| a.is_empty()) {
        return BTreeSet::new();
    }
    let tasks = env.ecs.describe_tasks().cluster(&env.cluster).set_tasks(arns).send().await.unwrap();
    tasks
        .tasks()
        .iter()
        .filter(|t| t.last_status() == Some("RUNNING") && t.task_definition_arn().unwrap().ends_with(revision))
        .filter_map(|t| t.containers()[0].network_interfaces().first()?.private_ipv4_address().map(str::to_string))
        .collect()
}

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().expect("docker");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_is_found_by_name_from_the_host_and_from_its_tasks() {
    // Containers' resolvers use port 53: berth's DNS listens on every address of it.
    let mut env =
        DockerEnv::start_with(berth(), "discovery", &["--task-cidr", "10.219.0.0/16", "--dns-listen", "0.0.0.0:53"])
            .await;
    env.agent(0, &[]).await;
    let dns: SocketAddr = ([127, 0, 0, 1], env.server().dns_addr().port()).into();
    assert_eq!(dns.port(), 53);

    // The namespace and its service, with the aws CLI.
    let cli = installed_clis().into_iter().next().expect("an aws CLI");
    let sd = |args: &[&str]| -> Value {
        let mut full = vec!["servicediscovery"];
        full.extend_from_slice(args);
        let out = env.server().aws(&cli, "us-east-1", &full);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    let op = sd(&["create-private-dns-namespace", "--name", "shop.local", "--vpc", "vpc-berth"])["OperationId"].clone();
    let op = sd(&["get-operation", "--operation-id", op.as_str().unwrap()]);
    let ns = op["Operation"]["Targets"]["NAMESPACE"].as_str().unwrap().to_string();
    let registry = sd(&[
        "create-service",
        "--name",
        "api",
        "--namespace-id",
        &ns,
        "--dns-config",
        "RoutingPolicy=MULTIVALUE,DnsRecords=[{Type=A,TTL=1}]",
        "--health-check-custom-config",
        "FailureThreshold=1",
    ])["Service"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();

    let page = |v: &str| format!("mkdir -p /www && echo {v} > /www/index.html && exec httpd -f -p 8080 -h /www");
    let revision = |v: &str| {
        let container =
            env.container("app", &page(v)).port_mappings(PortMapping::builder().container_port(8080).build()).build();
        env.ecs
            .register_task_definition()
            .family("api")
            .network_mode(NetworkMode::Awsvpc)
            .container_definitions(container)
            .send()
    };
    let v1 = revision("v1").await.unwrap().task_definition.unwrap().task_definition_arn.unwrap();
    let v2 = revision("v2").await.unwrap().task_definition.unwrap().task_definition_arn.unwrap();
    let config = DeploymentConfiguration::builder().minimum_healthy_percent(100).maximum_percent(200).build();
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("api")
        .task_definition(&v1)
        .desired_count(3)
        .network_configuration(vpc())
        .deployment_configuration(config)
        .service_registries(ServiceRegistry::builder().registry_arn(&registry).build())
        .send()
        .await
        .unwrap();

    // 3 tasks, 3 addresses in DNS.
    let three = wait_for("3 addresses in DNS, the running tasks'", DEADLINE, async || {
        let (running, answered) = (task_addresses(&env, ":1").await, resolve(dns, "api.shop.local"));
        if running.len() == 3 && answered == running {
            Ok(answered)
        } else {
            Err(format!("tasks {running:?}, DNS {answered:?}"))
        }
    })
    .await;

    // A killed task drops out of the answer.
    let victim_ip = three.iter().next().unwrap().clone();
    let victim = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.amazonaws.ecs.cluster={}", env.cluster),
        "--filter",
        "label=com.amazonaws.ecs.container-name=app",
    ])
    .1;
    let victim = victim
        .lines()
        .find(|id| docker(&["exec", id, "ip", "-4", "addr"]).1.contains(&format!("inet {victim_ip}/")))
        .expect("the container with the address")
        .to_string();
    let killed = Instant::now();
    assert!(docker(&["kill", &victim]).0);
    wait_for("the killed task to leave DNS", Duration::from_secs(5), async || {
        let answered = resolve(dns, "api.shop.local");
        if answered.contains(&victim_ip) {
            Err(format!("{answered:?}"))
        } else {
            Ok(())
        }
    })
    .await;
    let gone_after = killed.elapsed();
    eprintln!("a killed task left DNS after {gone_after:?}");
    assert!(gone_after < Duration::from_secs(2), "left DNS only after {gone_after:?}");
    wait_for("the replacement in DNS", DEADLINE, async || {
        let answered = resolve(dns, "api.shop.local");
        if answered.len() == 3 {
            Ok(())
        } else {
            Err(format!("{answered:?}"))
        }
    })
    .await;

    // A task of the cluster resolves the service: by its full name, and by its short name
    // through the namespace search domain.
    let probe_td = env
        .ecs
        .register_task_definition()
        .family("probe")
        .network_mode(NetworkMode::Awsvpc)
        .container_definitions(env.container("probe", "exec sleep 300").build())
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
        .task_definition_arn
        .unwrap();
    let probe = env
        .ecs
        .run_task()
        .cluster(&env.cluster)
        .task_definition(&probe_td)
        .network_configuration(vpc())
        .send()
        .await
        .unwrap();
    let probe = probe.tasks()[0].task_arn().unwrap().to_string();
    env.wait_task(&probe, "RUNNING", |t| t.last_status() == Some("RUNNING")).await;
    let probe_container = format!("berth-{}-probe", probe.rsplit('/').next().unwrap());
    let (ok, looked_up) = docker(&["exec", &probe_container, "nslookup", "api.shop.local"]);
    assert!(ok, "nslookup in the task: {looked_up}");
    let answered = resolve(dns, "api.shop.local");
    assert!(answered.iter().all(|ip| looked_up.contains(ip.as_str())), "nslookup said {looked_up}, DNS {answered:?}");
    let (ok, fetched) = docker(&["exec", &probe_container, "wget", "-q", "-O-", "http://api:8080/"]);
    assert!(ok && fetched.trim() == "v1", "wget http://api:8080/ from the task: {fetched}");
    let (_, resolv) = docker(&["exec", &probe_container, "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("search") && resolv.contains("shop.local"), "{resolv}");

    // A deploy replaces the answers, and DNS never answers nothing meanwhile.
    env.ecs.update_service().cluster(&env.cluster).service("api").task_definition(&v2).send().await.unwrap();
    let started = Instant::now();
    let mut empty_seen = 0;
    loop {
        let answered = resolve(dns, "api.shop.local");
        if answered.is_empty() {
            empty_seen += 1;
        }
        let new = task_addresses(&env, ":2").await;
        if new.len() == 3 && answered == new {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "the deploy did not finish: DNS {answered:?}, new tasks {new:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(empty_seen, 0, "DNS answered nothing {empty_seen} times during the deploy");
    let (ok, fetched) = docker(&["exec", &probe_container, "wget", "-q", "-O-", "http://api.shop.local:8080/"]);
    assert!(ok && fetched.trim() == "v2", "{fetched}");

    // Cleanup: no task, no container, no registration.
    env.ecs.stop_task().cluster(&env.cluster).task(&probe).send().await.unwrap();
    env.ecs.delete_service().cluster(&env.cluster).service("api").force(true).send().await.unwrap();
    env.wait_containers_removed().await;
    wait_for("DNS to answer nothing for the deleted service", DEADLINE, async || {
        let answered = resolve(dns, "api.shop.local");
        if answered.is_empty() {
            Ok(())
        } else {
            Err(format!("{answered:?}"))
        }
    })
    .await;
}
