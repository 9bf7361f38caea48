// viewer-commerce.js — what the room sells: product cards (styled by the viewer's A/B
// variant or the host's style, one-click buy link, display/click analytics acks batched
// every 2 s or 20 items, in server time), the coupon banner with idempotent claims, and the
// flash sale with a countdown synced to server time and idempotent buys.

import { el, formatPrice, mmss, randomId } from './viewer-util.js';
import { icon } from './viewer-icons.js';

const ACK_EVERY_MS = 2000;
const ACK_BATCH = 20;
const DEFAULT_DURATION_MS = 8000;
const ANSWER_WITHIN_MS = 15_000; // a claim or buy unanswered this long (while connected) failed

/** Host styles that name one of the two card looks. */
const STYLE_LOOK = { a: 'a', sheet: 'a', large: 'a', big: 'a', b: 'b', compact: 'b', pill: 'b', small: 'b' };

/** Make a server error sentence presentable ("coupon c-1k is sold out" → "Coupon …."). */
function sentence(text) {
    const s = String(text || 'Something went wrong').trim();
    const cap = s.charAt(0).toUpperCase() + s.slice(1);
    return /[.!?]$/.test(cap) ? cap : `${cap}.`;
}

export class Commerce {
    /** `opts`: {room (Room), cardSlot, coupons, sale, variant() → 'a'|'b', toast(text)} */
    constructor(opts) {
        this.room = opts.room;
        this.cardSlot = opts.cardSlot;
        this.couponsBox = opts.coupons;
        this.saleBox = opts.sale;
        this.variant = opts.variant;
        this.toast = opts.toast;
        this.products = new Map(); // product id → product (from cards seen)
        this.currency = 'CNY';
        this.card = null; // {card, node, timer}
        this.shown = []; // [{push_id, shown_at_ms}] (exposed to tests)
        this.seenPushes = new Set(); // push ids displayed (or acknowledged) already
        this.acks = [];
        this.ackTimer = null;
        this.coupons = new Map(); // id → {coupon, node, claimed, key}
        this.sale = null; // {sale, key}
        this.saleEls = {
            when: document.getElementById('sale-when'),
            countdown: this.saleBox.querySelector('.countdown'),
            title: document.getElementById('sale-title'),
            price: document.getElementById('sale-price'),
            was: document.getElementById('sale-was'),
            stock: this.saleBox.querySelector('.stock'),
            fill: document.getElementById('stock-fill'),
            buy: this.saleBox.querySelector('button.buy'),
            result: this.saleBox.querySelector('.buy-result'),
        };
        this.saleEls.buy.addEventListener('click', () => this.buy());
        setInterval(() => this.tick(), 250);
        addEventListener('pagehide', () => this.flushAcks());
    }

    // ---- product cards ----------------------------------------------------------------

    /** A `product` frame. */
    onProduct(card) {
        if (!card || !card.push_id) return;
        this.remember(card.product);
        this.showCardWhenDue(card, this.room.serverNow());
    }

    /** A snapshot's pinned card: shown if it is still within its duration. */
    onPinned(card) {
        if (!card || !card.push_id || this.seenPushes.has(card.push_id)) return;
        this.remember(card.product);
        const duration = card.duration_ms || DEFAULT_DURATION_MS;
        const left = card.server_ms + duration - this.room.serverNow();
        if (left > 500) this.showCardWhenDue(card, this.room.serverNow(), left);
    }

    remember(product) {
        if (!product || !product.id) return;
        this.products.set(product.id, product);
        if (product.currency) this.currency = product.currency;
        if (this.sale && this.sale.sale.product_id === product.id) this.renderSale();
    }

    /** Every card goes through here. Today: shown at once. (Next: held until the video's
     *  playhead reaches `card.media_ms`.) */
    showCardWhenDue(card, receivedMs, durationMs) {
        this.showCard(card, receivedMs, durationMs);
    }

    look(card) {
        const style = card.style ? String(card.style).toLowerCase() : '';
        return STYLE_LOOK[style] || this.variant() || 'a';
    }

