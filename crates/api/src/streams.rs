//! How many live-update streams this process holds open: at most
//! `ESTRADE_SSE_STREAMS_PER_PARTICIPANT` per participant and
//! `ESTRADE_SSE_STREAMS_MAX` in all. A stream holds a [`Slot`] for as long
//! as it is open; dropping the slot gives it back and lowers the
//! `events_streams_open` gauge.
//!
//! The count is per process, as the streams are: with several replicas a
//! participant may hold the per-participant number on each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use crate::Error;

/// When a refused stream should try again: a closed tab's stream is
/// noticed at the next keep-alive comment, 15 s at most.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The open streams of this process.
#[derive(Debug)]
pub struct Streams {
    per_participant: usize,
    max: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_participant: HashMap<Uuid, usize>,
}

/// One open stream's place; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    streams: Arc<Streams>,
    participant: Option<Uuid>,
}

impl Streams {
    /// Room for `max` streams, `per_participant` of them for any one
    /// participant.
    pub fn new(per_participant: usize, max: usize) -> Self {
        Self {
            per_participant,
            max,
            open: Mutex::new(Open::default()),
        }
    }

    /// A place for one more stream, watched by `participant` (none for
    /// staff, who count only towards the total), or 429
    /// `too_many_streams` / 503 `streams_full`.
    pub fn admit(self: &Arc<Self>, participant: Option<Uuid>) -> Result<Slot, Error> {
        let mut open = self.open.lock().expect("stream counts");
        if open.total >= self.max {
            ::metrics::counter!("events_streams_refused_total", "reason" => "process").increment(1);
            return Err(Error::Saturated {
                code: "streams_full",
                message: "This server follows as many live streams as it may; try again shortly."
                    .to_owned(),
                retry_after: RETRY_AFTER,
            });
        }
        if let Some(id) = participant {
            let held = open.by_participant.entry(id).or_default();
            if *held >= self.per_participant {
                ::metrics::counter!("events_streams_refused_total", "reason" => "participant")
                    .increment(1);
                return Err(Error::TooMany {
                    code: "too_many_streams",
                    message: format!(
                        "This participant already follows the session {} times at once; close one first.",
                        self.per_participant
                    ),
                    retry_after: RETRY_AFTER,
                });
            }
            *held += 1;
        }
        open.total += 1;
        ::metrics::gauge!("events_streams_open").increment(1.0);
        Ok(Slot {
            streams: Arc::clone(self),
            participant,
        })
    }

    /// Streams open now, in all.
    pub fn open(&self) -> usize {
        self.open.lock().expect("stream counts").total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().expect("stream counts");
        open.total -= 1;
        if let Some(id) = self.participant
            && let Some(held) = open.by_participant.get_mut(&id)
        {
            *held -= 1;
            if *held == 0 {
                open.by_participant.remove(&id);
            }
        }
        ::metrics::gauge!("events_streams_open").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn a_participant_gets_its_number_of_streams_and_one_more_is_refused_until_one_closes() {
        let streams = Arc::new(Streams::new(2, 100));
        let me = Uuid::new_v4();
        let first = streams.admit(Some(me)).unwrap();
        let _second = streams.admit(Some(me)).unwrap();
        let refused = streams.admit(Some(me)).unwrap_err();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        // Another participant is not affected.
        let _other = streams.admit(Some(Uuid::new_v4())).unwrap();
        drop(first);
        let _again = streams.admit(Some(me)).unwrap();
        assert_eq!(streams.open(), 3);
    }

    #[test]
    fn the_process_total_counts_staff_and_participants_and_refuses_beyond_it() {
        let streams = Arc::new(Streams::new(5, 2));
        let staff = streams.admit(None).unwrap();
        let _learner = streams.admit(Some(Uuid::new_v4())).unwrap();
        let refused = streams.admit(None).unwrap_err();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        drop(staff);
        assert_eq!(streams.open(), 1);
        assert!(streams.admit(None).is_ok());
    }
}
