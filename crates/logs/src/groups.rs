//! Log groups: CreateLogGroup, DeleteLogGroup, DescribeLogGroups, PutRetentionPolicy,
//! DeleteRetentionPolicy, and the tagging calls (by ARN and by name).

use std::collections::BTreeMap;

use berth_model::logs::*;
use rusqlite::OptionalExtension;

use crate::{
    limit, now_ms,
    store::{self, db, group_row, GroupRow, GROUP_COLUMNS},
    tokens, Logs, Region,
};

const CLASSES: &[&str] = &["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"];
const MAX_TAGS: usize = 50;
/// CloudWatch's quota of log groups a region.
pub const MAX_GROUPS: i64 = 1_000_000;

/// CloudWatch's rule for group names.
pub(crate) fn check_group_name(name: &str) -> Result<(), LogsError> {
    let ok = (1..=512).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || ".-_/#".contains(c));
    if ok {
        Ok(())
    } else {
        Err(LogsError::invalid_parameter(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+ (1 to 512 characters)"
        )))
    }
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), LogsError> {
    if tags.len() > MAX_TAGS {
        return Err(LogsError::too_many_tags(format!("A resource can have at most {MAX_TAGS} tags.")));
    }
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 || k.starts_with("aws:") {
            return Err(LogsError::invalid_parameter(format!(
                "Tag '{k}' is invalid: keys are 1 to 128 characters and may not start with aws:, values at most 256"
            )));
        }
    }
    Ok(())
}

impl Logs {
    fn describe(&self, region: &str, row: &GroupRow, stored: i64) -> LogGroup {
        let arn = group_arn(region, &self.account, &row.name);
        LogGroup {
            log_group_name: row.name.clone(),
            creation_time: row.created,
            retention_in_days: row.retention_days,
            metric_filter_count: 0,
            arn: format!("{arn}:*"),
            stored_bytes: stored,
            log_group_class: row.class.clone(),
            log_group_arn: arn,
            kms_key_id: row.kms_key_id.clone(),
        }
    }

