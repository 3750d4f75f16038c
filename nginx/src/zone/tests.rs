//! Unit tests of the store over the test arena (`test_arena.rs`): the
//! proxy-wasm semantics, eviction, and what a read writes.

use proxy_wasm_host::embedder::SharedDataError;

use super::store::entry_size;
use super::test_arena::{TestZone, accounted};

fn get(z: &TestZone, key: &[u8]) -> Option<(Vec<u8>, u32)> {
    let mut out = Vec::new();
    z.zone.get_into(key, &mut out).map(|cas| (out, cas))
}

/// A zone whose arena holds `n` entries of `key_len + value_len` bytes on top of
/// the store's own allocations, with 64 buckets.
fn zone_for(n: usize, key_len: usize, value_len: usize) -> TestZone {
    let probe = TestZone::new(1 << 16, 64);
    let (base, _) = probe.arena.used();
    TestZone::new(base + n * accounted(entry_size(key_len, value_len)), 64)
}

#[test]
fn get_returns_what_set_wrote_with_a_nonzero_cas() {
    let z = TestZone::sized(1 << 16);
    assert_eq!(get(&z, b"a.example"), None);
    z.zone.set(b"a.example", b"10.0.0.7:3000", 0).unwrap();
    let (value, cas) = get(&z, b"a.example").unwrap();
    assert_eq!(value, b"10.0.0.7:3000");
    assert_ne!(cas, 0);
    z.zone.set(b"empty", b"", 0).unwrap();
    assert_eq!(get(&z, b"empty").unwrap().0, b"");
    z.check();
}

#[test]
fn get_into_appends_and_leaves_the_buffer_alone_on_a_miss() {
    let z = TestZone::sized(1 << 16);
    z.zone.set(b"k", b"value", 0).unwrap();
    let mut out = b"prefix:".to_vec();
    assert!(z.zone.get_into(b"k", &mut out).is_some());
    assert_eq!(out, b"prefix:value");
    assert_eq!(z.zone.get_into(b"missing", &mut out), None);
    assert_eq!(out, b"prefix:value");
}

#[test]
fn keys_are_compared_in_full_even_in_one_bucket() {
    // One bucket: every key shares the chain, so only the full comparison
    // tells them apart.
    let z = TestZone::new(1 << 16, 1);
    let keys: [&[u8]; 5] = [b"pre", b"prefix", b"pr", b"", b"prefix\0"];
    for (i, k) in keys.iter().enumerate() {
        z.zone.set(k, format!("v{i}").as_bytes(), 0).unwrap();
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(get(&z, k).unwrap().0, format!("v{i}").as_bytes());
    }
    // Replacing one in the middle of the chain keeps the others.
    z.zone.set(b"pr", b"new", 0).unwrap();
    assert_eq!(get(&z, b"pr").unwrap().0, b"new");
    assert_eq!(get(&z, b"prefix").unwrap().0, b"v1");
    assert_eq!(z.check().entries.len(), 5);
}

#[test]
fn cas_zero_writes_unconditionally_and_every_write_changes_the_cas() {
    let z = TestZone::sized(1 << 16);
    z.zone.set(b"k", b"1", 0).unwrap();
    let (_, first) = get(&z, b"k").unwrap();
    z.zone.set(b"k", b"2", 0).unwrap();
    let (value, second) = get(&z, b"k").unwrap();
    assert_eq!(value, b"2");
    assert_ne!(second, first);
}

#[test]
fn a_write_with_the_current_cas_succeeds() {
    let z = TestZone::sized(1 << 16);
    z.zone.set(b"k", b"1", 0).unwrap();
    let (_, cas) = get(&z, b"k").unwrap();
    z.zone.set(b"k", b"2", cas).unwrap();
    let (value, next) = get(&z, b"k").unwrap();
    assert_eq!(value, b"2");
    assert_ne!(next, cas);
    // The old cas is now stale.
    assert_eq!(
        z.zone.set(b"k", b"3", cas),
        Err(SharedDataError::CasMismatch)
    );
}

#[test]
fn a_write_with_a_stale_cas_is_refused_and_writes_nothing() {
    let z = TestZone::sized(1 << 16);
    z.zone.set(b"k", b"1", 0).unwrap();
    let (_, cas) = get(&z, b"k").unwrap();
    let before = z.mapping.snapshot();
    assert_eq!(
        z.zone.set(b"k", b"2", cas + 1),
        Err(SharedDataError::CasMismatch)
    );
    assert!(
        z.mapping.snapshot() == before,
        "a refused write changed the zone"
    );
    assert_eq!(get(&z, b"k"), Some((b"1".to_vec(), cas)));
}

