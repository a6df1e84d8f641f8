//! berth's DNS server over real sockets: answers from a plan over UDP and TCP, the
//! negative answers of a zone, truncation of answers too big for UDP, and forwarding of
//! names it does not own to an upstream (another berth DNS server here).

use std::{net::SocketAddr, time::Duration};

use berth_dns::{DnsConfig, DnsServer};
use berth_model::discovery::{
    records::{DnsPlan, Registered},
    DiscoveryService, DnsConfig as SdDnsConfig, DnsRecord, Instance, Namespace, NamespaceType, RecordType,
    RoutingPolicy, INSTANCE_IPV4, INSTANCE_PORT,
};
use hickory_proto::{
    op::{Message, Query, ResponseCode},
    rr::{Name, RData, RecordType as Rt},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
};

fn plan(zone: &str, service: &str, addresses: &[&str], policy: RoutingPolicy) -> DnsPlan {
    plan_with_ids(zone, service, addresses, policy, "task")
}

fn plan_with_ids(zone: &str, service: &str, addresses: &[&str], policy: RoutingPolicy, id_prefix: &str) -> DnsPlan {
    let ns = Namespace { name: zone.into(), kind: NamespaceType::DnsPrivate, ..Default::default() };
    let svc = DiscoveryService {
        name: service.into(),
        dns_config: Some(SdDnsConfig {
            routing_policy: Some(policy),
            dns_records: vec![DnsRecord { kind: RecordType::A, ttl: 7 }, DnsRecord { kind: RecordType::Srv, ttl: 7 }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let instances: Vec<Instance> = addresses
        .iter()
        .enumerate()
        .map(|(i, ip)| Instance {
            id: format!("{id_prefix}{i}"),
            attributes: [(INSTANCE_IPV4.to_string(), ip.to_string()), (INSTANCE_PORT.to_string(), "8080".into())]
                .into(),
            ..Default::default()
        })
        .collect();
    let registered: Vec<Registered> = instances.iter().map(|i| Registered { instance: i, healthy: true }).collect();
    let mut plan = DnsPlan::default();
    plan.zone(&ns).add_service(zone, &svc, &registered);
    plan
}

async fn server(upstreams: Vec<SocketAddr>) -> DnsServer {
    DnsServer::start(DnsConfig { listen: "127.0.0.1:0".parse().unwrap(), upstreams }).await.unwrap()
}

fn query(name: &str, kind: Rt) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
    m
}

async fn udp(addr: SocketAddr, q: &Message) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(&q.to_vec().unwrap(), addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf)).await.expect("an answer").unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

async fn tcp(addr: SocketAddr, q: &Message) -> Message {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let bytes = q.to_vec().unwrap();
    stream.write_all(&(bytes.len() as u16).to_be_bytes()).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

fn addresses(m: &Message) -> Vec<String> {
    let mut out: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn answers_a_srv_and_soa_over_udp_and_tcp_and_says_what_does_not_exist() {
    let dns = server(Vec::new()).await;
    dns.apply(&plan("shop.local", "api", &["10.0.0.1", "10.0.0.2", "10.0.0.3"], RoutingPolicy::Multivalue));
    let addr = dns.local_addr();

    let a = udp(addr, &query("API.shop.local.", Rt::A)).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(a.metadata.authoritative);
    assert_eq!(addresses(&a), vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    assert!(a.answers.iter().all(|r| r.ttl == 7), "the DnsConfig's TTL");
    assert_eq!(addresses(&tcp(addr, &query("api.shop.local.", Rt::A)).await), addresses(&a));

    let srv = udp(addr, &query("api.shop.local.", Rt::SRV)).await;
    assert_eq!(srv.answers.len(), 3);
    assert!(srv.answers.iter().all(|r| matches!(&r.data, RData::SRV(s) if s.port == 8080)));
    assert_eq!(srv.additionals.iter().filter(|r| matches!(r.data, RData::A(_))).count(), 3, "targets' addresses");

    let soa = udp(addr, &query("shop.local.", Rt::SOA)).await;
    assert!(matches!(&soa.answers[..], [r] if matches!(r.data, RData::SOA(_))));

    let missing = udp(addr, &query("nope.shop.local.", Rt::A)).await;
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
    assert!(
        matches!(&missing.authorities[..], [r] if matches!(&r.data, RData::SOA(s) if s.minimum == 1)),
        "short negative TTL"
    );
    let nodata = udp(addr, &query("api.shop.local.", Rt::AAAA)).await;
    assert_eq!((nodata.metadata.response_code, nodata.answers.len()), (ResponseCode::NoError, 0));

    // Not berth's, and no upstream: refused.
    let other = udp(addr, &query("example.org.", Rt::A)).await;
    assert_eq!(other.metadata.response_code, ResponseCode::Refused);

    // A new plan is answered at once; a weighted service answers one address.
    dns.apply(&plan("shop.local", "api", &["10.0.0.9", "10.0.0.8"], RoutingPolicy::Weighted));
    let one = udp(addr, &query("api.shop.local.", Rt::A)).await;
    assert!(matches!(&addresses(&one)[..], [a] if a == "10.0.0.9" || a == "10.0.0.8"), "{one:?}");
}

#[tokio::test]
async fn multivalue_answers_at_most_eight_and_big_answers_truncate_over_udp() {
    let dns = server(Vec::new()).await;
    let many: Vec<String> = (1..=40).map(|i| format!("10.0.1.{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    // Instance ids as long as ECS task ids make SRV answers with their targets big.
    dns.apply(&plan_with_ids("big.local", "api", &refs, RoutingPolicy::Multivalue, &"0123456789abcdef".repeat(3)));
    let a = udp(dns.local_addr(), &query("api.big.local.", Rt::A)).await;
    assert_eq!(a.answers.len(), 8);
    // 8 SRV answers with their 8 target addresses exceed 512 bytes (no EDNS).
    let srv = udp(dns.local_addr(), &query("api.big.local.", Rt::SRV)).await;
    assert!(srv.metadata.truncation && srv.answers.is_empty(), "{srv:?}");
    let over_tcp = tcp(dns.local_addr(), &query("api.big.local.", Rt::SRV)).await;
    assert_eq!(over_tcp.answers.len(), 8);
}

#[tokio::test]
async fn names_it_does_not_own_are_forwarded_upstream() {
    let upstream = server(Vec::new()).await;
    upstream.apply(&plan("elsewhere.test", "db", &["192.0.2.7"], RoutingPolicy::Multivalue));
    let dns = server(vec![upstream.local_addr()]).await;
    dns.apply(&plan("shop.local", "api", &["10.0.0.1"], RoutingPolicy::Multivalue));
    let forwarded = udp(dns.local_addr(), &query("db.elsewhere.test.", Rt::A)).await;
    assert_eq!(addresses(&forwarded), vec!["192.0.2.7"]);
    let over_tcp = tcp(dns.local_addr(), &query("db.elsewhere.test.", Rt::A)).await;
    assert_eq!(addresses(&over_tcp), vec!["192.0.2.7"]);
}
