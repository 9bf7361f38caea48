//! What every engine shares beyond the traits: the random source of ids and secrets, the
//! clock, integer conversions for columns that are signed, and the idempotency key rule.

use crate::StoreError;
use std::fs::File;
use std::io::Read;
use std::sync::OnceLock;

/// `bytes` random bytes from `/dev/urandom`, hex-encoded. Fails only if the OS has no
/// randomness to give, in which case nothing secret may be made.
pub fn random_hex(bytes: usize) -> std::io::Result<String> {
    static URANDOM: OnceLock<File> = OnceLock::new();
    let file = match URANDOM.get() {
        Some(file) => file,
        None => {
            let opened = File::open("/dev/urandom")?;
            URANDOM.get_or_init(|| opened)
        }
    };
    let mut buf = vec![0u8; bytes];
    (&*file).read_exact(&mut buf)?;
    Ok(hex::encode(buf))
}

/// `bytes` random bytes, hex-encoded, as a store error when the OS has none.
pub fn random_id(bytes: usize) -> Result<String, StoreError> {
    random_hex(bytes).map_err(StoreError::Random)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A `u64` as a signed 64-bit column stores it; values beyond `i64::MAX` saturate.
pub fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored integer back as `u64`; negative values (never written) read as zero.
pub fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A stored integer back as `u32`, saturating.
pub fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// An idempotency key to use: the caller's, or a fresh one (no idempotency) when empty.
pub fn effective_key(key: &str) -> Result<String, StoreError> {
    if key.is_empty() {
        Ok(format!("auto_{}", random_id(16)?))
    } else {
        Ok(key.to_owned())
    }
}
