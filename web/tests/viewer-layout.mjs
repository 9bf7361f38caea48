#!/usr/bin/env node
// Scenario: the viewer page's layouts, contrast and chat announcements, in the demo room
// (its video playing) with a coupon, a flash sale and a product card showing.
//
//   node web/tests/viewer-layout.mjs --base http://HOST:PORT --merchant-token T
//        [--room demo] [--artifacts DIR]
//
// Checks, and reports what it measured:
// - phone portrait 390×844 (touch): the video covers ≥ 60 % of the viewport's height; with
//   coupon + sale + card the composer is inside the viewport and nothing covers it, and
//   the chat still shows ≥ 3 whole lines; the same on 360×640.
// - phone landscape 844×390: the card and the offers cover neither the room bar, the chat
//   nor the composer; the chat shows ≥ 3 lines.
// - desktop 1280×800 (no touch): the video is beside the chat and ≥ 60 % of the width;
//   the unmute button says "Click", the phone's "Tap".
// - the latency badge is hidden in a room that is not live, and shows seconds once playing.
// - contrast ≥ 4.5:1 for the LIVE badge and the text over the video, in each layout.
// - the chat list is not a live region; 15 comments from someone else announce nothing, a
//   mention of the viewer is announced.
// - an unknown room answers 404 with a styled page in the browser's language.
// - the coupon says its amount once.
// Screenshots: layout-{portrait,small,landscape,desktop}.png.

import { api, assert, newPage, openViewer, scenario, screenshot, waitInPage } from './lib.mjs';
import { boxes, contrasts, coveredAt } from './viewer-checks.mjs';

const MIN_CONTRAST = 4.5;
/** What must be legible: the badges, the room bar, chat, offers, the video's messages. */
const TEXTS = [
    '#live-badge', '#latency-badge', '.viewers-badge', '#title', '#host-line', '.lang', '.me-name',
    '#chat > li .text', '#chat > li .name', '#chat > li .role', '.unmute-text', '#new-msgs',
    '.coupon .value', '.coupon .title', '.coupon .claim', '.sale-tag', '.sale-when', '.countdown', '.sale-title',
    '.sale-price', '.sale-was', '.sale-stock', '.sale .buy', '.card .title', '.card .price', '.card .buy', '.card .card-kicker',
    '#chat-send', '#likes', '#video-status-text', '.replay-link',
];

const overlap = (a, b) => a && b && a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;

/** The chat lines entirely inside the chat's visible box. */
const wholeChatLines = (page) => page.evaluate(() => {
    const box = document.querySelector('#chat').getBoundingClientRect();
    return [...document.querySelectorAll('#chat > li')].filter((li) => {
        const r = li.getBoundingClientRect();
        return r.height > 0 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    }).length;
});

async function measure(page, name, report, artifacts) {
    await page.waitForTimeout(600); // transitions (cards slide in in 350 ms)
    const b = await page.evaluate(boxes, ['#player', '.stage', '.room-bar', '.dock', '.chat-area', '#chat', '.composer', '#card .card', '#coupons', '#sale']);
    const vp = page.viewportSize();
    const composerCovered = [];
    for (const sel of ['.composer', '#chat-input', '#chat-send', '#gift-open', '#like']) {
        composerCovered.push(...await page.evaluate(coveredAt, [sel, '.composer']));
    }
    const low = (await page.evaluate(contrasts, TEXTS)).filter((c) => c.ratio < MIN_CONTRAST);
    const m = {
        viewport: `${vp.width}x${vp.height}`,
        videoHeightShare: +(b['#player'].height / vp.height).toFixed(2),
        videoWidthShare: +(b['#player'].width / vp.width).toFixed(2),
        chatLines: await wholeChatLines(page),
        chatHeight: Math.round(b['#chat'].height),
        composerInViewport: b['.composer'].bottom <= vp.height + 0.5 && b['.composer'].top >= 0,
        composerCovered,
        lowContrast: low,
        boxes: Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v && [v.left, v.top, v.width, v.height].map(Math.round)])),
    };
    report[name] = m;
    await screenshot(page, artifacts, `layout-${name}.png`);
    assert(m.composerInViewport, `${name}: the composer is outside the viewport: ${JSON.stringify(m.boxes)}`);
    assert(!composerCovered.length, `${name}: the composer is covered: ${JSON.stringify(composerCovered)}`);
    assert(!low.length, `${name}: text below ${MIN_CONTRAST}:1: ${JSON.stringify(low)}`);
    return { m, b };
}

