//! The query protocol ELB speaks: a form-encoded request (`Action=…&Version=…` with lists
//! as `Name.member.N` and structures as `Name.Member`) read into a JSON tree that the
//! typed requests deserialize from, and XML answers (`<ActionResponse><ActionResult>…`,
//! lists as `<member>` elements) and XML errors.

use std::collections::BTreeMap;

use berth_model::elb::ElbError;
use quick_xml::{
    events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event},
    Writer,
};
use serde_json::Value;

pub const NAMESPACE: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

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
pub fn parse(body: &[u8]) -> Result<QueryRequest, ElbError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| ElbError::validation(format!("The request is not form-encoded: {e}")))?;
    let mut root = Node::Map(BTreeMap::new());
    let mut action = None;
    for (key, value) in pairs {
        match key.as_str() {
            "Action" => action = Some(value),
            "Version" => {}
            _ if value.is_empty() => {}
            _ => {
                let path: Vec<&str> = key.split('.').collect();
                insert(&mut root, &path, value).map_err(|e| ElbError::validation(format!("Parameter '{key}': {e}")))?;
            }
        }
    }
    let action = action.ok_or_else(|| ElbError::missing_parameter("Action"))?;
    Ok(QueryRequest { action, params: root.into_value() })
}

fn write_value(w: &mut Writer<Vec<u8>>, name: &str, value: &Value) -> std::io::Result<()> {
    match value {
        Value::Null => Ok(()),
        Value::Array(items) => {
            w.write_event(Event::Start(BytesStart::new(name)))?;
            for item in items {
                write_value(w, "member", item)?;
            }
            w.write_event(Event::End(BytesEnd::new(name)))
        }
        Value::Object(members) => {
            w.write_event(Event::Start(BytesStart::new(name)))?;
            for (k, v) in members {
                write_value(w, k, v)?;
            }
            w.write_event(Event::End(BytesEnd::new(name)))
        }
        Value::String(s) => text_element(w, name, s),
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
pub fn response(action: &str, result: &Value, request_id: &str) -> Vec<u8> {
    document(|w| {
        let root = format!("{action}Response");
        w.write_event(Event::Start(BytesStart::new(root.as_str()).with_attributes([("xmlns", NAMESPACE)])))?;
        let result_name = format!("{action}Result");
        match result {
            Value::Object(m) if m.is_empty() => w.write_event(Event::Empty(BytesStart::new(result_name.as_str())))?,
            _ => write_value(w, &result_name, result)?,
        }
        w.write_event(Event::Start(BytesStart::new("ResponseMetadata")))?;
        text_element(w, "RequestId", request_id)?;
        w.write_event(Event::End(BytesEnd::new("ResponseMetadata")))?;
        w.write_event(Event::End(BytesEnd::new(root.as_str())))
    })
}

/// ELB's error document.
pub fn error(code: &str, fault: &str, message: &str, request_id: &str) -> Vec<u8> {
    document(|w| {
        w.write_event(Event::Start(BytesStart::new("ErrorResponse").with_attributes([("xmlns", NAMESPACE)])))?;
        w.write_event(Event::Start(BytesStart::new("Error")))?;
        text_element(w, "Type", fault)?;
        text_element(w, "Code", code)?;
        text_element(w, "Message", message)?;
        w.write_event(Event::End(BytesEnd::new("Error")))?;
        text_element(w, "RequestId", request_id)?;
        w.write_event(Event::End(BytesEnd::new("ErrorResponse")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let empty = String::from_utf8(response("AddTags", &serde_json::json!({}), "x")).unwrap();
        assert!(empty.contains("<AddTagsResult/>"), "{empty}");
    }

    #[test]
    fn errors_carry_type_code_and_message() {
        let xml = String::from_utf8(error("LoadBalancerNotFound", "Sender", "gone", "r")).unwrap();
        assert!(xml.contains("<Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code><Message>gone</Message></Error><RequestId>r</RequestId>"), "{xml}");
    }
}
