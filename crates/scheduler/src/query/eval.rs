//! Evaluating an expression against one instance.

use std::cmp::Ordering;

use super::parser::{Expr, Op, Subject};

/// What the query language can ask about an instance.
pub trait Facts {
    /// `None`: no such attribute; `Some(None)`: present without a value.
    fn attribute(&self, name: &str) -> Option<Option<&str>>;
    fn ec2_instance_id(&self) -> &str;
    fn agent_connected(&self) -> bool;
    fn agent_version(&self) -> &str;
    /// Epoch seconds.
    fn registered_at(&self) -> f64;
    fn running_tasks_count(&self) -> i64;
    /// The task groups of the tasks on the instance.
    fn task_groups(&self) -> Vec<&str>;
}

/// Numbers compare as numbers, anything else as text.
fn compare_text(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    }
}

/// Dotted versions compare part by part, numerically where both parts are numbers.
fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| s.trim_start_matches('v').split(['.', '-']).map(String::from).collect::<Vec<_>>();
    let (pa, pb) = (parts(a), parts(b));
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).map(String::as_str).unwrap_or("0");
        let y = pb.get(i).map(String::as_str).unwrap_or("0");
        let o = compare_text(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn ordered(op: Op, o: Ordering) -> bool {
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        _ => false,
    }
}

/// A comparison of one present value.
fn compare_value(
    op: Op,
    actual: &str,
    values: &[String],
    regex: Option<&regex_lite::Regex>,
    cmp: fn(&str, &str) -> Ordering,
) -> bool {
    match op {
        Op::Exists => true,
        Op::NotExists => false,
        Op::In => values.iter().any(|v| cmp(actual, v) == Ordering::Equal),
        Op::NotIn => !values.iter().any(|v| cmp(actual, v) == Ordering::Equal),
        Op::Matches => regex.is_some_and(|r| r.is_match(actual)),
        Op::NotMatches => !regex.is_some_and(|r| r.is_match(actual)),
        _ => ordered(op, cmp(actual, &values[0])),
    }
}

