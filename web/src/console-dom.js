// console-dom.js — small DOM helpers shared by the console's modules: building elements
// without innerHTML (every server or user string goes in as text), form submission with
// busy state and clear errors, a confirmation dialog, toasts, and value formatting/parsing.

import { sentence } from './console-api.js';

/** `h('td', {class: 'x', dataset: {id}, onclick}, 'text', child)`: an element whose
 * string children are text nodes, never markup. */
export function h(tag, props = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k in el && typeof v !== 'string') el[k] = v;
        else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children.flat(Infinity)) {
        if (c === undefined || c === null || c === false) continue;
        el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Replace `el`'s children. */
export function fill(el, ...children) {
    el.replaceChildren();
    append(el, children);
    return el;
}

/** A refusal found before sending (a price that is not a number, JSON that does not
 * parse): shown like a server error, with focus on the field. */
export class FieldError extends Error {
    constructor(field, message) {
        super(message);
        this.field = field;
    }
}

export function errorText(err) {
    if (err && typeof err.describe === 'function') return err.describe();
    return sentence(err && err.message ? err.message : String(err));
}

/** The API's field names where a form's input is named otherwise. */
const INPUT_NAMES = {
    discount_cents: 'discount', min_spend_cents: 'min_spend', price_cents: 'price',
    valid_from_ms: 'valid_from', valid_until_ms: 'valid_until',
};

function inputNamed(form, word) {
    return form.querySelector(`[name="${INPUT_NAMES[word] || word}"]`);
}

/** The input of `form` a server refusal is about: the first word of its message that
 *  names one ("coupon quota must be at least 1" → the quota input), or null. */
export function fieldOf(form, message) {
    for (const word of String(message).match(/[a-z][a-z_]*[a-z]/g) || []) {
        const input = inputNamed(form, word);
        if (input) return input;
    }
    return null;
}

/** A server refusal in the form's words: each API field name (`min_spend_cents`) as its
 *  input's label says it ("minimum order"), as a sentence. */
export function plainMessage(form, message) {
    const text = String(message).replace(/\b[a-z]+(?:_[a-z]+)+\b/g, (w) => {
        const input = inputNamed(form, w);
        const label = input && input.id ? form.querySelector(`label[for="${input.id}"]`) : null;
        const words = label && label.firstChild ? label.firstChild.textContent.trim() : '';
        return words ? words.charAt(0).toLowerCase() + words.slice(1) : w.replace(/_/g, ' ');
    });
    return sentence(text);
}

/** Show `text` at `field`, under it, and mark it invalid (read out with it). */
export function markField(field, text) {
    let note = document.getElementById(`${field.id}-error`);
    if (!note) {
        note = h('p', { class: 'field-error', id: `${field.id}-error` });
        field.insertAdjacentElement('afterend', note);
    }
    note.textContent = text;
    field.setAttribute('aria-invalid', 'true');
    field.setAttribute('aria-describedby', note.id);
}

/** Take every field's error off `form`. */
export function clearFields(form) {
    for (const f of form.querySelectorAll('[aria-invalid="true"]')) {
        f.removeAttribute('aria-invalid');
        f.removeAttribute('aria-describedby');
    }
    for (const n of form.querySelectorAll('.field-error')) n.remove();
}

export function showError(el, err) {
    if (!el) return;
    el.textContent = errorText(err);
    el.dataset.status = err && err.status !== undefined ? String(err.status) : '';
    el.hidden = false;
}

export function clearError(el) {
    if (!el) return;
    el.textContent = '';
    el.hidden = true;
}

/** Disable (or re-enable) every control of a form while it is being submitted. */
export function setBusy(form, busy) {
    form.classList.toggle('busy', busy);
    form.setAttribute('aria-busy', busy ? 'true' : 'false');
    for (const el of form.querySelectorAll('input, select, textarea, button, fieldset')) {
        if (busy) {
            el.dataset.wasDisabled = el.disabled ? '1' : '';
            el.disabled = true;
        } else {
            el.disabled = el.dataset.wasDisabled === '1';
            delete el.dataset.wasDisabled;
        }
    }
}

/** Run `work` for a form: busy while it runs, its `.form-error` shows any refusal.
 * Resolves to true when the work succeeded. */
export async function submitting(form, work) {
    const errEl = form.querySelector(':scope > .form-error, .form-error');
    clearError(errEl);
    clearFields(form);
    setBusy(form, true);
    try {
        await work();
        return true;
    } catch (err) {
        showError(errEl, err);
        // The field it is about gets the message too, in the form's words, and the focus.
        const refused = err && err.status === 422;
        const field = err instanceof FieldError ? err.field : refused ? fieldOf(form, err.message) : null;
        if (refused && errEl) errEl.textContent = plainMessage(form, err.message);
        if (field) {
            markField(field, errEl ? errEl.textContent : errorText(err));
            setBusy(form, false);
            field.focus();
        }
        return false;
    } finally {
        setBusy(form, false);
    }
}

/** Run a one-button action: the button is disabled meanwhile; errors go to a toast. */
export async function acting(button, work, okText) {
    if (button) button.disabled = true;
    try {
        await work();
        if (okText) toast(okText);
        return true;
    } catch (err) {
        toast(errorText(err), 'error');
        return false;
    } finally {
        if (button) button.disabled = false;
    }
}

/** Ask before doing something destructive. Resolves to true when confirmed. */
export function confirmDialog({ title = 'Are you sure?', text = '', ok = 'Confirm' } = {}) {
    const dialog = $('#confirm');
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = ok;
    return new Promise((resolve) => {
        dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
        dialog.returnValue = '';
        dialog.showModal();
        $('#confirm-cancel').focus();
    });
}

/** A short message in the corner; errors stay longer. */
export function toast(text, kind = 'ok') {
    const el = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
    const box = $('#toasts');
    box.append(el);
    // Keep the corner readable: the newest few only.
    while (box.children.length > 3) box.firstElementChild.remove();
    setTimeout(() => el.remove(), kind === 'error' ? 8000 : 3500);
}

/** Copy text to the clipboard; falls back to a selection where the async API is
 * missing (plain http on a LAN address is not a secure context). */
export async function copyText(text, input) {
    try {
        await navigator.clipboard.writeText(text);
        return true;
    } catch (_) {
        if (!input) return false;
        const type = input.type;
        input.type = 'text';
        input.select();
        const ok = document.execCommand && document.execCommand('copy');
        input.type = type;
        return !!ok;
    }
}

// ---- formatting -------------------------------------------------------------------------

export function money(cents, currency = '') {
    const n = Number(cents || 0) / 100;
    const s = n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return currency ? `${s} ${currency}` : s;
}

export function count(n) {
    return Number(n || 0).toLocaleString();
}

export function percent(x, digits = 1) {
    return `${(Number(x || 0) * 100).toFixed(digits)}%`;
}

export function bytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

export function dateTime(ms) {
    if (!ms) return '—';
    return new Date(ms).toLocaleString(undefined, {
        month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
}

export function clock(ms) {
    return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** "mm:ss" (or "h:mm:ss") for a duration in ms. */
export function countdown(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    const hh = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
    const ss = String(s % 60).padStart(2, '0');
    return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

// ---- parsing form fields ----------------------------------------------------------------

/** "12.5" → 1250 cents. Empty gives `empty`; anything else is a FieldError. */
export function parseMoney(input, label, empty = 0) {
    const raw = input.value.trim().replace(',', '.');
    if (raw === '') return empty;
    if (!/^\d+(\.\d{1,2})?$/.test(raw)) {
        throw new FieldError(input, `${label} must be an amount like 99 or 99.90`);
    }
    const [whole, frac = ''] = raw.split('.');
    return Number(whole) * 100 + Number(frac.padEnd(2, '0'));
}

/** A whole number within [min, max]; empty gives `empty`. */
export function parseCount(input, label, { min = 0, max = 4294967295, empty = 0 } = {}) {
    const raw = input.value.trim();
    if (raw === '') return empty;
    if (!/^\d+$/.test(raw)) throw new FieldError(input, `${label} must be a whole number, without decimals or signs`);
    if (Number(raw) < min) throw new FieldError(input, `${label} must be at least ${min}`);
    if (Number(raw) > max) {
        throw new FieldError(input, max >= 4294967295 ? `${label} is too large` : `${label} must be at most ${max}`);
    }
    return Number(raw);
}

/** cents → "12.50" for an input's value. */
export function moneyValue(cents) {
    return (Number(cents || 0) / 100).toFixed(2);
}

/** ms → the value of an `<input type="datetime-local">` in local time. */
export function localInputValue(ms) {
    if (!ms) return '';
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function parseLocalInput(input) {
    if (!input.value) return 0;
    const ms = new Date(input.value).getTime();
    if (Number.isNaN(ms)) throw new FieldError(input, 'that date is not valid');
    return ms;
}
