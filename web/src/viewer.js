// viewer.js — entry point of the viewer page (/live/{room}): reads the room and an optional
// ?token= / ?name= from the URL, picks the language (viewer-i18n.js), wires the room
// client, player, chat, likes, gifts and commerce together, and exposes
// `window.__livecart` for tests and debugging.

import { Identity } from './viewer-identity.js';
import { Room } from './viewer-room.js';
import { Player } from './viewer-player.js';
import { Chat } from './viewer-chat.js';
import { Commerce } from './viewer-commerce.js';
import { Bag } from './viewer-bag.js';
import { FrameClock, Moments } from './viewer-sync.js';
import { Gifts, Likes, ReplayLink, Toast, giftLabel, renderConn, renderVideoStatus } from './viewer-ui.js';
import { store } from './viewer-util.js';
import { fillIcons } from './viewer-icons.js';
import { LANG_NAMES, currentLang, formatCount, formatDecimal, initLang, setLang, t, tr, trAttr, translateStatic } from './viewer-i18n.js';

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

initLang();
translateStatic();
fillIcons();
// Touch screens are tapped, others clicked.
const touch = () => matchMedia('(pointer: coarse)').matches || navigator.maxTouchPoints > 0;

// The language switch names the other language, in that language.
const langButton = $('lang');
function showLangButton() {
    const other = currentLang() === 'zh-CN' ? 'en' : 'zh-CN';
    langButton.textContent = LANG_NAMES[other];
    langButton.lang = other;
    langButton.dataset.to = other;
}
showLangButton();
langButton.addEventListener('click', () => {
    setLang(langButton.dataset.to);
    showLangButton();
});
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
    announce: $('chat-announce'),
    myName: () => (room.user && room.user.name) || null,
});
const video = $('player');
// `?player=hls`: LL-HLS through hls.js instead of LL-DASH (where both would work);
// `?player=webrtc`: WebRTC whatever the room's latency mode.
const preferredPlayer = new URLSearchParams(location.search).get('player');
const player = new Player(video, roomId, () => room.serverNow(), preferredPlayer);
// Cards, coupon unlocks and flash-sale starts wait for the frame of their moment.
const clock = new FrameClock(video, () => player.periodStartS(), (meta) => player.frameMediaMs(meta));
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
    isGuest: () => !identity.current || identity.current.source === 'guest',
    toast: (text) => toast.show(text),
    moments,
    onPresenting: (id) => bag.setPresenting(id),
});
const bag = new Bag({
    button: $('bag-open'),
    count: $('bag-count'),
    sheet: $('bag'),
    list: $('bag-list'),
    close: $('bag-close'),
    onPick: (product, presenting) => commerce.showProduct(product, presenting),
});

// ---- player -----------------------------------------------------------------------------