scenario('viewer-layout', async ({ args, browser, report, log }) => {
    const rest = api(args.base, args.merchantToken);

    // Before a live: a new room has no video; the latency badge is not shown.
    const idleRoom = await rest.post('/api/rooms', { title: 'Layout test' });
    const idle = await openViewer(browser, args.base, idleRoom.id, { hasTouch: true, isMobile: true });
    await waitInPage(idle.page, () => document.querySelector('#video-status').dataset.state === 'waiting', null,
        { timeout: 20000, what: 'the idle room to wait for its host' });
    report.idleLatencyBadgeHidden = await idle.page.evaluate(() => !document.querySelector('#latency-badge').checkVisibility());
    assert(report.idleLatencyBadgeHidden, 'the latency badge shows before the live');
    const idleLow = (await idle.page.evaluate(contrasts, TEXTS)).filter((c) => c.ratio < MIN_CONTRAST);
    assert(!idleLow.length, `idle: text below ${MIN_CONTRAST}:1: ${JSON.stringify(idleLow)}`);
    await idle.context.close();

    // A phone in portrait, the live playing, someone else chatting.
    const phone = await openViewer(browser, args.base, args.room, { hasTouch: true, isMobile: true, query: { name: 'Lin' } });
    const { page } = phone;
    await waitInPage(page, () => window.__livecart.playerState === 'playing' && !document.querySelector('#latency-badge').hidden,
        null, { timeout: 30000, what: 'the live to play with its latency shown' });
    report.latencyText = await page.textContent('#latency');
    assert(/^\d+\.\d s$/.test(report.latencyText), `latency shows "${report.latencyText}"`);
    report.unmutePhone = await page.textContent('#unmute');
    assert(/^Tap to unmute$/.test(report.unmutePhone.trim()), `phone unmute says "${report.unmutePhone}"`);
    assert(await page.evaluate(() => document.querySelector('#chat').getAttribute('aria-live') === 'off'),
        'the chat list is a live region');

    const other = await openViewer(browser, args.base, args.room, { query: { name: 'Kai' } });
    for (let i = 1; i <= 15; i++) {
        await other.page.fill('#chat-input', `comment number ${i}`);
        await other.page.press('#chat-input', 'Enter');
    }
    await waitInPage(page, () => [...document.querySelectorAll('#chat .comment .text')].some((n) => n.textContent === 'comment number 15'),
        null, { timeout: 10000, what: 'the 15 comments' });
    report.announcedAfterBusyChat = await page.textContent('#chat-announce');
    assert(report.announcedAfterBusyChat === '', `others' comments were announced: "${report.announcedAfterBusyChat}"`);
    await other.page.fill('#chat-input', '@Lin which size fits me?');
    await other.page.press('#chat-input', 'Enter');
    await waitInPage(page, () => /Lin which size/.test(document.querySelector('#chat-announce').textContent), null,
        { timeout: 8000, what: 'the mention to be announced' });
    report.announcedMention = await page.textContent('#chat-announce');

    const plain = await measure(page, 'portrait-empty', report, args.artifacts);
    assert(plain.m.videoHeightShare >= 0.6, `the video covers ${plain.m.videoHeightShare} of the height`);

    // Coupon, flash sale and card at once.
    await rest.post('/api/coupons/c-1k/unlock');
    const now = Date.now();
    await rest.post(`/api/rooms/${args.room}/flash-sales`, {
        room_id: args.room, product_id: 'sku-cap', price_cents: 3900, stock: 50, per_user_limit: 1,
        starts_ms: now - 1000, ends_ms: now + 600_000,
    });
    await rest.post(`/api/rooms/${args.room}/push`, { product_id: 'sku-tee', duration_ms: 120_000 });
    const allShown = () => document.querySelector('#coupons .coupon') && !document.querySelector('#sale').hidden
        && document.querySelector('#card .card.in');
    await waitInPage(page, allShown, null, { timeout: 20000, what: 'coupon, sale and card on the phone' });

    // No price said twice on the coupon (the demo coupon's title names its amount).
    report.couponText = await page.evaluate(() => [...document.querySelectorAll('#coupons .coupon-ticket > *')]
        .filter((n) => n.checkVisibility()).map((n) => n.textContent).join(' | '));
    assert((report.couponText.match(/10/g) || []).length === 1, `the coupon repeats its amount: "${report.couponText}"`);

    const portrait = await measure(page, 'portrait', report, args.artifacts);
    assert(portrait.m.videoHeightShare >= 0.6, `portrait: the video covers ${portrait.m.videoHeightShare} of the height`);
    assert(portrait.m.chatLines >= 3, `portrait: ${portrait.m.chatLines} chat lines with coupon, sale and card`);

    await page.setViewportSize({ width: 360, height: 640 });
    const small = await measure(page, 'small', report, args.artifacts);
    assert(small.m.chatLines >= 3, `360×640: ${small.m.chatLines} chat lines with coupon, sale and card`);

    await page.setViewportSize({ width: 844, height: 390 });
    const land = await measure(page, 'landscape', report, args.artifacts);
    for (const sel of ['.room-bar', '.chat-area', '.composer']) {
        for (const cover of ['#card .card', '#coupons', '#sale']) {
            assert(!overlap(land.b[cover], land.b[sel]), `landscape: ${cover} covers ${sel}: ${JSON.stringify(land.m.boxes)}`);
        }
    }
    assert(land.m.chatLines >= 3, `landscape: ${land.m.chatLines} chat lines`);
    await phone.context.close();

    // A desktop: the video beside the chat, most of the width; no touch: "Click".
    const desk = await openViewer(browser, args.base, args.room, { viewport: { width: 1280, height: 800 } });
    await waitInPage(desk.page, () => window.__livecart.playerState === 'playing' && !document.querySelector('#unmute').hidden
        && document.querySelector('#coupons .coupon') && !document.querySelector('#sale').hidden,
    null, { timeout: 30000, what: 'the desktop page to play with the offers' });
    report.unmuteDesktop = await desk.page.textContent('#unmute');
    assert(/^Click to unmute$/.test(report.unmuteDesktop.trim()), `desktop unmute says "${report.unmuteDesktop}"`);
    const wide = await measure(desk.page, 'desktop', report, args.artifacts);
    assert(wide.b['.stage'].right <= wide.b['.chat-area'].left + 1, `desktop: the video is not beside the chat: ${JSON.stringify(wide.m.boxes)}`);
    assert(wide.b['.stage'].width >= 0.6 * 1280, `desktop: the video is ${wide.b['.stage'].width} px wide`);
    await desk.context.close();
    await other.context.close();

    // An unknown room: a styled page, in the browser's language.
    for (const locale of ['en-US', 'zh-CN']) {
        const v = await newPage(browser, { base: args.base, locale });
        const r = await v.page.goto(`${args.base}/live/no-such-room`);
        const shown = await v.page.evaluate(() => ({
            h1: document.querySelector('h1')?.textContent || '',
            lang: document.documentElement.lang,
            background: getComputedStyle(document.body).backgroundColor,
            styled: [...document.styleSheets].length > 0,
        }));
        report[`missing-${locale}`] = { status: r.status(), ...shown };
        assert(r.status() === 404, `unknown room answered ${r.status()}`);
        assert(shown.styled && shown.background !== 'rgba(0, 0, 0, 0)' && shown.background !== 'rgb(255, 255, 255)',
            `the unknown-room page is not styled: ${JSON.stringify(shown)}`);
        assert(locale === 'zh-CN' ? /直播间不存在/.test(shown.h1) : /No such live room/.test(shown.h1),
            `unknown room in ${locale}: ${JSON.stringify(shown)}`);
        await screenshot(v.page, args.artifacts, `missing-room-${locale}.png`);
        await v.context.close();
    }
    log(`portrait video ${portrait.m.videoHeightShare}, chat lines ${portrait.m.chatLines} / ${small.m.chatLines} / ${land.m.chatLines}`);
});
