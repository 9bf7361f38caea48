//! Commerce effects in a room, shared by host commands and plugin actions: product cards,
//! coupon unlocks, flash sales. Each checks ownership against the room's merchant, writes
//! the store, then announces the change on the hub and, during a live, in the video
//! stream at the media time it happened (see `timeline`).

use super::hub::{CommerceState, RoomHub};
use super::outbox::Class;
use super::protocol::{CardView, ServerMsg};
use super::timeline::{InBandEvent, MediaTime};
use crate::store::{FlashSale, NewFlashSale, Push, Store};
use std::sync::Arc;

/// Why a commerce effect was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommerceError {
    #[error("unknown product `{0}`")]
    UnknownProduct(String),
    #[error("unknown coupon `{0}`")]
    UnknownCoupon(String),
    #[error("{0}")]
    Refused(String),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// Push a product card to the room, record it for analytics, and return it.
pub fn push_card(
    store: &dyn Store,
    hub: &RoomHub,
    product_id: &str,
    style: Option<String>,
    duration_ms: u32,
    source: &str,
) -> Result<CardView, CommerceError> {
    let product = store
        .product(&hub.merchant_id, product_id)?
        .ok_or_else(|| CommerceError::UnknownProduct(product_id.to_owned()))?;
    let now = crate::store::now_ms();
    let media = hub.media_now();
    let card = CardView {
        push_id: new_id("push"),
        product,
        style,
        duration_ms: if duration_ms == 0 { 8_000 } else { duration_ms },
        server_ms: now,
        media_ms: media.as_ref().map(|m| m.ms),
        period: media.as_ref().map(|m| m.period.clone()),
        source: source.to_owned(),
    };
    store.record_push(&Push {
        push_id: card.push_id.clone(),
        room_id: hub.id.clone(),
        product_id: product_id.to_owned(),
        variant: card.style.clone(),
        server_send_ms: now,
        media_ms: card.media_ms,
        source: source.to_owned(),
    })?;
    hub.pin_card(card.clone());
    if let Some(at) = media {
        let p = &card.product;
        let full = serde_json::json!({
            "type": "product", "push_id": card.push_id, "product_id": p.id,
            "title": p.title, "price_cents": p.price_cents, "currency": p.currency,
            "image_url": p.image_url, "buy_url": p.buy_url, "style": card.style,
            "duration_ms": card.duration_ms, "server_ms": card.server_ms, "media_ms": at.ms,
        });
        // Long titles or URLs must not keep the card out of the stream: the WebSocket
        // copy has the whole product.
        let small = serde_json::json!({
            "type": "product", "push_id": card.push_id, "product_id": p.id,
            "style": card.style, "duration_ms": card.duration_ms,
            "server_ms": card.server_ms, "media_ms": at.ms,
        });
        in_band(hub, card.push_id.clone(), at, card.duration_ms, full, small);
    }
    Ok(card)
}

/// Hand an event to the live stream: `payload`, or `fallback` when it is too large.
fn in_band(
    hub: &RoomHub,
    id: String,
    at: MediaTime,
    duration_ms: u32,
    payload: serde_json::Value,
    fallback: serde_json::Value,
) {
    /// The media layer's payload limit.
    const MAX: usize = 4096;
    let mut bytes = payload.to_string().into_bytes();
    if bytes.len() > MAX {
        bytes = fallback.to_string().into_bytes();
    }
    hub.add_media_event(InBandEvent {
        id,
        at,
        duration_ms,
        payload: bytes,
    });
}

/// Unlock a coupon of the room's merchant and announce it.
pub fn unlock_coupon(
    store: &dyn Store,
    hub: &RoomHub,
    coupon_id: &str,
) -> Result<(), CommerceError> {
    let coupon = store
        .coupon(coupon_id)?
        .filter(|c| c.merchant_id == hub.merchant_id)
        .filter(|c| c.room_id.as_deref().is_none_or(|r| r == hub.id))
        .ok_or_else(|| CommerceError::UnknownCoupon(coupon_id.to_owned()))?;
    if coupon.unlocked {
        return Ok(());
    }
    let coupon = store
        .unlock_coupon(&coupon.id)?
        .ok_or_else(|| CommerceError::UnknownCoupon(coupon_id.to_owned()))?;
    let value = serde_json::to_value(&coupon).unwrap_or_default();
    let media = hub.media_now();
    hub.publish(Class::Critical, None, |o| ServerMsg::Coupon {
        o,
        event: "unlocked".into(),
        coupon: value,
        media_ms: media.as_ref().map(|m| m.ms),
        period: media.as_ref().map(|m| m.period.clone()),
    });
    if let Some(at) = media {
        let event = |title: &str| {
            serde_json::json!({
                "type": "coupon", "event": "unlocked", "coupon_id": coupon.id,
                "title": title, "discount_cents": coupon.discount_cents, "media_ms": at.ms,
            })
        };
        let (full, small) = (event(&coupon.title), event(""));
        in_band(hub, new_id("ev"), at, 0, full, small);
    }
    Ok(())
}

