//! Group commit for coupon claims and flash-sale buys.
//!
//! A claim or buy storm (thousands of viewers tapping "claim" or "buy" in the same second)
//! would otherwise queue one transaction per request on the store's single writer, each
//! paying its own `BEGIN`/`COMMIT`, from as many blocking threads fighting for one lock.
//! Here one thread takes every request waiting, up to [`MAX_BATCH`], hands the claims to
//! [`CouponStore::claim_coupons`] and the buys to [`SaleStore::buy_flash_sales`] (one step
//! each), and answers each request once its step is committed. A lone request is a batch
//! of one, so a quiet room waits for nothing; under a storm the batches grow by themselves
//! while the previous one commits.
//!
//! [`CouponStore::claim_coupons`]: super::CouponStore::claim_coupons
//! [`SaleStore::buy_flash_sales`]: super::SaleStore::buy_flash_sales

use super::{BuyError, BuyRequest, Claim, ClaimError, ClaimRequest, Order, Store, StoreError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, OnceLock};
use tokio::sync::oneshot;

/// Most requests taken together: bounds the time the store is held by one batch.
pub const MAX_BATCH: usize = 1024;

enum Job {
    Claim(ClaimRequest, oneshot::Sender<Result<Claim, ClaimError>>),
    Buy(BuyRequest, oneshot::Sender<Result<Order, BuyError>>),
}

/// The claim and buy writer of one host: its thread starts with the first request and
/// ends when the queue is dropped.
pub struct CommitQueue {
    store: Arc<dyn Store>,
    jobs: OnceLock<Sender<Job>>,
    /// Requests submitted and not answered yet.
    pending: Arc<AtomicUsize>,
}

impl std::fmt::Debug for CommitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitQueue")
            .field("started", &self.jobs.get().is_some())
            .field("pending", &self.pending())
            .finish()
    }
}

impl CommitQueue {
    pub fn new(store: Arc<dyn Store>) -> Self {
        CommitQueue {
            store,
            jobs: OnceLock::new(),
            pending: Arc::default(),
        }
    }

    /// Claims and buys submitted and not answered yet (a drain waits for 0).
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Decide one claim (see [`CouponStore::claim_coupons`]) with whatever else is waiting.
    ///
    /// [`CouponStore::claim_coupons`]: super::CouponStore::claim_coupons
    pub async fn claim(&self, request: ClaimRequest) -> Result<Claim, ClaimError> {
        let started = std::time::Instant::now();
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Claim(request, reply))?;
        let answer = answer.await;
        crate::metrics::CLAIM_SECONDS.observe(started.elapsed());
        answer.map_err(|_| gone("the commit queue dropped a claim"))?
    }

    /// Decide one flash-sale buy (see [`SaleStore::buy_flash_sales`]) with whatever else
    /// is waiting.
    ///
    /// [`SaleStore::buy_flash_sales`]: super::SaleStore::buy_flash_sales
    pub async fn buy(&self, request: BuyRequest) -> Result<Order, BuyError> {
        let started = std::time::Instant::now();
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Buy(request, reply))?;
        let answer = answer.await;
        crate::metrics::BUY_SECONDS.observe(started.elapsed());
        answer.map_err(|_| gone("the commit queue dropped a buy"))?
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        let jobs = match self.jobs.get() {
            Some(jobs) => jobs,
            None => {
                let (jobs, queue) = std::sync::mpsc::channel();
                let (store, pending) = (self.store.clone(), self.pending.clone());
                std::thread::Builder::new()
                    .name("livecart-commits".into())
                    .spawn(move || run(&*store, &queue, &pending))
                    .map_err(|e| gone(&format!("cannot start the commit queue: {e}")))?;
                // Two first requests at once may both start a writer; the one not kept
                // sees its channel close and ends.
                self.jobs.get_or_init(|| jobs)
            }
        };
        self.pending.fetch_add(1, Ordering::AcqRel);
        jobs.send(job).map_err(|_| {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            gone("the commit queue has stopped")
        })
    }
}

fn gone(why: &str) -> StoreError {
    StoreError::Unavailable(why.to_owned())
}

/// The writer: a batch of everything waiting, one step for its claims and one for its
/// buys, every answer; until the queue closes.
fn run(store: &dyn Store, queue: &Receiver<Job>, pending: &AtomicUsize) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        jobs.extend(queue.try_iter().take(MAX_BATCH - 1));
        let taken = jobs.len();
        let (mut claims, mut claim_replies) = (Vec::new(), Vec::new());
        let (mut buys, mut buy_replies) = (Vec::new(), Vec::new());
        for job in jobs {
            match job {
                Job::Claim(request, reply) => {
                    claims.push(request);
                    claim_replies.push(reply);
                }
                Job::Buy(request, reply) => {
                    buys.push(request);
                    buy_replies.push(reply);
                }
            }
        }
        // A requester that went away meanwhile has its answer dropped; the claim or order
        // stands, and its idempotency key returns it on a retry.
        if !claims.is_empty() {
            for (reply, result) in claim_replies.into_iter().zip(store.claim_coupons(&claims)) {
                let _ = reply.send(result);
            }
        }
        if !buys.is_empty() {
            for (reply, result) in buy_replies.into_iter().zip(store.buy_flash_sales(&buys)) {
                let _ = reply.send(result);
            }
        }
        pending.fetch_sub(taken, Ordering::AcqRel);
    }
}
