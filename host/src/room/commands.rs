//! What each client message does once a connection has joined: chat, likes, gifts,
//! claims, buys, host pushes, moderation, analytics acks and clock sync. Role checks for
//! privileged messages happen here, before any effect.

use super::Rooms;
use super::commerce::{self, new_id};
use super::conn::{Session, WsOut, send};
use super::guests::{self, ClientOrigin};
use super::outbox::Class;
use super::protocol::{ClientMsg, CommentView, Moderation, ServerMsg};
use crate::auth::Role;
use crate::plugin::model::EventBody;
use crate::store::{BuyRequest, CARD_VARIANTS, ClaimRequest, Click, OfferedIn, ab_variant, now_ms};
use futures_util::Sink;
use std::time::Instant;

/// A refused message: the error code and a sentence for people.
pub(super) struct Refusal(pub(super) &'static str, pub(super) String);

fn forbidden(what: &str, role: Role) -> Refusal {
    Refusal(
        "forbidden",
        format!(
            "{what} needs the {} role",
            match role {
                Role::Host => "host",
                Role::Moderator => "moderator",
                Role::Viewer => "viewer",
            }
        ),
    )
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Refusal("internal", "internal error".into()))
}

/// For a guest: why the device and network throttles refuse `amount` more of `item`
/// (`what` names it for people), if they do. The offer's per-user limit is remembered
/// for a few seconds, else `read` from the store (a claim storm reads it once). A guest
/// with nothing to count it by (no device id, a loopback client) is not throttled.
async fn guest_refusal(
    rooms: &Rooms,
    session: &Session,
    item: &str,
    what: &str,
    amount: u32,
    read: impl FnOnce() -> Option<u32> + Send + 'static,
) -> Result<Option<guests::GuestRefusal>, Refusal> {
    if session.origin == ClientOrigin::default() {
        return Ok(None);
    }
    let per_user = match rooms.guests.known_limit(item, Instant::now()) {
        Some(known) => known,
        None => {
            let limit = blocking(read).await?;
            rooms.guests.remember_limit(item, limit, Instant::now());
            limit
        }
    };
    let Some(limit) = per_user else {
        return Ok(None); // no such offer: the store says so
    };
    let (user, now) = (&session.user.id, Instant::now());
    Ok(rooms
        .guests
        .check(item, what, limit, amount, user, &session.origin, now)
        .err())
}

