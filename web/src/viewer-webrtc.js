// viewer-webrtc.js — the ultra-low-latency path: WebRTC playback over WHEP
// (docs/media.md, "WebRTC (WHEP)"). `WhepSession` POSTs an SDP offer (recvonly H.264 and
// Opus, plus a data channel) to /media/{room}/whep, plays the answer's stream into the
// <video>, and reads the room's timed events from the data channel: each carries the RTP
// timestamp of its frame, and the session's `hello` gives the RTP offset, so the media time
// of the frame on screen is ((rtpTimestamp − offset) mod 2³²) / 90 (unwrapped from the
// first frame's, so a 32-bit wrap changes nothing). `connect()` rejects when there is no
// first frame within `timeoutMs` (UDP blocked, no H.264, the endpoint failing): the player
// then falls back to LL-DASH. DELETE on the session's Location ends it.

import { Emitter } from './viewer-util.js';

const CLOCK = 90; // RTP ticks per ms (90 kHz)

export function webrtcSupported() {
    return typeof window.RTCPeerConnection === 'function'
        && typeof HTMLVideoElement.prototype.requestVideoFrameCallback === 'function';
}

export class WhepSession extends Emitter {
    constructor(video, url) {
        super();
        this.video = video;
        this.url = url;
        this.pc = null;
        this.location = null;
        this.hello = null; // {period, rtp_offset, start_ms}
        this.frame = null; // {mediaMs, at, currentTime}: the last presented frame
        this.closed = false;
        this.joinMs = null; // offer → first presented frame
    }

    /** Connect and resolve once the first frame is presented; reject with a reason. */
    async connect(timeoutMs) {
        const t0 = performance.now();
        const pc = this.pc = new RTCPeerConnection();
        pc.addTransceiver('video', { direction: 'recvonly' });
        pc.addTransceiver('audio', { direction: 'recvonly' });
        const dc = pc.createDataChannel('livecart');
        dc.onmessage = (m) => this.onMessage(m.data);
        // One stream of both tracks: the answer may give each its own stream id.
        const stream = new MediaStream();
        pc.ontrack = (e) => {
            stream.addTrack(e.track);
            if (this.video.srcObject !== stream) this.video.srcObject = stream;
        };
        pc.onconnectionstatechange = () => {
            const s = pc.connectionState;
            if ((s === 'failed' || s === 'disconnected' || s === 'closed') && !this.closed) this.emit('lost', s);
        };
        let timer;
        const timeout = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no picture within ${timeoutMs} ms`)), timeoutMs);
        });
        try {
            await Promise.race([this.negotiate(), timeout]);
            this.joinMs = performance.now() - t0;
        } finally {
            clearTimeout(timer);
        }
    }

    async negotiate() {
        const pc = this.pc;
        await pc.setLocalDescription(await pc.createOffer());
        const r = await fetch(this.url, {
            method: 'POST',
            headers: { 'content-type': 'application/sdp' },
            body: pc.localDescription.sdp,
        });
        const text = await r.text();
        if (r.status !== 201) {
            let why = text;
            try { why = JSON.parse(text).error || text; } catch (_) { /* plain text */ }
            throw new Error(`WHEP ${r.status}: ${why}`);
        }
        this.location = r.headers.get('location');
        if (this.closed) { this.close(); throw new Error('closed'); }
        await pc.setRemoteDescription({ type: 'answer', sdp: text });
        await new Promise((resolve) => {
            const onFrame = (now, meta) => {
                if (this.closed) return;
                this.onFrame(meta);
                if (resolve) { resolve(); resolve = null; }
                this.video.requestVideoFrameCallback(onFrame);
            };
            this.video.requestVideoFrameCallback(onFrame);
        });
    }

    onMessage(data) {
        let msg;
        try { msg = JSON.parse(data); } catch (_) { return; }
        if (!msg || typeof msg !== 'object') return;
        if (msg.type === 'hello') {
            this.hello = msg;
            return;
        }
        if (msg.type === 'event' && msg.payload && typeof msg.payload === 'object') {
            this.emit('timed', {
                emsgId: null,
                period: msg.period || (this.hello && this.hello.period) || null,
                mediaMs: Number.isFinite(msg.media_ms) ? msg.media_ms : null,
                durationMs: Number.isFinite(msg.duration_ms) ? msg.duration_ms : null,
                rtp: msg.rtp,
                payload: msg.payload,
            });
        }
    }

    /** The media time (ms) of a presented frame, from its RTP timestamp; null before the
     *  data channel's hello or without one. */
    frameMediaMs(meta) {
        const h = this.hello;
        if (!h || !meta || !Number.isFinite(meta.rtpTimestamp)) return null;
        const base = Number.isFinite(h.start_ms) ? h.start_ms : 0;
        // Ticks since the session's start frame, mod 2³², then back to ms.
        const since = ((meta.rtpTimestamp - h.rtp_offset - base * CLOCK) >>> 0) / CLOCK;
        return base + since;
    }

    onFrame(meta) {
        const ms = this.frameMediaMs(meta);
        if (ms !== null) this.frame = { mediaMs: ms, at: performance.now(), currentTime: this.video.currentTime };
    }

    /** The media time (ms) of the frame on screen now, advancing between frames. */
    nowMs() {
        const f = this.frame;
        return f ? f.mediaMs + (performance.now() - f.at) : null;
    }

    /** End the session: the peer connection and, on the server, DELETE its resource. */
    close() {
        this.closed = true;
        if (this.pc) {
            try { this.pc.close(); } catch (_) { /* closed */ }
        }
        if (this.location) {
            fetch(this.location, { method: 'DELETE', keepalive: true }).catch(() => {});
            this.location = null;
        }
    }
}
