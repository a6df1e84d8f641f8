//! `berth ls clusters|services|tasks|instances|capacity`: what is there, as a table or JSON.

use berth_client::ServerClient;
use berth_model::{
    ecs::{
        op, DescribeClustersRequest, DescribeContainerInstancesRequest, DescribeServicesRequest, DescribeTasksRequest,
        ListClustersRequest, ListContainerInstancesRequest, ListServicesRequest, ListTasksRequest, Operation,
    },
    service::Service,
    status::DesiredStatus,
    task::{Container, NetworkBinding, Task},
};
use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::calls::{request, Connection};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    Clusters,
    Services,
    Tasks,
    Instances,
    /// The cluster's EC2 capacity providers as managed scaling sees them.
    Capacity,
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

/// Every page of a List* call, as ARNs: `page` sets the token of a request, `items`
/// takes the ARNs and the next token from a response.
async fn list_all<O: Operation>(
    client: &ServerClient,
    mut req: O::Request,
    page: impl Fn(&mut O::Request, Option<String>),
    items: impl Fn(O::Response) -> (Vec<String>, Option<String>),
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    loop {
        let (arns, next) = items(request::<O>(client, &req).await?);
        out.extend(arns);
        match next {
            Some(t) => page(&mut req, Some(t)),
            None => return Ok(out),
        }
    }
}

/// The ARNs of the cluster's ACTIVE services.
pub async fn service_arns(client: &ServerClient, cluster: &str) -> anyhow::Result<Vec<String>> {
    let req = ListServicesRequest { cluster: Some(cluster.into()), ..Default::default() };
    list_all::<op::ListServices>(client, req, |r, t| r.next_token = t, |p| (p.service_arns, p.next_token)).await
}

