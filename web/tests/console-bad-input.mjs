#!/usr/bin/env node
// console-bad-input.mjs — the console under bad input, in headless Chromium against a
// real `livecart serve`: every refusal shows the server's own message (413 for an
// oversized plugin, 422 for invalid product, coupon and room fields and for a flash sale
// of a product that vanished), what cannot be sent (a price that is not a number, a config that is not a
// JSON object) is caught before sending, forms are disabled while they submit, and
// nothing is lost: the lists are unchanged and the forms keep what was typed.
//
//   node web/tests/console-bad-input.mjs --base URL --merchant-token T [--artifacts DIR]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api as restApi, assert as check, scenario } from './lib.mjs';
import { confirm, openConsole, signIn, stepper, text, unexpected, until } from './console-lib.mjs';

scenario('console-bad-input', async ({ args, browser, report, log }) => {
    const { base, artifacts } = args;
    const step = stepper(report, log);
    const rest = restApi(base, args.merchantToken);
    const run = Date.now().toString(36).slice(-5);

    const { page, errors } = await openConsole(browser, base);
    // Every API request the page makes, to prove what was (not) sent.
    const sent = [];
    page.on('request', (r) => {
        const url = new URL(r.url());
        if (url.pathname.startsWith('/api/') && r.method() !== 'GET') sent.push(`${r.method()} ${url.pathname}`);
    });
    await signIn(page, base, args.merchantToken);

    /** The visible error of a form, waited for. */
    const formError = async (form) => {
        const sel = `${form} .form-error:not([hidden])`;
        await page.waitForSelector(sel);
        return { message: await text(page, sel), status: await page.getAttribute(sel, 'data-status') };
    };

    // ---- a room with no title -------------------------------------------------------------
    const roomsBefore = (await rest.get('/api/rooms')).length;
    await page.fill('#room-title', '   ');
    await page.click('#room-create button[type=submit]');
    const roomErr = await formError('#room-create');
    check(roomErr.status === '422' && roomErr.message === 'Title must have 1 to 120 characters', `room error: ${JSON.stringify(roomErr)}`);
    // In plain words at the field it is about, which gets the focus.
    const fieldErr = async (id) => ({
        text: await text(page, `#${id}-error`).catch(() => null),
        invalid: await page.getAttribute(`#${id}`, 'aria-invalid'),
        focused: await page.evaluate(() => document.activeElement && document.activeElement.id),
    });
    let at = await fieldErr('room-title');
    check(at.text === roomErr.message && at.invalid === 'true' && at.focused === 'room-title', `room title field: ${JSON.stringify(at)}`);
    check((await rest.get('/api/rooms')).length === roomsBefore, 'a room was created without a title');
    step('room without a title refused', roomErr.message);
    const title = `Bad input e2e ${run}`;
    await page.fill('#room-title', title);
    await page.click('#room-create button[type=submit]');
    await until(async () => (await text(page, '#room-name')) === title, 'the new room to be selected');
    check(await page.isHidden('#room-create .form-error'), 'the old error stays after a success');

    // ---- an oversized plugin: 413 --------------------------------------------------------
    await page.click('#tabs button[data-tab=plugins]');
    await page.waitForSelector('#tab-plugins', { state: 'visible' });
    await until(async () => (await page.locator('#plugin-versions tbody tr').count()) > 0, 'the versions list');
    const versionsBefore = (await rest.get('/api/plugins')).length;
    const rowsBefore = await page.locator('#plugin-versions tbody tr').count();
    const scratch = mkdtempSync(join(tmpdir(), 'console-bad-input-'));
    const big = join(scratch, 'too-big.wasm');
    const bytes = Buffer.alloc(64 * 1024 * 1024 + 4096, 0x61);
    Buffer.from([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]).copy(bytes); // a component's header
    writeFileSync(big, bytes);
    await page.setInputFiles('#plugin-file', big);
    await page.waitForSelector('#upload-result[data-ok="false"]', { timeout: 30_000 });
    rmSync(scratch, { recursive: true, force: true }); // read by now (Chromium reads on send)
    const tooBig = await text(page, '#upload-result .result-message');
    check((await page.getAttribute('#upload-result', 'data-status')) === '413', `status ${await page.getAttribute('#upload-result', 'data-status')}: ${tooBig}`);
    check(tooBig.includes('413') && tooBig.includes('larger than the limit of 67108864 bytes'), `413 message: ${tooBig}`);
    check((await text(page, '#upload-result .result-title')) === 'Too large', 'the refusal has no title');
    check((await rest.get('/api/plugins')).length === versionsBefore, 'an oversized upload was stored');
    check(await page.locator('#plugin-versions tbody tr').count() === rowsBefore, 'the versions list changed');
    check(!(await page.isDisabled('#plugin-file')), 'the file input stays disabled after a refusal');
    step('oversized plugin refused', tooBig);

    // ---- configs that are not JSON objects never leave the page ---------------------------
    const before = sent.length;
    await page.fill('#enable-config', '{"rules": [');
    check((await page.getAttribute('#enable-config-state', 'data-valid')) === 'false', 'broken JSON is seen as valid');
    await page.click('#plugin-enable button[type=submit]');
    const jsonErr = await formError('#plugin-enable');
    check(jsonErr.message.includes('not valid JSON'), `JSON error: ${jsonErr.message}`);
    await page.fill('#enable-config', '[1, 2]');
    await page.click('#plugin-enable button[type=submit]');
    await until(async () => (await text(page, '#plugin-enable .form-error')).includes('must be a JSON object'), 'the not-an-object error');
    check(sent.length === before, `a broken config was sent: ${sent.slice(before)}`);
    check((await page.inputValue('#enable-config')) === '[1, 2]', 'the typed config was lost');
    check((await rest.get(`/api/rooms/${await text(page, '#room-id')}/plugins`)).plugins.length === 0, 'a plugin got enabled');
    step('broken configs caught before sending', jsonErr.message);

    // ---- products: invalid fields show the 422, nothing is lost -----------------------------
    await page.click('#tabs button[data-tab=products]');
    await until(async () => (await page.locator('#products tbody tr').count()) > 0, 'the product table');
    const productsBefore = (await rest.get('/api/products')).length;
    const tableBefore = await page.locator('#products tbody tr').count();
    await page.click('#product-new');
    await page.fill('#p-title', 'Bad product');
    await page.fill('#p-id', `bad-${run}`);
    await page.fill('#p-price', '10');
    await page.fill('#p-image', 'ftp://example.com/x.png');
    await page.fill('#p-description', 'kept after refusals');
    await page.click('#product-form button[type=submit]');
    let pErr = await formError('#product-form');
    check(pErr.status === '422' && pErr.message === 'Image URL "ftp://example.com/x.png" is not an http(s) URL', `product error: ${JSON.stringify(pErr)}`);
    at = await fieldErr('p-image');
    check(at.text === pErr.message && at.invalid === 'true' && at.focused === 'p-image', `image field: ${JSON.stringify(at)}`);
    check(await page.isVisible('#product-form'), 'the form closed on a refusal');
    check((await page.inputValue('#p-description')) === 'kept after refusals', 'the form lost what was typed');
    step('invalid URL refused', pErr.message);

    await page.fill('#p-image', 'https://example.com/x.png');
    await page.fill('#p-title', '');
    await page.click('#product-form button[type=submit]');
    await until(async () => (await text(page, '#product-form .form-error')) === 'Title must have 1 to 200 characters', 'the empty-title refusal');
    at = await fieldErr('p-title');
    check(at.invalid === 'true' && (await fieldErr('p-image')).invalid === null, `a fixed field stays marked, or the title is not: ${JSON.stringify(at)}`);
    step('empty title refused');

    const sentBefore = sent.length;
    await page.fill('#p-title', 'Bad product');
    await page.fill('#p-price', '12,345.6.7');
    await page.click('#product-form button[type=submit]');
    await until(async () => (await text(page, '#product-form .form-error')).includes('The price must be an amount'), 'the bad-price message');
    check(sent.length === sentBefore, 'a price that is not a number was sent');
    check(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'p-price', 'the bad field is not focused');
    check((await rest.get('/api/products')).length === productsBefore, 'a refused product was stored');
    check(await page.locator('#products tbody tr').count() === tableBefore, 'the product table changed');
    step('bad price caught before sending');

    // The form is disabled while it submits (the request is held for a moment).
    await page.route('**/api/products', async (route) => {
        await new Promise((r) => setTimeout(r, 800));
        await route.continue();
    });
    await page.fill('#p-price', '12.90');
    await page.click('#product-form button[type=submit]');
    await until(async () => page.isDisabled('#product-form button[type=submit]'), 'the submit button to be disabled while saving', 2000, 20);
    check(await page.isDisabled('#p-title'), 'the fields are editable while saving');
    await page.waitForSelector(`#products tr[data-product="bad-${run}"]`);
    await page.unroute('**/api/products');
    check(await page.isHidden('#product-form'), 'the form stays open after the fix');
    check((await rest.get('/api/products')).length === productsBefore + 1, 'the fixed product was not stored');
    step('form disabled while saving; the fixed product saved');

    // Editing with a bad URL leaves the stored product as it was.
    const row = `#products tr[data-product="bad-${run}"]`;
    await page.click(`${row} button.edit`);
    await page.fill('#p-buy', 'javascript:alert(1)');
    await page.click('#product-form button[type=submit]');
    pErr = await formError('#product-form');
    check(pErr.message.includes('is not an http(s) URL'), `edit error ${pErr.message}`);
    const storedP = await rest.get(`/api/products/bad-${run}`);
    check(storedP.buy_url === '' && storedP.price_cents === 1290, `the refused edit changed the product: ${JSON.stringify(storedP)}`);
    await page.click('#product-cancel');
    step('refused edit changed nothing');

    // ---- coupons -------------------------------------------------------------------------
    await page.click('#tabs button[data-tab=commerce]');
    await page.waitForSelector('#tab-commerce', { state: 'visible' });
    const couponsBefore = (await rest.get('/api/coupons')).length;
    await page.click('#coupon-new');
    await page.fill('#c-title', 'No quota');
    await page.fill('#c-discount', '3');
    await page.fill('#c-quota', '0');
    await page.click('#coupon-form button[type=submit]');
    const cErr = await formError('#coupon-form');
    check(cErr.status === '422' && cErr.message === 'Coupon quota must be at least 1', `coupon error: ${JSON.stringify(cErr)}`);
    at = await fieldErr('c-quota');
    check(at.text === cErr.message && at.invalid === 'true', `quota field: ${JSON.stringify(at)}`);
    const holders = await page.$$eval('#coupon-form input[placeholder]', (ins) => ins.map((i) => i.placeholder));
    check(holders.every((p) => !/^\d[\d.,]*$/.test(p)), `placeholders that look like values: ${holders.join(', ')}`);
    check((await rest.get('/api/coupons')).length === couponsBefore, 'a refused coupon was stored');
    check((await page.inputValue('#c-title')) === 'No quota', 'the coupon form lost its title');
    step('coupon without quota refused', cErr.message);
    // 满减 whose minimum order is not above the discount: refused before sending.
    await page.fill('#c-quota', '10');
    await page.fill('#c-min-spend', '3');
    await page.click('#coupon-form button[type=submit]');
    await until(async () => (await text(page, '#coupon-form .form-error:not([hidden])').catch(() => '')).includes('The minimum order must be more than the discount'),
        'no plain error for a minimum order below the discount');
    check((await rest.get('/api/coupons')).length === couponsBefore, 'a refused 满减 coupon was stored');
    check((await page.inputValue('#c-min-spend')) === '3', 'the coupon form lost its minimum order');
    step('满减 coupon with a minimum order under its discount refused');
    await page.click('#coupon-cancel');

    // ---- a flash sale of a product deleted meanwhile: the server's refusal ----------------
    const ghost = `ghost-${run}`;
    await rest.post('/api/products', { id: ghost, title: 'Ghost', price_cents: 500 });
    await page.click('#tabs button[data-tab=products]');
    await page.waitForSelector(`#products tr[data-product="${ghost}"]`);
    // The tab reloads the products when it opens: let that finish before the delete.
    const reloaded = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/products' && r.request().method() === 'GET');
    await page.click('#tabs button[data-tab=commerce]');
    await reloaded;
    await until(async () => (await page.locator(`#s-product option[value="${ghost}"]`).count()) === 1, 'the ghost product in the sale form');
    await rest.req('DELETE', `/api/products/${ghost}`);
    await page.selectOption('#s-product', ghost);
    await page.fill('#s-price', '1');
    // The room is not live: the console asks first, and cancelling sends nothing.
    const salesSent = () => sent.filter((r) => /^POST .*\/flash-sales$/.test(r)).length;
    const salesBefore = salesSent();
    await page.click('#sale-form button[type=submit]');
    await page.waitForSelector('#confirm[open]');
    check((await text(page, '#confirm-text')).includes('not live'), `idle-room warning: ${await text(page, '#confirm-text')}`);
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm', { state: 'hidden' });
    check(salesSent() === salesBefore, 'a cancelled sale was sent');
    step('sale in an idle room asked first');
    await page.click('#sale-form button[type=submit]');
    await confirm(page);
    const sErr = await formError('#sale-form');
    check(sErr.status === '422' && sErr.message.includes(`Product ${ghost}`) && sErr.message.includes('not found'),
        `sale error: ${JSON.stringify(sErr)}`);
    check(await page.locator('#sales tbody tr').count() === 0, 'a refused sale is listed');
    step('sale of a vanished product refused', sErr.message);

    // A push into the idle room asks first too; cancelling sends nothing.
    await page.click('#tabs button[data-tab=products]');
    const pushButton = page.locator('#products tbody tr button.push').first();
    await pushButton.waitFor();
    const pushesSent = () => sent.filter((r) => /^POST .*\/push$/.test(r)).length;
    const pushesBefore = pushesSent();
    await pushButton.click();
    await page.waitForSelector('#confirm[open]');
    check((await text(page, '#confirm-ok')) === 'Push anyway', `push confirm button: ${await text(page, '#confirm-ok')}`);
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm', { state: 'hidden' });
    check(pushesSent() === pushesBefore, 'a cancelled push was sent');
    step('push into an idle room asked first');
    await page.screenshot({ path: join(artifacts, 'console-bad-input.png') });

    check(unexpected(errors).length === 0, `the console logged errors:\n  ${unexpected(errors).join('\n  ')}`);
});
