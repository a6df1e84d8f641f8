//! Launch types, Fargate and capacity providers over the control plane alone (no agents):
//! ECS's refusals, tasks that wait for capacity, and strategies by base and weight.

use std::sync::Arc;

use berth_model::{
    capacity_provider::{
        AutoScalingGroupProvider, CapacityProviderStrategyItem, CreateCapacityProviderRequest,
        DeleteCapacityProviderRequest, DescribeCapacityProvidersRequest, ManagedScaling,
        PutClusterCapacityProvidersRequest, Toggle, UpdateCapacityProviderRequest,
    },
    container_instance::{Attribute, Resource, AUTO_SCALING_GROUP_ATTRIBUTE, CAPACITY_ATTRIBUTE},
    ecs::{CreateClusterRequest, ListContainerInstancesRequest, RegisterContainerInstanceRequest, RunTaskRequest},
    network::{AssignPublicIp, AwsVpcConfiguration, NetworkConfiguration},
    placement::PlacementStrategy,
    status::TaskStatus,
    EcsError,
};

use crate::{
    capacity_controller::CapacityController,
    controller::{Clock, ManualClock},
    test_support::*,
    Control,
};

fn vpc(public: Option<AssignPublicIp>) -> Option<NetworkConfiguration> {
    Some(NetworkConfiguration {
        awsvpc_configuration: Some(AwsVpcConfiguration {
            subnets: vec!["subnet-1".into()],
            security_groups: vec![],
            assign_public_ip: public,
        }),
    })
}

fn item(name: &str, base: i64, weight: i64) -> CapacityProviderStrategyItem {
    CapacityProviderStrategyItem { capacity_provider: name.into(), base, weight }
}

/// Cluster `c`, a bridge definition `web:1` and a Fargate one `fg:1` (awsvpc, 256/512).
async fn setup(control: &Control) {
    cluster_with_instances(control, &[], 0, 1).await;
    let fg = serde_json::json!({
        "family": "fg", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "app", "image": "x", "portMappings": [{"containerPort": 80}]}]
    });
    control.register_task_definition(&caller(), serde_json::from_value(fg).unwrap()).await.unwrap();
}

/// Registers a host: a Fargate one, or an instance of `c` in Auto Scaling group `group`.
async fn host(control: &Control, fargate: bool, group: Option<&str>) -> String {
    let mut attributes = vec![Attribute::new("ecs.availability-zone", "az-1")];
    if fargate {
        attributes.push(Attribute::new(CAPACITY_ATTRIBUTE, "FARGATE"));
    }
    if let Some(g) = group {
        attributes.push(Attribute::new(AUTO_SCALING_GROUP_ATTRIBUTE, g));
    }
    let req = RegisterContainerInstanceRequest {
        cluster: (!fargate).then(|| "c".into()),
        total_resources: vec![Resource::integer("CPU", 4096), Resource::integer("MEMORY", 8192)],
        attributes,
        ..Default::default()
    };
    control.register_container_instance(&caller(), req).await.unwrap().instance.container_instance_arn
}

fn run(td: &str, launch_type: Option<&str>, count: i64) -> RunTaskRequest {
    RunTaskRequest {
        cluster: Some("c".into()),
        task_definition: Some(td.into()),
        count: Some(count),
        launch_type: launch_type.map(String::from),
        network_configuration: vpc(None),
        ..Default::default()
    }
}

fn refusal(r: Result<berth_model::ecs::TasksResponse, EcsError>) -> String {
    match r {
        Err(e @ EcsError::InvalidParameter(_)) => e.to_string(),
        other => panic!("expected an InvalidParameterException, got {other:?}"),
    }
}

