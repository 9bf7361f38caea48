//! WebRTC playback over WHEP (IETF WebRTC-HTTP Egress Protocol), the sub-second path:
//! `POST /media/{room}/whep` with an SDP offer (`application/sdp`) answers `201 Created`
//! with the SDP answer and the session's `Location`; `DELETE` on that location ends it;
//! ICE trickle is not offered (`PATCH` answers 405: the answer carries the host candidate,
//! and ICE-lite accepts the viewer's peer-reflexive ones).
//!
//! Built on str0m (sans-IO: no threads or clock of its own), one task and one UDP socket
//! per session on a configured address ([`WhepConfig::ip`]). Nothing is encoded per viewer:
//! video is an encoded rung's H.264 (no B-frames) from the packager's CMAF chunks, audio the
//! live's one Opus encode ([`feed`]). Each session's data channel carries the room's timed
//! events with the RTP timestamp of their frame ([`session`]). Sessions are counted per
//! room ([`Whep::sessions`]) for the media status.

mod feed;
mod session;

pub use session::{EventAt, event_message};

use super::routes::{HttpError, not_found};
use super::valid_id;
use crate::package::state::MediaState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tokio::sync::oneshot;

/// Whether a room exists (the host asks its store); unknown rooms get 404.
pub type RoomExists = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Where WHEP sessions listen and how many there may be.
#[derive(Clone, Debug)]
pub struct WhepConfig {
    /// The address of the sessions' UDP sockets and their ICE host candidate: one the
    /// viewers reach (the node's public address in production).
    pub ip: IpAddr,
    /// Sessions on this node at once; more are refused with 503.
    pub max_sessions: usize,
}

impl Default for WhepConfig {
    fn default() -> Self {
        WhepConfig {
            ip: IpAddr::from([127, 0, 0, 1]),
            max_sessions: 2000,
        }
    }
}

/// Why an offer was refused, with its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum WhepError {
    #[error("no such room")]
    NoRoom,
    #[error("room {0} is not live")]
    NotLive(String),
    #[error("WebRTC is off for this live: {0}")]
    Off(String),
    #[error("live stream is not ready yet")]
    NotReady,
    #[error("bad SDP offer: {0}")]
    BadOffer(String),
    #[error("too many WebRTC sessions on this node ({0})")]
    Full(usize),
    #[error("cannot open a WebRTC socket: {0}")]
    Socket(String),
}

