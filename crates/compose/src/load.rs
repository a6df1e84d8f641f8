//! Reading a Compose project: files parsed as YAML (anchors and `<<` merge keys included),
//! variables interpolated from the environment and `.env`, several `-f` files merged the
//! way `docker compose` merges them.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context};
use serde_yaml::{Mapping, Value};

/// A loaded project: the merged document and where it came from.
pub struct Project {
    pub name: String,
    /// The directory of the first file: relative paths resolve against it.
    pub dir: PathBuf,
    pub doc: Mapping,
    /// Every file's path and text (for locating keys in reports).
    pub sources: Vec<(PathBuf, String)>,
    /// Variables used but not set (interpolated as empty strings, as docker compose does).
    pub unset: Vec<String>,
}

/// The variables interpolation sees: `.env` in the project directory, overridden by the
/// process environment.
pub fn environment(
    dir: &Path,
    process: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    let dotenv = dir.join(".env");
    if dotenv.exists() {
        env.extend(read_env_file(&dotenv)?);
    }
    env.extend(process);
    Ok(env)
}

/// `KEY=VALUE` lines; `#` comments, blank lines and `export ` prefixes allowed; values may
/// be quoted.
pub fn read_env_file(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (line, ""),
        };
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') {
            bail!("{}:{}: '{line}' is not KEY=VALUE", path.display(), n + 1);
        }
        let v = match (v.chars().next(), v.chars().last()) {
            (Some(q @ ('"' | '\'')), Some(e)) if v.len() >= 2 && q == e => &v[1..v.len() - 1],
            _ => v,
        };
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Loads and merges `files`.
pub fn load(files: &[PathBuf], project_name: Option<&str>, env: &BTreeMap<String, String>) -> anyhow::Result<Project> {
    let mut texts = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        texts.push((path.clone(), text));
    }
    load_sources(texts, project_name, env)
}

/// Merges compose documents already read: `(path, text)` in override order. The first
/// path's directory is the project directory.
pub fn load_sources(
    texts: Vec<(PathBuf, String)>,
    project_name: Option<&str>,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<Project> {
    let first = texts.first().map(|(p, _)| p.clone()).context("no compose file given")?;
    let dir = first.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    let mut merged = Mapping::new();
    let mut sources = Vec::new();
    let mut unset = Vec::new();
    for (path, text) in texts {
        let path = &path;
        let mut value: Value = serde_yaml::from_str(&text).map_err(|e| match e.location() {
            Some(l) => anyhow::anyhow!("{}:{}:{}: not valid YAML: {e}", path.display(), l.line(), l.column()),
            None => anyhow::anyhow!("{}: not valid YAML: {e}", path.display()),
        })?;
        value.apply_merge().map_err(|e| anyhow::anyhow!("{}: merge keys (<<): {e}", path.display()))?;
        let Value::Mapping(map) = value else {
            bail!("{}:1:1: a compose file must be a mapping with a 'services' key", path.display());
        };
        let mut map = map;
        interpolate_mapping(&mut map, env, &mut unset, "").map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        merged = merge_mapping(merged, map, "");
        sources.push((path.clone(), text));
    }
    if !matches!(merged.get("services"), Some(Value::Mapping(_))) {
        bail!("{}: a compose file needs a 'services' mapping", first.display());
    }
    let name = project_name
        .map(str::to_string)
        .or_else(|| merged.get("name").and_then(Value::as_str).map(str::to_string))
        .or_else(|| env.get("COMPOSE_PROJECT_NAME").cloned())
        .unwrap_or_else(|| {
            let abs = std::fs::canonicalize(&dir).unwrap_or(dir.clone());
            abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "project".into())
        });
    let name = normalize_project_name(&name)?;
    unset.sort();
    unset.dedup();
    Ok(Project { name, dir, doc: merged, sources, unset })
}

/// Where variable `name` is first used in the files, as `file:line`.
pub fn locate_variable(sources: &[(PathBuf, String)], name: &str) -> Option<String> {
    let uses = [
        format!("${{{name}}}"),
        format!("${{{name}:"),
        format!("${{{name}-"),
        format!("${{{name}?"),
        format!("${name}"),
    ];
    sources.iter().find_map(|(file, text)| {
        text.lines()
            .position(|l| uses.iter().any(|u| l.contains(u.as_str())))
            .map(|i| format!("{}:{}", file.display(), i + 1))
    })
}

/// Lowercase letters, digits, `-` and `_`, starting with a letter or digit (as docker compose).
fn normalize_project_name(raw: &str) -> anyhow::Result<String> {
    let name: String =
        raw.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    let name = name.trim_start_matches(['-', '_']).to_string();
    if name.is_empty() {
        bail!("project name '{raw}' has no letters or digits; pass --project-name");
    }
    Ok(name)
}

