//! Live updates fan-out inside one API process.
//!
//! Every change a client must see is in PostgreSQL's event log
//! (`estrade_db::events`) when it commits. Whoever committed it publishes a
//! notice (the session's id) on Redis; every API replica holds one
//! subscription, and for a session some of its clients watch, reads the new
//! events once and hands them to those clients through an in-process
//! broadcast channel (a *feed*). Each replica also polls the sessions it
//! has feeds for every [`POLL`], so a notice lost to a Redis outage delays
//! events by at most that, and the subscription is remade after an outage.
//!
//! Streams never trust the feed alone: each remembers the last sequence
//! number it sent, skips what it already had and reads any gap from
//! PostgreSQL itself (see `routes::events`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use estrade_db::events::StoredEvent;
use futures::StreamExt as _;
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How often the sessions with watchers are checked for events whose
/// notice did not arrive.
pub const POLL: Duration = Duration::from_secs(2);

/// Events a slow stream may fall behind before it reads from PostgreSQL
/// instead.
const FEED_CAPACITY: usize = 64;

/// Events read per query.
const BATCH: i64 = 256;

/// The process's feeds and the Redis subscription behind them.
pub struct Hub {
    db: PgPool,
    redis: redis::Client,
    channel: String,
    feeds: Mutex<HashMap<Uuid, Arc<Feed>>>,
    started: OnceLock<()>,
    closing: CancellationToken,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// One session's events as this process hands them out.
pub struct Feed {
    session_id: Uuid,
    sender: broadcast::Sender<Arc<StoredEvent>>,
    /// The last sequence number handed out; the lock makes reads of the log
    /// one at a time, in order.
    last: tokio::sync::Mutex<Option<i64>>,
    /// A read is wanted (a notice came while one ran).
    dirty: AtomicBool,
    /// A read task runs.
    running: AtomicBool,
}

impl Hub {
    /// A hub reading `db` and subscribing to `channel` on `redis`. Nothing
    /// connects before the first stream opens.
    pub fn new(db: PgPool, redis: redis::Client, channel: String) -> Self {
        Self {
            db,
            redis,
            channel,
            feeds: Mutex::new(HashMap::new()),
            started: OnceLock::new(),
            closing: CancellationToken::new(),
        }
    }

    /// Cancelled when the process shuts down: every stream ends then.
    pub fn closing(&self) -> CancellationToken {
        self.closing.clone()
    }

    /// Subscribes to a session's feed (created on first use). The caller
    /// reads where it starts *after* this, so nothing committed later can
    /// be missed.
    pub fn subscribe(
        self: &Arc<Self>,
        session_id: Uuid,
    ) -> (Arc<Feed>, broadcast::Receiver<Arc<StoredEvent>>) {
        self.start();
        let mut feeds = self.feeds.lock().expect("feeds lock");
        let feed = feeds
            .entry(session_id)
            .or_insert_with(|| {
                Arc::new(Feed {
                    session_id,
                    sender: broadcast::channel(FEED_CAPACITY).0,
                    last: tokio::sync::Mutex::new(None),
                    dirty: AtomicBool::new(false),
                    running: AtomicBool::new(false),
                })
            })
            .clone();
        let receiver = feed.sender.subscribe();
        (feed, receiver)
    }

    /// A stream of `feed` starts after `seq`: the feed reads from there on
    /// if it had not started yet, or from earlier (a duplicate is skipped
    /// by streams; a gap would not be).
    pub async fn started_at(self: &Arc<Self>, feed: &Arc<Feed>, seq: i64) {
        {
            let mut last = feed.last.lock().await;
            *last = Some(last.map_or(seq, |l| l.min(seq)));
        }
        self.wake(feed);
    }

    /// Reads `feed`'s new events soon, once even if asked many times.
    fn wake(self: &Arc<Self>, feed: &Arc<Feed>) {
        feed.dirty.store(true, Ordering::SeqCst);
        if feed.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let hub = Arc::clone(self);
        let feed = Arc::clone(feed);
        tokio::spawn(async move {
            loop {
                while feed.dirty.swap(false, Ordering::SeqCst) {
                    if let Err(error) = hub.read(&feed).await {
                        tracing::warn!(%error, "reading session events failed; the poll retries");
                    }
                }
                feed.running.store(false, Ordering::SeqCst);
                // A wake between the last swap and here found `running`
                // set and left: take it up.
                if !feed.dirty.load(Ordering::SeqCst) || feed.running.swap(true, Ordering::SeqCst) {
                    return;
                }
            }
        });
    }

