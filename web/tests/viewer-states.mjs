#!/usr/bin/env node
// Scenario: the viewer page in zh-CN and in en, in every state a viewer meets, on a phone
// (portrait and landscape) and a desktop; one language per screen.
//
//   node web/tests/viewer-states.mjs --base http://HOST:PORT --merchant-token T
//        [--room demo] [--artifacts DIR]
//
// For each language a phone page (touch) and a desktop page, with the browser's language
// set to it, go through the states: idle (a room waiting for its host), live (the demo
// room playing, muted), coupon (unlocked and claimed), confirm (a flash-sale buy's
// confirmation step), sale (a flash sale, one bought),
// card (a product card pushed), bag (the product bag open), muted (a moderator muted the viewer). In each state and
// view the DOM is walked (viewer-checks.mjs `wrongLanguage`): in zh-CN no Latin word
// outside the allow-list, in en no CJK character, outside what viewers and the shop
// wrote. Counts and prices are formatted per locale (4,080; 1.2万; ¥99), the browser's
// languages pick the page's (zh* → zh-CN, else en). Then the language switch turns the
// en page into zh-CN in place and the choice survives a reload. Screenshots: viewer-states/<lang>/<state>-<view>.png (48 of them).

import { api, assert, newPage, scenario, screenshot, waitInPage } from './lib.mjs';
import { wrongLanguage } from './viewer-checks.mjs';

/** Latin words a Chinese screen may show: the brand. */
const ALLOW = ['livecart'];
const LANGS = [{ lang: 'zh-CN', locale: 'zh-CN' }, { lang: 'en', locale: 'en-US' }];
const PORTRAIT = { width: 390, height: 844 };
const LANDSCAPE = { width: 844, height: 390 };
const DESKTOP = { width: 1280, height: 800 };

async function open(browser, base, room, opts, what) {
    const v = await newPage(browser, { ...opts, base });
    await v.page.goto(`${base}/live/${encodeURIComponent(room)}`);
    await waitInPage(v.page, () => document.querySelector('#conn')?.dataset.state === 'live', null,
        { timeout: 15000, what: `${what} to join` });
    return v;
}

