// console-rooms.js — rooms: the list and the create form in the sidebar, the selected
// room's header (status, live viewers and likes, polled every 2 s), and the Live tab:
// go live / end, the OBS ingest URL and stream key (copy, rotate), media status, links.
//
// Test hooks: #rooms button[data-room], #room-create, #room-name, #room-status
// [data-status], #online, #likes, #room-start, #room-stop, #ingest-url, #ingest-url-tls,
// #stream-key, #rotate-key, #media-live, #media-renditions, #media-error, #viewer-link,
// #dash-link, #hls-link, #latency-mode, #latency-note, #media-webrtc.

import { get, post, put, seg } from './console-api.js';
import {
    $, $$, acting, clearError, confirmDialog, copyText, count, dateTime, fill, h, showError,
    submitting, toast,
} from './console-dom.js';
import { currentRoom, emit, every, on, state, updateRoom } from './console-state.js';

let headPoll = null;
let mediaPoll = null;
let media = null;

// ---- sidebar ----------------------------------------------------------------------------

let listKey = '';

function renderList() {
    const list = $('#rooms');
    // Polls refresh the list every 2 s: rebuild it only when something visible changed.
    const key = JSON.stringify([state.room, state.rooms.map((r) => [r.id, r.title, r.status])]);
    if (key === listKey && list.children.length) return;
    listKey = key;
    fill(list, state.rooms.map((r) => h('li', {},
        h('button', {
            type: 'button',
            class: 'room-item',
            dataset: { room: r.id },
            'aria-current': r.id === state.room ? 'true' : 'false',
            onclick: () => emit('navigate', { room: r.id, tab: state.tab }),
        },
        h('span', { class: 'room-item-title' }, r.title),
        h('span', { class: `dot ${r.status}`, title: r.status, 'aria-label': r.status })))));
    $('#rooms-empty').hidden = state.rooms.length > 0;
}

async function createRoom(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const input = $('#room-title');
    let room = null;
    const ok = await submitting(form, async () => {
        room = await post('/api/rooms', { title: input.value });
    });
    if (ok && room) {
        input.value = '';
        updateRoom(room);
        toast(`Room “${room.title}” created`);
        emit('navigate', { room: room.id, tab: 'live' });
    }
}

// ---- header (every tab) -------------------------------------------------------------------

function renderHead() {
    const r = currentRoom();
    if (!r) return;
    $('#room-name').textContent = r.title;
    $('#room-id').textContent = r.id;
    const status = $('#room-status');
    status.dataset.status = r.status;
    status.textContent = r.status === 'live' ? '● live' : r.status;
    if (r.online !== undefined) $('#online').textContent = count(r.online);
    if (r.likes !== undefined) $('#likes').textContent = count(r.likes);
    $('#room-start').disabled = r.status === 'live';
    $('#room-start').textContent = r.status === 'ended' ? 'Go live again' : 'Go live';
    $('#room-stop').disabled = r.status !== 'live';
}

async function pollRoom() {
    const id = state.room;
    if (!id) return;
    const r = await get(`/api/rooms/${seg(id)}`);
    if (id === state.room) {
        updateRoom(r);
        renderHead();
        if (!$('#tab-live').hidden) renderObs();
    }
}

function selectRoom(id) {
    stop();
    renderList();
    if (!id) return;
    $('#online').textContent = '–';
    $('#likes').textContent = '–';
    media = null;
    renderHead();
    pollRoom().catch(() => {});
    headPoll = every(2000, pollRoom);
}

/** Stop polling the selected room (sign-out, no room). */
export function stop() {
    if (headPoll) headPoll.stop();
    headPoll = null;
}

// ---- Live tab -----------------------------------------------------------------------------

/** `rtmp://0.0.0.0:1935/live` → the host this page came from (a bound-any address is no
 * address an encoder can reach). */
export function publicUrl(url) {
    if (!url) return '';
    const m = /^([a-z]+:\/\/)(0\.0\.0\.0|\[::\]|\[::0\]|\[0:0:0:0:0:0:0:0\])(:\d+)?(.*)$/i.exec(url);
    if (!m) return url;
    const host = location.hostname.includes(':') && !location.hostname.startsWith('[')
        ? `[${location.hostname}]` : location.hostname;
    return `${m[1]}${host}${m[3] || ''}${m[4] || ''}`;
}

function absolute(path) {
    return new URL(path, location.href).href;
}

function setLink(a, path) {
    a.href = path;
    a.textContent = absolute(path);
}

function renderObs() {
    const r = currentRoom();
    if (!r) return;
    const key = $('#stream-key');
    if (key.value !== r.stream_key) key.value = r.stream_key || '';
    const ingest = media && media.ingest ? media.ingest : null;
    $('#ingest-url').value = ingest ? publicUrl(ingest.rtmp) : 'loading…';
    $('#ingest-url-tls').value = ingest && ingest.rtmps ? publicUrl(ingest.rtmps) : '—';
    setLink($('#viewer-link'), `/live/${seg(r.id)}`);
    setLink($('#dash-link'), media && media.dash ? media.dash : `/media/${seg(r.id)}/live.mpd`);
    setLink($('#hls-link'), media && media.hls ? media.hls : `/media/${seg(r.id)}/master.m3u8`);
    const mode = $('#latency-mode');
    if (document.activeElement !== mode) mode.value = r.latency_mode || 'standard';
    // Why WebRTC cannot play this live, when the host chose it.
    const note = $('#latency-note');
    const off = media && media.webrtc_off;
    note.hidden = !(off && r.latency_mode === 'ultra-low');
    note.textContent = off ? `WebRTC is off for this live: ${off}. Viewers get the standard stream.` : '';
}

