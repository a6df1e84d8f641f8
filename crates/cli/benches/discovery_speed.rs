//! Service discovery, in one run:
//! 1. berth's DNS under `dnsperf` (Debian's) for 10 s on the same two cores: queries/s and
//!    the p99 latency, against the floor measured the same way in the same run — a UDP
//!    responder in this process that sends a canned answer and does nothing else;
//! 2. an ECS service registered in Cloud Map, its tasks on a simulated agent: the time
//!    from a task turning healthy (in the engine) to its record in DNS answers, and from
//!    the request that stops it (UpdateService lowering the count) to its record leaving
//!    the answers, 20 samples each (targets: ≤ 1 s each).
//!
//! Run: `cargo bench -p berth-cli --bench discovery_speed`   (needs dnsperf)

use std::{
    net::SocketAddr,
    path::Path,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use aws_sdk_ecs::types::{ContainerDefinition, HealthCheck, PortMapping, ServiceRegistry};
use berth_agent::AgentConfig;
use berth_client::ServerClient;
use berth_runtime::{sim::SimRuntime, Health};
use berth_testkit::{sdk_client, wait_for, BerthProcess};
use hickory_proto::{
    op::{Message, Query},
    rr::{Name, RData, RecordType},
};
use serde_json::{json, Value};
use tokio::net::UdpSocket;

const SD: &str = "Route53AutoNaming_v20170314.";

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((p / 100.0) * (s.len() - 1) as f64).round() as usize]
}

/// dnsperf against `addr` for `secs`: (queries/s, p99 latency in ms, lost queries).
fn dnsperf(addr: SocketAddr, queries: &Path, secs: u32) -> (f64, f64, u64) {
    let out = Command::new("dnsperf")
        .args(["-s", &addr.ip().to_string(), "-p", &addr.port().to_string(), "-d"])
        .arg(queries)
        .args(["-l", &secs.to_string(), "-c", "8", "-T", "1", "-q", "64", "-v"])
        .output()
        .expect("dnsperf is installed (apt-get install dnsperf)");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(key))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("dnsperf printed no {key}: {text:.2000}"))
    };
    // -v prints every answer as `> NOERROR name type LATENCY`.
    let latencies: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("> "))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .collect();
    assert!(!latencies.is_empty(), "dnsperf printed no latencies");
    (field("Queries per second"), percentile(&latencies, 99.0) * 1000.0, field("Queries lost") as u64)
}

/// The floor: a responder that answers every query with a canned answer (its id copied).
async fn canned_responder() -> SocketAddr {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    let mut answer = Message::response(0, hickory_proto::op::OpCode::Query);
    answer.add_query(Query::query(Name::from_ascii("api.shop.local.").unwrap(), RecordType::A));
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        let data = RData::A(hickory_proto::rr::rdata::A(ip.parse().unwrap()));
        answer.add_answer(hickory_proto::rr::Record::from_rdata(Name::from_ascii("api.shop.local.").unwrap(), 5, data));
    }
    let canned = answer.to_vec().unwrap();
    for _ in 0..2 {
        let (socket, canned) = (socket.clone(), canned.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let mut reply = canned;
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else { continue };
                if n >= 2 {
                    reply[..2].copy_from_slice(&buf[..2]);
                    let _ = socket.send_to(&reply, from).await;
                }
            }
        });
    }
    addr
}

/// The SRV ports berth's DNS answers for `name`.
async fn srv_ports(dns: SocketAddr, name: &str) -> Vec<u16> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut q = Message::query();
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::SRV));
    socket.send_to(&q.to_vec().unwrap(), dns).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await else {
        return Vec::new();
    };
    let m = Message::from_vec(&buf[..n]).unwrap();
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some(s.port),
            _ => None,
        })
        .collect()
}

