//! Estrade's use cases: what the API, the worker, the reconciler and the
//! CLI do to the state, each in one place. A use case owns its
//! transaction, its audit entry, its notice to the live streams and what
//! LiveKit must be told. The API and the worker depend on this crate and
//! never on each other; the `estrade` binary wires them.
//!
//! - [`sessions`]: created, changed, started, ended; the teacher's token.
//! - [`participants`]: joining (in batches: [`batch`]), staying in, being
//!   kicked.
//! - [`accounts`] and [`console`]: accounts, keys, console sign-ins.
//! - [`floor`]: the floor ceremony (lock, check, decide, commit, notify,
//!   enforce) and the floor's timers.
//! - [`questions`]: typed questions in the floor's line.
//! - [`polls`]: quick polls, answered anonymously.
//! - [`webhooks`]: accepting, replaying and applying LiveKit's events.
//! - [`outbound`]: webhooks to the LMS: endpoints, the delivery log, and
//!   the worker's sending.
//! - [`reconcile`]: comparing LiveKit with PostgreSQL and repairing.
//! - [`retention`]: erasing learner data past its retention period.
//! - [`enforce`]: making LiveKit match a floor decision.
//! - [`events`]: telling every API replica a session's event log grew.
//! - [`queue`]: the webhook queue on Redis (pushed here, consumed by the
//!   worker).
//! - [`Account`]: who acts through an account, and what it may manage.
//!
//! The audit rule: every use case that changes state records exactly one
//! entry (`estrade_db::audit::Entry::new`) in its own transaction;
//! `tests/tests/audit_rule.rs` runs each once and counts.

pub mod account;
pub mod accounts;
pub mod batch;
pub mod console;
pub mod enforce;
pub mod events;
pub mod floor;
pub mod outbound;
pub mod participants;
pub mod polls;
pub mod privacy;
pub mod questions;
pub mod queue;
pub mod reconcile;
pub mod report;
pub mod retention;
pub mod sessions;
pub mod webhooks;

use std::time::Duration;

use estrade_core::domain::Graces;
use estrade_livekit::Gateway;
use sqlx::PgPool;
use uuid::Uuid;

pub use account::Account;
pub use queue::WebhookQueue;

