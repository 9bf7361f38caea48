//! Product images: `POST /api/images` stores an image the merchant uploads (the raw body,
//! PNG, JPEG, GIF or WebP up to 2 MiB, its `Content-Type` saying which) and answers with
//! its URL; `GET /images/{id}` serves it to anyone, cached for a year (`immutable`: the
//! id is the content's hash, so the bytes behind a URL never change) and revalidated by
//! ETag. A product's `image_url` may be such a path (`/images/img_…`) or an http(s) URL.

use super::{ApiError, AuthMerchant, blocking};
use crate::server::AppState;
use crate::store::{ImageRecord, MAX_IMAGE_BYTES};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

/// Where images are served.
pub const IMAGE_PATH: &str = "/images/";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/images",
            // One byte over the limit is enough to know the upload is too large.
            post(upload).layer(DefaultBodyLimit::max(MAX_IMAGE_BYTES + 1)),
        )
        .route("/images/{id}", get(serve))
}

/// Whether `url` names an image livecart serves (`/images/img_` and 32 hex digits).
pub fn is_image_path(url: &str) -> bool {
    url.strip_prefix(IMAGE_PATH)
        .and_then(|id| id.strip_prefix("img_"))
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[derive(Serialize)]
struct Uploaded {
    #[serde(flatten)]
    image: ImageRecord,
    /// The path to put in a product's `image_url`.
    url: String,
}

async fn upload(
    State(s): State<AppState>,
    AuthMerchant(m): AuthMerchant,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let bytes = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the image is larger than the limit of {MAX_IMAGE_BYTES} bytes (2 MiB)"),
        ),
        status => ApiError(status, e.body_text()),
    })?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let store = s.store.clone();
    let image = blocking(move || Ok(store.put_image(&m.id, &declared, &bytes)?)).await?;
    let url = format!("{IMAGE_PATH}{}", image.id);
    Ok((StatusCode::CREATED, Json(Uploaded { image, url })))
}

async fn serve(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !is_image_path(&format!("{IMAGE_PATH}{id}")) {
        return Err(ApiError::not_found(format!("image {id}")));
    }
    let etag = format!("\"{id}\"");
    let fresh = crate::web::etag_matches(&headers, &etag);
    let store = s.store.clone();
    let key = id.clone();
    let found = blocking(move || Ok(store.image(&key)?)).await?;
    let Some((content_type, bytes)) = found else {
        return Err(ApiError::not_found(format!("image {id}")));
    };
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes.into_response()
    };
    let h = response.headers_mut();
    let value = |v: &str| HeaderValue::from_str(v).map_err(ApiError::internal);
    if !fresh {
        h.insert(header::CONTENT_TYPE, value(&content_type)?);
    }
    h.insert(header::ETAG, value(&etag)?);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}
