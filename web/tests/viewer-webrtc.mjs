#!/usr/bin/env node
// Scenario: the viewer page in a room whose host chose ultra-low latency. The page plays
// over WebRTC (WHEP) and says so; cards pushed during the live come on the data channel and
// show on their frame (RTP time), and the page's display records agree with the server's
// /analytics/sync. When WebRTC cannot play — the WHEP endpoint failing, or an answer whose
// candidate is unreachable (as with UDP blocked) — the page falls back to LL-DASH within a
// few seconds and says so. A standard room plays LL-DASH without trying WebRTC.
//
//   node web/tests/viewer-webrtc.mjs --base URL --merchant-token T [--room demo] [--pushes 3]

import { api, assert, openViewer, scenario, screenshot, waitFor, waitInPage } from './lib.mjs';

const playing = () => window.__livecart.playerState === 'playing'
    && document.querySelector('#player').currentTime > 0.5;

scenario('viewer-webrtc', async ({ args, browser, report, log }) => {
    const rest = api(args.base, args.merchantToken);
    await waitFor(async () => (await fetch(`${args.base}/media/${args.room}/live.mpd`)).ok,
        { timeout: 15000, what: 'the live to start' });
    // Ready for WebRTC once a bad offer is refused as such (503 before the first segment).
    await waitFor(async () => (await fetch(`${args.base}/media/${args.room}/whep`,
        { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0' })).status === 400,
    { timeout: 15000, what: 'WHEP to be ready' });

    // A standard room never tries WebRTC.
    {
        const { page } = await openViewer(browser, args.base, args.room);
        await waitInPage(page, playing, null, { timeout: 20000, what: 'LL-DASH to play' });
        report.standard = await page.evaluate(() => ({ via: window.__livecart.via, mode: window.__livecart.latencyMode,
            badge: !document.getElementById('mode-badge').hidden }));
        assert(report.standard.via === 'dash' && !report.standard.badge, `standard room: ${JSON.stringify(report.standard)}`);
        await page.close();
    }

    const room = await rest.put(`/api/rooms/${args.room}/latency-mode`, { mode: 'ultra-low' });
    assert(room.latency_mode === 'ultra-low', `latency mode: ${JSON.stringify(room)}`);
    const playback = await (await fetch(`${args.base}/api/rooms/${args.room}/playback`)).json();
    assert(playback.latency_mode === 'ultra-low' && playback.whep.endsWith('/whep'), JSON.stringify(playback));

    // Ultra-low: WebRTC, cards on their frame.
    const { page, errors } = await openViewer(browser, args.base, args.room, { locale: 'en-US' });
    await waitInPage(page, playing, null, { timeout: 20000, what: 'WebRTC to play' });
    report.ultra = await page.evaluate(() => ({ via: window.__livecart.via, failed: window.__livecart.webrtcFailed,
        badge: document.getElementById('mode-badge').textContent }));
    assert(report.ultra.via === 'webrtc', `ultra-low room plays ${JSON.stringify(report.ultra)}`);
    assert(report.ultra.badge === 'Ultra-low latency', `badge: ${report.ultra.badge}`);
    await page.waitForTimeout(1500);
    report.latency = await page.evaluate(() => window.__livecart.latency);
    log(`WebRTC latency on the page ${report.latency} s`);
    await screenshot(page, args.artifacts, 'viewer-webrtc.png');

    const pushes = Number(args.pushes);
    const ids = [];
    for (let i = 0; i < pushes; i++) {
        const card = await rest.post(`/api/rooms/${args.room}/push`, { product_id: 'sku-tee', duration_ms: 500 });
        ids.push(card.push_id);
        await page.waitForTimeout(900);
    }
    await waitInPage(page, (want) => want.every((id) => window.__livecart.cards.some((c) => c.push_id === id)), ids,
        { timeout: 15000, what: 'every pushed card to show' });
    const cards = (await page.evaluate(() => window.__livecart.cards)).filter((c) => ids.includes(c.push_id));
    report.cards = cards.map((c) => ({ id: c.push_id, media_ms: c.media_ms, shown: c.displayed_media_ms, source: c.source }));
    for (const c of cards) {
        assert(c.source === 'emsg', `${c.push_id} shown ${c.source} (${c.reason}), not by its data-channel copy`);
        // Held to its frame: never before it (its data-channel copy arrives ahead of the
        // frame, so a card shown on arrival would be early). How soon after is timing: a
        // loaded machine skips presented frames (bench-sync measures it), so only a
        // generous bound here.
        const late = c.displayed_media_ms - c.media_ms;
        assert(late >= -1 && late <= 1000, `${c.push_id} shown at ${c.displayed_media_ms}, its frame is ${c.media_ms}`);
    }
    const sync = await waitFor(async () => {
        const s = await rest.get(`/api/rooms/${args.room}/analytics/sync`);
        const mine = s.samples.filter((x) => ids.includes(x.push_id));
        return mine.length >= pushes ? mine : null;
    }, { timeout: 10000, interval: 500, what: '/analytics/sync to list the WebRTC displays' });
    for (const s of sync) {
        const c = cards.find((x) => x.push_id === s.push_id);
        assert(s.media_ms === c.media_ms && s.displayed_media_ms === c.displayed_media_ms,
            `server sample ${JSON.stringify(s)} vs page ${JSON.stringify(c)}`);
    }
    report.sync_error_ms = sync.map((s) => s.error_ms);
    report.errors = errors;
    await page.close();

    // Fallbacks: the endpoint failing, and an unreachable candidate (UDP blocked).
    const fallback = async (name, route) => {
        const t0 = Date.now();
        const v = await openViewer(browser, args.base, args.room, {
            locale: 'zh-CN',
            beforeGoto: (p) => p.route('**/media/*/whep', route),
        });
        await waitInPage(v.page, playing, null, { timeout: 25000, what: `LL-DASH to play after ${name}` });
        const r = await v.page.evaluate(() => ({ via: window.__livecart.via, failed: window.__livecart.webrtcFailed,
            badge: document.getElementById('mode-badge').textContent }));
        r.playing_after_ms = Date.now() - t0;
        assert(r.via === 'dash' && r.failed, `${name}: ${JSON.stringify(r)}`);
        assert(r.badge === '标准延迟', `${name}: badge ${r.badge}`);
        await screenshot(v.page, args.artifacts, `viewer-webrtc-fallback-${name}.png`);
        await v.page.close();
        return r;
    };
    report.fallback_endpoint = await fallback('endpoint', (r) => r.fulfill({ status: 500, body: 'broken' }));
    report.fallback_udp = await fallback('udp', async (r) => {
        const res = await r.fetch();
        // The answer's host candidate on a port nothing listens on: ICE never connects.
        const sdp = (await res.text()).replace(/(a=candidate:\S+ \d+ udp \d+ \S+ )(\d+)/gi, '$19');
        await r.fulfill({ response: res, body: sdp });
    });
    assert(/no picture within/.test(report.fallback_udp.failed), `udp: ${report.fallback_udp.failed}`);
    // The refused sessions are gone from the server (the page DELETEs what it gave up).
    await waitFor(async () => (await rest.get(`/api/rooms/${args.room}/media`)).webrtc_sessions.length === 0,
        { timeout: 20000, what: 'abandoned WebRTC sessions to be freed' });
}, { pushes: '3' });
