//! In-process metrics defined by the filter (`proxy_define_metric` & co.).

use crate::abi::{MetricType, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricType,
    /// Counters and gauges: the value. Histograms: the last sample (what
    /// `proxy_get_metric` returns); the distribution is in `histogram`.
    pub value: i64,
    pub histogram: Option<Histogram>,
}

/// Upper bounds of a histogram's buckets, in the unit the filter records in
/// (the resolver records milliseconds): 1-2-5 steps, plus the implicit +Inf.
pub const HISTOGRAM_BOUNDS: [u64; 13] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000,
];

/// A distribution of recorded samples, as Prometheus keeps one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Samples `<= HISTOGRAM_BOUNDS[i]` are counted in `buckets[i]` (not cumulative);
    /// the last one counts those above every bound.
    pub buckets: [u64; HISTOGRAM_BOUNDS.len() + 1],
    pub sum: u64,
    pub count: u64,
}

impl Histogram {
    pub fn record(&mut self, sample: u64) {
        let i = HISTOGRAM_BOUNDS
            .iter()
            .position(|&b| sample <= b)
            .unwrap_or(HISTOGRAM_BOUNDS.len());
        self.buckets[i] += 1;
        self.sum = self.sum.saturating_add(sample);
        self.count += 1;
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    list: Vec<Metric>,
}

impl Metrics {
    /// Ids are index + 1, so 0 is never a valid id. Defining an existing
    /// name and type again returns the same id (filters restart after traps).
    pub fn define(&mut self, kind: MetricType, name: &str) -> Result<u32, Status> {
        if let Some(i) = self.list.iter().position(|m| m.name == name) {
            return if self.list[i].kind == kind {
                Ok(i as u32 + 1)
            } else {
                Err(Status::BadArgument)
            };
        }
        if self.list.len() >= 4096 {
            return Err(Status::InternalFailure);
        }
        self.list.push(Metric {
            name: name.to_owned(),
            kind,
            value: 0,
            histogram: (kind == MetricType::Histogram).then(Histogram::default),
        });
        Ok(self.list.len() as u32)
    }

    fn get_mut(&mut self, id: u32) -> Result<&mut Metric, Status> {
        let i = (id as usize).checked_sub(1).ok_or(Status::NotFound)?;
        self.list.get_mut(i).ok_or(Status::NotFound)
    }

    pub fn increment(&mut self, id: u32, delta: i64) -> Result<(), Status> {
        let m = self.get_mut(id)?;
        match m.kind {
            MetricType::Counter if delta < 0 => Err(Status::BadArgument),
            MetricType::Histogram => Err(Status::BadArgument),
            _ => {
                m.value = m.value.saturating_add(delta);
                Ok(())
            }
        }
    }

    /// Counters and gauges take the value; histograms add the sample to their
    /// distribution and keep it as the last one.
    pub fn record(&mut self, id: u32, value: u64) -> Result<(), Status> {
        let m = self.get_mut(id)?;
        m.value = i64::try_from(value).unwrap_or(i64::MAX);
        if let Some(h) = &mut m.histogram {
            h.record(value);
        }
        Ok(())
    }

    pub fn get(&self, id: u32) -> Result<u64, Status> {
        let i = (id as usize).checked_sub(1).ok_or(Status::NotFound)?;
        self.list
            .get(i)
            .map(|m| m.value as u64)
            .ok_or(Status::NotFound)
    }

    pub fn all(&self) -> &[Metric] {
        &self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_samples_into_buckets_and_keep_the_last_one() {
        let mut m = Metrics::default();
        let id = m.define(MetricType::Histogram, "lookup_ms").unwrap();
        for sample in [0, 1, 2, 3, 10_000, 10_001, 7] {
            m.record(id, sample).unwrap();
        }
        assert_eq!(m.get(id), Ok(7));
        let h = m.all()[0].histogram.clone().unwrap();
        assert_eq!(h.count, 7);
        assert_eq!(h.sum, 20_014);
        assert_eq!(&h.buckets[..4], &[2, 1, 1, 1], "<=1, <=2, <=5, <=10");
        assert_eq!(h.buckets[HISTOGRAM_BOUNDS.len() - 1], 1, "<=10000");
        assert_eq!(h.buckets[HISTOGRAM_BOUNDS.len()], 1, "+Inf");
        assert_eq!(m.increment(id, 1), Err(Status::BadArgument));
    }

    #[test]
    fn counters_and_gauges_have_no_histogram() {
        let mut m = Metrics::default();
        let c = m.define(MetricType::Counter, "c").unwrap();
        m.record(c, 5).unwrap();
        assert_eq!(m.all()[0].histogram, None);
        assert_eq!(m.get(c), Ok(5));
    }
}
