//! The observable that compares the particles with a solved limit.

use crate::LimitSolution;
use crate::distance::{
    Order, energy_distance, plane_directions, self_distance, sliced_wasserstein, wasserstein_to_grid,
};
use meanfield_core::{Observable, ObservationContext};
use std::sync::Arc;

/// A distance between the particles and the limit at the same time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distance {
    /// W1 of every marginal the grid describes, exact (columns `W1(<stat>)`).
    W1,
    /// W2 of every marginal, exact (columns `W2(<stat>)`).
    W2,
    /// Sliced W2 of the joint law on a two-dimensional grid, over `directions` evenly spread directions of
    /// the plane (column `SW2(<stat>,<stat>)`): unlike the marginals, it sees how the two coordinates of a
    /// particle move together.
    SlicedW2 { directions: usize },
    /// The energy distance of the joint law on a two-dimensional grid (column `energy(<stat>,<stat>)`).
    Energy,
}

/// The joint law of the limit at one time, as its grid cells at their centres with their masses: the
/// measure the joint distances compare the particles with. Putting each cell's mass at its centre moves it
/// by at most half a cell, which bounds what it adds to a Wasserstein distance, and is below the solver's
/// own error on the same grid.
#[derive(Debug, Clone)]
struct Cells {
    /// (statistic 0, statistic 1) of every cell centre, row-major.
    centres: Vec<f64>,
    masses: Vec<f64>,
    /// E|Y − Y'| under the masses, for the energy distance.
    self_distance: f64,
}

/// The distance of the particles to the solved mean-field limit (DESIGN.md §1): at each record, the
/// chosen [`Distance`]s between the particles' empirical measure and the limit's law at the same time,
/// then the limit's risk in `risk_limit` (so |risk − risk_limit| can be formed per replica). The limit was
/// solved at PDE time k·η for every record step k of the point, so the lookup is exact.
#[derive(Debug, Clone)]
pub struct LimitDistance {
    limit: Arc<LimitSolution>,
    /// η: PDE time per step.
    step_size: f64,
    distances: Vec<Distance>,
    /// Per snapshot, the joint law's cells (only with a joint distance).
    cells: Vec<Cells>,
    /// The directions of a sliced distance (· × 2), or none.
    directions: Vec<f64>,
}

/// The column of [`LimitDistance`] with the limit's risk.
pub const LIMIT_RISK_COLUMN: &str = "risk_limit";

impl LimitDistance {
    /// The distances `distances` to `limit`, whose PDE time advances by `step_size` per step. A joint
    /// distance needs a two-dimensional grid (`Err` with the reason otherwise).
    pub fn new(limit: Arc<LimitSolution>, step_size: f64, distances: Vec<Distance>) -> Result<LimitDistance, String> {
        if distances.contains(&Distance::SlicedW2 { directions: 0 }) {
            return Err("SlicedW2 needs at least one direction".into());
        }
        let joint = distances.iter().any(|d| matches!(d, Distance::SlicedW2 { .. } | Distance::Energy));
        let cells = if joint {
            if limit.marginals.len() != 2 {
                return Err("SlicedW2 and Energy compare the joint law of two coordinates: they need a grid over \
                            (c, w), with c trained and its range given"
                    .into());
            }
            let grid = &limit.solution.grid;
            let with_energy = distances.contains(&Distance::Energy);
            let axes = [limit.marginals[0].axis, limit.marginals[1].axis];
            limit
                .solution
                .snapshots
                .iter()
                .map(|snapshot| {
                    let centres: Vec<f64> = (0..grid.len())
                        .flat_map(|cell| axes.map(|k| grid.axes[k].centre(grid.coordinate(cell, k))))
                        .collect();
                    let masses: Vec<f64> =
                        snapshot.density.iter().enumerate().map(|(cell, r)| r * grid.cell_volume(cell)).collect();
                    let self_distance = if with_energy { self_distance(&centres, &masses, 2) } else { 0.0 };
                    Cells { centres, masses, self_distance }
                })
                .collect()
        } else {
            Vec::new()
        };
        let directions = match distances.iter().find_map(|d| match d {
            Distance::SlicedW2 { directions } => Some(*directions),
            _ => None,
        }) {
            Some(count) => plane_directions(count),
            None => Vec::new(),
        };
        Ok(LimitDistance { limit, step_size, distances, cells, directions })
    }

    /// The label of the joint statistic, `c[0],w[0]`.
    fn joint_label(&self) -> String {
        let labels: Vec<String> = self.limit.marginals.iter().map(|m| m.statistic.label()).collect();
        labels.join(",")
    }

    /// The number of columns of `distance`.
    fn width(&self, distance: &Distance) -> usize {
        match distance {
            Distance::W1 | Distance::W2 => self.limit.marginals.len(),
            Distance::SlicedW2 { .. } | Distance::Energy => 1,
        }
    }
}

impl Observable for LimitDistance {
    fn columns(&self) -> Vec<String> {
        let mut columns = Vec::new();
        for distance in &self.distances {
            let marginals = |name: &'static str| {
                self.limit.marginals.iter().map(move |m| format!("{name}({})", m.statistic.label()))
            };
            match distance {
                Distance::W1 => columns.extend(marginals("W1")),
                Distance::W2 => columns.extend(marginals("W2")),
                Distance::SlicedW2 { .. } => columns.push(format!("SW2({})", self.joint_label())),
                Distance::Energy => columns.push(format!("energy({})", self.joint_label())),
            }
        }
        columns.push(LIMIT_RISK_COLUMN.into());
        columns
    }

    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        let time = ctx.step as f64 * self.step_size;
        let Some(snapshot) = self.limit.snapshot(time) else {
            // Not a time the limit was solved at: a bug in the plan, shown as missing values.
            let columns: usize = self.distances.iter().map(|d| self.width(d)).sum();
            out.extend(std::iter::repeat_n(f64::NAN, columns + 1));
            return;
        };
        let densities = &self.limit.marginal_densities[snapshot];
        let mut particles = Vec::new();
        for distance in &self.distances {
            match *distance {
                Distance::W1 | Distance::W2 => {
                    let order = if *distance == Distance::W1 { Order::W1 } else { Order::W2 };
                    for (marginal, density) in self.limit.marginals.iter().zip(densities) {
                        ctx.scratch.clear();
                        marginal.statistic.for_each(ctx.model, |v| ctx.scratch.push(v));
                        out.push(wasserstein_to_grid(ctx.scratch, density, order));
                    }
                }
                Distance::SlicedW2 { .. } => {
                    joint(&self.limit, ctx, &mut particles);
                    let cells = &self.cells[snapshot];
                    out.push(sliced_wasserstein(
                        &particles,
                        &cells.centres,
                        &cells.masses,
                        2,
                        &self.directions,
                        Order::W2,
                    ));
                }
                Distance::Energy => {
                    joint(&self.limit, ctx, &mut particles);
                    let cells = &self.cells[snapshot];
                    out.push(energy_distance(&particles, &cells.centres, &cells.masses, cells.self_distance, 2));
                }
            }
        }
        out.push(self.limit.risk[snapshot]);
    }
}

/// The particles' two statistics, (stat 0, stat 1) per particle, row-major, into `out`.
fn joint(limit: &LimitSolution, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
    out.clear();
    let mut first = Vec::new();
    limit.marginals[0].statistic.for_each(ctx.model, |v| first.push(v));
    let mut k = 0;
    limit.marginals[1].statistic.for_each(ctx.model, |v| {
        out.extend([first[k], v]);
        k += 1;
    });
}
