//! Paging tokens. GetLogEvents' look like CloudWatch's (`f/` or `b/`, 56 digits, `/s`): the
//! digits hold the timestamp and event id the page ends at. The others are an opaque
//! position string.

use berth_model::logs::LogsError;

/// A place between events, in (timestamp, id) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub ts: i64,
    pub id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

pub fn stream_token(direction: Direction, at: Position) -> String {
    let d = match direction {
        Direction::Forward => 'f',
        Direction::Backward => 'b',
    };
    format!("{d}/{:020}{:036}/s", at.ts.max(0), at.id.max(0))
}

pub fn parse_stream_token(token: &str) -> Result<(Direction, Position), LogsError> {
    let bad = || LogsError::invalid_parameter("The specified nextToken is invalid.");
    let (d, rest) = token.split_at_checked(2).ok_or_else(bad)?;
    let direction = match d {
        "f/" => Direction::Forward,
        "b/" => Direction::Backward,
        _ => return Err(bad()),
    };
    let digits = rest.strip_suffix("/s").filter(|d| d.len() == 56).ok_or_else(bad)?;
    let ts = digits[..20].parse().map_err(|_| bad())?;
    let id = digits[20..].parse().map_err(|_| bad())?;
    Ok((direction, Position { ts, id }))
}

/// FilterLogEvents' token: the (timestamp, id) after which the next page starts.
pub fn filter_token(at: Position) -> String {
    format!("{}-{}", at.ts, at.id)
}

pub fn parse_filter_token(token: &str) -> Result<Position, LogsError> {
    let bad = || LogsError::invalid_parameter("The specified nextToken is invalid.");
    let (ts, id) = token.split_once('-').ok_or_else(bad)?;
    Ok(Position { ts: ts.parse().map_err(|_| bad())?, id: id.parse().map_err(|_| bad())? })
}

/// DescribeLogGroups' and DescribeLogStreams' token: the offset of the next page.
pub fn offset_token(offset: usize) -> String {
    format!("o{offset}")
}

pub fn parse_offset_token(token: &str) -> Result<usize, LogsError> {
    token
        .strip_prefix('o')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| LogsError::invalid_parameter("The specified nextToken is invalid."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_tokens_round_trip_and_look_like_cloudwatch() {
        let at = Position { ts: 1_700_000_000_123, id: 42 };
        let t = stream_token(Direction::Forward, at);
        assert!(t.starts_with("f/") && t.ends_with("/s") && t.len() == 60);
        assert_eq!(parse_stream_token(&t).unwrap(), (Direction::Forward, at));
        assert!(parse_stream_token("f/12/s").is_err());
        assert_eq!(parse_filter_token(&filter_token(at)).unwrap(), at);
        assert_eq!(parse_offset_token(&offset_token(7)).unwrap(), 7);
    }
}
