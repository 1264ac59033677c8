//! Group commit: requests that arrive together share one transaction and
//! one WAL flush, and each is answered after that commit.
//!
//! A [`Batcher`] owns one task. It takes the first request waiting, then
//! every other one already queued (up to `max` in all), runs them as one
//! batch, and answers each from the batch's results. There is no timer: a
//! lone request runs at once, and under load the requests that arrive
//! while a batch commits form the next one. At most `in_flight` batches
//! run at once (one may commit while the next is being written).

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use tokio::sync::{Semaphore, mpsc, oneshot};

type Process<Req, Resp> = Arc<dyn Fn(Vec<Req>) -> BoxFuture<'static, Vec<Resp>> + Send + Sync>;
type Item<Req, Resp> = (Req, oneshot::Sender<Resp>);

/// Runs requests in batches through `process`, which answers a batch with
/// one result per request, in the same order. Cheap to clone.
pub struct Batcher<Req, Resp> {
    process: Process<Req, Resp>,
    sender: Arc<OnceLock<mpsc::UnboundedSender<Item<Req, Resp>>>>,
    max: usize,
    in_flight: usize,
}

impl<Req, Resp> Clone for Batcher<Req, Resp> {
    fn clone(&self) -> Self {
        Self {
            process: self.process.clone(),
            sender: self.sender.clone(),
            max: self.max,
            in_flight: self.in_flight,
        }
    }
}

impl<Req, Resp> std::fmt::Debug for Batcher<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("max", &self.max)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

/// The batch's task is gone (it panicked, or its runtime shut down): the
/// request's outcome is unknown to the caller.
#[derive(Debug, thiserror::Error)]
#[error("the batch this request was in did not answer")]
pub struct Unanswered;

impl<Req: Send + 'static, Resp: Send + 'static> Batcher<Req, Resp> {
    /// Batches of at most `max` requests, at most `in_flight` at once. The
    /// task starts with the first request (inside the caller's runtime).
    pub fn new<F>(max: usize, in_flight: usize, process: F) -> Self
    where
        F: Fn(Vec<Req>) -> BoxFuture<'static, Vec<Resp>> + Send + Sync + 'static,
    {
        Self {
            process: Arc::new(process),
            sender: Arc::default(),
            max: max.max(1),
            in_flight: in_flight.max(1),
        }
    }

    /// Runs `request` in the next batch and returns its result.
    pub async fn run(&self, request: Req) -> Result<Resp, Unanswered> {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(collect(
                receiver,
                self.process.clone(),
                self.max,
                self.in_flight,
            ));
            sender
        });
        let (reply, answer) = oneshot::channel();
        sender.send((request, reply)).map_err(|_| Unanswered)?;
        answer.await.map_err(|_| Unanswered)
    }
}

/// Batchers side by side, a request going to the one its key names: the
/// requests of one key are batched together, in arrival order, and batches
/// in different lanes never share a key (so never wait on each other's
/// row locks when the key names what they lock). Cheap to clone.
pub struct Lanes<Req, Resp> {
    lanes: Vec<Batcher<Req, Resp>>,
}

impl<Req, Resp> Clone for Lanes<Req, Resp> {
    fn clone(&self) -> Self {
        Self {
            lanes: self.lanes.clone(),
        }
    }
}

impl<Req, Resp> std::fmt::Debug for Lanes<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes")
            .field("lanes", &self.lanes.len())
            .finish_non_exhaustive()
    }
}

impl<Req: Send + 'static, Resp: Send + 'static> Lanes<Req, Resp> {
    /// `count` lanes of batches of at most `max`, one batch in flight each.
    pub fn new<F>(count: usize, max: usize, process: F) -> Self
    where
        F: Fn(Vec<Req>) -> BoxFuture<'static, Vec<Resp>> + Clone + Send + Sync + 'static,
    {
        Self {
            lanes: (0..count.max(1))
                .map(|_| Batcher::new(max, 1, process.clone()))
                .collect(),
        }
    }

    /// Runs `request` in the next batch of `key`'s lane.
    pub async fn run(&self, key: &[u8], request: Req) -> Result<Resp, Unanswered> {
        let hash = key.iter().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(*b))
        });
        self.lanes[hash % self.lanes.len()].run(request).await
    }
}

