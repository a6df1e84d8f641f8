//! CloudWatch alarms and Application Auto Scaling's resources as stored, and how a
//! change to them applies to the state and the store.

use std::{collections::BTreeMap, sync::Arc};

use berth_model::{
    autoscaling::{ScalableTarget, ScalingActivity, ScalingPolicy, ScheduledAction},
    cloudwatch::{AlarmHistoryItem, MetricAlarm, StateValue},
};
use berth_store::{Mutation, Record};
use serde::{Deserialize, Serialize};

/// The most history items an alarm keeps (CloudWatch keeps two weeks of them).
pub const ALARM_HISTORY: usize = 100;
/// The most activities a scalable target keeps (AWS keeps six weeks of them).
pub const ACTIVITIES: usize = 100;

/// An alarm with its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmRecord {
    pub alarm: MetricAlarm,
    /// Newest first.
    pub history: Vec<AlarmHistoryItem>,
    /// When the actions of the current state last ran: Auto Scaling actions run again
    /// every period for as long as the state lasts, as CloudWatch invokes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_at: Option<f64>,
}

impl AlarmRecord {
    /// The actions of the alarm's current state.
    pub fn current_actions(&self) -> &[String] {
        let a = &self.alarm;
        match a.state_value {
            StateValue::Alarm => &a.alarm_actions,
            StateValue::Ok => &a.ok_actions,
            StateValue::InsufficientData => &a.insufficient_data_actions,
        }
    }

    /// Whether the current state's actions are due at `now`: never run in this state, or
    /// a period has passed since they last ran.
    pub fn actions_due(&self, now: f64) -> bool {
        let period = self.alarm.evaluation_period() as f64;
        self.alarm.actions_enabled
            && !self.current_actions().is_empty()
            && self.actions_at.is_none_or(|at| now >= at + period)
    }

    pub fn push_history(&mut self, item: AlarmHistoryItem) {
        self.history.insert(0, item);
        self.history.truncate(ALARM_HISTORY);
    }
}

/// A scalable target (by resource id: berth scales one dimension of one namespace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRecord {
    pub target: ScalableTarget,
}

/// A scaling policy and what its cooldowns remember.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRecord {
    pub policy: ScalingPolicy,
    /// The last scale-out: when, the desired count before it, and the one it set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_out: Option<(f64, i64, i64)>,
    /// When the last scale-in happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_in: Option<f64>,
}

/// A scheduled action and when it last ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledRecord {
    pub action: ScheduledAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<f64>,
}

/// One region's alarms and scaling resources.
#[derive(Debug, Clone, Default)]
pub struct MonitoringState {
    /// Alarms by name.
    pub alarms: BTreeMap<String, Arc<AlarmRecord>>,
    /// Scalable targets by resource id.
    pub targets: BTreeMap<String, Arc<TargetRecord>>,
    /// Policies by (resource id, name).
    pub policies: BTreeMap<(String, String), Arc<PolicyRecord>>,
    /// Scheduled actions by (resource id, name).
    pub scheduled: BTreeMap<(String, String), Arc<ScheduledRecord>>,
    /// Activities by resource id, newest first.
    pub activities: BTreeMap<String, Arc<Vec<ScalingActivity>>>,
}

impl MonitoringState {
    pub fn policies_of<'a>(&'a self, resource_id: &'a str) -> impl Iterator<Item = &'a Arc<PolicyRecord>> + 'a {
        self.policies
            .range((resource_id.to_string(), String::new())..)
            .take_while(move |((r, _), _)| r == resource_id)
            .map(|(_, p)| p)
    }

    pub fn scheduled_of<'a>(&'a self, resource_id: &'a str) -> impl Iterator<Item = &'a Arc<ScheduledRecord>> + 'a {
        self.scheduled
            .range((resource_id.to_string(), String::new())..)
            .take_while(move |((r, _), _)| r == resource_id)
            .map(|(_, s)| s)
    }

    pub fn policy_by_arn(&self, arn: &str) -> Option<&Arc<PolicyRecord>> {
        self.policies.values().find(|p| p.policy.policy_arn == arn)
    }
}

#[derive(Debug, Clone)]
pub enum MonitoringChange {
    Alarm(Arc<AlarmRecord>),
    DeleteAlarm(String),
    Target(Arc<TargetRecord>),
    DeleteTarget(String),
    Policy(Arc<PolicyRecord>),
    DeletePolicy {
        resource_id: String,
        name: String,
    },
    Scheduled(Arc<ScheduledRecord>),
    DeleteScheduled {
        resource_id: String,
        name: String,
    },
    /// A target's whole activity list; empty removes it.
    Activities {
        resource_id: String,
        activities: Arc<Vec<ScalingActivity>>,
    },
}

