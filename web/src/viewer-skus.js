// viewer-skus.js — a flash sale's SKUs (size, colour) in the sale box: a chip per SKU
// with what is left of it (a sold-out one greyed and not choosable), the viewer's choice,
// and the words of the confirmation step and the result ("已下单：棉T恤 M码 ¥49").
// A sale without SKUs has no chips and buys the product itself.

import { el } from './viewer-util.js';
import { formatPrice, tr } from './viewer-i18n.js';

/** The sale's SKU `id`, or null. */
export function skuOf(sale, id) {
    return (sale.skus || []).find((s) => s.id === id) || null;
}

/** Units left of SKU `sku` (or of the whole sale without one). */
export function leftOf(sale, sku) {
    const s = sku || sale;
    return Math.max(0, (s.stock || 0) - (s.sold || 0));
}

/** The SKU to preselect: the chosen one while it has stock, else the only one with stock. */
export function defaultSku(sale, chosen) {
    const skus = sale.skus || [];
    const current = skuOf(sale, chosen);
    if (current && leftOf(sale, current) > 0) return current.id;
    const open = skus.filter((s) => leftOf(sale, s) > 0);
    return open.length === 1 ? open[0].id : null;
}

/** Fill `box` with a chip per SKU of `sale`; `chosen` is pressed, `onPick(id)` on a tap.
 *  Chips are rebuilt only when the SKU list changes; their state on every call. */
export function renderSkus(box, sale, chosen, currency, onPick) {
    const skus = sale.skus || [];
    box.hidden = skus.length === 0;
    const ids = skus.map((s) => s.id).join('\u0001');
    if (box.dataset.ids !== ids) {
        box.dataset.ids = ids;
        box.replaceChildren(...skus.map((s) => el('button', {
            type: 'button', class: 'sku', dataset: { sku: s.id }, onclick: () => onPick(s.id),
        }, el('span', { class: 'sku-name', translate: 'no', text: s.name }),
        el('span', { class: 'sku-price' }), el('span', { class: 'sku-out' }))));
    }
    for (const b of box.querySelectorAll('button.sku')) {
        const s = skuOf(sale, b.dataset.sku);
        if (!s) continue;
        const out = leftOf(sale, s) === 0;
        b.disabled = out;
        b.setAttribute('aria-pressed', String(s.id === chosen));
        // A SKU priced apart from the sale says its price; the others go by the sale's.
        const price = b.querySelector('.sku-price');
        const own = s.price_cents !== sale.price_cents;
        price.textContent = own ? formatPrice(s.price_cents, currency) : '';
        price.dataset.cents = own ? String(s.price_cents) : '';
        price.dataset.currency = currency;
        const tag = b.querySelector('.sku-out');
        if (out && tag.dataset.i18n !== 'sale.skuSoldOut') tr(tag, 'sale.skuSoldOut');
        if (!out && tag.textContent) {
            delete tag.dataset.i18n;
            tag.textContent = '';
        }
    }
}

/** What one unit of the sale costs with SKU `sku` (or without). */
export function unitPrice(sale, sku) {
    return sku ? sku.price_cents : sale.price_cents;
}

/** The product and SKU as said in the confirmation and the result: "棉T恤 M码". */
export function itemName(title, sku) {
    return sku ? `${title} ${sku.name}` : title;
}
