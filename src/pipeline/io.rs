//! Loading photos: decode with resource limits, read EXIF and ICC, apply the EXIF orientation,
//! and keep the original pixels (bit depth, grey, alpha) so that saving loses nothing.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits,
    RgbImage, metadata::Orientation,
};

pub use super::error::PhotoError;
use super::limits::{MAX_DECODE_BYTES, MAX_FILE_BYTES, MAX_PIXELS};
use super::metadata::{exif_orientation, is_tiff_header, strip_exif_header};

/// A decoded photo, upright (EXIF orientation applied to the pixels), with what is needed to
/// save the result without losing precision, alpha or metadata.
#[derive(Debug, Clone)]
pub struct Photo {
    /// The file it was loaded from (canonicalised when possible).
    pub path: PathBuf,
    /// Container format of the file, detected from its content.
    pub format: ImageFormat,
    /// Upright 8-bit RGB pixels: what detection and restoration work on.
    pub rgb_u8: RgbImage,
    /// Colour layout stored in the file (e.g. `Cmyk8` for a CMYK JPEG, `L16`, `Rgba8`).
    pub source_color: ExtendedColorType,
    /// Raw EXIF (TIFF structure, no `Exif\0\0` header) exactly as in the file; its
    /// Orientation tag still says what was applied.
    pub exif: Option<Vec<u8>>,
    /// ICC colour profile, exactly as in the file.
    pub icc: Option<Vec<u8>>,
    /// The orientation that was applied to the pixels.
    pub orientation: Orientation,
    /// Upright pixels at full precision when they differ from `rgb_u8` (16-bit, grey, alpha).
    original: Option<DynamicImage>,
}

impl Photo {
    /// Wraps in-memory RGB pixels as a photo without metadata (for tests and generated images).
    #[must_use]
    pub fn from_rgb(path: impl Into<PathBuf>, rgb_u8: RgbImage) -> Self {
        Self::from_image(path, DynamicImage::ImageRgb8(rgb_u8))
    }

    /// Wraps an in-memory image of any colour type as a photo without metadata.
    #[must_use]
    pub fn from_image(path: impl Into<PathBuf>, image: DynamicImage) -> Self {
        let source_color = image.color().into();
        let (rgb_u8, original) = split_original(image);
        Self {
            path: path.into(),
            format: ImageFormat::Png,
            rgb_u8,
            source_color,
            exif: None,
            icc: None,
            orientation: Orientation::NoTransforms,
            original,
        }
    }

    /// Photo width in pixels (after orientation).
    #[must_use]
    pub fn width(&self) -> u32 {
        self.rgb_u8.width()
    }

    /// Photo height in pixels (after orientation).
    #[must_use]
    pub fn height(&self) -> u32 {
        self.rgb_u8.height()
    }

    /// The decoded pixels at full precision and in the original channel layout (upright).
    /// For plain 8-bit RGB photos this is not stored separately and `None` is returned.
    #[must_use]
    pub fn original(&self) -> Option<&DynamicImage> {
        self.original.as_ref()
    }

    /// Takes the full-precision pixels out (for saving a photo that is no longer needed).
    pub(super) fn take_original(&mut self) -> Option<DynamicImage> {
        self.original.take()
    }
}

/// Splits a decoded image into its 8-bit RGB working copy and, when that loses anything,
/// the full-precision original.
fn split_original(image: DynamicImage) -> (RgbImage, Option<DynamicImage>) {
    match image {
        DynamicImage::ImageRgb8(rgb) => (rgb, None),
        other => (other.to_rgb8(), Some(other)),
    }
}

/// Bytes read from the start of a file to recognise its format (the longest signature
/// `image` checks is 12 bytes).
const SIGNATURE_BYTES: u64 = 64;

