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
fn esds_object_type(mut d: &[u8]) -> Option<u8> {
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
            5 => {
                let aot = body.first()? >> 3;
                return Some(if aot == 31 {
                    32 + ((body.first()? & 0x07) << 3 | body.get(1)? >> 5)
                } else {
                    aot
                });
            }
            _ => d = d.get(i + len..)?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
