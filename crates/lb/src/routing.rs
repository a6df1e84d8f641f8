//! Which rule of a listener a request matches: path patterns and host headers with ELB's
//! wildcards (`*` any run of characters, `?` one), then the action's target group, chosen
//! by weight.

use berth_model::elb::plane::{ActionPlan, ConditionPlan, RulePlan};

/// Whether `text` matches `pattern` with `*` and `?` wildcards.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn condition_matches(c: &ConditionPlan, host: &str, path: &str) -> bool {
    match c {
        ConditionPlan::PathPattern(patterns) => patterns.iter().any(|p| wildcard(p, path)),
        ConditionPlan::HostHeader(patterns) => {
            let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host).to_ascii_lowercase();
            patterns.iter().any(|p| wildcard(&p.to_ascii_lowercase(), &host))
        }
    }
}

/// The first rule whose conditions all match (the default rule, last, has none).
pub fn matching<'a>(rules: &'a [RulePlan], host: &str, path: &str) -> Option<&'a RulePlan> {
    rules.iter().find(|r| r.conditions.iter().all(|c| condition_matches(c, host, path)))
}

/// A target group of a forward action, by weight (`roll` in 0..1).
pub fn weighted(groups: &[(String, u32)], roll: f64) -> Option<&str> {
    let total: u32 = groups.iter().map(|(_, w)| *w).sum();
    if total == 0 {
        return groups.first().map(|(g, _)| g.as_str());
    }
    let mut point = roll * total as f64;
    for (g, w) in groups {
        if point < *w as f64 {
            return Some(g);
        }
        point -= *w as f64;
    }
    groups.iter().rev().find(|(_, w)| *w > 0).map(|(g, _)| g.as_str())
}

/// A redirect's Location, with ELB's `#{…}` placeholders filled in.
pub fn redirect_location(
    a: &ActionPlan,
    protocol: &str,
    host: &str,
    port: u16,
    path: &str,
    query: &str,
) -> Option<String> {
    let ActionPlan::Redirect { protocol: p, host: h, port: po, path: pa, query: q, .. } = a else { return None };
    let host_only = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    let fill = |s: &str| {
        s.replace("#{protocol}", &protocol.to_ascii_lowercase())
            .replace("#{host}", host_only)
            .replace("#{port}", &port.to_string())
            .replace("#{path}", path.trim_start_matches('/'))
            .replace("#{query}", query)
    };
    let (scheme, host, port, path, query) = (fill(p).to_ascii_lowercase(), fill(h), fill(po), fill(pa), fill(q));
    let default_port = (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
    let authority = if default_port { host } else { format!("{host}:{port}") };
    let query = if query.is_empty() { String::new() } else { format!("?{query}") };
    Some(format!("{scheme}://{authority}{path}{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_elb_documents() {
        assert!(wildcard("/api/*", "/api/users/7"));
        assert!(!wildcard("/api/*", "/apis"));
        assert!(wildcard("/img/*.png", "/img/a/b.png"));
        assert!(wildcard("/v?/x", "/v2/x"));
        assert!(!wildcard("/v?/x", "/v10/x"));
        assert!(wildcard("*", ""));
        assert!(wildcard("*.example.com", "api.example.com"));
    }

    #[test]
    fn the_first_matching_rule_wins_and_the_default_catches_the_rest() {
        let fixed = |s: u16| ActionPlan::FixedResponse { status: s, content_type: None, body: String::new() };
        let rules = vec![
            RulePlan { conditions: vec![ConditionPlan::PathPattern(vec!["/api/*".into()])], action: fixed(201) },
            RulePlan { conditions: vec![ConditionPlan::HostHeader(vec!["admin.*".into()])], action: fixed(202) },
            RulePlan { conditions: vec![], action: fixed(200) },
        ];
        let status = |host: &str, path: &str| match &matching(&rules, host, path).unwrap().action {
            ActionPlan::FixedResponse { status, .. } => *status,
            _ => 0,
        };
        assert_eq!(status("a.example:8000", "/api/x"), 201);
        assert_eq!(status("ADMIN.example:8000", "/"), 202);
        assert_eq!(status("a.example", "/"), 200);
    }

    #[test]
    fn weights_split_the_range() {
        let groups = vec![("a".to_string(), 1), ("b".to_string(), 3)];
        assert_eq!(weighted(&groups, 0.1), Some("a"));
        assert_eq!(weighted(&groups, 0.3), Some("b"));
        assert_eq!(weighted(&groups, 0.99), Some("b"));
        let off = vec![("a".to_string(), 0), ("b".to_string(), 5)];
        assert_eq!(weighted(&off, 0.0), Some("b"));
    }

    #[test]
    fn redirects_fill_placeholders() {
        let a = ActionPlan::Redirect {
            protocol: "#{protocol}".into(),
            host: "#{host}".into(),
            port: "8443".into(),
            path: "/new/#{path}".into(),
            query: "#{query}".into(),
            status: 301,
        };
        assert_eq!(
            redirect_location(&a, "HTTP", "h.example:8000", 8000, "/old", "a=1").unwrap(),
            "http://h.example:8443/new/old?a=1"
        );
    }
}
