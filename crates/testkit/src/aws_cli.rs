//! One service of a real aws CLI aimed at a berth server: run a command, read its JSON,
//! or check that it fails with an error code.

use std::path::Path;

use serde_json::Value;

use crate::BerthProcess;

pub struct AwsCli<'a> {
    pub cli: &'a Path,
    pub server: &'a BerthProcess,
    /// The CLI's service command (`cloudwatch`, `application-autoscaling`, …).
    pub service: &'a str,
}

impl AwsCli<'_> {
    /// (success, stdout, stderr) of `aws SERVICE ARGS…` in us-east-1.
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut full = vec![self.service];
        full.extend_from_slice(args);
        let out = self.server.aws(self.cli, "us-east-1", &full);
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    /// The command's JSON output (`Null` when it printed nothing); panics if it failed.
    pub fn json(&self, args: &[&str]) -> Value {
        let (ok, stdout, stderr) = self.run(args);
        assert!(ok, "{} {} {args:?} failed: {stderr}", self.cli.display(), self.service);
        if stdout.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// Checks the command fails with `code` in its message; returns the message.
    pub fn fails(&self, args: &[&str], code: &str) -> String {
        let (ok, _, stderr) = self.run(args);
        assert!(!ok && stderr.contains(code), "{} {args:?}: expected {code}, got: {stderr}", self.service);
        stderr
    }

    /// Whether this CLI has `command` (Debian's v2 CLI is older than some commands).
    pub fn has(&self, command: &str) -> bool {
        let (_, _, stderr) = self.run(&[command]);
        !stderr.contains("Invalid choice")
    }
}
