//! From the engine's log entries to CloudWatch events: the timestamp each entry carries,
//! partial entries (the engine splits lines over 16 KiB) joined into lines, lines grouped
//! into multi-line events by `awslogs-multiline-pattern` or `awslogs-datetime-format`, and
//! events longer than CloudWatch takes split as Docker's awslogs driver splits them.
//! Each line has a position — its timestamp in nanoseconds and how many lines before it
//! had that same timestamp — which is what a restarted shipper resumes after.

use berth_model::logs::{EVENT_OVERHEAD, MAX_EVENT_BYTES};

/// Where a line sits in a container's output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub ts_ns: i64,
    /// Lines before this one with the same timestamp.
    pub seq: u32,
}

impl Cursor {
    pub fn encode(self) -> String {
        format!("{}:{}", self.ts_ns, self.seq)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (ts, seq) = text.split_once(':')?;
        Some(Cursor { ts_ns: ts.parse().ok()?, seq: seq.parse().ok()? })
    }
}

/// One event ready to ship.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub timestamp_ms: i64,
    pub message: String,
    /// The position of its last line.
    pub cursor: Cursor,
}

/// `2026-11-28T22:00:00.123456789Z` → nanoseconds since the epoch.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let days = berth_model::time::days_from_civil(num(0..4)?, num(5..7)?, num(8..10)?);
    let secs = days * 86_400 + num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
    let rest = &text[19..];
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    if zone != "Z" || frac.len() > 9 {
        return None;
    }
    let nanos = if frac.is_empty() { 0 } else { frac.parse::<i64>().ok()? * 10i64.pow(9 - frac.len() as u32) };
    Some(secs * 1_000_000_000 + nanos)
}

/// How lines become events: each line its own, or lines grouped under a start pattern.
pub struct Assembler {
    start: Option<regex_lite::Regex>,
    /// Per output stream (stdout, stderr): the part of a line the engine split.
    partial: [Option<(i64, Vec<u8>)>; 2],
    /// Lines seen per timestamp, for positions.
    last_ts: i64,
    seq: u32,
    /// Where to resume: lines at or before it were shipped already.
    skip_until: Option<Cursor>,
    /// The multi-line event being gathered.
    open: Option<Event>,
}

impl Assembler {
    pub fn new(start: Option<regex_lite::Regex>, resume_after: Option<Cursor>) -> Assembler {
        Assembler { start, partial: [None, None], last_ts: i64::MIN, seq: 0, skip_until: resume_after, open: None }
    }

