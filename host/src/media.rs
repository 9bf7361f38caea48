//! Media in the host: wires `livecart-media` (ingest servers, stream hub, packager,
//! recorder, origin) to the store's stream keys and to the HTTP router, and exposes each
//! room's media status to the REST API.

use crate::store::Store;
use anyhow::Context;
use clap::Args;
use livecart_media::hub::{StreamHub, TakeoverPolicy};
use livecart_media::ingest::rtsp::{RtspSource, RtspStatus};
use livecart_media::ingest::{KeyRejection, StreamKeys, demo, rtmp, tls};
use livecart_media::meter::IngestStats;
use livecart_media::origin::whep::{self, SessionView, Whep, WhepConfig};
use livecart_media::origin::{MpdOptions, Origin, Recorder};
use livecart_media::package::state::{MediaState, MediaStatus};
use livecart_media::pipeline::ladder::LadderConfig;
use livecart_media::pipeline::{self, Packager};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Media options of `livecart serve`.
#[derive(Debug, Clone, Args)]
pub struct MediaArgs {
    /// RTMP ingest address (OBS: rtmp://HOST:1935/live, stream key = the room's key).
    #[arg(long, default_value = "127.0.0.1:1935", env = "LIVECART_RTMP_LISTEN")]
    pub rtmp_listen: SocketAddr,
    /// RTMPS ingest address.
    #[arg(long, default_value = "127.0.0.1:1936", env = "LIVECART_RTMPS_LISTEN")]
    pub rtmps_listen: SocketAddr,
    /// TLS certificate (PEM) for RTMPS. Default: a self-signed development certificate
    /// generated once in the data directory.
    #[arg(long, env = "LIVECART_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for RTMPS.
    #[arg(long, env = "LIVECART_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// What a second publisher to a live room gets: refused, or it replaces the first.
    #[arg(long, default_value = "refuse", value_parser = parse_takeover)]
    pub takeover: TakeoverPolicy,
    /// Pull a room's video from an RTSP camera: ROOM=rtsp://user:pass@host/path. Repeatable.
    #[arg(long = "rtsp-pull", value_parser = parse_rtsp)]
    pub rtsp_pull: Vec<RtspSource>,
    /// The transcoding ladder, as a JSON file (see docs/media.md). Default: 720p + 360p.
    #[arg(long, env = "LIVECART_LADDER")]
    pub ladder: Option<PathBuf>,
    /// Live latency players aim for (the MPD's ServiceDescription), in ms.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(500..=10_000))]
    pub target_latency_ms: u32,
    /// Start `live.flv` viewers at the next keyframe instead of the current GOP: lower
    /// latency (by up to a segment), but a black screen until that keyframe.
    #[arg(long)]
    pub no_flv_gop_cache: bool,
    /// Keep recordings of ended lives this many hours.
    #[arg(long, default_value_t = 72)]
    pub retention_hours: u64,
    /// Do not run the built-in demo stream in the demo room.
    #[arg(long)]
    pub no_demo_stream: bool,
    /// The URL other nodes reach this node's HTTP listener at, to relay `/media` of the
    /// rooms it packages (several nodes on one bus). Default: `http://LISTEN` when the
    /// listen address is a concrete one, else `http://HOSTNAME:PORT`.
    #[arg(long, env = "LIVECART_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// Address of the WebRTC (WHEP) sessions' UDP sockets, and their ICE host candidate:
    /// an address viewers reach (the node's public one in production).
    #[arg(long, default_value = "127.0.0.1", env = "LIVECART_WEBRTC_IP")]
    pub webrtc_ip: std::net::IpAddr,
    /// WebRTC sessions this node serves at once; more are answered 503.
    #[arg(long, default_value_t = 2000)]
    pub webrtc_max_sessions: usize,
    /// Size of the demo stream, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    pub demo_size: (u32, u32),
}

