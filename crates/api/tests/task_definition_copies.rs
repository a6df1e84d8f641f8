//! Task definitions as deploy tools send them (issue 20): a definition copied from
//! DescribeTaskDefinition's own answer, empty role ARNs and empty lists included,
//! registers, places and runs like the original; an empty role ARN is no role.

use aws_sdk_ecs::types::{Attribute, ContainerDefinition, EfsVolumeConfiguration, Resource, Volume};
use berth_testkit::TestServer;

#[tokio::test]
async fn a_copy_with_empty_role_arns_and_lists_registers_places_and_runs() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    ecs.create_cluster().cluster_name("c").send().await.unwrap();
    // An instance as an API client registers it: no capabilities beyond what it says.
    ecs.register_container_instance()
        .cluster("c")
        .total_resources(Resource::builder().name("CPU").r#type("INTEGER").integer_value(1024).build())
        .total_resources(Resource::builder().name("MEMORY").r#type("INTEGER").integer_value(2048).build())
        .attributes(Attribute::builder().name("ecs.availability-zone").value("us-east-1a").build().unwrap())
        .send()
        .await
        .unwrap();
    let original = ecs
        .register_task_definition()
        .family("web")
        .container_definitions(ContainerDefinition::builder().name("web").image("nginx").memory(64).build())
        .volumes(
            Volume::builder()
                .name("shared")
                .efs_volume_configuration(EfsVolumeConfiguration::builder().file_system_id("fs-1").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap();
    let efs = original.volumes()[0].efs_volume_configuration().unwrap();
    assert_eq!(efs.root_directory(), Some("/"), "ECS fills rootDirectory in");
    assert!(original.registered_by().is_some() && original.registered_at().is_some());

    // What a deploy tool sends back: every field of the answer, a new image, empty strings.
    let mut containers = original.container_definitions().to_vec();
    containers[0].image = Some("nginx:2".into());
    let copy = ecs
        .register_task_definition()
        .family(original.family().unwrap())
        .task_role_arn("")
        .execution_role_arn("")
        .set_container_definitions(Some(containers))
        .set_volumes(Some(original.volumes().to_vec()))
        .set_placement_constraints(Some(vec![]))
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap();
    assert_eq!(copy.revision(), 2);
    assert_eq!(copy.task_role_arn(), None, "an empty role ARN is no role");
    assert_eq!(copy.execution_role_arn(), None);
    assert!(
        copy.requires_attributes().iter().all(|a| a.name() != "com.amazonaws.ecs.capability.task-iam-role"),
        "{:?}",
        copy.requires_attributes()
    );
    let run = ecs.run_task().cluster("c").task_definition("web:2").send().await.unwrap();
    assert!(run.failures().is_empty(), "the copy places like the original: {:?}", run.failures());
    assert_eq!(run.tasks().len(), 1);
}
