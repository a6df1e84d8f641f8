//! A Docker test environment: a `berth server` process, agent processes with their own
//! data directories, a cluster named after the test and an image for it; everything it
//! created is removed when it is dropped.

use std::path::{Path, PathBuf};

use aws_sdk_ecs::types::{ContainerDefinition, Task};

use crate::{sdk_client, wait_for, AgentProcess, BerthProcess, TestImage};

/// How long the Docker tests wait for a state before they fail.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Fields drop in order: agents first, then the server, then the image and containers.
pub struct DockerEnv {
    pub binary: PathBuf,
    pub agents: Vec<Option<AgentProcess>>,
    pub server: Option<BerthProcess>,
    pub credential: berth_api::sigv4::Credential,
    pub ecs: aws_sdk_ecs::Client,
    pub cluster: String,
    pub image: TestImage,
    pub dir: tempfile::TempDir,
}

impl DockerEnv {
    /// A server (short heartbeat timeout and grace, for the failure tests), a cluster
    /// named after the test and an image for it.
    pub async fn start(binary: &Path, name: &str) -> DockerEnv {
        Self::start_with(binary, name, &["--heartbeat-timeout", "3", "--disconnected-grace", "3"]).await
    }

    /// Like [`DockerEnv::start`], with these `berth server` flags.
    pub async fn start_with(binary: &Path, name: &str, server_flags: &[&str]) -> DockerEnv {
        let dir = tempfile::tempdir().unwrap();
        let server = BerthProcess::start_with(binary, &dir.path().join("server"), 0, server_flags);
        let credential = server.credential();
        let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
        let cluster = format!("{name}-{}", std::process::id());
        ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
        let image = TestImage::build(&cluster, &cluster);
        DockerEnv {
            binary: binary.to_path_buf(),
            agents: Vec::new(),
            server: Some(server),
            credential,
            ecs,
            cluster,
            image,
            dir,
        }
    }

    pub fn server(&self) -> &BerthProcess {
        self.server.as_ref().unwrap()
    }

    /// A `berth` user command (`args`) aimed at this server with its credential.
    pub fn berth_command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(&self.binary);
        command
            .args(args)
            .args(["--endpoint-url", &self.server().endpoint])
            .env("AWS_ACCESS_KEY_ID", &self.credential.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.credential.secret_access_key);
        command
    }

    /// Starts agent `n` (its own data directory) and waits until it is registered.
    pub async fn agent(&mut self, n: usize, args: &[&str]) -> String {
        let endpoint = self.server().endpoint.clone();
        self.agent_via(n, &endpoint, args).await
    }

    /// Starts agent `n` talking to the server through `endpoint` (a [`crate::FaultyLink`]).
    pub async fn agent_via(&mut self, n: usize, endpoint: &str, args: &[&str]) -> String {
        let data = self.dir.path().join(format!("agent{n}"));
        let saved = data.join("agent.json");
        let before = match std::fs::read_to_string(&saved) {
            Ok(text) => {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                self.version(v["containerInstanceArn"].as_str().unwrap()).await
            }
            Err(_) => -1,
        };
        let agent = AgentProcess::start(&self.binary, endpoint, &self.cluster, &data, &self.credential, args);
        if self.agents.len() <= n {
            self.agents.resize_with(n + 1, || None);
        }
        self.agents[n] = Some(agent);
        wait_for(&format!("agent {n} to register"), DEADLINE, async || {
            let text = std::fs::read_to_string(&saved).map_err(|e| e.to_string())?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let arn = v["containerInstanceArn"].as_str().unwrap_or_default().to_string();
            // A restarted agent re-registers under its saved ARN, which bumps the
            // instance's version: wait for that, not for the old registration.
            let version = self.version(&arn).await;
            if version > before {
                Ok(arn)
            } else {
                Err(format!("{arn} at version {version}"))
            }
        })
        .await
    }

    /// Starts agent `n` offering its host as Fargate capacity (`berth agent --fargate`) and
    /// waits until it registered; its host ARN (no cluster lists it).
    pub async fn fargate_agent(&mut self, n: usize, args: &[&str]) -> String {
        let data = self.dir.path().join(format!("agent{n}"));
        let saved = data.join("agent.json");
        let _ = std::fs::remove_file(&saved);
        let mut all = vec!["--fargate"];
        all.extend_from_slice(args);
        let endpoint = self.server().endpoint.clone();
        let agent = AgentProcess::start(&self.binary, &endpoint, &self.cluster, &data, &self.credential, &all);
        if self.agents.len() <= n {
            self.agents.resize_with(n + 1, || None);
        }
        self.agents[n] = Some(agent);
        wait_for(&format!("Fargate agent {n} to register"), DEADLINE, async || {
            let text = std::fs::read_to_string(&saved).map_err(|e| e.to_string())?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            v["containerInstanceArn"].as_str().map(String::from).ok_or_else(|| text.clone())
        })
        .await
    }

    /// The engine networks agents made for the awsvpc tasks of host `arn`.
    pub fn task_networks(arn: &str) -> Vec<String> {
        let filter = format!("label=com.berth.container-instance={arn}");
        let out = crate::docker_cli(&["network", "ls", "-q", "--filter", &filter]);
        out.lines().map(String::from).filter(|l| !l.is_empty()).collect()
    }

    /// The instance's version (-1 when unknown).
    pub async fn version(&self, arn: &str) -> i64 {
        let out = self
            .ecs
            .describe_container_instances()
            .cluster(&self.cluster)
            .container_instances(arn)
            .send()
            .await
            .unwrap();
        out.container_instances().first().map_or(-1, |c| c.version())
    }

    pub async fn register(&self, family: &str, containers: Vec<ContainerDefinition>) -> String {
        let out = self
            .ecs
            .register_task_definition()
            .family(family)
            .set_container_definitions(Some(containers))
            .send()
            .await
            .unwrap();
        out.task_definition.unwrap().task_definition_arn.unwrap()
    }

    pub fn container(&self, name: &str, command: &str) -> aws_sdk_ecs::types::builders::ContainerDefinitionBuilder {
        ContainerDefinition::builder()
            .name(name)
            .image(&self.image.reference)
            .memory(32)
            .stop_timeout(1)
            .command("sh")
            .command("-c")
            .command(command)
    }

    pub async fn run(&self, td: &str) -> String {
        let out = self.ecs.run_task().cluster(&self.cluster).task_definition(td).send().await.unwrap();
        assert!(out.failures().is_empty(), "{:?}", out.failures());
        out.tasks()[0].task_arn().unwrap().to_string()
    }

    pub async fn describe(&self, arn: &str) -> Task {
        let out = self.ecs.describe_tasks().cluster(&self.cluster).tasks(arn).send().await.unwrap();
        out.tasks()[0].clone()
    }

    /// Polls the task until `done` holds, or fails with what it last saw.
    pub async fn wait_task(&self, arn: &str, what: &str, done: impl Fn(&Task) -> bool) -> Task {
        wait_for(&format!("the task to become {what}"), DEADLINE, async || {
            let task = self.describe(arn).await;
            if done(&task) {
                Ok(task)
            } else {
                Err(format!("{task:#?}"))
            }
        })
        .await
    }

    /// Waits until no container of the test's cluster is left.
    pub async fn wait_containers_removed(&self) {
        wait_for("every container of the cluster to be removed", DEADLINE, async || {
            let left = self.image.containers();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("{left:?}"))
            }
        })
        .await;
    }
}
