//! H.264 sequence parameter set parsing, just far enough to learn the picture size.
//!
//! An exp-Golomb bit reader over the SPS RBSP (emulation-prevention bytes removed), which walks
//! the high profiles' chroma format / bit depth / scaling lists, the picture order count
//! fields, and applies frame cropping (with the chroma-format-dependent crop units and field
//! coding) to the macroblock dimensions. Every read is bounds-checked: the SPS comes from the
//! publisher.

/// Why an SPS could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpsError {
    #[error("SPS is truncated")]
    Truncated,
    #[error("not an SPS NAL unit (type {0})")]
    NotSps(u8),
    #[error("SPS field {0} is out of range")]
    OutOfRange(&'static str),
}

/// What the SPS says about the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsInfo {
    pub profile_idc: u8,
    pub level_idc: u8,
    pub chroma_format_idc: u32,
    pub width: u32,
    pub height: u32,
}

/// Strip emulation-prevention bytes (`00 00 03` → `00 00`) from a NAL unit payload.
pub fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0usize;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// MSB-first bit reader with exp-Golomb codes.
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    pub fn bit(&mut self) -> Result<u32, SpsError> {
        let byte = self.data.get(self.pos / 8).ok_or(SpsError::Truncated)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(u32::from(bit))
    }

    pub fn flag(&mut self) -> Result<bool, SpsError> {
        Ok(self.bit()? == 1)
    }

    pub fn bits(&mut self, n: u32) -> Result<u32, SpsError> {
        debug_assert!(n <= 32);
        let mut v: u32 = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    /// Unsigned exp-Golomb, `ue(v)`. Values beyond 32 bits are refused.
    pub fn ue(&mut self) -> Result<u32, SpsError> {
        let mut zeros = 0u32;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(SpsError::OutOfRange("exp-Golomb code"));
            }
        }
        let rest = self.bits(zeros)?;
        // (1 << zeros) - 1 + rest, in u64 so that zeros == 31 cannot overflow.
        let v = (1u64 << zeros) - 1 + u64::from(rest);
        u32::try_from(v).map_err(|_| SpsError::OutOfRange("exp-Golomb code"))
    }

    /// Signed exp-Golomb, `se(v)`.
    pub fn se(&mut self) -> Result<i32, SpsError> {
        let k = i64::from(self.ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        i32::try_from(v).map_err(|_| SpsError::OutOfRange("signed exp-Golomb code"))
    }
}

