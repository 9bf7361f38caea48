// viewer-sync.js — showing things at their moment in the video (docs/protocol.md, "Media
// time"; docs/media.md, "Timed events").
//
// - `FrameClock` watches a <video>: the media time of the frame on screen, and cues that
//   fire on the first presented frame at or after a media time. With
//   `requestVideoFrameCallback` that is frame-accurate (the callback gets each presented
//   frame's `mediaTime`); without it, `currentTime` is polled every 25 ms and on
//   `timeupdate`.
// - `Moments` holds commerce events (cards, coupon unlocks, flash-sale starts) until the
//   playhead reaches their `media_ms`, in media-time order. What is shown at once: events
//   without a media time, of another period than the one playing, or more than their
//   duration in the past. An event whose moment does not come within a bounded wait
//   (the time the playhead needs to get there, at least the live latency, plus 3 s: the
//   video stalled or stopped) is shown anyway.
// - `decodeTimedEvent` turns a dash.js event of the scheme `urn:livecart:event:2026` (in-band
//   `emsg`, whose message is bytes, or an MPD `EventStream` Event, whose message is text)
//   into `{emsgId, period, mediaMs, durationMs, payload}`.
//
// Media time is the period's presentation timeline in ms: the MPD Period starts at 0 and
// its presentationTimeOffset maps the segments' tfdt so that dash.js's period-relative
// time (`video.currentTime` minus the period start, also a frame's `mediaTime`) is
// `media_ms / 1000`.

export const EVENT_SCHEME = 'urn:livecart:event:2026';

/** Where dash.js's playing period starts on the video's timeline, in seconds (0 for
 *  livecart's MPDs, whose Periods start at 0; also 0 without a player). */
export function periodStartS(dash) {
    if (!dash) return 0;
    try {
        const stream = dash.getActiveStream && dash.getActiveStream();
        const start = stream && stream.getStreamInfo().start;
        return Number.isFinite(start) ? start : 0;
    } catch (_) {
        return 0;
    }
}

/** How long past its moment an event still counts as due rather than missed. */
const DEFAULT_DURATION_MS = 8000;
/** Extra wait for a moment that does not come (stall, stopped video). */
const GRACE_MS = 3000;
/** Longest wait for a moment, however far ahead it is. */
const MAX_WAIT_MS = 30_000;
/** Frame times are rounded to the µs by the browser: allow half a ms. */
const EPSILON_MS = 0.5;
const POLL_MS = 25;

const utf8 = new TextDecoder();

/** A dash.js event (`e.event` of a `player.on(EVENT_SCHEME, …)` callback) as a timed event;
 *  null when its message is not JSON. `periodStartS`: the period's start on the video's
 *  timeline (0 for livecart's MPDs). */
export function decodeTimedEvent(ev, periodStartS = 0) {
    if (!ev) return null;
    let text = ev.messageData;
    if (text instanceof ArrayBuffer) text = new Uint8Array(text);
    if (ArrayBuffer.isView(text)) text = utf8.decode(text);
    if (typeof text !== 'string') return null;
    let payload;
    try { payload = JSON.parse(text); } catch (_) { return null; }
    if (!payload || typeof payload !== 'object') return null;
    const fromTime = Math.round((Number(ev.calculatedPresentationTime) - periodStartS) * 1000);
    const mediaMs = Number.isFinite(payload.media_ms) ? payload.media_ms : fromTime;
    const stream = ev.eventStream || {};
    return {
        emsgId: ev.id,
        period: (stream.period && stream.period.id) || null,
        mediaMs: Number.isFinite(mediaMs) ? mediaMs : null,
        durationMs: Number.isFinite(ev.duration) ? Math.round(ev.duration * 1000) : null,
        payload,
    };
}

