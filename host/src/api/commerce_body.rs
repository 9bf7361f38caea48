//! The request bodies of products, coupons and flash sales.
//!
//! They mirror the store's input types with `#[serde(deny_unknown_fields)]`, so the REST
//! API refuses a field it does not know (a product's `variants`, a misspelt `unlokced`)
//! instead of dropping it, and name the fields a `PUT` must carry ([`WholeObject`]).
//! `POST` keeps the documented defaults for fields left out; `PUT` has none.

use super::body::WholeObject;
use crate::catalog::{Faq, Product};
use crate::store::{NewCoupon, NewFlashSale, NewSaleSku, Sku};
use serde::Deserialize;

/// A product as the API takes it (`POST /api/products`, `PUT /api/products/{id}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProductBody {
    pub id: Option<String>,
    pub title: String,
    pub price_cents: u64,
    pub currency: String,
    pub image_url: String,
    pub buy_url: String,
    pub stock: u32,
    pub description: String,
    pub faq: Vec<FaqBody>,
    pub specs: Vec<(String, String)>,
    pub skus: Vec<SkuBody>,
}

/// One SKU (size, colour) of a product.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkuBody {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub price_cents: Option<u64>,
    pub stock: u32,
}

/// One SKU a flash sale offers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaleSkuBody {
    pub id: String,
    pub stock: u32,
    #[serde(default)]
    pub price_cents: Option<u64>,
}

/// One question and answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqBody {
    pub question: String,
    pub answer: String,
}

impl WholeObject for ProductBody {
    const WHAT: &'static str = "product";
    const FIELDS: &'static [&'static str] = &[
        "title",
        "price_cents",
        "currency",
        "image_url",
        "buy_url",
        "stock",
        "description",
        "faq",
        "specs",
        "skus",
    ];
}

impl ProductBody {
    /// The product, with `id` (empty when the body had none: the store generates one).
    pub fn into_product(self) -> Product {
        Product {
            id: self.id.unwrap_or_default(),
            title: self.title,
            price_cents: self.price_cents,
            currency: self.currency,
            image_url: self.image_url,
            buy_url: self.buy_url,
            stock: self.stock,
            description: self.description,
            faq: self
                .faq
                .into_iter()
                .map(|f| Faq {
                    question: f.question,
                    answer: f.answer,
                })
                .collect(),
            specs: self.specs,
            skus: self
                .skus
                .into_iter()
                .map(|s| Sku {
                    id: s.id,
                    name: s.name,
                    price_cents: s.price_cents,
                    stock: s.stock,
                })
                .collect(),
        }
    }
}

/// A coupon's terms as the API takes them (`POST /api/coupons`, `PUT /api/coupons/{id}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponBody {
    #[serde(default)]
    pub id: Option<String>,
    /// `null` (or left out of a `POST`) for every room of the merchant.
    #[serde(default)]
    pub room_id: Option<String>,
    pub title: String,
    pub discount_cents: u64,
    /// 满减: the order total from which it applies (0: any order).
    #[serde(default)]
    pub min_spend_cents: u64,
    pub quota: u32,
    #[serde(default = "one")]
    pub per_user_limit: u32,
    #[serde(default)]
    pub valid_from_ms: u64,
    #[serde(default)]
    pub valid_until_ms: u64,
    #[serde(default)]
    pub unlocked: bool,
    /// Only viewers the merchant signed in (a token from `POST /api/rooms/{room}/tokens`)
    /// may claim it; guests are refused with `sign_in_required`.
    #[serde(default)]
    pub signed_in_only: bool,
}

fn one() -> u32 {
    1
}

impl WholeObject for CouponBody {
    const WHAT: &'static str = "coupon";
    const FIELDS: &'static [&'static str] = &[
        "room_id",
        "title",
        "discount_cents",
        "min_spend_cents",
        "quota",
        "per_user_limit",
        "valid_from_ms",
        "valid_until_ms",
        "unlocked",
        "signed_in_only",
    ];
}

impl From<CouponBody> for NewCoupon {
    fn from(c: CouponBody) -> Self {
        NewCoupon {
            id: c.id,
            room_id: c.room_id,
            title: c.title,
            discount_cents: c.discount_cents,
            min_spend_cents: c.min_spend_cents,
            quota: c.quota,
            per_user_limit: c.per_user_limit,
            valid_from_ms: c.valid_from_ms,
            valid_until_ms: c.valid_until_ms,
            unlocked: c.unlocked,
            signed_in_only: c.signed_in_only,
        }
    }
}

/// A flash sale as `POST /api/rooms/{room}/flash-sales` takes it; the room is the path's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaleBody {
    /// May be left out (or empty); if given it must be the path's room.
    #[serde(default)]
    pub room_id: Option<String>,
    pub product_id: String,
    pub price_cents: u64,
    /// Required without SKUs; with them, left out or their sum.
    #[serde(default)]
    pub stock: u32,
    #[serde(default = "one")]
    pub per_user_limit: u32,
    pub starts_ms: u64,
    pub ends_ms: u64,
    /// Only viewers the merchant signed in may buy; guests get `sign_in_required`.
    #[serde(default)]
    pub signed_in_only: bool,
    /// The product's SKUs to offer; left out, every SKU with stock.
    #[serde(default)]
    pub skus: Vec<SaleSkuBody>,
}

impl SaleBody {
    pub fn into_sale(self, room_id: String) -> NewFlashSale {
        NewFlashSale {
            room_id,
            product_id: self.product_id,
            price_cents: self.price_cents,
            stock: self.stock,
            per_user_limit: self.per_user_limit,
            starts_ms: self.starts_ms,
            ends_ms: self.ends_ms,
            signed_in_only: self.signed_in_only,
            skus: self
                .skus
                .into_iter()
                .map(|s| NewSaleSku {
                    id: s.id,
                    stock: s.stock,
                    price_cents: s.price_cents,
                })
                .collect(),
        }
    }
}
