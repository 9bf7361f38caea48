//! lottery: viewers enter by commenting a keyword; a timer draws the winners, each gets a
//! coupon, and the draw is announced with its seed so anyone can audit it.
//!
//! Config: `{"keyword":"抽奖","winners":3,"coupon":"c-lucky","draw_after_ms":60000,
//! "round":"1"}`. `round` names one lottery: change it to run another. The lottery opens
//! with its first entry, which arms the `draw` timer. A comment enters when it contains the
//! keyword (case-insensitive for ASCII); each viewer enters once.
//!
//! The draw: `Rng::from_seed(seed).sample(entrants, winners)` (SplitMix64 and a partial
//! Fisher–Yates shuffle, documented in `livecart_sdk::random`) over the entrants in entry
//! order, with the seed the host recorded for the timer event. The announcement names the
//! seed and the entrants' count; the host's log records the seed too, and
//! `livecart plugin test` replays it from the events file's `seed` field.
//!
//! State lives in KV under `lottery:<round>:…`: entrants in chunks (so thousands fit the
//! quota), and `drawn` once the draw happened, so a restart never draws twice.
//! Needs `random`, `coupons`, `messages`, `timers` and `kv`; subscribes to `comment` and
//! `timer-fired`.

use livecart_sdk::prelude::*;
use serde::Deserialize;
use std::collections::HashSet;

/// Entrants per KV value: ~64 bytes each stays well under the 16 KiB value quota.
const CHUNK: usize = 200;
/// The timer that draws.
const TIMER: &str = "draw";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    keyword: String,
    winners: u32,
    coupon: String,
    draw_after_ms: u32,
    #[serde(default = "first_round")]
    round: String,
}

fn first_round() -> String {
    "1".to_owned()
}

/// One entrant: viewer id and display name.
#[derive(Clone)]
struct Entrant {
    user_id: String,
    user_name: String,
}

#[derive(Default)]
pub struct Lottery {
    keyword: String,
    winners: u32,
    coupon: String,
    draw_after_ms: u32,
    prefix: String,
    /// Entrants in entry order, loaded from KV on the first event (a cache of it).
    entrants: Option<Vec<Entrant>>,
    seen: HashSet<String>,
    drawn: bool,
}

fn check(config: RawConfig) -> Result<RawConfig> {
    if config.keyword.trim().is_empty() {
        return Err("invalid config: `keyword` must not be empty".into());
    }
    if config.winners == 0 {
        return Err("invalid config: `winners` must be at least 1".into());
    }
    if config.coupon.trim().is_empty() {
        return Err("invalid config: `coupon` must name the coupon winners get".into());
    }
    if config.draw_after_ms < 1000 {
        return Err("invalid config: `draw_after_ms` must be at least 1000".into());
    }
    if config.round.is_empty() || config.round.len() > 32 {
        return Err("invalid config: `round` must be 1 to 32 bytes".into());
    }
    Ok(config)
}

impl Lottery {
    fn key(&self, what: &str) -> String {
        format!("{}{what}", self.prefix)
    }

    /// Load the entrants and the drawn flag from KV once per instance.
    fn load(&mut self) -> Result {
        if self.entrants.is_some() {
            return Ok(());
        }
        self.drawn = kv::get(&self.key("drawn")).is_some();
        let mut entrants = Vec::new();
        let mut chunk = 0;
        while let Some(bytes) = kv::get(&self.key(&format!("e{chunk}"))) {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            for line in text.lines() {
                let (id, name) = line.split_once('\t').unwrap_or((line, line));
                entrants.push(Entrant {
                    user_id: id.to_owned(),
                    user_name: name.to_owned(),
                });
            }
            chunk += 1;
        }
        self.seen = entrants.iter().map(|e| e.user_id.clone()).collect();
        self.entrants = Some(entrants);
        Ok(())
    }

