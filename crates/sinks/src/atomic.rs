//! Temporary file + rename.

use meanfield_core::SinkError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A file that appears under its final name only when [`AtomicFile::commit`] succeeds. Dropped without a
/// commit, it leaves nothing behind.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: tempfile::NamedTempFile,
}

impl AtomicFile {
    /// A temporary file next to `target` (same directory, so the rename cannot cross file systems).
    pub fn create(target: &Path) -> Result<AtomicFile, SinkError> {
        let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut builder = tempfile::Builder::new();
        builder.prefix(".meanfield-").suffix(".partial");
        // A temporary file is private (0600); a result is an ordinary file (0644 less the umask).
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let temp = builder.tempfile_in(dir).map_err(|e| SinkError::io(target, e))?;
        Ok(AtomicFile { target: target.to_owned(), temp })
    }

    pub fn writer(&mut self) -> &mut impl Write {
        self.temp.as_file_mut()
    }

    /// Flushes to disk and renames into place.
    pub fn commit(mut self) -> Result<PathBuf, SinkError> {
        let target = self.target;
        self.temp
            .as_file_mut()
            .flush()
            .and_then(|()| self.temp.as_file().sync_all())
            .map_err(|e| SinkError::io(&target, e))?;
        self.temp.persist(&target).map_err(|e| SinkError::io(&target, e.error))?;
        Ok(target)
    }

    /// Writes `bytes` to `target` atomically.
    pub fn write_all(target: &Path, bytes: &[u8]) -> Result<PathBuf, SinkError> {
        let mut file = AtomicFile::create(target)?;
        file.writer().write_all(bytes).map_err(|e| SinkError::io(target, e))?;
        file.commit()
    }
}

/// Lets a streaming writer (e.g. `csv::Writer`) own the file until it is committed.
impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_before_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let mut file = AtomicFile::create(&target).unwrap();
        file.writer().write_all(b"partial").unwrap();
        assert!(!target.exists());
        drop(file);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "an uncommitted file leaves nothing");
        AtomicFile::write_all(&target, b"whole").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Readable by group and others as far as the umask allows, like a file std::fs::write makes.
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o044;
            std::fs::write(dir.path().join("plain"), b"").unwrap();
            assert_eq!(mode(&target), mode(&dir.path().join("plain")));
        }
    }
}
