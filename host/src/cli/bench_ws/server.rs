//! The server under test: `livecart serve` as a child process on 127.0.0.1 port 0.
//!
//! [`ServerChild`] kills the child and removes its data directory when dropped, so an
//! error or a panic anywhere in a bench never leaves a server behind. It also reads the
//! child's memory and CPU from `/proc` and calls its REST API as the demo merchant.

use anyhow::{Context, bail};
use serde_json::Value;
use std::io::BufRead;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The demo room every fresh server has.
pub const ROOM: &str = "demo";

/// What the server prints at start.
#[derive(Debug, Default)]
struct Banner {
    addr: Option<SocketAddr>,
    merchant_token: Option<String>,
    host_token: Option<String>,
    rtmp: Option<SocketAddr>,
    demo_stream_key: Option<String>,
}

/// How to start the child beyond the defaults every bench shares.
#[derive(Debug, Default)]
pub struct ServeOptions<'a> {
    /// Built plugins to enable in the demo room (none when absent).
    pub demo_plugins: Option<&'a Path>,
    /// Example plugin sources: their sample configs and the demo catalog (none when
    /// absent, so plugins get `{}` configs and the merchant has no products).
    pub plugin_sources: Option<&'a Path>,
    /// More `serve` arguments.
    pub extra: Vec<std::ffi::OsString>,
}

