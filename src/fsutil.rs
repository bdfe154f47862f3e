//! File-system helpers: the one atomic writer every output goes through, and the clean-up of
//! temporary files left by writers that were killed.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Suffix of the temporary files [`write_atomic_with`] writes beside their destination.
const TEMP_SUFFIX: &str = ".tmp";

/// Buffer between an encoder and the temporary file of [`write_atomic_with`].
const WRITE_BUFFER: usize = 1 << 20;

/// Write `bytes` to `path` atomically; see [`write_atomic_with`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// Write `path` atomically from `write`, which streams the content into a buffered temporary
/// file (seekable, for encoders that patch offsets, like TIFF's). The temporary file
/// `.NAME.PID-N.tmp` is fresh and in the same folder; once `write` succeeds it is flushed,
/// synced and renamed over `path`, then the folder is synced, so readers (and a machine that
/// loses power) see the old file or the new one, never half of one. When `write` or any step
/// fails (or panics) the temporary file is removed and `path` is untouched. A writer killed
/// before the rename leaves only its temporary file, which [`remove_stale_temps`] removes once
/// that process is gone.
///
/// Errors are `write`'s own, or the file system's converted with `E::from`.
pub fn write_atomic_with<E: From<std::io::Error>>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
) -> Result<(), E> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = folder_of(path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_else(|| "output".into());
    let (file, temp) = loop {
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".{name}.{}-{unique}{TEMP_SUFFIX}",
            std::process::id()
        ));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => break (file, TempFile(Some(tmp))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
    write(&mut out)?;
    let file = out
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)?;
    file.sync_all()?;
    drop(file);
    fs::rename(temp.path(), path)?;
    temp.keep();
    // The rename is durable once the folder's entry is on disk. Not every platform can
    // open a folder for syncing; the file itself is already complete either way.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A temporary file that is removed when dropped, unless [`TempFile::keep`] was called (after
/// it was renamed into place).
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn path(&self) -> &Path {
        self.0.as_deref().expect("present until kept")
    }

    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The writer's process id encoded in a temporary file name of [`write_atomic`], if `name` is
/// one (`.NAME.PID-N.tmp`).
fn temp_owner(name: &str) -> Option<u32> {
    let stem = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let (_, tail) = stem.rsplit_once('.')?;
    let (pid, counter) = tail.split_once('-')?;
    counter.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` is still running. Only Linux can tell (through `/proc`); elsewhere
/// every writer counts as alive, so nothing is removed.
fn process_alive(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    !proc_root.join("self").exists() || proc_root.join(pid.to_string()).exists()
}

/// Remove the temporary files that [`write_atomic`] writers left in `dir` when they were killed
/// (their process is gone); a live writer's file is kept. Returns the files removed.
pub fn remove_stale_temps(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised_and_others_are_not() {
        assert_eq!(temp_owner(".photo.jpg.1234-0.tmp"), Some(1234));
        assert_eq!(temp_owner(".a.b.c.png.7-42.tmp"), Some(7));
        assert_eq!(temp_owner("photo.jpg.1234-0.tmp"), None, "not hidden");
        assert_eq!(temp_owner(".photo.jpg.tmp"), None, "no owner");
        assert_eq!(temp_owner(".photo.jpg.12x-0.tmp"), None);
        assert_eq!(temp_owner(".photo.jpg.12-x.tmp"), None);
        assert_eq!(temp_owner(".notes.tmp"), None);
    }

    #[test]
    fn a_writer_failing_half_way_leaves_the_old_file_and_no_temp() {
        let dir =
            std::env::temp_dir().join(format!("face-deblur-fsutil-stream-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.tif");
        write_atomic(&target, b"old photo").unwrap();
        // More than the write buffer reaches the temporary file before the failure.
        let chunk = vec![7u8; WRITE_BUFFER / 2 + 1];
        let result = write_atomic_with(&target, |out| {
            for _ in 0..3 {
                out.write_all(&chunk)?;
            }
            Err(std::io::Error::other("encoder failed half-way"))
        });
        assert_eq!(result.unwrap_err().to_string(), "encoder failed half-way");
        assert_eq!(fs::read(&target).unwrap(), b"old photo");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.tif"], "no temporary file left behind");

        // A streaming writer that seeks back (as the TIFF encoder does) gets its bytes.
        write_atomic_with(&target, |out| -> std::io::Result<()> {
            use std::io::{Seek, SeekFrom};
            out.write_all(b"new photo")?;
            out.seek(SeekFrom::Start(0))?;
            out.write_all(b"N")
        })
        .unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"New photo");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn writes_atomically_and_removes_only_dead_writers_temps() {
        let dir = std::env::temp_dir().join(format!("face-deblur-fsutil-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.png");
        write_atomic(&target, b"first").unwrap();
        write_atomic(&target, b"second").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        let listing = || {
            let mut names: Vec<String> = fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(listing(), ["out.png"], "no temporary file left behind");

        // A dead writer's leftover (pid beyond Linux's pid_max), a live one's (ours) and an
        // unrelated hidden file.
        let dead = dir.join(".out.png.4294967295-3.tmp");
        let live = dir.join(format!(".out.png.{}-9.tmp", std::process::id()));
        let other = dir.join(".keep.tmp");
        for p in [&dead, &live, &other] {
            fs::write(p, b"partial").unwrap();
        }
        let removed = remove_stale_temps(&dir).unwrap();
        if Path::new("/proc/self").exists() {
            assert_eq!(removed, std::slice::from_ref(&dead));
            assert!(!dead.exists());
        } else {
            assert!(removed.is_empty());
        }
        assert!(live.exists() && other.exists() && target.exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
