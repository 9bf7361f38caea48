// Shared helpers for livecart's browser scenario scripts (web/tests/viewer-*.mjs,
// web/tests/console-*.mjs). Plain playwright-core + Debian's chromium; no test runner.
//
// API (all exported):
//   parseArgs(argv?, extra?)  → {base, merchantToken, room, artifacts, ...}
//        reads --base URL --merchant-token T --room R --artifacts DIR (and any --name value
//        listed in `extra` as {name: default}); --room defaults to "demo", --artifacts to
//        target/test-artifacts.
//   launch()                  → a Chromium Browser with the contract's flags.
//   newPage(browser, opts?)   → {context, page, errors}: a fresh context (own storage,
//        i.e. its own guest) with a 390x844 phone viewport by default (opts.viewport,
//        opts.isMobile, opts.hasTouch, opts.locale: the browser's language, e.g. 'zh-CN'),
//        product images from other origins served locally (so pages never
//        reach the internet), and `errors` collecting page errors and console errors.
//   openViewer(browser, base, room, opts?) → {context, page, errors}: newPage + /live/{room},
//        waits until the room is joined (#conn[data-state=live]). opts.query: URL query
//        ({name, token}); opts.beforeGoto(page): called before navigating (listeners,
//        init scripts); opts.timeout: join timeout (15 s).
//   api(base, token)          → {get(path), post(path, body?), req(method, path, body?)}:
//        JSON REST calls with `Authorization: Bearer <token>`; throw with the status and
//        body on non-2xx.
//   waitFor(fn, {timeout, interval, what}) → the first truthy value of (async) fn(),
//        else throws "timed out waiting for <what>" (with the last value seen).
//   waitInPage(page, fn, arg, {timeout, what}) → page.waitForFunction with a readable error.
//   screenshot(page, artifacts, name) → the saved path (`<artifacts>/<name>`).
//   scenario(name, body, extra?) → runs `async body(ctx)` where ctx = {args, browser, report,
//        log(msg)} (args = parseArgs(argv, extra): `extra` declares the script's own
//        options with their defaults, e.g. {taps: '300'}), prints ctx.report as JSON on stdout, closes the browser, exits 1 with
//        "<name>: FAIL: ..." on stderr when body throws.
//   assert(cond, message)     → throws Error(message) when cond is falsy.
//   publish(url, seconds)     → an ffmpeg child publishing a 320x180 test pattern and a tone
//        to `url` (rtmp://…/live/<key>) as OBS would (1 s GOP); its stderr is piped.

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const PHONE = { width: 390, height: 844 };

export function parseArgs(argv = process.argv.slice(2), extra = {}) {
    const opts = {
        base: null,
        merchantToken: null,
        room: 'demo',
        artifacts: resolve(WEB, '..', 'target', 'test-artifacts'),
        ...extra,
    };
    const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
        const key = camel(a.slice(2));
        if (!(key in opts)) throw new Error(`unknown option ${a}`);
        if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
        opts[key] = argv[++i];
    }
    if (!opts.base) throw new Error('--base URL is required');
    opts.base = opts.base.replace(/\/+$/, '');
    if (!/^https?:\/\//.test(opts.base)) opts.base = `http://${opts.base}`;
    mkdirSync(opts.artifacts, { recursive: true });
    return opts;
}

export async function launch() {
    let chromium;
    try {
        ({ chromium } = await import('playwright-core'));
    } catch (e) {
        throw new Error(`playwright-core is not installed (${e.message}): run scripts/test.sh`);
    }
    return chromium.launch({
        executablePath: CHROMIUM,
        args: [
            '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
            '--autoplay-policy=no-user-gesture-required',
            // WebRTC on loopback (the WHEP tests): allow it, and real host candidates.
            '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
        ],
    });
}

