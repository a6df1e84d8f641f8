//! Task definition operations through the AWS SDK for Rust against a real server.

use aws_sdk_ecs::types::{
    Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency, HealthCheck, KeyValuePair,
    LogConfiguration, LogDriver, NetworkMode, PortMapping, SortOrder, Tag, TaskDefinitionFamilyStatus,
    TaskDefinitionField, TaskDefinitionStatus, TransportProtocol,
};
use berth_testkit::TestServer;

fn container(name: &str) -> ContainerDefinition {
    ContainerDefinition::builder().name(name).image("busybox:latest").memory(64).build()
}

async fn register(ecs: &aws_sdk_ecs::Client, family: &str) -> i32 {
    let out =
        ecs.register_task_definition().family(family).container_definitions(container("app")).send().await.unwrap();
    out.task_definition.unwrap().revision
}

#[tokio::test]
async fn full_container_definition_round_trips() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    let web = ContainerDefinition::builder()
        .name("web")
        .image("127.0.0.1:7480/web:1")
        .cpu(256)
        .memory(512)
        .memory_reservation(256)
        .port_mappings(
            PortMapping::builder().container_port(80).host_port(8080).protocol(TransportProtocol::Tcp).build(),
        )
        .essential(true)
        .entry_point("/bin/sh")
        .command("-c")
        .command("httpd -f -p 80")
        .environment(KeyValuePair::builder().name("MODE").value("prod").build())
        .working_directory("/srv")
        .user("1000")
        .links("db:database")
        .depends_on(
            ContainerDependency::builder().container_name("db").condition(ContainerCondition::Healthy).build().unwrap(),
        )
        .health_check(
            HealthCheck::builder().command("CMD-SHELL").command("wget -q localhost").interval(10).build().unwrap(),
        )
        .stop_timeout(10)
        .start_timeout(60)
        .log_configuration(
            LogConfiguration::builder().log_driver(LogDriver::Awslogs).options("awslogs-group", "web").build().unwrap(),
        )
        .docker_labels("tier", "front")
        .readonly_root_filesystem(true)
        .build();
    let db = ContainerDefinition::builder()
        .name("db")
        .image("busybox")
        .memory(128)
        .essential(false)
        .health_check(HealthCheck::builder().command("CMD").command("true").build().unwrap())
        .build();
    let out = ecs
        .register_task_definition()
        .family("shop")
        .network_mode(NetworkMode::Bridge)
        .container_definitions(web)
        .container_definitions(db)
        .cpu("1 vCPU")
        .memory("1GB")
        .tags(Tag::builder().key("app").value("shop").build())
        .send()
        .await
        .unwrap();
    let td = out.task_definition.clone().unwrap();
    assert_eq!(td.task_definition_arn(), Some("arn:aws:ecs:us-east-1:123456789012:task-definition/shop:1"));
    assert_eq!(td.revision(), 1);
    assert_eq!(td.status(), Some(&TaskDefinitionStatus::Active));
    assert_eq!((td.cpu(), td.memory()), (Some("1024"), Some("1024")));
    assert_eq!(td.compatibilities(), &[Compatibility::Ec2]);
    assert!(td.registered_at().is_some());
    assert_eq!(out.tags().len(), 1);
    let attrs: Vec<&str> = td.requires_attributes().iter().map(|a| a.name()).collect();
    assert!(
        attrs.contains(&"ecs.capability.container-health-check")
            && attrs.contains(&"ecs.capability.container-ordering")
    );

    let described = ecs
        .describe_task_definition()
        .task_definition("shop:1")
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(described.tags()[0].value(), Some("shop"));
    let td = described.task_definition.clone().unwrap();
    let c = &td.container_definitions()[0];
    assert_eq!(c.command(), &["-c", "httpd -f -p 80"]);
    assert_eq!(c.port_mappings()[0].host_port(), Some(8080));
    assert_eq!(c.depends_on()[0].condition(), &ContainerCondition::Healthy);
    assert_eq!(c.health_check().unwrap().interval(), Some(10));
    assert_eq!(c.health_check().unwrap().retries(), Some(3), "ECS fills in the default retries");
    assert_eq!(c.log_configuration().unwrap().options().unwrap()["awslogs-group"], "web");
    assert_eq!(c.readonly_root_filesystem(), Some(true), "pass-through fields come back");
    assert_eq!(c.docker_labels().unwrap()["tier"], "front");
}

#[tokio::test]
async fn revisions_describe_and_lifecycle() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    for expected in 1..=3 {
        assert_eq!(register(&ecs, "web").await, expected);
    }
    let latest = ecs.describe_task_definition().task_definition("web").send().await.unwrap();
    assert_eq!(latest.task_definition.unwrap().revision(), 3);
    let by_arn = ecs
        .describe_task_definition()
        .task_definition("arn:aws:ecs:us-east-1:123456789012:task-definition/web:2")
        .send()
        .await
        .unwrap();
    assert_eq!(by_arn.task_definition.unwrap().revision(), 2);

    let gone = ecs.deregister_task_definition().task_definition("web:3").send().await.unwrap();
    let gone = gone.task_definition.unwrap();
    assert_eq!(gone.status(), Some(&TaskDefinitionStatus::Inactive));
    assert!(gone.deregistered_at().is_some());
    // The bare family now means revision 2; revision 3 can still be described by number.
    let latest = ecs.describe_task_definition().task_definition("web").send().await.unwrap();
    assert_eq!(latest.task_definition.unwrap().revision(), 2);
    assert!(ecs.describe_task_definition().task_definition("web:3").send().await.is_ok());

    let deleted =
        ecs.delete_task_definitions().task_definitions("web:3").task_definitions("web:1").send().await.unwrap();
    assert_eq!(deleted.task_definitions()[0].status(), Some(&TaskDefinitionStatus::DeleteInProgress));
    assert_eq!(deleted.failures().len(), 1, "web:1 is still ACTIVE");
    // A new registration never reuses a revision.
    assert_eq!(register(&ecs, "web").await, 4);

    let err = ecs.describe_task_definition().task_definition("web:99").send().await.unwrap_err().into_service_error();
    assert!(err.is_client_exception(), "{err:?}");
    assert_eq!(err.meta().message(), Some("Unable to describe task definition."));
    let err = ecs.deregister_task_definition().task_definition("web").send().await.unwrap_err().into_service_error();
    assert!(err.is_client_exception(), "a revision is required: {err:?}");
}

