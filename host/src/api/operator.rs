//! The operator API under `/api/operator`: create, list, show, disable and re-enable
//! merchants; issue, rotate and revoke their API tokens. Every route needs the operator
//! token ([`AuthOperator`]); `livecart admin` is a client of these routes.
//!
//! A token's secret appears once, in the answer that issues it (`secret`); listings show
//! only token ids and labels.

use super::{ApiError, AuthOperator, blocking};
use crate::server::AppState;
use crate::store::{ApiToken, Merchant};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/operator/merchants", post(create).get(list))
        .route("/api/operator/merchants/{id}", get(show))
        .route("/api/operator/merchants/{id}/disable", post(disable))
        .route("/api/operator/merchants/{id}/enable", post(enable))
        .route(
            "/api/operator/merchants/{id}/tokens",
            post(issue).get(tokens),
        )
        .route(
            "/api/operator/merchants/{id}/tokens/{token}/rotate",
            post(rotate),
        )
        .route(
            "/api/operator/merchants/{id}/tokens/{token}/revoke",
            post(revoke),
        )
}

/// A JSON body, or 422 saying what is wrong with it; an empty body is `T::default()`.
fn body<T: DeserializeOwned + Default>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::unprocessable(format!("invalid {what}: {e}")))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewMerchant {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewToken {
    #[serde(default)]
    label: String,
}

/// A freshly issued token: the only answer that carries its secret.
#[derive(Serialize)]
struct Issued {
    token: ApiToken,
    secret: String,
}

#[derive(Serialize)]
struct Created {
    merchant: Merchant,
    token: ApiToken,
    secret: String,
}

#[derive(Serialize)]
struct Detail {
    merchant: Merchant,
    tokens: Vec<ApiToken>,
}

#[derive(Serialize)]
struct Rotated {
    token: ApiToken,
    secret: String,
    /// The id of the token this one replaces (now revoked).
    replaces: String,
}

async fn create(
    State(s): State<AppState>,
    _: AuthOperator,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let req: NewMerchant = body(&bytes, "merchant")?;
    let store = s.store.clone();
    let created = blocking(move || {
        let (merchant, secret) = store.create_merchant(&req.name)?;
        let token = store
            .tokens_of(&merchant.id)?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::internal("a new merchant has no token"))?;
        tracing::info!(merchant = %merchant.id, "operator created a merchant");
        Ok(Created {
            merchant,
            token,
            secret,
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(State(s): State<AppState>, _: AuthOperator) -> Result<Json<Vec<Merchant>>, ApiError> {
    let store = s.store.clone();
    Ok(Json(blocking(move || Ok(store.merchants()?)).await?))
}

async fn show(
    State(s): State<AppState>,
    _: AuthOperator,
    Path(id): Path<String>,
) -> Result<Json<Detail>, ApiError> {
    let store = s.store.clone();
    let detail = blocking(move || {
        let merchant = store
            .merchant(&id)?
            .ok_or_else(|| ApiError::not_found(format!("merchant {id}")))?;
        let tokens = store.tokens_of(&id)?;
        Ok(Detail { merchant, tokens })
    })
    .await?;
    Ok(Json(detail))
}

async fn set_disabled(s: &AppState, id: String, disabled: bool) -> Result<Merchant, ApiError> {
    let store = s.store.clone();
    blocking(move || {
        let m = store.set_merchant_disabled(&id, disabled)?;
        tracing::info!(merchant = %m.id, disabled, "operator changed a merchant");
        Ok(m)
    })
    .await
}

async fn disable(
    State(s): State<AppState>,
    _: AuthOperator,
    Path(id): Path<String>,
) -> Result<Json<Merchant>, ApiError> {
    Ok(Json(set_disabled(&s, id, true).await?))
}

async fn enable(
    State(s): State<AppState>,
    _: AuthOperator,
    Path(id): Path<String>,
) -> Result<Json<Merchant>, ApiError> {
    Ok(Json(set_disabled(&s, id, false).await?))
}

async fn tokens(
    State(s): State<AppState>,
    _: AuthOperator,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    let store = s.store.clone();
    Ok(Json(blocking(move || Ok(store.tokens_of(&id)?)).await?))
}

async fn issue(
    State(s): State<AppState>,
    _: AuthOperator,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let req: NewToken = body(&bytes, "token request")?;
    let store = s.store.clone();
    let (token, secret) = blocking(move || Ok(store.issue_token(&id, &req.label)?)).await?;
    tracing::info!(merchant = %token.merchant_id, token = %token.id, "operator issued a token");
    Ok((StatusCode::CREATED, Json(Issued { token, secret })))
}

async fn rotate(
    State(s): State<AppState>,
    _: AuthOperator,
    Path((id, old)): Path<(String, String)>,
) -> Result<Json<Rotated>, ApiError> {
    let store = s.store.clone();
    let replaces = old.clone();
    let (token, secret) = blocking(move || Ok(store.rotate_token(&id, &old)?)).await?;
    tracing::info!(merchant = %token.merchant_id, old = %replaces, new = %token.id, "operator rotated a token");
    Ok(Json(Rotated {
        token,
        secret,
        replaces,
    }))
}

async fn revoke(
    State(s): State<AppState>,
    _: AuthOperator,
    Path((id, token)): Path<(String, String)>,
) -> Result<Json<ApiToken>, ApiError> {
    let store = s.store.clone();
    let token = blocking(move || Ok(store.revoke_token(&id, &token)?)).await?;
    tracing::info!(merchant = %token.merchant_id, token = %token.id, "operator revoked a token");
    Ok(Json(token))
}