const unmute = $('unmute');
const unmuteText = unmute.querySelector('.unmute-text');
tr(unmuteText, touch() ? 'unmute.tap' : 'unmute.click');
const replayLink = new ReplayLink($('replay-link'), roomId, player); // once the live has ended
player.on('state', (state) => {
    renderVideoStatus($('video-status'), $('video-status-text'), state);
    $('live-badge').dataset.state = state;
    tr($('live-badge'), { waiting: 'badge.soon', ended: 'badge.ended' }[state] || 'badge.live');
    tr($('host-line'), `host.${state}`);
    showLatency();
    unmute.hidden = !(state === 'playing' && video.muted);
    replayLink.update(state);
});
player.on('timed', (ev) => commerce.onTimedEvent(ev));
player.on('playing', () => { unmute.hidden = !video.muted; });
player.on('muted', (muted) => { unmute.hidden = !muted || player.state !== 'playing'; });
player.on('blocked', () => {
    unmute.hidden = false;
    tr(unmuteText, touch() ? 'play.tap' : 'play.click');
});
// The delay behind the live: shown only while there is one to show.
let lastLatency = null;
function showLatency() {
    $('latency-badge').hidden = lastLatency === null || player.state !== 'playing';
    if (lastLatency !== null) $('latency').textContent = t('badge.latencyValue', { s: formatDecimal(lastLatency) });
}
// Ultra-low-latency rooms say whether WebRTC plays or the page fell back to LL-DASH.
player.on('mode', (via) => {
    const badge = $('mode-badge');
    badge.hidden = false;
    badge.dataset.via = via;
    tr(badge, via === 'webrtc' ? 'mode.webrtc' : 'mode.fallback');
});
player.on('latency', (lat) => {
    lastLatency = lat;
    showLatency();
});
unmute.addEventListener('click', () => {
    player.unmute();
    unmute.hidden = true;
    tr(unmuteText, touch() ? 'unmute.tap' : 'unmute.click');
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
let online = 0;
const showOnline = () => { $('online').textContent = formatCount(online); };
room.on('snapshot', (snap, { resumed }) => {
    const title = $('title');
    delete title.dataset.i18n; // the room's own title, as the merchant wrote it
    title.translate = false;
    title.textContent = snap.title || roomId;
    document.title = t('page.title', { title: snap.title || roomId });
    online = snap.online ?? 0;
    showOnline();
    likes.setTotal(snap.likes ?? 0);
    chat.snapshot(snap.comments, { resumed });
    if (!resumed) chat.addSystemKey('chat.welcome', 'welcome');
    commerce.setCoupons(snap.coupons);
    // Every running sale (`flash_sales`; older servers send the latest as `flash_sale`).
    commerce.setSales(snap.flash_sales || (snap.flash_sale ? [snap.flash_sale] : []));
    bag.set(snap.products || []);
    if (snap.pinned) {
        bag.setPresenting((snap.pinned.product || {}).id || null);
        commerce.onPinned(snap.pinned);
    }
});
room.on('products', (m) => bag.set(m.products));
room.on('comment', (m) => chat.addComment(m.comment));
room.on('system', (m) => chat.addSystem(m.text, 'system', { id: m.id || null, ts: m.ts || null }));
room.on('gift', (m) => {
    chat.addGift(m);
    gifts.onGift(m);
});
room.on('likes', (m) => likes.setTotal(m.total));
room.on('online', (m) => {
    online = m.count;
    showOnline();
});
document.addEventListener('langchange', () => {
    showOnline();
    showLatency();
    likes.render();
    document.title = t('page.title', { title: $('title').textContent });
});
room.on('moderation', (m) => {
    if (m.action === 'hide') chat.hide(m.comment_id);
    else if (m.action === 'pin') chat.pin(m.comment_id);
    else if (m.action === 'mute' && isMe(m.user_id)) {
        chat.addSystemKey('chat.mutedMe', 'notice');
        trAttr($('chat-input'), 'placeholder', 'composer.muted');
    } else if (m.action === 'unmute' && isMe(m.user_id)) {
        chat.addSystemKey('chat.unmutedMe', 'notice');
        trAttr($('chat-input'), 'placeholder', 'composer.placeholder');
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
    const key = {
        muted: 'toast.muted',
        rate_limited: 'toast.rateLimited',
        too_large: 'toast.tooLarge',
        bad_message: 'toast.badMessage',
        forbidden: 'toast.forbidden',
    }[m.code];
    if (key) toast.show(t(key), 'error');
    else if (m.code !== 'invalid_token') console.warn('room error', m.code, m.message);
});
room.on('token_refused', () => console.info('token refused; getting a new one'));
room.on('fatal', (code, message) => {
    // (The server's own message is English: the page says it in the viewer's language.)
    toast.show(t(code === 'unknown_room' ? 'toast.unknownRoom' : 'toast.cannotJoin'), 'error', 10_000);
    if (message) console.info('cannot join:', code, message);
});

// ---- chat input -------------------------------------------------------------------------

$('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text) return;
    const length = [...text].length;
    if (length > 500) {
        toast.show(t('toast.tooLong', { n: length }), 'error');
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
        tr($('name-hint'), 'name.fromUrl');
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
        toast.show(t('name.failed'), 'error');
    }
});

// ---- start ------------------------------------------------------------------------------

identity.ensure().then(() => {
    showMe();
    if (identity.refusedUrlToken) toast.show(t('toast.linkExpired'));
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
    get via() { return player.via; },
    get latencyMode() { return player.latencyMode; },
    get webrtcFailed() { return player.webrtcFailed; },
    get qualitySwitches() { return player.switches; },
    get cards() { return commerce.shown; },
    get timed() { return commerce.timed; },
    get period() { return player.period; },
    get playedPeriod() { return player.playedPeriod; },
    get ws() { return room.ws; },
    get lang() { return currentLang(); },
    serverNow: () => room.serverNow(),
    room,
    player,
    commerce,
    bag,
    clock,
    moments,
};
