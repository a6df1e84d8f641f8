//! ECS's own validation order and wording where clients and tests match on it (issue 20):
//! the cluster is resolved before a Describe list is looked at, empty lists, revisions,
//! launch types, setting names, and the long-ARN settings ECS no longer lets anyone turn off.

use aws_sdk_ecs::{error::ProvideErrorMetadata, types::SettingName};
use berth_testkit::TestServer;

#[tokio::test]
async fn describe_calls_resolve_the_cluster_first_and_name_empty_lists_as_ecs_does() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    let missing =
        ecs.describe_tasks().cluster("nope").set_tasks(Some(vec![])).send().await.unwrap_err().into_service_error();
    assert!(missing.is_cluster_not_found_exception(), "{missing:?}");
    let missing = ecs
        .describe_container_instances()
        .cluster("nope")
        .set_container_instances(Some(vec![]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_cluster_not_found_exception(), "{missing:?}");

    ecs.create_cluster().cluster_name("c").send().await.unwrap();
    let empty =
        ecs.describe_tasks().cluster("c").set_tasks(Some(vec![])).send().await.unwrap_err().into_service_error();
    assert!(empty.is_invalid_parameter_exception(), "{empty:?}");
    assert_eq!(empty.message(), Some("Tasks cannot be empty."));
    let empty = ecs
        .describe_container_instances()
        .cluster("c")
        .set_container_instances(Some(vec![]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(empty.message(), Some("Container Instances cannot be empty."));
}

#[tokio::test]
async fn deregistering_without_a_usable_revision_and_an_unknown_launch_type_say_what_ecs_says() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    let container = aws_sdk_ecs::types::ContainerDefinition::builder().name("a").image("x").memory(64).build();
    ecs.register_task_definition().family("web").container_definitions(container).send().await.unwrap();
    for (reference, message) in [
        ("web", "Revision is missing.".to_string()),
        ("web:abc", "Invalid revision number. Number: abc".to_string()),
        ("arn:aws:ecs:us-east-1:000000000000:task-definition/web", "Revision is missing.".to_string()),
    ] {
        let err =
            ecs.deregister_task_definition().task_definition(reference).send().await.unwrap_err().into_service_error();
        assert!(err.is_client_exception(), "{reference}: {err:?}");
        assert_eq!(err.message(), Some(message.as_str()), "{reference}");
    }
    ecs.create_cluster().cluster_name("c").send().await.unwrap();
    let err = ecs
        .run_task()
        .cluster("c")
        .task_definition("web:1")
        .launch_type(aws_sdk_ecs::types::LaunchType::from("SPOT"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    assert_eq!(err.message(), Some("launch type should be one of [EC2,FARGATE,EXTERNAL,MANAGED_INSTANCES]"));
}

#[tokio::test]
async fn setting_names_are_checked_and_long_arn_settings_stay_on() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    let err = ecs
        .put_account_setting()
        .name(SettingName::from("noSuchSetting"))
        .value("enabled")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    assert!(
        err.message().unwrap_or_default().starts_with("noSuchSetting should be one of [serviceLongArnFormat,"),
        "{err:?}"
    );
    for name in
        [SettingName::ServiceLongArnFormat, SettingName::TaskLongArnFormat, SettingName::ContainerInstanceLongArnFormat]
    {
        let err = ecs
            .put_account_setting()
            .name(name.clone())
            .value("disabled")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.message(), Some("You can no longer disable Long Arn settings."), "{name:?}");
        let err = ecs.delete_account_setting().name(name.clone()).send().await.unwrap_err().into_service_error();
        assert_eq!(err.message(), Some("You can no longer disable Long Arn settings."), "{name:?}");
    }
    // Turning them on (what they are) is still accepted.
    ecs.put_account_setting().name(SettingName::TaskLongArnFormat).value("enabled").send().await.unwrap();
}

#[tokio::test]
async fn an_unknown_service_is_named_without_its_cluster() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    ecs.create_cluster().cluster_name("c").send().await.unwrap();
    let out = ecs.describe_services().cluster("c").services("ghost").send().await.unwrap();
    let arn = out.failures()[0].arn().unwrap();
    assert!(arn.starts_with("arn:aws:ecs:us-east-1:") && arn.ends_with(":service/ghost"), "{arn}");
    assert_eq!(out.failures()[0].reason(), Some("MISSING"));
}