/// Loads a photo: decodes it within [`MAX_PIXELS`] / [`MAX_DECODE_BYTES`], reads EXIF and
/// ICC, applies the EXIF orientation, and converts to 8-bit RGB for processing while keeping
/// the original pixels for saving.
///
/// The format is detected from the content, not the extension. Every failure is a
/// [`PhotoError`] naming the file: empty file, not an image, truncated or corrupt data,
/// header declaring a huge size, unsupported format. A JPEG is read whole (its truncation and
/// colour components are checked on the bytes; it is compressed, so small); every other
/// format is decoded straight from the file, so a 16-bit TIFF's file bytes and its pixels are
/// never in memory together.
pub fn load_photo(path: impl AsRef<Path>) -> Result<Photo, PhotoError> {
    let path = path.as_ref();
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let io = |error| PhotoError::Io {
        path: path.clone(),
        error,
    };
    let meta = std::fs::metadata(&path).map_err(io)?;
    if meta.is_dir() {
        return Err(PhotoError::NotAFile { path: path.clone() });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(PhotoError::FileTooLarge {
            path: path.clone(),
            bytes: meta.len(),
        });
    }
    let mut file = File::open(&path).map_err(io)?;
    let mut head = Vec::new();
    (&mut file)
        .take(SIGNATURE_BYTES)
        .read_to_end(&mut head)
        .map_err(io)?;
    let format = detect_format(&path, &head)?;
    if format == ImageFormat::Jpeg {
        let mut bytes = head;
        // At most the size checked above (a file still growing is cut there).
        (&mut file)
            .take(MAX_FILE_BYTES.saturating_sub(SIGNATURE_BYTES))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        return decode_photo(&path, &bytes);
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let reopen = || File::open(&path).map(BufReader::new);
    decode_from(&path, format, BufReader::new(file), reopen, false)
}

/// Decodes a photo from its file bytes; `path` is only used for messages and [`Photo::path`].
pub fn decode_photo(path: &Path, bytes: &[u8]) -> Result<Photo, PhotoError> {
    let format = detect_format(path, bytes)?;
    let mut cmyk = false;
    if format == ImageFormat::Jpeg {
        if jpeg_is_truncated(bytes) {
            return Err(PhotoError::Decode {
                path: path.to_path_buf(),
                reason: "the JPEG data is truncated (no end-of-image marker after the last scan)"
                    .into(),
            });
        }
        cmyk = jpeg_component_count(bytes) == Some(4);
    }
    let reopen = || Ok(Cursor::new(bytes));
    decode_from(path, format, Cursor::new(bytes), reopen, cmyk)
}

/// The image format of a file from its first bytes; refuses empty and unrecognised files.
fn detect_format(path: &Path, head: &[u8]) -> Result<ImageFormat, PhotoError> {
    if head.is_empty() {
        return Err(PhotoError::Empty {
            path: path.to_path_buf(),
        });
    }
    image::guess_format(head).map_err(|_| PhotoError::Unsupported {
        path: path.to_path_buf(),
        reason: format!(
            "the content is not a PNG, JPEG, WebP, TIFF or BMP image{}",
            extension_note(path)
        ),
    })
}

/// Decodes a photo of a known `format` from `reader` (positioned at the start of the file).
/// `reopen` gives a second reader of the same content (the TIFF profile is read with its own
/// decoder); `cmyk_jpeg` says the JPEG frame has four components.
fn decode_from<R: BufRead + Seek>(
    path: &Path,
    format: ImageFormat,
    reader: R,
    reopen: impl Fn() -> std::io::Result<R>,
    cmyk_jpeg: bool,
) -> Result<Photo, PhotoError> {
    let path_buf = path.to_path_buf();
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(reader, format);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| map_image_error(path, e, (0, 0)))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PhotoError::Decode {
            path: path_buf,
            reason: format!("the image has no pixels ({width}×{height})"),
        });
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS || decoder.total_bytes() > MAX_DECODE_BYTES
    {
        return Err(PhotoError::TooLarge {
            path: path_buf,
            width,
            height,
        });
    }

    let source_color = if cmyk_jpeg {
        // zune-jpeg converts CMYK/YCCK to RGB (assuming Adobe-inverted CMYK, no ICC transform).
        ExtendedColorType::Cmyk8
    } else {
        decoder.original_color_type()
    };
    let exif = read_exif(path, &mut decoder);
    let icc = if format == ImageFormat::Tiff {
        // image 0.25.10's TIFF decoder loses tag values larger than its decoding buffer
        // limit once limits are set, so read the profile with a separate header-only decoder.
        reopen()
            .map_err(ImageError::IoError)
            .and_then(image::codecs::tiff::TiffDecoder::new)
            .and_then(|mut d| d.icc_profile())
    } else {
        decoder.icc_profile()
    };
    let icc = icc.unwrap_or_else(|e| {
        tracing::warn!("{}: ignoring unreadable ICC profile: {e}", path.display());
        None
    });
    let orientation = match &exif {
        Some(exif) => exif_orientation(exif)
            .and_then(|v| Orientation::from_exif(u8::try_from(v).ok()?))
            .unwrap_or(Orientation::NoTransforms),
        None => decoder.orientation().unwrap_or(Orientation::NoTransforms),
    };

    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|e| map_image_error(path, e, (width, height)))?;
    image.apply_orientation(orientation);
    let (rgb_u8, original) = split_original(image);
    Ok(Photo {
        path: path_buf,
        format,
        rgb_u8,
        source_color,
        exif,
        icc,
        orientation,
        original,
    })
}

