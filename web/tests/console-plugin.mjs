#!/usr/bin/env node
// console-plugin.mjs — upload a plugin in the console, enable it, and see it react in a
// viewer page (issue 5, test 5), in headless Chromium against a real `livecart serve`:
//
// 1. In a room and with products created through the console, a file that is not
//    WebAssembly is refused with the server's validation message, and nothing is stored.
// 2. keyword-push.wasm is uploaded through the file input: the progress bar reaches 100%
//    and the accepted version shows its name, SHA-256 and capabilities.
// 3. It is enabled in the room with a config typed into the enable form (keywords → the
//    console-made products); a viewer page (`/live/{room}`) comments a keyword and the
//    product card appears.
// 4. A second build of the plugin (the same component with a custom section: another
//    hash) is dropped on the upload zone and enabled with a new config, prefilled from the
//    room's (the keyword now pushes the other product, seen in the viewer); rolling back
//    restores the first version and config, and the viewer sees that again.
// 5. A config the plugin refuses makes faults that show in the room's fault log; disable
//    and enable again work.
//
//   node web/tests/console-plugin.mjs --base URL --merchant-token T --plugin PATH
//                                     [--artifacts DIR]

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api as restApi, assert as check, openViewer, scenario } from './lib.mjs';
import {
    canon, confirm, openConsole, signIn, stepper, takeArg, text, unexpected, until,
} from './console-lib.mjs';

const pluginPath = takeArg('plugin');

/** `bytes` with a custom section appended: still a valid component, another hash. */
function withCustomSection(bytes, name, payload) {
    const leb = (n) => {
        const out = [];
        do {
            let b = n & 0x7f;
            n >>>= 7;
            if (n) b |= 0x80;
            out.push(b);
        } while (n);
        return Buffer.from(out);
    };
    const nameBytes = Buffer.from(name);
    const body = Buffer.concat([leb(nameBytes.length), nameBytes, Buffer.from(payload)]);
    return Buffer.concat([bytes, Buffer.from([0]), leb(body.length), body]);
}

