//! The query protocol sends every value as text: these read a number or a boolean from
//! either text or its JSON form, so one type serves the wire and the store.

use serde::{de::Error, Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

/// An optional integer, from `5` or `"5"`.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Scalar>::deserialize(d)? {
        None => Ok(None),
        Some(Scalar::Int(n)) => Ok(Some(n)),
        Some(Scalar::Text(s)) => {
            s.trim().parse().map(Some).map_err(|_| D::Error::custom(format!("'{s}' is not an integer")))
        }
        Some(Scalar::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        Some(Scalar::Float(f)) => Err(D::Error::custom(format!("'{f}' is not an integer"))),
        Some(Scalar::Bool(b)) => Err(D::Error::custom(format!("'{b}' is not an integer"))),
    }
}

/// An optional number, from `2.5`, `"2.5"` or `2`.
pub fn float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Option::<Scalar>::deserialize(d)? {
        None => Ok(None),
        Some(Scalar::Int(n)) => Ok(Some(n as f64)),
        Some(Scalar::Float(f)) => Ok(Some(f)),
        Some(Scalar::Text(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("'{s}' is not a number"))),
        Some(Scalar::Bool(b)) => Err(D::Error::custom(format!("'{b}' is not a number"))),
    }
}

/// A list of numbers, each from either form (the query protocol's `Values.member.N`).
pub fn floats<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
    #[derive(Deserialize)]
    struct One(#[serde(deserialize_with = "float")] Option<f64>);
    let items = Option::<Vec<One>>::deserialize(d)?;
    items
        .map(|v| v.into_iter().map(|One(f)| f.ok_or_else(|| D::Error::custom("a list item is not a number"))).collect())
        .transpose()
}

/// An optional timestamp in epoch seconds, from a number (JSON, CBOR), numeric text, or
/// ISO 8601 text (the query protocol's form).
pub fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Option::<Scalar>::deserialize(d)? {
        None => Ok(None),
        Some(Scalar::Int(n)) => Ok(Some(n as f64)),
        Some(Scalar::Float(f)) => Ok(Some(f)),
        Some(Scalar::Text(s)) => match s.trim().parse::<f64>() {
            Ok(f) => Ok(Some(f)),
            Err(_) => crate::time::parse_date(&s)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("'{s}' is not a timestamp (ISO 8601 or epoch seconds)"))),
        },
        Some(Scalar::Bool(b)) => Err(D::Error::custom(format!("'{b}' is not a timestamp"))),
    }
}

/// An optional boolean, from `true` or `"true"`.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Scalar>::deserialize(d)? {
        None => Ok(None),
        Some(Scalar::Bool(b)) => Ok(Some(b)),
        Some(Scalar::Text(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(D::Error::custom(format!("'{s}' is not a boolean"))),
        },
        Some(Scalar::Int(n)) => Err(D::Error::custom(format!("'{n}' is not a boolean"))),
        Some(Scalar::Float(f)) => Err(D::Error::custom(format!("'{f}' is not a boolean"))),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::int")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "super::boolean")]
        b: Option<bool>,
    }

    #[test]
    fn text_and_json_forms_both_read() {
        let t: T = serde_json::from_str(r#"{"n": "42", "b": "true"}"#).unwrap();
        assert_eq!((t.n, t.b), (Some(42), Some(true)));
        let t: T = serde_json::from_str(r#"{"n": 7, "b": false}"#).unwrap();
        assert_eq!((t.n, t.b), (Some(7), Some(false)));
        let t: T = serde_json::from_str("{}").unwrap();
        assert_eq!((t.n, t.b), (None, None));
        assert!(serde_json::from_str::<T>(r#"{"n": "x"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"b": "yes"}"#).is_err());
    }

    #[derive(serde::Deserialize)]
    struct F {
        #[serde(default, deserialize_with = "super::float")]
        f: Option<f64>,
        #[serde(default, deserialize_with = "super::timestamp")]
        t: Option<f64>,
        #[serde(default, deserialize_with = "super::floats")]
        v: Option<Vec<f64>>,
    }

    #[test]
    fn numbers_and_timestamps_read_from_every_protocol() {
        let f: F = serde_json::from_str(r#"{"f": "2.5", "t": "2026-11-29T01:00:00.500Z", "v": ["1", 2.5]}"#).unwrap();
        assert_eq!((f.f, f.t, f.v), (Some(2.5), Some(1_795_914_000.5), Some(vec![1.0, 2.5])));
        let f: F = serde_json::from_str(r#"{"f": 3, "t": 1795914000}"#).unwrap();
        assert_eq!((f.f, f.t), (Some(3.0), Some(1_795_914_000.0)));
        assert!(serde_json::from_str::<F>(r#"{"f": "NaN"}"#).is_err());
        assert!(serde_json::from_str::<F>(r#"{"t": "tomorrow"}"#).is_err());
    }
}
