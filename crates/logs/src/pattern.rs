//! CloudWatch Logs filter patterns: terms (all must appear), quoted phrases, `?term`
//! alternatives (any may appear), `-term` exclusions, and JSON patterns such as
//! `{ $.level = "error" && $.latency > 100 }` with `=`, `!=`, `<`, `<=`, `>`, `>=`, `*`
//! wildcards in strings, `IS TRUE|FALSE|NULL`, `NOT EXISTS`, `&&`, `||` and parentheses.
//! Matching is case-sensitive, as CloudWatch's.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// Matches every event.
    All,
    Terms {
        required: Vec<String>,
        any: Vec<String>,
        excluded: Vec<String>,
    },
    Json(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare { path: Vec<Step>, op: Op, value: Literal },
    Is { path: Vec<Step>, what: Is },
    NotExists(Vec<Step>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Is {
    True,
    False,
    Null,
}

impl Pattern {
    /// Parses a filter pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let text = text.trim();
        if text.is_empty() || text == "\"\"" {
            return Ok(Pattern::All);
        }
        if text.starts_with('{') {
            return json_pattern(text).map(Pattern::Json);
        }
        if text.starts_with('[') {
            return Err(
                "space-delimited filter patterns ([field, …]) are not supported by berth; use terms or a JSON pattern"
                    .into(),
            );
        }
        let mut required = Vec::new();
        let mut any = Vec::new();
        let mut excluded = Vec::new();
        for (prefix, term) in terms(text)? {
            match prefix {
                Some('?') => any.push(term),
                Some('-') => excluded.push(term),
                _ => required.push(term),
            }
        }
        Ok(Pattern::Terms { required, any, excluded })
    }

    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms { required, any, excluded } => {
                required.iter().all(|t| message.contains(t.as_str()))
                    && (any.is_empty() || any.iter().any(|t| message.contains(t.as_str())))
                    && !excluded.iter().any(|t| message.contains(t.as_str()))
            }
            Pattern::Json(expr) => match serde_json::from_str::<Value>(message.trim()) {
                Ok(value) if value.is_object() || value.is_array() => expr.eval(&value),
                _ => false,
            },
        }
    }
}

/// Splits terms on spaces, keeping quoted phrases whole; each with its `?`/`-` prefix.
fn terms(text: &str) -> Result<Vec<(Option<char>, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { return Ok(out) };
        let prefix = if first == '?' || first == '-' {
            chars.next();
            Some(first)
        } else {
            None
        };
        let mut term = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => term.extend(chars.next()),
                    Some(c) => term.push(c),
                    None => return Err(format!("the quoted term \"{term} is not closed")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                term.push(c);
                chars.next();
            }
        }
        if term.is_empty() {
            return Err("a filter pattern term is empty".into());
        }
        out.push((prefix, term));
    }
}

impl Expr {
    fn eval(&self, doc: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.eval(doc) && b.eval(doc),
            Expr::Or(a, b) => a.eval(doc) || b.eval(doc),
            Expr::NotExists(path) => lookup(doc, path).is_none(),
            Expr::Is { path, what } => match (lookup(doc, path), what) {
                (Some(Value::Bool(b)), Is::True) => *b,
                (Some(Value::Bool(b)), Is::False) => !*b,
                (Some(Value::Null), Is::Null) => true,
                _ => false,
            },
            Expr::Compare { path, op, value } => {
                let Some(found) = lookup(doc, path) else { return false };
                match (value, found) {
                    (Literal::Number(n), Value::Number(f)) => {
                        let f = f.as_f64().unwrap_or(f64::NAN);
                        match op {
                            Op::Eq => f == *n,
                            Op::Ne => f != *n,
                            Op::Lt => f < *n,
                            Op::Le => f <= *n,
                            Op::Gt => f > *n,
                            Op::Ge => f >= *n,
                        }
                    }
                    (Literal::Text(t), Value::String(s)) => match op {
                        Op::Eq => berth_model::wildcard::matches(t, s),
                        Op::Ne => !berth_model::wildcard::matches(t, s),
                        _ => false,
                    },
                    // A number written bare compares as text against a string field.
                    (Literal::Number(_), Value::String(_)) | (Literal::Text(_), _) => false,
                    (Literal::Number(_), _) => false,
                }
            }
        }
    }
}

fn lookup<'a>(doc: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |v, step| match step {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Op(Op),
    Selector(Vec<Step>),
    Text(String),
    Word(String),
}

