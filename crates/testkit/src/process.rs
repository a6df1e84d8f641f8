//! A `berth server` child process, for tests that kill it or drive it with the aws CLI.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use berth_api::sigv4::Credential;

pub struct BerthProcess {
    child: Child,
    pub endpoint: String,
    pub data_dir: PathBuf,
    /// The DNS server's address, once the server printed it.
    dns: std::sync::Arc<std::sync::Mutex<Option<std::net::SocketAddr>>>,
}

impl BerthProcess {
    /// Starts `binary server --listen 127.0.0.1:PORT --data-dir DIR` and waits until it
    /// prints its endpoint. Port 0 picks a free one.
    pub fn start(binary: &Path, data_dir: &Path, port: u16) -> BerthProcess {
        Self::start_with(binary, data_dir, port, &[])
    }

    /// Like [`BerthProcess::start`], with more `berth server` flags.
    pub fn start_with(binary: &Path, data_dir: &Path, port: u16, extra: &[&str]) -> BerthProcess {
        Self::spawn(binary, "server", data_dir, port, extra)
    }

    /// Like [`BerthProcess::start_with`], listening on `listen` (`ADDRESS:PORT`).
    pub fn start_on(binary: &Path, data_dir: &Path, listen: &str, extra: &[&str]) -> BerthProcess {
        Self::spawn_on(binary, "server", data_dir, listen, extra)
    }

    /// `berth up`: the server and a local agent in the `default` cluster.
    pub fn up(binary: &Path, data_dir: &Path) -> BerthProcess {
        Self::spawn(binary, "up", data_dir, 0, &[])
    }

    fn spawn(binary: &Path, mode: &str, data_dir: &Path, port: u16, extra: &[&str]) -> BerthProcess {
        Self::spawn_on(binary, mode, data_dir, &format!("127.0.0.1:{port}"), extra)
    }

    fn spawn_on(binary: &Path, mode: &str, data_dir: &Path, listen: &str, extra: &[&str]) -> BerthProcess {
        // Tests run servers side by side: each gets its own DNS port unless one is asked for.
        let dns_flags: &[&str] = if extra.contains(&"--dns-listen") { &[] } else { &["--dns-listen", "127.0.0.1:0"] };
        let mut child = Command::new(binary)
            .args([mode, "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(dns_flags)
            .args(extra)
            .env("BERTH_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn berth");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let dns = std::sync::Arc::new(std::sync::Mutex::new(None));
        let dns_seen = dns.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(endpoint) = line.split("listening on ").nth(1) {
                    let _ = tx.send(endpoint.trim().to_string());
                }
                let printed = line.strip_prefix("DNS for Cloud Map namespaces at ").and_then(|r| r.split(' ').next());
                if let Some(addr) = printed.and_then(|a| a.parse().ok()) {
                    *dns_seen.lock().unwrap() = Some(addr);
                }
            }
        });
        let endpoint = rx.recv_timeout(Duration::from_secs(30)).expect("berth printed its endpoint");
        BerthProcess { child, endpoint, data_dir: data_dir.to_path_buf(), dns }
    }

    /// Where the server's DNS server answers (UDP and TCP), as it printed at start.
    pub fn dns_addr(&self) -> std::net::SocketAddr {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(addr) = *self.dns.lock().unwrap() {
                return addr;
            }
            assert!(std::time::Instant::now() < deadline, "berth printed no DNS address");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `[berth]` credential the server generated.
    pub fn credential(&self) -> Credential {
        let text = std::fs::read_to_string(self.data_dir.join("credentials")).expect("credentials file");
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == key).map(|(_, v)| v.trim().to_string()))
                .expect("credential field")
        };
        Credential { access_key_id: value("aws_access_key_id"), secret_access_key: value("aws_secret_access_key") }
    }

    /// Runs an aws CLI (`cli`) against this server in `region` with its generated
    /// credentials, JSON output and no pager or user configuration.
    pub fn aws(&self, cli: &Path, region: &str, args: &[&str]) -> std::process::Output {
        self.aws_at(cli, &self.endpoint, region, args)
    }

    /// Like [`BerthProcess::aws`] with another endpoint URL for this server (for example
    /// `http://localhost:PORT`).
    pub fn aws_at(&self, cli: &Path, endpoint: &str, region: &str, args: &[&str]) -> std::process::Output {
        self.aws_command(cli, endpoint, region).args(args).output().expect("run aws")
    }

    /// The aws CLI command [`BerthProcess::aws_at`] runs, for a caller that spawns it
    /// (a `--follow` that runs until stopped).
    pub fn aws_command(&self, cli: &Path, endpoint: &str, region: &str) -> Command {
        let mut command = Command::new(cli);
        command
            .args(["--endpoint-url", endpoint, "--output", "json"])
            .env("AWS_SHARED_CREDENTIALS_FILE", self.data_dir.join("credentials"))
            .env("AWS_PROFILE", "berth")
            .env("AWS_DEFAULT_REGION", region)
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_PAGER", "")
            // Calls with a host prefix (Cloud Map's DiscoverInstances) stay on the endpoint
            // (botocore of the v1 CLI reads this; the v2 CLI here does not).
            .env("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN");
        command
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> u16 {
        self.endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port in endpoint")
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for BerthProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `berth agent` child process, killed when dropped.
pub struct AgentProcess {
    child: Child,
}

impl AgentProcess {
    /// Starts an agent with no extra flags and waits (up to a minute) until the cluster
    /// lists a container instance.
    pub async fn start_registered(
        binary: &Path,
        endpoint: &str,
        cluster: &str,
        data_dir: &Path,
        credential: &Credential,
    ) -> AgentProcess {
        let agent = AgentProcess::start(binary, endpoint, cluster, data_dir, credential, &[]);
        let ecs = crate::sdk_client(endpoint, credential, "us-east-1");
        crate::wait_for("the agent to register", Duration::from_secs(60), async || {
            let l = ecs.list_container_instances().cluster(cluster).send().await.map_err(|e| e.to_string())?;
            if l.container_instance_arns().is_empty() {
                Err("no container instance yet".into())
            } else {
                Ok(())
            }
        })
        .await;
        agent
    }

    /// Starts `binary agent --server ENDPOINT --cluster CLUSTER --data-dir DIR ARGS...`,
    /// signing with `credential`.
    pub fn start(
        binary: &Path,
        endpoint: &str,
        cluster: &str,
        data_dir: &Path,
        credential: &Credential,
        args: &[&str],
    ) -> AgentProcess {
        let child = Command::new(binary)
            .args(["agent", "--server", endpoint, "--cluster", cluster, "--heartbeat-interval", "1", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &credential.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &credential.secret_access_key)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("BERTH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn berth agent");
        AgentProcess { child }
    }

    /// SIGKILL.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
