//! Durable state in embedded SQLite (WAL mode, versioned migrations).
//!
//! [`Store`] owns one connection behind a mutex; each concern adds its queries in its own
//! file (`plugins.rs` for plugin versions, room bindings, faults and KV). Later a Postgres
//! implementation can satisfy the same query methods.

mod plugins;

pub use plugins::{Binding, FaultRecord, VersionRecord};

use rusqlite::Connection;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store lock poisoned")]
    Poisoned,
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

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
];

/// The embedded store.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
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
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    pub(crate) fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_idempotent_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        drop(Store::open(&path).expect("first open"));
        let store = Store::open(&path).expect("reopen");
        let v: usize = store
            .conn()
            .expect("conn")
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(v, MIGRATIONS.len());
    }
}
