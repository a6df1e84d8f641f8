//! CloudWatch Logs with the real aws CLIs (v1 from pip, v2 from Debian): groups, streams,
//! PutLogEvents with CloudWatch's checks, GetLogEvents' tokens, FilterLogEvents' patterns
//! and paging, retention, tags and errors, against `berth server`; `aws logs tail` (v2).

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::Stdio,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use berth_testkit::{installed_clis, AwsCli, BerthProcess};
use serde_json::{json, Value};

/// `aws logs` against the server, with the helpers these tests share.
struct Logs<'a>(AwsCli<'a>);

impl<'a> std::ops::Deref for Logs<'a> {
    type Target = AwsCli<'a>;

    fn deref(&self) -> &AwsCli<'a> {
        &self.0
    }
}

impl Logs<'_> {
    fn put(&self, group: &str, stream: &str, events: &Value) -> Value {
        self.json(&[
            "put-log-events",
            "--log-group-name",
            group,
            "--log-stream-name",
            stream,
            "--log-events",
            &events.to_string(),
        ])
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn messages(events: &Value) -> Vec<String> {
    events.as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()).collect()
}

#[test]
fn every_logs_command_works_with_both_aws_clis() {
    let clis = installed_clis();
    assert!(!clis.is_empty(), "no aws CLI installed");
    for cli in &clis {
        let dir = tempfile::tempdir().unwrap();
        let server = BerthProcess::start(Path::new(env!("CARGO_BIN_EXE_berth")), dir.path(), 0);
        let logs = Logs(AwsCli { cli, server: &server, service: "logs" });
        groups_and_streams(&logs);
        events_and_tokens(&logs);
        filters(&logs);
        retention_and_tags(&logs);
        if logs.run(&["tail", "help"]).0 {
            tail(&logs);
        }
    }
}

fn groups_and_streams(logs: &Logs) {
    logs.json(&["create-log-group", "--log-group-name", "/app/web", "--tags", "team=a"]);
    logs.json(&["create-log-group", "--log-group-name", "/app/worker"]);
    logs.json(&["create-log-group", "--log-group-name", "other"]);
    logs.fails(&["create-log-group", "--log-group-name", "/app/web"], "ResourceAlreadyExistsException");
    logs.fails(&["create-log-group", "--log-group-name", "bad name!"], "InvalidParameterException");
    let found = logs.json(&["describe-log-groups", "--log-group-name-prefix", "/app/"]);
    let names: Vec<&str> =
        found["logGroups"].as_array().unwrap().iter().map(|g| g["logGroupName"].as_str().unwrap()).collect();
    assert_eq!(names, ["/app/web", "/app/worker"]);
    assert_eq!(found["logGroups"][0]["arn"], "arn:aws:logs:us-east-1:000000000000:log-group:/app/web:*");
    let found = logs.json(&["describe-log-groups", "--log-group-name-pattern", "WORK"]);
    assert_eq!(found["logGroups"].as_array().unwrap().len(), 1);
    logs.fails(
        &["describe-log-groups", "--log-group-name-prefix", "/a", "--log-group-name-pattern", "w"],
        "InvalidParameterException",
    );
    // Paging: one group a page, all three in the end.
    let page = logs.json(&["describe-log-groups", "--limit", "1", "--no-paginate"]);
    assert_eq!(page["logGroups"].as_array().unwrap().len(), 1);
    let next = page["nextToken"].as_str().expect("a nextToken").to_string();
    let page = logs.json(&["describe-log-groups", "--limit", "1", "--next-token", &next, "--no-paginate"]);
    assert_eq!(page["logGroups"][0]["logGroupName"], "/app/worker");

    for stream in ["b-stream", "a-stream", "c-stream"] {
        logs.json(&["create-log-stream", "--log-group-name", "/app/web", "--log-stream-name", stream]);
    }
    logs.fails(
        &["create-log-stream", "--log-group-name", "/app/web", "--log-stream-name", "a-stream"],
        "ResourceAlreadyExistsException",
    );
    logs.fails(
        &["create-log-stream", "--log-group-name", "/nope", "--log-stream-name", "x"],
        "ResourceNotFoundException",
    );
    let t = now_ms();
    logs.put("/app/web", "c-stream", &json!([{ "timestamp": t - 2000, "message": "old" }]));
    logs.put("/app/web", "a-stream", &json!([{ "timestamp": t, "message": "new" }]));
    let by_name = logs.json(&["describe-log-streams", "--log-group-name", "/app/web"]);
    let names: Vec<&str> =
        by_name["logStreams"].as_array().unwrap().iter().map(|s| s["logStreamName"].as_str().unwrap()).collect();
    assert_eq!(names, ["a-stream", "b-stream", "c-stream"]);
    let by_time = logs.json(&[
        "describe-log-streams",
        "--log-group-name",
        "/app/web",
        "--order-by",
        "LastEventTime",
        "--descending",
    ]);
    assert_eq!(by_time["logStreams"][0]["logStreamName"], "a-stream");
    assert_eq!(by_time["logStreams"][0]["lastEventTimestamp"], t);
    let prefixed =
        logs.json(&["describe-log-streams", "--log-group-name", "/app/web", "--log-stream-name-prefix", "b-"]);
    assert_eq!(prefixed["logStreams"].as_array().unwrap().len(), 1);
    logs.fails(
        &[
            "describe-log-streams",
            "--log-group-name",
            "/app/web",
            "--order-by",
            "LastEventTime",
            "--log-stream-name-prefix",
            "b",
        ],
        "InvalidParameterException",
    );
    logs.json(&["delete-log-stream", "--log-group-name", "/app/web", "--log-stream-name", "b-stream"]);
    logs.fails(
        &["delete-log-stream", "--log-group-name", "/app/web", "--log-stream-name", "b-stream"],
        "ResourceNotFoundException",
    );
    logs.json(&["delete-log-group", "--log-group-name", "other"]);
    logs.fails(&["delete-log-group", "--log-group-name", "other"], "ResourceNotFoundException");
}

