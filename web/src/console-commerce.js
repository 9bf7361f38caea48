// console-commerce.js — the "Coupons & sales" tab: the merchant's coupons (create, edit,
// delete, unlock; quota and claims), and the selected room's flash sales (start one now;
// live sold/stock and a countdown on the server's clock, refreshed every 2 s; end now).
//
// Test hooks: #coupon-new, #coupon-form (#c-title, #c-id, #c-discount, #c-min-spend, #c-quota, #c-limit,
// #c-room, #c-from, #c-until, #c-unlocked, #c-signed-in), #coupons tbody tr[data-coupon] (.claimed,
// .state, button.unlock, button.edit, button.delete), #sale-form (#s-product, #s-price,
// #s-stock, #s-limit, #s-duration, #s-signed-in), #sales tbody tr[data-sale][data-state] (.sold,
// .countdown, button.end).

import { get, post, put, del, seg, serverClockOffset } from './console-api.js';
import {
    $, FieldError, acting, clearError, confirmDialog, count, countdown, fill, h, localInputValue,
    money, moneyValue, parseCount, parseLocalInput, parseMoney, showError, submitting, toast,
} from './console-dom.js';
import { every, idleWarning, loadProducts, on, productTitle, state } from './console-state.js';
import { skuSummary } from './console-skus.js';

let coupons = [];
let sales = [];
let editing = null;
let poll = null;
let ticker = null;
let offset = 0; // server clock − ours, ms

const serverNow = () => Date.now() + offset;

function meter(value, max) {
    const m = h('meter', { min: 0, max: Math.max(1, max), value });
    return m;
}

// ---- coupons ----------------------------------------------------------------------------

function roomTitle(id) {
    if (!id) return 'all your rooms';
    const r = state.rooms.find((x) => x.id === id);
    return r ? r.title : id;
}

function couponState(c) {
    if (c.valid_until_ms && c.valid_until_ms <= serverNow()) return 'expired';
    if (c.claimed >= c.quota) return 'used up';
    return c.unlocked ? 'claimable' : 'locked';
}

function renderCoupons() {
    const body = $('#coupons tbody');
    fill(body, coupons.map((c) => {
        const st = couponState(c);
        return h('tr', { dataset: { coupon: c.id, state: st } },
            h('td', {}, h('div', { class: 'title' }, c.title), h('code', { class: 'small' }, c.id)),
            h('td', { class: 'num' }, money(c.discount_cents),
                c.min_spend_cents ? h('div', { class: 'muted small min-spend' }, `on orders of ${money(c.min_spend_cents)}+`) : null),
            h('td', { class: 'claimed' },
                h('span', { class: 'claimed-n' }, `${count(c.claimed)} / ${count(c.quota)}`),
                meter(c.claimed, c.quota),
                h('div', { class: 'muted small' }, `${count(c.per_user_limit)} per viewer${c.signed_in_only ? ' · signed-in only' : ''}`)),
            h('td', {}, roomTitle(c.room_id)),
            h('td', {}, h('span', { class: `state badge ${st.replace(' ', '-')}` }, st)),
            h('td', { class: 'actions' },
                !c.unlocked ? h('button', { type: 'button', class: 'unlock primary small', onclick: (e) => unlock(e.currentTarget, c) }, 'Unlock now') : null,
                h('button', { type: 'button', class: 'edit ghost small', onclick: () => openCouponForm(c) }, 'Edit'),
                h('button', { type: 'button', class: 'delete danger-ghost small', onclick: (e) => removeCoupon(e.currentTarget, c) }, 'Delete')));
    }));
    $('#coupons-empty').hidden = coupons.length > 0;
}

async function loadCoupons() {
    try {
        const list = await get('/api/coupons');
        clearError($('#coupons-error'));
        // Polled every 2 s: rebuild the table only when a coupon changed.
        if (JSON.stringify(list) !== JSON.stringify(coupons) || !$('#coupons tbody').children.length) {
            coupons = list;
            renderCoupons();
        }
    } catch (e) {
        showError($('#coupons-error'), e);
    }
}

function fillRoomSelect(selected) {
    const sel = $('#c-room');
    fill(sel,
        h('option', { value: '' }, 'All my rooms'),
        state.rooms.map((r) => h('option', { value: r.id }, `${r.title} (${r.id})`)));
    sel.value = selected || '';
}

function openCouponForm(c) {
    editing = c || null;
    const form = $('#coupon-form');
    clearError(form.querySelector('.form-error'));
    $('#coupon-form-title').textContent = c ? `Edit “${c.title}”` : 'New coupon';
    $('#c-title').value = c ? c.title : '';
    $('#c-id').value = c ? c.id : '';
    $('#c-id').readOnly = !!c;
    $('#c-discount').value = c ? moneyValue(c.discount_cents) : '';
    $('#c-min-spend').value = c && c.min_spend_cents ? moneyValue(c.min_spend_cents) : '';
    $('#c-quota').value = c ? String(c.quota) : '';
    $('#c-limit').value = c ? String(c.per_user_limit) : '1';
    fillRoomSelect(c ? c.room_id : state.room);
    $('#c-from').value = c ? localInputValue(c.valid_from_ms) : '';
    $('#c-until').value = c ? localInputValue(c.valid_until_ms) : '';
    $('#c-unlocked').checked = c ? c.unlocked : false;
    $('#c-signed-in').checked = c ? !!c.signed_in_only : false;
    form.hidden = false;
    form.scrollIntoView({ block: 'start', behavior: 'smooth' });
    $('#c-title').focus({ preventScroll: true });
}

