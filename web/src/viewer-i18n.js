// viewer-i18n.js — every string of the viewer page in zh-CN and en (one table per
// language, the same keys in both), the page's language (a choice kept in localStorage,
// else the browser's languages: zh* → zh-CN, anything else → en), and the locale's number,
// price and duration formats (Intl).
//
// `t(key, params)` translates; `{name}` in a string is replaced by `params.name`
// (numbers go through `formatCount`, `{cents, currency}` objects through `formatPrice`,
// `{key}` objects are strings of ours, translated in turn).
// `tr(node, key, params)` sets a node's text and remembers the key, `trAttr` does the
// same for an attribute, and `trSlots` fills a string around existing child nodes (a
// number kept in its own span); `setLang` re-translates every remembered node and fires
// `langchange` on `document` for what a module renders itself (counts, prices).
//
// Until a page calls `initLang()` the language is en, so pages that reuse viewer modules
// without translating themselves (the replay page) stay in one language.

const STRINGS = {
    en: {
        'page.title': '{title} · livecart',
        'lang.switch': 'Language',
        'stage.label': 'Live video',
        'badge.live': 'LIVE',
        'badge.soon': 'SOON',
        'badge.ended': 'ENDED',
        'badge.latency': 'Delay behind the live',
        'badge.latencySr': 'Delay',
        'badge.latencyValue': '{s} s',
        'mode.title': 'How this video reaches you',
        'mode.webrtc': 'Ultra-low latency',
        'mode.fallback': 'Standard latency',
        'badge.viewers': 'Watching now',
        'status.loading': 'Loading the live…',
        'status.waiting': 'Waiting for the host… The live starts soon.',
        'status.ended': 'This live has ended. Thanks for watching!',
        'status.unsupported': 'This browser cannot play the live video.',
        'replay.watch': 'Watch the replay',
        'replay.last': 'Watch the last live',
        'unmute.tap': 'Tap to unmute',
        'unmute.click': 'Click to unmute',
        'play.tap': 'Tap to play',
        'play.click': 'Click to play',
        'conn.connecting': 'Connecting…',
        'conn.live': 'Connected',
        'conn.reconnecting': 'Reconnecting…',
        'conn.offline': 'Offline',
        'room.title': 'Live room',
        'room.sub': 'livecart live',
        'host.loading': 'Connecting to the live…',
        'host.playing': 'Live now',
        'host.waiting': 'Starting soon',
        'host.ended': 'The live has ended',
        'host.unsupported': 'Chat only on this browser',
        'me.title': 'Change your display name',
        'coupons.label': 'Coupons',
        'coupon.claim': 'Claim',
        'coupon.claiming': 'Claiming…',
        'coupon.retry': 'Try again',
        'coupon.claimed': 'Claimed ✓',
        'coupon.unavailable': 'Unavailable',
        'coupon.ok': 'Claimed! It is in your account.',
        'coupon.limit': 'Not claimed: you have reached the limit of {n} claims for this coupon.',
        'coupon.limitOne': 'Not claimed: you have reached the limit of 1 claim for this coupon.',
        'coupon.signIn': 'Sign in to claim',
        'coupon.minSpend': '{off} off orders of {min} or more',
        'sale.signIn': 'Sign in to buy',
        'err.signIn': 'This offer is for signed-in viewers. Sign in with the shop to get it.',
        'err.guestLimit': 'Guests on this device or network have used up this offer. Sign in with the shop to get it.',
        'sale.label': 'Flash sale',
        'sale.tag': 'Flash sale',
        'sale.endsIn': 'Ends in',
        'sale.startsIn': 'Starts in',
        'sale.left': '{n} left',
        'sale.buy': 'Buy now',
        'sale.soldOut': 'Sold out',
        'sale.buying': 'Buying…',
        'sale.soon': 'Soon',
        'sale.ordered': 'Order placed: {title}, {price}',
        'sale.pickSku': 'Choose a size or colour',
        'sale.pickFirst': 'Choose a size or colour first.',
        'sale.confirmLine': 'Buy {title} for {price}?',
        'sale.confirm': 'Confirm',
        'sale.cancel': 'Cancel',
        'sale.limitReached': 'Limit reached',
        'sale.skuSoldOut': 'Sold out',
        'err.skuSoldOut': '{name} is sold out. Try another size or colour.',
        'sale.more': 'Also on sale:',
        'err.noAnswer': 'No answer from the shop. Please try again.',
        'err.unknown': 'This offer no longer exists.',
        'err.locked': 'This coupon is not unlocked yet.',
        'err.notYet': 'This offer has not started yet.',
        'err.ended': 'This offer has ended.',
        'err.soldOut': 'Sold out.',
        'err.saleLimit': 'You have reached the limit of {n} for this sale.',
        'err.generic': 'Something went wrong. Please try again.',
        'card.buy': 'Buy now',
        'card.close': 'Close',
        'card.presenting': 'Now presenting',
        'card.recommended': 'Recommended',
        'card.product': 'Product',
        'card.only': 'Only {n} left',
        'card.fromBag': 'In this live',
        'bag.open': 'Products in this live: {n}',
        'bag.title': 'Products in this live',
        'bag.close': 'Close',
        'bag.presenting': 'Now presenting',
        'bag.stock': '{n} in stock',
        'bag.soldOut': 'Sold out',
        'bag.show': 'Show',
        'chat.label': 'Chat',
        'chat.new': 'New messages ↓',
        'chat.you': '{name} (you)',
        'chat.host': 'HOST',
        'chat.mod': 'MOD',
        'chat.gift': 'sent a {gift}',
        'chat.giftMany': 'sent a {gift} ×{n}',
        'chat.welcome': 'Welcome! Ask the host anything in the chat, and be kind.',
        'chat.mutedMe': 'A moderator muted you: your comments are not shown for now.',
        'chat.unmutedMe': 'You can chat again.',
        'chat.mention': '{name} mentioned you: {text}',
        'chat.reply': '{name} replied to you: {text}',
        'composer.placeholder': 'Say something…',
        'composer.muted': 'You are muted',
        'composer.label': 'Comment',
        'composer.send': 'Send',
        'composer.gift': 'Send a gift',
        'composer.like': 'Like',
        'gifts.label': 'Gifts',
        'gift.rose': 'Rose',
        'gift.heart': 'Heart',
        'gift.rocket': 'Rocket',
        'gift.crown': 'Crown',
        'gift.sent': ' sent {gift}',
        'name.title': 'Your name in the chat',
        'name.hint': 'Other viewers see this name next to your comments.',
        'name.fromUrl': 'Your name comes from your invitation link and cannot be changed here.',
        'name.placeholder': 'e.g. Mei',
        'name.label': 'Display name',
        'name.cancel': 'Cancel',
        'name.save': 'Save',
        'name.failed': 'Could not change your name right now.',
        'toast.muted': 'You are muted in this room.',
        'toast.rateLimited': 'Slow down a little — too many messages.',
        'toast.tooLarge': 'That message is too long.',
        'toast.badMessage': 'That message could not be sent.',
        'toast.forbidden': 'You are not allowed to do that.',
        'toast.unknownRoom': 'This live room does not exist.',
        'toast.cannotJoin': 'Cannot join this room.',
        'toast.tooLong': 'Comments are at most 500 characters (this one has {n}).',
        'toast.linkExpired': 'Your link has expired: you are watching as a guest.',
        'missing.title': 'No such live room',
        'missing.text': 'Check the link you were given: this live room does not exist, or it was closed.',
    },
    'zh-CN': {
        'page.title': '{title} · livecart',
        'lang.switch': '语言',
        'stage.label': '直播画面',
        'badge.live': '直播中',
        'badge.soon': '即将开播',
        'badge.ended': '已结束',
        'badge.latency': '与直播现场的延迟',
        'badge.latencySr': '延迟',
        'badge.latencyValue': '{s} 秒',
        'mode.title': '视频传输方式',
        'mode.webrtc': '超低延迟',
        'mode.fallback': '标准延迟',
        'badge.viewers': '正在观看',
        'status.loading': '直播加载中…',
        'status.waiting': '主播马上就来，直播即将开始。',
        'status.ended': '本场直播已结束，感谢观看！',
        'status.unsupported': '此浏览器无法播放直播视频。',
        'replay.watch': '观看回放',
        'replay.last': '观看上一场直播',
        'unmute.tap': '点按开启声音',
        'unmute.click': '点击开启声音',
        'play.tap': '点按播放',
        'play.click': '点击播放',
        'conn.connecting': '连接中…',
        'conn.live': '已连接',
        'conn.reconnecting': '正在重新连接…',
        'conn.offline': '网络已断开',
        'room.title': '直播间',
        'room.sub': 'livecart 直播',
        'host.loading': '正在连接直播…',
        'host.playing': '正在直播',
        'host.waiting': '即将开播',
        'host.ended': '直播已结束',
        'host.unsupported': '此浏览器仅支持聊天',
        'me.title': '修改昵称',
        'coupons.label': '优惠券',
        'coupon.claim': '领取',
        'coupon.claiming': '领取中…',
        'coupon.retry': '重试',
        'coupon.claimed': '已领取 ✓',
        'coupon.unavailable': '不可领取',
        'coupon.ok': '领取成功！已放入你的账户。',
        'coupon.limit': '未领取：此券每人限领 {n} 张，你已领满。',
        'coupon.limitOne': '未领取：此券每人限领 1 张，你已领过。',
        'coupon.signIn': '登录后领取',
        'coupon.minSpend': '满{minN}减{offN}',
        'sale.signIn': '登录后购买',
        'err.signIn': '该优惠仅限登录用户，请先登录店铺账号。',
        'err.guestLimit': '本设备或网络的游客已领完该优惠，请登录店铺账号后领取。',
        'sale.label': '限时秒杀',
        'sale.tag': '限时秒杀',
        'sale.endsIn': '距结束',
        'sale.startsIn': '距开始',
        'sale.left': '仅剩 {n} 件',
        'sale.buy': '立即抢购',
        'sale.soldOut': '已抢光',
        'sale.buying': '抢购中…',
        'sale.soon': '即将开始',
        'sale.ordered': '已下单：{title} {price}',
        'sale.pickSku': '选择规格',
        'sale.pickFirst': '请先选择规格。',
        'sale.confirmLine': '确认购买：{title} {price}',
        'sale.confirm': '确认购买',
        'sale.cancel': '取消',
        'sale.limitReached': '已达限购',
        'sale.skuSoldOut': '已抢光',
        'err.skuSoldOut': '{name}已抢光，换个规格试试。',
        'sale.more': '同时秒杀：',
        'err.noAnswer': '店铺没有响应，请重试。',
        'err.unknown': '该优惠已不存在。',
        'err.locked': '该优惠券尚未解锁。',
        'err.notYet': '活动尚未开始。',
        'err.ended': '活动已结束。',
        'err.soldOut': '已抢光。',
        'err.saleLimit': '本场秒杀每人限购 {n} 件，你已买满。',
        'err.generic': '出了点问题，请重试。',
        'card.buy': '立即购买',
        'card.close': '关闭',
        'card.presenting': '讲解中',
        'card.recommended': '为你推荐',
        'card.product': '商品',
        'card.only': '仅剩 {n} 件',
        'card.fromBag': '本场商品',
        'bag.open': '本场商品 {n} 件',
        'bag.title': '本场商品',
        'bag.close': '关闭',
        'bag.presenting': '讲解中',
        'bag.stock': '库存 {n}',
        'bag.soldOut': '已售罄',
        'bag.show': '查看',
        'chat.label': '聊天',
        'chat.new': '有新消息 ↓',
        'chat.you': '{name}（我）',
        'chat.host': '主播',
        'chat.mod': '场控',
        'chat.gift': '送出 {gift}',
        'chat.giftMany': '送出 {gift} ×{n}',
        'chat.welcome': '欢迎来到直播间！有问题尽管在聊天里问主播，请文明发言。',
        'chat.mutedMe': '你已被场控禁言，暂时无法发言。',
        'chat.unmutedMe': '你可以继续聊天了。',
        'chat.mention': '{name} 提到了你：{text}',
        'chat.reply': '{name} 回复了你：{text}',
        'composer.placeholder': '说点什么…',
        'composer.muted': '你已被禁言',
        'composer.label': '评论',
        'composer.send': '发送',
        'composer.gift': '送礼物',
        'composer.like': '点赞',
        'gifts.label': '礼物',
        'gift.rose': '玫瑰',
        'gift.heart': '爱心',
        'gift.rocket': '火箭',
        'gift.crown': '皇冠',
        'gift.sent': ' 送出 {gift}',
        'name.title': '你在聊天中的昵称',
        'name.hint': '其他观众会在你的评论旁看到这个昵称。',
        'name.fromUrl': '你的昵称来自邀请链接，不能在这里修改。',
        'name.placeholder': '例如：小美',
        'name.label': '昵称',
        'name.cancel': '取消',
        'name.save': '保存',
        'name.failed': '暂时无法修改昵称。',
        'toast.muted': '你在本直播间已被禁言。',
        'toast.rateLimited': '发言太快了，请稍后再试。',
        'toast.tooLarge': '消息太长了。',
        'toast.badMessage': '消息发送失败。',
        'toast.forbidden': '你没有权限这样做。',
        'toast.unknownRoom': '该直播间不存在。',
        'toast.cannotJoin': '无法进入该直播间。',
        'toast.tooLong': '评论最多 500 个字（当前 {n} 个）。',
        'toast.linkExpired': '链接已过期，你正以游客身份观看。',
        'missing.title': '直播间不存在',
        'missing.text': '请检查你收到的链接：该直播间不存在或已关闭。',
    },
};

