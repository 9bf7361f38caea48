//! [`RoomStore`] on SQLite: rooms, their stream keys and their live status.

use crate::{SqliteStore, with_fresh_ids};
use livecart_store::util::{now_ms, random_id, to_i64, to_u64};
use livecart_store::{LatencyMode, Room, RoomStatus, RoomStore, StoreError, new_stream_key};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

const ROOM_COLS: &str =
    "id, merchant_id, title, stream_key, status, created_ms, started_ms, ended_ms, latency_mode";

fn room_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Room> {
    let status: String = r.get(4)?;
    Ok(Room {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        title: r.get(2)?,
        stream_key: r.get(3)?,
        status: RoomStatus::parse(&status),
        created_ms: to_u64(r.get(5)?),
        started_ms: r.get::<_, Option<i64>>(6)?.map(to_u64),
        ended_ms: r.get::<_, Option<i64>>(7)?.map(to_u64),
        latency_mode: LatencyMode::parse(&r.get::<_, String>(8)?),
    })
}

impl RoomStore for SqliteStore {
    fn create_room(&self, merchant_id: &str, title: &str) -> Result<Room, StoreError> {
        let id = with_fresh_ids(|| {
            let id = format!("r_{}", random_id(5)?);
            self.insert_room(&id, merchant_id, title, false)?;
            Ok(id)
        })?;
        self.room(&id)?
            .ok_or_else(|| StoreError::NotFound(format!("room {id}")))
    }

    fn ensure_room(&self, id: &str, merchant_id: &str, title: &str) -> Result<Room, StoreError> {
        if let Some(room) = self.room(id)? {
            return Ok(room);
        }
        with_fresh_ids(|| self.insert_room(id, merchant_id, title, true))?;
        self.room(id)?
            .ok_or_else(|| StoreError::NotFound(format!("room {id}")))
    }

    fn room(&self, id: &str) -> Result<Option<Room>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                &format!("SELECT {ROOM_COLS} FROM rooms WHERE id = ?1"),
                [id],
                room_row,
            )
            .optional()?)
    }

    fn rooms_of(&self, merchant_id: &str) -> Result<Vec<Room>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {ROOM_COLS} FROM rooms WHERE merchant_id = ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([merchant_id], room_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn room_by_stream_key(&self, key: &str) -> Result<Option<Room>, StoreError> {
        if key.is_empty() {
            return Ok(None);
        }
        Ok(self
            .conn()?
            .query_row(
                &format!("SELECT {ROOM_COLS} FROM rooms WHERE stream_key = ?1"),
                [key],
                room_row,
            )
            .optional()?)
    }

    fn set_room_status(&self, id: &str, status: RoomStatus) -> Result<Room, StoreError> {
        let now = to_i64(now_ms());
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = match status {
            RoomStatus::Idle => {
                tx.execute("UPDATE rooms SET status = 'idle' WHERE id = ?1", [id])?
            }
            RoomStatus::Live => tx.execute(
                "UPDATE rooms SET status = 'live', started_ms = ?2, ended_ms = NULL WHERE id = ?1",
                params![id, now],
            )?,
            RoomStatus::Ended => tx.execute(
                "UPDATE rooms SET status = 'ended', ended_ms = ?2 WHERE id = ?1",
                params![id, now],
            )?,
        };
        // The room's lives (audience.rs): going live opens one unless one is open,
        // leaving live closes it.
        if n == 1 && status == RoomStatus::Live {
            tx.execute(
                "INSERT OR IGNORE INTO room_lives (room_id, started_ms)
                 SELECT ?1, ?2 WHERE NOT EXISTS
                     (SELECT 1 FROM room_lives WHERE room_id = ?1 AND ended_ms IS NULL)",
                params![id, now],
            )?;
        } else if n == 1 {
            tx.execute(
                "UPDATE room_lives SET ended_ms = ?2 WHERE room_id = ?1 AND ended_ms IS NULL",
                params![id, now],
            )?;
        }
        tx.commit()?;
        drop(conn);
        if n == 0 {
            return Err(StoreError::NotFound(format!("room {id}")));
        }
        self.room(id)?
            .ok_or_else(|| StoreError::NotFound(format!("room {id}")))
    }

    fn rotate_stream_key(&self, id: &str) -> Result<Room, StoreError> {
        let n = with_fresh_ids(|| {
            Ok(self.conn()?.execute(
                "UPDATE rooms SET stream_key = ?2 WHERE id = ?1",
                params![id, new_stream_key()?],
            )?)
        })?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("room {id}")));
        }
        self.room(id)?
            .ok_or_else(|| StoreError::NotFound(format!("room {id}")))
    }

    fn set_latency_mode(&self, id: &str, mode: LatencyMode) -> Result<Room, StoreError> {
        let n = self.conn()?.execute(
            "UPDATE rooms SET latency_mode = ?2 WHERE id = ?1",
            params![id, mode.as_str()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("room {id}")));
        }
        self.room(id)?
            .ok_or_else(|| StoreError::NotFound(format!("room {id}")))
    }
}

impl SqliteStore {
    /// Insert an idle room with a fresh stream key. With `keep_existing`, a room that
    /// already has this id is left alone; a colliding stream key is always an error, so
    /// [`with_fresh_ids`] draws another.
    fn insert_room(
        &self,
        id: &str,
        merchant_id: &str,
        title: &str,
        keep_existing: bool,
    ) -> Result<(), StoreError> {
        let on_conflict = if keep_existing {
            "ON CONFLICT (id) DO NOTHING"
        } else {
            ""
        };
        self.conn()?.execute(
            &format!(
                "INSERT INTO rooms (id, merchant_id, title, stream_key, status, created_ms)
                 VALUES (?1, ?2, ?3, ?4, 'idle', ?5) {on_conflict}"
            ),
            params![id, merchant_id, title, new_stream_key()?, to_i64(now_ms())],
        )?;
        Ok(())
    }
}
