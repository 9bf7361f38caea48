//! [`SaleStore`] on PostgreSQL: flash sales and orders.
//!
//! A buy batch is one transaction of a few statements, whatever its size (`buy_batch.rs`);
//! the unique `idem_key` of `orders` is one key space for buys and plain purchases.

use crate::rooms::product_in;
use crate::{PostgresStore, fresh_ids, u32_at, u64_at};
use livecart_store::util::{effective_key, now_ms, random_id, to_i64};
use livecart_store::{
    BuyError, BuyRequest, FlashSale, NewFlashSale, Order, SaleStore, StoreError, sale_skus,
};
use tokio_postgres::{GenericClient, Row};

pub(crate) const SALE_COLS: &str = "id, merchant_id, room_id, product_id, price_cents, stock, sold,
    per_user_limit, starts_ms, ends_ms, created_ms, signed_in_only, skus";

/// A sale row; its SKUs' counters must read back, or the buy would skip their limits.
pub(crate) fn sale_row(r: &Row) -> Result<FlashSale, StoreError> {
    Ok(FlashSale {
        id: r.try_get(0)?,
        merchant_id: r.try_get(1)?,
        room_id: r.try_get(2)?,
        product_id: r.try_get(3)?,
        price_cents: u64_at(r, 4)?,
        stock: u32_at(r, 5)?,
        sold: u32_at(r, 6)?,
        per_user_limit: u32_at(r, 7)?,
        starts_ms: u64_at(r, 8)?,
        ends_ms: u64_at(r, 9)?,
        created_ms: u64_at(r, 10)?,
        signed_in_only: r.try_get(11)?,
        skus: serde_json::from_str(r.try_get(12)?)?,
    })
}

pub(crate) const ORDER_COLS: &str =
    "order_id, sale_id, product_id, user_id, quantity, amount_cents, created_ms, room_id, sku_id";

/// An order row with the room it was placed in (which [`Order`] does not carry).
pub(crate) fn order_row(r: &Row) -> Result<(Order, String), tokio_postgres::Error> {
    Ok((
        Order {
            order_id: r.try_get(0)?,
            sale_id: r.try_get(1)?,
            product_id: r.try_get(2)?,
            sku_id: r.try_get(8)?,
            user_id: r.try_get(3)?,
            quantity: u32_at(r, 4)?,
            amount_cents: u64_at(r, 5)?,
            created_ms: u64_at(r, 6)?,
            replayed: false,
        },
        r.try_get(7)?,
    ))
}

async fn sale_in(db: &impl GenericClient, id: &str) -> Result<Option<FlashSale>, StoreError> {
    let row = db
        .query_opt(
            &format!("SELECT {SALE_COLS} FROM flash_sales WHERE id = $1"),
            &[&id],
        )
        .await?;
    row.as_ref().map(sale_row).transpose()
}

async fn order_by_key(
    db: &impl GenericClient,
    key: &str,
) -> Result<Option<(Order, String)>, StoreError> {
    let row = db
        .query_opt(
            &format!("SELECT {ORDER_COLS} FROM orders WHERE idem_key = $1"),
            &[&key],
        )
        .await?;
    Ok(row.as_ref().map(order_row).transpose()?)
}

/// One order row to insert; `Ok(None)` when its key was taken meanwhile.
struct NewOrder<'a> {
    sale_id: Option<&'a str>,
    room_id: &'a str,
    product_id: &'a str,
    user_id: &'a str,
    quantity: u32,
    amount_cents: u64,
    key: &'a str,
    now_ms: u64,
}

impl NewOrder<'_> {
    async fn insert(&self, db: &impl GenericClient) -> Result<Option<Order>, StoreError> {
        let order_id = format!("o_{}", random_id(8)?);
        let n = db
            .execute(
                "INSERT INTO orders (order_id, sale_id, room_id, product_id, user_id, quantity,
                     amount_cents, idem_key, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (idem_key) DO NOTHING",
                &[
                    &order_id,
                    &self.sale_id,
                    &self.room_id,
                    &self.product_id,
                    &self.user_id,
                    &i64::from(self.quantity),
                    &to_i64(self.amount_cents),
                    &self.key,
                    &to_i64(self.now_ms),
                ],
            )
            .await?;
        Ok((n == 1).then(|| Order {
            order_id,
            sale_id: self.sale_id.map(str::to_owned),
            product_id: self.product_id.to_owned(),
            sku_id: None,
            user_id: self.user_id.to_owned(),
            quantity: self.quantity,
            amount_cents: self.amount_cents,
            created_ms: self.now_ms,
            replayed: false,
        }))
    }
}