export const LANGS = Object.keys(STRINGS);
/** How each language names itself (the switch shows the other one). */
export const LANG_NAMES = { en: 'English', 'zh-CN': '中文' };
const KEY = 'livecart:lang';

let lang = 'en';

/** The page's language for a list of preferred languages (e.g. navigator.languages). */
export function pickLang(preferred) {
    for (const l of preferred || []) {
        const s = String(l).toLowerCase();
        if (s.startsWith('zh')) return 'zh-CN';
        if (s.startsWith('en')) return 'en';
    }
    return 'en';
}

/** Choose the page's language: the viewer's saved choice, else the browser's. */
export function initLang() {
    let saved = null;
    try { saved = localStorage.getItem(KEY); } catch (_) { /* storage disabled */ }
    const chosen = LANGS.includes(saved) ? saved : pickLang(navigator.languages || [navigator.language]);
    applyLang(chosen);
    return lang;
}

export function currentLang() {
    return lang;
}

/** Switch languages, remember the choice, and re-translate the page. */
export function setLang(next) {
    if (!LANGS.includes(next)) return;
    try { localStorage.setItem(KEY, next); } catch (_) { /* storage disabled */ }
    applyLang(next);
    for (const node of document.querySelectorAll('[data-i18n], [data-i18n-attr], [data-i18n-slots]')) retranslate(node);
    document.dispatchEvent(new CustomEvent('langchange', { detail: { lang } }));
}

