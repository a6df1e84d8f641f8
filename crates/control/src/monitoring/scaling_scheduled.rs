//! PutScheduledAction, DeleteScheduledAction, DescribeScheduledActions.

use std::sync::Arc;

use berth_model::{
    autoscaling::{
        required, AutoScalingError, DeleteScheduledActionRequest, DescribeScheduledActionsRequest,
        DescribeScheduledActionsResponse, Empty, PutScheduledActionRequest, ScheduledAction, ECS_DESIRED_COUNT,
        ECS_NAMESPACE,
    },
    time,
};

use super::{
    scaling::{check_namespace, not_registered, paginate, target_id},
    schedule, MonitoringChange, ScheduledRecord,
};
use crate::{state::Change, Caller, Control};

impl Control {
    /// PutScheduledAction: creates the action, or changes the members given.
    pub async fn put_scheduled_action(
        &self,
        caller: &Caller,
        req: PutScheduledActionRequest,
    ) -> Result<Empty, AutoScalingError> {
        let name = required(&req.scheduled_action_name, "ScheduledActionName")?.clone();
        if name.is_empty() || name.len() > 256 || name.contains(':') || name.contains('/') {
            return Err(AutoScalingError::validation(
                "ScheduledActionName must be 1 to 256 characters without ':' or '/'.",
            ));
        }
        let resource_id = target_id(&req.target)?;
        if let (Some(s), Some(e)) = (req.start_time, req.end_time) {
            if s >= e {
                return Err(AutoScalingError::validation("StartTime must be before EndTime."));
            }
        }
        if let Some(a) = req.scalable_target_action {
            if a.min_capacity.is_some_and(|m| m < 0) || a.max_capacity.is_some_and(|m| m < 0) {
                return Err(AutoScalingError::validation("ScalableTargetAction capacities must not be negative."));
            }
            if let (Some(min), Some(max)) = (a.min_capacity, a.max_capacity) {
                if min > max {
                    return Err(AutoScalingError::validation(format!(
                        "ScalableTargetAction's MinCapacity ({min}) cannot be greater than its MaxCapacity ({max})."
                    )));
                }
            }
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            if !region.monitoring.targets.contains_key(&resource_id) {
                return Err(not_registered(&resource_id));
            }
            let now = time::now();
            let existing = region.monitoring.scheduled.get(&(resource_id.clone(), name.clone()));
            let mut action = match existing {
                Some(old) => old.action.clone(),
                None => {
                    if region.monitoring.scheduled_of(&resource_id).count() >= 200 {
                        return Err(AutoScalingError::limit_exceeded("A scalable target can have at most 200 scheduled actions."));
                    }
                    ScheduledAction {
                        scheduled_action_name: name.clone(),
                        scheduled_action_arn: format!(
                            "arn:aws:autoscaling:{}:{}:scheduledAction:{}:resource/{ECS_NAMESPACE}/{resource_id}:scheduledActionName/{name}",
                            caller.region,
                            caller.account,
                            crate::task_network::uuid_like()
                        ),
                        service_namespace: ECS_NAMESPACE.into(),
                        schedule: String::new(),
                        timezone: None,
                        resource_id: resource_id.clone(),
                        scalable_dimension: ECS_DESIRED_COUNT.into(),
                        start_time: None,
                        end_time: None,
                        scalable_target_action: Default::default(),
                        creation_time: now,
                    }
                }
            };
            if let Some(s) = &req.schedule {
                action.schedule = s.clone();
            }
            if req.timezone.is_some() {
                action.timezone = req.timezone.clone();
            }
            if req.start_time.is_some() {
                action.start_time = req.start_time;
            }
            if req.end_time.is_some() {
                action.end_time = req.end_time;
            }
            if let Some(a) = req.scalable_target_action {
                action.scalable_target_action = a;
            }
            if action.schedule.is_empty() {
                return Err(AutoScalingError::validation("Schedule is required for a new scheduled action."));
            }
            schedule::parse(&action.schedule, action.timezone.as_deref()).map_err(AutoScalingError::validation)?;
            let a = action.scalable_target_action;
            if a.min_capacity.is_none() && a.max_capacity.is_none() {
                return Err(AutoScalingError::validation("ScalableTargetAction needs MinCapacity, MaxCapacity or both."));
            }
            // A changed schedule starts over.
            let last_run = existing.filter(|o| o.action.schedule == action.schedule && o.action.timezone == action.timezone).and_then(|o| o.last_run);
            let rec = ScheduledRecord { action, last_run };
            changes.push(Change::Monitoring { region: caller.region.clone(), change: MonitoringChange::Scheduled(Arc::new(rec)) });
            Ok(Empty {})
        })
        .await
    }

    pub async fn delete_scheduled_action(
        &self,
        caller: &Caller,
        req: DeleteScheduledActionRequest,
    ) -> Result<Empty, AutoScalingError> {
        let name = required(&req.scheduled_action_name, "ScheduledActionName")?.clone();
        let resource_id = target_id(&req.target)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            if !region.monitoring.scheduled.contains_key(&(resource_id.clone(), name.clone())) {
                return Err(AutoScalingError::not_found(format!(
                    "No scheduled action found for service namespace: ecs, resource ID: {resource_id}, scalable dimension: ecs:service:DesiredCount, scheduled action name: {name}"
                )));
            }
            changes.push(Change::Monitoring {
                region: caller.region.clone(),
                change: MonitoringChange::DeleteScheduled { resource_id, name },
            });
            Ok(Empty {})
        })
        .await
    }

    pub fn describe_scheduled_actions(
        &self,
        caller: &Caller,
        req: &DescribeScheduledActionsRequest,
    ) -> Result<DescribeScheduledActionsResponse, AutoScalingError> {
        check_namespace(&req.service_namespace)?;
        let actions: Vec<(String, ScheduledAction)> = self.read(|state| {
            state
                .region(&caller.region)
                .monitoring
                .scheduled
                .values()
                .filter(|s| req.resource_id.as_ref().is_none_or(|r| r == &s.action.resource_id))
                .filter(|s| {
                    req.scheduled_action_names.is_empty()
                        || req.scheduled_action_names.contains(&s.action.scheduled_action_name)
                })
                .filter(|s| req.scalable_dimension.as_ref().is_none_or(|d| d == &s.action.scalable_dimension))
                .map(|s| (format!("{}\u{0}{}", s.action.resource_id, s.action.scheduled_action_name), s.action.clone()))
                .collect()
        });
        let (scheduled_actions, next_token) =
            paginate(actions.into_iter(), true, req.max_results, req.next_token.as_deref(), 50)?;
        Ok(DescribeScheduledActionsResponse { scheduled_actions, next_token })
    }
}
