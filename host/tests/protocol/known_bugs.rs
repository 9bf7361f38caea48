//! Regressions: each pins a decoder bug found by these properties, now fixed.

use crate::generators::*;
use livecart::room::protocol::{DecodeError, Resume, decode};
use serde_json::Value;

/// `classify` refuses to name a type whose name contains "field" (it takes the text
/// of serde's "unknown variant" error for an "unknown field" one).
#[test]
fn a_type_containing_field_is_still_an_unknown_type() {
    assert_eq!(
        decode(r#"{"type":"fieldtrip"}"#, LIMIT),
        Err(DecodeError::UnknownType("fieldtrip".into()))
    );
}

/// serde rejects an unknown tag as soon as it reads it, before the rest of the frame
/// is parsed, so broken JSON after an unknown `type` comes back as `bad_message`.
#[test]
fn broken_json_after_an_unknown_type_is_bad_json() {
    for input in [
        r#"{"type":"dance","#,
        r#"{"type":"dance"} x"#,
        r#"{"type":"dance","x":}"#,
    ] {
        assert_eq!(
            decode(input, LIMIT).map_err(|e| e.code()),
            Err("bad_json"),
            "{input}"
        );
    }
}

/// Internally tagged serde enums also accept a sequence `[type, field1, field2...]`;
/// the protocol only defines JSON objects.
#[test]
fn only_objects_are_messages() {
    for input in [
        r#"["like",3]"#,
        r#"["hello",1]"#,
        r#"["join","r",{"epoch":"e","offset":3}]"#,
    ] {
        assert_eq!(
            decode(input, LIMIT).map_err(|e| e.code()),
            Err("bad_message"),
            "{input}"
        );
    }
}

/// `deny_unknown_fields` covers the message itself but not `resume` or `acks` items.
#[test]
fn nested_objects_refuse_unknown_fields_too() {
    for input in [
        r#"{"type":"join","room":"r","resume":{"epoch":"e","offset":1,"x":2}}"#,
        r#"{"type":"ack","acks":[{"push_id":"p","x":2}]}"#,
    ] {
        assert_eq!(
            decode(input, LIMIT).map_err(|e| e.code()),
            Err("bad_message"),
            "{input}"
        );
    }
}

/// `resume.offset` is any `u64` on the wire; `RoomHub::catch_up_locked` computes
/// `offset + 1`, which overflows for `u64::MAX`: a panic in debug builds while the
/// joiner is already subscribed (it is never unsubscribed), a wrap to 0 in release.
#[test]
fn resuming_at_the_largest_offset_gets_a_snapshot() {
    use livecart::room::hub::{CatchUp, CommerceState, HistoryLimits, RoomHub};
    use livecart::room::outbox::{Outbox, OutboxLimits};
    use std::sync::Arc;

    struct NoCommerce;
    impl CommerceState for NoCommerce {
        fn coupons(&self, _: &str) -> Vec<Value> {
            Vec::new()
        }
        fn flash_sales(&self, _: &str, _: u64) -> Vec<Value> {
            Vec::new()
        }
        fn bag(&self, _: &str) -> Vec<Value> {
            Vec::new()
        }
    }
    let bus = Arc::new(livecart::room::bus::RoomBus::in_process());
    let hub = RoomHub::new(
        "r",
        "m",
        "title",
        true,
        HistoryLimits::default(),
        bus,
        Arc::new(livecart::room::timeline::NoMedia),
    );
    let resume = Resume {
        epoch: hub.epoch().to_owned(),
        offset: u64::MAX,
    };
    let outbox = Arc::new(Outbox::new("u", OutboxLimits::default()));
    let (_, catch_up) = hub.join(outbox, Some(&resume), &NoCommerce);
    assert!(matches!(catch_up, CatchUp::Snapshot(_)));
}
