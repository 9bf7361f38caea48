// viewer-player.js — the live video: dash.js (loaded on demand from /assets/dash.all.min.js)
// on /media/{room}/live.mpd in low-latency mode with throughput-based ABR, or native HLS
// (/media/{room}/master.m3u8, LL-HLS) where MSE is missing; `?player=hls` picks hls.js
// (/assets/hls.min.js, lowLatencyMode) on the LL-HLS playlists instead of dash.js. On HLS
// the media clock comes from EXT-X-PROGRAM-DATE-TIME: the playing date minus the live's
// availabilityStartTime (read from the live MPD) is the media time, so cards are held
// to their frame on HLS as on DASH. Waits for the host while the MPD is
// 404, notices the end of the live, counts stalls, reports the live latency, and handles
// muted autoplay (the page shows an unmute button). Timed events in the stream (`emsg`
// of the scheme urn:livecart:event:2026) come out as 'timed' events as soon as their chunk
// is loaded, ahead of their moment (see viewer-sync.js).
//
// A room whose host chose the `ultra-low` latency mode (GET /api/rooms/{room}/playback;
// `?player=webrtc` forces it) plays over WebRTC (viewer-webrtc.js) where the browser can;
// when WebRTC does not give a picture within WEBRTC_CONNECT_MS (UDP blocked, no H.264, the
// endpoint failing) the page falls back to LL-DASH for the rest of its life and says so
// (`via`, the 'mode' event). Cards then come from the data channel, held to their frame by
// RTP time.

import { Emitter } from './viewer-util.js';
import { EVENT_SCHEME, decodeTimedEvent, periodStartS } from './viewer-sync.js';
import { WhepSession, webrtcSupported } from './viewer-webrtc.js';

const RETRY_MS = 3000;
/** How long WebRTC may take to show a first frame before the page falls back to LL-DASH. */
export const WEBRTC_CONNECT_MS = 4000;
const ENDED_RETRY_MS = 5000;

const loading = new Map(); // script URL → promise of its global
/** Load a classic script once and resolve with the global it defines (`name`). */
function loadScript(src, name) {
    if (window[name]) return Promise.resolve(window[name]);
    if (!loading.has(src)) {
        loading.set(src, new Promise((resolve, reject) => {
            const s = document.createElement('script');
            s.src = src;
            s.onload = () => resolve(window[name]);
            s.onerror = () => { loading.delete(src); reject(new Error(`${src} failed to load`)); };
            document.head.append(s);
        }));
    }
    return loading.get(src);
}

/** dash.js (the global `dashjs`). */
export const loadDash = () => loadScript('/assets/dash.all.min.js', 'dashjs');
/** hls.js (the global `Hls`). */
export const loadHls = () => loadScript('/assets/hls.min.js', 'Hls');

/** Which engine this browser can use: 'dash', 'hlsjs' (with MSE, when `preferred` is
 *  'hls'), 'hls' (native) or null. */
export function pickEngine(video, preferred) {
    const mse = window.MediaSource || window.ManagedMediaSource;
    if (mse && preferred === 'hls') return 'hlsjs';
    if (mse) return 'dash';
    if (video.canPlayType('application/vnd.apple.mpegurl')) return 'hls';
    return null;
}

