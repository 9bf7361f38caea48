//! [`PluginStore`] and [`KvBackend`] on PostgreSQL: content-addressed plugin versions,
//! room bindings written with their history row in one transaction, faults, and KV
//! change sets applied all or nothing.

use crate::{PostgresStore, u64_at};
use livecart_store::util::{now_ms, to_i64};
use livecart_store::{
    Binding, FaultRecord, KvBackend, LogRecord, PluginStore, StoreError, VersionRecord,
};
use tokio_postgres::{GenericClient, Row};

const VERSION_COLS: &str = "hash, owner, name, label, manifest, size, uploaded_ms";
const BINDING_COLS: &str = "room, name, hash, config, enabled, disabled_reason, updated_ms";

fn version_row(r: &Row) -> Result<VersionRecord, tokio_postgres::Error> {
    let manifest: String = r.try_get(4)?;
    Ok(VersionRecord {
        hash: r.try_get(0)?,
        owner: r.try_get(1)?,
        name: r.try_get(2)?,
        label: r.try_get(3)?,
        manifest: serde_json::from_str(&manifest).unwrap_or(serde_json::Value::Null),
        size: usize::try_from(u64_at(r, 5)?).unwrap_or(usize::MAX),
        uploaded_ms: u64_at(r, 6)?,
    })
}

fn binding_row(r: &Row) -> Result<Binding, tokio_postgres::Error> {
    Ok(Binding {
        room: r.try_get(0)?,
        name: r.try_get(1)?,
        hash: r.try_get(2)?,
        config: r.try_get(3)?,
        enabled: r.try_get(4)?,
        disabled_reason: r.try_get(5)?,
        updated_ms: u64_at(r, 6)?,
    })
}

async fn binding_in(
    db: &impl GenericClient,
    room: &str,
    name: &str,
) -> Result<Option<Binding>, StoreError> {
    let row = db
        .query_opt(
            &format!("SELECT {BINDING_COLS} FROM room_plugins WHERE room = $1 AND name = $2"),
            &[&room, &name],
        )
        .await?;
    Ok(row.as_ref().map(binding_row).transpose()?)
}

