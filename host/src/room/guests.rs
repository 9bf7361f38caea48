//! Guests and the limits they could otherwise escape: who counts as a guest, and the
//! per-device and per-network throttles on their coupon claims and flash-sale buys.
//!
//! A guest is a viewer whose identity livecart made up (a token-less connection, or a
//! token from `POST /api/rooms/{room}/guest`; both have ids starting `g_`). Minting one
//! costs nothing, so a per-user limit alone does not bind a guest: reconnecting gives a new
//! user. Two defences, for two kinds of merchant:
//! - a coupon or sale marked `signed_in_only` refuses guests (`sign_in_required`), so its
//!   limits bind identities the merchant minted after its own sign-in (the store decides);
//! - every other claim or buy by a guest is also counted per device (the id the viewer
//!   page keeps in local storage and sends in `hello`) and per network (the client's IP,
//!   or the address a trusted proxy forwarded; loopback is not counted, being a local tool
//!   or a proxy not declared trusted), here: a device gets the per-user limit,
//!   a network [`GuestLimits::per_network`] times it (phones behind one carrier NAT share
//!   an address). Past either, `guest_limit`.
//!
//! What a guest can still do: clear its storage and move to another network (each node
//! counts on its own, for [`GuestLimits::window`]). A merchant who needs the limit to hold
//! marks the coupon `signed_in_only`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The prefix of every identity livecart makes up for a guest.
pub const GUEST_PREFIX: &str = "g_";

/// Whether a user id is a guest's (made up by livecart, not minted by the merchant).
pub fn is_guest(user_id: &str) -> bool {
    user_id.starts_with(GUEST_PREFIX)
}

/// Where a connection comes from, as far as the throttles can tell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientOrigin {
    /// The client's network address (IPv6 by its /64), if known.
    pub network: Option<IpAddr>,
    /// The device id the viewer page sent in `hello`, if any.
    pub device: Option<String>,
}

/// A device id as the viewer page makes it: 8 to 64 of `A-Z a-z 0-9 - _`.
pub fn valid_device(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The throttles' settings.
#[derive(Clone, Copy, Debug)]
pub struct GuestLimits {
    /// A network may make this many times a coupon's (or sale's) per-user limit in guest
    /// claims (or units).
    pub per_network: u32,
    /// How long a count is kept.
    pub window: Duration,
}

impl Default for GuestLimits {
    fn default() -> Self {
        GuestLimits {
            per_network: 5,
            window: Duration::from_secs(3600),
        }
    }
}

/// Why a guest's claim or buy is refused before it reaches the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestRefusal {
    #[error("this device has reached the guest limit of {limit} for {what}; sign in to get more")]
    Device { what: String, limit: u32 },
    #[error(
        "guests on this network have reached their limit of {limit} for {what}; sign in to get more"
    )]
    Network { what: String, limit: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Who {
    Device(String),
    Network(IpAddr),
}

/// What one device or network took of one item: by which guest, how much, since when.
#[derive(Debug)]
struct Taken {
    by: Vec<(String, u32)>,
    since: Instant,
}

impl Taken {
    /// Taken by guests other than `user` (`user`'s own count is the store's per-user
    /// limit's to judge, with its own precise message).
    fn by_others(&self, user: &str) -> u32 {
        self.by
            .iter()
            .filter(|(u, _)| u != user)
            .fold(0u32, |sum, (_, n)| sum.saturating_add(*n))
    }
}

/// How long an offer's per-user limit, read from the store, is reused: a claim storm
/// reads it once, and a merchant's change reaches the throttles within this.
const LIMIT_TTL: Duration = Duration::from_secs(10);

/// Guest claims and buys per coupon or sale, per device and per network, on this node.
#[derive(Debug, Default)]
pub struct GuestThrottle {
    limits: GuestLimits,
    counts: Mutex<HashMap<(String, Who), Taken>>,
    /// Offers' per-user limits (`None`: no such offer), as last read, and when.
    per_user: Mutex<HashMap<String, (Option<u32>, Instant)>>,
}

impl GuestThrottle {
    pub fn new(limits: GuestLimits) -> Self {
        GuestThrottle {
            limits,
            ..Default::default()
        }
    }

    /// The per-user limit of `item` read within the last [`LIMIT_TTL`], if any.
    pub fn known_limit(&self, item: &str, now: Instant) -> Option<Option<u32>> {
        let known = self.per_user.lock().ok()?;
        known
            .get(item)
            .filter(|(_, at)| now.duration_since(*at) < LIMIT_TTL)
            .map(|(limit, _)| *limit)
    }

    /// Remember the per-user limit of `item` as read from the store.
    pub fn remember_limit(&self, item: &str, limit: Option<u32>, now: Instant) {
        if let Ok(mut known) = self.per_user.lock() {
            if known.len() > 10_000 {
                known.retain(|_, (_, at)| now.duration_since(*at) < LIMIT_TTL);
            }
            known.insert(item.to_owned(), (limit, now));
        }
    }

    fn keys(item: &str, from: &ClientOrigin) -> Vec<(String, Who)> {
        let mut keys = Vec::with_capacity(2);
        if let Some(d) = &from.device {
            keys.push((item.to_owned(), Who::Device(d.clone())));
        }
        if let Some(ip) = from.network {
            keys.push((item.to_owned(), Who::Network(ip)));
        }
        keys
    }

    /// Whether guest `user` from `from` may take `amount` more of `item` (`what` names it
    /// for people), whose per-user limit is `per_user`: what other guests of the same
    /// device or network took counts against it.
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        &self,
        item: &str,
        what: &str,
        per_user: u32,
        amount: u32,
        user: &str,
        from: &ClientOrigin,
        now: Instant,
    ) -> Result<(), GuestRefusal> {
        let Ok(counts) = self.counts.lock() else {
            return Ok(());
        };
        for key in Self::keys(item, from) {
            let used = counts
                .get(&key)
                .filter(|t| now.duration_since(t.since) < self.limits.window)
                .map_or(0, |t| t.by_others(user));
            let limit = match key.1 {
                Who::Device(_) => per_user,
                Who::Network(_) => per_user.saturating_mul(self.limits.per_network),
            };
            if used.saturating_add(amount) > limit {
                let what = what.to_owned();
                return Err(match key.1 {
                    Who::Device(_) => GuestRefusal::Device { what, limit },
                    Who::Network(_) => GuestRefusal::Network { what, limit },
                });
            }
        }
        Ok(())
    }

    /// Count `amount` of `item` taken by guest `user` from `from`.
    pub fn record(&self, item: &str, amount: u32, user: &str, from: &ClientOrigin, now: Instant) {
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        let window = self.limits.window;
        // Forget expired counts now and then, so the map stays as small as the traffic.
        if counts.len() > 10_000 {
            counts.retain(|_, t| now.duration_since(t.since) < window);
        }
        for key in Self::keys(item, from) {
            let taken = counts.entry(key).or_insert_with(|| Taken {
                by: Vec::new(),
                since: now,
            });
            if now.duration_since(taken.since) >= window {
                *taken = Taken {
                    by: Vec::new(),
                    since: now,
                };
            }
            match taken.by.iter_mut().find(|(u, _)| u == user) {
                Some((_, n)) => *n = n.saturating_add(amount),
                None => taken.by.push((user.to_owned(), amount)),
            }
        }
    }
}

