#!/usr/bin/env node
// Scenario: product cards shown in sync with the video (issue 6). In the demo room (live),
// cards pushed with the REST API reach the page over the WebSocket about a second before
// the video shows their moment; the page holds each until its video reaches the card's
// media time, using the in-band copy (emsg) when it has one.
//
//   node web/tests/sync-live.mjs --base http://HOST:PORT --merchant-token T
//        [--room demo] [--artifacts DIR] [--pushes 5] [--interval-ms 700] [--coupon c-50k]
//
// (--coupon: a coupon of the room that is still locked, as c-50k is on a fresh server.)
//
// Checks (the mechanism, not the timing): the live MPD declares the in-band event stream,
// events.json lists every push at its media time and the segment holding that time carries
// its emsg; the page shows each card once, only when its video reached the card's
// media_ms (displayed_media_ms ≥ media_ms − 40), in media-time order, at least one through
// the in-band copy, and held (shown after the WebSocket copy arrived); the acks carry the
// display media time and the server's /analytics/sync lists every display with both times.
// A coupon unlock and a flash-sale start are held the same way (at or after their in-band
// event's media time); the sale's end (urgent) hides it at once.

import { api, assert, openViewer, scenario, waitFor, waitInPage } from './lib.mjs';

const PRODUCTS = ['sku-tee', 'sku-cap']; // the demo catalog (plugins/ai-host/catalog.json)

/** Does `bytes` contain `needle` (a string)? */
function contains(bytes, needle) {
    return Buffer.from(bytes).indexOf(Buffer.from(needle)) >= 0;
}

