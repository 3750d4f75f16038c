//! Property tests: random sequences of set (cas 0, current, stale), get and
//! injected allocation failures against a model — a map in LRU order with the
//! store's rules: the front-quarter rule for reads, eviction from the cold end
//! (never the entry being replaced) while an allocation fails, the arena's byte
//! budget, and cas numbering. After every operation the store is walked
//! (`census.rs`) and must hold exactly the model's entries in the model's order.

use std::collections::VecDeque;

use proptest::prelude::*;
use proxy_wasm_host::embedder::SharedDataError;

use super::store::entry_size;
use super::test_arena::{TestZone, accounted};

/// Keys sharing prefixes (compared in full), the empty key, host names.
const KEYS: [&[u8]; 8] = [
    b"a",
    b"ab",
    b"abc",
    b"",
    b"h1.example.com",
    b"h2.example.com",
    b"h3.example.com",
    b"a-much-longer-key.example.org",
];

#[derive(Debug, Clone)]
enum Cas {
    Zero,
    /// The model's current cas of the key (a nonzero never issued when absent).
    Current,
    /// The current cas minus 1..=3 (nonzero).
    Stale(u32),
}

#[derive(Debug, Clone)]
enum Op {
    Set {
        key: usize,
        value: Vec<u8>,
        cas: Cas,
    },
    Get {
        key: usize,
    },
    FailNext(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let cas = prop_oneof![
        3 => Just(Cas::Zero),
        2 => Just(Cas::Current),
        1 => (1u32..=3).prop_map(Cas::Stale),
    ];
    prop_oneof![
        5 => (0..KEYS.len(), prop::collection::vec(any::<u8>(), 0..48), cas)
            .prop_map(|(key, value, cas)| Op::Set { key, value, cas }),
        4 => (0..KEYS.len()).prop_map(|key| Op::Get { key }),
        1 => (1u32..6).prop_map(Op::FailNext),
    ]
}

struct ModelEntry {
    key: Vec<u8>,
    value: Vec<u8>,
    cas: u32,
    touched: u32,
}

/// What the store should do, written as plainly as possible.
struct Model {
    budget: usize,
    used: usize,
    fail_next: u32,
    /// Most recently used first.
    list: VecDeque<ModelEntry>,
    moves: u32,
    last_cas: u32,
    evictions: u64,
}

impl Model {
    fn position(&self, key: &[u8]) -> Option<usize> {
        self.list.iter().position(|e| e.key == key)
    }

    fn alloc(&mut self, size: usize) -> bool {
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return false;
        }
        if self.used + accounted(size) > self.budget {
            return false;
        }
        self.used += accounted(size);
        true
    }

    fn remove(&mut self, at: usize) -> ModelEntry {
        let e = self.list.remove(at).unwrap();
        self.used -= accounted(entry_size(e.key.len(), e.value.len()));
        e
    }

    fn get(&mut self, key: &[u8]) -> Option<(Vec<u8>, u32)> {
        let at = self.position(key)?;
        let distance = self.moves.wrapping_sub(self.list[at].touched);
        if u64::from(distance) >= self.list.len() as u64 / 4 {
            let mut e = self.list.remove(at).unwrap();
            self.moves = self.moves.wrapping_add(1);
            e.touched = self.moves;
            self.list.push_front(e);
        }
        let e = &self.list[self.position(key)?];
        Some((e.value.clone(), e.cas))
    }

    fn set(&mut self, key: &[u8], value: &[u8], cas: u32) -> Result<(), SharedDataError> {
        let size = entry_size(key.len(), value.len());
        if size > self.budget / 8 {
            return Err(SharedDataError::Failed);
        }
        let old = self.position(key);
        if cas != 0 && old.is_none_or(|at| self.list[at].cas != cas) {
            return Err(SharedDataError::CasMismatch);
        }
        while !self.alloc(size) {
            // The coldest entry other than the one being replaced.
            let victim = (0..self.list.len())
                .rev()
                .find(|&i| self.list[i].key != key);
            let Some(victim) = victim else {
                return Err(SharedDataError::Failed);
            };
            self.remove(victim);
            self.evictions += 1;
        }
        self.last_cas = match self.last_cas.wrapping_add(1) {
            0 => 1,
            n => n,
        };
        if let Some(at) = self.position(key) {
            self.remove(at);
        }
        self.moves = self.moves.wrapping_add(1);
        self.list.push_front(ModelEntry {
            key: key.to_vec(),
            value: value.to_vec(),
            cas: self.last_cas,
            touched: self.moves,
        });
        Ok(())
    }

    fn cas_for(&self, key: &[u8], pick: &Cas) -> u32 {
        let current = self.position(key).map(|at| self.list[at].cas);
        match (pick, current) {
            (Cas::Zero, _) => 0,
            (Cas::Current, Some(c)) => c,
            (Cas::Current, None) => self.last_cas.wrapping_add(1).max(1),
            (Cas::Stale(d), c) => match c.unwrap_or(self.last_cas).wrapping_sub(*d) {
                0 => u32::MAX,
                n => n,
            },
        }
    }
}

fn run(nbuckets: usize, room: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let probe = TestZone::new(1 << 16, nbuckets);
    let (base, _) = probe.arena.used();
    let z = TestZone::new(base + room, nbuckets);
    let mut model = Model {
        budget: base + room,
        used: base,
        fail_next: 0,
        list: VecDeque::new(),
        moves: 0,
        last_cas: 0,
        evictions: 0,
    };
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Set { key, value, cas } => {
                let key = KEYS[*key];
                let cas = model.cas_for(key, cas);
                let expect = model.set(key, value, cas);
                prop_assert_eq!(z.zone.set(key, value, cas), expect, "op {}: {:?}", i, op);
            }
            Op::Get { key } => {
                let key = KEYS[*key];
                let mut out = Vec::new();
                let got = z.zone.get_into(key, &mut out).map(|cas| (out, cas));
                prop_assert_eq!(got, model.get(key), "op {}: {:?}", i, op);
            }
            Op::FailNext(n) => {
                z.arena.fail_next(*n);
                model.fail_next = *n;
            }
        }
        let census = z.check();
        let held: Vec<_> = census
            .entries
            .iter()
            .map(|h| (h.key.as_slice(), h.value.as_slice(), h.cas))
            .collect();
        let expect: Vec<_> = model
            .list
            .iter()
            .map(|e| (e.key.as_slice(), e.value.as_slice(), e.cas))
            .collect();
        prop_assert_eq!(held, expect, "after op {}: {:?}", i, op);
        prop_assert_eq!(census.evictions, model.evictions);
        prop_assert_eq!(z.arena.used().0, model.used);
        prop_assert_eq!(z.arena.failures_pending(), model.fail_next);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Room for a few entries (so that writes evict), one to 64 buckets (so that
    /// keys share chains), up to 120 operations.
    #[test]
    fn the_store_behaves_as_the_model(
        nbuckets in prop_oneof![Just(1usize), Just(2), Just(4), Just(64)],
        room in 200usize..1200,
        ops in prop::collection::vec(op(), 1..120),
    ) {
        run(nbuckets, room, &ops)?;
    }
}
