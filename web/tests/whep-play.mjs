#!/usr/bin/env node
// Plays a room over WebRTC (WHEP, `/media/{room}/whep`) in headless Chromium: the codec
// check first (H.264 in RTCRtpReceiver's capabilities), then frames render, currentTime
// advances, audio arrives as Opus; a pushed card arrives on the data channel with its
// frame's RTP timestamp and is shown on that frame (requestVideoFrameCallback's
// rtpTimestamp, 32-bit wrap handled); DELETE frees the session, and so does closing the tab;
// bad offers, unknown rooms and rooms that are not live get clear errors.
// Prints a JSON report; exits 1 on failure.
//
//   node web/tests/whep-play.mjs --base URL --merchant-token T [--room demo] [--seconds 4]

import { api, assert, newPage, scenario, waitFor, waitInPage } from './lib.mjs';

/** In the page: connect to WHEP, play into <video id=v>, hold cards to their frame. */
function connect(url) {
    const st = window.__whep = { events: [], shown: [], frames: 0, rtp: [], errors: [], hello: null };
    const video = document.getElementById('v');
    const pc = window.__pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const dc = pc.createDataChannel('livecart');
    dc.onmessage = (m) => {
        const msg = JSON.parse(m.data);
        if (msg.type === 'hello') st.hello = msg;
        else st.events.push({ ...msg, got_at: performance.now() });
    };
    const stream = new MediaStream();
    pc.ontrack = (e) => {
        stream.addTrack(e.track);
        video.srcObject = stream;
    };
    // Wrap-aware "a at or past b" on 32-bit RTP time.
    const atOrPast = (a, b) => ((a - b) >>> 0) < 0x80000000;
    const onFrame = (now, meta) => {
        st.frames += 1;
        if (meta.rtpTimestamp !== undefined) {
            st.lastRtp = meta.rtpTimestamp;
            for (const e of st.events) {
                if (!e.shown && atOrPast(meta.rtpTimestamp, e.rtp)) {
                    e.shown = true;
                    st.shown.push({ id: e.id, target: e.rtp, rtp: meta.rtpTimestamp, media_ms: e.media_ms });
                }
            }
        }
        video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    return (async () => {
        const t0 = performance.now();
        await pc.setLocalDescription(await pc.createOffer());
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription.sdp });
        const text = await r.text();
        if (r.status !== 201) throw new Error(`WHEP answered ${r.status}: ${text}`);
        st.location = r.headers.get('location');
        await pc.setRemoteDescription({ type: 'answer', sdp: text });
        await video.play().catch((e) => st.errors.push(`play: ${e.message}`));
        await new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()));
        st.join_ms = performance.now() - t0;
        return st.location;
    })();
}

