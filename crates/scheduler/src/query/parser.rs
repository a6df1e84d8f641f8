//! Parsing: tokens → an expression tree, with errors that say where and what was expected.

use super::{
    error::{QueryError, MAX_EXPRESSION_LEN},
    lexer::{tokenize, Tok, Token},
};

#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    AgentConnected,
    AgentVersion,
    Attribute(String),
    Ec2InstanceId,
    RegisteredAt,
    RunningTasksCount,
    TaskGroup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Exists,
    NotExists,
    In,
    NotIn,
    Matches,
    NotMatches,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Compare { subject: Subject, op: Op, values: Vec<String>, regex: Option<regex_lite::Regex> },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    end: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word { text, .. } => format!("'{text}'"),
        Tok::Symbol(s) => format!("'{s}'"),
        Tok::Not => "'not'".into(),
        Tok::And => "'and'".into(),
        Tok::Or => "'or'".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBracket => "'['".into(),
        Tok::RBracket => "']'".into(),
        Tok::Comma => "','".into(),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.position)
    }

    fn error<T>(&self, expected: &str) -> Result<T, QueryError> {
        let found = self.peek().map_or("the end of the expression".to_string(), describe);
        Err(QueryError { position: self.position(), message: format!("expected {expected}, found {found}") })
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        match self.peek() {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return self.error("')'");
                }
                self.pos += 1;
                Ok(inner)
            }
            _ => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let subject = match self.peek() {
            Some(Tok::Word { text, quoted: false }) => {
                let s = match text.as_str() {
                    "agentConnected" => Subject::AgentConnected,
                    "agentVersion" => Subject::AgentVersion,
                    "ec2InstanceId" => Subject::Ec2InstanceId,
                    "registeredAt" => Subject::RegisteredAt,
                    "runningTasksCount" => Subject::RunningTasksCount,
                    "task:group" => Subject::TaskGroup,
                    t => match t.strip_prefix("attribute:") {
                        Some(name) if !name.is_empty() => Subject::Attribute(name.to_string()),
                        _ => return self.error("a subject (attribute:NAME, agentConnected, agentVersion, ec2InstanceId, registeredAt, runningTasksCount or task:group)"),
                    },
                };
                self.pos += 1;
                s
            }
            _ => return self.error("a subject (attribute:NAME, agentConnected, agentVersion, ec2InstanceId, registeredAt, runningTasksCount or task:group)"),
        };
        let op = self.operator()?;
        let values = match op {
            Op::Exists | Op::NotExists => Vec::new(),
            Op::In | Op::NotIn => self.list()?,
            _ => vec![self.value()?],
        };
        let regex = match op {
            Op::Matches | Op::NotMatches => {
                let pattern = &values[0];
                let at = self.tokens[self.pos - 1].position;
                Some(regex_lite::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| QueryError {
                    position: at,
                    message: format!("invalid regular expression '{pattern}': {e}"),
                })?)
            }
            _ => None,
        };
        Ok(Expr::Compare { subject, op, values, regex })
    }

    fn operator(&mut self) -> Result<Op, QueryError> {
        let op = match self.peek() {
            Some(Tok::Symbol(s)) => match *s {
                "==" => Op::Eq,
                "!=" => Op::Ne,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "<" => Op::Lt,
                "<=" => Op::Le,
                "=~" => Op::Matches,
                _ => Op::NotMatches,
            },
            Some(Tok::Not) => {
                // `!exists` / `!in`
                match self.tokens.get(self.pos + 1).map(|t| &t.tok) {
                    Some(Tok::Word { text, quoted: false }) if text == "exists" => {
                        self.pos += 1;
                        Op::NotExists
                    }
                    Some(Tok::Word { text, quoted: false }) if text == "in" => {
                        self.pos += 1;
                        Op::NotIn
                    }
                    _ => return self.error("an operator"),
                }
            }
            Some(Tok::Word { text, quoted: false }) => match text.as_str() {
                "equals" => Op::Eq,
                "not_equals" => Op::Ne,
                "greater_than" => Op::Gt,
                "greater_than_equal" => Op::Ge,
                "less_than" => Op::Lt,
                "less_than_equal" => Op::Le,
                "exists" => Op::Exists,
                "not_exists" => Op::NotExists,
                "in" => Op::In,
                "not_in" => Op::NotIn,
                "matches" => Op::Matches,
                "not_matches" => Op::NotMatches,
                _ => return self.error("an operator (==, !=, >, >=, <, <=, exists, !exists, in, !in, =~, !~)"),
            },
            _ => return self.error("an operator (==, !=, >, >=, <, <=, exists, !exists, in, !in, =~, !~)"),
        };
        self.pos += 1;
        Ok(op)
    }

    fn value(&mut self) -> Result<String, QueryError> {
        match self.peek() {
            Some(Tok::Word { text, .. }) => {
                let v = text.clone();
                self.pos += 1;
                Ok(v)
            }
            _ => self.error("a value"),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, QueryError> {
        if self.peek() != Some(&Tok::LBracket) {
            return self.error("'[' to start a list");
        }
        self.pos += 1;
        let mut values = vec![self.value()?];
        loop {
            match self.peek() {
                Some(Tok::Comma) => {
                    self.pos += 1;
                    values.push(self.value()?);
                }
                Some(Tok::RBracket) => {
                    self.pos += 1;
                    return Ok(values);
                }
                _ => return self.error("',' or ']'"),
            }
        }
    }
}

/// Parses a cluster query language expression.
pub fn parse(input: &str) -> Result<Expr, QueryError> {
    let len = input.chars().count();
    if len > MAX_EXPRESSION_LEN {
        return Err(QueryError {
            position: MAX_EXPRESSION_LEN,
            message: format!("the expression is {len} characters long; at most {MAX_EXPRESSION_LEN} are allowed"),
        });
    }
    let tokens = tokenize(input)?;
    let mut p = Parser { tokens, pos: 0, end: len };
    let expr = p.or()?;
    if p.pos < p.tokens.len() {
        return p.error("'and', 'or' or the end of the expression");
    }
    Ok(expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_examples_parse() {
        for e in [
            "attribute:ecs.instance-type == t2.small",
            "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
            "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d",
            "task:group == service:production",
            "not(task:group == database)",
            "runningTasksCount == 1",
            "agentVersion < 1.14.5",
            "registeredAt < 2018-02-13",
            "ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
            "attribute:stack exists",
            "attribute:stack !exists || attribute:stack not_in [a, b]",
            "(agentConnected == true and runningTasksCount < 5) or attribute:x matches y.*",
        ] {
            parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
    }

    #[test]
    fn errors_name_the_position_and_the_expectation() {
        let e = parse("attribute:ecs.instance-type t2.small").unwrap_err();
        assert_eq!(e.position, 28);
        assert!(e.message.starts_with("expected an operator"), "{e}");
        let e = parse("attribute:color == red and").unwrap_err();
        assert_eq!((e.position, e.message.contains("subject")), (26, true));
        let e = parse("attribute:a in [x, y").unwrap_err();
        assert!(e.message.contains("',' or ']'"), "{e}");
        let e = parse("attribute:a == b c").unwrap_err();
        assert!(e.message.contains("end of the expression"), "{e}");
        let e = parse("(attribute:a == b").unwrap_err();
        assert!(e.message.contains("')'"), "{e}");
        assert!(parse("attribute:a =~ (").is_err());
        assert!(parse(&"a".repeat(2001)).is_err());
    }
}
