// console-plugins.js — the Plugins tab: upload a .wasm (file picker or drag-and-drop) with
// a real progress bar and the server's verdict; the merchant's versions; enabling a
// version in the selected room with a JSON config (checked as JSON before sending,
// prefilled from the room's current config, else the plugin's example config, which is
// also shown beside it); and the room's plugins with their state,
// config and fault log (refreshed every 5 s): disable, enable again, roll back.
//
// Test hooks: #plugin-file, #plugin-drop, #upload-progress (value 0–100), #upload-percent,
// #upload-result[data-ok][data-status] (.result-message, .result-hash, .result-name,
// .result-caps, button.use), #plugin-versions tbody tr[data-hash], #plugin-enable
// (#enable-version, #enable-config, #enable-config-state[data-valid], #enable-example,
// #enable-example-text, #use-example),
// #room-plugins .plugin[data-plugin][data-enabled][data-hash] (button.disable,
// button.enable, button.rollback, button.configure, .config, .faults li, .plugin-error).

import { ApiError, get, post, del, seg, upload } from './console-api.js';
import {
    $, FieldError, bytes, clearError, confirmDialog, dateTime, errorText, fill, h, showError,
    submitting, toast,
} from './console-dom.js';
import { every, on, state } from './console-state.js';

let versions = [];
let bindings = [];
let poll = null;
let uploading = false;

const short = (hash) => (hash || '').slice(0, 12);

function versionOf(hash) {
    return versions.find((v) => v.hash === hash) || null;
}

function versionLabel(hash) {
    const v = versionOf(hash);
    return v ? `${v.name} ${v.label}` : short(hash);
}

function chips(list) {
    return (list || []).map((c) => h('span', { class: 'chip' }, c));
}

// ---- upload -----------------------------------------------------------------------------

function setProgress(loaded, total) {
    const pct = total > 0 ? Math.min(100, Math.round((loaded / total) * 100)) : 0;
    $('#upload-progress').value = pct;
    $('#upload-percent').textContent = pct >= 100 ? '100% — validating…' : `${pct}%`;
}

function showUploadResult(ok, children, status) {
    const box = $('#upload-result');
    box.dataset.ok = ok ? 'true' : 'false';
    box.dataset.status = status ? String(status) : '';
    box.className = `result ${ok ? 'good' : 'bad'}`;
    fill(box, children);
    box.hidden = false;
}

async function uploadFile(file) {
    if (!file || uploading) return;
    uploading = true;
    const input = $('#plugin-file');
    input.disabled = true;
    $('#plugin-drop').classList.add('busy');
    $('#upload').hidden = false;
    $('#upload-name').textContent = `${file.name} · ${bytes(file.size)}`;
    setProgress(0, file.size);
    $('#upload-result').hidden = true;
    try {
        const v = await upload('/api/plugins', file, setProgress);
        setProgress(file.size, file.size);
        $('#upload-percent').textContent = '100%';
        // The versions list and the enable form first, so that once the result shows,
        // the new version is listed and selected (scripts and people act on the result).
        try {
            await loadVersions();
            useVersion(v.hash, { scroll: false });
        } catch (_) {
            // The upload stands; the list catches up on its next refresh.
        }
        const m = v.manifest || {};
        showUploadResult(true, [
            h('p', { class: 'result-message' }, 'Accepted: the component is valid.'),
            h('dl', { class: 'kv' },
                h('dt', {}, 'Plugin'), h('dd', { class: 'result-name' }, `${v.name} ${v.label}`),
                m.description ? [h('dt', {}, 'About'), h('dd', {}, m.description)] : null,
                h('dt', {}, 'Hash'), h('dd', {}, h('code', { class: 'result-hash' }, v.hash)),
                h('dt', {}, 'Size'), h('dd', {}, bytes(v.size)),
                h('dt', {}, 'Capabilities'), h('dd', { class: 'result-caps' }, m.capabilities && m.capabilities.length ? chips(m.capabilities) : 'none'),
                h('dt', {}, 'Events'), h('dd', {}, chips(m.events))),
            h('button', { type: 'button', class: 'use primary', onclick: () => useVersion(v.hash) }, 'Enable in this room…'),
        ]);
    } catch (e) {
        const status = e instanceof ApiError ? e.status : 0;
        const hint = status === 413
            ? 'Uploads may be at most 64 MiB. Within that, a plugin is judged by its code (see docs/plugins.md, "Size policy").'
            : status === 422 ? 'Nothing was stored. Fix the component and upload it again.' : null;
        showUploadResult(false, [
            h('p', { class: 'result-title' }, status === 413 ? 'Too large' : status === 422 ? 'Not a valid plugin' : 'Upload failed'),
            h('p', { class: 'result-message' }, errorText(e)),
            hint ? h('p', { class: 'muted small' }, hint) : null,
        ], status);
    } finally {
        uploading = false;
        input.disabled = false;
        input.value = '';
        $('#plugin-drop').classList.remove('busy');
    }
}

