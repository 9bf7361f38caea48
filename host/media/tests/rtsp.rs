//! RTSP pull ingest against a real RTSP server (GStreamer's rtsp-server, driven by
//! `tests/support/rtsp_server.py` under Debian's /usr/bin/python3): a session starts with the
//! stream's parameters and carries frames, a server loss ends it and is retried with backoff,
//! a restarted server is picked up again, wrong credentials are reported, and `stop` ends
//! the task.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, free_port};
use livecart_media::hub::{Session, StreamHub, TakeoverPolicy, TrackKind};
use livecart_media::ingest::rtsp::{self, RtspSource, RtspStatus, RtspTransport};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;

struct Puller {
    stop: watch::Sender<bool>,
    status: watch::Receiver<RtspStatus>,
    task: JoinHandle<()>,
}

impl Puller {
    fn start(hub: &StreamHub, room: &str, url: String, creds: Option<(&str, &str)>) -> Puller {
        Puller::start_with(hub, room, url, creds, RtspTransport::Tcp)
    }

    fn start_with(
        hub: &StreamHub,
        room: &str,
        url: String,
        creds: Option<(&str, &str)>,
        transport: RtspTransport,
    ) -> Puller {
        let source = RtspSource {
            room: room.into(),
            url,
            username: creds.map(|c| c.0.into()),
            password: creds.map(|c| c.1.into()),
            transport,
        };
        let (stop, stop_rx) = watch::channel(false);
        let (status_tx, status) = watch::channel(RtspStatus::default());
        let task = tokio::spawn(rtsp::run(
            source,
            hub.clone(),
            TakeoverPolicy::Refuse,
            stop_rx,
            status_tx,
        ));
        Puller { stop, status, task }
    }

    async fn wait_status(&mut self, what: &str, f: impl FnMut(&RtspStatus) -> bool) -> RtspStatus {
        let waited = timeout(Duration::from_secs(10), self.status.wait_for(f))
            .await
            .map(|r| r.map(|s| s.clone()));
        match waited {
            Ok(Ok(s)) => s,
            _ => panic!("status never became {what}: {:?}", *self.status.borrow()),
        }
    }

    /// Sets `stop`; `run` must return promptly.
    async fn stop(self) -> RtspStatus {
        self.stop.send(true).unwrap();
        timeout(Duration::from_secs(5), self.task)
            .await
            .expect("run() returns after stop")
            .unwrap();
        self.status.borrow().clone()
    }
}

