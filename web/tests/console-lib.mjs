// console-lib.mjs — what the console's browser scenarios (console-*.mjs) share on top of
// the shared lib.mjs (launching Chromium, pages, waiting, the scenario report): the
// console page at laptop size, signing in, answering the confirmation dialog, collecting
// the page errors that matter, and comparing JSON configs.

import { newPage } from './lib.mjs';

/** The value of `--name VALUE`, removed from process.argv (lib.mjs's parseArgs accepts
 * only the shared options); `fallback` when absent. */
export function takeArg(name, fallback = null) {
    const i = process.argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    if (i + 1 >= process.argv.length) throw new Error(`--${name} needs a value`);
    const [, value] = process.argv.splice(i, 2);
    return value;
}

/** A console-sized page (1280x900 unless told) whose other-origin requests (merchants'
 * product images) are answered locally by lib.mjs. */
export async function openConsole(browser, base, { viewport = { width: 1280, height: 900 } } = {}) {
    const v = await newPage(browser, { base, viewport });
    v.page.setDefaultTimeout(15_000);
    await v.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    return v;
}

/** Errors a page logged, minus the HTTP refusals a scenario provokes on purpose (Chromium
 * logs every 4xx answer as "Failed to load resource"; the scenario checks those itself). */
export function unexpected(errors) {
    return errors.filter((e) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(e));
}

/** Open the console and sign in with `token`; waits for the app. */
export async function signIn(page, base, token) {
    await page.goto(`${base}/console`);
    await page.waitForSelector('#signin-form', { state: 'visible' });
    await page.fill('#token', token);
    await page.click('#signin-submit');
    await page.waitForSelector('#app', { state: 'visible' });
}

/** Answer the console's confirmation dialog with its confirm button. */
export async function confirm(page) {
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await page.waitForSelector('#confirm', { state: 'hidden' });
}

/** The trimmed text of `selector`. */
export async function text(page, selector) {
    return ((await page.textContent(selector)) || '').trim();
}

/** Like lib.mjs's waitFor, but an exception inside `fn` (an element not there yet, JSON
 * half rendered) counts as "not yet". */
export async function until(fn, what, timeout = 15_000, interval = 150) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
        try {
            last = await fn();
            if (last) return last;
        } catch (e) {
            last = `threw: ${e.message}`;
        }
        if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
        await new Promise((r) => setTimeout(r, interval));
    }
}

/** JSON text or value with object keys sorted (the server stores configs re-serialized). */
export function canon(v) {
    if (typeof v === 'string') v = JSON.parse(v);
    const sort = (x) => (Array.isArray(x) ? x.map(sort)
        : x && typeof x === 'object' ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort(x[k])])) : x);
    return JSON.stringify(sort(v));
}

/** `step(name, detail?)`: records a passed step in the report and logs it on stderr. */
export function stepper(report, log) {
    report.steps = [];
    return (name, detail) => {
        report.steps.push(detail === undefined ? name : { [name]: detail });
        log(`ok: ${name}`);
    };
}
