//! Merchants and their API tokens; only the SHA-256 of a token is ever stored.

use super::{random_hex, to_i64, to_u64, with_fresh_ids};
use crate::store::{SqliteStore, StoreError, now_ms};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A merchant account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub created_ms: u64,
}

/// What the database keeps of a token: its SHA-256, hex-encoded.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn merchant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Merchant> {
    Ok(Merchant {
        id: r.get(0)?,
        name: r.get(1)?,
        created_ms: to_u64(r.get(2)?),
    })
}

/// Merchant accounts and their API tokens.
///
/// Contract: a token is shown once, by [`create_merchant`](Self::create_merchant); the
/// store keeps only its hex SHA-256, so tokens stay valid when data moves between backends.
/// Merchant ids and tokens are unique and random (OS CSPRNG); lookups of an unknown or
/// empty token or id are `Ok(None)`, never an error.
pub trait MerchantStore {
    /// Create a merchant (`m_` and 12 hex digits) with a fresh API token (`lc_` and 48
    /// hex digits), returned once: the store keeps only its hash.
    fn create_merchant(&self, name: &str) -> Result<(Merchant, String), StoreError>;

    /// The merchant whose API token this is, if any (`None` for an empty token).
    fn merchant_by_token(&self, token: &str) -> Result<Option<Merchant>, StoreError>;

    /// One merchant by id.
    fn merchant(&self, id: &str) -> Result<Option<Merchant>, StoreError>;
}

impl MerchantStore for SqliteStore {
    fn create_merchant(&self, name: &str) -> Result<(Merchant, String), StoreError> {
        let created_ms = now_ms();
        with_fresh_ids(|| {
            let merchant = Merchant {
                id: format!("m_{}", random_hex(6)?),
                name: name.to_owned(),
                created_ms,
            };
            let token = format!("lc_{}", random_hex(24)?);
            self.conn()?.execute(
                "INSERT INTO merchants (id, name, token_hash, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![
                    merchant.id,
                    merchant.name,
                    token_hash(&token),
                    to_i64(created_ms)
                ],
            )?;
            Ok((merchant, token))
        })
    }

    fn merchant_by_token(&self, token: &str) -> Result<Option<Merchant>, StoreError> {
        if token.is_empty() {
            return Ok(None);
        }
        Ok(self
            .conn()?
            .query_row(
                "SELECT id, name, created_ms FROM merchants WHERE token_hash = ?1",
                [token_hash(token)],
                merchant_row,
            )
            .optional()?)
    }

    fn merchant(&self, id: &str) -> Result<Option<Merchant>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT id, name, created_ms FROM merchants WHERE id = ?1",
                [id],
                merchant_row,
            )
            .optional()?)
    }
}
