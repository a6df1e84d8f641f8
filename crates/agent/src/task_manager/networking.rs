//! A task's network: berth's DNS for its containers and, for an awsvpc task, its interface
//! (the pause container whose namespace its containers share).

use berth_model::network::AttachmentStatus;
use berth_runtime::ContainerRuntime;

use super::{Resolver, TaskManager};

impl<R: ContainerRuntime> TaskManager<R> {
    /// Where the task's containers find berth's DNS: the servers the server named, else
    /// the host's address on the container's network (the server listens on every address
    /// of this host).
    pub(super) async fn resolve_dns(&mut self) {
        let Some(dns) = self.dns.clone() else { return };
        if self.resolver.is_some() {
            return;
        }
        let servers = if !dns.servers.is_empty() {
            dns.servers.clone()
        } else if self.eni.is_some() {
            self.network.gateway().into_iter().collect()
        } else {
            match self.td.network_mode() {
                "host" => vec!["127.0.0.1".to_string()],
                "bridge" => match self.runtime.network_gateway("bridge").await {
                    Ok(gateway) => gateway.into_iter().collect(),
                    Err(e) => {
                        tracing::warn!(task = %self.task_arn, error = %e, "finding the bridge network's gateway failed");
                        Vec::new()
                    }
                },
                _ => Vec::new(),
            }
        };
        self.resolver = Some(Resolver { servers, search: dns.search.clone() });
    }

    /// Sets up an awsvpc task's network (its pause container); the failure is the task's.
    pub(super) async fn attach_network(&mut self) -> Result<(), String> {
        let Some(eni) = self.eni.clone() else { return Ok(()) };
        if self.pause.is_some() {
            return Ok(());
        }
        self.resolve_dns().await;
        self.eni_status = Some(AttachmentStatus::Attaching);
        self.report();
        let network = self.network.clone();
        let id = network
            .attach(self.runtime.as_ref(), &self.ctx(), &eni, self.resolver.as_ref())
            .await
            .map_err(|e| format!("ResourceInitializationError: failed to set up the task's network interface: {e}"))?;
        self.pause = Some(id);
        self.eni_status = Some(AttachmentStatus::Attached);
        self.report();
        Ok(())
    }
}