#[test]
fn a_cas_write_to_an_absent_key_is_refused() {
    let z = TestZone::sized(1 << 16);
    assert_eq!(z.zone.set(b"k", b"1", 7), Err(SharedDataError::CasMismatch));
    assert_eq!(get(&z, b"k"), None);
    assert_eq!(z.check().entries.len(), 0);
}

#[test]
fn the_cas_counter_skips_zero_when_it_wraps() {
    let z = TestZone::sized(1 << 16);
    // SAFETY: a live store, under the lock.
    z.locked(|s| unsafe { (*s).last_cas = u32::MAX - 1 });
    z.zone.set(b"a", b"1", 0).unwrap();
    assert_eq!(get(&z, b"a").unwrap().1, u32::MAX);
    z.zone.set(b"b", b"1", 0).unwrap();
    assert_eq!(get(&z, b"b").unwrap().1, 1);
}

#[test]
fn an_entry_larger_than_an_eighth_of_the_memory_is_refused_and_changes_nothing() {
    let z = TestZone::sized(1 << 14);
    z.zone.set(b"k", b"small", 0).unwrap();
    let before = z.mapping.snapshot();
    let big = vec![b'x'; (1 << 14) / 8];
    assert_eq!(z.zone.set(b"k", &big, 0), Err(SharedDataError::Failed));
    assert_eq!(z.zone.set(b"other", &big, 0), Err(SharedDataError::Failed));
    assert!(
        z.mapping.snapshot() == before,
        "a refused write changed the zone"
    );
    let fits = vec![b'x'; (1 << 14) / 8 - entry_size(5, 0)];
    z.zone.set(b"other", &fits, 0).unwrap();
}

#[test]
fn a_full_store_evicts_the_least_recently_used_and_counts() {
    let z = zone_for(4, 4, 8);
    for i in 0..4 {
        z.zone
            .set(format!("k{i:03}").as_bytes(), b"12345678", 0)
            .unwrap();
    }
    assert_eq!(z.zone.stats().evictions, 0);
    z.zone.set(b"k004", b"12345678", 0).unwrap();
    let stats = z.zone.stats();
    assert_eq!((stats.entries, stats.evictions), (4, 1));
    assert_eq!(get(&z, b"k000"), None, "the oldest went first");
    z.zone.set(b"k005", b"12345678", 0).unwrap();
    assert_eq!(get(&z, b"k001"), None);
    let keys: Vec<_> = z.check().entries.into_iter().map(|h| h.key).collect();
    assert_eq!(keys, [b"k005", b"k004", b"k003", b"k002"]);
}

#[test]
fn eviction_frees_as_many_entries_as_the_new_one_needs() {
    let z = zone_for(16, 4, 8);
    for i in 0..16 {
        z.zone
            .set(format!("k{i:03}").as_bytes(), b"12345678", 0)
            .unwrap();
    }
    // Three entries' worth of value.
    let value = vec![b'v'; 2 * accounted(entry_size(4, 8)) + 8];
    z.zone.set(b"big!", &value, 0).unwrap();
    let census = z.check();
    assert_eq!(census.evictions, 3);
    assert_eq!(census.entries.len(), 14);
    assert_eq!(get(&z, b"k002"), None);
    assert!(get(&z, b"k003").is_some());
}

#[test]
fn a_read_in_the_front_quarter_writes_nothing() {
    let z = TestZone::sized(1 << 16);
    for i in 0..40 {
        z.zone.set(format!("k{i:03}").as_bytes(), b"v", 0).unwrap();
    }
    // The ten newest entries are the front quarter.
    let before = z.mapping.snapshot();
    for i in 30..40 {
        assert!(get(&z, format!("k{i:03}").as_bytes()).is_some());
    }
    assert!(
        z.mapping.snapshot() == before,
        "a cache hit wrote to the zone"
    );
    // An older one moves to the front.
    assert!(get(&z, b"k029").is_some());
    assert!(z.mapping.snapshot() != before);
    assert_eq!(z.check().entries[0].key, b"k029");
}

#[test]
fn a_read_protects_an_entry_from_eviction_before_unread_ones_of_its_age() {
    let z = zone_for(8, 4, 1);
    for i in 0..8 {
        z.zone.set(format!("k{i:03}").as_bytes(), b"v", 0).unwrap();
    }
    assert!(get(&z, b"k000").is_some());
    for i in 8..12 {
        z.zone.set(format!("k{i:03}").as_bytes(), b"v", 0).unwrap();
    }
    assert!(get(&z, b"k000").is_some(), "the read entry was evicted");
    for i in 1..5 {
        assert_eq!(get(&z, format!("k{i:03}").as_bytes()), None);
    }
    z.check();
}

