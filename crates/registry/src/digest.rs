//! Content digests (`sha256:<64 lowercase hex>`), the only algorithm berth stores.

use std::fmt;

use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses a digest string; `None` when it is not `sha256:` and 64 lowercase hex digits.
    pub fn parse(s: &str) -> Option<Digest> {
        let hex = s.strip_prefix("sha256:")?;
        let ok = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Digest(s.to_string()))
    }

    /// Whether `s` looks like a digest of any algorithm (`alg:encoded`), which decides
    /// whether a manifest reference is a digest or a tag.
    pub fn looks_like(s: &str) -> bool {
        s.contains(':')
    }

    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    pub fn from_hasher(hasher: Sha256) -> Digest {
        Digest(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_sha256_lowercase_hex() {
        let d = Digest::of(b"hello");
        assert_eq!(d.as_str(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(Digest::parse(d.as_str()), Some(d.clone()));
        assert_eq!(Digest::parse(&d.as_str().to_uppercase()), None);
        assert_eq!(Digest::parse("sha256:abc"), None);
        assert_eq!(Digest::parse(&format!("sha512:{}", d.hex())), None);
        assert_eq!(Digest::parse("sha256:../../etc/passwd"), None);
    }
}
