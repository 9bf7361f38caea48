#!/usr/bin/env node
// Scenario: a live that ends becomes a replay with a product timeline (issue 6). A new
// room goes live (ffmpeg publishing over RTMP, as OBS would), a viewer watches, three cards
// are pushed during the live, the publisher stops.
//
//   node web/tests/sync-replay.mjs --base http://HOST:PORT --merchant-token T
//        --rtmp HOST:PORT [--artifacts DIR] [--seconds 12]
//
// Checks: the viewer page of the ended live links to its replay (/replay/{room}/{period});
// /replay/{room} lists the ended live; its page's timeline has exactly 3 markers, at the
// pushes' media times (the push responses' media_ms) and at media_ms / duration along the
// bar; the replay MPD's EventStream reached the page through dash.js; clicking the second
// marker seeks a little before it and its card appears at its moment (displayed media
// time ≥ media_ms − 40). Saves replay.png (390x844) and viewer-ended-replay.png in
// --artifacts.

import { api, assert, newPage, openViewer, publish, scenario, screenshot, waitFor, waitInPage } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

scenario('sync-replay', async ({ args, browser, report, log }) => {
    assert(args.rtmp, '--rtmp HOST:PORT is required');
    const rest = api(args.base, args.merchantToken);
    const room = await rest.post('/api/rooms', { title: 'Replay test' });
    const viewer = await openViewer(browser, args.base, room.id);

    // Live: publish, wait for the viewer to play, push three cards.
    const t0 = Date.now();
    const ffmpeg = publish(`rtmp://${args.rtmp}/live/${room.stream_key}`, Number(args.seconds));
    let ffmpegErr = '';
    ffmpeg.stderr.on('data', (d) => { ffmpegErr += d; });
    const exited = new Promise((resolve) => ffmpeg.on('exit', resolve));
    const pushes = [];
    try {
        await waitInPage(viewer.page, () => window.__livecart.playerState === 'playing' &&
            document.querySelector('#player').currentTime > 0, null,
        { timeout: 15000, what: 'the viewer page to play the live' });
        report.playingAfterMs = Date.now() - t0;
        for (const product of ['sku-tee', 'sku-cap', 'sku-tee']) {
            const card = await rest.post(`/api/rooms/${room.id}/push`, { product_id: product, duration_ms: 4000 });
            assert(Number.isInteger(card.media_ms) && card.period, `push during the live: ${JSON.stringify(card).slice(0, 200)}`);
            pushes.push({ push_id: card.push_id, media_ms: card.media_ms, period: card.period, title: card.product.title });
            await sleep(1500);
        }
        const code = await exited;
        assert(code === 0, `ffmpeg exited with ${code}: ${ffmpegErr.slice(0, 500)}`);
    } finally {
        ffmpeg.kill('SIGKILL');
    }
    report.pushes = pushes;
    const period = pushes[0].period;
    assert(pushes.every((p) => p.period === period), `pushes in several periods: ${JSON.stringify(pushes)}`);

    // The viewer page of the ended live links to its replay.
    await waitInPage(viewer.page, () => {
        const a = document.querySelector('#replay-link');
        return document.querySelector('#video-status').dataset.state === 'ended' && a && !a.hidden;
    }, null, { timeout: 25000, what: 'the ended live to link to its replay' });
    report.viewerLink = await viewer.page.$eval('#replay-link', (a) => a.getAttribute('href'));
    assert(report.viewerLink === `/replay/${room.id}/${period}`, `viewer page links to ${report.viewerLink}, expected /replay/${room.id}/${period}`);
    report.viewerScreenshot = await screenshot(viewer.page, args.artifacts, 'viewer-ended-replay.png');
    await viewer.context.close();

    // The list of the room's replays has this live.
    await waitFor(async () => {
        const r = await (await fetch(`${args.base}/media/${room.id}/replays`)).json();
        return r.replays.some((x) => x.period === period && x.ended);
    }, { timeout: 10000, what: 'the recording to be finalized' });
    const { page, errors } = await newPage(browser, { base: args.base });
    await page.goto(`${args.base}/replay/${room.id}`);
    await waitInPage(page, (p) => document.querySelector(`.replay-item[data-period="${p}"] a`), period,
        { timeout: 8000, what: 'the replay list to show the live' });
    report.list = await page.evaluate(() => window.__replay.list);
    await Promise.all([
        page.waitForURL(`**/replay/${room.id}/${period}`, { timeout: 8000 }),
        page.click(`.replay-item[data-period="${period}"] a`),
    ]);

    // The timeline: exactly the three pushes, where they belong.
    await waitInPage(page, () => document.querySelectorAll('#markers .marker').length > 0 &&
        window.__replay.state === 'playing', null, { timeout: 15000, what: 'the replay to play with its markers' });
    const markers = await page.$$eval('#markers .marker', (ms) => ms.map((m) => ({
        push_id: m.dataset.pushId,
        media_ms: Number(m.dataset.mediaMs),
        title: m.getAttribute('title'),
        left: parseFloat(m.style.left),
    })));
    const durationMs = await page.evaluate(() => window.__replay.durationMs);
    report.markers = markers;
    report.durationMs = durationMs;
    assert(markers.length === 3, `${markers.length} markers, expected 3`);
    pushes.forEach((p, i) => {
        const m = markers[i];
        assert(m.push_id === p.push_id && m.media_ms === p.media_ms && m.title === p.title,
            `marker ${i}: ${JSON.stringify(m)}, push ${JSON.stringify(p)}`);
        const want = (p.media_ms / durationMs) * 100;
        assert(Math.abs(m.left - want) < 0.05, `marker ${i} at ${m.left}%, expected ${want.toFixed(3)}%`);
    });
    // The MPD's EventStream reached the page through dash.js.
    const events = await page.evaluate(() => window.__replay.events);
    report.mpdEvents = events.filter((e) => e.source === 'mpd').length;
    assert(report.mpdEvents === 3, `dash.js delivered ${report.mpdEvents} MPD events: ${JSON.stringify(events)}`);

    // Clicking the second marker seeks before it; its card appears at its moment.
    const second = pushes[1];
    const before = await page.evaluate(() => window.__replay.cards.length);
    await page.click(`#markers .marker[data-push-id="${second.push_id}"]`);
    report.tip = await page.$eval('#marker-tip', (t) => (t.hidden ? null : t.textContent));
    assert(report.tip && report.tip.includes(second.title), `marker tip: ${report.tip}`);
    await waitInPage(page, () => window.__replay.player.video.seeking === false, null, { timeout: 5000, what: 'the seek' });
    report.afterSeekS = await page.evaluate(() => document.querySelector('#player').currentTime);
    assert(report.afterSeekS * 1000 < second.media_ms, `seeked to ${report.afterSeekS} s, not before ${second.media_ms} ms`);
    await waitInPage(page, ([n, id]) => window.__replay.cards.slice(n).some((c) => c.push_id === id), [before, second.push_id],
        { timeout: 8000, what: 'the second card to appear after the seek' });
    const shown = (await page.evaluate((n) => window.__replay.cards.slice(n), before)).find((c) => c.push_id === second.push_id);
    report.shown = shown;
    assert(shown.source === 'mpd', `card shown from ${shown.source}`);
    assert(shown.displayed_media_ms >= second.media_ms - 40, `card shown at media time ${shown.displayed_media_ms}, before ${second.media_ms}`);
    const card = await page.$eval('#card .card', (c) => ({ push: c.dataset.pushId, title: c.querySelector('.title').textContent }));
    assert(card.push === second.push_id && card.title === second.title, `card on screen: ${JSON.stringify(card)}`);
    await page.waitForTimeout(450); // the entry animation
    report.screenshot = await screenshot(page, args.artifacts, 'replay.png');
    report.consoleErrors = errors;
    const fatal = errors.filter((e) => e.startsWith('pageerror'));
    assert(fatal.length === 0, `page errors: ${fatal.join('; ')}`);
    log(`markers ${markers.map((m) => m.media_ms).join(', ')} ms of ${durationMs} ms; card ${second.push_id} shown at ${shown.displayed_media_ms} for ${second.media_ms}`);
}, { rtmp: null, seconds: '12' });
