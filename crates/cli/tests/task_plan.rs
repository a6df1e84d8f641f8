//! `berth task plan` against a running server: ranks, reasons, JSON, and no side effects.

use std::{path::Path, process::Command};

use aws_sdk_ecs::types::{Attribute, ContainerDefinition, Resource};
use berth_testkit::{sdk_client, BerthProcess};

async fn instance(ecs: &aws_sdk_ecs::Client, az: &str, memory: i32) -> String {
    let out = ecs
        .register_container_instance()
        .cluster("plan")
        .total_resources(Resource::builder().name("CPU").r#type("INTEGER").integer_value(1024).build())
        .total_resources(Resource::builder().name("MEMORY").r#type("INTEGER").integer_value(memory).build())
        .attributes(Attribute::builder().name("ecs.availability-zone").value(az).build().unwrap())
        .send()
        .await
        .unwrap();
    let arn = out.container_instance.unwrap().container_instance_arn.unwrap();
    arn.rsplit('/').next().unwrap().to_string()
}

fn plan(server: &BerthProcess, args: &[&str]) -> (bool, String, String) {
    let credential = server.credential();
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["task", "plan", "--endpoint-url", &server.endpoint, "--cluster", "plan"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &credential.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &credential.secret_access_key)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_ranks_explains_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(Path::new(env!("CARGO_BIN_EXE_berth")), dir.path(), 0);
    let ecs = sdk_client(&server.endpoint, &server.credential(), "us-east-1");
    ecs.create_cluster().cluster_name("plan").send().await.unwrap();
    let small = instance(&ecs, "az-a", 300).await;
    let large = instance(&ecs, "az-b", 2048).await;
    let medium = instance(&ecs, "az-b", 1024).await;
    for (family, memory) in [("web", 512), ("huge", 4096)] {
        ecs.register_task_definition()
            .family(family)
            .container_definitions(ContainerDefinition::builder().name("a").image("x").memory(memory).build())
            .send()
            .await
            .unwrap();
    }

    let (ok, text, err) = plan(
        &server,
        &["--task-definition", "web", "--count", "2", "--placement-strategy", "type=binpack,field=memory"],
    );
    assert!(ok, "{err}");
    assert!(text.contains("strategies: binpack(memory)"), "{text}");
    assert!(text.contains(&format!("task 1 -> {medium}")) && text.contains(&format!("task 2 -> {medium}")), "{text}");
    assert!(text.contains(&format!("#1    {medium}")) && text.contains(&format!("#2    {large}")), "{text}");
    assert!(text.contains(&format!("{small}  RESOURCE:MEMORY: memory: needs 512 MiB, 300 free")), "{text}");

    // A task that fits nowhere: every instance names the first filter (in ECS's order:
    // resources, then constraints) that ruled it out.
    let (ok, text, err) = plan(
        &server,
        &[
            "--task-definition",
            "web",
            "--placement-constraints",
            "type=memberOf,expression=attribute:ecs.availability-zone == az-a",
        ],
    );
    assert!(!ok && err.is_empty(), "a task that fits nowhere is a non-zero exit (2), with the plan printed: {err}");
    assert!(text.contains("task 1 -> nowhere"), "{text}");
    assert!(text.contains(&format!("{small}  RESOURCE:MEMORY: memory: needs 512 MiB, 300 free")), "{text}");
    let member_of = "MemberOf placement constraint unsatisfied.: memberOf: the instance does not match 'attribute:ecs.availability-zone == az-a'";
    assert!(text.contains(&format!("{large}  {member_of}")), "{text}");
    assert!(text.contains(&format!("{medium}  {member_of}")), "{text}");
    let (_, text, _) = plan(&server, &["--task-definition", "huge"]);
    assert!(text.contains(&format!("{large}  RESOURCE:MEMORY: memory: needs 4096 MiB, 2048 free")), "{text}");

    let (ok, json, err) = plan(&server, &["--task-definition", "web", "--output", "json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["strategies"], serde_json::json!([{"type": "random"}]), "RunTask's default");
    assert_eq!(v["instances"].as_array().unwrap().len(), 3);

    // A bad expression is the server's InvalidParameterException, and a non-zero exit.
    let (ok, _, err) =
        plan(&server, &["--task-definition", "web", "--placement-constraints", "type=memberOf,expression=attribute:x"]);
    assert!(!ok && err.contains("InvalidParameterException") && err.contains("position"), "{err}");

    // Planning placed nothing.
    assert!(ecs.list_tasks().cluster("plan").send().await.unwrap().task_arns().is_empty());
}
