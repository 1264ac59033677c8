//! `GET /v1/sessions/{id}/events`: the session's live updates as
//! server-sent events (`floor`, `session`, `presence`, `turn_ending`,
//! `question`, `poll`).
//!
//! A stream opens with the state now (a `session` and a `floor` event), or,
//! with `Last-Event-ID`, with exactly the events missed since. Then it
//! follows the session's event log through the process's feed
//! (`crate::events`): each event once, in log order, ids increasing. It ends
//! when the session ends, when the watching participant is kicked, when the
//! participant's token expires (the client reconnects with a renewed one),
//! or when the process shuts down; a comment every 15 s keeps proxies from
//! closing it while the floor is quiet. A participant holds a few streams
//! at most, and the process a configured number (`crate::streams`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use estrade_db::events::StoredEvent;
use futures::Stream;
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::events::Feed;

/// A missed stretch longer than this is not replayed: the stream starts
/// from the state now instead.
const MAX_REPLAY: i64 = 1000;

/// Events read from the log at once to fill a gap.
const GAP_BATCH: i64 = 256;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/sessions/{id}/events", get(events))
}

/// Live updates of a session (server-sent events). Events: `session` (the
/// session's status), `floor` (the same object as `GET …/floor`, with the
/// participant's `position`), `presence` (`{participant_id, kind, name,
/// presence: present|left|kicked}`), `turn_ending` (`{participant_id,
/// expires_at, seconds_left}`, 10 s before a limited turn ends), `question`
/// (the same object as `GET …/questions` gives, each time one is asked,
/// answered, dismissed, withdrawn or closed; to staff and to its author
/// only: a participant's stream skips others' ids), `poll` (the poll object
/// of `GET …/polls` with `change: opened|answered|closed`; for a
/// participant without the counts until they are shown, and without the
/// `answered` ones). Each event
/// id is its place in the session's log: reconnect with `Last-Event-ID` to
/// receive exactly what was missed.
#[utoipa::path(get, path = "/v1/sessions/{id}/events", tag = "floor",
    params(("id" = Uuid, Path),
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0, nullable = false, description = "The last event id received")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`text/event-stream`", content_type = "text/event-stream"),
        (status = 410, description = "`session_ended`: a participant token of a session that has ended", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "`invalid_last_event_id`", body = ErrorBody),
        (status = 429, description = "`too_many_streams`: this participant already holds `ESTRADE_SSE_STREAMS_PER_PARTICIPANT` streams; `Retry-After`", body = ErrorBody),
        (status = 503, description = "`streams_full`: this process holds `ESTRADE_SSE_STREAMS_MAX` streams; `Retry-After`", body = ErrorBody),
    ))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let resume = last_event_id(&headers)?;
    let session = estrade_db::sessions::get(&state.deps.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    caller.can_see(session.id, session.teacher_id)?;
    let watch = Watch::open(&state, id, &caller, resume).await?;
    Ok(stream(watch))
}

impl Watch {
    /// A stream of session `id`'s events for `caller`, from after `resume`
    /// (or its opening events), within the caps on open streams; a
    /// participant's ends with its token.
    async fn open(
        state: &AppState,
        id: Uuid,
        caller: &Caller,
        resume: Option<i64>,
    ) -> Result<Self, Error> {
        let (viewer, expires_at) = match caller {
            Caller::Participant(p) => (Some(p.participant_id), Some(p.expires_at)),
            Caller::Account(_) => (None, None),
        };
        let slot = state.streams.admit(viewer)?;
        // Subscribe first, then read where to start: whatever commits after
        // the read reaches the feed.
        let (feed, receiver) = state.events.subscribe(id);
        let (opening, sent) = opening(&state.deps.db, id, resume).await?;
        state.events.started_at(&feed, sent).await;
        Ok(Self {
            _slot: slot,
            until: expires_at.map(instant_of),
            db: state.deps.db.clone(),
            session_id: id,
            viewer,
            feed,
            receiver,
            sent,
            pending: opening.into(),
            done: false,
            closing: state.events.closing(),
        })
    }
}

