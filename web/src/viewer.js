// viewer.js — entry point of the viewer page (/live/{room}): reads the room and an optional
// ?token= / ?name= from the URL, wires the room client, player, chat, likes, gifts and
// commerce together, and exposes `window.__livecart` for tests and debugging.

import { Identity } from './viewer-identity.js';
import { Room } from './viewer-room.js';
import { Player } from './viewer-player.js';
import { Chat } from './viewer-chat.js';
import { Commerce } from './viewer-commerce.js';
import { FrameClock, Moments } from './viewer-sync.js';
import { Gifts, Likes, ReplayLink, Toast, giftLabel, renderConn, renderVideoStatus } from './viewer-ui.js';
import { store } from './viewer-util.js';
import { fillIcons } from './viewer-icons.js';

const $ = (id) => document.getElementById(id);

const roomId = decodeURIComponent(location.pathname.replace(/\/+$/, '').split('/').pop() || 'demo');
const params = new URLSearchParams(location.search);
const urlToken = params.get('token');
if (params.has('name')) {
    // A name given in the link: use it, with a new guest identity if it differs.
    const name = params.get('name').trim().slice(0, 32);
    const saved = store.get(`livecart:guest:${roomId}`);
    store.set('livecart:name', name);
    if (saved && saved.user && saved.user.name !== name) store.remove(`livecart:guest:${roomId}`);
}

fillIcons();
const identity = new Identity(roomId, urlToken);
const room = new Room(roomId, identity);
const toast = new Toast($('toast'));
const myIds = new Set(); // every user id this page has been (a rename mints a new one)
const isMe = (id) => myIds.has(id);

const chat = new Chat({
    list: $('chat'),
    pinned: $('pinned'),
    newMsgs: $('new-msgs'),
    isMe,
    serverNow: () => room.serverNow(),
    giftLabel,
});
const video = $('player');
const player = new Player(video, roomId, () => room.serverNow());
// Cards, coupon unlocks and flash-sale starts wait for the frame of their moment.
const clock = new FrameClock(video, () => player.periodStartS());
const moments = new Moments({
    clock,
    playingPeriod: () => player.playingPeriod(),
    latencyMs: () => (player.latency ?? player.targetS) * 1000,
});
const likes = new Likes({ button: $('like'), count: document.querySelector('#likes .n'), hearts: $('hearts'), room });
const gifts = new Gifts({ open: $('gift-open'), picker: $('gift-picker'), banner: $('gift-banner'), room });
const commerce = new Commerce({
    room,
    cardSlot: $('card'),
    coupons: $('coupons'),
    sale: $('sale'),
    variant: () => (identity.current && identity.current.variant) || 'a',
    toast: (t) => toast.show(t),
    moments,
});

// ---- player -----------------------------------------------------------------------------

const unmute = $('unmute');
const replayLink = new ReplayLink($('replay-link'), roomId, player); // once the live has ended
player.on('state', (state) => {
    renderVideoStatus($('video-status'), $('video-status-text'), state);
    $('live-badge').dataset.state = state;
    $('live-badge').textContent = { waiting: 'SOON', ended: 'ENDED' }[state] || 'LIVE';
    $('host-line').textContent = {
        loading: 'Connecting to the live…',
        playing: 'Live now',
        waiting: 'Starting soon',
        ended: 'The live has ended',
        unsupported: 'Chat only on this browser',
    }[state] || '';
    unmute.hidden = !(state === 'playing' && video.muted);
    replayLink.update(state);
});
player.on('timed', (ev) => commerce.onTimedEvent(ev));
player.on('playing', () => { unmute.hidden = !video.muted; });
player.on('muted', (muted) => { unmute.hidden = !muted || player.state !== 'playing'; });
player.on('blocked', () => {
    unmute.hidden = false;
    unmute.lastElementChild.textContent = 'Tap to play';
});
player.on('latency', (lat) => {
    $('latency').textContent = lat === null ? '–' : `${lat.toFixed(1)} s`;
});
unmute.addEventListener('click', () => {
    player.unmute();
    unmute.hidden = true;
});
renderVideoStatus($('video-status'), $('video-status-text'), 'loading');

// ---- room -------------------------------------------------------------------------------

function showMe() {
    const u = room.user || (identity.current && identity.current.user);
    if (!u) return;
    $('me-name').textContent = u.name;
    $('me-avatar').textContent = (u.name || '?').trim().charAt(0).toUpperCase() || '?';
}

