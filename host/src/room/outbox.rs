//! A connection's bounded outgoing queue, with priorities and coalescing.
//!
//! Broadcasts are encoded once into a [`Frame`] (shared `Arc<str>`) and pushed to every
//! connection's [`Outbox`]. What happens next depends on the frame's [`Class`]:
//!
//! - `Critical` (commerce, host, moderation, system, replies, results): always queued. If a
//!   consumer falls so far behind that the queue passes its bound, the queue is dropped and
//!   the connection is flagged to catch up from the room history (or, past it, a fresh
//!   snapshot) — the latest state, not an unbounded backlog, and no commerce frame lost.
//! - `Chat`: sampled. A viewer gets at most `chat_per_sec` other people's comments per
//!   second and none while the queue is half full; their own comments always arrive.
//! - `State(slot)`: only the latest matters (like total, online count), so a new frame
//!   replaces the pending one.

use crate::metrics;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

/// How a frame may be treated under pressure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Critical,
    Chat,
    State(StateSlot),
}

/// The coalescing slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateSlot {
    Likes = 0,
    Online = 1,
}

const SLOTS: usize = 2;

/// One encoded server message, shared by every connection that receives it.
#[derive(Debug)]
pub struct Frame {
    pub text: Arc<str>,
    pub class: Class,
    /// For chat: the author's user id, so their own comments bypass sampling.
    pub author: Option<Arc<str>>,
    /// The frame's place in the room history, if it is kept there.
    pub offset: Option<u64>,
}

impl Frame {
    pub fn new(text: String, class: Class) -> Arc<Frame> {
        Arc::new(Frame {
            text: text.into(),
            class,
            author: None,
            offset: None,
        })
    }

    pub fn chat(text: String, author: &str) -> Arc<Frame> {
        Arc::new(Frame {
            text: text.into(),
            class: Class::Chat,
            author: Some(author.into()),
            offset: None,
        })
    }
}

/// Bounds for one outbox.
#[derive(Clone, Copy, Debug)]
pub struct OutboxLimits {
    /// Queued frames before the consumer counts as too slow.
    pub max_queue: usize,
    /// Other people's comments delivered per second.
    pub chat_per_sec: u32,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        OutboxLimits {
            max_queue: 512,
            chat_per_sec: 20,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Arc<Frame>>,
    slots: [Option<Arc<Frame>>; SLOTS],
    chat_window: Option<Instant>,
    chat_in_window: u32,
    resync: bool,
    closed: bool,
    dropped_chat: u64,
}

/// What the writer takes out in one go.
#[derive(Debug, Default)]
pub struct Batch {
    pub frames: Vec<Arc<Frame>>,
    /// The consumer fell behind: catch it up from history before `frames`.
    pub resync: bool,
    pub closed: bool,
}

/// One connection's outgoing queue.
#[derive(Debug)]
pub struct Outbox {
    user_id: Arc<str>,
    limits: OutboxLimits,
    inner: Mutex<Inner>,
    notify: Notify,
}

impl Outbox {
    pub fn new(user_id: &str, limits: OutboxLimits) -> Self {
        Outbox {
            user_id: user_id.into(),
            limits,
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
        }
    }

    /// Queue a frame according to its class. Never blocks on the consumer.
    pub fn push(&self, frame: &Arc<Frame>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.closed {
            return;
        }
        match frame.class {
            Class::State(slot) => inner.slots[slot as usize] = Some(frame.clone()),
            Class::Chat => {
                let own = frame.author.as_deref() == Some(&*self.user_id);
                if !own && !self.admit_chat(&mut inner) {
                    inner.dropped_chat += 1;
                    metrics::ROOM_FRAMES_DROPPED.inc();
                    return;
                }
                self.enqueue(&mut inner, frame);
            }
            Class::Critical => self.enqueue(&mut inner, frame),
        }
        drop(inner);
        self.notify.notify_one();
    }

    fn admit_chat(&self, inner: &mut Inner) -> bool {
        if inner.queue.len() >= self.limits.max_queue / 2 {
            return false;
        }
        let now = Instant::now();
        match inner.chat_window {
            Some(start) if now.duration_since(start).as_millis() < 1000 => {}
            _ => {
                inner.chat_window = Some(now);
                inner.chat_in_window = 0;
            }
        }
        if inner.chat_in_window >= self.limits.chat_per_sec {
            return false;
        }
        inner.chat_in_window += 1;
        true
    }

