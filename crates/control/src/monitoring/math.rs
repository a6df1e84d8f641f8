//! Metric math: the expressions GetMetricData and alarms evaluate over other queries'
//! results. Numbers, query ids, `+ - * /`, parentheses, arrays `[a, b]`, and the
//! functions SUM, AVG, MIN, MAX (over an array: per timestamp; over one series: one
//! number), ABS, and METRICS() / METRICS("prefix") (every metric query, or those whose id
//! starts with the prefix). Series combine on the timestamps they share; dividing by zero
//! leaves the timestamp out, as CloudWatch does.

use std::collections::BTreeMap;

/// A time series: value by timestamp (epoch seconds).
pub type Series = BTreeMap<i64, f64>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Series(Series),
    Array(Vec<Series>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Id(String),
    Text(String),
    Neg(Box<Expr>),
    Binary(char, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    Array(Vec<Expr>),
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Option<char> {
        self.text[self.pos..].trim_start().chars().next()
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.text[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.term()?;
        loop {
            if self.eat('+') {
                left = Expr::Binary('+', Box::new(left), Box::new(self.term()?));
            } else if self.eat('-') {
                left = Expr::Binary('-', Box::new(left), Box::new(self.term()?));
            } else {
                return Ok(left);
            }
        }
    }

    fn term(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            if self.eat('*') {
                left = Expr::Binary('*', Box::new(left), Box::new(self.unary()?));
            } else if self.eat('/') {
                left = Expr::Binary('/', Box::new(left), Box::new(self.unary()?));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat('-') {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn list(&mut self, close: char) -> Result<Vec<Expr>, String> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat(close) {
                return Ok(items);
            }
            if !self.eat(',') {
                return Err(format!("expected ',' or '{close}' at position {}", self.pos + 1));
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let Some(first) = rest.chars().next() else {
            return Err("the expression ends too early".into());
        };
        if self.eat('(') {
            let e = self.expr()?;
            return if self.eat(')') { Ok(e) } else { Err(format!("expected ')' at position {}", self.pos + 1)) };
        }
        if self.eat('[') {
            return Ok(Expr::Array(self.list(']')?));
        }
        if first == '"' {
            let end = rest[1..].find('"').ok_or("a string is not closed")?;
            self.pos += end + 2;
            return Ok(Expr::Text(rest[1..end + 1].to_string()));
        }
        if first.is_ascii_digit() || first == '.' {
            let len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            self.pos += len;
            return rest[..len].parse().map(Expr::Number).map_err(|_| format!("'{}' is not a number", &rest[..len]));
        }
        if first.is_ascii_alphabetic() {
            let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            let name = rest[..len].to_string();
            self.pos += len;
            if self.eat('(') {
                return Ok(Expr::Call(name.to_ascii_uppercase(), self.list(')')?));
            }
            return Ok(Expr::Id(name));
        }
        Err(format!("unexpected '{first}' at position {}", self.pos + 1))
    }
}

pub fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser { text, pos: 0 };
    let e = p.expr()?;
    match p.peek() {
        None => Ok(e),
        Some(c) => Err(format!("unexpected '{c}' at position {}", p.pos + 1)),
    }
}

/// The ids an expression refers to (for ordering and cycle checks); METRICS() refers
/// to every metric query.
pub fn references(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Id(id) => out.push(id.clone()),
        Expr::Neg(x) => references(x, out),
        Expr::Binary(_, a, b) => {
            references(a, out);
            references(b, out);
        }
        Expr::Call(_, args) | Expr::Array(args) => args.iter().for_each(|a| references(a, out)),
        Expr::Number(_) | Expr::Text(_) => {}
    }
}

fn combine(a: &Series, b: &Series, f: impl Fn(f64, f64) -> Option<f64>) -> Series {
    a.iter().filter_map(|(t, x)| Some((*t, f(*x, *b.get(t)?)?))).collect()
}

fn arith(op: char, x: f64, y: f64) -> Option<f64> {
    let v = match op {
        '+' => x + y,
        '-' => x - y,
        '*' => x * y,
        _ if y == 0.0 => return None,
        _ => x / y,
    };
    v.is_finite().then_some(v)
}

fn binary(op: char, a: Value, b: Value) -> Value {
    use Value::*;
    let f = move |x, y| arith(op, x, y);
    match (a, b) {
        (Scalar(x), Scalar(y)) => Scalar(arith(op, x, y).unwrap_or(f64::NAN)),
        (Series(s), Scalar(y)) => Series(s.iter().filter_map(|(t, x)| Some((*t, f(*x, y)?))).collect()),
        (Scalar(x), Series(s)) => Series(s.iter().filter_map(|(t, y)| Some((*t, f(x, *y)?))).collect()),
        (Series(a), Series(b)) => Series(combine(&a, &b, f)),
        (Array(items), other) => Array(
            items
                .into_iter()
                .filter_map(|s| match binary(op, Series(s), other.clone()) {
                    Series(r) => Some(r),
                    _ => None,
                })
                .collect(),
        ),
        (other, Array(items)) => Array(
            items
                .into_iter()
                .filter_map(|s| match binary(op, other.clone(), Series(s)) {
                    Series(r) => Some(r),
                    _ => None,
                })
                .collect(),
        ),
    }
}

fn reduce(values: impl Iterator<Item = f64>, name: &str) -> Option<f64> {
    let v: Vec<f64> = values.collect();
    if v.is_empty() {
        return None;
    }
    Some(match name {
        "SUM" => v.iter().sum(),
        "AVG" => v.iter().sum::<f64>() / v.len() as f64,
        "MIN" => v.iter().copied().fold(f64::INFINITY, f64::min),
        _ => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// What the evaluator can look up.
pub trait Resolve {
    /// A query's result by id.
    fn id(&mut self, id: &str) -> Result<Value, String>;
    /// The metric queries' results whose ids start with `prefix`, in id order.
    fn metrics(&mut self, prefix: &str) -> Result<Vec<Series>, String>;
}

pub fn eval(e: &Expr, r: &mut dyn Resolve) -> Result<Value, String> {
    Ok(match e {
        Expr::Number(n) => Value::Scalar(*n),
        Expr::Text(t) => return Err(format!("the text \"{t}\" is only an argument of METRICS")),
        Expr::Id(id) => r.id(id)?,
        Expr::Neg(x) => binary('*', eval(x, r)?, Value::Scalar(-1.0)),
        Expr::Binary(op, a, b) => binary(*op, eval(a, r)?, eval(b, r)?),
        Expr::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match eval(item, r)? {
                    Value::Series(s) => out.push(s),
                    Value::Array(a) => out.extend(a),
                    Value::Scalar(_) => return Err("an array holds time series, not numbers".into()),
                }
            }
            Value::Array(out)
        }
        Expr::Call(name, args) => match (name.as_str(), args.as_slice()) {
            ("METRICS", []) => Value::Array(r.metrics("")?),
            ("METRICS", [Expr::Text(prefix)]) => Value::Array(r.metrics(prefix)?),
            ("ABS", [x]) => match eval(x, r)? {
                Value::Scalar(v) => Value::Scalar(v.abs()),
                Value::Series(s) => Value::Series(s.into_iter().map(|(t, v)| (t, v.abs())).collect()),
                Value::Array(a) => Value::Array(a.into_iter().map(|s| s.into_iter().map(|(t, v)| (t, v.abs())).collect()).collect()),
            },
            ("SUM" | "AVG" | "MIN" | "MAX", [x]) => match eval(x, r)? {
                Value::Scalar(v) => Value::Scalar(v),
                Value::Series(s) => Value::Scalar(reduce(s.values().copied(), name).unwrap_or(f64::NAN)),
                Value::Array(a) => {
                    let mut by_time: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
                    for s in &a {
                        for (t, v) in s {
                            by_time.entry(*t).or_default().push(*v);
                        }
                    }
                    Value::Series(
                        by_time.into_iter().filter_map(|(t, v)| Some((t, reduce(v.into_iter(), name)?))).collect(),
                    )
                }
            },
            ("SUM" | "AVG" | "MIN" | "MAX", many) if many.len() > 1 => {
                eval(&Expr::Call(name.clone(), vec![Expr::Array(many.to_vec())]), r)?
            }
            (other, _) => {
                return Err(format!(
                    "the function {other} with {} argument(s) is not one berth evaluates (SUM, AVG, MIN, MAX, ABS, METRICS)",
                    args.len()
                ))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(BTreeMap<String, Series>);

    impl Resolve for Fixed {
        fn id(&mut self, id: &str) -> Result<Value, String> {
            self.0.get(id).cloned().map(Value::Series).ok_or_else(|| format!("no query {id}"))
        }
        fn metrics(&mut self, prefix: &str) -> Result<Vec<Series>, String> {
            Ok(self.0.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, s)| s.clone()).collect())
        }
    }

    fn series(points: &[(i64, f64)]) -> Series {
        points.iter().copied().collect()
    }

    fn fixed() -> Fixed {
        Fixed(
            [
                ("m1".to_string(), series(&[(0, 1.0), (60, 2.0), (120, 3.0)])),
                ("m2".to_string(), series(&[(0, 10.0), (60, 0.0)])),
            ]
            .into_iter()
            .collect(),
        )
    }

    fn run(text: &str) -> Value {
        eval(&parse(text).unwrap(), &mut fixed()).unwrap()
    }

    #[test]
    fn arithmetic_follows_precedence_and_shared_timestamps() {
        assert_eq!(run("1 + 2 * 3"), Value::Scalar(7.0));
        assert_eq!(run("-(1 + 2) * 2"), Value::Scalar(-6.0));
        assert_eq!(run("m1 * 100"), Value::Series(series(&[(0, 100.0), (60, 200.0), (120, 300.0)])));
        assert_eq!(run("m1 + m2"), Value::Series(series(&[(0, 11.0), (60, 2.0)])));
        // Dividing by zero leaves the timestamp out.
        assert_eq!(run("m1 / m2"), Value::Series(series(&[(0, 0.1)])));
    }

    #[test]
    fn sums_and_averages_over_arrays_and_over_one_series() {
        assert_eq!(run("SUM(METRICS())"), Value::Series(series(&[(0, 11.0), (60, 2.0), (120, 3.0)])));
        assert_eq!(run("AVG([m1, m2])"), Value::Series(series(&[(0, 5.5), (60, 1.0), (120, 3.0)])));
        assert_eq!(run("SUM(m1)"), Value::Scalar(6.0));
        assert_eq!(run("AVG(m1)"), Value::Scalar(2.0));
        assert_eq!(run("MAX(m1, m2)"), Value::Series(series(&[(0, 10.0), (60, 2.0), (120, 3.0)])));
        assert_eq!(run("SUM(METRICS(\"m2\"))"), Value::Series(series(&[(0, 10.0), (60, 0.0)])));
        assert_eq!(run("m1 - AVG(m1)"), Value::Series(series(&[(0, -1.0), (60, 0.0), (120, 1.0)])));
    }

    #[test]
    fn bad_expressions_are_refused_with_a_reason() {
        assert!(parse("m1 +").is_err());
        assert!(parse("(m1").is_err());
        assert!(parse("m1 m2").is_err());
        let err = eval(&parse("RATE(m1)").unwrap(), &mut fixed()).unwrap_err();
        assert!(err.contains("RATE"), "{err}");
        assert!(eval(&parse("m9").unwrap(), &mut fixed()).is_err());
    }
}
