#!/usr/bin/env node
// Scenario: the player switches rungs by itself on a weak network. Needs a server whose
// demo room has at least two video rungs (`livecart serve --ladder` with two heights).
//
//   node web/tests/viewer-abr.mjs --base http://HOST:PORT --merchant-token T [--room demo]
//        [--artifacts DIR]
//
// The page's network is shaped with Chrome's emulation (CDP): at 20 Mb/s the player
// climbs to the top rung; at 700 kb/s it drops to a lower one instead of stalling for
// good, and keeps playing near the target latency; back at 20 Mb/s it climbs again.

import { assert, openViewer, scenario, waitInPage } from './lib.mjs';

scenario('viewer-abr', async ({ args, browser, report, log }) => {
    let cdp = null;
    const v = await openViewer(browser, args.base, args.room, {
        beforeGoto: async (page) => {
            cdp = await page.context().newCDPSession(page);
            await cdp.send('Network.enable');
        },
    });
    const { page } = v;
    const shape = (kbps, latencyMs) => cdp.send('Network.emulateNetworkConditions', {
        offline: false, latency: latencyMs, downloadThroughput: (kbps * 1000) / 8, uploadThroughput: 1e6,
    });
    const state = () => page.evaluate(() => {
        const d = window.__livecart.player.dash;
        const list = d ? d.getBitrateInfoListFor('video') : [];
        return {
            quality: d ? d.getQualityFor('video') : null,
            top: list.length - 1,
            heights: list.map((b) => b.height),
            height: document.querySelector('#player').videoHeight,
            latency: window.__livecart.latency,
            stalls: window.__livecart.stalls,
            currentTime: document.querySelector('#player').currentTime,
        };
    });
    await shape(20000, 10);
    await waitInPage(page, () => window.__livecart.playerState === 'playing', null,
        { timeout: 30000, what: 'the video to play' });
    const start = await state();
    assert(start.top >= 1, `the live has ${start.top + 1} video rung(s): run the server with a two-rung --ladder`);

    const t0 = Date.now();
    await waitInPage(page, () => {
        const d = window.__livecart.player.dash;
        return d.getQualityFor('video') === d.getBitrateInfoListFor('video').length - 1 &&
            document.querySelector('#player').videoHeight === Math.max(...d.getBitrateInfoListFor('video').map((b) => b.height));
    }, null, { timeout: 15000, what: 'the top rung at 20 Mb/s' });
    report.good = { ...(await state()), reachedTopAfterMs: Date.now() - t0 };

    await shape(700, 40);
    const t1 = Date.now();
    await waitInPage(page, () => window.__livecart.player.dash.getQualityFor('video') <
        window.__livecart.player.dash.getBitrateInfoListFor('video').length - 1, null,
    { timeout: 15000, what: 'a lower rung at 700 kb/s' });
    report.weak = { droppedAfterMs: Date.now() - t1 };
    const t = (await state()).currentTime;
    await waitInPage(page, (x) => document.querySelector('#player').currentTime > x + 3, t,
        { timeout: 10000, what: 'the video to keep playing on the weak network' });
    // The switch itself costs latency (the top rung's segment in flight arrives slowly);
    // dash.js then catches up on the lower rung: within 4 s of live again, not drifting.
    report.weak.latencyAfterSwitch = await page.evaluate(() => window.__livecart.latency);
    await waitInPage(page, () => window.__livecart.latency !== null && window.__livecart.latency < 4, null,
        { timeout: 15000, what: 'the latency on the weak network to come back under 4 s' }).catch(() => null);
    Object.assign(report.weak, await state());

    await shape(20000, 10);
    const t2 = Date.now();
    await waitInPage(page, () => {
        const d = window.__livecart.player.dash;
        return d.getQualityFor('video') === d.getBitrateInfoListFor('video').length - 1;
    }, null, { timeout: 20000, what: 'the top rung again after the network recovered' });
    report.recovered = { ...(await state()), climbedAfterMs: Date.now() - t2 };
    report.switches = await page.evaluate(() => window.__livecart.qualitySwitches.map((s) => s.height));
    assert(report.weak.latency !== null && report.weak.latency < 4, `latency on the weak network: ${report.weak.latency}`);
    log(`top after ${report.good.reachedTopAfterMs} ms; dropped ${report.weak.droppedAfterMs} ms after 700 kb/s; back up ${report.recovered.climbedAfterMs} ms after recovery; heights ${report.switches}`);
});
