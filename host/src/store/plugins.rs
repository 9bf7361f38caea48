//! Plugin rows: versions, room bindings (with history for rollback), faults and KV.

use super::{SqliteStore, StoreError, now_ms};
use crate::plugin::kv::KvBackend;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// One uploaded plugin version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionRecord {
    pub hash: String,
    pub owner: String,
    pub name: String,
    /// The manifest's own version label.
    pub label: String,
    /// The manifest as JSON.
    pub manifest: serde_json::Value,
    pub size: usize,
    pub uploaded_ms: u64,
}

/// A plugin enabled (or once enabled) in a room.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Binding {
    pub room: String,
    pub name: String,
    pub hash: String,
    pub config: String,
    pub enabled: bool,
    /// Why the runtime disabled it, if it did.
    pub disabled_reason: Option<String>,
    pub updated_ms: u64,
}

/// One recorded plugin fault.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultRecord {
    pub room: String,
    pub name: String,
    pub hash: String,
    pub kind: String,
    pub message: String,
    pub at_ms: u64,
}

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VersionRecord> {
    let manifest: String = r.get(4)?;
    Ok(VersionRecord {
        hash: r.get(0)?,
        owner: r.get(1)?,
        name: r.get(2)?,
        label: r.get(3)?,
        manifest: serde_json::from_str(&manifest).unwrap_or(serde_json::Value::Null),
        size: r.get::<_, i64>(5)? as usize,
        uploaded_ms: r.get::<_, i64>(6)? as u64,
    })
}

const VERSION_COLS: &str = "hash, owner, name, label, manifest, size, uploaded_ms";

fn binding_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Binding> {
    Ok(Binding {
        room: r.get(0)?,
        name: r.get(1)?,
        hash: r.get(2)?,
        config: r.get(3)?,
        enabled: r.get(4)?,
        disabled_reason: r.get(5)?,
        updated_ms: r.get::<_, i64>(6)? as u64,
    })
}

const BINDING_COLS: &str = "room, name, hash, config, enabled, disabled_reason, updated_ms";

/// Plugin versions, room bindings with their history, faults, and (through the
/// [`KvBackend`] supertrait) plugin KV spaces.
///
/// Contract: versions are content-addressed and immutable — storing a hash again changes
/// nothing. Binding a plugin writes the binding and a history row in one transaction, so
/// [`previous_binding`](Self::previous_binding) always finds what the room ran before.
/// [`KvBackend::apply`] commits one call's changes all or nothing. Lookups of unknown rows
/// are `Ok(None)` (or `Ok(false)` for changes); orderings are as documented per method.
pub trait PluginStore: KvBackend {
    /// Store a version (a no-op if the hash is already stored). Returns whether it was new.
    fn put_plugin_version(&self, v: &VersionRecord, wasm: &[u8]) -> Result<bool, StoreError>;

    /// One version's record by hash.
    fn plugin_version(&self, hash: &str) -> Result<Option<VersionRecord>, StoreError>;

    /// One version's component bytes by hash.
    fn plugin_wasm(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Versions of one owner's plugin, newest first (all names when `name` is `None`).
    fn plugin_versions(
        &self,
        owner: &str,
        name: Option<&str>,
    ) -> Result<Vec<VersionRecord>, StoreError>;

    /// Enable `hash` as the room's version of its plugin with `config`, remembering the
    /// change for rollback. `hash` must be a stored version (SQLite enforces it with a
    /// foreign key; the error is a backend error, not `NotFound`).
    fn bind_plugin(
        &self,
        room: &str,
        name: &str,
        hash: &str,
        config: &str,
    ) -> Result<Binding, StoreError>;

    /// The room's binding of plugin `name`, enabled or not.
    fn binding(&self, room: &str, name: &str) -> Result<Option<Binding>, StoreError>;

    /// All of a room's bindings, by plugin name.
    fn bindings(&self, room: &str) -> Result<Vec<Binding>, StoreError>;

    /// The (hash, config) the room used before its current version of `name`, if any.
    fn previous_binding(
        &self,
        room: &str,
        name: &str,
        current_hash: &str,
    ) -> Result<Option<(String, String)>, StoreError>;

    /// Turn a binding off (merchant action) or record why the runtime did. Returns whether
    /// the binding exists.
    fn set_plugin_enabled(
        &self,
        room: &str,
        name: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Append a fault to the plugin's log in its room.
    fn record_plugin_fault(&self, f: &FaultRecord) -> Result<(), StoreError>;

    /// The newest `limit` faults of a plugin in a room, newest first.
    fn plugin_faults(
        &self,
        room: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<FaultRecord>, StoreError>;
}

impl PluginStore for SqliteStore {
    fn put_plugin_version(&self, v: &VersionRecord, wasm: &[u8]) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "INSERT OR IGNORE INTO plugin_versions (hash, owner, name, label, manifest, size, wasm, uploaded_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                v.hash,
                v.owner,
                v.name,
                v.label,
                v.manifest.to_string(),
                v.size as i64,
                wasm,
                v.uploaded_ms as i64
            ],
        )?;
        Ok(n == 1)
    }

