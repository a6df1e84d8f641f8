//! Services on the simulated engine through the real agent: counts kept, tasks replaced,
//! rolling updates and rollbacks, propagated tags.

mod common;

use common::*;

async fn service(s: &Sim, name: &str) -> aws_sdk_ecs::types::Service {
    s.ecs.describe_services().cluster("sim").services(name).send().await.unwrap().services()[0].clone()
}

/// Waits until the service is stable: one deployment, COMPLETED, running == desired.
async fn wait_stable(s: &Sim, name: &str, desired: i32) -> aws_sdk_ecs::types::Service {
    wait_for(&format!("service {name} to be stable at {desired}"), DEADLINE, async || {
        let svc = service(s, name).await;
        let d = &svc.deployments()[0];
        if svc.deployments().len() == 1
            && svc.running_count() == desired
            && d.rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
        {
            Ok(svc)
        } else {
            Err(format!("{svc:#?}"))
        }
    })
    .await
}

fn messages(svc: &aws_sdk_ecs::types::Service) -> Vec<String> {
    svc.events().iter().filter_map(|e| e.message().map(String::from)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_keeps_its_count_replaces_tasks_and_scales() {
    let s = start().await;
    s.register("web", app(64)).await;
    let created = s
        .ecs
        .create_service()
        .cluster("sim")
        .service_name("web")
        .task_definition("web")
        .desired_count(3)
        .send()
        .await
        .unwrap();
    let created = created.service.unwrap();
    assert_eq!(created.status(), Some("ACTIVE"));
    assert_eq!(created.deployments()[0].status(), Some("PRIMARY"));
    let svc = wait_stable(&s, "web", 3).await;
    let events = messages(&svc);
    assert!(events.iter().any(|m| m == "(service web) has reached a steady state."), "{events:?}");
    assert!(events.iter().any(|m| m.starts_with("(service web) has started 3 tasks: (task ")), "{events:?}");

    // A task's process dies: the service replaces it.
    let running = s.ecs.list_tasks().cluster("sim").service_name("web").send().await.unwrap().task_arns().to_vec();
    assert_eq!(running.len(), 3);
    let victim = s.wait(&running[0], "RUNNING", |t| last(t) == "RUNNING").await;
    s.sim.exit(&s.container_id(&victim), 1);
    wait_for("a replacement task", DEADLINE, async || {
        let now = s.ecs.list_tasks().cluster("sim").service_name("web").send().await.unwrap().task_arns().to_vec();
        if now.len() == 3 && !now.contains(&running[0]) {
            Ok(())
        } else {
            Err(format!("{now:?}"))
        }
    })
    .await;
    wait_stable(&s, "web", 3).await;

    // Scale in, then refuse a non-forced delete while scaled up.
    s.ecs.update_service().cluster("sim").service("web").desired_count(1).send().await.unwrap();
    wait_stable(&s, "web", 1).await;
    let err = s.ecs.delete_service().cluster("sim").service("web").send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    let deleted = s.ecs.delete_service().cluster("sim").service("web").force(true).send().await.unwrap();
    assert_eq!(deleted.service.unwrap().status(), Some("DRAINING"));
    wait_for("the deleted service to go INACTIVE", DEADLINE, async || {
        let svc = service(&s, "web").await;
        if svc.status() == Some("INACTIVE") {
            Ok(())
        } else {
            Err(format!("{:?} running {}", svc.status(), svc.running_count()))
        }
    })
    .await;
    assert!(s.ecs.list_services().cluster("sim").send().await.unwrap().service_arns().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_updates_complete_and_a_failing_one_rolls_back() {
    let s = start().await;
    s.register("web", app(64)).await;
    s.ecs
        .create_service()
        .cluster("sim")
        .service_name("web")
        .task_definition("web:1")
        .desired_count(2)
        .deployment_configuration(
            aws_sdk_ecs::types::DeploymentConfiguration::builder()
                .maximum_percent(200)
                .minimum_healthy_percent(50)
                .deployment_circuit_breaker(
                    aws_sdk_ecs::types::DeploymentCircuitBreaker::builder().enable(true).rollback(true).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_stable(&s, "web", 2).await;

    // A good new revision rolls out and replaces the old one.
    s.register("web", app(64)).await;
    s.ecs.update_service().cluster("sim").service("web").task_definition("web:2").send().await.unwrap();
    let svc = wait_stable(&s, "web", 2).await;
    assert!(svc.task_definition().unwrap().ends_with("web:2"));
    assert!(svc.deployments()[0].task_definition().unwrap().ends_with("web:2"));

    // A revision whose containers cannot start trips the breaker and rolls back to web:2.
    let broken = ContainerDefinition::builder().name("app").image("busybox").memory(64).command("fail").build();
    s.register("web", broken).await;
    s.ecs.update_service().cluster("sim").service("web").task_definition("web:3").send().await.unwrap();
    let svc = wait_for("the rollback to complete", DEADLINE, async || {
        let svc = service(&s, "web").await;
        let d = &svc.deployments()[0];
        if svc.deployments().len() == 1
            && d.task_definition().is_some_and(|t| t.ends_with("web:2"))
            && d.rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
            && svc.running_count() == 2
        {
            Ok(svc)
        } else {
            Err(format!("{svc:#?}"))
        }
    })
    .await;
    let events = messages(&svc);
    assert!(events.iter().any(|m| m.contains("deployment failed: tasks failed to start.")), "{events:?}");
    assert!(events.iter().any(|m| m.contains("rolling back to deployment")), "{events:?}");
    assert!(svc.task_definition().unwrap().ends_with("web:2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tasks_carry_propagated_and_managed_tags() {
    let s = start().await;
    s.register("web", app(64)).await;
    s.ecs
        .create_service()
        .cluster("sim")
        .service_name("tagged")
        .task_definition("web")
        .desired_count(1)
        .tags(Tag::builder().key("team").value("blue").build())
        .propagate_tags(aws_sdk_ecs::types::PropagateTags::Service)
        .enable_ecs_managed_tags(true)
        .send()
        .await
        .unwrap();
    wait_stable(&s, "tagged", 1).await;
    let arn = s.ecs.list_tasks().cluster("sim").service_name("tagged").send().await.unwrap().task_arns()[0].clone();
    let out = s
        .ecs
        .describe_tasks()
        .cluster("sim")
        .tasks(&arn)
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> = out.tasks()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
        .collect();
    for expected in [("team", "blue"), ("aws:ecs:serviceName", "tagged"), ("aws:ecs:clusterName", "sim")] {
        assert!(tags.contains(&(expected.0.to_string(), expected.1.to_string())), "{tags:?}");
    }
}
