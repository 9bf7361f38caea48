//! What a plugin instance can see of the world: its room and its merchant's catalog.

use super::bindings::RoomSnapshot;
use crate::catalog::Catalog;
use std::sync::{Arc, Mutex};

/// Read access to a live room's state, for `room.snapshot`.
pub trait RoomView: Send + Sync {
    fn snapshot(&self) -> RoomSnapshot;
}

/// A room snapshot held in memory and updated by its owner (the local runner updates it
/// from the events it replays).
#[derive(Debug)]
pub struct SharedRoom(Mutex<RoomSnapshot>);

impl SharedRoom {
    pub fn new(room_id: &str) -> Self {
        SharedRoom(Mutex::new(RoomSnapshot {
            room_id: room_id.to_owned(),
            live: false,
            online: 0,
            likes_total: 0,
            pinned_product: None,
        }))
    }

    /// Change the snapshot.
    pub fn update(&self, f: impl FnOnce(&mut RoomSnapshot)) {
        if let Ok(mut s) = self.0.lock() {
            f(&mut s);
        }
    }
}

impl RoomView for SharedRoom {
    fn snapshot(&self) -> RoomSnapshot {
        match self.0.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Everything a room gives the plugins enabled in it.
#[derive(Clone)]
pub struct RoomEnv {
    pub room_id: String,
    pub room: Arc<dyn RoomView>,
    pub catalog: Arc<dyn Catalog>,
    pub kv: Arc<dyn super::kv::KvBackend>,
    /// Where events' random seeds come from (the OS on the server, recorded in a replay).
    pub seeds: super::random::Seeds,
}