scenario('whep-play', async ({ args, browser, report, log }) => {
    const rest = api(args.base, args.merchantToken);
    const whep = `${args.base}/media/${args.room}/whep`;
    // 503 until the live has a complete segment (whether its source sends B-frames).
    await waitFor(async () => (await fetch(whep, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0' })).status === 400,
        { timeout: 15000, what: 'the live to be ready for WebRTC' });

    // Clear errors for what cannot play.
    const post = async (url, body, type = 'application/sdp') => {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
        return { status: r.status, body: await r.text() };
    };
    report.bad_offer = await post(whep, 'v=0\r\nthis is not SDP\r\n');
    assert(report.bad_offer.status === 400 && /SDP/.test(report.bad_offer.body), `bad offer: ${JSON.stringify(report.bad_offer)}`);
    report.wrong_type = await post(whep, 'v=0', 'text/plain');
    assert(report.wrong_type.status === 415, `wrong type: ${JSON.stringify(report.wrong_type)}`);
    report.unknown_room = await post(`${args.base}/media/no-such-room/whep`, 'v=0');
    assert(report.unknown_room.status === 404, `unknown room: ${JSON.stringify(report.unknown_room)}`);
    const idle = await rest.post('/api/rooms', { title: 'Not live yet' });
    report.not_live = await post(`${args.base}/media/${idle.id}/whep`, 'v=0');
    assert(report.not_live.status === 409 && /not live/.test(report.not_live.body), `not live: ${JSON.stringify(report.not_live)}`);

    const { page, errors } = await newPage(browser, { base: args.base });
    await page.goto(`${args.base}/healthz`);
    await page.setContent('<!doctype html><video id="v" muted playsinline autoplay width="320" height="180"></video>');
    // Codec check first: Debian's Chromium decodes H.264 over WebRTC.
    report.h264 = await page.evaluate(() => RTCRtpReceiver.getCapabilities('video').codecs
        .filter((c) => /h264/i.test(c.mimeType)).map((c) => c.sdpFmtpLine));
    assert(report.h264.length > 0, 'this Chromium lists no H.264 receiver');

    const location = await page.evaluate(connect, whep);
    report.location = location;
    report.join_ms = await page.evaluate(() => window.__whep.join_ms);
    log(`WHEP session ${location}, first frame after ${report.join_ms.toFixed(0)} ms`);
    await waitInPage(page, () => document.getElementById('v').currentTime > 1 && window.__whep.hello, null,
        { timeout: 20000, what: 'the WebRTC video to play and the data channel to open' });
    const media = await rest.get(`/api/rooms/${args.room}/media`);
    report.sessions_playing = media.webrtc_sessions;
    assert(media.webrtc_sessions.length === 1 && media.webrtc_sessions[0].connected, `sessions: ${JSON.stringify(media.webrtc_sessions)}`);

    const card = await rest.post(`/api/rooms/${args.room}/push`, { product_id: 'sku-tee', duration_ms: 500 });
    report.push = { push_id: card.push_id, media_ms: card.media_ms };
    const shown = await waitFor(() => page.evaluate((id) => {
        const st = window.__whep;
        const s = st.shown.find((x) => x.id === id);
        return s ? { ...s, hello: st.hello, event: st.events.find((e) => e.id === id) } : null;
    }, card.push_id), { timeout: 15000, what: 'the card to show on its frame' });
    report.card = shown;
    await page.waitForTimeout(Number(args.seconds) * 1000);
    report.end = await page.evaluate(async () => {
        const v = document.getElementById('v');
        const stats = await window.__pc.getStats();
        const codecs = {};
        stats.forEach((s) => { if (s.type === 'codec') codecs[s.id] = s.mimeType; });
        const inbound = {};
        stats.forEach((s) => {
            if (s.type === 'inbound-rtp') {
                inbound[s.kind] = { codec: codecs[s.codecId], packets: s.packetsReceived, frames: s.framesDecoded,
                    width: s.frameWidth, height: s.frameHeight, jitterBufferDelay: s.jitterBufferDelay,
                    jitterBufferEmittedCount: s.jitterBufferEmittedCount };
            }
        });
        return { currentTime: v.currentTime, frames: window.__whep.frames, inbound, errors: window.__whep.errors };
    });
    log(`end: ${JSON.stringify(report.end)}`);

    // Teardown: DELETE frees the session.
    const del = await fetch(`${args.base}${location}`, { method: 'DELETE' });
    report.delete_status = del.status;
    assert(del.status === 200, `DELETE answered ${del.status}`);
    report.delete_again = (await fetch(`${args.base}${location}`, { method: 'DELETE' })).status;
    await waitFor(async () => (await rest.get(`/api/rooms/${args.room}/media`)).webrtc_sessions.length === 0,
        { timeout: 5000, what: 'DELETE to free the session' });

    // Teardown: a closed tab frees its session once ICE notices.
    const second = await newPage(browser, { base: args.base });
    await second.page.goto(`${args.base}/healthz`);
    await second.page.setContent('<!doctype html><video id="v" muted playsinline autoplay></video>');
    await second.page.evaluate(connect, whep);
    await waitFor(async () => (await rest.get(`/api/rooms/${args.room}/media`)).webrtc_sessions.length === 1,
        { timeout: 5000, what: 'the second session' });
    const closedAt = Date.now();
    await second.page.close();
    await waitFor(async () => (await rest.get(`/api/rooms/${args.room}/media`)).webrtc_sessions.length === 0,
        { timeout: 30000, what: 'a closed tab to free its session' });
    report.tab_close_freed_ms = Date.now() - closedAt;
    report.page_errors = errors;
}, { seconds: '4' });
