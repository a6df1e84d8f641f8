//! TagResource / UntagResource / ListTagsForResource and the account settings operations.

use aws_sdk_ecs::types::{SettingName, Tag};
use berth_testkit::TestServer;

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

#[tokio::test]
async fn tags_round_trip_on_clusters_and_task_definitions() {
    let server = TestServer::start().await;
    let ecs = server.sdk("eu-central-1");
    let cluster_arn =
        ecs.create_cluster().cluster_name("web").send().await.unwrap().cluster.unwrap().cluster_arn.unwrap();
    let td_arn = ecs
        .register_task_definition()
        .family("web")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder().name("a").image("x").memory(64).build(),
        )
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
        .task_definition_arn
        .unwrap();

    for arn in [&cluster_arn, &td_arn] {
        ecs.tag_resource().resource_arn(arn).tags(tag("env", "dev")).tags(tag("owner", "me")).send().await.unwrap();
        ecs.tag_resource().resource_arn(arn).tags(tag("env", "prod")).send().await.unwrap();
        ecs.untag_resource().resource_arn(arn).tag_keys("owner").send().await.unwrap();
        let tags = ecs.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
        assert_eq!(tags.tags(), &[tag("env", "prod")], "{arn}");
    }
    let d =
        ecs.describe_clusters().clusters("web").include(aws_sdk_ecs::types::ClusterField::Tags).send().await.unwrap();
    assert_eq!(d.clusters()[0].tags(), &[tag("env", "prod")]);

    // Refusals change nothing.
    let reserved = ecs
        .tag_resource()
        .resource_arn(&cluster_arn)
        .tags(tag("aws:owner", "x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(reserved.is_invalid_parameter_exception(), "{reserved:?}");
    let too_many: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
    let over = ecs
        .tag_resource()
        .resource_arn(&cluster_arn)
        .set_tags(Some(too_many))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(over.is_invalid_parameter_exception(), "{over:?}");
    assert_eq!(ecs.list_tags_for_resource().resource_arn(&cluster_arn).send().await.unwrap().tags().len(), 1);

    let missing = ecs
        .tag_resource()
        .resource_arn("arn:aws:ecs:eu-central-1:123456789012:cluster/ghost")
        .tags(tag("a", "b"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_cluster_not_found_exception(), "{missing:?}");
    let missing_td = ecs
        .list_tags_for_resource()
        .resource_arn("arn:aws:ecs:eu-central-1:123456789012:task-definition/ghost:1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(missing_td.meta().code(), Some("ResourceNotFoundException"));
    let garbage =
        ecs.list_tags_for_resource().resource_arn("not-an-arn").send().await.unwrap_err().into_service_error();
    assert!(garbage.is_invalid_parameter_exception(), "{garbage:?}");
}

#[tokio::test]
async fn account_settings() {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    let root = "arn:aws:iam::123456789012:root";

    let effective =
        ecs.list_account_settings().name(SettingName::ContainerInsights).effective_settings(true).send().await.unwrap();
    assert_eq!(effective.settings()[0].value(), Some("disabled"));
    assert!(ecs.list_account_settings().send().await.unwrap().settings().is_empty());

    let put =
        ecs.put_account_setting_default().name(SettingName::ContainerInsights).value("enabled").send().await.unwrap();
    assert_eq!(put.setting.unwrap().principal_arn(), Some(root));
    // New clusters take the account's containerInsights value.
    let c = ecs.create_cluster().cluster_name("c").send().await.unwrap().cluster.unwrap();
    assert_eq!(c.settings()[0].value(), Some("enabled"));

    ecs.put_account_setting().name(SettingName::ContainerInsights).value("enhanced").send().await.unwrap();
    let listed =
        ecs.list_account_settings().name(SettingName::ContainerInsights).effective_settings(true).send().await.unwrap();
    assert_eq!(listed.settings()[0].value(), Some("enhanced"));
    let deleted = ecs.delete_account_setting().name(SettingName::ContainerInsights).send().await.unwrap();
    assert_eq!(deleted.setting.unwrap().value(), Some("enhanced"));
    let listed =
        ecs.list_account_settings().name(SettingName::ContainerInsights).effective_settings(true).send().await.unwrap();
    assert_eq!(listed.settings()[0].value(), Some("enabled"), "back to the account default");

    let all = ecs.list_account_settings().effective_settings(true).max_results(10).send().await.unwrap();
    assert_eq!(all.settings().len(), 10);
    assert!(all.next_token().is_some());

    let bad = ecs
        .put_account_setting()
        .name(SettingName::TaskLongArnFormat)
        .value("maybe")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad.is_invalid_parameter_exception(), "{bad:?}");
}
