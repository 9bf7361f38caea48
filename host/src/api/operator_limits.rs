//! The operator's per-merchant plugin limits: `GET`/`PUT
//! /api/operator/merchants/{id}/plugin-limits`. A merchant with no override gets the node's
//! default allowance (`Limits::merchant_code_bytes`); an override raises or lowers it for
//! that merchant only, never past the node's ceiling (`CodeLimits::max_code_bytes`). The
//! answer shows both the override and what applies now.

use super::body::{Whole, WholeObject};
use super::{ApiError, AuthOperator, blocking};
use crate::plugin::policy::Allowance;
use crate::server::AppState;
use crate::store::PluginLimits;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/operator/merchants/{id}/plugin-limits",
        get(show).put(replace),
    )
}

/// The writable override; `null` means "the node's default".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsBody {
    max_code_bytes: Option<u64>,
}

impl WholeObject for LimitsBody {
    const WHAT: &'static str = "plugin limits";
    const FIELDS: &'static [&'static str] = &["max_code_bytes"];
}

/// The override as stored and the allowance it gives.
#[derive(Serialize)]
struct LimitsView {
    merchant_id: String,
    /// What the operator set (`null`: none).
    max_code_bytes: Option<u64>,
    /// What applies to this merchant's next upload.
    effective_max_code_bytes: usize,
    /// The node's ceiling, which no override passes.
    ceiling_max_code_bytes: usize,
}

fn view(s: &AppState, merchant_id: String, stored: &PluginLimits) -> LimitsView {
    let limits = s.engine.limits();
    LimitsView {
        merchant_id,
        max_code_bytes: stored.max_code_bytes,
        effective_max_code_bytes: Allowance::of(limits, stored).max_code_bytes,
        ceiling_max_code_bytes: limits.code.max_code_bytes,
    }
}

async fn show(
    State(s): State<AppState>,
    _: AuthOperator,
    Path(id): Path<String>,
) -> Result<Json<LimitsView>, ApiError> {
    let store = s.store.clone();
    let key = id.clone();
    let stored = blocking(move || Ok(store.plugin_limits(&key)?)).await?;
    Ok(Json(view(&s, id, &stored)))
}

async fn replace(
    State(s): State<AppState>,
    _: AuthOperator,
    Path(id): Path<String>,
    Whole(body): Whole<LimitsBody>,
) -> Result<Json<LimitsView>, ApiError> {
    if body.max_code_bytes == Some(0) {
        return Err(ApiError::unprocessable(
            "max_code_bytes must be positive, or null for the node's default",
        ));
    }
    let wanted = PluginLimits {
        max_code_bytes: body.max_code_bytes,
    };
    let store = s.store.clone();
    let key = id.clone();
    let stored = blocking(move || Ok(store.set_plugin_limits(&key, &wanted)?)).await?;
    tracing::info!(merchant = %id, max_code_bytes = ?stored.max_code_bytes, "operator set plugin limits");
    Ok(Json(view(&s, id, &stored)))
}
