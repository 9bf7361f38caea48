//! [`MerchantStore`] on PostgreSQL: merchants and their API tokens. A token lookup is one
//! query (never cached), and disabling or revoking is one conditional `UPDATE …
//! RETURNING`, so two operators racing get one success and one conflict, and every node
//! sees the change on its very next lookup.

use crate::{PostgresStore, fresh_ids, opt_u64_at, u64_at};
use deadpool_postgres::Object;
use livecart_store::util::{now_ms, random_id, to_i64};
use livecart_store::{
    ApiToken, Merchant, MerchantStore, PluginLimits, StoreError, token_hash, valid_label,
    valid_name,
};
use tokio_postgres::{GenericClient, Row};

const MERCHANT_COLS: &str = "id, name, created_ms, disabled_ms";
const TOKEN_COLS: &str = "id, merchant_id, label, created_ms, revoked_ms";

fn merchant_row(r: &Row) -> Result<Merchant, tokio_postgres::Error> {
    Ok(Merchant {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        created_ms: u64_at(r, 2)?,
        disabled_ms: opt_u64_at(r, 3)?,
    })
}

fn token_row(r: &Row) -> Result<ApiToken, tokio_postgres::Error> {
    Ok(ApiToken {
        id: r.try_get(0)?,
        merchant_id: r.try_get(1)?,
        label: r.try_get(2)?,
        created_ms: u64_at(r, 3)?,
        revoked_ms: opt_u64_at(r, 4)?,
    })
}

impl MerchantStore for PostgresStore {
    fn plugin_limits(&self, merchant_id: &str) -> Result<PluginLimits, StoreError> {
        let id = merchant_id.to_owned();
        self.run(move |db| async move {
            let row = db
                .query_opt(
                    "SELECT plugin_max_code_bytes FROM merchants WHERE id = $1",
                    &[&id],
                )
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("merchant {id}")))?;
            Ok(PluginLimits {
                max_code_bytes: opt_u64_at(&row, 0)?,
            })
        })
    }

    fn set_plugin_limits(
        &self,
        merchant_id: &str,
        limits: &PluginLimits,
    ) -> Result<PluginLimits, StoreError> {
        let (id, limits) = (merchant_id.to_owned(), limits.clone());
        self.run(move |db| async move {
            let code = limits.max_code_bytes.map(to_i64);
            let changed = db
                .execute(
                    "UPDATE merchants SET plugin_max_code_bytes = $2 WHERE id = $1",
                    &[&id, &code],
                )
                .await?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("merchant {id}")));
            }
            Ok(limits)
        })
    }

    fn create_merchant(&self, name: &str) -> Result<(Merchant, String), StoreError> {
        let name = valid_name(name)?;
        self.run(move |mut db| async move {
            let created_ms = now_ms();
            fresh_ids!(create_in(&mut db, &name, created_ms).await)
        })
    }

    fn merchant_by_token(&self, token: &str) -> Result<Option<Merchant>, StoreError> {
        if token.is_empty() {
            return Ok(None);
        }
        let hash = token_hash(token);
        self.run(move |db| async move {
            let row = db
                .query_opt(
                    "SELECT m.id, m.name, m.created_ms, m.disabled_ms
                     FROM merchant_tokens t JOIN merchants m ON m.id = t.merchant_id
                     WHERE t.token_hash = $1 AND t.revoked_ms IS NULL",
                    &[&hash],
                )
                .await?;
            Ok(row.as_ref().map(merchant_row).transpose()?)
        })
    }

    fn merchant(&self, id: &str) -> Result<Option<Merchant>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move { merchant_opt(&**db, &id).await })
    }

    fn merchants(&self) -> Result<Vec<Merchant>, StoreError> {
        self.run(move |db| async move {
            let rows = db
                .query(
                    &format!("SELECT {MERCHANT_COLS} FROM merchants ORDER BY seq"),
                    &[],
                )
                .await?;
            Ok(rows.iter().map(merchant_row).collect::<Result<_, _>>()?)
        })
    }

    fn set_merchant_disabled(&self, id: &str, disabled: bool) -> Result<Merchant, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move {
            let row = if disabled {
                let sql = format!(
                    "UPDATE merchants SET disabled_ms = $2 WHERE id = $1 AND disabled_ms IS NULL
                     RETURNING {MERCHANT_COLS}"
                );
                db.query_opt(&sql, &[&id, &to_i64(now_ms())]).await?
            } else {
                let sql = format!(
                    "UPDATE merchants SET disabled_ms = NULL
                     WHERE id = $1 AND disabled_ms IS NOT NULL RETURNING {MERCHANT_COLS}"
                );
                db.query_opt(&sql, &[&id]).await?
            };
            if let Some(row) = row {
                return Ok(merchant_row(&row)?);
            }
            if merchant_opt(&**db, &id).await?.is_none() {
                return Err(StoreError::NotFound(format!("merchant {id}")));
            }
            let state = if disabled { "disabled" } else { "enabled" };
            Err(StoreError::Conflict(format!(
                "merchant {id} is already {state}"
            )))
        })
    }

    fn tokens_of(&self, merchant_id: &str) -> Result<Vec<ApiToken>, StoreError> {
        let merchant_id = merchant_id.to_owned();
        self.run(move |mut db| async move {
            // One snapshot for both reads: the merchant and its tokens agree.
            let tx = db
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            merchant_in(&*tx, &merchant_id).await?;
            let rows = tx
                .query(
                    &format!(
                        "SELECT {TOKEN_COLS} FROM merchant_tokens WHERE merchant_id = $1 ORDER BY seq"
                    ),
                    &[&merchant_id],
                )
                .await?;
            tx.commit().await?;
            Ok(rows.iter().map(token_row).collect::<Result<_, _>>()?)
        })
    }

    fn issue_token(
        &self,
        merchant_id: &str,
        label: &str,
    ) -> Result<(ApiToken, String), StoreError> {
        let label = valid_label(label)?;
        let merchant_id = merchant_id.to_owned();
        self.run(move |db| async move {
            merchant_in(&**db, &merchant_id).await?;
            fresh_ids!(insert_token(&**db, &merchant_id, &label, now_ms()).await)
        })
    }

    fn rotate_token(
        &self,
        merchant_id: &str,
        token_id: &str,
    ) -> Result<(ApiToken, String), StoreError> {
        let (merchant_id, token_id) = (merchant_id.to_owned(), token_id.to_owned());
        self.run(move |mut db| async move {
            fresh_ids!(rotate_in(&mut db, &merchant_id, &token_id).await)
        })
    }

    fn revoke_token(&self, merchant_id: &str, token_id: &str) -> Result<ApiToken, StoreError> {
        let (merchant_id, token_id) = (merchant_id.to_owned(), token_id.to_owned());
        self.run(move |db| async move { revoke_in(&**db, &merchant_id, &token_id).await })
    }
}