#[tokio::test]
async fn fargate_and_awsvpc_refuse_what_ecs_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    setup(&control).await;
    let c = caller();
    let bridge = RunTaskRequest { network_configuration: None, ..run("web", Some("FARGATE"), 1) };
    assert!(refusal(control.run_task(&c, bridge).await).contains("does not support launch_type FARGATE"));
    let bare = RunTaskRequest { network_configuration: None, ..run("fg", Some("FARGATE"), 1) };
    assert!(refusal(control.run_task(&c, bare).await).contains("Network Configuration must be provided"));
    let on_bridge = run("web", Some("EC2"), 1);
    assert!(refusal(control.run_task(&c, on_bridge).await).contains("not valid for the given networkMode"));
    let placed = RunTaskRequest {
        placement_strategy: vec![PlacementStrategy::spread("instanceId")],
        ..run("fg", Some("FARGATE"), 1)
    };
    assert!(refusal(control.run_task(&c, placed).await).contains("not supported with the FARGATE launch type"));
    let version = RunTaskRequest { platform_version: Some("9.9.9".into()), ..run("fg", Some("FARGATE"), 1) };
    assert!(refusal(control.run_task(&c, version).await).contains("platform version 9.9.9 does not exist"));
    let public =
        RunTaskRequest { network_configuration: vpc(Some(AssignPublicIp::Enabled)), ..run("fg", Some("EC2"), 1) };
    assert!(refusal(control.run_task(&c, public).await).contains("Assign public IP is not supported"));
    let both =
        RunTaskRequest { capacity_provider_strategy: vec![item("FARGATE", 0, 1)], ..run("fg", Some("FARGATE"), 1) };
    assert!(refusal(control.run_task(&c, both).await).contains("both a launch type and capacity provider strategy"));
    let unassociated = RunTaskRequest { capacity_provider_strategy: vec![item("FARGATE", 0, 1)], ..run("fg", None, 1) };
    assert!(refusal(control.run_task(&c, unassociated).await).contains("not associated with the cluster"));
    let none = control.read(|s| s.region(&c.region).tasks.len());
    assert_eq!(none, 0, "a refused RunTask changed nothing");
}

#[tokio::test]
async fn fargate_tasks_wait_for_capacity_then_run_on_a_fargate_host() {
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    setup(&control).await;
    let c = caller();
    let out = control.run_task(&c, run("fg", Some("FARGATE"), 2)).await.unwrap();
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    for t in &out.tasks {
        assert_eq!((t.last_status, t.launch_type.as_str()), (TaskStatus::Provisioning, "FARGATE"));
        assert_eq!((t.platform_version.as_deref(), t.platform_family.as_deref()), (Some("1.4.0"), Some("Linux")));
        assert!(t.container_instance_arn.is_none() && t.private_ipv4().is_none(), "{t:?}");
        assert_eq!(t.eni().unwrap().status.as_str(), "PRECREATED");
    }
    // One stop before capacity arrives: nothing runs it, so it is STOPPED at once.
    let stop = berth_model::ecs::StopTaskRequest {
        cluster: Some("c".into()),
        task: Some(out.tasks[1].task_arn.clone()),
        reason: None,
    };
    assert_eq!(control.stop_task(&c, stop).await.unwrap().task.last_status, TaskStatus::Stopped);

    let fargate_host = host(&control, true, None).await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(0.0));
    control.reconcile_all(&Arc::new(CapacityController), &clock).await;
    let arns = vec![out.tasks[0].task_arn.clone()];
    let placed = control.describe_tasks(&c, &tasks_in("c", &arns)).unwrap().tasks.remove(0);
    assert!(placed.container_instance_arn.is_none(), "a Fargate task shows no container instance");
    assert_eq!(placed.availability_zone.as_deref(), Some("az-1"));
    let ip = placed.private_ipv4().expect("an address once on a host").to_string();
    assert_eq!(placed.containers[0].network_interfaces[0].private_ipv4_address.as_deref(), Some(ip.as_str()));
    let on_host = control.read(|s| s.region(&c.region).tasks_on(&fargate_host).count());
    assert_eq!(on_host, 1, "the waiting task is on the Fargate host; the stopped one never went there");
    let listed = control.list_container_instances(
        &c,
        &ListContainerInstancesRequest { cluster: Some("c".into()), ..Default::default() },
    );
    assert!(listed.unwrap().container_instance_arns.is_empty(), "the Fargate host is not a container instance");
}

