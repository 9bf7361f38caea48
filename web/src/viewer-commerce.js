// viewer-commerce.js — what the room sells: product cards (styled by the viewer's A/B
// variant or the host's style, one-click buy link, display/click analytics acks batched
// every 2 s or 20 items, in server time, with the video's media time of the display), the
// coupon banner with idempotent claims, and the flash sales with countdowns synced to
// server time and idempotent buys: sales may overlap, so the sale box shows one (the first
// to start) and lists the other running ones under it (#sale-more), each with its own
// countdown, a tap showing it. A buy picks the SKU (size, colour; viewer-skus.js) of a
// sale that has them, asks to confirm ("确认购买：棉T恤 M码 ¥49"), and ends in words
// ("已下单：…"); the button says when the viewer's per-user limit is reached.
//
// In sync with the video (issue 6): a card's WebSocket copy arrives about a second before
// the video shows the host presenting it, so it only prefetches the card (data kept, DOM
// built off-page, image loading); the card is shown when the playhead reaches its
// `media_ms` (viewer-sync.js `Moments`, frame-accurate with requestVideoFrameCallback),
// the in-band copy (emsg, via the player's 'timed' events) deciding when it has come.
// Coupon unlocks and flash-sale starts are held the same way; a sale's `stock` and `end`
// are urgent and shown at once. What cannot be held (no media time, another period, no
// DASH video, a moment long past) shows at once, and a moment that does not come (stalled
// video) shows after a bounded wait (viewer-sync.js).

import { el, mmss, randomId } from './viewer-util.js';
import { icon } from './viewer-icons.js';
import { formatCount, formatPrice, tr, trSlots, untr } from './viewer-i18n.js';
import { buildCard, cardFromEvent, dismissCard, reformatPrices } from './viewer-card.js';
import { defaultSku, itemName, leftOf, renderSkus, skuOf, unitPrice } from './viewer-skus.js';

export { buildCard, cardFromEvent, dismissCard } from './viewer-card.js';

const ACK_EVERY_MS = 2000;
const ACK_BATCH = 20;
const DEFAULT_DURATION_MS = 8000;
const ANSWER_WITHIN_MS = 15_000; // a claim or buy unanswered this long (while connected) failed

/** Host styles that name one of the two card looks. */
const STYLE_LOOK = { a: 'a', sheet: 'a', large: 'a', big: 'a', b: 'b', compact: 'b', pill: 'b', small: 'b' };

/** A claim's or buy's refusal (the server's English reason, store/src/coupons.rs and
 *  sales.rs) as [string key, params] in the viewer's words. */
export function refusal(error, code) {
    if (code === 'sign_in_required') return ['err.signIn', {}];
    if (code === 'guest_limit') return ['err.guestLimit', {}];
    const err = String(error || '');
    const limit = /(?:reached|exceed) the limit of (\d+)/.exec(err);
    if (limit && /coupon/.test(err)) return [limit[1] === '1' ? 'coupon.limitOne' : 'coupon.limit', { n: Number(limit[1]) }];
    if (limit) return ['err.saleLimit', { n: Number(limit[1]) }];
    const skuOut = /^flash sale \S+: (.+) (?:is sold out|has only \d+ left)$/.exec(err);
    if (skuOut) return ['err.skuSoldOut', { name: skuOut[1] }];
    if (code === 'sku_required') return ['sale.pickFirst', {}];
    if (/sold out/.test(err)) return ['err.soldOut', {}];
    if (/is locked/.test(err)) return ['err.locked', {}];
    if (/not valid yet|not started/.test(err)) return ['err.notYet', {}];
    if (/expired|has ended/.test(err)) return ['err.ended', {}];
    if (/^unknown/.test(err)) return ['err.unknown', {}];
    return ['err.generic', {}];
}

/** Whether a coupon's own title already names its amount ("¥10 off — 1,000 likes"): then
 *  the ticket does not repeat it. */
function titleNamesAmount(title, cents) {
    const whole = Math.round(Number(cents || 0) / 100);
    return whole > 0 && new RegExp(`(^|[^\\d])${whole}([^\\d]|$)`).test(String(title || ''));
}

/** An amount in whole units as Chinese shops write it in 满减 ("满199减20"): no symbol,
 *  cents only when there are any. */
