//! Docker fixtures for end-to-end tests. No registry is reachable, so the test image is
//! built here: `FROM scratch` plus Debian's static busybox (`sh`, `httpd`, `sleep`, …).
//! Everything a test creates is removed when its fixture is dropped.

use std::process::{Command, Stdio};

/// Runs the docker CLI; returns stdout, or panics with stderr.
pub fn docker_cli(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).stdin(Stdio::null()).output().expect("run docker");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A busybox image tagged for one test; dropping it removes the tag and every container
/// and volume labelled with the test's cluster.
pub struct TestImage {
    pub reference: String,
    cluster: String,
    _context: tempfile::TempDir,
}

impl TestImage {
    /// Builds `berth-test/busybox:<tag>`. `cluster` names the cluster whose containers
    /// are cleaned up afterwards.
    pub fn build(tag: &str, cluster: &str) -> TestImage {
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("Debian's busybox-static is needed to build the test image (apt-get install busybox-static)");
        let context = tempfile::tempdir().expect("temp dir");
        std::fs::copy(busybox, context.path().join("busybox")).expect("copy busybox");
        std::fs::write(
            context.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"sh\"]\n",
        )
        .expect("write Dockerfile");
        let reference = format!("berth-test/busybox:{tag}");
        // No build cache: tests build in parallel and remove their images when done, and a
        // removal takes the cached intermediate layers with it while another build uses them.
        docker_cli(&["build", "-q", "--no-cache", "-t", &reference, context.path().to_str().expect("utf-8 path")]);
        TestImage { reference, cluster: cluster.to_string(), _context: context }
    }

    /// Containers berth started for this test's cluster.
    pub fn containers(&self) -> Vec<String> {
        let filter = format!("label=com.amazonaws.ecs.cluster={}", self.cluster);
        let out = docker_cli(&["ps", "-aq", "--filter", &filter]);
        out.lines().map(String::from).filter(|l| !l.is_empty()).collect()
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let ids = self.containers();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            let _ = Command::new("docker").args(&args).output();
        }
        let _ = Command::new("docker").args(["rmi", "-f", &self.reference]).output();
    }
}

/// The wall time (ms) of each of `n` `docker run -d` of `image` (`sleep 300`, labelled
/// `label`), one after another; the containers are removed afterwards. The baseline the
/// task start benchmarks compare with.
pub fn docker_run_times(image: &str, label: &str, n: usize) -> Vec<f64> {
    let mut times = Vec::new();
    for _ in 0..n {
        let started = std::time::Instant::now();
        let out = Command::new("docker")
            .args(["run", "-d", "--label", label, image, "sleep", "300"])
            .output()
            .expect("docker run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let ids: Vec<String> =
        docker_cli(&["ps", "-aq", "--filter", &format!("label={label}")]).lines().map(String::from).collect();
    if !ids.is_empty() {
        let mut rm = vec!["rm", "-f"];
        rm.extend(ids.iter().map(String::as_str));
        docker_cli(&rm);
    }
    times
}