// ---- versions ---------------------------------------------------------------------------

async function loadVersions() {
    versions = await get('/api/plugins');
    versions.sort((a, b) => a.name.localeCompare(b.name) || b.uploaded_ms - a.uploaded_ms);
    renderVersions();
    fillVersionSelect();
}

function renderVersions() {
    fill($('#plugin-versions tbody'), versions.map((v) => h('tr', { dataset: { hash: v.hash, name: v.name } },
        h('td', {}, h('div', { class: 'title' }, v.name), v.manifest && v.manifest.description ? h('div', { class: 'muted small clamp' }, v.manifest.description) : null),
        h('td', {}, v.label, bindings.some((b) => b.binding.hash === v.hash && b.binding.enabled)
            ? [' ', h('span', { class: 'badge claimable small running-here' }, 'in this room')] : null),
        h('td', {}, h('code', { title: v.hash }, short(v.hash))),
        h('td', { class: 'num' }, bytes(v.size)),
        h('td', {}, chips(v.manifest && v.manifest.capabilities)),
        h('td', { class: 'small' }, dateTime(v.uploaded_ms)),
        h('td', { class: 'actions' }, h('button', { type: 'button', class: 'use ghost small', onclick: () => useVersion(v.hash) }, 'Enable…')))));
    $('#plugin-versions-empty').hidden = versions.length > 0;
}

function fillVersionSelect() {
    const sel = $('#enable-version');
    const before = sel.value;
    const groups = new Map();
    for (const v of versions) {
        if (!groups.has(v.name)) groups.set(v.name, []);
        groups.get(v.name).push(v);
    }
    fill(sel, [...groups].map(([name, list]) => h('optgroup', { label: name },
        list.map((v) => h('option', { value: v.hash }, `${v.name} ${v.label} · ${short(v.hash)} · ${dateTime(v.uploaded_ms)}`)))));
    if (!versions.length) sel.append(h('option', { value: '' }, 'Upload a plugin first'));
    if (versions.some((v) => v.hash === before)) sel.value = before;
}

// ---- enable form ------------------------------------------------------------------------

function pretty(configText) {
    if (!configText) return '{}';
    try {
        return JSON.stringify(JSON.parse(configText), null, 2);
    } catch (_) {
        return configText;
    }
}

/** The room's current config for plugin `name`, pretty-printed, or null. */
function previousConfig(name) {
    const b = bindings.find((x) => x.binding.name === name);
    return b ? pretty(b.binding.config) : null;
}

/** The version's documented example config (from its manifest), or null. */
function exampleConfig(v) {
    return v && v.manifest && v.manifest.example_config ? pretty(v.manifest.example_config) : null;
}

/** Show the selected version's example config, if it has one. */
function showExample(v) {
    const example = exampleConfig(v);
    $('#enable-example').hidden = !example;
    $('#enable-example-text').textContent = example || '';
}

function prefill() {
    const v = versionOf($('#enable-version').value);
    showExample(v);
    if (!v) return;
    $('#enable-config').value = previousConfig(v.name) ?? exampleConfig(v) ?? '{}';
    checkConfig();
}

function useExample() {
    const example = exampleConfig(versionOf($('#enable-version').value));
    if (!example) return;
    $('#enable-config').value = example;
    checkConfig();
    $('#enable-config').focus();
}

