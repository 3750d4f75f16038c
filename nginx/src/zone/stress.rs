//! Several processes over one shared mapping: the store, the arena and the spin
//! lock all live in it, and each forked child runs random gets, sets and cas
//! increments. At the end the parent walks the store (table and LRU agree, every
//! allocated byte is an entry's) and compares it with what the children were told
//! succeeded: private keys hold their owner's last acknowledged value, shared
//! counters the sum of acknowledged increments, and no reader ever saw a torn
//! value or a cas going backwards.

use core::mem::size_of;

use proxy_wasm_host::embedder::SharedDataError;

use super::test_arena::{Mapping, TestZone};

const PROCESSES: usize = 4;
const OPS: usize = 50_000;
const PRIVATE_KEYS: usize = 16;
const COUNTERS: usize = 4;
const SHARED_KEYS: usize = 8;

/// What a child reports through the second mapping.
#[repr(C)]
struct Report {
    /// Increments of each counter acknowledged to this child.
    increments: [u64; COUNTERS],
    /// The sequence number of the last acknowledged write of each private key (0: none).
    last_seq: [u64; PRIVATE_KEYS],
    /// Writes refused with `Failed`.
    failed: u64,
    /// Why the child failed, NUL-padded.
    error: [u8; 240],
}

#[derive(Clone, Copy, PartialEq)]
enum Pressure {
    /// Room for everything: no eviction may happen, nothing may go missing.
    Roomy,
    /// Room for about a third of the keys, and injected allocation failures:
    /// entries come and go, but what is there must be right.
    Tight,
}

fn private_key(child: usize, i: usize) -> String {
    format!("p{child}-{i}")
}

fn counter_key(j: usize) -> String {
    format!("counter-{j}")
}

fn shared_key(j: usize) -> String {
    format!("shared-{j}.example.com")
}

/// A value that names its key and sequence number and carries a filler whose
/// length and byte follow from them, so a torn or misplaced value is detected.
fn encode(key: &str, seq: u64) -> Vec<u8> {
    let mut v = format!("{key}|{seq}|").into_bytes();
    v.extend(std::iter::repeat_n(
        b'a' + (seq % 26) as u8,
        (seq % 40) as usize,
    ));
    v
}

fn decode(key: &str, value: &[u8]) -> Result<u64, String> {
    let text = String::from_utf8_lossy(value);
    let mut parts = text.splitn(3, '|');
    let (Some(k), Some(seq), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{key}: malformed value {text:?}"));
    };
    let seq: u64 = seq
        .parse()
        .map_err(|_| format!("{key}: bad seq in {text:?}"))?;
    if k != key || encode(key, seq) != value {
        return Err(format!("{key}: value {text:?} is not {key}'s"));
    }
    Ok(seq)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

fn child(z: &TestZone, me: usize, pressure: Pressure, report: &mut Report) -> Result<(), String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((me as u64 + 1) * 0x1000_0001));
    let mut seq = 0u64;
    // The highest cas this child has seen per key: a later read must not see less.
    let mut seen = std::collections::HashMap::<String, u32>::new();
    let mut out = Vec::new();
    let mut read = |key: &str| -> Result<Option<(Vec<u8>, u32)>, String> {
        out.clear();
        let Some(cas) = z.zone.get_into(key.as_bytes(), &mut out) else {
            return Ok(None);
        };
        let last = seen.entry(key.to_owned()).or_default();
        if cas < *last {
            return Err(format!("{key}: cas went back from {last} to {cas}"));
        }
        *last = cas;
        Ok(Some((out.clone(), cas)))
    };
    for _ in 0..OPS {
        match rng.below(100) {
            0..30 => {
                let i = rng.below(PRIVATE_KEYS);
                let key = private_key(me, i);
                seq += 1;
                match z.zone.set(key.as_bytes(), &encode(&key, seq), 0) {
                    Ok(()) => report.last_seq[i] = seq,
                    Err(SharedDataError::Failed) if pressure == Pressure::Tight => {
                        report.failed += 1
                    }
                    Err(e) => return Err(format!("{key}: set failed: {e:?}")),
                }
            }
            30..50 => {
                let i = rng.below(PRIVATE_KEYS);
                let key = private_key(me, i);
                match read(&key)? {
                    Some((value, _)) => {
                        let got = decode(&key, &value)?;
                        if got != report.last_seq[i] {
                            return Err(format!(
                                "{key}: holds write {got}, the last acknowledged is {}",
                                report.last_seq[i]
                            ));
                        }
                    }
                    None if pressure == Pressure::Roomy && report.last_seq[i] != 0 => {
                        return Err(format!("{key}: an acknowledged write is gone"));
                    }
                    None => {}
                }
            }
            50..70 => {
                let j = rng.below(COUNTERS);
                let key = counter_key(j);
                for _ in 0..1000 {
                    let Some((value, cas)) = read(&key)? else {
                        if pressure == Pressure::Roomy {
                            return Err(format!("{key}: the counter is gone"));
                        }
                        break;
                    };
                    let n: u64 = String::from_utf8_lossy(&value)
                        .parse()
                        .map_err(|_| format!("{key}: not a number: {value:?}"))?;
                    match z
                        .zone
                        .set(key.as_bytes(), (n + 1).to_string().as_bytes(), cas)
                    {
                        Ok(()) => {
                            report.increments[j] += 1;
                            break;
                        }
                        Err(SharedDataError::CasMismatch) => continue,
                        Err(SharedDataError::Failed) if pressure == Pressure::Tight => {
                            report.failed += 1;
                            break;
                        }
                        Err(e) => return Err(format!("{key}: increment failed: {e:?}")),
                    }
                }
            }
            70..85 => {
                let key = shared_key(rng.below(SHARED_KEYS));
                let value = encode(&key, rng.below(1 << 20) as u64);
                match z.zone.set(key.as_bytes(), &value, 0) {
                    Ok(()) => {}
                    Err(SharedDataError::Failed) if pressure == Pressure::Tight => {
                        report.failed += 1
                    }
                    Err(e) => return Err(format!("{key}: set failed: {e:?}")),
                }
            }
            85..98 => {
                let key = shared_key(rng.below(SHARED_KEYS));
                if let Some((value, cas)) = read(&key)? {
                    decode(&key, &value)?;
                    // Cas values only grow: one below what was read is never current.
                    if cas > 1 {
                        let stale = z.zone.set(key.as_bytes(), b"stale", cas - 1);
                        if stale != Err(SharedDataError::CasMismatch) {
                            return Err(format!("{key}: a stale cas got {stale:?}"));
                        }
                    }
                }
            }
            _ => {
                if pressure == Pressure::Tight {
                    z.arena.fail_next(1 + rng.below(5) as u32);
                }
            }
        }
    }
    Ok(())
}

