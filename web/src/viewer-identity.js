// viewer-identity.js — who the viewer is in this room: a `?token=` handed over in the page
// URL (checked with GET /api/rooms/{room}/me), else a guest room token from
// POST /api/rooms/{room}/guest kept in localStorage per room, renewed when it expires or the
// server refuses it. Also the viewer's chosen display name (used when minting the guest,
// and to rename the guest without changing who it is).

import { store } from './viewer-util.js';

const NAME_KEY = 'livecart:name';
const DEVICE_KEY = 'livecart:device';
const guestKey = (room) => `livecart:guest:${room}`;

export class Identity {
    /** `room`: room id; `urlToken`: a token from the page URL or null. */
    constructor(room, urlToken) {
        this.room = room;
        this.urlToken = urlToken || null;
        this.current = null; // {token, user, variant, expires_s?, source: 'url'|'guest'}
    }

    /** This browser's device id (made once, kept in localStorage): the server counts a
     *  guest's claims and buys per device, so reconnecting as a new guest does not reset
     *  them. */
    get device() {
        let id = String(store.get(DEVICE_KEY) || '');
        if (!/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
            const bytes = new Uint8Array(12);
            crypto.getRandomValues(bytes);
            id = `d_${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
            store.set(DEVICE_KEY, id);
        }
        return id;
    }

    /** The stored display name ('' when none). */
    get name() {
        return String(store.get(NAME_KEY) || '');
    }

    /** A usable identity, minting or checking one when needed. Throws on network errors
     *  (the caller retries) and on an unknown room (`err.status === 404`). */
    ensure() {
        // One look-up at a time: concurrent callers share it (two mints would make two
        // different guests).
        if (!this.pending) {
            this.pending = this.resolve().finally(() => { this.pending = null; });
        }
        return this.pending;
    }

    async resolve() {
        const now = Date.now() / 1000;
        if (this.current && (!this.current.expires_s || this.current.expires_s > now + 60)) {
            return this.current;
        }
        if (this.urlToken) {
            const r = await fetch(`/api/rooms/${encodeURIComponent(this.room)}/me`, {
                headers: { authorization: `Bearer ${this.urlToken}` },
                cache: 'no-store',
            });
            if (r.ok) {
                const me = await r.json();
                this.current = { token: this.urlToken, user: me.user, variant: me.variant, source: 'url' };
                return this.current;
            }
            if (r.status === 404) throw Object.assign(new Error('unknown room'), { status: 404 });
            // A bad or expired link token: carry on as a guest.
            this.urlToken = null;
            this.refusedUrlToken = true;
        }
        const saved = store.get(guestKey(this.room));
        if (saved && saved.token && saved.expires_s > now + 60) {
            this.current = { ...saved, source: 'guest' };
            return this.current;
        }
        return this.mint();
    }

    /** A fresh guest token (with the stored name). */
    async mint() {
        const name = this.name;
        const r = await fetch(`/api/rooms/${encodeURIComponent(this.room)}/guest`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(name ? { name } : {}),
            cache: 'no-store',
        });
        if (!r.ok) {
            throw Object.assign(new Error(`guest token: HTTP ${r.status}`), { status: r.status });
        }
        const g = await r.json();
        const saved = { token: g.token, expires_s: g.expires_s, user: g.user, variant: g.variant };
        store.set(guestKey(this.room), saved);
        this.current = { ...saved, source: 'guest' };
        return this.current;
    }

    /** The server refused the token (`invalid_token`): forget it; `ensure` gets a new one. */
    invalidate() {
        if (this.current && this.current.source === 'url') {
            this.urlToken = null;
            this.refusedUrlToken = true;
        } else {
            store.remove(guestKey(this.room));
        }
        this.current = null;
    }

    /** Store a new display name. A guest's name lives in its token: the server re-signs it
     *  for the same user id (PUT /api/rooms/{room}/guest), so claims and own comments stay
     *  the viewer's; the caller reconnects to use it. Without a guest token yet, or when
     *  the server refuses, a new guest is minted. Returns false for link-token viewers,
     *  whose name the merchant chose. */
    async rename(name) {
        const clean = String(name || '').trim().slice(0, 32);
        store.set(NAME_KEY, clean);
        if (this.current && this.current.source === 'url') return false;
        await (this.pending || Promise.resolve()).catch(() => {});
        const saved = store.get(guestKey(this.room));
        if (clean && saved && saved.token) {
            const r = await fetch(`/api/rooms/${encodeURIComponent(this.room)}/guest`, {
                method: 'PUT',
                headers: { 'content-type': 'application/json', authorization: `Bearer ${saved.token}` },
                body: JSON.stringify({ name: clean }),
                cache: 'no-store',
            });
            if (r.ok) {
                const g = await r.json();
                const next = { token: g.token, expires_s: g.expires_s, user: g.user, variant: g.variant };
                store.set(guestKey(this.room), next);
                this.current = { ...next, source: 'guest' };
                return true;
            }
        }
        await this.mint();
        return true;
    }
}
