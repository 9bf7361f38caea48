//! Warm instances as a cache: every slot's instance lives in a cell the engine can empty,
//! and the engine keeps the warm ones within a count and a memory budget, evicting the
//! least recently used.
//!
//! Without this, each enabled plugin in each room held an instance for as long as the room
//! lived, so a node ran out of pool slots at about 85 rooms of three plugins, and every
//! later instantiation failed and was charged to the plugin. Now a slot that needs an
//! instance first makes room: idle instances of other slots are dropped (their KV space is
//! parked in their cell, so nothing is lost: an instance is only a cache), oldest use
//! first. A cell that is busy running a batch is never touched.

use super::engine::Warm;
use super::kv::KvSpace;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Bytes counted per warm instance besides its linear memory (store, instance, tables).
pub const INSTANCE_OVERHEAD_BYTES: usize = 64 << 10;

/// One slot's instance, or its parked KV space while it has none.
#[derive(Default)]
pub struct Instance {
    pub(crate) warm: Option<Warm>,
    pub(crate) parked: Option<KvSpace>,
    /// The slot's place in the cache while its instance is warm and counted.
    ticket: Option<Ticket>,
}

/// What the slot keeps of its cache entry: its last-use stamp, updated without a lock.
struct Ticket {
    used: Arc<AtomicU64>,
    bytes: usize,
}

impl Instance {
    /// No instance yet, and this KV space.
    pub(crate) fn parked(kv: KvSpace) -> Self {
        Instance {
            warm: None,
            parked: Some(kv),
            ticket: None,
        }
    }

    /// Drop the warm instance, keeping its KV space.
    pub(crate) fn cool(&mut self) {
        if let Some(warm) = self.warm.take() {
            self.parked = Some(warm.store.into_data().kv);
        }
    }

    /// The KV space, wherever it is.
    pub(crate) fn kv_mut(&mut self) -> Option<&mut KvSpace> {
        match &mut self.warm {
            Some(warm) => Some(&mut warm.store.data_mut().kv),
            None => self.parked.as_mut(),
        }
    }
}

/// A slot's cell, shared between the slot and the engine's cache.
pub type Cell = Arc<Mutex<Instance>>;

/// Lock a cell; a poisoned lock still holds a consistent instance or parked space.
pub(crate) fn lock(cell: &Cell) -> MutexGuard<'_, Instance> {
    cell.lock().unwrap_or_else(|p| p.into_inner())
}

struct Entry {
    used: Arc<AtomicU64>,
    bytes: usize,
    cell: Weak<Mutex<Instance>>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<u64, Entry>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, id: u64) {
        if let Some(entry) = self.entries.remove(&id) {
            self.bytes -= entry.bytes;
        }
    }

    /// The idle-longest entry other than `skip`.
    fn oldest(&self, skip: &[u64]) -> Option<u64> {
        self.entries
            .iter()
            .filter(|(id, _)| !skip.contains(id))
            .min_by_key(|(_, e)| e.used.load(Ordering::Relaxed))
            .map(|(id, _)| *id)
    }
}

/// The engine's account of warm instances.
pub struct WarmCache {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    clock: AtomicU64,
    max_instances: usize,
    budget_bytes: usize,
    evictions: AtomicU64,
}

/// What the cache holds, for metrics and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WarmStats {
    pub instances: usize,
    pub bytes: usize,
    pub evictions: u64,
}

impl WarmCache {
    pub fn new(max_instances: usize, budget_bytes: usize) -> Self {
        WarmCache {
            inner: Mutex::new(Inner::default()),
            next_id: AtomicU64::new(1),
            clock: AtomicU64::new(1),
            max_instances: max_instances.max(1),
            budget_bytes,
            evictions: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new slot's id.
    pub fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Record that slot `id` (holding `inst`, the content of `cell`) used its warm instance
    /// of linear memory `memory` just now. The common case, an instance already counted at
    /// this size, is one atomic store and takes no lock.
    pub fn touch(&self, id: u64, cell: &Cell, inst: &mut Instance, memory: usize) {
        let bytes = memory + INSTANCE_OVERHEAD_BYTES;
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        if let Some(ticket) = &inst.ticket
            && ticket.bytes == bytes
        {
            ticket.used.store(now, Ordering::Relaxed);
            return;
        }
        let used = Arc::new(AtomicU64::new(now));
        let mut inner = self.lock();
        inner.remove(id);
        inner.bytes += bytes;
        inner.entries.insert(
            id,
            Entry {
                used: used.clone(),
                bytes,
                cell: Arc::downgrade(cell),
            },
        );
        inst.ticket = Some(Ticket { used, bytes });
    }

    /// Slot `id` (holding `inst`) has no warm instance any more.
    pub fn forget(&self, id: u64, inst: &mut Instance) {
        if inst.ticket.take().is_some() {
            self.lock().remove(id);
        }
    }

    /// Before slot `id` creates an instance: evict idle instances of other slots, oldest
    /// use first, until one more fits the count and the budget. Returns how many went.
    pub fn make_room(&self, id: u64) -> usize {
        self.evict(id, false)
    }

    /// Evict the oldest idle instance of another slot whatever the budget (the pool was
    /// full anyway). Returns how many went (0 or 1).
    pub fn evict_oldest(&self, id: u64) -> usize {
        self.evict(id, true)
    }

    fn evict(&self, id: u64, one_more: bool) -> usize {
        let mut evicted = 0;
        {
            let mut inner = self.lock();
            let mut skip = vec![id];
            while (one_more && evicted == 0)
                || inner.entries.len() + usize::from(!inner.entries.contains_key(&id))
                    > self.max_instances
                || inner.bytes + INSTANCE_OVERHEAD_BYTES > self.budget_bytes
            {
                let Some(victim) = inner.oldest(&skip) else {
                    break;
                };
                let cell = inner.entries.get(&victim).and_then(|e| e.cell.upgrade());
                let Some(cell) = cell else {
                    inner.remove(victim);
                    continue;
                };
                // A cell running a batch is busy, not idle: leave it.
                match cell.try_lock() {
                    Ok(mut instance) => {
                        instance.cool();
                        instance.ticket = None;
                        drop(instance);
                        inner.remove(victim);
                        evicted += 1;
                    }
                    Err(_) => skip.push(victim),
                }
            }
        }
        self.evictions.fetch_add(evicted as u64, Ordering::Relaxed);
        evicted
    }

    pub fn stats(&self) -> WarmStats {
        let inner = self.lock();
        WarmStats {
            instances: inner.entries.len(),
            bytes: inner.bytes,
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    /// How many warm instances the cache keeps at most.
    pub fn max_instances(&self) -> usize {
        self.max_instances
    }
}
