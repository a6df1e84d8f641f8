//! SigV4 verification of arbitrary headers: the Authorization parser, the date parser and
//! the canonical request must refuse malformed input without panicking. The input is
//! split into lines: the first is the Authorization value, the rest `name: value` headers,
//! and after an empty line the body.
#![no_main]

use berth_sigv4::{Credential, SignedRequest, Verifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let authorization = lines.next().unwrap_or("");
    let mut headers: Vec<(&str, &str)> = vec![("authorization", authorization)];
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim(), v.trim()));
        }
    }
    let (path, query) = match headers.iter().find(|(k, _)| *k == "path") {
        Some((_, p)) => p.split_once('?').unwrap_or((p, "")),
        None => ("/", ""),
    };
    let req = SignedRequest { method: "POST", path, query, headers: &headers, body: body.as_bytes() };
    let credential = Credential { access_key_id: "AKIDEXAMPLE".into(), secret_access_key: "secret".into() };
    for accept_any in [false, true] {
        let verifier = Verifier::new(vec![credential.clone()], accept_any);
        let _ = verifier.verify(&req, 1_700_000_000);
    }
    let _ = berth_sigv4::parse_amz_date(authorization);
});