async function setLatencyMode(select) {
    clearError($('#room-action-error'));
    const mode = select.value;
    await acting(select, async () => {
        try {
            const room = await put(`/api/rooms/${seg(state.room)}/latency-mode`, { mode });
            updateRoom(room);
            renderObs();
        } catch (e) {
            showError($('#room-action-error'), e);
            throw e;
        }
    }, mode === 'ultra-low' ? 'Ultra-low latency on: viewers play over WebRTC' : 'Standard latency: viewers play LL-DASH');
}

function renderMedia() {
    if (!media) return;
    const live = $('#media-live');
    live.textContent = media.live
        ? 'receiving video'
        : 'no video arriving: start streaming in OBS with the settings above';
    live.className = media.live ? 'ok' : 'muted';
    $('#media-source').textContent = media.source || '—';
    const rend = $('#media-renditions');
    fill(rend, (media.renditions || []).length
        ? media.renditions.map((r) => h('span', { class: 'chip' }, r))
        : '—');
    $('#media-periods').textContent = count(media.periods_started || 0);
    const rtc = media.webrtc_sessions || [];
    $('#media-webrtc').textContent = media.webrtc_off ? `off: ${media.webrtc_off}`
        : `${count(rtc.length)} viewer(s)${rtc.length ? ` · ${[...new Set(rtc.map((s) => s.rung).filter(Boolean))].join(', ')}` : ''}`;
    const err = $('#media-error');
    if (media.last_error) {
        err.textContent = `${media.last_error}${media.last_error_ms ? ` (${dateTime(media.last_error_ms)})` : ''}`;
        err.className = 'bad';
    } else {
        err.textContent = 'none';
        err.className = 'muted';
    }
    const rtsp = $('#media-rtsp');
    const s = media.rtsp;
    if (!s) {
        rtsp.textContent = 'not configured';
        rtsp.className = 'muted';
    } else {
        const parts = [s.connected ? 'connected' : 'not connected', `${count(s.attempts)} attempt(s)`];
        if (s.last_error) parts.push(`last error: ${s.last_error}`);
        if (!s.connected && s.next_retry_ms) parts.push(`retry at ${dateTime(s.next_retry_ms)}`);
        rtsp.textContent = parts.join(' · ');
        rtsp.className = s.connected ? 'ok' : 'bad';
    }
}

async function pollMedia() {
    const id = state.room;
    const m = await get(`/api/rooms/${seg(id)}/media`);
    if (id !== state.room) return;
    media = m;
    renderObs();
    renderMedia();
}

async function setStatus(button, action) {
    const id = state.room;
    const r = currentRoom();
    if (action === 'stop') {
        const ok = await confirmDialog({
            title: 'End the live?',
            text: `Viewers of “${r ? r.title : id}” will see the show has ended.`,
            ok: 'End live',
        });
        if (!ok) return;
    }
    clearError($('#room-action-error'));
    try {
        button.disabled = true;
        const room = await post(`/api/rooms/${seg(id)}/${action}`);
        updateRoom(room);
        renderHead();
        toast(action === 'start' ? 'You are live' : 'The live has ended');
    } catch (e) {
        showError($('#room-action-error'), e);
    } finally {
        renderHead();
    }
}

async function rotateKey(button) {
    const ok = await confirmDialog({
        title: 'Rotate the stream key?',
        text: 'The old key stops working: an encoder using it must be given the new one.',
        ok: 'Rotate key',
    });
    if (!ok) return;
    clearError($('#obs-error'));
    await acting(button, async () => {
        try {
            const room = await post(`/api/rooms/${seg(state.room)}/stream-key`);
            updateRoom(room);
            renderObs();
        } catch (e) {
            showError($('#obs-error'), e);
            throw e;
        }
    }, 'New stream key ready');
}

export function init() {
    on('rooms', renderList);
    on('room', selectRoom);
    $('#room-create').addEventListener('submit', createRoom);
    $('#room-start').addEventListener('click', (e) => setStatus(e.currentTarget, 'start'));
    $('#room-stop').addEventListener('click', (e) => setStatus(e.currentTarget, 'stop'));
    $('#rotate-key').addEventListener('click', (e) => rotateKey(e.currentTarget));
    $('#latency-mode').addEventListener('change', (e) => setLatencyMode(e.currentTarget));
    $('#stream-key-show').addEventListener('click', (e) => {
        const key = $('#stream-key');
        const show = key.type === 'password';
        key.type = show ? 'text' : 'password';
        e.currentTarget.textContent = show ? 'Hide' : 'Show';
    });
    for (const b of $$('button.copy')) {
        b.addEventListener('click', async () => {
            const input = document.getElementById(b.dataset.copy);
            const ok = await copyText(input.value, input);
            toast(ok ? 'Copied' : 'Copy failed: select the text and copy it by hand', ok ? 'ok' : 'error');
        });
    }
}

export function show() {
    renderHead();
    renderObs();
    renderMedia();
    if (mediaPoll) mediaPoll.stop();
    pollMedia().catch((e) => showError($('#room-action-error'), e));
    mediaPoll = every(5000, pollMedia);
}

export function hide() {
    if (mediaPoll) mediaPoll.stop();
    mediaPoll = null;
}
