//! Ingest: everything that turns an outside stream into hub sessions. RTMP and RTMPS
//! servers for OBS-style publishers, RTSP pull from IP cameras, and the built-in demo source.
//! Each one claims the room's slot in the [`crate::hub::StreamHub`] and publishes frames;
//! none of them knows about packaging.

pub mod demo;
pub mod rtmp;
pub mod rtsp;
pub mod tls;

/// Why a publisher was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRejection {
    #[error("unknown stream key")]
    UnknownKey,
    #[error("unknown application {0:?} (publish to /live/<stream-key>)")]
    UnknownApp(String),
    #[error("room {0} is not accepting streams: {1}")]
    RoomClosed(String, String),
    #[error("stream key lookup failed: {0}")]
    Lookup(String),
}

/// Maps a stream key to the room it publishes into. The host implements it over its store.
pub trait StreamKeys: Send + Sync + 'static {
    /// The room id for `key`, or why not. May block briefly (an SQLite lookup).
    fn room_for_key(&self, key: &str) -> Result<String, KeyRejection>;
}

/// A fixed key → room table, for tests and tools.
#[derive(Debug, Default, Clone)]
pub struct StaticKeys(pub std::collections::HashMap<String, String>);

impl StreamKeys for StaticKeys {
    fn room_for_key(&self, key: &str) -> Result<String, KeyRejection> {
        self.0.get(key).cloned().ok_or(KeyRejection::UnknownKey)
    }
}
