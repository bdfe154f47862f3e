//! Small, focused readers and patchers for raw photo metadata: the EXIF Orientation tag
//! (TIFF structure, both byte orders) and the colour space of an ICC profile.
//!
//! EXIF is handled as raw bytes, never re-serialised: the only change we ever make is to
//! overwrite the two bytes of the Orientation value in place, so every other tag (camera,
//! date, GPS, maker notes with their absolute offsets) stays byte-identical.

/// The `Exif\0\0` header that JPEG APP1 segments (and some WebP writers) put before the TIFF data.
pub const EXIF_HEADER: &[u8] = b"Exif\0\0";

/// EXIF tag number of Orientation (in IFD0).
const TAG_ORIENTATION: u16 = 0x0112;
/// TIFF field type SHORT (u16).
const TYPE_SHORT: u16 = 3;

/// Returns the TIFF structure inside a raw EXIF blob, without a leading `Exif\0\0` header.
#[must_use]
pub fn strip_exif_header(exif: &[u8]) -> &[u8] {
    exif.strip_prefix(EXIF_HEADER).unwrap_or(exif)
}

/// True when `tiff` starts with a TIFF header (`II*\0` little endian or `MM\0*` big endian).
#[must_use]
pub fn is_tiff_header(tiff: &[u8]) -> bool {
    tiff.starts_with(b"II\x2a\x00") || tiff.starts_with(b"MM\x00\x2a")
}

/// Reads the EXIF Orientation value (1–8 when valid) from IFD0 of a raw EXIF blob.
///
/// Accepts the blob with or without the `Exif\0\0` header. Returns `None` when the blob is
/// not TIFF-structured, is truncated, or has no SHORT Orientation entry in IFD0.
#[must_use]
pub fn exif_orientation(exif: &[u8]) -> Option<u16> {
    let tiff = strip_exif_header(exif);
    let (value_at, big_endian) = locate_orientation(tiff)?;
    read_u16(tiff, value_at, big_endian)
}

/// Sets the EXIF Orientation tag in IFD0 to 1 ("top-left", no transform) in place.
///
/// Call this after the orientation has been applied to the pixels, so that viewers do not
/// rotate the saved image a second time. Only the two value bytes are written; nothing else in
/// the blob moves. Accepts the blob with or without the `Exif\0\0` header and handles both
/// byte orders. Returns the previous value, or `None` (blob untouched) when there is no
/// Orientation entry or the structure is invalid.
pub fn reset_exif_orientation(exif: &mut [u8]) -> Option<u16> {
    let header_len = if exif.starts_with(EXIF_HEADER) {
        EXIF_HEADER.len()
    } else {
        0
    };
    let tiff = &mut exif[header_len..];
    let (value_at, big_endian) = locate_orientation(tiff)?;
    let previous = read_u16(tiff, value_at, big_endian)?;
    let bytes = if big_endian {
        1u16.to_be_bytes()
    } else {
        1u16.to_le_bytes()
    };
    tiff[value_at..value_at + 2].copy_from_slice(&bytes);
    Some(previous)
}

/// Finds the byte offset (within the TIFF structure) of the Orientation value and the byte order.
fn locate_orientation(tiff: &[u8]) -> Option<(usize, bool)> {
    if !is_tiff_header(tiff) {
        return None;
    }
    let big_endian = tiff[0] == b'M';
    let ifd0 = usize::try_from(read_u32(tiff, 4, big_endian)?).ok()?;
    let entry_count = usize::from(read_u16(tiff, ifd0, big_endian)?);
    for index in 0..entry_count {
        // Each IFD entry: tag u16, type u16, count u32, value/offset 4 bytes.
        let entry = ifd0.checked_add(2 + 12 * index)?;
        if entry.checked_add(12)? > tiff.len() {
            return None;
        }
        let tag = read_u16(tiff, entry, big_endian)?;
        if tag != TAG_ORIENTATION {
            continue;
        }
        let field_type = read_u16(tiff, entry + 2, big_endian)?;
        let count = read_u32(tiff, entry + 4, big_endian)?;
        // A SHORT with count 1 is stored left-justified in the 4-byte value field.
        return (field_type == TYPE_SHORT && count == 1).then_some((entry + 8, big_endian));
    }
    None
}

fn read_u16(bytes: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let raw: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big_endian {
        u16::from_be_bytes(raw)
    } else {
        u16::from_le_bytes(raw)
    })
}

fn read_u32(bytes: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    })
}