/// `watch` as server-sent events, kept alive, past caches and buffering
/// proxies.
fn stream(watch: Watch) -> Response {
    let sse = Sse::new(watch.into_stream())
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    let mut response = sse.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Tells buffering proxies (nginx-style) to pass events through at once.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The moment Unix time `at` comes, on the runtime's clock.
fn instant_of(at: u64) -> tokio::time::Instant {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(at);
    let left = at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + left
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<i64>, Error> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .map(Some)
        .ok_or_else(|| {
            Error::invalid(
                "invalid_last_event_id",
                "Last-Event-ID must be an event id this stream sent (a whole number).",
            )
        })
}

/// What a stream starts with, and the last sequence number it covers:
/// the events missed since `resume` when the log still has them all, or
/// else the state now, read in one snapshot.
async fn opening(
    db: &PgPool,
    session_id: Uuid,
    resume: Option<i64>,
) -> Result<(Vec<Arc<StoredEvent>>, i64), Error> {
    let mut tx = db.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    let session = estrade_db::sessions::get(&mut *tx, session_id)
        .await?
        .ok_or(Error::NotFound)?;
    let now = session.event_seq;
    if let Some(seen) = resume.filter(|seen| *seen <= now)
        && now - seen <= MAX_REPLAY
    {
        let missed = estrade_db::events::after(&mut *tx, session_id, seen, MAX_REPLAY).await?;
        tx.rollback().await?;
        return Ok((missed.into_iter().map(Arc::new).collect(), now));
    }
    let floor = estrade_db::floor::load(&mut tx, &session).await?;
    let view = estrade_db::floor::view(&mut tx, session.id, &floor, session.floor_version).await?;
    tx.rollback().await?;
    let snapshot = |event: &str, data: serde_json::Value| {
        Arc::new(StoredEvent {
            session_id,
            seq: now,
            event: event.to_owned(),
            data,
        })
    };
    let floor = serde_json::to_value(&view).map_err(|e| Error::Internal(e.into()))?;
    Ok((
        vec![
            snapshot("session", session.event()),
            snapshot("floor", floor),
        ],
        now,
    ))
}

/// One open stream.
struct Watch {
    /// Its place among the process's streams.
    _slot: crate::streams::Slot,
    /// When the watching participant's token expires.
    until: Option<tokio::time::Instant>,
    db: PgPool,
    session_id: Uuid,
    /// The participant watching (none for staff).
    viewer: Option<Uuid>,
    /// Held so the feed lives while the stream does.
    #[allow(dead_code)]
    feed: Arc<Feed>,
    receiver: broadcast::Receiver<Arc<StoredEvent>>,
    /// The last sequence number sent (or covered by the opening).
    sent: i64,
    /// Events to send before listening again, in order.
    pending: VecDeque<Arc<StoredEvent>>,
    /// The last event was the end of this stream.
    done: bool,
    closing: CancellationToken,
}

impl Watch {
    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        futures::stream::unfold(self, |mut watch| async move {
            let event = watch.next().await?;
            Some((Ok(event), watch))
        })
    }

    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.sent = self.sent.max(event.seq);
                self.done = self.done || self.ends_stream(&event);
                if !self.shows(&event) {
                    continue;
                }
                return Some(self.render(&event));
            }
            if self.done {
                return None;
            }
            let until = self.until;
            let expiry = async move {
                match until {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = self.receiver.recv() => match received {
                    Ok(event) if event.seq <= self.sent => {}
                    Ok(event) if event.seq == self.sent + 1 => self.pending.push_back(event),
                    // A gap (this stream joined mid-read) or a lag (a slow
                    // client): read the log itself.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        match estrade_db::events::after(&self.db, self.session_id, self.sent, GAP_BATCH).await {
                            Ok(missed) => self.pending.extend(missed.into_iter().map(Arc::new)),
                            // The client reconnects with Last-Event-ID.
                            Err(error) => {
                                tracing::warn!(%error, "reading missed events failed; closing the stream");
                                return None;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                () = self.closing.cancelled() => return None,
                // The token is over: the client renews it and reconnects.
                () = expiry => return None,
            }
        }
    }

    /// The session ended, or the watching participant was kicked.
    fn ends_stream(&self, event: &StoredEvent) -> bool {
        match event.event.as_str() {
            "session" => event.data["status"] == "ended",
            "presence" => {
                event.data["presence"] == "kicked"
                    && self
                        .viewer
                        .is_some_and(|me| event.data["participant_id"] == me.to_string())
            }
            _ => false,
        }
    }

    /// Whether this stream shows `event`: a `question` (its text is the
    /// author's) only to staff and to its author; a `poll` whose counts
    /// changed (an answer) only to staff; an observer's `presence` only to
    /// staff (IT watches unseen); everything else to all.
    fn shows(&self, event: &StoredEvent) -> bool {
        match (event.event.as_str(), self.viewer) {
            ("question", Some(me)) => event.data["participant_id"] == me.to_string(),
            ("poll", Some(_)) => event.data["change"] != "answered",
            ("presence", Some(_)) => event.data["kind"] != "observer",
            _ => true,
        }
    }

    fn render(&self, event: &StoredEvent) -> Event {
        let sse = Event::default()
            .id(event.seq.to_string())
            .event(event.event.as_str());
        match (event.event.as_str(), self.viewer) {
            ("floor", Some(me)) => {
                let mut data = event.data.clone();
                let position = data["queue"].as_array().and_then(|queue| {
                    queue
                        .iter()
                        .find(|hand| hand["participant_id"] == me.to_string())
                        .map(|hand| hand["position"].clone())
                });
                data["position"] = position.unwrap_or(serde_json::Value::Null);
                sse.data(data.to_string())
            }
            // Counts reach participants only once the teacher shows them.
            ("poll", Some(_)) if event.data["results_shown"] != true => {
                let mut data = event.data.clone();
                if let Some(poll) = data.as_object_mut() {
                    poll.remove("answers");
                    poll.remove("results");
                }
                sse.data(data.to_string())
            }
            _ => sse.data(event.data.to_string()),
        }
    }
}
