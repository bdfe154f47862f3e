//! File-system helpers: the one atomic writer every output goes through, and the clean-up of
//! temporary files left by writers that were killed.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Suffix of the temporary files [`write_atomic`] writes beside their destination.
const TEMP_SUFFIX: &str = ".tmp";

/// Write `bytes` to `path` atomically: a fresh temporary file `.NAME.PID-N.tmp` in the same
/// folder is written, synced and renamed over `path`, then the folder is synced, so readers
/// (and a machine that loses power) see the old file or the new one, never half of one. A
/// writer killed before the rename leaves only its temporary file, which
/// [`remove_stale_temps`] removes once that process is gone.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = folder_of(path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_else(|| "output".into());
    loop {
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".{name}.{}-{unique}{TEMP_SUFFIX}",
            std::process::id()
        ));
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let result = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| {
                drop(file);
                fs::rename(&tmp, path)
            });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
            return result;
        }
        // The rename is durable once the folder's entry is on disk. Not every platform can
        // open a folder for syncing; the file itself is already complete either way.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        return Ok(());
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
