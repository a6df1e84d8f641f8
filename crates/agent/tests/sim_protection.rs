//! Task scale-in protection (UpdateTaskProtection / GetTaskProtection) through the real
//! agent on the simulated engine: a service scaling in stops only unprotected tasks, says
//! why it stops short, and finishes once protection is lifted.

mod common;

use common::*;

async fn running_tasks(s: &Sim) -> Vec<String> {
    let mut arns = s.ecs.list_tasks().cluster("sim").service_name("web").send().await.unwrap().task_arns().to_vec();
    arns.sort();
    arns
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_in_leaves_protected_tasks_until_their_protection_is_lifted() {
    let s = start().await;
    s.register("web", app(64)).await;
    s.ecs
        .create_service()
        .cluster("sim")
        .service_name("web")
        .task_definition("web")
        .desired_count(3)
        .send()
        .await
        .unwrap();
    let tasks = wait_for("three running tasks", DEADLINE, async || {
        let arns = running_tasks(&s).await;
        if arns.len() != 3 {
            return Err(format!("{arns:?}"));
        }
        let out = s.ecs.describe_tasks().cluster("sim").set_tasks(Some(arns.clone())).send().await.unwrap();
        if out.tasks().iter().all(|t| last(t) == "RUNNING") {
            Ok(arns)
        } else {
            Err(format!("{arns:?}"))
        }
    })
    .await;
    let protected = vec![tasks[0].clone(), tasks[1].clone()];
    let out = s
        .ecs
        .update_task_protection()
        .cluster("sim")
        .set_tasks(Some(protected.clone()))
        .protection_enabled(true)
        .expires_in_minutes(60)
        .send()
        .await
        .unwrap();
    assert_eq!(out.protected_tasks().len(), 2, "{out:?}");
    assert!(out.protected_tasks().iter().all(|p| p.protection_enabled() && p.expiration_date().is_some()));

    // A standalone task and an unknown one are refused item by item.
    let standalone = s.ecs.run_task().cluster("sim").task_definition("web").send().await.unwrap().tasks()[0]
        .task_arn()
        .unwrap()
        .to_string();
    let refused = s
        .ecs
        .update_task_protection()
        .cluster("sim")
        .tasks(&standalone)
        .tasks("0123456789abcdef0123456789abcdef")
        .protection_enabled(true)
        .send()
        .await
        .unwrap();
    let reasons: Vec<&str> = refused.failures().iter().filter_map(|f| f.reason()).collect();
    assert_eq!(reasons, ["TASK_NOT_VALID", "MISSING"]);
    let out_of_range = s
        .ecs
        .update_task_protection()
        .cluster("sim")
        .tasks(&tasks[0])
        .protection_enabled(true)
        .expires_in_minutes(3000)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(out_of_range.is_invalid_parameter_exception(), "{out_of_range:?}");

    // Scale in to 1: only the unprotected task goes; the service says why it stops at 2.
    s.ecs.update_service().cluster("sim").service("web").desired_count(1).send().await.unwrap();
    wait_for("the unprotected task to stop, the protected ones to stay", DEADLINE, async || {
        let left = running_tasks(&s).await;
        if left == protected {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await;
    let svc = s.ecs.describe_services().cluster("sim").services("web").send().await.unwrap().services()[0].clone();
    let said = svc
        .events()
        .iter()
        .filter_map(|e| e.message())
        .any(|m| m.contains("unable to scale in due to (reason: 1 tasks under protection)"));
    assert!(said, "{:?}", svc.events());
    let got = s.ecs.get_task_protection().cluster("sim").set_tasks(Some(protected.clone())).send().await.unwrap();
    assert!(got.protected_tasks().iter().all(|p| p.protection_enabled()), "{got:?}");

    // Lifting one task's protection lets the scale-in finish with the other.
    s.ecs.update_task_protection().cluster("sim").tasks(&protected[0]).protection_enabled(false).send().await.unwrap();
    wait_for("the scale-in to finish", DEADLINE, async || {
        let left = running_tasks(&s).await;
        if left == [protected[1].clone()] {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await;
    let got = s.ecs.get_task_protection().cluster("sim").send().await.unwrap();
    let listed: Vec<&str> = got.protected_tasks().iter().filter_map(|p| p.task_arn()).collect();
    assert_eq!(listed, [protected[1].as_str()], "without a list: the cluster's protected tasks");
}
