#!/usr/bin/env node
// Plays a live DASH MPD with dash.js in headless Chromium and reports what happened as
// JSON on stdout; exits non-zero when playback failed.
//
//   node web/tests/dash-play.mjs --mpd URL [--seconds N] [--latency] [--warmup S]
//                                [--screenshot PATH]
//
// The player page comes from this script's own HTTP server on a port of its own, so the
// MPD, segments and UTCTiming are fetched cross-origin, as a viewer page on another host
// would. --latency adds p50/p90 of dash.js's live latency over the samples taken after
// the warm-up (default: 10 s with --latency, 0 otherwise).
//
// dash.js v4 has no `lowLatencyEnabled` setting any more (removed in v4.4): it enters its
// low-latency mode by itself when the MPD says availabilityTimeComplete="false", and the
// report shows whether it did (`lowLatencyMode`).

import { createServer } from 'node:http';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
const DASHJS = join(WEB, 'node_modules', 'dashjs', 'dist', 'dash.all.min.js');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SETUP_HINT = 'run scripts/test.sh (its ensure_web installs chromium and web/node_modules)';

function fail(message, report) {
    if (report) console.log(JSON.stringify(report, null, 2));
    console.error(`dash-play: FAIL: ${message}`);
    process.exit(1);
}

function parseArgs(argv) {
    const opts = { mpd: null, seconds: 8, latency: false, warmup: null, screenshot: null };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) fail(`${a} needs a value`);
            return argv[++i];
        };
        if (a === '--mpd') opts.mpd = value();
        else if (a === '--seconds') opts.seconds = Number(value());
        else if (a === '--latency') opts.latency = true;
        else if (a === '--warmup') opts.warmup = Number(value());
        else if (a === '--screenshot') opts.screenshot = value();
        else fail(`unknown argument ${a}`);
    }
    if (!opts.mpd) fail('--mpd URL is required');
    if (!(opts.seconds > 0)) fail('--seconds must be a positive number');
    if (opts.warmup === null) opts.warmup = opts.latency ? Math.min(10, opts.seconds / 4) : 0;
    return opts;
}

