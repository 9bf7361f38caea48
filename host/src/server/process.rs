//! Process limits and memory for a server that holds many sockets.
//!
//! - [`raise_fd_limit`]: every connection is a file descriptor, and the usual default soft
//!   limit of 1024 is reached by a few hundred viewers plus the store, plugins and media.
//!   `serve` raises the soft limit to the hard limit at start and warns when it stays low.
//! - [`spawn_trimmer`]: glibc's malloc keeps memory freed by many threads in its arenas,
//!   so a flood of connections leaves the RSS high after every connection has closed.
//!   When many connections have gone, `malloc_trim(0)` hands the free pages back.

use std::time::Duration;

/// The soft and hard `RLIMIT_NOFILE` after trying to raise the soft limit to the hard one.
#[allow(unsafe_code)]
pub fn raise_fd_limit() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; failing leaves the limit as it was.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Descriptors kept for everything that is not a client connection (store, plugin cache,
/// media, RTMP, logs).
pub const FD_RESERVE: u64 = 256;

/// The global connection cap that fits in `soft_fds` descriptors: at most `wanted`
/// (0: no cap wanted), and never more than the limit minus [`FD_RESERVE`], so the
/// process runs out of connection slots (a clear 503) before it runs out of descriptors
/// (`/healthz` and new viewers hanging).
pub fn fitting_conn_cap(wanted: usize, soft_fds: u64) -> usize {
    let fit = usize::try_from(soft_fds.saturating_sub(FD_RESERVE).max(1)).unwrap_or(usize::MAX);
    match wanted {
        0 => fit,
        w => w.min(fit),
    }
}

/// Give freed heap back to the OS (glibc only; elsewhere a no-op).
#[allow(unsafe_code)]
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Every `every`, trim the heap if at least `drop` connections closed since the busiest
/// moment since the last look (a flood shorter than `every` counts too).
pub fn spawn_trimmer(every: Duration, drop: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        let mut peak = 0;
        loop {
            tick.tick().await;
            let open = crate::metrics::HTTP_OPEN.get();
            peak = peak.max(crate::metrics::HTTP_OPEN.take_peak());
            if peak.saturating_sub(open) >= drop {
                let _ = tokio::task::spawn_blocking(trim_heap).await;
                tracing::debug!(peak, open, "trimmed the heap after connections closed");
                peak = open;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_descriptors_for_everything_else() {
        assert_eq!(fitting_conn_cap(100_000, 1024), 768);
        assert_eq!(fitting_conn_cap(500, 1024), 500);
        assert_eq!(fitting_conn_cap(0, 65_536), 65_280);
        assert_eq!(fitting_conn_cap(10, 100), 1);
    }

    #[test]
    fn the_soft_fd_limit_is_raised_to_the_hard_limit() {
        let (soft, hard) = raise_fd_limit().unwrap_or((0, 0));
        assert!(soft > 0);
        assert_eq!(soft, hard);
    }
}
