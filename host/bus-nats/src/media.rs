//! Where each room's live video is packaged, on a JetStream key-value bucket, so any node
//! can relay `/media/{room}/…` to the node that has it.
//!
//! A node packaging a room puts `<unix ms> <url>` under the room's key and rewrites it
//! every [`REFRESH`]; it deletes the key when the live ends. Entries older than
//! [`FRESH`] are ignored, so a dead node stops being named within that (nats-server 2.9
//! leaves no marker when the bucket's max age removes an entry, so freshness is read
//! from the value). Lookups are one direct get.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How often an announcement is rewritten.
pub const REFRESH: Duration = Duration::from_secs(2);
/// How old an announcement may be and still count.
pub const FRESH: Duration = Duration::from_secs(6);

/// Open the media directory bucket, creating it if needed (with a KV bucket's settings;
/// see `lease::bucket` for why the stream is created here).
pub(crate) async fn bucket(js: &jetstream::Context, name: &str) -> Result<kv::Store, String> {
    crate::lease::kv_bucket(
        js,
        name,
        "livecart: which node packages each room's live video",
        FRESH * 2,
    )
    .await
}

/// The rooms this node announces, each with the task keeping its entry fresh.
#[derive(Default)]
pub(crate) struct Announcements(Mutex<HashMap<String, tokio::task::JoinHandle<()>>>);

impl Announcements {
    pub(crate) fn set(&self, store: &kv::Store, room: &str, url: Option<String>) {
        let key = crate::lease::kv_key("m", room);
        let mut tasks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = tasks.remove(room) {
            old.abort();
        }
        let store = store.clone();
        match url {
            Some(url) => {
                let task = tokio::spawn(async move {
                    loop {
                        let value = Bytes::from(format!("{} {url}", livecart_bus::now_ms()));
                        if let Err(e) = store.put(&key, value).await {
                            tracing::warn!(%key, error = %e, "media location not announced");
                        }
                        tokio::time::sleep(REFRESH).await;
                    }
                });
                tasks.insert(room.to_owned(), task);
            }
            None => {
                tokio::spawn(async move {
                    if let Err(e) = store.delete(&key).await {
                        tracing::debug!(%key, error = %e, "media location not withdrawn; it goes stale");
                    }
                });
            }
        }
    }
}

impl Drop for Announcements {
    fn drop(&mut self) {
        for (_, t) in self.0.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            t.abort();
        }
    }
}

/// The URL announced for `room`, if fresh.
pub(crate) async fn locate(store: kv::Store, room: String) -> Option<String> {
    let key = crate::lease::kv_key("m", &room);
    let value = tokio::time::timeout(Duration::from_secs(1), store.get(&key))
        .await
        .ok()?
        .ok()??;
    parse(&value, livecart_bus::now_ms())
}

/// `<unix ms> <url>`, if it is fresh at `now_ms`.
fn parse(value: &[u8], now_ms: u64) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    let (ms, url) = text.split_once(' ')?;
    let ms: u64 = ms.parse().ok()?;
    let fresh = now_ms.saturating_sub(ms) <= FRESH.as_millis() as u64;
    (fresh && (url.starts_with("http://") || url.starts_with("https://"))).then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fresh_http_announcements_count() {
        assert_eq!(
            parse(b"1000 http://10.0.0.2:8080", 2000),
            Some("http://10.0.0.2:8080".into())
        );
        assert_eq!(parse(b"1000 http://10.0.0.2:8080", 1000 + 7000), None);
        assert_eq!(parse(b"1000 ftp://x", 1000), None);
        assert_eq!(parse(b"soon http://x", 1000), None);
        assert_eq!(parse(b"\xff", 1000), None);
    }
}
