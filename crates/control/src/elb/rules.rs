//! CreateRule, DescribeRules, ModifyRule, DeleteRule and SetRulePriorities. Each listener
//! also has a default rule (its default actions), described with `IsDefault` and
//! priority `default`.

use std::sync::Arc;

use berth_model::elb::{
    error::required,
    requests::{
        CreateRuleRequest, DescribeRulesRequest, Empty, ModifyRuleRequest, RuleArnRequest, RulesResult,
        SetRulePrioritiesRequest,
    },
    validate, ElbError, Listener, Rule, RuleCondition,
};

use super::{
    common::{self, page, random_hex},
    listeners::{check_actions, normalized},
    state::{ElbChange, ElbState, RuleRecord, RULE},
    tags,
};
use crate::{state::Change, Caller, Control};

const MAX_RULES: usize = 100;

/// A rule ARN under `listener_arn` with id `id`.
fn rule_arn(listener_arn: &str, id: &str) -> String {
    format!("{}/{id}", listener_arn.replacen(":listener/", ":listener-rule/", 1))
}

/// The listener's default rule, as described.
fn default_rule(l: &Listener) -> Rule {
    let id = l.listener_arn.rsplit('/').next().unwrap_or("");
    Rule {
        rule_arn: rule_arn(&l.listener_arn, &format!("{id}d")),
        priority: "default".into(),
        conditions: Vec::new(),
        actions: l.default_actions.clone(),
        is_default: true,
    }
}

/// The listener whose default rule `arn` is.
fn default_rule_owner<'a>(elb: &'a ElbState, arn: &str) -> Option<&'a Arc<Listener>> {
    elb.listeners.values().find(|l| default_rule(l).rule_arn == arn)
}

fn check_conditions(conditions: &[RuleCondition]) -> Result<(), ElbError> {
    if conditions.is_empty() {
        return Err(ElbError::validation("A rule must have at least one condition"));
    }
    let mut values = 0;
    for c in conditions {
        let field = c.field.as_deref().ok_or_else(|| ElbError::missing_parameter("Field"))?;
        if !matches!(field, "path-pattern" | "host-header") {
            return Err(ElbError::validation(format!(
                "Condition field '{field}' is not supported by berth; use path-pattern or host-header"
            )));
        }
        let patterns = c.patterns();
        if patterns.is_empty() {
            return Err(ElbError::validation(format!("A '{field}' condition must have at least one value")));
        }
        for p in patterns {
            if p.is_empty() || p.len() > 128 {
                return Err(ElbError::validation(format!("Condition value '{p}' must be 1 to 128 characters")));
            }
        }
        values += patterns.len();
    }
    if values > 5 {
        return Err(ElbError::validation("A rule can have at most 5 condition values"));
    }
    Ok(())
}

/// The rules of a listener in evaluation order, the default rule last.
pub fn ordered_rules(elb: &ElbState, listener: &Listener) -> Vec<Rule> {
    let mut rules: Vec<Rule> = elb.rules_of(&listener.listener_arn).map(|r| r.rule.clone()).collect();
    rules.sort_by_key(|r| r.priority.parse::<i64>().unwrap_or(i64::MAX));
    rules.push(default_rule(listener));
    rules
}

