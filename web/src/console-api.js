// console-api.js — the console's only door to the REST API: JSON requests with the
// merchant's bearer token, uploads with progress (XMLHttpRequest), authenticated file
// downloads (fetch + Blob), and one error type that carries the server's own message.

const TOKEN_KEY = 'livecart.console.token';

let token = sessionStorage.getItem(TOKEN_KEY) || '';
let onUnauthorized = () => {};

/** A refused or failed request: `status` (0 when the server could not be reached) and
 * the message the API gave (`{"error": "..."}`), or the body text when it was not JSON. */
export class ApiError extends Error {
    constructor(status, message) {
        super(message);
        this.status = status;
    }

    /** A refusal of what was sent (422) in plain words ("Title must have 1 to 200
     *  characters"); other failures with what kind they are ("Not found (404): …"). */
    describe() {
        if (this.status === 0) return this.message;
        if (this.status === 422) return sentence(this.message);
        return `${statusWord(this.status)} (${this.status}): ${this.message}`;
    }
}

/** `text` as a sentence: its first letter upper-case. */
export function sentence(text) {
    const s = String(text || '');
    return s.charAt(0).toUpperCase() + s.slice(1);
}

function statusWord(status) {
    switch (status) {
        case 400: return 'Bad request';
        case 401: return 'Not signed in';
        case 403: return 'Forbidden';
        case 404: return 'Not found';
        case 409: return 'Conflict';
        case 413: return 'Too large';
        case 422: return 'Refused';
        default: return status >= 500 ? 'Server error' : 'Error';
    }
}

export function getToken() {
    return token;
}

export function setToken(value) {
    token = value || '';
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
}

/** Called with the server's message whenever a request answers 401. */
export function setUnauthorizedHandler(f) {
    onUnauthorized = f;
}

/** The API's error message from a response body: `{"error": "..."}`, else the text. */
function messageOf(status, statusText, text) {
    const trimmed = (text || '').trim();
    try {
        const v = JSON.parse(trimmed);
        if (v && typeof v.error === 'string') return v.error;
    } catch (_) {
        // Not JSON (e.g. axum's own plain-text rejections): use the text.
    }
    return trimmed.slice(0, 500) || statusText || `HTTP ${status}`;
}

function refused(status, statusText, text) {
    const err = new ApiError(status, messageOf(status, statusText, text));
    if (status === 401) onUnauthorized(err.message);
    return err;
}

async function send(method, path, { body, headers = {} } = {}) {
    const h = { Authorization: `Bearer ${token}`, ...headers };
    let payload;
    if (body !== undefined) {
        h['Content-Type'] = 'application/json';
        payload = JSON.stringify(body);
    }
    let res;
    try {
        res = await fetch(path, { method, headers: h, body: payload, cache: 'no-store' });
    } catch (e) {
        throw new ApiError(0, `Cannot reach the server (${e.message}). Is livecart running?`);
    }
    if (!res.ok) throw refused(res.status, res.statusText, await res.text().catch(() => ''));
    return res;
}

/** A JSON request; resolves to the parsed answer (null for 204). */
export async function api(method, path, body) {
    const res = await send(method, path, { body });
    if (res.status === 204) return null;
    const text = await res.text();
    if (!text) return null;
    try {
        return JSON.parse(text);
    } catch (_) {
        throw new ApiError(res.status, `the server answered something that is not JSON: ${text.slice(0, 200)}`);
    }
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

/** `encodeURIComponent` for path segments. */
export const seg = (s) => encodeURIComponent(s);

/** Upload `file` as the raw request body (of type `contentType`) with XMLHttpRequest, so
 * the upload's progress is real: `onProgress(loaded, total)` as bytes go out. Resolves to
 * the parsed JSON. */
export function upload(path, file, onProgress, contentType = 'application/wasm') {
    return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', path);
        xhr.setRequestHeader('Authorization', `Bearer ${token}`);
        xhr.setRequestHeader('Content-Type', contentType);
        xhr.upload.addEventListener('progress', (e) => {
            onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
        });
        xhr.upload.addEventListener('load', () => onProgress(file.size, file.size));
        xhr.addEventListener('load', () => {
            if (xhr.status >= 200 && xhr.status < 300) {
                try {
                    resolve(JSON.parse(xhr.responseText));
                } catch (_) {
                    reject(new ApiError(xhr.status, 'the server answered something that is not JSON'));
                }
            } else {
                reject(refused(xhr.status, xhr.statusText, xhr.responseText));
            }
        });
        xhr.addEventListener('error', () => {
            reject(new ApiError(0, 'The upload failed: the connection was lost. Is livecart running?'));
        });
        xhr.addEventListener('abort', () => reject(new ApiError(0, 'The upload was cancelled.')));
        xhr.send(file);
    });
}

/** Download `path` with the bearer token and save it as `filename` (the server's
 * Content-Disposition name wins when it has one). */
export async function download(path, filename) {
    const res = await send('GET', path);
    const disposition = res.headers.get('Content-Disposition') || '';
    const m = /filename="?([^";]+)"?/i.exec(disposition);
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = filename || (m && m[1]) || 'download';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return blob;
}

/** The server clock's offset from ours (ms; add it to Date.now()), from `/media/time`. */
export async function serverClockOffset() {
    try {
        const t0 = Date.now();
        const res = await fetch('/media/time', { cache: 'no-store' });
        const t1 = Date.now();
        const server = Date.parse((await res.text()).trim());
        if (!res.ok || Number.isNaN(server)) return 0;
        return server - (t0 + t1) / 2;
    } catch (_) {
        return 0;
    }
}
