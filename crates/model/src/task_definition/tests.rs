use serde_json::json;

use super::*;

fn reg(v: serde_json::Value) -> Registration {
    serde_json::from_value(v).unwrap()
}

fn web() -> serde_json::Value {
    json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 128}]})
}

fn err(v: serde_json::Value) -> String {
    validate_registration(&reg(v)).unwrap_err().to_string()
}

#[test]
fn minimal_definition_is_ec2_only() {
    let d = validate_registration(&reg(web())).unwrap();
    assert_eq!(d.compatibilities, vec!["EC2"]);
    assert!(d.requires_attributes.is_empty());
}

#[test]
fn fargate_definition_is_compatible_with_both() {
    let d = validate_registration(&reg(json!({
        "family": "f", "networkMode": "awsvpc", "cpu": "0.25 vCPU", "memory": "0.5GB",
        "requiresCompatibilities": ["FARGATE"],
        "containerDefinitions": [{"name": "app", "image": "busybox"}]
    })))
    .unwrap();
    assert_eq!(d.compatibilities, vec!["EC2", "FARGATE"]);
    assert_eq!((d.cpu.as_deref(), d.memory.as_deref()), (Some("256"), Some("512")));
    assert_eq!(d.requires_attributes[0].name, "ecs.capability.task-eni");
}

#[test]
fn fargate_rules() {
    let base = |nm: &str, cpu: &str, mem: &str| {
        json!({"family": "f", "networkMode": nm, "cpu": cpu, "memory": mem, "requiresCompatibilities": ["FARGATE"],
               "containerDefinitions": [{"name": "app", "image": "busybox"}]})
    };
    assert!(err(base("bridge", "256", "512")).contains("awsvpc"));
    assert_eq!(err(base("awsvpc", "256", "4096")), "No Fargate configuration exists for given values.");
}

#[test]
fn container_rules() {
    let mut v = web();
    v["containerDefinitions"][0]["memory"] = json!(null);
    assert!(err(v).contains("At least one of 'memory' or 'memoryReservation'"));

    let mut v = web();
    v["containerDefinitions"][0]["memoryReservation"] = json!(256);
    assert!(err(v).contains("must be greater than memoryReservation"));

    let mut v = web();
    v["containerDefinitions"][0]["essential"] = json!(false);
    assert!(err(v).contains("essential"));

    let mut v = web();
    v["containerDefinitions"][0]["image"] = json!("");
    assert_eq!(err(v), "Container.image should not be null or empty.");

    let mut v = web();
    v["containerDefinitions"][0]["bogusField"] = json!(1);
    assert!(err(v).contains("'bogusField' is not a container definition field"));

    let mut v = web();
    v["containerDefinitions"].as_array_mut().unwrap().push(json!({"name": "app", "image": "x", "memory": 64}));
    assert!(err(v).contains("unique"));
}

#[test]
fn references_must_resolve() {
    let mut v = web();
    v["containerDefinitions"][0]["dependsOn"] = json!([{"containerName": "db", "condition": "START"}]);
    assert!(err(v).contains("dependsOn names 'db'"));

    let mut v = web();
    v["containerDefinitions"][0]["mountPoints"] = json!([{"sourceVolume": "data", "containerPath": "/d"}]);
    assert!(err(v).contains("sourceVolume 'data'"));

    let v = json!({"family": "w", "containerDefinitions": [
        {"name": "a", "image": "x", "memory": 64, "dependsOn": [{"containerName": "b", "condition": "START"}]},
        {"name": "b", "image": "x", "memory": 64, "dependsOn": [{"containerName": "a", "condition": "START"}]}]});
    assert!(err(v).contains("cycle"));
}

#[test]
fn port_rules() {
    let mut v = web();
    v["networkMode"] = json!("awsvpc");
    v["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 80, "hostPort": 8080}]);
    assert!(err(v).contains("hostPort must be omitted or equal containerPort"));

    let v = json!({"family": "w", "containerDefinitions": [
        {"name": "a", "image": "x", "memory": 64, "portMappings": [{"containerPort": 80, "hostPort": 8080}]},
        {"name": "b", "image": "x", "memory": 64, "portMappings": [{"containerPort": 81, "hostPort": 8080}]}]});
    assert!(err(v).contains("8080/tcp is mapped more than once"));

    let mut v = web();
    v["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 80, "protocol": "sctp"}]);
    assert!(err(v).contains("sctp"));
}

#[test]
fn health_check_ranges() {
    let mut v = web();
    v["containerDefinitions"][0]["healthCheck"] = json!({"command": ["CMD-SHELL", "true"], "interval": 1});
    assert!(err(v).contains("interval 1 is outside 5-300"));
    let mut v = web();
    v["containerDefinitions"][0]["healthCheck"] = json!({"command": ["true"]});
    assert!(err(v).contains("CMD or CMD-SHELL"));
}

#[test]
fn task_totals() {
    let mut v = web();
    v["memory"] = json!("100");
    assert!(err(v).contains("more than the task's memory"));
}

#[test]
fn family_charset() {
    assert!(validate_family("web-1_x").is_ok());
    assert!(validate_family("web:1").is_err());
}

#[test]
fn defaults_are_filled_in() {
    let mut v = web();
    v["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 80}]);
    v["containerDefinitions"][0]["healthCheck"] = json!({"command": ["CMD-SHELL", "true"]});
    let mut containers = reg(v).container_definitions.unwrap();
    apply_defaults(&mut containers, None);
    let c = &containers[0];
    assert_eq!(c.essential, Some(true));
    assert_eq!((c.port_mappings[0].protocol.as_deref(), c.port_mappings[0].host_port), (Some("tcp"), Some(0)));
    let hc = c.health_check.as_ref().unwrap();
    assert_eq!((hc.interval, hc.timeout, hc.retries), (Some(30), Some(5), Some(3)));
    apply_defaults(&mut containers, Some("awsvpc"));
    assert_eq!(containers[0].port_mappings[0].host_port, Some(0), "an explicit value is kept");
}

#[test]
fn negative_ulimits_are_refused() {
    let with = |soft: i64, hard: i64| {
        json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 128,
            "ulimits": [{"name": "nofile", "softLimit": soft, "hardLimit": hard}]}]})
    };
    assert!(validate_registration(&reg(with(1024, 2048))).is_ok());
    assert!(err(with(-1, 2048)).contains("must not be negative"));
    assert!(err(with(-5, -1)).contains("must not be negative"));
}

#[test]
fn registrations_over_64_kib_are_refused_with_ecs_words() {
    assert!(check_registration_size(64 * 1024).is_ok());
    let e = check_registration_size(64 * 1024 + 1).unwrap_err();
    assert_eq!(e.code(), "ClientException");
    assert_eq!(e.to_string(), "Actual length: '65537'. Max allowed length is '65536' bytes.");
}
