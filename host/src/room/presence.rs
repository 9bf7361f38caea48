//! Whether a joined connection counts as online.
//!
//! A WebSocket counts while it is open. A long-poll session is only a promise to come
//! back, so it counts while someone polls it: while a poll (or the opening request) is
//! outstanding, and for a short grace after the last one ended, which covers the gap
//! between one poll's answer and the next poll. A session joined and never polled again
//! drops out of `online` after the grace, long before it expires.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A long-poll session's polling, as the room sees it.
#[derive(Debug)]
pub struct Presence {
    grace: Duration,
    state: Mutex<PollState>,
}

#[derive(Debug)]
struct PollState {
    /// Polls outstanding now.
    polls: u32,
    /// When the last poll ended (or the session was created).
    last_end: Instant,
}

impl Presence {
    pub fn new(grace: Duration) -> Arc<Self> {
        Arc::new(Presence {
            grace,
            state: Mutex::new(PollState {
                polls: 0,
                last_end: Instant::now(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PollState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Mark a poll outstanding until the returned guard is dropped.
    pub fn polling(self: &Arc<Self>) -> Polling {
        self.lock().polls += 1;
        Polling(self.clone())
    }

    /// Whether the session counts as online at `now`.
    pub fn is_online(&self, now: Instant) -> bool {
        let st = self.lock();
        st.polls > 0 || now.saturating_duration_since(st.last_end) < self.grace
    }
}

/// An outstanding poll; dropping it ends the poll.
#[derive(Debug)]
pub struct Polling(Arc<Presence>);

impl Drop for Polling {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.polls = st.polls.saturating_sub(1);
        st.last_end = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_online_while_polled_and_for_the_grace_after() {
        let p = Presence::new(Duration::from_millis(50));
        let start = Instant::now();
        assert!(p.is_online(start));
        let poll = p.polling();
        assert!(p.is_online(start + Duration::from_secs(3600)));
        drop(poll);
        let ended = Instant::now();
        assert!(p.is_online(ended));
        assert!(!p.is_online(ended + Duration::from_millis(60)));
    }
}
