//! Faults in the middle of work: a batch `restore` killed with SIGKILL at random moments
//! leaves only complete output files, and `--skip-existing` finishes the batch without
//! rewriting what was done; a full disk or a read-only folder fails the photo by name and
//! leaves nothing behind; a photo at the pixel limit (8-bit JPEG, 16-bit RGBA TIFF) restores
//! in under 2 GiB.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const PHOTOS: usize = 24;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("face-deblur-rel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn restore(input: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_face-deblur"));
    cmd.arg("restore")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(["--aligned", "--backend", "cpu", "--skip-existing"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Visible outputs (not the hidden temporary files) with their modification times.
fn outputs(dir: &Path) -> Vec<(PathBuf, SystemTime)> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| {
            let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p, modified)
        })
        .collect();
    found.sort();
    found
}

/// The hidden (temporary) files in `dir`.
fn temps(dir: &Path) -> Vec<String> {
    listing(dir)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn a_batch_killed_at_random_moments_leaves_only_complete_files_and_resumes() {
    let dir = scratch("kill");
    let input = dir.join("in");
    let out = dir.join("out");
    std::fs::create_dir_all(&input).unwrap();
    let face = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/faces/gfpgan_adele.jpg");
    for i in 0..PHOTOS {
        // 768² PNG outputs take long to encode and write: a wide window for a kill mid-write.
        let img = image::open(&face).unwrap();
        let img = img.resize_exact(768, 768, image::imageops::FilterType::Triangle);
        img.save(input.join(format!("face_{i:02}.png"))).unwrap();
    }
    let original = std::fs::read(input.join("face_00.png")).unwrap();

    // A fixed-seed generator of kill times (xorshift), so a failure can be replayed.
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut kills = 0;
    let mut left_temps = 0;
    let started = Instant::now();
    std::fs::create_dir_all(&out).unwrap();
    while kills < 8 && outputs(&out).len() < PHOTOS && started.elapsed().as_secs() < 240 {
        let mut child = restore(&input, &out).spawn().unwrap();
        // 0.3–1.2 s: some kills land in model loading, most among the restores and writes.
        std::thread::sleep(Duration::from_millis(300 + next() % 900));
        if child.try_wait().unwrap().is_some() {
            break; // finished before the kill
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        left_temps += temps(&out).len();
        for (path, _) in outputs(&out) {
            let img = image::open(&path)
                .unwrap_or_else(|e| panic!("{} is visible but not complete: {e}", path.display()));
            assert_eq!(
                (img.width(), img.height()),
                (768, 768),
                "{}",
                path.display()
            );
        }
    }
    eprintln!(
        "{kills} kills, {left_temps} temporary file(s) seen after them, {} of {PHOTOS} done",
        outputs(&out).len()
    );
    assert!(
        kills >= 2,
        "the batch finished before a second kill: too little was tested"
    );

    // Kills rarely land inside the short write itself: plant what one would leave (a temporary
    // file of a writer that is gone; no Linux pid reaches 2^32 − 1).
    std::fs::write(out.join(".face_99.png.4294967295-0.tmp"), b"partial").unwrap();
    let finished = outputs(&out);
    let status = restore(&input, &out).status().unwrap();
    assert!(status.success(), "the resumed batch failed: {status}");
    let all = outputs(&out);
    assert_eq!(all.len(), PHOTOS, "every photo restored after resuming");
    for (path, modified) in &finished {
        let now = all.iter().find(|(p, _)| p == path).unwrap().1;
        assert_eq!(
            *modified,
            now,
            "{} was finished before and must not be rewritten",
            path.display()
        );
    }
    assert!(
        temps(&out).is_empty(),
        "leftovers removed: {:?}",
        temps(&out)
    );
    assert_eq!(
        std::fs::read(input.join("face_00.png")).unwrap(),
        original,
        "inputs untouched"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run a restore of `input` (a folder) into `out`, on a tmpfs mounted there with `options`
/// in a private mount namespace; the folder's contents (hidden files too) are copied to
/// `copy` before the namespace goes away. Returns whether it succeeded and its stderr.
#[cfg(user_namespaces)]
fn restore_onto_tmpfs(options: &str, input: &Path, out: &Path, copy: &Path) -> (bool, String) {
    std::fs::create_dir_all(out).unwrap();
    std::fs::create_dir_all(copy).unwrap();
    let script = r#"mount -t tmpfs -o "$1" tmpfs "$2" || exit 99
"$3" restore "$4" -o "$2" --aligned --backend cpu; rc=$?
cp -a "$2"/. "$5"/; exit $rc"#;
    let result = Command::new("unshare")
        .args(["-Urm", "sh", "-c", script, "sh", options])
        .arg(out)
        .arg(env!("CARGO_BIN_EXE_face-deblur"))
        .arg(input)
        .arg(copy)
        .output()
        .unwrap();
    assert_ne!(result.status.code(), Some(99), "could not mount the tmpfs");
    (
        result.status.success(),
        String::from_utf8_lossy(&result.stderr).into_owned(),
    )
}

/// Three inputs: a small photo, one whose output cannot fit in 256 KiB, another small one.
#[cfg(user_namespaces)]
fn three_inputs(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let face = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/faces/gfpgan_adele.jpg");
    let face = image::open(face).unwrap();
    face.resize_exact(64, 64, image::imageops::FilterType::Triangle)
        .save(input.join("a_small.png"))
        .unwrap();
    // Noise does not compress: a 1024² PNG of it is ≈ 3 MB.
    let mut state = 1u32;
    let noise = image::RgbImage::from_fn(1024, 1024, |_, _| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let b = state.to_le_bytes();
        image::Rgb([b[1], b[2], b[3]])
    });
    noise.save(input.join("b_big.png")).unwrap();
    face.resize_exact(80, 80, image::imageops::FilterType::Triangle)
        .save(input.join("c_small.png"))
        .unwrap();
    input
}

/// Every entry of `dir`, hidden ones too, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(user_namespaces)]
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    listing(dir)
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(user_namespaces),
    ignore = "needs user namespaces (`unshare -Urm`) to mount a full tmpfs"
)]
fn a_full_disk_fails_that_photo_by_name_leaves_no_partial_file_and_goes_on() {
    #[cfg(user_namespaces)]
    {
        let dir = scratch("full");
        let input = three_inputs(&dir);
        let before = snapshot(&input);
        let (ok, stderr) =
            restore_onto_tmpfs("size=256k", &input, &dir.join("out"), &dir.join("copy"));
        assert!(!ok, "a failed photo makes the exit code non-zero\n{stderr}");
        let error = stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("no error line in:\n{stderr}"));
        assert!(
            error.contains("b_big.png") && error.contains("cannot write"),
            "the error names the file: {error}"
        );
        assert!(
            error.contains("No space left on device"),
            "and says why: {error}"
        );
        assert_eq!(error.matches("No space left").count(), 1, "once: {error}");
        assert_eq!(
            listing(&dir.join("copy")),
            ["a_small.png", "c_small.png"],
            "no partial or temporary file; the photo after the failure is written"
        );
        assert_eq!(snapshot(&input), before, "inputs untouched");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
#[cfg_attr(
    not(user_namespaces),
    ignore = "needs user namespaces (`unshare -Urm`) to mount a read-only tmpfs"
)]
fn a_read_only_folder_fails_every_photo_by_name_and_touches_nothing() {
    #[cfg(user_namespaces)]
    {
        let dir = scratch("ro");
        let input = three_inputs(&dir);
        let before = snapshot(&input);
        let (ok, stderr) = restore_onto_tmpfs("ro", &input, &dir.join("out"), &dir.join("copy"));
        assert!(!ok, "{stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        for name in ["a_small.png", "b_big.png", "c_small.png"] {
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains(name) && e.contains("Read-only file system")),
                "{name} reported: {errors:?}"
            );
        }
        assert!(listing(&dir.join("copy")).is_empty());
        assert_eq!(snapshot(&input), before, "inputs untouched");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Peak resident memory (VmHWM) of a finished child, read while it runs.
