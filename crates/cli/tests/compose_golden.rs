//! Golden tests of `berth compose convert`: each directory under the compose crate's
//! `tests/cases/` (shared with that crate's own golden test of the conversion) holds a
//! project, the arguments (`args`, one per line) and environment (`env`) to convert it
//! with, and what must come out: `expected.json` (stdout), `expected.stderr` and
//! `expected.status`. `BERTH_BLESS=1` rewrites the expectations from the current output
//! (then read the diff before committing it).

use std::{path::Path, process::Command};

fn cases() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compose/tests/cases");
    let mut dirs: Vec<_> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

#[test]
fn compose_files_convert_as_recorded() {
    let bless = std::env::var("BERTH_BLESS").is_ok();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(cases.len() >= 6, "the golden cases are missing");
    for case in cases {
        let args: Vec<String> = std::fs::read_to_string(case.join("args")).unwrap().lines().map(String::from).collect();
        let env: Vec<(String, String)> = std::fs::read_to_string(case.join("env"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["compose", "convert"])
            .args(&args)
            .current_dir(&case)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .output()
            .unwrap();
        let dir = std::fs::canonicalize(&case).unwrap().to_string_lossy().into_owned();
        let stdout = String::from_utf8_lossy(&out.stdout).replace(&dir, "$CASE");
        let stderr = String::from_utf8_lossy(&out.stderr).replace(&dir, "$CASE");
        let status = out.status.code().unwrap_or(-1).to_string();
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if bless {
            std::fs::write(case.join("expected.json"), &stdout).unwrap();
            std::fs::write(case.join("expected.stderr"), &stderr).unwrap();
            std::fs::write(case.join("expected.status"), format!("{status}\n")).unwrap();
            continue;
        }
        let read = |f: &str| std::fs::read_to_string(case.join(f)).unwrap_or_else(|_| panic!("{name}: {f} missing"));
        let want_json = read("expected.json");
        let same_json = match (
            serde_json::from_str::<serde_json::Value>(&stdout),
            serde_json::from_str::<serde_json::Value>(&want_json),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => stdout == want_json,
        };
        if !same_json {
            failures.push(format!("{name}: stdout differs\n--- got\n{stdout}\n--- want\n{want_json}"));
        }
        if stderr != read("expected.stderr") {
            failures.push(format!("{name}: stderr differs\n--- got\n{stderr}\n--- want\n{}", read("expected.stderr")));
        }
        if status != read("expected.status").trim() {
            failures.push(format!("{name}: exit status {status}, want {}", read("expected.status").trim()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
