//! Generators and checks shared by the protocol properties: valid messages of every type
//! as written on the wire, JSON soup, and the invariants every decoder error must satisfy.

use livecart::room::protocol::{Ack, ClientMsg, DecodeError, Resume, decode};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

/// The protocol's limit on a client frame (`RoomConfig::default().max_frame`).
pub const LIMIT: usize = 4096;

/// Every `type` a client may send.
pub const TYPES: &[&str] = &[
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
pub const CODES: &[&str] = &["too_large", "bad_json", "unknown_type", "bad_message"];

/// The fields each message type declares (besides `type`).
pub fn fields_of(kind: &str) -> &'static [&'static str] {
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

pub fn config() -> Config {
    Config {
        cases: 256,
        // Keep failures in the output, not in files next to the sources.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- strategies ----------------------------------------------------------------------

/// Characters that stress JSON escaping as well as arbitrary Unicode.
pub fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        1 => prop::sample::select(vec![
            '"', '\\', '/', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{7f}', '\u{2028}',
            '\u{feff}', 'é', '中', '😀', '`', '{', '}', '[', ']', ':', ',',
        ]),
        2 => prop::char::range('a', 'z'),
    ]
}

pub fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 0..=max).prop_map(|v| v.into_iter().collect())
}

/// An optional field: `None` is written either as an absent key or as `null`.
#[derive(Clone, Debug)]
pub struct Opt<T> {
    value: Option<T>,
    explicit_null: bool,
}

pub fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Opt<T>> {
    (prop::option::of(s), any::<bool>()).prop_map(|(value, explicit_null)| Opt {
        value,
        explicit_null,
    })
}

/// The wire fields of a message, in the order they will be written.
pub type Fields = Vec<(String, Value)>;

pub fn put(fields: &mut Fields, name: &str, value: impl serde::Serialize) {
    fields.push((
        name.to_owned(),
        serde_json::to_value(value).expect("to value"),
    ));
}

pub fn put_opt<T: serde::Serialize>(fields: &mut Fields, name: &str, o: &Opt<T>) {
    match &o.value {
        Some(v) => put(fields, name, v),
        None if o.explicit_null => put(fields, name, Value::Null),
        None => {}
    }
}

pub fn ack() -> impl Strategy<Value = (Ack, Value)> {
    (
        text(12),
        opt(text(6)),
        opt(any::<u64>()),
        opt(any::<u64>()),
        opt(any::<u64>()),
    )
        .prop_map(|(push_id, variant, received_ms, displayed_ms, media_ms)| {
            let mut fields = Fields::new();
            put(&mut fields, "push_id", &push_id);
            put_opt(&mut fields, "variant", &variant);
            put_opt(&mut fields, "received_ms", &received_ms);
            put_opt(&mut fields, "displayed_ms", &displayed_ms);
            put_opt(&mut fields, "displayed_media_ms", &media_ms);
            let ack = Ack {
                push_id,
                variant: variant.value,
                received_ms: received_ms.value,
                displayed_ms: displayed_ms.value,
                displayed_media_ms: media_ms.value,
            };
            (ack, Value::Object(fields.into_iter().collect()))
        })
}

/// One valid client message: its `type`, the expected decoded value and its fields.
pub fn message() -> impl Strategy<Value = (&'static str, ClientMsg, Fields)> {
    let s = || text(24);
    prop_oneof![
        (any::<u32>(), opt(s()), opt(s()), opt(s())).prop_map(|(v, token, name, device)| {
            let mut f = Fields::new();
            put(&mut f, "v", v);
            put_opt(&mut f, "token", &token);
            put_opt(&mut f, "name", &name);
            put_opt(&mut f, "device", &device);
            let msg = ClientMsg::Hello {
                v,
                token: token.value,
                name: name.value,
                device: device.value,
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
        (s(), any::<u32>(), s(), opt(s())).prop_map(|(sale_id, quantity, key, sku)| {
            let mut f = Fields::new();
            put(&mut f, "sale_id", &sale_id);
            put(&mut f, "quantity", quantity);
            put(&mut f, "key", &key);
            put_opt(&mut f, "sku", &sku);
            let msg = ClientMsg::Buy {
                sale_id,
                quantity,
                key,
                sku: sku.value,
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
pub fn write_object(kind: &str, fields: &Fields, type_at: usize, spaced: bool) -> String {
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
pub fn wire_message() -> impl Strategy<Value = (&'static str, ClientMsg, Fields, String)> {
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
pub fn json_value() -> impl Strategy<Value = Value> {
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
pub fn json_soup() -> impl Strategy<Value = String> {
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

/// The checks every decoder error must pass.
pub fn check_error(input: &str, limit: usize, e: &DecodeError) -> Result<(), TestCaseError> {
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

pub fn check_any(input: &str, limit: usize) -> Result<(), TestCaseError> {
    match decode(input, limit) {
        Ok(_) => prop_assert!(input.len() <= limit),
        Err(e) => check_error(input, limit, &e)?,
    }
    Ok(())
}

// ---- properties ----------------------------------------------------------------------
