// replay.js — entry point of the replay pages. `/replay/{room}` lists the room's ended lives
// (`/media/{room}/replays`), newest first; `/replay/{room}/{period}` plays one with its
// product cards at their moments and a timeline of product markers (replay-player.js,
// replay-timeline.js). No room connection: a replay is video and cards only.
// `window.__replay` exposes the state for tests.

import { ReplayPlayer } from './replay-player.js';
import { Timeline, clock } from './replay-timeline.js';
import { Toast } from './viewer-ui.js';
import { el } from './viewer-util.js';

const $ = (id) => document.getElementById(id);
const parts = location.pathname.replace(/\/+$/, '').split('/').map(decodeURIComponent);
// ['', 'replay', room, period?]
const room = parts[2] || 'demo';
const period = parts[3] || null;
const enc = encodeURIComponent;
const toast = new Toast($('toast'));

$('live-link').href = `/live/${enc(room)}`;
$('sub').textContent = room;

async function getJson(url) {
    const r = await fetch(url, { cache: 'no-store' });
    if (!r.ok) throw Object.assign(new Error(`HTTP ${r.status}`), { status: r.status });
    return r.json();
}

function when(ms) {
    const d = new Date(ms);
    return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function length(s) {
    return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min` : clock(Math.round(s) * 1000);
}

window.__replay = { room, period, state: 'loading' };

// ---- the list -------------------------------------------------------------------------

async function showList() {
    $('list-view').hidden = false;
    document.title = `Replays · ${room} · livecart`;
    let list = [];
    try {
        list = (await getJson(`/media/${enc(room)}/replays`)).replays || [];
    } catch (_) {
        toast.show('Could not load the replays. Try again later.', 'error', 6000);
    }
    const ended = list.filter((r) => r.ended).sort((a, b) => b.started_ms - a.started_ms);
    window.__replay.list = ended.map((r) => r.period);
    $('list-empty').hidden = ended.length > 0;
    const items = ended.map((r) => {
        const count = el('span', { class: 'replay-count' });
        const li = el('li', { class: 'replay-item', dataset: { period: r.period } },
            el('a', { href: `/replay/${enc(room)}/${enc(r.period)}`, class: 'replay-link-row' },
                el('span', { class: 'replay-thumb', 'aria-hidden': 'true' }, el('span', { class: 'play-tri' })),
                el('span', { class: 'replay-info' },
                    el('span', { class: 'replay-when', text: when(r.started_ms) }),
                    el('span', { class: 'replay-meta' }, el('span', { text: length(r.duration_s) }), count))));
        return { li, r, count };
    });
    $('replays').replaceChildren(...items.map((i) => i.li));
    window.__replay.state = 'list';
    // How many products each live presented (the first few).
    await Promise.all(items.slice(0, 12).map(async ({ r, count }) => {
        try {
            const ev = await getJson(`/media/${enc(room)}/replay/${enc(r.period)}/events.json`);
            const n = (ev.events || []).filter((e) => e.payload && e.payload.type === 'product').length;
            count.textContent = n ? ` · ${n} product${n === 1 ? '' : 's'}` : '';
        } catch (_) { /* leave it out */ }
    }));
}

// ---- one replay -----------------------------------------------------------------------

async function showReplay() {
    $('play-view').hidden = false;
    $('back').hidden = false;
    $('back').href = `/replay/${enc(room)}`;
    const status = $('video-status');
    const statusText = $('video-status-text');
    const setStatus = (state, text) => {
        status.dataset.state = state;
        status.hidden = state === 'playing';
        if (text) statusText.textContent = text;
        window.__replay.state = state;
    };

    let rec = null;
    try {
        const list = (await getJson(`/media/${enc(room)}/replays`)).replays || [];
        rec = list.find((r) => r.period === period) || null;
    } catch (_) { /* the player will tell */ }
    if (!rec) {
        setStatus('ended', 'This replay does not exist (or has expired).');
        $('title').textContent = 'Replay not found';
        return;
    }
    $('title').textContent = 'Replay';
    $('sub').textContent = `${room} · ${when(rec.started_ms)} · ${length(rec.duration_s)}`;
    document.title = `Replay · ${room} · livecart`;
    if (!rec.ended) toast.show('This live is still going on: the replay grows until it ends.', 'info', 5000);

    const player = new ReplayPlayer($('player'), $('card'), room, period);
    const timeline = new Timeline({
        track: $('track'),
        played: $('played'),
        markers: $('markers'),
        tip: $('marker-tip'),
        cur: $('time-cur'),
        dur: $('time-dur'),
        count: $('markers-count'),
        list: $('products'),
    }, (ms) => player.seek(ms));
    timeline.setDuration(rec.duration_s * 1000);
    player.on('duration', (ms) => { if (!(timeline.durationMs > 0)) timeline.setDuration(ms); });
    player.on('time', (ms) => timeline.setTime(ms));
    player.on('state', (state) => {
        if (state === 'playing') setStatus('playing');
        else if (state === 'ended') setStatus('ended', 'End of the replay.');
        else if (state === 'error') setStatus('unsupported', 'The replay cannot be played right now.');
        else if (state === 'unsupported') setStatus('unsupported', 'This browser cannot play the replay.');
    });
    player.on('card', (e) => {
        $('card-hint').hidden = Boolean(e);
        timeline.setActive(e ? e.payload.push_id : null);
    });
    Object.defineProperties(window.__replay, {
        player: { value: player },
        timeline: { value: timeline },
        durationMs: { value: rec.duration_s * 1000 },
        cards: { get: () => player.shown },
        events: {
            get: () => [...player.events.values()]
                .map((e) => ({ key: e.key, media_ms: e.mediaMs, source: e.source, push_id: e.payload.push_id })),
        },
    });
    setStatus('loading', 'Loading the replay…');
    player.start();

    try {
        const ev = await getJson(`/media/${enc(room)}/replay/${enc(period)}/events.json`);
        const events = ev.events || [];
        timeline.setEvents(events);
        player.addListed(events);
        window.__replay.listed = events.length;
    } catch (_) {
        toast.show('Could not load the products of this live.', 'error');
    }
}

if (period) showReplay();
else showList();