pub(super) async fn dispatch<S: Sink<WsOut> + Unpin>(
    rooms: &Rooms,
    sink: &mut S,
    session: &mut Session,
    msg: ClientMsg,
) -> Result<(), Refusal> {
    let cfg = &rooms.deps.config;
    let hub = session.room.hub.clone();
    let plugins = &session.room.plugins;
    let store = rooms.deps.store.clone();
    let user = session.user.clone();
    match msg {
        ClientMsg::Hello { .. } | ClientMsg::Join { .. } => {
            return Err(Refusal("bad_state", "already joined".into()));
        }
        ClientMsg::Ping { client_ms } => {
            let _ = send(
                sink,
                &ServerMsg::Pong {
                    client_ms,
                    server_ms: now_ms(),
                },
            )
            .await;
        }
        ClientMsg::Comment { text } => {
            let text = text.trim().to_owned();
            let chars = text.chars().count();
            if chars == 0 || chars > cfg.max_comment_chars {
                return Err(Refusal(
                    "bad_message",
                    format!("a comment has 1 to {} characters", cfg.max_comment_chars),
                ));
            }
            if hub.is_muted(&user.id) {
                return Err(Refusal("muted", "you are muted in this room".into()));
            }
            if !hub.bus_connected() {
                return Err(Refusal(
                    "bus_unavailable",
                    "the room is reconnecting to its message bus: the comment was not sent; \
                     send it again in a moment"
                        .into(),
                ));
            }
            let shadow = hub.is_blocked(&text);
            let comment = CommentView {
                id: new_id("c"),
                user: user.clone(),
                text: text.clone(),
                ts: now_ms(),
                reply_to: None,
                kind: None,
            };
            let comment_id = comment.id.clone();
            hub.comment(comment, &session.outbox, shadow);
            if !shadow {
                plugins.event(EventBody::Comment {
                    comment_id,
                    user_id: user.id,
                    user_name: user.name,
                    text,
                });
            }
        }
        ClientMsg::Like { count } => {
            if count == 0 || count > cfg.max_like_batch {
                return Err(Refusal(
                    "bad_message",
                    format!("a like message carries 1 to {} taps", cfg.max_like_batch),
                ));
            }
            hub.add_likes(u64::from(count));
        }
        ClientMsg::Gift { gift_id, count } => {
            if count == 0 || count > 1000 || gift_id.is_empty() || gift_id.len() > 64 {
                return Err(Refusal(
                    "bad_message",
                    "a gift needs an id and a count of 1 to 1000".into(),
                ));
            }
            let author = user.id.clone();
            hub.publish(Class::Chat, Some(&author), |o| ServerMsg::Gift {
                o,
                user: user.clone(),
                gift_id: gift_id.clone(),
                count,
            });
            plugins.event(EventBody::Gift {
                user_id: user.id,
                user_name: user.name,
                gift_id,
                count,
                value_cents: 0,
            });
        }
        ClientMsg::Claim {
            coupon_id,
            key,
            push_id,
        } => {
            let variant = push_id
                .as_ref()
                .map(|_| ab_variant(&user.id, &hub.id, CARD_VARIANTS));
            let guest = user.role == Role::Viewer && guests::is_guest(&user.id);
            let item = format!("coupon:{coupon_id}");
            if guest {
                let (s, id, what) = (
                    store.clone(),
                    coupon_id.clone(),
                    format!("coupon {coupon_id}"),
                );
                let read = move || s.coupon(&id).ok().flatten().map(|c| c.per_user_limit);
                if let Some(refused) = guest_refusal(rooms, session, &item, &what, 1, read).await? {
                    let reply = ServerMsg::ClaimResult {
                        coupon_id,
                        ok: false,
                        claim_id: None,
                        error: Some(refused.to_string()),
                        code: Some("guest_limit".into()),
                    };
                    let _ = send(sink, &reply).await;
                    return Ok(());
                }
            }
            let result = rooms
                .commits
                .claim(ClaimRequest {
                    coupon_id: coupon_id.clone(),
                    user_id: user.id.clone(),
                    idempotency_key: key,
                    now_ms: now_ms(),
                    push_id,
                    variant,
                    // Only coupons offered in this room: the merchant's, for it or for all.
                    offered_in: Some(OfferedIn {
                        merchant_id: hub.merchant_id.to_string(),
                        room_id: hub.id.to_string(),
                    }),
                    issued: false,
                    guest,
                })
                .await;
            let reply = match result {
                Ok(claim) => {
                    if !claim.replayed && guest {
                        rooms
                            .guests
                            .record(&item, 1, &user.id, &session.origin, Instant::now());
                    }
                    if !claim.replayed {
                        plugins.event(EventBody::CouponClaimed {
                            coupon_id: coupon_id.clone(),
                            user_id: user.id.clone(),
                        });
                    }
                    ServerMsg::ClaimResult {
                        coupon_id,
                        ok: true,
                        claim_id: Some(claim.claim_id),
                        error: None,
                        code: None,
                    }
                }
                Err(e) => ServerMsg::ClaimResult {
                    coupon_id,
                    ok: false,
                    claim_id: None,
                    error: Some(e.to_string()),
                    code: Some(e.code().into()),
                },
            };
            let _ = send(sink, &reply).await;
        }
        ClientMsg::Buy {
            sale_id,
            quantity,
            key,
            sku,
        } => {
            let guest = user.role == Role::Viewer && guests::is_guest(&user.id);
            let item = format!("sale:{sale_id}");
            if guest {
                let (s, id, what) = (
                    store.clone(),
                    sale_id.clone(),
                    format!("flash sale {sale_id}"),
                );
                let read = move || s.flash_sale(&id).ok().flatten().map(|f| f.per_user_limit);
                if let Some(refused) =
                    guest_refusal(rooms, session, &item, &what, quantity, read).await?
                {
                    let reply = buy_refused(sale_id, refused.to_string(), "guest_limit");
                    let _ = send(sink, &reply).await;
                    return Ok(());
                }
            }
            let result = rooms
                .commits
                .buy(BuyRequest {
                    sale_id: sale_id.clone(),
                    user_id: user.id.clone(),
                    quantity,
                    sku,
                    idempotency_key: key,
                    now_ms: now_ms(),
                    // Only the sales of this room.
                    in_room: Some(hub.id.to_string()),
                    guest,
                })
                .await;
            let reply = match result {
                Ok(order) => {
                    if !order.replayed && guest {
                        rooms.guests.record(
                            &item,
                            order.quantity,
                            &user.id,
                            &session.origin,
                            Instant::now(),
                        );
                    }
                    if !order.replayed {
                        hub.stock_changed(&sale_id);
                        plugins.event(EventBody::Purchase {
                            order_id: order.order_id.clone(),
                            product_id: order.product_id.clone(),
                            user_id: user.id.clone(),
                            quantity: order.quantity,
                            amount_cents: order.amount_cents,
                        });
                    }
                    ServerMsg::BuyResult {
                        sale_id,
                        ok: true,
                        order_id: Some(order.order_id),
                        sku_id: order.sku_id,
                        quantity: Some(order.quantity),
                        amount_cents: Some(order.amount_cents),
                        error: None,
                        code: None,
                    }
                }
                Err(e) => buy_refused(sale_id, e.to_string(), e.code()),
            };
            let _ = send(sink, &reply).await;
        }
        ClientMsg::Push {
            product_id,
            style,
            duration_ms,
        } => {
            if !session.role_at_least(Role::Host) {
                return Err(forbidden("push", Role::Host));
            }
            let h = hub.clone();
            let card = blocking(move || {
                commerce::push_card(
                    &*store,
                    &h,
                    &product_id,
                    style,
                    duration_ms.unwrap_or(0),
                    "host",
                )
            })
            .await?
            .map_err(|e| Refusal("refused", e.to_string()))?;
            plugins.event(EventBody::ProductPushed {
                product_id: card.product.id.clone(),
                push_id: card.push_id,
            });
        }
        ClientMsg::Mute { user_id } => {
            moderate(session, |h| h.set_muted(&user_id, true))?;
            hub.publish(Class::Critical, None, |o| ServerMsg::Moderation {
                o,
                action: Moderation::Mute { user_id },
            });
        }
        ClientMsg::Unmute { user_id } => {
            moderate(session, |h| h.set_muted(&user_id, false))?;
            hub.publish(Class::Critical, None, |o| ServerMsg::Moderation {
                o,
                action: Moderation::Unmute { user_id },
            });
        }
        ClientMsg::Hide { comment_id } => {
            moderate(session, |_| {})?;
            hub.hide_comment(comment_id);
        }
        ClientMsg::Pin { comment_id } => {
            moderate(session, |_| {})?;
            hub.publish(Class::Critical, None, |o| ServerMsg::Moderation {
                o,
                action: Moderation::Pin { comment_id },
            });
        }
        ClientMsg::BlockWords { words } => {
            if words.len() > 100 || words.iter().any(|w| w.len() > 64) {
                return Err(Refusal(
                    "bad_message",
                    "at most 100 words of at most 64 bytes".into(),
                ));
            }
            moderate(session, |h| h.block_words(&words))?;
        }
        ClientMsg::Ack { acks } => {
            if acks.len() > 100 {
                return Err(Refusal(
                    "bad_message",
                    "at most 100 acks per message".into(),
                ));
            }
            let (room, uid) = (hub.id.clone(), user.id.clone());
            blocking(move || store.record_acks(&room, &uid, &acks))
                .await?
                .map_err(|_| Refusal("internal", "internal error".into()))?;
        }
        ClientMsg::Click {
            push_id,
            product_id,
        } => {
            let (room, uid) = (hub.id.clone(), user.id.clone());
            let click = Click {
                push_id: push_id.clone(),
                product_id: product_id.clone(),
                user_id: uid.clone(),
                variant: Some(ab_variant(&uid, &room, CARD_VARIANTS)),
                at_ms: now_ms(),
            };
            blocking(move || store.record_click(&click))
                .await?
                .map_err(|_| Refusal("internal", "internal error".into()))?;
            plugins.event(EventBody::ProductClicked {
                product_id,
                push_id,
                user_id: user.id,
            });
        }
    }
    Ok(())
}

fn moderate(session: &Session, f: impl FnOnce(&super::hub::RoomHub)) -> Result<(), Refusal> {
    if !session.role_at_least(Role::Moderator) {
        return Err(forbidden("moderation", Role::Moderator));
    }
    f(&session.room.hub);
    Ok(())
}

/// A refused buy's answer.
fn buy_refused(sale_id: String, error: String, code: &'static str) -> ServerMsg {
    ServerMsg::BuyResult {
        sale_id,
        ok: false,
        order_id: None,
        sku_id: None,
        quantity: None,
        amount_cents: None,
        error: Some(error),
        code: Some(code.into()),
    }
}
