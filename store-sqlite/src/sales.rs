//! [`SaleStore`] on SQLite: flash sales and orders. A buy batch runs in one `BEGIN
//! IMMEDIATE` transaction (`buys.rs`), so `sold` always equals the sum of the sale's order
//! quantities and never exceeds `stock`, and so does each SKU's (its counters are JSON in
//! the sale's row, written in the same transaction); plain purchases follow the same key
//! rules.

use crate::{SqliteStore, with_fresh_ids};
use livecart_store::prelude::*;
use livecart_store::util::{effective_key, now_ms, random_id, to_i64, to_u32, to_u64};
use livecart_store::{BuyError, BuyRequest, FlashSale, NewFlashSale, Order, StoreError, sale_skus};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

pub(super) const SALE_COLS: &str = "id, merchant_id, room_id, product_id, price_cents, stock, sold,
    per_user_limit, starts_ms, ends_ms, created_ms, signed_in_only, skus";

pub(super) fn sale_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FlashSale> {
    Ok(FlashSale {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        room_id: r.get(2)?,
        product_id: r.get(3)?,
        price_cents: to_u64(r.get(4)?),
        stock: to_u32(r.get(5)?),
        sold: to_u32(r.get(6)?),
        per_user_limit: to_u32(r.get(7)?),
        starts_ms: to_u64(r.get(8)?),
        ends_ms: to_u64(r.get(9)?),
        created_ms: to_u64(r.get(10)?),
        signed_in_only: r.get(11)?,
        // Its SKUs' counters must read back, or a buy would skip their limits.
        skus: serde_json::from_str(&r.get::<_, String>(12)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(12, rusqlite::types::Type::Text, e.into())
        })?,
    })
}

const ORDER_COLS: &str =
    "order_id, sale_id, product_id, user_id, quantity, amount_cents, created_ms, room_id, sku_id";

/// An order row with the room it was placed in (which [`Order`] does not carry).
fn order_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Order, String)> {
    Ok((
        Order {
            order_id: r.get(0)?,
            sale_id: r.get(1)?,
            product_id: r.get(2)?,
            sku_id: r.get(8)?,
            user_id: r.get(3)?,
            quantity: to_u32(r.get(4)?),
            amount_cents: to_u64(r.get(5)?),
            created_ms: to_u64(r.get(6)?),
            replayed: false,
        },
        r.get(7)?,
    ))
}

/// The order an idempotency key already names, if any.
pub(super) fn order_by_key(
    tx: &rusqlite::Connection,
    key: &str,
) -> rusqlite::Result<Option<(Order, String)>> {
    tx.query_row(
        &format!("SELECT {ORDER_COLS} FROM orders WHERE idem_key = ?1"),
        [key],
        order_row,
    )
    .optional()
}

/// Insert an order row inside the caller's transaction.
pub(super) struct OrderRow<'a> {
    pub(super) order_id: &'a str,
    pub(super) sale_id: Option<&'a str>,
    pub(super) room_id: &'a str,
    pub(super) product_id: &'a str,
    pub(super) sku_id: Option<&'a str>,
    pub(super) user_id: &'a str,
    pub(super) quantity: u32,
    pub(super) amount_cents: u64,
    pub(super) key: &'a str,
    pub(super) now_ms: u64,
}

impl OrderRow<'_> {
    pub(super) fn insert(&self, tx: &rusqlite::Connection) -> rusqlite::Result<Order> {
        tx.execute(
            "INSERT INTO orders (order_id, sale_id, room_id, product_id, user_id, quantity,
                 amount_cents, idem_key, created_ms, sku_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                self.order_id,
                self.sale_id,
                self.room_id,
                self.product_id,
                self.user_id,
                i64::from(self.quantity),
                to_i64(self.amount_cents),
                self.key,
                to_i64(self.now_ms),
                self.sku_id,
            ],
        )?;
        Ok(Order {
            order_id: self.order_id.to_owned(),
            sale_id: self.sale_id.map(str::to_owned),
            product_id: self.product_id.to_owned(),
            sku_id: self.sku_id.map(str::to_owned),
            user_id: self.user_id.to_owned(),
            quantity: self.quantity,
            amount_cents: self.amount_cents,
            created_ms: self.now_ms,
            replayed: false,
        })
    }
}

