use berth_model::task_definition::ContainerDefinition;
use berth_runtime::{sim::SimRuntime, ContainerStatus};

use super::*;
use crate::spec::LABEL_TASK_ARN;

fn task() -> DesiredTask {
    let def = ContainerDefinition {
        name: Some("app".into()),
        image: Some("busybox".into()),
        command: Some(vec!["sleep".into(), "60".into()]),
        ..Default::default()
    };
    DesiredTask {
        task_arn: "arn:aws:ecs:us-east-1:000000000000:task/c/t1".into(),
        desired_status: berth_model::status::DesiredStatus::Running,
        task_definition: Arc::new(TaskDefinition { container_definitions: vec![def], ..Default::default() }),
        overrides: TaskOverride::default(),
        attachment: None,
        dns: None,
    }
}

fn manager(sim: &Arc<SimRuntime>, network: &Arc<TaskNetwork>, t: &DesiredTask) -> TaskManager<SimRuntime> {
    let shared = Shared {
        runtime: sim.clone(),
        reporter: Reporter::new(),
        credentials: RegistryCredentials::default(),
        pull_behavior: crate::ImagePullBehavior::Default,
        network: network.clone(),
        logs: crate::logs::LogShipping::new(sim.clone(), None),
        running: Default::default(),
    };
    TaskManager::new(&shared, INSTANCE.into(), t.clone())
}

const INSTANCE: &str = "arn:aws:ecs:us-east-1:000000000000:container-instance/c/i1";

/// The engine spec of `t`'s container on [`INSTANCE`], as a previous agent made it.
fn app_spec(t: &DesiredTask) -> berth_runtime::ContainerSpec {
    let ctx = TaskContext { cluster: "c", instance_arn: INSTANCE, task_arn: &t.task_arn, pause: None };
    spec::container_spec(
        &ctx,
        &t.task_definition,
        &t.overrides,
        &t.task_definition.container_definitions[0],
        Vec::new(),
    )
}

/// Polls `sim` until `check` holds for the containers of task `arn`, for at most 10 s.
async fn until(sim: &SimRuntime, arn: &str, what: &str, check: impl Fn(&[ContainerStatus]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mine = sim.list(LABEL_TASK_ARN, arn).await.unwrap();
        if check(&mine) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {mine:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An agent killed between creating a container and starting it leaves a created
/// container behind; the next agent must not count it as running.
#[tokio::test]
async fn a_container_created_but_never_started_is_started_afresh_after_a_restart() {
    let sim = Arc::new(SimRuntime::new());
    sim.add_image("busybox");
    let t = task();
    let left = app_spec(&t);
    let stale = sim.create(&left).await.unwrap();

    let network = Arc::new(TaskNetwork::new(INSTANCE));
    let (_tx, rx) = watch::channel(Desired::Running);
    let run = tokio::spawn(manager(&sim, &network, &t).run(rx));
    let deadline = Instant::now() + Duration::from_secs(10);
    let running = loop {
        let mine = sim.list(LABEL_TASK_ARN, &t.task_arn).await.unwrap();
        if let [c] = &mine[..] {
            if c.state == RunState::Running {
                break c.clone();
            }
        }
        assert!(Instant::now() < deadline, "the task's container never ran: {mine:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_ne!(running.id, stale, "the never-started container was adopted instead of replaced");
    run.abort();
}

/// A previous agent's create and start reached the engine after the next agent looked for
/// leftovers: the start finds the name taken by the task's running container and adopts it
/// (no second container); once the task leaves, the container goes even if never recorded.
#[tokio::test]
async fn a_running_container_found_at_create_is_adopted_and_a_never_recorded_one_is_removed() {
    let sim = Arc::new(SimRuntime::new());
    sim.add_image("busybox");
    let t = task();
    let left = app_spec(&t);
    let network = Arc::new(TaskNetwork::new(INSTANCE));
    let mut m = manager(&sim, &network, &t);
    m.adopt().await;
    let late = sim.create(&left).await.unwrap();
    sim.start(&late).await.unwrap();
    m.advance_start().await;
    let mine = sim.list(LABEL_TASK_ARN, &t.task_arn).await.unwrap();
    assert_eq!(mine.len(), 1, "a second container was created: {mine:?}");
    assert_eq!(m.containers[0].id.as_deref(), Some(late.as_str()));
    assert_eq!(m.phase, Phase::Running);

    // A container the manager never recorded (another copy by a dead agent) goes too.
    let mut stray = left.clone();
    stray.name.push_str("-stray");
    sim.create(&stray).await.unwrap();
    m.remove_all().await;
    assert!(sim.list(LABEL_TASK_ARN, &t.task_arn).await.unwrap().is_empty(), "containers were left behind");
}

/// An awsvpc task: a pause container with the task's address on the host's task network,
/// the task's containers in its namespace; all of it, network included, gone once the
/// task leaves the instance.
#[tokio::test]
async fn an_awsvpc_task_runs_in_its_pause_containers_namespace_and_cleans_up() {
    let sim = Arc::new(SimRuntime::new());
    sim.add_image("busybox");
    let mut t = task();
    Arc::make_mut(&mut t.task_definition).network_mode = Some("awsvpc".into());
    let kv = |n: &str, v: &str| berth_model::KeyValuePair { name: Some(n.into()), value: Some(v.into()) };
    t.attachment = Some(Attachment {
        id: "att-1".into(),
        kind: berth_model::network::ENI_ATTACHMENT.into(),
        status: AttachmentStatus::Precreated,
        details: vec![kv("privateIPv4Address", "10.201.3.2")],
    });
    let network = Arc::new(TaskNetwork::new(INSTANCE));
    network.set_subnet(Some("10.201.3.0/24".into()));
    let (tx, rx) = watch::channel(Desired::Running);
    let run = tokio::spawn(manager(&sim, &network, &t).run(rx));
    until(&sim, &t.task_arn, "the task never ran", |c| c.len() == 2 && c.iter().all(|c| c.state == RunState::Running))
        .await;
    let containers = sim.containers();
    let pause =
        containers.iter().find(|(_, spec, _)| spec.image == crate::pause::PAUSE_IMAGE).expect("a pause container");
    assert_eq!(pause.1.ipv4_address.as_deref(), Some("10.201.3.2"));
    assert_eq!(pause.1.network_mode, network.name());
    let app = containers.iter().find(|(_, spec, _)| spec.image == "busybox").unwrap();
    assert_eq!(app.1.network_mode, format!("container:{}", pause.0));
    let nets = sim.networks();
    assert_eq!((nets.len(), nets[0].subnet.as_str(), nets[0].gateway.as_str()), (1, "10.201.3.0/24", "10.201.3.1"));

    tx.send(Desired::Forget).unwrap();
    run.await.unwrap();
    until(&sim, &t.task_arn, "containers were left behind", |c| c.is_empty()).await;
    assert!(sim.networks().is_empty(), "the task network was left behind");
}
