#!/usr/bin/env node
// Benchmark: latency at the player, ingest to the frame at the playhead, for every player
// livecart serves, in one run against one running `livecart serve` (one publisher: its
// demo stream), one player after the other; and the card sync error of an HTTP-FLV page.
//
//   node web/tests/bench-players.mjs --base http://127.0.0.1:18601 --merchant-token T \
//        --rtmp 127.0.0.1:1935 [--room demo] [--seconds 20] [--pushes 30] [--joins 20]
//
// Every latency is the wall clock now minus the wall clock at which the frame at the
// playhead was ingested (availabilityStartTime + its media time), sampled every 250 ms:
// - LL-DASH: the viewer page (dash.js low-latency), its `getCurrentLiveLatency()`;
// - LL-HLS: the viewer page with `?player=hls` (hls.js lowLatencyMode), now − `playingDate`
//   (PROGRAM-DATE-TIME = ingest time);
// - HTTP-FLV: mpegts.js on `live.flv` (`liveBufferLatencyChasing`), its playhead mapped
//   to media time with the FLV timestamps (media ms) of the first tags it received (its
//   timeline starts at the lower of the first audio and video timestamps);
// - RTMP: ffmpeg (ffprobe) reading `rtmp://…/live/{room}`: each video packet's arrival
//   minus its ingest time (no player buffer: ffprobe shows nothing);
// - WebRTC: the viewer page with `?player=webrtc` (WHEP), now − the ingest time of the
//   frame on screen (its RTP timestamp → media time); and --joins fresh pages, each
//   timed from its WHEP offer to its first presented frame.
// FLV card sync: --pushes cards while mpegts.js plays; a card is "shown" on the first
// presented frame (requestVideoFrameCallback) at or past its cue point's media time, and
// its error is that frame's media time minus the card's media_ms.
//
// Prints a JSON report.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WEB, api, launch, newPage, openViewer, parseArgs, waitFor, waitInPage } from './lib.mjs';

const MPEGTS = join(WEB, 'node_modules', 'mpegts.js', 'dist', 'mpegts.js');

function pct(values, p) {
    if (!values.length) return null;
    const s = [...values].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const summary = (xs) => ({ n: xs.length, p50: pct(xs, 50), p90: pct(xs, 90), min: pct(xs, 0), max: pct(xs, 100) });
const round = (x) => (x === null ? null : +x.toFixed(3));
const secs = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, k === 'n' ? v : round(v)]));

const args = parseArgs(process.argv.slice(2), { seconds: '20', pushes: '30', rtmp: '', joins: '20' });
const seconds = Number(args.seconds);
const rest = api(args.base, args.merchantToken);
const report = { room: args.room, seconds };
const browser = await launch();

/** The live MPD's availabilityStartTime (Unix ms). */
async function ast() {
    const mpd = await (await fetch(`${args.base}/media/${args.room}/live.mpd`)).text();
    return Date.parse(/availabilityStartTime="([^"]+)"/.exec(mpd)[1]);
}

/** Sample `fn` in the page every 250 ms for `seconds`; the numbers it returns. */
async function sample(page, fn) {
    const out = [];
    for (let i = 0; i < seconds * 4; i++) {
        await page.waitForTimeout(250);
        const v = await page.evaluate(fn);
        if (typeof v === 'number' && Number.isFinite(v)) out.push(v);
    }
    return out;
}

/** The viewer page on `player` ('' = dash.js): latency samples in s. */
async function viewer(player) {
    const { context, page } = await openViewer(browser, args.base, args.room,
        player ? { query: { player } } : {});
    await waitInPage(page, () => window.__livecart.playerState === 'playing' &&
        document.querySelector('#player').currentTime > 1, null, { timeout: 30000, what: 'the live to play' });
    await page.waitForTimeout(3000); // settle at the target latency
    const lat = await sample(page, () => window.__livecart.latency);
    const engine = await page.evaluate(() => window.__livecart.via || window.__livecart.engine);
    const stalls = await page.evaluate(() => window.__livecart.stalls);
    await context.close();
    return { engine, stalls, latency_s: secs(summary(lat)) };
}

/** `n` fresh viewer pages on WebRTC: each one's WHEP offer → first frame, in ms. */
async function joins(n) {
    const out = [];
    for (let i = 0; i < n; i++) {
        const { context, page } = await openViewer(browser, args.base, args.room, { query: { player: 'webrtc' } });
        const ms = await waitInPage(page, () => window.__livecart.player.whep && window.__livecart.player.whep.joinMs, null,
            { timeout: 10000, what: 'a WebRTC first frame' }).then((h) => h.jsonValue());
        out.push(ms);
        await context.close();
    }
    const s = summary(out);
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === 'n' ? v : Math.round(v)]));
}

