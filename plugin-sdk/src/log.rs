//! The plugin's log, shown to the merchant beside its faults. Always granted.
//!
//! The host keeps a bounded number of lines per batch; the rest are counted, not stored.
//! Anything the plugin prints to stdout or stderr lands here too.

use crate::LogLevel;
use crate::bindings::livecart::plugin0_1_0::log as host;

/// Write one line at `level`.
pub fn write(level: LogLevel, message: &str) {
    host::write(level, message);
}

/// Write a debug line.
pub fn debug(message: &str) {
    write(LogLevel::Debug, message);
}

/// Write an info line.
pub fn info(message: &str) {
    write(LogLevel::Info, message);
}

/// Write a warning.
pub fn warn(message: &str) {
    write(LogLevel::Warn, message);
}

/// Write an error line.
pub fn error(message: &str) {
    write(LogLevel::Error, message);
}