/// Reads the EXIF blob, normalised to start at the TIFF header; invalid blobs are dropped.
fn read_exif(path: &Path, decoder: &mut impl ImageDecoder) -> Option<Vec<u8>> {
    let raw = match decoder.exif_metadata() {
        Ok(raw) => raw?,
        Err(e) => {
            tracing::warn!("{}: ignoring unreadable EXIF: {e}", path.display());
            return None;
        }
    };
    let tiff = strip_exif_header(&raw);
    if is_tiff_header(tiff) {
        Some(tiff.to_vec())
    } else {
        tracing::warn!("{}: ignoring EXIF without a TIFF header", path.display());
        None
    }
}

fn extension_note(path: &Path) -> String {
    path.extension()
        .map(|ext| format!(" (despite the .{} extension)", ext.to_string_lossy()))
        .unwrap_or_default()
}

/// Maps an `image` error to ours, grouped by concern.
fn map_image_error(path: &Path, error: ImageError, (width, height): (u32, u32)) -> PhotoError {
    let path = path.to_path_buf();
    match error {
        ImageError::Limits(_) => PhotoError::TooLarge {
            path,
            width,
            height,
        },
        ImageError::Unsupported(e) => PhotoError::Unsupported {
            path,
            reason: e.to_string(),
        },
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Decode {
                path,
                reason: "the file is truncated".into(),
            }
        }
        other => PhotoError::Decode {
            path,
            reason: other.to_string(),
        },
    }
}

/// Number of colour components declared by the JPEG frame header (SOFn), if found.
fn jpeg_component_count(bytes: &[u8]) -> Option<u8> {
    let mut pos = 2; // after SOI
    while pos + 4 <= bytes.len() {
        if bytes[pos] != 0xFF {
            return None;
        }
        let marker = bytes[pos + 1];
        if marker == 0xFF {
            pos += 1; // fill byte
            continue;
        }
        let length = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            // length(2) precision(1) height(2) width(2) components(1)
            return bytes.get(pos + 9).copied();
        }
        if marker == 0xDA {
            return None; // scan data before any frame header: malformed
        }
        pos += 2 + length;
    }
    None
}

/// True when no end-of-image marker follows the last start-of-scan marker. Entropy-coded data
/// cannot contain `FF DA` or `FF D9` (0xFF is always followed by 0x00 or a restart marker).
fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    let Some(last_sos) = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]) else {
        return true;
    };
    !bytes[last_sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), format)
            .unwrap();
        bytes
    }

    #[test]
    fn truncated_jpeg_is_refused() {
        let image = DynamicImage::ImageRgb8(RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([x as u8 * 4, y as u8 * 5, 90])
        }));
        let jpeg = encode(&image, ImageFormat::Jpeg);
        assert_eq!(jpeg_component_count(&jpeg), Some(3));
        assert!(!jpeg_is_truncated(&jpeg));
        let ok = decode_photo(Path::new("ok.jpg"), &jpeg).unwrap();
        assert_eq!((ok.width(), ok.height()), (64, 48));
        let cut = &jpeg[..jpeg.len() * 2 / 3];
        let err = decode_photo(Path::new("cut.jpg"), cut).unwrap_err();
        assert!(matches!(err, PhotoError::Decode { .. }), "{err}");
        assert!(err.to_string().contains("cut.jpg"), "{err}");
    }

    #[test]
    fn orientation_is_applied_to_pixels() {
        // 2×1 image: red then blue. Orientation 6 (rotate 90° clockwise) makes it 1×2.
        let mut png = Vec::new();
        let image = RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 0, 255]).unwrap();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut png);
        use image::ImageEncoder;
        encoder
            .set_exif_metadata(super::super::metadata::minimal_exif_with_orientation(
                6, true,
            ))
            .unwrap();
        encoder
            .write_image(image.as_raw(), 2, 1, ExtendedColorType::Rgb8)
            .unwrap();
        let photo = decode_photo(Path::new("rot.png"), &png).unwrap();
        assert_eq!(photo.orientation, Orientation::Rotate90);
        assert_eq!((photo.width(), photo.height()), (1, 2));
        assert_eq!(photo.rgb_u8.get_pixel(0, 0).0, [255, 0, 0]);
        assert_eq!(photo.rgb_u8.get_pixel(0, 1).0, [0, 0, 255]);
        assert_eq!(photo.exif.as_deref().and_then(exif_orientation), Some(6));
    }
}
