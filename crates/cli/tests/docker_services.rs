//! Services end to end on the real Docker engine: `berth server` plus `berth agent`
//! processes, driven with the AWS SDK for Rust — scaling and replacement, lost and draining
//! instances, the circuit breaker, DAEMON services and health-checked rollouts. Each test
//! has its own cluster, image tag and data directory, and removes what it created.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use aws_sdk_ecs::types::{ContainerDefinition, DeploymentConfiguration, HealthCheck};
use berth_testkit::{docker_cli, wait_for, DockerEnv, DEADLINE};

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

/// RUNNING tasks of `service` on `instance`.
async fn running_on(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str, instance: &str) -> usize {
    let out =
        ecs.list_tasks().cluster(cluster).service_name(service).container_instance(instance).send().await.unwrap();
    let arns = out.task_arns().to_vec();
    if arns.is_empty() {
        return 0;
    }
    let tasks = ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.unwrap();
    tasks.tasks().iter().filter(|t| t.last_status() == Some("RUNNING")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_scales_and_replaces_a_killed_container() {
    let mut env = DockerEnv::start(berth(), "service").await;
    env.agent(0, &[]).await;
    env.agent(1, &[]).await;
    let td = env.register("svc", vec![env.container("app", "exec sleep 300").build()]).await;
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("svc")
        .task_definition(&td)
        .desired_count(0)
        .send()
        .await
        .unwrap();

    let stable = |desired: i32| {
        let env = &env;
        async move {
            wait_for(&format!("the service to be stable at {desired}"), DEADLINE, async || {
                let out = env.ecs.describe_services().cluster(&env.cluster).services("svc").send().await.unwrap();
                let svc = out.services()[0].clone();
                let running = env.image.containers().len() as i32;
                if svc.deployments().len() == 1 && svc.running_count() == desired && running == desired {
                    Ok(svc)
                } else {
                    Err(format!(
                        "running {} (containers {running}), deployments {}",
                        svc.running_count(),
                        svc.deployments().len()
                    ))
                }
            })
            .await
        }
    };
    env.ecs.update_service().cluster(&env.cluster).service("svc").desired_count(3).send().await.unwrap();
    stable(3).await;

    // docker kill one of its containers: the service replaces the task.
    let victim = env.image.containers()[0].clone();
    docker_cli(&["kill", &victim]);
    wait_for("a replacement container", DEADLINE, async || {
        let running =
            docker_cli(&["ps", "-q", "--filter", &format!("label=com.amazonaws.ecs.cluster={}", env.cluster)]);
        let ids: Vec<&str> = running.lines().collect();
        if ids.len() == 3 && !ids.contains(&victim.as_str()) {
            Ok(())
        } else {
            Err(format!("{ids:?}"))
        }
    })
    .await;
    let svc = stable(3).await;
    let events: Vec<&str> = svc.events().iter().filter_map(|e| e.message()).collect();
    assert!(events.iter().any(|m| m.starts_with("(service svc) has started 1 tasks:")), "{events:?}");

    env.ecs.update_service().cluster(&env.cluster).service("svc").desired_count(1).send().await.unwrap();
    stable(1).await;
    env.ecs.delete_service().cluster(&env.cluster).service("svc").force(true).send().await.unwrap();
    stable(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tasks_of_a_lost_agent_reappear_on_the_other_one() {
    let mut env = DockerEnv::start(berth(), "failover").await;
    let first = env.agent(0, &[]).await;
    let td = env.register("failover", vec![env.container("app", "exec sleep 300").build()]).await;
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("svc")
        .task_definition(&td)
        .desired_count(2)
        .send()
        .await
        .unwrap();
    let (ecs, cluster) = (env.ecs.clone(), env.cluster.clone());
    let running_on = async |instance: &str| running_on(&ecs, &cluster, "svc", instance).await;
    wait_for("2 tasks on the first agent", DEADLINE, async || match running_on(&first).await {
        2 => Ok(()),
        n => Err(format!("{n} running")),
    })
    .await;
    let second = env.agent(1, &[]).await;
    env.agents[0].take().unwrap().kill9();
    // The first instance disconnects, its tasks are given up after the grace, and the
    // service starts replacements on the second.
    wait_for("2 tasks on the second agent", DEADLINE, async || match running_on(&second).await {
        2 => Ok(()),
        n => Err(format!("{n} running")),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_an_instance_moves_its_service_tasks() {
    let mut env = DockerEnv::start(berth(), "drain").await;
    let first = env.agent(0, &[]).await;
    let td = env.register("drain", vec![env.container("app", "exec sleep 300").build()]).await;
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("svc")
        .task_definition(&td)
        .desired_count(2)
        .deployment_configuration(
            DeploymentConfiguration::builder().minimum_healthy_percent(50).maximum_percent(200).build(),
        )
        .send()
        .await
        .unwrap();
    let (ecs, cluster) = (env.ecs.clone(), env.cluster.clone());
    let running_on = async |instance: &str| running_on(&ecs, &cluster, "svc", instance).await;
    wait_for("2 tasks on the first agent", DEADLINE, async || match running_on(&first).await {
        2 => Ok(()),
        n => Err(format!("{n} running")),
    })
    .await;
    let second = env.agent(1, &[]).await;
    ecs.update_container_instances_state()
        .cluster(&cluster)
        .container_instances(&first)
        .status(aws_sdk_ecs::types::ContainerInstanceStatus::Draining)
        .send()
        .await
        .unwrap();
    wait_for("the tasks to move to the second agent", DEADLINE, async || {
        match (running_on(&first).await, running_on(&second).await) {
            (0, 2) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}

/// Runs `berth service wait` against the test's server; returns (exit code, output).
fn service_wait(env: &DockerEnv, service: &str) -> (i32, String) {
    let out = std::process::Command::new(berth())
        .args(["service", "wait", "--cluster", &env.cluster, "--service", service, "--timeout", "60"])
        .args(["--endpoint-url", &env.server().endpoint])
        .env("AWS_ACCESS_KEY_ID", &env.credential.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &env.credential.secret_access_key)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_rolls_back_tasks_that_exit_and_service_wait_says_so() {
    let mut env = DockerEnv::start(berth(), "breaker").await;
    env.agent(0, &[]).await;
    let good = env.register("brk", vec![env.container("app", "exec sleep 300").build()]).await;
    create_breaker_service(&env, &good, 2).await;
    let (code, output) = service_wait(&env, "svc");
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("svc: deployment completed"), "{output}");

    // A revision whose container exits at once.
    let bad = env.register("brk", vec![env.container("app", "exit 1").build()]).await;
    env.ecs.update_service().cluster(&env.cluster).service("svc").task_definition(&bad).send().await.unwrap();
    let (code, output) = service_wait(&env, "svc");
    assert_eq!(code, 3, "rolled back, never success: {output}");
    assert!(output.contains("deployment failed: tasks failed to start."), "{output}");
    assert!(output.contains("svc: deployment FAILED and was rolled back"), "{output}");
    let svc =
        env.ecs.describe_services().cluster(&env.cluster).services("svc").send().await.unwrap().services()[0].clone();
    assert_eq!(svc.task_definition(), Some(good.as_str()));
    assert_eq!(svc.running_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_service_runs_one_task_per_instance() {
    let mut env = DockerEnv::start(berth(), "daemon").await;
    env.agent(0, &[]).await;
    env.agent(1, &[]).await;
    let td = env.register("daemon", vec![env.container("app", "exec sleep 300").build()]).await;
    let err = env
        .ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("d")
        .task_definition(&td)
        .scheduling_strategy(aws_sdk_ecs::types::SchedulingStrategy::Daemon)
        .desired_count(2)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.meta().message().unwrap().contains("does not support a desired count"), "{err:?}");
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("d")
        .task_definition(&td)
        .scheduling_strategy(aws_sdk_ecs::types::SchedulingStrategy::Daemon)
        .send()
        .await
        .unwrap();
    let (ecs, cluster) = (env.ecs.clone(), env.cluster.clone());
    let per_instance = async || -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for i in ecs.list_container_instances().cluster(&cluster).send().await.unwrap().container_instance_arns() {
            out.push((i.clone(), running_on(&ecs, &cluster, "d", i).await));
        }
        out.sort();
        out
    };
    let one_each = |n: usize| {
        let per_instance = &per_instance;
        async move {
            wait_for(&format!("one task on each of {n} instances"), DEADLINE, async || {
                let now = per_instance().await;
                if now.len() == n && now.iter().all(|(_, c)| *c == 1) {
                    Ok(())
                } else {
                    Err(format!("{now:?}"))
                }
            })
            .await
        }
    };
    one_each(2).await;
    // A third instance gets one too.
    let c = env.agent(2, &[]).await;
    one_each(3).await;
    // A DRAINING instance loses its task.
    ecs.update_container_instances_state()
        .cluster(&cluster)
        .container_instances(&c)
        .status(aws_sdk_ecs::types::ContainerInstanceStatus::Draining)
        .send()
        .await
        .unwrap();
    wait_for("the draining instance's daemon task to stop", DEADLINE, async || {
        let now = per_instance().await;
        let expected: Vec<usize> = now.iter().map(|(i, _)| if *i == c { 0 } else { 1 }).collect();
        let got: Vec<usize> = now.iter().map(|(_, n)| *n).collect();
        if got == expected && now.len() == 3 {
            Ok(())
        } else {
            Err(format!("{now:?}"))
        }
    })
    .await;
    let svc = ecs.describe_services().cluster(&cluster).services("d").send().await.unwrap().services()[0].clone();
    assert_eq!(svc.desired_count(), 2);
}

fn checked(env: &DockerEnv, check: &str) -> ContainerDefinition {
    env.container("app", "exec sleep 300")
        .health_check(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command(check)
                .interval(5)
                .timeout(2)
                .retries(1)
                .build()
                .unwrap(),
        )
        .build()
}

async fn create_breaker_service(env: &DockerEnv, td: &str, desired: i32) {
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("svc")
        .task_definition(td)
        .desired_count(desired)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .minimum_healthy_percent(50)
                .maximum_percent(200)
                .deployment_circuit_breaker(
                    aws_sdk_ecs::types::DeploymentCircuitBreaker::builder().enable(true).rollback(true).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_checked_rollout_never_drops_below_the_minimum() {
    let mut env = DockerEnv::start(berth(), "healthroll").await;
    env.agent(0, &[]).await;
    let v1 = env.register("hr", vec![checked(&env, "true")]).await;
    create_breaker_service(&env, &v1, 2).await;
    assert_eq!(service_wait(&env, "svc").0, 0);

    let v2 = env.register("hr", vec![checked(&env, "true")]).await;
    env.ecs.update_service().cluster(&env.cluster).service("svc").task_definition(&v2).send().await.unwrap();
    // Watch the rollout: at every observation at least 1 (50 % of 2) task is HEALTHY.
    let until = Instant::now() + DEADLINE;
    let mut lowest = usize::MAX;
    loop {
        let arns =
            env.ecs.list_tasks().cluster(&env.cluster).service_name("svc").send().await.unwrap().task_arns().to_vec();
        let tasks = env.ecs.describe_tasks().cluster(&env.cluster).set_tasks(Some(arns)).send().await.unwrap();
        let healthy = tasks
            .tasks()
            .iter()
            .filter(|t| t.last_status() == Some("RUNNING") && t.health_status().map(|h| h.as_str()) == Some("HEALTHY"))
            .count();
        lowest = lowest.min(healthy);
        assert!(healthy >= 1, "below the minimum healthy count during the rollout: {:#?}", tasks.tasks());
        let svc = env.ecs.describe_services().cluster(&env.cluster).services("svc").send().await.unwrap().services()[0]
            .clone();
        let d = &svc.deployments()[0];
        if svc.deployments().len() == 1
            && d.task_definition() == Some(v2.as_str())
            && d.rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
        {
            break;
        }
        assert!(Instant::now() < until, "the rollout did not complete: {svc:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(lowest >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_but_running_deployment_trips_the_breaker() {
    let mut env = DockerEnv::start(berth(), "unhealthy").await;
    env.agent(0, &[]).await;
    let good = env.register("uh", vec![env.container("app", "exec sleep 300").build()]).await;
    create_breaker_service(&env, &good, 2).await;
    assert_eq!(service_wait(&env, "svc").0, 0);
    let sick = env.register("uh", vec![checked(&env, "false")]).await;
    env.ecs.update_service().cluster(&env.cluster).service("svc").task_definition(&sick).send().await.unwrap();
    let (code, output) = service_wait(&env, "svc");
    assert_eq!(code, 3, "{output}");
    assert!(output.contains("deployment failed: tasks failed to start."), "{output}");
    let stopped = env
        .ecs
        .list_tasks()
        .cluster(&env.cluster)
        .service_name("svc")
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    let tasks = env
        .ecs
        .describe_tasks()
        .cluster(&env.cluster)
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    assert!(
        tasks.tasks().iter().any(|t| t.stopped_reason() == Some("Task failed container health checks")),
        "{:#?}",
        tasks.tasks()
    );
}
