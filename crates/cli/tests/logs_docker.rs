//! The awslogs driver end to end, with real containers: every line a task prints reaches
//! berth's logs in order under ECS's stream name (multi-line events grouped), an agent
//! killed mid-stream resumes without losing or repeating a line, `berth logs -f` shows a
//! service's lines as they are printed, and a missing group without
//! `awslogs-create-group` fails the task as ECS does.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::Stdio,
};

use aws_sdk_ecs::types::{LogConfiguration, LogDriver};
use berth_client::ServerClient;
use berth_model::logs::{GetLogEventsRequest, GetLogEventsResponse};
use berth_testkit::{wait_for, DockerEnv, DEADLINE};

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

fn awslogs(group: &str, extra: &[(&str, &str)]) -> LogConfiguration {
    let mut config = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", group)
        .options("awslogs-region", "us-east-1")
        .options("awslogs-stream-prefix", "ecs");
    for (k, v) in extra {
        config = config.options(*k, *v);
    }
    config.build().unwrap()
}

fn logs_client(env: &DockerEnv) -> ServerClient {
    ServerClient::new(&env.server().endpoint, env.credential.clone(), "us-east-1").unwrap()
}

/// Every event of a stream, oldest first, paging with the forward token.
async fn stream_events(client: &ServerClient, group: &str, stream: &str) -> Result<Vec<(i64, String)>, String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let request = GetLogEventsRequest {
            log_group_name: Some(group.into()),
            log_stream_name: stream.into(),
            start_from_head: Some(true),
            next_token: token.clone(),
            ..Default::default()
        };
        let page: GetLogEventsResponse = client.logs("GetLogEvents", &request).await.map_err(|e| e.to_string())?;
        if page.events.is_empty() {
            return Ok(out);
        }
        out.extend(page.events.into_iter().map(|e| (e.timestamp, e.message)));
        token = Some(page.next_forward_token);
    }
}

fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

