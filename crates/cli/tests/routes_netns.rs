//! Routes between hosts' task subnets (`berth agent --task-routes`), with a second host
//! simulated by a network namespace joined to this one by a veth pair: each agent routes
//! the other host's task subnet to that host, and a client in the second host reaches an
//! awsvpc task of the first at its own address, across the "hosts". Needs root and the
//! `ip`, `iptables` and `curl` commands (CI runs as root).

use std::{
    path::Path,
    process::{Child, Command, Stdio},
};

use aws_sdk_ecs::types::{AwsVpcConfiguration, NetworkConfiguration, NetworkMode, PortMapping};
use berth_testkit::{sdk_client, wait_for, AgentProcess, BerthProcess, TestImage, DEADLINE};

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

fn sh(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    } else {
        Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// A network namespace with a veth pair to this one: `host` here, `peer` there (/30).
struct Namespace {
    name: String,
    host: String,
    peer: String,
    /// The task subnet whose forwarded traffic this host's agent accepted (rule removed
    /// at the end).
    accepted: Option<String>,
}

impl Namespace {
    fn create() -> Namespace {
        let id = std::process::id();
        let (name, veth) = (format!("brt{id}"), format!("vbrt{id}"));
        let base = format!("10.250.{}", id % 250);
        let (host, peer) = (format!("{base}.1"), format!("{base}.2"));
        let ns = Namespace { name: name.clone(), host: host.clone(), peer: peer.clone(), accepted: None };
        for cmd in [
            vec!["ip", "netns", "add", &name],
            vec!["ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &name],
            vec!["ip", "addr", "add", &format!("{host}/30"), "dev", &veth],
            vec!["ip", "link", "set", &veth, "up"],
            vec!["ip", "netns", "exec", &name, "ip", "addr", "add", &format!("{peer}/30"), "dev", "eth0"],
            vec!["ip", "netns", "exec", &name, "ip", "link", "set", "eth0", "up"],
            vec!["ip", "netns", "exec", &name, "ip", "link", "set", "lo", "up"],
        ] {
            sh(&cmd).unwrap();
        }
        ns
    }

    fn exec(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        sh(&all)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair, and with it this host's routes via it.
        let _ = sh(&["ip", "netns", "del", &self.name]);
        if let Some(subnet) = &self.accepted {
            let _ = sh(&["iptables", "-D", "DOCKER-USER", "-d", subnet, "-j", "ACCEPT"]);
        }
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_route_each_others_task_subnets() {
    let mut ns = Namespace::create();
    let dir = tempfile::tempdir().unwrap();
    let cluster = format!("routes-{}", std::process::id());
    let image = TestImage::build(&cluster, &cluster);
    let server = BerthProcess::start_on(
        berth(),
        &dir.path().join("server"),
        &format!("{}:0", ns.host),
        &["--task-cidr", "10.218.0.0/16"],
    );
    let credential = server.credential();
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    let here = AgentProcess::start(
        berth(),
        &server.endpoint,
        &cluster,
        &dir.path().join("here"),
        &credential,
        &["--task-routes"],
    );
    let there = Killed(
        Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(berth())
            .args(["agent", "--server", &server.endpoint, "--cluster", &cluster, "--task-routes", "--data-dir"])
            .arg(dir.path().join("there"))
            .env("AWS_ACCESS_KEY_ID", &credential.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &credential.secret_access_key)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("BERTH_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let instances = wait_for("both agents to register", DEADLINE, async || {
        let out = ecs.list_container_instances().cluster(&cluster).send().await.map_err(|e| format!("{e:?}"))?;
        match out.container_instance_arns() {
            [a, b] => Ok(vec![a.clone(), b.clone()]),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let described = ecs
        .describe_container_instances()
        .cluster(&cluster)
        .set_container_instances(Some(instances.clone()))
        .send()
        .await
        .unwrap();
    let address = |ci: &aws_sdk_ecs::types::ContainerInstance| {
        ci.attributes().iter().find(|a| a.name() == "berth.host-address").and_then(|a| a.value()).unwrap().to_string()
    };
    let addresses: Vec<String> = described.container_instances().iter().map(address).collect();
    assert!(addresses.contains(&ns.host) && addresses.contains(&ns.peer), "{addresses:?}");

    // An awsvpc task: placed on this host's agent with a memberOf constraint.
    let web = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("web")
        .image(&image.reference)
        .memory(32)
        .stop_timeout(1)
        .command("sh")
        .command("-c")
        .command("mkdir -p /www && echo across > /www/index.html && exec httpd -f -p 8080 -h /www")
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .build();
    ecs.register_task_definition()
        .family("web")
        .network_mode(NetworkMode::Awsvpc)
        .container_definitions(web)
        .send()
        .await
        .unwrap();
    let vpc = NetworkConfiguration::builder()
        .awsvpc_configuration(AwsVpcConfiguration::builder().subnets("subnet-a").build().unwrap())
        .build();
    let here_only = aws_sdk_ecs::types::PlacementConstraint::builder()
        .r#type(aws_sdk_ecs::types::PlacementConstraintType::MemberOf)
        .expression(format!("attribute:berth.host-address == {}", ns.host))
        .build();
    let run = ecs
        .run_task()
        .cluster(&cluster)
        .task_definition("web")
        .network_configuration(vpc)
        .placement_constraints(here_only)
        .send()
        .await
        .unwrap();
    assert!(run.failures().is_empty(), "{:?}", run.failures());
    let arn = run.tasks()[0].task_arn().unwrap().to_string();
    let ip = wait_for("the task to run", DEADLINE, async || {
        let t = ecs.describe_tasks().cluster(&cluster).tasks(&arn).send().await.unwrap().tasks()[0].clone();
        let ip = t.attachments()[0]
            .details()
            .iter()
            .find(|d| d.name() == Some("privateIPv4Address"))
            .and_then(|d| d.value());
        match (t.last_status(), ip) {
            (Some("RUNNING"), Some(ip)) => Ok(ip.to_string()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let subnet_here = format!("{}.0/24", ip.rsplit_once('.').unwrap().0);
    ns.accepted = Some(subnet_here.clone());

    // The other host routes this host's task subnet here, and reaches the task.
    wait_for("the other host's route to this host's task subnet", DEADLINE, async || {
        let routes = ns.exec(&["ip", "-4", "route", "show", "proto", "187"])?;
        if routes.contains(&format!("{subnet_here} via {}", ns.host)) {
            Ok(())
        } else {
            Err(routes)
        }
    })
    .await;
    let page = wait_for("the task to answer the other host", DEADLINE, async || {
        ns.exec(&["curl", "-s", "-m", "3", &format!("http://{ip}:8080/")])
    })
    .await;
    assert_eq!(page.trim(), "across");
    // And this host routes the other host's subnet there.
    let routes = sh(&["ip", "-4", "route", "show", "proto", "187"]).unwrap();
    assert!(routes.contains(&format!("via {}", ns.peer)), "{routes}");

    ecs.stop_task().cluster(&cluster).task(&arn).send().await.unwrap();
    wait_for("the task to stop", DEADLINE, async || {
        let t = ecs.describe_tasks().cluster(&cluster).tasks(&arn).send().await.unwrap().tasks()[0].clone();
        if t.last_status() == Some("STOPPED") && image.containers().is_empty() {
            Ok(())
        } else {
            Err(format!("{:?}", t.last_status()))
        }
    })
    .await;
    wait_for("the task networks to be removed", DEADLINE, async || {
        let left: Vec<String> = instances.iter().flat_map(|i| berth_testkit::DockerEnv::task_networks(i)).collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await;
    drop(there);
    drop(here);
}
