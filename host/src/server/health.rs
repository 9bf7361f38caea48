//! Health and readiness.
//!
//! `/healthz` says the process answers HTTP (a liveness probe: restart it if not).
//! `/readyz` says the node should get new traffic (a readiness probe: route elsewhere if
//! not): the store answers a trivial read, the room bus is connected and the node is not
//! draining. Load balancers stop sending viewers to a draining node before its
//! connections are told to reconnect.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `GET /healthz`.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 `{"ready":true}`, or 503 `{"ready":false,"reason":…}`.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.rooms.is_draining() {
        return not_ready("draining", "the node is shutting down".into());
    }
    if !state.rooms.bus().connected() {
        return not_ready("bus", "the room bus (NATS) is not connected".into());
    }
    let store = state.store.clone();
    // A trivial read through the store's contract: a room id no room can have.
    let read = tokio::task::spawn_blocking(move || store.room("-readyz-").map(|_| ())).await;
    match read {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({ "ready": true }))).into_response(),
        Ok(Err(e)) => {
            tracing::warn!("readiness: the store did not answer: {e}");
            not_ready("store", "the store did not answer".into())
        }
        Err(e) => not_ready("store", format!("the store check did not finish: {e}")),
    }
}

fn not_ready(reason: &'static str, message: String) -> Response {
    let body = json!({ "ready": false, "reason": reason, "message": message });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}
