//! Room leases on a JetStream key-value bucket: which node runs a room's plugins.
//!
//! The bucket keeps one entry per room (history 1) and forgets it `ttl` after its last
//! write (the bucket's max age). A node takes a free lease with `create` (refused while
//! the entry exists) and keeps it by rewriting it every `ttl / 6` with `update` expecting
//! its own last revision, so two nodes can never both succeed. A holder that cannot renew
//! (it lost the server) gives the lease up by itself once `ttl / 2` passed since its last
//! renewal, before the entry can expire and another node take it; so, in any one moment,
//! at most one node believes it holds a room. When the holder dies, its entry expires
//! and another node takes the lease within `ttl + ttl / 6`. A holder that closes the room
//! deletes the entry, and the next node takes it at its next try.
//!
//! Uses only what nats-server 2.9.10 has: a KV bucket with max age, expected last subject
//! sequence on publish, and direct get.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use livecart_bus::{OnLease, Subscription};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Open (or create) a key-value bucket whose entries expire `max_age` after their last
/// write. Its stream is created here with the settings a KV bucket has (`KV_<bucket>`,
/// `$KV.<bucket>.>`, rollups, discard new, direct get): the client's own bucket creation
/// first reads the account's info, which it cannot parse from nats-server 2.9.
pub(crate) async fn kv_bucket(
    js: &jetstream::Context,
    name: &str,
    description: &str,
    max_age: Duration,
) -> Result<kv::Store, String> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("KV_{name}"),
        description: Some(description.to_owned()),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: jetstream::stream::StorageType::File,
        num_replicas: 1,
        allow_rollup: true,
        deny_delete: true,
        deny_purge: false,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    js.get_key_value(name).await.map_err(|e| e.to_string())
}

/// Open the lease bucket: entries live `ttl` after their last renewal.
pub(crate) async fn bucket(
    js: &jetstream::Context,
    name: &str,
    ttl: Duration,
) -> Result<kv::Store, String> {
    kv_bucket(
        js,
        name,
        "livecart: which node runs each room's plugins",
        ttl,
    )
    .await
}

/// A room id as a KV key under `prefix`: hex, so any room id is a valid key.
pub(crate) fn kv_key(prefix: &str, room: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + 1 + room.len() * 2);
    key.push_str(prefix);
    key.push('.');
    for b in room.bytes() {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// A room's lease key.
pub(crate) fn lease_key(room: &str) -> String {
    kv_key("r", room)
}

/// Compete for `room`'s lease until the subscription is dropped.
pub(crate) fn compete(
    store: kv::Store,
    room: &str,
    node: String,
    ttl: Duration,
    on_change: OnLease,
) -> Subscription {
    let key = lease_key(room);
    // The revision this node holds the lease at; 0 when it does not hold it.
    let held = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(hold(
        store.clone(),
        key.clone(),
        node,
        ttl,
        on_change.clone(),
        held.clone(),
    ));
    Subscription::new(move || {
        task.abort();
        let revision = held.swap(0, Ordering::SeqCst);
        if revision > 0 {
            on_change(false);
            // Hand over at once rather than after the entry expires.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    if let Err(e) = store.delete_expect_revision(&key, Some(revision)).await {
                        tracing::debug!(%key, error = %e, "room lease not released; it expires");
                    }
                });
            }
        }
    })
}

async fn hold(
    store: kv::Store,
    key: String,
    node: String,
    ttl: Duration,
    on_change: OnLease,
    held: Arc<AtomicU64>,
) {
    let every = ttl / 6;
    let give_up_after = ttl / 2;
    let value = Bytes::from(node);
    let mut renewed = Instant::now();
    loop {
        let revision = held.load(Ordering::SeqCst);
        if revision == 0 {
            let created = tokio::time::timeout(every, store.create(&key, value.clone())).await;
            if let Ok(Ok(new)) = created {
                renewed = Instant::now();
                held.store(new, Ordering::SeqCst);
                tracing::info!(%key, "room lease taken: this node runs the room's plugins");
                on_change(true);
            }
        } else {
            // Bounded: a renewal stuck on a lost server must not outlive the lease.
            let renewal = tokio::time::timeout(every, store.update(&key, value.clone(), revision));
            match renewal.await {
                Ok(Ok(new)) => {
                    renewed = Instant::now();
                    held.store(new, Ordering::SeqCst);
                }
                failed => {
                    let (e, taken) = match &failed {
                        Ok(Err(e)) => (
                            e.to_string(),
                            e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                        ),
                        _ => ("timed out".to_owned(), false),
                    };
                    if taken || renewed.elapsed() >= give_up_after {
                        held.store(0, Ordering::SeqCst);
                        tracing::warn!(%key, error = %e, "room lease lost: another node runs the room's plugins");
                        on_change(false);
                    }
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_room_id_is_one_valid_key() {
        assert_eq!(lease_key("demo"), "r.64656d6f");
        assert_eq!(lease_key("a.b >"), "r.612e62203e");
        assert_ne!(lease_key("ab"), lease_key("a.b"));
    }
}
