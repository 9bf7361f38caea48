//! Just enough ISO BMFF (MP4) reading for packaging: walk boxes, read a track's `mdhd`
//! timescale, its RFC 6381 codecs string, and a fragment's `tfdt` decode time. Malformed
//! input yields `None`, never a panic.

/// A box: its four-character type and its payload (after the header).
#[derive(Clone, Copy, Debug)]
pub struct BoxRef<'a> {
    pub kind: [u8; 4],
    pub body: &'a [u8],
}

/// Iterate over the boxes laid end to end in `data`. Stops at the first malformed header.
pub fn boxes(mut data: &[u8]) -> impl Iterator<Item = BoxRef<'_>> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(data.get(0..4)?.try_into().ok()?) as u64;
        let kind: [u8; 4] = data.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            1 => (16, u64::from_be_bytes(data.get(8..16)?.try_into().ok()?)),
            0 => (8, data.len() as u64),
            n => (8, n),
        };
        let size = usize::try_from(size).ok()?;
        if size < header || size > data.len() {
            return None;
        }
        let body = &data[header..size];
        data = &data[size..];
        Some(BoxRef { kind, body })
    })
}

/// Where each CMAF chunk of a segment lies in it: a chunk is the boxes up to and including
/// an `mdat` (its `moof`, and any `styp`/`emsg`/`prft` in front). Bytes after the last
/// `mdat` belong to no chunk.
pub fn chunk_spans(data: &[u8]) -> Vec<std::ops::Range<usize>> {
    let base = data.as_ptr() as usize;
    let mut spans = Vec::new();
    let mut begin = 0;
    for b in boxes(data) {
        let end = b.body.as_ptr() as usize - base + b.body.len();
        if &b.kind == b"mdat" {
            spans.push(begin..end);
            begin = end;
        }
    }
    spans
}

/// The first box at `path` (e.g. `["moov", "trak", "mdia", "mdhd"]`).
pub fn find<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let (first, rest) = path.split_first()?;
    let b = boxes(data).find(|b| &b.kind == *first)?;
    if rest.is_empty() {
        Some(b.body)
    } else {
        find(b.body, rest)
    }
}

/// The `mdhd` timescale of the (first) track of an init segment.
pub fn timescale(init: &[u8]) -> Option<u32> {
    let mdhd = find(init, &[b"moov", b"trak", b"mdia", b"mdhd"])?;
    let at = if *mdhd.first()? == 1 { 20 } else { 12 };
    Some(u32::from_be_bytes(mdhd.get(at..at + 4)?.try_into().ok()?))
}

/// The `tfdt` base media decode time of the (first) track fragment of a `moof`.
pub fn decode_time(fragment: &[u8]) -> Option<u64> {
    let tfdt = find(fragment, &[b"moof", b"traf", b"tfdt"])?;
    if *tfdt.first()? == 1 {
        Some(u64::from_be_bytes(tfdt.get(4..12)?.try_into().ok()?))
    } else {
        Some(u32::from_be_bytes(tfdt.get(4..8)?.try_into().ok()?) as u64)
    }
}

/// The RFC 6381 codecs string of an init segment's (first) track: `avc1.PPCCLL` or
/// `mp4a.40.N`.
pub fn codecs(init: &[u8]) -> Option<String> {
    let stsd = find(
        init,
        &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"],
    )?;
    // stsd: version/flags (4), entry count (4), then sample entries.
    let entry = boxes(stsd.get(8..)?).next()?;
    match &entry.kind {
        b"avc1" | b"avc3" => {
            // VisualSampleEntry fixed fields are 78 bytes before child boxes.
            let avcc = boxes(entry.body.get(78..)?).find(|b| &b.kind == b"avcC")?;
            let p = avcc.body.get(1..4)?;
            Some(format!(
                "{}.{:02x}{:02x}{:02x}",
                String::from_utf8_lossy(&entry.kind),
                p[0],
                p[1],
                p[2]
            ))
        }
        b"mp4a" => {
            // AudioSampleEntry fixed fields are 28 bytes before child boxes.
            let esds = boxes(entry.body.get(28..)?).find(|b| &b.kind == b"esds")?;
            let aot = esds_object_type(esds.body.get(4..)?)?;
            Some(format!("mp4a.40.{aot}"))
        }
        _ => None,
    }
}

/// Audio object type from an `esds` ES_Descriptor's DecoderSpecificInfo.
fn esds_object_type(d: &[u8]) -> Option<u8> {
    let asc = esds_config(d)?;
    let aot = asc.first()? >> 3;
    Some(if aot == 31 {
        32 + ((asc.first()? & 0x07) << 3 | asc.get(1)? >> 5)
    } else {
        aot
    })
}

