//! What `set_backend_metrics` reports, and its Prometheus text. Pure: the shared
//! memory that holds the numbers is `edge_metrics.rs`; this file names them, sums the
//! workers' filter metrics and renders the text, so it is unit-tested.

use core::fmt::Write;

use proxy_wasm_host::HISTOGRAM_BOUNDS;

/// How the module ended a request's routing decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A backend was chosen.
    Backend,
    /// The filter answered itself (its error pages: 404, 502, 503, 400…), by status.
    Page(u32),
    /// The module answered 500: the filter trapped, ran past its deadline, or is not loaded.
    Error,
}

/// Local-response statuses counted on their own; others count as "other".
const PAGE_STATUSES: [u32; 4] = [400, 404, 502, 503];
/// Results per request: backend, each page status, other pages, error.
pub const RESULTS: usize = PAGE_STATUSES.len() + 3;

/// The module's own counters, one slot each in shared memory.
#[derive(Debug, Clone, Copy)]
pub enum Counter {
    /// `waited` × result, see `request_counter`.
    Requests(usize),
    /// Http calls by result: 2xx, 3xx, 4xx, 5xx, failed (no answer).
    Calls(usize),
    TrapsFault,
    TrapsDeadline,
    InstanceRestarts,
}

pub const CALL_RESULTS: [&str; 5] = ["2xx", "3xx", "4xx", "5xx", "failed"];
pub const COUNTERS: usize = 2 * RESULTS + CALL_RESULTS.len() + 3;

impl Counter {
    pub fn index(self) -> usize {
        match self {
            Counter::Requests(i) => i,
            Counter::Calls(i) => 2 * RESULTS + i,
            Counter::TrapsFault => 2 * RESULTS + CALL_RESULTS.len(),
            Counter::TrapsDeadline => 2 * RESULTS + CALL_RESULTS.len() + 1,
            Counter::InstanceRestarts => 2 * RESULTS + CALL_RESULTS.len() + 2,
        }
    }
}

/// The counter of a request that ended with `outcome`; `waited`: it was paused for a
/// lookup first (a cache miss), else it was decided at once (a cache hit).
pub fn request_counter(waited: bool, outcome: Outcome) -> Counter {
    let result = match outcome {
        Outcome::Backend => 0,
        Outcome::Page(status) => PAGE_STATUSES
            .iter()
            .position(|&s| s == status)
            .map_or(PAGE_STATUSES.len() + 1, |i| i + 1),
        Outcome::Error => RESULTS - 1,
    };
    Counter::Requests(usize::from(waited) * RESULTS + result)
}

fn result_label(result: usize) -> (&'static str, Option<u32>) {
    match result {
        0 => ("backend", None),
        r if r <= PAGE_STATUSES.len() => ("page", Some(PAGE_STATUSES[r - 1])),
        r if r == PAGE_STATUSES.len() + 1 => ("page", None),
        _ => ("error", None),
    }
}

