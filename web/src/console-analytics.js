// console-analytics.js — the Analytics tab: each live's totals (console-lives.js), then
// the product cards' per-minute rows from
// `GET /api/rooms/{room}/analytics` drawn as charts per product (pushes, displays, clicks,
// claims; CTR), totals, an A/B comparison per variant, a per-product table, and the CSV
// export (`format=csv`, fetched with the bearer token and saved from a Blob).
//
// Test hooks: #an-range, #an-product, #an-refresh, #csv-export, #an-totals
// [data-pushes], #chart-counts svg, #chart-ctr svg, #chart-variants, #an-variants tbody
// tr[data-variant], #an-variants-note, #an-products tbody tr[data-product], #an-empty, #an-error.

import { download, get, seg } from './console-api.js';
import { lineChart, barChart } from './console-charts.js';
import { $, acting, clearError, count, fill, h, percent, showError } from './console-dom.js';
import { every, loadProducts, on, productTitle, state } from './console-state.js';
import { loadLives } from './console-lives.js';

const MINUTE = 60_000;
const METRICS = ['pushes', 'displays', 'clicks', 'claims', 'purchases'];
const ROOM_WIDE = 'room-wide';
/** What a variant has: everything but pushes, which go to the whole room. */
const VARIANT_METRICS = METRICS.filter((m) => m !== 'pushes');

let rows = [];
let poll = null;

function range() {
    const minutes = Number($('#an-range').value) || 1440;
    return { from: Date.now() - minutes * MINUTE };
}

function zero() {
    return Object.fromEntries(METRICS.map((m) => [m, 0]));
}

function add(into, r) {
    for (const m of METRICS) into[m] += Number(r[m] || 0);
    return into;
}

const ctr = (t) => (t.displays ? t.clicks / t.displays : 0);
const conversion = (t) => (t.clicks ? t.purchases / t.clicks : 0);

function selectedRows() {
    const p = $('#an-product').value;
    return p ? rows.filter((r) => r.product_id === p) : rows;
}

function fillProductSelect() {
    const sel = $('#an-product');
    const before = sel.value;
    const ids = [...new Set([...rows.map((r) => r.product_id), ...state.products.map((p) => p.id)])];
    fill(sel, h('option', { value: '' }, 'All products'),
        ids.map((id) => h('option', { value: id }, productTitle(id))));
    if (ids.includes(before)) sel.value = before;
}

