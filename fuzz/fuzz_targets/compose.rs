//! A compose file: YAML, merge keys, interpolation, then the conversion to ECS requests.
//! Any input may be refused with a message; none may panic.
#![no_main]

use std::{collections::BTreeMap, path::PathBuf};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env: BTreeMap<String, String> = [("TAG", "1"), ("EMPTY", "")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    let sources = vec![(PathBuf::from("/nonexistent/fuzz/compose.yaml"), text.to_string())];
    if let Ok(project) = berth_compose::load_sources(sources, Some("fuzz"), &env) {
        let _ = berth_compose::convert(&project, &berth_compose::Options::default());
    }
});
