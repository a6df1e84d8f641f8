//! Request-body decoding with errors that name the offending field.

use serde::de::DeserializeOwned;

use crate::EcsError;

/// Decodes a JSON request body into `T`. A malformed body or a field of the wrong type
/// becomes a `ClientException` naming the JSON path, so a person can find the mistake.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, EcsError> {
    let body: &[u8] = if body.iter().all(|b| b.is_ascii_whitespace()) { b"{}" } else { body };
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            EcsError::client(format!("Malformed request body: {inner}"))
        } else if path == "." {
            EcsError::client(format!("Invalid request: {inner}"))
        } else {
            EcsError::client(format!("Invalid value for '{path}': {inner}"))
        }
    })?;
    // One JSON document and nothing after it but whitespace.
    de.end().map_err(|e| EcsError::client(format!("Malformed request body: data after the JSON document ({e})")))?;
    Ok(value)
}

/// Fails with the ECS message for a missing required field.
pub fn required<'a, T>(value: &'a Option<T>, field: &str) -> Result<&'a T, EcsError> {
    value.as_ref().ok_or_else(|| EcsError::invalid(format!("{field} is required and was not provided.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_data_is_refused() {
        #[derive(serde::Deserialize, Debug)]
        struct Empty {}
        assert!(decode::<Empty>(b"{} \n").is_ok());
        let err = decode::<Empty>(b"{}{\"x\":1}").unwrap_err();
        assert_eq!(err.code(), "ClientException");
        assert!(decode::<Empty>(b"{} garbage").is_err());
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Req {
        a: Option<Vec<Inner>>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        n: Option<u32>,
    }

    #[test]
    fn wrong_type_names_the_path() {
        let e = decode::<Req>(br#"{"a":[{"n":"x"}]}"#).unwrap_err();
        assert_eq!(e.code(), "ClientException");
        assert!(e.to_string().contains("a[0].n"), "{e}");
    }

    #[test]
    fn syntax_error_is_client_exception() {
        let e = decode::<Req>(b"{nope").unwrap_err();
        assert!(e.to_string().starts_with("Malformed request body"), "{e}");
    }

    #[test]
    fn empty_body_is_empty_object() {
        assert!(decode::<Req>(b"").unwrap().a.is_none());
    }
}
