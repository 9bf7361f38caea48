//! Flash sales and orders.
//!
//! [`SaleStore::buy_flash_sale`] follows the coupon claim's recipe (in `buys.rs`, where
//! [`SaleStore::buy_flash_sales`] decides a batch in one transaction): one transaction, then
//! it checks the idempotency key, the sale window, what the user already bought
//! and the stock, then bumps `sold` and writes the order, so `sold` always equals the sum
//! of the sale's order quantities and never exceeds `stock`. [`SaleStore::record_purchase`]
//! records a plain (non-flash) purchase with the same idempotency rules. Orders share one
//! key space: a key already used by another user, product, room or sale is
//! [`BuyError::KeyReused`]. Product stock is not decremented here.

use crate::StoreError;
use crate::buys::BuyRequest;
use crate::skus::{NewSaleSku, SaleSku};
use serde::{Deserialize, Serialize};

/// A time-boxed sale of one product at a special price and limited stock in one room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashSale {
    pub id: String,
    pub merchant_id: String,
    pub room_id: String,
    pub product_id: String,
    pub price_cents: u64,
    pub stock: u32,
    pub sold: u32,
    /// How many units one user may buy in total.
    pub per_user_limit: u32,
    pub starts_ms: u64,
    /// End of the sale (exclusive).
    pub ends_ms: u64,
    /// Only viewers with an identity the merchant minted may buy; guests are refused with
    /// `sign_in_required`.
    pub signed_in_only: bool,
    pub created_ms: u64,
    /// The SKUs on sale (empty for a product without SKUs); `stock` and `sold` are then
    /// their sums, and every buy names one (see `skus.rs`).
    #[serde(default)]
    pub skus: Vec<SaleSku>,
}

/// What a merchant supplies to create a flash sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFlashSale {
    /// The REST API takes the room from the path; this field may then be left out.
    #[serde(default)]
    pub room_id: String,
    pub product_id: String,
    pub price_cents: u64,
    /// At least 1 for a product without SKUs; for one with SKUs, left out (0) or the sum
    /// of the SKUs' allotments.
    #[serde(default)]
    pub stock: u32,
    /// At least 1; defaults to 1.
    #[serde(default = "one")]
    pub per_user_limit: u32,
    pub starts_ms: u64,
    /// After `starts_ms`.
    pub ends_ms: u64,
    /// Only for signed-in viewers (see [`FlashSale::signed_in_only`]); defaults to false.
    #[serde(default)]
    pub signed_in_only: bool,
    /// Which of the product's SKUs to offer, each with its allotment; left out, every SKU
    /// with stock is offered with that stock (see [`crate::sale_skus`]).
    #[serde(default)]
    pub skus: Vec<NewSaleSku>,
}

fn one() -> u32 {
    1
}

impl NewFlashSale {
    /// Reject terms no flash sale may have (every engine checks them before writing; the
    /// stock and SKUs are checked against the product by [`crate::sale_skus`]).
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.per_user_limit == 0 {
            return Err(StoreError::Invalid(
                "flash sale per_user_limit must be at least 1".into(),
            ));
        }
        if self.ends_ms <= self.starts_ms {
            return Err(StoreError::Invalid(
                "flash sale ends_ms must be after starts_ms".into(),
            ));
        }
        Ok(())
    }
}

/// One order: a flash-sale buy or a plain purchase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Order {
    pub order_id: String,
    /// The flash sale it was bought in, if any.
    pub sale_id: Option<String>,
    pub product_id: String,
    /// The SKU bought, for a product with SKUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku_id: Option<String>,
    pub user_id: String,
    pub quantity: u32,
    pub amount_cents: u64,
    pub created_ms: u64,
    /// True when this idempotency key had been used already: this is that order again.
    pub replayed: bool,
}

