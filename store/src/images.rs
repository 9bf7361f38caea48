//! Product images the merchant uploads: stored by livecart (in the store, so every node
//! serves them) and addressed by their content, so an image's URL never changes meaning
//! and can be cached forever.
//!
//! An image is PNG, JPEG, GIF or WebP, recognised by its first bytes (the declared type
//! must agree), at most [`MAX_IMAGE_BYTES`]; a shop keeps at most [`MAX_IMAGES`]. Its id
//! is `img_` and the first 32 hex digits of its SHA-256: uploading the same bytes again
//! gives the same id and stores nothing new.

use crate::StoreError;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The largest image accepted, bytes.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;
/// The most images one shop keeps.
pub const MAX_IMAGES: u64 = 1000;

/// A stored image without its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageRecord {
    pub id: String,
    pub content_type: String,
    pub size: u64,
    pub created_ms: u64,
}

/// The image type its first bytes say, if it is one livecart stores.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The id of an image with these bytes.
pub fn image_id(bytes: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(bytes));
    format!("img_{}", &digest[..32])
}

/// Check an upload: its size, its type by content, and that the declared type (the
/// request's `Content-Type`, parameters ignored) is that one. Returns the type.
pub fn check_image(declared: &str, bytes: &[u8]) -> Result<&'static str, StoreError> {
    if bytes.is_empty() {
        return Err(StoreError::Invalid("the image is empty".into()));
    }
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(StoreError::Invalid(format!(
            "the image is {} bytes; the limit is {MAX_IMAGE_BYTES} bytes (2 MiB)",
            bytes.len()
        )));
    }
    let Some(kind) = sniff_image(bytes) else {
        return Err(StoreError::Invalid(
            "not a PNG, JPEG, GIF or WebP image".into(),
        ));
    };
    let declared = declared.split(';').next().unwrap_or("").trim();
    if !declared.eq_ignore_ascii_case(kind) {
        return Err(StoreError::Invalid(format!(
            "the image is {kind} but was sent as {:?}",
            if declared.is_empty() {
                "(no type)"
            } else {
                declared
            }
        )));
    }
    Ok(kind)
}

/// Product images.
///
/// Contract: [`put_image`](Self::put_image) is idempotent by content (the same bytes from
/// the same shop are one image) and refuses, with [`StoreError::Invalid`], a new image past
/// the shop's [`MAX_IMAGES`]; engines call [`check_image`] first. Images are public: any
/// id reads, whoever uploaded it.
pub trait ImageStore {
    /// Store an image of the merchant's (checked by [`check_image`]).
    fn put_image(
        &self,
        merchant_id: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<ImageRecord, StoreError>;

    /// An image's type and bytes.
    fn image(&self, id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_bytes() {
        let png = b"\x89PNG\r\n\x1a\n rest";
        assert_eq!(check_image("image/png", png).expect("png"), "image/png");
        assert_eq!(
            check_image("IMAGE/PNG; q=1", png).expect("case, params"),
            "image/png"
        );
        let e = check_image("image/jpeg", png).expect_err("lies");
        assert!(
            e.to_string()
                .ends_with("the image is image/png but was sent as \"image/jpeg\""),
            "{e}"
        );
        assert!(
            check_image("image/svg+xml", b"<svg/>").is_err(),
            "SVG is refused"
        );
        assert!(check_image("image/png", &[]).is_err());
        let big = [png.as_slice(), &vec![0; MAX_IMAGE_BYTES]].concat();
        assert!(
            check_image("image/png", &big)
                .expect_err("big")
                .to_string()
                .contains("limit")
        );
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_id(png), image_id(png));
        assert!(image_id(png).starts_with("img_") && image_id(png).len() == 36);
    }
}
