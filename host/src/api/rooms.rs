//! Rooms: create, list, start, stop, stream key, latency mode, room tokens, manual product
//! pushes, and how a viewer page plays a room (public).

use super::body::Body;
use super::{ApiError, AuthMerchant, blocking, owned_room};
use crate::auth::{Claims, Role};
use crate::plugin::model::EventBody;
use crate::room::commerce;
use crate::server::AppState;
use crate::store::{LatencyMode, Room, RoomStatus};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/rooms", post(create).get(list))
        .route("/api/rooms/{room}", get(show))
        .route("/api/rooms/{room}/start", post(start))
        .route("/api/rooms/{room}/stop", post(stop))
        .route("/api/rooms/{room}/stream-key", post(rotate_key))
        .route("/api/rooms/{room}/tokens", post(token))
        .route("/api/rooms/{room}/push", post(push))
        .route("/api/rooms/{room}/media", get(media))
        .route("/api/rooms/{room}/latency-mode", put(set_latency_mode))
        .route("/api/rooms/{room}/playback", get(playback))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyBody {
    mode: LatencyMode,
}

/// The host picks how viewers play the live: `standard` (LL-DASH) or `ultra-low` (WebRTC,
/// with LL-DASH as the page's fallback). Pages read it when they (re)load the video.
async fn set_latency_mode(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
    Body(body): Body<LatencyBody>,
) -> Result<Json<Room>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let store = s.store.clone();
    Ok(Json(
        blocking(move || Ok(store.set_latency_mode(&room.id, body.mode)?)).await?,
    ))
}

/// How a viewer page plays the room (public: the page asks before it starts the video).
#[derive(serde::Serialize)]
struct Playback {
    room: String,
    latency_mode: LatencyMode,
    dash: String,
    hls: String,
    flv: String,
    whep: String,
}

async fn playback(
    State(s): State<AppState>,
    Path(room): Path<String>,
) -> Result<Json<Playback>, ApiError> {
    let store = s.store.clone();
    let id = room.clone();
    let room = blocking(move || Ok(store.room(&id)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("room {room}")))?;
    let m = s.media.room(&room.id);
    Ok(Json(Playback {
        latency_mode: room.latency_mode,
        dash: m.dash,
        hls: m.hls,
        flv: m.flv,
        whep: m.whep,
        room: room.id,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRoom {
    title: String,
}

async fn create(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Body(body): Body<NewRoom>,
) -> Result<(StatusCode, Json<Room>), ApiError> {
    let title = body.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 120 {
        return Err(ApiError::unprocessable(
            "title must have 1 to 120 characters",
        ));
    }
    let store = s.store.clone();
    let room = blocking(move || Ok(store.create_room(&m.id, &title)?)).await?;
    Ok((StatusCode::CREATED, Json(room)))
}

async fn list(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
) -> Result<Json<Vec<Room>>, ApiError> {
    let store = s.store.clone();
    Ok(Json(blocking(move || Ok(store.rooms_of(&m.id)?)).await?))
}

async fn show(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let (online, likes) = s
        .rooms
        .get(&room.id)
        .map_or((0, 0), |r| (r.hub.online(), r.hub.likes_total()));
    let mut v = serde_json::to_value(&room).map_err(ApiError::internal)?;
    v["online"] = online.into();
    v["likes"] = likes.into();
    Ok(Json(v))
}

/// The room's media: live or not, source, renditions, last pipeline error, manifests.
async fn media(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
) -> Result<Json<crate::media::RoomMedia>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    Ok(Json(s.media.room(&room.id)))
}

async fn set_status(
    s: &AppState,
    m: &crate::store::Merchant,
    room: &str,
    status: RoomStatus,
) -> Result<Room, ApiError> {
    let room = owned_room(s, m, room).await?;
    let rooms = s.rooms.clone();
    blocking(move || {
        rooms.set_status(&room.id, status).map_err(|e| match e {
            crate::room::RoomError::Unknown(id) => ApiError::not_found(format!("room {id}")),
            crate::room::RoomError::Store(e) => e.into(),
        })
    })
    .await
}

async fn start(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(set_status(&s, &m, &room, RoomStatus::Live).await?))
}

async fn stop(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(set_status(&s, &m, &room, RoomStatus::Ended).await?))
}

async fn rotate_key(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
) -> Result<Json<Room>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let store = s.store.clone();
    Ok(Json(
        blocking(move || Ok(store.rotate_stream_key(&room.id)?)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    user_id: String,
    name: String,
    role: Role,
    /// Lifetime in seconds (default 12 h, at most 7 days).
    #[serde(default)]
    ttl_s: Option<u64>,
}

/// Mint a signed room token for a host, moderator or known viewer.
async fn token(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
    Body(body): Body<TokenRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    if body.user_id.trim().is_empty() || body.user_id.len() > 64 || body.name.chars().count() > 32 {
        return Err(ApiError::unprocessable(
            "user_id must have 1 to 64 bytes and name at most 32 characters",
        ));
    }
    if crate::room::guests::is_guest(&body.user_id) {
        // Guests' ids are livecart's; a viewer the merchant signed in is never a guest.
        return Err(ApiError::unprocessable(format!(
            "user_id must not start with `{}`, which is reserved for guests",
            crate::room::guests::GUEST_PREFIX
        )));
    }
    let ttl = body.ttl_s.unwrap_or(12 * 3600).clamp(60, 7 * 24 * 3600);
    let exp = crate::auth::now_s() + ttl;
    let claims = Claims {
        sub: body.user_id,
        name: body.name,
        room: room.id,
        role: body.role,
        exp,
    };
    let token = s.rooms.deps.tokens.sign(&claims);
    Ok(Json(
        serde_json::json!({ "token": token, "expires_s": exp }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushRequest {
    product_id: String,
    #[serde(default)]
    style: Option<String>,
    #[serde(default)]
    duration_ms: Option<u32>,
}

/// The host pushes a product card now.
async fn push(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
    Body(body): Body<PushRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let open = s.rooms.open(&room.id).map_err(ApiError::internal)?;
    let (store, hub) = (s.store.clone(), open.hub.clone());
    let card = blocking(move || {
        commerce::push_card(
            &*store,
            &hub,
            &body.product_id,
            body.style,
            body.duration_ms.unwrap_or(0),
            "host",
        )
        .map_err(|e| match e {
            commerce::CommerceError::UnknownProduct(id) => {
                ApiError::not_found(format!("product {id}"))
            }
            other => ApiError::unprocessable(other.to_string()),
        })
    })
    .await?;
    open.plugins.event(EventBody::ProductPushed {
        product_id: card.product.id.clone(),
        push_id: card.push_id.clone(),
    });
    Ok(Json(
        serde_json::to_value(card).map_err(ApiError::internal)?,
    ))
}
