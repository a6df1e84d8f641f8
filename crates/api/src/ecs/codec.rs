//! What every operation's handler shares: decoding a request body into its type, encoding
//! a response, and the reply (body and extra headers) the dispatcher hands back.

use serde::Serialize;

use crate::error::ApiError;

/// A response body and any extra headers.
pub struct Reply {
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl From<Vec<u8>> for Reply {
    fn from(body: Vec<u8>) -> Self {
        Reply { body, headers: Vec::new() }
    }
}

/// Encodes a response body.
pub(super) fn reply<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(unencodable)
}

fn unencodable(e: serde_json::Error) -> ApiError {
    ApiError::Ecs(berth_model::EcsError::Server(e.to_string()))
}

/// Decodes a request body (errors name the offending field).
pub(super) fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    Ok(berth_model::json::decode(body)?)
}
