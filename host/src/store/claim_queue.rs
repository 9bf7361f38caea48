//! Group commit for coupon claims.
//!
//! A claim storm (thousands of viewers tapping "claim" in the same second) would otherwise
//! queue one transaction per claim on the store's single writer, each paying its own
//! `BEGIN`/`COMMIT`, from as many blocking threads fighting for one lock. Here one thread
//! takes every claim waiting, up to [`MAX_BATCH`], hands them to
//! [`CouponStore::claim_coupons`] as one step, and answers each once it is committed. A
//! lone claim is a batch of one, so a quiet room waits for nothing; under a storm the
//! batches grow by themselves while the previous one commits.
//!
//! [`CouponStore::claim_coupons`]: super::CouponStore::claim_coupons

use super::{Claim, ClaimError, ClaimRequest, Store, StoreError};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, OnceLock};
use tokio::sync::oneshot;

/// Most claims committed together: bounds the time the store is held by one batch.
pub const MAX_BATCH: usize = 1024;

type Reply = oneshot::Sender<Result<Claim, ClaimError>>;

/// The claim writer of one host: cheap to share, its thread starts with the first claim
/// and ends when the queue is dropped.
pub struct ClaimQueue {
    store: Arc<dyn Store>,
    jobs: OnceLock<Sender<(ClaimRequest, Reply)>>,
}

impl std::fmt::Debug for ClaimQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimQueue")
            .field("started", &self.jobs.get().is_some())
            .finish()
    }
}

impl ClaimQueue {
    pub fn new(store: Arc<dyn Store>) -> Self {
        ClaimQueue {
            store,
            jobs: OnceLock::new(),
        }
    }

    /// Decide one claim (see [`CouponStore::claim_coupons`]) with whatever else is waiting.
    ///
    /// [`CouponStore::claim_coupons`]: super::CouponStore::claim_coupons
    pub async fn claim(&self, request: ClaimRequest) -> Result<Claim, ClaimError> {
        let (reply, answer) = oneshot::channel();
        self.sender()?
            .send((request, reply))
            .map_err(|_| gone("the claim writer has stopped"))?;
        answer
            .await
            .map_err(|_| gone("the claim writer dropped a claim"))?
    }

    fn sender(&self) -> Result<&Sender<(ClaimRequest, Reply)>, ClaimError> {
        if let Some(jobs) = self.jobs.get() {
            return Ok(jobs);
        }
        let (jobs, queue) = std::sync::mpsc::channel();
        let store = self.store.clone();
        std::thread::Builder::new()
            .name("livecart-claims".into())
            .spawn(move || run(&*store, &queue))
            .map_err(|e| gone(&format!("cannot start the claim writer: {e}")))?;
        // Two first claims at once may both start a writer; the one not kept sees its
        // channel close and ends.
        Ok(self.jobs.get_or_init(|| jobs))
    }
}

fn gone(why: &str) -> ClaimError {
    ClaimError::Store(StoreError::Unavailable(why.to_owned()))
}

/// The writer: a batch of everything waiting, one step, every answer; until the queue
/// closes.
fn run(store: &dyn Store, queue: &Receiver<(ClaimRequest, Reply)>) {
    let mut requests = Vec::new();
    let mut replies = Vec::new();
    while let Ok((request, reply)) = queue.recv() {
        requests.push(request);
        replies.push(reply);
        while requests.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok((request, reply)) => {
                    requests.push(request);
                    replies.push(reply);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let results = store.claim_coupons(&requests);
        // A claimer that went away meanwhile has its answer dropped; the claim stands, and
        // its idempotency key returns it on a retry.
        for (reply, result) in replies.drain(..).zip(results) {
            let _ = reply.send(result);
        }
        requests.clear();
    }
}