/// The batcher's task: ends when every sender is gone.
async fn collect<Req: Send + 'static, Resp: Send + 'static>(
    mut receiver: mpsc::UnboundedReceiver<Item<Req, Resp>>,
    process: Process<Req, Resp>,
    max: usize,
    in_flight: usize,
) {
    let slots = Arc::new(Semaphore::new(in_flight));
    while let Some(first) = receiver.recv().await {
        // Wait for a free slot before gathering: what arrives meanwhile
        // joins this batch.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max {
            match receiver.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        metrics::histogram!("batch_size").record(batch.len() as f64);
        let process = process.clone();
        tokio::spawn(async move {
            let (requests, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let results = process(requests).await;
            debug_assert_eq!(results.len(), replies.len(), "one result per request");
            for (reply, result) in replies.into_iter().zip(results) {
                // The caller may have gone (its client hung up); the batch
                // stands.
                let _ = reply.send(result);
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt as _;
    use std::sync::Mutex;

    #[tokio::test]
    async fn requests_queued_while_a_batch_runs_form_the_next_batch_and_each_gets_its_own_answer() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(tokio::sync::Notify::new());
        let batcher = {
            let (sizes, gate) = (sizes.clone(), gate.clone());
            Batcher::new(8, 1, move |batch: Vec<u32>| {
                let (sizes, gate) = (sizes.clone(), gate.clone());
                async move {
                    sizes.lock().unwrap().push(batch.len());
                    if batch == [0] {
                        // The first batch holds the only slot until told.
                        gate.notified().await;
                    }
                    batch.into_iter().map(|n| n * 10).collect()
                }
                .boxed()
            })
        };
        let first = tokio::spawn({
            let b = batcher.clone();
            async move { b.run(0).await }
        });
        while sizes.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let rest: Vec<_> = (1..=10)
            .map(|n| {
                let b = batcher.clone();
                tokio::spawn(async move { b.run(n).await })
            })
            .collect();
        // Let all ten reach the queue before the slot frees.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        assert_eq!(first.await.unwrap().unwrap(), 0);
        for (n, handle) in (1..=10).zip(rest) {
            assert_eq!(handle.await.unwrap().unwrap(), n * 10);
        }
        assert_eq!(*sizes.lock().unwrap(), vec![1, 8, 2]);
    }

    #[tokio::test]
    async fn a_key_waits_only_for_its_own_lane_and_its_requests_stay_in_arrival_order() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(tokio::sync::Notify::new());
        let lanes = {
            let (batches, gate) = (batches.clone(), gate.clone());
            Lanes::new(4, 8, move |batch: Vec<u32>| {
                let (batches, gate) = (batches.clone(), gate.clone());
                async move {
                    batches.lock().unwrap().push(batch.clone());
                    if batch == [0] {
                        gate.notified().await;
                    }
                    batch
                }
                .boxed()
            })
        };
        let first = tokio::spawn({
            let l = lanes.clone();
            async move { l.run(b"room-a", 0).await }
        });
        while batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let queued: Vec<_> = (1..=4)
            .map(|n| {
                let l = lanes.clone();
                tokio::spawn(async move { l.run(b"room-a", n).await })
            })
            .collect();
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        // "room-b" hashes to another lane: it is not held up by room-a's.
        assert_eq!(lanes.run(b"room-b", 9).await.unwrap(), 9);
        gate.notify_one();
        assert_eq!(first.await.unwrap().unwrap(), 0);
        for (n, handle) in (1..=4).zip(queued) {
            assert_eq!(handle.await.unwrap().unwrap(), n);
        }
        assert_eq!(
            *batches.lock().unwrap(),
            vec![vec![0], vec![9], vec![1, 2, 3, 4]]
        );
    }

    #[tokio::test]
    async fn a_batch_that_panics_leaves_its_requests_unanswered_and_the_next_batch_runs() {
        let batcher = Batcher::new(4, 1, |batch: Vec<u32>| {
            async move {
                assert!(!batch.contains(&13), "unlucky");
                batch
            }
            .boxed()
        });
        assert!(batcher.run(13).await.is_err());
        assert_eq!(batcher.run(7).await.unwrap(), 7);
    }
}