function plainAmount(cents) {
    const c = Math.round(Number(cents || 0));
    return c % 100 ? (c / 100).toFixed(2) : String(c / 100);
}

/** Set `node` to string `key` unless it already shows it (the sale ticks 4× a second). */
function setKey(node, key) {
    if (node.dataset.i18n !== key) tr(node, key);
}

export class Commerce {
    /** `opts`: {room (Room), cardSlot, coupons, sale, variant() → 'a'|'b', toast(text),
     *  moments (a viewer-sync.js Moments: when to show what)} */
    constructor(opts) {
        this.room = opts.room;
        this.moments = opts.moments;
        this.cardSlot = opts.cardSlot;
        this.couponsBox = opts.coupons;
        this.saleBox = opts.sale;
        this.variant = opts.variant;
        // Whether the viewer is a guest: offers for signed-in viewers say "sign in" then.
        this.isGuest = opts.isGuest || (() => false);
        this.toast = opts.toast;
        // The host's last card's product: `onPresenting(productId)` (the bag marks it).
        this.onPresenting = opts.onPresenting || (() => {});
        this.products = new Map(); // product id → product (from cards seen)
        this.currency = 'CNY';
        this.card = null; // {card, node, timer}: the card on screen
        this.cards = new Map(); // push id → {card, receivedMs, durationMs, node, look}
        this.pendingCoupons = new Map(); // coupon id → coupon whose unlock waits for its moment
        this.pendingSales = new Map(); // sale id → sale whose start waits for its moment
        // [{push_id, media_ms, displayed_media_ms, shown_at_ms, received_ms, source}]
        // (exposed to tests): source 'emsg' | 'ws' | 'immediate'.
        this.shown = [];
        this.timed = []; // the same for coupon unlocks and flash-sale starts, with `kind`
        this.seenPushes = new Set(); // push ids displayed (or acknowledged) already
        this.acks = [];
        this.ackTimer = null;
        this.coupons = new Map(); // id → {coupon, node, claimed, key}
        // sale id → {sale, key, sku, picked, confirming, units, limited}: every running
        // sale, with the SKU chosen (`picked`: by the viewer, not preselected), whether
        // the confirmation is up, the units this viewer bought, and whether the per-user
        // limit was reached.
        this.sales = new Map();
        this.sale = null; // the entry of `sales` the sale box shows
        this.saleEls = {
            when: document.getElementById('sale-when'),
            stockLine: document.getElementById('sale-stock'),
            countdown: this.saleBox.querySelector('.countdown'),
            title: document.getElementById('sale-title'),
            price: document.getElementById('sale-price'),
            was: document.getElementById('sale-was'),
            stock: this.saleBox.querySelector('.stock'),
            fill: document.getElementById('stock-fill'),
            buy: this.saleBox.querySelector('button.buy'),
            result: this.saleBox.querySelector('.buy-result'),
            more: document.getElementById('sale-more'),
            skus: document.getElementById('sale-skus'),
            confirm: document.getElementById('sale-confirm'),
            confirmText: document.getElementById('sale-confirm-text'),
        };
        this.saleEls.buy.addEventListener('click', () => this.askToBuy());
        this.saleEls.confirm.querySelector('button.confirm').addEventListener('click', () => this.buy());
        this.saleEls.confirm.querySelector('button.cancel').addEventListener('click', () => this.cancelBuy());
        trSlots(this.saleEls.stockLine, 'sale.left', { n: this.saleEls.stock });
        document.addEventListener('langchange', () => {
            for (const e of this.coupons.values()) this.renderCoupon(e);
            this.renderSale();
            reformatPrices(this.cardSlot);
            reformatPrices(this.saleBox);
        });
        setInterval(() => this.tick(), 250);
        addEventListener('pagehide', () => this.flushAcks());
    }

    // ---- product cards ----------------------------------------------------------------

    /** A `product` frame: prefetch the card, and show it at its moment. */
    onProduct(card) {
        if (!card || !card.push_id) return;
        this.remember(card.product);
        this.prefetch(card, this.room.serverNow());
        this.showCardWhenDue(this.cards.get(card.push_id).card, 'ws');
    }

