//! Operations: readiness and draining, as a load balancer and a deploy see them.

use crate::harness::*;
use serde_json::{Value, json};

async fn readyz(s: &Server) -> (u16, Value) {
    let (status, body) = http(s, "GET", "/readyz", None, None).await;
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, body)
}

#[tokio::test]
async fn readyz_is_ready_while_the_store_answers_and_says_draining_after() {
    let s = start(fast()).await;
    assert_eq!(readyz(&s).await, (200, json!({"ready": true})));
    let (status, health) = http(&s, "GET", "/healthz", None, None).await;
    assert_eq!((status, health.as_str()), (200, "ok"));
    assert!(s.rooms.begin_drain());
    assert!(!s.rooms.begin_drain(), "draining starts once");
    let (status, body) = readyz(&s).await;
    assert_eq!(
        (status, &body["ready"], &body["reason"]),
        (503, &json!(false), &json!("draining")),
        "{body}"
    );
    // Alive all the same: a draining node must not be restarted by its liveness probe.
    assert_eq!(http(&s, "GET", "/healthz", None, None).await.0, 200);
    assert_no_panics();
}

#[tokio::test]
async fn a_draining_node_tells_joined_clients_to_reconnect_then_closes_with_1001() {
    let s = start(fast()).await;
    let mut viewer = Client::join(&s, &s.room, None).await;
    let mut host = Client::join(
        &s,
        &s.room,
        Some(&token(&s.room, "h1", livecart::auth::Role::Host)),
    )
    .await;
    s.rooms.begin_drain();
    for c in [&mut viewer, &mut host] {
        let reconnect = c.expect_type("reconnect").await;
        assert_eq!(reconnect["reason"], "draining", "{reconnect}");
        assert!(reconnect["retry_ms"].as_u64().is_some(), "{reconnect}");
        let (code, _) = c.closed().await.expect("a close frame");
        assert_eq!(code, 1001, "{:?}", c.seen);
    }
    assert_no_panics();
}

/// `/metrics` parsed by Prometheus' own Python client: every family it finds, as
/// `{name: {"type", "samples": [[sample name, labels, value]]}}`.
fn parse_prometheus(text: &str) -> Value {
    use std::io::Write;
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect(
            "/usr/bin/python3 (run ./scripts/test.sh, which installs python3-prometheus-client)",
        );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "prometheus_client refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn sample(families: &Value, family: &str, sample: &str, label: Option<(&str, &str)>) -> f64 {
    let samples = families[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family} in {families}"));
    samples
        .iter()
        .find(|s| s[0] == sample && label.is_none_or(|(k, v)| s[1][k] == v))
        .and_then(|s| s[2].as_f64())
        .unwrap_or_else(|| panic!("no sample {sample} {label:?} in {family}: {samples:?}"))
}

#[tokio::test]
async fn metrics_parse_with_the_prometheus_client_and_cover_rooms_claims_plugins_and_the_process() {
    let s = start(fast()).await;
    let mut viewer = Client::join(&s, &s.room, None).await;
    viewer
        .send(json!({"type": "claim", "coupon_id": "c-race", "key": "k-metrics"}))
        .await;
    let result = viewer.expect_type("claim_result").await;
    assert_eq!(result["ok"], true, "{result}");
    let (status, text) = http(&s, "GET", "/metrics", None, None).await;
    assert_eq!(status, 200, "{text}");
    let families = parse_prometheus(&text);
    for (family, kind) in [
        ("livecart_panics", "counter"),
        ("livecart_http_connections_open", "gauge"),
        ("livecart_rooms_open", "gauge"),
        ("livecart_room_frames_out", "counter"),
        ("livecart_room_frames_dropped", "counter"),
        ("livecart_room_resyncs", "counter"),
        ("livecart_room_outbox_queued_frames", "gauge"),
        ("livecart_plugin_calls", "counter"),
        ("livecart_plugin_faults", "counter"),
        ("livecart_plugin_warm_instances", "gauge"),
        ("livecart_plugin_warm_evictions", "counter"),
        ("livecart_origin_responses", "counter"),
        ("livecart_commit_seconds", "histogram"),
        ("livecart_process_open_fds", "gauge"),
        ("livecart_process_resident_memory_bytes", "gauge"),
    ] {
        assert_eq!(families[family]["type"], kind, "{family}: {families}");
    }
    assert!(
        sample(
            &families,
            "livecart_rooms_open",
            "livecart_rooms_open",
            None
        ) >= 1.0
    );
    let out = "livecart_room_frames_out_total";
    assert!(sample(&families, "livecart_room_frames_out", out, None) >= 1.0);
    let claims = ("op", "claim");
    let count = "livecart_commit_seconds_count";
    assert!(sample(&families, "livecart_commit_seconds", count, Some(claims)) >= 1.0);
    let inf = sample(
        &families,
        "livecart_commit_seconds",
        "livecart_commit_seconds_bucket",
        Some(("le", "+Inf")),
    );
    assert!(inf >= 1.0, "{families}");
    let fds = "livecart_process_open_fds";
    assert!(sample(&families, fds, fds, None) >= 3.0);
    let rss = "livecart_process_resident_memory_bytes";
    assert!(sample(&families, rss, rss, None) > 1e6);
    assert_no_panics();
}
