//! What the load balancer tests share: the aws CLIs driving `elbv2`, a plain HTTP client,
//! small backends served from the test process, and a free port for a listener.

#![allow(dead_code)]

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use berth_testkit::BerthProcess;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The aws CLIs on this machine: v1 (pip, first on PATH) and v2 (Debian's, /usr/bin/aws).
pub fn installed_clis() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let on_path = Command::new("sh").args(["-c", "command -v aws"]).output().ok();
    let on_path = on_path.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).filter(|p| !p.is_empty());
    for candidate in on_path.into_iter().map(PathBuf::from).chain([PathBuf::from("/usr/bin/aws")]) {
        if candidate.exists() && !found.contains(&candidate) {
            found.push(candidate);
        }
    }
    assert!(!found.is_empty(), "no aws CLI installed");
    found
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

    pub fn listener(&self, lb: &str, protocol: &str, port: u16, tg: &str) -> String {
        let action = format!("Type=forward,TargetGroupArn={tg}");
        let v = self.json(&[
            "create-listener",
            "--load-balancer-arn",
            lb,
            "--protocol",
            protocol,
            "--port",
            &port.to_string(),
            "--default-actions",
            &action,
        ]);
        v["Listeners"][0]["ListenerArn"].as_str().unwrap().to_string()
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

/// One HTTP/1.1 request on a fresh connection: (status, body).
pub async fn get(port: u16, path: &str, host: &str) -> Result<(u16, String), String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("no status in {text:?}"))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
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
