//! The query protocol ELB and CloudWatch speak: a form-encoded request
//! (`Action=…&Version=…` with lists as `Name.member.N` and structures as `Name.Member`)
//! read into a JSON tree that the typed requests deserialize from, and XML answers
//! (`<ActionResponse><ActionResult>…`, lists as `<member>` elements, timestamps in ISO
//! 8601) and XML errors. Each service has its own XML namespace.

use std::collections::BTreeMap;

use berth_control::Caller;
use hyper::{body::Incoming, header, Request, Response, StatusCode};
use quick_xml::{
    events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event},
    Writer,
};
use serde_json::Value;

use crate::{
    body::{self, Body},
    server::Api,
    sigv4::AuthError,
};

/// How a service's answers are written: its XML namespace, and which members are
/// timestamps (epoch seconds in berth's types, ISO 8601 in the XML).
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    pub namespace: &'static str,
    pub timestamps: &'static [&'static str],
}

/// A form-encoded request: its `Action`, and every other parameter as a tree.
pub struct QueryRequest {
    pub action: String,
    pub params: Value,
}

enum Node {
    Leaf(String),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Node::Leaf(s) => Value::String(s),
            Node::Map(m) => Value::Object(m.into_iter().map(|(k, v)| (k, v.into_value())).collect()),
            Node::List(l) => Value::Array(l.into_values().map(Node::into_value).collect()),
        }
    }
}

/// Puts `value` at the dotted `path` (`Tags.member.2.Key`) under `node`.
fn insert(node: &mut Node, path: &[&str], value: String) -> Result<(), String> {
    let Some((head, rest)) = path.split_first() else {
        *node = Node::Leaf(value);
        return Ok(());
    };
    // `member.N` (N from 1) is a list position.
    if *head == "member" {
        let (index, rest) = rest.split_first().ok_or("a list member has no position")?;
        let index: usize =
            index.parse().ok().filter(|i| *i >= 1).ok_or_else(|| format!("'{index}' is not a list position"))?;
        if !matches!(node, Node::List(_)) {
            *node = Node::List(BTreeMap::new());
        }
        let Node::List(items) = node else { unreachable!() };
        let child = items.entry(index).or_insert_with(|| Node::Map(BTreeMap::new()));
        return insert(child, rest, value);
    }
    if !matches!(node, Node::Map(_)) {
        *node = Node::Map(BTreeMap::new());
    }
    let Node::Map(map) = node else { unreachable!() };
    let child = map.entry(head.to_string()).or_insert_with(|| Node::Map(BTreeMap::new()));
    insert(child, rest, value)
}

/// Reads a form-encoded body. Empty values stand for empty lists and absent members.
/// A refusal says what is wrong and, for a missing `Action`, is `Err(None)`.
pub fn parse(body: &[u8]) -> Result<QueryRequest, Option<String>> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| Some(format!("The request is not form-encoded: {e}")))?;
    let mut root = Node::Map(BTreeMap::new());
    let mut action = None;
    for (key, value) in pairs {
        match key.as_str() {
            "Action" => action = Some(value),
            "Version" => {}
            _ if value.is_empty() => {}
            _ => {
                let path: Vec<&str> = key.split('.').collect();
                insert(&mut root, &path, value).map_err(|e| Some(format!("Parameter '{key}': {e}")))?;
            }
        }
    }
    let action = action.ok_or(None)?;
    Ok(QueryRequest { action, params: root.into_value() })
}

fn write_value(w: &mut Writer<Vec<u8>>, d: Dialect, name: &str, value: &Value, time: bool) -> std::io::Result<()> {
    match value {
        Value::Null => Ok(()),
        Value::Array(items) => {
            w.write_event(Event::Start(BytesStart::new(name)))?;
            for item in items {
                write_value(w, d, "member", item, time)?;
            }
            w.write_event(Event::End(BytesEnd::new(name)))
        }
        Value::Object(members) => {
            w.write_event(Event::Start(BytesStart::new(name)))?;
            for (k, v) in members {
                write_value(w, d, k, v, d.timestamps.contains(&k.as_str()))?;
            }
            w.write_event(Event::End(BytesEnd::new(name)))
        }
        Value::String(s) => text_element(w, name, s),
        Value::Number(n) if time => text_element(w, name, &berth_model::time::iso8601(n.as_f64().unwrap_or(0.0))),
        other => text_element(w, name, &other.to_string()),
    }
}

fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn document(build: impl FnOnce(&mut Writer<Vec<u8>>) -> std::io::Result<()>) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    let written = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).and_then(|_| build(&mut w));
    written.expect("writing XML to memory cannot fail");
    w.into_inner()
}

/// `<ActionResponse xmlns=…><ActionResult>result</ActionResult><ResponseMetadata>…`.
pub fn response(d: Dialect, action: &str, result: &Value, request_id: &str) -> Vec<u8> {
    document(|w| {
        let root = format!("{action}Response");
        w.write_event(Event::Start(BytesStart::new(root.as_str()).with_attributes([("xmlns", d.namespace)])))?;
        let result_name = format!("{action}Result");
        match result {
            Value::Object(m) if m.is_empty() => w.write_event(Event::Empty(BytesStart::new(result_name.as_str())))?,
            _ => write_value(w, d, &result_name, result, false)?,
        }
        w.write_event(Event::Start(BytesStart::new("ResponseMetadata")))?;
        text_element(w, "RequestId", request_id)?;
        w.write_event(Event::End(BytesEnd::new("ResponseMetadata")))?;
        w.write_event(Event::End(BytesEnd::new(root.as_str())))
    })
}

/// The error document.
pub fn error(d: Dialect, code: &str, fault: &str, message: &str, request_id: &str) -> Vec<u8> {
    document(|w| {
        w.write_event(Event::Start(BytesStart::new("ErrorResponse").with_attributes([("xmlns", d.namespace)])))?;
        w.write_event(Event::Start(BytesStart::new("Error")))?;
        text_element(w, "Type", fault)?;
        text_element(w, "Code", code)?;
        text_element(w, "Message", message)?;
        w.write_event(Event::End(BytesEnd::new("Error")))?;
        text_element(w, "RequestId", request_id)?;
        w.write_event(Event::End(BytesEnd::new("ErrorResponse")))
    })
}

/// The content type query-protocol requests carry.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// A refusal in the query protocol's terms.
#[derive(Debug, Clone)]
pub struct Fault {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
}

impl Fault {
    fn fault(&self) -> &'static str {
        if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }
}

impl From<berth_model::elb::ElbError> for Fault {
    fn from(e: berth_model::elb::ElbError) -> Fault {
        Fault { code: e.code, message: e.message, status: e.status }
    }
}

impl From<berth_model::cloudwatch::CloudWatchError> for Fault {
    fn from(e: berth_model::cloudwatch::CloudWatchError) -> Fault {
        Fault { code: e.code, message: e.message, status: e.status }
    }
}

/// Authentication failures in the query protocol's words.
pub fn auth_fault(e: &AuthError) -> Fault {
    let code = match e {
        AuthError::Missing => "MissingAuthenticationToken",
        AuthError::UnknownAccessKey => "InvalidClientTokenId",
        AuthError::Incomplete(_) => "IncompleteSignature",
        _ => "SignatureDoesNotMatch",
    };
    Fault { code, message: e.to_string(), status: if matches!(e, AuthError::Incomplete(_)) { 400 } else { 403 } }
}

/// The service a request's credential scope names, read before the signature is checked
/// (only to pick the dialect an authentication failure is written in).
fn claimed_service(req: &Request<Incoming>) -> String {
    let auth = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split([',', ' ']).next())
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("")
        .to_string()
}

fn dialect_of(service: &str) -> Dialect {
    match service {
        "monitoring" => crate::cloudwatch::QUERY_DIALECT,
        _ => crate::elb::DIALECT,
    }
}

