//! awsvpc tasks and Fargate on the real Docker engine: a task with its own address that
//! its containers share (they talk over localhost) and that the host reaches; a Fargate
//! service behind a load balancer (`ip` targets) rolling out a new revision on a host that
//! offers Fargate capacity; and no container or network left behind.

mod lb_support;

use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, DeploymentConfiguration, LaunchType, LoadBalancer,
    NetworkConfiguration, NetworkMode, PortMapping, Task,
};
use berth_testkit::{http_request_to, wait_for, DockerEnv, DEADLINE};

fn berth() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_berth"))
}

fn vpc() -> NetworkConfiguration {
    let config = AwsVpcConfiguration::builder().subnets("subnet-berth").security_groups("sg-berth").build().unwrap();
    NetworkConfiguration::builder().awsvpc_configuration(config).build()
}

/// Two containers of one task: `web` serves a page on 8080; `sidecar` fetches it over
/// localhost and serves what it got on 8081 (so an answer on 8081 proves both).
fn web_and_sidecar(env: &DockerEnv, page: &str) -> Vec<ContainerDefinition> {
    let web = env
        .container(
            "web",
            &format!("mkdir -p /www && echo {page}-$HOSTNAME > /www/index.html && exec httpd -f -p 8080 -h /www"),
        )
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .build();
    let sidecar = env
        .container(
            "sidecar",
            "mkdir -p /got && until wget -q -O /got/index.html http://127.0.0.1:8080/; do sleep 0.1; done; exec httpd -f -p 8081 -h /got",
        )
        .port_mappings(PortMapping::builder().container_port(8081).build())
        .build();
    vec![web, sidecar]
}

