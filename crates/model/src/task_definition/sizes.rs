//! Task-level cpu and memory: the strings ECS accepts and the Fargate size table.

use crate::EcsError;

/// Parses task cpu: CPU units (`"1024"`) or vCPUs (`"1 vCPU"`, `"0.5 vcpu"`) into units.
pub fn parse_task_cpu(s: &str) -> Result<u32, EcsError> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let units = if let Some(v) = lower.strip_suffix("vcpu") {
        v.trim().parse::<f64>().ok().map(|v| (v * 1024.0).round())
    } else {
        t.parse::<f64>().ok()
    };
    match units {
        Some(u) if u.fract() == 0.0 && (1.0..=196_608.0).contains(&u) => Ok(u as u32),
        _ => Err(EcsError::client(format!(
            "Invalid 'cpu' setting for task: '{s}'. Use CPU units (\"1024\") or vCPUs (\"1 vCPU\")."
        ))),
    }
}

/// Parses task memory: MiB (`"512"`) or GB (`"2 GB"`, `"0.5GB"`) into MiB.
pub fn parse_task_memory(s: &str) -> Result<u32, EcsError> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let mib = if let Some(v) = lower.strip_suffix("gb") {
        v.trim().parse::<f64>().ok().map(|v| (v * 1024.0).round())
    } else if let Some(v) = lower.strip_suffix("mb").or_else(|| lower.strip_suffix("mib")) {
        v.trim().parse::<f64>().ok()
    } else {
        t.parse::<f64>().ok()
    };
    match mib {
        Some(m) if m.fract() == 0.0 && m >= 1.0 && m <= u32::MAX as f64 => Ok(m as u32),
        _ => Err(EcsError::client(format!(
            "Invalid 'memory' setting for task: '{s}'. Use MiB (\"512\") or GB (\"2 GB\")."
        ))),
    }
}

/// Whether `cpu` units with `memory` MiB is one of Fargate's task sizes.
pub fn fargate_pair_is_valid(cpu: u32, memory: u32) -> bool {
    let in_steps = |lo: u32, hi: u32, step: u32| memory >= lo && memory <= hi && (memory - lo).is_multiple_of(step);
    match cpu {
        256 => matches!(memory, 512 | 1024 | 2048),
        512 => in_steps(1024, 4096, 1024),
        1024 => in_steps(2048, 8192, 1024),
        2048 => in_steps(4096, 16384, 1024),
        4096 => in_steps(8192, 30720, 1024),
        8192 => in_steps(16384, 61440, 4096),
        16384 => in_steps(32768, 122880, 8192),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_strings() {
        assert_eq!(parse_task_cpu("1024").unwrap(), 1024);
        assert_eq!(parse_task_cpu("1 vCPU").unwrap(), 1024);
        assert_eq!(parse_task_cpu(".25 vcpu").unwrap(), 256);
        assert!(parse_task_cpu("lots").is_err());
        assert!(parse_task_cpu("0").is_err());
    }

    #[test]
    fn memory_strings() {
        assert_eq!(parse_task_memory("512").unwrap(), 512);
        assert_eq!(parse_task_memory("2 GB").unwrap(), 2048);
        assert_eq!(parse_task_memory("0.5GB").unwrap(), 512);
        assert!(parse_task_memory("-1").is_err());
    }

    #[test]
    fn fargate_table() {
        assert!(fargate_pair_is_valid(256, 512));
        assert!(!fargate_pair_is_valid(256, 4096));
        assert!(fargate_pair_is_valid(4096, 30720));
        assert!(!fargate_pair_is_valid(4096, 30721));
        assert!(fargate_pair_is_valid(8192, 20480));
        assert!(!fargate_pair_is_valid(8192, 17408));
        assert!(!fargate_pair_is_valid(300, 512));
    }
}