impl WhepError {
    pub fn status(&self) -> StatusCode {
        match self {
            WhepError::NoRoom => StatusCode::NOT_FOUND,
            WhepError::NotLive(_) | WhepError::Off(_) => StatusCode::CONFLICT,
            WhepError::NotReady | WhepError::Full(_) => StatusCode::SERVICE_UNAVAILABLE,
            WhepError::BadOffer(_) => StatusCode::BAD_REQUEST,
            WhepError::Socket(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What is known of one session, for the status and the tests.
#[derive(Debug)]
pub struct SessionInfo {
    pub id: String,
    pub room: String,
    created: Instant,
    connected: AtomicBool,
    frames: AtomicU64,
    estimate_bps: AtomicU64,
    rung: Mutex<String>,
}

impl SessionInfo {
    fn mark_connected(&self) {
        self.connected.store(true, Ordering::Relaxed);
    }
    fn count_frame(&self) {
        self.frames.fetch_add(1, Ordering::Relaxed);
    }
    fn set_estimate(&self, bps: u64) {
        self.estimate_bps.store(bps, Ordering::Relaxed);
    }
    fn set_rung(&self, id: &str) {
        let mut r = self.rung.lock().unwrap_or_else(|e| e.into_inner());
        if *r != id {
            *r = id.to_string();
        }
    }
}

/// One session as the status shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SessionView {
    pub id: String,
    pub connected: bool,
    /// Rung being sent ("v0", …; empty before the first keyframe).
    pub rung: String,
    pub video_frames: u64,
    /// The latest bandwidth estimate, bits/s (0 before the first).
    pub estimate_bps: u64,
    pub age_ms: u64,
}

struct Entry {
    info: Arc<SessionInfo>,
    close: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Registry {
    sessions: Mutex<HashMap<String, Entry>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// The node's WHEP egress.
pub struct Whep {
    state: Arc<MediaState>,
    config: WhepConfig,
    exists: RoomExists,
    registry: Arc<Registry>,
}

impl Whep {
    pub fn new(state: Arc<MediaState>, config: WhepConfig, exists: RoomExists) -> Arc<Whep> {
        Arc::new(Whep {
            state,
            config,
            exists,
            registry: Arc::default(),
        })
    }

    /// Answer `sdp` for a viewer of `room`: the answer and the new session's id.
    pub async fn offer(&self, room: &str, sdp: &str) -> Result<(String, String), WhepError> {
        if !valid_id(room) || !(self.exists)(room) {
            return Err(WhepError::NoRoom);
        }
        let period = self
            .state
            .live(room)
            .filter(|p| p.ended().is_none())
            .ok_or_else(|| WhepError::NotLive(room.to_string()))?;
        let feed = feed::Feed::new(&period).map_err(|e| match e {
            feed::Unavailable::Off(why) => WhepError::Off(why),
            feed::Unavailable::NotYet => WhepError::NotReady,
        })?;
        if period.origin_ns().is_none() || feed.rungs.iter().any(|t| t.init().is_none()) {
            return Err(WhepError::NotReady);
        }
        if !sdp
            .lines()
            .any(|l| l.to_ascii_uppercase().contains(" H264/90000"))
        {
            return Err(WhepError::BadOffer(
                "it offers no H.264 video (livecart sends H.264 and Opus)".into(),
            ));
        }
        let offer = str0m::change::SdpOffer::from_sdp_string(sdp)
            .map_err(|e| WhepError::BadOffer(e.to_string()))?;
        {
            let n = self.registry.lock().len();
            if n >= self.config.max_sessions {
                return Err(WhepError::Full(n));
            }
        }
        let socket = tokio::net::UdpSocket::bind(std::net::SocketAddr::new(self.config.ip, 0))
            .await
            .map_err(|e| WhepError::Socket(e.to_string()))?;
        let local = socket
            .local_addr()
            .map_err(|e| WhepError::Socket(e.to_string()))?;
        let top = feed.rungs.first().map_or(0, |t| t.rendition.bandwidth);
        let mut rtc = str0m::RtcConfig::new()
            .set_crypto_provider(crypto())
            .set_ice_lite(true)
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .enable_bwe(Some(str0m::bwe::Bitrate::bps(u64::from(top) + 64_000)))
            .build(Instant::now());
        let candidate =
            str0m::Candidate::host(local, "udp").map_err(|e| WhepError::Socket(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| WhepError::BadOffer(e.to_string()))?;
        let id = session_id();
        let info = Arc::new(SessionInfo {
            id: id.clone(),
            room: room.to_string(),
            created: Instant::now(),
            connected: AtomicBool::new(false),
            frames: AtomicU64::new(0),
            estimate_bps: AtomicU64::new(0),
            rung: Mutex::new(String::new()),
        });
        let (close_tx, close) = oneshot::channel();
        self.registry.lock().insert(
            id.clone(),
            Entry {
                info: info.clone(),
                close: Some(close_tx),
            },
        );
        let s = session::Session {
            rtc,
            socket,
            feed,
            period,
            info,
            registry: self.registry.clone(),
            close,
        };
        tokio::spawn(s.run());
        Ok((answer.to_sdp_string(), id))
    }

    /// End session `id` of `room`; false if there is none.
    pub fn close(&self, room: &str, id: &str) -> bool {
        let mut g = self.registry.lock();
        match g.get_mut(id) {
            Some(e) if e.info.room == room => {
                if let Some(tx) = e.close.take() {
                    let _ = tx.send(());
                }
                g.remove(id);
                true
            }
            _ => false,
        }
    }

    /// The sessions of `room` now.
    pub fn sessions(&self, room: &str) -> Vec<SessionView> {
        let mut out: Vec<_> = self
            .registry
            .lock()
            .values()
            .filter(|e| e.info.room == room)
            .map(|e| {
                let i = &e.info;
                SessionView {
                    id: i.id.clone(),
                    connected: i.connected.load(Ordering::Relaxed),
                    rung: i.rung.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                    video_frames: i.frames.load(Ordering::Relaxed),
                    estimate_bps: i.estimate_bps.load(Ordering::Relaxed),
                    age_ms: i.created.elapsed().as_millis() as u64,
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Why WebRTC cannot play `room`'s live now; `None` when it can or it is not live.
    pub fn unavailable(&self, room: &str) -> Option<String> {
        let period = self.state.live(room)?;
        match feed::Feed::new(&period) {
            Err(feed::Unavailable::Off(why)) => Some(why),
            _ => None,
        }
    }

    /// Sessions on this node, all rooms.
    pub fn total(&self) -> usize {
        self.registry.lock().len()
    }
}

/// The process's str0m crypto (RustCrypto: DTLS 1.2, SRTP), made once.
fn crypto() -> Arc<str0m::config::CryptoProvider> {
    static P: OnceLock<Arc<str0m::config::CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(str0m::crypto::from_feature_flags()))
        .clone()
}

fn session_id() -> String {
    format!(
        "whep_{:08x}{:08x}",
        session::rand_u32(),
        session::rand_u32()
    )
}

/// The WHEP routes, CORS-open like the rest of `/media`.
pub fn router(whep: Arc<Whep>) -> Router {
    Router::new()
        .route(
            "/media/{room}/whep",
            post(offer).options(preflight).get(not_allowed),
        )
        .route(
            "/media/{room}/whep/{session}",
            delete(end).patch(no_trickle).options(preflight),
        )
        .layer(axum::middleware::map_response(super::routes::cors))
        .with_state(whep)
}

async fn offer(
    State(w): State<Arc<Whep>>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sdp_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/sdp"));
    if !sdp_type {
        return HttpError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a WHEP offer is an SDP body with Content-Type: application/sdp".into(),
        )
        .into_response();
    }
    let Ok(sdp) = std::str::from_utf8(&body) else {
        return HttpError(StatusCode::BAD_REQUEST, "bad SDP offer: not UTF-8".into())
            .into_response();
    };
    match w.offer(&room, sdp).await {
        Ok((answer, id)) => {
            let location = format!("/media/{room}/whep/{id}");
            (
                StatusCode::CREATED,
                [
                    (header::CONTENT_TYPE, "application/sdp".to_string()),
                    (header::LOCATION, location),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
                answer,
            )
                .into_response()
        }
        Err(e) => HttpError(e.status(), e.to_string()).into_response(),
    }
}

async fn end(
    State(w): State<Arc<Whep>>,
    Path((room, session)): Path<(String, String)>,
) -> Response {
    if w.close(&room, &session) {
        StatusCode::OK.into_response()
    } else {
        not_found("no such WHEP session").into_response()
    }
}

async fn no_trickle() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "DELETE, OPTIONS")],
        "ICE trickle is not supported: the answer has every candidate",
    )
        .into_response()
}

async fn not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "POST, OPTIONS")],
        "POST an SDP offer (application/sdp)",
    )
        .into_response()
}

async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "POST, DELETE, OPTIONS",
            ),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Content-Type, Authorization",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    )
        .into_response()
}