impl SaleStore for PostgresStore {
    fn create_flash_sale(
        &self,
        merchant_id: &str,
        s: &NewFlashSale,
    ) -> Result<FlashSale, StoreError> {
        s.validate()?;
        let (merchant_id, s) = (merchant_id.to_owned(), s.clone());
        self.run(move |db| async move {
            let product = product_in(&**db, &merchant_id, &s.product_id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("product {}", s.product_id)))?;
            let (stock, skus) = sale_skus(&product, &s)?;
            let skus = serde_json::to_string(&skus)?;
            let owner: Option<String> = db
                .query_opt("SELECT merchant_id FROM rooms WHERE id = $1", &[&s.room_id])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
            if owner.as_deref() != Some(merchant_id.as_str()) {
                return Err(StoreError::NotFound(format!("room {}", s.room_id)));
            }
            let sql = format!(
                "INSERT INTO flash_sales (id, merchant_id, room_id, product_id, price_cents,
                     stock, sold, per_user_limit, starts_ms, ends_ms, created_ms, signed_in_only,
                     skus)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, $12)
                 RETURNING {SALE_COLS}"
            );
            let insert = || async {
                let row = db
                    .query_one(
                        &sql,
                        &[
                            &format!("fs_{}", random_id(5)?),
                            &merchant_id,
                            &s.room_id,
                            &s.product_id,
                            &to_i64(s.price_cents),
                            &i64::from(stock),
                            &i64::from(s.per_user_limit),
                            &to_i64(s.starts_ms),
                            &to_i64(s.ends_ms),
                            &to_i64(now_ms()),
                            &s.signed_in_only,
                            &skus,
                        ],
                    )
                    .await?;
                sale_row(&row)
            };
            fresh_ids!(insert().await)
        })
    }

    fn flash_sale(&self, id: &str) -> Result<Option<FlashSale>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move { sale_in(&**db, &id).await })
    }

    fn active_flash_sales(&self, room_id: &str, now_ms: u64) -> Result<Vec<FlashSale>, StoreError> {
        let room_id = room_id.to_owned();
        self.run(move |db| async move {
            let rows = db
                .query(
                    &format!(
                        "SELECT {SALE_COLS} FROM flash_sales
                         WHERE room_id = $1 AND starts_ms <= $2 AND $2 < ends_ms
                         ORDER BY starts_ms, seq"
                    ),
                    &[&room_id, &to_i64(now_ms)],
                )
                .await?;
            rows.iter().map(sale_row).collect::<Result<_, _>>()
        })
    }

    fn flash_sales_of_room(&self, room_id: &str) -> Result<Vec<FlashSale>, StoreError> {
        let room_id = room_id.to_owned();
        self.run(move |db| async move {
            let rows = db
                .query(
                    &format!("SELECT {SALE_COLS} FROM flash_sales WHERE room_id = $1 ORDER BY seq"),
                    &[&room_id],
                )
                .await?;
            rows.iter().map(sale_row).collect::<Result<_, _>>()
        })
    }

    fn end_flash_sale(&self, id: &str, now_ms: u64) -> Result<Option<FlashSale>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move {
            let row = db
                .query_opt(
                    &format!(
                        "UPDATE flash_sales SET ends_ms = LEAST(ends_ms, $2) WHERE id = $1
                         RETURNING {SALE_COLS}"
                    ),
                    &[&id, &to_i64(now_ms)],
                )
                .await?;
            row.as_ref().map(sale_row).transpose()
        })
    }

    fn buy_flash_sales(&self, batch: &[BuyRequest]) -> Vec<Result<Order, BuyError>> {
        let requests = batch.to_vec();
        let n = requests.len();
        let answer = self.run(move |mut db| async move {
            Ok::<_, StoreError>(crate::buy_batch::buy_batch(&mut db, &requests).await)
        });
        match answer {
            Ok(Ok(results)) => results,
            Ok(Err(e)) | Err(e) => {
                let reason = e.to_string();
                (0..n)
                    .map(|_| Err(StoreError::Commit(reason.clone()).into()))
                    .collect()
            }
        }
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
        let (room_id, product_id, user_id) = (
            room_id.to_owned(),
            product_id.to_owned(),
            user_id.to_owned(),
        );
        self.run(move |db| async move {
            let replay = |found: Option<(Order, String)>| match found {
                Some((order, room))
                    if order.sale_id.is_none()
                        && room == room_id
                        && order.product_id == product_id
                        && order.user_id == user_id =>
                {
                    Ok(Order {
                        replayed: true,
                        ..order
                    })
                }
                _ => Err(BuyError::KeyReused(key.clone())),
            };
            if let Some(found) = order_by_key(&**db, &key).await? {
                return replay(Some(found));
            }
            if quantity == 0 {
                return Err(BuyError::BadQuantity(quantity));
            }
            let order = NewOrder {
                sale_id: None,
                room_id: &room_id,
                product_id: &product_id,
                user_id: &user_id,
                quantity,
                amount_cents,
                key: &key,
                now_ms,
            }
            .insert(&**db)
            .await?;
            match order {
                Some(order) => Ok(order),
                // A racing request with this key won: answer with its order.
                None => replay(order_by_key(&**db, &key).await?),
            }
        })
    }

    fn tag_order(
        &self,
        order_id: &str,
        push_id: &str,
        variant: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (order_id, push_id) = (order_id.to_owned(), push_id.to_owned());
        let variant = variant.map(str::to_owned);
        self.run(move |db| async move {
            let n = db
                .execute(
                    "UPDATE orders SET push_id = $2, variant = $3 WHERE order_id = $1",
                    &[&order_id, &push_id, &variant],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn orders_of_room(&self, room_id: &str) -> Result<Vec<Order>, StoreError> {
        self.order_list("room_id = $1", room_id)
    }

    fn orders_of_sale(&self, sale_id: &str) -> Result<Vec<Order>, StoreError> {
        self.order_list("sale_id = $1", sale_id)
    }
}

impl PostgresStore {
    fn order_list(&self, filter: &'static str, value: &str) -> Result<Vec<Order>, StoreError> {
        let value = value.to_owned();
        self.run(move |db| async move {
            let rows = db
                .query(
                    &format!("SELECT {ORDER_COLS} FROM orders WHERE {filter} ORDER BY seq"),
                    &[&value],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    order_row(r)
                        .map(|(order, _room)| order)
                        .map_err(StoreError::from)
                })
                .collect()
        })
    }
}
