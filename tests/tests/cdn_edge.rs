//! The CDN edge of `deploy/cdn-edge/` (nginx in front, Varnish as the cache): one origin
//! and two edges. Every viewer of an edge gets a growing segment chunk by chunk, as early
//! as a viewer of the origin does; the origin sees one fetch per segment per edge; dash.js
//! plays through an edge as close to live as from the origin, in the same run.

use livecart_e2e::{KillOnDrop, Nginx, Serve, browser, http, root};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How much later than the origin's own viewer an edge viewer may get a segment's bytes.
const EDGE_BUDGET: f64 = 0.150;

fn free_addr() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    format!("127.0.0.1:{port}")
}

fn wait_listening(addr: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One edge: nginx on `addr` in front of its own Varnish, which fetches from `origin`.
/// Killing Varnish's manager (`-F`, in the foreground) ends its cache process, which
/// watches the manager.
struct Edge {
    addr: String,
    _nginx: Nginx,
    _varnish: KillOnDrop,
    dir: tempfile::TempDir,
}

fn config(name: &str, vars: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(root().join("deploy/cdn-edge").join(name))
        .unwrap_or_else(|e| panic!("deploy/cdn-edge/{name}: {e}"));
    for (k, v) in vars {
        text = text.replace(k, v);
    }
    text
}

fn start_edge(origin: &str) -> Edge {
    for tool in ["nginx", "varnishd"] {
        assert!(
            Command::new(tool).arg("-V").output().is_ok(),
            "{tool} is missing: run ./scripts/test.sh, which installs nginx and varnish"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (host, port) = origin.split_once(':').expect("host:port");
    let vcl = dir.path().join("edge.vcl");
    let vcl_text = config(
        "edge.vcl",
        &[("@ORIGIN_HOST@", host), ("@ORIGIN_PORT@", port)],
    );
    std::fs::write(&vcl, vcl_text).expect("write edge.vcl");
    let cache = free_addr();
    let varnish = Command::new("varnishd")
        .args(["-F", "-j", "none", "-a", &cache, "-s", "malloc,64m"])
        .arg("-n")
        .arg(dir.path().join("varnish"))
        .arg("-f")
        .arg(&vcl)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn varnishd");
    let varnish = KillOnDrop(varnish);
    wait_listening(&cache, "varnishd");

    let addr = free_addr();
    let prefix = dir.path().display().to_string();
    let conf = config(
        "nginx.conf",
        &[
            ("@PREFIX@", &prefix),
            ("@LISTEN@", &addr),
            ("@CACHE@", &cache),
        ],
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write nginx.conf");
    let nginx = Nginx::start(dir.path(), &addr);
    Edge {
        addr,
        _nginx: nginx,
        _varnish: varnish,
        dir,
    }
}

/// What one viewer saw of a segment: seconds after the segment's start when its request
/// went out, its first body byte came and its last; the body; the edge's X-Cache.
#[derive(Debug)]
struct Fetch {
    first: f64,
    end: f64,
    body: Vec<u8>,
    cache: String,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `GET path` from `addr` at unix time `at`, timing the body's bytes (chunked transfer
/// decoded; the connection is closed after).
fn timed_get(addr: &str, path: &str, at: f64) -> Fetch {
    let wait = at - unix_now();
    if wait > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(wait));
    }
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    assert!(line.contains(" 200 "), "{addr}{path}: {line}");
    let (mut chunked, mut cache) = (false, String::new());
    loop {
        line.clear();
        r.read_line(&mut line).expect("header");
        let l = line.trim().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        chunked |= l == "transfer-encoding: chunked";
        if let Some(v) = l.strip_prefix("x-cache:") {
            cache = v.trim().to_owned();
        }
    }
    let mut body = Vec::new();
    let mut first = None;
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).expect("chunk size");
            let size = usize::from_str_radix(line.trim(), 16).expect("chunk size");
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk[..1]).expect("chunk");
            first.get_or_insert_with(unix_now);
            r.read_exact(&mut chunk[1..]).expect("chunk");
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        let mut buf = [0u8; 1];
        r.read_exact(&mut buf).expect("body");
        first.get_or_insert_with(unix_now);
        body.push(buf[0]);
        r.read_to_end(&mut body).expect("body");
    }
    let end = unix_now();
    Fetch {
        first: first.unwrap_or(end),
        end,
        body,
        cache,
    }
}

fn attr<'a>(xml: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    let start = xml.find(&key).map(|i| i + key.len()).expect(name);
    let len = xml[start..].find('"').expect(name);
    &xml[start..start + len]
}

/// `2026-12-07T05:40:18.576Z` → unix seconds.
fn parse_utc(s: &str) -> f64 {
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().expect(s);
    let (y, mo, d) = (n(0..4), n(5..7), n(8..10));
    let (h, mi) = (n(11..13), n(14..16));
    let sec: f64 = s[17..].trim_end_matches('Z').parse().expect(s);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + h * 3_600 + mi * 60) as f64 + sec
}

