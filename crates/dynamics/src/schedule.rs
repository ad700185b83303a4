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
    /// The sorted, distinct steps at which to record, always including step 0 and the last step. An
    /// interval below the step records every step; log-spaced times that round to the same step record it
    /// once. The work and the memory are proportional to the steps returned, which [`Schedule::count`]
    /// bounds without allocating.
    pub fn steps(self, total_steps: u64, rule: StepRule, width: usize) -> Vec<u64> {
        let dt = rule.time_per_step(width);
        let mut steps = vec![0];
        match self {
            Schedule::Every(interval) if below_one(interval / dt) => return (0..=total_steps).collect(),
            Schedule::Every(interval) => {
                // Steps j·Δt/dt grow by at least one per j, so this loop takes at most `total_steps` turns.
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
                let at = |j: usize| (last * j as f64 / (n - 1) as f64).exp().round() as u64;
                // The times are dense at the start: from each step, jump to just before the first j whose
                // time rounds past it (ln(s + ½) of the way), so n far above the steps costs no more turns
                // than the distinct steps it gives.
                let mut j = 0;
                while j < n {
                    let step = at(j);
                    if steps.last() != Some(&step) {
                        steps.push(step);
                    }
                    let next = ((n - 1) as f64 * (step as f64 + 0.5).ln() / last).floor() as usize;
                    j = next.saturating_sub(2).max(j + 1);
                }
            }
            Schedule::LogSpaced(_) => {}
        }
        steps.push(total_steps);
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// An upper bound of the number of steps [`Schedule::steps`] returns, computed without allocating.
    pub fn count(self, total_steps: u64, rule: StepRule, width: usize) -> u64 {
        let every_step = total_steps.saturating_add(1);
        let times = match self {
            Schedule::Every(interval) => {
                let ratio = interval / rule.time_per_step(width);
                if below_one(ratio) {
                    return every_step;
                }
                // Saturating: a ratio below the step count gives at most one step per record.
                (total_steps as f64 / ratio).ceil() as u64
            }
            Schedule::LogSpaced(n) => n as u64,
        };
        times.saturating_add(2).min(every_step)
    }
}

/// An interval below one step (or not a number: a step so small or an interval so large that they do
/// not divide) records every step.
fn below_one(ratio: f64) -> bool {
    ratio.is_nan() || ratio < 1.0
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

    /// The steps a schedule would give, computed the obvious way (every time, then sorted and deduplicated).
    fn reference(schedule: Schedule, total: u64, rule: StepRule, width: usize) -> Vec<u64> {
        let dt = rule.time_per_step(width);
        let mut steps = vec![0, total];
        match schedule {
            Schedule::Every(interval) => {
                steps.extend((1..).map(|j| (j as f64 * interval / dt).round() as u64).take_while(|&s| s < total));
            }
            Schedule::LogSpaced(n) => {
                let last = (total as f64).ln();
                steps.extend((0..n).map(|j| (last * j as f64 / (n - 1) as f64).exp().round() as u64));
            }
        }
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    #[test]
    fn schedules_match_the_obvious_computation_and_their_count_bounds_them() {
        // (schedule, steps, rule, width): intervals above, at and below the step, log spacing sparse and
        // far denser than the steps.
        let cases = [
            (Schedule::Every(0.5), 20, StepRule::PerNeuron(1.0), 10),
            (Schedule::Every(0.1), 10, StepRule::Fixed(0.1), 1),
            (Schedule::Every(0.07), 10, StepRule::Fixed(0.1), 1),
            (Schedule::Every(1.3), 1000, StepRule::Fixed(0.01), 1),
            (Schedule::LogSpaced(30), 10, StepRule::Fixed(0.1), 1),
            (Schedule::LogSpaced(30), 100_000, StepRule::Fixed(0.1), 1),
            (Schedule::LogSpaced(5000), 1000, StepRule::Fixed(0.1), 1),
            (Schedule::LogSpaced(200_000), 50_000, StepRule::Fixed(0.1), 1),
        ];
        for (schedule, total, rule, width) in cases {
            let steps = schedule.steps(total, rule, width);
            let context = format!("{schedule:?} over {total} steps");
            if let Schedule::Every(interval) = schedule
                && interval < rule.time_per_step(width)
            {
                assert_eq!(
                    steps,
                    (0..=total).collect::<Vec<_>>(),
                    "{context}: an interval below the step is every step"
                );
            } else {
                assert_eq!(steps, reference(schedule, total, rule, width), "{context}");
            }
            assert!(steps.len() as u64 <= schedule.count(total, rule, width), "{context}: the count bounds the steps");
        }
    }

    #[test]
    fn extreme_schedules_stay_within_the_steps() {
        // A record interval of 1e-300 records every step; 10^12 log-spaced times over 1000 steps give at
        // most the 1001 steps, found without 10^12 turns.
        let every = Schedule::Every(1e-300);
        assert_eq!(every.steps(1000, StepRule::Fixed(0.1), 1).len(), 1001);
        assert_eq!(every.count(10_000_000_000_000, StepRule::Fixed(0.1), 1), 10_000_000_000_001);
        let dense = Schedule::LogSpaced(1_000_000_000_000);
        let steps = dense.steps(1000, StepRule::Fixed(0.1), 1);
        assert!(steps.len() <= 1001 && steps.windows(2).all(|w| w[0] < w[1]), "{}", steps.len());
        assert_eq!(dense.count(1000, StepRule::Fixed(0.1), 1), 1001);
        // A step of 10^12 with an interval of 1: every step.
        assert_eq!(Schedule::Every(1.0).count(100, StepRule::Fixed(1e12), 1), 101);
    }
}
