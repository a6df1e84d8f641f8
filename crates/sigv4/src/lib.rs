//! berth-sigv4 — AWS Signature Version 4: verifying signed requests, and signing them (for berth's own
//! clients and benchmarks). Both sides build the same canonical request, so a signature
//! berth makes is one berth accepts, and one the AWS SDKs make is one berth checks.
//!
//! Derived signing keys depend only on (secret, date, region, service), so they are
//! cached: a request costs two SHA-256 digests and one HMAC.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{SystemTime, UNIX_EPOCH},
};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;
/// Derived signing keys by (secret, date, region, service).
type KeyCache = HashMap<(String, String, String, String), [u8; 32]>;

/// Requests whose date is further than this from the server's clock are refused.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Why a request's signature was refused; [`AuthError::code`] is the AWS error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Missing Authentication Token")]
    Missing,
    #[error("{0}")]
    Incomplete(String),
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")]
    Mismatch,
    #[error("Signature expired: {request} is now earlier or later than {server} by more than 15 minutes.")]
    Expired { request: String, server: String },
    #[error("Credential should be scoped to correct service: '{0}'.")]
    WrongService(String),
    #[error("The provided 'x-amz-content-sha256' header does not match the SHA-256 of the body.")]
    PayloadHashMismatch,
    #[error("Credential should be scoped to a valid region, not '{0}'.")]
    InvalidRegion(String),
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationTokenException",
            AuthError::Incomplete(_) => "IncompleteSignatureException",
            AuthError::UnknownAccessKey => "UnrecognizedClientException",
            AuthError::Mismatch
            | AuthError::Expired { .. }
            | AuthError::WrongService(_)
            | AuthError::PayloadHashMismatch
            | AuthError::InvalidRegion(_) => "InvalidSignatureException",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::Missing => 403,
            _ => 400,
        }
    }
}

/// What a request must present to be checked: method, raw path and query, headers
/// (any case), and the body.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

/// The credential scope of a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

struct Authorization<'a> {
    scope: Scope,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, AuthError> {
    let incomplete =
        |what: &str| AuthError::Incomplete(format!("Authorization header requires {what}. Authorization={value}"));
    let rest = value
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| AuthError::Incomplete(format!("Unsupported authorization algorithm: use {ALGORITHM}.")))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| incomplete("'Credential' parameter"))?;
    let signed = signed.ok_or_else(|| incomplete("'SignedHeaders' parameter"))?;
    let signature = signature.ok_or_else(|| incomplete("'Signature' parameter"))?;
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 || parts[4] != "aws4_request" || parts.iter().any(|p| p.is_empty()) {
        return Err(AuthError::Incomplete(format!(
            "Credential must have the form ACCESS_KEY/DATE/REGION/SERVICE/aws4_request, not '{credential}'."
        )));
    }
    if !berth_model::arn::valid_region(parts[2]) {
        return Err(AuthError::InvalidRegion(parts[2].escape_default().to_string()));
    }
    let signed_headers: Vec<&str> = signed.split(';').collect();
    if !signed_headers.contains(&"host") {
        return Err(AuthError::Incomplete(format!(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization. Authorization={value}"
        )));
    }
    Ok(Authorization {
        scope: Scope {
            access_key_id: parts[0].into(),
            date: parts[1].into(),
            region: parts[2].into(),
            service: parts[3].into(),
        },
        signed_headers,
        signature,
    })
}

/// Verifies requests against a set of credentials.
pub struct Verifier {
    credentials: Vec<Credential>,
    accept_any: bool,
    keys: RwLock<KeyCache>,
}

impl Verifier {
    /// `accept_any` skips the access-key and signature checks (the request must still be
    /// well formed and carry a scope): for local tools that sign with dummy keys.
    pub fn new(credentials: Vec<Credential>, accept_any: bool) -> Self {
        Verifier { credentials, accept_any, keys: RwLock::new(HashMap::new()) }
    }