#[tokio::test]
async fn listing_filters_sorts_and_paginates() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    for family in ["api", "web", "web", "worker", "web"] {
        register(&ecs, family).await;
    }
    ecs.deregister_task_definition().task_definition("api:1").send().await.unwrap();

    let arns = |out: &aws_sdk_ecs::operation::list_task_definitions::ListTaskDefinitionsOutput| -> Vec<String> {
        out.task_definition_arns().iter().map(|a| a.rsplit('/').next().unwrap().to_string()).collect()
    };
    let active = ecs.list_task_definitions().send().await.unwrap();
    assert_eq!(arns(&active), ["web:1", "web:2", "web:3", "worker:1"]);
    let web_desc = ecs.list_task_definitions().family_prefix("web").sort(SortOrder::Desc).send().await.unwrap();
    assert_eq!(arns(&web_desc), ["web:3", "web:2", "web:1"]);
    let inactive = ecs.list_task_definitions().status(TaskDefinitionStatus::Inactive).send().await.unwrap();
    assert_eq!(arns(&inactive), ["api:1"]);

    let page1 = ecs.list_task_definitions().max_results(3).sort(SortOrder::Desc).send().await.unwrap();
    assert_eq!(arns(&page1), ["worker:1", "web:3", "web:2"]);
    let page2 = ecs
        .list_task_definitions()
        .max_results(3)
        .sort(SortOrder::Desc)
        .next_token(page1.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(arns(&page2), ["web:1"]);
    assert!(page2.next_token().is_none());

    let families = ecs.list_task_definition_families().send().await.unwrap();
    assert_eq!(families.families(), ["web", "worker"]);
    let all = ecs
        .list_task_definition_families()
        .status(TaskDefinitionFamilyStatus::All)
        .family_prefix("w")
        .send()
        .await
        .unwrap();
    assert_eq!(all.families(), ["web", "worker"]);
    let inactive =
        ecs.list_task_definition_families().status(TaskDefinitionFamilyStatus::Inactive).send().await.unwrap();
    assert_eq!(inactive.families(), ["api"]);
    let paged = ecs
        .list_task_definition_families()
        .status(TaskDefinitionFamilyStatus::All)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!((paged.families(), paged.next_token().is_some()), (&["api".to_string()][..], true));
}

#[tokio::test]
async fn invalid_definitions_are_refused_and_store_nothing() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    let cases: Vec<(
        &str,
        aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder,
        &str,
    )> = vec![
        (
            "no essential container",
            ecs.register_task_definition().family("bad").container_definitions(
                ContainerDefinition::builder().name("a").image("x").memory(64).essential(false).build(),
            ),
            "essential",
        ),
        (
            "no memory anywhere",
            ecs.register_task_definition()
                .family("bad")
                .container_definitions(ContainerDefinition::builder().name("a").image("x").build()),
            "'memory' or 'memoryReservation'",
        ),
        (
            "duplicate names",
            ecs.register_task_definition()
                .family("bad")
                .container_definitions(container("a"))
                .container_definitions(container("a")),
            "unique",
        ),
        (
            "unknown dependency",
            ecs.register_task_definition().family("bad").container_definitions(
                ContainerDefinition::builder()
                    .name("a")
                    .image("x")
                    .memory(64)
                    .depends_on(
                        ContainerDependency::builder()
                            .container_name("b")
                            .condition(ContainerCondition::Start)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ),
            "dependsOn",
        ),
        (
            "fargate without awsvpc",
            ecs.register_task_definition()
                .family("bad")
                .requires_compatibilities(Compatibility::Fargate)
                .cpu("256")
                .memory("512")
                .container_definitions(container("a")),
            "awsvpc",
        ),
        (
            "fargate size that does not exist",
            ecs.register_task_definition()
                .family("bad")
                .requires_compatibilities(Compatibility::Fargate)
                .network_mode(NetworkMode::Awsvpc)
                .cpu("256")
                .memory("4096")
                .container_definitions(container("a")),
            "No Fargate configuration exists for given values.",
        ),
        (
            "bad family",
            ecs.register_task_definition().family("bad family").container_definitions(container("a")),
            "family",
        ),
    ];
    for (what, call, needle) in cases {
        let err = call.send().await.unwrap_err().into_service_error();
        assert!(err.is_client_exception(), "{what}: {err:?}");
        let message = err.meta().message().unwrap_or_default();
        assert!(message.contains(needle), "{what}: '{message}' should mention '{needle}'");
    }
    let families = ecs.list_task_definition_families().status(TaskDefinitionFamilyStatus::All).send().await.unwrap();
    assert!(families.families().is_empty());
    // A valid Fargate definition is accepted and marked compatible with both launch types.
    let ok = ecs
        .register_task_definition()
        .family("fg")
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("512")
        .memory("2048")
        .container_definitions(container("a"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.task_definition.unwrap().compatibilities(), &[Compatibility::Ec2, Compatibility::Fargate]);
}
