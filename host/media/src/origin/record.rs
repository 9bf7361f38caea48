//! Recording and replay storage. Every live period is written to
//! `root/{room}/{period}/{rep}/init.mp4`, `…/{rep}/{n}.m4s` and `root/{room}/{period}/period.json`
//! (the [`Recording`] model) by a task that follows the ring ([`Recorder::record`]); the origin
//! reads segments back once they leave the ring and builds replay manifests from
//! `period.json`. Files are written under a temporary name and renamed into place, so readers
//! never see half a segment. Timed events are appended to `root/{room}/{period}/events.jsonl`
//! as they come (one JSON object a line; a torn last line is skipped when read back). Old recordings are purged after the retention period.

use super::recording::{RecordedEvent, Recording, RecordingSummary};
use super::time;
use super::valid_id;
use crate::package::ring::Period;
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("invalid id {0:?}")]
    InvalidId(String),
    #[error("no such recording")]
    NotFound,
    #[error("recording i/o: {0}")]
    Io(#[from] io::Error),
    #[error("recording metadata: {0}")]
    Json(#[from] serde_json::Error),
    #[error("recording task failed: {0}")]
    Join(String),
}

/// Recordings of ended periods are immutable; this many stay parsed in memory.
const CACHE: usize = 64;
/// The events file of a recorded period.
const EVENTS: &str = "events.jsonl";
/// How often the purger looks at the disk.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Writes periods to disk and reads them back.
#[derive(Debug)]
pub struct Recorder {
    root: PathBuf,
    retention: Duration,
    /// (room, period) being recorded now: never purged.
    active: Mutex<HashSet<(String, String)>>,
    cache: Mutex<HashMap<(String, String), Arc<Recording>>>,
}

impl Recorder {
    pub fn new(root: impl Into<PathBuf>, retention: Duration) -> Result<Arc<Self>, RecordError> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Arc::new(Recorder {
            root: root.canonicalize()?,
            retention,
            active: Mutex::default(),
            cache: Mutex::default(),
        }))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Follow `period` until it ends, writing init segments, each segment once complete and
    /// `period.json`; finalize the metadata when it ends.
    pub fn record(self: &Arc<Self>, period: Arc<Period>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let key = (period.room.clone(), period.id.clone());
            lock(&me.active).insert(key.clone());
            if let Err(e) = super::follow::run(&me, &period).await {
                tracing::error!(room = %period.room, period = %period.id, error = %e,
                    "recording failed");
            }
            lock(&me.active).remove(&key);
        })
    }

    /// Periods being recorded now (a recording ends once its period has ended and its
    /// metadata is final).
    pub fn recording(&self) -> usize {
        lock(&self.active).len()
    }

    /// `root/{room}/{period}`, for valid ids only.
    pub fn period_dir(&self, room: &str, period: &str) -> Result<PathBuf, RecordError> {
        for id in [room, period] {
            if !valid_id(id) {
                return Err(RecordError::InvalidId(id.into()));
            }
        }
        Ok(self.root.join(room).join(period))
    }

    /// Where segment `n` (or, with `None`, the init segment) of a representation is stored.
    pub fn segment_path(
        &self,
        room: &str,
        period: &str,
        rep: &str,
        n: Option<u64>,
    ) -> Result<PathBuf, RecordError> {
        if !valid_id(rep) {
            return Err(RecordError::InvalidId(rep.into()));
        }
        let dir = self.period_dir(room, period)?.join(rep);
        Ok(match n {
            Some(n) => dir.join(format!("{n}.m4s")),
            None => dir.join("init.mp4"),
        })
    }

    /// A stored segment (`None`: the init segment).
    pub async fn read_segment(
        &self,
        room: &str,
        period: &str,
        rep: &str,
        n: Option<u64>,
    ) -> Result<Bytes, RecordError> {
        let path = self.segment_path(room, period, rep, n)?;
        blocking(move || match std::fs::read(&path) {
            Ok(b) => Ok(Bytes::from(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(RecordError::NotFound),
            Err(e) => Err(e.into()),
        })
        .await
    }

    /// The recorded periods of a room, oldest first. Unreadable entries are skipped.
    pub fn list(&self, room: &str) -> Vec<RecordingSummary> {
        if !valid_id(room) {
            return Vec::new();
        }
        let Ok(dir) = std::fs::read_dir(self.root.join(room)) else {
            return Vec::new();
        };
        let mut out: Vec<_> = dir
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                self.load(room, &name).ok().map(|r| r.summary())
            })
            .collect();
        out.sort_by(|a, b| (a.started_ms, &a.period).cmp(&(b.started_ms, &b.period)));
        out
    }

    /// Parse `period.json`. Ended recordings are cached.
    pub fn load(&self, room: &str, period: &str) -> Result<Arc<Recording>, RecordError> {
        let key = (room.to_string(), period.to_string());
        if let Some(r) = lock(&self.cache).get(&key) {
            return Ok(r.clone());
        }
        let path = self.period_dir(room, period)?.join("period.json");
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(RecordError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let rec: Arc<Recording> = Arc::new(serde_json::from_slice(&data)?);
        if rec.ended {
            let mut cache = lock(&self.cache);
            if cache.len() >= CACHE {
                cache.clear();
            }
            cache.insert(key, rec.clone());
        }
        Ok(rec)
    }

    /// [`Recorder::load`] off the async threads.
    pub async fn load_async(
        self: &Arc<Self>,
        room: &str,
        period: &str,
    ) -> Result<Arc<Recording>, RecordError> {
        let (me, room, period) = (self.clone(), room.to_string(), period.to_string());
        blocking(move || me.load(&room, &period)).await
    }

    /// Delete recordings that ended more than the retention period before `now` (an
    /// unfinished one counts as ended at its last segment; one without metadata at its
    /// directory's modification time). Returns the removed `(room, period)`s.
    pub fn purge(&self, now: SystemTime) -> Vec<(String, String)> {
        let mut removed = Vec::new();
        let Ok(rooms) = std::fs::read_dir(&self.root) else {
            return removed;
        };
        for room in rooms.flatten() {
            let Ok(room_name) = room.file_name().into_string() else {
                continue;
            };
            let Ok(periods) = std::fs::read_dir(room.path()) else {
                continue;
            };
            for p in periods.flatten() {
                let Ok(name) = p.file_name().into_string() else {
                    continue;
                };
                let key = (room_name.clone(), name.clone());
                if !valid_id(&room_name) || !valid_id(&name) || lock(&self.active).contains(&key) {
                    continue;
                }
                let end = match self.load(&room_name, &name) {
                    Ok(r) => r
                        .ended_ms
                        .map(time::from_epoch_ms)
                        .unwrap_or_else(|| r.availability_start() + r.duration()),
                    Err(_) => match p.metadata().and_then(|m| m.modified()) {
                        Ok(t) => t,
                        Err(_) => continue,
                    },
                };
                if now
                    .duration_since(end)
                    .is_ok_and(|age| age > self.retention)
                {
                    match std::fs::remove_dir_all(p.path()) {
                        Ok(()) => {
                            lock(&self.cache).remove(&key);
                            tracing::info!(room = %key.0, period = %key.1, "recording purged");
                            removed.push(key);
                        }
                        Err(e) => tracing::warn!(error = %e, "purging recording"),
                    }
                }
            }
            // Drop the room directory once empty (fails harmlessly otherwise).
            let _ = std::fs::remove_dir(room.path());
        }
        removed
    }

    /// Purge every minute, for as long as the runtime runs.
    pub fn spawn_purger(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PURGE_EVERY);
            loop {
                tick.tick().await;
                let me = me.clone();
                let _ = tokio::task::spawn_blocking(move || me.purge(SystemTime::now())).await;
            }
        })
    }

    /// Write `data` to `path` atomically (temp file + rename), creating directories.
    pub(super) async fn write_file(&self, path: PathBuf, data: Bytes) -> Result<(), RecordError> {
        blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut tmp = path.clone().into_os_string();
            tmp.push(".tmp");
            std::fs::write(&tmp, &data)?;
            std::fs::rename(&tmp, &path)?;
            Ok(())
        })
        .await
    }

    /// Append events to `events.jsonl`, one JSON object a line.
    pub(super) async fn append_events(
        &self,
        room: &str,
        period: &str,
        events: &[RecordedEvent],
    ) -> Result<(), RecordError> {
        let path = self.period_dir(room, period)?.join(EVENTS);
        let mut lines = Vec::new();
        for e in events {
            serde_json::to_writer(&mut lines, e)?;
            lines.push(b'\n');
        }
        blocking(move || {
            use std::io::Write;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            f.write_all(&lines)?;
            Ok(())
        })
        .await
    }

    /// The recorded events of a period, in the order they were added (none if it has no
    /// `events.jsonl`). Lines that do not parse (a torn last line) are skipped.
    pub fn events(&self, room: &str, period: &str) -> Result<Vec<RecordedEvent>, RecordError> {
        let path = self.period_dir(room, period)?.join(EVENTS);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        Ok(data
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect())
    }

    /// [`Recorder::events`] off the async threads.
    pub async fn events_async(
        self: &Arc<Self>,
        room: &str,
        period: &str,
    ) -> Result<Vec<RecordedEvent>, RecordError> {
        let (me, room, period) = (self.clone(), room.to_string(), period.to_string());
        blocking(move || me.events(&room, &period)).await
    }

    /// Write `period.json`.
    pub(super) async fn write_meta(&self, rec: &Recording) -> Result<(), RecordError> {
        let path = self.period_dir(&rec.room, &rec.period)?.join("period.json");
        let data = serde_json::to_vec_pretty(rec)?;
        self.write_file(path, data.into()).await?;
        if rec.ended {
            lock(&self.cache).remove(&(rec.room.clone(), rec.period.clone()));
        }
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RecordError> + Send + 'static,
) -> Result<T, RecordError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RecordError::Join(e.to_string()))?
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
