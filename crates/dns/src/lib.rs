//! berth-dns — the DNS server of `berth server`: authoritative for every Cloud Map DNS
//! namespace (answers come from the plan control derives from the registrations, so a
//! change is answered at once), forwarding every other name to the host's resolvers.
//! UDP and TCP on one address; the wire format is hickory's.
//!
//! ```text
//!  control ──plan──► DnsServer::apply ──► Zones (swapped whole)
//!  client ──query──► UDP/TCP loop ──► Zones::answer ──► reply
//!                                  └─► not ours ──► upstream resolver ──► reply
//! ```

mod forward;
mod zones;

use std::{
    net::SocketAddr,
    sync::{Arc, RwLock},
    time::Duration,
};

use berth_model::discovery::records::DnsPlan;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
    task::JoinHandle,
};

pub use forward::host_resolvers;
pub use zones::Zones;

/// How long a TCP client may stay idle between queries.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// The UDP payload berth answers within when the client's EDNS allows more.
const UDP_PAYLOAD: u16 = 1232;
/// UDP receive loops sharing the socket (one per core here).
const UDP_WORKERS: usize = 2;

#[derive(Debug, Clone)]
pub struct DnsConfig {
    pub listen: SocketAddr,
    /// Where names berth does not own go; empty answers them REFUSED.
    pub upstreams: Vec<SocketAddr>,
}

struct Shared {
    zones: RwLock<Arc<Zones>>,
    upstreams: Vec<SocketAddr>,
}

/// A running DNS server; dropping it stops it.
pub struct DnsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Binds UDP and TCP on `config.listen` (port 0: the same free port for both).
    pub async fn start(config: DnsConfig) -> std::io::Result<DnsServer> {
        let (udp, tcp) = bind_both(config.listen).await?;
        let addr = udp.local_addr()?;
        let upstreams = config.upstreams.into_iter().filter(|u| *u != addr).collect();
        let shared = Arc::new(Shared { zones: RwLock::new(Arc::new(Zones::default())), upstreams });
        let udp = Arc::new(udp);
        let mut tasks: Vec<JoinHandle<()>> =
            (0..UDP_WORKERS).map(|_| tokio::spawn(serve_udp(udp.clone(), shared.clone()))).collect();
        tasks.push(tokio::spawn(serve_tcp(tcp, shared.clone())));
        Ok(DnsServer { addr, shared, tasks })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers from `plan` from now on.
    pub fn apply(&self, plan: &DnsPlan) {
        let zones = Arc::new(Zones::compile(plan));
        *self.shared.zones.write().unwrap_or_else(|p| p.into_inner()) = zones;
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn bind_both(listen: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    if listen.port() != 0 {
        return Ok((UdpSocket::bind(listen).await?, TcpListener::bind(listen).await?));
    }
    // An ephemeral port free for both protocols.
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(listen).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
}

impl Shared {
    fn zones(&self) -> Arc<Zones> {
        self.zones.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// What to do with one query's bytes, deciding from a single parse: answer now
    /// (berth's zones, or an error), forward it, or drop it (not even a header).
    fn local(&self, bytes: &[u8], udp_limit: Option<usize>) -> Local {
        let request = match Message::from_vec(bytes) {
            Ok(m) => m,
            Err(_) => {
                // Answer FORMERR when at least the id is there.
                let (Some(a), Some(b)) = (bytes.first(), bytes.get(1)) else { return Local::Drop };
                let id = u16::from_be_bytes([*a, *b]);
                return Local::reply(Message::error_msg(id, OpCode::Query, ResponseCode::FormErr).to_vec().ok());
            }
        };
        if request.metadata.message_type != MessageType::Query {
            return Local::Drop;
        }
        if request.metadata.op_code != OpCode::Query || request.queries.len() != 1 {
            let mut m = Message::error_msg(request.metadata.id, request.metadata.op_code, ResponseCode::NotImp);
            m.queries = request.queries.clone();
            return Local::reply(m.to_vec().ok());
        }
        let Some(mut response) = self.zones().answer(&request) else { return Local::Forward(request) };
        let limit = match (&request.edns, udp_limit) {
            (_, None) => usize::MAX,
            (Some(e), Some(_)) => e.max_payload().clamp(512, UDP_PAYLOAD) as usize,
            (None, Some(l)) => l,
        };
        if request.edns.is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(UDP_PAYLOAD);
            response.set_edns(edns);
        }
        let Ok(bytes) = response.to_vec() else { return Local::Drop };
        if bytes.len() <= limit {
            return Local::Reply(bytes);
        }
        // Too big for UDP: the client retries over TCP.
        let mut truncated = response.truncate();
        truncated.metadata.truncation = true;
        Local::reply(truncated.to_vec().ok())
    }

    /// The upstreams' answer to a query no zone of berth's holds, or the error saying
    /// there is none.
    async fn forwarded(&self, request: &Message, bytes: &[u8]) -> Option<Vec<u8>> {
        if let Some(answer) = forward::forward(&self.upstreams, bytes).await {
            return Some(answer);
        }
        let code = if self.upstreams.is_empty() { ResponseCode::Refused } else { ResponseCode::ServFail };
        let mut m = Message::error_msg(request.metadata.id, OpCode::Query, code);
        m.metadata.recursion_desired = request.metadata.recursion_desired;
        m.queries = request.queries.clone();
        m.to_vec().ok()
    }

    /// The reply to one query, forwarding it if need be (TCP answers in order).
    async fn reply(&self, bytes: &[u8], udp_limit: Option<usize>) -> Option<Vec<u8>> {
        match self.local(bytes, udp_limit) {
            Local::Reply(reply) => Some(reply),
            Local::Forward(request) => self.forwarded(&request, bytes).await,
            Local::Drop => None,
        }
    }
}

/// [`Shared::local`]'s decision.
enum Local {
    Reply(Vec<u8>),
    Forward(Message),
    Drop,
}

impl Local {
    fn reply(bytes: Option<Vec<u8>>) -> Local {
        bytes.map_or(Local::Drop, Local::Reply)
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "dns: receiving failed");
                continue;
            }
        };
        // Answers from berth's zones go back inline; forwarded queries wait on their own task.
        match shared.local(&buf[..n], Some(512)) {
            Local::Reply(reply) => drop(socket.send_to(&reply, from).await),
            Local::Forward(request) => {
                let (socket, shared, bytes) = (socket.clone(), shared.clone(), buf[..n].to_vec());
                tokio::spawn(async move {
                    if let Some(reply) = shared.forwarded(&request, &bytes).await {
                        let _ = socket.send_to(&reply, from).await;
                    }
                });
            }
            Local::Drop => {}
        }
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::spawn(serve_tcp_client(stream, shared.clone()));
    }
}

/// Length-prefixed queries, answered in order, until the client goes quiet or away.
async fn serve_tcp_client(mut stream: TcpStream, shared: Arc<Shared>) {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(reply) = shared.reply(&query, None).await else { continue };
        let Ok(n) = u16::try_from(reply.len()) else { return };
        let mut framed = n.to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}
