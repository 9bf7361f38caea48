//! Three `livecart serve` nodes on one NATS JetStream bus (`--bus nats://…`), each with its
//! own data dir and the demo room: viewers on different nodes see the same frames with the
//! same offsets in the same order; a client resumes on another node with no gap and no
//! duplicate; like totals and online counts are the cluster's; after NATS restarts, the
//! rooms carry on without restarting livecart; after every node restarts, a client
//! resumes with what it missed.
//!
//! And media across nodes: the node that does not package a live room relays its
//! `/media` to the one that does, so ffprobe reads the live from either.

mod cluster;

use cluster::{Client, WAIT, comment, node, one_at_a_time};
use livecart_e2e::{NatsServer, Serve, http};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_span_three_nodes_on_nats_resume_anywhere_and_survive_a_nats_restart() {
    let _one = one_at_a_time().await;
    let mut nats = NatsServer::start();
    let nodes = [node(&nats), node(&nats), node(&nats)];

    // A viewer on every node; the snapshots agree on the epoch (the stream's).
    let mut viewers = Vec::new();
    let mut epochs = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let (c, snap) = Client::join(&n.addr, &format!("viewer{i}"), None).await;
        let snap = snap.expect("snapshot");
        assert_eq!(snap["type"], "snapshot", "{snap}");
        epochs.push(snap["epoch"].as_str().expect("epoch").to_owned());
        viewers.push(c);
    }
    assert!(epochs.iter().all(|e| *e == epochs[0]), "{epochs:?}");
    let epoch = epochs[0].clone();

    // Comments from posters on two nodes, interleaved.
    let (mut ann, _) = Client::join(&nodes[0].addr, "ann", None).await;
    let (mut bob, _) = Client::join(&nodes[1].addr, "bob", None).await;
    for i in 0..5 {
        ann.comment(&format!("ann {i}")).await;
        bob.comment(&format!("bob {i}")).await;
    }
    let mut seen = Vec::new();
    for v in &mut viewers {
        let mut mine = Vec::new();
        while mine.len() < 10 {
            let f = v.next(WAIT).await.expect("a comment");
            if let Some(c) = comment(&f, "ann").or_else(|| comment(&f, "bob")) {
                mine.push(c);
            }
        }
        seen.push(mine);
    }
    assert!(seen[0].windows(2).all(|w| w[0].0 < w[1].0), "{:?}", seen[0]);
    assert_eq!(seen[0], seen[1], "node 0 and node 1 viewers");
    assert_eq!(seen[0], seen[2], "node 0 and node 2 viewers");

    // Counters are the cluster's: likes tapped on node 0 and every node's connections
    // (three viewers and two posters), as seen on node 2.
    ann.send(json!({"type": "like", "count": 7})).await;
    viewers[2].state("likes", "total", 7).await;
    viewers[2].state("online", "count", 5).await;

    // Viewer 2 (on node 2) goes away after offset `last`, misses three comments, and
    // resumes on node 0: it gets exactly the three, in order, and no snapshot.
    let last = seen[2].last().expect("seen").0;
    drop(viewers.pop());
    for i in 0..3 {
        ann.comment(&format!("missed {i}")).await;
    }
    let missed = viewers[0].comments_from("ann", 3).await;
    let (mut back, first) = Client::join(&nodes[0].addr, "viewer2", Some((&epoch, last))).await;
    let first = first.expect("the replay");
    assert_ne!(
        first["type"], "snapshot",
        "resumed, not a snapshot: {first}"
    );
    let mut replayed = vec![comment(&first, "ann").expect("a missed comment")];
    replayed.extend(back.comments_from("ann", 2).await);
    assert_eq!(replayed, missed, "no gap, no duplicate");
    assert!(replayed[0].0 > last);

    // NATS restarts; the nodes reconnect and the room carries on.
    nats.stop();
    // While a node has lost the bus it says so: not ready, and chat refused clearly.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, body) = http(&nodes[1].addr, "GET", "/readyz", None, "");
        if status == 503 && body.contains("\"bus\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still ready without NATS: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bob.comment("while NATS is down").await;
    let refused = loop {
        // bob has the room's earlier frames queued: the refusal comes after them.
        let f = bob.next(WAIT).await.expect("an error frame");
        if f["type"] == "error" {
            break f;
        }
    };
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "bus_unavailable", "{refused}");
    nats.start_again();
    let deadline = std::time::Instant::now() + WAIT;
    while http(&nodes[1].addr, "GET", "/readyz", None, "").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready after NATS came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bob.comment("after the restart").await;
    let mut last = 0;
    for v in viewers.iter_mut().chain(std::iter::once(&mut back)) {
        let after = v.comments_from("bob", 1).await;
        assert_eq!(after[0].1, "after the restart");
        assert!(after[0].0 > missed[2].0, "offsets keep growing");
        last = after[0].0;
    }

    // The client leaves, misses two comments, and every node restarts (new processes):
    // it resumes on one of them and gets exactly the two, from JetStream.
    drop(back);
    for i in 0..2 {
        ann.comment(&format!("while away {i}")).await;
    }
    let away = viewers[0].comments_from("ann", 2).await;
    drop((viewers, ann, bob));
    drop(nodes);
    let nodes = [node(&nats), node(&nats), node(&nats)];
    let (mut back, first) = Client::join(&nodes[1].addr, "viewer2", Some((&epoch, last))).await;
    let first = first.expect("the replay");
    assert_ne!(
        first["type"], "snapshot",
        "resumed after a full restart: {first}"
    );
    let mut replayed: Vec<_> = comment(&first, "ann").into_iter().collect();
    let more = 2 - replayed.len();
    replayed.extend(back.comments_from("ann", more).await);
    assert_eq!(replayed, away);
}