/** A small product picture (SVG) for images of other origins. */
function fakeImage(url) {
    const hue = [...url].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
    const label = (url.split('/').pop() || 'img').replace(/\.[a-z]+$/i, '').slice(0, 12);
    return `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="240" viewBox="0 0 240 240">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},70%,60%)"/>
<stop offset="1" stop-color="hsl(${(hue + 60) % 360},70%,40%)"/></linearGradient></defs>
<rect width="240" height="240" fill="url(#g)"/><text x="120" y="135" font-family="sans-serif" font-size="34"
fill="#fff" text-anchor="middle">${label.replace(/[<>&"]/g, '')}</text></svg>`;
}

export async function newPage(browser, opts = {}) {
    const context = await browser.newContext({
        viewport: opts.viewport || PHONE,
        isMobile: opts.isMobile ?? false,
        hasTouch: opts.hasTouch ?? false,
        deviceScaleFactor: opts.deviceScaleFactor || 1,
        ...(opts.locale ? { locale: opts.locale } : {}),
    });
    const base = opts.base ? new URL(opts.base).origin : null;
    // Nothing leaves the machine: other origins get a picture (images) or a stub page.
    await context.route((url) => base !== null && url.origin !== base, (route) => {
        const req = route.request();
        if (req.resourceType() === 'image') {
            return route.fulfill({ status: 200, contentType: 'image/svg+xml', body: fakeImage(req.url()) });
        }
        return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>shop</title><p>shop page</p>' });
    });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text().slice(0, 300)}`);
    });
    return { context, page, errors };
}

export async function openViewer(browser, base, room, opts = {}) {
    const v = await newPage(browser, { ...opts, base });
    if (opts.beforeGoto) await opts.beforeGoto(v.page);
    const query = opts.query ? `?${new URLSearchParams(opts.query)}` : '';
    await v.page.goto(`${base}/live/${encodeURIComponent(room)}${query}`);
    await waitInPage(v.page, () => document.querySelector('#conn')?.dataset.state === 'live', null,
        { timeout: opts.timeout || 15000, what: 'the viewer page to join the room' });
    return v;
}

export function api(base, token) {
    async function req(method, path, body) {
        const headers = { authorization: `Bearer ${token}` };
        if (body !== undefined) headers['content-type'] = 'application/json';
        const r = await fetch(`${base}${path}`, {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await r.text();
        if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status}: ${text.slice(0, 300)}`);
        try { return JSON.parse(text); } catch (_) { return text; }
    }
    return {
        req,
        get: (path) => req('GET', path),
        post: (path, body) => req('POST', path, body ?? {}),
        put: (path, body) => req('PUT', path, body ?? {}),
    };
}

export async function waitFor(fn, { timeout = 10000, interval = 200, what = 'a condition' } = {}) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
        last = await fn();
        if (last) return last;
        if (Date.now() > end) {
            throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
        }
        await new Promise((r) => setTimeout(r, interval));
    }
}

export async function waitInPage(page, fn, arg, { timeout = 10000, what = 'a condition in the page' } = {}) {
    try {
        return await page.waitForFunction(fn, arg, { timeout, polling: 100 });
    } catch (e) {
        throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    }
}

export async function screenshot(page, artifacts, name) {
    const path = join(artifacts, name);
    mkdirSync(dirname(path), { recursive: true });
    await page.screenshot({ path });
    return path;
}

export function publish(url, seconds) {
    return spawn('ffmpeg', [
        '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
        '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency',
        '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
        '-t', String(seconds), '-f', 'flv', url,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function assert(cond, message) {
    if (!cond) throw new Error(message);
}

export async function scenario(name, body, extra = {}) {
    const report = { scenario: name, ok: false };
    const started = Date.now();
    let browser = null;
    let failure = null;
    try {
        const args = parseArgs(process.argv.slice(2), extra);
        browser = await launch();
        const log = (msg) => console.error(`${name}: ${msg}`);
        await body({ args, browser, report, log });
        report.ok = true;
    } catch (e) {
        failure = e;
        report.error = String(e && e.message ? e.message : e);
    } finally {
        report.seconds = +((Date.now() - started) / 1000).toFixed(1);
        if (browser) await browser.close().catch(() => {});
    }
    console.log(JSON.stringify(report, null, 2));
    if (failure) {
        console.error(`${name}: FAIL: ${failure.stack || failure}`);
        process.exit(1);
    }
}
