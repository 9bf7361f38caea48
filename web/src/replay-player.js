// replay-player.js — a recorded live (`/media/{room}/replay/{period}.mpd`) in dash.js, with
// its product cards shown at their moment. The VOD MPD carries the live's events as an
// `EventStream` (scheme urn:livecart:event:2026, the payload as text); dash.js hands them
// over when the period loads (EVENT_MODE_ON_RECEIVE), and a FrameClock (viewer-sync.js)
// shows each card on the first presented frame at or after its media time. Seeking re-arms
// the cues after the new position (a card whose window contains it shows at once), so a
// card shows every time the playhead crosses its moment. `events.json` (the timeline's
// data) fills in an event dash.js did not deliver.

import { loadDash } from './viewer-player.js';
import { EVENT_SCHEME, FrameClock, decodeTimedEvent, periodStartS } from './viewer-sync.js';
import { buildCard, cardFromEvent, dismissCard } from './viewer-commerce.js';
import { Emitter } from './viewer-util.js';

const MIN_CARD_MS = 1500;

export class ReplayPlayer extends Emitter {
    /** `video`; `cardSlot`: where cards show; `room`, `period`: the recording. */
    constructor(video, cardSlot, room, period) {
        super();
        this.video = video;
        this.cardSlot = cardSlot;
        this.room = room;
        this.period = period;
        this.mpdUrl = `/media/${encodeURIComponent(room)}/replay/${encodeURIComponent(period)}.mpd`;
        this.dash = null;
        this.events = new Map(); // key (emsg id) → {key, mediaMs, durationMs, payload, source}
        this.shown = []; // [{push_id, media_ms, displayed_media_ms, shown_at, source}] (tests)
        this.card = null; // {key, node, timer}
        this.cancels = [];
        this.state = 'loading';
        this.clock = new FrameClock(video, () => this.periodStartS());
        this.clock.onSeek(() => this.schedule());
        video.muted = true;
        video.playsInline = true;
        video.addEventListener('playing', () => this.setState('playing'));
        video.addEventListener('ended', () => this.setState('ended'));
        video.addEventListener('timeupdate', () => this.emit('time', this.playheadMs()));
        video.addEventListener('durationchange', () => this.emit('duration', this.durationMs()));
    }

    setState(state) {
        if (this.state === state) return;
        this.state = state;
        this.emit('state', state);
    }

    async start() {
        let dashjs;
        try {
            dashjs = await loadDash();
        } catch (e) {
            this.setState('error');
            return;
        }
        if (!(window.MediaSource || window.ManagedMediaSource)) {
            this.setState('unsupported');
            return;
        }
        const player = dashjs.MediaPlayer().create();
        player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
        const E = dashjs.MediaPlayer.events;
        player.on(EVENT_SCHEME, (e) => {
            const ev = decodeTimedEvent(e && e.event, this.periodStartS());
            if (ev) this.addEvent(ev.emsgId, ev.mediaMs, ev.durationMs, ev.payload, 'mpd');
        }, null, { mode: E.EVENT_MODE_ON_RECEIVE });
        player.on(E.ERROR, (e) => {
            const err = (e && e.error) || {};
            this.emit('error', `${err.code ?? ''} ${err.message ?? ''}`.trim());
            this.setState('error');
        });
        this.dash = player;
        player.initialize(this.video, this.mpdUrl, true);
        const p = this.video.play();
        if (p && p.catch) p.catch(() => { /* autoplay refused: the controls are there */ });
    }

    /** The events of `events.json` (for events dash.js did not deliver). */
    addListed(events) {
        for (const e of events) this.addEvent(e.emsg_id, e.media_ms, e.duration_ms, e.payload, 'json');
    }

    addEvent(id, mediaMs, durationMs, payload, source) {
        if (!payload || payload.type !== 'product' || !Number.isFinite(mediaMs)) return;
        const key = String(id);
        const known = this.events.get(key);
        if (known && known.source === 'mpd') return;
        this.events.set(key, { key, mediaMs, durationMs: durationMs || payload.duration_ms || 0, payload, source });
        this.schedule();
    }

    periodStartS() {
        return periodStartS(this.dash);
    }

    /** The playhead's media time in ms (also while seeking, when no frame is ready). */
    playheadMs() {
        return Math.max(0, (this.video.currentTime - this.periodStartS()) * 1000);
    }

    durationMs() {
        const d = this.video.duration;
        return Number.isFinite(d) && d > 0 ? (d - this.periodStartS()) * 1000 : null;
    }

    /** Seek to media time `ms`. */
    seek(ms) {
        const t = Math.max(0, ms) / 1000 + this.periodStartS();
        if (this.dash) {
            try {
                this.dash.seek(t);
            } catch (_) {
                this.video.currentTime = t;
            }
        } else {
            this.video.currentTime = t;
        }
        if (this.video.paused) {
            const p = this.video.play();
            if (p && p.catch) p.catch(() => {});
        }
    }

    /** (Re)arm a cue for every event at or after the playhead; show the one whose window
     *  contains it. */
    schedule() {
        for (const c of this.cancels) c();
        this.cancels = [];
        const now = this.playheadMs();
        const list = [...this.events.values()].sort((a, b) => a.mediaMs - b.mediaMs);
        let current = null;
        for (const e of list) {
            if (e.mediaMs >= now) {
                this.cancels.push(this.clock.at(e.mediaMs, (frame) => this.show(e, frame.mediaMs, e.source)));
            } else if (now < e.mediaMs + Math.max(e.durationMs, MIN_CARD_MS)) {
                current = e;
            }
        }
        if (this.card && (!current || this.card.key !== current.key)) {
            const showing = this.events.get(this.card.key);
            if (!showing || now < showing.mediaMs || now >= showing.mediaMs + Math.max(showing.durationMs, MIN_CARD_MS)) this.hide();
        }
        if (current && (!this.card || this.card.key !== current.key) && this.video.seeking) {
            this.show(current, now, 'seek');
        }
    }

    show(e, frameMs, source) {
        this.hide(true);
        const card = cardFromEvent(e.payload, { mediaMs: e.mediaMs, period: this.period });
        const look = e.payload.style === 'b' || e.payload.style === 'compact' ? 'b' : 'a';
        const node = buildCard(card, look, { onClose: () => this.hide(), kicker: 'Presented now' });
        this.cardSlot.replaceChildren(node);
        requestAnimationFrame(() => node.classList.add('in'));
        const duration = Math.max(e.durationMs - Math.max(0, frameMs - e.mediaMs), MIN_CARD_MS);
        const timer = setTimeout(() => this.hide(), duration);
        this.card = { key: e.key, node, timer };
        this.shown.push({
            push_id: e.payload.push_id,
            media_ms: e.mediaMs,
            displayed_media_ms: Number.isFinite(frameMs) ? Math.round(frameMs) : null,
            shown_at: Date.now(),
            source,
        });
        this.emit('card', e);
    }

    hide(instant) {
        if (!this.card) return;
        const { node, timer } = this.card;
        clearTimeout(timer);
        this.card = null;
        this.emit('card', null);
        dismissCard(node, instant);
    }
}
