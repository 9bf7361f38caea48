//! One soak viewer: a guest WebSocket in one room that chats now and then, likes in
//! bursts, claims the minute's coupon when it is one of the claimers, and measures the
//! delay of every other viewer's chat message it receives.
//!
//! A chat message's text carries its send time on the bench clock (`soak <ns> <viewer>`),
//! so a receiver in this process knows the send → delivered delay without any clock sync.

use crate::cli::bench_ws::client::{self, Ws};
use crate::cli::bench_ws::{Clock, Histogram};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// A histogram that the minute sampler swaps for a fresh one.
pub struct Minutely(Mutex<Arc<Histogram>>);

impl Minutely {
    pub fn new() -> Self {
        Minutely(Mutex::new(Arc::new(Histogram::new())))
    }

    pub fn record_ns(&self, ns: u64) {
        let h = match self.0.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        h.record_ns(ns);
    }

    /// The samples since the last call, and a fresh histogram for the next minute.
    pub fn take(&self) -> Arc<Histogram> {
        let fresh = Arc::new(Histogram::new());
        match self.0.lock() {
            Ok(mut g) => std::mem::replace(&mut *g, fresh),
            Err(p) => std::mem::replace(&mut *p.into_inner(), fresh),
        }
    }
}

/// What every viewer adds to.
pub struct Shared {
    pub clock: Clock,
    pub chat: Minutely,
    pub claim: Minutely,
    /// Other viewers' chat messages received.
    pub delivered: AtomicU64,
    pub chat_sent: AtomicU64,
    pub like_msgs: AtomicU64,
    pub connected: AtomicU64,
    pub join_failed: AtomicU64,
    /// Joined viewers whose connection ended before the bench stopped it.
    pub lost: AtomicU64,
    pub claims_sent: AtomicU64,
    pub claims_ok: AtomicU64,
    pub claims_refused: AtomicU64,
    pub rate_limited: AtomicU64,
    pub errors: AtomicU64,
    /// The first of each kind of trouble, for the notes.
    pub first_error: Mutex<Option<String>>,
    pub first_refusal: Mutex<Option<String>>,
}

impl Shared {
    pub fn new() -> Self {
        Shared {
            clock: Clock::new(),
            chat: Minutely::new(),
            claim: Minutely::new(),
            delivered: AtomicU64::new(0),
            chat_sent: AtomicU64::new(0),
            like_msgs: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            join_failed: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            claims_sent: AtomicU64::new(0),
            claims_ok: AtomicU64::new(0),
            claims_refused: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
            first_refusal: Mutex::new(None),
        }
    }

    fn note(slot: &Mutex<Option<String>>, text: String) {
        if let Ok(mut g) = slot.lock()
            && g.is_none()
        {
            *g = Some(text);
        }
    }
}

/// How one viewer behaves.
#[derive(Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub room: Arc<str>,
    pub index: usize,
    pub claimer: bool,
    /// Mean seconds between this viewer's chat messages (jittered ±50 %).
    pub chat_secs: f64,
}

/// A small xorshift generator: jitter only, no need for quality.
struct Rng(u64);

