#!/usr/bin/env node
// Scenario: the product bag (小黄车) on a phone. The merchant sets the live's products
// (REST, as the console does): the page's bag button shows their count without a reload,
// and the sheet lists each with its image, title, price and stock, in the merchant's
// order. The host pushes a card: that product is marked 讲解中 / "Now presenting" (and
// listed first). Tapping another product closes the sheet and opens its card. A late
// joiner (a reload) gets the same list; an emptied bag hides the button.
//
//   node web/tests/viewer-bag.mjs --base http://HOST:PORT --merchant-token T [--room demo]
//        [--artifacts DIR]

import { PHONE, api, assert, openViewer, scenario, screenshot, waitInPage } from './lib.mjs';

const bagItems = () => [...document.querySelectorAll('#bag-list .bag-item')].map((li) => ({
    id: li.dataset.product,
    title: li.querySelector('.bag-title').textContent,
    price: li.querySelector('.bag-price').textContent,
    stock: li.querySelector('.bag-stock').textContent,
    presenting: li.classList.contains('presenting'),
    badge: li.querySelector('.bag-live')?.textContent || null,
    image: li.querySelector('.bag-img')?.getAttribute('src') || null,
}));

scenario('viewer-bag', async ({ args, browser, report, log }) => {
    const rest = api(args.base, args.merchantToken);
    const path = `/api/rooms/${args.room}/products`;
    await rest.put(path, { product_ids: [] });
    const v = await openViewer(browser, args.base, args.room, { viewport: PHONE, hasTouch: true, isMobile: true, locale: 'zh-CN' });
    const { page } = v;
    report.hiddenWhenEmpty = await page.evaluate(() => document.querySelector('#bag-open').hidden);
    assert(report.hiddenWhenEmpty, 'the bag button shows for an empty bag');

    const catalog = await rest.get('/api/products');
    const byId = Object.fromEntries(catalog.map((p) => [p.id, p]));
    const order = ['sku-cap', 'sku-tee'];
    for (const id of order) assert(byId[id], `the demo catalog has no ${id}`);
    await rest.put(path, { product_ids: order });
    await waitInPage(page, () => !document.querySelector('#bag-open').hidden
        && document.querySelector('#bag-count').textContent === '2', null, { what: 'the bag button to show 2 products' });
    report.buttonLabel = await page.getAttribute('#bag-open', 'aria-label');
    await page.tap('#bag-open');
    await waitInPage(page, () => !document.querySelector('#bag').hidden, null, { what: 'the bag sheet to open' });
    report.listed = await page.evaluate(bagItems);
    assert(JSON.stringify(report.listed.map((i) => i.id)) === JSON.stringify(order), `listed ${JSON.stringify(report.listed.map((i) => i.id))}`);
    for (const item of report.listed) {
        const p = byId[item.id];
        assert(item.title === p.title, `${item.id} titled "${item.title}", not "${p.title}"`);
        assert(item.stock === `库存 ${p.stock}`, `${item.id} stock "${item.stock}" (${p.stock})`);
        assert(/^¥\d/.test(item.price), `${item.id} price "${item.price}"`);
        assert(!p.image_url || item.image === p.image_url, `${item.id} image ${item.image}`);
        assert(!item.presenting, `${item.id} marked presenting before any push`);
    }
    await page.waitForTimeout(400); // its slide-up
    await screenshot(page, args.artifacts, 'viewer-bag.png');
    await page.tap('#bag-close');

    // The host presents sku-tee: it is marked, and first.
    await rest.post(`/api/rooms/${args.room}/push`, { product_id: 'sku-tee', duration_ms: 2000 });
    await waitInPage(page, () => document.querySelector('#bag-list .bag-item.presenting'), null,
        { timeout: 15000, what: 'the pushed product to be marked in the bag' });
    report.presenting = await page.evaluate(bagItems);
    const marked = report.presenting.filter((i) => i.presenting);
    assert(marked.length === 1 && marked[0].id === 'sku-tee' && marked[0].badge === '讲解中',
        `marked: ${JSON.stringify(marked)}`);
    assert(report.presenting[0].id === 'sku-tee', 'the presented product is not listed first');
    await page.tap('#bag-open');
    await waitInPage(page, () => !document.querySelector('#bag').hidden, null, { what: 'the bag sheet to open again' });
    await page.waitForTimeout(400);
    await screenshot(page, args.artifacts, 'viewer-bag-presenting.png');

    // Tapping the other product opens its card and closes the sheet.
    await page.tap('#bag-list .bag-item[data-product="sku-cap"] button');
    await waitInPage(page, () => document.querySelector('#card .card.in[data-product="sku-cap"]'), null,
        { what: 'the tapped product\'s card' });
    report.card = await page.evaluate(() => ({
        sheetHidden: document.querySelector('#bag').hidden,
        title: document.querySelector('#card .card .title').textContent,
        kicker: document.querySelector('#card .card .card-kicker').textContent,
        buy: document.querySelector('#card .card a.buy').getAttribute('href'),
        acked: window.__livecart.cards.some((c) => c.push_id === 'bag-sku-cap'),
    }));
    assert(report.card.sheetHidden, 'the sheet stayed open over the card');
    assert(report.card.title === byId['sku-cap'].title, `card title ${report.card.title}`);
    assert(report.card.kicker === '本场商品', `card kicker ${report.card.kicker}`);
    assert(report.card.buy === byId['sku-cap'].buy_url, `card buy link ${report.card.buy}`);
    assert(!report.card.acked, 'a card the viewer opened was recorded as a push display');
    await page.waitForTimeout(500); // its slide-in
    await screenshot(page, args.artifacts, 'viewer-bag-card.png');

    // A late joiner gets the list from its snapshot.
    await page.reload();
    await waitInPage(page, () => document.querySelector('#bag-count')?.textContent === '2', null,
        { timeout: 15000, what: 'the reloaded page\'s bag' });
    // Emptied: the button goes.
    await rest.put(path, { product_ids: [] });
    await waitInPage(page, () => document.querySelector('#bag-open').hidden, null, { what: 'the emptied bag to hide its button' });
    report.page_errors = v.errors.filter((e) => e.startsWith('pageerror'));
    assert(!report.page_errors.length, `page errors: ${report.page_errors.join('; ')}`);
    log(`bag: ${report.listed.length} products, presenting ${marked[0].id}`);
});
