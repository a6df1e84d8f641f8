use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn cred() -> Credential {
    Credential { access_key_id: "AKIDEXAMPLE".into(), secret_access_key: SECRET.into() }
}

/// AWS's published SigV4 test suite case "get-vanilla".
#[test]
fn matches_the_aws_test_suite() {
    let t = parse_amz_date("20150830T123600Z").unwrap();
    let headers = [("Host", "example.amazonaws.com")];
    let req = SignedRequest { method: "GET", path: "/", query: "", headers: &headers, body: b"" };
    let out = sign(&req, &cred(), "us-east-1", "service", t);
    assert!(
        out[1].1.ends_with("Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        "{}",
        out[1].1
    );
}

fn signed(body: &[u8], now: i64) -> Vec<(String, String)> {
    let headers = [("host", "127.0.0.1:1"), ("x-amz-target", "X.Y")];
    let req = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body };
    let mut all: Vec<(String, String)> = headers.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    all.extend(sign(&req, &cred(), "eu-west-1", "ecs", now));
    all
}

fn check(v: &Verifier, headers: &[(String, String)], body: &[u8], now: i64) -> Result<Scope, AuthError> {
    let h: Vec<(&str, &str)> = headers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    v.verify(&SignedRequest { method: "POST", path: "/", query: "", headers: &h, body }, now)
}

#[test]
fn verify_accepts_own_signature_and_rejects_tampering() {
    let v = Verifier::new(vec![cred()], false);
    let now = 1_700_000_000;
    let h = signed(b"{}", now);
    let scope = check(&v, &h, b"{}", now + 5).unwrap();
    assert_eq!((scope.region.as_str(), scope.service.as_str()), ("eu-west-1", "ecs"));
    assert_eq!(check(&v, &h, b"{\"a\":1}", now), Err(AuthError::Mismatch));
    assert!(matches!(check(&v, &h, b"{}", now + 16 * 60), Err(AuthError::Expired { .. })));
    let wrong = Verifier::new(vec![Credential { secret_access_key: "other".into(), ..cred() }], false);
    assert_eq!(check(&wrong, &h, b"{}", now), Err(AuthError::Mismatch));
    let unknown = Verifier::new(vec![Credential { access_key_id: "AKIDOTHER".into(), ..cred() }], false);
    assert_eq!(check(&unknown, &h, b"{}", now), Err(AuthError::UnknownAccessKey));
    assert!(check(&Verifier::new(vec![], true), &h, b"{\"x\":1}", now).is_ok());
    let mut claimed = h.clone();
    claimed.push(("x-amz-content-sha256".into(), "00".repeat(32)));
    assert_eq!(check(&v, &claimed, b"{}", now), Err(AuthError::PayloadHashMismatch));
    assert_eq!(check(&v, &[], b"", now), Err(AuthError::Missing));
}

#[test]
fn host_and_every_x_amz_header_must_be_signed() {
    let v = Verifier::new(vec![cred()], false);
    let now = 1_700_000_000;
    // A captured CreateCluster replayed with another, unsigned target.
    let headers = [("host", "127.0.0.1:1")];
    let req = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: b"{}" };
    let mut h: Vec<(String, String)> = vec![("host".into(), "127.0.0.1:1".into())];
    h.extend(sign(&req, &cred(), "eu-west-1", "ecs", now));
    assert!(check(&v, &h, b"{}", now).is_ok());
    h.push(("X-Amz-Target".into(), "AmazonEC2ContainerServiceV20141113.DeleteCluster".into()));
    let err = check(&v, &h, b"{}", now).unwrap_err();
    assert!(matches!(&err, AuthError::Incomplete(m) if m.contains("x-amz-target")), "{err:?}");
    // Host left out of SignedHeaders.
    let headers = [("x-amz-target", "X.Y")];
    let req = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: b"{}" };
    let mut h: Vec<(String, String)> = vec![("x-amz-target".into(), "X.Y".into())];
    h.extend(sign(&req, &cred(), "eu-west-1", "ecs", now));
    let err = check(&v, &h, b"{}", now).unwrap_err();
    assert!(matches!(&err, AuthError::Incomplete(m) if m.contains("'Host'")), "{err:?}");
}

#[test]
fn the_region_must_look_like_one() {
    let v = Verifier::new(vec![cred()], true);
    let now = 1_700_000_000;
    for region in ["us.east-1", "x", "us-east-1;x"] {
        let headers = [("host", "127.0.0.1:1")];
        let req = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: b"" };
        let mut h: Vec<(String, String)> = vec![("host".into(), "127.0.0.1:1".into())];
        h.extend(sign(&req, &cred(), region, "ecs", now));
        let err = check(&v, &h, b"", now).unwrap_err();
        assert_eq!(err.code(), "InvalidSignatureException");
        assert!(matches!(err, AuthError::InvalidRegion(_)), "{region}");
    }
}

#[test]
fn dates() {
    let t = parse_amz_date("20261122T010203Z").unwrap();
    assert_eq!(format_amz_date(t), "20261122T010203Z");
    assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
    assert_eq!(parse_amz_date("2026-11-22"), None);
}

#[test]
fn query_is_sorted_and_encoded() {
    let mut out = String::new();
    canonical_query("b=2&a=x%20y&a=1", &mut out);
    assert_eq!(out, "a=1&a=x%20y&b=2");
}
