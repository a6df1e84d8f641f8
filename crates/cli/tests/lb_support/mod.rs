//! What the load balancer tests share: the aws CLIs driving `elbv2`, a plain HTTP client,
//! small backends served from the test process, and a free port for a listener.

#![allow(dead_code)]

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use berth_testkit::BerthProcess;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The aws CLIs to test with (at least one must be installed).
pub fn installed_clis() -> Vec<PathBuf> {
    let found = berth_testkit::installed_clis();
    assert!(!found.is_empty(), "no aws CLI installed");
    found
}

/// The first aws CLI found.
pub fn first_cli() -> PathBuf {
    installed_clis().remove(0)
}

/// A `berth server` process whose load balancer listens on loopback, with its own data
/// directory (removed when it is dropped, after the server).
pub struct LbServer {
    pub server: BerthProcess,
    _dir: tempfile::TempDir,
}

impl LbServer {
    pub fn start() -> LbServer {
        let dir = tempfile::tempdir().unwrap();
        let binary = Path::new(env!("CARGO_BIN_EXE_berth"));
        let server = BerthProcess::start_with(binary, dir.path(), 0, &["--lb-listen", "127.0.0.1"]);
        LbServer { server, _dir: dir }
    }

    /// `aws elbv2` with `cli` against this server.
    pub fn elb<'a>(&'a self, cli: &'a Path) -> Elb<'a> {
        Elb { cli, server: &self.server }
    }
}

pub struct Elb<'a> {
    pub cli: &'a Path,
    pub server: &'a BerthProcess,
}

impl Elb<'_> {
    /// Runs `aws elbv2 …`: (succeeded, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut all = vec!["elbv2"];
        all.extend_from_slice(args);
        let out = self.server.aws(self.cli, "us-east-1", &all);
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let (ok, stdout, stderr) = self.run(args);
        assert!(ok, "{} elbv2 {args:?} failed: {stderr}", self.cli.display());
        if stdout.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// Runs a command that must fail with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: &str) -> String {
        let (ok, _, stderr) = self.run(args);
        assert!(!ok, "elbv2 {args:?} should have failed with {code}");
        assert!(stderr.contains(&format!("({code})")), "elbv2 {args:?}: expected {code}, got: {stderr}");
        stderr
    }

    pub fn load_balancer(&self, name: &str, kind: &str) -> String {
        let v = self.json(&["create-load-balancer", "--name", name, "--type", kind]);
        v["LoadBalancers"][0]["LoadBalancerArn"].as_str().unwrap().to_string()
    }

    pub fn target_group(&self, name: &str, extra: &[&str]) -> String {
        let mut args = vec!["create-target-group", "--name", name];
        args.extend_from_slice(extra);
        let v = self.json(&args);
        v["TargetGroups"][0]["TargetGroupArn"].as_str().unwrap().to_string()
    }

    /// The arguments of `create-listener` forwarding to `tg`.
    pub fn listener_args(lb: &str, protocol: &str, port: u16, tg: &str) -> Vec<String> {
        let action = format!("Type=forward,TargetGroupArn={tg}");
        let port = port.to_string();
        let args = ["create-listener", "--load-balancer-arn", lb, "--protocol", protocol, "--port", &port];
        args.iter().map(|s| s.to_string()).chain(["--default-actions".to_string(), action]).collect()
    }

    pub fn listener(&self, lb: &str, protocol: &str, port: u16, tg: &str) -> String {
        let args = Self::listener_args(lb, protocol, port, tg);
        let v = self.json(&args.iter().map(String::as_str).collect::<Vec<_>>());
        v["Listeners"][0]["ListenerArn"].as_str().unwrap().to_string()
    }

    /// Waits until the target group's (id, port, state) list satisfies `done`.
    pub async fn wait_health(&self, tg: &str, what: &str, done: impl Fn(&[(String, u64, String)]) -> bool) {
        berth_testkit::wait_for(what, berth_testkit::DEADLINE, async || {
            let h = self.health(tg);
            if done(&h) {
                Ok(())
            } else {
                Err(format!("{h:?}"))
            }
        })
        .await;
    }

    /// Each target's (id, port, state).
    pub fn health(&self, tg: &str) -> Vec<(String, u64, String)> {
        let v = self.json(&["describe-target-health", "--target-group-arn", tg]);
        v["TargetHealthDescriptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["Target"]["Id"].as_str().unwrap().to_string(),
                    d["Target"]["Port"].as_u64().unwrap(),
                    d["TargetHealth"]["State"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// A port no one listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub use berth_testkit::http_get as get;

/// Sends `n * per_target` requests one after another: each of `n` targets must answer
/// exactly `per_target` of them (round robin).
pub async fn assert_round_robin(port: u16, n: usize, per_target: usize) {
    let mut seen = std::collections::HashMap::new();
    for _ in 0..n * per_target {
        let (status, body) = get(port, "/", "web").await.unwrap();
        assert_eq!(status, 200, "{body}");
        *seen.entry(body).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), n, "{seen:?}");
    assert!(seen.values().all(|c| *c == per_target), "{seen:?}");
}

/// An HTTP backend in this process: answers `name` on every path (`/health` too) unless
/// made unhealthy (then 500); `/slow` answers after `slow`. `served` counts requests
/// received (health checks aside).
pub struct Backend {
    pub addr: SocketAddr,
    pub healthy: Arc<AtomicBool>,
    pub served: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    pub async fn start(name: &str, slow: Duration) -> Backend {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let healthy = Arc::new(AtomicBool::new(true));
        let served = Arc::new(AtomicUsize::new(0));
        let (h, n, name) = (healthy.clone(), served.clone(), name.to_string());
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let (h, n, name) = (h.clone(), n.clone(), name.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut have = 0;
                    loop {
                        let Ok(read) = s.read(&mut buf[have..]).await else { return };
                        if read == 0 {
                            return;
                        }
                        have += read;
                        let text = String::from_utf8_lossy(&buf[..have]).to_string();
                        let Some(end) = text.find("\r\n\r\n") else { continue };
                        let path = text.split(' ').nth(1).unwrap_or("/").to_string();
                        let close = text[..end].to_ascii_lowercase().contains("connection: close");
                        if path != "/health" {
                            n.fetch_add(1, Ordering::SeqCst);
                        }
                        if path == "/slow" {
                            tokio::time::sleep(slow).await;
                        }
                        let ok = h.load(Ordering::SeqCst);
                        let (code, body) =
                            if ok { ("200 OK", name.clone()) } else { ("500 Internal Server Error", "sick".into()) };
                        let reply = format!("HTTP/1.1 {code}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                        if s.write_all(reply.as_bytes()).await.is_err() || close {
                            return;
                        }
                        buf.copy_within(end + 4..have, 0);
                        have -= end + 4;
                    }
                });
            }
        });
        Backend { addr, healthy, served, task }
    }
}

/// `GET /` sending `cookies` (a `Cookie` header value, may be empty): (body, the
/// `name=value` of each `Set-Cookie` in the answer).
pub async fn get_with_cookies(port: u16, cookies: &str) -> (String, Vec<String>) {
    let cookie = if cookies.is_empty() { String::new() } else { format!("Cookie: {cookies}\r\n") };
    let (_, head, body) = berth_testkit::http_request(port, "/", "web", &cookie).await.unwrap();
    let set: Vec<String> = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .collect();
    (body, set)
}