impl PluginStore for PostgresStore {
    fn put_plugin_version(&self, v: &VersionRecord, wasm: &[u8]) -> Result<bool, StoreError> {
        let (v, wasm) = (v.clone(), wasm.to_vec());
        self.run(move |db| async move {
            let n = db
                .execute(
                    "INSERT INTO plugin_versions (hash, owner, name, label, manifest, size, wasm,
                         uploaded_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (hash) DO NOTHING",
                    &[
                        &v.hash,
                        &v.owner,
                        &v.name,
                        &v.label,
                        &v.manifest.to_string(),
                        &i64::try_from(v.size).unwrap_or(i64::MAX),
                        &wasm,
                        &to_i64(v.uploaded_ms),
                    ],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn plugin_version(&self, hash: &str) -> Result<Option<VersionRecord>, StoreError> {
        let hash = hash.to_owned();
        self.run(move |db| async move {
            let row = db
                .query_opt(
                    &format!("SELECT {VERSION_COLS} FROM plugin_versions WHERE hash = $1"),
                    &[&hash],
                )
                .await?;
            Ok(row.as_ref().map(version_row).transpose()?)
        })
    }

    fn plugin_wasm(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let hash = hash.to_owned();
        self.run(move |db| async move {
            let row = db
                .query_opt("SELECT wasm FROM plugin_versions WHERE hash = $1", &[&hash])
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    fn plugin_versions(
        &self,
        owner: &str,
        name: Option<&str>,
    ) -> Result<Vec<VersionRecord>, StoreError> {
        let (owner, name) = (owner.to_owned(), name.map(str::to_owned));
        self.run(move |db| async move {
            let rows = db
                .query(
                    &format!(
                        "SELECT {VERSION_COLS} FROM plugin_versions
                         WHERE owner = $1 AND ($2::TEXT IS NULL OR name = $2)
                         ORDER BY uploaded_ms DESC, hash"
                    ),
                    &[&owner, &name],
                )
                .await?;
            Ok(rows.iter().map(version_row).collect::<Result<_, _>>()?)
        })
    }

    fn bind_plugin(
        &self,
        room: &str,
        name: &str,
        hash: &str,
        config: &str,
    ) -> Result<Binding, StoreError> {
        let (room, name, hash, config) = (
            room.to_owned(),
            name.to_owned(),
            hash.to_owned(),
            config.to_owned(),
        );
        self.run(move |mut db| async move {
            let now = to_i64(now_ms());
            let tx = db.transaction().await?;
            tx.execute(
                "INSERT INTO room_plugins (room, name, hash, config, enabled, disabled_reason,
                     updated_ms)
                 VALUES ($1, $2, $3, $4, TRUE, NULL, $5)
                 ON CONFLICT (room, name) DO UPDATE SET hash = $3, config = $4, enabled = TRUE,
                     disabled_reason = NULL, updated_ms = $5",
                &[&room, &name, &hash, &config, &now],
            )
            .await?;
            tx.execute(
                "INSERT INTO room_plugin_history (room, name, hash, config, at_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&room, &name, &hash, &config, &now],
            )
            .await?;
            let binding = binding_in(&*tx, &room, &name).await?;
            tx.commit().await?;
            binding.ok_or_else(|| StoreError::NotFound(format!("binding {name} in room {room}")))
        })
    }

    fn binding(&self, room: &str, name: &str) -> Result<Option<Binding>, StoreError> {
        let (room, name) = (room.to_owned(), name.to_owned());
        self.run(move |db| async move { binding_in(&**db, &room, &name).await })
    }

    fn bindings(&self, room: &str) -> Result<Vec<Binding>, StoreError> {
        let room = room.to_owned();
        self.run(move |db| async move {
            let rows = db
                .query(
                    &format!(
                        "SELECT {BINDING_COLS} FROM room_plugins WHERE room = $1 ORDER BY name"
                    ),
                    &[&room],
                )
                .await?;
            Ok(rows.iter().map(binding_row).collect::<Result<_, _>>()?)
        })
    }

    fn previous_binding(
        &self,
        room: &str,
        name: &str,
        current_hash: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let (room, name, current) = (room.to_owned(), name.to_owned(), current_hash.to_owned());
        self.run(move |db| async move {
            let row = db
                .query_opt(
                    "SELECT hash, config FROM room_plugin_history
                     WHERE room = $1 AND name = $2 AND hash <> $3 ORDER BY seq DESC LIMIT 1",
                    &[&room, &name, &current],
                )
                .await?;
            Ok(row
                .map(|r| Ok::<_, tokio_postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
                .transpose()?)
        })
    }

    fn set_plugin_enabled(
        &self,
        room: &str,
        name: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (room, name, reason) = (room.to_owned(), name.to_owned(), reason.map(str::to_owned));
        self.run(move |db| async move {
            let n = db
                .execute(
                    "UPDATE room_plugins SET enabled = $3, disabled_reason = $4, updated_ms = $5
                     WHERE room = $1 AND name = $2",
                    &[&room, &name, &enabled, &reason, &to_i64(now_ms())],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn record_plugin_fault(&self, f: &FaultRecord) -> Result<(), StoreError> {
        let f = f.clone();
        self.run(move |db| async move {
            db.execute(
                "INSERT INTO plugin_faults (room, name, hash, kind, message, at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &f.room,
                    &f.name,
                    &f.hash,
                    &f.kind,
                    &f.message,
                    &to_i64(f.at_ms),
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn plugin_faults(
        &self,
        room: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<FaultRecord>, StoreError> {
        let (room, name) = (room.to_owned(), name.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |db| async move {
            let rows = db
                .query(
                    "SELECT room, name, hash, kind, message, at_ms FROM plugin_faults
                     WHERE room = $1 AND name = $2 ORDER BY seq DESC LIMIT $3",
                    &[&room, &name, &limit],
                )
                .await?;
            let fault = |r: &Row| -> Result<FaultRecord, tokio_postgres::Error> {
                Ok(FaultRecord {
                    room: r.try_get(0)?,
                    name: r.try_get(1)?,
                    hash: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    message: r.try_get(4)?,
                    at_ms: u64_at(r, 5)?,
                })
            };
            Ok(rows.iter().map(fault).collect::<Result<_, _>>()?)
        })
    }

    fn record_plugin_logs(&self, lines: &[LogRecord], keep: usize) -> Result<(), StoreError> {
        let Some(first) = lines.first() else {
            return Ok(());
        };
        let (room, name) = (first.room.clone(), first.name.clone());
        let column = |f: fn(&LogRecord) -> &String| -> Vec<String> {
            lines.iter().map(|l| f(l).clone()).collect()
        };
        let (hashes, levels, sources, messages) = (
            column(|l| &l.hash),
            column(|l| &l.level),
            column(|l| &l.source),
            column(|l| &l.message),
        );
        let ats: Vec<i64> = lines.iter().map(|l| to_i64(l.at_ms)).collect();
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        self.run(move |db| async move {
            // One statement for the lines (in order: WITH ORDINALITY), one to trim.
            db.execute(
                "INSERT INTO plugin_logs (room, name, hash, at_ms, level, source, message)
                 SELECT $1, $2, h, t, l, s, m
                 FROM UNNEST($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[])
                      WITH ORDINALITY AS u(h, t, l, s, m, i)
                 ORDER BY i",
                &[&room, &name, &hashes, &ats, &levels, &sources, &messages],
            )
            .await?;
            db.execute(
                "DELETE FROM plugin_logs WHERE room = $1 AND name = $2 AND seq <= (
                     SELECT seq FROM plugin_logs WHERE room = $1 AND name = $2
                     ORDER BY seq DESC OFFSET $3 LIMIT 1)",
                &[&room, &name, &keep],
            )
            .await?;
            Ok(())
        })
    }

    fn plugin_logs(
        &self,
        room: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let (room, name) = (room.to_owned(), name.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |db| async move {
            let rows = db
                .query(
                    "SELECT room, name, hash, at_ms, level, source, message FROM plugin_logs
                     WHERE room = $1 AND name = $2 ORDER BY seq DESC LIMIT $3",
                    &[&room, &name, &limit],
                )
                .await?;
            let line = |r: &Row| -> Result<LogRecord, tokio_postgres::Error> {
                Ok(LogRecord {
                    room: r.try_get(0)?,
                    name: r.try_get(1)?,
                    hash: r.try_get(2)?,
                    at_ms: u64_at(r, 3)?,
                    level: r.try_get(4)?,
                    source: r.try_get(5)?,
                    message: r.try_get(6)?,
                })
            };
            Ok(rows.iter().map(line).collect::<Result<_, _>>()?)
        })
    }
}

impl KvBackend for PostgresStore {
    fn load(&self, plugin: &str, room: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let (plugin, room) = (plugin.to_owned(), room.to_owned());
        Ok(self.run(move |db| async move {
            let rows = db
                .query(
                    "SELECT key, value FROM plugin_kv WHERE name = $1 AND room = $2",
                    &[&plugin, &room],
                )
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>, StoreError>>()
        })?)
    }

    fn apply(
        &self,
        plugin: &str,
        room: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> anyhow::Result<()> {
        let (plugin, room, changes) = (plugin.to_owned(), room.to_owned(), changes.to_vec());
        Ok(self.run(move |mut db| async move {
            let tx = db.transaction().await?;
            for (key, value) in &changes {
                match value {
                    Some(v) => {
                        tx.execute(
                            "INSERT INTO plugin_kv (name, room, key, value) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (name, room, key) DO UPDATE SET value = $4",
                            &[&plugin, &room, key, v],
                        )
                        .await?
                    }
                    None => {
                        tx.execute(
                            "DELETE FROM plugin_kv WHERE name = $1 AND room = $2 AND key = $3",
                            &[&plugin, &room, key],
                        )
                        .await?
                    }
                };
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?)
    }
}
