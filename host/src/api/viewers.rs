//! Viewer identity for the viewer page, without a merchant: a guest room token that keeps
//! one identity across reconnects and reloads (and a new display name), and "who am I"
//! for a token, both with the viewer's A/B variant in the room.
//!
//! What a guest token does not stop: anyone may mint as many guest identities as they
//! like (exactly as with token-less guests), so per-user coupon limits bind a guest only
//! while it keeps its token. Merchants who need stronger identities mint viewer tokens
//! themselves (`POST /api/rooms/{room}/tokens`) after their own sign-in.

use super::{ApiError, blocking};
use crate::auth::{Claims, Role};
use crate::room::commerce::new_id;
use crate::server::AppState;
use crate::store::{CARD_VARIANTS, ab_variant};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// How long a guest token lasts.
const GUEST_TTL_S: u64 = 7 * 24 * 3600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/rooms/{room}/guest", post(guest).put(rename))
        .route("/api/rooms/{room}/me", get(me))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GuestRequest {
    #[serde(default)]
    name: Option<String>,
}

/// Mint a viewer token for a new guest of an existing room.
async fn guest(
    State(s): State<AppState>,
    Path(room): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let room = existing_room(&s, &room).await?;
    // The body is optional: no body (or an empty one) is a guest without a name.
    let body: GuestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        GuestRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::unprocessable(format!("invalid guest request: {e}")))?
    };
    let id = new_id("g");
    let name = body
        .name
        .map(|n| n.trim().chars().take(32).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("Guest {}", &id[id.len().saturating_sub(4)..]));
    let exp = crate::auth::now_s() + GUEST_TTL_S;
    let claims = Claims {
        sub: id,
        name,
        room: room.clone(),
        role: Role::Viewer,
        exp,
    };
    let token = s.rooms.deps.tokens.sign(&claims);
    Ok(Json(json!({
        "token": token,
        "expires_s": exp,
        "user": user(&claims, &room),
        "variant": ab_variant(&claims.sub, &room, CARD_VARIANTS),
    })))
}

/// A guest changes its display name and keeps its identity: the same user id in a new
/// token (`Authorization: Bearer <guest token>`). Only guest tokens of this room: names in
/// merchant-minted tokens are the merchant's to choose.
async fn rename(
    State(s): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let room = existing_room(&s, &room).await?;
    let claims = bearer_claims(&s, &headers)?;
    if claims.room != room || claims.role != Role::Viewer || !claims.sub.starts_with("g_") {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "only a guest token of this room can be renamed".into(),
        ));
    }
    let body: GuestRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::unprocessable(format!("invalid guest request: {e}")))?;
    let name = body
        .name
        .map(|n| n.trim().chars().take(32).collect::<String>())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::unprocessable("name must not be empty"))?;
    let claims = Claims {
        name,
        exp: crate::auth::now_s() + GUEST_TTL_S,
        ..claims
    };
    let token = s.rooms.deps.tokens.sign(&claims);
    Ok(Json(json!({
        "token": token,
        "expires_s": claims.exp,
        "user": user(&claims, &room),
        "variant": ab_variant(&claims.sub, &room, CARD_VARIANTS),
    })))
}

/// The verified claims of `Authorization: Bearer <room token>`, or 401.
fn bearer_claims(s: &AppState, headers: &HeaderMap) -> Result<Claims, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError(
                StatusCode::UNAUTHORIZED,
                "missing `Authorization: Bearer <room token>`".into(),
            )
        })?;
    s.rooms
        .deps
        .tokens
        .verify(token.trim(), crate::auth::now_s())
        .map_err(|e| ApiError(StatusCode::UNAUTHORIZED, e.to_string()))
}

/// Who a room token's holder is in this room (`Authorization: Bearer <room token>`).
async fn me(
    State(s): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let room = existing_room(&s, &room).await?;
    let claims = bearer_claims(&s, &headers)?;
    Ok(Json(json!({
        "user": user(&claims, &room),
        "variant": ab_variant(&claims.sub, &room, CARD_VARIANTS),
    })))
}

/// The user as the room will see it: a token's role holds in its own room only.
fn user(claims: &Claims, room: &str) -> Value {
    let role = if claims.room == room {
        claims.role
    } else {
        Role::Viewer
    };
    json!({ "id": claims.sub, "name": claims.name, "role": role })
}

async fn existing_room(s: &AppState, room: &str) -> Result<String, ApiError> {
    let (store, id) = (s.store.clone(), room.to_owned());
    blocking(move || {
        store
            .room(&id)?
            .map(|r| r.id)
            .ok_or_else(|| ApiError::not_found(format!("room {id}")))
    })
    .await
}
