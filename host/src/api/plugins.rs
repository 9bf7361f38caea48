//! Plugins: upload (validated), versions, enable per room with config, rollback, disable,
//! and each room's plugin status with its fault log. A change reloads the live room.

use super::body::Body;
use super::{ApiError, AuthMerchant, blocking, owned_room};
use crate::plugin::registry::RegistryError;
use crate::server::AppState;
use crate::store::VersionRecord;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/plugins",
            post(upload)
                .get(list)
                // One byte over the limit is enough to know the upload is too large.
                .layer(DefaultBodyLimit::max(
                    crate::plugin::Limits::default().max_upload_bytes + 1,
                )),
        )
        .route("/api/rooms/{room}/plugins", get(status).post(enable))
        .route("/api/rooms/{room}/plugins/{name}/rollback", post(rollback))
        .route("/api/rooms/{room}/plugins/{name}", delete(disable))
        .route("/api/rooms/{room}/plugins/{name}/logs", get(logs))
}

fn registry_error(e: RegistryError) -> ApiError {
    use crate::plugin::InvalidPlugin;
    use crate::plugin::compile::CompileBudgetError;
    match e {
        // The host could not compile now: its shortage, not the plugin's.
        RegistryError::Invalid(InvalidPlugin::Budget(
            CompileBudgetError::Busy | CompileBudgetError::Worker(_),
        )) => ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        RegistryError::Invalid(_) | RegistryError::InvalidConfig(_) => {
            ApiError::unprocessable(e.to_string())
        }
        RegistryError::UnknownVersion(_) | RegistryError::NotBound { .. } => {
            ApiError(StatusCode::NOT_FOUND, e.to_string())
        }
        RegistryError::NoPrevious { .. } => ApiError(StatusCode::CONFLICT, e.to_string()),
        RegistryError::Forbidden { .. } => ApiError(StatusCode::FORBIDDEN, e.to_string()),
        RegistryError::Store(inner) => ApiError::internal(inner),
        RegistryError::State(inner) => ApiError::internal(inner),
    }
}

/// Upload a `.wasm` (the raw body). Validation errors are 422 with the exact reason.
async fn upload(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<VersionRecord>), ApiError> {
    let limit = s.engine.limits().max_upload_bytes;
    let bytes = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("upload is larger than the limit of {limit} bytes"),
        ),
        status => ApiError(status, e.body_text()),
    })?;
    let (registry, engine) = (s.registry.clone(), s.engine.clone());
    let version = blocking(move || {
        registry
            .upload(&engine, &m.id, &bytes)
            .map(|(v, _)| v)
            .map_err(registry_error)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(version)))
}

async fn list(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
) -> Result<Json<Vec<VersionRecord>>, ApiError> {
    let registry = s.registry.clone();
    Ok(Json(
        blocking(move || registry.versions(&m.id, None).map_err(registry_error)).await?,
    ))
}

async fn status(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let registry = s.registry.clone();
    let list = blocking(move || {
        let mut out = Vec::new();
        for b in registry.bindings(&room.id).map_err(registry_error)? {
            let faults = registry
                .faults(&room.id, &b.name, 20)
                .map_err(registry_error)?;
            out.push(serde_json::json!({ "binding": b, "faults": faults }));
        }
        Ok(out)
    })
    .await?;
    Ok(Json(serde_json::json!({ "plugins": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnableRequest {
    hash: String,
    /// The plugin's config: a JSON object (or a string holding one).
    #[serde(default)]
    config: Option<serde_json::Value>,
}

async fn enable(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
    Body(body): Body<EnableRequest>,
) -> Result<Json<crate::store::Binding>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let config = match body.config {
        None => String::new(),
        Some(serde_json::Value::String(text)) => text,
        Some(v) => v.to_string(),
    };
    let (store, registry, room_id) = (s.store.clone(), s.registry.clone(), room.id.clone());
    let engine = s.engine.clone();
    let binding = blocking(move || {
        match store.plugin_version(&body.hash)? {
            Some(v) if v.owner == m.id => {}
            Some(_) => {
                return Err(ApiError(
                    StatusCode::FORBIDDEN,
                    format!("plugin version {} belongs to another merchant", body.hash),
                ));
            }
            None => return Err(ApiError::not_found(format!("plugin version {}", body.hash))),
        }
        registry
            .enable(&engine, &room_id, &body.hash, &config)
            .map_err(registry_error)
    })
    .await?;
    reload(&s, &room.id);
    Ok(Json(binding))
}

async fn rollback(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path((room, name)): Path<(String, String)>,
) -> Result<Json<crate::store::Binding>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let (registry, room_id) = (s.registry.clone(), room.id.clone());
    let binding =
        blocking(move || registry.rollback(&room_id, &name).map_err(registry_error)).await?;
    reload(&s, &room.id);
    Ok(Json(binding))
}

async fn disable(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path((room, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let (registry, room_id) = (s.registry.clone(), room.id.clone());
    blocking(move || registry.disable(&room_id, &name).map_err(registry_error)).await?;
    reload(&s, &room.id);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct LogsQuery {
    /// Lines to return, newest first (default 100, at most the lines kept).
    limit: Option<usize>,
}

async fn logs(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path((room, name)): Path<(String, String)>,
    Query(q): Query<LogsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let limit = q
        .limit
        .unwrap_or(100)
        .min(crate::plugin::registry::KEPT_LOG_LINES);
    let registry = s.registry.clone();
    let lines = blocking(move || {
        registry
            .logs(&room.id, &name, limit)
            .map_err(registry_error)
    })
    .await?;
    Ok(Json(serde_json::json!({ "logs": lines })))
}

fn reload(s: &AppState, room: &str) {
    if let Some(open) = s.rooms.get(room) {
        open.plugins.reload();
    }
}
