//! Helpers for livecart's end-to-end tests: build and locate the `livecart` binary and
//! the built plugins, run commands, and stop child processes; the real services the
//! cluster tests need (NATS, a throwaway PostgreSQL cluster).

mod postgres;
pub use postgres::PgCluster;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The target directory the workspace builds into.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The `livecart` binary, built (once per test process) from the current sources.
pub fn livecart() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "livecart", "--bin", "livecart"])
            .current_dir(root())
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building livecart failed");
        target_dir().join("debug").join("livecart")
    })
}

/// A built plugin component.
pub fn plugin(name: &str) -> PathBuf {
    let path = target_dir().join("plugins").join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/test.sh, which builds the plugins first",
        path.display()
    );
    path
}

/// Run `livecart` with `args` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(livecart())
        .args(args)
        .current_dir(root())
        .env("RUST_LOG", "warn")
        // Compiled plugins are cached across tests and runs, as for a developer.
        .env("LIVECART_CACHE_DIR", target_dir().join("plugin-cache"))
        .output()
        .expect("running livecart")
}

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `livecart serve` on port 0 with a temp data dir, and what its banner said.
pub struct Serve {
    pub child: KillOnDrop,
    /// `host:port` of the HTTP listener.
    pub addr: String,
    pub merchant_token: String,
    /// `host:port` of the RTMP ingest.
    pub rtmp: String,
    pub demo_stream_key: String,
    pub data: tempfile::TempDir,
}

impl Serve {
    /// Start `livecart serve` with every listener on port 0, a small demo stream, and
    /// `extra` arguments; returns once the banner is printed.
    pub fn start(extra: &[&str]) -> Serve {
        use std::io::{BufRead, BufReader};
        let data = tempfile::tempdir().expect("tempdir");
        let child = Command::new(livecart())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args([
                "--rtmp-listen",
                "127.0.0.1:0",
                "--rtmps-listen",
                "127.0.0.1:0",
            ])
            .args(["--demo-size", "320x180"])
            .arg("--demo-plugins")
            .arg(target_dir().join("plugins"))
            .arg("--plugin-sources")
            .arg(root().join("plugins"))
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn livecart serve");
        let mut child = KillOnDrop(child);
        let stdout = child.0.stdout.take().expect("stdout");
        let (mut addr, mut token, mut rtmp, mut key) = (None, None, None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            let line = line.trim();
            let field = |prefix: &str| line.strip_prefix(prefix).map(|v| v.trim().to_owned());
            if let Some(url) = field("health:") {
                let url = url.trim_start_matches("http://").to_owned();
                addr = url.split('/').next().map(str::to_owned);
            }
            if let Some(t) = field("merchant token:") {
                token = Some(t);
            }
            if let Some(v) = field("OBS ingest:") {
                let v = v.trim_start_matches("rtmp://");
                rtmp = v.split('/').next().map(str::to_owned);
            }
            if let Some(v) = field("demo stream key:") {
                key = v.split_whitespace().next().map(str::to_owned);
            }
            if line.starts_with("Press Ctrl-C") {
                break;
            }
        }
        Serve {
            child,
            addr: addr.expect("serve printed its health URL"),
            merchant_token: token.expect("serve printed the merchant token"),
            rtmp: rtmp.expect("serve printed the RTMP ingest URL"),
            demo_stream_key: key.expect("serve printed the demo stream key"),
            data,
        }
    }
}

/// Running the browser scripts of `web/tests/` (Node + playwright-core + Debian's
/// Chromium) from Rust tests.
pub mod browser {
    use super::{KillOnDrop, root, target_dir};
    use std::io::Read;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    const SETUP: &str = "run ./scripts/test.sh, which installs chromium and web/node_modules";

    /// What a script did.
    #[derive(Debug)]
    pub struct Outcome {
        /// It exited with status 0 within its time limit.
        pub ok: bool,
        pub stdout: String,
        pub stderr: String,
    }

    impl Outcome {
        /// The JSON report a script prints on stdout (its last JSON object).
        pub fn report(&self) -> Option<serde_json::Value> {
            let start = self.stdout.find('{')?;
            serde_json::from_str(&self.stdout[start..]).ok()
        }
    }

    /// Where browser tests leave screenshots for review: `target/test-artifacts/`.
    pub fn artifacts() -> PathBuf {
        let dir = target_dir().join("test-artifacts");
        std::fs::create_dir_all(&dir).expect("creating target/test-artifacts");
        dir
    }

    /// `web/tests/<name>`, after checking that Chromium, Node and the npm packages the
    /// scripts need are installed; fails (never skips) without them.
    pub fn script(name: &str) -> PathBuf {
        let chromium = std::env::var_os("CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        assert!(
            chromium.exists(),
            "{} is missing: {SETUP}",
            chromium.display()
        );
        let web = root().join("web");
        for dep in [
            "dashjs/dist/dash.all.min.js",
            "hls.js/dist/hls.min.js",
            "playwright-core/package.json",
        ] {
            let path = web.join("node_modules").join(dep);
            assert!(path.exists(), "{} is missing: {SETUP}", path.display());
        }
        let node = Command::new("node").arg("--version").output();
        assert!(
            node.is_ok_and(|o| o.status.success()),
            "node is missing: {SETUP}"
        );
        let path = web.join("tests").join(name);
        assert!(path.exists(), "{} is missing", path.display());
        path
    }