    /// Takes one engine entry; appends finished events to `out`.
    pub fn push(&mut self, stderr: bool, entry: &[u8], out: &mut Vec<Event>) {
        let text_end = entry.iter().position(|&b| b == b' ').unwrap_or(entry.len());
        let Some(ts) = std::str::from_utf8(&entry[..text_end]).ok().and_then(parse_timestamp) else {
            tracing::debug!("a log entry without a timestamp was skipped");
            return;
        };
        let body = entry.get(text_end + 1..).unwrap_or_default();
        let slot = &mut self.partial[stderr as usize];
        let (line_ts, mut line) = slot.take().unwrap_or((ts, Vec::new()));
        line.extend_from_slice(body);
        if line.last() != Some(&b'\n') {
            *slot = Some((line_ts, line));
            return;
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        self.line(line_ts, String::from_utf8_lossy(&line).into_owned(), out);
    }

    fn line(&mut self, ts: i64, text: String, out: &mut Vec<Event>) {
        if ts == self.last_ts {
            self.seq += 1;
        } else {
            self.last_ts = ts;
            self.seq = 0;
        }
        let cursor = Cursor { ts_ns: ts, seq: self.seq };
        if self.skip_until.is_some_and(|s| cursor <= s) {
            return;
        }
        self.skip_until = None;
        let timestamp_ms = ts.div_euclid(1_000_000);
        match &self.start {
            None => emit(Event { timestamp_ms, message: text, cursor }, out),
            Some(start) if start.is_match(&text) || self.open.is_none() => {
                if let Some(done) = self.open.take() {
                    emit(done, out);
                }
                self.open = Some(Event { timestamp_ms, message: text, cursor });
            }
            Some(_) => {
                let open = self.open.as_mut().expect("checked above");
                open.message.push('\n');
                open.message.push_str(&text);
                open.cursor = cursor;
            }
        }
    }

    /// The position of the last whole line read, if any.
    pub fn position(&self) -> Option<Cursor> {
        (self.last_ts != i64::MIN).then_some(Cursor { ts_ns: self.last_ts, seq: self.seq })
    }

    /// Reading starts again from the engine (its follow ended early): lines up to the
    /// last one read are skipped, a partly read line is read again whole.
    pub fn reread_after(&mut self, last: Option<Cursor>) {
        if let Some(last) = last {
            self.skip_until = Some(self.skip_until.map_or(last, |s| s.max(last)));
        }
        self.partial = [None, None];
        self.last_ts = i64::MIN;
        self.seq = 0;
    }

    /// Whether a multi-line event is waiting for more lines.
    pub fn has_open(&self) -> bool {
        self.open.is_some()
    }

    /// Ends the open multi-line event (no more lines came in time, or the output ended),
    /// and, at the end of the output, a last line without a newline.
    pub fn flush(&mut self, end_of_output: bool, out: &mut Vec<Event>) {
        if end_of_output {
            for i in 0..2 {
                if let Some((ts, line)) = self.partial[i].take() {
                    self.line(ts, String::from_utf8_lossy(&line).into_owned(), out);
                }
            }
        }
        if let Some(done) = self.open.take() {
            emit(done, out);
        }
    }
}

/// Appends an event, split where it is longer than CloudWatch takes; empty lines are not
/// events (CloudWatch refuses empty messages).
fn emit(event: Event, out: &mut Vec<Event>) {
    const MAX: usize = MAX_EVENT_BYTES - EVENT_OVERHEAD;
    if event.message.is_empty() {
        return;
    }
    if event.message.len() <= MAX {
        out.push(event);
        return;
    }
    let mut rest = event.message.as_str();
    while !rest.is_empty() {
        let mut cut = rest.len().min(MAX);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(Event { timestamp_ms: event.timestamp_ms, message: rest[..cut].to_string(), cursor: event.cursor });
        rest = &rest[cut..];
    }
}

/// The start-of-event pattern the options give: `awslogs-multiline-pattern` as written,
/// or `awslogs-datetime-format` (strftime) turned into a pattern anchored at the start.
pub fn start_pattern(multiline: Option<&str>, datetime: Option<&str>) -> Result<Option<regex_lite::Regex>, String> {
    let source = match (multiline, datetime) {
        (Some(p), _) => p.to_string(),
        (None, Some(f)) => format!("^{}", strftime_regex(f)?),
        (None, None) => return Ok(None),
    };
    regex_lite::Regex::new(&source).map(Some).map_err(|e| format!("the log start pattern '{source}' is invalid: {e}"))
}

/// The regular expression matching what a strftime format prints (the codes Docker's
/// awslogs driver knows).
fn strftime_regex(format: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push_str(&regex_lite::escape(&c.to_string()));
            continue;
        }
        let code = chars.next().ok_or("awslogs-datetime-format ends with a lone %")?;
        out.push_str(match code {
            'a' => r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)",
            'A' => r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)",
            'b' | 'h' => r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)",
            'B' => r"(?:January|February|March|April|May|June|July|August|September|October|November|December)",
            'd' => r"(?:0[1-9]|[12][0-9]|3[01])",
            'e' => r"(?: [1-9]|[12][0-9]|3[01])",
            'H' => r"(?:[01][0-9]|2[0-3])",
            'I' => r"(?:0[1-9]|1[0-2])",
            'j' => r"(?:[0-2][0-9]{2}|3[0-5][0-9]|36[0-6])",
            'm' => r"(?:0[1-9]|1[0-2])",
            'M' => r"[0-5][0-9]",
            'S' => r"(?:[0-5][0-9]|60)",
            'L' => r"\d{3}",
            'f' => r"\d{1,9}",
            'p' => r"(?:AM|PM)",
            'y' => r"\d{2}",
            'Y' => r"\d{4}",
            'z' => r"(?:[+-]\d{2}:?\d{2}|Z)",
            'Z' => r"[A-Z]{1,5}",
            'w' => r"[0-6]",
            'U' | 'W' => r"(?:[0-4][0-9]|5[0-3])",
            '%' => "%",
            other => return Err(format!("awslogs-datetime-format: %{other} is not a code berth knows")),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts: &str, text: &str) -> Vec<u8> {
        format!("{ts} {text}").into_bytes()
    }

    #[test]
    fn timestamps_parse_to_nanoseconds() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.000000001Z"), Some(1));
        assert_eq!(parse_timestamp("2026-11-28T22:00:00Z"), Some(1_795_903_200_000_000_000));
        assert_eq!(parse_timestamp("garbage"), None);
    }

    #[test]
    fn lines_get_positions_and_a_resume_skips_what_was_shipped() {
        let mut a = Assembler::new(None, None);
        let mut out = Vec::new();
        a.push(false, &entry("1970-01-01T00:00:01Z", "one\n"), &mut out);
        a.push(false, &entry("1970-01-01T00:00:01Z", "two\n"), &mut out);
        a.push(true, &entry("1970-01-01T00:00:02Z", "half"), &mut out);
        a.push(true, &entry("1970-01-01T00:00:02.5Z", " and half\n"), &mut out);
        let texts: Vec<_> = out.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(texts, ["one", "two", "half and half"]);
        assert_eq!(out[1].cursor, Cursor { ts_ns: 1_000_000_000, seq: 1 });
        assert_eq!(out[2].timestamp_ms, 2000);

        let mut again = Assembler::new(None, Some(out[0].cursor));
        let mut resumed = Vec::new();
        again.push(false, &entry("1970-01-01T00:00:01Z", "one\n"), &mut resumed);
        again.push(false, &entry("1970-01-01T00:00:01Z", "two\n"), &mut resumed);
        assert_eq!(resumed.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["two"]);
        assert_eq!(Cursor::decode(&out[1].cursor.encode()), Some(out[1].cursor));
    }

    #[test]
    fn reading_again_skips_what_was_read_and_rereads_a_split_line() {
        let mut a = Assembler::new(None, None);
        let mut out = Vec::new();
        a.push(false, &entry("1970-01-01T00:00:01Z", "one\n"), &mut out);
        a.push(false, &entry("1970-01-01T00:00:01Z", "two\n"), &mut out);
        a.push(false, &entry("1970-01-01T00:00:02Z", "thr"), &mut out);
        let at = a.position();
        assert_eq!(at, Some(Cursor { ts_ns: 1_000_000_000, seq: 1 }));
        a.reread_after(at);
        for (ts, text) in [("01", "one\n"), ("01", "two\n"), ("02", "thr"), ("03", "ee\n"), ("04", "four\n")] {
            a.push(false, &entry(&format!("1970-01-01T00:00:{ts}Z"), text), &mut out);
        }
        let texts: Vec<&str> = out.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(texts, ["one", "two", "three", "four"]);
    }

    #[test]
    fn multiline_events_gather_until_the_next_start() {
        let start = start_pattern(None, Some("%Y-%m-%d %H:%M:%S")).unwrap();
        let mut a = Assembler::new(start, None);
        let mut out = Vec::new();
        for (i, text) in
            ["2026-01-02 03:04:05 boom\n", "  at frame 1\n", "  at frame 2\n", "2026-01-02 03:04:06 next\n"]
                .iter()
                .enumerate()
        {
            a.push(false, &entry(&format!("1970-01-01T00:00:0{i}Z"), text), &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].message, "2026-01-02 03:04:05 boom\n  at frame 1\n  at frame 2");
        assert_eq!(out[0].cursor.ts_ns, 2_000_000_000);
        assert!(a.has_open());
        a.flush(true, &mut out);
        assert_eq!(out[1].message, "2026-01-02 03:04:06 next");
        assert!(start_pattern(Some("^INFO|^ERROR"), None).unwrap().unwrap().is_match("ERROR x"));
        assert!(start_pattern(None, Some("%Q")).is_err());
    }

    #[test]
    fn long_lines_split_and_empty_lines_vanish() {
        let mut out = Vec::new();
        let long = "x".repeat(MAX_EVENT_BYTES);
        emit(Event { timestamp_ms: 1, message: long, cursor: Cursor::default() }, &mut out);
        emit(Event { timestamp_ms: 1, message: String::new(), cursor: Cursor::default() }, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|e| e.message.len() + EVENT_OVERHEAD <= MAX_EVENT_BYTES));
    }
}
