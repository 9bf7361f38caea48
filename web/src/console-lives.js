// console-lives.js — the Analytics tab's "Lives" table: each live of the room (newest
// first) in the numbers a shop acts on, from `GET /api/rooms/{room}/lives`: when and how
// long, orders, buyers and GMV, coupon claims (every claim, as in the coupon table), and
// the audience: peak and average concurrent viewers and watch time. The running live's
// row moves with the tab's 15 s refresh.
//
// Test hooks: #lives tbody tr[data-started][data-live] (.orders, .gmv, .claims, .peak,
// .avg, .watch), #lives-empty.

import { get, seg } from './console-api.js';
import { $, count, fill, h, money } from './console-dom.js';
import { state } from './console-state.js';

/** 3 h 05 min, 12 min, 40 s. */
export function span(ms) {
    const s = Math.round(Number(ms || 0) / 1000);
    if (s < 60) return `${s} s`;
    const m = Math.round(s / 60);
    if (m < 60) return `${m} min`;
    return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

function when(ms) {
    return new Date(ms).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function render(lives) {
    // Orders carry amounts only: the shop's currency is its products'.
    const currency = (state.products.find((p) => p.currency) || {}).currency || 'CNY';
    fill($('#lives tbody'), lives.map((l) => h('tr', { dataset: { started: String(l.started_ms), live: String(l.ended_ms == null) } },
        h('td', {}, when(l.started_ms), ' ', l.ended_ms == null ? h('span', { class: 'badge running' }, 'live now') : null),
        h('td', { class: 'num' }, span(l.duration_ms)),
        h('td', { class: 'num orders' }, count(l.orders)),
        h('td', { class: 'num' }, count(l.buyers)),
        h('td', { class: 'num gmv' }, money(l.gmv_cents, currency)),
        h('td', { class: 'num claims' }, count(l.claims)),
        h('td', { class: 'num peak' }, count(l.peak_viewers)),
        h('td', { class: 'num avg' }, Number(l.avg_viewers || 0).toLocaleString(undefined, { maximumFractionDigits: 1 })),
        h('td', { class: 'num watch' }, span(l.watch_ms)))));
    $('#lives-empty').hidden = lives.length > 0;
}

/** Fetch and show the room's lives; errors are the caller's. */
export async function loadLives() {
    const room = state.room;
    const answer = await get(`/api/rooms/${seg(room)}/lives`);
    if (room === state.room) render(answer.lives || []);
}