scenario('sync-live', async ({ args, browser, report, log }) => {
    const rest = api(args.base, args.merchantToken);
    const pushes = Number(args.pushes);
    // A fresh server: the live MPD is withheld for its first second or so.
    const mpd = await waitFor(async () => {
        const r = await fetch(`${args.base}/media/${args.room}/live.mpd`);
        return r.ok ? r.text() : null;
    }, { timeout: 15000, what: 'the live MPD' });
    const media = await rest.get(`/api/rooms/${args.room}/media`);
    assert(media.live && media.period, `room ${args.room} is not live: ${JSON.stringify(media)}`);
    assert(/<InbandEventStream schemeIdUri="urn:livecart:event:2026" value="1"\/>/.test(mpd), 'the live MPD declares no InbandEventStream');
    const videoRep = /contentType="video"[\s\S]*?<Representation id="([^"]+)"/.exec(mpd)[1];

    const { page, errors } = await openViewer(browser, args.base, args.room);
    await waitInPage(page, () => window.__livecart.playerState === 'playing' &&
        document.querySelector('#player').currentTime > 0.5, null,
    { timeout: 20000, what: 'the live to play' });
    // Where frames show, what does the page's clock say? (dash.js: the video's time is the
    // period-relative presentation time; check rVFC is there.)
    report.clock = await page.evaluate(() => ({
        rvfc: typeof document.querySelector('#player').requestVideoFrameCallback === 'function',
        periodStart: window.__livecart.player.periodStartS(),
        period: window.__livecart.period,
    }));
    assert(report.clock.period === media.period, `page plays ${report.clock.period}, room period ${media.period}`);

    // Push cards spaced out; product ids rotate.
    const pushed = [];
    for (let i = 0; i < pushes; i++) {
        const card = await rest.post(`/api/rooms/${args.room}/push`,
            { product_id: PRODUCTS[i % PRODUCTS.length], duration_ms: 500 });
        assert(Number.isInteger(card.media_ms) && card.period === media.period,
            `push ${i}: media_ms ${card.media_ms}, period ${card.period}`);
        pushed.push({ push_id: card.push_id, media_ms: card.media_ms, product: card.product.id });
        await new Promise((r) => setTimeout(r, Number(args.intervalMs)));
    }
    report.pushes = pushed;
    const ids = pushed.map((p) => p.push_id);
    await waitInPage(page, (want) => want.every((id) => window.__livecart.cards.some((c) => c.push_id === id)), ids,
        { timeout: 15000, what: 'every pushed card to be shown' });
    const cards = (await page.evaluate(() => window.__livecart.cards)).filter((c) => ids.includes(c.push_id));
    report.cards = cards;

    // Once each, at (not before) its media time, in media-time order.
    assert(cards.length === pushes, `${cards.length} displays for ${pushes} pushes`);
    for (const c of cards) {
        const p = pushed.find((x) => x.push_id === c.push_id);
        assert(c.media_ms === p.media_ms, `${c.push_id}: page media_ms ${c.media_ms}, pushed at ${p.media_ms}`);
        assert(c.source === 'emsg' || c.source === 'ws', `${c.push_id} was shown ${c.source} (${c.reason}), not at its moment`);
        assert(Number.isInteger(c.displayed_media_ms) && c.displayed_media_ms >= c.media_ms - 40,
            `${c.push_id} shown at media time ${c.displayed_media_ms}, before its moment ${c.media_ms}`);
    }
    const order = cards.map((c) => c.media_ms);
    assert(order.every((m, i) => i === 0 || m >= order[i - 1]), `cards shown out of media-time order: ${order}`);
    report.viaEmsg = cards.filter((c) => c.source === 'emsg').length;
    assert(report.viaEmsg >= 1, 'no card was shown through its in-band copy');
    // Held: the WebSocket copy came well before the display.
    report.heldMs = cards.map((c) => c.shown_at_ms - c.received_ms);
    assert(report.heldMs.some((h) => h > 200), `no card was held after its WebSocket copy: ${report.heldMs}`);

    // In the stream: events.json and the segment containing each media time.
    const events = await (await fetch(`${args.base}/media/${args.room}/events.json`)).json();
    for (const p of pushed) {
        const ev = events.events.find((e) => e.id === p.push_id);
        assert(ev && ev.media_ms === p.media_ms && ev.payload.type === 'product' && ev.payload.push_id === p.push_id,
            `events.json: ${JSON.stringify(ev)} for ${JSON.stringify(p)}`);
    }
    const first = pushed[0];
    const segment = Math.floor(first.media_ms / 1000) + 1; // 1 s segments numbered from 1
    const seg = await fetch(`${args.base}/media/${args.room}/${media.period}/${videoRep}/${segment}.m4s`);
    const bytes = new Uint8Array(await seg.arrayBuffer());
    assert(seg.ok && contains(bytes, 'emsg') && contains(bytes, first.push_id),
        `segment ${segment} of ${videoRep} (HTTP ${seg.status}, ${bytes.length} B) has no emsg for ${first.push_id}`);
    report.segmentWithEmsg = `${videoRep}/${segment}.m4s`;

    // The server's sync report: every display with both media times.
    const sync = await waitFor(async () => {
        const s = await rest.get(`/api/rooms/${args.room}/analytics/sync`);
        const mine = s.samples.filter((x) => ids.includes(x.push_id));
        return mine.length >= pushes ? { summary: s.summary, samples: mine } : null;
    }, { timeout: 10000, interval: 500, what: '/analytics/sync to list the displays' });
    for (const s of sync.samples) {
        const c = cards.find((x) => x.push_id === s.push_id);
        assert(s.media_ms === c.media_ms && s.displayed_media_ms === c.displayed_media_ms,
            `server sample ${JSON.stringify(s)} vs page ${JSON.stringify(c)}`);
    }
    report.sync = sync.samples.map((s) => s.error_ms);

    // A coupon unlock and a flash-sale start carry media time too: held the same way. The
    // sale's `end` is urgent: at once.
    await rest.post(`/api/coupons/${args.coupon}/unlock`);
    const now = Date.now();
    const sale = await rest.post(`/api/rooms/${args.room}/flash-sales`, {
        product_id: 'sku-cap', price_cents: 3900, stock: 5, per_user_limit: 1, starts_ms: now - 1000, ends_ms: now + 60_000,
    });
    await waitInPage(page, ([c, s]) => ['coupon', 'flash_sale'].every((k) =>
        window.__livecart.timed.some((t) => t.kind === k && t.id === (k === 'coupon' ? c : s))), [args.coupon, sale.id],
    { timeout: 10000, what: 'the coupon unlock and the flash-sale start to show' });
    const timed = await page.evaluate(() => window.__livecart.timed);
    const live = (await (await fetch(`${args.base}/media/${args.room}/events.json`)).json()).events;
    report.timed = timed.map((t) => {
        const ev = live.find((e) => e.payload.type === t.kind &&
            (t.kind === 'coupon' ? e.payload.coupon_id === t.id : e.payload.sale_id === t.id));
        assert(ev, `no in-band event for ${t.kind} ${t.id}`);
        assert(t.media_ms === ev.media_ms, `${t.kind}: page media_ms ${t.media_ms}, event ${ev.media_ms}`);
        assert(t.source === 'emsg' || t.source === 'ws', `${t.kind} shown ${t.source}, not at its moment`);
        assert(t.displayed_media_ms >= ev.media_ms - 40, `${t.kind} shown at ${t.displayed_media_ms}, before ${ev.media_ms}`);
        return { ...t, event_media_ms: ev.media_ms };
    });
    assert(await page.$eval('#sale', (n) => !n.hidden) && await page.$(`#coupons .coupon[data-id="${args.coupon}"]`),
        'the sale or the coupon is not on the page');
    await rest.post(`/api/flash-sales/${sale.id}/end`);
    const endAt = Date.now();
    await waitInPage(page, () => document.querySelector('#sale').hidden, null, { timeout: 5000, what: 'the sale to end' });
    report.saleEndShownMs = Date.now() - endAt;
    log(`${pushes} cards: errors ${report.sync.join(', ')} ms; ${report.viaEmsg} via emsg; held ${report.heldMs.join(', ')} ms`);
    report.consoleErrors = errors;
    const fatal = errors.filter((e) => e.startsWith('pageerror'));
    assert(fatal.length === 0, `page errors: ${fatal.join('; ')}`);
}, { pushes: '5', intervalMs: '700', coupon: 'c-50k' });
