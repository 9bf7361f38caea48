//! `/media` for rooms packaged on another node: every node answers `/media/{room}/…` for
//! every live room, so a load balancer or a CDN can point at all of them.
//!
//! A request for a room this node does not package is relayed to the node the room bus
//! names for it (`Backplane::media_location`): the request goes there with its path and
//! query, and the answer streams back as it arrives (a low-latency segment still being
//! written included), with its status and caching headers. A relayed request carries
//! [`RELAYED`], and a node never relays one again, so two nodes can never bounce a
//! request between them. Without a named node (one node, or no live), the local origin
//! answers as before. WHEP (`POST /media/{room}/whep` with its SDP offer, `DELETE` of a
//! session) is relayed too: the answer names the packaging node's own ICE candidate, so
//! the media then flows between the viewer and that node.

use crate::media::Media;
use crate::room::Rooms;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Marks a relayed request.
pub const RELAYED: &str = "x-livecart-relayed";

/// How long a room's location is remembered (segments come many a second).
const REMEMBER: Duration = Duration::from_secs(1);

/// Request headers passed on to the packaging node.
const PASS_UP: [HeaderName; 5] = [
    header::ACCEPT,
    header::CONTENT_TYPE,
    header::RANGE,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
];

/// Response headers passed back.
const PASS_DOWN: [HeaderName; 10] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::CONTENT_LENGTH,
    header::CACHE_CONTROL,
    header::ETAG,
    header::LAST_MODIFIED,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::ACCESS_CONTROL_ALLOW_ORIGIN,
    header::ACCESS_CONTROL_EXPOSE_HEADERS,
];

/// What the relay needs.
pub struct Relay {
    media: Arc<Media>,
    rooms: Arc<Rooms>,
    /// This node's own URL, never relayed to.
    own: Option<String>,
    http: reqwest::Client,
    known: Mutex<HashMap<String, (Instant, Option<String>)>>,
}

impl Relay {
    pub fn new(media: Arc<Media>, rooms: Arc<Rooms>, own: Option<String>) -> Arc<Relay> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Arc::new(Relay {
            media,
            rooms,
            own,
            http,
            known: Mutex::new(HashMap::new()),
        })
    }

    /// The node packaging `room`, when it is another one.
    async fn elsewhere(&self, room: &str) -> Option<String> {
        let cached = {
            let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            known
                .get(room)
                .filter(|(at, _)| at.elapsed() < REMEMBER)
                .map(|(_, url)| url.clone())
        };
        let url = match cached {
            Some(url) => url,
            None => {
                let url = self.rooms.bus().media_location(room).await;
                let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
                if known.len() > 10_000 {
                    known.clear();
                }
                known.insert(room.to_owned(), (Instant::now(), url.clone()));
                url
            }
        };
        url.filter(|u| self.own.as_deref() != Some(u.as_str()))
    }
}

/// The room of a `/media/{room}/…` path (not `/media/time`).
fn room_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/media/")?;
    let (room, tail) = rest.split_once('/')?;
    (!room.is_empty() && !tail.is_empty()).then_some(room)
}

/// The middleware in front of the origin.
pub async fn relay(State(relay): State<Arc<Relay>>, req: Request, next: Next) -> Response {
    let whep = is_whep(req.uri().path()) && matches!(*req.method(), Method::POST | Method::DELETE);
    let relayable = (matches!(*req.method(), Method::GET | Method::HEAD) || whep)
        && !req.headers().contains_key(RELAYED);
    let Some(room) = room_of(req.uri().path()).filter(|_| relayable) else {
        return next.run(req).await;
    };
    // Percent-encoded room ids are decoded as the origin's own route does.
    let room = percent_decode(room);
    if relay.media.is_live_here(&room) {
        return next.run(req).await;
    }
    let Some(node) = relay.elsewhere(&room).await else {
        return next.run(req).await;
    };
    let path = req
        .uri()
        .path_and_query()
        .map_or(req.uri().path(), |p| p.as_str());
    let url = format!("{}{path}", node.trim_end_matches('/'));
    let (parts, body) = req.into_parts();
    // An SDP offer is a few KB; nothing else relayed has a body.
    let body = match axum::body::to_bytes(body, WHEP_BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "SDP offer too large").into_response(),
    };
    match forward(&relay.http, parts.method, &url, &parts.headers, body).await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(room, node, error = %e, "media relay failed");
            (
                StatusCode::BAD_GATEWAY,
                format!("the node that packages room {room} did not answer"),
            )
                .into_response()
        }
    }
}

/// A WHEP path: `/media/{room}/whep` or a session under it.
fn is_whep(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').split('/');
    matches!(
        (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next()
        ),
        (Some("media"), Some(_), Some("whep"), None | Some(_), None)
    )
}

const WHEP_BODY_LIMIT: usize = 64 * 1024;

async fn forward(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, reqwest::Error> {
    let mut up = http.request(method, url).header(RELAYED, "1");
    if !body.is_empty() {
        up = up.body(body);
    }
    for name in &PASS_UP {
        if let Some(v) = headers.get(name) {
            up = up.header(name, v);
        }
    }
    let answer = up.send().await?;
    let status = answer.status();
    let mut down = Response::builder().status(status);
    for name in &PASS_DOWN {
        if let Some(v) = answer.headers().get(name) {
            down = down.header(name, v);
        }
    }
    down = down.header("x-livecart-relayed-from", HeaderValue::from_static("1"));
    let body = Body::from_stream(answer.bytes_stream().map_err(std::io::Error::other));
    Ok(down
        .body(body)
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response()))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_room_paths_are_relayed() {
        assert_eq!(room_of("/media/demo/live.mpd"), Some("demo"));
        assert_eq!(room_of("/media/demo/p1/v0/3.m4s"), Some("demo"));
        assert_eq!(room_of("/media/time"), None);
        assert_eq!(room_of("/media//live.mpd"), None);
        assert_eq!(room_of("/media/demo/"), None);
        assert_eq!(room_of("/api/rooms"), None);
        assert!(is_whep("/media/demo/whep"));
        assert!(is_whep("/media/demo/whep/whep_0123"));
        assert!(!is_whep("/media/demo/live.mpd"));
        assert!(!is_whep("/media/demo/whep/a/b"));
        assert_eq!(percent_decode("a%20b%zz"), "a b%zz");
    }
}
