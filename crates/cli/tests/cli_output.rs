//! How the binary behaves as a Unix tool: a reader that goes away ends a command quietly,
//! and logs carry no colour codes when they go to a file or a pipe.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
};

use berth_testkit::{sdk_client, BerthProcess};

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

#[tokio::test]
async fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(berth(), dir.path(), 0);
    let credential = server.credential();
    sdk_client(&server.endpoint, &credential, "us-east-1").create_cluster().send().await.unwrap();
    // `berth ls clusters | head -0`: the reading end is closed before berth writes.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(berth())
        .args(["ls", "clusters", "--endpoint-url", &server.endpoint])
        .env("AWS_ACCESS_KEY_ID", &credential.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &credential.secret_access_key)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("RUST_BACKTRACE", "1")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
}

#[test]
fn logs_written_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // This flag is logged as a warning at start: one log line to look at.
    let mut child = Command::new(berth())
        .args(["server", "--listen", "127.0.0.1:0", "--insecure-accept-any-credentials", "--data-dir"])
        .arg(dir.path())
        .env("BERTH_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines().take(20) {
        let line = line.unwrap();
        let done = line.contains("accepting any well-formed signature");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines.last().is_some_and(|l| l.contains("accepting any well-formed signature")), "{lines:#?}");
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "no ANSI escapes in {line:?}");
    }
}

#[test]
fn a_second_server_on_the_same_data_directory_refuses_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = BerthProcess::start(berth(), dir.path(), 0);
    let out = Command::new(berth())
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("is in use by another berth process"), "{stderr}");
    assert!(stderr.contains(&format!("(pid {})", first.pid())), "names the holder: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
}

#[test]
fn berth_up_prints_the_endpoint_for_berth_s_own_commands() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(berth())
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap()).lines().take(4).map(Result::unwrap).collect();
    let _ = child.kill();
    let _ = child.wait();
    let endpoint = lines[0].split("listening on ").nth(1).unwrap().trim().to_string();
    assert!(lines.iter().any(|l| l.contains(&format!("BERTH_ENDPOINT_URL={endpoint}"))), "{lines:#?}");
}
