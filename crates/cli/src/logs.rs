//! `berth logs`: the output of a service's tasks (or of some tasks), read from berth's
//! CloudWatch Logs — every container that uses the `awslogs` driver — interleaved by
//! time, each line prefixed with its container and task like `docker compose logs`.
//! `--follow` long-polls berth's FollowLogEvents, so a line shows within milliseconds of
//! reaching the server, and picks up the service's new tasks as they start.

use std::{
    collections::{BTreeMap, HashMap},
    io::Write,
    time::Duration,
};

use anyhow::Context;
use berth_client::ServerClient;
use berth_model::{
    ecs::{op, DescribeTaskDefinitionRequest},
    logs::{FollowLogEventsRequest, FollowLogEventsResponse, FollowedLogEvent, StreamRef},
    task::Task,
    task_definition::TaskDefinition,
};
use clap::Args;
use serde_json::json;

use crate::{calls::Connection, ui::Format};

#[derive(Args)]
pub struct LogsArgs {
    #[arg(long, default_value = "default")]
    cluster: String,
    /// Every task of this service (running, and stopped ones the server still lists).
    #[arg(long, conflicts_with = "task")]
    service: Option<String>,
    /// A task id or ARN; repeat for more.
    #[arg(long)]
    task: Vec<String>,
    /// Only this container's output.
    #[arg(long)]
    container: Option<String>,
    /// Only lines since: a duration ago (`90s`, `10m`, `2h`, `1d`) or a time (`2026-11-28T10:00:00Z`).
    #[arg(long)]
    since: Option<String>,
    /// Keep printing new lines (and those of tasks that start) until interrupted.
    #[arg(short, long)]
    follow: bool,
    /// `json`: one JSON object a line (timestamp, task, container, group, stream, message).
    #[arg(long, value_enum, default_value = "text")]
    output: Format,
    #[command(flatten)]
    connection: Connection,
}

/// Reads `10m`, `90s`, `2h`, `1d`, `1w` (or combinations like `1h30m`) as a duration ago,
/// or a date and time; the answer is epoch milliseconds.
pub fn parse_since(text: &str, now_ms: i64) -> anyhow::Result<i64> {
    if let Some(secs) = berth_model::time::parse_date(text) {
        return Ok((secs * 1000.0) as i64);
    }
    let mut total = 0i64;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => anyhow::bail!("--since '{text}': '{c}' is not a unit (s, m, h, d, w)"),
        };
        let n: i64 = digits.parse().with_context(|| format!("--since '{text}': a number must come before '{c}'"))?;
        total += n * unit;
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        anyhow::bail!("--since '{text}' is not a duration like 10m or 2h, nor a time like 2026-11-28T10:00:00Z");
    }
    Ok(now_ms - total * 1000)
}

/// Whose line it is.
#[derive(Debug, Clone)]
struct Label {
    task: String,
    container: String,
}

/// Follows the awslogs streams of a set of tasks.
pub struct LogFollower {
    client: ServerClient,
    streams: BTreeMap<StreamRef, Label>,
    definitions: HashMap<String, std::sync::Arc<TaskDefinition>>,
    position: Option<i64>,
    since: Option<i64>,
    json: bool,
    width: usize,
}

impl LogFollower {
    pub fn new(client: ServerClient, since: Option<i64>, json: bool) -> LogFollower {
        LogFollower {
            client,
            streams: BTreeMap::new(),
            definitions: HashMap::new(),
            position: None,
            since,
            json,
            width: 0,
        }
    }

    /// Adds the streams of these tasks' awslogs containers (`container`: only that one);
    /// those new since the last call are read from their start (or `--since`) up to where
    /// the others are, so nothing of a task that started meanwhile is missed. Returns the
    /// containers that write elsewhere (not to CloudWatch Logs).
    pub async fn add_tasks(
        &mut self,
        tasks: &[Task],
        container: Option<&str>,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let mut fresh = Vec::new();
        let mut elsewhere = Vec::new();
        for task in tasks {
            let td = self.definition(&task.task_definition_arn).await?;
            for def in
                td.container_definitions.iter().filter(|d| container.is_none_or(|c| d.name.as_deref() == Some(c)))
            {
                let name = def.name.clone().unwrap_or_default();
                let runtime_id = task
                    .containers
                    .iter()
                    .find(|c| c.name == name)
                    .and_then(|c| c.runtime_id.clone())
                    .unwrap_or_default();
                match berth_agent::logs::destination(def, task.id(), &runtime_id) {
                    Some(Ok(to)) if !to.stream.is_empty() => {
                        let key = StreamRef { log_group_name: to.options.group, log_stream_name: to.stream };
                        if !self.streams.contains_key(&key) {
                            let label = Label { task: task.id().to_string(), container: name };
                            self.width = self.width.max(label.container.len() + 9);
                            self.streams.insert(key.clone(), label);
                            fresh.push(key);
                        }
                    }
                    Some(_) => {}
                    None => elsewhere.push((name.clone(), runtime_id.clone())),
                }
            }
        }
        if let (Some(through), false) = (self.position, fresh.is_empty()) {
            let mut after = None;
            loop {
                let page = self.call(fresh.clone(), after, Some(through), 0).await?;
                if page.events.is_empty() {
                    break;
                }
                after = Some(page.position);
                self.print(page.events)?;
            }
        }
        Ok(elsewhere)
    }

