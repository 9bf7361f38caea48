//! The local plugin runner behind `livecart plugin test`.
//!
//! It replays recorded room events through the real sandbox (the same engine, gate and
//! limits as the server, metered by fuel so instruction counts are exact), in a simulated
//! room: the snapshot follows the events, timers fire in event time, and `ask-ai` is
//! answered by an AI provider (the embedded catalog answerer unless told otherwise).
//! Every action is reported as it happens; the summary says what limits were hit. Random
//! seeds come from the events' `seed` fields (or their ids), so draws replay exactly.

use crate::ai::{AiProvider, AiRequest};
use crate::catalog::Catalog;
use crate::plugin::bindings::Action;
use crate::plugin::kv::MemoryKv;
use crate::plugin::model::{ActionRecord, EventBody, EventRecord};
use crate::plugin::random::Seeds;
use crate::plugin::{CallReport, Fault, PluginEngine, RoomEnv, RoomPlugins, SharedRoom};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most events the runner generates itself (timers, AI replies), against runaway loops.
const MAX_GENERATED: usize = 10_000;

/// How long after the last recorded event timers still fire, in event time. A plugin that
/// re-arms its timers forever would otherwise keep the replay going forever.
pub const TIMER_HORIZON_MS: u64 = 60_000;

/// What the runner reports, line by line.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum RunLine {
    /// An action the plugin returned and the gate let through.
    Action {
        event: u64,
        #[serde(flatten)]
        action: ActionRecord,
    },
    /// A batch that faulted.
    Fault { event: u64, fault: Fault },
}

/// The end-of-run summary.
#[derive(Debug, Default, Serialize)]
pub struct RunSummary {
    pub plugin: String,
    pub version: String,
    pub events: usize,
    pub batches: usize,
    pub actions: usize,
    /// Instructions executed across all batches (fuel).
    pub instructions: u64,
    /// The most instructions one batch used.
    pub max_batch_instructions: u64,
    /// Peak linear memory, bytes.
    pub peak_memory_bytes: usize,
    pub faults: usize,
    /// The distinct limits hit, e.g. "memory", "fuel", "output".
    pub limits_hit: Vec<String>,
    pub disabled: bool,
    pub log_lines: usize,
    pub log_lines_dropped: usize,
    /// Timers still armed when the replay ended (past the horizon or the event cap).
    pub timers_pending: usize,
    /// Why the replay stopped before every timer had fired, if it did.
    pub stopped: Option<String>,
    /// The random seeds the plugin used, by event id: put them in the events file as
    /// `"seed"` to replay a server's draw.
    pub seeds: BTreeMap<u64, u64>,
}

impl RunSummary {
    /// Whether any batch trapped (the runner's exit status).
    pub fn trapped(&self) -> bool {
        self.faults > 0
    }
}

/// What to replay: the plugin's config, the merchant's catalog and the recorded events.
pub struct Scenario {
    /// Config JSON text.
    pub config: String,
    pub catalog: Arc<dyn Catalog>,
    pub events: Vec<EventRecord>,
}

