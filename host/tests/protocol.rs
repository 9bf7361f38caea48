//! Property tests for the room protocol decoder (`livecart::room::protocol::decode`).
//!
//! The decoder is the only way client bytes get into the server, so it must never panic
//! (whatever the size, content or nesting), must refuse oversized frames before parsing,
//! must accept every well-formed message of docs/protocol.md exactly as written, and must
//! name what is wrong with a stable `code` otherwise.

use livecart::room::protocol::{Ack, ClientMsg, DecodeError, Resume, decode};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

/// The protocol's limit on a client frame (`RoomConfig::default().max_frame`).
const LIMIT: usize = 4096;

/// Every `type` a client may send.
const TYPES: &[&str] = &[
    "hello",
    "join",
    "comment",
    "like",
    "gift",
    "claim",
    "buy",
    "push",
    "mute",
    "unmute",
    "hide",
    "pin",
    "block_words",
    "ack",
    "click",
    "ping",
];

/// Every code a `DecodeError` may carry.
const CODES: &[&str] = &["too_large", "bad_json", "unknown_type", "bad_message"];

/// The fields each message type declares (besides `type`).
fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "hello" => &["v", "token", "name"],
        "join" => &["room", "resume"],
        "comment" => &["text"],
        "like" => &["count"],
        "gift" => &["gift_id", "count"],
        "claim" => &["coupon_id", "key", "push_id"],
        "buy" => &["sale_id", "quantity", "key"],
        "push" => &["product_id", "style", "duration_ms"],
        "mute" | "unmute" => &["user_id"],
        "hide" | "pin" => &["comment_id"],
        "block_words" => &["words"],
        "ack" => &["acks"],
        "click" => &["push_id", "product_id"],
        "ping" => &["client_ms"],
        other => panic!("no such type {other}"),
    }
}

fn config() -> Config {
    Config {
        cases: 256,
        // Keep failures in the output, not in files next to the sources.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- strategies ----------------------------------------------------------------------

/// Characters that stress JSON escaping as well as arbitrary Unicode.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        1 => prop::sample::select(vec![
            '"', '\\', '/', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{7f}', '\u{2028}',
            '\u{feff}', 'é', '中', '😀', '`', '{', '}', '[', ']', ':', ',',
        ]),
        2 => prop::char::range('a', 'z'),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 0..=max).prop_map(|v| v.into_iter().collect())
}

/// An optional field: `None` is written either as an absent key or as `null`.
#[derive(Clone, Debug)]
struct Opt<T> {
    value: Option<T>,
    explicit_null: bool,
}

fn opt<T: std::fmt::Debug + Clone>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Opt<T>> {
    (prop::option::of(s), any::<bool>()).prop_map(|(value, explicit_null)| Opt {
        value,
        explicit_null,
    })
}

/// The wire fields of a message, in the order they will be written.
type Fields = Vec<(String, Value)>;

fn put(fields: &mut Fields, name: &str, value: impl serde::Serialize) {
    fields.push((
        name.to_owned(),
        serde_json::to_value(value).expect("to value"),
    ));
}

fn put_opt<T: serde::Serialize>(fields: &mut Fields, name: &str, o: &Opt<T>) {
    match &o.value {
        Some(v) => put(fields, name, v),
        None if o.explicit_null => put(fields, name, Value::Null),
        None => {}
    }
}

fn ack() -> impl Strategy<Value = (Ack, Value)> {
    (text(12), opt(text(6)), opt(any::<u64>()), opt(any::<u64>())).prop_map(
        |(push_id, variant, received_ms, displayed_ms)| {
            let mut fields = Fields::new();
            put(&mut fields, "push_id", &push_id);
            put_opt(&mut fields, "variant", &variant);
            put_opt(&mut fields, "received_ms", &received_ms);
            put_opt(&mut fields, "displayed_ms", &displayed_ms);
            let ack = Ack {
                push_id,
                variant: variant.value,
                received_ms: received_ms.value,
                displayed_ms: displayed_ms.value,
            };
            (ack, Value::Object(fields.into_iter().collect()))
        },
    )
}

