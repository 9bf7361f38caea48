//! hostile: a deliberately misbehaving plugin, the sandbox's test fixture. Never install it.
//!
//! Built for `wasm32-wasip2` on purpose, so it links std's WASI imports and can try to
//! escape through them. Config: `{"mode":"<mode>"}`; on every comment it misbehaves per mode:
//!
//! - `loop`: spin forever.
//! - `memory-bomb`: allocate and touch 1 MiB chunks forever, keeping them all alive.
//! - `trap`: execute `unreachable`.
//! - `panic`: panic.
//! - `flood`: queue 10,000 system messages.
//! - `undeclared`: unlock coupon `c-free` without the `coupons` capability.
//! - `kv-abuse`: write 4 KiB values under new keys `junk:<i>` until the host refuses, then
//!   fail the handler with that error.
//! - `log-flood`: write 10,000 log lines and print 1,000 lines to stdout.
//! - `escape`: try the filesystem, environment, wall clock and network; log each result, then
//!   post "escape attempts logged".
//! - `ok` (and any unknown or missing mode): post "hostile plugin idle".
//!
//! Needs `messages` and `kv`; subscribes to `comment`.

use livecart_sdk::log;
use livecart_sdk::prelude::*;
use serde::Deserialize;
use std::hint::black_box;

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    mode: String,
}

#[derive(Default)]
pub struct Hostile {
    mode: String,
}

impl Plugin for Hostile {
    fn manifest() -> Manifest {
        Manifest::new("hostile", "0.1.0")
            .describe("Sandbox test fixture that misbehaves on purpose. Do not install.")
            .capability(Capability::Messages)
            .capability(Capability::Kv)
            .on(&[EventKind::Comment])
    }

    fn configure(&mut self, config: &Config) -> Result {
        self.mode = config.parse::<RawConfig>()?.mode;
        Ok(())
    }

    fn on_comment(&mut self, cx: &mut Context, _comment: &Comment) -> Result {
        match self.mode.as_str() {
            "loop" => spin(),
            "memory-bomb" => memory_bomb(),
            "trap" => trap(),
            "panic" => panic!("hostile plugin panicked on purpose"),
            "flood" => {
                for i in 0..10_000 {
                    cx.system_message(format!("flood {i}"));
                }
                Ok(())
            }
            "undeclared" => {
                cx.unlock_coupon("c-free");
                Ok(())
            }
            "kv-abuse" => kv_abuse(),
            "log-flood" => {
                for i in 0..10_000 {
                    log::info(&format!("log flood line {i}"));
                }
                for i in 0..1_000 {
                    println!("stdout flood line {i}");
                }
                Ok(())
            }
            "escape" => {
                escape();
                cx.system_message("escape attempts logged");
                Ok(())
            }
            _ => {
                cx.system_message("hostile plugin idle");
                Ok(())
            }
        }
    }
}

/// Loop forever in a way the optimizer cannot remove.
fn spin() -> ! {
    let mut i = 0u64;
    loop {
        i = black_box(i.wrapping_add(1));
    }
}

/// Allocate, touch and keep 1 MiB chunks until the host stops us.
fn memory_bomb() -> ! {
    const CHUNK: usize = 1 << 20;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; CHUNK];
        // Write every page so the memory is really used, not just reserved.
        for byte in chunk.iter_mut().step_by(4096) {
            *byte = 0xA5;
        }
        hoard.push(black_box(chunk));
        black_box(&hoard);
    }
}

/// Trap immediately.
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::unreachable()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::process::abort()
    }
}

/// Write new 4 KiB keys until the host refuses one, and fail with its error.
fn kv_abuse() -> Result {
    let value = vec![0x5Au8; 4096];
    let mut i = 0u64;
    loop {
        kv::set(&format!("junk:{i}"), &value)?;
        i += 1;
    }
}

/// Try every way out of the sandbox that std offers, logging what happened.
fn escape() {
    let fs = std::fs::read_to_string("/etc/passwd").map(|text| format!("{} bytes", text.len()));
    log::info(&format!("fs: {fs:?}"));

    log::info(&format!("env: {:?}", std::env::var("HOME")));

    let clock = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => since.as_secs().to_string(),
        Err(e) => format!("Err({e})"),
    };
    log::info(&format!("clock: {clock}"));

    let net = std::net::TcpStream::connect("127.0.0.1:80").map(|_| "connected");
    log::info(&format!("net: {net:?}"));
}

export_plugin!(Hostile);
