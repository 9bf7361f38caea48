//! The flash-sale buy hot path: the checks and writes of one buy inside a caller's
//! transaction, so that a batch of concurrent buys is decided in order and committed once
//! (group commit: the host's `CommitQueue`), and a single buy is a batch of one.

use crate::SqliteStore;
use crate::sales::{OrderRow, SALE_COLS, order_by_key, sale_row};
use livecart_store::util::{effective_key, random_id};
use livecart_store::{BuyError, BuyRequest, Order, StoreError};
use rusqlite::{OptionalExtension, params};

impl SqliteStore {
    /// Decide every buy of `batch` in order in one transaction, committed once.
    pub(super) fn buy_batch(&self, batch: &[BuyRequest]) -> Vec<Result<Order, BuyError>> {
        self.in_one_commit(batch, buy_in)
    }
}

/// One buy inside the batch's transaction. Checks, in order: key (replay or
/// [`BuyError::KeyReused`]), quantity, sale exists (in this room), window, per-user limit,
/// SKU and stock ([`livecart_store::FlashSale::take`], on the row this transaction holds). The two writes
/// (counters, order row) happen in a savepoint, so a buy that fails half-way leaves nothing
/// behind and the batch goes on.
fn buy_in(tx: &mut rusqlite::Transaction<'_>, req: &BuyRequest) -> Result<Order, BuyError> {
    let key = effective_key(&req.idempotency_key)?;
    let (sale_id, user_id, quantity) = (req.sale_id.as_str(), req.user_id.as_str(), req.quantity);
    if let Some((order, _room)) = order_by_key(tx, &key)? {
        if order.sale_id.as_deref() == Some(sale_id) && order.user_id == user_id {
            return Ok(Order {
                replayed: true,
                ..order
            });
        }
        return Err(BuyError::KeyReused(key));
    }
    if quantity == 0 {
        return Err(BuyError::BadQuantity(quantity));
    }
    let mut sale = tx
        .prepare_cached(&format!(
            "SELECT {SALE_COLS} FROM flash_sales WHERE id = ?1"
        ))?
        .query_row([sale_id], sale_row)
        .optional()?
        .filter(|s| req.in_room.as_ref().is_none_or(|room| s.room_id == *room))
        .ok_or_else(|| BuyError::UnknownSale(sale_id.to_owned()))?;
    if req.now_ms < sale.starts_ms {
        return Err(BuyError::NotStarted(sale.id));
    }
    if req.now_ms >= sale.ends_ms {
        return Err(BuyError::Ended(sale.id));
    }
    if sale.signed_in_only && req.guest {
        return Err(BuyError::SignInRequired(sale.id));
    }
    let mine: i64 = tx
        .prepare_cached(
            "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE sale_id = ?1 AND user_id = ?2",
        )?
        .query_row([sale_id, user_id], |r| r.get(0))?;
    if mine + i64::from(quantity) > i64::from(sale.per_user_limit) {
        return Err(BuyError::PerUserLimit {
            sale_id: sale.id,
            user_id: user_id.to_owned(),
            limit: sale.per_user_limit,
        });
    }
    let (stock, sold) = (sale.stock, sale.sold);
    let taken = sale.take(req.sku.as_deref(), quantity)?;
    // Only a sale with SKUs has counters of theirs to write back.
    let skus = if sale.skus.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&sale.skus).map_err(StoreError::from)?)
    };
    let order_id = format!("o_{}", random_id(8)?);
    let sp = tx.savepoint()?;
    // As with coupons, the guard repeats the stock check inside the write itself.
    let bumped = sp
        .prepare_cached(
            "UPDATE flash_sales SET sold = sold + ?2, skus = COALESCE(?3, skus)
             WHERE id = ?1 AND sold + ?2 <= stock",
        )?
        .execute(params![sale_id, i64::from(quantity), skus])?;
    if bumped == 0 {
        return Err(BuyError::SoldOut {
            left: stock.saturating_sub(sold),
            sale_id: sale.id,
            sku: None,
        });
    }
    let order = OrderRow {
        order_id: &order_id,
        sale_id: Some(sale_id),
        room_id: &sale.room_id,
        product_id: &sale.product_id,
        sku_id: taken.sku_id.as_deref(),
        user_id,
        quantity,
        amount_cents: taken.amount_cents,
        key: &key,
        now_ms: req.now_ms,
    }
    .insert(&sp)?;
    sp.commit()?;
    Ok(order)
}
