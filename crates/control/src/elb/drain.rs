//! Finishing deregistrations: a draining target leaves its target group once the data
//! plane reports it idle (no request or connection in flight), once the target group's
//! deregistration delay has passed, or at once when no load balancer sends it traffic.

use std::{sync::Arc, time::Duration};

use berth_model::{
    elb::plane::{Observation, TargetKey},
    EcsError,
};

use super::state::ElbChange;
use crate::{
    controller::{region_keys, Action, Reconciler},
    state::Change,
    Control, State,
};

/// How often a draining target is looked at while it waits (its idle report wakes the
/// controller sooner).
const DRAIN_RECHECK: Duration = Duration::from_secs(1);

pub struct DrainController;

impl Reconciler for DrainController {
    /// (region, target group ARN)
    type Key = (String, String);

    const NAME: &'static str = "elb-drain";

    fn keys(&self, state: &State, _now: f64) -> Vec<Self::Key> {
        region_keys(state, |r| {
            r.elb
                .target_groups
                .values()
                .filter(|tg| tg.targets.iter().any(|t| t.draining_since.is_some()))
                .map(|tg| tg.target_group.target_group_arn.clone())
        })
    }

    fn reconcile(
        &self,
        state: &State,
        key: &Self::Key,
        now: f64,
        changes: &mut Vec<Change>,
    ) -> Result<Action, EcsError> {
        let (region, arn) = key;
        let elb = &state.region(region).elb;
        let Some(tg) = elb.target_groups.get(arn) else { return Ok(Action::Done) };
        let delay: f64 =
            tg.attributes.get("deregistration_delay.timeout_seconds").and_then(|v| v.parse().ok()).unwrap_or(300.0);
        let unused = elb.load_balancers_using(arn).is_empty();
        let mut record = tg.as_ref().clone();
        let mut next = Action::Done;
        let book = state.lb_health();
        record.targets.retain(|t| {
            let Some(since) = t.draining_since else { return true };
            let key = TargetKey { target_group_arn: arn.clone(), id: t.id.clone(), port: t.port };
            let done = unused || book.is_idle(&key) || now - since >= delay;
            if done {
                book.forget(&key);
            } else {
                let left = Duration::from_secs_f64((since + delay - now).max(0.0));
                next = next.min(Action::RequeueAfter(left.min(DRAIN_RECHECK)));
            }
            !done
        });
        if record.targets.len() != tg.targets.len() {
            changes.push(Change::Elb { region: region.clone(), change: ElbChange::TargetGroup(Arc::new(record)) });
        }
        Ok(next)
    }
}

impl Control {
    pub fn spawn_drain_controller(&self) -> tokio::task::JoinHandle<()> {
        let clock: Arc<dyn crate::controller::Clock> = Arc::new(crate::controller::SystemClock);
        self.spawn_controller(DrainController, clock, Duration::from_secs(5))
    }

    /// Takes the data plane's observations; wakes the controllers when one changed what
    /// the book says (a target turned healthy, a draining one went idle).
    pub fn observe_lb(&self, observations: &[Observation]) {
        let book = self.read(|s| s.lb_health().clone());
        let mut changed = false;
        for o in observations {
            changed |= book.observe(o);
        }
        if changed {
            self.nudge();
        }
    }
}
