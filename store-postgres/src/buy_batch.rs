//! One batch of flash-sale buys on PostgreSQL: six statements however many buys it
//! carries, as for claims (`claim_batch.rs`).
//!
//! Lock and read the batch's sale rows in id order; read the orders its idempotency keys
//! already name (buys and plain purchases share one key space) and its users' bought
//! quantities per sale; decide each buy in order in memory — key (replay or `KeyReused`),
//! quantity, sale exists (in this room), window, per-user limit, SKU and stock
//! (`FlashSale::take`, which moves the sale's and its SKU's `sold`) — each seeing the ones
//! before it; insert every order in one statement (a key a racing purchase took is
//! `KeyReused`); move each sale's `sold` once, only within its stock (and the table's
//! `CHECK (sold <= stock)` behind that), writing its SKUs' counters as decided on the
//! locked row, or fail the whole transaction.

use crate::sales::{ORDER_COLS, SALE_COLS, order_row, sale_row};
use crate::u64_at;
use deadpool_postgres::Object;
use livecart_store::util::{effective_key, random_id, to_i64};
use livecart_store::{BuyError, BuyRequest, FlashSale, Order, StoreError};
use std::collections::{HashMap, HashSet};

/// A buy decided in memory, waiting for its insert.
struct Placed {
    at: usize,
    key: String,
    room_id: String,
    order: Order,
}

/// What became of one buy that was not refused.
enum Decision {
    /// The key's earlier order, answered again (nothing is written).
    Replay(Order),
    /// A new order under the effective key, to insert.
    Place(String, Order, String),
}

