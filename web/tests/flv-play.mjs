#!/usr/bin/env node
// Plays a room's HTTP-FLV (`/media/{room}/live.flv`) with mpegts.js in headless Chromium,
// as the FLV players of this market do, and pushes a product card while it plays: the
// card's event must reach the player in-band (mpegts.js's SCRIPTDATA_ARRIVED, an
// `onCuePoint`) at the card's media time. Prints a JSON report; exits 1 on failure.
//
//   node web/tests/flv-play.mjs --base URL --merchant-token T [--room demo]
//                               [--rung v1] [--seconds 6]

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WEB, api, assert, newPage, scenario, waitFor, waitInPage } from './lib.mjs';

const MPEGTS = join(WEB, 'node_modules', 'mpegts.js', 'dist', 'mpegts.js');

scenario('flv-play', async ({ args, browser, report, log }) => {
    const rest = api(args.base, args.merchantToken);
    await waitFor(async () => (await fetch(`${args.base}/media/${args.room}/live.mpd`)).ok,
        { timeout: 15000, what: 'the live to start' });
    const rung = args.rung ? `?rung=${encodeURIComponent(args.rung)}` : '';
    const url = `${args.base}/media/${args.room}/live.flv${rung}`;
    const { page, errors } = await newPage(browser, { base: args.base });
    // A page of the server's origin, then the player: no build step, no bundler.
    await page.goto(`${args.base}/healthz`);
    await page.setContent('<!doctype html><video id="v" muted playsinline width="320" height="180"></video>');
    await page.addScriptTag({ content: readFileSync(MPEGTS, 'utf8') });
    report.supported = await page.evaluate(() => mpegts.getFeatureList().mseLivePlayback);
    assert(report.supported, 'mpegts.js: no MSE live playback in this Chromium');
    await page.evaluate((src) => {
        const video = document.getElementById('v');
        const st = window.__flv = { cues: [], errors: [], version: mpegts.version };
        const player = mpegts.createPlayer({ type: 'flv', isLive: true, url: src },
            { enableWorker: false, liveBufferLatencyChasing: true });
        player.on(mpegts.Events.ERROR, (type, detail, info) =>
            st.errors.push(`${type} ${detail} ${JSON.stringify(info)}`));
        player.on(mpegts.Events.SCRIPTDATA_ARRIVED, (data) => {
            if (data && data.onCuePoint) {
                st.cues.push({ ...data.onCuePoint, currentTime: video.currentTime });
            }
        });
        player.attachMediaElement(video);
        player.load();
        video.play().catch((e) => st.errors.push(`play: ${e.message}`));
    }, url);
    await waitInPage(page, () => document.getElementById('v').currentTime > 1, null,
        { timeout: 20000, what: 'mpegts.js to play live.flv' });
    const t0 = await page.evaluate(() => document.getElementById('v').currentTime);

    const card = await rest.post(`/api/rooms/${args.room}/push`, { product_id: 'sku-tee', duration_ms: 500 });
    report.push = { push_id: card.push_id, media_ms: card.media_ms };
    log(`pushed ${card.push_id} at media ${card.media_ms} ms`);
    const cue = await waitFor(async () => page.evaluate((id) =>
        window.__flv.cues.find((c) => c.parameters && String(c.parameters.payload).includes(id)), card.push_id),
    { timeout: 15000, what: 'the card\'s cue point' });
    report.cue = cue;
    await page.waitForTimeout(Number(args.seconds) * 1000);
    const end = await page.evaluate(() => {
        const v = document.getElementById('v');
        const q = v.getVideoPlaybackQuality();
        return { currentTime: v.currentTime, frames: q.totalVideoFrames, dropped: q.droppedVideoFrames,
            width: v.videoWidth, height: v.videoHeight, st: window.__flv };
    });
    report.version = end.st.version;
    report.played_s = +(end.currentTime - t0).toFixed(2);
    report.frames = end.frames;
    report.size = [end.width, end.height];
    report.player_errors = end.st.errors;
    report.page_errors = errors;
    assert(report.played_s > Number(args.seconds) * 0.6, `played ${report.played_s} s in ${args.seconds} s`);
    assert(end.st.errors.length === 0, `player errors: ${end.st.errors.join('; ')}`);
    assert(cue.name === 'livecart' && cue.type === 'event', `cue point ${JSON.stringify(cue)}`);
    assert(Math.abs(cue.time * 1000 - card.media_ms) < 1, `cue at ${cue.time} s, card at ${card.media_ms} ms`);
}, { rung: '', seconds: '6' });