function render() {
    const list = selectedRows();
    const total = list.reduce(add, zero());

    // Totals strip.
    const totals = $('#an-totals');
    // Claims here are those that came from a card (all of them are in the lives table).
    const label = (m) => (m === 'claims' ? 'claims from cards' : m);
    fill(totals, [...METRICS.map((m) => [label(m), count(total[m])]), ['CTR', percent(ctr(total))], ['conversion', percent(conversion(total))]]
        .map(([label, value]) => h('div', { class: 'stat' }, h('span', { class: 'stat-n' }, value), h('span', { class: 'stat-l' }, label))));
    for (const m of METRICS) totals.dataset[m] = String(total[m]);
    $('#an-empty').hidden = list.length > 0;

    // Per-minute series, gaps filled with zeros.
    const byMinute = new Map();
    for (const r of list) byMinute.set(r.minute_ms, add(byMinute.get(r.minute_ms) || zero(), r));
    const minutes = [...byMinute.keys()].sort((a, b) => a - b);
    const xs = [];
    if (minutes.length) {
        // At least a quarter of an hour, up to now, so a lone minute still reads as a spike.
        const nowMinute = Math.floor(Date.now() / MINUTE) * MINUTE;
        const last = Math.max(minutes[minutes.length - 1], Math.min(nowMinute, minutes[minutes.length - 1] + 60 * MINUTE));
        const first = Math.min(minutes[0], last - 14 * MINUTE);
        const stepMs = Math.max(MINUTE, Math.ceil((last - first) / MINUTE / 360) * MINUTE);
        for (let t = first; t <= last; t += stepMs) xs.push(t);
        if (xs[xs.length - 1] !== last) xs.push(last);
    }
    const at = (t) => byMinute.get(t) || zero();
    if (xs.length) {
        lineChart($('#chart-counts'), {
            xs,
            series: ['pushes', 'displays', 'clicks', 'claims'].map((m) => ({
                name: m,
                kind: m === 'pushes' ? 'bar' : 'line',
                values: xs.map((t) => at(t)[m]),
            })),
            format: (v) => count(v),
        });
        lineChart($('#chart-ctr'), {
            xs,
            series: [{ name: 'CTR', values: xs.map((t) => ctr(at(t))) }],
            format: (v) => percent(v, 0),
            integer: false,
        });
    } else {
        fill($('#chart-counts'), h('p', { class: 'muted small' }, 'No data in this range.'));
        fill($('#chart-ctr'), h('p', { class: 'muted small' }, 'No data in this range.'));
    }

    // A/B: one row per variant the viewers were shown. Pushes reach the whole room, so
    // they have no variant and are said once under the table, not as a row of their own
    // next to the variants.
    const byVariant = new Map();
    for (const r of list) {
        const v = r.variant || ROOM_WIDE;
        byVariant.set(v, add(byVariant.get(v) || zero(), r));
    }
    const viewerVariants = [...byVariant].filter(([v]) => v !== ROOM_WIDE).sort(([a], [b]) => a.localeCompare(b));
    fill($('#an-variants tbody'), viewerVariants.map(([v, t]) => h('tr', { dataset: { variant: v } },
        h('td', {}, h('strong', {}, v)),
        VARIANT_METRICS.map((m) => h('td', { class: 'num' }, count(t[m]))),
        h('td', { class: 'num' }, percent(ctr(t))),
        h('td', { class: 'num' }, percent(conversion(t))))));
    const untagged = byVariant.get(ROOM_WIDE) || zero();
    $('#an-variants-note').textContent = `${count(total.pushes)} ${total.pushes === 1 ? 'push' : 'pushes'} reached every variant.`
        + (untagged.claims || untagged.purchases
            ? ` ${count(untagged.claims)} claims and ${count(untagged.purchases)} buys came without a card and are in no variant.`
            : '');
    if (viewerVariants.length) {
        barChart($('#chart-variants'), {
            bars: viewerVariants.map(([v, t]) => ({ label: v, value: ctr(t), note: `${count(t.clicks)}/${count(t.displays)}` })),
            format: (v) => `CTR ${percent(v)}`,
        });
    } else {
        fill($('#chart-variants'), h('p', { class: 'muted small' },
            'No viewer has seen a card yet: variants show up with the first displays.'));
    }

    // Per product (ignores the product filter: it is the overview).
    const byProduct = new Map();
    for (const r of rows) byProduct.set(r.product_id, add(byProduct.get(r.product_id) || zero(), r));
    fill($('#an-products tbody'), [...byProduct].sort((a, b) => b[1].displays - a[1].displays).map(([id, t]) =>
        h('tr', { dataset: { product: id } },
            h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => { $('#an-product').value = id; render(); } }, productTitle(id))),
            h('td', { class: 'num' }, count(t.pushes)),
            h('td', { class: 'num' }, count(t.displays)),
            h('td', { class: 'num' }, count(t.clicks)),
            h('td', { class: 'num' }, count(t.claims)),
            h('td', { class: 'num' }, percent(ctr(t))))));
}

async function load() {
    const room = state.room;
    const { from } = range();
    try {
        const [answer] = await Promise.all([get(`/api/rooms/${seg(room)}/analytics?from=${from}`), loadLives()]);
        if (room !== state.room) return;
        rows = answer.rows || [];
        clearError($('#an-error'));
        fillProductSelect();
        render();
    } catch (e) {
        showError($('#an-error'), e);
    }
}

async function exportCsv(button) {
    const { from } = range();
    clearError($('#an-error'));
    await acting(button, async () => {
        try {
            await download(`/api/rooms/${seg(state.room)}/analytics?format=csv&from=${from}`, `analytics-${state.room}.csv`);
        } catch (e) {
            showError($('#an-error'), e);
            throw e;
        }
    }, 'CSV downloaded');
}

export function init() {
    on('room', () => { rows = []; });
    $('#an-range').addEventListener('change', load);
    $('#an-product').addEventListener('change', render);
    $('#an-refresh').addEventListener('click', load);
    $('#csv-export').addEventListener('click', (e) => exportCsv(e.currentTarget));
}

export function show() {
    hide();
    render();
    // Product titles for the charts and tables (rows carry ids only).
    loadProducts().then(() => {
        fillProductSelect();
        render();
    }).catch(() => {});
    load();
    poll = every(15_000, load);
}

export function hide() {
    if (poll) poll.stop();
    poll = null;
}
