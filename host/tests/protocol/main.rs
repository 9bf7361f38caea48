//! Property tests for the room protocol decoder (`livecart::room::protocol::decode`).
//!
//! The decoder is the only way client bytes get into the server, so it must never panic
//! (whatever the size, content or nesting), must refuse oversized frames before parsing,
//! must accept every well-formed message of docs/protocol.md exactly as written, and must
//! name what is wrong with a stable `code` otherwise.

mod generators;
mod known_bugs;

use generators::*;
use livecart::room::protocol::{ClientMsg, DecodeError, decode};
use proptest::prelude::*;
use serde_json::json;

proptest! {
    #![proptest_config(config())]

    /// Arbitrary bytes (as the WebSocket layer would hand over after UTF-8 validation).
    #[test]
    fn never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        limit in prop_oneof![Just(LIMIT), Just(usize::MAX), 0..4096usize],
    ) {
        let input = String::from_utf8_lossy(&bytes);
        check_any(&input, limit)?;
    }

    #[test]
    fn never_panics_on_arbitrary_strings(input in text(512), limit in prop_oneof![Just(LIMIT), Just(usize::MAX)]) {
        check_any(&input, limit)?;
    }

    #[test]
    fn never_panics_on_json_soup(input in json_soup()) {
        check_any(&input, usize::MAX)?;
    }

    /// Valid frames with a few bytes deleted, replaced or inserted.
    #[test]
    fn never_panics_on_damaged_messages(
        (_, _, _, wire) in wire_message(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any_char()), 1..6),
    ) {
        let mut chars: Vec<char> = wire.chars().collect();
        for (at, op, c) in edits {
            if chars.is_empty() {
                chars.push(c);
                continue;
            }
            let i = at.index(chars.len());
            match op {
                0 => { chars.remove(i); }
                1 => chars[i] = c,
                _ => chars.insert(i, c),
            }
        }
        let input: String = chars.into_iter().collect();
        check_any(&input, usize::MAX)?;
    }

    /// Anything over the limit is refused by size alone, whatever it contains.
    #[test]
    fn over_the_limit_is_always_too_large(
        (input, limit) in prop_oneof![
            text(300),
            json_soup(),
            wire_message().prop_map(|(_, _, _, wire)| wire),
        ]
        .prop_filter("non-empty", |s| !s.is_empty())
        .prop_flat_map(|s| { let n = s.len(); (Just(s), 0..n) }),
    ) {
        prop_assert_eq!(
            decode(&input, limit),
            Err(DecodeError::TooLarge { size: input.len(), limit })
        );
    }

    /// Every valid message decodes to exactly what was written, whatever the field order,
    /// layout and string content; at exactly the limit it is still accepted.
    #[test]
    fn valid_messages_round_trip((kind, msg, _, wire) in wire_message()) {
        prop_assert_eq!(decode(&wire, usize::MAX), Ok(msg.clone()), "{} {}", kind, wire);
        prop_assert_eq!(decode(&wire, wire.len()), Ok(msg), "at the limit: {}", wire);
        prop_assert_eq!(
            decode(&wire, wire.len() - 1),
            Err(DecodeError::TooLarge { size: wire.len(), limit: wire.len() - 1 })
        );
    }

    /// A missing required field is a `bad_message`.
    #[test]
    fn missing_required_fields_are_bad_messages(
        (kind, _, fields, _) in wire_message(),
        pick in any::<prop::sample::Index>(),
    ) {
        let required: Vec<usize> = fields
            .iter()
            .enumerate()
            .filter(|(_, (k, v))| !v.is_null() && !is_optional(kind, k))
            .map(|(i, _)| i)
            .collect();
        prop_assume!(!required.is_empty());
        let mut fields = fields;
        let (name, _) = fields.remove(required[pick.index(required.len())]);
        let wire = write_object(kind, &fields, 0, false);
        let err = decode(&wire, usize::MAX).expect_err("a field is missing");
        prop_assert_eq!(err.code(), "bad_message");
        prop_assert!(err.to_string().contains(&format!("missing field `{name}`")), "{}", err);
    }

    /// An unknown `type` is refused with `unknown_type`, naming the type (cut to 64
    /// characters), whatever else the object holds.
    #[test]
    fn unknown_types_are_named(
        kind in prop_oneof![
            text(80),
            prop::sample::select(TYPES.to_vec()).prop_map(|t| t.to_uppercase()),
            prop::sample::select(TYPES.to_vec()).prop_map(|t| format!("{t} ")),
        ]
        .prop_filter("unknown and non-empty", |t| {
            !t.is_empty() && !TYPES.contains(&t.as_str())
        }),
        extra in prop::collection::btree_map("[a-z_]{1,10}", json_value(), 0..4),
        type_at in any::<usize>(),
    ) {
        let fields: Fields = extra.into_iter().filter(|(k, _)| k != "type").collect();
        let wire = write_object(&kind, &fields, type_at, false);
        let expected: String = kind.chars().take(64).collect();
        prop_assert_eq!(decode(&wire, usize::MAX), Err(DecodeError::UnknownType(expected)));
    }

    /// A field a message type does not declare is refused with `bad_message`.
    #[test]
    fn unknown_fields_are_refused(
        (kind, _, fields, _) in wire_message(),
        name in prop_oneof!["[a-z_]{1,12}", text(12)],
        value in json_value(),
        at in any::<prop::sample::Index>(),
    ) {
        prop_assume!(name != "type" && !fields_of(kind).contains(&name.as_str()));
        let mut fields = fields;
        let i = at.index(fields.len() + 1);
        fields.insert(i, (name.clone(), value));
        let wire = write_object(kind, &fields, 0, false);
        let err = decode(&wire, usize::MAX).expect_err("unknown field");
        prop_assert_eq!(err.code(), "bad_message");
        prop_assert!(err.to_string().starts_with("invalid message: unknown field"), "{}", err);
    }

    /// A field with the wrong JSON type is refused with `bad_message`.
    #[test]
    fn wrongly_typed_fields_are_refused(
        (kind, _, fields, _) in wire_message(),
        pick in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            Just(json!(true)),
            Just(json!(-1)),
            Just(json!(0.5)),
            Just(json!({"x": 1})),
            Just(json!([[1]])),
            Just(json!(18_446_744_073_709_551_616.0_f64)),
        ],
    ) {
        prop_assume!(!fields.is_empty());
        let mut fields = fields;
        let i = pick.index(fields.len());
        // No field accepts any of these: strings, integers, options of them, `resume`
        // (an object with two required fields) and arrays of strings or acks.
        fields[i].1 = replacement;
        let wire = write_object(kind, &fields, 0, false);
        let err = decode(&wire, usize::MAX).expect_err("wrong type");
        prop_assert_eq!(err.code(), "bad_message", "{}", wire);
    }
}