/// Serves one query-protocol request: ELB's or CloudWatch's, as its signature's scope says.
pub async fn handle(api: &Api, req: Request<Incoming>, request_id: &str) -> Response<Body> {
    let claimed = claimed_service(&req);
    let (dialect, result) = match api.verified(req).await {
        Err(crate::error::ApiError::Auth(a)) => (dialect_of(&claimed), Err(auth_fault(&a))),
        Err(other) => {
            (dialect_of(&claimed), Err(Fault { code: "ValidationError", message: other.to_string(), status: 400 }))
        }
        Ok((scope, body)) => (dialect_of(&scope.service), run(api, scope, &body).await),
    };
    let (status, body) = match result {
        Ok((action, value)) => (StatusCode::OK, response(dialect, &action, &value, request_id)),
        Err(e) => {
            tracing::debug!(code = %e.code, message = %e.message, "query request refused");
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, error(dialect, e.code, e.fault(), &e.message, request_id))
        }
    };
    let mut response = Response::new(body::full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/xml"));
    if let Ok(v) = header::HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

async fn run(api: &Api, scope: crate::sigv4::Scope, body: &[u8]) -> Result<(String, Value), Fault> {
    let caller = Caller { region: scope.region.clone(), account: api.account().to_string() };
    let q = parse(body).map_err(|why| match (why, scope.service.as_str()) {
        (Some(m), "monitoring") => Fault::from(berth_model::cloudwatch::CloudWatchError::invalid_value(m)),
        (None, "monitoring") => Fault::from(berth_model::cloudwatch::CloudWatchError::missing("Action")),
        (Some(m), _) => Fault::from(berth_model::elb::ElbError::validation(m)),
        (None, _) => Fault::from(berth_model::elb::ElbError::missing_parameter("Action")),
    })?;
    let result = match scope.service.as_str() {
        "elasticloadbalancing" => crate::elb::dispatch(api.control(), &caller, &q.action, &q.params).await?,
        "monitoring" => crate::cloudwatch::dispatch(api.control(), &caller, &q.action, &q.params).await?,
        other => {
            return Err(auth_fault(&AuthError::WrongService(format!(
                "elasticloadbalancing or monitoring, not {other}"
            ))))
        }
    };
    Ok((q.action, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ELB: Dialect =
        Dialect { namespace: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/", timestamps: &[] };

    #[test]
    fn lists_and_structures_become_a_tree() {
        let body = b"Action=CreateListener&Version=2015-12-01&Port=80&DefaultActions.member.1.Type=forward\
&DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.Weight=3\
&DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn=a%3Ab&Subnets=";
        let q = parse(body).unwrap();
        assert_eq!(q.action, "CreateListener");
        assert_eq!(
            q.params,
            serde_json::json!({
                "Port": "80",
                "DefaultActions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "a:b"}, {"Weight": "3"}]}}]
            })
        );
    }

    #[test]
    fn a_bad_list_position_is_refused() {
        assert!(parse(b"Action=X&Names.member.0=a").is_err());
        assert!(parse(b"Action=X&Names.member=a").is_err());
        assert!(parse(b"Names.member.1=a").is_err());
    }

    #[test]
    fn answers_wrap_lists_in_members_and_escape_text() {
        let xml = response(
            ELB,
            "DescribeTags",
            &serde_json::json!({"TagDescriptions": [{"ResourceArn": "a<b", "Tags": []}]}),
            "id-1",
        );
        let xml = String::from_utf8(xml).unwrap();
        assert!(
            xml.contains("<DescribeTagsResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">"),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<TagDescriptions><member><ResourceArn>a&lt;b</ResourceArn><Tags></Tags></member></TagDescriptions>"
            ),
            "{xml}"
        );
        assert!(xml.contains("<RequestId>id-1</RequestId>"));
        let empty = String::from_utf8(response(ELB, "AddTags", &serde_json::json!({}), "x")).unwrap();
        assert!(empty.contains("<AddTagsResult/>"), "{empty}");
    }

    #[test]
    fn errors_carry_type_code_and_message() {
        let xml = String::from_utf8(error(ELB, "LoadBalancerNotFound", "Sender", "gone", "r")).unwrap();
        assert!(xml.contains("<Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code><Message>gone</Message></Error><RequestId>r</RequestId>"), "{xml}");
    }

    #[test]
    fn timestamp_members_are_written_in_iso_8601() {
        let d = Dialect { namespace: "ns", timestamps: &["Timestamp", "Timestamps"] };
        let result =
            serde_json::json!({"Datapoints": [{"Timestamp": 0.0, "Sum": 2.5}], "Timestamps": [60], "Count": 3});
        let xml = String::from_utf8(response(d, "Get", &result, "r")).unwrap();
        assert!(xml.contains("<Timestamp>1970-01-01T00:00:00.000Z</Timestamp>"), "{xml}");
        assert!(xml.contains("<Sum>2.5</Sum>"), "{xml}");
        assert!(xml.contains("<Timestamps><member>1970-01-01T00:01:00.000Z</member></Timestamps>"), "{xml}");
        assert!(xml.contains("<Count>3</Count>"), "{xml}");
    }
}
