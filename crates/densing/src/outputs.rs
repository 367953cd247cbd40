//! Every file a command writes goes through [`Outputs`]: each is first written
//! to a hidden temporary beside its destination, and only when all of them were
//! written are they moved into place, so a failed or interrupted (Ctrl-C)
//! command leaves neither half a file nor half a set of files.
//!
//! Files are treated as users have them: a destination that is a symbolic link
//! is written through (the link stays, its target gets the content); an
//! existing file keeps its permissions, and a read-only one is refused rather
//! than replaced; a missing parent folder is an error, not created.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Temporaries of every unfinished [`Outputs`] in this process, for the Ctrl-C
/// handler. Holding the lock also keeps the handler out while files are moved.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
const INTERRUPTED: i32 = 130;

/// On Ctrl-C: remove every pending temporary (after any move in progress) and
/// exit with status 130. Call once at start-up.
pub fn remove_on_interrupt() {
    // Failing to install (a handler already set) only loses the cleanup.
    let _ = ctrlc::set_handler(|| {
        let pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        for p in pending.iter() {
            remove(p);
        }
        eprintln!("\ninterrupted: nothing was written");
        std::process::exit(INTERRUPTED);
    });
}

fn remove(p: &Path) {
    if p.is_dir() {
        let _ = std::fs::remove_dir_all(p);
    } else {
        let _ = std::fs::remove_file(p);
    }
}

/// Where bytes meant for `path` really go: through a symbolic link (of any
/// depth) to its target, which must sit in an existing folder and must not be
/// a folder or a read-only file.
pub fn destination(path: &Path) -> Result<PathBuf> {
    let mut dest = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&dest) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&dest)
                    .with_context(|| format!("cannot read the link {}", dest.display()))?;
                dest = match dest.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Ok(m) if m.is_dir() => bail!("{} is a folder, not a file", dest.display()),
            Ok(m) if m.permissions().readonly() => bail!(
                "{} is read-only; make it writable (chmod u+w) to let densing replace it",
                dest.display()
            ),
            _ => {
                let dir = parent(&dest);
                if !dir.is_dir() {
                    bail!(
                        "cannot write {}: folder {} does not exist (create it first)",
                        path.display(),
                        dir.display()
                    );
                }
                return Ok(dest);
            }
        }
    }
    bail!("{}: too many levels of symbolic links", path.display())
}

fn parent(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// One command's output files, moved into place together by [`Outputs::commit`];
/// dropped uncommitted, it removes what it wrote.
#[derive(Default)]
pub struct Outputs {
    /// (temporary, destination) per file.
    files: Vec<(PathBuf, PathBuf)>,
    /// (staging folder, destination folder) for writers that fill a folder.
    dirs: Vec<(PathBuf, PathBuf)>,
    /// Folders this command created, removed again if it fails.
    created: Vec<PathBuf>,
}

impl Outputs {
    pub fn new() -> Self {
        Self::default()
    }

    fn temp_name(dest: &Path, n: usize) -> PathBuf {
        let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("out");
        parent(dest).join(format!(".{name}.densing-{}-{n}.tmp", std::process::id()))
    }

    fn track(&self, p: &Path) {
        PENDING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(p.to_path_buf());
    }

    /// Write `bytes` for `path` (see [`destination`]); nothing is visible at
    /// `path` until [`Outputs::commit`].
    pub fn write(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let dest = destination(path)?;
        let tmp = Self::temp_name(&dest, self.files.len());
        self.track(&tmp);
        std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        self.files.push((tmp, dest));
        Ok(())
    }

    /// An output folder: created if absent (its parent must exist) and removed
    /// again if the command fails.
    pub fn folder(&mut self, dir: &Path) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        if !parent(dir).is_dir() {
            bail!(
                "cannot create {}: folder {} does not exist (create it first)",
                dir.display(),
                parent(dir).display()
            );
        }
        self.track(dir);
        std::fs::create_dir(dir)
            .with_context(|| format!("cannot create output folder {}", dir.display()))?;
        self.created.push(dir.to_path_buf());
        Ok(())
    }

    /// A hidden staging folder inside `dir` for a writer that fills a whole
    /// folder; on commit each file in it moves to `dir`.
    pub fn staging(&mut self, dir: &Path) -> Result<PathBuf> {
        let stage = dir.join(format!(
            ".densing-staging-{}-{}",
            std::process::id(),
            self.dirs.len()
        ));
        self.track(&stage);
        std::fs::create_dir(&stage)
            .with_context(|| format!("cannot create {}", stage.display()))?;
        self.dirs.push((stage.clone(), dir.to_path_buf()));
        Ok(stage)
    }

    /// Move every file into place: first check every destination, then rename.
    pub fn commit(mut self) -> Result<()> {
        let mut moves = std::mem::take(&mut self.files);
        for (stage, dir) in &self.dirs {
            let entries = std::fs::read_dir(stage)
                .with_context(|| format!("cannot read {}", stage.display()))?;
            for e in entries {
                let e = e?;
                moves.push((e.path(), destination(&dir.join(e.file_name()))?));
            }
        }
        for (_, dest) in &moves {
            destination(dest)?;
        }
        // Hold the lock so Ctrl-C waits until every file is in place.
        let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        for (tmp, dest) in &moves {
            if let Ok(m) = std::fs::metadata(dest) {
                // Keep the file's mode (and other permission bits).
                std::fs::set_permissions(tmp, m.permissions())
                    .with_context(|| format!("cannot set permissions of {}", tmp.display()))?;
            }
            std::fs::rename(tmp, dest)
                .with_context(|| format!("cannot move {} into place", dest.display()))?;
        }
        for (stage, _) in &self.dirs {
            remove(stage);
        }
        let mine: Vec<PathBuf> = moves
            .iter()
            .map(|(t, _)| t.clone())
            .chain(self.dirs.iter().map(|(s, _)| s.clone()))
            .chain(self.created.iter().cloned())
            .collect();
        pending.retain(|p| !mine.contains(p));
        self.dirs.clear();
        self.created.clear();
        Ok(())
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        let leftovers = (self.files.iter().map(|(t, _)| t))
            .chain(self.dirs.iter().map(|(s, _)| s))
            .chain(self.created.iter().rev());
        for p in leftovers {
            remove(p);
            pending.retain(|q| q != p);
        }
    }
}