fn is_optional(kind: &str, field: &str) -> bool {
    matches!(
        (kind, field),
        ("hello", "token" | "name" | "device")
            | ("join", "resume")
            | ("claim", "push_id")
            | ("buy", "sku")
            | ("push", "style" | "duration_ms")
    )
}

// ---- fixed cases ---------------------------------------------------------------------

#[test]
fn codes_are_stable() {
    let cases = [
        (DecodeError::TooLarge { size: 2, limit: 1 }, "too_large"),
        (DecodeError::BadJson("x".into()), "bad_json"),
        (DecodeError::UnknownType("x".into()), "unknown_type"),
        (DecodeError::BadField("x".into()), "bad_message"),
    ];
    for (e, code) in cases {
        assert_eq!(e.code(), code);
        assert!(!e.to_string().is_empty());
        assert!(
            code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{code}"
        );
    }
}

/// serde_json stops at 128 levels of nesting (an object holding 126 arrays is fine, 127
/// is not), so no input can exhaust the stack; the limit holds inside the buffered
/// content of the tagged enum too.
#[test]
fn nesting_is_bounded_by_serde_json_recursion_limit() {
    let nested = |n: usize| {
        format!(
            r#"{{"type":"like","count":1,"x":{}{}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    let err = decode(&nested(126), usize::MAX).expect_err("unknown field");
    assert_eq!(err.code(), "bad_message", "{err}");
    let err = decode(&nested(127), usize::MAX).expect_err("too deep");
    assert_eq!(err.code(), "bad_json", "{err}");
    assert!(
        err.to_string().contains("recursion limit exceeded"),
        "{err}"
    );
}

#[test]
fn huge_and_deeply_nested_inputs_do_not_overflow_the_stack() {
    const DEPTH: usize = 100_000;
    let deep = [
        "[".repeat(DEPTH),
        "{\"a\":".repeat(DEPTH),
        format!(r#"{{"type":"like","count":{}"#, "[".repeat(DEPTH)),
        format!(r#"{{"x":{}"#, "{\"type\":".repeat(DEPTH)),
        format!(r#"{{"type":"dance","x":{}"#, "[".repeat(DEPTH)),
        format!(
            r#"{{"type":"join","room":"r","resume":{{"epoch":"e","offset":1,"x":{}}}}}"#,
            "[".repeat(DEPTH)
        ),
        format!(
            r#"{{"type":"ack","acks":[{{"push_id":"p","x":{}}}]}}"#,
            "{\"a\":".repeat(DEPTH)
        ),
        format!(r#"["like",{}"#, "[".repeat(DEPTH)),
        format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH)),
    ];
    for input in &deep {
        let err = decode(input, usize::MAX).expect_err("refused");
        assert!(CODES.contains(&err.code()), "{err}");
        // Within the protocol limit, such frames are refused by size alone.
        assert!(matches!(
            decode(input, LIMIT),
            Err(DecodeError::TooLarge { .. })
        ));
    }
    // A large but flat frame (long string, many array elements) is fine without a limit.
    let long = format!(r#"{{"type":"comment","text":"{}"}}"#, "é".repeat(1 << 20));
    assert!(matches!(
        decode(&long, usize::MAX),
        Ok(ClientMsg::Comment { .. })
    ));
    let many = format!(
        r#"{{"type":"block_words","words":[{}]}}"#,
        vec![r#""w""#; 100_000].join(",")
    );
    assert!(matches!(
        decode(&many, usize::MAX),
        Ok(ClientMsg::BlockWords { words }) if words.len() == 100_000
    ));
    assert!(matches!(
        decode(&many, LIMIT),
        Err(DecodeError::TooLarge { .. })
    ));
}

#[test]
fn every_type_is_recognised() {
    for kind in TYPES {
        // Known types never come back as unknown, even when their fields are missing.
        let err = decode(&format!(r#"{{"type":"{kind}"}}"#), LIMIT);
        assert!(
            !matches!(err, Err(DecodeError::UnknownType(_))),
            "{kind}: {err:?}"
        );
    }
}

/// Documented behaviour that is easy to get wrong when touching the decoder.
#[test]
fn edge_cases() {
    let d = |s: &str| decode(s, LIMIT).map_err(|e| e.code());
    assert_eq!(d(""), Err("bad_json"));
    assert_eq!(d("   "), Err("bad_json"));
    assert_eq!(d("null"), Err("bad_message"));
    assert_eq!(d("{}"), Err("bad_message"));
    assert_eq!(d(r#"{"type":5}"#), Err("bad_message"));
    assert_eq!(d(r#"{"type":null}"#), Err("bad_message"));
    // Duplicate keys, including `type`, are refused.
    assert_eq!(
        d(r#"{"type":"like","count":1,"count":2}"#),
        Err("bad_message")
    );
    assert_eq!(
        d(r#"{"type":"like","count":1,"type":"like"}"#),
        Err("bad_message")
    );
    // Numbers must fit the field exactly.
    assert_eq!(
        d(r#"{"type":"like","count":4294967296}"#),
        Err("bad_message")
    );
    assert_eq!(d(r#"{"type":"like","count":1.0}"#), Err("bad_message"));
    assert_eq!(d(r#"{"type":"like","count":"1"}"#), Err("bad_message"));
    assert_eq!(
        d(r#"{"type":"ping","client_ms":18446744073709551615}"#),
        Ok(ClientMsg::Ping {
            client_ms: u64::MAX
        })
    );
    // Escapes in the type are decoded before matching.
    assert_eq!(
        d(r#"{"type":"l\u0069ke","count":2}"#),
        Ok(ClientMsg::Like { count: 2 })
    );
    // Trailing garbage and a byte-order mark are not JSON.
    assert_eq!(d(r#"{"type":"like","count":1} x"#), Err("bad_json"));
    assert_eq!(
        d("\u{feff}{\"type\":\"like\",\"count\":1}"),
        Err("bad_json")
    );
    // Long unknown types are echoed cut to 64 characters.
    let long = "z".repeat(1000);
    assert_eq!(
        decode(&format!(r#"{{"type":"{long}"}}"#), LIMIT),
        Err(DecodeError::UnknownType("z".repeat(64)))
    );
    // The empty type is not named (there is nothing to name).
    assert_eq!(d(r#"{"type":""}"#), Err("bad_message"));
}
