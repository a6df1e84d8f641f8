//! The load balancer, in one run on the same machine:
//! 1. throughput and latency with `wrk` against the same backend (nginx, one worker,
//!    a small static file): direct, through berth's HTTP listener, and through haproxy
//!    configured alike (HTTP mode, keep-alive to the backend, X-Forwarded-For);
//! 2. on Docker, the time from a task RUNNING (its `startedAt`) to the first request it
//!    answers through the load balancer, for 5 tasks started one after another;
//! 3. a 10-task rolling deploy behind the load balancer under continuous load: total time
//!    and failed requests.
//!
//! Needs `wrk`, `haproxy`, `nginx` (Debian packages) and a Docker engine.
//! Run: `cargo bench -p berth-cli --bench lb_speed`

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use aws_sdk_ecs::types::{ContainerDefinition, DeploymentConfiguration, LoadBalancer, PortMapping};
use berth_testkit::{sdk_client, wait_for, AgentProcess, BerthProcess, TestImage};

const DEADLINE: Duration = Duration::from_secs(120);
const WRK_SECONDS: &str = "10s";
/// Saturating load (throughput), then light load (the latency a request pays).
const LOADS: [(&str, &str); 2] = [("2", "32"), ("1", "4")];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn nginx(dir: &Path, port: u16) -> Killed {
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "hello from the backend\n").unwrap();
    let conf = format!(
        "daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; keepalive_requests 100000;\n\
           client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
           server {{ listen 127.0.0.1:{port}; root {d}/www; }} }}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx").args(["-c", dir.join("nginx.conf").to_str().unwrap()]).spawn().expect("nginx");
    wait_port(port);
    Killed(child)
}

fn haproxy(dir: &Path, port: u16, backend: u16) -> Killed {
    let conf = format!(
        "global\n  maxconn 4096\n  nbthread 2\ndefaults\n  mode http\n  option http-keep-alive\n  option forwardfor\n  http-reuse always\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
         frontend web\n  bind 127.0.0.1:{port}\n  default_backend app\nbackend app\n  balance roundrobin\n  server s1 127.0.0.1:{backend}\n"
    );
    std::fs::write(dir.join("haproxy.cfg"), conf).unwrap();
    let child = Command::new("haproxy")
        .args(["-f", dir.join("haproxy.cfg").to_str().unwrap(), "-db"])
        .stdout(Stdio::null())
        .spawn()
        .expect("haproxy");
    wait_port(port);
    Killed(child)
}

/// What one `wrk --latency` run measured: requests/s, p50 ms, p99 ms, errors.
type WrkRun = (f64, f64, f64, String);

fn wrk(port: u16, threads: &str, connections: &str) -> WrkRun {
    let out = Command::new("wrk")
        .args(["-t", threads, "-c", connections, "-d", WRK_SECONDS, "--latency", &format!("http://127.0.0.1:{port}/")])
        .output()
        .expect("wrk");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let value = |prefix: &str| -> String {
        text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_string())).unwrap_or_default()
    };
    let ms = |v: String| -> f64 {
        if let Some(us) = v.strip_suffix("us") {
            us.parse::<f64>().unwrap_or(0.0) / 1000.0
        } else if let Some(m) = v.strip_suffix("ms") {
            m.parse().unwrap_or(0.0)
        } else if let Some(s) = v.strip_suffix('s') {
            s.parse::<f64>().unwrap_or(0.0) * 1000.0
        } else {
            0.0
        }
    };
    let errors =
        text.lines().filter(|l| l.contains("Non-2xx") || l.contains("Socket errors")).collect::<Vec<_>>().join("; ");
    (value("Requests/sec:").parse().unwrap_or(0.0), ms(value("50%")), ms(value("99%")), errors)
}

