//! Data files opened safely: what a path is before it is read (a directory, a FIFO or a device such as
//! /dev/zero is refused as what it is, an empty file as empty), the shape an NPY header claims checked
//! against the file's length, and a bound on what a file can hold that needs only its header and length.

use crate::DatasetError;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Bytes of the longest CSV header line read to count the columns (a header of many thousand columns
/// still fits; a file without a newline in this many bytes is not a table).
const MAX_HEADER_LINE: u64 = 1 << 20;

/// Bytes of the longest NPY header accepted (NumPy writes a few hundred).
const MAX_NPY_HEADER: usize = 1 << 20;

fn shape_error(path: &Path, message: impl Into<String>) -> DatasetError {
    DatasetError::Shape { path: path.to_owned(), message: message.into() }
}

/// The length of `path` when it is a non-empty regular file (symbolic links followed); otherwise the
/// error says what it is.
pub fn regular_file_len(path: &Path) -> Result<u64, DatasetError> {
    let metadata =
        std::fs::metadata(path).map_err(|e| DatasetError::Read { path: path.to_owned(), message: e.to_string() })?;
    if let Some(kind) = not_a_regular_file(&metadata) {
        return Err(shape_error(path, format!("is {kind}, not a data file")));
    }
    if metadata.len() == 0 {
        return Err(shape_error(path, "is empty"));
    }
    Ok(metadata.len())
}

pub use meanfield_core::files::not_a_regular_file;

/// The header of an NPY file: the shape it claims and where the data starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    pub shape: Vec<usize>,
    /// Bytes before the data (magic, version, header length and the header itself).
    pub data_offset: u64,
}

/// Reads and checks the header of the NPY file `path`: the data it claims (8-byte values, the product of
/// its shape, computed with checked arithmetic) must be what the file holds after the header.
pub fn npy_header(path: &Path) -> Result<NpyHeader, DatasetError> {
    let len = regular_file_len(path)?;
    let not_npy = |what: &str| shape_error(path, format!("is not an NPY file: {what}"));
    let read_error = |e: std::io::Error| DatasetError::Read { path: path.to_owned(), message: e.to_string() };
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let mut start = [0u8; 8];
    file.read_exact(&mut start).map_err(|_| not_npy("it is shorter than the NPY magic"))?;
    if &start[..6] != b"\x93NUMPY" {
        return Err(not_npy("it does not start with the NPY magic"));
    }
    let (header_len, prefix) = match start[6] {
        1 => {
            let mut bytes = [0u8; 2];
            file.read_exact(&mut bytes).map_err(|_| not_npy("its header is cut short"))?;
            (usize::from(u16::from_le_bytes(bytes)), 10)
        }
        2 | 3 => {
            let mut bytes = [0u8; 4];
            file.read_exact(&mut bytes).map_err(|_| not_npy("its header is cut short"))?;
            (usize::try_from(u32::from_le_bytes(bytes)).unwrap_or(usize::MAX), 12)
        }
        version => return Err(not_npy(&format!("unknown format version {version}"))),
    };
    if header_len > MAX_NPY_HEADER || (prefix + header_len) as u64 > len {
        return Err(not_npy(&format!("its header claims {header_len} bytes, more than the file holds")));
    }
    let mut header = Vec::new();
    header.try_reserve_exact(header_len).map_err(|e| read_error(std::io::Error::other(e)))?;
    file.take(header_len as u64).read_to_end(&mut header).map_err(read_error)?;
    let header = String::from_utf8_lossy(&header);
    let shape = parse_shape(&header).ok_or_else(|| not_npy("its header has no readable 'shape'"))?;
    let data_offset = (prefix + header_len) as u64;
    let values = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
    let data_bytes = values.and_then(|v| v.checked_mul(8));
    let held = len - data_offset;
    if data_bytes.is_none_or(|need| need > held) {
        let claimed = match values {
            Some(v) => format!("{v} values"),
            None => "more than 2^64 values".into(),
        };
        return Err(shape_error(
            path,
            format!(
                "its header claims shape {shape:?} ({claimed} of 8 bytes), but the file holds {held} bytes of data"
            ),
        ));
    }
    Ok(NpyHeader { shape, data_offset })
}

