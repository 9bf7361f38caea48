// replay-timeline.js — the bar under the replay's video: how far the replay is, and a
// marker per product event at `media_ms / duration` (from the recording's events.json).
// Hovering a marker (or focusing it) shows the product's title; tapping or clicking it
// shows the title and seeks a little before the event, so the card then appears at its
// moment. Tapping the bar elsewhere seeks there. A list under the card repeats the
// markers for tapping comfortably on a phone.

import { el, formatPrice } from './viewer-util.js';

/** How far before an event a marker seeks to. */
export const LEAD_MS = 2000;
const TIP_MS = 2500;

/** "m:ss" of a media time in ms. */
export function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class Timeline {
    /** `els`: {track, played, markers, tip, cur, dur, count, list}; `seek(ms)`. */
    constructor(els, seek) {
        this.els = els;
        this.seek = seek;
        this.durationMs = null;
        this.events = [];
        this.tipTimer = null;
        els.track.addEventListener('click', (e) => {
            if (e.target.closest('.marker') || !this.durationMs) return;
            const r = els.track.getBoundingClientRect();
            const x = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
            this.seek(x * this.durationMs);
        });
        els.track.addEventListener('keydown', (e) => {
            if (!this.durationMs || (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight')) return;
            e.preventDefault();
            this.seek(this.currentMs + (e.key === 'ArrowLeft' ? -5000 : 5000));
        });
        this.currentMs = 0;
    }

    /** The product events (`events.json` items of type product), oldest first. */
    setEvents(events) {
        this.events = events
            .filter((e) => e.payload && e.payload.type === 'product' && Number.isFinite(e.media_ms))
            .sort((a, b) => a.media_ms - b.media_ms);
        this.render();
    }

    setDuration(ms) {
        if (!(ms > 0) || ms === this.durationMs) return;
        this.durationMs = ms;
        this.els.dur.textContent = clock(Math.round(ms / 1000) * 1000);
        this.render();
    }

    setTime(ms) {
        this.currentMs = ms;
        this.els.cur.textContent = clock(ms);
        const pct = this.durationMs ? Math.min(100, (ms / this.durationMs) * 100) : 0;
        this.els.played.style.width = `${pct}%`;
        this.els.track.setAttribute('aria-valuenow', String(Math.round(pct)));
        this.els.track.setAttribute('aria-valuetext', clock(ms));
    }

    /** Mark the event on screen (its marker and list row). */
    setActive(pushId) {
        for (const n of this.els.markers.children) n.classList.toggle('active', n.dataset.pushId === pushId);
        for (const n of this.els.list.children) n.classList.toggle('active', n.dataset.pushId === pushId);
    }

    render() {
        const { markers, list, count } = this.els;
        markers.replaceChildren();
        list.replaceChildren();
        count.textContent = this.events.length ? `${this.events.length} product${this.events.length === 1 ? '' : 's'}` : '';
        for (const e of this.events) {
            const p = e.payload;
            const title = p.title || p.product_id || 'Product';
            const at = clock(e.media_ms);
            if (this.durationMs) {
                const marker = el('button', {
                    class: 'marker',
                    type: 'button',
                    title,
                    'aria-label': `${title} at ${at}`,
                    dataset: { pushId: p.push_id || '', mediaMs: String(e.media_ms), title },
                });
                marker.style.left = `${Math.min(100, (e.media_ms / this.durationMs) * 100)}%`;
                marker.addEventListener('mouseenter', () => this.tip(marker, title, at));
                marker.addEventListener('focus', () => this.tip(marker, title, at));
                marker.addEventListener('mouseleave', () => this.untip());
                marker.addEventListener('blur', () => this.untip());
                marker.addEventListener('click', () => {
                    this.tip(marker, title, at, TIP_MS);
                    this.jump(e);
                });
                markers.append(marker);
            }
            const row = el('li', { class: 'product-row', dataset: { pushId: p.push_id || '', mediaMs: String(e.media_ms) } },
                el('button', { class: 'product-jump', type: 'button', onclick: () => this.jump(e) },
                    el('span', { class: 'product-time', text: at }),
                    el('span', { class: 'product-title', text: title }),
                    el('span', { class: 'product-price', text: formatPrice(p.price_cents, p.currency) })));
            list.append(row);
        }
    }

    jump(e) {
        this.seek(Math.max(0, e.media_ms - LEAD_MS));
    }

    tip(marker, title, at, ms) {
        const { tip, track } = this.els;
        clearTimeout(this.tipTimer);
        tip.replaceChildren(el('b', { text: title }), el('span', { text: ` · ${at}` }));
        tip.hidden = false;
        const r = track.getBoundingClientRect();
        const m = marker.getBoundingClientRect();
        const x = m.left + m.width / 2 - r.left;
        const half = tip.offsetWidth / 2;
        tip.style.left = `${Math.min(Math.max(x, half), r.width - half)}px`;
        if (ms) this.tipTimer = setTimeout(() => this.untip(), ms);
    }

    untip() {
        clearTimeout(this.tipTimer);
        this.els.tip.hidden = true;
    }
}