fn run(pressure: Pressure, budget: usize) {
    let z = TestZone::sized(budget);
    for j in 0..COUNTERS {
        z.zone.set(counter_key(j).as_bytes(), b"0", 0).unwrap();
    }
    let reports = Mapping::new(PROCESSES * size_of::<Report>());
    let report = |i: usize| -> *mut Report { reports.base().cast::<Report>().wrapping_add(i) };
    let mut children = Vec::new();
    for me in 0..PROCESSES {
        // SAFETY: the child only touches the two shared mappings and its own
        // heap, and leaves with `_exit`, never returning into the test harness.
        match unsafe { libc::fork() } {
            -1 => panic!("fork: {}", std::io::Error::last_os_error()),
            0 => {
                // SAFETY: this child's own slot of the zeroed report mapping.
                let r = unsafe { &mut *report(me) };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    child(&z, me, pressure, r)
                }));
                let code = match outcome {
                    Ok(Ok(())) => 0,
                    Ok(Err(e)) => {
                        let n = e.len().min(r.error.len());
                        r.error[..n].copy_from_slice(&e.as_bytes()[..n]);
                        1
                    }
                    Err(_) => 2,
                };
                // SAFETY: ends the child without unwinding into the harness.
                unsafe { libc::_exit(code) };
            }
            pid => children.push(pid),
        }
    }
    for (me, pid) in children.into_iter().enumerate() {
        let mut status = 0;
        // SAFETY: our child's pid and a valid status pointer.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        // SAFETY: the child has exited: its report is written.
        let r = unsafe { &*report(me) };
        let error = String::from_utf8_lossy(&r.error);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child {me} ended with status {status:#x}: {}",
            error.trim_end_matches('\0')
        );
    }
    // Every child has exited: the parent is the only user of the zone now.
    let census = z.check();
    // SAFETY: as above.
    let reports: Vec<&Report> = (0..PROCESSES).map(|i| unsafe { &*report(i) }).collect();
    for j in 0..COUNTERS {
        let key = counter_key(j);
        let acknowledged: u64 = reports.iter().map(|r| r.increments[j]).sum();
        match census.get(key.as_bytes()) {
            Some(held) => assert_eq!(
                String::from_utf8_lossy(&held.value),
                acknowledged.to_string(),
                "{key}: increments lost or invented"
            ),
            None => assert!(pressure == Pressure::Tight, "{key} is gone"),
        }
    }
    for (me, r) in reports.iter().enumerate() {
        for i in 0..PRIVATE_KEYS {
            let key = private_key(me, i);
            match census.get(key.as_bytes()) {
                Some(held) => assert_eq!(decode(&key, &held.value), Ok(r.last_seq[i]), "{key}"),
                None => assert!(pressure == Pressure::Tight, "{key} is gone"),
            }
        }
    }
    for held in &census.entries {
        let key = String::from_utf8_lossy(&held.key);
        if key.starts_with("shared-") {
            decode(&key, &held.value).unwrap();
        }
    }
    match pressure {
        Pressure::Roomy => assert_eq!(census.evictions, 0),
        Pressure::Tight => assert!(census.evictions > 0, "no eviction: the test is not tight"),
    }
}

#[test]
fn processes_sharing_a_roomy_zone_lose_nothing() {
    run(Pressure::Roomy, 64 * 1024);
}

#[test]
fn processes_sharing_a_full_zone_evict_and_keep_what_remains_right() {
    // About 30 of the 76 keys fit.
    run(Pressure::Tight, 4 * 1024);
}