/// Polls DNS every millisecond until `done` holds for the answer; how long it took.
async fn until_dns(dns: SocketAddr, done: impl Fn(&[u16]) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if done(&srv_ports(dns, "api.shop.local.").await) {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "DNS never changed");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    let server = BerthProcess::start_with(berth, &dir.path().join("server"), 0, &[]);
    let dns = server.dns_addr();
    let credential = server.credential();
    let endpoint = server.endpoint.clone();
    runtime.block_on(async {
        let client = ServerClient::new(&endpoint, credential.clone(), "us-east-1").unwrap();
        let sd = async |op: &str, body: Value| -> Value {
            client.signed::<Value>(&format!("{SD}{op}"), &body).await.unwrap().0
        };
        let op = sd("CreatePrivateDnsNamespace", json!({"Name": "shop.local", "Vpc": "vpc-1"})).await;
        let op = sd("GetOperation", json!({"OperationId": op["OperationId"]})).await;
        let ns = op["Operation"]["Targets"]["NAMESPACE"].as_str().unwrap().to_string();
        let svc = sd(
            "CreateService",
            json!({"Name": "api", "NamespaceId": ns, "HealthCheckCustomConfig": {"FailureThreshold": 1},
                   "DnsConfig": {"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "SRV", "TTL": 1}]}}),
        )
        .await;

        // 1. Queries per second.
        let fixed = sd(
            "CreateService",
            json!({"Name": "static", "NamespaceId": ns,
            "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 60}]}}),
        )
        .await;
        for i in 1..=3 {
            sd(
                "RegisterInstance",
                json!({"ServiceId": fixed["Service"]["Id"], "InstanceId": format!("i{i}"),
                "Attributes": {"AWS_INSTANCE_IPV4": format!("10.0.0.{i}")}}),
            )
            .await;
        }
        let queries = dir.path().join("queries");
        std::fs::write(&queries, "static.shop.local A\n").unwrap();
        let floor = canned_responder().await;
        let (floor_qps, floor_p99, floor_lost) = dnsperf(floor, &queries, 10);
        let (qps, p99, lost) = dnsperf(dns, &queries, 10);
        println!(
            "DNS, A query of a 3-instance MULTIVALUE service, dnsperf 10 s (8 clients, 64 outstanding), same 2 cores:"
        );
        println!("  berth-dns      {qps:>9.0} queries/s   p99 {p99:.2} ms   lost {lost}");
        println!("  floor (canned) {floor_qps:>9.0} queries/s   p99 {floor_p99:.2} ms   lost {floor_lost}");
        println!("  berth / floor: {:.0}%", 100.0 * qps / floor_qps);

        // 2. Registration and removal latency through ECS, tasks on a simulated agent.
        let sim = Arc::new(SimRuntime::new());
        sim.add_image("app");
        let config = AgentConfig {
            availability_zone: Some("az-1".into()),
            cpu: Some(8192),
            memory: Some(16384),
            ..AgentConfig::new(&endpoint, "disc", dir.path().join("agent"), credential.clone())
        };
        let ecs = sdk_client(&endpoint, &credential, "us-east-1");
        ecs.create_cluster().cluster_name("disc").send().await.unwrap();
        tokio::spawn(berth_agent::run(config, sim.clone()));
        wait_for("the agent", Duration::from_secs(30), async || {
            let n =
                ecs.list_container_instances().cluster("disc").send().await.unwrap().container_instance_arns().len();
            if n == 1 {
                Ok(())
            } else {
                Err(format!("{n}"))
            }
        })
        .await;
        let health = HealthCheck::builder().command("CMD-SHELL").command("true").interval(5).build().unwrap();
        let app = ContainerDefinition::builder()
            .name("app")
            .image("app")
            .memory(16)
            .port_mappings(PortMapping::builder().container_port(8080).build())
            .health_check(health)
            .build();
        ecs.register_task_definition().family("api").container_definitions(app).send().await.unwrap();
        sim.set_health_of("-app", Health::Starting);
        let registry = ServiceRegistry::builder()
            .registry_arn(svc["Service"]["Arn"].as_str().unwrap())
            .container_name("app")
            .container_port(8080)
            .build();
        ecs.create_service()
            .cluster("disc")
            .service_name("api")
            .task_definition("api")
            .desired_count(0)
            .service_registries(registry)
            .send()
            .await
            .unwrap();
        let (mut healthy_ms, mut stop_ms) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            ecs.update_service().cluster("disc").service("api").desired_count(1).send().await.unwrap();
            // Wait for the task's container to run (still starting its health check).
            let id = wait_for("the task's container", Duration::from_secs(30), async || {
                let running: Vec<String> = sim
                    .containers()
                    .into_iter()
                    .filter(|(_, _, s)| s.state == berth_runtime::RunState::Running)
                    .map(|(_, _, s)| s.id)
                    .collect();
                match &running[..] {
                    [one] => Ok(one.clone()),
                    other => Err(format!("{} running", other.len())),
                }
            })
            .await;
            assert!(srv_ports(dns, "api.shop.local.").await.is_empty(), "registered before it was healthy");
            sim.set_health(&id, Health::Healthy);
            healthy_ms.push(until_dns(dns, |p| p.len() == 1).await.as_secs_f64() * 1000.0);
            let asked = Instant::now();
            ecs.update_service().cluster("disc").service("api").desired_count(0).send().await.unwrap();
            until_dns(dns, |p| p.is_empty()).await;
            stop_ms.push(asked.elapsed().as_secs_f64() * 1000.0);
            wait_for("the task's container to go", Duration::from_secs(30), async || {
                if sim.containers().is_empty() {
                    Ok(())
                } else {
                    Err("still there".to_string())
                }
            })
            .await;
        }
        println!("ECS service in Cloud Map, 20 tasks on a simulated agent (targets: <= 1000 ms):");
        println!(
            "  healthy in the engine -> in DNS answers: p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
            percentile(&healthy_ms, 50.0),
            percentile(&healthy_ms, 99.0),
            percentile(&healthy_ms, 100.0)
        );
        println!(
            "  stop request (UpdateService) -> out of DNS answers: p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
            percentile(&stop_ms, 50.0),
            percentile(&stop_ms, 99.0),
            percentile(&stop_ms, 100.0)
        );
    });
}