fn peak_rss_kib(child: &mut std::process::Child) -> (u64, std::process::ExitStatus) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A 10000 × 10000 photo (the 100 MP limit) of one flat colour with a real face (the asset
/// scaled ×6) in it.
fn photo_at_the_pixel_limit() -> image::RgbImage {
    let face = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/faces/gfpgan_adele.jpg");
    let face = image::open(face).unwrap().to_rgb8();
    let face = image::imageops::resize(&face, 1536, 1536, image::imageops::FilterType::Triangle);
    let mut photo = image::RgbImage::from_pixel(10_000, 10_000, image::Rgb([118, 112, 104]));
    image::imageops::replace(&mut photo, &face, 4000, 3000);
    photo
}

/// Runs `restore` on the CPU from `input` to `out`, checks that it restored one face and
/// stayed under 2 GiB, and returns its peak RSS in MiB.
fn restore_within_2_gb(input: &Path, out: &Path) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_face-deblur"))
        .arg("restore")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(["--backend", "cpu"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (peak_kib, status) = peak_rss_kib(&mut child);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("(1 face)"),
        "the face is found and restored: {stderr}"
    );
    assert!(
        peak_kib > 100 * 1024,
        "the measurement works ({peak_kib} KiB)"
    );
    assert!(
        peak_kib < 2 * 1024 * 1024,
        "peak RSS {} MiB must stay under 2 GiB",
        peak_kib / 1024
    );
    peak_kib / 1024
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "reads /proc for the peak memory")]
fn restore_at_the_pixel_limit_stays_under_2_gb() {
    let dir = scratch("memory");
    let input = dir.join("huge.jpg");
    photo_at_the_pixel_limit().save(&input).unwrap();
    let out = dir.join("out.jpg");
    let peak_mib = restore_within_2_gb(&input, &out);
    eprintln!("100 MP JPEG: peak RSS {peak_mib} MiB");
    let restored = image::ImageReader::open(&out)
        .unwrap()
        .into_dimensions()
        .unwrap();
    assert_eq!(restored, (10_000, 10_000));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "reads /proc for the peak memory")]
fn restore_16_bit_rgba_at_the_pixel_limit_stays_under_2_gb() {
    let dir = scratch("memory16");
    // The same photo as 16-bit RGBA (800 MB of pixels, an uncompressed 800 MB TIFF), with
    // values 8 bits cannot hold and a translucent band.
    let input = dir.join("huge.tif");
    {
        let mut photo = image::DynamicImage::ImageRgb8(photo_at_the_pixel_limit()).to_rgba16();
        for (_, y, pixel) in photo.enumerate_pixels_mut() {
            pixel.0[0] = pixel.0[0].saturating_add(77);
            if y < 500 {
                pixel.0[3] = 30_000;
            }
        }
        photo.save(&input).unwrap();
    }
    let out = dir.join("out.tif");
    let peak_mib = restore_within_2_gb(&input, &out);
    eprintln!("100 MP 16-bit RGBA TIFF: peak RSS {peak_mib} MiB");
    let decoder = image::ImageReader::open(&out)
        .unwrap()
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    use image::ImageDecoder;
    assert_eq!(decoder.dimensions(), (10_000, 10_000));
    assert_eq!(
        decoder.color_type(),
        image::ColorType::Rgba16,
        "full depth kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