room.on('state', (state, visible) => renderConn($('conn'), state, visible));
room.on('welcome', (user) => {
    myIds.add(user.id);
    showMe();
});
room.on('snapshot', (snap, { resumed }) => {
    $('title').textContent = snap.title || roomId;
    document.title = `${snap.title || roomId} · livecart`;
    $('online').textContent = String(snap.online ?? 0);
    likes.setTotal(snap.likes ?? 0);
    chat.snapshot(snap.comments, { resumed });
    if (!resumed) chat.addSystem('Welcome! Ask the host anything in the chat, and be kind.', 'welcome');
    commerce.setCoupons(snap.coupons);
    commerce.setSale(snap.flash_sale);
    if (snap.pinned) commerce.onPinned(snap.pinned);
});
room.on('comment', (m) => chat.addComment(m.comment));
room.on('system', (m) => chat.addSystem(m.text));
room.on('gift', (m) => {
    chat.addGift(m);
    gifts.onGift(m);
});
room.on('likes', (m) => likes.setTotal(m.total));
room.on('online', (m) => { $('online').textContent = String(m.count); });
room.on('moderation', (m) => {
    if (m.action === 'hide') chat.hide(m.comment_id);
    else if (m.action === 'pin') chat.pin(m.comment_id);
    else if (m.action === 'mute' && isMe(m.user_id)) {
        chat.addSystem('A moderator muted you: your comments are not shown for now.', 'notice');
        $('chat-input').placeholder = 'You are muted';
    } else if (m.action === 'unmute' && isMe(m.user_id)) {
        chat.addSystem('You can chat again.', 'notice');
        $('chat-input').placeholder = 'Say something…';
    }
});
room.on('product', (m) => commerce.onProduct(m.card));
room.on('coupon', (m) => {
    if (m.event === 'unlocked') commerce.onCouponUnlocked(m);
});
room.on('flash_sale', (m) => commerce.onFlashSale(m));
room.on('claim_result', (m) => commerce.onClaimResult(m));
room.on('buy_result', (m) => commerce.onBuyResult(m));
room.on('error', (m) => {
    const text = {
        muted: 'You are muted in this room.',
        rate_limited: 'Slow down a little — too many messages.',
        too_large: 'That message is too long.',
        bad_message: 'That message could not be sent.',
        forbidden: 'You are not allowed to do that.',
    }[m.code];
    if (text) toast.show(text, 'error');
    else if (m.code !== 'invalid_token') console.warn('room error', m.code, m.message);
});
room.on('token_refused', () => console.info('token refused; getting a new one'));
room.on('fatal', (code, message) => {
    toast.show(code === 'unknown_room' ? 'This live room does not exist.' : message || 'Cannot join this room.', 'error', 10_000);
});

// ---- chat input -------------------------------------------------------------------------

$('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text) return;
    const length = [...text].length;
    if (length > 500) {
        toast.show(`Comments are at most 500 characters (this one has ${length}).`, 'error');
        return;
    }
    room.send({ type: 'comment', text });
    input.value = '';
});

// ---- display name ---------------------------------------------------------------------

const dialog = $('name-dialog');
$('me').addEventListener('click', () => {
    const u = room.user || (identity.current && identity.current.user);
    $('name-input').value = identity.name || (u ? u.name : '');
    if (identity.current && identity.current.source === 'url') {
        $('name-hint').textContent = 'Your name comes from your invitation link and cannot be changed here.';
    }
    if (dialog.showModal) dialog.showModal();
});
$('name-cancel').addEventListener('click', () => dialog.close());
$('name-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    dialog.close();
    const name = $('name-input').value.trim();
    try {
        if (await identity.rename(name)) {
            showMe();
            room.reconnectNow(); // hello again with the new token; resume keeps the page
        }
    } catch (_) {
        toast.show('Could not change your name right now.', 'error');
    }
});

// ---- start ------------------------------------------------------------------------------

identity.ensure().then(() => {
    showMe();
    if (identity.refusedUrlToken) toast.show('Your link has expired: you are watching as a guest.');
}).catch(() => { /* the room client retries */ });
room.start();
player.start();

// For tests and debugging (read-only views of the live state).
window.__livecart = {
    get user() { return room.user || (identity.current && identity.current.user) || null; },
    get variant() { return (identity.current && identity.current.variant) || null; },
    get offset() { return room.offset; },
    get epoch() { return room.epoch; },
    get clockOffset() { return room.clockOffset; },
    get rtt() { return room.rtt; },
    get reconnects() { return room.reconnects; },
    get state() { return room.state; },
    get stalls() { return player.stalls; },
    get latency() { return player.latency; },
    get playerState() { return player.state; },
    get engine() { return player.engine; },
    get qualitySwitches() { return player.switches; },
    get cards() { return commerce.shown; },
    get timed() { return commerce.timed; },
    get period() { return player.period; },
    get playedPeriod() { return player.playedPeriod; },
    get ws() { return room.ws; },
    serverNow: () => room.serverNow(),
    room,
    player,
    commerce,
    clock,
    moments,
};
