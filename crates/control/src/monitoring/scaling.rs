//! Application Auto Scaling's scalable targets (Register/Deregister/DescribeScalableTargets),
//! its tagging, scaling activities, and the one way scaling changes a service: its desired
//! count, set as UpdateService sets it, with a service event and an activity.

use std::sync::Arc;

use berth_model::{
    autoscaling::{
        required, ActivityStatus, AutoScalingError, DeregisterScalableTargetRequest, DescribeScalableTargetsRequest,
        DescribeScalableTargetsResponse, DescribeScalingActivitiesRequest, DescribeScalingActivitiesResponse, Empty,
        ListTagsForResourceRequest, ListTagsForResourceResponse, NotScaledReason, RegisterScalableTargetRequest,
        RegisterScalableTargetResponse, ScalableTarget, ScalingActivity, TagResourceRequest, TargetRef,
        UntagResourceRequest, ECS_DESIRED_COUNT, ECS_NAMESPACE,
    },
    status::ServiceStatus,
    tag, time,
};

use super::{state::ACTIVITIES, MonitoringChange, TargetRecord};
use crate::{services::find_service, state::Change, Caller, Control, RegionState, ServiceRecord};

const MAX_TAGS: usize = 50;

/// A target's identity, checked: berth scales `ecs:service:DesiredCount` of `service/C/S`.
pub(crate) fn target_id(t: &TargetRef) -> Result<String, AutoScalingError> {
    check_namespace(&t.service_namespace)?;
    let resource = required(&t.resource_id, "ResourceId")?;
    let dimension = required(&t.scalable_dimension, "ScalableDimension")?;
    if dimension != ECS_DESIRED_COUNT {
        return Err(AutoScalingError::validation(format!(
            "Unsupported scalable dimension {dimension} for service namespace ecs: use ecs:service:DesiredCount."
        )));
    }
    service_of(resource)?;
    Ok(resource.clone())
}

/// The (cluster, service) a resource id `service/C/S` names.
pub(crate) fn service_of(resource_id: &str) -> Result<(&str, &str), AutoScalingError> {
    resource_id
        .strip_prefix("service/")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(c, s)| !c.is_empty() && !s.is_empty() && !s.contains('/'))
        .ok_or_else(|| {
            AutoScalingError::validation(format!(
                "Unsupported resource ID {resource_id}: an ECS service's resource ID is service/CLUSTER/SERVICE."
            ))
        })
}

/// The active service a resource id names.
pub(crate) fn active_service<'a>(region: &'a RegionState, resource_id: &str) -> Option<&'a Arc<ServiceRecord>> {
    let (cluster, name) = service_of(resource_id).ok()?;
    find_service(region, cluster, name).filter(|s| s.service.status == ServiceStatus::Active)
}

pub(crate) fn not_registered(resource_id: &str) -> AutoScalingError {
    AutoScalingError::not_found(format!(
        "No scalable target registered for service namespace: ecs, resource ID: {resource_id}, scalable dimension: ecs:service:DesiredCount"
    ))
}

fn default_role(account: &str) -> String {
    format!(
        "arn:aws:iam::{account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
    )
}

/// Records an activity, newest first, keeping the last [`ACTIVITIES`].
/// (Several activities of one write build on each other: the newest list pushed so far
/// is the base.)
pub(crate) fn push_activity(
    region: &RegionState,
    region_name: &str,
    activity: ScalingActivity,
    changes: &mut Vec<Change>,
) {
    let pending = changes.iter().rev().find_map(|c| match c {
        Change::Monitoring { region: r, change: MonitoringChange::Activities { resource_id, activities } }
            if r == region_name && resource_id == &activity.resource_id =>
        {
            Some(activities.as_ref().clone())
        }
        _ => None,
    });
    let mut list = pending
        .or_else(|| region.monitoring.activities.get(&activity.resource_id).map(|l| l.as_ref().clone()))
        .unwrap_or_default();
    let resource_id = activity.resource_id.clone();
    list.insert(0, activity);
    list.truncate(ACTIVITIES);
    changes.push(Change::Monitoring {
        region: region_name.to_string(),
        change: MonitoringChange::Activities { resource_id, activities: Arc::new(list) },
    });
}

pub(crate) fn activity(resource_id: &str, description: String, cause: String, now: f64) -> ScalingActivity {
    ScalingActivity {
        activity_id: crate::task_network::uuid_like(),
        service_namespace: ECS_NAMESPACE.into(),
        resource_id: resource_id.to_string(),
        scalable_dimension: ECS_DESIRED_COUNT.into(),
        description,
        cause,
        start_time: now,
        end_time: Some(now),
        status_code: ActivityStatus::Successful,
        status_message: None,
        details: None,
        not_scaled_reasons: Vec::new(),
    }
}

