//! Placement through RunTask and ListContainerInstances' filter, against instances
//! registered directly (no agent: tasks stay PROVISIONING but hold their resources).

use aws_sdk_ecs::types::{
    Attribute, ContainerDefinition, PlacementConstraint, PlacementConstraintType, PlacementStrategy,
    PlacementStrategyType, Resource, TaskDefinitionPlacementConstraint, TaskDefinitionPlacementConstraintType,
};
use berth_testkit::TestServer;

async fn register_instance(ecs: &aws_sdk_ecs::Client, az: &str, stack: &str, memory: i32) -> String {
    let out = ecs
        .register_container_instance()
        .cluster("p")
        .total_resources(Resource::builder().name("CPU").r#type("INTEGER").integer_value(4096).build())
        .total_resources(Resource::builder().name("MEMORY").r#type("INTEGER").integer_value(memory).build())
        .attributes(Attribute::builder().name("ecs.availability-zone").value(az).build().unwrap())
        .attributes(Attribute::builder().name("stack").value(stack).build().unwrap())
        .send()
        .await
        .unwrap();
    out.container_instance.unwrap().container_instance_arn.unwrap()
}

async fn setup() -> (TestServer, aws_sdk_ecs::Client, Vec<String>) {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    ecs.create_cluster().cluster_name("p").send().await.unwrap();
    let instances = vec![
        register_instance(&ecs, "az-a", "blue", 1024).await,
        register_instance(&ecs, "az-a", "green", 2048).await,
        register_instance(&ecs, "az-b", "blue", 4096).await,
    ];
    ecs.register_task_definition()
        .family("web")
        .container_definitions(ContainerDefinition::builder().name("a").image("x").memory(256).build())
        .send()
        .await
        .unwrap();
    (server, ecs, instances)
}

fn member_of(expression: &str) -> PlacementConstraint {
    PlacementConstraint::builder().r#type(PlacementConstraintType::MemberOf).expression(expression).build()
}

fn strategy(kind: PlacementStrategyType, field: &str) -> PlacementStrategy {
    PlacementStrategy::builder().r#type(kind).field(field).build()
}

fn instances_of(out: &aws_sdk_ecs::operation::run_task::RunTaskOutput) -> Vec<String> {
    out.tasks().iter().map(|t| t.container_instance_arn().unwrap().to_string()).collect()
}

#[tokio::test]
async fn member_of_limits_placement_and_explains_the_rest() {
    let (_server, ecs, ids) = setup().await;
    let out = ecs
        .run_task()
        .cluster("p")
        .task_definition("web")
        .count(4)
        .placement_constraints(member_of("attribute:stack == green"))
        .send()
        .await
        .unwrap();
    assert_eq!(instances_of(&out), vec![ids[1].clone(); 4]);

    // A fifth task does not fit on green; blue instances are ruled out by the constraint.
    let out = ecs
        .run_task()
        .cluster("p")
        .task_definition("web")
        .count(5)
        .placement_constraints(member_of("attribute:stack == green"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.tasks().len(), 4);
    let reasons: Vec<(&str, &str)> = out.failures().iter().map(|f| (f.arn().unwrap(), f.reason().unwrap())).collect();
    assert!(reasons.contains(&(ids[0].as_str(), "MemberOf placement constraint unsatisfied.")), "{reasons:?}");
    assert!(reasons.contains(&(ids[1].as_str(), "RESOURCE:MEMORY")), "{reasons:?}");
}

#[tokio::test]
async fn task_definition_constraints_apply_too() {
    let (_server, ecs, ids) = setup().await;
    ecs.register_task_definition()
        .family("pinned")
        .container_definitions(ContainerDefinition::builder().name("a").image("x").memory(64).build())
        .placement_constraints(
            TaskDefinitionPlacementConstraint::builder()
                .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                .expression("attribute:ecs.availability-zone in [az-b]")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let out = ecs.run_task().cluster("p").task_definition("pinned").count(3).send().await.unwrap();
    assert_eq!(instances_of(&out), vec![ids[2].clone(); 3]);
}

#[tokio::test]
async fn distinct_instance_spread_and_binpack() {
    let (_server, ecs, ids) = setup().await;
    let distinct = PlacementConstraint::builder().r#type(PlacementConstraintType::DistinctInstance).build();
    let out = ecs
        .run_task()
        .cluster("p")
        .task_definition("web")
        .count(4)
        .placement_constraints(distinct)
        .send()
        .await
        .unwrap();
    let mut used = instances_of(&out);
    used.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(used, all, "one task per instance");
    assert_eq!(out.failures()[0].reason(), Some("DistinctInstance placement constraint unsatisfied."));

    // Spread over zones: the group `family:web` already has 2 tasks in az-a, 1 in az-b.
    let out = ecs
        .run_task()
        .cluster("p")
        .task_definition("web")
        .count(3)
        .placement_strategy(strategy(PlacementStrategyType::Spread, "attribute:ecs.availability-zone"))
        .send()
        .await
        .unwrap();
    let in_b = instances_of(&out).iter().filter(|i| **i == ids[2]).count();
    assert_eq!(in_b, 2, "az-b catches up first, then the zones alternate");

    // Binpack on memory fills the instance with the least memory left that still fits:
    // the 1024 MiB one, which has 512 or 768 MiB free by now.
    let out = ecs
        .run_task()
        .cluster("p")
        .task_definition("web")
        .group("batch")
        .count(2)
        .placement_strategy(strategy(PlacementStrategyType::Binpack, "memory"))
        .send()
        .await
        .unwrap();
    assert_eq!(instances_of(&out), vec![ids[0].clone(), ids[0].clone()], "{:?}", out.failures());
}

#[tokio::test]
async fn malformed_rules_are_refused_with_a_position() {
    let (_server, ecs, _) = setup().await;
    let err = ecs
        .run_task()
        .cluster("p")
        .task_definition("web")
        .placement_constraints(member_of("attribute:stack green"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    let message = err.meta().message().unwrap();
    assert!(message.contains("position 16") && message.contains("expected an operator"), "{message}");

    let six: Vec<PlacementStrategy> = (0..6).map(|_| strategy(PlacementStrategyType::Spread, "instanceId")).collect();
    let err = ecs
        .run_task()
        .cluster("p")
        .task_definition("web")
        .set_placement_strategy(Some(six))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.meta().message().unwrap().contains("At most 5"), "{err:?}");
    let eleven: Vec<PlacementConstraint> = (0..11).map(|_| member_of("attribute:stack exists")).collect();
    let err = ecs
        .run_task()
        .cluster("p")
        .task_definition("web")
        .set_placement_constraints(Some(eleven))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.meta().message().unwrap().contains("At most 10"), "{err:?}");
    let err = ecs
        .run_task()
        .cluster("p")
        .task_definition("web")
        .placement_strategy(strategy(PlacementStrategyType::Binpack, "disk"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.meta().message().unwrap().contains("cpu or memory"), "{err:?}");
    // Nothing was placed by the refused calls.
    assert!(ecs.list_tasks().cluster("p").send().await.unwrap().task_arns().is_empty());
}

#[tokio::test]
async fn list_container_instances_filters_with_the_query_language() {
    let (_server, ecs, ids) = setup().await;
    let out = ecs
        .list_container_instances()
        .cluster("p")
        .filter("attribute:stack == blue and attribute:ecs.availability-zone != az-a")
        .send()
        .await
        .unwrap();
    assert_eq!(out.container_instance_arns(), &[ids[2].clone()]);
    let out = ecs.list_container_instances().cluster("p").filter("attribute:stack =~ gr.*").send().await.unwrap();
    assert_eq!(out.container_instance_arns(), &[ids[1].clone()]);
    let err = ecs
        .list_container_instances()
        .cluster("p")
        .filter("attribute:stack in [blue")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception() && err.meta().message().unwrap().contains("position"), "{err:?}");
}
