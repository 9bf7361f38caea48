//! Compiling an upload under a budget: a child process with a deadline and a memory limit.
//!
//! Threat model: the static limits (`precheck.rs`) refuse the known compile bombs, but
//! Cranelift's cost has no tight bound for code that stays under them. So the server never
//! compiles untrusted code on its own threads: it runs `livecart plugin compile-worker`
//! (this same binary), which caps its own memory (`RLIMIT_DATA`) and CPU (`RLIMIT_CPU`),
//! lowers its priority, compiles on one thread and writes the precompiled artifact to
//! stdout. The parent kills it at the deadline, which grows with the amount of code
//! ([`CodeLimits::compile_deadline_ms`]: the static limits leave only shapes whose cost is
//! about linear in size, so an 18 MB CPython gets more time than a 40 KB Rust plugin, and a
//! small bomb no more than the base). What a guest can still do: make one compile use one
//! core, at low priority, until that deadline (at most `max_compile_timeout_ms`), in at
//! most `compile_memory_bytes`; compiles run at most [`CompileSlots`] at a time.
//!
//! The artifact is loaded with `Component::deserialize`, which trusts it: it was written by
//! our own binary from the upload, exactly what an in-process compile would have produced,
//! and wasmtime checks that its engine settings match.

use super::limits::CodeLimits;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Why the compile worker did not produce an artifact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileBudgetError {
    #[error("compiling took longer than {limit_ms} ms, the limit for one plugin")]
    Timeout { limit_ms: u64 },
    #[error("compiling needed more than {limit} bytes of memory, the limit for one plugin")]
    Memory { limit: u64 },
    #[error("the host is busy compiling other plugins; try again in a few seconds")]
    Busy,
    /// The code is not valid (wasmtime's message).
    #[error("{0}")]
    Invalid(String),
    /// The worker could not run at all: a host problem, not the plugin's.
    #[error("the compile worker failed: {0}")]
    Worker(String),
}

/// Bounds how many compiles run at once, so uploads cannot take every core.
pub struct CompileSlots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl CompileSlots {
    pub fn new(slots: usize) -> Self {
        CompileSlots {
            free: Mutex::new(slots.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Wait up to `wait` for a slot; `None` if none came free.
    fn take(&self, wait: Duration) -> Option<SlotGuard<'_>> {
        let deadline = Instant::now() + wait;
        let mut free = self.free.lock().ok()?;
        while *free == 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            free = self.freed.wait_timeout(free, left).ok()?.0;
        }
        *free -= 1;
        Some(SlotGuard(self))
    }
}

struct SlotGuard<'a>(&'a CompileSlots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut free) = self.0.free.lock() {
            *free += 1;
        }
        self.0.freed.notify_one();
    }
}

/// How the worker is started: the `livecart` binary and the engine settings it must match.
#[derive(Clone, Debug)]
pub struct CompileWorker {
    pub exe: PathBuf,
}

impl CompileWorker {
    /// The running binary as the worker (for `serve` and the CLI).
    pub fn current_exe() -> std::io::Result<Self> {
        Ok(CompileWorker {
            exe: std::env::current_exe()?,
        })
    }

    /// Compile `bytes` in a child under `limits`; returns the serialized artifact.
    pub fn compile(
        &self,
        slots: &CompileSlots,
        meter_arg: &str,
        bytes: &[u8],
        limits: &CodeLimits,
    ) -> Result<Vec<u8>, CompileBudgetError> {
        let deadline_ms = limits.compile_deadline_ms(super::precheck::code_bytes(bytes));
        let timeout = Duration::from_millis(deadline_ms);
        // Waiting for a slot is bounded by the base deadline: the host is busy, not the plugin.
        let wait = Duration::from_millis(limits.compile_timeout_ms);
        let _slot = slots.take(wait).ok_or(CompileBudgetError::Busy)?;
        run_child(&self.exe, meter_arg, bytes, limits, timeout)
    }
}

