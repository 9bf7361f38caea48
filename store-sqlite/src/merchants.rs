//! [`MerchantStore`] on SQLite: merchants and their API tokens (only each token's SHA-256
//! is stored); every change in one `BEGIN IMMEDIATE` transaction.

use crate::{SqliteStore, with_fresh_ids};
use livecart_store::util::{now_ms, random_id, to_i64, to_u64};
use livecart_store::{
    ApiToken, Merchant, MerchantStore, PluginLimits, StoreError, token_hash, valid_label,
    valid_name,
};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

const MERCHANT_COLS: &str = "id, name, created_ms, disabled_ms";
const TOKEN_COLS: &str = "id, merchant_id, label, created_ms, revoked_ms";

fn merchant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Merchant> {
    Ok(Merchant {
        id: r.get(0)?,
        name: r.get(1)?,
        created_ms: to_u64(r.get(2)?),
        disabled_ms: r.get::<_, Option<i64>>(3)?.map(to_u64),
    })
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        label: r.get(2)?,
        created_ms: to_u64(r.get(3)?),
        revoked_ms: r.get::<_, Option<i64>>(4)?.map(to_u64),
    })
}

impl MerchantStore for SqliteStore {
    fn plugin_limits(&self, merchant_id: &str) -> Result<PluginLimits, StoreError> {
        let code: Option<Option<i64>> = self
            .conn()?
            .query_row(
                "SELECT plugin_max_code_bytes FROM merchants WHERE id = ?1",
                [merchant_id],
                |r| r.get(0),
            )
            .optional()?;
        let code = code.ok_or_else(|| StoreError::NotFound(format!("merchant {merchant_id}")))?;
        Ok(PluginLimits {
            max_code_bytes: code.map(to_u64),
        })
    }

