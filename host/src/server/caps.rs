//! Connection caps: at most so many open connections per client IP and in all.
//!
//! A permit is taken when a connection is accepted and held for as long as its socket is
//! open (through an upgrade to WebSocket too), so idle sockets, long polls and rooms all
//! count. IPv6 clients are counted per /64, the block one subscriber usually gets.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    PerIp,
    Global,
}

/// The open connections, by client.
#[derive(Debug)]
pub struct ConnCaps {
    /// 0 is no cap.
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl ConnCaps {
    /// Caps of `max_total` connections and `max_per_ip` per client; 0 is no cap.
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(ConnCaps {
            max_total,
            max_per_ip,
            open: Mutex::new(Open::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A permit for one more connection from `ip`, or why not.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnPermit, Refused> {
        let key = client_key(ip);
        let mut open = self.lock();
        if self.max_total > 0 && open.total >= self.max_total {
            return Err(Refused::Global);
        }
        let n = open.per_ip.entry(key).or_insert(0);
        if self.max_per_ip > 0 && *n >= self.max_per_ip {
            return Err(Refused::PerIp);
        }
        *n += 1;
        open.total += 1;
        Ok(ConnPermit {
            caps: self.clone(),
            key,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    fn release(&self, key: IpAddr) {
        let mut open = self.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_ip.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&key);
            }
        }
        // A flood leaves a big table behind; give its memory back once it has passed.
        if open.per_ip.capacity() > 1024 && open.per_ip.len() < open.per_ip.capacity() / 8 {
            open.per_ip.shrink_to_fit();
        }
    }
}

/// One open connection; dropping it frees its place.
#[derive(Debug)]
pub struct ConnPermit {
    caps: Arc<ConnCaps>,
    key: IpAddr,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        self.caps.release(self.key);
    }
}

/// The address a client is counted under: IPv4 as is, IPv6 by its /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            seg[4..].fill(0);
            IpAddr::V6(Ipv6Addr::from(seg))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn the_cap_plus_first_connection_from_one_ip_is_refused_until_one_closes() {
        let caps = ConnCaps::new(0, 2);
        let a = caps.try_acquire(ip("10.0.0.1"));
        let b = caps.try_acquire(ip("10.0.0.1"));
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(caps.try_acquire(ip("10.0.0.1")).err(), Some(Refused::PerIp));
        assert!(caps.try_acquire(ip("10.0.0.2")).is_ok());
        drop(a);
        assert!(caps.try_acquire(ip("10.0.0.1")).is_ok());
    }

    #[test]
    fn the_global_cap_refuses_everyone_once_reached() {
        let caps = ConnCaps::new(2, 0);
        let _a = caps.try_acquire(ip("10.0.0.1"));
        let _b = caps.try_acquire(ip("10.0.0.2"));
        assert_eq!(
            caps.try_acquire(ip("10.0.0.3")).err(),
            Some(Refused::Global)
        );
        assert_eq!(caps.open(), 2);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let caps = ConnCaps::new(0, 1);
        let _a = caps.try_acquire(ip("2001:db8:1:2::1"));
        assert!(caps.try_acquire(ip("2001:db8:1:2::ffff")).is_err());
        assert!(caps.try_acquire(ip("2001:db8:1:3::1")).is_ok());
        let _v4 = caps.try_acquire(ip("192.0.2.1"));
        assert!(caps.try_acquire(ip("::ffff:192.0.2.1")).is_err());
    }
}
