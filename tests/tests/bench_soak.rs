//! `livecart bench soak` end to end, shrunk to a smoke run: two 10-second "minutes" with
//! 40 viewers in 2 rooms running the example plugins, a claim storm each minute and the
//! ffmpeg live. The real numbers come from the release build (BENCHMARKS.md, "Soak"); this
//! proves the bench itself measures and judges what it says.

use livecart_e2e::{livecart, root, target_dir};
use std::process::Command;

#[test]
fn a_short_soak_records_a_row_a_minute_and_passes() {
    let out = Command::new(livecart())
        .args(["bench", "soak", "--minutes", "2", "--minute-secs", "10"])
        .args(["--viewers", "40", "--rooms", "2", "--claimers", "10"])
        .args(["--chat-secs", "3", "--concurrency", "20"])
        .arg("--plugins-dir")
        .arg(target_dir().join("plugins"))
        .arg("--plugin-sources")
        .arg(root().join("plugins"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("running livecart bench soak");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| 1 |") || l.starts_with("| 2 |"))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // minute | RSS | fds | CPU | chat | video lag | claim | storm | stored/quota | ...
        let rss: f64 = cells[2].parse().unwrap_or_else(|_| panic!("RSS in {row}"));
        assert!(rss > 1.0, "{row}");
        let fds: u64 = cells[3].parse().unwrap_or_else(|_| panic!("fds in {row}"));
        assert!(fds >= 40, "every viewer holds a socket: {row}");
        assert_ne!(cells[6], "—", "the live is packaging: {row}");
        // 10 claimers, quota 5: exactly 5 served and 5 stored.
        assert_eq!(cells[8], "10 / 5 / 5 / 0", "{row}");
        assert_eq!(cells[9], "5 / 5", "{row}");
        assert_eq!(cells[11], "0", "no panic: {row}");
        assert_eq!(cells[12], "40", "every viewer still connected: {row}");
    }
    assert!(
        stdout.contains("- verdict: no panic, no viewer lost, no oversell"),
        "{stdout}"
    );
}