pub(crate) async fn buy_batch(
    db: &mut Object,
    batch: &[BuyRequest],
) -> Result<Vec<Result<Order, BuyError>>, StoreError> {
    let tx = db.transaction().await?;
    let mut ids: Vec<&str> = batch.iter().map(|r| r.sale_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut sales: HashMap<String, FlashSale> = HashMap::new();
    for row in tx
        .query(
            &format!(
                "SELECT {SALE_COLS} FROM flash_sales WHERE id = ANY($1) ORDER BY id FOR UPDATE"
            ),
            &[&ids],
        )
        .await?
    {
        let s = sale_row(&row)?;
        sales.insert(s.id.clone(), s);
    }

    let keys: Vec<Result<String, StoreError>> = batch
        .iter()
        .map(|r| effective_key(&r.idempotency_key))
        .collect();
    let key_list: Vec<&str> = keys.iter().filter_map(|k| k.as_deref().ok()).collect();
    let mut by_key: HashMap<String, Order> = HashMap::new();
    for row in tx
        .query(
            &format!("SELECT {ORDER_COLS}, idem_key FROM orders WHERE idem_key = ANY($1)"),
            &[&key_list],
        )
        .await?
    {
        let (order, _room) = order_row(&row)?;
        by_key.insert(row.try_get(9)?, order);
    }

    let users: Vec<&str> = batch
        .iter()
        .map(|r| r.user_id.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut bought: HashMap<(String, String), u64> = HashMap::new();
    for row in tx
        .query(
            "SELECT sale_id, user_id, COALESCE(SUM(quantity), 0)::BIGINT FROM orders
             WHERE sale_id = ANY($1) AND user_id = ANY($2) GROUP BY sale_id, user_id",
            &[&ids, &users],
        )
        .await?
    {
        bought.insert((row.try_get(0)?, row.try_get(1)?), u64_at(&row, 2)?);
    }

    let mut results: Vec<Result<Order, BuyError>> = Vec::with_capacity(batch.len());
    let mut placed: Vec<Placed> = Vec::new();
    for (at, (req, key)) in batch.iter().zip(keys).enumerate() {
        let decided = match key {
            Err(e) => Err(e.into()),
            Ok(key) => match decide(req, key, &mut sales, &mut by_key, &mut bought) {
                Ok(Decision::Replay(order)) => Ok(order),
                Ok(Decision::Place(key, order, room_id)) => {
                    placed.push(Placed {
                        at,
                        key,
                        room_id,
                        order: order.clone(),
                    });
                    Ok(order)
                }
                Err(e) => Err(e),
            },
        };
        results.push(decided);
    }
    if placed.is_empty() {
        tx.commit().await?;
        return Ok(results);
    }

    let text = |f: fn(&Placed) -> String| placed.iter().map(f).collect::<Vec<_>>();
    let order_ids = text(|p| p.order.order_id.clone());
    let sale_ids = text(|p| p.order.sale_id.clone().unwrap_or_default());
    let room_ids = text(|p| p.room_id.clone());
    let product_ids = text(|p| p.order.product_id.clone());
    let sku_ids: Vec<Option<String>> = placed.iter().map(|p| p.order.sku_id.clone()).collect();
    let user_ids = text(|p| p.order.user_id.clone());
    let idem_keys = text(|p| p.key.clone());
    let quantities: Vec<i64> = placed.iter().map(|p| i64::from(p.order.quantity)).collect();
    let amounts: Vec<i64> = placed
        .iter()
        .map(|p| to_i64(p.order.amount_cents))
        .collect();
    let times: Vec<i64> = placed.iter().map(|p| to_i64(p.order.created_ms)).collect();
    let inserted: HashSet<String> = tx
        .query(
            "INSERT INTO orders (order_id, sale_id, room_id, product_id, user_id, quantity,
                 amount_cents, idem_key, created_ms, sku_id)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                 $6::int8[], $7::int8[], $8::text[], $9::int8[], $10::text[])
             ON CONFLICT (idem_key) DO NOTHING
             RETURNING idem_key",
            &[
                &order_ids,
                &sale_ids,
                &room_ids,
                &product_ids,
                &user_ids,
                &quantities,
                &amounts,
                &idem_keys,
                &times,
                &sku_ids,
            ],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;

    let mut moved: HashMap<String, i64> = HashMap::new();
    for p in &placed {
        if inserted.contains(&p.key) {
            let sale = p.order.sale_id.clone().unwrap_or_default();
            *moved.entry(sale).or_default() += i64::from(p.order.quantity);
        } else {
            // Taken by a racing purchase (or a buy of a sale this batch does not lock): the
            // units go back, so the SKUs' counters written below match the orders kept.
            let sale = p.order.sale_id.as_deref().unwrap_or_default();
            if let Some(s) = sales.get_mut(sale) {
                s.give_back(p.order.sku_id.as_deref(), p.order.quantity);
            }
            results[p.at] = Err(BuyError::KeyReused(p.key.clone()));
        }
    }
    let (moved_ids, moved_by): (Vec<String>, Vec<i64>) = moved.into_iter().unzip();
    // Each SKU's counters as decided in memory, on the rows this transaction locked.
    let moved_skus = moved_ids
        .iter()
        .map(|id| {
            sales
                .get(id)
                .map_or(Ok("[]".into()), |s| serde_json::to_string(&s.skus))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let updated = tx
        .execute(
            "UPDATE flash_sales AS s SET sold = s.sold + d.n, skus = d.skus
             FROM UNNEST($1::text[], $2::int8[], $3::text[]) AS d(id, n, skus)
             WHERE s.id = d.id AND s.sold + d.n <= s.stock",
            &[&moved_ids, &moved_by, &moved_skus],
        )
        .await?;
    if updated as usize != moved_ids.len() {
        // Cannot happen while the rows are locked; never commit an oversell if it does.
        return Err(StoreError::Commit(
            "a flash sale's sold count would have passed its stock".into(),
        ));
    }
    tx.commit().await?;
    Ok(results)
}

/// Decide one buy against the batch's view, which a placed order updates.
fn decide(
    req: &BuyRequest,
    key: String,
    sales: &mut HashMap<String, FlashSale>,
    by_key: &mut HashMap<String, Order>,
    bought: &mut HashMap<(String, String), u64>,
) -> Result<Decision, BuyError> {
    if let Some(earlier) = by_key.get(&key) {
        return if earlier.sale_id.as_deref() == Some(req.sale_id.as_str())
            && earlier.user_id == req.user_id
        {
            Ok(Decision::Replay(Order {
                replayed: true,
                ..earlier.clone()
            }))
        } else {
            Err(BuyError::KeyReused(key))
        };
    }
    if req.quantity == 0 {
        return Err(BuyError::BadQuantity(req.quantity));
    }
    let sale = sales
        .get_mut(&req.sale_id)
        .filter(|s| req.in_room.as_ref().is_none_or(|room| s.room_id == *room))
        .ok_or_else(|| BuyError::UnknownSale(req.sale_id.clone()))?;
    if req.now_ms < sale.starts_ms {
        return Err(BuyError::NotStarted(sale.id.clone()));
    }
    if req.now_ms >= sale.ends_ms {
        return Err(BuyError::Ended(sale.id.clone()));
    }
    if sale.signed_in_only && req.guest {
        return Err(BuyError::SignInRequired(sale.id.clone()));
    }
    let mine = bought
        .entry((req.sale_id.clone(), req.user_id.clone()))
        .or_default();
    if *mine + u64::from(req.quantity) > u64::from(sale.per_user_limit) {
        return Err(BuyError::PerUserLimit {
            sale_id: sale.id.clone(),
            user_id: req.user_id.clone(),
            limit: sale.per_user_limit,
        });
    }
    let order_id = format!("o_{}", random_id(8)?);
    let taken = sale.take(req.sku.as_deref(), req.quantity)?;
    let order = Order {
        order_id,
        sale_id: Some(req.sale_id.clone()),
        product_id: sale.product_id.clone(),
        sku_id: taken.sku_id,
        user_id: req.user_id.clone(),
        quantity: req.quantity,
        amount_cents: taken.amount_cents,
        created_ms: req.now_ms,
        replayed: false,
    };
    *mine += u64::from(req.quantity);
    by_key.insert(key.clone(), order.clone());
    Ok(Decision::Place(key, order, sale.room_id.clone()))
}