    /// Record a new entrant in its chunk.
    fn enter(&mut self, entrant: Entrant) -> Result<usize> {
        let entrants = self.entrants.get_or_insert_with(Vec::new);
        entrants.push(entrant);
        let count = entrants.len();
        let chunk = (count - 1) / CHUNK;
        let text: String = entrants[chunk * CHUNK..]
            .iter()
            .map(|e| format!("{}\t{}\n", e.user_id, clean(&e.user_name)))
            .collect();
        kv::set(&self.key(&format!("e{chunk}")), text.as_bytes())?;
        Ok(count)
    }
}

/// A display name without the separators of the KV format.
fn clean(name: &str) -> String {
    name.chars()
        .map(|c| if c == '\t' || c == '\n' { ' ' } else { c })
        .collect()
}

impl Plugin for Lottery {
    fn manifest() -> Manifest {
        Manifest::new("lottery", "0.1.0")
            .example_config(include_str!("../config.json"))
            .describe("Viewers comment a keyword to enter; a timer draws winners who each get a coupon, with an auditable seed.")
            .capability(Capability::Random)
            .capability(Capability::Coupons)
            .capability(Capability::Messages)
            .capability(Capability::Timers)
            .capability(Capability::Kv)
            .on(&[EventKind::Comment, EventKind::TimerFired])
    }

    fn configure(&mut self, config: &Config) -> Result {
        let c = check(config.parse()?)?;
        *self = Lottery {
            keyword: c.keyword.to_lowercase(),
            winners: c.winners,
            coupon: c.coupon,
            draw_after_ms: c.draw_after_ms,
            prefix: format!("lottery:{}:", c.round),
            ..Default::default()
        };
        Ok(())
    }

    fn on_comment(&mut self, cx: &mut Context, comment: &Comment) -> Result {
        if !comment.text.to_lowercase().contains(&self.keyword) {
            return Ok(());
        }
        self.load()?;
        if self.drawn || self.seen.contains(&comment.user_id) {
            return Ok(());
        }
        self.seen.insert(comment.user_id.clone());
        let count = self.enter(Entrant {
            user_id: comment.user_id.clone(),
            user_name: comment.user_name.clone(),
        })?;
        if count == 1 {
            cx.set_timer(TIMER, self.draw_after_ms);
            cx.system_message(format!(
                "抽奖开始！评论「{}」参与，{} 秒后抽出 {} 位 · Lottery open: comment \"{}\" to enter; {} winner(s) in {} s",
                self.keyword,
                self.draw_after_ms / 1000,
                self.winners,
                self.keyword,
                self.winners,
                self.draw_after_ms / 1000
            ));
        }
        Ok(())
    }

    fn on_timer(&mut self, cx: &mut Context, name: &str) -> Result {
        if name != TIMER {
            return Ok(());
        }
        self.load()?;
        if self.drawn {
            return Ok(());
        }
        let rng = cx.random()?;
        let seed = rng.seed();
        let entrants = self.entrants.clone().unwrap_or_default();
        let picked = rng.clone().sample(entrants.len(), self.winners as usize);
        // Claim the draw first: a fault after this point can never lead to a second draw.
        if !kv::compare_and_set(&self.key("drawn"), None, Some(seed.to_string().as_bytes()))? {
            self.drawn = true;
            return Ok(());
        }
        self.drawn = true;
        let names: Vec<&str> = picked
            .iter()
            .map(|&i| entrants[i].user_name.as_str())
            .collect();
        for &i in &picked {
            cx.issue_coupon(&self.coupon, &entrants[i].user_id);
        }
        cx.system_message(format!(
            "开奖：{} 人参与，抽出 {} 位：{} · Lottery drawn from {} entrants: {} (seed {seed})",
            entrants.len(),
            picked.len(),
            names.join("、"),
            entrants.len(),
            names.join(", "),
        ));
        Ok(())
    }
}

export_plugin!(Lottery);
