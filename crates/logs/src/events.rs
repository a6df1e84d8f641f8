//! Log events: PutLogEvents, GetLogEvents, FilterLogEvents, and berth's FollowLogEvents
//! (new events of some streams in the order they were committed, long-polled).

use std::{collections::HashMap, time::Duration};

use berth_model::logs::*;
use rusqlite::{Connection, Row};

use crate::{
    limit, now_ms,
    pattern::Pattern,
    store::{self, db},
    streams::named_group,
    tokens::{self, Direction, Position},
    Logs, Region,
};

/// The most a GetLogEvents or FilterLogEvents answer carries.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// How many events one FilterLogEvents call examines before it answers with what it has
/// and a token (CloudWatch, too, answers partial pages).
const FILTER_SCAN_BUDGET: usize = 100_000;
/// The longest FollowLogEvents waits for a first event.
const MAX_FOLLOW_WAIT: Duration = Duration::from_secs(20);

fn event_size(message: &str) -> usize {
    message.len() + EVENT_OVERHEAD
}

/// Checks a batch as CloudWatch does before storing any of it.
fn check_batch(events: &[InputLogEvent]) -> Result<(), LogsError> {
    if events.is_empty() {
        return Err(LogsError::invalid_parameter(
            "1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if events.len() > MAX_BATCH_EVENTS {
        return Err(LogsError::invalid_parameter(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to {MAX_BATCH_EVENTS} (got {})",
            events.len()
        )));
    }
    let mut total = 0;
    for (i, e) in events.iter().enumerate() {
        if e.message.is_empty() {
            return Err(LogsError::invalid_parameter(format!(
                "1 validation error detected: Value '' at 'logEvents.{}.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1",
                i + 1
            )));
        }
        let size = event_size(&e.message);
        if size > MAX_EVENT_BYTES {
            return Err(LogsError::invalid_parameter(format!(
                "Log event too large: event {i} is {size} bytes, more than the limit of {MAX_EVENT_BYTES}"
            )));
        }
        total += size;
    }
    if total > MAX_BATCH_BYTES {
        return Err(LogsError::invalid_parameter(format!(
            "Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    if events.windows(2).any(|w| w[1].timestamp < w[0].timestamp) {
        return Err(LogsError::invalid_parameter(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    Ok(())
}

/// Which events of a (checked, chronological) batch CloudWatch would refuse, and why.
fn rejections(
    events: &[InputLogEvent],
    now: i64,
    retention_days: Option<i32>,
) -> (RejectedLogEventsInfo, usize, usize) {
    let too_old = |e: &InputLogEvent| e.timestamp < now - MAX_AGE_MS;
    let expired = |e: &InputLogEvent| retention_days.is_some_and(|d| e.timestamp < now - d as i64 * 86_400_000);
    let too_new = |e: &InputLogEvent| e.timestamp > now + MAX_FUTURE_MS;
    let old_end = events.iter().rposition(too_old);
    let expired_end = events.iter().rposition(expired);
    let new_start = events.iter().position(too_new);
    let info = RejectedLogEventsInfo {
        too_old_log_event_end_index: old_end.map(|i| i as i32),
        expired_log_event_end_index: expired_end.map(|i| i as i32),
        too_new_log_event_start_index: new_start.map(|i| i as i32),
    };
    let first = old_end.max(expired_end).map_or(0, |i| i + 1);
    let end = new_start.unwrap_or(events.len()).max(first);
    (info, first, end)
}

fn position(r: &Row) -> rusqlite::Result<Position> {
    Ok(Position { ts: r.get("ts")?, id: r.get("id")? })
}

/// One stored event as read back.
struct Stored {
    at: Position,
    stream_id: i64,
    ingest: i64,
    message: String,
}

fn stored(r: &Row) -> rusqlite::Result<Stored> {
    Ok(Stored {
        at: position(r)?,
        stream_id: r.get("stream_id")?,
        ingest: r.get("ingest")?,
        message: r.get("message")?,
    })
}

impl Logs {
    pub async fn put_log_events(
        &self,
        region: Region<'_>,
        req: PutLogEventsRequest,
    ) -> Result<PutLogEventsResponse, LogsError> {
        check_batch(&req.log_events)?;
        let region = region.to_string();
        self.store
            .write(move |conn| {
                let group = store::group(conn, &region, &req.log_group_name)?;
                let stream = store::find_stream(conn, group.id, &req.log_stream_name)?
                    .ok_or_else(LogsError::stream_not_found)?;
                if req.berth_cursor.is_some() && stream_cursor(conn, stream)? == req.berth_cursor {
                    // A batch sent again after its answer was lost: it is stored already.
                    return Ok(PutLogEventsResponse::default());
                }
                let now = now_ms();
                let (info, first, end) = rejections(&req.log_events, now, group.retention_days);
                let accepted = &req.log_events[first..end];
                if let (Some(a), Some(b)) = (accepted.first(), accepted.last()) {
                    if b.timestamp - a.timestamp > MAX_BATCH_SPAN_MS {
                        return Err(LogsError::invalid_parameter(
                            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
                        ));
                    }
                }
                insert_events(conn, group.id, stream, accepted, now)?;
                if let Some(cursor) = &req.berth_cursor {
                    conn.prepare_cached("UPDATE log_streams SET cursor = ?1 WHERE id = ?2")
                        .and_then(|mut s| s.execute((cursor, stream)))
                        .map_err(db)?;
                }
                Ok(PutLogEventsResponse {
                    next_sequence_token: Some(format!("{:056}", conn.last_insert_rowid())),
                    rejected_log_events_info: (!info.is_empty()).then_some(info),
                })
            })
            .await
    }

    pub async fn get_log_events(
        &self,
        region: Region<'_>,
        req: GetLogEventsRequest,
    ) -> Result<GetLogEventsResponse, LogsError> {
        let group_name = named_group(req.log_group_name, req.log_group_identifier)?;
        let page = limit(req.limit, 10_000, 10_000)?;
        let token = req.next_token.as_deref().map(tokens::parse_stream_token).transpose()?;
        let (direction, from) = match token {
            Some(t) => t,
            None if req.start_from_head == Some(true) => (Direction::Forward, Position { ts: i64::MIN, id: 0 }),
            None => (Direction::Backward, Position { ts: i64::MAX, id: 0 }),
        };
        let start = req.start_time.unwrap_or(i64::MIN);
        // endTime excludes events at that time.
        let end = req.end_time.map_or(i64::MAX, |e| e.saturating_sub(1));
        let region = region.to_string();
        let stream_name = req.log_stream_name;
        let given = req.next_token;
        self.store
            .read(move |conn| {
                let group = store::group(conn, &region, &group_name)?;
                let stream = store::find_stream(conn, group.id, &stream_name)?.ok_or_else(LogsError::stream_not_found)?;
                let sql = match direction {
                    Direction::Forward => "SELECT id, ts, stream_id, ingest, message FROM log_events
                        WHERE stream_id = ?1 AND ts >= ?2 AND ts <= ?3 AND (ts, id) > (?4, ?5) ORDER BY ts, id LIMIT ?6",
                    Direction::Backward => "SELECT id, ts, stream_id, ingest, message FROM log_events
                        WHERE stream_id = ?1 AND ts >= ?2 AND ts <= ?3 AND (ts, id) < (?4, ?5) ORDER BY ts DESC, id DESC LIMIT ?6",
                };
                let mut stmt = conn.prepare_cached(sql).map_err(db)?;
                let mut rows = stmt.query((stream, start, end, from.ts, from.id, page as i64)).map_err(db)?;
                let mut events = Vec::new();
                let mut bytes = 0;
                while let Some(row) = rows.next().map_err(db)? {
                    let e = stored(row).map_err(db)?;
                    bytes += event_size(&e.message);
                    if bytes > MAX_RESPONSE_BYTES && !events.is_empty() {
                        break;
                    }
                    events.push(e);
                }
                if direction == Direction::Backward {
                    events.reverse();
                }
                let (forward, backward) = match (events.first(), events.last()) {
                    (Some(first), Some(last)) => (
                        tokens::stream_token(Direction::Forward, last.at),
                        tokens::stream_token(Direction::Backward, first.at),
                    ),
                    // At either end the token comes back unchanged, as CloudWatch's does.
                    _ => {
                        let at = match token {
                            Some((_, at)) => at,
                            None => Position { ts: start.max(0), id: 0 },
                        };
                        let echo = |d| match (&given, token) {
                            (Some(t), Some((td, _))) if td == d => t.clone(),
                            _ => tokens::stream_token(d, at),
                        };
                        (echo(Direction::Forward), echo(Direction::Backward))
                    }
                };
                Ok(GetLogEventsResponse {
                    events: events
                        .into_iter()
                        .map(|e| OutputLogEvent { timestamp: e.at.ts, message: e.message, ingestion_time: e.ingest })
                        .collect(),
                    next_forward_token: forward,
                    next_backward_token: backward,
                })
            })
            .await
    }

    pub async fn filter_log_events(
        &self,
        region: Region<'_>,
        req: FilterLogEventsRequest,
    ) -> Result<FilterLogEventsResponse, LogsError> {
        let group_name = named_group(req.log_group_name, req.log_group_identifier)?;
        if req.log_stream_names.is_some() && req.log_stream_name_prefix.is_some() {
            return Err(LogsError::invalid_parameter(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
            ));
        }
        if req.log_stream_names.as_ref().is_some_and(|n| n.is_empty() || n.len() > 100) {
            return Err(LogsError::invalid_parameter("logStreamNames takes 1 to 100 stream names."));
        }
        let pattern = Pattern::parse(req.filter_pattern.as_deref().unwrap_or(""))
            .map_err(|e| LogsError::invalid_parameter(format!("Invalid filter pattern: {e}")))?;
        let page = limit(req.limit, 10_000, 10_000)?;
        let after = req.next_token.as_deref().map(tokens::parse_filter_token).transpose()?;
        let start = req.start_time.unwrap_or(i64::MIN);
        let end = req.end_time.unwrap_or(i64::MAX);
        let region = region.to_string();
        self.store
            .read(move |conn| {
                let group = store::group(conn, &region, &group_name)?;
                let streams = select_streams(conn, group.id, req.log_stream_names, req.log_stream_name_prefix)?;
                let names: HashMap<i64, &String> = streams.iter().map(|(id, name)| (*id, name)).collect();
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, ts, stream_id, ingest, message FROM log_events
                         WHERE group_id = ?1 AND ts >= ?2 AND ts <= ?3 AND (ts, id) > (?4, ?5) ORDER BY ts, id LIMIT ?6",
                    )
                    .map_err(db)?;
                let from = after.unwrap_or(Position { ts: i64::MIN, id: 0 });
                let mut rows = stmt.query((group.id, start, end, from.ts, from.id, (FILTER_SCAN_BUDGET + 1) as i64)).map_err(db)?;
                let mut events = Vec::new();
                let (mut scanned, mut bytes, mut last, mut more) = (0, 0, None, false);
                while let Some(row) = rows.next().map_err(db)? {
                    if scanned == FILTER_SCAN_BUDGET || events.len() == page || bytes > MAX_RESPONSE_BYTES {
                        more = true;
                        break;
                    }
                    scanned += 1;
                    let e = stored(row).map_err(db)?;
                    last = Some(e.at);
                    let Some(name) = names.get(&e.stream_id) else { continue };
                    if !pattern.matches(&e.message) {
                        continue;
                    }
                    bytes += event_size(&e.message);
                    events.push(FilteredLogEvent {
                        log_stream_name: (*name).clone(),
                        timestamp: e.at.ts,
                        message: e.message,
                        ingestion_time: e.ingest,
                        event_id: format!("{:056}", e.at.id),
                    });
                }
                Ok(FilterLogEventsResponse {
                    events,
                    searched_log_streams: streams
                        .into_iter()
                        .map(|(_, name)| SearchedLogStream { log_stream_name: name, searched_completely: !more })
                        .collect(),
                    next_token: if more { last.map(tokens::filter_token) } else { None },
                })
            })
            .await
    }

    /// berth's follow: events of `streams` committed after `after` (or, on the first call,
    /// those at or after `startTime`), in commit order, waiting up to `waitMs` for one.
    pub async fn follow_log_events(
        &self,
        region: Region<'_>,
        req: FollowLogEventsRequest,
    ) -> Result<FollowLogEventsResponse, LogsError> {
        let page = limit(req.limit, 10_000, 10_000)?;
        let wait = Duration::from_millis(req.wait_ms.unwrap_or(0)).min(MAX_FOLLOW_WAIT);
        let deadline = tokio::time::Instant::now() + wait;
        let mut committed = self.store.committed();
        loop {
            committed.borrow_and_update();
            let region = region.to_string();
            let refs = req.streams.clone();
            let window = Window { after: req.after, through: req.through, start: req.start_time };
            let answer = self.store.read(move |conn| follow_page(conn, &region, &refs, window, page)).await?;
            if !answer.events.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(answer);
            }
            if tokio::time::timeout_at(deadline, committed.changed()).await.is_err() {
                return Ok(answer);
            }
        }
    }
}

fn stream_cursor(conn: &Connection, stream: i64) -> Result<Option<String>, LogsError> {
    conn.prepare_cached("SELECT cursor FROM log_streams WHERE id = ?1")
        .and_then(|mut s| s.query_row([stream], |r| r.get(0)))
        .map_err(db)
}

/// Stores the accepted events and updates the stream's summary.
fn insert_events(
    conn: &Connection,
    group: i64,
    stream: i64,
    events: &[InputLogEvent],
    now: i64,
) -> Result<(), LogsError> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else { return Ok(()) };
    let mut insert = conn
        .prepare_cached("INSERT INTO log_events (group_id, stream_id, ts, ingest, message) VALUES (?1, ?2, ?3, ?4, ?5)")
        .map_err(db)?;
    let mut bytes = 0i64;
    for e in events {
        insert.execute((group, stream, e.timestamp, now, &e.message)).map_err(db)?;
        bytes += e.message.len() as i64;
    }
    conn.prepare_cached(
        "UPDATE log_streams SET first_ts = MIN(COALESCE(first_ts, ?1), ?1), last_ts = MAX(COALESCE(last_ts, ?2), ?2),
         last_ingest = ?3, stored_bytes = stored_bytes + ?4 WHERE id = ?5",
    )
    .and_then(|mut s| s.execute((first.timestamp, last.timestamp, now, bytes, stream)))
    .map_err(db)?;
    Ok(())
}

/// The streams a FilterLogEvents call searches: the named ones (each must exist), those
/// with the prefix, or all of the group's.
fn select_streams(
    conn: &Connection,
    group: i64,
    names: Option<Vec<String>>,
    prefix: Option<String>,
) -> Result<Vec<(i64, String)>, LogsError> {
    if let Some(names) = names {
        return names
            .into_iter()
            .map(|n| Ok((store::find_stream(conn, group, &n)?.ok_or_else(LogsError::stream_not_found)?, n)))
            .collect();
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, name FROM log_streams WHERE group_id = ?1 AND substr(name, 1, length(?2)) = ?2 ORDER BY name",
        )
        .map_err(db)?;
    stmt.query_map((group, prefix.unwrap_or_default()), |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(db)
}

/// Which events a follow call wants: committed after `after` and at or before `through`;
/// on a first call (no `after`), those at or after `start`.
#[derive(Debug, Clone, Copy)]
struct Window {
    after: Option<i64>,
    through: Option<i64>,
    start: Option<i64>,
}

fn follow_page(
    conn: &Connection,
    region: &str,
    refs: &[StreamRef],
    Window { after, through, start }: Window,
    page: usize,
) -> Result<FollowLogEventsResponse, LogsError> {
    // Where a call that finds nothing continues: where it started, or (a first call) at the
    // newest event, so events of streams created later are seen.
    let unchanged = || after.map_or_else(|| store::newest_event(conn).map_err(db), Ok);
    let mut streams: HashMap<i64, &StreamRef> = HashMap::new();
    for r in refs {
        if let Some(group) = store::find_group(conn, region, &r.log_group_name)? {
            if let Some(id) = store::find_stream(conn, group.id, &r.log_stream_name)? {
                streams.insert(id, r);
            }
        }
    }
    if streams.is_empty() {
        return Ok(FollowLogEventsResponse { events: Vec::new(), position: unchanged()? });
    }
    let ids: Vec<String> = streams.keys().map(|id| id.to_string()).collect();
    let sql = format!(
        "SELECT id, ts, stream_id, ingest, message FROM log_events WHERE id > ?1 AND id <= ?4 AND ts >= ?2 AND stream_id IN ({}) ORDER BY id LIMIT ?3",
        ids.join(",")
    );
    let mut stmt = conn.prepare(&sql).map_err(db)?;
    let ts_floor = if after.is_some() { i64::MIN } else { start.unwrap_or(i64::MIN) };
    let mut rows = stmt.query((after.unwrap_or(0), ts_floor, page as i64, through.unwrap_or(i64::MAX))).map_err(db)?;
    let (mut events, mut bytes) = (Vec::new(), 0);
    while let Some(row) = rows.next().map_err(db)? {
        let e = stored(row).map_err(db)?;
        bytes += event_size(&e.message);
        if bytes > MAX_RESPONSE_BYTES && !events.is_empty() {
            break;
        }
        events.push(e);
    }
    let position = match events.last() {
        Some(e) => e.at.id,
        None => unchanged()?,
    };
    Ok(FollowLogEventsResponse {
        position,
        events: events
            .into_iter()
            .filter_map(|e| {
                let r = streams.get(&e.stream_id)?;
                Some(FollowedLogEvent {
                    log_group_name: r.log_group_name.clone(),
                    log_stream_name: r.log_stream_name.clone(),
                    timestamp: e.at.ts,
                    ingestion_time: e.ingest,
                    message: e.message,
                })
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64) -> InputLogEvent {
        InputLogEvent { timestamp: ts, message: "m".into() }
    }

    #[test]
    fn rejections_split_old_expired_and_new() {
        let now = 100 * 86_400_000;
        let batch = [ev(now - 20 * 86_400_000), ev(now - 2 * 86_400_000), ev(now), ev(now + 3 * 3_600_000)];
        let (info, first, end) = rejections(&batch, now, Some(1));
        assert_eq!(info.too_old_log_event_end_index, Some(0));
        assert_eq!(info.expired_log_event_end_index, Some(1));
        assert_eq!(info.too_new_log_event_start_index, Some(3));
        assert_eq!((first, end), (2, 3));
        let (info, first, end) = rejections(&batch[2..3], now, None);
        assert!(info.is_empty());
        assert_eq!((first, end), (0, 1));
    }

    #[test]
    fn batches_are_checked_as_cloudwatch_checks_them() {
        assert!(check_batch(&[]).is_err());
        assert!(check_batch(&[ev(2), ev(1)]).unwrap_err().message.contains("chronological"));
        let big = InputLogEvent { timestamp: 1, message: "x".repeat(MAX_EVENT_BYTES) };
        assert!(check_batch(&[big]).unwrap_err().message.contains("too large"));
        let many: Vec<_> = (0..MAX_BATCH_EVENTS as i64 + 1).map(ev).collect();
        assert!(check_batch(&many).is_err());
        let heavy: Vec<_> = (0..5).map(|i| InputLogEvent { timestamp: i, message: "y".repeat(250_000) }).collect();
        assert!(check_batch(&heavy).unwrap_err().message.contains("Upload too large"));
        assert!(check_batch(&[ev(1), ev(1), ev(3)]).is_ok());
    }
}
