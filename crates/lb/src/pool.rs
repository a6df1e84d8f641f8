//! Kept-alive HTTP/1.1 connections to targets, by address. A connection is taken only
//! when idle; a request on a kept connection that the target had closed is sent again on
//! a fresh one. Connecting is separate from sending, so a target that refuses the
//! connection has received nothing and the request can go to another target.

use std::{collections::HashMap, net::SocketAddr, sync::Mutex, time::Duration};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{body::Incoming, client::conn::http1::SendRequest, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Idle connections kept per target.
const MAX_IDLE: usize = 128;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The upstream connection one client connection used last: its next request to the same
/// target reuses it without touching the shared pool (a client connection's requests come
/// one after another, so it is free again by then).
#[derive(Default)]
pub struct Local {
    slot: Mutex<Option<(SocketAddr, SendRequest<Full<Bytes>>)>>,
}

impl Local {
    fn take_for(&self, addr: SocketAddr) -> Option<SendRequest<Full<Bytes>>> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take() {
            Some((a, s)) if a == addr && s.is_ready() => Some(s),
            other => {
                *slot = other;
                None
            }
        }
    }

    /// Keeps `sender` here; the one kept before goes back to the shared pool.
    fn keep(&self, addr: SocketAddr, sender: SendRequest<Full<Bytes>>, pool: &Pool) {
        let previous = self.slot.lock().unwrap_or_else(|p| p.into_inner()).replace((addr, sender));
        if let Some((a, s)) = previous {
            if !s.is_closed() {
                pool.put(a, s);
            }
        }
    }
}

#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<SocketAddr, Vec<SendRequest<Full<Bytes>>>>>,
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum SendError {
    /// Nothing reached the target (refused, unreachable, connect timed out): another
    /// target may take the request.
    Connect(std::io::Error),
    /// No answer within the listener's idle timeout.
    Timeout,
    /// The target closed the connection without answering a byte (a dead container
    /// behind Docker's port proxy looks like this): an idempotent request may go elsewhere.
    Closed(hyper::Error),
    /// The target failed the request after it was sent.
    Failed(hyper::Error),
}

impl Pool {
    fn take(&self, addr: SocketAddr) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(&addr)?;
        list.retain(|s| !s.is_closed());
        let i = list.iter().position(|s| s.is_ready())?;
        Some(list.swap_remove(i))
    }

    /// Keeps a connection for later: it becomes ready again once its answer was read.
    fn put(&self, addr: SocketAddr, sender: SendRequest<Full<Bytes>>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE {
            list.push(sender);
        }
    }

    async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, std::io::Error> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
        let _ = stream.set_nodelay(true);
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends `request` to `addr`, waiting at most `timeout` for the answer's head.
    pub async fn send(
        &self,
        addr: SocketAddr,
        request: &Request<Full<Bytes>>,
        timeout: Duration,
        local: &Local,
    ) -> Result<Response<Incoming>, SendError> {
        if let Some(mut kept) = local.take_for(addr).or_else(|| self.take(addr)) {
            match tokio::time::timeout(timeout, kept.send_request(clone(request))).await {
                Ok(Ok(response)) => {
                    local.keep(addr, kept, self);
                    return Ok(response);
                }
                Err(_) => return Err(SendError::Timeout),
                // The target closed the kept connection: try once on a fresh one.
                Ok(Err(_)) => {}
            }
        }
        let mut fresh = Self::connect(addr).await.map_err(SendError::Connect)?;
        match tokio::time::timeout(timeout, fresh.send_request(clone(request))).await {
            Ok(Ok(response)) => {
                local.keep(addr, fresh, self);
                Ok(response)
            }
            // Every failure before an answer's head but a malformed answer: closed or reset.
            Ok(Err(e)) if !e.is_parse() && !e.is_parse_status() => Err(SendError::Closed(e)),
            Ok(Err(e)) => Err(SendError::Failed(e)),
            Err(_) => Err(SendError::Timeout),
        }
    }
}

fn clone(r: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut out = Request::new(r.body().clone());
    *out.method_mut() = r.method().clone();
    *out.uri_mut() = r.uri().clone();
    *out.version_mut() = r.version();
    *out.headers_mut() = r.headers().clone();
    out
}
