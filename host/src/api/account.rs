//! The calling merchant's own account: `GET /api/me` answers who the API token belongs to
//! (id and display name), so the console can show the shop's name.

use super::AuthMerchant;
use crate::server::AppState;
use crate::store::Merchant;
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/me", get(me))
}

async fn me(AuthMerchant(m): AuthMerchant) -> Json<Merchant> {
    Json(m)
}
