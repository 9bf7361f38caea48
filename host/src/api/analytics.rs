//! Analytics per product per minute and per A/B variant, as JSON or CSV.

use super::{ApiError, AuthMerchant, blocking, owned_room};
use crate::server::AppState;
use crate::store::{SyncSummary, analytics_csv, now_ms};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/rooms/{room}/analytics", get(room_analytics))
        .route("/api/rooms/{room}/analytics/sync", get(room_sync))
}

/// How far from their moment viewers saw the room's cards: a summary and every display.
async fn room_sync(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
    Query(range): Query<Range>,
) -> Result<Response, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let (from, to) = range.bounds()?;
    let store = s.store.clone();
    let samples = blocking(move || Ok(store.sync_samples(&room.id, from, to)?)).await?;
    let summary = SyncSummary::of(&samples);
    Ok(Json(serde_json::json!({ "summary": summary, "samples": samples })).into_response())
}

impl Range {
    /// `[from, to)` in Unix ms: the last 24 hours by default.
    fn bounds(&self) -> Result<(u64, u64), ApiError> {
        let to = self.to.unwrap_or_else(|| now_ms() + 60_000);
        let from = self
            .from
            .unwrap_or_else(|| to.saturating_sub(24 * 3600 * 1000));
        if from > to {
            return Err(ApiError::bad_request("`from` is after `to`"));
        }
        Ok((from, to))
    }
}

#[derive(Deserialize)]
struct Range {
    /// Unix ms; default: 24 hours ago.
    from: Option<u64>,
    /// Unix ms; default: now.
    to: Option<u64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

async fn room_analytics(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    Path(room): Path<String>,
    Query(range): Query<Range>,
) -> Result<Response, ApiError> {
    let room = owned_room(&s, &m, &room).await?;
    let (from, to) = range.bounds()?;
    let store = s.store.clone();
    let rows =
        blocking(move || Ok(store.analytics_by_minute(&m.id, Some(&room.id), from, to)?)).await?;
    match range.format.as_deref() {
        None | Some("json") => Ok(Json(serde_json::json!({ "rows": rows })).into_response()),
        Some("csv") => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"analytics.csv\"",
                ),
            ],
            analytics_csv(&rows),
        )
            .into_response()),
        Some(other) => Err(ApiError::bad_request(format!(
            "unknown format `{other}`; use json or csv"
        ))),
    }
}
