//! Amazon Resource Names in ECS's long format: `arn:aws:ecs:REGION:ACCOUNT:TYPE/NAME`.

use std::fmt;

/// A parsed ARN. `resource` is everything after the first `/` of the resource part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource_type: String,
    pub resource: String,
}

impl Arn {
    pub fn ecs(region: &str, account: &str, resource_type: &str, resource: &str) -> Self {
        Arn {
            service: "ecs".into(),
            region: region.into(),
            account: account.into(),
            resource_type: resource_type.into(),
            resource: resource.into(),
        }
    }

    /// Parses `arn:PARTITION:SERVICE:REGION:ACCOUNT:TYPE/RESOURCE`; `None` if it is not one.
    pub fn parse(s: &str) -> Option<Arn> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let _partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let rest = parts.next()?;
        let (resource_type, resource) = rest.split_once('/')?;
        if service.is_empty() || resource_type.is_empty() || resource.is_empty() {
            return None;
        }
        Some(Arn {
            service: service.into(),
            region: region.into(),
            account: account.into(),
            resource_type: resource_type.into(),
            resource: resource.into(),
        })
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arn:aws:{}:{}:{}:{}/{}", self.service, self.region, self.account, self.resource_type, self.resource)
    }
}

/// How a caller may name a cluster: a bare name or its ARN. Returns the name.
/// Whether `region` has the shape of an AWS region name (`us-east-1`, `us-gov-west-1`,
/// `cn-northwest-1`): lowercase words joined by hyphens, ending in a number. Every ARN,
/// registry host and token berth makes embeds the region, so nothing else is accepted.
pub fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    region.len() <= 32
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts.last().is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The ARN `reference`, checked as ECS checks an ARN it is given: an ECS `kind` ARN of the
/// caller's region and account, or an error that says which part is wrong.
pub fn checked(reference: &str, kind: &str, region: &str, account: &str) -> Result<Arn, crate::EcsError> {
    use crate::EcsError;
    let arn = Arn::parse(reference).ok_or_else(|| {
        EcsError::invalid(format!(
            "Invalid identifier: '{reference}' is not an ARN like arn:aws:ecs:{region}:{account}:{kind}/…"
        ))
    })?;
    if arn.service != "ecs" || arn.resource_type != kind {
        return Err(EcsError::invalid(format!("Invalid identifier: '{reference}' is not an ECS {kind} ARN.")));
    }
    if arn.region != region {
        return Err(EcsError::invalid("Invalid Region in ARN"));
    }
    if arn.account != account {
        return Err(EcsError::invalid(format!("Identifier is for {}. Your accountId is {account}", arn.account)));
    }
    Ok(arn)
}

pub fn cluster_name_from(reference: &str) -> &str {
    match reference.strip_prefix("arn:") {
        Some(_) => reference.rsplit_once("cluster/").map(|(_, n)| n).unwrap_or(reference),
        None => reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let a = Arn::ecs("us-east-1", "000000000000", "task-definition", "web:3");
        let s = a.to_string();
        assert_eq!(s, "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3");
        assert_eq!(Arn::parse(&s), Some(a));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(Arn::parse("web:3"), None);
        assert_eq!(Arn::parse("arn:aws:ecs:r:a:cluster"), None);
    }

    #[test]
    fn cluster_reference() {
        assert_eq!(cluster_name_from("web"), "web");
        assert_eq!(cluster_name_from("arn:aws:ecs:us-east-1:1:cluster/web"), "web");
    }
}

#[cfg(test)]
mod region_tests {
    use super::valid_region;

    #[test]
    fn region_shapes() {
        for ok in ["us-east-1", "us-gov-west-1", "cn-northwest-1", "ap-southeast-5", "us-isob-east-1", "eu-central-2"] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "local",
            "us-east",
            "us.east-1",
            "US-EAST-1",
            "us-east-1a",
            "a-b-1",
            "us--1",
            "us-east-123",
            "us-east-1\0",
        ] {
            assert!(!valid_region(bad), "{bad:?}");
        }
    }
}
