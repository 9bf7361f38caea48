#!/usr/bin/env node
// Scenario: a live's whole life on the viewer page. A new room that is not live yet shows
// "waiting for the host" (the chat works meanwhile); an OBS-like publisher (ffmpeg over
// RTMP) goes live and the page starts playing by itself; the publisher stops and the page
// says the live has ended.
//
//   node web/tests/viewer-lifecycle.mjs --base http://HOST:PORT --merchant-token T
//        --rtmp HOST:PORT [--artifacts DIR] [--seconds 8]

import { api, assert, openViewer, publish, scenario, screenshot, waitInPage } from './lib.mjs';

const statusText = (page) => page.evaluate(() => ({
    state: document.querySelector('#video-status').dataset.state,
    hidden: document.querySelector('#video-status').hidden,
    text: document.querySelector('#video-status-text').textContent,
}));

scenario('viewer-lifecycle', async ({ args, browser, report, log }) => {
    assert(args.rtmp, '--rtmp HOST:PORT is required');
    const rest = api(args.base, args.merchantToken);
    const room = await rest.post('/api/rooms', { title: 'Lifecycle test' });
    const v = await openViewer(browser, args.base, room.id);
    const { page } = v;

    await waitInPage(page, () => document.querySelector('#video-status').dataset.state === 'waiting', null,
        { timeout: 8000, what: '"waiting for the host"' });
    report.waiting = await statusText(page);
    assert(/waiting for the host/i.test(report.waiting.text), `waiting text: ${report.waiting.text}`);
    report.waitingScreenshot = await screenshot(page, args.artifacts, 'viewer-waiting.png');

    const seconds = Number(args.seconds);
    const t0 = Date.now();
    const ffmpeg = publish(`rtmp://${args.rtmp}/live/${room.stream_key}`, seconds);
    let ffmpegErr = '';
    ffmpeg.stderr.on('data', (d) => { ffmpegErr += d; });
    const exited = new Promise((resolve) => ffmpeg.on('exit', resolve));
    try {
        await waitInPage(page, () => window.__livecart.playerState === 'playing' &&
            document.querySelector('#player').currentTime > 0, null,
        { timeout: 15000, what: 'the page to start playing once the host is live' });
        report.playingAfterPublishMs = Date.now() - t0;
        const t = await page.evaluate(() => document.querySelector('#player').currentTime);
        await waitInPage(page, (x) => document.querySelector('#player').currentTime > x + 1, t,
            { timeout: 8000, what: 'the video to advance' });
        const code = await exited;
        report.ffmpegExit = code;
        assert(code === 0, `ffmpeg exited with ${code}: ${ffmpegErr.slice(0, 500)}`);
    } finally {
        ffmpeg.kill('SIGKILL');
    }
    const t1 = Date.now();
    await waitInPage(page, () => document.querySelector('#video-status').dataset.state === 'ended', null,
        { timeout: 20000, what: '"the live has ended"' });
    report.endedAfterStopMs = Date.now() - t1;
    report.ended = await statusText(page);
    assert(/ended/i.test(report.ended.text) && !report.ended.hidden, `ended: ${JSON.stringify(report.ended)}`);
    report.stalls = await page.evaluate(() => window.__livecart.stalls);
    report.endedScreenshot = await screenshot(page, args.artifacts, 'viewer-ended.png');
    log(`playing ${report.playingAfterPublishMs} ms after publishing; ended ${report.endedAfterStopMs} ms after the publisher stopped`);
}, { rtmp: null, seconds: '8' });