async fn next_session(watch: &mut broadcast::Receiver<Arc<Session>>) -> Arc<Session> {
    timeout(Duration::from_secs(10), watch.recv())
        .await
        .expect("a hub session starts")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_frames_and_reconnects_after_server_loss() {
    let port = free_port();
    let url = format!("rtsp://127.0.0.1:{port}/cam");
    let server = Server::start(port, "/cam", None);
    let hub = StreamHub::new();
    let mut sessions = hub.watch();
    let mut puller = Puller::start(&hub, "room1", url.clone(), None);

    let session = next_session(&mut sessions).await;
    assert_eq!(session.room, "room1");
    assert_eq!(session.source, format!("rtsp {url}"));
    let video = session.info.video.clone().expect("video params");
    assert_eq!((video.width, video.height), (320, 180));
    assert_eq!(video.avcc.first(), Some(&1), "an avcC record");
    let audio = session.info.audio.clone().expect("audio params");
    assert_eq!((audio.sample_rate, audio.channels), (48_000, 1));
    assert!(!audio.asc.is_empty());
    let status = puller.wait_status("connected", |s| s.connected).await;
    assert_eq!(status.attempts, 1);

    let mut sub = session.subscribe();
    let (mut video_frames, mut keyframes, mut audio_frames) = (0, 0, 0);
    let (mut last_video, mut last_audio) = (-1i64, -1i64);
    while video_frames < 60 || audio_frames < 20 {
        let f = timeout(Duration::from_secs(5), sub.recv())
            .await
            .expect("frames keep coming")
            .expect("session still live");
        assert!(f.pts >= 0 && f.dts == f.pts, "{f:?}");
        match f.track {
            TrackKind::Video => {
                if video_frames == 0 {
                    assert!(f.keyframe, "a subscription starts at a keyframe");
                }
                assert!(
                    f.pts > last_video,
                    "video pts increase: {} after {last_video}",
                    f.pts
                );
                // AVC form: the first NAL unit's 4-byte length fits in the access unit.
                let len = u32::from_be_bytes(f.data[..4].try_into().unwrap()) as usize;
                assert!(len > 0 && len + 4 <= f.data.len());
                last_video = f.pts;
                video_frames += 1;
                keyframes += usize::from(f.keyframe);
            }
            TrackKind::Audio => {
                assert!(f.keyframe);
                assert!(f.pts > last_audio, "audio pts increase");
                last_audio = f.pts;
                audio_frames += 1;
            }
        }
    }
    assert!(
        keyframes >= 2,
        "key-int-max=30: a keyframe a second, got {keyframes}"
    );
    // 60 frames at 30 fps span about two seconds of media time.
    assert!(
        last_video > 1_800_000_000,
        "video pts reach {last_video} ns"
    );

    // The server goes away: the session ends, the status says why, and retries start.
    drop(server);
    let end = timeout(Duration::from_secs(5), async {
        while sub.recv().await.is_some() {}
    });
    end.await
        .expect("the hub session ends when the server dies");
    assert!(hub.live("room1").is_none());
    let status = puller
        .wait_status("retrying", |s| {
            !s.connected && s.last_error.is_some() && s.attempts >= 3
        })
        .await;
    eprintln!("after server loss: {status:?}");

    // Back on the same port: the puller reconnects and a new session starts.
    let _server = Server::start(port, "/cam", None);
    let again = next_session(&mut sessions).await;
    assert_ne!(again.id, session.id);
    assert_eq!(
        again.info.video.as_ref().map(|v| (v.width, v.height)),
        Some((320, 180))
    );
    let mut sub = again.subscribe();
    let f = timeout(Duration::from_secs(5), sub.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(f.keyframe);
    puller.wait_status("connected again", |s| s.connected).await;

    let status = puller.stop().await;
    assert!(
        !status.connected && status.next_retry_ms.is_none(),
        "{status:?}"
    );
    let end = timeout(Duration::from_secs(5), async {
        while sub.recv().await.is_some() {}
    });
    end.await.expect("stopping ends the session");
    assert!(hub.live("room1").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked_and_kept_out_of_labels() {
    let port = free_port();
    let _server = Server::start(port, "/secure", Some(("admin", "s3cret")));
    let url = format!("rtsp://127.0.0.1:{port}/secure");
    let hub = StreamHub::new();
    let mut sessions = hub.watch();

    // Wrong password: a 401, reported, retried, and no session.
    let mut wrong = Puller::start(&hub, "room2", url.clone(), Some(("admin", "nope")));
    let status = wrong
        .wait_status("failed twice", |s| {
            s.attempts >= 2 && s.next_retry_ms.is_some()
        })
        .await;
    let error = status.last_error.unwrap();
    assert!(
        error.contains("401") && error.contains("uthenticat"),
        "{error}"
    );
    assert!(!status.connected);
    eprintln!("wrong credentials: {error}");
    assert!(hub.live("room2").is_none());
    assert!(
        sessions.try_recv().is_err(),
        "no session with wrong credentials"
    );
    wrong.stop().await;

    // Right credentials, given in the URL: a session whose source label has none.
    let with_creds = format!("rtsp://admin:s3cret@127.0.0.1:{port}/secure");
    let right = Puller::start(&hub, "room2", with_creds, None);
    let session = next_session(&mut sessions).await;
    assert_eq!(session.source, format!("rtsp {url}"));
    assert!(session.info.video.is_some() && session.info.audio.is_some());
    let status = right.stop().await;
    assert!(status.last_error.is_none(), "{status:?}");
    assert!(hub.live("room2").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_over_udp() {
    let port = free_port();
    let _server = Server::start(port, "/udp", None);
    let hub = StreamHub::new();
    let mut sessions = hub.watch();
    let url = format!("rtsp://127.0.0.1:{port}/udp");
    let puller = Puller::start_with(&hub, "room3", url, None, RtspTransport::Udp);
    let session = next_session(&mut sessions).await;
    let mut sub = session.subscribe();
    let (mut video, mut audio) = (0, 0);
    while video < 15 || audio < 5 {
        let f = timeout(Duration::from_secs(5), sub.recv())
            .await
            .unwrap()
            .unwrap();
        match f.track {
            TrackKind::Video => video += 1,
            TrackKind::Audio => audio += 1,
        }
    }
    puller.stop().await;
    assert!(hub.live("room3").is_none());
}
