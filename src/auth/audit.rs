//! The audit log: who wrote what and who read personal data, kept in the store.
//!
//! The middleware decides what is recorded (see `middleware`); this module carries entries
//! to the store without slowing requests down: [`AuditLog::record`] puts an entry on an
//! unbounded channel and returns; one background task (started with the first entry) writes
//! what has queued up in one batch, together with the tokens' "last used" times.
//! [`AuditLog::flush`] waits until everything recorded before it is written: the server calls
//! it after its last request, and `GET /api/audit` calls it so that an admin sees the newest
//! entries. A failed write is logged and retried once a second later; entries are lost only
//! when the store stays unreachable through the retry (logged as an error with the count).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::store::Store;

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Set by the store.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The token used; `None` for the anonymous caller.
    pub token_id: Option<i64>,
    /// The token's name, or `"anonymous"`.
    pub who: String,
    /// The peer address, when known.
    pub addr: Option<String>,
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    pub status: u16,
    /// What happened, in a few words (never personal data itself).
    pub detail: String,
}

enum Msg {
    Entry(AuditEntry),
    Used(i64, DateTime<Utc>),
    Flush(oneshot::Sender<()>),
}

/// Hands audit entries and token use to a background writer.
pub struct AuditLog {
    store: Arc<dyn Store>,
    tx: OnceLock<mpsc::UnboundedSender<Msg>>,
}

/// Most entries written in one batch.
const BATCH: usize = 1_000;

impl AuditLog {
    pub fn new(store: Arc<dyn Store>) -> AuditLog {
        AuditLog { store, tx: OnceLock::new() }
    }

    fn sender(&self) -> &mpsc::UnboundedSender<Msg> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(writer(self.store.clone(), rx));
            tx
        })
    }

    /// Queues `entry` for writing (its `id` is ignored).
    pub fn record(&self, entry: AuditEntry) {
        let _ = self.sender().send(Msg::Entry(entry));
    }

    /// Queues "token `id` was used at `at`".
    pub fn used(&self, id: i64, at: DateTime<Utc>) {
        let _ = self.sender().send(Msg::Used(id, at));
    }

    /// Waits until everything queued before this call is in the store (or has failed).
    pub async fn flush(&self) {
        let Some(tx) = self.tx.get() else { return };
        let (done, wait) = oneshot::channel();
        if tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    while let Some(first) = rx.recv().await {
        let mut entries = Vec::new();
        let mut used: HashMap<i64, DateTime<Utc>> = HashMap::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Entry(e) => entries.push(e),
                Msg::Used(id, at) => {
                    let t = used.entry(id).or_insert(at);
                    *t = (*t).max(at);
                }
                Msg::Flush(done) => flushes.push(done),
            }
            if entries.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        write(&*store, &entries, &used).await;
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn write(store: &dyn Store, entries: &[AuditEntry], used: &HashMap<i64, DateTime<Utc>>) {
    let used: Vec<(i64, DateTime<Utc>)> = used.iter().map(|(k, v)| (*k, *v)).collect();
    let (mut entries_done, mut used_done) = (entries.is_empty(), used.is_empty());
    for attempt in 0..2 {
        if !entries_done {
            match store.append_audit(entries).await {
                Ok(()) => entries_done = true,
                Err(e) => tracing::warn!(error = %e, attempt, "audit write failed"),
            }
        }
        if !used_done {
            match store.record_token_use(&used).await {
                Ok(()) => used_done = true,
                Err(e) => tracing::warn!(error = %e, attempt, "recording token use failed"),
            }
        }
        if entries_done && used_done {
            return;
        }
        if attempt == 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    if !entries_done {
        tracing::error!(lost = entries.len(), "audit entries could not be written");
    }
}