const ALARM: &str = "cw-alarm";
const TARGET: &str = "aas-target";
const POLICY: &str = "aas-policy";
const SCHEDULED: &str = "aas-scheduled";
const ACTIVITY: &str = "aas-activities";

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("state values always serialize")
}

impl MonitoringChange {
    pub fn apply(&self, m: &mut MonitoringState) {
        match self {
            MonitoringChange::Alarm(a) => drop(m.alarms.insert(a.alarm.alarm_name.clone(), a.clone())),
            MonitoringChange::DeleteAlarm(name) => drop(m.alarms.remove(name)),
            MonitoringChange::Target(t) => drop(m.targets.insert(t.target.resource_id.clone(), t.clone())),
            MonitoringChange::DeleteTarget(id) => drop(m.targets.remove(id)),
            MonitoringChange::Policy(p) => {
                drop(m.policies.insert((p.policy.resource_id.clone(), p.policy.policy_name.clone()), p.clone()))
            }
            MonitoringChange::DeletePolicy { resource_id, name } => {
                drop(m.policies.remove(&(resource_id.clone(), name.clone())))
            }
            MonitoringChange::Scheduled(s) => drop(
                m.scheduled.insert((s.action.resource_id.clone(), s.action.scheduled_action_name.clone()), s.clone()),
            ),
            MonitoringChange::DeleteScheduled { resource_id, name } => {
                drop(m.scheduled.remove(&(resource_id.clone(), name.clone())))
            }
            MonitoringChange::Activities { resource_id, activities } if activities.is_empty() => {
                drop(m.activities.remove(resource_id))
            }
            MonitoringChange::Activities { resource_id, activities } => {
                drop(m.activities.insert(resource_id.clone(), activities.clone()))
            }
        }
    }

    pub fn to_mutation(&self, region: &str) -> Mutation {
        let put = |kind, key: String, value| Mutation::Put { kind, key: format!("{region}/{key}"), value };
        let delete = |kind, key: String| Mutation::Delete { kind, key: format!("{region}/{key}") };
        // Names may hold '/', resource ids always do: a NUL separates the two parts.
        match self {
            MonitoringChange::Alarm(a) => put(ALARM, a.alarm.alarm_name.clone(), json(a)),
            MonitoringChange::DeleteAlarm(name) => delete(ALARM, name.clone()),
            MonitoringChange::Target(t) => put(TARGET, t.target.resource_id.clone(), json(t)),
            MonitoringChange::DeleteTarget(id) => delete(TARGET, id.clone()),
            MonitoringChange::Policy(p) => {
                put(POLICY, format!("{}\0{}", p.policy.resource_id, p.policy.policy_name), json(p))
            }
            MonitoringChange::DeletePolicy { resource_id, name } => delete(POLICY, format!("{resource_id}\0{name}")),
            MonitoringChange::Scheduled(s) => {
                put(SCHEDULED, format!("{}\0{}", s.action.resource_id, s.action.scheduled_action_name), json(s))
            }
            MonitoringChange::DeleteScheduled { resource_id, name } => {
                delete(SCHEDULED, format!("{resource_id}\0{name}"))
            }
            MonitoringChange::Activities { resource_id, activities } if activities.is_empty() => {
                delete(ACTIVITY, resource_id.clone())
            }
            MonitoringChange::Activities { resource_id, activities } => {
                put(ACTIVITY, resource_id.clone(), json(activities.as_ref()))
            }
        }
    }

    /// The change a stored record stands for, or `None` if the kind is not one of these.
    pub fn decode(r: &Record) -> Option<Result<MonitoringChange, serde_json::Error>> {
        let v = &r.value;
        Some(match r.kind.as_str() {
            ALARM => serde_json::from_slice(v).map(|x| MonitoringChange::Alarm(Arc::new(x))),
            TARGET => serde_json::from_slice(v).map(|x| MonitoringChange::Target(Arc::new(x))),
            POLICY => serde_json::from_slice(v).map(|x| MonitoringChange::Policy(Arc::new(x))),
            SCHEDULED => serde_json::from_slice(v).map(|x| MonitoringChange::Scheduled(Arc::new(x))),
            ACTIVITY => serde_json::from_slice::<Vec<ScalingActivity>>(v).map(|list| {
                let resource_id = list.first().map(|a| a.resource_id.clone()).unwrap_or_default();
                MonitoringChange::Activities { resource_id, activities: Arc::new(list) }
            }),
            _ => return None,
        })
    }
}
