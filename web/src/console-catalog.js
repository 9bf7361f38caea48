// console-catalog.js — the Products tab: the merchant's product table, the create/edit
// form (title, price, currency, image URL or an uploaded image, buy URL, stock,
// description, FAQ pairs, spec pairs, SKUs: console-skus.js), delete with confirmation, "Push now" of a product card into the room, and which
// products the room's live sells (its product bag, 小黄车: a checkbox per product, saved at
// once, in the order they were added).
//
// Test hooks: #product-new, #products tbody tr[data-product] (its button.push, button.edit,
// button.delete, .push-state, input.in-bag), #bag-summary, #product-form (#p-title, #p-id, #p-price, #p-currency,
// #p-stock, #p-image, #p-buy, #p-description, #p-faq-add, #p-specs-add, .pair inputs,
// .form-error), #products-error, #push-style, #push-duration.

import { get, post, put, del, seg, upload } from './console-api.js';
import {
    $, $$, FieldError, acting, clearError, confirmDialog, count, fill, h, money, moneyValue,
    parseCount, parseMoney, showError, submitting, toast,
} from './console-dom.js';
import { readSkus, skuRow } from './console-skus.js';
import { currentRoom, idleWarning, loadProducts, on, state } from './console-state.js';

/** The product being edited, or null when the form creates one. */
let editing = null;
const lastPush = new Map(); // product id → time of this session's last push
/** The selected room's bag: product ids in order (null until loaded). */
let bag = null;
let bagRoom = null;

// ---- table ------------------------------------------------------------------------------

function thumb(url) {
    if (!/^(https?:\/\/|\/images\/)/i.test(url || '')) return h('span', { class: 'thumb no-image' });
    const img = h('img', { class: 'thumb', alt: '', loading: 'lazy', referrerpolicy: 'no-referrer' });
    img.addEventListener('error', () => img.classList.add('broken'));
    img.src = url;
    return img;
}

function renderTable() {
    const body = $('#products tbody');
    fill(body, state.products.map((p) => {
        const pushed = lastPush.get(p.id);
        return h('tr', { dataset: { product: p.id } },
            h('td', {}, h('div', { class: 'product-cell' },
                thumb(p.image_url),
                h('div', {},
                    h('div', { class: 'title' }, p.title),
                    p.description ? h('div', { class: 'muted small clamp' }, p.description) : null))),
            h('td', { class: 'num' }, money(p.price_cents, p.currency)),
            h('td', { class: 'num' }, count(p.stock)),
            h('td', {}, h('code', { class: 'nowrap' }, p.id)),
            h('td', { class: 'bag-cell' }, h('input', {
                type: 'checkbox',
                class: 'in-bag',
                checked: !!bag && bag.includes(p.id),
                disabled: !bag,
                'aria-label': `Sell “${p.title}” in this live`,
                onchange: (e) => toggleBag(e.currentTarget, p),
            })),
            h('td', { class: 'actions' },
                h('span', { class: 'push-state muted small' }, pushed ? `pushed ${pushed}` : ''),
                h('button', { type: 'button', class: 'push primary small', onclick: (e) => push(e.currentTarget, p) }, 'Push now'),
                h('button', { type: 'button', class: 'edit ghost small', onclick: () => openForm(p) }, 'Edit'),
                h('button', { type: 'button', class: 'delete danger-ghost small', onclick: (e) => remove(e.currentTarget, p) }, 'Delete')));
    }));
    $('#products-empty').hidden = state.products.length > 0;
    renderBagSummary();
}

function renderBagSummary() {
    const r = currentRoom();
    const n = bag ? bag.filter((id) => state.products.some((p) => p.id === id)).length : null;
    $('#bag-summary').textContent = n === null ? ''
        : n === 0 ? `Viewers of “${r ? r.title : state.room}” see no product bag: tick the products this live sells.`
            : `${count(n)} ${n === 1 ? 'product' : 'products'} in the bag of “${r ? r.title : state.room}”: viewers see ${n === 1 ? 'it' : 'them'} under the bag button.`;
}

async function loadBag() {
    const id = state.room;
    if (!id) return;
    const r = await get(`/api/rooms/${seg(id)}/products`);
    if (id !== state.room) return;
    bag = r.products.map((p) => p.id);
    bagRoom = id;
    renderTable();
}