    fn enqueue(&self, inner: &mut Inner, frame: &Arc<Frame>) {
        if inner.queue.len() >= self.limits.max_queue {
            // Too slow: the backlog is replaced by a snapshot of the current state.
            metrics::ROOM_OUTBOX_QUEUED.sub(inner.queue.len() as u64);
            inner.queue = VecDeque::new();
            if !inner.resync {
                metrics::ROOM_RESYNCS.inc();
            }
            inner.resync = true;
            return;
        }
        inner.queue.push_back(frame.clone());
        metrics::ROOM_OUTBOX_QUEUED.inc();
    }

    /// Stop accepting frames and wake the writer so it can finish.
    pub fn close(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.closed = true;
        }
        self.notify.notify_one();
    }

    /// Take everything queued (waits until there is something or the outbox is closed).
    pub async fn next_batch(&self) -> Batch {
        loop {
            if let Some(batch) = self.try_take() {
                return batch;
            }
            self.notify.notified().await;
        }
    }

    /// Take everything queued now, if anything is.
    pub fn try_take(&self) -> Option<Batch> {
        let mut inner = self.inner.lock().ok()?;
        let has_slots = inner.slots.iter().any(Option::is_some);
        if inner.queue.is_empty() && !has_slots && !inner.resync && !inner.closed {
            return None;
        }
        let mut frames: Vec<_> = std::mem::take(&mut inner.queue).into();
        metrics::ROOM_OUTBOX_QUEUED.sub(frames.len() as u64);
        frames.extend(inner.slots.iter_mut().filter_map(Option::take));
        metrics::ROOM_FRAMES_OUT.add(frames.len() as u64);
        Some(Batch {
            frames,
            resync: std::mem::take(&mut inner.resync),
            closed: inner.closed,
        })
    }

    /// Other people's comments dropped by sampling so far.
    pub fn dropped_chat(&self) -> u64 {
        self.inner.lock().map(|i| i.dropped_chat).unwrap_or(0)
    }
}

/// Frames still queued when a connection ends leave the lag gauge.
impl Drop for Outbox {
    fn drop(&mut self) {
        if let Ok(inner) = self.inner.get_mut() {
            metrics::ROOM_OUTBOX_QUEUED.sub(inner.queue.len() as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_queue: usize, chat_per_sec: u32) -> OutboxLimits {
        OutboxLimits {
            max_queue,
            chat_per_sec,
        }
    }

    #[tokio::test]
    async fn state_frames_coalesce_to_the_latest() {
        let out = Outbox::new("me", limits(8, 20));
        for total in [1, 2, 3] {
            out.push(&Frame::new(
                format!("likes {total}"),
                Class::State(StateSlot::Likes),
            ));
        }
        let batch = out.next_batch().await;
        let texts: Vec<_> = batch.frames.iter().map(|f| &*f.text).collect();
        assert_eq!(texts, ["likes 3"]);
    }

    #[tokio::test]
    async fn chat_is_sampled_but_own_comments_and_critical_frames_always_arrive() {
        let out = Outbox::new("me", limits(100, 2));
        for i in 0..5 {
            out.push(&Frame::chat(format!("other {i}"), "someone"));
        }
        out.push(&Frame::chat("mine".into(), "me"));
        out.push(&Frame::new("coupon".into(), Class::Critical));
        let batch = out.next_batch().await;
        let texts: Vec<_> = batch.frames.iter().map(|f| &*f.text).collect();
        assert_eq!(texts, ["other 0", "other 1", "mine", "coupon"]);
        assert_eq!(out.dropped_chat(), 3);
    }

    #[tokio::test]
    async fn a_slow_consumer_gets_a_resync_instead_of_a_backlog() {
        let out = Outbox::new("me", limits(4, 20));
        for i in 0..6 {
            out.push(&Frame::new(format!("c{i}"), Class::Critical));
        }
        let batch = out.next_batch().await;
        assert!(batch.resync);
        let texts: Vec<_> = batch.frames.iter().map(|f| &*f.text).collect();
        assert_eq!(texts, ["c5"], "only what came after the overflow");
    }
}
