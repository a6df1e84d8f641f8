use berth_model::task_definition::ContainerDefinition;
use berth_runtime::sim::SimRuntime;

use super::*;

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
    }
}

/// An agent killed between creating a container and starting it leaves a created
/// container behind; the next agent must not count it as running.
#[tokio::test]
async fn a_container_created_but_never_started_is_started_afresh_after_a_restart() {
    let sim = Arc::new(SimRuntime::new());
    sim.add_image("busybox");
    let t = task();
    let ctx = TaskContext { cluster: "c", instance_arn: "i-1", task_arn: &t.task_arn };
    let def = &t.task_definition.container_definitions[0];
    let left = spec::container_spec(&ctx, &t.task_definition, &t.overrides, def, Vec::new());
    let stale = sim.create(&left).await.unwrap();

    let manager = TaskManager::new(
        sim.clone(),
        Reporter::new(),
        RegistryCredentials::default(),
        crate::ImagePullBehavior::Default,
        "c".into(),
        "i-1".into(),
        t.clone(),
    );
    let (_tx, rx) = watch::channel(Desired::Running);
    let run = tokio::spawn(manager.run(rx));
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
