//! Logs, in one run, with real containers on the local Docker engine:
//! 1. Delay from a line printed in a container to (a) GetLogEvents returning it (polled
//!    back to back), (b) `berth logs -f` printing it, and (c) `docker logs -f` printing it
//!    — the engine's own floor — all three on the same lines (one line every 100 ms for
//!    30 s). Targets: (a) p99 ≤ 1 s, (b) p50 ≤ 250 ms.
//! 2. Sustained ingestion: one container prints 1,000,000 lines as fast as it can; the rate
//!    from its first line to the last one durable in berth's log database (target
//!    ≥ 50,000 events/s), the agent's CPU time and peak memory meanwhile, and the rate the
//!    engine itself hands the same log out at (`docker logs`, the floor).
//!
//! Run: `cargo bench -p berth-cli --bench logs_speed`   (needs Docker and busybox-static)

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use aws_sdk_ecs::types::{LogConfiguration, LogDriver};
use berth_client::ServerClient;
use berth_model::logs::{
    DescribeLogStreamsRequest, DescribeLogStreamsResponse, GetLogEventsRequest, GetLogEventsResponse,
};
use berth_testkit::{wait_for, DockerEnv};

const LINES: usize = 300;
const CHATTY_LINES: usize = 1_000_000;
/// The chatty container's line: 63 characters.
const CHATTY: &str = "GET /api/orders/12345 200 0.004 user=alice region=us-east-1 ok";

fn wall_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((p / 100.0) * (s.len() - 1) as f64).round() as usize]
}

/// Delays in ms, by line number.
type Delays = Arc<Mutex<HashMap<usize, f64>>>;

fn seq_of(message: &str) -> Option<usize> {
    message.trim().strip_prefix("seq ")?.parse().ok()
}

fn awslogs(group: &str) -> LogConfiguration {
    LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", group)
        .options("awslogs-stream-prefix", "bench")
        .options("awslogs-create-group", "true")
        .build()
        .unwrap()
}

/// Reads `lines` of a child's stdout, recording each `seq N` line's delay by `stamp`.
fn record(child: &mut std::process::Child, delays: Delays, stamp: fn(&str) -> Option<(usize, i64)>) {
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let now = wall_ns();
            if let Some((seq, printed_ns)) = stamp(&line) {
                delays.lock().unwrap().insert(seq, (now - printed_ns) as f64 / 1e6);
            }
        }
    });
}

/// `docker logs -f --timestamps`: `2026-…Z seq N`.
fn docker_stamp(line: &str) -> Option<(usize, i64)> {
    let (ts, rest) = line.split_once(' ')?;
    Some((seq_of(rest)?, berth_agent::logs::parse_timestamp(ts)?))
}

/// `berth logs -f --output json`.
fn berth_stamp(line: &str) -> Option<(usize, i64)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some((seq_of(v["message"].as_str()?)?, v["timestamp"].as_i64()? * 1_000_000))
}

fn summary(name: &str, delays: &Delays) -> (f64, f64) {
    let samples: Vec<f64> = delays.lock().unwrap().values().copied().collect();
    assert!(samples.len() >= LINES * 9 / 10, "{name}: only {} of {LINES} lines seen", samples.len());
    let (p50, p99) = (percentile(&samples, 50.0), percentile(&samples, 99.0));
    println!(
        "  {name:<34} {:>4} lines  p50 {p50:>7.1} ms  p99 {p99:>7.1} ms  max {:>7.1} ms",
        samples.len(),
        percentile(&samples, 100.0)
    );
    (p50, p99)
}

