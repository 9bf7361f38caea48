// In-page checks shared by the viewer layout and language scenarios
// (web/tests/viewer-layout.mjs, web/tests/viewer-states.mjs). Each export is a function
// passed to `page.evaluate`, so it must not use anything outside itself.
//
//   wrongLanguage([lang, allow]) → [{text, where}]: every text the viewer can see or hear
//        (visible text nodes, screen-reader-only text, and the placeholder, aria-label,
//        title and alt of visible elements) that is not in `lang`. Text inside
//        translate="no" (what viewers and the shop wrote) and inside an element whose
//        `lang` names another language (the language switch) is not the page's. zh-CN:
//        no Latin words except `allow` (brand names, units); en: no CJK characters.
//   boxes(selectors) → {selector: {top, left, bottom, right, width, height} | null}: the
//        first visible match of each selector, in CSS pixels.
//   contrasts(selectors) → [{selector, text, ratio, fg, bg}]: the contrast of each visible
//        element's text against what is behind it. Backgrounds (colours and gradient
//        stops, the worst stop counts) are composited from the element up; what is over
//        the video counts the picture as white (the worst case for light text).
//   coveredAt([selector, container]) → [{x, y, by}]: points of an element (its corners,
//        inset 4 px, and centre) where something outside `container` (default: the
//        element) is on top.

export function wrongLanguage([lang, allow]) {
    const allowed = new Set(allow.map((w) => w.toLowerCase()));
    const bad = [];
    const where = (n) => {
        const path = [];
        for (let e = n; e && e !== document.body && path.length < 4; e = e.parentElement) {
            path.unshift(e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}${e.classList.length ? `.${[...e.classList].join('.')}` : ''}`);
        }
        return path.join(' > ');
    };
    const foreign = (e) => {
        if (e.closest('[translate="no"]')) return true;
        const tagged = e.closest('[lang]');
        return Boolean(tagged && tagged !== document.documentElement && tagged.lang !== lang);
    };
    const check = (text, node) => {
        const s = String(text || '').trim();
        if (!s) return;
        if (lang === 'zh-CN') {
            const words = (s.match(/[A-Za-z]+/g) || []).filter((w) => !allowed.has(w.toLowerCase()));
            if (words.length) bad.push({ text: s, words, where: where(node) });
        } else if (/[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]/.test(s)) {
            bad.push({ text: s, where: where(node) });
        }
    };
    const shown = (e) => e.checkVisibility({ visibilityProperty: true, opacityProperty: false });
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const e = n.parentElement;
        if (!e || ['SCRIPT', 'STYLE'].includes(e.tagName) || foreign(e) || !shown(e)) continue;
        check(n.nodeValue, e);
    }
    for (const e of document.body.querySelectorAll('[placeholder], [aria-label], [title], img[alt]')) {
        if (foreign(e) || !shown(e)) continue;
        for (const a of ['placeholder', 'aria-label', 'title', 'alt']) if (e.hasAttribute(a)) check(e.getAttribute(a), e);
    }
    // (document.title is left out: it is the room's title, the shop's words.)
    return bad;
}

export function boxes(selectors) {
    const out = {};
    for (const sel of selectors) {
        const e = [...document.querySelectorAll(sel)].find((x) => x.checkVisibility() && x.getBoundingClientRect().height > 0);
        if (!e) {
            out[sel] = null;
            continue;
        }
        const r = e.getBoundingClientRect();
        out[sel] = { top: r.top, left: r.left, bottom: r.bottom, right: r.right, width: r.width, height: r.height };
    }
    return out;
}

export function contrasts(selectors) {
    const parse = (c) => {
        const m = /rgba?\(([^)]+)\)/.exec(c);
        if (!m) return null;
        const [r, g, b, a = '1'] = m[1].split(/[ ,/]+/).filter(Boolean);
        return [Number(r), Number(g), Number(b), Number(a)];
    };
    const over = (top, under) => {
        const a = top[3];
        return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat(1);
    };
    const lum = ([r, g, b]) => {
        const f = (v) => {
            const c = v / 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const ratio = (x, y) => {
        const [a, b] = [lum(x), lum(y)].sort((p, q) => q - p);
        return (a + 0.05) / (b + 0.05);
    };
    const video = document.querySelector('#player');
    const vr = video.getBoundingClientRect();
    // The layers behind `e`, nearest first: for each, its possible colours (one, or the
    // stops of a gradient).
    const layers = (e) => {
        const out = [];
        let overVideo = false;
        for (let x = e; x && x !== document.documentElement; x = x.parentElement) {
            if (x.classList.contains('stage')) {
                overVideo = true; // everything in the stage is over the picture
                break;
            }
            if (x.id === 'app') {
                // Outside the stage: over the video where the video is under it.
                const r = e.getBoundingClientRect();
                const cx = r.left + r.width / 2;
                const cy = r.top + r.height / 2;
                overVideo = cx >= vr.left && cx <= vr.right && cy >= vr.top && cy <= vr.bottom;
                if (overVideo) break;
            }
            const s = getComputedStyle(x);
            const stops = (s.backgroundImage.match(/rgba?\([^)]+\)/g) || []).map(parse);
            const color = parse(s.backgroundColor);
            if (stops.length) out.push(stops);
            else if (color && color[3] > 0) out.push([color]);
        }
        out.push([overVideo ? [255, 255, 255, 1] : parse(getComputedStyle(document.body).backgroundColor)]);
        return out;
    };
    const results = [];
    for (const sel of selectors) {
        for (const e of document.querySelectorAll(sel)) {
            if (!e.checkVisibility() || !e.textContent.trim()) continue;
            const fg = parse(getComputedStyle(e).color);
            // Every combination of stops, from the bottom layer up (layers are few).
            let bgs = [[]];
            for (const layer of layers(e).reverse()) bgs = bgs.flatMap((stack) => layer.map((c) => stack.concat([c])));
            let worst = null;
            for (const stack of bgs) {
                let bg = stack[0];
                for (const c of stack.slice(1)) bg = over(c, bg);
                const r = ratio(over(fg, bg), bg);
                if (!worst || r < worst.ratio) worst = { ratio: r, bg };
            }
            results.push({
                selector: sel,
                text: e.textContent.trim().slice(0, 40),
                ratio: Math.round(worst.ratio * 100) / 100,
                fg: fg.slice(0, 3).map(Math.round).join(','),
                bg: worst.bg.slice(0, 3).map(Math.round).join(','),
            });
        }
    }
    return results;
}

export function coveredAt([selector, container]) {
    const e = document.querySelector(selector);
    const within = container ? document.querySelector(container) : e;
    const r = e.getBoundingClientRect();
    const points = [
        [r.left + 4, r.top + 4], [r.right - 4, r.top + 4], [r.left + 4, r.bottom - 4],
        [r.right - 4, r.bottom - 4], [r.left + r.width / 2, r.top + r.height / 2],
    ];
    const out = [];
    for (const [x, y] of points) {
        const top = document.elementFromPoint(x, y);
        if (!top || !within.contains(top)) {
            out.push({ x: Math.round(x), y: Math.round(y), by: top ? `${top.tagName.toLowerCase()}#${top.id}.${[...top.classList].join('.')}` : 'outside the viewport' });
        }
    }
    return out;
}
