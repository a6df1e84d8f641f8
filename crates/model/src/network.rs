//! Task networking: `networkConfiguration` as RunTask and services take it, the elastic
//! network interface attachment an `awsvpc` task carries, and the task subnets berth
//! hands out (one per host, carved from a pool), with ECS's validation.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::{status::status, EcsError, KeyValuePair};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awsvpc_configuration: Option<AwsVpcConfiguration>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsVpcConfiguration {
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<AssignPublicIp>,
}

status! {
    /// Whether an awsvpc task gets a public address (berth has none to give: accepted,
    /// validated and echoed).
    AssignPublicIp (default Disabled) { Enabled => "ENABLED", Disabled => "DISABLED" }
}

status! {
    /// Where a task's network interface attachment is (ECS's AttachmentStatus words).
    AttachmentStatus (default Precreated) {
        Precreated => "PRECREATED",
        Created => "CREATED",
        Attaching => "ATTACHING",
        Attached => "ATTACHED",
        Detaching => "DETACHING",
        Detached => "DETACHED",
        Deleted => "DELETED",
        Failed => "FAILED",
    }
}

/// The attachment type of a task's network interface.
pub const ENI_ATTACHMENT: &str = "ElasticNetworkInterface";

/// A resource attached to a task: for awsvpc tasks, its network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: AttachmentStatus,
    #[serde(default)]
    pub details: Vec<KeyValuePair>,
}

impl Attachment {
    /// The value of detail `name`.
    pub fn detail(&self, name: &str) -> Option<&str> {
        self.details.iter().find(|d| d.name.as_deref() == Some(name)).and_then(|d| d.value.as_deref())
    }
}

/// A container's view of its task's interface (`networkInterfaces` in DescribeTasks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
    #[serde(rename = "privateIpv4Address", skip_serializing_if = "Option::is_none")]
    pub private_ipv4_address: Option<String>,
}

/// The most subnets and security groups an awsvpcConfiguration may name.
pub const MAX_SUBNETS: usize = 16;
pub const MAX_SECURITY_GROUPS: usize = 5;

/// Checks a RunTask's or service's `networkConfiguration` against the task definition's
/// network mode, as ECS does (same exception types and messages).
pub fn validate_network_configuration(
    network_mode: &str,
    fargate: bool,
    config: Option<&NetworkConfiguration>,
) -> Result<(), EcsError> {
    let vpc = config.and_then(|c| c.awsvpc_configuration.as_ref());
    if network_mode != "awsvpc" {
        if vpc.is_some() {
            return Err(EcsError::invalid(
                "Network Configuration is not valid for the given networkMode of this task definition.",
            ));
        }
        return Ok(());
    }
    let Some(vpc) = vpc else {
        return Err(EcsError::invalid(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
        ));
    };
    if vpc.subnets.is_empty() {
        return Err(EcsError::invalid("subnets can not be empty."));
    }
    if vpc.subnets.len() > MAX_SUBNETS {
        return Err(EcsError::invalid(format!(
            "At most {MAX_SUBNETS} subnets can be given; there are {}.",
            vpc.subnets.len()
        )));
    }
    if vpc.security_groups.len() > MAX_SECURITY_GROUPS {
        return Err(EcsError::invalid(format!(
            "At most {MAX_SECURITY_GROUPS} security groups can be given; there are {}.",
            vpc.security_groups.len()
        )));
    }
    for s in &vpc.subnets {
        if s.trim().is_empty() {
            return Err(EcsError::invalid("subnets can not contain an empty subnet id."));
        }
    }
    if vpc.assign_public_ip == Some(AssignPublicIp::Enabled) && !fargate {
        return Err(EcsError::invalid("Assign public IP is not supported for this launch type."));
    }
    Ok(())
}

/// A pool of task subnets: `/24`s carved from an IPv4 block (`10.201.0.0/16` by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubnetPool {
    base: u32,
    prefix: u8,
}

/// The default pool of task subnets.
pub const DEFAULT_TASK_POOL: &str = "10.201.0.0/16";
/// Each host's task subnet is a `/24`: 253 task addresses (the gateway is `.1`).
pub const TASK_SUBNET_PREFIX: u8 = 24;

impl std::str::FromStr for SubnetPool {
    type Err = String;