    /** A snapshot's pinned card: shown if it is still within its duration. */
    onPinned(card) {
        if (!card || !card.push_id || this.seenPushes.has(card.push_id)) return;
        this.remember(card.product);
        const duration = card.duration_ms || DEFAULT_DURATION_MS;
        const left = card.server_ms + duration - this.room.serverNow();
        if (left > 500) {
            this.prefetch(card, this.room.serverNow(), left);
            this.showCardWhenDue(this.cards.get(card.push_id).card, 'ws');
        }
    }

    /** A timed event from the video stream (viewer-sync.js `decodeTimedEvent`): its media
     *  time decides when the card, coupon unlock or flash-sale start is shown. */
    onTimedEvent(ev) {
        const p = ev && ev.payload;
        if (!p || typeof p.type !== 'string') return;
        const at = { media_ms: ev.mediaMs, period: ev.period };
        if (p.type === 'product' && p.push_id) {
            if (!this.cards.has(p.push_id)) this.prefetch(cardFromEvent(p, ev), this.room.serverNow());
            const entry = this.cards.get(p.push_id);
            entry.card = { ...entry.card, ...at };
            this.showCardWhenDue(entry.card, 'emsg');
        } else if (p.type === 'coupon' && p.event === 'unlocked' && p.coupon_id) {
            const coupon = { id: p.coupon_id, title: p.title, discount_cents: p.discount_cents, unlocked: true };
            this.onCouponUnlocked({ coupon, ...at }, 'emsg');
        } else if (p.type === 'flash_sale' && p.event === 'start' && p.sale_id) {
            const sale = {
                id: p.sale_id, product_id: p.product_id, price_cents: p.price_cents,
                stock: p.stock, sold: 0, ends_ms: p.ends_ms,
            };
            this.onFlashSale({ event: 'start', sale, ...at }, 'emsg');
        }
    }

    remember(product) {
        if (!product || !product.id) return;
        this.products.set(product.id, product);
        if (product.currency) this.currency = product.currency;
        if ([...this.sales.values()].some((e) => e.sale.product_id === product.id)) this.renderSale();
    }

    /** Keep a card's data and build its DOM (hidden, not in the page: the image starts
     *  loading) so that showing it at its moment costs nothing. A fuller copy (the
     *  WebSocket's, after an in-band one) replaces the data but keeps the media time. */
    prefetch(card, receivedMs, durationMs) {
        let entry = this.cards.get(card.push_id);
        if (!entry) {
            entry = { card, receivedMs: Math.round(receivedMs), durationMs, node: null, look: null };
            this.cards.set(card.push_id, entry);
            if (this.cards.size > 200) this.cards.delete(this.cards.keys().next().value);
        } else if (entry.card.partial && !card.partial) {
            entry.card = { ...card, media_ms: entry.card.media_ms ?? card.media_ms, period: entry.card.period ?? card.period };
            entry.node = null;
            if (durationMs) entry.durationMs = durationMs;
        }
        if (!entry.node && this.moments.state(`card:${card.push_id}`) !== 'shown') this.build(entry);
        return entry;
    }

    build(entry) {
        entry.look = this.look(entry.card);
        entry.node = buildCard(entry.card, entry.look, {
            onBuy: () => this.room.send({ type: 'click', push_id: entry.card.push_id, product_id: (entry.card.product || {}).id }),
            onClose: () => this.hideCard(),
        });
    }

    /** Every card goes through here: held until the video's playhead reaches
     *  `card.media_ms` (see viewer-sync.js `Moments`): `source` is the copy that armed it,
     *  'ws' (the room's frame) or 'emsg' (the in-band copy, which decides). */
    showCardWhenDue(card, source) {
        const entry = this.cards.get(card.push_id);
        this.moments.hold(`card:${card.push_id}`, {
            mediaMs: card.media_ms,
            period: card.period,
            durationMs: entry.durationMs || card.duration_ms || DEFAULT_DURATION_MS,
            source,
            show: (info) => this.showCard(card.push_id, info),
        });
    }

    /** Record when a coupon unlock or flash-sale start was shown (exposed to tests). */
    logTimed(kind, id, mediaMs, info = {}) {
        this.timed.push({
            kind,
            id,
            media_ms: Number.isFinite(mediaMs) ? mediaMs : null,
            displayed_media_ms: Number.isFinite(info.mediaMs) ? Math.max(0, Math.round(info.mediaMs)) : null,
            shown_at_ms: this.room.serverNow(),
            source: info.source || 'immediate',
        });
        if (this.timed.length > 200) this.timed.shift();
    }

