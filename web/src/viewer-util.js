// viewer-util.js — small helpers shared by the viewer page modules: safe DOM building
// (text only, never HTML), price formatting (re-exported from viewer-i18n.js), ids for
// idempotency keys, a tiny event emitter.

/** Create an element: `el('div', {class: 'x', dataset: {id}}, child, 'text', ...)`.
 *  Strings become text nodes: untrusted text can never become markup. */
export function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
        for (const [k, v] of Object.entries(attrs)) {
            if (v === undefined || v === null || v === false) continue;
            if (k === 'class') node.className = v;
            else if (k === 'dataset') Object.assign(node.dataset, v);
            else if (k === 'text') node.textContent = v;
            else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
            else if (k in node && typeof v !== 'string') node[k] = v;
            else node.setAttribute(k, v === true ? '' : String(v));
        }
    }
    for (const c of children) {
        if (c === null || c === undefined || c === false) continue;
        node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
}

/** `9900, 'CNY'` → "¥99" in the page's language (viewer-i18n.js). Amounts are in minor
 *  units. Kept here for the modules that format prices without translating. */
export { formatPrice } from './viewer-i18n.js';

/** A random id for idempotency keys. */
export function randomId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** "mm:ss" of a duration in ms (minutes may exceed 59). */
export function mmss(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** Minimal event emitter. */
export class Emitter {
    constructor() { this.handlers = new Map(); }
    on(type, fn) {
        if (!this.handlers.has(type)) this.handlers.set(type, new Set());
        this.handlers.get(type).add(fn);
        return () => this.handlers.get(type).delete(fn);
    }
    emit(type, ...args) {
        for (const fn of this.handlers.get(type) || []) {
            try { fn(...args); } catch (e) { console.error(`handler for ${type}:`, e); }
        }
    }
}

/** localStorage that never throws (private mode, quota, disabled storage). */
export const store = {
    get(key) {
        try { return JSON.parse(localStorage.getItem(key)); } catch (_) { return null; }
    },
    set(key, value) {
        try { localStorage.setItem(key, JSON.stringify(value)); } catch (_) { /* ignore */ }
    },
    remove(key) {
        try { localStorage.removeItem(key); } catch (_) { /* ignore */ }
    },
};
