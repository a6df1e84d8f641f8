//! The data plane's own threads: each runs a single-threaded event loop and has its own
//! socket on every listener port (SO_REUSEPORT, the kernel spreads connections), so a
//! request is served start to end on one thread — no hand-offs between threads, which on
//! a busy host cost milliseconds at the tail — and the control plane's work never delays it.

use std::{
    net::SocketAddr,
    sync::atomic::{AtomicUsize, Ordering},
};

use tokio::{net::TcpSocket, runtime::Handle, sync::oneshot};

pub struct Workers {
    handles: Vec<Handle>,
    /// Dropping these ends the threads (and every task on them).
    _stops: Vec<oneshot::Sender<()>>,
    next: AtomicUsize,
}

impl Workers {
    pub fn start(threads: usize) -> Workers {
        let mut handles = Vec::new();
        let mut stops = Vec::new();
        for i in 0..threads {
            let (handle_tx, handle_rx) = std::sync::mpsc::channel();
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            std::thread::Builder::new()
                .name(format!("berth-lb-{i}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a load balancer event loop");
                    let _ = handle_tx.send(runtime.handle().clone());
                    runtime.block_on(async {
                        let _ = stop_rx.await;
                    });
                })
                .expect("spawn a load balancer thread");
            handles.push(handle_rx.recv().expect("the load balancer thread started"));
            stops.push(stop_tx);
        }
        Workers { handles, _stops: stops, next: AtomicUsize::new(0) }
    }

    /// A worker for the next piece of work (round robin).
    pub fn next(&self) -> &Handle {
        &self.handles[self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len()]
    }

    /// One listening socket on `addr` per worker, registered with that worker's loop.
    pub fn bind_all(&self, addr: SocketAddr) -> std::io::Result<Vec<(Handle, tokio::net::TcpListener)>> {
        let mut out = Vec::new();
        for handle in &self.handles {
            let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            socket.set_reuseaddr(true)?;
            socket.set_reuseport(true)?;
            socket.bind(addr)?;
            // Registered with the worker's reactor: its loop is the one that polls it.
            let _entered = handle.enter();
            out.push((handle.clone(), socket.listen(1024)?));
        }
        Ok(out)
    }
}