function closeCouponForm() {
    editing = null;
    $('#coupon-form').hidden = true;
}

function readCoupon() {
    const c = {
        title: $('#c-title').value.trim(),
        discount_cents: parseMoney($('#c-discount'), 'the discount'),
        min_spend_cents: parseMoney($('#c-min-spend'), 'the minimum order'),
        quota: parseCount($('#c-quota'), 'the quota'),
        per_user_limit: parseCount($('#c-limit'), 'the per-viewer limit', { empty: 1 }),
        valid_from_ms: parseLocalInput($('#c-from')),
        valid_until_ms: parseLocalInput($('#c-until')),
        unlocked: $('#c-unlocked').checked,
        signed_in_only: $('#c-signed-in').checked,
    };
    if (c.min_spend_cents && c.min_spend_cents <= c.discount_cents) {
        throw new FieldError($('#c-min-spend'), 'The minimum order must be more than the discount (or left empty for any order)');
    }
    // Always sent: a PUT replaces the whole coupon, and null is "every room".
    c.room_id = $('#c-room').value || null;
    const id = editing ? editing.id : $('#c-id').value.trim();
    if (id) c.id = id;
    return c;
}

async function saveCoupon(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const wasEditing = editing;
    let saved = null;
    const ok = await submitting(form, async () => {
        const c = readCoupon();
        if (!wasEditing && c.id && coupons.some((x) => x.id === c.id)) {
            throw new FieldError($('#c-id'), `a coupon with id ${c.id} already exists: edit it instead`);
        }
        saved = wasEditing
            ? await put(`/api/coupons/${seg(wasEditing.id)}`, c)
            : await post('/api/coupons', c);
    });
    if (!ok) return;
    closeCouponForm();
    toast(wasEditing ? `Coupon “${saved.title}” saved` : `Coupon “${saved.title}” created (${saved.id})`);
    await loadCoupons();
}

async function unlock(button, c) {
    const ok = await acting(button, () => post(`/api/coupons/${seg(c.id)}/unlock`),
        `“${c.title}” is claimable now`);
    if (ok) await loadCoupons();
}

async function removeCoupon(button, c) {
    const ok = await confirmDialog({
        title: 'Delete this coupon?',
        text: `“${c.title}” (${c.id}) can no longer be claimed; ${count(c.claimed)} claim(s) so far.`,
        ok: 'Delete coupon',
    });
    if (!ok) return;
    if (await acting(button, () => del(`/api/coupons/${seg(c.id)}`), `“${c.title}” deleted`)) {
        if (editing && editing.id === c.id) closeCouponForm();
        await loadCoupons();
    }
}

// ---- flash sales ------------------------------------------------------------------------

function saleState(s) {
    const now = serverNow();
    if (now < s.starts_ms) return 'scheduled';
    if (now >= s.ends_ms) return 'ended';
    if (s.sold >= s.stock) return 'sold out';
    return 'running';
}

function timeLeft(s) {
    const now = serverNow();
    if (now < s.starts_ms) return `starts in ${countdown(s.starts_ms - now)}`;
    if (now >= s.ends_ms) return 'ended';
    return countdown(s.ends_ms - now);
}

function renderSales() {
    const list = [...sales].sort((a, b) => b.created_ms - a.created_ms);
    fill($('#sales tbody'), list.map((s) => {
        const st = saleState(s);
        const p = state.products.find((x) => x.id === s.product_id);
        return h('tr', { dataset: { sale: s.id, state: st } },
            h('td', {}, h('div', { class: 'title' }, productTitle(s.product_id)), h('code', { class: 'small' }, s.id)),
            h('td', { class: 'num' }, money(s.price_cents, p ? p.currency : '')),
            h('td', { class: 'sold' },
                h('span', { class: 'sold-n' }, `${count(s.sold)} / ${count(s.stock)}`),
                meter(s.sold, s.stock),
                (s.skus || []).length ? h('div', { class: 'small sku-sold' }, skuSummary(s.skus, true)) : null,
                h('div', { class: 'muted small' }, `${count(s.per_user_limit)} per viewer${s.signed_in_only ? ' · signed-in only' : ''}`)),
            h('td', {}, h('span', { class: 'countdown mono' }, timeLeft(s)),
                h('div', {}, h('span', { class: `badge ${st.replace(' ', '-')}` }, st))),
            h('td', { class: 'actions' },
                st === 'running' || st === 'scheduled' || st === 'sold out'
                    ? h('button', { type: 'button', class: 'end danger small', onclick: (e) => endSale(e.currentTarget, s) }, 'End now')
                    : null));
    }));
    $('#sales-empty').hidden = sales.length > 0;
}