async function toggleBag(input, p) {
    if (!bag) return;
    const adding = input.checked;
    const want = adding ? [...bag.filter((id) => id !== p.id), p.id] : bag.filter((id) => id !== p.id);
    input.disabled = true;
    try {
        const r = await put(`/api/rooms/${seg(state.room)}/products`, { product_ids: want });
        bag = r.products.map((x) => x.id);
        clearError($('#products-error'));
        toast(adding ? `“${p.title}” is in this live's product bag` : `“${p.title}” left this live's product bag`);
    } catch (e) {
        input.checked = !adding;
        showError($('#products-error'), e);
    } finally {
        renderTable();
    }
}

async function reload() {
    try {
        await loadProducts();
        clearError($('#products-error'));
    } catch (e) {
        showError($('#products-error'), e);
    }
}

async function push(button, p) {
    const body = { product_id: p.id };
    const style = $('#push-style').value;
    if (style) body.style = style;
    const secs = $('#push-duration').value.trim();
    if (secs) {
        const n = Number(secs);
        if (!Number.isInteger(n) || n < 1 || n > 600) {
            toast('The push duration must be a whole number of seconds from 1 to 600', 'error');
            $('#push-duration').focus();
            return;
        }
        body.duration_ms = n * 1000;
    }
    const idle = idleWarning();
    if (idle && !(await confirmDialog({ title: `Push “${p.title}” anyway?`, text: idle, ok: 'Push anyway' }))) return;
    const ok = await acting(button, async () => {
        await post(`/api/rooms/${seg(state.room)}/push`, body);
    });
    if (!ok) return;
    const at = new Date().toLocaleTimeString();
    lastPush.set(p.id, at);
    const row = button.closest('tr');
    const label = row && row.querySelector('.push-state');
    if (label) {
        label.textContent = `pushed ${at}`;
        label.classList.remove('muted');
        label.classList.add('ok');
    }
    // Say what happened, not what we hope: nobody may be watching.
    const online = (currentRoom() || {}).online || 0;
    toast(idle ? `“${p.title}” pushed, but the room is not live`
        : online > 0 ? `“${p.title}” is on the screens of ${count(online)} ${online === 1 ? 'viewer' : 'viewers'}`
            : `“${p.title}” pushed; no viewer is in the room right now`);
}

async function remove(button, p) {
    const ok = await confirmDialog({
        title: 'Delete this product?',
        text: `“${p.title}” (${p.id}) disappears from the catalog; plugins and the AI host stop offering it.`,
        ok: 'Delete product',
    });
    if (!ok) return;
    const done = await acting(button, () => del(`/api/products/${seg(p.id)}`), `“${p.title}” deleted`);
    if (done) {
        if (editing && editing.id === p.id) closeForm();
        await reload();
    }
}

// ---- form -------------------------------------------------------------------------------

function pairRow(container, [a, b], [labelA, labelB]) {
    const row = h('div', { class: 'pair' },
        h('input', { class: 'pair-a', 'aria-label': labelA, placeholder: labelA, value: a || '' }),
        h('input', { class: 'pair-b', 'aria-label': labelB, placeholder: labelB, value: b || '' }),
        h('button', { type: 'button', class: 'ghost small', title: 'Remove', 'aria-label': 'Remove', onclick: () => row.remove() }, '×'));
    container.append(row);
    return row;
}

const FAQ_LABELS = ['Question', 'Answer'];
const SPEC_LABELS = ['Name (e.g. size)', 'Value (e.g. S, M, L)'];

function openForm(p) {
    editing = p || null;
    const form = $('#product-form');
    clearError(form.querySelector('.form-error'));
    $('#product-form-title').textContent = p ? `Edit “${p.title}”` : 'New product';
    $('#p-title').value = p ? p.title : '';
    $('#p-id').value = p ? p.id : '';
    $('#p-id').readOnly = !!p;
    $('#p-price').value = p ? moneyValue(p.price_cents) : '';
    $('#p-currency').value = p ? p.currency : 'CNY';
    $('#p-stock').value = p ? String(p.stock) : '';
    $('#p-image').value = p ? p.image_url : '';
    $('#p-buy').value = p ? p.buy_url : '';
    $('#p-description').value = p ? p.description : '';
    preview(p ? p.image_url : '');
    clearError($('#p-image-state'));
    fill($('#p-faq'));
    for (const f of (p && p.faq) || []) pairRow($('#p-faq'), [f.question, f.answer], FAQ_LABELS);
    fill($('#p-specs'));
    for (const s of (p && p.specs) || []) pairRow($('#p-specs'), s, SPEC_LABELS);
    fill($('#p-skus'));
    for (const s of (p && p.skus) || []) skuRow(s);
    form.hidden = false;
    form.scrollIntoView({ block: 'start', behavior: 'smooth' });
    $('#p-title').focus({ preventScroll: true });
}

