//! The built-in registry with real clients: the docker CLI (login, push, pull, run, mount,
//! delete), skopeo (OCI layouts in and out), an ECS task whose image only exists in the
//! registry, and a server killed in the middle of an upload.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use berth_testkit::{
    docker_cli, ecr_client, sdk_client, wait_for, AgentProcess, BerthProcess, RegistryClient, TestImage,
};
use hyper::Method;

const DEADLINE: Duration = Duration::from_secs(60);

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

/// The aws CLI v2 from Debian if present, else the one on PATH.
fn aws_cli() -> PathBuf {
    let v2 = PathBuf::from("/usr/bin/aws");
    if v2.exists() {
        v2
    } else {
        PathBuf::from("aws")
    }
}

fn aws(server: &BerthProcess, args: &[&str]) -> String {
    let out = server.aws(&aws_cli(), "us-east-1", args);
    assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The docker CLI with its own config directory, so logins stay inside the test.
struct Docker {
    config: tempfile::TempDir,
}

impl Docker {
    fn new() -> Docker {
        Docker { config: tempfile::tempdir().unwrap() }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new("docker")
            .arg("--config")
            .arg(self.config.path())
            .args(args)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run docker");
        if let Some(input) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn login(&self, server: &BerthProcess, host: &str) {
        let password = aws(server, &["ecr", "get-login-password"]);
        let out = self.run(&["login", "--username", "AWS", "--password-stdin", host], Some(password.trim()));
        assert!(out.status.success(), "docker login: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Removes image references when the test ends, whatever happened.
struct Tags(Vec<String>);

impl Drop for Tags {
    fn drop(&mut self) {
        for t in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", t]).output();
        }
    }
}

#[tokio::test]
async fn docker_login_push_pull_run_mount_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(berth(), dir.path(), 0);
    let host = format!("127.0.0.1:{}", server.port());
    let name = format!("dockerpush-{}", std::process::id());
    let image = TestImage::build(&name, &name);
    let created = aws(&server, &["ecr", "create-repository", "--repository-name", "web"]);
    assert!(created.contains(&format!("\"repositoryUri\": \"{host}/web\"")), "{created}");
    aws(&server, &["ecr", "create-repository", "--repository-name", "copy"]);

    let docker = Docker::new();
    // Without logging in, a push is refused.
    let web = format!("{host}/web:1");
    let copy = format!("{host}/copy:1");
    let _tags = Tags(vec![web.clone(), copy.clone()]);
    docker.ok(&["tag", &image.reference, &web]);
    let denied = docker.run(&["push", &web], None);
    assert!(!denied.status.success(), "an anonymous push must fail");

    docker.login(&server, &host);
    let pushed = docker.ok(&["push", &web]);
    let digest = pushed
        .split("digest: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("push prints the digest")
        .to_string();
    let described = aws(&server, &["ecr", "describe-images", "--repository-name", "web"]);
    assert!(described.contains(&digest), "{described}");

    // Pull it back into an engine that no longer has it, and run it.
    docker.ok(&["rmi", &web]);
    docker.ok(&["rmi", &image.reference]);
    docker.ok(&["pull", &web]);
    let said = docker.ok(&["run", "--rm", &web, "echo", "hello from berth's registry"]);
    assert_eq!(said.trim(), "hello from berth's registry");

    // The same layers under a second repository are mounted, not uploaded again.
    docker.ok(&["tag", &web, &copy]);
    let second = docker.ok(&["push", &copy]);
    assert!(second.contains("Mounted from web"), "{second}");
    assert!(!second.contains("Pushed"), "no layer is uploaded twice: {second}");

    // Delete by tag in one repository and by digest in the other.
    aws(&server, &["ecr", "batch-delete-image", "--repository-name", "copy", "--image-ids", "imageTag=1"]);
    aws(
        &server,
        &["ecr", "batch-delete-image", "--repository-name", "web", "--image-ids", &format!("imageDigest={digest}")],
    );
    for repo in ["web", "copy"] {
        let left = aws(&server, &["ecr", "list-images", "--repository-name", repo]);
        assert!(!left.contains("sha256:"), "{repo}: {left}");
    }
    docker.ok(&["rmi", &web]);
    let gone = docker.run(&["pull", &web], None);
    assert!(!gone.status.success(), "a deleted image cannot be pulled");
}

#[tokio::test]
async fn skopeo_copies_oci_layouts_in_and_out() {
    assert!(
        Command::new("skopeo").arg("--version").output().is_ok_and(|o| o.status.success()),
        "skopeo is needed (apt-get install skopeo)"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(berth(), &dir.path().join("server"), 0);
    let host = format!("127.0.0.1:{}", server.port());
    let name = format!("skopeo-{}", std::process::id());
    let image = TestImage::build(&name, &name);
    aws(&server, &["ecr", "create-repository", "--repository-name", "oci/app"]);
    let creds = format!("AWS:{}", aws(&server, &["ecr", "get-login-password"]).trim());
    let skopeo = |args: &[&str]| {
        let out = Command::new("skopeo").args(args).output().expect("run skopeo");
        assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let layout_in = dir.path().join("in");
    let layout_out = dir.path().join("out");
    skopeo(&["copy", &format!("docker-daemon:{}", image.reference), &format!("oci:{}:v1", layout_in.display())]);
    skopeo(&[
        "copy",
        "--dest-creds",
        &creds,
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", layout_in.display()),
        &format!("docker://{host}/oci/app:v1"),
    ]);
    skopeo(&[
        "copy",
        "--src-creds",
        &creds,
        "--src-tls-verify=false",
        &format!("docker://{host}/oci/app:v1"),
        &format!("oci:{}:back", layout_out.display()),
    ]);
    // The manifest that went in is the one that came out, byte for byte.
    let manifest_digest = |layout: &Path| {
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(layout.join("index.json")).unwrap()).unwrap();
        index["manifests"][0]["digest"].as_str().unwrap().to_string()
    };
    let digest = manifest_digest(&layout_in);
    assert_eq!(manifest_digest(&layout_out), digest);
    let blob = |layout: &Path, d: &str| {
        std::fs::read(layout.join("blobs/sha256").join(d.trim_start_matches("sha256:"))).unwrap()
    };
    let manifest: serde_json::Value = serde_json::from_slice(&blob(&layout_in, &digest)).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        let d = layer["digest"].as_str().unwrap();
        assert_eq!(blob(&layout_in, d), blob(&layout_out, d), "layer {d}");
    }
    let described = aws(&server, &["ecr", "describe-images", "--repository-name", "oci/app"]);
    assert!(
        described.contains(&digest) && described.contains("application/vnd.oci.image.manifest.v1+json"),
        "{described}"
    );
}

#[tokio::test]
async fn an_ecs_task_runs_an_image_only_the_registry_has() {
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(berth(), &dir.path().join("server"), 0);
    let host = format!("127.0.0.1:{}", server.port());
    let cluster = format!("regtask-{}", std::process::id());
    let image = TestImage::build(&cluster, &cluster);
    aws(&server, &["ecr", "create-repository", "--repository-name", "app"]);
    let uri = format!("{host}/app:{cluster}");
    let _tags = Tags(vec![uri.clone()]);
    let docker = Docker::new();
    docker.login(&server, &host);
    docker.ok(&["tag", &image.reference, &uri]);
    docker.ok(&["push", &uri]);
    // Forget the image entirely: the agent must pull it, with its own credentials.
    docker.ok(&["rmi", &uri]);
    docker.ok(&["rmi", &image.reference]);
    assert!(docker.run(&["image", "inspect", &uri], None).status.code() != Some(0));

    let credential = server.credential();
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    let _agent =
        AgentProcess::start_registered(berth(), &server.endpoint, &cluster, &dir.path().join("agent"), &credential)
            .await;
    let td = ecs
        .register_task_definition()
        .family(&cluster)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image(&uri)
                .memory(32)
                .command("sleep")
                .command("300")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let td_arn = td.task_definition().unwrap().task_definition_arn().unwrap().to_string();
    let run = ecs.run_task().cluster(&cluster).task_definition(&td_arn).send().await.unwrap();
    let task = run.tasks()[0].task_arn().unwrap().to_string();
    wait_for("the task to run", DEADLINE, async || {
        let d = ecs.describe_tasks().cluster(&cluster).tasks(&task).send().await.map_err(|e| e.to_string())?;
        let t = &d.tasks()[0];
        match t.last_status() {
            Some("RUNNING") => Ok(()),
            other => Err(format!("{other:?} {:?}", t.stopped_reason())),
        }
    })
    .await;
    let running =
        docker_cli(&["ps", "--filter", &format!("label=com.amazonaws.ecs.task-arn={task}"), "--format", "{{.Image}}"]);
    assert_eq!(running.trim(), uri);
    ecs.stop_task().cluster(&cluster).task(&task).send().await.unwrap();
    wait_for("the task to stop", DEADLINE, async || {
        let d = ecs.describe_tasks().cluster(&cluster).tasks(&task).send().await.map_err(|e| e.to_string())?;
        if d.tasks()[0].last_status() == Some("STOPPED") {
            Ok(())
        } else {
            Err(format!("{:?}", d.tasks()[0].last_status()))
        }
    })
    .await;

    // The tag moves in the registry while the host keeps the old image under it: the next
    // task runs the new one, since the agent pulls every time (ECS's default).
    let old_id = docker_cli(&["image", "inspect", "--format", "{{.Id}}", &uri]);
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {uri}\nRUN [\"/bin/busybox\", \"touch\", \"/moved\"]\n"),
    )
    .unwrap();
    docker_cli(&["build", "-q", "-t", &uri, context.path().to_str().unwrap()]);
    let new_id = docker_cli(&["image", "inspect", "--format", "{{.Id}}", &uri]);
    // Removed child first, then its parent, once no container uses them.
    let _ids = Tags(vec![new_id.clone(), old_id.clone()]);
    assert_ne!(old_id, new_id);
    docker.ok(&["push", &uri]);
    docker_cli(&["tag", &old_id, &uri]);
    let run = ecs.run_task().cluster(&cluster).task_definition(&td_arn).send().await.unwrap();
    let task = run.tasks()[0].task_arn().unwrap().to_string();
    let container = wait_for("the task on the moved tag to run", DEADLINE, async || {
        let id = docker_cli(&["ps", "-q", "--filter", &format!("label=com.amazonaws.ecs.task-arn={task}")]);
        if id.is_empty() {
            Err("no container yet".into())
        } else {
            Ok(id)
        }
    })
    .await;
    let image = docker_cli(&["inspect", "--format", "{{.Image}}", container.trim()]);
    assert_eq!(image, new_id, "the moved tag's new image runs, not the cached one");
    ecs.stop_task().cluster(&cluster).task(&task).send().await.unwrap();
    // Its images can go only once the agent removed the container.
    wait_for("the task's container to be removed", DEADLINE, async || {
        let id = docker_cli(&["ps", "-aq", "--filter", &format!("label=com.amazonaws.ecs.task-arn={task}")]);
        if id.is_empty() {
            Ok(())
        } else {
            Err(id)
        }
    })
    .await;
}

#[tokio::test]
async fn a_server_killed_mid_upload_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(berth(), dir.path(), 0);
    let credential = server.credential();
    let ecr = ecr_client(&server.endpoint, &credential, "us-east-1");
    ecr.create_repository().repository_name("web").send().await.unwrap();
    let addr = format!("127.0.0.1:{}", server.port()).parse().unwrap();
    let client = RegistryClient::login(addr, &ecr).await;
    let (kept, _) = client.push_image("web", "v1", b"pushed before the crash").await;

    let start = client.send(Method::POST, "/v2/web/blobs/uploads/", &[], Vec::new()).await;
    let location = start.header("location").unwrap().to_string();
    let chunk = vec![7u8; 1 << 20];
    let r = client.send(Method::PATCH, &location, &[("content-range", "0-1048575")], chunk.clone()).await;
    assert_eq!(r.status, 202);
    server.kill9();

    let server = BerthProcess::start(berth(), dir.path(), 0);
    let uploads = dir.path().join("registry/uploads");
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 0, "no partial upload survives a restart");
    let ecr = ecr_client(&server.endpoint, &credential, "us-east-1");
    let addr = format!("127.0.0.1:{}", server.port()).parse().unwrap();
    let client = RegistryClient::login(addr, &ecr).await;
    assert_eq!(client.get(&location).await.error_code().as_deref(), Some("BLOB_UPLOAD_UNKNOWN"));
    let partial = berth_testkit::digest_of(&chunk);
    assert_eq!(client.send(Method::HEAD, &format!("/v2/web/blobs/{partial}"), &[], Vec::new()).await.status, 404);
    let images = ecr.describe_images().repository_name("web").send().await.unwrap();
    assert_eq!(images.image_details().len(), 1);
    assert_eq!(images.image_details()[0].image_digest(), Some(kept.as_str()));
    assert_eq!(client.get("/v2/web/manifests/v1").await.status, 200);
    // The registry takes pushes again.
    client.push_image("web", "v2", b"pushed after the restart").await;
}
