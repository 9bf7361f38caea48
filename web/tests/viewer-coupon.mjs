#!/usr/bin/env node
// Scenario 4: coupon claim (and the flash sale). The merchant unlocks a coupon (REST, as the console does); the
// viewer's banner shows it; the claim succeeds once. After a rename and a reload (same guest identity,
// kept in localStorage) claiming again fails with the server's "reached the limit" reason
// shown on the coupon, and the coupon's claim count stays at one. Then a flash sale: its
// countdown matches the server's end time, the viewer buys one, the stock shown goes down;
// a second sale started while it runs is listed under it with its own countdown, a tap
// shows it, a reload (a late joiner) gets both; each disappears when the merchant ends it.
//
//   node web/tests/viewer-coupon.mjs --base http://HOST:PORT --merchant-token T [--room demo]
//        [--artifacts DIR] [--coupon c-1k]

import { api, assert, openViewer, scenario, screenshot, waitInPage } from './lib.mjs';

async function result(page, coupon, what) {
    const sel = `#coupons .coupon[data-id="${coupon}"] .claim-result[data-ok]`;
    await page.waitForSelector(sel, { timeout: 8000 }).catch(() => { throw new Error(`no claim result: ${what}`); });
    return page.$eval(`#coupons .coupon[data-id="${coupon}"]`, (c) => ({
        ok: c.querySelector('.claim-result').dataset.ok,
        text: c.querySelector('.claim-result').textContent,
        button: c.querySelector('button.claim').textContent,
        disabled: c.querySelector('button.claim').disabled,
        claimed: c.classList.contains('claimed'),
    }));
}