/** Once a second: only the countdowns and states change. */
function tick() {
    for (const row of document.querySelectorAll('#sales tbody tr')) {
        const s = sales.find((x) => x.id === row.dataset.sale);
        if (!s) continue;
        const st = saleState(s);
        if (st !== row.dataset.state) {
            renderSales();
            return;
        }
        row.querySelector('.countdown').textContent = timeLeft(s);
    }
}

async function loadSales() {
    const room = state.room;
    const list = await get(`/api/rooms/${seg(room)}/flash-sales`);
    if (room !== state.room) return;
    if (JSON.stringify(list) === JSON.stringify(sales) && $('#sales tbody').children.length) return;
    sales = list;
    renderSales();
}

function fillProductSelect() {
    const sel = $('#s-product');
    const before = sel.value;
    fill(sel, state.products.map((p) => h('option', { value: p.id }, `${p.title} — ${money(p.price_cents, p.currency)}`)));
    if (state.products.some((p) => p.id === before)) sel.value = before;
    if (!state.products.length) sel.append(h('option', { value: '' }, 'Create a product first'));
    skuNote();
}

/** A product with SKUs is sold by SKU, each with its own stock: the stock field gives way. */
function skuNote() {
    const p = state.products.find((x) => x.id === $('#s-product').value);
    const skus = (p && p.skus) || [];
    const note = $('#s-skus-note');
    const stock = $('#s-stock');
    note.hidden = skus.length === 0;
    stock.hidden = skus.length > 0;
    note.textContent = skus.length ? `Sold by SKU, each with its stock: ${skuSummary(skus)}` : '';
}

async function startSale(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const idle = idleWarning();
    if (idle && !(await confirmDialog({ title: 'Start the flash sale anyway?', text: idle, ok: 'Start anyway' }))) return;
    let sale = null;
    const ok = await submitting(form, async () => {
        const product = $('#s-product').value;
        if (!product) throw new FieldError($('#s-product'), 'pick a product (create one in the Products tab first)');
        const minutes = Number($('#s-duration').value.trim().replace(',', '.'));
        if (!(minutes > 0 && minutes <= 24 * 60)) {
            throw new FieldError($('#s-duration'), 'the duration must be more than 0 and at most 1440 minutes');
        }
        const price = parseMoney($('#s-price'), 'the sale price', null);
        if (price === null) throw new FieldError($('#s-price'), 'the sale price is required');
        const starts = Math.round(serverNow());
        sale = await post(`/api/rooms/${seg(state.room)}/flash-sales`, {
            room_id: state.room,
            product_id: product,
            price_cents: price,
            // With SKUs the server offers each one's stock (the sum is the sale's).
            stock: $('#s-stock').hidden ? 0 : parseCount($('#s-stock'), 'the stock', { min: 1, empty: 0 }),
            per_user_limit: parseCount($('#s-limit'), 'the per-viewer limit', { min: 1, empty: 1 }),
            starts_ms: starts,
            ends_ms: starts + Math.round(minutes * 60_000),
            signed_in_only: $('#s-signed-in').checked,
        });
    });
    if (!ok) return;
    toast(`Flash sale of “${productTitle(sale.product_id)}” started`);
    await loadSales().catch(() => {});
}

async function endSale(button, s) {
    const ok = await confirmDialog({
        title: 'End this flash sale now?',
        text: `The sale of “${productTitle(s.product_id)}” stops for every viewer; ${count(s.sold)} sold.`,
        ok: 'End sale',
    });
    if (!ok) return;
    if (await acting(button, () => post(`/api/flash-sales/${seg(s.id)}/end`), 'Flash sale ended')) {
        await loadSales().catch(() => {});
    }
}

// ---- tab --------------------------------------------------------------------------------

export function init() {
    on('products', fillProductSelect);
    on('room', () => {
        sales = [];
        closeCouponForm();
    });
    $('#coupon-new').addEventListener('click', () => openCouponForm(null));
    $('#coupon-cancel').addEventListener('click', closeCouponForm);
    $('#coupon-form').addEventListener('submit', saveCoupon);
    $('#sale-form').addEventListener('submit', startSale);
    $('#s-product').addEventListener('change', skuNote);
}

export function show() {
    hide();
    renderSales();
    renderCoupons();
    fillProductSelect();
    serverClockOffset().then((o) => { offset = o; });
    loadCoupons();
    loadProducts().catch(() => {});
    loadSales().catch((e) => toast(e.describe ? e.describe() : String(e), 'error'));
    poll = every(2000, async () => {
        await loadSales();
        await loadCoupons();
    });
    ticker = setInterval(tick, 1000);
}

export function hide() {
    if (poll) poll.stop();
    poll = null;
    clearInterval(ticker);
    ticker = null;
}
