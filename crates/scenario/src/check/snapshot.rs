//! The check of `snapshot`: how many digits a snapshot test keeps, and how far a number may move.

use super::{Invalid, invalid};
use crate::spec::{SnapshotSpec, SnapshotTolerance};

/// f64 has 17 significant decimal digits at most: more would be digits of nothing.
const MOST_DIGITS: usize = 17;

pub(super) fn check_snapshot(snapshot: &SnapshotSpec) -> Result<(), Invalid> {
    if !(1..=MOST_DIGITS).contains(&snapshot.digits) {
        return Err(invalid(
            "snapshot.digits",
            format!("must be 1 ..= {MOST_DIGITS} significant digits, got {}", snapshot.digits),
        ));
    }
    if let SnapshotTolerance::StdErr(k) = snapshot.tolerance
        && !(k.is_finite() && k > 0.0)
    {
        return Err(invalid(
            "snapshot.tolerance",
            format!("StdErr(k) needs a positive finite k (standard errors a number may move), got {k}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_tolerance_are_checked() {
        let ok = SnapshotSpec::default();
        assert!(check_snapshot(&ok).is_ok());
        for digits in [0, 18] {
            let e = check_snapshot(&SnapshotSpec { digits, ..ok }).unwrap_err();
            assert_eq!(e.path, "snapshot.digits");
        }
        for k in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = check_snapshot(&SnapshotSpec { tolerance: SnapshotTolerance::StdErr(k), ..ok }).unwrap_err();
            assert_eq!(e.path, "snapshot.tolerance", "{k}");
        }
        assert!(check_snapshot(&SnapshotSpec { digits: 17, tolerance: SnapshotTolerance::StdErr(4.0) }).is_ok());
    }
}