    pub async fn create_log_group(&self, region: Region<'_>, req: CreateLogGroupRequest) -> Result<Empty, LogsError> {
        check_group_name(&req.log_group_name)?;
        let class = req.log_group_class.unwrap_or_else(|| "STANDARD".into());
        if !CLASSES.contains(&class.as_str()) {
            return Err(LogsError::invalid_parameter(format!(
                "logGroupClass '{class}' is not one of {}",
                CLASSES.join(", ")
            )));
        }
        let tags = req.tags.unwrap_or_default();
        check_tags(&tags)?;
        let region = region.to_string();
        let tags = serde_json::to_string(&tags).unwrap_or_else(|_| "{}".into());
        let max_groups = self.max_groups;
        self.store
            .write(move |conn| {
                if store::find_group(conn, &region, &req.log_group_name)?.is_some() {
                    return Err(LogsError::group_exists());
                }
                let count: i64 = conn
                    .prepare_cached("SELECT COUNT(*) FROM log_groups WHERE region = ?1")
                    .and_then(|mut s| s.query_row([&region], |r| r.get(0)))
                    .map_err(db)?;
                if count >= max_groups {
                    return Err(LogsError::limit_exceeded(format!(
                        "Resource limit exceeded: a region holds at most {max_groups} log groups; delete some first."
                    )));
                }
                conn.prepare_cached(
                    "INSERT INTO log_groups (region, name, created, class, kms_key_id, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut s| s.execute((&region, &req.log_group_name, now_ms(), &class, &req.kms_key_id, &tags)))
                .map_err(db)?;
                Ok(Empty {})
            })
            .await
    }

    pub async fn delete_log_group(&self, region: Region<'_>, req: LogGroupNameRequest) -> Result<Empty, LogsError> {
        let region = region.to_string();
        self.store
            .write(move |conn| {
                let group = store::group(conn, &region, &req.log_group_name)?;
                for sql in [
                    "DELETE FROM log_events WHERE group_id = ?1",
                    "DELETE FROM log_streams WHERE group_id = ?1",
                    "DELETE FROM log_groups WHERE id = ?1",
                ] {
                    conn.prepare_cached(sql).and_then(|mut s| s.execute([group.id])).map_err(db)?;
                }
                Ok(Empty {})
            })
            .await
    }

    pub async fn describe_log_groups(
        &self,
        region: Region<'_>,
        req: DescribeLogGroupsRequest,
    ) -> Result<DescribeLogGroupsResponse, LogsError> {
        if req.log_group_name_prefix.is_some() && req.log_group_name_pattern.is_some() {
            return Err(LogsError::invalid_parameter(
                "LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.",
            ));
        }
        let page = limit(req.limit, 50, 50)?;
        let offset = req.next_token.as_deref().map(tokens::parse_offset_token).transpose()?.unwrap_or(0);
        let region = region.to_string();
        let rows = {
            let region = region.clone();
            self.store
                .read(move |conn| {
                    let mut stmt = conn
                        .prepare_cached(&format!(
                            "SELECT {GROUP_COLUMNS}, (SELECT COALESCE(SUM(stored_bytes), 0) FROM log_streams s WHERE s.group_id = g.id)
                             FROM log_groups g WHERE region = ?1 ORDER BY name"
                        ))
                        .map_err(db)?;
                    let rows = stmt
                        .query_map([&region], |r| Ok((group_row(r)?, r.get::<_, i64>(7)?)))
                        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                        .map_err(db)?;
                    Ok(rows)
                })
                .await?
        };
        let identifiers: Option<Vec<String>> =
            req.log_group_identifiers.map(|ids| ids.iter().map(|i| group_of_arn(i).unwrap_or(i).to_string()).collect());
        let pattern = req.log_group_name_pattern.map(|p| p.to_lowercase());
        let matching: Vec<LogGroup> = rows
            .iter()
            .filter(|(g, _)| req.log_group_name_prefix.as_ref().is_none_or(|p| g.name.starts_with(p.as_str())))
            .filter(|(g, _)| pattern.as_ref().is_none_or(|p| g.name.to_lowercase().contains(p.as_str())))
            .filter(|(g, _)| req.log_group_class.as_ref().is_none_or(|c| &g.class == c))
            .filter(|(g, _)| identifiers.as_ref().is_none_or(|ids| ids.contains(&g.name)))
            .skip(offset)
            .map(|(g, stored)| self.describe(&region, g, *stored))
            .take(page + 1)
            .collect();
        let more = matching.len() > page;
        let log_groups: Vec<LogGroup> = matching.into_iter().take(page).collect();
        Ok(DescribeLogGroupsResponse { next_token: more.then(|| tokens::offset_token(offset + page)), log_groups })
    }

    pub async fn put_retention_policy(
        &self,
        region: Region<'_>,
        req: PutRetentionPolicyRequest,
    ) -> Result<Empty, LogsError> {
        if !RETENTION_DAYS.contains(&req.retention_in_days) {
            return Err(LogsError::invalid_parameter(format!(
                "1 validation error detected: Value '{}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: {:?}",
                req.retention_in_days, RETENTION_DAYS
            )));
        }
        let group_id = self.set_retention(region, req.log_group_name, Some(req.retention_in_days)).await?;
        // Events already past the new retention go now, not at the next sweep.
        self.sweep(Some(group_id)).await?;
        Ok(Empty {})
    }

    pub async fn delete_retention_policy(
        &self,
        region: Region<'_>,
        req: LogGroupNameRequest,
    ) -> Result<Empty, LogsError> {
        self.set_retention(region, req.log_group_name, None).await?;
        Ok(Empty {})
    }

    async fn set_retention(&self, region: Region<'_>, group: String, days: Option<i32>) -> Result<i64, LogsError> {
        let region = region.to_string();
        self.store
            .write(move |conn| {
                let group = store::group(conn, &region, &group)?;
                conn.prepare_cached("UPDATE log_groups SET retention_days = ?1 WHERE id = ?2")
                    .and_then(|mut s| s.execute((days, group.id)))
                    .map_err(db)?;
                Ok(group.id)
            })
            .await
    }

    /// The group a tagging ARN names.
    fn tagged_group(arn: &str) -> Result<String, LogsError> {
        group_of_arn(arn).map(str::to_string).ok_or_else(|| {
            LogsError::invalid_parameter(format!(
                "'{arn}' is not a log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME)"
            ))
        })
    }

    /// Changes a group's tags with `change`.
    async fn retag(
        &self,
        region: Region<'_>,
        group: String,
        change: impl FnOnce(&mut BTreeMap<String, String>) + Send + 'static,
    ) -> Result<Empty, LogsError> {
        let region = region.to_string();
        self.store
            .write(move |conn| {
                let row = store::find_group(conn, &region, &group)?.ok_or_else(|| {
                    LogsError::resource_not_found(format!("The specified log group does not exist: {group}"))
                })?;
                let mut tags = row.tags;
                change(&mut tags);
                check_tags(&tags)?;
                let text = serde_json::to_string(&tags).unwrap_or_else(|_| "{}".into());
                conn.prepare_cached("UPDATE log_groups SET tags = ?1 WHERE id = ?2")
                    .and_then(|mut s| s.execute((text, row.id)))
                    .map_err(db)?;
                Ok(Empty {})
            })
            .await
    }

    pub async fn tag_resource(&self, region: Region<'_>, req: TagResourceRequest) -> Result<Empty, LogsError> {
        let group = Self::tagged_group(&req.resource_arn)?;
        check_tags(&req.tags)?;
        self.retag(region, group, move |tags| tags.extend(req.tags)).await
    }

    pub async fn untag_resource(&self, region: Region<'_>, req: UntagResourceRequest) -> Result<Empty, LogsError> {
        let group = Self::tagged_group(&req.resource_arn)?;
        self.retag(region, group, move |tags| tags.retain(|k, _| !req.tag_keys.contains(k))).await
    }

    pub async fn tag_log_group(&self, region: Region<'_>, req: TagLogGroupRequest) -> Result<Empty, LogsError> {
        check_tags(&req.tags)?;
        self.retag(region, req.log_group_name, move |tags| tags.extend(req.tags)).await
    }

    pub async fn untag_log_group(&self, region: Region<'_>, req: UntagLogGroupRequest) -> Result<Empty, LogsError> {
        self.retag(region, req.log_group_name, move |tags| tags.retain(|k, _| !req.tags.contains(k))).await
    }

    pub async fn list_tags_for_resource(
        &self,
        region: Region<'_>,
        req: ListTagsForResourceRequest,
    ) -> Result<TagsResponse, LogsError> {
        self.group_tags(region, Self::tagged_group(&req.resource_arn)?).await
    }

    pub async fn list_tags_log_group(
        &self,
        region: Region<'_>,
        req: LogGroupNameRequest,
    ) -> Result<TagsResponse, LogsError> {
        self.group_tags(region, req.log_group_name).await
    }

    async fn group_tags(&self, region: Region<'_>, group: String) -> Result<TagsResponse, LogsError> {
        let region = region.to_string();
        self.store
            .read(move |conn| {
                let tags: Option<String> = conn
                    .prepare_cached("SELECT tags FROM log_groups WHERE region = ?1 AND name = ?2")
                    .and_then(|mut s| s.query_row((&region, &group), |r| r.get(0)).optional())
                    .map_err(db)?;
                let tags = tags.ok_or_else(LogsError::group_not_found)?;
                Ok(TagsResponse { tags: serde_json::from_str(&tags).unwrap_or_default() })
            })
            .await
    }
}