function applyLang(next) {
    lang = next;
    document.documentElement.lang = next;
}

// ---- formats ---------------------------------------------------------------------------

const formats = new Map();
function format(kind, make) {
    const key = `${lang}|${kind}`;
    if (!formats.has(key)) formats.set(key, make(lang));
    return formats.get(key);
}

/** A count: grouped (4080 → "4,080"); in zh-CN 10,000 and more in 万 (12000 → "1.2万"). */
export function formatCount(n) {
    const v = Number(n) || 0;
    if (lang === 'zh-CN' && Math.abs(v) >= 10_000) {
        return format('compact', (l) => new Intl.NumberFormat(l, { notation: 'compact', maximumFractionDigits: 1 })).format(v);
    }
    return format('count', (l) => new Intl.NumberFormat(l, { maximumFractionDigits: 0 })).format(v);
}

/** A decimal with one fraction digit (latency seconds). */
export function formatDecimal(n) {
    return format('dec1', (l) => new Intl.NumberFormat(l, { minimumFractionDigits: 1, maximumFractionDigits: 1 })).format(n);
}

/** `9900, 'CNY'` → "¥99" (whole amounts without cents), `990, 'CNY'` → "¥9.90"; the
 *  narrow symbol, as shoppers write prices, in the page's locale. Amounts are in minor
 *  units. */
