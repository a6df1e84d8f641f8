//! awsvpc tasks' network interfaces: an address from their host's task subnet, the
//! `ElasticNetworkInterface` attachment ECS shows (PRECREATED → ATTACHING → ATTACHED →
//! DELETED), and the containers' `networkInterfaces`.

use std::{
    collections::{HashMap, HashSet},
    net::Ipv4Addr,
};

use berth_model::{
    container_instance::HOST_ADDRESS_ATTRIBUTE,
    network::{self, Attachment, AttachmentStatus, NetworkInterface, TaskSubnet, ENI_ATTACHMENT},
    status::TaskStatus,
    task::Task,
    KeyValuePair,
};

use crate::{instances::random_id, InstanceRecord, RegionState};

/// Addresses handed out per host during one write (on top of those its tasks hold).
#[derive(Default)]
pub(crate) struct Addresses {
    /// Per host: addresses in use (tasks not STOPPED, and those handed out in this write),
    /// and addresses of STOPPED tasks still remembered.
    hosts: HashMap<String, (HashSet<Ipv4Addr>, HashSet<Ipv4Addr>)>,
}

impl Addresses {
    /// A free address of `host`'s task subnet, marked taken: the lowest that no task it
    /// remembers had (so a load balancer target or DNS record of a stopped task never
    /// points at a new one while it is being cleaned up), else the lowest free one.
    /// `None` when the subnet is full or the host has none.
    pub(crate) fn take(&mut self, region: &RegionState, host: &InstanceRecord) -> Option<(TaskSubnet, Ipv4Addr)> {
        let subnet: TaskSubnet = host.task_subnet.as_deref()?.parse().ok()?;
        let arn = &host.instance.container_instance_arn;
        let (taken, stopped) = self.hosts.entry(arn.clone()).or_insert_with(|| {
            let (mut taken, mut stopped) = (HashSet::new(), HashSet::new());
            for t in region.tasks_on(arn) {
                let Some(ip) = t.task.private_ipv4().and_then(|ip| ip.parse().ok()) else { continue };
                if t.task.last() == TaskStatus::Stopped {
                    stopped.insert(ip);
                } else {
                    taken.insert(ip);
                }
            }
            (taken, stopped)
        });
        let ip = subnet
            .hosts()
            .find(|ip| !taken.contains(ip) && !stopped.contains(ip))
            .or_else(|| subnet.hosts().find(|ip| !taken.contains(ip)))?;
        taken.insert(ip);
        Some((subnet, ip))
    }
}

/// Every host's task subnet with the address the host is reached at (hosts not
/// deregistered that have both).
pub(crate) fn routes(region: &RegionState) -> Vec<berth_model::agent::TaskRoute> {
    let mut out: Vec<_> = region
        .instances
        .values()
        .filter(|r| r.instance.status != berth_model::status::InstanceStatus::Inactive)
        .filter_map(|r| {
            let subnet = r.task_subnet.clone()?;
            let via = r.instance.attributes.iter().find(|a| a.name == HOST_ADDRESS_ATTRIBUTE)?.value.clone()?;
            Some(berth_model::agent::TaskRoute { subnet, via })
        })
        .collect();
    out.sort();
    out
}

/// A fresh interface attachment, PRECREATED: its interface id and the awsvpc subnet
/// (of those the request named) it is reported in; the address comes with a host.
pub(crate) fn attachment(subnet_id: &str) -> Attachment {
    let detail = |name: &str, value: String| KeyValuePair { name: Some(name.into()), value: Some(value) };
    Attachment {
        id: uuid_like(),
        kind: ENI_ATTACHMENT.into(),
        status: AttachmentStatus::Precreated,
        details: vec![
            detail("subnetId", subnet_id.into()),
            detail("networkInterfaceId", format!("eni-{}", &random_id()[..17])),
        ],
    }
}

/// Gives `task`'s interface its address (with the MAC and DNS name that go with it), and
/// every container its view of the interface.
pub(crate) fn set_address(task: &mut Task, region: &str, ip: Ipv4Addr) {
    let Some(eni) = task.attachments.iter_mut().find(|a| a.kind == ENI_ATTACHMENT) else { return };
    eni.details.retain(|d| !matches!(d.name.as_deref(), Some("macAddress" | "privateDnsName" | "privateIPv4Address")));
    for (name, value) in [
        ("macAddress", network::mac_address(ip)),
        ("privateDnsName", network::private_dns_name(ip, region)),
        ("privateIPv4Address", ip.to_string()),
    ] {
        eni.details.push(KeyValuePair { name: Some(name.into()), value: Some(value) });
    }
    let id = eni.id.clone();
    for c in &mut task.containers {
        c.network_interfaces =
            vec![NetworkInterface { attachment_id: Some(id.clone()), private_ipv4_address: Some(ip.to_string()) }];
    }
}

/// Moves the task's interface to `status` when that is further along; whether it moved.
pub(crate) fn advance(task: &mut Task, status: AttachmentStatus) -> bool {
    match task.attachments.iter_mut().find(|a| a.kind == ENI_ATTACHMENT) {
        Some(a) if a.status < status => {
            a.status = status;
            true
        }
        _ => false,
    }
}

/// An attachment id shaped as ECS's (a UUID).
pub(crate) fn uuid_like() -> String {
    let h = format!("{:032x}", rand::random::<u128>());
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attachment_carries_what_ecs_shows() {
        let a = attachment("subnet-1");
        assert_eq!(a.status, AttachmentStatus::Precreated);
        assert_eq!(a.detail("subnetId"), Some("subnet-1"));
        assert!(a.detail("networkInterfaceId").unwrap().starts_with("eni-"));
        assert_eq!(a.id.len(), 36);
        let mut t = Task { containers: vec![Default::default()], attachments: vec![a], ..Default::default() };
        assert_eq!(t.private_ipv4(), None);
        set_address(&mut t, "us-east-1", "10.201.0.2".parse().unwrap());
        let eni = t.eni().unwrap();
        assert_eq!(eni.detail("privateDnsName"), Some("ip-10-201-0-2.ec2.internal"));
        assert_eq!(eni.detail("macAddress"), Some("02:42:0a:c9:00:02"));
        assert_eq!(t.private_ipv4(), Some("10.201.0.2"));
        assert_eq!(t.containers[0].network_interfaces[0].private_ipv4_address.as_deref(), Some("10.201.0.2"));
        assert!(advance(&mut t, AttachmentStatus::Attached));
        assert!(!advance(&mut t, AttachmentStatus::Attaching), "an attachment never moves back");
    }
}
