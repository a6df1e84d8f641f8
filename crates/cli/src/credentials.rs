//! The credential `berth server` checks signatures against: `DATA_DIR/credentials`, an AWS
//! shared-credentials file with a `[berth]` profile, created with random keys on first
//! start and reused after.

use std::{fs, io::Write, path::Path};

use anyhow::{bail, Context};
use berth_api::sigv4::Credential;
use rand::{distributions::Alphanumeric, Rng};

pub const PROFILE: &str = "berth";

/// Reads the `[berth]` profile of `path`, creating the file first if it does not exist.
pub fn load_or_create(path: &Path) -> anyhow::Result<Credential> {
    if path.exists() {
        return load_existing(path);
    }
    let mut rng = rand::thread_rng();
    let key_id: String = (0..16).map(|_| rng.sample(Alphanumeric).to_ascii_uppercase() as char).collect();
    let secret: String = (0..40).map(|_| rng.sample(Alphanumeric) as char).collect();
    let credential = Credential { access_key_id: format!("AKIA{key_id}"), secret_access_key: secret };
    let text = format!(
        "[{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        credential.access_key_id, credential.secret_access_key
    );
    write_private(path, &text)?;
    Ok(credential)
}

/// Reads the `[berth]` profile of an existing credentials file.
pub fn load_existing(path: &Path) -> anyhow::Result<Credential> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("{} has no usable [{PROFILE}] profile", path.display()))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn parse(text: &str) -> anyhow::Result<Credential> {
    parse_profile(text, PROFILE)
}

/// The credential of `profile` in an AWS shared-credentials file.
fn parse_profile(text: &str, profile: &str) -> anyhow::Result<Credential> {
    let mut in_profile = false;
    let (mut id, mut secret) = (None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_profile = line == format!("[{profile}]");
        } else if in_profile {
            if let Some((k, v)) = line.split_once('=') {
                match k.trim() {
                    "aws_access_key_id" => id = Some(v.trim().to_string()),
                    "aws_secret_access_key" => secret = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
    }
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key))
            if !access_key_id.is_empty() && !secret_access_key.is_empty() =>
        {
            Ok(Credential { access_key_id, secret_access_key })
        }
        _ => bail!("aws_access_key_id and aws_secret_access_key are required"),
    }
}

/// Credentials as the AWS tools find them: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
/// else the profile `AWS_PROFILE` (default `default`) of `AWS_SHARED_CREDENTIALS_FILE`
/// (default `~/.aws/credentials`).
pub fn from_environment() -> anyhow::Result<Credential> {
    if let (Ok(access_key_id), Ok(secret_access_key)) =
        (std::env::var("AWS_ACCESS_KEY_ID"), std::env::var("AWS_SECRET_ACCESS_KEY"))
    {
        return Ok(Credential { access_key_id, secret_access_key });
    }
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let path = match std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".aws/credentials"),
    };
    let text = fs::read_to_string(&path)
        .with_context(|| format!("no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and cannot read {}", path.display()))?;
    parse_profile(&text, &profile).with_context(|| format!("profile [{profile}] of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        let first = load_or_create(&path).unwrap();
        assert!(first.access_key_id.starts_with("AKIA") && first.access_key_id.len() == 20);
        assert_eq!(first.secret_access_key.len(), 40);
        assert_eq!(load_or_create(&path).unwrap(), first);
    }

    #[test]
    fn reads_only_the_berth_profile() {
        let text = "[other]\naws_access_key_id = X\n[berth]\naws_access_key_id = A\naws_secret_access_key = S\n";
        assert_eq!(parse(text).unwrap(), Credential { access_key_id: "A".into(), secret_access_key: "S".into() });
        assert!(parse("[other]\naws_access_key_id = X\n").is_err());
    }
}
