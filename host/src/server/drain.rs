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

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: draining"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: draining"),
                }
                return;
            }
            Err(e) => tracing::warn!("cannot listen for SIGTERM ({e}); Ctrl-C only"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("Ctrl-C: draining");
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
