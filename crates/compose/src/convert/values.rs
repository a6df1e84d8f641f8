//! Compose values in ECS's units and shapes: sizes, durations, words, health checks,
//! ports and volumes.

use std::{collections::BTreeMap, path::PathBuf};

use anyhow::{anyhow, bail};
use serde_json::{json, Value as Json};
use serde_yaml::Value;

use super::context::Ctx;
use crate::load::{as_key_values, join, scalar_string};

pub(super) fn truthy(v: &Value, here: &str) -> anyhow::Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => bail!("{here}: must be true or false"),
    }
}

/// A command as a list: a list stays, a string is split like a shell splits words.
pub(super) fn words(v: &Value, here: &str) -> anyhow::Result<Vec<String>> {
    match v {
        Value::Sequence(items) => Ok(items.iter().map(scalar_string).collect()),
        Value::String(s) => shell_words(s).ok_or_else(|| anyhow!("{here}: unbalanced quotes in '{s}'")),
        Value::Null => Ok(Vec::new()),
        _ => bail!("{here}: must be a string or a list"),
    }
}

pub(super) fn shell_words(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => cur.push(ch),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => cur.push(chars.next()?),
                        ch => cur.push(ch),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Some(out)
}

/// A byte size (`512m`, `1g`, `1.5gb`, a plain number of bytes) in MiB, rounded up.
pub(super) fn mib(v: &Value, here: &str) -> anyhow::Result<i64> {
    let s = scalar_string(v).trim().to_lowercase();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| anyhow!("{here}: '{s}' is not a size"))?;
    let factor = match unit.trim() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        other => bail!("{here}: unknown size unit '{other}'"),
    };
    Ok((n * factor / (1024.0 * 1024.0)).ceil() as i64)
}

/// `cpus: 0.5` in ECS CPU units (1024 per CPU).
pub(super) fn cpu_units(v: &Value, here: &str) -> anyhow::Result<i64> {
    let n: f64 =
        scalar_string(v).parse().map_err(|_| anyhow!("{here}: '{}' is not a number of CPUs", scalar_string(v)))?;
    Ok((n * 1024.0).round() as i64)
}

/// A compose duration (`1m30s`, `10s`, `500ms`, `2h`) in seconds.
pub(super) fn seconds(v: &Value, here: &str) -> anyhow::Result<f64> {
    if let Some(n) = v.as_f64() {
        return Ok(n);
    }
    let s = scalar_string(v);
    let mut total = 0.0;
    let mut rest = s.trim();
    if rest.is_empty() {
        bail!("{here}: empty duration");
    }
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(split);
        let n: f64 = num.parse().map_err(|_| anyhow!("{here}: '{s}' is not a duration"))?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        total += n * match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => bail!("{here}: '{s}' is not a duration (units h, m, s, ms, us, ns)"),
        };
        rest = next;
    }
    Ok(total)
}

