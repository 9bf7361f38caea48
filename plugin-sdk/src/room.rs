//! The live room as the host sees it (needs [`crate::Capability::RoomRead`]).

use crate::RoomSnapshot;
use crate::bindings::livecart::plugin0_1_0::room as host;

/// Online count, like total, live flag and pinned product, now.
pub fn snapshot() -> RoomSnapshot {
    host::snapshot()
}