    fn plugin_version(&self, hash: &str) -> Result<Option<VersionRecord>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                &format!("SELECT {VERSION_COLS} FROM plugin_versions WHERE hash = ?1"),
                [hash],
                version_row,
            )
            .optional()?)
    }

    fn plugin_wasm(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT wasm FROM plugin_versions WHERE hash = ?1",
                [hash],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn plugin_versions(
        &self,
        owner: &str,
        name: Option<&str>,
    ) -> Result<Vec<VersionRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {VERSION_COLS} FROM plugin_versions
             WHERE owner = ?1 AND (?2 IS NULL OR name = ?2) ORDER BY uploaded_ms DESC, hash"
        ))?;
        let rows = stmt.query_map(params![owner, name], version_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn bind_plugin(
        &self,
        room: &str,
        name: &str,
        hash: &str,
        config: &str,
    ) -> Result<Binding, StoreError> {
        let now = now_ms() as i64;
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO room_plugins (room, name, hash, config, enabled, disabled_reason, updated_ms)
             VALUES (?1, ?2, ?3, ?4, 1, NULL, ?5)
             ON CONFLICT (room, name) DO UPDATE SET hash = ?3, config = ?4, enabled = 1,
                 disabled_reason = NULL, updated_ms = ?5",
            params![room, name, hash, config, now],
        )?;
        tx.execute(
            "INSERT INTO room_plugin_history (room, name, hash, config, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![room, name, hash, config, now],
        )?;
        tx.commit()?;
        drop(conn);
        self.binding(room, name)?
            .ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    fn binding(&self, room: &str, name: &str) -> Result<Option<Binding>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                &format!("SELECT {BINDING_COLS} FROM room_plugins WHERE room = ?1 AND name = ?2"),
                [room, name],
                binding_row,
            )
            .optional()?)
    }

    fn bindings(&self, room: &str) -> Result<Vec<Binding>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {BINDING_COLS} FROM room_plugins WHERE room = ?1 ORDER BY name"
        ))?;
        let rows = stmt.query_map([room], binding_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn previous_binding(
        &self,
        room: &str,
        name: &str,
        current_hash: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT hash, config FROM room_plugin_history
                 WHERE room = ?1 AND name = ?2 AND hash != ?3 ORDER BY seq DESC LIMIT 1",
                [room, name, current_hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn set_plugin_enabled(
        &self,
        room: &str,
        name: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "UPDATE room_plugins SET enabled = ?3, disabled_reason = ?4, updated_ms = ?5
             WHERE room = ?1 AND name = ?2",
            params![room, name, enabled, reason, now_ms() as i64],
        )?;
        Ok(n == 1)
    }

    fn record_plugin_fault(&self, f: &FaultRecord) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO plugin_faults (room, name, hash, kind, message, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![f.room, f.name, f.hash, f.kind, f.message, f.at_ms as i64],
        )?;
        Ok(())
    }

    fn plugin_faults(
        &self,
        room: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<FaultRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT room, name, hash, kind, message, at_ms FROM plugin_faults
             WHERE room = ?1 AND name = ?2 ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![room, name, limit as i64], |r| {
            Ok(FaultRecord {
                room: r.get(0)?,
                name: r.get(1)?,
                hash: r.get(2)?,
                kind: r.get(3)?,
                message: r.get(4)?,
                at_ms: r.get::<_, i64>(5)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl KvBackend for SqliteStore {
    fn load(&self, plugin: &str, room: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare("SELECT key, value FROM plugin_kv WHERE name = ?1 AND room = ?2")?;
        let rows = stmt.query_map([plugin, room], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn apply(
        &self,
        plugin: &str,
        room: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> anyhow::Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        for (key, value) in changes {
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO plugin_kv (name, room, key, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name, room, key) DO UPDATE SET value = ?4",
                    params![plugin, room, key, v],
                )?,
                None => tx.execute(
                    "DELETE FROM plugin_kv WHERE name = ?1 AND room = ?2 AND key = ?3",
                    params![plugin, room, key],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }
}