    /// Checks `req` as of `now` (seconds since the epoch) and returns its scope.
    pub fn verify(&self, req: &SignedRequest<'_>, now: i64) -> Result<Scope, AuthError> {
        let auth_header = req.header("authorization").ok_or(AuthError::Missing)?;
        let auth = parse_authorization(auth_header)?;
        let amz_date = req
            .header("x-amz-date")
            .ok_or_else(|| AuthError::Incomplete("Authorization requires an X-Amz-Date header.".into()))?;
        let request_time = parse_amz_date(amz_date).ok_or_else(|| {
            AuthError::Incomplete(format!("X-Amz-Date '{amz_date}' is not of the form YYYYMMDDTHHMMSSZ."))
        })?;
        if (request_time - now).abs() > MAX_SKEW_SECS {
            return Err(AuthError::Expired { request: amz_date.into(), server: format_amz_date(now) });
        }
        if !amz_date.starts_with(&auth.scope.date) {
            return Err(AuthError::Incomplete("The credential scope date does not match X-Amz-Date.".into()));
        }
        if self.accept_any {
            return Ok(auth.scope);
        }
        let secret = self
            .credentials
            .iter()
            .find(|c| c.access_key_id == auth.scope.access_key_id)
            .map(|c| c.secret_access_key.as_str())
            .ok_or(AuthError::UnknownAccessKey)?;
        for h in &auth.signed_headers {
            if req.header(h).is_none() {
                return Err(AuthError::Incomplete(format!("Signed header '{h}' is missing from the request.")));
            }
        }
        let body_hash = hex::encode(Sha256::digest(req.body));
        if let Some(claimed) = req.header("x-amz-content-sha256") {
            // The signature covers the claimed hash, so the claim must be the body's.
            if !claimed.eq_ignore_ascii_case(&body_hash) {
                return Err(AuthError::PayloadHashMismatch);
            }
        }
        // Every x-amz-* header the request carries must be signed: an unsigned X-Amz-Target
        // would let a captured request be replayed as another operation.
        if let Some((name, _)) = req.headers.iter().find(|(k, _)| {
            k.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
                && !auth.signed_headers.iter().any(|s| s.eq_ignore_ascii_case(k))
        }) {
            return Err(AuthError::Incomplete(format!(
                "Header '{}' must be listed in SignedHeaders: every x-amz-* header is signed.",
                name.to_ascii_lowercase()
            )));
        }
        let canonical = canonical_request(req, &auth.signed_headers, &body_hash);
        let string_to_sign = string_to_sign(amz_date, &auth.scope, &canonical);
        let key = self.signing_key(secret, &auth.scope);
        let expected = hex::encode(hmac(&key, string_to_sign.as_bytes()));
        if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
            Ok(auth.scope)
        } else {
            Err(AuthError::Mismatch)
        }
    }

    fn signing_key(&self, secret: &str, scope: &Scope) -> [u8; 32] {
        let id = (secret.to_string(), scope.date.clone(), scope.region.clone(), scope.service.clone());
        if let Some(k) = self.keys.read().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return *k;
        }
        let key = derive_key(secret, &scope.date, &scope.region, &scope.service);
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.len() > 1024 {
            keys.clear();
        }
        keys.insert(id, key);
        key
    }
}

/// Signs a request: returns the headers to add (`x-amz-date`, `authorization`).
/// `headers` must already hold every header to be signed (at least `host`).
pub fn sign(
    req: &SignedRequest<'_>,
    credential: &Credential,
    region: &str,
    service: &str,
    now: i64,
) -> Vec<(String, String)> {
    let amz_date = format_amz_date(now);
    let mut all: Vec<(&str, &str)> = req.headers.to_vec();
    all.push(("x-amz-date", &amz_date));
    let with_date = SignedRequest { headers: &all, ..*req };
    let mut names: Vec<String> = all.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let scope = Scope {
        access_key_id: credential.access_key_id.clone(),
        date: amz_date[..8].to_string(),
        region: region.into(),
        service: service.into(),
    };
    let canonical = canonical_request(&with_date, &names, &hex::encode(Sha256::digest(req.body)));
    let sts = string_to_sign(&amz_date, &scope, &canonical);
    let key = derive_key(&credential.secret_access_key, &scope.date, region, service);
    let signature = hex::encode(hmac(&key, sts.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}/{}/{}/aws4_request, SignedHeaders={}, Signature={signature}",
        credential.access_key_id,
        scope.date,
        region,
        service,
        names.join(";")
    );
    vec![("x-amz-date".into(), amz_date), ("authorization".into(), authorization)]
}

/// The canonical request; `payload_hash` is the hex SHA-256 of the body.
fn canonical_request(req: &SignedRequest<'_>, signed_headers: &[&str], payload_hash: &str) -> String {
    let mut out = String::with_capacity(256 + req.path.len());
    out.push_str(req.method);
    out.push('\n');
    canonical_uri(req.path, &mut out);
    out.push('\n');
    canonical_query(req.query, &mut out);
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for (_, v) in req.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)) {
            if !first {
                out.push(',');
            }
            first = false;
            // Trim, and fold runs of spaces into one.
            let mut prev_space = false;
            for ch in v.trim().chars() {
                if ch == ' ' {
                    if !prev_space {
                        out.push(' ');
                    }
                    prev_space = true;
                } else {
                    out.push(ch);
                    prev_space = false;
                }
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// Every path segment URI-encoded once more (all services but S3 sign the encoded path).
fn canonical_uri(path: &str, out: &mut String) {
    if path.is_empty() {
        out.push('/');
        return;
    }
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        uri_encode(segment, out);
    }
}

fn canonical_query(query: &str, out: &mut String) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let mut ek = String::new();
            let mut ev = String::new();
            uri_encode(&percent_decode(k), &mut ek);
            uri_encode(&percent_decode(v), &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

fn uri_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(Ok(b)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn string_to_sign(amz_date: &str, scope: &Scope, canonical: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{}/{}/{}/aws4_request\n{}",
        scope.date,
        scope.region,
        scope.service,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn derive_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Seconds since the epoch, now.
pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// `YYYYMMDDTHHMMSSZ` → seconds since the epoch.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(berth_model::time::days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se)
}

/// Seconds since the epoch → `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = berth_model::time::civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests;
