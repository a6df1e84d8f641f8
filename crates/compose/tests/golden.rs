//! Golden tests of the conversion itself, without the binary: each directory under
//! `tests/cases/` holds a project, the `berth compose convert` arguments it is converted
//! with (`args`: `-f FILE`, `-p NAME`, `--service-per-container`, `--strict`), its
//! environment (`env`), and what comes out: `expected.json` (the document) and
//! `expected.status` (0, or 1 when the project is refused). The CLI's golden test runs the
//! same cases through `berth compose convert` and also checks what it prints to stderr;
//! `BERTH_BLESS=1` there rewrites the expectations.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use berth_compose::{
    convert::{convert, NoteKind, Options},
    load,
};

struct Case {
    files: Vec<PathBuf>,
    project_name: Option<String>,
    service_per_container: bool,
    strict: bool,
    env: BTreeMap<String, String>,
}

fn read_case(dir: &Path) -> Case {
    let args: Vec<String> = std::fs::read_to_string(dir.join("args")).unwrap().lines().map(String::from).collect();
    let mut case = Case {
        files: Vec::new(),
        project_name: None,
        service_per_container: false,
        strict: false,
        env: BTreeMap::new(),
    };
    let mut it = args.iter().filter(|a| !a.is_empty());
    while let Some(a) = it.next() {
        match a.as_str() {
            "-f" | "--file" => case.files.push(dir.join(it.next().unwrap())),
            "-p" | "--project-name" => case.project_name = it.next().cloned(),
            "--service-per-container" => case.service_per_container = true,
            "--strict" => case.strict = true,
            other => panic!("{}: argument {other} is not known to this test", dir.display()),
        }
    }
    let vars = std::fs::read_to_string(dir.join("env")).unwrap();
    let vars = vars.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string()));
    case.env = load::environment(dir, vars).unwrap();
    case
}

/// The document `compose convert` prints, or the error that refuses the project.
fn run(case: &Case) -> anyhow::Result<serde_json::Value> {
    let project = load::load(&case.files, case.project_name.as_deref(), &case.env)?;
    let options = Options { service_per_container: case.service_per_container, registry_host: None };
    let converted = convert(&project, &options)?;
    let untranslated = converted.notes.iter().filter(|n| matches!(n.kind, NoteKind::Untranslated)).count();
    if case.strict && untranslated > 0 {
        anyhow::bail!("{untranslated} key(s) cannot be translated (--strict)");
    }
    Ok(converted.document())
}

#[test]
fn projects_convert_to_the_recorded_requests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.retain(|d| d.is_dir());
    dirs.sort();
    assert!(dirs.len() >= 6, "the golden cases are missing");
    let mut failures = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let status = std::fs::read_to_string(dir.join("expected.status")).unwrap().trim().to_string();
        match (run(&read_case(&dir)), status.as_str()) {
            (Ok(doc), "0") => {
                // Host paths print under `$CASE`, as the CLI's golden test records them.
                let case = std::fs::canonicalize(&dir).unwrap().to_string_lossy().into_owned();
                let doc: serde_json::Value = serde_json::from_str(&doc.to_string().replace(&case, "$CASE")).unwrap();
                let want: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
                if doc != want {
                    failures.push(format!("{name}: the document differs\n--- got\n{doc:#}\n--- want\n{want:#}"));
                }
            }
            (Ok(_), _) => failures.push(format!("{name}: converted, but the project should be refused")),
            (Err(e), "0") => failures.push(format!("{name}: refused ({e:#}), but it should convert")),
            (Err(_), _) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
