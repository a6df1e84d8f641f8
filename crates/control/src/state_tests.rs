use super::*;
use berth_model::{
    status::{ClusterStatus, TaskStatus},
    task::Task,
};
use berth_store::Mutation;

fn record(m: Mutation) -> Record {
    match m {
        Mutation::Put { kind, key, value } => Record { kind: kind.into(), key, value },
        Mutation::Delete { .. } => panic!("not a put"),
    }
}

#[test]
fn usage_follows_a_task_until_it_stops() {
    let mut state = State::default();
    let task = |status: &str| {
        Arc::new(TaskRecord {
            task: Task {
                task_arn: "t1".into(),
                container_instance_arn: Some("i1".into()),
                last_status: TaskStatus::parse(status).unwrap(),
                desired_status: if status == "STOPPED" { DesiredStatus::Stopped } else { DesiredStatus::Running },
                group: "family:web".into(),
                ..Default::default()
            },
            cluster: "c".into(),
            cpu: 256,
            memory: 512,
            host_ports: vec![(80, "tcp".into())],
            fargate_host: None,
            protected_until: None,
        })
    };
    for (status, cpu, pending) in [("PROVISIONING", 256, 1), ("RUNNING", 256, 0), ("STOPPED", 0, 0)] {
        state.apply(&Change::Task { region: "r".into(), record: task(status) });
        let u = &state.region("r").usage["i1"];
        assert_eq!((u.cpu, u.pending, u.ports.len()), (cpu, pending, if cpu > 0 { 1 } else { 0 }), "{status}");
        assert_eq!(u.active_tasks(), if cpu > 0 { 1 } else { 0 });
    }
    assert_eq!(state.region("r").usage["i1"].running, 0);
}

#[test]
fn tasks_are_indexed_by_cluster_and_group_until_forgotten() {
    let mut state = State::default();
    let task = |arn: &str, cluster: &str, group: &str| {
        let task = Task { task_arn: arn.into(), group: group.into(), ..Default::default() };
        Change::Task {
            region: "r".into(),
            record: Arc::new(TaskRecord {
                task,
                cluster: cluster.into(),
                cpu: 0,
                memory: 0,
                host_ports: Vec::new(),
                fargate_host: None,
                protected_until: None,
            }),
        }
    };
    for change in [task("t1", "c", "service:web"), task("t2", "c", "service:web"), task("t3", "d", "service:web")] {
        state.apply(&change);
    }
    // An update of a task keeps one entry.
    state.apply(&task("t1", "c", "service:web"));
    let arns = |state: &State, cluster: &str| -> Vec<String> {
        state.region("r").tasks_in_group(cluster, "service:web").map(|t| t.task.task_arn.clone()).collect()
    };
    assert_eq!(arns(&state, "c"), ["t1", "t2"]);
    assert_eq!(arns(&state, "d"), ["t3"]);
    state.apply(&Change::ForgetTask { region: "r".into(), arn: "t3".into() });
    assert!(arns(&state, "d").is_empty());
    assert_eq!(state.region("r").tasks_by_group.len(), 1, "an emptied group leaves the index");
}

#[test]
fn changes_round_trip_through_records() {
    let cluster = Arc::new(Cluster { cluster_name: "web".into(), status: ClusterStatus::Active, ..Default::default() });
    let td = Arc::new(TaskDefinition { family: "web".into(), revision: 7, ..Default::default() });
    let changes = [
        Change::Cluster { region: "eu-west-1".into(), cluster: cluster.clone() },
        Change::TaskDefinition { region: "eu-west-1".into(), task_definition: td.clone() },
        Change::FamilyRevision { region: "eu-west-1".into(), family: "api".into(), last_revision: 4 },
        Change::Tags {
            region: "eu-west-1".into(),
            arn: "arn:aws:ecs:eu-west-1:1:cluster/web".into(),
            tags: Arc::new(vec![Tag::new("a", "b")]),
        },
        Change::Setting {
            region: "eu-west-1".into(),
            principal: "".into(),
            name: "containerInsights".into(),
            value: Some("enabled".into()),
        },
    ];
    let records: Vec<Record> = changes.iter().filter_map(Change::to_mutation).map(record).collect();
    let state = State::from_records(&records, 0).unwrap();
    let r = state.region("eu-west-1");
    assert_eq!(r.clusters["web"], cluster);
    assert_eq!(r.families["web"].last_revision, 7);
    assert_eq!((r.families["api"].last_revision, r.families["api"].revisions.len()), (4, 0));
    assert_eq!(r.tags["arn:aws:ecs:eu-west-1:1:cluster/web"][0], Tag::new("a", "b"));
    assert_eq!(r.settings[&("".to_string(), "containerInsights".to_string())], "enabled");
    assert!(state.region("us-east-1").clusters.is_empty());
}