export function formatPrice(cents, currency) {
    const code = currency || 'CNY';
    let f;
    try {
        f = format(`cur:${code}`, (l) => new Intl.NumberFormat(l, { style: 'currency', currency: code, currencyDisplay: 'narrowSymbol' }));
    } catch (_) {
        f = format('cur:CNY', (l) => new Intl.NumberFormat(l, { style: 'currency', currency: 'CNY', currencyDisplay: 'narrowSymbol' }));
    }
    const digits = f.resolvedOptions().maximumFractionDigits;
    const amount = Number(cents || 0) / 10 ** digits;
    if (Number.isInteger(amount)) {
        const whole = format(`cur0:${f.resolvedOptions().currency}`, (l) => new Intl.NumberFormat(l, {
            style: 'currency', currency: f.resolvedOptions().currency, currencyDisplay: 'narrowSymbol', maximumFractionDigits: 0, minimumFractionDigits: 0,
        }));
        return whole.format(amount);
    }
    return f.format(amount);
}

// ---- translation -----------------------------------------------------------------------

function value(v) {
    if (typeof v === 'number') return formatCount(v);
    if (v && typeof v === 'object' && 'cents' in v) return formatPrice(v.cents, v.currency);
    if (v && typeof v === 'object' && 'key' in v) return t(v.key);
    return String(v ?? '');
}

