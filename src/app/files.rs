//! Saving the result, replacing the original only after confirmation, and exporting face
//! crops.

use std::path::{Path, PathBuf};

use super::DeblurApp;
use super::compose::cut;
use super::error::AppError;
use super::worker::Job;

impl DeblurApp {
    pub(crate) fn save_as(&mut self, path: PathBuf, confirmed: bool) {
        let Some(doc) = &self.state.doc else {
            return self.fail(AppError::Nothing("open a photo first"));
        };
        if same_file(&path, &doc.photo.path) && !confirmed {
            self.state.confirm_overwrite = Some(path);
            return;
        }
        let job = Job::Save {
            photo: doc.photo.clone(),
            image: doc.after.clone(),
            path: path.clone(),
            replace_original: confirmed,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            self.settings.last_folder = Some(dir.to_path_buf());
        }
        self.send(job);
    }

    pub(crate) fn export(&mut self, dir: &Path) {
        let Some(doc) = &self.state.doc else {
            return self.fail(AppError::Nothing("open a photo first"));
        };
        let stem = doc
            .photo
            .path
            .file_stem()
            .map_or("photo".into(), |s| s.to_string_lossy().into_owned());
        let mut files = Vec::new();
        for (i, face) in self.state.faces.iter().enumerate() {
            let Some(r) = &face.result else { continue };
            let region = r.crop.face_in_photo;
            for (suffix, img) in [("", &doc.after), ("-original", &doc.photo.rgb_u8)] {
                if let Some(pixels) = cut(img, &region) {
                    let path = unique_path(dir, &format!("{stem}-face{}{suffix}", i + 1), "png");
                    files.push((path, pixels));
                }
            }
        }
        if files.is_empty() {
            return self.fail(AppError::Nothing("no restored face to export"));
        }
        self.send(Job::Export { files });
    }
}

/// Where Save As writes when no file dialog works: `<stem>-restored.<ext>` next to the
/// original, numbered if that name is taken.
pub fn fallback_save_path(original: &Path) -> PathBuf {
    let name = default_save_name(original);
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name.as_str(), "png"));
    let dir = original.parent().unwrap_or(Path::new("."));
    unique_path(dir, stem, ext)
}

/// `<stem>-restored.<ext>` for the save dialog (PNG for formats we do not write well).
pub fn default_save_name(original: &Path) -> String {
    let stem = original
        .file_stem()
        .map_or("photo".into(), |s| s.to_string_lossy().into_owned());
    let ext = original
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|e| ["png", "jpg", "jpeg", "webp"].contains(&e.as_str()))
        .unwrap_or_else(|| "png".into());
    format!("{stem}-restored.{ext}")
}

/// Whether `a` and `b` name the same file (canonical paths when they exist).
pub fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

/// `dir/name.ext`, or `dir/name (2).ext`… if that exists.
pub fn unique_path(dir: &Path, name: &str, ext: &str) -> PathBuf {
    let mut path = dir.join(format!("{name}.{ext}"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{name} ({n}).{ext}"));
        n += 1;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_names_and_paths() {
        assert_eq!(
            default_save_name(Path::new("/a/b/cat.JPG")),
            "cat-restored.jpg"
        );
        assert_eq!(default_save_name(Path::new("x.tiff")), "x-restored.png");
        let dir = std::env::temp_dir().join(format!("fd-app-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = unique_path(&dir, "face1", "png");
        assert_eq!(first, dir.join("face1.png"));
        std::fs::write(&first, b"x").unwrap();
        assert_eq!(unique_path(&dir, "face1", "png"), dir.join("face1 (2).png"));
        assert!(same_file(&first, &dir.join(".").join("face1.png")));
        assert!(!same_file(&first, &dir.join("face2.png")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