/// utime + stime of a process, in seconds, and its peak resident memory in MiB.
fn process_usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm =
        status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok());
    (ticks / 100.0, hwm.unwrap_or(0.0) / 1024.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    runtime.block_on(async {
        let mut env = DockerEnv::start(berth, "logs-bench").await;
        env.agent(0, &[]).await;
        let client = ServerClient::new(&env.server().endpoint, env.credential.clone(), "us-east-1").unwrap();
        let group = format!("/bench/{}", env.cluster);

        println!("logs_speed: one line every 100 ms for {} s; delay from the line's engine timestamp", LINES / 10);
        let script = format!("sleep 1; i=1; while [ $i -le {LINES} ]; do echo seq $i; i=$((i+1)); sleep 0.1; done");
        let ticker = env.container("ticker", &script).log_configuration(awslogs(&group)).build();
        let td = env.register("logs-ticker", vec![ticker]).await;
        let arn = env.run(&td).await;
        let task_id = arn.rsplit('/').next().unwrap().to_string();
        let container_id = wait_for("the ticker to run", Duration::from_secs(60), async || {
            let task = env.describe(&arn).await;
            task.containers()[0].runtime_id().map(String::from).ok_or_else(|| format!("{task:?}"))
        })
        .await;

        let (via_docker, via_berth, via_get): (Delays, Delays, Delays) = Default::default();
        let mut docker = Command::new("docker")
            .args(["logs", "-f", "--timestamps", &container_id])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        record(&mut docker, via_docker.clone(), docker_stamp);
        let mut follow = env
            .berth_command(&["logs", "--cluster", &env.cluster, "--task", &arn, "--follow", "--output", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        record(&mut follow, via_berth.clone(), berth_stamp);

        // (a) GetLogEvents back to back, following the forward token.
        let stream = format!("bench/ticker/{task_id}");
        let mut token = None;
        let deadline = Instant::now() + Duration::from_secs(LINES as u64 / 10 + 30);
        while via_get.lock().unwrap().len() < LINES && Instant::now() < deadline {
            let request = GetLogEventsRequest {
                log_group_name: Some(group.clone()),
                log_stream_name: stream.clone(),
                start_from_head: Some(true),
                next_token: token.clone(),
                ..Default::default()
            };
            match client.logs::<GetLogEventsResponse>("GetLogEvents", &request).await {
                Ok(page) => {
                    let now = wall_ns();
                    for e in &page.events {
                        if let Some(seq) = seq_of(&e.message) {
                            via_get.lock().unwrap().insert(seq, (now - e.timestamp * 1_000_000) as f64 / 1e6);
                        }
                    }
                    token = Some(page.next_forward_token);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        env.wait_task(&arn, "STOPPED", |t| t.last_status() == Some("STOPPED")).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = follow.kill();
        let _ = follow.wait();
        let _ = docker.kill();
        let _ = docker.wait();
        let (_, get_p99) = summary("(a) GetLogEvents (polled)", &via_get);
        let (berth_p50, _) = summary("(b) berth logs -f", &via_berth);
        let (floor_p50, _) = summary("(c) docker logs -f (engine floor)", &via_docker);
        println!(
            "  targets: (a) p99 {get_p99:.1} ms ≤ 1000 ms: {}; (b) p50 {berth_p50:.1} ms ≤ 250 ms: {} (floor p50 {floor_p50:.1} ms)",
            if get_p99 <= 1000.0 { "met" } else { "MISSED" },
            if berth_p50 <= 250.0 { "met" } else { "MISSED" }
        );

        println!("logs_speed: one container printing {CHATTY_LINES} lines of {} bytes as fast as it can", CHATTY.len());
        let script = format!("sleep 1; yes '{CHATTY}' | head -n {CHATTY_LINES}");
        let chatty = env.container("chatty", &script).memory(256).log_configuration(awslogs(&group)).build();
        let td = env.register("logs-chatty", vec![chatty]).await;
        let agent_pid = env.agents[0].as_ref().unwrap().pid();
        let (cpu_before, _) = process_usage(agent_pid);
        let arn = env.run(&td).await;
        let task_id = arn.rsplit('/').next().unwrap().to_string();
        let stream = format!("bench/chatty/{task_id}");
        let expected = (CHATTY_LINES * CHATTY.len()) as i64;
        let describe = DescribeLogStreamsRequest {
            log_group_name: Some(group.clone()),
            log_stream_name_prefix: Some(stream.clone()),
            ..Default::default()
        };
        let (first_ts, stored_at) = wait_for("every chatty line to be stored", Duration::from_secs(600), async || {
            let found: DescribeLogStreamsResponse = client.logs("DescribeLogStreams", &describe).await.map_err(|e| e.to_string())?;
            let s = found.log_streams.first().ok_or("no stream yet")?;
            if s.stored_bytes >= expected {
                Ok((s.first_event_timestamp.unwrap_or_default(), wall_ns()))
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(format!("{} of {expected} bytes", s.stored_bytes))
            }
        })
        .await;
        let (cpu_after, peak_mib) = process_usage(agent_pid);
        let secs = (stored_at - first_ts * 1_000_000) as f64 / 1e9;
        let rate = CHATTY_LINES as f64 / secs;
        env.wait_task(&arn, "STOPPED", |t| t.last_status() == Some("STOPPED")).await;
        println!(
            "  berth: {CHATTY_LINES} events durable in {secs:.2} s from the first line: {rate:.0} events/s (target ≥ 50,000: {})",
            if rate >= 50_000.0 { "met" } else { "MISSED" }
        );
        println!(
            "  agent: {:.2} s of CPU ({:.0}% of one core), peak resident memory {peak_mib:.1} MiB",
            cpu_after - cpu_before,
            100.0 * (cpu_after - cpu_before) / secs
        );

        // The floor: the same container under plain `docker run`, then its whole log read
        // back through the engine's API (`docker logs`), as fast as the engine hands it out.
        let name = format!("{}-floor", env.cluster);
        let started = Instant::now();
        let status = Command::new("docker")
            .args(["run", "--name", &name, "--label", &format!("com.amazonaws.ecs.cluster={}", env.cluster)])
            // The log file berth's agent gives awslogs containers (the engine's default may rotate sooner).
            .args(["--log-opt", "max-size=100m", "--log-opt", "max-file=5"])
            .args([&env.image.reference, "sh", "-c", &format!("yes '{CHATTY}' | head -n {CHATTY_LINES}")])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let produced = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let out = Command::new("docker").args(["logs", &name]).output().unwrap();
        let read = started.elapsed().as_secs_f64();
        let lines = out.stdout.iter().filter(|&&b| b == b'\n').count();
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
        println!(
            "  engine floor: docker run printed the {lines} lines in {produced:.2} s; docker logs read them back in {read:.2} s ({:.0} lines/s)",
            lines as f64 / read
        );
        drop(env);
    });
}
