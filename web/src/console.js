// console.js — the console's entry point: sign-in and sign-out with a merchant API token,
// the router (`#/room/<id>/<tab>` in the location hash) and switching between the tabs,
// each of which lives in its own module (console-rooms, -catalog, -commerce, -plugins,
// -analytics) with the same three functions: init() once, show(roomId) and hide().
//
// DOM hooks the browser tests use: #signin-form, #token, #signin-error, #signout,
// #whoami (the shop's name, from `GET /api/me`), #app, #rooms li button[data-room],
// #room-create, #room-status[data-status], #tabs button[data-tab]; each tab's own ids are
// listed at the top of its module.

import { ApiError, get, getToken, setToken, setUnauthorizedHandler } from './console-api.js';
import { $, $$, clearError, errorText, setBusy, showError } from './console-dom.js';
import { emit, on, state } from './console-state.js';
import * as rooms from './console-rooms.js';
import * as catalog from './console-catalog.js';
import * as commerce from './console-commerce.js';
import * as plugins from './console-plugins.js';
import * as analytics from './console-analytics.js';

const TABS = {
    live: rooms,
    products: catalog,
    commerce,
    plugins,
    analytics,
};

let signingIn = false;
let shown = null; // the module whose tab is showing

// ---- sign-in ----------------------------------------------------------------------------

function showSignIn(message) {
    hideTab();
    rooms.stop();
    $('#app').hidden = true;
    $('#signout').hidden = true;
    $('#whoami').hidden = true;
    $('#signin').hidden = false;
    const err = $('#signin-error');
    if (message) showError(err, { message });
    else clearError(err);
    $('#token').value = '';
    $('#token').focus();
}

function signOut(message) {
    setToken('');
    state.rooms = [];
    state.room = null;
    state.merchant = null;
    showSignIn(message);
}

async function signIn(event) {
    event.preventDefault();
    const form = $('#signin-form');
    const input = $('#token');
    const value = input.value.trim();
    const err = $('#signin-error');
    clearError(err);
    if (!value) {
        showError(err, { message: 'Paste your merchant API token first.' });
        input.focus();
        return;
    }
    setToken(value);
    signingIn = true;
    setBusy(form, true);
    try {
        await enterApp();
    } catch (e) {
        setToken('');
        // 401: not a token of ours; 403: a disabled merchant's token, or the operator's.
        const message = e instanceof ApiError && (e.status === 401 || e.status === 403)
            ? `That token was refused (${e.message}). Check it and try again.`
            : errorText(e);
        showError(err, { message });
        input.focus();
    } finally {
        signingIn = false;
        setBusy(form, false);
    }
}

/** Ask who the stored token belongs to (`GET /api/me`), load the rooms and show the app
 * with the shop's name; throws when refused. */
async function enterApp() {
    const me = await get('/api/me');
    const list = await get('/api/rooms');
    state.merchant = me;
    state.rooms = list;
    $('#signin').hidden = true;
    $('#app').hidden = false;
    $('#signout').hidden = false;
    const tail = getToken().slice(-4);
    const whoami = $('#whoami');
    whoami.textContent = `${me.name} · token …${tail}`;
    whoami.title = `merchant ${me.id}`;
    whoami.hidden = false;
    emit('rooms', state.rooms);
    route();
}

// ---- router and tabs --------------------------------------------------------------------

/** `#/room/<id>/<tab>` → state.room, state.tab. */
function parseHash() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
    if (parts[0] === 'room' && parts[1]) {
        return { room: parts[1], tab: TABS[parts[2]] ? parts[2] : 'live' };
    }
    return { room: null, tab: 'live' };
}

export function navigate(room, tab = state.tab) {
    const hash = room ? `#/room/${encodeURIComponent(room)}/${tab}` : '#/';
    if (location.hash === hash) route();
    else location.hash = hash;
}

function hideTab() {
    if (shown) shown.hide();
    shown = null;
}

function route() {
    if ($('#app').hidden) return;
    let { room, tab } = parseHash();
    if (!room || !state.rooms.some((r) => r.id === room)) {
        // Nothing (or an unknown room) selected: open the first room, if any.
        const first = state.rooms[0];
        if (first) {
            history.replaceState(null, '', `#/room/${encodeURIComponent(first.id)}/${tab}`);
            room = first.id;
        } else {
            room = null;
        }
    }
    const roomChanged = room !== state.room;
    state.room = room;
    state.tab = tab;
    $('#no-room').hidden = !!room;
    $('#room-view').hidden = !room;
    if (roomChanged) {
        hideTab();
        emit('room', room);
    }
    if (!room) {
        rooms.stop();
        return;
    }
    for (const b of $$('#tabs button')) {
        const on = b.dataset.tab === tab;
        b.setAttribute('aria-selected', on ? 'true' : 'false');
        b.classList.toggle('active', on);
    }
    for (const name of Object.keys(TABS)) $(`#tab-${name}`).hidden = name !== tab;
    const module = TABS[tab];
    if (shown !== module) {
        hideTab();
        shown = module;
    }
    module.show(room);
}

// ---- boot -------------------------------------------------------------------------------

function boot() {
    setUnauthorizedHandler((message) => {
        // During sign-in the form shows the refusal itself.
        if (signingIn) return;
        signOut(`Your session ended: the server refused the token (${message}). Sign in again.`);
    });
    $('#signin-form').addEventListener('submit', signIn);
    $('#signout').addEventListener('click', () => signOut('Signed out.'));
    for (const b of $$('#tabs button')) {
        b.addEventListener('click', () => navigate(state.room, b.dataset.tab));
    }
    window.addEventListener('hashchange', route);
    on('navigate', ({ room, tab }) => navigate(room, tab));
    for (const m of Object.values(TABS)) m.init();

    if (getToken()) {
        enterApp().catch((e) => {
            if (e instanceof ApiError && e.status === 401) return; // the handler signed out
            showSignIn(errorText(e));
        });
    } else {
        showSignIn();
    }
}

boot();