impl Rng {
    fn new(seed: usize) -> Self {
        Rng((seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `lo..hi` (seconds).
    fn secs(&mut self, lo: f64, hi: f64) -> Duration {
        let f = (self.next() % 10_000) as f64 / 10_000.0;
        Duration::from_secs_f64(lo + (hi - lo) * f)
    }
}

/// Like messages per burst and the gap inside a burst.
const BURST: u32 = 5;
const BURST_GAP: Duration = Duration::from_millis(200);

/// Join (holding a permit of `joins` for the handshake only), then run until `stop`.
pub async fn run(
    plan: Plan,
    shared: Arc<Shared>,
    joins: Arc<Semaphore>,
    mut storm: watch::Receiver<Option<Arc<str>>>,
    mut stop: watch::Receiver<bool>,
) {
    let joined = {
        let Ok(_permit) = joins.acquire().await else {
            return;
        };
        client::join_room(plan.addr, None, None, &plan.room).await
    };
    let mut ws = match joined {
        Ok((ws, _)) => ws,
        Err(e) => {
            shared.join_failed.fetch_add(1, Ordering::Relaxed);
            Shared::note(&shared.first_error, format!("join: {e:#}"));
            return;
        }
    };
    shared.connected.fetch_add(1, Ordering::Relaxed);
    let ended = session(&mut ws, &plan, &shared, &mut storm, &mut stop).await;
    shared.connected.fetch_sub(1, Ordering::Relaxed);
    if let Err(e) = ended {
        shared.lost.fetch_add(1, Ordering::Relaxed);
        Shared::note(&shared.first_error, format!("viewer {}: {e:#}", plan.index));
    }
    let _ = ws.close(None).await;
}

/// The viewer's life after joining; an error when the connection failed.
async fn session(
    ws: &mut Ws,
    plan: &Plan,
    shared: &Shared,
    storm: &mut watch::Receiver<Option<Arc<str>>>,
    stop: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut rng = Rng::new(plan.index);
    let (lo, hi) = (plan.chat_secs * 0.5, plan.chat_secs * 1.5);
    let mut next_chat = Instant::now() + rng.secs(0.0, hi);
    let mut next_like = Instant::now() + rng.secs(0.0, 30.0);
    let mut burst_left = BURST;
    let mut chats = 0u64;
    let mut claim_sent: Option<u64> = None;
    let mut claimer = plan.claimer;
    storm.mark_unchanged();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return Ok(()),
            changed = storm.changed(), if claimer => {
                if changed.is_err() {
                    claimer = false;
                    continue;
                }
                let coupon = storm.borrow_and_update().clone();
                if let Some(coupon) = coupon {
                    let key = format!("soak-{coupon}-{}", plan.index);
                    client::send(ws, &json!({"type": "claim", "coupon_id": &*coupon, "key": key}))
                        .await?;
                    shared.claims_sent.fetch_add(1, Ordering::Relaxed);
                    claim_sent = Some(shared.clock.ns());
                }
            }
            _ = tokio::time::sleep_until(next_chat) => {
                chats += 1;
                // Every fifth message asks about sizes: keyword-push and ai-host answer.
                let tail = if chats.is_multiple_of(5) { "what size is the tee?" } else { "love it" };
                let text = format!("soak {} {} {tail}", shared.clock.ns(), plan.index);
                client::send(ws, &json!({"type": "comment", "text": text})).await?;
                shared.chat_sent.fetch_add(1, Ordering::Relaxed);
                next_chat += rng.secs(lo, hi);
            }
            _ = tokio::time::sleep_until(next_like) => {
                let count = 1 + rng.next() % 20;
                client::send(ws, &json!({"type": "like", "count": count})).await?;
                shared.like_msgs.fetch_add(1, Ordering::Relaxed);
                burst_left -= 1;
                if burst_left == 0 {
                    burst_left = BURST;
                    next_like += rng.secs(15.0, 45.0);
                } else {
                    next_like += BURST_GAP;
                }
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => on_frame(t.as_str(), plan, shared, &mut claim_sent),
                Some(Ok(Message::Close(f))) => anyhow::bail!("closed by the server: {f:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("the connection ended"),
            },
        }
    }
}

/// Count and time one server frame.
fn on_frame(t: &str, plan: &Plan, shared: &Shared, claim_sent: &mut Option<u64>) {
    if t.starts_with(r#"{"type":"comment""#) {
        let Ok(v) = serde_json::from_str::<Value>(t) else {
            return;
        };
        let text = v["comment"]["text"].as_str().unwrap_or_default();
        if let Some((sent, from)) = parse_chat(text)
            && from != plan.index
        {
            shared
                .chat
                .record_ns(shared.clock.ns().saturating_sub(sent));
            shared.delivered.fetch_add(1, Ordering::Relaxed);
        }
    } else if t.starts_with(r#"{"type":"claim_result""#) {
        let Some(sent) = claim_sent.take() else {
            return;
        };
        shared
            .claim
            .record_ns(shared.clock.ns().saturating_sub(sent));
        let v: Value = serde_json::from_str(t).unwrap_or(Value::Null);
        if v["ok"] == true {
            shared.claims_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            shared.claims_refused.fetch_add(1, Ordering::Relaxed);
            let why = v["error"].as_str().unwrap_or("no error text").to_owned();
            Shared::note(&shared.first_refusal, why);
        }
    } else if t.starts_with(r#"{"type":"error""#) {
        let v: Value = serde_json::from_str(t).unwrap_or(Value::Null);
        if v["code"] == "rate_limited" {
            shared.rate_limited.fetch_add(1, Ordering::Relaxed);
        } else {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            Shared::note(&shared.first_error, format!("error frame: {t}"));
        }
    }
}

/// The send time and sender of a bench chat message (`soak <ns> <viewer> ...`).
fn parse_chat(text: &str) -> Option<(u64, usize)> {
    let mut words = text.strip_prefix("soak ")?.split(' ');
    let sent = words.next()?.parse().ok()?;
    let from = words.next()?.parse().ok()?;
    Some((sent, from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_chat_messages_carry_their_send_time_and_sender() {
        assert_eq!(parse_chat("soak 123 7 love it"), Some((123, 7)));
        assert_eq!(parse_chat("Yes: sizes S to XL."), None);
        assert_eq!(parse_chat("soak x 7"), None);
    }
}