/// One valid client message: its `type`, the expected decoded value and its fields.
fn message() -> impl Strategy<Value = (&'static str, ClientMsg, Fields)> {
    let s = || text(24);
    prop_oneof![
        (any::<u32>(), opt(s()), opt(s())).prop_map(|(v, token, name)| {
            let mut f = Fields::new();
            put(&mut f, "v", v);
            put_opt(&mut f, "token", &token);
            put_opt(&mut f, "name", &name);
            let msg = ClientMsg::Hello {
                v,
                token: token.value,
                name: name.value,
            };
            ("hello", msg, f)
        }),
        (s(), opt((s(), any::<u64>()))).prop_map(|(room, resume)| {
            let mut f = Fields::new();
            put(&mut f, "room", &room);
            let resume = Opt {
                value: resume.value.map(|(epoch, offset)| Resume { epoch, offset }),
                explicit_null: resume.explicit_null,
            };
            put_opt(&mut f, "resume", &resume);
            let msg = ClientMsg::Join {
                room,
                resume: resume.value,
            };
            ("join", msg, f)
        }),
        text(64).prop_map(|text| {
            let mut f = Fields::new();
            put(&mut f, "text", &text);
            ("comment", ClientMsg::Comment { text }, f)
        }),
        any::<u32>().prop_map(|count| {
            let mut f = Fields::new();
            put(&mut f, "count", count);
            ("like", ClientMsg::Like { count }, f)
        }),
        (s(), any::<u32>()).prop_map(|(gift_id, count)| {
            let mut f = Fields::new();
            put(&mut f, "gift_id", &gift_id);
            put(&mut f, "count", count);
            ("gift", ClientMsg::Gift { gift_id, count }, f)
        }),
        (s(), s(), opt(s())).prop_map(|(coupon_id, key, push_id)| {
            let mut f = Fields::new();
            put(&mut f, "coupon_id", &coupon_id);
            put(&mut f, "key", &key);
            put_opt(&mut f, "push_id", &push_id);
            let msg = ClientMsg::Claim {
                coupon_id,
                key,
                push_id: push_id.value,
            };
            ("claim", msg, f)
        }),
        (s(), any::<u32>(), s()).prop_map(|(sale_id, quantity, key)| {
            let mut f = Fields::new();
            put(&mut f, "sale_id", &sale_id);
            put(&mut f, "quantity", quantity);
            put(&mut f, "key", &key);
            let msg = ClientMsg::Buy {
                sale_id,
                quantity,
                key,
            };
            ("buy", msg, f)
        }),
        (s(), opt(s()), opt(any::<u32>())).prop_map(|(product_id, style, duration_ms)| {
            let mut f = Fields::new();
            put(&mut f, "product_id", &product_id);
            put_opt(&mut f, "style", &style);
            put_opt(&mut f, "duration_ms", &duration_ms);
            let msg = ClientMsg::Push {
                product_id,
                style: style.value,
                duration_ms: duration_ms.value,
            };
            ("push", msg, f)
        }),
        (prop::sample::select(vec!["mute", "unmute"]), s()).prop_map(|(kind, user_id)| {
            let mut f = Fields::new();
            put(&mut f, "user_id", &user_id);
            let msg = if kind == "mute" {
                ClientMsg::Mute { user_id }
            } else {
                ClientMsg::Unmute { user_id }
            };
            (kind, msg, f)
        }),
        (prop::sample::select(vec!["hide", "pin"]), s()).prop_map(|(kind, comment_id)| {
            let mut f = Fields::new();
            put(&mut f, "comment_id", &comment_id);
            let msg = if kind == "hide" {
                ClientMsg::Hide { comment_id }
            } else {
                ClientMsg::Pin { comment_id }
            };
            (kind, msg, f)
        }),
        prop::collection::vec(text(10), 0..6).prop_map(|words| {
            let mut f = Fields::new();
            put(&mut f, "words", &words);
            ("block_words", ClientMsg::BlockWords { words }, f)
        }),
        prop::collection::vec(ack(), 0..4).prop_map(|acks| {
            let (acks, values): (Vec<Ack>, Vec<Value>) = acks.into_iter().unzip();
            let mut f = Fields::new();
            put(&mut f, "acks", values);
            ("ack", ClientMsg::Ack { acks }, f)
        }),
        (s(), s()).prop_map(|(push_id, product_id)| {
            let mut f = Fields::new();
            put(&mut f, "push_id", &push_id);
            put(&mut f, "product_id", &product_id);
            let msg = ClientMsg::Click {
                push_id,
                product_id,
            };
            ("click", msg, f)
        }),
        any::<u64>().prop_map(|client_ms| {
            let mut f = Fields::new();
            put(&mut f, "client_ms", client_ms);
            ("ping", ClientMsg::Ping { client_ms }, f)
        }),
    ]
}

