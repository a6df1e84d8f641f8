//! The query protocol sends every value as text: these read a number or a boolean from
//! either text or its JSON form, so one type serves the wire and the store.

use serde::{de::Error, Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
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
        Some(Scalar::Bool(b)) => Err(D::Error::custom(format!("'{b}' is not an integer"))),
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
}