/// The DecoderSpecificInfo (for AAC, the AudioSpecificConfig) of an `esds` ES_Descriptor.
fn esds_config(mut d: &[u8]) -> Option<&[u8]> {
    // Walk descriptors: tag, expandable length; descend into ES (3) and DecoderConfig (4).
    loop {
        let tag = *d.first()?;
        let mut len = 0usize;
        let mut i = 1;
        loop {
            let b = *d.get(i)?;
            len = (len << 7) | (b & 0x7f) as usize;
            i += 1;
            if b & 0x80 == 0 || i > 4 {
                break;
            }
        }
        let body = d.get(i..i.checked_add(len)?)?;
        match tag {
            // ES_Descriptor: ES_ID (2), flags (1), optional fields by flags.
            3 => {
                let flags = *body.get(2)?;
                let mut skip = 3;
                if flags & 0x80 != 0 {
                    skip += 2;
                }
                if flags & 0x40 != 0 {
                    skip += 1 + *body.get(skip)? as usize;
                }
                if flags & 0x20 != 0 {
                    skip += 2;
                }
                d = body.get(skip..)?;
            }
            // DecoderConfigDescriptor: 13 fixed bytes, then DecoderSpecificInfo.
            4 => d = body.get(13..)?,
            5 => return Some(body),
            _ => d = d.get(i + len..)?,
        }
    }
}

/// The codec configuration of an init segment's (first) track, as FLV and RTMP carry it:
/// the `avcC` record of an `avc1`/`avc3` entry, or the AudioSpecificConfig of an `mp4a`.
pub fn decoder_config(init: &[u8]) -> Option<&[u8]> {
    let stsd = find(
        init,
        &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"],
    )?;
    let entry = boxes(stsd.get(8..)?).next()?;
    match &entry.kind {
        b"avc1" | b"avc3" => Some(
            boxes(entry.body.get(78..)?)
                .find(|b| &b.kind == b"avcC")?
                .body,
        ),
        b"mp4a" => esds_config(
            boxes(entry.body.get(28..)?)
                .find(|b| &b.kind == b"esds")?
                .body
                .get(4..)?,
        ),
        _ => None,
    }
}

/// The optional 32-bit field at `*at` of a full box whose `flags` have `bit` set (moving
/// past it), `Some(None)` when the bit is clear, `None` past the end.
fn flagged(b: &[u8], at: &mut usize, flags: u32, bit: u32) -> Option<Option<u32>> {
    if flags & bit == 0 {
        return Some(None);
    }
    let v = u32::from_be_bytes(b.get(*at..at.checked_add(4)?)?.try_into().ok()?);
    *at += 4;
    Some(Some(v))
}

/// One sample of a CMAF chunk, times in the track timescale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample<'a> {
    pub dts: u64,
    /// Composition offset (pts − dts).
    pub cto: i64,
    pub duration: u32,
    /// A sync sample (a keyframe; every AAC frame).
    pub sync: bool,
    pub data: &'a [u8],
}

