// console-dom.js — small DOM helpers shared by the console's modules: building elements
// without innerHTML (every server or user string goes in as text), form submission with
// busy state and clear errors, a confirmation dialog, toasts, and value formatting/parsing.

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
    return err && err.message ? err.message : String(err);
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
    setBusy(form, true);
    try {
        await work();
        return true;
    } catch (err) {
        showError(errEl, err);
        if (err instanceof FieldError && err.field) {
            setBusy(form, false);
            err.field.focus();
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
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
        throw new FieldError(input, `${label} must be a whole number from ${min} to ${max}`);
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