/** The string `key` in the page's language with `params` filled in. */
export function t(key, params = {}) {
    const s = STRINGS[lang][key] ?? STRINGS.en[key];
    if (s === undefined) {
        console.warn('missing string', key);
        return key;
    }
    return s.replace(/\{(\w+)\}/g, (_, name) => value(params[name]));
}

/** Whether `key` is a string of this table. */
export function has(key) {
    return key in STRINGS.en;
}

/** Set `node`'s text to `t(key, params)` and keep it translated on a language switch. */
export function tr(node, key, params) {
    delete node.dataset.i18nSlots;
    node.dataset.i18n = key;
    if (params && Object.keys(params).length) node.dataset.i18nArgs = JSON.stringify(params);
    else delete node.dataset.i18nArgs;
    node.textContent = t(key, params);
    return node;
}

/** Set `node`'s text to `text` (not one of our strings: nothing to re-translate). */
export function untr(node, text = '') {
    delete node.dataset.i18n;
    delete node.dataset.i18nArgs;
    delete node.dataset.i18nSlots;
    node.textContent = text;
    return node;
}

/** Set attribute `attr` of `node` to `t(key, params)`, kept translated. */
export function trAttr(node, attr, key, params) {
    const map = JSON.parse(node.dataset.i18nAttr || '{}');
    map[attr] = [key, params || {}];
    node.dataset.i18nAttr = JSON.stringify(map);
    node.setAttribute(attr, t(key, params));
    return node;
}

/** Fill `node` with `t(key)` around child nodes `slots` ({name: Node}): "{n} left" with
 *  `{n: span}` becomes [span, " left"], and "仅剩 {n} 件" [" 仅剩 ", span, " 件"]. The slot
 *  nodes are kept (others update them), only the words around them change. */
export function trSlots(node, key, slots) {
    delete node.dataset.i18n;
    node.dataset.i18nSlots = key;
    for (const [name, child] of Object.entries(slots)) child.dataset.slot = name;
    fillSlots(node, key, slots);
    return node;
}

function fillSlots(node, key, slots) {
    const parts = t(key, Object.fromEntries(Object.keys(slots).map((k) => [k, `\u0000${k}\u0000`]))).split('\u0000');
    // Even parts are words, odd parts slot names.
    const out = [];
    parts.forEach((p, i) => {
        if (i % 2) {
            if (slots[p]) out.push(slots[p]);
        } else if (p) out.push(p);
    });
    node.replaceChildren(...out);
}

function retranslate(node) {
    if (node.dataset.i18n) node.textContent = t(node.dataset.i18n, JSON.parse(node.dataset.i18nArgs || '{}'));
    if (node.dataset.i18nAttr) {
        for (const [attr, [key, params]] of Object.entries(JSON.parse(node.dataset.i18nAttr))) node.setAttribute(attr, t(key, params));
    }
    if (node.dataset.i18nSlots) {
        const slots = {};
        for (const child of node.querySelectorAll(':scope > [data-slot]')) slots[child.dataset.slot] = child;
        fillSlots(node, node.dataset.i18nSlots, slots);
    }
}

/** Translate the page's static markup: `data-i18n="key"` (text) and
 *  `data-i18n-attr='{"placeholder":["key",{}]}'`-style attributes written as
 *  `data-t-placeholder="key"`, `data-t-aria-label="key"`, `data-t-title="key"`. */
export function translateStatic(root = document) {
    for (const node of root.querySelectorAll('[data-i18n]')) retranslate(node);
    for (const attr of ['placeholder', 'aria-label', 'title']) {
        for (const node of root.querySelectorAll(`[data-t-${attr}]`)) trAttr(node, attr, node.getAttribute(`data-t-${attr}`));
    }
}

/** The key sets of both languages (for tests: they must be identical). */
export function keySets() {
    return Object.fromEntries(LANGS.map((l) => [l, Object.keys(STRINGS[l]).sort()]));
}
