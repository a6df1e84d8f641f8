//! The registry's metadata: repositories, images, tags and blob links, kept in memory and
//! in berth's store (record kinds `ecr.*`). An [`Edit`] is one change; the same edits give
//! the same state whether applied live or replayed on load.

use std::{collections::BTreeMap, sync::Arc};

use berth_store::{Mutation, Record};
use serde::{Deserialize, Serialize};

pub const KIND_PREFIX: &str = berth_store::REGISTRY_KINDS;
const REPOSITORY: &str = "ecr.repository";
const IMAGE: &str = "ecr.image";
const TAG: &str = "ecr.tag";
const BLOB: &str = "ecr.blob";

/// ECR's resource tag (note the capitalised members).
pub use berth_model::ecr::Tag as EcrTag;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryRecord {
    pub name: String,
    pub arn: String,
    pub created_at: f64,
    pub image_tag_mutability: String,
    pub scan_on_push: bool,
    pub encryption_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    #[serde(default)]
    pub tags: Vec<EcrTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_evaluated_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_policy: Option<String>,
    /// The last lifecycle preview: the policy it ran and what it would expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<Preview>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub policy: String,
    pub expiring: Vec<(String, u32)>,
}

/// One image (a manifest) in a repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    pub digest: String,
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifest exactly as pushed.
    pub manifest: String,
    pub pushed_at: f64,
    pub size: u64,
    /// Blobs it references (config and layers).
    #[serde(default)]
    pub blobs: Vec<String>,
    /// Manifests it references (an index's entries).
    #[serde(default)]
    pub children: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Value>,
}

/// A blob present in a repository (uploaded or mounted there).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobLink {
    pub size: u64,
    pub linked_at: f64,
}

/// Repositories are addressed by (region, name).
pub type RepoKey = (String, String);

#[derive(Debug, Clone, Default)]
pub struct Repo {
    pub record: Arc<RepositoryRecord>,
    pub images: BTreeMap<String, Arc<ImageRecord>>,
    pub tags: BTreeMap<String, String>,
    pub blobs: BTreeMap<String, BlobLink>,
}

impl Default for RepositoryRecord {
    fn default() -> Self {
        RepositoryRecord {
            name: String::new(),
            arn: String::new(),
            created_at: 0.0,
            image_tag_mutability: "MUTABLE".into(),
            scan_on_push: false,
            encryption_type: "AES256".into(),
            kms_key: None,
            tags: Vec::new(),
            lifecycle_policy: None,
            lifecycle_evaluated_at: None,
            repository_policy: None,
            preview: None,
        }
    }
}

impl Repo {
    /// The tags pointing at `digest`, sorted.
    pub fn tags_of(&self, digest: &str) -> Vec<String> {
        self.tags.iter().filter(|(_, d)| d.as_str() == digest).map(|(t, _)| t.clone()).collect()
    }

    /// Whether an index in this repository lists `digest`.
    pub fn referenced_by_index(&self, digest: &str) -> bool {
        self.images.values().any(|i| i.children.iter().any(|c| c == digest))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub repos: BTreeMap<RepoKey, Repo>,
}

/// One change to the metadata.
#[derive(Debug, Clone)]
pub enum Edit {
    PutRepo {
        region: String,
        record: Arc<RepositoryRecord>,
    },
    /// Removes the repository with its images, tags and links.
    DeleteRepo {
        region: String,
        name: String,
    },
    PutImage {
        region: String,
        repo: String,
        image: Arc<ImageRecord>,
    },
    DeleteImage {
        region: String,
        repo: String,
        digest: String,
    },
    PutTag {
        region: String,
        repo: String,
        tag: String,
        digest: String,
    },
    DeleteTag {
        region: String,
        repo: String,
        tag: String,
    },
    PutBlob {
        region: String,
        repo: String,
        digest: String,
        link: BlobLink,
    },
    DeleteBlob {
        region: String,
        repo: String,
        digest: String,
    },
}

impl Meta {
    pub fn repo(&self, region: &str, name: &str) -> Option<&Repo> {
        self.repos.get(&(region.to_string(), name.to_string()))
    }

    fn repo_mut(&mut self, region: &str, name: &str) -> Option<&mut Repo> {
        self.repos.get_mut(&(region.to_string(), name.to_string()))
    }

    /// The repositories of one region, by name.
    pub fn repos_in<'a>(&'a self, region: &'a str) -> impl Iterator<Item = &'a Repo> + 'a {
        self.repos.iter().filter(move |((r, _), _)| r == region).map(|(_, repo)| repo)
    }

    pub fn apply(&mut self, edit: &Edit) {
        match edit {
            Edit::PutRepo { region, record } => {
                let repo = self.repos.entry((region.clone(), record.name.clone())).or_default();
                repo.record = record.clone();
            }
            Edit::DeleteRepo { region, name } => {
                self.repos.remove(&(region.clone(), name.clone()));
            }
            Edit::PutImage { region, repo, image } => {
                if let Some(r) = self.repo_mut(region, repo) {
                    r.images.insert(image.digest.clone(), image.clone());
                }
            }
            Edit::DeleteImage { region, repo, digest } => {
                if let Some(r) = self.repo_mut(region, repo) {
                    r.images.remove(digest);
                }
            }
            Edit::PutTag { region, repo, tag, digest } => {
                if let Some(r) = self.repo_mut(region, repo) {
                    r.tags.insert(tag.clone(), digest.clone());
                }
            }
            Edit::DeleteTag { region, repo, tag } => {
                if let Some(r) = self.repo_mut(region, repo) {
                    r.tags.remove(tag);
                }
            }
            Edit::PutBlob { region, repo, digest, link } => {
                if let Some(r) = self.repo_mut(region, repo) {
                    r.blobs.insert(digest.clone(), *link);
                }
            }
            Edit::DeleteBlob { region, repo, digest } => {
                if let Some(r) = self.repo_mut(region, repo) {
                    r.blobs.remove(digest);
                }
            }
        }
    }

