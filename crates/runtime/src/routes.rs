//! Routes between hosts' awsvpc task subnets: each host routes every other host's task
//! subnet to that host's address (`ip route replace SUBNET via HOST proto 187`, the
//! protocol number marking berth's routes so stale ones are found and removed), and
//! accepts forwarded traffic to its own task subnet (`iptables -I DOCKER-USER -d SUBNET
//! -j ACCEPT`: Docker drops forwarded traffic to its bridges otherwise). Needs root and
//! the `ip` and `iptables` commands; hosts must reach each other's addresses directly.

use std::collections::BTreeSet;

use tokio::process::Command;

/// The `proto` number berth's routes carry.
pub const ROUTE_PROTO: &str = "187";

/// One route: a task subnet (`10.201.1.0/24`) and the host address it is reached through.
pub type Route = (String, String);

/// Whether `addr` is an address of this machine (routing to it would loop).
pub fn is_local(addr: &str) -> bool {
    addr.parse::<std::net::IpAddr>().is_ok_and(|ip| std::net::UdpSocket::bind((ip, 0)).is_ok())
}

async fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().await.map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// berth's routes now in the kernel's main table.
pub async fn installed() -> Result<BTreeSet<Route>, String> {
    let text = run("ip", &["-o", "-4", "route", "show", "proto", ROUTE_PROTO]).await?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let subnet = words.next()?.to_string();
            let via = words.skip_while(|w| *w != "via").nth(1)?.to_string();
            Some((subnet, via))
        })
        .collect())
}

/// Makes berth's routes exactly `wanted` (routes through this machine's own addresses are
/// left out), and accepts forwarded traffic to `own` (this host's task subnet) where
/// Docker's firewall would drop it (a host without Docker's `DOCKER-USER` chain drops
/// nothing).
pub async fn sync(own: Option<&str>, wanted: &BTreeSet<Route>) -> Result<(), String> {
    let wanted: BTreeSet<&Route> = wanted.iter().filter(|(_, via)| !is_local(via)).collect();
    let have = installed().await?;
    for (subnet, via) in have.iter().filter(|r| !wanted.contains(r)) {
        run("ip", &["route", "del", subnet, "via", via, "proto", ROUTE_PROTO]).await?;
    }
    for (subnet, via) in wanted.into_iter().filter(|r| !have.contains(*r)) {
        run("ip", &["route", "replace", subnet, "via", via, "proto", ROUTE_PROTO]).await?;
    }
    if let Some(subnet) = own {
        let docker_firewall = run("iptables", &["-n", "-L", "DOCKER-USER"]).await.is_ok();
        let rule = ["DOCKER-USER", "-d", subnet, "-j", "ACCEPT"];
        let with = |op: &'static str| -> Vec<&str> { [op].iter().chain(rule.iter()).copied().collect() };
        if docker_firewall && run("iptables", &with("-C")).await.is_err() {
            run("iptables", &with("-I")).await?;
        }
    }
    Ok(())
}
