//! DescribeAlarms, DescribeAlarmsForMetric, DescribeAlarmHistory, and CloudWatch's
//! tagging (alarms are its taggable resource).

use std::sync::Arc;

use berth_model::{
    cloudwatch::{
        AlarmHistoryItem, CloudWatchError, DescribeAlarmHistoryInput, DescribeAlarmHistoryOutput,
        DescribeAlarmsForMetricInput, DescribeAlarmsForMetricOutput, DescribeAlarmsInput, DescribeAlarmsOutput,
        HistoryItemType, ListTagsForResourceInput, ListTagsForResourceOutput, MetricAlarm, StateValue, Tag,
        TagResourceInput, UntagResourceInput,
    },
    tag,
};

use super::{
    alarms::{check_alarm_names, to_ecs_tags},
    member, page, parse_statistic, required, AlarmRecord,
};
use crate::{state::Change, Caller, Control, State};

/// The alarm an ARN names, or CloudWatch's not-found error.
fn alarm_by_arn<'a>(state: &'a State, caller: &Caller, arn: &str) -> Result<&'a Arc<AlarmRecord>, CloudWatchError> {
    let prefix = format!("arn:aws:cloudwatch:{}:{}:alarm:", caller.region, caller.account);
    arn.strip_prefix(&prefix)
        .and_then(|name| state.region(&caller.region).monitoring.alarms.get(name))
        .ok_or_else(|| CloudWatchError::resource_not_found(format!("The resource {arn} does not exist.")))
}

fn from_ecs_tags(tags: Vec<tag::Tag>) -> Vec<Tag> {
    tags.into_iter().map(|t| Tag { key: t.key.unwrap_or_default(), value: t.value.unwrap_or_default() }).collect()
}

impl Control {
    pub fn describe_alarms(
        &self,
        caller: &Caller,
        req: &DescribeAlarmsInput,
    ) -> Result<DescribeAlarmsOutput, CloudWatchError> {
        if !req.alarm_names.is_empty() && req.alarm_name_prefix.is_some() {
            return Err(CloudWatchError::combination("AlarmNames and AlarmNamePrefix cannot be given together."));
        }
        check_alarm_names(&req.alarm_names)?;
        let state_filter = req
            .state_value
            .as_deref()
            .map(|s| member(s, "StateValue", StateValue::parse, StateValue::NAMES))
            .transpose()?;
        let metric_alarms_wanted = req.alarm_types.is_empty() || req.alarm_types.iter().any(|t| t == "MetricAlarm");
        let matching: Vec<MetricAlarm> = self.read(|state| {
            state
                .region(&caller.region)
                .monitoring
                .alarms
                .values()
                .map(|r| &r.alarm)
                .filter(|_| metric_alarms_wanted)
                .filter(|a| req.alarm_names.is_empty() || req.alarm_names.contains(&a.alarm_name))
                .filter(|a| req.alarm_name_prefix.as_ref().is_none_or(|p| a.alarm_name.starts_with(p.as_str())))
                .filter(|a| state_filter.is_none_or(|s| a.state_value == s))
                .filter(|a| {
                    req.action_prefix.as_ref().is_none_or(|p| {
                        a.alarm_actions
                            .iter()
                            .chain(&a.ok_actions)
                            .chain(&a.insufficient_data_actions)
                            .any(|x| x.starts_with(p.as_str()))
                    })
                })
                .cloned()
                .collect()
        });
        // DescribeAlarms pages 50 by default, 100 at most.
        let max = Some(req.max_records.unwrap_or(50));
        let keyed = matching.into_iter().map(|a| (a.alarm_name.clone(), a));
        let (metric_alarms, next_token) = page(keyed, true, max, 100, req.next_token.as_deref())?;
        Ok(DescribeAlarmsOutput { composite_alarms: Vec::new(), metric_alarms, next_token })
    }

    pub fn describe_alarms_for_metric(
        &self,
        caller: &Caller,
        req: &DescribeAlarmsForMetricInput,
    ) -> Result<DescribeAlarmsForMetricOutput, CloudWatchError> {
        let name = required(&req.metric_name, "MetricName")?;
        let namespace = required(&req.namespace, "Namespace")?;
        let statistic = req.statistic.as_deref().map(|s| parse_statistic(s, "Statistic")).transpose()?;
        let mut dims = req.dimensions.clone();
        dims.sort();
        let metric_alarms = self.read(|state| {
            state
                .region(&caller.region)
                .monitoring
                .alarms
                .values()
                .map(|r| &r.alarm)
                .filter(|a| a.metric_name.as_ref() == Some(name) && a.namespace.as_ref() == Some(namespace))
                .filter(|a| {
                    let mut own = a.dimensions.clone();
                    own.sort();
                    own == dims
                })
                .filter(|a| statistic.is_none_or(|s| a.statistic == Some(s)))
                .filter(|a| req.period.is_none_or(|p| a.period == Some(p)))
                .filter(|a| req.unit.is_none() || a.unit == req.unit)
                .cloned()
                .collect()
        });
        Ok(DescribeAlarmsForMetricOutput { metric_alarms })
    }

