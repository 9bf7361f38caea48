//! `livecart bench bombs`: upload → answer time for each compile bomb, through the same
//! static limits and compile worker as `serve`, against an ordinary plugin in the same run.

use crate::plugin::compile::CompileWorker;
use crate::plugin::{CpuMeter, EngineConfig, PluginEngine};
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

#[path = "../../../plugins/hostile/bombs.rs"]
mod generate;

pub fn run(plugins_dir: &Path) -> anyhow::Result<ExitCode> {
    let hello = plugins_dir.join("hello.wasm");
    let hello = std::fs::read(&hello).with_context(|| format!("reading {}", hello.display()))?;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("hello (an ordinary plugin)", hello),
        (
            "100k live values in one function",
            generate::live_values(100_000),
        ),
        ("100k nested blocks", generate::nested_blocks(100_000)),
        ("75k functions", generate::many_functions(75_000)),
        ("a 1 MB function", generate::huge_function(1_000_000)),
        (
            "10k live values (under the size limit)",
            generate::live_values(10_000),
        ),
        ("1 GiB of initial memory", generate::huge_memory(16_384)),
        (
            "19,999 functions (at the function limit)",
            generate::many_functions(19_999),
        ),
        (
            "6,000 functions × 20 ops",
            generate::under_the_limits(6_000, 20),
        ),
    ];
    println!("| upload | size | answered in | answer |");
    println!("|---|---|---|---|");
    for (name, bytes) in cases {
        // A fresh engine each time: nothing is cached, as for a first upload.
        let mut config = EngineConfig::new(CpuMeter::Epoch);
        config.instance_slots = 4;
        config.compile_worker = Some(CompileWorker::current_exe()?);
        let engine = PluginEngine::new(config)?;
        let started = Instant::now();
        let answer = match engine.load(&bytes) {
            Ok(p) => format!("accepted ({})", p.manifest.name),
            Err(e) => e.to_string(),
        };
        println!(
            "| {name} | {} KB | {:.0} ms | {answer} |",
            bytes.len() / 1000,
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(ExitCode::SUCCESS)
}