fn interpolate_mapping(
    map: &mut Mapping,
    env: &BTreeMap<String, String>,
    unset: &mut Vec<String>,
    path: &str,
) -> anyhow::Result<()> {
    for (k, v) in map.iter_mut() {
        let key = k.as_str().unwrap_or("?");
        // Extension blocks are interpolated too, like everything else.
        interpolate_value(v, env, unset, &join(path, key))?;
    }
    Ok(())
}

fn interpolate_value(
    v: &mut Value,
    env: &BTreeMap<String, String>,
    unset: &mut Vec<String>,
    path: &str,
) -> anyhow::Result<()> {
    match v {
        Value::String(s) => *s = interpolate(s, env, unset).map_err(|e| anyhow::anyhow!("{path}: {e}"))?,
        Value::Mapping(m) => interpolate_mapping(m, env, unset, path)?,
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_value(item, env, unset, &format!("{path}[{i}]"))?;
            }
        }
        Value::Tagged(t) => interpolate_value(&mut t.value, env, unset, path)?,
        _ => {}
    }
    Ok(())
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Compose variable interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`
/// (defaults may themselves contain variables).
pub fn interpolate(s: &str, env: &BTreeMap<String, String>, unset: &mut Vec<String>) -> Result<String, String> {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                // Find the matching close brace, allowing nested ${...}.
                let mut depth = 1;
                let mut j = i + 2;
                while j < chars.len() && depth > 0 {
                    match chars[j] {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    j += 1;
                }
                if depth != 0 {
                    return Err(format!("unclosed '${{' in '{s}'"));
                }
                let inner: String = chars[i + 2..j - 1].iter().collect();
                out.push_str(&expand(&inner, env, unset)?);
                i = j;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect();
                match env.get(&name) {
                    Some(v) => out.push_str(v),
                    None => unset.push(name),
                }
                i = j;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

fn expand(inner: &str, env: &BTreeMap<String, String>, unset: &mut Vec<String>) -> Result<String, String> {
    let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
    let (name, rest) = inner.split_at(name_end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("'${{{inner}}}' is not a valid variable reference"));
    }
    let value = env.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let (op, arg) = if let Some(a) = rest.strip_prefix(":-") {
        (":-", a)
    } else if let Some(a) = rest.strip_prefix(":?") {
        (":?", a)
    } else if let Some(a) = rest.strip_prefix(":+") {
        (":+", a)
    } else if let Some(a) = rest.strip_prefix('-') {
        ("-", a)
    } else if let Some(a) = rest.strip_prefix('?') {
        ("?", a)
    } else if let Some(a) = rest.strip_prefix('+') {
        ("+", a)
    } else if rest.is_empty() {
        ("", "")
    } else {
        return Err(format!("'${{{inner}}}' has an unknown modifier"));
    };
    Ok(match op {
        "" => match value {
            Some(v) => v.clone(),
            None => {
                unset.push(name.to_string());
                String::new()
            }
        },
        ":-" if !set_nonempty => interpolate(arg, env, unset)?,
        "-" if value.is_none() => interpolate(arg, env, unset)?,
        ":?" if !set_nonempty => return Err(format!("required variable {name} is missing a value: {arg}")),
        "?" if value.is_none() => return Err(format!("required variable {name} is missing a value: {arg}")),
        ":+" if set_nonempty => interpolate(arg, env, unset)?,
        "+" if value.is_some() => interpolate(arg, env, unset)?,
        ":+" | "+" => String::new(),
        _ => value.cloned().unwrap_or_default(),
    })
}

/// Keys whose list and mapping forms are the same thing (`["A=1"]` and `{A: 1}`).
const KEY_VALUE_KEYS: [&str; 4] = ["environment", "labels", "extra_hosts", "sysctls"];
/// Lists that add up across files.
const APPENDED: [&str; 10] =
    ["ports", "expose", "dns", "dns_search", "tmpfs", "cap_add", "cap_drop", "env_file", "links", "security_opt"];

/// `override` on top of `base`, as docker compose merges files.
fn merge_mapping(mut base: Mapping, over: Mapping, path: &str) -> Mapping {
    for (k, v) in over {
        let key = k.as_str().unwrap_or("").to_string();
        let here = join(path, &key);
        let merged = match base.remove(&k) {
            Some(old) => merge_value(old, v, &key, &here),
            None => v,
        };
        base.insert(k, merged);
    }
    base
}

fn merge_value(base: Value, over: Value, key: &str, path: &str) -> Value {
    let in_service = path.starts_with("services.") && path.matches('.').count() == 2;
    if in_service && KEY_VALUE_KEYS.contains(&key) {
        let mut m = as_key_values(&base);
        m.extend(as_key_values(&over));
        return Value::Mapping(m.into_iter().map(|(k, v)| (Value::String(k), v)).collect());
    }
    if in_service && key == "depends_on" {
        let mut m = depends_on_map(&base);
        m.extend(depends_on_map(&over));
        return Value::Mapping(m.into_iter().map(|(k, v)| (Value::String(k), v)).collect());
    }
    if in_service && key == "volumes" {
        // Merged by mount target: an override replaces the mount at the same path.
        let (Value::Sequence(b), Value::Sequence(o)) = (&base, &over) else { return over };
        let target = |v: &Value| match v {
            Value::String(s) => s.split(':').nth(1).unwrap_or(s).to_string(),
            Value::Mapping(m) => m.get("target").and_then(Value::as_str).unwrap_or("").to_string(),
            _ => String::new(),
        };
        let mut out: Vec<Value> = b.iter().filter(|x| !o.iter().any(|y| target(y) == target(x))).cloned().collect();
        out.extend(o.iter().cloned());
        return Value::Sequence(out);
    }
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => Value::Mapping(merge_mapping(b, o, path)),
        (Value::Sequence(mut b), Value::Sequence(o)) if in_service && APPENDED.contains(&key) => {
            for item in o {
                if !b.contains(&item) {
                    b.push(item);
                }
            }
            Value::Sequence(b)
        }
        (_, over) => over,
    }
}

/// A `KEY=VALUE` list or a mapping as an ordered map (a list entry without `=` maps to null).
pub fn as_key_values(v: &Value) -> BTreeMap<String, Value> {
    match v {
        Value::Mapping(m) => m.iter().map(|(k, v)| (scalar_string(k), v.clone())).collect(),
        Value::Sequence(items) => items
            .iter()
            .map(|i| {
                let s = scalar_string(i);
                match s.split_once('=').or_else(|| s.split_once(':').filter(|_| !s.contains('='))) {
                    Some((k, v)) => (k.trim().to_string(), Value::String(v.trim().to_string())),
                    None => (s.trim().to_string(), Value::Null),
                }
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// `depends_on` as a map of service → its options.
pub fn depends_on_map(v: &Value) -> BTreeMap<String, Value> {
    match v {
        Value::Sequence(items) => items
            .iter()
            .map(|i| {
                let mut m = Mapping::new();
                m.insert("condition".into(), "service_started".into());
                (scalar_string(i), Value::Mapping(m))
            })
            .collect(),
        Value::Mapping(m) => m.iter().map(|(k, v)| (scalar_string(k), v.clone())).collect(),
        _ => BTreeMap::new(),
    }
}

/// A scalar as text (numbers and booleans as YAML writes them).
pub fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn interpolation() {
        let e = env(&[("TAG", "1.2"), ("EMPTY", "")]);
        let mut unset = Vec::new();
        let mut i = |s: &str| interpolate(s, &e, &mut unset);
        assert_eq!(i("web:${TAG}").unwrap(), "web:1.2");
        assert_eq!(i("web:$TAG-x").unwrap(), "web:1.2-x");
        assert_eq!(i("${EMPTY:-dflt} ${EMPTY-dflt} ${NOPE-dflt}").unwrap(), "dflt  dflt");
        assert_eq!(i("${NOPE:-${TAG}}").unwrap(), "1.2");
        assert_eq!(i("$$HOME and $${TAG}").unwrap(), "$HOME and ${TAG}");
        assert_eq!(i("${TAG:+set}${NOPE:+set}").unwrap(), "set");
        assert!(i("${NOPE:?give it}").unwrap_err().contains("required variable NOPE is missing a value: give it"));
        assert!(i("${TAG").is_err());
        assert_eq!(i("$NOPE").unwrap(), "");
        assert_eq!(unset, vec!["NOPE".to_string()]);
    }

    #[test]
    fn merging_follows_compose() {
        let base: Value = serde_yaml::from_str(
            "services:\n  web:\n    image: a\n    ports: ['80']\n    environment: [A=1, B=2]\n    command: [x, y]\n    volumes: ['d1:/data', '/h:/logs']\n",
        )
        .unwrap();
        let over: Value = serde_yaml::from_str(
            "services:\n  web:\n    image: b\n    ports: ['81']\n    environment: {B: 3, C: 4}\n    command: [z]\n    volumes: ['d2:/data']\n",
        )
        .unwrap();
        let (Value::Mapping(b), Value::Mapping(o)) = (base, over) else { panic!() };
        let m = merge_mapping(b, o, "");
        let web = &m["services"]["web"];
        assert_eq!(web["image"], Value::from("b"));
        assert_eq!(serde_yaml::to_string(&web["ports"]).unwrap().trim(), "- '80'\n- '81'");
        assert_eq!(web["environment"]["A"], Value::from("1"));
        assert_eq!(web["environment"]["B"], Value::from(3));
        assert_eq!(web["command"], serde_yaml::from_str::<Value>("[z]").unwrap());
        assert_eq!(web["volumes"], serde_yaml::from_str::<Value>("['/h:/logs', 'd2:/data']").unwrap());
    }

    #[test]
    fn env_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.env");
        std::fs::write(&p, "# comment\nA=1\nexport B=\"two words\"\n\nC=\n").unwrap();
        assert_eq!(
            read_env_file(&p).unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "".into())]
        );
        std::fs::write(&p, "not a pair with spaces\n").unwrap();
        assert!(read_env_file(&p).unwrap_err().to_string().contains("a.env:1"));
    }
}
