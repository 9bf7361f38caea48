//! What the soak reads of the server each minute: `/proc` (RSS, fds, CPU time) and the
//! server's own `/metrics` (panics, the live's packaging lag).

use crate::cli::bench_ws::server::{ServerChild, cpu_seconds};

/// The value of the sample `name` (with its labels, e.g. `x{room="demo"}`) in a
/// Prometheus text exposition.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The server's figures at one moment.
pub struct Probe {
    pub rss_mb: f64,
    pub fds: usize,
    pub cpu_s: f64,
    pub panics: u64,
    /// The demo room's packaging lag, ms.
    pub video_ms: Option<f64>,
}

impl Probe {
    pub async fn read(server: &ServerChild, room: &str) -> anyhow::Result<Probe> {
        let text = server.get_text("/metrics").await?;
        let lag = metric(
            &text,
            &format!("livecart_packaging_lag_seconds{{room=\"{room}\"}}"),
        );
        Ok(Probe {
            rss_mb: server.rss_kib()? as f64 / 1024.0,
            fds: server.fds()?,
            cpu_s: cpu_seconds(server.pid()),
            panics: metric(&text, "livecart_panics_total").unwrap_or(0.0) as u64,
            video_ms: lag.map(|s| s * 1000.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_samples_are_found_by_name_and_labels() {
        let text = "# HELP livecart_panics_total x\nlivecart_panics_total 0\n\
                    livecart_packaging_lag_seconds{room=\"demo\"} 0.412\n";
        assert_eq!(metric(text, "livecart_panics_total"), Some(0.0));
        assert_eq!(
            metric(text, "livecart_packaging_lag_seconds{room=\"demo\"}"),
            Some(0.412)
        );
        assert_eq!(
            metric(text, "livecart_packaging_lag_seconds{room=\"x\"}"),
            None
        );
    }
}