    fn from_str(s: &str) -> Result<SubnetPool, String> {
        let (addr, prefix) =
            s.split_once('/').ok_or_else(|| format!("'{s}' is not a CIDR block like 10.201.0.0/16"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| format!("'{addr}' is not an IPv4 address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| format!("'{prefix}' is not a prefix length"))?;
        if !(8..=TASK_SUBNET_PREFIX).contains(&prefix) {
            return Err(format!("the task pool's prefix must be between /8 and /{TASK_SUBNET_PREFIX}, not /{prefix}"));
        }
        let base = u32::from(addr) & (u32::MAX << (32 - prefix));
        Ok(SubnetPool { base, prefix })
    }
}

impl Default for SubnetPool {
    fn default() -> SubnetPool {
        DEFAULT_TASK_POOL.parse().expect("the default pool parses")
    }
}

impl SubnetPool {
    /// How many task subnets the pool holds.
    pub fn subnets(&self) -> u32 {
        1 << (TASK_SUBNET_PREFIX - self.prefix)
    }

    /// The `index`th task subnet of the pool.
    pub fn subnet(&self, index: u32) -> Option<TaskSubnet> {
        (index < self.subnets()).then(|| TaskSubnet { network: Ipv4Addr::from(self.base + (index << 8)) })
    }

    /// The first subnet of the pool that `taken` does not hold.
    pub fn first_free(&self, taken: &std::collections::HashSet<TaskSubnet>) -> Option<TaskSubnet> {
        (0..self.subnets()).filter_map(|i| self.subnet(i)).find(|s| !taken.contains(s))
    }
}

/// One host's task subnet (a `/24`); `.1` is the host's side, tasks get `.2` to `.254`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskSubnet {
    network: Ipv4Addr,
}

impl TaskSubnet {
    pub fn cidr(&self) -> String {
        format!("{}/{TASK_SUBNET_PREFIX}", self.network)
    }

    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// Task addresses, lowest first.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let n = u32::from(self.network);
        (2..255).map(move |i| Ipv4Addr::from(n + i))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & 0xffff_ff00 == u32::from(self.network)
    }
}

impl std::str::FromStr for TaskSubnet {
    type Err = String;

    fn from_str(s: &str) -> Result<TaskSubnet, String> {
        let addr = s.strip_suffix("/24").ok_or_else(|| format!("'{s}' is not a /24 task subnet"))?;
        let network: Ipv4Addr = addr.parse().map_err(|_| format!("'{addr}' is not an IPv4 address"))?;
        Ok(TaskSubnet { network: Ipv4Addr::from(u32::from(network) & 0xffff_ff00) })
    }
}

/// The MAC address berth gives a task's interface: locally administered, derived from
/// its address (as Docker derives one), so it is stable and unique within the pool.
pub fn mac_address(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// An interface's private DNS name as EC2 names it in `region`.
pub fn private_dns_name(ip: Ipv4Addr, region: &str) -> String {
    let dashed = ip.to_string().replace('.', "-");
    if region == "us-east-1" {
        format!("ip-{dashed}.ec2.internal")
    } else {
        format!("ip-{dashed}.{region}.compute.internal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vpc(subnets: &[&str], public: Option<AssignPublicIp>) -> NetworkConfiguration {
        NetworkConfiguration {
            awsvpc_configuration: Some(AwsVpcConfiguration {
                subnets: subnets.iter().map(|s| s.to_string()).collect(),
                security_groups: vec![],
                assign_public_ip: public,
            }),
        }
    }

    #[test]
    fn network_configuration_follows_the_network_mode() {
        let msg = |r: Result<(), EcsError>| r.unwrap_err().to_string();
        assert!(msg(validate_network_configuration("awsvpc", false, None)).contains("must be provided"));
        assert!(msg(validate_network_configuration("bridge", false, Some(&vpc(&["s"], None)))).contains("not valid"));
        assert!(msg(validate_network_configuration("awsvpc", false, Some(&vpc(&[], None))))
            .contains("subnets can not be empty"));
        assert!(msg(validate_network_configuration(
            "awsvpc",
            false,
            Some(&vpc(&["s"], Some(AssignPublicIp::Enabled)))
        ))
        .contains("Assign public IP"));
        validate_network_configuration("awsvpc", true, Some(&vpc(&["s"], Some(AssignPublicIp::Enabled)))).unwrap();
        validate_network_configuration("bridge", false, None).unwrap();
        validate_network_configuration("bridge", false, Some(&NetworkConfiguration::default())).unwrap();
    }

    #[test]
    fn pools_hand_out_distinct_subnets() {
        let pool: SubnetPool = "10.201.7.9/16".parse().unwrap();
        assert_eq!(pool.subnets(), 256);
        let first = pool.subnet(0).unwrap();
        assert_eq!(first.cidr(), "10.201.0.0/24");
        assert_eq!(first.gateway().to_string(), "10.201.0.1");
        assert_eq!(first.hosts().next().unwrap().to_string(), "10.201.0.2");
        assert_eq!(first.hosts().count(), 253);
        let taken = [first].into_iter().collect();
        assert_eq!(pool.first_free(&taken).unwrap().cidr(), "10.201.1.0/24");
        assert!(pool.subnet(256).is_none());
        assert_eq!("10.201.1.0/24".parse::<TaskSubnet>().unwrap(), pool.subnet(1).unwrap());
        assert!("10.0.0.0/12".parse::<SubnetPool>().is_ok() && "10.0.0.0/25".parse::<SubnetPool>().is_err());
        assert_eq!(mac_address("10.201.0.2".parse().unwrap()), "02:42:0a:c9:00:02");
        assert_eq!(
            private_dns_name("10.1.2.3".parse().unwrap(), "eu-west-1"),
            "ip-10-1-2-3.eu-west-1.compute.internal"
        );
    }
}
