#!/usr/bin/env node
// console-basics.mjs — the merchant console end to end in headless Chromium against a
// real `livecart serve`: a wrong token is refused with a clear message and the right one
// accepted; a room is created and shows its OBS ingest URL and stream key (and text on the
// accent colour, primary buttons and the live badge, is at least 4.5:1); a product is
// created (with FAQ and specs), edited, pushed and another deleted; a coupon is created,
// edited and unlocked; a flash sale starts with a running countdown and is ended; the
// analytics tab counts the push and its CSV export downloads with a header row; a 401
// later in the session brings the sign-in back; sign-out works. Screenshots go to
// --artifacts (console.png at 1280x900, plus one per tab and a tablet view).
//
//   node web/tests/console-basics.mjs --base http://127.0.0.1:PORT --merchant-token T
//                                     [--artifacts DIR]

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api as restApi, assert as check, scenario } from './lib.mjs';
import { confirm, openConsole, stepper, text, unexpected, until } from './console-lib.mjs';

scenario('console-basics', async ({ args, browser, report, log }) => {
    const { base, artifacts: art } = args;
    const token = args.merchantToken;
    const step = stepper(report, log);
    // Ids unique to this run, so reruns against one server do not collide.
    const run = Date.now().toString(36).slice(-5);
    const tee = `e2e-tee-${run}`;
    const trashId = `e2e-trash-${run}`;
    const couponId = `e2e-5-${run}`;
    const rest = restApi(base, token);
    /** GET through the REST API: {status, body} (404s included). */
    const api = async (path) => {
        try {
            return { status: 200, body: await rest.get(path) };
        } catch (e) {
            const m = /HTTP (\d+)/.exec(e.message);
            return { status: m ? Number(m[1]) : 0, body: null };
        }
    };

    const { page, errors } = await openConsole(browser, base);

    // ---- sign-in: refused, then accepted -----------------------------------------------
    await page.goto(`${base}/console`);
    await page.waitForSelector('#signin-form', { state: 'visible' });
    check(await page.isHidden('#app'), 'the app shows before sign-in');
    await page.fill('#token', 'lc_this-is-not-a-token');
    await page.click('#signin-submit');
    await page.waitForSelector('#signin-error', { state: 'visible' });
    const refusal = await text(page, '#signin-error');
    check(/refused/i.test(refusal) && refusal.includes('invalid api token'),
        `the wrong token's message is not clear: ${JSON.stringify(refusal)}`);
    check(await page.isHidden('#app'), 'the app opened with a wrong token');
    check(await page.evaluate(() => !sessionStorage.getItem('livecart.console.token')), 'a refused token was kept');
    step('wrong token refused', refusal);

    await page.fill('#token', token);
    await page.click('#signin-submit');
    await page.waitForSelector('#app', { state: 'visible' });
    check(await page.isHidden('#signin'), 'the sign-in stayed after signing in');
    // The header names the shop (serve's demo merchant), not its id.
    const whoami = await text(page, '#whoami');
    check(whoami.startsWith('Demo Shop · token …') && !/\bm_[0-9a-f]{12}\b/.test(whoami),
        `the header does not name the shop: ${JSON.stringify(whoami)}`);
    step('right token accepted', whoami);

    // ---- create a room -------------------------------------------------------------------
    const title = `Console e2e ${Date.now() % 100000}`;
    await page.fill('#room-title', title);
    await page.click('#room-create button[type=submit]');
    await until(async () => (await text(page, '#room-name')) === title, `the new room ${title} is not selected`);
    const room = await text(page, '#room-id');
    check(/^[A-Za-z0-9_-]+$/.test(room), `room id ${room}`);
    check(await page.isVisible(`#rooms button[data-room="${room}"]`), 'the new room is not in the sidebar');
    const stored = await api(`/api/rooms/${room}`);
    check(stored.status === 200 && stored.body.title === title, `the room was not stored: ${JSON.stringify(stored)}`);
    step('room created', room);

    // OBS settings: ingest URL from /media, stream key, viewer link.
    await until(async () => /^rtmp:\/\/[^/]+:\d+\/live$/.test(await page.inputValue('#ingest-url')), 'no RTMP ingest URL');
    const ingest = await page.inputValue('#ingest-url');
    check(!/0\.0\.0\.0|\[::\]/.test(ingest), `the ingest URL keeps a bound-any host: ${ingest}`);
    const key = await page.inputValue('#stream-key');
    check(key && key === stored.body.stream_key, `stream key ${key} vs ${stored.body.stream_key}`);
    check((await page.getAttribute('#stream-key', 'type')) === 'password', 'the stream key is shown in clear by default');
    check((await page.getAttribute('#viewer-link', 'href')) === `/live/${room}`, 'viewer link');
    check((await page.getAttribute('#dash-link', 'href')).endsWith(`/media/${room}/live.mpd`), 'DASH link');
    check((await page.getAttribute('#hls-link', 'href')).endsWith(`/media/${room}/master.m3u8`), 'HLS link');
    check((await page.getAttribute('#room-status', 'data-status')) === 'idle', 'a new room is not idle');
    // A server bound to every address announces 0.0.0.0 or [::]: the page puts its own host.
    const rewritten = await page.evaluate(async () => {
        const { publicUrl } = await import('/assets/console-rooms.js');
        return [publicUrl('rtmp://0.0.0.0:1935/live'), publicUrl('rtmps://[::]:1936/live'), publicUrl('rtmp://cdn.example:1935/live')];
    });
    const host = new URL(base).hostname;
    check(JSON.stringify(rewritten) === JSON.stringify([`rtmp://${host}:1935/live`, `rtmps://${host}:1936/live`, 'rtmp://cdn.example:1935/live']),
        `bound-any ingest hosts: ${rewritten}`);
    await page.click('button.copy[data-copy="stream-key"]');
    const copied = await until(() => page.evaluate(() => navigator.clipboard.readText()), 'the copied stream key');
    check(copied === key, `the copy button copied ${JSON.stringify(copied)}`);
    step('OBS settings shown', { ingest, key: `${key.slice(0, 6)}…` });

    // Text on the accent colour (primary buttons, the live badge) is readable: ≥ 4.5:1.
    const low = await page.evaluate(() => {
        const rgb = (c) => (/rgba?\(([^)]+)\)/.exec(c) || [, '0,0,0'])[1].split(/[ ,/]+/).map(Number);
        const lum = (c) => {
            const f = (v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
            const [r, g, b] = rgb(c);
            return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        };
        return [...document.querySelectorAll('button.primary, .badge[data-status="live"], .badge.running')]
            .filter((e) => e.offsetParent !== null && e.textContent.trim())
            .map((e) => {
                const st = getComputedStyle(e);
                const [a, b] = [lum(st.color), lum(st.backgroundColor)].sort((x, y) => y - x);
                return { text: e.textContent.trim(), ratio: +((a + 0.05) / (b + 0.05)).toFixed(2) };
            });
    });
    check(low.length > 0, 'no primary button or live badge to check');
    const bad = low.filter((c) => c.ratio < 4.5);
    check(bad.length === 0, `text on the accent colour below 4.5:1: ${JSON.stringify(bad)}`);
    report.accentContrast = low;

    // Rotate the key (confirmed) and go live.
    await page.click('#rotate-key');
    await confirm(page);
    await until(async () => {
        const v = await page.inputValue('#stream-key');
        return v && v !== key;
    }, 'the rotated stream key is not shown');
    const rotated = await api(`/api/rooms/${room}`);
    check(rotated.body.stream_key === await page.inputValue('#stream-key'), 'rotated key differs from the server');
    await page.click('#room-start');
    await until(async () => (await page.getAttribute('#room-status', 'data-status')) === 'live', 'the room did not go live');
    step('key rotated, room live');
    await page.screenshot({ path: join(art, 'console.png') });

    // ---- products ------------------------------------------------------------------------
    await page.click('#tabs button[data-tab=products]');
    await page.waitForSelector('#tab-products', { state: 'visible' });
    const productCount = async () => page.locator('#products tbody tr').count();
    await until(async () => (await productCount()) > 0, 'the product table did not load');
    await page.click('#product-new');
    await page.waitForSelector('#product-form', { state: 'visible' });
    await page.fill('#p-title', 'E2E Tee <b>bold</b>');
    await page.fill('#p-id', tee);
    await page.fill('#p-price', '12.50');
    await page.fill('#p-currency', 'eur');
    await page.fill('#p-stock', '7');
    await page.fill('#p-image', 'https://example.com/e2e-tee.jpg');
    await page.fill('#p-buy', 'https://example.com/buy/e2e-tee');
    await page.fill('#p-description', 'A test tee. <script>alert(1)</script>');
    await page.click('#p-faq-add');
    await page.fill('#p-faq .pair:last-child .pair-a', 'What sizes?');
    await page.fill('#p-faq .pair:last-child .pair-b', 'S, M and L.');
    await page.click('#p-specs-add');
    await page.fill('#p-specs .pair:last-child .pair-a', 'size');
    await page.fill('#p-specs .pair:last-child .pair-b', 'S, M, L');
    await page.click('#product-form button[type=submit]');
    await page.waitForSelector(`#products tr[data-product="${tee}"]`);
    check(await page.isHidden('#product-form'), 'the product form stayed open after saving');
    const row = `#products tr[data-product="${tee}"]`;
    check((await text(page, `${row} .title`)) === 'E2E Tee <b>bold</b>', 'the title is not shown as text');
    check(await page.locator(`${row} b`).count() === 0, 'markup in a product title was rendered');
    check((await text(page, row)).includes('12.50 EUR'), `price: ${await text(page, row)}`);
    let p = await api(`/api/products/${tee}`);
    check(p.status === 200 && p.body.price_cents === 1250 && p.body.stock === 7 && p.body.currency === 'EUR',
        `stored product: ${JSON.stringify(p.body)}`);
    check(JSON.stringify(p.body.faq) === JSON.stringify([{ question: 'What sizes?', answer: 'S, M and L.' }]), `faq ${JSON.stringify(p.body.faq)}`);
    check(JSON.stringify(p.body.specs) === JSON.stringify([['size', 'S, M, L']]), `specs ${JSON.stringify(p.body.specs)}`);
    step('product created', p.body.id);

    // Edit: the form comes back filled in; change title and price.
    await page.click(`${row} button.edit`);
    await page.waitForSelector('#product-form', { state: 'visible' });
    check((await page.inputValue('#p-price')) === '12.50', 'edit form price');
    check((await page.inputValue('#p-faq .pair .pair-a')) === 'What sizes?', 'edit form FAQ');
    check(await page.getAttribute('#p-id', 'readonly') !== null, 'the id is editable when editing');
    await page.fill('#p-title', 'E2E Tee v2');
    await page.fill('#p-price', '15');
    await page.click('#product-form button[type=submit]');
    await until(async () => (await text(page, `${row} .title`)) === 'E2E Tee v2', 'the edited title is not shown');
    p = await api(`/api/products/${tee}`);
    check(p.body.price_cents === 1500 && p.body.title === 'E2E Tee v2' && p.body.faq.length === 1, `edited product: ${JSON.stringify(p.body)}`);
    step('product edited');

    // SKUs: sizes with their own stock (and L its own price); a half-filled row is refused
    // at its field, nothing saved.
    await page.click(`${row} button.edit`);
    await page.waitForSelector('#product-form', { state: 'visible' });
    await page.click('#p-skus-add');
    await page.fill('#p-skus .sku-row:last-child .sku-name', 'M');
    await page.click('#product-form button[type=submit]');
    await until(async () => /how many of “M”/i.test(await text(page, '#product-form')), 'a SKU without stock was not refused at its field');
    await page.fill('#p-skus .sku-row:last-child .sku-stock', '3');
    // And an image uploaded instead of a URL: livecart stores it and the field gets its path.
    await page.setInputFiles('#p-image-file', {
        name: 'tee.png', mimeType: 'image/png',
        buffer: Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'),
    });
    await until(async () => (await page.inputValue('#p-image')).startsWith('/images/img_'), 'the uploaded image\'s path in the form');
    check(/uploaded/.test(await text(page, '#p-image-state')), `upload state: ${await text(page, '#p-image-state')}`);
    await page.click('#p-skus-add');
    await page.fill('#p-skus .sku-row:last-child .sku-name', 'L');
    await page.fill('#p-skus .sku-row:last-child .sku-stock', '2');
    await page.fill('#p-skus .sku-row:last-child .sku-price', '16');
    await page.click('#product-form button[type=submit]');
    await page.waitForSelector('#product-form', { state: 'hidden' });
    p = await api(`/api/products/${tee}`);
    check(JSON.stringify(p.body.skus) === JSON.stringify([{ id: 'm', name: 'M', stock: 3 }, { id: 'l', name: 'L', price_cents: 1600, stock: 2 }]),
        `stored SKUs ${JSON.stringify(p.body.skus)}`);
    check(/^\/images\/img_[0-9a-f]{32}$/.test(p.body.image_url), `stored image ${p.body.image_url}`);
    await until(async () => page.evaluate((id) => {
        const img = document.querySelector(`#products tr[data-product="${id}"] img.thumb`);
        return img && img.complete && img.naturalWidth === 1;
    }, tee), 'the uploaded image does not show in the product table');
    const served = await fetch(`${base}${p.body.image_url}`);
    check(served.status === 200 && served.headers.get('content-type') === 'image/png'
        && served.headers.get('cache-control') === 'public, max-age=31536000, immutable',
    `served image: ${served.status} ${served.headers.get('content-type')} ${served.headers.get('cache-control')}`);
    await page.click(`${row} button.edit`);
    check((await page.locator('#p-skus .sku-row').count()) === 2 && (await page.inputValue('#p-skus .sku-row:last-child .sku-price')) === '16.00',
        'the edit form does not bring the SKUs back');
    await page.click('#product-cancel');
    step('product SKUs and image', { skus: p.body.skus, image: p.body.image_url });

    // A product without an image and with a long Chinese description keeps its row as
    // tall as the others.
    const zh = `${tee}-zh`;
    await rest.post('/api/products', {
        id: zh, title: '加厚纯棉T恤', price_cents: 4900, stock: 10,
        description: '精选新疆长绒棉，加厚不透，亲肤透气，机洗不变形不起球，四季百搭，男女同款，多色可选，尺码齐全，支持七天无理由退换货，拍下四十八小时内发货。',
    });
    await page.click('#tabs button[data-tab=live]');
    await page.click('#tabs button[data-tab=products]');
    await page.waitForSelector(`#products tr[data-product="${zh}"]`);
    const heights = await page.evaluate(([a, b]) => [a, b].map((id) =>
        Math.round(document.querySelector(`#products tr[data-product="${id}"]`).getBoundingClientRect().height)), [zh, tee]);
    report.rowHeights = { chinese: heights[0], other: heights[1] };
    check(heights[0] <= heights[1] * 1.3, `a Chinese description makes its row ${heights[0]} px tall, against ${heights[1]} px`);

    // The live's product bag: ticking the product puts it in the room's bag (what viewers
    // see under the bag button); unticking takes it out.
    await page.waitForSelector(`${row} input.in-bag:not([disabled])`);
    check(!(await page.isChecked(`${row} input.in-bag`)), 'a new room\'s bag already lists the product');
    await page.check(`${row} input.in-bag`);
    await until(async () => {
        const b = await api(`/api/rooms/${room}/products`);
        return b.status === 200 && b.body.products.map((x) => x.id).join() === tee;
    }, 'ticking "In this live" did not put the product in the bag');
    await until(async () => (await text(page, '#bag-summary')).startsWith('1 product in the bag'),
        'the bag summary does not say 1 product');
    await page.uncheck(`${row} input.in-bag`);
    await until(async () => (await api(`/api/rooms/${room}/products`)).body.products.length === 0,
        'unticking "In this live" did not take the product out of the bag');
    await page.check(`${row} input.in-bag`);
    await until(async () => (await api(`/api/rooms/${room}/products`)).body.products.length === 1, 'the bag is not back');
    step('product in the live\'s bag');

    // Push now.
    await page.click(`${row} button.push`);
    await until(async () => (await text(page, `${row} .push-state`)).startsWith('pushed'), 'no feedback after Push now');
    step('product pushed');

    // Delete another product, with confirmation; cancelling first keeps it.
    await page.click('#product-new');
    await page.fill('#p-title', 'E2E Trash');
    await page.fill('#p-id', trashId);
    await page.click('#product-form button[type=submit]');
    const trash = `#products tr[data-product="${trashId}"]`;
    await page.waitForSelector(trash);
    await page.click(`${trash} button.delete`);
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-cancel');
    await page.waitForTimeout(300);
    check(await page.locator(trash).count() === 1, 'cancelling the delete deleted the product');
    await page.click(`${trash} button.delete`);
    await confirm(page);
    await page.waitForSelector(trash, { state: 'detached' });
    check((await api(`/api/products/${trashId}`)).status === 404, 'the deleted product is still stored');
    step('product deleted');
    await page.screenshot({ path: join(art, 'console-products.png') });

    // ---- coupons -------------------------------------------------------------------------
    await page.click('#tabs button[data-tab=commerce]');
    await page.waitForSelector('#tab-commerce', { state: 'visible' });
    await page.click('#coupon-new');
    await page.waitForSelector('#coupon-form', { state: 'visible' });
    check((await page.inputValue('#c-room')) === room, 'the coupon form does not default to the room');
    await page.fill('#c-title', 'E2E 5 off');
    await page.fill('#c-id', couponId);
    await page.fill('#c-discount', '5');
    await page.fill('#c-quota', '20');
    await page.fill('#c-limit', '2');
    await page.click('#coupon-form button[type=submit]');
    const coupon = `#coupons tr[data-coupon="${couponId}"]`;
    await page.waitForSelector(coupon);
    check((await text(page, `${coupon} .claimed-n`)) === '0 / 20', `claimed: ${await text(page, `${coupon} .claimed-n`)}`);
    check((await page.getAttribute(coupon, 'data-state')) === 'locked', 'a new coupon is not locked');
    let c = await api('/api/coupons');
    let stc = c.body.find((x) => x.id === couponId);
    check(stc && stc.discount_cents === 500 && stc.quota === 20 && stc.per_user_limit === 2 && stc.room_id === room,
        `stored coupon ${JSON.stringify(stc)}`);
    step('coupon created');

    await page.click(`${coupon} button.edit`);
    await page.fill('#c-quota', '30');
    await page.click('#coupon-form button[type=submit]');
    await until(async () => (await text(page, `${coupon} .claimed-n`)) === '0 / 30', 'the edited quota is not shown');
    await page.click(`${coupon} button.unlock`);
    await until(async () => (await page.getAttribute(coupon, 'data-state')) === 'claimable', 'the unlocked coupon is not claimable');
    c = await api('/api/coupons');
    stc = c.body.find((x) => x.id === couponId);
    check(stc.quota === 30 && stc.unlocked === true, `coupon after edit+unlock ${JSON.stringify(stc)}`);
    step('coupon edited and unlocked');

    // ---- flash sale ----------------------------------------------------------------------
    await until(async () => (await page.locator(`#s-product option[value="${tee}"]`).count()) === 1, 'the sale form lacks the product');
    await page.selectOption('#s-product', tee);
    await page.fill('#s-price', '9.90');
    // Sold by SKU: the stock field gives way to each SKU's stock.
    await until(async () => (await text(page, '#s-skus-note')) === 'Sold by SKU, each with its stock: M 3 · L 2', 'the SKU note of the sale form');
    check(await page.isHidden('#s-stock'), 'the stock field shows for a product sold by SKU');
    await page.fill('#s-limit', '2');
    await page.fill('#s-duration', '3');
    await page.click('#sale-form button[type=submit]');
    const sale = '#sales tbody tr[data-state="running"]';
    await page.waitForSelector(sale);
    // The "started" toast covers neither the row's time left nor its "End now".
    const covered = await page.evaluate((row) => {
        const box = (e) => e.getBoundingClientRect();
        const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
        const targets = [`${row} .countdown`, `${row} button.end`].map((q) => document.querySelector(q));
        const toasts = [...document.querySelectorAll('#toasts .toast')];
        return { toasts: toasts.length, covered: toasts.some((t) => targets.some((x) => x && hit(box(t), box(x)))) };
    }, sale);
    check(covered.toasts > 0 && !covered.covered, `toasts over the sale row: ${JSON.stringify(covered)}`);
    const cd1 = await text(page, `${sale} .countdown`);
    check(/^0[23]:\d\d$/.test(cd1), `countdown ${cd1}`);
    check((await text(page, `${sale} .sold-n`)) === '0 / 5', 'sold/stock');
    check((await text(page, `${sale} .sku-sold`)) === 'M 0/3 · L 0/2', `per-SKU sold: ${await text(page, `${sale} .sku-sold`)}`);
    await page.waitForTimeout(2200);
    const cd2 = await text(page, `${sale} .countdown`);
    check(cd2 < cd1, `the countdown does not run: ${cd1} then ${cd2}`);
    const saleId = await page.getAttribute(sale, 'data-sale');
    const sales = await api(`/api/rooms/${room}/flash-sales`);
    const sts = sales.body.find((s) => s.id === saleId);
    check(sts && sts.price_cents === 990 && sts.stock === 5 && sts.per_user_limit === 2 && sts.product_id === tee
        && sts.skus.map((k) => `${k.id}:${k.stock}:${k.price_cents}`).join() === 'm:3:990,l:2:990',
        `stored sale ${JSON.stringify(sts)}`);
    step('flash sale started', { countdown: [cd1, cd2] });
    await page.screenshot({ path: join(art, 'console-commerce.png') });
    await page.click(`${sale} button.end`);
    await confirm(page);
    await page.waitForSelector(`#sales tbody tr[data-sale="${saleId}"][data-state="ended"]`);
    step('flash sale ended');

    // ---- analytics and CSV ---------------------------------------------------------------
    await page.click('#tabs button[data-tab=analytics]');
    await page.waitForSelector('#tab-analytics', { state: 'visible' });
    await until(async () => Number(await page.getAttribute('#an-totals', 'data-pushes')) >= 1, 'the push is not counted');
    // The running live, in the numbers a shop acts on (the API's figures, in the table).
    await until(async () => (await page.locator('#lives tbody tr[data-live="true"]').count()) === 1, 'the running live is not listed');
    const lives = await api(`/api/rooms/${room}/lives`);
    const liveRow = '#lives tbody tr[data-live="true"]';
    check(lives.status === 200 && (await text(page, `${liveRow} .orders`)) === String(lives.body.lives[0].orders)
        && /^[\d,.]+ [A-Z]{3}$/.test(await text(page, `${liveRow} .gmv`)), `lives ${JSON.stringify(lives.body)}: ${await text(page, liveRow)}`);
    step('lives', lives.body.lives[0]);
    check(await page.locator('#chart-counts svg path.line').count() + await page.locator('#chart-counts svg circle').count() > 0,
        'the per-minute chart is empty');
    check(await page.locator(`#an-products tr[data-product="${tee}"]`).count() === 1, 'the product table lacks e2e-tee');
    // The A/B table compares variants only: pushes (which reach every variant) are said under it.
    check(await page.locator('#an-variants tr[data-variant="room-wide"]').count() === 0, 'a room-wide row among the variants');
    check(!(await text(page, '#an-variants thead')).includes('Pushes'), 'pushes in the A/B table');
    await until(async () => /push(es)? reached every variant/.test(await text(page, '#an-variants-note')), 'the pushes note under the A/B table');
    const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: 15_000 }),
        page.click('#csv-export'),
    ]);
    const csvPath = join(art, 'console-analytics.csv');
    await download.saveAs(csvPath);
    const csv = readFileSync(csvPath, 'utf8');
    const lines = csv.trim().split('\n');
    check(lines[0] === 'minute,product_id,variant,pushes,displays,clicks,claims,purchases,ctr,conversion',
        `CSV header: ${lines[0]}`);
    check(lines.some((l) => l.split(',')[1] === tee), `CSV lacks the e2e-tee row:\n${csv}`);
    check(download.suggestedFilename().endsWith('.csv'), `download name ${download.suggestedFilename()}`);
    step('CSV exported', { file: download.suggestedFilename(), lines: lines.length });
    await page.screenshot({ path: join(art, 'console-analytics.png') });

    // ---- tablet view ---------------------------------------------------------------------
    await page.setViewportSize({ width: 820, height: 1180 });
    await page.click('#tabs button[data-tab=live]');
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `the page scrolls sideways on a tablet by ${overflow}px`);
    await page.screenshot({ path: join(art, 'console-tablet.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    step('tablet layout fits');

    // ---- a 401 mid-session brings the sign-in back; sign out ----------------------------
    await page.evaluate(() => sessionStorage.setItem('livecart.console.token', 'lc_revoked'));
    await page.reload();
    await page.waitForSelector('#signin-error', { state: 'visible' });
    const ended = await text(page, '#signin-error');
    check(/sign in again/i.test(ended) && ended.includes('invalid api token'), `401 message: ${ended}`);
    check(await page.isHidden('#app'), 'the app stayed after a 401');
    step('401 brings the sign-in back', ended);
    await page.fill('#token', token);
    await page.click('#signin-submit');
    await page.waitForSelector('#app', { state: 'visible' });
    await page.click('#signout');
    await page.waitForSelector('#signin-form', { state: 'visible' });
    check(await page.evaluate(() => !sessionStorage.getItem('livecart.console.token')), 'sign-out kept the token');
    await page.reload();
    await page.waitForSelector('#signin-form', { state: 'visible' });
    check(await page.isHidden('#app'), 'signed out, yet the app shows after a reload');
    step('signed out');

    check(unexpected(errors).length === 0, `the console logged errors:\n  ${unexpected(errors).join('\n  ')}`);
    report.room = room;
});
