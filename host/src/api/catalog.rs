//! Products, coupons and flash sales of the calling merchant.
//!
//! `POST` creates (a product `POST` with a known id replaces it); `PUT` on `/{id}`
//! replaces the whole product or coupon and needs every writable field ([`Whole`]), so
//! nothing is reset by being left out. Unknown fields are refused everywhere.

use super::body::{Body, Whole, same_id};
use super::commerce_body::{CouponBody, ProductBody, SaleBody};
use super::{ApiError, AuthMerchant, blocking, owned_room};
use crate::catalog::Product;
use crate::room::commerce;
use crate::server::AppState;
use crate::store::{Coupon, FlashSale, NewCoupon};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/products", post(upsert_product).get(list_products))
        .route(
            "/api/products/{id}",
            put(put_product).get(get_product).delete(delete_product),
        )
        .route("/api/coupons", post(create_coupon).get(list_coupons))
        .route(
            "/api/coupons/{id}",
            get(get_coupon).put(update_coupon).delete(delete_coupon),
        )
        .route("/api/coupons/{id}/unlock", post(unlock_coupon))
        .route(
            "/api/rooms/{room}/flash-sales",
            post(create_sale).get(list_sales),
        )
        .route("/api/flash-sales/{id}/end", post(end_sale))
}

fn check_product(p: &Product) -> Result<(), ApiError> {
    if p.title.trim().is_empty() || p.title.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "title must have 1 to 200 characters",
        ));
    }
    if p.id.len() > 64 {
        return Err(ApiError::unprocessable("id must be at most 64 bytes"));
    }
    for (field, url) in [("buy_url", &p.buy_url), ("image_url", &p.image_url)] {
        let ours = field == "image_url" && super::images::is_image_path(url);
        if !(ours || url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ApiError::unprocessable(format!(
                "{field} {url:?} is not an http(s) URL"
            )));
        }
    }
    crate::store::check_skus(&p.skus).map_err(ApiError::from)?;
    Ok(())
}

async fn upsert_product(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Body(p): Body<ProductBody>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let p = p.into_product();
    check_product(&p)?;
    let store = s.store.clone();
    let rec = blocking(move || Ok(store.upsert_product(&m.id, &p)?)).await?;
    Ok((StatusCode::CREATED, Json(rec.product)))
}

async fn put_product(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(id): Path<String>,
    Whole(p): Whole<ProductBody>,
) -> Result<Json<Product>, ApiError> {
    same_id(p.id.as_deref(), &id)?;
    let mut p = p.into_product();
    p.id = id;
    check_product(&p)?;
    let store = s.store.clone();
    Ok(Json(
        blocking(move || Ok(store.upsert_product(&m.id, &p)?.product)).await?,
    ))
}

async fn get_product(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(id): Path<String>,
) -> Result<Json<Product>, ApiError> {
    let store = s.store.clone();
    blocking(move || {
        store
            .product(&m.id, &id)?
            .ok_or_else(|| ApiError::not_found(format!("product {id}")))
    })
    .await
    .map(Json)
}

async fn list_products(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
) -> Result<Json<Vec<Product>>, ApiError> {
    let store = s.store.clone();
    Ok(Json(blocking(move || Ok(store.products(&m.id)?)).await?))
}

async fn delete_product(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let store = s.store.clone();
    blocking(move || match store.delete_product(&m.id, &id)? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found(format!("product {id}"))),
    })
    .await
}

async fn check_coupon_room(
    s: &AppState,
    m: &crate::store::Merchant,
    c: &NewCoupon,
) -> Result<(), ApiError> {
    if let Some(room) = &c.room_id {
        owned_room(s, m, room).await?;
    }
    Ok(())
}

async fn create_coupon(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Body(c): Body<CouponBody>,
) -> Result<(StatusCode, Json<Coupon>), ApiError> {
    let c = NewCoupon::from(c);
    check_coupon_room(&s, &m, &c).await?;
    let store = s.store.clone();
    // Created claimable: it is created locked and then unlocked as `unlock` does, so its
    // rooms' viewers get it now, not at their next join.
    let unlocked = c.unlocked;
    let locked = NewCoupon {
        unlocked: false,
        ..c
    };
    let mid = m.id.clone();
    let coupon = blocking(move || Ok(store.create_coupon(&mid, &locked)?)).await?;
    if !unlocked {
        return Ok((StatusCode::CREATED, Json(coupon)));
    }
    let announced = announce_unlock(&s, &m, &coupon).await?;
    let store = s.store.clone();
    let coupon = blocking(move || {
        let stored = if announced {
            store.coupon(&coupon.id)?
        } else {
            store.unlock_coupon(&coupon.id)?
        };
        stored.ok_or_else(|| ApiError::not_found(format!("coupon {}", coupon.id)))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(coupon)))
}

async fn list_coupons(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
) -> Result<Json<Vec<Coupon>>, ApiError> {
    let store = s.store.clone();
    Ok(Json(blocking(move || Ok(store.coupons_of(&m.id)?)).await?))
}

