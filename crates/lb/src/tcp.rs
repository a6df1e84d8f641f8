//! TCP listeners (network load balancers): each connection goes to a target of the
//! listener's forward action, whole; a target that refuses it is skipped for the next.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use berth_model::elb::plane::{ActionPlan, ListenerPlan, TargetKey};
use tokio::net::{TcpListener, TcpStream};

use crate::{routing, Shared};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ATTEMPTS: usize = 3;

pub async fn serve(listener: TcpListener, routes: Arc<RwLock<Arc<ListenerPlan>>>, shared: Arc<Shared>) {
    loop {
        let (client, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "load balancer accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let plan = routes.read().unwrap_or_else(|p| p.into_inner()).clone();
        let shared = shared.clone();
        tokio::spawn(async move { relay(client, &plan, &shared).await });
    }
}

async fn relay(mut client: TcpStream, plan: &ListenerPlan, shared: &Shared) {
    let _ = client.set_nodelay(true);
    let Some(ActionPlan::Forward { groups, .. }) = plan.rules.last().map(|r| &r.action) else { return };
    let Some(group) = routing::weighted(groups, rand::random::<f64>()).and_then(|arn| shared.group(arn)) else {
        return;
    };
    let mut tried: Vec<TargetKey> = Vec::new();
    for _ in 0..MAX_ATTEMPTS {
        let Some(target) = group.pick(&tried) else { return };
        let Some(addr) = target.addr else { return };
        let guard = target.begin(shared.report.clone());
        if target.is_draining() {
            tried.push(target.key.clone());
            continue;
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(mut upstream)) => {
                let _ = upstream.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                drop(guard);
                return;
            }
            _ => tried.push(target.key.clone()),
        }
    }
}
