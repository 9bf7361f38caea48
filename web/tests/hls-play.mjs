#!/usr/bin/env node
// LL-HLS in hls.js (npm), as iOS-style HLS players read it, in headless Chromium:
//
// 1. hls.js with `lowLatencyMode` plays the room's master.m3u8: it sees the playlists as
//    low-latency (parts, blocking reload), plays without stalling, and its latency (the
//    server clock minus the PROGRAM-DATE-TIME of the frame at the playhead, which is when
//    that frame was ingested) is sampled every 250 ms; the median must be ≤ --max-latency.
// 2. The viewer page with `?player=hls` (hls.js instead of dash.js) holds pushed cards to
//    their frame on HLS too: each shows once, held after its WebSocket copy, at a displayed
//    media time from its media_ms − 40 to one frame and a bit after it (its moment comes
//    from the playlists' PDT); /analytics/sync records both times.
//
//   node web/tests/hls-play.mjs --base URL --merchant-token T [--room demo]
//        [--seconds 10] [--max-latency 2.0] [--pushes 3]
//
// Prints a JSON report; exits 1 on failure.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WEB, api, assert, newPage, openViewer, scenario, waitFor, waitInPage } from './lib.mjs';

const HLSJS = join(WEB, 'node_modules', 'hls.js', 'dist', 'hls.min.js');
const PRODUCTS = ['sku-tee', 'sku-cap'];

function median(xs) {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)] : null;
}

