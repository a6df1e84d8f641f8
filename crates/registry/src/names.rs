//! Repository names and image tags, validated as ECR and the OCI distribution spec do.

/// ECR's repository-name rule: 2 to 256 characters; path components of lowercase letters
/// and digits separated by `/`, each component's runs joined by `.`, `_`, `__` or `-`s.
pub fn valid_repository_name(name: &str) -> bool {
    if !(2..=256).contains(&name.len()) {
        return false;
    }
    name.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// The OCI tag rule: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

pub const REPOSITORY_NAME_RULE: &str = "must be 2 to 256 characters of lowercase letters, digits and the separators '.', '_', '__', '-' and '/', starting and ending each path component with a letter or digit";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for ok in ["web", "team/web", "a1", "my-app", "my--app", "a_b", "a__b", "a.b/c-d/e"] {
            assert!(valid_repository_name(ok), "{ok}");
        }
        for bad in ["a", "Web", "-web", "web-", "a___b", "a._b", "team//web", "/web", "web/", "a..b", "../x", "a b"] {
            assert!(!valid_repository_name(bad), "{bad}");
        }
        assert!(!valid_repository_name(&"a".repeat(257)));
    }

    #[test]
    fn tags() {
        for ok in ["latest", "1.0", "v1_2-rc.3", "_x", "A"] {
            assert!(valid_tag(ok), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"a".repeat(129)] {
            assert!(!valid_tag(bad), "{bad}");
        }
    }
}
