//! An embedder that records what the filter did instead of acting on it:
//! every trait of `Environment` in one value. Tests and the Node binding
//! run filters with it and read the events afterwards.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::abi::{LogLevel, Status, StreamType};
use crate::embedder::{
    Clock, Environment, HttpCallRequest, HttpCalls, LocalResponse, Logger, Properties, SharedData,
    Streams, SystemClock,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Log {
        context: u32,
        level: LogLevel,
        message: String,
    },
    Property {
        context: u32,
        path: Vec<Vec<u8>>,
        value: Vec<u8>,
    },
    HttpCall {
        context: u32,
        token: u32,
        request: HttpCallRequest,
    },
    LocalResponse {
        context: u32,
        response: LocalResponse,
    },
    Continue {
        context: u32,
        stream: StreamType,
    },
}

impl Event {
    pub fn context(&self) -> u32 {
        match self {
            Event::Log { context, .. }
            | Event::Property { context, .. }
            | Event::HttpCall { context, .. }
            | Event::LocalResponse { context, .. }
            | Event::Continue { context, .. } => *context,
        }
    }
}

#[derive(Default)]
struct Inner {
    events: Vec<Event>,
    /// Properties set per context, readable back by the filter.
    properties: HashMap<(u32, Vec<Vec<u8>>), Vec<u8>>,
    /// Fixed clock in nanoseconds; `None` = real time.
    time_nanos: Option<u64>,
    log_level: Option<LogLevel>,
}

/// Cheap to clone; all clones share the same record.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// An environment whose every part is this recorder, with `shared_data` as the store.
    pub fn environment(&self, shared_data: Arc<dyn SharedData>) -> Environment {
        Environment {
            clock: Box::new(self.clone()),
            logger: Box::new(self.clone()),
            properties: Box::new(self.clone()),
            shared_data,
            http_calls: Box::new(self.clone()),
            streams: Box::new(self.clone()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes every event recorded so far.
    pub fn drain(&self) -> Vec<Event> {
        std::mem::take(&mut self.lock().events)
    }

    pub fn set_time_nanos(&self, nanos: Option<u64>) {
        self.lock().time_nanos = nanos;
    }

    pub fn set_log_level(&self, level: LogLevel) {
        self.lock().log_level = Some(level);
    }

    /// Forgets the properties of a finished context.
    pub fn forget_context(&self, context: u32) {
        self.lock().properties.retain(|(c, _), _| *c != context);
    }
}

impl Clock for Recorder {
    fn now_nanos(&self) -> u64 {
        self.lock()
            .time_nanos
            .unwrap_or_else(|| SystemClock.now_nanos())
    }
}

impl Logger for Recorder {
    fn log(&mut self, context: u32, level: LogLevel, message: &str) {
        self.lock().events.push(Event::Log {
            context,
            level,
            message: message.to_owned(),
        });
    }

    fn level(&self) -> LogLevel {
        self.lock().log_level.unwrap_or(LogLevel::Trace)
    }
}

impl Properties for Recorder {
    fn get_property(&mut self, context: u32, path: &[&[u8]]) -> Option<Vec<u8>> {
        let key = (context, path.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
        self.lock().properties.get(&key).cloned()
    }

    fn set_property(&mut self, context: u32, path: &[&[u8]], value: &[u8]) -> Result<(), Status> {
        let path: Vec<Vec<u8>> = path.iter().map(|s| s.to_vec()).collect();
        let mut inner = self.lock();
        inner
            .properties
            .insert((context, path.clone()), value.to_vec());
        inner.events.push(Event::Property {
            context,
            path,
            value: value.to_vec(),
        });
        Ok(())
    }
}

impl HttpCalls for Recorder {
    fn dispatch(
        &mut self,
        context: u32,
        token: u32,
        request: HttpCallRequest,
    ) -> Result<(), Status> {
        self.lock().events.push(Event::HttpCall {
            context,
            token,
            request,
        });
        Ok(())
    }
}

impl Streams for Recorder {
    fn send_local_response(&mut self, context: u32, response: LocalResponse) -> Result<(), Status> {
        self.lock()
            .events
            .push(Event::LocalResponse { context, response });
        Ok(())
    }

    fn continue_stream(&mut self, context: u32, stream: StreamType) -> Result<(), Status> {
        if stream != StreamType::HttpRequest {
            return Err(Status::Unimplemented);
        }
        self.lock().events.push(Event::Continue { context, stream });
        Ok(())
    }
}
