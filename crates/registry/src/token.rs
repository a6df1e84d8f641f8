//! Registry tokens: what GetAuthorizationToken hands out and `docker login` sends back.
//! A token is `berth1.<region>.<expiry>.<mac>`, where the MAC is an HMAC-SHA256 over region
//! and expiry under a key derived from the server's secret. Nothing is stored: any server
//! with the same secret accepts it until it expires.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

/// How long a token lives (ECR's 12 hours).
pub const LIFETIME_SECS: u64 = 12 * 3600;
const PREFIX: &str = "berth1";
/// Tokens handed to agents: pull only, and only while their container instance is registered.
const PULL_PREFIX: &str = "berth1pull";
/// The user name `docker login` must use, as with ECR.
pub const USER: &str = "AWS";

#[derive(Clone)]
pub struct TokenKey([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("authentication required: log in with the password from 'aws ecr get-login-password'")]
    Missing,
    #[error("the user name must be AWS")]
    WrongUser,
    #[error("the token is not a berth registry token")]
    Malformed,
    #[error("the token's signature does not verify (it was issued by another server or altered)")]
    BadSignature,
    #[error("the token expired; get a new one with 'aws ecr get-login-password'")]
    Expired,
}

/// What a verified token allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub region: String,
    /// `Some(instance ARN)` for an agent's token: it may only read, and only while that
    /// container instance is registered (the caller checks that).
    pub pull_only_for: Option<String>,
}

impl TokenKey {
    pub fn derive(secret: &[u8]) -> TokenKey {
        let mut h = Sha256::new();
        h.update(b"berth registry token key v1\0");
        h.update(secret);
        TokenKey(h.finalize().into())
    }

    fn mac(&self, region: &str, expires: u64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("{region}\n{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A token for `region` expiring at `expires` (epoch seconds).
    pub fn issue(&self, region: &str, expires: u64) -> String {
        format!("{PREFIX}.{region}.{expires}.{}", self.mac(region, expires))
    }

    /// The base64 `AWS:<token>` ECR returns as `authorizationToken`.
    pub fn authorization_token(&self, region: &str, expires: u64) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{}", self.issue(region, expires)))
    }

    /// Checks a token; returns its region.
    /// A pull-only token for the agent of container instance `instance_arn`.
    pub fn issue_pull(&self, region: &str, instance_arn: &str, expires: u64) -> String {
        let who = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(instance_arn);
        format!("{PULL_PREFIX}.{region}.{who}.{expires}.{}", self.pull_mac(region, instance_arn, expires))
    }

    fn pull_mac(&self, region: &str, instance_arn: &str, expires: u64) -> String {
        self.mac(&format!("pull\n{instance_arn}\n{region}"), expires)
    }

    fn verify_pull(&self, token: &str, now: u64) -> Result<Grant, TokenError> {
        let mut parts = token.split('.');
        let (Some(PULL_PREFIX), Some(region), Some(who), Some(expires), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        let arn = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(who).map_err(|_| TokenError::Malformed)?;
        let arn = String::from_utf8(arn).map_err(|_| TokenError::Malformed)?;
        if !same(&self.pull_mac(region, &arn, expires), mac) {
            return Err(TokenError::BadSignature);
        }
        if now >= expires {
            return Err(TokenError::Expired);
        }
        Ok(Grant { region: region.to_string(), pull_only_for: Some(arn) })
    }

    pub fn verify(&self, token: &str, now: u64) -> Result<Grant, TokenError> {
        if token.starts_with(PULL_PREFIX) {
            return self.verify_pull(token, now);
        }
        let mut parts = token.split('.');
        let (Some(PREFIX), Some(region), Some(expires), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        if !same(&self.mac(region, expires), mac) {
            return Err(TokenError::BadSignature);
        }
        if now >= expires {
            return Err(TokenError::Expired);
        }
        Ok(Grant { region: region.to_string(), pull_only_for: None })
    }

    /// Checks an HTTP `Authorization` header (Basic `AWS:<token>`, or Bearer `<token>`).
    pub fn verify_header(&self, header: Option<&str>, now: u64) -> Result<Grant, TokenError> {
        let header = header.ok_or(TokenError::Missing)?;
        if let Some(token) = header.strip_prefix("Bearer ") {
            return self.verify(token.trim(), now);
        }
        let basic = header.strip_prefix("Basic ").ok_or(TokenError::Missing)?;
        let decoded =
            base64::engine::general_purpose::STANDARD.decode(basic.trim()).map_err(|_| TokenError::Malformed)?;
        let decoded = String::from_utf8(decoded).map_err(|_| TokenError::Malformed)?;
        let (user, token) = decoded.split_once(':').ok_or(TokenError::Malformed)?;
        if user != USER {
            return Err(TokenError::WrongUser);
        }
        self.verify(token, now)
    }
}

/// Compares two MACs in constant time: every byte is looked at whatever differs first.
fn same(want: &str, got: &str) -> bool {
    want.len() == got.len() && want.bytes().zip(got.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_then_verify() {
        let key = TokenKey::derive(b"secret");
        let token = key.issue("eu-west-1", 2000);
        let full = Grant { region: "eu-west-1".into(), pull_only_for: None };
        assert_eq!(key.verify(&token, 1999), Ok(full));
        assert_eq!(key.verify(&token, 2000), Err(TokenError::Expired));
        assert_eq!(TokenKey::derive(b"other").verify(&token, 0), Err(TokenError::BadSignature));
        let forged = token.replace("eu-west-1", "us-east-1");
        assert_eq!(key.verify(&forged, 0), Err(TokenError::BadSignature));
        assert_eq!(key.verify("junk", 0), Err(TokenError::Malformed));
    }

    #[test]
    fn basic_header_needs_the_aws_user() {
        let key = TokenKey::derive(b"secret");
        let auth = key.authorization_token("us-east-1", 100);
        let full = Grant { region: "us-east-1".into(), pull_only_for: None };
        assert_eq!(key.verify_header(Some(&format!("Basic {auth}")), 50), Ok(full));
        let other = base64::engine::general_purpose::STANDARD.encode(format!("bob:{}", key.issue("us-east-1", 100)));
        assert_eq!(key.verify_header(Some(&format!("Basic {other}")), 50), Err(TokenError::WrongUser));
        assert_eq!(key.verify_header(None, 50), Err(TokenError::Missing));
    }

    #[test]
    fn pull_tokens_name_their_instance_and_cannot_be_widened() {
        let key = TokenKey::derive(b"secret");
        let arn = "arn:aws:ecs:us-east-1:000000000000:container-instance/default/abc";
        let token = key.issue_pull("us-east-1", arn, 100);
        let grant = key.verify(&token, 50).unwrap();
        assert_eq!(grant, Grant { region: "us-east-1".into(), pull_only_for: Some(arn.into()) });
        // Dropping the instance part to pass it off as a full token breaks the signature.
        let parts: Vec<&str> = token.split('.').collect();
        let widened = format!("berth1.{}.{}.{}", parts[1], parts[3], parts[4]);
        assert_eq!(key.verify(&widened, 50), Err(TokenError::BadSignature));
        let other = token.replace(parts[2], &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x"));
        assert_eq!(key.verify(&other, 50), Err(TokenError::BadSignature));
        assert_eq!(key.verify(&token, 100), Err(TokenError::Expired));
    }
}
