//! A service registered in Cloud Map, driven step by step: agents are played by reports,
//! time is an input. Registration waits for RUNNING; a stopped task leaves DNS at once and
//! stays DEACTIVATING for the records' TTL; health follows the task's.

use berth_model::{
    container_instance::{Attribute, Resource, HOST_ADDRESS_ATTRIBUTE},
    discovery::{
        records::RecordValue,
        requests::{CreateNamespaceRequest, CreateServiceRequest as CmService, DnsConfigRequest},
        DnsRecord, HealthCheckCustomConfig, HealthStatus as CmHealth, NamespaceType, RecordType,
    },
    ecs::{CreateClusterRequest, CreateServiceRequest, RegisterContainerInstanceRequest, UpdateServiceRequest},
    service::ServiceRegistry,
    status::HealthStatus,
    task::{ContainerStateChange, NetworkBinding, TaskStateChange},
    time,
};

use super::*;
use crate::test_support::*;

struct Harness {
    control: Control,
    _dir: tempfile::TempDir,
    arn: String,
    config: ServiceControllerConfig,
    cm_service: String,
}

const TTL: i64 = 5;

impl Harness {
    async fn new(desired: i64) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        control
            .create_cluster(&c, CreateClusterRequest { cluster_name: Some("c".into()), ..Default::default() })
            .await
            .unwrap();
        let req = RegisterContainerInstanceRequest {
            cluster: Some("c".into()),
            total_resources: vec![Resource::integer("CPU", 4096), Resource::integer("MEMORY", 4096)],
            attributes: vec![
                Attribute::new("ecs.availability-zone", "az-1"),
                Attribute::new(HOST_ADDRESS_ATTRIBUTE, "10.9.0.1"),
            ],
            ..Default::default()
        };
        control.register_container_instance(&c, req).await.unwrap();
        let td = serde_json::json!({"family": "web", "containerDefinitions": [{
            "name": "app", "image": "x", "memory": 64, "portMappings": [{"containerPort": 8080, "hostPort": 0}]}]});
        control.register_task_definition(&c, serde_json::from_value(td).unwrap()).await.unwrap();
        let ns =
            CreateNamespaceRequest { name: Some("shop.local".into()), vpc: Some("vpc-1".into()), ..Default::default() };
        control.create_namespace(&c, NamespaceType::DnsPrivate, ns).await.unwrap();
        let ns_id = control.read(|s| s.region("us-east-1").discovery.namespaces.keys().next().unwrap().clone());
        let cm = CmService {
            name: Some("api".into()),
            namespace_id: Some(ns_id),
            dns_config: Some(DnsConfigRequest {
                dns_records: vec![DnsRecord { kind: RecordType::Srv, ttl: TTL }],
                ..Default::default()
            }),
            health_check_custom_config: Some(HealthCheckCustomConfig { failure_threshold: Some(1) }),
            ..Default::default()
        };
        let cm = control.create_discovery_service(&c, cm).await.unwrap().service;
        let registry = ServiceRegistry {
            registry_arn: Some(cm.arn.clone()),
            container_name: Some("app".into()),
            container_port: Some(8080),
            ..Default::default()
        };
        let svc = control
            .create_service(&c, CreateServiceRequest { service_registries: vec![registry], ..web_service(desired) })
            .await
            .unwrap();
        let config = ServiceControllerConfig { settle: std::time::Duration::ZERO, ..Default::default() };
        Harness { control, _dir: dir, arn: svc.service.service_arn, config, cm_service: cm.id }
    }

    async fn pass(&self, at: f64) {
        let (arn, config) = (self.arn.clone(), self.config);
        let now = time::now() + at;
        self.control
            .write(move |state, changes| reconcile(state, "us-east-1", &arn, &config, now, changes))
            .await
            .unwrap();
    }

    fn tasks(&self) -> Vec<berth_model::task::Task> {
        self.control.read(|s| s.region("us-east-1").tasks.values().map(|t| t.task.clone()).collect())
    }

    /// Plays the agent: the task runs with port 8080 bound to `port`, health as given.
    async fn run(&self, task: &str, port: u16, health: HealthStatus) {
        let change = TaskStateChange {
            task: Some(task.to_string()),
            status: Some(TaskStatus::Running),
            containers: vec![ContainerStateChange {
                container_name: Some("app".into()),
                status: Some(TaskStatus::Running),
                network_bindings: vec![NetworkBinding {
                    container_port: Some(8080),
                    host_port: Some(u32::from(port)),
                    ..Default::default()
                }],
                health_status: Some(health),
                ..Default::default()
            }],
            ..Default::default()
        };
        self.control.submit_task_state_change("us-east-1".into(), None, change).await.unwrap();
    }

    /// (instance id, health) of every registration.
    fn registered(&self) -> Vec<(String, CmHealth)> {
        self.control.read(|s| {
            s.region("us-east-1")
                .discovery
                .instances_of(&self.cm_service)
                .map(|r| (r.instance.id.clone(), r.health()))
                .collect()
        })
    }

    /// The SRV ports DNS answers for api.shop.local.
    fn srv_ports(&self) -> Vec<u16> {
        let plan = self.control.dns_plan();
        let Some(entry) = plan.zones["shop.local"].names.get("api.shop.local") else { return Vec::new() };
        let Some(set) = entry.sets.first() else { return Vec::new() };
        let mut ports: Vec<u16> = set
            .values
            .iter()
            .map(|v| match v {
                RecordValue::Srv { port, .. } => *port,
                other => panic!("not SRV: {other:?}"),
            })
            .collect();
        ports.sort();
        ports
    }
}

