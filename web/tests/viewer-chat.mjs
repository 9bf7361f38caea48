#!/usr/bin/env node
// Scenario 2: chat round-trips between two viewers (two browser contexts, so two guests),
// and hostile comments are shown as text.
//
//   node web/tests/viewer-chat.mjs --base http://HOST:PORT --merchant-token T [--room demo]
//        [--artifacts DIR]
//
// A comments with Enter, B with the Send button; each sees the other's comment and its own
// marked as its own. `<img src=x onerror=alert(1)>` from B appears in A as that text: no
// <img> in the chat, no dialog. A comment over 500 characters is refused on the page with
// a toast. Also: a third page without MSE (MediaSource removed, HLS "supported") picks the
// native HLS fallback (video.src = master.m3u8 when live, else it waits on that playlist)
// and never loads dash.js or asks for the MPD.

import { assert, newPage, openViewer, scenario, screenshot, waitInPage } from './lib.mjs';

const HOSTILE = '<img src=x onerror=alert(1)>';

/** Wait until `page` shows a comment with exactly `text`; its attributes. */
async function commentIn(page, text, what) {
    await waitInPage(page, (t) => [...document.querySelectorAll('#chat .comment .text')].some((n) => n.textContent === t),
        text, { timeout: 8000, what });
    return page.evaluate((t) => {
        const node = [...document.querySelectorAll('#chat .comment')].find((n) => n.querySelector('.text').textContent === t);
        return { id: node.dataset.id, user: node.dataset.user, own: node.classList.contains('own'), name: node.querySelector('.name').textContent };
    }, text);
}

scenario('viewer-chat', async ({ args, browser, report, log }) => {
    const dialogs = [];
    const a = await openViewer(browser, args.base, args.room, { query: { name: 'Ann' } });
    const b = await openViewer(browser, args.base, args.room, { query: { name: 'Bob' } });
    for (const v of [a, b]) v.page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    const ids = {
        a: await a.page.evaluate(() => window.__livecart.user.id),
        b: await b.page.evaluate(() => window.__livecart.user.id),
    };
    assert(ids.a !== ids.b, `two contexts should be two guests, both are ${ids.a}`);
    report.users = ids;

    // A → B, with Enter.
    const fromA = `hello from Ann ${Date.now()}`;
    let t = Date.now();
    await a.page.fill('#chat-input', fromA);
    await a.page.press('#chat-input', 'Enter');
    const seenByB = await commentIn(b.page, fromA, "Ann's comment in Bob's page");
    report.aToBMs = Date.now() - t;
    const ownA = await commentIn(a.page, fromA, "Ann's own comment in her page");
    assert(seenByB.user === ids.a && !seenByB.own, `Bob sees ${JSON.stringify(seenByB)}`);
    assert(ownA.own && ownA.user === ids.a, `Ann's own comment is not marked as hers: ${JSON.stringify(ownA)}`);
    assert(await a.page.inputValue('#chat-input') === '', 'the input is cleared after sending');

    // B → A, with the Send button.
    const fromB = `hi Ann, Bob here ${Date.now()}`;
    t = Date.now();
    await b.page.fill('#chat-input', fromB);
    await b.page.click('#chat-send');
    const seenByA = await commentIn(a.page, fromB, "Bob's comment in Ann's page");
    report.bToAMs = Date.now() - t;
    assert(seenByA.user === ids.b && seenByA.name === 'Bob', `Ann sees ${JSON.stringify(seenByA)}`);

    // Hostile text stays text.
    await b.page.fill('#chat-input', HOSTILE);
    await b.page.press('#chat-input', 'Enter');
    await commentIn(a.page, HOSTILE, "the hostile comment in Ann's page");
    await a.page.waitForTimeout(300);
    const dom = await a.page.evaluate(() => ({
        imgs: document.querySelectorAll('#chat img').length,
        html: [...document.querySelectorAll('#chat .comment .text')].pop().innerHTML,
    }));
    report.hostile = dom;
    assert(dom.imgs === 0, `an <img> was created in the chat (${dom.imgs})`);
    assert(dom.html.includes('&lt;img'), `the comment's markup is ${dom.html}`);

    // Too long: refused on the page with a toast, nothing sent.
    await a.page.fill('#chat-input', 'x'.repeat(501));
    await a.page.press('#chat-input', 'Enter');
    await waitInPage(a.page, () => document.querySelector('#toast').classList.contains('show') &&
        /500 characters/.test(document.querySelector('#toast').textContent), null, { timeout: 3000, what: 'the too-long toast' });
    report.tooLongToast = await a.page.textContent('#toast');
    report.screenshot = await screenshot(a.page, args.artifacts, 'viewer-chat.png');
    assert(dialogs.length === 0, `dialogs opened: ${dialogs.join(', ')}`);

    // No MSE: native HLS.
    const c = await newPage(browser, { base: args.base });
    await c.page.addInitScript(() => {
        delete window.MediaSource;
        delete window.ManagedMediaSource;
        delete window.WebKitMediaSource;
        const orig = HTMLMediaElement.prototype.canPlayType;
        HTMLMediaElement.prototype.canPlayType = function (type) {
            return /mpegurl/i.test(type) ? 'maybe' : orig.call(this, type);
        };
    });
    const requests = [];
    c.page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    await c.page.goto(`${args.base}/live/${args.room}`);
    // Live: video.src is the HLS playlist; not live: the page waits on the HLS playlist.
    await waitInPage(c.page, () => (document.querySelector('#player').getAttribute('src') || '').endsWith('/master.m3u8') ||
        document.querySelector('#video-status').dataset.state === 'waiting', null,
    { timeout: 15000, what: 'the HLS fallback to load or wait for the playlist' });
    report.hlsFallback = {
        engine: await c.page.evaluate(() => window.__livecart.engine),
        state: await c.page.evaluate(() => window.__livecart.playerState),
        src: await c.page.getAttribute('#player', 'src'),
        askedForHls: requests.includes(`/media/${args.room}/master.m3u8`),
        askedForDash: requests.some((p) => p.endsWith('.mpd') || p === '/assets/dash.all.min.js'),
    };
    const f = report.hlsFallback;
    assert(f.engine === 'hls' && f.askedForHls && !f.askedForDash, `fallback: ${JSON.stringify(f)}`);
    const fatal = [...a.errors, ...b.errors].filter((e) => e.startsWith('pageerror'));
    assert(fatal.length === 0, `page errors: ${fatal.join('; ')}`);
    log(`A→B ${report.aToBMs} ms, B→A ${report.bToAMs} ms`);
});
