//! The HTTP origin: the axum routes under `/media` (layout in the [module docs](super)),
//! manifests, replay listing, CORS on every response and OPTIONS preflights. Path
//! parameters are checked strictly ([`valid_id`], `u64` segment numbers) before anything
//! touches the ring or the disk; errors are JSON `{"error": …}`. Segment delivery lives in
//! `segments.rs`; a client causing too many 404s is slowed down with 429s (`throttle.rs`).

use super::record::{RecordError, Recorder};
use super::recording::RecordedEvent;
use super::throttle::{self, NotFoundLimiter, NotFoundLimits};
use super::{MpdOptions, hls, llhls, mpd, segments, time, valid_id};
use crate::package::state::MediaState;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::time::SystemTime;

/// Everything the routes need.
#[derive(Clone)]
pub struct Origin {
    pub state: Arc<MediaState>,
    pub recordings: Arc<Recorder>,
    pub opts: MpdOptions,
}

/// The `/media` routes, ready to merge into the host's router, with the default 404
/// limits. Serve it with `ConnectInfo<SocketAddr>` for the limiter to know clients.
pub fn router(origin: Origin) -> Router {
    router_limited(origin, NotFoundLimits::default())
}

/// The `/media` routes with these 404 limits per client ([`throttle`]).
pub fn router_limited(origin: Origin, limits: NotFoundLimits) -> Router {
    let limiter = Arc::new(NotFoundLimiter::new(limits));
    Router::new()
        .route("/media/time", get(now).options(preflight))
        .route("/media/{room}/live.mpd", get(live_mpd).options(preflight))
        .route("/media/{room}/master.m3u8", get(master).options(preflight))
        .route(
            "/media/{room}/live.flv",
            get(super::flv::live_flv).options(preflight),
        )
        .route("/media/{room}/replays", get(replays).options(preflight))
        .route(
            "/media/{room}/events.json",
            get(live_events).options(preflight),
        )
        .route(
            "/media/{room}/replay/{period}/events.json",
            get(replay_events).options(preflight),
        )
        .route(
            "/media/{room}/replay/{file}",
            get(replay).options(preflight),
        )
        .route(
            "/media/{room}/{period}/{rep}/{file}",
            get(rep_file).options(preflight),
        )
        .layer(axum::middleware::from_fn(move |req, next| {
            throttle::limit(limiter.clone(), req, next)
        }))
        .layer(axum::middleware::map_response(cors))
        .with_state(origin)
}

pub(super) const NO_STORE: &str = "no-store";
pub(super) const SHORT: &str = "public, max-age=1";
pub(super) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const DASH: &str = "application/dash+xml";
const HLS: &str = "application/vnd.apple.mpegurl";

/// An error response: JSON `{"error": message}`, not cached.
#[derive(Debug)]
pub(super) struct HttpError(pub StatusCode, pub String);

pub(super) fn not_found(what: impl Into<String>) -> HttpError {
    HttpError(StatusCode::NOT_FOUND, what.into())
}

pub(super) fn bad_request(what: impl Into<String>) -> HttpError {
    HttpError(StatusCode::BAD_REQUEST, what.into())
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = axum::Json(serde_json::json!({ "error": self.1 }));
        (self.0, [(header::CACHE_CONTROL, "no-cache")], body).into_response()
    }
}

impl From<RecordError> for HttpError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::NotFound => not_found("no such recording"),
            RecordError::InvalidId(_) => bad_request(e.to_string()),
            e => {
                tracing::error!(error = %e, "recording read failed");
                HttpError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "recording unavailable".into(),
                )
            }
        }
    }
}

/// A body with its type and cache policy.
pub(super) fn reply(
    body: impl Into<axum::body::Body>,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body.into(),
    )
        .into_response()
}

/// Check every path parameter.
fn ids<T>(
    p: Result<Path<T>, PathRejection>,
    get: impl Fn(&T) -> Vec<&str>,
) -> Result<T, HttpError> {
    let Path(p) = p.map_err(|e| bad_request(format!("bad path: {e}")))?;
    if let Some(bad) = get(&p).into_iter().find(|s| !valid_id(s)) {
        return Err(bad_request(format!("invalid id {bad:?}")));
    }
    Ok(p)
}