/// ffprobe's streams of a manifest URL, as `codec,width,height` lines.
fn probe(url: &str) -> String {
    let out = std::process::Command::new("timeout")
        .args([
            "30",
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
        ])
        .args(["-of", "csv=p=0", url])
        .output()
        .expect("ffprobe (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_answers_media_for_a_room_packaged_on_another() {
    let _one = one_at_a_time().await;
    let nats = NatsServer::start();
    let url = nats.url();
    // Node a packages the demo room's stream; node b has no video of its own.
    let a = Serve::start(&[
        "--bus",
        &url,
        "--token-secret",
        "one-secret-for-every-node-of-the-cluster",
    ]);
    let b = node(&nats);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while http(&a.addr, "GET", "/media/demo/live.mpd", None, "").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the demo stream did not go live on a"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // b relays the manifest (a's, with its own availability start) and the segments.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mpd = loop {
        let (status, body) = http(&b.addr, "GET", "/media/demo/live.mpd", None, "");
        if status == 200 {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "b did not relay the MPD: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(mpd.contains("<MPD"), "{mpd}");
    let (status, master) = http(&b.addr, "GET", "/media/demo/master.m3u8", None, "");
    assert_eq!(status, 200, "{master}");
    assert!(master.starts_with("#EXTM3U"), "{master}");
    let streams = tokio::task::spawn_blocking({
        let url = format!("http://{}/media/demo/live.mpd", b.addr);
        move || probe(&url)
    })
    .await
    .expect("probe");
    assert!(streams.contains("h264"), "ffprobe through b: {streams}");
    // WHEP goes to the packaging node too: a bad offer is refused there as a bad offer
    // (400), not by b as "not live" (409).
    let (status, body) = livecart_e2e::http_typed(
        &b.addr,
        "POST",
        "/media/demo/whep",
        None,
        "application/sdp",
        "v=0",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("SDP"), "{body}");
    // A room nobody packages is b's own 404, not a relay.
    let (status, _) = http(&b.addr, "GET", "/media/no-such-room/live.mpd", None, "");
    assert_eq!(status, 404);
}
