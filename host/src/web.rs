//! The web pages: the viewer page (`/live/{room}`), the replay page (`/replay/{room}` lists
//! a room's ended lives, `/replay/{room}/{period}` plays one) and the merchant console
//! (`/console`),
//! with their scripts, styles and the dash.js and hls.js players under `/assets/`. The files come from
//! `web/src/` (and `web/node_modules`), embedded at build time by `build.rs`; `--web-dir`
//! serves them from disk instead, for working on the pages without rebuilding.
//!
//! Pages carry a strict Content-Security-Policy: scripts and styles only from this origin,
//! no inline code. A comment or product text that slips past the pages' own escaping still
//! cannot run script.

use crate::server::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// What HTML pages may load. Product images come from merchants' own hosts (any origin);
/// video is fetched by MSE (blob:); the room socket is same-origin `ws:`/`wss:`.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src * data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Where the page files come from.
#[derive(Debug, Default)]
pub struct Pages {
    /// `Some(web/)`: read `src/*` and `node_modules/dashjs` from disk on every request.
    dir: Option<PathBuf>,
}

impl Pages {
    /// The copies embedded in the binary.
    pub fn embedded() -> Pages {
        Pages { dir: None }
    }

    /// Files read from `dir` (the `web/` directory) on each request.
    pub fn from_dir(dir: PathBuf) -> Pages {
        Pages { dir: Some(dir) }
    }

    /// A file as it will be sent: gzip-compressed when the client takes it and an
    /// embedded compressed copy exists.
    fn file(&self, name: &str, gzip_ok: bool) -> Option<File> {
        if !valid_name(name) {
            return None;
        }
        match &self.dir {
            Some(dir) => {
                let path = match name {
                    "dash.all.min.js" => dir.join("node_modules/dashjs/dist").join(name),
                    "hls.min.js" => dir.join("node_modules/hls.js/dist").join(name),
                    _ => dir.join("src").join(name),
                };
                std::fs::read(path).ok().map(|b| File {
                    bytes: Cow::Owned(b),
                    etag: None,
                    gzipped: false,
                })
            }
            None => {
                let e = embedded(name)?;
                Some(match (e.gzipped, gzip_ok) {
                    (Some(gz), true) => File {
                        bytes: Cow::Borrowed(gz),
                        etag: Some(&e.etag_gzipped),
                        gzipped: true,
                    },
                    _ => File {
                        bytes: Cow::Borrowed(e.bytes),
                        etag: Some(&e.etag),
                        gzipped: false,
                    },
                })
            }
        }
    }
}

/// A file to send.
struct File {
    bytes: Cow<'static, [u8]>,
    /// Embedded files only: they never change while the process runs.
    etag: Option<&'static str>,
    gzipped: bool,
}

/// An embedded file with its ETags (a hash of its bytes, computed once; the compressed
/// copy is another representation, so another tag).
struct Embedded {
    bytes: &'static [u8],
    gzipped: Option<&'static [u8]>,
    etag: String,
    etag_gzipped: String,
}

fn embedded(name: &str) -> Option<&'static Embedded> {
    static TABLE: OnceLock<HashMap<&'static str, Embedded>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(name, bytes, gzipped)| {
                let hash = hex::encode(&Sha256::digest(bytes)[..12]);
                let e = Embedded {
                    bytes,
                    gzipped: *gzipped,
                    etag: format!("\"{hash}\""),
                    etag_gzipped: format!("\"{hash}-gz\""),
                };
                (*name, e)
            })
            .collect()
    });
    table.get(name)
}

/// A flat file name: letters, digits, `.`, `-`, `_`; no path, no leading dot.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(console))
        .route("/live/{room}", get(viewer))
        .route("/replay/{room}", get(replay))
        .route("/replay/{room}/{period}", get(replay_period))
        .route("/assets/{name}", get(asset))
}

async fn console(State(s): State<AppState>, headers: HeaderMap) -> Response {
    serve(&s.pages, "console.html", &headers)
}

async fn viewer(
    State(s): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Response {
    room_page(&s, room, "viewer.html", &headers).await
}

async fn replay(
    State(s): State<AppState>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Response {
    room_page(&s, room, "replay.html", &headers).await
}

/// The page finds out itself whether the period exists (from `/media/{room}/replays`).
async fn replay_period(
    State(s): State<AppState>,
    Path((room, _period)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    room_page(&s, room, "replay.html", &headers).await
}

/// A page of an existing room, else the 404 page.
async fn room_page(s: &AppState, room: String, page: &str, headers: &HeaderMap) -> Response {
    let store = s.store.clone();
    let exists = tokio::task::spawn_blocking(move || store.room(&room).ok().flatten().is_some())
        .await
        .unwrap_or(false);
    if !exists {
        return not_found_page(&s.pages, headers);
    }
    serve(&s.pages, page, headers)
}

async fn asset(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&s.pages, &name, &headers)
}

/// Whether the request's `If-None-Match` names `etag` (the client's copy is current).
pub fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
}

/// A file with its type, caching (revalidate by ETag) and, for pages, security headers.
fn serve(pages: &Pages, name: &str, headers: &HeaderMap) -> Response {
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let Some(file) = pages.file(name, gzip_ok) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mut response = if let Some(etag) = file.etag {
        let fresh = etag_matches(headers, etag);
        let mut r = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            file.bytes.into_response()
        };
        let h = r.headers_mut();
        h.insert(header::ETAG, HeaderValue::from_static(etag));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if file.gzipped {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    } else {
        let mut r = file.bytes.into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if name.ends_with(".html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
    }
    response
}

/// Whether an `Accept-Encoding` value takes gzip (and does not refuse it with `q=0`).
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|part| {
        let mut fields = part.split(';').map(str::trim);
        let coding = fields.next().unwrap_or("");
        let refused = fields.any(|f| {
            f.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// The page of a room that does not exist (`viewer-missing.html`, styled and in the
/// viewer's language), with status 404.
fn not_found_page(pages: &Pages, headers: &HeaderMap) -> Response {
    // Never a 304: a 404 is not revalidated, so only the encoding is taken from the request.
    let mut only_encoding = HeaderMap::new();
    if let Some(v) = headers.get(header::ACCEPT_ENCODING) {
        only_encoding.insert(header::ACCEPT_ENCODING, v.clone());
    }
    let mut r = serve(pages, "viewer-missing.html", &only_encoding);
    if r.status().is_success() {
        *r.status_mut() = StatusCode::NOT_FOUND;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_directory_are_refused() {
        for bad in ["", "..", ".env", "a/b", "a\\b", "%2e%2e", "x y"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_name("viewer-room.js"));
    }

    #[test]
    fn gzip_is_sent_only_to_clients_that_take_it() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("gzip;q=0, br"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn disk_mode_does_not_serve_outside_src() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        std::fs::write(dir.path().join("src/a.js"), "ok").unwrap();
        let pages = Pages::from_dir(dir.path().to_path_buf());
        assert!(pages.file("secret", false).is_none());
        let file = pages.file("a.js", true).map(|f| f.bytes.into_owned());
        assert_eq!(file, Some(b"ok".to_vec()));
    }
}
