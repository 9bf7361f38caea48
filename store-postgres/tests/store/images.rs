//! Images in both engines: stored by content (the same bytes are one image), read by
//! anyone, refused past the shop's limit without storing.

use super::*;
use livecart_store::{MAX_IMAGES, image_id};

fn png(n: u64) -> Vec<u8> {
    [b"\x89PNG\r\n\x1a\n".as_slice(), &n.to_be_bytes()].concat()
}

#[test]
fn images_are_stored_once_by_content_and_up_to_the_shop_limit() {
    both("images", |s| {
        let first = s.put_image("m1", "image/png", &png(0)).expect("put");
        assert_eq!(
            (first.id.as_str(), first.size),
            (image_id(&png(0)).as_str(), 16)
        );
        let again = s.put_image("m1", "image/png", &png(0)).expect("again");
        assert_eq!(again, first, "the same bytes are the same image");
        let (kind, bytes) = s.image(&first.id).expect("read").expect("there");
        assert_eq!((kind.as_str(), bytes), ("image/png", png(0)));
        assert!(s.image("img_nope").expect("read").is_none());
        assert!(matches!(
            s.put_image("m1", "image/gif", &png(1)),
            Err(StoreError::Invalid(_))
        ));
        for n in 1..MAX_IMAGES {
            s.put_image("m1", "image/png", &png(n))
                .expect("under the limit");
        }
        let over = s
            .put_image("m1", "image/png", &png(MAX_IMAGES))
            .expect_err("limit");
        assert!(
            over.to_string().contains("already has 1000 images"),
            "{over}"
        );
        assert!(
            s.image(&image_id(&png(MAX_IMAGES)))
                .expect("read")
                .is_none()
        );
        // One already stored is still answered; another shop has its own allowance.
        assert!(s.put_image("m1", "image/png", &png(5)).is_ok());
        assert!(s.put_image("m2", "image/png", &png(MAX_IMAGES)).is_ok());
    });
}
