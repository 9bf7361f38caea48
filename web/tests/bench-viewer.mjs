#!/usr/bin/env node
// Benchmark of the viewer page as a viewer meets it, in headless Chromium against a running
// `livecart serve`: how long until the room is joined and the first video frame plays,
// how much the page weighs, and then the live latency and stalls while watching.
//
//   node web/tests/bench-viewer.mjs --base http://127.0.0.1:8080 [--room demo]
//        [--runs 10] [--watch 30]
//
// Each run is a fresh browser context (cold cache, new guest). Prints a JSON report:
// p50/p90 of navigation → joined (#conn live) and navigation → first frame (video
// currentTime > 0), bytes on the wire of the page's own files and of dash.js, and over --watch
// seconds of one viewer: dash.js live latency (p50/p90, first/last/max) and the number of stalls.

import { launch, newPage, parseArgs, waitInPage } from './lib.mjs';

function pct(values, p) {
    if (values.length === 0) return null;
    const s = [...values].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const args = parseArgs(process.argv.slice(2), { runs: '10', watch: '30' });
const runs = Number(args.runs);
const watch = Number(args.watch);
const browser = await launch();
const report = { runs, joined_ms: {}, first_frame_ms: {}, bytes: {}, watch_s: watch };
try {
    const joined = [];
    const firstFrame = [];
    let bytes = null;
    for (let i = 0; i < runs; i++) {
        const { context, page } = await newPage(browser, { base: args.base });
        const sizes = { page: 0, dashjs: 0 };
        page.on('response', async (r) => {
            const url = new URL(r.url());
            if (url.pathname.startsWith('/media/') || url.pathname.startsWith('/api/')) return;
            // Bytes on the wire (compressed when the host gzipped them).
            const wire = await r.request().sizes().then((z) => z.responseBodySize).catch(() => 0);
            if (url.pathname.endsWith('dash.all.min.js')) sizes.dashjs += wire;
            else sizes.page += wire;
        });
        const t0 = Date.now();
        await page.goto(`${args.base}/live/${encodeURIComponent(args.room)}`);
        await waitInPage(page, () => document.querySelector('#conn')?.dataset.state === 'live', null,
            { timeout: 20000, what: 'the room to be joined' });
        joined.push(Date.now() - t0);
        await waitInPage(page, () => (document.querySelector('video#player')?.currentTime || 0) > 0, null,
            { timeout: 30000, what: 'the first video frame' });
        firstFrame.push(Date.now() - t0);
        bytes = sizes;
        await context.close();
    }
    report.joined_ms = { p50: pct(joined, 50), p90: pct(joined, 90), all: joined };
    report.first_frame_ms = { p50: pct(firstFrame, 50), p90: pct(firstFrame, 90), all: firstFrame };
    report.bytes = bytes;

    // One viewer watching: latency and stalls as the page itself measures them.
    const { context, page } = await newPage(browser, { base: args.base });
    await page.goto(`${args.base}/live/${encodeURIComponent(args.room)}`);
    await waitInPage(page, () => (document.querySelector('video#player')?.currentTime || 0) > 0, null,
        { timeout: 30000, what: 'the first video frame' });
    const latencies = [];
    const end = Date.now() + watch * 1000;
    await new Promise((r) => setTimeout(r, Math.min(5000, watch * 250)));
    while (Date.now() < end) {
        const l = await page.evaluate(() => window.__livecart?.latency);
        if (typeof l === 'number' && Number.isFinite(l) && l > 0) latencies.push(l);
        await new Promise((r) => setTimeout(r, 500));
    }
    // First, last and max too: a latency that creeps over the watch (issue 15) shows there.
    report.latency_s = {
        p50: pct(latencies, 50),
        p90: pct(latencies, 90),
        first: latencies[0] ?? null,
        last: latencies.at(-1) ?? null,
        max: latencies.length ? Math.max(...latencies) : null,
        samples: latencies.length,
    };
    report.stalls = await page.evaluate(() => window.__livecart?.stalls ?? null);
    await context.close();
} finally {
    await browser.close().catch(() => {});
}
console.log(JSON.stringify(report, null, 2));
