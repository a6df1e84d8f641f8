//! What the simulated-cluster tests share: an in-process server, one agent on the
//! simulated engine, and helpers to drive them.
#![allow(dead_code, unused_imports)]

pub use std::{sync::Arc, time::Duration};

pub use aws_sdk_ecs::types::{
    Attribute, ContainerDefinition, ContainerInstanceStatus, ContainerOverride, DesiredStatus, KeyValuePair,
    PortMapping, Tag, TargetType, Task, TaskOverride,
};
pub use berth_agent::AgentConfig;
pub use berth_runtime::sim::SimRuntime;
pub use berth_testkit::{wait_for, TestServer};

pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct Sim {
    pub server: TestServer,
    pub ecs: aws_sdk_ecs::Client,
    pub sim: SimRuntime,
    pub instance: String,
    pub agent: tokio::task::JoinHandle<Result<(), berth_agent::AgentError>>,
    pub _agent_dir: tempfile::TempDir,
}

pub async fn start() -> Sim {
    start_with(SimRuntime::new(), berth_agent::ImagePullBehavior::Default).await
}

pub async fn start_with(sim: SimRuntime, image_pull_behavior: berth_agent::ImagePullBehavior) -> Sim {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    ecs.create_cluster().cluster_name("sim").send().await.unwrap();
    let agent_dir = tempfile::tempdir().unwrap();
    let config = AgentConfig {
        attributes: vec![("stack".into(), "blue".into())],
        availability_zone: Some("az-1".into()),
        instance_type: Some("sim.large".into()),
        cpu: Some(1024),
        memory: Some(2048),
        heartbeat_interval: Duration::from_millis(200),
        poll_wait: Duration::from_secs(5),
        image_pull_behavior,
        ..AgentConfig::new(&server.endpoint(), "sim", agent_dir.path().to_path_buf(), server.credential.clone())
    };
    let agent = tokio::spawn(berth_agent::run(config, Arc::new(sim.clone())));
    let instance = wait_for("the agent to register", DEADLINE, async || {
        let out = ecs.list_container_instances().cluster("sim").send().await.map_err(|e| format!("{e:?}"))?;
        out.container_instance_arns().first().cloned().ok_or_else(|| "no instance yet".to_string())
    })
    .await;
    Sim { server, ecs, sim, instance, agent, _agent_dir: agent_dir }
}

impl Sim {
    pub async fn register(&self, family: &str, container: ContainerDefinition) -> String {
        let out =
            self.ecs.register_task_definition().family(family).container_definitions(container).send().await.unwrap();
        out.task_definition.unwrap().task_definition_arn.unwrap()
    }

    pub async fn wait(&self, arn: &str, what: &str, done: impl Fn(&Task) -> bool) -> Task {
        wait_for(&format!("the task to become {what}"), DEADLINE, async || {
            let out = self.ecs.describe_tasks().cluster("sim").tasks(arn).send().await.unwrap();
            let task = out.tasks()[0].clone();
            if done(&task) {
                Ok(task)
            } else {
                Err(format!("{task:#?}"))
            }
        })
        .await
    }

    /// The simulated container of `task`.
    pub fn container_id(&self, task: &Task) -> String {
        task.containers()[0].runtime_id().unwrap().to_string()
    }
}

pub fn app(memory: i32) -> ContainerDefinition {
    ContainerDefinition::builder().name("app").image("busybox").memory(memory).command("sleep").command("60").build()
}

pub fn last(t: &Task) -> &str {
    t.last_status().unwrap_or_default()
}