scenario('console-plugin', async ({ args, browser, report, log }) => {
    const { base, artifacts } = args;
    const token = args.merchantToken;
    const step = stepper(report, log);
    check(pluginPath, '--plugin PATH (target/plugins/keyword-push.wasm) is required');
    const wasm = readFileSync(pluginPath);
    const wasmHash = createHash('sha256').update(wasm).digest('hex');
    const rest = restApi(base, token);
    const run = Date.now().toString(36).slice(-5);
    const teeId = `kp-tee-${run}`;
    const capId = `kp-cap-${run}`;

    const binding = async (room, name) => {
        const r = await rest.get(`/api/rooms/${room}/plugins`);
        return (r.plugins || []).find((p) => p.binding.name === name) || null;
    };

    const createProduct = async (page, id, title, price) => {
        await page.click('#product-new');
        await page.waitForSelector('#product-form', { state: 'visible' });
        await page.fill('#p-title', title);
        await page.fill('#p-id', id);
        await page.fill('#p-price', price);
        await page.fill('#p-stock', '50');
        await page.fill('#p-image', `https://example.com/${id}.jpg`);
        await page.fill('#p-buy', `https://example.com/buy/${id}`);
        await page.click('#product-form button[type=submit]');
        await page.waitForSelector(`#products tr[data-product="${id}"]`);
    };

    /** Put `config` into the enable form and submit; waits until the room runs it. */
    const enableWith = async (page, room, config) => {
        await page.fill('#enable-config', JSON.stringify(config, null, 2));
        check((await page.getAttribute('#enable-config-state', 'data-valid')) === 'true', 'the config is not seen as valid JSON');
        await page.click('#plugin-enable button[type=submit]');
        await until(async () => {
            const b = await binding(room, 'keyword-push');
            return b && b.binding.enabled && canon(b.binding.config) === canon(config);
        }, `the room to run config ${JSON.stringify(config)}`);
        await until(async () => canon(await page.textContent('#room-plugins .plugin[data-plugin="keyword-push"] pre.config')) === canon(config),
            'the room plugin list to show the new config');
    };

    /** Comment `words` in the viewer and wait for a card of `product` whose push id is
     * not `notPush`: {pushId, ms}. */
    const commentAndSeeCard = async (viewer, words, product, notPush) => {
        const t = Date.now();
        await viewer.fill('#chat-input', words);
        await viewer.click('#chat-send');
        const sel = `#card .card[data-product="${product}"]`;
        const pushId = await until(async () => {
            const el = await viewer.$(sel);
            if (!el || !(await el.isVisible())) return null;
            const id = await el.getAttribute('data-push-id');
            return id && id !== notPush ? id : null;
        }, `a ${product} card in the viewer page after commenting ${JSON.stringify(words)}`, 15_000, 100);
        return { pushId, ms: Date.now() - t };
    };

    const { page, errors } = await openConsole(browser, base);
    await signIn(page, base, token);

    // ---- room and products, made in the console -------------------------------------------
    const title = `Keyword push e2e ${Date.now() % 100000}`;
    await page.fill('#room-title', title);
    await page.click('#room-create button[type=submit]');
    await until(async () => (await text(page, '#room-name')) === title, 'the new room is not selected');
    const room = await text(page, '#room-id');
    await page.click('#room-start');
    await until(async () => (await page.getAttribute('#room-status', 'data-status')) === 'live', 'the room did not go live');
    await page.click('#tabs button[data-tab=products]');
    await createProduct(page, teeId, 'Keyword Tee', '19.90');
    await createProduct(page, capId, 'Keyword Cap', '9.90');
    step('room and products', { room, products: [teeId, capId] });

    // ---- a file that is not WebAssembly -----------------------------------------------------
    await page.click('#tabs button[data-tab=plugins]');
    await page.waitForSelector('#tab-plugins', { state: 'visible' });
    await until(async () => (await page.locator('#plugin-versions tbody tr').count()) > 0 ||
        !(await page.isHidden('#plugin-versions-empty')), 'the versions list did not load');
    const versionsBefore = (await rest.get('/api/plugins')).length;
    const scratch = mkdtempSync(join(tmpdir(), 'console-plugin-'));
    const bogus = join(scratch, 'not-a-plugin.wasm');
    writeFileSync(bogus, 'this is a text file, not a WebAssembly component\n');
    await page.setInputFiles('#plugin-file', bogus);
    await page.waitForSelector('#upload-result[data-ok="false"]');
    rmSync(scratch, { recursive: true, force: true }); // read by now (Chromium reads on send)
    const refusal = await text(page, '#upload-result .result-message');
    check((await page.getAttribute('#upload-result', 'data-status')) === '422', 'the refusal is not a 422');
    check(refusal.includes('not a WebAssembly file'), `the server's validation message is not shown: ${refusal}`);
    check((await rest.get('/api/plugins')).length === versionsBefore, 'a refused upload was stored');
    step('non-wasm refused', refusal);

    // ---- upload keyword-push with a progress bar ------------------------------------------
    await page.evaluate(() => {
        window.__progress = [];
        const bar = document.getElementById('upload-progress');
        new MutationObserver(() => window.__progress.push(Number(bar.value)))
            .observe(bar, { attributes: true, attributeFilter: ['value'] });
    });
    await page.setInputFiles('#plugin-file', pluginPath);
    await page.waitForSelector('#upload-result[data-ok="true"]', { timeout: 30_000 });
    const progress = await page.evaluate(() => window.__progress);
    check(Number(await page.getAttribute('#upload-progress', 'value')) === 100, 'the progress bar is not at 100');
    check((await text(page, '#upload-percent')) === '100%', `percent: ${await text(page, '#upload-percent')}`);
    check(progress.length > 0 && progress[progress.length - 1] === 100, `progress values ${progress}`);
    check(progress.every((v, i) => i === 0 || v >= progress[i - 1] || v === 0), `progress went backwards: ${progress}`);
    const shownHash = await text(page, '#upload-result .result-hash');
    check(shownHash === wasmHash, `shown hash ${shownHash}, file's SHA-256 ${wasmHash}`);
    check((await text(page, '#upload-result .result-name')).startsWith('keyword-push'), 'plugin name');
    const caps = await text(page, '#upload-result .result-caps');
    check(caps.includes('product-push') && caps.includes('kv'), `capabilities: ${caps}`);
    check(await page.locator(`#plugin-versions tr[data-hash="${wasmHash}"]`).count() === 1, 'the version is not listed');
    step('keyword-push uploaded', { hash: wasmHash.slice(0, 12), progress });

    // ---- enable with a config; rollback has nothing to go back to yet --------------------
    check((await page.inputValue('#enable-version')) === wasmHash, 'the uploaded version is not preselected');
    // Not enabled in this room yet: the form offers the plugin's documented example config.
    check(!(await page.isHidden('#enable-example')), 'the example config is not shown');
    const example = JSON.parse(await text(page, '#enable-example-text'));
    check(Array.isArray(example.rules) && example.rules.length > 0, `example config: ${JSON.stringify(example)}`);
    check(canon(await page.inputValue('#enable-config')) === canon(example), 'the form is not prefilled with the example');
    const config1 = {
        rules: [
            { product: teeId, keywords: ['size', '尺码'], style: 'compact' },
            { product: capId, keywords: ['hat'] },
        ],
        cooldown_ms: 500,
        duration_ms: 20000,
    };
    await enableWith(page, room, config1);
    const card = '#room-plugins .plugin[data-plugin="keyword-push"]';
    check((await page.getAttribute(card, 'data-enabled')) === 'true', 'not shown as enabled');
    const builds = (await rest.get('/api/plugins')).filter((v) => v.name === 'keyword-push').length;
    if (builds === 1) check(await page.isDisabled(`${card} button.rollback`), 'rollback is offered with a single version');
    step('enabled with config');

    // ---- a viewer comments a keyword and sees the card --------------------------------------
    // A phone-sized viewer page of its own context (its own guest), joined to the room.
    const { page: viewer, errors: viewerErrors } = await openViewer(browser, base, room);
    await viewer.waitForSelector('#chat-input', { state: 'visible' });
    const first = await commentAndSeeCard(viewer, 'What SIZE should I take?', teeId);
    check((await text(viewer, `#card .card[data-product="${teeId}"] .title`)) === 'Keyword Tee', 'card title');
    await viewer.screenshot({ path: join(artifacts, 'viewer-keyword-card.png') });
    step('viewer sees the kp-tee card', first);

    // ---- a second build, dropped on the upload zone, with a new config ---------------------
    // The same component plus a custom section: another version (hash) of keyword-push.
    const rebuilt = withCustomSection(wasm, 'livecart-e2e', `rebuilt ${Date.now()}`);
    const rebuiltHash = createHash('sha256').update(rebuilt).digest('hex');
    const dataTransfer = await page.evaluateHandle((b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'keyword-push-rebuilt.wasm', { type: 'application/wasm' }));
        return dt;
    }, rebuilt.toString('base64'));
    await page.dispatchEvent('#plugin-drop', 'drop', { dataTransfer });
    await until(async () => (await text(page, '#upload-result .result-hash')) === rebuiltHash, 'the dropped build was not accepted');
    check((await page.getAttribute('#upload-result', 'data-ok')) === 'true', 'dropped upload result');
    check((await page.inputValue('#enable-version')) === rebuiltHash, 'the dropped version is not preselected');
    const prefilled = await page.inputValue('#enable-config');
    check(canon(prefilled) === canon(config1), `the enable form is not prefilled with the room's config: ${prefilled}`);
    step('second build dropped', { hash: rebuiltHash.slice(0, 12) });
    const config2 = { rules: [{ product: capId, keywords: ['size'] }], cooldown_ms: 500, duration_ms: 20000 };
    await enableWith(page, room, config2);
    check((await binding(room, 'keyword-push')).binding.hash === rebuiltHash, 'the room does not run the second build');
    const second = await commentAndSeeCard(viewer, 'and the size of the cap?', capId);
    step('upgraded: viewer sees the kp-cap card', second);

    // ---- roll back: the first build and config again -----------------------------------
    await until(async () => !(await page.isDisabled(`${card} button.rollback`)), 'rollback is not offered with two versions');
    await page.click(`${card} button.rollback`);
    await confirm(page);
    await until(async () => {
        const b = await binding(room, 'keyword-push');
        return b && b.binding.hash === wasmHash && canon(b.binding.config) === canon(config1);
    }, 'rollback did not restore the first version and config');
    await until(async () => (await page.getAttribute(card, 'data-hash')) === wasmHash, 'the list does not show the rolled-back version');
    await viewer.waitForTimeout(600); // the plugin's cooldown per product
    const third = await commentAndSeeCard(viewer, 'size please', teeId, first.pushId);
    step('rolled back: viewer sees the kp-tee card again', third);

    // ---- a config the plugin refuses is refused at enable, with the plugin's reason ---------
    await page.click(`${card} button.configure`);
    check((await page.inputValue('#enable-version')) === wasmHash, '"Change config" does not select the running version');
    await page.fill('#enable-config', '{"rules": []}');
    await page.click('#plugin-enable button[type=submit]');
    const formError = '#plugin-enable .form-error';
    await until(async () => !(await page.isHidden(formError)), 'the refused config is not reported in the form');
    const refused = await text(page, formError);
    check(/the plugin refused it/.test(refused) && /rules/.test(refused), `the refusal does not say what is wrong: ${refused}`);
    const kept = await binding(room, 'keyword-push');
    check(kept.binding.hash === wasmHash && canon(kept.binding.config) === canon(config1),
        `a refused config replaced the running one: ${JSON.stringify(kept.binding)}`);
    await viewer.waitForTimeout(600); // the plugin's cooldown per product
    const third2 = await commentAndSeeCard(viewer, 'size?', teeId, third.pushId);
    step('refused config: the room keeps running the old one', { refused, ms: third2.ms });
    await page.screenshot({ path: join(artifacts, 'console-plugins.png'), fullPage: true });

    // ---- disable, enable again -----------------------------------------------------------
    await page.click(`${card} button.rollback`);
    await confirm(page);
    await until(async () => (await page.textContent(`${card} pre.config`)).includes(capId), 'second rollback');
    await page.click(`${card} button.disable`);
    await confirm(page);
    await page.waitForSelector(`${card}[data-enabled="false"]`);
    check((await binding(room, 'keyword-push')).binding.enabled === false, 'disable was not stored');
    await page.click(`${card} button.enable`);
    await page.waitForSelector(`${card}[data-enabled="true"]`);
    check((await binding(room, 'keyword-push')).binding.enabled === true, 'enable again was not stored');
    step('disabled and enabled again');

    check(unexpected(errors).length === 0, `the console logged errors:\n  ${unexpected(errors).join('\n  ')}`);
    check(unexpected(viewerErrors).length === 0, `the viewer page logged errors:\n  ${unexpected(viewerErrors).join('\n  ')}`);
    report.room = room;
});