    look(card) {
        const style = card.style ? String(card.style).toLowerCase() : '';
        return STYLE_LOOK[style] || this.variant() || 'a';
    }

    /** Show card `pushId` now; `info` = {mediaMs: the presented frame's media time (null
     *  when not on the card's timeline), source, reason?}. */
    showCard(pushId, info = {}) {
        const entry = this.cards.get(pushId);
        if (!entry) return;
        const card = entry.card;
        this.hideCard(true);
        if (!entry.node || entry.look !== this.look(card)) this.build(entry);
        const { node, look } = entry;
        entry.node = null; // a node is shown once
        this.cardSlot.replaceChildren(node);
        this.makeRoom(look);
        // Next frame: let the entry animation run.
        requestAnimationFrame(() => node.classList.add('in'));
        const duration = entry.durationMs || card.duration_ms || DEFAULT_DURATION_MS;
        const timer = setTimeout(() => this.hideCard(), duration);
        this.card = { card, node, timer };
        if (!card.source || card.source === 'host') this.onPresenting((card.product || {}).id || null);
        const displayed = this.room.serverNow();
        const displayedMedia = Number.isFinite(info.mediaMs) ? Math.max(0, Math.round(info.mediaMs)) : null;
        this.shown.push({
            push_id: pushId,
            media_ms: Number.isFinite(card.media_ms) ? card.media_ms : null,
            displayed_media_ms: displayedMedia,
            shown_at_ms: displayed,
            received_ms: entry.receivedMs,
            source: info.source || 'immediate',
            ...(info.reason ? { reason: info.reason } : {}),
        });
        if (this.shown.length > 1000) this.shown.splice(0, this.shown.length - 1000);
        if (!this.seenPushes.has(pushId)) {
            this.seenPushes.add(pushId);
            const ack = {
                push_id: pushId,
                variant: card.style ? String(card.style) : look,
                received_ms: entry.receivedMs,
                displayed_ms: displayed,
            };
            if (displayedMedia !== null) ack.displayed_media_ms = displayedMedia;
            this.ack(ack);
        }
    }

    /** Open a product's card because the viewer asked (from the bag): at once, until
     *  closed or replaced by the host's next card; it is not a push, so nothing is acked. */
    showProduct(product, presenting) {
        if (!product || !product.id) return;
        this.remember(product);
        this.hideCard(true);
        const card = { push_id: `bag-${product.id}`, product, source: 'bag' };
        const node = buildCard(card, 'a', {
            onClose: () => this.hideCard(),
            kicker: presenting ? 'card.presenting' : 'card.fromBag',
        });
        this.cardSlot.replaceChildren(node);
        this.makeRoom('a');
        requestAnimationFrame(() => node.classList.add('in'));
        this.card = { card, node, timer: null };
    }

    hideCard(instant) {
        if (!this.card) return;
        const { node, timer } = this.card;
        clearTimeout(timer);
        this.card = null;
        this.makeRoom(null);
        dismissCard(node, instant);
    }