/** The form's image, as viewers will see it. */
function preview(url) {
    fill($('#p-image-preview'), url ? thumb(url) : null);
}

/** Upload the chosen file as the product's image: livecart stores it and the form's image
 * URL becomes its path. A refusal (type, size) is said under the field. */
async function uploadImage(input) {
    const file = input.files && input.files[0];
    const state = $('#p-image-state');
    clearError(state);
    if (!file) return;
    state.hidden = false;
    state.textContent = `Uploading ${file.name}…`;
    try {
        const image = await upload('/api/images', file, (sent, total) => {
            state.textContent = `Uploading ${file.name}… ${Math.round((sent / Math.max(total, 1)) * 100)}%`;
        }, file.type || 'application/octet-stream');
        $('#p-image').value = image.url;
        preview(image.url);
        state.textContent = `${file.name} uploaded: save the product to use it.`;
    } catch (e) {
        showError(state, e);
    } finally {
        input.value = '';
    }
}

function closeForm() {
    editing = null;
    $('#product-form').hidden = true;
}

/** The pairs of a FAQ or specs list; half-filled pairs are refused. */
function pairs(container, what) {
    const out = [];
    for (const row of $$('.pair', container)) {
        const a = row.querySelector('.pair-a');
        const b = row.querySelector('.pair-b');
        const [va, vb] = [a.value.trim(), b.value.trim()];
        if (!va && !vb) continue;
        if (!va) throw new FieldError(a, `every ${what} needs both parts`);
        if (!vb) throw new FieldError(b, `every ${what} needs both parts`);
        out.push([va, vb]);
    }
    return out;
}

/** The form as a Product. Only what cannot be said in JSON is checked here (a price that
 * is not a number); the server judges the rest and the form shows its verdict. */
function readForm() {
    return {
        id: editing ? editing.id : $('#p-id').value.trim(),
        title: $('#p-title').value.trim(),
        price_cents: parseMoney($('#p-price'), 'the price'),
        currency: $('#p-currency').value.trim().toUpperCase(),
        image_url: $('#p-image').value.trim(),
        buy_url: $('#p-buy').value.trim(),
        stock: parseCount($('#p-stock'), 'the stock'),
        description: $('#p-description').value.trim(),
        faq: pairs($('#p-faq'), 'FAQ entry').map(([question, answer]) => ({ question, answer })),
        specs: pairs($('#p-specs'), 'spec'),
        skus: readSkus(),
    };
}

async function save(event) {
    event.preventDefault();
    const form = event.currentTarget;
    let saved = null;
    const wasEditing = editing;
    const ok = await submitting(form, async () => {
        const p = readForm();
        if (!wasEditing && p.id && state.products.some((x) => x.id === p.id)) {
            throw new FieldError($('#p-id'), `a product with id ${p.id} already exists: edit it instead`);
        }
        saved = wasEditing
            ? await put(`/api/products/${seg(p.id)}`, p)
            : await post('/api/products', p);
    });
    if (!ok) return;
    closeForm();
    toast(wasEditing ? `“${saved.title}” saved` : `“${saved.title}” created (${saved.id})`);
    await reload();
}

export function init() {
    on('products', renderTable);
    $('#product-new').addEventListener('click', () => openForm(null));
    $('#product-cancel').addEventListener('click', closeForm);
    $('#p-faq-add').addEventListener('click', () => pairRow($('#p-faq'), ['', ''], FAQ_LABELS).querySelector('input').focus());
    $('#p-specs-add').addEventListener('click', () => pairRow($('#p-specs'), ['', ''], SPEC_LABELS).querySelector('input').focus());
    $('#p-skus-add').addEventListener('click', () => skuRow(null).querySelector('input').focus());
    $('#p-image-file').addEventListener('change', (e) => uploadImage(e.currentTarget));
    $('#p-image').addEventListener('input', () => preview($('#p-image').value.trim()));
    $('#product-form').addEventListener('submit', save);
}

export function show() {
    if (bagRoom !== state.room) bag = null;
    renderTable();
    reload();
    loadBag().catch((e) => showError($('#products-error'), e));
}

export function hide() {}
