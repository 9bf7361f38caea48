//! SKUs: a product's variants (size, colour, ...), each with its own stock and optional
//! price, and the SKUs a flash sale offers, each with its own allotment.
//!
//! A flash sale of a product with SKUs sells SKUs, never the bare product: every buy names
//! one, and each SKU's `sold` stays within its own `stock` just as the sale's total does
//! within the sale's (the sale's `stock` and `sold` are the sums of its SKUs'). The
//! engines decide a buy with [`FlashSale::take`] inside the step that holds the sale's row
//! (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's `FOR UPDATE`), then write the sale's counters
//! back under the same guard as before, so the no-oversell guarantee holds per SKU.

use crate::{BuyError, FlashSale, NewFlashSale, Product, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The most SKUs a product may have.
pub const MAX_SKUS: usize = 50;

/// One variant of a product, e.g. size M.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sku {
    /// Unique within the product, e.g. `m` or `red-xl`.
    pub id: String,
    /// What shoppers read, e.g. `M码` or `Red, XL`.
    pub name: String,
    /// Its own list price; `None` means the product's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<u64>,
    pub stock: u32,
}

/// A SKU as a flash sale offers it: its price in the sale and its own allotment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleSku {
    pub id: String,
    pub name: String,
    pub price_cents: u64,
    pub stock: u32,
    pub sold: u32,
}

/// A SKU to offer in a new flash sale: one of the product's, with its allotment and,
/// optionally, a sale price of its own (otherwise the sale's price).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSaleSku {
    pub id: String,
    pub stock: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<u64>,
}

/// Refuse a product's SKU list that shoppers could not tell apart or buy from.
pub fn check_skus(skus: &[Sku]) -> Result<(), StoreError> {
    if skus.len() > MAX_SKUS {
        return Err(StoreError::Invalid(format!(
            "a product has at most {MAX_SKUS} SKUs, got {}",
            skus.len()
        )));
    }
    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    for s in skus {
        if s.id.trim().is_empty() || s.id.len() > 64 {
            return Err(StoreError::Invalid(
                "every SKU needs an id of 1 to 64 bytes".into(),
            ));
        }
        let name = s.name.trim();
        if name.is_empty() || name.chars().count() > 40 {
            return Err(StoreError::Invalid(format!(
                "SKU {:?} needs a name of 1 to 40 characters",
                s.id
            )));
        }
        if !ids.insert(s.id.as_str()) {
            return Err(StoreError::Invalid(format!(
                "SKU id {:?} is used twice",
                s.id
            )));
        }
        if !names.insert(name) {
            return Err(StoreError::Invalid(format!(
                "SKU name {name:?} is used twice"
            )));
        }
    }
    Ok(())
}