/// Create a merchant and its "initial" token in one transaction.
async fn create_in(
    db: &mut Object,
    name: &str,
    created_ms: u64,
) -> Result<(Merchant, String), StoreError> {
    let merchant = Merchant {
        id: format!("m_{}", random_id(6)?),
        name: name.to_owned(),
        created_ms,
        disabled_ms: None,
    };
    let tx = db.transaction().await?;
    tx.execute(
        "INSERT INTO merchants (id, name, created_ms) VALUES ($1, $2, $3)",
        &[&merchant.id, &merchant.name, &to_i64(created_ms)],
    )
    .await?;
    let (_, secret) = insert_token(&*tx, &merchant.id, "initial", created_ms).await?;
    tx.commit().await?;
    Ok((merchant, secret))
}

/// Revoke a token and issue its replacement with the same label in one transaction.
async fn rotate_in(
    db: &mut Object,
    merchant_id: &str,
    token_id: &str,
) -> Result<(ApiToken, String), StoreError> {
    let tx = db.transaction().await?;
    let old = revoke_in(&*tx, merchant_id, token_id).await?;
    let new = insert_token(&*tx, merchant_id, &old.label, now_ms()).await?;
    tx.commit().await?;
    Ok(new)
}

async fn merchant_opt(db: &impl GenericClient, id: &str) -> Result<Option<Merchant>, StoreError> {
    let row = db
        .query_opt(
            &format!("SELECT {MERCHANT_COLS} FROM merchants WHERE id = $1"),
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(merchant_row).transpose()?)
}

/// The merchant `id`, or `NotFound`.
async fn merchant_in(db: &impl GenericClient, id: &str) -> Result<Merchant, StoreError> {
    merchant_opt(db, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("merchant {id}")))
}

/// Revoke an unrevoked token of the merchant in one conditional update; returns it as
/// stored afterwards. `NotFound` for an unknown merchant or a token not its own,
/// `Conflict` for one already revoked.
async fn revoke_in(
    db: &impl GenericClient,
    merchant_id: &str,
    token_id: &str,
) -> Result<ApiToken, StoreError> {
    merchant_in(db, merchant_id).await?;
    let row = db
        .query_opt(
            &format!(
                "UPDATE merchant_tokens SET revoked_ms = $3
                 WHERE id = $1 AND merchant_id = $2 AND revoked_ms IS NULL
                 RETURNING {TOKEN_COLS}"
            ),
            &[&token_id, &merchant_id, &to_i64(now_ms())],
        )
        .await?;
    if let Some(row) = row {
        return Ok(token_row(&row)?);
    }
    let exists = db
        .query_opt(
            "SELECT 1 FROM merchant_tokens WHERE id = $1 AND merchant_id = $2",
            &[&token_id, &merchant_id],
        )
        .await?
        .is_some();
    if exists {
        Err(StoreError::Conflict(format!(
            "token {token_id} is already revoked"
        )))
    } else {
        Err(StoreError::NotFound(format!(
            "token {token_id} of merchant {merchant_id}"
        )))
    }
}

/// Insert a fresh token for the merchant; returns it and its secret. A colliding id or
/// secret is a unique violation, which `fresh_ids!` retries.
async fn insert_token(
    db: &impl GenericClient,
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
    db.execute(
        "INSERT INTO merchant_tokens (id, merchant_id, token_hash, label, created_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &token.id,
            &merchant_id,
            &token_hash(&secret),
            &label,
            &to_i64(created_ms),
        ],
    )
    .await?;
    Ok((token, secret))
}
