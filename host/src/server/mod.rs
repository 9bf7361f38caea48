//! The HTTP server: one axum router for health, metrics, the room WebSocket, the REST
//! API, the web pages, and the media origin (`/media`). `app(state)` builds it so tests
//! can drive it without a socket; [`accept::serve`] serves it on a listener with
//! connection caps and request-head deadlines.
//!
//! - [`accept`]: the accept loop (caps, header timeout, upgrades);
//! - [`caps`]: per-IP and global connection counting;
//! - [`drain`]: the graceful drain on SIGTERM;
//! - [`health`]: `/healthz` (alive) and `/readyz` (store answers, not draining);
//! - [`linger`]: the connection type, which closes without resetting the peer;
//! - [`process`]: the fd limit and giving memory back after a flood;
//! - [`relay`]: `/media` of rooms packaged on another node, relayed to it.

pub mod accept;
pub mod caps;
pub mod drain;
pub mod health;
pub mod linger;
pub mod process;
pub mod relay;

use crate::api;
use crate::media::Media;
use crate::plugin::PluginEngine;
use crate::plugin::registry::Registry;
use crate::room::Rooms;
use crate::room::longpoll::{self, LongPoll};
use crate::store::Store;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub engine: Arc<PluginEngine>,
    pub registry: Arc<Registry>,
    pub rooms: Arc<Rooms>,
    pub media: Arc<Media>,
    pub pages: Arc<crate::web::Pages>,
    /// The operator's credential for `/api/operator/…`.
    pub operator: crate::auth::OperatorToken,
}

/// The router. Must be called inside a tokio runtime (it starts the long-poll reaper).
pub fn app(state: AppState) -> Router {
    let ws = Router::new()
        .route("/ws", get(crate::room::ws::upgrade))
        .with_state(state.rooms.clone());
    let lp = LongPoll::new(state.rooms.clone());
    lp.spawn_reaper();
    let lp = Router::new()
        .route("/lp", post(longpoll::open))
        .route("/lp/{session}", post(longpoll::send).get(longpoll::poll))
        .with_state(lp);
    let relay = relay::Relay::new(
        state.media.clone(),
        state.rooms.clone(),
        state.media.advertised().map(str::to_owned),
    );
    let media = state
        .media
        .router()
        .layer(axum::middleware::from_fn_with_state(relay, relay::relay))
        .layer(axum::middleware::map_response(count_origin_response));
    let rooms = state.rooms.clone();
    let engine = state.engine.clone();
    let lives = state.media.clone();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/metrics",
            get(move || {
                let figures = rooms.figures();
                let warm = engine.warm_cache().stats();
                let lives: Vec<crate::metrics::LiveFigures> = lives
                    .hub
                    .lives()
                    .iter()
                    .map(|s| {
                        let lag = lives
                            .state
                            .live(&s.room)
                            .and_then(|p| p.packaging_lag())
                            .map(|d| d.as_secs_f64());
                        (s.room.clone(), s.ingest(), lag)
                    })
                    .collect();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        crate::metrics::render(figures, &warm, &lives),
                    )
                }
            }),
        )
        .merge(api::router())
        .merge(crate::web::routes())
        .with_state(state)
        .merge(ws)
        .merge(lp)
        .merge(media)
}

/// Count the origin's responses by status for `/metrics`.
async fn count_origin_response(response: axum::response::Response) -> axum::response::Response {
    crate::metrics::ORIGIN_RESPONSES.inc(response.status().as_u16());
    response
}
