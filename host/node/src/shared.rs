//! `SharedData`: the in-memory store several `FilterHost`s can share, standing
//! in for the nginx shared-memory zone that all workers see.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use proxy_wasm_host::{MemorySharedData, SharedData as _, SharedDataError};

#[napi(object)]
pub struct SharedEntry {
    pub value: Buffer,
    pub cas: u32,
}

#[napi]
pub struct SharedData {
    inner: Arc<MemorySharedData>,
}

impl Default for SharedData {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
impl SharedData {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(MemorySharedData::new()),
        }
    }

    #[napi]
    pub fn get(&self, key: String) -> Option<SharedEntry> {
        self.inner.get(key.as_bytes()).map(|(v, cas)| SharedEntry {
            value: v.into(),
            cas,
        })
    }

    /// cas 0 writes unconditionally; otherwise it must equal the entry's current cas.
    #[napi(ts_return_type = "'ok' | 'cas_mismatch'")]
    pub fn set(&self, key: String, value: Buffer, cas: u32) -> Result<String> {
        match self.inner.set(key.as_bytes(), &value, cas) {
            Ok(()) => Ok("ok".into()),
            Err(SharedDataError::CasMismatch) => Ok("cas_mismatch".into()),
            Err(SharedDataError::Failed) => Err(Error::from_reason("shared data store failed")),
        }
    }

    #[napi(getter)]
    pub fn size(&self) -> u32 {
        self.inner.len() as u32
    }
}

impl SharedData {
    pub(crate) fn store(&self) -> Arc<MemorySharedData> {
        self.inner.clone()
    }
}
