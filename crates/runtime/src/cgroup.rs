//! A container's CPU time and memory, read from the kernel's cgroup files (v1 and v2),
//! not from the engine: `docker stats` streams keep the engine busy, a file read does
//! not. Memory is what `docker stats` shows: usage without the inactive page cache.

use std::path::{Path, PathBuf};

/// Cumulative CPU time and current memory of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub cpu_ns: u64,
    pub memory_bytes: u64,
}

/// Where one container's counters are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paths {
    /// cgroup v2: one directory with `cpu.stat`, `memory.current`, `memory.stat`.
    Unified(PathBuf),
    /// cgroup v1: the cpuacct directory and the memory directory.
    Split { cpuacct: PathBuf, memory: PathBuf },
}

const ROOT: &str = "/sys/fs/cgroup";

fn exists(p: &Path) -> bool {
    p.is_dir()
}

/// Finds a container's cgroup by its full id, as Docker names it under the cgroupfs and
/// systemd drivers, or through `/proc/PID/cgroup` of its main process.
pub fn locate(container_id: &str, pid: Option<u32>) -> Option<Paths> {
    locate_under(Path::new(ROOT), container_id, pid)
}

pub fn locate_under(root: &Path, id: &str, pid: Option<u32>) -> Option<Paths> {
    let leaves = [format!("docker/{id}"), format!("system.slice/docker-{id}.scope")];
    if root.join("cgroup.controllers").exists() {
        if let Some(dir) = leaves.iter().map(|l| root.join(l)).find(|d| exists(d)) {
            return Some(Paths::Unified(dir));
        }
    } else {
        for cpu in ["cpuacct", "cpu,cpuacct", "cpuacct,cpu"] {
            for leaf in &leaves {
                let (c, m) = (root.join(cpu).join(leaf), root.join("memory").join(leaf));
                if exists(&c) && exists(&m) {
                    return Some(Paths::Split { cpuacct: c, memory: m });
                }
            }
        }
    }
    let text = std::fs::read_to_string(format!("/proc/{}/cgroup", pid?)).ok()?;
    from_proc(root, &text)
}

/// The paths a `/proc/PID/cgroup` text names.
pub fn from_proc(root: &Path, text: &str) -> Option<Paths> {
    let mut cpuacct = None;
    let mut memory = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = path.trim_start_matches('/');
        if controllers.is_empty() && root.join("cgroup.controllers").exists() {
            return Some(Paths::Unified(root.join(rel)));
        }
        if controllers.split(',').any(|c| c == "cpuacct") {
            cpuacct = Some(root.join(controllers).join(rel));
        }
        if controllers.split(',').any(|c| c == "memory") {
            memory = Some(root.join("memory").join(rel));
        }
    }
    Some(Paths::Split { cpuacct: cpuacct?, memory: memory? })
}

fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

fn read_u64(p: &Path) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

impl Paths {
    /// The counters now; `None` once the cgroup is gone.
    pub fn read(&self) -> Option<Usage> {
        match self {
            Paths::Unified(dir) => {
                let cpu = stat_value(&std::fs::read_to_string(dir.join("cpu.stat")).ok()?, "usage_usec")? * 1000;
                let current = read_u64(&dir.join("memory.current"))?;
                let stat = std::fs::read_to_string(dir.join("memory.stat")).unwrap_or_default();
                let cache = stat_value(&stat, "inactive_file").unwrap_or(0);
                Some(Usage { cpu_ns: cpu, memory_bytes: current.saturating_sub(cache) })
            }
            Paths::Split { cpuacct, memory } => {
                let cpu = read_u64(&cpuacct.join("cpuacct.usage"))?;
                let current = read_u64(&memory.join("memory.usage_in_bytes"))?;
                let stat = std::fs::read_to_string(memory.join("memory.stat")).unwrap_or_default();
                let cache = stat_value(&stat, "total_inactive_file").unwrap_or(0);
                Some(Usage { cpu_ns: cpu, memory_bytes: current.saturating_sub(cache) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn v1_counters_are_found_by_id_and_read_without_the_page_cache() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(&r.join("cpuacct/docker/abc/cpuacct.usage"), "5000000000\n");
        write(&r.join("memory/docker/abc/memory.usage_in_bytes"), "10485760\n");
        write(&r.join("memory/docker/abc/memory.stat"), "cache 1\ntotal_inactive_file 2097152\n");
        let paths = locate_under(r, "abc", None).unwrap();
        assert_eq!(paths.read(), Some(Usage { cpu_ns: 5_000_000_000, memory_bytes: 8 << 20 }));
        assert_eq!(locate_under(r, "other", None), None);
    }

    #[test]
    fn v2_counters_are_found_under_the_systemd_scope() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(&r.join("cgroup.controllers"), "cpu memory\n");
        let dir = r.join("system.slice/docker-abc.scope");
        write(&dir.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\n");
        write(&dir.join("memory.current"), "4096\n");
        write(&dir.join("memory.stat"), "anon 1\ninactive_file 1024\n");
        assert_eq!(locate_under(r, "abc", None).unwrap().read(), Some(Usage { cpu_ns: 1_500_000, memory_bytes: 3072 }));
    }

    #[test]
    fn proc_cgroup_lines_name_the_paths() {
        let root = tempfile::tempdir().unwrap();
        let text = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
        assert_eq!(
            from_proc(root.path(), text),
            Some(Paths::Split {
                cpuacct: root.path().join("cpu,cpuacct/docker/abc"),
                memory: root.path().join("memory/docker/abc"),
            })
        );
    }
}
