//! `berth ls clusters|services|tasks|instances`: what is there, as a table or JSON.

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use crate::calls::{call, Connection};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    Clusters,
    Services,
    Tasks,
    Instances,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableOrJson {
    Table,
    Json,
}

#[derive(Args)]
pub struct LsArgs {
    what: What,
    #[arg(long, default_value = "default")]
    cluster: String,
    /// Only tasks of this service (with `tasks`).
    #[arg(long)]
    service: Option<String>,
    /// With `tasks`: include tasks that are stopped or stopping.
    #[arg(long)]
    all: bool,
    #[arg(long, value_enum, default_value = "table")]
    output: TableOrJson,
    #[command(flatten)]
    connection: Connection,
}

/// Every page of a List* call: the ARNs under `key`.
pub async fn list_all(
    client: &berth_client::ServerClient,
    operation: &str,
    body: Value,
    key: &str,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut b = body.clone();
        if let Some(t) = &token {
            b["nextToken"] = json!(t);
        }
        let page = call(client, operation, &b).await?;
        out.extend(page[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)));
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(out),
        }
    }
}

/// Describes ARNs in batches the Describe* call accepts.
async fn describe(
    client: &berth_client::ServerClient,
    operation: &str,
    cluster: &str,
    key: &str,
    arns: &[String],
    batch: usize,
    result: &str,
) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for chunk in arns.chunks(batch) {
        let d = call(client, operation, &json!({"cluster": cluster, key: chunk})).await?;
        out.extend(d[result].as_array().cloned().unwrap_or_default());
    }
    Ok(out)
}

fn last(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Renders rows as aligned columns.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())));
    out.join("\n")
}

/// `container:hostPort->containerPort/protocol` for a task's bindings.
pub fn ports(task: &Value) -> String {
    task["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| {
            let name = c["name"].as_str().unwrap_or("").to_string();
            c["networkBindings"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |b| format!("{name}:{}", binding(&b)))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One container's published ports, `HOST->CONTAINER/PROTO`.
pub fn container_ports(container: &Value) -> String {
    container["networkBindings"].as_array().into_iter().flatten().map(binding).collect::<Vec<_>>().join(",")
}

fn binding(b: &Value) -> String {
    format!("{}->{}/{}", b["hostPort"], b["containerPort"], b["protocol"].as_str().unwrap_or("tcp"))
}

/// The cluster's (or service's) tasks that should run, and with `include_stopped` those
/// stopped or stopping too.
pub async fn tasks_of(
    client: &berth_client::ServerClient,
    cluster: &str,
    service: Option<&str>,
    include_stopped: bool,
) -> anyhow::Result<Vec<Value>> {
    let mut body = json!({"cluster": cluster});
    if let Some(s) = service {
        body["serviceName"] = json!(s);
    }
    let mut arns = list_all(client, "ListTasks", body.clone(), "taskArns").await?;
    if include_stopped {
        body["desiredStatus"] = json!(berth_model::task::TaskStatus::Stopped.as_str());
        arns.extend(list_all(client, "ListTasks", body, "taskArns").await?);
    }
    describe(client, "DescribeTasks", cluster, "tasks", &arns, 100, "tasks").await
}

pub async fn run(args: LsArgs) -> anyhow::Result<()> {
    let client = args.connection.client()?;
    let c = &args.cluster;
    let (items, header, rows): (Vec<Value>, Vec<&str>, Vec<Vec<String>>) = match args.what {
        What::Clusters => {
            let arns = list_all(&client, "ListClusters", json!({}), "clusterArns").await?;
            let d = call(&client, "DescribeClusters", &json!({"clusters": arns})).await?;
            let items = d["clusters"].as_array().cloned().unwrap_or_default();
            let rows = items
                .iter()
                .map(|x| {
                    vec![
                        x["clusterName"].as_str().unwrap_or("").into(),
                        x["status"].as_str().unwrap_or("").into(),
                        x["registeredContainerInstancesCount"].to_string(),
                        x["activeServicesCount"].to_string(),
                        x["runningTasksCount"].to_string(),
                        x["pendingTasksCount"].to_string(),
                    ]
                })
                .collect();
            (items, vec!["CLUSTER", "STATUS", "INSTANCES", "SERVICES", "RUNNING", "PENDING"], rows)
        }
        What::Services => {
            let arns = list_all(&client, "ListServices", json!({"cluster": c}), "serviceArns").await?;
            let items = describe(&client, "DescribeServices", c, "services", &arns, 10, "services").await?;
            let rows = items
                .iter()
                .map(|x| {
                    vec![
                        x["serviceName"].as_str().unwrap_or("").into(),
                        x["status"].as_str().unwrap_or("").into(),
                        last(x["taskDefinition"].as_str().unwrap_or("")).into(),
                        x["desiredCount"].to_string(),
                        x["runningCount"].to_string(),
                        x["pendingCount"].to_string(),
                        x["deployments"][0]["rolloutState"].as_str().unwrap_or("").into(),
                    ]
                })
                .collect();
            (items, vec!["SERVICE", "STATUS", "TASK DEFINITION", "DESIRED", "RUNNING", "PENDING", "ROLLOUT"], rows)
        }
        What::Tasks => {
            let items = tasks_of(&client, c, args.service.as_deref(), args.all).await?;
            let rows = items
                .iter()
                .map(|t| {
                    vec![
                        last(t["taskArn"].as_str().unwrap_or("")).into(),
                        last(t["taskDefinitionArn"].as_str().unwrap_or("")).into(),
                        t["lastStatus"].as_str().unwrap_or("").into(),
                        t["desiredStatus"].as_str().unwrap_or("").into(),
                        t["healthStatus"].as_str().unwrap_or("").into(),
                        t["group"].as_str().unwrap_or("").into(),
                        ports(t),
                    ]
                })
                .collect();
            (items, vec!["TASK", "TASK DEFINITION", "STATUS", "DESIRED", "HEALTH", "GROUP", "PORTS"], rows)
        }
        What::Instances => {
            let arns =
                list_all(&client, "ListContainerInstances", json!({"cluster": c}), "containerInstanceArns").await?;
            let items = describe(
                &client,
                "DescribeContainerInstances",
                c,
                "containerInstances",
                &arns,
                100,
                "containerInstances",
            )
            .await?;
            let rows = items
                .iter()
                .map(|x| {
                    vec![
                        last(x["containerInstanceArn"].as_str().unwrap_or("")).into(),
                        x["status"].as_str().unwrap_or("").into(),
                        x["agentConnected"].to_string(),
                        x["runningTasksCount"].to_string(),
                        x["pendingTasksCount"].to_string(),
                    ]
                })
                .collect();
            (items, vec!["INSTANCE", "STATUS", "CONNECTED", "RUNNING", "PENDING"], rows)
        }
    };
    match args.output {
        TableOrJson::Json => outln!("{}", serde_json::to_string_pretty(&items)?),
        TableOrJson::Table => outln!("{}", table(&header, &rows)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(&["A", "LONGER"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    LONGER\nxyz  1");
        let task = json!({"containers": [{"name": "web", "networkBindings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}]});
        assert_eq!(ports(&task), "web:8080->80/tcp");
    }
}
