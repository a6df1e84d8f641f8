//! The project's Cloud Map namespace (`PROJECT.internal`) and a Cloud Map service per
//! compose service run on its own (`--service-per-container`), made through the Cloud Map
//! API so `aws servicediscovery` shows them; the ECS services register their tasks there,
//! and the project's tasks resolve each other by compose name (the namespace is their
//! search domain).

use anyhow::Context;
use berth_client::ServerClient;
use berth_model::discovery::{
    requests::{
        CreateNamespaceRequest, CreateServiceRequest, DnsConfigRequest, Empty, Filter, GetOperationResponse, IdRequest,
        ListNamespacesResponse, ListRequest, ListServicesResponse, OperationIdResponse, ServiceResponse,
    },
    DnsRecord, FilterCondition, HealthCheckCustomConfig, OperationTargetType, RecordType, RoutingPolicy, TARGET_PREFIX,
};
use serde::{de::DeserializeOwned, Serialize};

/// What resolvers may cache a task's address for: short, so deploys show at once.
const RECORD_TTL: i64 = 1;

pub(super) fn namespace_name(project: &str) -> String {
    format!("{project}.internal")
}

async fn call<T: DeserializeOwned>(client: &ServerClient, operation: &str, body: &impl Serialize) -> anyhow::Result<T> {
    let (out, _) = client
        .signed(&format!("{TARGET_PREFIX}{operation}"), body)
        .await
        .with_context(|| format!("Cloud Map {operation}"))?;
    Ok(out)
}

fn filter(name: &str, value: &str) -> Filter {
    Filter { name: name.into(), values: vec![value.into()], condition: Some(FilterCondition::Eq) }
}

/// The id of the project's namespace, if it exists.
async fn find_namespace(client: &ServerClient, project: &str) -> anyhow::Result<Option<String>> {
    let list = ListRequest { filters: vec![filter("NAME", &namespace_name(project))], ..Default::default() };
    let found: ListNamespacesResponse = call(client, "ListNamespaces", &list).await?;
    Ok(found.namespaces.into_iter().next().map(|n| n.id))
}

/// The project's namespace (created on first use); its id.
pub(super) async fn ensure_namespace(client: &ServerClient, project: &str) -> anyhow::Result<String> {
    if let Some(id) = find_namespace(client, project).await? {
        return Ok(id);
    }
    let create = CreateNamespaceRequest {
        name: Some(namespace_name(project)),
        vpc: Some("vpc-compose".into()),
        description: Some(format!("compose project {project}")),
        ..Default::default()
    };
    let op: OperationIdResponse = call(client, "CreatePrivateDnsNamespace", &create).await?;
    let done: GetOperationResponse =
        call(client, "GetOperation", &IdRequest { operation_id: Some(op.operation_id), ..Default::default() }).await?;
    done.operation
        .targets
        .get(&OperationTargetType::Namespace)
        .cloned()
        .context("the namespace operation names no namespace")
}

async fn services_in(client: &ServerClient, namespace: &str) -> anyhow::Result<ListServicesResponse> {
    let list = ListRequest { filters: vec![filter("NAMESPACE_ID", namespace)], ..Default::default() };
    call(client, "ListServices", &list).await
}

/// The Cloud Map service `name` of the namespace (created on first use: an A record and a
/// custom health check that ECS keeps); its ARN.
pub(super) async fn ensure_service(client: &ServerClient, namespace: &str, name: &str) -> anyhow::Result<String> {
    if let Some(s) = services_in(client, namespace).await?.services.into_iter().find(|s| s.name == name) {
        return Ok(s.arn);
    }
    let create = CreateServiceRequest {
        name: Some(name.into()),
        namespace_id: Some(namespace.into()),
        dns_config: Some(DnsConfigRequest {
            routing_policy: Some(RoutingPolicy::Multivalue),
            dns_records: vec![DnsRecord { kind: RecordType::A, ttl: RECORD_TTL }],
            ..Default::default()
        }),
        health_check_custom_config: Some(HealthCheckCustomConfig { failure_threshold: Some(1) }),
        ..Default::default()
    };
    let created: ServiceResponse = call(client, "CreateService", &create).await?;
    Ok(created.service.arn)
}

/// Deletes the Cloud Map services `names` of the project's namespace, and the namespace
/// once it holds no other; what is gone already is fine.
pub(super) async fn remove<'a>(
    client: &ServerClient,
    project: &str,
    names: impl Iterator<Item = &'a str>,
) -> anyhow::Result<()> {
    let Some(namespace) = find_namespace(client, project).await? else { return Ok(()) };
    let names: Vec<&str> = names.collect();
    let services = services_in(client, &namespace).await?.services;
    let mut left = services.len();
    for s in services.iter().filter(|s| names.contains(&s.name.as_str())) {
        let _: Empty =
            call(client, "DeleteService", &IdRequest { id: Some(s.id.clone()), ..Default::default() }).await?;
        left -= 1;
    }
    if left == 0 {
        let _: OperationIdResponse =
            call(client, "DeleteNamespace", &IdRequest { id: Some(namespace), ..Default::default() }).await?;
    }
    Ok(())
}
