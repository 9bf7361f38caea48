//! Graceful drain: what `serve` does between SIGTERM (or Ctrl-C) and exiting 0.
//!
//! In order, all bounded by the drain deadline: `/readyz` turns 503 and every room
//! connection gets a `reconnect` frame and a 1001 close (`Rooms::begin_drain`); the
//! listener stops accepting and open HTTP exchanges finish (`accept::serve`); the claims
//! and buys already read are committed and answered (the commit queue empties), and the
//! rooms' plugin leases are given up for other nodes to take at once; ingest
//! ends, so packaging closes each live's period and the recorder completes it
//! (`Media::drain`). Whatever is left at the deadline is abandoned with a warning.

use crate::media::Media;
use crate::room::Rooms;
use std::time::Duration;

/// SIGTERM and SIGINT (Ctrl-C), listened for from [`Signals::install`] on: a signal that
/// arrives before the server waits for it is kept, not left to its default action (which
/// would kill the process without a drain). Install before the listener is announced.
pub struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Start listening; needs the tokio runtime.
    pub fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .inspect_err(|e| tracing::warn!("cannot listen for SIGTERM ({e}); Ctrl-C only"))
                .ok();
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Resolves on the first SIGTERM or SIGINT since [`Signals::install`].
    pub async fn recv(self) {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.unix {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: draining"),
                _ = int.recv() => tracing::info!("Ctrl-C: draining"),
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: draining");
    }
}

/// Wait until every room connection has left and every claim and buy read before the
/// drain has been answered.
pub async fn rooms(rooms: &Rooms) {
    loop {
        let joined = rooms.figures().subscribers;
        let pending = rooms.commits.pending();
        if joined == 0 && pending == 0 {
            // Nothing more reaches this node's plugins: hand them to other nodes now, and
            // give the releases a moment to reach the bus.
            rooms.release_leases();
            tokio::time::sleep(Duration::from_millis(200)).await;
            return;
        }
        tracing::debug!(joined, pending, "waiting for room connections to close");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What was still running when the deadline passed, for the log.
pub fn leftovers(rooms: &Rooms, media: &Media) -> String {
    format!(
        "{} room connection(s), {} claim(s)/buy(s) unanswered, {} live(s) still packaging",
        rooms.figures().subscribers,
        rooms.commits.pending(),
        media.state.live_rooms().len()
    )
}