/// Start a flash sale on one of the merchant's products and announce it.
pub fn start_flash_sale(
    store: &dyn Store,
    hub: &RoomHub,
    sale: NewFlashSale,
) -> Result<FlashSale, CommerceError> {
    let sale = store
        .create_flash_sale(&hub.merchant_id, &sale)
        .map_err(|e| CommerceError::Refused(e.to_string()))?;
    let value = sale_view(store, &sale);
    let media = hub.media_now();
    hub.publish(Class::Critical, None, |o| ServerMsg::FlashSale {
        o,
        event: "start".into(),
        sale: value,
        media_ms: media.as_ref().map(|m| m.ms),
        period: media.as_ref().map(|m| m.period.clone()),
    });
    if let Some(at) = media {
        let event = serde_json::json!({
            "type": "flash_sale", "event": "start", "sale_id": sale.id,
            "product_id": sale.product_id, "price_cents": sale.price_cents,
            "stock": sale.stock, "ends_ms": sale.ends_ms, "media_ms": at.ms,
        });
        in_band(hub, new_id("ev"), at, 0, event.clone(), event);
    }
    Ok(sale)
}

/// A sale as viewers get it: the stored sale plus what they need to show its product
/// (`product`: title, image, list price and currency), so a viewer who joins mid-sale sees
/// the product, not its bare id, without having seen its card.
pub fn sale_view(store: &dyn Store, sale: &FlashSale) -> serde_json::Value {
    let mut value = serde_json::to_value(sale).unwrap_or_default();
    if let Ok(Some(p)) = store.product(&sale.merchant_id, &sale.product_id) {
        value["product"] = serde_json::json!({
            "id": p.id, "title": p.title, "image_url": p.image_url,
            "price_cents": p.price_cents, "currency": p.currency,
        });
    }
    value
}

/// A bag product as viewers get it: what the bag's list shows (image, title, price,
/// stock) and what the card it opens shows (link, description).
pub fn bag_view(p: &crate::store::Product) -> serde_json::Value {
    serde_json::json!({
        "id": p.id, "title": p.title, "image_url": p.image_url,
        "price_cents": p.price_cents, "currency": p.currency, "stock": p.stock,
        "buy_url": p.buy_url, "description": p.description,
    })
}

/// Replace the room's bag and tell its viewers: the store checks the list (see
/// [`crate::store::BagStore`]) and keeps the old one on a refusal.
pub fn set_bag(
    store: &dyn Store,
    hub: &RoomHub,
    product_ids: &[String],
) -> Result<Vec<serde_json::Value>, crate::store::StoreError> {
    store.set_bag(&hub.id, product_ids)?;
    let products: Vec<_> = store.bag(&hub.id)?.iter().map(bag_view).collect();
    let list = products.clone();
    hub.publish(Class::Critical, None, |o| ServerMsg::Products {
        o,
        products: list,
    });
    Ok(products)
}

/// Snapshots read coupons, the running sales and the bag from the store.
pub struct StoreCommerce(pub Arc<dyn Store>);

impl CommerceState for StoreCommerce {
    fn coupons(&self, room: &str) -> Vec<serde_json::Value> {
        let now = crate::store::now_ms();
        self.0
            .coupons_of_room(room)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.unlocked && (c.valid_until_ms == 0 || c.valid_until_ms > now))
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect()
    }

    fn flash_sales(&self, room: &str, now_ms: u64) -> Vec<serde_json::Value> {
        self.0
            .active_flash_sales(room, now_ms)
            .unwrap_or_default()
            .iter()
            .map(|s| sale_view(self.0.as_ref(), s))
            .collect()
    }

    fn bag(&self, room: &str) -> Vec<serde_json::Value> {
        self.0
            .bag(room)
            .unwrap_or_default()
            .iter()
            .map(bag_view)
            .collect()
    }
}

/// A fresh id with a prefix, e.g. `push_5f3a…`.
pub fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{prefix}_{t:x}{n:x}")
}
