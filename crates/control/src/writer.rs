//! The single writer: one thread that owns the authoritative state, runs write operations
//! one at a time, and commits whatever changes accumulated while the previous commit was
//! on disk as one batch (group commit).

use std::sync::{mpsc, Arc, RwLock};

use berth_model::EcsError;
use berth_store::Store;
use tokio::sync::oneshot;

use crate::state::{Change, State};

/// Upper bound on operations folded into one transaction.
const MAX_BATCH: usize = 1024;

/// What an operation left after running: its changes and how to answer once they are
/// durable (or failed to be).
struct Staged {
    changes: Vec<Change>,
    reply: Box<dyn FnOnce(Option<EcsError>) + Send>,
}

type Command = Box<dyn FnOnce(&State) -> Staged + Send>;

pub(crate) struct WriterHandle {
    tx: mpsc::Sender<Command>,
}

impl WriterHandle {
    pub(crate) async fn submit<R: Send + 'static, E: From<EcsError> + Send + 'static>(
        &self,
        op: impl FnOnce(&State, &mut Vec<Change>) -> Result<R, E> + Send + 'static,
    ) -> Result<R, E> {
        let (tx, rx) = oneshot::channel();
        let cmd: Command = Box::new(move |state: &State| {
            let mut changes = Vec::new();
            match op(state, &mut changes) {
                Ok(r) => Staged {
                    changes,
                    reply: Box::new(move |failed| {
                        let _ = tx.send(match failed {
                            None => Ok(r),
                            Some(e) => Err(E::from(e)),
                        });
                    }),
                },
                // A refused operation changes nothing, whatever it pushed before failing.
                Err(e) => Staged { changes: Vec::new(), reply: Box::new(move |_| drop(tx.send(Err(e)))) },
            }
        });
        self.tx.send(cmd).map_err(|_| E::from(EcsError::Server("the state writer has stopped".into())))?;
        rx.await.map_err(|_| E::from(EcsError::Server("the state writer dropped the request".into())))?
    }
}

/// `commits` counts published batches, so long-polls can wait for the next one.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    state: State,
    read: Arc<RwLock<State>>,
    commits: tokio::sync::watch::Sender<u64>,
) -> WriterHandle {
    let (tx, rx) = mpsc::channel::<Command>();
    std::thread::Builder::new()
        .name("berth-writer".into())
        .spawn(move || run(store, state, read, rx, commits))
        .expect("spawn the writer thread");
    WriterHandle { tx }
}

fn run(
    store: Arc<dyn Store>,
    mut state: State,
    read: Arc<RwLock<State>>,
    rx: mpsc::Receiver<Command>,
    commits: tokio::sync::watch::Sender<u64>,
) {
    while let Ok(first) = rx.recv() {
        let mut changes: Vec<Change> = Vec::new();
        let mut replies = Vec::new();
        let mut next = Some(first);
        while let Some(cmd) = next {
            // An operation only reads the state, so a panicking one leaves it intact; its
            // caller gets an error when its reply channel is dropped.
            let Ok(staged) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cmd(&state))) else {
                tracing::error!("a write operation panicked; it was refused");
                next = rx.try_recv().ok();
                continue;
            };
            for c in &staged.changes {
                state.apply(c);
            }
            changes.extend(staged.changes);
            replies.push(staged.reply);
            next = if replies.len() < MAX_BATCH { rx.try_recv().ok() } else { None };
        }
        let failed = if changes.is_empty() {
            None
        } else {
            let mutations: Vec<_> = changes.iter().filter_map(Change::to_mutation).collect();
            let committed = if mutations.is_empty() { Ok(0) } else { store.commit(&mutations) };
            match committed {
                Ok(_) => {
                    {
                        let mut r = read.write().unwrap_or_else(|p| p.into_inner());
                        for c in &changes {
                            r.apply(c);
                        }
                    }
                    commits.send_modify(|n| *n += 1);
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, "commit failed; the batch is refused");
                    // Throw away the uncommitted changes: start again from what readers see.
                    state = read.read().unwrap_or_else(|p| p.into_inner()).clone();
                    Some(EcsError::Server(format!("the change could not be stored: {e}")))
                }
            }
        };
        for reply in replies {
            reply(failed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::*;
    use berth_model::EcsError;

    #[tokio::test]
    async fn a_panicking_operation_is_refused_and_the_writer_carries_on() {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let err = control.write(|_, _| -> Result<(), EcsError> { panic!("boom") }).await.unwrap_err();
        assert_eq!(err.code(), "ServerException");
        let c = caller();
        let cluster =
            berth_model::ecs::CreateClusterRequest { cluster_name: Some("after".into()), ..Default::default() };
        assert!(control.create_cluster(&c, cluster).await.is_ok());
    }
}
