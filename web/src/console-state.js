// console-state.js — what the console's modules share: the merchant (id and shop name),
// its rooms, the selected
// room, the product list (several tabs need it), and a tiny event bus between modules.

import { get } from './console-api.js';

export const state = {
    /** Who is signed in, as `GET /api/me` answers: `{id, name, …}`, or null. */
    merchant: null,
    /** The merchant's rooms, as `GET /api/rooms` lists them (kept fresh by polling). */
    rooms: [],
    /** The selected room's id, or null. */
    room: null,
    /** The selected tab: live | products | commerce | plugins | analytics. */
    tab: 'live',
    /** The merchant's products (`GET /api/products`). */
    products: [],
};

const bus = new EventTarget();

/** Subscribe to a console event: `rooms`, `room` (selection changed), `products`. */
export function on(name, f) {
    bus.addEventListener(name, (e) => f(e.detail));
}

export function emit(name, detail) {
    bus.dispatchEvent(new CustomEvent(name, { detail }));
}

export function currentRoom() {
    return state.rooms.find((r) => r.id === state.room) || null;
}

/** Why a card or a sale would reach nobody in the selected room now (a sentence for the
 *  merchant), or null while the room is live. Pushes and sales ask before going out to
 *  an idle or ended room. */
export function idleWarning() {
    const r = currentRoom();
    if (!r || r.status === 'live') return null;
    return r.status === 'ended'
        ? 'This room’s live has ended, so no viewer will see it.'
        : 'This room is not live yet, so no viewer will see it until you go live.';
}

/** Replace one room in the list with a fresher copy (from a poll, start, stop, rotate). */
export function updateRoom(room) {
    const i = state.rooms.findIndex((r) => r.id === room.id);
    if (i >= 0) state.rooms[i] = { ...state.rooms[i], ...room };
    else state.rooms.push(room);
    emit('rooms', state.rooms);
}

export async function loadProducts() {
    state.products = await get('/api/products');
    emit('products', state.products);
    return state.products;
}

export function productTitle(id) {
    const p = state.products.find((x) => x.id === id);
    return p ? p.title : id;
}

/** A repeating task that runs while `active()` and the page is visible; `stop()` ends it.
 * The next run waits for the previous one, so a slow server is never flooded. */
export function every(ms, task) {
    let timer = null;
    let stopped = false;
    const run = async () => {
        if (stopped) return;
        if (!document.hidden) {
            try {
                await task();
            } catch (_) {
                // The task shows its own errors; keep polling.
            }
        }
        if (!stopped) timer = setTimeout(run, ms);
    };
    timer = setTimeout(run, ms);
    return {
        stop() {
            stopped = true;
            clearTimeout(timer);
        },
    };
}
