//! Each live of a room in numbers a merchant acts on: `GET /api/rooms/{room}/lives`.
//!
//! Per live (newest first, the latest 20): when it ran, its orders, buyers and GMV (the
//! orders placed in the room meanwhile, flash and plain, by `created_ms`), the coupon
//! claims of the room's coupons meanwhile (every claim, so the figure agrees with the
//! coupon table; the per-card analytics count only claims that came from a card), and its
//! audience: peak and average concurrent viewers and watch time, from the per-minute
//! audience the nodes report (`room/audience.rs`; minutes are counted whole, from the one
//! the live started in).

use super::{ApiError, AuthMerchant, blocking, owned_room};
use crate::server::AppState;
use crate::store::{AudienceMinute, Live, Order, Store};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashSet;

/// How many lives the summary covers.
const LIVES: usize = 20;
const MINUTE_MS: u64 = 60_000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/rooms/{room}/lives", get(lives))
}

/// One live's figures.
#[derive(Debug, PartialEq, Serialize)]
pub struct LiveSummary {
    pub started_ms: u64,
    /// `None` while the live runs.
    pub ended_ms: Option<u64>,
    pub duration_ms: u64,
    pub orders: u64,
    pub buyers: u64,
    /// Gross merchandise value: the orders' amounts, in the shop's currency's cents.
    pub gmv_cents: u64,
    pub claims: u64,
    pub peak_viewers: u32,
    /// Watch time over the live's duration.
    pub avg_viewers: f64,
    pub watch_ms: u64,
}

impl LiveSummary {
    /// The figures of `live` (ending at `now_ms` if it runs) from the room's orders, claim
    /// times and audience minutes.
    pub fn of(
        live: &Live,
        now_ms: u64,
        orders: &[Order],
        claims_ms: &[u64],
        audience: &[AudienceMinute],
    ) -> LiveSummary {
        let end = live.ended_ms.unwrap_or(now_ms).max(live.started_ms);
        let during = |t: u64| t >= live.started_ms && t < end.max(live.started_ms + 1);
        let sold: Vec<&Order> = orders.iter().filter(|o| during(o.created_ms)).collect();
        let first_minute = live.started_ms - live.started_ms % MINUTE_MS;
        let watched = audience
            .iter()
            .filter(|m| m.minute_ms >= first_minute && m.minute_ms < end);
        let (watch_ms, peak) = watched.fold((0u64, 0u32), |(w, p), m| {
            (w.saturating_add(m.viewer_ms), p.max(m.peak))
        });
        let duration_ms = end - live.started_ms;
        LiveSummary {
            started_ms: live.started_ms,
            ended_ms: live.ended_ms,
            duration_ms,
            orders: sold.len() as u64,
            buyers: sold
                .iter()
                .map(|o| &o.user_id)
                .collect::<HashSet<_>>()
                .len() as u64,
            gmv_cents: sold.iter().map(|o| o.amount_cents).sum(),
            claims: claims_ms.iter().filter(|t| during(**t)).count() as u64,
            peak_viewers: peak,
            avg_viewers: if duration_ms == 0 {
                0.0
            } else {
                (watch_ms as f64 / duration_ms as f64 * 10.0).round() / 10.0
            },
            watch_ms,
        }
    }
}

async fn lives(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let store = s.store.clone();
    let summaries = blocking(move || summarize(&*store, &room.id)).await?;
    Ok(Json(json!({ "lives": summaries })))
}

fn summarize(store: &dyn Store, room_id: &str) -> Result<Vec<LiveSummary>, ApiError> {
    let lives = store.lives(room_id, LIVES)?;
    let Some(oldest) = lives.last().map(|l| l.started_ms) else {
        return Ok(Vec::new());
    };
    let now = crate::store::now_ms();
    let orders = store.orders_of_room(room_id)?;
    let mut claims_ms = Vec::new();
    for coupon in store.coupons_of_room(room_id)? {
        claims_ms.extend(
            store
                .claims_of_coupon(&coupon.id)?
                .iter()
                .map(|c| c.claimed_ms),
        );
    }
    let audience = store.audience(room_id, oldest - oldest % MINUTE_MS, now + MINUTE_MS)?;
    Ok(lives
        .iter()
        .map(|l| LiveSummary::of(l, now, &orders, &claims_ms, &audience))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(user: &str, at: u64, cents: u64) -> Order {
        Order {
            order_id: format!("o-{user}-{at}"),
            sale_id: None,
            product_id: "p".into(),
            sku_id: None,
            user_id: user.into(),
            quantity: 1,
            amount_cents: cents,
            created_ms: at,
            replayed: false,
        }
    }

    #[test]
    fn a_live_counts_what_happened_while_it_ran() {
        let live = Live {
            room_id: "r".into(),
            started_ms: 10 * MINUTE_MS + 30_000,
            ended_ms: Some(13 * MINUTE_MS + 30_000),
        };
        let orders = [
            order("u1", 10 * MINUTE_MS, 100), // before
            order("u1", 11 * MINUTE_MS, 4900),
            order("u2", 12 * MINUTE_MS, 4900),
            order("u1", 13 * MINUTE_MS, 1900),
            order("u3", 14 * MINUTE_MS, 100), // after
        ];
        let minute = |n: u64, viewer_ms: u64, peak: u32| AudienceMinute {
            minute_ms: n * MINUTE_MS,
            viewer_ms,
            peak,
        };
        let audience = [
            minute(9, 60_000, 1), // before the live's first minute
            minute(10, 60_000, 2),
            minute(11, 240_000, 6),
            minute(12, 180_000, 4),
            minute(13, 60_000, 2),
        ];
        let s = LiveSummary::of(
            &live,
            0,
            &orders,
            &[11 * MINUTE_MS, 20 * MINUTE_MS],
            &audience,
        );
        assert_eq!(
            (s.orders, s.buyers, s.gmv_cents, s.claims),
            (3, 2, 11_700, 1)
        );
        assert_eq!(
            (s.peak_viewers, s.watch_ms, s.duration_ms),
            (6, 540_000, 180_000)
        );
        assert_eq!(s.avg_viewers, 3.0);
        // A running live ends now.
        let running = Live {
            ended_ms: None,
            ..live
        };
        let s = LiveSummary::of(&running, 12 * MINUTE_MS + 30_000, &orders, &[], &audience);
        assert_eq!((s.orders, s.duration_ms, s.ended_ms), (2, 120_000, None));
    }
}
