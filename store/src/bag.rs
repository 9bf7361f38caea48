//! The product bag (小黄车): the products a room's live sells, in the merchant's order.

use crate::{Product, StoreError};

/// The most products one room's bag may list.
pub const MAX_BAG_PRODUCTS: usize = 200;

/// Each room's product bag.
///
/// Contract: a bag is an ordered list of product ids of the room's merchant, replaced
/// whole. Reading it returns those products as they are now, in the bag's order, skipping
/// any that were deleted since (a revived product reappears in its place). Setting the
/// bag of an unknown room is [`StoreError::NotFound`]; an id that is not one of the room
/// merchant's products, a repeated id, or more than [`MAX_BAG_PRODUCTS`] ids is
/// [`StoreError::Invalid`] naming the first offender, and leaves the bag unchanged.
pub trait BagStore {
    /// Replace the room's bag with `product_ids`, in that order.
    fn set_bag(&self, room_id: &str, product_ids: &[String]) -> Result<(), StoreError>;

    /// The room's bag: its products, in order (empty for an unknown room or an unset bag).
    fn bag(&self, room_id: &str) -> Result<Vec<Product>, StoreError>;
}

/// The checks every engine makes before writing a bag, given the merchant's live product
/// ids: the count, repeats and unknown ids, in that order.
pub fn check_bag(
    product_ids: &[String],
    mut is_product: impl FnMut(&str) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    if product_ids.len() > MAX_BAG_PRODUCTS {
        return Err(StoreError::Invalid(format!(
            "a bag lists at most {MAX_BAG_PRODUCTS} products, not {}",
            product_ids.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for id in product_ids {
        if !seen.insert(id.as_str()) {
            return Err(StoreError::Invalid(format!("product {id} is listed twice")));
        }
        if !is_product(id)? {
            return Err(StoreError::Invalid(format!("unknown product {id}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_bag_is_checked_for_size_repeats_and_unknown_ids() {
        let known = |id: &str| Ok(id.starts_with('p'));
        assert!(check_bag(&ids(&["p1", "p2"]), known).is_ok());
        assert!(check_bag(&[], known).is_ok());
        let e = check_bag(&ids(&["p1", "p1"]), known).unwrap_err();
        assert_eq!(e.to_string(), "invalid input: product p1 is listed twice");
        let e = check_bag(&ids(&["p1", "x9"]), known).unwrap_err();
        assert_eq!(e.to_string(), "invalid input: unknown product x9");
        let many: Vec<String> = (0..=MAX_BAG_PRODUCTS).map(|i| format!("p{i}")).collect();
        let e = check_bag(&many, known).unwrap_err();
        assert!(e.to_string().contains("at most 200"), "{e}");
    }
}