function percentile(sorted, p) {
    if (sorted.length === 0) return null;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i];
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>dash-play</title>
<style>body{margin:0;background:#111;color:#eee;font:12px monospace}video{width:640px;height:360px;background:#000}</style>
</head><body>
<video id="v" muted playsinline></video>
<pre id="s"></pre>
<script src="/dash.all.min.js"></script>
<script>
(function () {
    const q = new URLSearchParams(location.search);
    const mpd = q.get('mpd');
    const video = document.getElementById('v');
    video.muted = true;
    const st = window.__dash = {
        version: dashjs.Version || null,
        h264: MediaSource.isTypeSupported('video/mp4; codecs="avc1.42c01e"'),
        started: false, startedAt: null, errors: [], waiting: 0, stalled: 0,
        dashStalls: 0, qualityChanges: [], samples: [], representations: [],
        lowLatencyMode: null, targetLiveDelay: null, t0: performance.now(),
    };
    const since = () => (performance.now() - st.t0) / 1000;
    const player = dashjs.MediaPlayer().create();
    player.updateSettings({
        debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING },
        // The target latency comes from the MPD's ServiceDescription, as for a viewer.
        streaming: {
            liveCatchup: { enabled: true },
        },
    });
    const E = dashjs.MediaPlayer.events;
    player.on(E.ERROR, (e) => {
        const err = e.error || {};
        st.errors.push({ at: since(), code: err.code ?? null, message: err.message ?? String(e.error) });
    });
    player.on(E.PLAYBACK_STARTED, () => {
        if (!st.started) { st.started = true; st.startedAt = since(); }
    });
    player.on(E.PLAYBACK_WAITING, () => { st.dashStalls++; });
    player.on(E.QUALITY_CHANGE_RENDERED, (e) => {
        if (e.mediaType === 'video') st.qualityChanges.push({ at: since(), from: e.oldQuality, to: e.newQuality });
    });
    video.addEventListener('waiting', () => { st.waiting++; });
    video.addEventListener('stalled', () => { st.stalled++; });
    player.initialize(video, mpd, true);

    const safe = (f) => { try { return f(); } catch (_) { return null; } };
    setInterval(() => {
        const lat = safe(() => player.getCurrentLiveLatency());
        const s = {
            at: +since().toFixed(2),
            currentTime: +video.currentTime.toFixed(3),
            latency: typeof lat === 'number' && isFinite(lat) ? lat : null,
            buffer: safe(() => +player.getBufferLength('video').toFixed(3)),
            rate: video.playbackRate,
            quality: safe(() => player.getQualityFor('video')),
            paused: video.paused,
            height: video.videoHeight,
        };
        st.samples.push(s);
        if (!st.representations.length) {
            const list = safe(() => player.getBitrateInfoListFor('video')) || [];
            st.representations = list.map((b) => ({ qualityIndex: b.qualityIndex, width: b.width, height: b.height, bitrate: b.bitrate }));
        }
        st.lowLatencyMode = safe(() => player.getLowLatencyModeEnabled ? player.getLowLatencyModeEnabled() : null);
        st.targetLiveDelay = safe(() => player.getTargetLiveDelay());
        document.getElementById('s').textContent =
            'dash.js ' + st.version + '  t=' + s.currentTime + '  latency=' + s.latency +
            '  buffer=' + s.buffer + '  rate=' + s.rate + '  ' + video.videoWidth + 'x' + video.videoHeight +
            '  errors=' + st.errors.length;
    }, 250);
})();
</script></body></html>`;

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    if (!existsSync(DASHJS)) fail(`${DASHJS} is missing: ${SETUP_HINT}`);
    if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: ${SETUP_HINT}`);
    let chromium;
    try {
        ({ chromium } = await import('playwright-core'));
    } catch (e) {
        fail(`playwright-core is not installed (${e.message}): ${SETUP_HINT}`);
    }

    // The page's own origin: the page and dash.js, nothing else. Anything else asked of it
    // (e.g. a relative URL in the MPD resolved against the page) is recorded.
    const strayRequests = [];
    const dashjs = readFileSync(DASHJS);
    const server = createServer((req, res) => {
        const path = req.url.split('?')[0];
        if (path === '/') {
            res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
            res.end(PAGE);
        } else if (path === '/dash.all.min.js') {
            res.writeHead(200, { 'content-type': 'text/javascript' });
            res.end(dashjs);
        } else {
            if (path !== '/favicon.ico') strayRequests.push(req.url);
            res.writeHead(404);
            res.end();
        }
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const pageUrl = `http://127.0.0.1:${server.address().port}/?mpd=${encodeURIComponent(opts.mpd)}`;

    const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
            '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
            '--autoplay-policy=no-user-gesture-required',
        ],
    }).catch((e) => fail(`launching ${CHROMIUM}: ${e.message}`));

    const consoleErrors = [];
    const httpErrors = [];
    const pageOrigin = new URL(pageUrl).origin;
    const requests = { mpd: 0, inits: 0, segments: 0, other: new Set() };
    let state = null;
    try {
        const page = await browser.newPage({ viewport: { width: 660, height: 400 } });
        page.on('console', (m) => {
            const url = m.location()?.url || '';
            if (m.type() === 'error' && !url.endsWith('/favicon.ico')) {
                consoleErrors.push(`${m.text().slice(0, 300)}${url ? ` (${url})` : ''}`);
            }
        });
        page.on('request', (r) => {
            const url = r.url();
            if (url.endsWith('.mpd')) requests.mpd++;
            else if (url.endsWith('.m4s')) requests.segments++;
            else if (url.endsWith('/init.mp4')) requests.inits++;
            else if (!url.startsWith(pageOrigin)) requests.other.add(url);
        });
        page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
        page.on('response', (r) => {
            if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) httpErrors.push(`${r.status()} ${r.url()}`);
        });
        await page.goto(pageUrl);
        await page.waitForTimeout(opts.seconds * 1000);
        state = await page.evaluate(() => window.__dash);
        if (opts.screenshot) {
            mkdirSync(dirname(opts.screenshot), { recursive: true });
            await page.screenshot({ path: opts.screenshot });
        }
    } finally {
        await browser.close().catch(() => {});
        server.close();
    }

    const samples = state.samples;
    const playing = samples.filter((s) => s.currentTime > 0);
    const first = playing[0];
    const last = playing[playing.length - 1];
    const advanced = first && last ? +(last.currentTime - first.currentTime).toFixed(3) : 0;
    const latencies = samples.filter((s) => s.latency !== null && s.latency > 0);
    const report = {
        mpd: opts.mpd,
        page: pageUrl.split('?')[0],
        dashjs: state.version,
        h264Supported: state.h264,
        seconds: opts.seconds,
        playbackStarted: state.started && playing.length > 0,
        startedAfterSeconds: state.startedAt,
        currentTime: { first: first?.currentTime ?? null, last: last?.currentTime ?? null, advanced },
        waitingEvents: state.waiting,
        stalledEvents: state.stalled,
        dashWaitingEvents: state.dashStalls,
        errors: state.errors,
        representations: state.representations,
        heights: state.representations.map((r) => r.height),
        qualityChanges: state.qualityChanges,
        lowLatencyMode: state.lowLatencyMode,
        targetLiveDelay: state.targetLiveDelay,
        latency: {
            last: latencies.length ? latencies[latencies.length - 1].latency : null,
            samples: latencies.map((s) => s.latency),
        },
        requests: { ...requests, other: [...requests.other] },
        httpErrors,
        strayRequests,
        consoleErrors,
        samples: opts.latency ? undefined : samples,
    };
    if (opts.latency) {
        const steady = latencies.filter((s) => s.at >= opts.warmup).map((s) => s.latency).sort((a, b) => a - b);
        report.latency.warmupSeconds = opts.warmup;
        report.latency.count = steady.length;
        report.latency.p50 = percentile(steady, 50);
        report.latency.p90 = percentile(steady, 90);
        report.latency.min = steady[0] ?? null;
        report.latency.max = steady[steady.length - 1] ?? null;
        // 4 samples a second: keep the report short.
        report.latency.samples = latencies.filter((_, i) => i % 4 === 0).map((s) => s.latency);
    }

    if (!state.h264) fail(`${CHROMIUM} cannot play H.264 in MSE`, report);
    if (state.errors.length) {
        const e = state.errors[0];
        fail(`dash.js reported ${state.errors.length} error(s), first: code ${e.code}: ${e.message}`, report);
    }
    if (!report.playbackStarted) fail('playback never started', report);
    if (!(advanced > 0)) fail('video.currentTime did not advance', report);
    console.log(JSON.stringify(report, null, 2));
}

main().catch((e) => fail(e.stack || String(e)));
