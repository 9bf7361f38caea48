#!/usr/bin/env node
// Scenario 1: a viewer on a phone plays the live and sees a product card.
//
//   node web/tests/viewer-play-card.mjs --base http://HOST:PORT --merchant-token T
//        [--room demo] [--artifacts DIR] [--product sku-tee]
//
// The page's video advances ≥ 3 s with no stall after it started, #latency shows a
// number; a card pushed with the REST API (as the console does) appears with its title,
// price, image and one-click buy link; clicking the link opens the shop and the click (and
// the display ack) reach the room's analytics. Saves viewer.png (390x844) in --artifacts.

import { api, assert, openViewer, scenario, screenshot, waitFor, waitInPage } from './lib.mjs';

scenario('viewer-play-card', async ({ args, browser, report, log }) => {
    const product = args.product;
    const rest = api(args.base, args.merchantToken);
    const t0 = Date.now();
    const { page, context, errors } = await openViewer(browser, args.base, args.room);
    report.joinedAfterMs = Date.now() - t0;

    // Playback: started, then ≥ 3 s of media time with no stall.
    await waitInPage(page, () => {
        const v = document.querySelector('#player');
        return v.currentTime > 0 && !v.paused && window.__livecart.playerState === 'playing';
    }, null, { timeout: 30000, what: 'the video to start playing' });
    report.playingAfterMs = Date.now() - t0;
    const start = await page.evaluate(() => ({
        t: document.querySelector('#player').currentTime,
        stalls: window.__livecart.stalls,
    }));
    await waitInPage(page, (t) => document.querySelector('#player').currentTime >= t + 3, start.t,
        { timeout: 15000, what: 'video.currentTime to advance 3 s' });
    const play = await page.evaluate(() => {
        const v = document.querySelector('#player');
        return {
            currentTime: v.currentTime,
            stalls: window.__livecart.stalls,
            latencyText: document.querySelector('#latency').textContent,
            latency: window.__livecart.latency,
            engine: window.__livecart.engine,
            size: `${v.videoWidth}x${v.videoHeight}`,
            muted: v.muted,
            unmuteVisible: !document.querySelector('#unmute').hidden,
        };
    });
    report.playback = { ...play, advanced: +(play.currentTime - start.t).toFixed(3) };
    assert(play.engine === 'dash', `expected dash.js playback, got ${play.engine}`);
    assert(play.stalls === start.stalls, `${play.stalls - start.stalls} stall(s) while playing`);
    assert(/^\d+(\.\d+)? s$/.test(play.latencyText), `#latency shows "${play.latencyText}", not a number of seconds`);
    assert(play.muted && play.unmuteVisible, 'muted autoplay should offer the unmute button');
    log(`playing: latency ${play.latencyText}, advanced ${report.playback.advanced} s`);

    // A card pushed through the REST API.
    const me = await page.evaluate(() => ({ user: window.__livecart.user, variant: window.__livecart.variant }));
    const pushed = await rest.post(`/api/rooms/${args.room}/push`, { product_id: product, duration_ms: 20000 });
    const pushedAt = Date.now();
    assert(pushed.push_id, `push answered ${JSON.stringify(pushed)}`);
    const sel = `#card .card[data-push-id="${pushed.push_id}"]`;
    await page.waitForSelector(sel, { state: 'visible', timeout: 10000 });
    report.cardAfterMs = Date.now() - pushedAt;
    await page.waitForTimeout(500); // the entry animation
    const card = await page.$eval(sel, (c) => ({
        product: c.dataset.product,
        variant: c.dataset.variant,
        title: c.querySelector('.title')?.textContent,
        price: c.querySelector('.price')?.textContent,
        img: c.querySelector('img')?.getAttribute('src'),
        imgLoaded: (c.querySelector('img')?.naturalWidth || 0) > 0,
        href: c.querySelector('a.buy')?.getAttribute('href'),
        target: c.querySelector('a.buy')?.getAttribute('target'),
        rel: c.querySelector('a.buy')?.getAttribute('rel'),
        box: (() => { const r = c.getBoundingClientRect(); return [r.x, r.y, r.width, r.height].map(Math.round); })(),
    }));
    report.card = card;
    const p = pushed.product;
    assert(card.product === p.id, `card product ${card.product}, pushed ${p.id}`);
    assert(card.title === p.title, `card title "${card.title}", product title "${p.title}"`);
    // (Whole amounts are shown without cents: "¥99".)
    assert(card.price && Number(card.price.replace(/[^\d.]/g, '')) === p.price_cents / 100,
        `card price "${card.price}" for ${p.price_cents} cents`);
    assert(card.href === p.buy_url && card.target === '_blank' && /noopener/.test(card.rel), `buy link ${JSON.stringify(card)}`);
    assert(card.img === p.image_url && card.imgLoaded, `card image ${card.img} (loaded: ${card.imgLoaded})`);
    assert(card.variant === me.variant, `card variant ${card.variant}, viewer variant ${me.variant}`);
    assert(card.box[2] <= 390 && card.box[0] >= 0, `card does not fit the phone: ${card.box}`);
    report.viewer = me;
    report.screenshot = await screenshot(page, args.artifacts, 'viewer.png');

    // One-click buy: a new tab with the shop; the click is recorded.
    const [shop] = await Promise.all([
        context.waitForEvent('page', { timeout: 5000 }),
        page.click(`${sel} a.buy`),
    ]);
    report.shopUrl = shop.url();
    await shop.close();
    const shown = await page.evaluate(() => window.__livecart.cards);
    assert(shown.some((c) => c.push_id === pushed.push_id), `__livecart.cards lacks the push: ${JSON.stringify(shown)}`);

    // Analytics: the display ack (flushed within 2 s) and the click.
    const row = await waitFor(async () => {
        const a = await rest.get(`/api/rooms/${args.room}/analytics`);
        return (a.rows || []).find((r) => r.product_id === p.id && r.displays >= 1 && r.clicks >= 1);
    }, { timeout: 10000, interval: 500, what: 'analytics to show a display and a click' });
    report.analytics = row;
    const fatal = errors.filter((e) => e.startsWith('pageerror'));
    report.pageErrors = errors;
    assert(fatal.length === 0, `page errors: ${fatal.join('; ')}`);
}, { product: 'sku-tee' });