pub(super) fn healthcheck(v: &Value, here: &str) -> anyhow::Result<Option<Json>> {
    let m = v.as_mapping().ok_or_else(|| anyhow!("{here}: must be a mapping"))?;
    if m.get("disable").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let test = match m.get("test") {
        Some(Value::String(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
        Some(Value::Sequence(items)) => items.iter().map(scalar_string).collect(),
        Some(_) => bail!("{here}.test: must be a string or a list"),
        None => bail!("{here}.test: a health check needs a test"),
    };
    if test.first().map(String::as_str) == Some("NONE") {
        return Ok(None);
    }
    if !matches!(test.first().map(String::as_str), Some("CMD" | "CMD-SHELL")) {
        bail!("{here}.test: a list test starts with CMD or CMD-SHELL (or is [NONE])");
    }
    let mut h = json!({ "command": test });
    for (key, ecs) in [("interval", "interval"), ("timeout", "timeout"), ("start_period", "startPeriod")] {
        if let Some(d) = m.get(key) {
            h[ecs] = json!(seconds(d, &join(here, key))?.round() as i64);
        }
    }
    if let Some(r) = m.get("retries") {
        h["retries"] = json!(r.as_i64().ok_or_else(|| anyhow!("{here}.retries: must be an integer"))?);
    }
    Ok(Some(h))
}

pub(super) fn ports(ctx: &mut Ctx<'_>, v: &Value, here: &str) -> anyhow::Result<Vec<Json>> {
    if let Value::Mapping(m) = v {
        let target = m.get("target").and_then(Value::as_i64).ok_or_else(|| anyhow!("{here}.target: required"))?;
        let mut p = json!({"containerPort": target, "protocol": m.get("protocol").map(scalar_string).unwrap_or_else(|| "tcp".into())});
        if let Some(published) = m.get("published") {
            let s = scalar_string(published);
            p["hostPort"] = json!(s
                .parse::<i64>()
                .map_err(|_| anyhow!("{here}.published: '{s}' is not a port (ranges need the short syntax)"))?);
        }
        if m.contains_key("host_ip") {
            ctx.note(&join(here, "host_ip"));
        }
        return Ok(vec![p]);
    }
    let s = scalar_string(v);
    let (spec, protocol) = s.rsplit_once('/').map(|(a, b)| (a, b.to_string())).unwrap_or((&s, "tcp".into()));
    if protocol != "tcp" && protocol != "udp" {
        bail!("{here}: protocol '{protocol}' must be tcp or udp");
    }
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, container) = match parts.as_slice() {
        [c] => (None, *c),
        [h, c] => (Some(*h), *c),
        [_ip, h, c] => {
            ctx.note(&format!("{here} (host IP)"));
            (Some(*h).filter(|h| !h.is_empty()), *c)
        }
        _ => bail!("{here}: '{s}' is not a port mapping"),
    };
    let range = |r: &str| -> anyhow::Result<(i64, i64)> {
        let (a, b) = r.split_once('-').unwrap_or((r, r));
        let parse = |x: &str| x.trim().parse::<i64>().map_err(|_| anyhow!("{here}: '{x}' is not a port"));
        let (a, b) = (parse(a)?, parse(b)?);
        if a > b || a < 1 || b > 65535 {
            bail!("{here}: '{r}' is not a port range");
        }
        Ok((a, b))
    };
    let (c0, c1) = range(container)?;
    let host = host.map(range).transpose()?;
    if let Some((h0, h1)) = host {
        if h1 - h0 != c1 - c0 {
            bail!("{here}: the host range {h0}-{h1} and the container range {c0}-{c1} differ in length");
        }
    }
    Ok((0..=c1 - c0)
        .map(|i| {
            let mut p = json!({"containerPort": c0 + i, "protocol": protocol});
            if let Some((h0, _)) = host {
                p["hostPort"] = json!(h0 + i);
            }
            p
        })
        .collect())
}

/// A mount point and, when it needs one, the task volume (by name).
type Mounted = (Option<Json>, Option<(String, Json)>);

/// One service volume: its mount point and, when it needs one, the task volume.
pub(super) fn volume(
    ctx: &mut Ctx<'_>,
    service: &str,
    v: &Value,
    named: &serde_yaml::Mapping,
    here: &str,
) -> anyhow::Result<Mounted> {
    let (kind, source, target, read_only) = match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            let (source, target, mode) = match parts.as_slice() {
                [t] => (None, *t, ""),
                [s, t] => (Some(*s), *t, ""),
                [s, t, m] => (Some(*s), *t, *m),
                _ => bail!("{here}: '{s}' is not a volume"),
            };
            let kind = match source {
                None => "anonymous",
                Some(s) if s.starts_with('/') || s.starts_with('.') || s.starts_with('~') => "bind",
                Some(_) => "volume",
            };
            (kind.to_string(), source.map(str::to_string), target.to_string(), mode.split(',').any(|m| m == "ro"))
        }
        Value::Mapping(m) => {
            let kind = m.get("type").map(scalar_string).unwrap_or_else(|| "volume".into());
            let target = m.get("target").map(scalar_string).ok_or_else(|| anyhow!("{here}.target: required"))?;
            let source = m.get("source").map(scalar_string);
            let ro = m.get("read_only").and_then(Value::as_bool).unwrap_or(false);
            let kind = if kind == "volume" && source.is_none() { "anonymous".to_string() } else { kind };
            (kind, source, target, ro)
        }
        _ => bail!("{here}: must be a string or a mapping"),
    };
    let sanitize = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect::<String>()
    };
    let (name, volume) = match kind.as_str() {
        "bind" => {
            let source = source.unwrap_or_default();
            let abs = if let Some(rest) = source.strip_prefix("~/") {
                PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(rest)
            } else {
                let p = ctx.project.dir.join(&source);
                std::fs::canonicalize(&p).unwrap_or(p)
            };
            let abs = abs.to_string_lossy().into_owned();
            // Named after the path as written, so the name does not depend on where the project lives.
            let written = source.trim_start_matches("./").trim_start_matches(['/', '~']);
            let name = format!("host-{}", sanitize(written).trim_matches('-'));
            (name.clone(), json!({"name": name, "host": {"sourcePath": abs}}))
        }
        "volume" => {
            let source = source.unwrap_or_default();
            let project = &ctx.project.name;
            let labels = json!({"com.docker.compose.project": project, "com.docker.compose.volume": source});
            let mut config = json!({"scope": "shared", "autoprovision": true, "driver": "local", "labels": labels});
            // As docker compose: `PROJECT_NAME`, unless the volume is external or named.
            let mut docker_name = format!("{project}_{}", sanitize(&source));
            match named.get(source.as_str()) {
                Some(Value::Mapping(m)) => {
                    if let Some(d) = m.get("driver") {
                        config["driver"] = json!(scalar_string(d));
                    }
                    if let Some(o) = m.get("driver_opts") {
                        config["driverOpts"] = json!(as_key_values(o)
                            .into_iter()
                            .map(|(k, v)| (k, scalar_string(&v)))
                            .collect::<BTreeMap<_, _>>());
                    }
                    if let Some(l) = m.get("labels") {
                        for (k, v) in as_key_values(l) {
                            config["labels"][k] = json!(scalar_string(&v));
                        }
                    }
                    if let Some(n) = m.get("name") {
                        docker_name = sanitize(&scalar_string(n));
                    }
                    if m.get("external").and_then(Value::as_bool) == Some(true) {
                        config["autoprovision"] = json!(false);
                        if m.get("name").is_none() {
                            docker_name = sanitize(&source);
                        }
                    }
                }
                Some(Value::Null) => {}
                Some(_) => bail!("volumes.{source}: must be a mapping"),
                None => bail!("{here}: named volume '{source}' is not declared under the top-level 'volumes'"),
            }
            (docker_name.clone(), json!({"name": docker_name, "dockerVolumeConfiguration": config}))
        }
        "anonymous" => {
            let name = format!("{service}{}", sanitize(&target));
            (name.clone(), json!({"name": name, "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}}))
        }
        "tmpfs" => {
            ctx.note(&format!("{here} (type tmpfs: use the service's tmpfs key)"));
            return Ok((None, None));
        }
        other => bail!("{here}: volume type '{other}' is not supported"),
    };
    let mount = json!({"sourceVolume": name, "containerPath": target, "readOnly": read_only});
    Ok((Some(mount), Some((name, volume))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::locate;

    #[test]
    fn sizes_durations_words() {
        let s = |x: &str| Value::String(x.into());
        assert_eq!(mib(&s("512m"), "x").unwrap(), 512);
        assert_eq!(mib(&s("1g"), "x").unwrap(), 1024);
        assert_eq!(mib(&s("1.5GB"), "x").unwrap(), 1536);
        assert_eq!(mib(&Value::from(1048577), "x").unwrap(), 2);
        assert!(mib(&s("12q"), "x").is_err());
        assert_eq!(seconds(&s("1m30s"), "x").unwrap(), 90.0);
        assert_eq!(seconds(&s("500ms"), "x").unwrap(), 0.5);
        assert!(seconds(&s("5 minutes"), "x").is_err());
        assert_eq!(
            shell_words(r#"sh -c 'echo "hi there"' x\ y"#).unwrap(),
            vec!["sh", "-c", "echo \"hi there\"", "x y"]
        );
        assert!(shell_words("a 'b").is_none());
        assert_eq!(cpu_units(&s("0.5"), "x").unwrap(), 512);
    }

    #[test]
    fn locates_keys_in_the_text() {
        let text = "services:\n  web:\n    image: x\n    networks: [a]\n  db:\n    networks: [b]\n".to_string();
        let sources = vec![(PathBuf::from("c.yml"), text)];
        assert_eq!(locate(&sources, "services.web.networks").as_deref(), Some("c.yml:4"));
        assert_eq!(locate(&sources, "services.db.networks").as_deref(), Some("c.yml:6"));
        assert_eq!(locate(&sources, "services.web.ports"), None);
        assert_eq!(locate(&sources, "networks"), None, "only a top-level key matches a top-level path");
    }
}