/// The samples of the (first) track fragment of every `moof` in `chunk` (`moof` + `mdat`,
/// any other boxes skipped), in order. `None` if a `moof` is malformed or points outside
/// the chunk.
pub fn samples(chunk: &[u8]) -> Option<Vec<Sample<'_>>> {
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(
            b.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    let mut out = Vec::new();
    let mut offset = 0usize;
    for b in boxes(chunk) {
        let start = offset;
        let header = b.body.as_ptr() as usize - chunk[start..].as_ptr() as usize;
        offset += header + b.body.len();
        if &b.kind != b"moof" {
            continue;
        }
        let traf = find(b.body, &[b"traf"])?;
        let tfhd = find(traf, &[b"tfhd"])?;
        let flags = u32_at(tfhd, 0)? & 0xff_ffff;
        let mut at = 8;
        let base = if flags & 0x01 != 0 {
            let v = u64::from_be_bytes(tfhd.get(at..at + 8)?.try_into().ok()?);
            at += 8;
            usize::try_from(v).ok()?
        } else {
            // CMAF: default-base-is-moof (and the moof's start when neither is set).
            start
        };
        if flags & 0x02 != 0 {
            at += 4;
        }
        let (default_duration, default_size, default_flags) = (
            flagged(tfhd, &mut at, flags, 0x08)?,
            flagged(tfhd, &mut at, flags, 0x10)?,
            flagged(tfhd, &mut at, flags, 0x20)?,
        );
        let mut dts = decode_time(&chunk[start..])?;
        let trun = find(traf, &[b"trun"])?;
        let version = *trun.first()?;
        let tflags = u32_at(trun, 0)? & 0xff_ffff;
        let count = u32_at(trun, 4)? as usize;
        let mut at = 8;
        let mut data = base;
        if tflags & 0x01 != 0 {
            data = base.checked_add_signed(u32_at(trun, at)? as i32 as isize)?;
            at += 4;
        }
        let first_flags = flagged(trun, &mut at, tflags, 0x04)?;
        // Bound the loop by what the input can hold: a hostile count (billions of samples
        // with default sizes of 0) must not spin or fill memory.
        let per = [0x100, 0x200, 0x400, 0x800]
            .iter()
            .filter(|f| tflags & **f != 0)
            .count()
            * 4;
        let room = trun
            .len()
            .saturating_sub(at)
            .checked_div(per)
            .unwrap_or(chunk.len());
        if count > room {
            return None;
        }
        for i in 0..count {
            let mut next = |bit| flagged(trun, &mut at, tflags, bit);
            let duration = next(0x100)?.or(default_duration).unwrap_or(0);
            let size = next(0x200)?.or(default_size)? as usize;
            let sample_flags = next(0x400)?;
            let cto = next(0x800)?.map_or(0, |v| {
                if version == 0 {
                    i64::from(v)
                } else {
                    i64::from(v as i32)
                }
            });
            let sflags = match (i, first_flags) {
                (0, Some(f)) => f,
                _ => sample_flags.or(default_flags).unwrap_or(0),
            };
            out.push(Sample {
                dts,
                cto,
                duration,
                // sample_is_non_sync_sample
                sync: sflags & 0x0001_0000 == 0,
                data: chunk.get(data..data.checked_add(size)?)?,
            });
            data += size;
            dts += u64::from(duration);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_spans_end_at_each_mdat() {
        let b = |kind: &[u8; 4], len: usize| bx(kind, &vec![0; len]);
        let seg = [
            b(b"styp", 4),
            b(b"moof", 10),
            b(b"mdat", 20),
            b(b"emsg", 3),
            b(b"moof", 10),
            b(b"mdat", 1),
            b(b"free", 2),
        ]
        .concat();
        assert_eq!(chunk_spans(&seg), [0..58, 58..96]);
        assert!(chunk_spans(b"not a box").is_empty());
        assert!(chunk_spans(&b(b"moof", 4)).is_empty());
    }

    #[test]
    fn samples_come_from_trun_with_tfhd_defaults_and_a_moof_relative_offset() {
        // tfhd: default-base-is-moof | default-sample-duration (1024); track 1.
        let tfhd = bx(
            b"tfhd",
            &[
                &[0u8, 2, 0, 8][..],
                &1u32.to_be_bytes(),
                &1024u32.to_be_bytes(),
            ]
            .concat(),
        );
        let tfdt = bx(
            b"tfdt",
            &[&[1, 0, 0, 0][..], &48_000u64.to_be_bytes()].concat(),
        );
        // trun: data-offset | sample-size | sample-flags; 2 samples (3 and 2 bytes), the
        // second a non-sync sample. The offset is patched in once the moof's size is known.
        let trun = |offset: u32| {
            bx(
                b"trun",
                &[
                    &[0, 0, 6, 1][..],
                    &2u32.to_be_bytes(),
                    &offset.to_be_bytes(),
                    &3u32.to_be_bytes(),
                    &0u32.to_be_bytes(),
                    &2u32.to_be_bytes(),
                    &0x0001_0000u32.to_be_bytes(),
                ]
                .concat(),
            )
        };
        let moof = |offset| {
            bx(
                b"moof",
                &bx(
                    b"traf",
                    &[tfhd.clone(), tfdt.clone(), trun(offset)].concat(),
                ),
            )
        };
        let len = moof(0).len() as u32;
        let chunk = [bx(b"emsg", b"xxxx"), moof(len + 8), bx(b"mdat", b"abcde")].concat();
        // The emsg before the moof is skipped; the offset counts from the moof.
        let got = samples(&chunk).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].dts, got[0].duration, got[0].sync, got[0].data),
            (48_000, 1024, true, &b"abc"[..])
        );
        assert_eq!(
            (got[1].dts, got[1].sync, got[1].data),
            (49_024, false, &b"de"[..])
        );
        // A sample pointing past the chunk is refused, not read.
        let broken = [moof(len + 8), bx(b"mdat", b"ab")].concat();
        assert_eq!(samples(&broken), None);
    }

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn reads_tfdt_and_survives_garbage() {
        let mut tfdt = vec![1, 0, 0, 0];
        tfdt.extend_from_slice(&123_456u64.to_be_bytes());
        let moof = bx(b"moof", &bx(b"traf", &bx(b"tfdt", &tfdt)));
        assert_eq!(decode_time(&moof), Some(123_456));
        assert_eq!(decode_time(&[0, 0, 0, 200, b'm', b'o', b'o', b'f']), None);
        assert_eq!(decode_time(&[0, 0, 0, 1, b'm', b'o', b'o', b'f', 0]), None);
        assert_eq!(timescale(b"garbage"), None);
        assert_eq!(codecs(&[]), None);
    }

    #[test]
    fn esds_audio_object_type() {
        // ES_Descriptor → DecoderConfigDescriptor → DecoderSpecificInfo (AAC-LC, 48 kHz).
        let dsi = [0x05, 0x02, 0x11, 0x90];
        let mut dcd = vec![0x04, (13 + dsi.len()) as u8, 0x40, 0x15];
        dcd.extend_from_slice(&[0; 11]);
        dcd.extend_from_slice(&dsi);
        let mut es = vec![0x03, (3 + dcd.len()) as u8, 0, 1, 0];
        es.extend_from_slice(&dcd);
        assert_eq!(esds_object_type(&es), Some(2));
    }
}
