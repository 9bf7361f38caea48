//! The HTTP server: one axum router for health, the API and (in later layers) the DASH
//! origin and web pages. `app(state)` builds it so tests can drive it without a socket.

use crate::plugin::PluginEngine;
use crate::plugin::registry::{Registry, RegistryError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<PluginEngine>,
    pub registry: Arc<Registry>,
}

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/rooms/{room}/plugins", get(room_plugins))
        .with_state(state)
}

/// An API error: a status and a message that never leaks internals.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Store(inner) => {
                tracing::error!("store error: {inner}");
                ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
            RegistryError::UnknownVersion(_) | RegistryError::NotBound { .. } => {
                ApiError(StatusCode::NOT_FOUND, e.to_string())
            }
            RegistryError::Forbidden { .. } => ApiError(StatusCode::FORBIDDEN, e.to_string()),
            other => ApiError(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
        }
    }
}

/// The plugins enabled in a room, with their manifests and latest faults.
async fn room_plugins(
    State(state): State<AppState>,
    Path(room): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let registry = state.registry.clone();
    let list = tokio::task::spawn_blocking(move || -> Result<_, RegistryError> {
        let mut out = Vec::new();
        for b in registry.bindings(&room)? {
            let faults = registry.faults(&room, &b.name, 20)?;
            out.push(serde_json::json!({ "binding": b, "faults": faults }));
        }
        Ok(out)
    })
    .await
    .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into()))??;
    Ok(Json(serde_json::json!({ "plugins": list })))
}