export class Player extends Emitter {
    /** `video`: the <video>; `room`: room id; `serverNow`: () => server Unix ms;
     *  `preferred`: 'hls' to play LL-HLS with hls.js where dash.js would be used. */
    constructor(video, room, serverNow, preferred = null) {
        super();
        this.video = video;
        this.room = room;
        this.serverNow = serverNow;
        this.mpdUrl = `/media/${encodeURIComponent(room)}/live.mpd`;
        this.hlsUrl = `/media/${encodeURIComponent(room)}/master.m3u8`;
        this.engine = pickEngine(video, preferred);
        this.preferred = preferred;
        this.whepUrl = `/media/${encodeURIComponent(room)}/whep`;
        this.latencyMode = preferred === 'webrtc' ? 'ultra-low' : 'standard';
        this.whep = null; // the WhepSession playing
        this.webrtcFailed = null; // why WebRTC did not play (the page stays on LL-DASH)
        this.via = null; // what plays now: 'webrtc' | 'dash' | 'hls' | 'hlsjs'
        this.dash = null;
        this.hls = null; // the hls.js instance
        this.astMs = null; // the live's availabilityStartTime (HLS: PDT → media time)
        this.state = 'loading'; // loading | waiting | playing | ended | unsupported
        this.started = false; // playback has started (for counting stalls)
        this.everPlayed = false;
        this.stalls = 0;
        this.latency = null;
        this.targetS = 1.5;
        this.period = null; // the period of the live MPD being played (or about to be)
        this.playedPeriod = null; // the last period played (or seen ending): its replay
        this.probeTimer = null;
        this.errors = [];
        this.switches = []; // [{at, from, to, height}] video rung changes
        video.muted = true;
        video.playsInline = true;
        video.autoplay = true;
        if (!window.MediaSource && window.ManagedMediaSource) video.disableRemotePlayback = true;
        video.addEventListener('playing', () => {
            this.started = true;
            this.everPlayed = true;
            if (this.period && (this.dash || this.isHls() || this.whep)) this.playedPeriod = this.period;
            this.setState('playing');
            this.emit('playing');
        });
        video.addEventListener('waiting', () => {
            if (this.started) {
                this.stalls++;
                this.emit('stall', this.stalls);
            }
        });
        video.addEventListener('ended', () => this.onEnded());
        video.addEventListener('volumechange', () => this.emit('muted', video.muted));
        setInterval(() => this.sampleLatency(), 500);
    }

    setState(state, detail) {
        if (this.state === state) return;
        this.state = state;
        this.emit('state', state, detail);
    }

    start() {
        if (!this.engine) {
            this.setState('unsupported');
            return;
        }
        this.loadMode().finally(() => this.probe());
    }

    /** The room's latency mode, as its host set it. */
    async loadMode() {
        if (this.preferred) return;
        try {
            const r = await fetch(`/api/rooms/${encodeURIComponent(this.room)}/playback`, { cache: 'no-store' });
            if (r.ok) this.latencyMode = (await r.json()).latency_mode || 'standard';
        } catch (_) { /* standard */ }
    }

    /** Play over WebRTC: the room is ultra-low, the browser can, and it has not failed. */
    wantsWebrtc() {
        return this.latencyMode === 'ultra-low' && !this.webrtcFailed && webrtcSupported()
            && (this.preferred === null || this.preferred === 'webrtc');
    }

    /** Is the live there? 404: not yet (or not any more); an MPD with a duration and no
     *  update period: the live has ended. Otherwise start playing it. */
    async probe() {
        clearTimeout(this.probeTimer);
        let status = 0;
        let text = '';
        try {
            const r = await fetch(this.isHls() ? this.hlsUrl : this.mpdUrl, { cache: 'no-store' });
            status = r.status;
            if (r.ok) text = await r.text();
        } catch (_) {
            status = 0;
        }
        if (status === 200 && this.isHls()) {
            // The period and its availability start (for the media clock) are in the MPD.
            try {
                const r = await fetch(this.mpdUrl, { cache: 'no-store' });
                const info = r.ok ? parseMpd(await r.text()) : {};
                this.period = info.period || null;
                this.astMs = Number.isFinite(info.astMs) ? info.astMs : null;
            } catch (_) { this.period = null; this.astMs = null; }
            if (this.engine === 'hls') this.startHls();
            else this.startHlsJs().catch((e) => {
                this.errors.push(String(e.message || e));
                this.retry(RETRY_MS);
            });
            return;
        }
        if (status === 200) {
            const info = parseMpd(text);
            if (info.ended) {
                // A finished live whose MPD is still served: wait for a new live.
                if (info.period) this.playedPeriod = info.period; // the live that ended
                this.setState('ended');
                this.probeTimer = setTimeout(() => this.probe(), ENDED_RETRY_MS);
                return;
            }
            this.period = info.period;
            this.targetS = info.targetS;
            this.astMs = Number.isFinite(info.astMs) ? info.astMs : null;
            if (this.wantsWebrtc()) {
                this.startWebrtc();
                return;
            }
            this.startDash(info.targetS).catch((e) => {
                this.errors.push(String(e.message || e));
                this.retry(RETRY_MS);
            });
            return;
        }
        // 404: not live yet, or (once we played) not any more. Keep looking: the host may
        // come back (a new live). A network failure changes nothing shown.
        if (status === 404) this.setState(this.everPlayed ? 'ended' : 'waiting');
        else if (this.state === 'loading' && !this.everPlayed) this.setState('waiting');
        this.probeTimer = setTimeout(() => this.probe(), this.state === 'ended' ? ENDED_RETRY_MS : RETRY_MS);
    }