/// A running `livecart serve`; killed on drop.
pub struct ServerChild {
    child: Child,
    dir: PathBuf,
    pub addr: SocketAddr,
    pub merchant_token: String,
    pub host_token: String,
    /// The RTMP ingest (OBS) address, and the demo room's stream key.
    pub rtmp: Option<SocketAddr>,
    pub demo_stream_key: Option<String>,
    http: reqwest::Client,
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Kills the child if start-up fails before a [`ServerChild`] exists.
struct Starting {
    child: Option<Child>,
    dir: PathBuf,
}

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl ServerChild {
    /// Start `serve` on a fresh data directory and wait for its banner.
    pub async fn start(
        demo_plugins: Option<&Path>,
        quiet_wait: Duration,
    ) -> anyhow::Result<ServerChild> {
        let opts = ServeOptions {
            demo_plugins,
            ..ServeOptions::default()
        };
        Self::start_with(&opts, quiet_wait).await
    }

    /// [`start`](Self::start) with more options.
    pub async fn start_with(
        opts: &ServeOptions<'_>,
        quiet_wait: Duration,
    ) -> anyhow::Result<ServerChild> {
        wait_quiet(quiet_wait).await;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "livecart-bench-ws-{}-{nanos:x}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut starting = Starting {
            child: None,
            dir: dir.clone(),
        };
        let exe = std::env::current_exe().context("locating the livecart binary")?;
        let none = dir.join("none");
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--demo-plugins")
            .arg(opts.demo_plugins.unwrap_or(&none))
            .arg("--plugin-sources")
            .arg(opts.plugin_sources.unwrap_or(&none))
            // Rooms only: the demo stream's transcoding would take a third of a core, and
            // the ingest listeners must not collide with a livecart already running.
            .arg("--no-demo-stream")
            // Every bench client connects from 127.0.0.1: no per-address cap.
            .args(["--max-conns-per-ip", "0"])
            .args([
                "--rtmp-listen",
                "127.0.0.1:0",
                "--rtmps-listen",
                "127.0.0.1:0",
            ])
            .args(&opts.extra)
            .env_remove("LIVECART_AI_URL")
            .env_remove("LIVECART_AI_KEY")
            .env_remove("LIVECART_TOKEN_SECRET")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().context("starting `livecart serve`")?;
        let stdout = child.stdout.take();
        starting.child = Some(child);
        let Some(stdout) = stdout else {
            bail!("no stdout from `livecart serve`");
        };

        // A thread reads the banner, then keeps draining stdout so the child never blocks.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut banner = Banner::default();
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.is_some() {
                    parse_banner_line(&mut banner, &line);
                    // The host token is the last line the bench needs.
                    if banner.addr.is_some()
                        && banner.merchant_token.is_some()
                        && banner.host_token.is_some()
                        && let Some(tx) = tx.take()
                    {
                        let _ = tx.send(std::mem::take(&mut banner));
                    }
                }
            }
        });
        let banner = match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => bail!("`livecart serve` exited before printing its address"),
            Err(_) => bail!("`livecart serve` printed no address within 60 s"),
        };
        let (Some(addr), Some(merchant_token), Some(host_token)) =
            (banner.addr, banner.merchant_token, banner.host_token)
        else {
            bail!("incomplete banner from `livecart serve`");
        };
        if addr.ip() != Ipv4Addr::LOCALHOST {
            bail!("the server listens on {addr}, not 127.0.0.1; refusing to load it");
        }
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()?;
        let Some(child) = starting.child.take() else {
            bail!("lost the server process");
        };
        let server = ServerChild {
            child,
            dir: std::mem::take(&mut starting.dir),
            addr,
            merchant_token,
            host_token,
            rtmp: banner.rtmp,
            demo_stream_key: banner.demo_stream_key,
            http,
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    async fn wait_healthy(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = format!("http://{}/healthz", self.addr);
            if let Ok(r) = self.http.get(url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the server at {} is not healthy after 10 s", self.addr);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's resident set size, KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("no VmRSS in /proc/<pid>/status")
    }

    /// The child's open file descriptors.
    pub fn fds(&self) -> anyhow::Result<usize> {
        let path = format!("/proc/{}/fd", self.pid());
        Ok(std::fs::read_dir(&path)
            .with_context(|| format!("reading {path}"))?
            .count())
    }

    /// A GET without credentials (`/metrics`); the body of a 2xx answer.
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        self.request_text("GET", path, None, false).await
    }

    /// A merchant REST call; the parsed JSON body of a 2xx answer.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let text = self.request_text(method, path, body, true).await?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A call, as the merchant when `merchant`; the body of a 2xx answer.
    async fn request_text(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        merchant: bool,
    ) -> anyhow::Result<String> {
        let url = format!("http://{}{path}", self.addr);
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self.http.request(method.clone(), &url);
        if merchant {
            req = req.bearer_auth(&self.merchant_token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        Ok(text)
    }
}

fn parse_banner_line(banner: &mut Banner, line: &str) {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("room websocket:") {
        banner.addr = rest
            .trim()
            .strip_prefix("ws://")
            .and_then(|r| r.split('/').next())
            .and_then(|a| a.parse().ok());
    } else if let Some(rest) = line.strip_prefix("merchant token:") {
        banner.merchant_token = Some(rest.trim().to_owned());
    } else if let Some(rest) = line.strip_prefix("demo host token:") {
        banner.host_token = Some(rest.trim().to_owned());
    } else if let Some(rest) = line.strip_prefix("OBS ingest:") {
        banner.rtmp = rest
            .trim()
            .strip_prefix("rtmp://")
            .and_then(|r| r.split('/').next())
            .and_then(|a| a.parse().ok());
    } else if let Some(rest) = line.strip_prefix("demo stream key:") {
        banner.demo_stream_key = rest.split_whitespace().next().map(str::to_owned);
    }
}

/// CPU time used by a process, read from `/proc/<pid>/stat` (USER_HZ = 100 ticks/s).
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// Busy and softirq ticks of the whole machine, from the first line of `/proc/stat`.
pub fn system_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    (busy, at(5) + at(6))
}

/// Wait, at most `max`, until the machine is nearly idle (under 0.2 busy cores over a
/// second), so other work (e.g. a build) does not share the cores with the measurement.
/// Returns whether it got quiet.
pub async fn wait_quiet(max: Duration) -> bool {
    let start = Instant::now();
    let mut warned = false;
    loop {
        let (b0, _) = system_ticks();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (b1, _) = system_ticks();
        let cores = b1.saturating_sub(b0) as f64 / 100.0;
        if cores < 0.2 {
            return true;
        }
        if start.elapsed() >= max {
            eprintln!(
                "warning: the machine is still busy ({cores:.2} cores used by others); measuring anyway"
            );
            return false;
        }
        if !warned {
            eprintln!("waiting for the machine to go quiet ({cores:.2} cores busy)...");
            warned = true;
        }
    }
}

/// CPU used over a span, in cores: the server, this load generator, softirq (loopback
/// TCP work the kernel may not charge to either process) and everything else.
pub struct CpuSpan {
    server_pid: u32,
    server0: f64,
    client0: f64,
    system0: (u64, u64),
    at: Instant,
}

impl CpuSpan {
    pub fn start(server_pid: u32) -> Self {
        CpuSpan {
            server_pid,
            server0: cpu_seconds(server_pid),
            client0: cpu_seconds(std::process::id()),
            system0: system_ticks(),
            at: Instant::now(),
        }
    }

    /// "server / bench / softirq / other" in cores.
    pub fn finish(&self) -> String {
        let secs = self.at.elapsed().as_secs_f64().max(1e-3);
        let server = (cpu_seconds(self.server_pid) - self.server0) / secs;
        let client = (cpu_seconds(std::process::id()) - self.client0) / secs;
        let (busy, si) = system_ticks();
        let busy = busy.saturating_sub(self.system0.0) as f64 / 100.0 / secs;
        let si = si.saturating_sub(self.system0.1) as f64 / 100.0 / secs;
        let other = (busy - server - client - si).max(0.0);
        format!("{server:.2} / {client:.2} / {si:.2} / {other:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serve_banner_is_understood() {
        let mut b = Banner::default();
        for line in [
            "livecart is running",
            "  room websocket:  ws://127.0.0.1:4321/ws   (demo room: demo)",
            "  OBS ingest:      rtmp://127.0.0.1:1935/live  (RTMPS: rtmps://127.0.0.1:1936/live)",
            "  demo stream key: sk_1  (publish the demo room from OBS with it)",
            "  merchant token:  mt_abc",
            "  demo host token: eyJ.x.y",
        ] {
            parse_banner_line(&mut b, line);
        }
        assert_eq!(b.addr, "127.0.0.1:4321".parse().ok());
        assert_eq!(b.merchant_token.as_deref(), Some("mt_abc"));
        assert_eq!(b.host_token.as_deref(), Some("eyJ.x.y"));
        assert_eq!(b.rtmp, "127.0.0.1:1935".parse().ok());
        assert_eq!(b.demo_stream_key.as_deref(), Some("sk_1"));
    }

    #[test]
    fn cpu_time_of_this_process_is_readable() {
        assert!(cpu_seconds(std::process::id()) >= 0.0);
    }
}
