//! The cluster query language of `memberOf` constraints, and strategies: parsed, then
//! evaluated against an instance. Refusals are fine; panics are not.
#![no_main]

use std::{collections::HashMap, sync::Arc};

use berth_scheduler::{parse_constraint, parse_strategy, Instance};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (kind, expression) = text.split_once('\n').unwrap_or(("memberOf", text));
    let mut attributes = HashMap::new();
    attributes.insert("ecs.availability-zone".to_string(), Some("us-east-1a".to_string()));
    attributes.insert("ecs.instance-type".to_string(), Some("t3.large".to_string()));
    attributes.insert("flag".to_string(), None);
    let instance = Instance {
        arn: "arn:aws:ecs:us-east-1:000000000000:container-instance/c/1".into(),
        ec2_instance_id: "i-1".into(),
        active: true,
        agent_connected: true,
        agent_version: "1.0.0".into(),
        attributes: Arc::new(attributes),
        ..Default::default()
    };
    for kind in [kind, "memberOf"] {
        if let Ok(constraint) = parse_constraint(kind, Some(expression)) {
            let _ = constraint.admits_instance(&instance, "service:web");
        }
    }
    let _ = parse_strategy(kind, Some(expression));
});