#[tokio::test]
async fn a_strategy_places_the_base_then_splits_by_weight() {
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    setup(&control).await;
    let c = caller();
    for (name, group) in [("spot-a", "asg-a"), ("spot-b", "asg-b")] {
        let asg = AutoScalingGroupProvider { auto_scaling_group_arn: group.into(), ..Default::default() };
        let req = CreateCapacityProviderRequest {
            name: Some(name.into()),
            auto_scaling_group_provider: Some(asg),
            tags: vec![],
        };
        control.create_capacity_provider(&c, req).await.unwrap();
        host(&control, false, Some(group)).await;
    }
    let put = PutClusterCapacityProvidersRequest {
        cluster: Some("c".into()),
        capacity_providers: Some(vec!["spot-a".into(), "spot-b".into()]),
        default_capacity_provider_strategy: Some(vec![item("spot-a", 1, 1), item("spot-b", 0, 3)]),
    };
    control.put_cluster_capacity_providers(&c, put).await.unwrap();
    // No launch type and no strategy: the cluster's default strategy applies.
    let req = RunTaskRequest { network_configuration: None, ..run("web", None, 9) };
    let tasks = control.run_task(&c, req).await.unwrap().tasks;
    let on = |p: &str| tasks.iter().filter(|t| t.capacity_provider_name.as_deref() == Some(p)).count();
    assert_eq!((on("spot-a"), on("spot-b")), (3, 6), "1 base task, then 8 split 1:3");
    let group_of = |arn: &str| {
        control.read(|s| {
            let rec = s.region(&c.region).instances.get(arn).cloned().unwrap();
            rec.instance
                .attributes
                .iter()
                .find(|a| a.name == AUTO_SCALING_GROUP_ATTRIBUTE)
                .and_then(|a| a.value.clone())
        })
    };
    for t in &tasks {
        let want = if t.capacity_provider_name.as_deref() == Some("spot-a") { "asg-a" } else { "asg-b" };
        assert_eq!(group_of(t.container_instance_arn.as_ref().unwrap()).as_deref(), Some(want));
        assert_eq!(t.launch_type, "EC2");
    }
    // A provider still used by tasks cannot leave the cluster.
    let shrink = PutClusterCapacityProvidersRequest {
        cluster: Some("c".into()),
        capacity_providers: Some(vec!["spot-b".into()]),
        default_capacity_provider_strategy: Some(vec![item("spot-b", 0, 1)]),
    };
    let err = control.put_cluster_capacity_providers(&c, shrink).await.unwrap_err();
    assert_eq!(err.code(), "ResourceInUseException", "{err}");
}