fn json_pattern(text: &str) -> Result<Expr, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or("a JSON filter pattern is written { $.field = value }")?;
    let tokens = tokenize(inner)?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(format!("unexpected {:?} in the JSON filter pattern", parser.tokens[parser.at]));
    }
    Ok(expr)
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1
            }
            ')' => {
                out.push(Token::Close);
                i += 1
            }
            '&' if next == Some('&') => {
                out.push(Token::And);
                i += 2
            }
            '|' if next == Some('|') => {
                out.push(Token::Or);
                i += 2
            }
            '=' => {
                out.push(Token::Op(Op::Eq));
                i += 1
            }
            '!' if next == Some('=') => {
                out.push(Token::Op(Op::Ne));
                i += 2
            }
            '<' | '>' => {
                let eq = next == Some('=');
                out.push(Token::Op(match (c, eq) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    _ => Op::Ge,
                }));
                i += if eq { 2 } else { 1 };
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        Some('"') => break,
                        Some('\\') => {
                            s.extend(chars.get(i + 1));
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1
                        }
                        None => return Err("a quoted value in the JSON filter pattern is not closed".into()),
                    }
                }
                i += 1;
                out.push(Token::Text(s));
            }
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || "._-[]@".contains(chars[i])) {
                    i += 1;
                }
                let raw: String = chars[start..i].iter().collect();
                out.push(Token::Selector(selector(&raw)?));
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"()=!<>&|\"".contains(chars[i]) {
                    i += 1;
                }
                if start == i {
                    return Err(format!("unexpected '{c}' in the JSON filter pattern"));
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

/// `$.a.b[2].c` → keys and indexes.
fn selector(raw: &str) -> Result<Vec<Step>, String> {
    let bad = || format!("'{raw}' is not a selector like $.field or $.list[0].field");
    let mut steps = Vec::new();
    let mut rest = raw.strip_prefix('$').ok_or_else(bad)?;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad());
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(bad)?;
            steps.push(Step::Index(r[..end].parse().map_err(|_| bad())?));
            rest = &r[end + 1..];
        } else {
            return Err(bad());
        }
    }
    if steps.is_empty() {
        return Err(bad());
    }
    Ok(steps)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Open) => {
                let e = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(e),
                    _ => Err("a '(' in the JSON filter pattern is not closed".into()),
                }
            }
            Some(Token::Selector(path)) => self.condition(path),
            other => Err(format!("expected a selector like $.field, found {other:?}")),
        }
    }

    fn condition(&mut self, path: Vec<Step>) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Op(op)) => {
                let value = match self.next() {
                    Some(Token::Text(t)) => Literal::Text(t),
                    Some(Token::Word(w)) => match w.parse::<f64>() {
                        Ok(n) => Literal::Number(n),
                        Err(_) => Literal::Text(w),
                    },
                    other => return Err(format!("expected a value after the comparison, found {other:?}")),
                };
                if matches!(value, Literal::Text(_)) && !matches!(op, Op::Eq | Op::Ne) {
                    return Err("only = and != compare strings; <, <=, > and >= need a number".into());
                }
                Ok(Expr::Compare { path, op, value })
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("IS") => match self.next() {
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("TRUE") => Ok(Expr::Is { path, what: Is::True }),
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("FALSE") => Ok(Expr::Is { path, what: Is::False }),
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("NULL") => Ok(Expr::Is { path, what: Is::Null }),
                other => Err(format!("expected TRUE, FALSE or NULL after IS, found {other:?}")),
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("NOT") => match self.next() {
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("EXISTS") => Ok(Expr::NotExists(path)),
                other => Err(format!("expected EXISTS after NOT, found {other:?}")),
            },
            other => Err(format!("expected =, !=, <, >, IS or NOT EXISTS after the selector, found {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, message: &str) -> bool {
        Pattern::parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn terms_phrases_alternatives_and_exclusions() {
        assert!(m("", "anything"));
        assert!(m("ERROR", "an ERROR here"));
        assert!(!m("ERROR", "an error here"));
        assert!(m("ERROR disk", "ERROR: disk full"));
        assert!(!m("ERROR disk", "ERROR: memory"));
        assert!(m("\"disk full\"", "ERROR: disk full"));
        assert!(!m("\"disk full\"", "full disk"));
        assert!(m("?ERROR ?WARN", "WARN low space"));
        assert!(!m("?ERROR ?WARN", "INFO fine"));
        assert!(m("ERROR -retry", "ERROR once"));
        assert!(!m("ERROR -retry", "ERROR will retry"));
        assert!(Pattern::parse("\"open").is_err());
    }

    #[test]
    fn json_patterns() {
        let doc = r#"{"level":"error","latency":250,"user":{"id":"u-42","admin":true},"tags":["a","b"],"gone":null}"#;
        assert!(m(r#"{ $.level = "error" }"#, doc));
        assert!(!m(r#"{ $.level = "info" }"#, doc));
        assert!(m(r#"{ $.level != "info" }"#, doc));
        assert!(m("{ $.latency > 100 }", doc));
        assert!(!m("{ $.latency < 100 }", doc));
        assert!(m("{ $.latency >= 250 && $.level = err* }", doc));
        assert!(m(r#"{ $.user.id = "u-*" }"#, doc));
        assert!(m(r#"{ $.tags[1] = "b" }"#, doc));
        assert!(m("{ $.user.admin IS TRUE }", doc));
        assert!(m("{ $.gone IS NULL }", doc));
        assert!(m("{ $.missing NOT EXISTS }", doc));
        assert!(m(r#"{ ($.level = "info" || $.latency > 200) && $.user.admin IS TRUE }"#, doc));
        assert!(!m(r#"{ $.level = "error" }"#, "not json at all"));
        assert!(Pattern::parse("{ $.level = }").is_err());
        assert!(Pattern::parse(r#"{ $.level > "x" }"#).is_err());
        assert!(Pattern::parse("{ level = 1 }").is_err());
    }
}