fn origin_fetches(addr: &str) -> u64 {
    let (_, metrics) = http(addr, "GET", "/metrics", None, "");
    metrics
        .lines()
        .filter(|l| l.starts_with("livecart_origin_responses_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn two_edges_serve_the_live_edge_over_one_fetch_each_and_dash_js_plays_through_one() {
    let _turn = browser::one_at_a_time();
    browser::script("dash-play.mjs");
    let s = Serve::start(&[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mpd = loop {
        let (status, mpd) = http(&s.addr, "GET", "/media/demo/live.mpd", None, "");
        if status == 200 {
            break mpd;
        }
        assert!(Instant::now() < deadline, "no live MPD: {status} {mpd}");
        std::thread::sleep(Duration::from_millis(250));
    };
    let edges = [start_edge(&s.addr), start_edge(&s.addr)];
    let ast = parse_utc(attr(&mpd, "availabilityStartTime"));
    let period = attr(&mpd, "Period id");
    let video = mpd
        .split("<Representation ")
        .nth(1)
        .map(|r| attr(r, "id").to_owned())
        .expect("a video representation");
    let template = mpd
        .split("<SegmentTemplate ")
        .nth(1)
        .expect("a SegmentTemplate");
    let seconds = attr(template, "duration").parse::<f64>().expect("duration")
        / attr(template, "timescale")
            .parse::<f64>()
            .expect("timescale");

    // Each edge has a connection to the origin, as a running edge would.
    for edge in &edges {
        let init = format!("/media/demo/{period}/{video}/init.mp4");
        for path in ["/media/demo/live.mpd", init.as_str()] {
            timed_get(&edge.addr, path, 0.0);
        }
    }

    // Three segments, each asked for at its start (as dash.js in low-latency mode does)
    // by the origin's own viewer and by five viewers of each edge, 20 ms apart.
    let before = origin_fetches(&s.addr);
    const VIEWERS: usize = 5;
    const SEGMENTS: u64 = 3;
    let next = ((unix_now() - ast) / seconds).floor() as u64 + 3;
    let mut worst = 0.0f64;
    for n in next..next + SEGMENTS {
        let start = ast + (n - 1) as f64 * seconds;
        let path = format!("/media/demo/{period}/{video}/{n}.m4s");
        let mut viewers = vec![("origin".to_owned(), s.addr.clone(), 0.0)];
        for (e, edge) in edges.iter().enumerate() {
            for v in 0..VIEWERS {
                viewers.push((format!("edge {e}"), edge.addr.clone(), 0.02 * v as f64));
            }
        }
        let fetches: Vec<(String, Fetch)> = std::thread::scope(|sc| {
            let handles: Vec<_> = viewers
                .iter()
                .map(|(who, addr, delay)| {
                    let path = &path;
                    sc.spawn(move || (who.clone(), timed_get(addr, path, start + delay)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("viewer thread"))
                .collect()
        });
        let origin = &fetches[0].1;
        assert!(
            origin.end - origin.first > seconds / 2.0,
            "segment {n} was not growing when asked for: {origin:?}"
        );
        for (who, f) in &fetches[1..] {
            assert_eq!(f.body, origin.body, "segment {n} through {who} differs");
            let late = (f.first - origin.first).max(f.end - origin.end);
            worst = worst.max(late);
            assert!(
                late <= EDGE_BUDGET,
                "segment {n} through {who} came {late:.3} s after the origin's \
                 (first byte {:.3} vs {:.3}, last {:.3} vs {:.3})",
                f.first - start,
                origin.first - start,
                f.end - start,
                origin.end - start
            );
        }
        for e in 0..edges.len() {
            let misses = fetches
                .iter()
                .filter(|(who, f)| *who == format!("edge {e}") && f.cache == "miss")
                .count();
            assert_eq!(misses, 1, "edge {e} fetched segment {n} {misses} times");
        }
    }
    let fetched = origin_fetches(&s.addr) - before;
    let allowed = SEGMENTS * (1 + edges.len() as u64);
    assert!(
        fetched <= allowed,
        "the origin answered {fetched} requests for {SEGMENTS} segments, {} edges and one \
         direct viewer",
        edges.len()
    );
    eprintln!(
        "edge viewers at most {:.0} ms behind the origin's",
        worst * 1e3
    );

    // dash.js through edge 0 against dash.js from the origin, one after the other.
    let play = |base: &str, tag: &str| {
        let shot = browser::artifacts().join(format!("cdn-edge-{tag}.png"));
        let args = [
            "--mpd".to_owned(),
            format!("http://{base}/media/demo/live.mpd"),
            "--seconds".into(),
            "20".into(),
            "--latency".into(),
            "--warmup".into(),
            "10".into(),
            "--screenshot".into(),
            shot.display().to_string(),
        ];
        let run = browser::run_script("dash-play.mjs", &args, Duration::from_secs(90));
        assert!(run.ok, "dash-play {tag}:\n{}\n{}", run.stderr, run.stdout);
        let report: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("dash-play {tag} ({e}):\n{}", run.stdout));
        assert_eq!(report["playbackStarted"], true, "{tag}: {report:#}");
        assert_eq!(report["lowLatencyMode"], true, "{tag}: {report:#}");
        eprintln!(
            "dash.js {tag}: latency {}, waiting {}, stalled {}",
            report["latency"], report["waitingEvents"], report["stalledEvents"]
        );
        let p50 = report["latency"]["p50"].as_f64();
        p50.unwrap_or_else(|| panic!("{tag}: no latency p50: {report:#}"))
    };
    let direct = play(&s.addr, "origin");
    let through = play(&edges[0].addr, "edge");
    eprintln!("dash.js live latency p50: origin {direct:.3} s, edge {through:.3} s");
    assert!(
        through <= direct + EDGE_BUDGET,
        "dash.js through the edge is {through:.3} s behind live, from the origin {direct:.3} s"
    );
    let log = std::fs::read_to_string(edges[0].dir.path().join("access.log")).unwrap_or_default();
    assert!(
        log.contains("live.mpd"),
        "dash.js did not go through the edge"
    );
}