impl Control {
    pub async fn create_rule(&self, caller: &Caller, req: CreateRuleRequest) -> Result<RulesResult, ElbError> {
        let listener_arn = required(&req.listener_arn, "ListenerArn")?.clone();
        let conditions = required(&req.conditions, "Conditions")?.clone();
        let priority = *required(&req.priority, "Priority")?;
        let actions = required(&req.actions, "Actions")?.clone();
        validate::priority(priority)?;
        check_conditions(&conditions)?;
        let tags = tags::checked(&req.tags)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            let listener = elb.listeners.get(&listener_arn).ok_or_else(ElbError::listener_not_found)?;
            if listener.protocol != berth_model::elb::Protocol::Http {
                return Err(ElbError::invalid_configuration("Rules can only be added to HTTP listeners"));
            }
            check_actions(elb, listener.protocol, &actions)?;
            if elb.rules_of(&listener_arn).any(|r| r.rule.priority == priority.to_string()) {
                return Err(ElbError::priority_in_use(priority));
            }
            if elb.rules_of(&listener_arn).count() >= MAX_RULES {
                return Err(ElbError {
                    code: "TooManyRules",
                    message: format!("A listener can have at most {MAX_RULES} rules"),
                    status: 400,
                });
            }
            let rule = Rule {
                rule_arn: rule_arn(&listener_arn, &random_hex(16)),
                priority: priority.to_string(),
                conditions,
                actions: normalized(actions),
                is_default: false,
            };
            let record = RuleRecord { listener_arn, rule: rule.clone() };
            changes.push(Change::Elb { region: caller.region.clone(), change: ElbChange::Rule(Arc::new(record)) });
            tags::put(changes, &caller.region, &rule.rule_arn, tags);
            Ok(RulesResult { rules: vec![rule], next_marker: None })
        })
        .await
    }

    pub fn describe_rules(&self, caller: &Caller, req: DescribeRulesRequest) -> Result<RulesResult, ElbError> {
        if req.listener_arn.is_none() && req.rule_arns.is_empty() {
            return Err(ElbError::validation("A listener ARN or rule ARNs must be specified"));
        }
        self.read(|state| {
            let elb = &state.region(&caller.region).elb;
            let found = if let Some(l) = &req.listener_arn {
                let listener = elb.listeners.get(l).ok_or_else(ElbError::listener_not_found)?;
                ordered_rules(elb, listener)
            } else {
                req.rule_arns
                    .iter()
                    .map(|a| match elb.rules.get(a) {
                        Some(r) => Ok(r.rule.clone()),
                        None => {
                            default_rule_owner(elb, a).map(|l| default_rule(l)).ok_or_else(ElbError::rule_not_found)
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            let (rules, next_marker) = page(found, req.marker.as_deref(), req.page_size)?;
            Ok(RulesResult { rules, next_marker })
        })
    }

    pub async fn modify_rule(&self, caller: &Caller, req: ModifyRuleRequest) -> Result<RulesResult, ElbError> {
        let arn = required(&req.rule_arn, "RuleArn")?.clone();
        if let Some(c) = &req.conditions {
            check_conditions(c)?;
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            let region = caller.region.clone();
            if let Some(listener) = default_rule_owner(elb, &arn) {
                if req.conditions.is_some() {
                    return Err(ElbError::operation_not_permitted(
                        "The conditions of a default rule cannot be modified",
                    ));
                }
                let mut listener = listener.as_ref().clone();
                if let Some(actions) = req.actions {
                    check_actions(elb, listener.protocol, &actions)?;
                    listener.default_actions = normalized(actions);
                }
                let rule = default_rule(&listener);
                changes.push(Change::Elb { region, change: ElbChange::Listener(Arc::new(listener)) });
                return Ok(RulesResult { rules: vec![rule], next_marker: None });
            }
            let old = elb.rules.get(&arn).ok_or_else(ElbError::rule_not_found)?;
            let listener = elb.listeners.get(&old.listener_arn).ok_or_else(ElbError::listener_not_found)?;
            let mut record = old.as_ref().clone();
            if let Some(c) = req.conditions {
                record.rule.conditions = c;
            }
            if let Some(actions) = req.actions {
                check_actions(elb, listener.protocol, &actions)?;
                record.rule.actions = normalized(actions);
            }
            let rule = record.rule.clone();
            changes.push(Change::Elb { region, change: ElbChange::Rule(Arc::new(record)) });
            Ok(RulesResult { rules: vec![rule], next_marker: None })
        })
        .await
    }

    pub async fn delete_rule(&self, caller: &Caller, req: RuleArnRequest) -> Result<Empty, ElbError> {
        let arn = required(&req.rule_arn, "RuleArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            if default_rule_owner(elb, &arn).is_some() {
                return Err(ElbError::operation_not_permitted("A default rule cannot be deleted"));
            }
            if !elb.rules.contains_key(&arn) {
                return Err(ElbError::rule_not_found());
            }
            changes.push(common::delete(&caller.region, RULE, &arn));
            tags::put(changes, &caller.region, &arn, Vec::new());
            Ok(Empty {})
        })
        .await
    }

    pub async fn set_rule_priorities(
        &self,
        caller: &Caller,
        req: SetRulePrioritiesRequest,
    ) -> Result<RulesResult, ElbError> {
        let pairs = required(&req.rule_priorities, "RulePriorities")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            let mut updated: Vec<RuleRecord> = Vec::new();
            for p in &pairs {
                let arn = required(&p.rule_arn, "RuleArn")?;
                let priority = *required(&p.priority, "Priority")?;
                validate::priority(priority)?;
                if default_rule_owner(elb, arn).is_some() {
                    return Err(ElbError::operation_not_permitted("The priority of a default rule cannot be changed"));
                }
                let mut r = elb.rules.get(arn).ok_or_else(ElbError::rule_not_found)?.as_ref().clone();
                r.rule.priority = priority.to_string();
                updated.push(r);
            }
            // The arrangement after the change may not give two rules of a listener one priority.
            for r in &updated {
                let clash = elb
                    .rules_of(&r.listener_arn)
                    .filter(|o| !updated.iter().any(|u| u.rule.rule_arn == o.rule.rule_arn))
                    .map(|o| &o.rule)
                    .chain(
                        updated
                            .iter()
                            .filter(|u| u.listener_arn == r.listener_arn && u.rule.rule_arn != r.rule.rule_arn)
                            .map(|u| &u.rule),
                    )
                    .any(|o| o.priority == r.rule.priority);
                if clash {
                    return Err(ElbError::priority_in_use(r.rule.priority.parse().unwrap_or(0)));
                }
            }
            let rules = updated.iter().map(|r| r.rule.clone()).collect();
            for r in updated {
                changes.push(Change::Elb { region: caller.region.clone(), change: ElbChange::Rule(Arc::new(r)) });
            }
            Ok(RulesResult { rules, next_marker: None })
        })
        .await
    }
}
