//! Request bodies, refused in the API's error shape.
//!
//! [`Body`] is axum's `Json` with its rejections turned into [`ApiError`]s, so a body
//! that is not JSON, has a field of the wrong type or a field the route does not know
//! answers `{"error": "..."}` with serde's message (which names the field) instead of
//! axum's plain text. Every request type is `#[serde(deny_unknown_fields)]`: a field we do
//! not know is refused (422), never silently dropped.
//!
//! [`Whole`] is the body of a `PUT`, which replaces the whole resource: every field of
//! [`WholeObject::FIELDS`] must be present (a nullable one may be `null`), and a body
//! missing some is refused with 422 naming all of them. Without this, a `PUT` that left
//! out a field would quietly reset it to its default (a coupon's `room_id` to "every
//! room", `unlocked` to locked).

use super::ApiError;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A JSON request body; its rejection is an [`ApiError`].
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| Body(v))
            .map_err(rejection)
    }
}

/// The fields a `PUT` body must carry (all of the writable ones).
pub trait WholeObject {
    /// What the resource is called in messages ("coupon").
    const WHAT: &'static str;
    /// The fields that must be present.
    const FIELDS: &'static [&'static str];
}

/// The body of a `PUT`: the whole object, or 422 naming every missing field.
pub struct Whole<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + WholeObject> FromRequest<S> for Whole<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Body(value) = Body::<Value>::from_request(req, state).await?;
        let Some(object) = value.as_object() else {
            return Err(ApiError::unprocessable(format!(
                "the body must be a JSON object: a whole {}",
                T::WHAT
            )));
        };
        let missing: Vec<String> = T::FIELDS
            .iter()
            .filter(|f| !object.contains_key(**f))
            .map(|f| format!("`{f}`"))
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::unprocessable(format!(
                "PUT replaces the whole {}: missing field{} {}",
                T::WHAT,
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            )));
        }
        serde_json::from_value(value)
            .map(Whole)
            .map_err(|e| ApiError::unprocessable(format!("invalid {}: {e}", T::WHAT)))
    }
}

/// An `id` in the body of a request on `/…/{id}` must be the path's, if it is given.
pub fn same_id(body: Option<&str>, path: &str) -> Result<(), ApiError> {
    match body {
        Some(id) if id != path => Err(ApiError::unprocessable(format!(
            "the body's id {id:?} is not the path's {path:?} (ids cannot be changed)"
        ))),
        _ => Ok(()),
    }
}

/// Axum's JSON rejection in our error shape: its status (400 for a syntax error, 415
/// without a JSON content type, 422 for data that does not fit) and serde's message.
fn rejection(r: JsonRejection) -> ApiError {
    let status = match &r {
        JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
        other => other.status(),
    };
    ApiError(status, r.body_text())
}
