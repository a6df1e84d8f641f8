//! The log service on a real SQLite file: what is acknowledged survives a reopen, a batch
//! sent again with the same cursor is stored once, a follower wakes on the commit that
//! brings its stream an event, a backfill stops where it is told, and the sweep enforces
//! retention.

use std::time::{Duration, Instant};

use berth_logs::Logs;
use berth_model::logs::*;

const REGION: &str = "us-east-1";

fn now_ms() -> i64 {
    berth_logs::now_ms()
}

async fn stream(logs: &Logs, group: &str, stream: &str) {
    let _ = logs
        .create_log_group(REGION, CreateLogGroupRequest { log_group_name: group.into(), ..Default::default() })
        .await;
    logs.create_log_stream(REGION, LogStreamRequest { log_group_name: group.into(), log_stream_name: stream.into() })
        .await
        .unwrap();
}

fn put(group: &str, stream: &str, messages: &[&str], cursor: Option<&str>) -> PutLogEventsRequest {
    let t = now_ms();
    PutLogEventsRequest {
        log_group_name: group.into(),
        log_stream_name: stream.into(),
        log_events: messages.iter().map(|m| InputLogEvent { timestamp: t, message: m.to_string() }).collect(),
        berth_cursor: cursor.map(String::from),
        ..Default::default()
    }
}

async fn all(logs: &Logs, group: &str, stream: &str) -> Vec<String> {
    let request = GetLogEventsRequest {
        log_group_name: Some(group.into()),
        log_stream_name: stream.into(),
        start_from_head: Some(true),
        ..Default::default()
    };
    logs.get_log_events(REGION, request).await.unwrap().events.into_iter().map(|e| e.message).collect()
}

#[tokio::test]
async fn acknowledged_events_survive_a_reopen_and_a_repeated_batch_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let logs = Logs::open(dir.path(), "000000000000").unwrap();
        stream(&logs, "g", "s").await;
        logs.put_log_events(REGION, put("g", "s", &["a", "b"], Some("10:0"))).await.unwrap();
        // The agent's answer was lost; it sends the same batch again.
        logs.put_log_events(REGION, put("g", "s", &["a", "b"], Some("10:0"))).await.unwrap();
        logs.put_log_events(REGION, put("g", "s", &["c"], Some("11:0"))).await.unwrap();
    }
    let logs = Logs::open(dir.path(), "000000000000").unwrap();
    assert_eq!(all(&logs, "g", "s").await, ["a", "b", "c"]);
    let described = logs
        .describe_log_streams(
            REGION,
            DescribeLogStreamsRequest { log_group_name: Some("g".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(described.log_streams[0].berth_cursor.as_deref(), Some("11:0"), "where shipping got to");
}

#[tokio::test]
async fn a_follower_wakes_on_the_commit_and_a_backfill_stops_where_told() {
    let dir = tempfile::tempdir().unwrap();
    let logs = Logs::open(dir.path(), "000000000000").unwrap();
    stream(&logs, "g", "one").await;
    stream(&logs, "g", "two").await;
    let one = StreamRef { log_group_name: "g".into(), log_stream_name: "one".into() };
    let two = StreamRef { log_group_name: "g".into(), log_stream_name: "two".into() };
    let first = logs
        .follow_log_events(REGION, FollowLogEventsRequest { streams: vec![one.clone()], ..Default::default() })
        .await
        .unwrap();
    assert!(first.events.is_empty());

    let waiting = {
        let logs = logs.clone();
        let request = FollowLogEventsRequest {
            streams: vec![one.clone()],
            after: Some(first.position),
            wait_ms: Some(10_000),
            ..Default::default()
        };
        tokio::spawn(async move {
            let started = Instant::now();
            (logs.follow_log_events(REGION, request).await.unwrap(), started.elapsed())
        })
    };
    // A commit to a stream it does not follow wakes it only to wait on.
    logs.put_log_events(REGION, put("g", "two", &["not followed"], None)).await.unwrap();
    logs.put_log_events(REGION, put("g", "one", &["hello"], None)).await.unwrap();
    let (page, waited) = waiting.await.unwrap();
    assert_eq!(page.events.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["hello"]);
    assert!(waited < Duration::from_secs(5), "woken by the commit, not the wait's end: {waited:?}");

    // Stream `two` joins late: its events up to where `one` got are read once.
    logs.put_log_events(REGION, put("g", "two", &["later"], None)).await.unwrap();
    let backfill = logs
        .follow_log_events(
            REGION,
            FollowLogEventsRequest { streams: vec![two.clone()], through: Some(page.position), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(backfill.events.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["not followed"]);
    let next = logs
        .follow_log_events(
            REGION,
            FollowLogEventsRequest { streams: vec![one, two], after: Some(page.position), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(next.events.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["later"]);
}

#[tokio::test]
async fn the_periodic_sweep_enforces_retention() {
    let dir = tempfile::tempdir().unwrap();
    let logs = Logs::open(dir.path(), "000000000000").unwrap();
    stream(&logs, "g", "s").await;
    let mut old = put("g", "s", &["old"], None);
    old.log_events[0].timestamp = now_ms() - 2 * 86_400_000;
    logs.put_log_events(REGION, old).await.unwrap();
    logs.put_log_events(REGION, put("g", "s", &["new"], None)).await.unwrap();
    // Set the retention behind the service's back (as if it was set before the events
    // aged), so only the periodic sweep can remove the old event.
    logs.store()
        .write(|conn| {
            conn.execute("UPDATE log_groups SET retention_days = 1", []).map_err(berth_logs::store::db)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(all(&logs, "g", "s").await, ["old", "new"]);
    let sweeper = logs.spawn_retention_sweep(Duration::from_millis(50));
    let deadline = Instant::now() + Duration::from_secs(10);
    while all(&logs, "g", "s").await != ["new"] {
        assert!(Instant::now() < deadline, "the sweep did not remove the expired event");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sweeper.abort();
}

#[tokio::test]
async fn past_the_group_quota_creating_a_group_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let logs = Logs::open(dir.path(), "000000000000").unwrap().with_group_limit(2);
    for name in ["a", "b"] {
        logs.create_log_group(REGION, CreateLogGroupRequest { log_group_name: name.into(), ..Default::default() })
            .await
            .unwrap();
    }
    let refused = logs
        .create_log_group(REGION, CreateLogGroupRequest { log_group_name: "c".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(refused.code, "LimitExceededException");
    let groups = logs.describe_log_groups(REGION, DescribeLogGroupsRequest::default()).await.unwrap();
    assert_eq!(groups.log_groups.len(), 2);
    // Other regions have quotas of their own.
    logs.create_log_group("eu-west-1", CreateLogGroupRequest { log_group_name: "c".into(), ..Default::default() })
        .await
        .unwrap();
}
