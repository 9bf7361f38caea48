// viewer-chat.js — the chat list: comments (own ones marked, plugin replies styled as the
// host's), system lines and gift lines; moderation (hide, pin, mute of me); merging a
// fresh snapshot into what is on screen without flashing; at most ~200 items in the DOM;
// sticks to the bottom unless the viewer scrolled up. Every text goes in with textContent;
// what viewers and the shop wrote is marked translate="no" (content, not the page's words).
//
// The list itself is not a live region (a busy room would talk without pause): only a
// comment that mentions the viewer (@name) or replies to them is announced, through the
// separate `announce` region, at most one every ANNOUNCE_GAP_MS.

import { el } from './viewer-util.js';
import { icon } from './viewer-icons.js';
import { tr, trSlots } from './viewer-i18n.js';

const MAX_ITEMS = 200;
const ANNOUNCE_GAP_MS = 3000;

export class Chat {
    /** `opts`: {list, pinned, newMsgs, isMe(userId) → bool, serverNow() → ms, giftLabel(id),
     *  announce (a polite live region), myName() → the viewer's name or null} */
    constructor(opts) {
        this.list = opts.list;
        this.pinnedBox = opts.pinned;
        this.newMsgs = opts.newMsgs;
        this.isMe = opts.isMe;
        this.serverNow = opts.serverNow;
        this.giftLabel = opts.giftLabel;
        this.announceBox = opts.announce || null;
        this.myName = opts.myName || (() => null);
        this.lastAnnounce = -Infinity; // the first mention is announced however young the page
        this.announced = []; // what was announced (exposed to tests)
        this.byId = new Map(); // comment id → {node, comment}
        this.hidden = new Set(); // comment ids hidden by moderators
        this.pinnedId = null;
        this.stuck = true; // following the latest comments (the viewer has not scrolled up)
        this.list.addEventListener('scroll', () => {
            this.stuck = this.atBottom();
            if (this.stuck) this.newMsgs.hidden = true;
        });
        // The list changes size (banners come and go, the keyboard opens) or its bottom
        // spacer changes ('relayout', for cards): stay on the latest comments.
        const follow = () => { if (this.stuck) this.list.scrollTop = this.list.scrollHeight; };
        if (window.ResizeObserver) new ResizeObserver(follow).observe(this.list);
        this.list.addEventListener('relayout', follow);
        this.newMsgs.addEventListener('click', () => this.scrollToEnd());
    }

    atBottom() {
        const l = this.list;
        return l.scrollHeight - l.scrollTop - l.clientHeight < 40;
    }

    scrollToEnd() {
        this.list.scrollTop = this.list.scrollHeight;
        this.stuck = true;
        this.newMsgs.hidden = true;
    }

    /** Add `node` in server-time order (`ts`), keeping the view at the bottom if it was. */
    insert(node, ts, { own = false } = {}) {
        const stick = this.stuck || own;
        node._ts = ts;
        let after = this.list.lastElementChild;
        while (after && after._ts > ts) after = after.previousElementSibling;
        if (after) after.after(node);
        else this.list.prepend(node);
        while (this.list.childElementCount > MAX_ITEMS) this.remove(this.list.firstElementChild);
        if (stick) this.scrollToEnd();
        else this.newMsgs.hidden = false;
    }

    remove(node) {
        if (!node) return;
        if (node.dataset.id && (node.classList.contains('comment') || node.classList.contains('system'))) {
            this.byId.delete(node.dataset.id);
        }
        node.remove();
    }

    commentNode(c) {
        const mine = this.isMe(c.user.id);
        const plugin = String(c.user.id).startsWith('plugin:');
        const staff = plugin || c.user.role === 'host' || c.user.role === 'moderator';
        const cls = ['comment'];
        if (mine) cls.push('own');
        if (plugin) cls.push('host-reply');
        else if (staff) cls.push(`role-${c.user.role}`);
        const node = el('li', { class: cls.join(' '), dataset: { id: c.id, user: c.user.id } });
        if (staff) node.append(tr(el('span', { class: 'role' }), plugin || c.user.role === 'host' ? 'chat.host' : 'chat.mod'));
        node.append(this.nameNode(c.user.name, mine));
        if (c.reply_to) {
            const orig = this.byId.get(c.reply_to);
            if (orig) {
                node.append(el('span', { class: 'reply-to', translate: 'no', text: `@${orig.comment.user.name} ` }));
            }
        }
        node.append(el('span', { class: 'text', translate: 'no', text: c.text }));
        return node;
    }

    /** A name (user content); the viewer's own says so in the page's words. */
    nameNode(name, mine) {
        if (!mine) return el('span', { class: 'name', translate: 'no', text: name });
        return trSlots(el('span', { class: 'name' }), 'chat.you', { name: el('span', { translate: 'no', text: name }) });
    }