/// What a scaling decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scaled {
    /// The desired count went from `.0` to `.1`.
    Changed(i64, i64),
    /// It stayed, for the reason recorded.
    Unchanged,
}

/// Sets the service's desired count to `wanted` bounded by the target's capacity, as
/// UpdateService would, with a service event and an activity. A decision that changes
/// nothing because of a bound is recorded as a not-scaled activity (once in a row).
pub(crate) fn scale_to(
    region: &RegionState,
    region_name: &str,
    target: &ScalableTarget,
    wanted: i64,
    cause: &str,
    now: f64,
    changes: &mut Vec<Change>,
) -> Scaled {
    let Some(svc) = active_service(region, &target.resource_id) else {
        return Scaled::Unchanged;
    };
    let current = svc.service.desired_count;
    let bounded = wanted.clamp(target.min_capacity, target.max_capacity);
    if bounded == current {
        let code = if wanted > target.max_capacity {
            "AlreadyAtMaxCapacity"
        } else if wanted < target.min_capacity {
            "AlreadyAtMinCapacity"
        } else {
            return Scaled::Unchanged;
        };
        let last_code = region
            .monitoring
            .activities
            .get(&target.resource_id)
            .and_then(|l| l.first())
            .and_then(|a| a.not_scaled_reasons.first())
            .map(|r| r.code.clone());
        if last_code.as_deref() != Some(code) {
            let mut a = activity(
                &target.resource_id,
                format!("Attempting to set desired count to {wanted}."),
                cause.to_string(),
                now,
            );
            a.status_code = ActivityStatus::Unfulfilled;
            a.status_message =
                Some(format!("Failed to set desired count to {wanted}: the capacity is already at its bound."));
            a.not_scaled_reasons = vec![NotScaledReason {
                code: code.into(),
                max_capacity: Some(target.max_capacity),
                min_capacity: Some(target.min_capacity),
                current_capacity: Some(current),
            }];
            push_activity(region, region_name, a, changes);
        }
        return Scaled::Unchanged;
    }
    let mut next = svc.as_ref().clone();
    crate::services::set_desired_count(&mut next.service, bounded);
    let event = format!(
        "(service {}) desired count changed from {current} to {bounded} by Application Auto Scaling: {cause}.",
        next.service.service_name
    );
    crate::services::push_event(&mut next.service, event);
    changes.push(Change::Service { region: region_name.to_string(), record: Arc::new(next) });
    let mut a = activity(&target.resource_id, format!("Setting desired count to {bounded}."), cause.to_string(), now);
    a.status_message =
        Some(format!("Successfully set desired count to {bounded}. Change successfully fulfilled by ecs."));
    push_activity(region, region_name, a, changes);
    Scaled::Changed(current, bounded)
}

fn target_by_arn<'a>(region: &'a RegionState, arn: &str) -> Result<&'a Arc<TargetRecord>, AutoScalingError> {
    region
        .monitoring
        .targets
        .values()
        .find(|t| t.target.scalable_target_arn == arn)
        .ok_or_else(|| AutoScalingError::resource_not_found(format!("Resource not found: {arn}")))
}

fn check_tags(tags: &std::collections::BTreeMap<String, String>) -> Result<Vec<tag::Tag>, AutoScalingError> {
    let list: Vec<tag::Tag> = tags.iter().map(|(k, v)| tag::Tag::new(k, v)).collect();
    tag::validate(&list).map_err(|e| AutoScalingError::validation(e.to_string()))?;
    Ok(list)
}

/// One page of a key-ordered listing (MaxResults up to `limit`, the token naming the last
/// key returned).
pub(crate) fn paginate<T>(
    items: impl Iterator<Item = (String, T)>,
    ascending: bool,
    max: Option<i64>,
    token: Option<&str>,
    limit: i64,
) -> Result<(Vec<T>, Option<String>), AutoScalingError> {
    if let Some(m) = max.filter(|m| !(1..=limit).contains(m)) {
        return Err(AutoScalingError::validation(format!("MaxResults must be between 1 and {limit}; it was {m}.")));
    }
    let request = crate::PageRequest { next_token: token.map(str::to_string), max_results: max };
    let page = request.page(limit, ascending, items).map_err(|_| AutoScalingError::invalid_next_token())?;
    Ok((page.items, page.next_token))
}

pub(crate) fn check_namespace(namespace: &Option<String>) -> Result<(), AutoScalingError> {
    match required(namespace, "ServiceNamespace")?.as_str() {
        ECS_NAMESPACE => Ok(()),
        other => Err(AutoScalingError::validation(format!(
            "berth scales ECS services only: ServiceNamespace must be ecs, not {other}."
        ))),
    }
}