/// Profiles whose SPS carries chroma_format_idc, bit depths and scaling lists.
fn has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), SpsError> {
    let mut last: i32 = 8;
    let mut next: i32 = 8;
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(SpsError::OutOfRange("delta_scale"));
            }
            next = (last + delta + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// Parse an SPS NAL unit (starting with its one-byte NAL header).
pub fn parse_sps(nal: &[u8]) -> Result<SpsInfo, SpsError> {
    let header = *nal.first().ok_or(SpsError::Truncated)?;
    if header & 0x1f != 7 {
        return Err(SpsError::NotSps(header & 0x1f));
    }
    let data = rbsp(&nal[1..]);
    let mut r = BitReader::new(&data);

    let profile_idc = r.bits(8)? as u8;
    let _constraint_flags = r.bits(8)?;
    let level_idc = r.bits(8)? as u8;
    let sps_id = r.ue()?;
    if sps_id > 31 {
        return Err(SpsError::OutOfRange("seq_parameter_set_id"));
    }

    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if has_chroma_info(profile_idc) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc > 3 {
            return Err(SpsError::OutOfRange("chroma_format_idc"));
        }
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag()?;
        }
        if r.ue()? > 6 {
            return Err(SpsError::OutOfRange("bit_depth_luma_minus8"));
        }
        if r.ue()? > 6 {
            return Err(SpsError::OutOfRange("bit_depth_chroma_minus8"));
        }
        let _qpprime_y_zero_transform_bypass = r.flag()?;
        if r.flag()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }

    if r.ue()? > 12 {
        return Err(SpsError::OutOfRange("log2_max_frame_num_minus4"));
    }
    match r.ue()? {
        0 => {
            if r.ue()? > 12 {
                return Err(SpsError::OutOfRange("log2_max_pic_order_cnt_lsb_minus4"));
            }
        }
        1 => {
            let _delta_pic_order_always_zero = r.flag()?;
            let _offset_for_non_ref_pic = r.se()?;
            let _offset_for_top_to_bottom_field = r.se()?;
            let cycle = r.ue()?;
            if cycle > 255 {
                return Err(SpsError::OutOfRange(
                    "num_ref_frames_in_pic_order_cnt_cycle",
                ));
            }
            for _ in 0..cycle {
                let _offset_for_ref_frame = r.se()?;
            }
        }
        2 => {}
        _ => return Err(SpsError::OutOfRange("pic_order_cnt_type")),
    }
    let _max_num_ref_frames = r.ue()?;
    let _gaps_in_frame_num_allowed = r.flag()?;
    let width_mbs = u64::from(r.ue()?) + 1;
    let height_map_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        let _mb_adaptive_frame_field = r.flag()?;
    }
    let _direct_8x8_inference = r.flag()?;
    let (mut crop_l, mut crop_r, mut crop_t, mut crop_b) = (0u64, 0u64, 0u64, 0u64);
    if r.flag()? {
        crop_l = r.ue()?.into();
        crop_r = r.ue()?.into();
        crop_t = r.ue()?.into();
        crop_b = r.ue()?.into();
    }

    let field_factor: u64 = if frame_mbs_only { 1 } else { 2 };
    let chroma_array_type = if separate_colour_plane {
        0
    } else {
        chroma_format_idc
    };
    let (crop_unit_x, crop_unit_y) = if chroma_array_type == 0 {
        (1, field_factor)
    } else {
        let sub_width_c = if chroma_format_idc == 3 { 1 } else { 2 };
        let sub_height_c = if chroma_format_idc == 1 { 2 } else { 1 };
        (sub_width_c, sub_height_c * field_factor)
    };
    let full_w = width_mbs * 16;
    let full_h = height_map_units * 16 * field_factor;
    let cut_w = crop_unit_x * (crop_l + crop_r);
    let cut_h = crop_unit_y * (crop_t + crop_b);
    if cut_w >= full_w {
        return Err(SpsError::OutOfRange("horizontal frame cropping"));
    }
    if cut_h >= full_h {
        return Err(SpsError::OutOfRange("vertical frame cropping"));
    }
    let width = u32::try_from(full_w - cut_w).map_err(|_| SpsError::OutOfRange("width"))?;
    let height = u32::try_from(full_h - cut_h).map_err(|_| SpsError::OutOfRange("height"))?;
    Ok(SpsInfo {
        profile_idc,
        level_idc,
        chroma_format_idc,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn size(s: &str) -> (u32, u32) {
        let info = parse_sps(&hex(s)).unwrap();
        (info.width, info.height)
    }

    /// SPSs written by libx264 (via ffmpeg), sizes confirmed with ffprobe.
    #[test]
    fn real_encoder_spss() {
        // Constrained baseline 320x180: 20x12 MBs, bottom crop 6 (×2).
        assert_eq!(
            size("6742c00dd901419f9f0110000003001000000303c0f142a480"),
            (320, 180)
        );
        // High 1920x1080: the classic 8-line bottom crop.
        assert_eq!(
            size("67640028acd940780227e5c044000003000400000300f03c60c658"),
            (1920, 1080)
        );
        // High 4:4:4 predictive: chroma_format_idc 3 (crop units of 1).
        let i = parse_sps(&hex(
            "67f4001e919b281405ff138088000003000800000301e078b16cb0",
        ))
        .unwrap();
        assert_eq!((i.profile_idc, i.chroma_format_idc), (244, 3));
        assert_eq!((i.width, i.height), (640, 360));
        assert_eq!(
            size("67f4000d919b282833dc7e0220000003002000000781e28532c0"),
            (318, 178)
        );
        // High 4:2:2, interlaced (field coding doubles the map units and the crop unit).
        assert_eq!(
            size("677a0015bcd941612d8088000003000800000301e0f8a14cb0"),
            (352, 288)
        );
        assert_eq!(
            size("677a0015bcd941433d4f8088000003000800000301e0f8a14cb0"),
            (318, 180)
        );
        // High 4:2:0 interlaced with both horizontal and vertical cropping.
        assert_eq!(
            size("67640015acd941433d498088000003000800000301e0f8a14cb0"),
            (318, 180)
        );
    }

    struct BitWriter {
        out: Vec<u8>,
        bits: usize,
    }

    impl BitWriter {
        fn new() -> Self {
            BitWriter {
                out: Vec::new(),
                bits: 0,
            }
        }
        fn bit(&mut self, b: u32) {
            if self.bits.is_multiple_of(8) {
                self.out.push(0);
            }
            if b != 0 {
                let last = self.out.len() - 1;
                self.out[last] |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
        fn bits(&mut self, n: u32, v: u32) {
            for i in (0..n).rev() {
                self.bit((v >> i) & 1);
            }
        }
        fn ue(&mut self, v: u32) {
            let v1 = u64::from(v) + 1;
            let len = 64 - v1.leading_zeros();
            for _ in 0..len - 1 {
                self.bit(0);
            }
            for i in (0..len).rev() {
                self.bit(((v1 >> i) & 1) as u32);
            }
        }
        fn se(&mut self, v: i32) {
            self.ue(if v > 0 {
                (2 * v - 1) as u32
            } else {
                (-2 * v) as u32
            });
        }
    }

    #[test]
    fn exp_golomb_round_trips() {
        let mut w = BitWriter::new();
        let values = [0u32, 1, 2, 3, 7, 8, 255, 65_535, 1 << 20, u32::MAX - 1];
        for v in values {
            w.ue(v);
        }
        for v in [-5, 0, 5, i32::MAX / 2, -(i32::MAX / 2)] {
            w.se(v);
        }
        let mut r = BitReader::new(&w.out);
        for v in values {
            assert_eq!(r.ue().unwrap(), v);
        }
        for v in [-5, 0, 5, i32::MAX / 2, -(i32::MAX / 2)] {
            assert_eq!(r.se().unwrap(), v);
        }
        // 32 leading zeros: refused, not overflowed.
        let zeros = [0u8; 5];
        assert!(BitReader::new(&zeros).ue().is_err());
    }

    /// A high-profile SPS with scaling lists (one ending early through a zero next scale),
    /// pic_order_cnt_type 1 and cropping: everything after the lists must still line up.
    #[test]
    fn scaling_lists_and_poc_type_1() {
        let mut w = BitWriter::new();
        w.bits(8, 0x67);
        w.bits(8, 100); // profile_idc High
        w.bits(8, 0);
        w.bits(8, 40); // level
        w.ue(0); // sps id
        w.ue(1); // chroma_format_idc 4:2:0
        w.ue(2); // bit_depth_luma_minus8
        w.ue(2); // bit_depth_chroma_minus8
        w.bit(0); // qpprime
        w.bit(1); // seq_scaling_matrix_present_flag
        for i in 0..8 {
            let present = i == 0 || i == 6 || i == 7;
            w.bit(u32::from(present));
            if i == 0 {
                // 16 explicit deltas
                for j in 0..16 {
                    w.se(if j % 2 == 0 { 3 } else { -2 });
                }
            } else if i == 6 {
                // first delta makes nextScale 0: "use the default list", no more deltas
                w.se(-8);
            } else if i == 7 {
                for _ in 0..64 {
                    w.se(1);
                }
            }
        }
        w.ue(0); // log2_max_frame_num_minus4
        w.ue(1); // pic_order_cnt_type
        w.bit(0);
        w.se(-3);
        w.se(4);
        w.ue(3);
        w.se(1);
        w.se(-1);
        w.se(2);
        w.ue(4); // max_num_ref_frames
        w.bit(0);
        w.ue(79); // 1280
        w.ue(44); // 720
        w.bit(1); // frame_mbs_only
        w.bit(1); // direct_8x8
        w.bit(1); // cropping
        w.ue(2);
        w.ue(3); // width -= 2*(2+3) = 10
        w.ue(1);
        w.ue(4); // height -= 2*(1+4) = 10
        w.bit(0); // vui
        w.bit(1); // rbsp stop bit
        let info = parse_sps(&w.out).unwrap();
        assert_eq!((info.width, info.height), (1270, 710));
        assert_eq!(info.profile_idc, 100);
    }

    #[test]
    fn emulation_prevention_is_removed() {
        assert_eq!(
            rbsp(&[0, 0, 3, 1, 0, 0, 3, 0, 3]),
            vec![0, 0, 1, 0, 0, 0, 3]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(parse_sps(&[]), Err(SpsError::Truncated));
        assert_eq!(parse_sps(&[0x68, 1, 2]), Err(SpsError::NotSps(8)));
        assert!(parse_sps(&[0x67, 100, 0, 30]).is_err());
        // Cropping more than the picture.
        let mut w = BitWriter::new();
        w.bits(8, 0x67);
        w.bits(8, 66);
        w.bits(8, 0);
        w.bits(8, 30);
        w.ue(0); // sps id
        w.ue(0); // log2_max_frame_num_minus4
        w.ue(0); // pic_order_cnt_type
        w.ue(0); // log2_max_pic_order_cnt_lsb_minus4
        w.ue(1); // max_num_ref_frames
        w.bit(0);
        w.ue(0); // 16 px wide
        w.ue(0);
        w.bit(1);
        w.bit(1);
        w.bit(1);
        w.ue(4);
        w.ue(4);
        w.ue(0);
        w.ue(0);
        assert_eq!(
            parse_sps(&w.out),
            Err(SpsError::OutOfRange("horizontal frame cropping"))
        );
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 0x67) as u8).collect();
            let _ = parse_sps(&bytes);
        }
    }
}