#[tokio::test]
async fn running_tasks_are_registered_with_ecs_attributes_and_answer_srv() {
    let h = Harness::new(2).await;
    h.pass(0.0).await;
    let tasks = h.tasks();
    assert_eq!(tasks.len(), 2);
    assert!(h.registered().is_empty(), "nothing registers before it runs");
    h.run(&tasks[0].task_arn, 32000, HealthStatus::Unknown).await;
    h.run(&tasks[1].task_arn, 32001, HealthStatus::Unknown).await;
    h.pass(0.1).await;
    let mut ids: Vec<String> = h.registered().into_iter().map(|(id, _)| id).collect();
    ids.sort();
    let mut want: Vec<String> = tasks.iter().map(|t| t.id().to_string()).collect();
    want.sort();
    assert_eq!(ids, want, "registered under the task ids");
    assert_eq!(h.srv_ports(), vec![32000, 32001]);
    let attributes = h.control.read(|s| {
        s.region("us-east-1").discovery.instances_of(&h.cm_service).next().unwrap().instance.attributes.clone()
    });
    for (k, v) in [
        ("AWS_INSTANCE_IPV4", "10.9.0.1"),
        ("ECS_CLUSTER_NAME", "c"),
        ("ECS_SERVICE_NAME", "web"),
        ("ECS_TASK_DEFINITION_FAMILY", "web"),
        ("AVAILABILITY_ZONE", "az-1"),
        ("REGION", "us-east-1"),
    ] {
        assert_eq!(attributes.get(k).map(String::as_str), Some(v), "{k} in {attributes:?}");
    }
    // ECS lists the service under its namespace.
    let listed = h
        .control
        .list_services_by_namespace(
            &caller(),
            berth_model::ecs::ListServicesByNamespaceRequest {
                namespace: Some("shop.local".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(listed.service_arns, vec![h.arn.clone()]);
    // A second pass changes nothing.
    let before = h.control.read(|s| s.region("us-east-1").discovery.services[&h.cm_service].instances_revision);
    h.pass(0.2).await;
    assert_eq!(before, h.control.read(|s| s.region("us-east-1").discovery.services[&h.cm_service].instances_revision));
}

#[tokio::test]
async fn a_stopped_task_leaves_dns_at_once_and_stops_after_the_ttl() {
    let h = Harness::new(2).await;
    h.pass(0.0).await;
    let tasks = h.tasks();
    for (i, t) in tasks.iter().enumerate() {
        h.run(&t.task_arn, 32000 + i as u16, HealthStatus::Unknown).await;
    }
    h.pass(0.1).await;
    assert_eq!(h.registered().len(), 2);
    let update = UpdateServiceRequest { desired_count: Some(1), ..web_update("web:1") };
    h.control.update_service(&caller(), update).await.unwrap();
    h.pass(0.2).await;
    assert_eq!(h.registered().len(), 1, "the task to stop is deregistered first");
    assert_eq!(h.srv_ports().len(), 1);
    let leaving = |h: &Harness| {
        h.tasks().into_iter().find(|t| t.desired_status == berth_model::status::DesiredStatus::Stopped).unwrap()
    };
    assert_eq!(leaving(&h).last(), TaskStatus::Deactivating, "it keeps running while resolvers may cache it");
    h.pass(TTL as f64 - 1.0).await;
    assert_eq!(leaving(&h).last(), TaskStatus::Deactivating);
    h.pass(TTL as f64 + 0.5).await;
    assert_eq!(leaving(&h).last(), TaskStatus::Stopping, "stopped once the TTL passed");
}

#[tokio::test]
async fn an_unhealthy_task_is_marked_unhealthy_and_leaves_the_answers() {
    let h = Harness::new(2).await;
    h.pass(0.0).await;
    let tasks = h.tasks();
    h.run(&tasks[0].task_arn, 32000, HealthStatus::Unknown).await;
    h.run(&tasks[1].task_arn, 32001, HealthStatus::Unknown).await;
    h.pass(0.1).await;
    // The agent reports the second unhealthy; the grace period keeps it running a while.
    let grace = UpdateServiceRequest { health_check_grace_period_seconds: Some(60), ..web_update("web:1") };
    h.control.update_service(&caller(), grace).await.unwrap();
    h.run(&tasks[1].task_arn, 32001, HealthStatus::Unhealthy).await;
    h.pass(0.2).await;
    let health: std::collections::BTreeMap<String, CmHealth> = h.registered().into_iter().collect();
    assert_eq!(health[tasks[1].id()], CmHealth::Unhealthy);
    assert_eq!(h.srv_ports(), vec![32000], "only the healthy task answers");
}

#[tokio::test]
async fn tasks_on_a_draining_instance_leave_dns() {
    let h = Harness::new(1).await;
    h.pass(0.0).await;
    let task = h.tasks().remove(0);
    h.run(&task.task_arn, 32000, HealthStatus::Unknown).await;
    h.pass(0.1).await;
    assert_eq!(h.registered().len(), 1);
    let instance = task.container_instance_arn.clone().unwrap();
    let drain = berth_model::ecs::UpdateContainerInstancesStateRequest {
        cluster: Some("c".into()),
        container_instances: Some(vec![instance]),
        status: Some(berth_model::status::InstanceStatus::Draining.as_str().into()),
    };
    h.control.update_container_instances_state(&caller(), drain).await.unwrap();
    h.pass(0.2).await;
    assert!(h.registered().is_empty(), "a task on a DRAINING instance is deregistered");
    assert!(h.srv_ports().is_empty());
}
