//! Log streams: CreateLogStream, DeleteLogStream, DescribeLogStreams.

use berth_model::logs::*;
use rusqlite::Connection;

use crate::{
    limit, now_ms,
    store::{self, db},
    tokens, Logs, Region,
};

/// CloudWatch's rule for stream names.
pub(crate) fn check_stream_name(name: &str) -> Result<(), LogsError> {
    if (1..=512).contains(&name.len()) && !name.contains([':', '*']) {
        Ok(())
    } else {
        Err(LogsError::invalid_parameter(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]* (1 to 512 characters)"
        )))
    }
}

/// The group a request names by `logGroupName` or `logGroupIdentifier` (a name or an ARN).
pub(crate) fn named_group(name: Option<String>, identifier: Option<String>) -> Result<String, LogsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => {
            Err(LogsError::invalid_parameter("LogGroupName and LogGroupIdentifier are mutually exclusive parameters."))
        }
        (Some(name), None) => Ok(name),
        (None, Some(id)) => Ok(group_of_arn(&id).map(str::to_string).unwrap_or(id)),
        (None, None) => {
            Err(LogsError::invalid_parameter("Either LogGroupName or LogGroupIdentifier must be specified."))
        }
    }
}

/// Creates the stream (in the writer's transaction); an existing one is an error.
pub(crate) fn insert_stream(conn: &Connection, group_id: i64, name: &str) -> Result<i64, LogsError> {
    if store::find_stream(conn, group_id, name)?.is_some() {
        return Err(LogsError::stream_exists());
    }
    conn.prepare_cached("INSERT INTO log_streams (group_id, name, created) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute((group_id, name, now_ms())))
        .map_err(db)?;
    Ok(conn.last_insert_rowid())
}

impl Logs {
    pub async fn create_log_stream(&self, region: Region<'_>, req: LogStreamRequest) -> Result<Empty, LogsError> {
        check_stream_name(&req.log_stream_name)?;
        let region = region.to_string();
        self.store
            .write(move |conn| {
                let group = store::group(conn, &region, &req.log_group_name)?;
                insert_stream(conn, group.id, &req.log_stream_name)?;
                Ok(Empty {})
            })
            .await
    }

    pub async fn delete_log_stream(&self, region: Region<'_>, req: LogStreamRequest) -> Result<Empty, LogsError> {
        let region = region.to_string();
        self.store
            .write(move |conn| {
                let group = store::group(conn, &region, &req.log_group_name)?;
                let stream = store::find_stream(conn, group.id, &req.log_stream_name)?
                    .ok_or_else(LogsError::stream_not_found)?;
                for sql in ["DELETE FROM log_events WHERE stream_id = ?1", "DELETE FROM log_streams WHERE id = ?1"] {
                    conn.prepare_cached(sql).and_then(|mut s| s.execute([stream])).map_err(db)?;
                }
                Ok(Empty {})
            })
            .await
    }

    pub async fn describe_log_streams(
        &self,
        region: Region<'_>,
        req: DescribeLogStreamsRequest,
    ) -> Result<DescribeLogStreamsResponse, LogsError> {
        let order = req.order().ok_or_else(|| {
            LogsError::invalid_parameter(format!(
                "orderBy '{}' is not one of LogStreamName, LastEventTime",
                req.order_by.as_deref().unwrap_or_default()
            ))
        })?;
        if order == OrderBy::LastEventTime && req.log_stream_name_prefix.is_some() {
            return Err(LogsError::invalid_parameter("Cannot order by LastEventTime with a logStreamNamePrefix."));
        }
        let page = limit(req.limit, 50, 50)?;
        let offset = req.next_token.as_deref().map(tokens::parse_offset_token).transpose()?.unwrap_or(0);
        let group_name = named_group(req.log_group_name, req.log_group_identifier)?;
        let descending = req.descending == Some(true);
        let region = region.to_string();
        let account = self.account.clone();
        let prefix = req.log_stream_name_prefix;
        self.store
            .read(move |conn| {
                let group = store::group(conn, &region, &group_name)?;
                let order_sql = match (order, descending) {
                    (OrderBy::LogStreamName, false) => "name ASC",
                    (OrderBy::LogStreamName, true) => "name DESC",
                    (OrderBy::LastEventTime, false) => "COALESCE(last_ts, 0) ASC, name ASC",
                    (OrderBy::LastEventTime, true) => "COALESCE(last_ts, 0) DESC, name DESC",
                };
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT name, created, first_ts, last_ts, last_ingest, stored_bytes, cursor FROM log_streams
                         WHERE group_id = ?1 AND substr(name, 1, length(?2)) = ?2
                         ORDER BY {order_sql} LIMIT ?3 OFFSET ?4"
                    ))
                    .map_err(db)?;
                let streams = stmt
                    .query_map((group.id, prefix.as_deref().unwrap_or(""), (page + 1) as i64, offset as i64), |r| {
                        let name: String = r.get(0)?;
                        Ok(LogStream {
                            arn: stream_arn(&region, &account, &group.name, &name),
                            log_stream_name: name,
                            creation_time: r.get(1)?,
                            first_event_timestamp: r.get(2)?,
                            last_event_timestamp: r.get(3)?,
                            last_ingestion_time: r.get(4)?,
                            stored_bytes: r.get(5)?,
                            berth_cursor: r.get(6)?,
                        })
                    })
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(db)?;
                let more = streams.len() > page;
                Ok(DescribeLogStreamsResponse {
                    log_streams: streams.into_iter().take(page).collect(),
                    next_token: more.then(|| tokens::offset_token(offset + page)),
                })
            })
            .await
    }
}