fn parse_takeover(s: &str) -> Result<TakeoverPolicy, String> {
    match s {
        "refuse" => Ok(TakeoverPolicy::Refuse),
        "replace" => Ok(TakeoverPolicy::Replace),
        _ => Err("expected refuse or replace".into()),
    }
}

fn parse_rtsp(s: &str) -> Result<RtspSource, String> {
    let (room, url) = s.split_once('=').ok_or("expected ROOM=rtsp://…")?;
    Ok(RtspSource {
        room: room.to_string(),
        url: url.to_string(),
        username: None,
        password: None,
        transport: Default::default(),
    })
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once('x').ok_or("expected WIDTHxHEIGHT")?;
    let w: u32 = w.parse().map_err(|_| "bad width")?;
    let h: u32 = h.parse().map_err(|_| "bad height")?;
    if !(16..=3840).contains(&w) || !(16..=2160).contains(&h) {
        return Err("size out of range".into());
    }
    Ok((w, h))
}

/// Stream keys are room credentials kept by the store. A key of a room whose merchant the
/// operator has disabled is refused for every new publish (a publish already running goes
/// on until it ends). Rooms of a merchant id without a merchant row (none are created
/// today) are not refused.
struct StoreKeys(Arc<dyn Store>);

impl StreamKeys for StoreKeys {
    fn room_for_key(&self, key: &str) -> Result<String, KeyRejection> {
        let lookup = |e: crate::store::StoreError| KeyRejection::Lookup(e.to_string());
        let room = self
            .0
            .room_by_stream_key(key)
            .map_err(lookup)?
            .ok_or(KeyRejection::UnknownKey)?;
        match self.0.merchant(&room.merchant_id).map_err(lookup)? {
            Some(m) if !m.is_enabled() => Err(KeyRejection::RoomClosed(
                room.id,
                format!("merchant {} is disabled", m.id),
            )),
            _ => Ok(room.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[test]
    fn a_disabled_merchants_stream_key_is_refused_until_it_is_enabled_again() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().expect("store"));
        let (m, _) = store.create_merchant("Shop").expect("merchant");
        let room = store.create_room(&m.id, "Live").expect("room");
        let keys = StoreKeys(store.clone());
        assert_eq!(
            keys.room_for_key(&room.stream_key).ok(),
            Some(room.id.clone())
        );
        store.set_merchant_disabled(&m.id, true).expect("disable");
        match keys.room_for_key(&room.stream_key) {
            Err(e @ KeyRejection::RoomClosed(..)) => {
                assert!(e.to_string().contains("is disabled"), "{e}")
            }
            other => panic!("expected RoomClosed, got {other:?}"),
        }
        store.set_merchant_disabled(&m.id, false).expect("enable");
        assert_eq!(keys.room_for_key(&room.stream_key).ok(), Some(room.id));
        assert!(matches!(
            keys.room_for_key("sk_unknown"),
            Err(KeyRejection::UnknownKey)
        ));
    }
}

/// What the REST API and the router need of media.
pub struct Media {
    pub state: Arc<MediaState>,
    pub hub: StreamHub,
    rtsp: Mutex<HashMap<String, watch::Receiver<RtspStatus>>>,
    origin: Option<Origin>,
    /// WebRTC playback (WHEP), beside the origin.
    whep: Option<Arc<Whep>>,
    ingest: Option<Ingest>,
    /// Where other nodes reach this node's `/media` (set once by `serve`).
    advertise: std::sync::OnceLock<String>,
}

/// The publish URLs for OBS, without the stream key. A host bound to every interface
/// (`0.0.0.0`) is shown as such: clients put in the host name they reached us by.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ingest {
    pub rtmp: String,
    pub rtmps: String,
}

