//! The values of a scenario's `limit` section.

use super::{Invalid, as_written, invalid, positive};
use crate::spec::*;

/// The values of a `limit` section (whether it fits the model and data is checked when it is built).
pub(super) fn check_limit(limit: &LimitSpec) -> Result<(), Invalid> {
    let range = |path: &str, (low, high): (f64, f64)| {
        if low.is_finite() && high.is_finite() && low < high {
            Ok(())
        } else {
            Err(invalid(path, format!("needs low < high, got ({low}, {high})")))
        }
    };
    let cells = match *limit {
        LimitSpec::Grid { cells, w, c, .. } => {
            range("limit.w", w)?;
            if let Some(c) = c {
                range("limit.c", c)?;
            }
            cells
        }
        LimitSpec::Radial { cells, max, .. } => {
            positive("limit.max", max)?;
            cells
        }
        LimitSpec::Embedding { nodes, c_nodes, data_points, tolerance } => {
            for (path, value, low, high) in [
                ("limit.nodes", nodes, 8, 1 << 16),
                ("limit.c_nodes", c_nodes, 2, 1024),
                ("limit.data_points", data_points, 1, 1 << 20),
            ] {
                if !(low..=high).contains(&value) {
                    return Err(invalid(path, format!("must be between {low} and {high}, got {value}")));
                }
            }
            if !(tolerance > 0.0 && tolerance <= 0.1) {
                return Err(invalid("limit.tolerance", format!("must be in (0, 0.1], got {tolerance}")));
            }
            return Ok(());
        }
    };
    if !(8..=4096).contains(&cells) {
        return Err(invalid("limit.cells", format!("must be between 8 and 4096, got {cells}")));
    }
    let distances = limit.distances();
    for (k, distance) in distances.iter().enumerate() {
        let joint = matches!(distance, LimitDistanceSpec::SlicedW2 { .. } | LimitDistanceSpec::Energy);
        if joint && !matches!(limit, LimitSpec::Grid { c: Some(_), .. }) {
            return Err(invalid(
                "limit.distances",
                format!(
                    "{} compares the joint law of (c, w): it needs a Grid with c trained and `c: (low, high)`",
                    as_written(distance)
                ),
            ));
        }
        if let LimitDistanceSpec::SlicedW2 { directions } = *distance
            && !(1..=4096).contains(&directions)
        {
            return Err(invalid("limit.distances", format!("SlicedW2 needs 1 to 4096 directions, got {directions}")));
        }
        if distances[..k].iter().any(|d| std::mem::discriminant(d) == std::mem::discriminant(distance)) {
            return Err(invalid("limit.distances", format!("lists {} twice", as_written(distance))));
        }
    }
    Ok(())
}