/// One of the merchant's coupons (another merchant's is 404).
async fn get_coupon(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(id): Path<String>,
) -> Result<Json<Coupon>, ApiError> {
    let store = s.store.clone();
    blocking(move || {
        store
            .coupon(&id)?
            .filter(|c| c.merchant_id == m.id)
            .ok_or_else(|| ApiError::not_found(format!("coupon {id}")))
    })
    .await
    .map(Json)
}

async fn update_coupon(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(id): Path<String>,
    Whole(c): Whole<CouponBody>,
) -> Result<Json<Coupon>, ApiError> {
    same_id(c.id.as_deref(), &id)?;
    let c = NewCoupon::from(c);
    check_coupon_room(&s, &m, &c).await?;
    let store = s.store.clone();
    blocking(move || {
        store
            .update_coupon(&m.id, &id, &c)?
            .ok_or_else(|| ApiError::not_found(format!("coupon {id}")))
    })
    .await
    .map(Json)
}

async fn delete_coupon(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let store = s.store.clone();
    blocking(move || match store.delete_coupon(&m.id, &id)? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found(format!("coupon {id}"))),
    })
    .await
}

/// Unlock a coupon now; rooms it is offered in that are open hear about it.
async fn unlock_coupon(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(id): Path<String>,
) -> Result<Json<Coupon>, ApiError> {
    let store = s.store.clone();
    let (cid, mid) = (id.clone(), m.id.clone());
    let coupon = blocking(move || {
        store
            .coupon(&cid)?
            .filter(|c| c.merchant_id == mid)
            .ok_or_else(|| ApiError::not_found(format!("coupon {cid}")))
    })
    .await?;
    let announced = announce_unlock(&s, &m, &coupon).await?;
    let store = s.store.clone();
    blocking(move || {
        if !announced {
            store.unlock_coupon(&id)?;
        }
        store
            .coupon(&id)?
            .ok_or_else(|| ApiError::not_found(format!("coupon {id}")))
    })
    .await
    .map(Json)
}

/// Unlock `coupon` in each of its rooms that is open on this node, announcing it to their
/// viewers; returns whether any was (otherwise nothing was unlocked).
async fn announce_unlock(
    s: &AppState,
    m: &crate::store::Merchant,
    coupon: &Coupon,
) -> Result<bool, ApiError> {
    let rooms: Vec<String> = match &coupon.room_id {
        Some(r) => vec![r.clone()],
        None => {
            let store = s.store.clone();
            let mid = m.id.clone();
            blocking(move || Ok(store.rooms_of(&mid)?))
                .await?
                .into_iter()
                .map(|r| r.id)
                .collect()
        }
    };
    let mut announced = false;
    for room in rooms {
        if let Some(open) = s.rooms.get(&room) {
            let (store, hub, id) = (s.store.clone(), open.hub.clone(), coupon.id.clone());
            blocking(move || {
                commerce::unlock_coupon(&*store, &hub, &id).map_err(ApiError::internal)
            })
            .await?;
            announced = true;
        }
    }
    Ok(announced)
}

async fn create_sale(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
    Body(sale): Body<SaleBody>,
) -> Result<(StatusCode, Json<FlashSale>), ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    // An empty room_id is "the path's", as the store's type has always read it.
    same_id(sale.room_id.as_deref().filter(|r| !r.is_empty()), &room.id)?;
    let sale = sale.into_sale(room.id.clone());
    let open = s.rooms.open(&room.id).map_err(ApiError::internal)?;
    let (store, hub) = (s.store.clone(), open.hub.clone());
    // The sale just created, not whichever is running latest (sales may overlap).
    blocking(move || {
        commerce::start_flash_sale(&*store, &hub, sale)
            .map_err(|e| ApiError::unprocessable(e.to_string()))
    })
    .await
    .map(|s| (StatusCode::CREATED, Json(s)))
}

async fn list_sales(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
) -> Result<Json<Vec<FlashSale>>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let store = s.store.clone();
    Ok(Json(
        blocking(move || Ok(store.flash_sales_of_room(&room.id)?)).await?,
    ))
}

async fn end_sale(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(id): Path<String>,
) -> Result<Json<FlashSale>, ApiError> {
    let store = s.store.clone();
    let (sid, mid) = (id.clone(), m.id.clone());
    let sale = blocking(move || {
        let sale = store
            .flash_sale(&sid)?
            .filter(|f| f.merchant_id == mid)
            .ok_or_else(|| ApiError::not_found(format!("flash sale {sid}")))?;
        store
            .end_flash_sale(&sale.id, crate::store::now_ms())?
            .ok_or_else(|| ApiError::not_found(format!("flash sale {sid}")))
    })
    .await?;
    if let Some(open) = s.rooms.get(&sale.room_id) {
        let value = serde_json::to_value(&sale).map_err(ApiError::internal)?;
        open.hub
            .publish(crate::room::outbox::Class::Critical, None, |o| {
                crate::room::protocol::ServerMsg::FlashSale {
                    o,
                    event: "end".into(),
                    sale: value,
                    // An ended sale is urgent: shown at once, not at a media time.
                    media_ms: None,
                    period: None,
                }
            });
    }
    Ok(Json(sale))
}