    /** WebRTC over WHEP; LL-DASH when it gives no picture in time. */
    async startWebrtc() {
        this.teardown();
        this.setState('loading');
        const s = new WhepSession(this.video, this.whepUrl);
        this.whep = s;
        this.started = false;
        s.on('timed', (ev) => this.emit('timed', ev));
        s.on('lost', () => {
            if (this.whep !== s) return;
            this.teardown();
            this.setState('loading');
            this.retry(1000);
        });
        try {
            await s.connect(WEBRTC_CONNECT_MS);
        } catch (e) {
            if (this.whep !== s) return;
            this.whep = null;
            s.close();
            this.video.srcObject = null;
            this.webrtcFailed = String(e.message || e);
            this.errors.push(`webrtc: ${this.webrtcFailed}`);
            this.emit('mode', 'dash', this.webrtcFailed);
            this.startDash(this.targetS).catch((err) => {
                this.errors.push(String(err.message || err));
                this.retry(RETRY_MS);
            });
            return;
        }
        this.via = 'webrtc';
        this.emit('mode', 'webrtc', null);
        this.tryPlay();
    }

    async startDash(targetS) {
        const dashjs = await loadDash();
        this.teardown();
        this.setState('loading');
        this.via = 'dash';
        if (this.latencyMode === 'ultra-low') this.emit('mode', 'dash', this.webrtcFailed);
        const player = dashjs.MediaPlayer().create();
        player.updateSettings({
            debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING },
            streaming: {
                // dash.js 4.7 enters its low-latency mode by itself from the MPD
                // (availabilityTimeComplete="false"); hold the MPD's target latency.
                delay: { liveDelay: targetS },
                // Catch up (playback rate within the MPD's ServiceDescription bounds) when
                // the latency drifts from the target.
                liveCatchup: { enabled: true },
                abr: {
                    autoSwitchBitrate: { video: true, audio: true },
                    // Throughput from the chunks as they arrive (moof parsing), so a weak
                    // network drops to a lower rung instead of stalling.
                    ABRStrategy: 'abrThroughput',
                    fetchThroughputCalculationMode: 'abrFetchThroughputCalculationMoofParsing',
                    // At the live edge the origin holds a request until its segment starts:
                    // that wait is not network latency, so it must not count against a rung.
                    useDeadTimeLatency: false,
                    // The dropped-frames rule bans a rung for good after a burst of dropped
                    // frames (a busy phone, a background tab); abandoning a live-edge request
                    // only loses the chunks already there.
                    additionalAbrRules: {
                        insufficientBufferRule: true,
                        switchHistoryRule: true,
                        droppedFramesRule: false,
                        abandonRequestsRule: false,
                    },
                },
            },
        });
        const E = dashjs.MediaPlayer.events;
        player.on(E.ERROR, (e) => {
            const err = (e && e.error) || {};
            this.errors.push(`${err.code ?? ''} ${err.message ?? ''}`.trim());
            // Usually the MPD went away (the live ended or the server restarted): find out.
            this.teardown();
            this.setState('loading');
            this.retry(1000);
        });
        player.on(E.PLAYBACK_ENDED, () => this.onEnded());
        // In-band events, as soon as dash.js parses their chunk (ahead of their moment; a
        // rung switch does not repeat them: dash.js drops ids it has seen).
        player.on(EVENT_SCHEME, (e) => {
            const ev = decodeTimedEvent(e && e.event, this.periodStartS());
            if (ev) this.emit('timed', { ...ev, period: ev.period || this.period });
        }, null, { mode: E.EVENT_MODE_ON_RECEIVE });
        player.on(E.QUALITY_CHANGE_RENDERED, (e) => {
            if (e.mediaType !== 'video') return;
            let height = null;
            try { height = player.getBitrateInfoListFor('video')[e.newQuality].height; } catch (_) { /* unknown */ }
            this.switches.push({ at: Date.now(), from: e.oldQuality, to: e.newQuality, height });
            this.emit('quality', e.newQuality);
        });
        this.dash = player;
        this.started = false;
        player.initialize(this.video, this.mpdUrl, true);
        this.tryPlay();
    }

    /** hls.js on the LL-HLS playlists: parts, blocking reloads, its own ABR. */
    async startHlsJs() {
        const Hls = await loadHls();
        this.teardown();
        this.setState('loading');
        // No worker: the page's CSP allows scripts from this origin only (no blob: workers).
        // hls.js plays at 1× from wherever its first part put it (which depends on the moment
        // the viewer joins: up to a segment behind its target); up to 1.5× it catches up.
        this.via = 'hlsjs';
        const hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, enableWorker: false, backBufferLength: 30 });
        hls.on(Hls.Events.ERROR, (_, data) => {
            if (!data || !data.fatal) return;
            this.errors.push(`${data.type} ${data.details}`);
            this.teardown();
            this.setState('loading');
            this.retry(1000);
        });
        hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
            const level = hls.levels[data.level];
            this.switches.push({ at: Date.now(), from: null, to: data.level, height: level ? level.height : null });
            this.emit('quality', data.level);
        });
        this.hls = hls;
        this.started = false;
        hls.loadSource(this.hlsUrl);
        hls.attachMedia(this.video);
        this.tryPlay();
    }

    isHls() {
        return this.engine === 'hls' || this.engine === 'hlsjs';
    }

    startHls() {
        this.teardown();
        this.setState('loading');
        this.started = false;
        this.via = 'hls';
        this.video.src = this.hlsUrl;
        this.tryPlay();
    }

    tryPlay() {
        const p = this.video.play();
        if (p && p.catch) {
            p.catch((e) => {
                // Autoplay refused even muted: the page offers a play button.
                if (e && e.name === 'NotAllowedError') this.emit('blocked');
            });
        }
    }

    /** Unmute (from a user gesture). */
    unmute() {
        this.video.muted = false;
        this.tryPlay();
    }

    onEnded() {
        this.teardown();
        this.setState('ended');
        clearTimeout(this.probeTimer);
        this.probeTimer = setTimeout(() => this.probe(), ENDED_RETRY_MS);
    }

    retry(ms) {
        clearTimeout(this.probeTimer);
        this.probeTimer = setTimeout(() => this.probe(), ms);
    }

    teardown() {
        this.started = false;
        if (this.whep) {
            const w = this.whep;
            this.whep = null;
            w.close();
            this.video.srcObject = null;
        }
        if (this.dash) {
            const d = this.dash;
            this.dash = null;
            try { d.reset(); } catch (_) { /* ignore */ }
        }
        if (this.hls) {
            const h = this.hls;
            this.hls = null;
            try { h.destroy(); } catch (_) { /* ignore */ }
        }
        if (this.engine === 'hls' && this.video.getAttribute('src')) {
            this.video.removeAttribute('src');
            this.video.load();
        }
    }

    sampleLatency() {
        let lat = null;
        if (this.whep && this.started) {
            const ms = this.whep.nowMs();
            if (ms !== null && this.astMs !== null) lat = (this.serverNow() - this.astMs - ms) / 1000;
        } else if (this.dash && this.started) {
            try { lat = this.dash.getCurrentLiveLatency(); } catch (_) { lat = null; }
        } else if (this.isHls() && this.started) {
            const playing = this.playingDateMs();
            if (playing !== null) lat = (this.serverNow() - playing) / 1000;
        }
        this.latency = typeof lat === 'number' && Number.isFinite(lat) && lat > 0 ? lat : null;
        this.emit('latency', this.latency);
    }

    /** The wall clock (Unix ms) of the frame at the playhead, from the HLS playlists'
     *  EXT-X-PROGRAM-DATE-TIME (hls.js's playingDate, Safari's getStartDate()); null
     *  without one. */
    playingDateMs() {
        if (this.hls) {
            const d = this.hls.playingDate;
            return d ? d.getTime() : null;
        }
        if (this.engine === 'hls' && typeof this.video.getStartDate === 'function') {
            const start = this.video.getStartDate().getTime();
            return start > 0 ? start + this.video.currentTime * 1000 : null;
        }
        return null;
    }

    /** Where media time 0 is on the video's timeline, in seconds: the DASH period's start
     *  (0 for livecart's live MPD); on HLS, the playhead minus its PDT's media time. */
    periodStartS() {
        if (this.whep) {
            const f = this.whep.frame;
            return f ? f.currentTime - f.mediaMs / 1000 : 0;
        }
        if (this.isHls()) {
            const playing = this.playingDateMs();
            if (playing === null || this.astMs === null) return 0;
            return this.video.currentTime - (playing - this.astMs) / 1000;
        }
        return periodStartS(this.dash);
    }

    /** The period whose media times the video shows (or is about to): null when cards
     *  cannot be held (no player with a media clock, not live). */
    playingPeriod() {
        if (!(this.state === 'loading' || this.state === 'playing')) return null;
        if (this.whep) return this.whep.hello ? this.whep.hello.period : this.period;
        if (this.dash) return this.period;
        if (this.isHls() && this.astMs !== null && this.playingDateMs() !== null) return this.period;
        return null;
    }

    /** The media time (ms) of a frame presented now (a requestVideoFrameCallback's
     *  metadata): from its RTP timestamp on WebRTC; null elsewhere (the frame's mediaTime
     *  is the media clock there). */
    frameMediaMs(meta) {
        return this.whep ? this.whep.frameMediaMs(meta) : null;
    }

    /** The video's current media time in ms (for holding cards until their frame). */
    mediaTimeMs() {
        return Math.round((this.video.currentTime - this.periodStartS()) * 1000);
    }
}

/** What the viewer page needs from an MPD: period id, target latency (s), ended?, and the
 *  availabilityStartTime (Unix ms). */
function parseMpd(text) {
    const out = { period: null, targetS: 1.5, ended: false, astMs: null };
    try {
        const doc = new DOMParser().parseFromString(text, 'application/xml');
        const mpd = doc.documentElement;
        out.ended = mpd.hasAttribute('mediaPresentationDuration') && !mpd.hasAttribute('minimumUpdatePeriod');
        const ast = Date.parse(mpd.getAttribute('availabilityStartTime') || '');
        if (Number.isFinite(ast)) out.astMs = ast;
        const period = doc.getElementsByTagName('Period')[0];
        out.period = period ? period.getAttribute('id') : null;
        const latency = doc.getElementsByTagName('Latency')[0];
        const target = latency ? Number(latency.getAttribute('target')) : NaN;
        if (target > 0) out.targetS = target / 1000;
    } catch (_) { /* defaults */ }
    return out;
}
