//! The CI-sized run of `berth bench placement` (the full one is in BENCHMARKS.md): the
//! command works end to end and ends with its contract line.

use std::process::Command;

#[test]
fn bench_placement_places_every_task_and_reports_the_contract_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["bench", "placement", "--instances", "500", "--tasks", "20000"])
        .env("BERTH_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().last().unwrap_or_default();
    // placed M tasks on N instances in S s (R placements/s), peak RSS X MiB
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&words[..6], ["placed", "20000", "tasks", "on", "500", "instances"], "{line}");
    assert_eq!(words[6], "in");
    assert!(words[7].parse::<f64>().is_ok() && words[8] == "s", "{line}");
    assert!(words[9].trim_start_matches('(').parse::<f64>().is_ok() && words[10] == "placements/s),", "{line}");
    assert_eq!(&words[11..13], ["peak", "RSS"], "{line}");
    assert!(words[13].parse::<f64>().is_ok() && words[14] == "MiB", "{line}");
}
