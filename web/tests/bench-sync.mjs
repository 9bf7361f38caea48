#!/usr/bin/env node
// Benchmark: how far from its moment does a viewer see a product card? (issue 6, "Sync
// error" in BENCHMARKS.md.) Against a running `livecart serve`, in headless Chromium: one
// viewer page watches the live; ≥ 100 cards are pushed with the REST API, one every
// --interval-ms (product ids rotate through plugins/ai-host/catalog.json; --duration-ms
// short so that cards do not overlap); each card's sync error is
// |displayed_media_ms − media_ms|: the media time of the first video frame presented with
// the card on screen minus the event's media time (docs/protocol.md, "Media time").
//
//   node web/tests/bench-sync.mjs --base http://127.0.0.1:18401 --merchant-token T
//        [--room demo] [--pushes 100] [--interval-ms 400] [--duration-ms 300] [--jitter-ms 33]
//        [--player hls]
//
// (--player hls: the viewer page plays LL-HLS with hls.js, its media clock from the
// playlists' PROGRAM-DATE-TIME, instead of LL-DASH with dash.js.)
//
// Prints a JSON report: p50/p95/p99/max of the error and the share within 33 ms (one
// frame at 30 fps) and 66 ms, computed from the page's own records (window.__livecart.cards)
// and from the server's GET /api/rooms/{room}/analytics/sync (the acks' display media
// times), which must agree sample by sample; how many cards were shown through the in-band
// copy (emsg) or the WebSocket copy's media time (ws), or at once (immediate: a card whose
// moment never came); the ladder, rung switches, stalls and latency. Exits 1 when the two
// sources disagree or a card is missing.
//
// At 1 rung and at 3 rungs (the demo room passes its source through as the top rung and
// encodes the others; a 640x360 demo source makes the 360 rung the passthrough):
//
//   cargo build --release -p livecart
//   echo '{"rungs":[{"height":360,"bitrate_kbps":800}]}' > /tmp/ladder-1.json
//   echo '{"rungs":[{"height":360,"bitrate_kbps":800},{"height":240,"bitrate_kbps":400},
//          {"height":144,"bitrate_kbps":150}]}' > /tmp/ladder-3.json
//   target/release/livecart serve --listen 127.0.0.1:18401 --rtmp-listen 127.0.0.1:0 \
//       --rtmps-listen 127.0.0.1:0 --data-dir /tmp/sync-bench-1 --demo-plugins target/plugins \
//       --plugin-sources plugins --demo-size 640x360 --ladder /tmp/ladder-1.json
//   # (it prints the merchant token), then:
//   node web/tests/bench-sync.mjs --base http://127.0.0.1:18401 --merchant-token lc_… \
//       --room demo --pushes 100 --interval-ms 400
//   # stop the server, and again with --ladder /tmp/ladder-3.json and a fresh --data-dir.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WEB, api, launch, openViewer, parseArgs, waitFor, waitInPage } from './lib.mjs';