/// The shape tuple of an NPY header dictionary (`'shape': (3, 4), ` → [3, 4]).
fn parse_shape(header: &str) -> Option<Vec<usize>> {
    let after = &header[header.find("'shape'")? + "'shape'".len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start().strip_prefix('(')?;
    let inside = &after[..after.find(')')?];
    inside.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect()
}

/// What a data file can hold, known from its header and length alone: its columns, and an upper bound of
/// its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileShape {
    pub columns: usize,
    /// At most this many values (exact for NPY; for CSV every value takes at least a digit and a separator).
    pub values: u64,
}

/// The shape of a data file as [`crate::Dataset::load`] reads it (`.npy`: its header; anything else: CSV,
/// the columns of the header line and at most half the file's bytes as values), without reading its data.
pub fn data_file_shape(path: &Path) -> Result<FileShape, DatasetError> {
    if path.extension().is_some_and(|e| e == "npy") {
        let header = npy_header(path)?;
        let values = header.shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64)).unwrap_or(u64::MAX);
        let columns = match header.shape[..] {
            [_, cols] => cols,
            _ => return Err(shape_error(path, format!("has shape {:?}; a data set is a 2-D array", header.shape))),
        };
        return Ok(FileShape { columns, values });
    }
    let len = regular_file_len(path)?;
    let file =
        std::fs::File::open(path).map_err(|e| DatasetError::Read { path: path.to_owned(), message: e.to_string() })?;
    let mut line = Vec::new();
    BufReader::new(file.take(MAX_HEADER_LINE))
        .read_until(b'\n', &mut line)
        .map_err(|e| DatasetError::Read { path: path.to_owned(), message: e.to_string() })?;
    if line.last() != Some(&b'\n') && (line.len() as u64) < len {
        return Err(shape_error(path, format!("its header line is longer than {MAX_HEADER_LINE} bytes")));
    }
    let columns = line.iter().filter(|&&b| b == b',').count() + 1;
    Ok(FileShape { columns, values: (len - line.len() as u64) / 2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy_with_header(dict: &str, data: &[u8]) -> tempfile::NamedTempFile {
        let mut header = dict.to_owned();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        let file = tempfile::Builder::new().suffix(".npy").tempfile().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        file
    }

    #[test]
    fn npy_headers_are_checked_against_the_file_length() {
        let dict = |shape: &str| format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
        let data = [0u8; 48];
        // (shape, Ok(shape) or the end of the error)
        let cases: [(&str, Result<&[usize], &str>); 5] = [
            ("(2, 3)", Ok(&[2, 3])),
            ("(6,)", Ok(&[6])),
            ("(2, 4)", Err("claims shape [2, 4] (8 values of 8 bytes), but the file holds 48 bytes of data")),
            ("(1000000000, 1000000000)", Err("(1000000000000000000 values of 8 bytes)")),
            ("(4294967296, 4294967296, 4294967296)", Err("(more than 2^64 values of 8 bytes)")),
        ];
        for (shape, expected) in cases {
            let file = npy_with_header(&dict(shape), &data);
            match (npy_header(file.path()), expected) {
                (Ok(header), Ok(expected)) => assert_eq!(header.shape, expected, "{shape}"),
                (Err(e), Err(expected)) => assert!(e.to_string().contains(expected), "{shape}: {e}"),
                (got, expected) => panic!("{shape}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn files_that_are_not_regular_are_refused_as_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, "").unwrap();
        let mut cases = vec![(dir.path().to_owned(), "is a directory"), (empty, "is empty")];
        if Path::new("/dev/zero").exists() {
            cases.push(("/dev/zero".into(), "is a character device, not a data file"));
        }
        for (path, expected) in cases {
            let err = regular_file_len(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{}: {err}", path.display());
            let err = data_file_shape(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{}: {err}", path.display());
        }
    }

    #[test]
    fn csv_shapes_bound_the_values_by_the_length() {
        let file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        std::fs::write(file.path(), "a,b,y\n1,2,3\n4,5,6\n").unwrap();
        let shape = data_file_shape(file.path()).unwrap();
        assert_eq!(shape.columns, 3);
        assert!(shape.values >= 6, "{shape:?}");
    }
}
