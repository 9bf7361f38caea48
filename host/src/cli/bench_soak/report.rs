//! The soak's minute rows, the Markdown table and the verdict: first minutes against
//! last minutes, as medians, with the drift in percent.

/// One minute of the soak.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub minute: u32,
    pub rss_mb: f64,
    pub fds: usize,
    /// Server CPU over the minute, percent of one core.
    pub cpu_pct: f64,
    /// Chat send → delivered to other viewers, ms.
    pub chat_p50: f64,
    pub chat_p99: f64,
    /// The live's packaging lag (ingest → first chunk of the newest segment ready), ms;
    /// `None` when the live was not packaging.
    pub video_ms: Option<f64>,
    pub claim_p50: f64,
    pub claim_p99: f64,
    /// The minute's storm: claims sent, ok, refused, unanswered, stored count, quota.
    pub claims: [u64; 6],
    pub delivered: u64,
    pub panics: u64,
    pub connected: u64,
}

/// Print the table of every minute.
pub fn table(rows: &[Row]) {
    println!(
        "| minute | RSS (MB) | fds | server CPU (% of a core) | chat p50 / p99 (ms) | video lag (ms) | claim p50 / p99 (ms) | storm sent / ok / refused / no answer | stored / quota | chat delivered | panics | viewers |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let [sent, ok, refused, lost, stored, quota] = r.claims;
        println!(
            "| {} | {:.0} | {} | {:.0} | {:.1} / {:.1} | {} | {:.1} / {:.1} | {sent} / {ok} / {refused} / {lost} | {stored} / {quota} | {} | {} | {} |",
            r.minute,
            r.rss_mb,
            r.fds,
            r.cpu_pct,
            r.chat_p50,
            r.chat_p99,
            r.video_ms.map_or("—".into(), |v| format!("{v:.0}")),
            r.claim_p50,
            r.claim_p99,
            r.delivered,
            r.panics,
            r.connected,
        );
    }
}

/// The median of some values (0 for none).
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// First-window and last-window medians of one measure and the drift between them, %.
pub fn drift(rows: &[Row], window: usize, f: impl Fn(&Row) -> Option<f64>) -> (f64, f64, f64) {
    let w = window.clamp(1, rows.len().max(1));
    let first = median(rows.iter().take(w).filter_map(&f).collect());
    let last = median(rows.iter().rev().take(w).filter_map(&f).collect());
    let pct = if first.abs() < 1e-9 {
        0.0
    } else {
        (last / first - 1.0) * 100.0
    };
    (first, last, pct)
}

/// Print the verdict table: first `window` minutes against the last `window`.
pub fn verdict(rows: &[Row], window: usize) {
    let w = window.min(rows.len() / 2).max(1);
    println!();
    println!("| measure | median, first {w} min | median, last {w} min | drift |");
    println!("|---|---|---|---|");
    type Measure = (&'static str, fn(&Row) -> Option<f64>);
    let measures: [Measure; 8] = [
        ("RSS (MB)", |r| Some(r.rss_mb)),
        ("fds", |r| Some(r.fds as f64)),
        ("server CPU (% of a core)", |r| Some(r.cpu_pct)),
        ("chat p50 (ms)", |r| Some(r.chat_p50)),
        ("chat p99 (ms)", |r| Some(r.chat_p99)),
        ("video lag (ms)", |r| r.video_ms),
        ("claim p50 (ms)", |r| Some(r.claim_p50)),
        ("claim p99 (ms)", |r| Some(r.claim_p99)),
    ];
    for (name, f) in measures {
        let (first, last, pct) = drift(rows, w, f);
        println!("| {name} | {first:.1} | {last:.1} | {pct:+.1} % |");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_compares_the_medians_of_the_first_and_last_minutes() {
        let rows: Vec<Row> = [100.0, 102.0, 98.0, 150.0, 110.0, 112.0, 108.0]
            .into_iter()
            .enumerate()
            .map(|(i, rss_mb)| Row {
                minute: i as u32 + 1,
                rss_mb,
                ..Row::default()
            })
            .collect();
        let (first, last, pct) = drift(&rows, 3, |r| Some(r.rss_mb));
        assert_eq!((first, last), (100.0, 110.0));
        assert!((pct - 10.0).abs() < 1e-9);
        // A measure with no samples in a window drifts by nothing.
        assert_eq!(drift(&rows, 3, |_| None).2, 0.0);
    }
}