/// The stock and SKUs a new flash sale of `product` gets.
///
/// - A product without SKUs: no SKUs may be named, and `stock` (at least 1) is the sale's.
/// - A product with SKUs: the sale offers the SKUs named (each one of the product's, once,
///   with an allotment of at least 1), or, when none are named, every SKU of the product
///   that has stock, with that stock. The sale's stock is their sum; a `stock` given
///   beside them must equal it.
pub fn sale_skus(
    product: &Product,
    sale: &NewFlashSale,
) -> Result<(u32, Vec<SaleSku>), StoreError> {
    if product.skus.is_empty() {
        if let Some(s) = sale.skus.first() {
            return Err(StoreError::Invalid(format!(
                "product {} has no SKUs, so the sale cannot offer SKU {:?}",
                product.id, s.id
            )));
        }
        if sale.stock == 0 {
            return Err(StoreError::Invalid(
                "flash sale stock must be at least 1".into(),
            ));
        }
        return Ok((sale.stock, Vec::new()));
    }
    let price = |own: Option<u64>| own.unwrap_or(sale.price_cents);
    let skus: Vec<SaleSku> = if sale.skus.is_empty() {
        product
            .skus
            .iter()
            .filter(|s| s.stock > 0)
            .map(|s| SaleSku {
                id: s.id.clone(),
                name: s.name.clone(),
                price_cents: sale.price_cents,
                stock: s.stock,
                sold: 0,
            })
            .collect()
    } else {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(sale.skus.len());
        for want in &sale.skus {
            let sku = product
                .skus
                .iter()
                .find(|s| s.id == want.id)
                .ok_or_else(|| {
                    StoreError::Invalid(format!("product {} has no SKU {:?}", product.id, want.id))
                })?;
            if !seen.insert(want.id.as_str()) {
                return Err(StoreError::Invalid(format!(
                    "SKU {:?} is offered twice",
                    want.id
                )));
            }
            if want.stock == 0 {
                return Err(StoreError::Invalid(format!(
                    "SKU {:?} needs a sale stock of at least 1",
                    want.id
                )));
            }
            out.push(SaleSku {
                id: sku.id.clone(),
                name: sku.name.clone(),
                price_cents: price(want.price_cents),
                stock: want.stock,
                sold: 0,
            });
        }
        out
    };
    if skus.is_empty() {
        return Err(StoreError::Invalid(format!(
            "every SKU of product {} is out of stock",
            product.id
        )));
    }
    let total = skus
        .iter()
        .try_fold(0u32, |sum, s| sum.checked_add(s.stock))
        .ok_or_else(|| StoreError::Invalid("the SKUs' stock adds up to too much".into()))?;
    if sale.stock != 0 && sale.stock != total {
        return Err(StoreError::Invalid(format!(
            "flash sale stock must be left out or be the sum of its SKUs' stock ({total}), got {}",
            sale.stock
        )));
    }
    Ok((total, skus))
}

/// What one buy takes from a sale: the amount to charge and the SKU it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub amount_cents: u64,
    pub sku_id: Option<String>,
}

impl FlashSale {
    /// Take `quantity` units (of SKU `sku`, which a sale with SKUs requires and a sale
    /// without refuses) from this in-memory view of the sale, or say why not. On success
    /// `sold` (the sale's and the SKU's) has moved; the caller writes it back.
    pub fn take(&mut self, sku: Option<&str>, quantity: u32) -> Result<Taken, BuyError> {
        let (price, sku_id) = match (sku, self.skus.is_empty()) {
            (None, true) => (self.price_cents, None),
            (None, false) => return Err(BuyError::SkuRequired(self.id.clone())),
            (Some(want), _) => {
                let Some(s) = self.skus.iter_mut().find(|s| s.id == want) else {
                    return Err(BuyError::UnknownSku {
                        sale_id: self.id.clone(),
                        sku: want.to_owned(),
                    });
                };
                if u64::from(s.sold) + u64::from(quantity) > u64::from(s.stock) {
                    return Err(BuyError::SoldOut {
                        sale_id: self.id.clone(),
                        sku: Some(s.name.clone()),
                        left: s.stock.saturating_sub(s.sold),
                    });
                }
                s.sold += quantity;
                (s.price_cents, Some(s.id.clone()))
            }
        };
        if u64::from(self.sold) + u64::from(quantity) > u64::from(self.stock) {
            // Only reachable without SKUs: with them, the sale's stock is their sum.
            return Err(BuyError::SoldOut {
                sale_id: self.id.clone(),
                sku: None,
                left: self.stock.saturating_sub(self.sold),
            });
        }
        self.sold += quantity;
        Ok(Taken {
            amount_cents: price.saturating_mul(u64::from(quantity)),
            sku_id,
        })
    }