#[test]
fn replacing_values_of_other_sizes_leaks_nothing() {
    let z = TestZone::sized(1 << 16);
    let (empty, _) = z.arena.used();
    for round in 0..50 {
        for k in 0..10 {
            let value = vec![b'v'; (round * 7 + k * 13) % 200];
            z.zone.set(format!("key{k}").as_bytes(), &value, 0).unwrap();
        }
    }
    let census = z.check();
    assert_eq!(census.evictions, 0);
    for k in 0..10 {
        let expect = (49 * 7 + k * 13) % 200;
        assert_eq!(
            census
                .get(format!("key{k}").as_bytes())
                .unwrap()
                .value
                .len(),
            expect
        );
    }
    let (used, _) = z.arena.used();
    let entries: usize = census
        .entries
        .iter()
        .map(|h| accounted(entry_size(h.key.len(), h.value.len())))
        .sum();
    assert_eq!(used, empty + entries);
}

#[test]
fn stats_count_entries_evictions_and_bytes() {
    let z = zone_for(2, 1, 1);
    let (base, _) = z.arena.used();
    z.zone.set(b"a", b"1", 0).unwrap();
    z.zone.set(b"b", b"1", 0).unwrap();
    z.zone.set(b"c", b"1", 0).unwrap();
    let s = z.zone.stats();
    assert_eq!((s.entries, s.evictions), (2, 1));
    assert_eq!(
        s.bytes_used as usize,
        base + 2 * accounted(entry_size(1, 1))
    );
    assert_eq!(s.bytes_total, s.bytes_used);
}

/// The list and the table disagreeing (a corrupted zone) must not make eviction
/// free what the table does not hold: the write that needed room fails.
/// (Debug builds assert on it instead.)
#[cfg(not(debug_assertions))]
#[test]
fn eviction_refuses_when_the_table_and_the_list_disagree() {
    let z = zone_for(2, 1, 1);
    z.zone.set(b"a", b"1", 0).unwrap();
    z.zone.set(b"b", b"1", 0).unwrap();
    // Take "a" (the list's tail) out of its bucket, leaving it on the list.
    // SAFETY: a live store, under the lock; "a" is the only entry of its bucket
    // or the chain is relinked around it.
    z.locked(|s| unsafe {
        let h = super::table::hash(b"a");
        let mut slot = (*s).buckets.add(h as usize & ((*s).nbuckets - 1));
        while !core::ptr::eq(*slot, (*s).lru.prev.cast()) {
            slot = &raw mut (**slot).chain;
        }
        *slot = (**slot).chain;
    });
    let (used, live) = z.arena.used();
    assert_eq!(z.zone.set(b"c", b"1", 0), Err(SharedDataError::Failed));
    assert_eq!(z.arena.used(), (used, live), "eviction freed something");
    assert_eq!(get(&z, b"b").unwrap().0, b"1");
}

/// A write that cannot get room fails and leaves the old value (and its cas) in
/// place; before, the old entry was freed first and lost.
#[test]
fn a_write_that_cannot_allocate_keeps_the_old_value() {
    let z = zone_for(4, 1, 8);
    z.zone.set(b"k", b"old", 0).unwrap();
    z.zone.set(b"x", b"other", 0).unwrap();
    let (_, cas) = get(&z, b"k").unwrap();
    z.arena.fail_next(u32::MAX);
    assert_eq!(z.zone.set(b"k", b"new", 0), Err(SharedDataError::Failed));
    assert_eq!(z.zone.set(b"k", b"new", cas), Err(SharedDataError::Failed));
    assert_eq!(get(&z, b"k"), Some((b"old".to_vec(), cas)));
    // Room was sought among the other entries only.
    assert_eq!(get(&z, b"x"), None);
    z.arena.fail_next(0);
    z.zone.set(b"k", b"new", cas).unwrap();
    assert_eq!(get(&z, b"k").unwrap().0, b"new");
    z.check();
}

/// In a full store, replacing the least recently used entry evicts the next
/// one rather than the entry being replaced.
#[test]
fn replacing_the_coldest_entry_of_a_full_store_evicts_the_next_one() {
    let z = zone_for(3, 1, 8);
    for k in [b"a", b"b", b"c"] {
        z.zone.set(k, b"12345678", 0).unwrap();
    }
    z.zone.set(b"a", b"87654321", 0).unwrap();
    assert_eq!(get(&z, b"a").unwrap().0, b"87654321");
    assert_eq!(get(&z, b"b"), None);
    let census = z.check();
    assert_eq!((census.entries.len(), census.evictions), (2, 1));
}