/// Why a buy was refused.
#[derive(Debug, thiserror::Error)]
pub enum BuyError {
    #[error("unknown flash sale {0}")]
    UnknownSale(String),
    #[error("flash sale {0} has not started yet")]
    NotStarted(String),
    #[error("flash sale {0} has ended")]
    Ended(String),
    #[error("{}", sold_out_message(.sale_id, .sku.as_deref(), *.left))]
    SoldOut {
        sale_id: String,
        /// The SKU's name, when the sale has SKUs.
        sku: Option<String>,
        left: u32,
    },
    #[error("flash sale {0} sells by SKU: choose one (size, colour) to buy")]
    SkuRequired(String),
    #[error("flash sale {sale_id} has no SKU {sku:?}")]
    UnknownSku { sale_id: String, sku: String },
    #[error("user {user_id} would exceed the limit of {limit} unit(s) of flash sale {sale_id}")]
    PerUserLimit {
        sale_id: String,
        user_id: String,
        limit: u32,
    },
    #[error("quantity must be at least 1, got {0}")]
    BadQuantity(u32),
    #[error("idempotency key {0} was already used for another order")]
    KeyReused(String),
    #[error("flash sale {0} is for signed-in viewers only; sign in to buy")]
    SignInRequired(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

fn sold_out_message(sale_id: &str, sku: Option<&str>, left: u32) -> String {
    let what = match sku {
        Some(name) => format!("flash sale {sale_id}: {name}"),
        None => format!("flash sale {sale_id}"),
    };
    if left == 0 {
        format!("{what} is sold out")
    } else {
        format!("{what} has only {left} left")
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for BuyError {
    fn from(e: rusqlite::Error) -> Self {
        BuyError::Store(StoreError::Sqlite(e))
    }
}

#[cfg(feature = "postgres")]
impl From<tokio_postgres::Error> for BuyError {
    fn from(e: tokio_postgres::Error) -> Self {
        BuyError::Store(StoreError::Postgres(e))
    }
}

impl BuyError {
    /// A stable machine-readable code (`sold_out`, `ended`, ...) for clients.
    pub fn code(&self) -> &'static str {
        match self {
            BuyError::UnknownSale(_) => "unknown_sale",
            BuyError::NotStarted(_) => "not_started",
            BuyError::Ended(_) => "ended",
            BuyError::SoldOut { .. } => "sold_out",
            BuyError::SkuRequired(_) => "sku_required",
            BuyError::UnknownSku { .. } => "unknown_sku",
            BuyError::PerUserLimit { .. } => "per_user_limit",
            BuyError::BadQuantity(_) => "bad_quantity",
            BuyError::KeyReused(_) => "key_reused",
            BuyError::SignInRequired(_) => "sign_in_required",
            BuyError::Store(_) => "internal",
        }
    }
}

/// Flash sales and orders.
///
/// Contract:
/// - [`buy_flash_sale`](Self::buy_flash_sale) is atomic and idempotent per key: whatever
///   the concurrency (threads, processes, hosts), `sold` equals the sum of the sale's order
///   quantities and never exceeds `stock` (no oversell), a user never buys more than
///   `per_user_limit` units in total, and a key yields at most one order. The checks and the
///   write happen in one serializable step, in the order: key (replay or
///   [`BuyError::KeyReused`]), quantity, sale exists, window, per-user limit, SKU and
///   stock ([`FlashSale::take`]). With SKUs, each SKU's `sold` equals the sum of its
///   orders' quantities and never exceeds its own `stock`.
/// - [`record_purchase`](Self::record_purchase) is idempotent per key the same way.
/// - Orders share one key space; an empty key means "not idempotent". A replay returns the
///   original order with `replayed: true`.
/// - Product stock is not touched. Unknown ids read as `None`/`false`; bad terms are
///   [`StoreError::Invalid`], a product or room not the merchant's [`StoreError::NotFound`].
pub trait SaleStore {
    /// Create a flash sale (`fs_` and 10 hex digits). The product must be one of the
    /// merchant's (not deleted) and the room one of the merchant's rooms; its stock and
    /// SKUs are [`crate::sale_skus`]'s.
    fn create_flash_sale(
        &self,
        merchant_id: &str,
        input: &NewFlashSale,
    ) -> Result<FlashSale, StoreError>;

    /// One flash sale by id.
    fn flash_sale(&self, id: &str) -> Result<Option<FlashSale>, StoreError>;

    /// Every flash sale of the room running at `now_ms` (sold out or not), in start order
    /// (creation order among equals).
    fn active_flash_sales(&self, room_id: &str, now_ms: u64) -> Result<Vec<FlashSale>, StoreError>;

    /// The room's flash sale running at `now_ms`: the latest-starting one if several
    /// overlap (the latest created among equals), i.e. the last of
    /// [`active_flash_sales`](Self::active_flash_sales).
    fn active_flash_sale(
        &self,
        room_id: &str,
        now_ms: u64,
    ) -> Result<Option<FlashSale>, StoreError> {
        Ok(self.active_flash_sales(room_id, now_ms)?.pop())
    }

    /// A room's flash sales, past and future, in creation order.
    fn flash_sales_of_room(&self, room_id: &str) -> Result<Vec<FlashSale>, StoreError>;

    /// End a flash sale at `now_ms` (never extends it). `None` if there is no such sale.
    fn end_flash_sale(&self, id: &str, now_ms: u64) -> Result<Option<FlashSale>, StoreError>;

    /// Buy `quantity` units in a flash sale, atomically and idempotently (see the trait
    /// docs): a batch of one. The amount is the sale price times the quantity.
    fn buy_flash_sale(
        &self,
        sale_id: &str,
        user_id: &str,
        quantity: u32,
        idempotency_key: &str,
        now_ms: u64,
    ) -> Result<Order, BuyError> {
        let request = BuyRequest::new(sale_id, user_id, quantity, idempotency_key, now_ms);
        self.buy_flash_sales(std::slice::from_ref(&request))
            .pop()
            .unwrap_or_else(|| Err(StoreError::Commit("no result".into()).into()))
    }

    /// Decide several buys as one atomic step and make them durable together (group
    /// commit, for flash-sale storms). Each is decided in order exactly as
    /// [`buy_flash_sale`](Self::buy_flash_sale) would, seeing the buys before it in the
    /// batch, and may also be limited to the sales of one room. Results are in request
    /// order. If the step cannot be committed, every buy of the batch fails with the store
    /// error and none is kept.
    fn buy_flash_sales(&self, batch: &[BuyRequest]) -> Vec<Result<Order, BuyError>>;

    /// Record a plain (non-flash) purchase, idempotently: a retry with the same key by the
    /// same user for the same product and room returns the original order (`replayed`).
    #[allow(clippy::too_many_arguments)]
    fn record_purchase(
        &self,
        room_id: &str,
        product_id: &str,
        user_id: &str,
        quantity: u32,
        amount_cents: u64,
        idempotency_key: &str,
        now_ms: u64,
    ) -> Result<Order, BuyError>;

    /// Record which push (and A/B variant) an order came from. Returns whether the order
    /// exists.
    fn tag_order(
        &self,
        order_id: &str,
        push_id: &str,
        variant: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// A room's orders (flash and plain), oldest first.
    fn orders_of_room(&self, room_id: &str) -> Result<Vec<Order>, StoreError>;

    /// A flash sale's orders, oldest first.
    fn orders_of_sale(&self, sale_id: &str) -> Result<Vec<Order>, StoreError>;
}
