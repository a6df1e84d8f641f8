//! Durability: whatever berth acknowledged survives `kill -9` of the server.

use std::{collections::HashMap, path::Path};

use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair};
use berth_testkit::{sdk_client, BerthProcess};

const FAMILIES: usize = 10;

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

/// Registers a definition whose environment carries `id`, so a revision can be matched
/// with the request that made it.
async fn register(ecs: aws_sdk_ecs::Client, id: usize) -> Result<(String, i32, usize), String> {
    let container = ContainerDefinition::builder()
        .name("app")
        .image("busybox")
        .memory(64)
        .environment(KeyValuePair::builder().name("ID").value(id.to_string()).build())
        .build();
    let family = format!("fam{}", id % FAMILIES);
    let out = ecs
        .register_task_definition()
        .family(&family)
        .container_definitions(container)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok((family, out.task_definition.unwrap().revision(), id))
}

async fn id_of(ecs: &aws_sdk_ecs::Client, family: &str, revision: i32) -> usize {
    let td = ecs.describe_task_definition().task_definition(format!("{family}:{revision}")).send().await.unwrap();
    td.task_definition.unwrap().container_definitions()[0].environment()[0].value().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_registrations_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(berth(), dir.path(), 0);
    let credential = server.credential();
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    let handles: Vec<_> = (0..200).map(|id| tokio::spawn(register(ecs.clone(), id))).collect();
    let mut acknowledged = Vec::new();
    for h in handles {
        acknowledged.push(h.await.unwrap().expect("registration acknowledged"));
    }
    server.kill9();

    let server = BerthProcess::start(berth(), dir.path(), 0);
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    let mut per_family: HashMap<String, Vec<i32>> = HashMap::new();
    for (family, revision, id) in &acknowledged {
        assert_eq!(id_of(&ecs, family, *revision).await, *id, "{family}:{revision} holds what was registered");
        per_family.entry(family.clone()).or_default().push(*revision);
    }
    for (family, mut revisions) in per_family {
        revisions.sort();
        assert_eq!(revisions, (1..=20).collect::<Vec<_>>(), "{family} has revisions 1..=20, each once");
    }
    let listed = ecs.list_task_definitions().into_paginator().items().send().collect::<Vec<_>>().await;
    assert_eq!(listed.len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_writes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(berth(), dir.path(), 0);
    let credential = server.credential();
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    // 16 writers register back to back until the server dies under them.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for writer in 0..16usize {
        let (ecs, tx) = (ecs.clone(), tx.clone());
        tokio::spawn(async move {
            for k in 0.. {
                match register(ecs.clone(), writer * 100_000 + k).await {
                    Ok(ack) => {
                        if tx.send(ack).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
    }
    drop(tx);
    // Kill while requests are in flight: after the first 100 acknowledgements.
    let mut acknowledged = Vec::new();
    while acknowledged.len() < 100 {
        acknowledged.push(rx.recv().await.expect("writers are running"));
    }
    server.kill9();
    // Every writer stops at its first failed request; collect what was acknowledged until then.
    while let Some(ack) = rx.recv().await {
        acknowledged.push(ack);
    }

    let server = BerthProcess::start(berth(), dir.path(), 0);
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    for (family, revision, id) in &acknowledged {
        assert_eq!(id_of(&ecs, family, *revision).await, *id, "acknowledged {family}:{revision} survived");
    }
    // Revisions stay dense and unique per family after the crash: the next one follows on.
    let out = register(ecs.clone(), 9_999_999).await.unwrap();
    let family_max = acknowledged.iter().filter(|(f, _, _)| *f == out.0).map(|(_, r, _)| *r).max().unwrap_or(0);
    assert!(out.1 > family_max, "a new revision ({}) is above every acknowledged one ({family_max})", out.1);
}
