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
//! An edit made by this instance publishes its own snapshot (the current one plus the edit, see
//! `crate::api::edit`) with the edit's change number, so the notice of that change finds it
//! already applied and costs no reload; other instances' edits are reloaded as before. Edits and
//! reloads both publish under [`Live::lock_writes`], one at a time: a reload never overwrites a
//! newer edit, and a reload that finds its change already applied (by an edit that published
//! while it waited) is skipped.
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
pub async fn start(store: &dyn Store) -> Result<(Live, Option<ChangeSeq>), SyncError> {
    let started = Instant::now();
    let (snapshot, loaded) = load_snapshot(store, 1).await?;
    let seq = snapshot.change_seq;
    info!(
        load_ms = loaded.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        change = ?seq,
        counts = ?snapshot.counts(),
        "first snapshot built"
    );
    Ok((Live::new(snapshot), seq))
}

/// Loads the current dataset and the ended grid versions (for as-of reads) from `store` and
/// builds a snapshot of them (on a blocking thread) with generation `generation` and the
/// number of the last change it includes. Also returns how long the store took.
///
/// The dataset and the history are two reads: a change committed between them may show in the
/// history but not the dataset; its notice triggers the next reload, which sets both right.
pub async fn load_snapshot(store: &dyn Store, generation: u64) -> Result<(Snapshot, Duration), SyncError> {
    let started = Instant::now();
    let (data, seq) = store.load_with_seq().await?;
    let ended = store.ended_grid_versions().await?;
    let loaded = started.elapsed();
    let mut snapshot = Snapshot::build_blocking(data, generation).await?.with_history(ended);
    snapshot.change_seq = seq;
    Ok((snapshot, loaded))
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
    let mut follower = Follower { store, live, applied, wanted: None, retry: RETRY_MIN };
    tokio::pin!(shutdown);
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
        if self.applied_seq().is_none_or(|a| seq > a) {
            self.wanted = Some(self.wanted.map_or(seq, |w| w.max(seq)));
        }
    }

    /// The last change applied: by a reload of this follower, or by an edit of this instance
    /// that published its own snapshot.
    fn applied_seq(&self) -> Option<ChangeSeq> {
        self.applied.max(self.live.load().change_seq)
    }

    /// Loads, builds and publishes a new snapshot. `false` when the store could not be read
    /// (to be retried); `true` otherwise, including when the data could not be indexed, which
    /// retrying would not fix (that is logged, and the old snapshot stays).
    async fn reload(&mut self) -> bool {
        // Held until the snapshot is published: no edit publishes in between (see module docs).
        let _writing = self.live.lock_writes().await;
        if let (Some(wanted), Some(applied)) = (self.wanted, self.applied_seq()) {
            if wanted <= applied {
                // An edit of this instance published that change while we waited.
                self.applied = Some(applied);
                self.wanted = None;
                return true;
            }
        }
        let started = Instant::now();
        let generation = self.live.load().generation + 1;
        let (snapshot, loaded) = match load_snapshot(&*self.store, generation).await {
            Ok(loaded) => loaded,
            Err(SyncError::Store(e)) => {
                warn!(error = %e, retry_ms = self.retry.as_millis() as u64, "reload failed; will retry");
                return false;
            }
            Err(SyncError::Index(e)) => {
                error!(error = %e, change = ?self.wanted, "the new data cannot be indexed; keeping the old snapshot");
                self.applied = self.wanted;
                self.wanted = None;
                self.retry = RETRY_MIN;
                return true;
            }
        };
        let applied = snapshot.change_seq.or(self.wanted);
        self.live.publish(snapshot);
        info!(
            generation,
            change = ?applied,
            load_ms = loaded.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "published a new snapshot"
        );
        self.applied = applied;
        self.wanted = self.wanted.filter(|&w| applied.is_some_and(|a| w > a));
        self.retry = RETRY_MIN;
        true
    }
}
