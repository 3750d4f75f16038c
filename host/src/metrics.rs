//! In-process metrics defined by the filter (`proxy_define_metric` & co.).

use crate::abi::{MetricType, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricType,
    pub value: i64,
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

    /// Counters and gauges take the value; histograms keep the last sample.
    pub fn record(&mut self, id: u32, value: u64) -> Result<(), Status> {
        let m = self.get_mut(id)?;
        m.value = i64::try_from(value).unwrap_or(i64::MAX);
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
