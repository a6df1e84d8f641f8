//! `berth compose up --service-per-container` on the real Docker engine: each compose
//! service is its own ECS service with an address of its own, registered in the
//! project's Cloud Map namespace, so `web` fetches from `http://worker:8080/` by the
//! compose name as under docker compose; its published port is served by a load balancer
//! in front of the task's own address; `compose down` removes the namespace too.

use std::{path::Path, process::Command};

use berth_testkit::{http_get, installed_clis, wait_for, DockerEnv, DEADLINE};

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_services_find_each_other_by_name() {
    // Containers' resolvers use port 53: berth's DNS listens on every address of it.
    let mut env =
        DockerEnv::start_with(berth(), "composedns", &["--task-cidr", "10.222.0.0/16", "--dns-listen", "0.0.0.0:53"])
            .await;
    env.agent(0, &[]).await;
    let project = env.dir.path().join("shop");
    std::fs::create_dir_all(&project).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(project.join(".env"), format!("IMAGE={}\nPORT={port}\n", env.image.reference)).unwrap();
    std::fs::write(
        project.join("docker-compose.yml"),
        r#"
services:
  worker:
    image: ${IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo from-worker > /www/index.html && exec httpd -f -p 8080 -h /www"]
    mem_limit: 32m
    stop_grace_period: 2s
  web:
    image: ${IMAGE}
    command: ["sh", "-c", "mkdir -p /www && until wget -q -O /www/index.html http://worker:8080/; do sleep 0.2; done; exec httpd -f -p 80 -h /www"]
    ports: ["${PORT}:80"]
    mem_limit: 32m
    stop_grace_period: 2s
"#,
    )
    .unwrap();
    let berth_cli = |args: &[&str]| {
        let out = Command::new(berth())
            .args(args)
            .args(["--endpoint-url", &env.server().endpoint])
            .current_dir(&project)
            .env("AWS_ACCESS_KEY_ID", &env.credential.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &env.credential.secret_access_key)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    };
    let (ok, out) = berth_cli(&["compose", "up", "--service-per-container", "--cluster", &env.cluster, "--wait"]);
    assert!(ok, "compose up: {out}");
    assert!(out.contains("is found as worker (worker.shop.internal)"), "{out}");

    // web got worker's page by its compose name, and serves it on the published port.
    let page = wait_for("web serving what it fetched from worker", DEADLINE, async || {
        let (_, page) = http_get(port, "/", "localhost").await?;
        if page.contains("from-worker") {
            Ok(page)
        } else {
            Err(page)
        }
    })
    .await;
    assert!(page.contains("from-worker"));

    // The namespace is Cloud Map's, visible to the aws CLI.
    let cli = installed_clis().into_iter().next().expect("an aws CLI");
    let namespaces = |env: &DockerEnv| {
        let out = env.server().aws(&cli, "us-east-1", &["servicediscovery", "list-namespaces"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["Namespaces"].as_array().unwrap().iter().map(|n| n["Name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(namespaces(&env), vec!["shop.internal"]);

    let (ok, out) = berth_cli(&["compose", "down", "--service-per-container", "--cluster", &env.cluster]);
    assert!(ok, "compose down: {out}");
    env.wait_containers_removed().await;
    assert!(namespaces(&env).is_empty(), "compose down leaves the namespace behind");
}
