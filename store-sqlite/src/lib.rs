//! [`SqliteStore`]: the embedded implementation of every `livecart-store` trait, the
//! default engine (one binary, no service). One connection behind a mutex (every call
//! serialized in-process), `BEGIN IMMEDIATE` for writers in other processes, WAL journal
//! and `synchronous=NORMAL` for files, schema versions in `PRAGMA user_version`. Each
//! domain's queries live in their own module, in `impl … for SqliteStore` blocks.

mod analytics;
mod audience;
mod bag;
mod buys;
mod claims;
mod coupons;
mod images;
mod merchants;
mod plugins;
mod products;
mod rooms;
mod sales;
mod sync;

use livecart_store::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// The schema, one entry per version; never edit a released entry, append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: plugin registry, room bindings, faults, KV.
    r#"
    CREATE TABLE plugin_versions (
        hash        TEXT PRIMARY KEY,
        owner       TEXT NOT NULL,
        name        TEXT NOT NULL,
        label       TEXT NOT NULL,
        manifest    TEXT NOT NULL,
        size        INTEGER NOT NULL,
        wasm        BLOB NOT NULL,
        uploaded_ms INTEGER NOT NULL
    );
    CREATE INDEX plugin_versions_by_name ON plugin_versions(owner, name, uploaded_ms);
    CREATE TABLE room_plugins (
        room            TEXT NOT NULL,
        name            TEXT NOT NULL,
        hash            TEXT NOT NULL REFERENCES plugin_versions(hash),
        config          TEXT NOT NULL,
        enabled         INTEGER NOT NULL,
        disabled_reason TEXT,
        updated_ms      INTEGER NOT NULL,
        PRIMARY KEY (room, name)
    );
    CREATE TABLE room_plugin_history (
        seq    INTEGER PRIMARY KEY AUTOINCREMENT,
        room   TEXT NOT NULL,
        name   TEXT NOT NULL,
        hash   TEXT NOT NULL,
        config TEXT NOT NULL,
        at_ms  INTEGER NOT NULL
    );
    CREATE TABLE plugin_faults (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        room    TEXT NOT NULL,
        name    TEXT NOT NULL,
        hash    TEXT NOT NULL,
        kind    TEXT NOT NULL,
        message TEXT NOT NULL,
        at_ms   INTEGER NOT NULL
    );
    CREATE INDEX plugin_faults_by_room ON plugin_faults(room, name, seq);
    CREATE TABLE plugin_kv (
        name  TEXT NOT NULL,
        room  TEXT NOT NULL,
        key   TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (name, room, key)
    ) WITHOUT ROWID;
    "#,
    // 2: commerce (merchants, rooms, products, coupons and claims, flash sales and
    // orders) and push analytics (pushes, acks, clicks). `seq` columns keep creation order.
    r#"
    CREATE TABLE merchants (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE rooms (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        merchant_id TEXT NOT NULL,
        title       TEXT NOT NULL,
        stream_key  TEXT NOT NULL UNIQUE,
        status      TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        started_ms  INTEGER,
        ended_ms    INTEGER
    );
    CREATE INDEX rooms_by_merchant ON rooms(merchant_id, seq);
    CREATE TABLE products (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        merchant_id TEXT NOT NULL,
        id          TEXT NOT NULL,
        title       TEXT NOT NULL,
        price_cents INTEGER NOT NULL,
        currency    TEXT NOT NULL,
        image_url   TEXT NOT NULL,
        buy_url     TEXT NOT NULL,
        stock       INTEGER NOT NULL,
        description TEXT NOT NULL,
        faq         TEXT NOT NULL,
        specs       TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        deleted     INTEGER NOT NULL DEFAULT 0,
        UNIQUE (merchant_id, id)
    );
    CREATE TABLE coupons (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        id             TEXT NOT NULL UNIQUE,
        merchant_id    TEXT NOT NULL,
        room_id        TEXT,
        title          TEXT NOT NULL,
        discount_cents INTEGER NOT NULL,
        quota          INTEGER NOT NULL,
        claimed        INTEGER NOT NULL DEFAULT 0,
        per_user_limit INTEGER NOT NULL,
        valid_from_ms  INTEGER NOT NULL,
        valid_until_ms INTEGER NOT NULL,
        unlocked       INTEGER NOT NULL,
        created_ms     INTEGER NOT NULL,
        deleted        INTEGER NOT NULL DEFAULT 0,
        CHECK (claimed <= quota)
    );
    CREATE INDEX coupons_by_merchant ON coupons(merchant_id, seq);
    CREATE INDEX coupons_by_room ON coupons(room_id, seq);
    CREATE TABLE claims (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        claim_id   TEXT NOT NULL UNIQUE,
        coupon_id  TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        idem_key   TEXT NOT NULL UNIQUE,
        claimed_ms INTEGER NOT NULL,
        push_id    TEXT,
        variant    TEXT
    );
    CREATE INDEX claims_by_coupon_user ON claims(coupon_id, user_id);
    CREATE INDEX claims_by_push ON claims(push_id);
    CREATE TABLE flash_sales (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        id             TEXT NOT NULL UNIQUE,
        merchant_id    TEXT NOT NULL,
        room_id        TEXT NOT NULL,
        product_id     TEXT NOT NULL,
        price_cents    INTEGER NOT NULL,
        stock          INTEGER NOT NULL,
        sold           INTEGER NOT NULL DEFAULT 0,
        per_user_limit INTEGER NOT NULL,
        starts_ms      INTEGER NOT NULL,
        ends_ms        INTEGER NOT NULL,
        created_ms     INTEGER NOT NULL,
        CHECK (sold <= stock)
    );
    CREATE INDEX flash_sales_by_room ON flash_sales(room_id, starts_ms);
    CREATE TABLE orders (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id     TEXT NOT NULL UNIQUE,
        sale_id      TEXT,
        room_id      TEXT NOT NULL,
        product_id   TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        quantity     INTEGER NOT NULL,
        amount_cents INTEGER NOT NULL,
        idem_key     TEXT NOT NULL UNIQUE,
        created_ms   INTEGER NOT NULL,
        push_id      TEXT,
        variant      TEXT
    );
    CREATE INDEX orders_by_sale_user ON orders(sale_id, user_id);
    CREATE INDEX orders_by_room ON orders(room_id, created_ms);
    CREATE TABLE pushes (
        push_id        TEXT PRIMARY KEY,
        room_id        TEXT NOT NULL,
        product_id     TEXT NOT NULL,
        variant        TEXT,
        server_send_ms INTEGER NOT NULL,
        media_ms       INTEGER,
        source         TEXT NOT NULL
    );
    CREATE INDEX pushes_by_room ON pushes(room_id, server_send_ms);
    CREATE TABLE acks (
        push_id      TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        room_id      TEXT NOT NULL,
        variant      TEXT,
        received_ms  INTEGER,
        displayed_ms INTEGER,
        PRIMARY KEY (push_id, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE clicks (
        push_id    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        product_id TEXT NOT NULL,
        variant    TEXT,
        at_ms      INTEGER NOT NULL,
        PRIMARY KEY (push_id, user_id)
    ) WITHOUT ROWID;
    "#,
    // 3: the media time (playhead) at which a viewer displayed a card, for sync error.
    r#"
    ALTER TABLE acks ADD COLUMN displayed_media_ms INTEGER;
    "#,
    // 4: tenancy. A merchant has many API tokens, which the operator issues, rotates and
    // revokes, and may be disabled. Each existing token moves to `merchant_tokens` as the
    // merchant's "initial" token (same hash, so it keeps working); `merchants` is rebuilt
    // without its token column and with a `seq` for creation order (nothing references it).
    r#"
    CREATE TABLE merchant_tokens (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        merchant_id TEXT NOT NULL,
        token_hash  TEXT NOT NULL UNIQUE,
        label       TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        revoked_ms  INTEGER
    );
    CREATE INDEX merchant_tokens_by_merchant ON merchant_tokens(merchant_id, seq);
    INSERT INTO merchant_tokens (id, merchant_id, token_hash, label, created_ms)
        SELECT 'tk_' || lower(hex(randomblob(6))), id, token_hash, 'initial', created_ms
        FROM merchants ORDER BY created_ms, id;
    CREATE TABLE merchants_v4 (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        disabled_ms INTEGER
    );
    INSERT INTO merchants_v4 (id, name, created_ms)
        SELECT id, name, created_ms FROM merchants ORDER BY created_ms, id;
    DROP TABLE merchants;
    ALTER TABLE merchants_v4 RENAME TO merchants;
    "#,
    // 5: the operator's per-merchant plugin limits (NULL: the node's defaults).
    r#"
    ALTER TABLE merchants ADD COLUMN plugin_max_code_bytes INTEGER;
    "#,
    // 6: plugin logs the merchant can read.
    r#"
    CREATE TABLE plugin_logs (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        room    TEXT NOT NULL,
        name    TEXT NOT NULL,
        hash    TEXT NOT NULL,
        at_ms   INTEGER NOT NULL,
        level   TEXT NOT NULL,
        source  TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX plugin_logs_by_room ON plugin_logs(room, name, seq);
    "#,
    // 7: coupons and flash sales for signed-in viewers only (guests are refused).
    r#"
    ALTER TABLE coupons ADD COLUMN signed_in_only INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE flash_sales ADD COLUMN signed_in_only INTEGER NOT NULL DEFAULT 0;
    "#,
    // 8: each room's product bag (小黄车), in the merchant's order.
    r#"
    CREATE TABLE room_products (
        room_id    TEXT NOT NULL,
        position   INTEGER NOT NULL,
        product_id TEXT NOT NULL,
        PRIMARY KEY (room_id, position)
    ) WITHOUT ROWID;
    "#,
    // 9: coupons with a minimum spend (满减: ¥20 off orders of ¥199 or more); 0: any order.
    r#"
    ALTER TABLE coupons ADD COLUMN min_spend_cents INTEGER NOT NULL DEFAULT 0;
    "#,
    // 10: SKUs (size, colour): a product's as JSON; a flash sale's, each with its own
    // stock and sold, as JSON written back inside the buy's transaction; an order's SKU.
    r#"
    ALTER TABLE products ADD COLUMN skus TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE flash_sales ADD COLUMN skus TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE orders ADD COLUMN sku_id TEXT;
    "#,
    // 11: who watched: each live (opened by going live, closed by leaving it) and the
    // audience per room, minute and node (viewer time added up, the largest peak kept).
    r#"
    CREATE TABLE room_lives (
        room_id    TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        ended_ms   INTEGER,
        PRIMARY KEY (room_id, started_ms)
    ) WITHOUT ROWID;
    CREATE TABLE room_audience (
        room_id   TEXT NOT NULL,
        minute_ms INTEGER NOT NULL,
        node_id   TEXT NOT NULL,
        viewer_ms INTEGER NOT NULL,
        peak      INTEGER NOT NULL,
        PRIMARY KEY (room_id, minute_ms, node_id)
    ) WITHOUT ROWID;
    INSERT INTO room_lives (room_id, started_ms, ended_ms)
        SELECT id, started_ms, ended_ms FROM rooms WHERE started_ms IS NOT NULL;
    "#,
    // 12: product images merchants upload, by content id (`img_` + SHA-256 prefix).
    r#"
    CREATE TABLE images (
        id           TEXT PRIMARY KEY,
        merchant_id  TEXT NOT NULL,
        content_type TEXT NOT NULL,
        bytes        BLOB NOT NULL,
        created_ms   INTEGER NOT NULL
    );
    CREATE INDEX images_by_merchant ON images (merchant_id);
    "#,
    // 13: how viewers play a room's live ('standard': LL-DASH, 'ultra-low': WebRTC).
    r#"
    ALTER TABLE rooms ADD COLUMN latency_mode TEXT NOT NULL DEFAULT 'standard';
    "#,
];

/// The embedded SQLite store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path` and migrate it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::init(conn)
    }

    /// A private in-memory database (tests, the local runner).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let current: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
            tracing::info!(version = i + 1, "store migrated");
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }
}

