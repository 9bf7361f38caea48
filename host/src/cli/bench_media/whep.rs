//! `bench media whep`: what WebRTC egress costs the server, per viewer. N headless WHEP
//! clients (str0m, in this process, each on its own UDP socket) play a room of a running
//! `livecart serve` (`--base`, its process `--pid`): each POSTs a recvonly H.264 + Opus
//! offer with a data channel, answers ICE, DTLS and SRTP, and counts the media it gets.
//! Once all are connected the server's CPU (from `/proc/PID`) and the bytes delivered are
//! measured over `--seconds`; then every client DELETEs its session.

use super::measure::CpuSpan;
use anyhow::{Context, bail};
use clap::Args;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

#[derive(Debug, Args)]
pub struct WhepArgs {
    /// The running server, e.g. http://127.0.0.1:18601.
    #[arg(long)]
    base: String,
    /// Its process id (its CPU is what is measured).
    #[arg(long)]
    pid: u32,
    #[arg(long, default_value = "demo")]
    room: String,
    /// Viewer counts to measure, one after the other.
    #[arg(long, value_delimiter = ',', default_value = "25,100")]
    viewers: Vec<usize>,
    /// Seconds measured at each count.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
}

/// What one client saw.
#[derive(Default)]
struct Counters {
    connected: AtomicBool,
    bytes: AtomicU64,
    frames: AtomicU64,
}

pub async fn run(args: &WhepArgs) -> anyhow::Result<bool> {
    let http = reqwest::Client::new();
    let url = format!(
        "{}/media/{}/whep",
        args.base.trim_end_matches('/'),
        args.room
    );
    println!(
        "| viewers | connected | delivered | server CPU | viewers per core | Mb/s per core | clients' CPU |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &n in &args.viewers {
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for _ in 0..n {
            let c = Arc::new(Counters::default());
            let (stop, http, url, c2) = (stop.clone(), http.clone(), url.clone(), c.clone());
            clients.push((
                c,
                tokio::spawn(async move { client(&http, &url, c2, stop).await }),
            ));
            // Joins spread over time, as viewers arrive.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while clients
            .iter()
            .any(|(c, _)| !c.connected.load(Ordering::Relaxed))
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Settle: the joins' GOP bursts and DTLS handshakes are not the steady state.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let connected = clients
            .iter()
            .filter(|(c, _)| c.connected.load(Ordering::Relaxed))
            .count();
        let bytes0: u64 = clients
            .iter()
            .map(|(c, _)| c.bytes.load(Ordering::Relaxed))
            .sum();
        let span = CpuSpan::start(Some(args.pid));
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        let cores = span.finish();
        let bytes: u64 = clients
            .iter()
            .map(|(c, _)| c.bytes.load(Ordering::Relaxed))
            .sum();
        let mbps = (bytes - bytes0) as f64 * 8.0 / cores.secs / 1e6;
        let frames: u64 = clients
            .iter()
            .map(|(c, _)| c.frames.load(Ordering::Relaxed))
            .sum();
        stop.store(true, Ordering::Relaxed);
        for (_, h) in clients {
            let _ = h.await;
        }
        if n > 0 && frames == 0 {
            bail!("no client received a frame: is {url} live?");
        }
        let per_core = |x: f64| {
            if cores.other > 0.0 {
                format!("{:.0}", x / cores.other)
            } else {
                "–".into()
            }
        };
        println!(
            "| {n} | {connected} | {mbps:.1} Mb/s | {:.2} cores | {} | {} | {:.2} cores |",
            cores.other,
            per_core(connected as f64),
            per_core(mbps),
            cores.own
        );
    }
    Ok(true)
}

/// One viewer: offer, answer, then receive until `stop`; DELETE at the end.
async fn client(
    http: &reqwest::Client,
    url: &str,
    c: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let local: SocketAddr = socket.local_addr()?;
    static CRYPTO: std::sync::OnceLock<Arc<str0m::config::CryptoProvider>> =
        std::sync::OnceLock::new();
    let crypto = CRYPTO
        .get_or_init(|| Arc::new(str0m::crypto::from_feature_flags()))
        .clone();
    let mut rtc: Rtc = RtcConfig::new()
        .set_crypto_provider(crypto)
        .clear_codecs()
        .enable_h264(true)
        .enable_opus(true, false)
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp")?);
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    api.add_channel("livecart".into());
    let (offer, pending) = api.apply().context("an offer")?;
    let res = http
        .post(url)
        .header("content-type", "application/sdp")
        .body(offer.to_sdp_string())
        .send()
        .await?;
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = res.text().await?;
    if status.as_u16() != 201 {
        bail!("WHEP answered {status}: {text}");
    }
    rtc.sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&text)?)?;
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) && rtc.is_alive() {
        let timeout = loop {
            match rtc.poll_output()? {
                Output::Timeout(t) => break t,
                Output::Transmit(t) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Output::Event(Event::Connected) => c.connected.store(true, Ordering::Relaxed),
                Output::Event(Event::MediaData(d)) => {
                    c.bytes.fetch_add(d.data.len() as u64, Ordering::Relaxed);
                    if d.params.spec().codec.is_video() {
                        c.frames.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Output::Event(_) => {}
            }
        };
        let wait = timeout
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let (n, source) = r?;
                if let Ok(contents) = buf[..n].try_into() {
                    rtc.handle_input(Input::Receive(Instant::now(), Receive {
                        proto: Protocol::Udp, source, destination: local, contents,
                    }))?;
                }
            }
            _ = tokio::time::sleep(wait) => rtc.handle_input(Input::Timeout(Instant::now()))?,
        }
    }
    if let Some(loc) = location {
        let base = url.split("/media/").next().unwrap_or_default();
        let _ = http.delete(format!("{base}{loc}")).send().await;
    }
    Ok(())
}
