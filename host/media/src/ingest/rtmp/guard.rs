//! A pre-screen for the bytes handed to `rml_rtmp`'s `ServerSession`.
//!
//! `rml_rtmp` parses AMF0 recursively (a deeply nested object in one 16 MB message would
//! overflow the task's stack and abort the process, which no `catch_unwind` can stop) and
//! indexes into some command argument lists without checking their length. The guard runs
//! its own `ChunkDeserializer` in lock-step with the session's (same bytes, same chunk size
//! changes) and refuses any AMF message that is too deep, too long, or has fewer arguments
//! than `rml_rtmp` assumes, *before* the session sees it.

use rml_rtmp::chunk_io::ChunkDeserializer;

/// Deepest AMF0 nesting accepted. Real encoders use 2.
pub const MAX_AMF_DEPTH: usize = 16;
/// Longest AMF command / data message accepted. Real ones are a few hundred bytes.
pub const MAX_AMF_MESSAGE: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("malformed RTMP chunk stream: {0}")]
    Chunk(String),
    #[error("AMF message of {0} bytes is too long")]
    TooLong(usize),
    #[error("AMF values nested deeper than {MAX_AMF_DEPTH}")]
    TooDeep,
    #[error("malformed AMF0: {0}")]
    Amf(&'static str),
    #[error("{0} with too few values")]
    TooFewValues(&'static str),
}

/// Shadows the session's chunk deserializer. See the module docs.
pub struct ChunkGuard {
    de: ChunkDeserializer,
}

impl Default for ChunkGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkGuard {
    pub fn new() -> Self {
        ChunkGuard {
            de: ChunkDeserializer::new(),
        }
    }

    /// Check `bytes` (the next bytes the session will receive). May panic inside
    /// `rml_rtmp` on hostile chunk headers, like the session would: call it under
    /// `catch_unwind`.
    pub fn check(&mut self, bytes: &[u8]) -> Result<(), GuardError> {
        let mut input = bytes;
        loop {
            let message = self
                .de
                .get_next_message(input)
                .map_err(|e| GuardError::Chunk(e.to_string()))?;
            input = &[];
            let Some(message) = message else {
                return Ok(());
            };
            match message.type_id {
                // SetChunkSize: mirror what the session will do with it.
                1 => {
                    if let Some(b) = message.data.get(..4) {
                        let size = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                        self.de
                            .set_max_chunk_size(size as usize)
                            .map_err(|e| GuardError::Chunk(e.to_string()))?;
                    }
                }
                // AMF0 data (and AMF3-flagged data that rml_rtmp reads as AMF0).
                15 | 18 => {
                    let summary = check_amf(&message.data)?;
                    if summary.first_is_set_data_frame && summary.count < 3 {
                        return Err(GuardError::TooFewValues("@setDataFrame"));
                    }
                }
                // AMF0 command, and AMF3-flagged commands (a leading 0 byte, then AMF0).
                17 | 20 => {
                    let data = &message.data[..];
                    let data = if message.type_id == 17 && data.first() == Some(&0) {
                        &data[1..]
                    } else {
                        data
                    };
                    if check_amf(data)?.count < 3 {
                        return Err(GuardError::TooFewValues("command"));
                    }
                }
                _ => {}
            }
        }
    }
}

/// What the top level of an AMF0 message holds, as far as the guard cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmfSummary {
    /// Top-level values `rml_amf0` will produce.
    pub count: usize,
    pub first_is_set_data_frame: bool,
}

/// Walk an AMF0 message exactly the way `rml_amf0::deserialize` does (including its quirks:
/// a top-level object-end marker ends the list, ECMA array counts are ignored, strict arrays
/// stop early at the end of input), bounding depth and length.
pub fn check_amf(data: &[u8]) -> Result<AmfSummary, GuardError> {
    if data.len() > MAX_AMF_MESSAGE {
        return Err(GuardError::TooLong(data.len()));
    }
    let mut w = Walker { data, pos: 0 };
    let mut count = 0;
    let mut first_is_set_data_frame = false;
    while let Some(is_sdf) = w.value(0)? {
        if count == 0 {
            first_is_set_data_frame = is_sdf;
        }
        count += 1;
    }
    Ok(AmfSummary {
        count,
        first_is_set_data_frame,
    })
}