async fn now() -> Response {
    reply(
        time::iso8601(SystemTime::now()),
        "text/plain; charset=utf-8",
        NO_STORE,
    )
}

/// The period the live URLs of the room named in the path serve (live, or just ended).
fn live_period(
    o: &Origin,
    p: Result<Path<String>, PathRejection>,
) -> Result<std::sync::Arc<crate::package::ring::Period>, HttpError> {
    let room = ids(p, |r| vec![r.as_str()])?;
    o.state
        .serving(&room)
        .ok_or_else(|| not_found("room is not live"))
}

async fn live_mpd(
    State(o): State<Origin>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, HttpError> {
    let period = live_period(&o, p)?;
    let body = mpd::live_mpd(&period, &o.opts, SystemTime::now())
        .ok_or_else(|| not_found("live stream is not ready yet"))?;
    Ok(reply(body, DASH, SHORT))
}

async fn master(
    State(o): State<Origin>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, HttpError> {
    let period = live_period(&o, p)?;
    let body =
        hls::live_master(&period).ok_or_else(|| not_found("live stream is not ready yet"))?;
    Ok(reply(body, HLS, SHORT))
}

async fn replays(
    State(o): State<Origin>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, HttpError> {
    let room = ids(p, |r| vec![r.as_str()])?;
    let rec = o.recordings.clone();
    let list = tokio::task::spawn_blocking(move || rec.list(&room))
        .await
        .unwrap_or_default();
    let body = serde_json::json!({ "replays": list }).to_string();
    Ok(reply(body, "application/json", SHORT))
}

/// `{"period": id, "events": [{id, emsg_id, media_ms, duration_ms, payload}, …]}`.
fn events_body(period: &str, events: &[RecordedEvent]) -> String {
    serde_json::json!({ "period": period, "events": events }).to_string()
}

/// The live period's timed events.
async fn live_events(
    State(o): State<Origin>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, HttpError> {
    let period = live_period(&o, p)?;
    let events: Vec<RecordedEvent> = period
        .events
        .list()
        .iter()
        .map(|e| RecordedEvent::from_event(e))
        .collect();
    Ok(reply(
        events_body(&period.id, &events),
        "application/json",
        SHORT,
    ))
}

/// A recorded period's timed events (a replay page's timeline markers).
async fn replay_events(
    State(o): State<Origin>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, HttpError> {
    let (room, period) = ids(p, |(r, p)| vec![r.as_str(), p.as_str()])?;
    let rec = o.recordings.load_async(&room, &period).await?;
    let events = o.recordings.events_async(&room, &period).await?;
    let cache = if rec.ended {
        "public, max-age=60"
    } else {
        SHORT
    };
    Ok(reply(
        events_body(&period, &events),
        "application/json",
        cache,
    ))
}

/// `/media/{room}/replay/{period}.mpd` and `…/{period}.m3u8`.
async fn replay(
    State(o): State<Origin>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, HttpError> {
    let (room, file) = ids(p, |(r, _)| vec![r.as_str()])?;
    let (period, dash) = match (file.strip_suffix(".mpd"), file.strip_suffix(".m3u8")) {
        (Some(p), _) => (p, true),
        (_, Some(p)) => (p, false),
        _ => return Err(not_found("no such replay manifest")),
    };
    if !valid_id(period) {
        return Err(bad_request(format!("invalid id {period:?}")));
    }
    let rec = o.recordings.load_async(&room, period).await?;
    let cache = if rec.ended {
        "public, max-age=60"
    } else {
        SHORT
    };
    Ok(if dash {
        let events = o.recordings.events_async(&room, period).await?;
        reply(mpd::vod_mpd(&rec, &events, &o.opts), DASH, cache)
    } else {
        reply(hls::vod_master(&rec), HLS, cache)
    })
}

/// What a file name under `{period}/{rep}/` asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RepFile {
    Init,
    Playlist,
    Number(u64),
    /// `{n}.{i}.m4s`: part `i` of segment `n` (LL-HLS).
    Part(u64, usize),
    /// `t{time}.m4s`: a recorded segment by start time.
    Time(u64),
}

pub(super) fn parse_file(file: &str) -> Option<RepFile> {
    let digits = |s: &str| {
        (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match file {
        "init.mp4" => Some(RepFile::Init),
        "index.m3u8" => Some(RepFile::Playlist),
        f => {
            let stem = f.strip_suffix(".m4s")?;
            if let Some((n, i)) = stem.split_once('.') {
                let i = usize::try_from(digits(i)?).ok()?;
                return Some(RepFile::Part(digits(n)?, i));
            }
            match stem.strip_prefix('t') {
                Some(t) => digits(t).map(RepFile::Time),
                None => digits(stem).map(RepFile::Number),
            }
        }
    }
}

async fn rep_file(
    State(o): State<Origin>,
    p: Result<Path<(String, String, String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, HttpError> {
    let (room, period, rep, file) = ids(p, |(r, p, rep, _)| vec![r.as_str(), p, rep])?;
    let what = parse_file(&file).ok_or_else(|| bad_request(format!("bad file name {file:?}")))?;
    match what {
        RepFile::Init => segments::init(&o, &room, &period, &rep).await,
        RepFile::Number(n) => segments::segment(&o, &room, &period, &rep, n).await,
        RepFile::Time(t) => segments::by_time(&o, &room, &period, &rep, t).await,
        RepFile::Part(n, i) => llhls::part(&o, &room, &period, &rep, n, i).await,
        RepFile::Playlist => {
            let wait = llhls::directives(query.as_deref())?;
            if let Some(live) = o.state.live(&room).filter(|p| p.id == period) {
                if let Some(d) = &wait {
                    llhls::block(&live, &rep, d).await?;
                }
                let body = hls::live_media_shared(&live, &rep)
                    .ok_or_else(|| not_found("no such representation"))?;
                return Ok(reply(body, HLS, SHORT));
            }
            let rec = o.recordings.load_async(&room, &period).await?;
            let events = o.recordings.events_async(&room, &period).await?;
            let body = hls::vod_media(&rec, &events, &rep)
                .ok_or_else(|| not_found("no such representation"))?;
            let cache = if rec.ended {
                "public, max-age=60"
            } else {
                SHORT
            };
            Ok(reply(body, HLS, cache))
        }
    }
}

/// CORS on every response.
pub(super) async fn cors(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        // Location: a WHEP session's resource (`whep`).
        HeaderValue::from_static(
            "Content-Length, Content-Type, Cache-Control, Date, Age, Location",
        ),
    );
    // Lets players measure chunk arrival times (low-latency throughput estimation).
    h.insert("timing-allow-origin", HeaderValue::from_static("*"));
    res
}

async fn preflight(headers: HeaderMap) -> Response {
    let allow_headers = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static("*"));
    (
        StatusCode::NO_CONTENT,
        [
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            ),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers),
            (
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            ),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(parse_file("init.mp4"), Some(RepFile::Init));
        assert_eq!(parse_file("index.m3u8"), Some(RepFile::Playlist));
        assert_eq!(parse_file("12.m4s"), Some(RepFile::Number(12)));
        assert_eq!(parse_file("t900000.m4s"), Some(RepFile::Time(900_000)));
        assert_eq!(parse_file("12.3.m4s"), Some(RepFile::Part(12, 3)));
        for bad in [
            "",
            ".m4s",
            "-1.m4s",
            "+1.m4s",
            "1.mp4",
            "1.m4s.tmp",
            "99999999999999999999.m4s",
            "t.m4s",
            "x1.m4s",
            "../1.m4s",
            "1..m4s",
            ".1.m4s",
            "1.2.3.m4s",
            "t1.2.m4s",
        ] {
            assert_eq!(parse_file(bad), None, "{bad}");
        }
    }
}