export class FrameClock {
    /** `video`: the <video>; `periodStartS()`: where the playing period starts on the
     *  video's timeline, in seconds; `frameMs(meta)`: a presented frame's media time when
     *  the player knows it better than `meta.mediaTime` (WebRTC: from its RTP timestamp),
     *  else null. */
    constructor(video, periodStartS = () => 0, frameMs = () => null) {
        this.video = video;
        this.periodStartS = periodStartS;
        this.frameMs = frameMs;
        this.rvfc = typeof video.requestVideoFrameCallback === 'function';
        this.cues = []; // [{ms, fn}], sorted by ms
        this.frame = null; // {ms, at}: the last presented frame (rVFC), at = performance.now()
        this.handle = null;
        this.poll = null;
        this.seekHandlers = new Set();
        video.addEventListener('seeking', () => {
            this.frame = null;
            for (const fn of this.seekHandlers) fn();
        });
        video.addEventListener('emptied', () => { this.frame = null; });
        video.addEventListener('timeupdate', () => {
            if (!this.rvfc && this.cues.length) this.check(this.currentMs(), 'poll');
        });
    }

    /** The video's current media time in ms (float), or null before it has a frame. */
    currentMs() {
        const v = this.video;
        if (v.readyState < 2) return null;
        return (v.currentTime - (this.periodStartS() || 0)) * 1000;
    }

    /** The media time (ms, float) of the frame on screen now: the last presented frame while
     *  frames come (rVFC), else the playhead. Null without video. */
    nowMs() {
        const f = this.frame;
        if (f && !this.video.paused && performance.now() - f.at < 100) return f.ms;
        return this.currentMs();
    }

    /** Call `fn({mediaMs, via})` on the first presented frame whose media time is ≥ `ms`
     *  (`mediaMs`: that frame's media time; `via`: 'frame' or 'poll'). Returns a cancel
     *  function. */
    at(ms, fn) {
        const cue = { ms, fn };
        let i = this.cues.length;
        while (i > 0 && this.cues[i - 1].ms > ms) i--;
        this.cues.splice(i, 0, cue);
        this.arm();
        return () => {
            const j = this.cues.indexOf(cue);
            if (j >= 0) this.cues.splice(j, 1);
        };
    }

    /** Drop every cue. */
    clear() {
        this.cues = [];
    }

    onSeek(fn) {
        this.seekHandlers.add(fn);
    }

    arm() {
        if (!this.cues.length) return;
        if (this.rvfc) {
            if (this.handle === null) {
                this.handle = this.video.requestVideoFrameCallback((now, meta) => this.onFrame(meta));
            }
        } else if (!this.poll) {
            this.poll = setInterval(() => {
                if (!this.cues.length) {
                    clearInterval(this.poll);
                    this.poll = null;
                    return;
                }
                if (!this.video.paused) this.check(this.currentMs(), 'poll');
            }, POLL_MS);
        }
    }

    onFrame(meta) {
        this.handle = null;
        const own = this.frameMs(meta);
        const ms = own ?? (meta.mediaTime - (this.periodStartS() || 0)) * 1000;
        this.frame = { ms, at: performance.now() };
        this.check(ms, 'frame');
        this.arm();
    }

    check(ms, via) {
        if (ms === null || !Number.isFinite(ms)) return;
        while (this.cues.length && this.cues[0].ms <= ms + EPSILON_MS) {
            const cue = this.cues.shift();
            try { cue.fn({ mediaMs: ms, via }); } catch (e) { console.error('cue:', e); }
        }
    }
}

/**
 * Commerce events held until their moment. `opts`:
 *   clock: a FrameClock;
 *   playingPeriod(): the period id the video is playing (or about to), null when none
 *     (not live, HLS, ended): then nothing can be held;
 *   latencyMs(): the live latency, for the bounded wait (null: unknown).
 */
export class Moments {
    constructor(opts) {
        this.clock = opts.clock;
        this.playingPeriod = opts.playingPeriod;
        this.latencyMs = opts.latencyMs || (() => null);
        this.pending = new Map(); // key → item
        this.done = new Set(); // keys shown
    }

    /** Is `key` waiting for its moment, or already shown? */
    state(key) {
        if (this.done.has(key)) return 'shown';
        return this.pending.has(key) ? 'held' : null;
    }

