//! Merchants and their API tokens: what the operator creates, lists, disables and
//! re-enables, and the tokens it issues, rotates and revokes. Only the SHA-256 of a token
//! is ever stored.

use super::{random_hex, to_i64, to_u64, with_fresh_ids};
use crate::store::{SqliteStore, StoreError, now_ms};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The longest display name of a merchant, in characters.
pub const MAX_NAME_CHARS: usize = 80;
/// The longest label of an API token, in characters.
pub const MAX_LABEL_CHARS: usize = 60;

/// A merchant account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Merchant {
    pub id: String,
    /// The shop's display name (what the console shows).
    pub name: String,
    pub created_ms: u64,
    /// When the operator disabled this merchant; `None` while it is enabled.
    pub disabled_ms: Option<u64>,
}

impl Merchant {
    /// Whether the merchant may use its tokens, room tokens and stream keys.
    pub fn is_enabled(&self) -> bool {
        self.disabled_ms.is_none()
    }
}

/// One API token of a merchant, as the operator sees it: never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// `tk_` and 12 hex digits; names the token for rotation and revocation.
    pub id: String,
    pub merchant_id: String,
    /// What the operator called it ("initial", "ci", "shop tablet"…); may be empty.
    pub label: String,
    pub created_ms: u64,
    /// When it was revoked (or rotated away); a revoked token never works again.
    pub revoked_ms: Option<u64>,
}

/// What the database keeps of a token: its SHA-256, hex-encoded.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

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

/// A display name, trimmed: 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn valid_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(StoreError::Invalid(format!(
            "a merchant name must have 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "a merchant name must not contain control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// A token label, trimmed: at most [`MAX_LABEL_CHARS`] characters, no control characters.
fn valid_label(label: &str) -> Result<String, StoreError> {
    let label = label.trim();
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "a token label must have at most {MAX_LABEL_CHARS} characters and no control characters"
        )));
    }
    Ok(label.to_owned())
}

/// Merchant accounts and their API tokens.
///
/// Contract: a token's secret is shown once, by the call that issues it; the store keeps
/// only its hex SHA-256, so tokens stay valid when data moves between backends. Merchant
/// ids (`m_` and 12 hex digits), token ids (`tk_` and 12 hex digits) and token secrets
/// (`lc_` and 48 hex digits) are unique and random (OS CSPRNG). Lookups of an unknown or
/// empty token or id are `Ok(None)`, never an error; changing an unknown merchant, or a
/// token that is not that merchant's, is [`StoreError::NotFound`]; a change that the
/// current state already contradicts (disabling a disabled merchant, revoking a revoked
/// token) is [`StoreError::Conflict`] and changes nothing. Names and labels are validated
/// ([`StoreError::Invalid`]) and stored trimmed.
///
/// Disabling and revoking take effect at once, everywhere: the next
/// [`merchant_by_token`](Self::merchant_by_token) in any process sees them. An
/// implementation must therefore not cache token lookups (a Postgres one reads the token
/// and its merchant in one query per lookup, and changes them with one conditional
/// `UPDATE … WHERE disabled_ms IS NULL` / `WHERE revoked_ms IS NULL … RETURNING`, so two
/// operators racing to disable get one success and one conflict). A rotation revokes the
/// old token and issues its replacement in one transaction: never both valid, never
/// neither.
pub trait MerchantStore {
    /// Create an enabled merchant named `name` with a fresh API token labelled "initial",
    /// both in one transaction; the token's secret is returned once.
    fn create_merchant(&self, name: &str) -> Result<(Merchant, String), StoreError>;

    /// The merchant whose unrevoked API token this is, if any (`None` for an empty, unknown
    /// or revoked token). A *disabled* merchant is returned too, with `disabled_ms` set, so
    /// callers can say "disabled" rather than "invalid token"; they must refuse it.
    fn merchant_by_token(&self, token: &str) -> Result<Option<Merchant>, StoreError>;

    /// One merchant by id.
    fn merchant(&self, id: &str) -> Result<Option<Merchant>, StoreError>;

    /// Every merchant, enabled or not, in creation order.
    fn merchants(&self) -> Result<Vec<Merchant>, StoreError>;

    /// Disable (`true`) or re-enable (`false`) a merchant; returns it as stored afterwards.
    /// Disabling stamps `disabled_ms`; its tokens stay (revoked ones stay revoked) and work
    /// again once it is re-enabled. `Conflict` if it already is in that state.
    fn set_merchant_disabled(&self, id: &str, disabled: bool) -> Result<Merchant, StoreError>;

    /// A merchant's tokens, revoked ones included, in the order they were issued.
    /// `NotFound` for an unknown merchant.
    fn tokens_of(&self, merchant_id: &str) -> Result<Vec<ApiToken>, StoreError>;

    /// Issue another API token to a merchant (disabled or not: it works while the
    /// merchant is enabled); the secret is returned once.
    fn issue_token(&self, merchant_id: &str, label: &str)
    -> Result<(ApiToken, String), StoreError>;

    /// Replace one of a merchant's tokens: revoke it and issue a new one with the same
    /// label, in one transaction. `Conflict` if it is already revoked.
    fn rotate_token(
        &self,
        merchant_id: &str,
        token_id: &str,
    ) -> Result<(ApiToken, String), StoreError>;

    /// Revoke one of a merchant's tokens; it stops working at once. Returns the token as
    /// stored afterwards. `Conflict` if it is already revoked.
    fn revoke_token(&self, merchant_id: &str, token_id: &str) -> Result<ApiToken, StoreError>;
}

impl MerchantStore for SqliteStore {
    fn create_merchant(&self, name: &str) -> Result<(Merchant, String), StoreError> {
        let name = valid_name(name)?;
        let created_ms = now_ms();
        with_fresh_ids(|| {
            let merchant = Merchant {
                id: format!("m_{}", random_hex(6)?),
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
        id: format!("tk_{}", random_hex(6)?),
        merchant_id: merchant_id.to_owned(),
        label: label.to_owned(),
        created_ms,
        revoked_ms: None,
    };
    let secret = format!("lc_{}", random_hex(24)?);
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