    /// Undo a [`take`](Self::take) whose order was not written after all.
    pub fn give_back(&mut self, sku: Option<&str>, quantity: u32) {
        self.sold = self.sold.saturating_sub(quantity);
        if let Some(s) = sku.and_then(|id| self.skus.iter_mut().find(|s| s.id == id)) {
            s.sold = s.sold.saturating_sub(quantity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tee() -> Product {
        Product {
            id: "tee".into(),
            title: "Cotton Tee".into(),
            price_cents: 5900,
            skus: vec![
                Sku {
                    id: "m".into(),
                    name: "M".into(),
                    price_cents: None,
                    stock: 3,
                },
                Sku {
                    id: "xl".into(),
                    name: "XL".into(),
                    price_cents: Some(6900),
                    stock: 0,
                },
                Sku {
                    id: "l".into(),
                    name: "L".into(),
                    price_cents: None,
                    stock: 2,
                },
            ],
            ..Product::default()
        }
    }

    fn sale(stock: u32, skus: Vec<NewSaleSku>) -> NewFlashSale {
        NewFlashSale {
            room_id: "r".into(),
            product_id: "tee".into(),
            price_cents: 4900,
            stock,
            per_user_limit: 1,
            starts_ms: 0,
            ends_ms: 10,
            signed_in_only: false,
            skus,
        }
    }

    #[test]
    fn a_sale_offers_the_skus_in_stock_by_default_and_named_ones_when_given() {
        let (stock, skus) = sale_skus(&tee(), &sale(0, vec![])).expect("default");
        assert_eq!(stock, 5);
        let ids: Vec<&str> = skus.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["m", "l"], "XL has no stock");
        assert!(skus.iter().all(|s| s.price_cents == 4900));

        let named = vec![NewSaleSku {
            id: "xl".into(),
            stock: 4,
            price_cents: Some(5900),
        }];
        let (stock, skus) = sale_skus(&tee(), &sale(4, named)).expect("named");
        assert_eq!(
            (stock, skus[0].price_cents, skus[0].name.as_str()),
            (4, 5900, "XL")
        );
    }

    #[test]
    fn bad_sku_terms_are_refused_in_words() {
        let err = |s: NewFlashSale| sale_skus(&tee(), &s).expect_err("refused").to_string();
        assert!(err(sale(7, vec![])).contains("sum of its SKUs' stock (5)"));
        let unknown = vec![NewSaleSku {
            id: "s".into(),
            stock: 1,
            price_cents: None,
        }];
        assert!(err(sale(0, unknown)).contains("has no SKU \"s\""));
        let twice = |id: &str| NewSaleSku {
            id: id.into(),
            stock: 1,
            price_cents: None,
        };
        assert!(err(sale(0, vec![twice("m"), twice("m")])).contains("offered twice"));
        let plain = Product {
            skus: vec![],
            ..tee()
        };
        let e = sale_skus(&plain, &sale(1, vec![twice("m")])).expect_err("no skus");
        assert!(e.to_string().contains("has no SKUs"));
        assert!(sale_skus(&plain, &sale(0, vec![])).is_err(), "stock 0");

        let dup = vec![
            Sku {
                id: "a".into(),
                name: "M".into(),
                ..Sku::default()
            },
            Sku {
                id: "b".into(),
                name: " M ".into(),
                ..Sku::default()
            },
        ];
        assert!(
            check_skus(&dup)
                .expect_err("dup")
                .to_string()
                .contains("used twice")
        );
    }

    #[test]
    fn take_keeps_each_sku_within_its_stock() {
        let (stock, skus) = sale_skus(&tee(), &sale(0, vec![])).expect("sale");
        let mut s = FlashSale {
            id: "fs".into(),
            merchant_id: "m".into(),
            room_id: "r".into(),
            product_id: "tee".into(),
            price_cents: 4900,
            stock,
            sold: 0,
            per_user_limit: 9,
            starts_ms: 0,
            ends_ms: 10,
            signed_in_only: false,
            created_ms: 0,
            skus,
        };
        assert!(matches!(s.take(None, 1), Err(BuyError::SkuRequired(_))));
        assert!(matches!(
            s.take(Some("xl"), 1),
            Err(BuyError::UnknownSku { .. })
        ));
        assert_eq!(s.take(Some("l"), 2).expect("l").amount_cents, 9800);
        let e = s.take(Some("l"), 1).expect_err("l sold out");
        assert_eq!(e.to_string(), "flash sale fs: L is sold out");
        assert!(s.take(Some("m"), 3).is_ok());
        assert_eq!((s.sold, s.skus[0].sold, s.skus[1].sold), (5, 3, 2));
    }
}
