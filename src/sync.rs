//! Keeps the published snapshot in step with the store, when other processes write it.
//!
//! Several gridmap instances can share one PostGIS database. Each serves reads from its own
//! in-memory [`Snapshot`]; when any process commits a change (today `gridmap import`, later
//! the editor), every instance must move to the new data. [`start`] loads the first snapshot
//! and the number of the last change it includes; [`follow`] then listens to the store's
//! [`ChangeFeed`](crate::store::ChangeFeed) and, for every change newer than the one applied, reloads the whole dataset,
//! builds a new snapshot on a blocking thread and publishes it (generation + 1). Readers keep
//! the snapshot they hold until they finish: nobody ever sees half of a change.
//!
//! Surviving the database going away:
//!
//! * reads never touch the database, so they go on being answered from the last snapshot;
//! * the feed reports the loss and reconnects by itself; on reconnecting it reports the newest
//!   change number, and a change made while nobody was listening is caught up because that
//!   number is larger than the one applied;
//! * a reload that fails (the database went away between the notice and the load) is retried
//!   with back-off until it succeeds, without dropping the snapshot being served.
//!
//! Bursts of changes cost one reload, not one each: notices that arrive while a reload runs
//! wait in a queue, and the queue is drained before the next reload starts.
//!
//! This module knows the store and the index, never HTTP.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::index::{IndexError, Live, Snapshot};
use crate::store::{Change, ChangeSeq, Store, StoreError};

/// First wait before retrying a failed reload; doubled up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Why the first snapshot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Loads `store` and builds the first snapshot (generation 1), returning it published in a
/// [`Live`] together with the number of the last change it includes (`None` for a store that
/// does not number its changes).
///
/// Start-up is staged where the store allows it (`Store::load_regions`, PostGIS): the first
/// snapshot then holds only the regions and the staff (incomplete, see
/// [`Snapshot::complete`]) and answers `locate` and region lookups while [`follow`] loads
/// everything else and publishes a complete snapshot. For the 100,000-grid benchmark city this
/// is the difference between answering after about 2 s and after 10-15 s.
pub async fn start(store: &dyn Store) -> Result<(Live, Option<ChangeSeq>), SyncError> {
    let started = Instant::now();
    let (data, seq, complete) = match store.load_regions().await? {
        Some((data, seq)) => (data, seq, false),
        None => {
            let (data, seq) = store.load_with_seq().await?;
            (data, seq, true)
        }
    };
    let loaded = started.elapsed();
    let snapshot = if complete {
        Snapshot::build_blocking(data, 1).await?
    } else {
        tokio::task::spawn_blocking(move || Snapshot::build_partial(data, 1))
            .await
            .map_err(|e| IndexError::Task(e.to_string()))??
    };
    info!(
        load_ms = loaded.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        change = ?seq,
        complete,
        counts = ?snapshot.counts(),
        "first snapshot built"
    );
    Ok((Live::new(snapshot), seq))
}

/// Follows the changes of `store` until `shutdown` resolves, publishing a new snapshot in
/// `live` after each. `applied` is the last change the current snapshot includes (from
/// [`start`]). Returns at once for a store without a change feed (one only this process writes).
pub async fn follow(
    store: Arc<dyn Store>,
    live: Live,
    applied: Option<ChangeSeq>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut follower = Follower { store: store.clone(), live, applied, wanted: None, retry: RETRY_MIN };
    tokio::pin!(shutdown);
    if !follower.live.load().complete {
        // A staged start-up: load everything now (retrying while the store does not answer).
        loop {
            follower.wanted = Some(applied.unwrap_or(0));
            if follower.reload().await {
                break;
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(follower.retry) => {}
            }
            follower.retry = (follower.retry * 2).min(RETRY_MAX);
        }
    }
    let Some(mut feed) = store.changes() else { return };
    // The feed runs in its own task and is never cancelled half-way through a query: the
    // loop below only waits on the channel, which is cancel-safe.
    let (tx, mut rx) = mpsc::channel(256);
    let feed_task = tokio::spawn(async move {
        loop {
            let change = feed.next().await;
            if tx.send(change).await.is_err() {
                break;
            }
        }
    });
    loop {
        if follower.wanted.is_some() {
            // A reload is due: first take every notice already queued, so one reload covers
            // them all.
            match rx.try_recv() {
                Ok(change) => {
                    follower.note(change);
                    continue;
                }
                Err(mpsc::error::TryRecvError::Empty) => {}
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
            if follower.reload().await {
                continue;
            }
            // Failed: wait for the back-off, or for news (the database is back), or the end.
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(follower.retry) => {}
                change = rx.recv() => match change {
                    Some(change) => follower.note(change),
                    None => break,
                },
            }
            follower.retry = (follower.retry * 2).min(RETRY_MAX);
        } else {
            tokio::select! {
                _ = &mut shutdown => break,
                change = rx.recv() => match change {
                    Some(change) => follower.note(change),
                    None => break,
                },
            }
        }
    }
    feed_task.abort();
}

/// The state of [`follow`].
struct Follower {
    store: Arc<dyn Store>,
    live: Live,
    /// The last change the published snapshot includes.
    applied: Option<ChangeSeq>,
    /// The newest change heard of and not yet applied: a reload is due.
    wanted: Option<ChangeSeq>,
    /// Wait before retrying a failed reload.
    retry: Duration,
}

impl Follower {
    /// Takes one event of the feed into account.
    fn note(&mut self, change: Change) {
        let seq = match change {
            Change::Listening { latest } => {
                info!(latest, applied = ?self.applied, "listening for changes");
                latest
            }
            Change::Committed { seq } => seq,
            Change::Lost { reason } => {
                warn!(
                    %reason,
                    generation = self.live.load().generation,
                    "lost the database; serving the last snapshot until it is back"
                );
                return;
            }
        };
        if self.applied.is_none_or(|a| seq > a) {
            self.wanted = Some(self.wanted.map_or(seq, |w| w.max(seq)));
        }
    }

    /// Loads, builds and publishes a new snapshot. `false` when the store could not be read
    /// (to be retried); `true` otherwise, including when the data could not be indexed, which
    /// retrying would not fix (that is logged, and the old snapshot stays).
    async fn reload(&mut self) -> bool {
        let started = Instant::now();
        let (data, seq) = match self.store.load_with_seq().await {
            Ok(loaded) => loaded,
            Err(e) => {
                warn!(error = %e, retry_ms = self.retry.as_millis() as u64, "reload failed; will retry");
                return false;
            }
        };
        let loaded = started.elapsed();
        let applied = seq.or(self.wanted);
        let generation = self.live.load().generation + 1;
        match Snapshot::build_blocking(data, generation).await {
            Ok(snapshot) => {
                self.live.publish(snapshot);
                info!(
                    generation,
                    change = ?applied,
                    load_ms = loaded.as_millis() as u64,
                    total_ms = started.elapsed().as_millis() as u64,
                    "published a new snapshot"
                );
            }
            Err(e) => error!(error = %e, change = ?applied, "the new data cannot be indexed; keeping the old snapshot"),
        }
        self.applied = applied;
        self.wanted = self.wanted.filter(|&w| applied.is_some_and(|a| w > a));
        self.retry = RETRY_MIN;
        true
    }
}
