//! Unguessable identifiers and secrets, from the operating system's randomness.

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