/// The task's own address, from its interface attachment.
fn address(task: &Task) -> String {
    let eni = task.attachments().iter().find(|a| a.r#type() == Some("ElasticNetworkInterface")).expect("an ENI");
    let detail = eni.details().iter().find(|d| d.name() == Some("privateIPv4Address")).expect("an address");
    detail.value().unwrap().to_string()
}

fn eni_status(task: &Task) -> String {
    task.attachments()[0].status().unwrap_or_default().to_string()
}

async fn get(ip: &str, port: u16) -> Result<String, String> {
    let addr = format!("{ip}:{port}").parse().unwrap();
    match http_request_to(addr, "/", "task", "").await? {
        (200, _, body) => Ok(body.trim().to_string()),
        (status, _, body) => Err(format!("{status}: {body}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_awsvpc_task_has_its_own_address_shared_by_its_containers() {
    let mut env = DockerEnv::start_with(berth(), "awsvpc", &["--task-cidr", "10.213.0.0/16"]).await;
    let instance = env.agent(0, &[]).await;
    let td = env
        .ecs
        .register_task_definition()
        .family("vpc")
        .network_mode(NetworkMode::Awsvpc)
        .set_container_definitions(Some(web_and_sidecar(&env, "hello-from-web")))
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
        .task_definition_arn
        .unwrap();

    // awsvpc needs a network configuration, as on ECS.
    let refused = env.ecs.run_task().cluster(&env.cluster).task_definition(&td).send().await.unwrap_err();
    let refused = refused.into_service_error();
    assert!(refused.is_invalid_parameter_exception(), "{refused:?}");
    assert!(refused.to_string().contains("Network Configuration must be provided"), "{refused}");

    let out = env
        .ecs
        .run_task()
        .cluster(&env.cluster)
        .task_definition(&td)
        .network_configuration(vpc())
        .send()
        .await
        .unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    let task = &out.tasks()[0];
    assert_eq!(eni_status(task), "PRECREATED");
    let arn = task.task_arn().unwrap().to_string();
    let running = env.wait_task(&arn, "RUNNING", |t| t.last_status() == Some("RUNNING")).await;
    assert_eq!(eni_status(&running), "ATTACHED");
    let ip = address(&running);
    assert!(ip.starts_with("10.213."), "{ip} is not from the task subnet pool");
    for c in running.containers() {
        assert_eq!(c.network_interfaces()[0].private_ipv4_address(), Some(ip.as_str()), "{c:?}");
        assert!(c.network_bindings().is_empty(), "awsvpc containers bind no host port: {c:?}");
    }
    let page = wait_for("the task to answer on its own address", DEADLINE, async || get(&ip, 8081).await).await;
    assert!(page.starts_with("hello-from-web-"), "the sidecar reached web over localhost: {page}");

    // A restarted agent adopts the task, its pause container and its network.
    env.agents[0].take().unwrap().kill9();
    env.agent(0, &[]).await;
    assert_eq!(get(&ip, 8081).await, Ok(page.clone()), "the task lost its address in the restart");
    let again = env.describe(&arn).await;
    assert_eq!((again.last_status(), address(&again)), (Some("RUNNING"), ip.clone()));
    assert_eq!(DockerEnv::task_networks(&instance).len(), 1);

    env.ecs.stop_task().cluster(&env.cluster).task(&arn).send().await.unwrap();
    let stopped = env.wait_task(&arn, "STOPPED", |t| t.last_status() == Some("STOPPED")).await;
    assert_eq!(eni_status(&stopped), "DELETED");
    env.wait_containers_removed().await;
    wait_for("the task network to be removed", DEADLINE, async || {
        let left = DockerEnv::task_networks(&instance);
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await;
    assert!(get(&ip, 8081).await.is_err(), "the address still answers after the task stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fargate_service_runs_and_rolls_out_on_fargate_capacity() {
    let mut env =
        DockerEnv::start_with(berth(), "fargate", &["--task-cidr", "10.214.0.0/16", "--lb-listen", "127.0.0.1"]).await;
    let host = env.fargate_agent(0, &[]).await;
    let cli = lb_support::first_cli();
    let elb = lb_support::Elb { cli: &cli, server: env.server() };
    let lb = elb.load_balancer("fg", "application");
    let tg = elb.target_group(
        "fg",
        &["--protocol", "HTTP", "--port", "8081", "--target-type", "ip", "--health-check-interval-seconds", "5"],
    );
    let port = lb_support::free_port();
    elb.listener(&lb, "HTTP", port, &tg);
    let target_group =
        LoadBalancer::builder().target_group_arn(&tg).container_name("sidecar").container_port(8081).build();
    let register = |page: &'static str| {
        let containers = web_and_sidecar(&env, page);
        env.ecs
            .register_task_definition()
            .family("fg")
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .set_container_definitions(Some(containers))
            .send()
    };
    let v1 = register("v1").await.unwrap().task_definition.unwrap().task_definition_arn.unwrap();
    let deploy = DeploymentConfiguration::builder().maximum_percent(200).minimum_healthy_percent(100).build();
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("web")
        .task_definition(&v1)
        .desired_count(3)
        .launch_type(LaunchType::Fargate)
        .network_configuration(vpc())
        .deployment_configuration(deploy)
        .load_balancers(target_group)
        .send()
        .await
        .unwrap();
    let tasks = serve_pages(&env, "v1", 3).await;
    for t in &tasks {
        assert_eq!(t.launch_type(), Some(&LaunchType::Fargate));
        assert_eq!(t.container_instance_arn(), None, "Fargate tasks show no container instance");
        assert_eq!(t.platform_version(), Some("1.4.0"));
        assert_eq!(t.platform_family(), Some("Linux"));
        assert_eq!(t.ephemeral_storage().map(|e| e.size_in_gib()), Some(20));
    }
    // The tasks' own addresses are the target group's ip targets, answering round robin.
    let mut ips: Vec<String> = tasks.iter().map(address).collect();
    elb.wait_health(&tg, "3 healthy ip targets", |h| h.len() == 3 && h.iter().all(|(_, _, s)| s == "healthy")).await;
    let mut targets: Vec<String> = elb.health(&tg).into_iter().map(|(id, _, _)| id).collect();
    ips.sort();
    targets.sort();
    assert_eq!(ips, targets);
    lb_support::assert_round_robin(port, 3, 10).await;
    let listed = env.ecs.list_container_instances().cluster(&env.cluster).send().await.unwrap();
    assert!(listed.container_instance_arns().is_empty(), "the Fargate host shows as an instance");

    let v2 = register("v2").await.unwrap().task_definition.unwrap().task_definition_arn.unwrap();
    env.ecs.update_service().cluster(&env.cluster).service("web").task_definition(&v2).send().await.unwrap();
    serve_pages(&env, "v2", 3).await;
    wait_for("the rollout to complete", DEADLINE, async || {
        let out = env.ecs.describe_services().cluster(&env.cluster).services("web").send().await.unwrap();
        let s = &out.services()[0];
        match (s.deployments().len(), s.deployments()[0].rollout_state().map(|r| r.as_str())) {
            (1, Some("COMPLETED")) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    env.ecs.delete_service().cluster(&env.cluster).service("web").force(true).send().await.unwrap();
    env.wait_containers_removed().await;
    wait_for("the Fargate host's task network to be removed", DEADLINE, async || {
        let left = DockerEnv::task_networks(&host);
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await;
}

/// Waits until the service's `count` RUNNING tasks all serve `page` on their own
/// addresses and no other task runs; those tasks.
async fn serve_pages(env: &DockerEnv, page: &str, count: usize) -> Vec<Task> {
    wait_for(&format!("{count} tasks serving {page}"), DEADLINE, async || {
        let listed = env.ecs.list_tasks().cluster(&env.cluster).service_name("web").send().await.unwrap();
        if listed.task_arns().len() != count {
            let out = env.ecs.describe_services().cluster(&env.cluster).services("web").send().await.unwrap();
            let events: Vec<_> = out.services()[0]
                .events()
                .iter()
                .take(3)
                .map(|e| e.message().unwrap_or_default().to_string())
                .collect();
            return Err(format!("{} tasks; events {events:?}", listed.task_arns().len()));
        }
        let described =
            env.ecs.describe_tasks().cluster(&env.cluster).set_tasks(Some(listed.task_arns().to_vec())).send().await;
        let tasks = described.map_err(|e| format!("{e:?}"))?.tasks().to_vec();
        for t in &tasks {
            if t.last_status() != Some("RUNNING") {
                return Err(format!("{:?} is {:?}", t.task_arn(), t.last_status()));
            }
            let body = get(&address(t), 8081).await?;
            if !body.starts_with(&format!("{page}-")) {
                return Err(format!("{:?} serves {body}", t.task_arn()));
            }
        }
        Ok(tasks)
    })
    .await
}
