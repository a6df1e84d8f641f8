//! The README's walkthrough, run as written: every ```` ```sh walkthrough ```` block, in
//! order, as one bash script against `berth up` (its endpoint substituted for the
//! README's 127.0.0.1:7480), with the real aws CLI and Docker.

use std::{
    path::Path,
    process::{Command, Stdio},
};

use berth_testkit::{sdk_client, wait_for, BerthProcess, DEADLINE};

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

/// The walkthrough's shell blocks, in order.
fn walkthrough() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let mut script = String::new();
    let mut inside = false;
    for line in readme.lines() {
        if line.trim() == "```sh walkthrough" {
            inside = true;
        } else if inside && line.trim() == "```" {
            inside = false;
        } else if inside {
            script.push_str(line);
            script.push('\n');
        }
    }
    assert!(script.lines().count() > 10, "the README has its walkthrough blocks");
    script
}

/// Removes what the walkthrough leaves in Docker, pass or fail.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", "label=com.amazonaws.ecs.cluster=default"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.split_whitespace() {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
        let _ = Command::new("docker").args(["rmi", "-f", "berth-demo/busybox:1"]).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_runs_as_written() {
    let _cleanup = Cleanup;
    let dir = tempfile::tempdir().unwrap();
    let up = BerthProcess::up(berth(), &dir.path().join("berth-data"));
    let ecs = sdk_client(&up.endpoint, &up.credential(), "us-east-1");
    wait_for("berth up's agent to join the default cluster", DEADLINE, async || {
        match ecs.list_container_instances().send().await {
            Ok(o) if !o.container_instance_arns().is_empty() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let script = format!("set -euo pipefail\n{}", walkthrough().replace("http://127.0.0.1:7480", &up.endpoint));
    let path = format!("{}:{}", berth().parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_PAGER", "")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the walkthrough failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("hello from berth"), "the task served its page:\n{stdout}");
    assert!(stdout.contains("web:1"), "berth ls tasks shows it:\n{stdout}");
}