impl Control {
    /// RegisterScalableTarget: creates the target, or updates the capacity and suspended
    /// state given. A desired count outside the new bounds is brought within them at once
    /// (a desired count set outside them later by UpdateService is left for the next
    /// scaling activity, as on AWS).
    pub async fn register_scalable_target(
        &self,
        caller: &Caller,
        req: RegisterScalableTargetRequest,
    ) -> Result<RegisterScalableTargetResponse, AutoScalingError> {
        let resource_id = target_id(&req.target)?;
        for (v, name) in [(req.min_capacity, "MinCapacity"), (req.max_capacity, "MaxCapacity")] {
            if v.is_some_and(|v| v < 0) {
                return Err(AutoScalingError::validation(format!("{name} must not be negative.")));
            }
        }
        let tags = req.tags.as_ref().map(check_tags).transpose()?.unwrap_or_default();
        if tags.len() > MAX_TAGS {
            return Err(AutoScalingError::too_many_tags(format!(
                "A scalable target can have at most {MAX_TAGS} tags."
            )));
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            if active_service(region, &resource_id).is_none() {
                return Err(AutoScalingError::validation(format!("ECS service doesn't exist: {resource_id}")));
            }
            let now = time::now();
            let existing = region.monitoring.targets.get(&resource_id);
            let target = match existing {
                Some(old) => {
                    let mut t = old.target.clone();
                    t.min_capacity = req.min_capacity.unwrap_or(t.min_capacity);
                    t.max_capacity = req.max_capacity.unwrap_or(t.max_capacity);
                    if let Some(s) = req.suspended_state {
                        t.suspended_state = s.over(t.suspended_state);
                    }
                    t
                }
                None => {
                    let (Some(min), Some(max)) = (req.min_capacity, req.max_capacity) else {
                        return Err(AutoScalingError::validation(
                            "MinCapacity and MaxCapacity are required to register a new scalable target.",
                        ));
                    };
                    ScalableTarget {
                        service_namespace: ECS_NAMESPACE.into(),
                        resource_id: resource_id.clone(),
                        scalable_dimension: ECS_DESIRED_COUNT.into(),
                        min_capacity: min,
                        max_capacity: max,
                        role_arn: req.role_arn.clone().unwrap_or_else(|| default_role(&caller.account)),
                        creation_time: now,
                        suspended_state: req.suspended_state.unwrap_or_default().over(Default::default()),
                        scalable_target_arn: format!(
                            "arn:aws:application-autoscaling:{}:{}:scalable-target/{}",
                            caller.region,
                            caller.account,
                            &crate::instances::random_id()[..28]
                        ),
                    }
                }
            };
            if target.min_capacity > target.max_capacity {
                return Err(AutoScalingError::validation(format!(
                    "Minimum capacity ({}) cannot be greater than maximum capacity ({}).",
                    target.min_capacity, target.max_capacity
                )));
            }
            // New bounds that leave the desired count outside bring it within them at once.
            if let Some(svc) = active_service(region, &resource_id) {
                let d = svc.service.desired_count;
                let cause = if d < target.min_capacity {
                    Some(format!("minimum capacity was set to {}", target.min_capacity))
                } else if d > target.max_capacity {
                    Some(format!("maximum capacity was set to {}", target.max_capacity))
                } else {
                    None
                };
                if let Some(cause) = cause {
                    scale_to(region, &caller.region, &target, d, &cause, now, changes);
                }
            }
            let arn = target.scalable_target_arn.clone();
            if existing.is_none() && !tags.is_empty() {
                changes.push(Change::Tags { region: caller.region.clone(), arn: arn.clone(), tags: Arc::new(tags) });
            }
            changes.push(Change::Monitoring {
                region: caller.region.clone(),
                change: MonitoringChange::Target(Arc::new(TargetRecord { target })),
            });
            Ok(RegisterScalableTargetResponse { scalable_target_arn: arn })
        })
        .await
    }

    /// DeregisterScalableTarget: the target goes, with its policies (and their alarms),
    /// its scheduled actions and its tags.
    pub async fn deregister_scalable_target(
        &self,
        caller: &Caller,
        req: DeregisterScalableTargetRequest,
    ) -> Result<Empty, AutoScalingError> {
        let resource_id = target_id(&req.target)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            let t = region.monitoring.targets.get(&resource_id).ok_or_else(|| not_registered(&resource_id))?;
            let r = caller.region.clone();
            for p in region.monitoring.policies_of(&resource_id) {
                super::scaling_policies::remove_policy(&r, p, changes);
            }
            for s in region.monitoring.scheduled_of(&resource_id) {
                let name = s.action.scheduled_action_name.clone();
                let change = MonitoringChange::DeleteScheduled { resource_id: resource_id.clone(), name };
                changes.push(Change::Monitoring { region: r.clone(), change });
            }
            changes.push(Change::Tags {
                region: r.clone(),
                arn: t.target.scalable_target_arn.clone(),
                tags: Arc::new(Vec::new()),
            });
            changes.push(Change::Monitoring { region: r, change: MonitoringChange::DeleteTarget(resource_id) });
            Ok(Empty {})
        })
        .await
    }

    pub fn describe_scalable_targets(
        &self,
        caller: &Caller,
        req: &DescribeScalableTargetsRequest,
    ) -> Result<DescribeScalableTargetsResponse, AutoScalingError> {
        check_namespace(&req.service_namespace)?;
        let targets: Vec<(String, ScalableTarget)> = self.read(|state| {
            state
                .region(&caller.region)
                .monitoring
                .targets
                .values()
                .filter(|t| req.resource_ids.is_empty() || req.resource_ids.contains(&t.target.resource_id))
                .filter(|t| req.scalable_dimension.as_ref().is_none_or(|d| d == &t.target.scalable_dimension))
                .map(|t| (t.target.resource_id.clone(), t.target.clone()))
                .collect()
        });
        let (scalable_targets, next_token) =
            paginate(targets.into_iter(), true, req.max_results, req.next_token.as_deref(), 50)?;
        Ok(DescribeScalableTargetsResponse { scalable_targets, next_token })
    }

    pub fn describe_scaling_activities(
        &self,
        caller: &Caller,
        req: &DescribeScalingActivitiesRequest,
    ) -> Result<DescribeScalingActivitiesResponse, AutoScalingError> {
        check_namespace(&req.service_namespace)?;
        let include_not_scaled = req.include_not_scaled_activities.unwrap_or(false);
        let mut activities: Vec<ScalingActivity> = self.read(|state| {
            state
                .region(&caller.region)
                .monitoring
                .activities
                .iter()
                .filter(|(id, _)| req.resource_id.as_ref().is_none_or(|r| r == *id))
                .flat_map(|(_, list)| list.iter().cloned())
                .filter(|a| include_not_scaled || a.not_scaled_reasons.is_empty())
                .collect()
        });
        // Newest first, keyed by start time (fixed width) and id.
        activities
            .sort_by(|a, b| b.start_time.total_cmp(&a.start_time).then_with(|| b.activity_id.cmp(&a.activity_id)));
        let keyed = activities.into_iter().map(|a| (format!("{:020.3}\u{0}{}", a.start_time, a.activity_id), a));
        let (scaling_activities, next_token) = paginate(keyed, false, req.max_results, req.next_token.as_deref(), 50)?;
        Ok(DescribeScalingActivitiesResponse { scaling_activities, next_token })
    }

    pub async fn autoscaling_tag_resource(
        &self,
        caller: &Caller,
        req: TagResourceRequest,
    ) -> Result<Empty, AutoScalingError> {
        let arn = required(&req.resource_arn, "ResourceARN")?.clone();
        let tags = check_tags(required(&req.tags, "Tags")?)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            target_by_arn(state.region(&caller.region), &arn)?;
            let merged = tag::merge(&state.tags_of(&caller.region, &arn), &tags)
                .map_err(|e| AutoScalingError::validation(e.to_string()))?;
            if merged.len() > MAX_TAGS {
                return Err(AutoScalingError::too_many_tags(format!(
                    "A scalable target can have at most {MAX_TAGS} tags."
                )));
            }
            changes.push(Change::Tags { region: caller.region.clone(), arn, tags: Arc::new(merged) });
            Ok(Empty {})
        })
        .await
    }

    pub async fn autoscaling_untag_resource(
        &self,
        caller: &Caller,
        req: UntagResourceRequest,
    ) -> Result<Empty, AutoScalingError> {
        let arn = required(&req.resource_arn, "ResourceARN")?.clone();
        let keys = required(&req.tag_keys, "TagKeys")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            target_by_arn(state.region(&caller.region), &arn)?;
            let mut tags = state.tags_of(&caller.region, &arn);
            tags.retain(|t| !keys.iter().any(|k| Some(k) == t.key.as_ref()));
            changes.push(Change::Tags { region: caller.region.clone(), arn, tags: Arc::new(tags) });
            Ok(Empty {})
        })
        .await
    }

    pub fn autoscaling_list_tags(
        &self,
        caller: &Caller,
        req: &ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, AutoScalingError> {
        let arn = required(&req.resource_arn, "ResourceARN")?;
        self.read(|state| {
            target_by_arn(state.region(&caller.region), arn)?;
            let tags = state
                .tags_of(&caller.region, arn)
                .into_iter()
                .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
                .collect();
            Ok(ListTagsForResourceResponse { tags })
        })
    }
}
