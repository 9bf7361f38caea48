//! Each room's product bag in both engines.

use super::*;

#[test]
fn a_room_bag_keeps_its_order_skips_deleted_products_and_refuses_bad_lists() {
    both("bag", |s| {
        let (m, _) = s.create_merchant("Shop").unwrap();
        let (other, _) = s.create_merchant("Other").unwrap();
        let room = s.create_room(&m.id, "Live").unwrap();
        for id in ["tee", "cap", "mug"] {
            let p = Product {
                id: id.into(),
                title: format!("{id} title"),
                price_cents: 4900,
                currency: "CNY".into(),
                stock: 7,
                ..Product::default()
            };
            s.upsert_product(&m.id, &p).unwrap();
        }
        s.upsert_product(
            &other.id,
            &Product {
                id: "theirs".into(),
                title: "not yours".into(),
                ..Product::default()
            },
        )
        .unwrap();
        assert!(s.bag(&room.id).unwrap().is_empty());
        let ids = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let order = |s: &dyn Store| {
            s.bag(&room.id)
                .unwrap()
                .into_iter()
                .map(|p| p.id)
                .collect::<Vec<_>>()
        };
        s.set_bag(&room.id, &ids(&["mug", "tee"])).unwrap();
        assert_eq!(order(&*s), ["mug", "tee"]);
        let bag = s.bag(&room.id).unwrap();
        assert_eq!((bag[0].title.as_str(), bag[0].stock), ("mug title", 7));
        // Replaced whole, in the new order.
        s.set_bag(&room.id, &ids(&["cap", "mug", "tee"])).unwrap();
        assert_eq!(order(&*s), ["cap", "mug", "tee"]);
        // A deleted product leaves the bag; revived, it is back in its place.
        assert!(s.delete_product(&m.id, "mug").unwrap());
        assert_eq!(order(&*s), ["cap", "tee"]);
        s.upsert_product(
            &m.id,
            &Product {
                id: "mug".into(),
                title: "mug again".into(),
                ..Product::default()
            },
        )
        .unwrap();
        assert_eq!(order(&*s), ["cap", "mug", "tee"]);
        // Bad lists are refused and change nothing.
        for (bad, why) in [
            (ids(&["tee", "tee"]), "listed twice"),
            (ids(&["tee", "nope"]), "unknown product nope"),
            (ids(&["theirs"]), "unknown product theirs"),
        ] {
            match s.set_bag(&room.id, &bad) {
                Err(StoreError::Invalid(msg)) => assert!(msg.contains(why), "{msg}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(order(&*s), ["cap", "mug", "tee"]);
        assert!(matches!(
            s.set_bag("r_nope", &ids(&["tee"])),
            Err(StoreError::NotFound(_))
        ));
        assert!(s.bag("r_nope").unwrap().is_empty());
        s.set_bag(&room.id, &[]).unwrap();
        assert!(s.bag(&room.id).unwrap().is_empty());
    });
}
