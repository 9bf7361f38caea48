//! Real peers for the media tests: an ffmpeg publisher and GStreamer's RTSP server (via
//! `tests/support/rtsp_server.py`), each killed when the test lets go of it.
#![allow(dead_code)]

pub mod ring;
pub mod stack;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A two-rung ladder (180p and 90p, x264 ultrafast) small enough for the tests.
pub fn small_ladder(passthrough: bool) -> livecart_media::pipeline::ladder::LadderConfig {
    use livecart_media::pipeline::ladder::{LadderConfig, Rung};
    let rung = |height, bitrate_kbps| Rung {
        height,
        width: None,
        bitrate_kbps,
    };
    LadderConfig {
        rungs: vec![rung(180, 300), rung(90, 100)],
        passthrough,
        preset: "ultrafast".into(),
        ..LadderConfig::default()
    }
}

pub const PYTHON: &str = "/usr/bin/python3";

/// A child process that is killed when the test lets go of it (also on panic).
pub struct ChildGuard {
    pub child: Child,
    pub log: PathBuf,
    pub started: Instant,
}

impl ChildGuard {
    /// Wait for the process to exit, polling so the runtime is not blocked.
    pub async fn wait(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "ffmpeg still running after {limit:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ffmpeg` publishing `secs` seconds of 320x180@30 H.264 (1 s GOP) + 48 kHz mono AAC to `url`.
pub fn publish(url: &str, secs: u32, logs: &Path) -> ChildGuard {
    publish_sized(url, secs, "320x180", logs)
}

/// [`publish`] at another picture size (`WxH`), e.g. a portrait phone's.
pub fn publish_sized(url: &str, secs: u32, size: &str, logs: &Path) -> ChildGuard {
    publish_as(url, secs, size, &[], logs)
}

/// [`publish`] with more encoder arguments, which override the defaults
/// (`["-c:a", "libmp3lame"]`, `["-pix_fmt", "yuv444p"]`).
pub fn publish_as(url: &str, secs: u32, size: &str, extra: &[&str], logs: &Path) -> ChildGuard {
    let video = format!("testsrc2=size={size}:rate=30");
    let mut args = vec!["-re", "-f", "lavfi", "-i", &video];
    args.extend(["-re", "-f", "lavfi", "-i", SINE]);
    args.extend([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
    ]);
    args.extend([
        "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
    ]);
    args.extend(extra);
    ffmpeg(&args, url, secs, logs)
}

/// `ffmpeg` publishing `secs` seconds of 48 kHz mono AAC and no video (a radio-style live).
pub fn publish_audio_only(url: &str, secs: u32, logs: &Path) -> ChildGuard {
    let args = [
        "-re", "-f", "lavfi", "-i", SINE, "-c:a", "aac", "-b:a", "64k",
    ];
    ffmpeg(&args, url, secs, logs)
}

const SINE: &str = "sine=frequency=440:sample_rate=48000";

/// `ffmpeg` with `args` (inputs and encoders) for `secs` seconds to the FLV `url`.
fn ffmpeg(args: &[&str], url: &str, secs: u32, logs: &Path) -> ChildGuard {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let log = logs.join(format!("ffmpeg-{n}.log"));
    let stderr = std::fs::File::create(&log).unwrap();
    let child = Command::new("/usr/bin/ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "warning"])
        .args(args)
        .args(["-t", &secs.to_string(), "-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    ChildGuard {
        child,
        log,
        started: Instant::now(),
    }
}

/// The RTSP server process; killed when dropped (also while a failing test unwinds).
pub struct Server {
    child: Child,
    /// The script exits when its stdin closes, so it never outlives the test process.
    _stdin: ChildStdin,
}

impl Server {
    pub fn start(port: u16, mount: &str, creds: Option<(&str, &str)>) -> Server {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/rtsp_server.py");
        let mut cmd = Command::new(PYTHON);
        cmd.arg(script).arg(port.to_string()).arg(mount);
        if let Some((user, password)) = creds {
            cmd.arg(user).arg(password);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn /usr/bin/python3 tests/support/rtsp_server.py");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let server = Server {
            child,
            _stdin: stdin,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim() == "READY" {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("rtsp_server.py did not print READY");
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
