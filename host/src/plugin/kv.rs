//! Host-owned key-value state for one plugin × room, with quotas and per-call transactions.
//!
//! A [`KvSpace`] keeps the committed map in memory (reads during a call never touch disk)
//! and an overlay of the current call's writes. When the call succeeds the overlay is
//! committed and written through a [`KvBackend`]; when it faults the overlay is dropped, so
//! a failed call leaves no partial state. Spaces are keyed by plugin *name*, so upgrades and
//! rollbacks of the plugin keep their state.

use super::limits::KvQuota;
use std::collections::HashMap;
use std::sync::Mutex;

pub use livecart_store::KvBackend;

/// Spaces by (plugin, room).
type Spaces = HashMap<(String, String), HashMap<String, Vec<u8>>>;

/// A [`KvBackend`] in process memory: for the local runner and tests.
#[derive(Default)]
pub struct MemoryKv {
    spaces: Mutex<Spaces>,
}

impl KvBackend for MemoryKv {
    fn load(&self, plugin: &str, room: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let spaces = self
            .spaces
            .lock()
            .map_err(|_| anyhow::anyhow!("kv lock poisoned"))?;
        Ok(spaces
            .get(&(plugin.to_owned(), room.to_owned()))
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    fn apply(
        &self,
        plugin: &str,
        room: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> anyhow::Result<()> {
        let mut spaces = self
            .spaces
            .lock()
            .map_err(|_| anyhow::anyhow!("kv lock poisoned"))?;
        let space = spaces
            .entry((plugin.to_owned(), room.to_owned()))
            .or_default();
        for (k, v) in changes {
            match v {
                Some(v) => space.insert(k.clone(), v.clone()),
                None => space.remove(k),
            };
        }
        Ok(())
    }
}

/// Why a KV operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QuotaExceeded(pub String);

/// One plugin × room key-value space: committed entries plus the current call's overlay.
#[derive(Debug)]
pub struct KvSpace {
    quota: KvQuota,
    committed: HashMap<String, Vec<u8>>,
    committed_bytes: usize,
    /// Writes of the call in progress; `None` marks a delete.
    pending: HashMap<String, Option<Vec<u8>>>,
    /// Byte and key totals including `pending`.
    bytes: usize,
    keys: usize,
}

fn entry_bytes(key: &str, value: &[u8]) -> usize {
    key.len() + value.len()
}

impl KvSpace {
    /// A space holding `entries`.
    pub fn new(quota: KvQuota, entries: Vec<(String, Vec<u8>)>) -> Self {
        let committed: HashMap<_, _> = entries.into_iter().collect();
        let committed_bytes = committed.iter().map(|(k, v)| entry_bytes(k, v)).sum();
        let keys = committed.len();
        KvSpace {
            quota,
            committed,
            committed_bytes,
            pending: HashMap::new(),
            bytes: committed_bytes,
            keys,
        }
    }

    /// The current value of `key`, including this call's writes.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        match self.pending.get(key) {
            Some(v) => v.as_deref(),
            None => self.committed.get(key).map(Vec::as_slice),
        }
    }

    /// Write (or with `None`, delete) `key` in this call's overlay, within quota.
    pub fn put(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), QuotaExceeded> {
        let q = &self.quota;
        if key.len() > q.max_key_bytes {
            return Err(QuotaExceeded(format!(
                "key is {} bytes, the limit is {}",
                key.len(),
                q.max_key_bytes
            )));
        }
        if let Some(v) = value
            && v.len() > q.max_value_bytes
        {
            return Err(QuotaExceeded(format!(
                "value is {} bytes, the limit is {}",
                v.len(),
                q.max_value_bytes
            )));
        }
        let old = self.get(key).map(|v| entry_bytes(key, v));
        let new = value.map(|v| entry_bytes(key, v));
        let keys = self.keys + usize::from(new.is_some()) - usize::from(old.is_some());
        let bytes = self.bytes + new.unwrap_or(0) - old.unwrap_or(0);
        if keys > q.max_keys {
            return Err(QuotaExceeded(format!(
                "{keys} keys would exceed the limit of {}",
                q.max_keys
            )));
        }
        if bytes > q.max_total_bytes {
            return Err(QuotaExceeded(format!(
                "{bytes} bytes would exceed the limit of {}",
                q.max_total_bytes
            )));
        }
        self.keys = keys;
        self.bytes = bytes;
        self.pending
            .insert(key.to_owned(), value.map(<[u8]>::to_vec));
        Ok(())
    }

    /// Whether this call wrote anything.
    pub fn is_dirty(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Drop this call's writes.
    pub fn rollback(&mut self) {
        self.pending.clear();
        self.bytes = self.committed_bytes;
        self.keys = self.committed.len();
    }

    /// Make this call's writes durable through `backend`, then part of the committed map.
    /// On a backend error the writes are rolled back and the error returned.
    pub fn commit(
        &mut self,
        backend: &dyn KvBackend,
        plugin: &str,
        room: &str,
    ) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let changes: Vec<_> = self.pending.drain().collect();
        if let Err(e) = backend.apply(plugin, room, &changes) {
            self.rollback();
            return Err(e);
        }
        for (k, v) in changes {
            match v {
                Some(v) => self.committed.insert(k, v),
                None => self.committed.remove(&k),
            };
        }
        self.committed_bytes = self.bytes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota() -> KvQuota {
        KvQuota {
            max_key_bytes: 8,
            max_value_bytes: 8,
            max_keys: 2,
            max_total_bytes: 16,
        }
    }

    #[test]
    fn rollback_discards_the_calls_writes() {
        let mut kv = KvSpace::new(quota(), vec![("a".into(), b"1".to_vec())]);
        kv.put("a", Some(b"2")).expect("within quota");
        kv.put("b", Some(b"3")).expect("within quota");
        assert_eq!(kv.get("a"), Some(&b"2"[..]));
        kv.rollback();
        assert_eq!(kv.get("a"), Some(&b"1"[..]));
        assert_eq!(kv.get("b"), None);
    }

    #[test]
    fn commit_persists_and_counts() {
        let backend = MemoryKv::default();
        let mut kv = KvSpace::new(quota(), vec![]);
        kv.put("a", Some(b"1")).expect("within quota");
        kv.commit(&backend, "p", "r").expect("commit");
        assert_eq!(
            backend.load("p", "r").expect("load"),
            vec![("a".into(), b"1".to_vec())]
        );
        kv.put("a", None).expect("delete");
        kv.commit(&backend, "p", "r").expect("commit");
        assert!(backend.load("p", "r").expect("load").is_empty());
    }

    #[test]
    fn quotas_refuse_oversized_and_too_many() {
        let mut kv = KvSpace::new(quota(), vec![]);
        assert!(kv.put("much-too-long-key", Some(b"1")).is_err());
        assert!(kv.put("k", Some(b"123456789")).is_err());
        kv.put("a", Some(b"1")).expect("first key");
        kv.put("b", Some(b"1")).expect("second key");
        let err = kv
            .put("c", Some(b"1"))
            .expect_err("third key is over the key quota");
        assert_eq!(err.to_string(), "3 keys would exceed the limit of 2");
        // Overwriting an existing key is not a new key.
        kv.put("a", Some(b"12345678")).expect("overwrite");
        let err = kv
            .put("b", Some(b"12345678"))
            .expect_err("over total bytes");
        assert_eq!(err.to_string(), "18 bytes would exceed the limit of 16");
    }
}
