//! A flash-sale buy request: what [`SaleStore::buy_flash_sales`] decides, in batches (the
//! host's group commit) or one at a time.
//!
//! [`SaleStore::buy_flash_sales`]: crate::SaleStore::buy_flash_sales

/// One flash-sale buy to decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyRequest {
    pub sale_id: String,
    pub user_id: String,
    pub quantity: u32,
    /// The SKU to buy: required by a sale with SKUs, refused by one without.
    pub sku: Option<String>,
    /// The client's idempotency key; empty means "not idempotent".
    pub idempotency_key: String,
    pub now_ms: u64,
    /// Where it is bought: only a sale of this room can be; any other reads as unknown.
    pub in_room: Option<String>,
    /// The buyer is a guest: refused by sales for signed-in viewers only.
    pub guest: bool,
}

impl BuyRequest {
    /// A buy with no room restriction.
    pub fn new(sale_id: &str, user_id: &str, quantity: u32, key: &str, now_ms: u64) -> Self {
        BuyRequest {
            sale_id: sale_id.to_owned(),
            user_id: user_id.to_owned(),
            quantity,
            sku: None,
            idempotency_key: key.to_owned(),
            now_ms,
            in_room: None,
            guest: false,
        }
    }
}
