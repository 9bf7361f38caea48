// viewer-bag.js — the product bag (小黄车): a button with the live's product count opens
// a sheet listing every product of the live (image, title, price, stock), the one the host
// is presenting marked 讲解中; tapping a product closes the sheet and opens its card.
// The list comes from the snapshot (`products`) and `products` messages; product texts are
// the shop's content: text nodes only, marked translate="no".

import { el } from './viewer-util.js';
import { icon } from './viewer-icons.js';
import { formatPrice, tr, trAttr } from './viewer-i18n.js';

export class Bag {
    /** `opts`: {button, count, sheet, list, close, onPick(product)} (the elements of
     *  viewer.html's bag). */
    constructor(opts) {
        this.button = opts.button;
        this.count = opts.count;
        this.sheet = opts.sheet;
        this.list = opts.list;
        this.onPick = opts.onPick;
        this.products = [];
        this.presenting = null; // product id of the card the host pushed last
        this.button.addEventListener('click', () => (this.sheet.hidden ? this.open() : this.close()));
        opts.close.addEventListener('click', () => this.close());
        this.sheet.addEventListener('keydown', (e) => { if (e.key === 'Escape') this.close(); });
        document.addEventListener('langchange', () => this.render());
    }

    /** The live's whole list, in the merchant's order. */
    set(products) {
        this.products = Array.isArray(products) ? products.filter((p) => p && p.id) : [];
        this.render();
    }

    /** The product the host is presenting now (`null`: none). */
    setPresenting(productId) {
        if (this.presenting === productId) return;
        this.presenting = productId;
        this.render();
    }

    open() {
        if (!this.products.length) return;
        this.sheet.hidden = false;
        this.button.setAttribute('aria-expanded', 'true');
        const first = this.list.querySelector('button');
        if (first) first.focus({ preventScroll: true });
    }

    close() {
        if (this.sheet.hidden) return;
        this.sheet.hidden = true;
        this.button.setAttribute('aria-expanded', 'false');
        this.button.focus({ preventScroll: true });
    }

    render() {
        const n = this.products.length;
        this.button.hidden = n === 0;
        this.count.textContent = String(n);
        trAttr(this.button, 'aria-label', 'bag.open', { n });
        if (!n) this.close();
        // The presented product first, as the shopping apps list it.
        const items = [...this.products].sort((a, b) => (b.id === this.presenting) - (a.id === this.presenting));
        this.list.replaceChildren(...items.map((p) => this.item(p)));
    }

    item(p) {
        const img = el('img', { class: 'bag-img', alt: '', loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer' });
        const media = el('div', { class: 'bag-media' }, img, el('span', { class: 'bag-ph' }, icon('bag')));
        img.addEventListener('error', () => media.classList.add('no-img'));
        if (p.image_url) img.src = p.image_url;
        else media.classList.add('no-img');
        const presenting = p.id === this.presenting;
        const soldOut = Number.isFinite(p.stock) && p.stock <= 0;
        const stock = soldOut
            ? tr(el('span', { class: 'bag-stock sold-out' }), 'bag.soldOut')
            : tr(el('span', { class: 'bag-stock' }), 'bag.stock', { n: p.stock || 0 });
        const info = el('div', { class: 'bag-info' },
            presenting ? tr(el('span', { class: 'bag-live' }), 'bag.presenting') : null,
            el('div', { class: 'bag-title', translate: 'no', text: p.title || p.id }),
            el('div', { class: 'bag-line' },
                el('span', { class: 'bag-price', text: formatPrice(p.price_cents, p.currency) }), stock));
        const show = tr(el('span', { class: 'bag-show', 'aria-hidden': 'true' }), 'bag.show');
        const button = el('button', { type: 'button', class: 'bag-pick' }, media, info, show);
        button.addEventListener('click', () => {
            this.close();
            this.onPick(p, presenting);
        });
        return el('li', { class: `bag-item${presenting ? ' presenting' : ''}${soldOut ? ' sold-out' : ''}`, dataset: { product: p.id } }, button);
    }
}