fn events_and_tokens(logs: &Logs) {
    logs.json(&["create-log-stream", "--log-group-name", "/app/worker", "--log-stream-name", "s"]);
    let t = now_ms() - 60_000;
    let events: Vec<Value> =
        (0..25).map(|i| json!({ "timestamp": t + i, "message": format!("line {i:02}") })).collect();
    let answer = logs.put("/app/worker", "s", &Value::Array(events));
    assert!(answer["nextSequenceToken"].is_string() && answer.get("rejectedLogEventsInfo").is_none(), "{answer}");

    // Forward from the head, ten at a time; at the end the same token comes back.
    let get = |extra: &[&str]| {
        let mut args =
            vec!["get-log-events", "--log-group-name", "/app/worker", "--log-stream-name", "s", "--limit", "10"];
        args.extend_from_slice(extra);
        logs.json(&args)
    };
    let mut seen = Vec::new();
    let mut page = get(&["--start-from-head"]);
    loop {
        let got = messages(&page["events"]);
        seen.extend(got.clone());
        let token = page["nextForwardToken"].as_str().unwrap().to_string();
        let next = get(&["--next-token", &token]);
        if got.is_empty() {
            assert_eq!(next["nextForwardToken"], token.as_str(), "the end repeats its token");
            break;
        }
        page = next;
    }
    assert_eq!(seen, (0..25).map(|i| format!("line {i:02}")).collect::<Vec<_>>());
    // Without startFromHead: the newest ten, then backwards.
    let newest = get(&[]);
    assert_eq!(messages(&newest["events"]).first().map(String::as_str), Some("line 15"));
    let back = newest["nextBackwardToken"].as_str().unwrap().to_string();
    let older = get(&["--next-token", &back]);
    assert_eq!(messages(&older["events"]), (5..15).map(|i| format!("line {i:02}")).collect::<Vec<_>>());
    // A time window: startTime included, endTime not.
    let window = logs.json(&[
        "get-log-events",
        "--log-group-name",
        "/app/worker",
        "--log-stream-name",
        "s",
        "--start-from-head",
        "--start-time",
        &(t + 3).to_string(),
        "--end-time",
        &(t + 6).to_string(),
    ]);
    assert_eq!(messages(&window["events"]), ["line 03", "line 04", "line 05"]);

    // CloudWatch's checks: too old, too new and expired events are refused, the rest kept.
    let now = now_ms();
    let mixed = json!([
        { "timestamp": now - 15 * 86_400_000i64, "message": "ancient" },
        { "timestamp": now, "message": "fine" },
        { "timestamp": now + 3 * 3_600_000i64, "message": "future" },
    ]);
    let answer = logs.put("/app/worker", "s", &mixed);
    assert_eq!(answer["rejectedLogEventsInfo"]["tooOldLogEventEndIndex"], 0, "{answer}");
    assert_eq!(answer["rejectedLogEventsInfo"]["tooNewLogEventStartIndex"], 2, "{answer}");
    let unordered = json!([{ "timestamp": now, "message": "b" }, { "timestamp": now - 5, "message": "a" }]);
    let args = [
        "put-log-events",
        "--log-group-name",
        "/app/worker",
        "--log-stream-name",
        "s",
        "--log-events",
        &unordered.to_string(),
    ];
    assert!(logs.fails(&args, "InvalidParameterException").contains("chronological"));
    let wide = json!([{ "timestamp": now - 3 * 86_400_000i64, "message": "a" }, { "timestamp": now, "message": "b" }]);
    let args = [
        "put-log-events",
        "--log-group-name",
        "/app/worker",
        "--log-stream-name",
        "s",
        "--log-events",
        &wide.to_string(),
    ];
    assert!(logs.fails(&args, "InvalidParameterException").contains("24 hours"));
    let args = [
        "put-log-events",
        "--log-group-name",
        "/app/worker",
        "--log-stream-name",
        "missing",
        "--log-events",
        &mixed.to_string(),
    ];
    logs.fails(&args, "ResourceNotFoundException");
    let all = logs.json(&[
        "get-log-events",
        "--log-group-name",
        "/app/worker",
        "--log-stream-name",
        "s",
        "--start-from-head",
    ]);
    assert_eq!(all["events"].as_array().unwrap().len(), 26, "25 lines and 'fine'");
}