struct Walker<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Walker<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], GuardError> {
        let end = self.pos.checked_add(n).ok_or(GuardError::Amf("length"))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or(GuardError::Amf("unexpected end of data"))?;
        self.pos = end;
        Ok(s)
    }

    /// `std::io::Read::read` on a cursor: takes what is there, up to `n`.
    fn take_lenient(&mut self, n: usize) -> &[u8] {
        let end = self.pos.saturating_add(n).min(self.data.len());
        let s = &self.data[self.pos..end];
        self.pos = end;
        s
    }

    fn u16(&mut self) -> Result<usize, GuardError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn u32(&mut self) -> Result<u32, GuardError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// One value; `None` at the end of data or at an object-end marker (as rml_amf0).
    /// `Some(true)` when the value is the string "@setDataFrame".
    fn value(&mut self, depth: usize) -> Result<Option<bool>, GuardError> {
        if depth > MAX_AMF_DEPTH {
            return Err(GuardError::TooDeep);
        }
        let Some(&marker) = self.data.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        match marker {
            0x09 => Ok(None),
            0x00 => self.take(8).map(|_| Some(false)),
            0x01 => self.take(1).map(|_| Some(false)),
            0x05 | 0x06 => Ok(Some(false)),
            0x02 => {
                let len = self.u16()?;
                let s = self.take_lenient(len);
                Ok(Some(s == b"@setDataFrame"))
            }
            0x03 => self.object(depth).map(|_| Some(false)),
            0x08 => {
                self.u32()?;
                self.object(depth).map(|_| Some(false))
            }
            0x0a => {
                let n = self.u32()?;
                for _ in 0..n {
                    if self.value(depth + 1)?.is_none() {
                        break;
                    }
                }
                Ok(Some(false))
            }
            _ => Err(GuardError::Amf("unknown AMF0 marker")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), GuardError> {
        loop {
            let label = self.u16()?;
            if label == 0 {
                if self.take(1)? != [0x09] {
                    return Err(GuardError::Amf("empty property name"));
                }
                return Ok(());
            }
            self.take_lenient(label);
            if self.value(depth + 1)?.is_none() {
                return Err(GuardError::Amf("property without a value"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rml_rtmp::rml_amf0::{self, Amf0Value};
    use std::collections::HashMap;

    #[test]
    fn real_commands_pass() {
        let mut props = HashMap::new();
        props.insert("app".to_string(), Amf0Value::Utf8String("live".into()));
        let mut nested = HashMap::new();
        nested.insert("x".to_string(), Amf0Value::Number(1.0));
        props.insert("o".to_string(), Amf0Value::Object(nested));
        let values = vec![
            Amf0Value::Utf8String("connect".into()),
            Amf0Value::Number(1.0),
            Amf0Value::Object(props),
            Amf0Value::StrictArray(vec![Amf0Value::Null, Amf0Value::Boolean(true)]),
            Amf0Value::Undefined,
        ];
        let bytes = rml_amf0::serialize(&values).unwrap();
        let s = check_amf(&bytes).unwrap();
        assert_eq!(s.count, 5);
        assert!(!s.first_is_set_data_frame);
        let values = vec![Amf0Value::Utf8String("@setDataFrame".into())];
        let s = check_amf(&rml_amf0::serialize(&values).unwrap()).unwrap();
        assert_eq!((s.count, s.first_is_set_data_frame), (1, true));
    }

    #[test]
    fn deep_nesting_is_refused() {
        // object → property "a" → object → … 10 000 levels: would overflow rml_amf0's stack.
        let mut bytes = Vec::new();
        for _ in 0..10_000 {
            bytes.extend_from_slice(&[0x03, 0, 1, b'a']);
        }
        assert_eq!(check_amf(&bytes), Err(GuardError::TooDeep));
        let mut bytes = Vec::new();
        for _ in 0..10_000 {
            bytes.extend_from_slice(&[0x0a, 0, 0, 0, 1]);
        }
        assert_eq!(check_amf(&bytes), Err(GuardError::TooDeep));
        assert!(matches!(
            check_amf(&vec![5u8; MAX_AMF_MESSAGE + 1]),
            Err(GuardError::TooLong(_))
        ));
    }

    #[test]
    fn truncated_values_are_errors() {
        assert!(check_amf(&[0x00, 1, 2]).is_err());
        assert!(check_amf(&[0x03, 0, 3, b'a']).is_err());
        assert!(check_amf(&[0x03, 0, 0, 0x07]).is_err());
        assert!(check_amf(&[0x0b]).is_err());
        assert_eq!(check_amf(&[]).unwrap().count, 0);
    }
}
