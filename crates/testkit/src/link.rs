//! A TCP link between an agent and its server that a test can cut and heal: a proxy on
//! 127.0.0.1 that forwards while healthy and, while cut, drops its connections and
//! black-holes new ones (accepted, never answered), as a partition looks to both ends.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use tokio::{net::TcpListener, sync::watch};

pub struct FaultyLink {
    pub addr: SocketAddr,
    cut: watch::Sender<bool>,
    stopped: Arc<AtomicBool>,
}

impl FaultyLink {
    /// Starts forwarding from a new port to `target`.
    pub async fn start(target: SocketAddr) -> FaultyLink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the link");
        let addr = listener.local_addr().expect("link address");
        let (cut, cut_rx) = watch::channel(false);
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let mut cut_rx = cut_rx.clone();
                tokio::spawn(async move {
                    if *cut_rx.borrow() {
                        // Black hole: hold the connection until healed, say nothing.
                        let _ = cut_rx.wait_for(|c| !*c).await;
                        return;
                    }
                    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else { return };
                    let (mut a, mut b) = (inbound, outbound);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut a, &mut b) => {}
                        _ = cut_rx.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        FaultyLink { addr, cut, stopped }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts the link: open connections drop, new ones hang.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn heal(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for FaultyLink {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.cut.send_replace(true);
    }
}
