//! ECS request bodies: the JSON decoder every operation uses, into the shapes that carry
//! the most structure (a task definition registration, validated and defaulted; task
//! overrides; an agent's state report). Decoding may refuse; it must never panic.
#![no_main]

use berth_model::{
    json::decode,
    task::{TaskOverride, TaskStateChange},
    task_definition::{apply_defaults, check_registration_size, validate_registration, Registration},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if check_registration_size(body.len()).is_ok() {
        if let Ok(mut reg) = decode::<Registration>(body) {
            if validate_registration(&reg).is_ok() {
                if let Some(containers) = reg.container_definitions.as_mut() {
                    apply_defaults(containers, reg.network_mode.as_deref());
                }
            }
        }
    }
    let _ = decode::<TaskOverride>(body);
    let _ = decode::<TaskStateChange>(body);
});
