// viewer-card.js — a product card's DOM, as the viewer page and the replay page show it
// (look 'a', a sheet with a big image; look 'b', a compact pill), its leaving animation,
// and a card rebuilt from a timed event's payload (the in-band copy). Product texts are
// the shop's content: text nodes only, marked translate="no".

import { el } from './viewer-util.js';
import { icon } from './viewer-icons.js';
import { formatPrice, has, tr, trAttr } from './viewer-i18n.js';

const DEFAULT_DURATION_MS = 8000;

/** Take a card off the screen: at once, or with its leaving animation (300 ms). */
export function dismissCard(node, instant) {
    if (instant) {
        node.remove();
        return;
    }
    node.classList.remove('in');
    node.classList.add('out');
    setTimeout(() => node.remove(), 300);
}

/** A card's DOM (detached: the caller puts it in the page). `look`: 'a' (a sheet with a
 *  big image) or 'b' (a compact pill); `onBuy()`: the buy link was clicked (it opens the
 *  shop itself); `onClose()`: the close button (none without it); `kicker`: a string key
 *  (or a text) for the line above the title (default: "now presenting", or "recommended" for a
 *  plugin's card). */
export function buildCard(card, look, { onBuy, onClose, kicker } = {}) {
    const p = card.product || {};
    const img = el('img', { class: 'card-img', alt: '', loading: 'eager', decoding: 'async', referrerpolicy: 'no-referrer' });
    img.addEventListener('error', () => node.classList.add('no-img'));
    if (p.image_url) img.src = p.image_url;
    const buy = tr(el('a', { class: 'buy', href: p.buy_url || '#', target: '_blank', rel: 'noopener noreferrer' }), 'card.buy');
    if (onBuy) buy.addEventListener('click', onBuy);
    let close = null;
    if (onClose) {
        close = trAttr(el('button', { class: 'card-close', type: 'button' }, '×'), 'aria-label', 'card.close');
        close.addEventListener('click', onClose);
    }
    const titleId = `card-title-${String(card.push_id || '').replace(/[^\w-]/g, '')}`;
    const title = p.title || p.id
        ? el('div', { class: 'title', id: titleId, translate: 'no', text: p.title || p.id })
        : tr(el('div', { class: 'title', id: titleId }), 'card.product');
    const price = el('div', { class: 'price', dataset: { cents: String(p.price_cents || 0), currency: p.currency || 'CNY' } },
        formatPrice(p.price_cents, p.currency));
    const info = el('div', { class: 'card-info' },
        kicker && !has(kicker)
            ? el('div', { class: 'card-kicker', text: kicker })
            : tr(el('div', { class: 'card-kicker' }), kicker || (card.source && card.source !== 'host' ? 'card.recommended' : 'card.presenting')),
        title, price);
    if (look === 'a' && p.description) info.append(el('p', { class: 'desc', translate: 'no', text: p.description }));
    if (look === 'a' && Number.isFinite(p.stock) && p.stock > 0 && p.stock <= 50) {
        info.append(tr(el('div', { class: 'card-stock' }), 'card.only', { n: p.stock }));
    }
    const node = el('div', {
        class: `card card--${look}${p.image_url ? '' : ' no-img'}`,
        role: 'dialog',
        'aria-labelledby': titleId,
        dataset: { pushId: card.push_id, product: p.id || '', variant: look, style: card.style || '' },
    }, el('div', { class: 'card-media' }, img, el('span', { class: 'card-ph' }, icon('bag'))), info, buy, close);
    return node;
}

/** A card from a timed event's payload (the in-band copy: the product's main fields). */
export function cardFromEvent(p, ev = {}) {
    return {
        push_id: p.push_id,
        product: {
            id: p.product_id,
            title: p.title,
            price_cents: p.price_cents,
            currency: p.currency,
            image_url: p.image_url || '',
            buy_url: p.buy_url || '',
        },
        style: p.style ?? null,
        duration_ms: p.duration_ms || ev.durationMs || DEFAULT_DURATION_MS,
        server_ms: p.server_ms,
        media_ms: Number.isFinite(ev.mediaMs) ? ev.mediaMs : p.media_ms,
        period: ev.period || null,
        source: p.source || 'host',
        partial: true, // the WebSocket copy has the full product
    };
}

/** Re-format the prices of cards on screen (after a language switch). */
export function reformatPrices(root) {
    for (const node of root.querySelectorAll('.price[data-cents]')) {
        node.textContent = formatPrice(Number(node.dataset.cents), node.dataset.currency);
    }
}