    /// Hands out every event of `feed` after the last one handed out.
    async fn read(&self, feed: &Feed) -> Result<(), sqlx::Error> {
        let mut last = feed.last.lock().await;
        let Some(mut after) = *last else {
            return Ok(());
        };
        loop {
            let events = estrade_db::events::after(&self.db, feed.session_id, after, BATCH).await?;
            let full = events.len() as i64 == BATCH;
            for event in events {
                after = event.seq;
                // No receiver left is fine: the feed is dropped at the poll.
                let _ = feed.sender.send(Arc::new(event));
            }
            *last = Some(after);
            if !full {
                return Ok(());
            }
        }
    }

    fn feed(&self, session_id: Uuid) -> Option<Arc<Feed>> {
        self.feeds
            .lock()
            .expect("feeds lock")
            .get(&session_id)
            .cloned()
    }

    /// Starts the subscription and the poll, once per process.
    fn start(self: &Arc<Self>) {
        if self.started.set(()).is_err() {
            return;
        }
        tokio::spawn(Arc::clone(self).listen());
        tokio::spawn(Arc::clone(self).poll());
    }

    /// Follows the notices, resubscribing after any failure.
    async fn listen(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(250);
        while !self.closing.is_cancelled() {
            match self.subscribe_once().await {
                Ok(mut pubsub) => {
                    backoff = Duration::from_millis(250);
                    // Notices sent while unsubscribed are lost: read
                    // every feed once.
                    self.wake_all();
                    let mut messages = pubsub.on_message();
                    loop {
                        tokio::select! {
                            message = messages.next() => match message {
                                Some(message) => self.on_notice(&message),
                                None => break,
                            },
                            () = self.closing.cancelled() => return,
                        }
                    }
                    metrics::counter!("events_subscription_lost_total").increment(1);
                    tracing::warn!("event notices subscription lost; resubscribing");
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot subscribe to event notices; polling meanwhile");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.closing.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn subscribe_once(&self) -> redis::RedisResult<redis::aio::PubSub> {
        let connect = async {
            let mut pubsub = self.redis.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok(pubsub)
        };
        tokio::time::timeout(Duration::from_secs(2), connect)
            .await
            .unwrap_or_else(|_| {
                Err(redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "subscribing timed out",
                )))
            })
    }

    fn on_notice(self: &Arc<Self>, message: &redis::Msg) {
        let Ok(payload) = message.get_payload::<String>() else {
            return;
        };
        let Ok(session_id) = payload.parse::<Uuid>() else {
            return;
        };
        if let Some(feed) = self.feed(session_id) {
            self.wake(&feed);
        }
    }

    fn wake_all(self: &Arc<Self>) {
        let feeds: Vec<Arc<Feed>> = self
            .feeds
            .lock()
            .expect("feeds lock")
            .values()
            .cloned()
            .collect();
        for feed in &feeds {
            self.wake(feed);
        }
    }

    /// Every [`POLL`]: drops feeds nobody watches and reads those whose log
    /// grew without a notice.
    async fn poll(self: Arc<Self>) {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.closing.cancelled() => return,
            }
            let watched: Vec<Uuid> = {
                let mut feeds = self.feeds.lock().expect("feeds lock");
                feeds.retain(|_, feed| feed.sender.receiver_count() > 0);
                feeds.keys().copied().collect()
            };
            if watched.is_empty() {
                continue;
            }
            let seqs = match estrade_db::events::last_seqs(&self.db, &watched).await {
                Ok(seqs) => seqs,
                Err(error) => {
                    tracing::warn!(%error, "polling session events failed");
                    continue;
                }
            };
            for (session_id, seq) in seqs {
                let Some(feed) = self.feed(session_id) else {
                    continue;
                };
                let behind = feed
                    .last
                    .try_lock()
                    .map(|last| last.is_some_and(|l| l < seq))
                    .unwrap_or(false);
                if behind {
                    self.wake(&feed);
                }
            }
        }
    }
}