    showCard(card, receivedMs, durationMs) {
        this.hideCard(true);
        const p = card.product || {};
        const look = this.look(card);
        const img = el('img', { class: 'card-img', alt: '', loading: 'eager', decoding: 'async', referrerpolicy: 'no-referrer' });
        img.addEventListener('error', () => node.classList.add('no-img'));
        if (p.image_url) img.src = p.image_url;
        else queueMicrotask(() => node.classList.add('no-img'));
        const buy = el('a', { class: 'buy', href: p.buy_url || '#', target: '_blank', rel: 'noopener noreferrer' }, 'Buy now');
        buy.addEventListener('click', () => this.room.send({ type: 'click', push_id: card.push_id, product_id: p.id }));
        const close = el('button', { class: 'card-close', type: 'button', 'aria-label': 'Close' }, '×');
        close.addEventListener('click', () => this.hideCard());
        const info = el('div', { class: 'card-info' },
            el('div', { class: 'card-kicker', text: card.source && card.source !== 'host' ? 'Recommended' : 'Now presenting' }),
            el('div', { class: 'title', text: p.title || p.id || 'Product' }),
            el('div', { class: 'price', text: formatPrice(p.price_cents, p.currency) }));
        if (look === 'a' && p.description) info.append(el('p', { class: 'desc', text: p.description }));
        if (look === 'a' && Number.isFinite(p.stock) && p.stock > 0 && p.stock <= 50) {
            info.append(el('div', { class: 'card-stock', text: `Only ${p.stock} left` }));
        }
        const node = el('div', {
            class: `card card--${look}`,
            role: 'dialog',
            'aria-label': p.title || 'Product',
            dataset: { pushId: card.push_id, product: p.id || '', variant: look, style: card.style || '' },
        }, el('div', { class: 'card-media' }, img, el('span', { class: 'card-ph' }, icon('bag'))), info, buy, close);
        this.cardSlot.replaceChildren(node);
        this.makeRoom(look);
        // Next frame: let the entry animation run.
        requestAnimationFrame(() => node.classList.add('in'));
        const duration = durationMs || card.duration_ms || DEFAULT_DURATION_MS;
        const timer = setTimeout(() => this.hideCard(), duration);
        this.card = { card, node, timer };
        const displayed = this.room.serverNow();
        this.shown.push({ push_id: card.push_id, shown_at_ms: displayed });
        if (!this.seenPushes.has(card.push_id)) {
            this.seenPushes.add(card.push_id);
            this.ack({
                push_id: card.push_id,
                variant: card.style ? String(card.style) : look,
                received_ms: Math.round(receivedMs),
                displayed_ms: displayed,
            });
        }
    }

    hideCard(instant) {
        if (!this.card) return;
        const { node, timer } = this.card;
        clearTimeout(timer);
        this.card = null;
        this.makeRoom(null);
        if (instant) {
            node.remove();
            return;
        }
        node.classList.remove('in');
        node.classList.add('out');
        setTimeout(() => node.remove(), 300);
    }

    /** Pad the chat so the card does not cover the latest comments. */
    makeRoom(look) {
        const area = this.cardSlot.parentElement;
        if (look) area.dataset.card = look;
        else delete area.dataset.card;
        const chat = area.querySelector('.chat');
        if (chat) chat.dispatchEvent(new Event('relayout'));
    }

