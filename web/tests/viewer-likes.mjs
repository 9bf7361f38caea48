#!/usr/bin/env node
// Scenario 3: a like storm. One viewer taps the heart 300 times as fast as the mouse goes;
// the taps are merged into a few `like` messages (one per 300 ms at most), the tapper's
// count never goes backwards, floating hearts appear, and both viewers' counts and the
// room's total (REST) end at +300.
//
//   node web/tests/viewer-likes.mjs --base http://HOST:PORT --merchant-token T [--room demo]
//        [--artifacts DIR] [--taps 300]

import { api, assert, openViewer, scenario, waitFor, waitInPage } from './lib.mjs';

scenario('viewer-likes', async ({ args, browser, report, log }) => {
    const taps = Number(args.taps);
    const rest = api(args.base, args.merchantToken);
    const before = (await rest.get(`/api/rooms/${args.room}`)).likes;
    const likeFrames = [];
    const a = await openViewer(browser, args.base, args.room, {
        beforeGoto: (page) => page.on('websocket', (ws) => ws.on('framesent', (f) => {
            try {
                const m = JSON.parse(f.payload);
                if (m.type === 'like') likeFrames.push({ at: Date.now(), count: m.count });
            } catch (_) { /* not JSON */ }
        })),
    });
    const b = await openViewer(browser, args.base, args.room);
    // Start from what the pages show (the room may have likes already). Counts are shown
    // grouped in the page's locale (en here: "1,300").
    await waitInPage(a.page, (n) => Number(document.querySelector('#likes .n').textContent.replace(/,/g, '')) >= n, before,
        { what: 'the page to show the room total' });
    // Record every value the tapper's counter shows.
    await a.page.evaluate(() => {
        const n = document.querySelector('#likes .n');
        window.__seen = [Number(n.textContent.replace(/,/g, ''))];
        window.__maxHearts = 0;
        new MutationObserver(() => {
            window.__seen.push(Number(n.textContent.replace(/,/g, '')));
            window.__maxHearts = Math.max(window.__maxHearts, document.querySelectorAll('#hearts .float-heart').length);
        }).observe(n, { childList: true, characterData: true, subtree: true });
    });

    const box = await a.page.locator('#like').boundingBox();
    const t0 = Date.now();
    for (let i = 0; i < taps; i++) {
        await a.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    }
    report.stormMs = Date.now() - t0;
    const target = before + taps;
    await waitInPage(a.page, (n) => Number(document.querySelector('#likes .n').textContent.replace(/,/g, '')) >= n, target,
        { timeout: 5000, what: `the tapper's count to reach ${target}` });
    await waitInPage(b.page, (n) => Number(document.querySelector('#likes .n').textContent.replace(/,/g, '')) >= n, target,
        { timeout: 5000, what: `the other viewer's count to reach ${target}` });
    report.otherSawAfterMs = Date.now() - t0 - report.stormMs;
    const server = await waitFor(async () => {
        const r = await rest.get(`/api/rooms/${args.room}`);
        return r.likes >= target ? r.likes : null;
    }, { timeout: 5000, what: `the room total to reach ${target}` });
    await a.page.waitForTimeout(1200); // late totals must not move anything
    const shown = {
        a: Number((await a.page.textContent('#likes .n')).replace(/,/g, '')),
        b: Number((await b.page.textContent('#likes .n')).replace(/,/g, '')),
        server: (await rest.get(`/api/rooms/${args.room}`)).likes,
    };
    const seen = await a.page.evaluate(() => window.__seen);
    const backwards = seen.findIndex((v, i) => i > 0 && v < seen[i - 1]);
    report.before = before;
    report.shown = shown;
    report.likeMessages = likeFrames.length;
    report.likeTapsSent = likeFrames.reduce((n, f) => n + f.count, 0);
    report.maxHeartsOnScreen = await a.page.evaluate(() => window.__maxHearts);
    report.distinctValuesShown = new Set(seen).size;
    assert(server === target && shown.server === target, `room total ${shown.server}, expected ${target}`);
    assert(shown.a === target && shown.b === target, `pages show ${shown.a} and ${shown.b}, expected ${target}`);
    assert(backwards < 0, `the count went backwards: ${seen[backwards - 1]} → ${seen[backwards]}`);
    assert(report.likeTapsSent === taps, `sent ${report.likeTapsSent} taps in like messages, tapped ${taps}`);
    const maxMessages = Math.ceil((report.stormMs + 1000) / 300) + 1;
    assert(likeFrames.length <= maxMessages, `${likeFrames.length} like messages for a ${report.stormMs} ms storm (merged: ≤ ${maxMessages})`);
    assert(report.maxHeartsOnScreen > 0, 'no floating hearts');
    log(`${taps} taps in ${report.stormMs} ms → ${likeFrames.length} like messages; totals ${JSON.stringify(shown)}`);
}, { taps: '300' });
