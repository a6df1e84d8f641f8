//! The shape every controller has: a set of keys (the things it looks after), and a pass
//! over one key that decides from the state and the time it is given, pushes its changes,
//! and says when to look at that key again. Passes run inside the writer, so each decides
//! over exactly the state it changes; time comes in from a [`Clock`], so tests can stop it.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use berth_model::{time, EcsError};

use crate::{state::Change, Control, RegionState, State};

/// What a pass over one key decided about when to look again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Nothing is due: look again on the next commit or the resync period.
    Done,
    /// Something becomes due by itself (a task settles, a backoff ends) after this long.
    RequeueAfter(Duration),
}

impl Action {
    /// The sooner of two actions.
    pub fn min(self, other: Action) -> Action {
        match (self, other) {
            (Action::RequeueAfter(a), Action::RequeueAfter(b)) => Action::RequeueAfter(a.min(b)),
            (Action::RequeueAfter(a), Action::Done) | (Action::Done, Action::RequeueAfter(a)) => {
                Action::RequeueAfter(a)
            }
            (Action::Done, Action::Done) => Action::Done,
        }
    }
}

/// A controller: which keys it looks after, and one pass over one of them.
pub trait Reconciler: Send + Sync + 'static {
    type Key: Clone + Send + Sync + 'static;

    /// For logs.
    const NAME: &'static str;

    /// Whether a commit starts a round (the service controller reacts to every change; the
    /// instance-health controller only to time passing).
    const WAKE_ON_COMMIT: bool = true;

    /// The keys to pass over as of `now`.
    fn keys(&self, state: &State, now: f64) -> Vec<Self::Key>;

    /// One pass over `key` as of `now` (epoch seconds): a decision over `state`, expressed
    /// as the changes it pushes. A pass that finds nothing to do pushes nothing.
    fn reconcile(
        &self,
        state: &State,
        key: &Self::Key,
        now: f64,
        changes: &mut Vec<Change>,
    ) -> Result<Action, EcsError>;
}

/// `(region, key)` for every key `per_region` yields in each region: the keys of a
/// controller that looks after one kind of record.
pub fn region_keys<'s, I: Iterator<Item = String> + 's>(
    state: &'s State,
    per_region: impl Fn(&'s RegionState) -> I,
) -> Vec<(String, String)> {
    state.regions().flat_map(|(region, r)| per_region(r).map(move |key| (region.clone(), key))).collect()
}

/// Where decision code gets the time.
pub trait Clock: Send + Sync + 'static {
    /// Epoch seconds.
    fn now(&self) -> f64;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        time::now()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<f64>>);

impl ManualClock {
    pub fn at(now: f64) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(now)))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) += by.as_secs_f64();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How long a controller waits after a commit before its next round, so a burst of
/// commits wakes it once.
pub(crate) const COMMIT_DEBOUNCE: Duration = Duration::from_millis(20);

impl Control {
    /// One round of `reconciler` over its keys, each pass a write; the soonest requeue any
    /// pass asked for. (A controller that looks after many records names only those that
    /// need a pass in `keys`, so an idle round writes nothing.)
    pub async fn reconcile_all<R: Reconciler>(&self, reconciler: &Arc<R>, clock: &Arc<dyn Clock>) -> Action {
        let keys = self.read(|s| reconciler.keys(s, clock.now()));
        let mut next = Action::Done;
        for key in keys {
            let (r, clock) = (reconciler.clone(), clock.clone());
            let result = self.write(move |state, changes| r.reconcile(state, &key, clock.now(), changes)).await;
            match result {
                Ok(action) => next = next.min(action),
                Err(e) => tracing::warn!(controller = R::NAME, error = %e, "reconcile failed"),
            }
        }
        next
    }

    /// Runs `reconciler` until the returned handle is aborted: a round over every key after
    /// each commit, when a pass asked to be requeued, and at least every `resync`.
    pub fn spawn_controller<R: Reconciler>(
        &self,
        reconciler: R,
        clock: Arc<dyn Clock>,
        resync: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let control = self.clone();
        let reconciler = Arc::new(reconciler);
        tokio::spawn(async move {
            let mut commits = control.inner.commits.clone();
            let mut nudges = control.inner.nudges.subscribe();
            loop {
                let pause = match control.reconcile_all(&reconciler, &clock).await {
                    Action::RequeueAfter(d) => d.min(resync),
                    Action::Done => resync,
                };
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = commits.changed(), if R::WAKE_ON_COMMIT => tokio::time::sleep(COMMIT_DEBOUNCE).await,
                    _ = nudges.changed(), if R::WAKE_ON_COMMIT => tokio::time::sleep(COMMIT_DEBOUNCE).await,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sooner_action_wins() {
        let (a, b) = (Action::RequeueAfter(Duration::from_secs(1)), Action::RequeueAfter(Duration::from_secs(2)));
        assert_eq!(a.min(b), a);
        assert_eq!(Action::Done.min(b), b);
        assert_eq!(Action::Done.min(Action::Done), Action::Done);
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(100.0);
        assert_eq!(clock.now(), 100.0);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), 101.5);
    }
}
