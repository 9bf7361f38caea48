//! The other simulated viewers of `bench media serve --protocol`, beside the LL-DASH one
//! of [`super::player`]:
//!
//! - **LL-HLS**, as hls.js in low-latency mode plays: the media playlist of one rendition
//!   once, then for each part the hinted part (held by the origin until it exists) and a
//!   blocking reload (`_HLS_msn`/`_HLS_part` of the next part), on one keep-alive
//!   connection: two requests per 200 ms part;
//! - **HTTP-FLV**: one `live.flv?gop=0` response read for the whole run;
//! - **RTMP**: an `ffmpeg -i rtmp://…/live/{room} -c copy -f null` process per viewer
//!   (RTMP playback is on the ingest port; its bytes are not counted here).

use super::http::Conn;
use super::player::{Stats, Target, parse_mpd};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The playlist's `EXT-X-PRELOAD-HINT` part as `(segment, part)`.
fn hint(playlist: &str) -> Option<(u64, u64)> {
    let line = playlist
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:"))?;
    let uri = line.split("URI=\"").nth(1)?.split('"').next()?;
    let (n, i) = uri.strip_suffix(".m4s")?.split_once('.')?;
    Some((n.parse().ok()?, i.parse().ok()?))
}

/// Play LL-HLS until `stop`, counting what completes from `from` on.
pub async fn play_hls(t: Arc<Target>, from: Instant, stop: Instant) -> Stats {
    let window = |at: Instant| at >= from && at < stop;
    let mut conn = Conn::new(t.addr);
    let mut st = Stats::default();
    let mut playlist: Option<String> = None;
    let mut next: Option<(u64, u64)> = None;
    while Instant::now() < stop {
        let Some(path) = playlist.clone() else {
            // Where the rendition's playlist is: the period and rep from the live MPD.
            match conn.get(&t.mpd_path, true, |_| {}).await {
                Ok(r) if r.status == 200 => {
                    let text = String::from_utf8_lossy(&r.body);
                    if let Some(m) = parse_mpd(&text, t.rep.as_deref()) {
                        let base = t.mpd_path.rsplit_once('/').map_or("", |(b, _)| b);
                        playlist = Some(format!("{base}/{}/{}/index.m3u8", m.period, m.rep));
                    }
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
            continue;
        };
        let Some((n, i)) = next else {
            let r = conn.get(&path, true, |_| {}).await;
            st.requests += u64::from(window(Instant::now()));
            match r {
                Ok(r) if r.status == 200 => next = hint(&String::from_utf8_lossy(&r.body)),
                _ => {
                    st.errors += u64::from(window(Instant::now()));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            continue;
        };
        let dir = path.trim_end_matches("index.m3u8");
        let r = conn.get(&format!("{dir}{n}.{i}.m4s"), false, |_| {}).await;
        let counting = window(Instant::now());
        st.requests += u64::from(counting);
        match r {
            Ok(r) if r.status == 200 => st.segment(&r, counting),
            // The segment ended without that part: the next segment's first.
            Ok(r) if r.status == 404 => st.early += u64::from(counting),
            _ => {
                st.errors += u64::from(counting);
                next = None;
                continue;
            }
        }
        let at = Instant::now();
        let r = conn
            .get(&format!("{path}?_HLS_msn={n}&_HLS_part={i}"), true, |_| {})
            .await;
        let counting = window(Instant::now());
        st.requests += u64::from(counting);
        match r {
            Ok(r) if r.status == 200 => {
                if counting {
                    st.mpd.push(at.elapsed());
                    st.bytes += r.bytes;
                }
                next = hint(&String::from_utf8_lossy(&r.body));
            }
            _ => {
                st.errors += u64::from(counting);
                next = None;
            }
        }
    }
    st.connections = conn.opened;
    st
}

/// Read `live.flv?gop=0` until `stop`, counting the bytes from `from` on; reconnect on an
/// error (counted).
pub async fn play_flv(t: Arc<Target>, from: Instant, stop: Instant) -> Stats {
    let mut st = Stats::default();
    let path = t.mpd_path.replace("live.mpd", "live.flv?gop=0");
    let mut buf = vec![0u8; 64 * 1024];
    while Instant::now() < stop {
        let run = async {
            let mut tcp = tokio::net::TcpStream::connect(t.addr).await?;
            st.connections += 1;
            let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", t.addr);
            tcp.write_all(req.as_bytes()).await?;
            loop {
                let n = tcp.read(&mut buf).await?;
                if n == 0 {
                    return Err::<(), _>(std::io::Error::other("closed"));
                }
                let now = Instant::now();
                if now >= from && now < stop {
                    st.bytes += n as u64;
                }
            }
        };
        // `run` only ends in an error; the deadline ends it cleanly.
        if let Ok(Err(_)) = tokio::time::timeout_at(stop.into(), run).await {
            st.errors += u64::from(Instant::now() >= from);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    st.requests = st.connections;
    st
}

/// An RTMP playback viewer: ffmpeg reading `url` and discarding it; killed when dropped.
pub struct RtmpViewer(Child);

impl RtmpViewer {
    pub fn start(url: &str) -> std::io::Result<RtmpViewer> {
        Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-i", url])
            .args(["-c", "copy", "-f", "null", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(RtmpViewer)
    }

    /// Still playing?
    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for RtmpViewer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_preload_hint() {
        let p = "#EXTM3U\n#EXT-X-PART:DURATION=0.2,URI=\"7.2.m4s\"\n\
                 #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7.3.m4s\"\n";
        assert_eq!(hint(p), Some((7, 3)));
        assert_eq!(hint("#EXTM3U\n"), None);
        assert_eq!(hint("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"x.m4s\"\n"), None);
    }
}