impl SaleStore for SqliteStore {
    fn create_flash_sale(
        &self,
        merchant_id: &str,
        s: &NewFlashSale,
    ) -> Result<FlashSale, StoreError> {
        s.validate()?;
        let product = self
            .product(merchant_id, &s.product_id)?
            .ok_or_else(|| StoreError::NotFound(format!("product {}", s.product_id)))?;
        let (stock, skus) = sale_skus(&product, s)?;
        let skus = serde_json::to_string(&skus)?;
        if self
            .room(&s.room_id)?
            .is_none_or(|room| room.merchant_id != merchant_id)
        {
            return Err(StoreError::NotFound(format!("room {}", s.room_id)));
        }
        let now = to_i64(now_ms());
        let id = with_fresh_ids(|| {
            let id = format!("fs_{}", random_id(5)?);
            self.conn()?.execute(
                "INSERT INTO flash_sales (id, merchant_id, room_id, product_id, price_cents,
                     stock, sold, per_user_limit, starts_ms, ends_ms, created_ms, signed_in_only,
                     skus)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    id,
                    merchant_id,
                    s.room_id,
                    s.product_id,
                    to_i64(s.price_cents),
                    i64::from(stock),
                    i64::from(s.per_user_limit),
                    to_i64(s.starts_ms),
                    to_i64(s.ends_ms),
                    now,
                    s.signed_in_only,
                    skus,
                ],
            )?;
            Ok(id)
        })?;
        self.flash_sale(&id)?
            .ok_or_else(|| StoreError::NotFound(format!("flash sale {id}")))
    }

    fn flash_sale(&self, id: &str) -> Result<Option<FlashSale>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                &format!("SELECT {SALE_COLS} FROM flash_sales WHERE id = ?1"),
                [id],
                sale_row,
            )
            .optional()?)
    }

    fn active_flash_sales(&self, room_id: &str, now_ms: u64) -> Result<Vec<FlashSale>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {SALE_COLS} FROM flash_sales
             WHERE room_id = ?1 AND starts_ms <= ?2 AND ?2 < ends_ms
             ORDER BY starts_ms, seq"
        ))?;
        let rows = stmt.query_map(params![room_id, to_i64(now_ms)], sale_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn flash_sales_of_room(&self, room_id: &str) -> Result<Vec<FlashSale>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {SALE_COLS} FROM flash_sales WHERE room_id = ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([room_id], sale_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn end_flash_sale(&self, id: &str, now_ms: u64) -> Result<Option<FlashSale>, StoreError> {
        self.conn()?.execute(
            "UPDATE flash_sales SET ends_ms = MIN(ends_ms, ?2) WHERE id = ?1",
            params![id, to_i64(now_ms)],
        )?;
        self.flash_sale(id)
    }

    fn buy_flash_sales(&self, batch: &[BuyRequest]) -> Vec<Result<Order, BuyError>> {
        self.buy_batch(batch)
    }

    fn record_purchase(
        &self,
        room_id: &str,
        product_id: &str,
        user_id: &str,
        quantity: u32,
        amount_cents: u64,
        idempotency_key: &str,
        now_ms: u64,
    ) -> Result<Order, BuyError> {
        let key = effective_key(idempotency_key)?;
        let order_id = format!("o_{}", random_id(8)?);
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some((order, room)) = order_by_key(&tx, &key)? {
            if order.sale_id.is_none()
                && room == room_id
                && order.product_id == product_id
                && order.user_id == user_id
            {
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
        let order = OrderRow {
            order_id: &order_id,
            sale_id: None,
            room_id,
            product_id,
            sku_id: None,
            user_id,
            quantity,
            amount_cents,
            key: &key,
            now_ms,
        }
        .insert(&tx)?;
        tx.commit()?;
        Ok(order)
    }

    fn tag_order(
        &self,
        order_id: &str,
        push_id: &str,
        variant: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "UPDATE orders SET push_id = ?2, variant = ?3 WHERE order_id = ?1",
            params![order_id, push_id, variant],
        )?;
        Ok(n == 1)
    }

    fn orders_of_room(&self, room_id: &str) -> Result<Vec<Order>, StoreError> {
        self.order_list("room_id = ?1", room_id)
    }

    fn orders_of_sale(&self, sale_id: &str) -> Result<Vec<Order>, StoreError> {
        self.order_list("sale_id = ?1", sale_id)
    }
}

impl SqliteStore {
    fn order_list(&self, filter: &str, value: &str) -> Result<Vec<Order>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {ORDER_COLS} FROM orders WHERE {filter} ORDER BY seq"
        ))?;
        let rows = stmt.query_map([value], order_row)?;
        rows.map(|r| r.map(|(order, _room)| order).map_err(StoreError::from))
            .collect()
    }
}