scenario('hls-play', async ({ args, browser, report, log }) => {
    const rest = api(args.base, args.merchantToken);
    const url = `${args.base}/media/${args.room}/master.m3u8`;
    await waitFor(async () => (await fetch(url)).ok, { timeout: 15000, what: 'the live to start' });

    // 1. hls.js on its own.
    const { page, errors } = await newPage(browser, { base: args.base });
    await page.goto(`${args.base}/healthz`);
    await page.setContent('<!doctype html><video id="v" muted playsinline width="320" height="180"></video>');
    await page.addScriptTag({ content: readFileSync(HLSJS, 'utf8') });
    report.supported = await page.evaluate(() => Hls.isSupported());
    assert(report.supported, 'hls.js: no MSE in this Chromium');
    await page.evaluate((src) => {
        const video = document.getElementById('v');
        const st = window.__hls = { errors: [], stalls: 0, started: false, version: Hls.version, parts: 0, blocking: [] };
        // As the viewer page configures it: hls.js keeps the latency it started at unless it
        // may play faster, and where it starts depends on the moment it joins.
        const hls = window.hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, enableWorker: false });
        hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) st.errors.push(`${d.type} ${d.details}`); });
        hls.on(Hls.Events.FRAG_LOADED, (_, d) => { if (d.part) st.parts++; });
        hls.on(Hls.Events.LEVEL_LOADED, (_, d) => {
            const det = d.details;
            st.lowLatency = { canBlockReload: det.canBlockReload, partTarget: det.partTarget,
                partHoldBack: det.partHoldBack, partList: (det.partList || []).length };
            if (d.networkDetails && d.networkDetails.responseURL) st.blocking.push(d.networkDetails.responseURL.includes('_HLS_msn='));
        });
        video.addEventListener('playing', () => { st.started = true; });
        video.addEventListener('waiting', () => { if (st.started) st.stalls++; });
        hls.loadSource(src);
        hls.attachMedia(video);
        video.play().catch((e) => st.errors.push(`play: ${e.message}`));
    }, url);
    await waitInPage(page, () => document.getElementById('v').currentTime > 1 && window.hls.playingDate, null,
        { timeout: 20000, what: 'hls.js to play master.m3u8' });
    // The server's clock, as the page's would be: same machine, so Date.now().
    const samples = [];
    const t0 = await page.evaluate(() => document.getElementById('v').currentTime);
    const stalls0 = await page.evaluate(() => window.__hls.stalls);
    for (let i = 0; i < Number(args.seconds) * 4; i++) {
        await page.waitForTimeout(250);
        const s = await page.evaluate(() => ({
            pdt: window.hls.playingDate ? Date.now() - window.hls.playingDate.getTime() : null,
            hls: window.hls.latency,
        }));
        if (s.pdt !== null) samples.push(s);
    }
    const end = await page.evaluate(() => {
        const v = document.getElementById('v');
        return { currentTime: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames, st: window.__hls };
    });
    const lat = samples.map((s) => s.pdt / 1000);
    report.hlsjs = {
        version: end.st.version,
        played_s: +(end.currentTime - t0).toFixed(2),
        frames: end.frames,
        stalls: end.st.stalls - stalls0,
        parts_loaded: end.st.parts,
        low_latency: end.st.lowLatency,
        blocking_reloads: end.st.blocking.filter(Boolean).length,
        latency_s: { p50: +median(lat).toFixed(3), min: +Math.min(...lat).toFixed(3), max: +Math.max(...lat).toFixed(3), n: lat.length },
        hls_latency_p50_s: +median(samples.map((s) => s.hls)).toFixed(3),
        errors: end.st.errors,
    };
    log(`hls.js ${end.st.version}: latency p50 ${report.hlsjs.latency_s.p50} s, ${end.st.parts} parts, ${report.hlsjs.blocking_reloads} blocking reloads`);
    assert(end.st.errors.length === 0, `hls.js errors: ${end.st.errors.join('; ')}`);
    assert(end.st.lowLatency && end.st.lowLatency.canBlockReload && end.st.lowLatency.partList > 0,
        `hls.js does not see LL-HLS: ${JSON.stringify(end.st.lowLatency)}`);
    assert(end.st.parts > 0, 'hls.js loaded no parts');
    assert(report.hlsjs.blocking_reloads > 0, 'hls.js made no blocking playlist reload');
    assert(report.hlsjs.played_s > Number(args.seconds) * 0.8, `played ${report.hlsjs.played_s} s in ${args.seconds} s`);
    assert(report.hlsjs.latency_s.p50 <= Number(args.maxLatency),
        `median latency ${report.hlsjs.latency_s.p50} s > ${args.maxLatency} s`);
    await page.context().close();

    // 2. The viewer page on hls.js: cards on their frame.
    const viewer = await openViewer(browser, args.base, args.room, { query: { player: 'hls' } });
    const v = viewer.page;
    await waitInPage(v, () => window.__livecart.playerState === 'playing' &&
        document.querySelector('#player').currentTime > 0.5 && window.__livecart.player.playingPeriod(), null,
    { timeout: 20000, what: 'the viewer page to play on hls.js' });
    report.page = await v.evaluate(() => ({
        engine: window.__livecart.engine,
        period: window.__livecart.period,
        periodStart: window.__livecart.player.periodStartS(),
    }));
    assert(report.page.engine === 'hlsjs', `engine ${report.page.engine}`);
    const pushed = [];
    for (let i = 0; i < Number(args.pushes); i++) {
        const card = await rest.post(`/api/rooms/${args.room}/push`,
            { product_id: PRODUCTS[i % PRODUCTS.length], duration_ms: 500 });
        pushed.push({ push_id: card.push_id, media_ms: card.media_ms });
        await new Promise((r) => setTimeout(r, 700));
    }
    const ids = pushed.map((p) => p.push_id);
    await waitInPage(v, (want) => want.every((id) => window.__livecart.cards.some((c) => c.push_id === id)), ids,
        { timeout: 15000, what: 'every pushed card to be shown' });
    const cards = (await v.evaluate(() => window.__livecart.cards)).filter((c) => ids.includes(c.push_id));
    report.cards = cards.map((c) => ({ push_id: c.push_id, media_ms: c.media_ms, displayed_media_ms: c.displayed_media_ms,
        source: c.source, held_ms: c.shown_at_ms - c.received_ms }));
    assert(cards.length === pushed.length, `${cards.length} displays for ${pushed.length} pushes`);
    for (const c of cards) {
        const err = c.displayed_media_ms - c.media_ms;
        assert(c.source === 'ws', `${c.push_id} shown ${c.source} (${c.reason}), not held to its moment`);
        assert(err >= -40 && err <= 100, `${c.push_id} shown at media ${c.displayed_media_ms}, its moment ${c.media_ms} (${err} ms)`);
    }
    const sync = await waitFor(async () => {
        const s = await rest.get(`/api/rooms/${args.room}/analytics/sync`);
        const mine = s.samples.filter((x) => ids.includes(x.push_id));
        return mine.length >= pushed.length ? mine : null;
    }, { timeout: 10000, interval: 500, what: '/analytics/sync to list the displays' });
    report.sync_error_ms = sync.map((s) => s.error_ms);
    report.page_errors = [...errors, ...viewer.errors].filter((e) => e.startsWith('pageerror'));
    assert(report.page_errors.length === 0, `page errors: ${report.page_errors.join('; ')}`);
}, { seconds: '10', maxLatency: '2.0', pushes: '3' });