/** Select `hash` in the enable form with the room's config for it; scroll there. */
function useVersion(hash, { scroll = true, config } = {}) {
    $('#enable-version').value = hash;
    prefill();
    if (config !== undefined) {
        $('#enable-config').value = pretty(config);
        checkConfig();
    }
    if (scroll) {
        $('#plugin-enable').scrollIntoView({ block: 'start', behavior: 'smooth' });
        $('#enable-config').focus({ preventScroll: true });
    }
}

/** Parse the config textarea: the object, or a FieldError that says where it breaks. */
function parseConfig() {
    const area = $('#enable-config');
    const text = area.value.trim() || '{}';
    let value;
    try {
        value = JSON.parse(text);
    } catch (e) {
        throw new FieldError(area, `the config is not valid JSON: ${e.message}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new FieldError(area, 'the config must be a JSON object ({ … })');
    }
    return value;
}

function checkConfig() {
    const el = $('#enable-config-state');
    try {
        parseConfig();
        el.textContent = 'Valid JSON.';
        el.dataset.valid = 'true';
        el.className = 'small ok';
    } catch (e) {
        el.textContent = e.message;
        el.dataset.valid = 'false';
        el.className = 'small bad';
    }
}

async function enable(event) {
    event.preventDefault();
    const form = event.currentTarget;
    let binding = null;
    const ok = await submitting(form, async () => {
        const hash = $('#enable-version').value;
        if (!hash) throw new FieldError($('#enable-version'), 'upload a plugin first, then pick its version');
        const config = parseConfig();
        binding = await post(`/api/rooms/${seg(state.room)}/plugins`, { hash, config });
    });
    if (!ok) return;
    toast(`${versionLabel(binding.hash)} is enabled in this room`);
    await loadRoomPlugins();
}

// ---- the room's plugins -----------------------------------------------------------------

function renderRoomPlugins() {
    renderVersions();
    const box = $('#room-plugins');
    fill(box, bindings.map(({ binding: b, faults }) => {
        const st = b.enabled ? 'enabled' : b.disabled_reason ? 'disabled by the runtime' : 'disabled';
        const card = h('div', { class: 'plugin', dataset: { plugin: b.name, enabled: String(b.enabled), hash: b.hash } },
            h('div', { class: 'plugin-head' },
                h('strong', {}, b.name),
                h('span', { class: 'muted' }, versionOf(b.hash) ? versionOf(b.hash).label : ''),
                h('code', { class: 'small', title: b.hash }, short(b.hash)),
                h('span', { class: `badge ${b.enabled ? 'claimable' : 'locked'}` }, st),
                h('span', { class: 'spacer' }),
                h('span', { class: 'muted small' }, `since ${dateTime(b.updated_ms)}`)),
            b.disabled_reason ? h('p', { class: 'bad small reason' }, `Why: ${b.disabled_reason}`) : null,
            h('details', { class: 'config-box' },
                h('summary', {}, 'Config'),
                h('pre', { class: 'config mono' }, pretty(b.config))),
            h('div', { class: 'row' },
                h('button', { type: 'button', class: 'configure ghost small', onclick: () => useVersion(b.hash, { config: b.config }) }, 'Change config…'),
                b.enabled
                    ? h('button', { type: 'button', class: 'disable ghost small', onclick: (e) => disable(e.currentTarget, b) }, 'Disable')
                    : h('button', { type: 'button', class: 'enable primary small', onclick: (e) => reenable(e.currentTarget, b) }, 'Enable again'),
                rollbackButton(b)),
            h('p', { class: 'plugin-error form-error', role: 'alert', hidden: true }),
            h('h4', {}, `Faults (${faults.length})`),
            faults.length
                ? h('ul', { class: 'faults' }, faults.map((f) => h('li', { dataset: { kind: f.kind } },
                    h('span', { class: 'muted small' }, dateTime(f.at_ms)), ' ',
                    h('span', { class: 'chip bad' }, f.kind), ' ',
                    h('span', { class: 'fault-message' }, f.message), ' ',
                    h('code', { class: 'small muted', title: f.hash }, short(f.hash)))))
                : h('p', { class: 'muted small' }, 'No faults.'));
        return card;
    }));
    $('#room-plugins-empty').hidden = bindings.length > 0;
}

/** Roll back needs another version of the same plugin to go back to. */
function rollbackButton(b) {
    const others = versions.filter((v) => v.name === b.name && v.hash !== b.hash).length;
    return h('button', {
        type: 'button',
        class: 'rollback ghost small',
        disabled: others === 0,
        title: others ? 'Go back to the version and config this room ran before' : 'Only one version of this plugin is uploaded: nothing to roll back to',
        onclick: (e) => rollback(e.currentTarget, b),
    }, 'Roll back');
}

let bindingsKey = '';

async function loadRoomPlugins() {
    const room = state.room;
    const answer = await get(`/api/rooms/${seg(room)}/plugins`);
    if (room !== state.room) return;
    bindings = answer.plugins || [];
    clearError($('#room-plugins-error'));
    // Refreshed every 5 s: rebuild only on a change, so open <details> stay open.
    const key = JSON.stringify(bindings) + versions.length;
    if (key === bindingsKey && $('#room-plugins').children.length) return;
    bindingsKey = key;
    renderRoomPlugins();
}

async function pluginAction(button, b, work, okText) {
    const errEl = button.closest('.plugin').querySelector('.plugin-error');
    clearError(errEl);
    button.disabled = true;
    try {
        await work();
        toast(okText);
        bindingsKey = '';
        await loadRoomPlugins();
    } catch (e) {
        showError(errEl, e);
    } finally {
        button.disabled = false;
    }
}

async function disable(button, b) {
    const ok = await confirmDialog({
        title: `Disable ${b.name}?`,
        text: 'It stops reacting in this room. Its state (KV) is kept for when you enable it again.',
        ok: 'Disable',
    });
    if (!ok) return;
    await pluginAction(button, b, () => del(`/api/rooms/${seg(state.room)}/plugins/${seg(b.name)}`), `${b.name} disabled`);
}

async function reenable(button, b) {
    let config = {};
    try {
        config = b.config ? JSON.parse(b.config) : {};
    } catch (_) {
        config = b.config;
    }
    await pluginAction(button, b, () => post(`/api/rooms/${seg(state.room)}/plugins`, { hash: b.hash, config }), `${b.name} enabled again`);
}

async function rollback(button, b) {
    const ok = await confirmDialog({
        title: `Roll ${b.name} back?`,
        text: 'The room goes back to the previous version and config of this plugin.',
        ok: 'Roll back',
    });
    if (!ok) return;
    await pluginAction(button, b, async () => {
        const after = await post(`/api/rooms/${seg(state.room)}/plugins/${seg(b.name)}/rollback`);
        if (after && after.hash) b.hash = after.hash;
    }, `${b.name} rolled back`);
}

// ---- tab --------------------------------------------------------------------------------

export function init() {
    const input = $('#plugin-file');
    input.addEventListener('change', () => uploadFile(input.files && input.files[0]));
    const drop = $('#plugin-drop');
    for (const type of ['dragenter', 'dragover']) {
        drop.addEventListener(type, (e) => {
            e.preventDefault();
            drop.classList.add('over');
        });
    }
    for (const type of ['dragleave', 'dragend']) drop.addEventListener(type, () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
        e.preventDefault();
        drop.classList.remove('over');
        const file = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
        if (file) uploadFile(file);
    });
    $('#enable-version').addEventListener('change', prefill);
    $('#use-example').addEventListener('click', useExample);
    $('#enable-config').addEventListener('input', checkConfig);
    $('#plugin-enable').addEventListener('submit', enable);
    on('room', () => {
        bindings = [];
        bindingsKey = '';
    });
}

export function show() {
    hide();
    renderRoomPlugins();
    loadVersions()
        .then(() => {
            bindingsKey = '';
            return loadRoomPlugins();
        })
        .then(() => {
            if ($('#enable-config').value.trim() === '{}') prefill();
        })
        .catch((e) => showError($('#room-plugins-error'), e));
    poll = every(5000, async () => {
        try {
            await loadRoomPlugins();
        } catch (e) {
            showError($('#room-plugins-error'), e);
        }
    });
}

export function hide() {
    if (poll) poll.stop();
    poll = null;
}