fn filters(logs: &Logs) {
    logs.json(&["create-log-group", "--log-group-name", "/app/api"]);
    let t = now_ms() - 10_000;
    let lines = [
        ("one", "ERROR disk full"),
        ("two", "WARN disk at 90%"),
        ("one", "INFO all good"),
        ("two", r#"{"level":"error","latency":250,"user":{"id":"u-1"}}"#),
        ("one", r#"{"level":"info","latency":20}"#),
        ("two", "ERROR retrying"),
    ];
    for stream in ["one", "two"] {
        logs.json(&["create-log-stream", "--log-group-name", "/app/api", "--log-stream-name", stream]);
    }
    for (i, (stream, message)) in lines.iter().enumerate() {
        logs.put("/app/api", stream, &json!([{ "timestamp": t + i as i64, "message": message }]));
    }
    let filter = |pattern: &str, extra: &[&str]| {
        let mut args = vec!["filter-log-events", "--log-group-name", "/app/api", "--filter-pattern", pattern];
        args.extend_from_slice(extra);
        messages(&logs.json(&args)["events"])
    };
    assert_eq!(filter("ERROR", &[]), ["ERROR disk full", "ERROR retrying"]);
    assert_eq!(filter("\"disk full\"", &[]), ["ERROR disk full"]);
    assert_eq!(filter("?WARN ?INFO", &[]), ["WARN disk at 90%", "INFO all good"]);
    assert_eq!(filter("ERROR -retrying", &[]), ["ERROR disk full"]);
    assert_eq!(filter(r#"{ $.level = "error" }"#, &[]), [lines[3].1]);
    assert_eq!(filter("{ $.latency > 100 || $.user.id = \"u-*\" }", &[]), [lines[3].1]);
    assert_eq!(filter("{ $.latency < 100 }", &[]), [lines[4].1]);
    assert_eq!(filter("", &["--log-stream-names", "one"]).len(), 3);
    assert_eq!(
        filter("ERROR", &["--start-time", &(t + 1).to_string(), "--end-time", &(t + 5).to_string()]),
        ["ERROR retrying"]
    );
    logs.fails(
        &["filter-log-events", "--log-group-name", "/app/api", "--filter-pattern", "{ $.level = }"],
        "InvalidParameterException",
    );
    logs.fails(
        &["filter-log-events", "--log-group-name", "/app/api", "--log-stream-names", "nope"],
        "ResourceNotFoundException",
    );
    // Interleaved across streams by time, each with its stream and an event id.
    let all = logs.json(&["filter-log-events", "--log-group-name", "/app/api"]);
    assert_eq!(messages(&all["events"]), lines.iter().map(|(_, m)| m.to_string()).collect::<Vec<_>>());
    assert_eq!(all["events"][1]["logStreamName"], "two");
    assert!(all["events"][0]["eventId"].as_str().is_some_and(|id| !id.is_empty()));
    // Paging by token: two a page.
    let page = logs.json(&["filter-log-events", "--log-group-name", "/app/api", "--limit", "2", "--no-paginate"]);
    assert_eq!(messages(&page["events"]), [lines[0].1, lines[1].1]);
    let token = page["nextToken"].as_str().expect("a nextToken").to_string();
    let page = logs.json(&[
        "filter-log-events",
        "--log-group-name",
        "/app/api",
        "--limit",
        "2",
        "--no-paginate",
        "--next-token",
        &token,
    ]);
    assert_eq!(messages(&page["events"]), [lines[2].1, lines[3].1]);
    // The CLI's own paging gathers every page.
    let paged = logs.json(&["filter-log-events", "--log-group-name", "/app/api", "--page-size", "2"]);
    assert_eq!(paged["events"].as_array().unwrap().len(), 6);
}

fn retention_and_tags(logs: &Logs) {
    logs.json(&["create-log-group", "--log-group-name", "/app/old"]);
    logs.json(&["create-log-stream", "--log-group-name", "/app/old", "--log-stream-name", "s"]);
    let now = now_ms();
    logs.put("/app/old", "s", &json!([{ "timestamp": now - 3 * 86_400_000i64, "message": "three days old" }]));
    logs.put("/app/old", "s", &json!([{ "timestamp": now, "message": "fresh" }]));
    logs.fails(
        &["put-retention-policy", "--log-group-name", "/app/old", "--retention-in-days", "2"],
        "InvalidParameterException",
    );
    logs.json(&["put-retention-policy", "--log-group-name", "/app/old", "--retention-in-days", "1"]);
    let group = &logs.json(&["describe-log-groups", "--log-group-name-prefix", "/app/old"])["logGroups"][0];
    assert_eq!(group["retentionInDays"], 1);
    let left =
        logs.json(&["get-log-events", "--log-group-name", "/app/old", "--log-stream-name", "s", "--start-from-head"]);
    assert_eq!(messages(&left["events"]), ["fresh"], "retention removed the old event");
    // An event older than the retention is refused as expired.
    let answer = logs.put("/app/old", "s", &json!([{ "timestamp": now - 2 * 86_400_000i64, "message": "late" }]));
    assert_eq!(answer["rejectedLogEventsInfo"]["expiredLogEventEndIndex"], 0, "{answer}");
    logs.json(&["delete-retention-policy", "--log-group-name", "/app/old"]);
    let group = &logs.json(&["describe-log-groups", "--log-group-name-prefix", "/app/old"])["logGroups"][0];
    assert!(group.get("retentionInDays").is_none(), "{group}");

    let arn = "arn:aws:logs:us-east-1:000000000000:log-group:/app/old";
    logs.json(&["tag-resource", "--resource-arn", arn, "--tags", "env=dev,team=core"]);
    logs.json(&["untag-resource", "--resource-arn", arn, "--tag-keys", "team"]);
    assert_eq!(logs.json(&["list-tags-for-resource", "--resource-arn", arn])["tags"], json!({ "env": "dev" }));
    logs.json(&["tag-log-group", "--log-group-name", "/app/old", "--tags", "tier=2"]);
    assert_eq!(
        logs.json(&["list-tags-log-group", "--log-group-name", "/app/old"])["tags"],
        json!({ "env": "dev", "tier": "2" })
    );
    logs.fails(
        &["list-tags-for-resource", "--resource-arn", "arn:aws:logs:us-east-1:000000000000:log-group:/none"],
        "ResourceNotFoundException",
    );
}

/// `aws logs tail` (CLI v2): what is there, then `--follow` shows a new event.
fn tail(logs: &Logs) {
    logs.json(&["create-log-group", "--log-group-name", "/app/tail"]);
    logs.json(&["create-log-stream", "--log-group-name", "/app/tail", "--log-stream-name", "t"]);
    logs.put("/app/tail", "t", &json!([{ "timestamp": now_ms(), "message": "before" }]));
    let (ok, out, err) = logs.run(&["tail", "/app/tail", "--since", "1h"]);
    assert!(ok && out.contains("before"), "{out} {err}");

    let endpoint = format!("http://127.0.0.1:{}", logs.server.port());
    let mut child = logs
        .server
        .aws_command(logs.cli, &endpoint, "us-east-1")
        .args(["logs", "tail", "/app/tail", "--follow", "--since", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Lines as the follower prints them, read on a thread of their own.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).try_for_each(|l| tx.send(l)));
    let mut lines = Vec::new();
    // Waits (up to 30 s) for a printed line containing `text`.
    let mut wait_for_line = |text: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !lines.iter().any(|l: &String| l.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => return Err(format!("tail --follow never showed '{text}': {lines:?}")),
            }
        }
        Ok(())
    };
    // It is following once it has shown what was there; then a new event must come.
    let shown = wait_for_line("before");
    if shown.is_ok() {
        logs.put("/app/tail", "t", &json!([{ "timestamp": now_ms(), "message": "after" }]));
    }
    let result = shown.and_then(|()| wait_for_line("after"));
    let _ = child.kill();
    let _ = child.wait();
    result.unwrap();
}