/// A room's media status as the API shows it.
#[derive(Debug, serde::Serialize)]
pub struct RoomMedia {
    #[serde(flatten)]
    pub status: MediaStatus,
    /// The live MPD, HLS playlist and HTTP-FLV stream, relative to the host.
    pub dash: String,
    pub hls: String,
    pub flv: String,
    /// WebRTC playback: `POST` an SDP offer here (WHEP).
    pub whep: String,
    /// The live's WebRTC sessions on this node.
    pub webrtc_sessions: Vec<SessionView>,
    /// Why WebRTC cannot play this live (e.g. a source with B-frames passed through);
    /// null when it can or when the room is not live.
    pub webrtc_off: Option<String>,
    pub rtsp: Option<RtspStatus>,
    /// Where OBS publishes (null when media is disabled).
    pub ingest: Option<Ingest>,
    /// The live publisher's bitrate and speed over the last few seconds (null when not
    /// live).
    pub publisher: Option<IngestStats>,
    /// What the merchant should know now, e.g. that the publisher sends slower than
    /// real time.
    pub warning: Option<String>,
}

impl Media {
    /// Media without servers: rooms work, nothing is ingested (tests of other layers).
    pub fn disabled() -> Arc<Media> {
        Arc::new(Media {
            state: MediaState::new(),
            hub: StreamHub::new(),
            rtsp: Mutex::new(HashMap::new()),
            origin: None,
            whep: None,
            ingest: None,
            advertise: std::sync::OnceLock::new(),
        })
    }

    pub fn room(&self, room: &str) -> RoomMedia {
        let rtsp = self
            .rtsp
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(room)
            .map(|rx| rx.borrow().clone());
        let publisher = self.hub.live(room).map(|s| s.ingest());
        let warning = publisher.as_ref().filter(|p| p.slow).map(|p| {
            format!(
                "the publisher sends slower than real time ({:.0} %): viewers will stall; lower its bitrate or check its uplink",
                p.speed.unwrap_or(0.0) * 100.0
            )
        });
        RoomMedia {
            status: self.state.status(room),
            dash: format!("/media/{room}/live.mpd"),
            hls: format!("/media/{room}/master.m3u8"),
            flv: format!("/media/{room}/live.flv"),
            whep: format!("/media/{room}/whep"),
            webrtc_sessions: self
                .whep
                .as_ref()
                .map_or_else(Vec::new, |w| w.sessions(room)),
            webrtc_off: self.whep.as_ref().and_then(|w| w.unavailable(room)),
            rtsp,
            ingest: self.ingest.clone(),
            publisher,
            warning,
        }
    }

