//! One container's shipper: reads the engine's log from where the server says the last
//! batch ended, turns entries into events, and sends batches one at a time.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use berth_client::ClientError;
use berth_model::logs::{
    DescribeLogStreamsRequest, DescribeLogStreamsResponse, InputLogEvent, PutLogEventsRequest, PutLogEventsResponse,
    EVENT_OVERHEAD, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_BATCH_SPAN_MS,
};
use berth_runtime::ContainerRuntime;
use futures_util::{future::BoxFuture, FutureExt, StreamExt};

use super::{lines, Assembler, Cursor, Destination, Event, LogShipping};

/// In blocking mode, reading pauses while this much waits unsent.
const BLOCKING_BUFFER: usize = 4 << 20;
/// A multi-line event with no new line for this long is sent as it is.
const MULTILINE_FLUSH: Duration = Duration::from_secs(1);
/// Between attempts when the server cannot take a batch.
const RETRY: Duration = Duration::from_millis(500);

/// What waits to be sent, and what was dropped (non-blocking mode).
#[derive(Default)]
struct Buffer {
    events: VecDeque<Event>,
    bytes: usize,
    dropped: u64,
    dropped_at: Option<Cursor>,
}

impl Buffer {
    fn push(&mut self, event: Event, limit: Option<usize>) {
        let size = event.message.len() + EVENT_OVERHEAD;
        if limit.is_some_and(|l| self.bytes + size > l) {
            self.dropped += 1;
            self.dropped_at = Some(event.cursor);
            return;
        }
        if self.dropped > 0 {
            let note = format!(
                "[berth] {} log lines were dropped here: the awslogs buffer (mode non-blocking, max-buffer-size {} bytes) was full",
                self.dropped,
                limit.unwrap_or_default()
            );
            let cursor = self.dropped_at.take().unwrap_or(event.cursor);
            self.bytes += note.len() + EVENT_OVERHEAD;
            self.events.push_back(Event { timestamp_ms: event.timestamp_ms, message: note, cursor });
            tracing::warn!(dropped = self.dropped, "non-blocking awslogs dropped log lines");
            self.dropped = 0;
        }
        self.bytes += size;
        self.events.push_back(event);
    }

    /// The next batch: from the front, within CloudWatch's limits, timestamps never
    /// going back (the engine's stdout and stderr clocks may cross by a little).
    fn batch(&self, floor_ms: i64) -> (Vec<InputLogEvent>, Cursor) {
        let mut out = Vec::new();
        let (mut bytes, mut last, mut cursor) = (0, floor_ms, Cursor::default());
        for e in &self.events {
            let size = e.message.len() + EVENT_OVERHEAD;
            let ts = e.timestamp_ms.max(last);
            let first = out.first().map_or(ts, |f: &InputLogEvent| f.timestamp);
            if out.len() == MAX_BATCH_EVENTS || bytes + size > MAX_BATCH_BYTES || ts - first > MAX_BATCH_SPAN_MS {
                break;
            }
            bytes += size;
            last = ts;
            cursor = e.cursor;
            out.push(InputLogEvent { timestamp: ts, message: e.message.clone() });
        }
        (out, cursor)
    }

    fn sent(&mut self, n: usize) {
        for e in self.events.drain(..n) {
            self.bytes -= e.message.len() + EVENT_OVERHEAD;
        }
    }
}

type Sending = BoxFuture<'static, Result<PutLogEventsResponse, ClientError>>;

impl<R: ContainerRuntime> LogShipping<R> {
    /// Where the server says this stream's shipping got to.
    async fn resume_point(&self, to: &Destination) -> Option<Cursor> {
        let request = DescribeLogStreamsRequest {
            log_group_name: Some(to.options.group.clone()),
            log_stream_name_prefix: Some(to.stream.clone()),
            limit: Some(1),
            ..Default::default()
        };
        loop {
            match self.call::<DescribeLogStreamsResponse>("DescribeLogStreams", &request).await {
                Ok(found) => {
                    let stream = found.log_streams.into_iter().find(|s| s.log_stream_name == to.stream)?;
                    return stream.berth_cursor.as_deref().and_then(Cursor::decode);
                }
                Err(e) if e.is_transient() => tokio::time::sleep(RETRY).await,
                Err(e) => {
                    tracing::warn!(stream = %to.stream, error = %e, "cannot read where shipping got to; starting from the beginning");
                    return None;
                }
            }
        }
    }

