//! The HTTP server: one axum router for health, the room WebSocket, the REST API, the web
//! pages, and the media origin (`/media`). `app(state)` builds it so tests can drive
//! it without a socket.

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
    let media = state.media.router();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(api::router())
        .merge(crate::web::routes())
        .with_state(state)
        .merge(ws)
        .merge(lp)
        .merge(media)
}