    /// End ingest for a drain: refuse new publishers, end every live session so its
    /// period closes, and wait until packaging has ended every period and the recorder
    /// has finished every recording. Stops the demo stream first. Bounded by the caller.
    pub async fn drain(&self, demo: Option<demo::Demo>) {
        drop(demo);
        let ended = self.hub.close();
        tracing::info!(ended, "ingest closed for the drain");
        let recording = || self.origin.as_ref().map_or(0, |o| o.recordings.recording());
        loop {
            let live = self.state.live_rooms().len();
            let recording = recording();
            if live == 0 && recording == 0 {
                return;
            }
            tracing::debug!(live, recording, "waiting for lives to end");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Where other nodes reach this node's `/media`: announced on the room bus for each
    /// room this node packages. Set once; later calls change nothing.
    pub fn set_advertise(&self, url: String) {
        let _ = self.advertise.set(url);
    }

    pub fn advertised(&self) -> Option<&str> {
        self.advertise.get().map(String::as_str)
    }

    /// Whether this node packages `room`'s live video now.
    pub fn is_live_here(&self, room: &str) -> bool {
        self.state.live(room).is_some()
    }

    /// The `/media` routes (empty when media is disabled).
    pub fn router(&self) -> axum::Router {
        let origin = match &self.origin {
            Some(o) => livecart_media::origin::router(o.clone()),
            None => axum::Router::new(),
        };
        match &self.whep {
            Some(w) => origin.merge(whep::router(w.clone())),
            None => origin,
        }
    }
}

/// Rooms stamp events with the media time being ingested now: the wall-clock time since
/// the live's availabilityStartTime, which is the ingest time of its first segment's first
/// frame, so media time 0 is presentation time 0 of the live's MPD Period.
impl crate::room::timeline::MediaTimeline for Media {
    fn add_event(&self, room: &str, event: crate::room::timeline::InBandEvent) {
        let timed = livecart_media::package::events::TimedEvent {
            id: event.id,
            media_ms: event.at.ms,
            duration_ms: event.duration_ms,
            payload: event.payload,
        };
        if let Err(e) = self.state.add_event(room, &event.at.period, timed) {
            tracing::warn!(room, "event not put in-band: {e}");
        }
    }

    fn now(&self, room: &str) -> Option<crate::room::timeline::MediaTime> {
        let period = self.state.live(room)?;
        let ast = period.availability_start()?;
        let ms = std::time::SystemTime::now()
            .duration_since(ast)
            .map_or(0, |d| d.as_millis() as u64);
        Some(crate::room::timeline::MediaTime {
            period: period.id.clone(),
            ms,
        })
    }
}

/// Make each room's broadcast status follow its video: live when a publish starts
/// packaging, ended when it stops. Runs for the life of the process.
///
/// With an advertised URL, also announces on the room bus that this node packages the
/// room while it is live here, so other nodes relay its `/media` here.
pub fn follow_lives(media: &Media, rooms: Arc<crate::room::Rooms>) {
    let advertise = media.advertised().map(str::to_owned);
    use crate::store::RoomStatus;
    use tokio::sync::broadcast::error::RecvError;
    let mut changes = media.state.changes();
    // Lives that started before we listened (the demo stream starts with the host).
    let already: Vec<_> = media.state.live_rooms();
    tokio::spawn(async move {
        let apply = |room: String, live: bool| {
            let rooms = rooms.clone();
            let status = if live {
                RoomStatus::Live
            } else {
                RoomStatus::Ended
            };
            if let Some(url) = &advertise {
                rooms.bus().announce_media(&room, live.then(|| url.clone()));
            }
            tokio::task::spawn_blocking(move || {
                if let Err(e) = rooms.set_status(&room, status) {
                    tracing::warn!(room, "room status not updated from its media: {e}");
                }
            })
        };
        for (room, _period) in already {
            let _ = apply(room, true).await;
        }
        loop {
            match changes.recv().await {
                Ok(change) => {
                    let _ = apply(change.room, change.live).await;
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "room status fell behind media changes");
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}

/// Addresses the media servers ended up on.
#[derive(Debug, Clone)]
pub struct MediaAddrs {
    pub rtmp: SocketAddr,
    pub rtmps: SocketAddr,
}

/// Start ingest, packaging and recording. Must run inside the tokio runtime.
pub async fn start(
    args: &MediaArgs,
    data_dir: &Path,
    store: Arc<dyn Store>,
    demo_room: Option<&str>,
) -> anyhow::Result<(Arc<Media>, MediaAddrs, Option<demo::Demo>)> {
    pipeline::init().context("initialising GStreamer (is libgstreamer1.0 installed?)")?;
    let ladder: LadderConfig = match &args.ladder {
        Some(path) => serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("parsing the ladder {}", path.display()))?,
        None => LadderConfig::default(),
    };
    let hub = StreamHub::new();
    let state = MediaState::new();
    let recorder = Recorder::new(
        data_dir.join("recordings"),
        Duration::from_secs(args.retention_hours * 3600),
    )
    .context("opening the recordings directory")?;
    recorder.spawn_purger();
    let on_period = {
        let recorder = recorder.clone();
        let handle = tokio::runtime::Handle::current();
        Arc::new(move |period| {
            let _guard = handle.enter();
            recorder.record(period);
        })
    };
    let demo_ladder = demo_ladder(&ladder);
    let demo_room_id = demo_room.map(str::to_string);
    Packager {
        hub: hub.clone(),
        state: state.clone(),
        ladder: Arc::new(move |room| {
            if Some(room) == demo_room_id.as_deref() {
                demo_ladder.clone()
            } else {
                ladder.clone()
            }
        }),
        on_period: Some(on_period),
        latency: None,
    }
    .spawn();

    let keys: Arc<dyn StreamKeys> = Arc::new(StoreKeys(store.clone()));
    let rtmp_listener = tokio::net::TcpListener::bind(args.rtmp_listen)
        .await
        .with_context(|| format!("binding RTMP on {}", args.rtmp_listen))?;
    let rtmps_listener = tokio::net::TcpListener::bind(args.rtmps_listen)
        .await
        .with_context(|| format!("binding RTMPS on {}", args.rtmps_listen))?;
    let addrs = MediaAddrs {
        rtmp: rtmp_listener.local_addr()?,
        rtmps: rtmps_listener.local_addr()?,
    };
    let (cert, key) = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => tls::dev_cert(
            &data_dir.join("tls"),
            &["localhost".into(), "127.0.0.1".into()],
        )
        .context("generating the development TLS certificate")?,
    };
    let acceptor = tls::acceptor_from_pem(&cert, &key).context("loading the RTMPS certificate")?;
    // Players on the ingest ports (`rtmp://host/live/{room}`) get the packaged rungs.
    let play: rtmp::Play = Some(Arc::new(livecart_media::origin::flv::FlvPlayback {
        state: state.clone(),
        gop_cache: !args.no_flv_gop_cache,
    }));
    tokio::spawn(rtmp::serve(
        rtmp_listener,
        hub.clone(),
        keys.clone(),
        args.takeover,
        play.clone(),
    ));
    tokio::spawn(rtmp::serve_tls(
        rtmps_listener,
        acceptor,
        hub.clone(),
        keys,
        args.takeover,
        play,
    ));

    let mut rtsp = HashMap::new();
    for source in &args.rtsp_pull {
        let (tx, rx) = watch::channel(RtspStatus::default());
        // Pulls run for the life of the process; the stop sender is kept alive with it.
        let (stop_tx, stop_rx) = watch::channel(false);
        let (hub, policy, source) = (hub.clone(), args.takeover, source.clone());
        rtsp.insert(source.room.clone(), rx);
        tokio::spawn(async move {
            livecart_media::ingest::rtsp::run(source, hub, policy, stop_rx, tx).await;
            drop(stop_tx);
        });
    }

    let demo = match demo_room {
        Some(room) if !args.no_demo_stream => {
            let config = demo::DemoConfig {
                width: args.demo_size.0,
                height: args.demo_size.1,
                ..demo::DemoConfig::default()
            };
            Some(demo::start(&hub, room, &config).context("starting the demo stream")?)
        }
        _ => None,
    };
    let origin = Origin {
        state: state.clone(),
        recordings: recorder,
        opts: MpdOptions {
            target_latency_ms: args.target_latency_ms,
            min_latency_ms: args.target_latency_ms * 2 / 3,
            max_latency_ms: (args.target_latency_ms * 3).max(5_000),
            flv_gop_cache: !args.no_flv_gop_cache,
            ..MpdOptions::default()
        },
    };
    let whep = {
        let store = store.clone();
        Whep::new(
            state.clone(),
            WhepConfig {
                ip: args.webrtc_ip,
                max_sessions: args.webrtc_max_sessions,
            },
            Arc::new(move |room| matches!(store.room(room), Ok(Some(_)))),
        )
    };
    let media = Arc::new(Media {
        state,
        hub,
        rtsp: Mutex::new(rtsp),
        origin: Some(origin),
        whep: Some(whep),
        ingest: Some(Ingest {
            rtmp: format!("rtmp://{}/live", addrs.rtmp),
            rtmps: format!("rtmps://{}/live", addrs.rtmps),
        }),
        advertise: std::sync::OnceLock::new(),
    });
    Ok((media, addrs, demo))
}

/// The demo source encodes at a 1 s GOP, so its top rung can pass through: only the lower
/// rungs cost an encode.
fn demo_ladder(base: &LadderConfig) -> LadderConfig {
    LadderConfig {
        passthrough: true,
        source_kbps: 2500,
        ..base.clone()
    }
}
