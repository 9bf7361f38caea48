#!/usr/bin/env node
// Scenario 5: reconnect and resume without the viewer noticing.
//
//   node web/tests/viewer-reconnect.mjs --base http://HOST:PORT --merchant-token T
//        [--room demo] [--artifacts DIR]
//
// Viewer A's socket drops twice while viewer B keeps commenting:
//  1. a short drop (the socket is closed under the page): A reconnects at once, resumes
//     from its last offset, shows B's comment sent meanwhile, and never shows the
//     "reconnecting" indicator (drops under 2 s stay invisible);
//  2. a longer outage (the browser context offline for ~3.5 s, the socket closed): the
//     indicator appears after 2 s and goes away on reconnect; the comment B sent during
//     the outage appears.
// Through both: no reload, the same DOM nodes for earlier comments, the same identity,
// `join` carries `resume`, no snapshot is needed, and __livecart.reconnects counts 2.

import { assert, openViewer, scenario, screenshot, waitInPage } from './lib.mjs';

scenario('viewer-reconnect', async ({ args, browser, report, log }) => {
    const sent = [];
    const received = [];
    const a = await openViewer(browser, args.base, args.room, {
        query: { name: 'Ann' },
        beforeGoto: (page) => page.on('websocket', (ws) => {
            ws.on('framesent', (f) => {
                try {
                    const m = JSON.parse(f.payload);
                    if (m.type === 'join') sent.push(m);
                } catch (_) { /* not JSON */ }
            });
            ws.on('framereceived', (f) => {
                try {
                    const m = JSON.parse(f.payload);
                    if (m.type === 'snapshot') received.push({ type: m.type, at: Date.now() });
                } catch (_) { /* not JSON */ }
            });
        }),
    });
    const b = await openViewer(browser, args.base, args.room, { query: { name: 'Bob' } });
    const say = async (text) => {
        await b.page.fill('#chat-input', text);
        await b.page.press('#chat-input', 'Enter');
    };
    const seen = (text, timeout, what) => waitInPage(a.page,
        (t) => [...document.querySelectorAll('#chat .comment .text')].some((n) => n.textContent === t), text, { timeout, what });

    // Before: a comment on screen, marked so we can tell the page kept its DOM.
    const before = `before the drop ${Date.now()}`;
    await say(before);
    await seen(before, 8000, 'the first comment');
    const user = await a.page.evaluate((t) => {
        window.__noReload = true;
        const n = [...document.querySelectorAll('#chat .comment')].find((c) => c.querySelector('.text').textContent === t);
        n.__marked = true;
        // Watch the indicator.
        const conn = document.querySelector('#conn');
        window.__indicator = [];
        new MutationObserver(() => window.__indicator.push({ shown: conn.classList.contains('show'), state: conn.dataset.state, at: Date.now() }))
            .observe(conn, { attributes: true });
        return window.__livecart.user.id;
    }, before);
    const joinsBefore = sent.length;

    // 1. A short drop.
    const missed1 = `said during a short drop ${Date.now()}`;
    let t0 = Date.now();
    await a.page.evaluate(() => window.__livecart.ws.close());
    await say(missed1);
    await seen(missed1, 10000, 'the comment sent during the short drop');
    report.shortDrop = {
        resumedAfterMs: Date.now() - t0,
        reconnects: await a.page.evaluate(() => window.__livecart.reconnects),
        indicatorShown: await a.page.evaluate(() => window.__indicator.some((i) => i.shown)),
    };
    assert(report.shortDrop.reconnects === 1, `reconnects after the short drop: ${report.shortDrop.reconnects}`);
    assert(!report.shortDrop.indicatorShown, 'the reconnecting indicator showed for a short drop');

    // 2. A longer outage: offline, the socket cut.
    const missed2 = `said while you were offline ${Date.now()}`;
    t0 = Date.now();
    await a.context.setOffline(true);
    await a.page.evaluate(() => window.__livecart.ws && window.__livecart.ws.close());
    await say(missed2);
    await waitInPage(a.page, () => document.querySelector('#conn').classList.contains('show'), null,
        { timeout: 5000, what: 'the reconnecting indicator during the outage' });
    const indicatorAfterMs = Date.now() - t0;
    await a.page.waitForTimeout(Math.max(0, 3500 - (Date.now() - t0)));
    const duringOutage = await a.page.evaluate((t) =>
        [...document.querySelectorAll('#chat .comment .text')].some((n) => n.textContent === t), missed2);
    await a.context.setOffline(false);
    const t1 = Date.now();
    await seen(missed2, 15000, 'the comment sent during the outage');
    await waitInPage(a.page, () => !document.querySelector('#conn').classList.contains('show') &&
        document.querySelector('#conn').dataset.state === 'live', null, { timeout: 5000, what: 'the indicator to go away' });
    report.outage = {
        indicatorAfterMs,
        commentShownWhileOffline: duringOutage,
        resumedAfterOnlineMs: Date.now() - t1,
    };

    const after = await a.page.evaluate((t) => ({
        noReload: window.__noReload === true,
        sameNode: [...document.querySelectorAll('#chat .comment')].some((c) => c.__marked && c.querySelector('.text').textContent === t),
        user: window.__livecart.user.id,
        reconnects: window.__livecart.reconnects,
        epoch: window.__livecart.epoch,
        offset: window.__livecart.offset,
        states: window.__indicator.map((i) => `${i.state}${i.shown ? '+shown' : ''}`),
    }), before);
    report.after = after;
    const joins = sent.slice(joinsBefore);
    report.joins = joins;
    report.snapshots = received.length;
    assert(after.noReload && after.sameNode, `the page was rebuilt: ${JSON.stringify(after)}`);
    assert(after.user === user, `identity changed: ${user} → ${after.user}`);
    assert(after.reconnects === 2, `__livecart.reconnects is ${after.reconnects}, expected 2`);
    assert(joins.length >= 2 && joins.every((j) => j.resume && j.resume.epoch === after.epoch),
        `joins after the drops must resume: ${JSON.stringify(joins)}`);
    assert(received.length === 1, `a resume needs no snapshot, got ${received.length} snapshots`);
    assert(!duringOutage, 'the comment showed while offline?');
    report.screenshot = await screenshot(a.page, args.artifacts, 'viewer-reconnect.png');
    log(`short drop resumed in ${report.shortDrop.resumedAfterMs} ms; outage resumed ${report.outage.resumedAfterOnlineMs} ms after going online`);
});