    fn set_plugin_limits(
        &self,
        merchant_id: &str,
        limits: &PluginLimits,
    ) -> Result<PluginLimits, StoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE merchants SET plugin_max_code_bytes = ?2 WHERE id = ?1",
                params![merchant_id, limits.max_code_bytes.map(to_i64)],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("merchant {merchant_id}")));
            }
            Ok(limits.clone())
        })
    }

    fn create_merchant(&self, name: &str) -> Result<(Merchant, String), StoreError> {
        let name = valid_name(name)?;
        let created_ms = now_ms();
        with_fresh_ids(|| {
            let merchant = Merchant {
                id: format!("m_{}", random_id(6)?),
                name: name.clone(),
                created_ms,
                disabled_ms: None,
            };
            self.write(|tx| {
                tx.execute(
                    "INSERT INTO merchants (id, name, created_ms) VALUES (?1, ?2, ?3)",
                    params![merchant.id, merchant.name, to_i64(created_ms)],
                )?;
                let (_, secret) = insert_token(tx, &merchant.id, "initial", created_ms)?;
                Ok((merchant.clone(), secret))
            })
        })
    }

    fn merchant_by_token(&self, token: &str) -> Result<Option<Merchant>, StoreError> {
        if token.is_empty() {
            return Ok(None);
        }
        Ok(self
            .conn()?
            .query_row(
                "SELECT m.id, m.name, m.created_ms, m.disabled_ms
                 FROM merchant_tokens t JOIN merchants m ON m.id = t.merchant_id
                 WHERE t.token_hash = ?1 AND t.revoked_ms IS NULL",
                [token_hash(token)],
                merchant_row,
            )
            .optional()?)
    }

    fn merchant(&self, id: &str) -> Result<Option<Merchant>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                &format!("SELECT {MERCHANT_COLS} FROM merchants WHERE id = ?1"),
                [id],
                merchant_row,
            )
            .optional()?)
    }

    fn merchants(&self) -> Result<Vec<Merchant>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {MERCHANT_COLS} FROM merchants ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], merchant_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_merchant_disabled(&self, id: &str, disabled: bool) -> Result<Merchant, StoreError> {
        self.write(|tx| {
            let merchant = merchant_in(tx, id)?;
            match (merchant.disabled_ms.is_some(), disabled) {
                (true, true) => {
                    return Err(StoreError::Conflict(format!(
                        "merchant {id} is already disabled"
                    )));
                }
                (false, false) => {
                    return Err(StoreError::Conflict(format!(
                        "merchant {id} is already enabled"
                    )));
                }
                _ => {}
            }
            let stamp = disabled.then(|| to_i64(now_ms()));
            tx.execute(
                "UPDATE merchants SET disabled_ms = ?2 WHERE id = ?1",
                params![id, stamp],
            )?;
            merchant_in(tx, id)
        })
    }

    fn tokens_of(&self, merchant_id: &str) -> Result<Vec<ApiToken>, StoreError> {
        // A read: one deferred transaction (a consistent view), not the write lock.
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let tokens = {
            merchant_in(&tx, merchant_id)?;
            let mut stmt = tx.prepare(&format!(
                "SELECT {TOKEN_COLS} FROM merchant_tokens WHERE merchant_id = ?1 ORDER BY seq"
            ))?;
            let rows = stmt.query_map([merchant_id], token_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        tx.commit()?;
        Ok(tokens)
    }

    fn issue_token(
        &self,
        merchant_id: &str,
        label: &str,
    ) -> Result<(ApiToken, String), StoreError> {
        let label = valid_label(label)?;
        with_fresh_ids(|| {
            self.write(|tx| {
                merchant_in(tx, merchant_id)?;
                insert_token(tx, merchant_id, &label, now_ms())
            })
        })
    }

    fn rotate_token(
        &self,
        merchant_id: &str,
        token_id: &str,
    ) -> Result<(ApiToken, String), StoreError> {
        with_fresh_ids(|| {
            self.write(|tx| {
                let old = revoke_in(tx, merchant_id, token_id)?;
                insert_token(tx, merchant_id, &old.label, now_ms())
            })
        })
    }

    fn revoke_token(&self, merchant_id: &str, token_id: &str) -> Result<ApiToken, StoreError> {
        self.write(|tx| revoke_in(tx, merchant_id, token_id))
    }
}

impl SqliteStore {
    /// Run `f` in one `BEGIN IMMEDIATE` transaction, committed only if it succeeds.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// The merchant `id` inside a transaction, or `NotFound`.
fn merchant_in(tx: &Transaction<'_>, id: &str) -> Result<Merchant, StoreError> {
    tx.query_row(
        &format!("SELECT {MERCHANT_COLS} FROM merchants WHERE id = ?1"),
        [id],
        merchant_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("merchant {id}")))
}

/// The merchant's token `token_id` inside a transaction, or `NotFound` (also when the
/// token belongs to another merchant).
fn token_in(
    tx: &Transaction<'_>,
    merchant_id: &str,
    token_id: &str,
) -> Result<ApiToken, StoreError> {
    merchant_in(tx, merchant_id)?;
    tx.query_row(
        &format!("SELECT {TOKEN_COLS} FROM merchant_tokens WHERE id = ?1 AND merchant_id = ?2"),
        [token_id, merchant_id],
        token_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("token {token_id} of merchant {merchant_id}")))
}

/// Revoke an unrevoked token of the merchant; returns it as stored afterwards.
fn revoke_in(
    tx: &Transaction<'_>,
    merchant_id: &str,
    token_id: &str,
) -> Result<ApiToken, StoreError> {
    let token = token_in(tx, merchant_id, token_id)?;
    if token.revoked_ms.is_some() {
        return Err(StoreError::Conflict(format!(
            "token {token_id} is already revoked"
        )));
    }
    tx.execute(
        "UPDATE merchant_tokens SET revoked_ms = ?2 WHERE id = ?1",
        params![token_id, to_i64(now_ms())],
    )?;
    token_in(tx, merchant_id, token_id)
}

/// Insert a fresh token for the merchant; returns it and its secret. A colliding id or
/// secret is a unique violation, which [`with_fresh_ids`] retries.
fn insert_token(
    tx: &Transaction<'_>,
    merchant_id: &str,
    label: &str,
    created_ms: u64,
) -> Result<(ApiToken, String), StoreError> {
    let token = ApiToken {
        id: format!("tk_{}", random_id(6)?),
        merchant_id: merchant_id.to_owned(),
        label: label.to_owned(),
        created_ms,
        revoked_ms: None,
    };
    let secret = format!("lc_{}", random_id(24)?);
    tx.execute(
        "INSERT INTO merchant_tokens (id, merchant_id, token_hash, label, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            token.id,
            merchant_id,
            token_hash(&secret),
            label,
            to_i64(created_ms)
        ],
    )?;
    Ok((token, secret))
}
