// viewer-ui.js — the small interactive pieces around the video: likes (local floating
// hearts per tap, taps merged into one `like` every 300 ms, a total that never goes
// backwards), gifts (picker and incoming banners), the online count, the connection
// indicator, toasts, the video status overlay and the display-name dialog.

import { el } from './viewer-util.js';
import { icon } from './viewer-icons.js';
import { formatCount, t, tr, untr } from './viewer-i18n.js';

const LIKE_EVERY_MS = 300;
const MAX_HEARTS = 40;

/** The gifts, each with its label's string key. */
export const GIFTS = [
    { id: 'rose', icon: 'rose', key: 'gift.rose' },
    { id: 'heart', icon: 'heart', key: 'gift.heart' },
    { id: 'rocket', icon: 'rocket', key: 'gift.rocket' },
    { id: 'crown', icon: 'crown', key: 'gift.crown' },
];

/** A gift by id: {id, icon, key (null for a gift this page does not know), label}. */
export function giftLabel(id) {
    const g = GIFTS.find((x) => x.id === id) || { id, icon: 'gift', key: null };
    return { ...g, label: g.key ? t(g.key) : String(id) };
}

/** Transient messages at the top of the screen. */
export class Toast {
    constructor(node) {
        this.node = node;
        this.timer = null;
    }
    show(text, kind = 'info', ms = 3000) {
        this.node.textContent = text;
        this.node.dataset.kind = kind;
        this.node.classList.add('show');
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.node.classList.remove('show'), ms);
    }
}

/** The like button and the like total. */
export class Likes {
    constructor({ button, count, hearts, room }) {
        this.button = button;
        this.count = count;
        this.hearts = hearts;
        this.room = room;
        this.server = 0; // the room's total as last heard
        this.pending = 0; // taps not sent yet
        this.batches = []; // [{count, at}] sent, not yet in a total we heard
        this.shown = 0;
        button.addEventListener('click', (e) => this.tap(e));
        setInterval(() => this.flush(), LIKE_EVERY_MS);
    }

    tap() {
        this.pending++;
        this.heart();
        this.button.classList.remove('pop');
        void this.button.offsetWidth; // restart the pop animation
        this.button.classList.add('pop');
        this.render();
    }

    heart() {
        if (this.hearts.childElementCount >= MAX_HEARTS) return;
        const h = el('span', { class: 'float-heart' }, icon('heart'));
        h.style.setProperty('--dx', `${Math.round((Math.random() - 0.5) * 80)}px`);
        h.style.setProperty('--hue', String(Math.round(330 + Math.random() * 60) % 360));
        h.style.setProperty('--s', String(0.8 + Math.random() * 0.6));
        h.addEventListener('animationend', () => h.remove());
        this.hearts.append(h);
    }

    flush() {
        if (!this.pending || !this.room.joined) return;
        const count = Math.min(this.pending, 1000);
        this.pending -= count;
        this.room.send({ type: 'like', count });
        this.batches.push({ count, at: performance.now() });
    }

    /** A `likes` total (or a snapshot's). */
    setTotal(total) {
        this.server = total;
        // A total that arrives a round trip or more after a batch was sent left the server
        // after the batch got there, so it includes it. Erring towards "included" is
        // harmless (the shown count never goes backwards, it just waits for the next
        // total); erring the other way would count the batch twice.
        const now = performance.now();
        const rtt = this.room.rtt ?? 100;
        this.batches = this.batches.filter((b) => now - b.at < rtt);
        this.render();
    }

    render() {
        const now = performance.now();
        // Batches nobody confirmed (lost with a dropped connection) stop counting.
        this.batches = this.batches.filter((b) => now - b.at < 5000);
        const unconfirmed = this.batches.reduce((n, b) => n + b.count, 0);
        this.shown = Math.max(this.shown, this.server + this.pending + unconfirmed);
        this.count.textContent = formatCount(this.shown);
        this.count.dataset.n = String(this.shown);
    }
}