    ack(item) {
        this.acks.push(item);
        if (this.acks.length >= ACK_BATCH) this.flushAcks();
        else if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAcks(), ACK_EVERY_MS);
    }

    flushAcks() {
        clearTimeout(this.ackTimer);
        this.ackTimer = null;
        while (this.acks.length) this.room.send({ type: 'ack', acks: this.acks.splice(0, ACK_BATCH) });
    }

    // ---- coupons ----------------------------------------------------------------------

    /** The snapshot's coupons replace the banner's (keeping what the viewer claimed). */
    setCoupons(list) {
        const ids = new Set((list || []).map((c) => c.id));
        for (const [id, entry] of this.coupons) {
            if (!ids.has(id)) {
                entry.node.remove();
                this.coupons.delete(id);
            }
        }
        for (const c of list || []) this.addCoupon(c);
        this.renderCouponsBox();
    }

    addCoupon(coupon) {
        if (!coupon || !coupon.id) return;
        const existing = this.coupons.get(coupon.id);
        if (existing) {
            existing.coupon = coupon;
            existing.title.textContent = coupon.title || coupon.id;
            return;
        }
        const title = el('div', { class: 'title', text: coupon.title || coupon.id });
        const value = el('div', { class: 'value', text: `${formatPrice(coupon.discount_cents, this.currency)} off` });
        const button = el('button', { class: 'claim', type: 'button' }, 'Claim');
        const result = el('div', { class: 'claim-result', 'aria-live': 'polite' });
        const node = el('div', { class: 'coupon', dataset: { id: coupon.id } },
            el('div', { class: 'coupon-ticket' }, icon('ticket', 'ticket-icon'), value, title), button, result);
        const entry = { coupon, node, title, value, button, result, claimed: false, key: null };
        button.addEventListener('click', () => this.claim(entry));
        this.coupons.set(coupon.id, entry);
        this.couponsBox.append(node);
        this.renderCouponsBox();
        node.classList.add('new');
    }

    renderCouponsBox() {
        this.couponsBox.hidden = this.coupons.size === 0;
    }

    claim(entry) {
        if (entry.claimed || entry.key) return;
        // A fresh key per attempt; the room resends the same message (same key) if the
        // connection drops before the answer.
        const me = (this.room.user && this.room.user.id) || 'me';
        entry.key = `${me}:${entry.coupon.id}:${randomId()}`;
        entry.button.disabled = true;
        entry.button.textContent = 'Claiming…';
        entry.result.textContent = '';
        delete entry.result.dataset.ok;
        this.room.send({ type: 'claim', coupon_id: entry.coupon.id, key: entry.key }, entry.key);
        this.expectAnswer(entry.key, () => entry.key, () => {
            entry.key = null;
            entry.button.disabled = false;
            entry.button.textContent = 'Try again';
            entry.result.dataset.ok = 'false';
            entry.result.textContent = 'No answer from the shop. Please try again.';
        });
    }

    onClaimResult(msg) {
        const entry = this.coupons.get(msg.coupon_id);
        if (!entry) return;
        if (entry.key) this.room.settle(entry.key);
        entry.key = null;
        entry.result.dataset.ok = msg.ok ? 'true' : 'false';
        if (msg.ok) {
            entry.result.textContent = `Claimed! ${formatPrice(entry.coupon.discount_cents, this.currency)} off`;
            this.markClaimed(entry);
            return;
        }
        const err = String(msg.error || '');
        const limit = /reached the limit of (\d+)/.exec(err);
        if (limit) {
            entry.result.textContent = `Not claimed: you have reached the limit of ${limit[1]} claim${limit[1] === '1' ? '' : 's'} for this coupon.`;
            this.markClaimed(entry);
        } else {
            entry.result.textContent = sentence(err);
            entry.button.disabled = /sold out|expired|locked|unknown/.test(err);
            entry.button.textContent = entry.button.disabled ? 'Unavailable' : 'Try again';
        }
    }

    /** Give up on request `key` if it is still pending (`current()`) after being connected
     *  for ANSWER_WITHIN_MS; a drop restarts the wait (the room resends it on reconnect). */
    expectAnswer(key, current, giveUp) {
        let waited = 0;
        const step = 1000;
        const timer = setInterval(() => {
            if (current() !== key) {
                clearInterval(timer);
                return;
            }
            waited = this.room.joined ? waited + step : 0;
            if (waited >= ANSWER_WITHIN_MS) {
                clearInterval(timer);
                this.room.settle(key);
                giveUp();
            }
        }, step);
    }

    markClaimed(entry) {
        entry.claimed = true;
        entry.node.classList.add('claimed');
        entry.button.disabled = true;
        entry.button.textContent = 'Claimed ✓';
    }

    // ---- flash sale ---------------------------------------------------------------------

    setSale(sale) {
        if (!sale) {
            this.clearSale();
            return;
        }
        if (!this.sale || this.sale.sale.id !== sale.id) {
            this.sale = { sale, key: null, bought: false };
            this.saleEls.result.textContent = '';
            delete this.saleEls.result.dataset.ok;
        } else {
            this.sale.sale = sale;
        }
        this.saleBox.hidden = false;
        this.renderSale();
    }

    onFlashSale(msg) {
        const sale = msg.sale;
        if (!sale) return;
        if (msg.event === 'end') {
            if (this.sale && this.sale.sale.id === sale.id) this.clearSale();
            return;
        }
        if (msg.event === 'stock' && this.sale && this.sale.sale.id === sale.id) {
            this.sale.sale = { ...this.sale.sale, ...sale };
            this.renderSale();
            return;
        }
        this.setSale(sale);
    }

    clearSale() {
        this.sale = null;
        this.saleBox.hidden = true;
    }

    renderSale() {
        if (!this.sale) return;
        const s = this.sale.sale;
        const p = this.products.get(s.product_id);
        const currency = (p && p.currency) || this.currency;
        this.saleEls.title.textContent = p ? p.title : s.product_id;
        this.saleEls.price.textContent = formatPrice(s.price_cents, currency);
        this.saleEls.was.textContent = p && p.price_cents > s.price_cents ? formatPrice(p.price_cents, currency) : '';
        const left = Math.max(0, (s.stock || 0) - (s.sold || 0));
        this.saleEls.stock.textContent = String(left);
        this.saleEls.fill.style.width = `${s.stock ? Math.round((left / s.stock) * 100) : 0}%`;
        this.tick();
    }

    tick() {
        // Coupons with an end time disappear when it passes.
        const now = this.room.serverNow();
        for (const [id, e] of this.coupons) {
            if (e.coupon.valid_until_ms && now > e.coupon.valid_until_ms && !e.claimed) {
                e.node.remove();
                this.coupons.delete(id);
                this.renderCouponsBox();
            }
        }
        if (!this.sale) return;
        const s = this.sale.sale;
        const left = Math.max(0, (s.stock || 0) - (s.sold || 0));
        const els = this.saleEls;
        if (s.starts_ms && now < s.starts_ms) {
            els.when.textContent = 'Starts in';
            els.countdown.textContent = mmss(s.starts_ms - now);
            els.buy.disabled = true;
            els.buy.textContent = 'Soon';
            return;
        }
        if (s.ends_ms && now >= s.ends_ms) {
            this.clearSale();
            return;
        }
        els.when.textContent = 'Ends in';
        els.countdown.textContent = mmss(s.ends_ms - now);
        const busy = Boolean(this.sale.key);
        els.buy.disabled = busy || left === 0;
        els.buy.textContent = left === 0 ? 'Sold out' : busy ? 'Buying…' : 'Buy now';
    }

    buy() {
        if (!this.sale || this.sale.key) return;
        const s = this.sale.sale;
        this.sale.key = `${(this.room.user && this.room.user.id) || 'me'}:${s.id}:${randomId()}`;
        this.saleEls.result.textContent = '';
        delete this.saleEls.result.dataset.ok;
        const sale = this.sale;
        this.room.send({ type: 'buy', sale_id: s.id, quantity: 1, key: sale.key }, sale.key);
        this.expectAnswer(sale.key, () => sale.key, () => {
            sale.key = null;
            this.saleEls.result.dataset.ok = 'false';
            this.saleEls.result.textContent = 'No answer from the shop. Please try again.';
            this.tick();
        });
        this.tick();
    }

    onBuyResult(msg) {
        if (!this.sale || this.sale.sale.id !== msg.sale_id) return;
        if (this.sale.key) this.room.settle(this.sale.key);
        this.sale.key = null;
        const r = this.saleEls.result;
        r.dataset.ok = msg.ok ? 'true' : 'false';
        r.textContent = msg.ok ? `Order placed! (${msg.order_id})` : sentence(msg.error);
        this.tick();
    }
}
