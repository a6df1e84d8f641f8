//! The `smithy-rpc-v2-cbor` protocol's bodies: CBOR read into the same JSON tree the
//! other protocols give (timestamps, tag 1, become epoch seconds; byte strings become
//! base64), and JSON trees written as CBOR with the service's timestamp members tagged.

use base64::Engine as _;
use ciborium::value::{Integer, Value as Cbor};
use serde_json::{Number, Value};

/// The content type and protocol header of rpc-v2-cbor.
pub const CONTENT_TYPE: &str = "application/cbor";
pub const PROTOCOL_HEADER: &str = "smithy-protocol";
pub const PROTOCOL: &str = "rpc-v2-cbor";

fn to_json(v: Cbor) -> Result<Value, String> {
    Ok(match v {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(i) => {
            let n = i128::from(i);
            if let Ok(n) = i64::try_from(n) {
                Value::from(n)
            } else if let Ok(n) = u64::try_from(n) {
                Value::from(n)
            } else {
                return Err(format!("the integer {n} is out of range"));
            }
        }
        Cbor::Float(f) => Value::Number(Number::from_f64(f).ok_or("a number is not finite")?),
        Cbor::Text(s) => Value::String(s),
        Cbor::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Tag(_, inner) => to_json(*inner)?,
        Cbor::Array(items) => Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Cbor::Map(entries) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                let Cbor::Text(k) = k else { return Err("a map key is not text".into()) };
                // CBOR's null members are absent members.
                if !v.is_null() {
                    m.insert(k, to_json(v)?);
                }
            }
            Value::Object(m)
        }
        _ => return Err("an unsupported CBOR item".into()),
    })
}

/// Reads a request body (empty is an empty structure).
pub fn decode(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let v: Cbor = ciborium::de::from_reader(body).map_err(|e| format!("the body is not CBOR: {e}"))?;
    to_json(v)
}

fn number(n: &Number) -> Cbor {
    if let Some(i) = n.as_i64() {
        Cbor::Integer(Integer::from(i))
    } else if let Some(u) = n.as_u64() {
        Cbor::Integer(Integer::from(u))
    } else {
        Cbor::Float(n.as_f64().unwrap_or(0.0))
    }
}

fn to_cbor(v: &Value, timestamps: &[&str], time: bool) -> Cbor {
    match v {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) if time => Cbor::Tag(1, Box::new(Cbor::Float(n.as_f64().unwrap_or(0.0)))),
        Value::Number(n) => number(n),
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Array(items) => Cbor::Array(items.iter().map(|i| to_cbor(i, timestamps, time)).collect()),
        Value::Object(m) => Cbor::Map(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (Cbor::Text(k.clone()), to_cbor(v, timestamps, timestamps.contains(&k.as_str()))))
                .collect(),
        ),
    }
}

/// Writes an answer; members named in `timestamps` carry tag 1.
pub fn encode(v: &Value, timestamps: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(&to_cbor(v, timestamps, false), &mut out).expect("writing CBOR to memory cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_bytes_read_as_the_json_protocols_give_them() {
        let body = Cbor::Map(vec![
            (Cbor::Text("StartTime".into()), Cbor::Tag(1, Box::new(Cbor::Float(1_795_914_000.5)))),
            (Cbor::Text("Period".into()), Cbor::Integer(60.into())),
            (Cbor::Text("Blob".into()), Cbor::Bytes(b"hi".to_vec())),
            (Cbor::Text("Gone".into()), Cbor::Null),
            (Cbor::Text("Names".into()), Cbor::Array(vec![Cbor::Text("a".into())])),
        ]);
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&body, &mut bytes).unwrap();
        assert_eq!(
            decode(&bytes).unwrap(),
            serde_json::json!({"StartTime": 1_795_914_000.5, "Period": 60, "Blob": "aGk=", "Names": ["a"]})
        );
        assert_eq!(decode(b"").unwrap(), serde_json::json!({}));
        assert!(decode(&[0xff, 0x00]).is_err());
    }

    #[test]
    fn answers_tag_timestamp_members() {
        let v = serde_json::json!({"Timestamps": [60.0, 120.0], "Values": [1.5], "Label": "x", "Count": 2});
        let bytes = encode(&v, &["Timestamps"]);
        let back: Cbor = ciborium::de::from_reader(&bytes[..]).unwrap();
        let Cbor::Map(m) = back else { panic!("a map") };
        let get = |k: &str| m.iter().find(|(key, _)| key == &Cbor::Text(k.into())).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(
            get("Timestamps"),
            Cbor::Array(vec![Cbor::Tag(1, Box::new(Cbor::Float(60.0))), Cbor::Tag(1, Box::new(Cbor::Float(120.0)))])
        );
        assert_eq!(get("Values"), Cbor::Array(vec![Cbor::Float(1.5)]));
        assert_eq!(get("Count"), Cbor::Integer(2.into()));
    }
}
