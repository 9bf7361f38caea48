//! The plugin log: lines from the `log` import and from stdout/stderr, bounded per call.
//!
//! Threat model: a plugin can write as fast as it runs. The sink keeps at most the
//! configured lines and bytes per call and only counts the rest, so a log flood costs the
//! host a counter, not memory.

use super::bindings::LogLevel;
use serde::Serialize;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Where a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    Log,
    Stdout,
    Stderr,
    /// Written by the host about the call (e.g. the random seeds it used).
    Host,
}

impl LogSource {
    /// The name the API and logs use.
    pub fn name(self) -> &'static str {
        match self {
            LogSource::Log => "log",
            LogSource::Stdout => "stdout",
            LogSource::Stderr => "stderr",
            LogSource::Host => "host",
        }
    }
}

/// One line of plugin log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogLine {
    pub level: &'static str,
    pub source: LogSource,
    pub message: String,
}

/// The bounded log of one call.
#[derive(Debug, Default)]
pub struct LogSink {
    max_lines: usize,
    max_bytes: usize,
    lines: Vec<LogLine>,
    bytes: usize,
    dropped: usize,
    partial_stdout: Vec<u8>,
    partial_stderr: Vec<u8>,
}

pub fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// The longest single line kept; longer ones are cut.
const MAX_LINE: usize = 1024;

impl LogSink {
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        LogSink {
            max_lines,
            max_bytes,
            ..Default::default()
        }
    }

    /// Add one line, or count it as dropped when over the bounds.
    pub fn push(&mut self, level: &'static str, source: LogSource, message: &str) {
        let mut message = message.to_owned();
        if message.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        if self.lines.len() >= self.max_lines || self.bytes + message.len() > self.max_bytes {
            self.dropped += 1;
            return;
        }
        self.bytes += message.len();
        self.lines.push(LogLine {
            level,
            source,
            message,
        });
    }

    /// Add raw stdout/stderr bytes, split into lines.
    fn write_stream(&mut self, source: LogSource, bytes: &[u8]) {
        let mut partial = std::mem::take(match source {
            LogSource::Stderr => &mut self.partial_stderr,
            _ => &mut self.partial_stdout,
        });
        for &b in bytes {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&partial).into_owned();
                self.push(stream_level(source), source, &line);
                partial.clear();
            } else if partial.len() < MAX_LINE + 4 {
                partial.push(b);
            }
        }
        *match source {
            LogSource::Stderr => &mut self.partial_stderr,
            _ => &mut self.partial_stdout,
        } = partial;
    }

    /// Take this call's lines and the count of dropped ones, flushing unfinished lines.
    pub fn take(&mut self) -> (Vec<LogLine>, usize) {
        for source in [LogSource::Stdout, LogSource::Stderr] {
            let partial = std::mem::take(match source {
                LogSource::Stderr => &mut self.partial_stderr,
                _ => &mut self.partial_stdout,
            });
            if !partial.is_empty() {
                let line = String::from_utf8_lossy(&partial).into_owned();
                self.push(stream_level(source), source, &line);
            }
        }
        let dropped = std::mem::take(&mut self.dropped);
        self.bytes = 0;
        (std::mem::take(&mut self.lines), dropped)
    }
}

fn stream_level(source: LogSource) -> &'static str {
    match source {
        LogSource::Stderr => "warn",
        _ => "info",
    }
}

/// A WASI output stream (stdout or stderr) that writes into a [`LogSink`].
#[derive(Clone)]
pub struct LogStream {
    pub sink: Arc<Mutex<LogSink>>,
    pub source: LogSource,
}

impl LogStream {
    fn append(&self, bytes: &[u8]) {
        if let Ok(mut sink) = self.sink.lock() {
            sink.write_stream(self.source, bytes);
        }
    }
}

impl wasmtime_wasi::cli::IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl wasmtime_wasi::p2::OutputStream for LogStream {
    fn write(&mut self, bytes: bytes::Bytes) -> wasmtime_wasi::p2::StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> wasmtime_wasi::p2::StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> wasmtime_wasi::p2::StreamResult<usize> {
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_is_counted_not_kept() {
        let mut sink = LogSink::new(2, 100);
        for i in 0..10 {
            sink.push("info", LogSource::Log, &format!("line {i}"));
        }
        let (lines, dropped) = sink.take();
        assert_eq!(lines.len(), 2);
        assert_eq!(dropped, 8);
    }

    #[test]
    fn stream_bytes_become_lines() {
        let mut sink = LogSink::new(10, 1000);
        sink.write_stream(LogSource::Stderr, b"panicked at x\nsecond");
        let (lines, _) = sink.take();
        let text: Vec<_> = lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(text, ["panicked at x", "second"]);
        assert_eq!(lines[0].level, "warn");
    }
}