/// Why a use case did not happen. Each caller says it its own way (the API
/// as a status and a code).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such session or participant (or not one the caller may see).
    #[error("not found")]
    NotFound,
    /// The session is not live: its floor is closed to every command.
    #[error("the floor is only open while the session is live")]
    NotLive,
    /// No session uses this code; `ended` when one that has ended did.
    #[error("no session uses this code")]
    NoSuchCode {
        /// Whether the code belonged to a session that has ended.
        ended: bool,
    },
    /// The session has not started yet.
    #[error("the session has not started yet")]
    NotStarted,
    /// The teacher closed the session to new arrivals.
    #[error("the session is closed to new arrivals")]
    Locked,
    /// Every seat is taken.
    #[error("the session is full")]
    Full,
    /// The participant was removed from the session.
    #[error("the participant was removed from the session")]
    Kicked,
    /// The session has not ended: its personal data is still in use.
    #[error("the session has not ended")]
    SessionNotEnded,
    /// The session has ended: nothing about it changes any more.
    #[error("the session has ended")]
    SessionEnded,
    /// Only the session's own teacher may do this (an admin may not).
    #[error("only the session's own teacher may do this")]
    OwnerOnly,
    /// This kind of account may not do this.
    #[error("not allowed for this account")]
    Forbidden,
    /// An admin cannot disable its own account.
    #[error("an admin cannot disable its own account")]
    CannotDisableSelf,
    /// The last enabled admin account stays enabled.
    #[error("this is the last enabled admin account")]
    LastAdmin,
    /// The account is disabled.
    #[error("the account is disabled")]
    AccountDisabled,
    /// The webhook event was applied already; it is not applied twice.
    #[error("the event was applied already")]
    AlreadyProcessed,
    /// Only learners and classrooms take the floor.
    #[error("only learners and classrooms take the floor")]
    NotALearner,
    /// The participant has left the session.
    #[error("the participant has left the session")]
    ParticipantLeft,
    /// A typed question's text is refused.
    #[error(transparent)]
    InvalidQuestion(#[from] estrade_core::question::TextError),
    /// A new poll is refused.
    #[error(transparent)]
    InvalidPoll(#[from] estrade_core::poll::PollError),
    /// A webhook endpoint is refused.
    #[error(transparent)]
    InvalidEndpoint(#[from] estrade_core::outbound::EndpointError),
    /// A poll is open in the session already.
    #[error("a poll is open already")]
    PollOpen,
    /// The poll is closed: it takes no answer.
    #[error("the poll is closed")]
    PollClosed,
    /// The answer names no choice of the poll.
    #[error("no such choice")]
    InvalidChoice,
    /// The floor's state machine refused the command.
    #[error(transparent)]
    Refused(#[from] estrade_core::floor::Refusal),
    /// A session's teacher cannot be removed from it.
    #[error("the session's teacher cannot be removed")]
    CannotKickTeacher,
    /// LiveKit could not be told; what PostgreSQL holds stands.
    #[error(transparent)]
    LiveKit(#[from] estrade_livekit::Error),
    /// PostgreSQL failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// PostgreSQL failed the batch this request was in (group commit):
    /// nothing of the batch was written.
    #[error("the batch failed: {0}")]
    BatchFailed(std::sync::Arc<sqlx::Error>),
    /// The teacher already runs as many live sessions as one account may.
    #[error("this teacher already runs {limit} live sessions")]
    TooManyLiveSessions {
        /// The configured limit.
        limit: i64,
    },
    /// The deployment is at its configured capacity.
    #[error("at capacity: {0:?}")]
    AtCapacity(CapacityLimit),
    /// More joins on this code than its seats allow within a minute.
    #[error("too many joins on this code; retry after {retry_after:?}")]
    TooManyJoins {
        /// When the code's minute ends.
        retry_after: Duration,
    },
}

/// Which of the deployment's limits was reached (`estrade_core::domain::Capacity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacityLimit {
    /// Live sessions in all.
    LiveSessions(i64),
    /// Seats reserved by live sessions (their `max_learners`) in all.
    Seats(i64),
}

/// Who reads a session's questions or polls.
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    /// The teacher or an admin: everything.
    Staff(&'a Account),
    /// A participant of the session: its own questions; polls as learners
    /// see them.
    Participant(Uuid),
}

/// A request whose batch did not answer (its task panicked or shut down):
/// its outcome is unknown to its caller.
impl From<batch::Unanswered> for Error {
    fn from(_: batch::Unanswered) -> Self {
        Self::Database(sqlx::Error::WorkerCrashed)
    }
}

/// The same failure for each of the `n` requests of a batch that failed as
/// a whole (nothing of it was written).
pub(crate) fn batch_failed<T>(n: usize, error: sqlx::Error) -> Vec<Result<T, Error>> {
    let error = std::sync::Arc::new(error);
    (0..n)
        .map(|_| Err(Error::BatchFailed(error.clone())))
        .collect()
}

/// What every use case may reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Deps {
    /// PostgreSQL, the truth.
    pub db: PgPool,
    /// LiveKit's server API.
    pub livekit: Gateway,
    /// Tells every replica a session's event log grew.
    pub notifier: events::Notifier,
    /// Where stored webhooks are queued for the worker.
    pub queue: WebhookQueue,
    /// How long a participant LiveKit does not have keeps its seat.
    pub graces: Graces,
    /// What the deployment admits at once.
    pub capacity: estrade_core::domain::Capacity,
    /// How webhooks to the LMS are delivered (the API reads its allowed
    /// ranges; the worker sends).
    pub outbound: std::sync::Arc<estrade_core::config::Outbound>,
    /// Admits joins in batches (group commit).
    admissions: participants::Admissions,
    /// Stores webhooks in batches (group commit).
    inbox: batch::Batcher<estrade_core::webhook::Envelope, webhooks::Stored>,
}

impl Deps {
    /// The services of `config`, over `db` (tests pass their own pool).
    pub fn new(config: &estrade_core::config::Config, db: PgPool) -> redis::RedisResult<Self> {
        use secrecy::ExposeSecret as _;
        let redis = redis_connection(config.redis_url.expose_secret())?;
        Ok(Self::with_redis(config, db, redis))
    }

    /// The services of `config` over `db` and an existing Redis connection
    /// (the API shares its own, so that a connection its readiness probe
    /// found alive is the one the queue pushes on).
    pub fn with_redis(
        config: &estrade_core::config::Config,
        db: PgPool,
        redis: redis::aio::ConnectionManager,
    ) -> Self {
        let queue = WebhookQueue::new(redis.clone(), &config.redis_namespace);
        Self {
            admissions: participants::Admissions::new(db.clone(), config.graces),
            inbox: webhooks::inbox(db.clone(), queue.clone()),
            db,
            livekit: Gateway::new(&config.livekit),
            notifier: events::Notifier::new(redis, &config.redis_namespace),
            queue,
            graces: config.graces,
            capacity: config.capacity,
            outbound: std::sync::Arc::new(config.outbound.clone()),
        }
    }
}

/// Connects to Redis lazily: a process starts (and the API reports itself
/// not ready) while Redis is down, and reconnects by itself when it is back.
pub fn redis_connection(url: &str) -> redis::RedisResult<redis::aio::ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2);
    redis::aio::ConnectionManager::new_lazy_with_config(redis::Client::open(url)?, config)
}