#[tokio::test]
async fn capacity_providers_are_created_described_updated_and_deleted_as_on_ecs() {
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    let c = caller();
    control
        .create_cluster(&c, CreateClusterRequest { cluster_name: Some("c".into()), ..Default::default() })
        .await
        .unwrap();
    let asg = |arn: &str| AutoScalingGroupProvider { auto_scaling_group_arn: arn.into(), ..Default::default() };
    let create = |name: &str, group: &str| CreateCapacityProviderRequest {
        name: Some(name.into()),
        auto_scaling_group_provider: Some(asg(group)),
        tags: vec![berth_model::tag::Tag::new("team", "infra")],
    };
    let arn = "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/pool";
    let made = control.create_capacity_provider(&c, create("pool", arn)).await.unwrap().capacity_provider;
    let scaling = made.auto_scaling_group_provider.as_ref().unwrap().managed_scaling.clone().unwrap();
    assert_eq!(
        (
            scaling.status,
            scaling.target_capacity,
            scaling.minimum_scaling_step_size,
            scaling.maximum_scaling_step_size,
            scaling.instance_warmup_period
        ),
        (Some(Toggle::Disabled), Some(100), Some(1), Some(10000), Some(300))
    );
    assert_eq!(made.capacity_provider_arn, "arn:aws:ecs:us-east-1:000000000000:capacity-provider/pool");
    let err = control.create_capacity_provider(&c, create("pool", "other")).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let err = control.create_capacity_provider(&c, create("again", "pool")).await.unwrap_err();
    assert!(err.to_string().contains("already being used"), "{err}");
    assert!(control.create_capacity_provider(&c, create("fargate-x", "g")).await.is_err());

    let described = control
        .describe_capacity_providers(
            &c,
            &DescribeCapacityProvidersRequest { include: vec!["TAGS".into()], ..Default::default() },
        )
        .unwrap()
        .capacity_providers;
    let names: Vec<&str> = described.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["FARGATE", "FARGATE_SPOT", "pool"]);
    assert_eq!(described[2].tags.len(), 1);

    let update = UpdateCapacityProviderRequest {
        name: Some("pool".into()),
        auto_scaling_group_provider: Some(berth_model::capacity_provider::AutoScalingGroupProviderUpdate {
            managed_scaling: Some(ManagedScaling {
                status: Some(Toggle::Enabled),
                target_capacity: Some(80),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    let updated = control.update_capacity_provider(&c, update).await.unwrap().capacity_provider;
    let scaling = updated.auto_scaling_group_provider.unwrap().managed_scaling.unwrap();
    assert_eq!(
        (scaling.status, scaling.target_capacity, scaling.instance_warmup_period),
        (Some(Toggle::Enabled), Some(80), Some(300))
    );

    let put = PutClusterCapacityProvidersRequest {
        cluster: Some("c".into()),
        capacity_providers: Some(vec!["pool".into(), "FARGATE".into()]),
        default_capacity_provider_strategy: Some(vec![item("pool", 0, 1)]),
    };
    let cluster = control.put_cluster_capacity_providers(&c, put).await.unwrap().cluster;
    assert_eq!(cluster.capacity_providers, ["pool", "FARGATE"]);
    let delete = || DeleteCapacityProviderRequest { capacity_provider: Some("pool".into()) };
    let err = control.delete_capacity_provider(&c, delete()).await.unwrap_err();
    assert_eq!(err.code(), "ClientException");
    let clear = PutClusterCapacityProvidersRequest {
        cluster: Some("c".into()),
        capacity_providers: Some(vec![]),
        default_capacity_provider_strategy: Some(vec![]),
    };
    control.put_cluster_capacity_providers(&c, clear).await.unwrap();
    let deleted = control.delete_capacity_provider(&c, delete()).await.unwrap().capacity_provider;
    assert_eq!(deleted.status.as_str(), "INACTIVE");
    let missing = control
        .describe_capacity_providers(
            &c,
            &DescribeCapacityProvidersRequest { capacity_providers: Some(vec!["pool".into()]), ..Default::default() },
        )
        .unwrap();
    assert_eq!(missing.failures[0].reason.as_deref(), Some("MISSING"));
}

#[tokio::test]
async fn managed_scaling_grows_the_group_for_waiting_tasks_and_shrinks_it_when_empty() {
    use crate::managed_scaling::{decide, ScaleAction, ScalerMemory};
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    setup(&control).await;
    let c = caller();
    let scaling =
        ManagedScaling { status: Some(Toggle::Enabled), instance_warmup_period: Some(60), ..Default::default() };
    let asg = AutoScalingGroupProvider {
        auto_scaling_group_arn: "asg-a".into(),
        managed_scaling: Some(scaling),
        ..Default::default()
    };
    let req = CreateCapacityProviderRequest {
        name: Some("pool".into()),
        auto_scaling_group_provider: Some(asg),
        tags: vec![],
    };
    let provider = control.create_capacity_provider(&c, req).await.unwrap().capacity_provider;
    let put = PutClusterCapacityProvidersRequest {
        cluster: Some("c".into()),
        capacity_providers: Some(vec!["pool".into()]),
        default_capacity_provider_strategy: Some(vec![item("pool", 0, 1)]),
    };
    control.put_cluster_capacity_providers(&c, put).await.unwrap();
    let idle = std::time::Duration::from_secs(10);
    let mut memory = ScalerMemory::default();
    let mut decide_at =
        |now: f64| control.read(|s| decide(s.region(&c.region), "c", &provider, now, idle, &mut memory));
    assert_eq!(decide_at(0.0).0, None, "nothing waits, no host: nothing to do");

    let task = control
        .run_task(&c, RunTaskRequest { network_configuration: None, ..run("web", None, 1) })
        .await
        .unwrap()
        .tasks
        .remove(0);
    assert_eq!(task.last_status, TaskStatus::Provisioning);
    let (action, figures) = decide_at(1.0);
    assert_eq!(action, Some(ScaleAction::Out { count: 1 }));
    assert_eq!((figures.capacity_provider_reservation, figures.waiting_tasks), (200.0, 1));
    assert_eq!(decide_at(2.0).0, None, "the host asked for is still coming");

    let arn = host(&control, false, Some("asg-a")).await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(0.0));
    control.reconcile_all(&Arc::new(CapacityController), &clock).await;
    let (action, figures) = decide_at(3.0);
    assert_eq!((action, figures.capacity_provider_reservation, figures.hosts), (None, 100.0, 1));

    let stop = berth_model::ecs::StopTaskRequest {
        cluster: Some("c".into()),
        task: Some(task.task_arn.clone()),
        reason: None,
    };
    control.stop_task(&c, stop).await.unwrap();
    let report = berth_model::task::TaskStateChange {
        task: Some(task.task_arn.clone()),
        status: Some(TaskStatus::Stopped),
        ..Default::default()
    };
    control.submit_task_state_change(c.region.clone(), None, report).await.unwrap();
    assert_eq!(decide_at(4.0).0, None, "an empty host is kept until it was idle long enough");
    assert_eq!(decide_at(14.5).0, Some(ScaleAction::In { hosts: vec![arn] }));
}