/// Whether an insert failed because a generated id (or other unique value) already exists.
fn is_unique_violation(e: &StoreError) -> bool {
    match e {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
            f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        }
        _ => false,
    }
}

/// Run an insert that draws fresh random ids on each attempt until none of them collides
/// with an existing row (a handful of attempts; a collision is already unlikely).
fn with_fresh_ids<T>(mut attempt: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    for _ in 0..3 {
        match attempt() {
            Err(e) if is_unique_violation(&e) => continue,
            other => return other,
        }
    }
    attempt()
}

impl SqliteStore {
    /// Decide every request of `batch` in order inside one `BEGIN IMMEDIATE` transaction and
    /// commit it once (group commit for claims and buys). If the transaction cannot start or
    /// commit, every request fails with the same store error and none is kept.
    fn in_one_commit<R, T, E: From<StoreError>>(
        &self,
        batch: &[R],
        decide: impl Fn(&mut rusqlite::Transaction<'_>, &R) -> Result<T, E>,
    ) -> Vec<Result<T, E>> {
        let attempt = || -> Result<Vec<Result<T, E>>, StoreError> {
            let mut conn = self.conn()?;
            let mut tx =
                conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let results = batch
                .iter()
                .map(|request| decide(&mut tx, request))
                .collect();
            tx.commit()?;
            Ok(results)
        };
        match attempt() {
            Ok(results) => results,
            Err(e) => {
                let reason = e.to_string();
                batch
                    .iter()
                    .map(|_| Err(StoreError::Commit(reason.clone()).into()))
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecart_store::MerchantStore;

    #[test]
    fn migrations_are_idempotent_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        drop(SqliteStore::open(&path).expect("first open"));
        let store = SqliteStore::open(&path).expect("reopen");
        let v: usize = store
            .conn()
            .expect("conn")
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(v, MIGRATIONS.len());
    }

    /// Migration 4 moved tokens out of `merchants`; a merchant created before it must keep
    /// its token, its name and its place in the list.
    #[test]
    fn tokens_issued_before_tenancy_still_work_after_migrating() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let mut conn = Connection::open(&path).expect("open");
        for (i, sql) in MIGRATIONS.iter().enumerate().take(3) {
            let tx = conn.transaction().expect("tx");
            tx.execute_batch(sql).expect("old migration");
            tx.pragma_update(None, "user_version", i + 1)
                .expect("version");
            tx.commit().expect("commit");
        }
        let hash = |t: &str| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(t.as_bytes()));
        for (id, name, token, at) in [
            ("m_000000000002", "Second", "lc_two", 2),
            ("m_000000000001", "First", "lc_one", 1),
        ] {
            conn.execute(
                "INSERT INTO merchants (id, name, token_hash, created_ms) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![id, name, hash(token), at],
            )
            .expect("old merchant");
        }
        drop(conn);

        let store = SqliteStore::open(&path).expect("migrate");
        let first = store
            .merchant_by_token("lc_one")
            .expect("lookup")
            .expect("old token still works");
        assert_eq!(
            (first.id.as_str(), first.name.as_str()),
            ("m_000000000001", "First")
        );
        assert!(first.is_enabled());
        let names: Vec<String> = store
            .merchants()
            .expect("list")
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["First", "Second"]);
        let tokens = store.tokens_of("m_000000000002").expect("tokens");
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].label, "initial");
        assert!(tokens[0].id.starts_with("tk_") && tokens[0].id.len() == 15);
    }
}
