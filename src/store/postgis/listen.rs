//! The PostGIS [`ChangeFeed`]: LISTEN on `gridmap_changes`, reconnecting by itself.
//!
//! Every committed write appends a row to `change_log`, whose trigger sends
//! `NOTIFY gridmap_changes, '<id>'` (see `migrations/0004_change_log.sql`). PostgreSQL delivers
//! a notification only after its transaction commits, so whoever hears it can read the change.
//!
//! Notifications are transient: one sent while this feed is disconnected is lost. So the feed
//! never trusts the connection to have heard everything:
//!
//! * after every (re)connection it LISTENs first and then reads `max(change_log.id)` on the
//!   same connection, reported as [`Change::Listening`]; a change that committed before the
//!   read is in that number, one that commits after it is notified;
//! * when no notification came for [`HEARTBEAT`], it reads `max(id)` again. This proves the
//!   connection still answers (a dead peer that sent no FIN would otherwise leave `recv`
//!   waiting for ever) and reports a change whose notification was lost;
//! * any error drops the connection, reports [`Change::Lost`] once, and reconnects with
//!   back-off from `RETRY_MIN` to `RETRY_MAX`.
//!
//! It uses its own single connection, not the store's pool: LISTEN holds a connection for as
//! long as it listens.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::LATEST_CHANGE;
use crate::store::{Change, ChangeFeed, ChangeSeq};

/// The channel the `change_log` trigger notifies.
pub const CHANNEL: &str = "gridmap_changes";

/// Quiet time after which the connection is checked (and the change log re-read).
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// How long connecting, or one heartbeat query, may take before the connection counts as lost.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// First wait before reconnecting; doubled after each failure up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(100);

/// Longest wait between reconnection attempts: also the longest a recovered database waits for
/// gridmap to notice it.
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Follows the changes of one PostGIS database. Create with [`PgChangeFeed::new`] (it connects
/// on the first [`ChangeFeed::next`]).
pub struct PgChangeFeed {
    options: PgConnectOptions,
    listener: Option<PgListener>,
    /// The largest change number reported so far.
    seen: ChangeSeq,
    /// Wait before the next connection attempt.
    retry: Duration,
    /// Whether [`Change::Lost`] was reported for the current outage (it is reported once).
    lost: bool,
}

impl PgChangeFeed {
    /// A feed that will connect with `options`.
    pub fn new(options: PgConnectOptions) -> Self {
        PgChangeFeed { options, listener: None, seen: 0, retry: Duration::ZERO, lost: false }
    }

    /// Connects, LISTENs and reads the latest change number, all on one connection.
    async fn connect(&self) -> Result<(PgListener, ChangeSeq), sqlx::Error> {
        // A pool of one is PgListener's way of holding its connection. Reconnecting is ours,
        // not the listener's (see `next`), so that a reconnection always re-reads the log.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ANSWER_TIMEOUT)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(self.options.clone().application_name("gridmap-listen"));
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.eager_reconnect(false);
        listener.ignore_pool_close_event(true);
        listener.listen(CHANNEL).await?;
        let latest: ChangeSeq = sqlx::query_scalar(LATEST_CHANGE).fetch_one(&mut listener).await?;
        Ok((listener, latest))
    }

    /// Drops the connection and schedules the next attempt; returns the [`Change::Lost`] to
    /// report, once per outage.
    fn lose(&mut self, reason: String) -> Option<Change> {
        self.listener = None;
        self.retry = if self.retry.is_zero() { RETRY_MIN } else { (self.retry * 2).min(RETRY_MAX) };
        (!std::mem::replace(&mut self.lost, true)).then_some(Change::Lost { reason })
    }

    /// Waits out the back-off and connects: [`Change::Listening`] on success.
    async fn reconnect(&mut self) -> Result<Option<Change>, String> {
        tokio::time::sleep(self.retry).await;
        let (listener, latest) = tokio::time::timeout(ANSWER_TIMEOUT, self.connect())
            .await
            .map_err(|_| format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()))?
            .map_err(|e| format!("cannot listen for changes: {e}"))?;
        self.listener = Some(listener);
        self.retry = Duration::ZERO;
        self.lost = false;
        self.seen = self.seen.max(latest);
        Ok(Some(Change::Listening { latest }))
    }
}

/// Waits for one notification, or [`HEARTBEAT`] of quiet; returns a change number to report if
/// any, or why the connection counts as lost.
async fn listen_once(listener: &mut PgListener) -> Result<Option<ChangeSeq>, String> {
    // `try_recv` is cancel-safe (it keeps partial messages in its buffer), so timing it out
    // loses nothing.
    match tokio::time::timeout(HEARTBEAT, listener.try_recv()).await {
        Ok(Ok(Some(notification))) => {
            if let Ok(seq) = notification.payload().parse::<ChangeSeq>() {
                return Ok(Some(seq));
            }
            // Not one of ours (someone else NOTIFYing the channel): read the log instead.
        }
        Ok(Ok(None)) => return Err("the listening connection closed".into()),
        Ok(Err(e)) => return Err(e.to_string()),
        // Quiet for a while: check that the connection answers, and catch a lost notification.
        Err(_) => {}
    }
    let query = sqlx::query_scalar(LATEST_CHANGE).fetch_one(&mut *listener);
    match tokio::time::timeout(ANSWER_TIMEOUT, query).await {
        Ok(Ok(seq)) => Ok(Some(seq)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("the change log gave no answer within {} s", ANSWER_TIMEOUT.as_secs())),
    }
}

#[async_trait]
impl ChangeFeed for PgChangeFeed {
    async fn next(&mut self) -> Change {
        loop {
            let step = match self.listener.as_mut() {
                None => self.reconnect().await,
                Some(listener) => listen_once(listener).await.map(|seq| {
                    // Only what is newer than anything reported is news.
                    seq.filter(|&s| s > self.seen).map(|s| {
                        self.seen = s;
                        Change::Committed { seq: s }
                    })
                }),
            };
            match step {
                Ok(Some(change)) => return change,
                Ok(None) => {}
                Err(reason) => {
                    if let Some(lost) = self.lose(reason) {
                        return lost;
                    }
                }
            }
        }
    }
}