fn run_child(
    exe: &Path,
    meter_arg: &str,
    bytes: &[u8],
    limits: &CodeLimits,
    timeout: Duration,
) -> Result<Vec<u8>, CompileBudgetError> {
    let worker = |e: std::io::Error| CompileBudgetError::Worker(e.to_string());
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["plugin", "compile-worker", "--meter", meter_arg])
        .arg("--memory-bytes")
        .arg(limits.compile_memory_bytes.to_string())
        .arg("--cpu-secs")
        .arg(timeout.as_secs().saturating_add(1).to_string())
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(worker)?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(CompileBudgetError::Worker("no pipes to the worker".into()));
    };
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        // A worker that dies early closes the pipe; its exit status says why.
        let _ = stdin.write_all(&input);
    });
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        // At most 8 KiB of the worker's message.
        let _ = stderr.by_ref().take(8 << 10).read_to_string(&mut text);
        text
    });
    let status = loop {
        match child.try_wait().map_err(worker)? {
            Some(status) => break status,
            None if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = (writer.join(), out.join(), err.join());
                return Err(CompileBudgetError::Timeout {
                    limit_ms: timeout.as_millis() as u64,
                });
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let _ = writer.join();
    let artifact = out
        .join()
        .map_err(|_| CompileBudgetError::Worker("reader panicked".into()))?
        .map_err(worker)?;
    let message = err.join().unwrap_or_default();
    if status.success() {
        return Ok(artifact);
    }
    Err(classify(status, message.trim(), limits, timeout))
}

/// What a failed worker's exit says. Exit code 2 is "the code is invalid"; running out of
/// memory aborts the worker; its CPU limit or the deadline kill it.
fn classify(
    status: std::process::ExitStatus,
    message: &str,
    limits: &CodeLimits,
    timeout: Duration,
) -> CompileBudgetError {
    use std::os::unix::process::ExitStatusExt;
    let memory = CompileBudgetError::Memory {
        limit: limits.compile_memory_bytes,
    };
    if message.contains("memory allocation of") || message.contains("out of memory") {
        return memory;
    }
    match (status.code(), status.signal()) {
        (Some(2), _) => CompileBudgetError::Invalid(message.to_owned()),
        (_, Some(libc::SIGXCPU | libc::SIGKILL)) => CompileBudgetError::Timeout {
            limit_ms: timeout.as_millis() as u64,
        },
        (_, Some(libc::SIGABRT | libc::SIGSEGV | libc::SIGBUS)) => memory,
        _ => CompileBudgetError::Worker(format!("{status}: {message}")),
    }
}

/// The worker's side: cap this process, read a component from stdin, compile it with
/// `engine`, write the artifact to stdout. Exit 2 when the code is invalid.
pub fn worker_main(engine: &wasmtime::Engine, memory_bytes: u64, cpu_secs: u64) -> i32 {
    if let Err(e) = cap_self(memory_bytes, cpu_secs) {
        eprintln!("could not set the compile limits: {e}");
        return 1;
    }
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("reading the component: {e}");
        return 1;
    }
    let artifact = wasmtime::component::Component::new(engine, &bytes).and_then(|c| c.serialize());
    match artifact {
        Ok(artifact) => match std::io::stdout().write_all(&artifact) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("writing the artifact: {e}");
                1
            }
        },
        Err(e) => {
            eprintln!("{e:#}");
            2
        }
    }
}

/// Limit this process's memory and CPU and lower its priority.
#[allow(unsafe_code)]
fn cap_self(memory_bytes: u64, cpu_secs: u64) -> std::io::Result<()> {
    let set = |resource, value: u64| {
        let limit = libc::rlimit {
            rlim_cur: value as libc::rlim_t,
            rlim_max: value as libc::rlim_t,
        };
        // SAFETY: setrlimit reads a valid, initialized struct and changes only this
        // process's limits.
        if unsafe { libc::setrlimit(resource, &limit) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    set(libc::RLIMIT_DATA, memory_bytes)?;
    set(libc::RLIMIT_CPU, cpu_secs)?;
    // SAFETY: setpriority changes only this process's scheduling priority. Failure (e.g.
    // already at a lower priority) is harmless.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
    Ok(())
}
