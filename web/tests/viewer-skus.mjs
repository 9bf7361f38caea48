#!/usr/bin/env node
// Scenario: a flash sale that sells by SKU, on two phones (zh-CN). The merchant starts a
// sale of the demo tee offering M (1 left) and L (3 left) at ¥49, one per viewer (REST, as
// the console does). Viewer A sees a chip per size, none chosen; "buy" without one asks
// for a size and sends nothing. A picks M: the box shows M's price and stock; "buy" opens
// the confirmation ("确认购买：Cotton Tee M ¥49"), and confirming ends in words ("已下单：
// Cotton Tee M ¥49"), after which the button says the limit is reached. Viewer B, who had
// chosen M and opened its confirmation meanwhile, is told M is sold out (the confirmation
// closes, the M chip is greyed 已抢光), picks L and buys it. The store's counts agree:
// M 1/1, L 1/3.
//
//   node web/tests/viewer-skus.mjs --base http://HOST:PORT --merchant-token T [--room demo]
//        [--artifacts DIR]

import { PHONE, api, assert, openViewer, scenario, screenshot, waitInPage } from './lib.mjs';

const boxState = () => {
    const sale = document.querySelector('#sale');
    return {
        chips: [...sale.querySelectorAll('#sale-skus button.sku')].map((b) => ({
            id: b.dataset.sku, name: b.querySelector('.sku-name').textContent,
            pressed: b.getAttribute('aria-pressed') === 'true', disabled: b.disabled,
            out: b.querySelector('.sku-out').textContent,
        })),
        price: document.querySelector('#sale-price').textContent,
        stock: sale.querySelector('.stock').textContent,
        button: { text: sale.querySelector('button.buy').textContent, disabled: sale.querySelector('button.buy').disabled },
        confirm: document.querySelector('#sale-confirm').hidden ? null : document.querySelector('#sale-confirm-text').textContent,
        result: sale.querySelector('.buy-result').textContent,
        ok: sale.querySelector('.buy-result').dataset.ok || null,
    };
};

