//! Choosing among the instances that pass the filters, by the request's strategies.
//!
//! `spread` on attributes turns into buckets (one per combination of values), visited in
//! order of how many tasks of the group each level already holds. Inside a bucket the
//! eligible instances sit in an ordered set keyed by the other strategies — `binpack`
//! (free memory or CPU, least first), `spread` instanceId (tasks of the group, fewest
//! first), `random` (a seeded shuffle) — then by position. A placement walks the first
//! non-empty bucket from the smallest key that can fit, re-keys the chosen instance and
//! moves on: O(log n) per task instead of a scan. Strategies are applied as buckets
//! first, keys second, so `binpack, spread(attribute)` ranks like `spread(attribute),
//! binpack`.

use std::collections::{BTreeSet, HashMap};

use crate::types::{
    check, check_resources, BinpackField, Constraint, Instance, Placement, Rejection, Request, SpreadField, Strategy,
};

struct Bucket {
    path: Vec<String>,
    set: BTreeSet<(Vec<i64>, usize)>,
}

struct Ranker<'r> {
    req: &'r Request,
    bucket_fields: Vec<&'r str>,
    key_strategies: Vec<&'r Strategy>,
    dynamic: Vec<&'r Constraint>,
    buckets: Vec<Bucket>,
    /// Instance → (bucket, current key), for eligible instances.
    slot: Vec<Option<(usize, Vec<i64>)>>,
    /// (level, path prefix) → tasks of the group there.
    level_counts: HashMap<(usize, Vec<String>), usize>,
}

fn splitmix(seed: u64, i: usize) -> i64 {
    let mut z = seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as i64
}

impl<'r> Ranker<'r> {
    fn new(req: &'r Request, instances: &[Instance]) -> Ranker<'r> {
        let mut bucket_fields = Vec::new();
        let mut key_strategies = Vec::new();
        for s in &req.strategies {
            match s {
                Strategy::Spread(SpreadField::Attribute(name)) => bucket_fields.push(name.as_str()),
                other => key_strategies.push(other),
            }
        }
        let dynamic = req.constraints.iter().filter(|c| c.is_dynamic()).collect();
        let mut r = Ranker {
            req,
            bucket_fields,
            key_strategies,
            dynamic,
            buckets: Vec::new(),
            slot: vec![None; instances.len()],
            level_counts: HashMap::new(),
        };
        let mut bucket_index: HashMap<Vec<String>, usize> = HashMap::new();
        for (idx, inst) in instances.iter().enumerate() {
            let path = r.path(inst);
            r.count(&path, inst.group_count(&req.group));
            if !r.statically_eligible(inst) {
                continue;
            }
            let b = *bucket_index.entry(path.clone()).or_insert_with(|| {
                r.buckets.push(Bucket { path, set: BTreeSet::new() });
                r.buckets.len() - 1
            });
            let key = r.key(idx, inst);
            r.buckets[b].set.insert((key.clone(), idx));
            r.slot[idx] = Some((b, key));
        }
        r
    }

    fn path(&self, inst: &Instance) -> Vec<String> {
        self.bucket_fields.iter().map(|f| inst.attribute_value(f).unwrap_or("").to_string()).collect()
    }

    fn count(&mut self, path: &[String], n: usize) {
        for level in 0..path.len() {
            *self.level_counts.entry((level, path[..=level].to_vec())).or_default() += n;
        }
    }

    /// Filters that cannot change while this request is placed.
    fn statically_eligible(&self, inst: &Instance) -> bool {
        inst.agent_connected
            && inst.active
            && self.req.demand.required_attributes.iter().all(|a| inst.attributes.contains_key(a))
            && self.req.constraints.iter().filter(|c| !c.is_dynamic()).all(|c| c.admits(inst, &self.req.group).is_ok())
    }

    fn key(&self, idx: usize, inst: &Instance) -> Vec<i64> {
        self.key_strategies
            .iter()
            .map(|s| match s {
                Strategy::Binpack(BinpackField::Memory) => inst.memory_free,
                Strategy::Binpack(BinpackField::Cpu) => inst.cpu_free,
                Strategy::Spread(_) => inst.group_count(&self.req.group) as i64,
                Strategy::Random => splitmix(self.req.seed, idx),
            })
            .collect()
    }

    /// Buckets, fewest tasks of the group first at every level.
    fn bucket_order(&self) -> Vec<usize> {
        let mut order: Vec<(Vec<usize>, &Vec<String>, usize)> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(b, bucket)| {
                let counts = (0..bucket.path.len())
                    .map(|level| self.level_counts.get(&(level, bucket.path[..=level].to_vec())).copied().unwrap_or(0))
                    .collect();
                (counts, &bucket.path, b)
            })
            .collect();
        order.sort();
        order.into_iter().map(|(_, _, b)| b).collect()
    }

