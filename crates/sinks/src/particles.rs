//! NPY files of the particles: for every point and particle time, one file per parameter block,
//! `particles/<point>_t=<time>_<block>.npy` (`<point>` is the file-safe form of the point's label,
//! `width-64_seed-2`, see [`meanfield_core::file_safe`], or `run` without a sweep), a float64 array of
//! shape (replicas, rows, cols), replica r being replica r of the point (`rows` = particles, `cols` =
//! coordinates per particle, e.g. d for `w`). A replica that diverged before a particle time has NaN there.
//! Load with `numpy.load`.

use crate::atomic::AtomicFile;
use meanfield_core::{Block, PointResult, SinkError};
use ndarray::Array3;
use ndarray_npy::WriteNpyExt;
use std::path::{Path, PathBuf};

/// Writes the kept particles of `point`, whose model's parameter vector is split into `blocks`.
pub fn write_particles(dir: &Path, point: &PointResult, blocks: &[Block]) -> Result<Vec<PathBuf>, SinkError> {
    let kept: Vec<_> = point.replicas.iter().filter(|r| !r.particles.is_empty()).collect();
    let Some(longest) = kept.iter().max_by_key(|r| r.particles.len()) else { return Ok(Vec::new()) };
    let replicas = kept.iter().map(|r| r.replica + 1).max().unwrap_or(0);
    std::fs::create_dir_all(dir).map_err(|e| SinkError::io(dir, e))?;
    let name = point_stem(&point.info.label);
    let mut written = Vec::new();
    for (k, at) in longest.particles.iter().enumerate() {
        for block in blocks {
            let mut array = Array3::from_elem((replicas, block.rows, block.cols), f64::NAN);
            for replica in &kept {
                if let Some(s) = replica.particles.get(k).filter(|s| s.step == at.step) {
                    let values = &s.params[block.range()];
                    for (slot, v) in array.slice_mut(ndarray::s![replica.replica, .., ..]).iter_mut().zip(values) {
                        *slot = *v;
                    }
                }
            }
            let path = dir.join(format!("{name}_t={}_{}.npy", at.time, file_stem(&block.name)));
            let mut bytes = Vec::new();
            array.write_npy(&mut bytes).map_err(|e| SinkError::io(&path, std::io::Error::other(e)))?;
            written.push(AtomicFile::write_all(&path, &bytes)?);
        }
    }
    Ok(written)
}

/// The file stem of a point: the file-safe form of its label (injective: two points never share it), or
/// `run` for the one point of a run without sweep (a label is never empty when there are several).
pub fn point_stem(label: &str) -> String {
    if label.is_empty() { "run".to_owned() } else { meanfield_core::file_safe(label) }
}

/// A name as a portable file stem: `scaling_W1(c)` → `scaling_W1_c`, `|w|` → `w`. Lossy: names of a
/// point are made file-safe first ([`point_stem`]), and this keeps what that produces.
pub fn file_stem(name: &str) -> String {
    let mut stem = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || "=.-~".contains(c) { c } else { '_' };
        if !(c == '_' && stem.ends_with('_')) {
            stem.push(c);
        }
    }
    stem.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_portable() {
        assert_eq!(file_stem("marginal_|w|_kappa=0.1"), "marginal_w_kappa=0.1");
        assert_eq!(file_stem("scaling_W1(c)"), "scaling_W1_c");
        assert_eq!(file_stem("width=64,seed=2"), "width=64_seed=2");
        for label in ["width=64,seed=2", "data.noise=-0.1,data.test_fraction=0.5"] {
            let stem = point_stem(label);
            assert_eq!(file_stem(&format!("marginal_|w|_{stem}")), format!("marginal_w_{stem}"), "kept whole");
        }
        assert_eq!(point_stem(""), "run");
    }
}
