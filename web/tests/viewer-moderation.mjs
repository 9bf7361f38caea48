#!/usr/bin/env node
// Scenario: what moderators and plugins do, as viewers see it. A host (the viewer page
// opened with a merchant-minted host token, its room client used as the moderator's tool)
// pins, hides, blocks words and mutes; the demo plugins answer a question (ai-host) and
// push the size card with the host style "compact" (keyword-push); a viewer sends a gift.
//
//   node web/tests/viewer-moderation.mjs --base http://HOST:PORT --merchant-token T
//        [--room demo] [--artifacts DIR]
//
// Checks: pin shows the comment pinned on top for everyone; hide removes it everywhere;
// a shadow-hidden comment (blocked word) is visible to its author only; a muted viewer
// gets a notice and a "muted" toast when commenting; plugin replies are styled as the
// host's; the pushed card follows the host's style over the viewer's A/B variant; gifts
// show as a banner and a chat line.

import { api, assert, openViewer, scenario, screenshot, waitInPage } from './lib.mjs';

const hasText = (page, sel, text) => page.evaluate(([s, t]) =>
    [...document.querySelectorAll(s)].some((n) => n.textContent === t), [sel, text]);

async function commentId(page, text, what) {
    await waitInPage(page, (t) => [...document.querySelectorAll('#chat .comment .text')].some((n) => n.textContent === t),
        text, { timeout: 8000, what });
    return page.evaluate((t) => [...document.querySelectorAll('#chat .comment')]
        .find((n) => n.querySelector('.text').textContent === t).dataset.id, text);
}

async function say(v, text) {
    await v.page.fill('#chat-input', text);
    await v.page.press('#chat-input', 'Enter');
}

scenario('viewer-moderation', async ({ args, browser, report, log }) => {
    const rest = api(args.base, args.merchantToken);
    const { token } = await rest.post(`/api/rooms/${args.room}/tokens`, { user_id: 'host-1', name: 'Host Mia', role: 'host' });
    const host = await openViewer(browser, args.base, args.room, { query: { token } });
    const me = await host.page.evaluate(() => window.__livecart.user);
    assert(me.id === 'host-1' && me.role === 'host', `the link token's identity: ${JSON.stringify(me)}`);
    const a = await openViewer(browser, args.base, args.room, { query: { name: 'Ann' } });
    const b = await openViewer(browser, args.base, args.room, { query: { name: 'Bob' } });
    const mod = (msg) => host.page.evaluate((m) => window.__livecart.room.send(m), msg);

    // Pin.
    const pinText = `pin me ${Date.now()}`;
    await say(a, pinText);
    const pinId = await commentId(host.page, pinText, "Ann's comment at the host");
    await mod({ type: 'pin', comment_id: pinId });
    for (const v of [a, b]) {
        await waitInPage(v.page, (id) => !document.querySelector('#pinned').hidden &&
            document.querySelector('#pinned').dataset.id === id, pinId, { timeout: 5000, what: 'the pinned comment' });
    }
    report.pinned = await b.page.textContent('#pinned');

    // Hide.
    const rude = `rude remark ${Date.now()}`;
    await say(b, rude);
    const rudeId = await commentId(host.page, rude, "Bob's comment at the host");
    await commentId(a.page, rude, "Bob's comment at Ann");
    await mod({ type: 'hide', comment_id: rudeId });
    for (const v of [a, b]) {
        await waitInPage(v.page, (id) => !document.querySelector(`#chat .comment[data-id="${id}"]`), rudeId,
            { timeout: 5000, what: 'the hidden comment to go' });
    }

    // Shadow-hidden: blocked word, only its author sees it.
    await mod({ type: 'block_words', words: ['spoiler'] });
    await host.page.waitForTimeout(300);
    const shadow = `huge SPOILER ahead ${Date.now()}`;
    const visible = `no secrets here ${Date.now()}`;
    await say(b, shadow);
    await say(b, visible);
    await commentId(b.page, shadow, 'the shadow-hidden comment at its author');
    await commentId(a.page, visible, "Bob's next comment at Ann");
    report.shadowSeenByOthers = await hasText(a.page, '#chat .comment .text', shadow);
    assert(!report.shadowSeenByOthers, 'a shadow-hidden comment reached another viewer');

    // Mute Ann.
    const annId = await a.page.evaluate(() => window.__livecart.user.id);
    await mod({ type: 'mute', user_id: annId });
    await waitInPage(a.page, () => [...document.querySelectorAll('#chat .notice')].some((n) => /muted/.test(n.textContent)),
        null, { timeout: 5000, what: 'the muted notice' });
    await say(a, 'can I still talk?');
    await waitInPage(a.page, () => document.querySelector('#toast').classList.contains('show') &&
        /muted/i.test(document.querySelector('#toast').textContent), null, { timeout: 5000, what: 'the "muted" toast' });
    report.mutedToast = await a.page.textContent('#toast');
    await mod({ type: 'unmute', user_id: annId });

    // Plugins: a size question → the ai-host answers, keyword-push pushes the size card in
    // the "compact" style.
    const variant = await a.page.evaluate(() => window.__livecart.variant);
    const question = 'What sizes are there?';
    await say(b, question);
    await waitInPage(a.page, () => document.querySelector('#chat .comment.host-reply[data-user^="plugin:"]'), null,
        { timeout: 10000, what: 'a plugin reply styled as the host' });
    report.pluginReply = await a.page.$eval('#chat .comment.host-reply[data-user^="plugin:"]', (n) => ({
        user: n.dataset.user, role: n.querySelector('.role')?.textContent, text: n.querySelector('.text').textContent,
    }));
    await a.page.waitForSelector('#card .card', { state: 'visible', timeout: 10000 });
    report.pluginCard = await a.page.$eval('#card .card', (c) => ({ product: c.dataset.product, style: c.dataset.style, variant: c.dataset.variant }));
    report.viewerVariant = variant;
    assert(report.pluginCard.style === 'compact' && report.pluginCard.variant === 'b',
        `the host style "compact" should give the compact card, got ${JSON.stringify(report.pluginCard)}`);

    // A gift from Bob.
    await b.page.click('#gift-open');
    await b.page.click('#gift-picker [data-gift="rose"]');
    await a.page.waitForSelector('#gift-banner .gift-pop', { timeout: 5000 });
    report.giftBanner = await a.page.textContent('#gift-banner .gift-pop');
    assert(/Bob/.test(report.giftBanner) && /Rose/.test(report.giftBanner), `gift banner: ${report.giftBanner}`);
    assert(await a.page.$('#chat .gift-line'), 'no gift line in the chat');
    report.screenshot = await screenshot(a.page, args.artifacts, 'viewer-moderation.png');

    const fatal = [...a.errors, ...b.errors, ...host.errors].filter((e) => e.startsWith('pageerror'));
    assert(fatal.length === 0, `page errors: ${fatal.join('; ')}`);
    log(`plugin reply: ${report.pluginReply.text}`);
});
