//! `livecart serve` starts on its embedded defaults, answers health checks and shows the
//! demo room's plugins.

use livecart_e2e::{KillOnDrop, livecart, root, target_dir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn get(addr: &str, path: &str, token: Option<&str>) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\r\n"
    )
    .expect("send");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("read");
    body
}

#[test]
fn serve_prints_its_urls_and_answers() {
    let data = tempfile::tempdir().expect("tempdir");
    let child = Command::new(livecart())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .arg("--demo-plugins")
        .arg(target_dir().join("plugins"))
        .arg("--plugin-sources")
        .arg(root().join("plugins"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn livecart serve");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let mut addr = None;
    let mut token = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(url) = line.trim().strip_prefix("health:") {
            let url = url.trim().trim_start_matches("http://");
            addr = url.split('/').next().map(str::to_owned);
        }
        if let Some(t) = line.trim().strip_prefix("merchant token:") {
            token = Some(t.trim().to_owned());
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    let addr = addr.expect("serve printed its health URL");
    let token = token.expect("serve printed the demo merchant token");
    let health = get(&addr, "/healthz", None);
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok"), "{health}");
    let denied = get(&addr, "/api/rooms/demo/plugins", None);
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
    let plugins = get(&addr, "/api/rooms/demo/plugins", Some(&token));
    assert!(plugins.starts_with("HTTP/1.1 200"), "{plugins}");
    for name in ["like-coupon", "keyword-push", "ai-host"] {
        assert!(
            plugins.contains(&format!("\"name\":\"{name}\"")),
            "{plugins}"
        );
    }
}