    /// The store mutations for `edit`, given the state before it (a repository delete
    /// removes every record under it).
    pub fn mutations(&self, edit: &Edit) -> Vec<Mutation> {
        match edit {
            Edit::PutRepo { region, record } => {
                vec![Mutation::Put {
                    kind: REPOSITORY,
                    key: format!("{region}/{}", record.name),
                    value: json(&**record),
                }]
            }
            Edit::DeleteRepo { region, name } => {
                let mut out = vec![Mutation::Delete { kind: REPOSITORY, key: format!("{region}/{name}") }];
                if let Some(r) = self.repo(region, name) {
                    for d in r.images.keys() {
                        out.push(Mutation::Delete { kind: IMAGE, key: format!("{region}/{name}@{d}") });
                    }
                    for t in r.tags.keys() {
                        out.push(Mutation::Delete { kind: TAG, key: format!("{region}/{name}:{t}") });
                    }
                    for d in r.blobs.keys() {
                        out.push(Mutation::Delete { kind: BLOB, key: format!("{region}/{name}@{d}") });
                    }
                }
                out
            }
            Edit::PutImage { region, repo, image } => vec![Mutation::Put {
                kind: IMAGE,
                key: format!("{region}/{repo}@{}", image.digest),
                value: json(&**image),
            }],
            Edit::DeleteImage { region, repo, digest } => {
                vec![Mutation::Delete { kind: IMAGE, key: format!("{region}/{repo}@{digest}") }]
            }
            Edit::PutTag { region, repo, tag, digest } => {
                vec![Mutation::Put { kind: TAG, key: format!("{region}/{repo}:{tag}"), value: json(digest) }]
            }
            Edit::DeleteTag { region, repo, tag } => {
                vec![Mutation::Delete { kind: TAG, key: format!("{region}/{repo}:{tag}") }]
            }
            Edit::PutBlob { region, repo, digest, link } => {
                vec![Mutation::Put { kind: BLOB, key: format!("{region}/{repo}@{digest}"), value: json(link) }]
            }
            Edit::DeleteBlob { region, repo, digest } => {
                vec![Mutation::Delete { kind: BLOB, key: format!("{region}/{repo}@{digest}") }]
            }
        }
    }

    /// Rebuilds the metadata from the store's `ecr.*` records (repositories sort first:
    /// `ecr.blob` < `ecr.image` < `ecr.repository` < `ecr.tag`, so they are applied in two passes).
    pub fn from_records(records: &[Record]) -> Result<Meta, String> {
        let mut meta = Meta::default();
        let ours: Vec<&Record> =
            records.iter().filter(|r| berth_store::owner(&r.kind) == berth_store::Owner::Registry).collect();
        let err = |r: &Record, e: &dyn std::fmt::Display| format!("record {}/{}: {e}", r.kind, r.key);
        for r in ours.iter().filter(|r| r.kind == REPOSITORY) {
            let (region, _) = r.key.split_once('/').ok_or_else(|| err(r, &"key has no region"))?;
            let record: RepositoryRecord = serde_json::from_slice(&r.value).map_err(|e| err(r, &e))?;
            meta.apply(&Edit::PutRepo { region: region.to_string(), record: Arc::new(record) });
        }
        for r in ours.iter().filter(|r| r.kind != REPOSITORY) {
            let (region, rest) = r.key.split_once('/').ok_or_else(|| err(r, &"key has no region"))?;
            let region = region.to_string();
            let edit = match r.kind.as_str() {
                IMAGE => {
                    let (repo, _) = rest.split_once('@').ok_or_else(|| err(r, &"key has no digest"))?;
                    let image = serde_json::from_slice(&r.value).map_err(|e| err(r, &e))?;
                    Edit::PutImage { region, repo: repo.to_string(), image: Arc::new(image) }
                }
                TAG => {
                    let (repo, tag) = rest.split_once(':').ok_or_else(|| err(r, &"key has no tag"))?;
                    let digest = serde_json::from_slice(&r.value).map_err(|e| err(r, &e))?;
                    Edit::PutTag { region, repo: repo.to_string(), tag: tag.to_string(), digest }
                }
                BLOB => {
                    let (repo, digest) = rest.split_once('@').ok_or_else(|| err(r, &"key has no digest"))?;
                    let link = serde_json::from_slice(&r.value).map_err(|e| err(r, &e))?;
                    Edit::PutBlob { region, repo: repo.to_string(), digest: digest.to_string(), link }
                }
                other => return Err(format!("unknown registry record kind '{other}'")),
            };
            meta.apply(&edit);
        }
        Ok(meta)
    }
}

fn json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}
