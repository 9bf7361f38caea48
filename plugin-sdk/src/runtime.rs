//! The glue between the generated `guest.handle` export and a [`Plugin`]'s handlers.

use crate::{Action, Config, Context, Event, EventBody, Plugin, Result};

/// Run one batch: configure lazily, then call the handler for each event in order.
/// `slot` is the instance's plugin value, kept between batches as a cache.
pub fn handle<P: Plugin>(
    slot: &mut Option<P>,
    events: Vec<Event>,
) -> std::result::Result<Vec<Action>, String> {
    if slot.is_none() {
        route_panics_to_log();
    }
    let mut actions = Vec::new();
    for event in &events {
        if matches!(event.body, EventBody::ConfigChanged) {
            *slot = None;
        }
        let plugin = match slot {
            Some(plugin) => plugin,
            None => {
                let mut plugin = P::default();
                plugin
                    .configure(&Config::load())
                    .map_err(|e| format!("configure: {e}"))?;
                slot.insert(plugin)
            }
        };
        let mut cx = Context::new(event, &mut actions);
        dispatch(plugin, &mut cx, &event.body)
            .map_err(|e| format!("event {} ({}): {e}", event.id, kind_name(&event.body)))?;
    }
    Ok(actions)
}

fn dispatch<P: Plugin>(plugin: &mut P, cx: &mut Context, body: &EventBody) -> Result {
    match body {
        EventBody::ViewerJoined(p) => plugin.on_viewer_joined(cx, p),
        EventBody::ViewerLeft(p) => plugin.on_viewer_left(cx, p),
        EventBody::Comment(c) => plugin.on_comment(cx, c),
        EventBody::Likes(l) => plugin.on_likes(cx, l),
        EventBody::Gift(g) => plugin.on_gift(cx, g),
        EventBody::ProductPushed(p) => plugin.on_product_pushed(cx, p),
        EventBody::ProductClicked(c) => plugin.on_product_clicked(cx, c),
        EventBody::CouponClaimed(c) => plugin.on_coupon_claimed(cx, c),
        EventBody::Purchase(p) => plugin.on_purchase(cx, p),
        EventBody::StreamStarted => plugin.on_stream_started(cx),
        EventBody::StreamStopped => plugin.on_stream_stopped(cx),
        EventBody::TimerFired(name) => plugin.on_timer(cx, name),
        EventBody::AiReply(r) => plugin.on_ai_reply(cx, r),
        EventBody::ConfigChanged => plugin.on_config_changed(cx),
    }
}

fn kind_name(body: &EventBody) -> &'static str {
    match body {
        EventBody::ViewerJoined(_) => "viewer-joined",
        EventBody::ViewerLeft(_) => "viewer-left",
        EventBody::Comment(_) => "comment",
        EventBody::Likes(_) => "likes",
        EventBody::Gift(_) => "gift",
        EventBody::ProductPushed(_) => "product-pushed",
        EventBody::ProductClicked(_) => "product-clicked",
        EventBody::CouponClaimed(_) => "coupon-claimed",
        EventBody::Purchase(_) => "purchase",
        EventBody::StreamStarted => "stream-started",
        EventBody::StreamStopped => "stream-stopped",
        EventBody::TimerFired(_) => "timer-fired",
        EventBody::AiReply(_) => "ai-reply",
        EventBody::ConfigChanged => "config-changed",
    }
}

/// Send panic messages to the plugin log, where the merchant sees them next to the fault.
/// (Without this a `wasm32-unknown-unknown` plugin's panic would say only "unreachable".)
fn route_panics_to_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::log::error(&format!("panic: {info}"))
        }));
    });
}