/** The gift picker and the banners of incoming gifts. */
export class Gifts {
    constructor({ open, picker, banner, room }) {
        this.open = open;
        this.picker = picker;
        this.banner = banner;
        this.room = room;
        this.queue = [];
        this.showing = false;
        for (const g of GIFTS) {
            const b = el('button', { type: 'button', class: `gift-choice gift-${g.id}`, dataset: { gift: g.id } },
                el('span', { class: 'gift-emoji' }, icon(g.icon)), tr(el('span', { class: 'gift-name' }), g.key));
            b.addEventListener('click', () => {
                this.room.send({ type: 'gift', gift_id: g.id, count: 1 });
                this.toggle(false);
            });
            picker.append(b);
        }
        open.addEventListener('click', () => this.toggle());
        document.addEventListener('click', (e) => {
            if (!picker.hidden && !picker.contains(e.target) && !open.contains(e.target)) this.toggle(false);
        });
    }

    toggle(force) {
        const show = force ?? this.picker.hidden;
        this.picker.hidden = !show;
        this.open.setAttribute('aria-expanded', String(show));
    }

    /** An incoming `gift` frame: a short animated banner over the video. */
    onGift(msg) {
        const last = this.queue[this.queue.length - 1];
        if (last && last.user.id === msg.user.id && last.gift_id === msg.gift_id) {
            last.count += msg.count;
            return;
        }
        if (this.queue.length < 10) this.queue.push({ ...msg });
        if (!this.showing) this.next();
    }

    next() {
        const g = this.queue.shift();
        if (!g) {
            this.showing = false;
            return;
        }
        this.showing = true;
        const gift = giftLabel(g.gift_id);
        const node = el('div', { class: `gift-pop gift-${gift.id}` },
            el('span', { class: 'gift-emoji' }, icon(gift.icon)),
            el('span', { class: 'gift-who' }, el('b', { text: g.user.name, translate: 'no' }), el('span', { text: t('gift.sent', { gift: gift.label }) })),
            el('span', { class: 'gift-count', text: `×${g.count}` }));
        node.addEventListener('animationend', () => {
            node.remove();
            this.next();
        });
        this.banner.replaceChildren(node);
    }
}

/** The connection indicator: quiet unless a drop lasts. */
export function renderConn(node, state, visible) {
    node.dataset.state = state;
    node.classList.toggle('show', Boolean(visible));
    const key = {
        connecting: 'conn.connecting',
        live: 'conn.live',
        reconnecting: 'conn.reconnecting',
        offline: 'conn.offline',
    }[state] || 'conn.connecting';
    tr(node.querySelector('.conn-text'), key);
}

/** The overlay over the video for the player's state. */
export function renderVideoStatus(box, text, state) {
    box.dataset.state = state;
    box.hidden = state === 'playing';
    if (['loading', 'waiting', 'ended', 'unsupported'].includes(state)) tr(text, `status.${state}`);
    else untr(text);
}

/** Under "the live has ended", a link to its replay (`/replay/{room}/{period}`, the period
 *  that was playing) once `/media/{room}/replays` lists it; while waiting for a live, a
 *  link to the room's latest ended live, if any. */
export class ReplayLink {
    constructor(node, room, player) {
        this.node = node;
        this.room = room;
        this.player = player;
        this.timer = null;
        this.tries = 0;
        this.generation = 0;
    }

    update(state) {
        clearTimeout(this.timer);
        this.tries = 0;
        const gen = ++this.generation;
        if (state === 'ended') this.find(gen, this.player.playedPeriod || null);
        else if (state === 'waiting') this.find(gen, null);
        else this.node.hidden = true;
    }

    async find(gen, period) {
        let list = [];
        try {
            const r = await fetch(`/media/${encodeURIComponent(this.room)}/replays`, { cache: 'no-store' });
            if (r.ok) list = (await r.json()).replays || [];
        } catch (_) { /* try again below */ }
        if (gen !== this.generation) return;
        const rec = period ? list.find((x) => x.period === period) : list.filter((x) => x.ended).pop();
        if (rec) {
            this.node.href = `/replay/${encodeURIComponent(this.room)}/${encodeURIComponent(rec.period)}`;
            this.node.dataset.period = rec.period;
            tr(this.node, period ? 'replay.watch' : 'replay.last');
            this.node.hidden = false;
        } else if (this.tries++ < 20) {
            // The recording of a live that just ended is listed within moments.
            this.timer = setTimeout(() => this.find(gen, period), period ? 2000 : 10_000);
        }
    }
}