impl Expr {
    /// Whether the instance described by `facts` satisfies the expression.
    pub fn matches(&self, facts: &dyn Facts) -> bool {
        match self {
            Expr::Not(e) => !e.matches(facts),
            Expr::And(a, b) => a.matches(facts) && b.matches(facts),
            Expr::Or(a, b) => a.matches(facts) || b.matches(facts),
            Expr::Compare { subject, op, values, regex } => {
                let op = *op;
                let regex = regex.as_ref();
                match subject {
                    Subject::Attribute(name) => match facts.attribute(name) {
                        // An absent attribute satisfies only the negative operators.
                        None => matches!(op, Op::NotExists | Op::Ne | Op::NotIn | Op::NotMatches),
                        Some(v) => compare_value(op, v.unwrap_or(""), values, regex, compare_text),
                    },
                    Subject::Ec2InstanceId => compare_value(op, facts.ec2_instance_id(), values, regex, compare_text),
                    Subject::AgentConnected => {
                        let v = if facts.agent_connected() { "true" } else { "false" };
                        compare_value(op, v, values, regex, |a, b| a.cmp(&b.to_ascii_lowercase()))
                    }
                    Subject::AgentVersion => compare_value(op, facts.agent_version(), values, regex, compare_versions),
                    Subject::RunningTasksCount => {
                        compare_value(op, &facts.running_tasks_count().to_string(), values, regex, compare_text)
                    }
                    Subject::RegisteredAt => {
                        let at = facts.registered_at();
                        let date_cmp = |v: &String| berth_model::time::parse_date(v).map(|d| at.total_cmp(&d));
                        match op {
                            Op::Exists => true,
                            Op::NotExists => false,
                            Op::In => values.iter().any(|v| date_cmp(v) == Some(Ordering::Equal)),
                            Op::NotIn => !values.iter().any(|v| date_cmp(v) == Some(Ordering::Equal)),
                            _ => values.first().and_then(date_cmp).is_some_and(|o| ordered(op, o)),
                        }
                    }
                    Subject::TaskGroup => {
                        let groups = facts.task_groups();
                        let any = |f: &dyn Fn(&str) -> bool| groups.iter().any(|g| f(g));
                        match op {
                            Op::Eq => any(&|g| g == values[0]),
                            Op::Ne => !any(&|g| g == values[0]),
                            Op::In => any(&|g| values.iter().any(|v| v == g)),
                            Op::NotIn => !any(&|g| values.iter().any(|v| v == g)),
                            Op::Matches => any(&|g| regex.is_some_and(|r| r.is_match(g))),
                            Op::NotMatches => !any(&|g| regex.is_some_and(|r| r.is_match(g))),
                            Op::Exists => !groups.is_empty(),
                            Op::NotExists => groups.is_empty(),
                            _ => false,
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    struct Instance {
        attributes: Vec<(&'static str, Option<&'static str>)>,
        groups: Vec<&'static str>,
        running: i64,
        connected: bool,
    }

    impl Facts for Instance {
        fn attribute(&self, name: &str) -> Option<Option<&str>> {
            self.attributes.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        }
        fn ec2_instance_id(&self) -> &str {
            "i-abcd1234"
        }
        fn agent_connected(&self) -> bool {
            self.connected
        }
        fn agent_version(&self) -> &str {
            "1.14.10"
        }
        fn registered_at(&self) -> f64 {
            berth_model::time::parse_date("2018-03-01").unwrap()
        }
        fn running_tasks_count(&self) -> i64 {
            self.running
        }
        fn task_groups(&self) -> Vec<&str> {
            self.groups.clone()
        }
    }

    fn t2() -> Instance {
        Instance {
            attributes: vec![
                ("ecs.instance-type", Some("t2.small")),
                ("ecs.availability-zone", Some("us-east-1a")),
                ("ecs.capability.x", None),
                ("weight", Some("10")),
            ],
            groups: vec!["service:production"],
            running: 1,
            connected: true,
        }
    }

    fn check(expr: &str) -> bool {
        parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}")).matches(&t2())
    }

    #[test]
    fn every_operator() {
        assert!(check("attribute:ecs.instance-type == t2.small"));
        assert!(check("attribute:ecs.instance-type equals t2.small"));
        assert!(!check("attribute:ecs.instance-type != t2.small"));
        assert!(check("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"));
        assert!(!check("attribute:ecs.availability-zone !in [us-east-1a, us-east-1b]"));
        assert!(check("attribute:ecs.availability-zone not_in [us-east-1c]"));
        assert!(check("attribute:ecs.instance-type =~ t2.*"));
        assert!(!check("attribute:ecs.instance-type =~ t2"), "a regular expression matches the whole value");
        assert!(check("attribute:ecs.instance-type !~ g2.*"));
        assert!(check("attribute:ecs.capability.x exists"));
        assert!(check("attribute:nope !exists"));
        assert!(check("attribute:nope not_exists"));
        assert!(!check("attribute:nope == x"));
        assert!(check("attribute:nope != x"));
        assert!(check("attribute:weight > 9") && check("attribute:weight >= 10") && !check("attribute:weight < 10"));
        assert!(check("attribute:weight <= 10") && check("attribute:weight greater_than 2"));
        assert!(check("runningTasksCount == 1") && check("runningTasksCount < 2"));
        assert!(check("agentVersion > 1.14.5"), "versions compare numerically part by part");
        assert!(check("agentConnected == true"));
        assert!(check("registeredAt < 2018-06-18T22:28:28+00:00") && check("registeredAt > 2018-02-13"));
        assert!(check("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']"));
        assert!(check("task:group == service:production") && !check("task:group == database"));
        assert!(check("not(task:group == database)"));
        assert!(check("task:group =~ service:.*"));
    }

    #[test]
    fn boolean_combinations() {
        assert!(check("attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d"));
        assert!(check("attribute:ecs.instance-type == m5.large or runningTasksCount == 1"));
        assert!(!check("attribute:ecs.instance-type == m5.large || runningTasksCount == 2"));
        assert!(check(
            "!(attribute:ecs.instance-type == m5.large) && (runningTasksCount == 1 or agentConnected == false)"
        ));
        // and binds tighter than or
        assert!(check("runningTasksCount == 1 or runningTasksCount == 5 and agentConnected == false"));
    }
}