scenario('viewer-skus', async ({ args, browser, report, log }) => {
    const rest = api(args.base, args.merchantToken);
    const tee = await rest.get('/api/products/sku-tee');
    assert((tee.skus || []).some((s) => s.id === 'm'), `the demo tee has no SKU m: ${JSON.stringify(tee.skus)}`);
    const phone = { viewport: PHONE, hasTouch: true, isMobile: true, locale: 'zh-CN' };
    const a = (await openViewer(browser, args.base, args.room, phone)).page;
    const b = (await openViewer(browser, args.base, args.room, phone)).page;
    const sent = [];
    a.on('websocket', (ws) => ws.on('framesent', (f) => {
        if (typeof f.payload === 'string' && f.payload.includes('"buy"')) sent.push(JSON.parse(f.payload));
    }));
    await a.reload();
    await waitInPage(a, () => document.querySelector('#conn')?.dataset.state === 'live', null, { what: 'A to rejoin' });

    const now = Date.now();
    const sale = await rest.post(`/api/rooms/${args.room}/flash-sales`, {
        product_id: 'sku-tee', price_cents: 4900, per_user_limit: 1, starts_ms: now - 1000, ends_ms: now + 300_000,
        skus: [{ id: 'm', stock: 1 }, { id: 'l', stock: 3 }],
    });
    report.sale = { id: sale.id, stock: sale.stock, skus: sale.skus };
    assert(sale.stock === 4, `the sale's stock is the SKUs' sum: ${sale.stock}`);
    for (const p of [a, b]) {
        await waitInPage(p, () => document.querySelectorAll('#sale:not([hidden]) #sale-skus button.sku').length === 2, null,
            { what: 'the sale with its two SKUs' });
    }
    report.shown = await a.evaluate(boxState);
    assert(report.shown.chips.map((c) => c.name).join() === 'M,L', `chips ${JSON.stringify(report.shown.chips)}`);
    assert(report.shown.chips.every((c) => !c.pressed && !c.disabled), 'a SKU was chosen for the viewer');

    // Buying without a size asks for one, and sends nothing.
    await a.tap('#sale button.buy');
    await waitInPage(a, () => document.querySelector('#sale .buy-result').dataset.ok === 'false', null, { what: 'the ask for a size' });
    report.noSku = await a.evaluate(boxState);
    assert(report.noSku.result === '请先选择规格。' && report.noSku.confirm === null, `without a SKU: ${JSON.stringify(report.noSku)}`);

    // B chooses M and opens its confirmation before A buys the only one.
    await b.tap('#sale-skus button.sku[data-sku="m"]');
    await b.tap('#sale button.buy');
    await waitInPage(b, () => !document.querySelector('#sale-confirm').hidden, null, { what: "B's confirmation" });

    await a.tap('#sale-skus button.sku[data-sku="m"]');
    report.picked = await a.evaluate(boxState);
    assert(report.picked.chips[0].pressed && report.picked.price === '¥49' && report.picked.stock === '1',
        `after picking M: ${JSON.stringify(report.picked)}`);
    await a.tap('#sale button.buy');
    await waitInPage(a, () => !document.querySelector('#sale-confirm').hidden, null, { what: 'the confirmation' });
    report.confirm = await a.evaluate(boxState);
    assert(report.confirm.confirm === `确认购买：${tee.title} M ¥49`, `confirmation: ${report.confirm.confirm}`);
    assert(report.confirm.button.disabled, 'the buy button can still be pressed under the confirmation');
    assert(sent.length === 0, `a buy was sent before confirming: ${JSON.stringify(sent)}`);
    await screenshot(a, args.artifacts, 'viewer-sku-confirm.png');
    await a.tap('#sale-confirm button.confirm');
    await waitInPage(a, () => document.querySelector('#sale .buy-result').dataset.ok === 'true', null, { what: 'the order' });
    await waitInPage(a, () => document.querySelector('#sale-skus button.sku[data-sku="m"]').disabled, null, { what: 'M to sell out on A' });
    report.ordered = await a.evaluate(boxState);
    report.sent = sent;
    assert(sent.length === 1 && sent[0].sku === 'm', `buys sent: ${JSON.stringify(sent)}`);
    assert(report.ordered.result === `已下单：${tee.title} M ¥49`, `result: ${report.ordered.result}`);
    assert(report.ordered.button.text === '已达限购' && report.ordered.button.disabled, `after the limit: ${JSON.stringify(report.ordered.button)}`);
    await screenshot(a, args.artifacts, 'viewer-sku-ordered.png');

    // B: M sold out under its confirmation, said in words; it buys L instead.
    await waitInPage(b, () => document.querySelector('#sale-confirm').hidden
        && document.querySelector('#sale .buy-result').dataset.ok === 'false', null, { what: 'B to be told M sold out' });
    report.other = await b.evaluate(boxState);
    assert(report.other.result === 'M已抢光，换个规格试试。', `B was told: ${report.other.result}`);
    const m = report.other.chips.find((c) => c.id === 'm');
    assert(m.disabled && m.out === '已抢光' && !m.pressed, `B's M chip: ${JSON.stringify(m)}`);
    await screenshot(b, args.artifacts, 'viewer-sku-sold-out.png');
    await b.tap('#sale-skus button.sku[data-sku="l"]');
    await b.tap('#sale button.buy');
    await waitInPage(b, () => !document.querySelector('#sale-confirm').hidden, null, { what: "B's confirmation of L" });
    await b.tap('#sale-confirm button.confirm');
    await waitInPage(b, () => document.querySelector('#sale .buy-result').dataset.ok === 'true', null, { what: "B's order" });
    report.otherOrdered = (await b.evaluate(boxState)).result;
    assert(report.otherOrdered === `已下单：${tee.title} L ¥49`, `B's result: ${report.otherOrdered}`);

    const stored = (await rest.get(`/api/rooms/${args.room}/flash-sales`)).find((s) => s.id === sale.id);
    report.stored = stored.skus.map((s) => `${s.id} ${s.sold}/${s.stock}`);
    assert(report.stored.join() === 'm 1/1,l 1/3', `the store says ${report.stored}`);
    await rest.post(`/api/flash-sales/${sale.id}/end`);
    log(`SKU sale: ${report.stored.join(', ')}`);
});
