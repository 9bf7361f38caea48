//! [`PluginStore`] and [`KvBackend`] on SQLite: plugin versions, room bindings (with
//! history for rollback), faults and KV.

use crate::SqliteStore;
use livecart_store::util::now_ms;
use livecart_store::{
    Binding, FaultRecord, KvBackend, LogRecord, PluginStore, StoreError, VersionRecord,
};
use rusqlite::{OptionalExtension, params};

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

    fn record_plugin_logs(&self, lines: &[LogRecord], keep: usize) -> Result<(), StoreError> {
        let Some(first) = lines.first() else {
            return Ok(());
        };
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        for l in lines {
            tx.prepare_cached(
                "INSERT INTO plugin_logs (room, name, hash, at_ms, level, source, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                l.room,
                l.name,
                l.hash,
                l.at_ms as i64,
                l.level,
                l.source,
                l.message
            ])?;
        }
        tx.prepare_cached(
            "DELETE FROM plugin_logs WHERE room = ?1 AND name = ?2 AND seq <= (
                 SELECT seq FROM plugin_logs WHERE room = ?1 AND name = ?2
                 ORDER BY seq DESC LIMIT 1 OFFSET ?3)",
        )?
        .execute(params![first.room, first.name, keep as i64])?;
        tx.commit()?;
        Ok(())
    }

    fn plugin_logs(
        &self,
        room: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT room, name, hash, at_ms, level, source, message FROM plugin_logs
             WHERE room = ?1 AND name = ?2 ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![room, name, limit as i64], |r| {
            Ok(LogRecord {
                room: r.get(0)?,
                name: r.get(1)?,
                hash: r.get(2)?,
                at_ms: r.get::<_, i64>(3)? as u64,
                level: r.get(4)?,
                source: r.get(5)?,
                message: r.get(6)?,
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