    async fn definition(&mut self, arn: &str) -> anyhow::Result<std::sync::Arc<TaskDefinition>> {
        if let Some(td) = self.definitions.get(arn) {
            return Ok(td.clone());
        }
        let request = DescribeTaskDefinitionRequest { task_definition: Some(arn.to_string()), include: Vec::new() };
        let td = self.client.call::<op::DescribeTaskDefinition>(&request).await?.task_definition;
        self.definitions.insert(arn.to_string(), td.clone());
        Ok(td)
    }

    async fn call(
        &self,
        streams: Vec<StreamRef>,
        after: Option<i64>,
        through: Option<i64>,
        wait_ms: u64,
    ) -> anyhow::Result<FollowLogEventsResponse> {
        let request = FollowLogEventsRequest {
            streams,
            after,
            through,
            start_time: self.since,
            wait_ms: Some(wait_ms),
            limit: None,
        };
        Ok(self.client.signed("BerthV1.FollowLogEvents", &request).await?.0)
    }

    /// Prints what arrived (waiting up to `wait` for something); how many lines.
    pub async fn poll(&mut self, wait: Duration) -> anyhow::Result<usize> {
        let streams: Vec<StreamRef> = self.streams.keys().cloned().collect();
        let page = self.call(streams, self.position, None, wait.as_millis() as u64).await?;
        self.position = Some(page.position);
        let n = page.events.len();
        self.print(page.events)?;
        Ok(n)
    }

    /// Prints everything there is now.
    pub async fn drain(&mut self) -> anyhow::Result<()> {
        while self.poll(Duration::ZERO).await? > 0 {}
        Ok(())
    }

    fn print(&self, mut events: Vec<FollowedLogEvent>) -> anyhow::Result<()> {
        events.sort_by_key(|e| e.timestamp);
        let mut out = std::io::stdout().lock();
        for e in events {
            let key =
                StreamRef { log_group_name: e.log_group_name.clone(), log_stream_name: e.log_stream_name.clone() };
            let Some(label) = self.streams.get(&key) else { continue };
            if self.json {
                let line = json!({
                    "timestamp": e.timestamp,
                    "ingestionTime": e.ingestion_time,
                    "task": label.task,
                    "container": label.container,
                    "logGroupName": e.log_group_name,
                    "logStreamName": e.log_stream_name,
                    "message": e.message,
                });
                writeln!(out, "{line}")?;
            } else {
                let short = &label.task[..label.task.len().min(8)];
                let who = format!("{} {short}", label.container);
                for text in e.message.lines() {
                    writeln!(out, "{who:<width$} | {text}", width = self.width)?;
                }
            }
        }
        out.flush()?;
        Ok(())
    }
}

pub async fn run(args: LogsArgs) -> anyhow::Result<()> {
    if args.service.is_none() && args.task.is_empty() {
        anyhow::bail!("say whose output: --service NAME or --task ID");
    }
    let client = args.connection.client()?;
    let since = args.since.as_deref().map(|s| parse_since(s, berth_model::time::now_ms())).transpose()?;
    let mut follower = LogFollower::new(client.clone(), since, args.output == Format::Json);
    let tasks = |client: ServerClient| {
        let (cluster, service, ids) = (args.cluster.clone(), args.service.clone(), args.task.clone());
        async move { find_tasks(&client, &cluster, service.as_deref(), &ids).await }
    };
    let found = tasks(client.clone()).await?;
    let elsewhere = follower.add_tasks(&found, args.container.as_deref()).await?;
    for (container, _) in elsewhere {
        eprintln!("container {container} does not use the awslogs log driver: its output is not in berth's logs (docker logs has it on its host)");
    }
    follower.drain().await?;
    if !args.follow {
        return Ok(());
    }
    loop {
        follower.poll(Duration::from_secs(2)).await?;
        // New tasks of the service (a deployment, a replacement) join as they appear.
        let found = tasks(client.clone()).await?;
        follower.add_tasks(&found, args.container.as_deref()).await?;
    }
}

/// The service's tasks, or the named ones.
async fn find_tasks(
    client: &ServerClient,
    cluster: &str,
    service: Option<&str>,
    ids: &[String],
) -> anyhow::Result<Vec<Task>> {
    if let Some(service) = service {
        return crate::ls::tasks_of(client, cluster, Some(service), true).await;
    }
    let request = berth_model::ecs::DescribeTasksRequest {
        cluster: Some(cluster.to_string()),
        tasks: Some(ids.to_vec()),
        include: Vec::new(),
    };
    let described = client.call::<op::DescribeTasks>(&request).await?;
    if let Some(f) = described.failures.first() {
        anyhow::bail!("task {}: {}", f.arn.as_deref().unwrap_or("?"), f.reason.as_deref().unwrap_or("not found"));
    }
    Ok(described.tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_durations_and_times() {
        let now = 10_000_000_000;
        assert_eq!(parse_since("10m", now).unwrap(), now - 600_000);
        assert_eq!(parse_since("1h30m", now).unwrap(), now - 5_400_000);
        assert_eq!(parse_since("2d", now).unwrap(), now - 2 * 86_400_000);
        assert_eq!(parse_since("1970-01-02T00:00:00Z", now).unwrap(), 86_400_000);
        assert!(parse_since("10x", now).is_err());
        assert!(parse_since("10", now).is_err());
        assert!(parse_since("", now).is_err());
    }
}