#[tokio::test]
async fn arns_are_checked_not_matched_by_their_last_segment() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    let cluster_arn =
        ecs.create_cluster().cluster_name("c").send().await.unwrap().cluster.unwrap().cluster_arn.unwrap();
    let account = cluster_arn.split(':').nth(4).unwrap().to_string();
    let container = aws_sdk_ecs::types::ContainerDefinition::builder().name("a").image("x").memory(64).build();
    ecs.register_task_definition().family("web").container_definitions(container).send().await.unwrap();
    let service_arn = ecs
        .create_service()
        .cluster("c")
        .service_name("web")
        .task_definition("web")
        .desired_count(0)
        .send()
        .await
        .unwrap()
        .service
        .unwrap()
        .service_arn
        .unwrap();

    // Clusters: another region or account is refused, saying which.
    let other_region = cluster_arn.replace("us-east-1", "eu-west-1");
    let err = ecs.list_services().cluster(&other_region).send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    assert_eq!(err.message(), Some("Invalid Region in ARN"));
    let other_account = cluster_arn.replace(&account, "999999999999");
    let err = ecs.list_services().cluster(&other_account).send().await.unwrap_err().into_service_error();
    assert_eq!(err.message(), Some(format!("Identifier is for 999999999999. Your accountId is {account}").as_str()));
    ecs.list_services().cluster(&cluster_arn).send().await.expect("its own ARN works");

    // Services: a Lambda ARN ending in the service's name acts on nothing.
    let lambda = service_arn.replace(":ecs:", ":lambda:");
    let err =
        ecs.delete_service().cluster("c").service(&lambda).force(true).send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    let other_cluster = service_arn.replace("service/c/", "service/elsewhere/");
    let err = ecs
        .update_service()
        .cluster("c")
        .service(&other_cluster)
        .desired_count(1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.message(), Some("Identifier is for cluster elsewhere. Your cluster is c"));
    let still = ecs.describe_services().cluster("c").services("web").send().await.unwrap();
    assert_eq!(still.services()[0].status(), Some("ACTIVE"), "nothing was deleted");
    assert_eq!(still.services()[0].desired_count(), 0, "nothing was updated");
    ecs.delete_service().cluster("c").service(&service_arn).send().await.expect("its own ARN works");
}

#[tokio::test]
async fn create_service_honours_or_refuses_controller_role_and_exec_never_drops_them() {
    use aws_sdk_ecs::types::{
        AwsVpcConfiguration, DeploymentController, DeploymentControllerType, NetworkConfiguration,
    };
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    ecs.create_cluster().cluster_name("c").send().await.unwrap();
    let container = aws_sdk_ecs::types::ContainerDefinition::builder().name("a").image("x").memory(64).build();
    ecs.register_task_definition().family("web").container_definitions(container).send().await.unwrap();
    for kind in [DeploymentControllerType::CodeDeploy, DeploymentControllerType::External] {
        let err = ecs
            .create_service()
            .cluster("c")
            .service_name("web")
            .task_definition("web")
            .deployment_controller(DeploymentController::builder().r#type(kind.clone()).build().unwrap())
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_invalid_parameter_exception(), "{kind:?}: {err:?}");
        assert!(err.message().unwrap_or_default().contains(kind.as_str()), "{err:?}");
    }
    let network = NetworkConfiguration::builder()
        .awsvpc_configuration(AwsVpcConfiguration::builder().subnets("subnet-1").build().unwrap())
        .build();
    let err = ecs
        .create_service()
        .cluster("c")
        .service_name("web")
        .task_definition("web")
        .role("arn:aws:iam::000000000000:role/ecsServiceRole")
        .network_configuration(network)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.message(), Some("You cannot specify an IAM role for services that require a service linked role."));
    let listed = ecs.list_services().cluster("c").send().await.unwrap();
    assert!(listed.service_arns().is_empty(), "refusals created nothing");

    let created = ecs
        .create_service()
        .cluster("c")
        .service_name("web")
        .task_definition("web")
        .role("arn:aws:iam::000000000000:role/ecsServiceRole")
        .enable_execute_command(true)
        .deployment_controller(DeploymentController::builder().r#type(DeploymentControllerType::Ecs).build().unwrap())
        .send()
        .await
        .unwrap()
        .service
        .unwrap();
    assert_eq!(created.role_arn(), Some("arn:aws:iam::000000000000:role/ecsServiceRole"));
    assert!(created.enable_execute_command());
    assert_eq!(created.deployment_controller().map(|c| c.r#type().as_str()), Some("ECS"));
}

#[tokio::test]
async fn discover_poll_endpoint_names_this_server_and_agents_are_not_updated() {
    use aws_sdk_ecs::types::{Resource, VersionInfo};
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    ecs.create_cluster().cluster_name("c").send().await.unwrap();
    let found = ecs.discover_poll_endpoint().cluster("c").send().await.unwrap();
    assert_eq!(found.endpoint(), Some(server.endpoint().trim_end_matches('/')));
    assert_eq!(found.telemetry_endpoint(), found.endpoint());
    let err = ecs.discover_poll_endpoint().cluster("nope").send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ClusterNotFoundException"));

    let register = |version: Option<&str>| {
        let mut call = ecs
            .register_container_instance()
            .cluster("c")
            .total_resources(Resource::builder().name("CPU").r#type("INTEGER").integer_value(1024).build())
            .total_resources(Resource::builder().name("MEMORY").r#type("INTEGER").integer_value(1024).build());
        if let Some(v) = version {
            call = call.version_info(VersionInfo::builder().agent_version(v).build());
        }
        call.send()
    };
    let versioned = register(Some("1.90.0")).await.unwrap().container_instance.unwrap().container_instance_arn.unwrap();
    let bare = register(None).await.unwrap().container_instance.unwrap().container_instance_arn.unwrap();
    let err = ecs.update_container_agent().cluster("c").container_instance(&versioned).send().await.unwrap_err();
    assert_eq!(err.code(), Some("NoUpdateAvailableException"), "{err:?}");
    let err = ecs.update_container_agent().cluster("c").container_instance(&bare).send().await.unwrap_err();
    assert_eq!(err.code(), Some("MissingVersionException"), "{err:?}");
}