/// The counter of an http call's result: `status` of its answer, or `None` when it failed.
pub fn call_counter(status: Option<u32>) -> Counter {
    Counter::Calls(match status {
        Some(s @ 200..=599) => (s / 100 - 2) as usize,
        _ => CALL_RESULTS.len() - 1,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One filter metric as one worker last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterMetric {
    pub name: String,
    pub kind: Kind,
    pub value: i64,
    /// Histograms: per-bucket counts (not cumulative), the last for +Inf; sum; count.
    pub buckets: [u64; HISTOGRAM_BOUNDS.len() + 1],
    pub sum: u64,
    pub count: u64,
}

/// Sums the workers' filter metrics by name and kind: counters and histograms add up;
/// a gauge is the largest value any worker reports (e.g. the change feed's position,
/// which only the worker that follows the feed knows).
pub fn aggregate(workers: &[Vec<FilterMetric>]) -> Vec<FilterMetric> {
    let mut out: Vec<FilterMetric> = Vec::new();
    for m in workers.iter().flatten() {
        match out
            .iter_mut()
            .find(|o| o.name == m.name && o.kind == m.kind)
        {
            None => out.push(m.clone()),
            Some(o) => match m.kind {
                Kind::Counter => o.value = o.value.saturating_add(m.value),
                Kind::Gauge => o.value = o.value.max(m.value),
                Kind::Histogram => {
                    for (a, b) in o.buckets.iter_mut().zip(m.buckets) {
                        *a += b;
                    }
                    o.sum = o.sum.saturating_add(m.sum);
                    o.count += m.count;
                }
            },
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The shared cache zone (`set_backend_shared_zone`), when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneStats {
    pub bytes_total: u64,
    pub bytes_used: u64,
    pub entries: u64,
    pub evictions: u64,
}

pub struct Snapshot {
    pub counters: [u64; COUNTERS],
    pub zone: Option<ZoneStats>,
    /// Workers that reported filter metrics.
    pub workers: usize,
    pub filter: Vec<FilterMetric>,
}

/// A filter's metric name as a Prometheus name: `[a-zA-Z0-9_]`, others become `_`.
fn metric_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The Prometheus text exposition format (version 0.0.4).
pub fn render(s: &Snapshot) -> String {
    let mut out = String::with_capacity(4096);
    let w = &mut out;
    let _ = writeln!(
        w,
        "# HELP set_backend_requests_total Requests routed by set_backend, by result; waited=\"true\" when the request waited for a lookup (a cache miss)."
    );
    let _ = writeln!(w, "# TYPE set_backend_requests_total counter");
    for waited in [false, true] {
        for result in 0..RESULTS {
            let (label, status) = result_label(result);
            let status = status.map_or(String::new(), |st| format!(",status=\"{st}\""));
            let value = s.counters[usize::from(waited) * RESULTS + result];
            let _ = writeln!(
                w,
                "set_backend_requests_total{{waited=\"{waited}\",result=\"{label}\"{status}}} {value}"
            );
        }
    }
    let _ = writeln!(
        w,
        "# HELP set_backend_http_calls_total Http calls made by the filter (lookups, change feed), by result."
    );
    let _ = writeln!(w, "# TYPE set_backend_http_calls_total counter");
    for (i, result) in CALL_RESULTS.iter().enumerate() {
        let _ = writeln!(
            w,
            "set_backend_http_calls_total{{result=\"{result}\"}} {}",
            s.counters[Counter::Calls(i).index()]
        );
    }
    let _ = writeln!(
        w,
        "# HELP set_backend_filter_traps_total Filter calls stopped by a fault (kind=\"fault\") or by the deadline (kind=\"deadline\")."
    );
    let _ = writeln!(w, "# TYPE set_backend_filter_traps_total counter");
    let _ = writeln!(
        w,
        "set_backend_filter_traps_total{{kind=\"fault\"}} {}",
        s.counters[Counter::TrapsFault.index()]
    );
    let _ = writeln!(
        w,
        "set_backend_filter_traps_total{{kind=\"deadline\"}} {}",
        s.counters[Counter::TrapsDeadline.index()]
    );
    let _ = writeln!(
        w,
        "# HELP set_backend_filter_restarts_total Filter instances started again after a trap."
    );
    let _ = writeln!(w, "# TYPE set_backend_filter_restarts_total counter");
    let _ = writeln!(
        w,
        "set_backend_filter_restarts_total {}",
        s.counters[Counter::InstanceRestarts.index()]
    );
    if let Some(z) = s.zone {
        let _ = writeln!(
            w,
            "# HELP set_backend_zone_bytes The shared cache zone's size (state=\"total\") and the bytes not free in it (state=\"used\")."
        );
        let _ = writeln!(w, "# TYPE set_backend_zone_bytes gauge");
        let _ = writeln!(
            w,
            "set_backend_zone_bytes{{state=\"total\"}} {}",
            z.bytes_total
        );
        let _ = writeln!(
            w,
            "set_backend_zone_bytes{{state=\"used\"}} {}",
            z.bytes_used
        );
        let _ = writeln!(
            w,
            "# HELP set_backend_zone_entries Entries in the shared cache zone."
        );
        let _ = writeln!(w, "# TYPE set_backend_zone_entries gauge");
        let _ = writeln!(w, "set_backend_zone_entries {}", z.entries);
        let _ = writeln!(
            w,
            "# HELP set_backend_zone_evictions_total Entries evicted from the shared cache zone to make room."
        );
        let _ = writeln!(w, "# TYPE set_backend_zone_evictions_total counter");
        let _ = writeln!(w, "set_backend_zone_evictions_total {}", z.evictions);
    }
    let _ = writeln!(
        w,
        "# HELP set_backend_workers_reporting Workers whose filter metrics are included below."
    );
    let _ = writeln!(w, "# TYPE set_backend_workers_reporting gauge");
    let _ = writeln!(w, "set_backend_workers_reporting {}", s.workers);
    for m in &s.filter {
        let name = format!("set_backend_filter_{}", metric_name(&m.name));
        match m.kind {
            Kind::Counter => {
                let _ = writeln!(w, "# TYPE {name} counter\n{name} {}", m.value);
            }
            Kind::Gauge => {
                let _ = writeln!(w, "# TYPE {name} gauge\n{name} {}", m.value);
            }
            Kind::Histogram => {
                let _ = writeln!(w, "# TYPE {name} histogram");
                let mut cumulative = 0;
                for (i, n) in m.buckets.iter().enumerate() {
                    cumulative += n;
                    let le = HISTOGRAM_BOUNDS
                        .get(i)
                        .map_or("+Inf".to_string(), |b| b.to_string());
                    let _ = writeln!(w, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
                }
                let _ = writeln!(w, "{name}_sum {}\n{name}_count {}", m.sum, m.count);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(name: &str, kind: Kind, value: i64) -> FilterMetric {
        FilterMetric {
            name: name.into(),
            kind,
            value,
            buckets: [0; HISTOGRAM_BOUNDS.len() + 1],
            sum: 0,
            count: 0,
        }
    }

    #[test]
    fn every_counter_has_its_own_slot() {
        let mut seen = std::collections::HashSet::new();
        for waited in [false, true] {
            for o in [
                Outcome::Backend,
                Outcome::Page(400),
                Outcome::Page(404),
                Outcome::Page(502),
                Outcome::Page(503),
                Outcome::Page(418),
                Outcome::Error,
            ] {
                assert!(seen.insert(request_counter(waited, o).index()));
            }
        }
        for status in [Some(200), Some(301), Some(404), Some(500), None] {
            assert!(seen.insert(call_counter(status).index()));
        }
        for c in [
            Counter::TrapsFault,
            Counter::TrapsDeadline,
            Counter::InstanceRestarts,
        ] {
            assert!(seen.insert(c.index()));
        }
        assert_eq!(seen.len(), COUNTERS);
        assert!(seen.iter().all(|&i| i < COUNTERS));
        assert_eq!(call_counter(Some(99)).index(), call_counter(None).index());
    }

    #[test]
    fn workers_add_up_counters_and_histograms_and_take_the_largest_gauge() {
        let mut h1 = metric("lookup_ms", Kind::Histogram, 3);
        h1.buckets[0] = 2;
        h1.sum = 3;
        h1.count = 2;
        let mut h2 = metric("lookup_ms", Kind::Histogram, 9);
        h2.buckets[3] = 1;
        h2.sum = 9;
        h2.count = 1;
        let a = vec![
            metric("hits", Kind::Counter, 5),
            metric("feed_seq", Kind::Gauge, 0),
            h1,
        ];
        let b = vec![
            metric("hits", Kind::Counter, 7),
            metric("feed_seq", Kind::Gauge, 42),
            h2,
        ];
        let all = aggregate(&[a, b]);
        let get = |n: &str| all.iter().find(|m| m.name == n).unwrap();
        assert_eq!(get("hits").value, 12);
        assert_eq!(get("feed_seq").value, 42);
        assert_eq!((get("lookup_ms").count, get("lookup_ms").sum), (3, 12));
        assert_eq!(&get("lookup_ms").buckets[..4], &[2, 0, 0, 1]);
    }

    #[test]
    fn renders_prometheus_text() {
        let mut counters = [0; COUNTERS];
        counters[request_counter(false, Outcome::Backend).index()] = 10;
        counters[request_counter(true, Outcome::Page(404)).index()] = 2;
        counters[call_counter(Some(200)).index()] = 4;
        let mut h = metric("lookup.duration-ms", Kind::Histogram, 0);
        h.buckets[0] = 1;
        h.buckets[HISTOGRAM_BOUNDS.len()] = 1;
        h.sum = 20_001;
        h.count = 2;
        let text = render(&Snapshot {
            counters,
            zone: Some(ZoneStats {
                bytes_total: 1 << 20,
                bytes_used: 4096,
                entries: 3,
                evictions: 1,
            }),
            workers: 2,
            filter: vec![metric("stale_served", Kind::Counter, 1), h],
        });
        for line in [
            "set_backend_requests_total{waited=\"false\",result=\"backend\"} 10",
            "set_backend_requests_total{waited=\"true\",result=\"page\",status=\"404\"} 2",
            "set_backend_requests_total{waited=\"true\",result=\"error\"} 0",
            "set_backend_http_calls_total{result=\"2xx\"} 4",
            "set_backend_zone_bytes{state=\"total\"} 1048576",
            "set_backend_zone_evictions_total 1",
            "set_backend_workers_reporting 2",
            "set_backend_filter_stale_served 1",
            "set_backend_filter_lookup_duration_ms_bucket{le=\"1\"} 1",
            "set_backend_filter_lookup_duration_ms_bucket{le=\"10000\"} 1",
            "set_backend_filter_lookup_duration_ms_bucket{le=\"+Inf\"} 2",
            "set_backend_filter_lookup_duration_ms_count 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
        // Every sample line is `name{labels} value` or `name value`.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = l.rsplit_once(' ').unwrap();
            assert!(value.parse::<i64>().is_ok(), "{l}");
            assert!(name.chars().next().unwrap().is_ascii_alphabetic(), "{l}");
        }
    }
}
