//! Durable key-value state for this plugin in this room (needs [`crate::Capability::Kv`]).
//!
//! The space is shared by every version of the plugin (same manifest name), so it survives
//! instance restarts, upgrades and rollbacks. The host enforces quotas on key size, value
//! size, key count and total bytes; a write over quota returns [`crate::KvError::QuotaExceeded`].

use crate::Result;
use crate::bindings::livecart::plugin0_1_0::kv as host;

/// The raw bytes under `key`.
pub fn get(key: &str) -> Option<Vec<u8>> {
    host::get(key)
}

/// Store raw bytes under `key`.
pub fn set(key: &str, value: &[u8]) -> Result {
    host::set(key, value).map_err(Into::into)
}

/// Remove `key` (absent keys are fine).
pub fn delete(key: &str) -> Result {
    host::delete(key).map_err(Into::into)
}

/// Write `new` (delete when `None`) only if the current value equals `expected` (`None`
/// meaning absent). Returns whether it wrote.
pub fn compare_and_set(key: &str, expected: Option<&[u8]>, new: Option<&[u8]>) -> Result<bool> {
    host::compare_and_set(key, expected, new).map_err(Into::into)
}

/// The UTF-8 string under `key`; `None` when absent or not UTF-8.
pub fn get_str(key: &str) -> Option<String> {
    get(key).and_then(|v| String::from_utf8(v).ok())
}

/// Store a string under `key`.
pub fn set_str(key: &str, value: &str) -> Result {
    set(key, value.as_bytes())
}

/// The little-endian `u64` under `key`; `None` when absent or not 8 bytes.
pub fn get_u64(key: &str) -> Option<u64> {
    get(key).and_then(|v| {
        <[u8; 8]>::try_from(v.as_slice())
            .ok()
            .map(u64::from_le_bytes)
    })
}

/// Store a `u64` under `key` (8 bytes, little-endian).
pub fn set_u64(key: &str, value: u64) -> Result {
    set(key, &value.to_le_bytes())
}

/// The JSON value under `key`, parsed into `T`.
pub fn get_json<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>> {
    match get(key) {
        None => Ok(None),
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
    }
}

/// Store `value` as JSON under `key`.
pub fn set_json<T: serde::Serialize>(key: &str, value: &T) -> Result {
    set(key, &serde_json::to_vec(value)?)
}