fn numbered(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("line {i}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_line_arrives_in_order_under_the_ecs_stream_name() {
    let mut env = DockerEnv::start(berth(), "logs-lines").await;
    env.agent(0, &[]).await;
    let group = format!("/test/{}", env.cluster);
    let printer = env
        .container("app", "i=1; while [ $i -le 2000 ]; do echo line $i; i=$((i+1)); done")
        .log_configuration(awslogs(&group, &[("awslogs-create-group", "true")]))
        .build();
    let traces = env
        .container("trace", "printf 'ERR first\\n  at one\\n  at two\\nERR second\\n'; sleep 0.2")
        .essential(false)
        .log_configuration(awslogs(&group, &[("awslogs-multiline-pattern", "^ERR")]))
        .build();
    let td = env.register("logs-lines", vec![printer, traces]).await;
    let arn = env.run(&td).await;
    env.wait_task(&arn, "STOPPED", |t| t.last_status() == Some("STOPPED")).await;

    // The agent reports STOPPED once the output is shipped: it is all there now.
    let client = logs_client(&env);
    let events = stream_events(&client, &group, &format!("ecs/app/{}", task_id(&arn))).await.unwrap();
    let lines: Vec<String> = events.iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(lines, numbered(2000));
    assert!(events.windows(2).all(|w| w[0].0 <= w[1].0), "timestamps go forward");
    let traces = stream_events(&client, &group, &format!("ecs/trace/{}", task_id(&arn))).await.unwrap();
    let traces: Vec<&str> = traces.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(traces, ["ERR first\n  at one\n  at two", "ERR second"]);

    // `berth logs --task` reads the same events, each line with its container and task.
    let out =
        env.berth_command(&["logs", "--cluster", &env.cluster, "--task", &arn, "--container", "app"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    let short = &task_id(&arn)[..8];
    let texts: Vec<&str> = printed.lines().map(|l| l.split_once(" | ").expect("a prefixed line").1).collect();
    assert_eq!(texts, numbered(2000));
    assert!(printed.lines().all(|l| l.starts_with(&format!("app {short}"))), "{}", &printed[..200]);
    env.wait_containers_removed().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn task_run_logs_prints_every_line_of_an_awslogs_task() {
    let mut env = DockerEnv::start(berth(), "logs-taskrun").await;
    env.agent(0, &[]).await;
    let group = format!("/test/{}", env.cluster);
    let job = env
        .container("job", "seq 1 500; exit 5")
        .log_configuration(awslogs(&group, &[("awslogs-create-group", "true")]))
        .build();
    let td = env.register("logs-taskrun", vec![job]).await;
    let out = env
        .berth_command(&["task", "run", "--cluster", &env.cluster, "--task-definition", &td, "--wait", "--logs"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(5), "the container's exit code: {stdout}\n{stderr}");
    let printed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_once(" | "))
        .map(|(who, text)| {
            assert!(who.starts_with("job "), "{who}");
            text
        })
        .collect();
    assert_eq!(printed, (1..=500).map(|i| i.to_string()).collect::<Vec<_>>(), "every line, in order: {stdout}");
    env.wait_containers_removed().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chatty_container_that_exits_at_once_loses_no_line() {
    // 200,000 lines in well under a second, then the container exits: the engine ends a
    // follow of an exited container's log early, and the agent must read on to the end.
    let mut env = DockerEnv::start(berth(), "logs-chatty").await;
    env.agent(0, &[]).await;
    let group = format!("/test/{}", env.cluster);
    let chatty = env
        .container("app", "seq 1 200000")
        .log_configuration(awslogs(&group, &[("awslogs-create-group", "true")]))
        .build();
    let td = env.register("logs-chatty", vec![chatty]).await;
    let arn = env.run(&td).await;
    env.wait_task(&arn, "STOPPED", |t| t.last_status() == Some("STOPPED")).await;
    let events = stream_events(&logs_client(&env), &group, &format!("ecs/app/{}", task_id(&arn))).await.unwrap();
    assert_eq!(events.len(), 200_000);
    assert!(events.iter().enumerate().all(|(i, (_, m))| m == &(i + 1).to_string()), "every number once, in order");
    env.wait_containers_removed().await;
}

/// A task printing 3,000 numbered lines over about 6 s (50 every 0.1 s), once at least 300
/// of them have reached berth: the moment the tests take the agent or the server away.
struct Printer {
    arn: String,
    group: String,
    stream: String,
    /// Lines stored by then, and the container's id in the engine.
    stored: usize,
    container: String,
}

const PRINTED: usize = 3000;

async fn printing_task(env: &DockerEnv, family: &str) -> Printer {
    let group = format!("/test/{}", env.cluster);
    let script = "i=1; while [ $i -le 3000 ]; do echo line $i; [ $((i % 50)) -eq 0 ] && sleep 0.1; i=$((i+1)); done";
    let printer =
        env.container("app", script).log_configuration(awslogs(&group, &[("awslogs-create-group", "true")])).build();
    let td = env.register(family, vec![printer]).await;
    let arn = env.run(&td).await;
    let stream = format!("ecs/app/{}", task_id(&arn));
    let stored = wait_for("some lines to arrive", DEADLINE, async || {
        match stream_events(&logs_client(env), &group, &stream).await {
            Ok(events) if events.len() >= 300 => Ok(events.len()),
            other => Err(format!("{:?}", other.map(|e| e.len()))),
        }
    })
    .await;
    let container = env.describe(&arn).await.containers()[0].runtime_id().unwrap().to_string();
    Printer { arn, group, stream, stored, container }
}

/// Waits until the engine holds `lines` lines of the container's output (it goes on
/// printing while nothing of berth reads it).
async fn engine_holds(container: &str, lines: usize) {
    wait_for("the container to print on", DEADLINE, async || {
        let held = berth_testkit::docker_cli(&["logs", container]).lines().count();
        if held >= lines {
            Ok(())
        } else {
            Err(format!("{held} lines"))
        }
    })
    .await;
}

/// Every line of the printer arrived, once, in order.
async fn all_printed(env: &DockerEnv, p: &Printer) {
    env.wait_task(&p.arn, "STOPPED", |t| t.last_status() == Some("STOPPED")).await;
    let lines: Vec<String> =
        stream_events(&logs_client(env), &p.group, &p.stream).await.unwrap().into_iter().map(|(_, m)| m).collect();
    assert_eq!(lines.len(), PRINTED, "every line once");
    assert_eq!(lines, numbered(PRINTED));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_killed_mid_stream_resumes_without_losing_or_repeating_a_line() {
    let mut env = DockerEnv::start(berth(), "logs-resume").await;
    env.agent(0, &[]).await;
    let p = printing_task(&env, "logs-resume").await;
    env.agents[0].take().unwrap().kill9();
    // The container keeps printing while no agent reads it.
    engine_holds(&p.container, (p.stored + 300).min(PRINTED)).await;
    env.agent(0, &[]).await;
    all_printed(&env, &p).await;
    env.wait_containers_removed().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_down_is_waited_for_and_no_line_is_lost() {
    let mut env = DockerEnv::start_with(berth(), "logs-serverdown", &[]).await;
    env.agent(0, &[]).await;
    let p = printing_task(&env, "logs-serverdown").await;
    let server = env.server.take().unwrap();
    let (port, data) = (server.port(), env.dir.path().join("server"));
    server.kill9();
    // The container goes on printing; the agent keeps what it read and tries again.
    engine_holds(&p.container, (p.stored + 300).min(PRINTED)).await;
    env.server = Some(berth_testkit::BerthProcess::start(berth(), &data, port));
    all_printed(&env, &p).await;
    env.wait_containers_removed().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn berth_logs_follow_shows_a_services_lines_as_they_are_printed() {
    let mut env = DockerEnv::start(berth(), "logs-follow").await;
    env.agent(0, &[]).await;
    let group = format!("/test/{}", env.cluster);
    let ticker = env
        .container("web", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done")
        .log_configuration(awslogs(&group, &[("awslogs-create-group", "true")]))
        .build();
    let td = env.register("logs-follow", vec![ticker]).await;
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("web")
        .task_definition(&td)
        .desired_count(2)
        .send()
        .await
        .unwrap();

    let mut follow = env
        .berth_command(&["logs", "--cluster", &env.cluster, "--service", "web", "--follow", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    // Read until both tasks have printed tick 10 (each prints one every 0.2 s).
    let reader = std::thread::spawn(move || {
        let mut seen: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON object a line");
            let n: u64 = v["message"].as_str().unwrap().trim_start_matches("tick ").parse().unwrap();
            seen.entry(v["task"].as_str().unwrap().to_string()).or_default().push(n);
            if seen.len() == 2 && seen.values().all(|ticks| ticks.contains(&10)) {
                break;
            }
        }
        seen
    });
    wait_for("berth logs -f to show both tasks' ticks", DEADLINE, async || {
        if reader.is_finished() {
            Ok(())
        } else {
            Err("still reading".to_string())
        }
    })
    .await;
    // The engine keeps the output in a json-file log large enough to wait for the agent.
    let ids = berth_testkit::docker_cli(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.amazonaws.ecs.cluster={}", env.cluster),
    ]);
    let id = ids.lines().next().expect("a running container");
    let log_config = berth_testkit::docker_cli(&["inspect", "--format", "{{json .HostConfig.LogConfig}}", id]);
    let log_config: serde_json::Value = serde_json::from_str(&log_config).unwrap();
    assert_eq!(log_config["Type"], "json-file");
    assert_eq!(log_config["Config"]["max-size"], "100m", "{log_config}");
    let _ = follow.kill();
    let _ = follow.wait();
    let seen = reader.join().unwrap();
    assert_eq!(seen.len(), 2, "both tasks: {seen:?}");
    for ticks in seen.values() {
        let expected: Vec<u64> = (1..=ticks.len() as u64).collect();
        assert_eq!(ticks, &expected, "each task's ticks in order, none missing");
    }
    env.ecs.delete_service().cluster(&env.cluster).service("web").force(true).send().await.unwrap();
    env.wait_containers_removed().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_group_without_create_group_fails_the_task_as_ecs_does() {
    let mut env = DockerEnv::start(berth(), "logs-nogroup").await;
    env.agent(0, &[]).await;
    let container = env.container("app", "echo hi").log_configuration(awslogs("/does/not/exist", &[])).build();
    let td = env.register("logs-nogroup", vec![container]).await;
    let arn = env.run(&td).await;
    let task = env.wait_task(&arn, "STOPPED", |t| t.last_status() == Some("STOPPED")).await;
    let reason = task.containers()[0].reason().unwrap_or_default().to_string();
    assert!(
        reason
            .starts_with("CannotStartContainerError: Error response from daemon: failed to initialize logging driver")
            && reason.contains("ResourceNotFoundException: The specified log group does not exist."),
        "{reason}"
    );
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"));
    env.wait_containers_removed().await;
}
