// console-charts.js — hand-drawn SVG charts for the Analytics tab: a multi-series line
// chart over minutes and a horizontal bar chart. No library; every label is a text node.
// Series colours come from CSS classes (.s0 … .s4), so the page's CSP (no inline style)
// holds.

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
}

/** A "nice" upper bound and tick step for values up to `max`. */
function niceScale(max, ticks = 4) {
    if (!(max > 0)) return { top: 1, step: 0.25 };
    const raw = max / ticks;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    return { top: step * Math.ceil(max / step), step };
}

function timeLabel(ms) {
    return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/**
 * Draw a line chart into `box`.
 * `xs`: minute starts (ms); `series`: [{name, values (one per x), kind: 'line' | 'bar'}];
 * `format(v)`: tick and tooltip labels.
 */
export function lineChart(box, { xs, series, format = (v) => String(v), integer = true }) {
    const W = 560;
    const H = 220;
    const pad = { l: 44, r: 12, t: 12, b: 26 };
    const iw = W - pad.l - pad.r;
    const ih = H - pad.t - pad.b;
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'line-chart', role: 'img' });
    const max = Math.max(0, ...series.flatMap((s) => s.values));
    let { top, step } = niceScale(max);
    if (integer && step < 1) {
        step = 1;
        top = Math.max(1, Math.ceil(max));
    }
    const x = (i) => pad.l + (xs.length <= 1 ? iw / 2 : (i / (xs.length - 1)) * iw);
    const y = (v) => pad.t + ih - (v / top) * ih;

    // Grid and y ticks.
    for (let v = 0; v <= top + 1e-9; v += step) {
        root.append(svg('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: 'gridline' }));
        root.append(svg('text', { x: pad.l - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, format(v)));
    }
    // X ticks: at most ~6 labels.
    const every = Math.max(1, Math.ceil(xs.length / 6));
    xs.forEach((ms, i) => {
        const last = i === xs.length - 1;
        if (i % every !== 0 && !last) return;
        if (!last && xs.length - 1 - i < every) return; // too close to the last label
        const anchor = xs.length === 1 ? 'middle' : i === 0 ? 'start' : last ? 'end' : 'middle';
        root.append(svg('text', { x: x(i), y: H - 8, class: 'tick', 'text-anchor': anchor }, timeLabel(ms)));
    });
    root.append(svg('line', { x1: pad.l, x2: W - pad.r, y1: y(0), y2: y(0), class: 'axis' }));

    // Bar series first (events such as pushes), under the lines.
    const barW = Math.max(2, Math.min(14, (iw / Math.max(1, xs.length)) * 0.6));
    series.forEach((s, si) => {
        if (s.kind !== 'bar') return;
        s.values.forEach((v, i) => {
            if (!v) return;
            const bar = svg('rect', { x: x(i) - barW / 2, y: y(v), width: barW, height: y(0) - y(v), rx: 1.5, class: `bar s${si % 5}` });
            bar.append(svg('title', {}, `${timeLabel(xs[i])} · ${s.name}: ${format(v)}`));
            root.append(bar);
        });
    });
    series.forEach((s, si) => {
        if (s.kind === 'bar') return;
        const cls = `s${si % 5}`;
        if (xs.length > 1) {
            const d = s.values.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
            root.append(svg('path', { d, class: `line ${cls}` }));
        }
        s.values.forEach((v, i) => {
            if (!v && xs.length > 30) return;
            const dot = svg('circle', { cx: x(i), cy: y(v), r: 3, class: `dot ${cls}` });
            dot.append(svg('title', {}, `${timeLabel(xs[i])} · ${s.name}: ${format(v)}`));
            root.append(dot);
        });
    });

    const legend = document.createElement('div');
    legend.className = 'legend';
    series.forEach((s, si) => {
        const item = document.createElement('span');
        item.className = 'legend-item';
        const sw = document.createElement('i');
        sw.className = `swatch s${si % 5}${s.kind === 'bar' ? ' bar-swatch' : ''}`;
        item.append(sw, document.createTextNode(s.name));
        legend.append(item);
    });
    box.replaceChildren(root, legend);
}

/** Horizontal bars: `bars` = [{label, value, note}] scaled to the largest value. */
export function barChart(box, { bars, format = (v) => String(v) }) {
    const rowH = 30;
    const W = 560;
    const labelW = 150;
    const valueW = 120;
    const H = Math.max(1, bars.length) * rowH + 8;
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'bar-chart', role: 'img' });
    const max = Math.max(1e-9, ...bars.map((b) => b.value));
    bars.forEach((b, i) => {
        const y = 4 + i * rowH;
        const w = Math.max(1, ((W - labelW - valueW) * b.value) / max);
        root.append(svg('text', { x: labelW - 8, y: y + 18, class: 'tick', 'text-anchor': 'end' }, b.label));
        const rect = svg('rect', { x: labelW, y: y + 4, width: w.toFixed(1), height: rowH - 10, rx: 3, class: `bar s${i % 5}` });
        rect.append(svg('title', {}, `${b.label}: ${format(b.value)}${b.note ? ` (${b.note})` : ''}`));
        root.append(rect);
        root.append(svg('text', { x: labelW + w + 6, y: y + 18, class: 'tick' }, `${format(b.value)}${b.note ? ` · ${b.note}` : ''}`));
    });
    box.replaceChildren(root);
}
