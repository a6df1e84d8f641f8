//! Manifest parsing and validation: OCI image manifests and indexes, Docker schema 2
//! manifests and manifest lists. What a manifest references is checked against the
//! repository by the caller; this module only reads the document.

use serde_json::Value;

use crate::{digest::Digest, error::DistError};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const KNOWN: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// Largest manifest accepted (the OCI spec asks registries to take at least 4 MiB).
pub const MAX_MANIFEST: usize = 4 << 20;

/// A content descriptor: what a manifest points at.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: Option<Value>,
    /// A foreign layer fetched from its URLs, never from the registry.
    pub foreign: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub media_type: String,
    pub artifact_type: Option<String>,
    /// Blobs the manifest needs in the repository (config and non-foreign layers).
    pub blobs: Vec<Descriptor>,
    /// Manifests an index lists.
    pub children: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub annotations: Option<Value>,
    /// Bytes of what it references: config plus layers, or an index's entries.
    pub size: u64,
}

impl Parsed {
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_LIST
    }
}

/// The media type without parameters (`; charset=…`).
pub fn bare_media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// Parses a pushed manifest; `content_type` is the request's Content-Type.
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Parsed, DistError> {
    if bytes.len() > MAX_MANIFEST {
        return Err(DistError::new(
            413,
            "MANIFEST_INVALID",
            format!("manifest is {} bytes; the limit is {MAX_MANIFEST}", bytes.len()),
        ));
    }
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| DistError::manifest_invalid(format!("manifest is not JSON: {e}")))?;
    let obj = doc.as_object().ok_or_else(|| DistError::manifest_invalid("manifest must be a JSON object"))?;
    if obj.get("schemaVersion").and_then(Value::as_i64) != Some(2) {
        return Err(DistError::manifest_invalid(
            "manifest schemaVersion must be 2 (schema 1 manifests are not supported)",
        ));
    }
    let declared = match obj.get("mediaType") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(DistError::manifest_invalid("mediaType must be a string")),
    };
    let header = content_type.map(bare_media_type).filter(|t| KNOWN.contains(t));
    let media_type = match (header, declared) {
        (Some(h), Some(d)) if h != d => {
            return Err(DistError::manifest_invalid(format!(
                "Content-Type {h} does not match the manifest's mediaType {d}"
            )))
        }
        (Some(h), _) => h,
        (None, Some(d)) => d,
        (None, None) if obj.contains_key("manifests") => OCI_INDEX,
        (None, None) if obj.contains_key("config") => OCI_MANIFEST,
        (None, None) => return Err(DistError::manifest_invalid("cannot tell the manifest's media type")),
    };
    if !KNOWN.contains(&media_type) {
        return Err(DistError::manifest_invalid(format!(
            "unsupported manifest media type '{media_type}'; berth stores {}",
            KNOWN.join(", ")
        )));
    }
    let subject = obj.get("subject").map(|s| descriptor(s, "subject")).transpose()?;
    let annotations = obj.get("annotations").cloned();
    let artifact_type = obj.get("artifactType").and_then(Value::as_str).map(str::to_string);
    if media_type == OCI_INDEX || media_type == DOCKER_LIST {
        let list = obj
            .get("manifests")
            .and_then(Value::as_array)
            .ok_or_else(|| DistError::manifest_invalid("an index needs a 'manifests' array"))?;
        let children = list
            .iter()
            .enumerate()
            .map(|(i, d)| descriptor(d, &format!("manifests[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let size = children.iter().map(|d| d.size).sum();
        return Ok(Parsed {
            media_type: media_type.to_string(),
            artifact_type,
            blobs: Vec::new(),
            children,
            subject,
            annotations,
            size,
        });
    }
    let config = descriptor(
        obj.get("config").ok_or_else(|| DistError::manifest_invalid("an image manifest needs a 'config'"))?,
        "config",
    )?;
    let layers = match obj.get("layers") {
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, d)| descriptor(d, &format!("layers[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        None if media_type == OCI_MANIFEST => Vec::new(),
        _ => return Err(DistError::manifest_invalid("an image manifest needs a 'layers' array")),
    };
    let size = config.size + layers.iter().map(|d| d.size).sum::<u64>();
    let artifact_type = artifact_type.or_else(|| Some(config.media_type.clone()));
    let mut blobs = vec![config];
    blobs.extend(layers.into_iter().filter(|l| !l.foreign));
    Ok(Parsed {
        media_type: media_type.to_string(),
        artifact_type,
        blobs,
        children: Vec::new(),
        subject,
        annotations,
        size,
    })
}

fn descriptor(v: &Value, at: &str) -> Result<Descriptor, DistError> {
    let obj = v.as_object().ok_or_else(|| DistError::manifest_invalid(format!("{at} must be a descriptor object")))?;
    let media_type = obj
        .get("mediaType")
        .and_then(Value::as_str)
        .ok_or_else(|| DistError::manifest_invalid(format!("{at}.mediaType is missing")))?
        .to_string();
    let raw = obj
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| DistError::manifest_invalid(format!("{at}.digest is missing")))?;
    let digest = Digest::parse(raw)
        .ok_or_else(|| DistError::digest_invalid(format!("{at}.digest '{raw}' is not a sha256 digest")))?;
    let size = obj
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| DistError::manifest_invalid(format!("{at}.size must be a non-negative integer")))?;
    let has_urls = obj.get("urls").and_then(Value::as_array).is_some_and(|u| !u.is_empty());
    Ok(Descriptor {
        foreign: has_urls && media_type.contains("foreign"),
        media_type,
        digest,
        size,
        artifact_type: obj.get("artifactType").and_then(Value::as_str).map(str::to_string),
        annotations: obj.get("annotations").cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        Digest::of(&[n]).to_string()
    }

    #[test]
    fn reads_an_oci_image_manifest() {
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(1), "size": 10},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d(2), "size": 32}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": d(3), "size": 5}
        });
        let p = parse(m.to_string().as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(p.media_type, OCI_MANIFEST);
        assert_eq!(p.size, 42);
        assert_eq!(p.blobs.iter().map(|b| b.digest.to_string()).collect::<Vec<_>>(), vec![d(1), d(2)]);
        assert_eq!(p.subject.unwrap().digest.to_string(), d(3));
        assert_eq!(p.artifact_type.as_deref(), Some("application/vnd.oci.image.config.v1+json"));
    }

    #[test]
    fn infers_the_type_and_reads_an_index() {
        let m = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST, "digest": d(1), "size": 7}]});
        let p = parse(m.to_string().as_bytes(), None).unwrap();
        assert!(p.is_index());
        assert_eq!(p.children.len(), 1);
    }

    #[test]
    fn refusals() {
        let code = |body: &str, ct: Option<&str>| parse(body.as_bytes(), ct).unwrap_err().code;
        assert_eq!(code("not json", None), "MANIFEST_INVALID");
        assert_eq!(code(r#"{"schemaVersion":1}"#, None), "MANIFEST_INVALID");
        let conflicting = format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{}},"layers":[]}}"#);
        assert_eq!(code(&conflicting, Some(OCI_MANIFEST)), "MANIFEST_INVALID");
        let bad_digest =
            r#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:nothex","size":1},"layers":[]}"#;
        assert_eq!(code(bad_digest, Some(OCI_MANIFEST)), "DIGEST_INVALID");
        let big = format!(r#"{{"schemaVersion":2,"pad":"{}"}}"#, "x".repeat(MAX_MANIFEST));
        assert_eq!(parse(big.as_bytes(), None).unwrap_err().status, 413);
        assert_eq!(code(r#"{"schemaVersion":2,"mediaType":"application/x-other"}"#, None), "MANIFEST_INVALID");
    }
}