/** mpegts.js on live.flv: latency samples and, with pushes, the card sync errors. */
async function flv(astMs) {
    const { context, page } = await newPage(browser, { base: args.base });
    await page.goto(`${args.base}/healthz`);
    await page.setContent('<!doctype html><video id="v" muted playsinline width="320" height="180"></video>');
    await page.addScriptTag({ content: readFileSync(MPEGTS, 'utf8') });
    await page.evaluate(({ src, astMs }) => {
        const st = window.__flv = { base: null, first: {}, shown: [], errors: [], astMs };
        // Tee the FLV response: the first audio (8) and video (9) media tag timestamps.
        const realFetch = window.fetch.bind(window);
        window.fetch = async (...a) => {
            const r = await realFetch(...a);
            if (!String(a[0]).includes('live.flv') || !r.body) return r;
            const [mine, theirs] = r.body.tee();
            (async () => {
                const reader = mine.getReader();
                let buf = new Uint8Array(0);
                let at = 13; // FLV header (9) + PreviousTagSize0 (4)
                while (st.first[8] === undefined || st.first[9] === undefined) {
                    const { value, done } = await reader.read();
                    if (done) return;
                    const b = new Uint8Array(buf.length + value.length);
                    b.set(buf); b.set(value, buf.length); buf = b;
                    while (at + 11 <= buf.length) {
                        const type = buf[at] & 0x1f;
                        const size = (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3];
                        const ts = ((buf[at + 7] << 24) | (buf[at + 4] << 16) | (buf[at + 5] << 8) | buf[at + 6]) >>> 0;
                        if (at + 11 + size + 4 > buf.length) break;
                        // Media tags only, not the sequence headers (AVC/AAC packet type 0).
                        const media = size >= 2 && buf[at + 12] !== 0;
                        if ((type === 8 || type === 9) && media && st.first[type] === undefined) st.first[type] = ts;
                        at += 11 + size + 4;
                    }
                }
                st.base = Math.min(st.first[8], st.first[9]);
                reader.cancel().catch(() => {});
            })();
            return new Response(theirs, { status: r.status, statusText: r.statusText, headers: r.headers });
        };
        const video = document.getElementById('v');
        const player = mpegts.createPlayer({ type: 'flv', isLive: true, url: src },
            { enableWorker: false, liveBufferLatencyChasing: true });
        player.on(mpegts.Events.ERROR, (t, d) => st.errors.push(`${t} ${d}`));
        // A card's cue point: shown on the first presented frame at or past its time.
        player.on(mpegts.Events.SCRIPTDATA_ARRIVED, (data) => {
            const cue = data && data.onCuePoint;
            if (!cue || st.base === null) return;
            let payload = {};
            try { payload = JSON.parse(cue.parameters.payload); } catch (_) { return; }
            const targetMs = cue.time * 1000;
            const onFrame = (_, meta) => {
                const mediaMs = st.base + meta.mediaTime * 1000;
                if (mediaMs + 0.5 >= targetMs) st.shown.push({ push_id: payload.push_id, target_ms: targetMs, displayed_ms: Math.round(mediaMs) });
                else video.requestVideoFrameCallback(onFrame);
            };
            video.requestVideoFrameCallback(onFrame);
        });
        player.attachMediaElement(video);
        player.load();
        video.play().catch((e) => st.errors.push(`play: ${e.message}`));
    }, { src: `${args.base}/media/${args.room}/live.flv`, astMs });
    await waitInPage(page, () => document.getElementById('v').currentTime > 1 && window.__flv.base !== null, null,
        { timeout: 20000, what: 'mpegts.js to play live.flv' });
    await page.waitForTimeout(3000);
    const lat = await sample(page, () => {
        const st = window.__flv;
        return (Date.now() - (st.astMs + st.base + document.getElementById('v').currentTime * 1000)) / 1000;
    });
    const pushed = [];
    for (let i = 0; i < Number(args.pushes); i++) {
        const card = await rest.post(`/api/rooms/${args.room}/push`, { product_id: i % 2 ? 'sku-cap' : 'sku-tee', duration_ms: 300 });
        pushed.push(card);
        await page.waitForTimeout(400);
    }
    await waitFor(async () => (await page.evaluate(() => window.__flv.shown.length)) >= pushed.length,
        { timeout: 10000, what: 'every FLV card to be shown' }).catch(() => null);
    const st = await page.evaluate(() => window.__flv);
    await context.close();
    const errors = [];
    for (const c of pushed) {
        const s = st.shown.find((x) => x.push_id === c.push_id);
        if (s) errors.push(s.displayed_ms - c.media_ms);
    }
    const abs = errors.map(Math.abs);
    return {
        latency_s: secs(summary(lat)),
        first_tags_ms: st.first,
        player_errors: st.errors,
        cards: { pushed: pushed.length, shown: errors.length, p50_ms: pct(abs, 50), p95_ms: pct(abs, 95), max_ms: pct(abs, 100),
            within_33ms: abs.length ? +(abs.filter((a) => a <= 33).length / abs.length).toFixed(3) : null,
            min_signed_ms: errors.length ? Math.min(...errors) : null },
    };
}

/** ffprobe on RTMP playback: per video packet, arrival − ingest time. */
async function rtmp(astMs) {
    const url = `rtmp://${args.rtmp}/live/${args.room}`;
    const child = spawn('stdbuf', ['-oL', 'ffprobe', '-v', 'error', '-select_streams', 'v:0',
        '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lat = [];
    const start = Date.now();
    let tail = '';
    child.stdout.on('data', (d) => {
        const now = Date.now();
        tail += d;
        const lines = tail.split('\n');
        tail = lines.pop();
        // Skip the first 3 s: the GOP the player joins on arrives in a burst.
        if (now - start < 3000) return;
        for (const l of lines) {
            const pts = Number(l.split(',')[0]);
            if (Number.isFinite(pts)) lat.push((now - (astMs + pts * 1000)) / 1000);
        }
    });
    await new Promise((r) => setTimeout(r, (seconds + 3) * 1000));
    child.kill('SIGKILL');
    return { latency_s: secs(summary(lat)) };
}

try {
    await waitFor(async () => (await fetch(`${args.base}/media/${args.room}/live.mpd`)).ok, { timeout: 20000, what: 'the live' });
    const astMs = await ast();
    report.webrtc = await viewer('webrtc');
    report.webrtc_join_ms = await joins(Number(args.joins));
    report.ll_dash = await viewer('');
    report.ll_hls = await viewer('hls');
    report.http_flv = await flv(astMs);
    if (args.rtmp) report.rtmp = await rtmp(astMs);
} finally {
    await browser.close();
}
console.log(JSON.stringify(report, null, 2));