scenario('viewer-coupon', async ({ args, browser, report, log }) => {
    const coupon = args.coupon;
    const rest = api(args.base, args.merchantToken);
    const claimFrames = [];
    const helloFrames = [];
    const v = await openViewer(browser, args.base, args.room, {
        beforeGoto: (page) => page.on('websocket', (ws) => ws.on('framesent', (f) => {
            try {
                const m = JSON.parse(f.payload);
                if (m.type === 'claim') claimFrames.push(m);
                if (m.type === 'hello') helloFrames.push(m);
            } catch (_) { /* not JSON */ }
        })),
    });
    const { page } = v;
    const user = await page.evaluate(() => window.__livecart.user.id);

    const couponNow = async () => (await rest.get('/api/coupons')).find((c) => c.id === coupon);
    const claimedBefore = (await couponNow()).claimed;
    const unlocked = await rest.post(`/api/coupons/${coupon}/unlock`);
    const t0 = Date.now();
    const card = `#coupons .coupon[data-id="${coupon}"]`;
    await page.waitForSelector(`${card} button.claim`, { state: 'visible', timeout: 8000 });
    report.bannerAfterMs = Date.now() - t0;
    const title = await page.textContent(`${card} .title`);
    assert(title === unlocked.title, `banner shows "${title}", coupon is "${unlocked.title}"`);

    await page.click(`${card} button.claim`);
    const first = await result(page, coupon, 'first claim');
    report.first = first;
    assert(first.ok === 'true' && /^Claimed!/.test(first.text), `first claim: ${JSON.stringify(first)}`);
    assert(first.claimed && first.disabled, `a claimed coupon stays marked as claimed: ${JSON.stringify(first)}`);
    report.screenshot = await screenshot(page, args.artifacts, 'viewer-coupon.png');

    // A new display name keeps the guest (its claim still counts)...
    await page.click('#me');
    await page.fill('#name-input', 'Mei');
    await page.click('#name-save');
    await waitInPage(page, () => window.__livecart.user?.name === 'Mei'
        && document.querySelector('#conn')?.dataset.state === 'live', null,
        { timeout: 15000, what: 'the renamed guest to be back in the room' });
    const renamed = await page.evaluate(() => window.__livecart.user.id);
    assert(renamed === user, `renaming changed the identity: ${user} → ${renamed}`);

    // ...and so does a reload: the coupon still offered, the second claim refused.
    await page.reload();
    await waitInPage(page, () => document.querySelector('#conn')?.dataset.state === 'live', null,
        { timeout: 15000, what: 'the reloaded page to join' });
    const again = await page.evaluate(() => window.__livecart.user.id);
    assert(again === user, `the reload changed the identity: ${user} → ${again}`);
    await page.waitForSelector(`${card} button.claim:not([disabled])`, { timeout: 8000 });
    await page.click(`${card} button.claim`);
    const second = await result(page, coupon, 'second claim');
    report.second = second;
    assert(second.ok === 'false' && /reached the limit/.test(second.text), `second claim: ${JSON.stringify(second)}`);
    assert(second.claimed, 'after "reached the limit" the coupon shows as claimed');

    const keys = claimFrames.map((m) => m.key);
    report.claimKeys = keys;
    assert(keys.length === 2 && keys[0] !== keys[1], `each attempt has its own idempotency key: ${keys}`);
    const after = await couponNow();
    report.claimed = after.claimed;
    assert(after.claimed === claimedBefore + 1, `coupon ${coupon} claimed ${after.claimed} times, expected ${claimedBefore + 1}`);

    // A flash sale: countdown in server time, stock, one purchase, then the merchant ends it.
    const now = Date.now();
    const sale = await rest.post(`/api/rooms/${args.room}/flash-sales`, {
        room_id: args.room, product_id: 'sku-cap', price_cents: 3900, stock: 5, per_user_limit: 1,
        starts_ms: now - 1000, ends_ms: now + 125_000,
    });
    await page.waitForSelector('#sale:not([hidden]) .countdown', { timeout: 8000 });
    const shown = await page.evaluate(() => ({
        countdown: document.querySelector('#sale .countdown').textContent,
        stock: document.querySelector('#sale .stock').textContent,
        title: document.querySelector('#sale-title').textContent,
    }));
    // The sale names its product: the page shows it whether or not it saw its card.
    const cap = await rest.get('/api/products/sku-cap');
    assert(shown.title === cap.title, `the sale shows "${shown.title}", the product is "${cap.title}"`);
    const [mm, ss] = shown.countdown.split(':').map(Number);
    const left = (sale.ends_ms - Date.now()) / 1000;
    report.sale = { id: sale.id, ...shown, secondsLeft: +left.toFixed(1) };
    assert(/^\d\d:\d\d$/.test(shown.countdown) && Math.abs(mm * 60 + ss - left) <= 2,
        `countdown ${shown.countdown} for ${left.toFixed(1)} s left`);
    assert(shown.stock === '5', `stock shows ${shown.stock}`);
    await page.click('#sale button.buy');
    // The confirmation step names what is bought and its price before anything is sent.
    await page.waitForSelector('#sale-confirm:not([hidden]) button.confirm', { timeout: 8000 });
    report.sale.confirm = await page.$eval('#sale-confirm-text', (n) => n.textContent);
    assert(report.sale.confirm.includes(cap.title) && /39/.test(report.sale.confirm), `confirm line: ${report.sale.confirm}`);
    await page.click('#sale-confirm button.confirm');
    await page.waitForSelector('#sale .buy-result[data-ok]', { timeout: 8000 });
    report.sale.buy = await page.$eval('#sale .buy-result', (r) => ({ ok: r.dataset.ok, text: r.textContent }));
    assert(report.sale.buy.ok === 'true', `buy: ${JSON.stringify(report.sale.buy)}`);
    await waitInPage(page, () => document.querySelector('#sale .stock').textContent === '4', null,
        { timeout: 5000, what: 'the stock to go down to 4' });
    // One per viewer: the button now says the limit is reached, and cannot be pressed.
    report.sale.after = await page.$eval('#sale button.buy', (b) => ({ disabled: b.disabled, key: b.dataset.i18n }));
    assert(report.sale.after.disabled && report.sale.after.key === 'sale.limitReached',
        `after the per-user limit: ${JSON.stringify(report.sale.after)}`);

    // A second sale while the first runs: the first stays in the box, the second is listed
    // under it with its own countdown; a tap shows it; a late joiner gets both.
    const tee = await rest.get('/api/products/sku-tee');
    const sale2 = await rest.post(`/api/rooms/${args.room}/flash-sales`, {
        room_id: args.room, product_id: 'sku-tee', price_cents: 4900, per_user_limit: 1,
        skus: [{ id: 'm', stock: 2 }, { id: 'l', stock: 1 }],
        starts_ms: Date.now() - 500, ends_ms: Date.now() + 65_000,
    });
    const other = `#sale-more:not([hidden]) button.sale-other[data-sale="${sale2.id}"]`;
    await page.waitForSelector(other, { timeout: 8000 });
    const listed = async () => page.evaluate(() => ({
        box: document.querySelector('#sale').dataset.sale,
        title: document.querySelector('#sale-title').textContent,
        others: [...document.querySelectorAll('#sale-more button.sale-other')].map((b) => ({
            id: b.dataset.sale, title: b.querySelector('.sale-other-title').textContent,
            countdown: b.querySelector('.countdown').textContent,
        })),
    }));
    const both = await listed();
    report.concurrent = { first: both };
    assert(both.box === sale.id && both.title === cap.title, `the box left the running sale: ${JSON.stringify(both)}`);
    assert(both.others.length === 1 && both.others[0].title === tee.title && /^01:0\d$/.test(both.others[0].countdown),
        `the second sale is not listed with its countdown: ${JSON.stringify(both.others)}`);
    await page.click(other);
    const swapped = await listed();
    report.concurrent.tapped = swapped;
    assert(swapped.box === sale2.id && swapped.title === tee.title && swapped.others.map((o) => o.id).join() === sale.id,
        `a tap on the second sale: ${JSON.stringify(swapped)}`);
    await page.reload();
    await page.waitForSelector('#sale-more:not([hidden]) button.sale-other', { timeout: 8000 });
    const late = await listed();
    report.concurrent.lateJoiner = late;
    assert([late.box, ...late.others.map((o) => o.id)].sort().join() === [sale.id, sale2.id].sort().join(),
        `a late joiner sees ${JSON.stringify(late)}`);
    await rest.post(`/api/flash-sales/${sale2.id}/end`);
    await waitInPage(page, (id) => document.querySelector('#sale').dataset.sale === id &&
        document.querySelector('#sale-more').hidden, sale.id, { timeout: 8000, what: 'the first sale alone in the box' });

    await rest.post(`/api/flash-sales/${sale.id}/end`);
    await page.waitForSelector('#sale', { state: 'hidden', timeout: 8000 });

    // A coupon for signed-in viewers only: this guest is told to sign in, and cannot claim.
    const vip = await rest.post('/api/coupons', {
        id: `c-vip-${Date.now()}`, room_id: args.room, title: 'VIP ¥20', discount_cents: 2000,
        quota: 100, per_user_limit: 1, unlocked: true, signed_in_only: true,
    });
    const vipCard = `#coupons .coupon[data-id="${vip.id}"]`;
    await page.reload();
    await page.waitForSelector(`${vipCard} button.claim`, { state: 'visible', timeout: 8000 });
    report.signIn = await page.$eval(vipCard, (c) => ({
        button: c.querySelector('button.claim').textContent,
        disabled: c.querySelector('button.claim').disabled,
        marked: c.classList.contains('sign-in'),
    }));
    assert(report.signIn.button === 'Sign in to claim' && report.signIn.disabled && report.signIn.marked,
        `a guest sees a signed-in-only coupon as ${JSON.stringify(report.signIn)}`);
    // The page names its device in hello, the same across reloads (guest throttles).
    const devices = [...new Set(helloFrames.map((m) => m.device))];
    report.devices = devices;
    assert(devices.length === 1 && /^d_[0-9a-f]{24}$/.test(devices[0]), `hello devices: ${devices}`);
    log(`first: "${first.text}"; second: "${second.text}"; sale: ${JSON.stringify(report.sale)}`);
}, { coupon: 'c-1k' });
