//! `*` wildcards as AWS uses them in ECR lifecycle tag patterns and CloudWatch Logs filter
//! patterns: `*` matches any run of characters; everything else matches itself.

pub fn matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards() {
        assert!(matches("prod*", "prod-1"));
        assert!(matches("*-rc*", "v1-rc2"));
        assert!(matches("a*b*c", "abc"));
        assert!(!matches("a*b*c", "acb"));
        assert!(!matches("ab*ba", "aba"));
        assert!(matches("a*c", "abc") && matches("a*", "a") && matches("*x*", "axb") && !matches("a*c", "ab"));
        assert!(matches("exact", "exact") && !matches("exact", "exactly"));
    }
}
