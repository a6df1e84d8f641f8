//! The accept loop and what bounds each connection: a cap on connections open at once,
//! a deadline for every request head (which also closes idle keep-alive connections),
//! back-off when `accept` fails (at the descriptor limit it fails at once, every time)
//! and warnings that are rate-limited so a failing loop cannot flood the log.

use std::{future::Future, sync::Arc, time::Duration};

use hyper::{server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore, time::Instant};

use crate::server::{handle, Api};

/// How long a connection may take to send a request head, and stay idle between requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once unless configured otherwise; more wait in the kernel's backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// How many connections the listener serves at once.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits { max_connections: DEFAULT_MAX_CONNECTIONS, header_read_timeout: HEADER_READ_TIMEOUT }
    }
}

/// Serves connections from `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, api: Arc<Api>, shutdown: impl Future<Output = ()>) {
    serve_with(listener, api, ConnectionLimits::default(), shutdown).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    listener: TcpListener,
    api: Arc<Api>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut failures = AcceptFailures::default();
    loop {
        // Take a slot before accepting: at the cap, new connections wait in the backlog.
        let permit = tokio::select! {
            _ = &mut shutdown => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    failures.succeeded();
                    stream
                }
                Err(e) => {
                    let pause = failures.failed(&e);
                    drop(permit);
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(api.clone(), req));
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
            if let Err(e) = builder.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
}

/// Consecutive accept failures: the pause before the next try doubles from 10 ms to 1 s,
/// and a warning is logged at most every 5 s, counting those it held back.
#[derive(Default)]
struct AcceptFailures {
    consecutive: u32,
    last_warning: Option<Instant>,
    held_back: u64,
}

impl AcceptFailures {
    fn succeeded(&mut self) {
        self.consecutive = 0;
    }

    fn failed(&mut self, error: &std::io::Error) -> Duration {
        self.consecutive = self.consecutive.saturating_add(1);
        let now = Instant::now();
        if self.last_warning.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(5)) {
            tracing::warn!(%error, held_back = self.held_back, "accepting a connection failed; backing off");
            self.last_warning = Some(now);
            self.held_back = 0;
        } else {
            self.held_back += 1;
        }
        backoff(self.consecutive)
    }
}

fn backoff(consecutive: u32) -> Duration {
    Duration::from_millis(10u64.saturating_mul(1 << consecutive.saturating_sub(1).min(7))).min(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_second() {
        assert_eq!(backoff(1), Duration::from_millis(10));
        assert_eq!(backoff(2), Duration::from_millis(20));
        assert_eq!(backoff(7), Duration::from_millis(640));
        assert_eq!(backoff(8), Duration::from_secs(1));
        assert_eq!(backoff(1000), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn warnings_are_rate_limited() {
        let mut f = AcceptFailures::default();
        let e = std::io::Error::from_raw_os_error(24);
        f.failed(&e);
        let first = f.last_warning;
        for _ in 0..1000 {
            f.failed(&e);
        }
        assert_eq!((f.last_warning, f.held_back), (first, 1000), "no second warning within 5 s");
        tokio::time::advance(Duration::from_secs(6)).await;
        f.failed(&e);
        assert_eq!(f.held_back, 0, "a warning after 5 s reports and resets the count");
        assert_ne!(f.last_warning, first);
    }
}
