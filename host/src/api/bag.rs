//! The live's product bag (小黄车): `GET` and `PUT /api/rooms/{room}/products`.
//!
//! A `PUT` replaces the whole list with `product_ids`, in that order; viewers in the room
//! get the new list at once (a `products` message) and every later snapshot carries it.
//! An unknown, deleted or another merchant's product, a repeat, or too long a list is
//! refused with 422 naming the first offender, and the old list stays.

use super::body::{Whole, WholeObject};
use super::{ApiError, AuthMerchant, blocking, owned_room};
use crate::room::commerce;
use crate::server::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/rooms/{room}/products", get(show).put(replace))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BagBody {
    product_ids: Vec<String>,
}

impl WholeObject for BagBody {
    const WHAT: &'static str = "product bag";
    const FIELDS: &'static [&'static str] = &["product_ids"];
}

async fn show(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let store = s.store.clone();
    let products = blocking(move || Ok(store.bag(&room.id)?)).await?;
    let products: Vec<Value> = products.iter().map(commerce::bag_view).collect();
    Ok(Json(json!({ "products": products })))
}

async fn replace(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
    Whole(body): Whole<BagBody>,
) -> Result<Json<Value>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let open = s.rooms.open(&room.id).map_err(ApiError::internal)?;
    let (store, hub) = (s.store.clone(), open.hub.clone());
    let products =
        blocking(move || Ok(commerce::set_bag(&*store, &hub, &body.product_ids)?)).await?;
    Ok(Json(json!({ "products": products })))
}