    /// The smallest key that can fit: with binpack first, skip instances too small.
    fn start_key(&self) -> Vec<i64> {
        match self.key_strategies.first() {
            Some(Strategy::Binpack(BinpackField::Memory)) => vec![self.req.demand.memory],
            Some(Strategy::Binpack(BinpackField::Cpu)) => vec![self.req.demand.cpu],
            _ => Vec::new(),
        }
    }

    fn fits(&self, inst: &Instance) -> bool {
        check_resources(&self.req.demand, inst).is_ok()
            && self.dynamic.iter().all(|c| c.admits(inst, &self.req.group).is_ok())
    }

    /// Eligible instances in the order the next task would try them.
    fn candidates<'a>(&'a self, instances: &'a [Instance]) -> impl Iterator<Item = usize> + 'a {
        let start = (self.start_key(), 0usize);
        self.bucket_order()
            .into_iter()
            .flat_map(move |b| self.buckets[b].set.range(start.clone()..).map(|(_, idx)| *idx))
            .filter(move |idx| self.fits(&instances[*idx]))
    }

    fn take(&mut self, idx: usize, instances: &mut [Instance]) {
        instances[idx].take(&self.req.demand, &self.req.group);
        let path = self.path(&instances[idx]);
        self.count(&path, 1);
        if let Some((b, old)) = self.slot[idx].take() {
            self.buckets[b].set.remove(&(old, idx));
            let key = self.key(idx, &instances[idx]);
            self.buckets[b].set.insert((key.clone(), idx));
            self.slot[idx] = Some((b, key));
        }
    }
}

/// Places `req.count` tasks one after another; each sees what the previous ones took.
/// `instances` is the caller's snapshot and is updated with every placement.
pub fn place(req: &Request, instances: &mut [Instance]) -> Vec<Placement> {
    let mut ranker = Ranker::new(req, instances);
    let mut out = Vec::new();
    for n in 0..req.count {
        let next = ranker.candidates(instances).next();
        match next {
            Some(idx) => {
                ranker.take(idx, instances);
                out.push(Placement::Placed(idx));
            }
            None => {
                // Nothing changes once a task fits nowhere, so every later one is refused
                // for the same reasons: say it once per remaining task without recomputing.
                let reasons: Vec<(String, Rejection)> =
                    instances.iter().filter_map(|i| check(req, i).err().map(|r| (i.arn.clone(), r))).collect();
                out.extend(std::iter::repeat_n(Placement::Unplaced(reasons), req.count - n));
                break;
            }
        }
    }
    out
}

/// One instance in a dry run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanEntry {
    pub arn: String,
    /// 1 = where the next task would go.
    pub rank: Option<usize>,
    /// The spread bucket (attribute values) it falls in, and its strategy key.
    pub bucket: Vec<String>,
    pub key: Vec<i64>,
    pub rejection: Option<Rejection>,
}

/// A dry run for one task: every instance's rank, or the first filter that rejects it.
pub fn plan(req: &Request, instances: &[Instance]) -> Vec<PlanEntry> {
    let ranker = Ranker::new(req, instances);
    let mut rank: HashMap<usize, usize> = HashMap::new();
    for (n, idx) in ranker.candidates(instances).enumerate() {
        rank.insert(idx, n + 1);
    }
    instances
        .iter()
        .enumerate()
        .map(|(idx, inst)| PlanEntry {
            arn: inst.arn.clone(),
            rank: rank.get(&idx).copied(),
            bucket: ranker.path(inst),
            key: ranker.key(idx, inst),
            rejection: if rank.contains_key(&idx) { None } else { check(req, inst).err() },
        })
        .collect()
}

#[cfg(test)]
mod tests;