fn aws(server: &BerthProcess, args: &[&str]) -> serde_json::Value {
    let cli = if Path::new("/usr/bin/aws").exists() { Path::new("/usr/bin/aws") } else { Path::new("aws") };
    let out = server.aws(cli, "us-east-1", args);
    assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// A load balancer with an HTTP listener on `port` forwarding to a new target group; its ARN.
fn listener(server: &BerthProcess, name: &str, port: u16, target_type: &str, target_port: u16) -> String {
    let lb = aws(server, &["elbv2", "create-load-balancer", "--name", name])["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .unwrap()
        .to_string();
    let tg = aws(
        server,
        &[
            "elbv2",
            "create-target-group",
            "--name",
            name,
            "--protocol",
            "HTTP",
            "--port",
            &target_port.to_string(),
            "--target-type",
            target_type,
            "--health-check-interval-seconds",
            "5",
            "--healthy-threshold-count",
            "2",
        ],
    )["TargetGroups"][0]["TargetGroupArn"]
        .as_str()
        .unwrap()
        .to_string();
    aws(
        server,
        &[
            "elbv2",
            "create-listener",
            "--load-balancer-arn",
            &lb,
            "--protocol",
            "HTTP",
            "--port",
            &port.to_string(),
            "--default-actions",
            &format!("Type=forward,TargetGroupArn={tg}"),
        ],
    );
    tg
}

async fn get(port: u16) -> Result<(u16, String), String> {
    berth_testkit::http_get(port, "/", "bench").await.map(|(status, body)| (status, body.trim().to_string()))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    let server = BerthProcess::start_with(berth, &dir.path().join("server"), 0, &["--lb-listen", "127.0.0.1"]);

    // 1. Throughput: direct, berth, haproxy.
    let backend_port = free_port();
    let _nginx = nginx(dir.path(), backend_port);
    let berth_port = free_port();
    let tg = listener(&server, "bench", berth_port, "ip", backend_port);
    aws(
        &server,
        &[
            "elbv2",
            "register-targets",
            "--target-group-arn",
            &tg,
            "--targets",
            &format!("Id=127.0.0.1,Port={backend_port}"),
        ],
    );
    runtime.block_on(wait_for("the backend healthy behind berth", DEADLINE, async || match get(berth_port).await {
        Ok((200, _)) => Ok(()),
        other => Err(format!("{other:?}")),
    }));
    let haproxy_port = free_port();
    let _haproxy = haproxy(dir.path(), haproxy_port, backend_port);
    for (threads, connections) in LOADS {
        println!(
            "wrk -t{threads} -c{connections} -d{WRK_SECONDS} against nginx (1 worker), each path twice, alternating"
        );
        let mut rows: Vec<(&str, Vec<WrkRun>)> = vec![("direct", vec![]), ("berth", vec![]), ("haproxy", vec![])];
        for _ in 0..2 {
            for (name, results) in rows.iter_mut() {
                let port = match *name {
                    "direct" => backend_port,
                    "berth" => berth_port,
                    _ => haproxy_port,
                };
                results.push(wrk(port, threads, connections));
            }
        }
        println!("| path | requests/s | p50 ms | p99 ms | errors |");
        println!("|---|---:|---:|---:|---|");
        let mut mean = std::collections::HashMap::new();
        for (name, results) in &rows {
            for (rps, p50, p99, errors) in results {
                println!("| {name} | {rps:.0} | {p50:.3} | {p99:.3} | {errors} |");
            }
            let n = results.len() as f64;
            mean.insert(
                *name,
                (results.iter().map(|r| r.0).sum::<f64>() / n, results.iter().map(|r| r.2).sum::<f64>() / n),
            );
        }
        let (direct, berth_lb, ha) = (mean["direct"], mean["berth"], mean["haproxy"]);
        println!(
            "berth / haproxy requests/s: {:.2} (target ≥ 0.7); p99 added over direct: berth {:.3} ms, haproxy {:.3} ms (target ≤ 1 ms)\n",
            berth_lb.0 / ha.0,
            berth_lb.1 - direct.1,
            ha.1 - direct.1
        );
    }

    // 2 and 3 on Docker (BERTH_BENCH_NO_DOCKER=1 stops after the throughput part).
    if std::env::var("BERTH_BENCH_NO_DOCKER").is_ok() {
        return;
    }
    let cluster = format!("lbbench-{}", std::process::id());
    let image = TestImage::build(&cluster, &cluster);
    let credential = server.credential();
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    runtime.block_on(async { ecs.create_cluster().cluster_name(&cluster).send().await.unwrap() });
    let agent = AgentProcess::start(berth, &server.endpoint, &cluster, &dir.path().join("agent"), &credential, &[]);
    let app_port = free_port();
    let tg = listener(&server, "app", app_port, "instance", 8080);
    runtime.block_on(async {
        wait_for("the agent registered", DEADLINE, async || {
            let n = ecs.list_container_instances().cluster(&cluster).send().await.unwrap().container_instance_arns().len();
            if n == 1 { Ok(()) } else { Err(n.to_string()) }
        })
        .await;
        let revision = |version: &str| {
            ContainerDefinition::builder()
                .name("app")
                .image(&image.reference)
                .memory(16)
                .stop_timeout(1)
                .command("sh")
                .command("-c")
                .command(format!("mkdir -p /www && echo {version}-$HOSTNAME > /www/index.html && exec httpd -f -p 8080 -h /www"))
                .port_mappings(PortMapping::builder().container_port(8080).host_port(0).build())
                .build()
        };
        let mut tds = Vec::new();
        for v in ["v1", "v2"] {
            let out = ecs.register_task_definition().family("app").container_definitions(revision(v)).send().await.unwrap();
            tds.push(out.task_definition.unwrap().task_definition_arn.unwrap());
        }
        ecs.create_service()
            .cluster(&cluster)
            .service_name("app")
            .task_definition(&tds[0])
            .desired_count(0)
            .load_balancers(LoadBalancer::builder().target_group_arn(&tg).container_name("app").container_port(8080).build())
            .deployment_configuration(DeploymentConfiguration::builder().maximum_percent(200).minimum_healthy_percent(100).build())
            .send()
            .await
            .unwrap();

        // 2. RUNNING → answering through the load balancer, one task at a time.
        let mut samples = Vec::new();
        for n in 1..=5 {
            ecs.update_service().cluster(&cluster).service("app").desired_count(n).send().await.unwrap();
            let (task_id, started) = wait_for("the new task RUNNING", DEADLINE, async || {
                let arns = ecs.list_tasks().cluster(&cluster).send().await.unwrap().task_arns().to_vec();
                if arns.is_empty() {
                    return Err("no task yet".to_string());
                }
                let tasks = ecs.describe_tasks().cluster(&cluster).set_tasks(Some(arns)).send().await.unwrap();
                let running: Vec<_> = tasks.tasks().iter().filter(|t| t.last_status() == Some("RUNNING")).collect();
                let newest = running.iter().max_by_key(|t| t.started_at().map(|s| s.as_nanos()).unwrap_or(0));
                match newest {
                    Some(t) if running.len() == n as usize => {
                        let id = t.containers()[0].runtime_id().unwrap_or_default().chars().take(12).collect::<String>();
                        Ok((id, t.started_at().unwrap().as_secs_f64()))
                    }
                    _ => Err(format!("{} running", running.len())),
                }
            })
            .await;
            wait_for("the new task answering through the load balancer", DEADLINE, async || match get(app_port).await {
                Ok((200, body)) if body.ends_with(&task_id) => Ok(()),
                other => Err(format!("{other:?}")),
            })
            .await;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
            samples.push(now - started);
        }
        samples.sort_by(f64::total_cmp);
        println!(
            "task RUNNING → answering through the load balancer (5 tasks): {} s; median {:.2} s (target ≤ 2 s; ELB's defaults: ≥ 150 s)",
            samples.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(", "),
            samples[2]
        );

        // 3. A 10-task rolling deploy under continuous load.
        ecs.update_service().cluster(&cluster).service("app").desired_count(10).send().await.unwrap();
        let stable = |td: String| {
            let ecs = &ecs;
            let cluster = &cluster;
            async move {
                wait_for("10 tasks of the revision, rollout completed", DEADLINE, async || {
                    let s = ecs.describe_services().cluster(cluster).services("app").send().await.unwrap().services()[0].clone();
                    let d = s.deployments();
                    if d.len() == 1 && d[0].task_definition() == Some(td.as_str()) && d[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED") && s.running_count() == 10 {
                        Ok(())
                    } else {
                        Err(format!("{} running, {} deployments", s.running_count(), d.len()))
                    }
                })
                .await
            }
        };
        stable(tds[0].clone()).await;
        let (stop, ok, failed) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut clients = Vec::new();
        for _ in 0..4 {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            clients.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    match get(app_port).await {
                        Ok((200, _)) => ok.fetch_add(1, Ordering::SeqCst),
                        _ => failed.fetch_add(1, Ordering::SeqCst),
                    };
                }
            }));
        }
        let start = Instant::now();
        ecs.update_service().cluster(&cluster).service("app").task_definition(&tds[1]).send().await.unwrap();
        stable(tds[1].clone()).await;
        let took = start.elapsed();
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.await.unwrap();
        }
        println!(
            "10-task rolling deploy behind the load balancer: {:.2} s, {} requests answered, {} failed (4 clients)",
            took.as_secs_f64(),
            ok.load(Ordering::SeqCst),
            failed.load(Ordering::SeqCst)
        );
        ecs.update_service().cluster(&cluster).service("app").desired_count(0).send().await.unwrap();
        ecs.delete_service().cluster(&cluster).service("app").send().await.unwrap();
        wait_for("containers gone", DEADLINE, async || if image.containers().is_empty() { Ok(()) } else { Err("left".to_string()) }).await;
    });
    drop(agent);
}