    /** Mark the page as showing a card of `look` (the layout gives it its place, never
     *  over the chat), and keep the chat on its latest comments. */
    makeRoom(look) {
        const app = document.getElementById('app');
        if (app) {
            if (look) app.dataset.card = look;
            else delete app.dataset.card;
        }
        const chat = document.getElementById('chat');
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

    /** A coupon unlock (`coupon` frame, or its in-band copy): shown at its moment. */
    onCouponUnlocked(msg, source = 'ws') {
        const coupon = msg && msg.coupon;
        if (!coupon || !coupon.id) return;
        const id = coupon.id;
        const known = this.pendingCoupons.get(id);
        // The WebSocket copy is the full coupon; the in-band one has its main fields.
        this.pendingCoupons.set(id, source === 'ws' || !known ? { ...(known || {}), ...coupon } : { ...coupon, ...known });
        if (this.coupons.has(id)) {
            this.addCoupon(this.pendingCoupons.get(id));
            this.pendingCoupons.delete(id);
            return;
        }
        this.moments.hold(`coupon:${id}:${msg.media_ms ?? 'now'}`, {
            mediaMs: msg.media_ms,
            period: msg.period,
            durationMs: DEFAULT_DURATION_MS,
            source,
            show: (info) => {
                const c = this.pendingCoupons.get(id);
                this.pendingCoupons.delete(id);
                if (c) this.addCoupon(c);
                this.logTimed('coupon', id, msg.media_ms, info);
            },
        });
    }

    addCoupon(coupon) {
        if (!coupon || !coupon.id) return;
        const existing = this.coupons.get(coupon.id);
        if (existing) {
            existing.coupon = coupon;
            this.renderCoupon(existing);
            return;
        }
        const title = el('div', { class: 'title', translate: 'no' });
        const value = el('div', { class: 'value' });
        const cond = el('div', { class: 'cond' });
        const button = tr(el('button', { class: 'claim', type: 'button' }), 'coupon.claim');
        const result = el('div', { class: 'claim-result', 'aria-live': 'polite' });
        const node = el('div', { class: 'coupon', dataset: { id: coupon.id } },
            el('div', { class: 'coupon-ticket' }, icon('ticket', 'ticket-icon'), value, title, cond), button, result);
        const entry = { coupon, node, title, value, cond, button, result, claimed: false, key: null };
        button.addEventListener('click', () => this.claim(entry));
        this.renderCoupon(entry);
        this.coupons.set(coupon.id, entry);
        this.couponsBox.append(node);
        this.renderCouponsBox();
        node.classList.add('new');
    }

    /** The ticket: the amount (unless the shop's title names it), the title, and a
     *  minimum spend's condition (满减: "满199减20" / "¥20 off orders of ¥199 or more"). */
    renderCoupon(entry) {
        const c = entry.coupon;
        entry.title.textContent = c.title || c.id;
        // A guest may not claim a coupon for signed-in viewers: say so on the button.
        const signIn = Boolean(c.signed_in_only) && this.isGuest() && !entry.claimed;
        entry.node.classList.toggle('sign-in', signIn);
        if (signIn) {
            entry.button.disabled = true;
            tr(entry.button, 'coupon.signIn');
        } else if (entry.button.dataset.i18n === 'coupon.signIn') {
            entry.button.disabled = false;
            tr(entry.button, 'coupon.claim');
        }
        entry.value.textContent = formatPrice(c.discount_cents, this.currency);
        entry.value.hidden = !c.discount_cents || titleNamesAmount(c.title, c.discount_cents);
        const min = Number(c.min_spend_cents || 0);
        entry.cond.hidden = !min;
        if (min) {
            const off = { cents: c.discount_cents, currency: this.currency };
            tr(entry.cond, 'coupon.minSpend', {
                min: { cents: min, currency: this.currency }, off, minN: plainAmount(min), offN: plainAmount(c.discount_cents),
            });
        } else {
            untr(entry.cond);
        }
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
        tr(entry.button, 'coupon.claiming');
        untr(entry.result);
        delete entry.result.dataset.ok;
        this.room.send({ type: 'claim', coupon_id: entry.coupon.id, key: entry.key }, entry.key);
        this.expectAnswer(entry.key, () => entry.key, () => {
            entry.key = null;
            entry.button.disabled = false;
            tr(entry.button, 'coupon.retry');
            entry.result.dataset.ok = 'false';
            tr(entry.result, 'err.noAnswer');
        });
    }

    onClaimResult(msg) {
        const entry = this.coupons.get(msg.coupon_id);
        if (!entry) return;
        if (entry.key) this.room.settle(entry.key);
        entry.key = null;
        entry.result.dataset.ok = msg.ok ? 'true' : 'false';
        if (msg.ok) {
            tr(entry.result, 'coupon.ok');
            this.markClaimed(entry);
            return;
        }
        const [key, params] = refusal(msg.error, msg.code);
        tr(entry.result, key, params);
        if (key.startsWith('coupon.limit')) {
            this.markClaimed(entry);
        } else {
            entry.button.disabled = key !== 'err.generic';
            tr(entry.button, entry.button.disabled ? 'coupon.unavailable' : 'coupon.retry');
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
        tr(entry.button, 'coupon.claimed');
    }

    // ---- flash sale ---------------------------------------------------------------------

    /** Every running sale (the snapshot's list): each is kept, with its buy state if it
     *  was already here; the one shown stays shown if it still runs. */
    setSales(list) {
        const ids = new Set((list || []).map((x) => x && x.id).filter(Boolean));
        for (const id of [...this.sales.keys()]) if (!ids.has(id)) this.removeSale(id);
        for (const sale of list || []) this.setSale(sale);
    }

    /** Add or update one running sale. The first one is shown in the sale box; others
     *  start while it runs are listed under it, each with its countdown, a tap away. */
    setSale(sale) {
        if (!sale) {
            for (const id of [...this.sales.keys()]) this.removeSale(id);
            return;
        }
        // The sale names its product (title, image, list price): a viewer who joined after
        // its card still shows it. A card seen, with more about it, is kept.
        if (sale.product && sale.product.id && !this.products.has(sale.product.id)) {
            this.products.set(sale.product.id, sale.product);
        }
        const entry = this.sales.get(sale.id);
        if (entry) entry.sale = { ...entry.sale, ...sale };
        else this.sales.set(sale.id, { sale, key: null, sku: null, picked: false, confirming: false, units: 0, limited: false });
        if (!this.sale) this.selectSale(sale.id);
        else this.renderSale();
    }

    /** Show sale `id` in the sale box. */
    selectSale(id) {
        const entry = this.sales.get(id);
        if (!entry) return;
        if (this.sale !== entry) {
            if (this.sale) this.sale.confirming = false;
            this.sale = entry;
            untr(this.saleEls.result);
            delete this.saleEls.result.dataset.ok;
        }
        this.saleBox.hidden = false;
        this.saleBox.dataset.sale = id;
        this.renderSale();
    }

    /** A `flash_sale` frame (or the in-band copy of a start). A start is shown at its
     *  moment; `stock` and `end` are urgent: at once. */
    onFlashSale(msg, source = 'ws') {
        const sale = msg.sale;
        if (!sale || !sale.id) return;
        const waiting = this.pendingSales.get(sale.id);
        if (msg.event === 'end') {
            if (waiting) {
                this.pendingSales.delete(sale.id);
                this.moments.drop(waiting.key);
            }
            this.removeSale(sale.id);
            return;
        }
        if (msg.event === 'stock') {
            const entry = this.sales.get(sale.id);
            if (waiting) waiting.sale = { ...waiting.sale, ...sale };
            else if (entry) {
                entry.sale = { ...entry.sale, ...sale };
                this.renderSale();
            }
            return;
        }
        if (msg.event !== 'start') {
            this.setSale(sale);
            return;
        }
        if (this.sales.has(sale.id)) {
            if (source === 'ws') this.setSale(sale);
            return;
        }
        const key = `sale:${sale.id}:start`;
        const merged = waiting ? (source === 'ws' ? { ...waiting.sale, ...sale } : { ...sale, ...waiting.sale }) : sale;
        this.pendingSales.set(sale.id, { key, sale: merged });
        this.moments.hold(key, {
            mediaMs: msg.media_ms,
            period: msg.period,
            durationMs: Math.max(DEFAULT_DURATION_MS, (sale.ends_ms || 0) - this.room.serverNow()),
            source,
            show: (info) => {
                const w = this.pendingSales.get(sale.id);
                this.pendingSales.delete(sale.id);
                // (A snapshot may have shown the running sale meanwhile: it is newer.)
                if (w && !this.sales.has(sale.id)) this.setSale(w.sale);
                this.logTimed('flash_sale', sale.id, msg.media_ms, info);
            },
        });
    }

    /** Sale `id` is over: gone from the list; the box shows the next one, or hides. */
    removeSale(id) {
        const entry = this.sales.get(id);
        if (!entry) return;
        this.sales.delete(id);
        if (this.sale === entry) {
            this.sale = null;
            const next = this.sales.keys().next();
            if (!next.done) this.selectSale(next.value);
            else {
                this.saleBox.hidden = true;
                delete this.saleBox.dataset.sale;
            }
        }
        this.renderMore();
    }

    /** The title and price of sale `s`, in the viewer's currency. */
    saleLabel(s) {
        const p = this.products.get(s.product_id);
        const currency = (p && p.currency) || this.currency;
        return { p, currency, title: p ? p.title : s.product_id, price: formatPrice(s.price_cents, currency) };
    }

    renderSale() {
        this.renderMore();
        if (!this.sale) return;
        const entry = this.sale;
        const s = entry.sale;
        const { p, currency, title, price } = this.saleLabel(s);
        const gone = skuOf(s, entry.sku);
        if (gone && leftOf(s, gone) === 0 && (entry.picked || entry.confirming)) {
            // The SKU this viewer chose sold out under them: said (unless the last one
            // was theirs, just ordered), and not swapped for another behind their back.
            entry.sku = null;
            entry.confirming = false;
            if (this.saleEls.result.dataset.ok !== 'true') {
                this.saleEls.result.dataset.ok = 'false';
                tr(this.saleEls.result, 'err.skuSoldOut', { name: gone.name });
            }
        }
        if (!entry.picked) entry.sku = defaultSku(s, entry.sku);
        const sku = skuOf(s, entry.sku);
        renderSkus(this.saleEls.skus, s, entry.sku, currency, (id) => this.pickSku(id));
        this.saleEls.title.textContent = title;
        // With a SKU chosen, its price and what is left of it; else the sale's.
        const cents = unitPrice(s, sku);
        this.saleEls.price.textContent = sku ? formatPrice(cents, currency) : price;
        this.saleEls.was.textContent = p && p.price_cents > cents ? formatPrice(p.price_cents, currency) : '';
        const left = leftOf(s, sku);
        const of = sku ? sku.stock : s.stock;
        this.saleEls.stock.textContent = formatCount(left);
        this.saleEls.fill.style.width = `${of ? Math.round((left / of) * 100) : 0}%`;
        if (entry.confirming && (left === 0 || ((s.skus || []).length && !sku))) entry.confirming = false;
        this.renderConfirm();
        this.tick();
    }

    /** The viewer chose SKU `id` of the shown sale. */
    pickSku(id) {
        if (!this.sale || this.sale.key) return;
        this.sale.sku = id;
        this.sale.picked = true;
        this.sale.confirming = false;
        untr(this.saleEls.result);
        delete this.saleEls.result.dataset.ok;
        this.renderSale();
    }

    /** The confirmation line while it is up: what will be bought, at what price. */
    renderConfirm() {
        const box = this.saleEls.confirm;
        const entry = this.sale;
        box.hidden = !entry || !entry.confirming;
        if (box.hidden) return;
        const s = entry.sale;
        const sku = skuOf(s, entry.sku);
        const { currency, title } = this.saleLabel(s);
        const cents = unitPrice(s, sku);
        trSlots(this.saleEls.confirmText, 'sale.confirmLine', {
            title: el('span', { translate: 'no', text: itemName(title, sku) }),
            price: el('span', { class: 'price', dataset: { cents: String(cents), currency } }, formatPrice(cents, currency)),
        });
    }

    /** The other running sales, under the shown one: a button each (title, price,
     *  countdown) that shows it. */
    renderMore() {
        const box = this.saleEls.more;
        const others = [...this.sales.values()].filter((e) => e !== this.sale);
        box.hidden = others.length === 0;
        const want = others.map((e) => e.sale.id).join(' ');
        if (box.dataset.ids !== want) {
            box.dataset.ids = want;
            box.replaceChildren(el('span', { class: 'sale-more-label' }),
                ...others.map((e) => el('button', {
                    type: 'button', class: 'sale-other', dataset: { sale: e.sale.id },
                    onclick: () => this.selectSale(e.sale.id),
                }, el('span', { class: 'sale-other-title', translate: 'no' }), ' ',
                el('span', { class: 'sale-other-price' }), ' ', el('span', { class: 'countdown' }))));
            tr(box.firstChild, 'sale.more');
        }
        const now = this.room.serverNow();
        for (const b of box.querySelectorAll('button.sale-other')) {
            const e = this.sales.get(b.dataset.sale);
            if (!e) continue;
            const { title, price } = this.saleLabel(e.sale);
            b.querySelector('.sale-other-title').textContent = title;
            b.querySelector('.sale-other-price').textContent = price;
            const starts = e.sale.starts_ms && now < e.sale.starts_ms;
            b.querySelector('.countdown').textContent = mmss((starts ? e.sale.starts_ms : e.sale.ends_ms) - now);
        }
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
        for (const [id, e] of this.sales) {
            if (e.sale.ends_ms && now >= e.sale.ends_ms) this.removeSale(id);
        }
        if (this.sales.size > 1) this.renderMore();
        if (!this.sale) return;
        const s = this.sale.sale;
        const left = leftOf(s, skuOf(s, this.sale.sku));
        const els = this.saleEls;
        if (s.starts_ms && now < s.starts_ms) {
            setKey(els.when, 'sale.startsIn');
            els.countdown.textContent = mmss(s.starts_ms - now);
            els.buy.disabled = true;
            setKey(els.buy, 'sale.soon');
            return;
        }
        setKey(els.when, 'sale.endsIn');
        els.countdown.textContent = mmss(s.ends_ms - now);
        if (s.signed_in_only && this.isGuest()) {
            els.buy.disabled = true;
            setKey(els.buy, 'sale.signIn');
            return;
        }
        const entry = this.sale;
        const busy = Boolean(entry.key);
        // The whole sale sold out, or (with SKUs) the chosen one: another SKU may be left.
        const allOut = leftOf(s, null) === 0;
        const limited = entry.limited || (s.per_user_limit && entry.units >= s.per_user_limit);
        els.buy.disabled = busy || left === 0 || limited || entry.confirming;
        const key = limited ? 'sale.limitReached' : allOut || left === 0 ? 'sale.soldOut' : busy ? 'sale.buying' : 'sale.buy';
        setKey(els.buy, key);
    }

    /** The buy button: with SKUs, one must be chosen; then the confirmation step. */
    askToBuy() {
        const entry = this.sale;
        if (!entry || entry.key) return;
        untr(this.saleEls.result);
        delete this.saleEls.result.dataset.ok;
        if ((entry.sale.skus || []).length && !skuOf(entry.sale, entry.sku)) {
            this.saleEls.result.dataset.ok = 'false';
            tr(this.saleEls.result, 'sale.pickFirst');
            return;
        }
        entry.confirming = true;
        this.renderConfirm();
        this.tick();
        this.saleEls.confirm.querySelector('button.confirm').focus();
    }

    cancelBuy() {
        if (!this.sale) return;
        this.sale.confirming = false;
        this.renderConfirm();
        this.tick();
        this.saleEls.buy.focus();
    }

    buy() {
        if (!this.sale || this.sale.key || !this.sale.confirming) return;
        const s = this.sale.sale;
        this.sale.confirming = false;
        this.renderConfirm();
        this.sale.key = `${(this.room.user && this.room.user.id) || 'me'}:${s.id}:${randomId()}`;
        untr(this.saleEls.result);
        delete this.saleEls.result.dataset.ok;
        const sale = this.sale;
        const msg = { type: 'buy', sale_id: s.id, quantity: 1, key: sale.key };
        if (sale.sku) msg.sku = sale.sku;
        this.room.send(msg, sale.key);
        this.expectAnswer(sale.key, () => sale.key, () => {
            sale.key = null;
            this.saleEls.result.dataset.ok = 'false';
            tr(this.saleEls.result, 'err.noAnswer');
            this.tick();
        });
        this.tick();
    }

    onBuyResult(msg) {
        const entry = this.sales.get(msg.sale_id);
        if (!entry) return;
        if (entry.key) this.room.settle(entry.key);
        entry.key = null;
        if (msg.ok) entry.units += msg.quantity || 1;
        if (!msg.ok && msg.code === 'per_user_limit') entry.limited = true;
        // The result is said in the box while that sale is the one shown.
        if (entry !== this.sale) return;
        const r = this.saleEls.result;
        r.dataset.ok = msg.ok ? 'true' : 'false';
        if (msg.ok) {
            // In plain words: what was bought, at what price (the order id is for the shop).
            const s = this.sale.sale;
            const { currency, title } = this.saleLabel(s);
            const sku = skuOf(s, msg.sku_id);
            const cents = msg.amount_cents ?? unitPrice(s, sku);
            r.dataset.order = msg.order_id || '';
            trSlots(r, 'sale.ordered', {
                title: el('span', { translate: 'no', text: itemName(title, sku) }),
                price: el('span', { class: 'price', dataset: { cents: String(cents), currency } }, formatPrice(cents, currency)),
            });
        } else {
            tr(r, ...refusal(msg.error, msg.code));
        }
        this.tick();
    }
}