    pub(super) async fn run_shipper(self: Arc<Self>, container: String, to: Destination) {
        let start = match lines::start_pattern(
            to.options.multiline_pattern.as_deref(),
            to.options.datetime_format.as_deref(),
        ) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(%container, error = %e, "shipping lines one by one");
                None
            }
        };
        let resume = self.resume_point(&to).await;
        let mut assembler = Assembler::new(start, resume);
        let since = resume.map_or(0, |c| c.ts_ns.div_euclid(1_000_000_000));
        let mut output = self.runtime.logs(&container, since);
        let limit = to.options.non_blocking.then_some(to.options.max_buffer_size);
        let mut buffer = Buffer::default();
        let mut sending: Option<Sending> = None;
        // The batch in flight, kept until the server takes it; a retry sends it unchanged,
        // so the server knows a repeat by its cursor.
        let mut batch: Option<PutLogEventsRequest> = None;
        let mut floor_ms = i64::MIN;
        let mut ended = false;
        let mut fresh = Vec::new();
        // Where the previous reading of the engine's log ended.
        let mut read_before = None;
        loop {
            let can_read = !ended && (limit.is_some() || buffer.bytes < BLOCKING_BUFFER);
            let multiline_wait = async {
                if assembler.has_open() {
                    tokio::time::sleep(MULTILINE_FLUSH).await
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                chunk = output.next(), if can_read => match chunk {
                    Some(Ok(chunk)) => assembler.push(chunk.stderr, &chunk.bytes, &mut fresh),
                    end => {
                        if let Some(Err(e)) = end {
                            tracing::warn!(%container, error = %e, "reading the container's log failed");
                        }
                        // The engine may end a follow before it has handed out all of an
                        // exited container's log (or when it restarts): read again from
                        // the last line read until a reading brings nothing new.
                        let at = assembler.position();
                        if at != read_before || self.runtime_running(&container).await {
                            if at == read_before {
                                // Running, but the engine ended the follow: not in a hot loop.
                                tokio::time::sleep(RETRY).await;
                            }
                            read_before = at;
                            assembler.reread_after(at);
                            let since = at.map_or(0, |c| c.ts_ns.div_euclid(1_000_000_000));
                            output = self.runtime.logs(&container, since);
                        } else {
                            assembler.flush(true, &mut fresh);
                            ended = true;
                        }
                    }
                },
                result = async { sending.as_mut().expect("guarded").await }, if sending.is_some() => {
                    sending = None;
                    let n = batch.as_ref().map_or(0, |b| b.log_events.len());
                    let keep = match result {
                        Ok(_) => false,
                        Err(e) => self.failed_batch(&to, n, e).await,
                    };
                    if !keep {
                        floor_ms = batch.take().and_then(|b| b.log_events.last().map(|e| e.timestamp)).unwrap_or(floor_ms);
                        buffer.sent(n);
                    }
                }
                _ = multiline_wait => assembler.flush(false, &mut fresh),
            }
            for event in fresh.drain(..) {
                buffer.push(event, limit);
            }
            if batch.is_none() && !buffer.events.is_empty() {
                let (log_events, cursor) = buffer.batch(floor_ms);
                batch = Some(PutLogEventsRequest {
                    log_group_name: to.options.group.clone(),
                    log_stream_name: to.stream.clone(),
                    berth_cursor: Some(cursor.encode()),
                    log_events,
                    ..Default::default()
                });
            }
            if let (None, Some(request)) = (&sending, &batch) {
                let shipping = self.clone();
                let request = request.clone();
                sending =
                    Some(async move { shipping.call::<PutLogEventsResponse>("PutLogEvents", &request).await }.boxed());
            }
            if ended && batch.is_none() && buffer.events.is_empty() {
                return;
            }
        }
    }

    /// Whether the container still runs (its log may grow).
    async fn runtime_running(&self, container: &str) -> bool {
        matches!(self.runtime.inspect(container).await, Ok(Some(s)) if s.state == berth_runtime::RunState::Running)
    }

    /// A batch the server did not take: whether to send it again (after a pause, or once
    /// its stream exists again) or give up on it (the server will never take it).
    async fn failed_batch(&self, to: &Destination, n: usize, e: ClientError) -> bool {
        match &e {
            e if e.is_transient() || e.is_unauthorized() => {
                tokio::time::sleep(RETRY).await;
                true
            }
            ClientError::Api { code, .. } if code == "ResourceNotFoundException" => {
                // The stream or group was deleted while the container ran: make it again
                // if the options allow, else these lines have nowhere to go.
                match self.prepare(to).await {
                    Ok(()) => true,
                    Err(problem) => {
                        tracing::warn!(stream = %to.stream, %problem, lines = n, "dropping log lines");
                        false
                    }
                }
            }
            e => {
                tracing::warn!(stream = %to.stream, error = %e, lines = n, "the server refused log lines; dropping them");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: i64, ts: i64) -> Event {
        Event { timestamp_ms: ts, message: format!("line {i}"), cursor: Cursor { ts_ns: ts * 1_000_000, seq: 0 } }
    }

    #[test]
    fn non_blocking_drops_past_the_limit_counts_and_says_so() {
        let mut buffer = Buffer::default();
        let size = "line 0".len() + EVENT_OVERHEAD;
        let limit = Some(size * 3);
        for i in 0..5 {
            buffer.push(event(i, i), limit);
        }
        assert_eq!(buffer.events.len(), 3);
        assert_eq!(buffer.dropped, 2);
        buffer.sent(3);
        buffer.push(event(5, 5), limit);
        let texts: Vec<&str> = buffer.events.iter().map(|e| e.message.as_str()).collect();
        assert!(texts[0].starts_with("[berth] 2 log lines were dropped"), "{texts:?}");
        assert_eq!(texts[1], "line 5");
        assert_eq!(buffer.events[0].cursor, event(4, 4).cursor, "the note stands where the dropped lines were");
        // Blocking mode (no limit) never drops.
        let mut blocking = Buffer::default();
        (0..100).for_each(|i| blocking.push(event(i, i), None));
        assert_eq!((blocking.events.len(), blocking.dropped), (100, 0));
    }

    #[test]
    fn batches_keep_cloudwatch_limits_and_never_go_back_in_time() {
        let mut buffer = Buffer::default();
        for (i, ts) in [(0, 100), (1, 99), (2, 101)] {
            buffer.push(event(i, ts), None);
        }
        let (batch, cursor) = buffer.batch(i64::MIN);
        let stamps: Vec<i64> = batch.iter().map(|e| e.timestamp).collect();
        assert_eq!(stamps, [100, 100, 101], "stderr's clock behind stdout's is evened out");
        assert_eq!(cursor, event(2, 101).cursor);
        let (batch, _) = buffer.batch(200);
        assert!(batch.iter().all(|e| e.timestamp == 200), "the floor is the last batch's end");
        let mut many = Buffer::default();
        (0..(MAX_BATCH_EVENTS as i64 + 5)).for_each(|i| many.push(event(i, i), None));
        assert_eq!(many.batch(i64::MIN).0.len(), MAX_BATCH_EVENTS);
        let mut wide = Buffer::default();
        wide.push(event(0, 0), None);
        wide.push(event(1, MAX_BATCH_SPAN_MS + 1), None);
        assert_eq!(wide.batch(i64::MIN).0.len(), 1, "a batch spans at most 24 hours");
    }
}
