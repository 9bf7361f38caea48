// viewer-room.js — the room's WebSocket client (docs/protocol.md, v1): hello → join, snapshot
// and frames out as events, resume after a drop ({epoch, offset}) with a growing, jittered
// delay, a 40 s silence watchdog, clock sync by ping/pong (min-RTT offset), and an outgoing
// queue paced under the server's 20 messages/s limit. Idempotent requests (claim, buy) that
// were sent but not answered are sent again, with the same key, after a reconnect.

import { Emitter } from './viewer-util.js';

const PROTOCOL_VERSION = 1;
const SILENCE_MS = 40_000; // the server pings every 25 s
const SYNC_EVERY_MS = 60_000;
const SYNC_SAMPLES_AT_CONNECT = 5;
const SYNC_SAMPLES_LATER = 3;
const SYNC_GAP_MS = 250;
const RATE_PER_S = 15; // the server allows 20/s with bursts of 40: stay under it
const BURST = 10;
const QUEUE_MAX = 300;
const INDICATOR_AFTER_MS = 2000;

/** Errors after which retrying is pointless. */
const FATAL = new Set(['unknown_room', 'version']);

export class Room extends Emitter {
    /** `room`: room id; `identity`: an Identity (see viewer-identity.js). */
    constructor(room, identity) {
        super();
        this.room = room;
        this.identity = identity;
        this.ws = null;
        this.state = 'connecting'; // connecting | live | reconnecting | offline
        this.joined = false;
        this.user = null;
        this.epoch = null;
        this.offset = 0;
        this.reconnects = 0;
        this.attempt = 0;
        this.everJoined = false;
        this.stopped = false;
        this.clockOffset = 0; // server ≈ Date.now() + clockOffset
        this.rtt = null;
        this.clockSamples = 0; // pong samples taken in total
        this.queue = []; // [{msg, key?}] waiting to be sent
        this.inflight = new Map(); // key → msg: idempotent requests sent, not yet answered
        this.tokens = BURST;
        this.lastRefill = performance.now();
        this.pumpTimer = null;
        this.lastHeard = performance.now();
        this.syncRound = null; // {left, best}
        this.syncTimer = null;
        this.indicatorTimer = null;
        this.showIndicator = false;
        setInterval(() => this.watchdog(), 5000);
        addEventListener('online', () => {
            if (!this.joined && !this.stopped) this.reconnectNow();
        });
    }

    /** Server wall-clock time now (Unix ms), from the synced clock offset. */
    serverNow() {
        return Math.round(Date.now() + this.clockOffset);
    }

    start() {
        this.connect();
    }

    // ---- sending ------------------------------------------------------------------------

    /** Queue a message; sent in order, paced, once joined. `key` marks an idempotent
     *  request (claim/buy) that must be answered: settle(key) when its result arrives. */
    send(msg, key) {
        if (key) this.inflight.set(key, { msg, sent: false });
        this.queue.push({ msg, key });
        if (this.queue.length > QUEUE_MAX) {
            // Drop the oldest droppable message (never an idempotent request).
            const i = this.queue.findIndex((q) => !q.key);
            if (i >= 0) this.queue.splice(i, 1);
        }
        this.pump();
    }

    /** An idempotent request got its answer. */
    settle(key) {
        this.inflight.delete(key);
    }

    pump() {
        if (this.pumpTimer) return;
        while (this.queue.length && this.joined && this.ws && this.ws.readyState === WebSocket.OPEN) {
            const now = performance.now();
            this.tokens = Math.min(BURST, this.tokens + ((now - this.lastRefill) / 1000) * RATE_PER_S);
            this.lastRefill = now;
            if (this.tokens < 1) {
                const wait = Math.ceil(((1 - this.tokens) / RATE_PER_S) * 1000);
                this.pumpTimer = setTimeout(() => { this.pumpTimer = null; this.pump(); }, wait);
                return;
            }
            this.tokens -= 1;
            const { msg, key } = this.queue.shift();
            this.raw(msg);
            if (key && this.inflight.has(key)) this.inflight.get(key).sent = true;
        }
    }

    raw(msg) {
        try {
            this.ws.send(JSON.stringify(msg));
        } catch (e) {
            console.warn('send failed', e);
        }
    }

    // ---- connection ---------------------------------------------------------------------

    setState(state) {
        if (this.state === state) return;
        this.state = state;
        if (state === 'reconnecting') {
            // Only a drop that lasts is worth telling the viewer about.
            if (!this.indicatorTimer) {
                this.indicatorTimer = setTimeout(() => {
                    this.indicatorTimer = null;
                    this.showIndicator = this.state !== 'live';
                    this.emit('state', this.state, this.showIndicator);
                }, INDICATOR_AFTER_MS);
            }
        } else {
            clearTimeout(this.indicatorTimer);
            this.indicatorTimer = null;
            this.showIndicator = state === 'offline';
        }
        this.emit('state', state, this.showIndicator);
    }

