//! `berth task plan`: a dry run of RunTask that shows, for every instance, its rank or
//! the filter that rules it out.

use anyhow::{bail, Context};
use berth_model::{
    berth::{PlanTaskResponse, PlannedInstance},
    ecs::RunTaskRequest,
};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

use crate::calls::Connection;

#[derive(Subcommand)]
pub enum TaskCommand {
    /// Where RunTask would place tasks, and why every other instance was ruled out; exits 2
    /// when a task would be placed nowhere.
    Plan(PlanArgs),
    /// Run one task; with --wait, exit with its essential container's exit code.
    Run(crate::run_task::RunArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Args)]
pub struct PlanArgs {
    #[arg(long, default_value = "default")]
    cluster: String,
    /// family, family:revision or ARN.
    #[arg(long)]
    task_definition: String,
    #[arg(long, default_value_t = 1)]
    count: i64,
    /// The task group (default family:NAME).
    #[arg(long)]
    group: Option<String>,
    /// `type=memberOf,expression=EXPR` or `type=distinctInstance`, or a JSON list.
    #[arg(long, num_args = 1..)]
    placement_constraints: Vec<String>,
    /// `type=spread,field=attribute:ecs.availability-zone`, `type=binpack,field=memory`,
    /// `type=random`, or a JSON list.
    #[arg(long, num_args = 1..)]
    placement_strategy: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    connection: Connection,
}

/// Parses the aws CLI's shorthand (`k=v,k=v`; the last key takes the rest, commas
/// included) or JSON into a list of objects.
fn parse_items(raw: &[String], last_key: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for item in raw {
        let trimmed = item.trim();
        if trimmed.starts_with('[') || trimmed.starts_with('{') {
            match serde_json::from_str::<Value>(trimmed).with_context(|| format!("invalid JSON: {trimmed}"))? {
                Value::Array(items) => out.extend(items),
                v => out.push(v),
            }
            continue;
        }
        let mut obj = serde_json::Map::new();
        let mut rest = trimmed;
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=').with_context(|| format!("expected key=value in '{item}'"))?;
            let key = key.trim();
            let (value, next) =
                if key == last_key { (after, "") } else { after.split_once(',').unwrap_or((after, "")) };
            obj.insert(key.to_string(), Value::String(value.trim().to_string()));
            rest = next;
        }
        if !obj.contains_key("type") {
            bail!("'{item}' has no type=");
        }
        out.push(Value::Object(obj));
    }
    Ok(out)
}

pub async fn run(command: TaskCommand) -> anyhow::Result<i32> {
    match command {
        TaskCommand::Plan(args) => plan(args).await,
        TaskCommand::Run(args) => crate::run_task::run(args).await,
    }
}

/// Exit code of `task plan` when some task would be placed nowhere.
pub const UNPLACEABLE: i32 = 2;

/// Prints the plan; exits [`UNPLACEABLE`] when a task would not be placed.
async fn plan(args: PlanArgs) -> anyhow::Result<i32> {
    let client = args.connection.client()?;
    let req = RunTaskRequest {
        cluster: Some(args.cluster.clone()),
        task_definition: Some(args.task_definition.clone()),
        count: Some(args.count),
        group: args.group.clone(),
        placement_constraints: typed(parse_items(&args.placement_constraints, "expression")?)?,
        placement_strategy: typed(parse_items(&args.placement_strategy, "field")?)?,
        ..Default::default()
    };
    let (answer, _): (PlanTaskResponse, _) =
        client.signed("BerthV1.PlanTask", &req).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    match args.output {
        Output::Json => outln!("{}", serde_json::to_string_pretty(&answer)?),
        Output::Text => outln!("{}", render(&args.task_definition, &args.cluster, &answer).trim_end()),
    }
    let unplaced = answer.placements.iter().any(Option::is_none);
    Ok(if unplaced { UNPLACEABLE } else { 0 })
}

/// Parsed items as the request's placement constraints or strategies.
fn typed<T: serde::de::DeserializeOwned>(items: Vec<Value>) -> anyhow::Result<Vec<T>> {
    items.into_iter().map(|v| serde_json::from_value(v).context("invalid placement item")).collect()
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The plan as a person reads it.
fn render(td: &str, cluster: &str, answer: &PlanTaskResponse) -> String {
    let mut out = String::new();
    let strategies: Vec<String> = answer
        .strategies
        .iter()
        .map(|s| {
            let kind = s.kind.as_deref().unwrap_or("");
            match &s.field {
                Some(f) => format!("{kind}({f})"),
                None => kind.to_string(),
            }
        })
        .collect();
    out.push_str(&format!("Plan for {td} in cluster {cluster}; strategies: {}\n", strategies.join(", ")));
    for (n, p) in answer.placements.iter().enumerate() {
        match p {
            Some(arn) => out.push_str(&format!("  task {} -> {}\n", n + 1, short(arn))),
            None => out.push_str(&format!("  task {} -> nowhere: no instance passes every filter\n", n + 1)),
        }
    }
    out.push_str("Instances, for the next task:\n");
    let mut rows: Vec<&PlannedInstance> = answer.instances.iter().collect();
    rows.sort_by_key(|r| r.rank.unwrap_or(usize::MAX));
    for r in rows {
        let id = short(&r.container_instance_arn);
        match r.rank {
            Some(rank) => {
                out.push_str(&format!("  #{rank:<4} {id}"));
                if !r.bucket.is_empty() {
                    out.push_str(&format!("  bucket {}", r.bucket.join("/")));
                }
                if !r.key.is_empty() {
                    let key: Vec<String> = r.key.iter().map(i64::to_string).collect();
                    out.push_str(&format!("  key {}", key.join(",")));
                }
                out.push('\n');
            }
            None => out.push_str(&format!(
                "  -     {id}  {}: {}\n",
                r.reason.as_deref().unwrap_or(""),
                r.detail.as_deref().unwrap_or("")
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shorthand_and_json() {
        let items = parse_items(
            &["type=memberOf,expression=attribute:az in [a, b]".into(), r#"[{"type":"distinctInstance"}]"#.into()],
            "expression",
        )
        .unwrap();
        assert_eq!(items[0], json!({"type": "memberOf", "expression": "attribute:az in [a, b]"}));
        assert_eq!(items[1], json!({"type": "distinctInstance"}));
        let s = parse_items(&["type=binpack,field=memory".into()], "field").unwrap();
        assert_eq!(s[0], json!({"type": "binpack", "field": "memory"}));
        assert!(parse_items(&["memory".into()], "field").is_err());
    }

    #[test]
    fn renders_ranks_and_reasons() {
        let answer = json!({
            "strategies": [{"type": "binpack", "field": "memory"}],
            "placements": ["arn:x/i1", null],
            "instances": [
                {"containerInstanceArn": "arn:x/i2", "reason": "RESOURCE:MEMORY", "detail": "memory: needs 512 MiB, 300 free"},
                {"containerInstanceArn": "arn:x/i1", "rank": 1, "key": [600]}
            ]
        });
        let text = render("web", "default", &serde_json::from_value(answer).unwrap());
        assert!(text.contains("strategies: binpack(memory)"), "{text}");
        assert!(text.contains("task 1 -> i1") && text.contains("task 2 -> nowhere"), "{text}");
        assert!(text.contains("#1    i1  key 600"), "{text}");
        assert!(text.contains("i2  RESOURCE:MEMORY: memory: needs 512 MiB, 300 free"), "{text}");
    }
}
