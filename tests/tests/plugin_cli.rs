//! `livecart plugin check` and `livecart plugin test`, run as a plugin developer would.

use livecart_e2e::{plugin, root, run};
use std::io::Write;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_accepts_a_plugin_and_prints_its_manifest() {
    let out = run(&[
        "plugin",
        "check",
        plugin("like-coupon").to_str().unwrap_or_default(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("ok: like-coupon 0.1.0"), "{text}");
    assert!(
        text.contains("capabilities: coupons, messages, kv"),
        "{text}"
    );
    assert!(text.contains("events:       likes"), "{text}");
    // Logs stay on stderr, and without colour codes when it is not a terminal.
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(!stderr(&out).contains('\u{1b}'), "{}", stderr(&out));
}

#[test]
fn json_logs_are_one_object_per_line_on_stderr() {
    // An empty compile cache, so the check compiles and logs it.
    let cache = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(livecart_e2e::livecart())
        .args(["--log-format", "json", "plugin", "check"])
        .arg(plugin("hello"))
        .env("RUST_LOG", "info")
        .env("LIVECART_CACHE_DIR", cache.path())
        .output()
        .expect("running livecart");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok: hello"), "{}", stdout(&out));
    let logs = stderr(&out);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "compiling plugin" && l["level"] == "INFO"),
        "{logs}"
    );
}

#[test]
fn check_names_each_problem_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text_file = dir.path().join("notes.wasm");
    std::fs::write(&text_file, "hello").expect("write");
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").expect("write");
    let big = dir.path().join("big.wasm");
    let mut f = std::fs::File::create(&big).expect("create");
    f.write_all(&vec![0u8; (64 << 20) + 10]).expect("write");

    let cases = [
        (text_file, "not a WebAssembly file"),
        (core, "this is a core WebAssembly module, not a component"),
        (
            big,
            "file is 67108874 bytes; the upload limit is 67108864 bytes",
        ),
        (
            plugin("other-world"),
            "it was built for another world (its exports: render)",
        ),
        (
            plugin("sneaky"),
            "capability `catalog-read` not granted: import livecart:plugin/catalog@0.1.0 needs it",
        ),
    ];
    for (path, want) in cases {
        let out = run(&["plugin", "check", path.to_str().unwrap_or_default()]);
        assert_eq!(out.status.code(), Some(1), "{}", path.display());
        assert!(
            stderr(&out).contains(want),
            "{}: {}",
            path.display(),
            stderr(&out)
        );
    }
}

#[test]
fn test_replays_the_sample_events_and_prints_actions_and_a_summary() {
    let root = root();
    let out = run(&[
        "plugin",
        "test",
        plugin("like-coupon").to_str().unwrap_or_default(),
        "--events",
        root.join("plugins/like-coupon/events.jsonl")
            .to_str()
            .unwrap_or_default(),
        "--config",
        root.join("plugins/like-coupon/config.json")
            .to_str()
            .unwrap_or_default(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    let unlocks: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "unlock-coupon")
        .map(|l| l["coupon_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(unlocks, ["c-1k", "c-10k"]);
    let summary = &lines.last().expect("summary line")["summary"];
    assert_eq!(summary["plugin"], "like-coupon");
    assert_eq!(summary["faults"], 0);
    assert!(summary["instructions"].as_u64().unwrap_or(0) > 0);
    assert!(summary["peak_memory_bytes"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn test_exits_nonzero_on_a_trap_and_names_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        "{\"type\":\"comment\",\"comment_id\":\"c1\",\"user_id\":\"u1\",\"text\":\"hi\"}\n",
    )
    .expect("write");
    let config = dir.path().join("config.json");
    std::fs::write(&config, r#"{"mode":"loop"}"#).expect("write");
    let out = run(&[
        "plugin",
        "test",
        plugin("hostile").to_str().unwrap_or_default(),
        "--events",
        events.to_str().unwrap_or_default(),
        "--config",
        config.to_str().unwrap_or_default(),
        "--fuel",
        "5000000",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("instruction limit exceeded: the batch used more than 5000000 instructions"),
        "{}",
        stderr(&out)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().last().unwrap_or("{}")).expect("json");
    assert_eq!(summary["summary"]["limits_hit"][0], "fuel");
}

#[test]
fn test_refuses_invalid_config_and_events_precisely() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        "{\"type\":\"likes\",\"delta\":1,\"total\":1}\n{\"type\":\"wave\"}\n",
    )
    .expect("write");
    let config = dir.path().join("config.json");
    std::fs::write(&config, "{\"thresholds\": [").expect("write");
    let wasm = plugin("like-coupon");
    let out = run(&[
        "plugin",
        "test",
        wasm.to_str().unwrap_or_default(),
        "--events",
        events.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("events.jsonl: line 2: unknown variant `wave`"),
        "{}",
        stderr(&out)
    );

    std::fs::write(&events, "{\"type\":\"likes\",\"delta\":1,\"total\":1}\n").expect("write");
    let out = run(&[
        "plugin",
        "test",
        wasm.to_str().unwrap_or_default(),
        "--events",
        events.to_str().unwrap_or_default(),
        "--config",
        config.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid config: not valid JSON"),
        "{}",
        stderr(&out)
    );
}

/// The Python and JavaScript builds of keyword-push pass `plugin check` under the default
/// limits and, replayed over the Rust plugin's sample events, push the same cards.
#[test]
fn the_python_and_javascript_plugins_check_and_replay_like_the_rust_one() {
    let root = root();
    let dir = root.join("plugins/keyword-push");
    let pushes = |name: &str| {
        let out = run(&[
            "plugin",
            "test",
            plugin(name).to_str().unwrap_or_default(),
            "--events",
            dir.join("events.jsonl").to_str().unwrap_or_default(),
            "--config",
            dir.join("config.json").to_str().unwrap_or_default(),
        ]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let lines: Vec<serde_json::Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
            .collect();
        let summary = &lines.last().expect("summary line")["summary"];
        assert_eq!(summary["faults"], 0, "{name}: {summary}");
        lines
            .iter()
            .filter(|l| l["type"] == "push-product")
            .map(|l| (l["event"].clone(), l["product_id"].clone()))
            .collect::<Vec<_>>()
    };
    let rust = pushes("keyword-push");
    assert_eq!(rust.len(), 3, "{rust:?}");
    for name in ["keyword-push-js", "keyword-push-py"] {
        let out = run(&["plugin", "check", plugin(name).to_str().unwrap_or_default()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(
            stdout(&out).starts_with(&format!("ok: {name} 0.1.0")),
            "{}",
            stdout(&out)
        );
        assert!(
            stdout(&out).contains("capabilities: product-push, kv"),
            "{}",
            stdout(&out)
        );
        assert_eq!(pushes(name), rust, "{name}");
    }
}
