//! The observable that compares the particles with a solved limit.

use meanfield_core::{Observable, ObservationContext};

/// The distance of the particles to the solved mean-field limit (DESIGN.md §1): at each record, the exact
/// W1 between the empirical measure of every marginal the limit's grid describes (`c[0]`, `w[0]`, or
/// `|w|` for the radial reduction) and the limit's marginal at the same time, as columns `W1(<stat>)`,
/// and the limit's risk in `risk_limit` (so |risk − risk_limit| can be formed per replica). The limit was
/// solved at PDE time k·η for every record step k of the point, so the lookup is exact.
#[derive(Debug, Clone)]
pub struct LimitDistance {
    pub limit: std::sync::Arc<crate::LimitSolution>,
    /// η: PDE time per step.
    pub step_size: f64,
}

/// The column of [`LimitDistance`] with the limit's risk.
pub const LIMIT_RISK_COLUMN: &str = "risk_limit";

impl Observable for LimitDistance {
    fn columns(&self) -> Vec<String> {
        let mut columns: Vec<String> =
            self.limit.marginals.iter().map(|m| format!("W1({})", m.statistic.label())).collect();
        columns.push(LIMIT_RISK_COLUMN.into());
        columns
    }
    fn observe(&self, ctx: &mut ObservationContext<'_>, out: &mut Vec<f64>) {
        let time = ctx.step as f64 * self.step_size;
        let Some(snapshot) = self.limit.snapshot(time) else {
            // Not a time the limit was solved at: a bug in the plan, shown as missing values.
            out.extend(std::iter::repeat_n(f64::NAN, self.limit.marginals.len() + 1));
            return;
        };
        for (marginal, density) in self.limit.marginals.iter().zip(&self.limit.marginal_densities[snapshot]) {
            ctx.scratch.clear();
            marginal.statistic.for_each(ctx.model, |v| ctx.scratch.push(v));
            out.push(crate::distance::wasserstein_to_grid(ctx.scratch, density, crate::distance::Order::W1));
        }
        out.push(self.limit.risk[snapshot]);
    }
}