/// Replay the scenario's events through `plugin` and report each action and fault to
/// `out`, and each log line to `log`.
pub fn run(
    engine: &PluginEngine,
    plugin_bytes: &[u8],
    scenario: Scenario,
    ai: &dyn AiProvider,
    out: &mut dyn FnMut(RunLine),
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<RunSummary> {
    let Scenario {
        config,
        catalog,
        events,
    } = scenario;
    let plugin = engine.load(plugin_bytes)?;
    let room_id = events
        .first()
        .map_or_else(|| "demo".to_owned(), |e| e.room.clone());
    let room = Arc::new(SharedRoom::new(&room_id));
    let recorded: BTreeMap<u64, u64> = events
        .iter()
        .filter_map(|e| e.seed.map(|s| (e.id, s)))
        .collect();
    let env = RoomEnv {
        seeds: Seeds::Replay(Arc::new(recorded)),
        room_id: room_id.clone(),
        room: room.clone(),
        catalog,
        kv: Arc::new(MemoryKv::default()),
    };
    let mut plugins = RoomPlugins::new(env);
    plugins.enable(engine, plugin.clone(), &config)?;
    let name = plugin.manifest.name.clone();

    let mut summary = RunSummary {
        plugin: name.clone(),
        version: plugin.hash.clone(),
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut timers: BTreeMap<String, u64> = BTreeMap::new();
    let mut next_id = events.iter().map(|e| e.id).max().unwrap_or(0) + 1;
    let mut generated = 0usize;
    let horizon = events
        .iter()
        .map(|e| e.time_ms)
        .max()
        .unwrap_or(0)
        .saturating_add(TIMER_HORIZON_MS);
    // A recording that holds a timer's firing (with its seed) replays that firing; the
    // runner simulates only the timers the recording does not have.
    let recorded_timers = events
        .iter()
        .any(|e| matches!(e.body, EventBody::TimerFired { .. }));
    let mut queue: std::collections::VecDeque<EventRecord> = events.into();

    loop {
        // The next event is the earliest of the next recorded one and any due timer, as
        // long as timers are still to fire.
        let due = timers
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(n, at)| (n.clone(), *at))
            .filter(|(_, at)| match timer_stop(*at, horizon, generated) {
                Some(why) => {
                    summary.stopped.get_or_insert(why);
                    false
                }
                None => true,
            });
        let event = match (queue.front(), due) {
            (Some(next), Some((timer, at))) if at <= next.time_ms => {
                timers.remove(&timer);
                generated += 1;
                fired(&room_id, &mut next_id, at, timer)
            }
            (Some(_), _) => match queue.pop_front() {
                Some(e) => e,
                None => break,
            },
            (None, Some((timer, at))) => {
                timers.remove(&timer);
                generated += 1;
                fired(&room_id, &mut next_id, at, timer)
            }
            (None, None) => break,
        };
        follow(&room, &event.body);
        summary.events += 1;
        let reports = plugins.dispatch(engine, &[event.to_wit()]);
        let mut replies = Vec::new();
        for report in reports {
            let asks = absorb(&mut summary, &event, report, &room, &mut timers, out, log);
            for (request_id, req) in asks {
                generated += 1;
                if generated > MAX_GENERATED {
                    anyhow::bail!("the plugin generated over {MAX_GENERATED} follow-up events");
                }
                let answer = runtime.block_on(ai.answer(&req));
                log(&format!("ai ({}): answered {request_id}", ai.name()));
                let (answer, error) = match answer {
                    Ok(a) => (Some(a), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                replies.push(EventRecord {
                    seed: None,
                    id: bump(&mut next_id),
                    room: room_id.clone(),
                    time_ms: event.time_ms,
                    media_ms: event.media_ms,
                    body: EventBody::AiReply {
                        request_id,
                        answer,
                        error,
                    },
                });
            }
        }
        if recorded_timers {
            timers.retain(|name, _| {
                !queue
                    .iter()
                    .any(|e| matches!(&e.body, EventBody::TimerFired { name: n } if n == name))
            });
        }
        // Answers arrive right after the event that asked, in the order asked.
        for reply in replies.into_iter().rev() {
            queue.push_front(reply);
        }
        if timers.len() > MAX_GENERATED {
            anyhow::bail!("the plugin set over {MAX_GENERATED} timers");
        }
    }
    summary.disabled = plugins.slots().iter().any(|s| s.disabled().is_some());
    summary.timers_pending = timers.len();
    if let Some(why) = &summary.stopped {
        log(&format!("replay stopped: {why}"));
    }
    Ok(summary)
}

/// Why a timer due at `at` is not fired, if it is not: past the horizon, or past the cap
/// of generated events.
fn timer_stop(at: u64, horizon: u64, generated: usize) -> Option<String> {
    if at > horizon {
        return Some(format!(
            "timers due over {TIMER_HORIZON_MS} ms after the last recorded event were not fired"
        ));
    }
    (generated >= MAX_GENERATED).then(|| {
        format!(
            "the plugin generated {MAX_GENERATED} follow-up events; later timers were not fired"
        )
    })
}

fn bump(next_id: &mut u64) -> u64 {
    let id = *next_id;
    *next_id += 1;
    id
}

fn fired(room: &str, next_id: &mut u64, at: u64, name: String) -> EventRecord {
    EventRecord {
        seed: None,
        id: bump(next_id),
        room: room.to_owned(),
        time_ms: at,
        media_ms: None,
        body: EventBody::TimerFired { name },
    }
}

/// Keep the simulated room's snapshot in step with the events.
fn follow(room: &SharedRoom, body: &EventBody) {
    room.update(|s| match body {
        EventBody::ViewerJoined { online, .. } | EventBody::ViewerLeft { online, .. } => {
            s.online = *online
        }
        EventBody::Likes { total, .. } => s.likes_total = *total,
        EventBody::ProductPushed { product_id, .. } => s.pinned_product = Some(product_id.clone()),
        EventBody::StreamStarted {} => s.live = true,
        EventBody::StreamStopped {} => s.live = false,
        _ => {}
    });
}

/// Fold one batch's report into the summary and the simulation; return AI questions.
fn absorb(
    summary: &mut RunSummary,
    event: &EventRecord,
    report: CallReport,
    room: &SharedRoom,
    timers: &mut BTreeMap<String, u64>,
    out: &mut dyn FnMut(RunLine),
    log: &mut dyn FnMut(&str),
) -> Vec<(String, AiRequest)> {
    summary.batches += 1;
    let fuel = report.fuel.unwrap_or(0);
    summary.instructions += fuel;
    summary.max_batch_instructions = summary.max_batch_instructions.max(fuel);
    summary.peak_memory_bytes = summary.peak_memory_bytes.max(report.peak_memory);
    summary.log_lines += report.logs.len();
    summary.seeds.extend(report.seeds.iter().copied());
    summary.log_lines_dropped += report.logs_dropped;
    for line in &report.logs {
        log(&format!(
            "plugin {} [{}/{:?}]: {}",
            report.plugin, line.level, line.source, line.message
        ));
    }
    if report.logs_dropped > 0 {
        log(&format!(
            "plugin {}: {} log lines over the per-call limit were dropped",
            report.plugin, report.logs_dropped
        ));
    }
    if let Some(fault) = report.fault {
        summary.faults += 1;
        let kind = fault.kind().to_owned();
        if !summary.limits_hit.contains(&kind) {
            summary.limits_hit.push(kind);
        }
        log(&format!(
            "plugin {} fault at event {}: {fault}",
            report.plugin, event.id
        ));
        if report.disabled {
            log(&format!(
                "plugin {} disabled after repeated faults",
                report.plugin
            ));
        }
        out(RunLine::Fault {
            event: event.id,
            fault,
        });
        return Vec::new();
    }
    let mut asks = Vec::new();
    for action in report.actions {
        summary.actions += 1;
        match &action {
            Action::SetTimer(t) => {
                timers.insert(t.name.clone(), event.time_ms + u64::from(t.delay_ms));
            }
            Action::CancelTimer(name) => {
                timers.remove(name);
            }
            Action::PushProduct(p) => {
                room.update(|s| s.pinned_product = Some(p.product_id.clone()))
            }
            Action::AskAi(a) => asks.push((
                a.request_id.clone(),
                AiRequest {
                    prompt: a.prompt.clone(),
                    context: a.context.clone(),
                    product_id: a.product_id.clone(),
                },
            )),
            _ => {}
        }
        out(RunLine::Action {
            event: event.id,
            action: action.into(),
        });
    }
    asks
}
