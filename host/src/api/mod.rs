//! The REST API under `/api`, documented in `openapi.json` (served at `/api/openapi.json`).
//!
//! Merchants authenticate with `Authorization: Bearer <api token>`; every handler scopes
//! what it reads and writes to that merchant, so merchant A never sees or changes
//! merchant B's rooms, products, coupons or plugins (they answer 404, or 403 for plugin
//! versions). A disabled merchant's tokens are refused (403) at once. The operator manages
//! merchants and their tokens under `/api/operator/…` with its own token
//! ([`AuthOperator`]). Errors are `{"error": "..."}` with a status that says what kind;
//! internal failures are logged and answered with a generic message. Request bodies go
//! through [`body::Body`] (or [`body::Whole`] for a `PUT`), so a malformed body, an unknown
//! field or a missing one is answered in that shape too.

mod account;
mod analytics;
mod bag;
mod body;
mod catalog;
mod commerce_body;
mod images;
mod lives;
mod operator;
mod operator_limits;
mod plugins;
mod rooms;
mod viewers;

use crate::server::AppState;
use crate::store::{Merchant, Room, StoreError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

/// The API routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .merge(account::routes())
        .merge(operator::routes())
        .merge(operator_limits::routes())
        .merge(rooms::routes())
        .merge(catalog::routes())
        .merge(bag::routes())
        .merge(lives::routes())
        .merge(images::routes())
        .merge(plugins::routes())
        .merge(analytics::routes())
        .merge(viewers::routes())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

/// An API error: a status and a message that never leaks internals.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, msg.into())
    }
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        ApiError(StatusCode::NOT_FOUND, format!("unknown {what}"))
    }
    pub fn unprocessable(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::UNPROCESSABLE_ENTITY, msg.into())
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {e}");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Invalid(msg) => ApiError::unprocessable(msg),
            StoreError::Conflict(msg) => ApiError(StatusCode::CONFLICT, msg),
            other if other.is_unavailable() => {
                tracing::warn!("store unavailable: {other}");
                ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store is unavailable right now; try again shortly".into(),
                )
            }
            other => ApiError::internal(other),
        }
    }
}

/// Run store work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

fn unauthorized(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::UNAUTHORIZED, msg.into())
}

fn forbidden(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::FORBIDDEN, msg.into())
}

/// The bearer token of a request, or 401 naming the kind of token expected.
fn bearer(parts: &Parts, kind: &str) -> Result<String, ApiError> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized(format!("missing `Authorization: Bearer <{kind}>`")))
}

/// The merchant making the request: an unrevoked API token of an enabled merchant. A
/// disabled merchant's tokens are refused with 403 (and a message saying so) from the
/// moment the operator disables it; the operator token is refused with 403 too, since
/// it names no merchant.
pub struct AuthMerchant(pub Merchant);

impl FromRequestParts<AppState> for AuthMerchant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts, "api token")?;
        if state.operator.matches(&token) {
            return Err(forbidden(
                "this is the operator token; merchant routes need a merchant's api token",
            ));
        }
        let store = state.store.clone();
        match blocking(move || Ok(store.merchant_by_token(&token)?)).await? {
            Some(m) if m.is_enabled() => Ok(AuthMerchant(m)),
            Some(m) => Err(forbidden(format!(
                "merchant {} is disabled; ask the operator to re-enable it",
                m.id
            ))),
            None => Err(unauthorized("invalid api token")),
        }
    }
}

/// The operator making the request (`Authorization: Bearer <operator token>`): a missing
/// or wrong token is 401, a merchant's API token 403.
pub struct AuthOperator;

impl FromRequestParts<AppState> for AuthOperator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts, "operator token")?;
        if state.operator.matches(&token) {
            return Ok(AuthOperator);
        }
        let store = state.store.clone();
        match blocking(move || Ok(store.merchant_by_token(&token)?)).await? {
            Some(_) => Err(forbidden(
                "a merchant's api token cannot use operator routes",
            )),
            None => Err(unauthorized("invalid operator token")),
        }
    }
}

/// The merchant's room, or 404 (also for other merchants' rooms).
pub async fn owned_room(
    state: &AppState,
    merchant: &Merchant,
    room_id: &str,
) -> Result<Room, ApiError> {
    let (store, id, mid) = (state.store.clone(), room_id.to_owned(), merchant.id.clone());
    blocking(move || {
        store
            .room(&id)?
            .filter(|r| r.merchant_id == mid)
            .ok_or_else(|| ApiError::not_found(format!("room {id}")))
    })
    .await
}