/// The data colour space signature of an ICC profile (header bytes 16..20), e.g. `b"RGB "`,
/// `b"GRAY"` or `b"CMYK"`. `None` when the blob is too short to be a profile.
#[must_use]
pub fn icc_color_space(icc: &[u8]) -> Option<[u8; 4]> {
    if icc.len() < 128 {
        return None;
    }
    icc[16..20].try_into().ok()
}

/// Builds a minimal TIFF-structured EXIF blob whose IFD0 holds one Orientation entry
/// (plus a dummy Software-like entry before it, so the search is exercised).
///
/// Meant for tests and examples; `big_endian` selects `MM` or `II` byte order.
#[must_use]
pub fn minimal_exif_with_orientation(orientation: u16, big_endian: bool) -> Vec<u8> {
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut tiff = Vec::new();
    tiff.extend_from_slice(if big_endian { b"MM" } else { b"II" });
    tiff.extend_from_slice(&u16b(42));
    tiff.extend_from_slice(&u32b(8)); // IFD0 right after the header
    tiff.extend_from_slice(&u16b(2)); // two entries
    // ImageWidth (0x0100), SHORT, count 1, value 640.
    tiff.extend_from_slice(&u16b(0x0100));
    tiff.extend_from_slice(&u16b(TYPE_SHORT));
    tiff.extend_from_slice(&u32b(1));
    tiff.extend_from_slice(&u16b(640));
    tiff.extend_from_slice(&[0, 0]);
    // Orientation, SHORT, count 1.
    tiff.extend_from_slice(&u16b(TAG_ORIENTATION));
    tiff.extend_from_slice(&u16b(TYPE_SHORT));
    tiff.extend_from_slice(&u32b(1));
    tiff.extend_from_slice(&u16b(orientation));
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&u32b(0)); // no next IFD
    tiff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_resets_both_byte_orders() {
        for big_endian in [false, true] {
            let mut exif = minimal_exif_with_orientation(6, big_endian);
            let before = exif.clone();
            assert_eq!(exif_orientation(&exif), Some(6));
            assert_eq!(reset_exif_orientation(&mut exif), Some(6));
            assert_eq!(exif_orientation(&exif), Some(1));
            // Only the two value bytes changed.
            let changed: Vec<usize> = (0..exif.len()).filter(|&i| exif[i] != before[i]).collect();
            assert!(!changed.is_empty() && changed.len() <= 2, "{changed:?}");
            assert!(changed.iter().all(|&i| i == 30 || i == 31), "{changed:?}");
        }
    }

    #[test]
    fn handles_exif_header_prefix() {
        let mut exif = EXIF_HEADER.to_vec();
        exif.extend(minimal_exif_with_orientation(8, true));
        assert_eq!(exif_orientation(&exif), Some(8));
        assert_eq!(reset_exif_orientation(&mut exif), Some(8));
        assert!(exif.starts_with(EXIF_HEADER));
        assert_eq!(exif_orientation(&exif), Some(1));
    }

    #[test]
    fn invalid_or_truncated_blobs_are_left_alone() {
        let full = minimal_exif_with_orientation(3, false);
        // The Orientation entry ends at byte 34: any shorter blob must be neither read nor written.
        for cut in 0..34 {
            let mut truncated = full[..cut].to_vec();
            let copy = truncated.clone();
            assert_eq!(reset_exif_orientation(&mut truncated), None, "cut at {cut}");
            assert_eq!(truncated, copy, "cut at {cut}");
        }
        assert_eq!(exif_orientation(&full[..34]), Some(3));
        let mut garbage = b"not an exif blob at all".to_vec();
        assert_eq!(reset_exif_orientation(&mut garbage), None);
        // IFD offset pointing far outside the blob.
        let mut bad_offset = full.clone();
        bad_offset[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(exif_orientation(&bad_offset), None);
    }

    #[test]
    fn no_orientation_entry_gives_none() {
        let mut exif = minimal_exif_with_orientation(6, false);
        // Rename the Orientation tag to something else.
        exif[22..24].copy_from_slice(&0x0131u16.to_le_bytes());
        assert_eq!(exif_orientation(&exif), None);
        assert_eq!(reset_exif_orientation(&mut exif), None);
    }

    #[test]
    fn icc_color_space_reads_header() {
        let mut icc = vec![0u8; 128];
        icc[16..20].copy_from_slice(b"CMYK");
        assert_eq!(icc_color_space(&icc), Some(*b"CMYK"));
        assert_eq!(icc_color_space(&icc[..100]), None);
    }
}
