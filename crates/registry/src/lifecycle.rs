//! Lifecycle policies: parsing with ECR's rules and evaluating which images expire.
//!
//! Rules run by ascending `rulePriority`. A rule selects images by tag status (and tag
//! prefixes or wildcard patterns: an image must match every entry of the list); an image
//! a rule selects is claimed by it, so a lower-priority rule never expires it. Within its
//! selection a rule expires images past a count (`imageCountMoreThan`, newest kept) or
//! older than a number of days (`sinceImagePushed`).

use serde::Deserialize;

use crate::error::EcrError;

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub priority: u32,
    pub tag_status: TagStatus,
    pub prefixes: Vec<String>,
    pub patterns: Vec<String>,
    pub count: Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagStatus {
    Tagged,
    Untagged,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Count {
    MoreThan(u64),
    OlderThanDays(u64),
}

/// What evaluation needs of an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRule {
    rule_priority: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    selection: Option<RawSelection>,
    action: Option<RawAction>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawSelection {
    tag_status: Option<String>,
    tag_prefix_list: Option<Vec<String>>,
    tag_pattern_list: Option<Vec<String>>,
    count_type: Option<String>,
    count_unit: Option<String>,
    count_number: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn invalid(msg: String) -> EcrError {
    EcrError::new(
        "InvalidParameterException",
        format!("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '{msg}'"),
    )
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, EcrError> {
        if text.len() < 100 || text.len() > 30720 {
            return Err(EcrError::invalid(format!(
                "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'Member must have length between 100 and 30720' (it has {}).",
                text.len()
            )));
        }
        let raw: RawPolicy =
            serde_json::from_str(text).map_err(|e| invalid(format!("Lifecycle policy is not valid: {e}")))?;
        if raw.rules.is_empty() {
            return Err(invalid("Lifecycle policy must have at least one rule".into()));
        }
        let mut rules = Vec::new();
        for (i, r) in raw.rules.into_iter().enumerate() {
            let at = format!("rules[{i}]");
            let _ = r.description;
            let priority = match r.rule_priority {
                Some(p) if p >= 1 && p <= i64::from(u32::MAX) => p as u32,
                _ => return Err(invalid(format!("{at}.rulePriority must be a positive integer"))),
            };
            if rules.iter().any(|x: &Rule| x.priority == priority) {
                return Err(invalid(format!("rulePriority {priority} is used by more than one rule")));
            }
            match r.action.and_then(|a| a.kind) {
                Some(k) if k == "expire" => {}
                _ => return Err(invalid(format!("{at}.action.type must be 'expire'"))),
            }
            let s = r.selection.ok_or_else(|| invalid(format!("{at}.selection is required")))?;
            let tag_status = match s.tag_status.as_deref() {
                Some("tagged") => TagStatus::Tagged,
                Some("untagged") => TagStatus::Untagged,
                Some("any") => TagStatus::Any,
                _ => return Err(invalid(format!("{at}.selection.tagStatus must be one of tagged, untagged, any"))),
            };
            let prefixes = s.tag_prefix_list.unwrap_or_default();
            let patterns = s.tag_pattern_list.unwrap_or_default();
            match tag_status {
                TagStatus::Tagged if prefixes.is_empty() == patterns.is_empty() => {
                    return Err(invalid(format!(
                        "{at}: a tagged rule needs exactly one of a non-empty tagPrefixList or tagPatternList"
                    )))
                }
                TagStatus::Untagged | TagStatus::Any if !prefixes.is_empty() || !patterns.is_empty() => {
                    return Err(invalid(format!("{at}: tag lists are only allowed with tagStatus 'tagged'")))
                }
                _ => {}
            }
            if let Some(p) = patterns.iter().find(|p| p.matches('*').count() > 4) {
                return Err(invalid(format!("{at}: tag pattern '{p}' has more than 4 wildcards")));
            }
            let number = match s.count_number {
                Some(n) if n >= 1 => n as u64,
                _ => return Err(invalid(format!("{at}.selection.countNumber must be a positive integer"))),
            };
            let count = match (s.count_type.as_deref(), s.count_unit.as_deref()) {
                (Some("imageCountMoreThan"), None) => Count::MoreThan(number),
                (Some("imageCountMoreThan"), Some(_)) => {
                    return Err(invalid(format!("{at}: countUnit is not allowed with imageCountMoreThan")))
                }
                (Some("sinceImagePushed"), Some("days")) => Count::OlderThanDays(number),
                (Some("sinceImagePushed"), _) => {
                    return Err(invalid(format!("{at}: sinceImagePushed needs countUnit 'days'")))
                }
                _ => {
                    return Err(invalid(format!(
                        "{at}.selection.countType must be imageCountMoreThan or sinceImagePushed"
                    )))
                }
            };
            rules.push(Rule { priority, tag_status, prefixes, patterns, count });
        }
        rules.sort_by_key(|r| r.priority);
        if rules.iter().filter(|r| r.tag_status == TagStatus::Untagged).count() > 1 {
            return Err(invalid("only one rule may select untagged images".into()));
        }
        if let Some(pos) = rules.iter().position(|r| r.tag_status == TagStatus::Any) {
            if pos != rules.len() - 1 {
                return Err(invalid("the rule with tagStatus 'any' must have the highest rulePriority".into()));
            }
        }
        Ok(Policy { rules })
    }

    /// The images to expire at `now` (epoch seconds), with the priority of the rule that
    /// expires each, newest rule order first.
    pub fn evaluate(&self, images: &[Candidate], now: f64) -> Vec<(String, u32)> {
        let mut claimed = vec![false; images.len()];
        let mut out = Vec::new();
        for rule in &self.rules {
            let mut selected: Vec<usize> =
                (0..images.len()).filter(|&i| !claimed[i] && rule.selects(&images[i])).collect();
            for &i in &selected {
                claimed[i] = true;
            }
            // Newest first; ties broken by digest so the outcome is deterministic.
            selected.sort_by(|&a, &b| {
                images[b]
                    .pushed_at
                    .total_cmp(&images[a].pushed_at)
                    .then_with(|| images[a].digest.cmp(&images[b].digest))
            });
            match rule.count {
                Count::MoreThan(n) => {
                    out.extend(selected.iter().skip(n as usize).map(|&i| (images[i].digest.clone(), rule.priority)))
                }
                Count::OlderThanDays(days) => {
                    let cutoff = now - days as f64 * 86_400.0;
                    out.extend(
                        selected
                            .iter()
                            .filter(|&&i| images[i].pushed_at < cutoff)
                            .map(|&i| (images[i].digest.clone(), rule.priority)),
                    )
                }
            }
        }
        out
    }
}

impl Rule {
    fn selects(&self, image: &Candidate) -> bool {
        match self.tag_status {
            TagStatus::Any => true,
            TagStatus::Untagged => image.tags.is_empty(),
            TagStatus::Tagged => {
                !image.tags.is_empty()
                    && self.prefixes.iter().all(|p| image.tags.iter().any(|t| t.starts_with(p.as_str())))
                    && self.patterns.iter().all(|p| image.tags.iter().any(|t| berth_model::wildcard::matches(p, t)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: serde_json::Value) -> Result<Policy, EcrError> {
        let text = serde_json::json!({ "rules": rules }).to_string();
        Policy::parse(&format!("{text}{}", " ".repeat(100usize.saturating_sub(text.len()))))
    }

    fn img(d: &str, tags: &[&str], pushed: f64) -> Candidate {
        Candidate { digest: d.into(), tags: tags.iter().map(|t| t.to_string()).collect(), pushed_at: pushed }
    }

    #[test]
    fn keeps_the_newest_tagged_and_expires_old_untagged() {
        let p = policy(serde_json::json!([
            {"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 2}, "action": {"type": "expire"}},
            {"rulePriority": 2, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1}, "action": {"type": "expire"}}
        ]))
        .unwrap();
        let day = 86_400.0;
        let images = [
            img("a", &["v1"], 1.0),
            img("b", &["v2"], 2.0),
            img("c", &["v3"], 3.0),
            img("d", &[], 0.0),
            img("e", &[], 2.0 * day),
            img("f", &["latest"], 0.0),
        ];
        let out = p.evaluate(&images, 2.5 * day);
        assert_eq!(out, vec![("a".to_string(), 1), ("d".to_string(), 2)]);
    }

    #[test]
    fn a_claimed_image_is_not_expired_by_a_lower_rule() {
        let p = policy(serde_json::json!([
            {"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPatternList": ["prod*"], "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}},
            {"rulePriority": 9, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}
        ]))
        .unwrap();
        let images =
            [img("p1", &["prod-1"], 1.0), img("p2", &["prod-2"], 2.0), img("x", &["dev"], 3.0), img("y", &[], 4.0)];
        assert_eq!(p.evaluate(&images, 10.0), vec![("x".to_string(), 9)]);
    }

    #[test]
    fn every_listed_prefix_must_match_some_tag() {
        let p = policy(serde_json::json!([
            {"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPrefixList": ["prod", "eu"], "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}
        ]))
        .unwrap();
        let images = [img("a", &["prod1", "eu1"], 1.0), img("b", &["prod2", "eu2"], 2.0), img("c", &["prod3"], 0.0)];
        assert_eq!(p.evaluate(&images, 10.0), vec![("a".to_string(), 1)]);
    }

    #[test]
    fn refuses_bad_policies() {
        let rule = |sel: serde_json::Value| serde_json::json!([{"rulePriority": 1, "selection": sel, "action": {"type": "expire"}}]);
        assert!(policy(rule(
            serde_json::json!({"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1})
        ))
        .is_err());
        assert!(policy(rule(
            serde_json::json!({"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 1})
        ))
        .is_err());
        assert!(policy(rule(
            serde_json::json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 0})
        ))
        .is_err());
        assert!(policy(rule(
            serde_json::json!({"tagStatus": "sometimes", "countType": "imageCountMoreThan", "countNumber": 1})
        ))
        .is_err());
        let any_first = serde_json::json!([
            {"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}},
            {"rulePriority": 2, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}
        ]);
        assert!(policy(any_first).is_err());
        let two_untagged = serde_json::json!([
            {"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}},
            {"rulePriority": 2, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1}, "action": {"type": "expire"}}
        ]);
        assert!(policy(two_untagged).is_err());
        assert!(Policy::parse("{}").is_err(), "shorter than 100 characters");
    }
}