scenario('viewer-states', async ({ args, browser, report, log }) => {
    const rest = api(args.base, args.merchantToken);
    const idleRoom = await rest.post('/api/rooms', { title: 'States test' });
    report.violations = [];
    report.screenshots = 0;
    report.checked = 0;

    const viewers = [];
    for (const { lang, locale } of LANGS) {
        const phone = await open(browser, args.base, idleRoom.id, { viewport: PORTRAIT, hasTouch: true, isMobile: true, locale }, `the ${lang} phone`);
        const desk = await open(browser, args.base, idleRoom.id, { viewport: DESKTOP, locale }, `the ${lang} desktop`);
        for (const v of [phone, desk]) {
            const shown = await v.page.evaluate(() => window.__livecart.lang);
            assert(shown === lang, `a ${locale} browser got the page in ${shown}`);
        }
        viewers.push({ lang, phone, desk });
    }
    const pages = () => viewers.flatMap((v) => [v.phone.page, v.desk.page]);

    // The locale's formats, as the page uses them, and the choice of language.
    report.formats = {};
    for (const { lang, phone } of viewers) {
        report.formats[lang] = await phone.page.evaluate(async () => {
            const i18n = await import('/assets/viewer-i18n.js');
            return {
                4080: i18n.formatCount(4080), 12000: i18n.formatCount(12000), 1234567: i18n.formatCount(1234567),
                price9900: i18n.formatPrice(9900, 'CNY'), price990: i18n.formatPrice(990, 'CNY'),
                pick: [['zh-TW', 'en'], ['fr-FR', 'en-GB'], ['de'], ['zh'], []].map((l) => i18n.pickLang(l)),
            };
        });
    }
    const want = {
        'zh-CN': { 4080: '4,080', 12000: '1.2万', 1234567: '123.5万', price9900: '¥99', price990: '¥9.90' },
        en: { 4080: '4,080', 12000: '12,000', 1234567: '1,234,567', price9900: '¥99', price990: '¥9.90' },
    };
    for (const [lang, w] of Object.entries(want)) {
        for (const [k, v] of Object.entries(w)) {
            assert(report.formats[lang][k] === v, `${lang}: ${k} formats as "${report.formats[lang][k]}", not "${v}"`);
        }
    }
    assert(JSON.stringify(report.formats.en.pick) === JSON.stringify(['zh-CN', 'en', 'en', 'zh-CN', 'en']),
        `languages picked: ${JSON.stringify(report.formats.en.pick)}`);
    const waitAll = async (fn, what, timeout = 20000) => {
        for (const p of pages()) await waitInPage(p, fn, null, { timeout, what });
    };

    /** Walk and photograph every view of every language in state `state`. */
    async function capture(state) {
        for (const { lang, phone, desk } of viewers) {
            const views = [[phone.page, PORTRAIT, 'phone-portrait'], [phone.page, LANDSCAPE, 'phone-landscape'], [desk.page, DESKTOP, 'desktop']];
            for (const [page, size, view] of views) {
                await page.setViewportSize(size);
                await page.waitForTimeout(400);
                const bad = await page.evaluate(wrongLanguage, [lang, ALLOW]);
                report.checked++;
                for (const b of bad) report.violations.push({ lang, state, view, ...b });
                await screenshot(page, args.artifacts, `viewer-states/${lang}/${state}-${view}.png`);
                report.screenshots++;
            }
            await phone.page.setViewportSize(PORTRAIT);
        }
        log(`${state}: ${report.violations.length} violation(s) so far`);
    }

    await waitAll(() => document.querySelector('#video-status').dataset.state === 'waiting', 'the idle room to wait');
    await capture('idle');

    for (const v of pages()) await v.goto(`${args.base}/live/${encodeURIComponent(args.room)}`);
    await waitAll(() => window.__livecart.playerState === 'playing' && !document.querySelector('#latency-badge').hidden
        && !document.querySelector('#unmute').hidden, 'the live to play (muted)', 30000);
    await capture('live');

    // 满减 beside it: ¥20 off orders of ¥199 or more, said the way each language says it.
    await rest.post('/api/coupons', {
        id: 'c-199', room_id: args.room, title: 'Spend & save', discount_cents: 2000, min_spend_cents: 19900,
        quota: 100, per_user_limit: 1, unlocked: true,
    });
    await rest.post('/api/coupons/c-1k/unlock');
    await waitAll(() => document.querySelector('#coupons .coupon button.claim:not([disabled])')
        && document.querySelector('#coupons .coupon[data-id="c-199"] .cond'), 'the coupons');
    report.minSpend = {};
    for (const { lang, phone } of viewers) {
        report.minSpend[lang] = await phone.page.$eval('#coupons .coupon[data-id="c-199"] .cond', (n) => n.textContent);
    }
    assert(report.minSpend['zh-CN'] === '满199减20', `zh-CN min spend: ${report.minSpend['zh-CN']}`);
    assert(report.minSpend.en === '¥20 off orders of ¥199 or more', `en min spend: ${report.minSpend.en}`);
    for (const p of pages()) await p.click('#coupons .coupon[data-id="c-1k"] button.claim');
    await waitAll(() => document.querySelector('#coupons .claim-result[data-ok]'), 'the claim result');
    await capture('coupon');

    const now = Date.now();
    await rest.post(`/api/rooms/${args.room}/flash-sales`, {
        room_id: args.room, product_id: 'sku-cap', price_cents: 3900, stock: 50, per_user_limit: 1,
        starts_ms: now - 1000, ends_ms: now + 600_000,
    });
    await waitAll(() => !document.querySelector('#sale').hidden && !document.querySelector('#sale button.buy').disabled, 'the sale');
    for (const p of pages()) await p.click('#sale button.buy');
    await waitAll(() => !document.querySelector('#sale-confirm').hidden, 'the confirmation step');
    await capture('confirm');
    for (const p of pages()) await p.click('#sale-confirm button.confirm');
    await waitAll(() => document.querySelector('#sale .buy-result[data-ok]'), 'the buy result');
    await capture('sale');

    await rest.post(`/api/rooms/${args.room}/push`, { product_id: 'sku-tee', duration_ms: 120_000 });
    await waitAll(() => document.querySelector('#card .card.in'), 'the card');
    await capture('card');

    // The product bag open (the demo's bag lists its catalog; the card's product is
    // marked as presented).
    for (const p of pages()) await p.click('#bag-open');
    await waitAll(() => !document.querySelector('#bag').hidden && document.querySelector('#bag-list .bag-item.presenting'), 'the bag sheet');
    await capture('bag');
    for (const p of pages()) await p.click('#bag-close');

    const { token } = await rest.post(`/api/rooms/${args.room}/tokens`, { user_id: 'host-1', name: 'Host Mia', role: 'host' });
    const host = await newPage(browser, { base: args.base });
    await host.page.goto(`${args.base}/live/${encodeURIComponent(args.room)}?token=${encodeURIComponent(token)}`);
    await waitInPage(host.page, () => document.querySelector('#conn')?.dataset.state === 'live', null, { what: 'the host to join' });
    for (const p of pages()) {
        const id = await p.evaluate(() => window.__livecart.user.id);
        await host.page.evaluate((m) => window.__livecart.room.send(m), { type: 'mute', user_id: id });
    }
    await waitAll(() => document.querySelector('#chat .notice'), 'the muted notice');
    await capture('muted');

    // The switch: the en phone page becomes zh-CN in place, with every state on it, and
    // stays zh-CN after a reload. (Before it, the same walk for zh-CN must object to the
    // English page: it sees the page's words.)
    const en = viewers.find((v) => v.lang === 'en').phone.page;
    report.englishAsChinese = (await en.evaluate(wrongLanguage, ['zh-CN', ALLOW])).length;
    assert(report.englishAsChinese >= 10, `the walk found only ${report.englishAsChinese} English texts on the en page`);
    await en.click('#lang');
    await en.waitForTimeout(300);
    const switched = await en.evaluate(wrongLanguage, ['zh-CN', ALLOW]);
    report.switched = { lang: await en.evaluate(() => window.__livecart.lang), violations: switched };
    for (const b of switched) report.violations.push({ lang: 'zh-CN', state: 'switched', view: 'phone-portrait', ...b });
    await screenshot(en, args.artifacts, 'viewer-states/switched-to-zh-CN.png');
    await en.reload();
    await waitInPage(en, () => document.querySelector('#conn')?.dataset.state === 'live', null, { what: 'the reloaded page' });
    report.afterReload = await en.evaluate(() => window.__livecart.lang);
    assert(report.switched.lang === 'zh-CN', `the switch left the page in ${report.switched.lang}`);
    assert(report.afterReload === 'zh-CN', `after a reload the page is in ${report.afterReload}`);

    const keys = await en.evaluate(async () => (await import('/assets/viewer-i18n.js')).keySets());
    const [zh, enKeys] = [keys['zh-CN'], keys.en];
    report.keys = { 'zh-CN': zh.length, en: enKeys.length, onlyZh: zh.filter((k) => !enKeys.includes(k)), onlyEn: enKeys.filter((k) => !zh.includes(k)) };
    assert(!report.keys.onlyZh.length && !report.keys.onlyEn.length, `the languages' keys differ: ${JSON.stringify(report.keys)}`);

    // (A room waiting for its host answers its manifest with 404 until it is live.)
    const errors = viewers.flatMap((v) => [...v.phone.errors, ...v.desk.errors]).filter((e) => !/status of 404/.test(e));
    assert(!errors.length, `page errors: ${errors.slice(0, 5).join(' | ')}`);
    assert(!report.violations.length,
        `${report.violations.length} text(s) in the wrong language: ${JSON.stringify(report.violations.slice(0, 12))}`);
    log(`${report.checked} views walked, ${report.screenshots} screenshots`);
});
