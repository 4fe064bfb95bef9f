//! Keeps the published snapshot in step with the store, when other processes write it.
//!
//! Several gridmap instances can share one PostGIS database. Each serves reads from its own
//! in-memory [`Snapshot`]; when any process commits a change (`gridmap import`, or a grid edit
//! through any instance), every instance must move to the new data. [`start`] loads the first
//! snapshot and the number of the last change it includes; [`follow`] then listens to the
//! store's [`ChangeFeed`](crate::store::ChangeFeed) and, for every change newer than the one
//! applied, publishes a new snapshot (generation + 1), built on a blocking thread:
//!
//! * when every new change is a grid edit (the usual case), [`catch_up`] reads them back
//!   (`Store::edits_after`: the versions they ended and wrote, the staff they named) and applies
//!   them to the current snapshot, rebuilding only what depends on grids and staff: about a
//!   tenth to a quarter of a second for the 100,000-grid city;
//! * otherwise (an import, or a write straight into the tables), it reloads the whole
//!   dataset: seconds for a big city. Such data did not pass the rules of grid drawing an edit
//!   passes, so once it is published the rules are run over the whole map in the background
//!   ([`crate::edit::check_map`]: 2 s for 100,000 grids) and the log says what is broken.
//!
//! Readers keep the snapshot they hold until they finish: nobody ever sees half of a change.
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
//! Bursts of changes cost one catch-up (or reload), not one each: notices that arrive while one
//! runs wait in a queue, and the queue is drained before the next starts.
//!
//! An edit made by this instance publishes its own snapshot (the current one plus the edit, see
//! `crate::api::edit`) with the edit's change number, so the notice of that change finds it
//! already applied and costs nothing. Edits and catch-ups publish under [`Live::lock_writes`],
//! one at a time: a catch-up never overwrites a newer edit, and one that finds its change
//! already applied (by an edit that published while it waited) is skipped.
//!
//! This module knows the store and the index, never HTTP.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::edit::{check_map, survey, RuleConfig, Severity};
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

/// Loads `store` and builds the first snapshot (generation 1), complete, returning it
/// published in a [`Live`] together with the number of the last change it includes (`None` for
/// a store that does not number its changes).
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