    get(key) {
        return this.pending.get(key) || null;
    }

    /**
     * An event copy: `item` = {mediaMs, period, durationMs, source ('ws'|'emsg'), show(info)}.
     * `show` gets {mediaMs: the presented frame's media time (null when not comparable),
     * source: 'emsg'|'ws'|'immediate', reason?}. A later copy of a held event updates
     * it: the in-band copy decides when (its media time), the WebSocket one only prefetches
     * when an in-band copy came first. Returns 'shown', 'held' or 'duplicate'.
     */
    hold(key, item) {
        if (this.done.has(key)) return 'duplicate';
        const held = this.pending.get(key);
        if (held) {
            if (item.source === 'emsg' && held.source !== 'emsg') {
                held.source = 'emsg';
                if (item.show) held.show = item.show;
                if (Number.isFinite(item.mediaMs) && item.mediaMs !== held.mediaMs) {
                    held.cancel();
                    held.mediaMs = item.mediaMs;
                    this.arm(key, held);
                }
            }
            return 'held';
        }
        const playing = this.playingPeriod();
        const mediaMs = Number.isFinite(item.mediaMs) ? item.mediaMs : null;
        const duration = item.durationMs || DEFAULT_DURATION_MS;
        if (mediaMs === null || !playing || (item.period && item.period !== playing)) {
            this.showNow(key, item, mediaMs === null ? 'no media time' : 'other period');
            return 'shown';
        }
        const now = this.clock.nowMs();
        if (now !== null && now > mediaMs + duration) {
            this.showNow(key, item, 'past');
            return 'shown';
        }
        const entry = { ...item, mediaMs, key, cancel: () => {}, timer: null };
        this.pending.set(key, entry);
        this.arm(key, entry);
        return 'held';
    }

    arm(key, entry) {
        const cancelCue = this.clock.at(entry.mediaMs, (frame) => this.fire(key, frame.mediaMs));
        const now = this.clock.nowMs();
        const ahead = now === null ? 0 : Math.max(0, entry.mediaMs - now);
        const wait = Math.min(MAX_WAIT_MS, Math.max(ahead, this.latencyMs() || 0)) + GRACE_MS;
        clearTimeout(entry.timer);
        entry.timer = setTimeout(() => this.expire(key), wait);
        entry.cancel = () => {
            cancelCue();
            clearTimeout(entry.timer);
        };
    }

    /** The moment came: show everything held up to it, in media-time order. */
    fire(key, frameMs) {
        const entry = this.pending.get(key);
        if (!entry) return;
        const before = [...this.pending.values()]
            .filter((e) => e.mediaMs <= entry.mediaMs)
            .sort((a, b) => a.mediaMs - b.mediaMs);
        for (const e of before) this.release(e, { mediaMs: frameMs, source: e.source });
    }

    /** The moment did not come in time: show it (and what was held before it) now. */
    expire(key) {
        const entry = this.pending.get(key);
        if (!entry) return;
        const before = [...this.pending.values()]
            .filter((e) => e.mediaMs <= entry.mediaMs)
            .sort((a, b) => a.mediaMs - b.mediaMs);
        for (const e of before) {
            this.release(e, { mediaMs: this.comparableNow(e.period), source: 'immediate', reason: 'timeout' });
        }
    }

    release(entry, info) {
        entry.cancel();
        this.pending.delete(entry.key);
        this.done.add(entry.key);
        entry.show(info);
    }

    showNow(key, item, reason) {
        this.done.add(key);
        item.show({ mediaMs: this.comparableNow(item.period), source: 'immediate', reason });
    }

    /** The frame on screen, when it is on the event's timeline (same period). */
    comparableNow(period) {
        const playing = this.playingPeriod();
        if (!playing || !period || period !== playing) return null;
        return this.clock.nowMs();
    }

    /** Forget a held event (e.g. a flash sale ended before its start was shown). */
    drop(key) {
        const entry = this.pending.get(key);
        if (!entry) return false;
        entry.cancel();
        this.pending.delete(key);
        this.done.add(key);
        return true;
    }
}