/// The address the throttles count a client by: IPv4 as it is, IPv6 by its /64 (one
/// subscriber's prefix), as the media origin's limiter does.
pub fn network_of(ip: IpAddr) -> IpAddr {
    livecart_media::origin::throttle::key(ip)
}

/// The client's address: the peer's, or when the peer is a trusted proxy, the last
/// address it appended to `X-Forwarded-For`.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    forwarded_for
        .and_then(|v| v.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(device: Option<&str>, ip: &str) -> ClientOrigin {
        ClientOrigin {
            network: ip.parse().ok(),
            device: device.map(str::to_owned),
        }
    }

    #[test]
    fn a_device_gets_the_per_user_limit_and_a_network_a_multiple() {
        let t = GuestThrottle::new(GuestLimits::default());
        let now = Instant::now();
        let phone = from(Some("device-aaaa"), "10.0.0.1");
        assert!(t.check("c1", "coupon c1", 1, 1, "g_1", &phone, now).is_ok());
        t.record("c1", 1, "g_1", &phone, now);
        // The same guest again is the store's per-user limit to refuse, not this.
        assert!(t.check("c1", "coupon c1", 1, 1, "g_1", &phone, now).is_ok());
        // Another guest identity on that device is refused.
        assert_eq!(
            t.check("c1", "coupon c1", 1, 1, "g_2", &phone, now),
            Err(GuestRefusal::Device {
                what: "coupon c1".into(),
                limit: 1
            })
        );
        // A new device id on the same network: four more, then the network is full.
        for i in 0..4 {
            let other = from(Some(&format!("device-b{i:03}")), "10.0.0.1");
            let user = format!("g_b{i}");
            assert!(t.check("c1", "coupon c1", 1, 1, &user, &other, now).is_ok());
            t.record("c1", 1, &user, &other, now);
        }
        let sixth = from(Some("device-cccc"), "10.0.0.1");
        let err = t
            .check("c1", "coupon c1", 1, 1, "g_6", &sixth, now)
            .expect_err("full");
        assert_eq!(
            err.to_string(),
            "guests on this network have reached their limit of 5 for coupon c1; sign in to get more"
        );
        // Another coupon, another network, or the window gone by: free again.
        assert!(t.check("c2", "coupon c2", 1, 1, "g_6", &sixth, now).is_ok());
        let elsewhere = from(None, "10.0.0.2");
        assert!(
            t.check("c1", "coupon c1", 1, 1, "g_6", &elsewhere, now)
                .is_ok()
        );
        let later = now + Duration::from_secs(3601);
        assert!(
            t.check("c1", "coupon c1", 1, 1, "g_2", &phone, later)
                .is_ok()
        );
    }

    #[test]
    fn guests_devices_and_forwarded_addresses() {
        assert!(is_guest("g_18a2e1") && !is_guest("u-42"));
        assert!(
            valid_device("0123456789abcdef")
                && !valid_device("short")
                && !valid_device("no spaces here!")
        );
        let lb: IpAddr = "10.1.1.1".parse().expect("ip");
        let client: IpAddr = "203.0.113.9".parse().expect("ip");
        let xff = Some("198.51.100.1, 203.0.113.9");
        assert_eq!(client_ip(lb, xff, &[lb]), client);
        assert_eq!(
            client_ip(lb, xff, &[]),
            lb,
            "an untrusted peer's header is ignored"
        );
        assert_eq!(client_ip(lb, Some("garbage"), &[lb]), lb);
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().expect("ip");
        assert_eq!(
            network_of(v6),
            "2001:db8:1:2::".parse::<IpAddr>().expect("ip")
        );
    }
}