    /// One browser scenario at a time in a test process: each runs a server and one to
    /// three browser pages, and this machine has two cores; in parallel they would time
    /// each other out. Hold the guard for the whole test.
    pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        LOCK.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run the scenario `script` against `server` (`--base`, `--merchant-token`,
    /// `--artifacts`) plus `extra` arguments, killing it after `limit`; panics with the
    /// script's report and log when it failed. Returns its JSON report (which said
    /// `"ok": true`) and how long it took.
    pub fn scenario(
        script: &str,
        server: &crate::Serve,
        extra: &[&str],
        limit: Duration,
    ) -> (serde_json::Value, Duration) {
        let mut args = vec![
            "--base".to_owned(),
            format!("http://{}", server.addr),
            "--merchant-token".to_owned(),
            server.merchant_token.clone(),
            "--artifacts".to_owned(),
            artifacts().display().to_string(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let start = Instant::now();
        let outcome = run_script(script, &args, limit);
        let took = start.elapsed();
        assert!(
            outcome.ok,
            "{script} failed after {took:?}:\n--- stderr\n{}\n--- stdout\n{}",
            outcome.stderr, outcome.stdout
        );
        let report = outcome
            .report()
            .unwrap_or_else(|| panic!("{script} printed no JSON report:\n{}", outcome.stdout));
        assert_eq!(report["ok"], true, "{script}: {report:#}");
        eprintln!("{script} passed in {took:?}: {report:#}");
        (report, took)
    }

    /// Run `node web/tests/<name> <args>`, killing it after `limit`.
    pub fn run_script(name: &str, args: &[String], limit: Duration) -> Outcome {
        let mut cmd = Command::new("node");
        cmd.arg(script(name)).args(args).current_dir(root());
        run_with_limit(cmd, limit)
    }

    /// Run `cmd` to completion, killing it after `limit`.
    pub fn run_with_limit(mut cmd: Command, limit: Duration) -> Outcome {
        let mut child = KillOnDrop(
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn node"),
        );
        let mut out = child.0.stdout.take().expect("stdout");
        let mut err = child.0.stderr.take().expect("stderr");
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.0.try_wait().expect("wait for node") {
                break Some(status);
            }
            if start.elapsed() > limit {
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        drop(child);
        let (stdout, stderr) = (
            out.join().unwrap_or_default(),
            err.join().unwrap_or_default(),
        );
        match status {
            Some(status) => Outcome {
                ok: status.success(),
                stdout,
                stderr,
            },
            None => Outcome {
                ok: false,
                stdout,
                stderr: format!("{stderr}\n(killed after {limit:?})"),
            },
        }
    }
}

/// A `nats-server -js` (JetStream) on a free port with a temp store dir, killed on drop;
/// `stop` and `start_again` restart it on the same port and store.
pub struct NatsServer {
    child: Option<KillOnDrop>,
    pub port: u16,
    store: tempfile::TempDir,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut server = NatsServer {
            child: None,
            port,
            store: tempfile::tempdir().expect("tempdir"),
        };
        server.start_again();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn start_again(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server is missing: run ./scripts/test.sh, which installs it");
        self.child = Some(KillOnDrop(child));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        self.child = None;
    }
}

/// One HTTP/1.1 exchange with `Connection: close`: the status and the body. `token` goes
/// in as a bearer token; a non-empty `body` is sent as JSON.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    http_typed(addr, method, path, token, "application/json", body)
}

/// [`http`] with a body of another content type (an SDP offer, say).
pub fn http_typed(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return (0, format!("cannot connect to {addr}"));
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let sent = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut response = String::new();
    if sent.is_err() || s.read_to_string(&mut response).is_err() {
        return (0, format!("{method} {path}: no response"));
    }
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

/// The hash of the version of plugin `name` enabled in room `room`, from the merchant API.
pub fn enabled_hash(addr: &str, token: &str, room: &str, name: &str) -> String {
    let (status, body) = http(
        addr,
        "GET",
        &format!("/api/rooms/{room}/plugins"),
        Some(token),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let bindings: serde_json::Value = serde_json::from_str(&body).expect("json");
    bindings["plugins"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["binding"]["name"] == name))
        .and_then(|b| b["binding"]["hash"].as_str())
        .unwrap_or_else(|| panic!("{name} is not enabled in {room}: {bindings}"))
        .to_owned()
}

/// ffmpeg publishing a 320x180 test pattern with a tone to `url` for `secs`, as OBS would
/// (x264 ultrafast, zerolatency, a 1 s GOP, AAC), at `speed` times real time (ffmpeg's
/// `-readrate`: "1" is real time; under 1 is a publisher whose uplink cannot keep up).
pub fn publish_at(url: &str, secs: u32, speed: &str) -> KillOnDrop {
    let lavfi = |source: &str| {
        ["-readrate", speed, "-f", "lavfi", "-i"]
            .map(str::to_owned)
            .into_iter()
            .chain([source.to_owned()])
            .collect::<Vec<_>>()
    };
    let child = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(lavfi("testsrc2=size=320x180:rate=30"))
        .args(lavfi("sine=frequency=440:sample_rate=48000"))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac"])
        .args(["-t", &secs.to_string(), "-f", "flv", url])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn ffmpeg");
    KillOnDrop(child)
}

/// nginx running `<prefix>/nginx.conf` (`-p prefix -c conf`), as the ingest POP and CDN
/// edge tests run it; stopped with `nginx -s stop` when dropped, which ends its workers
/// too (killing only the master would leave them holding the port).
pub struct Nginx {
    child: KillOnDrop,
    prefix: PathBuf,
}

impl Nginx {
    /// Start nginx on `prefix` (which holds `nginx.conf`) and wait until `addr` accepts.
    pub fn start(prefix: &Path, addr: &str) -> Nginx {
        use std::process::Stdio;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let nginx = Nginx {
            child: KillOnDrop(child),
            prefix: prefix.to_owned(),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nginx did not listen on {addr}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        nginx
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("nginx")
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(self.prefix.join("nginx.conf"))
            .args(["-s", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}
