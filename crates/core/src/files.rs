//! Files opened for reading only when they are regular files: a FIFO would block, a device such as
//! /dev/zero never end, and a directory fail with a message about something else.

use std::path::Path;

/// What a path that exists but is not a regular file is, in the user's words (`a FIFO (named pipe)`);
/// `None` for a regular file.
pub fn not_a_regular_file(metadata: &std::fs::Metadata) -> Option<&'static str> {
    let kind = metadata.file_type();
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if kind.is_char_device() {
            return Some("a character device");
        }
        if kind.is_block_device() {
            return Some("a block device");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// `path` opened for reading when it is a regular file (symbolic links followed); otherwise an error
/// saying what it is, `what` naming what was expected (`a table`).
pub fn open_regular(path: &Path, what: &str) -> std::io::Result<std::fs::File> {
    if let Some(kind) = not_a_regular_file(&std::fs::metadata(path)?) {
        return Err(std::io::Error::other(format!("it is {kind}, not {what}")));
    }
    std::fs::File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_opened() {
        let dir = std::env::temp_dir();
        let error = open_regular(&dir, "a table").unwrap_err();
        assert_eq!(error.to_string(), "it is a directory, not a table");
        #[cfg(unix)]
        {
            let error = open_regular(Path::new("/dev/zero"), "a table").unwrap_err();
            assert_eq!(error.to_string(), "it is a character device, not a table");
        }
        let file = dir.join(format!("meanfield-files-test-{}", std::process::id()));
        std::fs::write(&file, "x").unwrap();
        assert!(open_regular(&file, "a table").is_ok());
        std::fs::remove_file(&file).unwrap();
    }
}