/// Write `{"type": kind, ...fields}` with `type` at `type_at` and compact or spaced layout.
fn write_object(kind: &str, fields: &Fields, type_at: usize, spaced: bool) -> String {
    let mut entries: Vec<(String, Value)> = fields.clone();
    let at = type_at % (entries.len() + 1);
    entries.insert(at, ("type".to_owned(), Value::String(kind.to_owned())));
    let (sep, colon) = if spaced {
        (" ,\n\t", " : ")
    } else {
        (",", ":")
    };
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| {
            let k = serde_json::to_string(k).expect("key");
            let v = if spaced {
                serde_json::to_string_pretty(v)
            } else {
                serde_json::to_string(v)
            }
            .expect("value");
            format!("{k}{colon}{v}")
        })
        .collect();
    if spaced {
        format!(" {{ {} }} \n", body.join(sep))
    } else {
        format!("{{{}}}", body.join(sep))
    }
}

/// A valid message as written on the wire, with the value it must decode to.
fn wire_message() -> impl Strategy<Value = (&'static str, ClientMsg, Fields, String)> {
    (message(), any::<usize>(), any::<bool>())
        .prop_flat_map(|((kind, msg, fields), type_at, spaced)| {
            // Field order must not matter.
            let n = fields.len();
            (
                Just((kind, msg)),
                Just(fields).prop_shuffle(),
                Just(type_at % (n + 1)),
                Just(spaced),
            )
        })
        .prop_map(|((kind, msg), fields, type_at, spaced)| {
            let wire = write_object(kind, &fields, type_at, spaced);
            (kind, msg, fields, wire)
        })
}

/// A small JSON value (bounded depth) for extra fields.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text(8).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(4), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Fragments that make arbitrary strings look like (broken) JSON and protocol frames.
fn json_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"",
            "\\",
            "\"type\"",
            "\"like\"",
            "\"hello\"",
            "\"count\"",
            "\"text\"",
            "\"resume\"",
            "\"acks\"",
            "null",
            "true",
            "-",
            "0",
            "1e999",
            "18446744073709551616",
            "-1",
            "0.5",
            "\\u0000",
            "\\ud800",
            "\"\\u00e9\"",
            " ",
            "\n",
            "unknown variant",
            "field",
        ])
        .prop_map(str::to_owned),
        text(4),
    ];
    prop::collection::vec(token, 0..64).prop_map(|t| t.concat())
}

/// Whether a known decoder bug (see `known_bugs` below) would change the expected result.
fn hits_field_bug(kind: &str) -> bool {
    kind.contains("field")
}

/// The checks every decoder error must pass.
fn check_error(input: &str, limit: usize, e: &DecodeError) -> Result<(), TestCaseError> {
    let code = e.code();
    prop_assert!(CODES.contains(&code), "unexpected code {code}");
    prop_assert!(!e.to_string().is_empty());
    let expected = match e {
        DecodeError::TooLarge { size, limit: l } => {
            prop_assert_eq!(*size, input.len());
            prop_assert_eq!(*l, limit);
            prop_assert!(input.len() > limit);
            "too_large"
        }
        DecodeError::BadJson(m) => {
            prop_assert!(!m.is_empty());
            "bad_json"
        }
        DecodeError::UnknownType(t) => {
            prop_assert!(!t.is_empty());
            prop_assert!(t.chars().count() <= 64, "type echoed in full: {t:?}");
            "unknown_type"
        }
        DecodeError::BadField(m) => {
            prop_assert!(!m.is_empty());
            "bad_message"
        }
    };
    prop_assert_eq!(code, expected);
    if input.len() <= limit {
        prop_assert!(!matches!(e, DecodeError::TooLarge { .. }), "{}", e);
    }
    Ok(())
}

fn check_any(input: &str, limit: usize) -> Result<(), TestCaseError> {
    match decode(input, limit) {
        Ok(_) => prop_assert!(input.len() <= limit),
        Err(e) => check_error(input, limit, &e)?,
    }
    Ok(())
}

// ---- properties ----------------------------------------------------------------------

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
            !t.is_empty() && !TYPES.contains(&t.as_str()) && !hits_field_bug(t)
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
        ("hello", "token" | "name")
            | ("join", "resume")
            | ("claim", "push_id")
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

/// Regressions: each pins a decoder bug found by these properties, now fixed.
mod known_bugs {
    use super::*;

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
            fn flash_sale(&self, _: &str, _: u64) -> Option<Value> {
                None
            }
        }
        let hub = RoomHub::new("r", "m", "title", true, HistoryLimits::default());
        let resume = Resume {
            epoch: hub.epoch().to_owned(),
            offset: u64::MAX,
        };
        let outbox = Arc::new(Outbox::new("u", OutboxLimits::default()));
        let (_, catch_up) = hub.join(outbox, Some(&resume), &NoCommerce);
        assert!(matches!(catch_up, CatchUp::Snapshot(_)));
    }
}
