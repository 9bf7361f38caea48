//! The origin of `bench media serve --split` as its own process: `--server-only` runs the
//! hub, packager, RTMP ingest and origin routes and prints their URLs; the parent starts
//! it, reads them, publishes to it and measures its CPU from `/proc/<pid>/stat`.

use super::serve::{ladder, runtime};
use super::stack::{ChildGuard, ROOM, Stack, TempDir};
use anyhow::Context;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `http://host:port/path` → (address, path).
pub async fn split_url(url: &str) -> anyhow::Result<(SocketAddr, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url}: only http:// URLs"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = tokio::net::lookup_host(host)
        .await
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    Ok((addr, format!("/{path}")))
}

/// Start `bench media serve --server-only` and read its RTMP and MPD URLs.
pub async fn spawn_origin() -> anyhow::Result<(ChildGuard, String, String)> {
    let exe = std::env::current_exe().context("locating the livecart binary")?;
    let mut child = Command::new(exe)
        .args(["bench", "media", "serve", "--server-only"])
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the origin process")?;
    let stdout = child.stdout.take();
    let guard = ChildGuard(child);
    let stdout = stdout.context("no stdout from the origin process")?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let (mut rtmp, mut mpd, mut tx) = (None, None, Some(tx));
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(v) = line.strip_prefix("rtmp: ") {
                rtmp = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("mpd: ") {
                mpd = Some(v.to_string());
            }
            if let (Some(r), Some(m)) = (&rtmp, &mpd)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send((r.clone(), m.clone()));
            }
        }
    });
    let (rtmp, mpd) = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .context("the origin process printed no addresses in 30 s")?
        .context("the origin process exited early")?;
    Ok((guard, rtmp, mpd))
}

/// The `--server-only` process: origin + ingest until stdin closes.
pub fn server_only() -> anyhow::Result<bool> {
    runtime("srv-worker")?.block_on(async {
        let dir = TempDir::new("origin")?;
        let mut stack = Stack::start(ladder(), None).await?;
        let http = stack.serve_origin(&dir.0).await?;
        println!("rtmp: {}", stack.rtmp_url());
        println!("mpd: http://{http}/media/{ROOM}/live.mpd");
        std::io::Write::flush(&mut std::io::stdout())?;
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
            }
        })
        .await?;
        Ok(true)
    })
}
