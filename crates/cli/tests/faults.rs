//! The fault matrix: `kill -9` of the server or an agent at a random moment of a RunTask
//! burst or a rolling deploy, of the server during registry pushes; an agent cut off from the server and
//! healed; the server's disk filling up; the server restarted under load. After each, no
//! acknowledged write is lost, no container is duplicated or orphaned, and services are
//! back at their count.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use aws_sdk_ecs::types::{DeploymentConfiguration, Task};
use berth_testkit::{
    digest_of, ecr_client, sdk_client, wait_for, BerthProcess, DockerEnv, FaultyLink, RegistryClient, DEADLINE,
};
use rand::Rng;

mod faults_support;

use faults_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_a_run_task_burst_loses_no_task_and_leaves_no_orphan() {
    run_task_burst_with_a_kill("burst", Victim::Server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_during_a_run_task_burst_loses_no_task_and_leaves_no_orphan() {
    run_task_burst_with_a_kill("burstagent", Victim::Agent(0)).await;
}

/// RunTask from three clients at once; `victim` is killed after a random number of
/// acknowledgements and started again. Every acknowledged task must be known and running in
/// exactly one container, and no container may run for a task the server does not want.
async fn run_task_burst_with_a_kill(name: &str, victim: Victim) {
    let mut env = DockerEnv::start(berth(), name).await;
    env.agent(0, &[]).await;
    let td = env.register(name, vec![env.container("app", "exec sleep 300").build()]).await;
    let kill_after = rand::thread_rng().gen_range(2..=8);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (ecs, cluster, td) = (env.ecs.clone(), env.cluster.clone(), td.clone());
            let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match ecs.run_task().cluster(&cluster).task_definition(&td).send().await {
                        Ok(out) => {
                            acknowledged.lock().unwrap().extend(out.tasks().iter().filter_map(|t| t.task_arn.clone()))
                        }
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    wait_acknowledged(&acknowledged, kill_after).await;
    if let Victim::Agent(_) = victim {
        // The server stays up, so the clients would go on placing tasks for as long as the
        // agent takes to come back; requests in flight still land while the agent dies.
        stop.store(true, Ordering::Relaxed);
    }
    // A killed server cuts the clients off mid-request.
    kill_and_restart(&mut env, victim).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    let acknowledged = acknowledged.lock().unwrap().clone();
    let tasks = converged(&env).await;
    let known: HashSet<&str> = tasks.iter().filter_map(|t| t.task_arn()).collect();
    for arn in &acknowledged {
        assert!(known.contains(arn.as_str()), "acknowledged task {arn} was lost");
    }
    assert!(tasks.len() >= acknowledged.len());

    // Still under control: every task stops and its container goes.
    for t in &tasks {
        env.ecs.stop_task().cluster(&env.cluster).task(t.task_arn().unwrap()).send().await.unwrap();
    }
    env.wait_containers_removed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_during_a_rolling_deploy_comes_back_and_the_service_reaches_its_count() {
    rolling_deploy_with_a_kill("deploykill", Victim::Agent(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_a_rolling_deploy_comes_back_and_the_service_reaches_its_count() {
    rolling_deploy_with_a_kill("deployserver", Victim::Server).await;
}

/// A service of 4 on two agents rolls out a new revision; `victim` is killed once a random
/// number of the new tasks started, and started again. The rollout completes, with exactly
/// the 4 new tasks running in one container each.
async fn rolling_deploy_with_a_kill(name: &str, victim: Victim) {
    let mut env = DockerEnv::start(berth(), name).await;
    env.agent(0, &[]).await;
    env.agent(1, &[]).await;
    let v1 = env.register(name, vec![env.container("app", "exec sleep 300").build()]).await;
    let v2 = env.register(name, vec![env.container("app", "exec sleep 301").build()]).await;
    let config = DeploymentConfiguration::builder().maximum_percent(200).minimum_healthy_percent(50).build();
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("web")
        .task_definition(&v1)
        .desired_count(4)
        .deployment_configuration(config)
        .send()
        .await
        .unwrap();
    let steady = async |env: &DockerEnv, td: &str| {
        wait_for("the service to be steady", DEADLINE, async || {
            let out = env.ecs.describe_services().cluster(&env.cluster).services("web").send().await.unwrap();
            let s = &out.services()[0];
            let d = s.deployments();
            let done = d.len() == 1
                && d[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
                && s.running_count() == 4
                && s.task_definition() == Some(td);
            if done {
                Ok(())
            } else {
                Err(format!("{s:#?}"))
            }
        })
        .await
    };
    steady(&env, &v1).await;

    env.ecs.update_service().cluster(&env.cluster).service("web").task_definition(&v2).send().await.unwrap();
    // The kill comes once the rollout has started a random number of its new tasks.
    let started = rand::thread_rng().gen_range(1..=4);
    wait_for("the rollout to start its new tasks", DEADLINE, async || {
        let out = env.ecs.describe_services().cluster(&env.cluster).services("web").send().await.unwrap();
        let primary = &out.services()[0].deployments()[0];
        let new = primary.running_count() + primary.pending_count();
        if primary.task_definition() == Some(v2.as_str()) && new >= started {
            Ok(())
        } else {
            Err(format!("{new} of {started} new tasks"))
        }
    })
    .await;
    kill_and_restart(&mut env, victim).await;
    steady(&env, &v2).await;

    let tasks = converged(&env).await;
    let running: Vec<&Task> = tasks.iter().filter(|t| t.desired_status() == Some("RUNNING")).collect();
    assert_eq!(running.len(), 4, "{running:#?}");
    assert!(running.iter().all(|t| t.task_definition_arn() == Some(v2.as_str())));
    env.ecs.delete_service().cluster(&env.cluster).service("web").force(true).send().await.unwrap();
    env.wait_containers_removed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cut_off_from_the_server_heals_without_restarting_its_tasks() {
    let mut env =
        DockerEnv::start_with(berth(), "partition", &["--heartbeat-timeout", "2", "--disconnected-grace", "120"]).await;
    let server_addr = env.server().endpoint.trim_start_matches("http://").parse().unwrap();
    let link = FaultyLink::start(server_addr).await;
    let instance = env.agent_via(0, &link.endpoint(), &[]).await;
    let td = env.register("partition", vec![env.container("app", "exec sleep 300").build()]).await;
    let keep = env.run(&td).await;
    let stop = env.run(&td).await;
    let kept = env.wait_task(&keep, "RUNNING", |t| status(t) == "RUNNING").await;
    env.wait_task(&stop, "RUNNING", |t| status(t) == "RUNNING").await;
    let runtime_id = kept.containers()[0].runtime_id().unwrap().to_string();

    link.cut();
    let connected = async |want: bool| {
        wait_for(&format!("agentConnected={want}"), DEADLINE, async || {
            let out =
                env.ecs.describe_container_instances().cluster(&env.cluster).container_instances(&instance).send();
            match out.await.map(|o| o.container_instances()[0].agent_connected()) {
                Ok(c) if c == want => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    };
    connected(false).await;
    // Acknowledged while the agent cannot hear it: delivered once the link heals.
    env.ecs.stop_task().cluster(&env.cluster).task(&stop).reason("during the partition").send().await.unwrap();
    link.heal();
    connected(true).await;
    let stopped = env.wait_task(&stop, "STOPPED", |t| status(t) == "STOPPED").await;
    assert_eq!(stopped.stopped_reason(), Some("during the partition"));
    let kept = env.describe(&keep).await;
    assert_eq!(status(&kept), "RUNNING");
    assert_eq!(kept.containers()[0].runtime_id(), Some(runtime_id.as_str()), "the task was not restarted");
    converged(&env).await;
}

/// Pushes image `n` (one layer of its own) and returns its tag, digest and layer.
async fn push(client: &RegistryClient, n: usize) -> (String, String, Vec<u8>) {
    let layer = format!("layer of image {n} {}", "x".repeat(n % 7 * 1000)).into_bytes();
    let tag = format!("v{n}");
    let (digest, _) = client.push_image("app", &tag, &layer).await;
    (tag, digest, layer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_registry_pushes_keeps_every_acknowledged_image() {
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(berth(), dir.path(), 0);
    let credential = server.credential();
    let ecr = ecr_client(&server.endpoint, &credential, "us-east-1");
    ecr.create_repository().repository_name("app").send().await.unwrap();
    let addr = server.endpoint.trim_start_matches("http://").parse().unwrap();
    let client = RegistryClient::login(addr, &ecr).await;
    let kill_after = rand::thread_rng().gen_range(3..=15);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (client, acknowledged) = (client.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for n in (w..).step_by(2) {
                    // A push whose connection dies panics inside the helper: stop there.
                    let pushed = tokio::spawn({
                        let client = client.clone();
                        async move { push(&client, n).await }
                    })
                    .await;
                    match pushed {
                        Ok(image) => acknowledged.lock().unwrap().push(image),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    wait_acknowledged(&acknowledged, kill_after).await;
    let port = server.port();
    server.kill9();
    for w in workers {
        let _ = w.await;
    }
    let server = BerthProcess::start(berth(), dir.path(), port);
    assert_eq!(std::fs::read_dir(dir.path().join("registry/uploads")).unwrap().count(), 0, "no upload left over");
    let client = RegistryClient::login(addr, &ecr_client(&server.endpoint, &credential, "us-east-1")).await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= kill_after);
    for (tag, digest, layer) in &acknowledged {
        let manifest = client.get(&format!("/v2/app/manifests/{tag}")).await;
        assert_eq!(manifest.status, 200, "{tag} was acknowledged");
        assert_eq!(manifest.header("docker-content-digest"), Some(digest.as_str()));
        let blob = client.get(&format!("/v2/app/blobs/{}", digest_of(layer))).await;
        assert_eq!(blob.status, 200);
        assert_eq!(digest_of(&blob.body), digest_of(layer), "{tag}'s layer reads back whole");
    }
}

/// A tmpfs of `mib` MiB, unmounted when dropped.
struct SmallDisk {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u32) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&path)
            .output()
            .expect("run mount");
        assert!(out.status.success(), "the disk-full test mounts a tmpfs (needs root): {out:?}");
        SmallDisk { path, _dir: dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.path).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_and_recovers() {
    let disk = SmallDisk::mount(8);
    let data = disk.path.join("data");
    let server = BerthProcess::start(berth(), &data, 0);
    let credential = server.credential();
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    // Fill the disk but for about a megabyte.
    let filler = disk.path.join("filler");
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", &format!("of={}", filler.display()), "bs=64k", "count=4096"])
        .output();
    let room = std::fs::metadata(&filler).unwrap().len().saturating_sub(1 << 20);
    std::fs::OpenOptions::new().write(true).open(&filler).unwrap().set_len(room).unwrap();
    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for n in 0..5000 {
        let big = "v".repeat(4000);
        let container = aws_sdk_ecs::types::ContainerDefinition::builder()
            .name("app")
            .image("busybox")
            .memory(64)
            .environment(aws_sdk_ecs::types::KeyValuePair::builder().name("PAD").value(&big).build())
            .build();
        match ecs.register_task_definition().family(format!("f{n}")).container_definitions(container).send().await {
            Ok(out) => acknowledged.push(out.task_definition.unwrap().task_definition_arn.unwrap()),
            Err(e) => {
                refusal = Some(e.into_service_error());
                break;
            }
        }
    }
    let refusal = refusal.expect("the disk filled up");
    assert_eq!(refusal.meta().code(), Some("ServerException"), "{refusal:?}");
    assert!(refusal.meta().message().unwrap_or_default().contains("could not be stored"), "{refusal:?}");
    // Reads still work, and everything acknowledged is there.
    let listed = ecs.list_task_definition_families().max_results(100).send().await.unwrap();
    assert!(!listed.families().is_empty());
    std::fs::remove_file(&filler).unwrap();
    let after = ecs
        .create_cluster()
        .cluster_name("after-the-disk-was-freed")
        .send()
        .await
        .expect("writes work again once there is room");
    assert!(after.cluster.is_some());
    server.kill9();
    let server = BerthProcess::start(berth(), &data, 0);
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    for arn in &acknowledged {
        ecs.describe_task_definition().task_definition(arn).send().await.unwrap_or_else(|e| panic!("{arn}: {e:?}"));
    }
    let clusters = ecs.list_clusters().send().await.unwrap();
    assert!(clusters.cluster_arns().iter().any(|a| a.ends_with("/after-the-disk-was-freed")));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_under_load_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(berth(), dir.path(), 0);
    let credential = server.credential();
    let port = server.port();
    let endpoint = server.endpoint.clone();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let ecs = sdk_client(&endpoint, &credential, "us-east-1");
            let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let name = format!("w{w}-{n}");
                    // Refused while the server is down; carried on when it is back.
                    if ecs.create_cluster().cluster_name(&name).send().await.is_ok() {
                        acknowledged.lock().unwrap().push(name);
                    } else {
                        // Back off while the server is down rather than spin.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    let _ = ecs.list_clusters().send().await;
                }
            })
        })
        .collect();
    wait_for("load before the restart", DEADLINE, async || {
        let n = acknowledged.lock().unwrap().len();
        if n >= 50 {
            Ok(())
        } else {
            Err(n.to_string())
        }
    })
    .await;
    let pid = server.pid();
    let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).output();
    let mut server = server;
    assert!(server.wait_exit(Duration::from_secs(20)).is_some(), "SIGTERM stops the server");
    drop(server);
    let server = BerthProcess::start(berth(), dir.path(), port);
    let before = acknowledged.lock().unwrap().len();
    wait_for("load after the restart", DEADLINE, async || {
        let n = acknowledged.lock().unwrap().len();
        if n >= before + 50 {
            Ok(())
        } else {
            Err(format!("{n}"))
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    server.kill9();
    let server = BerthProcess::start(berth(), dir.path(), port);
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    let mut listed = HashSet::new();
    let mut token = None;
    loop {
        let out = ecs.list_clusters().set_next_token(token).max_results(100).send().await.unwrap();
        listed.extend(out.cluster_arns().iter().map(|a| a.rsplit('/').next().unwrap().to_string()));
        token = out.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    for name in acknowledged.lock().unwrap().iter() {
        assert!(listed.contains(name), "acknowledged cluster {name} was lost");
    }
}