    async connect() {
        if (this.stopped) return;
        this.setState(this.everJoined ? 'reconnecting' : 'connecting');
        let auth;
        try {
            auth = await this.identity.ensure();
        } catch (e) {
            if (e.status === 404) return this.fatal('unknown_room', 'This live room does not exist.');
            return this.scheduleReconnect();
        }
        const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
        const ws = new WebSocket(`${proto}//${location.host}/ws`);
        this.ws = ws;
        this.joined = false;
        let refused = null;
        ws.onopen = () => {
            this.lastHeard = performance.now();
            this.raw({ type: 'hello', v: PROTOCOL_VERSION, token: auth.token, device: this.identity.device });
            const join = { type: 'join', room: this.room };
            if (this.epoch) join.resume = { epoch: this.epoch, offset: this.offset };
            this.raw(join);
            // Messages are handled in order and a failed join closes the socket, so the
            // answer to this ping proves the join (a resume with nothing missed is silent).
            this.startSync(SYNC_SAMPLES_AT_CONNECT);
        };
        ws.onmessage = (ev) => {
            if (ws !== this.ws) return;
            this.lastHeard = performance.now();
            let msg;
            try { msg = JSON.parse(ev.data); } catch (_) { return; }
            if (msg && msg.type === 'error' && !this.joined) refused = msg;
            this.handle(msg);
        };
        ws.onclose = (ev) => {
            if (ws !== this.ws) return;
            this.ws = null;
            const wasJoined = this.joined;
            this.joined = false;
            clearTimeout(this.syncTimer);
            this.syncRound = null;
            // Clock pings are worthless on the next connection.
            this.queue = this.queue.filter((q) => q.msg.type !== 'ping');
            if (this.stopped) return;
            const code = refused && refused.code;
            if (FATAL.has(code)) return this.fatal(code, refused.message);
            if (code === 'invalid_token') {
                this.identity.invalidate();
                this.emit('token_refused', refused.message);
                return this.scheduleReconnect(50);
            }
            this.emit('closed', { code: ev.code, reason: ev.reason, wasJoined });
            this.scheduleReconnect();
        };
    }

    fatal(code, message) {
        this.stopped = true;
        this.setState('offline');
        this.emit('fatal', code, message);
    }

    scheduleReconnect(delayMs) {
        if (this.stopped) return;
        if (this.everJoined) this.setState('reconnecting');
        const base = Math.min(15_000, 250 * 2 ** this.attempt);
        const delay = delayMs ?? Math.round(base * (0.5 + Math.random()));
        this.attempt++;
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.connect(), delay);
    }

    reconnectNow() {
        this.attempt = 0;
        clearTimeout(this.retryTimer);
        if (this.ws) this.ws.close();
        else this.connect();
    }

    watchdog() {
        if (this.ws && performance.now() - this.lastHeard > SILENCE_MS) {
            // Half-open connection: nothing heard (not even the server's 25 s ping).
            const ws = this.ws;
            this.ws = null;
            this.joined = false;
            try { ws.close(); } catch (_) { /* ignore */ }
            this.emit('closed', { code: 0, reason: 'silent', wasJoined: true });
            this.scheduleReconnect(0);
        }
    }

    onJoined() {
        if (this.joined) return;
        this.joined = true;
        this.attempt = 0;
        if (this.everJoined) this.reconnects++;
        const first = !this.everJoined;
        this.everJoined = true;
        // Requests sent on the old connection and never answered: send them again with the
        // same key (the server answers a repeated key with the original result).
        const resend = [];
        for (const [key, entry] of this.inflight) {
            if (entry.sent && !this.queue.some((q) => q.key === key)) resend.push({ msg: entry.msg, key });
        }
        this.queue.unshift(...resend);
        this.setState('live');
        this.emit('joined', { first });
        this.pump();
    }

    // ---- clock sync -----------------------------------------------------------------------

    startSync(samples) {
        clearTimeout(this.syncTimer);
        this.syncRound = { left: samples, best: null };
        this.pingOnce(true);
    }

    pingOnce(direct) {
        const msg = { type: 'ping', client_ms: Date.now() };
        // The first ping goes straight after join (it doubles as the join confirmation).
        if (direct) this.raw(msg);
        else this.send(msg);
    }

    onPong(msg) {
        const t1 = Date.now();
        const t0 = msg.client_ms;
        const rtt = t1 - t0;
        if (!(rtt >= 0)) return;
        const offset = msg.server_ms - (t0 + t1) / 2;
        this.clockSamples++;
        const round = this.syncRound;
        if (round) {
            if (!round.best || rtt < round.best.rtt) round.best = { rtt, offset };
            // Use the best sample so far right away; the round's best wins at its end.
            if (this.clockSamples <= SYNC_SAMPLES_AT_CONNECT || round.left <= 1) {
                this.clockOffset = round.best.offset;
                this.rtt = round.best.rtt;
            }
            round.left--;
            if (round.left > 0) {
                this.syncTimer = setTimeout(() => this.pingOnce(false), SYNC_GAP_MS);
            } else {
                this.syncRound = null;
                this.emit('clock', this.clockOffset, this.rtt);
                this.syncTimer = setTimeout(() => this.startSyncLater(), SYNC_EVERY_MS);
            }
        }
    }

    startSyncLater() {
        if (!this.joined) return;
        this.syncRound = { left: SYNC_SAMPLES_LATER, best: null };
        this.pingOnce(false);
    }

    // ---- incoming -------------------------------------------------------------------------

    handle(msg) {
        if (!msg || typeof msg.type !== 'string') return;
        if (typeof msg.o === 'number' && msg.o > this.offset) this.offset = msg.o;
        switch (msg.type) {
        case 'welcome':
            this.user = msg.user;
            if (!this.clockSamples && msg.server_ms) this.clockOffset = msg.server_ms - Date.now();
            this.emit('welcome', msg.user);
            return;
        case 'snapshot': {
            const resumed = this.everJoined;
            this.epoch = msg.epoch;
            this.offset = msg.offset;
            this.onJoined();
            this.emit('snapshot', msg, { resumed });
            return;
        }
        case 'pong':
            this.onJoined();
            this.onPong(msg);
            return;
        case 'ping':
            return; // server keep-alive: no answer
        default:
            // Frames replayed on resume arrive before the pong that confirms the join.
            if (msg.type !== 'error') this.onJoined();
            this.emit(msg.type, msg);
        }
    }
}
