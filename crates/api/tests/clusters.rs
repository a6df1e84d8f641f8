//! Cluster operations through the AWS SDK for Rust against a real server.

use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName, Tag};
use berth_testkit::TestServer;

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

#[tokio::test]
async fn create_describe_update_delete() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");

    let created = ecs
        .create_cluster()
        .cluster_name("web")
        .tags(tag("team", "platform"))
        .settings(ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value("enabled").build())
        .send()
        .await
        .unwrap();
    let cluster = created.cluster.unwrap();
    assert_eq!(cluster.cluster_arn(), Some("arn:aws:ecs:us-east-1:123456789012:cluster/web"));
    assert_eq!(cluster.status(), Some("ACTIVE"));
    assert_eq!(cluster.tags().len(), 1);

    // Plain describe leaves out the optional parts; include brings them back.
    let plain = ecs.describe_clusters().clusters("web").send().await.unwrap();
    assert!(plain.clusters()[0].tags().is_empty() && plain.clusters()[0].settings().is_empty());
    let full = ecs
        .describe_clusters()
        .clusters("arn:aws:ecs:us-east-1:123456789012:cluster/web")
        .clusters("ghost")
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .include(ClusterField::Statistics)
        .send()
        .await
        .unwrap();
    let c = &full.clusters()[0];
    assert_eq!(c.tags()[0].key(), Some("team"));
    assert_eq!(c.settings()[0].value(), Some("enabled"));
    let mut names: Vec<&str> = c.statistics().iter().filter_map(|s| s.name()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "activeEC2ServiceCount",
            "activeExternalServiceCount",
            "activeFargateServiceCount",
            "drainingEC2ServiceCount",
            "drainingExternalServiceCount",
            "drainingFargateServiceCount",
            "pendingEC2TasksCount",
            "pendingExternalTasksCount",
            "pendingFargateTasksCount",
            "runningEC2TasksCount",
            "runningExternalTasksCount",
            "runningFargateTasksCount",
        ],
        "ECS's full set of counters"
    );
    assert_eq!(full.failures()[0].reason(), Some("MISSING"));
    assert_eq!(full.failures()[0].arn(), Some("arn:aws:ecs:us-east-1:123456789012:cluster/ghost"));

    let updated = ecs
        .update_cluster_settings()
        .cluster("web")
        .settings(ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value("disabled").build())
        .send()
        .await
        .unwrap();
    assert_eq!(updated.cluster.unwrap().settings()[0].value(), Some("disabled"));

    let deleted = ecs.delete_cluster().cluster("web").send().await.unwrap();
    assert_eq!(deleted.cluster.unwrap().status(), Some("INACTIVE"));
    // Still describable as INACTIVE, no longer listed.
    let after = ecs.describe_clusters().clusters("web").send().await.unwrap();
    assert_eq!(after.clusters()[0].status(), Some("INACTIVE"));
    assert!(ecs.list_clusters().send().await.unwrap().cluster_arns().is_empty());
}

#[tokio::test]
async fn errors_are_ecs_errors_and_change_nothing() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");

    let err = ecs.delete_cluster().cluster("nope").send().await.unwrap_err().into_service_error();
    assert!(err.is_cluster_not_found_exception(), "{err:?}");
    assert_eq!(err.meta().message(), Some("Cluster not found."));

    let err = ecs.create_cluster().cluster_name("bad name!").send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    assert!(ecs.list_clusters().send().await.unwrap().cluster_arns().is_empty());

    let err = ecs
        .create_cluster()
        .cluster_name("web")
        .settings(ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value("sometimes").build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    assert!(ecs.list_clusters().send().await.unwrap().cluster_arns().is_empty());

    ecs.create_cluster().cluster_name("gone").send().await.unwrap();
    ecs.delete_cluster().cluster("gone").send().await.unwrap();
    let err = ecs.update_cluster().cluster("gone").send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    assert!(err.meta().message().unwrap().contains("inactive"));
}

#[tokio::test]
async fn default_cluster_and_idempotent_create() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    // DescribeClusters with no names means the default cluster, which does not exist yet.
    let none = ecs.describe_clusters().send().await.unwrap();
    assert_eq!(none.failures()[0].reason(), Some("MISSING"));
    let created = ecs.create_cluster().send().await.unwrap().cluster.unwrap();
    assert_eq!(created.cluster_name(), Some("default"));
    let again = ecs.create_cluster().send().await.unwrap().cluster.unwrap();
    assert_eq!(again.cluster_arn(), created.cluster_arn());
    assert_eq!(ecs.describe_clusters().send().await.unwrap().clusters().len(), 1);
    assert_eq!(ecs.list_clusters().send().await.unwrap().cluster_arns().len(), 1);
}

#[tokio::test]
async fn list_clusters_paginates() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    for i in 0..7 {
        ecs.create_cluster().cluster_name(format!("c{i}")).send().await.unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = ecs.list_clusters().max_results(3).set_next_token(token).send().await.unwrap();
        assert!(page.cluster_arns().len() <= 3);
        seen.extend(page.cluster_arns().iter().cloned());
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("arn:aws:ecs:us-east-1:123456789012:cluster/c{i}")).collect();
    assert_eq!(seen, expected);
    // The SDK's own paginator walks the same pages.
    let all: Vec<String> = ecs
        .list_clusters()
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(all, expected);
    let err = ecs.list_clusters().max_results(500).send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
}

#[tokio::test]
async fn regions_are_separate_namespaces() {
    let server = TestServer::start().await;
    let west = server.sdk("us-west-2");
    let east = server.sdk("us-east-1");
    let c = west.create_cluster().cluster_name("web").send().await.unwrap().cluster.unwrap();
    assert_eq!(c.cluster_arn(), Some("arn:aws:ecs:us-west-2:123456789012:cluster/web"));
    assert!(east.list_clusters().send().await.unwrap().cluster_arns().is_empty());
    assert_eq!(east.describe_clusters().clusters("web").send().await.unwrap().failures().len(), 1);
    assert_eq!(west.list_clusters().send().await.unwrap().cluster_arns().len(), 1);
}