/// Describes services, 10 at a time (DescribeServices' limit).
pub async fn describe_services(client: &ServerClient, cluster: &str, names: &[String]) -> anyhow::Result<Vec<Service>> {
    let mut out = Vec::new();
    for chunk in names.chunks(10) {
        let req = DescribeServicesRequest {
            cluster: Some(cluster.into()),
            services: Some(chunk.to_vec()),
            include: Vec::new(),
        };
        out.extend(request::<op::DescribeServices>(client, &req).await?.services);
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

/// `container:hostPort->containerPort/protocol` for a task's bindings; an awsvpc task's
/// own address.
pub fn ports(task: &Task) -> String {
    let bindings = task
        .containers
        .iter()
        .flat_map(|c| c.network_bindings.iter().map(move |b| format!("{}:{}", c.name, binding(b))));
    bindings.chain(task.private_ipv4().map(String::from)).collect::<Vec<_>>().join(",")
}

/// One container's published ports, `HOST->CONTAINER/PROTO`.
pub fn container_ports(container: &Container) -> String {
    container.network_bindings.iter().map(binding).collect::<Vec<_>>().join(",")
}

fn binding(b: &NetworkBinding) -> String {
    let port = |p: Option<u32>| p.map_or("null".to_string(), |p| p.to_string());
    format!("{}->{}/{}", port(b.host_port), port(b.container_port), b.protocol.as_deref().unwrap_or("tcp"))
}

/// The cluster's (or service's) tasks that should run, and with `include_stopped` those
/// stopped or stopping too.
pub async fn tasks_of(
    client: &ServerClient,
    cluster: &str,
    service: Option<&str>,
    include_stopped: bool,
) -> anyhow::Result<Vec<Task>> {
    let mut req = ListTasksRequest {
        cluster: Some(cluster.into()),
        service_name: service.map(String::from),
        ..Default::default()
    };
    let list = |req: ListTasksRequest| {
        list_all::<op::ListTasks>(client, req, |r, t| r.next_token = t, |p| (p.task_arns, p.next_token))
    };
    let mut arns = list(req.clone()).await?;
    if include_stopped {
        req.desired_status = Some(DesiredStatus::Stopped.as_str().into());
        arns.extend(list(req).await?);
    }
    let mut out = Vec::new();
    for chunk in arns.chunks(100) {
        let req =
            DescribeTasksRequest { cluster: Some(cluster.into()), tasks: Some(chunk.to_vec()), include: Vec::new() };
        out.extend(request::<op::DescribeTasks>(client, &req).await?.tasks);
    }
    Ok(out)
}

/// A table's rows and the items they show (for `--output json`).
struct Listing {
    items: Value,
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

fn listing<T: serde::Serialize>(
    items: &[T],
    header: Vec<&'static str>,
    row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<Listing> {
    Ok(Listing { items: serde_json::to_value(items)?, header, rows: items.iter().map(row).collect() })
}

pub async fn run(args: LsArgs) -> anyhow::Result<()> {
    let client = args.connection.client()?;
    let c = &args.cluster;
    let shown = match args.what {
        What::Clusters => {
            let arns = list_all::<op::ListClusters>(
                &client,
                ListClustersRequest::default(),
                |r, t| r.next_token = t,
                |p| (p.cluster_arns, p.next_token),
            )
            .await?;
            let req = DescribeClustersRequest { clusters: arns, include: Vec::new() };
            let items = request::<op::DescribeClusters>(&client, &req).await?.clusters;
            listing(&items, vec!["CLUSTER", "STATUS", "INSTANCES", "SERVICES", "RUNNING", "PENDING"], |x| {
                vec![
                    x.cluster_name.clone(),
                    x.status.to_string(),
                    x.registered_container_instances_count.to_string(),
                    x.active_services_count.to_string(),
                    x.running_tasks_count.to_string(),
                    x.pending_tasks_count.to_string(),
                ]
            })?
        }
        What::Services => {
            let arns = service_arns(&client, c).await?;
            let items = describe_services(&client, c, &arns).await?;
            let header = vec!["SERVICE", "STATUS", "TASK DEFINITION", "DESIRED", "RUNNING", "PENDING", "ROLLOUT"];
            listing(&items, header, |x| {
                vec![
                    x.service_name.clone(),
                    x.status.to_string(),
                    last(&x.task_definition).into(),
                    x.desired_count.to_string(),
                    x.running_count.to_string(),
                    x.pending_count.to_string(),
                    x.deployments.first().and_then(|d| d.rollout_state).map_or(String::new(), |s| s.to_string()),
                ]
            })?
        }
        What::Tasks => {
            let items = tasks_of(&client, c, args.service.as_deref(), args.all).await?;
            listing(&items, vec!["TASK", "TASK DEFINITION", "STATUS", "DESIRED", "HEALTH", "GROUP", "PORTS"], |t| {
                vec![
                    last(&t.task_arn).into(),
                    last(&t.task_definition_arn).into(),
                    t.last_status.to_string(),
                    t.desired_status.to_string(),
                    t.health_status.to_string(),
                    t.group.clone(),
                    ports(t),
                ]
            })?
        }
        What::Instances => {
            let req = ListContainerInstancesRequest { cluster: Some(c.clone()), ..Default::default() };
            let arns = list_all::<op::ListContainerInstances>(
                &client,
                req,
                |r, t| r.next_token = t,
                |p| (p.container_instance_arns, p.next_token),
            )
            .await?;
            let mut items = Vec::new();
            for chunk in arns.chunks(100) {
                let req = DescribeContainerInstancesRequest {
                    cluster: Some(c.clone()),
                    container_instances: Some(chunk.to_vec()),
                    include: Vec::new(),
                };
                items.extend(request::<op::DescribeContainerInstances>(&client, &req).await?.container_instances);
            }
            listing(&items, vec!["INSTANCE", "STATUS", "CONNECTED", "RUNNING", "PENDING"], |x| {
                vec![
                    last(&x.container_instance_arn).into(),
                    x.status.to_string(),
                    x.agent_connected.to_string(),
                    x.running_tasks_count.to_string(),
                    x.pending_tasks_count.to_string(),
                ]
            })?
        }
        What::Capacity => {
            let empty = serde_json::json!({});
            let (all, _): (berth_model::berth::CapacityReservationsResponse, _) =
                client.signed("BerthV1.DescribeCapacityReservations", &empty).await?;
            let items: Vec<_> = all.reservations.into_iter().filter(|r| &r.cluster == c).collect();
            listing(&items, vec!["CAPACITY PROVIDER", "HOSTS", "NEEDED", "WAITING TASKS", "RESERVATION"], |r| {
                vec![
                    r.capacity_provider.clone(),
                    r.hosts.to_string(),
                    r.hosts_needed.to_string(),
                    r.waiting_tasks.to_string(),
                    format!("{:.0}%", r.capacity_provider_reservation),
                ]
            })?
        }
    };
    match args.output {
        TableOrJson::Json => outln!("{}", serde_json::to_string_pretty(&shown.items)?),
        TableOrJson::Table => outln!("{}", table(&shown.header, &shown.rows)),
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
        let task: Task = serde_json::from_value(serde_json::json!({
            "taskArn": "t", "clusterArn": "c", "taskDefinitionArn": "td", "createdAt": 0, "desiredStatus": "RUNNING",
            "lastStatus": "RUNNING", "healthStatus": "UNKNOWN", "group": "g", "launchType": "EC2",
            "enableExecuteCommand": false, "overrides": {}, "version": 1,
            "containers": [{"containerArn": "x", "taskArn": "t", "name": "web", "image": "i", "lastStatus": "RUNNING",
                            "healthStatus": "UNKNOWN",
                            "networkBindings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}]
        }))
        .unwrap();
        assert_eq!(ports(&task), "web:8080->80/tcp");
    }
}