    /** Announce comment `c` if it is for the viewer: a reply to one of theirs, or @name. */
    maybeAnnounce(c) {
        if (!this.announceBox || this.isMe(c.user.id)) return;
        const orig = c.reply_to && this.byId.get(c.reply_to);
        const reply = orig && this.isMe(orig.comment.user.id);
        const me = this.myName();
        const mention = me && String(c.text).toLowerCase().includes(`@${me.toLowerCase()}`);
        if (!reply && !mention) return;
        const now = performance.now();
        if (now - this.lastAnnounce < ANNOUNCE_GAP_MS) return;
        this.lastAnnounce = now;
        trSlots(this.announceBox, reply ? 'chat.reply' : 'chat.mention', {
            name: el('span', { translate: 'no', text: c.user.name }),
            text: el('span', { translate: 'no', text: c.text }),
        });
        this.announced.push(this.announceBox.textContent);
    }

    /** A `comment` frame (or a snapshot comment). */
    addComment(c, { live = true } = {}) {
        if (!c || !c.id || this.hidden.has(c.id)) return;
        const existing = this.byId.get(c.id);
        if (existing) return;
        if (c.kind === 'system') {
            this.addSystem(c.text, 'system', { id: c.id, ts: c.ts });
            return;
        }
        const node = this.commentNode(c);
        this.byId.set(c.id, { node, comment: c });
        this.insert(node, c.ts || this.serverNow(), { own: this.isMe(c.user.id) });
        if (this.pinnedId === c.id) this.renderPinned();
        if (live) this.maybeAnnounce(c);
    }

    /** A system line the room sent (a plugin's or the shop's words: content). With its
     *  `id`, a snapshot that has it too (among its comments) does not add it twice. */
    addSystem(text, kind = 'system', { id = null, ts = null } = {}) {
        if (id && this.byId.has(id)) return;
        const node = el('li', { class: kind }, el('span', { class: 'text', translate: 'no', text }));
        if (id) node.dataset.id = id;
        if (id) this.byId.set(id, { node, comment: { id, kind: 'system', text, ts, user: { id: 'system' } } });
        this.insert(node, ts || this.serverNow());
    }

    /** A system line of the page's own (string `key`). */
    addSystemKey(key, kind = 'system') {
        const node = el('li', { class: kind }, tr(el('span', { class: 'text' }), key));
        this.insert(node, this.serverNow());
    }

    addGift(msg) {
        const gift = this.giftLabel(msg.gift_id);
        const mine = this.isMe(msg.user.id);
        // A known gift's name is a string of ours (re-translated with the line).
        const text = tr(el('span', { class: 'text' }), msg.count > 1 ? 'chat.giftMany' : 'chat.gift',
            { gift: gift.key ? { key: gift.key } : gift.label, n: msg.count });
        const node = el('li', { class: `gift-line gift-${gift.id}${mine ? ' own' : ''}`, dataset: { user: msg.user.id } },
            this.nameNode(msg.user.name, mine),
            text,
            icon(gift.icon, 'gift-icon'));
        this.insert(node, this.serverNow(), { own: mine });
    }

    hide(id) {
        this.hidden.add(id);
        const e = this.byId.get(id);
        if (e) this.remove(e.node);
        if (this.pinnedId === id) {
            this.pinnedId = null;
            this.renderPinned();
        }
    }

    pin(id) {
        this.pinnedId = id;
        this.renderPinned();
    }

    renderPinned() {
        const e = this.pinnedId && this.byId.get(this.pinnedId);
        this.pinnedBox.replaceChildren();
        if (!e) {
            this.pinnedBox.hidden = true;
            return;
        }
        const c = e.comment;
        this.pinnedBox.append(
            el('span', { class: 'pin-icon' }, icon('pin')),
            el('span', { class: 'name', translate: 'no', text: c.user.name }),
            el('span', { class: 'text', translate: 'no', text: c.text }),
        );
        this.pinnedBox.dataset.id = c.id;
        this.pinnedBox.hidden = false;
    }

    /** A snapshot: the room's recent comments. The first one fills the list; a later one
     *  (after a reconnect the history could not cover) is merged into what is on screen:
     *  comments it no longer has within its time span were hidden meanwhile; the ones it
     *  has that are missing are added in order; plugin replies and system lines stay. */
    snapshot(comments, { resumed }) {
        const list = (comments || []).filter((c) => !this.hidden.has(c.id));
        if (!resumed) {
            this.list.replaceChildren();
            this.byId.clear();
        } else if (list.length) {
            const keep = new Set(list.map((c) => c.id));
            const oldest = Math.min(...list.map((c) => c.ts));
            for (const [id, e] of [...this.byId]) {
                const c = e.comment;
                const viewerComment = c.kind !== 'system' && !String(c.user.id).startsWith('plugin:');
                if (viewerComment && c.ts >= oldest && !keep.has(id) && !this.isMe(c.user.id)) {
                    this.remove(e.node);
                }
            }
        }
        for (const c of list) this.addComment(c, { live: false });
        this.scrollToEnd();
    }
}