/// [`start`], staged where the store allows it (`Store::load_regions`, PostGIS): the first
/// snapshot then holds only the regions and the staff (incomplete, see
/// [`Snapshot::complete`]) and answers `locate` and region lookups while [`follow`] loads
/// everything else and publishes a complete snapshot. For the 100,000-grid benchmark city this
/// is the difference between answering after a few seconds and after 10-15 s. `gridmap serve`
/// starts this way.
pub async fn start_staged(store: &dyn Store) -> Result<(Live, Option<ChangeSeq>), SyncError> {
    let started = Instant::now();
    let (snapshot, seq, loaded) = match store.load_regions().await? {
        Some((data, seq)) => {
            let ended = store.ended_grid_versions().await?;
            let loaded = started.elapsed();
            let snapshot = tokio::task::spawn_blocking(move || Snapshot::build_partial(data, 1))
                .await
                .map_err(|e| IndexError::Task(e.to_string()))??
                .with_history(ended);
            // No `change_seq`: the partial snapshot does not count as having applied any change,
            // so that [`follow`] loads everything whatever it hears meanwhile.
            (snapshot, seq, loaded)
        }
        None => {
            let (snapshot, loaded) = load_snapshot(store, 1).await?;
            let seq = snapshot.change_seq;
            (snapshot, seq, loaded)
        }
    };
    let complete = snapshot.complete;
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

/// Most edits a follower applies to its snapshot in one catch-up; with more it loads
/// everything again (a year of a busy district's edits is a few thousand).
const MAX_CATCH_UP_EDITS: usize = 10_000;

/// The snapshot after the grid edits committed since `base` was made (its `change_seq`),
/// applied to `base` in one rebuild of the grid parts (`Snapshot::with_grid_changes`), when the
/// store can say what they were (`Store::edits_after`). For the 100,000-grid city this takes
/// 0.1-0.25 s where loading everything takes 8-13 s.
///
/// `Ok(None)` when catching up this way is not possible, and the caller loads everything
/// instead: an import or a direct write (QGIS, psql) is among the changes, there are more than
/// [`MAX_CATCH_UP_EDITS`], the store does not number its changes, `base` is incomplete, there
/// is nothing newer, or the edits do not fit `base` (a version one of them ends is neither
/// current in `base` nor written by an earlier one), which would mean `base` is not what its
/// change number says.
pub async fn catch_up(store: &dyn Store, base: Arc<Snapshot>, generation: u64) -> Result<Option<Snapshot>, SyncError> {
    let Some(after) = base.change_seq.filter(|_| base.complete) else { return Ok(None) };
    let Some(edits) = store.edits_after(after, MAX_CATCH_UP_EDITS).await? else { return Ok(None) };
    let Some(last) = edits.last().map(|e| e.seq) else { return Ok(None) };
    let built = tokio::task::spawn_blocking(move || {
        let mut written_here = std::collections::HashSet::new();
        for e in &edits {
            for (code, version) in &e.retire {
                let current = base.region(code).is_some_and(|r| r.version == *version && r.valid_to.is_none());
                if !current && !written_here.contains(&(code.clone(), *version)) {
                    warn!(change = e.seq, %code, version, "an edit ends a version this snapshot does not hold");
                    return Ok(None);
                }
            }
            written_here.extend(e.write.iter().map(|r| (r.code.clone(), r.version)));
        }
        let ended: Vec<_> =
            edits.iter().flat_map(|e| e.retire.iter().map(move |(c, v)| (c.clone(), *v, e.at))).collect();
        let written: Vec<_> = edits.iter().flat_map(|e| e.write.iter().cloned()).collect();
        // Each edit carries its people as they are at the end of the read: any copy will do.
        let mut staff: Vec<_> = edits.iter().flat_map(|e| e.staff.iter().cloned()).collect();
        staff.sort_by_key(|s| s.id);
        staff.dedup_by_key(|s| s.id);
        base.with_grid_changes(&ended, &written, &staff, generation, Some(last)).map(Some)
    })
    .await
    .map_err(|e| IndexError::Task(e.to_string()))?;
    Ok(built?)
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
        // Nothing counts as applied until then (see `start`).
        follower.applied = None;
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
        let base = self.live.load();
        let generation = base.generation + 1;
        // Grid edits only (the usual case): apply them to the snapshot we have.
        match catch_up(&*self.store, base, generation).await {
            Ok(Some(snapshot)) => {
                let applied = snapshot.change_seq;
                self.live.publish(snapshot);
                info!(
                    generation,
                    change = ?applied,
                    total_ms = started.elapsed().as_millis() as u64,
                    "applied other instances' edits to the snapshot"
                );
                self.published(applied);
                return true;
            }
            Ok(None) => {}
            Err(SyncError::Store(e)) => {
                warn!(error = %e, retry_ms = self.retry.as_millis() as u64, "reading the new edits failed; will retry");
                return false;
            }
            Err(SyncError::Index(e)) => {
                warn!(error = %e, "the new edits could not be applied to the snapshot; loading everything");
            }
        }
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
        self.published(applied);
        let published = self.live.load();
        tokio::task::spawn_blocking(move || log_rules(&published));
        true
    }

    /// Records that a snapshot including change `applied` was published: what is still wanted
    /// is only what came after it, and the next failure starts its back-off afresh.
    fn published(&mut self, applied: Option<ChangeSeq>) {
        self.applied = applied;
        self.wanted = self.wanted.filter(|&w| applied.is_some_and(|a| w > a));
        self.retry = RETRY_MIN;
    }
}

/// Logs whether the grids of `snap` follow the rules of grid drawing (a warning naming the first
/// few violations when they do not; `gridmap check` lists them all).
fn log_rules(snap: &Snapshot) {
    let started = Instant::now();
    let violations = check_map(snap, &RuleConfig::default(), &|_, _| {});
    let check_ms = started.elapsed().as_millis() as u64;
    let errors = || violations.iter().filter(|v| v.severity == Severity::Error);
    let count = errors().count();
    if count == 0 {
        info!(generation = snap.generation, check_ms, "the grids follow the rules of grid drawing");
    } else {
        let first: Vec<String> = errors().take(5).map(|v| format!("{}: {}", v.rule, v.message_en)).collect();
        warn!(
            generation = snap.generation,
            check_ms,
            errors = count,
            tally = %survey::tally(&violations),
            first = ?first,
            "the grids break the rules of grid drawing (data not written through an edit); `gridmap check` lists every violation"
        );
    }
}
