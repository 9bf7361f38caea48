// console-skus.js — a product's SKUs (size, colour) in the product form: a row each with
// its name, stock and an optional price of its own, added and removed in place. A row
// keeps the id it was loaded with, so editing a name does not orphan its orders; a new
// row gets one from its name (or a short random one for a name with no Latin letters).
//
// Test hooks: #p-skus .sku-row (.sku-name, .sku-stock, .sku-price), #p-skus-add.

import { $, $$, FieldError, h, moneyValue, parseCount, parseMoney } from './console-dom.js';

function idFor(name, taken) {
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
    let id = slug || `k${Math.random().toString(16).slice(2, 8)}`;
    for (let i = 2; taken.has(id); i++) id = `${slug || 'k'}-${i}`;
    return id;
}

let rows = 0; // for the inputs' ids: a refusal is shown at its field by id

/** Add a row for SKU `s` (or an empty one). */
export function skuRow(s) {
    const n = ++rows;
    const row = h('div', { class: 'sku-row', dataset: { id: (s && s.id) || '' } },
        h('input', { id: `sku-${n}-name`, class: 'sku-name', 'aria-label': 'SKU name', placeholder: 'Name (e.g. M or Red, XL)', value: (s && s.name) || '' }),
        h('input', { id: `sku-${n}-stock`, class: 'sku-stock', 'aria-label': 'SKU stock', placeholder: 'Stock', inputmode: 'numeric', value: s ? String(s.stock) : '' }),
        h('input', {
            id: `sku-${n}-price`, class: 'sku-price', 'aria-label': 'SKU price (optional)', placeholder: 'Own price (optional)', inputmode: 'decimal',
            value: s && s.price_cents != null ? moneyValue(s.price_cents) : '',
        }),
        h('button', { type: 'button', class: 'ghost small', title: 'Remove', 'aria-label': 'Remove', onclick: () => row.remove() }, '×'));
    $('#p-skus').append(row);
    return row;
}

/** The form's SKUs; an empty row is skipped, a half-filled one refused at its field. */
export function readSkus() {
    const rows = $$('.sku-row', $('#p-skus'));
    const taken = new Set(rows.map((r) => r.dataset.id).filter(Boolean));
    const out = [];
    for (const row of rows) {
        const name = row.querySelector('.sku-name');
        const stock = row.querySelector('.sku-stock');
        const price = row.querySelector('.sku-price');
        if (!name.value.trim() && !stock.value.trim() && !price.value.trim()) continue;
        if (!name.value.trim()) throw new FieldError(name, 'every SKU needs a name, such as M or Red');
        if (!stock.value.trim()) throw new FieldError(stock, `how many of “${name.value.trim()}” do you have?`);
        let id = row.dataset.id;
        if (!id) {
            id = idFor(name.value.trim(), taken);
            taken.add(id);
            row.dataset.id = id;
        }
        const sku = { id, name: name.value.trim(), stock: parseCount(stock, 'the SKU stock') };
        const cents = parseMoney(price, 'the SKU price', null);
        if (cents !== null) sku.price_cents = cents;
        out.push(sku);
    }
    return out;
}

/** "S 20 · M 30 · XL 20": a product's SKUs with their stock, for tables and hints. */
export function skuSummary(skus, sold) {
    return (skus || []).map((s) => (sold ? `${s.name} ${s.sold}/${s.stock}` : `${s.name} ${s.stock}`)).join(' · ');
}
