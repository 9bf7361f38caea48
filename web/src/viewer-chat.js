// viewer-chat.js — the chat list: comments (own ones marked, plugin replies styled as the
// host's), system lines and gift lines; moderation (hide, pin, mute of me); merging a
// fresh snapshot into what is on screen without flashing; at most ~200 items in the DOM;
// sticks to the bottom unless the viewer scrolled up. Every text goes in with textContent.

import { el } from './viewer-util.js';
import { icon } from './viewer-icons.js';

const MAX_ITEMS = 200;

export class Chat {
    /** `opts`: {list, pinned, newMsgs, isMe(userId) → bool, serverNow() → ms, giftLabel(id)} */
    constructor(opts) {
        this.list = opts.list;
        this.pinnedBox = opts.pinned;
        this.newMsgs = opts.newMsgs;
        this.isMe = opts.isMe;
        this.serverNow = opts.serverNow;
        this.giftLabel = opts.giftLabel;
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
        if (node.dataset.id && node.classList.contains('comment')) this.byId.delete(node.dataset.id);
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
        if (staff) node.append(el('span', { class: 'role', text: plugin || c.user.role === 'host' ? 'HOST' : 'MOD' }));
        node.append(el('span', { class: 'name', text: mine ? `${c.user.name} (you)` : c.user.name }));
        if (c.reply_to) {
            const orig = this.byId.get(c.reply_to);
            if (orig) {
                node.append(el('span', { class: 'reply-to', text: `@${orig.comment.user.name} ` }));
            }
        }
        node.append(el('span', { class: 'text', text: c.text }));
        return node;
    }

    /** A `comment` frame (or a snapshot comment). */
    addComment(c) {
        if (!c || !c.id || this.hidden.has(c.id)) return;
        const existing = this.byId.get(c.id);
        if (existing) return;
        const node = this.commentNode(c);
        this.byId.set(c.id, { node, comment: c });
        this.insert(node, c.ts || this.serverNow(), { own: this.isMe(c.user.id) });
        if (this.pinnedId === c.id) this.renderPinned();
    }

    addSystem(text, kind = 'system') {
        const node = el('li', { class: kind }, el('span', { class: 'text', text }));
        this.insert(node, this.serverNow());
    }

    addGift(msg) {
        const gift = this.giftLabel(msg.gift_id);
        const mine = this.isMe(msg.user.id);
        const node = el('li', { class: `gift-line gift-${gift.id}${mine ? ' own' : ''}`, dataset: { user: msg.user.id } },
            el('span', { class: 'name', text: mine ? `${msg.user.name} (you)` : msg.user.name }),
            el('span', { class: 'text', text: `sent a ${gift.label}${msg.count > 1 ? ` ×${msg.count}` : ''}` }),
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
            el('span', { class: 'name', text: c.user.name }),
            el('span', { class: 'text', text: c.text }),
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
                const viewerComment = !String(c.user.id).startsWith('plugin:');
                if (viewerComment && c.ts >= oldest && !keep.has(id) && !this.isMe(c.user.id)) {
                    this.remove(e.node);
                }
            }
        }
        for (const c of list) this.addComment(c);
        this.scrollToEnd();
    }
}
