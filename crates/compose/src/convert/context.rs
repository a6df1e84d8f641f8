//! What the conversion's parts share: the options, the context that collects notes about
//! keys (with where they are), the `x-ecs` keys and how they are read, and a converted
//! container before it joins a task definition.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use serde_json::{Map, Value as Json};
use serde_yaml::Value;

use berth_model::suggest::closest;

use crate::load::Project;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// One ECS service (and task definition) per compose service instead of one per project.
    pub service_per_container: bool,
    /// `host:port` of berth's registry, for images built from a `build:` section.
    pub registry_host: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub service: String,
    /// Where the image is pushed: `HOST/REPOSITORY:TAG`.
    pub image: String,
    pub repository: String,
    pub context: PathBuf,
    pub dockerfile: Option<String>,
    pub args: Vec<(String, String)>,
    pub target: Option<String>,
}

/// Something the conversion reports about a key, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub location: String,
    pub key: String,
    pub kind: NoteKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NoteKind {
    /// A compose key ECS has nothing for: ignored (an error with `--strict`).
    Untranslated,
    /// A value changed to what ECS accepts, or a setting berth chose; the text says what.
    Adjusted(String),
}

impl Note {
    /// What happened, after the location.
    pub fn message(&self) -> String {
        match &self.kind {
            NoteKind::Untranslated => "is not translated to ECS".to_string(),
            NoteKind::Adjusted(what) => what.clone(),
        }
    }
}

/// Task-definition members `x-ecs` may set (top level, or per service in
/// service-per-container mode).
pub(super) const X_ECS_TASK: [&str; 8] = [
    "cpu",
    "memory",
    "networkMode",
    "taskRoleArn",
    "executionRoleArn",
    "requiresCompatibilities",
    "pidMode",
    "ipcMode",
];
/// CreateService members `x-ecs` may set.
pub(super) const X_ECS_SERVICE: [&str; 9] = [
    "launchType",
    "placementConstraints",
    "placementStrategy",
    "deploymentConfiguration",
    "desiredCount",
    "healthCheckGracePeriodSeconds",
    "enableECSManagedTags",
    "propagateTags",
    "schedulingStrategy",
];
/// Container members `x-ecs` may set on a service.
pub(super) const X_ECS_CONTAINER: [&str; 4] = ["essential", "cpu", "memory", "memoryReservation"];

pub(super) struct Ctx<'a> {
    pub(super) project: &'a Project,
    pub(super) notes: Vec<Note>,
}

impl Ctx<'_> {
    pub(super) fn note(&mut self, path: &str) {
        self.push(path, NoteKind::Untranslated);
    }

    /// Reports a value changed (or chosen) for ECS.
    pub(super) fn adjusted(&mut self, path: &str, what: String) {
        self.push(path, NoteKind::Adjusted(what));
    }

    pub(super) fn push(&mut self, path: &str, kind: NoteKind) {
        let location = self.at(path);
        if !self.notes.iter().any(|n| n.location == location && n.kind == kind) {
            self.notes.push(Note { location, key: path.rsplit('.').next().unwrap_or(path).to_string(), kind });
        }
    }

    /// `file:line: path`, or the path alone when it cannot be found in the files.
    pub(super) fn at(&self, path: &str) -> String {
        match locate(&self.project.sources, path) {
            Some(at) => format!("{at}: {path}"),
            None => path.to_string(),
        }
    }

    /// A key the compose specification does not have: an error that names the closest one.
    pub(super) fn unknown(&self, path: &str, key: &str, known: &[&str]) -> anyhow::Error {
        let hint = match closest(key, known) {
            Some(k) => format!(" — did you mean `{k}`?"),
            None => String::new(),
        };
        anyhow!("{}: unknown key `{key}`{hint}", self.at(path))
    }
}

/// Reads an `x-ecs` block, refusing keys it does not know.
pub(super) fn x_ecs(v: Option<&Value>, path: &str, allowed: &[&[&str]]) -> anyhow::Result<Map<String, Json>> {
    let Some(v) = v else { return Ok(Map::new()) };
    let json: Json = serde_json::to_value(v).with_context(|| format!("{path}: not representable as JSON"))?;
    let Json::Object(map) = json else { bail!("{path} must be a mapping") };
    for k in map.keys() {
        if !allowed.iter().any(|list| list.contains(&k.as_str())) {
            let all: Vec<&str> = allowed.iter().flat_map(|l| l.iter().copied()).collect();
            bail!("{path}.{k} is not an x-ecs setting berth knows (one of: {})", all.join(", "));
        }
    }
    Ok(map)
}

pub(super) struct ContainerOut {
    pub(super) name: String,
    pub(super) def: Map<String, Json>,
    pub(super) volumes: Vec<(String, Json)>,
    pub(super) replicas: Option<i64>,
    pub(super) service_ecs: Map<String, Json>,
}

/// Finds `a.b.c` in the YAML text of the sources (the last file that has it): `file:line`.
pub fn locate(sources: &[(PathBuf, String)], path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('.').collect();
    sources.iter().rev().find_map(|(file, text)| {
        let lines: Vec<&str> = text.lines().collect();
        let mut from = 0;
        let mut parent_indent: i64 = -1;
        let mut found = None;
        for part in &parts {
            let key = part.split('[').next().unwrap_or(part);
            let mut hit = None;
            for (i, line) in lines.iter().enumerate().skip(from) {
                let trimmed = line.trim_start();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                let indent = (line.len() - trimmed.len()) as i64;
                if indent <= parent_indent && i > from {
                    break;
                }
                let bare = trimmed.trim_start_matches("- ");
                let matches = [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")]
                    .iter()
                    .any(|k| bare.starts_with(k.as_str()));
                // A top-level key sits at column 0; deeper ones anywhere inside their parent.
                let level_ok = if parent_indent < 0 { indent == 0 } else { indent > parent_indent };
                if matches && level_ok {
                    hit = Some((i, indent));
                    break;
                }
            }
            let (i, indent) = hit?;
            from = i + 1;
            parent_indent = indent;
            found = Some(i + 1);
        }
        found.map(|line| format!("{}:{line}", file.display()))
    })
}
