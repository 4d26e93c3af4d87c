//! The audit seam (DESIGN.md "Audit log"): the journey's decisions and the endpoints produce
//! [`Fact`]s; the carrying-out wraps each in an [`Entry`] and hands it to the [`AuditSink`] in
//! [`crate::state::AppState`]. A fact that [`Fact::must_be_durable`] ("assertion issued") is written
//! before the person is sent back with a code: no audit, no assertion. Every other fact is noted
//! ([`AuditSink::note`]): nothing waits for it, and the log writes it with the next durable entry's
//! group commit, so it costs no fsync of its own.
//!
//! [`NoAudit`] and [`RecordingAudit`] are the sinks of tests and of a hub without an audit log.

pub mod cli;
pub mod dates;
pub mod event;
pub mod log;
pub mod query;

pub use event::{Fact, ProviderOutcome};

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// One log entry: when, which journey (its id hashed), and the fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// SHA-256 (base64url) of the journey id, linking the entries of one sign-in and nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<String>,
    #[serde(flatten)]
    pub fact: Fact,
}

/// Writing an entry failed: nothing that needs it may go on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit log unavailable: {0}")]
pub struct AuditError(pub String);

/// Where audit entries go.
#[async_trait::async_trait]
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    /// Records an entry; returns once it is durable.
    async fn record(&self, entry: Entry) -> Result<(), AuditError>;
    /// Records an entry that nothing waits on: it becomes durable with the next [`AuditSink::record`]
    /// or shortly after; a failure is logged and shows in [`AuditSink::healthy`].
    fn note(&self, entry: Entry);
    /// Whether entries can be written now (for `/readyz`).
    fn healthy(&self) -> bool {
        true
    }

    /// Publishes what is durable and closes (at shutdown).
    async fn close(&self) {}
}

/// A shared sink handle.
pub type Sink = Arc<dyn AuditSink>;

/// Records a fact of no journey that nothing waits on (not an assertion), through [`AuditSink::note`].
pub fn note(sink: &dyn AuditSink, now: i64, fact: Fact) {
    sink.note(Entry {
        time: now,
        journey: None,
        fact,
    });
}

/// Keeps nothing.
#[derive(Debug, Default)]
pub struct NoAudit;

#[async_trait::async_trait]
impl AuditSink for NoAudit {
    async fn record(&self, _entry: Entry) -> Result<(), AuditError> {
        Ok(())
    }

    fn note(&self, _entry: Entry) {}
}

/// Keeps every entry in memory, for tests to read; can be told to fail.
#[derive(Debug, Default)]
pub struct RecordingAudit {
    entries: Mutex<Vec<Entry>>,
    failing: std::sync::atomic::AtomicBool,
}

impl RecordingAudit {
    /// Every entry recorded so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The facts recorded so far.
    pub fn facts(&self) -> Vec<Fact> {
        self.entries().into_iter().map(|e| e.fact).collect()
    }

    /// From now on every write fails (a full disk), or succeeds again.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl AuditSink for RecordingAudit {
    async fn record(&self, entry: Entry) -> Result<(), AuditError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(AuditError("recording sink told to fail".into()));
        }
        self.entries
            .lock()
            .map_err(|_| AuditError("lock poisoned".into()))?
            .push(entry);
        Ok(())
    }

    /// Kept at once (tests read it right after the request), unless told to fail, like a full disk.
    fn note(&self, entry: Entry) {
        if !self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            if let Ok(mut entries) = self.entries.lock() {
                entries.push(entry);
            }
        }
    }

    fn healthy(&self) -> bool {
        !self.failing.load(std::sync::atomic::Ordering::SeqCst)
    }
}
