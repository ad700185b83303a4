//! When observables are recorded.

use meanfield_core::StepRule;

/// Record times of a run, given in physical time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// Every Δt of physical time, from t = 0 to the horizon.
    Every(f64),
    /// `n` times log-spaced between the first step and the horizon, plus t = 0.
    LogSpaced(usize),
}

impl Schedule {
    /// The sorted, distinct steps at which to record, always including step 0 and the last step.
    pub fn steps(self, total_steps: u64, rule: StepRule, width: usize) -> Vec<u64> {
        let dt = rule.time_per_step(width);
        let mut steps = vec![0];
        match self {
            Schedule::Every(interval) => {
                let mut j = 1u64;
                loop {
                    let step = (j as f64 * interval / dt).round() as u64;
                    if step >= total_steps {
                        break;
                    }
                    steps.push(step);
                    j += 1;
                }
            }
            Schedule::LogSpaced(n) if total_steps > 1 && n > 1 => {
                let last = (total_steps as f64).ln();
                for j in 0..n {
                    steps.push((last * j as f64 / (n - 1) as f64).exp().round() as u64);
                }
            }
            Schedule::LogSpaced(_) => {}
        }
        steps.push(total_steps);
        steps.sort_unstable();
        steps.dedup();
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dt_counts_in_physical_time() {
        // PerNeuron at N = 10: dt = 0.1, so every 0.5 is every 5 steps.
        let steps = Schedule::Every(0.5).steps(20, StepRule::PerNeuron(1.0), 10);
        assert_eq!(steps, [0, 5, 10, 15, 20]);
        // A horizon that is not a multiple of the interval still ends with the last step.
        assert_eq!(Schedule::Every(0.3).steps(10, StepRule::Fixed(0.1), 1), [0, 3, 6, 9, 10]);
    }

    #[test]
    fn log_spaced_starts_at_zero_and_ends_at_the_horizon() {
        let steps = Schedule::LogSpaced(5).steps(10_000, StepRule::Fixed(0.01), 1);
        assert_eq!(steps, [0, 1, 10, 100, 1000, 10_000]);
    }
}