/** The same percentile as the server's summary (nearest rank). */
function pct(sorted, p) {
    if (!sorted.length) return null;
    return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

function stats(errors) {
    const abs = errors.map(Math.abs).sort((a, b) => a - b);
    const n = abs.length;
    const share = (limit) => (n ? +(abs.filter((a) => a <= limit).length / n).toFixed(4) : null);
    return {
        displays: n,
        p50_ms: pct(abs, 50),
        p95_ms: pct(abs, 95),
        p99_ms: pct(abs, 99),
        max_ms: n ? abs[n - 1] : null,
        within_33ms: share(33),
        within_66ms: share(66),
        min_signed_ms: n ? Math.min(...errors) : null,
        mean_signed_ms: n ? +(errors.reduce((a, b) => a + b, 0) / n).toFixed(1) : null,
    };
}

const args = parseArgs(process.argv.slice(2), { pushes: '100', intervalMs: '400', durationMs: '300', jitterMs: '33', player: '' });
const pushes = Number(args.pushes);
const interval = Number(args.intervalMs);
const jitter = Number(args.jitterMs);
const products = JSON.parse(readFileSync(join(WEB, '..', 'plugins', 'ai-host', 'catalog.json'), 'utf8')).map((p) => p.id);
const rest = api(args.base, args.merchantToken);
const report = { room: args.room, pushes, interval_ms: interval, jitter_ms: jitter, duration_ms: Number(args.durationMs), products };
let failed = null;
const browser = await launch();
try {
    const media = await rest.get(`/api/rooms/${args.room}/media`);
    if (!media.live) throw new Error(`room ${args.room} is not live`);
    report.renditions = media.renditions;
    report.period = media.period;

    const query = args.player ? { player: args.player } : undefined;
    const { page, errors } = await openViewer(browser, args.base, args.room, { query });
    await waitInPage(page, () => window.__livecart.playerState === 'playing' &&
        document.querySelector('#player').currentTime > 1, null, { timeout: 30000, what: 'the live to play' });
    await page.waitForTimeout(3000); // settle at the target latency
    report.user = await page.evaluate(() => window.__livecart.user.id);
    report.rvfc = await page.evaluate(() => typeof document.querySelector('#player').requestVideoFrameCallback === 'function');

    // Push on a fixed schedule, each push late by a random 0…--jitter-ms: 400 ms is exactly
    // 12 frames at 30 fps, so without it every push would fall at the same place between two
    // frames and the errors would all be about the same.
    const sent = [];
    const t0 = Date.now();
    for (let i = 0; i < pushes; i++) {
        const wait = t0 + i * interval + Math.random() * jitter - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const card = await rest.post(`/api/rooms/${args.room}/push`, {
            product_id: products[i % products.length],
            duration_ms: Number(args.durationMs),
        });
        sent.push({ push_id: card.push_id, media_ms: card.media_ms, period: card.period, server_ms: card.server_ms });
    }
    report.pushing_s = +((Date.now() - t0) / 1000).toFixed(1);
    report.without_media_time = sent.filter((s) => !Number.isInteger(s.media_ms)).length;
    const ids = new Set(sent.map((s) => s.push_id));

    // The page: every card shown, with its display media time.
    await waitInPage(page, (want) => {
        const shown = new Set(window.__livecart.cards.map((c) => c.push_id));
        return want.every((id) => shown.has(id));
    }, [...ids], { timeout: 20000, what: 'every card to be shown' }).catch(() => {});
    const cards = (await page.evaluate(() => window.__livecart.cards)).filter((c) => ids.has(c.push_id));
    const first = new Map();
    for (const c of cards) if (!first.has(c.push_id)) first.set(c.push_id, c);
    report.shown = first.size;
    report.shown_twice = cards.length - first.size;
    report.sources = {};
    for (const c of first.values()) report.sources[c.source] = (report.sources[c.source] || 0) + 1;
    const pageErrors = [];
    for (const s of sent) {
        const c = first.get(s.push_id);
        if (c && Number.isInteger(c.displayed_media_ms) && Number.isInteger(s.media_ms)) {
            pageErrors.push({ push_id: s.push_id, error: c.displayed_media_ms - s.media_ms, source: c.source });
        }
    }
    report.page = stats(pageErrors.map((e) => e.error));
    const worst = [...pageErrors].sort((a, b) => Math.abs(b.error) - Math.abs(a.error)).slice(0, 5);
    report.page.worst = worst;
    report.player = await page.evaluate(() => ({
        engine: window.__livecart.engine,
        latency_s: window.__livecart.latency,
        stalls: window.__livecart.stalls,
        rung_switches: window.__livecart.qualitySwitches.length,
        heights: [...new Set(window.__livecart.qualitySwitches.map((s) => s.height))],
        height_now: document.querySelector('#player').videoHeight,
    }));

    // The server: the acks (flushed every 2 s), by this viewer.
    const from = Math.min(...sent.map((s) => s.server_ms));
    const to = Math.max(...sent.map((s) => s.server_ms)) + 1;
    const sync = await waitFor(async () => {
        const s = await rest.get(`/api/rooms/${args.room}/analytics/sync?from=${from}&to=${to}`);
        const mine = s.samples.filter((x) => ids.has(x.push_id) && x.user_id === report.user);
        return mine.length >= pageErrors.length ? { summary: s.summary, samples: mine } : null;
    }, { timeout: 15000, interval: 1000, what: 'the server to record every display' });
    report.server = { ...stats(sync.samples.map((x) => x.error_ms)), summary: sync.summary };
    const byId = new Map(pageErrors.map((e) => [e.push_id, e.error]));
    report.disagreements = sync.samples.filter((x) => byId.get(x.push_id) !== x.error_ms).length;
    report.page_errors = errors.filter((e) => e.startsWith('pageerror'));

    if (report.shown < pushes) failed = `${pushes - report.shown} cards were never shown`;
    else if (report.disagreements) failed = `${report.disagreements} samples differ between the page and the server`;
    else if (report.server.displays !== report.page.displays) failed = `server has ${report.server.displays} samples, page ${report.page.displays}`;
} catch (e) {
    failed = String(e && e.message ? e.message : e);
} finally {
    await browser.close().catch(() => {});
}
report.ok = !failed;
if (failed) report.error = failed;
console.log(JSON.stringify(report, null, 2));
if (failed) {
    console.error(`bench-sync: FAIL: ${failed}`);
    process.exit(1);
}
