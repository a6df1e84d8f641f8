//! `berth service stats`: a service's running tasks with their CPU and memory, live, as
//! `docker stats` shows containers. CPU is shown in CPU units (1,024 a core) and as a
//! percentage of what the task reserves (what the AWS/ECS CPUUtilization metric averages);
//! memory in MiB and as a percentage of the reservation.

use std::{io::IsTerminal, time::Duration};

use berth_model::berth::{DescribeServiceStatsRequest, DescribeServiceStatsResponse};
use clap::Args;

use crate::{calls::Connection, ui::OutputArgs};

#[derive(Args)]
pub struct StatsArgs {
    #[arg(long, default_value = "default")]
    cluster: String,
    #[arg(long)]
    service: String,
    /// Print once and exit instead of refreshing every 2 seconds.
    #[arg(long)]
    no_stream: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    connection: Connection,
}

fn percent(used: f64, reserved: i64) -> String {
    if reserved > 0 {
        format!("{:.1}%", 100.0 * used / reserved as f64)
    } else {
        "-".into()
    }
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The table `berth service stats` prints.
pub fn render(answer: &DescribeServiceStatsResponse) -> String {
    let mut rows = vec![[
        "TASK".to_string(),
        "CONTAINER".into(),
        "STATUS".into(),
        "CPU %".into(),
        "CPU UNITS".into(),
        "MEM USAGE / RESERVED".into(),
        "MEM %".into(),
    ]];
    for t in &answer.tasks {
        let id = short(&t.task_arn).to_string();
        match &t.stats {
            None => {
                rows.push([id, "-".into(), t.last_status.to_string(), "-".into(), "-".into(), "-".into(), "-".into()])
            }
            Some(s) => {
                rows.push([
                    id.clone(),
                    "(task)".into(),
                    t.last_status.to_string(),
                    percent(s.cpu_units, t.cpu_reserved),
                    format!("{:.0} / {}", s.cpu_units, t.cpu_reserved),
                    format!("{:.1}MiB / {}MiB", s.memory_mib, t.memory_reserved),
                    percent(s.memory_mib, t.memory_reserved),
                ]);
                for c in &s.containers {
                    rows.push([
                        String::new(),
                        c.name.clone(),
                        String::new(),
                        String::new(),
                        format!("{:.0}", c.cpu_units),
                        format!("{:.1}MiB", c.memory_mib),
                        String::new(),
                    ]);
                }
            }
        }
    }
    let widths: Vec<usize> = (0..7).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if answer.tasks.is_empty() {
        out.push_str("(no running tasks)\n");
    }
    out
}

pub async fn run(args: StatsArgs) -> anyhow::Result<()> {
    let client = args.connection.client()?;
    let req = DescribeServiceStatsRequest { cluster: Some(args.cluster.clone()), service: Some(args.service.clone()) };
    let live = !args.no_stream && !args.output.json() && std::io::stdout().is_terminal();
    loop {
        let (answer, _): (DescribeServiceStatsResponse, _) =
            client.signed("BerthV1.DescribeServiceStats", &req).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if args.output.json() {
            args.output.emit("", &serde_json::to_value(&answer)?, &[])?;
        } else {
            if live {
                // Redraw in place, as docker stats does.
                print!("\x1b[2J\x1b[H");
            }
            outln!("{}", render(&answer).trim_end());
        }
        if args.no_stream || args.output.json() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use berth_model::{
        agent::{ContainerStats, TaskStats},
        berth::TaskStatsView,
        task::TaskStatus,
    };

    use super::*;

    #[test]
    fn the_table_shows_usage_against_the_reservation() {
        let answer = DescribeServiceStatsResponse {
            tasks: vec![
                TaskStatsView {
                    task_arn: "arn:aws:ecs:r:1:task/c/abc".into(),
                    last_status: TaskStatus::Running,
                    cpu_reserved: 256,
                    memory_reserved: 128,
                    stats: Some(TaskStats {
                        task_arn: "arn:aws:ecs:r:1:task/c/abc".into(),
                        cpu_units: 128.0,
                        memory_mib: 32.0,
                        containers: vec![ContainerStats { name: "app".into(), cpu_units: 128.0, memory_mib: 32.0 }],
                    }),
                    measured_at: Some(1.0),
                },
                TaskStatsView {
                    task_arn: "arn:aws:ecs:r:1:task/c/def".into(),
                    last_status: TaskStatus::Pending,
                    ..Default::default()
                },
            ],
        };
        let table = render(&answer);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("TASK"), "{table}");
        assert!(lines[1].contains("abc") && lines[1].contains("50.0%") && lines[1].contains("128 / 256"), "{table}");
        assert!(lines[1].contains("32.0MiB / 128MiB") && lines[1].ends_with("25.0%"), "{table}");
        assert!(lines[2].contains("app"), "{table}");
        assert!(lines[3].contains("def") && lines[3].contains(TaskStatus::Pending.as_str()), "{table}");
    }
}
