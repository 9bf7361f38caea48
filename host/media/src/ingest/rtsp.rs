//! RTSP pull ingest: pulls H.264 video (and AAC audio, if offered) from an RTSP server such
//! as an IP camera with [`retina`], and publishes it into a room of the
//! [`crate::hub::StreamHub`], reconnecting with exponential backoff until told to stop.
//!
//! One [`run`] task per configured [`RtspSource`]. It connects (DESCRIBE with the
//! credentials, SETUP of the first H.264 and the first AAC stream, PLAY), claims the room's
//! publishing slot, and starts a hub session at the first video keyframe whose parameters
//! (SPS/PPS, picture size) are known. A mid-stream parameter change (a new SPS) ends that
//! session and starts a new one. Errors, server EOF, a refused claim (busy room) or a
//! takeover by another publisher end the connection; the task reports it through
//! [`RtspStatus`], waits (500 ms, doubling up to 30 s; back to 500 ms after a connection
//! that lasted 10 s) and reconnects.
//!
//! Timestamps: each stream's RTP time is taken relative to its `RTP-Info` start (normal play
//! time, which aligns audio and video), and the hub session's media time zero is the first
//! video keyframe it carries (the first audio frame for audio-only sources); audio from before
//! zero is dropped. H.264 over RTP carries no decode time, so `dts = pts`: that is correct for
//! the zerolatency / baseline (no B-frames) streams IP cameras and encoders in live mode send,
//! where presentation order is decode order and timestamps increase monotonically; a stream
//! with B-frames would need reordering this module does not do.
//!
//! Credentials never reach logs, status or the hub's source label: they are taken out of the
//! URL (or given separately) and passed to retina, which answers basic or digest challenges.

use crate::hub::{HubError, StreamHub, TakeoverPolicy};
use std::time::{Duration, Instant};
use tokio::sync::watch;

mod pull;
mod target;

use target::Target;

/// First reconnect delay; it doubles after each failed connection.
pub const BACKOFF_START: Duration = Duration::from_millis(500);
/// The longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the delay to [`BACKOFF_START`].
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);
/// Limit on DESCRIBE + SETUP + PLAY.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A playing connection that delivers nothing (no RTP, no RTCP) for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How RTP travels from the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RtspTransport {
    /// Interleaved in the RTSP TCP connection: works through NAT and firewalls.
    #[default]
    Tcp,
    /// Separate UDP ports (retina's support is LAN-grade: no reordering).
    Udp,
}

/// One camera or server to pull from, and the room it feeds.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct RtspSource {
    pub room: String,
    /// `rtsp://host[:port]/path`; credentials in it are used when `username` is not set.
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub transport: RtspTransport,
}

/// What a [`run`] task is doing, for the host's status pages.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RtspStatus {
    /// Playing (connected and the room claimed).
    pub connected: bool,
    /// Connection attempts since the task started.
    pub attempts: u64,
    /// Why the latest connection failed or ended; kept after a reconnect.
    pub last_error: Option<String>,
    /// While waiting to reconnect: the delay, in ms.
    pub next_retry_ms: Option<u64>,
}

/// Why a connection failed or ended.
#[derive(Debug, thiserror::Error)]
enum RtspError {
    #[error("invalid RTSP URL: {0}")]
    BadUrl(String),
    #[error("authentication failed (401 Unauthorized): {0}")]
    Auth(String),
    #[error("RTSP: {0}")]
    Rtsp(String),
    #[error("the server offers neither H.264 video nor AAC audio")]
    NoUsableStream,
    #[error("timed out after {0:?} connecting")]
    ConnectTimeout(Duration),
    #[error("no data for {0:?}")]
    Idle(Duration),
    #[error("the server ended the stream")]
    Eof,
    #[error(transparent)]
    Hub(#[from] HubError),
}

impl From<retina::Error> for RtspError {
    fn from(e: retina::Error) -> Self {
        // retina's message is a headline, a blank line, then connection context over several
        // lines: keep it, on one line. It never holds credentials (they are not in the URL).
        let text = e.to_string();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if e.status_code() == Some(401) {
            RtspError::Auth(text)
        } else {
            RtspError::Rtsp(text)
        }
    }
}

/// Pull `source` into its room until `stop` becomes true (or its sender is dropped).
pub async fn run(
    source: RtspSource,
    hub: StreamHub,
    policy: TakeoverPolicy,
    mut stop: watch::Receiver<bool>,
    status: watch::Sender<RtspStatus>,
) {
    let target = match Target::new(&source) {
        Ok(t) => t,
        Err(e) => {
            // Retrying cannot fix the configuration: report it and wait to be stopped.
            tracing::warn!(room = %source.room, error = %e, "rtsp pull not started");
            status.send_modify(|s| {
                s.connected = false;
                s.last_error = Some(e.to_string());
                s.next_retry_ms = None;
            });
            stopped(&mut stop).await;
            return;
        }
    };
    let mut backoff = Backoff::default();
    loop {
        if *stop.borrow() {
            break;
        }
        status.send_modify(|s| {
            s.attempts += 1;
            s.next_retry_ms = None;
        });
        let mut playing_since = None;
        let error = tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            e = pull::pull(&target, &hub, policy, &status, &mut playing_since) => e,
        };
        if playing_since.is_some_and(|t: Instant| t.elapsed() >= BACKOFF_RESET_AFTER) {
            backoff = Backoff::default();
        }
        let delay = backoff.next_delay();
        tracing::warn!(
            room = %target.room, url = %target.label, error = %error,
            retry_ms = delay.as_millis() as u64, "rtsp pull failed; will reconnect"
        );
        status.send_modify(|s| {
            s.connected = false;
            s.last_error = Some(error.to_string());
            s.next_retry_ms = Some(delay.as_millis() as u64);
        });
        tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            () = tokio::time::sleep(delay) => {}
        }
    }
    status.send_modify(|s| {
        s.connected = false;
        s.next_retry_ms = None;
    });
    tracing::info!(room = %target.room, url = %target.label, "rtsp pull stopped");
}

/// Resolves once `stop` is true, or its sender is gone (nobody could stop us any more).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: BACKOFF_START,
        }
    }
}

impl Backoff {
    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(BACKOFF_MAX);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let mut b = Backoff::default();
        let ms: Vec<u128> = (0..9).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(
            ms,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
    }

    #[test]
    fn source_config_defaults() {
        let s: RtspSource =
            serde_json::from_str(r#"{"room":"r","url":"rtsp://cam/s"}"#).expect("parses");
        assert_eq!(s.transport, RtspTransport::Tcp);
        let s: RtspSource =
            serde_json::from_str(r#"{"room":"r","url":"rtsp://cam/s","transport":"udp"}"#)
                .expect("parses");
        assert_eq!(s.transport, RtspTransport::Udp);
    }
}