    pub fn describe_alarm_history(
        &self,
        caller: &Caller,
        req: &DescribeAlarmHistoryInput,
    ) -> Result<DescribeAlarmHistoryOutput, CloudWatchError> {
        let kind = req
            .history_item_type
            .as_deref()
            .map(|k| member(k, "HistoryItemType", HistoryItemType::parse, HistoryItemType::NAMES))
            .transpose()?;
        let ascending = super::ascending(req.scan_by.as_deref())?;
        let metric_alarms_wanted = req.alarm_types.is_empty() || req.alarm_types.iter().any(|t| t == "MetricAlarm");
        let mut items: Vec<AlarmHistoryItem> = self.read(|state| {
            state
                .region(&caller.region)
                .monitoring
                .alarms
                .values()
                .filter(|r| metric_alarms_wanted && req.alarm_name.as_ref().is_none_or(|n| &r.alarm.alarm_name == n))
                .flat_map(|r| r.history.iter().cloned())
                .filter(|h| kind.is_none_or(|k| h.history_item_type == k))
                .filter(|h| {
                    req.start_date.is_none_or(|s| h.timestamp >= s) && req.end_date.is_none_or(|e| h.timestamp <= e)
                })
                .collect()
        });
        items.sort_by(|a, b| a.timestamp.total_cmp(&b.timestamp));
        // Keyed by time (fixed width, so text order is time order) and position.
        let mut keyed: Vec<(String, AlarmHistoryItem)> =
            items.into_iter().enumerate().map(|(i, h)| (format!("{:020.3}\u{0}{i:09}", h.timestamp), h)).collect();
        if !ascending {
            keyed.reverse();
        }
        let (alarm_history_items, next_token) =
            page(keyed.into_iter(), ascending, req.max_records, 100, req.next_token.as_deref())?;
        Ok(DescribeAlarmHistoryOutput { alarm_history_items, next_token })
    }

    pub async fn cloudwatch_tag_resource(&self, caller: &Caller, req: TagResourceInput) -> Result<(), CloudWatchError> {
        let arn = required(&req.resource_arn, "ResourceARN")?.clone();
        if req.tags.is_empty() {
            return Err(CloudWatchError::missing("Tags"));
        }
        let tags = to_ecs_tags(&req.tags);
        tag::validate(&tags).map_err(|e| CloudWatchError::invalid_value(e.to_string()))?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            alarm_by_arn(state, &caller, &arn)?;
            let merged = tag::merge(&state.tags_of(&caller.region, &arn), &tags)
                .map_err(|e| CloudWatchError::invalid_value(e.to_string()))?;
            changes.push(Change::Tags { region: caller.region.clone(), arn, tags: Arc::new(merged) });
            Ok(())
        })
        .await
    }

    pub async fn cloudwatch_untag_resource(
        &self,
        caller: &Caller,
        req: UntagResourceInput,
    ) -> Result<(), CloudWatchError> {
        let arn = required(&req.resource_arn, "ResourceARN")?.clone();
        let keys = req.tag_keys.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            alarm_by_arn(state, &caller, &arn)?;
            let mut tags = state.tags_of(&caller.region, &arn);
            tags.retain(|t| !keys.iter().any(|k| Some(k) == t.key.as_ref()));
            changes.push(Change::Tags { region: caller.region.clone(), arn, tags: Arc::new(tags) });
            Ok(())
        })
        .await
    }

    pub fn cloudwatch_list_tags(
        &self,
        caller: &Caller,
        req: &ListTagsForResourceInput,
    ) -> Result<ListTagsForResourceOutput, CloudWatchError> {
        let arn = required(&req.resource_arn, "ResourceARN")?;
        self.read(|state| {
            alarm_by_arn(state, caller, arn)?;
            Ok(ListTagsForResourceOutput { tags: from_ecs_tags(state.tags_of(&caller.region, arn)) })
        })
    }
}
